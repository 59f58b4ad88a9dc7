/*
** Adversarial floating-point soundness: hand-built networks on which plain
** double arithmetic gives a wrong answer, with the truth decided exactly in
** GMP rationals (every double is a rational, so the certified object, the
** real-arithmetic network of the stored doubles, is evaluated exactly).
**
** Families (every case runs IBP, CROWN and CROWN-IBP through bounds/bounds.h):
**   cancellation  rows like [K, -1, -K] with K ~ 1e16: the exact sum is 1 or
**                 0 while double sums give 0 or 1; also through a ReLU layer;
**   zero margin   the specification is exactly 0 at the centre (eps = 0 and
**                 eps > 0): "verified" (lb > 0) must never be claimed;
**   eps boundary  random linear nets (L-inf, L2, L1) and 1-D ReLU nets, eps
**                 the smallest double at which the exact minimum is <= 0
**                 (found by an exact predicate), and just below it.
** Checks, with zero tolerance:
**   every lower bound lb satisfies lb <= exact minimum (compared in
**   rationals; for L2 through squares), so "verified" (lb > 0) is never said
**   where an exact counterexample exists;
**   the same cases bounded naively (interval arithmetic in plain double, no
**   outward rounding: what cerbere would compute without its gamma_n terms)
**   give at least one lb > exact minimum, and at least one wrong "verified":
**   the rounding terms are needed, not decoration;
**   cerbere verifies some of the cases that are comfortably true (eps at 90%
**   and 50% of the boundary), so the soundness checks are not vacuous.
** Exact minimum: linear nets: f(x0) - eps ||grad||_dual with the gradient
** read off exact evaluations; 1-D piecewise-linear nets: the minimum over the
** interval's endpoints and every breakpoint, found layer by layer (each
** pre-activation is linear between the breakpoints found so far).
*/
#include <float.h>
#include <gmp.h>
#include <math.h>
#include "testutil.h"
#include "bounds.h"

static uint64_t seed = 20261122;
static double rnd(double a, double b) { return a + (b - a) * urand(&seed); }

/* ------------------------------------------------------------ building nets */

static cb_net *net_start(size_t n)
{
  cb_net *net = net_new("adversarial", "test");
  int64_t d[2] = {1, (int64_t)n};
  cb_shape s;
  cb_error err = {0};
  shape_set(&s, 2, d);
  assert_true(net_add(net, CB_INPUT, "x", "Input", NULL, 0, &s, &err) == 0);
  return net;
}

/* Appends y = W x + b (W given row-major, out x in). */
static void net_dense(cb_net *net, size_t out, const double *W, const double *b)
{
  int in = net->n - 1;
  size_t n = net->node[in].size;
  int64_t d[2] = {1, (int64_t)out};
  cb_shape s;
  cb_error err = {0};
  int i;
  shape_set(&s, 2, d);
  i = net_add(net, CB_AFFINE, "fc", "Gemm", &in, 1, &s, &err);
  assert_true(i > 0);
  net->node[i].exact = 1;
  net->node[i].p.aff.out = out; net->node[i].p.aff.in = n;
  net->node[i].p.aff.W = net_doubles(net, out * n);
  net->node[i].p.aff.b = net_doubles(net, out);
  memcpy(net->node[i].p.aff.W, W, out * n * sizeof *W);
  memcpy(net->node[i].p.aff.b, b, out * sizeof *b);
}

static void net_relu(cb_net *net)
{
  int in = net->n - 1;
  cb_error err = {0};
  int i = net_add_act(net, CB_ACT_RELU, "relu", "Relu", in, &err);
  assert_true(i > 0);
  net->node[i].exact = 1;
}

static void net_finish(cb_net *net)
{
  cb_error err = {0};
  net->output = net->n - 1;
  if (net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
}

/* ------------------------------------------------------------ exact arithmetic */

/* Exact forward pass at a rational point: val[i] holds node i's values. */
typedef struct exact_fw { const cb_net *net; mpq_t **val; } exact_fw;

static void efw_init(exact_fw *e, const cb_net *net)
{
  e->net = net;
  e->val = calloc((size_t)net->n, sizeof *e->val);
  for (int i = 0; i < net->n; i++) {
    e->val[i] = malloc(net->node[i].size * sizeof(mpq_t));
    for (size_t k = 0; k < net->node[i].size; k++) mpq_init(e->val[i][k]);
  }
}

static void efw_clear(exact_fw *e)
{
  for (int i = 0; i < e->net->n; i++) {
    for (size_t k = 0; k < e->net->node[i].size; k++) mpq_clear(e->val[i][k]);
    free(e->val[i]);
  }
  free(e->val);
}

static void efw_run(exact_fw *e, mpq_t *x)
{
  mpq_t t;
  mpq_init(t);
  for (size_t k = 0; k < e->net->node[0].size; k++) mpq_set(e->val[0][k], x[k]);
  for (int i = 1; i < e->net->n; i++) {
    const cb_node *nd = &e->net->node[i];
    mpq_t *in = e->val[nd->in[0]], *y = e->val[i];
    if (nd->kind == CB_AFFINE)
      for (size_t o = 0; o < nd->p.aff.out; o++) {
        mpq_set_d(y[o], nd->p.aff.b[o]);
        for (size_t j = 0; j < nd->p.aff.in; j++) {
          mpq_set_d(t, nd->p.aff.W[o * nd->p.aff.in + j]);
          mpq_mul(t, t, in[j]);
          mpq_add(y[o], y[o], t);
        }
      }
    else if (node_is_act(nd, CB_ACT_RELU))
      for (size_t k = 0; k < nd->size; k++) { if (mpq_sgn(in[k]) > 0) mpq_set(y[k], in[k]); else mpq_set_ui(y[k], 0, 1); }
    else fail_msg("exact forward: node kind %d not handled", nd->kind);
  }
  mpq_clear(t);
}

/* c . output, exactly. */
static void efw_spec(exact_fw *e, const double *c, mpq_t out)
{
  const cb_node *o = &e->net->node[e->net->output];
  mpq_t t;
  mpq_init(t);
  mpq_set_ui(out, 0, 1);
  for (size_t k = 0; k < o->size; k++) {
    mpq_set_d(t, c[k]);
    mpq_mul(t, t, e->val[e->net->output][k]);
    mpq_add(out, out, t);
  }
  mpq_clear(t);
}

/* Value of c . f at the point x (rational). */
static void exact_at(exact_fw *e, mpq_t *x, const double *c, mpq_t out)
{
  efw_run(e, x);
  efw_spec(e, c, out);
}

/* ------------------------------------------------------------ exact truth */

/* Linear net: m = c.f(x0), g = gradient of c.f (exact). */
static void linear_parts(const cb_net *net, const double *x0, const double *c, mpq_t m, mpq_t *g)
{
  size_t n = net->node[0].size;
  mpq_t *x = malloc(n * sizeof *x), v;
  exact_fw e;
  efw_init(&e, net);
  mpq_init(v);
  for (size_t j = 0; j < n; j++) { mpq_init(x[j]); mpq_set_d(x[j], x0[j]); }
  exact_at(&e, x, c, m);
  for (size_t j = 0; j < n; j++) {
    mpq_set_d(x[j], x0[j] + 0.0);
    mpq_set_ui(v, 1, 1);
    mpq_add(x[j], x[j], v);
    exact_at(&e, x, c, g[j]);
    mpq_sub(g[j], g[j], m);
    mpq_set_d(x[j], x0[j]);
  }
  for (size_t j = 0; j < n; j++) mpq_clear(x[j]);
  mpq_clear(v);
  free(x);
  efw_clear(&e);
}

/* Is lb <= min over the ball of the affine function m + g.(x - x0)?  The
   minimum is m - eps ||g||_dual (dual of inf: 1; of 2: 2; of 1: inf). */
static int linear_lb_sound(const mpq_t m, mpq_t *g, size_t n, cb_norm norm, double eps, double lb)
{
  mpq_t d, s, t, e;
  int ok;
  mpq_inits(d, s, t, e, NULL);
  mpq_set_d(d, lb);
  mpq_sub(d, m, d);                 /* need d = m - lb >= eps ||g|| */
  mpq_set_d(e, eps);
  mpq_set_ui(s, 0, 1);
  for (size_t j = 0; j < n; j++) {
    mpq_abs(t, g[j]);
    if (norm == CB_NORM_INF) mpq_add(s, s, t);
    else if (norm == CB_NORM_2) { mpq_mul(t, t, t); mpq_add(s, s, t); }
    else if (mpq_cmp(t, s) > 0) mpq_set(s, t);
  }
  if (norm == CB_NORM_2) {          /* d >= eps sqrt(s)  <=>  d >= 0 and d^2 >= eps^2 s */
    mpq_mul(e, e, e);
    mpq_mul(s, s, e);
    mpq_mul(t, d, d);
    ok = mpq_sgn(d) >= 0 && mpq_cmp(t, s) >= 0;
  } else {
    mpq_mul(s, s, e);
    ok = mpq_cmp(d, s) >= 0;
  }
  mpq_clears(d, s, t, e, NULL);
  return ok;
}

/* Is the exact minimum > 0 (the property truly holds)?  lb = 0 in the test
   above is "0 <= min"; strictness needs min > 0, i.e. not (min <= 0). */
static int linear_true(const mpq_t m, mpq_t *g, size_t n, cb_norm norm, double eps)
{
  /* min > 0  <=>  not (min <= 0)  <=>  m - eps||g|| > 0 */
  mpq_t d, s, t, e;
  int pos;
  mpq_inits(d, s, t, e, NULL);
  mpq_set(d, m);
  mpq_set_d(e, eps);
  mpq_set_ui(s, 0, 1);
  for (size_t j = 0; j < n; j++) {
    mpq_abs(t, g[j]);
    if (norm == CB_NORM_INF) mpq_add(s, s, t);
    else if (norm == CB_NORM_2) { mpq_mul(t, t, t); mpq_add(s, s, t); }
    else if (mpq_cmp(t, s) > 0) mpq_set(s, t);
  }
  if (norm == CB_NORM_2) {
    mpq_mul(e, e, e); mpq_mul(s, s, e); mpq_mul(t, d, d);
    pos = mpq_sgn(d) > 0 && mpq_cmp(t, s) > 0;
  } else {
    mpq_mul(s, s, e);
    pos = mpq_cmp(d, s) > 0;
  }
  mpq_clears(d, s, t, e, NULL);
  return pos;
}

/* 1-D input: exact minimum of c.f over [x0 - eps, x0 + eps] (piecewise linear). */
static void pwl_min(const cb_net *net, const double *c, double x0, double eps, mpq_t out)
{
  size_t cap = 4096, nb = 2;
  mpq_t *bp = malloc(cap * sizeof *bp), za, zb, t, v;
  exact_fw ea, eb;
  efw_init(&ea, net);
  efw_init(&eb, net);
  mpq_inits(za, zb, t, v, NULL);
  for (size_t k = 0; k < cap; k++) mpq_init(bp[k]);
  mpq_set_d(t, eps);
  mpq_set_d(bp[0], x0);
  mpq_sub(bp[0], bp[0], t);
  mpq_set_d(bp[1], x0);
  mpq_add(bp[1], bp[1], t);
  for (int i = 1; i < net->n; i++) {
    if (net->node[i].kind != CB_AFFINE) continue;
    for (size_t k = 0; k + 1 < nb; k++) {       /* node i is linear on [bp[k], bp[k+1]] */
      efw_run(&ea, &bp[k]);
      efw_run(&eb, &bp[k + 1]);
      for (size_t u = 0; u < net->node[i].size; u++) {
        mpq_set(za, ea.val[i][u]);
        mpq_set(zb, eb.val[i][u]);
        if (mpq_sgn(za) * mpq_sgn(zb) >= 0) continue;
        /* crossing at a + (b - a) za / (za - zb), strictly inside */
        mpq_sub(t, za, zb);
        mpq_div(t, za, t);
        mpq_sub(v, bp[k + 1], bp[k]);
        mpq_mul(t, t, v);
        mpq_add(t, t, bp[k]);
        assert_true(nb < cap);
        for (size_t q = nb; q > k + 1; q--) mpq_swap(bp[q], bp[q - 1]);
        mpq_set(bp[k + 1], t);
        nb++;
        efw_run(&eb, &bp[k + 1]);               /* the segment is now [bp[k], t] */
      }
    }
  }
  for (size_t k = 0; k < nb; k++) {
    exact_at(&ea, &bp[k], c, v);
    if (k == 0 || mpq_cmp(v, out) < 0) mpq_set(out, v);
  }
  for (size_t k = 0; k < cap; k++) mpq_clear(bp[k]);
  free(bp);
  mpq_clears(za, zb, t, v, NULL);
  efw_clear(&ea);
  efw_clear(&eb);
}

/* ------------------------------------------------------------ naive bounds */

/* Interval arithmetic in plain double, no outward rounding: centre/radius
   through AFFINE (y = sum_j W x_j, then + b, left to right), ReLU on the
   ends, and the specification merged into the last AFFINE like cerbere's
   IBP.  This is what cerbere computes without its gamma_n slack. */
static double naive_ibp_lb(const cb_net *net, const double *x0, double eps, cb_norm norm, const double *c)
{
  size_t n = net->node[0].size, w = n;
  double lo[64], hi[64], nl[64], nh[64];
  int last = net->output;
  assert_true(n <= 64);
  for (size_t j = 0; j < n; j++) { lo[j] = x0[j] - eps; hi[j] = x0[j] + eps; }
  for (int i = 1; i < last; i++) {
    const cb_node *nd = &net->node[i];
    if (node_is_act(nd, CB_ACT_RELU)) { for (size_t k = 0; k < w; k++) { lo[k] = fmax(lo[k], 0); hi[k] = fmax(hi[k], 0); } continue; }
    for (size_t o = 0; o < nd->p.aff.out; o++) {
      double cc = 0, r = 0;
      for (size_t j = 0; j < w; j++) {
        double a = nd->p.aff.W[o * w + j];
        if (i == 1 && norm != CB_NORM_INF) { cc += a * x0[j]; continue; }
        cc += a * (lo[j] + hi[j]) / 2;
        r += fabs(a) * (hi[j] - lo[j]) / 2;
      }
      if (i == 1 && norm != CB_NORM_INF) {   /* the dual norm of the row, as cerbere's IBP */
        for (size_t j = 0; j < w; j++) {
          double a = fabs(nd->p.aff.W[o * w + j]);
          r = norm == CB_NORM_2 ? r + a * a : fmax(r, a);
        }
        r = eps * (norm == CB_NORM_2 ? sqrt(r) : r);
      }
      cc += nd->p.aff.b[o];
      nl[o] = cc - r; nh[o] = cc + r;
    }
    w = nd->p.aff.out;
    memcpy(lo, nl, w * sizeof *lo);
    memcpy(hi, nh, w * sizeof *hi);
  }
  {
    const cb_node *nd = &net->node[last];
    double cc = 0, r = 0, b = 0, a[64];
    assert_true(nd->kind == CB_AFFINE && nd->p.aff.in <= 64);
    for (size_t j = 0; j < nd->p.aff.in; j++) {
      a[j] = 0;
      for (size_t o = 0; o < nd->p.aff.out; o++) a[j] += c[o] * nd->p.aff.W[o * nd->p.aff.in + j];
    }
    for (size_t o = 0; o < nd->p.aff.out; o++) b += c[o] * nd->p.aff.b[o];
    if (last == 1 && norm != CB_NORM_INF) {
      for (size_t j = 0; j < nd->p.aff.in; j++) { cc += a[j] * x0[j]; r = norm == CB_NORM_2 ? r + a[j] * a[j] : fmax(r, fabs(a[j])); }
      r = eps * (norm == CB_NORM_2 ? sqrt(r) : r);
    } else
      for (size_t j = 0; j < nd->p.aff.in; j++) { cc += a[j] * (lo[j] + hi[j]) / 2; r += fabs(a[j]) * (hi[j] - lo[j]) / 2; }
    return cc + b - r;
  }
}

/* ------------------------------------------------------------ the checks */

typedef struct tally {
  long cases, runs, verified, true_cases, naive_unsound, naive_wrong_verdict;
} tally;

static const cb_method methods[3] = {CB_IBP, CB_CROWN, CB_CROWN_IBP};
static const char *const mname[3] = {"ibp", "crown", "crown-ibp"};

/* cerbere's lower bound of c.f over the ball, by method m. */
static double cerbere_lb(const cb_net *net, const double *x0, double eps, cb_norm norm, const double *c, cb_method m)
{
  cb_bnet bn;
  cb_error err = {0};
  cb_set s = {norm, eps, net->node[0].size, x0, NULL, NULL};
  cb_ws *ws;
  double lb;
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  ws = ws_new(&bn, &s, &err);
  if (!ws) fail_msg("ws_new: %s", err.msg);
  if (bounds_run(ws, m, &err) != CB_OK || bounds_spec(ws, c, 1, &lb, NULL, &err) != CB_OK) fail_msg("%s", err.msg);
  ws_free(ws);
  bnet_free(&bn);
  return lb;
}

/* Runs every method on one case whose exact truth is given by `sound(lb)`
   (lb <= exact min) and `truth` (exact min > 0). */
typedef int (*lb_check)(void *ctx, double lb);

static void check_case(tally *t, const char *tag, const cb_net *net, const double *x0, double eps, cb_norm norm,
                       const double *c, lb_check sound, void *ctx, int truth)
{
  double nl = naive_ibp_lb(net, x0, eps, norm, c);
  t->cases++;
  t->true_cases += truth;
  if (!sound(ctx, nl)) t->naive_unsound++;
  if (nl > 0 && !truth) t->naive_wrong_verdict++;
  for (int m = 0; m < 3; m++) {
    double lb = cerbere_lb(net, x0, eps, norm, c, methods[m]);
    t->runs++;
    if (!sound(ctx, lb))
      fail_msg("%s, %s: lower bound %.17g is above the exact minimum (eps %.17g)", tag, mname[m], lb, eps);
    if (lb > 0 && !truth) fail_msg("%s, %s: says verified (lb %.17g) but an exact counterexample exists", tag, mname[m], lb);
    t->verified += lb > 0;
  }
}

typedef struct lin_ctx { mpq_t m; mpq_t g[64]; size_t n; cb_norm norm; double eps; } lin_ctx;
static int lin_sound(void *p, double lb) { lin_ctx *L = p; return linear_lb_sound(L->m, L->g, L->n, L->norm, L->eps, lb); }

typedef struct pwl_ctx { mpq_t min; } pwl_ctx;
static int pwl_sound(void *p, double lb)
{
  pwl_ctx *P = p;
  mpq_t q;
  int ok;
  mpq_init(q);
  mpq_set_d(q, lb);
  ok = mpq_cmp(q, P->min) <= 0;
  mpq_clear(q);
  return ok;
}

/* A linear net's case: exact parts, then every method. */
static void linear_case(tally *t, const char *tag, const cb_net *net, const double *x0, double eps, cb_norm norm, const double *c)
{
  lin_ctx L;
  L.n = net->node[0].size;
  L.norm = norm;
  L.eps = eps;
  assert_true(L.n <= 64);
  mpq_init(L.m);
  for (size_t j = 0; j < L.n; j++) mpq_init(L.g[j]);
  linear_parts(net, x0, c, L.m, L.g);
  check_case(t, tag, net, x0, eps, norm, c, lin_sound, &L, linear_true(L.m, L.g, L.n, norm, eps));
  mpq_clear(L.m);
  for (size_t j = 0; j < L.n; j++) mpq_clear(L.g[j]);
}

static void pwl_case(tally *t, const char *tag, const cb_net *net, double x0, double eps, const double *c)
{
  pwl_ctx P;
  mpq_init(P.min);
  pwl_min(net, c, x0, eps, P.min);
  check_case(t, tag, net, &x0, eps, CB_NORM_INF, c, pwl_sound, &P, mpq_sgn(P.min) > 0);
  mpq_clear(P.min);
}

/* ------------------------------------------------------------ families */

static const double bigK[] = {9007199254740992.0 /* 2^53 */, 1e16, 3e16, 1e17, 1152921504606846976.0 /* 2^60 */};
static const double smalle[] = {0, 1e-300, 0x1p-60};

/* Rows [K, s, -K] . (1,1,1) + b: exact s + b; doubles round K + s to K. */
static void test_cancellation(void **st)
{
  static const double sb[][2] = {{-1, 1}, {-1, 0.5}, {-1, 0.75}, {1, -0.5}, {1, -1}, {-1, 1.5}};
  tally t = {0};
  char tag[160];
  (void)st;
  for (size_t k = 0; k < sizeof bigK / sizeof *bigK; k++)
    for (size_t v = 0; v < sizeof sb / sizeof *sb; v++)
      for (size_t e = 0; e < sizeof smalle / sizeof *smalle; e++) {
        double K = bigK[k], x0[3] = {1, 1, 1}, c[1] = {1};
        double W[3] = {K, sb[v][0], -K}, b[1] = {sb[v][1]};
        double W1[9] = {K, 0, 0, 0, sb[v][0], 0, 0, 0, -K}, b1[3] = {0, 0, 0}, W2[3] = {1, 1, 1};
        double Wr[3] = {K, fabs(sb[v][0]), K}, br[3] = {0, 0, 0}, W2r[3] = {1, sb[v][0] < 0 ? -1 : 1, -1};
        cb_net *a = net_start(3), *d = net_start(3), *r = net_start(1);
        net_dense(a, 1, W, b); net_finish(a);
        net_dense(d, 3, W1, b1); net_dense(d, 1, W2, b); net_finish(d);
        net_dense(r, 3, Wr, br); net_relu(r); net_dense(r, 1, W2r, b); net_finish(r);
        snprintf(tag, sizeof tag, "cancellation K=%g s=%g b=%g eps=%g", K, sb[v][0], sb[v][1], smalle[e]);
        linear_case(&t, tag, a, x0, smalle[e], CB_NORM_INF, c);
        linear_case(&t, tag, d, x0, smalle[e], CB_NORM_INF, c);
        pwl_case(&t, tag, r, 1.0, smalle[e], c);
        cb_net_free(a); cb_net_free(d); cb_net_free(r);
      }
  printf("cancellation: %ld cases (%ld true), %ld method runs, %ld verified by cerbere; naive double: "
         "%ld unsound bounds, %ld wrong 'verified'\n", t.cases, t.true_cases, t.runs, t.verified,
         t.naive_unsound, t.naive_wrong_verdict);
  assert_true(t.naive_wrong_verdict > 0);   /* naive double really is unsound here */
}

/* c.f(x0) = 0 exactly: never verified, at eps = 0 and eps > 0. */
static void test_zero_margin(void **st)
{
  tally t = {0};
  char tag[160];
  (void)st;
  for (int rep = 0; rep < 60; rep++) {
    size_t n = 2 + (size_t)rep % 5;
    double x0[8], W[16 * 8], b[16], W2[16], b2[1] = {0}, c[1] = {1}, eps = rep % 3 == 0 ? 0 : rep % 3 == 1 ? 1e-12 : 1e-3;
    cb_net *net = net_start(n);
    mpq_t q;
    size_t h = 3;
    mpq_init(q);
    for (size_t j = 0; j < n; j++) x0[j] = rnd(-1, 1);
    for (size_t i = 0; i < h * n; i++) W[i] = rnd(-1, 1);
    for (size_t i = 0; i < h; i++) b[i] = rnd(-1, 1);
    for (size_t i = 0; i < h; i++) W2[i] = rnd(-1, 1);
    /* x0, W, b on the 2^-10 grid and W2 on 2^-10: every exact value below is
       a dyadic of < 40 bits, so b2 = -(exact output with b2 = 0) is a double */
    for (size_t j = 0; j < n; j++) x0[j] = ldexp(round(ldexp(x0[j], 10)), -10);
    for (size_t i = 0; i < h * n; i++) W[i] = ldexp(round(ldexp(W[i], 10)), -10);
    for (size_t i = 0; i < h; i++) { b[i] = ldexp(round(ldexp(b[i], 10)), -10); W2[i] = ldexp(round(ldexp(W2[i], 10)), -10); }
    net_dense(net, h, W, b);
    if (rep % 2) net_relu(net);
    net_dense(net, 1, W2, b2);
    net_finish(net);
    {
      exact_fw e;
      mpq_t *x = malloc(n * sizeof *x), v;
      efw_init(&e, net);
      mpq_init(v);
      for (size_t j = 0; j < n; j++) { mpq_init(x[j]); mpq_set_d(x[j], x0[j]); }
      exact_at(&e, x, c, v);
      net->node[net->output].p.aff.b[0] = -mpq_get_d(v);   /* exact: checked next */
      mpq_set_d(q, -net->node[net->output].p.aff.b[0]);
      assert_true(mpq_equal(q, v));
      exact_at(&e, x, c, v);
      assert_int_equal(mpq_sgn(v), 0);
      for (size_t j = 0; j < n; j++) mpq_clear(x[j]);
      free(x);
      mpq_clear(v);
      efw_clear(&e);
    }
    snprintf(tag, sizeof tag, "zero margin rep %d (n=%zu, %s, eps %g)", rep, n, rep % 2 ? "relu" : "linear", eps);
    if (rep % 2) {               /* exact min over the box: 0 at x0 is attained, so min <= 0 */
      pwl_ctx P;
      mpq_init(P.min);
      mpq_set_ui(P.min, 0, 1);   /* an upper bound of the true minimum is all soundness needs here */
      check_case(&t, tag, net, x0, eps, CB_NORM_INF, c, pwl_sound, &P, 0);
      mpq_clear(P.min);
    } else {
      static const cb_norm nn[3] = {CB_NORM_INF, CB_NORM_2, CB_NORM_1};
      for (int k = 0; k < 3; k++) linear_case(&t, tag, net, x0, eps, nn[k], c);
    }
    mpq_clear(q);
    cb_net_free(net);
  }
  printf("zero margin: %ld cases (%ld true), %ld method runs, %ld verified by cerbere; naive: %ld wrong 'verified'\n",
         t.cases, t.true_cases, t.runs, t.verified, t.naive_wrong_verdict);
  assert_int_equal(t.true_cases, 0);
  assert_int_equal(t.verified, 0);
}

/* Smallest double eps in (0, hi] at which `holds(eps)` is false, by bisection
   on the doubles' bit patterns (holds is monotone: true below, false above). */
static double boundary_eps(int (*holds)(void *, double), void *ctx, double hi)
{
  uint64_t a = 0, b;
  memcpy(&b, &hi, sizeof b);
  if (holds(ctx, hi)) return -1;
  while (b - a > 1) {
    uint64_t m = a + (b - a) / 2;
    double e;
    memcpy(&e, &m, sizeof e);
    if (holds(ctx, e)) a = m; else b = m;
  }
  { double e; memcpy(&e, &b, sizeof e); return e; }
}

typedef struct lin_prob { const cb_net *net; const double *x0, *c; cb_norm norm; mpq_t m; mpq_t g[64]; size_t n; } lin_prob;
static int lin_holds(void *p, double eps) { lin_prob *L = p; return linear_true(L->m, L->g, L->n, L->norm, eps); }

typedef struct pwl_prob { const cb_net *net; double x0; const double *c; } pwl_prob;
static int pwl_holds(void *p, double eps)
{
  pwl_prob *P = p;
  mpq_t m;
  int r;
  mpq_init(m);
  pwl_min(P->net, P->c, P->x0, eps, m);
  r = mpq_sgn(m) > 0;
  mpq_clear(m);
  return r;
}

/* Random linear nets, eps at the exact boundary of verifiability. */
static void test_eps_boundary_linear(void **st)
{
  static const cb_norm nn[3] = {CB_NORM_INF, CB_NORM_2, CB_NORM_1};
  static const double frac[3] = {1.0, 0.9, 0.5};
  tally t = {0}, big = {0};
  char tag[160];
  long hard = 0;
  (void)st;
  for (int rep = 0; rep < 90; rep++) {
    size_t n = 2 + (size_t)rep % 6, h = 2 + (size_t)rep % 4;
    double x0[8], W[8 * 8], b[8], W2[8], b2[1], c[1] = {1}, eb;
    cb_net *net = net_start(n);
    lin_prob L;
    int scale = rep % 5 == 4;   /* every fifth: a hidden unit with weights ~1e8 and opposite signs */
    for (size_t j = 0; j < n; j++) x0[j] = rnd(0, 1);
    for (size_t i = 0; i < h * n; i++) W[i] = rnd(-1, 1);
    for (size_t i = 0; i < h; i++) { b[i] = rnd(-0.5, 0.5); W2[i] = rnd(-1, 1); }
    if (scale) { W[0] *= 1e8; W[n] = -W[0]; for (size_t j = 1; j < n; j++) W[n + j] = W[j]; W2[1] = W2[0]; b[1] = -b[0]; }
    b2[0] = 0;
    L.net = net; L.x0 = x0; L.c = c; L.norm = nn[rep % 3]; L.n = n;
    if (rep % 2) { net_dense(net, h, W, b); net_dense(net, 1, W2, b2); }
    else { b2[0] = b[0]; net_dense(net, 1, W, b2); }   /* one layer: naive IBP is tight there */
    net_finish(net);
    mpq_init(L.m);
    for (size_t j = 0; j < n; j++) mpq_init(L.g[j]);
    linear_parts(net, x0, c, L.m, L.g);
    if (mpq_sgn(L.m) < 0) {      /* make the margin at x0 positive: flip the spec */
      c[0] = -1;
      linear_parts(net, x0, c, L.m, L.g);
    }
    eb = mpq_sgn(L.m) > 0 ? boundary_eps(lin_holds, &L, 1e6) : 0;
    if (eb > 0) {
      hard++;
      for (int f = 0; f < 3; f++) {
        double e = f == 0 ? eb : frac[f] * eb;
        snprintf(tag, sizeof tag, "linear boundary rep %d (n=%zu, norm %d, eps %.17g x %.1f)", rep, n, (int)L.norm, eb, frac[f]);
        linear_case(f == 0 ? &t : &big, tag, net, x0, e, L.norm, c);
        if (f == 0) {            /* the largest eps that still holds: true, tiny margin */
          double below = nextafter(eb, 0);
          linear_case(&t, tag, net, x0, below, L.norm, c);
        }
      }
    }
    mpq_clear(L.m);
    for (size_t j = 0; j < n; j++) mpq_clear(L.g[j]);
    cb_net_free(net);
  }
  printf("linear eps boundary: %ld nets, %ld boundary cases (%ld true), %ld verified; naive double: %ld unsound "
         "bounds, %ld wrong 'verified'; at 0.9/0.5 of the boundary: %ld of %ld method runs verified\n",
         hard, t.cases, t.true_cases, t.verified, t.naive_unsound, t.naive_wrong_verdict, big.verified, big.runs);
  assert_true(hard >= 80);
  assert_true(t.naive_unsound > 0);
  assert_true(big.verified > big.runs / 2);   /* not vacuous: comfortably true cases are proved */
}

/* 1-D ReLU nets (two hidden layers), eps at the exact boundary. */
static void test_eps_boundary_relu(void **st)
{
  tally t = {0}, big = {0};
  char tag[160];
  long hard = 0;
  (void)st;
  for (int rep = 0; rep < 80; rep++) {   /* about half are positive on all of [x0 -/+ 1e6]: skipped */
    size_t h1 = 3 + (size_t)rep % 3, h2 = 3;
    double W1[8], b1[8], W2[8 * 8], b2[8], W3[8], b3[1] = {0}, c[1] = {1}, x0 = rnd(-1, 1), eb;
    cb_net *net = net_start(1);
    pwl_prob P = {net, x0, c};
    mpq_t m;
    for (size_t i = 0; i < h1; i++) { W1[i] = rnd(-2, 2); b1[i] = rnd(-1, 1); }
    for (size_t i = 0; i < h2 * h1; i++) W2[i] = rnd(-1, 1);
    for (size_t i = 0; i < h2; i++) { b2[i] = rnd(-0.5, 0.5); W3[i] = rnd(-1, 1); }
    b3[0] = rnd(-0.2, 0.8);
    net_dense(net, h1, W1, b1); net_relu(net);
    net_dense(net, h2, W2, b2); net_relu(net);
    net_dense(net, 1, W3, b3); net_finish(net);
    mpq_init(m);
    pwl_min(net, c, x0, 0, m);
    if (mpq_sgn(m) < 0) { c[0] = -1; pwl_min(net, c, x0, 0, m); }
    eb = mpq_sgn(m) > 0 ? boundary_eps(pwl_holds, &P, 1e6) : -1;
    if (eb > 0) {
      hard++;
      snprintf(tag, sizeof tag, "relu boundary rep %d (eps %.17g)", rep, eb);
      pwl_case(&t, tag, net, x0, eb, c);
      pwl_case(&t, tag, net, x0, nextafter(eb, 0), c);
      pwl_case(&big, tag, net, x0, 0.9 * eb, c);
      pwl_case(&big, tag, net, x0, 0.5 * eb, c);
    }
    mpq_clear(m);
    cb_net_free(net);
  }
  printf("relu eps boundary: %ld nets, %ld boundary cases (%ld true), %ld verified; naive: %ld unsound bounds, "
         "%ld wrong 'verified'; at 0.9/0.5 of the boundary: %ld of %ld method runs verified\n",
         hard, t.cases, t.true_cases, t.verified, t.naive_unsound, t.naive_wrong_verdict, big.verified, big.runs);
  assert_true(hard >= 30);
  assert_true(big.verified > 0);
}

/* Gradual underflow: products a*b = 2.5 * 2^-1074 round (to even) to
   2 * 2^-1074, a relative error of 20% that no gamma_n |a||b| term covers;
   n of them lose n/2 units of 2^-1074.  f = -sum_j a x_j + b with
   b = (2.5 n - 1) 2^-1074: exactly -2^-1074 < 0, in double about +n/2 units. */
static void test_underflow(void **st)
{
  tally t = {0};
  char tag[160];
  (void)st;
  for (size_t n = 2; n <= 32; n *= 2)
    for (int relu = 0; relu < 2; relu++) {
      double x0[32], W[32], b[1], c[1] = {1}, Wi[32 * 32], bi[32];
      cb_net *net = net_start(n);
      for (size_t j = 0; j < n; j++) { x0[j] = 0x1p-537; W[j] = -5 * 0x1p-538; }
      b[0] = (2.5 * (double)n - 1) * 0x1p-1074;
      if (relu) {                /* identity layer + ReLU first: same values, one more node */
        memset(Wi, 0, sizeof Wi);
        for (size_t j = 0; j < n; j++) { Wi[j * n + j] = 1; bi[j] = 0; }
        net_dense(net, n, Wi, bi);
        net_relu(net);
      }
      net_dense(net, 1, W, b);
      net_finish(net);
      snprintf(tag, sizeof tag, "underflow n=%zu%s", n, relu ? " (relu)" : "");
      if (!relu) linear_case(&t, tag, net, x0, 0, CB_NORM_INF, c);
      else {
        pwl_ctx P;
        mpq_init(P.min);
        mpq_set_d(P.min, b[0]);                     /* f(x0) exactly, >= the minimum */
        { mpq_t q; mpq_init(q); mpq_set_d(q, 2.5 * (double)n); mpq_set_d(P.min, -1); mpq_set_d(q, 0x1p-1074); mpq_mul(P.min, P.min, q); mpq_clear(q); }
        check_case(&t, tag, net, x0, 0, CB_NORM_INF, c, pwl_sound, &P, 0);
        mpq_clear(P.min);
      }
      cb_net_free(net);
    }
  printf("underflow: %ld cases, %ld method runs, %ld verified by cerbere; naive: %ld unsound bounds, %ld wrong 'verified'\n",
         t.cases, t.runs, t.verified, t.naive_unsound, t.naive_wrong_verdict);
  assert_true(t.naive_wrong_verdict > 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_cancellation),
    cmocka_unit_test(test_zero_margin),
    cmocka_unit_test(test_eps_boundary_linear),
    cmocka_unit_test(test_eps_boundary_relu),
    cmocka_unit_test(test_underflow),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
