/*
** Interval bound propagation: a box for every node, in topological order.
**   AFFINE/CONV:  c' = W c + b,  r' = |W| r   (centre/radius, BLAS), widened by
**                 the rounding slack 2 gamma_{k+2} (|W| (|c| + r) + |b|)
**                 + 2 (k+2) 2^-1074 (products that underflow);
**                 when the node reads the input ball directly (through
**                 reshapes only) and the ball is L2 or L1, the radius is
**                 eps ||W_row||_dual instead (auto_LiRPA's IBP does the same;
**                 for a conv, the whole kernel's norm per output channel,
**                 an upper bound of every position's receptive-field norm);
**                 through an elementwise affine prefix (a normalisation,
**                 SCALE nodes) the ball's image is a weighted ball, and the
**                 radius eps ||W_row . |a|||_dual (dual_narrow);
**                 a row with weights >= 0 on inputs >= 0 (a sum of exps) is
**                 also >= W xl + b, rounded without cancellation
**                 (nonneg_floor), so 1 + sum exp stays >= 1 - ulps;
**   monotone nodes (activations, MAXPOOL, index maps): f(lo) <= f(x) <= f(hi),
**                 computed by the forward pass itself on lo and on hi; an
**                 activation that overflows on a finite box is refused
**                 (CB_EUNSUP), never passed on as an infinite bound;
**   SCALE / ADD:  elementwise with outward rounding.
** Source: Gowal et al. 2018 (IBP); Zhang et al. 2020 (CROWN-IBP) Sec. 3.
*/
#include <float.h>
#include <math.h>
#include <string.h>
#include "bounds.h"
#include "forward.h"
#include "linalg.h"
#include "round.h"

/* Is node `in` the input seen through RESHAPE and SCALE nodes only (an
   elementwise affine prefix: a normalisation (x - m) / s)?  The SCALEs'
   indices into sc[] (nearest first, at most 8); their count, -1 if not. */
#define PREFIX_MAX 8
static int affine_prefix(const cb_net *net, int in, int *sc)
{
  int ns = 0;
  while (in > 0) {
    const cb_node *n = &net->node[in];
    if (n->kind == CB_SCALE && ns < PREFIX_MAX) sc[ns++] = in;
    else if (n->kind != CB_RESHAPE) return -1;
    in = n->in[0];
  }
  return ns;
}

/* [yl, yh] >= {a x + b : x in [xl, xh]} elementwise for SCALE node n, outward
   rounded and widened by its rel_err (its a, b may be rounded). */
static void scale_interval(const cb_node *n, const double *xl, const double *xh, double *yl, double *yh)
{
  for (size_t e = 0; e < n->size; e++) {
    double a = n->p.scale.a[e], b = n->p.scale.b[e];
    double p = a * (a >= 0 ? xl[e] : xh[e]), q = a * (a >= 0 ? xh[e] : xl[e]);
    double w = n->rel_err * (fabs(p) + fabs(q) + fabs(b));
    yl[e] = round_down(round_down(p) + b - w);
    yh[e] = round_up(round_up(q) + b + w);
  }
}

/* Per-row dual norms of W (rows of length k) times eps, rounded up. */
static void dual_radius(cb_norm norm, double eps, const double *W, size_t rows, size_t k, double *r)
{
  for (size_t o = 0; o < rows; o++) {
    double s = 0;
    for (size_t j = 0; j < k; j++) {
      double a = fabs(W[o * k + j]);
      if (norm == CB_NORM_2) s += a * a; else if (a > s) s = a;
    }
    if (norm == CB_NORM_2) s = sqrt(s + (double)(k + 2) * DBL_TRUE_MIN);  /* squares may underflow */
    r[o] = round_up(eps * s * (1 + 2 * round_gamma(k + 2)));
  }
}

/* y = W x + b (b may be NULL: zero bias) for an AFFINE or CONV node, nb columns. */
static int apply(const cb_node *n, const double *W, const double *b, const double *x, size_t nb, double *y)
{
  if (n->kind == CB_CONV) {
    double *zero = NULL;
    int rc;
    if (!b && !(zero = cb_calloc((size_t)n->p.conv.g.cout, sizeof *zero))) return CB_ENOMEM;
    rc = la_conv_forward(&n->p.conv.g, W, b ? b : zero, x, nb, y);
    cb_free(zero);
    return rc;
  }
  if (b) la_affine_rows(W, b, n->p.aff.out, n->p.aff.in, x, nb, y);
  else la_gemm(0, 1, nb, n->p.aff.out, n->p.aff.in, 1.0, x, n->p.aff.in, W, n->p.aff.in, 0.0, y, n->p.aff.out);
  return CB_OK;
}

/*
** Narrows the box of node i by the dual-norm bound W x0 + b +- eps ||W_row||_*.
** Through an elementwise affine prefix x' = a x + c (ns SCALE nodes sc[],
** RESHAPEs keep the element order) the ball's image is a weighted ball:
**   W x' + b  in  W x0' + b +- eps ||W_row . |a|||_*   (x0' = a x0 + c),
** with |a| the product of the SCALEs' |a| (each widened by its rel_err and
** 4u, so the rounded products W |a| stay above the real ones; for a CONV,
** the largest |a| of each input channel), and x0' enclosed in [cl, ch] by
** interval arithmetic (scale_interval): W x0' is W mid +- |W| rad, and the
** rounding of those products gets its own slack (as ibp_weighted's, on
** |mid| + rad).  Without a prefix (ns = 0) this is the plain dual-norm bound.
*/
static int dual_narrow(cb_ws *ws, int i, const double *slack, const int *sc, int ns, cb_error *err)
{
  const cb_node *n = &ws->net->node[i];
  int conv = n->kind == CB_CONV;
  size_t out = n->size, rows = conv ? (size_t)n->p.conv.g.cout : out, per = out / rows, in = ws->net->node[n->in[0]].size;
  size_t k = conv ? (size_t)(n->p.conv.g.cin / n->p.conv.g.groups * n->p.conv.g.kh * n->p.conv.g.kw) : n->p.aff.in;
  const double *W = conv ? n->p.conv.W : n->p.aff.W, *b = conv ? n->p.conv.b : n->p.aff.b;
  double *y = cb_alloc((3 * out + rows) * sizeof *y), *x = ns ? cb_alloc(4 * in * sizeof *x) : NULL, *Wa = NULL;
  size_t nw = conv ? rows * k : out * in;
  int rc = CB_ENOMEM;
  if (!y || (ns && (!x || !(Wa = cb_alloc(nw * sizeof *Wa))))) goto out;
  if (!ns) {
    if (apply(n, W, b, ws->set.center, 1, y) != CB_OK) goto out;
    dual_radius(ws->set.norm, ws->set.eps, W, rows, k, y + out);
    memset(y + out + rows, 0, 2 * out * sizeof *y);
  } else {
    double *cl = x, *ch = x + in, *A = x + 2 * in, *mr = x + 3 * in, g = 2 * (round_gamma(k + 2) + n->rel_err);
    memcpy(cl, ws->set.center, in * sizeof *cl);
    memcpy(ch, ws->set.center, in * sizeof *ch);
    for (size_t j = 0; j < in; j++) A[j] = 1;
    for (int t = ns - 1; t >= 0; t--) {   /* input side first */
      const cb_node *s = &ws->net->node[sc[t]];
      scale_interval(s, cl, ch, cl, ch);
      for (size_t j = 0; j < in; j++) A[j] = round_mul_up(A[j], fabs(s->p.scale.a[j]) * (1 + s->rel_err + 4 * ROUND_U));
    }
    for (size_t j = 0; j < in; j++) {   /* cl <- mid, ch <- rad, mr <- |mid| + rad */
      double m = 0.5 * cl[j] + 0.5 * ch[j], r = round_up(fmax(ch[j] - m, m - cl[j]));
      cl[j] = m; ch[j] = r; mr[j] = round_up(fabs(m) + r);
    }
    if (conv) {   /* the kernel times the largest |a| of each input channel */
      const cb_conv *cg = &n->p.conv.g;
      size_t P = (size_t)(cg->hin * cg->win), cpg = (size_t)(cg->cin / cg->groups), kk = (size_t)(cg->kh * cg->kw);
      for (size_t co = 0; co < rows; co++)
        for (size_t ci = 0; ci < cpg; ci++) {
          size_t cin = co / (rows / (size_t)cg->groups) * cpg + ci;
          double am = 0;
          for (size_t e = 0; e < P; e++) am = fmax(am, A[cin * P + e]);
          for (size_t t = 0; t < kk; t++) Wa[co * k + ci * kk + t] = W[co * k + ci * kk + t] * am;
        }
    } else
      for (size_t o = 0; o < out; o++)
        for (size_t j = 0; j < in; j++) Wa[o * in + j] = W[o * in + j] * A[j];
    if (apply(n, W, b, cl, 1, y) != CB_OK || apply(n, ws->bn->absW[i], NULL, ch, 1, y + out + rows) != CB_OK ||
        apply(n, ws->bn->absW[i], NULL, mr, 1, y + 2 * out + rows) != CB_OK) goto out;
    dual_radius(ws->set.norm, ws->set.eps, Wa, rows, k, y + out);
    for (size_t o = 0; o < out; o++)   /* |W| rad, and the slack of W mid + b and of |W| rad */
      y[out + rows + o] = round_up(y[out + rows + o] + g * (y[2 * out + rows + o] + fabs(b[o / per])) +
                                   2 * (double)(k + 2) * DBL_TRUE_MIN);
  }
  for (size_t o = 0; o < out; o++) {
    double r = ns ? round_up(y[out + o / per] + y[out + rows + o]) : y[out + o / per], sl = ns ? 0 : slack[o];
    double l = round_down(y[o] - r - sl), h = round_up(y[o] + r + sl);
    /* with a clip box, keep the tighter of the two; without, the ball bound
       alone (as auto_LiRPA: at borders the box bound can be tighter) */
    ws->lo[i][o] = ws->set.lo || ns ? fmax(ws->lo[i][o], l) : l;
    ws->hi[i][o] = ws->set.lo || ns ? fmin(ws->hi[i][o], h) : h;
  }
  rc = CB_OK;
out:
  cb_free(y);
  cb_free(x);
  cb_free(Wa);
  return rc == CB_OK ? CB_OK : cb_error_set(err, CB_ENOMEM, "out of memory in IBP");
}

/*
** A floor for rows whose terms are all nonnegative (review11: the softmax
** denominator 1 + sum_j exp(d_j) on a wide set).  With every weight of the
** row >= 0 and every input lower bound >= 0, the real value is
**   W x + b >= W xl + b,   W xl = S >= 0 a sum of nonnegative products,
** and the floating-point sum s of those products is within gamma_k S of S
** (no cancellation), so
**   lo = s + b - 2 (gamma_{k+2} + rel_err) (s + |b|) - 2 (k + 2) 2^-1074
** (ibp_weighted's slack form, on s instead of |W| (|c| + r)).  The
** centre/radius form W c - |W| r cancels two numbers of the size of the
** largest term: its slack took the box below 0 (so Pow -1 and Log refused
** it) although every term is >= 0.  Only rows whose centre/radius lower
** bound y - r is negative by less than its slack are tried: elsewhere the
** box is negative for a real reason, and the extra product W xl is skipped.
** y: W c + b, |W| r, slack (ibp_weighted's, out entries each).
*/
static int nonneg_floor(cb_ws *ws, int i, const double *y)
{
  const cb_node *n = &ws->net->node[i];
  int conv = n->kind == CB_CONV;
  const double *xl = ws->lo[n->in[0]], *W = conv ? n->p.conv.W : n->p.aff.W, *b = conv ? n->p.conv.b : n->p.aff.b;
  size_t in = ws->net->node[n->in[0]].size, out = n->size, rows = conv ? (size_t)n->p.conv.g.cout : out, per = out / rows;
  size_t k = conv ? (size_t)(n->p.conv.g.cin / n->p.conv.g.groups * n->p.conv.g.kh * n->p.conv.g.kw) : in, o;
  double *s;
  for (o = 0; o < out; o++)
    if (ws->lo[i][o] < 0 && y[o] - y[out + o] + y[2 * out + o] >= 0) break;
  if (o == out) return CB_OK;
  for (size_t j = 0; j < in; j++) if (!(xl[j] >= 0)) return CB_OK;
  if (!(s = cb_alloc(out * sizeof *s))) return CB_ENOMEM;
  if (apply(n, W, NULL, xl, 1, s) != CB_OK) { cb_free(s); return CB_ENOMEM; }
  for (; o < out; o++) {
    size_t r = o / per;
    int pos = ws->lo[i][o] < 0 && y[o] - y[out + o] + y[2 * out + o] >= 0 && s[o] >= 0;
    for (size_t t = 0; t < k && pos; t++) pos = W[r * k + t] >= 0;
    if (pos) {
      double l = round_down(s[o] + b[r] - 2 * (round_gamma(k + 2) + n->rel_err) * (s[o] + fabs(b[r])) -
                            2 * (double)(k + 2) * DBL_TRUE_MIN);
      if (l > ws->lo[i][o]) ws->lo[i][o] = fmin(l, ws->hi[i][o]);
    }
  }
  cb_free(s);
  return CB_OK;
}

/* Box of a weighted node (AFFINE or CONV) from the box of its input. */
static int ibp_weighted(cb_ws *ws, int i, cb_error *err)
{
  const cb_node *n = &ws->net->node[i];
  const double *xl = ws->lo[n->in[0]], *xh = ws->hi[n->in[0]];
  size_t in = ws->net->node[n->in[0]].size, out = n->size, k, hw = 1;
  int conv = n->kind == CB_CONV, rc = CB_OK;
  const double *b = conv ? n->p.conv.b : n->p.aff.b, *W = conv ? n->p.conv.W : n->p.aff.W;
  double *c = cb_alloc(in * 3 * sizeof *c), *y = cb_alloc(out * 3 * sizeof *y);
  if (!c || !y) { rc = cb_error_set(err, CB_ENOMEM, "out of memory in IBP"); goto out; }
  k = conv ? (size_t)(n->p.conv.g.cin / n->p.conv.g.groups * n->p.conv.g.kh * n->p.conv.g.kw) : in;
  if (conv) hw = (size_t)(n->p.conv.g.hout * n->p.conv.g.wout);
  for (size_t j = 0; j < in; j++) {  /* centre c, radius r, and |c| + r */
    c[j] = 0.5 * xl[j] + 0.5 * xh[j];
    c[in + j] = round_up(fmax(xh[j] - c[j], c[j] - xl[j]));
    c[2 * in + j] = round_up(fabs(c[j]) + c[in + j]);
  }
  if (apply(n, W, b, c, 1, y) != CB_OK || apply(n, ws->bn->absW[i], NULL, c + in, 2, y + out) != CB_OK)
    { rc = cb_error_set(err, CB_ENOMEM, "out of memory in IBP"); goto out; }
  for (size_t o = 0; o < out; o++) {  /* y + 2 out now holds the slack */
    /* + 2 (k + 2) 2^-1074: each of the 2k products of W c and |W| r may underflow */
    double slack = 2 * (round_gamma(k + 2) + n->rel_err) * (y[2 * out + o] + fabs(b[o / hw])) + 2 * (double)(k + 2) * DBL_TRUE_MIN;
    ws->lo[i][o] = round_down(y[o] - y[out + o] - slack);
    ws->hi[i][o] = round_up(y[o] + y[out + o] + slack);
    y[2 * out + o] = slack;
  }
  if (ws->set.norm != CB_NORM_INF && ws->set.norm != CB_NORM_BOX) {
    int sc[PREFIX_MAX], ns = affine_prefix(ws->net, n->in[0], sc);
    if (ns >= 0) rc = dual_narrow(ws, i, y + 2 * out, sc, ns, err);
  }
  if (rc == CB_OK && nonneg_floor(ws, i, y) != CB_OK) rc = cb_error_set(err, CB_ENOMEM, "out of memory in IBP");
out:
  cb_free(c);
  cb_free(y);
  return rc;
}

/* y = a x + b elementwise, outward rounded, widened by rel_err. */
static void ibp_scale(cb_ws *ws, int i)
{
  const cb_node *n = &ws->net->node[i];
  scale_interval(n, ws->lo[n->in[0]], ws->hi[n->in[0]], ws->lo[i], ws->hi[i]);
}

/* libm's exp/tanh are within a few ulps: widen their outputs by 4 ulps
   (rel; the COND rule's 2^-40 for GELU_TANH). */
static void widen_libm(double *lo, double *hi, size_t n, double rel)
{
  for (size_t e = 0; e < n; e++) {
    lo[e] = lo[e] - rel * fabs(lo[e]) - DBL_TRUE_MIN;
    hi[e] = hi[e] + rel * fabs(hi[e]) + DBL_TRUE_MIN;
  }
}

/* An activation whose box overflows (Exp) on a finite input box: refused by
   name, so no analyzer ever relaxes or sums an infinite bound. */
static int act_finite(const cb_ws *ws, int i, cb_error *err)
{
  const cb_node *n = &ws->net->node[i];
  const double *xl = ws->lo[n->in[0]], *xh = ws->hi[n->in[0]];
  for (size_t e = 0; e < n->size; e++)
    if (isfinite(xl[e]) && isfinite(xh[e]) && !(isfinite(ws->lo[i][e]) && isfinite(ws->hi[i][e])))
      return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\": %s overflows on the input box [%g, %g] (no finite bound)",
                          ws->net->path, n->name, node_kind_name(n), xl[e], xh[e]);
  return CB_OK;
}

/* An activation with a curvature map (act.h: not monotone, or defined on
   part of R): its input box must lie in its domain (Log, Pow: refused by
   name otherwise), and its range is act_shape_range's rigorous enclosure. */
static int ibp_shape(cb_ws *ws, int i, cb_error *err)
{
  const cb_node *n = &ws->net->node[i];
  const cb_act_info *a = node_act(n);
  const double *xl = ws->lo[n->in[0]], *xh = ws->hi[n->in[0]];
  for (size_t e = 0; e < n->size; e++) {
    if (!(xl[e] <= xh[e]) || (a->domain && !a->domain(n, xl[e], xh[e])))
      return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\": %s outside its domain on the input box [%g, %g]",
                          ws->net->path, n->name, node_kind_name(n), xl[e], xh[e]);
    act_shape_range(n, xl[e], xh[e], &ws->lo[i][e], &ws->hi[i][e]);
  }
  return act_finite(ws, i, err);
}

/* MUL: [a, b] .* [c, d] = [min, max] of the four corner products, each
   rounded outward (a product with an exact 0 is 0). */
static void ibp_mul_interval(double a, double b, double c, double d, double *lo, double *hi)
{
  double l = HUGE_VAL, h = -HUGE_VAL;
  double x[4] = {a, a, b, b}, y[4] = {c, d, c, d};
  for (int k = 0; k < 4; k++) {
    double pl = x[k] == 0 || y[k] == 0 ? 0 : round_mul_rd(x[k], y[k]);
    double ph = x[k] == 0 || y[k] == 0 ? 0 : round_mul_ru(x[k], y[k]);
    l = fmin(l, pl);
    h = fmax(h, ph);
  }
  *lo = l;
  *hi = h;
}

static int ibp_mul(cb_ws *ws, int i, cb_error *err)
{
  const cb_node *n = &ws->net->node[i];
  const double *al = ws->lo[n->in[0]], *ah = ws->hi[n->in[0]], *bl = ws->lo[n->in[1]], *bh = ws->hi[n->in[1]];
  for (size_t e = 0; e < n->size; e++) {
    size_t j0 = mul_at(n->p.mul.i0, e), j1 = mul_at(n->p.mul.i1, e);
    if (!(isfinite(al[j0]) && isfinite(ah[j0]) && isfinite(bl[j1]) && isfinite(bh[j1])))
      return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\" (op %s): product of unbounded operands (no finite bound)",
                          ws->net->path, n->name, n->op);
    ibp_mul_interval(al[j0], ah[j0], bl[j1], bh[j1], &ws->lo[i][e], &ws->hi[i][e]);
    if (!(isfinite(ws->lo[i][e]) && isfinite(ws->hi[i][e])))
      return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\" (op %s): product overflows on the input box", ws->net->path,
                          n->name, n->op);
  }
  return CB_OK;
}

static int ibp_box(cb_ws *ws, int i, cb_error *err)
{
  const cb_node *n = &ws->net->node[i];
  switch (n->kind) {
  case CB_INPUT: set_box(&ws->set, ws->lo[0], ws->hi[0]); return CB_OK;
  case CB_AFFINE: case CB_CONV: return ibp_weighted(ws, i, err);
  case CB_SCALE: ibp_scale(ws, i); return CB_OK;
  case CB_ADD:
    for (size_t e = 0; e < n->size; e++) {
      ws->lo[i][e] = round_down(ws->lo[n->in[0]][e] + ws->lo[n->in[1]][e]);
      ws->hi[i][e] = round_up(ws->hi[n->in[0]][e] + ws->hi[n->in[1]][e]);
    }
    return CB_OK;
  case CB_MUL: return ibp_mul(ws, i, err);
  case CB_ACT:
    if (node_act(n)->shape) return ibp_shape(ws, i, err);
    if (!node_monotone(n))
      return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\": %s with these parameters is not monotone", ws->net->path, n->name,
                          node_kind_name(n));
    /* fall through */
  case CB_CONCAT: case CB_RESHAPE: case CB_TRANSPOSE: case CB_MAXPOOL: case CB_SORT: {
    int rc = fwd_node(ws->net, i, 1, ws->lo, err);
    if (rc == CB_OK) rc = fwd_node(ws->net, i, 1, ws->hi, err);
    if (n->kind == CB_ACT && node_act(n)->err == CB_ACT_ERR_LIBM) widen_libm(ws->lo[i], ws->hi[i], n->size, 8 * ROUND_U);
    if (n->kind == CB_ACT && node_act(n)->err == CB_ACT_ERR_COND) widen_libm(ws->lo[i], ws->hi[i], n->size, 0x1p-40);
    if (n->kind == CB_ACT && node_act(n)->err == CB_ACT_ERR_ROUND)  /* alpha * x rounds */
      for (size_t e = 0; e < n->size; e++) { ws->lo[i][e] = round_down(ws->lo[i][e]); ws->hi[i][e] = round_up(ws->hi[i][e]); }
    if (n->kind == CB_ACT && n->p.act.type == CB_ACT_EXP)   /* exp > 0: widen_libm's - 2^-1074 under 0 is not needed */
      for (size_t e = 0; e < n->size; e++) if (ws->lo[i][e] < 0) ws->lo[i][e] = 0;
    if (rc == CB_OK && n->kind == CB_ACT) rc = act_finite(ws, i, err);
    return rc;
  }
  case CB_KIND_COUNT: break;
  }
  return cb_error_set(err, CB_EINTERNAL, "invalid node kind");
}

/* zmax = max(|lo|, |hi|): the magnitude bound used by CROWN's rounding slack. */
void set_zmax(cb_ws *ws, int i)
{
  for (size_t e = 0; e < ws->net->node[i].size; e++)
    ws->zmax[i][e] = fmax(fabs(ws->lo[i][e]), fabs(ws->hi[i][e]));
}

int ibp_node(cb_ws *ws, int i, cb_error *err)
{
  int rc = ibp_box(ws, i, err);
  if (rc == CB_OK) set_zmax(ws, i);
  return rc;
}

int ibp_run(cb_ws *ws, cb_error *err)
{
  for (int i = 0; i < ws->net->n; i++) {
    int rc = ibp_node(ws, i, err);
    if (rc != CB_OK) return rc;
  }
  return CB_OK;
}
