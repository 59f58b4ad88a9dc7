/*
** ONNX writer for rewritten weights: re-reads the source model, replaces the
** values of named weight initializers and writes the packed model to a new
** file (temporary name + rename).  Everything else in the file (graph, other
** initializers, metadata, unknown fields) is kept byte for byte in meaning.
*/
#ifndef CB_ONNX_WRITE_H
#define CB_ONNX_WRITE_H

#include "net.h"

/* New values of one weight initializer, in the node's layout. */
typedef struct onnx_patch {
  const char *node;       /* node name, for messages */
  const char *init;       /* initializer name (cb_node.w_init) */
  int trans;              /* 1: the initializer stores W^T, [cols x rows] (cb_node.w_trans) */
  size_t rows, cols;      /* W is [rows x cols] row-major (a conv: [cout x cin/groups*kh*kw]) */
  const double *W_old;    /* the values the net was loaded with: must equal the file's */
  const double *W;        /* new values, representable in the initializer's type */
} onnx_patch;

/* Copies src to dst with the patches applied.  A patch whose initializer is
   missing, shared, of another size or type, or whose file values differ from
   W_old (Gemm alpha != 1, a folded scale) is refused with CB_EUNSUP; a new
   value not exactly representable in the initializer's type gives CB_EVALUE. */
int onnx_write_patched(const char *src, const char *dst, const onnx_patch *p, int n, cb_error *err);

#endif
