/*
** ONNX loader, part 3: the ops that 1-Lipschitz networks (deel-lip,
** deel-torchlip, orthogonium) export their GroupSort / MaxMin / FullSort
** activations to, mapped onto SORT (net.h, sort.h) and exact index maps:
**   TopK(k, axis, largest)     SORT over the axis (largest: largest first), then
**                              the first k ranks when k < the axis (a selection);
**   ReduceMax / ReduceMin      SORT (smallest first) over the reduced axes (one
**                              contiguous run), then the last / first rank;
**   Max(a, b) / Min(a, b)      SORT of the pairs of [a; b] (a CONCAT), the upper /
**                              lower half;
**   Split                      one selection per output;
**   Neg                        SCALE by -1.
** A selection is an AFFINE whose rows are unit vectors and whose bias is 0:
** exact (each output is one input entry); dense, so refused above 2^24
** entries (a Split of a 2048-entry tensor is 2^21).  Nodes built twice from the same
** inputs (the SORT read by both ReduceMax and ReduceMin, the CONCAT read by
** both Max and Min) are shared, so canon_sort (canon_sort.c) can fold the
** selections around one SORT back into the SORT every export has in common.
*/
#include <string.h>
#include "onnx_int.h"

static val *input_of(ld *L, const Onnx__NodeProto *nd, size_t k)
{
  if (k >= nd->n_input || !nd->input[k][0]) return NULL;
  return ld_find(L, nd->input[k]);
}

/* Input 0, which must be computed from the network input. */
static const val *computed(ld *L, const Onnx__NodeProto *nd, size_t k, cb_error *err)
{
  const val *x = input_of(L, nd, k);
  if (!x) { ld_err(L, err, CB_EFORMAT, "missing input %zu", k); return NULL; }
  if (x->kind != V_NODE) { ld_err(L, err, CB_EUNSUP, "input %zu is a constant; only computed tensors are supported here", k); return NULL; }
  return x;
}

/* Binds ONNX value `name` to canonical node idx. */
static int bind(ld *L, const char *name, int idx, cb_error *err)
{
  val *v;
  if (idx < 0) return idx;
  if (!(v = ld_new_val(L, name, err))) return CB_ENOMEM;
  v->kind = V_NODE;
  v->node = idx;
  v->shape = L->net->node[idx].shape;
  return CB_OK;
}

static int same_shape(const cb_shape *a, const cb_shape *b)
{
  if (a->rank != b->rank) return 0;
  for (int d = 0; d < a->rank; d++) if (a->dim[d] != b->dim[d]) return 0;
  return 1;
}

/* An existing node of kind k reading exactly in[0..n_in) with shape s and
   parameters (RESHAPE: none; CONCAT: axis p0; SORT: g p0, inner p1, desc p2), or -1. */
static int find_same(const cb_net *net, cb_kind k, const int *in, int n_in, const cb_shape *s, int64_t p0, int64_t p1,
                     int64_t p2)
{
  for (int i = 1; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    int ok = n->kind == k && n->n_in == n_in && same_shape(&n->shape, s);
    for (int j = 0; ok && j < n_in; j++) ok = n->in[j] == in[j];
    if (ok && k == CB_CONCAT) ok = n->p.concat.axis == p0;
    if (ok && k == CB_SORT) ok = n->p.sort.g == p0 && n->p.sort.inner == p1 && n->p.sort.desc == p2;
    if (ok) return i;
  }
  return -1;
}

static int reshape_node(ld *L, const Onnx__NodeProto *nd, int x, const cb_shape *s, cb_error *err)
{
  int i;
  if (same_shape(&L->net->node[x].shape, s)) return x;
  if ((i = find_same(L->net, CB_RESHAPE, &x, 1, s, 0, 0, 0)) >= 0) return i;
  return net_add(L->net, CB_RESHAPE, ld_node_name(nd), nd->op_type, &x, 1, s, err);
}

/* SORT of node x in groups of g at stride inner (shared when it exists). */
static int sort_node(ld *L, const Onnx__NodeProto *nd, int x, int64_t g, int64_t inner, int desc, cb_error *err)
{
  cb_shape s = L->net->node[x].shape;
  int i = find_same(L->net, CB_SORT, &x, 1, &s, g, inner, desc);
  if (i >= 0) return i;
  if ((i = net_add(L->net, CB_SORT, ld_node_name(nd), nd->op_type, &x, 1, &s, err)) < 0) return i;
  L->net->node[i].p.sort.g = g;
  L->net->node[i].p.sort.inner = inner;
  L->net->node[i].p.sort.desc = desc;
  return i;
}

/* Selection y_r = x_{map[r]} of node x, shaped s (rows = size of s). */
static int select_node(ld *L, const Onnx__NodeProto *nd, int x, const size_t *map, const cb_shape *s, cb_error *err)
{
  size_t rows = shape_size(s), cols = L->net->node[x].size, nw;
  int i;
  cb_node *n;
  if (!cb_mul_size(rows, cols, &nw) || nw > ((size_t)1 << 24))   /* a dense 0/1 matrix: 128 MB at most */
    return ld_err(L, err, CB_EUNSUP, "%s on a tensor of %zu entries: its selection matrix (%zu x %zu) is above "
                  "2^24 entries", nd->op_type, cols, rows, cols);
  if ((i = net_add(L->net, CB_AFFINE, ld_node_name(nd), nd->op_type, &x, 1, s, err)) < 0) return i;
  n = &L->net->node[i];
  n->p.aff.out = rows;
  n->p.aff.in = cols;
  n->p.aff.W = net_doubles(L->net, nw);
  n->p.aff.b = net_doubles(L->net, rows);
  if (!n->p.aff.W || !n->p.aff.b) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (size_t r = 0; r < rows; r++) n->p.aff.W[r * cols + map[r]] = 1;
  return i;
}

int ops_select(ld *L, const Onnx__NodeProto *nd, int x, const size_t *map, const cb_shape *s, cb_error *err)
{
  return select_node(L, nd, x, map, s, err);
}

/* Products of the dims before a, in [a, b], after b. */
static void split_dims(const cb_shape *s, int a, int b, int64_t *outer, int64_t *mid, int64_t *inner)
{
  *outer = *mid = *inner = 1;
  for (int d = 0; d < s->rank; d++) *(d < a ? outer : d <= b ? mid : inner) *= s->dim[d];
}

/* Selection of ranks [r0, r0 + k) of SORT node S over [outer][g][inner], shaped s. */
static int select_ranks(ld *L, const Onnx__NodeProto *nd, int S, int64_t outer, int64_t g, int64_t inner, int64_t r0,
                        int64_t k, const cb_shape *s, cb_error *err)
{
  size_t *map = arena_array(&L->tmp, (size_t)(outer * k * inner), sizeof *map), e = 0;
  if (!map) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (int64_t o = 0; o < outer; o++)
    for (int64_t r = r0; r < r0 + k; r++)
      for (int64_t i = 0; i < inner; i++) map[e++] = (size_t)((o * g + r) * inner + i);
  return select_node(L, nd, S, map, s, err);
}

static int norm_axis(ld *L, int64_t a, int rank, int64_t *out, cb_error *err)
{
  if (a < 0) a += rank;
  if (a < 0 || a >= rank) return ld_err(L, err, CB_ESHAPE, "axis %lld out of range for rank %d", (long long)a, rank);
  *out = a;
  return CB_OK;
}

/* A constant integer input (K of TopK, axes, split sizes): its count, or < 0. */
static int const_ints(ld *L, const Onnx__NodeProto *nd, size_t k, const char *what, int64_t *out, int max, cb_error *err)
{
  const val *c = input_of(L, nd, k);
  if (!c) return 0;
  if (c->kind != V_CONST) return ld_err(L, err, CB_EUNSUP, "%s is computed, not a constant", what);
  if (c->n > (size_t)max) return ld_err(L, err, CB_EUNSUP, "%s has %zu entries (at most %d supported)", what, c->n, max);
  for (size_t i = 0; i < c->n; i++) if (ld_const_int(L, c, i, what, &out[i], err)) return err->status;
  return (int)c->n;
}

/* TopK: values sorted over `axis`, the first k; the indices must be unused. */
static int op_topk(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x = computed(L, nd, 0, err);
  int64_t axis = 0, k = 0, outer, g, inner;
  int largest = (int)ld_attr_int(nd, "largest", 1), S, n;
  cb_shape s;
  if (!x) return err->status;
  if (nd->n_output > 1 && ld_used(L, nd->output[1]))
    return ld_err(L, err, CB_EUNSUP, "TopK indices output (\"%s\") is used; only the values are supported", nd->output[1]);
  if (!ld_attr_int(nd, "sorted", 1)) return ld_err(L, err, CB_EUNSUP, "TopK with sorted=0 (order of the values unspecified)");
  if (norm_axis(L, ld_attr_int(nd, "axis", -1), x->shape.rank, &axis, err)) return err->status;
  if (L->opset < 10) k = ld_attr_int(nd, "k", -1);
  else if ((n = const_ints(L, nd, 1, "K", &k, 1, err)) != 1) return n < 0 ? n : ld_err(L, err, CB_EFORMAT, "TopK needs one K");
  split_dims(&x->shape, (int)axis, (int)axis, &outer, &g, &inner);
  if (k < 1 || k > g) return ld_err(L, err, CB_ESHAPE, "K = %lld, the axis has %lld entries", (long long)k, (long long)g);
  if ((S = sort_node(L, nd, x->node, g, inner, largest != 0, err)) < 0) return S;
  if (k == g) return bind(L, nd->output[0], S, err);
  s = x->shape;
  s.dim[axis] = k;
  return bind(L, nd->output[0], select_ranks(L, nd, S, outer, g, inner, 0, k, &s, err), err);
}

/* ReduceMax / ReduceMin over one contiguous run of axes (all when none given). */
static int op_reduce(ld *L, const Onnx__NodeProto *nd, int max, cb_error *err)
{
  const val *x = computed(L, nd, 0, err);
  int64_t ax[CB_MAX_RANK], lo = CB_MAX_RANK, hi = -1, outer, g, inner;
  int n, keep = (int)ld_attr_int(nd, "keepdims", 1), S, seen[CB_MAX_RANK] = {0};
  cb_shape s = {0};
  if (!x) return err->status;
  n = L->opset < 18 ? ld_attr_ints(nd, "axes", ax, CB_MAX_RANK) : const_ints(L, nd, 1, "axes", ax, CB_MAX_RANK, err);
  if (n == -2) return ld_err(L, err, CB_EUNSUP, "too many axes");
  if (n < -2) return n;
  if (n <= 0) {
    if (L->opset >= 18 && ld_attr_int(nd, "noop_with_empty_axes", 0)) return ld_err(L, err, CB_EUNSUP, "noop_with_empty_axes=1");
    for (n = 0; n < x->shape.rank; n++) ax[n] = n;
  }
  for (int i = 0; i < n; i++) {
    if (norm_axis(L, ax[i], x->shape.rank, &ax[i], err)) return err->status;
    seen[ax[i]] = 1;
    lo = ax[i] < lo ? ax[i] : lo;
    hi = ax[i] > hi ? ax[i] : hi;
  }
  for (int64_t d = lo; d <= hi; d++)
    if (!seen[d]) return ld_err(L, err, CB_EUNSUP, "reduction over axes that are not one contiguous run");
  split_dims(&x->shape, (int)lo, (int)hi, &outer, &g, &inner);
  for (int d = 0; d < x->shape.rank; d++)
    if (d < lo || d > hi) s.dim[s.rank++] = x->shape.dim[d];
    else if (keep) s.dim[s.rank++] = 1;
  if ((S = sort_node(L, nd, x->node, g, inner, 0, err)) < 0) return S;
  return bind(L, nd->output[0], select_ranks(L, nd, S, outer, g, inner, max ? g - 1 : 0, 1, &s, err), err);
}

/* Max(a, b) / Min(a, b) of two computed tensors of one shape: the pairs
   (a_e, b_e) are the groups of SORT([a; b]) (smallest first). */
static int op_minmax(ld *L, const Onnx__NodeProto *nd, int max, cb_error *err)
{
  const val *a, *b;
  int64_t n;
  int ra, rb, in2[2], C, S, i;
  cb_shape s1, s2;
  if (nd->n_input != 2) return ld_err(L, err, CB_EUNSUP, "%s of %zu operands (2 supported)", nd->op_type, nd->n_input);
  for (size_t k = 0; k < 2; k++)
    if ((a = input_of(L, nd, k)) && a->kind == V_CONST)
      return ld_err(L, err, CB_EUNSUP, "%s with a constant operand is not supported (only of two computed tensors)", nd->op_type);
  if (!(a = computed(L, nd, 0, err)) || !(b = computed(L, nd, 1, err))) return err->status;
  if (!same_shape(&a->shape, &b->shape))
    return ld_err(L, err, CB_EUNSUP, "%s of operands of different shapes (broadcasting is not supported)", nd->op_type);
  n = (int64_t)shape_size(&a->shape);
  s1.rank = 3; s1.dim[0] = 1; s1.dim[1] = 1; s1.dim[2] = n;
  s2 = s1; s2.dim[1] = 2;
  if ((ra = reshape_node(L, nd, a->node, &s1, err)) < 0 || (rb = reshape_node(L, nd, b->node, &s1, err)) < 0) return err->status;
  in2[0] = ra; in2[1] = rb;
  if ((C = find_same(L->net, CB_CONCAT, in2, 2, &s2, 1, 0, 0)) < 0) {
    if ((C = net_add(L->net, CB_CONCAT, ld_node_name(nd), nd->op_type, in2, 2, &s2, err)) < 0) return C;
    L->net->node[C].p.concat.axis = 1;
  }
  if ((S = sort_node(L, nd, C, 2, n, 0, err)) < 0) return S;
  i = select_ranks(L, nd, S, 1, 2, n, max ? 1 : 0, 1, &a->shape, err);
  return bind(L, nd->output[0], i, err);
}

/* Split along `axis` into the given sizes (attribute, input, or equal parts). */
static int op_split(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x = computed(L, nd, 0, err);
  int64_t axis = 0, sz[16], outer, d, inner, off = 0, tot = 0;
  int n, no = (int)nd->n_output;
  if (!x) return err->status;
  if (no > 16) return ld_err(L, err, CB_EUNSUP, "Split into %d outputs (16 supported)", no);
  if (norm_axis(L, ld_attr_int(nd, "axis", 0), x->shape.rank, &axis, err)) return err->status;
  split_dims(&x->shape, (int)axis, (int)axis, &outer, &d, &inner);
  n = L->opset < 13 ? ld_attr_ints(nd, "split", sz, 16) : const_ints(L, nd, 1, "split", sz, 16, err);
  if (n < -2) return n;
  if (n == -2) return ld_err(L, err, CB_EUNSUP, "too many parts");
  if (n <= 0) {
    if (d % no) return ld_err(L, err, CB_ESHAPE, "axis of %lld entries does not split into %d equal parts", (long long)d, no);
    for (n = 0; n < no; n++) sz[n] = d / no;
  }
  if (n != no) return ld_err(L, err, CB_EFORMAT, "%d split sizes for %d outputs", n, no);
  for (int o = 0; o < no; o++) tot += sz[o] > 0 ? sz[o] : -1000000;
  if (tot != d) return ld_err(L, err, CB_ESHAPE, "split sizes do not add up to the axis (%lld)", (long long)d);
  for (int o = 0; o < no; off += sz[o], o++) {
    cb_shape s = x->shape;
    int rc;
    if (!nd->output[o][0]) continue;
    s.dim[axis] = sz[o];
    {
      size_t *map = arena_array(&L->tmp, shape_size(&s), sizeof *map), e = 0;
      if (!map) return ld_err(L, err, CB_ENOMEM, "out of memory");
      for (int64_t a = 0; a < outer; a++)
        for (int64_t r = off; r < off + sz[o]; r++)
          for (int64_t i = 0; i < inner; i++) map[e++] = (size_t)((a * d + r) * inner + i);
      if ((rc = bind(L, nd->output[o], select_node(L, nd, x->node, map, &s, err), err)) != CB_OK) return rc;
    }
  }
  return CB_OK;
}

/* Neg: SCALE y = -x. */
static int op_neg(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x = computed(L, nd, 0, err);
  int i;
  cb_node *n;
  if (!x) return err->status;
  if ((i = net_add(L->net, CB_SCALE, ld_node_name(nd), nd->op_type, &x->node, 1, &x->shape, err)) < 0) return i;
  n = &L->net->node[i];
  if (!(n->p.scale.a = net_doubles(L->net, n->size)) || !(n->p.scale.b = net_doubles(L->net, n->size)))
    return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (size_t e = 0; e < n->size; e++) n->p.scale.a[e] = -1;
  return bind(L, nd->output[0], i, err);
}

int ops_sort(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const char *op = nd->op_type ? nd->op_type : "";
  if (!strcmp(op, "TopK")) return op_topk(L, nd, err);
  if (!strcmp(op, "ReduceMax") || !strcmp(op, "ReduceMin")) return op_reduce(L, nd, op[7] == 'a', err);
  if (!strcmp(op, "Max") || !strcmp(op, "Min")) return op_minmax(L, nd, op[1] == 'a', err);
  if (!strcmp(op, "Split")) return op_split(L, nd, err);
  if (!strcmp(op, "Neg")) return op_neg(L, nd, err);
  return FOLD_NO;
}
