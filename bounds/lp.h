/*
** GLPK, wrapped once (STYLE G12): every glp_* call, the 0 -> 1 index shift
** and the status handling live in lp.c.  GLPK's optimum is a floating-point
** estimate: nothing here proves anything until it has been re-checked in
** double with an explicit rounding term (each function says how).
*/
#ifndef CB_LP_H
#define CB_LP_H

#include <stddef.h>

/* Is {y in [ylo, yhi] : A y <= b} empty (A m x n row-major, b the rounded-up
   right-hand sides)?  Solves  min l.b  s.t.  A^T l = 0, sum l = 1, l >= 0  and,
   if the optimum is negative, checks the Farkas certificate l in double:
   min over the box of (l^T A) y, minus its rounding, must exceed l.b plus its
   rounding.  Returns 1 (checked: empty), 0 (no certificate) or CB_ENOMEM. */
int lp_farkas(const double *A, const double *b, size_t m, size_t n, const double *ylo, const double *yhi);

/* min over x in [lo, hi] of max_r (a_r . x + c_r) (a m x n): the minimiser
   x (n), row weights l (m, l >= 0, sum 1) and the value t.  An estimate only:
   callers re-bound the row combination l soundly.  Returns 1 if solved, 0 if
   not, CB_ENOMEM. */
int lp_minmax(const double *a, const double *c, size_t m, size_t n, const double *lo, const double *hi,
              double *x, double *l, double *t);
/* The same LP by a small dense active-set method (no GLPK), for n < 16
   variables; 0 when it cannot solve it (the caller then calls lp_minmax). */
int lp_minmax_small(const double *a, const double *c, size_t m, size_t n, const double *lo, const double *hi,
                    double *x, double *l, double *t);

/* A region {x in [lo, hi] : F_s . x + f_s <= 0, s < m} (F m x n) for many
   objectives: lp_region_max gives max over the region of a . x (without a
   constant) in *val and multipliers mu (m, >= 0) such that
   max over the box of (a - sum_s mu_s F_s) . x - sum_s mu_s f_s  ~  *val.
   Estimates only: callers re-bound a . x - sum mu_s (F_s . x + f_s) soundly.
   lp_region_max returns 1 if solved, 0 if not (infeasible region included). */
typedef struct lp_region lp_region;
lp_region *lp_region_new(const double *F, const double *f, size_t m, size_t n, const double *lo, const double *hi);
int lp_region_max(lp_region *R, const double *a, double *mu, double *val);
void lp_region_free(lp_region *R);
extern int lp_region_force_glpk;   /* tests: GLPK even for small regions (compare both) */

/*
** A general LP kept across many solves (the MILP leaf's branch and bound,
** certify/vfy_milp.c): min c . v  s.t.  rl_i <= a_i . v <= ru_i (rows, CSR:
** row i's entries rp[i] .. rp[i + 1] - 1 of ci / av), cl_j <= v_j <= cu_j
** (columns: finite bounds; rows may have an infinite side).  Between solves
** only column bounds change (lp_model_set_col), and each solve starts from
** the last basis (dual simplex), as a branch and bound wants.
**
** GLPK proves nothing here either: lp_model_bound turns ANY multipliers y
** into a sound lower bound of the objective (or, objective 0, of the
** relation every feasible point satisfies), rounding included; see there.
*/
typedef struct lp_model lp_model;
lp_model *lp_model_new(size_t nrow, size_t ncol, const size_t *rp, const int *ci, const double *av,
                       const double *rl, const double *ru, const double *cl, const double *cu, const double *c);
                  /* copies everything; NULL on OOM, on a non-finite column bound or entry */
void lp_model_set_col(lp_model *M, size_t j, double lo, double hi);   /* new bounds of column j (lo <= hi) */
void lp_model_get_col(const lp_model *M, size_t j, double *lo, double *hi);
void lp_model_set_row(lp_model *M, size_t i, double lo, double hi);   /* new bounds of row i (infinite sides allowed) */
void lp_model_set_obj(lp_model *M, const double *c);                  /* new objective (ncol, finite) */
int lp_model_solve(lp_model *M, double *v, double *y, double *obj);
                  /* 1: optimal (GLPK's word): v the point (ncol), y the row duals (nrow), *obj its
                     estimate; 0: GLPK found no feasible point, y a candidate infeasibility certificate
                     (a tableau row's multipliers, zero if none); -1: neither (iteration limit, failure) */
double lp_model_bound(const lp_model *M, const double *y, int with_obj);
                  /* a sound lower bound, for the current column bounds, of c . v (with_obj) or of 0
                     (with_obj = 0: > 0 proves the LP infeasible) over the LP's feasible set, from any
                     multipliers y (nrow); -INFINITY when nothing finite comes out */
void lp_model_free(lp_model *M);            /* NULL is a no-op */

#endif
