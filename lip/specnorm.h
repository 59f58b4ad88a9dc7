/*
** Operator norms of linear layers with GUARANTEED upper bounds (real
** arithmetic, rounding accounted for), beside power-iteration lower estimates.
**
**   L2, dense, or conv with min(inputs, outputs) <= dense_max: Gram matrix
**       of the smaller side (for a conv built from applications of the conv
**       and its adjoint, never the dense matrix) + symmetric eigensolver + a
**       residual certificate (Gershgorin after an approximate
**       diagonalisation, Ostrowski for the basis error).
**   L2, larger conv: polyphase/circulant bound, max over the discrete
**       frequencies of a torus on which the zero-padded conv embeds, each
**       frequency certified as above.  Never builds the dense matrix.
**   L1, Linf: exact max column / row sum of |A| (for a conv, |K| applied to
**       a vector of ones), rounded outward.
** This file owns the "upper bound, not estimate" rule (STYLE G9), and the
** outward-rounding helpers other lip/ files use.
*/
#ifndef CB_LIP_SPECNORM_H
#define CB_LIP_SPECNORM_H

#include "norm.h"
#include "power.h"

typedef struct lip_spec_opts {
  cb_norm norm;           /* which operator norm (inf, 2 or 1; not BOX); default CB_NORM_2 */
  size_t dense_max;       /* convs with min(inputs, outputs) <= this get the exact Gram bound; default 4096 */
  lip_power_opts power;   /* lower estimate (L2) */
} lip_spec_opts;

typedef struct lip_bound {
  double lower;           /* lower estimate: power iteration rounded down (L2), exact sum rounded down (L1/Linf) */
  double upper;           /* guaranteed upper bound of the real operator norm */
  const char *method;     /* "gram-eig", "conv-gram-eig", "conv-circulant", "abs-sum", "l1-linf" */
  int iters;              /* power iterations (L2) */
  int converged;          /* power iteration converged (L2; 1 otherwise) */
} lip_bound;

void lip_spec_opts_init(lip_spec_opts *o);

/* Bound of one operator in o->norm: fills b.  Errors: CB_ENOMEM, CB_EINTERNAL. */
int lip_spec_bound(const lip_op *op, const lip_spec_opts *o, lip_bound *b, cb_error *err);

/* Guaranteed upper bound of ||A||_2 through the Gram matrix of its smaller side
   (A dense or a conv; the Gram is p x p, p = min(rows, cols)).  v_top (cols
   entries, may be NULL) receives an estimate of the top right singular vector. */
int lip_spec_gram_upper(const lip_op *op, double *upper, double *v_top, cb_error *err);

/* Guaranteed upper bound of ||A||_2 for a conv of any size (circulant bound). */
int lip_spec_conv_circulant_upper(const cb_conv *g, const double *W, double *upper, cb_error *err);

/* Exact ||A||_1 and ||A||_inf, rounded up (and down into lo1, loinf; may be NULL). */
int lip_spec_abs_norms(const lip_op *op, double *n1, double *ninf, double *lo1, double *loinf,
                       cb_error *err);

#endif
