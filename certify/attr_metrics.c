/*
** Attribution metrics.
**   AverageStability (Xplique, after Bhatt et al. 2020): at x, the mean over
**     K neighbours y = x + e, e ~ U([0, r])^n (seeded), of ||map(y) - map(x)||_p,
**     p = 1 or 2; the dataset value is the mean over samples.
**   Deletion / Insertion (Petsiuk et al. 2018): features sorted by decreasing
**     attribution (ties by index); at step t of T the first round(t n / T) are
**     set to the baseline constant (deletion, from x) or to x (insertion, from
**     the baseline); the AUC of f_c over t/T in [0, 1] by the trapezoid rule.
**   MuFidelity (Bhatt et al. 2020; Xplique's grid version): see attr.h.
** Cost: K maps (stability), T + 1 forwards (deletion/insertion), N + 1
** forwards (MuFidelity).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "attr.h"

int attr_stability(attr_ctx *a, const double *x, int target, const double *map, double r, int K, int p,
                   uint64_t seed, double *out, cb_error *err)
{
  size_t n = a->n, nm = a->nm;
  double *y = cb_alloc(2 * n * sizeof *y), *my, acc = 0;
  int rc = CB_OK;
  if (!y) return cb_error_set(err, CB_ENOMEM, "out of memory");
  if (K < 1 || !(r >= 0) || !isfinite(r) || (p != 1 && p != 2)) { cb_free(y); return cb_error_set(err, CB_EUSAGE, "stability needs K >= 1, a radius >= 0 and p = 1 or 2"); }
  my = y + n;
  for (int k = 0; k < K && rc == CB_OK; k++) {
    double d = 0;
    for (size_t i = 0; i < n; i++) y[i] = x[i] + r * attr_rng_unit(&seed);
    if ((rc = attr_map(a, y, target, my, err)) != CB_OK) break;
    for (size_t i = 0; i < nm; i++) { double e = fabs(my[i] - map[i]); d += p == 1 ? e : e * e; }
    acc += p == 1 ? d : sqrt(d);
  }
  if (rc == CB_OK) *out = acc / K;
  cb_free(y);
  return rc;
}

static const double *g_sort_map;
static int by_map_desc(const void *pa, const void *pb)
{
  int i = *(const int *)pa, j = *(const int *)pb;
  double u = g_sort_map[i], v = g_sort_map[j];
  return u > v ? -1 : u < v ? 1 : (i > j) - (i < j);
}

int attr_deletion_auc(attr_ctx *a, const double *x, int target, const double *map, int insert, int steps,
                      double *auc, cb_error *err)
{
  size_t n = a->n, nm = a->nm, done = 0;
  int *ord = cb_alloc(nm * sizeof *ord), rc = CB_OK;
  double *z = a->t2, prev = 0, f;
  if (!ord) return cb_error_set(err, CB_ENOMEM, "out of memory");
  if (steps < 1) { cb_free(ord); return cb_error_set(err, CB_EUSAGE, "deletion needs steps >= 1"); }
  for (size_t i = 0; i < n; i++) z[i] = insert ? a->opt.baseline : x[i];
  for (size_t i = 0; i < nm; i++) ord[i] = (int)i;
  /* qsort with a file-scope key: called by one thread at a time per map. */
#pragma omp critical(attr_sort)
  { g_sort_map = map; qsort(ord, nm, sizeof *ord, by_map_desc); }
  *auc = 0;
  for (int t = 0; t <= steps && rc == CB_OK; t++) {
    size_t upto = (size_t)floor((double)t * (double)nm / steps + 0.5);
    for (; done < upto; done++)      /* a reduced map's entry moves every channel of its pixel */
      for (size_t i = (size_t)ord[done]; i < n; i += nm == n ? n : nm) z[i] = insert ? x[i] : a->opt.baseline;
    if ((rc = attr_score(a, z, target, &f, NULL, err)) != CB_OK) break;
    if (t) *auc += 0.5 * (prev + f) / steps;
    prev = f;
  }
  cb_free(ord);
  return rc;
}

int attr_mufidelity(attr_ctx *a, const double *x, int target, const double *map, int g, double frac, int N,
                    uint64_t seed, double *out, cb_error *err)
{
  int c, h, w, rc = CB_OK;
  size_t n = a->n;
  double f0, f, *z = a->t2, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  unsigned char cell[64 * 64];
  if (N < 2 || g < 1 || !(frac > 0 && frac < 1)) return cb_error_set(err, CB_EUSAGE, "MuFidelity needs N >= 2, grid >= 1 and 0 < frac < 1");
  attr_image(a->net, &c, &h, &w);
  if (g > h) g = h;
  if (g > w) g = w;
  if (g > 64) g = 64;
  if ((rc = attr_score(a, x, target, &f0, NULL, err)) != CB_OK) return rc;
  for (int t = 0; t < N; t++) {
    double s = 0, drop;
    for (int k = 0; k < g * g; k++) cell[k] = attr_rng_unit(&seed) < frac;
    for (size_t i = 0; i < n; i++) {
      size_t p = i % ((size_t)h * (size_t)w);
      int ci = (int)(p / (size_t)w) * g / h, cj = (int)(p % (size_t)w) * g / w, in = cell[ci * g + cj];
      z[i] = in ? a->opt.baseline : x[i];
      if (in && i < a->nm) s += map[i];    /* a reduced map has one entry per pixel */
    }
    if ((rc = attr_score(a, z, target, &f, NULL, err)) != CB_OK) return rc;
    drop = f0 - f;
    sa += s; sb += drop; saa += s * s; sbb += drop * drop; sab += s * drop;
  }
  {
    double ma = sa / N, mb = sb / N, va = saa / N - ma * ma, vb = sbb / N - mb * mb, cov = sab / N - ma * mb;
    *out = va > 0 && vb > 0 ? cov / sqrt(va * vb) : 0;
  }
  return CB_OK;
}
