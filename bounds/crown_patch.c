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
** (the unit first step, the relaxed, SCALE and CONV steps, the last as a
** transposed conv of the window), with the same bias, slack and underflow
** terms from the same functions of crown.c (crown_int.h: crown_unit,
** crown_relaxed, crown_add_terms, the crown_*_gamma factors from the whole
** node, crown_underflow, crown_close), and are concretised by
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
** window (the dense pass's per-row terms), and the matrices it keeps for its
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

/* A receptive-field pass: its buffers (sized for the largest group and
   window) and the current group, the nr rows rows[] (their numbers in the
   pass) of one output pixel, with their per-row terms. */
typedef struct pgrp {
  cb_ws *ws;
  const pchain *ch;
  const pextra *x;            /* per-row lines, matrices to keep (NULL: none) */
  const crown_lines *lines;   /* x->lines */
  size_t nr;                  /* rows in the group */
  const size_t *rows;
  crown_terms T;              /* the group's bias, slack, babs (nr each) */
  double *X0, *X1, *M, *gat;  /* two window matrices, the window operator, gather space (6 windows) */
  double *o;                  /* the group's max over the set */
  size_t *idx;                /* input indices of the last window */
  double ug[PATCH_MAX];       /* per chain node: its underflow term (crown_underflow) */
  double *K[PATCH_MAX];       /* per chain node: the dense matrix kept at its input, or NULL */
} pgrp;

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

/* First step (crown_unit on the window wi of the start CONV's input): row rr
   of Ain = val times output channel co's kernel at pixel (oi, oj). */
static int patch_unit(pgrp *G, int i, const size_t *col, const double *val, pwin wi, double *Ain)
{
  memset(Ain, 0, G->nr * win_size(G->ws->net->node[i].p.conv.g.cin, wi) * sizeof *Ain);
  return crown_unit(G->ws, &G->T, i, G->nr, col, val, G->rows, wi, Ain);
}

/* The relaxed step on window w of node i (shape c x h x wd): Ain = A through
   the lines, the stored ones (crown_relaxed on the gathered window) or, when
   the pass has per-row lines at node i, each row's own (back_relaxed_rows'
   terms, one window row, a contiguous run, at a time). */
static void patch_relaxed(pgrp *G, int i, int64_t c, int64_t h, int64_t wd, pwin w, const double *A, double *Ain)
{
  cb_ws *ws = G->ws;
  const cb_node *n = &ws->net->node[i];
  const crown_lines *L = G->lines && G->lines[i].lw ? &G->lines[i] : NULL;
  size_t m = win_size(c, w), len = (size_t)(w.w1 - w.w0);
  double *uw = G->gat, *lw = uw + m, *ub = lw + m, *lb = ub + m, *z = lb + m, *v = z + m, g = crown_relax_gamma(n);
  win_gather(ws->zmax[n->in[0]], c, h, wd, w, z);
  memset(Ain, 0, G->nr * m * sizeof *Ain);
  if (!L) {
    win_gather(ws->ru_w[i], c, h, wd, w, uw); win_gather(ws->rl_w[i], c, h, wd, w, lw);
    win_gather(ws->ru_b[i], c, h, wd, w, ub); win_gather(ws->rl_b[i], c, h, wd, w, lb);
    crown_relaxed(&G->T, G->nr, m, A, Ain, uw, lw, ub, lb, z, v, g);
    return;
  }
  for (size_t r = 0; r < G->nr; r++) {
    size_t o = G->rows[r] * n->size, k = 0;
    double sl = 0, t = 0, sk;
    for (int64_t ci = 0; ci < c; ci++)
      for (int64_t y = w.h0; y < w.h1; y++, k += len) {
        size_t go = o + (size_t)((ci * h + y) * wd + w.w0);
        t += relaxed_row_lines(A + r * m + k, Ain + r * m + k, len, L->uw + go, L->lw + go, L->ub + go, L->lb + go, z + k, &sk);
        sl += sk;
      }
    terms_add(&G->T, r, t, g, sl);
  }
}

/* The SCALE step on window w of node i (shape c x h x wd), in place (its
   sums in entry order: the same terms as the dense step's, in another order). */
static void patch_scale(pgrp *G, int i, int64_t c, int64_t h, int64_t wd, pwin w, double *A)
{
  cb_ws *ws = G->ws;
  const cb_node *n = &ws->net->node[i];
  size_t m = win_size(c, w);
  double *sa = G->gat, *sb = sa + m, *z = sb + m, *v = z + m, g = crown_scale_gamma(n);
  win_gather(n->p.scale.a, c, h, wd, w, sa); win_gather(n->p.scale.b, c, h, wd, w, sb);
  win_gather(ws->zmax[n->in[0]], c, h, wd, w, z);
  crown_scale_vec(m, sa, sb, z, v);
  for (size_t r = 0; r < G->nr; r++) {
    double *a = A + r * m, t = 0, sl = 0;
    for (size_t e = 0; e < m; e++) { t += a[e] * sb[e]; sl += fabs(a[e]) * v[e]; a[e] *= sa[e]; }
    terms_add(&G->T, r, t, g, sl);
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
  size_t mi = win_size(g->cin, wi), row = 0;
  memset(M, 0, win_size(g->cout, wo) * mi * sizeof *M);
  for (int64_t co = 0; co < g->cout; co++)
    for (int64_t oi = wo.h0; oi < wo.h1; oi++)
      for (int64_t oj = wo.w0; oj < wo.w1; oj++, row++)
        crown_conv_row(n, (size_t)((co * g->hout + oi) * g->wout + oj), 1.0, wi, M + row * mi);
}

/* The CONV step from output window wo to input window wi: A_in = A M with the
   window operator (one dgemm for the group; each entry sums the same nonzero
   products as the dense transposed conv), or for a large window the
   transposed conv of the window (a conv whose input is wi, pads shifted);
   the terms as the dense step's, on the output window. */
static int patch_conv(pgrp *G, int i, pwin wo, pwin wi, const double *A, double *Ain, double *M)
{
  cb_ws *ws = G->ws;
  const cb_node *n = &ws->net->node[i];
  const cb_conv *g = &n->p.conv.g;
  size_t mo = win_size(g->cout, wo), mi = win_size(g->cin, wi);
  const double *sv = crown_slack_vec(ws, i);
  double *v = G->gat, *cb = v + mo;
  cb_conv l = *g;
  if (!sv) return CB_ENOMEM;
  if (mo == 0 || mi == 0) memset(Ain, 0, G->nr * mi * sizeof *Ain);
  if (mo == 0) return CB_OK;
  win_gather(sv, g->cout, g->hout, g->wout, wo, v);
  crown_conv_bias(n, wo, cb);
  crown_add_terms(&G->T, G->nr, A, mo, v, crown_slack_gamma(n, 0), cb);
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

/* The group's rows at node[t]'s input (window w) into that node's dense matrix K[t]. */
static void keep_rows(const pgrp *G, int t, pwin w, const double *A)
{
  const pchain *ch = G->ch;
  size_t m = win_size(ch->c[t], w), sz = G->ws->net->node[t < ch->n - 1 ? ch->node[t + 1] : 0].size;
  if (!G->K[t]) return;
  for (size_t r = 0; r < G->nr; r++) win_scatter(A + r * m, ch->c[t], ch->h[t], ch->w[t], w, G->K[t] + G->rows[r] * sz);
}

/* The group's rows (output pixel p) down the chain to the input: out_r for
   each, as the dense pass computes it. */
static int patch_group(pgrp *G, size_t p, const size_t *col, const double *val, double *out)
{
  const cb_net *net = G->ws->net;
  const pchain *ch = G->ch;
  double *cur = G->X0, *nxt = G->X1, *sw;
  size_t m = 0;
  pwin W[PATCH_MAX];
  int rc, last = ch->n - 1;
  chain_windows(net, ch, p, W);
  for (size_t r = 0; r < G->nr; r++) G->T.slack[r] += G->ug[0];
  if ((rc = patch_unit(G, ch->node[0], col, val, W[0], cur)) != CB_OK) return rc;
  keep_rows(G, 0, W[0], cur);
  for (int t = 1; t < ch->n; t++) {
    int i = ch->node[t];
    for (size_t r = 0; r < G->nr; r++) G->T.slack[r] += G->ug[t];
    if (net->node[i].kind == CB_CONV) {   /* crown_patch_chain admits CONV, SCALE, relaxed */
      if ((rc = patch_conv(G, i, W[t - 1], W[t], cur, nxt, G->M)) != CB_OK) return rc;
      sw = cur; cur = nxt; nxt = sw;
    } else if (net->node[i].kind == CB_SCALE) patch_scale(G, i, ch->c[t], ch->h[t], ch->w[t], W[t], cur);
    else {
      patch_relaxed(G, i, ch->c[t], ch->h[t], ch->w[t], W[t], cur, nxt);
      sw = cur; cur = nxt; nxt = sw;
    }
    keep_rows(G, t, W[t], cur);
  }
  for (int64_t c = 0; c < ch->c[last]; c++)   /* the input indices of the last window */
    for (int64_t y = W[last].h0; y < W[last].h1; y++)
      for (int64_t xx = W[last].w0; xx < W[last].w1; xx++) G->idx[m++] = (size_t)((c * ch->h[last] + y) * ch->w[last] + xx);
  set_support_win(&G->ws->set, cur, G->nr, m, G->idx, G->T.bias, G->o);
  for (size_t r = 0; r < G->nr; r++) out[G->rows[r]] = crown_close(net, &G->T, r, G->o[r]);
  return CB_OK;
}

/* K[t]: the dense matrix at chain node t's input (node[t + 1] or the
   input), zeroed, in the pool of x; and the start rows kept as the dense
   pass keeps them. */
static void keep_init(pgrp *G, size_t q)
{
  const cb_net *net = G->ws->net;
  const pchain *ch = G->ch;
  const pextra *x = G->x;
  for (int t = 0; t < ch->n; t++) {
    int d = t < ch->n - 1 ? ch->node[t + 1] : 0;
    G->K[t] = NULL;
    if (!x || !x->keep) continue;
    G->K[t] = x->keep[d] = x->pool + crown_pool_offset(net, d, q);
    memset(G->K[t], 0, q * net->node[d].size * sizeof(double));
  }
  if (!x || !x->keep) return;
  x->keep[ch->node[0]] = x->pool + crown_pool_offset(net, ch->node[0], q);
  memcpy(x->keep[ch->node[0]], x->A0, q * net->node[ch->node[0]].size * sizeof(double));
}

/* The receptive-field pass for unit rows val[r] e_{col[r]} at chain start
   ch->node[0] down to the input: out_r as the dense pass computes it.  Rows
   are grouped by output pixel (st[p] .. st[p + 1] in rows[]). */
int crown_patch_pass(cb_ws *ws, const pchain *ch, const size_t *col, const double *val, size_t q, const pextra *x,
                     double *out)
{
  const cb_net *net = ws->net;
  const cb_conv *g0 = &net->node[ch->node[0]].p.conv.g;
  size_t P = (size_t)(g0->hout * g0->wout), maxr = 0, maxw = 1, maxm = 1;
  size_t *st = cb_calloc(2 * P + 1, sizeof *st), *rows = cb_alloc((q + 1) * sizeof *rows), *fill;
  pwin W[PATCH_MAX];
  pgrp G = {.ws = ws, .ch = ch, .x = x, .lines = x ? x->lines : NULL};
  int rc = CB_ENOMEM;
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
  if (!(G.idx = cb_alloc(maxw * sizeof *G.idx)) || !(G.X0 = crown_scratch(ws, 2 * maxr * maxw + maxm + 6 * maxw + 4 * maxr)))
    goto out;
  G.X1 = G.X0 + maxr * maxw; G.M = G.X1 + maxr * maxw; G.gat = G.M + maxm;
  G.T.bias = G.gat + 6 * maxw; G.T.slack = G.T.bias + maxr; G.T.babs = G.T.slack + maxr; G.o = G.T.babs + maxr;
  for (int t = 0; t < ch->n; t++) G.ug[t] = crown_underflow(ws, ch->node[t]);
  ws->patch_rows += q;
  keep_init(&G, q);
  rc = CB_OK;
  for (size_t p = 0; p < P && rc == CB_OK; p++) {
    if (!(G.nr = st[p + 1] - st[p])) continue;
    G.rows = rows + st[p];
    memset(G.T.bias, 0, 3 * maxr * sizeof(double));
    rc = patch_group(&G, p, col, val, out);
  }
out:
  cb_free(st);
  cb_free(rows);
  cb_free(G.idx);
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
   m + j (minus lower); crown_patch_pass groups them by pixel itself. */
int crown_patch_refine(cb_ws *ws, int k, const pchain *pc, const size_t *sel, size_t m, int sides, cb_error *err)
{
  size_t per = sides == 2 ? 2 : 1, *col = cb_alloc((per * m + 1) * sizeof *col);
  double *val = cb_alloc((per * m + 1) * sizeof *val), *out = cb_alloc((per * m + 1) * sizeof *out);
  int rc = CB_ENOMEM;
  if (col && val && out) {
    for (size_t j = 0; j < m; j++) {
      col[j] = sel[j];
      val[j] = sides == -1 ? -1 : 1;
      if (sides == 2) { col[m + j] = sel[j]; val[m + j] = -1; }
    }
    rc = m ? crown_patch_pass(ws, pc, col, val, per * m, NULL, out) : CB_OK;
  }
  if (rc == CB_OK)
    for (size_t j = 0; j < m; j++) {
      if (sides != -1) ws->hi[k][sel[j]] = out[j];
      if (sides != 1) ws->lo[k][sel[j]] = -out[sides == 2 ? m + j : j];
    }
  else rc = cb_error_set(err, rc, "out of memory in CROWN (%zu rows)", per * m);
  cb_free(col);
  cb_free(val);
  cb_free(out);
  return rc;
}
