/*
** Gradient attributions of the score f_c (one reverse pass per gradient):
**   Saliency       |df_c/dx|                                  (Simonyan et al. 2014)
**   Grad x Input   x .* df_c/dx                               (Shrikumar et al. 2016)
**   IG             (x - b) .* (1/m) sum_{k=0..m} w_k df_c/dx(b + a_k (x - b)),
**                  a_k = k/m, w_0 = w_m = 1/2, else 1: the trapezoid rule
**                  (Sundararajan et al. 2017; Xplique's rule); averaged over
**                  several baselines ~ U[min x, max x]^n when asked
**   SmoothGrad     mean of g(x + e), e ~ N(0, s^2 I)          (Smilkov et al. 2017)
**   SquareGrad     mean of g(x + e)^2; VarGrad: their variance (population,
**                  Welford's online update), as Xplique defines them.
** Cost: 1 gradient (saliency, gxi), m + 1 per baseline (IG), N (noise).
** The IG sum is accumulated in k order so attr_cert.c can bound it as computed.
*/
#include <math.h>
#include <string.h>
#include "attr.h"

void attr_ig_baseline(const attr_ctx *a, const double *x, int j, double *b)
{
  const attr_opt *o = &a->opt;
  if (o->n_baselines > 0) {
    double lo = x[0], hi = x[0];
    uint64_t s = o->seed * 0x100000001B3ull + (uint64_t)j + 1;
    for (size_t i = 1; i < a->n; i++) { lo = fmin(lo, x[i]); hi = fmax(hi, x[i]); }
    for (size_t i = 0; i < a->n; i++) b[i] = lo + (hi - lo) * attr_rng_unit(&s);
  } else if (o->baseline_vec) memcpy(b, o->baseline_vec, a->n * sizeof *b);
  else for (size_t i = 0; i < a->n; i++) b[i] = o->baseline;
}

/* IG with baseline b, added to map with weight wmap. */
static int ig_one(attr_ctx *a, const double *x, const double *b, int target, double wmap, double *map, cb_error *err)
{
  size_t n = a->n;
  int m = a->opt.steps, rc;
  double *z = a->t2, *S = a->t3;
  memset(S, 0, n * sizeof *S);
  for (int k = 0; k <= m; k++) {
    double al = (double)k / m, w = (k == 0 || k == m) ? 0.5 : 1;
    for (size_t i = 0; i < n; i++) z[i] = b[i] + al * (x[i] - b[i]);
    if ((rc = attr_score(a, z, target, NULL, a->G, err)) != CB_OK) return rc;
    for (size_t i = 0; i < n; i++) S[i] += w * a->G[i];
  }
  for (size_t i = 0; i < n; i++) map[i] += wmap * ((x[i] - b[i]) * (S[i] / m));
  return CB_OK;
}

static int noise_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err)
{
  size_t n = a->n;
  int N = a->opt.samples, rc;
  uint64_t s = a->opt.seed;
  double *z = a->t2, *M2 = a->t3;
  memset(map, 0, n * sizeof *map);
  memset(M2, 0, n * sizeof *M2);
  for (int k = 1; k <= N; k++) {
    for (size_t i = 0; i < n; i++) z[i] = x[i] + a->opt.sigma * attr_rng_normal(&s);
    if ((rc = attr_score(a, z, target, NULL, a->G, err)) != CB_OK) return rc;
    for (size_t i = 0; i < n; i++) {
      double g = a->opt.method == AM_SQUAREGRAD ? a->G[i] * a->G[i] : a->G[i], d = g - map[i];
      map[i] += d / k;
      M2[i] += d * (g - map[i]);
    }
  }
  if (a->opt.method == AM_VARGRAD) for (size_t i = 0; i < n; i++) map[i] = M2[i] / N;
  return CB_OK;
}

int attr_grad_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err)
{
  size_t n = a->n;
  int rc, nb;
  switch (a->opt.method) {
  case AM_SALIENCY: case AM_GRADXINPUT:
    if ((rc = attr_score(a, x, target, NULL, a->G, err)) != CB_OK) return rc;
    for (size_t i = 0; i < n; i++) map[i] = a->opt.method == AM_SALIENCY ? fabs(a->G[i]) : x[i] * a->G[i];
    return CB_OK;
  case AM_IG:
    memset(map, 0, n * sizeof *map);
    nb = a->opt.n_baselines > 0 ? a->opt.n_baselines : 1;
    for (int j = 0; j < nb; j++) {
      attr_ig_baseline(a, x, j, a->t1);
      if ((rc = ig_one(a, x, a->t1, target, nb == 1 ? 1.0 : 1.0 / nb, map, err)) != CB_OK) return rc;
    }
    return CB_OK;
  case AM_SMOOTHGRAD: case AM_VARGRAD: case AM_SQUAREGRAD:
    return noise_map(a, x, target, map, err);
  case AM_OCCLUSION: case AM_RISE: case AM_GRADCAM: case AM_GRADCAMPP: case AM_EVA:
  case AM_LRP: case AM_DEEPLIFT: case AM_GUIDEDBP: case AM_DECONVNET: case AM_KERNELSHAP:
  case AM_SCORECAM: case AM_OPTICAM: case AM_LIME: case AM_SOBOL: case AM_HSIC: case AM_ROLLOUT: case AM_COUNT: break;
  }
  return cb_error_set(err, CB_EINTERNAL, "attr_grad_map: not a gradient method");
}
