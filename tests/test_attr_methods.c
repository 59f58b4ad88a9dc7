/*
** Oracles of the backward-rule and Shapley attributions (certify/attr_rules.c,
** certify/attr_shap.c):
**   LRP-0 (eps rule with eps 0 on every layer) on ReLU nets with zero biases
**   (dense; conv + MaxPool) equals Gradient x Input to 1e-12 of the largest
**   entry; on a linear model with a bias, LRP-0 = x .* w_c and sums to
**   f_c(x) - b_c; LRP conserves relevance up to the absorption it reports
**   (sum(map) + absorbed = f_c(x) to 1e-9) for every rule and the default
**   composite on the reference nets, and the absorption vanishes with zero
**   biases and eps -> 0 (alphabeta, zplus: exactly conservative there);
**   DeepLIFT Rescale sums to f_c(x) - f_c(baseline) to 1e-9 on random nets
**   of every elementwise activation and the reference nets (constant and
**   vector baselines), and equals w .* (x - b) on a linear model;
**   Guided Backprop and DeconvNet equal their closed forms on a two-layer
**   ReLU net; KernelSHAP on a linear model equals w .* (x - baseline) to
**   1e-9 with exact enumeration (12 features) and with sampling (64
**   features), is efficient (sums to f_c(x) - f_c(baseline)) on digits_cnn,
**   and is reproducible bit for bit for a seed; the method errors (deconvnet
**   on tanh, deeplift on MaxPool, --rule on a missing layer type, on
**   another method, an unknown layer type) are one line with exit 2 or 3.
** Score-CAM and Opti-CAM equal the reference maps of tests/data/cam/cam_ref.json
**   (tests/data/gen_cam_ref.py: torch autograd and torch.optim.Adam) to 1e-9
**   on digits_cnn at both CONV nodes, and one Adam step is not the reference
**   (the optimisation matters); a --node that is not a CONV is one line.
** Sobol total indices of an additive model (a linear net, baseline 0, cell =
**   pixel) match the analytic w_i^2 x_i^2 / sum_j w_j^2 x_j^2 within 3
**   standard errors of the mean over 16 digitally shifted designs; LIME with
**   ridge 0 on a linear model equals w .* (x - b) to 1e-9; lime, sobol and
**   hsic are reproducible bit for bit for a seed and change with it.
** compare-models: K identical models give MeGe 1 and ReCo 1; three nets
**   match a scipy recomputation of Xplique's MeGe/ReCo to 1e-12.
** Sparseness (Gini) and complexity (entropy) equal their closed forms;
**   model randomisation re-initialises exactly the layers asked for and
**   moves the map of every gradient method (saliency ... gradcampp) by more
**   than 10% (L2) on 5 rows of digits_cnn.
*/
#include <math.h>
#include "attr.h"
#include "randnet.h"

static char cerbere[512];

static attr_ctx *mk(const cb_net *net, attr_method m)
{
  attr_opt o;
  cb_error err = {0};
  attr_ctx *a;
  attr_opt_init(&o);
  o.method = m;
  o.reduce = 0;   /* one value per input feature (the sums below are over features) */
  if (!(a = attr_new(net, &o, &err))) fail_msg("attr_new %s: %s", attr_method_name[m], err.msg);
  return a;
}

static void map_of(attr_ctx *a, const double *x, int c, double *map)
{
  cb_error err = {0};
  if (attr_map(a, x, c, map, &err) != CB_OK) fail_msg("%s: %s", attr_method_name[a->opt.method], err.msg);
}

static double score(const cb_net *net, const double *x, int c)
{
  double y[64];
  cb_error err = {0};
  if (cb_net_forward(net, x, 1, y, &err) != CB_OK) fail_msg("%s", err.msg);
  return y[c];
}

static double sum(const double *v, size_t n) { double s = 0; for (size_t i = 0; i < n; i++) s += v[i]; return s; }
static double maxabs(const double *v, size_t n) { double s = 0; for (size_t i = 0; i < n; i++) s = fmax(s, fabs(v[i])); return s; }

static void zero_biases(cb_net *net)
{
  for (int i = 0; i < net->n; i++) {
    cb_node *n = &net->node[i];
    if (n->kind == CB_AFFINE && n->p.aff.b) memset(n->p.aff.b, 0, n->p.aff.out * sizeof(double));
    if (n->kind == CB_CONV && n->p.conv.b) memset(n->p.conv.b, 0, (size_t)n->p.conv.g.cout * sizeof(double));
  }
}

static cb_net *finish(cb_net *net)
{
  cb_error err = {0};
  net->output = net->n - 1;
  if (net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
  return net;
}

static cb_net *relu_dense(void)
{
  int64_t d[2] = {1, 10};
  cb_net *net = start(2, d);
  int h = act(net, dense(net, 0, 12), CB_ACT_RELU);
  h = act(net, dense(net, h, 9), CB_ACT_RELU);
  dense(net, h, 4);
  return finish(net);
}

static cb_net *relu_conv(void)
{
  int64_t d[4] = {1, 2, 6, 6};
  cb_net *net = start(4, d);
  int h = act(net, conv(net, 0, 3, 3, 1, 1, 1, 1), CB_ACT_RELU);
  h = maxpool(net, h, 2, 2, 0);
  h = act(net, conv(net, h, 4, 2, 1, 0, 1, 1), CB_ACT_RELU);
  dense(net, flatten(net, h), 3);
  return finish(net);
}

/* LRP-0 = Gradient x Input on zero-bias ReLU nets. */
static void test_lrp0_gxi(void **st)
{
  (void)st;
  cb_net *nets[2] = {relu_dense(), relu_conv()};
  for (int k = 0; k < 2; k++) {
    cb_net *net = nets[k];
    size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
    double *x = malloc(3 * n * sizeof *x), *m1 = x + n, *m2 = m1 + n;
    attr_ctx *l, *g;
    zero_biases(net);
    l = mk(net, AM_LRP); g = mk(net, AM_GRADXINPUT);
    l->opt.lrp_rule[0] = l->opt.lrp_rule[1] = LRP_EPS;
    l->opt.lrp_eps = 0;
    for (int t = 0; t < 20; t++) {
      int c = t % (int)no;
      for (size_t i = 0; i < n; i++) x[i] = rnd(-1, 1);
      map_of(l, x, c, m1);
      map_of(g, x, c, m2);
      for (size_t i = 0; i < n; i++)
        if (fabs(m1[i] - m2[i]) > 1e-12 * maxabs(m2, n)) fail_msg("net %d trial %d feature %zu: LRP-0 %.17g, GxI %.17g", k, t, i, m1[i], m2[i]);
      assert_true(fabs(l->lrp_absorbed) <= 1e-12 * (1 + fabs(score(net, x, c))));   /* no bias, no eps: conservative */
    }
    attr_free(l); attr_free(g);
    free(x);
    cb_net_free(net);
  }
}

/* Linear model 16 -> 3 with biases. */
static cb_net *linear(size_t n)
{
  int64_t d[2] = {1, (int64_t)n};
  cb_net *net = start(2, d);
  dense(net, 0, 3);
  return finish(net);
}

static void test_lrp_linear_and_conservation(void **st)
{
  (void)st;
  static const char *nets[] = {"nets/digits_mlp.onnx", "nets/digits_cnn.onnx", "nets/digits_tanh.onnx", "nets/digits_orth.onnx",
                               "tests/data/groupsort/gs2_topk.onnx", "tests/data/groupsort/fullsort.onnx",
                               "tests/data/groupsort/conv_gs2_split.onnx"};   /* SORT: relevance follows the permutation */
  cb_net *lin = linear(16);
  const cb_node *A = &lin->node[1];
  double x[16], m[16];
  attr_ctx *a = mk(lin, AM_LRP);
  a->opt.lrp_eps = 0;
  for (int i = 0; i < 16; i++) x[i] = rnd(0, 1);
  for (int c = 0; c < 3; c++) {
    map_of(a, x, c, m);
    for (int i = 0; i < 16; i++) assert_true(fabs(m[i] - x[i] * A->p.aff.W[c * 16 + i]) <= 1e-13);
    assert_true(fabs(sum(m, 16) - (score(lin, x, c) - A->p.aff.b[c])) <= 1e-12);
  }
  attr_free(a);
  cb_net_free(lin);
  for (size_t k = 0; k < sizeof nets / sizeof *nets; k++) {
    cb_net *net = must_load(nets[k]);
    size_t n = cb_net_input_size(net);
    cb_data *d = must_csv("nets/digits_test20.csv", n);
    double *map = malloc(n * sizeof *map);
    for (int r = 0; r < 5; r++) {   /* default composite, then each rule everywhere */
      a = mk(net, AM_LRP);
      a->opt.lrp_eps = 0.25;
      if (r) a->opt.lrp_rule[0] = a->opt.lrp_rule[1] = (attr_lrp_rule)(r - 1);
      for (size_t row = 0; row < 4; row++) {
        const double *xr = cb_data_x(d, row);
        int c = cb_data_label(d, row);
        double f = score(net, xr, c);
        map_of(a, xr, c, map);
        if (fabs(sum(map, n) + a->lrp_absorbed - f) > 1e-9 * (1 + fabs(f)))
          fail_msg("%s rule %d row %zu: sum %.17g + absorbed %.17g != f %.17g", nets[k], r, row, sum(map, n), a->lrp_absorbed, f);
      }
      attr_free(a);
    }
    free(map);
    cb_data_free(d);
    cb_net_free(net);
  }
  {   /* zero biases: alphabeta and zplus conserve exactly, eps 1e-9 nearly */
    cb_net *net = relu_conv();
    size_t n = cb_net_input_size(net);
    double *xx = malloc(2 * n * sizeof *xx), *mm = xx + n;
    zero_biases(net);
    for (size_t i = 0; i < n; i++) xx[i] = rnd(-1, 1);
    for (int r = 0; r < LRP_COUNT; r++) {
      a = mk(net, AM_LRP);
      a->opt.lrp_eps = 1e-9;
      a->opt.lrp_rule[0] = a->opt.lrp_rule[1] = (attr_lrp_rule)r;
      map_of(a, xx, 1, mm);
      if (r != LRP_GAMMA && fabs(sum(mm, n) - score(net, xx, 1)) > 1e-7 * (1 + fabs(score(net, xx, 1))))
        fail_msg("rule %s, zero biases: sum %.17g, f %.17g", attr_lrp_rule_name[r], sum(mm, n), score(net, xx, 1));
      attr_free(a);
    }
    free(xx);
    cb_net_free(net);
  }
}

/* DeepLIFT summation to delta. */
static void test_deeplift(void **st)
{
  (void)st;
  static const char *nets[] = {"nets/digits_mlp.onnx", "nets/digits_cnn.onnx", "nets/digits_tanh.onnx", "nets/digits_orth.onnx"};
  static const cb_act acts[] = {CB_ACT_RELU, CB_ACT_LEAKY_RELU, CB_ACT_SIGMOID, CB_ACT_TANH, CB_ACT_ELU, CB_ACT_SOFTPLUS, CB_ACT_CLIP};
  for (size_t q = 0; q < sizeof acts / sizeof *acts; q++) {
    int64_t d[2] = {1, 8};
    cb_net *net = start(2, d);
    double x[8], b[8], m[8];
    attr_ctx *a;
    int h = act(net, dense(net, 0, 10), acts[q]);
    h = act(net, dense(net, h, 6), acts[q]);
    dense(net, h, 3);
    finish(net);
    a = mk(net, AM_DEEPLIFT);
    for (int t = 0; t < 10; t++) {
      for (int i = 0; i < 8; i++) { x[i] = rnd(-2, 2); b[i] = rnd(-1, 1); }
      a->opt.baseline_vec = t % 2 ? b : NULL;
      a->opt.baseline = 0.1;
      map_of(a, x, t % 3, m);
      double f0 = score(net, t % 2 ? b : (double[8]){0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}, t % 3), f = score(net, x, t % 3);
      if (fabs(sum(m, 8) - (f - f0)) > 1e-9 * (1 + fabs(f) + fabs(f0)))
        fail_msg("%s trial %d: sum %.17g, delta %.17g", cb_act_table[acts[q]].name, t, sum(m, 8), f - f0);
    }
    attr_free(a);
    cb_net_free(net);
  }
  for (int k = 0; k < 4; k++) {
    cb_net *net = must_load(nets[k]);
    size_t n = cb_net_input_size(net);
    cb_data *d = must_csv("nets/digits_test20.csv", n);
    double *map = malloc(2 * n * sizeof *map), *zero = map + n;
    attr_ctx *a = mk(net, AM_DEEPLIFT);
    memset(zero, 0, n * sizeof *zero);
    for (size_t r = 0; r < 10; r++) {
      const double *xr = cb_data_x(d, r);
      int c = cb_data_label(d, r);
      double delta = score(net, xr, c) - score(net, zero, c);
      map_of(a, xr, c, map);
      if (fabs(sum(map, n) - delta) > 1e-9 * (1 + fabs(delta))) fail_msg("%s row %zu: sum %.17g, delta %.17g", nets[k], r, sum(map, n), delta);
    }
    attr_free(a);
    free(map);
    cb_data_free(d);
    cb_net_free(net);
  }
  {
    cb_net *lin = linear(16);
    double x[16], m[16];
    attr_ctx *a = mk(lin, AM_DEEPLIFT);
    a->opt.baseline = 0.3;
    for (int i = 0; i < 16; i++) x[i] = rnd(0, 1);
    map_of(a, x, 2, m);
    for (int i = 0; i < 16; i++) assert_true(fabs(m[i] - lin->node[1].p.aff.W[32 + i] * (x[i] - 0.3)) <= 1e-14);
    attr_free(a);
    cb_net_free(lin);
  }
}

/* Guided Backprop and DeconvNet on h = relu(W1 x + b1), f = W2 h + b2. */
static void test_guided_deconv(void **st)
{
  (void)st;
  int64_t d[2] = {1, 7};
  cb_net *net = start(2, d);
  int h = act(net, dense(net, 0, 9), CB_ACT_RELU);
  const cb_node *L1, *L2;
  double x[7], m[7], z[9];
  attr_ctx *g, *dc;
  dense(net, h, 3);
  finish(net);
  L1 = &net->node[1]; L2 = &net->node[3];
  g = mk(net, AM_GUIDEDBP); dc = mk(net, AM_DECONVNET);
  for (int t = 0; t < 10; t++) {
    int c = t % 3;
    for (int i = 0; i < 7; i++) x[i] = rnd(-1, 1);
    for (int k = 0; k < 9; k++) { z[k] = L1->p.aff.b[k]; for (int i = 0; i < 7; i++) z[k] += L1->p.aff.W[k * 7 + i] * x[i]; }
    map_of(g, x, c, m);
    for (int i = 0; i < 7; i++) {
      double e = 0;
      for (int k = 0; k < 9; k++) e += L1->p.aff.W[k * 7 + i] * (z[k] > 0 ? fmax(L2->p.aff.W[c * 9 + k], 0) : 0);
      assert_true(fabs(m[i] - e) <= 1e-13);
    }
    map_of(dc, x, c, m);
    for (int i = 0; i < 7; i++) {
      double e = 0;
      for (int k = 0; k < 9; k++) e += L1->p.aff.W[k * 7 + i] * fmax(L2->p.aff.W[c * 9 + k], 0);
      assert_true(fabs(m[i] - e) <= 1e-13);
    }
  }
  attr_free(g); attr_free(dc);
  cb_net_free(net);
}

static void test_kernelshap(void **st)
{
  (void)st;
  for (int q = 0; q < 2; q++) {   /* 12 features: exact enumeration; 64: sampled regression */
    size_t n = q ? 64 : 12;
    cb_net *lin = linear(n);
    double *x = malloc(3 * n * sizeof *x), *m = x + n, *b = m + n;
    attr_ctx *a = mk(lin, AM_KERNELSHAP);
    for (size_t i = 0; i < n; i++) { x[i] = rnd(0, 1); b[i] = rnd(-0.5, 0.5); }
    a->opt.baseline_vec = b;
    for (int c = 0; c < 3; c++) {
      map_of(a, x, c, m);
      for (size_t i = 0; i < n; i++) {
        double e = lin->node[1].p.aff.W[(size_t)c * n + i] * (x[i] - b[i]);
        if (fabs(m[i] - e) > 1e-9) fail_msg("%zu features, class %d, feature %zu: %.17g, expected %.17g", n, c, i, m[i], e);
      }
    }
    attr_free(a);
    free(x);
    cb_net_free(lin);
  }
  {
    cb_net *net = must_load("nets/digits_cnn.onnx");
    size_t n = cb_net_input_size(net);
    cb_data *d = must_csv("nets/digits_test20.csv", n);
    double *m1 = malloc(3 * n * sizeof *m1), *m2 = m1 + n, *zero = m2 + n;
    const double *x = cb_data_x(d, 3);
    int c = cb_data_label(d, 3);
    attr_ctx *a = mk(net, AM_KERNELSHAP);
    memset(zero, 0, n * sizeof *zero);
    for (int p = 1; p <= 2; p++) {   /* 64 groups (sampled), 16 groups (sampled) */
      double delta = score(net, x, c) - score(net, zero, c);
      a->opt.patch = p * 2 - 1 == 1 ? 1 : 2;
      a->opt.samples = 300;
      map_of(a, x, c, m1);
      if (fabs(sum(m1, n) - delta) > 1e-9 * (1 + fabs(delta))) fail_msg("patch %d: sum %.17g, delta %.17g", a->opt.patch, sum(m1, n), delta);
      map_of(a, x, c, m2);
      assert_memory_equal(m1, m2, n * sizeof *m1);
      a->opt.seed = 2;
      map_of(a, x, c, m2);
      assert_true(memcmp(m1, m2, n * sizeof *m1) != 0);
      a->opt.seed = 1;
    }
    {   /* 64 groups from 20 coalitions: the normal equations are singular, the
           minimum-norm least squares (dgelsd) still sums to the score change */
      double delta = score(net, x, c) - score(net, zero, c);
      a->opt.patch = 1;
      a->opt.samples = 10;
      map_of(a, x, c, m1);
      for (size_t i = 0; i < n; i++) assert_true(isfinite(m1[i]));
      if (fabs(sum(m1, n) - delta) > 1e-9 * (1 + fabs(delta))) fail_msg("rank-deficient: sum %.17g, delta %.17g", sum(m1, n), delta);
      map_of(a, x, c, m2);
      assert_memory_equal(m1, m2, n * sizeof *m1);
      a->opt.samples = 300;
    }
    a->opt.patch = 3;   /* 3 x 3 = 9 groups: exact */
    map_of(a, x, c, m1);
    assert_true(fabs(sum(m1, n) - (score(net, x, c) - score(net, zero, c))) <= 1e-9 * (1 + fabs(score(net, x, c))));
    attr_free(a);
    free(m1);
    cb_data_free(d);
    cb_net_free(net);
  }
}

/* Method errors through the CLI: one line, exit 2 (usage) or 3 (input). */
static void test_errors(void **st)
{
  (void)st;
  static const struct { const char *args, *want; } bad[] = {
    {"nets/digits_tanh.onnx --method deconvnet", "deconvnet is defined for ReLU networks"},
    {"nets/digits_mlp.onnx --method lrp --rule conv=gamma", "no CONV layer"},
    {"nets/digits_mlp.onnx --method lrp --rule pool=eps", "dense and conv, not 'pool'"},
    {"nets/digits_mlp.onnx --method lrp --rule eps2", "unknown LRP rule"},
    {"nets/digits_mlp.onnx --method saliency --rule eps", "option of --method lrp"},
    {"nets/digits_mlp.onnx --method lrp --alpha 0.5", "--alpha"},
  };
  char dir[] = "/tmp/cb_test_methods_XXXXXX", cmd[1024], p[256], *t;
  if (!mkdtemp(dir)) fail_msg("mkdtemp");
  for (size_t q = 0; q < sizeof bad / sizeof *bad; q++) {
    int rc;
    snprintf(cmd, sizeof cmd, "%s attribute %s --data nets/digits_test20.csv --json %s/o.json > %s/out 2> %s/err; "
             "r=$?; test $(wc -l < %s/err) = 1 && test ! -s %s/out && test ! -e %s/o.json && exit $r; exit 99",
             cerbere, bad[q].args, dir, dir, dir, dir, dir, dir);
    rc = system(cmd);
    rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (rc != 2 && rc != 3) fail_msg("'%s': exit %d (want one line and exit 2 or 3)", bad[q].args, rc);
    snprintf(p, sizeof p, "%s/err", dir);
    t = slurp(p);
    if (!t || !strstr(t, bad[q].want)) fail_msg("'%s': message '%s' lacks '%s'", bad[q].args, t ? t : "", bad[q].want);
    free(t);
  }
  {   /* a MaxPool net for deeplift */
    cb_net *net = relu_conv();
    cb_error err = {0};
    attr_opt o;
    attr_opt_init(&o);
    o.method = AM_DEEPLIFT;
    assert_null(attr_new(net, &o, &err));
    assert_non_null(strstr(err.msg, "MaxPool"));
    cb_net_free(net);
  }
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fail_msg("rm");
}

static void test_cam_reference(void **st)
{
  (void)st;
  cJSON *ref = load_json("tests/data/cam/cam_ref.json"), *c;
  cb_net *net = must_load("nets/digits_cnn.onnx");
  size_t n = cb_net_input_size(net);
  cb_data *d = must_csv("nets/digits_test20.csv", n);
  double m[64];
  int steps = cJSON_GetObjectItem(ref, "steps")->valueint, cases = 0;
  assert_int_equal(n, 64);
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(ref, "cases")) {
    const char *node = cJSON_GetObjectItem(c, "node")->valuestring;
    int row = cJSON_GetObjectItem(c, "row")->valueint, t = cJSON_GetObjectItem(c, "target")->valueint;
    for (int q = 0; q < 2; q++) {
      attr_opt o;
      cb_error err = {0};
      attr_ctx *a;
      cJSON *want = cJSON_GetObjectItem(c, q ? "opticam" : "scorecam");
      double dev = 0;
      attr_opt_init(&o);
      o.method = q ? AM_OPTICAM : AM_SCORECAM;
      o.node = node;
      o.steps = steps;
      o.lr = cJSON_GetObjectItem(ref, "lr")->valuedouble;
      if (!(a = attr_new(net, &o, &err))) fail_msg("%s", err.msg);
      assert_int_equal(cJSON_GetArraySize(want), 64);
      map_of(a, cb_data_x(d, (size_t)row), t, m);
      for (int i = 0; i < 64; i++) dev = fmax(dev, fabs(m[i] - cJSON_GetArrayItem(want, i)->valuedouble));
      if (dev > 1e-9) fail_msg("%s at %s row %d: max deviation %g from the reference", attr_method_name[o.method], node, row, dev);
      if (q) {   /* one Adam step is far from the 30-step reference */
        a->opt.steps = 1;
        map_of(a, cb_data_x(d, (size_t)row), t, m);
        dev = 0;
        for (int i = 0; i < 64; i++) dev = fmax(dev, fabs(m[i] - cJSON_GetArrayItem(want, i)->valuedouble));
        assert_true(dev > 1e-3);
      }
      attr_free(a);
      cases++;
    }
  }
  assert_int_equal(cases, 16);
  {
    attr_opt o;
    cb_error err = {0};
    attr_opt_init(&o);
    o.method = AM_OPTICAM;
    o.node = "/Relu";
    assert_null(attr_new(net, &o, &err));
    assert_non_null(strstr(err.msg, "is not a CONV node"));
  }
  cJSON_Delete(ref);
  cb_data_free(d);
  cb_net_free(net);
}

static void test_sobol_additive(void **st)
{
  (void)st;
  enum { N = 16, R = 16 };
  cb_net *lin = linear(N);
  double x[N], m[N], sum1[N] = {0}, sum2[N] = {0}, want[N], tot = 0, worst = 0;
  attr_ctx *a = mk(lin, AM_SOBOL);
  const double *W = lin->node[1].p.aff.W;
  int c = 1;
  a->opt.grid = 4;          /* the 4 x 4 image: one cell per pixel */
  a->opt.samples = 256;
  for (int i = 0; i < N; i++) x[i] = rnd(0.5, 1);
  for (int i = 0; i < N; i++) tot += (want[i] = W[c * N + i] * W[c * N + i] * x[i] * x[i]);
  for (int i = 0; i < N; i++) want[i] /= tot;
  for (int r = 0; r < R; r++) {
    a->opt.seed = (uint64_t)r + 1;
    map_of(a, x, c, m);
    for (int i = 0; i < N; i++) { sum1[i] += m[i]; sum2[i] += m[i] * m[i]; }
  }
  for (int i = 0; i < N; i++) {
    double mean = sum1[i] / R, sd = sqrt(fmax(sum2[i] / R - mean * mean, 0) * R / (R - 1)), se = sd / sqrt((double)R);
    assert_true(se > 0);
    if (fabs(mean - want[i]) > 3 * se) fail_msg("feature %d: ST %.6g, analytic %.6g, 3 SE %.3g", i, mean, want[i], 3 * se);
    worst = fmax(worst, 3 * se);
  }
  assert_true(worst < 0.05);   /* the check has teeth: 3 SE is small against the indices */
  print_message("sobol: 16 total indices within 3 SE of the analytic values (largest 3 SE %.3g)\n", worst);
  attr_free(a);
  {   /* LIME with ridge 0 on a linear model: w .* (x - b) */
    double b[N];
    attr_ctx *l = mk(lin, AM_LIME);
    for (int i = 0; i < N; i++) b[i] = rnd(-0.5, 0.5);
    l->opt.baseline_vec = b;
    l->opt.ridge = 0;
    map_of(l, x, c, m);
    for (int i = 0; i < N; i++) {
      double e = W[c * N + i] * (x[i] - b[i]);
      if (fabs(m[i] - e) > 1e-9) fail_msg("lime feature %d: %.17g, expected %.17g", i, m[i], e);
    }
    attr_free(l);
  }
  cb_net_free(lin);
}

static void test_gsa_seeds(void **st)
{
  (void)st;
  cb_net *net = must_load("nets/digits_cnn.onnx");
  size_t n = cb_net_input_size(net);
  cb_data *d = must_csv("nets/digits_test20.csv", n);
  double m1[64], m2[64];
  const attr_method ms[4] = {AM_LIME, AM_LIME, AM_SOBOL, AM_HSIC};
  for (int q = 0; q < 4; q++) {
    attr_ctx *a = mk(net, ms[q]);
    a->opt.grid = 4;
    if (q == 1) a->opt.samples = 40;   /* fewer samples than the 64 cells: LIME's dual (N x N) ridge system */
    map_of(a, cb_data_x(d, 2), 1, m1);
    map_of(a, cb_data_x(d, 2), 1, m2);
    assert_memory_equal(m1, m2, sizeof m1);
    a->opt.seed = 7;
    map_of(a, cb_data_x(d, 2), 1, m2);
    if (!memcmp(m1, m2, sizeof m1)) fail_msg("%s: seed 7 gives the map of seed 1", attr_method_name[ms[q]]);
    for (int i = 0; i < 64; i++) assert_true(isfinite(m1[i]) && (ms[q] == AM_LIME || m1[i] >= -1e-12));
    attr_free(a);
  }
  cb_data_free(d);
  cb_net_free(net);
}

/* Sparseness and complexity closed forms; model randomisation changes every
   gradient method's map (and only the layers it was asked to). */
static void test_sparseness_randomisation(void **st)
{
  (void)st;
  double one[10] = {0}, flat[10], mixed[4] = {1, -1, 2, 0};
  static const attr_method grads[] = {AM_SALIENCY, AM_GRADXINPUT, AM_IG, AM_SMOOTHGRAD, AM_VARGRAD, AM_SQUAREGRAD,
                                      AM_GUIDEDBP, AM_DECONVNET, AM_LRP, AM_DEEPLIFT, AM_GRADCAM, AM_GRADCAMPP};
  cb_net *net = must_load("nets/digits_cnn.onnx"), *rn = must_load("nets/digits_cnn.onnx"), *r1 = must_load("nets/digits_cnn.onnx");
  size_t n = cb_net_input_size(net);
  cb_data *d = must_csv("nets/digits_test20.csv", n);
  int done;
  one[3] = -2.5;
  for (int i = 0; i < 10; i++) flat[i] = i % 2 ? 0.5 : -0.5;
  assert_true(fabs(attr_sparseness(one, 10) - 0.9) < 1e-15 && attr_sparseness(flat, 10) == 0);
  assert_true(attr_complexity(one, 10) == 0 && fabs(attr_complexity(flat, 10) - log(10.0)) < 1e-15);
  /* |m| = 1 1 2 0, sorted 0 1 1 2: (-3*0 - 1*1 + 1*1 + 3*2) / (4 * 4) = 6/16; entropy of 1/4 1/4 1/2 */
  assert_true(fabs(attr_sparseness(mixed, 4) - 6.0 / 16) < 1e-15);
  assert_true(fabs(attr_complexity(mixed, 4) - (2 * 0.25 * log(4.0) + 0.5 * log(2.0))) < 1e-15);
  assert_int_equal(attr_randomise_net(rn, 0, 3, &done), CB_OK);
  assert_int_equal(done, 4);   /* c1, c2, fc1, fc2 */
  assert_int_equal(attr_randomise_net(r1, 1, 3, &done), CB_OK);
  assert_int_equal(done, 1);
  for (int i = 0; i < net->n; i++) {   /* --sanity-layers 1: only the last layer moved; every layer moved otherwise */
    const cb_node *a = &net->node[i], *b = &r1->node[i], *c = &rn->node[i];
    if (a->kind == CB_AFFINE) {
      size_t k = a->p.aff.out * a->p.aff.in * sizeof(double);
      assert_true((memcmp(a->p.aff.W, b->p.aff.W, k) != 0) == (i == net->output));
      assert_true(memcmp(a->p.aff.W, c->p.aff.W, k) != 0);
    }
    if (a->kind == CB_CONV) {
      size_t k = (size_t)a->p.conv.g.cout * (size_t)a->p.conv.g.cin * (size_t)a->p.conv.g.kh * (size_t)a->p.conv.g.kw * sizeof(double);
      assert_true(memcmp(a->p.conv.W, b->p.conv.W, k) == 0 && memcmp(a->p.conv.W, c->p.conv.W, k) != 0);
    }
  }
  for (size_t q = 0; q < sizeof grads / sizeof *grads; q++) {
    attr_ctx *a = mk(net, grads[q]), *ar = mk(rn, grads[q]);
    double m0[64], m1[64];
    for (size_t r = 0; r < 5; r++) {
      const double *x = cb_data_x(d, r);
      int c = cb_data_label(d, r);
      double dd = 0, z = 0;
      map_of(a, x, c, m0);
      map_of(ar, x, c, m1);
      for (int i = 0; i < 64; i++) { dd += (m1[i] - m0[i]) * (m1[i] - m0[i]); z += m0[i] * m0[i]; }
      if (!(dd > 0.01 * z)) fail_msg("%s row %zu: the randomised model's map moved by only %g of the map", attr_method_name[grads[q]], r, sqrt(dd / z));
    }
    attr_free(a);
    attr_free(ar);
  }
  cb_data_free(d);
  cb_net_free(net);
  cb_net_free(rn);
  cb_net_free(r1);
}

/* compare-models: K identical models give MeGe 1 and ReCo 1 for several
   methods; three different nets match the scipy reference of
   tests/data/gen_mege_ref.py (tests/data/mege/ref.json) to 1e-12. */
static void test_compare_models(void **st)
{
  (void)st;
  static const char *methods[] = {"saliency", "gradxinput", "ig", "smoothgrad", "lime", "occlusion"};
  char dir[] = "/tmp/cb_test_mege_XXXXXX", cmd[1024], p[300];
  cJSON *j, *ref;
  if (!mkdtemp(dir)) fail_msg("mkdtemp");
  snprintf(p, sizeof p, "%s/o.json", dir);
  for (size_t q = 0; q < sizeof methods / sizeof *methods; q++) {
    snprintf(cmd, sizeof cmd, "%s compare-models --models nets/digits_cnn.onnx nets/digits_cnn.onnx nets/digits_cnn.onnx "
             "--data nets/digits_test20.csv --splits tests/data/mege/splits20.csv --method %s --quiet --json %s > /dev/null",
             cerbere, methods[q], p);
    if (system(cmd) != 0) fail_msg("%s failed", cmd);
    j = load_json(p);
    if (cJSON_GetObjectItem(j, "mege")->valuedouble != 1 || cJSON_GetObjectItem(j, "reco")->valuedouble != 1 ||
        cJSON_GetObjectItem(j, "n_eq")->valueint != 40 || cJSON_GetObjectItem(j, "n_ne")->valueint != 0)
      fail_msg("%s: identical models give MeGe %g, ReCo %g", methods[q], cJSON_GetObjectItem(j, "mege")->valuedouble,
               cJSON_GetObjectItem(j, "reco")->valuedouble);
    cJSON_Delete(j);
  }
  ref = load_json("tests/data/mege/ref.json");
  snprintf(cmd, sizeof cmd, "%s compare-models --models nets/digits_mlp.onnx nets/digits_tanh.onnx nets/digits_orth.onnx "
           "--data nets/digits_test.csv --splits tests/data/mege/splits3.csv --method saliency --quiet --json %s > /dev/null", cerbere, p);
  if (system(cmd) != 0) fail_msg("%s failed", cmd);
  j = load_json(p);
  for (int q = 0; q < 2; q++) {
    const char *k = q ? "reco" : "mege";
    double got = cJSON_GetObjectItem(j, k)->valuedouble, want = cJSON_GetObjectItem(ref, k)->valuedouble;
    if (fabs(got - want) > 1e-12) fail_msg("%s %.17g, scipy reference %.17g", k, got, want);
  }
  assert_int_equal(cJSON_GetObjectItem(j, "n_eq")->valueint, cJSON_GetObjectItem(ref, "n_eq")->valueint);
  assert_int_equal(cJSON_GetObjectItem(j, "n_ne")->valueint, cJSON_GetObjectItem(ref, "n_ne")->valueint);
  assert_true(cJSON_GetObjectItem(j, "mege")->valuedouble < 0.9 && cJSON_GetObjectItem(j, "n_ne")->valueint > 0);
  cJSON_Delete(j);
  cJSON_Delete(ref);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fail_msg("rm");
}

int main(int argc, char **argv)
{
  const struct CMUnitTest t[] = {
    cmocka_unit_test(test_lrp0_gxi), cmocka_unit_test(test_lrp_linear_and_conservation), cmocka_unit_test(test_deeplift),
    cmocka_unit_test(test_guided_deconv), cmocka_unit_test(test_kernelshap), cmocka_unit_test(test_errors),
    cmocka_unit_test(test_cam_reference), cmocka_unit_test(test_sobol_additive), cmocka_unit_test(test_gsa_seeds),
    cmocka_unit_test(test_compare_models), cmocka_unit_test(test_sparseness_randomisation),
  };
  (void)argc;
  cerbere_bin(argv[0], cerbere, sizeof cerbere);
  return cmocka_run_group_tests(t, NULL, NULL);
}
