/*
** The canonical network: a DAG of typed nodes in topological order.
**
** Conventions (written once, used everywhere):
** - Tensors are flat C-order double arrays.  A node's shape is the ONNX shape
**   of ONE sample (the batch dimension is kept and fixed to 1, symbolic
**   dimensions become 1); `size` is the product of its dims.  Batched code
**   treats a batch as [batch][size].
** - Node 0 is the input (CB_INPUT).  Every node's inputs have smaller indices.
**   `net->output` is the node whose value is the network output.
** - Intervals are (lo, hi) with lo <= hi; indices are 0-based everywhere.
** - Parameters are doubles read exactly from the file's float32/float64.  A
**   node whose stored parameters are a rounding of the file's real-valued
**   function (e.g. Div by c stored as a multiplication by fl(1/c)) has
**   `exact = 0` and `rel_err` bounds the relative error of each stored
**   parameter; analyzers that certify widen by it.
*/
#ifndef CB_NET_H
#define CB_NET_H

#include <stdint.h>
#include "cb.h"
#include "arena.h"
#include "act.h"

#define CB_MAX_RANK 8

typedef struct cb_shape {
  int rank;                    /* number of dims, 0 for a scalar */
  int64_t dim[CB_MAX_RANK];    /* dims, batch first when the file has one */
} cb_shape;

typedef enum cb_kind {
  CB_INPUT,       /* x: the network input                                      */
  CB_AFFINE,      /* y = W x + b,  W [out x in] row-major, b [out]              */
  CB_SCALE,       /* y = a .* x + b elementwise (Add/Sub/Mul/Div const, BatchNorm) */
  CB_CONV,        /* y = K * x + b, 2-D (stride, pads, dilations, groups)       */
  CB_ADD,         /* y = x0 + x1 (residual)                                     */
  CB_CONCAT,      /* y = [x0; x1; ...] along `axis`                             */
  CB_RESHAPE,     /* y = x, new shape (Flatten, Reshape, Squeeze, Unsqueeze)     */
  CB_TRANSPOSE,   /* y = permute(x, perm): a pure index map                     */
  CB_ACT,         /* y = f(x) elementwise, f = cb_act_table[p.act.type] (act.h)  */
  CB_MAXPOOL,     /* y[c,i,j] = max over the window of x[c,.,.] (pads are -inf) */
  CB_SORT,        /* y = x sorted within groups of g entries at stride `inner` (GroupSort,
                     MaxMin, FullSort, TopK): a permutation per input region (sort.h) */
  CB_MUL,         /* y_e = x0[i0[e]] x1[i1[e]], two computed tensors (attention's products;
                     MatMul between activations, broadcasting Mul and Div canonicalise to it);
                     i0, i1 NULL: the operand has the output's size, read in place */
  CB_KIND_COUNT
} cb_kind;

/*
** What the analyzers need to know about a kind, in one table (net.c), so
** that no file keeps its own list of kinds.  For CB_ACT the per-activation
** facts are in cb_act_table (act.h); the node_* helpers below read both.
*/
typedef struct cb_kind_facts {
  const char *name;       /* "AFFINE" */
  int n_in;               /* inputs: 0, 1, 2, or -1 for one or more (CONCAT) */
  int weighted;           /* has weights (W, K or a) worth multiplying out */
  int linear;             /* y = M x (+ b) for a fixed M: affine in its input */
  int index_map;          /* y is a permutation/selection of its inputs' entries */
  int elementwise;        /* y_e depends on x_e only (one input) */
  int monotone;           /* nondecreasing in every input (CB_ACT: per activation) */
  int piecewise_linear;   /* (CB_ACT: per activation) */
  int relaxed;            /* CROWN bounds it through per-neuron linear lines of one input entry */
  int vector_relaxed;     /* ... of several input entries (bounds.h cb_vrelax); none yet */
} cb_kind_facts;

extern const cb_kind_facts cb_kind_info[CB_KIND_COUNT];

/* 2-D window geometry shared by CONV and MAXPOOL (AveragePool becomes a CONV). */
typedef struct cb_conv {
  int64_t cin, hin, win;         /* input channels and spatial size */
  int64_t cout, hout, wout;      /* output channels and spatial size */
  int64_t kh, kw;                /* kernel */
  int64_t sh, sw;                /* strides */
  int64_t pt, pl, pb, pr;        /* pads: top, left, bottom, right */
  int64_t dh, dw;                /* dilations */
  int64_t groups;                /* CONV only; cin and cout divisible by it */
} cb_conv;

typedef struct cb_node {
  cb_kind kind;
  const char *name;       /* ONNX node name (or its first output), for messages */
  const char *op;         /* the op it came from, e.g. "Gemm", "BatchNormalization" */
  int n_in;               /* number of inputs (0 for INPUT, 2 for ADD, >= 1 for CONCAT) */
  int *in;                /* input node indices, all < this node's index */
  cb_shape shape;         /* per-sample output shape */
  size_t size;            /* product of shape.dim */
  int exact;              /* 1 if parameters equal the file's real function */
  double rel_err;         /* bound on the relative error of stored parameters */
  const char *w_init;     /* AFFINE/CONV from ONNX: initializer holding W, else NULL */
  int w_trans;            /* 1 if that initializer stores W^T ([in x out]) */
  union {
    struct { size_t out, in; double *W, *b; } aff;     /* AFFINE */
    struct { double *a, *b; } scale;                   /* SCALE: size entries each */
    struct { cb_conv g; double *W, *b; } conv;         /* CONV: W [cout][cin/g][kh][kw] */
    struct { int axis; } concat;                       /* CONCAT */
    struct { int perm[CB_MAX_RANK]; } transpose;       /* TRANSPOSE: out dim i = in dim perm[i] */
    struct { cb_act type; double alpha, beta, gamma, lo, hi; } act; /* ACT: alpha (LeakyReLU, ELU,
                                          HardSigmoid, SELU), beta (HardSigmoid), gamma (SELU), lo/hi (Clip) */
    struct { cb_conv g; } pool;                        /* MAXPOOL */
    struct { int64_t g, inner; int desc; } sort;       /* SORT: group size, stride, 1 = largest first */
    struct { size_t *i0, *i1; } mul;                   /* MUL: operand entries per output entry (NULL: e) */
  } p;
} cb_node;

struct cb_net {
  cb_arena arena;         /* owns nodes' names, shapes, weights */
  cb_node *node;          /* topological order, node[0] is the input */
  int n, cap;
  int output;             /* index of the output node */
  const char *path;       /* file it came from */
  const char *format;     /* "onnx" or "nnet" */
  const char *producer;   /* ONNX producer name or "" */
  int64_t ir_version, opset;
  const char *input_name, *output_name;
  cb_shape input_shape;   /* as declared in the file (symbolic dims = 1) */
  double *in_min, *in_max;/* NNet input domain (NULL if none): informative only */
  int n_warn;             /* loader warnings, e.g. a dropped trailing Softmax */
  const char *warn[8];
};

/* Building (loaders and canonicalisation). */
cb_net *net_new(const char *path, const char *format);          /* NULL on OOM */
int net_add(cb_net *net, cb_kind kind, const char *name, const char *op,
            const int *in, int n_in, const cb_shape *shape, cb_error *err);
                               /* appends a node, returns its index or a negative status */
double *net_doubles(cb_net *net, size_t n);                       /* zeroed, in the arena */
int net_prefix_scale(cb_net *net, const double *mean, const double *std, size_t nc, cb_error *err);
                               /* prepends SCALE (x - mean) / std per channel (nc = 1 or the
                                  input's channels); the net then reads raw inputs */
void net_warn(cb_net *net, const char *msg);                      /* keep a loader warning */

/* Shapes. */
size_t shape_size(const cb_shape *s);                             /* product of dims */
int shape_set(cb_shape *s, int rank, const int64_t *dim);        /* 0 if rank too large */
void shape_str(const cb_shape *s, char *buf, size_t n);          /* "[1,3,32,32]" */

/* Kind facts of one node (CB_ACT: of its activation). */
const char *node_kind_name(const cb_node *n);                     /* "AFFINE", "RELU", ... */
const cb_act_info *node_act(const cb_node *n);                    /* NULL unless CB_ACT */
int node_is_act(const cb_node *n, cb_act type);                   /* CB_ACT of that type */
int node_piecewise_linear(const cb_node *n);
int node_monotone(const cb_node *n);
int net_add_act(cb_net *net, cb_act type, const char *name, const char *op, int in, cb_error *err);
                               /* an activation node shaped as its input; index or status */

/* MUL: the entry of an operand that output entry e reads (ix NULL: e itself). */
static inline size_t mul_at(const size_t *ix, size_t e) { return ix ? ix[e] : e; }

/* Checks and queries. */
int net_check(const cb_net *net, cb_error *err);                  /* shapes chain, params finite */
size_t net_param_count(const cb_net *net);                        /* weights + biases */
int conv_out_dim(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t d,
                 int64_t *out);                                   /* 0 if the window does not fit */
void cb_net_dump(const cb_net *net, FILE *f);                     /* one line per node */

/* Canonicalisation (canon.c): exact folds, dead-node removal. */
int canon_run(cb_net *net, cb_error *err);
int canon_sort(cb_net *net, cb_error *err);   /* canon_sort.c: GroupSort exports to one SORT */
/* canon_attn.c: attention's blocks from canonical nodes; each returns the
   index of its last node or a negative status.  MatMul of computed a
   ([L,m,k] entries) and b ([L,k,n], or [L,n,k] when b_trans) to shape out;
   Softmax (log_form: LogSoftmax) of x over `axis` (negative: from the end). */
int net_add_matmul(cb_net *net, const char *name, const char *op, int a, int b, int64_t L, int64_t m, int64_t k,
                   int64_t n, int b_trans, const cb_shape *out, cb_error *err);
int net_add_softmax(cb_net *net, const char *name, const char *op, int x, int axis, int log_form, cb_error *err);

/* Loaders. */
int onnx_load(const char *path, cb_net **out, cb_error *err);
int onnx_check(const char *path, FILE *report, cb_error *err);   /* op support report */
int nnet_load(const char *path, cb_net **out, cb_error *err);
int nnet_inputs_normalised(cb_net *net, cb_error *err);   /* NNet: drop the header's input normalisation (nnet.c) */

#endif
