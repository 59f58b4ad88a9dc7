/*
** The activation table (act.h): per sub-type, f as the forward pass computes
** it, f' as the gradient uses it, the range of f' over an interval (interval
** Jacobians), a Lipschitz constant and the forward-error rule.
**
** Forward-error rules: ReLU and Clip only compare (exact).  LeakyReLU's
** alpha x is one correctly rounded product, HardSigmoid's alpha x + beta one
** fma (its clipping only compares).  Sigmoid, tanh, ELU, SELU, Softplus, Exp
** and Erf call libm (exp, tanh, expm1, log1p, erf), which glibc documents
** within 1-2 ulps on x86_64; with the logistic formula's two further
** roundings (SELU's two products, Softplus's sum; Softsign is two roundings
** and no libm), 16 u relative plus the smallest subnormal absolute covers
** them with room to spare.
**
** The ranges of f' are outward: sigmoid', tanh', erf' and softsign' are even
** and decreasing in |x| (so the range over [l, u] is spanned by the smallest
** and the largest |x|), ELU's alpha e^x, Exp's e^x and Softplus's sigmoid
** are increasing, SELU's is gamma times ELU's, HardSigmoid's is 0, alpha or
** both; each libm value is widened by 16 u.  Exp has no global Lipschitz
** constant: its lip is +inf, which lip/lipschitz.c refuses by name.
**
** The rows with a curvature map (SiLU, GELU, GELU_TANH, HardSwish, Abs, Log,
** Pow) take the ranges of f and f' from src/act_shape.c.  Their forward
** errors: SiLU a few roundings around exp (libm rule); GELU x Phi(x) with
** Phi from erfc and a two-double argument (libm rule, see gelu_f);
** GELU_TANH's sigmoid amplifies its argument's rounding (the COND rule);
** HardSwish three roundings; Abs exact; Log, Sqrt, 1/x, x*x and pow under
** an ulp.  Log and Pow have no global Lipschitz constant (+inf, refused by
** name) except Pow with exponent 0 or 1.
*/
#include <float.h>
#include <math.h>
#include "net.h"

#include "round.h"

static int always(const cb_node *n) { (void)n; return 1; }
static int alpha_nonneg(const cb_node *n) { return n->p.act.alpha >= 0; }
static double one(const cb_node *n) { (void)n; return 1.0; }

/* ---- ReLU: y = max(x, 0); ReLU'(0) = 0 as PyTorch ---- */
static double relu_f(const cb_node *n, double x) { (void)n; return x > 0 ? x : 0; }
static double relu_df(const cb_node *n, double x, double y) { (void)n; (void)y; return x > 0 ? 1.0 : 0.0; }

/* LeakyReLU: 1 if l > 0; alpha if u <= 0; else hull(alpha, 1).  On a set
   where u <= 0 the slope is alpha even at the kink (mean-value bounds). */
static void leaky_drange(const cb_node *n, double l, double u, double *dl, double *dh)
{
  double a = n->p.act.type == CB_ACT_RELU ? 0 : n->p.act.alpha;
  if (l > 0) *dl = *dh = 1;
  else if (u <= 0) *dl = *dh = a;
  else { *dl = fmin(a, 1); *dh = fmax(a, 1); }
}

/* ---- LeakyReLU ---- */
static double leaky_f(const cb_node *n, double x) { return x >= 0 ? x : n->p.act.alpha * x; }
static double leaky_df(const cb_node *n, double x, double y) { (void)y; return x > 0 ? 1.0 : n->p.act.alpha; }
static double leaky_lip(const cb_node *n) { return fmax(1.0, fabs(n->p.act.alpha)); }

/* ---- sigmoid and tanh ---- */
static double sigmoid_f(const cb_node *n, double v)
{
  (void)n;
  if (v >= 0) return 1.0 / (1.0 + exp(-v));
  double e = exp(v);
  return e / (1.0 + e);
}
static double sigmoid_df(const cb_node *n, double x, double y) { (void)n; (void)x; return y * (1.0 - y); }
static double tanh_f(const cb_node *n, double x) { (void)n; return tanh(x); }
static double tanh_df(const cb_node *n, double x, double y) { (void)n; (void)x; return 1.0 - y * y; }
static double quarter(const cb_node *n) { (void)n; return 0.25; }

static double dsig(double x) { double t = exp(-fabs(x)); return t / ((1 + t) * (1 + t)); }
static double dtanh(double x) { double t = exp(-2 * fabs(x)); return 4 * t / ((1 + t) * (1 + t)); }

/* f' even, decreasing in |x|, at most peak: its range over [l, u], widened. */
static void even_range(double (*df)(double), double peak, double l, double u, double *dl, double *dh)
{
  double fr = fmax(fabs(l), fabs(u)), nr = l <= 0 && u >= 0 ? 0 : fmin(fabs(l), fabs(u));
  double a = df(fr), b = nr == 0 ? peak : df(nr), m = 8 * ROUND_U + DBL_TRUE_MIN;
  *dl = fmax(0, a * (1 - 16 * ROUND_U) - m);
  *dh = fmin(peak, b * (1 + 16 * ROUND_U) + m);
}
static void sigmoid_drange(const cb_node *n, double l, double u, double *dl, double *dh)
{
  (void)n;
  even_range(dsig, 0.25, l, u, dl, dh);
}
static void tanh_drange(const cb_node *n, double l, double u, double *dl, double *dh)
{
  (void)n;
  even_range(dtanh, 1.0, l, u, dl, dh);
}

/* ---- Clip[lo, hi]: 0 if u < lo or l > hi; 1 if lo < l, u < hi; else [0, 1] ---- */
static double clip_f(const cb_node *n, double x) { return x < n->p.act.lo ? n->p.act.lo : x > n->p.act.hi ? n->p.act.hi : x; }
static double clip_df(const cb_node *n, double x, double y)
{
  (void)y;
  return x >= n->p.act.lo && x <= n->p.act.hi ? 1.0 : 0.0;
}
static void clip_drange(const cb_node *n, double l, double u, double *dl, double *dh)
{
  if (u < n->p.act.lo || l > n->p.act.hi) *dl = *dh = 0;
  else if (l > n->p.act.lo && u < n->p.act.hi) *dl = *dh = 1;
  else { *dl = 0; *dh = 1; }
}

/* ---- ELU (alpha >= 0, checked by the loader): f' = 1 for x > 0, alpha e^x for x <= 0 ---- */
static double elu_f(const cb_node *n, double x) { return x > 0 ? x : n->p.act.alpha * expm1(x); }
static double elu_df(const cb_node *n, double x, double y) { (void)y; return x > 0 ? 1.0 : n->p.act.alpha * exp(x); }
static void elu_drange(const cb_node *n, double l, double u, double *dl, double *dh)
{
  double a = n->p.act.alpha, m = 16 * ROUND_U, lo, hi;
  if (l > 0) { *dl = *dh = 1; return; }
  lo = fmax(0, a * exp(l) * (1 - m) - DBL_TRUE_MIN);      /* alpha e^t over [l, min(u, 0)] */
  hi = fmin(a, a * exp(fmin(u, 0)) * (1 + m) + DBL_TRUE_MIN);
  if (u > 0) { lo = fmin(lo, 1); hi = fmax(hi, 1); }
  *dl = lo; *dh = hi;
}
static double elu_lip(const cb_node *n) { return fmax(1.0, n->p.act.alpha); }

/* ---- Softplus: log(1 + e^x) = log1p(e^-|x|) + max(x, 0) (no overflow, no
   cancellation: both terms >= 0, log1p's condition number <= 1), so exp,
   log1p and one addition: a few ulps, inside the libm rule.  f' = sigmoid,
   increasing: its range over [l, u] is [sigmoid(l), sigmoid(u)], widened. ---- */
static double softplus_f(const cb_node *n, double x) { (void)n; return log1p(exp(-fabs(x))) + fmax(x, 0); }
static double softplus_df(const cb_node *n, double x, double y) { (void)y; return sigmoid_f(n, x); }
static void softplus_drange(const cb_node *n, double l, double u, double *dl, double *dh)
{
  *dl = fmax(0, sigmoid_f(n, l) * (1 - 16 * ROUND_U) - DBL_TRUE_MIN);
  *dh = fmin(1, sigmoid_f(n, u) * (1 + 16 * ROUND_U) + DBL_TRUE_MIN);
}

/* ---- Exp: libm's exp (under 1 ulp in glibc); f' = f, increasing, so its
   range over [l, u] is [e^l, e^u], widened.  No global Lipschitz constant:
   +inf, which the Lipschitz analysis refuses by name (lip/lipschitz.c); e^u
   that overflows makes IBP refuse the box (ibp.c). ---- */
static double exp_f(const cb_node *n, double x) { (void)n; return exp(x); }
static double exp_df(const cb_node *n, double x, double y) { (void)n; (void)x; return y; }
static void exp_drange(const cb_node *n, double l, double u, double *dl, double *dh)
{
  (void)n;
  *dl = fmax(0, exp(l) * (1 - 16 * ROUND_U) - DBL_TRUE_MIN);
  *dh = exp(u) * (1 + 16 * ROUND_U) + DBL_TRUE_MIN;
}
static double unbounded(const cb_node *n) { (void)n; return HUGE_VAL; }

/* ---- HardSigmoid (alpha >= 0, checked by the loader): clip(z, 0, 1) with
   z = alpha x + beta by one fma, so one rounding: inside [0, 1] the error is
   at most u |y|, outside it none (0 and 1 are doubles and rounding is
   monotone): the ROUND rule.  f' = alpha where 0 < z < 1 (strict, as
   PyTorch's hardsigmoid backward), else 0; over [l, u] alpha if z stays in
   (0, 1), 0 if it stays outside, else [0, alpha] (z bracketed outward). ---- */
static double hsig_z(const cb_node *n, double x) { return fma(n->p.act.alpha, x, n->p.act.beta); }
static double hsig_f(const cb_node *n, double x) { double z = hsig_z(n, x); return z < 0 ? 0 : z > 1 ? 1 : z; }
static double hsig_df(const cb_node *n, double x, double y)
{
  double z = hsig_z(n, x);
  (void)y;
  return z > 0 && z < 1 ? n->p.act.alpha : 0;
}
static void hsig_drange(const cb_node *n, double l, double u, double *dl, double *dh)
{
  double a = n->p.act.alpha, zl = round_down(hsig_z(n, l)), zh = round_up(hsig_z(n, u));
  if (zh <= 0 || zl >= 1) *dl = *dh = 0;
  else if (zl > 0 && zh < 1) *dl = *dh = a;
  else { *dl = 0; *dh = a; }
}
static double hsig_lip(const cb_node *n) { return fabs(n->p.act.alpha); }

/* ---- Erf: libm's erf (glibc: 1-2 ulps); f'(x) = 2/sqrt(pi) e^(-x^2), even and
   decreasing in |x|.  x^2 is split as hi + lo (fma) and e^(-lo) taken as
   1 - lo (|lo| <= u hi; hi < 745 or the result is 0), so f' is within a few
   ulps relative for every x (plain exp(-x*x) errs by u x^2 relative).  The
   peak 2/sqrt(pi) is taken one ulp above its nearest double. ---- */
#define TWO_OVER_SQRTPI 1.1283791670955126   /* 2/sqrt(pi), rounded to nearest */
static double erf_f(const cb_node *n, double x) { (void)n; return erf(x); }
static double derf(double x)
{
  double hi = x * x, lo = fma(x, x, -hi);
  return TWO_OVER_SQRTPI * exp(-hi) * (1 - lo);
}
static double erf_df(const cb_node *n, double x, double y) { (void)n; (void)y; return derf(x); }
static double erf_peak(const cb_node *n) { (void)n; return nextafter(TWO_OVER_SQRTPI, 2.0); }
static void erf_drange(const cb_node *n, double l, double u, double *dl, double *dh)
{
  even_range(derf, erf_peak(n), l, u, dl, dh);
}

/* ---- Softsign: x / (1 + |x|), two roundings (inside the libm rule); +-1 at
   +-inf.  f' = 1/(1 + |x|)^2, even and decreasing in |x|, at most 1. ---- */
static double softsign_f(const cb_node *n, double x) { (void)n; return isinf(x) ? copysign(1, x) : x / (1 + fabs(x)); }
static double dsoftsign(double x) { double d = 1 + fabs(x); return 1 / (d * d); }
static double softsign_df(const cb_node *n, double x, double y) { (void)n; (void)y; return dsoftsign(x); }
static void softsign_drange(const cb_node *n, double l, double u, double *dl, double *dh)
{
  (void)n;
  even_range(dsoftsign, 1.0, l, u, dl, dh);
}

/* ---- SELU = gamma ELU_alpha (alpha, gamma >= 0, checked by the loader):
   gamma x, or gamma (alpha expm1(x)): libm and two products, inside the
   libm rule.  f' = gamma ELU', its range gamma times ELU's, rounded outward. ---- */
static int selu_monotone(const cb_node *n) { return n->p.act.alpha >= 0 && n->p.act.gamma >= 0; }
static double selu_f(const cb_node *n, double x)
{
  return x > 0 ? n->p.act.gamma * x : n->p.act.gamma * (n->p.act.alpha * expm1(x));
}
static double selu_df(const cb_node *n, double x, double y) { return n->p.act.gamma * elu_df(n, x, y); }
static void selu_drange(const cb_node *n, double l, double u, double *dl, double *dh)
{
  double g = n->p.act.gamma;
  elu_drange(n, l, u, dl, dh);
  *dl = fmax(0, *dl * g * (1 - 4 * ROUND_U) - DBL_TRUE_MIN);
  *dh = *dh * g * (1 + 4 * ROUND_U) + DBL_TRUE_MIN;
}
static double selu_lip(const cb_node *n) { return n->p.act.gamma * elu_lip(n) * (1 + 4 * ROUND_U); }


/* ---- SiLU = x sigmoid(x): x / (1 + e^-x) for x >= 0, x e^x / (1 + e^x)
   below (exp's argument exact, three roundings: the libm rule).
   f' = s (1 + x (1 - s)), s = sigmoid(x); f'' = s (1 - s)(2 - x tanh(x/2)):
   convex on [-c, c], concave outside, c = 2.39935728051546767 (x tanh(x/2)
   = 2).  sup |f'| = f'(c) = 1.0998393201288669... ---- */
#define SILU_C 2.3993572805154677
static double silu_f(const cb_node *n, double x)
{
  (void)n;
  if (x >= 0) return x / (1.0 + exp(-x));
  double e = exp(x);
  return x * e / (1.0 + e);
}
static double silu_df(const cb_node *n, double x, double y)
{
  double s = sigmoid_f(n, x);
  (void)y;
  return s * (1 + x * (1 - s));
}
static double silu_lip(const cb_node *n) { (void)n; return 1.0998393201289; }
static int inflect_pm(double c, double *bp, signed char *cv)
{
  bp[0] = -c; bp[1] = c;
  cv[0] = -1; cv[1] = 1; cv[2] = -1;
  return 2;
}
static int silu_shape(const cb_node *n, double *bp, signed char *cv) { (void)n; return inflect_pm(SILU_C, bp, cv); }

/* ---- GELU = x Phi(x) = (x/2) erfc(-x/sqrt 2).  erfc, not 1 + erf: no
   cancellation for x < 0.  Its argument z = -x/sqrt 2 is taken as zh + zl
   (x times the two-double 1/sqrt 2, fma for the product's error) and
   erfc(zh + zl) ~ erfc(zh) - 2/sqrt(pi) e^(-zh^2) zl: relative error a few
   ulps for every x, inside the libm rule.  f' = Phi(x) + x phi(x),
   f'' = phi(x) (2 - x^2): convex on [-sqrt 2, sqrt 2], concave outside;
   sup |f'| = f'(sqrt 2) = 1.1289041451851548... ---- */
#define RSQRT2_HI 0.70710678118654757          /* 1/sqrt 2 = HI + LO */
#define RSQRT2_LO (-4.8336466567264567e-17)
#define RSQRT2PI 0.3989422804014327            /* 1/sqrt(2 pi) */
static double phi_upper(double x)              /* Phi(x) = erfc(-x/sqrt 2)/2, a few ulps */
{
  double zh = -x * RSQRT2_HI, zl = -fma(x, RSQRT2_HI, -(-zh)) - x * RSQRT2_LO;
  return 0.5 * (erfc(zh) - TWO_OVER_SQRTPI * exp(-zh * zh) * zl);
}
static double gelu_f(const cb_node *n, double x) { (void)n; return isinf(x) ? (x > 0 ? x : 0) : x * phi_upper(x); }
static double gelu_df(const cb_node *n, double x, double y)
{
  double h = x * x, l = fma(x, x, -h);
  (void)n; (void)y;
  return phi_upper(x) + x * (RSQRT2PI * exp(-0.5 * h) * (1 - 0.5 * l));
}
static double gelu_lip(const cb_node *n) { (void)n; return 1.1289041451852; }
static int gelu_shape(const cb_node *n, double *bp, signed char *cv) { (void)n; return inflect_pm(1.4142135623730951, bp, cv); }

/* ---- GELU, tanh approximation: (x/2)(1 + tanh w) with w = sqrt(2/pi)(x +
   0.044715 x^3), computed as x sigmoid(2w) (no cancellation for x < 0).  w
   is a few roundings, and sigmoid(2w) amplifies its relative error by |2w|
   (up to ~700 before it underflows): the COND rule.  f'' changes sign at
   +-1.41850400879082836 only (convex between, concave outside; checked at
   50 digits); sup |f'| = 1.1289930686587718... ---- */
#define GT_C 0.79788456080286541               /* sqrt(2/pi) */
#define GT_K 0.044715
static double gt_w2(double x) { return 2 * GT_C * (x + GT_K * (x * x * x)); }
static double gelu_tanh_f(const cb_node *n, double x) { return isinf(x) ? (x > 0 ? x : 0) : x * sigmoid_f(n, gt_w2(x)); }
static double gelu_tanh_df(const cb_node *n, double x, double y)
{
  double s = sigmoid_f(n, gt_w2(x));
  (void)y;
  return s + x * (s * (1 - s)) * (2 * GT_C * (1 + 3 * GT_K * x * x));
}
static double gelu_tanh_lip(const cb_node *n) { (void)n; return 1.1289930686588; }
static int gelu_tanh_shape(const cb_node *n, double *bp, signed char *cv) { (void)n; return inflect_pm(1.4185040087908284, bp, cv); }

/* ---- HardSwish = x clip(x/6 + 1/2, 0, 1): 0 for x <= -3, x for x >= 3,
   x (x + 3) / 6 between (three roundings: the libm rule).  Linear, convex,
   linear on (-inf, -3], [-3, 3], [3, inf); f' = 0, (2x + 3)/6, 1 (as
   PyTorch: (2x + 3)/6 on [-3, 3]); sup |f'| = 3/2. ---- */
static double hswish_f(const cb_node *n, double x) { (void)n; return x <= -3 ? 0 : x >= 3 ? x : x * (x + 3) / 6; }
static double hswish_df(const cb_node *n, double x, double y) { (void)n; (void)y; return x < -3 ? 0 : x > 3 ? 1 : (2 * x + 3) / 6; }
static double three_halves(const cb_node *n) { (void)n; return 1.5; }
static int hswish_shape(const cb_node *n, double *bp, signed char *cv)
{
  (void)n;
  bp[0] = -3; bp[1] = 3;
  cv[0] = 0; cv[1] = 1; cv[2] = 0;
  return 2;
}

/* ---- Abs: exact; f' = sign(x) (PyTorch: 0 at 0); linear on each side of 0. ---- */
static double abs_f(const cb_node *n, double x) { (void)n; return fabs(x); }
static double abs_df(const cb_node *n, double x, double y) { (void)n; (void)y; return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }
static void abs_drange(const cb_node *n, double l, double u, double *dl, double *dh)
{
  (void)n;
  *dl = l >= 0 ? (l > 0 ? 1 : 0) : -1;
  *dh = u <= 0 ? (u < 0 ? -1 : 0) : 1;
  if (l < 0 && u > 0) { *dl = -1; *dh = 1; }
  if (l == 0 && u > 0) *dl = 0;
}
static int abs_shape(const cb_node *n, double *bp, signed char *cv) { (void)n; bp[0] = 0; cv[0] = cv[1] = 0; return 1; }
static int never(const cb_node *n) { (void)n; return 0; }

/* ---- Log (x > 0): libm's log, concave, increasing; f' = 1/x, unbounded. ---- */
static double log_f(const cb_node *n, double x) { (void)n; return log(x); }
static double log_df(const cb_node *n, double x, double y) { (void)n; (void)y; return 1 / x; }
static int concave1(const cb_node *n, double *bp, signed char *cv) { (void)n; (void)bp; cv[0] = -1; return 0; }
static int positive(const cb_node *n, double l, double u) { (void)n; return l > 0 && u < HUGE_VAL; }

/* ---- Pow x^p, p = alpha a finite constant: x * x for 2, sqrt for 1/2, 1/x
   for -1 (correctly rounded), else libm's pow (glibc: under 1 ulp).
   Domain: R for integers p >= 0; x != 0 for negative integers; x >= 0 for
   other p > 0; x > 0 for other p < 0.  Curvature: p (p - 1) x^(p-2), so
   convex for even p >= 2 (on R), for p > 1 and p < 0 on x > 0, concave for
   0 < p < 1; on x < 0 an integer p is convex if p is even, concave if odd.
   f' = p x^(p-1): unbounded unless p is 0 or 1. ---- */
static double pw(const cb_node *n) { return n->p.act.alpha; }
static int pw_int(double p) { return p == floor(p) && fabs(p) < 0x1p52; }
static double pow_f(const cb_node *n, double x)
{
  double p = pw(n);
  return p == 2 ? x * x : p == 0.5 ? sqrt(x) : p == -1 ? 1 / x : p == 1 ? x : pow(x, p);
}
static double pow_df(const cb_node *n, double x, double y)
{
  double p = pw(n);
  (void)y;
  return p == 2 ? 2 * x : p == 1 ? 1 : p == 0 ? 0 : p == 0.5 ? 0.5 / sqrt(x) : p == -1 ? -1 / (x * x) : p * pow(x, p - 1);
}
static int pow_monotone(const cb_node *n)
{
  double p = pw(n);
  return p == 0 || (p > 0 && !(pw_int(p) && fmod(p, 2) == 0));
}
static double pow_lip(const cb_node *n) { double p = pw(n); return p == 0 ? 0 : p == 1 ? 1 : HUGE_VAL; }
static int pow_shape(const cb_node *n, double *bp, signed char *cv)
{
  double p = pw(n);
  if (p == 0 || p == 1) { cv[0] = 0; return 0; }
  if (!pw_int(p)) { cv[0] = p > 0 && p < 1 ? -1 : 1; return 0; }
  if (p > 0 && fmod(p, 2) == 0) { cv[0] = 1; return 0; }
  bp[0] = 0;
  cv[0] = fmod(p, 2) == 0 ? 1 : -1;
  cv[1] = 1;
  return 1;
}
static int pow_domain(const cb_node *n, double l, double u)
{
  double p = pw(n);
  if (!(l > -HUGE_VAL && u < HUGE_VAL)) return 0;
  if (pw_int(p) && p >= 0) return 1;
  if (pw_int(p)) return l > 0 || u < 0;
  return p > 0 ? l >= 0 : l > 0;
}
static void shape_drange(const cb_node *n, double l, double u, double *dl, double *dh) { act_shape_drange(n, l, u, dl, dh); }

const cb_act_info cb_act_table[CB_ACT_COUNT] = {
  [CB_ACT_RELU] = {"RELU", 1, CB_ACT_ERR_EXACT, always, relu_f, relu_df, leaky_drange, one, NULL, NULL},
  [CB_ACT_LEAKY_RELU] = {"LEAKY_RELU", 1, CB_ACT_ERR_ROUND, alpha_nonneg, leaky_f, leaky_df, leaky_drange, leaky_lip, NULL, NULL},
  [CB_ACT_SIGMOID] = {"SIGMOID", 0, CB_ACT_ERR_LIBM, always, sigmoid_f, sigmoid_df, sigmoid_drange, quarter, NULL, NULL},
  [CB_ACT_TANH] = {"TANH", 0, CB_ACT_ERR_LIBM, always, tanh_f, tanh_df, tanh_drange, one, NULL, NULL},
  [CB_ACT_CLIP] = {"CLIP", 1, CB_ACT_ERR_EXACT, always, clip_f, clip_df, clip_drange, one, NULL, NULL},
  [CB_ACT_ELU] = {"ELU", 0, CB_ACT_ERR_LIBM, alpha_nonneg, elu_f, elu_df, elu_drange, elu_lip, NULL, NULL},
  [CB_ACT_SOFTPLUS] = {"SOFTPLUS", 0, CB_ACT_ERR_LIBM, always, softplus_f, softplus_df, softplus_drange, one, NULL, NULL},
  [CB_ACT_EXP] = {"EXP", 0, CB_ACT_ERR_LIBM, always, exp_f, exp_df, exp_drange, unbounded, NULL, NULL},
  [CB_ACT_HARD_SIGMOID] = {"HARD_SIGMOID", 1, CB_ACT_ERR_ROUND, alpha_nonneg, hsig_f, hsig_df, hsig_drange, hsig_lip, NULL, NULL},
  [CB_ACT_ERF] = {"ERF", 0, CB_ACT_ERR_LIBM, always, erf_f, erf_df, erf_drange, erf_peak, NULL, NULL},
  [CB_ACT_SOFTSIGN] = {"SOFTSIGN", 0, CB_ACT_ERR_LIBM, always, softsign_f, softsign_df, softsign_drange, one, NULL, NULL},
  [CB_ACT_SELU] = {"SELU", 0, CB_ACT_ERR_LIBM, selu_monotone, selu_f, selu_df, selu_drange, selu_lip, NULL, NULL},
  [CB_ACT_SILU] = {"SILU", 0, CB_ACT_ERR_LIBM, never, silu_f, silu_df, shape_drange, silu_lip, silu_shape, NULL},
  [CB_ACT_GELU] = {"GELU", 0, CB_ACT_ERR_LIBM, never, gelu_f, gelu_df, shape_drange, gelu_lip, gelu_shape, NULL},
  [CB_ACT_GELU_TANH] = {"GELU_TANH", 0, CB_ACT_ERR_COND, never, gelu_tanh_f, gelu_tanh_df, shape_drange, gelu_tanh_lip,
                        gelu_tanh_shape, NULL},
  [CB_ACT_HARD_SWISH] = {"HARD_SWISH", 0, CB_ACT_ERR_LIBM, never, hswish_f, hswish_df, shape_drange, three_halves,
                         hswish_shape, NULL},
  [CB_ACT_ABS] = {"ABS", 1, CB_ACT_ERR_EXACT, never, abs_f, abs_df, abs_drange, one, abs_shape, NULL},
  [CB_ACT_LOG] = {"LOG", 0, CB_ACT_ERR_LIBM, always, log_f, log_df, shape_drange, unbounded, concave1, positive},
  [CB_ACT_POW] = {"POW", 0, CB_ACT_ERR_LIBM, pow_monotone, pow_f, pow_df, shape_drange, pow_lip, pow_shape, pow_domain},
};
_Static_assert(CB_ACT_COUNT == 19, "a new activation needs its row in cb_act_table");
