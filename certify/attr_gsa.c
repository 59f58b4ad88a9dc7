/*
** Black-box attributions from masked forward passes, on the image view
** C x H x W (attr_image; a mask value per pixel moves every channel).  A mask
** m in [0, 1] per cell gives the input z = x .* m + (1 - m) .* b, b the
** baseline (--baseline: a constant or a vector, default 0; Xplique's
** "inpainting").
**
**   lime   (Ribeiro et al. 2016) cells: the P x P squares of a grid (--patch
**          P, default 1), M cells.  N (--samples, 500) binary masks, each
**          cell kept with probability 1/2 (seeded).  Sample weight
**          pi(z) = exp(-d^2 / w^2), d = 1 - cos(z, 1) = 1 - sqrt(|z| / M) (the
**          cosine distance to the unmasked input), w = --kernel-width (0.25).
**          Weighted ridge regression with an unpenalised intercept,
**          min sum pi (f_c(z) - b0 - phi . z)^2 + lambda |phi|^2 (lambda =
**          --ridge, 1), solved by Cholesky (dsyrk, dposv) of the M x M normal
**          equations, or of the N x N dual ones when N < M (phi = Z^T
**          (Z Z^T + lambda I)^-1 y, the same solution); ridge 0: LAPACK's
**          minimum-norm least squares (dgelsd, singular values below 1e-6
**          of the largest dropped).
**          Every feature of cell g gets phi_g.
**   sobol  (Fel et al. 2021) total-order Sobol indices of the G x G cells
**          (--grid G, default 8; each side capped at the image's, so a
**          flat 1 x n input gets 1 x min(G, n) cells; cell of pixel (i, j):
**          (i gh / H, j gw / W), nearest upsampling).  Quasi-Monte-Carlo
**          design: N (--samples, default 32, a power of two) points of a
**          2M-dimensional Sobol' sequence (M cells) (Gray-code construction,
**          primitive polynomials over GF(2) in increasing order, initial
**          direction numbers drawn once from a fixed splitmix64 stream, not
**          Joe-Kuo's: the numbers differ from Xplique's) give the matrices A
**          (first M coordinates) and B (the rest); C_i is A with column i
**          from B.  A random digital shift from --seed (seed 0: none)
**          randomises the design.  Jansen's estimator:
**            ST_i = sum_n (f(A_n) - f(C_i,n))^2 / (2 N var(f(A))),
**          var with N - 1, floored at 1e-12.  N (M + 1) forwards (B itself
**          is not evaluated: Jansen's estimator does not use it).
**   hsic   (Novello et al. 2022) G x G cells as sobol; N (--samples, 500)
**          binary masks: the Sobol' points (digitally shifted by --seed)
**          thresholded at 1/2.  With Y the N scores, L_ab = exp(-(Y_a -
**          Y_b)^2 / (2 s^2)), s the median of Y (linear interpolation; the
**          standard deviation of Y when the median is 0, and 1 when both
**          are), H = I - 11^T / N, and the input kernel 1 + (1/2 - (z_a -
**          z_b)^2) of Xplique's BinaryEstimator:
**            HSIC_i = tr(K_i H L H) / N = 2 z_i^T (H L H) z_i / N
**          (z_i the N values of cell i; exact rewriting, the constant part
**          of K_i vanishes against H L H), one N x N by N x M product.
** Forward passes go GSA_BATCH at a time through attr_forward (the context's forward workspace) (dgemm).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "attr.h"
#include "linalg.h"

/* 128: batch 256 runs ~15x slower per sample on digits_cnn (bench/perturb.c) */
#define GSA_BATCH 128

/* ---- Sobol' sequence -------------------------------------------------------- */

/* x^e mod p over GF(2), p of degree s <= 30. */
static uint64_t gf2_mulmod(uint64_t a, uint64_t b, uint64_t p, int s)
{
  uint64_t r = 0;
  while (b) {
    if (b & 1) r ^= a;
    b >>= 1;
    a <<= 1;
    if (a >> s & 1) a ^= p;
  }
  return r;
}

static uint64_t gf2_powx(uint64_t e, uint64_t p, int s)
{
  uint64_t r = 1, b = 2;
  if (s == 1) b = 2 ^ p;   /* x mod (x + 1) = 1 */
  while (e) {
    if (e & 1) r = gf2_mulmod(r, b, p, s);
    b = gf2_mulmod(b, b, p, s);
    e >>= 1;
  }
  return r;
}

/* 1 if p (degree s, bit s set) is primitive: x has order exactly 2^s - 1
   modulo p (x^ord = 1 and x^(ord/q) != 1 for every prime q of ord). */
static int gf2_primitive(uint64_t p, int s)
{
  uint64_t ord = ((uint64_t)1 << s) - 1, q = ord;
  if (!(p & 1) || gf2_powx(ord, p, s) != 1) return 0;
  for (uint64_t f = 2; f * f <= q; f++) {
    if (q % f) continue;
    if (gf2_powx(ord / f, p, s) == 1) return 0;
    while (q % f == 0) q /= f;
  }
  return !(q > 1 && gf2_powx(ord / q, p, s) == 1);
}

/* Points (N x D, row-major, in [0, 1)) of a D-dimensional Sobol' sequence,
   digitally shifted by the seed (0: unshifted).  0 on OOM. */
static int sobol_points(size_t D, size_t N, uint64_t seed, double *u)
{
  uint32_t *V = cb_alloc(D * 32 * sizeof *V), *X = cb_calloc(D, sizeof *X), *sh = cb_calloc(D, sizeof *sh);
  uint64_t p = 1, dir = 0x5EED50B01ull;
  int s = 0;
  if (!V || !X || !sh) { cb_free(V); cb_free(X); cb_free(sh); return 0; }
  for (int k = 0; k < 32; k++) V[k] = (uint32_t)1 << (31 - k);   /* dimension 0: van der Corput */
  for (size_t d = 1; d < D; d++) {
    uint32_t m[32];
    do {   /* the next primitive polynomial */
      p += 2;
      if (p >> (s + 1)) { s++; p = ((uint64_t)1 << s) | 1; }
    } while (s < 1 || !gf2_primitive(p, s));
    for (int k = 0; k < s && k < 32; k++) m[k] = (uint32_t)((attr_rng_next(&dir) % ((uint64_t)1 << k)) * 2 + 1);
    for (int k = s; k < 32; k++) {
      uint32_t v = m[k - s] ^ (m[k - s] << s);
      for (int j = 1; j < s; j++)
        if (p >> (s - j) & 1) v ^= m[k - j] << j;
      m[k] = v;
    }
    for (int k = 0; k < 32; k++) V[d * 32 + (size_t)k] = m[k] << (31 - k);
  }
  if (seed)
    for (size_t d = 0; d < D; d++) { uint64_t t = seed * 0x9E3779B97F4A7C15ull + d; sh[d] = (uint32_t)(attr_rng_next(&t) >> 32); }
  for (size_t i = 0; i < N; i++) {
    if (i) {
      int c = __builtin_ctzll((unsigned long long)i);
      for (size_t d = 0; d < D; d++) X[d] ^= V[d * 32 + (size_t)c];
    }
    for (size_t d = 0; d < D; d++) u[i * D + d] = (double)(X[d] ^ sh[d]) * 0x1p-32;
  }
  cb_free(V); cb_free(X); cb_free(sh);
  return 1;
}

/* ---- masked scores ---------------------------------------------------------- */

typedef struct gsa {
  attr_ctx *a;
  const double *x, *b;
  const size_t *cell;       /* n: the cell of each feature */
  size_t M;                 /* cells */
  double *batch, *yb;       /* GSA_BATCH x n, GSA_BATCH x no */
} gsa;

/* v[r] = f_c(x .* m_r + (1 - m_r) .* b) for the k masks (k x M). */
static int scores(gsa *g, const double *masks, size_t k, int target, double *v, cb_error *err)
{
  attr_ctx *a = g->a;
  size_t n = a->n;
  for (size_t s = 0; s < k; s += GSA_BATCH) {
    size_t q = k - s < GSA_BATCH ? k - s : GSA_BATCH;
    int rc;
    for (size_t r = 0; r < q; r++) {
      const double *m = masks + (s + r) * g->M;
      double *z = g->batch + r * n;
      for (size_t e = 0; e < n; e++) { double t = m[g->cell[e]]; z[e] = g->x[e] * t + (1 - t) * g->b[e]; }
    }
    if ((rc = attr_forward(a, g->batch, q, g->yb, err)) != CB_OK) return rc;
    for (size_t r = 0; r < q; r++) {
      v[s + r] = g->yb[r * a->no + (size_t)target];
      if (!isfinite(v[s + r])) return cb_error_set(err, CB_EVALUE, "%s: a masked score is not finite", attr_method_name[a->opt.method]);
    }
  }
  return CB_OK;
}

static int lime(gsa *g, int target, double *phi, cb_error *err)
{
  size_t M = g->M, N = (size_t)g->a->opt.samples;
  double *Z = cb_alloc((N * M + 2 * N + M) * sizeof *Z), *y, *pw, *G, *zb, sw = 0, yb = 0, w2;
  uint64_t rs = g->a->opt.seed * 0xD1B54A32D192ED03ull + 3;
  int rc;
  if (!Z) return cb_error_set(err, CB_ENOMEM, "out of memory for LIME (%zu samples x %zu cells)", N, M);
  y = Z + N * M; pw = y + N; zb = pw + N;
  for (size_t r = 0; r < N; r++) {
    size_t on = 0;
    for (size_t c = 0; c < M; c++) on += (Z[r * M + c] = attr_rng_unit(&rs) < 0.5 ? 1 : 0) != 0;
    w2 = 1 - sqrt((double)on / (double)M);
    pw[r] = exp(-w2 * w2 / (g->a->opt.kernel_width * g->a->opt.kernel_width));
  }
  if ((rc = scores(g, Z, N, target, y, err)) != CB_OK) { cb_free(Z); return rc; }
  memset(zb, 0, M * sizeof *zb);
  for (size_t r = 0; r < N; r++) { sw += pw[r]; yb += pw[r] * y[r]; for (size_t c = 0; c < M; c++) zb[c] += pw[r] * Z[r * M + c]; }
  yb /= sw;
  for (size_t c = 0; c < M; c++) zb[c] /= sw;
  for (size_t r = 0; r < N; r++) {   /* centred rows scaled by sqrt(pi) */
    double s = sqrt(pw[r]);
    for (size_t c = 0; c < M; c++) Z[r * M + c] = (Z[r * M + c] - zb[c]) * s;
    y[r] = (y[r] - yb) * s;
  }
  if (g->a->opt.ridge > 0 && N < M) {
    /* fewer samples than cells: the dual form phi = Z^T (Z Z^T + ridge I)^-1 y
       (the same ridge solution; N x N instead of M x M): dsyrk, dposv, one product */
    double *K = cb_alloc((N * N + N) * sizeof *K), *al;
    if (!K) { cb_free(Z); return cb_error_set(err, CB_ENOMEM, "out of memory for LIME (%zu samples)", N); }
    al = K + N * N;
    la_gram_rows(Z, N, M, K);
    for (size_t r = 0; r < N; r++) K[r * N + r] += g->a->opt.ridge;
    memcpy(al, y, N * sizeof *al);
    rc = la_posv(K, N, al, 1);
    if (rc == CB_OK) la_gemm(1, 0, M, 1, N, 1.0, Z, M, al, 1, 0.0, phi, 1);
    cb_free(K);
    cb_free(Z);
    return rc == CB_OK ? CB_OK : cb_error_set(err, rc, "lime: the ridge system is not positive definite");
  }
  if (g->a->opt.ridge > 0) {   /* positive definite: G = Z^T Z + ridge I (dsyrk), Cholesky (dposv) */
    if (!(G = cb_alloc(M * M * sizeof *G))) { cb_free(Z); return cb_error_set(err, CB_ENOMEM, "out of memory for LIME (%zu cells)", M); }
    la_gram(Z, N, M, G);
    la_gemm(1, 0, M, 1, N, 1.0, Z, M, y, 1, 0.0, phi, 1);
    for (size_t c = 0; c < M; c++) G[c * M + c] += g->a->opt.ridge;
    rc = la_posv(G, M, phi, 1);
    cb_free(G);
    cb_free(Z);
    return rc == CB_OK ? CB_OK : cb_error_set(err, rc, "lime: the ridge system is not positive definite");
  }
  /* ridge 0: LAPACK's minimum-norm least squares (dgelsd; singular values below
     1e-6 of the largest, eigenvalues of Z^T Z below 1e-12, dropped) */
  rc = la_lstsq(Z, N, M, y, 1e-6, phi);
  cb_free(Z);
  return rc == CB_OK ? CB_OK : cb_error_set(err, rc, "lime: the least-squares fit failed");
}

static int sobol(gsa *g, int target, double *st, cb_error *err)
{
  size_t d = g->M, N = (size_t)g->a->opt.samples, chunk = N >= 1024 ? 1 : 1024 / N;
  int rc = CB_OK;
  double *u, *mk, *v, mean = 0, var = 0;
  if (chunk > d) chunk = d;
  u = cb_alloc((N * 2 * d + chunk * N * d + N + chunk * N) * sizeof *u);
  if (!u) return cb_error_set(err, CB_ENOMEM, "out of memory for the Sobol design (%zu x %zu)", N, 2 * d);
  mk = u + N * 2 * d;
  v = mk + chunk * N * d;
  if (!sobol_points(2 * d, N, g->a->opt.seed, u)) { cb_free(u); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  for (size_t r = 0; r < N; r++) memcpy(mk + r * d, u + r * 2 * d, d * sizeof *mk);   /* A */
  if ((rc = scores(g, mk, N, target, v, err)) != CB_OK) goto out;
  for (size_t r = 0; r < N; r++) mean += v[r] / (double)N;
  for (size_t r = 0; r < N; r++) var += (v[r] - mean) * (v[r] - mean);
  var = fmax(var / (N > 1 ? (double)(N - 1) : 1.0), 1e-12);
  for (size_t i0 = 0; i0 < d; i0 += chunk) {   /* C_i, chunk of them per batch: A with column i from B */
    size_t ni = d - i0 < chunk ? d - i0 : chunk;
    for (size_t q = 0; q < ni; q++)
      for (size_t r = 0; r < N; r++) {
        double *row = mk + (q * N + r) * d;
        memcpy(row, u + r * 2 * d, d * sizeof *mk);
        row[i0 + q] = u[r * 2 * d + d + i0 + q];
      }
    if ((rc = scores(g, mk, ni * N, target, v + N, err)) != CB_OK) goto out;
    for (size_t q = 0; q < ni; q++) {
      double s = 0;
      for (size_t r = 0; r < N; r++) { double e = v[r] - v[N + q * N + r]; s += e * e; }
      st[i0 + q] = s / (2 * (double)N * var);
    }
  }
out:
  cb_free(u);
  return rc;
}

static int cmp_double(const void *p, const void *q)
{
  double a = *(const double *)p, b = *(const double *)q;
  return (a > b) - (a < b);
}

static int hsic(gsa *g, int target, double *h, cb_error *err)
{
  size_t d = g->M, N = (size_t)g->a->opt.samples;
  double *u = cb_alloc((N * d * 2 + 2 * N * N + 3 * N) * sizeof *u), *L, *LZ, *y, *ys, *rm, s, tot = 0;
  int rc;
  if (!u) return cb_error_set(err, CB_ENOMEM, "out of memory for HSIC (%zu samples x %zu cells)", N, d);
  LZ = u + N * d; L = LZ + N * d; y = L + N * N; ys = y + N; rm = ys + N;
  if (!sobol_points(d, N, g->a->opt.seed, u)) { cb_free(u); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  for (size_t i = 0; i < N * d; i++) u[i] = u[i] >= 0.5 ? 1 : 0;
  if ((rc = scores(g, u, N, target, y, err)) != CB_OK) { cb_free(u); return rc; }
  memcpy(ys, y, N * sizeof *ys);
  qsort(ys, N, sizeof *ys, cmp_double);
  {   /* the median, linear interpolation between the middle order statistics */
    double pos = 0.5 * (double)(N - 1);
    size_t lo = (size_t)pos;
    s = ys[lo] + (pos - (double)lo) * (lo + 1 < N ? ys[lo + 1] - ys[lo] : 0);
  }
  if (s == 0) {
    double m = 0, v = 0;
    for (size_t r = 0; r < N; r++) m += y[r] / (double)N;
    for (size_t r = 0; r < N; r++) v += (y[r] - m) * (y[r] - m) / (double)N;
    s = v > 0 ? sqrt(v) : 1;
  }
  for (size_t a = 0; a < N; a++)
    for (size_t b = 0; b < N; b++) L[a * N + b] = exp(-(y[a] - y[b]) * (y[a] - y[b]) / (2 * s * s));
  for (size_t a = 0; a < N; a++) {   /* H L H: subtract row and column means, add the grand mean */
    double r = 0;
    for (size_t b = 0; b < N; b++) r += L[a * N + b];
    rm[a] = r / (double)N;
    tot += r;
  }
  tot /= (double)N * (double)N;
  for (size_t a = 0; a < N; a++)
    for (size_t b = 0; b < N; b++) L[a * N + b] += tot - rm[a] - rm[b];
  la_gemm(0, 0, N, d, N, 1.0, L, N, u, d, 0.0, LZ, d);
  for (size_t i = 0; i < d; i++) {
    double q = 0;
    for (size_t r = 0; r < N; r++) q += u[r * d + i] * LZ[r * d + i];
    h[i] = 2 * q / (double)N;
  }
  cb_free(u);
  return CB_OK;
}

int attr_gsa_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err)
{
  size_t n = a->n, hw = (size_t)a->ih * (size_t)a->iw, *cell, M;
  int H = a->ih, W = a->iw, gh = a->opt.grid < H ? a->opt.grid : H, gw = a->opt.grid < W ? a->opt.grid : W, P = a->opt.patch, rc;
  double *phi, *b = a->t1;
  gsa g;
  if (a->opt.method == AM_LIME) M = (size_t)((H + P - 1) / P) * (size_t)((W + P - 1) / P);
  else M = (size_t)gh * (size_t)gw;
  if (a->opt.method == AM_SOBOL && M > 4096) return cb_error_set(err, CB_EUSAGE, "sobol: %zu cells, at most 4096", M);
  cell = cb_alloc(n * sizeof *cell);
  phi = cb_alloc((M + (size_t)GSA_BATCH * (n + a->no)) * sizeof *phi);
  if (!cell || !phi) { cb_free(cell); cb_free(phi); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  for (size_t e = 0; e < n; e++) {
    size_t p = e % hw, i = p / (size_t)W, j = p % (size_t)W;
    if (a->opt.method == AM_LIME) cell[e] = (i / (size_t)P) * (size_t)((W + P - 1) / P) + j / (size_t)P;
    else cell[e] = (i * (size_t)gh / (size_t)H) * (size_t)gw + j * (size_t)gw / (size_t)W;
  }
  attr_ig_baseline(a, x, 0, b);
  g.a = a; g.x = x; g.b = b; g.cell = cell; g.M = M;
  g.batch = phi + M;
  g.yb = g.batch + (size_t)GSA_BATCH * n;
  la_single_begin();   /* the same bits for any BLAS thread count (the CLI runs BLAS on one thread per row) */
  rc = a->opt.method == AM_LIME ? lime(&g, target, phi, err) : a->opt.method == AM_SOBOL ? sobol(&g, target, phi, err)
                                                                                         : hsic(&g, target, phi, err);
  la_single_end();
  if (rc == CB_OK)
    for (size_t e = 0; e < n; e++) map[e] = phi[cell[e]];
  cb_free(cell);
  cb_free(phi);
  return rc;
}
