/*
** --mean/--std (issue 20): net_prefix_scale puts (x - mean) / std in front
** of the net as one SCALE node.  Checked: the forward pass on raw x equals
** the original net on (x - mean) / std; CROWN's margins over a raw L-inf ball
** of radius eps equal the original net's over the normalised ball of radius
** eps / std (one std for all channels: the same set) to 1e-9; every sampled
** raw point of the ball stays inside the prefixed net's IBP, CROWN and
** alpha-CROWN bounds (zero tolerance); bad values are refused by name.
*/
#include <math.h>
#include "testutil.h"
#include "bounds.h"

static void load(const char *path, cb_net **net)
{
  cb_error err = {0};
  if (cb_net_load(path, net, &err) != CB_OK) fail_msg("%s", err.msg);
}

static void test_forward_and_bounds(void **st)
{
  const char *nets[2] = {"nets/digits_cnn.onnx", "nets/digits_mlp.onnx"};
  (void)st;
  for (int t = 0; t < 2; t++) {
    cb_net *a = NULL, *b = NULL;
    cb_data *d = NULL;
    cb_error err = {0};
    double mean = 0.3, sd = 0.7, eps = 0.02, x[64], z[64], ya[10], yb[10], C[90] = {0}, la[9], lb[9];
    cb_bnet ba, bb;
    uint64_t sd_rng = 7;
    long pts = 0;
    load(nets[t], &a);
    load(nets[t], &b);
    assert_int_equal(net_prefix_scale(b, &mean, &sd, 1, &err), CB_OK);
    assert_int_equal(b->n, a->n + 1);
    assert_true(b->node[1].kind == CB_SCALE && b->node[1].rel_err > 0);
    assert_int_equal(cb_data_load_csv("nets/digits_test20.csv", 64, &d, &err), CB_OK);
    assert_int_equal(bnet_init(&ba, a, &err), CB_OK);
    assert_int_equal(bnet_init(&bb, b, &err), CB_OK);
    for (size_t r = 0; r < 5; r++) {
      int y = cb_data_label(d, r);
      const double *x0 = cb_data_x(d, r);
      cb_set sa = {CB_NORM_INF, eps / sd, 64, z, NULL, NULL}, sb = {CB_NORM_INF, eps, 64, x, NULL, NULL};
      for (int j = 0; j < 64; j++) { x[j] = x0[j]; z[j] = (x[j] - mean) / sd; }
      assert_int_equal(cb_net_forward(b, x, 1, yb, &err), CB_OK);
      assert_int_equal(cb_net_forward(a, z, 1, ya, &err), CB_OK);
      for (int k = 0; k < 10; k++)
        if (!(fabs(ya[k] - yb[k]) <= 1e-12 * (1 + fabs(ya[k])))) fail_msg("%s row %zu logit %d: %.17g vs %.17g", nets[t], r, k, yb[k], ya[k]);
      memset(C, 0, sizeof C);
      for (int k = 0, j = 0; j < 10; j++) if (j != y) { C[k * 10 + y] = 1; C[k * 10 + j] = -1; k++; }
      for (int m = 0; m < 3; m++) {
        cb_method meth[3] = {CB_IBP, CB_CROWN, CB_ALPHA_CROWN};
        cb_ws *wa = ws_new(&ba, &sa, &err), *wb = ws_new(&bb, &sb, &err);
        double lo[10], hi[10];
        assert_non_null(wa); assert_non_null(wb);
        if (bounds_run(wa, meth[m], &err) || bounds_spec(wa, C, 9, la, NULL, &err) ||
            bounds_run(wb, meth[m], &err) || bounds_spec(wb, C, 9, lb, NULL, &err)) fail_msg("%s", err.msg);
        if (meth[m] == CB_CROWN)
          for (int k = 0; k < 9; k++)
            if (!(fabs(la[k] - lb[k]) <= 1e-9 * (1 + fabs(la[k])))) fail_msg("%s row %zu margin %d: raw %.17g, normalised %.17g", nets[t], r, k, lb[k], la[k]);
        {
          double I[100] = {0};
          for (int k = 0; k < 10; k++) I[k * 10 + k] = 1;
          if (bounds_spec(wb, I, 10, lo, hi, &err)) fail_msg("%s", err.msg);
        }
        for (int s = 0; s < 300; s++) {   /* raw points of the ball: vertices and inside */
          double p[64], yp[10];
          for (int j = 0; j < 64; j++) p[j] = x[j] + (s % 2 ? eps * (2 * urand(&sd_rng) - 1) : (urand(&sd_rng) < 0.5 ? -eps : eps));
          assert_int_equal(cb_net_forward(b, p, 1, yp, &err), CB_OK);
          for (int k = 0; k < 10; k++)
            if (!(lo[k] <= yp[k] && yp[k] <= hi[k])) fail_msg("%s method %d row %zu logit %d: %.17g outside [%.17g, %.17g]", nets[t], m, r, k, yp[k], lo[k], hi[k]);
          pts++;
        }
        ws_free(wa); ws_free(wb);
      }
    }
    printf("%s: forward = original on (x - m)/s; CROWN margins equal on the mapped ball; %ld raw points inside IBP/CROWN/alpha-CROWN bounds\n", nets[t], pts);
    bnet_free(&ba); bnet_free(&bb);
    cb_data_free(d);
    cb_net_free(a); cb_net_free(b);
  }
}

static void test_refused(void **st)
{
  cb_net *net = NULL;
  cb_error err = {0};
  double m[3] = {0, 0, 0}, s[3] = {1, 0, 1};
  (void)st;
  load("nets/digits_cnn.onnx", &net);
  assert_int_equal(net_prefix_scale(net, m, s, 3, &err), CB_EUSAGE);   /* 1 channel, 3 values */
  assert_non_null(strstr(err.msg, "1 channels"));
  cb_error_clear(&err);
  assert_int_equal(net_prefix_scale(net, m, s + 1, 1, &err), CB_EUSAGE); /* std 0 */
  assert_non_null(strstr(err.msg, "--std must be > 0"));
  assert_int_equal(net->n, 9);
  cb_net_free(net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_forward_and_bounds), cmocka_unit_test(test_refused)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
