/*
** Certified Occlusion and RISE bounds over a set S (attr_perturb.c has the
** maps).  Both are sums of scores at masked inputs, and a masked input is an
** affine image of y: each term's score is bounded by CROWN over the image of
** S, and the terms are combined in interval arithmetic, outward rounded.
**   Occlusion  drop_P(y) = f_c(y) - f_c(y with patch P set to v).  The
**              masked points form {z : z_P = v, z_~P = y_~P}, inside the
**              ball of centre (x with P set to v), same radius (the
**              distance only loses the P coordinates), cut by the box that
**              is [v, v] on P and the set's box elsewhere: no rounding
**              (copies).  drop_P in [F0 - M1_P, F1 - M0_P]; the feature's
**              map is the sum over the patches covering it.
**   RISE       map_i = sum_k f_c(y .* m_k) m_k,i / (N p), m_k in [0, 1]:
**              y .* m lies in the box [RD(ylo m), RU(yhi m)] (m >= 0; it
**              holds the computed fl(y m) too, fl being monotone), which is
**              the exact image of an L-inf ball; for L2 and L1 balls also in
**              the ball of centre fl(x .* m) and radius eps max m + D
**              (||d .* m|| <= max m ||d||; D the two roundings).  The
**              bounds [M0_k, M1_k] times m_k,i >= 0 are summed and divided
**              by the interval of N p.
** Why intervals of each term, not one pass on the difference: the two
** scores of an occlusion drop share y outside the patch, and a linear bound
** of f(y) - f(masked y) over a stacked network would cancel that part; this
** needs the constant of CROWN's linear bound of each term over two different
** sets, which bounds/ does not expose with its rounding.  The interval form
** is sound and costs one CROWN pass per patch or mask (the same count of
** passes as the map has forwards).
*/
#include <math.h>
#include <string.h>
#include "attr.h"
#include "round.h"

static size_t pix(int ch, int h, int w, int i, int j)
{
  return ((size_t)ch * (size_t)h + (size_t)i) * (size_t)w + (size_t)j;
}

/* Set of the points of s with patch (i0, j0) occluded: writes ctr, lo, hi (n). */
static void occluded_set(const attr_ctx *a, const cb_set *s, const double *ylo, const double *yhi, int i0, int j0,
                         double *ctr, double *lo, double *hi, cb_set *out)
{
  int c = a->ch, h = a->ih, w = a->iw, P = a->opt.patch;
  memcpy(lo, ylo, a->n * sizeof *lo);
  memcpy(hi, yhi, a->n * sizeof *hi);
  if (s->center) memcpy(ctr, s->center, a->n * sizeof *ctr);
  for (int ch = 0; ch < c; ch++)
    for (int i = i0; i < i0 + P; i++)
      for (int j = j0; j < j0 + P; j++) {
        size_t q = pix(ch, h, w, i, j);
        lo[q] = hi[q] = ctr[q] = a->opt.baseline;
      }
  *out = *s;
  out->center = s->center ? ctr : NULL;
  out->lo = lo;
  out->hi = hi;
}

static int occlusion_bounds(attr_ctx *a, const cb_set *s, int target, const double *ylo, const double *yhi,
                            double *lb, double *ub, cb_error *err)
{
  int c = a->ch, h = a->ih, w = a->iw, P = a->opt.patch, S = a->opt.stride, rc;
  size_t n = a->n;
  double f0, f1, g0, g1, *buf;
  cb_set ms;
  if (P > h || P > w) return cb_error_set(err, CB_EUSAGE, "occlusion patch %d is larger than the %dx%d image", P, h, w);
  if ((rc = attr_cert_score(a, s, target, &f0, &f1, err)) != CB_OK) return rc;
  if (!(buf = cb_alloc(3 * n * sizeof *buf))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  memset(lb, 0, n * sizeof *lb);
  memset(ub, 0, n * sizeof *ub);
  for (int i0 = 0; i0 + P <= h && rc == CB_OK; i0 += S)
    for (int j0 = 0; j0 + P <= w && rc == CB_OK; j0 += S) {
      double d0, d1;
      occluded_set(a, s, ylo, yhi, i0, j0, buf, buf + n, buf + 2 * n, &ms);
      if ((rc = attr_cert_score(a, &ms, target, &g0, &g1, err)) != CB_OK) break;
      d0 = round_add_rd(f0, -g1);
      d1 = round_add_ru(f1, -g0);
      for (int ch = 0; ch < c; ch++)
        for (int i = i0; i < i0 + P; i++)
          for (int j = j0; j < j0 + P; j++) {
            size_t q = pix(ch, h, w, i, j);
            lb[q] = round_acc_down(lb[q], d0);
            ub[q] = round_acc_up(ub[q], d1);
          }
    }
  cb_free(buf);
  return rc;
}

/* The image of s under y -> y .* m (m: h x w, repeated over channels). */
static void masked_set(const attr_ctx *a, const cb_set *s, const double *ylo, const double *yhi, const double *m,
                       size_t hw, double *ctr, double *lo, double *hi, cb_set *out)
{
  size_t n = a->n;
  double mmax = 0, M = 0, scale = s->norm == CB_NORM_2 ? sqrt((double)n) + 1 : (double)n;
  for (size_t i = 0; i < n; i++) {
    double mi = m[i % hw];
    lo[i] = round_mul_rd(ylo[i], mi);
    hi[i] = round_mul_ru(yhi[i], mi);
    mmax = fmax(mmax, mi);
  }
  *out = (cb_set){CB_NORM_BOX, 0, n, NULL, lo, hi, NULL};
  if (s->norm == CB_NORM_BOX || s->norm == CB_NORM_INF || !s->center) return;   /* the box is the exact image */
  for (size_t i = 0; i < n; i++) { ctr[i] = s->center[i] * m[i % hw]; M = fmax(M, fabs(ctr[i])); }
  out->norm = s->norm;
  out->center = ctr;
  out->eps = round_up(round_mul_ru(s->eps, mmax) + round_up(4 * ROUND_U * round_up(M + round_mul_ru(s->eps, mmax)) * scale));
}

static int rise_bounds(attr_ctx *a, const cb_set *s, int target, const double *ylo, const double *yhi,
                       double *lb, double *ub, cb_error *err)
{
  int sc = a->opt.rise_cells, N = a->opt.samples, rc = CB_OK;
  size_t n = a->n, hw = (size_t)a->ih * (size_t)a->iw;
  uint64_t rng = a->opt.seed;
  double g0, g1, dl = round_mul_rd(N, a->opt.rise_p), dh = round_mul_ru(N, a->opt.rise_p);
  double *grid = cb_alloc(((size_t)(sc + 1) * (size_t)(sc + 1) + hw + 3 * n) * sizeof *grid), *m, *buf;
  cb_set ms;
  if (!grid) return cb_error_set(err, CB_ENOMEM, "out of memory for RISE masks");
  m = grid + (sc + 1) * (sc + 1);
  buf = m + hw;
  memset(lb, 0, n * sizeof *lb);
  memset(ub, 0, n * sizeof *ub);
  for (int t = 0; t < N && rc == CB_OK; t++) {
    attr_rise_mask(a->ih, a->iw, sc, a->opt.rise_p, &rng, grid, m);   /* attr_perturb.c's masks, in order */
    masked_set(a, s, ylo, yhi, m, hw, buf, buf + n, buf + 2 * n, &ms);
    if ((rc = attr_cert_score(a, &ms, target, &g0, &g1, err)) != CB_OK) break;
    for (size_t i = 0; i < n; i++) {
      lb[i] = round_acc_down(lb[i], round_prod_down(g0, m[i % hw]));
      ub[i] = round_acc_up(ub[i], round_prod_up(g1, m[i % hw]));
    }
  }
  for (size_t i = 0; i < n && rc == CB_OK; i++) {   /* divided by N p in [dl, dh] > 0 */
    lb[i] = round_div_rd(lb[i], lb[i] >= 0 ? dh : dl);
    ub[i] = round_div_ru(ub[i], ub[i] >= 0 ? dl : dh);
  }
  cb_free(grid);
  return rc;
}

int attr_cert_perturb(attr_ctx *a, const cb_set *s, int target, const double *ylo, const double *yhi,
                      double *lb, double *ub, cb_error *err)
{
  if (a->opt.method == AM_OCCLUSION) return occlusion_bounds(a, s, target, ylo, yhi, lb, ub, err);
  if (a->opt.method == AM_RISE) return rise_bounds(a, s, target, ylo, yhi, lb, ub, err);
  return cb_error_set(err, CB_EINTERNAL, "attr_cert_perturb: not a perturbation method");
}
