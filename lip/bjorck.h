/*
** Bjorck orthonormalisation of a weight matrix (as deel-lip's Bjorck
** normalisation): W converges to the orthogonal polar factor U V^T of its
** SVD, so every nonzero singular value becomes 1.
** For a conv this is applied to the reshaped kernel [cout x cin/groups*kh*kw]
** (RKO, "reshaped kernel orthogonalisation"), which does NOT make the conv
** operator 1-Lipschitz by itself: the caller bounds the operator afterwards.
*/
#ifndef CB_LIP_BJORCK_H
#define CB_LIP_BJORCK_H

#include "net.h"

typedef struct lip_bjorck_opts {
  int iters;      /* maximum iterations; default 100 */
  int order;      /* truncation order p of the (W^T W)^(-1/2) series, 1..5; default 1 */
  double tol;     /* stop when ||W^T W - I||_F <= tol (smaller Gram); default 1e-12 */
} lip_bjorck_opts;

typedef struct lip_bjorck_res {
  int iters;        /* iterations run */
  double scale;     /* W was first divided by this power-iteration estimate of ||W||_2 */
  double residual;  /* ||W^T W - I||_F (or ||W W^T - I||_F when wide) at the end */
} lip_bjorck_res;

void lip_bjorck_opts_init(lip_bjorck_opts *o);

/* Orthonormalises W [m x n] (row-major) in place.  CB_EUSAGE for a bad order,
   CB_ENOMEM on allocation failure; a zero matrix is left unchanged. */
int lip_bjorck(double *W, size_t m, size_t n, const lip_bjorck_opts *o, lip_bjorck_res *r,
               cb_error *err);

/* ||W^T W - I||_F if m >= n, else ||W W^T - I||_F (plain double); -1 on OOM. */
double lip_bjorck_residual(const double *W, size_t m, size_t n);

#endif
