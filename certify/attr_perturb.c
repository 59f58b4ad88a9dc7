/*
** Perturbation attributions, on the image view C x H x W of the input
** (attr_image; every channel of a pixel moves together):
**   Occlusion  for each P x P patch at stride S: drop = f_c(x) - f_c(x with the
**              patch set to the value v); each feature gets the sum of the drops
**              of the patches covering it (Zeiler & Fergus 2014; Xplique sums).
**   RISE       N binary masks: a (s+1) x (s+1) grid of cells kept with
**              probability p, bilinearly upsampled to cells of side ceil(H/s),
**              shifted by a random offset in [0, cell) and cropped to H x W;
**              map = sum_k f_c(x .* m_k) m_k / (N p)   (Petsiuk et al. 2018).
** Forward passes go in batches of ATTR_BATCH through attr_forward (the context's forward workspace).
** Cost: about (H/S)(W/S) forwards (occlusion), N forwards (RISE).
*/
#include <math.h>
#include <string.h>
#include "attr.h"

/* Scores of the k inputs in a->batch into sc. */
static int batch_scores(attr_ctx *a, size_t k, int target, double *sc, cb_error *err)
{
  int rc = attr_forward(a, a->batch, k, a->ybatch, err);
  if (rc != CB_OK) return rc;
  for (size_t j = 0; j < k; j++) {
    sc[j] = a->ybatch[j * a->no + (size_t)target];
    if (!isfinite(sc[j])) return cb_error_set(err, CB_EVALUE, "a perturbed score is not finite");
  }
  return CB_OK;
}

static int occlusion(attr_ctx *a, const double *x, int target, double *map, cb_error *err)
{
  int c, h, w, P = a->opt.patch, S = a->opt.stride, rc;
  size_t n = a->n, k = 0, npos = 0;
  double f0, sc[ATTR_BATCH];
  int pos[ATTR_BATCH][2];
  attr_image(a->net, &c, &h, &w);
  if (P > h || P > w) return cb_error_set(err, CB_EUSAGE, "occlusion patch %d is larger than the %dx%d image", P, h, w);
  if ((rc = attr_score(a, x, target, &f0, NULL, err)) != CB_OK) return rc;
  memset(map, 0, n * sizeof *map);
  for (int i0 = 0; i0 + P <= h; i0 += S)
    for (int j0 = 0; j0 + P <= w; j0 += S) {
      double *z = a->batch + k * n;
      memcpy(z, x, n * sizeof *z);
      for (int ch = 0; ch < c; ch++)
        for (int i = i0; i < i0 + P; i++)
          for (int j = j0; j < j0 + P; j++) z[((size_t)ch * (size_t)h + (size_t)i) * (size_t)w + (size_t)j] = a->opt.baseline;
      pos[k][0] = i0; pos[k][1] = j0;
      npos++;
      if (++k < ATTR_BATCH && !(i0 + S + P > h && j0 + S + P > w)) continue;
      if ((rc = batch_scores(a, k, target, sc, err)) != CB_OK) return rc;
      for (size_t q = 0; q < k; q++)
        for (int ch = 0; ch < c; ch++)
          for (int i = pos[q][0]; i < pos[q][0] + P; i++)
            for (int j = pos[q][1]; j < pos[q][1] + P; j++) map[((size_t)ch * (size_t)h + (size_t)i) * (size_t)w + (size_t)j] += f0 - sc[q];
      k = 0;
    }
  (void)npos;
  return CB_OK;
}

void attr_rise_mask(int h, int w, int s, double p, uint64_t *rng, double *grid, double *m)
{
  int ch = (h + s - 1) / s, cw = (w + s - 1) / s;
  double dy = attr_rng_unit(rng) * ch, dx = attr_rng_unit(rng) * cw;
  for (int k = 0; k < (s + 1) * (s + 1); k++) grid[k] = attr_rng_unit(rng) < p ? 1 : 0;
  for (int i = 0; i < h; i++)
    for (int j = 0; j < w; j++) {
      double u = (i + dy) / ch, v = (j + dx) / cw;
      int i0 = (int)u, j0 = (int)v;
      double fu = u - i0, fv = v - j0;
      int i1 = i0 + 1 <= s ? i0 + 1 : s, j1 = j0 + 1 <= s ? j0 + 1 : s;
      if (i0 > s) i0 = s;
      if (j0 > s) j0 = s;
      m[i * w + j] = (1 - fu) * ((1 - fv) * grid[i0 * (s + 1) + j0] + fv * grid[i0 * (s + 1) + j1]) +
                     fu * ((1 - fv) * grid[i1 * (s + 1) + j0] + fv * grid[i1 * (s + 1) + j1]);
    }
}

static int rise(attr_ctx *a, const double *x, int target, double *map, cb_error *err)
{
  int c, h, w, s = a->opt.rise_cells, N = a->opt.samples, rc;
  size_t n = a->n, hw, k = 0;
  uint64_t rng = a->opt.seed;
  double sc[ATTR_BATCH], *grid, *masks;
  attr_image(a->net, &c, &h, &w);
  hw = (size_t)h * (size_t)w;
  grid = cb_alloc(((size_t)(s + 1) * (size_t)(s + 1) + ATTR_BATCH * hw) * sizeof *grid);
  if (!grid) return cb_error_set(err, CB_ENOMEM, "out of memory for RISE masks");
  masks = grid + (s + 1) * (s + 1);
  memset(map, 0, n * sizeof *map);
  for (int t = 0; t < N; t++) {
    double *m = masks + k * hw, *z = a->batch + k * n;
    attr_rise_mask(h, w, s, a->opt.rise_p, &rng, grid, m);
    for (size_t i = 0; i < n; i++) z[i] = x[i] * m[i % hw];
    if (++k < ATTR_BATCH && t + 1 < N) continue;
    if ((rc = batch_scores(a, k, target, sc, err)) != CB_OK) { cb_free(grid); return rc; }
    for (size_t q = 0; q < k; q++)
      for (size_t i = 0; i < n; i++) map[i] += sc[q] * masks[q * hw + i % hw];
    k = 0;
  }
  for (size_t i = 0; i < n; i++) map[i] /= N * a->opt.rise_p;
  cb_free(grid);
  return CB_OK;
}

int attr_perturb_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err)
{
  if (a->opt.method == AM_OCCLUSION) return occlusion(a, x, target, map, err);
  if (a->opt.method == AM_RISE) return rise(a, x, target, map, err);
  return cb_error_set(err, CB_EINTERNAL, "attr_perturb_map: not a perturbation method");
}
