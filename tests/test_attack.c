/*
** The attack (certify/attack.c): projections land inside the set (rounding-
** safe membership, tolerance 0) and are nearest points; on the 4 reference
** nets x 20 samples x 6 balls (tests/data/ref, copied from shared/reference/
** bounds) every sample whose margin auto_LiRPA's harness PGD drove below 0
** is falsified here too, each counterexample lies in the set and reaches a
** wrong class in the forward pass, and our worst margin is compared with theirs.
** APGD's schedule (opt.apgd): on affine nets it reaches the exact minimising
** corner of a box; on random deep ReLU nets every point it returns lies in
** the set and g_best is the objective there; on the reference balls it finds
** every counterexample plain PGD finds.
*/
#include <float.h>
#include <math.h>
#include "testutil.h"
#include "attack.h"
#include "randnet.h"

static uint64_t rs = 777;

static void test_projection(void **st)
{
  enum { N = 40 };
  double c[N], x[N], p[N], z[N], lo[N], hi[N];
  (void)st;
  for (int norm = CB_NORM_INF; norm <= CB_NORM_BOX; norm++)
    for (int clip = 0; clip < 2; clip++)
      for (int t = 0; t < 200; t++) {
        cb_set s = {.norm = (cb_norm)norm, .eps = 0.05 + urand(&rs), .n = N, .center = c};
        for (int j = 0; j < N; j++) {
          c[j] = urand(&rs); x[j] = c[j] + 4 * (urand(&rs) - 0.5);
          lo[j] = clip || norm == CB_NORM_BOX ? 0 : -1; hi[j] = clip || norm == CB_NORM_BOX ? 1 : 2;
        }
        if (clip || norm == CB_NORM_BOX) { s.lo = lo; s.hi = hi; }
        if (norm == CB_NORM_BOX) s.center = NULL;
        memcpy(p, x, sizeof p);
        assert_true(attack_project(&s, p));
        assert_true(set_contains(&s, p));
        if (clip) continue;  /* nearest-point check for the plain sets */
        double dp = 0;
        for (int j = 0; j < N; j++) dp += (x[j] - p[j]) * (x[j] - p[j]);
        for (int k = 0; k < 20; k++) {   /* random points of the set are never nearer */
          double dz = 0;
          for (int j = 0; j < N; j++) z[j] = p[j] + 0.01 * (urand(&rs) - 0.5);
          if (!attack_project(&s, z)) continue;   /* projection of a perturbation is in the set */
          for (int j = 0; j < N; j++) dz += (x[j] - z[j]) * (x[j] - z[j]);
          if (dz < dp * (1 - 1e-9)) fail_msg("norm %d: projection not nearest (%g > %g)", norm, dp, dz);
        }
      }
}

static int argmax(const double *y, size_t n)
{
  size_t b = 0;
  for (size_t j = 1; j < n; j++) if (y[j] > y[b]) b = j;
  return (int)b;
}

static void test_reference(void **st)
{
  static const char *nets[] = {"digits_mlp", "digits_cnn", "digits_tanh", "digits_orth"};
  (void)st;
  for (int t = 0; t < 4; t++) {
    char path[256];
    snprintf(path, sizeof path, "nets/%s.onnx", nets[t]);
    cb_net *net = must_load(path);
    size_t nin = cb_net_input_size(net), nout = cb_net_output_size(net);
    cb_data *d = must_csv("nets/digits_test20.csv", nin);
    snprintf(path, sizeof path, "tests/data/ref/%s.json", nets[t]);
    cJSON *ref = load_json(path);
    assert_non_null(ref);
    const cJSON *samples = cJSON_GetObjectItem(ref, "samples");
    double *C = calloc((nout - 1) * nout, sizeof *C), *x = malloc(nin * sizeof *x), *y = malloc(nout * sizeof *y);
    int ours = 0, theirs = 0, better = 0, worse = 0, apgd = 0;
    for (int i = 0; i < cJSON_GetArraySize(samples); i++) {
      const cJSON *sm = cJSON_GetArrayItem(samples, i), *res = cJSON_GetObjectItem(sm, "results");
      int label = cJSON_GetObjectItem(sm, "label")->valueint;
      size_t q = 0;
      memset(C, 0, (nout - 1) * nout * sizeof *C);
      for (size_t j = 0; j < nout; j++) if ((int)j != label) { C[q * nout + (size_t)label] = 1; C[q * nout + j] = -1; q++; }
      for (int b = 0; b < cJSON_GetArraySize(res); b++) {
        const cJSON *r = cJSON_GetArrayItem(res, b), *pgd = cJSON_GetObjectItem(r, "pgd");
        const char *nm = cJSON_GetObjectItem(r, "norm")->valuestring;
        cb_set s = {.norm = nm[0] == 'i' ? CB_NORM_INF : CB_NORM_2, .eps = cJSON_GetObjectItem(r, "eps")->valuedouble,
                    .n = nin, .center = cb_data_x(d, (size_t)i)};
        double g, ref_m = cJSON_GetObjectItem(pgd, "min_margin")->valuedouble;
        int ref_cx = cJSON_IsTrue(cJSON_GetObjectItem(pgd, "counterexample"));
        cb_error err = {0};
        if (attack_run(net, &s, C, NULL, q, CB_AGG_MIN, 0, NULL, x, &g, &err) != CB_OK) fail_msg("%s", err.msg);
        assert_true(set_contains(&s, x));
        assert_int_equal(cb_net_forward(net, x, 1, y, &err), CB_OK);
        if (g < 0) {
          ours++;
          if (argmax(y, nout) == label) fail_msg("%s sample %d: counterexample still classified %d", nets[t], i, label);
        }
        theirs += ref_cx;
        if (ref_cx && !(g < 0)) fail_msg("%s sample %d %s eps %g: reference PGD found a counterexample (margin %g), ours %g",
                                         nets[t], i, nm, s.eps, ref_m, g);
        {   /* APGD's schedule, same budget: every counterexample PGD finds */
          cb_attack_opt ao = CB_ATTACK_DEFAULT;
          double ga;
          ao.apgd = 1;
          if (attack_run(net, &s, C, NULL, q, CB_AGG_MIN, 0, &ao, x, &ga, &err) != CB_OK) fail_msg("%s", err.msg);
          assert_true(set_contains(&s, x));
          if (s.norm == CB_NORM_INF && (ref_cx || g < 0) && !(ga < 0))
            fail_msg("%s sample %d eps %g: APGD found no counterexample (%g), PGD %g", nets[t], i, s.eps, ga, g);
          apgd += ga < 0;
        }
        if (g < ref_m - 1e-6) better++;
        else if (g > ref_m + 1e-3 * fabs(ref_m) + 1e-6) worse++;
      }
    }
    printf("%s: falsified %d (reference PGD %d, APGD schedule %d) over 120 sample-balls; our min margin lower than the reference's in %d, higher in %d\n",
           nets[t], ours, theirs, apgd, better, worse);
    assert_true(ours >= theirs);
    free(C); free(x); free(y);
    cJSON_Delete(ref); cb_data_free(d); cb_net_free(net);
  }
}

static void test_apgd(void **st)
{
  cb_error err = {0};
  (void)st;
  for (int t = 0; t < 20; t++) {   /* affine: the minimum over a box is at a known corner */
    int64_t d[2] = {1, 20};
    cb_net *net = start(2, d);
    double lo[20], hi[20], x[20], g, want, C = 1;
    cb_attack_opt o = {10, 0, 0, 1};
    cb_set s = {.norm = CB_NORM_BOX, .n = 20, .lo = lo, .hi = hi};
    int i = dense(net, 0, 1);
    net->output = i;
    assert_int_equal(net_check(net, &err), CB_OK);
    const double *W = net->node[i].p.aff.W;
    want = net->node[i].p.aff.b[0];
    for (int j = 0; j < 20; j++) {
      lo[j] = rnd(-1, 0.5); hi[j] = lo[j] + rnd(0.01, 1);
      want += fmin(W[j] * lo[j], W[j] * hi[j]);
    }
    if (attack_run(net, &s, &C, NULL, 1, CB_AGG_MIN, -INFINITY, &o, x, &g, &err) != CB_OK) fail_msg("%s", err.msg);
    assert_true(set_contains(&s, x));
    if (fabs(g - want) > 1e-12 * (1 + fabs(want))) fail_msg("affine net %d: APGD %.17g, minimum %.17g", t, g, want);
    cb_net_free(net);
  }
  for (int t = 0; t < 12; t++) {   /* deep ReLU nets, L-inf balls (clipped or not) and boxes */
    cb_net *net = net_deep(3 + t % 3, 24, t % 2, 0);
    net->output = net->n - 1;
    assert_int_equal(net_check(net, &err), CB_OK);
    double c[4], lo[4], hi[4], x[4], y[3], C[6] = {1, -1, 0, 1, 0, -1}, g, gp;
    cb_attack_opt oa = {30, 3, (uint64_t)t + 1, 1}, op = oa;
    cb_set s = {.norm = t % 3 == 2 ? CB_NORM_BOX : CB_NORM_INF, .eps = rnd(0.05, 0.5), .n = 4, .center = c};
    op.apgd = 0;
    for (int j = 0; j < 4; j++) { c[j] = rnd(-1, 1); lo[j] = c[j] - rnd(0, 0.4); hi[j] = c[j] + rnd(0, 0.4); }
    if (t % 3) { s.lo = lo; s.hi = hi; }
    if (s.norm == CB_NORM_BOX) s.center = NULL;
    assert_int_equal(attack_run(net, &s, C, NULL, 2, CB_AGG_MIN, -INFINITY, &oa, x, &g, &err), CB_OK);
    assert_true(set_contains(&s, x));
    assert_int_equal(cb_net_forward(net, x, 1, y, &err), CB_OK);
    assert_true(g == attack_objective(y, 3, C, NULL, 2, CB_AGG_MIN, NULL));
    assert_int_equal(attack_run(net, &s, C, NULL, 2, CB_AGG_MIN, -INFINITY, &op, x, &gp, &err), CB_OK);
    printf("deep net %d: APGD %.6g, PGD %.6g\n", t, g, gp);
    cb_net_free(net);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_projection), cmocka_unit_test(test_reference),
                                     cmocka_unit_test(test_apgd)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
