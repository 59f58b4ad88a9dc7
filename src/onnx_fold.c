/*
** Constant folding at load time (issue 19): a node whose inputs are all
** constants is evaluated here, in double, and its output bound as a constant,
** so no canonical node is made for it.  So are Shape of a computed tensor
** (static once the batch is fixed at 1, onnx.c) and what is built from it:
** dynamic-batch exports (`x.view(x.size(0), -1)`: Shape, Gather, Unsqueeze,
** Concat, Reshape) and weight-only subgraphs (a Björck or spectral
** parametrisation left in the graph: MatMul, ReduceL2, Div, Transpose...).
** An op that only ever appears in such a subgraph needs only this forward
** evaluation; the network that is analysed is the folded one, evaluated in
** double (the model in real arithmetic up to one rounding per folded value).
** ops_fold returns FOLD_NO when the node is not foldable, else a status.
*/
#include <math.h>
#include <string.h>
#include "onnx_int.h"
#include "linalg.h"

static const val *in_const(ld *L, const Onnx__NodeProto *nd, size_t k)
{
  const val *v = k < nd->n_input && nd->input[k][0] ? ld_find(L, nd->input[k]) : NULL;
  return v && v->kind == V_CONST ? v : NULL;
}

static val *out_const(ld *L, const Onnx__NodeProto *nd, const cb_shape *s, int is_int, cb_error *err)
{
  double cnt = 1;
  val *v;
  for (int i = 0; i < s->rank; i++) cnt *= (double)s->dim[i];
  /* a folded value is a shape, an index list or a weight computed from the
     file's own initializers: at most max(2^16, file bytes) elements, so a
     forged Range or Expand cannot make the load slow or huge */
  if (cnt > fmax(65536.0, (double)L->file_len))
    { ld_err(L, err, CB_EUNSUP, "folded constant of %.3g elements is larger than the file allows", cnt); return NULL; }
  if (!(v = ld_new_val(L, nd->output[0], err))) return NULL;
  v->kind = V_CONST;
  v->shape = *s;
  v->n = shape_size(s);
  v->is_int = is_int;
  v->d = arena_array(&L->tmp, v->n ? v->n : 1, sizeof(double));
  if (!v->d) { ld_err(L, err, CB_ENOMEM, "out of memory"); return NULL; }
  return v;
}

/* Strides of a C-order shape. */
static void strides(const cb_shape *s, size_t *st)
{
  size_t t = 1;
  for (int i = s->rank - 1; i >= 0; i--) { st[i] = t; t *= (size_t)s->dim[i]; }
}

/* The multi-index of flat position e in shape s. */
static void unflat(const cb_shape *s, size_t e, int64_t *ix)
{
  for (int i = s->rank - 1; i >= 0; i--) { ix[i] = (int64_t)(e % (size_t)s->dim[i]); e /= (size_t)s->dim[i]; }
}

static int axis_of(ld *L, int64_t a, int rank, int64_t *out, cb_error *err)
{
  if (a < 0) a += rank;
  if (a < 0 || a >= (rank ? rank : 1)) return ld_err(L, err, CB_ESHAPE, "axis %lld out of range for rank %d", (long long)a, rank);
  *out = a;
  return CB_OK;
}

static int ints_of(ld *L, const val *v, int64_t *o, int max, const char *what, cb_error *err)
{
  if (v->n > (size_t)max) return ld_err(L, err, CB_EUNSUP, "%s has %zu entries (at most %d)", what, v->n, max);
  for (size_t i = 0; i < v->n; i++)
    if (ld_const_int(L, v, i, what, &o[i], err)) return err->status;
  return CB_OK;
}

static int shape_from(ld *L, const val *v, cb_shape *s, const char *what, cb_error *err)
{
  int64_t d[CB_MAX_RANK];
  int rc = ints_of(L, v, d, CB_MAX_RANK, what, err);
  if (rc) return rc;
  s->rank = (int)v->n;
  for (int i = 0; i < s->rank; i++) {
    if (d[i] < 0 || d[i] > ((int64_t)1 << 31)) return ld_err(L, err, CB_ESHAPE, "%s entry %d is %lld", what, i, (long long)d[i]);
    s->dim[i] = d[i];
  }
  { double c = 1; for (int i = 0; i < s->rank; i++) c *= (double)s->dim[i];
    if (c > fmax(65536.0, (double)L->file_len)) return ld_err(L, err, CB_EUNSUP, "%s has too many elements", what); }
  return CB_OK;
}

static int fold_shape(ld *L, const Onnx__NodeProto *nd, const val *x, cb_error *err)
{
  int64_t r = x->shape.rank, a = ld_attr_int(nd, "start", 0), b = ld_attr_int(nd, "end", r);
  cb_shape s = {1, {0}};
  val *o;
  if (a < 0) a += r;
  if (b < 0) b += r;
  a = a < 0 ? 0 : a > r ? r : a;
  b = b < a ? a : b > r ? r : b;
  s.dim[0] = b - a;
  if (!(o = out_const(L, nd, &s, 1, err))) return err->status;
  for (int64_t i = a; i < b; i++) o->d[i - a] = (double)x->shape.dim[i];
  return CB_OK;
}

static int fold_gather(ld *L, const Onnx__NodeProto *nd, const val *x, const val *ix, cb_error *err)
{
  int64_t ax = 0, idx;
  cb_shape s = {0};
  size_t stx[CB_MAX_RANK], outer = 1, inner = 1, n;
  val *o;
  if (axis_of(L, ld_attr_int(nd, "axis", 0), x->shape.rank, &ax, err)) return err->status;
  if (x->shape.rank + ix->shape.rank - 1 > CB_MAX_RANK) return ld_err(L, err, CB_EUNSUP, "rank too large");
  strides(&x->shape, stx);
  for (int i = 0; i < ax; i++) { s.dim[s.rank++] = x->shape.dim[i]; outer *= (size_t)x->shape.dim[i]; }
  for (int i = 0; i < ix->shape.rank; i++) s.dim[s.rank++] = ix->shape.dim[i];
  for (int i = (int)ax + 1; i < x->shape.rank; i++) { s.dim[s.rank++] = x->shape.dim[i]; inner *= (size_t)x->shape.dim[i]; }
  if (!(o = out_const(L, nd, &s, x->is_int, err))) return err->status;
  n = ix->n;
  for (size_t a = 0; a < outer; a++)
    for (size_t k = 0; k < n; k++) {
      if (ld_const_int(L, ix, k, "indices", &idx, err)) return err->status;
      if (idx < 0) idx += x->shape.dim[ax];
      if (idx < 0 || idx >= x->shape.dim[ax]) return ld_err(L, err, CB_ESHAPE, "index %lld out of range", (long long)idx);
      memcpy(o->d + (a * n + k) * inner, x->d + a * stx[ax] * (size_t)x->shape.dim[ax] + (size_t)idx * inner,
             inner * sizeof(double));
    }
  return CB_OK;
}

static int fold_concat(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x0 = in_const(L, nd, 0);
  int64_t ax = 0;
  cb_shape s = x0->shape;
  size_t outer = 1, off = 0;
  val *o;
  if (axis_of(L, ld_attr_int(nd, "axis", 0), s.rank, &ax, err)) return err->status;
  s.dim[ax] = 0;
  for (size_t k = 0; k < nd->n_input; k++) {
    const val *x = in_const(L, nd, k);
    if (x->shape.rank != s.rank) return ld_err(L, err, CB_ESHAPE, "operands differ in rank");
    for (int d = 0; d < s.rank; d++)
      if (d != ax && x->shape.dim[d] != s.dim[d]) return ld_err(L, err, CB_ESHAPE, "operand %zu differs in dimension %d", k, d);
    s.dim[ax] += x->shape.dim[ax];
  }
  for (int d = 0; d < ax; d++) outer *= (size_t)s.dim[d];
  if (!(o = out_const(L, nd, &s, x0->is_int, err))) return err->status;
  for (size_t k = 0; k < nd->n_input; k++) {
    const val *x = in_const(L, nd, k);
    size_t chunk = outer ? x->n / outer : 0, row = outer ? o->n / outer : 0;
    for (size_t a = 0; a < outer; a++) memcpy(o->d + a * row + off, x->d + a * chunk, chunk * sizeof(double));
    off += chunk;
    o->is_int &= x->is_int;
  }
  return CB_OK;
}

/* ONNX TensorProto data types that are integers or bool. */
static int int_type(int64_t t) { return (t >= 2 && t <= 7) || t == 9 || t == 12 || t == 13; }

static int fold_cast(ld *L, const Onnx__NodeProto *nd, const val *x, cb_error *err)
{
  int64_t to = ld_attr_int(nd, "to", 1);
  val *o = out_const(L, nd, &x->shape, int_type(to), err);
  if (!o) return err->status;
  for (size_t i = 0; i < x->n; i++) {
    double v = x->d[i];
    o->d[i] = to == 9 ? (v != 0) : int_type(to) ? trunc(v) : to == 1 ? (double)(float)v : v;
  }
  return CB_OK;
}

static int fold_constant_of_shape(ld *L, const Onnx__NodeProto *nd, const val *sh, cb_error *err)
{
  const Onnx__AttributeProto *a = ld_attr(nd, "value");
  cb_shape s;
  val tv, *o;
  double fill = 0;
  int is_int = 0;
  memset(&tv, 0, sizeof tv);
  if (shape_from(L, sh, &s, "shape", err)) return err->status;
  if (a && a->t) {
    if (ld_tensor(L, a->t, "value", &tv, err)) return err->status;
    if (tv.n != 1) return ld_err(L, err, CB_EFORMAT, "value has %zu elements, not 1", tv.n);
    fill = tv.d[0];
    is_int = tv.is_int;
  }
  if (!(o = out_const(L, nd, &s, is_int, err))) return err->status;
  for (size_t i = 0; i < o->n; i++) o->d[i] = fill;
  return CB_OK;
}

static int fold_range(ld *L, const Onnx__NodeProto *nd, const val *a, const val *b, const val *c, cb_error *err)
{
  double s0, lim, dl, cnt;
  cb_shape s = {1, {0}};
  val *o;
  if (a->n != 1 || b->n != 1 || c->n != 1) return ld_err(L, err, CB_EFORMAT, "Range inputs must be scalars");
  s0 = a->d[0]; lim = b->d[0]; dl = c->d[0];
  cnt = dl != 0 ? ceil((lim - s0) / dl) : -1;
  if (!(cnt >= 0) || cnt > fmax(65536.0, (double)L->file_len)) return ld_err(L, err, CB_EUNSUP, "Range of %g elements is larger than the file allows", cnt);
  s.dim[0] = (int64_t)cnt;
  if (!(o = out_const(L, nd, &s, a->is_int && b->is_int && c->is_int, err))) return err->status;
  for (size_t i = 0; i < o->n; i++) o->d[i] = s0 + (double)i * dl;
  return CB_OK;
}

/* Copy of x broadcast (numpy rules) to shape s; s must be x's broadcast result. */
static void bcast_copy(const val *x, const cb_shape *s, double *d)
{
  size_t st[CB_MAX_RANK], n = shape_size(s);
  int off = s->rank - x->shape.rank;
  int64_t ix[CB_MAX_RANK];
  strides(&x->shape, st);
  for (size_t e = 0; e < n; e++) {
    size_t p = 0;
    unflat(s, e, ix);
    for (int i = 0; i < x->shape.rank; i++) if (x->shape.dim[i] != 1) p += (size_t)ix[i + off] * st[i];
    d[e] = x->d[p];
  }
}

static int fold_expand(ld *L, const Onnx__NodeProto *nd, const val *x, const val *sh, cb_error *err)
{
  cb_shape t, s;
  val *o;
  if (shape_from(L, sh, &t, "shape", err)) return err->status;
  s.rank = t.rank > x->shape.rank ? t.rank : x->shape.rank;
  for (int i = 0; i < s.rank; i++) {
    int64_t a = i - (s.rank - x->shape.rank) >= 0 ? x->shape.dim[i - (s.rank - x->shape.rank)] : 1;
    int64_t b = i - (s.rank - t.rank) >= 0 ? t.dim[i - (s.rank - t.rank)] : 1;
    if (a != b && a != 1 && b != 1) return ld_err(L, err, CB_ESHAPE, "cannot expand dimension %d (%lld to %lld)", i, (long long)a, (long long)b);
    s.dim[i] = a > b ? a : b;
  }
  if (!(o = out_const(L, nd, &s, x->is_int, err))) return err->status;
  bcast_copy(x, &s, o->d);
  return CB_OK;
}

static int fold_slice(ld *L, const Onnx__NodeProto *nd, const val *x, cb_error *err)
{
  int64_t st[CB_MAX_RANK], en[CB_MAX_RANK], ax[CB_MAX_RANK], sp[CB_MAX_RANK], b[CB_MAX_RANK], step[CB_MAX_RANK];
  int64_t ix[CB_MAX_RANK];
  int n, r = x->shape.rank;
  size_t sx[CB_MAX_RANK];
  cb_shape s = x->shape;
  val *o;
  for (int i = 0; i < r; i++) { b[i] = 0; step[i] = 1; }
  if (L->opset < 10) {
    n = ld_attr_ints(nd, "starts", st, CB_MAX_RANK);
    if (n < 0 || ld_attr_ints(nd, "ends", en, CB_MAX_RANK) != n) return ld_err(L, err, CB_EFORMAT, "starts/ends missing or of different lengths");
    if (ld_attr_ints(nd, "axes", ax, CB_MAX_RANK) < 0) for (int i = 0; i < n; i++) ax[i] = i;
    for (int i = 0; i < n; i++) sp[i] = 1;
  } else {
    const val *vs = in_const(L, nd, 1), *ve = in_const(L, nd, 2), *va = in_const(L, nd, 3), *vp = in_const(L, nd, 4);
    if (!vs || !ve || vs->n != ve->n) return ld_err(L, err, CB_EFORMAT, "starts/ends missing or of different lengths");
    n = (int)vs->n;
    if (ints_of(L, vs, st, CB_MAX_RANK, "starts", err) || ints_of(L, ve, en, CB_MAX_RANK, "ends", err)) return err->status;
    if (va) { if (va->n != vs->n || ints_of(L, va, ax, CB_MAX_RANK, "axes", err)) return err->status ? err->status : ld_err(L, err, CB_EFORMAT, "axes length"); }
    else for (int i = 0; i < n; i++) ax[i] = i;
    if (vp) { if (vp->n != vs->n || ints_of(L, vp, sp, CB_MAX_RANK, "steps", err)) return err->status ? err->status : ld_err(L, err, CB_EFORMAT, "steps length"); }
    else for (int i = 0; i < n; i++) sp[i] = 1;
  }
  for (int i = 0; i < n; i++) {
    int64_t a = 0, d, lo, hi;
    if (axis_of(L, ax[i], r, &a, err)) return err->status;
    d = x->shape.dim[a];
    if (sp[i] == 0) return ld_err(L, err, CB_EFORMAT, "step 0");
    lo = st[i] < 0 ? st[i] + d : st[i];
    hi = en[i] < 0 ? en[i] + d : en[i];
    if (sp[i] > 0) { lo = lo < 0 ? 0 : lo > d ? d : lo; hi = hi < 0 ? 0 : hi > d ? d : hi; s.dim[a] = hi > lo ? (hi - lo + sp[i] - 1) / sp[i] : 0; }
    else { lo = lo < 0 ? -1 : lo > d - 1 ? d - 1 : lo; hi = hi < -1 ? -1 : hi > d - 1 ? d - 1 : hi; s.dim[a] = lo > hi ? (lo - hi - sp[i] - 1) / -sp[i] : 0; }
    b[a] = lo;
    step[a] = sp[i];
  }
  if (!(o = out_const(L, nd, &s, x->is_int, err))) return err->status;
  strides(&x->shape, sx);
  for (size_t e = 0; e < o->n; e++) {
    size_t p = 0;
    unflat(&s, e, ix);
    for (int i = 0; i < r; i++) p += (size_t)(b[i] + ix[i] * step[i]) * sx[i];
    o->d[e] = x->d[p];
  }
  return CB_OK;
}

/* t[c rows + r] = a[r cols + c]: the 2-D transpose, in 32 x 32 tiles (a
   strided walk over a 1024 x 1024 weight misses the cache on every read). */
void ld_transpose2(const double *a, size_t rows, size_t cols, double *t)
{
  for (size_t r0 = 0; r0 < rows; r0 += 32)
    for (size_t c0 = 0; c0 < cols; c0 += 32) {
      size_t r1 = r0 + 32 < rows ? r0 + 32 : rows, c1 = c0 + 32 < cols ? c0 + 32 : cols;
      for (size_t r = r0; r < r1; r++)
        for (size_t c = c0; c < c1; c++) t[c * rows + r] = a[r * cols + c];
    }
}

static int fold_transpose(ld *L, const Onnx__NodeProto *nd, const val *x, cb_error *err)
{
  int64_t perm[CB_MAX_RANK], ix[CB_MAX_RANK];
  int r = x->shape.rank;
  size_t sx[CB_MAX_RANK];
  cb_shape s;
  val *o;
  if (ld_perm(L, nd, &x->shape, perm, &s, err) != CB_OK) return err->status;
  if (!(o = out_const(L, nd, &s, x->is_int, err))) return err->status;
  if (r == 2 && perm[0] == 1) {
    ld_transpose2(x->d, (size_t)x->shape.dim[0], (size_t)x->shape.dim[1], o->d);
    return CB_OK;
  }
  strides(&x->shape, sx);
  for (size_t e = 0; e < o->n; e++) {
    size_t p = 0;
    unflat(&s, e, ix);
    for (int i = 0; i < r; i++) p += (size_t)ix[i] * sx[perm[i]];
    o->d[e] = x->d[p];
  }
  return CB_OK;
}

static int fold_matmul(ld *L, const Onnx__NodeProto *nd, const val *a, const val *b, cb_error *err)
{
  int64_t m, k, k2, n;
  cb_shape s = {0};
  val *o;
  if (a->shape.rank < 1 || a->shape.rank > 2 || b->shape.rank < 1 || b->shape.rank > 2)
    return ld_err(L, err, CB_EUNSUP, "MatMul of constants of rank %d and %d (1 or 2 supported)", a->shape.rank, b->shape.rank);
  m = a->shape.rank == 2 ? a->shape.dim[0] : 1; k = a->shape.dim[a->shape.rank - 1];
  k2 = b->shape.dim[0]; n = b->shape.rank == 2 ? b->shape.dim[1] : 1;
  if (k != k2) return ld_err(L, err, CB_ESHAPE, "MatMul inner dimensions differ (%lld, %lld)", (long long)k, (long long)k2);
  if (a->shape.rank == 2) s.dim[s.rank++] = m;
  if (b->shape.rank == 2) s.dim[s.rank++] = n;
  if (!(o = out_const(L, nd, &s, a->is_int && b->is_int, err))) return err->status;
  if (m > 0 && n > 0 && k > 0)   /* dgemm (a Bjorck step's V V^T V is 10^8 products) */
    la_gemm(0, 0, (size_t)m, (size_t)n, (size_t)k, 1.0, a->d, (size_t)k, b->d, (size_t)n, 0.0, o->d, (size_t)n);
  return CB_OK;
}

/* Reduce{Sum,Mean,Max,Min,L2,SumSquare} of a constant. */
static int fold_reduce(ld *L, const Onnx__NodeProto *nd, const val *x, const char *op, cb_error *err)
{
  int64_t axes[CB_MAX_RANK], ix[CB_MAX_RANK], keep = ld_attr_int(nd, "keepdims", 1);
  int n = -1, r = x->shape.rank, red[CB_MAX_RANK] = {0};
  const val *va = in_const(L, nd, 1);
  cb_shape s = {0}, sk = x->shape;
  size_t sk_st[CB_MAX_RANK], cnt;
  val *o;
  if (va) { if (ints_of(L, va, axes, CB_MAX_RANK, "axes", err)) return err->status; n = (int)va->n; }
  else n = ld_attr_ints(nd, "axes", axes, CB_MAX_RANK);
  if (n < 0 || (n == 0 && !ld_attr_int(nd, "noop_with_empty_axes", 0))) { n = r; for (int i = 0; i < r; i++) axes[i] = i; }
  for (int i = 0; i < n; i++) { int64_t a = 0; if (axis_of(L, axes[i], r, &a, err)) return err->status; red[a] = 1; }
  for (int i = 0; i < r; i++) {
    if (red[i]) sk.dim[i] = 1;
    if (!red[i] || keep) s.dim[s.rank++] = red[i] ? 1 : x->shape.dim[i];
  }
  if (!(o = out_const(L, nd, &s, x->is_int && strcmp(op, "ReduceMean") && strcmp(op, "ReduceL2"), err))) return err->status;
  cnt = o->n ? x->n / o->n : 0;
  for (size_t e = 0; e < o->n; e++) o->d[e] = !strcmp(op, "ReduceMax") ? -HUGE_VAL : !strcmp(op, "ReduceMin") ? HUGE_VAL : 0;
  strides(&sk, sk_st);
  for (size_t e = 0; e < x->n; e++) {
    size_t p = 0;
    double v = x->d[e], *t;
    unflat(&x->shape, e, ix);
    for (int i = 0; i < r; i++) if (!red[i]) p += (size_t)ix[i] * sk_st[i];
    t = &o->d[p];
    if (!strcmp(op, "ReduceMax")) *t = fmax(*t, v);
    else if (!strcmp(op, "ReduceMin")) *t = fmin(*t, v);
    else if (!strcmp(op, "ReduceL2") || !strcmp(op, "ReduceSumSquare")) *t += v * v;
    else *t += v;
  }
  for (size_t e = 0; e < o->n; e++) {
    if (!strcmp(op, "ReduceL2")) o->d[e] = sqrt(o->d[e]);
    if (!strcmp(op, "ReduceMean")) o->d[e] /= (double)cnt;
  }
  return CB_OK;
}

static int fold_unary(ld *L, const Onnx__NodeProto *nd, const val *x, const char *op, cb_error *err)
{
  int keep_int = !strcmp(op, "Neg") || !strcmp(op, "Abs") || !strcmp(op, "Floor") || !strcmp(op, "Ceil") || !strcmp(op, "Identity") || !strcmp(op, "Relu");
  val *o = out_const(L, nd, &x->shape, x->is_int && keep_int, err);
  if (!o) return err->status;
  for (size_t i = 0; i < x->n; i++) {
    double v = x->d[i];
    o->d[i] = !strcmp(op, "Neg") ? -v : !strcmp(op, "Abs") ? fabs(v) : !strcmp(op, "Sqrt") ? sqrt(v)
            : !strcmp(op, "Exp") ? exp(v) : !strcmp(op, "Log") ? log(v) : !strcmp(op, "Reciprocal") ? 1 / v
            : !strcmp(op, "Floor") ? floor(v) : !strcmp(op, "Ceil") ? ceil(v) : !strcmp(op, "Relu") ? fmax(v, 0) : v;
  }
  return CB_OK;
}

static int fold_pow(ld *L, const Onnx__NodeProto *nd, const val *a, const val *b, cb_error *err)
{
  cb_shape s;
  int r = a->shape.rank > b->shape.rank ? a->shape.rank : b->shape.rank;
  double *da, *db;
  val *o;
  s.rank = r;
  for (int i = 0; i < r; i++) {
    int64_t x = i - (r - a->shape.rank) >= 0 ? a->shape.dim[i - (r - a->shape.rank)] : 1;
    int64_t y = i - (r - b->shape.rank) >= 0 ? b->shape.dim[i - (r - b->shape.rank)] : 1;
    if (x != y && x != 1 && y != 1) return ld_err(L, err, CB_ESHAPE, "constant shapes do not broadcast");
    s.dim[i] = x > y ? x : y;
  }
  if (!(o = out_const(L, nd, &s, a->is_int && b->is_int, err))) return err->status;
  if (!(da = arena_array(&L->tmp, o->n + 1, sizeof *da)) || !(db = arena_array(&L->tmp, o->n + 1, sizeof *db)))
    return ld_err(L, err, CB_ENOMEM, "out of memory");
  bcast_copy(a, &s, da);
  bcast_copy(b, &s, db);
  for (size_t i = 0; i < o->n; i++) o->d[i] = pow(da[i], db[i]);
  return CB_OK;
}
/* Equal(a, b) and Where(cond, a, b) of constants (numpy broadcasting): the
   shape arithmetic torch exports around Expand and Reshape. */
static int fold_select(ld *L, const Onnx__NodeProto *nd, int where, cb_error *err)
{
  const val *v[3];
  cb_shape s, t;
  double *d[3];
  int k = where ? 3 : 2;
  val *o;
  for (int i = 0; i < k; i++) if (!(v[i] = in_const(L, nd, (size_t)i))) return FOLD_NO;
  s = v[0]->shape;
  for (int i = 1; i < k; i++) {
    if (!ops_bshape(&s, &v[i]->shape, &t)) return ld_err(L, err, CB_ESHAPE, "operand shapes do not broadcast");
    s = t;
  }
  for (int i = 0; i < k; i++) if (!(d[i] = ops_broadcast(L, v[i], &s, err))) return err->status;
  if (!(o = out_const(L, nd, &s, where ? v[1]->is_int && v[2]->is_int : 1, err))) return err->status;
  for (size_t e = 0; e < o->n; e++) o->d[e] = where ? (d[0][e] != 0 ? d[1][e] : d[2][e]) : d[0][e] == d[1][e];
  return CB_OK;
}

/*
** The index map of a pure selection op (Gather with constant indices, Slice,
** Expand) applied to a computed tensor shaped xs: the op's own fold run on
** the tensor of flat indices 0..n-1 (exact in double below 2^53), so the
** node version selects exactly what the constant version copies.  The
** folded constant is bound to the output name and then shadowed by the
** caller's node.  FOLD_NO if the op is not one of them.
*/
int ops_fold_map(ld *L, const Onnx__NodeProto *nd, const cb_shape *xs, size_t **map, cb_shape *out, cb_error *err)
{
  const char *op = nd->op_type ? nd->op_type : "";
  val iv = {0};
  const val *o;
  int rc;
  iv.kind = V_CONST;
  iv.shape = *xs;
  iv.n = shape_size(xs);
  if (!(iv.d = arena_array(&L->tmp, iv.n ? iv.n : 1, sizeof(double)))) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (size_t e = 0; e < iv.n; e++) iv.d[e] = (double)e;
  for (size_t k = 1; k < nd->n_input; k++)
    if (nd->input[k][0] && !in_const(L, nd, k))
      return ld_err(L, err, CB_EUNSUP, "%s with a computed input %zu (\"%s\") is not supported", op, k, nd->input[k]);
  if (!strcmp(op, "Gather") && nd->n_input == 2) rc = fold_gather(L, nd, &iv, in_const(L, nd, 1), err);
  else if (!strcmp(op, "Slice")) rc = fold_slice(L, nd, &iv, err);
  else if (!strcmp(op, "Expand") && nd->n_input == 2) rc = fold_expand(L, nd, &iv, in_const(L, nd, 1), err);
  else return FOLD_NO;
  if (rc != CB_OK) return rc;
  if (!(o = ld_find(L, nd->output[0])) || o->kind != V_CONST) return ld_err(L, err, CB_EFORMAT, "internal: no index map");
  if (o->n == 0) return ld_err(L, err, CB_EUNSUP, "%s selects no entry (an empty tensor)", op);
  if (!(*map = arena_array(&L->tmp, o->n, sizeof **map))) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (size_t e = 0; e < o->n; e++) (*map)[e] = (size_t)o->d[e];
  *out = o->shape;
  return CB_OK;
}

int ops_fold(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const char *op = nd->op_type ? nd->op_type : "";
  const val *x = in_const(L, nd, 0);
  size_t nconst = 0, nin = 0;
  for (size_t k = 0; k < nd->n_input; k++)
    if (nd->input[k][0]) { nin++; nconst += in_const(L, nd, k) != NULL; }
  if (!strcmp(op, "Shape")) {
    const val *v = nd->n_input ? ld_find(L, nd->input[0]) : NULL;
    if (!v || v->kind == V_UNSUP) return FOLD_NO;
    return fold_shape(L, nd, v, err);
  }
  if (nin == 0 || nconst != nin || !x) return FOLD_NO;
  for (size_t k = 0; k < nd->n_input; k++) if (!nd->input[k][0] && strcmp(op, "Slice") && strcmp(op, "Clip")) return FOLD_NO;
  if (!strcmp(op, "Gather") && nin == 2) return fold_gather(L, nd, x, in_const(L, nd, 1), err);
  if (!strcmp(op, "Concat")) return fold_concat(L, nd, err);
  if (!strcmp(op, "Equal") && nin == 2) return fold_select(L, nd, 0, err);
  if (!strcmp(op, "Where") && nin == 3) return fold_select(L, nd, 1, err);
  if (!strcmp(op, "Cast")) return fold_cast(L, nd, x, err);
  if (!strcmp(op, "ConstantOfShape")) return fold_constant_of_shape(L, nd, x, err);
  if (!strcmp(op, "Range") && nin == 3) return fold_range(L, nd, x, in_const(L, nd, 1), in_const(L, nd, 2), err);
  if (!strcmp(op, "Expand") && nin == 2) return fold_expand(L, nd, x, in_const(L, nd, 1), err);
  if (!strcmp(op, "Slice")) return fold_slice(L, nd, x, err);
  if (!strcmp(op, "Transpose")) return fold_transpose(L, nd, x, err);
  if (!strcmp(op, "MatMul") && nin == 2) return fold_matmul(L, nd, x, in_const(L, nd, 1), err);
  if (!strcmp(op, "Pow") && nin == 2) return fold_pow(L, nd, x, in_const(L, nd, 1), err);
  if (!strncmp(op, "Reduce", 6) && (!strcmp(op + 6, "Sum") || !strcmp(op + 6, "Mean") || !strcmp(op + 6, "Max") ||
                                    !strcmp(op + 6, "Min") || !strcmp(op + 6, "L2") || !strcmp(op + 6, "SumSquare")))
    return fold_reduce(L, nd, x, op, err);
  if (nin == 1 && (!strcmp(op, "Neg") || !strcmp(op, "Abs") || !strcmp(op, "Sqrt") || !strcmp(op, "Exp") || !strcmp(op, "Log") ||
                   !strcmp(op, "Reciprocal") || !strcmp(op, "Floor") || !strcmp(op, "Ceil") || !strcmp(op, "Relu")))
    return fold_unary(L, nd, x, op, err);
  return FOLD_NO;
}
