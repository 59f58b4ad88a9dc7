/*
** CROWN's receptive-field ("patches") pass; the dense pass is crown.c, and
** crown_int.h holds what both share.  CROWN's intermediate bounds of a CONV
** node start from unit rows +-e_j, j = (co, oi, oj).  Back through a chain of
** CONV, SCALE and relaxed elementwise nodes down to the input, such a row is
** zero outside the receptive field of pixel (oi, oj): at each tensor a
** window (all channels) x [h0, h1) x [w0, w1), grown by each CONV by its
** kernel and stride and clipped at the borders.  The rows of one output pixel
** share their windows, so they go as one group of small dense matrices
** [rows x C (h1 - h0) (w1 - w0)] through the same steps as the dense pass
** (back_unit, back_relaxed, back_scale, back_conv as a transposed conv of
** the window, underflow_slack), with the same bias, slack and underflow terms
** (factors from the whole node, as there), and are concretised by
** set_support_win on the input window (set.c).  The dense pass's
** entries outside the windows are exact zeros, so both passes compute the
** same sums up to the order of their nonzero terms: equal up to rounding,
** and each sum has no more nonzero terms than the dense pass's, so the
** same gamma bounds cover it (tests/test_patches.c compares the two).
** Source: the "patches" mode of auto_LiRPA (Xu et al. 2020, "Automatic
** Perturbation Analysis for Scalable Certified Robustness and Beyond").
** Used for unit rows at a CONV whose chain down to the input has only those
** kinds (one input each) and whose windows average less than half the
** tensors; anything else (AFFINE, ADD, CONCAT, MAXPOOL, ...) takes the dense
** pass.  alpha-CROWN's passes work too: per-row lines are gathered on the
** window (back_relaxed_rows' terms), and the matrices it keeps for its
** gradient are scattered into dense ones in its pool.
** Sizes: digits_cnn's second conv, 512 rows in 16 groups of 32; windows of
** 8 x 3 x 3 at the first ReLU and 1 x 5 x 5 at the input (dense: 512, 64).
*/
#include <float.h>
#include <math.h>
#include <string.h>
#include "crown_int.h"
#include "linalg.h"
#include "round.h"

static size_t win_size(int64_t c, pwin w) { return (size_t)(c * (w.h1 - w.h0) * (w.w1 - w.w0)); }

/* Window of a CONV's input that its output window o reads, clipped to the tensor. */
static pwin win_in(const cb_conv *g, pwin o)
{
  pwin r = {0, 0, 0, 0};
  if (o.h1 <= o.h0 || o.w1 <= o.w0) return r;
  r.h0 = o.h0 * g->sh - g->pt; r.h1 = (o.h1 - 1) * g->sh - g->pt + (g->kh - 1) * g->dh + 1;
  r.w0 = o.w0 * g->sw - g->pl; r.w1 = (o.w1 - 1) * g->sw - g->pl + (g->kw - 1) * g->dw + 1;
  if (r.h0 < 0) r.h0 = 0;
  if (r.w0 < 0) r.w0 = 0;
  if (r.h1 > g->hin) r.h1 = g->hin;
  if (r.w1 > g->win) r.w1 = g->win;
  if (r.h1 <= r.h0 || r.w1 <= r.w0) r.h0 = r.h1 = r.w0 = r.w1 = 0;
  return r;
}

/* W[t]: the window at chain node t's input for output pixel p of the start. */
static void chain_windows(const cb_net *net, const pchain *ch, size_t p, pwin *W)
{
  const cb_conv *g = &net->node[ch->node[0]].p.conv.g;
  int64_t oi = (int64_t)p / g->wout, oj = (int64_t)p % g->wout;
  pwin o = {oi, oi + 1, oj, oj + 1};
  for (int t = 0; t < ch->n; t++) {
    const cb_node *n = &net->node[ch->node[t]];
    if (n->kind == CB_CONV) o = win_in(&n->p.conv.g, o);
    W[t] = o;
  }
}

/* Does the receptive-field pass apply to unit rows at node k?  Fills ch. */
int crown_patch_chain(const cb_net *net, int k, pchain *ch)
{
  const cb_conv *g0 = &net->node[k].p.conv.g;
  size_t win = 0, full = 0;
  pwin W[PATCH_MAX];
  ch->n = 0;
  if (net->node[k].kind != CB_CONV) return 0;
  for (int i = k; i > 0; i = net->node[i].in[0]) {
    const cb_node *n = &net->node[i];
    int t = ch->n;
    if (t == PATCH_MAX || n->n_in != 1) return 0;
    if (n->kind == CB_CONV) {
      const cb_conv *g = &n->p.conv.g;
      if (t > 0 && (g->cout != ch->c[t - 1] || g->hout != ch->h[t - 1] || g->wout != ch->w[t - 1])) return 0;
      ch->c[t] = g->cin; ch->h[t] = g->hin; ch->w[t] = g->win;
    } else if (cb_kind_info[n->kind].relaxed || n->kind == CB_SCALE) {
      ch->c[t] = ch->c[t - 1]; ch->h[t] = ch->h[t - 1]; ch->w[t] = ch->w[t - 1];
    } else return 0;
    if (net->node[n->in[0]].size != (size_t)(ch->c[t] * ch->h[t] * ch->w[t]) ||
        (n->kind != CB_CONV && n->size != net->node[n->in[0]].size)) return 0;
    ch->node[ch->n++] = i;
  }
  for (size_t p = 0; p < (size_t)(g0->hout * g0->wout); p++) {   /* worth it: windows well inside */
    chain_windows(net, ch, p, W);
    for (int t = 0; t < ch->n; t++) { win += win_size(ch->c[t], W[t]); full += (size_t)(ch->c[t] * ch->h[t] * ch->w[t]); }
  }
  return 2 * win < full;
}

/* dst = the window w of tensor src (shape c x h x wd); returns its size. */
static size_t win_gather(const double *restrict src, int64_t c, int64_t h, int64_t wd, pwin w, double *restrict dst)
{
  size_t m = 0;
  for (int64_t ci = 0; ci < c; ci++)
    for (int64_t y = w.h0; y < w.h1; y++) {
      const double *r = src + (ci * h + y) * wd;
      for (int64_t x = w.w0; x < w.w1; x++) dst[m++] = r[x];   /* short runs: no memcpy call */
    }
  return m;
}

/* dst (tensor c x h x wd) at window w = src (the rest of dst untouched). */
static void win_scatter(const double *restrict src, int64_t c, int64_t h, int64_t wd, pwin w, double *restrict dst)
{
  size_t m = 0;
  for (int64_t ci = 0; ci < c; ci++)
    for (int64_t y = w.h0; y < w.h1; y++) {
      double *r = dst + (ci * h + y) * wd;
      for (int64_t x = w.w0; x < w.w1; x++) r[x] = src[m++];
    }
}

/* First step (back_unit on the window wi of the start CONV's input): row rr
   of Ain = val times output channel co's kernel at pixel (oi, oj). */
static int patch_unit(pgrp *G, int i, const size_t *col, const double *val, const size_t *rows, pwin wi, double *Ain)
{
  const cb_node *n = &G->ws->net->node[i];
  const cb_conv *g = &n->p.conv.g;
  const double *v = crown_slack_vec(G->ws, i);
  int64_t P = g->hout * g->wout, cpg = g->cin / g->groups, opg = g->cout / g->groups;
  int64_t hh = wi.h1 - wi.h0, ww = wi.w1 - wi.w0;
  size_t mi = win_size(g->cin, wi);
  double gm = crown_slack_gamma(n, 0);
  if (!v) return CB_ENOMEM;
  memset(Ain, 0, G->nr * mi * sizeof *Ain);
  for (size_t rr = 0; rr < G->nr; rr++) {
    size_t j = col[rows[rr]];
    double a = val[rows[rr]], *ai = Ain + rr * mi, bj;
    int64_t co = (int64_t)j / P, oi = ((int64_t)j % P) / g->wout, oj = (int64_t)j % g->wout, c0 = co / opg * cpg;
    const double *w = n->p.conv.W + (size_t)(co * cpg * g->kh * g->kw);
    for (int64_t c = 0; c < cpg; c++)
      for (int64_t ki = 0; ki < g->kh; ki++) {
        int64_t ii = oi * g->sh - g->pt + ki * g->dh;
        if (ii < 0 || ii >= g->hin) continue;
        for (int64_t kj = 0; kj < g->kw; kj++) {
          int64_t jj = oj * g->sw - g->pl + kj * g->dw;
          if (jj >= 0 && jj < g->win) ai[((c0 + c) * hh + ii - wi.h0) * ww + jj - wi.w0] += a * w[(c * g->kh + ki) * g->kw + kj];
        }
      }
    bj = n->p.conv.b[co];
    G->bias[rr] += a * bj;
    G->babs[rr] += fabs(a * bj);
    G->slack[rr] += gm * fabs(a) * v[j];
  }
  G->ws->flops += 2.0 * (double)G->nr * (double)(cpg * g->kh * g->kw);
  return CB_OK;
}

/* back_relaxed (back_relaxed_rows when the pass has per-row lines at node i)
   on window w of node i (shape c x h x wd): Ain = A through the lines. */
static void patch_relaxed(pgrp *G, int i, int64_t c, int64_t h, int64_t wd, pwin w, const double *A, double *Ain)
{
  cb_ws *ws = G->ws;
  const cb_node *n = &ws->net->node[i];
  const crown_lines *L = G->lines && G->lines[i].lw ? &G->lines[i] : NULL;
  size_t m = win_size(c, w);
  double *uw = G->gat, *lw = uw + m, *ub = lw + m, *lb = ub + m, *z = lb + m, *v = z + m, g = 2 * round_gamma(n->size + 3);
  win_gather(ws->zmax[n->in[0]], c, h, wd, w, z);
  memset(Ain, 0, G->nr * m * sizeof *Ain);
  if (L) {   /* the row's lines in place: one window row (a contiguous run) at a time */
    size_t len = (size_t)(w.w1 - w.w0);
    for (size_t r = 0; r < G->nr; r++) {
      size_t o = G->rows[r] * n->size, k = 0;
      double sl = 0, t = 0, sk;
      for (int64_t ci = 0; ci < c; ci++)
        for (int64_t y = w.h0; y < w.h1; y++, k += len) {
          size_t go = o + (size_t)((ci * h + y) * wd + w.w0);
          t += relaxed_row_lines(A + r * m + k, Ain + r * m + k, len, L->uw + go, L->lw + go, L->ub + go, L->lb + go, z + k, &sk);
          sl += sk;
        }
      G->bias[r] += t;
      G->babs[r] += fabs(t);
      G->slack[r] += g * sl;
    }
    return;
  }
  win_gather(ws->ru_w[i], c, h, wd, w, uw); win_gather(ws->rl_w[i], c, h, wd, w, lw);
  win_gather(ws->ru_b[i], c, h, wd, w, ub); win_gather(ws->rl_b[i], c, h, wd, w, lb);
  for (size_t e = 0; e < m; e++) v[e] = fmax(fabs(uw[e]), fabs(lw[e])) * z[e] + fmax(fabs(ub[e]), fabs(lb[e]));
  for (size_t r = 0; r < G->nr; r++) {
    double sl, t = relaxed_row(A + r * m, Ain + r * m, m, uw, lw, ub, lb, v, &sl);
    G->bias[r] += t;
    G->babs[r] += fabs(t);
    G->slack[r] += g * sl;
  }
}

/* back_scale on window w of node i (shape c x h x wd), in place. */
static void patch_scale(pgrp *G, int i, int64_t c, int64_t h, int64_t wd, pwin w, double *A)
{
  cb_ws *ws = G->ws;
  const cb_node *n = &ws->net->node[i];
  size_t m = win_size(c, w);
  double *sa = G->gat, *sb = sa + m, *z = sb + m, *v = z + m, g = 2 * (round_gamma(3) + n->rel_err);
  win_gather(n->p.scale.a, c, h, wd, w, sa); win_gather(n->p.scale.b, c, h, wd, w, sb);
  win_gather(ws->zmax[n->in[0]], c, h, wd, w, z);
  for (size_t e = 0; e < m; e++) v[e] = fabs(sa[e]) * z[e] + fabs(sb[e]);
  for (size_t r = 0; r < G->nr; r++) {
    double *a = A + r * m, t = 0, sl = 0;
    for (size_t e = 0; e < m; e++) { t += a[e] * sb[e]; sl += fabs(a[e]) * v[e]; a[e] *= sa[e]; }
    G->bias[r] += t;
    G->babs[r] += fabs(t);
    G->slack[r] += g * sl;
  }
}

/* Cap (doubles) of a CONV's window operator M (patch_conv); larger windows
   use la_conv_backward on the window. */
#define PATCH_OPMAX ((size_t)1 << 15)

/* M [mo x mi]: the CONV restricted to output window wo and input window wi
   (row (co, oi, oj) holds co's kernel at the pixel's receptive field). */
static void window_operator(const cb_node *n, pwin wo, pwin wi, double *M)
{
  const cb_conv *g = &n->p.conv.g;
  int64_t cpg = g->cin / g->groups, opg = g->cout / g->groups, hh = wi.h1 - wi.h0, ww = wi.w1 - wi.w0;
  size_t mi = win_size(g->cin, wi), row = 0;
  memset(M, 0, win_size(g->cout, wo) * mi * sizeof *M);
  for (int64_t co = 0; co < g->cout; co++)
    for (int64_t oi = wo.h0; oi < wo.h1; oi++)
      for (int64_t oj = wo.w0; oj < wo.w1; oj++, row++) {
        const double *w = n->p.conv.W + (size_t)(co * cpg * g->kh * g->kw);
        double *m = M + row * mi;
        for (int64_t c = 0; c < cpg; c++)
          for (int64_t ki = 0; ki < g->kh; ki++) {
            int64_t ii = oi * g->sh - g->pt + ki * g->dh;
            if (ii < 0 || ii >= g->hin) continue;
            for (int64_t kj = 0; kj < g->kw; kj++) {
              int64_t jj = oj * g->sw - g->pl + kj * g->dw;
              if (jj >= 0 && jj < g->win) m[((co / opg * cpg + c) * hh + ii - wi.h0) * ww + jj - wi.w0] += w[(c * g->kh + ki) * g->kw + kj];
            }
          }
      }
}

/* back_conv from output window wo to input window wi: A_in = A M with the
   window operator (one dgemm for the group; each entry sums the same nonzero
   products as the dense transposed conv), or for a large window the
   transposed conv of the window (a conv whose input is wi, pads shifted). */
static int patch_conv(pgrp *G, int i, pwin wo, pwin wi, const double *A, double *Ain, double *M)
{
  cb_ws *ws = G->ws;
  const cb_node *n = &ws->net->node[i];
  const cb_conv *g = &n->p.conv.g;
  size_t mo = win_size(g->cout, wo), mi = win_size(g->cin, wi), P = (size_t)((wo.h1 - wo.h0) * (wo.w1 - wo.w0));
  const double *sv = crown_slack_vec(ws, i);
  double *v = G->gat, *cb = v + mo, gm = crown_slack_gamma(n, 0);
  cb_conv l = *g;
  if (!sv) return CB_ENOMEM;
  if (mo == 0 || mi == 0) memset(Ain, 0, G->nr * mi * sizeof *Ain);
  if (mo == 0) return CB_OK;
  win_gather(sv, g->cout, g->hout, g->wout, wo, v);
  for (size_t co = 0, e = 0; co < (size_t)g->cout; co++)
    for (size_t k = 0; k < P; k++, e++) cb[e] = n->p.conv.b[co];
  for (size_t r = 0; r < G->nr; r++) {
    double t = 0, s = terms_row(A + r * mo, mo, v, cb, &t);
    G->bias[r] += t;
    G->babs[r] += fabs(t);
    G->slack[r] += gm * s;
  }
  if (mi == 0) return CB_OK;
  if (mo * mi <= PATCH_OPMAX) {
    window_operator(n, wo, wi, M);
    la_gemm(0, 0, G->nr, mi, mo, 1.0, A, mo, M, mi, 0.0, Ain, mi);
    ws->flops += 2.0 * (double)G->nr * (double)mo * (double)mi;
    return CB_OK;
  }
  memset(Ain, 0, G->nr * mi * sizeof *Ain);
  l.hin = wi.h1 - wi.h0; l.win = wi.w1 - wi.w0; l.hout = wo.h1 - wo.h0; l.wout = wo.w1 - wo.w0;
  l.pt = g->pt + wi.h0 - wo.h0 * g->sh; l.pl = g->pl + wi.w0 - wo.w0 * g->sw;
  ws->flops += 2.0 * (double)G->nr * (double)mo * (double)(g->cin / g->groups * g->kh * g->kw);
  return la_conv_backward(&l, n->p.conv.W, A, G->nr, Ain);
}

/* Underflow term of a step through node i (underflow_slack's, per row). */
static double underflow_term(const cb_ws *ws, int i)
{
  const cb_node *n = &ws->net->node[i];
  double z = 1;
  for (size_t e = 0; e < ws->net->node[n->in[0]].size; e++) z += ws->zmax[n->in[0]][e];
  return (double)(n->size + 1) * DBL_TRUE_MIN * z;
}

/* The group's rows at node[t]'s input (window w) into that node's dense matrix Kt. */
static void keep_rows(const pgrp *G, const pchain *ch, int t, pwin w, const double *A, double *Kt, const cb_net *net)
{
  size_t m = win_size(ch->c[t], w), sz = net->node[t < ch->n - 1 ? ch->node[t + 1] : 0].size;
  for (size_t r = 0; r < G->nr; r++) win_scatter(A + r * m, ch->c[t], ch->h[t], ch->w[t], w, Kt + G->rows[r] * sz);
}

/* Where node d's matrix of a q-row pass lives in its pool (as crown_pass's off[d]). */
static size_t pool_offset(const cb_net *net, int d, size_t q)
{
  size_t off = 0;
  for (int j = 0; j < d; j++) off += q * net->node[j].size;
  return off;
}

/* The receptive-field pass for unit rows val[r] e_{col[r]} at chain start
   ch->node[0] down to the input: out_r as crown_pass computes it. */
int crown_patch_pass(cb_ws *ws, const pchain *ch, const size_t *col, const double *val, size_t q, const pextra *x,
                      double *out)
{
  const cb_net *net = ws->net;
  const cb_conv *g0 = &net->node[ch->node[0]].p.conv.g;
  size_t P = (size_t)(g0->hout * g0->wout), maxr = 0, maxw = 1, maxm = 1;
  size_t *st = cb_calloc(2 * P + 1, sizeof *st), *rows = cb_alloc((q + 1) * sizeof *rows), *fill, *idx = NULL;
  double ug[PATCH_MAX], *X0, *X1, *M, *o, *K[PATCH_MAX];
  pwin W[PATCH_MAX];
  pgrp G = {ws, 0, NULL, NULL, NULL, NULL, NULL, x ? x->lines : NULL};
  int rc = CB_ENOMEM, last = ch->n - 1;
  if (!st || !rows) goto out;
  fill = st + P + 1;
  for (size_t r = 0; r < q; r++) st[col[r] % P + 1]++;   /* rows grouped by output pixel */
  for (size_t p = 0; p < P; p++) { if (st[p + 1] > maxr) maxr = st[p + 1]; st[p + 1] += st[p]; fill[p] = st[p]; }
  for (size_t r = 0; r < q; r++) rows[fill[col[r] % P]++] = r;
  for (size_t p = 0; p < P; p++) {   /* buffer sizes: largest window, largest window operator */
    chain_windows(net, ch, p, W);
    for (int t = 0; t < ch->n; t++) {
      size_t m = win_size(ch->c[t], W[t]), mo = t ? win_size(ch->c[t - 1], W[t - 1]) : 0;
      if (m > maxw) maxw = m;
      if (t && net->node[ch->node[t]].kind == CB_CONV && mo * m <= PATCH_OPMAX && mo * m > maxm) maxm = mo * m;
    }
  }
  if (!(idx = cb_alloc(maxw * sizeof *idx)) || !(X0 = crown_scratch(ws, 2 * maxr * maxw + maxm + 6 * maxw + 4 * maxr))) goto out;
  X1 = X0 + maxr * maxw; M = X1 + maxr * maxw; G.gat = M + maxm;
  G.bias = G.gat + 6 * maxw; G.slack = G.bias + maxr; G.babs = G.slack + maxr; o = G.babs + maxr;
  for (int t = 0; t < ch->n; t++) ug[t] = underflow_term(ws, ch->node[t]);
  ws->patch_rows += q;
  if (x && x->keep) {   /* K[t]: the dense matrix at node[t]'s input (node[t + 1] or the input), zeroed */
    for (int t = 0; t < ch->n; t++) {
      int d = t < last ? ch->node[t + 1] : 0;
      K[t] = x->keep[d] = x->pool + pool_offset(net, d, q);
      memset(K[t], 0, q * net->node[d].size * sizeof(double));
    }
    x->keep[ch->node[0]] = x->pool + pool_offset(net, ch->node[0], q);   /* the start rows, as the dense pass */
    memcpy(x->keep[ch->node[0]], x->A0, q * net->node[ch->node[0]].size * sizeof(double));
  }
  for (size_t p = 0; p < P; p++) {
    double *cur = X0, *nxt = X1, *sw;
    size_t m = 0;
    if (!(G.nr = st[p + 1] - st[p])) continue;
    chain_windows(net, ch, p, W);
    G.rows = rows + st[p];
    memset(G.bias, 0, 3 * maxr * sizeof(double));
    for (size_t r = 0; r < G.nr; r++) G.slack[r] += ug[0];
    if ((rc = patch_unit(&G, ch->node[0], col, val, rows + st[p], W[0], cur)) != CB_OK) goto out;
    if (x && x->keep) keep_rows(&G, ch, 0, W[0], cur, K[0], net);
    for (int t = 1; t < ch->n; t++) {
      int i = ch->node[t];
      for (size_t r = 0; r < G.nr; r++) G.slack[r] += ug[t];
      if (net->node[i].kind == CB_CONV) {   /* patch_chain admits CONV, SCALE, relaxed */
        if ((rc = patch_conv(&G, i, W[t - 1], W[t], cur, nxt, M)) != CB_OK) goto out;
        sw = cur; cur = nxt; nxt = sw;
      } else if (net->node[i].kind == CB_SCALE) patch_scale(&G, i, ch->c[t], ch->h[t], ch->w[t], W[t], cur);
      else {
        patch_relaxed(&G, i, ch->c[t], ch->h[t], ch->w[t], W[t], cur, nxt);
        sw = cur; cur = nxt; nxt = sw;
      }
      if (x && x->keep) keep_rows(&G, ch, t, W[t], cur, K[t], net);
    }
    for (int64_t c = 0; c < ch->c[last]; c++)   /* the input indices of the last window */
      for (int64_t y = W[last].h0; y < W[last].h1; y++)
        for (int64_t xx = W[last].w0; xx < W[last].w1; xx++) idx[m++] = (size_t)((c * ch->h[last] + y) * ch->w[last] + xx);
    set_support_win(&ws->set, cur, G.nr, m, idx, G.bias, o);
    for (size_t r = 0; r < G.nr; r++)
      out[rows[st[p] + r]] = round_up(o[r] + 2 * (G.slack[r] + round_gamma((size_t)net->n + 2) * G.babs[r]));
  }
  rc = CB_OK;
out:
  cb_free(st);
  cb_free(rows);
  cb_free(idx);
  return rc;
}

long crown_window(const cb_net *net, int start, size_t j, int i, size_t *idx)
{
  pchain ch;
  pwin W[PATCH_MAX];
  long m = 0;
  const cb_conv *g;
  if (start <= 0 || start >= net->n || !crown_patch_chain(net, start, &ch)) return -1;
  g = &net->node[start].p.conv.g;
  chain_windows(net, &ch, j % (size_t)(g->hout * g->wout), W);
  for (int t = 0; t < ch.n; t++) {
    if ((t < ch.n - 1 ? ch.node[t + 1] : 0) != i) continue;
    for (int64_t c = 0; c < ch.c[t]; c++)
      for (int64_t y = W[t].h0; y < W[t].h1; y++)
        for (int64_t x = W[t].w0; x < W[t].w1; x++) idx[m++] = (size_t)((c * ch.h[t] + y) * ch.w[t] + x);
    return m;
  }
  return -1;
}

/* Node k's neurons sel[0..m) by one receptive-field pass: rows j (upper) and
   m + j (minus lower); patch_pass groups them by pixel itself. */
int crown_patch_refine(cb_ws *ws, int k, const pchain *pc, const size_t *sel, size_t m, cb_error *err)
{
  size_t *col = cb_alloc((2 * m + 1) * sizeof *col);
  double *val = cb_alloc((2 * m + 1) * sizeof *val), *out = cb_alloc((2 * m + 1) * sizeof *out);
  int rc = CB_ENOMEM;
  if (col && val && out) {
    for (size_t j = 0; j < m; j++) { col[j] = col[m + j] = sel[j]; val[j] = 1; val[m + j] = -1; }
    rc = crown_patch_pass(ws, pc, col, val, 2 * m, NULL, out);
  }
  if (rc == CB_OK) for (size_t j = 0; j < m; j++) { ws->hi[k][sel[j]] = out[j]; ws->lo[k][sel[j]] = -out[m + j]; }
  else rc = cb_error_set(err, rc, "out of memory in CROWN (%zu rows)", 2 * m);
  cb_free(col);
  cb_free(val);
  cb_free(out);
  return rc;
}
