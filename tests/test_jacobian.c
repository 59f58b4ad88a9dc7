/*
** Interval Jacobian (lip/jacobian.c), issue 6 acceptance items 2 and 3.
**
** Soundness: random nets of every node kind (tests/randnet.h) x balls
** {L-inf, L2, L1, L-inf clipped to a box} x radii {0.02, 0.3}, intervals from
** IBP and from CROWN bounds, rows C = I and margin rows.  In each set, 10^4
** points (inside, on the boundary / vertices) and a gradient-norm ascent (a
** (1+1) evolution strategy from the largest sampled norm: the gradient of a
** ReLU net is piecewise constant, so finite differences would not climb):
** the exact gradient (grad_eval) at every point must lie inside the interval
** Jacobian entry by entry with tolerance ZERO, and the local Lipschitz
** constant of each row must be >= the dual norm of that gradient row.
**
** Reference nets (nets/digits_*.onnx, 20 rows, L2 balls 0.1 and 0.3 as in
** the reference files): local Lipschitz of each margin row >= the largest
** sampled gradient norm and <= sqrt(2) K (global K of lip_analyze); operator
** norm of the logit Jacobian >= a guaranteed lower bound of ||J(x)||_2 at
** sampled points; CROWN intervals no wider than IBP's on average; the
** local-Lipschitz certified L2 radius >= certified_l2_radius_merged of the
** reference (tests/data/lip/<net>.json, see its PROVENANCE), and a PGD attack
** on the margins inside the certified ball finds no counterexample.
*/
#include <float.h>
#include <unistd.h>
#include "testutil.h"
#include "randnet.h"
#include "bounds.h"
#include "exact.h"
#include "grad.h"
#include "jacobian.h"
#include "liplocal.h"
#include "power.h"
#include "radius.h"
#include "round.h"
#include "attack.h"

static long ncut;   /* rows where a cut below the output beat the input cut */

typedef struct tset { cb_norm norm; int clip; double eps; const double *x0, *lo, *hi; size_t n; } tset;

static double gauss(void) { return sqrt(-2 * log(1 - urand(&seed))) * cos(6.283185307179586 * urand(&seed)); }

/* Projects x onto the set (in place), shrinking by 1e-12 so rounding stays inside. */
static void project(const tset *t, double *x)
{
  double e = t->eps * (1 - 1e-12), s = 0;
  for (size_t j = 0; j < t->n; j++) {
    double d = x[j] - t->x0[j];
    s += t->norm == CB_NORM_2 ? d * d : t->norm == CB_NORM_1 ? fabs(d) : 0;
    if (t->norm == CB_NORM_INF) x[j] = t->x0[j] + fmin(fmax(d, -e), e);
  }
  if (t->norm == CB_NORM_2) s = sqrt(s);
  if (t->norm != CB_NORM_INF && s > e) for (size_t j = 0; j < t->n; j++) x[j] = t->x0[j] + (x[j] - t->x0[j]) * e / s;
  if (t->clip) for (size_t j = 0; j < t->n; j++) x[j] = fmin(fmax(x[j], t->lo[j]), t->hi[j]);
}

/* A random point of the set: inside (odd k) or on the boundary / a vertex (even k). */
static void sample(const tset *t, double *x, int k)
{
  double s = 0, r = k % 2 ? pow(urand(&seed), 1.0 / (double)t->n) : 1.0;
  for (size_t j = 0; j < t->n; j++) {
    double d = t->norm == CB_NORM_INF ? (k % 2 ? rnd(-1, 1) : (urand(&seed) < 0.5 ? -1 : 1))
             : t->norm == CB_NORM_2 ? gauss() : -log(1 - urand(&seed)) * (urand(&seed) < 0.5 ? -1 : 1);
    x[j] = d;
    s += t->norm == CB_NORM_2 ? d * d : fabs(d);
  }
  s = t->norm == CB_NORM_2 ? sqrt(s) : t->norm == CB_NORM_INF ? 1 : s;
  for (size_t j = 0; j < t->n; j++) x[j] = t->x0[j] + t->eps * r * x[j] / s;
  project(t, x);
}

/* Dual norm of a row in double (an estimate, for comparisons with a margin). */
static double dual(const double *g, size_t n, cb_norm norm)
{
  double s = 0;
  for (size_t k = 0; k < n; k++) s = norm == CB_NORM_2 ? s + g[k] * g[k] : norm == CB_NORM_1 ? fmax(s, fabs(g[k])) : s + fabs(g[k]);
  return norm == CB_NORM_2 ? sqrt(s) : s;
}

typedef struct ibox { const double *lo[2], *hi[2], *L[2]; size_t q, n; cb_norm norm; long checks; } ibox;

/* The gradient G (q x n) at x must be inside both intervals; returns sum of squared entries. */
static double check_grad(ibox *b, const double *G, const double *x, const char *tag)
{
  double s = 0;
  for (int m = 0; m < 2; m++)
    for (size_t r = 0; r < b->q; r++) {
      for (size_t k = 0; k < b->n; k++) {
        double g = G[r * b->n + k], l = b->lo[m][r * b->n + k], h = b->hi[m][r * b->n + k];
        if (!(l <= g && g <= h))
          fail_msg("%s %s row %zu input %zu: gradient %.17g outside [%.17g, %.17g] (x0 %.6g)", tag,
                   m ? "crown" : "ibp", r, k, g, l, h, x[0]);
        if (m == 0) s += g * g;
        b->checks++;
      }
      if (!(dual(G + r * b->n, b->n, b->norm) <= b->L[m][r]))
        fail_msg("%s row %zu: gradient norm %.17g above local Lipschitz %.17g", tag, r, dual(G + r * b->n, b->n, b->norm), b->L[m][r]);
    }
  return s;
}

/* (1+1)-ES on the squared gradient norm from x (in place), checking every proposal. */
static void ascend(ibox *b, const tset *t, cb_grad *gr, const double *C, double *x, double best, const char *tag)
{
  double *y = malloc(t->n * sizeof *y), *G = malloc(b->q * t->n * sizeof *G), sig = t->eps / 4;
  cb_error err = {0};
  for (int it = 0; it < 300; it++) {
    double v;
    for (size_t j = 0; j < t->n; j++) y[j] = x[j] + sig * gauss() / sqrt((double)t->n);
    project(t, y);
    if (grad_eval(gr, y, C, b->q, G, NULL, &err) != CB_OK) fail_msg("%s: %s", tag, err.msg);
    v = check_grad(b, G, y, tag);
    if (v > best) { best = v; memcpy(x, y, t->n * sizeof *x); sig *= 1.5; }
    else sig *= 0.95;
  }
  free(y); free(G);
}

/* One set: intervals by IBP and CROWN for rows C, then 10^4 points and an ascent. */
static size_t npoints = 10000;   /* sampled points per set */

static long run_set(const cb_bnet *bn, const lip_result *lr, cb_grad *gr, const tset *t, const double *C, size_t q,
                    const char *tag)
{
  size_t n = t->n, N = npoints;
  double *lo = malloc(4 * q * n * sizeof *lo), *L = malloc(2 * q * sizeof *L), *G = malloc(q * n * sizeof *G);
  double *x = malloc(n * sizeof *x), *xb = malloc(n * sizeof *xb), best = -1;
  cb_set s = {t->norm, t->eps, n, t->x0, t->clip ? t->lo : NULL, t->clip ? t->hi : NULL};
  ibox b = {{lo, lo + 2 * q * n}, {lo + q * n, lo + 3 * q * n}, {L, L + q}, q, n, t->norm, 0};
  cb_method meth[2] = {CB_IBP, CB_CROWN};
  cb_error err = {0};
  for (int m = 0; m < 2; m++) {
    cb_ws *ws = ws_new(bn, &s, &err);
    assert_non_null(ws);
    double Lin[32];
    if (bounds_run(ws, meth[m], &err) != CB_OK ||
        jac_interval_lip(ws, C, q, lr, (double *)b.lo[m], (double *)b.hi[m], (double *)b.L[m], &err) != CB_OK)
      fail_msg("%s: %s", tag, err.msg);
    for (size_t k = 0; k < q * n; k++) assert_true(b.lo[m][k] <= b.hi[m][k]);
    jac_row_lipschitz(b.lo[m], b.hi[m], q, n, t->norm, Lin);
    for (size_t r = 0; r < q; r++) {   /* the cut bound is the min of the input cut and others */
      assert_true(b.L[m][r] <= Lin[r]);
      if (b.L[m][r] < Lin[r]) ncut++;
    }
    ws_free(ws);
  }
  for (size_t k = 0; k < N; k++) {
    double v;
    sample(t, x, (int)k);
    if (grad_eval(gr, x, C, q, G, NULL, &err) != CB_OK) fail_msg("%s: %s", tag, err.msg);
    v = check_grad(&b, G, x, tag);
    if (v > best) { best = v; memcpy(xb, x, n * sizeof *x); }
  }
  ascend(&b, t, gr, C, xb, best, tag);
  free(lo); free(L); free(G); free(x); free(xb);
  return b.checks;
}

static void sound_net(cb_net *net, const char *name)
{
  static const double radii[2] = {0.02, 0.3};
  static const cb_norm norms[4] = {CB_NORM_INF, CB_NORM_2, CB_NORM_1, CB_NORM_INF};
  size_t n = cb_net_input_size(net), no, q;
  double *x0 = malloc(n * sizeof *x0), *lo = malloc(n * sizeof *lo), *hi = malloc(n * sizeof *hi), *C;
  long checks = 0;
  cb_bnet bn;
  cb_grad *gr;
  cb_error err = {0};
  char tag[128];
  net->output = net->n - 1;
  if (net_check(net, &err) != CB_OK) fail_msg("%s: %s", name, err.msg);
  no = cb_net_output_size(net);
  q = 2 * no - 1;                       /* the logits, then the margins of class 0 */
  C = calloc(q * no, sizeof *C);
  for (size_t k = 0; k < no; k++) C[k * no + k] = 1;
  jac_margin_rows(no, 0, C + no * no);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  assert_non_null(gr = grad_new(net, q, &err));
  ncut = 0;
  for (int c = 0; c < 4; c++) {
    lip_opts lo_;
    lip_result *lr = NULL;
    lip_opts_init(&lo_);
    lo_.norm = norms[c];
    if (lip_analyze(net, &lo_, &lr, &err) != CB_OK) fail_msg("%s: %s", name, err.msg);
    for (int e = 0; e < 2; e++) {
      tset t = {norms[c], c == 3, radii[e], x0, lo, hi, n};
      for (size_t j = 0; j < n; j++) { x0[j] = rnd(-0.5, 0.5); lo[j] = -0.5; hi[j] = 0.5; }
      snprintf(tag, sizeof tag, "%s norm %d%s eps %g", name, c, c == 3 ? " clipped" : "", radii[e]);
      checks += run_set(&bn, lr, gr, &t, C, q, tag);
    }
    lip_result_free(lr);
  }
  printf("%s: 8 sets x 2 bound methods, %ld gradient-entry checks, 0 outside; cut bound below the input "
         "cut in %ld of %zu rows\n", name, checks, ncut, 16 * q);
  grad_free(gr);
  bnet_free(&bn);
  free(x0); free(lo); free(hi); free(C);
  cb_net_free(net);
}

static void test_sound_dense(void **st) { (void)st; sound_net(net_dense(), "dense"); }
static void test_sound_conv(void **st) { (void)st; sound_net(net_conv(), "conv"); }
static void test_sound_residual(void **st) { (void)st; sound_net(net_residual(), "residual"); }
static void test_sound_groupsort(void **st) { (void)st; sound_net(net_groupsort(), "groupsort"); }

/*
** Issue 19 acceptance 2 for the transformer loader paths (src/onnx_xfmr.c):
** nets exported by torch (tests/data/vit/, tests/data/gen_vit.py), the same
** sets and checks as sound_net (10^4 points per set and the ascent, zero
** tolerance, IBP and CROWN intervals, 4 norms / clip, 2 radii), centred on
** row 0 of the net's in.csv; the clip box [x0 - eps/2, x0 + eps] cuts the
** ball.  lr = NULL: these nets hold products (MUL), for which the Lipschitz
** analyzer has no global constant, so L is the input cut alone.
**   ln_ops: LayerNorm written out (ReduceMean, Sub, Pow, Sqrt, Div, Mul,
**     Add), ReduceSum over two axes, ReduceMean, ReduceL2, Gather, Slice,
**     Expand, Where with a constant condition, Sub of two broadcast
**     activations, Concat with a constant;
**   ln17: opset-17 LayerNormalization, Add of two activations, a residual
**     Concat with a constant.
*/
static void sound_file(const char *name, double r0, double r1, size_t npts)
{
  static const cb_norm norms[4] = {CB_NORM_INF, CB_NORM_2, CB_NORM_1, CB_NORM_INF};
  double radii[2] = {r0, r1};
  char path[256], tag[160];
  cb_net *net;
  cb_data *d;
  size_t n, no, q;
  double *C, *lo, *hi;
  const double *x0;
  long checks = 0;
  cb_bnet bn;
  cb_grad *gr;
  cb_error err = {0};
  snprintf(path, sizeof path, "tests/data/vit/%s.onnx", name);
  net = must_load(path);
  n = cb_net_input_size(net);
  no = cb_net_output_size(net);
  snprintf(path, sizeof path, "tests/data/vit/%s.in.csv", name);
  d = must_csv(path, n);
  x0 = cb_data_x(d, 0);
  q = 2 * no - 1;
  C = calloc(q * no, sizeof *C);
  lo = malloc(n * sizeof *lo);
  hi = malloc(n * sizeof *hi);
  for (size_t k = 0; k < no; k++) C[k * no + k] = 1;
  jac_margin_rows(no, 0, C + no * no);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  assert_non_null(gr = grad_new(net, q, &err));
  npoints = npts;
  for (int c = 0; c < 4; c++)
    for (int e = 0; e < 2; e++) {
      tset t = {norms[c], c == 3, radii[e], x0, lo, hi, n};
      for (size_t j = 0; j < n; j++) { lo[j] = x0[j] - radii[e] / 2; hi[j] = x0[j] + radii[e]; }
      snprintf(tag, sizeof tag, "%s norm %d%s eps %g", name, c, c == 3 ? " clipped" : "", radii[e]);
      checks += run_set(&bn, NULL, gr, &t, C, q, tag);
    }
  npoints = 10000;
  printf("%s: 8 sets x 2 bound methods, %ld gradient-entry checks, 0 outside\n", name, checks);
  grad_free(gr);
  bnet_free(&bn);
  cb_data_free(d);
  free(C); free(lo); free(hi);
  cb_net_free(net);
}

/* Issue 19: Resize in linear mode (tests/data/gen_resize.py), through
   sound_net: 4 norms x 2 radii, IBP and CROWN intervals, the global
   Lipschitz constant's cut; pytorch_half_pixel with sizes 4 -> 7 (weights
   k/14, rounded) and half_pixel (same weights, the attribute changed). */
static void test_sound_resize(void **st)
{
  (void)st;
  sound_net(must_load("tests/data/resize/bilinear_hp.onnx"), "bilinear_hp (onnx)");
  sound_net(must_load("tests/data/resize/bilinear_s15.onnx"), "bilinear_s15 (onnx)");
}

static void test_sound_ln_ops(void **st) { (void)st; sound_file("ln_ops", 0.01, 0.05, 10000); }
static void test_sound_ln17(void **st) { (void)st; sound_file("ln17", 0.01, 0.05, 10000); }

/* A guaranteed lower bound of ||J||_2 (q x n): power iteration's `lower`. */
static double spec_lower(const double *J, size_t q, size_t n)
{
  lip_op op;
  lip_power_opts o;
  lip_power_res r;
  double a1 = 0, ai = 0;
  cb_error err = {0};
  for (size_t k = 0; k < n; k++) { double s = 0; for (size_t i = 0; i < q; i++) s += fabs(J[i * n + k]); a1 = fmax(a1, s); }
  for (size_t i = 0; i < q; i++) { double s = 0; for (size_t k = 0; k < n; k++) s += fabs(J[i * n + k]); ai = fmax(ai, s); }
  lip_power_op_dense(&op, J, q, n);
  lip_power_opts_init(&o);
  assert_int_equal(lip_power(&op, 2 * sqrt(a1 * ai), &o, &r, NULL, &err), CB_OK);
  return r.lower;
}

/* Reference net: Lipschitz checks on the two L2 balls of the reference, then the radius. */
static void ref_net(const char *name)
{
  char path[256];
  cb_net *net;
  cb_data *d = must_csv("nets/digits_test20.csv", 64);
  cJSON *ref;
  cb_bnet bn;
  cb_grad *gr;
  lip_result *lr = NULL;
  lip_opts lo;
  radius_lip_opts ro;
  cb_error err = {0};
  size_t n = 64, no = 10, q = 19;
  double *C = calloc(q * no, sizeof *C), *J = malloc(4 * q * n * sizeof *J), *G = malloc(q * n * sizeof *G), x[64];
  double K, wsum[2] = {0, 0}, Lsum = 0, Lraw_over = 0, rsum = 0, refsum = 0, gmin = HUGE_VAL, evsum = 0;
  int nraw = 0;
  snprintf(path, sizeof path, "nets/%s.onnx", name);
  net = must_load(path);
  snprintf(path, sizeof path, "tests/data/lip/%s.json", name);
  assert_non_null(ref = load_json(path));
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  assert_non_null(gr = grad_new(net, q, &err));
  lip_opts_init(&lo);
  if (lip_analyze(net, &lo, &lr, &err) != CB_OK) fail_msg("%s", err.msg);
  K = fmin(lr->K_layerwise, lr->K_merged);
  radius_lip_opts_init(&ro);
  for (size_t k = 0; k < no; k++) C[k * no + k] = 1;
  for (size_t row = 0; row < 20; row++) {
    const double *x0 = cb_data_x(d, row);
    int label = cb_data_label(d, row);
    jac_margin_rows(no, label, C + no * no);
    for (int e = 0; e < 2; e++) {
      double eps = e ? 0.3 : 0.1, L[19], Lm[9], m_lo[9], lb[9], op, gmax[9] = {0}, smax = 0;
      tset t = {CB_NORM_2, 0, eps, x0, NULL, NULL, n};
      cb_set s = {CB_NORM_2, eps, n, x0, NULL, NULL};
      for (int m = 0; m < 2; m++) {   /* IBP, then CROWN (kept in J[0 .. 2 q n)) */
        cb_ws *ws = ws_new(&bn, &s, &err);
        double *jl = J + (size_t)(1 - m) * 2 * q * n;
        if (bounds_run(ws, m ? CB_CROWN : CB_IBP, &err) != CB_OK || jac_interval(ws, C, q, jl, jl + q * n, &err) != CB_OK)
          fail_msg("%s: %s", name, err.msg);
        for (size_t k = 0; k < q * n; k++) wsum[m] += jl[q * n + k] - jl[k];
        if (m) {
          assert_int_equal(jac_margins_at(net, lr, x0, label, m_lo, NULL, &err), CB_OK);
          assert_int_equal(jac_margin_lb(ws, label, lr, m_lo, lb, Lm, &err), CB_OK);
        }
        ws_free(ws);
      }
      jac_row_lipschitz(J, J + q * n, q, n, CB_NORM_2, L);
      assert_int_equal(jac_op_norm(J, J + q * n, no, n, CB_NORM_2, &op, &err), CB_OK);
      for (int k = 0; k < 1000; k++) {
        sample(&t, x, k);
        assert_int_equal(grad_eval(gr, x, C, q, G, NULL, &err), CB_OK);
        for (size_t j = 0; j < 9; j++) gmax[j] = fmax(gmax[j], dual(G + (no + j) * n, n, CB_NORM_2));
        if (k < 50) smax = fmax(smax, spec_lower(G, no, n));
      }
      for (size_t j = 0; j < 9; j++) {
        if (!(gmax[j] <= Lm[j] && gmax[j] <= L[no + j]))
          fail_msg("%s row %zu eps %g margin %zu: sampled gradient norm %.17g, local L %.17g, interval L %.17g", name, row, eps, j, gmax[j], Lm[j], L[no + j]);
        if (!(Lm[j] <= round_next_up(sqrt(2.0)) * round_next_up(K) * (1 + 4 * DBL_EPSILON)))
          fail_msg("%s row %zu eps %g margin %zu: local L %.17g above sqrt(2) K = %.17g", name, row, eps, j, Lm[j], sqrt(2.0) * K);
        Lsum += Lm[j] / (sqrt(2.0) * K);
        nraw += L[no + j] > sqrt(2.0) * K;
        Lraw_over = fmax(Lraw_over, L[no + j] / (sqrt(2.0) * K));
      }
      if (!(smax <= op)) fail_msg("%s row %zu eps %g: sampled ||J||_2 >= %.17g above the operator bound %.17g", name, row, eps, smax, op);
    }
    {
      radius_lip r;
      const cJSON *sm = cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "samples"), (int)row);
      double rref = cJSON_GetObjectItem(sm, "certified_l2_radius_merged")->valuedouble;
      if (radius_lip_search(&bn, lr, x0, label, &ro, &r, &err) != CB_OK) fail_msg("%s: %s", name, err.msg);
      if (!(r.radius >= rref)) fail_msg("%s row %zu: local-Lipschitz radius %.9g below the reference %.9g (global %.9g)", name, row, r.radius, rref, r.radius_global);
      evsum += r.evals;
      if (r.radius > 0) {   /* PGD on the margins inside the certified ball must find no counterexample */
        cb_set s = {CB_NORM_2, r.radius, n, x0, NULL, NULL};
        cb_attack_opt ao = CB_ATTACK_DEFAULT;
        double xb[64], gb;
        if (attack_run(net, &s, C + no * no, NULL, 9, CB_AGG_MIN, 0.0, &ao, xb, &gb, &err) != CB_OK) fail_msg("%s: %s", name, err.msg);
        if (!(gb > 0)) fail_msg("%s row %zu: attack found margin %.17g inside the certified radius %.9g", name, row, gb, r.radius);
        gmin = fmin(gmin, gb);
      }
      rsum += r.radius;
      refsum += rref;
    }
  }
  if (!(wsum[1] <= wsum[0])) fail_msg("%s: CROWN intervals wider than IBP (%.6g > %.6g)", name, wsum[1], wsum[0]);
  printf("%s: mean L/(sqrt2 K) %.3f (interval alone above sqrt2 K in %d of 360 rows, worst x%.2f); "
         "mean width CROWN/IBP %.3f; mean radius %.4g vs reference %.4g (x%.2f, %.1f balls); PGD inside it: smallest margin %.4g\n",
         name, Lsum / 360, nraw, Lraw_over, wsum[1] / wsum[0], rsum / 20, refsum / 20, rsum / refsum, evsum / 20, gmin);
  lip_result_free(lr);
  grad_free(gr);
  bnet_free(&bn);
  cJSON_Delete(ref);
  cb_data_free(d);
  cb_net_free(net);
  free(C); free(J); free(G);
}


/*
** Local brackets (lip/liplocal.h), zero tolerance: on random ReLU / LeakyReLU
** chains and the conv net (tanh, max pool: interval only) over L2, L-inf and
** L1 balls, per output row: 20000 sampled points (inside and on the boundary)
** plus an ascent from the best never have a dual gradient norm above upper;
** lower is a certified secant: its two points lie in the ball (exact test)
** and lower <= |c.f(y) - c.f(x)| / ||y - x|| recomputed here from exact
** enclosures (src/exact.c) with the bound rounded up; the split never loosens
** the plain bound.
*/
static double secant_hi(const cb_net *net, const double *c, const double *x, const double *y, cb_norm norm)
{
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
  cb_exact *ex = NULL, *ey = NULL;
  cb_error err = {0};
  double hi = 0, lo = 0, den = 0;
  assert_int_equal(exact_eval(net, x, &ex, &err), CB_OK);
  assert_int_equal(exact_eval(net, y, &ey, &err), CB_OK);
  for (size_t k = 0; k < no; k++) {
    double al, ah, bl, bh, dl, dh;
    exact_output(ex, k, &al, &ah);
    exact_output(ey, k, &bl, &bh);
    dl = round_down(bl - ah);   /* f_k(y) - f_k(x) in [dl, dh] */
    dh = round_up(bh - al);
    if (c[k] >= 0) { lo = round_down(lo + round_down(c[k] * dl)); hi = round_up(hi + round_up(c[k] * dh)); }
    else { lo = round_down(lo + round_down(c[k] * dh)); hi = round_up(hi + round_up(c[k] * dl)); }
  }
  exact_free(ex);
  exact_free(ey);
  for (size_t k = 0; k < n; k++) {   /* ||y - x|| rounded down */
    double a = round_down(fabs(y[k] - x[k]));
    a = a > 0 ? a : 0;
    den = norm == CB_NORM_2 ? round_down(den + round_down(a * a)) : norm == CB_NORM_1 ? round_down(den + a) : fmax(den, a);
  }
  if (norm == CB_NORM_2) den = round_down(sqrt(den));
  assert_true(den > 0);
  return round_up(fmax(fabs(lo), fabs(hi)) / den);
}

static void check_local(cb_net *net, cb_norm norm, double eps, long nodes, const char *tag)
{
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
  double *x0 = malloc(n * sizeof *x0), *x = malloc(n * sizeof *x), *pt = malloc(2 * n * sizeof *pt), *G = malloc(n * sizeof *G),
         *c = calloc(no, sizeof *c);
  cb_bnet bn;
  cb_error err = {0};
  cb_grad *gr = grad_new(net, 1, &err);
  lip_opts lo;
  lip_result *lr = NULL;
  int p = norm == CB_NORM_INF ? 0 : norm == CB_NORM_2 ? 2 : 1;
  assert_non_null(gr);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  lip_opts_init(&lo);
  lo.norm = norm;
  if (lip_analyze(net, &lo, &lr, &err) != CB_OK) fail_msg("%s: %s", tag, err.msg);
  for (size_t k = 0; k < n; k++) x0[k] = rnd(-1, 1);
  for (size_t j = 0; j < no; j++) {
    cb_set s = {norm, eps, n, x0, NULL, NULL};
    tset t = {norm, 0, eps, x0, NULL, NULL, n};
    cb_ws *ws = ws_new(&bn, &s, &err);
    liplocal_opts o;
    liplocal_result r;
    double smax = 0, v;
    memset(c, 0, no * sizeof *c);
    c[j] = 1;
    liplocal_opts_init(&o);
    o.max_nodes = nodes;
    assert_non_null(ws);
    assert_int_equal(bounds_run(ws, CB_CROWN, &err), CB_OK);
    if (liplocal_row(ws, c, j % 2 ? lr : NULL, &o, &r, pt, &err) != CB_OK) fail_msg("%s: %s", tag, err.msg);
    ws_free(ws);
    for (int k = 0; k < 20000; k++) {
      sample(&t, x, k);
      assert_int_equal(grad_eval(gr, x, c, 1, G, NULL, &err), CB_OK);
      v = dual(G, n, norm);
      smax = fmax(smax, v);
      if (!(v <= r.upper)) fail_msg("%s row %zu: sampled norm %.17g above the local upper %.17g", tag, j, v, r.upper);
    }
    assert_true(r.upper <= r.upper_plain);
    assert_true(r.lower <= r.upper);
    if (!r.attained) assert_true(r.lower == 0);
    else {
      double sh = secant_hi(net, c, pt, pt + n, norm);
      assert_true(exact_dist_le(pt, x0, n, p, eps) && exact_dist_le(pt + n, x0, n, p, eps));
      if (!(r.lower > 0 && r.lower <= sh)) fail_msg("%s row %zu: lower %.17g above its exact secant %.17g", tag, j, r.lower, sh);
      /* tight: the secant over a tiny step is the gradient norm at x */
      if (!(r.lower >= 0.99 * r.grad_norm)) fail_msg("%s row %zu: secant %.17g far below the gradient norm %.17g", tag, j, r.lower, r.grad_norm);
    }
    if (getenv("LIPLOCAL_DEBUG")) fprintf(stderr, "%s row %zu: upper %g lower %g grad %g attained %d\n", tag, j, r.upper, r.lower, r.grad_norm, r.attained);
    assert_true(r.nodes <= nodes || nodes <= 1);
  }
  lip_result_free(lr);
  grad_free(gr);
  bnet_free(&bn);
  free(x0); free(x); free(pt); free(G); free(c);
}

/* f(x) = relu(w.x) + relu(-w.x) = |w.x| centred on w.x = 0 with no random
   samples: the only point is on a kink and its double gradient is 0, so no
   secant is positive: lower 0, not attained (no point claimed), upper >= ||w||_*. */
static void check_local_kink(void)
{
  int64_t d[2] = {1, 4};
  cb_net *net = start(2, d);
  int h = dense(net, 0, 2), out;
  cb_bnet bn;
  cb_error err = {0};
  double x0[4] = {0.25, -0.5, 0.125, 0.75}, pt[8], c[1] = {1}, w[4] = {1, 2, 0, -1}, z = 0;
  cb_set s = {CB_NORM_2, 0.5, 4, x0, NULL, NULL};
  cb_ws *ws;
  liplocal_opts o;
  liplocal_result r;
  for (int k = 0; k < 4; k++) { net->node[h].p.aff.W[k] = w[k]; net->node[h].p.aff.W[4 + k] = -w[k]; z += w[k] * x0[k]; }
  net->node[h].p.aff.b[0] = -z;   /* exact: z is a short dyadic */
  net->node[h].p.aff.b[1] = z;
  out = dense(net, act(net, h, CB_ACT_RELU), 1);
  net->node[out].p.aff.W[0] = net->node[out].p.aff.W[1] = 1;
  net->node[out].p.aff.b[0] = 0;
  net->output = out;
  assert_int_equal(net_check(net, &err), CB_OK);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  ws = ws_new(&bn, &s, &err);
  assert_non_null(ws);
  assert_int_equal(bounds_run(ws, CB_CROWN, &err), CB_OK);
  liplocal_opts_init(&o);
  o.samples = 0;
  o.max_nodes = 16;
  assert_int_equal(liplocal_row(ws, c, NULL, &o, &r, pt, &err), CB_OK);
  assert_int_equal(r.attained, 0);
  assert_true(r.lower == 0);
  assert_true(r.upper >= sqrt(6.0));
  ws_free(ws);
  bnet_free(&bn);
  cb_net_free(net);
}

/* A pre-activation read by a ReLU and a tanh (summed): its units must not be
   split (the tanh would read the overwritten bounds). */
static cb_net *net_shared_pre(void)
{
  int64_t d[2] = {1, 4}, d6[2] = {1, 6};
  cb_net *net = start(2, d);
  int h = dense(net, 0, 6), a = act(net, h, CB_ACT_RELU), b = act(net, h, CB_ACT_TANH), in2[2], sum;
  cb_shape s;
  cb_error err = {0};
  in2[0] = a; in2[1] = b;
  shape_set(&s, 2, d6);
  sum = net_add(net, CB_ADD, "add", "Add", in2, 2, &s, &err);
  dense(net, act(net, dense(net, sum, 5), CB_ACT_RELU), 3);
  return net;
}

static void test_liplocal_sound(void **st)
{
  static const cb_norm norms[3] = {CB_NORM_2, CB_NORM_INF, CB_NORM_1};
  (void)st;
  check_local_kink();
  for (int t = 0; t < 2; t++)
    for (int m = 0; m < 3; m++) {
      cb_net *a = net_deep(2, 6, 0, 0), *b = net_deep(3, 4, 1, 0), *c = net_conv();
      cb_error err = {0};
      for (int k = 0; k < 3; k++) {
        cb_net *net = k == 0 ? a : k == 1 ? b : c;
        net->output = net->n - 1;
        assert_int_equal(net_check(net, &err), CB_OK);
      }
      check_local(a, norms[m], m == 1 ? 0.3 : 0.6, 200, "relu chain");
      check_local(a, norms[m], 0.6, 1, "relu chain, no split");
      check_local(b, norms[m], m == 1 ? 0.3 : 0.6, 50, "leaky chain");
      check_local(c, norms[m], m == 1 ? 0.05 : 0.3, 30, "conv");
      cb_net_free(a); cb_net_free(b); cb_net_free(c);
    }
  for (int t = 0; t < 2; t++) {
    cb_net *r = net_residual(), *h = net_shared_pre();
    cb_error err = {0};
    r->output = r->n - 1;
    h->output = h->n - 1;
    assert_int_equal(net_check(r, &err), CB_OK);
    assert_int_equal(net_check(h, &err), CB_OK);
    check_local(r, CB_NORM_2, 0.3, 40, "residual");
    check_local(h, CB_NORM_2, 0.8, 100, "shared pre-activation");
    check_local(h, CB_NORM_INF, 0.5, 100, "shared pre-activation");
    cb_net_free(r); cb_net_free(h);
  }
}

/* The radius search with brackets and shells on digits_mlp / digits_cnn: never
   below the plain search, and PGD inside the certified ball finds no
   counterexample (the certify side of the local constants). */
static void test_liplocal_radius(void **st)
{
  static const char *nets[2] = {"nets/digits_mlp.onnx", "nets/digits_cnn.onnx"};
  cb_data *d;
  cb_error err = {0};
  double C[90], gain[2] = {0, 0};
  (void)st;
  if (access("nets/digits_test20.csv", R_OK)) { skip(); return; }
  d = must_csv("nets/digits_test20.csv", 64);
  for (int k = 0; k < 2; k++) {
    cb_net *net = must_load(nets[k]);
    cb_bnet bn;
    lip_opts lo;
    lip_result *lr = NULL;
    size_t no = cb_net_output_size(net), n = cb_net_input_size(net);
    assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
    lip_opts_init(&lo);
    lo.norm = CB_NORM_2;
    assert_int_equal(lip_analyze(net, &lo, &lr, &err), CB_OK);
    for (size_t row = 0; row < (k ? 3u : 6u); row++) {
      const double *x0 = cb_data_x(d, row);
      int label = cb_data_label(d, row);
      radius_lip_opts ro;
      radius_lip r0, r1;
      radius_lip_opts_init(&ro);
      if (radius_lip_search(&bn, lr, x0, label, &ro, &r0, &err) != CB_OK) fail_msg("%s: %s", nets[k], err.msg);
      ro.nodes = k ? 16 : 64;
      ro.shells = k ? 6 : 12;
      if (radius_lip_search(&bn, lr, x0, label, &ro, &r1, &err) != CB_OK) fail_msg("%s: %s", nets[k], err.msg);
      if (!(r1.radius >= r0.radius)) fail_msg("%s row %zu: bracketed radius %.17g below the plain %.17g", nets[k], row, r1.radius, r0.radius);
      gain[k] += r1.radius / fmax(r0.radius, 1e-300);
      if (r1.radius > 0) {
        cb_set s = {CB_NORM_2, r1.radius, n, x0, NULL, NULL};
        cb_attack_opt ao = CB_ATTACK_DEFAULT;
        double xb[64], gb;
        jac_margin_rows(no, label, C);
        if (attack_run(net, &s, C, NULL, no - 1, CB_AGG_MIN, 0.0, &ao, xb, &gb, &err) != CB_OK) fail_msg("%s: %s", nets[k], err.msg);
        if (!(gb > 0)) fail_msg("%s row %zu: attack found margin %.17g inside the certified radius %.9g", nets[k], row, gb, r1.radius);
      }
    }
    lip_result_free(lr);
    bnet_free(&bn);
    cb_net_free(net);
  }
  printf("liplocal radius: mean gain over the plain search x%.3f (mlp, 6 rows), x%.3f (cnn, 3 rows)\n", gain[0] / 6, gain[1] / 3);
  cb_data_free(d);
}

static void test_ref_mlp(void **st) { (void)st; ref_net("digits_mlp"); }
static void test_ref_cnn(void **st) { (void)st; ref_net("digits_cnn"); }
static void test_ref_tanh(void **st) { (void)st; ref_net("digits_tanh"); }
static void test_ref_orth(void **st) { (void)st; ref_net("digits_orth"); }

/* Radius search in L-inf and L1 (and with IBP bounds): never below the global
   radius, and PGD finds no counterexample inside the certified ball. */
static void test_radius_norms(void **st)
{
  static const char *nets[2] = {"nets/digits_mlp.onnx", "nets/digits_cnn.onnx"};
  static const cb_norm norms[2] = {CB_NORM_INF, CB_NORM_1};
  cb_data *d = must_csv("nets/digits_test20.csv", 64);
  cb_error err = {0};
  double C[90], gmin = HUGE_VAL, gain = 0;
  int count = 0;
  (void)st;
  for (int k = 0; k < 2; k++) {
    cb_net *net = must_load(nets[k]);
    cb_bnet bn;
    assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
    for (int m = 0; m < 2; m++) {
      lip_opts lo;
      lip_result *lr = NULL;
      radius_lip_opts ro;
      lip_opts_init(&lo);
      lo.norm = norms[m];
      assert_int_equal(lip_analyze(net, &lo, &lr, &err), CB_OK);
      radius_lip_opts_init(&ro);
      ro.method = m ? CB_IBP : CB_CROWN;
      for (size_t row = 0; row < 6; row++) {
        const double *x0 = cb_data_x(d, row);
        int label = cb_data_label(d, row);
        radius_lip r;
        if (radius_lip_search(&bn, lr, x0, label, &ro, &r, &err) != CB_OK) fail_msg("%s", err.msg);
        assert_true(r.radius >= r.radius_global);
        if (r.radius > 0) {
          cb_set s = {norms[m], r.radius, 64, x0, NULL, NULL};
          cb_attack_opt ao = CB_ATTACK_DEFAULT;
          double xb[64], gb;
          jac_margin_rows(10, label, C);
          if (attack_run(net, &s, C, NULL, 9, CB_AGG_MIN, 0.0, &ao, xb, &gb, &err) != CB_OK) fail_msg("%s", err.msg);
          if (!(gb > 0)) fail_msg("%s norm %d row %zu: attack margin %.17g inside radius %.9g", nets[k], m, row, gb, r.radius);
          gmin = fmin(gmin, gb);
          gain += r.radius / fmax(r.radius_global, 1e-300);
          count++;
        }
      }
      lip_result_free(lr);
    }
    bnet_free(&bn);
    cb_net_free(net);
  }
  printf("L-inf (CROWN) and L1 (IBP) radii: %d rows, mean radius / global radius %.3g, PGD smallest margin %.4g\n",
         count, gain / count, gmin);
  cb_data_free(d);
}

/* Bad input: a ball with eps < 0, a box set for margins, a label out of range. */
static void test_bad(void **st)
{
  cb_net *net = must_load("nets/digits_mlp.onnx");
  cb_bnet bn;
  cb_error err = {0};
  double x[64] = {0}, m_lo[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, lb[9];
  cb_set s = {CB_NORM_2, -0.1, 64, x, NULL, NULL}, box = {CB_NORM_BOX, 0, 64, NULL, x, x};
  cb_ws *ws;
  (void)st;
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  ws = ws_new(&bn, &s, &err);
  assert_int_equal(bounds_run(ws, CB_IBP, &err), CB_EUSAGE);
  assert_non_null(strstr(err.msg, "eps must be"));
  ws_free(ws);
  cb_error_clear(&err);
  ws = ws_new(&bn, &box, &err);
  assert_int_equal(bounds_run(ws, CB_IBP, &err), CB_OK);
  assert_int_equal(jac_margin_lb(ws, 0, NULL, m_lo, lb, NULL, &err), CB_EUSAGE);
  assert_non_null(strstr(err.msg, "a ball"));
  ws_free(ws);
  cb_error_clear(&err);
  s.eps = 0.1;
  ws = ws_new(&bn, &s, &err);
  assert_int_equal(bounds_run(ws, CB_IBP, &err), CB_OK);
  assert_int_equal(jac_margin_lb(ws, 10, NULL, m_lo, lb, NULL, &err), CB_EUSAGE);
  assert_non_null(strstr(err.msg, "a valid label"));
  ws_free(ws);
  bnet_free(&bn);
  cb_net_free(net);
}

static char cerbere[1024];

/* The CLI (cerbere jacobian, run as a process) end to end: JSON fields,
   gradient inside the interval, capped L <= interval L, radius >= global
   radius; without a ball, no ball fields. */
static void test_cli(void **st)
{
  char out[] = "/tmp/cb_jac_XXXXXX";
  cJSON *j, *s;
  int fd = mkstemp(out);
  (void)st;
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(cerbere_run(cerbere, "jacobian nets/digits_cnn.onnx --data nets/digits_test20.csv --norm 2 --eps 0.05 "
                                        "--rows 2:5 --quiet --json %s", out), 0);
  assert_non_null(j = load_json(out));
  assert_int_equal(cJSON_GetObjectItem(j, "n_samples")->valueint, 3);
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(j, "samples")) {
    cJSON *g = cJSON_GetObjectItem(s, "gradient"), *lo = cJSON_GetObjectItem(s, "jacobian_lb"), *hi = cJSON_GetObjectItem(s, "jacobian_ub");
    assert_int_equal(cJSON_GetArraySize(g), 9);
    for (int r = 0; r < 9; r++) {
      cJSON *gr = cJSON_GetArrayItem(g, r), *lr = cJSON_GetArrayItem(lo, r), *hr = cJSON_GetArrayItem(hi, r);
      assert_int_equal(cJSON_GetArraySize(gr), 64);
      for (int k = 0; k < 64; k++) {
        double v = cJSON_GetArrayItem(gr, k)->valuedouble;
        assert_true(cJSON_GetArrayItem(lr, k)->valuedouble <= v && v <= cJSON_GetArrayItem(hr, k)->valuedouble);
      }
      assert_true(cJSON_GetArrayItem(cJSON_GetObjectItem(s, "local_lipschitz"), r)->valuedouble <=
                  cJSON_GetArrayItem(cJSON_GetObjectItem(s, "local_lipschitz_interval"), r)->valuedouble);
    }
    assert_true(cJSON_GetObjectItem(s, "certified_radius_local")->valuedouble >= cJSON_GetObjectItem(s, "certified_radius_global")->valuedouble);
    assert_true(cJSON_GetObjectItem(s, "certified_radius_global")->valuedouble > 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s, "local_lipschitz_logits")), 10);
    assert_true(cJSON_GetObjectItem(s, "lipschitz_operator")->valuedouble <= cJSON_GetObjectItem(j, "K_global")->valuedouble * (1 + 1e-15));
  }
  cJSON_Delete(j);
  assert_int_equal(cerbere_run(cerbere, "jacobian nets/digits_tanh.onnx --data nets/digits_test20.csv --rows 0:2 --quiet --json %s", out), 0);
  assert_non_null(j = load_json(out));
  s = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "samples"), 1);
  assert_non_null(cJSON_GetObjectItem(s, "gradient"));
  assert_null(cJSON_GetObjectItem(s, "jacobian_lb"));
  assert_null(cJSON_GetObjectItem(s, "certified_radius_local"));
  cJSON_Delete(j);
  unlink(out);
}

/* Failing-allocator sweep: jac_interval on a net of every kind (random
   residual net) and the radius search on digits_mlp return CB_ENOMEM with a
   message at every failure point, until they succeed (leaks: make asan). */
static void test_oom(void **st)
{
  cb_net *net = net_residual(), *mlp = must_load("nets/digits_mlp.onnx");
  cb_data *d = must_csv("nets/digits_test20.csv", 64);
  cb_bnet bn, bm;
  lip_result *lr = NULL;
  lip_opts lo;
  radius_lip_opts ro;
  cb_error err = {0};
  size_t n, no;
  double *x0, C[25], *jl, *jh;
  int k, m;
  (void)st;
  net->output = net->n - 1;
  n = cb_net_input_size(net);
  no = cb_net_output_size(net);
  x0 = calloc(n, sizeof *x0);
  jl = malloc(5 * n * sizeof *jl);
  jh = malloc(5 * n * sizeof *jh);
  for (size_t j = 0; j < 25; j++) C[j] = j % 6 == 0;
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  assert_int_equal(bnet_init(&bm, mlp, &err), CB_OK);
  lip_opts_init(&lo);
  assert_int_equal(lip_analyze(mlp, &lo, &lr, &err), CB_OK);
  radius_lip_opts_init(&ro);
  ro.steps = 3;
  {
    cb_set s = {CB_NORM_INF, 0.1, n, x0, NULL, NULL};
    cb_ws *ws = ws_new(&bn, &s, &err);
    assert_int_equal(bounds_run(ws, CB_CROWN, &err), CB_OK);
    for (k = 0; k < 10000; k++) {
      int rc;
      cb_error_clear(&err);
      cb_alloc_fail_after(k);
      rc = jac_interval(ws, C, no, jl, jh, &err);
      cb_alloc_fail_after(-1);
      if (rc == CB_OK) break;
      assert_int_equal(rc, CB_ENOMEM);
      assert_non_null(strstr(err.msg, "out of memory"));
    }
    ws_free(ws);
  }
  for (m = 0; m < 100000; m++) {
    radius_lip r;
    int rc;
    cb_error_clear(&err);
    cb_alloc_fail_after(m);
    rc = radius_lip_search(&bm, lr, cb_data_x(d, 0), cb_data_label(d, 0), &ro, &r, &err);
    cb_alloc_fail_after(-1);
    if (rc == CB_OK) break;
    if (rc != CB_ENOMEM) fail_msg("failing allocation %d: status %d: %s", m, rc, err.msg);
    assert_true(err.msg[0] != 0);
  }
  printf("jac_interval: %d, radius_lip_search: %d allocation failure points, all reported\n", k, m);
  lip_result_free(lr);
  bnet_free(&bn);
  bnet_free(&bm);
  cb_net_free(net);
  cb_net_free(mlp);
  cb_data_free(d);
  free(x0); free(jl); free(jh);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sound_dense), cmocka_unit_test(test_sound_conv), cmocka_unit_test(test_sound_residual), cmocka_unit_test(test_sound_groupsort),
    cmocka_unit_test(test_sound_ln_ops), cmocka_unit_test(test_sound_resize), cmocka_unit_test(test_sound_ln17),
    cmocka_unit_test(test_ref_mlp), cmocka_unit_test(test_ref_cnn), cmocka_unit_test(test_ref_tanh),
    cmocka_unit_test(test_ref_orth), cmocka_unit_test(test_radius_norms), cmocka_unit_test(test_bad), cmocka_unit_test(test_cli),
    cmocka_unit_test(test_oom), cmocka_unit_test(test_liplocal_sound), cmocka_unit_test(test_liplocal_radius),
  };
  (void)argc;
  cerbere_bin(argv[0], cerbere, sizeof cerbere);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
