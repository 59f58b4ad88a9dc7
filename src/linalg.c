/*
** BLAS wrappers and the implicit convolution (im2col + dgemm).
**
** Convolution layout: x is [cin][hin][win] per sample, W is
** [cout][cin/groups][kh][kw].  For group g, the im2col matrix has
** K = (cin/groups)*kh*kw rows and one column per (sample, output pixel);
** Y_g [cout/groups x cols] = W_g [cout/groups x K] * col [K x cols].
** Samples are processed in chunks so that col and the product stay under
** 256 K doubles (2 MB, about one core's L2): im2col's output is still in cache
** when dgemm reads it, and the per-call buffers stay small (bench/forward.c:
** 2x faster on CIFAR convs than 32 M-double chunks).
*/
#include <cblas.h>
#include <lapacke.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "linalg.h"

void la_sgemm(size_t m, size_t n, size_t k, const float *A, size_t lda, const float *B, size_t ldb, float *C,
              size_t ldc)
{
  if (m == 0 || n == 0) return;
  if (k == 0) { for (size_t r = 0; r < m; r++) memset(C + r * ldc, 0, n * sizeof *C); return; }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, 1.0f, A, (blasint)lda, B,
              (blasint)ldb, 0.0f, C, (blasint)ldc);
}

void la_gemm(int ta, int tb, size_t m, size_t n, size_t k, double alpha, const double *A,
             size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc)
{
  if (m == 0 || n == 0) return;
  if (m == 1 || n == 1) {   /* a matrix-vector product: dgemv, which does not pack the matrix (dgemm
                               copies all of it first: on a PGD gradient step through 256 x 256 layers that
                               copy took 4x the multiply) */
    size_t len = m == 1 ? n : m, inc = m == 1 ? 1 : ldc;
    if (beta == 0) for (size_t i = 0; i < len; i++) C[i * inc] = 0;   /* y is never read, even as NaN * 0 */
    if (m == 1) {   /* C (1 x n) = op(A) (1 x k) op(B) (k x n) */
      blasint incx = ta ? (blasint)lda : 1;
      if (!tb) cblas_dgemv(CblasRowMajor, CblasTrans, (blasint)k, (blasint)n, alpha, B, (blasint)ldb, A, incx, beta, C, 1);
      else cblas_dgemv(CblasRowMajor, CblasNoTrans, (blasint)n, (blasint)k, alpha, B, (blasint)ldb, A, incx, beta, C, 1);
    } else {        /* C (m x 1) = op(A) (m x k) op(B) (k x 1) */
      blasint incx = tb ? 1 : (blasint)ldb;
      if (!ta) cblas_dgemv(CblasRowMajor, CblasNoTrans, (blasint)m, (blasint)k, alpha, A, (blasint)lda, B, incx, beta, C, (blasint)ldc);
      else cblas_dgemv(CblasRowMajor, CblasTrans, (blasint)k, (blasint)m, alpha, A, (blasint)lda, B, incx, beta, C, (blasint)ldc);
    }
    return;
  }
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (blasint)m, (blasint)n, (blasint)k, alpha, A, (blasint)lda, B, (blasint)ldb, beta,
              C, (blasint)ldc);
}

void la_affine_rows(const double *W, const double *b, size_t out, size_t in,
                    const double *X, size_t batch, double *Y)
{
  memcpy(Y, b, out * sizeof *b);  /* every row = b, in log2(batch) doubling copies */
  for (size_t r = 1; r < batch; r *= 2)
    memcpy(Y + r * out, Y, (r < batch - r ? r : batch - r) * out * sizeof *Y);
  if (batch == 1)
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (blasint)out, (blasint)in, 1.0, W, (blasint)in,
                X, 1, 1.0, Y, 1);
  else
    la_gemm(0, 1, batch, out, in, 1.0, X, in, W, in, 1.0, Y, out);
}

void la_affine_cols(const double *W, const double *b, size_t out, size_t in,
                    const double *X, size_t batch, double *Y)
{
  memcpy(Y, b, out * sizeof *b);
  for (size_t r = 1; r < batch; r *= 2)
    memcpy(Y + r * out, Y, (r < batch - r ? r : batch - r) * out * sizeof *Y);
  la_gemm(1, 1, batch, out, in, 1.0, X, batch, W, in, 1.0, Y, out);
}

/* Output columns oj whose input column oj*s + off lies in [0, w): [*j0, *j1), clamped to [0, wout]. */
static void valid_cols(int64_t off, int64_t s, int64_t w, int64_t wout, int64_t *j0, int64_t *j1)
{
  int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s, hi = w - 1 - off < 0 ? 0 : (w - 1 - off) / s + 1;
  if (lo > wout) lo = wout;
  if (hi > wout) hi = wout;
  if (hi < lo) hi = lo;
  *j0 = lo; *j1 = hi;
}

/* One im2col row for kernel tap (ki, kj) of one channel xc: r [hout][wout], pads are 0. */
static void im2col_row(const cb_conv *g, const double *xc, int64_t ki, int64_t kj, double *r)
{
  int64_t off = kj * g->dw - g->pl, j0, j1;
  valid_cols(off, g->sw, g->win, g->wout, &j0, &j1);
  for (int64_t oi = 0; oi < g->hout; oi++, r += g->wout) {
    int64_t ii = oi * g->sh - g->pt + ki * g->dh;
    if (ii < 0 || ii >= g->hin) {
      for (int64_t oj = 0; oj < g->wout; oj++) r[oj] = 0.0;
      continue;
    }
    const double *xr = xc + ii * g->win;
    for (int64_t oj = 0; oj < j0; oj++) r[oj] = 0.0;
    if (g->sw == 1) for (int64_t oj = j0; oj < j1; oj++) r[oj] = xr[oj + off];   /* rows are short: no memcpy call */
    else for (int64_t oj = j0; oj < j1; oj++) r[oj] = xr[oj * g->sw + off];
    for (int64_t oj = j1; oj < g->wout; oj++) r[oj] = 0.0;
  }
}

/* Fills col [K x (nb*P)] for group gi of samples x[0..nb). */
static void im2col(const cb_conv *g, int64_t gi, const double *x, size_t nb, double *col)
{
  int64_t cpg = g->cin / g->groups, P = g->hout * g->wout, hw = g->hin * g->win;
  size_t cols = nb * (size_t)P;
  for (int64_t c = 0; c < cpg; c++)
    for (int64_t ki = 0; ki < g->kh; ki++)
      for (int64_t kj = 0; kj < g->kw; kj++) {
        double *row = col + (size_t)((c * g->kh + ki) * g->kw + kj) * cols;
        for (size_t s = 0; s < nb; s++)
          im2col_row(g, x + s * (size_t)(g->cin * hw) + (size_t)((gi * cpg + c) * hw), ki, kj,
                     row + s * (size_t)P);
      }
}

/* Samples per im2col chunk: the chunk's scratch near CONV_CHUNK doubles. */
#define CONV_CHUNK ((size_t)1 << 16)
#define CONV_BI_MIN 8   /* from this many samples on, the batch-innermost path */

/* Per-sample scratch doubles: the batch-innermost path's transposed input,
   im2col and output (the sample-major path needs less). */
static size_t conv_per_sample(const cb_conv *g)
{
  size_t K = (size_t)(g->cin / g->groups * g->kh * g->kw), P = (size_t)(g->hout * g->wout);
  return (size_t)(g->cin * g->hin * g->win) + K * P + (size_t)g->cout * P;
}

static size_t conv_chunk(const cb_conv *g, size_t batch)
{
  size_t chunk = CONV_CHUNK / conv_per_sample(g);
  if (chunk < CONV_BI_MIN) chunk = CONV_BI_MIN;
  return chunk > batch ? batch : chunk;
}

/* Output pixels per chunk of the whole-batch path (conv_pixel_bi): its im2col
   chunk [K][pixels][batch] near CONV_CHUNK doubles, at least one pixel. */
static size_t conv_pixels(const cb_conv *g, size_t batch)
{
  size_t K = (size_t)(g->cin / g->groups * g->kh * g->kw), P = (size_t)(g->hout * g->wout);
  size_t pc = CONV_CHUNK / (K * batch);
  return pc < 1 ? 1 : pc > P ? P : pc;
}

size_t la_conv_forward_need(const cb_conv *g, size_t batch, int flags)
{
  size_t K = (size_t)(g->cin / g->groups * g->kh * g->kw), isz = (size_t)(g->cin * g->hin * g->win);
  size_t P = (size_t)(g->hout * g->wout), a = conv_per_sample(g) * conv_chunk(g, batch), b, c;
  if (!(flags & CB_CONV_OUT_BI)) return a;
  /* conv_pixel_bi: the moved input (unless IN_BI) and one im2col chunk, K conv_pixels batch
     <= min(max(CONV_CHUNK, K batch), K P batch).  Every term grows with batch, so a
     workspace sized for max_batch holds any smaller chunk, on either path. */
  c = K * batch > CONV_CHUNK ? K * batch : CONV_CHUNK;
  b = ((flags & CB_CONV_IN_BI) ? 0 : isz * batch) + (c < K * P * batch ? c : K * P * batch);
  return a > b ? a : b;
}

int la_conv_forward(const cb_conv *g, const double *W, const double *b, const double *x,
                    size_t batch, double *y)
{
  double *buf = cb_alloc(la_conv_forward_need(g, batch, 0) * sizeof *buf);
  if (!buf) return CB_ENOMEM;
  la_conv_forward_buf(g, W, b, x, batch, y, buf, 0);
  cb_free(buf);
  return CB_OK;
}

/* Sample-major path (few samples): col [K x (nb P)] per group, one dgemm. */
static void conv_sample_major(const cb_conv *g, const double *W, const double *b, const double *x, size_t nb,
                              double *y, double *buf)
{
  size_t K = (size_t)(g->cin / g->groups * g->kh * g->kw), P = (size_t)(g->hout * g->wout);
  size_t opg = (size_t)(g->cout / g->groups), outsz = (size_t)g->cout * P, cols = nb * P;
  double *col = buf, *tmp = buf + K * cols;
  for (int64_t gi = 0; gi < g->groups; gi++) {
    im2col(g, gi, x, nb, col);
    la_gemm(0, 0, opg, cols, K, 1.0, W + (size_t)gi * opg * K, K, col, cols, 0.0, tmp, cols);
    for (size_t s = 0; s < nb; s++)
      for (size_t o = 0; o < opg; o++) {
        size_t co = (size_t)gi * opg + o;
        double *yo = y + s * outsz + co * P;
        const double *t = tmp + o * cols + s * P;
        for (size_t p = 0; p < P; p++) yo[p] = t[p] + b[co];
      }
  }
}

/* t[e nb + s] = x[s m + e] (s < nb, e < m), in blocks of 8 samples. */
static void to_batch_inner(const double *x, size_t nb, size_t m, double *t)
{
  size_t s0 = 0;
  for (; s0 + 8 <= nb; s0 += 8)
    for (size_t e = 0; e < m; e++) {
      double *te = t + e * nb + s0;
      for (size_t s = 0; s < 8; s++) te[s] = x[(s0 + s) * m + e];
    }
  for (; s0 < nb; s0++)
    for (size_t e = 0; e < m; e++) t[e * nb + s0] = x[s0 * m + e];
}

/*
** Batch-innermost path: the input as [c][h][w][sample] (moved there unless
** the caller's x already is: CB_CONV_IN_BI, row length `batch`), so every
** im2col entry is a contiguous run of nb samples (one memcpy per kernel tap
** and output pixel, not one short strided loop per sample), and one dgemm
** per group gives the output as [co][p][sample], moved back to
** [sample][co][p] with the bias, or kept so (CB_CONV_OUT_BI) for a CONV
** that reads it next.  Samples s0 .. s0+nb of a batch of `batch`.
*/
static void conv_batch_inner(const cb_conv *g, const double *W, const double *b, const double *x, size_t s0, size_t nb,
                             size_t batch, double *y, double *buf, int flags)
{
  int64_t cpg = g->cin / g->groups, hw = g->hin * g->win;
  size_t K = (size_t)(cpg * g->kh * g->kw), P = (size_t)(g->hout * g->wout);
  size_t opg = (size_t)(g->cout / g->groups), outsz = (size_t)g->cout * P, isz = (size_t)(g->cin * hw);
  size_t cols = P * nb, rowb = nb * sizeof(double), ld = nb;
  double *xt = buf, *col = xt + isz * nb, *tmp = col + K * cols;
  int relu = flags & CB_CONV_RELU;
  if (flags & CB_CONV_IN_BI) { xt = (double *)(uintptr_t)(x + s0); ld = batch; }
  else to_batch_inner(x + s0 * isz, nb, isz, xt);
  for (int64_t gi = 0; gi < g->groups; gi++) {
    double *dst = col;
    for (int64_t c = 0; c < cpg; c++)
      for (int64_t ki = 0; ki < g->kh; ki++)
        for (int64_t kj = 0; kj < g->kw; kj++)
          for (int64_t oi = 0; oi < g->hout; oi++) {
            int64_t ii = oi * g->sh - g->pt + ki * g->dh;
            for (int64_t oj = 0; oj < g->wout; oj++, dst += nb) {
              int64_t jj = oj * g->sw - g->pl + kj * g->dw;
              if (ii < 0 || ii >= g->hin || jj < 0 || jj >= g->win) memset(dst, 0, rowb);
              else memcpy(dst, xt + (size_t)((gi * cpg + c) * hw + ii * g->win + jj) * ld, rowb);
            }
          }
    la_gemm(0, 0, opg, cols, K, 1.0, W + (size_t)gi * opg * K, K, col, cols, 0.0, tmp + (size_t)gi * opg * cols, cols);
  }
  for (size_t co = 0; co < (size_t)g->cout; co++) {   /* tmp += b[co], then the ReLU: compare-and-mask vectors */
    double *t = tmp + co * cols, bc = b[co];
    if (relu) {
#pragma omp simd
      for (size_t e = 0; e < cols; e++) { double v = t[e] + bc; t[e] = v > 0 ? v : 0; }
    } else {
#pragma omp simd
      for (size_t e = 0; e < cols; e++) t[e] += bc;
    }
  }
  if (flags & CB_CONV_OUT_BI) {   /* y[co][p][s0 + s] = tmp[co][p][s] */
    for (size_t e = 0; e < outsz; e++) memcpy(y + e * batch + s0, tmp + e * nb, rowb);
    return;
  }
  y += s0 * outsz;
  for (size_t q0 = 0; q0 < nb; q0 += 8) {   /* y[s][co][p] = tmp[co][p][s], 8 samples at a time */
    size_t q1 = q0 + 8 < nb ? q0 + 8 : nb;
    for (size_t e = 0; e < outsz; e++) {
      const double *t = tmp + e * nb;
      for (size_t q = q0; q < q1; q++) y[q * outsz + e] = t[q];
    }
  }
}

/*
** Whole-batch path for a batch-innermost output (CB_CONV_OUT_BI): the input
** as [c][h][w][sample] (moved there unless CB_CONV_IN_BI), then per group
** and chunk of output pixels [p0, p1) an im2col [K][p][sample] of every
** sample, and one dgemm that writes y[co][p0..p1)[sample] in place (its
** rows are P batch apart: ldc) onto the bias written there first, then the
** fused ReLU on that chunk while it is in cache.  No output buffer and no
** copy of the output (the bias is added by dgemm's beta = 1, the way
** la_affine_rows adds it).
*/
static void conv_pixel_bi(const cb_conv *g, const double *W, const double *b, const double *x, size_t batch,
                          double *y, double *buf, int flags)
{
  int64_t cpg = g->cin / g->groups, hw = g->hin * g->win;
  size_t K = (size_t)(cpg * g->kh * g->kw), P = (size_t)(g->hout * g->wout);
  size_t opg = (size_t)(g->cout / g->groups), isz = (size_t)(g->cin * hw), pc = conv_pixels(g, batch);
  size_t rowb = batch * sizeof(double);
  const double *xt = x;
  double *col = buf;
  int relu = flags & CB_CONV_RELU;
  if (!(flags & CB_CONV_IN_BI)) { to_batch_inner(x, batch, isz, buf); xt = buf; col = buf + isz * batch; }
  for (int64_t gi = 0; gi < g->groups; gi++)
    for (size_t p0 = 0; p0 < P; p0 += pc) {
      size_t p1 = p0 + pc < P ? p0 + pc : P, cols = (p1 - p0) * batch;
      double *dst = col;
      for (int64_t c = 0; c < cpg; c++)
        for (int64_t ki = 0; ki < g->kh; ki++)
          for (int64_t kj = 0; kj < g->kw; kj++)
            for (size_t p = p0; p < p1; p++, dst += batch) {
              int64_t oi = (int64_t)p / g->wout, oj = (int64_t)p % g->wout;
              int64_t ii = oi * g->sh - g->pt + ki * g->dh, jj = oj * g->sw - g->pl + kj * g->dw;
              if (ii < 0 || ii >= g->hin || jj < 0 || jj >= g->win) memset(dst, 0, rowb);
              else memcpy(dst, xt + (size_t)((gi * cpg + c) * hw + ii * g->win + jj) * batch, rowb);
            }
      double *yc = y + ((size_t)gi * opg * P + p0) * batch;
      for (size_t o = 0; o < opg; o++) {   /* y = b[co], then dgemm adds (beta 1: no zeroing pass) */
        double *t = yc + o * P * batch, bc = b[(size_t)gi * opg + o];
#pragma omp simd
        for (size_t e = 0; e < cols; e++) t[e] = bc;
      }
      la_gemm(0, 0, opg, cols, K, 1.0, W + (size_t)gi * opg * K, K, col, cols, 1.0, yc, P * batch);
      for (size_t o = 0; relu && o < opg; o++) {   /* the ReLU: compare-and-mask vectors */
        double *t = yc + o * P * batch;
#pragma omp simd
        for (size_t e = 0; e < cols; e++) t[e] = t[e] > 0 ? t[e] : 0;
      }
    }
}

void la_conv_forward_buf(const cb_conv *g, const double *W, const double *b, const double *x,
                         size_t batch, double *y, double *buf, int flags)
{
  if ((flags & CB_CONV_OUT_BI) && batch >= CONV_BI_MIN) {
    conv_pixel_bi(g, W, b, x, batch, y, buf, flags);
    return;
  }
  size_t chunk = conv_chunk(g, batch), isz = (size_t)(g->cin * g->hin * g->win);
  size_t outsz = (size_t)(g->cout * g->hout * g->wout);
  for (size_t s0 = 0; s0 < batch; s0 += chunk) {
    size_t nb = batch - s0 < chunk ? batch - s0 : chunk;
    if (nb >= CONV_BI_MIN || (flags & (CB_CONV_IN_BI | CB_CONV_OUT_BI)))
      conv_batch_inner(g, W, b, x, s0, nb, batch, y, buf, flags);
    else {
      double *ys = y + s0 * outsz;
      conv_sample_major(g, W, b, x + s0 * isz, nb, ys, buf);
      if (flags & CB_CONV_RELU) {
#pragma omp simd
        for (size_t e = 0; e < nb * outsz; e++) ys[e] = ys[e] > 0 ? ys[e] : 0;
      }
    }
  }
}

double la_time_dgemm(size_t n, int reps)
{
  double *A = cb_calloc(n * n, sizeof *A), *B = cb_calloc(n * n, sizeof *B), *C = cb_calloc(n * n, sizeof *C);
  struct timespec t0, t1;
  double best = -1;
  if (!A || !B || !C) { cb_free(A); cb_free(B); cb_free(C); return -1; }
  for (size_t i = 0; i < n * n; i++) { A[i] = (double)(i % 7) - 3; B[i] = (double)(i % 5) - 2; }
  for (int r = 0; r < reps; r++) {
    clock_gettime(CLOCK_MONOTONIC, &t0);
    la_gemm(0, 0, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (best < 0 || s < best) best = s;
  }
  cb_free(A); cb_free(B); cb_free(C);
  return best;
}

/* xr[s oj] += rr[oj] for oj in [j0, j1). */
static inline void tap_add(double *restrict xr, const double *restrict rr, int64_t s, int64_t j0, int64_t j1)
{
  if (s == 1) for (int64_t oj = j0; oj < j1; oj++) xr[oj] += rr[oj];
  else for (int64_t oj = j0; oj < j1; oj++) xr[oj * s] += rr[oj];
}

typedef double v4d __attribute__((vector_size(32)));
typedef long long v4i __attribute__((vector_size(32)));

/* xr[2 oj] += ra[oj], xr[2 oj + 1] += rb[oj] for oj in [j0, j1): four
   columns of each at a time, interleaved by shuffles. */
static inline void pair_add(double *restrict xr, const double *restrict ra, const double *restrict rb, int64_t j0, int64_t j1)
{
  const v4i lo = {0, 4, 1, 5}, hi = {2, 6, 3, 7};
  int64_t oj = j0;
  for (; oj + 4 <= j1; oj += 4) {
    v4d a, b, x0, x1;
    memcpy(&a, ra + oj, sizeof a); memcpy(&b, rb + oj, sizeof b);
    memcpy(&x0, xr + 2 * oj, sizeof x0); memcpy(&x1, xr + 2 * oj + 4, sizeof x1);
#if defined(__clang__)   /* clang (the fuzz build) spells GCC's two-vector shuffle with constant indices */
    (void)lo; (void)hi;
    x0 += __builtin_shufflevector(a, b, 0, 4, 1, 5);
    x1 += __builtin_shufflevector(a, b, 2, 6, 3, 7);
#else
    x0 += __builtin_shuffle(a, b, lo);
    x1 += __builtin_shuffle(a, b, hi);
#endif
    memcpy(xr + 2 * oj, &x0, sizeof x0); memcpy(xr + 2 * oj + 4, &x1, sizeof x1);
  }
  for (; oj < j1; oj++) { xr[2 * oj] += ra[oj]; xr[2 * oj + 1] += rb[oj]; }
}

/*
** Adds col [K x (nb*P)] back into the input layout of nb rows (inverse of
** im2col).  Row by row, channel by channel: one row's channel (hin x win
** doubles) stays in L1 while all its kh kw taps are added into it, with the
** valid output rows and columns of each tap computed once per tap.  Stride 2
** (dilation 1): taps kj and kj + 1 write the even and odd columns of the same
** run, never the same entry, so a pair of them is one contiguous interleaved
** add (which vectorises; a stride-2 scatter does not).  Every entry of x sums
** its terms in the same order as before (taps in (ki, kj) order).
*/
/* One col2im_add per element type of col (double; float for the binary32
   products): TAP and PAIR are that type's tap_add and pair_add. */
#define COL2IM_ADD_DEF(NAME, T, TAP, PAIR) \
CB_SIMD_CLONES \
static void NAME(const cb_conv *g, int64_t gi, const T *col, size_t nb, double *x, size_t xstride) \
{ \
  int64_t cpg = g->cin / g->groups, P = g->hout * g->wout, hw = g->hin * g->win; \
  size_t cols = nb * (size_t)P; \
  int pair = g->sw == 2 && g->dw == 1; \
  if (g->kh == 1 && g->sh == 1 && g->pt == 0 && g->hout == g->hin && g->pl == 0 && g->sw == g->kw && g->dw == 1 && \
      g->wout * g->kw == g->win) { \
    /* rows of taps that tile each input row (a MatMul over tokens: kernel 1 x D, \
       stride D; a reduction; 1x1): every entry of x gets exactly one term, col \
       is x transposed per row, and the per-tap runs above would be 1 long */ \
    for (size_t s = 0; s < nb; s++) \
      for (int64_t c = 0; c < cpg; c++) { \
        double *restrict xc = x + s * xstride + (size_t)((gi * cpg + c) * hw); \
        for (int64_t kj = 0; kj < g->kw; kj++) { \
          const T *restrict r = col + (size_t)(c * g->kw + kj) * cols + s * (size_t)P; \
          for (int64_t k = 0; k < P; k++) xc[k * g->kw + kj] += r[k]; \
        } \
      } \
    return; \
  } \
  for (size_t s = 0; s < nb; s++) \
    for (int64_t c = 0; c < cpg; c++) { \
      double *xc = x + s * xstride + (size_t)((gi * cpg + c) * hw); \
      for (int64_t ki = 0; ki < g->kh; ki++) { \
        int64_t offi = ki * g->dh - g->pt, i0, i1; \
        const T *r = col + (size_t)((c * g->kh + ki) * g->kw) * cols + s * (size_t)P; \
        valid_cols(offi, g->sh, g->hin, g->hout, &i0, &i1); \
        for (int64_t kj = 0; kj < g->kw; kj++, r += cols) { \
          int64_t off = kj * g->dw - g->pl, j0, j1, k0, k1, c0, c1;   /* columns in range, as im2col_row */ \
          valid_cols(off, g->sw, g->win, g->wout, &j0, &j1); \
          if (pair && kj + 1 < g->kw) {   /* taps kj, kj + 1 on their common range, the rest one by one */ \
            const T *r2 = r + cols; \
            valid_cols(off + 1, 2, g->win, g->wout, &k0, &k1); \
            c0 = j0 > k0 ? j0 : k0; c1 = j1 < k1 ? j1 : k1; \
            if (c1 < c0) c1 = c0; \
            for (int64_t oi = i0; oi < i1; oi++) { \
              double *restrict xr = xc + (oi * g->sh + offi) * g->win + off; \
              const T *restrict ra = r + oi * g->wout, *restrict rb = r2 + oi * g->wout; \
              TAP(xr, ra, 2, j0, c0 < j1 ? c0 : j1); \
              TAP(xr + 1, rb, 2, k0, c0 < k1 ? c0 : k1); \
              PAIR(xr, ra, rb, c0, c1); \
              TAP(xr, ra, 2, c1 > j0 ? c1 : j0, j1); \
              TAP(xr + 1, rb, 2, c1 > k0 ? c1 : k0, k1); \
            } \
            kj++; r += cols; \
            continue; \
          } \
          for (int64_t oi = i0; oi < i1; oi++) \
            TAP(xc + (oi * g->sh + offi) * g->win + off, r + oi * g->wout, g->sw, j0, j1); \
        } \
      } \
    } \
}
COL2IM_ADD_DEF(col2im_add, double, tap_add, pair_add)

/* xr[s oj] += rr[oj] for oj in [0, n), s = 1 or 2 (even entries only; the
   odd ones in between get + 0.0, which leaves their values as they are):
   four columns at a time.  Never touches xr[s n - 1] or beyond. */
static inline void run_add(double *restrict xr, const double *restrict rr, int64_t s, int64_t n)
{
  int64_t oj = 0;
  if (s == 1) {
    for (; oj + 4 <= n; oj += 4) {
      v4d a, x;
      memcpy(&a, rr + oj, sizeof a); memcpy(&x, xr + oj, sizeof x);
      x += a;
      memcpy(xr + oj, &x, sizeof x);
    }
    for (; oj < n; oj++) xr[oj] += rr[oj];
    return;
  }
  {
    const v4i lo = {0, 4, 1, 5}, hi = {2, 6, 3, 7};
    const v4d zero = {0, 0, 0, 0};
    for (; oj + 4 < n; oj += 4) {   /* writes xr[2 oj .. 2 oj + 7], below 2 n - 1 */
      v4d a, x0, x1;
      memcpy(&a, rr + oj, sizeof a);
      memcpy(&x0, xr + 2 * oj, sizeof x0); memcpy(&x1, xr + 2 * oj + 4, sizeof x1);
#if defined(__clang__)
      (void)lo; (void)hi;
      x0 += __builtin_shufflevector(a, zero, 0, 4, 1, 5);
      x1 += __builtin_shufflevector(a, zero, 2, 6, 3, 7);
#else
      x0 += __builtin_shuffle(a, zero, lo);
      x1 += __builtin_shuffle(a, zero, hi);
#endif
      memcpy(xr + 2 * oj, &x0, sizeof x0); memcpy(xr + 2 * oj + 4, &x1, sizeof x1);
    }
    for (; oj < n; oj++) xr[2 * oj] += rr[oj];
  }
}

/* d[0..n) = s[0..n): short runs, no memcpy call. */
static inline void copy_run(double *restrict d, const double *restrict s, int64_t n)
{
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) { v4d a; memcpy(&a, s + j, sizeof a); memcpy(d + j, &a, sizeof a); }
  for (; j < n; j++) d[j] = s[j];
}

/* The padded plane of col2im_pad: rows [0, hp) x columns [0, wp) cover every
   input pixel a tap reaches, pads included (pixel (y, x) at (y + pt, x + pl)). */
static int64_t pad_h(const cb_conv *g) { return (g->hout - 1) * g->sh + (g->kh - 1) * g->dh + 1; }
static int64_t pad_w(const cb_conv *g) { return (g->wout - 1) * g->sw + (g->kw - 1) * g->dw + 1; }

/* col2im_pad pays a copy of each plane in and out; it pays back where taps
   cut runs at the borders and stride-2 taps scatter: kernels of 4 or more
   taps, strides 1 or 2 (bench: cifar_base_kw's and resnet_2b's convs). */
static int use_pad(const cb_conv *g)
{
  return g->kh * g->kw >= 4 && g->sh <= 2 && g->sw <= 2 && g->pt >= 0 && g->pl >= 0 && g->hout > 0 && g->wout > 0;
}

/*
** col2im_add on a padded plane: per row and channel, the plane's pixels are
** copied into buffer xp (hp x wp, pads included), every tap adds its whole
** [hout x wout] block there in full-length vector runs (no border cuts:
** taps that fall on pads write the pad cells, which are never copied back),
** and the pixels are copied back.  Every pixel sums the same terms in the
** same order (its value, then the taps in (ki, kj) order) as col2im_add,
** When no tap reaches a pad (pads 0 and the taps inside the plane: the
** receptive-field pass's inner windows), the runs go into x itself, no copy.
** so the result has the same bits (but -0.0 + 0.0 = +0.0 on pixels between
** stride-2 taps).  xp holds pad_h x pad_w + 4 doubles.
*/
CB_SIMD_CLONES
static void col2im_pad(const cb_conv *g, int64_t gi, const double *col, size_t nb, double *x, size_t xstride,
                       double *xp)
{
  int64_t cpg = g->cin / g->groups, P = g->hout * g->wout, hw = g->hin * g->win;
  int64_t hp = pad_h(g), wp = pad_w(g);
  int64_t y1 = g->hin < hp - g->pt ? g->hin : hp - g->pt, x1 = g->win < wp - g->pl ? g->win : wp - g->pl;
  int inplace = g->pt == 0 && g->pl == 0 && hp <= g->hin && wp <= g->win;   /* no tap on a pad: work on x itself */
  int64_t pitch = inplace ? g->win : wp;
  size_t cols = nb * (size_t)P;
  int pair = g->sw == 2 && g->dw == 1;
  if (!inplace) memset(xp, 0, ((size_t)(hp * wp) + 4) * sizeof *xp);
  for (size_t s = 0; s < nb; s++)
    for (int64_t c = 0; c < cpg; c++) {
      double *xc = x + s * xstride + (size_t)((gi * cpg + c) * hw), *base = inplace ? xc : xp;
      if (!inplace)
        for (int64_t y = 0; y < y1; y++) copy_run(xp + (y + g->pt) * wp + g->pl, xc + y * g->win, x1);
      for (int64_t ki = 0; ki < g->kh; ki++) {
        const double *r = col + (size_t)((c * g->kh + ki) * g->kw) * cols + s * (size_t)P;
        double *xk = base + ki * g->dh * pitch;
        for (int64_t kj = 0; kj < g->kw; kj++, r += cols) {
          double *xr = xk + kj * g->dw;
          if (pair && kj + 1 < g->kw) {
            const double *r2 = r + cols;
            for (int64_t oi = 0; oi < g->hout; oi++)
              pair_add(xr + oi * g->sh * pitch, r + oi * g->wout, r2 + oi * g->wout, 0, g->wout);
            kj++; r += cols;
            continue;
          }
          for (int64_t oi = 0; oi < g->hout; oi++) run_add(xr + oi * g->sh * pitch, r + oi * g->wout, g->sw, g->wout);
        }
      }
      if (!inplace)
        for (int64_t y = 0; y < y1; y++) copy_run(xc + y * g->win, xp + (y + g->pt) * wp + g->pl, x1);
    }
}

/* The same col2im functions reading col in binary32 (la_conv_backward_f_buf):
   each term converted to double (exact), the same sums in the same order. */
typedef float v4f __attribute__((vector_size(16)));

static inline void tap_add_f(double *restrict xr, const float *restrict rr, int64_t s, int64_t j0, int64_t j1)
{
  if (s == 1) for (int64_t oj = j0; oj < j1; oj++) xr[oj] += rr[oj];
  else for (int64_t oj = j0; oj < j1; oj++) xr[oj * s] += rr[oj];
}

static inline void pair_add_f(double *restrict xr, const float *restrict ra, const float *restrict rb, int64_t j0, int64_t j1)
{
  const v4i lo = {0, 4, 1, 5}, hi = {2, 6, 3, 7};
  int64_t oj = j0;
  for (; oj + 4 <= j1; oj += 4) {
    v4d a, b, x0, x1;
    { v4f fa, fb; memcpy(&fa, ra + oj, sizeof fa); memcpy(&fb, rb + oj, sizeof fb); a = __builtin_convertvector(fa, v4d); b = __builtin_convertvector(fb, v4d); }
    memcpy(&x0, xr + 2 * oj, sizeof x0); memcpy(&x1, xr + 2 * oj + 4, sizeof x1);
#if defined(__clang__)   /* clang (the fuzz build) spells GCC's two-vector shuffle with constant indices */
    (void)lo; (void)hi;
    x0 += __builtin_shufflevector(a, b, 0, 4, 1, 5);
    x1 += __builtin_shufflevector(a, b, 2, 6, 3, 7);
#else
    x0 += __builtin_shuffle(a, b, lo);
    x1 += __builtin_shuffle(a, b, hi);
#endif
    memcpy(xr + 2 * oj, &x0, sizeof x0); memcpy(xr + 2 * oj + 4, &x1, sizeof x1);
  }
  for (; oj < j1; oj++) { xr[2 * oj] += ra[oj]; xr[2 * oj + 1] += rb[oj]; }
}

static inline void run_add_f(double *restrict xr, const float *restrict rr, int64_t s, int64_t n)
{
  int64_t oj = 0;
  if (s == 1) {
    for (; oj + 4 <= n; oj += 4) {
      v4d a, x;
      { v4f fa; memcpy(&fa, rr + oj, sizeof fa); a = __builtin_convertvector(fa, v4d); } memcpy(&x, xr + oj, sizeof x);
      x += a;
      memcpy(xr + oj, &x, sizeof x);
    }
    for (; oj < n; oj++) xr[oj] += rr[oj];
    return;
  }
  {
    const v4i lo = {0, 4, 1, 5}, hi = {2, 6, 3, 7};
    const v4d zero = {0, 0, 0, 0};
    for (; oj + 4 < n; oj += 4) {   /* writes xr[2 oj .. 2 oj + 7], below 2 n - 1 */
      v4d a, x0, x1;
      { v4f fa; memcpy(&fa, rr + oj, sizeof fa); a = __builtin_convertvector(fa, v4d); }
      memcpy(&x0, xr + 2 * oj, sizeof x0); memcpy(&x1, xr + 2 * oj + 4, sizeof x1);
#if defined(__clang__)
      (void)lo; (void)hi;
      x0 += __builtin_shufflevector(a, zero, 0, 4, 1, 5);
      x1 += __builtin_shufflevector(a, zero, 2, 6, 3, 7);
#else
      x0 += __builtin_shuffle(a, zero, lo);
      x1 += __builtin_shuffle(a, zero, hi);
#endif
      memcpy(xr + 2 * oj, &x0, sizeof x0); memcpy(xr + 2 * oj + 4, &x1, sizeof x1);
    }
    for (; oj < n; oj++) xr[2 * oj] += rr[oj];
  }
}

COL2IM_ADD_DEF(col2im_add_f, float, tap_add_f, pair_add_f)

CB_SIMD_CLONES
static void col2im_pad_f(const cb_conv *g, int64_t gi, const float *col, size_t nb, double *x, size_t xstride,
                       double *xp)
{
  int64_t cpg = g->cin / g->groups, P = g->hout * g->wout, hw = g->hin * g->win;
  int64_t hp = pad_h(g), wp = pad_w(g);
  int64_t y1 = g->hin < hp - g->pt ? g->hin : hp - g->pt, x1 = g->win < wp - g->pl ? g->win : wp - g->pl;
  int inplace = g->pt == 0 && g->pl == 0 && hp <= g->hin && wp <= g->win;   /* no tap on a pad: work on x itself */
  int64_t pitch = inplace ? g->win : wp;
  size_t cols = nb * (size_t)P;
  int pair = g->sw == 2 && g->dw == 1;
  if (!inplace) memset(xp, 0, ((size_t)(hp * wp) + 4) * sizeof *xp);
  for (size_t s = 0; s < nb; s++)
    for (int64_t c = 0; c < cpg; c++) {
      double *xc = x + s * xstride + (size_t)((gi * cpg + c) * hw), *base = inplace ? xc : xp;
      if (!inplace)
        for (int64_t y = 0; y < y1; y++) copy_run(xp + (y + g->pt) * wp + g->pl, xc + y * g->win, x1);
      for (int64_t ki = 0; ki < g->kh; ki++) {
        const float *r = col + (size_t)((c * g->kh + ki) * g->kw) * cols + s * (size_t)P;
        double *xk = base + ki * g->dh * pitch;
        for (int64_t kj = 0; kj < g->kw; kj++, r += cols) {
          double *xr = xk + kj * g->dw;
          if (pair && kj + 1 < g->kw) {
            const float *r2 = r + cols;
            for (int64_t oi = 0; oi < g->hout; oi++)
              pair_add_f(xr + oi * g->sh * pitch, r + oi * g->wout, r2 + oi * g->wout, 0, g->wout);
            kj++; r += cols;
            continue;
          }
          for (int64_t oi = 0; oi < g->hout; oi++) run_add_f(xr + oi * g->sh * pitch, r + oi * g->wout, g->sw, g->wout);
        }
      }
      if (!inplace)
        for (int64_t y = 0; y < y1; y++) copy_run(xc + y * g->win, xp + (y + g->pt) * wp + g->pl, x1);
    }
}

/* Rows per chunk of la_conv_backward_buf: col [K x chunk P] and the gathered
   A [opg x chunk P] together at most 16 K doubles (128 KB; at least one row),
   so col is still in L1/L2 when col2im reads it.  On cifar_base_kw's convs
   (one row per chunk) CROWN took 10% less time than with 2 MB chunks; on
   resnet_2b's the chunk size made no measurable difference. */
static size_t back_chunk(const cb_conv *g, size_t q)
{
  size_t K = (size_t)(g->cin / g->groups * g->kh * g->kw), P = (size_t)(g->hout * g->wout);
  size_t opg = (size_t)(g->cout / g->groups), chunk = ((size_t)1 << 14) / (K * P + opg * P + 1);
  if (chunk < 1) chunk = 1;
  if (chunk > q) chunk = q;
  return chunk;
}

size_t la_conv_backward_need(const cb_conv *g, size_t q)
{
  size_t K = (size_t)(g->cin / g->groups * g->kh * g->kw), P = (size_t)(g->hout * g->wout);
  size_t opg = (size_t)(g->cout / g->groups), chunk = back_chunk(g, q ? q : 1);
  return (K + opg) * P * chunk + (use_pad(g) ? (size_t)(pad_h(g) * pad_w(g)) + 4 : 0);
}

/*
** Transposed convolution for q rows: for group g, with A_g [opg x (rows*P)]
** gathered from the rows, col = W_g^T A_g (dgemm), then col2im adds col into
** Ain.  Rows go in chunks whose col stays in L2 (back_chunk); buf holds
** la_conv_backward_need doubles (kept by the caller across calls: no fresh
** pages per call).
*/
int la_conv_backward_buf(const cb_conv *g, const double *W, const double *A, size_t q, double *Ain, double *buf)
{
  size_t K = (size_t)(g->cin / g->groups * g->kh * g->kw), P = (size_t)(g->hout * g->wout);
  size_t opg = (size_t)(g->cout / g->groups), osz = (size_t)g->cout * P, isz = (size_t)(g->cin * g->hin * g->win);
  size_t chunk = back_chunk(g, q ? q : 1);
  double *col = buf, *ag = buf + K * P * chunk, *xp = ag + opg * P * chunk;
  int pad = use_pad(g);
  for (size_t r0 = 0; r0 < q; r0 += chunk) {
    size_t nb = q - r0 < chunk ? q - r0 : chunk, cols = nb * P;
    for (int64_t gi = 0; gi < g->groups; gi++) {
      const double *a = ag;
      if (nb == 1) a = A + r0 * osz + (size_t)gi * opg * P;   /* one row: its group's block is A_g already */
      else
        for (size_t o = 0; o < opg; o++)
          for (size_t s = 0; s < nb; s++)
            memcpy(ag + o * cols + s * P, A + (r0 + s) * osz + ((size_t)gi * opg + o) * P, P * sizeof *ag);
      la_gemm(1, 0, K, cols, opg, 1.0, W + (size_t)gi * opg * K, K, a, cols, 0.0, col, cols);
      if (pad) col2im_pad(g, gi, col, nb, Ain + r0 * isz, isz, xp);
      else col2im_add(g, gi, col, nb, Ain + r0 * isz, isz);
    }
  }
  return CB_OK;
}

size_t la_conv_backward_f_need(const cb_conv *g, size_t q)
{
  size_t K = (size_t)(g->cin / g->groups * g->kh * g->kw), P = (size_t)(g->hout * g->wout);
  size_t opg = (size_t)(g->cout / g->groups), chunk = back_chunk(g, q ? q : 1);
  return ((K + opg) * P * chunk + 1) / 2 + 1 + (use_pad(g) ? (size_t)(pad_h(g) * pad_w(g)) + 4 : 0);
}

/*
** la_conv_backward_buf with the product in binary32: per chunk and group,
** A_g is converted to binary32 while gathered, col = fl32(Wf_g^T A_g) by
** sgemm, and col2im adds col into Ain in double (col2im_*_f: each term
** converted exactly, the same sums in the same order as the double path's).  The caller checks that nothing overflows (every |A| and the
** product's partial sums within binary32's range) and adds the slack
** (bounds/crown.c conv_single_terms; docs/soundness.md "Single precision").
*/
int la_conv_backward_f_buf(const cb_conv *g, const float *Wf, const double *A, size_t q, double *Ain, double *buf)
{
  size_t K = (size_t)(g->cin / g->groups * g->kh * g->kw), P = (size_t)(g->hout * g->wout);
  size_t opg = (size_t)(g->cout / g->groups), osz = (size_t)g->cout * P, isz = (size_t)(g->cin * g->hin * g->win);
  size_t chunk = back_chunk(g, q ? q : 1);
  int pad = use_pad(g);
  double *xp = buf;
  float *fcol = (float *)(xp + (pad ? (size_t)(pad_h(g) * pad_w(g)) + 4 : 0)), *fag = fcol + K * P * chunk;
  for (size_t r0 = 0; r0 < q; r0 += chunk) {
    size_t nb = q - r0 < chunk ? q - r0 : chunk, cols = nb * P;
    for (int64_t gi = 0; gi < g->groups; gi++) {
      for (size_t o = 0; o < opg; o++)
        for (size_t s = 0; s < nb; s++) {
          const double *a = A + (r0 + s) * osz + ((size_t)gi * opg + o) * P;
          float *d = fag + o * cols + s * P;
          for (size_t e = 0; e < P; e++) d[e] = (float)a[e];
        }
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)K, (blasint)cols, (blasint)opg, 1.0f,
                  Wf + (size_t)gi * opg * K, (blasint)K, fag, (blasint)cols, 0.0f, fcol, (blasint)cols);
      if (pad) col2im_pad_f(g, gi, fcol, nb, Ain + r0 * isz, isz, xp);
      else col2im_add_f(g, gi, fcol, nb, Ain + r0 * isz, isz);
    }
  }
  return CB_OK;
}

int la_conv_backward(const cb_conv *g, const double *W, const double *A, size_t q, double *Ain)
{
  double *buf = cb_alloc(la_conv_backward_need(g, q) * sizeof *buf);
  int rc;
  if (!buf) return CB_ENOMEM;
  rc = la_conv_backward_buf(g, W, A, q, Ain, buf);
  cb_free(buf);
  return rc;
}

void la_set_threads(int n) { openblas_set_num_threads(n); }
int la_get_threads(void) { return openblas_get_num_threads(); }

static pthread_mutex_t single_mu = PTHREAD_MUTEX_INITIALIZER;
static int single_n, single_saved;   /* open begin/end pairs; the count before the first */

void la_single_begin(void)
{
  pthread_mutex_lock(&single_mu);
  if (single_n++ == 0) {
    single_saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
  }
  pthread_mutex_unlock(&single_mu);
}

void la_single_end(void)
{
  pthread_mutex_lock(&single_mu);
  if (single_n > 0 && --single_n == 0) openblas_set_num_threads(single_saved);
  pthread_mutex_unlock(&single_mu);
}

int la_syevd(double *V, size_t p, double *w)
{
  lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)p, V, (lapack_int)p, w);
  if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR) return CB_ENOMEM;
  return info == 0 ? CB_OK : CB_EINTERNAL;
}

int la_posv(double *A, size_t p, double *B, size_t nrhs)
{
  lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)p, (lapack_int)nrhs, A, (lapack_int)p, B, (lapack_int)nrhs);
  if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR) return CB_ENOMEM;
  return info == 0 ? CB_OK : info > 0 ? CB_EVALUE : CB_EINTERNAL;
}

void la_gram(const double *A, size_t N, size_t p, double *G)
{
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)p, (blasint)N, 1.0, A, (blasint)p, 0.0, G, (blasint)p);
  for (size_t i = 0; i < p; i++)
    for (size_t j = 0; j < i; j++) G[i * p + j] = G[j * p + i];
}

void la_gram_rows(const double *A, size_t N, size_t p, double *K)
{
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (blasint)N, (blasint)p, 1.0, A, (blasint)p, 0.0, K, (blasint)N);
  for (size_t i = 0; i < N; i++)
    for (size_t j = 0; j < i; j++) K[i * N + j] = K[j * N + i];
}

int la_lstsq(double *A, size_t N, size_t p, const double *b, double rcond, double *x)
{
  size_t m = N > p ? N : p;
  double *bb = cb_alloc(m * sizeof *bb), *sv = cb_alloc((N < p ? N : p) * sizeof *sv);
  lapack_int rank, info;
  if (!bb || !sv) { cb_free(bb); cb_free(sv); return CB_ENOMEM; }
  memcpy(bb, b, N * sizeof *bb);
  if (m > N) memset(bb + N, 0, (m - N) * sizeof *bb);
  info = LAPACKE_dgelsd(LAPACK_ROW_MAJOR, (lapack_int)N, (lapack_int)p, 1, A, (lapack_int)p, bb, 1, sv, rcond, &rank);
  if (info == 0) memcpy(x, bb, p * sizeof *x);
  cb_free(bb);
  cb_free(sv);
  if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR) return CB_ENOMEM;
  return info == 0 ? CB_OK : CB_EINTERNAL;
}
