/*
** ONNX loader, part 3: window ops.  Conv becomes CONV; MaxPool MAXPOOL;
** AveragePool and GlobalAveragePool become a depthwise CONV with constant
** weights 1/(kh*kw) (exact when kh*kw is a power of two, else exact = 0);
** a zero Pad becomes a depthwise 1x1 identity CONV that carries the pads (the
** canonicaliser merges it into the next Conv, which is exact);
** BatchNormalization becomes a per-channel SCALE with
**   a = gamma / sqrt(var + eps),  b = beta - mean * a       (rounded: exact = 0).
** Only 2-D windows on [1,C,H,W] tensors are supported.
*/
#include <math.h>
#include <string.h>
#include "onnx_int.h"
#include "round.h"

/* auto_pad NOTSET/VALID are fine; SAME_* are refused. */
static int auto_pad(ld *L, const Onnx__NodeProto *nd, int *valid, cb_error *err)
{
  const Onnx__AttributeProto *a = ld_attr(nd, "auto_pad");
  char s[32] = "";
  *valid = 0;
  if (!a) return CB_OK;
  snprintf(s, sizeof s, "%.*s", (int)(a->s.len < 31 ? a->s.len : 31), a->s.data ? (const char *)a->s.data : "");
  if (!s[0] || !strcmp(s, "NOTSET")) return CB_OK;
  if (!strcmp(s, "VALID")) { *valid = 1; return CB_OK; }
  return ld_err(L, err, CB_EUNSUP, "unsupported attribute value auto_pad=%s (give explicit pads)", s);
}

/* 1-D windows (Conv1d, MaxPool1d, AvgPool1d on [1,C,L]) are 2-D ones on
   [1,C,1,L]: their 1-entry kernel_shape/strides/dilations and 2-entry pads
   become (1, k), (1, s), (1, d) and (0, b, 0, e). */
static void widen_1d(int64_t *a, int n, int64_t one)
{
  if (n == 1) { a[1] = a[0]; a[0] = one; }
}

/* Reads strides, dilations, pads and kernel into g; x is [1,C,H,W] (H = 1 for 1-D). */
static int geometry(ld *L, const Onnx__NodeProto *nd, const val *x, int64_t kh, int64_t kw,
                    cb_conv *g, int oned, cb_error *err)
{
  int64_t st[2] = {1, 1}, dl[2] = {1, 1}, pd[4] = {0, 0, 0, 0}, ks[2];
  int valid, n, rc;
  if ((rc = auto_pad(L, nd, &valid, err)) != CB_OK) return rc;
  if (oned) {
    int a, b, c, d;
    if ((a = ld_attr_ints(nd, "kernel_shape", ks, 2)) > 1 || (b = ld_attr_ints(nd, "strides", st, 2)) > 1 ||
        (c = ld_attr_ints(nd, "dilations", dl, 2)) > 1 || ((d = ld_attr_ints(nd, "pads", pd, 4)) != -1 && d != 2))
      return ld_err(L, err, CB_EUNSUP, "kernel_shape/strides/dilations/pads of the wrong length for a 1-D window");
    if (a == 1) { widen_1d(ks, 1, 1); if (kh && (ks[0] != kh || ks[1] != kw)) return ld_err(L, err, CB_ESHAPE, "kernel_shape disagrees with the weight"); kh = ks[0]; kw = ks[1]; }
    widen_1d(st, b, 1); widen_1d(dl, c, 1);
    if (d == 2) { pd[3] = pd[1]; pd[1] = pd[0]; pd[0] = 0; pd[2] = 0; }
  } else if ((n = ld_attr_ints(nd, "kernel_shape", ks, 2)) != -1) {
    if (n != 2) return ld_err(L, err, CB_EUNSUP, "kernel_shape has %d entries: only 2-D windows are supported", n);
    if (kh && (ks[0] != kh || ks[1] != kw))
      return ld_err(L, err, CB_ESHAPE, "kernel_shape (%lld,%lld) disagrees with the weight (%lld,%lld)",
                    (long long)ks[0], (long long)ks[1], (long long)kh, (long long)kw);
    kh = ks[0]; kw = ks[1];
  }
  if (!kh) return ld_err(L, err, CB_EFORMAT, "missing kernel_shape");
  if (!oned && (((n = ld_attr_ints(nd, "strides", st, 2)) != -1 && n != 2) ||
      ((n = ld_attr_ints(nd, "dilations", dl, 2)) != -1 && n != 2) ||
      ((n = ld_attr_ints(nd, "pads", pd, 4)) != -1 && n != 4)))
    return ld_err(L, err, CB_EUNSUP, "strides/dilations/pads of the wrong length for a 2-D window");
  if (valid) memset(pd, 0, sizeof pd);
  for (int i = 0; i < 4; i++)
    if (pd[i] < 0) return ld_err(L, err, CB_EFORMAT, "negative pads (%lld)", (long long)pd[i]);
  memset(g, 0, sizeof *g);
  g->cin = x->shape.dim[1]; g->hin = x->shape.dim[2]; g->win = x->shape.dim[3];
  g->kh = kh; g->kw = kw; g->sh = st[0]; g->sw = st[1]; g->dh = dl[0]; g->dw = dl[1];
  g->pt = pd[0]; g->pl = pd[1]; g->pb = pd[2]; g->pr = pd[3];
  g->groups = 1;
  if (!conv_out_dim(g->hin, kh, g->sh, g->pt, g->pb, g->dh, &g->hout) ||
      !conv_out_dim(g->win, kw, g->sw, g->pl, g->pr, g->dw, &g->wout))
    return ld_err(L, err, CB_ESHAPE, "window %lldx%lld (stride %lld,%lld dilation %lld,%lld) does not fit "
                  "the %lldx%lld input", (long long)kh, (long long)kw, (long long)g->sh, (long long)g->sw,
                  (long long)g->dh, (long long)g->dw, (long long)g->hin, (long long)g->win);
  return CB_OK;
}

/* ceil_mode = 1 is accepted only where it gives the same output size. */
static int ceil_ok(ld *L, const Onnx__NodeProto *nd, const cb_conv *g, cb_error *err)
{
  int64_t eh = g->hin + g->pt + g->pb - (g->dh * (g->kh - 1) + 1);
  int64_t ew = g->win + g->pl + g->pr - (g->dw * (g->kw - 1) + 1);
  if (!ld_attr_int(nd, "ceil_mode", 0)) return CB_OK;
  if (eh % g->sh == 0 && ew % g->sw == 0) return CB_OK;
  return ld_err(L, err, CB_EUNSUP, "unsupported attribute value ceil_mode=1 (it changes the output size here)");
}

/* The window's input as [1,C,H,W]: a [1,C,L] input (1-D window) is viewed
   as [1,C,1,L] in *v4 (same values, same order), *oned set. */
static const val *input4(ld *L, const Onnx__NodeProto *nd, val *v4, int *oned, cb_error *err)
{
  const val *x = ld_find(L, nd->n_input ? nd->input[0] : "");
  *oned = 0;
  if (!x || nd->n_input < 1) { ld_err(L, err, CB_EFORMAT, "missing input"); return NULL; }
  if (x->kind != V_NODE) { ld_err(L, err, CB_EUNSUP, "constant input is not supported"); return NULL; }
  if (x->shape.rank == 3 && x->shape.dim[0] == 1) {
    *v4 = *x;
    v4->shape.rank = 4;
    v4->shape.dim[3] = x->shape.dim[2]; v4->shape.dim[2] = 1;
    *oned = 1;
    return v4;
  }
  if (x->shape.rank != 4 || x->shape.dim[0] != 1) {
    ld_err(L, err, CB_EUNSUP, "input has %d dims: only 1-D and 2-D windows on [1,C,L] and [1,C,H,W] are supported", x->shape.rank);
    return NULL;
  }
  return x;
}

/* Appends a CONV node with geometry g and allocated weights (W zeroed). */
static int add_conv(ld *L, const Onnx__NodeProto *nd, const val *x, const cb_conv *g, cb_node **np, cb_error *err)
{
  cb_shape s = {4, {1, g->cout, g->hout, g->wout}};
  int idx = net_add(L->net, CB_CONV, ld_node_name(nd), nd->op_type, &x->node, 1, &s, err);
  size_t nw;
  cb_node *n;
  if (idx < 0) return idx;
  n = &L->net->node[idx];
  n->p.conv.g = *g;
  if (!cb_mul_size((size_t)g->cout, (size_t)(g->cin / g->groups * g->kh * g->kw), &nw))
    return ld_err(L, err, CB_ENOMEM, "kernel too large");
  n->p.conv.W = net_doubles(L->net, nw);
  n->p.conv.b = net_doubles(L->net, (size_t)g->cout);
  if (!n->p.conv.W || !n->p.conv.b) return ld_err(L, err, CB_ENOMEM, "out of memory");
  *np = n;
  return idx;
}

static int op_conv(ld *L, const Onnx__NodeProto *nd, const val *x, int oned, cb_error *err)
{
  const val *W = ld_find(L, nd->n_input > 1 ? nd->input[1] : ""), *B = NULL;
  int64_t grp = ld_attr_int(nd, "group", 1);
  cb_conv g;
  cb_node *n;
  int idx, rc;
  if (!W || W->kind != V_CONST) return ld_err(L, err, CB_EUNSUP, "weight is missing or not a constant");
  if (W->shape.rank != (oned ? 3 : 4))
    return ld_err(L, err, CB_EUNSUP, "%d-D kernel on a %d-D input: only 1-D and 2-D convolutions are supported",
                  W->shape.rank - 2, oned ? 1 : 2);
  if (nd->n_input > 2 && nd->input[2][0]) {
    B = ld_find(L, nd->input[2]);
    if (!B || B->kind != V_CONST) return ld_err(L, err, CB_EUNSUP, "bias is not a constant");
    if (B->n != (size_t)W->shape.dim[0]) return ld_err(L, err, CB_ESHAPE, "bias has %zu values for %lld filters", B->n, (long long)W->shape.dim[0]);
  }
  if ((rc = geometry(L, nd, x, oned ? 1 : W->shape.dim[2], W->shape.dim[oned ? 2 : 3], &g, oned, err)) != CB_OK) return rc;
  if (grp < 1 || g.cin % grp || W->shape.dim[0] % grp || W->shape.dim[1] * grp != g.cin)
    return ld_err(L, err, CB_ESHAPE, "kernel expects %lld input channels per group (group=%lld), the input has %lld channels",
                  (long long)W->shape.dim[1], (long long)grp, (long long)g.cin);
  g.groups = grp;
  g.cout = W->shape.dim[0];
  if ((idx = add_conv(L, nd, x, &g, &n, err)) < 0) return idx;
  if (!(n->w_init = arena_strdup(&L->net->arena, W->name))) return ld_err(L, err, CB_ENOMEM, "out of memory");
  memcpy(n->p.conv.W, W->d, W->n * sizeof(double));
  if (B) memcpy(n->p.conv.b, B->d, B->n * sizeof(double));
  return ops_bind_node(L, nd, idx, err);
}

/* AveragePool / GlobalAveragePool as a depthwise conv with weights 1/(kh*kw). */
static int op_avgpool(ld *L, const Onnx__NodeProto *nd, const val *x, int global, int oned, cb_error *err)
{
  cb_conv g;
  cb_node *n;
  double w;
  int idx, rc;
  if (global) {
    memset(&g, 0, sizeof g);
    g.cin = x->shape.dim[1]; g.hin = g.hout = x->shape.dim[2]; g.win = g.wout = x->shape.dim[3];
    g.kh = g.hin; g.kw = g.win; g.sh = g.sw = g.dh = g.dw = 1; g.hout = g.wout = 1;
  } else {
    if ((rc = geometry(L, nd, x, 0, 0, &g, oned, err)) != CB_OK || (rc = ceil_ok(L, nd, &g, err)) != CB_OK) return rc;
    if ((g.pt || g.pl || g.pb || g.pr) && !ld_attr_int(nd, "count_include_pad", 0))
      return ld_err(L, err, CB_EUNSUP, "unsupported attribute value count_include_pad=0 with non-zero pads");
  }
  g.groups = g.cout = g.cin;
  if ((idx = add_conv(L, nd, x, &g, &n, err)) < 0) return idx;
  w = 1.0 / (double)(g.kh * g.kw);
  if (fma(w, (double)(g.kh * g.kw), -1.0) != 0) { n->exact = 0; n->rel_err = ROUND_U; }
  for (int64_t i = 0; i < g.cout * g.kh * g.kw; i++) n->p.conv.W[i] = w;
  return ops_bind_node(L, nd, idx, err);
}

static int op_maxpool(ld *L, const Onnx__NodeProto *nd, const val *x, int oned, cb_error *err)
{
  cb_conv g;
  cb_shape s;
  int idx, rc;
  if ((rc = geometry(L, nd, x, 0, 0, &g, oned, err)) != CB_OK || (rc = ceil_ok(L, nd, &g, err)) != CB_OK) return rc;
  if (g.pt >= g.kh || g.pb >= g.kh || g.pl >= g.kw || g.pr >= g.kw)
    return ld_err(L, err, CB_EFORMAT, "pads must be smaller than the kernel");
  g.cout = g.cin;
  s.rank = 4; s.dim[0] = 1; s.dim[1] = g.cin; s.dim[2] = g.hout; s.dim[3] = g.wout;
  idx = net_add(L->net, CB_MAXPOOL, ld_node_name(nd), nd->op_type, &x->node, 1, &s, err);
  if (idx >= 0) L->net->node[idx].p.pool.g = g;
  return ops_bind_node(L, nd, idx, err);
}

/* A 1-D window's [1,C,1,L'] node, seen again as [1,C,L'] by a free RESHAPE. */
static int back_to_1d(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  val *v = ld_find(L, nd->output[0]);
  cb_shape s;
  int idx;
  if (!v || v->kind != V_NODE) return ld_err(L, err, CB_EINTERNAL, "1-D window output not bound");
  s.rank = 3; s.dim[0] = 1; s.dim[1] = v->shape.dim[1]; s.dim[2] = v->shape.dim[3];
  idx = net_add(L->net, CB_RESHAPE, ld_node_name(nd), nd->op_type, &v->node, 1, &s, err);
  if (idx < 0) return idx;
  v->node = idx;
  v->shape = s;
  return CB_OK;
}

int ops_window(ld *L, const Onnx__NodeProto *nd, int kind, cb_error *err)
{
  val v4;
  int oned, rc;
  const val *x = input4(L, nd, &v4, &oned, err);
  if (!x) return err->status;
  if (kind == 0) rc = op_conv(L, nd, x, oned, err);
  else if (kind == 1) rc = op_maxpool(L, nd, x, oned, err);
  else rc = op_avgpool(L, nd, x, kind == 3, oned, err);
  return rc == CB_OK && oned ? back_to_1d(L, nd, err) : rc;
}

/* Pads and value: attributes before opset 11, inputs from 11. */
static int pad_args(ld *L, const Onnx__NodeProto *nd, int64_t *pd, int *n, double *value, cb_error *err)
{
  const val *p, *c;
  *value = 0;
  if (L->opset < 11) {
    *n = ld_attr_ints(nd, "pads", pd, 2 * CB_MAX_RANK);
    if (*n < 0) *n = ld_attr_ints(nd, "paddings", pd, 2 * CB_MAX_RANK);
    *value = ld_attr_float(nd, "value", 0);
    if (*n < 0) return ld_err(L, err, CB_EFORMAT, "missing pads");
    return CB_OK;
  }
  p = ld_find(L, nd->n_input > 1 ? nd->input[1] : "");
  if (!p || p->kind != V_CONST) return ld_err(L, err, CB_EUNSUP, "pads missing or not a constant");
  if (p->n > 2 * CB_MAX_RANK) return ld_err(L, err, CB_EUNSUP, "too many pads");
  for (size_t i = 0; i < p->n; i++)
    if (ld_const_int(L, p, i, "pads", &pd[i], err)) return err->status;
  *n = (int)p->n;
  if (nd->n_input > 2 && nd->input[2][0]) {
    c = ld_find(L, nd->input[2]);
    if (!c || c->kind != V_CONST || c->n != 1) return ld_err(L, err, CB_EUNSUP, "constant_value is not a constant scalar");
    *value = c->d[0];
  }
  return CB_OK;
}

int ops_pad(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const Onnx__AttributeProto *m = ld_attr(nd, "mode");
  const val *x = ld_find(L, nd->n_input ? nd->input[0] : "");
  int64_t pd[2 * CB_MAX_RANK];
  int n = 0, r, rc, any = 0;
  double value;
  cb_conv g;
  cb_node *cn;
  int idx;
  if (m && !(m->s.len == 8 && !memcmp(m->s.data, "constant", 8)))
    return ld_err(L, err, CB_EUNSUP, "unsupported attribute value mode=%.*s (constant is supported)", (int)m->s.len, (const char *)m->s.data);
  if (!x || x->kind != V_NODE) return ld_err(L, err, CB_EUNSUP, "input missing or constant");
  if ((rc = pad_args(L, nd, pd, &n, &value, err)) != CB_OK) return rc;
  r = x->shape.rank;
  if (n != 2 * r) return ld_err(L, err, CB_ESHAPE, "%d pads for a %d-D tensor", n, r);
  for (int i = 0; i < n; i++) {
    if (pd[i] < 0) return ld_err(L, err, CB_EUNSUP, "negative pads (cropping) are not supported");
    if (pd[i] > ((int64_t)1 << 24)) return ld_err(L, err, CB_ESHAPE, "pad %lld is absurdly large", (long long)pd[i]);
    if (pd[i]) any = 1;
    if (pd[i] && (r != 4 || i % r < 2)) return ld_err(L, err, CB_EUNSUP, "padding is supported on H and W of [1,C,H,W] only");
  }
  if (!any) return ops_alias(L, nd, err);
  if (value != 0) return ld_err(L, err, CB_EUNSUP, "padding value %g (only 0 is supported)", value);
  memset(&g, 0, sizeof g);
  g.cin = g.cout = g.groups = x->shape.dim[1]; g.hin = x->shape.dim[2]; g.win = x->shape.dim[3];
  g.kh = g.kw = g.sh = g.sw = g.dh = g.dw = 1;
  g.pt = pd[2]; g.pl = pd[3]; g.pb = pd[6]; g.pr = pd[7];
  g.hout = g.hin + g.pt + g.pb; g.wout = g.win + g.pl + g.pr;
  if ((idx = add_conv(L, nd, x, &g, &cn, err)) < 0) return idx;
  for (int64_t i = 0; i < g.cout; i++) cn->p.conv.W[i] = 1;
  return ops_bind_node(L, nd, idx, err);
}

int ops_batchnorm(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x = ld_find(L, nd->n_input ? nd->input[0] : ""), *p[4];
  double eps = ld_attr_float(nd, "epsilon", 1e-5);
  int64_t C;
  size_t inner = 1;
  cb_node *n;
  int idx;
  if (nd->n_input != 5) return ld_err(L, err, CB_EFORMAT, "expects 5 inputs, has %zu", nd->n_input);
  if (!x || x->kind != V_NODE || x->shape.rank < 2) return ld_err(L, err, CB_EUNSUP, "input must be computed and at least 2-D");
  C = x->shape.dim[1];
  for (int i = 0; i < 4; i++) {
    p[i] = ld_find(L, nd->input[i + 1]);
    if (!p[i] || p[i]->kind != V_CONST) return ld_err(L, err, CB_EUNSUP, "parameter %d is not a constant", i + 1);
    if (p[i]->n != (size_t)C) return ld_err(L, err, CB_ESHAPE, "parameter \"%s\" has %zu values for %lld channels", p[i]->name, p[i]->n, (long long)C);
  }
  for (int i = 2; i < x->shape.rank; i++) inner *= (size_t)x->shape.dim[i];
  idx = net_add(L->net, CB_SCALE, ld_node_name(nd), nd->op_type, &x->node, 1, &x->shape, err);
  if (idx < 0) return idx;
  n = &L->net->node[idx];
  n->p.scale.a = net_doubles(L->net, n->size);
  n->p.scale.b = net_doubles(L->net, n->size);
  if (!n->p.scale.a || !n->p.scale.b) return ld_err(L, err, CB_ENOMEM, "out of memory");
  n->exact = 0;
  n->rel_err = 4 * ROUND_U;
  for (int64_t c = 0; c < C; c++) {
    double v = p[3]->d[c] + eps, a, b;
    if (!(v > 0)) return ld_err(L, err, CB_EVALUE, "variance + epsilon is not positive in channel %lld", (long long)c);
    a = p[0]->d[c] / sqrt(v);
    b = p[1]->d[c] - p[2]->d[c] * a;
    for (size_t k = 0; k < inner; k++) { n->p.scale.a[(size_t)c * inner + k] = a; n->p.scale.b[(size_t)c * inner + k] = b; }
  }
  return ops_bind_node(L, nd, idx, err);
}
