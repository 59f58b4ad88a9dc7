/*
** Grad-CAM and Grad-CAM++ at a CONV node k with output A [K x h x w] and
** adjoint dA = df_c/dA (lip/grad.c, grad_adjoint):
**   Grad-CAM    a_k = mean_ij dA_kij;  cam = ReLU(sum_k a_k A_k)   (Selvaraju et al. 2017)
**   Grad-CAM++  a_k = sum_ij g_kij ReLU(dA_kij),
**               g = dA^2 / (2 dA^2 + sum_ij A_kij dA^3)  (0 where the
**               denominator is 0)                             (Chattopadhay et al. 2018)
** The h x w map is upsampled bilinearly (half-pixel centres) to the input's
** H x W and copied to every input channel.  Cost: one gradient.
**
** Score-CAM (Wang et al. 2020): each map A_k, upsampled to U_k (H x W) and
**   normalised to M_k = (U_k - min U_k) / (max U_k - min U_k) (0 when U_k is
**   constant), masks the input (every channel): s_k = softmax(f(x .* M_k))_c;
**   a = softmax_k(s_k); cam = ReLU(sum_k a_k A_k), upsampled as Grad-CAM.
**   Cost: K forwards, batched (ATTR_BATCH) through attr_forward (the context's forward workspace).
** Opti-CAM (Zhang et al. 2023): weights w (K, start 0), a = softmax(w),
**   S(w) = sum_k a_k U_k, M(w) = (S - min S) / (max S - min S); `steps`
**   Adam steps (lr, beta 0.9 / 0.999, eps 1e-8) on w to maximise the logit
**   f_c(x .* M(w)), the gradient by the chain rule through M (min and max
**   by their first arg); the map is M(w) after the last step.  Cost: steps
**   gradients.  Deterministic (no randomness).
*/
#include <math.h>
#include <string.h>
#include "attr.h"

int attr_cam_node(const cb_net *net, const char *method, const char *name, int *idx, cb_error *err)
{
  *idx = -1;
  for (int i = 0; i < net->n; i++) {
    if (name && strcmp(net->node[i].name, name)) continue;
    if (name && net->node[i].kind != CB_CONV)
      return cb_error_set(err, CB_EUSAGE, "%s: %s --node \"%s\" is not a CONV node (its kind is %s)", net->path, method, name, node_kind_name(&net->node[i]));
    if (net->node[i].kind == CB_CONV) *idx = i;
    if (name) break;
  }
  if (*idx >= 0) return CB_OK;
  if (name) return cb_error_set(err, CB_EUSAGE, "%s: %s --node: no node named \"%s\"", net->path, method, name);
  return cb_error_set(err, CB_EUSAGE, "%s: %s needs a CONV node and the network has none", net->path, method);
}

double attr_cam_upsample(const double *cam, int h, int w, int H, int W, int i, int j)
{
  double u = (i + 0.5) * h / H - 0.5, v = (j + 0.5) * w / W - 0.5;
  int i0, j0, i1, j1;
  u = fmin(fmax(u, 0), h - 1);
  v = fmin(fmax(v, 0), w - 1);
  i0 = (int)u; j0 = (int)v;
  i1 = i0 + 1 < h ? i0 + 1 : i0; j1 = j0 + 1 < w ? j0 + 1 : j0;
  u -= i0; v -= j0;
  return (1 - u) * ((1 - v) * cam[i0 * w + j0] + v * cam[i0 * w + j1]) + u * ((1 - v) * cam[i1 * w + j0] + v * cam[i1 * w + j1]);
}

/* U (K x H x W): every map of A (K x h x w) upsampled. */
static void upsample_all(const double *A, int K, int h, int w, int H, int W, double *U)
{
  size_t hw = (size_t)h * (size_t)w, HW = (size_t)H * (size_t)W;
  for (int k = 0; k < K; k++)
    for (int i = 0; i < H; i++)
      for (int j = 0; j < W; j++) U[(size_t)k * HW + (size_t)i * (size_t)W + (size_t)j] = attr_cam_upsample(A + (size_t)k * hw, h, w, H, W, i, j);
}

/* m = (u - min u) / (max u - min u), 0 when u is constant; *lo, *hi: the
   first argmin and argmax. */
static double minmax_norm(const double *u, size_t n, double *m, size_t *lo, size_t *hi)
{
  size_t a = 0, b = 0;
  double r;
  for (size_t p = 1; p < n; p++) { if (u[p] < u[a]) a = p; if (u[p] > u[b]) b = p; }
  r = u[b] - u[a];
  for (size_t p = 0; p < n; p++) m[p] = r > 0 ? (u[p] - u[a]) / r : 0;
  if (lo) *lo = a;
  if (hi) *hi = b;
  return r;
}

/* z = x .* m, m one value per pixel (H W = hw), every channel. */
static void apply_mask(const double *x, const double *m, size_t n, size_t hw, double *z)
{
  for (size_t i = 0; i < n; i++) z[i] = x[i] * m[i % hw];
}

static int scorecam(attr_ctx *a, const double *x, int target, const double *A, int K, int h, int w, double *cam, cb_error *err)
{
  int C, H, W, rc = CB_OK;
  size_t hw = (size_t)h * (size_t)w, HW, n = a->n, no = a->no, q = 0;
  double *U, *m, *s, mx = -INFINITY, tot = 0;
  attr_image(a->net, &C, &H, &W);
  HW = (size_t)H * (size_t)W;
  if (!(U = cb_alloc(((size_t)K * HW + HW + (size_t)K) * sizeof *U))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  m = U + (size_t)K * HW;
  s = m + HW;
  upsample_all(A, K, h, w, H, W, U);
  for (int k = 0; k < K; k++) {
    minmax_norm(U + (size_t)k * HW, HW, m, NULL, NULL);
    apply_mask(x, m, n, HW, a->batch + q * n);
    if (++q < ATTR_BATCH && k + 1 < K) continue;
    if ((rc = attr_forward(a, a->batch, q, a->ybatch, err)) != CB_OK) goto out;
    for (size_t r = 0; r < q; r++) {   /* softmax(f)_c, stably */
      const double *y = a->ybatch + r * no;
      double ym = y[0], z = 0;
      for (size_t j = 1; j < no; j++) ym = fmax(ym, y[j]);
      for (size_t j = 0; j < no; j++) z += exp(y[j] - ym);
      s[(size_t)k + 1 - q + r] = exp(y[target] - ym) / z;
      if (!isfinite(s[(size_t)k + 1 - q + r])) { rc = cb_error_set(err, CB_EVALUE, "scorecam: a masked score is not finite"); goto out; }
    }
    q = 0;
  }
  for (int k = 0; k < K; k++) mx = fmax(mx, s[k]);
  for (int k = 0; k < K; k++) tot += (s[k] = exp(s[k] - mx));
  memset(cam, 0, hw * sizeof *cam);
  for (int k = 0; k < K; k++)
    for (size_t p = 0; p < hw; p++) cam[p] += s[k] / tot * A[(size_t)k * hw + p];
  for (size_t p = 0; p < hw; p++) cam[p] = fmax(cam[p], 0);
out:
  cb_free(U);
  return rc;
}

/* Opti-CAM: writes the final mask M(w) (H x W) to mask. */
static int opticam(attr_ctx *a, const double *x, int target, const double *A, int K, int h, int w, double *mask, cb_error *err)
{
  int C, H, W, rc = CB_OK;
  size_t HW, n = a->n, lo, hi;
  double *U, *wt, *al, *mo, *ve, *S, *gM, *gw, b1t = 1, b2t = 1;
  const double b1 = 0.9, b2 = 0.999, lr = a->opt.lr;
  attr_image(a->net, &C, &H, &W);
  HW = (size_t)H * (size_t)W;
  if (!(U = cb_calloc((size_t)K * HW + 3 * HW + 5 * (size_t)K, sizeof *U))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  S = U + (size_t)K * HW; gM = S + HW; wt = gM + HW; al = wt + K; mo = al + K; ve = mo + K; gw = ve + K;
  upsample_all(A, K, h, w, H, W, U);
  for (int t = 0; t <= a->opt.steps; t++) {
    double mx = -INFINITY, tot = 0, r, sg = 0, sgm = 0, ga;
    for (int k = 0; k < K; k++) mx = fmax(mx, wt[k]);
    for (int k = 0; k < K; k++) tot += (al[k] = exp(wt[k] - mx));
    for (int k = 0; k < K; k++) al[k] /= tot;
    memset(S, 0, HW * sizeof *S);
    for (int k = 0; k < K; k++)
      for (size_t p = 0; p < HW; p++) S[p] += al[k] * U[(size_t)k * HW + p];
    r = minmax_norm(S, HW, mask, &lo, &hi);
    if (t == a->opt.steps || r <= 0) break;   /* the final mask; a constant S has no gradient */
    apply_mask(x, mask, n, HW, a->t2);
    if ((rc = attr_score(a, a->t2, target, NULL, a->G, err)) != CB_OK) break;
    /* dF/dM_p = sum over channels of x_i g_i; then through the normalisation */
    memset(gM, 0, HW * sizeof *gM);
    for (size_t i = 0; i < n; i++) gM[i % HW] += x[i] * a->G[i];
    for (size_t p = 0; p < HW; p++) { sg += gM[p]; sgm += gM[p] * mask[p]; }
    for (size_t p = 0; p < HW; p++) gM[p] /= r;          /* dF/dS_q = gM_q / r ... */
    gM[lo] += -sg / r + sgm / r;                          /* ... - [q = lo] (sum g - sum g m) / r */
    gM[hi] -= sgm / r;                                    /* ... - [q = hi] sum g m / r */
    ga = 0;
    for (int k = 0; k < K; k++) {
      double d = 0;
      for (size_t p = 0; p < HW; p++) d += gM[p] * U[(size_t)k * HW + p];
      gw[k] = d;
      ga += al[k] * d;
    }
    b1t *= b1; b2t *= b2;
    for (int k = 0; k < K; k++) {   /* ascent: Adam on -F */
      double g = -(al[k] * (gw[k] - ga));
      mo[k] = b1 * mo[k] + (1 - b1) * g;
      ve[k] = b2 * ve[k] + (1 - b2) * g * g;
      wt[k] -= lr * (mo[k] / (1 - b1t)) / (sqrt(ve[k] / (1 - b2t)) + 1e-8);
    }
  }
  cb_free(U);
  return rc;
}

int attr_cam_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err)
{
  const cb_conv *g = &a->net->node[a->cam_node].p.conv.g;
  int K = (int)g->cout, h = (int)g->hout, w = (int)g->wout, C, H, W, rc;
  size_t hw = (size_t)h * (size_t)w;
  const double *A, *dA;
  double *cam;
  if ((rc = attr_score(a, x, target, NULL, a->G, err)) != CB_OK) return rc;
  A = grad_value(a->g, a->cam_node);
  dA = grad_adjoint(a->g, a->cam_node);
  if (a->opt.method == AM_SCORECAM || a->opt.method == AM_OPTICAM) {
    double *Ac;
    attr_image(a->net, &C, &H, &W);
    if (!(Ac = cb_alloc(((size_t)K * hw + hw + (size_t)H * (size_t)W) * sizeof *Ac))) return cb_error_set(err, CB_ENOMEM, "out of memory");
    memcpy(Ac, A, (size_t)K * hw * sizeof *Ac);   /* the next forward passes overwrite A */
    cam = Ac + (size_t)K * hw;
    if (a->opt.method == AM_SCORECAM) rc = scorecam(a, x, target, Ac, K, h, w, cam, err);
    else rc = opticam(a, x, target, Ac, K, h, w, cam + hw, err);
    if (rc == CB_OK)
      for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++)
          for (int j = 0; j < W; j++)
            map[((size_t)c * (size_t)H + (size_t)i) * (size_t)W + (size_t)j] =
              a->opt.method == AM_SCORECAM ? attr_cam_upsample(cam, h, w, H, W, i, j) : cam[hw + (size_t)i * (size_t)W + (size_t)j];
    cb_free(Ac);
    return rc;
  }
  if (!(cam = cb_calloc(hw, sizeof *cam))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  for (int k = 0; k < K; k++) {
    const double *Ak = A + (size_t)k * hw, *Gk = dA + (size_t)k * hw;
    double al = 0, s3 = 0;
    if (a->opt.method == AM_GRADCAM) { for (size_t p = 0; p < hw; p++) al += Gk[p]; al /= (double)hw; }
    else {
      for (size_t p = 0; p < hw; p++) s3 += Ak[p] * Gk[p] * Gk[p] * Gk[p];
      for (size_t p = 0; p < hw; p++) {
        double g2 = Gk[p] * Gk[p], den = 2 * g2 + s3;
        if (den != 0) al += g2 / den * fmax(Gk[p], 0);
      }
    }
    for (size_t p = 0; p < hw; p++) cam[p] += al * Ak[p];
  }
  for (size_t p = 0; p < hw; p++) cam[p] = fmax(cam[p], 0);
  attr_image(a->net, &C, &H, &W);
  for (int c = 0; c < C; c++)
    for (int i = 0; i < H; i++)
      for (int j = 0; j < W; j++) map[((size_t)c * (size_t)H + (size_t)i) * (size_t)W + (size_t)j] = attr_cam_upsample(cam, h, w, H, W, i, j);
  cb_free(cam);
  return CB_OK;
}
