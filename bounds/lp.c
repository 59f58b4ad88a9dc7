/*
** GLPK wrapper (lp.h).  Small LPs only (a few rows per output conjunction);
** terminal output is switched off, a failed solve is retried once from an
** advanced basis, and an answer that is not optimal is treated as "no
** certificate".  Soundness comes from the re-check in double, never from GLPK.
*/
#include <math.h>
#include <glpk.h>
#include "bounds.h"
#include "lp.h"

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
    slack += gamma_n(m + 1) * gabs * ymax;     /* |fl(g) - g| * |y| */
  }
  for (size_t i = 0; i < m; i++) { rhs += l[i] * b[i]; rhs_abs += fabs(l[i] * b[i]); }
  slack += gamma_n(n + 2) * lhs_abs + gamma_n(m + 2) * rhs_abs;
  return isfinite(lhs) && isfinite(rhs) && round_dn(lhs - rhs) > round_up(2 * slack);
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
** A region {x in [lo, hi] : F_s . x + f_s <= 0 (s < m)} kept as one GLPK
** problem: each lp_region_max changes only the objective and re-solves from
** the previous optimal basis (still feasible), so a batch of objectives over
** one region costs a few pivots each.
*/
struct lp_region { glp_prob *P; size_t m, n; };

lp_region *lp_region_new(const double *F, const double *f, size_t m, size_t n, const double *lo, const double *hi)
{
  lp_region *R;
  int *ia, *ja, k = 0;
  double *ar;
  size_t nz = m * n;
  if (m > 100000 || n > 100000 || !(R = cb_alloc(sizeof *R))) return NULL;
  ia = cb_alloc((nz + 1) * sizeof *ia);
  ja = cb_alloc((nz + 1) * sizeof *ja);
  ar = cb_alloc((nz + 1) * sizeof *ar);
  if (!ia || !ja || !ar) { cb_free(ia); cb_free(ja); cb_free(ar); cb_free(R); return NULL; }
  R->m = m; R->n = n;
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
  for (size_t j = 0; j < R->n; j++) glp_set_obj_coef(R->P, (int)j + 1, a[j]);
  if (!solve(R->P)) return 0;
  for (size_t s = 0; s < R->m; s++) mu[s] = fmax(0, glp_get_row_dual(R->P, (int)s + 1));
  *val = glp_get_obj_val(R->P);
  return isfinite(*val);
}

void lp_region_free(lp_region *R)
{
  if (!R) return;
  glp_delete_prob(R->P);
  cb_free(R);
}
