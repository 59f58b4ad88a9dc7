/*
** Op coverage: every tests/data/ops/NAME.onnx (one small net per ONNX op
** family, made by tests/data/gen_ops.py) loads, and the forward pass on
** NAME.in.csv matches NAME.out.csv, the outputs of an independent float64
** numpy implementation of each op, to 1e-9 (relative to max(1, |y|)).
*/
#include <math.h>
#include "testutil.h"

static int check_net(const char *dir, const char *file)
{
  char p[1024], base[512];
  cb_net *net;
  cb_data *x, *want;
  double *y, worst = 0;
  size_t no;
  snprintf(base, sizeof base, "%.*s", (int)(strlen(file) - 5), file);
  snprintf(p, sizeof p, "%s/%s", dir, file);
  net = must_load(p);
  snprintf(p, sizeof p, "%s/%s.in.csv", dir, base);
  x = must_csv(p, cb_net_input_size(net));
  snprintf(p, sizeof p, "%s/%s.out.csv", dir, base);
  no = cb_net_output_size(net);
  want = must_csv(p, no);
  assert_int_equal(cb_data_rows(x), cb_data_rows(want));
  y = forward_rows(net, x);
  for (size_t r = 0; r < cb_data_rows(x); r++)
    for (size_t k = 0; k < no; k++) {
      double w = cb_data_x(want, r)[k], d = fabs(y[r * no + k] - w) / fmax(1.0, fabs(w));
      if (d > worst) worst = d;
    }
  printf("%-36s %2d nodes  max rel. error %.2g\n", base, net->n, worst);
  if (worst > 1e-9) fail_msg("%s: forward differs from the numpy reference by %g", base, worst);
  free(y);
  cb_data_free(x);
  cb_data_free(want);
  cb_net_free(net);
  return 1;
}

static void test_ops(void **st)
{
  int n = each_onnx("tests/data/ops", check_net);
  (void)st;
  printf("%d op nets checked\n", n);
  assert_true(n >= 15);
}

int main(void)
{
  const struct CMUnitTest tests[] = { cmocka_unit_test(test_ops) };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
