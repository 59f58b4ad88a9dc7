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
**   SmoothGrad, VarGrad, SquareGrad, IG with random baselines: see
**                 noise_bounds and ig_rand_bounds below; Grad-CAM(++) in
**                 attr_cert_cam.c, Occlusion and RISE in attr_cert_pert.c.
** Cost: one CROWN + one interval-Jacobian pass (saliency, gxi), m + 1 (IG),
** N (noise methods), nb (m + 1) (IG with nb random baselines).
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

/* 0 times anything is 0 here: an infinite end is never attained. */
static double xmul(double a, double b) { return a == 0 || b == 0 ? 0 : a * b; }

void attr_imul(double a0, double a1, double b0, double b1, double *lo, double *hi)
{
  double p[4] = {xmul(a0, b0), xmul(a0, b1), xmul(a1, b0), xmul(a1, b1)};
  *lo = *hi = p[0];
  for (int k = 1; k < 4; k++) { *lo = fmin(*lo, p[k]); *hi = fmax(*hi, p[k]); }
  *lo = round_down(*lo);
  *hi = round_up(*hi);
}

void attr_isq(double a0, double a1, double *lo, double *hi)
{
  double l = fabs(a0), h = fabs(a1);
  if (a0 >= 0) { *lo = round_mul_rd(l, l); *hi = round_mul_ru(h, h); }
  else if (a1 <= 0) { *lo = round_mul_rd(h, h); *hi = round_mul_ru(l, l); }
  else { *lo = 0; *hi = round_mul_ru(fmax(l, h), fmax(l, h)); }
}

int attr_cert_score(attr_ctx *a, const cb_set *s, int target, double *lo, double *hi, cb_error *err)
{
  cb_ws *ws = ws_new(&a->bn, s, err);
  int rc;
  if (!ws) return err->status;
  memset(a->C, 0, a->no * sizeof *a->C);
  a->C[target] = 1;
  if ((rc = bounds_run(ws, CB_CROWN, err)) == CB_OK) rc = bounds_spec(ws, a->C, 1, lo, hi, err);
  if (rc == CB_OK && !(isfinite(*lo) && isfinite(*hi))) rc = cb_error_set(err, CB_EVALUE, "%s: the score bounds are not finite", a->net->path);
  ws_free(ws);
  return rc;
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
    attr_imul(round_down(ylo[i] - b[i]), round_up(yhi[i] - b[i]), l, h, &lb[i], &ub[i]);
  }
  cb_free(b);
  return rc;
}

/*
** The set s shifted by the constant vector d, holding both y + d and its
** computed fl(y + d) for every y of s: centre fl(x + d), radius eps + D with
** D >= the two roundings (2u (|x| + |d| + eps) per coordinate, scaled to the
** norm), clip box [RD(lo + d), RU(hi + d)] (fl is monotone).  A box shifts
** to the same rounded box.  Weighted balls are refused (eps w_j + D has no
** common radius when some w_j = 0).
*/
static int shift_set(const cb_set *s, const double *d, double *c, double *lo, double *hi, cb_set *out, cb_error *err)
{
  size_t n = s->n;
  double M = 0, scale = s->norm == CB_NORM_INF ? 1 : s->norm == CB_NORM_2 ? sqrt((double)n) + 1 : (double)n;
  if (s->w) return cb_error_set(err, CB_EUNSUP, "certified bounds of the noise methods do not support per-feature radii");
  *out = *s;
  if (s->lo) {
    for (size_t i = 0; i < n; i++) { lo[i] = round_add_rd(s->lo[i], d[i]); hi[i] = round_add_ru(s->hi[i], d[i]); }
    out->lo = lo; out->hi = hi;
  }
  if (s->norm == CB_NORM_BOX) return CB_OK;
  for (size_t i = 0; i < n; i++) { c[i] = s->center[i] + d[i]; M = fmax(M, fabs(s->center[i]) + fabs(d[i])); }
  out->center = c;
  out->eps = round_up(s->eps + round_up(4 * ROUND_U * round_up(M + s->eps) * scale));
  return CB_OK;
}

/*
** SmoothGrad, SquareGrad, VarGrad with the map's noise (same seed, same
** draws, d_k = fl(sigma e_k)): the k-th noisy point y + d_k of every y in s
** lies in s shifted by d_k (shift_set), whose interval Jacobian [gl_k, gh_k]
** holds g_k.  Per feature, outward rounded:
**   SmoothGrad  (1/N) sum_k [gl_k, gh_k]
**   SquareGrad  (1/N) sum_k [gl_k, gh_k]^2      (the square's true range)
**   VarGrad     the intersection of E[g^2] - E[g]^2 and
**               (1/N) sum_k ([g_k] - [E g])^2, and of [0, inf): both
**               hold for every y (the mean lies in its interval).
** The map's Welford updates differ from these real sums by at most
** 5 N u G (mean) and (20 N + 12) u G^2 (variance), G = max_k |g_k| bound:
** widened by gamma_{8N+16} G resp. gamma_{64(N+2)} G^2.
** Cost: N CROWN + interval-Jacobian passes.
*/
static void noise_feature(attr_method m, const double *gl, const double *gh, size_t n, int N, size_t i,
                          double *lb, double *ub)
{
  double s0 = 0, s1 = 0, q0 = 0, q1 = 0, v0 = 0, v1 = 0, G = 0, m0, m1, e0, e1, p0, p1, lo, hi, wid, t0, t1;
  for (int k = 0; k < N; k++) {
    double l = gl[(size_t)k * n + i], h = gh[(size_t)k * n + i];
    G = fmax(G, fmax(fabs(l), fabs(h)));
    s0 = round_acc_down(s0, l); s1 = round_acc_up(s1, h);
    attr_isq(l, h, &t0, &t1);
    q0 = round_acc_down(q0, t0); q1 = round_acc_up(q1, t1);
  }
  m0 = round_div_rd(s0, N); m1 = round_div_ru(s1, N);
  e0 = round_div_rd(q0, N); e1 = round_div_ru(q1, N);
  if (m == AM_SMOOTHGRAD) { lo = m0; hi = m1; wid = round_mul_ru(round_gamma_up(8 * (size_t)N + 16), G); }
  else if (m == AM_SQUAREGRAD) { lo = e0; hi = e1; wid = round_mul_ru(round_gamma_up(8 * (size_t)N + 16), round_mul_ru(G, G)); }
  else {
    for (int k = 0; k < N; k++) {
      attr_isq(round_add_rd(gl[(size_t)k * n + i], -m1), round_add_ru(gh[(size_t)k * n + i], -m0), &t0, &t1);
      v0 = round_acc_down(v0, t0); v1 = round_acc_up(v1, t1);
    }
    attr_isq(m0, m1, &p0, &p1);
    lo = fmax(0, fmax(round_add_rd(e0, -p1), round_div_rd(v0, N)));
    hi = fmin(round_add_ru(e1, -p0), round_div_ru(v1, N));
    wid = round_mul_ru(round_gamma_up(64 * ((size_t)N + 2)), round_mul_ru(G, G));
  }
  lb[i] = round_add_rd(lo, -wid);
  ub[i] = round_add_ru(hi, wid);
}

static int noise_bounds(attr_ctx *a, const cb_set *s, int target, double *lb, double *ub, cb_error *err)
{
  size_t n = a->n, N = (size_t)a->opt.samples;
  uint64_t rng = a->opt.seed;
  int rc = CB_OK;
  double *d = cb_alloc((4 + 2 * N) * n * sizeof *d), *c, *blo, *bhi, *gl, *gh;
  cb_set sk;
  if (!d) return cb_error_set(err, CB_ENOMEM, "out of memory for %zu noisy points' interval Jacobians", N);
  c = d + n; blo = c + n; bhi = blo + n; gl = bhi + n; gh = gl + N * n;
  for (size_t k = 0; k < N && rc == CB_OK; k++) {
    for (size_t i = 0; i < n; i++) d[i] = a->opt.sigma * attr_rng_normal(&rng);   /* attr_grad.c's draws */
    if ((rc = shift_set(s, d, c, blo, bhi, &sk, err)) == CB_OK) rc = grad_interval(a, &sk, target, gl + k * n, gh + k * n, err);
  }
  for (size_t i = 0; i < n && rc == CB_OK; i++) noise_feature(a->opt.method, gl, gh, n, (int)N, i, lb, ub);
  cb_free(d);
  return rc;
}

/*
** IG averaged over nb random baselines b_j = L + (H - L) u_j (attr_grad.c:
** L, H the min and max feature of the point y itself, u_j fixed by the
** seed).  Over the set, L in [min ylo, min yhi] and H in [max ylo, max yhi]
** (y in the set's box [ylo, yhi]); b is increasing in both ((1 - u) L + u H),
** so b_j lies in the box [bl, bh] (widened by 8u max|L, H| for the computed
** b).  Path point k: z = (1 - a_k) b + a_k y lies in the box
** [(1 - a_k) bl + a_k ylo, (1 - a_k) bh + a_k yhi], widened by 8u (|b| + |y|)
** for the computed z; one interval Jacobian per box.  The sum over k is
** bounded as in ig_bounds, multiplied by the interval y - b = [ylo - bh,
** yhi - bl], and the nb terms averaged, widened by gamma_{nb+3} of their
** magnitudes for the computed average.
** Boxes rather than balls: b moves with y, and the sum of a box and a ball
** is enclosed by a box.  Cost: nb (m + 1) CROWN + interval-Jacobian passes.
*/
static int ig_rand_path(attr_ctx *a, int target, const double *ylo, const double *yhi, const double *bl,
                        const double *bh, double D, double *buf, double *P0, double *P1, cb_error *err)
{
  size_t n = a->n;
  int m = a->opt.steps, rc = CB_OK;
  double *zl = buf, *zh = zl + n, *glo = zh + n, *ghi = glo + n, *Slo = ghi + n, *Shi = Slo + n, *mag = Shi + n;
  memset(Slo, 0, 3 * n * sizeof *Slo);
  for (int k = 0; k <= m && rc == CB_OK; k++) {
    double al = (double)k / m, w = (k == 0 || k == m) ? 0.5 : 1;
    cb_set sk = {CB_NORM_BOX, 0, n, NULL, zl, zh, NULL};
    for (size_t i = 0; i < n; i++) {
      zl[i] = round_add_rd(round_add_rd(round_mul_rd(1 - al, bl[i]), round_mul_rd(al, ylo[i])), -D);
      zh[i] = round_add_ru(round_add_ru(round_mul_ru(1 - al, bh[i]), round_mul_ru(al, yhi[i])), D);
    }
    if ((rc = grad_interval(a, &sk, target, glo, ghi, err)) != CB_OK) break;
    for (size_t i = 0; i < n; i++) {
      Slo[i] = round_acc_down(Slo[i], w * glo[i]);
      Shi[i] = round_acc_up(Shi[i], w * ghi[i]);
      mag[i] = round_acc_up(mag[i], w * fmax(fabs(glo[i]), fabs(ghi[i])));
    }
  }
  for (size_t i = 0; i < n && rc == CB_OK; i++) {
    double sl = round_mul_ru(2 * round_gamma_up((size_t)m + 3), mag[i]);
    double l = round_div_rd(round_add_rd(Slo[i], -sl), m), h = round_div_ru(round_add_ru(Shi[i], sl), m);
    attr_imul(round_add_rd(ylo[i], -bh[i]), round_add_ru(yhi[i], -bl[i]), l, h, &P0[i], &P1[i]);
  }
  return rc;
}

static int ig_rand_bounds(attr_ctx *a, int target, const double *ylo, const double *yhi, double *lb, double *ub,
                          cb_error *err)
{
  size_t n = a->n;
  int nb = a->opt.n_baselines, rc = CB_OK;
  double Ll = ylo[0], Lh = yhi[0], Hl = ylo[0], Hh = yhi[0], B, Y = 0, D, wb;
  double *bl = cb_alloc(13 * n * sizeof *bl), *bh, *P0, *P1, *mg, *buf;
  if (!bl) return cb_error_set(err, CB_ENOMEM, "out of memory");
  bh = bl + n; P0 = bh + n; P1 = P0 + n; mg = P1 + n; buf = mg + n;
  for (size_t i = 0; i < n; i++) {
    Ll = fmin(Ll, ylo[i]); Lh = fmin(Lh, yhi[i]); Hl = fmax(Hl, ylo[i]); Hh = fmax(Hh, yhi[i]);
    Y = fmax(Y, fmax(fabs(ylo[i]), fabs(yhi[i])));
    lb[i] = ub[i] = mg[i] = 0;
  }
  B = fmax(fmax(fabs(Ll), fabs(Lh)), fmax(fabs(Hl), fabs(Hh)));
  wb = round_mul_ru(8 * ROUND_U, B);
  D = round_mul_ru(8 * ROUND_U, round_add_ru(round_add_ru(B, wb), Y));
  for (int j = 0; j < nb && rc == CB_OK; j++) {
    uint64_t rs = a->opt.seed * 0x100000001B3ull + (uint64_t)j + 1;   /* attr_ig_baseline's draws */
    for (size_t i = 0; i < n; i++) {
      double u = attr_rng_unit(&rs);   /* u = k 2^-53: 1 - u is exact */
      bl[i] = round_add_rd(round_add_rd(round_mul_rd(1 - u, Ll), round_mul_rd(u, Hl)), -wb);
      bh[i] = round_add_ru(round_add_ru(round_mul_ru(1 - u, Lh), round_mul_ru(u, Hh)), wb);
    }
    if ((rc = ig_rand_path(a, target, ylo, yhi, bl, bh, D, buf, P0, P1, err)) != CB_OK) break;
    for (size_t i = 0; i < n; i++) {
      lb[i] = round_acc_down(lb[i], P0[i]);
      ub[i] = round_acc_up(ub[i], P1[i]);
      mg[i] = round_acc_up(mg[i], fmax(fabs(P0[i]), fabs(P1[i])));
    }
  }
  for (size_t i = 0; i < n && rc == CB_OK; i++) {
    double wid = round_div_ru(round_mul_ru(round_gamma_up((size_t)nb + 3), mg[i]), nb);
    lb[i] = round_add_rd(round_div_rd(lb[i], nb), -wid);
    ub[i] = round_add_ru(round_div_ru(ub[i], nb), wid);
  }
  cb_free(bl);
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
  if (!attr_cert_supported(m))
    return cb_error_set(err, CB_EUNSUP, "certified bounds are implemented for %s, not %s", ATTR_CERT_METHODS, attr_method_name[m]);
  if (m == AM_IG && a->opt.n_baselines <= 0 && (s->norm == CB_NORM_BOX || !s->center))
    return cb_error_set(err, CB_EUNSUP, "certified IG bounds need a ball (a centre and a radius), not a box");
  if (target < 0 || (size_t)target >= a->no) return cb_error_set(err, CB_EVALUE, "target class %d is out of range (0..%zu)", target, a->no - 1);
  if ((rc = set_check(s, err)) != CB_OK) return rc;
  if (!(ylo = cb_alloc(4 * n * sizeof *ylo))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  yhi = ylo + n; glo = yhi + n; ghi = glo + n;
  set_box(s, ylo, yhi);
  if (m == AM_IG && a->opt.n_baselines > 0) { rc = ig_rand_bounds(a, target, ylo, yhi, lb, ub, err); goto out; }
  if (m == AM_IG) { rc = ig_bounds(a, s, target, ylo, yhi, lb, ub, err); goto out; }
  if (m == AM_SMOOTHGRAD || m == AM_VARGRAD || m == AM_SQUAREGRAD) { rc = noise_bounds(a, s, target, lb, ub, err); goto out; }
  if (m == AM_GRADCAM || m == AM_GRADCAMPP) { rc = attr_cert_cam(a, s, target, lb, ub, err); goto out; }
  if (m == AM_OCCLUSION || m == AM_RISE) { rc = attr_cert_perturb(a, s, target, ylo, yhi, lb, ub, err); goto out; }
  if ((rc = grad_interval(a, s, target, glo, ghi, err)) != CB_OK) goto out;
  for (size_t i = 0; i < n; i++) {
    if (m == AM_GRADXINPUT) attr_imul(ylo[i], yhi[i], glo[i], ghi[i], &lb[i], &ub[i]);
    else if (glo[i] >= 0) { lb[i] = glo[i]; ub[i] = ghi[i]; }
    else if (ghi[i] <= 0) { lb[i] = -ghi[i]; ub[i] = -glo[i]; }
    else { lb[i] = 0; ub[i] = fmax(-glo[i], ghi[i]); }
  }
out:
  cb_free(ylo);
  return rc;
}

int attr_cert_supported(attr_method m)
{
  return m == AM_SALIENCY || m == AM_GRADXINPUT || m == AM_IG || m == AM_SMOOTHGRAD || m == AM_VARGRAD ||
         m == AM_SQUAREGRAD || m == AM_OCCLUSION || m == AM_RISE || m == AM_GRADCAM || m == AM_GRADCAMPP;
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
