/*
** Dense linear algebra: the only file that calls cblas_ / LAPACKE_.
** Row-major everywhere.  Convolutions are implicit operators (im2col + dgemm),
** never expanded to a dense matrix.
*/
#ifndef CB_LINALG_H
#define CB_LINALG_H

#include <stddef.h>
#include "net.h"

/* C[m x n] = alpha * op(A) op(B) + beta * C, op = transpose when ta/tb. */
void la_gemm(int ta, int tb, size_t m, size_t n, size_t k, double alpha, const double *A,
             size_t lda, const double *B, size_t ldb, double beta, double *C, size_t ldc);
void la_sgemm(size_t m, size_t n, size_t k, const float *A, size_t lda, const float *B, size_t ldb, float *C,
              size_t ldc);   /* C = A B in binary32 (cblas_sgemm, row-major, no transposes) */

/* On a per-element hot loop (function definition): GCC compiles it twice,
   for AVX2 and for the baseline (SSE2), and the loader picks the widest the
   CPU has (an ifunc), so one portable binary uses 256-bit vectors where they
   exist; no -march=native.  The loops it marks give the same bits on both
   clones (their vector lanes are fixed by the code, and -std=c11 keeps
   -ffp-contract=off: no FMA contraction).  Elsewhere (clang, other targets)
   it is nothing. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CB_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CB_SIMD_CLONES
#endif

/* Y[batch][out] = X[batch][in] W^T + b (AFFINE forward). */
void la_affine_rows(const double *W, const double *b, size_t out, size_t in,
                    const double *X, size_t batch, double *Y);

/* The same with X batch-innermost, X[in][batch] (a CONV's CB_CONV_OUT_BI
   output, flattened): Y[batch][out] = X^T W^T + b, one dgemm, no transposition. */
void la_affine_cols(const double *W, const double *b, size_t out, size_t in,
                    const double *X, size_t batch, double *Y);

/* Conv forward on a batch: x [batch][cin*hin*win] -> y [batch][cout*hout*wout].
   Uses im2col + one dgemm per group and chunk of samples; returns CB_ENOMEM on failure. */
int la_conv_forward(const cb_conv *g, const double *W, const double *b, const double *x,
                    size_t batch, double *y);

/* The same with caller scratch (buf holds la_conv_forward_need(g, batch,
   flags) doubles).  flags: CB_CONV_RELU also applies y = (y > 0 ? y : 0), the ReLU
   that reads it; CB_CONV_IN_BI: x is batch-innermost, [cin][hin][win][batch];
   CB_CONV_OUT_BI: y is written so ([cout][hout][wout][batch]), for a CONV
   that reads it with CB_CONV_IN_BI or an AFFINE that reads it with
   la_affine_cols (from CONV_BI_MIN samples on: the whole batch at once, one
   chunk of output pixels per dgemm, written in place).  The layouts change where values are
   stored, not the products and sums that make them. */
#define CB_CONV_RELU 1
#define CB_CONV_IN_BI 2
#define CB_CONV_OUT_BI 4
size_t la_conv_forward_need(const cb_conv *g, size_t batch, int flags);
void la_conv_forward_buf(const cb_conv *g, const double *W, const double *b, const double *x,
                         size_t batch, double *y, double *buf, int flags);

/* dgemm rate check for benchmarks: seconds for an n x n x n product. */
double la_time_dgemm(size_t n, int reps);

/* Transposed conv (the backward of la_conv_forward for q row vectors):
   Ain[q][cin*hin*win] += A[q][cout*hout*wout] convolved back through W.
   Returns CB_ENOMEM on failure. */
int la_conv_backward(const cb_conv *g, const double *W, const double *A, size_t q, double *Ain);

/* The same with the caller's scratch buf of la_conv_backward_need(g, q)
   doubles (kept across calls: no allocation, no fresh pages). */
size_t la_conv_backward_need(const cb_conv *g, size_t q);
int la_conv_backward_buf(const cb_conv *g, const double *W, const double *A, size_t q, double *Ain, double *buf);

/* The same with the product in binary32 (Wf: W in binary32, same layout):
   col = fl32(Wf^T fl32(A)) by sgemm, then col2im in double; buf holds
   la_conv_backward_f_need(g, q) doubles.  The caller bounds the rounding
   and keeps every value within binary32's range (bounds/crown.c). */
size_t la_conv_backward_f_need(const cb_conv *g, size_t q);
int la_conv_backward_f_buf(const cb_conv *g, const float *Wf, const double *A, size_t q, double *Ain, double *buf);

/* Threads OpenBLAS may use inside one call (1 when parallel over samples). */
void la_set_threads(int n);
int la_get_threads(void);          /* OpenBLAS's current thread count */
void la_single_begin(void);        /* OpenBLAS on one thread until the matching end; nested and */
void la_single_end(void);          /* concurrent pairs counted: the last end restores the count */

/* Eigen-decomposition of symmetric V (p x p, row-major, in place: columns become
   eigenvectors) with ascending eigenvalues in w (LAPACK dsyevd).  CB_ENOMEM or
   CB_EINTERNAL on failure. */
int la_syevd(double *V, size_t p, double *w);
/* Solves A X = B for a symmetric positive definite A (p x p, overwritten by
   its Cholesky factor) and B (p x nrhs, overwritten by X); CB_EVALUE when A
   is not positive definite. */
int la_posv(double *A, size_t p, double *B, size_t nrhs);

/* G = A^T A (A row-major N x p, G p x p, both triangles): one dsyrk. */
void la_gram(const double *A, size_t N, size_t p, double *G);

/* K = A A^T (A row-major N x p, K N x N, both triangles): one dsyrk. */
void la_gram_rows(const double *A, size_t N, size_t p, double *K);

/* x = the minimum-norm least-squares solution of A x = b (A row-major N x p,
   overwritten; b N values; x p values), LAPACK dgelsd (SVD, singular values
   below rcond times the largest treated as zero).  CB_ENOMEM / CB_EINTERNAL. */
int la_lstsq(double *A, size_t N, size_t p, const double *b, double rcond, double *x);

#endif
