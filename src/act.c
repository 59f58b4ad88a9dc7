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

const cb_act_info cb_act_table[CB_ACT_COUNT] = {
  [CB_ACT_RELU] = {"RELU", 1, CB_ACT_ERR_EXACT, always, relu_f, relu_df, leaky_drange, one},
  [CB_ACT_LEAKY_RELU] = {"LEAKY_RELU", 1, CB_ACT_ERR_ROUND, alpha_nonneg, leaky_f, leaky_df, leaky_drange, leaky_lip},
  [CB_ACT_SIGMOID] = {"SIGMOID", 0, CB_ACT_ERR_LIBM, always, sigmoid_f, sigmoid_df, sigmoid_drange, quarter},
  [CB_ACT_TANH] = {"TANH", 0, CB_ACT_ERR_LIBM, always, tanh_f, tanh_df, tanh_drange, one},
  [CB_ACT_CLIP] = {"CLIP", 1, CB_ACT_ERR_EXACT, always, clip_f, clip_df, clip_drange, one},
  [CB_ACT_ELU] = {"ELU", 0, CB_ACT_ERR_LIBM, alpha_nonneg, elu_f, elu_df, elu_drange, elu_lip},
  [CB_ACT_SOFTPLUS] = {"SOFTPLUS", 0, CB_ACT_ERR_LIBM, always, softplus_f, softplus_df, softplus_drange, one},
  [CB_ACT_EXP] = {"EXP", 0, CB_ACT_ERR_LIBM, always, exp_f, exp_df, exp_drange, unbounded},
  [CB_ACT_HARD_SIGMOID] = {"HARD_SIGMOID", 1, CB_ACT_ERR_ROUND, alpha_nonneg, hsig_f, hsig_df, hsig_drange, hsig_lip},
  [CB_ACT_ERF] = {"ERF", 0, CB_ACT_ERR_LIBM, always, erf_f, erf_df, erf_drange, erf_peak},
  [CB_ACT_SOFTSIGN] = {"SOFTSIGN", 0, CB_ACT_ERR_LIBM, always, softsign_f, softsign_df, softsign_drange, one},
  [CB_ACT_SELU] = {"SELU", 0, CB_ACT_ERR_LIBM, selu_monotone, selu_f, selu_df, selu_drange, selu_lip},
};
_Static_assert(CB_ACT_COUNT == 12, "a new activation needs its row in cb_act_table");
