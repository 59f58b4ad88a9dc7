/*
** ONNX ops of transformer encoders on computed tensors (issue 19), built
** from existing kinds only, so every analyzer already has every transformer
** for them (as canon_attn.c builds Softmax):
**   ReduceSum / ReduceMean / ReduceSumSquare / ReduceL2 over any axes:
**     TRANSPOSE the reduced axes last (when they are not), RESHAPE [1,1,R,K],
**     CONV 1 x K stride K with weights 1 (Mean: fl(1/K); rel_err u unless K
**     is a power of two), RESHAPE.  SumSquare and L2 square first (POW 2),
**     L2 takes RELU (the identity on a sum of squares) and POW 0.5 after.  (ReduceMax/Min: onnx_sort.c.)
**   Add / Sub of two computed tensors, numpy broadcasting: an operand whose
**     shape is not the result's is broadcast by a selection (ops_select: unit
**     rows, exact); Sub is ADD of SCALE -1.
**   Gather with constant indices (the CLS token x[:, 0]), Slice, Expand of a
**     computed tensor: a selection whose map is the op's own constant fold
**     applied to the entries' indices (ops_fold_map, onnx_fold.c).
**   Where with a constant condition: SCALE by the 0/1 mask and its
**     complement (ADD of both when both branches are computed).
**   Concat with constant operands (the CLS token's parameter): each constant
**     is an AFFINE of the network input with W = 0 and bias c (exact).
**   LayerNormalization (opset 17) over the axes [axis, rank) of K entries,
**     per row x of K entries (R rows):
**       c = (I - 1 1^T / K) x              CONV 1 x K with K channels (the centring)
**       v = relu(1^T (c .* c) / K) + eps   POW 2, CONV 1 x K, RELU (the identity there:
**                                          a CROWN lower bound may dip below 0), SCALE
**       y = gamma .* c .* v^(-1/2) + beta  POW -0.5, MUL (v read once per row), SCALE
**     The centring is one linear map, so IBP does not lose the correlation
**     of x and its mean, and v^(-1/2) is one convex decreasing row, tighter
**     than Sqrt then Reciprocal.  The decomposed export (ReduceMean, Sub,
**     Pow, ReduceMean, Add, Sqrt, Div) loads through the rules above and
**     onnx_elem.c / onnx_attn.c; the same function, relaxed op by op.
** ops_xfmr returns FOLD_NO when the node is not one of these cases.
*/
#include <math.h>
#include <string.h>
#include "onnx_int.h"
#include "round.h"

static const val *in_v(ld *L, const Onnx__NodeProto *nd, size_t k)
{
  if (k >= nd->n_input || !nd->input[k][0]) return NULL;
  return ld_find(L, nd->input[k]);
}

static int same_dims(const cb_shape *a, const cb_shape *b)
{
  if (a->rank != b->rank) return 0;
  for (int i = 0; i < a->rank; i++) if (a->dim[i] != b->dim[i]) return 0;
  return 1;
}

static int node(ld *L, const Onnx__NodeProto *nd, cb_kind k, const int *in, int n_in, const cb_shape *s, cb_error *err)
{
  return net_add(L->net, k, ld_node_name(nd), nd->op_type, in, n_in, s, err);
}

/* SCALE y = a .* x + b of node x (a, b: size entries, copied; a NULL: 1). */
static int scale_node(ld *L, const Onnx__NodeProto *nd, int x, const double *a, const double *b, cb_error *err)
{
  cb_shape s = L->net->node[x].shape;
  int i = node(L, nd, CB_SCALE, &x, 1, &s, err);
  cb_node *n;
  if (i < 0) return i;
  n = &L->net->node[i];
  n->p.scale.a = net_doubles(L->net, n->size);
  n->p.scale.b = net_doubles(L->net, n->size);
  if (!n->p.scale.a || !n->p.scale.b) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (size_t e = 0; e < n->size; e++) {
    n->p.scale.a[e] = a ? a[e] : 1;
    n->p.scale.b[e] = b ? b[e] : 0;
  }
  return i;
}

/* Node x broadcast (numpy rules) to shape s: x itself, or a selection. */
static int bcast_node(ld *L, const Onnx__NodeProto *nd, int x, const cb_shape *s, cb_error *err)
{
  const cb_shape *xs = &L->net->node[x].shape;
  size_t n = shape_size(s), *map;
  int64_t idx[CB_MAX_RANK] = {0};
  int off = s->rank - xs->rank;
  if (same_dims(xs, s)) return x;
  if (shape_size(xs) == n) {   /* only size-1 dims added: same data order */
    cb_shape t = *s;
    return node(L, nd, CB_RESHAPE, &x, 1, &t, err);
  }
  if (!(map = arena_array(&L->tmp, n, sizeof *map))) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (size_t e = 0; e < n; e++) {
    size_t f = 0;
    for (int d = 0; d < xs->rank; d++) f = f * (size_t)xs->dim[d] + (size_t)(xs->dim[d] == 1 ? 0 : idx[d + off]);
    map[e] = f;
    for (int d = s->rank - 1; d >= 0 && ++idx[d] == s->dim[d]; d--) idx[d] = 0;
  }
  return ops_select(L, nd, x, map, s, err);
}

/*
** y[r, o] = sum_t W[o, t] x[r, t] + bias[o] for each of the R rows of K
** entries of node x (N outputs per row), shaped `out`: RESHAPE [1,1,R,K],
** CONV 1 x K stride K (N channels: [1,N,R,1]), TRANSPOSE [1,R,N,1] when
** N > 1, RESHAPE.  rel: the stored weights' relative error (0: exact).
*/
static int rows_linear(ld *L, const Onnx__NodeProto *nd, int x, int64_t R, int64_t K, int64_t N, const double *W,
                       const double *bias, double rel, const cb_shape *out, cb_error *err)
{
  int64_t d[4] = {1, 1, R, K};
  cb_shape s;
  int i, c;
  cb_conv g = {.cin = 1, .hin = R, .win = K, .cout = N, .hout = R, .wout = 1, .kh = 1, .kw = K, .sh = 1, .sw = K,
               .dh = 1, .dw = 1, .groups = 1};
  cb_node *n;
  shape_set(&s, 4, d);
  if ((i = node(L, nd, CB_RESHAPE, &x, 1, &s, err)) < 0) return i;
  d[1] = N; d[2] = R; d[3] = 1;
  shape_set(&s, 4, d);
  if ((c = node(L, nd, CB_CONV, &i, 1, &s, err)) < 0) return c;
  n = &L->net->node[c];
  n->p.conv.g = g;
  n->p.conv.W = net_doubles(L->net, (size_t)(N * K));
  n->p.conv.b = net_doubles(L->net, (size_t)N);
  if (!n->p.conv.W || !n->p.conv.b) return ld_err(L, err, CB_ENOMEM, "out of memory");
  memcpy(n->p.conv.W, W, (size_t)(N * K) * sizeof *W);
  if (bias) memcpy(n->p.conv.b, bias, (size_t)N * sizeof *bias);
  n->exact = rel == 0;
  n->rel_err = rel;
  if (N > 1) {
    d[1] = R; d[2] = N;
    shape_set(&s, 4, d);
    if ((i = node(L, nd, CB_TRANSPOSE, &c, 1, &s, err)) < 0) return i;
    L->net->node[i].p.transpose.perm[0] = 0; L->net->node[i].p.transpose.perm[1] = 2;
    L->net->node[i].p.transpose.perm[2] = 1; L->net->node[i].p.transpose.perm[3] = 3;
    c = i;
  }
  s = *out;
  return node(L, nd, CB_RESHAPE, &c, 1, &s, err);
}

/* fl(1/K) and whether it is exact (K a power of two). */
static double inv_of(int64_t K, int *exact)
{
  double v = 1.0 / (double)K;
  *exact = fma(v, (double)K, -1.0) == 0;
  return v;
}

static int pow_node(ld *L, const Onnx__NodeProto *nd, int x, double p, cb_error *err)
{
  int i = net_add_act(L->net, CB_ACT_POW, ld_node_name(nd), nd->op_type, x, err);
  if (i >= 0) L->net->node[i].p.act.alpha = p;
  return i;
}

/* ReduceSum/Mean/SumSquare/L2 of a computed tensor. */
static int op_reduce(ld *L, const Onnx__NodeProto *nd, const val *x, const char *kind, cb_error *err)
{
  int64_t ax[CB_MAX_RANK], R = 1, K = 1;
  int n, r = x->shape.rank, red[CB_MAX_RANK] = {0}, perm[CB_MAX_RANK], np = 0, keep = (int)ld_attr_int(nd, "keepdims", 1);
  int from_input = L->opset >= 18 || (!strcmp(kind, "Sum") && L->opset >= 13), y = x->node, ident = 1;
  cb_shape s = {0}, ts;
  double *W;
  if (from_input) {
    const val *a = in_v(L, nd, 1);
    if (!a) n = -1;
    else if (a->kind != V_CONST) return ld_err(L, err, CB_EUNSUP, "axes \"%s\" are computed, not a constant", a->name);
    else if (a->n > CB_MAX_RANK) return ld_err(L, err, CB_EUNSUP, "too many axes");
    else {
      n = (int)a->n;
      for (int i = 0; i < n; i++) if (ld_const_int(L, a, (size_t)i, "axes", &ax[i], err)) return err->status;
    }
  } else if ((n = ld_attr_ints(nd, "axes", ax, CB_MAX_RANK)) == -2) return ld_err(L, err, CB_EUNSUP, "too many axes");
  if (n <= 0) {
    if (n == 0 && ld_attr_int(nd, "noop_with_empty_axes", 0)) return ops_alias(L, nd, err);
    for (n = 0; n < r; n++) ax[n] = n;
  }
  for (int i = 0; i < n; i++) {
    int64_t a = ax[i] < 0 ? ax[i] + r : ax[i];
    if (a < 0 || a >= r) return ld_err(L, err, CB_ESHAPE, "axis %lld out of range for rank %d", (long long)ax[i], r);
    red[a] = 1;
  }
  for (int d = 0; d < r; d++) if (!red[d]) { perm[np++] = d; R *= x->shape.dim[d]; }
  for (int d = 0; d < r; d++) if (red[d]) { perm[np++] = d; K *= x->shape.dim[d]; }
  for (int d = 0, last = -1; d < r; d++)   /* only size-1 dims move: the same data order */
    if (x->shape.dim[perm[d]] != 1) { if (perm[d] < last) ident = 0; last = perm[d]; }
  if (K == 0 || R == 0) return ld_err(L, err, CB_EUNSUP, "reduction of an empty tensor");
  for (int d = 0; d < r; d++)
    if (!red[d]) s.dim[s.rank++] = x->shape.dim[d];
    else if (keep) s.dim[s.rank++] = 1;
  if (!ident) {   /* the reduced axes last */
    ts.rank = r;
    for (int d = 0; d < r; d++) ts.dim[d] = x->shape.dim[perm[d]];
    if ((y = node(L, nd, CB_TRANSPOSE, &y, 1, &ts, err)) < 0) return y;
    memcpy(L->net->node[y].p.transpose.perm, perm, sizeof perm);
  }
  if ((!strcmp(kind, "SumSquare") || !strcmp(kind, "L2")) && (y = pow_node(L, nd, y, 2, err)) < 0) return y;
  if (!(W = arena_array(&L->tmp, (size_t)K, sizeof *W))) return ld_err(L, err, CB_ENOMEM, "out of memory");
  {
    int ex = 1;
    double w = !strcmp(kind, "Mean") ? inv_of(K, &ex) : 1;
    for (int64_t t = 0; t < K; t++) W[t] = w;
    if ((y = rows_linear(L, nd, y, R, K, 1, W, NULL, ex ? 0 : ROUND_U, &s, err)) < 0) return y;
  }
  if (!strcmp(kind, "L2")) {   /* RELU: the identity on the sum of squares (>= 0), so POW 0.5 sees a box in
                                  [0, inf) even where a CROWN lower bound of the sum is below 0 */
    if ((y = net_add_act(L->net, CB_ACT_RELU, ld_node_name(nd), nd->op_type, y, err)) < 0) return y;
    if ((y = pow_node(L, nd, y, 0.5, err)) < 0) return y;
  }
  return ops_bind_node(L, nd, y, err);
}

/* Add / Sub of two computed tensors (any shapes that broadcast). */
static int op_addsub(ld *L, const Onnx__NodeProto *nd, const val *a, const val *b, int sub, cb_error *err)
{
  cb_shape s;
  int in2[2];
  if (!ops_bshape(&a->shape, &b->shape, &s)) return ld_err(L, err, CB_ESHAPE, "operand shapes do not broadcast");
  if ((in2[0] = bcast_node(L, nd, a->node, &s, err)) < 0) return in2[0];
  if ((in2[1] = bcast_node(L, nd, b->node, &s, err)) < 0) return in2[1];
  if (sub) {
    size_t n = shape_size(&s);
    double *m = arena_array(&L->tmp, n, sizeof *m);
    if (!m) return ld_err(L, err, CB_ENOMEM, "out of memory");
    for (size_t e = 0; e < n; e++) m[e] = -1;
    if ((in2[1] = scale_node(L, nd, in2[1], m, NULL, err)) < 0) return in2[1];
    L->net->node[in2[1]].exact = 1;
  }
  return ops_bind_node(L, nd, node(L, nd, CB_ADD, in2, 2, &s, err), err);
}

/* Where(cond, X, Y) with a constant cond. */
static int op_where(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *c = in_v(L, nd, 0), *x = in_v(L, nd, 1), *y = in_v(L, nd, 2);
  cb_shape s, t;
  double *cd, *m1, *m0, *b;
  size_t n;
  int ix = -1, iy = -1, in2[2];
  if (nd->n_input != 3 || !c || !x || !y) return ld_err(L, err, CB_EFORMAT, "Where needs 3 inputs");
  if (c->kind != V_CONST) return ld_err(L, err, CB_EUNSUP, "Where with a computed condition \"%s\" is not supported", c->name);
  if (x->kind == V_UNSUP || y->kind == V_UNSUP) return 1;
  if (!ops_bshape(&c->shape, &x->shape, &t) || !ops_bshape(&t, &y->shape, &s))
    return ld_err(L, err, CB_ESHAPE, "operand shapes do not broadcast");
  n = shape_size(&s);
  if (!(cd = ops_broadcast(L, c, &s, err))) return err->status;
  m1 = arena_array(&L->tmp, n, sizeof *m1);
  m0 = arena_array(&L->tmp, n, sizeof *m0);
  b = arena_array(&L->tmp, n, sizeof *b);
  if (!m1 || !m0 || !b) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (size_t e = 0; e < n; e++) { m1[e] = cd[e] != 0; m0[e] = cd[e] == 0; b[e] = 0; }
  if (x->kind == V_NODE && (ix = bcast_node(L, nd, x->node, &s, err)) < 0) return ix;
  if (y->kind == V_NODE && (iy = bcast_node(L, nd, y->node, &s, err)) < 0) return iy;
  if (x->kind == V_CONST) {
    double *xd = ops_broadcast(L, x, &s, err);
    if (!xd) return err->status;
    for (size_t e = 0; e < n; e++) if (m1[e]) b[e] = xd[e];
  }
  if (y->kind == V_CONST) {
    double *yd = ops_broadcast(L, y, &s, err);
    if (!yd) return err->status;
    for (size_t e = 0; e < n; e++) if (m0[e]) b[e] = yd[e];
  }
  if (ix >= 0 && iy >= 0) {
    if ((in2[0] = scale_node(L, nd, ix, m1, NULL, err)) < 0) return in2[0];
    if ((in2[1] = scale_node(L, nd, iy, m0, NULL, err)) < 0) return in2[1];
    return ops_bind_node(L, nd, node(L, nd, CB_ADD, in2, 2, &s, err), err);
  }
  if (ix >= 0) return ops_bind_node(L, nd, scale_node(L, nd, ix, m1, b, err), err);
  if (iy >= 0) return ops_bind_node(L, nd, scale_node(L, nd, iy, m0, b, err), err);
  return FOLD_NO;   /* both constant: not ours */
}

/* Concat in which some operands are constants. */
static int op_concat_const(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  int ids[16], n = (int)nd->n_input, idx;
  int64_t axis = ld_attr_int(nd, "axis", 1);
  cb_shape s;
  if (n < 1 || n > 16) return ld_err(L, err, CB_EUNSUP, "Concat of %d inputs (1 to 16 supported)", n);
  for (int i = 0; i < n; i++) {
    const val *v = in_v(L, nd, (size_t)i);
    if (!v) return ld_err(L, err, CB_EFORMAT, "missing input %d", i);
    if (v->kind == V_NODE) { ids[i] = v->node; continue; }
    {   /* the constant as 0 x + c */
      size_t cols = L->net->node[0].size, nw;
      int in0 = 0, k;
      cb_node *a;
      cb_shape cs = v->shape;
      if (!cb_mul_size(v->n, cols, &nw) || nw > ((size_t)1 << 24))
        return ld_err(L, err, CB_EUNSUP, "Concat operand %d: a constant of %zu entries with an input of %zu is above "
                      "2^24 weights", i, v->n, cols);
      if ((k = node(L, nd, CB_AFFINE, &in0, 1, &cs, err)) < 0) return k;
      a = &L->net->node[k];
      a->p.aff.out = v->n;
      a->p.aff.in = cols;
      a->p.aff.W = net_doubles(L->net, nw);
      a->p.aff.b = net_doubles(L->net, v->n);
      if (!a->p.aff.W || !a->p.aff.b) return ld_err(L, err, CB_ENOMEM, "out of memory");
      memcpy(a->p.aff.b, v->d, v->n * sizeof *v->d);
      ids[i] = k;
    }
  }
  s = L->net->node[ids[0]].shape;
  if (axis < 0) axis += s.rank;
  if (axis < 0 || axis >= s.rank) return ld_err(L, err, CB_ESHAPE, "axis out of range");
  for (int i = 1; i < n; i++) {
    const cb_shape *t = &L->net->node[ids[i]].shape;
    if (t->rank != s.rank) return ld_err(L, err, CB_ESHAPE, "operands differ in rank");
    for (int d = 0; d < s.rank; d++)
      if (d != axis && t->dim[d] != s.dim[d])
        return ld_err(L, err, CB_ESHAPE, "operand %d differs in dimension %d (%lld vs %lld)", i, d, (long long)t->dim[d],
                      (long long)s.dim[d]);
    s.dim[axis] += t->dim[axis];
  }
  if ((idx = node(L, nd, CB_CONCAT, ids, n, &s, err)) >= 0) L->net->node[idx].p.concat.axis = (int)axis;
  return ops_bind_node(L, nd, idx, err);
}

/* LayerNormalization(X, Scale, B) over [axis, rank). */
static int op_layernorm(ld *L, const Onnx__NodeProto *nd, const val *x, cb_error *err)
{
  const val *g = in_v(L, nd, 1), *bb = in_v(L, nd, 2);
  int64_t axis = ld_attr_int(nd, "axis", -1), R = 1, K = 1;
  double eps = ld_attr_float(nd, "epsilon", 1e-5), inv, *M, *gd, *bd = NULL, *e1, *ga, *gb;
  cb_shape ns = {0}, vs = {0};
  int r = x->shape.rank, ex, c, y, in2[2];
  size_t *i1, n;
  if (!g || g->kind != V_CONST) return ld_err(L, err, CB_EUNSUP, "LayerNormalization with a computed or missing Scale");
  if (bb && bb->kind != V_CONST) return ld_err(L, err, CB_EUNSUP, "LayerNormalization with a computed bias B");
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) return ld_err(L, err, CB_ESHAPE, "axis out of range");
  if (!(eps > 0) || !isfinite(eps)) return ld_err(L, err, CB_EVALUE, "epsilon %g is not positive and finite", eps);
  for (int d = 0; d < r; d++) {
    if (d < axis) R *= x->shape.dim[d];
    else { K *= x->shape.dim[d]; ns.dim[ns.rank++] = x->shape.dim[d]; }
  }
  if (K < 2) return ld_err(L, err, CB_EUNSUP, "LayerNormalization over %lld entry (its output is the constant B)", (long long)K);
  if (!(gd = ops_broadcast(L, g, &ns, err))) return err->status;
  if (bb && !(bd = ops_broadcast(L, bb, &ns, err))) return err->status;
  inv = inv_of(K, &ex);
  if (!(M = arena_array(&L->tmp, (size_t)(K * K), sizeof *M))) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (int64_t o = 0; o < K; o++)
    for (int64_t t = 0; t < K; t++) M[o * K + t] = (o == t) - inv;
  /* 1 - fl(1/K) and -fl(1/K): relative error below 4u when K is not a power of two (K >= 3) */
  if ((c = rows_linear(L, nd, x->node, R, K, K, M, NULL, ex ? 0 : 4 * ROUND_U, &x->shape, err)) < 0) return c;
  if ((y = pow_node(L, nd, c, 2, err)) < 0) return y;
  vs.rank = 2; vs.dim[0] = 1; vs.dim[1] = R;
  for (int64_t t = 0; t < K; t++) M[t] = inv;
  if ((y = rows_linear(L, nd, y, R, K, 1, M, NULL, ex ? 0 : ROUND_U, &vs, err)) < 0) return y;
  /* RELU is the identity on the variance (>= 0); it keeps v + eps >= eps > 0 for POW -0.5 where a
     CROWN lower bound of the mean of squares is below -eps */
  if ((y = net_add_act(L->net, CB_ACT_RELU, ld_node_name(nd), nd->op_type, y, err)) < 0) return y;
  if (!(e1 = arena_array(&L->tmp, (size_t)R, sizeof *e1))) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (int64_t t = 0; t < R; t++) e1[t] = eps;
  if ((y = scale_node(L, nd, y, NULL, e1, err)) < 0) return y;
  L->net->node[y].exact = 1;
  if ((y = pow_node(L, nd, y, -0.5, err)) < 0) return y;
  n = shape_size(&x->shape);
  if (!(i1 = arena_array(&L->net->arena, n, sizeof *i1))) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (size_t e = 0; e < n; e++) i1[e] = e / (size_t)K;
  in2[0] = c; in2[1] = y;
  if ((y = node(L, nd, CB_MUL, in2, 2, &x->shape, err)) < 0) return y;
  L->net->node[y].p.mul.i0 = NULL;
  L->net->node[y].p.mul.i1 = i1;
  ga = arena_array(&L->tmp, n, sizeof *ga);
  gb = arena_array(&L->tmp, n, sizeof *gb);
  if (!ga || !gb) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (size_t e = 0; e < n; e++) { ga[e] = gd[e % (size_t)K]; gb[e] = bd ? bd[e % (size_t)K] : 0; }
  if ((y = scale_node(L, nd, y, ga, gb, err)) < 0) return y;
  L->net->node[y].exact = 1;
  return ops_bind_node(L, nd, y, err);
}

int ops_xfmr(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const char *op = nd->op_type ? nd->op_type : "";
  const val *x = in_v(L, nd, 0);
  if (!strcmp(op, "Where")) return op_where(L, nd, err);
  if (!strcmp(op, "Concat")) {
    int nconst = 0, nnode = 0;
    for (size_t k = 0; k < nd->n_input; k++) {
      const val *v = in_v(L, nd, k);
      nconst += v && v->kind == V_CONST;
      nnode += v && v->kind == V_NODE;
    }
    return nconst && nnode ? op_concat_const(L, nd, err) : FOLD_NO;
  }
  if (!x || x->kind != V_NODE) return FOLD_NO;
  if (!strcmp(op, "LayerNormalization")) return op_layernorm(L, nd, x, err);
  if (!strcmp(op, "ReduceSum") || !strcmp(op, "ReduceMean") || !strcmp(op, "ReduceSumSquare") || !strcmp(op, "ReduceL2"))
    return op_reduce(L, nd, x, op + 6, err);
  if ((!strcmp(op, "Add") || !strcmp(op, "Sub")) && nd->n_input == 2) {
    const val *b = in_v(L, nd, 1);
    if (!b || b->kind != V_NODE) return FOLD_NO;
    if (op[0] == 'A' && same_dims(&x->shape, &b->shape)) return FOLD_NO;
    return op_addsub(L, nd, x, b, op[0] == 'S', err);
  }
  if (!strcmp(op, "Gather") || !strcmp(op, "Slice") || !strcmp(op, "Expand")) {
    size_t *map;
    cb_shape s;
    int rc = ops_fold_map(L, nd, &x->shape, &map, &s, err);
    if (rc != CB_OK) return rc;
    return ops_bind_node(L, nd, ops_select(L, nd, x->node, map, &s, err), err);
  }
  return FOLD_NO;
}
