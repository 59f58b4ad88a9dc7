/*
** 1-Lipschitz networks as exported by torch (tests/data/groupsort/, made by
** tests/data/gen_groupsort.py): one orthogonal GroupSort2 net exported three
** ways (TopK; ReduceMin/ReduceMax/Concat; Split/Min/Max/Concat), LNets'
** MaxMin, GroupSort-4, FullSort and deel-torchlip's [relu(x); relu(-x)].
**   - predict matches torch's float64 outputs (relative 1e-9); also a conv
**     net with deel-torchlip's channel GroupSort2 (TopK and Split exports),
**     and the general ops: Max/Min of two branches, ReduceMax/Min over H, W;
**   - the three GroupSort2 exports load to the same canonical graph (kinds,
**     shapes, SORT parameters, weights bit for bit), hence the same bounds;
**   - the global Lipschitz constant in L2 is <= 1 + 1e-6 for every net, and
**     the three exports get the same constants and certified radii
**     margin / (sqrt 2 K) on the 20 digits rows;
**   - bounds of every method over L-inf / L2 / L1 balls (radii 0.01, 0.1,
**     0.5, with and without the clip box [0, 1]) hold every sampled point and
**     the iterates of a sign-gradient attack on each logit, tolerance 0;
**   - a TopK whose indices are read and a Max with a constant are refused;
**   - end to end: `cerbere lipschitz` K <= 1 + 1e-6, `cerbere certify --radius`
**     the same radius per row from the three exports.
*/
#include <math.h>
#include "testutil.h"
#include "lipschitz.h"

static const char *nets[] = {"gs2_topk", "gs2_reduce", "gs2_split", "maxmin_lnets", "gs4_topk", "fullsort", "crelu_maxmin",
                             "conv_gs2_topk", "conv_gs2_split", "max_branches", "reduce_spatial"};
#define NNETS (sizeof nets / sizeof nets[0])
#define NORTH 7   /* the first 7 have orthogonal weights */

static cb_net *load(const char *name)
{
  char p[256];
  snprintf(p, sizeof p, "tests/data/groupsort/%s.onnx", name);
  return must_load(p);
}

static void test_predict(void **st)
{
  (void)st;
  for (size_t k = 0; k < NNETS; k++) {
    char p[256];
    cb_net *net = load(nets[k]);
    cb_data *x = must_csv("nets/digits_test20.csv", cb_net_input_size(net)), *want;
    size_t no = cb_net_output_size(net);
    double *y = forward_rows(net, x), worst = 0;
    snprintf(p, sizeof p, "tests/data/groupsort/%s.out.csv", nets[k]);
    want = must_csv(p, no);
    assert_int_equal(cb_data_rows(x), cb_data_rows(want));
    for (size_t r = 0; r < cb_data_rows(x); r++)
      for (size_t j = 0; j < no; j++) {
        double w = cb_data_x(want, r)[j];
        worst = fmax(worst, fabs(y[r * no + j] - w) / fmax(1.0, fabs(w)));
      }
    printf("%-14s %2d nodes, max rel. error vs torch float64 %.2g\n", nets[k], net->n, worst);
    if (worst > 1e-9) fail_msg("%s: forward differs from torch by %g", nets[k], worst);
    free(y); cb_data_free(x); cb_data_free(want); cb_net_free(net);
  }
}

/* Exports of one net (nets[first], then the others of [first, last)): one canonical graph. */
static void same_graph(size_t first, size_t last, int want_n)
{
  cb_net *a = load(nets[first]);
  int sorts = 0;
  for (size_t k = first + 1; k < last; k++) {
    cb_net *b = load(nets[k]);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->output, b->output);
    for (int i = 0; i < a->n; i++) {
      const cb_node *x = &a->node[i], *y = &b->node[i];
      assert_int_equal(x->kind, y->kind);
      assert_int_equal(x->n_in, y->n_in);
      for (int j = 0; j < x->n_in; j++) assert_int_equal(x->in[j], y->in[j]);
      assert_int_equal(x->size, y->size);
      if (x->kind == CB_SORT) {
        assert_int_equal(x->p.sort.g, y->p.sort.g);
        assert_int_equal(x->p.sort.inner, y->p.sort.inner);
        assert_int_equal(x->p.sort.desc, y->p.sort.desc);
        sorts += k == first + 1;
      }
      if (x->kind == CB_AFFINE) {
        assert_memory_equal(x->p.aff.W, y->p.aff.W, x->p.aff.out * x->p.aff.in * sizeof(double));
        assert_memory_equal(x->p.aff.b, y->p.aff.b, x->p.aff.out * sizeof(double));
      }
      if (x->kind == CB_CONV) {
        const cb_conv *g = &x->p.conv.g;
        assert_memory_equal(g, &y->p.conv.g, sizeof *g);
        assert_memory_equal(x->p.conv.W, y->p.conv.W, (size_t)(g->cout * g->cin / g->groups * g->kh * g->kw) * sizeof(double));
      }
    }
    cb_net_free(b);
  }
  assert_int_equal(sorts, 2);   /* weighted, SORT, weighted, SORT, ... */
  assert_int_equal(a->n, want_n);
  cb_net_free(a);
}

static void test_same_graph(void **st)
{
  (void)st;
  same_graph(0, 3, 6);   /* INPUT AFFINE SORT AFFINE SORT AFFINE */
  same_graph(7, 9, 8);   /* INPUT RESHAPE CONV SORT CONV SORT RESHAPE AFFINE */
}

/* K <= 1 + 1e-6 in L2; equal constants and radii across the three exports. */
static void test_lipschitz(void **st)
{
  static const cb_norm norms[3] = {CB_NORM_2, CB_NORM_INF, CB_NORM_1};
  (void)st;
  for (int ni = 0; ni < 3; ni++) {
    double K0 = 0, rad0[20] = {0};
    for (size_t k = 0; k < NNETS; k++) {
      cb_net *net = load(nets[k]);
      cb_data *x = must_csv("nets/digits_test20.csv", cb_net_input_size(net));
      lip_opts o;
      lip_result *r;
      cb_error err = {0};
      int ncert = 0;
      lip_opts_init(&o);
      o.norm = norms[ni];
      if (lip_analyze(net, &o, &r, &err) != CB_OK) fail_msg("%s: %s", nets[k], err.msg);
      if (ni == 0) printf("%-14s L2 K_layerwise %.17g K_merged %.17g\n", nets[k], r->K_layerwise, r->K_merged);
      if (ni == 0 && k < NORTH) assert_true(r->K_layerwise <= 1 + 1e-6 && r->K_merged <= 1 + 1e-6);
      for (size_t s = 0; s < cb_data_rows(x); s++) {
        lip_sample ls;
        if (lip_certify(net, r, cb_data_x(x, s), cb_data_label(x, s), &ls, &err) != CB_OK) fail_msg("%s", err.msg);
        if (k == 0) rad0[s] = ls.radius;
        else if (k < 3 && ls.radius != rad0[s]) fail_msg("%s row %zu: radius %.17g, gs2_topk %.17g", nets[k], s, ls.radius, rad0[s]);
        if (k == 8 && ls.radius != rad0[s]) fail_msg("conv_gs2_split row %zu: radius differs from conv_gs2_topk", s);
        if (k == 7) rad0[s] = ls.radius;
        if (ni == 0 && k < NORTH && ls.margin_lo > 0)   /* margin / (sqrt 2 K), K within 1e-6 of 1 */
          assert_true(ls.radius >= ls.margin_lo / sqrt(2.0) / (1 + 1e-6) * (1 - 1e-12));
        ncert += ls.radius > 0;
      }
      if (k == 0 || k == 7) K0 = r->K_merged;
      else if ((k < 3 || k == 8) && r->K_merged != K0) fail_msg("%s: K %.17g, gs2_topk %.17g", nets[k], r->K_merged, K0);
      if (k == 0) printf("L%s: gs2 exports K %.17g, %d of 20 rows certified at a positive radius\n",
                         cb_norm_table[norms[ni]].name, K0, ncert);
      lip_result_free(r); cb_data_free(x); cb_net_free(net);
    }
  }
}

/* Refusals: one line naming the file, the node and what is wrong. */
static void test_refused(void **st)
{
  static const char *bad[2][3] = {{"bad_topk_indices", "\"topk_used_indices\" (op TopK)", "output 1 (\"i\") is used"},
                                  {"bad_max_const", "\"max_with_constant\" (op Max)", "constant operand"}};
  (void)st;
  for (int k = 0; k < 2; k++) {
    char p[256];
    cb_net *net = NULL;
    cb_error err = {0};
    snprintf(p, sizeof p, "tests/data/groupsort/%s.onnx", bad[k][0]);
    assert_int_equal(cb_net_load(p, &net, &err), CB_EUNSUP);
    assert_null(net);
    if (!strstr(err.msg, p) || !strstr(err.msg, bad[k][1]) || !strstr(err.msg, bad[k][2]) || strchr(err.msg, '\n'))
      fail_msg("%s: message \"%s\"", bad[k][0], err.msg);
  }
}

static char cerbere[512];

/* The commands end to end: `lipschitz` gives K <= 1 + 1e-6 and `certify
   --radius` the same certified radius per row for the three exports. */
static void test_cli(void **st)
{
  char dir[] = "/tmp/cb_gs_XXXXXX", p[256];
  double rad[20] = {0};
  (void)st;
  assert_non_null(mkdtemp(dir));
  for (int k = 0; k < 3; k++) {
    cJSON *j, *s;
    int row = 0;
    snprintf(p, sizeof p, "%s/lip_%d.json", dir, k);
    assert_int_equal(cerbere_run(cerbere, "lipschitz tests/data/groupsort/%s.onnx --norm 2 --quiet --json %s", nets[k], p), 0);
    assert_non_null(j = load_json(p));
    assert_true(cJSON_GetObjectItem(j, "K_merged")->valuedouble <= 1 + 1e-6);
    cJSON_Delete(j);
    unlink(p);
    snprintf(p, sizeof p, "%s/c%d", dir, k);
    assert_int_equal(cerbere_run(cerbere, "certify tests/data/groupsort/%s.onnx --data nets/digits_test20.csv --norm 2 --eps 0.1 "
                                          "--radius --methods clean,lipschitz,crown --quiet --out %s > /dev/null", nets[k], p), 0);
    snprintf(p, sizeof p, "%s/c%d/report.json", dir, k);
    assert_non_null(j = load_json(p));
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "runs"), 0), "samples")) {
      int i = cJSON_GetObjectItem(s, "index")->valueint;
      double r = cJSON_GetObjectItem(s, "certified_radius")->valuedouble;
      assert_true(i >= 0 && i < 20 && r > 0);
      if (k == 0) rad[i] = r;
      else if (r != rad[i]) fail_msg("%s row %d: certified radius %.17g, gs2_topk %.17g", nets[k], i, r, rad[i]);
      row++;
    }
    assert_int_equal(row, 20);
    cJSON_Delete(j);
    snprintf(p, sizeof p, "rm -rf %s/c%d", dir, k);
    assert_int_equal(system(p), 0);
  }
  assert_int_equal(rmdir(dir), 0);
}

static uint64_t seed = 777;

static double gauss(void) { return sqrt(-2 * log(1 - urand(&seed))) * cos(6.283185307179586 * urand(&seed)); }

/* Projects x into the ball (and the clip box [0, 1]), shrunk by 1e-12. */
static void project(cb_lp norm, double eps, int clip, const double *x0, size_t n, double *x)
{
  double e = eps * (1 - 1e-12), s = 0;
  for (size_t j = 0; j < n; j++) s = norm == CB_LP_INF ? fmax(s, fabs(x[j] - x0[j])) : norm == CB_LP_2 ? s + (x[j] - x0[j]) * (x[j] - x0[j]) : s + fabs(x[j] - x0[j]);
  if (norm == CB_LP_2) s = sqrt(s);
  if (norm == CB_LP_INF) for (size_t j = 0; j < n; j++) x[j] = fmin(fmax(x[j], x0[j] - e), x0[j] + e);
  else if (s > e) for (size_t j = 0; j < n; j++) x[j] = x0[j] + (x[j] - x0[j]) * e / s;
  if (clip) for (size_t j = 0; j < n; j++) x[j] = fmin(fmax(x[j], 0), 1);
}

static long check_in(const cb_net *net, const double *x, const double *lo, const double *hi, const char *tag)
{
  double y[16];
  size_t no = cb_net_output_size(net);
  cb_error err = {0};
  assert_int_equal(cb_net_forward(net, x, 1, y, &err), CB_OK);
  for (int m = 0; m < 4; m++)
    for (size_t k = 0; k < no; k++)
      if (!(lo[m * 16 + k] <= y[k] && y[k] <= hi[m * 16 + k]))
        fail_msg("%s method %d logit %zu: %.17g outside [%.17g, %.17g]", tag, m, k, y[k], lo[m * 16 + k], hi[m * 16 + k]);
  return 4 * (long)no;
}

/* Sampled points and a sign-gradient attack (finite differences) on each logit. */
static long sound_case(const cb_net *net, cb_lp norm, double eps, int clip, const double *x0, const char *tag)
{
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
  double lo[64], hi[64], *x = malloc(n * sizeof *x), *g = malloc(n * sizeof *g), zero[64], one[64];
  cb_region *set;
  cb_error err = {0};
  long checks = 0;
  for (size_t j = 0; j < n; j++) { zero[j] = 0; one[j] = 1; }
  assert_int_equal(cb_region_ball(net, norm, eps, x0, n, &set, &err), CB_OK);
  if (clip) assert_int_equal(cb_region_clip(set, zero, one, n, &err), CB_OK);
  for (int m = 0; m < 4; m++)
    if (cb_bounds_logits(net, set, (cb_bound_method)m, lo + 16 * m, hi + 16 * m, no, &err) != CB_OK) fail_msg("%s: %s", tag, err.msg);
  for (int k = 0; k < 200; k++) {
    double s = 0, r = k % 2 ? urand(&seed) : 1;
    for (size_t j = 0; j < n; j++) {
      g[j] = norm == CB_LP_INF ? (k % 2 ? 2 * urand(&seed) - 1 : (urand(&seed) < 0.5 ? -1 : 1)) : gauss();
      s = norm == CB_LP_INF ? 1 : norm == CB_LP_2 ? s + g[j] * g[j] : s + fabs(g[j]);
    }
    s = norm == CB_LP_2 ? sqrt(s) : s;
    for (size_t j = 0; j < n; j++) x[j] = x0[j] + eps * r * g[j] / s;
    project(norm, eps, clip, x0, n, x);
    checks += check_in(net, x, lo, hi, tag);
  }
  for (size_t t = 0; t < 2 * no; t++) {   /* ascend (t even) or descend logit t / 2 */
    double dir = t % 2 ? -1 : 1, step = eps / 4, yp[16], ym[16];
    memcpy(x, x0, n * sizeof *x);
    for (int it = 0; it < 5; it++, step *= 0.6) {
      for (size_t j = 0; j < n; j++) {
        double keep = x[j];
        x[j] = keep + 1e-6; cb_net_forward(net, x, 1, yp, &err);
        x[j] = keep - 1e-6; cb_net_forward(net, x, 1, ym, &err);
        x[j] = keep;
        g[j] = dir * (yp[t / 2] - ym[t / 2]);
      }
      for (size_t j = 0; j < n; j++) x[j] += step * (g[j] > 0 ? 1 : g[j] < 0 ? -1 : 0) / (norm == CB_LP_INF ? 1 : norm == CB_LP_2 ? 8 : 64);
      project(norm, eps, clip, x0, n, x);
      checks += check_in(net, x, lo, hi, tag);
    }
  }
  cb_region_free(set);
  free(x); free(g);
  return checks;
}

static void test_sound(void **st)
{
  static const double radii[3] = {0.01, 0.1, 0.5};
  static const char *pick[7] = {"gs2_topk", "maxmin_lnets", "fullsort", "crelu_maxmin", "conv_gs2_split", "max_branches",
                                "reduce_spatial"};
  (void)st;
  for (int k = 0; k < 7; k++) {
    cb_net *net = load(pick[k]);
    cb_data *x = must_csv("nets/digits_test20.csv", cb_net_input_size(net));
    long checks = 0;
    for (int norm = 0; norm < 3; norm++)
      for (int e = 0; e < 3; e++)
        for (int clip = 0; clip < 2; clip++) {
          char tag[128];
          snprintf(tag, sizeof tag, "%s norm %d eps %g clip %d", pick[k], norm, radii[e], clip);
          checks += sound_case(net, (cb_lp)norm, radii[e] * (norm == 1 ? 4 : norm == 2 ? 16 : 1), clip, cb_data_x(x, (size_t)(k + 3 * norm)), tag);
        }
    printf("%-14s %ld point-bound checks (4 methods, 3 norms, 3 radii, clip or not), 0 outside\n", pick[k], checks);
    cb_data_free(x);
    cb_net_free(net);
  }
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_predict), cmocka_unit_test(test_same_graph),
    cmocka_unit_test(test_lipschitz), cmocka_unit_test(test_sound), cmocka_unit_test(test_refused),
    cmocka_unit_test(test_cli),
  };
  (void)argc;
  cerbere_bin(argv[0], cerbere, sizeof cerbere);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
