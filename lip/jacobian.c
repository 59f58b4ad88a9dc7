/*
** Interval Jacobian over a set (one backward pass = one switch over node
** kinds, one small function per kind) and local Lipschitz constants; the
** certified radius search built on them is certify/radius.c.  See
** jacobian.h for the contract.
**
** Invariant of the backward pass: B.lo[i], B.hi[i] [q x size_i] enclose, for
** every point x of the set, the real-arithmetic d(C f)/d(node i) (Clarke
** generalised derivative at kinks).  Intervals are stored as (lo, hi) and
** turned into centre/radius only around the dgemm of a linear node.
** Rounding (DESIGN "Soundness"): every computed endpoint is moved outward:
**   sums and products of scalars: outward by 2u relative (round.h's inline
**     round_sum2_*, round_prod_*, round_acc_*, which keep exact zeros exact);
**   [c +- r] W:  c W +- v |W|, v = (1 + 2g) r + 2g |c|, g = 2 gamma_m + rel_err
**     (m = longest dot product), which covers the dgemm error of both
**     products (|fl(a.b) - a.b| <= gamma_m |a|.|b|, Higham Sec. 3.1) and the
**     stored weights' relative error;
**   sigmoid' and tanh' (libm exp within 1 ulp): 16u relative, plus 8u
**     absolute so that a double evaluation y(1 - y) or 1 - y^2 at the
**     point lies inside too.
** Workload: called once per sample (CLI) or once per ball of the
** radius search (certify/radius.c); q = number of output rows asked for (9 margins, 10 logits).
*/
#include <float.h>
#include <math.h>
#include <string.h>
#include "jacobian.h"
#include "linalg.h"
#include "round.h"
#include "sort.h"

typedef struct jb {
  const cb_ws *ws;
  size_t q;
  double **lo, **hi;    /* per node: interval of d(C f)/d(node), NULL until reached */
  const lip_result *lr; /* global constants for the cut bound (NULL: none) */
  double *L;            /* per row: min over cut nodes of the cut bound (NULL: not asked) */
} jb;

static inline double mx(double a, double b) { return a > b ? a : b; }
static inline double mn(double a, double b) { return a < b ? a : b; }

/* Interval buffers of node i, zeroed on first use; CB_ENOMEM on failure. */
static int reach(jb *B, int i, double **lo, double **hi)
{
  size_t m = B->q * B->ws->net->node[i].size;
  if (!B->lo[i]) B->lo[i] = cb_calloc(m, sizeof(double));
  if (!B->hi[i]) B->hi[i] = cb_calloc(m, sizeof(double));
  if (!B->lo[i] || !B->hi[i]) return CB_ENOMEM;
  *lo = B->lo[i];
  *hi = B->hi[i];
  return CB_OK;
}

/* [gl, gh] x [dl, dh], rounded outward (multiplying by 0 or by exactly 1 is exact). */
static void imul(double gl, double gh, double dl, double dh, double *lo, double *hi)
{
  if (dl == dh && (dl == 0 || dl == 1)) { *lo = gl * dl; *hi = gh * dl; return; }
  if (dl >= 0) {   /* derivative intervals are nonnegative: one product per end */
    *lo = gl >= 0 ? round_prod_down(gl, dl) : round_prod_down(gl, dh);
    *hi = gh >= 0 ? round_prod_up(gh, dh) : round_prod_up(gh, dl);
    return;
  }
  *lo = mn(mn(round_prod_down(gl, dl), round_prod_down(gl, dh)), mn(round_prod_down(gh, dl), round_prod_down(gh, dh)));
  *hi = mx(mx(round_prod_up(gl, dl), round_prod_up(gl, dh)), mx(round_prod_up(gh, dl), round_prod_up(gh, dh)));
}

/* Diagonal step: G_in += G .* [dl, dh] (elementwise kinds and SCALE). */
static int back_diag(jb *B, int i, const double *dl, const double *dh)
{
  const cb_node *n = &B->ws->net->node[i];
  const double *gl = B->lo[i], *gh = B->hi[i];
  double *L, *H;
  if (reach(B, n->in[0], &L, &H) != CB_OK) return CB_ENOMEM;
  for (size_t r = 0; r < B->q; r++)
    for (size_t e = 0, k = r * n->size; e < n->size; e++, k++) {
      double a, b;
      imul(gl[k], gh[k], dl[e], dh[e], &a, &b);
      L[k] = round_acc_down(L[k], a);
      H[k] = round_acc_up(H[k], b);
    }
  return CB_OK;
}

/* MUL z_e = x[i0 e] y[i1 e]: dz_e/dx[i0 e] = y[i1 e] in [y_l, y_u],
   dz_e/dy[i1 e] = x[i0 e] in [x_l, x_u] over the workspace's boxes:
   G_x[i0 e] += G_e [y_l, y_u]_{i1 e}, G_y[i1 e] += G_e [x_l, x_u]_{i0 e}
   (x .* x: both terms reach x, 2x as the derivative). */
static int back_mul(jb *B, int i)
{
  const cb_node *n = &B->ws->net->node[i];
  const double *gl = B->lo[i], *gh = B->hi[i];
  for (int k = 0; k < 2; k++) {
    int me = n->in[k], other = n->in[1 - k];
    const size_t *im = k ? n->p.mul.i1 : n->p.mul.i0, *io = k ? n->p.mul.i0 : n->p.mul.i1;
    const double *l = B->ws->lo[other], *u = B->ws->hi[other];
    size_t sm = B->ws->net->node[me].size;
    double *L, *H;
    for (size_t e = 0; e < B->ws->net->node[other].size; e++)
      if (!(isfinite(l[e]) && isfinite(u[e]))) return CB_EUNSUP;
    if (reach(B, me, &L, &H) != CB_OK) return CB_ENOMEM;
    for (size_t r = 0; r < B->q; r++)
      for (size_t e = 0; e < n->size; e++) {
        size_t k0 = r * n->size + e, t = r * sm + mul_at(im, e), d = mul_at(io, e);
        double a, b;
        imul(gl[k0], gh[k0], l[d], u[d], &a, &b);
        L[t] = round_acc_down(L[t], a);
        H[t] = round_acc_up(H[t], b);
      }
  }
  return CB_OK;
}

/* sigmoid'(x) = t / (1 + t)^2 and tanh'(x) = 4t / (1 + t)^2, t = exp(-|x|) resp.
   exp(-2|x|): even, decreasing in |x|, without the cancellation of 1 - y. */
/*
** Derivative interval of an activation over pre-activations [l, u]: the
** activation table's drange (src/act.c), which holds the exact range with
** one-sided values at kinks (ReLU'(0) = 0 as PyTorch) widened outward.
*/
static void deriv_range(const cb_node *n, double l, double u, double *dl, double *dh)
{
  node_act(n)->drange(n, l, u, dl, dh);
}

/* Elementwise activation: derivative intervals from the workspace's input box. */
static int back_act(jb *B, int i)
{
  const cb_node *n = &B->ws->net->node[i];
  const double *l = B->ws->lo[n->in[0]], *u = B->ws->hi[n->in[0]];
  double *d = cb_alloc(2 * n->size * sizeof *d);
  int rc;
  if (!d) return CB_ENOMEM;
  for (size_t e = 0; e < n->size; e++) {
    if (isnan(l[e]) || isnan(u[e])) { cb_free(d); return CB_EVALUE; }
    deriv_range(n, l[e], u[e], d + e, d + n->size + e);
    if (!(isfinite(d[e]) && isfinite(d[n->size + e]))) { cb_free(d); return CB_EUNSUP; }   /* f' unbounded on the box (Log, Sqrt near 0) */
  }
  rc = back_diag(B, i, d, d + n->size);
  cb_free(d);
  return rc;
}

/* SCALE y = a .* x + b: G_in += G .* [a -+ rel |a|]. */
static int back_scale(jb *B, int i)
{
  const cb_node *n = &B->ws->net->node[i];
  double *d = cb_alloc(2 * n->size * sizeof *d);
  int rc;
  if (!d) return CB_ENOMEM;
  for (size_t e = 0; e < n->size; e++) {
    double a = n->p.scale.a[e], w = round_prod_up(n->rel_err, fabs(a));
    d[e] = w > 0 ? round_sum2_down(a - w) : a;
    d[n->size + e] = w > 0 ? round_sum2_up(a + w) : a;
  }
  rc = back_diag(B, i, d, d + n->size);
  cb_free(d);
  return rc;
}

/*
** AFFINE (y = W x + b) and CONV: G_in += G W, in centre/radius form:
**   c = (lo + hi)/2, r >= (hi - lo)/2;  [c +- r] W  is inside  c W +- r |W|;
**   centre by dgemm (conv: la_conv_backward), radius (1 + 2g) r + 2g |c|
**   through |W| by a second one (g as in the file header).
** Source: Rump 1999, "Fast and parallel interval arithmetic" (midpoint-radius
** matrix product); Neumaier 1990, Interval Methods, Sec. 1.6.
*/
static int back_linear(jb *B, int i)
{
  const cb_ws *ws = B->ws;
  const cb_node *n = &ws->net->node[i];
  const cb_conv *g = n->kind == CB_CONV ? &n->p.conv.g : NULL;
  size_t out = n->size, nin = ws->net->node[n->in[0]].size, q = B->q;
  size_t m = g ? (size_t)(g->cout / g->groups * g->kh * g->kw) : out;
  double gam = 2 * round_gamma(m + 2) + n->rel_err, wmin = ws->bn->wmin[i], eta = (double)(m + 1) * DBL_MIN;
  double *c = cb_alloc(2 * q * out * sizeof *c), *cw = cb_calloc(2 * q * nin, sizeof *cw), *v, *vw, *L, *H;
  int rc = CB_ENOMEM, fresh = !B->lo[n->in[0]], wtiny = !(wmin >= 0x1p-500);
  char *under = cb_alloc(q);
  if (!c || !cw || !under || reach(B, n->in[0], &L, &H) != CB_OK) goto out;
  v = c + q * out;
  vw = cw + q * nin;
  for (size_t r = 0; r < q; r++) {   /* centre, radius operand, and whether a product may underflow */
    int tiny = wtiny;
    for (size_t k = r * out; k < (r + 1) * out; k++) {
      double lo = B->lo[i][k], hi = B->hi[i][k], ce = 0.5 * lo + 0.5 * hi, a = fabs(ce);
      double d = mx(hi - ce, ce - lo) * (1 + 4 * ROUND_U);   /* >= the real half-width (d one rounding off, or exact) */
      c[k] = ce;
      v[k] = (1 + 3 * gam) * d + 3 * gam * a;   /* >= (1 + 2g) r + 2g|c| after its 3 roundings (g >= 4u) */
      tiny |= (a < 0x1p-500) & (a != 0);
      tiny |= (v[k] < 0x1p-500) & (v[k] != 0);
    }
    /* a product of factors >= 2^-500 cannot underflow; else each of the m may
       lose DBL_TRUE_MIN/2 (gradual underflow): widen by (m + 1) DBL_MIN below */
    under[r] = (char)tiny;
  }
  if (!g) {
    la_gemm(0, 0, q, nin, out, 1.0, c, out, n->p.aff.W, nin, 0.0, cw, nin);
    la_gemm(0, 0, q, nin, out, 1.0, v, out, ws->bn->absW[i], nin, 0.0, vw, nin);
  } else if (la_conv_backward(g, n->p.conv.W, c, q, cw) != CB_OK ||
             la_conv_backward(g, ws->bn->absW[i], v, q, vw) != CB_OK) goto out;
  for (size_t r = 0; r < q; r++)
    for (size_t k = r * nin; k < (r + 1) * nin; k++) {
      double x = cw[k] - vw[k], y = cw[k] + vw[k], l = x - round_slack_nz(x), h = y + round_slack_nz(y);
      if (under[r]) { l = round_sum2_down(l - eta); h = round_sum2_up(h + eta); }
      if (fresh) { L[k] = l; H[k] = h; }
      else { L[k] = round_acc_down(L[k], l); H[k] = round_acc_up(H[k], h); }
    }
  rc = CB_OK;
out:
  cb_free(c);
  cb_free(cw);
  cb_free(under);
  return rc;
}

/* Window input indices of pooled output (c, oi, oj); returns how many (pads skipped). */
static int window(const cb_conv *g, int64_t c, int64_t oi, int64_t oj, size_t *idx)
{
  int m = 0;
  for (int64_t ki = 0; ki < g->kh; ki++)
    for (int64_t kj = 0; kj < g->kw; kj++) {
      int64_t ii = oi * g->sh - g->pt + ki * g->dh, jj = oj * g->sw - g->pl + kj * g->dw;
      if (ii >= 0 && ii < g->hin && jj >= 0 && jj < g->win) idx[m++] = (size_t)((c * g->hin + ii) * g->win + jj);
    }
  return m;
}

/*
** MaxPool, window with input boxes [l_j, u_j]: x_j can be the maximum only if
** u_j >= max_k l_k (the possible argmax routes).  One route: G flows to it
** exactly.  Several: each route gets G x [0, 1] = hull(0, G) (one of them
** carries G, the others 0; the interval forgets that they sum to G).
*/
static int back_maxpool(jb *B, int i)
{
  const cb_ws *ws = B->ws;
  const cb_node *n = &ws->net->node[i];
  const cb_conv *g = &n->p.pool.g;
  const double *l = ws->lo[n->in[0]], *u = ws->hi[n->in[0]], *gl = B->lo[i], *gh = B->hi[i];
  size_t isz = ws->net->node[n->in[0]].size, o = 0, *idx = cb_alloc((size_t)(g->kh * g->kw) * sizeof *idx);
  double *L, *H;
  if (!idx || reach(B, n->in[0], &L, &H) != CB_OK) { cb_free(idx); return CB_ENOMEM; }
  for (int64_t c = 0; c < g->cin; c++)
    for (int64_t oi = 0; oi < g->hout; oi++)
      for (int64_t oj = 0; oj < g->wout; oj++, o++) {
        int m = window(g, c, oi, oj, idx), routes = 0;
        double lmax = -HUGE_VAL;
        for (int k = 0; k < m; k++) lmax = fmax(lmax, l[idx[k]]);
        for (int k = 0; k < m; k++) routes += u[idx[k]] >= lmax;
        for (int k = 0; k < m; k++) {
          if (u[idx[k]] < lmax) continue;
          for (size_t r = 0; r < B->q; r++) {
            size_t t = r * isz + idx[k], s = r * n->size + o;
            L[t] = round_acc_down(L[t], routes == 1 ? gl[s] : mn(gl[s], 0));
            H[t] = round_acc_up(H[t], routes == 1 ? gh[s] : mx(gh[s], 0));
          }
        }
      }
  cb_free(idx);
  return CB_OK;
}

/*
** SORT, group with input boxes [l_j, u_j]: d y_{m_r} / d x_{m_j} is 1 when
** member j is at rank r, else 0.  Member j can be at rank r when r lies in its
** rank range (sort_rank_range).  One candidate for rank r: G flows to it
** exactly; several: each gets G x [0, 1] = hull(0, G), as MaxPool's routes.
*/
static int back_sort(jb *B, int i)
{
  const cb_ws *ws = B->ws;
  const cb_node *n = &ws->net->node[i];
  const double *l = ws->lo[n->in[0]], *u = ws->hi[n->in[0]], *gl = B->lo[i], *gh = B->hi[i];
  size_t g = (size_t)n->p.sort.g, *idx = cb_alloc(3 * g * sizeof *idx), *rmin = idx + g, *rmax = idx + 2 * g;
  double *L, *H;
  if (!idx || reach(B, n->in[0], &L, &H) != CB_OK) { cb_free(idx); return CB_ENOMEM; }
  for (size_t k = 0; k < sort_groups(n); k++) {
    sort_members(n, k, idx);
    sort_rank_range(n, l, u, idx, rmin, rmax);
    for (size_t r = 0; r < g; r++) {
      size_t routes = 0;
      for (size_t j = 0; j < g; j++) routes += rmin[j] <= r && r <= rmax[j];
      for (size_t j = 0; j < g; j++) {
        if (rmin[j] > r || r > rmax[j]) continue;
        for (size_t q = 0; q < B->q; q++) {
          size_t t = q * n->size + idx[j], s = q * n->size + idx[r];
          L[t] = round_acc_down(L[t], routes == 1 ? gl[s] : mn(gl[s], 0));
          H[t] = round_acc_up(H[t], routes == 1 ? gh[s] : mx(gh[s], 0));
        }
      }
    }
  }
  cb_free(idx);
  return CB_OK;
}

/* Adds interval entry s of node i into entry t of the input buffers (L, H). */
static void route(jb *B, int i, size_t s, double *L, double *H, size_t t)
{
  L[t] = round_acc_down(L[t], B->lo[i][s]);
  H[t] = round_acc_up(H[t], B->hi[i][s]);
}

/* Index maps: G flows back unchanged (RESHAPE, both inputs of ADD), split
   (CONCAT) or permuted (TRANSPOSE). */
static int back_index(jb *B, int i)
{
  const cb_net *net = B->ws->net;
  const cb_node *n = &net->node[i];
  size_t outer = 1, off = 0, q = B->q;
  double *L, *H;
  if (n->kind == CB_RESHAPE || n->kind == CB_ADD) {
    for (int k = 0; k < n->n_in; k++) {
      if (reach(B, n->in[k], &L, &H) != CB_OK) return CB_ENOMEM;
      for (size_t e = 0; e < q * n->size; e++) route(B, i, e, L, H, e);
    }
    return CB_OK;
  }
  if (n->kind == CB_TRANSPOSE) {
    const cb_node *x = &net->node[n->in[0]];
    size_t st[CB_MAX_RANK], s = 1;
    if (reach(B, n->in[0], &L, &H) != CB_OK) return CB_ENOMEM;
    for (int d = x->shape.rank - 1; d >= 0; d--) { st[d] = s; s *= (size_t)x->shape.dim[d]; }
    for (size_t e = 0; e < n->size; e++) {
      size_t rem = e, src = 0;
      for (int d = n->shape.rank - 1; d >= 0; d--) {
        src += (rem % (size_t)n->shape.dim[d]) * st[n->p.transpose.perm[d]];
        rem /= (size_t)n->shape.dim[d];
      }
      for (size_t r = 0; r < q; r++) route(B, i, r * n->size + e, L, H, r * n->size + src);
    }
    return CB_OK;
  }
  for (int d = 0; d < n->p.concat.axis; d++) outer *= (size_t)n->shape.dim[d];
  for (int k = 0; k < n->n_in; k++) {  /* CONCAT */
    size_t isz = net->node[n->in[k]].size, chunk = isz / outer;
    if (reach(B, n->in[k], &L, &H) != CB_OK) return CB_ENOMEM;
    for (size_t r = 0; r < q; r++)
      for (size_t b = 0; b < outer; b++)
        for (size_t t = 0; t < chunk; t++)
          route(B, i, r * n->size + b * (n->size / outer) + off + t, L, H, r * isz + b * chunk + t);
    off += chunk;
  }
  return CB_OK;
}

static int back_node(jb *B, int i)
{
  switch (B->ws->net->node[i].kind) {
  case CB_AFFINE: case CB_CONV: return back_linear(B, i);
  case CB_SCALE: return back_scale(B, i);
  case CB_ACT: return back_act(B, i);
  case CB_MAXPOOL: return back_maxpool(B, i);
  case CB_SORT: return back_sort(B, i);
  case CB_MUL: return back_mul(B, i);
  case CB_ADD: case CB_CONCAT: case CB_RESHAPE: case CB_TRANSPOSE: return back_index(B, i);
  case CB_INPUT: case CB_KIND_COUNT: break;
  }
  return CB_EINTERNAL;
}

/* Dual norm of the entrywise bound m_k = max(|lo_k|, |hi_k|) of one row, rounded up. */
static double row_dual(const double *lo, const double *hi, size_t n, cb_norm norm)
{
  double s = 0;
  for (size_t k = 0; k < n; k++) {
    double m = fmax(fabs(lo[k]), fabs(hi[k]));
    if (norm == CB_NORM_2) s += m * m;
    else if (norm == CB_NORM_1) s = fmax(s, m);
    else s += m;
  }
  if (norm == CB_NORM_1) return s;
  if (norm != CB_NORM_2) return round_sum_up(s, n);
  return round_next_up(sqrt(round_next_up(round_sum_up(s, n + 1) + (double)n * DBL_TRUE_MIN)));
}

/* Is node h a cut: does every path from the input to the output go through
   it?  In topological order: no edge a -> b with a < h < b. */
static int is_cut(const cb_net *net, int h)
{
  for (int b = h + 1; b <= net->output; b++)
    for (int k = 0; k < net->node[b].n_in; k++)
      if (net->node[b].in[k] < h) return 0;
  return 1;
}

/*
** Cut bound at node h (complete G_h, h a cut): with z = value of node h,
** f = g(z(x)), so along the segment from x0 to x,
**   |C_r f(x) - C_r f(x0)| <= max ||G_h row r||_* . K_h ||x - x0||,
** K_h >= the Lipschitz constant input -> node h (lip_analyze, same norm).  The
** path z(segment) stays in the image of the set, where G_h holds (Clarke
** chain rule along a Lipschitz path).  h = input (K = 1) is the plain
** interval bound; h = output is the global one.
*/
static void cut_bound(jb *B, int h)
{
  const cb_net *net = B->ws->net;
  size_t sz = net->node[h].size;
  double K = h == 0 ? 1.0 : fmin(B->lr->K[h], B->lr->Km[h]);
  for (size_t r = 0; r < B->q; r++) {
    double v = round_next_up(row_dual(B->lo[h] + r * sz, B->hi[h] + r * sz, sz, B->ws->set.norm) * K);
    B->L[r] = fmin(B->L[r], v);
  }
}

/* The backward pass from the output down to node `stop` (0: the input):
   lo, hi (q x size_stop) receive the interval of d(C f)/d(node stop). */
static int interval_pass(const cb_ws *ws, const double *C, size_t q, const lip_result *lr, int stop, double *lo,
                         double *hi, double *Lr, cb_error *err)
{
  const cb_net *net = ws->net;
  jb B = {ws, q, NULL, NULL, lr && ws->set.norm == lr->norm && ws->set.norm != CB_NORM_BOX ? lr : NULL, Lr};
  size_t nin = net->node[stop].size, no = net->node[net->output].size;
  int rc = CB_ENOMEM, i = net->output;
  double *L, *H;
  B.lo = cb_calloc((size_t)net->n, sizeof *B.lo);
  B.hi = cb_calloc((size_t)net->n, sizeof *B.hi);
  if (!B.lo || !B.hi || reach(&B, i, &L, &H) != CB_OK) goto out;
  memcpy(L, C, q * no * sizeof *L);
  memcpy(H, C, q * no * sizeof *H);
  for (size_t r = 0; Lr && r < q; r++) Lr[r] = HUGE_VAL;
  for (; i > stop; i--) {
    if (!B.lo[i]) continue;
    if (B.lr && Lr && is_cut(net, i)) cut_bound(&B, i);
    if ((rc = back_node(&B, i)) != CB_OK) goto out;
    cb_free(B.lo[i]); cb_free(B.hi[i]);
    B.lo[i] = B.hi[i] = NULL;
  }
  memset(lo, 0, q * nin * sizeof *lo);
  memset(hi, 0, q * nin * sizeof *hi);
  if (B.lo[stop]) { memcpy(lo, B.lo[stop], q * nin * sizeof *lo); memcpy(hi, B.hi[stop], q * nin * sizeof *hi); }
  for (size_t r = 0; Lr && r < q; r++) Lr[r] = fmin(Lr[r], row_dual(lo + r * nin, hi + r * nin, nin, ws->set.norm));
  rc = CB_OK;
  for (size_t k = 0; k < q * nin && rc == CB_OK; k++) if (!isfinite(lo[k]) || !isfinite(hi[k])) rc = CB_EVALUE;
out:
  if (B.lo) for (int k = 0; k < net->n; k++) cb_free(B.lo[k]);
  if (B.hi) for (int k = 0; k < net->n; k++) cb_free(B.hi[k]);
  cb_free(B.lo); cb_free(B.hi);
  if (rc == CB_ENOMEM) return cb_error_set(err, rc, "%s: out of memory in the interval Jacobian (%zu rows)", net->path, q);
  if (rc == CB_EVALUE) return cb_error_set(err, rc, "%s: the interval Jacobian is not finite (bounds overflow)", net->path);
  if (rc == CB_EUNSUP) return cb_error_set(err, rc, "%s: an activation's derivative is unbounded on its input box (Log or Pow near 0)", net->path);
  if (rc != CB_OK) return cb_error_set(err, rc, "%s: internal error in the interval Jacobian", net->path);
  return CB_OK;
}

int jac_interval(const cb_ws *ws, const double *C, size_t q, double *lo, double *hi, cb_error *err)
{
  return interval_pass(ws, C, q, NULL, 0, lo, hi, NULL, err);
}

int jac_interval_node(const cb_ws *ws, const double *C, size_t q, int node, double *lo, double *hi, cb_error *err)
{
  if (node < 0 || node > ws->net->output)
    return cb_error_set(err, CB_EINTERNAL, "%s: jac_interval_node: node %d is not in the graph", ws->net->path, node);
  return interval_pass(ws, C, q, NULL, node, lo, hi, NULL, err);
}

int jac_interval_lip(const cb_ws *ws, const double *C, size_t q, const lip_result *lr, double *lo, double *hi,
                     double *L, cb_error *err)
{
  return interval_pass(ws, C, q, lr, 0, lo, hi, L, err);
}

/* ------------------------------------------------------------ norms */

void jac_margin_rows(size_t no, int label, double *C)
{
  memset(C, 0, (no - 1) * no * sizeof *C);
  for (size_t k = 0, j = 0; j < no; j++)
    if (j != (size_t)label) { C[k * no + (size_t)label] = 1; C[k * no + j] = -1; k++; }
}

/* The max of ||row||_* over a box of rows is at the entrywise largest |.| (each
   dual norm is monotone in |row_k| and the coordinates are independent). */
void jac_row_lipschitz(const double *lo, const double *hi, size_t q, size_t n, cb_norm norm, double *L)
{
  for (size_t r = 0; r < q; r++) L[r] = row_dual(lo + r * n, hi + r * n, n, norm);
}

/*
** Operator norm over the interval matrix [lo, hi] (q x n):
**   L-inf: max row sum of M = max(|lo|, |hi|);  L1: max column sum of M;
**   L2: min(||M||_2, ||Jc||_2 + sqrt(||Jr||_1 ||Jr||_inf)) with Jc, Jr the
**   centre and radius: |J| <= M entrywise gives ||J||_2 <= || |J| ||_2 <= ||M||_2,
**   and J = Jc + E, |E| <= Jr.  ||.||_2 by lip_spec_gram_upper (guaranteed).
*/
int jac_op_norm(const double *lo, const double *hi, size_t q, size_t n, cb_norm norm, double *out,
                cb_error *err)
{
  double *M = cb_alloc(3 * q * n * sizeof *M), *Jc, *Jr, s1 = 0, sinf = 0, a, b;
  lip_op op;
  int rc = CB_OK;
  if (!M) return cb_error_set(err, CB_ENOMEM, "out of memory");
  Jc = M + q * n;
  Jr = Jc + q * n;
  for (size_t k = 0; k < q * n; k++) {
    M[k] = fmax(fabs(lo[k]), fabs(hi[k]));
    Jc[k] = 0.5 * lo[k] + 0.5 * hi[k];
    Jr[k] = round_up(fmax(hi[k] - Jc[k], Jc[k] - lo[k]));
  }
  if (norm != CB_NORM_2) {   /* L-inf: rows of M; L1: columns */
    size_t outer = norm == CB_NORM_1 ? n : q, inner = norm == CB_NORM_1 ? q : n;
    for (size_t a0 = 0; a0 < outer; a0++) {
      double s = 0;
      for (size_t k = 0; k < inner; k++) s += norm == CB_NORM_1 ? M[k * n + a0] : M[a0 * n + k];
      sinf = fmax(sinf, round_sum_up(s, inner));
    }
    *out = sinf;
    cb_free(M);
    return CB_OK;
  }
  for (size_t r = 0; r < q; r++) { double s = 0; for (size_t k = 0; k < n; k++) s += Jr[r * n + k]; sinf = fmax(sinf, round_sum_up(s, n)); }
  for (size_t k = 0; k < n; k++) { double s = 0; for (size_t r = 0; r < q; r++) s += Jr[r * n + k]; s1 = fmax(s1, round_sum_up(s, q)); }
  lip_power_op_dense(&op, M, q, n);
  if ((rc = lip_spec_gram_upper(&op, &a, NULL, err)) == CB_OK) {
    lip_power_op_dense(&op, Jc, q, n);
    rc = lip_spec_gram_upper(&op, &b, NULL, err);
  }
  if (rc == CB_OK) *out = fmin(a, round_next_up(b + round_next_up(sqrt(round_next_up(s1 * sinf)))));
  cb_free(M);
  return rc;
}

/* ------------------------------------------------------------ margins */

int jac_margins_at(const cb_net *net, const lip_result *lr, const double *x, int label,
                   double *m_lo, double *y, cb_error *err)
{
  size_t no = net->node[net->output].size;
  double *v = y ? y : cb_alloc(no * sizeof *v), delta = 0;
  int rc;
  if (!v) return cb_error_set(err, CB_ENOMEM, "out of memory");
  if ((rc = lip_forward_error(net, lr, x, v, &delta, err)) == CB_OK)
    for (size_t k = 0, j = 0; j < no; j++) {
      double m;
      if (j == (size_t)label) continue;
      m = v[label] - v[j];   /* real margin >= m - 2 delta - u|m| (the subtraction's rounding) */
      m_lo[k++] = round_next_down(m - round_next_up(round_next_up(2 * delta) + round_next_up(2 * ROUND_U * fabs(m))));
    }
  if (!y) cb_free(v);
  return rc;
}

int jac_margin_lb(const cb_ws *ws, int label, const lip_result *lr, const double *m_lo, double *lb,
                  double *L, cb_error *err)
{
  const cb_net *net = ws->net;
  size_t no = net->node[net->output].size, n = net->node[0].size;
  double *C, *lo, *hi, *Lr;
  int rc;
  if (no < 2 || label < 0 || (size_t)label >= no || !ws->set.center || ws->set.norm == CB_NORM_BOX)
    return cb_error_set(err, CB_EUSAGE, "%s: margin bounds need >= 2 classes, a valid label and a ball", net->path);
  if (ws->set.w)   /* eps w_j per feature: m - L eps would use the wrong radius */
    return cb_error_set(err, CB_EUNSUP, "%s: local Lipschitz margins do not support per-feature radii", net->path);
  if (!(C = cb_alloc(((no - 1) * no + 2 * (no - 1) * n + no) * sizeof *C))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  lo = C + (no - 1) * no;
  hi = lo + (no - 1) * n;
  Lr = hi + (no - 1) * n;
  jac_margin_rows(no, label, C);
  if ((rc = jac_interval_lip(ws, C, no - 1, lr, lo, hi, Lr, err)) == CB_OK) {
    for (size_t j = 0; j + 1 < no; j++) {
      lb[j] = round_next_down(m_lo[j] - round_next_up(Lr[j] * ws->set.eps));
      if (L) L[j] = Lr[j];
    }
  }
  cb_free(C);
  return rc;
}

int jac_ball_margins(const cb_ws *ws, int label, const lip_result *lr, jac_ball *b, cb_error *err)
{
  const cb_net *net = ws->net;
  size_t no = net->node[net->output].size, n = net->node[0].size, q = 2 * no - 1;
  double *C, *lo, *hi, *Lq;
  int rc;
  if (no < 2 || label < 0 || (size_t)label >= no || !lr)
    return cb_error_set(err, CB_EUSAGE, "%s: margin Jacobians need >= 2 classes, a valid label and the global constants", net->path);
  if (!(C = cb_calloc(q * no + 2 * q * n + q, sizeof *C))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  lo = C + q * no;
  hi = lo + q * n;
  Lq = hi + q * n;
  jac_margin_rows(no, label, C);
  for (size_t k = 0; k < no; k++) C[(no - 1 + k) * no + k] = 1;
  if ((rc = jac_interval_lip(ws, C, q, lr, lo, hi, Lq, err)) == CB_OK &&
      (rc = jac_op_norm(lo + (no - 1) * n, hi + (no - 1) * n, no, n, ws->set.norm, &b->op, err)) == CB_OK) {
    memcpy(b->jlo, lo, (no - 1) * n * sizeof *lo);
    memcpy(b->jhi, hi, (no - 1) * n * sizeof *hi);
    jac_row_lipschitz(lo, hi, no - 1, n, ws->set.norm, b->Lint);
    memcpy(b->L, Lq, (no - 1) * sizeof *Lq);
    memcpy(b->Lout, Lq + no - 1, no * sizeof *Lq);
    b->op = fmin(b->op, round_next_up(fmin(lr->K_layerwise, lr->K_merged)));
  }
  cb_free(C);
  return rc;
}
