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

#endif
