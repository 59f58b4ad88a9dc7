/*
** libFuzzer harness: CSV sample reader, with the feature count inferred
** (0) and imposed (the first byte mod 5: 0..4), rows and labels read back.
*/
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *p = fuzz_file(data, size, ".csv");
  size_t want = size ? data[0] % 5 : 0;
  volatile double sink = 0;
  if (!p) return 0;
  for (int pass = 0; pass < 2; pass++) {
    cb_data *d = NULL;
    cb_error err = {0};
    int rc = cb_data_load_csv(p, pass ? want : 0, &d, &err);
    if (rc != CB_OK) { if (d || !err.msg[0] || strchr(err.msg, '\n')) abort(); continue; }
    if (!d || !cb_data_rows(d) || (pass && want && cb_data_cols(d) != want)) abort();
    for (size_t r = 0; r < cb_data_rows(d); r++) {
      const double *x = cb_data_x(d, r);
      for (size_t j = 0; j < cb_data_cols(d); j++) sink += x[j];
      sink += cb_data_label(d, r);
    }
    cb_data_free(d);
  }
  (void)sink;
  return 0;
}
