/*
** Power iteration: a LOWER estimate of the spectral norm ||A||_2 of a dense
** matrix or of an implicit 2-D convolution, plus the operator plumbing that
** the other lip/ files share (y = A x, x = A^T y, without bias).
**
** The estimate ||A v|| / ||v|| never exceeds ||A||_2 in real arithmetic; the
** `lower` field also subtracts the rounding error of computing A v, so it is a
** lower bound of the real operator norm.  It is reported beside the
** guaranteed upper bound of specnorm.c, never used as a certificate.
** Workload: once per layer per network; a few hundred applications of A.
*/
#ifndef CB_LIP_POWER_H
#define CB_LIP_POWER_H

#include <stdint.h>
#include "net.h"

/* A linear operator y = A x: a dense matrix or an implicit convolution (no bias). */
typedef struct lip_op {
  size_t rows, cols;   /* A is [rows x cols]: x has cols entries, y has rows */
  const double *W;     /* dense: [rows x cols] row-major; conv: kernel [cout][cin/groups][kh][kw] */
  const cb_conv *g;    /* NULL for a dense matrix, else the conv geometry */
} lip_op;

typedef struct lip_power_opts {
  int max_iters;       /* iteration cap; default 1000 */
  double tol;          /* stop when the estimate moves by < tol (relative); default 1e-12 */
  uint64_t seed;       /* seed of the random start vector; default 1 */
  const double *v0;    /* start vector (cols entries), or NULL for a random one; default NULL */
} lip_power_opts;

typedef struct lip_power_res {
  double estimate;     /* ||A v|| / ||v|| at the last iterate, plain double arithmetic */
  double lower;        /* estimate minus its rounding error: <= ||A||_2 in real arithmetic */
  int iters;           /* iterations run */
  int converged;       /* 1 if the relative change fell under tol */
} lip_power_res;

void lip_power_op_dense(lip_op *op, const double *W, size_t rows, size_t cols);  /* wraps W */
void lip_power_op_conv(lip_op *op, const cb_conv *g, const double *W);            /* wraps a conv */
size_t lip_power_op_inner(const lip_op *op);     /* length of the dot products of A x */
size_t lip_power_op_inner_t(const lip_op *op);   /* same for A^T y */

/* y[batch][rows] = A x[batch][cols] (adjoint 0), or x = A^T y (adjoint 1: in is
   [batch][rows], out [batch][cols]).  CB_ENOMEM on allocation failure. */
int lip_power_apply(const lip_op *op, int adjoint, const double *in, size_t batch, double *out);

/* x[batch][cin*hin*win] = A^T y: the adjoint of la_conv_forward without bias
   (W_g^T y_g by dgemm, then col2im scatter-add).  CB_ENOMEM on failure. */
int lip_power_conv_transpose(const cb_conv *g, const double *W, const double *y, size_t batch,
                             double *x);

void lip_power_opts_init(lip_power_opts *o);

/* Power iteration on A^T A.  abs2 is an upper bound of || |A| ||_2 (e.g.
   sqrt(||A||_1 ||A||_inf)), used for the rounding term of `lower`.  v_out
   (cols entries, may be NULL) receives the last unit iterate. */
int lip_power(const lip_op *op, double abs2, const lip_power_opts *o, lip_power_res *r,
              double *v_out, cb_error *err);

#endif
