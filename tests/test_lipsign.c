/*
** The sign-split Lipschitz bracket (lip/lipsign.h) against an exact value
** computed here, zero tolerance, on random nets with at most 14 hidden units
** (ReLU chains of two and three hidden layers, GroupSort chains with groups
** of 2, 3 and 4, one and two outputs), over boxes and over the whole space (--domain all):
**   exact = the largest ||J_P||_2 over the activation patterns P whose region
**     has an interior point, found by enumerating the patterns unit by unit
**     with an independent GLPK margin LP per prefix (x in [-B, B]^n, B = 1e4
**     for the whole space: every region of these nets meets that box);
**   lower <= exact <= upper;
**   upper >= the gradient norm at 20,000 random points;
**   lower <= ||f(y) - f(x)|| / ||y - x|| recomputed here in exact arithmetic
**     at the two reported points (the lower is attained);
**   with no node budget the gap target (1e-6) is reached.
** And the refusal of nets outside the covered form.
*/
#include <float.h>
#include <glpk.h>
#include <gmp.h>
#include "testutil.h"
#include "randnet.h"
#include "exact.h"
#include "grad.h"
#include "lipsign.h"
#include "round.h"

#define MAXU 32
#define MAXW 16

typedef struct ref {
  const cb_net *net;
  int nl;
  const cb_node *aff[8];
  int act[8];            /* 0 relu, 1 sort groups (inner 1, ascending), -1 none */
  int g[8];              /* sort: group size */
  size_t n, m;
  double B, lo, hi;      /* the box: [lo, hi] (boxed) or [-B, B] */
  double best;
  long regions;
} ref;

static cb_norm g_norm = CB_NORM_2;   /* the norm the checks use (check() sets the engine's to it) */

/* ||J||, the norm induced by g_norm, of the m x n matrix J (row stride ld) in
   double: L2 for m <= 2 (closed form), L-inf the largest row sum of |J|, L1
   the largest column sum. */
static double op_norm(const double *J, size_t ld, size_t m, size_t n)
{
  double best = 0;
  if (g_norm == CB_NORM_INF)
    for (size_t i = 0; i < m; i++) { double s = 0; for (size_t q = 0; q < n; q++) s += fabs(J[i * ld + q]); best = fmax(best, s); }
  else if (g_norm == CB_NORM_1)
    for (size_t q = 0; q < n; q++) { double s = 0; for (size_t i = 0; i < m; i++) s += fabs(J[i * ld + q]); best = fmax(best, s); }
  else if (m == 1) { double s = 0; for (size_t q = 0; q < n; q++) s += J[q] * J[q]; best = sqrt(s); }
  else {
    double a = 0, b = 0, d = 0;
    assert_int_equal(m, 2);
    for (size_t q = 0; q < n; q++) { a += J[q] * J[q]; b += J[q] * J[ld + q]; d += J[ld + q] * J[ld + q]; }
    best = sqrt(0.5 * (a + d) + sqrt(0.25 * (a - d) * (a - d) + b * b));
  }
  return best;
}

static cb_net *ready(cb_net *net)
{
  cb_error err = {0};
  net->output = net->n - 1;
  assert_int_equal(net_check(net, &err), CB_OK);
  return net;
}

static void parse_net(ref *R, const cb_net *net)
{
  R->net = net; R->nl = 0;
  for (int i = 1; i < net->n; i++) {
    const cb_node *nd = &net->node[i];
    if (nd->kind == CB_AFFINE) { R->aff[R->nl] = nd; R->act[R->nl] = -1; R->nl++; }
    else if (node_is_act(nd, CB_ACT_RELU)) R->act[R->nl - 1] = 0;
    else if (nd->kind == CB_SORT) {
      assert_true(nd->p.sort.inner == 1 && !nd->p.sort.desc);
      R->act[R->nl - 1] = 1; R->g[R->nl - 1] = (int)nd->p.sort.g;
    }
    else fail_msg("unexpected node");
  }
  R->n = cb_net_input_size(net);
  R->m = cb_net_output_size(net);
}

static int layer_units(const ref *R, int k)
{
  int w = (int)R->aff[k]->p.aff.out;
  return R->act[k] == 0 ? w : w / R->g[k] * (R->g[k] * (R->g[k] - 1) / 2);
}

/* Affine maps of every layer's pre-activations (M: rows x n, c) for the
   states st of the layers below; returns rows. */
static void maps(const ref *R, const int *st, int upto, double M[][MAXW][MAXW], double c[][MAXW])
{
  size_t n = R->n;
  double A[MAXW][MAXW], a[MAXW];
  for (int k = 0; k <= upto; k++) {
    const cb_node *L = R->aff[k];
    size_t in = L->p.aff.in, out = L->p.aff.out;
    if (k == 0) {
      for (size_t i = 0; i < out; i++) { for (size_t q = 0; q < n; q++) M[0][i][q] = L->p.aff.W[i * in + q]; c[0][i] = L->p.aff.b[i]; }
      continue;
    }
    /* post-activations of layer k - 1 */
    {
      int u0 = 0;
      for (int kk = 0; kk < k - 1; kk++) u0 += layer_units(R, kk);
      if (R->act[k - 1] == 0)
        for (size_t j = 0; j < in; j++) {
          double keep = st[u0 + (int)j];
          for (size_t q = 0; q < n; q++) A[j][q] = keep * M[k - 1][j][q];
          a[j] = keep * c[k - 1][j];
        }
      else {
        /* member m of a group goes to position = how many members are below it */
        int g = R->g[k - 1], u = u0;
        for (size_t base = 0; base < in; base += (size_t)g) {
          int rank[8] = {0};
          for (int m1 = 0; m1 < g; m1++)
            for (int m2 = m1 + 1; m2 < g; m2++, u++) rank[st[u] ? m1 : m2]++;
          for (int m = 0; m < g; m++) {
            for (size_t q = 0; q < n; q++) A[base + (size_t)rank[m]][q] = M[k - 1][base + (size_t)m][q];
            a[base + (size_t)rank[m]] = c[k - 1][base + (size_t)m];
          }
        }
      }
    }
    for (size_t i = 0; i < out; i++) {
      double s = L->p.aff.b[i];
      for (size_t q = 0; q < n; q++) M[k][i][q] = 0;
      for (size_t j = 0; j < in; j++) {
        double w = L->p.aff.W[i * in + j];
        s += w * a[j];
        for (size_t q = 0; q < n; q++) M[k][i][q] += w * A[j][q];
      }
      c[k][i] = s;
    }
  }
}

/* GLPK: max t s.t. row_i . x + c_i >= ||row_i|| t, x in the box, t <= 1. */
static double margin(const ref *R, double rows[][MAXW], const double *cs, int nr)
{
  glp_prob *P = glp_create_prob();
  glp_smcp parm;
  int ia[MAXU * (MAXW + 1) + 1], ja[MAXU * (MAXW + 1) + 1], k = 0;
  double ar[MAXU * (MAXW + 1) + 1], t = -1;
  size_t n = R->n;
  glp_term_out(GLP_OFF);
  glp_set_obj_dir(P, GLP_MAX);
  glp_add_cols(P, (int)n + 1);
  for (size_t q = 0; q < n; q++)
    glp_set_col_bnds(P, (int)q + 1, GLP_DB, R->lo, R->hi);
  glp_set_col_bnds(P, (int)n + 1, GLP_UP, 0, 1);
  glp_set_obj_coef(P, (int)n + 1, 1);
  if (nr) glp_add_rows(P, nr);
  for (int i = 0; i < nr; i++) {
    double nn = 0;
    for (size_t q = 0; q < n; q++) nn += rows[i][q] * rows[i][q];
    nn = sqrt(nn);
    glp_set_row_bnds(P, i + 1, GLP_LO, -cs[i], 0);
    for (size_t q = 0; q < n; q++) { k++; ia[k] = i + 1; ja[k] = (int)q + 1; ar[k] = rows[i][q]; }
    k++; ia[k] = i + 1; ja[k] = (int)n + 1; ar[k] = -(nn > 0 ? nn : 1);
  }
  glp_load_matrix(P, k, ia, ja, ar);
  glp_init_smcp(&parm);
  parm.msg_lev = GLP_MSG_OFF;
  if (glp_simplex(P, &parm) == 0 && glp_get_status(P) == GLP_OPT) t = glp_get_obj_val(P);
  glp_delete_prob(P);
  return t;
}

static double jac_norm(const ref *R, const int *st)
{
  double M[8][MAXW][MAXW], c[8][MAXW];
  maps(R, st, R->nl - 1, M, c);
  return op_norm(&M[R->nl - 1][0][0], MAXW, R->m, R->n);
}

static int n_units(const ref *R)
{
  int u = 0;
  for (int k = 0; k + 1 < R->nl; k++) u += layer_units(R, k);
  return u;
}

/* Depth-first over units: a prefix is kept when its region has an interior point. */
static void enumerate(ref *R, int *st, int u, int U)
{
  double rows[MAXU][MAXW], cs[MAXU], M[8][MAXW][MAXW], c[8][MAXW];
  if (u == U) { double v = jac_norm(R, st); R->regions++; if (v > R->best) R->best = v; return; }
  for (int s = 0; s <= 1; s++) {
    int nr = 0, uu = 0;
    st[u] = s;
    /* rows of every unit 0..u: layers fully fixed below each */
    for (int k = 0; k + 1 < R->nl && uu <= u; k++) {
      int nuk = layer_units(R, k), ia[MAXU], ib[MAXU], t = 0;
      maps(R, st, k, M, c);
      if (R->act[k] == 0) for (int j = 0; j < nuk; j++) { ia[j] = j; ib[j] = -1; }
      else
        for (int base = 0; base < (int)R->aff[k]->p.aff.out; base += R->g[k])
          for (int m1 = 0; m1 < R->g[k]; m1++)
            for (int m2 = m1 + 1; m2 < R->g[k]; m2++, t++) { ia[t] = base + m1; ib[t] = base + m2; }
      for (int j = 0; j < nuk && uu <= u; j++, uu++) {
        double sg = st[uu] ? 1 : -1;
        for (size_t q = 0; q < R->n; q++)
          rows[nr][q] = sg * (ib[j] < 0 ? M[k][ia[j]][q] : M[k][ia[j]][q] - M[k][ib[j]][q]);
        cs[nr] = sg * (ib[j] < 0 ? c[k][ia[j]] : c[k][ia[j]] - c[k][ib[j]]);
        nr++;
      }
    }
    if (margin(R, rows, cs, nr) > 1e-7) enumerate(R, st, u + 1, U);
  }
}

static double exact_value(const cb_net *net, double lo, double hi, long *regions)
{
  ref R;
  int st[MAXU] = {0};
  memset(&R, 0, sizeof R);
  parse_net(&R, net);
  R.lo = lo; R.hi = hi;
  assert_true(n_units(&R) <= 14);
  enumerate(&R, st, 0, n_units(&R));
  *regions = R.regions;
  return R.best;
}

/* An upper enclosure of ||f(y) - f(x)|| / ||y - x|| in exact arithmetic. */
static double secant_hi(const cb_net *net, const double *x, const double *y, long row)
{
  cb_exact *ex = NULL, *ey = NULL;
  cb_error err = {0};
  size_t n = cb_net_input_size(net), m = cb_net_output_size(net);
  double num = 0, den = 0;
  assert_int_equal(exact_eval(net, x, &ex, &err), CB_OK);
  assert_int_equal(exact_eval(net, y, &ey, &err), CB_OK);
  for (size_t j = 0; j < m; j++) {
    double axl, axh, ayl, ayh, d;
    if (row >= 0 && (long)j != row) continue;
    exact_output(ex, j, &axl, &axh);
    exact_output(ey, j, &ayl, &ayh);
    d = fmax(fabs(ayh - axl), fabs(axh - ayl)) * (1 + 1e-15);
    if (g_norm == CB_NORM_INF) num = fmax(num, d);
    else if (g_norm == CB_NORM_1) num += d * (1 + 1e-15);
    else num += d * d * (1 + 1e-15);
  }
  for (size_t q = 0; q < n; q++) {
    double d = fabs(y[q] - x[q]) * (1 - 1e-15);
    if (g_norm == CB_NORM_INF) den = fmax(den, d);
    else if (g_norm == CB_NORM_1) den += d * (1 - 1e-15);
    else den += d * d * (1 - 1e-15);
  }
  if (g_norm == CB_NORM_2) { num = sqrt(num); den = sqrt(den); }
  exact_free(ex); exact_free(ey);
  return num * (1 + 1e-15) / (den * (1 - 1e-15));
}

/* The Jacobian's L2 norm at p (double), rows 0..m-1 (m <= 2) or row. */
static double grad_norm(cb_grad *g, const double *p, size_t n, size_t m, long row)
{
  double G[2][MAXW], c[2] = {0, 0};
  cb_error err = {0};
  size_t mm = row >= 0 ? 1 : m;
  for (size_t j = 0; j < mm; j++) {
    c[0] = c[1] = 0; c[row >= 0 ? row : (long)j] = 1;
    assert_int_equal(grad_eval(g, p, c, 1, G[j], NULL, &err), CB_OK);
  }
  return op_norm(&G[0][0], MAXW, mm, n);
}

static void check(const cb_net *net, int boxed, double lo, double hi, long row, long max_nodes)
{
  size_t n = cb_net_input_size(net), m = cb_net_output_size(net);
  double blo[MAXW], bhi[MAXW], x[MAXW], y[MAXW], p[MAXW], ex, smax = 0;
  long regions = 0;
  lip_sign_opts o;
  lip_sign_result r;
  cb_error err = {0};
  cb_grad *g = grad_new(net, 1, &err);
  uint64_t s = 99;
  assert_non_null(g);
  for (size_t q = 0; q < n; q++) { blo[q] = lo; bhi[q] = hi; }
  lip_sign_opts_init(&o);
  o.gap = 1e-6;
  o.max_nodes = max_nodes;
  o.row = row;
  o.norm = g_norm;
  if (boxed) { o.lo = blo; o.hi = bhi; }
  assert_int_equal(lip_sign_bab(net, &o, &r, x, y, &err), CB_OK);
  if (row >= 0) {
    /* the reference enumerates the whole Jacobian: compare on a one-output view */
    ex = -1;
  } else ex = exact_value(net, boxed ? lo : -1e4, boxed ? hi : 1e4, &regions);
  if (ex >= 0) {
    if (!(r.lower <= ex && ex <= r.upper))
      fail_msg("bracket [%.17g, %.17g] misses the exact %.17g (%ld regions)", r.lower, r.upper, ex, regions);
    if (max_nodes > 100000 && !(r.upper - r.lower <= 1e-6 * r.upper))
      fail_msg("gap not reached: [%.17g, %.17g], exact %.17g, stop %s", r.lower, r.upper, ex, r.stop);
    {   /* without the tail-times-head bounds and the warm start: a bracket too */
      lip_sign_opts o2 = o;
      lip_sign_result r2;
      double x2[MAXW], y2[MAXW];
      o2.no_head = 1; o2.no_warm = 1;
      assert_int_equal(lip_sign_bab(net, &o2, &r2, x2, y2, &err), CB_OK);
      if (!(r2.lower <= ex && ex <= r2.upper))
        fail_msg("plain bracket [%.17g, %.17g] misses the exact %.17g", r2.lower, r2.upper, ex);
    }
  }
  for (int t = 0; t < 20000; t++) {
    double sc = boxed ? 1 : (t % 3 == 0 ? 1 : t % 3 == 1 ? 10 : 100);
    for (size_t q = 0; q < n; q++) p[q] = boxed ? lo + (hi - lo) * urand(&s) : sc * (2 * urand(&s) - 1);
    smax = fmax(smax, grad_norm(g, p, n, m, row));
  }
  if (!(smax <= r.upper)) fail_msg("sampled %.17g above the upper %.17g", smax, r.upper);
  assert_true(r.lower <= secant_hi(net, x, y, row));
  if (boxed) for (size_t q = 0; q < n; q++) assert_true(x[q] >= lo && x[q] <= hi && y[q] >= lo && y[q] <= hi);
  grad_free(g);
}

static cb_net *relu_net(size_t in, size_t w, int depth, size_t out)
{
  int64_t d[2] = {1, (int64_t)in};
  cb_net *net = start(2, d);
  int i = 0;
  for (int k = 0; k < depth; k++) i = act(net, dense(net, i, w), CB_ACT_RELU);
  dense(net, i, out);
  return ready(net);
}

static cb_net *gs_net_o(size_t in, size_t w, int depth, size_t out, int g, int desc)
{
  int64_t d[2] = {1, (int64_t)in};
  cb_net *net = start(2, d);
  int i = 0;
  for (int k = 0; k < depth; k++) i = sortg(net, dense(net, i, w), g, 1, desc);
  dense(net, i, out);
  return ready(net);
}

static cb_net *gs_net(size_t in, size_t w, int depth, size_t out, int g) { return gs_net_o(in, w, depth, out, g, 0); }

static void test_relu(void **state)
{
  (void)state;
  for (int t = 0; t < 3; t++) {
    cb_net *a = relu_net(4, 6, 2, 1), *b = relu_net(3, 7, 2, 2), *c = relu_net(3, 4, 3, 1);
    check(a, 0, 0, 0, -1, 1000000);
    check(a, 1, -1, 1, -1, 1000000);
    check(a, 0, 0, 0, -1, 5);          /* a small budget: still a bracket */
    check(b, 0, 0, 0, -1, 1000000);
    check(b, 1, -2, 1, -1, 1000000);
    check(b, 0, 0, 0, 1, 1000000);     /* one row: sampled and attained only */
    check(c, 0, 0, 0, -1, 1000000);
    check(c, 1, -0.5, 0.5, -1, 30);
    cb_net_free(a); cb_net_free(b); cb_net_free(c);
  }
}

static void test_groupsort(void **state)
{
  (void)state;
  for (int t = 0; t < 3; t++) {
    cb_net *a = gs_net(3, 6, 2, 1, 2), *b = gs_net(4, 8, 2, 2, 2), *c = gs_net(3, 4, 3, 1, 2);
    cb_net *e = gs_net(3, 6, 2, 1, 3), *f = gs_net(4, 4, 1, 2, 4);   /* 12 and 6 pair units */
    cb_net *h = gs_net(3, 4, 2, 1, 4);   /* 12 pair units: the order enumerations of a group of 4
                                            (head completions, last layer) */
    check(a, 0, 0, 0, -1, 1000000);
    check(a, 1, -1, 1, -1, 1000000);
    check(b, 0, 0, 0, -1, 1000000);
    check(b, 0, 0, 0, -1, 4);
    check(c, 0, 0, 0, -1, 1000000);
    check(e, 0, 0, 0, -1, 1000000);
    check(e, 1, -1, 1, -1, 1000000);
    check(f, 0, 0, 0, -1, 1000000);
    check(e, 0, 0, 0, -1, 20);
    check(h, 0, 0, 0, -1, 1000000);
    check(h, 1, -1, 1, -1, 1000000);
    check(h, 0, 0, 0, -1, 6);
    {   /* larger first (the reference enumeration is ascending only): sampled and attained */
      cb_net *hd = gs_net_o(3, 4, 2, 1, 4, 1), *ed = gs_net_o(3, 6, 2, 1, 3, 1);
      check(hd, 0, 0, 0, 0, 1000000);
      check(ed, 1, -1, 1, 0, 1000000);
      cb_net_free(hd); cb_net_free(ed);
    }
    cb_net_free(a); cb_net_free(b); cb_net_free(c); cb_net_free(e); cb_net_free(f); cb_net_free(h);
  }
}

/* L-inf and L1 (the induced operator norms; one row: the gradient's dual
   norm): the same exact enumeration, zero tolerance, on ReLU and GroupSort
   nets over boxes and the whole space, with and without the head bounds. */
static void test_norms(void **state)
{
  (void)state;
  for (int nm = 0; nm < 2; nm++) {
    g_norm = nm ? CB_NORM_1 : CB_NORM_INF;
    for (int t = 0; t < 2; t++) {
      cb_net *a = relu_net(4, 6, 2, 1), *b = relu_net(3, 7, 2, 2), *c = relu_net(3, 4, 3, 1);
      cb_net *e = gs_net(4, 8, 2, 2, 2), *f = gs_net(3, 6, 2, 1, 3), *h = gs_net(3, 4, 2, 1, 4);
      check(a, 0, 0, 0, -1, 1000000);
      check(a, 1, -1, 1, -1, 1000000);
      check(a, 0, 0, 0, -1, 5);
      check(b, 0, 0, 0, -1, 1000000);
      check(b, 1, -2, 1, -1, 1000000);
      check(b, 0, 0, 0, 1, 1000000);
      check(c, 0, 0, 0, -1, 1000000);
      check(c, 1, -0.5, 0.5, -1, 30);
      check(e, 0, 0, 0, -1, 1000000);
      check(e, 1, -1, 1, -1, 1000000);
      check(e, 0, 0, 0, 0, 1000000);
      check(f, 0, 0, 0, -1, 1000000);
      check(f, 1, -1, 1, -1, 20);
      check(h, 0, 0, 0, -1, 1000000);
      check(h, 1, -1, 1, -1, 1000000);
      cb_net_free(a); cb_net_free(b); cb_net_free(c); cb_net_free(e); cb_net_free(f); cb_net_free(h);
    }
  }
  g_norm = CB_NORM_2;
}

/* Margins f_I - f_J (opts.margin_i/j) in the three norms.  (a) Output
   weights on a 2^-10 grid, so W_I - W_J is exact: the net with row I
   replaced by W_I - W_J (b_I - b_J) and every other row 0 has, in every
   norm, whole-Jacobian constant = the margin's; its enumeration is the
   exact value: lower <= exact <= upper, zero tolerance, gap reached.
   (b) Random output weights (W_I - W_J rounded: the row's radius path):
   upper >= 5,000 sampled margin-gradient norms, lower <= the secant. */
static double dual_norm(const double *g, size_t n)
{
  return op_norm(g, MAXW, 1, n);
}

static void margin_case(cb_net *net, long I, long J, int grid, int boxed)
{
  size_t n = cb_net_input_size(net), m = cb_net_output_size(net);
  cb_node *last = &net->node[net->n - 1];
  size_t w = last->p.aff.in;
  double blo[MAXW], bhi[MAXW], x[MAXW], y[MAXW], p[MAXW], G[MAXW], c[4] = {0, 0, 0, 0}, smax = 0;
  lip_sign_opts o;
  lip_sign_result r;
  cb_error err = {0};
  uint64_t sd = 7;
  if (grid)
    for (size_t k = 0; k < m * w; k++) last->p.aff.W[k] = round(last->p.aff.W[k] * 1024) / 1024;
  for (size_t q = 0; q < n; q++) { blo[q] = -1; bhi[q] = 1; }
  lip_sign_opts_init(&o);
  o.gap = 1e-6; o.norm = g_norm; o.margin_i = I; o.margin_j = J;
  if (boxed) { o.lo = blo; o.hi = bhi; }
  assert_int_equal(lip_sign_bab(net, &o, &r, x, y, &err), CB_OK);
  {   /* sampled margin gradients; the secant's upper enclosure */
    cb_grad *g = grad_new(net, 1, &err);
    cb_exact *ex = NULL, *ey = NULL;
    double a0, a1, b0, b1, c0, c1, d0, d1, num, den = 0;
    assert_non_null(g);
    c[I] = 1; c[J] = -1;
    for (int t = 0; t < 5000; t++) {
      double sc = boxed ? 1 : (t % 3 == 0 ? 1 : t % 3 == 1 ? 10 : 100);
      for (size_t q = 0; q < n; q++) p[q] = sc * (2 * urand(&sd) - 1);
      assert_int_equal(grad_eval(g, p, c, 1, G, NULL, &err), CB_OK);
      smax = fmax(smax, dual_norm(G, n));
    }
    grad_free(g);
    if (!(smax <= r.upper)) fail_msg("margin %ld:%ld: sampled %.17g above the upper %.17g", I, J, smax, r.upper);
    assert_int_equal(exact_eval(net, x, &ex, &err), CB_OK);
    assert_int_equal(exact_eval(net, y, &ey, &err), CB_OK);
    exact_output(ex, (size_t)I, &a0, &a1); exact_output(ex, (size_t)J, &b0, &b1);
    exact_output(ey, (size_t)I, &c0, &c1); exact_output(ey, (size_t)J, &d0, &d1);
    num = fmax(fabs((c1 - d0) - (a0 - b1)), fabs((c0 - d1) - (a1 - b0))) * (1 + 1e-14);
    for (size_t q = 0; q < n; q++) {
      double d = fabs(y[q] - x[q]) * (1 - 1e-15);
      if (g_norm == CB_NORM_INF) den = fmax(den, d); else if (g_norm == CB_NORM_1) den += d * (1 - 1e-15); else den += d * d * (1 - 1e-15);
    }
    if (g_norm == CB_NORM_2) den = sqrt(den) * (1 - 1e-15);
    if (!(r.lower <= num / den * (1 + 1e-14))) fail_msg("lower %.17g above the secant %.17g", r.lower, num / den);
    exact_free(ex); exact_free(ey);
  }
  if (grid) {   /* the reference net: row I := W_I - W_J (exact on the grid), others 0 */
    double ex;
    long regions = 0;
    for (size_t k = 0; k < w; k++) last->p.aff.W[(size_t)I * w + k] -= last->p.aff.W[(size_t)J * w + k];
    last->p.aff.b[I] -= last->p.aff.b[J];
    for (size_t j = 0; j < m; j++)
      if ((long)j != I) { for (size_t k = 0; k < w; k++) last->p.aff.W[j * w + k] = 0; last->p.aff.b[j] = 0; }
    ex = exact_value(net, boxed ? -1 : -1e4, boxed ? 1 : 1e4, &regions);
    if (!(r.lower <= ex && ex <= r.upper))
      fail_msg("margin %ld:%ld: bracket [%.17g, %.17g] misses the exact %.17g (%ld regions)", I, J, r.lower, r.upper, ex, regions);
    if (!(r.upper - r.lower <= 1e-6 * r.upper)) fail_msg("margin: gap not reached [%.17g, %.17g] stop %s", r.lower, r.upper, r.stop);
  }
}

static void test_margin(void **state)
{
  (void)state;
  for (int nm = 0; nm < 3; nm++) {
    g_norm = nm == 0 ? CB_NORM_2 : nm == 1 ? CB_NORM_INF : CB_NORM_1;
    for (int t = 0; t < 2; t++)
      for (int grid = 0; grid < 2; grid++)
        for (int boxed = 0; boxed < 2; boxed++) {
          cb_net *a = relu_net(3, 7, 2, 2), *b = gs_net(4, 8, 2, 2, 2), *c = gs_net(3, 6, 2, 2, 3);
          margin_case(a, 0, 1, grid, boxed);
          margin_case(b, 1, 0, grid, boxed);
          margin_case(c, 0, 1, grid, boxed);
          cb_net_free(a); cb_net_free(b); cb_net_free(c);
        }
  }
  g_norm = CB_NORM_2;
}

static void test_refusals(void **state)
{
  int64_t d[2] = {1, 4};
  cb_net *net = start(2, d);
  cb_error err = {0};
  (void)state;
  dense(net, act(net, dense(net, 0, 4), CB_ACT_SIGMOID), 1);
  ready(net);
  assert_int_equal(lip_sign_check(net, &err), CB_EUNSUP);
  assert_non_null(strstr(err.msg, "SIGMOID"));
  cb_net_free(net);
  net = start(2, d);
  dense(net, act(net, dense(net, 0, 4), CB_ACT_LEAKY_RELU), 1);
  ready(net);
  cb_error_clear(&err);
  assert_int_equal(lip_sign_check(net, &err), CB_EUNSUP);
  assert_non_null(strstr(err.msg, "node 2"));
  cb_net_free(net);
  /* an AFFINE whose stored weights are rounded (Gemm with alpha 0.1): the
     real net's regions are not the stored one's, so no exact certificate */
  net = start(2, d);
  dense(net, act(net, dense(net, 0, 4), CB_ACT_RELU), 1);
  ready(net);
  net->node[1].exact = 0;
  net->node[1].rel_err = ROUND_U;
  cb_error_clear(&err);
  assert_int_equal(lip_sign_check(net, &err), CB_EUNSUP);
  assert_non_null(strstr(err.msg, "rounded"));
  cb_net_free(net);
  /* a set without an operator norm (box) */
  net = relu_net(3, 4, 1, 1);
  {
    lip_sign_opts o;
    lip_sign_result r;
    double x[3], y[3];
    lip_sign_opts_init(&o);
    o.norm = CB_NORM_BOX;
    cb_error_clear(&err);
    assert_int_equal(lip_sign_bab(net, &o, &r, x, y, &err), CB_EVALUE);
    assert_non_null(strstr(err.msg, "norm"));
  }
  cb_net_free(net);
}

/* A box with lo_q == hi_q has no interior: a region's "no interior point in
   the box" certificate must not use those two rows (they sum to 0 and would
   drop every region crossing the box).  Two nets where that dropped the
   regions that carry the gradient (upper 0.1 and 0 before the fix). */
static void test_degenerate_box(void **state)
{
  int64_t d[2] = {1, 2};
  lip_sign_opts o;
  lip_sign_result r;
  cb_error err = {0};
  double lo[2] = {0, -1}, hi[2] = {0, 1}, x[2], y[2];
  cb_net *net = start(2, d);
  int i = dense(net, 0, 2);
  double *W = net->node[i].p.aff.W, *b = net->node[i].p.aff.b;
  (void)state;
  /* {0} x [-1, 1]; f = 10 relu(x2 - 0.5) + 0.1 relu(x2 + 5): ||J(0, 0.75)|| = 10.1 */
  W[0] = 0; W[1] = 1; b[0] = -0.5;
  W[2] = 0; W[3] = 1; b[1] = 5;
  i = dense(net, act(net, i, CB_ACT_RELU), 1);
  net->node[i].p.aff.W[0] = 10; net->node[i].p.aff.W[1] = 0.1; net->node[i].p.aff.b[0] = 0;
  ready(net);
  lip_sign_opts_init(&o);
  o.gap = 1e-6; o.lo = lo; o.hi = hi;
  assert_int_equal(lip_sign_bab(net, &o, &r, x, y, &err), CB_OK);
  if (!(r.upper >= 10.1)) fail_msg("upper %.17g below ||J(0, 0.75)|| = 10.1", r.upper);
  cb_net_free(net);
  /* the single point (0, 0) (--domain 0:0) on the kinks of relu(x1) and
     relu(-x1): f = relu(x1) - relu(-x1) + relu(x2 + 5) = x1 + x2 + 5 there,
     differentiable with ||J|| = sqrt 2 */
  net = start(2, d);
  i = dense(net, 0, 3);
  W = net->node[i].p.aff.W; b = net->node[i].p.aff.b;
  W[0] = 1; W[1] = 0; b[0] = 0;
  W[2] = 0; W[3] = 1; b[1] = 5;
  W[4] = -1; W[5] = 0; b[2] = 0;
  i = dense(net, act(net, i, CB_ACT_RELU), 1);
  W = net->node[i].p.aff.W;
  W[0] = 1; W[1] = 1; W[2] = -1; net->node[i].p.aff.b[0] = 0;
  ready(net);
  lo[1] = hi[1] = 0;
  assert_int_equal(lip_sign_bab(net, &o, &r, x, y, &err), CB_OK);
  if (!(r.upper >= sqrt(2))) fail_msg("upper %.17g below ||J(0, 0)|| = sqrt 2", r.upper);
  cb_net_free(net);
}

/* The Gray-code bound's rounding term on sort pairs whose two products
   cancel: rows p_a ~ p_b and output weights w_a ~ -w_b make each region's
   Jacobian w_a p_a + w_b p_b tiny while its rounding is relative to the
   products (the bound was up to 3e-7 relative below the exact constant on
   about half of these nets).  n = 1: L = the larger |J| of the two regions,
   exactly in rationals. */
static void test_enum_cancel(void **state)
{
  uint64_t s = 5;
  (void)state;
  for (int t = 0; t < 300; t++) {
    int64_t d[2] = {1, 1};
    cb_net *net = start(2, d);
    int i = dense(net, 0, 2);
    double pa = 0.05 + 0.1 * urand(&s), pb = pa * (1 + 1e-9 * (urand(&s) - 0.5)), wa = 0.5 + urand(&s);
    double wb = -wa * (1 + 1e-12 * urand(&s)), x[1], y[1];
    lip_sign_opts o;
    lip_sign_result r;
    cb_error err = {0};
    mpq_t a, b, c, u;
    net->node[i].p.aff.W[0] = pa; net->node[i].p.aff.W[1] = pb;
    net->node[i].p.aff.b[0] = 0.3; net->node[i].p.aff.b[1] = -0.2;
    i = dense(net, sortg(net, i, 2, 1, 0), 1);
    net->node[i].p.aff.W[0] = wa; net->node[i].p.aff.W[1] = wb; net->node[i].p.aff.b[0] = 0;
    ready(net);
    lip_sign_opts_init(&o);
    o.gap = 1e-12;
    assert_int_equal(lip_sign_bab(net, &o, &r, x, y, &err), CB_OK);
    mpq_inits(a, b, c, u, NULL);
    mpq_set_d(a, wa); mpq_set_d(b, pa); mpq_mul(a, a, b);
    mpq_set_d(c, wb); mpq_set_d(b, pb); mpq_mul(c, c, b); mpq_add(a, a, c); mpq_abs(a, a);   /* |wa pa + wb pb| */
    mpq_set_d(u, wb); mpq_set_d(b, pa); mpq_mul(u, u, b);
    mpq_set_d(c, wa); mpq_set_d(b, pb); mpq_mul(c, c, b); mpq_add(u, u, c); mpq_abs(u, u);   /* |wb pa + wa pb| */
    if (mpq_cmp(u, a) > 0) mpq_set(a, u);
    mpq_set_d(u, r.upper);
    if (mpq_cmp(u, a) < 0) fail_msg("net %d: upper %.17g below the exact %.17g", t, r.upper, mpq_get_d(a));
    mpq_clears(a, b, c, u, NULL);
    cb_net_free(net);
  }
}

/* Sort groups of 5 and 8 (10 and 28 pair units for 10 and 8 entries: more
   units than entries; the unit table was sized by the widths and overflowed):
   one row, a node budget, sampled and attained only. */
static void test_big_groups(void **state)
{
  (void)state;
  for (int t = 0; t < 2; t++) {
    cb_net *a = gs_net(3, 10, 1, 1, 5), *b = gs_net(4, 8, 1, 2, 8);
    check(a, 0, 0, 0, 0, 3000);
    check(a, 1, -1, 1, 0, 3000);
    check(b, 0, 0, 0, 1, 3000);
    check(b, 1, -1, 1, 0, 3000);
    cb_net_free(a); cb_net_free(b);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_relu),
    cmocka_unit_test(test_groupsort),
    cmocka_unit_test(test_norms),
    cmocka_unit_test(test_margin),
    cmocka_unit_test(test_refusals),
    cmocka_unit_test(test_degenerate_box),
    cmocka_unit_test(test_enum_cancel),
    cmocka_unit_test(test_big_groups),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
