/*
** Acceptance 2 (needs ../shared; prints SKIPPED and passes without it):
**  - every ONNX file of the 13 VNN-COMP families loads, and its input and
**    output shapes agree with onnx_vnnlib_inventory.json (a symbolic dim in
**    the inventory is batch 1 here); the forward pass on a random input gives
**    finite outputs;
**  - the 45 ACAS Xu nets agree between .onnx and .nnet to 1e-5 on 1000 random
**    inputs each: nnet(x) vs onnx((x - mean) / range), with mean and range
**    read from the .nnet header by this test itself (not by the loader).
*/
#include <math.h>
#include "testutil.h"

/* Inventory shape [d0,...] (strings = symbolic) equals ours? */
static int shape_agrees(const cJSON *inv, const cb_shape *s)
{
  int i = 0;
  const cJSON *d;
  if (cJSON_GetArraySize(inv) != s->rank) return 0;
  cJSON_ArrayForEach(d, inv) {
    if (cJSON_IsNumber(d) && (int64_t)d->valuedouble != s->dim[i]) return 0;
    if (cJSON_IsString(d) && s->dim[i] != 1) return 0;
    i++;
  }
  return 1;
}

static void check_entry(const cJSON *e, uint64_t *seed)
{
  char p[1024];
  const char *file = cJSON_GetObjectItem(e, "file")->valuestring;
  const cJSON *in = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(e, "inputs"), 0), 1);
  const cJSON *out = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(e, "outputs"), 0), 1);
  cb_net *net;
  double *x, *y;
  cb_error err = {0};
  snprintf(p, sizeof p, "%s/benchmarks/%s", shared_dir(), file);
  net = must_load(p);
  if (!shape_agrees(in, &net->input_shape) || !shape_agrees(out, &net->node[net->output].shape))
    fail_msg("%s: shapes disagree with the inventory", file);
  x = calloc(cb_net_input_size(net), sizeof *x);
  y = calloc(cb_net_output_size(net), sizeof *y);
  for (size_t i = 0; i < cb_net_input_size(net); i++) x[i] = urand(seed);
  assert_int_equal(cb_net_forward(net, x, 1, y, &err), CB_OK);
  for (size_t i = 0; i < cb_net_output_size(net); i++) assert_true(isfinite(y[i]));
  free(x);
  free(y);
  cb_net_free(net);
}

static void test_inventory(void **st)
{
  char p[1024];
  cJSON *inv, *bench, *e;
  int n = 0;
  uint64_t seed = 42;
  (void)st;
  if (!shared_present("benchmarks/onnx_vnnlib_inventory.json")) { skip(); return; }
  snprintf(p, sizeof p, "%s/benchmarks/onnx_vnnlib_inventory.json", shared_dir());
  assert_non_null(inv = load_json(p));
  cJSON_ArrayForEach(bench, inv)
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(bench, "onnx")) { check_entry(e, &seed); n++; }
  printf("%d ONNX files loaded, shapes agree with the inventory\n", n);
  assert_true(n >= 80);
  cJSON_Delete(inv);
}

/* Reads the nnet header's min, max, mean, range rows (5 inputs). */
static void nnet_header(const char *path, double v[4][6])
{
  FILE *f = fopen(path, "r");
  char line[4096];
  int row = -3;
  assert_non_null(f);
  while (row < 4 && fgets(line, sizeof line, f)) {
    char *s = line, *end;
    if (!strncmp(line, "//", 2)) continue;
    if (row >= 0)
      for (int k = 0; k < 6; k++) { v[row][k] = strtod(s, &end); if (end == s) break; s = end + 1; }
    row++;
  }
  fclose(f);
}

static double acas_pair(int a, int t, uint64_t *seed)
{
  char pn[1024], po[1024];
  double h[4][6], x[1000][5], z[1000][5], yn[1000][5], yo[1000][5], worst = 0;
  cb_net *nn, *no;
  cb_error err = {0};
  snprintf(pn, sizeof pn, "%s/benchmarks/acasxu/nnet/ACASXU_run2a_%d_%d_batch_2000.nnet", shared_dir(), a, t);
  snprintf(po, sizeof po, "%s/benchmarks/acasxu/onnx/ACASXU_run2a_%d_%d_batch_2000.onnx", shared_dir(), a, t);
  nnet_header(pn, h);
  nn = must_load(pn);
  no = must_load(po);
  for (int s = 0; s < 1000; s++)
    for (int i = 0; i < 5; i++) {
      x[s][i] = h[0][i] + (h[1][i] - h[0][i]) * urand(seed);
      z[s][i] = (x[s][i] - h[2][i]) / h[3][i];
    }
  assert_int_equal(cb_net_forward(nn, &x[0][0], 1000, &yn[0][0], &err), CB_OK);
  assert_int_equal(cb_net_forward(no, &z[0][0], 1000, &yo[0][0], &err), CB_OK);
  for (int s = 0; s < 1000; s++)
    for (int k = 0; k < 5; k++) if (fabs(yn[s][k] - yo[s][k]) > worst) worst = fabs(yn[s][k] - yo[s][k]);
  cb_net_free(nn);
  cb_net_free(no);
  return worst;
}

static void test_acas_nnet_vs_onnx(void **st)
{
  uint64_t seed = 7;
  double worst = 0;
  (void)st;
  if (!shared_present("benchmarks/acasxu/nnet")) { skip(); return; }
  for (int a = 1; a <= 5; a++)
    for (int t = 1; t <= 9; t++) {
      double w = acas_pair(a, t, &seed);
      if (w > 1e-5) fail_msg("ACAS Xu %d_%d: nnet and onnx differ by %g", a, t, w);
      if (w > worst) worst = w;
    }
  printf("45 ACAS Xu nets: max |nnet - onnx| over 1000 inputs each = %.3g\n", worst);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_inventory),
    cmocka_unit_test(test_acas_nnet_vs_onnx),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
