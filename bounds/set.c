/*
** Input sets and their support function (the only place where a linear
** bound becomes a number): max_{x in S} a.x + c over
**   L-inf ball:  a.x0 + eps ||a||_1      L2 ball: a.x0 + eps ||a||_2
**   L1 ball:     a.x0 + eps ||a||_inf    box:     sum_j max(a_j lo_j, a_j hi_j)
** A ball intersected with a clip box is bounded by the smaller of its ball
** value and the value over the box [x0 - eps, x0 + eps] ∩ clip (both are
** upper bounds of the intersection; for L-inf the box is exact).
** Rounding: each value carries gamma_{n+2} times the sum of the absolute
** terms (Higham Sec. 3.1) plus (n+2) 2^-1074 for products that underflow
** (gradual underflow is absolute, not relative, error), then is rounded up.
** Called once per bound row.
**
** Weighted L-inf balls (w, --eps-per-feature): {x : |x_j - c_j| <= eps w_j}
** is the box [c - eps w, c + eps w]; every support value goes through
** box_support with the radius eps w_j rounded up (wrad), so a bound holds on
** a superset; membership (set_contains) takes eps w_j rounded down, so an
** accepted point is in the real set.
**
** Empty sets.  A ball around a centre c outside the clip box meets the box
** iff the box point nearest c, p = clamp(c) coordinatewise (nearest in every
** p-norm), lies in the ball: ||p - c|| <= eps.  set_check refuses a set whose
** emptiness it can prove (one message for every command); set_nearest gives
** p, the point every command evaluates for "the row itself" (certify's clean
** step).  Every y of the box has |y_j - p_j| <= |y_j - c_j|, so the set also
** lies in the ball of radius eps around p.
*/
#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include "bounds.h"
#include "linalg.h"
#include "round.h"

/* Absolute error of n products that may underflow (each <= 2^-1075), doubled. */
#define UNDER(n) ((double)((n) + 2) * DBL_TRUE_MIN)

const cb_norm_info cb_norm_table[CB_NORM_COUNT] = {
  [CB_NORM_INF] = {"inf", "L-inf"},
  [CB_NORM_2]   = {"2", "L2"},
  [CB_NORM_1]   = {"1", "L1"},
  [CB_NORM_BOX] = {"box", "box"},
};
static_assert(CB_NORM_COUNT == 4, "a new norm needs its row in cb_norm_table");

/* The doubles just below and above the real |x - c|: d = fl(x - c) and its
   exact error e (TwoSum, Knuth TAOCP 4.2.2: d + e == x - c exactly, |e| <=
   ulp(d)/2) give |x - c| = |d| + e', e' = e with the sign of d; the bound
   on the side of e' moves one ulp.  Both equal |d| when the subtraction is
   exact.  An overflow gives [DBL_MAX, inf]. */
static void abs_diff(double x, double c, double *lo, double *hi)
{
  double d = x - c, bb = d - x, e = (x - (d - bb)) + (-c - bb), D = fabs(d), E = d >= 0 ? e : -e;
  *lo = E >= 0 ? D : nextafter(D, 0);
  *hi = E <= 0 ? D : nextafter(D, HUGE_VAL);
}

/* The radius of coordinate j: eps, or eps w_j rounded up (up = 1, for
   bounds) or down (up = 0, for membership). */
static double wrad(const cb_set *s, size_t j, int up)
{
  if (!s->w) return s->eps;
  return up ? round_mul_ru(s->eps, s->w[j]) : round_mul_rd(s->eps, s->w[j]);
}

/* 1 if |x - c| <= eps exactly (doubles, eps >= 0). */
static int within(double x, double c, double eps)
{
  double lo, hi;
  abs_diff(x, c, &lo, &hi);
  return hi <= eps;
}

void set_nearest(const cb_set *s, double *p)
{
  for (size_t j = 0; j < s->n; j++)
    p[j] = s->lo ? fmin(fmax(s->center[j], s->lo[j]), s->hi[j]) : s->center[j];
}

/* Bounds of ||clamp(c) - c||_p (0 without a clip box): up = 1 an upper
   bound, up = 0 a lower bound (each |p_j - c_j| by abs_diff, the L2/L1 sums
   by gamma_{n+1} and their underflow by UNDER(n)); L-inf: the doubles next
   to the exact distance. */
double set_clip_distance(const cb_set *s, int up)
{
  double acc = 0, g = round_gamma(s->n + 1);
  if (!s->lo || s->norm == CB_NORM_BOX) return 0;
  for (size_t j = 0; j < s->n; j++) {
    double p = fmin(fmax(s->center[j], s->lo[j]), s->hi[j]), lo, hi, d;
    abs_diff(p, s->center[j], &lo, &hi);
    d = up ? hi : lo;
    if (s->w && d > 0)   /* weighted: |p_j - c_j| / w_j, infinite where w_j = 0 */
      d = s->w[j] > 0 ? (up ? round_div_ru(d, s->w[j]) : round_div_rd(d, s->w[j])) : HUGE_VAL;
    if (s->norm == CB_NORM_INF) acc = fmax(acc, d);
    else acc += s->norm == CB_NORM_2 ? d * d : d;
  }
  if (s->norm == CB_NORM_INF) return acc;
  acc = up ? round_up(acc * (1 + g) + UNDER(s->n)) : fmax(round_down(acc * (1 - g) - UNDER(s->n)), 0);
  if (s->norm == CB_NORM_1) return acc;
  return up ? round_up(sqrt(acc)) : fmax(round_down(sqrt(acc)), 0);
}

/* 1 if the ball provably misses the clip box: L-inf exactly (some
   coordinate of clamp(c) is more than eps from c), L2/L1 when a lower
   bound of ||clamp(c) - c|| exceeds eps. */
static int provably_empty(const cb_set *s)
{
  if (!s->lo || s->norm == CB_NORM_BOX) return 0;
  if (s->norm == CB_NORM_INF) {
    for (size_t j = 0; j < s->n; j++) {
      double p = fmin(fmax(s->center[j], s->lo[j]), s->hi[j]), lo, hi;
      if (!s->w) { if (!within(p, s->center[j], s->eps)) return 1; continue; }
      abs_diff(p, s->center[j], &lo, &hi);
      if (lo > wrad(s, j, 1)) return 1;     /* beyond eps w_j rounded up: beyond the real one */
    }
    return 0;
  }
  return set_clip_distance(s, 0) > s->eps;
}

/* "the clip box [lo,hi]" when every coordinate has the same bounds. */
static void box_text(const cb_set *s, char *buf, size_t cap)
{
  for (size_t j = 1; j < s->n; j++)
    if (s->lo[j] != s->lo[0] || s->hi[j] != s->hi[0]) { snprintf(buf, cap, "the clip box"); return; }
  snprintf(buf, cap, "the clip box [%.10g,%.10g]", s->lo[0], s->hi[0]);
}

int set_check(const cb_set *s, cb_error *err)
{
  char box[96];
  if (s->norm != CB_NORM_BOX && (!s->center || !(s->eps >= 0) || !isfinite(s->eps)))
    return cb_error_set(err, CB_EUSAGE, "eps must be a finite number >= 0 (got %g)", s->eps);
  if (s->norm == CB_NORM_BOX && (!s->lo || !s->hi))
    return cb_error_set(err, CB_EUSAGE, "a box needs lower and upper bounds");
  if (s->w && s->norm != CB_NORM_INF)
    return cb_error_set(err, CB_EUSAGE, "per-feature radii make a weighted L-inf ball: the norm must be inf, not %s",
                        cb_norm_table[s->norm].name);
  for (size_t j = 0; s->w && j < s->n; j++)
    if (!(s->w[j] >= 0) || !isfinite(s->w[j]))
      return cb_error_set(err, CB_EVALUE, "input %zu: per-feature radius %g is not a finite number >= 0", j, s->w[j]);
  for (size_t j = 0; j < s->n; j++) {
    if (s->center && !isfinite(s->center[j])) return cb_error_set(err, CB_EVALUE, "input %zu is not finite", j);
    if (s->lo && (!isfinite(s->lo[j]) || !isfinite(s->hi[j]) || s->lo[j] > s->hi[j]))
      return cb_error_set(err, CB_EVALUE, "input %zu: box [%g, %g] is empty or not finite", j, s->lo[j], s->hi[j]);
  }
  if (s->n && provably_empty(s)) {
    box_text(s, box, sizeof box);
    return cb_error_set(err, CB_EVALUE, "the set is empty: the %s%s ball of radius %.10g does not meet %s (distance %.6g)",
                        s->w ? "weighted " : "", cb_norm_table[s->norm].text, s->eps, box, set_clip_distance(s, 0));
  }
  return CB_OK;
}

void set_box(const cb_set *s, double *lo, double *hi)
{
  for (size_t j = 0; j < s->n; j++) {
    double r = wrad(s, j, 1);
    double l = s->norm == CB_NORM_BOX ? s->lo[j] : round_down(s->center[j] - r);
    double h = s->norm == CB_NORM_BOX ? s->hi[j] : round_up(s->center[j] + r);
    if (s->norm != CB_NORM_BOX && s->lo) { l = fmax(l, s->lo[j]); h = fmin(h, s->hi[j]); }
    lo[j] = l;
    hi[j] = h;
  }
}

/* 1 if x is in the set for real arithmetic: the box and the L-inf
   distances exactly (within); for L2 and L1 each |x_j - c_j| is taken from
   above (abs_diff) and the sum is rounded up before it is compared, so
   borderline points are rejected. */
int set_contains(const cb_set *s, const double *x)
{
  double acc = 0, lo, d;
  for (size_t j = 0; j < s->n; j++) {
    if (!isfinite(x[j])) return 0;
    if (s->lo && (x[j] < s->lo[j] || x[j] > s->hi[j])) return 0;
    if (s->norm == CB_NORM_BOX) continue;
    if (s->norm == CB_NORM_INF) { if (!within(x[j], s->center[j], wrad(s, j, 0))) return 0; continue; }
    abs_diff(x[j], s->center[j], &lo, &d);
    acc += s->norm == CB_NORM_2 ? d * d : d;
  }
  if (s->norm == CB_NORM_2) return round_up(acc * (1 + round_gamma(s->n + 1)) + UNDER(s->n)) <= round_down(s->eps * s->eps);
  if (s->norm == CB_NORM_1) return round_up(acc * (1 + round_gamma(s->n + 1))) <= s->eps;
  return 1;
}

/* box_support of a dense row over a plain box (the VNNLIB sets): the same
   terms, the sign's choice of hi or lo as a select of two products (no
   branch to mispredict), in four partial sums each: any order of a sum
   keeps the gamma_{n+2} bound, as each term takes part in at most n + 1
   additions.  Half of alpha-CROWN's concretisation time went to the
   branches of the general loop. */
CB_SIMD_CLONES
static double box_support_dense(const cb_set *s, const double *a, double bias)
{
  double v[4] = {0, 0, 0, 0}, g[4] = {0, 0, 0, 0}, vt = bias, mag = fabs(bias);
  const double *lo = s->lo, *hi = s->hi;
  size_t k = 0, n = s->n, n4 = n & ~(size_t)3;
  for (; k < n4; k += 4)
    for (int t = 0; t < 4; t++) {
      double ak = a[k + t], ph = ak * hi[k + t], pl = ak * lo[k + t];
      v[t] += ak >= 0 ? ph : pl;
      double al = fabs(lo[k + t]), ah = fabs(hi[k + t]);   /* not fmax: a libm call */
      g[t] += fabs(ak) * (al > ah ? al : ah);
    }
  for (; k < n; k++) {
    double ak = a[k];
    vt += ak >= 0 ? ak * hi[k] : ak * lo[k];
    mag += fabs(ak) * fmax(fabs(lo[k]), fabs(hi[k]));
  }
  vt += (v[0] + v[1]) + (v[2] + v[3]);
  mag += (g[0] + g[1]) + (g[2] + g[3]);
  return round_up(vt + 2 * round_gamma(n + 2) * mag + UNDER(n));
}

/* max over the box of a.x, with its rounding slack.  a has m entries at
   input indices idx[] (idx NULL: m = n, all of them); the others are 0. */
static double box_support(const cb_set *s, const double *a, size_t m, const size_t *idx, double bias)
{
  double v = bias, mag = fabs(bias);
  if (!idx && s->norm == CB_NORM_BOX) return box_support_dense(s, a, bias);
  for (size_t k = 0; k < m; k++) {
    size_t j = idx ? idx[k] : k;
    double l = s->lo ? s->lo[j] : -HUGE_VAL, h = s->hi ? s->hi[j] : HUGE_VAL;
    if (s->norm != CB_NORM_BOX) {  /* clipped (or weighted) L-inf ball: its box */
      double r = wrad(s, j, 1);
      l = fmax(s->center[j] - r, l);
      h = fmin(s->center[j] + r, h);
      l = round_down(l); h = round_up(h);
    }
    v += a[k] >= 0 ? a[k] * h : a[k] * l;
    mag += fabs(a[k]) * fmax(fabs(l), fabs(h));
  }
  return round_up(v + 2 * round_gamma(s->n + 2) * mag + UNDER(s->n));
}

/* sum a c, sum |a| |c|, sum |a| (p = 1) or sum a^2 (p = 2) of a dense row, in
   four partial sums each (independent chains the compiler can pair into
   SIMD lanes): any order of a sum keeps the gamma_{n+2} bound of
   ball_support, as each term takes part in at most n + 1 additions. */
CB_SIMD_CLONES
static void dense_sums(const double *a, const double *c, size_t m, int p, double *dot, double *mag, double *nrm)
{
  double d[4] = {0, 0, 0, 0}, g[4] = {0, 0, 0, 0}, r[4] = {0, 0, 0, 0};
  size_t k = 0, m4 = m & ~(size_t)3;
  if (p == 1)
    for (; k < m4; k += 4)
      for (int t = 0; t < 4; t++) {
        double aj = fabs(a[k + t]);
        d[t] += a[k + t] * c[k + t];
        g[t] += aj * fabs(c[k + t]);
        r[t] += aj;
      }
  else
    for (; k < m4; k += 4)
      for (int t = 0; t < 4; t++) {
        double aj = fabs(a[k + t]);
        d[t] += a[k + t] * c[k + t];
        g[t] += aj * fabs(c[k + t]);
        r[t] += aj * aj;
      }
  for (; k < m; k++) {
    double aj = fabs(a[k]);
    d[0] += a[k] * c[k];
    g[0] += aj * fabs(c[k]);
    r[0] += p == 1 ? aj : aj * aj;
  }
  *dot += (d[0] + d[1]) + (d[2] + d[3]);
  *mag += (g[0] + g[1]) + (g[2] + g[3]);
  *nrm += (r[0] + r[1]) + (r[2] + r[3]);
}

/* a.x0 + eps ||a||_* + bias, with its rounding slack (a as box_support's). */
static double ball_support(const cb_set *s, const double *a, size_t m, const size_t *idx, double bias)
{
  double dot = bias, mag = fabs(bias), nrm = 0;
  if (!idx && s->norm != CB_NORM_1) dense_sums(a, s->center, m, s->norm == CB_NORM_INF ? 1 : 2, &dot, &mag, &nrm);
  else for (size_t k = 0; k < m; k++) {
    size_t j = idx ? idx[k] : k;
    double aj = fabs(a[k]);
    dot += a[k] * s->center[j];
    mag += aj * fabs(s->center[j]);
    if (s->norm == CB_NORM_INF) nrm += aj;
    else if (s->norm == CB_NORM_2) nrm += aj * aj;
    else if (aj > nrm) nrm = aj;
  }
  if (s->norm == CB_NORM_2) nrm = sqrt(nrm + UNDER(s->n));  /* squares may underflow */
  nrm *= s->eps;
  return round_up(dot + nrm + 2 * round_gamma(s->n + 2) * (mag + nrm) + UNDER(s->n));
}

/* The rounding terms keep the full dimension n (gamma_{n+2}, UNDER(n)) when
   a row has fewer entries: the zero entries add exactly nothing, so the same
   terms bound it, and a windowed row's value equals its dense row's up to
   the order of the sums. */
void set_support_win(const cb_set *s, const double *A, size_t q, size_t m, const size_t *idx,
                     const double *bias, double *out)
{
  for (size_t i = 0; i < q; i++) {
    const double *a = A + i * m;
    double b = bias ? bias[i] : 0;
    if (s->norm == CB_NORM_BOX || (s->norm == CB_NORM_INF && (s->lo || s->w))) out[i] = box_support(s, a, m, idx, b);
    else if (!s->lo) out[i] = ball_support(s, a, m, idx, b);
    else out[i] = fmin(ball_support(s, a, m, idx, b), box_support(s, a, m, idx, b));
  }
}

void set_support(const cb_set *s, const double *A, size_t q, const double *bias, double *out)
{
  set_support_win(s, A, q, s->n, NULL, bias, out);
}

/* A point of the set where a.x is (near) maximal: the exact maximiser for a
   box, an L-inf/L2/L1 ball or an L-inf ball in a box; the ball's maximiser
   clipped into the box for a clipped L2/L1 ball.  Used only for gradients
   (alpha-CROWN), never for a bound. */
/* set_argmax's box and L-inf loops: selects in vectors (CB_SIMD_CLONES, omp simd; at -O2 GCC
   left them scalar with two branches per entry, 8.6% of alpha-CROWN on cifar_base_kw).
   Elementwise, so the bits are the scalar loop's. */
CB_SIMD_CLONES
static void argmax_box(const double *restrict a, const double *restrict lo, const double *restrict hi, size_t n,
                       double *restrict x)
{
#pragma omp simd
  for (size_t j = 0; j < n; j++) x[j] = a[j] >= 0 ? hi[j] : lo[j];
}

CB_SIMD_CLONES
static void argmax_inf(const double *restrict a, const double *restrict c, double r, const double *restrict lo,
                       const double *restrict hi, size_t n, double *restrict x)
{
#pragma omp simd
  for (size_t j = 0; j < n; j++) {
    double sg = a[j] > 0 ? 1 : a[j] < 0 ? -1 : 0;
    x[j] = c[j] + r * sg;
  }
  if (lo) {
#pragma omp simd
    for (size_t j = 0; j < n; j++) x[j] = x[j] < lo[j] ? lo[j] : x[j] > hi[j] ? hi[j] : x[j];
  }
}

void set_argmax(const cb_set *s, const double *a, double *x)
{
  double nrm = 0;
  size_t jm = 0;
  if (s->norm == CB_NORM_BOX) { argmax_box(a, s->lo, s->hi, s->n, x); return; }   /* no branch on a's sign */
  if (s->norm == CB_NORM_INF && !s->w) {   /* the loop below's values, without its per-entry branches and calls */
    argmax_inf(a, s->center, s->eps, s->lo, s->hi, s->n, x);
    return;
  }
  for (size_t j = 0; j < s->n; j++) {
    if (s->norm == CB_NORM_2) nrm += a[j] * a[j];
    if (s->norm == CB_NORM_1 && fabs(a[j]) > fabs(a[jm])) jm = j;
  }
  nrm = sqrt(nrm);
  for (size_t j = 0; j < s->n; j++) {
    double sg = a[j] > 0 ? 1 : a[j] < 0 ? -1 : 0;
    if (s->norm == CB_NORM_BOX) { x[j] = a[j] >= 0 ? s->hi[j] : s->lo[j]; continue; }
    x[j] = s->center[j] + (s->norm == CB_NORM_INF ? wrad(s, j, 0) * sg
                         : s->norm == CB_NORM_2 ? (nrm > 0 ? s->eps * a[j] / nrm : 0)
                         : (j == jm ? s->eps * sg : 0));
    if (s->lo) x[j] = fmin(fmax(x[j], s->lo[j]), s->hi[j]);
  }
}
