/*
** Global Lipschitz analyzer (issue 5): acceptance items 1-4 and the oracles
** of its parts.
**   1. reference nets: layer norms bracket the exact spectral norms
**      (tests/data/lip, from shared/reference), K and radii agree to 1e-6;
**   2. digits_orth has K ~ 1; orthonormalize(digits_mlp) is certified <= 1;
**   3. property: random nets of every kind and the op nets, random and
**      worst-direction pairs: ||f(x) - f(y)|| <= K ||x - y|| in L2, Linf, L1,
**      slack only from the forward pass's own rounding bound;
**   4. a kind without a rule is an error naming the node.
** Oracles: LAPACK dgesvd for dense norms, dense expansion for convs (Gram
** bound, abs sums), <Ax, y> = <x, A^T y> for the adjoint conv.
*/
#include <lapacke.h>
#include <math.h>
#include <unistd.h>
#include "testutil.h"
#include "bjorck.h"
#include "lipschitz.h"
#include "orth.h"

static const char *const ref_nets[] = {"digits_mlp", "digits_cnn", "digits_tanh", "digits_orth"};
static char cerbere[1024];   /* the binary, for the commands' end-to-end checks */

static double urange(uint64_t *s, double lo, double hi) { return lo + (hi - lo) * urand(s); }

static void rand_fill(double *x, size_t n, double scale, uint64_t *s)
{
  for (size_t i = 0; i < n; i++) x[i] = urange(s, -scale, scale);
}

static lip_result *must_analyze(const cb_net *net, cb_norm norm)
{
  lip_opts o;
  lip_result *r = NULL;
  cb_error err = {0};
  lip_opts_init(&o);
  o.norm = norm;
  if (lip_analyze(net, &o, &r, &err) != CB_OK) fail_msg("%s", err.msg);
  return r;
}

/* ------------------------------------------------------------ 1. reference nets */

static const lip_layer *layer_named(const cb_net *net, const lip_result *r, const char *name)
{
  for (int k = 0; k < r->n_layers; k++)
    if (!strcmp(net->node[r->layer[k].node].name, name)) return &r->layer[k];
  fail_msg("no layer %s", name);
  return NULL;
}

static void check_layers(const cb_net *net, const lip_result *r, const cJSON *lip)
{
  const cJSON *l;
  cJSON_ArrayForEach(l, cJSON_GetObjectItem(lip, "layers")) {
    const char *op = cJSON_GetObjectItem(l, "op")->valuestring;
    double ex = cJSON_GetObjectItem(l, "spectral_norm")->valuedouble, tol;
    const lip_layer *L;
    if (!strcmp(op, "Flatten")) continue;
    L = layer_named(net, r, cJSON_GetObjectItem(l, "node")->valuestring);
    tol = !strcmp(op, "Conv") ? 1.01 : 1 + 1e-6;
    printf("  %-14s lower %.15g <= exact %.15g <= upper %.15g  (upper/lower - 1 = %.2e, %s)\n",
           net->node[L->node].name, L->b.lower, ex, L->b.upper, L->b.upper / L->b.lower - 1, L->b.method);
    assert_true(L->b.lower <= ex && ex <= L->b.upper);
    assert_true(L->b.upper <= tol * L->b.lower);
  }
}

/* K agrees to 1e-6 relative, on the upper side (up to the reference's own rounding). */
static void check_K(double me, double ref, const char *what)
{
  printf("  %s %.15g (reference %.15g, rel %.2e)\n", what, me, ref, me / ref - 1);
  assert_true(me >= ref * (1 - 1e-13));
  assert_true(me <= ref * (1 + 1e-6));
}

static void check_samples(const cb_net *net, const lip_result *r, const cJSON *ref)
{
  cb_data *d = must_csv("nets/digits_test20.csv", cb_net_input_size(net));
  const cJSON *s;
  double worst = 0;
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(ref, "samples")) {
    int i = cJSON_GetObjectItem(s, "index")->valueint;
    double rl = cJSON_GetObjectItem(s, "certified_l2_radius_layerwise")->valuedouble;
    double rm = cJSON_GetObjectItem(s, "certified_l2_radius_merged")->valuedouble;
    lip_sample ls;
    cb_error err = {0};
    if (lip_certify(net, r, cb_data_x(d, (size_t)i), cb_data_label(d, (size_t)i), &ls, &err) != CB_OK) fail_msg("%s", err.msg);
    assert_true(fabs(ls.margin - cJSON_GetObjectItem(s, "clean_margin")->valuedouble) <= 1e-5);
    assert_true(ls.margin_lo <= ls.margin);
    assert_true(rl > 0 ? fabs(ls.radius_layerwise / rl - 1) <= 1e-6 : ls.radius_layerwise == 0);
    assert_true(rm > 0 ? fabs(ls.radius_merged / rm - 1) <= 1e-6 : ls.radius_merged == 0);
    assert_true(ls.radius_pairwise >= ls.radius);
    if (rl > 0) worst = fmax(worst, fabs(ls.radius_layerwise / rl - 1));
  }
  printf("  20 samples: certified L2 radii within %.2e of the reference\n", worst);
  cb_data_free(d);
}

static void test_reference_nets(void **st)
{
  (void)st;
  for (size_t k = 0; k < sizeof ref_nets / sizeof ref_nets[0]; k++) {
    char p[256];
    cJSON *ref, *lip;
    cb_net *net;
    lip_result *r;
    snprintf(p, sizeof p, "tests/data/lip/%s.json", ref_nets[k]);
    assert_non_null(ref = load_json(p));
    lip = cJSON_GetObjectItem(ref, "lipschitz");
    snprintf(p, sizeof p, "nets/%s.onnx", ref_nets[k]);
    net = must_load(p);
    r = must_analyze(net, CB_NORM_2);
    printf("%s\n", ref_nets[k]);
    check_layers(net, r, lip);
    check_K(r->K_layerwise, cJSON_GetObjectItem(lip, "K_layerwise")->valuedouble, "K_layerwise");
    check_K(r->K_merged, cJSON_GetObjectItem(lip, "K_merged")->valuedouble, "K_merged");
    check_samples(net, r, ref);
    lip_result_free(r);
    cb_net_free(net);
    cJSON_Delete(ref);
  }
}

/* ------------------------------------------------------------ 2. orthogonal nets */

static void test_orth_net(void **st)
{
  cb_net *net = must_load("nets/digits_orth.onnx");
  lip_result *r = must_analyze(net, CB_NORM_2);
  (void)st;
  printf("digits_orth: K_layerwise - 1 = %.3e, K_merged - 1 = %.3e\n", r->K_layerwise - 1, r->K_merged - 1);
  assert_true(fabs(r->K_layerwise - 1) <= 1e-6 && fabs(r->K_merged - 1) <= 1e-6);
  lip_result_free(r);
  cb_net_free(net);
}

static double accuracy_of(const cb_net *net, const char *csv)
{
  cb_data *d = must_csv(csv, cb_net_input_size(net));
  double *y = forward_rows(net, d);
  size_t ok = 0, no = cb_net_output_size(net);
  double a;
  for (size_t i = 0; i < cb_data_rows(d); i++) ok += cb_argmax(y + i * no, no) == (size_t)cb_data_label(d, i);
  a = (double)ok / (double)cb_data_rows(d);
  free(y);
  cb_data_free(d);
  return a;
}

/* `cerbere orthonormalize` (run as a process): the file it writes is
   certified <= 1 and its JSON gives that K and the measured accuracy. */
static void test_orthonormalize_mlp(void **st)
{
  char out[] = "/tmp/cb_lip_orth_XXXXXX", js[64];
  int fd = mkstemp(out);
  cb_net *net;
  lip_result *r;
  cJSON *j;
  double acc;
  (void)st;
  assert_true(fd >= 0);
  close(fd);
  snprintf(js, sizeof js, "%s.json", out);
  assert_int_equal(cerbere_run(cerbere, "orthonormalize nets/digits_mlp.onnx -o %s --data nets/digits_test.csv --json %s", out, js), 0);
  net = must_load(out);
  r = must_analyze(net, CB_NORM_2);
  acc = accuracy_of(net, "nets/digits_test.csv");
  assert_non_null(j = load_json(js));
  printf("orthonormalized digits_mlp: guaranteed K = %.15g, accuracy %.4f (reported %.4f)\n",
         fmin(r->K_layerwise, r->K_merged), acc, cJSON_GetObjectItem(j, "accuracy_after")->valuedouble);
  assert_true(r->K_layerwise <= 1 + 1e-9);
  for (int k = 0; k < r->n_layers; k++) assert_true(r->layer[k].b.upper <= 1.0 && r->layer[k].b.lower > 0.999);
  assert_true(cJSON_GetObjectItem(j, "accuracy_after")->valuedouble == acc);
  assert_true(cJSON_GetObjectItem(j, "K_after")->valuedouble == fmin(r->K_layerwise, r->K_merged));
  cJSON_Delete(j);
  lip_result_free(r);
  cb_net_free(net);
  remove(out);
  remove(js);
}

/* The library's orthonormalisation (lip/orth.h) on the dense and the conv
   net: every weighted layer is rewritten, the written file reloads with every
   layer certified <= 1, and lip_orth_check carries those bounds. */
static void test_orth_library(void **st)
{
  static const char *const nets[] = {"nets/digits_mlp.onnx", "nets/digits_cnn.onnx"};
  (void)st;
  for (int k = 0; k < 2; k++) {
    char out[] = "/tmp/cb_lip_orthlib_XXXXXX";
    int fd = mkstemp(out);
    cb_net *net = must_load(nets[k]), *net2;
    lip_result *before = must_analyze(net, CB_NORM_2), *after;
    lip_bjorck_opts bo;
    lip_orth *o = NULL;
    cb_error err = {0};
    assert_true(fd >= 0);
    close(fd);
    lip_bjorck_opts_init(&bo);
    if (lip_orthonormalize(net, before, &bo, &o, &err) != CB_OK) fail_msg("%s", err.msg);
    assert_int_equal(o->n_layers, before->n_layers);
    if (onnx_write_patched(nets[k], out, o->patch, o->n_patch, &err) != CB_OK) fail_msg("%s", err.msg);
    net2 = must_load(out);
    after = must_analyze(net2, CB_NORM_2);
    if (lip_orth_check(o, net, net2, after, &err) != CB_OK) fail_msg("%s", err.msg);
    for (int j = 0; j < o->n_layers; j++) {
      const lip_orth_layer *L = &o->layer[j];
      const cb_node *n = &net->node[L->node];
      assert_int_equal(L->done, n->kind != CB_SCALE && n->w_init != NULL);
      if (L->done) assert_true(L->after_up <= 1.0 && L->after_up == after->layer[j].b.upper && L->shrink > 0 && L->shrink <= 1);
    }
    printf("%s: %d of %d layers orthonormalised, K after %.15g\n", nets[k], o->n_patch, o->n_layers,
           fmin(after->K_layerwise, after->K_merged));
    assert_true(fmin(after->K_layerwise, after->K_merged) <= 1 + 1e-9);
    lip_orth_free(o);
    lip_result_free(before); lip_result_free(after);
    cb_net_free(net); cb_net_free(net2);
    remove(out);
  }
  lip_orth_free(NULL);
}

/* A Gemm with alpha != 1 cannot be rewritten by replacing its initializer:
   onnx_write_patched refuses the library's patches, and the command exits 3
   leaving no file. */
static void test_orthonormalize_refuses_alpha(void **st)
{
  char out[] = "/tmp/cb_lip_alpha_XXXXXX";
  int fd = mkstemp(out);
  cb_net *net = must_load("tests/data/ops/gemm_variants.onnx");
  lip_result *before = must_analyze(net, CB_NORM_2);
  lip_bjorck_opts bo;
  lip_orth *o = NULL;
  cb_error err = {0};
  (void)st;
  assert_true(fd >= 0);
  close(fd);
  remove(out);
  lip_bjorck_opts_init(&bo);
  if (lip_orthonormalize(net, before, &bo, &o, &err) != CB_OK) fail_msg("%s", err.msg);
  assert_int_equal(onnx_write_patched("tests/data/ops/gemm_variants.onnx", out, o->patch, o->n_patch, &err), CB_EUNSUP);
  assert_true(access(out, F_OK) != 0);
  assert_int_equal(cerbere_run(cerbere, "orthonormalize tests/data/ops/gemm_variants.onnx -o %s 2> /dev/null", out), 3);
  assert_true(access(out, F_OK) != 0);  /* no partial output */
  lip_orth_free(o);
  lip_result_free(before);
  cb_net_free(net);
}

/* ------------------------------------------------------------ random nets */

static int tadd(cb_net *net, cb_kind k, const int *in, int n_in, int rank, const int64_t *dims)
{
  cb_shape s;
  cb_error err = {0};
  char name[32];
  int idx;
  snprintf(name, sizeof name, "n%d_%s", net->n, cb_kind_info[k].name);
  shape_set(&s, rank, dims);
  idx = net_add(net, k, name, "test", in, n_in, &s, &err);
  if (idx < 0) fail_msg("%s", err.msg);
  return idx;
}

static int t_affine(cb_net *net, int in, size_t out, uint64_t *s)
{
  int64_t d[2] = {1, (int64_t)out};
  int i = tadd(net, CB_AFFINE, &in, 1, 2, d);
  cb_node *n = &net->node[i];
  n->p.aff.out = out;
  n->p.aff.in = net->node[in].size;
  n->p.aff.W = net_doubles(net, out * n->p.aff.in);
  n->p.aff.b = net_doubles(net, out);
  rand_fill(n->p.aff.W, out * n->p.aff.in, 1.0, s);
  rand_fill(n->p.aff.b, out, 0.5, s);
  return i;
}

static int t_conv(cb_net *net, int in, int64_t cout, int64_t k, int64_t st, int64_t pad, int64_t dil, int64_t grp, uint64_t *s)
{
  const cb_node *x = &net->node[in];
  cb_conv g = {.cin = x->shape.dim[1], .hin = x->shape.dim[2], .win = x->shape.dim[3], .cout = cout,
               .kh = k, .kw = k, .sh = st, .sw = st, .pt = pad, .pl = pad, .pb = pad, .pr = pad,
               .dh = dil, .dw = dil, .groups = grp};
  int64_t d[4];
  int i;
  cb_node *n;
  assert_true(conv_out_dim(g.hin, k, st, pad, pad, dil, &g.hout) && conv_out_dim(g.win, k, st, pad, pad, dil, &g.wout));
  d[0] = 1; d[1] = cout; d[2] = g.hout; d[3] = g.wout;
  i = tadd(net, CB_CONV, &in, 1, 4, d);
  n = &net->node[i];
  n->p.conv.g = g;
  n->p.conv.W = net_doubles(net, (size_t)(cout * g.cin / grp * k * k));
  n->p.conv.b = net_doubles(net, (size_t)cout);
  rand_fill(n->p.conv.W, (size_t)(cout * g.cin / grp * k * k), 0.7, s);
  rand_fill(n->p.conv.b, (size_t)cout, 0.3, s);
  return i;
}

/* 1 if activation a has a global Lipschitz constant (Exp has none: skipped here). */
static int has_global_lip(cb_act a)
{
  cb_node probe;
  memset(&probe, 0, sizeof probe);
  probe.kind = CB_ACT;
  probe.p.act.type = a;
  return !isinf(cb_act_table[a].lip(&probe));
}

static int t_act(cb_net *net, int in, int which, uint64_t *s)
{
  cb_act a = (cb_act)(which % CB_ACT_COUNT);
  cb_error err = {0};
  char name[32];
  int i;
  while (!has_global_lip(a)) a = (cb_act)((a + 1) % CB_ACT_COUNT);
  snprintf(name, sizeof name, "n%d_%s", net->n, cb_act_table[a].name);
  if ((i = net_add_act(net, a, name, "test", in, &err)) < 0) fail_msg("%s", err.msg);
  if (a == CB_ACT_LEAKY_RELU) net->node[i].p.act.alpha = urange(s, -1.5, 1.5);
  if (a == CB_ACT_ELU) net->node[i].p.act.alpha = urange(s, 0, 1.5);
  if (a == CB_ACT_CLIP) { net->node[i].p.act.lo = -0.5; net->node[i].p.act.hi = urange(s, 0, 2); }
  return i;
}

static int t_scale(cb_net *net, int in, uint64_t *s)
{
  int i = tadd(net, CB_SCALE, &in, 1, net->node[in].shape.rank, net->node[in].shape.dim);
  cb_node *n = &net->node[i];
  n->p.scale.a = net_doubles(net, n->size);
  n->p.scale.b = net_doubles(net, n->size);
  rand_fill(n->p.scale.a, n->size, 2.0, s);
  rand_fill(n->p.scale.b, n->size, 1.0, s);
  if (urand(s) < 0.5) { n->exact = 0; n->rel_err = 1e-3; }  /* exercise the widening */
  return i;
}

static int t_maxpool(cb_net *net, int in, int64_t k, int64_t st, int64_t pad)
{
  const cb_node *x = &net->node[in];
  cb_conv g = {.cin = x->shape.dim[1], .hin = x->shape.dim[2], .win = x->shape.dim[3], .cout = x->shape.dim[1],
               .kh = k, .kw = k, .sh = st, .sw = st, .pt = pad, .pl = pad, .pb = pad, .pr = pad, .dh = 1, .dw = 1, .groups = 1};
  int64_t d[4];
  int i;
  assert_true(conv_out_dim(g.hin, k, st, pad, pad, 1, &g.hout) && conv_out_dim(g.win, k, st, pad, pad, 1, &g.wout));
  d[0] = 1; d[1] = g.cin; d[2] = g.hout; d[3] = g.wout;
  i = tadd(net, CB_MAXPOOL, &in, 1, 4, d);
  net->node[i].p.pool.g = g;
  return i;
}

static int t_sort(cb_net *net, int in, int64_t g, int desc)
{
  int i = tadd(net, CB_SORT, &in, 1, net->node[in].shape.rank, net->node[in].shape.dim);
  net->node[i].p.sort.g = g; net->node[i].p.sort.inner = 1; net->node[i].p.sort.desc = desc;
  return i;
}

static int t_flat(cb_net *net, int in)
{
  int64_t d[2] = {1, (int64_t)net->node[in].size};
  return tadd(net, CB_RESHAPE, &in, 1, 2, d);
}

static int t_transpose(cb_net *net, int in)
{
  const cb_node *x = &net->node[in];
  int64_t d[4] = {1, x->shape.dim[2], x->shape.dim[3], x->shape.dim[1]};
  int i = tadd(net, CB_TRANSPOSE, &in, 1, 4, d);
  int perm[4] = {0, 2, 3, 1};
  memcpy(net->node[i].p.transpose.perm, perm, sizeof perm);
  return i;
}

static int t_two(cb_net *net, cb_kind k, int a, int b)
{
  int in[2] = {a, b};
  int64_t d[2] = {1, (int64_t)(net->node[a].size + net->node[b].size)};
  if (k == CB_ADD) return tadd(net, CB_ADD, in, 2, net->node[a].shape.rank, net->node[a].shape.dim);
  {
    int i = tadd(net, CB_CONCAT, in, 2, 2, d);
    net->node[i].p.concat.axis = 1;
    return i;
  }
}

static cb_net *t_input(int rank, const int64_t *d)
{
  cb_net *net = net_new("random", "test");
  assert_non_null(net);
  tadd(net, CB_INPUT, NULL, 0, rank, d);
  return net;
}

static void t_finish(cb_net *net, int out)
{
  cb_error err = {0};
  net->output = out;
  if (net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
}

/* Dense chain: SCALE, AFFINE, act, AFFINE-AFFINE (a merged block), act, SORT, AFFINE. */
static cb_net *rand_dense(uint64_t *s)
{
  static const int64_t d[2] = {1, 8};
  cb_net *net = t_input(2, d);
  int i = t_scale(net, 0, s);
  i = t_affine(net, i, 10, s);
  i = t_act(net, i, (int)(urand(s) * CB_ACT_COUNT), s);
  i = t_affine(net, i, 6, s);
  i = t_affine(net, i, 7, s);
  i = t_act(net, i, (int)(urand(s) * CB_ACT_COUNT), s);
  i = t_sort(net, i, 7, urand(s) < 0.5);   /* FullSort */
  i = t_affine(net, i, 3, s);
  t_finish(net, i);
  return net;
}

/* Conv DAG with every other kind: residual ADD, MAXPOOL, TRANSPOSE, CONCAT. */
static cb_net *rand_conv(uint64_t *s)
{
  static const int64_t d[4] = {1, 2, 6, 6};
  cb_net *net = t_input(4, d);
  int64_t dil = urand(s) < 0.5 ? 1 : 2, grp = urand(s) < 0.5 ? 1 : (urand(s) < 0.5 ? 2 : 4);
  int c1 = t_conv(net, 0, 4, 3, 1, 1, 1, urand(s) < 0.5 ? 1 : 2, s);
  int a1 = t_act(net, c1, (int)(urand(s) * CB_ACT_COUNT), s);
  int c2 = t_conv(net, a1, 4, 3, 1, dil, dil, grp, s);
  int sc = t_scale(net, c2, s);
  int ad = t_two(net, CB_ADD, sc, a1);
  int mp = t_maxpool(net, ad, urand(s) < 0.5 ? 2 : 3, urand(s) < 0.5 ? 1 : 2, 0);
  int c3 = t_conv(net, mp, 3, 2, 2, 1, 1, 1, s);
  int tr = t_scale(net, t_transpose(net, c3), s);  /* c3 -> TRANSPOSE -> SCALE: a merged block */
  int cat = t_two(net, CB_CONCAT, t_flat(net, tr), t_flat(net, mp));
  int a2 = t_act(net, cat, (int)(urand(s) * CB_ACT_COUNT), s);
  int f1 = t_affine(net, a2, 5, s);
  t_finish(net, t_affine(net, f1, 4, s));
  return net;
}

/* One weighted layer: the bound is tight there, so the pair test is sharp. */
static cb_net *rand_single(uint64_t *s, int conv)
{
  static const int64_t dd[2] = {1, 12}, dc[4] = {1, 3, 5, 5};
  cb_net *net = t_input(conv ? 4 : 2, conv ? dc : dd);
  t_finish(net, conv ? t_conv(net, 0, 4, 3, 1 + (urand(s) < 0.5), 1, 1, 1, s) : t_affine(net, 0, 9, s));
  return net;
}

/* ------------------------------------------------------------ 3. property test */

static double pnorm(const double *v, size_t n, cb_norm p)
{
  double s = 0;
  for (size_t i = 0; i < n; i++) {
    if (p == CB_NORM_INF) s = fmax(s, fabs(v[i]));
    else if (p == CB_NORM_1) s += fabs(v[i]);
    else s += v[i] * v[i];
  }
  return p == CB_NORM_2 ? sqrt(s) : s;
}

/* Worst direction of a one-layer net in norm p: top singular vector (L2),
   sign of the largest row (Linf), largest column's coordinate (L1). */
static void sharp_dir(const cb_net *net, cb_norm p, double *v, uint64_t *s)
{
  const cb_node *n = &net->node[net->output];
  lip_op op;
  size_t in = net->node[0].size;
  if (n->kind == CB_AFFINE) lip_power_op_dense(&op, n->p.aff.W, n->p.aff.out, n->p.aff.in);
  else lip_power_op_conv(&op, &n->p.conv.g, n->p.conv.W);
  if (p == CB_NORM_2) {
    lip_power_opts po;
    lip_power_res pr;
    cb_error err = {0};
    lip_power_opts_init(&po);
    assert_int_equal(lip_power(&op, 0, &po, &pr, v, &err), CB_OK);
    return;
  }
  {
    double *x = calloc(op.rows > in ? op.rows : in, sizeof *x), *y = calloc(op.rows > in ? op.rows : in, sizeof *y);
    size_t best = 0;
    for (size_t i = 0; i < in; i++) v[i] = 0;
    if (p == CB_NORM_1) {  /* column with the largest |A| sum: apply A to each basis vector */
      double bs = -1;
      for (size_t j = 0; j < in; j++) {
        memset(x, 0, in * sizeof *x); x[j] = 1;
        assert_int_equal(lip_power_apply(&op, 0, x, 1, y), CB_OK);
        if (pnorm(y, op.rows, CB_NORM_1) > bs) { bs = pnorm(y, op.rows, CB_NORM_1); best = j; }
      }
      v[best] = 1;
    } else {  /* row with the largest |A| sum: sign of A^T e_i */
      double bs = -1;
      for (size_t i = 0; i < op.rows; i++) {
        memset(y, 0, op.rows * sizeof *y); y[i] = 1;
        assert_int_equal(lip_power_apply(&op, 1, y, 1, x), CB_OK);
        if (pnorm(x, in, CB_NORM_1) > bs) { bs = pnorm(x, in, CB_NORM_1); best = i; }
      }
      memset(y, 0, op.rows * sizeof *y); y[best] = 1;
      assert_int_equal(lip_power_apply(&op, 1, y, 1, x), CB_OK);
      for (size_t i = 0; i < in; i++) v[i] = x[i] > 0 ? 1 : x[i] < 0 ? -1 : 0;
    }
    free(x); free(y);
  }
  (void)s;
}

typedef struct pstats { long pairs, blocks, tighter; double worst; } pstats;

/* npairs pairs (x, x + t d): d random, one-hot, signs, or the sharp direction. */
static void check_pairs(const cb_net *net, cb_norm p, int npairs, int sharp, uint64_t *s, pstats *ps)
{
  size_t in = net->node[0].size, no = net->node[net->output].size;
  double *x = calloc(in, sizeof *x), *y = calloc(in, sizeof *y), *d = calloc(in, sizeof *d), *sd = calloc(in, sizeof *sd);
  double *fx = calloc(no, sizeof *fx), *fy = calloc(no, sizeof *fy), K, dx, dy, root = p == CB_NORM_2 ? sqrt((double)no) : p == CB_NORM_1 ? (double)no : 1;
  lip_result *r = must_analyze(net, p);
  cb_error err = {0};
  K = fmin(r->K_layerwise, r->K_merged);
  ps->blocks += r->n_blocks;
  ps->tighter += r->K_merged < r->K_layerwise;
  if (sharp) sharp_dir(net, p, sd, s);
  for (int t = 0; t < npairs; t++) {
    double eps = pow(10, -3 * urand(s)), lhs, rhs, slack;
    int kind = sharp ? 3 : t % 3;
    rand_fill(x, in, 1.0, s);
    for (size_t i = 0; i < in; i++) d[i] = kind == 0 ? urange(s, -1, 1) : kind == 2 ? (urand(s) < 0.5 ? -1 : 1) : kind == 3 ? sd[i] : 0;
    if (kind == 1) d[(size_t)(urand(s) * (double)in) % in] = 1;
    for (size_t i = 0; i < in; i++) { y[i] = x[i] + eps * d[i]; d[i] = x[i] - y[i]; }
    if (lip_forward_error(net, r, x, fx, &dx, &err) != CB_OK || lip_forward_error(net, r, y, fy, &dy, &err) != CB_OK) fail_msg("%s", err.msg);
    for (size_t i = 0; i < no; i++) fx[i] -= fy[i];
    lhs = pnorm(fx, no, p) * (1 - 2e-15 * (double)(no + 4));
    slack = (dx + dy) * root * (1 + 1e-15);
    rhs = K * pnorm(d, in, p) * (1 + 2e-15 * (double)(in + 4)) + slack;
    if (!(lhs <= rhs)) fail_msg("||f(x)-f(y)|| = %.17g > K ||x-y|| = %.17g (K %.17g, norm %s)", lhs, rhs, K, cb_norm_table[p].name);
    ps->worst = fmax(ps->worst, lhs / (K * pnorm(d, in, p)));
    ps->pairs++;
  }
  lip_result_free(r);
  free(x); free(y); free(d); free(sd); free(fx); free(fy);
}

static void test_property_random(void **st)
{
  static const cb_norm norms[] = {CB_NORM_2, CB_NORM_INF, CB_NORM_1};
  uint64_t s = 20261122;
  int seen[CB_KIND_COUNT] = {0};
  (void)st;
  for (int ni = 0; ni < 3; ni++) {
    pstats dag = {0, 0, 0, 0}, one = {0, 0, 0, 0};
    for (int rep = 0; rep < 12; rep++) {
      cb_net *nets[4] = {rand_dense(&s), rand_conv(&s), rand_single(&s, 0), rand_single(&s, 1)};
      for (int k = 0; k < 4; k++) {
        for (int i = 0; i < nets[k]->n; i++) seen[nets[k]->node[i].kind] = 1;
        check_pairs(nets[k], norms[ni], k < 2 ? 150 : 60, 0, &s, k < 2 ? &dag : &one);
        if (k >= 2) check_pairs(nets[k], norms[ni], 20, 1, &s, &one);
        cb_net_free(nets[k]);
      }
    }
    printf("L%s: %ld pairs on random DAG nets (max ratio %.3g; %ld merged blocks, K_merged < K_layerwise on %ld "
           "analyses), %ld on one-layer nets (max ratio %.6f), 0 violations\n", cb_norm_table[norms[ni]].name, dag.pairs,
           dag.worst, dag.blocks, dag.tighter, one.pairs, one.worst);
    assert_true(dag.blocks > 0 && dag.tighter > 0);
    assert_true(one.worst > (norms[ni] == CB_NORM_2 ? 0.999 : 0.99));  /* the sharp pairs reach K */
  }
  {   /* MUL has no global constant: a net with one is refused by name, not given a K */
    int64_t d[2] = {1, 3};
    int in2[2] = {0, 0};
    cb_net *net = net_new("mul", "test");
    lip_opts o;
    lip_result *r = NULL;
    cb_error err = {0};
    tadd(net, CB_INPUT, NULL, 0, 2, d);
    tadd(net, CB_MUL, in2, 2, 2, d);
    net->output = 1;
    lip_opts_init(&o);
    assert_int_equal(lip_analyze(net, &o, &r, &err), CB_EUNSUP);
    assert_non_null(strstr(err.msg, "kind MUL"));
    lip_result_free(r);
    seen[CB_MUL] = 1;
    cb_net_free(net);
  }
  for (int k = 0; k < CB_KIND_COUNT; k++) if (!seen[k]) fail_msg("kind %s not covered", cb_kind_info[k].name);
}

static void test_property_opnets(void **st)
{
  static const char *const names[] = {"activations", "avgpool_nopad", "batchnorm", "conv_basic", "conv_dilation_groups",
    "gemm_variants", "matmul_add", "pad_conv", "pad_zero_avgpool", "pools", "reshape_transpose", "residual_concat",
    "squeeze_unsqueeze_identity_dropout", "sub_div_mul", "sub_div_mul_nchw", "ir3_init_as_input"};
  uint64_t s = 7;
  long pairs = 0;
  (void)st;
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    char p[256];
    cb_net *net;
    snprintf(p, sizeof p, "tests/data/ops/%s.onnx", names[k]);
    net = must_load(p);
    for (int ni = 0; ni < 3; ni++) {
      pstats ps = {0, 0, 0, 0};
      check_pairs(net, (cb_norm)ni, 90, 0, &s, &ps);
      pairs += ps.pairs;
    }
    cb_net_free(net);
  }
  printf("op nets: %ld pairs in 3 norms, 0 violations\n", pairs);
}

/* ------------------------------------------------------------ 4. no rule */

static void test_no_rule(void **st)
{
  static const int64_t d[2] = {1, 3};
  cb_error err = {0};
  lip_result *r = NULL;
  lip_opts o;
  cb_net *net = t_input(2, d);
  int in = 0, i;
  (void)st;
  lip_opts_init(&o);
  {
    cb_shape sh;
    shape_set(&sh, 2, d);
    i = net_add(net, CB_KIND_COUNT, "mystery_node", "Mystery", &in, 1, &sh, &err);
  }
  net->output = i;
  assert_int_equal(lip_analyze(net, &o, &r, &err), CB_EUNSUP);
  assert_null(r);
  printf("%s\n", err.msg);
  assert_non_null(strstr(err.msg, "mystery_node"));
  assert_non_null(strstr(err.msg, "no Lipschitz rule"));
  net->node[i].kind = CB_INPUT;  /* an INPUT that is not node 0 has no rule either */
  cb_error_clear(&err);
  assert_int_equal(lip_analyze(net, &o, &r, &err), CB_EUNSUP);
  assert_non_null(strstr(err.msg, "mystery_node"));
  cb_net_free(net);
}

/* The commands' exit codes (the binary, run as a process). */
static void test_cli_errors(void **st)
{
  (void)st;
  assert_int_equal(cerbere_run(cerbere, "lipschitz nets/nope.onnx 2> /dev/null"), 3);
  assert_int_equal(cerbere_run(cerbere, "lipschitz nets/digits_mlp.onnx --norm 3 2> /dev/null"), 2);
  assert_int_equal(cerbere_run(cerbere, "orthonormalize nets/digits_mlp.onnx 2> /dev/null"), 2);  /* missing -o */
}

/* ------------------------------------------------------------ oracles */

/* Largest singular value by LAPACK dgesvd (the oracle). */
static double svd_max(const double *A, size_t m, size_t n)
{
  double *c = malloc(m * n * sizeof *c), *sv = malloc((m < n ? m : n) * sizeof *sv), *sup = malloc((m < n ? m : n) * sizeof *sup), r;
  memcpy(c, A, m * n * sizeof *c);
  assert_int_equal(LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', (lapack_int)m, (lapack_int)n, c, (lapack_int)n, sv, NULL, 1, NULL, 1, sup), 0);
  r = sv[0];
  free(c); free(sv); free(sup);
  return r;
}

static void test_dense_bound_vs_svd(void **st)
{
  static const size_t shapes[][2] = {{1, 1}, {1, 7}, {7, 1}, {30, 30}, {50, 20}, {20, 50}, {64, 64}, {200, 30}};
  uint64_t s = 3;
  (void)st;
  for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
    for (int variant = 0; variant < 3; variant++) {
      size_t m = shapes[k][0], n = shapes[k][1];
      double *A = calloc(m * n, sizeof *A), ub, ex;
      lip_op op;
      lip_spec_opts so;
      lip_bound b;
      cb_error err = {0};
      if (variant == 0) rand_fill(A, m * n, 1.0, &s);
      if (variant == 1) for (size_t i = 0; i < m * n; i++) A[i] = (double)(i % m + 1) * (double)(i / m % n + 1) * 1e-3;  /* rank 1 */
      lip_power_op_dense(&op, A, m, n);
      lip_spec_opts_init(&so);
      assert_int_equal(lip_spec_gram_upper(&op, &ub, NULL, &err), CB_OK);
      assert_int_equal(lip_spec_bound(&op, &so, &b, &err), CB_OK);
      ex = svd_max(A, m, n);
      assert_true(b.lower <= ex && ex <= ub && ex <= b.upper);
      if (variant == 2 && !(ub < 1e-80)) fail_msg("zero %zux%zu: upper %g", m, n, ub);  /* underflow terms only */
      if (variant == 2) { free(A); continue; }
      else if (!(ub <= ex * (1 + 1e-10))) fail_msg("%zux%zu variant %d: upper %.17g svd %.17g", m, n, variant, ub, ex);
      free(A);
    }
}

/* Dense matrix of an operator, column by column (exact: one nonzero per dot product). */
static double *dense_of(const lip_op *op)
{
  double *A = calloc(op->rows * op->cols, sizeof *A), *e = calloc(op->cols, sizeof *e), *y = calloc(op->rows, sizeof *y);
  for (size_t j = 0; j < op->cols; j++) {
    memset(e, 0, op->cols * sizeof *e);
    e[j] = 1;
    assert_int_equal(lip_power_apply(op, 0, e, 1, y), CB_OK);
    for (size_t i = 0; i < op->rows; i++) A[i * op->cols + j] = y[i];
  }
  free(e); free(y);
  return A;
}

static void rand_geom(cb_conv *g, uint64_t *s)
{
  static const int64_t grps[] = {1, 1, 2, 3};
  memset(g, 0, sizeof *g);
  g->groups = grps[(int)(urand(s) * 4)];
  g->cin = g->groups * (1 + (int64_t)(urand(s) * 3));
  g->cout = g->groups * (1 + (int64_t)(urand(s) * 3));
  g->hin = 3 + (int64_t)(urand(s) * 6); g->win = 3 + (int64_t)(urand(s) * 6);
  g->kh = 1 + (int64_t)(urand(s) * 3); g->kw = 1 + (int64_t)(urand(s) * 3);
  g->sh = 1 + (int64_t)(urand(s) * 2); g->sw = 1 + (int64_t)(urand(s) * 3);
  g->dh = 1 + (int64_t)(urand(s) * 2); g->dw = 1;
  g->pt = (int64_t)(urand(s) * 3); g->pb = (int64_t)(urand(s) * 2); g->pl = (int64_t)(urand(s) * 2); g->pr = (int64_t)(urand(s) * 3);
}

static int geom_fits(cb_conv *g)
{
  return conv_out_dim(g->hin, g->kh, g->sh, g->pt, g->pb, g->dh, &g->hout) &&
         conv_out_dim(g->win, g->kw, g->sw, g->pl, g->pr, g->dw, &g->wout);
}

/* Adjoint, abs sums, Gram and circulant bounds of random convs against their dense matrices. */
static void test_conv_oracles(void **st)
{
  uint64_t s = 11;
  int done = 0;
  double worst_circ = 1;
  (void)st;
  while (done < 60) {
    cb_conv g;
    double *W, *A, *x, *y, *ax, *aty, dot1 = 0, dot2 = 0, n1, ninf, ub, ubd, uc;
    lip_op op, dop;
    cb_error err = {0};
    size_t nw;
    rand_geom(&g, &s);
    if (!geom_fits(&g)) continue;
    nw = (size_t)(g.cout * (g.cin / g.groups) * g.kh * g.kw);
    W = malloc(nw * sizeof *W);
    rand_fill(W, nw, 1.0, &s);
    lip_power_op_conv(&op, &g, W);
    A = dense_of(&op);
    lip_power_op_dense(&dop, A, op.rows, op.cols);
    x = calloc(op.cols, sizeof *x); aty = calloc(op.cols, sizeof *aty);
    y = calloc(op.rows, sizeof *y); ax = calloc(op.rows, sizeof *ax);
    rand_fill(x, op.cols, 1, &s); rand_fill(y, op.rows, 1, &s);
    assert_int_equal(lip_power_apply(&op, 0, x, 1, ax), CB_OK);
    assert_int_equal(lip_power_apply(&op, 1, y, 1, aty), CB_OK);
    for (size_t i = 0; i < op.rows; i++) dot1 += ax[i] * y[i];
    for (size_t i = 0; i < op.cols; i++) dot2 += x[i] * aty[i];
    assert_true(fabs(dot1 - dot2) <= 1e-12 * (1 + fabs(dot1)));
    assert_int_equal(lip_spec_abs_norms(&op, &n1, &ninf, NULL, NULL, &err), CB_OK);
    {
      double d1, dinf;
      assert_int_equal(lip_spec_abs_norms(&dop, &d1, &dinf, NULL, NULL, &err), CB_OK);
      assert_true(fabs(n1 - d1) <= 1e-11 * d1 && fabs(ninf - dinf) <= 1e-11 * dinf);
    }
    assert_int_equal(lip_spec_gram_upper(&op, &ub, NULL, &err), CB_OK);
    assert_int_equal(lip_spec_gram_upper(&dop, &ubd, NULL, &err), CB_OK);
    assert_int_equal(lip_spec_conv_circulant_upper(&g, W, &uc, &err), CB_OK);
    assert_true(fabs(ub - ubd) <= 1e-11 * ubd);
    assert_true(svd_max(A, op.rows, op.cols) <= ub && svd_max(A, op.rows, op.cols) <= uc);
    worst_circ = fmax(worst_circ, uc / ub);
    free(W); free(A); free(x); free(y); free(ax); free(aty);
    done++;
  }
  printf("60 random convs (groups, strides, dilations, asymmetric pads): adjoint, |A| sums, Gram bound "
         "match the dense matrix; circulant bound >= exact, worst ratio %.3f\n", worst_circ);
}

/* Norm of the dense product of a linear net: columns f(e_j) - f(0), biases cancel. */
static double linear_net_norm(const cb_net *net, cb_norm p)
{
  size_t in = net->node[0].size, no = net->node[net->output].size;
  double *X = calloc((in + 1) * in, sizeof *X), *Y = calloc((in + 1) * no, sizeof *Y), *A = calloc(no * in, sizeof *A), r = 0;
  cb_error err = {0};
  for (size_t j = 0; j < in; j++) X[(j + 1) * in + j] = 1;
  if (cb_net_forward(net, X, in + 1, Y, &err) != CB_OK) fail_msg("%s", err.msg);
  for (size_t j = 0; j < in; j++)
    for (size_t i = 0; i < no; i++) A[i * in + j] = Y[(j + 1) * no + i] - Y[i];
  if (p == CB_NORM_2) r = svd_max(A, no, in);
  for (size_t i = 0; p == CB_NORM_INF && i < no; i++) r = fmax(r, pnorm(A + i * in, in, CB_NORM_1));
  for (size_t j = 0; p == CB_NORM_1 && j < in; j++) {
    double c = 0;
    for (size_t i = 0; i < no; i++) c += fabs(A[i * in + j]);
    r = fmax(r, c);
  }
  free(X); free(Y); free(A);
  return r;
}

/* Merged blocks against the dense product: exact <= K_merged <= exact (1 + 1e-9). */
static void test_merged_oracle(void **st)
{
  static const int64_t dd[2] = {1, 8}, dc[4] = {1, 2, 5, 5};
  uint64_t s = 17;
  (void)st;
  for (int rep = 0; rep < 6; rep++) {
    cb_net *a = t_input(2, dd), *b = t_input(4, dc);
    t_finish(a, t_affine(a, t_scale(a, t_affine(a, 0, 10, &s), &s), 6, &s));
    t_finish(b, t_affine(b, t_flat(b, t_scale(b, t_transpose(b, t_conv(b, 0, 3, 3, 1, 1, 1, 1, &s)), &s)), 4, &s));
    for (int i = 0; i < a->n; i++) a->node[i].exact = 1;  /* the oracle knows only the stored weights */
    for (int i = 0; i < b->n; i++) b->node[i].exact = 1;
    for (int ni = 0; ni < 3; ni++) {
      cb_net *nets[2] = {a, b};
      for (int k = 0; k < 2; k++) {
        lip_result *r = must_analyze(nets[k], (cb_norm)ni);
        double ex = linear_net_norm(nets[k], (cb_norm)ni);
        assert_int_equal(r->n_blocks, 1);
        if (!(ex * (1 - 1e-12) <= r->K_merged && r->K_merged <= ex * (1 + 1e-9) && r->K_merged <= r->K_layerwise))
          fail_msg("net %d norm %s: exact %.17g merged %.17g layerwise %.17g", k, cb_norm_table[(cb_norm)ni].name, ex, r->K_merged, r->K_layerwise);
        lip_result_free(r);
      }
    }
    cb_net_free(a);
    cb_net_free(b);
  }
}

static void test_bjorck(void **st)
{
  static const size_t shapes[][2] = {{12, 12}, {20, 7}, {7, 20}};
  uint64_t s = 5;
  (void)st;
  for (int order = 1; order <= 5; order++)
    for (size_t k = 0; k < 3; k++) {
      size_t m = shapes[k][0], n = shapes[k][1];
      double *W = malloc(m * n * sizeof *W);
      lip_bjorck_opts o;
      lip_bjorck_res r;
      cb_error err = {0};
      rand_fill(W, m * n, 3.0, &s);
      lip_bjorck_opts_init(&o);
      o.order = order;
      assert_int_equal(lip_bjorck(W, m, n, &o, &r, &err), CB_OK);
      assert_true(r.residual <= 1e-12 && r.iters < o.iters);
      assert_true(fabs(svd_max(W, m, n) - 1) <= 1e-12);
      free(W);
    }
  {
    lip_bjorck_opts o;
    lip_bjorck_res r;
    cb_error err = {0};
    double W[4] = {1, 2, 3, 4};
    lip_bjorck_opts_init(&o);
    o.order = 6;
    assert_int_equal(lip_bjorck(W, 2, 2, &o, &r, &err), CB_EUSAGE);
  }
}

/* Failing-allocator sweep over the whole analysis of a conv net. */
static void test_oom(void **st)
{
  cb_net *net = must_load("nets/digits_cnn.onnx");
  int n;
  (void)st;
  for (n = 0; n < 100000; n++) {
    lip_opts o;
    lip_result *r = NULL;
    cb_error err = {0};
    int rc;
    lip_opts_init(&o);
    cb_alloc_fail_after(n);
    rc = lip_analyze(net, &o, &r, &err);
    cb_alloc_fail_after(-1);
    if (rc == CB_OK) { lip_result_free(r); break; }
    if (rc != CB_ENOMEM) fail_msg("allocation %d: status %d: %s", n, rc, err.msg);
    assert_true(err.msg[0] != 0);
    assert_null(r);
  }
  printf("lip_analyze(digits_cnn): %d allocation failure points, all reported as out of memory\n", n);
  cb_net_free(net);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reference_nets),
    cmocka_unit_test(test_orth_net),
    cmocka_unit_test(test_orthonormalize_mlp),
    cmocka_unit_test(test_orthonormalize_refuses_alpha),
    cmocka_unit_test(test_orth_library),
    cmocka_unit_test(test_property_random),
    cmocka_unit_test(test_property_opnets),
    cmocka_unit_test(test_no_rule),
    cmocka_unit_test(test_cli_errors),
    cmocka_unit_test(test_dense_bound_vs_svd),
    cmocka_unit_test(test_conv_oracles),
    cmocka_unit_test(test_merged_oracle),
    cmocka_unit_test(test_bjorck),
    cmocka_unit_test(test_oom),
  };
  (void)argc;
  cerbere_bin(argv[0], cerbere, sizeof cerbere);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
