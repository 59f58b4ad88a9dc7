/*
** alpha-CROWN (bounds/alpha.c), acceptance 4 of issue 8: on the 4 reference
** nets x 20 samples x 6 balls, the margin lower bounds and the logit bounds
** are at least as tight as auto_LiRPA's alpha-CROWN figures
** (tests/data/ref/<net>.json, "alpha-CROWN": 20 Adam iterations, step 0.5,
** decay 0.98, CROWN intermediate bounds) up to 1e-4, never looser than our
** own CROWN (up to 1e-9: iteration 0 is CROWN), below every sampled value of
** the reference's empirical extremes, and the verified counts are >= the
** reference's.  Also: options are validated, IBP intermediate bounds are
** refused, and more iterations never loosen the bound.
*/
#include <math.h>
#include "testutil.h"
#include "bounds.h"
#include "randnet.h"

static const char *nets[] = {"digits_mlp", "digits_cnn", "digits_tanh", "digits_orth"};

static double worst_gap, total_gain, sum_gap;
static int n_gap, n_better;

/* got must be at least as tight as want (a lower bound: got >= want - 1e-4). */
static void expect_tight(const char *what, double got, double want, int upper)
{
  double gap = upper ? got - want : want - got;
  if (gap > worst_gap) worst_gap = gap;
  sum_gap += gap;
  n_gap++;
  n_better += gap < 0;
  if (gap > 1e-4) fail_msg("%s: got %.9g, auto_LiRPA alpha-CROWN %.9g", what, got, want);
}

static int check_one(const cb_bnet *bn, const double *x0, int label, const cJSON *res, const char *tag)
{
  const cJSON *mr = cJSON_GetObjectItem(cJSON_GetObjectItem(res, "methods"), "alpha-CROWN");
  const cJSON *emp = cJSON_GetObjectItem(res, "empirical");
  cb_set s = {strcmp(cJSON_GetObjectItem(res, "norm")->valuestring, "2") ? CB_NORM_INF : CB_NORM_2,
              cJSON_GetObjectItem(res, "eps")->valuedouble, 64, x0, NULL, NULL};
  double I[100] = {0}, C[90] = {0}, lb[10], ub[10], mlb[9], clb[9];
  char what[256];
  cb_error err = {0};
  cb_ws *ws = ws_new(bn, &s, &err);
  int verified = 1;
  assert_non_null(ws);
  for (int k = 0; k < 10; k++) I[k * 10 + k] = 1;
  for (int k = 0, j = 0; j < 10; j++) if (j != label) { C[k * 10 + label] = 1; C[k * 10 + j] = -1; k++; }
  if (bounds_run(ws, CB_CROWN, &err) != CB_OK || bounds_spec(ws, C, 9, clb, NULL, &err) != CB_OK)
    fail_msg("%s: %s", tag, err.msg);
  ws->method = CB_ALPHA_CROWN;  /* same intermediate bounds as CROWN */
  if (bounds_spec(ws, I, 10, lb, ub, &err) != CB_OK || bounds_spec(ws, C, 9, mlb, NULL, &err) != CB_OK)
    fail_msg("%s: %s", tag, err.msg);
  for (int k = 0; k < 10; k++) {
    snprintf(what, sizeof what, "%s logit_lb[%d]", tag, k);
    expect_tight(what, lb[k], cJSON_GetArrayItem(cJSON_GetObjectItem(mr, "logit_lb"), k)->valuedouble, 0);
    snprintf(what, sizeof what, "%s logit_ub[%d]", tag, k);
    expect_tight(what, ub[k], cJSON_GetArrayItem(cJSON_GetObjectItem(mr, "logit_ub"), k)->valuedouble, 1);
    if (!(lb[k] <= cJSON_GetArrayItem(cJSON_GetObjectItem(emp, "logit_min"), k)->valuedouble + 1e-5) ||
        !(ub[k] >= cJSON_GetArrayItem(cJSON_GetObjectItem(emp, "logit_max"), k)->valuedouble - 1e-5))
      fail_msg("%s logit %d: bound [%.9g, %.9g] misses a sampled value", tag, k, lb[k], ub[k]);
  }
  for (int k = 0; k < 9; k++) {
    double e = cJSON_GetArrayItem(cJSON_GetObjectItem(emp, "margin_min"), k)->valuedouble;
    snprintf(what, sizeof what, "%s margin_lb[%d]", tag, k);
    expect_tight(what, mlb[k], cJSON_GetArrayItem(cJSON_GetObjectItem(mr, "margin_lb"), k)->valuedouble, 0);
    if (!(mlb[k] <= e + 1e-5)) fail_msg("%s margin_lb[%d] = %.9g above a sampled margin %.9g", tag, k, mlb[k], e);
    if (!(mlb[k] >= clb[k] - 1e-9)) fail_msg("%s margin_lb[%d] = %.17g looser than CROWN's %.17g", tag, k, mlb[k], clb[k]);
    total_gain += mlb[k] - clb[k];
    if (!(mlb[k] > 0)) verified = 0;
  }
  ws_free(ws);
  return verified;
}

static void check_net(int ni)
{
  char p[256], tag[128];
  cJSON *ref, *samples, *summary;
  cb_net *net;
  cb_data *x;
  cb_bnet bn;
  cb_error err = {0};
  int count[6] = {0};
  snprintf(p, sizeof p, "tests/data/ref/%s.json", nets[ni]);
  assert_non_null(ref = load_json(p));
  snprintf(p, sizeof p, "nets/%s.onnx", nets[ni]);
  net = must_load(p);
  x = must_csv("nets/digits_test20.csv", 64);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  samples = cJSON_GetObjectItem(ref, "samples");
  summary = cJSON_GetObjectItem(ref, "summary");
  worst_gap = -INFINITY;
  total_gain = sum_gap = 0;
  n_gap = n_better = 0;
  for (int s = 0; s < 20; s++)
    for (int b = 0; b < 6; b++) {
      const cJSON *res = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(samples, s), "results"), b);
      snprintf(tag, sizeof tag, "%s sample %d ball %d", nets[ni], s, b);
      count[b] += check_one(&bn, cb_data_x(x, (size_t)s), cb_data_label(x, (size_t)s), res, tag);
    }
  for (int b = 0; b < 6; b++) {
    int want = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(summary, b), "verified"), "alpha-CROWN")->valueint;
    if (count[b] < want) fail_msg("%s ball %d: %d verified, auto_LiRPA alpha-CROWN %d", nets[ni], b, count[b], want);
  }
  printf("%s: 20 samples x 6 balls: alpha-CROWN at least as tight as auto_LiRPA's: worst excess %.3g, mean %.3g,"
         " strictly tighter in %d of %d bounds; mean margin gain over CROWN %.4g\n",
         nets[ni], worst_gap, sum_gap / n_gap, n_better, n_gap, total_gain / (20 * 6 * 9));
  bnet_free(&bn);
  cb_data_free(x);
  cb_net_free(net);
  cJSON_Delete(ref);
}

static void test_mlp(void **st) { (void)st; check_net(0); }
static void test_cnn(void **st) { (void)st; check_net(1); }
static void test_tanh(void **st) { (void)st; check_net(2); }
static void test_orth(void **st) { (void)st; check_net(3); }

/* Bad options and IBP intermediate bounds are refused; more iterations never loosen. */
static void test_options(void **st)
{
  cb_net *net = must_load("nets/digits_mlp.onnx");
  cb_data *x = must_csv("nets/digits_test20.csv", 64);
  cb_bnet bn;
  cb_error err = {0};
  cb_set s = {CB_NORM_INF, 0.05, 64, NULL, NULL, NULL};
  cb_alpha_opt o;
  double C[10] = {1, -1}, lb[4];
  cb_ws *ws;
  (void)st;
  s.center = cb_data_x(x, 0);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  ws = ws_new(&bn, &s, &err);
  assert_int_equal(bounds_run(ws, CB_IBP, &err), CB_OK);
  assert_int_equal(alpha_spec(ws, C, 1, NULL, lb, NULL, &err), CB_EUSAGE);
  assert_non_null(strstr(err.msg, "IBP"));
  assert_int_equal(bounds_run(ws, CB_ALPHA_CROWN, &err), CB_OK);
  alpha_opt_init(&o);
  o.iters = -1;
  assert_int_equal(alpha_spec(ws, C, 1, &o, lb, NULL, &err), CB_EUSAGE);
  o.lr = -1;
  o.iters = 0;   /* automatic count, but a bad step */
  assert_int_equal(alpha_spec(ws, C, 1, &o, lb, NULL, &err), CB_EUSAGE);
  o.lr = 0.5;
  for (int k = 0; k < 4; k++) {
    o.iters = (int[]){1, 5, 20, 60}[k];
    assert_int_equal(alpha_spec(ws, C, 1, &o, lb + k, NULL, &err), CB_OK);
    if (k) assert_true(lb[k] >= lb[k - 1]);
  }
  printf("digits_mlp row 0, eps 0.05: lower bound after 1/5/20/60 iterations %.6g %.6g %.6g %.6g\n", lb[0], lb[1], lb[2], lb[3]);
  assert_true(lb[3] > lb[0]);
  ws->alpha_iters = 1;   /* bounds_spec (cerbere bounds --alpha-iters 1): iteration 0 only, CROWN's bound */
  assert_int_equal(bounds_spec(ws, C, 1, lb + 1, NULL, &err), CB_OK);
  assert_int_equal(crown_spec(ws, C, 1, 0, lb + 2, NULL, &err), CB_OK);
  if (!(lb[1] == lb[0] && fabs(lb[2] - lb[0]) <= 1e-9 * (1 + fabs(lb[0]))))
    fail_msg("alpha_iters 1: %.17g, alpha_spec 1 iteration %.17g, CROWN %.17g", lb[1], lb[0], lb[2]);
  ws->alpha_iters = 60;
  assert_int_equal(bounds_spec(ws, C, 1, lb + 1, NULL, &err), CB_OK);
  assert_true(lb[1] == lb[3]);
  ws_free(ws);
  bnet_free(&bn);
  cb_data_free(x);
  cb_net_free(net);
}

/* Failing-allocator sweep: every allocation failure of bounds_run + alpha-CROWN
   (few iterations, digits_cnn: conv, unit-row and intermediate passes) is
   reported as out of memory, never a crash; the workspace is then freed (ASan
   and valgrind check for leaks). */
static void test_oom(void **st)
{
  cb_net *net = must_load("nets/digits_cnn.onnx");
  cb_data *x = must_csv("nets/digits_test20.csv", 64);
  cb_bnet bn;
  cb_error err = {0};
  cb_set s = {CB_NORM_INF, 0.02, 64, NULL, NULL, NULL};
  cb_alpha_opt o;
  double C[90] = {0}, lb[9];
  int k, y;
  (void)st;
  s.center = cb_data_x(x, 0);
  y = cb_data_label(x, 0);
  for (int r = 0, j = 0; j < 10; j++) if (j != y) { C[r * 10 + y] = 1; C[r * 10 + j] = -1; r++; }
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  alpha_opt_init(&o);
  o.iters = 3;
  for (k = 0; k < 100000; k++) {
    cb_ws *ws;
    int rc;
    cb_error_clear(&err);
    cb_alloc_fail_after(k);
    ws = ws_new(&bn, &s, &err);
    rc = ws ? bounds_run(ws, CB_ALPHA_CROWN, &err) : err.status;
    if (rc == CB_OK) rc = alpha_spec(ws, C, 9, &o, lb, NULL, &err);
    cb_alloc_fail_after(-1);
    ws_free(ws);
    if (rc == CB_OK) break;
    if (rc != CB_ENOMEM) fail_msg("failing allocation %d: status %d: %s", k, rc, err.msg);
    assert_non_null(strstr(err.msg, "out of memory"));
  }
  printf("bounds_run + alpha_spec on digits_cnn: %d allocation failure points, all reported\n", k);
  assert_true(k > 10);
  bnet_free(&bn);
  cb_data_free(x);
  cb_net_free(net);
}

/* A deep ReLU chain ending in a ReLU (tests/randnet.h, seed 12345) at set c
   (L-inf 0.3, L2 0.8, L-inf 1.0 clipped to [-0.6, 0.6]): logit lower, upper
   and margin (f0 - f1, f1 - f2, f2 - f0) lower bounds by alpha-CROWN. */
static void deep_case(const cb_bnet *bn, int c, int iters, double *v)
{
  static const cb_norm norms[3] = {CB_NORM_INF, CB_NORM_2, CB_NORM_INF};
  static const double radii[3] = {0.3, 0.8, 1.0};
  double x0[4], lo[4], hi[4], I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, M[9] = {1, -1, 0, 0, 1, -1, -1, 0, 1};
  cb_alpha_opt o;
  cb_error err = {0};
  cb_ws *ws;
  for (int j = 0; j < 4; j++) { x0[j] = rnd(-0.5, 0.5); lo[j] = -0.6; hi[j] = 0.6; }
  cb_set s = {norms[c], radii[c], 4, x0, c == 2 ? lo : NULL, c == 2 ? hi : NULL};
  assert_non_null(ws = ws_new(bn, &s, &err));
  alpha_opt_init(&o);
  o.iters = iters;
  if (bounds_run(ws, CB_ALPHA_CROWN, &err) || alpha_spec(ws, I, 3, &o, v, v + 3, &err) || alpha_spec(ws, M, 3, &o, v + 6, NULL, &err))
    fail_msg("%s", err.msg);
  ws_free(ws);
}

/*
** The start node's own lines (a net ending in a ReLU) and the deep-net
** iteration count: on deep_case's 3 sets the bounds are at least as tight as
** those of alpha.c before both (commit cab5d62, 20 iterations, final ReLU's
** lines fixed; recorded below, %.17g) with the automatic count (40 here);
** lower bounds of the ReLU outputs are within 1e-12 of 0 or above (the old
** ones: down to -0.26).  With the old budget of 20 iterations 25 of the 27
** are tighter too, but two of set 0 are not (a logit lower bound, 0.007
** against 0.106, and a margin, -0.519 against -0.515: the joint optimisation
** is not convex and the new trajectory differs); that count is printed, not
** checked.
*/
static void test_deep_tighter(void **st)
{
  static const double old[3][9] = {
    {-0.012620553481189149, -0.038132373728556906, 0.10621297573233561, 0.15572431050871749, 0.12671031252059639,
     0.53460886508397176, -0.11792647276980414, -0.51521503105949951, 0.0061433910954709564},
    {-2.1317696786412896e-15, -1.3029686627124247e-15, -0.071930642550778287, 0.26541756419101797, 0.21709040536203231,
     0.78993997998327214, -0.3002094162309844, -0.80512488955518713, -0.20334266059610215},
    {-3.4054432733836506e-15, -2.8983104177700412e-15, -0.25735038678210431, 0.35141358713895454, 0.27409535511920963,
     1.1354947487922176, -0.47510669848741083, -1.1965304476055834, -0.41019998419495984},
  };
  (void)st;
  for (int iters = 0; iters <= 20; iters += 20) {
    int n_looser = 0;
    cb_net *net;
    cb_bnet bn;
    cb_error err = {0};
    seed = 12345;
    net = net_deep(6, 10, 0, 1);
    net->output = net->n - 1;
    assert_int_equal(net_check(net, &err), CB_OK);
    assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
    assert_int_equal(alpha_auto_iters(net), 40);
    for (int c = 0; c < 3; c++) {
      double v[9];
      deep_case(&bn, c, iters, v);
      for (int k = 0; k < 9; k++) {
        int up = k >= 3 && k < 6, looser = up ? v[k] > old[c][k] : v[k] < old[c][k];
        if (looser && !iters) fail_msg("set %d bound %d: %.17g looser than before the fix, %.17g", c, k, v[k], old[c][k]);
        n_looser += looser;
      }
      for (int k = 0; k < 3; k++) assert_true(v[k] > -1e-12);   /* a ReLU output: >= 0 up to the slack */
      printf("deep relu-out set %d, %d iterations: margin lower bounds %.4f %.4f %.4f (before: %.4f %.4f %.4f)\n", c,
             iters ? iters : 40, v[6], v[7], v[8], old[c][6], old[c][7], old[c][8]);
    }
    printf("deep relu-out, %d iterations: %d of 27 bounds looser than before the fix\n", iters ? iters : 40, n_looser);
    bnet_free(&bn);
    cb_net_free(net);
  }
}

/* on_iterate for test_stop: each iterate's bound of row 0 (upper = 0: minus a lower bound). */
typedef struct trace { int n; double out[64]; } trace;
static void record0(void *ctx, const cb_ws *ws, int it, int upper, const double *out)
{
  trace *t = ctx;
  (void)ws; (void)upper;
  assert_int_equal(it, t->n);
  if (t->n < 64) t->out[t->n++] = out[0];
}

/*
** The early stop (cb_alpha_opt.patience) and the stop of a run without
** parameters: the bound returned is the best computed iterate's (the minimum
** of the recorded ones, bit for bit), never looser than iteration 0 (CROWN's
** lines), and the run stops exactly when `patience` iterates in a row did not
** improve on the best before them; with the stop off the full count runs and,
** its iterates being a superset of the same trajectory, is at least as tight.
** At eps 1e-6 every ReLU of digits_mlp is stable: one iterate, CROWN's bound.
*/
static void test_stop(void **st)
{
  cb_net *net = must_load("nets/digits_mlp.onnx");
  cb_data *x = must_csv("nets/digits_test20.csv", 64);
  cb_bnet bn;
  cb_error err = {0};
  cb_set s = {CB_NORM_INF, 0.05, 64, NULL, NULL, NULL};
  cb_alpha_opt o;
  double C[10] = {1, -1}, lb, lb_full, lb_crown;
  trace t;
  cb_ws *ws;
  (void)st;
  s.center = cb_data_x(x, 0);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  assert_non_null(ws = ws_new(&bn, &s, &err));
  assert_int_equal(bounds_run(ws, CB_ALPHA_CROWN, &err), CB_OK);
  alpha_opt_init(&o);
  assert_int_equal(o.patience, 0);   /* off by default */
  o.iters = 60;
  o.on_iterate = record0;
  o.ctx = &t;
  t.n = 0;
  assert_int_equal(alpha_spec(ws, C, 1, &o, &lb_full, NULL, &err), CB_OK);
  assert_int_equal(t.n, 60);
  lb_crown = -t.out[0];
  for (int p = 1; p <= 3; p++) {
    double best = INFINITY;
    int stall = 0, stop = 60;
    o.patience = p;
    t.n = 0;
    assert_int_equal(alpha_spec(ws, C, 1, &o, &lb, NULL, &err), CB_OK);
    for (int k = 0; k < t.n; k++) {   /* where the rule must stop, from the iterates themselves */
      stall = t.out[k] < best ? 0 : stall + 1;
      if (t.out[k] < best) best = t.out[k];
      if (stall >= p && stop == 60) stop = k + 1;
    }
    printf("digits_mlp row 0, eps 0.05, patience %d: %d of 60 iterates, lower bound %.9g (60: %.9g, CROWN %.9g)\n",
           p, t.n, lb, lb_full, lb_crown);
    assert_int_equal(t.n, stop);
    assert_true(lb == -best);
    assert_true(lb >= lb_crown && lb <= lb_full);
    if (p == 1) assert_true(t.n < 60);   /* this case stalls (an Adam step that overshoots): the rule is exercised */
  }
  ws_free(ws);
  s.eps = 1e-6;   /* every ReLU stable: no parameter */
  assert_non_null(ws = ws_new(&bn, &s, &err));
  assert_int_equal(bounds_run(ws, CB_ALPHA_CROWN, &err), CB_OK);
  o.patience = 0;
  t.n = 0;
  assert_int_equal(alpha_spec(ws, C, 1, &o, &lb, NULL, &err), CB_OK);
  assert_int_equal(t.n, 1);
  assert_true(lb == -t.out[0]);
  assert_int_equal(crown_spec(ws, C, 1, 0, &lb_crown, NULL, &err), CB_OK);
  if (!(fabs(lb - lb_crown) <= 1e-9 * (1 + fabs(lb_crown)))) fail_msg("no parameters: %.17g, CROWN %.17g", lb, lb_crown);
  ws_free(ws);
  bnet_free(&bn);
  cb_data_free(x);
  cb_net_free(net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_mlp), cmocka_unit_test(test_cnn), cmocka_unit_test(test_tanh),
    cmocka_unit_test(test_orth), cmocka_unit_test(test_options), cmocka_unit_test(test_oom),
    cmocka_unit_test(test_deep_tighter), cmocka_unit_test(test_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
