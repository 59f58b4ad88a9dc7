/*
** Outward rounding (see round.h for the model and the four ways).  Pure
** functions on doubles: no state, no rounding-mode changes.
** Workload: called per bound entry or per arithmetic step on a bound, so each
** function is a few flops.
*/
#include "round.h"

/* n u is exact for n <= 2^53, and so is 1 - n u (a multiple of 2^-53 in (0, 1]). */
double round_gamma(size_t n) { double k = (double)n * ROUND_U; return k / (1 - k); }

/* gamma_n rounded up (Higham Lemma 3.1); no bound once n u >= 1/4. */
double round_gamma_up(size_t n)
{
  double nu = (double)n * ROUND_U;
  if (nu >= 0.25) return HUGE_VAL;
  return round_next_up(nu / round_next_down(1.0 - nu));
}

/* 2u|v| >= one ulp of v, so the real result (within half an ulp of v, or
   eta / 2 when it underflows) is inside (docs/soundness.md, section 2). */
double round_up(double v) { return v + fabs(v) * 2 * ROUND_U + ROUND_ETA; }
double round_down(double v) { return v - fabs(v) * 2 * ROUND_U - ROUND_ETA; }

/* A correctly rounded result is within half a step of the real one. */
double round_next_up(double x) { return nextafter(x, HUGE_VAL); }
double round_next_down(double x) { return nextafter(x, -HUGE_VAL); }
double round_add_up(double a, double b) { return round_next_up(a + b); }
double round_mul_up(double a, double b) { return round_next_up(a * b); }

/*
** RU / RD from the exact error e of s = fl(real): the real value is s + e,
** so it lies above s when e > 0 (RU is then the next double) and below when
** e < 0.  Errors: two-sum for a sum (Knuth; exact barring overflow), the fma
** residual a b - p for a product and x - q y for a quotient (exact unless
** it underflows).
*/
static double ru(double s, double e) { return e > 0 ? round_next_up(s) : s; }
static double rd(double s, double e) { return e < 0 ? round_next_down(s) : s; }

/* Knuth's two-sum: five operations given s, no branch, any order of |a|, |b|. */
double round_two_sum_err(double a, double b, double s) { double bb = s - a; return (a - (s - bb)) + (b - bb); }

double round_add_ru(double a, double b) { double s = a + b; return ru(s, round_two_sum_err(a, b, s)); }
double round_add_rd(double a, double b) { double s = a + b; return rd(s, round_two_sum_err(a, b, s)); }
/*
** Where the residual can underflow it can round to 0 (or be flushed) while
** the real result differs from p: below |p| = 2^-968 a product's residual,
** a multiple of the factors' last-bit product ~ |p| 2^-104, may be below
** 2^-1074 (0x1.0000000000001p-500 * 0x1.0000000000001p-520: residual
** 2^-1124).  There the step outward is taken unconditionally (sound: the
** real value is within half a step of p), unless the result is exact
** because a factor is 0.  The same for a quotient whose dividend or
** quotient is that small.
*/
#define ROUND_TINY 0x1p-968
double round_mul_ru(double a, double b)
{
  double p = a * b;
  if (fabs(p) < ROUND_TINY && a != 0 && b != 0) return round_next_up(p);
  return ru(p, fma(a, b, -p));
}
double round_mul_rd(double a, double b)
{
  double p = a * b;
  if (fabs(p) < ROUND_TINY && a != 0 && b != 0) return round_next_down(p);
  return rd(p, fma(a, b, -p));
}
/* x / y: the remainder x - q y has the sign of x/y - q when y > 0. */
double round_div_ru(double x, double y)
{
  double q = x / y, r = fma(-q, y, x);
  if ((fabs(q) < ROUND_TINY || fabs(x) < ROUND_TINY) && x != 0 && y != 0 && isfinite(y)) return round_next_up(q);
  return ru(q, y > 0 ? r : -r);
}
double round_div_rd(double x, double y)
{
  double q = x / y, r = fma(-q, y, x);
  if ((fabs(q) < ROUND_TINY || fabs(x) < ROUND_TINY) && x != 0 && y != 0 && isfinite(y)) return round_next_down(q);
  return rd(q, y > 0 ? r : -r);
}

/* Sum of n >= 0 nonnegative terms whose float sum is s:
   real <= s / (1 - gamma_n) <= s (1 + 2 gamma_n) (gamma_n <= 1/3 here). */
double round_sum_up(double s, size_t n)
{
  return round_next_up(s * round_next_up(1.0 + 2.0 * round_gamma_up(n)));
}

/* Sum of squares: |fl(x.x) - x.x| <= gamma_n x.x, plus n eta for underflow. */
double round_sumsq_up(const double *x, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++) s += x[i] * x[i];
  return round_next_up(round_sum_up(s, n) + (double)n * ROUND_ETA);
}

double round_nrm2_up(const double *x, size_t n) { return round_next_up(sqrt(round_sumsq_up(x, n))); }

/* Lower bound of ||x||_2: the real sum of squares >= s (1 - gamma_n) - n eta. */
double round_nrm2_down(const double *x, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++) s += x[i] * x[i];
  s = round_next_down(round_next_down(s * round_next_down(1.0 - round_gamma_up(n))) - (double)n * ROUND_ETA);
  return s > 0 ? round_next_down(sqrt(s)) : 0;
}
