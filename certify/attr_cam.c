/*
** Grad-CAM and Grad-CAM++ at a CONV node k with output A [K x h x w] and
** adjoint dA = df_c/dA (lip/grad.c, grad_adjoint):
**   Grad-CAM    a_k = mean_ij dA_kij;  cam = ReLU(sum_k a_k A_k)   (Selvaraju et al. 2017)
**   Grad-CAM++  a_k = sum_ij g_kij ReLU(dA_kij),
**               g = dA^2 / (2 dA^2 + sum_ij A_kij dA^3)  (0 where the
**               denominator is 0)                             (Chattopadhay et al. 2018)
** The h x w map is upsampled bilinearly (half-pixel centres) to the input's
** H x W and copied to every input channel.  Cost: one gradient.
*/
#include <math.h>
#include <string.h>
#include "attr.h"

int attr_cam_node(const cb_net *net, const char *name, int *idx, cb_error *err)
{
  *idx = -1;
  for (int i = 0; i < net->n; i++) {
    if (name && strcmp(net->node[i].name, name)) continue;
    if (name && net->node[i].kind != CB_CONV)
      return cb_error_set(err, CB_EUSAGE, "%s: Grad-CAM node \"%s\" is a %s node, not a CONV", net->path, name, node_kind_name(&net->node[i]));
    if (net->node[i].kind == CB_CONV) *idx = i;
    if (name) break;
  }
  if (*idx >= 0) return CB_OK;
  if (name) return cb_error_set(err, CB_EUSAGE, "%s: no node named \"%s\" for Grad-CAM", net->path, name);
  return cb_error_set(err, CB_EUSAGE, "%s: Grad-CAM needs a CONV node and the network has none", net->path);
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
