/*
** Rigorous ranges and lines of the activations given by a curvature map
** (act.h's `shape`: SiLU, GELU, GELU_TANH, HardSwish, Abs, Log, Pow).
** Non-monotone, non-convex functions (GELU's dip near -0.75, SiLU's near
** -1.28) get sound bounds from one primitive:
**
**   act_shape_offset(s, [l, u], upper) = a b >= sup (f(x) - s x) on [l, u]
**   (lower: <= inf), in real arithmetic.
**
** [l, u] is cut at the breakpoints into pieces where g(x) = f(x) - s x is
** convex, concave or linear (g'' = f'').  On a piece [a, c]:
**   sup of a convex or linear g: at a or c;
**   sup of a concave g: g' = f' - s is nonincreasing; if g'(a) <= 0 it is
**     g(a), if g'(c) >= 0 g(c), else at the root of g' found by regula falsi
**     (x0); in every case the tangent at x0 bounds it:
**     g(x) <= g(x0) + g'(x0)(x - x0) <= g(x0) + max(g'(x0), 0)(c - x0)
**                                          + max(-g'(x0), 0)(x0 - a).
** The infimum is the mirror image (convex <-> concave).
** Rounding: f(x) is within ferr(x) of the real value (the row's rule,
** doubled, with 2^-1000 absolute instead of the rule's 2^-1074: a value
** computed through subnormals, e.g. x erfc(z) near z = 27, can err by a few
** hundred 2^-1074); g'(x0) within E = 2^-40 |f'(x0)| + 2^-1000 (the rows' f' are a
** few ulps, GELU_TANH's within its COND factor); a breakpoint rounded to a
** double mislabels at most an ulp-wide sliver, where g differs from its
** value at the breakpoint (an end of both pieces) by Lip(g) ulp: each term
** is added outward.  The result is rounded outward (round.h).
** Ranges: offsets of slope 0.  Ranges of f': hull of f' at l, u and at the
** breakpoints inside (both sides), f' being monotone on every piece.
** Cost: per call at most 4 pieces x (usually about 10) regula falsi steps
** of f' (Illinois; about 55 steps of plain bisection before).
*/
#include <float.h>
#include <math.h>
#include "net.h"
#include "round.h"

typedef struct piece { double a, c; int curv; } piece;

/* |fl(f(x)) - f(x)| from the row's forward-error rule, doubled. */
static double ferr(const cb_node *n, double y)
{
  switch (node_act(n)->err) {
  case CB_ACT_ERR_EXACT: return 0;
  case CB_ACT_ERR_ROUND: return 2 * ROUND_U * fabs(y);
  case CB_ACT_ERR_LIBM: return 32 * ROUND_U * fabs(y) + 0x1p-1000;
  case CB_ACT_ERR_COND: return 0x1p-39 * fabs(y) + 0x1p-1000;
  }
  return HUGE_VAL;
}

static double fv(const cb_node *n, double x) { return node_act(n)->f(n, x); }
static double dfv(const cb_node *n, double x) { return node_act(n)->df(n, x, fv(n, x)); }
static double derr(double d) { return 0x1p-40 * fabs(d) + 0x1p-1000; }

/* [l, u] cut at the breakpoints: pieces P[0..k]; returns their count. */
static int pieces(const cb_node *n, double l, double u, piece *P, double *bpo, int *nb)
{
  double bp[4];
  signed char cv[5];
  int k = node_act(n)->shape(n, bp, cv), m = 0;
  double a = l;
  *nb = 0;
  for (int j = 0; j <= k; j++) {
    double c = j < k ? bp[j] : u;
    if (c > u) c = u;
    if (c > a || (j == k && m == 0)) { P[m].a = a; P[m].c = c; P[m].curv = cv[j]; m++; a = c; }
    if (j < k && bp[j] > l && bp[j] < u) bpo[(*nb)++] = bp[j];
    if (a >= u && m > 0) break;
  }
  return m;
}

/* Upper bound of sup (sgn)(f(x) - s x) over piece p, sgn = +1 (upper) or -1. */
static double piece_sup(const cb_node *n, double s, const piece *p, int sgn, double *xt)
{
  double a = p->a, c = p->c, x0, g0, d0, e;
  if (p->curv * sgn >= 0) {   /* convex (upper) or concave (lower) or linear: at an end */
    double fa = fv(n, a), fc = fv(n, c);
    double ga = round_up(sgn * fa + ferr(n, fa) - round_down(sgn * s * a));
    double gc = round_up(sgn * fc + ferr(n, fc) - round_down(sgn * s * c));
    *xt = ga >= gc ? a : c;
    return fmax(ga, gc);
  }
  /* sgn g concave: sgn g' = sgn (f' - s) nonincreasing */
  if (sgn * (dfv(n, a) - s) <= 0) x0 = a;
  else if (sgn * (dfv(n, c) - s) >= 0) x0 = c;
  else {
    /* h = sgn g' is nonincreasing, h(lo) > 0 > h(hi): the Illinois variant of
       regula falsi (a bisection step when a step keeps more than half the
       bracket), to the bracket's last ulp or an exact zero; x0 = the end with
       the smaller |h| (any x0 in [a, c] is sound: the slope terms below) */
    double lo = a, hi = c, hl = sgn * (dfv(n, a) - s), hh = sgn * (dfv(n, c) - s);
    int side = 0;
    for (int it = 0; it < 100; it++) {
      double w = hi - lo, m = lo + w * (hl / (hl - hh)), hm;
      if (!(m > lo && m < hi) || !isfinite(m)) m = 0.5 * lo + 0.5 * hi;
      if (!(m > lo && m < hi)) break;
      hm = sgn * (dfv(n, m) - s);
      if (hm == 0) { lo = hi = m; hl = hh = 0; break; }
      if (hm > 0) { lo = m; hl = hm; if (side > 0) hh *= 0.5; side = 1; }
      else { hi = m; hh = hm; if (side < 0) hl *= 0.5; side = -1; }
      if (hi - lo > 0.5 * w) {   /* slow side: bisect once */
        double b = 0.5 * lo + 0.5 * hi, hb;
        if (!(b > lo && b < hi)) break;
        hb = sgn * (dfv(n, b) - s);
        if (hb > 0) { lo = b; hl = hb; } else if (hb < 0) { hi = b; hh = hb; } else { lo = hi = b; break; }
        side = 0;
      }
    }
    x0 = lo == hi || fabs(sgn * (dfv(n, lo) - s)) <= fabs(sgn * (dfv(n, hi) - s)) ? lo : hi;
  }
  *xt = x0;
  g0 = fv(n, x0);
  d0 = dfv(n, x0);
  e = derr(d0);
  {
    double sd = sgn * (d0 - s);
    double slope_up = round_up(fmax(sd + e, 0) * (c - x0) * (1 + 4 * ROUND_U));
    double slope_dn = round_up(fmax(-sd + e, 0) * (x0 - a) * (1 + 4 * ROUND_U));
    return round_up(round_up(sgn * g0 + ferr(n, g0) - round_down(sgn * s * x0)) + slope_up + slope_dn);
  }
}

double act_shape_offset(const cb_node *n, double s, double l, double u, int upper, double *xs)
{
  piece P[5];
  double bp[4], best = -HUGE_VAL, lip = fabs(s), sl = 0, bx = l;
  int nb, m, sgn = upper ? 1 : -1;
  if (!(l > -HUGE_VAL && u < HUGE_VAL && l <= u)) return sgn * HUGE_VAL;
  m = pieces(n, l, u, P, bp, &nb);
  for (int j = 0; j < m; j++) {
    double xt, v = piece_sup(n, s, &P[j], sgn, &xt);
    if (v > best) { best = v; bx = xt; }
  }
  for (int j = 0; j < nb; j++) {   /* the slivers at rounded breakpoints */
    double d = fmax(fabs(dfv(n, nextafter(bp[j], -HUGE_VAL))), fabs(dfv(n, nextafter(bp[j], HUGE_VAL))));
    sl = fmax(sl, (2 * d + lip + 1) * 4 * DBL_EPSILON * (1 + fabs(bp[j])));
  }
  if (xs) *xs = bx;   /* the touching point (alpha-CROWN's gradient) */
  best = round_up(best + sl);
  return sgn * best;
}

void act_shape_range(const cb_node *n, double l, double u, double *yl, double *yh)
{
  *yl = act_shape_offset(n, 0, l, u, 0, NULL);
  *yh = act_shape_offset(n, 0, l, u, 1, NULL);
}

void act_shape_drange(const cb_node *n, double l, double u, double *dl, double *dh)
{
  piece P[5];
  double bp[4], lo, hi;
  int nb;
  if (!(l > -HUGE_VAL && u < HUGE_VAL && l <= u)) { *dl = -HUGE_VAL; *dh = HUGE_VAL; return; }
  pieces(n, l, u, P, bp, &nb);
  lo = fmin(dfv(n, l), dfv(n, u));
  hi = fmax(dfv(n, l), dfv(n, u));
  for (int j = 0; j < nb; j++)
    for (int k = -1; k <= 1; k++) {
      double x = k < 0 ? nextafter(bp[j], -HUGE_VAL) : k > 0 ? nextafter(bp[j], HUGE_VAL) : bp[j], d = dfv(n, x);
      lo = fmin(lo, d); hi = fmax(hi, d);
    }
  *dl = lo - derr(lo) - 1e-12 * fabs(lo) - 0x1p-1000;
  *dh = hi + derr(hi) + 1e-12 * fabs(hi) + 0x1p-1000;
}
