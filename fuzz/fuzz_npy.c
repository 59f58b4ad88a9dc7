/*
** libFuzzer harness: NPY/NPZ reader (src/npy.c) through cb_data_load, the
** input as X alone (an NPZ, or CSV, or an NPY refused for want of labels)
** and as both X and its own labels (an NPY of shape (N,)), with the feature
** count inferred (0) and imposed (the last byte mod 5); rows read back.
** Then the same bytes as a --box / --eps-per-feature vector (cb_vector_load:
** NPY of any shape, or text) of 1..5 values: refused with one line, or
** every value finite.
*/
#include <math.h>
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *p = fuzz_file(data, size, ".npy");
  size_t want = size ? data[size - 1] % 5 : 0;
  volatile double sink = 0;
  if (!p) return 0;
  for (int pass = 0; pass < 4; pass++) {
    cb_data *d = NULL;
    cb_error err = {0};
    size_t nf = pass & 1 ? want : 0;
    int rc = cb_data_load(p, pass & 2 ? p : NULL, nf, pass & 1 ? 0.5 : 1, &d, &err);
    if (rc != CB_OK) { if (d || !err.msg[0] || strchr(err.msg, '\n')) abort(); continue; }
    if (!d || !cb_data_rows(d) || !cb_data_cols(d) || (nf && cb_data_cols(d) != nf)) abort();
    for (size_t r = 0; r < cb_data_rows(d); r++) {
      const double *x = cb_data_x(d, r);
      for (size_t j = 0; j < cb_data_cols(d); j++) sink += x[j];
      sink += cb_data_label(d, r);
    }
    cb_data_free(d);
  }
  {
    double v[5];
    cb_error err = {0};
    size_t n = want ? want : 1;
    if (cb_vector_load(p, n, v, &err) != CB_OK) { if (!err.msg[0] || strchr(err.msg, '\n')) abort(); }
    else for (size_t j = 0; j < n; j++) { if (!isfinite(v[j])) abort(); sink += v[j]; }
  }
  (void)sink;
  return 0;
}
