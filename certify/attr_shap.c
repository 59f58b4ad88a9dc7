/*
** KernelSHAP (Lundberg & Lee 2017) of the score f_c over feature groups.
**
** Groups: the cells of a P x P grid over the image (--patch P, default 1:
** one group per pixel, all channels together), M groups.  The value of a
** coalition S is v(S) = f_c(z_S), z_S = x on the groups of S and the
** baseline (the IG baseline: a constant or a vector) elsewhere.
**   M <= 12   exact Shapley values by enumeration of the 2^M coalitions:
**             phi_g = sum_{S not containing g} |S|! (M - |S| - 1)! / M! (v(S + g) - v(S))
**   M > 12    KernelSHAP: N (--samples, default 2000) coalitions drawn with
**             the Shapley kernel's size distribution p(s) ~ (M - 1) / (s (M - s)),
**             s = 1..M-1, each with its complement (paired sampling), seeded;
**             phi = argmin sum_n (v(S_n) - v(0) - sum_{g in S_n} phi_g)^2
**             subject to sum_g phi_g = v(all) - v(0) (eliminating phi_M, the
**             normal equations A^T A (dsyrk) solved by Cholesky (dposv);
**             when they are singular or nearly (the factor's diagonal ratio
**             squared below 1e-12), LAPACK's minimum-norm least squares
**             (dgelsd, singular values below 1e-6 of the largest dropped)).
** The map gives each feature of group g the value phi_g / |g|, so the map
** sums to f_c(x) - f_c(baseline) (efficiency).  Forward passes go in
** batches of ATTR_BATCH through attr_forward (the context's forward workspace) (dgemm).  Cost: 2^M
** forwards (exact) or N + 2 (sampled) plus an (M-1)^2 N / 2 product (dsyrk)
** and an (M-1)^3 / 3 Cholesky.
*/
#include <math.h>
#include <string.h>
#include "attr.h"
#include "linalg.h"

/* Group of feature (c, i, j): its grid cell. */
static size_t group_of(const attr_ctx *a, int i, int j, int gw)
{
  int P = a->opt.patch;
  return (size_t)(i / P) * (size_t)gw + (size_t)(j / P);
}

/* Scores v(S) of k coalitions (masks: k x M bytes) into v. */
static int values(attr_ctx *a, const double *x, const double *b, const unsigned char *masks, size_t k, size_t M,
                  const size_t *grp, int target, double *v, cb_error *err)
{
  size_t n = a->n;
  for (size_t s = 0; s < k; s += ATTR_BATCH) {
    size_t m = k - s < ATTR_BATCH ? k - s : ATTR_BATCH;
    int rc;
    for (size_t r = 0; r < m; r++) {
      const unsigned char *z = masks + (s + r) * M;
      double *row = a->batch + r * n;
      for (size_t e = 0; e < n; e++) row[e] = z[grp[e]] ? x[e] : b[e];
    }
    if ((rc = attr_forward(a, a->batch, m, a->ybatch, err)) != CB_OK) return rc;
    for (size_t r = 0; r < m; r++) {
      v[s + r] = a->ybatch[r * a->no + (size_t)target];
      if (!isfinite(v[s + r])) return cb_error_set(err, CB_EVALUE, "kernelshap: a coalition's score is not finite");
    }
  }
  return CB_OK;
}

/* Exact Shapley values: all 2^M coalitions. */
static int exact(attr_ctx *a, const double *x, const double *b, size_t M, const size_t *grp, int target, double *phi, cb_error *err)
{
  size_t K = (size_t)1 << M;
  unsigned char *mk = cb_alloc(K * M);
  double *v = cb_alloc(K * sizeof *v), w[13], f = 1;
  int rc = CB_OK;
  if (!mk || !v) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  for (size_t s = 0; s < K; s++) for (size_t g = 0; g < M; g++) mk[s * M + g] = (unsigned char)((s >> g) & 1);
  if ((rc = values(a, x, b, mk, K, M, grp, target, v, err)) != CB_OK) goto out;
  for (size_t s = 2; s <= M; s++) f *= (double)s;   /* M! */
  for (size_t s = 0; s < M; s++) {                  /* s! (M - s - 1)! / M! */
    double t = 1;
    for (size_t q = 2; q <= s; q++) t *= (double)q;
    for (size_t q = 2; q + s + 1 <= M; q++) t *= (double)q;
    w[s] = t / f;
  }
  for (size_t g = 0; g < M; g++) {
    double sum = 0;
    for (size_t s = 0; s < K; s++)
      if (!((s >> g) & 1)) sum += w[__builtin_popcountll((unsigned long long)s)] * (v[s | ((size_t)1 << g)] - v[s]);
    phi[g] = sum;
  }
out:
  cb_free(mk);
  cb_free(v);
  return rc;
}

/* Draws N coalitions (pairs S, complement) into mk (N x M). */
static void draw(attr_ctx *a, size_t M, size_t N, unsigned char *mk, size_t *perm)
{
  uint64_t rs = a->opt.seed * 0x2545F4914F6CDD1Dull + 7;
  double tot = 0, cdf;
  for (size_t s = 1; s < M; s++) tot += (double)(M - 1) / (double)(s * (M - s));
  for (size_t r = 0; r + 1 < N; r += 2) {
    double u = attr_rng_unit(&rs) * tot;
    size_t s = 1;
    for (cdf = (double)(M - 1) / (double)(M - 1); s + 1 < M && cdf < u; ) { s++; cdf += (double)(M - 1) / (double)(s * (M - s)); }
    for (size_t g = 0; g < M; g++) perm[g] = g;
    memset(mk + r * M, 0, M);
    for (size_t q = 0; q < s; q++) {   /* partial Fisher-Yates */
      size_t j = q + (size_t)(attr_rng_unit(&rs) * (double)(M - q)), t;
      if (j >= M) j = M - 1;
      t = perm[q]; perm[q] = perm[j]; perm[j] = t;
      mk[r * M + perm[q]] = 1;
    }
    for (size_t g = 0; g < M; g++) mk[(r + 1) * M + g] = (unsigned char)!mk[r * M + g];
  }
}

/* Constrained least squares of the sampled coalitions (see the header). */
static int regress(const unsigned char *mk, const double *v, size_t N, size_t M, double v0, double v1, double *phi, cb_error *err)
{
  size_t p = M - 1;
  double *A = cb_alloc((N * p + p * p + p + N) * sizeof *A), *G, *rhs, *t, dmin = INFINITY, dmax = 0;
  int rc;
  if (!A) return cb_error_set(err, CB_ENOMEM, "out of memory");
  G = A + N * p; rhs = G + p * p; t = rhs + p;
  for (size_t r = 0; r < N; r++) {
    double zl = mk[r * M + p];
    for (size_t g = 0; g < p; g++) A[r * p + g] = mk[r * M + g] - zl;
    t[r] = v[r] - v0 - zl * (v1 - v0);
  }
  la_gram(A, N, p, G);   /* normal equations: G = A^T A (dsyrk), rhs = A^T t, Cholesky (dposv) */
  la_gemm(1, 0, p, 1, N, 1.0, A, p, t, 1, 0.0, rhs, 1);
  memcpy(phi, rhs, p * sizeof *phi);
  rc = la_posv(G, p, phi, 1);
  for (size_t g = 0; rc == CB_OK && g < p; g++) { dmin = fmin(dmin, fabs(G[g * p + g])); dmax = fmax(dmax, fabs(G[g * p + g])); }
  if (rc == CB_EVALUE || (rc == CB_OK && !(dmin * dmin > 1e-12 * dmax * dmax))) {
    /* not positive definite, or nearly singular (the Cholesky factor's diagonal
       ratio squared below 1e-12): the minimum-norm solution (dgelsd, singular
       values below 1e-6 of the largest, eigenvalues of G below 1e-12, dropped) */
    rc = la_lstsq(A, N, p, t, 1e-6, phi);
  }
  if (rc != CB_OK) { cb_free(A); return cb_error_set(err, rc, "kernelshap: the least-squares fit failed"); }
  phi[p] = v1 - v0;
  for (size_t g = 0; g < p; g++) phi[p] -= phi[g];
  cb_free(A);
  return CB_OK;
}

int attr_shap_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err)
{
  size_t n = a->n, hw = (size_t)a->ih * (size_t)a->iw, M, N = (size_t)a->opt.samples * 2, *grp = NULL, *cnt = NULL, *perm = NULL;
  int P = a->opt.patch, gh = (a->ih + P - 1) / P, gw = (a->iw + P - 1) / P, rc = CB_OK;
  double *b = a->t1, *phi = NULL, *v = NULL, ends[2];
  unsigned char *mk = NULL, e2[2];
  M = (size_t)gh * (size_t)gw;
  attr_ig_baseline(a, x, 0, b);
  grp = cb_alloc((n + 2 * M) * sizeof *grp);
  phi = cb_alloc(M * sizeof *phi);
  if (!grp || !phi) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  cnt = grp + n; perm = cnt + M;
  memset(cnt, 0, M * sizeof *cnt);
  for (size_t e = 0; e < n; e++) {
    size_t p = e % hw;
    grp[e] = group_of(a, (int)(p / (size_t)a->iw), (int)(p % (size_t)a->iw), gw);
    cnt[grp[e]]++;
  }
  if (M <= 12) { if ((rc = exact(a, x, b, M, grp, target, phi, err)) != CB_OK) goto out; }
  else {
    mk = cb_alloc(N * M);
    v = cb_alloc(N * sizeof *v);
    if (!mk || !v) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
    draw(a, M, N, mk, perm);
    if ((rc = values(a, x, b, mk, N, M, grp, target, v, err)) != CB_OK) goto out;
    e2[0] = 0; e2[1] = 1;
    {   /* v(empty), v(all) */
      unsigned char *ee = cb_alloc(2 * M);
      if (!ee) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
      memset(ee, e2[0], M); memset(ee + M, e2[1], M);
      rc = values(a, x, b, ee, 2, M, grp, target, ends, err);
      cb_free(ee);
      if (rc != CB_OK) goto out;
    }
    la_single_begin();   /* the same bits for any BLAS thread count (as the CLI's one thread per row) */
    rc = regress(mk, v, N, M, ends[0], ends[1], phi, err);
    la_single_end();
    if (rc != CB_OK) goto out;
  }
  for (size_t e = 0; e < n; e++) map[e] = phi[grp[e]] / (double)cnt[grp[e]];
out:
  cb_free(grp);
  cb_free(phi);
  cb_free(mk);
  cb_free(v);
  return rc;
}
