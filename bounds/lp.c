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
** sum_r l_r (a_r . x + c_r) has the same minimum over the box.
*/
int lp_minmax(const double *a, const double *c, size_t m, size_t n, const double *lo, const double *hi,
              double *x, double *l, double *t)
{
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
  glp_set_col_bnds(P, (int)n + 1, GLP_FR, 0, 0);
  glp_set_obj_coef(P, (int)n + 1, 1);
  for (size_t r = 0; r < m; r++) {
    glp_set_row_bnds(P, (int)r + 1, GLP_UP, 0, -c[r]);
    for (size_t j = 0; j < n; j++)
      if (a[r * n + j] != 0) { k++; ia[k] = (int)r + 1; ja[k] = (int)j + 1; ar[k] = a[r * n + j]; }
    k++; ia[k] = (int)r + 1; ja[k] = (int)n + 1; ar[k] = -1;
  }
  glp_load_matrix(P, k, ia, ja, ar);
  if (solve(P)) {
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
static int small_max(const lp_region *R, const double *a, double *mu, double *val)
{
  size_t n = R->n, m = R->m, W[LP_SMALL_N], itmax = 50 + 4 * (m + n);
  double lam[LP_SMALL_N], x[LP_SMALL_N], v[LP_SMALL_N], M[LP_SMALL_N * LP_SMALL_N], c[LP_SMALL_N], d;
  for (size_t j = 0; j < n; j++) {
    W[j] = m + 2 * j + (a[j] >= 0 ? 0 : 1);
    lam[j] = fabs(a[j]);
    x[j] = a[j] >= 0 ? R->hi[j] : R->lo[j];
  }
  for (size_t it = 0;; it++) {
    size_t k = (size_t)-1, p = (size_t)-1;
    double worst = 0, t = INFINITY;
    for (size_t q = 0; q < m + 2 * n; q++) {   /* the most violated inactive constraint */
      double e, scale = 1;
      int act = 0;
      if (q < m && !R->ok[q]) continue;
      for (size_t i = 0; i < n && !act; i++) act = W[i] == q;
      if (act) continue;
      d = cons(R, q, c);
      e = -d;
      for (size_t j = 0; j < n; j++) { e += c[j] * x[j]; scale += fabs(c[j] * x[j]); }
      scale += fabs(d);
      if (e > 1e-11 * scale && e / scale > worst) { worst = e / scale; k = q; }
    }
    if (k == (size_t)-1) break;   /* optimal */
    if (it >= itmax) return 0;
    for (size_t i = 0; i < n; i++) {   /* M^T v = c_k: M's row i is c_{W[i]} */
      cons(R, W[i], c);
      for (size_t j = 0; j < n; j++) M[j * n + i] = c[j];
    }
    cons(R, k, v);
    if (!solve_dense(M, v, n)) return 0;
    for (size_t i = 0; i < n; i++)
      if (v[i] > 1e-12 && lam[i] / v[i] < t) { t = lam[i] / v[i]; p = i; }
    if (p == (size_t)-1) return 0;   /* dual unbounded: the region is empty */
    for (size_t i = 0; i < n; i++) lam[i] = fmax(0, lam[i] - t * v[i]);
    lam[p] = t;
    W[p] = k;
    for (size_t i = 0; i < n; i++) {   /* the new vertex: M x = d */
      x[i] = cons(R, W[i], c);
      memcpy(M + i * n, c, n * sizeof *c);
    }
    if (!solve_dense(M, x, n)) return 0;
  }
  memset(mu, 0, m * sizeof *mu);
  *val = 0;
  for (size_t j = 0; j < n; j++) *val += a[j] * x[j];
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
  if (!R->P) return small_max(R, a, mu, val);
  for (size_t j = 0; j < R->n; j++) glp_set_obj_coef(R->P, (int)j + 1, a[j]);
  if (!solve(R->P)) return 0;
  for (size_t s = 0; s < R->m; s++) mu[s] = fmax(0, glp_get_row_dual(R->P, (int)s + 1));
  *val = glp_get_obj_val(R->P);
  return isfinite(*val);
}

void lp_region_free(lp_region *R)
{
  if (!R) return;
  if (R->P) glp_delete_prob(R->P);
  cb_free(R->F); cb_free(R->ok);
  cb_free(R);
}
