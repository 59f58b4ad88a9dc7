/*
** The attack (certify/attack.c): projections land inside the set (rounding-
** safe membership, tolerance 0) and are nearest points; on the 4 reference
** nets x 20 samples x 6 balls (tests/data/ref, copied from shared/reference/
** bounds) every sample whose margin auto_LiRPA's harness PGD drove below 0
** is falsified here too, each counterexample lies in the set and reaches a
** wrong class in the forward pass, and our worst margin is compared with theirs.
*/
#include <float.h>
#include <math.h>
#include "testutil.h"
#include "attack.h"

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
    int ours = 0, theirs = 0, better = 0, worse = 0;
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
        if (g < ref_m - 1e-6) better++;
        else if (g > ref_m + 1e-3 * fabs(ref_m) + 1e-6) worse++;
      }
    }
    printf("%s: falsified %d (reference PGD %d) over 120 sample-balls; our min margin lower than the reference's in %d, higher in %d\n",
           nets[t], ours, theirs, better, worse);
    assert_true(ours >= theirs);
    free(C); free(x); free(y);
    cJSON_Delete(ref); cb_data_free(d); cb_net_free(net);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_projection), cmocka_unit_test(test_reference)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
