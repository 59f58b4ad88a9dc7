/*
** GLPK wrapper (lp.h), plus a dual active-set method for region LPs of few
** variables (small_max).  Small LPs only (a few rows per output conjunction);
** terminal output is switched off, a failed solve is retried once from an
** advanced basis, and an answer that is not optimal is treated as "no
** certificate".  Soundness comes from the re-check in double, never from GLPK.
*/
#include <math.h>
#include <string.h>
#include <glpk.h>
#include "bounds.h"
#include "lp.h"
#include "round.h"

/* Solves with the simplex, retrying once from an advanced basis; 1 if optimal. */
static int solve(glp_prob *P)
{
  glp_smcp parm;
  int rc;
  glp_term_out(GLP_OFF);
  glp_init_smcp(&parm);
  parm.msg_lev = GLP_MSG_OFF;
  parm.it_lim = 100000;   /* a stalled solve is "no certificate", not a hang */
  if ((rc = glp_simplex(P, &parm)) == 0) return glp_get_status(P) == GLP_OPT;
  glp_adv_basis(P, 0);
  parm.meth = GLP_DUALP;
  return glp_simplex(P, &parm) == 0 && glp_get_status(P) == GLP_OPT;
}

/* The dual simplex with long steps (bound flips in bulk) from the standard
   basis, which is dual feasible when every column with a cost sits at the
   bound its cost sign wants and the others have cost 0 (lp_minmax: t at its
   lower bound); the primal simplex if that fails.  1 if optimal. */
static int solve_dual(glp_prob *P)
{
  glp_smcp parm;
  glp_term_out(GLP_OFF);
  glp_init_smcp(&parm);
  parm.msg_lev = GLP_MSG_OFF;
  parm.it_lim = 100000;
  parm.meth = GLP_DUALP;
  parm.r_test = GLP_RT_FLIP;
  if (glp_simplex(P, &parm) == 0 && glp_get_status(P) == GLP_OPT) return 1;
  return solve(P);
}

/* The Farkas check in double: lower bound of (l^T A) y over the box > upper bound of l.b? */
static int farkas_holds(const double *A, const double *b, size_t m, size_t n, const double *l,
                        const double *ylo, const double *yhi)
{
  double lhs = 0, lhs_abs = 0, slack = 0, rhs = 0, rhs_abs = 0;
  for (size_t j = 0; j < n; j++) {
    double g = 0, gabs = 0, t, ymax = fmax(fabs(ylo[j]), fabs(yhi[j]));
    for (size_t i = 0; i < m; i++) { g += l[i] * A[i * n + j]; gabs += l[i] * fabs(A[i * n + j]); }
    t = fmin(g * ylo[j], g * yhi[j]);
    if (!isfinite(t) || !isfinite(ymax)) return 0;
    lhs += t;
    lhs_abs += fabs(t);
    slack += round_gamma(m + 1) * gabs * ymax;     /* |fl(g) - g| * |y| */
  }
  for (size_t i = 0; i < m; i++) { rhs += l[i] * b[i]; rhs_abs += fabs(l[i] * b[i]); }
  slack += round_gamma(n + 2) * lhs_abs + round_gamma(m + 2) * rhs_abs;
  return isfinite(lhs) && isfinite(rhs) && round_down(lhs - rhs) > round_up(2 * slack);
}

int lp_farkas(const double *A, const double *b, size_t m, size_t n, const double *ylo, const double *yhi)
{
  glp_prob *P;
  int *ia, *ja, k = 0, ok = 0;
  double *ar, *l;
  size_t nz = m * (n + 1);
  if (!m || m > 100000 || n > 100000) return 0;
  ia = cb_alloc((nz + 1) * sizeof *ia);
  ja = cb_alloc((nz + 1) * sizeof *ja);
  ar = cb_alloc((nz + 1) * sizeof *ar);
  l = cb_alloc(m * sizeof *l);
  if (!ia || !ja || !ar || !l) { cb_free(ia); cb_free(ja); cb_free(ar); cb_free(l); return CB_ENOMEM; }
  P = glp_create_prob();
  glp_set_obj_dir(P, GLP_MIN);
  glp_add_rows(P, (int)n + 1);
  glp_add_cols(P, (int)m);
  for (size_t j = 0; j < n; j++) glp_set_row_bnds(P, (int)j + 1, GLP_FX, 0, 0);   /* (A^T l)_j = 0 */
  glp_set_row_bnds(P, (int)n + 1, GLP_FX, 1, 1);                                  /* sum l = 1 */
  for (size_t i = 0; i < m; i++) {
    glp_set_col_bnds(P, (int)i + 1, GLP_LO, 0, 0);
    glp_set_obj_coef(P, (int)i + 1, b[i]);
    for (size_t j = 0; j < n; j++)
      if (A[i * n + j] != 0) { k++; ia[k] = (int)j + 1; ja[k] = (int)i + 1; ar[k] = A[i * n + j]; }
    k++; ia[k] = (int)n + 1; ja[k] = (int)i + 1; ar[k] = 1;
  }
  glp_load_matrix(P, k, ia, ja, ar);
  if (solve(P) && glp_get_obj_val(P) < 0) {
    for (size_t i = 0; i < m; i++) l[i] = fmax(0, glp_get_col_prim(P, (int)i + 1));
    ok = farkas_holds(A, b, m, n, l, ylo, yhi);
  }
  glp_delete_prob(P);
  cb_free(ia); cb_free(ja); cb_free(ar); cb_free(l);
  return ok;
}

/*
** min over x in [lo, hi] of max_r (a_r . x + c_r), as the LP
**   min t  s.t.  a_r . x - t <= -c_r  (r < m),  lo <= x <= hi.
** Its row duals l >= 0 sum to 1 and weigh the rows: the combination
** sum_r l_r (a_r . x + c_r) has the same minimum over the box.  t gets a
** lower bound below max_r min_x (a_r . x + c_r) <= the optimum, so the
** standard basis is dual feasible and the dual simplex with long steps
** starts there: on MNIST's 784 inputs the primal simplex spent an iteration
** per column moved to its other bound (~7 ms an LP, 85% of a ReLU search).
*/
int lp_minmax(const double *a, const double *c, size_t m, size_t n, const double *lo, const double *hi,
              double *x, double *l, double *t)
{
  double tlow = 0;
  glp_prob *P;
  int *ia, *ja, k = 0, ok = 0;
  double *ar;
  size_t nz = m * (n + 1);
  if (!m || m > 100000 || n > 100000) return 0;
  ia = cb_alloc((nz + 1) * sizeof *ia);
  ja = cb_alloc((nz + 1) * sizeof *ja);
  ar = cb_alloc((nz + 1) * sizeof *ar);
  if (!ia || !ja || !ar) { cb_free(ia); cb_free(ja); cb_free(ar); return CB_ENOMEM; }
  P = glp_create_prob();
  glp_set_obj_dir(P, GLP_MIN);
  glp_add_rows(P, (int)m);
  glp_add_cols(P, (int)n + 1);
  for (size_t j = 0; j < n; j++)
    glp_set_col_bnds(P, (int)j + 1, lo[j] < hi[j] ? GLP_DB : GLP_FX, lo[j], hi[j]);
  glp_set_obj_coef(P, (int)n + 1, 1);
  for (size_t r = 0; r < m; r++) {
    double v = c[r];
    for (size_t j = 0; j < n; j++) v += fmin(a[r * n + j] * lo[j], a[r * n + j] * hi[j]);
    if (r == 0 || v > tlow) tlow = v;   /* max_r min_x (a_r . x + c_r) <= the optimum */
    glp_set_row_bnds(P, (int)r + 1, GLP_UP, 0, -c[r]);
    for (size_t j = 0; j < n; j++)
      if (a[r * n + j] != 0) { k++; ia[k] = (int)r + 1; ja[k] = (int)j + 1; ar[k] = a[r * n + j]; }
    k++; ia[k] = (int)r + 1; ja[k] = (int)n + 1; ar[k] = -1;
  }
  glp_load_matrix(P, k, ia, ja, ar);
  glp_set_col_bnds(P, (int)n + 1, GLP_LO, tlow - 1 - fabs(tlow), 0);   /* strictly below: never active */
  if (solve_dual(P)) {
    double s = 0;
    for (size_t j = 0; j < n; j++) x[j] = glp_get_col_prim(P, (int)j + 1);
    for (size_t r = 0; r < m; r++) { l[r] = fmax(0, -glp_get_row_dual(P, (int)r + 1)); s += l[r]; }
    for (size_t r = 0; r < m && s > 0; r++) l[r] /= s;
    *t = glp_get_obj_val(P);
    ok = s > 0 && isfinite(*t);
  }
  glp_delete_prob(P);
  cb_free(ia); cb_free(ja); cb_free(ar);
  return ok;
}

/*
** A region {x in [lo, hi] : F_s . x + f_s <= 0 (s < m)} for many objectives.
** Up to LP_SMALL_N variables (ACAS Xu's 5): a dual active-set method of our
** own (below); GLPK's simplex costs ~10 us a call there, mostly set-up.
** Larger: one GLPK problem, each lp_region_max changing only the objective
** and re-solving from the previous optimal basis.
*/
#define LP_SMALL_N 16

int lp_region_force_glpk;

struct lp_region {
  glp_prob *P;            /* NULL: the small solver */
  size_t m, n;
  double *F, *f, *lo, *hi;   /* small: copies (a non-finite row is left out: ok = 0) */
  unsigned char *ok;
};

/* Constraint k as c . x <= d: k < m a row (F_k, -f_k); m + 2j: x_j <= hi_j;
   m + 2j + 1: -x_j <= -lo_j. */
static double cons(const lp_region *R, size_t k, double *c)
{
  size_t n = R->n, j;
  if (k < R->m) { memcpy(c, R->F + k * n, n * sizeof *c); return -R->f[k]; }
  j = (k - R->m) / 2;
  memset(c, 0, n * sizeof *c);
  if ((k - R->m) % 2 == 0) { c[j] = 1; return R->hi[j]; }
  c[j] = -1;
  return -R->lo[j];
}

/* Solves A y = r in place (A n x n row-major, partial pivoting); 0 if singular. */
static int solve_dense(double *A, double *r, size_t n)
{
  for (size_t c = 0; c < n; c++) {
    size_t p = c;
    double big = 0;
    for (size_t i = c; i < n; i++) if (fabs(A[i * n + c]) > big) { big = fabs(A[i * n + c]); p = i; }
    if (!(big > 1e-13)) return 0;
    if (p != c) {
      for (size_t j = 0; j < n; j++) { double t = A[c * n + j]; A[c * n + j] = A[p * n + j]; A[p * n + j] = t; }
      { double t = r[c]; r[c] = r[p]; r[p] = t; }
    }
    for (size_t i = c + 1; i < n; i++) {
      double g = A[i * n + c] / A[c * n + c];
      if (g == 0) continue;
      for (size_t j = c; j < n; j++) A[i * n + j] -= g * A[c * n + j];
      r[i] -= g * r[c];
    }
  }
  for (size_t c = n; c-- > 0;) {
    double t = r[c];
    for (size_t j = c + 1; j < n; j++) t -= A[c * n + j] * r[j];
    r[c] = t / A[c * n + c];
  }
  for (size_t c = 0; c < n; c++) if (!isfinite(r[c])) return 0;
  return 1;
}

/* max a . x over the region by a dual active-set method (Goldfarb-Idnani for
   an LP): W holds n active constraints c_i . x <= d_i with a = sum lam_i c_i,
   lam >= 0 throughout (dual feasible), x their intersection.  Start: the
   box's maximising vertex.  Each step adds the most violated constraint k:
   c_k = sum v_i c_i, lam_i -= t v_i, lam_k = t, t up to the first lam_i that
   reaches 0 (its constraint leaves); no v_i > 0: the region is empty.  No
   violated constraint: x is optimal and lam are the LP's duals.  Every lam
   >= 0 is a valid weighting (the caller's re-check needs nothing more), so a
   stop at the iteration cap or a singular system is only "not solved". */
/* small_max: the vertex x of the active set W (M x = d, M's row i is c_{W[i]})
   and Minv = M^-1, from scratch (solve_dense); 0 if singular. */
static int small_refresh(const lp_region *R, const size_t *W, double *x, double *Minv)
{
  size_t n = R->n;
  double M[LP_SMALL_N * LP_SMALL_N], A[LP_SMALL_N * LP_SMALL_N], c[LP_SMALL_N], e[LP_SMALL_N];
  for (size_t i = 0; i < n; i++) {
    x[i] = cons(R, W[i], c);
    memcpy(M + i * n, c, n * sizeof *c);
  }
  memcpy(A, M, n * n * sizeof *A);
  if (!solve_dense(A, x, n)) return 0;
  for (size_t j = 0; j < n; j++) {
    memset(e, 0, n * sizeof *e);
    e[j] = 1;
    memcpy(A, M, n * n * sizeof *A);
    if (!solve_dense(A, e, n)) return 0;
    for (size_t i = 0; i < n; i++) Minv[i * n + j] = e[i];
  }
  return 1;
}

static int small_max(const lp_region *R, const double *a, double *mu, double *val, double *xout)
{
  size_t n = R->n, m = R->m, W[LP_SMALL_N], itmax = 50 + 4 * (m + n);
  double lam[LP_SMALL_N], x[LP_SMALL_N], v[LP_SMALL_N], Minv[LP_SMALL_N * LP_SMALL_N], c[LP_SMALL_N], col[LP_SMALL_N], d;
  memset(Minv, 0, n * n * sizeof *Minv);
  for (size_t j = 0; j < n; j++) {
    W[j] = m + 2 * j + (a[j] >= 0 ? 0 : 1);
    lam[j] = fabs(a[j]);
    x[j] = a[j] >= 0 ? R->hi[j] : R->lo[j];
    Minv[j * n + j] = a[j] >= 0 ? 1 : -1;   /* M = diag(+-1): the box sides */
  }
  for (size_t it = 0;; it++) {
    size_t k = (size_t)-1, p = (size_t)-1;
    double worst = 0, t = INFINITY;
    int fin = 1;
    unsigned char box_act[2 * LP_SMALL_N];
    size_t wr[LP_SMALL_N], nr = 0;   /* the active rows (few: most of W are box sides) */
    for (size_t j = 0; j < n; j++) fin &= isfinite(x[j]) != 0;
    memset(box_act, 0, 2 * n);
    for (size_t i = 0; i < n; i++) if (W[i] >= m) box_act[W[i] - m] = 1; else wr[nr++] = W[i];
    for (size_t q = 0; q < m + 2 * n; q++) {   /* the most violated inactive constraint */
      double e, scale = 1;
      int act = 0;
      if (q < m && !R->ok[q]) continue;
      if (q >= m && fin) {   /* a box side: the sums below with only c_j = +-1 nonzero, the
                                same arithmetic (adding the 0 * x_i terms changes nothing) */
        size_t b = q - m, j = b / 2;
        if (box_act[b]) continue;
        e = b % 2 == 0 ? -R->hi[j] + x[j] : R->lo[j] - x[j];
        scale = 1 + fabs(x[j]);
        scale += fabs(b % 2 == 0 ? R->hi[j] : -R->lo[j]);
        if (e > 1e-11 * scale && e / scale > worst) { worst = e / scale; k = q; }
        continue;
      }
      if (q < m) for (size_t i = 0; i < nr && !act; i++) act = wr[i] == q;
      else act = box_act[q - m];
      if (act) continue;
      if (q < m) {   /* a row, read in place (cons copies it) */
        const double *F = R->F + q * n;
        d = -R->f[q];
        e = -d;
        for (size_t j = 0; j < n; j++) { e += F[j] * x[j]; scale += fabs(F[j] * x[j]); }
      } else {
        d = cons(R, q, c);
        e = -d;
        for (size_t j = 0; j < n; j++) { e += c[j] * x[j]; scale += fabs(c[j] * x[j]); }
      }
      scale += fabs(d);
      if (e > 1e-11 * scale && e / scale > worst) { worst = e / scale; k = q; }
    }
    if (k == (size_t)-1) break;   /* optimal */
    if (it >= itmax) return 0;
    d = cons(R, k, c);   /* M^T v = c_k: v = Minv^T c_k */
    for (size_t i = 0; i < n; i++) {
      double s = 0;
      for (size_t j = 0; j < n; j++) s += Minv[j * n + i] * c[j];
      v[i] = s;
    }
    for (size_t i = 0; i < n; i++)
      if (v[i] > 1e-12 && lam[i] / v[i] < t) { t = lam[i] / v[i]; p = i; }
    if (p == (size_t)-1) return 0;   /* dual unbounded: the region is empty */
    for (size_t i = 0; i < n; i++) lam[i] = fmax(0, lam[i] - t * v[i]);
    lam[p] = t;
    W[p] = k;
    if (v[p] < 1e-6 || it % 16 == 15) {   /* ill-conditioned step, or drift: from scratch */
      if (!small_refresh(R, W, x, Minv)) return 0;
    } else {   /* row p of M becomes c_k (Sherman-Morrison): the new vertex moves along
                  Minv's column p, which then scales by 1 / v_p; Minv -= col (v - e_p)^T / v_p */
      double step = d;
      for (size_t j = 0; j < n; j++) step -= c[j] * x[j];
      step /= v[p];
      for (size_t i = 0; i < n; i++) col[i] = Minv[i * n + p];
      for (size_t i = 0; i < n; i++) x[i] += step * col[i];
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) Minv[i * n + j] -= col[i] * (v[j] - (j == p)) / v[p];
      for (size_t i = 0; i < n; i++) if (!isfinite(x[i])) return 0;
    }
  }
  memset(mu, 0, m * sizeof *mu);
  *val = 0;
  for (size_t j = 0; j < n; j++) *val += a[j] * x[j];
  if (xout) memcpy(xout, x, n * sizeof *x);
  for (size_t i = 0; i < n; i++) if (W[i] < m) mu[W[i]] = lam[i];
  return isfinite(*val);
}

lp_region *lp_region_new(const double *F, const double *f, size_t m, size_t n, const double *lo, const double *hi)
{
  lp_region *R;
  int *ia, *ja, k = 0;
  double *ar;
  size_t nz = m * n;
  if (m > 100000 || n > 100000 || !(R = cb_calloc(1, sizeof *R))) return NULL;
  R->m = m; R->n = n;
  if (n <= LP_SMALL_N && !lp_region_force_glpk) {
    R->F = cb_alloc((m * n + m + 2 * n + 1) * sizeof *R->F);
    R->ok = cb_alloc(m + 1);
    if (!R->F || !R->ok) { lp_region_free(R); return NULL; }
    R->f = R->F + m * n; R->lo = R->f + m; R->hi = R->lo + n;
    memcpy(R->F, F, m * n * sizeof *F);
    memcpy(R->f, f, m * sizeof *f);
    memcpy(R->lo, lo, n * sizeof *lo);
    memcpy(R->hi, hi, n * sizeof *hi);
    for (size_t s = 0; s < m; s++) {
      R->ok[s] = isfinite(f[s]) != 0;
      for (size_t j = 0; j < n; j++) R->ok[s] &= isfinite(F[s * n + j]) != 0;
    }
    return R;
  }
  ia = cb_alloc((nz + 1) * sizeof *ia);
  ja = cb_alloc((nz + 1) * sizeof *ja);
  ar = cb_alloc((nz + 1) * sizeof *ar);
  if (!ia || !ja || !ar) { cb_free(ia); cb_free(ja); cb_free(ar); cb_free(R); return NULL; }
  R->P = glp_create_prob();
  glp_set_obj_dir(R->P, GLP_MAX);
  if (m) glp_add_rows(R->P, (int)m);
  glp_add_cols(R->P, (int)n);
  for (size_t j = 0; j < n; j++)
    glp_set_col_bnds(R->P, (int)j + 1, lo[j] < hi[j] ? GLP_DB : GLP_FX, lo[j], hi[j]);
  for (size_t s = 0; s < m; s++) {
    int ok = isfinite(f[s]);
    for (size_t j = 0; j < n; j++) ok &= isfinite(F[s * n + j]) != 0;
    if (!ok) { glp_set_row_bnds(R->P, (int)s + 1, GLP_FR, 0, 0); continue; }   /* left out: mu_s = 0 */
    glp_set_row_bnds(R->P, (int)s + 1, GLP_UP, 0, -f[s]);
    for (size_t j = 0; j < n; j++)
      if (F[s * n + j] != 0) { k++; ia[k] = (int)s + 1; ja[k] = (int)j + 1; ar[k] = F[s * n + j]; }
  }
  glp_load_matrix(R->P, k, ia, ja, ar);
  cb_free(ia); cb_free(ja); cb_free(ar);
  return R;
}

int lp_region_max(lp_region *R, const double *a, double *mu, double *val)
{
  for (size_t j = 0; j < R->n; j++) if (!isfinite(a[j])) return 0;
  if (!R->P) return small_max(R, a, mu, val, NULL);
  for (size_t j = 0; j < R->n; j++) glp_set_obj_coef(R->P, (int)j + 1, a[j]);
  if (!solve(R->P)) return 0;
  for (size_t s = 0; s < R->m; s++) mu[s] = fmax(0, glp_get_row_dual(R->P, (int)s + 1));
  *val = glp_get_obj_val(R->P);
  return isfinite(*val);
}

/*
** lp_minmax for n < LP_SMALL_N variables (ACAS Xu's 5), by the small solver:
** max -t over {(x, t) : a_r . x - t + c_r <= 0}, x in [lo, hi], t in
** [tlo, thi] with tlo below max_r min_x (a_r . x + c_r) (as lp_minmax's
** bound, never active) and thi above max_r max_x (a_r . x + c_r) (never
** active: t is minimised).  Its row duals are the weights l (they sum to 1
** when no bound of t is active; normalised).  GLPK's problem set-up cost
** more than the solve on ACAS Xu (~10% of a ReLU search).  0 when it cannot
** solve (n too large, a non-finite entry, a singular or cycling step): the
** caller falls back to lp_minmax.  An estimate, as lp_minmax's.
*/
int lp_minmax_small(const double *a, const double *c, size_t m, size_t n, const double *lo, const double *hi,
                    double *x, double *l, double *t)
{
  lp_region R = {0};
  double obj[LP_SMALL_N], xs[LP_SMALL_N], tlow = 0, tup = 0, val, s = 0;
  size_t n1 = n + 1;
  int ok;
  if (!m || n1 > LP_SMALL_N || m > 100000) return 0;
  R.m = m; R.n = n1;
  R.F = cb_alloc((m * n1 + m + 2 * n1) * sizeof *R.F);
  R.ok = cb_alloc(m);
  if (!R.F || !R.ok) { cb_free(R.F); cb_free(R.ok); return CB_ENOMEM; }
  R.f = R.F + m * n1; R.lo = R.f + m; R.hi = R.lo + n1;
  for (size_t r = 0; r < m; r++) {
    double vmin = c[r], vmax = c[r];
    for (size_t j = 0; j < n; j++) {
      double p = a[r * n + j] * lo[j], q = a[r * n + j] * hi[j];
      vmin += fmin(p, q); vmax += fmax(p, q);
      R.F[r * n1 + j] = a[r * n + j];
    }
    R.F[r * n1 + n] = -1;
    R.f[r] = c[r];
    R.ok[r] = 1;
    if (r == 0 || vmin > tlow) tlow = vmin;
    if (r == 0 || vmax > tup) tup = vmax;
  }
  memcpy(R.lo, lo, n * sizeof *lo);
  memcpy(R.hi, hi, n * sizeof *hi);
  R.lo[n] = tlow - 1 - fabs(tlow);
  R.hi[n] = tup + 1 + fabs(tup);
  ok = isfinite(R.lo[n]) && isfinite(R.hi[n]);
  for (size_t j = 0; j < n && ok; j++) ok = isfinite(lo[j]) && isfinite(hi[j]) && lo[j] <= hi[j];
  memset(obj, 0, n * sizeof *obj);
  obj[n] = -1;
  if (ok) ok = small_max(&R, obj, l, &val, xs);
  if (ok) {
    for (size_t r = 0; r < m; r++) { l[r] = fmax(0, l[r]); s += l[r]; }
    ok = s > 0 && isfinite(val) && xs[n] > R.lo[n] && xs[n] < R.hi[n];
  }
  if (ok) {
    for (size_t r = 0; r < m; r++) l[r] /= s;
    for (size_t j = 0; j < n; j++) x[j] = fmin(fmax(xs[j], lo[j]), hi[j]);
    *t = -val;
  }
  cb_free(R.F); cb_free(R.ok);
  return ok;
}

void lp_region_free(lp_region *R)
{
  if (!R) return;
  if (R->P) glp_delete_prob(R->P);
  cb_free(R->F); cb_free(R->ok);
  cb_free(R);
}

/* ---- lp_model: a general LP for branch and bound, with a sound bound ---- */

struct lp_model {
  glp_prob *P;
  size_t m, n;
  size_t *rp;             /* m + 1: CSR of the rows */
  int *ci;
  double *av, *rl, *ru, *cl, *cu, *c;
  double *r, *rabs;       /* n: lp_model_bound's scratch (reduced costs and their magnitudes) */
  int *ind;               /* m + n + 1: glp_eval_tab_row's scratch */
  double *val;
  int warm;               /* a basis from an earlier solve exists */
};

void lp_model_free(lp_model *M)
{
  if (!M) return;
  if (M->P) glp_delete_prob(M->P);
  cb_free(M->rp); cb_free(M->ci); cb_free(M->av); cb_free(M->rl); cb_free(M->ind); cb_free(M->val);
  cb_free(M);
}

/* GLPK's bound type of [lo, hi] (infinite sides allowed). */
static int bnd_type(double lo, double hi)
{
  if (lo == -INFINITY && hi == INFINITY) return GLP_FR;
  if (lo == -INFINITY) return GLP_UP;
  if (hi == INFINITY) return GLP_LO;
  return lo == hi ? GLP_FX : GLP_DB;
}

lp_model *lp_model_new(size_t nrow, size_t ncol, const size_t *rp, const int *ci, const double *av,
                       const double *rl, const double *ru, const double *cl, const double *cu, const double *c)
{
  lp_model *M;
  size_t nz = rp[nrow];
  if (nrow > 10000000 || ncol > 10000000 || !ncol || !(M = cb_calloc(1, sizeof *M))) return NULL;
  M->m = nrow; M->n = ncol;
  M->rp = cb_alloc((nrow + 1) * sizeof *M->rp);
  M->ci = cb_alloc((nz + 1) * sizeof *M->ci);
  M->av = cb_alloc((nz + 1) * sizeof *M->av);
  M->rl = cb_alloc((2 * nrow + 6 * ncol + 1) * sizeof *M->rl);
  M->ind = cb_alloc((nrow + ncol + 1) * sizeof *M->ind);
  M->val = cb_alloc((nrow + ncol + 1) * sizeof *M->val);
  if (!M->rp || !M->ci || !M->av || !M->rl || !M->ind || !M->val) { lp_model_free(M); return NULL; }
  M->ru = M->rl + nrow; M->cl = M->ru + nrow; M->cu = M->cl + ncol; M->c = M->cu + ncol;
  M->r = M->c + ncol; M->rabs = M->r + ncol;
  memcpy(M->rp, rp, (nrow + 1) * sizeof *rp);
  memcpy(M->ci, ci, nz * sizeof *ci);
  memcpy(M->av, av, nz * sizeof *av);
  memcpy(M->rl, rl, nrow * sizeof *rl);
  memcpy(M->ru, ru, nrow * sizeof *ru);
  memcpy(M->cl, cl, ncol * sizeof *cl);
  memcpy(M->cu, cu, ncol * sizeof *cu);
  memcpy(M->c, c, ncol * sizeof *c);
  for (size_t j = 0; j < ncol; j++)
    if (!isfinite(cl[j]) || !isfinite(cu[j]) || !(cl[j] <= cu[j]) || !isfinite(c[j])) { lp_model_free(M); return NULL; }
  for (size_t k = 0; k < nz; k++) if (!isfinite(av[k]) || ci[k] < 0 || (size_t)ci[k] >= ncol) { lp_model_free(M); return NULL; }
  M->P = glp_create_prob();
  glp_set_obj_dir(M->P, GLP_MIN);
  if (nrow) glp_add_rows(M->P, (int)nrow);
  glp_add_cols(M->P, (int)ncol);
  for (size_t j = 0; j < ncol; j++) {
    glp_set_col_bnds(M->P, (int)j + 1, bnd_type(cl[j], cu[j]), cl[j], cu[j]);
    glp_set_obj_coef(M->P, (int)j + 1, c[j]);
  }
  for (size_t i = 0; i < nrow; i++) {   /* GLPK's set_mat_row reads ind/val from index 1 */
    size_t len = rp[i + 1] - rp[i];
    glp_set_row_bnds(M->P, (int)i + 1, bnd_type(rl[i], ru[i]), isfinite(rl[i]) ? rl[i] : 0, isfinite(ru[i]) ? ru[i] : 0);
    for (size_t k = 0; k < len; k++) { M->ind[k + 1] = ci[rp[i] + k] + 1; M->val[k + 1] = av[rp[i] + k]; }
    glp_set_mat_row(M->P, (int)i + 1, (int)len, M->ind, M->val);
  }
  return M;
}

void lp_model_set_col(lp_model *M, size_t j, double lo, double hi)
{
  M->cl[j] = lo;
  M->cu[j] = hi;
  glp_set_col_bnds(M->P, (int)j + 1, bnd_type(lo, hi), lo, hi);
}

void lp_model_get_col(const lp_model *M, size_t j, double *lo, double *hi) { *lo = M->cl[j]; *hi = M->cu[j]; }

void lp_model_set_row(lp_model *M, size_t i, double lo, double hi)
{
  M->rl[i] = lo;
  M->ru[i] = hi;
  glp_set_row_bnds(M->P, (int)i + 1, bnd_type(lo, hi), isfinite(lo) ? lo : 0, isfinite(hi) ? hi : 0);
}

void lp_model_set_obj(lp_model *M, const double *c)
{
  for (size_t j = 0; j < M->n; j++) {
    if (M->c[j] != c[j]) glp_set_obj_coef(M->P, (int)j + 1, c[j]);
    M->c[j] = c[j];
  }
}

/* The basic variable (GLPK number, 1..m rows, m+1.. columns) furthest out of
   its bounds, or 0. */
static int worst_basic(glp_prob *P, size_t m, size_t n)
{
  int k = 0;
  double worst = 0;
  for (size_t t = 1; t <= m + n; t++) {
    int row = t <= m, i = row ? (int)t : (int)(t - m);
    double v, lo, hi, e;
    if ((row ? glp_get_row_stat(P, i) : glp_get_col_stat(P, i)) != GLP_BS) continue;
    v = row ? glp_get_row_prim(P, i) : glp_get_col_prim(P, i);
    lo = row ? glp_get_row_lb(P, i) : glp_get_col_lb(P, i);
    hi = row ? glp_get_row_ub(P, i) : glp_get_col_ub(P, i);
    e = fmax(lo - v, v - hi);
    if (e > worst) { worst = e; k = (int)t; }
  }
  return k;
}

/* A candidate infeasibility certificate: the multipliers of the simplex
   tableau row of basic variable k, x_k = sum_j alpha_j x_j (nonbasic j).
   With the rows written aux_i - a_i . v = 0, that relation is
   sum_i y_i (aux_i - a_i . v) = 0 with y_i its coefficient on aux_i: 1 for
   k itself, -alpha_i for a nonbasic aux_i, 0 otherwise. */
static void tableau_multipliers(lp_model *M, double *y)
{
  int k = glp_get_unbnd_ray(M->P), len;
  memset(y, 0, M->m * sizeof *y);
  if (k <= 0 || (k <= (int)M->m ? glp_get_row_stat(M->P, k) : glp_get_col_stat(M->P, k - (int)M->m)) != GLP_BS)
    k = worst_basic(M->P, M->m, M->n);
  if (k <= 0 || (!glp_bf_exists(M->P) && glp_factorize(M->P) != 0)) return;
  len = glp_eval_tab_row(M->P, k, M->ind, M->val);
  if (k <= (int)M->m) y[k - 1] = 1;
  for (int t = 1; t <= len; t++) if (M->ind[t] <= (int)M->m) y[M->ind[t] - 1] = -M->val[t];
}

int lp_model_solve(lp_model *M, double *v, double *y, double *obj)
{
  glp_smcp parm;
  int rc, ps;
  glp_term_out(GLP_OFF);
  glp_init_smcp(&parm);
  parm.msg_lev = GLP_MSG_OFF;
  parm.it_lim = 200000;
  parm.meth = M->warm ? GLP_DUALP : GLP_PRIMAL;
  if ((rc = glp_simplex(M->P, &parm)) != 0) {
    glp_adv_basis(M->P, 0);
    parm.meth = GLP_PRIMAL;
    rc = glp_simplex(M->P, &parm);
  }
  if (rc != 0) { M->warm = 0; return -1; }
  M->warm = 1;
  ps = glp_get_prim_stat(M->P);
  if (glp_get_status(M->P) == GLP_OPT) {
    for (size_t j = 0; j < M->n; j++) v[j] = glp_get_col_prim(M->P, (int)j + 1);
    for (size_t i = 0; i < M->m; i++) y[i] = glp_get_row_dual(M->P, (int)i + 1);
    *obj = glp_get_obj_val(M->P);
    return 1;
  }
  if (ps == GLP_NOFEAS || glp_get_status(M->P) == GLP_NOFEAS) { tableau_multipliers(M, y); return 0; }
  return -1;
}

/*
** The sound lower bound (Neumaier and Shcherbina, "Safe bounds in linear and
** mixed-integer linear programming", Math. Prog. 99, 2004).  For any y and
** any v with rl <= A v <= ru and cl <= v <= cu:
**   c . v = y . (A v) + (c - A^T y) . v
**        >= sum_i min(y_i rl_i, y_i ru_i) + sum_j min over [cl_j, cu_j] of r_j v_j,
** r = c - A^T y (c = 0 when !with_obj).  A y_i whose needed side is infinite
** is taken as 0 (any y is allowed).  Rounding: r_j is computed in double with
** |fl(r_j) - r_j| <= gamma_{k+1} (|c_j| + sum_i |a_ij y_i|) <= e_j (k the
** column's entries; e_j below), so min over r in [r_j - e_j, r_j + e_j] (the four
** corner products, each rounded down) is taken; every other product is
** rounded down (round_mul_rd) and the final sum of N terms loses at most
** gamma_N sum |term| (Higham, Thm 3.1), subtracted and rounded down.
*/
double lp_model_bound(const lp_model *M, const double *y, int with_obj)
{
  double s = 0, sabs = 0, lb;
  size_t cnt = 0;
  for (size_t j = 0; j < M->n; j++) { M->r[j] = with_obj ? M->c[j] : 0; M->rabs[j] = fabs(M->r[j]); }
  for (size_t i = 0; i < M->m; i++) {
    double yi = y[i], t;
    if (!isfinite(yi) || (yi > 0 && M->rl[i] == -INFINITY) || (yi < 0 && M->ru[i] == INFINITY)) yi = 0;
    if (yi == 0) continue;
    t = round_mul_rd(yi, yi > 0 ? M->rl[i] : M->ru[i]);
    s += t; sabs += fabs(t); cnt++;
    for (size_t k = M->rp[i]; k < M->rp[i + 1]; k++) {
      M->r[M->ci[k]] -= M->av[k] * yi;
      M->rabs[M->ci[k]] += fabs(M->av[k] * yi);
    }
  }
  for (size_t j = 0; j < M->n; j++) {
    /* e_j: 2 gamma_{m+2} covers gamma_{k+1} times the double sum rabs_j, itself within
       (1 + gamma_k) of the real one, for any column length k <= m; plus an eta per
       product for underflow */
    double e = round_up(2 * round_gamma_up(M->m + 2) * M->rabs[j] + (double)(M->m + 2) * ROUND_ETA);
    double lo = round_down(M->r[j] - e), hi = round_up(M->r[j] + e), t;
    t = fmin(fmin(round_mul_rd(lo, M->cl[j]), round_mul_rd(lo, M->cu[j])),
             fmin(round_mul_rd(hi, M->cl[j]), round_mul_rd(hi, M->cu[j])));
    s += t; sabs += fabs(t); cnt++;
  }
  /* the products below 2^-960 (round_mul_rd may return fl there) err by < 2^-1074 each */
  lb = round_down(s - round_up(round_gamma_up(cnt + 1) * round_up(sabs) + (double)cnt * 0x1p-960));
  return isfinite(lb) ? lb : -INFINITY;
}
