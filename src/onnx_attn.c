/*
** ONNX ops of attention blocks on computed tensors (canon_attn.c builds
** the canonical nodes):
**   Mul of two computed tensors (numpy broadcasting) -> MUL with index maps;
**   Div of two computed tensors -> MUL by POW -1 of the divisor (the
**     divisor's box must then lie in (0, inf) or (-inf, 0): IBP says so);
**   MatMul of two computed tensors [..., m, k] x [..., k, n] (leading dims
**     equal, or one operand without them) -> net_add_matmul;
**   MatMul of a computed [..., T, K] with T > 1 rows by a constant [K, N]
**     -> RESHAPE, CONV 1 x K stride K (N channels), TRANSPOSE, RESHAPE
**     (the weights applied to every row without a block-diagonal matrix);
**   Softmax / LogSoftmax (opset 13 semantics: one axis, default -1; before
**     13 the default axis 1 flattens the tail, taken as the last axis only
**     when that is the same) that is not the graph's output -> net_add_softmax.
** Called from onnx_ops.c; FOLD_NO: not ours.
*/
#include <string.h>
#include "onnx_int.h"

static val *in_v(ld *L, const Onnx__NodeProto *nd, size_t k)
{
  if (k >= nd->n_input || !nd->input[k][0]) return NULL;
  return ld_find(L, nd->input[k]);
}

/* Flat index in shape x of output multi-index idx of broadcast shape s. */
static size_t bcast_at(const cb_shape *x, const cb_shape *s, const int64_t *idx)
{
  size_t f = 0;
  int off = s->rank - x->rank;
  for (int d = 0; d < x->rank; d++) f = f * (size_t)x->dim[d] + (size_t)(x->dim[d] == 1 ? 0 : idx[d + off]);
  return f;
}

static int same_dims(const cb_shape *a, const cb_shape *b)
{
  if (a->rank != b->rank) return 0;
  for (int i = 0; i < a->rank; i++) if (a->dim[i] != b->dim[i]) return 0;
  return 1;
}

/* MUL of nodes x and y with broadcast shapes xs, ys; index of the node. */
static int mul_nodes(ld *L, const Onnx__NodeProto *nd, int x, const cb_shape *xs, int y, const cb_shape *ys, cb_error *err)
{
  cb_shape s;
  int in2[2] = {x, y}, i;
  size_t *i0 = NULL, *i1 = NULL, n;
  int64_t idx[CB_MAX_RANK] = {0};
  if (!ops_bshape(xs, ys, &s)) return ld_err(L, err, CB_ESHAPE, "operand shapes do not broadcast");
  n = shape_size(&s);
  if (!same_dims(xs, &s) || !same_dims(ys, &s)) {
    i0 = arena_array(&L->net->arena, n, sizeof *i0);
    i1 = arena_array(&L->net->arena, n, sizeof *i1);
    if (!i0 || !i1) return ld_err(L, err, CB_ENOMEM, "out of memory");
    for (size_t e = 0; e < n; e++) {
      i0[e] = bcast_at(xs, &s, idx);
      i1[e] = bcast_at(ys, &s, idx);
      for (int d = s.rank - 1; d >= 0 && ++idx[d] == s.dim[d]; d--) idx[d] = 0;
    }
  }
  if ((i = net_add(L->net, CB_MUL, ld_node_name(nd), nd->op_type, in2, 2, &s, err)) < 0) return i;
  L->net->node[i].p.mul.i0 = i0;
  L->net->node[i].p.mul.i1 = i1;
  return i;
}

int ops_product(ld *L, const Onnx__NodeProto *nd, const val *a, const val *b, int div, cb_error *err)
{
  int y = b->node;
  if (div) {
    if ((y = net_add_act(L->net, CB_ACT_POW, ld_node_name(nd), nd->op_type, b->node, err)) < 0) return y;
    L->net->node[y].p.act.alpha = -1;
  }
  return ops_bind_node(L, nd, mul_nodes(L, nd, a->node, &a->shape, y, &b->shape, err), err);
}

/* x [..., T, K] computed, B [K, N] constant, T * lead > 1. */
static int matmul_rows(ld *L, const Onnx__NodeProto *nd, const val *x, const val *B, cb_error *err)
{
  int64_t K = x->shape.dim[x->shape.rank - 1], N = B->shape.dim[1], R = (int64_t)(shape_size(&x->shape) / (size_t)K);
  int64_t d[4] = {1, 1, R, K};
  cb_shape s;
  int i, c;
  cb_conv g = {.cin = 1, .hin = R, .win = K, .cout = N, .hout = R, .wout = 1, .kh = 1, .kw = K, .sh = 1, .sw = K,
               .dh = 1, .dw = 1, .groups = 1};
  const char *nm = ld_node_name(nd);
  shape_set(&s, 4, d);
  if ((i = net_add(L->net, CB_RESHAPE, nm, nd->op_type, &x->node, 1, &s, err)) < 0) return i;
  d[1] = N; d[2] = R; d[3] = 1;
  shape_set(&s, 4, d);
  if ((c = net_add(L->net, CB_CONV, nm, nd->op_type, &i, 1, &s, err)) < 0) return c;
  L->net->node[c].p.conv.g = g;
  L->net->node[c].p.conv.W = net_doubles(L->net, (size_t)(N * K));
  L->net->node[c].p.conv.b = net_doubles(L->net, (size_t)N);
  if (!L->net->node[c].p.conv.W || !L->net->node[c].p.conv.b) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (int64_t o = 0; o < N; o++)
    for (int64_t t = 0; t < K; t++) L->net->node[c].p.conv.W[o * K + t] = B->d[t * N + o];
  d[1] = R; d[2] = N;
  shape_set(&s, 4, d);
  if ((i = net_add(L->net, CB_TRANSPOSE, nm, nd->op_type, &c, 1, &s, err)) < 0) return i;
  L->net->node[i].p.transpose.perm[0] = 0; L->net->node[i].p.transpose.perm[1] = 2;
  L->net->node[i].p.transpose.perm[2] = 1; L->net->node[i].p.transpose.perm[3] = 3;
  s = x->shape;
  s.dim[s.rank - 1] = N;
  return ops_bind_node(L, nd, net_add(L->net, CB_RESHAPE, nm, nd->op_type, &i, 1, &s, err), err);
}

/* Both computed: a [..., m, k], b [..., k, n]. */
static int matmul_both(ld *L, const Onnx__NodeProto *nd, const val *a, const val *b, cb_error *err)
{
  const cb_shape *as = &a->shape, *bs = &b->shape;
  int64_t m, k, n, La = 1, Lb = 1;
  cb_shape s;
  if (as->rank < 2 || bs->rank < 2) return ld_err(L, err, CB_EUNSUP, "MatMul of computed vectors (1-D) is not supported");
  m = as->dim[as->rank - 2]; k = as->dim[as->rank - 1]; n = bs->dim[bs->rank - 1];
  if (bs->dim[bs->rank - 2] != k)
    return ld_err(L, err, CB_ESHAPE, "inner dimensions differ (%lld vs %lld)", (long long)k, (long long)bs->dim[bs->rank - 2]);
  for (int d = 0; d < as->rank - 2; d++) La *= as->dim[d];
  for (int d = 0; d < bs->rank - 2; d++) Lb *= bs->dim[d];
  if (La != Lb && La != 1 && Lb != 1)
    return ld_err(L, err, CB_EUNSUP, "leading dimensions differ (%lld vs %lld blocks)", (long long)La, (long long)Lb);
  s = La >= Lb ? *as : *bs;
  s.dim[s.rank - 2] = m;
  s.dim[s.rank - 1] = n;
  return ops_bind_node(L, nd, net_add_matmul(L->net, ld_node_name(nd), nd->op_type, a->node, b->node, La > Lb ? La : Lb,
                                             m, k, n, 0, &s, err), err);
}

int ops_attn(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const char *op = nd->op_type ? nd->op_type : "";
  if (!strcmp(op, "MatMul") && nd->n_input == 2) {
    const val *a = in_v(L, nd, 0), *b = in_v(L, nd, 1);
    if (!a || !b) return FOLD_NO;
    if (a->kind == V_NODE && b->kind == V_NODE) return matmul_both(L, nd, a, b, err);
    if (a->kind == V_NODE && b->kind == V_CONST && b->shape.rank == 2 && a->shape.rank >= 2 &&
        shape_size(&a->shape) / (size_t)a->shape.dim[a->shape.rank - 1] > 1 &&
        a->shape.dim[a->shape.rank - 1] == b->shape.dim[0])
      return matmul_rows(L, nd, a, b, err);
    return FOLD_NO;
  }
  if ((!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax")) && nd->n_input == 1 &&
      strcmp(nd->output[0], L->graph_output) != 0) {
    const val *x = in_v(L, nd, 0);
    int64_t axis = ld_attr_int(nd, "axis", L->opset >= 13 ? -1 : 1);
    if (!x || x->kind != V_NODE) return FOLD_NO;
    if (axis < 0) axis += x->shape.rank;
    if (axis < 0 || axis >= x->shape.rank) return ld_err(L, err, CB_ESHAPE, "axis out of range");
    if (L->opset < 13 && axis != x->shape.rank - 1) {   /* the old semantics: softmax of the flattened tail */
      for (int d = (int)axis + 1; d < x->shape.rank; d++)
        if (x->shape.dim[d] != 1) return ld_err(L, err, CB_EUNSUP, "opset < 13 %s over a flattened tail of several axes", op);
    }
    return ops_bind_node(L, nd, net_add_softmax(L->net, ld_node_name(nd), op, x->node, (int)axis, op[0] == 'L', err), err);
  }
  return FOLD_NO;
}
