/*
** Certified Grad-CAM and Grad-CAM++ bounds over a set S (attr_cam.c has the
** maps).  One CROWN pass gives the interval activations [Alo, Ahi] of the
** CAM node k (its output boxes in the workspace: for every y in S, the
** value A(y) lies inside), and one interval-Jacobian pass stopped at node k
** (jac_interval_node) gives [Glo, Ghi] >= dA = df_c/dA(y) for every y in S.
** Then, in interval arithmetic, every endpoint rounded outward:
**   Grad-CAM    a_k = (1/hw) sum_ij G_kij
**   Grad-CAM++  s3_k = sum_ij A_kij G_kij^3  (G^3 is monotone);
**               r = g2 / (2 g2 + s3) with g2 = G^2 (the square's true range)
**               is linear-fractional in (g2, s3): where its denominator has
**               one sign on the box [g2] x [s3] its extremes are at the four
**               corners (level sets are lines); where it may vanish r is
**               unbounded and the term is [-inf, inf] (an honest non-bound:
**               the row then stays undecided).  A pixel with Ghi <= 0 adds 0
**               (ReLU(G) = 0).  a_k = sum_ij r_ij ReLU(G_kij).
**   cam = ReLU(sum_k a_k A_k) (ReLU is monotone), upsampled bilinearly with
**   the map's own nonnegative weights (monotone), widened by gamma_16 max cam
**   for the weights' rounding.
** The intervals of A and dA are taken independently (a superset of the pairs
** that occur), which is sound and where the looseness comes from.
** Cost: one CROWN + one interval-Jacobian pass that stops at node k (less
** than certified Saliency's full pass), plus O(K h w) interval arithmetic.
*/
#include <math.h>
#include <string.h>
#include "attr.h"
#include "jacobian.h"
#include "round.h"

/* [lo, hi] of g^3 for g in [g0, g1] (monotone), rounded outward. */
static void icube(double g0, double g1, double *lo, double *hi)
{
  double a = fabs(g0), b = fabs(g1);
  *lo = g0 >= 0 ? round_mul_rd(round_mul_rd(a, a), a) : -round_mul_ru(round_mul_ru(a, a), a);
  *hi = g1 >= 0 ? round_mul_ru(round_mul_ru(b, b), b) : -round_mul_rd(round_mul_rd(b, b), b);
}

/* Bounds of r = g / (2 g + t) over [g0, g1] x [t0, t1] (g0 >= 0); 0 when
   the denominator may vanish (then *lo = -inf, *hi = inf). */
static void iratio(double g0, double g1, double t0, double t1, double *lo, double *hi)
{
  double dl = round_add_rd(2 * g0, t0), dh = round_add_ru(2 * g1, t1);
  *lo = HUGE_VAL; *hi = -HUGE_VAL;
  /* An infinite corner (g^2 or s3 overflowed) would give inf / inf = NaN,
     which fmin/fmax drop: no finite claim then. */
  if (!isfinite(g0) || !isfinite(g1) || !isfinite(t0) || !isfinite(t1) || !(dl > 0 || dh < 0)) {
    *lo = -HUGE_VAL; *hi = HUGE_VAL;
    return;
  }
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++) {
      double g = a ? g1 : g0, t = b ? t1 : t0;
      double d0 = round_add_rd(2 * g, t), d1 = round_add_ru(2 * g, t);
      /* g >= 0 and d of one sign: g / d decreases in d */
      *lo = fmin(*lo, g == 0 ? 0 : round_div_rd(g, d1));
      *hi = fmax(*hi, g == 0 ? 0 : round_div_ru(g, d0));
    }
}

/* Grad-CAM++ weight interval of one channel (hw pixels). */
static void alpha_pp(const double *Al, const double *Ah, const double *Gl, const double *Gh, size_t hw,
                     double *lo, double *hi)
{
  double s0 = 0, s1 = 0, a0 = 0, a1 = 0;
  for (size_t p = 0; p < hw; p++) {
    double c0, c1, q0, q1;
    icube(Gl[p], Gh[p], &c0, &c1);
    attr_imul(Al[p], Ah[p], c0, c1, &q0, &q1);
    s0 = round_acc_down(s0, q0);
    s1 = round_acc_up(s1, q1);
  }
  for (size_t p = 0; p < hw; p++) {
    double q0, q1, r0, r1, t0, t1;
    if (Gh[p] <= 0) continue;   /* ReLU(G) = 0: the term is 0 */
    attr_isq(Gl[p], Gh[p], &q0, &q1);
    iratio(q0, q1, s0, s1, &r0, &r1);
    attr_imul(r0, r1, fmax(Gl[p], 0), Gh[p], &t0, &t1);
    a0 = round_acc_down(a0, t0);
    a1 = round_acc_up(a1, t1);
  }
  *lo = a0; *hi = a1;
}

/* Channel weights [wl, wh] (K) from the activations and adjoint intervals. */
static void cam_weights(const attr_ctx *a, const double *Al, const double *Ah, const double *Gl, const double *Gh,
                        int K, size_t hw, double *wl, double *wh)
{
  for (int k = 0; k < K; k++) {
    size_t o = (size_t)k * hw;
    if (a->opt.method == AM_GRADCAMPP) { alpha_pp(Al + o, Ah + o, Gl + o, Gh + o, hw, wl + k, wh + k); continue; }
    double s0 = 0, s1 = 0;
    for (size_t p = 0; p < hw; p++) { s0 = round_acc_down(s0, Gl[o + p]); s1 = round_acc_up(s1, Gh[o + p]); }
    wl[k] = round_div_rd(s0, (double)hw);
    wh[k] = round_div_ru(s1, (double)hw);
  }
}

/* lb, ub (n): the upsampled bounds of the cam bounds [cl, ch] (h x w), copied to every channel. */
static void cam_upsample_bounds(const attr_ctx *a, const double *cl, const double *ch, int h, int w, double *lb, double *ub)
{
  int C, H, W;
  size_t hw = (size_t)h * (size_t)w;
  double top = 0, g = round_gamma_up(16);
  for (size_t p = 0; p < hw; p++) top = fmax(top, ch[p]);
  attr_image(a->net, &C, &H, &W);
  for (int i = 0; i < H; i++)
    for (int j = 0; j < W; j++) {
      size_t q = (size_t)i * (size_t)W + (size_t)j;
      double l = attr_cam_upsample(cl, h, w, H, W, i, j), u = isfinite(top) ? attr_cam_upsample(ch, h, w, H, W, i, j) : HUGE_VAL;
      lb[q] = fmax(0, round_down(l - round_mul_ru(g, top)));
      ub[q] = round_up(u + round_mul_ru(g, top));
    }
  for (int c = 1; c < C; c++) {
    memcpy(lb + (size_t)c * (size_t)H * (size_t)W, lb, (size_t)H * (size_t)W * sizeof *lb);
    memcpy(ub + (size_t)c * (size_t)H * (size_t)W, ub, (size_t)H * (size_t)W * sizeof *ub);
  }
}

int attr_cert_cam(attr_ctx *a, const cb_set *s, int target, double *lb, double *ub, cb_error *err)
{
  int k = a->cam_node, K, h, w, rc;
  const cb_conv *g = &a->net->node[k].p.conv.g;
  size_t hw, sz = a->net->node[k].size;
  double *Gl = NULL, *Gh, *wl, *wh, *cl, *ch;
  const double *Al, *Ah;
  cb_ws *ws = ws_new(&a->bn, s, err);
  K = (int)g->cout; h = (int)g->hout; w = (int)g->wout;
  hw = (size_t)h * (size_t)w;
  if (!ws) return err->status;
  if (!(Gl = cb_alloc((2 * sz + 2 * (size_t)K + 2 * hw) * sizeof *Gl))) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  Gh = Gl + sz; wl = Gh + sz; wh = wl + K; cl = wh + K; ch = cl + hw;
  memset(a->C, 0, a->no * sizeof *a->C);
  a->C[target] = 1;
  if ((rc = bounds_run(ws, CB_CROWN, err)) != CB_OK || (rc = jac_interval_node(ws, a->C, 1, k, Gl, Gh, err)) != CB_OK) goto out;
  Al = ws->lo[k]; Ah = ws->hi[k];
  cam_weights(a, Al, Ah, Gl, Gh, K, hw, wl, wh);
  for (size_t p = 0; p < hw; p++) {
    double s0 = 0, s1 = 0, t0, t1;
    for (int c = 0; c < K; c++) {
      attr_imul(wl[c], wh[c], Al[(size_t)c * hw + p], Ah[(size_t)c * hw + p], &t0, &t1);
      s0 = round_acc_down(s0, t0);
      s1 = round_acc_up(s1, t1);
    }
    if (isnan(s0) || isnan(s1)) {   /* before the ReLU: fmax(NaN, 0) is 0 */ rc = cb_error_set(err, CB_EVALUE, "%s: the Grad-CAM bounds are not a number", a->net->path); goto out; }
    cl[p] = fmax(s0, 0);   /* ReLU, monotone */
    ch[p] = fmax(s1, 0);
  }
  cam_upsample_bounds(a, cl, ch, h, w, lb, ub);
out:
  cb_free(Gl);
  ws_free(ws);
  return rc;
}
