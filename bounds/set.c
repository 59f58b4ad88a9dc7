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
*/
#include <float.h>
#include <math.h>
#include "bounds.h"
#include "round.h"

/* Absolute error of n products that may underflow (each <= 2^-1075), doubled. */
#define UNDER(n) ((double)((n) + 2) * DBL_TRUE_MIN)

int set_check(const cb_set *s, cb_error *err)
{
  if (s->norm != CB_NORM_BOX && (!s->center || !(s->eps >= 0) || !isfinite(s->eps)))
    return cb_error_set(err, CB_EUSAGE, "eps must be a finite number >= 0 (got %g)", s->eps);
  if (s->norm == CB_NORM_BOX && (!s->lo || !s->hi))
    return cb_error_set(err, CB_EUSAGE, "a box needs lower and upper bounds");
  for (size_t j = 0; j < s->n; j++) {
    if (s->center && !isfinite(s->center[j])) return cb_error_set(err, CB_EVALUE, "input %zu is not finite", j);
    if (s->lo && (!isfinite(s->lo[j]) || !isfinite(s->hi[j]) || s->lo[j] > s->hi[j]))
      return cb_error_set(err, CB_EVALUE, "input %zu: box [%g, %g] is empty or not finite", j, s->lo[j], s->hi[j]);
    if (s->lo && s->center && s->norm != CB_NORM_BOX &&
        (s->center[j] + s->eps < s->lo[j] || s->center[j] - s->eps > s->hi[j]))
      return cb_error_set(err, CB_EVALUE, "input %zu: the ball does not meet the clip box", j);
  }
  return CB_OK;
}

void set_box(const cb_set *s, double *lo, double *hi)
{
  for (size_t j = 0; j < s->n; j++) {
    double l = s->norm == CB_NORM_BOX ? s->lo[j] : round_down(s->center[j] - s->eps);
    double h = s->norm == CB_NORM_BOX ? s->hi[j] : round_up(s->center[j] + s->eps);
    if (s->norm != CB_NORM_BOX && s->lo) { l = fmax(l, s->lo[j]); h = fmin(h, s->hi[j]); }
    lo[j] = l;
    hi[j] = h;
  }
}

/* 1 if x is in the set for real arithmetic: each computed distance is
   rounded up before it is compared, so borderline points are rejected. */
int set_contains(const cb_set *s, const double *x)
{
  double acc = 0;
  for (size_t j = 0; j < s->n; j++) {
    if (!isfinite(x[j])) return 0;
    if (s->lo && (x[j] < s->lo[j] || x[j] > s->hi[j])) return 0;
    if (s->norm == CB_NORM_BOX) continue;
    double d = round_up(fabs(x[j] - s->center[j]));
    if (s->norm == CB_NORM_INF) { if (d > s->eps) return 0; }
    else acc += s->norm == CB_NORM_2 ? d * d : d;
  }
  if (s->norm == CB_NORM_2) return round_up(acc * (1 + round_gamma(s->n + 1))) <= round_down(s->eps * s->eps);
  if (s->norm == CB_NORM_1) return round_up(acc * (1 + round_gamma(s->n + 1))) <= s->eps;
  return 1;
}

/* max over the box of a.x, with its rounding slack.  a has m entries at
   input indices idx[] (idx NULL: m = n, all of them); the others are 0. */
static double box_support(const cb_set *s, const double *a, size_t m, const size_t *idx, double bias)
{
  double v = bias, mag = fabs(bias);
  for (size_t k = 0; k < m; k++) {
    size_t j = idx ? idx[k] : k;
    double l = s->lo[j], h = s->hi[j];
    if (s->norm != CB_NORM_BOX) {  /* clipped ball: its box */
      l = fmax(s->center[j] - s->eps, l);
      h = fmin(s->center[j] + s->eps, h);
      l = round_down(l); h = round_up(h);
    }
    v += a[k] >= 0 ? a[k] * h : a[k] * l;
    mag += fabs(a[k]) * fmax(fabs(l), fabs(h));
  }
  return round_up(v + 2 * round_gamma(s->n + 2) * mag + UNDER(s->n));
}

/* a.x0 + eps ||a||_* + bias, with its rounding slack (a as box_support's). */
static double ball_support(const cb_set *s, const double *a, size_t m, const size_t *idx, double bias)
{
  double dot = bias, mag = fabs(bias), nrm = 0;
  for (size_t k = 0; k < m; k++) {
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
    if (s->norm == CB_NORM_BOX || (s->norm == CB_NORM_INF && s->lo)) out[i] = box_support(s, a, m, idx, b);
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
void set_argmax(const cb_set *s, const double *a, double *x)
{
  double nrm = 0;
  size_t jm = 0;
  for (size_t j = 0; j < s->n; j++) {
    if (s->norm == CB_NORM_2) nrm += a[j] * a[j];
    if (s->norm == CB_NORM_1 && fabs(a[j]) > fabs(a[jm])) jm = j;
  }
  nrm = sqrt(nrm);
  for (size_t j = 0; j < s->n; j++) {
    double sg = a[j] > 0 ? 1 : a[j] < 0 ? -1 : 0;
    if (s->norm == CB_NORM_BOX) { x[j] = a[j] >= 0 ? s->hi[j] : s->lo[j]; continue; }
    x[j] = s->center[j] + (s->norm == CB_NORM_INF ? s->eps * sg
                         : s->norm == CB_NORM_2 ? (nrm > 0 ? s->eps * a[j] / nrm : 0)
                         : (j == jm ? s->eps * sg : 0));
    if (s->lo) x[j] = fmin(fmax(x[j], s->lo[j]), s->hi[j]);
  }
}
