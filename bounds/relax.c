/*
** Linear relaxations of the elementwise nonlinear kinds: for pre-activation
** bounds l <= x <= u, a lower line y >= lw x + lb and an upper line
** y <= uw x + ub, valid for every real x in [l, u].  Pure scalar functions,
** shared by CROWN, alpha-CROWN and the LP encoder (STYLE G3).
**
** Rounding: a slope may be any double; the intercept is then chosen so the
** line is valid in real arithmetic: for piecewise-linear kinds it is rounded
** outward at both ends of [l, u]; for the smooth ones (libm values within a
** few ulps) it is moved by a margin 16u (|s| max(|l|,|u|) + |t| + 1).
*/
#include <float.h>
#include <math.h>
#include "bounds.h"
#include "round.h"

/* Smallest t with s*x + t >= y at x (up) or largest with <= (dn), real arithmetic. */
static double t_up(double s, double x, double y) { return round_up(y - round_down(s * x)); }
static double t_dn(double s, double x, double y) { return round_down(y - round_up(s * x)); }

/*
** ReLU, unstable case l < 0 < u.
**   upper:  y <= u/(u-l) * (x - l)          (chord through (l,0), (u,u))
**   lower:  y >= a x,  a = 1 if u > -l else 0  (auto_LiRPA's adaptive choice)
** Source: Zhang et al. 2018 (CROWN) Sec. 3.2; Singh et al. 2019 (DeepPoly) Fig. 4.
** LeakyReLU (0 <= alpha <= 1) is the same with (l, alpha l) and a in {alpha, 1}.
*/
static void relax_leaky(double alpha, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  double s;
  if (u <= 0) { *lw = *uw = alpha; *lb = *ub = 0; return; }
  if (l >= 0) { *lw = *uw = 1; *lb = *ub = 0; return; }
  s = (u - alpha * l) / (u - l);
  *uw = s;
  *ub = fmax(t_up(s, l, round_up(alpha * l)), t_up(s, u, u));
  *lw = u > -l ? 1 : alpha;
  *lb = 0;
}

/*
** Clip to [a, b] (ReLU6 = Clip(0, 6)).  Constant or identity when [l, u] is
** on one piece.  Otherwise:
**   left kink only (l < a < u <= b):  upper chord (l,a)-(u,u); lower y >= a or y >= x;
**   right kink only (a <= l < b < u): lower chord (l,l)-(u,b); upper y <= b or y <= x;
**   both kinks:  upper through (l,a),(b,b); lower through (a,a),(u,b)
**   (slopes <= 1 and lines through the kinks, so each stays on its side).
*/
static void relax_clip(double a, double b, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  if (u <= a) { *lw = *uw = 0; *lb = *ub = a; return; }
  if (l >= b) { *lw = *uw = 0; *lb = *ub = b; return; }
  if (l >= a && u <= b) { *lw = *uw = 1; *lb = *ub = 0; return; }
  if (l < a && u <= b) {
    double s = (u - a) / (u - l);
    *uw = s; *ub = fmax(t_up(s, l, a), t_up(s, u, u));
    if (u - a > a - l) { *lw = 1; *lb = 0; } else { *lw = 0; *lb = a; }
    return;
  }
  if (l >= a) {
    double s = (b - l) / (u - l);
    *lw = s; *lb = fmin(t_dn(s, l, l), t_dn(s, u, b));
    if (b - l > u - b) { *uw = 1; *ub = 0; } else { *uw = 0; *ub = b; }
    return;
  }
  *uw = (b - a) / (b - l); *ub = fmax(t_up(*uw, l, a), t_up(*uw, b, b));
  *lw = (b - a) / (u - a); *lb = fmin(t_dn(*lw, a, a), t_dn(*lw, u, b));
}

typedef double (*fn)(double);
static double sig(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static double dsig(double x) { double s = sig(x); return s * (1 - s); }
static double dtanh(double x) { double c = cosh(x); return 1 / (c * c); }

static double margin(double s, double t, double l, double u)
{
  return 16 * ROUND_U * (fabs(s) * fmax(fabs(l), fabs(u)) + fabs(t) + 1) + DBL_TRUE_MIN;
}

/* Tangent at d: slope f'(d), intercept f(d) - f'(d) d (no margin yet). */
static void tangent(fn f, fn df, double d, double *s, double *t) { *s = df(d); *t = f(d) - *s * d; }

/*
** Sigmoid, tanh, erf and softsign: convex on x <= 0, concave on x >= 0
** (S-shaped; erf'' = -2x erf', softsign'' = -2 sign(x)/(1 + |x|)^3), f' even
** and largest at 0, f and f' within a few ulps relative (libm; erf' through
** derf's split square; softsign's quotients are two roundings each).
**   u <= 0:  upper = chord (l,f(l))-(u,f(u)); lower = tangent at (l+u)/2;
**   l >= 0:  lower = chord;                   upper = tangent at (l+u)/2;
**   l < 0 < u: lower = the chord if its slope k < f'(l); otherwise the
**   tangent at the largest d <= 0 whose tangent passes below (U, f(U)), where
**   U = 0.01 (floor(u / 0.01) + 1) >= u is auto_LiRPA's grid point above u
**   (its precomputed table, step 0.01, up to 500; beyond it, d = l).  Valid:
**   the tangent is below f on the convex part, and f - line is concave on
**   [0, U] and >= 0 at both ends; the chord case likewise.  The upper line is
**   the mirror image (the lower line of -f(-x) on [-u, -l]).
** Source: Zhang et al. 2018 (CROWN) Sec. 3.3; auto_LiRPA 0.5.0 BoundTanh
** (bound_relax_impl, precompute_relaxation), reproduced here in double.
*/
static int below(fn f, fn df, double d, double U, double l)
{
  double s, t;
  tangent(f, df, d, &s, &t);
  return s * U + t <= f(U) - margin(s, t, l, U);
}

/* auto_LiRPA's grid point above u (step 0.01). */
static double grid_above(double u) { return 0.01 * (floor(u / 0.01) + 1); }

/* The largest d <= 0 (bisection) whose tangent passes below (U, f(U)); every
   d' <= d does too (the tangent at d' lies below the one at d on [d, U]). */
static double tp_both(fn f, fn df, double l, double U)
{
  /* Illinois regula falsi on h(d) = f(d) + f'(d)(U - d) - f(U), increasing on
     d < 0, keeping lo with below() true and hi with it false; the interpolation
     only picks the next point, below() decides (as the bisection it replaces:
     same point to ~1e-15, 5-10 evaluations instead of 64). */
  double lo = -1, hi = 0, fu = f(U), hlo, hhi = U - fu;
  int side = 0;
  while (!below(f, df, lo, U, l) && lo > -1e6) { hi = lo; lo *= 2; }
  hlo = f(lo) + df(lo) * (U - lo) - fu;
  if (hi < 0) hhi = f(hi) + df(hi) * (U - hi) - fu;
  for (int it = 0; it < 100 && hi - lo > 1e-15 * (1 + fabs(lo)); it++) {
    double m = hhi > hlo ? lo - hlo * (hi - lo) / (hhi - hlo) : 0.5 * lo + 0.5 * hi, hm;
    if (!(m > lo && m < hi)) m = 0.5 * lo + 0.5 * hi;
    hm = f(m) + df(m) * (U - m) - fu;
    if (below(f, df, m, U, l)) { lo = m; hlo = hm; if (side == -1) hhi *= 0.5; side = -1; }
    else { hi = m; hhi = hm; if (side == 1) hlo *= 0.5; side = 1; }
  }
  return lo;
}

static void s_lower(fn f, fn df, double l, double u, double *w, double *b)
{
  double k, U = grid_above(u);
  if (u <= 0) { tangent(f, df, 0.5 * l + 0.5 * u, w, b); *b -= margin(*w, *b, l, u); return; }
  k = (f(u) - f(l)) / (u - l);
  if (k < df(l)) {  /* chord from (l, f(l)) to (u, f(u)) */
    *w = k;
    *b = fmin(f(l) - k * l, f(u) - k * u) - margin(k, f(u), l, u);
    return;
  }
  if (U > 500.04) { tangent(f, df, l, w, b); *b -= margin(*w, *b, l, u); return; }
  tangent(f, df, tp_both(f, df, l, U), w, b);
  *b -= margin(*w, *b, l, U);
}

static double neg_f_arg(fn f, double x) { return -f(-x); }
static double nsig(double x) { return neg_f_arg(sig, x); }
static double ntanh(double x) { return -tanh(-x); }
static double dnsig(double x) { return dsig(-x); }
static double dntanh(double x) { return dtanh(-x); }

/* Upper line of f on [l,u] = minus the lower line of g(x) = -f(-x) on [-u,-l], mirrored. */
static void s_upper(fn g, fn dg, double l, double u, double *w, double *b)
{
  double gw, gb;
  s_lower(g, dg, -u, -l, &gw, &gb);   /* g(x) >= gw x + gb  =>  f(y) <= gw y - gb */
  *w = gw;
  *b = -gb;
}

/* f'(x) = 2/sqrt(pi) e^(-x^2) with x^2 = hi + lo (fma) and e^(-lo) = 1 - lo:
   a few ulps relative for every x, as tanh' and sigmoid' (act.c's derf). */
static double derf(double x)
{
  double hi = x * x, lo = fma(x, x, -hi);
  return 1.1283791670955126 * exp(-hi) * (1 - lo);
}
static double nerf(double x) { return -erf(-x); }

/* Softsign x / (1 + |x|): f' = 1/(1 + |x|)^2, g(x) = -f(-x) = f(x). */
static double softsign(double x) { return isinf(x) ? copysign(1, x) : x / (1 + fabs(x)); }
static double dsoftsign(double x) { double d = 1 + fabs(x); return 1 / (d * d); }
static double nsoftsign(double x) { return -softsign(-x); }

/* alpha-CROWN's tangent at p from one libm call: f(p), f'(p), f''(p). */
static void sig_at(double p, double *y, double *d1, double *d2)
{
  *y = sig(p); *d1 = *y * (1 - *y); *d2 = *d1 * (1 - 2 * *y);
}
static void tanh_at(double p, double *y, double *d1, double *d2)
{
  *y = tanh(p); *d1 = 1 - *y * *y; *d2 = -2 * *y * *d1;
}
static void erf_at(double p, double *y, double *d1, double *d2)
{
  *y = erf(p); *d1 = derf(p); *d2 = -2 * p * *d1;
}
static void softsign_at(double p, double *y, double *d1, double *d2)
{
  *y = softsign(p); *d1 = dsoftsign(p); *d2 = -2 * copysign(1, p) * *d1 / (1 + fabs(p));
}

/* An S-shaped activation's functions: f, f', g(x) = -f(-x) with g', and the
   tangent data at a point for alpha-CROWN. */
typedef struct s_fns {
  fn f, df, g, dg;
  void (*at)(double p, double *y, double *d1, double *d2);
} s_fns;
static const s_fns SIG = {sig, dsig, nsig, dnsig, sig_at}, TANH = {tanh, dtanh, ntanh, dntanh, tanh_at},
                   ERF = {erf, derf, nerf, derf, erf_at},
                   SOFTSIGN = {softsign, dsoftsign, nsoftsign, dsoftsign, softsign_at};

static void relax_s(const s_fns *F, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  fn f = F->f, df = F->df;
  if (l == u) { *lw = *uw = 0; *lb = f(l) - margin(0, f(l), l, u); *ub = f(l) + margin(0, f(l), l, u); return; }
  if (u <= 0) {
    *uw = (f(u) - f(l)) / (u - l);
    *ub = fmax(f(l) - *uw * l, f(u) - *uw * u) + margin(*uw, f(u), l, u);
  } else {
    s_upper(F->g, F->dg, l, u, uw, ub);
  }
  if (l >= 0) {
    *lw = (f(u) - f(l)) / (u - l);
    *lb = fmin(f(l) - *lw * l, f(u) - *lw * u) - margin(*lw, f(u), l, u);
  } else {
    s_lower(f, df, l, u, lw, lb);
  }
}

/*
** ELU, alpha in [0, 1]: convex (f' = alpha e^x <= alpha on x <= 0, then 1),
** so every chord lies above f and every tangent below it, on all of R.
**   l >= 0: the identity.
**   upper:  the chord (l, f(l))-(u, f(u)), moved up by the libm margin;
**   lower:  u <= 0: the tangent at (l+u)/2; l < 0 < u: y >= x (f(x) >= x on
**           R, as ReLU's lower line) if u > -l, else the tangent at l.
** alpha > 1 (not convex): the constant lines f(l) <= y <= f(u) (f monotone).
*/
static double elu(double a, double x) { return x > 0 ? x : a * expm1(x); }
static void relax_elu(double a, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  double fl = elu(a, l), fu = elu(a, u), d;
  if (l >= 0) { *lw = *uw = 1; *lb = *ub = 0; return; }
  if (a > 1 || l == u) {
    *lw = *uw = 0; *lb = fl - margin(0, fl, l, u); *ub = fu + margin(0, fu, l, u);
    return;
  }
  *uw = (fu - fl) / (u - l);
  *ub = fmax(fl - *uw * l, fu - *uw * u) + margin(*uw, fu, l, u);
  if (u > 0 && u > -l) { *lw = 1; *lb = 0; return; }
  d = u <= 0 ? 0.5 * l + 0.5 * u : l;
  *lw = a * exp(d);
  *lb = elu(a, d) - *lw * d;
  *lb -= margin(*lw, *lb, l, u);
}

/*
** Smooth convex activations (Softplus, Exp): f'' >= 0 on all of R, so every
** chord lies above f between its ends and every tangent below f everywhere.
**   upper:  the chord (l, f(l))-(u, f(u)): k = (f(u) - f(l))/(u - l), the
**           intercept max(f(l) - k l, f(u) - k u) puts the line above both
**           ends (whatever k rounded to), so above f on [l, u] by convexity;
**   lower:  the tangent at d = (l + u)/2: s = f'(d), t = f(d) - s d.  With s
**           not exactly f'(d), the line f(d) + s (x - d) is off the tangent by
**           |f'(d) - s| |x - d|, a few u |s| max(|l|, |u|).
** Margin: libm's f and f' (a few ulps, act.c's rule) and the roundings of
** k l, f - k l, s d, f(d) - s d stay under 16 u (|s| max(|l|, |u|) + |t| + 1),
** margin() below, added outward to each intercept.
** Overflow (Exp): if a coefficient is not finite the lines fall back to the
** constants f(l) <= y <= f(u) (f increasing), which are infinite only where
** IBP has already refused the box (ibp.c: an activation bound that overflows).
** Source: the chord/tangent rule of Zhang et al. 2018 (CROWN) Sec. 3.3.
*/
/* A convex f's tangent at d in [l, u] as a lower line on [l, u], with the margin. */
static void convex_tangent(fn f, fn df, double d, double l, double u, double *lw, double *lb)
{
  *lw = df(d);
  *lb = f(d) - *lw * d;
  *lb -= margin(*lw, *lb, l, u);
}

static void relax_convex(fn f, fn df, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  double fl = f(l), fu = f(u), d = 0.5 * l + 0.5 * u;
  if (l < u) {
    *uw = (fu - fl) / (u - l);
    *ub = fmax(fl - *uw * l, fu - *uw * u) + margin(*uw, fu, l, u);
    convex_tangent(f, df, d, l, u, lw, lb);
    if (isfinite(*uw) && isfinite(*ub) && isfinite(*lw) && isfinite(*lb)) return;
  }
  *lw = *uw = 0;
  *lb = fl - margin(0, fl, l, u);
  *ub = fu + margin(0, fu, l, u);
}

static double softplus(double x) { return log1p(exp(-fabs(x))) + fmax(x, 0); }

/*
** SELU = g ELU_a (a, g >= 0, selu_ok): y = g x on x >= 0, g a (e^x - 1) on
** x <= 0 (convex there).  f' jumps from g a down to g at 0 when a > 1 (the
** ONNX defaults a = 1.6733, g = 1.0507), so f is neither convex nor concave
** across 0.
**   l >= 0:     y = g x (g a double: exact in reals);
**   u <= 0:     convex: the chord above and the midpoint tangent below, as
**               relax_convex (same margin argument; two more products);
**   l < 0 < u:  the constant lines f(l) <= y <= f(u) (f nondecreasing), with
**               the libm margin, as ELU with alpha > 1.
*/
static double selu(double a, double g, double x) { return x > 0 ? g * x : g * (a * expm1(x)); }
static void relax_selu(double a, double g, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  double fl = selu(a, g, l), fu = selu(a, g, u), d = 0.5 * l + 0.5 * u;
  if (l >= 0) { *lw = *uw = g; *lb = *ub = 0; return; }
  if (u > 0 || l == u) {
    *lw = *uw = 0; *lb = fl - margin(0, fl, l, u); *ub = fu + margin(0, fu, l, u);
    return;
  }
  *uw = (fu - fl) / (u - l);
  *ub = fmax(fl - *uw * l, fu - *uw * u) + margin(*uw, fu, l, u);
  *lw = g * (a * exp(d));
  *lb = selu(a, g, d) - *lw * d;
  *lb -= margin(*lw, *lb, l, u);
}

/*
** HardSigmoid, y = clip(z, 0, 1) with z = a x + b, a >= 0 (hsig_ok below):
** Clip's relaxation in x.  Its kinks x0 = -b/a (y = 0) and x1 = (1 - b)/a
** (y = 1) are real numbers; z at l and u is one fma, bracketed outward.
**   on one piece over [l, u] (z <= 0, z >= 1, 0 <= z <= 1, or a = 0): that
**     piece itself: 0, 1, clip(b), or y = a x + b (a, b doubles: exact);
**   otherwise a slope s in [0, a] (Clip's choice: the chords through the
**     kinks, or 0 / a by the larger area) and the intercept from hs_icpt:
**     the outward max (upper) or min (lower) of y_i - s x_i over the vertices
**     (l, f(l)), (u, f(u)) and the kinks near [l, u].  f - line is piecewise
**     linear with breaks at the kinks only, so a line above (below) every
**     vertex is above (below) f on [l, u].  As s >= 0, a kink is replaced by
**     the double below it (upper side) or above it (lower side), and f(l),
**     f(u) by clip of the outward z: each only moves the intercept outward.
*/
static double clip01(double z) { return z < 0 ? 0 : z > 1 ? 1 : z; }

static double hs_icpt(double a, double b, double s, double l, double u, int up)
{
  double zl = fma(a, l, b), zu = fma(a, u, b);
  double fl = clip01(up ? round_up(zl) : round_down(zl)), fu = clip01(up ? round_up(zu) : round_down(zu));
  double t = up ? fmax(t_up(s, l, fl), t_up(s, u, fu)) : fmin(t_dn(s, l, fl), t_dn(s, u, fu));
  double klo[2] = {round_down(-b / a), round_down(round_down(1 - b) / a)};
  double khi[2] = {round_up(-b / a), round_up(round_up(1 - b) / a)};
  for (int j = 0; j < 2; j++) {
    if (!(khi[j] >= l && klo[j] <= u)) continue;  /* outside [l, u] (NaN: overflowed, so far outside) */
    t = up ? fmax(t, t_up(s, klo[j], j)) : fmin(t, t_dn(s, khi[j], j));
  }
  return t;
}

static void relax_hsig(double a, double b, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  double zl = fma(a, l, b), zu = fma(a, u, b), lo = round_down(zl), hi = round_up(zu);
  if (a == 0 || hi <= 0 || lo >= 1) {
    *lw = *uw = 0; *lb = *ub = a == 0 ? clip01(b) : hi <= 0 ? 0 : 1;
    return;
  }
  if (lo >= 0 && hi <= 1) { *lw = *uw = a; *lb = *ub = b; return; }
  if (lo < 0 && hi <= 1) {                        /* left kink only */
    *uw = zu / (u - l);                           /* chord (l, 0)-(u, f(u)) */
    *lw = zu > -zl ? a : 0;
  } else if (lo >= 0) {                           /* right kink only */
    *uw = 1 - zl > zu - 1 ? a : 0;
    *lw = (1 - zl) / (u - l);                     /* chord (l, f(l))-(u, 1) */
  } else {                                        /* both: through (l, 0), (x1, 1) and (x0, 0), (u, 1) */
    *uw = a / (1 - zl);
    *lw = a / zu;
  }
  *uw = fmin(a, fmax(0, *uw));                    /* s in [0, a] (fmax drops a NaN) */
  *lw = fmin(a, fmax(0, *lw));
  *ub = hs_icpt(a, b, *uw, l, u, 1);
  *lb = hs_icpt(a, b, *lw, l, u, 0);
}

/*
** alpha-CROWN families (Xu et al. 2021, Sec. 3.1; auto_LiRPA 0.5.0 BoundRelu
** and BoundTanh "tangent point" parameters).  Each member is a valid line, so
** any p in the range gives a sound bound.  Slot 1 ("both signs"):
**   ReLU/LeakyReLU, l < 0 < u, lower side:  y >= p x,  p in [alpha, 1];
**   sigmoid/tanh/erf, l < 0 < u, lower side without the chord: tangent at
**     p <= the CROWN point d(U) (tp_both), down to -500 (auto_LiRPA's table
**     limit); upper side: the mirror image, p >= the mirrored point.
** Slot 0 ("one sign"), sigmoid/tanh/erf: lower side for u <= 0 and upper side for
**   l >= 0: tangent at p in [l, u] (f is convex, resp. concave, there).
** Chords and other cases are fixed (-1).
*/
static int s_range_lower(fn f, fn df, double l, double u, double *pmin, double *pmax, double *p0)
{
  double U = grid_above(u);
  if (l >= u || l >= 0) return -1;
  if (u <= 0) { *pmin = l; *pmax = u; *p0 = 0.5 * l + 0.5 * u; return 0; }
  if ((f(u) - f(l)) / (u - l) < df(l) || U > 500.04) return -1;
  *p0 = *pmax = tp_both(f, df, l, U);
  *pmin = fmin(-500, *pmax);
  return 1;
}

/* The S-shaped functions of node n (sigmoid, tanh, erf), or NULL; rows
   relaxed by their curvature map (lines_shape). */
static const s_fns *s_of(const cb_node *n);
static int by_shape(const cb_node *n);
static void shape_line(const cb_node *n, double l, double u, int upper, double *w, double *b);
static int in_domain(const cb_node *n, double l, double u);

/* The lower slope's floor of a ReLU-like row: LeakyReLU's alpha, Abs's -1, ReLU's 0. */
static double slope_floor(const cb_node *n)
{
  return node_is_act(n, CB_ACT_LEAKY_RELU) ? n->p.act.alpha : node_is_act(n, CB_ACT_ABS) ? -1 : 0;
}

/* Curvature-map rows: the slope ranges over [dl, dh], the range of f' on
   [l, u]; its parameter p in [l, u] (x units, as a tangent point: alpha-
   CROWN's step size is tuned for those) maps to it linearly,
   slope(p) = dl + (p - l) (dh - dl) / (u - l).  Slot 1 on both sides; fixed
   when [l, u] is a point, outside the domain or f' unbounded on it. */
static int shape_slopes(const cb_node *n, double l, double u, double *dl, double *dh)
{
  if (!(l < u) || !in_domain(n, l, u)) return 0;
  node_act(n)->drange(n, l, u, dl, dh);
  return isfinite(*dl) && isfinite(*dh);
}
static double shape_slope(double l, double u, double dl, double dh, double p)
{
  double t = (p - l) / (u - l);
  return dl + (t < 0 ? 0 : t > 1 ? 1 : t) * (dh - dl);
}
static int shape_range(const cb_node *n, double l, double u, int upper, double *pmin, double *pmax, double *p0)
{
  double b, w, dl, dh;
  if (!shape_slopes(n, l, u, &dl, &dh)) return -1;
  shape_line(n, l, u, upper, &w, &b);
  *pmin = l; *pmax = u;
  *p0 = dh > dl ? l + (w - dl) / (dh - dl) * (u - l) : 0.5 * l + 0.5 * u;
  *p0 = fmin(u, fmax(l, *p0));
  return 1;
}

/*
** Exp (convex): alpha-CROWN moves the lower line's tangent point p in [l, u]
** (auto_LiRPA's BoundExp alpha), the line relax_convex makes at its midpoint
** (p0, CROWN's) made at p: every tangent of a convex function lies below it,
** and convex_tangent's margin covers the libm error for any p in [l, u] (the
** argument does not use where d is).  The upper line, the chord, is the
** least line above exp at both ends, so it stays.  Fixed when relax_convex
** falls back to constants (a point box or a non-finite line).
*/
static int exp_range(double l, double u, int upper, double *pmin, double *pmax, double *p0)
{
  double lw, lb, uw, ub;
  if (upper || !(l < u)) return -1;
  relax_convex(exp, exp, l, u, &lw, &lb, &uw, &ub);
  if (lw == 0 && uw == 0) return -1;
  *pmin = l; *pmax = u; *p0 = 0.5 * l + 0.5 * u;
  return 0;
}

int relax_param_range(const cb_node *n, double l, double u, int upper, double *pmin, double *pmax, double *p0)
{
  const s_fns *F = s_of(n);
  int slot;
  double a = slope_floor(n), m0, m1, mp;
  if (by_shape(n)) return shape_range(n, l, u, upper, pmin, pmax, p0);
  if (relax_alpha_family(n) == RELAX_SLOPE) {
    if (upper || !(l < 0 && u > 0)) return -1;
    *pmin = a; *pmax = 1; *p0 = u > -l ? 1 : a;
    return 1;
  }
  if (node_is_act(n, CB_ACT_EXP)) return exp_range(l, u, upper, pmin, pmax, p0);
  if (!F) return -1;
  if (!upper) return s_range_lower(F->f, F->df, l, u, pmin, pmax, p0);
  slot = s_range_lower(F->g, F->dg, -u, -l, &m0, &m1, &mp);
  *pmin = -m1; *pmax = -m0; *p0 = -mp;  /* g(x) = -f(-x): its tangent at -p is f's at p */
  return slot;
}

/* Tangent at p from the row's `at` (f' = 1 - y^2, y (1 - y), or erf's
   split-square exponential): the slope's absolute error is then a few u
   rather than relative, so the margin also covers 32 u (|x| + |p|) on the
   range (|x| <= M). */
void relax_param_line(const cb_node *n, double l, double u, int upper, double p, double *w, double *b)
{
  double y, f2, M = fmax(fmax(fabs(l), fabs(u)), fabs(p)) + 0.02;
  if (relax_alpha_family(n) == RELAX_SLOPE) { *w = p; *b = 0; return; }
  if (node_is_act(n, CB_ACT_EXP)) {   /* exp_range: lower side only, p in [l, u] */
    p = fmin(u, fmax(l, p));
    convex_tangent(exp, exp, p, l, u, w, b);
    if (!isfinite(*w) || !isfinite(*b)) { *w = 0; *b = exp(l) - margin(0, exp(l), l, u); }
    return;
  }
  if (by_shape(n)) {   /* any slope is valid: the intercept makes it so */
    double dl, dh;
    *w = shape_slopes(n, l, u, &dl, &dh) ? shape_slope(l, u, dl, dh, p) : 0;
    *b = act_shape_offset(n, *w, l, u, upper, NULL);
    return;
  }
  s_of(n)->at(p, &y, w, &f2);
  *b = y - *w * p;
  *b += (upper ? 1 : -1) * (margin(*w, *b, M, M) + 32 * ROUND_U * (M + fabs(p)));
}

double relax_param_dline(const cb_node *n, double l, double u, int upper, double p, double x)
{
  double y, f1, f2, xs;
  if (relax_alpha_family(n) == RELAX_SLOPE) return x;
  if (node_is_act(n, CB_ACT_EXP)) return exp(p) * (x - p);   /* d/dp [e^p x + e^p - e^p p] */
  if (by_shape(n)) {   /* d/dw [w x + sup (f - w t)] = x - t*, t* the touching point (envelope); dw/dp */
    double dl, dh;
    if (!shape_slopes(n, l, u, &dl, &dh)) return 0;
    act_shape_offset(n, shape_slope(l, u, dl, dh, p), l, u, upper, &xs);
    return (x - xs) * (dh - dl) / (u - l);
  }
  s_of(n)->at(p, &y, &f1, &f2);
  return f2 * (x - p);   /* d/dp [f'(p) x + f(p) - f'(p) p] */
}

/* Derivatives of a chord's slope k and intercept f(l) - k l in l and u. */
static void chord_d(fn f, fn df, double l, double u, double *d)
{
  double k = (f(u) - f(l)) / (u - l), kl = (k - df(l)) / (u - l), ku = (df(u) - k) / (u - l);
  d[0] = kl; d[1] = df(l) - k - l * kl; d[2] = ku; d[3] = -l * ku;
}

/*
** d = (dw/dl, db/dl, dw/du, db/du) of the fixed line relax_node gives on one
** side (gradients for alpha-CROWN's intermediate layers; 0 where the line
** does not move with l, u, or where it is left out: clip, tangents at grid points).
**   ReLU/LeakyReLU upper chord s = (u - a l)/(u - l), b = u (1 - s).
*/
void relax_line_dlu(const cb_node *n, double l, double u, int upper, double *d)
{
  const s_fns *F = s_of(n);
  d[0] = d[1] = d[2] = d[3] = 0;
  if (!(l < u)) return;
  if (relax_alpha_family(n) == RELAX_SLOPE) {
    double a = slope_floor(n), h = (u - l) * (u - l), s = (u - a * l) / (u - l);
    if (!upper || !(l < 0 && u > 0)) return;
    d[0] = u * (1 - a) / h; d[1] = -u * d[0];
    d[2] = -l * (1 - a) / h; d[3] = (1 - s) - u * d[2];
    return;
  }
  if (node_is_act(n, CB_ACT_EXP)) {   /* the upper chord; the lower tangent at the midpoint */
    if (upper) chord_d(exp, exp, l, u, d);
    else { double e = exp(0.5 * l + 0.5 * u); d[0] = d[2] = 0.5 * e; d[1] = d[3] = -0.5 * e * (0.5 * l + 0.5 * u); }
    return;
  }
  if (!F) return;
  if (upper ? u <= 0 : l >= 0) { chord_d(F->f, F->df, l, u, d); return; }
  if (l < 0 && u > 0 && (F->f(u) - F->f(l)) / (u - l) < F->df(upper ? u : l)) chord_d(F->f, F->df, l, u, d);
}

/* ---- the relaxation table: one row per activation (act.h) ---- */

static void lines_relu(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  (void)n;
  relax_leaky(0, l, u, lw, lb, uw, ub);
}
static void lines_leaky(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  relax_leaky(n->p.act.alpha, l, u, lw, lb, uw, ub);
}
/* Every S-shaped row (sigmoid, tanh, erf, softsign): its functions from the row. */
static void lines_s(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  relax_s(s_of(n), l, u, lw, lb, uw, ub);
}
static void lines_clip(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  relax_clip(n->p.act.lo, n->p.act.hi, l, u, lw, lb, uw, ub);
}
static void lines_elu(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  relax_elu(n->p.act.alpha, l, u, lw, lb, uw, ub);
}
static void lines_softplus(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  (void)n;
  relax_convex(softplus, sig, l, u, lw, lb, uw, ub);
}
static void lines_exp(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  (void)n;
  relax_convex(exp, exp, l, u, lw, lb, uw, ub);
}
static void lines_selu(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  relax_selu(n->p.act.alpha, n->p.act.gamma, l, u, lw, lb, uw, ub);
}
static void lines_hsig(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  relax_hsig(n->p.act.alpha, n->p.act.beta, l, u, lw, lb, uw, ub);
}

/*
** Activations given by a curvature map (act.h's shape: SiLU, GELU,
** GELU_TANH, HardSwish, Log, Pow), non-convex and non-monotone ones
** included (GELU's dip near -0.75).  Every line is slope s plus the
** tightest sound intercept act_shape_offset(s) (src/act_shape.c: exact
** extremum of f(x) - s x over [l, u] from the curvature map, rounded
** outward), so ANY slope gives a valid line: a secant or tangent slope
** becomes the secant/tangent itself where f is convex/concave on [l, u],
** and the parallel line touching f elsewhere.  CROWN picks, per side, the
** best by the line's mean over [l, u] among the slopes of the chord and the
** tangents at l, u, the midpoint and the quarter points (the tangent at the
** midpoint is the optimum on a convex piece, the chord on a concave one).
** alpha-CROWN optimises the slope itself over the range of f' on [l, u].
*/
static double sfv(const cb_node *n, double x) { return node_act(n)->f(n, x); }
static double sdf(const cb_node *n, double x) { return node_act(n)->df(n, x, sfv(n, x)); }
static int in_domain(const cb_node *n, double l, double u)
{
  return l <= u && isfinite(l) && isfinite(u) && (!node_act(n)->domain || node_act(n)->domain(n, l, u));
}

static void shape_line(const cb_node *n, double l, double u, int upper, double *w, double *b)
{
  double k, cand[6], best = 0, bs = 0, bb = 0, m = 0.5 * l + 0.5 * u;
  int have = 0;
  if (!in_domain(n, l, u)) { *w = 0; *b = upper ? HUGE_VAL : -HUGE_VAL; return; }
  if (l == u) { *w = 0; *b = act_shape_offset(n, 0, l, u, upper, NULL); return; }
  k = (sfv(n, u) - sfv(n, l)) / (u - l);
  cand[0] = k; cand[1] = sdf(n, m); cand[2] = sdf(n, l); cand[3] = sdf(n, u);
  cand[4] = sdf(n, 0.75 * l + 0.25 * u); cand[5] = sdf(n, 0.25 * l + 0.75 * u);
  for (int j = 0; j < 6; j++) {
    double t, v;
    if (!isfinite(cand[j])) continue;
    t = act_shape_offset(n, cand[j], l, u, upper, NULL);
    v = cand[j] * m + t;   /* the line's mean over [l, u] */
    if (!isfinite(v)) continue;
    if (!have || (upper ? v < best : v > best)) { best = v; bs = cand[j]; bb = t; have = 1; }
  }
  if (!have) { bs = 0; bb = act_shape_offset(n, 0, l, u, upper, NULL); }
  *w = bs; *b = bb;
}

static void lines_shape(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  shape_line(n, l, u, 0, lw, lb);
  shape_line(n, l, u, 1, uw, ub);
}

/* Abs = LeakyReLU with slope -1 on x < 0: the chord above, y >= p x below
   (p in [-1, 1], every member valid as |x| >= x and |x| >= -x). */
static void lines_abs(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  (void)n;
  relax_leaky(-1, l, u, lw, lb, uw, ub);
}

static int pow_ok(const cb_node *n, cb_error *err)
{
  if (!isfinite(n->p.act.alpha))
    return cb_error_set(err, CB_EUNSUP, "node \"%s\": Pow exponent %g is not finite", n->name, n->p.act.alpha);
  return CB_OK;
}

static int leaky_ok(const cb_node *n, cb_error *err)
{
  if (!(n->p.act.alpha >= 0 && n->p.act.alpha <= 1))
    return cb_error_set(err, CB_EUNSUP, "node \"%s\": LeakyRelu alpha %g outside [0, 1] has no relaxation",
                        n->name, n->p.act.alpha);
  return CB_OK;
}
static int hsig_ok(const cb_node *n, cb_error *err)
{
  if (!(n->p.act.alpha >= 0 && isfinite(n->p.act.alpha) && isfinite(n->p.act.beta)))
    return cb_error_set(err, CB_EUNSUP, "node \"%s\": HardSigmoid alpha %g, beta %g: needs a finite alpha >= 0",
                        n->name, n->p.act.alpha, n->p.act.beta);
  return CB_OK;
}
static int selu_ok(const cb_node *n, cb_error *err)
{
  if (!(n->p.act.alpha >= 0 && n->p.act.gamma >= 0 && isfinite(n->p.act.alpha) && isfinite(n->p.act.gamma)))
    return cb_error_set(err, CB_EUNSUP, "node \"%s\": Selu alpha %g, gamma %g: needs finite alpha, gamma >= 0",
                        n->name, n->p.act.alpha, n->p.act.gamma);
  return CB_OK;
}
static int elu_ok(const cb_node *n, cb_error *err)
{
  if (!(n->p.act.alpha >= 0))
    return cb_error_set(err, CB_EUNSUP, "node \"%s\": Elu alpha %g < 0 has no relaxation", n->name, n->p.act.alpha);
  return CB_OK;
}

typedef struct relax_row {
  void (*lines)(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub);
  relax_family family;                          /* alpha-CROWN's parameters, if any */
  const s_fns *s;                               /* RELAX_TANGENT: the S-shaped functions */
  int (*supported)(const cb_node *n, cb_error *err);   /* NULL: every parameter */
  int by_shape;                                 /* lines_shape: alpha-CROWN moves the slopes */
} relax_row;

static const relax_row relax_table[CB_ACT_COUNT] = {
  [CB_ACT_RELU] = {lines_relu, RELAX_SLOPE, NULL, NULL, 0},
  [CB_ACT_LEAKY_RELU] = {lines_leaky, RELAX_SLOPE, NULL, leaky_ok, 0},
  [CB_ACT_SIGMOID] = {lines_s, RELAX_TANGENT, &SIG, NULL, 0},
  [CB_ACT_TANH] = {lines_s, RELAX_TANGENT, &TANH, NULL, 0},
  [CB_ACT_CLIP] = {lines_clip, RELAX_FIXED, NULL, NULL, 0},
  [CB_ACT_ELU] = {lines_elu, RELAX_FIXED, NULL, elu_ok, 0},
  [CB_ACT_SOFTPLUS] = {lines_softplus, RELAX_FIXED, NULL, NULL, 0},
  [CB_ACT_EXP] = {lines_exp, RELAX_TANGENT, NULL, NULL, 0},
  [CB_ACT_HARD_SIGMOID] = {lines_hsig, RELAX_FIXED, NULL, hsig_ok, 0},
  [CB_ACT_ERF] = {lines_s, RELAX_TANGENT, &ERF, NULL, 0},
  [CB_ACT_SOFTSIGN] = {lines_s, RELAX_TANGENT, &SOFTSIGN, NULL, 0},
  [CB_ACT_SELU] = {lines_selu, RELAX_FIXED, NULL, selu_ok, 0},
  [CB_ACT_SILU] = {lines_shape, RELAX_TANGENT, NULL, NULL, 1},
  [CB_ACT_GELU] = {lines_shape, RELAX_TANGENT, NULL, NULL, 1},
  [CB_ACT_GELU_TANH] = {lines_shape, RELAX_TANGENT, NULL, NULL, 1},
  [CB_ACT_HARD_SWISH] = {lines_shape, RELAX_TANGENT, NULL, NULL, 1},
  [CB_ACT_ABS] = {lines_abs, RELAX_SLOPE, NULL, NULL, 0},
  [CB_ACT_LOG] = {lines_shape, RELAX_TANGENT, NULL, NULL, 1},
  [CB_ACT_POW] = {lines_shape, RELAX_TANGENT, NULL, pow_ok, 1},
};
_Static_assert(CB_ACT_COUNT == 19, "a new activation needs its row in relax_table");

static const s_fns *s_of(const cb_node *n) { return n->kind == CB_ACT ? relax_table[n->p.act.type].s : NULL; }
static int by_shape(const cb_node *n) { return n->kind == CB_ACT && relax_table[n->p.act.type].by_shape; }
int relax_by_shape(const cb_node *n) { return by_shape(n); }

relax_family relax_alpha_family(const cb_node *n)
{
  return n->kind == CB_ACT ? relax_table[n->p.act.type].family : RELAX_NONE;
}

void relax_node(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub)
{
  cb_assert(n->kind == CB_ACT && "relax_node on a kind without a scalar relaxation");
  relax_table[n->p.act.type].lines(n, l, u, lw, lb, uw, ub);
}

int relax_supported(const cb_node *n, cb_error *err)
{
  const relax_row *r = n->kind == CB_ACT ? &relax_table[n->p.act.type] : NULL;
  return r && r->supported ? r->supported(n, err) : CB_OK;
}
