/*
** ONNX loader, part 2: one small function per ONNX op, mapping it to the
** canonical kinds of net.h.  Contract of every op_* function: read the node's
** inputs from the value table, append canonical nodes (or fold constants),
** bind the node's outputs, and return CB_OK; CB_EUNSUP for something we
** deliberately do not support (the driver collects those); any other status
** for a malformed file.  Constants are folded only where the result is exact
** or where the file itself asks for the rounding (Div by c -> multiplication
** by fl(1/c), recorded on the node as exact = 0, rel_err = u).
*/
#include <math.h>
#include <string.h>
#include "onnx_int.h"
#include "round.h"

/* Input k of the node, NULL if absent or the empty name. */
static val *in_val(ld *L, const Onnx__NodeProto *nd, size_t k)
{
  if (k >= nd->n_input || !nd->input[k][0]) return NULL;
  return ld_find(L, nd->input[k]);
}

static int need_inputs(ld *L, const Onnx__NodeProto *nd, size_t lo, size_t hi, cb_error *err)
{
  if (nd->n_input < lo || nd->n_input > hi)
    return ld_err(L, err, CB_EFORMAT, "has %zu inputs, expected %zu to %zu", nd->n_input, lo, hi);
  if (nd->n_output < 1) return ld_err(L, err, CB_EFORMAT, "has no output");
  return CB_OK;
}

/* The only outputs we bind are output 0; others must be unused (checked by the driver). */
int ops_bind_node(ld *L, const Onnx__NodeProto *nd, int idx, cb_error *err)
{
  val *v;
  if (idx < 0) return idx;
  if (!(v = ld_new_val(L, nd->output[0], err))) return CB_ENOMEM;
  v->kind = V_NODE;
  v->node = idx;
  v->shape = L->net->node[idx].shape;
  return CB_OK;
}

static val *bind_const(ld *L, const Onnx__NodeProto *nd, const cb_shape *s, cb_error *err)
{
  val *v = ld_new_val(L, nd->output[0], err);
  if (!v) return NULL;
  v->kind = V_CONST;
  v->shape = *s;
  v->n = shape_size(s);
  v->d = arena_array(&L->tmp, v->n ? v->n : 1, sizeof(double));
  if (!v->d) { ld_err(L, err, CB_ENOMEM, "out of memory"); return NULL; }
  return v;
}

/* Appends a canonical node fed by the given values, named after the ONNX node. */
static int add(ld *L, const Onnx__NodeProto *nd, cb_kind k, const val **in, int n_in,
               const cb_shape *s, cb_error *err)
{
  int idx[16];
  if (n_in > 16) return ld_err(L, err, CB_EUNSUP, "more than 16 inputs");
  for (int i = 0; i < n_in; i++) idx[i] = in[i]->node;
  return net_add(L->net, k, ld_node_name(nd), nd->op_type, idx, n_in, s, err);
}

/* Broadcasts constant c (numpy rules) to shape s; NULL and an error if it cannot. */
static double *broadcast(ld *L, const val *c, const cb_shape *s, cb_error *err)
{
  size_t n = shape_size(s);
  double *d;
  int off = s->rank - c->shape.rank;
  if (off < 0) { ld_err(L, err, CB_ESHAPE, "constant has higher rank than the tensor"); return NULL; }
  for (int i = 0; i < c->shape.rank; i++)
    if (c->shape.dim[i] != 1 && c->shape.dim[i] != s->dim[off + i]) {
      ld_err(L, err, CB_ESHAPE, "constant of %d dims does not broadcast to the tensor (dim %d: %lld vs %lld)",
             c->shape.rank, i, (long long)c->shape.dim[i], (long long)s->dim[off + i]);
      return NULL;
    }
  if (!(d = arena_array(&L->tmp, n ? n : 1, sizeof *d))) { ld_err(L, err, CB_ENOMEM, "out of memory"); return NULL; }
  for (size_t e = 0; e < n; e++) {
    size_t r = e, ci = 0, stride = 1;
    for (int i = s->rank - 1; i >= 0; i--) {
      size_t di = r % (size_t)s->dim[i];
      r /= (size_t)s->dim[i];
      if (i >= off) {
        int j = i - off;
        if (c->shape.dim[j] != 1) ci += di * stride;
        stride *= (size_t)c->shape.dim[j];
      }
    }
    d[e] = c->d[ci];
  }
  return d;
}

double *ops_broadcast(ld *L, const val *c, const cb_shape *s, cb_error *err) { return broadcast(L, c, s, err); }

/* Broadcast shape of two shapes (numpy rules); 0 when they do not broadcast. */
int ops_bshape(const cb_shape *a, const cb_shape *b, cb_shape *o)
{
  int r = a->rank > b->rank ? a->rank : b->rank;
  o->rank = r;
  for (int i = 0; i < r; i++) {
    int64_t x = i - (r - a->rank) >= 0 ? a->dim[i - (r - a->rank)] : 1;
    int64_t y = i - (r - b->rank) >= 0 ? b->dim[i - (r - b->rank)] : 1;
    if (x != y && x != 1 && y != 1) return 0;
    o->dim[i] = x > y ? x : y;
  }
  return 1;
}

static double arith(char op, double x, double y)
{
  return op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : x / y;
}

/* Add/Sub/Mul/Div of two constants: folded in double. */
static int fold_binary(ld *L, const Onnx__NodeProto *nd, char op, const val *a, const val *b, cb_error *err)
{
  cb_shape s;
  const double *da = a->d, *db = b->d;
  size_t sa[CB_MAX_RANK], sb[CB_MAX_RANK], ix[CB_MAX_RANK] = {0}, ia = 0, ib = 0;
  int is_int = a->is_int && b->is_int;
  val *o;
  if (!ops_bshape(&a->shape, &b->shape, &s)) return ld_err(L, err, CB_ESHAPE, "constant shapes do not broadcast");
  /* each operand's stride along each output axis (0 where it broadcasts):
     no broadcast copy (a weight normalisation's g V / ||V|| is 10^6 entries) */
  for (int k = 0; k < 2; k++) {
    const val *c = k ? b : a;
    size_t *st = k ? sb : sa, stride = 1;
    int off = s.rank - c->shape.rank;
    for (int i = s.rank - 1; i >= 0; i--) {
      int j = i - off;
      if (j >= 0 && c->shape.dim[j] != 1 && c->shape.dim[j] != s.dim[i])   /* an empty axis against 1 */
        return ld_err(L, err, CB_ESHAPE, "constant shapes do not broadcast (dim %d: %lld vs %lld)", i,
                      (long long)c->shape.dim[j], (long long)s.dim[i]);
      st[i] = j >= 0 && c->shape.dim[j] != 1 ? stride : 0;
      if (j >= 0) stride *= (size_t)c->shape.dim[j];
    }
  }
  if (!(o = bind_const(L, nd, &s, err))) return CB_ENOMEM;
  o->is_int = is_int;
  for (size_t e = 0; e < o->n; e++) {
    o->d[e] = arith(op, da[ia], db[ib]);
    for (int i = s.rank - 1; i >= 0; i--) {   /* the next output index, odometer order */
      ia += sa[i]; ib += sb[i];
      if (++ix[i] < (size_t)s.dim[i]) break;
      ia -= sa[i] * (size_t)s.dim[i]; ib -= sb[i] * (size_t)s.dim[i];
      ix[i] = 0;
    }
  }
  if (o->is_int && op == '/')   /* integer division truncates (ONNX), as in shape arithmetic */
    for (size_t i = 0; i < o->n; i++) o->d[i] = trunc(o->d[i]);
  return CB_OK;
}

/* x op c, or c op x, as a SCALE node y = a.*x + b. */
static int scale_binary(ld *L, const Onnx__NodeProto *nd, char op, const val *x, const val *c,
                        int c_first, cb_error *err)
{
  double *cd = broadcast(L, c, &x->shape, err);
  int idx;
  cb_node *n;
  if (!cd) return err->status;
  if (op == '/' && c_first) return ld_err(L, err, CB_EUNSUP, "division by a computed tensor is not linear");
  idx = add(L, nd, CB_SCALE, &x, 1, &x->shape, err);
  if (idx < 0) return idx;
  n = &L->net->node[idx];
  n->p.scale.a = net_doubles(L->net, n->size);
  n->p.scale.b = net_doubles(L->net, n->size);
  if (!n->p.scale.a || !n->p.scale.b) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (size_t i = 0; i < n->size; i++) {
    double a = 1, b = 0;
    if (op == '+') b = cd[i];
    else if (op == '-') { a = c_first ? -1 : 1; b = c_first ? cd[i] : -cd[i]; }
    else if (op == '*') a = cd[i];
    else {
      if (cd[i] == 0) return ld_err(L, err, CB_EVALUE, "division by zero constant");
      a = 1 / cd[i];
      if (fma(a, cd[i], -1.0) != 0) { n->exact = 0; n->rel_err = ROUND_U; }
    }
    n->p.scale.a[i] = a;
    n->p.scale.b[i] = b;
  }
  return ops_bind_node(L, nd, idx, err);
}

static int same_shape(const cb_shape *a, const cb_shape *b)
{
  if (a->rank != b->rank) return 0;
  for (int i = 0; i < a->rank; i++) if (a->dim[i] != b->dim[i]) return 0;
  return 1;
}

static int op_binary(ld *L, const Onnx__NodeProto *nd, char op, cb_error *err)
{
  const val *a, *b, *in2[2];
  int rc;
  if ((rc = need_inputs(L, nd, 2, 2, err)) != CB_OK) return rc;
  a = in_val(L, nd, 0);
  b = in_val(L, nd, 1);
  if (!a || !b) return ld_err(L, err, CB_EFORMAT, "missing operand");
  if (a->kind == V_CONST && b->kind == V_CONST) return fold_binary(L, nd, op, a, b, err);
  if (b->kind == V_CONST) return scale_binary(L, nd, op, a, b, 0, err);
  if (a->kind == V_CONST) {
    if (op == '/') return ld_err(L, err, CB_EUNSUP, "division by a computed tensor is not linear");
    return scale_binary(L, nd, op, b, a, 1, err);
  }
  if (op == '*' && (rc = ops_fuse_product(L, nd, a, b, err)) != FOLD_NO) return rc;   /* SiLU, GELU exports */
  if (op == '*' || op == '/') return ops_product(L, nd, a, b, op == '/', err);         /* onnx_attn.c */
  if (op != '+')
    return ld_err(L, err, CB_EUNSUP, "%s of two computed tensors is not supported",
                  op == '-' ? "subtraction" : op == '*' ? "product" : "division");
  if (!same_shape(&a->shape, &b->shape))
    return ld_err(L, err, CB_ESHAPE, "Add of two computed tensors of different shapes (broadcasting "
                  "between computed tensors is not supported)");
  in2[0] = a;
  in2[1] = b;
  return ops_bind_node(L, nd, add(L, nd, CB_ADD, in2, 2, &a->shape, err), err);
}

/* Node whose input 0 must be computed; returns it or NULL with an error. */
static const val *computed_in(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x = in_val(L, nd, 0);
  if (!x) { ld_err(L, err, CB_EFORMAT, "missing input"); return NULL; }
  if (x->kind != V_NODE) { ld_err(L, err, CB_EUNSUP, "constant input (constant folding of this op is not supported)"); return NULL; }
  return x;
}

static const val *const_in(ld *L, const Onnx__NodeProto *nd, size_t k, const char *what, cb_error *err)
{
  const val *c = in_val(L, nd, k);
  if (!c) { ld_err(L, err, CB_EFORMAT, "missing %s", what); return NULL; }
  if (c->kind != V_CONST) { ld_err(L, err, CB_EUNSUP, "%s \"%s\" is computed, not a constant", what, c->name); return NULL; }
  return c;
}

/* y = W x + b from a row-major W [out x in]; returns the node index. */
static int add_affine(ld *L, const Onnx__NodeProto *nd, const val *x, const cb_shape *s,
                      size_t out, size_t inn, cb_node **np, cb_error *err)
{
  int idx = add(L, nd, CB_AFFINE, &x, 1, s, err);
  size_t nw;
  cb_node *n;
  if (idx < 0) return idx;
  n = &L->net->node[idx];
  if (!cb_mul_size(out, inn, &nw)) return ld_err(L, err, CB_ENOMEM, "weight matrix too large");
  n->p.aff.out = out;
  n->p.aff.in = inn;
  n->p.aff.W = net_doubles(L->net, nw);
  n->p.aff.b = net_doubles(L->net, out);
  if (!n->p.aff.W || !n->p.aff.b) return ld_err(L, err, CB_ENOMEM, "out of memory");
  *np = n;
  return idx;
}

/* Marks the node inexact if x*y is not exact in double. */
static double mul_exact(cb_node *n, double x, double y)
{
  double p = x * y;
  if (fma(x, y, -p) != 0) { n->exact = 0; n->rel_err = ROUND_U; }
  return p;
}

static int op_gemm(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x, *B, *C;
  int64_t ta = ld_attr_int(nd, "transA", 0), tb = ld_attr_int(nd, "transB", 0);
  double alpha = ld_attr_float(nd, "alpha", 1), beta = ld_attr_float(nd, "beta", 1);
  size_t M, K, N;
  cb_shape s;
  cb_node *n;
  double *bb = NULL;
  int idx, rc;
  if ((rc = need_inputs(L, nd, 2, 3, err)) != CB_OK) return rc;
  if (!(x = computed_in(L, nd, err)) || !(B = const_in(L, nd, 1, "weight B", err))) return err->status;
  C = in_val(L, nd, 2);
  if (x->shape.rank != 2 || B->shape.rank != 2)
    return ld_err(L, err, CB_ESHAPE, "A and B must be 2-D (A is %d-D, B is %d-D)", x->shape.rank, B->shape.rank);
  M = (size_t)x->shape.dim[ta ? 1 : 0];
  K = (size_t)x->shape.dim[ta ? 0 : 1];
  if (M != 1) return ld_err(L, err, CB_EUNSUP, "A has %zu rows per sample; 1 is supported", M);
  if ((size_t)B->shape.dim[tb ? 1 : 0] != K)
    return ld_err(L, err, CB_ESHAPE, "B is [%lld,%lld] (transB=%lld) but A has %zu columns",
                  (long long)B->shape.dim[0], (long long)B->shape.dim[1], (long long)tb, K);
  N = (size_t)B->shape.dim[tb ? 0 : 1];
  s.rank = 2; s.dim[0] = 1; s.dim[1] = (int64_t)N;
  if (C) {
    if (C->kind != V_CONST) return ld_err(L, err, CB_EUNSUP, "bias C is computed, not a constant");
    if (!(bb = broadcast(L, C, &s, err))) return err->status;
  }
  if ((idx = add_affine(L, nd, x, &s, N, K, &n, err)) < 0) return idx;
  if (!(n->w_init = arena_strdup(&L->net->arena, B->name))) return ld_err(L, err, CB_ENOMEM, "out of memory");
  n->w_trans = !tb;
  for (size_t o = 0; o < N; o++) {
    for (size_t k = 0; k < K; k++)
      n->p.aff.W[o * K + k] = mul_exact(n, alpha, B->d[tb ? o * K + k : k * N + o]);
    n->p.aff.b[o] = bb ? mul_exact(n, beta, bb[o]) : 0;
  }
  return ops_bind_node(L, nd, idx, err);
}

/* y = A x with a constant A [M,K] on the left: x is [K] or [...,K,1] (one column). */
static int matmul_left(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *A = in_val(L, nd, 0), *x = in_val(L, nd, 1);
  size_t M, K, lead = 1;
  cb_shape s;
  cb_node *n;
  int idx, col;
  if (!x || x->kind != V_NODE) return ld_err(L, err, CB_EUNSUP, "both operands are constants or missing");
  if (A->shape.rank != 2) return ld_err(L, err, CB_EUNSUP, "constant A is %d-D; 2-D is supported", A->shape.rank);
  M = (size_t)A->shape.dim[0];
  K = (size_t)A->shape.dim[1];
  col = x->shape.rank >= 2;
  for (int i = 0; i < x->shape.rank - 2; i++) lead *= (size_t)x->shape.dim[i];
  if ((col && (x->shape.dim[x->shape.rank - 1] != 1 || lead != 1)) || x->shape.rank < 1)
    return ld_err(L, err, CB_EUNSUP, "constant A times a computed matrix: one column is supported");
  if ((size_t)x->shape.dim[x->shape.rank - 1 - col] != K)
    return ld_err(L, err, CB_ESHAPE, "A is [%zu,%zu] but x has %lld rows", M, K,
                  (long long)x->shape.dim[x->shape.rank - 1 - col]);
  s = x->shape;
  s.dim[s.rank - 1 - col] = (int64_t)M;
  if ((idx = add_affine(L, nd, x, &s, M, K, &n, err)) < 0) return idx;
  if (!(n->w_init = arena_strdup(&L->net->arena, A->name))) return ld_err(L, err, CB_ENOMEM, "out of memory");
  memcpy(n->p.aff.W, A->d, M * K * sizeof(double));
  return ops_bind_node(L, nd, idx, err);
}

static int op_matmul(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x, *B;
  size_t K, N, lead = 1;
  cb_shape s;
  cb_node *n;
  int idx, rc;
  if ((rc = need_inputs(L, nd, 2, 2, err)) != CB_OK) return rc;
  x = in_val(L, nd, 0);
  if (x && x->kind == V_CONST) return matmul_left(L, nd, err);
  if (!(x = computed_in(L, nd, err)) || !(B = const_in(L, nd, 1, "weight B", err))) return err->status;
  if (B->shape.rank != 2) return ld_err(L, err, CB_EUNSUP, "B is %d-D; a 2-D constant B is supported", B->shape.rank);
  if (x->shape.rank < 1) return ld_err(L, err, CB_ESHAPE, "A is a scalar");
  K = (size_t)x->shape.dim[x->shape.rank - 1];
  for (int i = 0; i < x->shape.rank - 1; i++) lead *= (size_t)x->shape.dim[i];
  if ((size_t)B->shape.dim[0] != K)
    return ld_err(L, err, CB_ESHAPE, "A has %zu columns but B is [%lld,%lld]", K,
                  (long long)B->shape.dim[0], (long long)B->shape.dim[1]);
  if (lead != 1) return ld_err(L, err, CB_EUNSUP, "A has %zu rows per sample; 1 is supported", lead);
  N = (size_t)B->shape.dim[1];
  s = x->shape;
  s.dim[s.rank - 1] = (int64_t)N;
  if ((idx = add_affine(L, nd, x, &s, N, K, &n, err)) < 0) return idx;
  if (!(n->w_init = arena_strdup(&L->net->arena, B->name))) return ld_err(L, err, CB_ENOMEM, "out of memory");
  n->w_trans = 1;
  ld_transpose2(B->d, K, N, n->p.aff.W);   /* W[o K + k] = B[k N + o] */
  return ops_bind_node(L, nd, idx, err);
}

/* An activation; alpha0 is the op's default "alpha" (LeakyRelu, Elu,
   HardSigmoid, Selu); HardSigmoid's "beta" defaults to 0.5, Selu's "gamma"
   to 1.0507... (the float32 values of the ONNX defaults). */
static int op_act(ld *L, const Onnx__NodeProto *nd, cb_act type, double alpha0, cb_error *err)
{
  const val *x;
  int idx, rc;
  if ((rc = need_inputs(L, nd, 1, 1, err)) != CB_OK) return rc;
  if (!(x = computed_in(L, nd, err))) return err->status;
  idx = add(L, nd, CB_ACT, &x, 1, &x->shape, err);
  if (idx < 0) return ops_bind_node(L, nd, idx, err);
  L->net->node[idx].p.act.type = type;
  L->net->node[idx].p.act.alpha = ld_attr_float(nd, "alpha", alpha0);
  L->net->node[idx].p.act.beta = type == CB_ACT_HARD_SIGMOID ? ld_attr_float(nd, "beta", 0.5) : 0;
  L->net->node[idx].p.act.gamma = type == CB_ACT_SELU ? ld_attr_float(nd, "gamma", 1.05070102214813232421875) : 0;
  if ((type == CB_ACT_ELU || type == CB_ACT_HARD_SIGMOID || type == CB_ACT_SELU) && !(L->net->node[idx].p.act.alpha >= 0))
    return ld_err(L, err, CB_EUNSUP, "%s with alpha %g < 0 is not monotone (not supported)", nd->op_type,
                  L->net->node[idx].p.act.alpha);
  if (type == CB_ACT_SELU && !(L->net->node[idx].p.act.gamma >= 0))
    return ld_err(L, err, CB_EUNSUP, "Selu with gamma %g < 0 is not monotone (not supported)", L->net->node[idx].p.act.gamma);
  return ops_bind_node(L, nd, idx, err);
}

/* Clip: bounds are attributes before opset 11 and optional inputs from 11. */
static int op_clip(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x, *c;
  double lo = -HUGE_VAL, hi = HUGE_VAL;
  int idx, rc;
  if ((rc = need_inputs(L, nd, 1, 3, err)) != CB_OK) return rc;
  if (!(x = computed_in(L, nd, err))) return err->status;
  if (L->opset < 11) {
    lo = ld_attr_float(nd, "min", -HUGE_VAL);
    hi = ld_attr_float(nd, "max", HUGE_VAL);
  } else {
    for (size_t k = 1; k < 3; k++) {
      if (!in_val(L, nd, k)) continue;
      if (!(c = const_in(L, nd, k, k == 1 ? "min" : "max", err))) return err->status;
      if (c->n != 1) return ld_err(L, err, CB_ESHAPE, "%s must be a scalar", k == 1 ? "min" : "max");
      if (k == 1) lo = c->d[0]; else hi = c->d[0];
    }
  }
  if (!(lo <= hi)) return ld_err(L, err, CB_EVALUE, "min %g > max %g", lo, hi);
  idx = add(L, nd, CB_ACT, &x, 1, &x->shape, err);
  if (idx >= 0 && lo == 0 && hi == HUGE_VAL) L->net->node[idx].p.act.type = CB_ACT_RELU;
  else if (idx >= 0) { L->net->node[idx].p.act.type = CB_ACT_CLIP; L->net->node[idx].p.act.lo = lo; L->net->node[idx].p.act.hi = hi; }
  return ops_bind_node(L, nd, idx, err);
}

/* Binds output 0 to the same value as input 0 (Identity, Dropout, tail Softmax). */
int ops_alias(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x = in_val(L, nd, 0);
  val *v;
  if (!x) return ld_err(L, err, CB_EFORMAT, "missing input");
  if (!(v = ld_new_val(L, nd->output[0], err))) return CB_ENOMEM;
  { const char *nm = v->name; *v = *x; v->name = nm; }
  return CB_OK;
}

/* Reshape-like ops: a new shape for the same C-order data. */
static int reshape_to(ld *L, const Onnx__NodeProto *nd, const val *x, const cb_shape *s, cb_error *err)
{
  if (shape_size(s) != shape_size(&x->shape))
    return ld_err(L, err, CB_ESHAPE, "new shape has %zu elements, the tensor has %zu",
                  shape_size(s), shape_size(&x->shape));
  if (x->kind == V_CONST) {
    val *o = bind_const(L, nd, s, err);
    if (!o) return CB_ENOMEM;
    memcpy(o->d, x->d, x->n * sizeof(double));
    o->is_int = x->is_int;
    return CB_OK;
  }
  return ops_bind_node(L, nd, add(L, nd, CB_RESHAPE, &x, 1, s, err), err);
}

static int op_flatten(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x = in_val(L, nd, 0);
  int64_t axis = ld_attr_int(nd, "axis", 1), a = 1, b = 1;
  cb_shape s;
  if (!x) return ld_err(L, err, CB_EFORMAT, "missing input");
  if (axis < 0) axis += x->shape.rank;
  if (axis < 0 || axis > x->shape.rank) return ld_err(L, err, CB_ESHAPE, "axis out of range");
  for (int i = 0; i < x->shape.rank; i++) { if (i < axis) a *= x->shape.dim[i]; else b *= x->shape.dim[i]; }
  s.rank = 2; s.dim[0] = a; s.dim[1] = b;
  return reshape_to(L, nd, x, &s, err);
}

static int op_reshape(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x = in_val(L, nd, 0), *sh;
  cb_shape s;
  int neg = -1;
  int64_t known = 1, total;
  if (!x) return ld_err(L, err, CB_EFORMAT, "missing input");
  if (L->opset < 5) return ld_err(L, err, CB_EUNSUP, "Reshape-1 (shape attribute) is not supported");
  if (!(sh = const_in(L, nd, 1, "shape", err))) return err->status;
  if (sh->n > CB_MAX_RANK) return ld_err(L, err, CB_EUNSUP, "target rank %zu too large", sh->n);
  total = (int64_t)shape_size(&x->shape);
  s.rank = (int)sh->n;
  for (int i = 0; i < s.rank; i++) {
    int64_t d;
    if (ld_const_int(L, sh, (size_t)i, "shape", &d, err)) return err->status;
    if (d == 0 && !ld_attr_int(nd, "allowzero", 0)) {
      if (i >= x->shape.rank) return ld_err(L, err, CB_ESHAPE, "0 at position %d copies a missing dim", i);
      d = x->shape.dim[i];
    }
    if (d == -1) { if (neg >= 0) return ld_err(L, err, CB_ESHAPE, "two -1 entries"); neg = i; d = 1; }
    else if (d <= 0) return ld_err(L, err, CB_ESHAPE, "dimension %lld", (long long)d);
    s.dim[i] = d;
    if (d > total / known) /* known <= total: no overflow */
      return ld_err(L, err, CB_ESHAPE, "new shape has more elements than the tensor (%lld)", (long long)total);
    known *= d;
  }
  if (neg >= 0) {
    if (total % known) return ld_err(L, err, CB_ESHAPE, "%lld elements cannot fill shape with -1", (long long)total);
    s.dim[neg] = total / known;
  }
  return reshape_to(L, nd, x, &s, err);
}

/* Squeeze/Unsqueeze axes: attribute before opset 13, input from 13. */
static int axes_of(ld *L, const Onnx__NodeProto *nd, int64_t *ax, int *n, cb_error *err)
{
  const val *a;
  if (L->opset < 13) { *n = ld_attr_ints(nd, "axes", ax, CB_MAX_RANK); if (*n == -2) return ld_err(L, err, CB_EUNSUP, "too many axes"); return CB_OK; }
  if (!in_val(L, nd, 1)) { *n = -1; return CB_OK; }
  if (!(a = const_in(L, nd, 1, "axes", err))) return err->status;
  if (a->n > CB_MAX_RANK) return ld_err(L, err, CB_EUNSUP, "too many axes");
  for (size_t i = 0; i < a->n; i++)
    if (ld_const_int(L, a, i, "axes", &ax[i], err)) return err->status;
  *n = (int)a->n;
  return CB_OK;
}

static int op_squeeze(ld *L, const Onnx__NodeProto *nd, int unsq, cb_error *err)
{
  const val *x = in_val(L, nd, 0);
  int64_t ax[CB_MAX_RANK];
  int n = 0, rc, mark[2 * CB_MAX_RANK] = {0}, r;
  cb_shape s = {0};
  if (!x) return ld_err(L, err, CB_EFORMAT, "missing input");
  if ((rc = axes_of(L, nd, ax, &n, err)) != CB_OK) return rc;
  if (unsq && n < 0) return ld_err(L, err, CB_EFORMAT, "Unsqueeze without axes");
  r = unsq ? x->shape.rank + n : x->shape.rank;
  if (r > CB_MAX_RANK) return ld_err(L, err, CB_EUNSUP, "rank too large");
  for (int i = 0; i < n; i++) {
    int64_t a = ax[i] < 0 ? ax[i] + r : ax[i];
    if (a < 0 || a >= r) return ld_err(L, err, CB_ESHAPE, "axis %lld out of range", (long long)ax[i]);
    mark[a] = 1;
  }
  for (int i = 0, j = 0; i < r; i++) {
    if (unsq) { s.dim[s.rank++] = mark[i] ? 1 : x->shape.dim[j++]; continue; }
    if ((n < 0 && x->shape.dim[i] == 1) || mark[i]) {
      if (x->shape.dim[i] != 1) return ld_err(L, err, CB_ESHAPE, "cannot squeeze axis %d of size %lld", i, (long long)x->shape.dim[i]);
      continue;
    }
    s.dim[s.rank++] = x->shape.dim[i];
  }
  return reshape_to(L, nd, x, &s, err);
}

static int op_transpose(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x = in_val(L, nd, 0);
  int64_t perm[CB_MAX_RANK];
  int r, last = -1, order_kept = 1, idx;
  cb_shape s;
  if (!x) return ld_err(L, err, CB_EFORMAT, "missing input");
  if (x->kind != V_NODE) return ld_err(L, err, CB_EUNSUP, "Transpose of a constant is not supported");
  r = x->shape.rank;
  if (ld_perm(L, nd, &x->shape, perm, &s, err) != CB_OK) return err->status;
  for (int i = 0; i < r; i++)
    if (s.dim[i] != 1) { if (perm[i] < last) order_kept = 0; last = (int)perm[i]; }
  if (order_kept) return reshape_to(L, nd, x, &s, err);  /* only size-1 dims move: same data order */
  idx = add(L, nd, CB_TRANSPOSE, &x, 1, &s, err);
  if (idx >= 0) for (int i = 0; i < r; i++) L->net->node[idx].p.transpose.perm[i] = (int)perm[i];
  return ops_bind_node(L, nd, idx, err);
}

static int op_concat(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *xs[16];
  int64_t axis = ld_attr_int(nd, "axis", 1);
  cb_shape s;
  int n = (int)nd->n_input, idx;
  if (n < 1 || n > 16) return ld_err(L, err, CB_EUNSUP, "Concat of %d inputs (1 to 16 supported)", n);
  for (int i = 0; i < n; i++) {
    if (!(xs[i] = in_val(L, nd, (size_t)i))) return ld_err(L, err, CB_EFORMAT, "missing input %d", i);
    if (xs[i]->kind != V_NODE) return ld_err(L, err, CB_EUNSUP, "Concat with a constant operand is not supported");
  }
  s = xs[0]->shape;
  if (axis < 0) axis += s.rank;
  if (axis < 0 || axis >= s.rank) return ld_err(L, err, CB_ESHAPE, "axis out of range");
  for (int i = 1; i < n; i++) {
    if (xs[i]->shape.rank != s.rank) return ld_err(L, err, CB_ESHAPE, "operands differ in rank");
    for (int d = 0; d < s.rank; d++)
      if (d != axis && xs[i]->shape.dim[d] != s.dim[d])
        return ld_err(L, err, CB_ESHAPE, "operand %d differs in dimension %d (%lld vs %lld)", i, d,
                      (long long)xs[i]->shape.dim[d], (long long)s.dim[d]);
    s.dim[axis] += xs[i]->shape.dim[axis];
  }
  idx = add(L, nd, CB_CONCAT, xs, n, &s, err);
  if (idx >= 0) L->net->node[idx].p.concat.axis = (int)axis;
  return ops_bind_node(L, nd, idx, err);
}

static int op_constant(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const Onnx__AttributeProto *a = ld_attr(nd, "value");
  val *v;
  cb_shape s = {0};
  if (a && a->t) {
    if (!(v = ld_new_val(L, nd->output[0], err))) return CB_ENOMEM;
    return ld_tensor(L, a->t, "Constant value", v, err);
  }
  if ((a = ld_attr(nd, "value_float"))) {
    if (!(v = bind_const(L, nd, &s, err))) return CB_ENOMEM;
    v->d[0] = a->f;
    return CB_OK;
  }
  if ((a = ld_attr(nd, "value_floats")) || (a = ld_attr(nd, "value_ints"))) {
    int ints = a->n_ints > 0 || a->n_floats == 0;
    s.rank = 1;
    s.dim[0] = (int64_t)(ints ? a->n_ints : a->n_floats);
    if (!(v = bind_const(L, nd, &s, err))) return CB_ENOMEM;
    for (size_t i = 0; i < v->n; i++) v->d[i] = ints ? (double)a->ints[i] : (double)a->floats[i];
    v->is_int = ints;
    return CB_OK;
  }
  if ((a = ld_attr(nd, "value_int"))) {
    if (!(v = bind_const(L, nd, &s, err))) return CB_ENOMEM;
    v->d[0] = (double)a->i;
    v->is_int = 1;
    return CB_OK;
  }
  return ld_err(L, err, CB_EUNSUP, "Constant without a supported value attribute");
}

static int op_softmax(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  if (strcmp(nd->output[0], L->graph_output) != 0)
    return ld_err(L, err, CB_EUNSUP, "Softmax is supported only as the last node (it is dropped: "
                  "certificates are about logits)");
  net_warn(L->net, "trailing Softmax dropped: outputs are logits");
  return ops_alias(L, nd, err);
}


/* Outputs other than the first must not be read by any node or be the
   graph's output (Dropout mask, MaxPool indices, BN stats); declaring them
   is fine, as torch.onnx.export does for Dropout. */
static int extra_outputs_unused(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  if (nd->n_output > 1)
    for (size_t o = 1; o < nd->n_output; o++)
      if (ld_used(L, nd->output[o]))
        return ld_err(L, err, CB_EUNSUP, "output %zu (\"%s\") is used; only the first output is supported",
                      o, nd->output[o]);
  return CB_OK;
}

int ops_convert(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const char *op = nd->op_type ? nd->op_type : "";
  int rc;
  if (nd->domain && nd->domain[0] && strcmp(nd->domain, "ai.onnx") != 0)
    return ld_err(L, err, CB_EUNSUP, "operator domain \"%s\" is not supported", nd->domain);
  for (size_t k = 0; k < nd->n_input; k++) {
    const val *v = nd->input[k][0] ? ld_find(L, nd->input[k]) : NULL;
    if (v && v->kind == V_UNSUP) return 1;  /* depends on an unsupported node */
  }
  if (nd->n_output < 1) return ld_err(L, err, CB_EFORMAT, "has no output");
  if (strcmp(op, "Dropout") && strcmp(op, "MaxPool") && strcmp(op, "BatchNormalization") && strcmp(op, "Split") &&
      extra_outputs_unused(L, nd, err) != CB_OK) return err->status;
  if ((rc = ops_fold(L, nd, err)) != FOLD_NO) return rc;
  if ((rc = ops_sort(L, nd, err)) != FOLD_NO) return rc;   /* onnx_sort.c: GroupSort exports */
  if ((rc = ops_xfmr(L, nd, err)) != FOLD_NO) return rc;   /* onnx_xfmr.c: LayerNorm, reductions, selections */
  if (!strcmp(op, "Gemm")) return op_gemm(L, nd, err);
  if (!strcmp(op, "MatMul") && (rc = ops_attn(L, nd, err)) != FOLD_NO) return rc;
  if (!strcmp(op, "MatMul")) return op_matmul(L, nd, err);
  if (!strcmp(op, "Add")) return op_binary(L, nd, '+', err);
  if (!strcmp(op, "Sub")) return op_binary(L, nd, '-', err);
  if (!strcmp(op, "Mul")) return op_binary(L, nd, '*', err);
  if (!strcmp(op, "Div")) return op_binary(L, nd, '/', err);
  if (!strcmp(op, "Relu")) return op_act(L, nd, CB_ACT_RELU, 0, err);
  if (!strcmp(op, "LeakyRelu")) return op_act(L, nd, CB_ACT_LEAKY_RELU, 0.01, err);
  if (!strcmp(op, "Sigmoid")) return op_act(L, nd, CB_ACT_SIGMOID, 0, err);
  if (!strcmp(op, "Tanh")) return op_act(L, nd, CB_ACT_TANH, 0, err);
  if (!strcmp(op, "Elu")) return op_act(L, nd, CB_ACT_ELU, 1.0, err);
  if (!strcmp(op, "Softplus")) return op_act(L, nd, CB_ACT_SOFTPLUS, 0, err);
  if (!strcmp(op, "Exp")) return op_act(L, nd, CB_ACT_EXP, 0, err);
  if (!strcmp(op, "HardSigmoid")) return op_act(L, nd, CB_ACT_HARD_SIGMOID, 0.2, err);
  if (!strcmp(op, "Erf")) return op_act(L, nd, CB_ACT_ERF, 0, err);
  if (!strcmp(op, "Softsign")) return op_act(L, nd, CB_ACT_SOFTSIGN, 0, err);
  if (!strcmp(op, "Selu")) return op_act(L, nd, CB_ACT_SELU, 1.67326319217681884765625, err);
  if (!strcmp(op, "Clip")) return op_clip(L, nd, err);
  if (!strcmp(op, "Conv")) return ops_window(L, nd, 0, err);
  if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool") || !strcmp(op, "GlobalAveragePool")) {
    if (extra_outputs_unused(L, nd, err) != CB_OK) return err->status;
    return ops_window(L, nd, op[0] == 'M' ? 1 : op[0] == 'A' ? 2 : 3, err);
  }
  if (!strcmp(op, "BatchNormalization")) {
    if (extra_outputs_unused(L, nd, err) != CB_OK) return err->status;
    return ops_batchnorm(L, nd, err);
  }
  if (!strcmp(op, "Flatten")) return op_flatten(L, nd, err);
  if (!strcmp(op, "Reshape")) return op_reshape(L, nd, err);
  if (!strcmp(op, "Squeeze")) return op_squeeze(L, nd, 0, err);
  if (!strcmp(op, "Unsqueeze")) return op_squeeze(L, nd, 1, err);
  if (!strcmp(op, "Transpose")) return op_transpose(L, nd, err);
  if (!strcmp(op, "Concat")) return op_concat(L, nd, err);
  if (!strcmp(op, "Pad")) return ops_pad(L, nd, err);
  if (!strcmp(op, "Constant")) return op_constant(L, nd, err);
  if ((!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax")) && (rc = ops_attn(L, nd, err)) != FOLD_NO) return rc;
  if (!strcmp(op, "Softmax")) return op_softmax(L, nd, err);
  if (!strcmp(op, "Identity")) return ops_alias(L, nd, err);
  if (!strcmp(op, "Dropout")) {
    const val *tm = nd->n_input > 2 && nd->input[2][0] ? ld_find(L, nd->input[2]) : NULL;
    if (nd->n_output > 1 && ld_used(L, nd->output[1]))
      return ld_err(L, err, CB_EUNSUP, "Dropout mask output is used");
    if (tm && (tm->kind != V_CONST || tm->n != 1 || tm->d[0] != 0))
      return ld_err(L, err, CB_EUNSUP, "Dropout with training_mode not constant false (random: not an inference net)");
    return ops_alias(L, nd, err);
  }
  if ((rc = ops_elem(L, nd, err)) != FOLD_NO) return rc;
  return ld_err(L, err, CB_EUNSUP, "operator not supported");
}
