/*
** libFuzzer harness: VNNLIB reader.  On success the spec must be consistent
** (outer boxes non-empty and finite, inner box inside the outer one, b_dn <=
** b_up, finite rows); on failure there must be a one-line message.
*/
#include <math.h>
#include "fuzz_util.h"
#include "vnnlib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  vnn_spec *s = NULL;
  cb_error err = {0};
  int rc = vnn_parse_string((const char *)data, size, "fuzz.vnnlib", &s, &err);
  if (rc != CB_OK) { if (s || !err.msg[0] || strchr(err.msg, '\n')) abort(); return 0; }
  for (size_t b = 0; b < s->n_box; b++) {
    const vnn_box *B = &s->box[b];
    for (size_t i = 0; i < s->nx; i++)
      if (!(B->lo[i] <= B->hi[i]) || !isfinite(B->lo[i]) || !isfinite(B->hi[i]) ||
          (B->lo_in[i] <= B->hi_in[i] && (B->lo_in[i] < B->lo[i] || B->hi_in[i] > B->hi[i]))) abort();
    for (size_t c = 0; c < B->n_conj; c++)
      for (size_t r = 0; r < B->conj[c].m; r++) {
        if (!(B->conj[c].b_dn[r] <= B->conj[c].b_up[r])) abort();
        for (size_t j = 0; j < s->ny; j++) if (!isfinite(B->conj[c].A[r * s->ny + j])) abort();
      }
  }
  if (vnn_check_sizes(s, s->nx, s->ny, &err) != CB_OK) abort();
  vnn_free(s);
  return 0;
}
