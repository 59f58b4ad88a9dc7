/*
** ONNX elementwise ops beyond onnx_ops.c's table, and the product patterns
** PyTorch exports for SiLU and GELU, mapped onto the activation table:
**   Gelu (opset 20; approximate "none" or "tanh") -> GELU / GELU_TANH;
**   HardSwish -> HARD_SWISH; Abs -> ABS; Log -> LOG;
**   Sqrt, Reciprocal, Pow(x, constant scalar p) -> POW (p = 1/2, -1, p);
**   Neg -> SCALE(-1);
**   Resize (and Upsample, opsets 7-9) in nearest mode -> an exact 0/1
**     AFFINE, in linear mode -> an AFFINE with the separable interpolation
**     weights (small tensors only);
**   PRelu with one slope -> LEAKY_RELU; with per-channel slopes a:
**     relu(x) + a relu(-x) * (-1)  (RELU, SCALE(-1), RELU, SCALE(-a), ADD:
**     exact, as PRelu(x) = max(x, 0) - a max(-x, 0));
**   Mul(x, x) -> POW 2; Mul(x, Mul(x, x)) -> POW 3;
**   Mul(x, Sigmoid(x)) -> SILU(x)                       (torch's SiLU export);
**   torch's tanh-GELU export x (1 + tanh(c (x + k x^3))) with the row's c, k
**     -> 2 GELU_TANH(x);
**   Mul(x, Add(Erf(Div(x, c)), 1)) -> (2/b) GELU(b x),  b = sqrt 2 / c
**     (torch's GELU export, x * 0.5 * (1 + erf(x / sqrt 2)): c = sqrt 2
**     rounded, so b is 1 within a few ulps; both scales carry their rounding
**     in rel_err, so the certified function is the file's).
** Called by ops_convert before it refuses an op (ops_elem) and by op_binary
** for a product of two computed tensors (ops_fuse_product); FOLD_NO: not ours.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "onnx_int.h"
#include "round.h"

static val *in_v(ld *L, const Onnx__NodeProto *nd, size_t k)
{
  if (k >= nd->n_input || !nd->input[k][0]) return NULL;
  return ld_find(L, nd->input[k]);
}

/* Activation node of `type` (parameter alpha) on x; returns its index or < 0. */
static int act_on(ld *L, const Onnx__NodeProto *nd, int x, cb_act type, double alpha, cb_error *err)
{
  int i = net_add(L->net, CB_ACT, ld_node_name(nd), nd->op_type, &x, 1, &L->net->node[x].shape, err);
  if (i < 0) return i;
  L->net->node[i].p.act.type = type;
  L->net->node[i].p.act.alpha = alpha;
  return i;
}

/* SCALE y = a x (a per entry, or the constant a0 when av is NULL), rel_err rel. */
static int scale_on(ld *L, const Onnx__NodeProto *nd, int x, const double *av, double a0, double rel, cb_error *err)
{
  int i = net_add(L->net, CB_SCALE, ld_node_name(nd), nd->op_type, &x, 1, &L->net->node[x].shape, err);
  cb_node *n;
  if (i < 0) return i;
  n = &L->net->node[i];
  n->p.scale.a = net_doubles(L->net, n->size);
  n->p.scale.b = net_doubles(L->net, n->size);
  if (!n->p.scale.a || !n->p.scale.b) return ld_err(L, err, CB_ENOMEM, "out of memory");
  for (size_t e = 0; e < n->size; e++) { n->p.scale.a[e] = av ? av[e] : a0; n->p.scale.b[e] = 0; }
  if (rel > 0) { n->exact = 0; n->rel_err = rel; }
  return i;
}

/* The single computed input of nd, or NULL with an error. */
static const val *one_in(ld *L, const Onnx__NodeProto *nd, size_t hi, cb_error *err)
{
  const val *x;
  if (nd->n_input < 1 || nd->n_input > hi) { ld_err(L, err, CB_EFORMAT, "has %zu inputs", nd->n_input); return NULL; }
  if (!(x = in_v(L, nd, 0))) { ld_err(L, err, CB_EFORMAT, "missing input"); return NULL; }
  if (x->kind != V_NODE) { ld_err(L, err, CB_EUNSUP, "constant input (constant folding of this op is not supported)"); return NULL; }
  return x;
}

static int unary(ld *L, const Onnx__NodeProto *nd, cb_act type, double alpha, cb_error *err)
{
  const val *x = one_in(L, nd, 1, err);
  if (!x) return err->status;
  return ops_bind_node(L, nd, act_on(L, nd, x->node, type, alpha, err), err);
}

static int op_gelu(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const Onnx__AttributeProto *a = ld_attr(nd, "approximate");
  const char *ap = "none";
  char buf[16];
  if (a && a->s.len > 0) {
    size_t n = a->s.len < sizeof buf - 1 ? a->s.len : sizeof buf - 1;
    memcpy(buf, a->s.data, n); buf[n] = 0; ap = buf;
  }
  if (!strcmp(ap, "none")) return unary(L, nd, CB_ACT_GELU, 0, err);
  if (!strcmp(ap, "tanh")) return unary(L, nd, CB_ACT_GELU_TANH, 0, err);
  return ld_err(L, err, CB_EUNSUP, "Gelu approximate=\"%s\" (none and tanh are supported)", ap);
}

static int op_pow(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x = one_in(L, nd, 2, err), *p;
  if (!x) return err->status;
  if (nd->n_input != 2 || !(p = in_v(L, nd, 1))) return ld_err(L, err, CB_EFORMAT, "Pow needs 2 inputs");
  if (p->kind != V_CONST) return ld_err(L, err, CB_EUNSUP, "Pow with a computed exponent is not supported");
  if (p->n != 1) return ld_err(L, err, CB_EUNSUP, "Pow with a non-scalar exponent is not supported");
  if (!isfinite(p->d[0])) return ld_err(L, err, CB_EVALUE, "Pow exponent %g is not finite", p->d[0]);
  return ops_bind_node(L, nd, act_on(L, nd, x->node, CB_ACT_POW, p->d[0], err), err);
}

static int op_prelu(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const val *x = one_in(L, nd, 2, err), *s;
  double *a;
  size_t n;
  int r1, m, r2, sc, o, all_same = 1;
  if (!x) return err->status;
  if (nd->n_input != 2 || !(s = in_v(L, nd, 1))) return ld_err(L, err, CB_EFORMAT, "PRelu needs 2 inputs");
  if (s->kind != V_CONST) return ld_err(L, err, CB_EUNSUP, "PRelu with a computed slope is not supported");
  if (s->n < 1) return ld_err(L, err, CB_EFORMAT, "PRelu slope is empty");
  for (size_t e = 0; e < s->n; e++) {
    if (!isfinite(s->d[e])) return ld_err(L, err, CB_EVALUE, "PRelu slope %g is not finite", s->d[e]);
    if (s->d[e] != s->d[0]) all_same = 0;
  }
  if (all_same) return ops_bind_node(L, nd, act_on(L, nd, x->node, CB_ACT_LEAKY_RELU, s->d[0], err), err);
  n = L->net->node[x->node].size;
  if (!(a = ops_broadcast(L, s, &x->shape, err))) return err->status;
  if ((r1 = act_on(L, nd, x->node, CB_ACT_RELU, 0, err)) < 0) return r1;
  if ((m = scale_on(L, nd, x->node, NULL, -1, 0, err)) < 0) return m;
  if ((r2 = act_on(L, nd, m, CB_ACT_RELU, 0, err)) < 0) return r2;
  for (size_t e = 0; e < n; e++) a[e] = -a[e];
  if ((sc = scale_on(L, nd, r2, a, 0, 0, err)) < 0) return sc;
  {
    int in2[2] = {r1, sc};
    o = net_add(L->net, CB_ADD, ld_node_name(nd), nd->op_type, in2, 2, &x->shape, err);
  }
  return ops_bind_node(L, nd, o, err);
}

/* String attribute `name` into buf (def if absent). */
static const char *attr_str(const Onnx__NodeProto *nd, const char *name, const char *def, char *buf, size_t n)
{
  const Onnx__AttributeProto *a = ld_attr(nd, name);
  if (!a || !a->s.data) return def;
  snprintf(buf, n, "%.*s", (int)(a->s.len < n - 1 ? a->s.len : n - 1), (const char *)a->s.data);
  return buf;
}

/* Resize (opsets 10-20), nearest and linear modes, constant scales or sizes.

   nearest: output coordinate o of an axis of input length n and scale
   s = out/n goes to x = T(o) (the coordinate transformation mode), then to
   the input index by the nearest mode, clamped to [0, n - 1]
   (onnx/reference/ops/op_resize.py).  A 0/1 matrix: an exact AFFINE node.

   linear (bilinear, trilinear: separable over every axis): x = T(o) is a
   rational number num/den computed in integers from the file's numbers
   (a scale s is a float: s = sp/sq exactly with sq a power of two; sizes
   give s = out/n); i = floor(x), w = x - i; the output is
   (1 - w) X[clamp(i)] + w X[clamp(i + 1)] along each axis (the reference's
   edge padding is this clamp; exclude_outside renormalises to the same
   weights).  The matrix is the product of the per-axis weights, all >= 0:
   an AFFINE node with zero bias.  Each per-axis weight is fl(p/q) of an
   exact rational and each product of factors one more rounding, so a
   stored weight is within (1 + u)^(2r) - 1 <= 4 r u (r the rank) of the
   real one, relative; when every division and product was exact (checked
   with fma; scale 2, align_corners with n - 1 | out - 1...) the node is
   exact, otherwise exact = 0 and rel_err = 4 r u (docs/soundness.md 1).
   The real-arithmetic map is the certified one: align_corners uses the
   integer output length (as torch and onnxruntime do).

   Refused by name: cubic and unknown modes, tf_crop_and_resize and
   half_pixel_symmetric, axes / antialias / keep_aspect_ratio_policy, a
   resize of the batch or channel axis, and matrices above 2^22 entries (a
   dense matrix: large upsamplings need an index-map kind, not written
   yet). */
static int64_t nearest_index(const char *ct, const char *nm, int64_t o, int64_t n, int64_t out, double sc)
{
  double x, f;
  int64_t i;
  if (!strcmp(ct, "asymmetric")) x = (double)o / sc;
  else if (!strcmp(ct, "align_corners")) x = out > 1 ? (double)o * (double)(n - 1) / (double)(out - 1) : 0;
  else if (!strcmp(ct, "tf_half_pixel_for_nn")) x = ((double)o + 0.5) / sc;
  else if (!strcmp(ct, "pytorch_half_pixel")) x = out > 1 ? ((double)o + 0.5) / sc - 0.5 : 0;
  else x = ((double)o + 0.5) / sc - 0.5;   /* half_pixel */
  f = floor(x);
  if (!strcmp(nm, "floor")) i = (int64_t)f;
  else if (!strcmp(nm, "ceil")) i = (int64_t)ceil(x);
  else if (!strcmp(nm, "round_prefer_ceil")) i = x - f >= 0.5 ? (int64_t)f + 1 : (int64_t)f;
  else i = x - f > 0.5 ? (int64_t)f + 1 : (int64_t)f;   /* round_prefer_floor */
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/* The scale s = *sp / *sq exactly (sq a power of two); 0 when its numerator
   or denominator exceeds 2^40 (the integer arithmetic below stays < 2^62). */
static int scale_ratio(double s, int64_t *sp, int64_t *sq)
{
  int e;
  double f = frexp(s, &e);   /* s = f 2^e, f in [0.5, 1) */
  int64_t m = (int64_t)ldexp(f, 53);
  e -= 53;
  while (m % 2 == 0) { m /= 2; e++; }
  if (m > ((int64_t)1 << 40) || e > 40 || e < -40) return 0;
  if (e >= 0) {
    if (m > (((int64_t)1 << 40) >> e)) return 0;
    *sp = m << e; *sq = 1;
  } else { *sp = m; *sq = (int64_t)1 << -e; }
  return 1;
}

/* Linear weights of output coordinate o on one axis: up to 2 (index, weight)
   pairs, weights fl(p/q) of exact rationals; *exact cleared when one is not
   a double.  The coordinate x = num/den (den > 0) by the mode; sp/sq the
   scale (out/n for sizes). */
static int linear_taps(const char *ct, int64_t o, int64_t n, int64_t out, int64_t sp, int64_t sq,
                       int64_t idx[2], double w[2], int *exact)
{
  int64_t num, den, i0, r, a, b;
  if (!strcmp(ct, "asymmetric")) { num = o * sq; den = sp; }
  else if (!strcmp(ct, "align_corners")) { num = out > 1 ? o * (n - 1) : 0; den = out > 1 ? out - 1 : 1; }
  else if (!strcmp(ct, "tf_half_pixel_for_nn")) { num = (2 * o + 1) * sq; den = 2 * sp; }
  else if (!strcmp(ct, "pytorch_half_pixel") && out == 1) { num = -1; den = 2; }
  else { num = (2 * o + 1) * sq - sp; den = 2 * sp; }   /* half_pixel, pytorch_half_pixel */
  i0 = num >= 0 ? num / den : -((-num + den - 1) / den);   /* floor */
  r = num - i0 * den;                                          /* in [0, den) */
  a = i0 < 0 ? 0 : i0 >= n ? n - 1 : i0;
  b = i0 + 1 < 0 ? 0 : i0 + 1 >= n ? n - 1 : i0 + 1;
  if (r == 0 || a == b) { idx[0] = a; w[0] = 1; return 1; }   /* x integer: X[clamp(x)]; both taps clamped together */
  idx[0] = a; idx[1] = b;
  w[0] = (double)(den - r) / (double)den;
  w[1] = (double)r / (double)den;
  if (fma(w[0], (double)den, -(double)(den - r)) != 0 || fma(w[1], (double)den, -(double)r) != 0) *exact = 0;
  return 2;
}

/* Upsample (opsets 7-9; deprecated in 10 with the same meaning): Resize-10's
   map, asymmetric coordinates x = o / s, nearest index floor(x) (s >= 1:
   onnxruntime's "simple" rule is floor when upsampling), linear as above;
   scales in the attribute `scales` (opsets 7, 8) or a constant input 1
   (opset 9).  A scale below 1 is refused (the spec requires >= 1). */
static const Onnx__AttributeProto *upsample_scales(const Onnx__NodeProto *nd)
{
  const Onnx__AttributeProto *a = ld_attr(nd, "scales");
  return a && a->n_floats > 0 ? a : NULL;
}

static int op_resize(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  char b1[32], b2[32], b3[32];
  int up = !strcmp(nd->op_type, "Upsample");
  const char *op = up ? "Upsample" : "Resize";
  const char *mode = attr_str(nd, "mode", "nearest", b1, sizeof b1);
  const char *ct = up ? "asymmetric" : attr_str(nd, "coordinate_transformation_mode", L->opset < 11 ? "asymmetric" : "half_pixel", b2, sizeof b2);
  const char *nm = up ? "floor" : attr_str(nd, "nearest_mode", L->opset < 11 ? "floor" : "round_prefer_floor", b3, sizeof b3);
  const val *x = one_in(L, nd, up ? 2 : 4, err), *sc = NULL, *sz = NULL;
  const Onnx__AttributeProto *sa = up ? upsample_scales(nd) : NULL;
  double scale[CB_MAX_RANK];
  int64_t sp[CB_MAX_RANK], sq[CB_MAX_RANK];
  cb_shape os;
  size_t nin, nout, nw;
  int idx, r, linear, exact = 1;
  cb_node *n;
  if (!x) return err->status;
  if (!strcmp(mode, "cubic")) return ld_err(L, err, CB_EUNSUP, "%s mode=\"cubic\" is not supported (nearest and linear are)", op);
  linear = !strcmp(mode, "linear");
  if (!linear && strcmp(mode, "nearest")) return ld_err(L, err, CB_EUNSUP, "%s mode=\"%s\" is not supported (nearest and linear are)", op, mode);
  if (up) {
    if (!sa && !((sc = in_v(L, nd, 1)) && sc->kind == V_CONST && sc->n > 0))
      return ld_err(L, err, CB_EUNSUP, "Upsample needs constant scales (the attribute, or input 1 from opset 9)");
    r = x->shape.rank;
    if ((sa ? sa->n_floats : sc->n) != (size_t)r)
      return ld_err(L, err, CB_ESHAPE, "Upsample scales have %zu entries for rank %d", sa ? sa->n_floats : sc->n, r);
    for (int d = 0; d < r; d++) {
      double v = sa ? (double)sa->floats[d] : sc->d[d];
      if (!(v >= 1)) return ld_err(L, err, CB_EVALUE, "Upsample scale %g: the spec requires scales >= 1", v);
    }
    goto geometry;
  }
  if (strcmp(ct, "asymmetric") && strcmp(ct, "align_corners") && strcmp(ct, "half_pixel") && strcmp(ct, "pytorch_half_pixel") &&
      strcmp(ct, "tf_half_pixel_for_nn"))
    return ld_err(L, err, CB_EUNSUP, "Resize coordinate_transformation_mode=\"%s\" is not supported", ct);
  if (!linear && strcmp(nm, "floor") && strcmp(nm, "ceil") && strcmp(nm, "round_prefer_floor") && strcmp(nm, "round_prefer_ceil"))
    return ld_err(L, err, CB_EUNSUP, "Resize nearest_mode=\"%s\" is not supported", nm);
  if (ld_attr(nd, "axes") || ld_attr_int(nd, "antialias", 0) || strcmp(attr_str(nd, "keep_aspect_ratio_policy", "stretch", b1, sizeof b1), "stretch"))
    return ld_err(L, err, CB_EUNSUP, "Resize axes / antialias / keep_aspect_ratio_policy are not supported");
  if (L->opset < 11) sc = in_v(L, nd, 1);
  else { sc = in_v(L, nd, 2); sz = in_v(L, nd, 3); }
  if (sc && sc->n == 0) sc = NULL;
  if (sz && sz->n == 0) sz = NULL;
  if ((sc && sc->kind != V_CONST) || (sz && sz->kind != V_CONST) || (!sc && !sz) || (sc && sz))
    return ld_err(L, err, CB_EUNSUP, "Resize needs exactly one of constant scales and sizes");
  r = x->shape.rank;
  if ((sc ? sc->n : sz->n) != (size_t)r) return ld_err(L, err, CB_ESHAPE, "Resize scales/sizes have %zu entries for rank %d", sc ? sc->n : sz->n, r);
geometry:
  os = x->shape;
  for (int d = 0; d < r; d++) {
    int64_t want;
    if (sz) {
      if (ld_const_int(L, sz, (size_t)d, "sizes", &want, err) != CB_OK) return err->status;
      if (want < 1 || want > (1 << 20)) return ld_err(L, err, CB_EVALUE, "Resize size %lld out of range", (long long)want);
      os.dim[d] = want;
      scale[d] = (double)want / (double)x->shape.dim[d];
      sp[d] = want; sq[d] = x->shape.dim[d];
    } else {
      scale[d] = sa ? (double)sa->floats[d] : sc->d[d];
      if (!(scale[d] > 0 && scale[d] <= 4096)) return ld_err(L, err, CB_EVALUE, "%s scale %g out of range", op, scale[d]);
      os.dim[d] = (int64_t)floor((double)x->shape.dim[d] * scale[d]);
      if (os.dim[d] < 1) return ld_err(L, err, CB_EVALUE, "%s gives an empty axis", op);
      if (linear && !scale_ratio(scale[d], &sp[d], &sq[d]))
        return ld_err(L, err, CB_EUNSUP, "%s linear with scale %.17g: not a binary fraction of at most 40 bits", op, scale[d]);
    }
    if (d < 2 && os.dim[d] != x->shape.dim[d]) return ld_err(L, err, CB_EUNSUP, "%s of the batch or channel axis is not supported", op);
  }
  nin = L->net->node[x->node].size;
  nout = shape_size(&os);
  if (!cb_mul_size(nin, nout, &nw) || nw > ((size_t)1 << 22))
    return ld_err(L, err, CB_EUNSUP, "%s to %zu values from %zu: a matrix too large (an index-map kind is not written yet)", op, nout, nin);
  if ((idx = net_add(L->net, CB_AFFINE, ld_node_name(nd), nd->op_type, &x->node, 1, &os, err)) < 0) return idx;
  n = &L->net->node[idx];
  n->p.aff.out = nout; n->p.aff.in = nin;
  n->p.aff.W = net_doubles(L->net, nw);
  n->p.aff.b = net_doubles(L->net, nout);
  if (!n->p.aff.W || !n->p.aff.b) return ld_err(L, err, CB_ENOMEM, "out of memory");
  memset(n->p.aff.W, 0, nw * sizeof(double));
  memset(n->p.aff.b, 0, nout * sizeof(double));
  for (size_t o = 0; o < nout; o++) {
    size_t rem = o, src = 0, stride = 1;
    if (!linear) {
      for (int d = r - 1; d >= 0; d--) {
        int64_t od = (int64_t)(rem % (size_t)os.dim[d]);
        rem /= (size_t)os.dim[d];
        src += (size_t)nearest_index(ct, nm, od, x->shape.dim[d], os.dim[d], scale[d]) * stride;
        stride *= (size_t)x->shape.dim[d];
      }
      n->p.aff.W[o * nin + src] = 1;
    } else {
      /* taps per axis, then every combination (at most 2^r) */
      int64_t ti[CB_MAX_RANK][2];
      double tw[CB_MAX_RANK][2];
      int nt[CB_MAX_RANK], ncomb = 1;
      for (int d = r - 1; d >= 0; d--) {
        int64_t od = (int64_t)(rem % (size_t)os.dim[d]);
        rem /= (size_t)os.dim[d];
        nt[d] = linear_taps(ct, od, x->shape.dim[d], os.dim[d], sp[d], sq[d], ti[d], tw[d], &exact);
        ncomb *= nt[d];
      }
      for (int c = 0; c < ncomb; c++) {
        double w = 1;
        int cc = c;
        src = 0; stride = 1;
        for (int d = r - 1; d >= 0; d--) {
          int k = cc % nt[d];
          double p = w * tw[d][k];
          cc /= nt[d];
          if (fma(w, tw[d][k], -p) != 0) exact = 0;
          w = p;
          src += (size_t)ti[d][k] * stride;
          stride *= (size_t)x->shape.dim[d];
        }
        n->p.aff.W[o * nin + src] += w;   /* distinct combinations hit distinct sources */
      }
    }
  }
  if (!exact) { n->exact = 0; n->rel_err = 4.0 * r * ROUND_U; }
  return ops_bind_node(L, nd, idx, err);
}

int ops_elem(ld *L, const Onnx__NodeProto *nd, cb_error *err)
{
  const char *op = nd->op_type ? nd->op_type : "";
  if (!strcmp(op, "Gelu")) return op_gelu(L, nd, err);
  if (!strcmp(op, "HardSwish")) return unary(L, nd, CB_ACT_HARD_SWISH, 0, err);
  if (!strcmp(op, "Abs")) return unary(L, nd, CB_ACT_ABS, 0, err);
  if (!strcmp(op, "Log")) return unary(L, nd, CB_ACT_LOG, 0, err);
  if (!strcmp(op, "Sqrt")) return unary(L, nd, CB_ACT_POW, 0.5, err);
  if (!strcmp(op, "Reciprocal")) return unary(L, nd, CB_ACT_POW, -1, err);
  if (!strcmp(op, "Pow")) return op_pow(L, nd, err);
  if (!strcmp(op, "PRelu")) return op_prelu(L, nd, err);
  if (!strcmp(op, "Resize") || !strcmp(op, "Upsample")) return op_resize(L, nd, err);
  if (!strcmp(op, "Neg")) {
    const val *x = one_in(L, nd, 1, err);
    if (!x) return err->status;
    return ops_bind_node(L, nd, scale_on(L, nd, x->node, NULL, -1, 0, err), err);
  }
  return FOLD_NO;
}

/* All entries of SCALE node n: a == av and b == bv (NaN av: any common a). */
static int uniform_scale(const cb_node *n, double *av, double bv)
{
  if (n->kind != CB_SCALE || n->size == 0) return 0;
  if (isnan(*av)) *av = n->p.scale.a[0];
  for (size_t e = 0; e < n->size; e++) if (n->p.scale.a[e] != *av || n->p.scale.b[e] != bv) return 0;
  return 1;
}

/* GELU's torch export: t = SCALE(1, +1) of ERF of d = SCALE(a, 0) of x; the
   product x t = (2/b) GELU(b x) with b = sqrt 2 a (a as the file defines it:
   within d's rel_err of the stored a). */
static int fuse_gelu(ld *L, const Onnx__NodeProto *nd, int x, int t, cb_error *err)
{
  const cb_node *T = &L->net->node[t], *E, *D;
  double one = 1, a = NAN, b, rel;
  int s1, g;
  if (!uniform_scale(T, &one, 1)) return FOLD_NO;
  E = &L->net->node[T->in[0]];
  if (!node_is_act(E, CB_ACT_ERF)) return FOLD_NO;
  D = &L->net->node[E->in[0]];
  if (D->in[0] != x || !uniform_scale(D, &a, 0) || !(a > 0) || !isfinite(a)) return FOLD_NO;
  rel = D->exact ? 0 : D->rel_err;
  b = 1.4142135623730951 * a;                      /* sqrt 2 (rounded: u) times a (rel), rounded (u) */
  if ((s1 = scale_on(L, nd, x, NULL, b, 1.01 * rel + 4 * ROUND_U, err)) < 0) return s1;
  if ((g = act_on(L, nd, s1, CB_ACT_GELU, 0, err)) < 0) return g;
  return ops_bind_node(L, nd, scale_on(L, nd, g, NULL, 2 / b, 1.02 * rel + 8 * ROUND_U, err), err);
}

/* GELU's tanh export: t = SCALE(1, +1) of TANH of w = SCALE(c, 0) of
   ADD(x, SCALE(k, 0) of POW 3 of x) with c, k the doubles GELU_TANH's row
   uses (sqrt(2/pi) rounded, 0.044715): x t = 2 GELU_TANH(x).  Other
   constants (a float32 export) are not fused (the product is refused). */
static int fuse_gelu_tanh(ld *L, const Onnx__NodeProto *nd, int x, int t, cb_error *err)
{
  const cb_node *T = &L->net->node[t], *H, *W, *A, *S, *P;
  double one = 1, c = NAN, k = NAN;
  int g, j;
  if (!uniform_scale(T, &one, 1)) return FOLD_NO;
  H = &L->net->node[T->in[0]];
  if (!node_is_act(H, CB_ACT_TANH)) return FOLD_NO;
  W = &L->net->node[H->in[0]];
  if (!uniform_scale(W, &c, 0) || c != 0.79788456080286541 || !W->exact) return FOLD_NO;
  A = &L->net->node[W->in[0]];
  if (A->kind != CB_ADD || A->n_in != 2) return FOLD_NO;
  j = A->in[0] == x ? 1 : A->in[1] == x ? 0 : -1;
  if (j < 0) return FOLD_NO;
  S = &L->net->node[A->in[j]];
  if (!uniform_scale(S, &k, 0) || k != 0.044715 || !S->exact) return FOLD_NO;
  P = &L->net->node[S->in[0]];
  if (!node_is_act(P, CB_ACT_POW) || P->p.act.alpha != 3 || P->in[0] != x) return FOLD_NO;
  if ((g = act_on(L, nd, x, CB_ACT_GELU_TANH, 0, err)) < 0) return g;
  return ops_bind_node(L, nd, scale_on(L, nd, g, NULL, 2, 0, err), err);
}

int ops_fuse_product(ld *L, const Onnx__NodeProto *nd, const val *a, const val *b, cb_error *err)
{
  if (a->node == b->node) return ops_bind_node(L, nd, act_on(L, nd, a->node, CB_ACT_POW, 2, err), err);   /* x x */
  for (int k = 0; k < 2; k++) {
    int x = (k ? b : a)->node, t = (k ? a : b)->node, rc;
    const cb_node *T = &L->net->node[t];
    if (node_is_act(T, CB_ACT_SIGMOID) && T->in[0] == x)
      return ops_bind_node(L, nd, act_on(L, nd, x, CB_ACT_SILU, 0, err), err);
    if (node_is_act(T, CB_ACT_POW) && T->p.act.alpha == 2 && T->in[0] == x)   /* x (x x) */
      return ops_bind_node(L, nd, act_on(L, nd, x, CB_ACT_POW, 3, err), err);
    if ((rc = fuse_gelu(L, nd, x, t, err)) != FOLD_NO) return rc;
    if ((rc = fuse_gelu_tanh(L, nd, x, t, err)) != FOLD_NO) return rc;
  }
  return FOLD_NO;
}
