/*
** Certified orthonormalisation of a network's weights (`cerbere
** orthonormalize`): every dense / conv layer with a weight initializer is
** Bjorck-orthonormalised (bjorck.h; RKO for a conv, then divided by the
** conv's guaranteed operator bound, since RKO alone does not make a conv
** 1-Lipschitz) and rounded to float32 with a shrink chosen so that the
** rounded layer is certified <= 1 in L2 (lip_spec_bound, upper bounds only).
** The result is a set of onnx_patch for onnx_write_patched; lip_orth_check
** then takes the bounds of the written file, reloaded: the K of that file is
** the guaranteed one.
*/
#ifndef CB_LIP_ORTH_H
#define CB_LIP_ORTH_H

#include "bjorck.h"
#include "lipschitz.h"
#include "onnx_write.h"

typedef struct lip_orth_layer {
  int node;               /* node index (a layer of lip_analyze) */
  int done;               /* 0: kept as is (no weight initializer, e.g. an AveragePool, or a SCALE) */
  size_t rows, cols;      /* Bjorck matrix [cout x cin/groups*kh*kw] or [out x in] */
  double before_lo, before_up;  /* the layer's norm bounds before (the `before` analysis) */
  double after_lo, after_up;    /* the same for the written file (lip_orth_check) */
  double rko_bound;       /* conv: guaranteed operator bound after RKO, before rescaling (0 otherwise) */
  double shrink;          /* final factor applied after Bjorck (float rounding margin) */
  double residual;        /* ||W^T W - I||_F of the written (rounded) weights */
  double bjorck_residual; /* the same right after Bjorck, before any rescaling and rounding */
  int iters;              /* Bjorck iterations */
  double *W;              /* new weights in node layout, float32-representable; NULL when not done */
} lip_orth_layer;

typedef struct lip_orth {
  int n_layers;           /* the layers of `before`, in its order */
  lip_orth_layer *layer;
  int n_patch;            /* layers given new weights */
  onnx_patch *patch;      /* their initializers, for onnx_write_patched */
} lip_orth;

/* Orthonormalises every layer of `before` (lip_analyze of net, L2) that has a
   weight initializer; *out is freed with lip_orth_free.  A layer that fails is
   named: "NET: node "N": ...". */
int lip_orthonormalize(const cb_net *net, const lip_result *before, const lip_bjorck_opts *bo,
                       lip_orth **out, cb_error *err);

/* After the patches were written and the file reloaded as `written` and
   bounded as `after` (lip_analyze, same options): checks it has the graph of
   net and the same layers (CB_EINTERNAL otherwise) and fills after_lo/up.
   With after NULL, only the graph is checked (before bounding the file). */
int lip_orth_check(lip_orth *o, const cb_net *net, const cb_net *written, const lip_result *after,
                   cb_error *err);

void lip_orth_free(lip_orth *o);   /* NULL is a no-op */

#endif
