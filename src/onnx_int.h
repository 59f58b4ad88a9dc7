/*
** Internal to the ONNX loader (onnx.c reads the protobuf, onnx_ops.c maps
** each op to canonical nodes).  Not used by any other file.
**
** A value is what an ONNX tensor name stands for while loading: a constant
** (initializer, Constant node or a folded constant expression), a canonical
** node, or "unsupported" (produced by a node we refused; consumers of it are
** skipped silently so that every unsupported node is listed once).
*/
#ifndef CB_ONNX_INT_H
#define CB_ONNX_INT_H

#include "net.h"
#include "onnx.pb-c.h"

typedef enum { V_CONST, V_NODE, V_UNSUP } val_kind;

typedef struct val {
  const char *name;
  val_kind kind;
  int node;          /* V_NODE: canonical node index */
  cb_shape shape;    /* V_CONST: dims; V_NODE: the node's shape */
  size_t n;          /* V_CONST: element count */
  double *d;         /* V_CONST: values as double (exact for float32/float64) */
  int is_int;        /* V_CONST: came from an integer tensor */
} val;

typedef struct ld {
  const char *path;
  cb_net *net;
  cb_arena tmp;          /* constants and value table, freed after loading */
  val *v;                /* value table */
  size_t nv, capv;
  int64_t opset;
  const char *graph_output;  /* name of the graph output */
  FILE *report;          /* info --check: one line per ONNX node, or NULL */
  int n_unsup;           /* nodes refused so far */
  char unsup[900];       /* their "node (op)" list for the final message */
  const Onnx__NodeProto *cur;  /* node being converted, for messages */
  size_t file_len;       /* bytes in the file: sizes the arenas' limits */
  const Onnx__GraphProto *graph;  /* the graph being loaded (ld_used) */
} ld;

/* onnx.c */
val *ld_find(ld *L, const char *name);                 /* NULL if unknown */
val *ld_new_val(ld *L, const char *name, cb_error *err);
int ld_err(ld *L, cb_error *err, cb_status st, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));               /* "path: node "n" (op o): ..." */
int ld_tensor(ld *L, const Onnx__TensorProto *t, const char *what, val *out, cb_error *err);
const Onnx__AttributeProto *ld_attr(const Onnx__NodeProto *nd, const char *name);
int64_t ld_attr_int(const Onnx__NodeProto *nd, const char *name, int64_t def);
/* Entry i of constant v as an integer (shape, axes, pads): finite, integral
   and within int64 (checked before the cast), else CB_EFORMAT naming `what`. */
int ld_const_int(ld *L, const val *v, size_t i, const char *what, int64_t *out, cb_error *err);
double ld_attr_float(const Onnx__NodeProto *nd, const char *name, double def);
int ld_attr_ints(const Onnx__NodeProto *nd, const char *name, int64_t *out, int max);
                                                       /* count, -1 if absent, -2 if > max */
const char *ld_node_name(const Onnx__NodeProto *nd);   /* name, or first output */

/* onnx_ops.c: converts one node; CB_EUNSUP is collected, other errors stop;
   1 means "skipped: an input comes from an unsupported node". */
int ops_convert(ld *L, const Onnx__NodeProto *nd, cb_error *err);
int ops_bind_node(ld *L, const Onnx__NodeProto *nd, int idx, cb_error *err);
int ops_alias(ld *L, const Onnx__NodeProto *nd, cb_error *err);

/* onnx_fold.c: evaluates a node whose inputs are all constants (and Shape of
   any tensor) and binds its output as a constant; FOLD_NO if it does not apply. */
#define FOLD_NO (-1000)
int ops_fold(ld *L, const Onnx__NodeProto *nd, cb_error *err);
/* The index map (map[r]: the input entry output r copies) of Gather with
   constant indices, Slice or Expand on a tensor shaped xs, and the output
   shape; FOLD_NO for other ops. */
int ops_fold_map(ld *L, const Onnx__NodeProto *nd, const cb_shape *xs, size_t **map, cb_shape *out, cb_error *err);
/* onnx_sort.c: TopK, ReduceMax/Min, Max/Min, Split, Neg (GroupSort exports);
   FOLD_NO if the op is not one of them. */
int ops_sort(ld *L, const Onnx__NodeProto *nd, cb_error *err);
/* Selection y_r = x_{map[r]} of node x shaped s: an AFFINE of unit rows (exact). */
int ops_select(ld *L, const Onnx__NodeProto *nd, int x, const size_t *map, const cb_shape *s, cb_error *err);
/* onnx_xfmr.c: reductions, broadcasting Add/Sub, Gather/Slice/Expand/Where and
   Concat with constants on computed tensors, LayerNormalization (FOLD_NO if none applies). */
int ops_xfmr(ld *L, const Onnx__NodeProto *nd, cb_error *err);
/* Transpose's perm attribute (default: reversed) checked against shape x
   (a permutation of its rank) into perm[], and the transposed shape. */
int ld_perm(ld *L, const Onnx__NodeProto *nd, const cb_shape *x, int64_t *perm, cb_shape *out, cb_error *err);
void ld_transpose2(const double *a, size_t rows, size_t cols, double *t);   /* t = a^T (a: rows x cols), tiled */
/* Is ONNX value `name` read by any node or the graph output? */
int ld_used(ld *L, const char *name);

/* onnx_elem.c: Gelu, HardSwish, Abs, Log, Sqrt, Reciprocal, Pow, Neg, PRelu
   (FOLD_NO if nd is none of them), and the SiLU / GELU product patterns of a
   Mul of two computed tensors (FOLD_NO if none matches). */
int ops_elem(ld *L, const Onnx__NodeProto *nd, cb_error *err);
int ops_fuse_product(ld *L, const Onnx__NodeProto *nd, const val *a, const val *b, cb_error *err);
/* onnx_attn.c: MatMul of computed tensors or of many rows, Softmax/LogSoftmax
   inside the net (FOLD_NO if none applies); Mul/Div (div = 1) of two computed tensors. */
int ops_attn(ld *L, const Onnx__NodeProto *nd, cb_error *err);
int ops_product(ld *L, const Onnx__NodeProto *nd, const val *a, const val *b, int div, cb_error *err);
/* onnx_ops.c: constant c broadcast (numpy rules) to shape s, in L->tmp. */
double *ops_broadcast(ld *L, const val *c, const cb_shape *s, cb_error *err);
/* o = the broadcast shape of a and b (numpy rules); 0 when they do not broadcast. */
int ops_bshape(const cb_shape *a, const cb_shape *b, cb_shape *o);
/* onnx_window.c: Conv, MaxPool, AveragePool (kind 2), GlobalAveragePool (3), Pad, BN. */
int ops_window(ld *L, const Onnx__NodeProto *nd, int kind, cb_error *err);
int ops_batchnorm(ld *L, const Onnx__NodeProto *nd, cb_error *err);
int ops_pad(ld *L, const Onnx__NodeProto *nd, cb_error *err);

#endif
