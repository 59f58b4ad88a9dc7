/*
** Outward rounding: the one home of the unit roundoff, gamma_n, rounding up
** and down, and bounded sums.  Every floor may include it; nothing else
** defines these.
**
** Model: IEEE 754 binary64, round to nearest, gradual underflow (no
** flush-to-zero).  u = 2^-53 is the unit roundoff: a correctly rounded
** operation whose real result x is normal returns fl(x) = x (1 + d), |d| <= u;
** one that underflows errs by at most eta / 2 in absolute value, eta = 2^-1074.
** gamma_n = n u / (1 - n u) (n u < 1) bounds the relative error of an n-term
** sum or dot product in any order, with or without FMA:
**   |fl(a.b) - a.b| <= gamma_n |a|.|b|   (Higham, Accuracy and Stability of
**   Numerical Algorithms, 2nd ed., Lemma 3.1 and Thm 3.1 / eq. 3.5).
**
** Four ways of moving a value outward.  They give different numbers (for
** one operation, round_up >= round_next_up >= RU), so a caller keeps the one
** its soundness argument uses:
**   round_up / round_down       v -+ (2u|v| + eta): a relative widening with
**                               no libm call (bounds/, certify/);
**   round_next_up / _down,      one nextafter step (IEEE nextUp / nextDown)
**   round_add_up, round_mul_up  after the round-to-nearest result (lip/);
**   round_sum2_*, round_prod_*, 2u|v| widening that keeps exact results
**   round_acc_* (inline)        exact (zeros, subnormal sums), for hot loops;
**   round_add_ru ... _div_rd    RU / RD: the real result rounded toward +inf /
**                               -inf, from error-free transformations (two-sum,
**                               fma residual): exact constants stay exact.
** Infinities: the outward side stays infinite (round_up(+inf) = +inf); the
** inward side of round_up / round_down is NaN (inf - inf), which callers
** treat as no bound.  NaN propagates.
** Cost: all are a few flops; round_next_* call libm's nextafter.
*/
#ifndef CB_ROUND_H
#define CB_ROUND_H

#include <float.h>
#include <math.h>
#include <stddef.h>

#define ROUND_U 0x1p-53      /* unit roundoff u of binary64 */
#define ROUND_ETA 0x1p-1074  /* eta: smallest positive subnormal (DBL_TRUE_MIN) */

/* gamma_n */
double round_gamma(size_t n);     /* n u / (1 - n u) in round to nearest: within u relative, either side (1 - n u is exact) */
double round_gamma_up(size_t n);  /* >= n u / (1 - n u); HUGE_VAL when n u >= 1/4 */

/* Relative widening */
double round_up(double v);        /* v + 2u|v| + eta: >= the real result of a rounded operation that returned v */
double round_down(double v);      /* v - 2u|v| - eta: <= it */

/* One nextafter step */
double round_next_up(double x);   /* the next double above x: >= the real result of one operation that returned x */
double round_next_down(double x); /* the next double below x */
double round_add_up(double a, double b);  /* round_next_up(a + b) >= a + b */
double round_mul_up(double a, double b);  /* round_next_up(a * b) >= a b */

/* Directed rounding RU / RD of one operation, sound everywhere.  The fma
   residual of a product or quotient is exact unless it underflows: for
   |fl(a b)| >= 2^-968, and |x|, |fl(x / y)| >= 2^-968, RU / RD are tight (one
   step apart, exact results kept exact); below that they step outward from
   fl(.) unconditionally (a factor or dividend 0 stays exact). */
double round_two_sum_err(double a, double b, double s);  /* (a + b) - s exactly, for s = fl(a + b) (barring overflow) */
double round_add_ru(double a, double b);  /* RU(a + b): least double >= a + b */
double round_add_rd(double a, double b);  /* RD(a + b): greatest double <= a + b */
double round_mul_ru(double a, double b);  /* RU(a b) */
double round_mul_rd(double a, double b);  /* RD(a b) */
double round_div_ru(double x, double y);  /* RU(x / y) */
double round_div_rd(double x, double y);  /* RD(x / y) */

/* Bounded sums (terms >= 0, summed in any order) */
double round_sum_up(double s, size_t n);            /* >= the real sum of n terms whose double sum is s: s (1 + 2 gamma_n), rounded up */
double round_sumsq_up(const double *x, size_t n);   /* >= sum x_i^2 (gamma_n, plus n eta for underflow) */
double round_nrm2_up(const double *x, size_t n);    /* >= ||x||_2 */
double round_nrm2_down(const double *x, size_t n);  /* <= ||x||_2 */

/*
** Inline widening for hot loops (a call or a subnormal operand, which costs a
** microcode assist on x86, would dominate a few adds per entry):
**   the double result v of a sum or difference of two doubles is exact when
**   |v| < DBL_MIN (gradual underflow), else within u|v| of the real value, so
**   v -+ 2u|v| encloses it, plus DBL_MIN near the underflow threshold, where
**   2u|v| itself may round; a product is exact when a factor is 0, else the
**   same with DBL_MIN for an underflowing product (error <= eta / 2).
** Exact zeros stay zeros, so no tiny nonzero value leaks into a dgemm.
*/
/* a >= 0: 2u a, plus DBL_MIN when a < 2^-960 (the slack of one rounding of magnitude a) */
static inline double round_slack(double a) { return a * (2 * ROUND_U) + (a < 0x1p-960 ? DBL_MIN : 0); }
/* Branch-free round_slack(|x|) of a result x that is exact when 0: 0 for x = 0 (looser than round_sum2_* for subnormal x, never tighter) */
static inline double round_slack_nz(double x)
{
  double a = fabs(x);
  return a * (2 * ROUND_U) + (a < 0x1p-960 && a != 0 ? DBL_MIN : 0);
}
/* <= the real a +- b whose double result is v */
static inline double round_sum2_down(double v) { double a = fabs(v); return a < DBL_MIN ? v : v - round_slack(a); }
/* >= the real a +- b whose double result is v */
static inline double round_sum2_up(double v) { double a = fabs(v); return a < DBL_MIN ? v : v + round_slack(a); }
/* <= x y; 0 when a factor is 0 */
static inline double round_prod_down(double x, double y) { double p = x * y; return x == 0 || y == 0 ? 0 : p - round_slack(fabs(p)); }
/* >= x y; 0 when a factor is 0 */
static inline double round_prod_up(double x, double y) { double p = x * y; return x == 0 || y == 0 ? 0 : p + round_slack(fabs(p)); }
/* <= a + b, exact when a or b is 0 (an accumulator keeps its first term as is) */
static inline double round_acc_down(double a, double b) { return a == 0 ? b : b == 0 ? a : round_sum2_down(a + b); }
/* >= a + b, exact when a or b is 0 */
static inline double round_acc_up(double a, double b) { return a == 0 ? b : b == 0 ? a : round_sum2_up(a + b); }

#endif
