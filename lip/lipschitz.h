/*
** Global Lipschitz constants of a whole network (chain or DAG) and the
** certified radii they give.
**
** Each node gets a constant c_i (its Lipschitz constant as a map of its
** input, in the chosen norm), then K_i (input -> node i) is propagated in
** topological order: K_i = c_i K_in, ADD: K_a + K_b, CONCAT: sqrt(sum K^2) (L2),
** max (Linf), sum (L1).  K_merged also multiplies out each chain of >= 2
** weighted linear nodes (AFFINE/CONV/SCALE, with RESHAPE/TRANSPOSE between)
** into one matrix first, and keeps the smaller of the two values.
** Every constant is a guaranteed upper bound for the real-arithmetic network
** given by the stored weights (rel_err of inexact nodes included).
*/
#ifndef CB_LIP_LIPSCHITZ_H
#define CB_LIP_LIPSCHITZ_H

#include "specnorm.h"

typedef struct lip_opts {
  cb_norm norm;         /* operator norm of every layer (inf, 2 or 1); default CB_NORM_2 */
  size_t dense_max;     /* convs with min(inputs, outputs) <= this get the exact Gram bound; default 4096 */
  size_t merge_max;     /* a linear run is multiplied out when in * (largest size) <= this; default 1 << 22; 0 = never */
  int power_iters;      /* power-iteration cap per layer; default 1000 */
  double power_tol;     /* power-iteration relative tolerance; default 1e-12 */
  uint64_t seed;        /* power-iteration start vectors; default 1 */
} lip_opts;

typedef struct lip_layer {
  int node;             /* node index (AFFINE, CONV or SCALE) */
  size_t rows, cols;    /* dense shape [out x in] on the node's actual input shape */
  lip_bound b;          /* lower estimate and guaranteed upper bound of its norm */
  double seconds;       /* wall time of the bound */
} lip_layer;

typedef struct lip_block {
  int first, last;      /* a chain of linear nodes first..last, multiplied out */
  double upper;         /* guaranteed bound of the product operator */
  double product;       /* product of the per-node bounds it may replace */
} lip_block;

typedef struct lip_result {
  cb_norm norm;
  int n;                /* net->n */
  int n_layers, n_blocks;
  lip_layer *layer;
  lip_block *block;
  double *c;            /* [n] node constant (ADD, CONCAT: 1, their rule is in K) */
  double *cabs;         /* [n] bound of the norm of |A| for linear nodes (rounding terms) */
  double *cinf;         /* [n] Linf node constant, for the forward rounding bound */
  double *K;            /* [n] input -> node, layerwise */
  double *Km;           /* [n] input -> node, with merged blocks */
  double K_layerwise, K_merged;  /* at the output node */
} lip_result;

typedef struct lip_sample {
  int label;
  size_t pred;              /* argmax of the computed logits */
  double margin;            /* f_y - max_{j != y} f_j, computed in double */
  double margin_lo;         /* lower bound of the real-arithmetic margin */
  double radius_layerwise;  /* max(margin_lo, 0) / (||e_y - e_j||_* K_layerwise) */
  double radius_merged;     /* same with K_merged */
  double radius;            /* the larger of the two */
  double radius_pairwise;   /* min_j margin_j / (||w_y - w_j||_* K_h), never below radius */
} lip_sample;

void lip_opts_init(lip_opts *o);

/* Bounds every node of net; *out is freed with lip_result_free.  A node kind
   without a rule gives CB_EUNSUP naming the node. */
int lip_analyze(const cb_net *net, const lip_opts *o, lip_result **out, cb_error *err);
void lip_result_free(lip_result *r);                 /* NULL is a no-op */

/* Certified radii of one sample x (input size entries) with true class label. */
int lip_certify(const cb_net *net, const lip_result *r, const double *x, int label,
                lip_sample *s, cb_error *err);

/* Bound on max_k |computed - exact| of the output of the double forward pass
   at x (the exact network being the stored weights in real arithmetic).
   y (output size, may be NULL) receives the computed output. */
int lip_forward_error(const cb_net *net, const lip_result *r, const double *x, double *y,
                      double *delta, cb_error *err);

#endif
