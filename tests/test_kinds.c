/*
** Every node kind, and every activation of the activation table, through
** every analyzer, on a net made of the input and that one node:
**   forward, IBP, CROWN, CROWN-IBP, alpha-CROWN, forward-linear bounds,
**   exact gradient, interval Jacobian, global Lipschitz constant.
** Each must return a result or a named CB_EUNSUP, never crash or return
** another error; each result is checked by sampling with zero tolerance
** (bounds contain the sampled outputs, the interval Jacobian contains the
** sampled gradients, the Lipschitz constant bounds sampled difference
** quotients, gradients match central differences).  A new kind or a new
** activation row is walked here with no change to this file.
*/
#include <float.h>
#include <math.h>
#include "testutil.h"
#include "bounds.h"
#include "forward.h"
#include "fwdlin.h"
#include "grad.h"
#include "jacobian.h"
#include "lipschitz.h"

static uint64_t seed = 4242;
static double rnd(double a, double b) { return a + (b - a) * urand(&seed); }

static int add(cb_net *net, cb_kind k, const int *in, int n_in, int rank, const int64_t *dims)
{
  cb_shape s;
  cb_error err = {0};
  int i;
  shape_set(&s, rank, dims);
  i = net_add(net, k, cb_kind_info[k].name, "test", in, n_in, &s, &err);
  if (i < 0) fail_msg("%s", err.msg);
  net->output = i;
  return i;
}

static double *rvec(cb_net *net, size_t n, double a, double b)
{
  double *v = net_doubles(net, n);
  for (size_t i = 0; i < n; i++) v[i] = rnd(a, b);
  return v;
}

static cb_net *input(int rank, const int64_t *dims)
{
  cb_net *net = net_new("kinds", "test");
  add(net, CB_INPUT, NULL, 0, rank, dims);
  return net;
}

/* Parameters that keep each activation inside what its relaxation supports
   (Pow: a different exponent per repetition). */
static void act_params(cb_node *n, int rep)
{
  static const double pw[5] = {2, 0.5, -1, 3, -2};
  n->p.act.alpha = n->p.act.type == CB_ACT_ELU ? 0.8 : n->p.act.type == CB_ACT_SELU ? 1.6732632 :
                   n->p.act.type == CB_ACT_POW ? pw[rep % 5] : 0.15;
  n->p.act.gamma = 1.0507010;   /* SELU */
  n->p.act.lo = -0.3;
  n->p.act.hi = 0.6;
}

/* The net for kind k (k == CB_ACT: activation a, behind an Exp when its
   domain is not all of R: Log, Sqrt, Reciprocal). */
static cb_net *one_node(cb_kind k, cb_act a, int rep)
{
  static const int64_t v4[2] = {1, 4}, v3[2] = {1, 3}, v8[2] = {1, 8}, m22[3] = {1, 2, 2};
  static const int64_t t23[3] = {1, 2, 3}, t32[3] = {1, 3, 2}, img[4] = {1, 2, 4, 4}, img1[4] = {1, 1, 4, 4};
  cb_net *net;
  cb_error err = {0};
  int i, in2[2] = {0, 0};
  switch (k) {
  case CB_INPUT: net = input(2, v4); net->output = 0; return net;
  case CB_AFFINE:
    net = input(2, v4);
    i = add(net, CB_AFFINE, in2, 1, 2, v3);
    net->node[i].p.aff.out = 3; net->node[i].p.aff.in = 4;
    net->node[i].p.aff.W = rvec(net, 12, -1, 1); net->node[i].p.aff.b = rvec(net, 3, -0.5, 0.5);
    return net;
  case CB_SCALE:
    net = input(2, v4);
    i = add(net, CB_SCALE, in2, 1, 2, v4);
    net->node[i].p.scale.a = rvec(net, 4, -2, 2); net->node[i].p.scale.b = rvec(net, 4, -0.5, 0.5);
    return net;
  case CB_CONV: {
    cb_conv g = {.cin = 2, .hin = 4, .win = 4, .cout = 3, .hout = 4, .wout = 4, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                 .pt = 1, .pl = 1, .pb = 1, .pr = 1, .dh = 1, .dw = 1, .groups = 1};
    int64_t o[4] = {1, 3, 4, 4};
    net = input(4, img);
    i = add(net, CB_CONV, in2, 1, 4, o);
    net->node[i].p.conv.g = g;
    net->node[i].p.conv.W = rvec(net, 54, -0.5, 0.5); net->node[i].p.conv.b = rvec(net, 3, -0.2, 0.2);
    return net;
  }
  case CB_ADD: net = input(2, v4); add(net, CB_ADD, in2, 2, 2, v4); return net;
  case CB_CONCAT:
    net = input(2, v4);
    i = add(net, CB_CONCAT, in2, 2, 2, v8);
    net->node[i].p.concat.axis = 1;
    return net;
  case CB_RESHAPE: net = input(2, v4); add(net, CB_RESHAPE, in2, 1, 3, m22); return net;
  case CB_TRANSPOSE:
    net = input(3, t23);
    i = add(net, CB_TRANSPOSE, in2, 1, 3, t32);
    net->node[i].p.transpose.perm[0] = 0; net->node[i].p.transpose.perm[1] = 2; net->node[i].p.transpose.perm[2] = 1;
    return net;
  case CB_ACT: {
    cb_node t = {.kind = CB_ACT};
    int from = 0;
    t.p.act.type = a;
    act_params(&t, rep);
    net = input(2, v4);
    if (cb_act_table[a].domain && !cb_act_table[a].domain(&t, -2, 2)) from = net_add_act(net, CB_ACT_EXP, "exp", "test", 0, &err);
    i = net_add_act(net, a, cb_act_table[a].name, "test", from, &err);
    if (i < 0 || from < 0) fail_msg("%s", err.msg);
    net->output = i;
    act_params(&net->node[i], rep);
    return net;
  }
  case CB_MAXPOOL: {
    cb_conv g = {.cin = 1, .hin = 4, .win = 4, .cout = 1, .hout = 2, .wout = 2, .kh = 2, .kw = 2, .sh = 2, .sw = 2,
                 .dh = 1, .dw = 1, .groups = 1};
    int64_t o[4] = {1, 1, 2, 2};
    net = input(4, img1);
    i = add(net, CB_MAXPOOL, in2, 1, 4, o);
    net->node[i].p.pool.g = g;
    return net;
  }
  case CB_SORT: {   /* groups of 3 at stride 2 (middle ranks, strided members), largest first */
    static const int64_t v6[2] = {1, 6};
    net = input(2, v6);
    i = add(net, CB_SORT, in2, 1, 2, v6);
    net->node[i].p.sort.g = 3; net->node[i].p.sort.inner = 2; net->node[i].p.sort.desc = 1;
    return net;
  }
  case CB_MUL: {   /* x .* (W x + b): two correlated operands of both signs */
    int in[2] = {0, 0};
    net = input(2, v4);
    i = add(net, CB_AFFINE, in2, 1, 2, v4);
    net->node[i].p.aff.out = 4; net->node[i].p.aff.in = 4;
    net->node[i].p.aff.W = rvec(net, 16, -1, 1); net->node[i].p.aff.b = rvec(net, 4, -0.5, 0.5);
    in[1] = i;
    add(net, CB_MUL, in, 2, 2, v4);
    return net;
  }
  case CB_KIND_COUNT: break;
  }
  fail_msg("no net for kind %d", (int)k);
  return NULL;
}

typedef struct ctx {
  const cb_net *net;
  const char *name;
  size_t nx, ny;
  double c[64], eps;
  double *I;                    /* ny x ny identity */
} ctx;

/* A point of the ball (L-inf, eps) around c: corners half the time. */
static void sample(const ctx *C, double *x)
{
  int corner = urand(&seed) < 0.5;
  for (size_t j = 0; j < C->nx; j++)
    x[j] = corner ? C->c[j] + (urand(&seed) < 0.5 ? -C->eps : C->eps) : C->c[j] + rnd(-C->eps, C->eps);
}

static int n_unsup;   /* named refusals so far (test_loaded_resize wants none) */

static int unsup_ok(int rc, const cb_error *err, const char *what, const ctx *C)
{
  if (rc == CB_OK) return 1;
  if (rc == CB_EUNSUP) {
    n_unsup++; print_message("    %-10s %-10s unsupported: %s\n", C->name, what, err->msg); return 0; }
  fail_msg("%s %s: status %d: %s", C->name, what, rc, err->msg);
  return 0;
}

/* Output bounds lb <= f <= ub on 600 sampled points, tolerance 0. */
static void check_box(const ctx *C, const double *lb, const double *ub, const char *what)
{
  double x[64], y[64];
  cb_error err = {0};
  for (int t = 0; t < 600; t++) {
    sample(C, x);
    assert_int_equal(cb_net_forward(C->net, x, 1, y, &err), CB_OK);
    for (size_t j = 0; j < C->ny; j++)
      if (!(y[j] >= lb[j] && y[j] <= ub[j])) fail_msg("%s %s: output %zu = %.17g outside [%.17g, %.17g]", C->name, what, j, y[j], lb[j], ub[j]);
  }
}

static void check_bounds(const ctx *C, cb_ws *ws)
{
  static const cb_method ms[3] = {CB_IBP, CB_CROWN, CB_CROWN_IBP};
  static const char *const names[3] = {"ibp", "crown", "crown-ibp"};
  double lb[64], ub[64];
  cb_error err = {0};
  for (int m = 0; m < 3; m++) {
    int rc = bounds_run(ws, ms[m], &err);
    if (rc == CB_OK) rc = bounds_spec(ws, C->I, C->ny, lb, ub, &err);
    if (unsup_ok(rc, &err, names[m], C)) check_box(C, lb, ub, names[m]);
  }
  int rc = bounds_run(ws, CB_CROWN, &err);
  if (rc == CB_OK) rc = alpha_spec(ws, C->I, C->ny, NULL, lb, ub, &err);
  if (unsup_ok(rc, &err, "alpha", C)) check_box(C, lb, ub, "alpha");
}

/* Forward-linear bounds on the box: L(x) <= f(x) <= U(x) at the samples. */
static void check_fwdlin(const ctx *C, const cb_bnet *bn)
{
  double lo[64], hi[64], x[64], y[64];
  cb_error err = {0};
  cb_set box = {CB_NORM_BOX, 0, C->nx, NULL, lo, hi};
  cb_ws *ws;
  double *L, *U;
  if (!fwdlin_supported(C->net)) { print_message("    %-10s %-10s not applicable\n", C->name, "fwdlin"); return; }
  for (size_t j = 0; j < C->nx; j++) { lo[j] = C->c[j] - C->eps; hi[j] = C->c[j] + C->eps; }
  ws = ws_new(bn, &box, &err);
  assert_non_null(ws);
  L = malloc(C->ny * (C->nx + 1) * sizeof *L); U = malloc(C->ny * (C->nx + 1) * sizeof *U);
  if (unsup_ok(fwdlin_run(ws, L, U, &err), &err, "fwdlin", C))
    for (int t = 0; t < 600; t++) {
      sample(C, x);
      assert_int_equal(cb_net_forward(C->net, x, 1, y, &err), CB_OK);
      for (size_t j = 0; j < C->ny; j++) {
        double l = L[j * (C->nx + 1) + C->nx], u = U[j * (C->nx + 1) + C->nx];
        for (size_t k = 0; k < C->nx; k++) { l += L[j * (C->nx + 1) + k] * x[k]; u += U[j * (C->nx + 1) + k] * x[k]; }
        /* evaluating the forms here rounds: allow 1e-12 relative (not the analyzer's slack) */
        if (!(y[j] >= l - 1e-12 * (1 + fabs(l)) && y[j] <= u + 1e-12 * (1 + fabs(u))))
          fail_msg("%s fwdlin: output %zu = %.17g outside [%.17g, %.17g]", C->name, j, y[j], l, u);
      }
    }
  free(L); free(U);
  ws_free(ws);
}

/* Gradients against central differences, and inside the interval Jacobian. */
static void check_jacobians(const ctx *C, cb_ws *ws)
{
  size_t q = C->ny, n = C->nx;
  double *G = malloc(q * n * sizeof *G), *lo = malloc(q * n * sizeof *lo), *hi = malloc(q * n * sizeof *hi);
  double x[64], xp[64], yp[64], ym[64];
  cb_error err = {0};
  cb_grad *g = grad_new(C->net, q, &err);
  int have_ij;
  if (!g) { unsup_ok(err.status, &err, "gradient", C); goto out; }
  have_ij = bounds_run(ws, CB_CROWN, &err) == CB_OK && unsup_ok(jac_interval(ws, C->I, q, lo, hi, &err), &err, "ijac", C);
  for (int t = 0; t < 200; t++) {
    for (size_t j = 0; j < n; j++) x[j] = C->c[j] + rnd(-C->eps, C->eps);
    if (!unsup_ok(grad_eval(g, x, C->I, q, G, NULL, &err), &err, "gradient", C)) break;
    for (size_t k = 0; k < n; k++) {
      double h = 1e-6;
      memcpy(xp, x, n * sizeof *x);
      xp[k] = x[k] + h; assert_int_equal(cb_net_forward(C->net, xp, 1, yp, &err), CB_OK);
      xp[k] = x[k] - h; assert_int_equal(cb_net_forward(C->net, xp, 1, ym, &err), CB_OK);
      for (size_t r = 0; r < q; r++) {
        double fd = (yp[r] - ym[r]) / (2 * h), gr = G[r * n + k];
        if (fabs(fd - gr) > 1e-4 * (1 + fabs(gr)) && fabs(fd - gr) < 0.5 * fabs(gr) + 1e-3)   /* a kink between x +- h is no error */
          fail_msg("%s gradient: d%zu/dx%zu = %.10g, differences %.10g", C->name, r, k, gr, fd);
        if (have_ij && !(gr >= lo[r * n + k] && gr <= hi[r * n + k]))
          fail_msg("%s ijac: d%zu/dx%zu = %.17g outside [%.17g, %.17g]", C->name, r, k, gr, lo[r * n + k], hi[r * n + k]);
      }
    }
  }
out:
  grad_free(g);
  free(G); free(lo); free(hi);
}

/* ||f(x) - f(y)||_2 <= K ||x - y||_2 on sampled pairs (allowance: the double
   forward pass's own rounding, 1e-13 of the output size). */
static void check_lipschitz(const ctx *C)
{
  lip_opts o;
  lip_result *r = NULL;
  cb_error err = {0};
  double x[64], y[64], fx[64], fy[64];
  lip_opts_init(&o);
  if (!unsup_ok(lip_analyze(C->net, &o, &r, &err), &err, "lipschitz", C)) return;
  for (int t = 0; t < 400; t++) {
    double dx = 0, df = 0, mag = 0;
    sample(C, x); sample(C, y);
    assert_int_equal(cb_net_forward(C->net, x, 1, fx, &err), CB_OK);
    assert_int_equal(cb_net_forward(C->net, y, 1, fy, &err), CB_OK);
    for (size_t j = 0; j < C->nx; j++) dx += (x[j] - y[j]) * (x[j] - y[j]);
    for (size_t j = 0; j < C->ny; j++) { df += (fx[j] - fy[j]) * (fx[j] - fy[j]); mag += fabs(fx[j]) + fabs(fy[j]); }
    if (sqrt(df) > r->K_layerwise * sqrt(dx) + 1e-13 * mag || sqrt(df) > r->K_merged * sqrt(dx) + 1e-13 * mag)
      fail_msg("%s lipschitz: |df| %.17g > K %.17g |dx| %.17g", C->name, sqrt(df), r->K_layerwise, sqrt(dx));
  }
  lip_result_free(r);
}

static void walk(cb_net *net, const char *name)
{
  ctx C = {net, name, net->node[0].size, net->node[net->output].size, {0}, 0.4, NULL};
  cb_error err = {0};
  cb_bnet bn = {0};
  cb_ws *ws;
  cb_set ball;
  double y[64];
  assert_true(C.nx <= 64 && C.ny <= 64);
  if (net_check(net, &err) != CB_OK) fail_msg("%s: %s", name, err.msg);
  for (size_t j = 0; j < C.nx; j++) C.c[j] = rnd(-1, 1);
  C.I = calloc(C.ny * C.ny, sizeof *C.I);
  for (size_t j = 0; j < C.ny; j++) C.I[j * C.ny + j] = 1;
  assert_int_equal(cb_net_forward(net, C.c, 1, y, &err), CB_OK);                      /* forward */
  for (size_t j = 0; j < C.ny; j++) assert_true(isfinite(y[j]));
  ball = (cb_set){CB_NORM_INF, C.eps, C.nx, C.c, NULL, NULL};
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  ws = ws_new(&bn, &ball, &err);
  if (!ws) fail_msg("%s: ws_new: %s", name, err.msg);
  check_bounds(&C, ws);
  check_fwdlin(&C, &bn);
  check_jacobians(&C, ws);
  check_lipschitz(&C);
  ws_free(ws);
  bnet_free(&bn);
  free(C.I);
}

static void test_every_kind(void **st)
{
  (void)st;
  for (int k = 0; k < CB_KIND_COUNT; k++) {
    if (k == CB_ACT) continue;
    for (int rep = 0; rep < 3; rep++) {
      cb_net *net = one_node((cb_kind)k, CB_ACT_RELU, rep);
      walk(net, cb_kind_info[k].name);
      cb_net_free(net);
    }
  }
}

static void test_every_activation(void **st)
{
  (void)st;
  for (int a = 0; a < CB_ACT_COUNT; a++) {
    const cb_act_info *t = &cb_act_table[a];
    assert_non_null(t->name); assert_non_null(t->f); assert_non_null(t->df);
    assert_non_null(t->drange); assert_non_null(t->lip); assert_non_null(t->monotone);
    for (int rep = 0; rep < 5; rep++) {
      cb_net *net = one_node(CB_ACT, (cb_act)a, rep);
      walk(net, t->name);
      cb_net_free(net);
    }
  }
}

/* Issue 19: a Resize in linear mode as loaded from torch's export (an
   AFFINE with the bilinear weights, tests/data/gen_resize.py), alone, through
   every analyzer: bounds, forward-linear, gradient, interval Jacobian and
   the Lipschitz constant, all sampled at zero tolerance (forward-linear
   bounds need exact parameters: resize_hp's weights are eighths, exact;
   resize_ac's ninths are rounded, so it runs there only). */
static void loaded_resize(const char *path, const char *name)
{
  cb_net *net = must_load(path);
  const cb_node *r = &net->node[net->output];
  lip_opts o;
  lip_result *lr = NULL;
  cb_error err = {0};
  double c1 = 0, ci = 0;
  assert_true(r->kind == CB_AFFINE && !strcmp(r->op, "Resize"));
  assert_int_equal(r->exact, !strcmp(name, "resize_hp"));
  n_unsup = 0;
  walk(net, name);
  if (n_unsup) fail_msg("%s: %d analyzers refused a linear Resize", name, n_unsup);
  /* its L2 constant is at most sqrt(||W||_1 ||W||_inf) (weights >= 0) */
  for (size_t i = 0; i < r->p.aff.in; i++) {
    double s = 0;
    for (size_t k = 0; k < r->p.aff.out; k++) s += r->p.aff.W[k * r->p.aff.in + i];
    c1 = fmax(c1, s);
  }
  for (size_t k = 0; k < r->p.aff.out; k++) {
    double s = 0;
    for (size_t i = 0; i < r->p.aff.in; i++) s += r->p.aff.W[k * r->p.aff.in + i];
    ci = fmax(ci, s);
  }
  lip_opts_init(&o);
  assert_int_equal(lip_analyze(net, &o, &lr, &err), CB_OK);
  printf("  %s: K %.10g, sqrt(||W||_1 ||W||_inf) %.10g\n", name, lr->K_layerwise, sqrt(c1 * ci));
  assert_true(lr->K_layerwise <= sqrt(c1 * ci) * (1 + 1e-9));
  lip_result_free(lr);
  cb_net_free(net);
}

static void test_loaded_resize(void **st)
{
  (void)st;
  loaded_resize("tests/data/resize/resize_ac_only.onnx", "resize_ac");
  loaded_resize("tests/data/resize/resize_hp_only.onnx", "resize_hp");
}

/* The table is complete: every kind has a name and an input count. */
static void test_tables(void **st)
{
  (void)st;
  for (int k = 0; k < CB_KIND_COUNT; k++) {
    assert_non_null(cb_kind_info[k].name);
    assert_true(cb_kind_info[k].n_in >= -1 && cb_kind_info[k].n_in <= 2);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_tables),
    cmocka_unit_test(test_every_kind),
    cmocka_unit_test(test_every_activation),
    cmocka_unit_test(test_loaded_resize),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
