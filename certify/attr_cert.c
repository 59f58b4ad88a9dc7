/*
** Certified attribution bounds over a set S around x (an Lp ball, maybe
** clipped), from the interval Jacobian of the score row e_c (lip/jacobian.c:
** for every y in S, glo <= df_c/dy(y) <= ghi, rounding included):
**   Saliency      |g| in [glo, ghi] if glo >= 0, [-ghi, -glo] if ghi <= 0,
**                 else [0, max(-glo, ghi)]                         (exact)
**   Grad x Input  y_i g_i: interval product of the set's box [ylo, yhi] with
**                 [glo, ghi], each corner rounded outward
**   IG            (y - b) .* (1/m) sum_k w_k g(z_k), z_k = b + a_k (y - b): z_k
**                 lies in the ball of centre b + a_k (x - b) and radius a_k eps,
**                 widened by the rounding of the centre and of z_k as computed
**                 (gamma_3 (4|b| + |x| + |y|) per coordinate, scaled to the norm);
**                 the sum of the interval Jacobians is widened by
**                 2 gamma_{m+3} sum_k w_k max(|glo_k|, |ghi_k|) (its own rounding
**                 and that of the computed sum), then divided by m and multiplied
**                 by the interval y - b, rounded outward.
** The bounds hold for the real-arithmetic maps (the gradient of the network
** given by the stored weights, in real arithmetic).  The rounding of the IG
** points, sums and products of attr_grad.c is covered too (floating-point
** operations are monotone); the rounding of the reverse pass that computes
** each gradient in attr_grad.c is not bounded here (about 1e-16 relative,
** far inside the outward rounding of the interval Jacobian in practice:
** test_attr compares computed maps with tolerance 0).
** Cost: one CROWN + one interval-Jacobian pass (saliency, gxi), m + 1 (IG).
*/
#include <math.h>
#include <string.h>
#include "attr.h"
#include "jacobian.h"
#include "round.h"

/* [glo, ghi] of df_c/dy over the set s. */
static int grad_interval(attr_ctx *a, const cb_set *s, int target, double *glo, double *ghi, cb_error *err)
{
  cb_ws *ws = ws_new(&a->bn, s, err);
  int rc;
  if (!ws) return err->status;
  memset(a->C, 0, a->no * sizeof *a->C);
  a->C[target] = 1;
  if ((rc = bounds_run(ws, CB_CROWN, err)) == CB_OK) rc = jac_interval(ws, a->C, 1, glo, ghi, err);
  ws_free(ws);
  return rc;
}

/* Outward-rounded bounds of the product of [a0, a1] and [b0, b1]. */
static void imul(double a0, double a1, double b0, double b1, double *lo, double *hi)
{
  double p[4] = {a0 * b0, a0 * b1, a1 * b0, a1 * b1};
  *lo = *hi = p[0];
  for (int k = 1; k < 4; k++) { *lo = fmin(*lo, p[k]); *hi = fmax(*hi, p[k]); }
  *lo = round_down(*lo);
  *hi = round_up(*hi);
}

static int ig_bounds(attr_ctx *a, const cb_set *s, int target, const double *ylo, const double *yhi,
                     double *lb, double *ub, cb_error *err)
{
  size_t n = a->n;
  int m = a->opt.steps, rc = CB_OK;
  double *b = cb_alloc(6 * n * sizeof *b), *c, *glo, *ghi, *Slo, *Shi, D = 0, scale;
  if (!b) return cb_error_set(err, CB_ENOMEM, "out of memory");
  c = b + n; glo = c + n; ghi = glo + n; Slo = ghi + n; Shi = Slo + n;
  attr_ig_baseline(a, s->center, 0, b);
  for (size_t i = 0; i < n; i++) {
    Slo[i] = Shi[i] = 0;
    D = fmax(D, 4 * fabs(b[i]) + fabs(s->center[i]) + fmax(fabs(ylo[i]), fabs(yhi[i])));
  }
  scale = s->norm == CB_NORM_INF ? 1 : s->norm == CB_NORM_2 ? sqrt((double)n) + 1 : (double)n;
  D = round_up(2 * round_gamma(3) * D * scale);
  for (int k = 0; k <= m && rc == CB_OK; k++) {
    double al = (double)k / m, w = (k == 0 || k == m) ? 0.5 : 1;
    cb_set sk = {s->norm, round_up(round_up(al * s->eps) + D), n, c, NULL, NULL};
    for (size_t i = 0; i < n; i++) c[i] = b[i] + al * (s->center[i] - b[i]);
    if ((rc = grad_interval(a, &sk, target, glo, ghi, err)) != CB_OK) break;
    for (size_t i = 0; i < n; i++) {
      Slo[i] += w * glo[i];
      Shi[i] += w * ghi[i];
      lb[i] = (k ? lb[i] : 0) + w * fmax(fabs(glo[i]), fabs(ghi[i]));   /* per-feature magnitude */
    }
  }
  for (size_t i = 0; rc == CB_OK && i < n; i++) {
    double sl = 2 * round_gamma((size_t)m + 3) * lb[i], l, h;
    l = round_down(round_down(Slo[i] - sl) / m);
    h = round_up(round_up(Shi[i] + sl) / m);
    imul(round_down(ylo[i] - b[i]), round_up(yhi[i] - b[i]), l, h, &lb[i], &ub[i]);
  }
  cb_free(b);
  return rc;
}

static int cert_full(attr_ctx *a, const cb_set *s, int target, double *lb, double *ub, cb_error *err);

/* A channel-reduced map max_c map_c is bounded by [max_c lb_c, max_c ub_c]
   (max is monotone in each argument). */
int attr_cert_bounds(attr_ctx *a, const cb_set *s, int target, double *lb, double *ub, cb_error *err)
{
  double *l, *u;
  int rc;
  if (a->nm == a->n) return cert_full(a, s, target, lb, ub, err);
  if (!(l = cb_alloc(2 * a->n * sizeof *l))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  u = l + a->n;
  if ((rc = cert_full(a, s, target, l, u, err)) == CB_OK) { attr_reduce(a, l, lb); attr_reduce(a, u, ub); }
  cb_free(l);
  return rc;
}

static int cert_full(attr_ctx *a, const cb_set *s, int target, double *lb, double *ub, cb_error *err)
{
  size_t n = a->n;
  attr_method m = a->opt.method;
  double *ylo, *yhi, *glo, *ghi;
  int rc;
  if (m != AM_SALIENCY && m != AM_GRADXINPUT && m != AM_IG)
    return cb_error_set(err, CB_EUNSUP, "certified bounds are implemented for saliency, gradxinput and ig, not %s", attr_method_name[m]);
  if (m == AM_IG && (s->norm == CB_NORM_BOX || !s->center))
    return cb_error_set(err, CB_EUNSUP, "certified IG bounds need a ball (a centre and a radius), not a box");
  if (m == AM_IG && a->opt.n_baselines > 0)
    return cb_error_set(err, CB_EUNSUP, "certified IG bounds with random baselines are not implemented (use a constant or vector baseline)");
  if (target < 0 || (size_t)target >= a->no) return cb_error_set(err, CB_EVALUE, "target class %d is out of range (0..%zu)", target, a->no - 1);
  if ((rc = set_check(s, err)) != CB_OK) return rc;
  if (!(ylo = cb_alloc(4 * n * sizeof *ylo))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  yhi = ylo + n; glo = yhi + n; ghi = glo + n;
  set_box(s, ylo, yhi);
  if (m == AM_IG) { rc = ig_bounds(a, s, target, ylo, yhi, lb, ub, err); goto out; }
  if ((rc = grad_interval(a, s, target, glo, ghi, err)) != CB_OK) goto out;
  for (size_t i = 0; i < n; i++) {
    if (m == AM_GRADXINPUT) imul(ylo[i], yhi[i], glo[i], ghi[i], &lb[i], &ub[i]);
    else if (glo[i] >= 0) { lb[i] = glo[i]; ub[i] = ghi[i]; }
    else if (ghi[i] <= 0) { lb[i] = -ghi[i]; ub[i] = -glo[i]; }
    else { lb[i] = 0; ub[i] = fmax(-glo[i], ghi[i]); }
  }
out:
  cb_free(ylo);
  return rc;
}

void attr_max_change(const double *map, const double *lb, const double *ub, size_t n, double out[3])
{
  double s1 = 0, s2 = 0, mx = 0, g = 1 + 2 * round_gamma(n + 2);
  for (size_t i = 0; i < n; i++) {
    double d = round_up(fmax(ub[i] - map[i], map[i] - lb[i]));
    d = fmax(d, 0);
    s1 += d; s2 += d * d; mx = fmax(mx, d);
  }
  out[0] = round_up(s1 * g);
  out[1] = round_up(sqrt(round_up(s2 * g)));
  out[2] = mx;
}

size_t attr_topk(const double *map, size_t n, size_t k, int *idx)
{
  size_t c = 0;
  for (size_t i = 0; i < n && k > 0; i++) {   /* insertion into a sorted prefix: k is small */
    size_t p = c < k ? c++ : k;
    if (p == k && !(map[i] > map[idx[k - 1]])) continue;
    if (p == k) p = k - 1;
    while (p > 0 && map[i] > map[idx[p - 1]]) { idx[p] = idx[p - 1]; p--; }
    idx[p] = (int)i;
  }
  return c;
}

size_t attr_certified_topk(const double *lb, const double *ub, size_t n, size_t k, int *idx)
{
  size_t cnt = 0;
  for (size_t i = 0; i < n && k > 0; i++) {
    size_t rivals = 0;
    for (size_t j = 0; j < n && rivals < k; j++) if (j != i && ub[j] >= lb[i]) rivals++;
    if (rivals < k) idx[cnt++] = (int)i;
  }
  return cnt;
}
