/*
** CROWN's receptive-field ("patches") pass; the dense pass is crown.c, and
** crown_int.h holds what both share.  CROWN's intermediate bounds of a CONV
** or residual ADD node start from unit rows +-e_j, j = (co, oi, oj).  Back
** through the nodes below it down to the input -- a DAG of CONV, MAXPOOL,
** SCALE, relaxed elementwise, ADD and channel CONCAT nodes -- such a row is zero
** outside the receptive field of pixel (oi, oj): at each tensor a window
** (all channels) x [h0, h1) x [w0, w1), the bounding box of what the node's
** consumers read (a CONV or MAXPOOL grows its output window by its kernel
** and stride, clipped at the borders; the others read the same pixels).
** MAXPOOL's step takes each window entry through the dense pass's lines
** (crown_maxpool_lines, computed once per pass, and maxpool_entry: the
** same bias and slack terms, the same 4u |a| zs per entry).  The rows of one
** output pixel share their windows, so they go as one group of small dense
** matrices [rows x C (h1 - h0) (w1 - w0)], one per node, through the same
** steps as the dense pass in the same node order (the unit first step of a
** CONV start, the relaxed, SCALE and CONV steps, the last as a transposed
** conv of the window; ADD and CONCAT add their rows' blocks into their
** inputs' windows), with the same bias, slack and underflow terms from the
** same functions of crown.c (crown_int.h: crown_unit, crown_relaxed,
** crown_add_terms, the crown_*_gamma factors from the whole node,
** crown_underflow, crown_close), the dense pass's merge slack 2u |A| zmax on
** a node two or more inputs read, and are concretised by set_support_win on
** the input window (set.c).  The dense pass's entries outside the windows
** are exact zeros, so both passes compute the same sums up to the order of
** their nonzero terms: equal up to rounding, and each sum has no more
** nonzero terms than the dense pass's, so the same gamma bounds cover it
** (tests/test_patches.c compares the two).
** Source: the "patches" mode of auto_LiRPA (Xu et al. 2020, "Automatic
** Perturbation Analysis for Scalable Certified Robustness and Beyond").
** Used for unit rows at a CONV or ADD whose nodes below have only those
** kinds (at most PATCH_MAX, 4-d) and whose windows average less than half
** the tensors; anything else (AFFINE, SORT, RESHAPE, ...) takes the dense
** pass.  alpha-CROWN's passes work too: per-row lines are gathered on the
** window (the dense pass's per-row terms), and the matrices it keeps for its
** gradient are scattered into dense ones in its pool.
** Sizes: digits_cnn's second conv, 512 rows in 16 groups of 32; windows of
** 8 x 3 x 3 at the first ReLU and 1 x 5 x 5 at the input (dense: 512, 64).
** resnet_2b's residual ADDs: up to 2 x 1024 rows in 64 groups of up to 32
** (the second ADD has 11 nodes below it, both shortcuts included).
*/
#include <float.h>
#include <math.h>
#include <string.h>
#include "crown_int.h"
#include "linalg.h"
#include "round.h"

/* A receptive-field pass: its buffers (sized for the largest group and
   windows) and the current group, the nr rows rows[] (their numbers in the
   pass) of one output pixel, with their per-row terms. */
typedef struct pgrp {
  cb_ws *ws;
  const pchain *ch;
  const pextra *x;            /* per-row lines, matrices to keep (NULL: none) */
  const crown_lines *lines;   /* x->lines */
  size_t nr;                  /* rows in the group */
  const size_t *rows;
  crown_terms T;              /* the group's bias, slack, babs (nr each) */
  double *Acc[PATCH_MAX + 1]; /* per slot: its window matrix [nr x window], summed over its consumers */
  double *X, *M, *gat;        /* a step's window matrix, the window operator, gather space (6 windows) */
  double *o;                  /* the group's max over the set */
  crown_pool P[PATCH_MAX];    /* per MAXPOOL slot: its lines (crown_maxpool_lines, the dense pass's) */
  size_t *idx;                /* input indices of the input's window */
  double ug[PATCH_MAX];       /* per slot: its underflow term (crown_underflow) */
  double *K[PATCH_MAX + 1];   /* per slot: the dense matrix kept for it, or NULL */
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

static int win_empty(pwin w) { return w.h1 <= w.h0 || w.w1 <= w.w0; }

/* The bounding box of two windows (an empty one adds nothing). */
static pwin win_union(pwin a, pwin b)
{
  if (win_empty(a)) return b;
  if (win_empty(b)) return a;
  if (b.h0 < a.h0) a.h0 = b.h0;
  if (b.w0 < a.w0) a.w0 = b.w0;
  if (b.h1 > a.h1) a.h1 = b.h1;
  if (b.w1 > a.w1) a.w1 = b.w1;
  return a;
}

/* W[t]: slot t's window for output pixel p of the start: the bounding box
   of what its consumers read (a CONV its kernel's reach, the others the
   same pixels), consumers first (slots are in decreasing node order). */
static void chain_windows(const cb_net *net, const pchain *ch, size_t p, pwin *W)
{
  int64_t oi = (int64_t)p / ch->w[0], oj = (int64_t)p % ch->w[0];
  for (int t = 0; t <= ch->n; t++) W[t] = (pwin){0, 0, 0, 0};
  W[0] = (pwin){oi, oi + 1, oj, oj + 1};
  for (int t = 0; t < ch->n; t++) {
    const cb_node *n = &net->node[ch->node[t]];
    pwin o = n->kind == CB_CONV ? win_in(&n->p.conv.g, W[t]) : n->kind == CB_MAXPOOL ? win_in(&n->p.pool.g, W[t]) : W[t];
    if (win_empty(W[t])) continue;
    for (int k = 0; k < ch->nin[t]; k++) W[ch->in[t][k]] = win_union(W[ch->in[t][k]], o);
  }
}

/* The slot of node i in ch (its first n slots), or the input slot n for node 0; -1 if none. */
static int slot_of(const pchain *ch, int i)
{
  if (i == 0) return ch->n;
  for (int t = 0; t < ch->n; t++) if (ch->node[t] == i) return t;
  return -1;
}

/* Slot s's tensor must be c x h x w (the input's is set by its first reader). */
static int dims_fit(pchain *ch, int s, int64_t c, int64_t h, int64_t w)
{
  if (ch->c[s] < 0) { ch->c[s] = c; ch->h[s] = h; ch->w[s] = w; return 1; }
  return ch->c[s] == c && ch->h[s] == h && ch->w[s] == w;
}

/* Slot t's inputs: each node below a CONV, MAXPOOL, SCALE, relaxed, ADD or CONCAT
   along channels, with the shapes the step expects; 0 if not. */
static int link_inputs(const cb_net *net, pchain *ch, int t)
{
  const cb_node *n = &net->node[ch->node[t]];
  int64_t csum = 0;
  int one = n->kind == CB_CONV || n->kind == CB_MAXPOOL || n->kind == CB_SCALE || cb_kind_info[n->kind].relaxed;
  if (one ? n->n_in != 1 : n->kind == CB_ADD ? n->n_in != 2 : n->kind != CB_CONCAT || n->p.concat.axis != 1 ||
      n->n_in < 1 || n->n_in > PATCH_IN) return 0;
  ch->nin[t] = n->n_in;
  for (int k = 0; k < n->n_in; k++) {
    const cb_node *x = &net->node[n->in[k]];
    int s = ch->in[t][k] = slot_of(ch, n->in[k]), ok;
    if (s < 0) return 0;
    ch->cons[s]++;
    if (n->kind == CB_CONV || n->kind == CB_MAXPOOL) {
      const cb_conv *g = n->kind == CB_CONV ? &n->p.conv.g : &n->p.pool.g;
      ok = dims_fit(ch, s, g->cin, g->hin, g->win) && g->cout == ch->c[t] && g->hout == ch->h[t] && g->wout == ch->w[t];
      if (n->kind == CB_MAXPOOL) ok = ok && g->cout == g->cin && g->dh >= 1 && g->dw >= 1;
    } else if (n->kind == CB_CONCAT) {
      ok = x->shape.rank == 4 && dims_fit(ch, s, x->shape.dim[1], ch->h[t], ch->w[t]);
      csum += ch->c[s];
    } else ok = dims_fit(ch, s, ch->c[t], ch->h[t], ch->w[t]);
    if (!ok || x->size != (size_t)(ch->c[s] * ch->h[s] * ch->w[s])) return 0;
  }
  return n->kind != CB_CONCAT || csum == ch->c[t];
}

/* Does the receptive-field pass apply to unit rows at node k?  Fills ch:
   the nodes below k (all of them, down to the input, of the kinds above,
   4-d, one sample) and whether their windows average less than half the
   tensors (else the dense pass is as cheap). */
int crown_patch_chain(const cb_net *net, int k, pchain *ch)
{
  size_t win = 0, full = 0;
  pwin W[PATCH_MAX + 1];
  ch->n = 0;
  if (net->node[k].kind != CB_CONV && net->node[k].kind != CB_ADD) return 0;
  for (int i = k; i > 0; i--) {   /* node i is below k if k or a node already listed reads it */
    const cb_node *n = &net->node[i];
    int below = i == k;
    for (int t = 0; t < ch->n && !below; t++)
      for (int j = 0; j < net->node[ch->node[t]].n_in; j++) below |= net->node[ch->node[t]].in[j] == i;
    if (!below) continue;
    if (ch->n == PATCH_MAX || n->shape.rank != 4 || n->shape.dim[0] != 1) return 0;
    ch->node[ch->n] = i;
    ch->c[ch->n] = n->shape.dim[1]; ch->h[ch->n] = n->shape.dim[2]; ch->w[ch->n] = n->shape.dim[3];
    ch->cons[ch->n++] = 0;
  }
  ch->node[ch->n] = 0; ch->c[ch->n] = -1; ch->cons[ch->n] = 0;
  for (int t = 0; t < ch->n; t++) if (!link_inputs(net, ch, t)) return 0;
  for (size_t p = 0; p < (size_t)(ch->h[0] * ch->w[0]); p++) {   /* worth it: windows well inside */
    chain_windows(net, ch, p, W);
    for (int t = 1; t <= ch->n; t++) { win += win_size(ch->c[t], W[t]); full += (size_t)(ch->c[t] * ch->h[t] * ch->w[t]); }
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

/* dst (window wd of its tensor, c channels) += src (window ws inside wd, c
   channels), for nr rows of ms and md entries. */
static void win_add(const double *restrict src, size_t ms, pwin ws, double *restrict dst, size_t md, pwin wd, int64_t c,
                    size_t nr)
{
  int64_t hd = wd.h1 - wd.h0, wdd = wd.w1 - wd.w0;
  for (size_t r = 0; r < nr; r++) {
    const double *a = src + r * ms;
    double *d = dst + r * md;
    size_t m = 0;
    for (int64_t ci = 0; ci < c; ci++)
      for (int64_t y = ws.h0; y < ws.h1; y++) {
        double *row = d + (ci * hd + y - wd.h0) * wdd - wd.w0;
        for (int64_t x = ws.w0; x < ws.w1; x++) row[x] += a[m++];
      }
  }
}

/* The relaxed step on window w of node i (shape c x h x wd): Ain = A through
   the lines, the stored ones (crown_relaxed on the gathered window) or, when
   the pass has per-row lines at node i, each row's own (back_relaxed_rows'
   terms, one window row, a contiguous run, at a time). */
CB_SIMD_CLONES
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

/* The CONV step from output window wo to input window wi (which holds the
   kernel's reach from wo): A_in += A M with the window operator (one dgemm
   for the group; each entry sums the same nonzero products as the dense
   transposed conv), or for a large window the transposed conv of the window
   (a conv whose input is wi, pads shifted); the terms as the dense step's,
   on the output window. */
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
  if (mo == 0) return CB_OK;
  win_gather(sv, g->cout, g->hout, g->wout, wo, v);
  crown_conv_bias(n, wo, cb);
  if (mi == 0) { crown_add_terms(&G->T, G->nr, A, mo, v, crown_slack_gamma(n, 0), cb); return CB_OK; }
  if (mo * mi > PATCH_OPMAX && ws->single) {   /* the window's transposed conv in binary32 */
    int done, rc;
    l.hin = wi.h1 - wi.h0; l.win = wi.w1 - wi.w0; l.hout = wo.h1 - wo.h0; l.wout = wo.w1 - wo.w0;
    l.pt = g->pt + wi.h0 - wo.h0 * g->sh; l.pl = g->pl + wi.w0 - wo.w0 * g->sw;
    if ((rc = crown_conv_single(ws, i, &l, A, G->nr, Ain, &done)) != CB_OK) return rc;
    if (done) {
      double u = crown_conv_single_eta(ws, i);
      crown_add_terms(&G->T, G->nr, A, mo, v, crown_conv_single_gamma(n), cb);
      for (size_t r = 0; r < G->nr; r++) G->T.slack[r] += u;
      ws->flops += 2.0 * (double)G->nr * (double)mo * (double)(g->cin / g->groups * g->kh * g->kw);
      return CB_OK;
    }
  }
  crown_add_terms(&G->T, G->nr, A, mo, v, crown_slack_gamma(n, 0), cb);
  if (mo * mi <= PATCH_OPMAX) {
    window_operator(n, wo, wi, M);
    la_gemm(0, 0, G->nr, mi, mo, 1.0, A, mo, M, mi, 1.0, Ain, mi);
    ws->flops += 2.0 * (double)G->nr * (double)mo * (double)mi;
    return CB_OK;
  }
  l.hin = wi.h1 - wi.h0; l.win = wi.w1 - wi.w0; l.hout = wo.h1 - wo.h0; l.wout = wo.w1 - wo.w0;
  l.pt = g->pt + wi.h0 - wo.h0 * g->sh; l.pl = g->pl + wi.w0 - wo.w0 * g->sw;
  ws->flops += 2.0 * (double)G->nr * (double)mo * (double)(g->cin / g->groups * g->kh * g->kw);
  return crown_conv_back(ws, &l, n->p.conv.W, A, G->nr, Ain);
}

/* The MAXPOOL step from output window wo to input window wi (which holds
   the pool windows of wo): each entry through the dense pass's lines
   (maxpool_entry with crown_maxpool_lines' P), in the dense pass's order
   (outputs, then rows); outside wo A is 0 and adds nothing there. */
static void patch_maxpool(pgrp *G, int i, const crown_pool *P, pwin wo, pwin wi, const double *A, double *Ain)
{
  const cb_conv *g = &G->ws->net->node[i].p.pool.g;
  size_t mo = win_size(g->cout, wo), mi = win_size(g->cin, wi), e = 0;
  int64_t hi = wi.h1 - wi.h0, wdi = wi.w1 - wi.w0;
  for (int64_t c = 0; c < g->cout; c++)
    for (int64_t oi = wo.h0; oi < wo.h1; oi++)
      for (int64_t oj = wo.w0; oj < wo.w1; oj++, e++) {
        size_t o = (size_t)((c * g->hout + oi) * g->wout + oj), j = P->jl[o];
        int64_t jc = (int64_t)j / (g->hin * g->win), jy = (int64_t)j / g->win % g->hin, jx = (int64_t)j % g->win;
        size_t k = (size_t)((jc * hi + jy - wi.h0) * wdi + jx - wi.w0);
        for (size_t r = 0; r < G->nr; r++) maxpool_entry(&G->T, r, A[r * mo + e], P, o, Ain + r * mi + k);
      }
}

/* Slot t's rows (window w) into its dense matrix K[t] (when kept). */
static void keep_rows(const pgrp *G, int t, pwin w, const double *A)
{
  const pchain *ch = G->ch;
  size_t m = win_size(ch->c[t], w), sz = (size_t)(ch->c[t] * ch->h[t] * ch->w[t]);
  if (!G->K[t]) return;
  for (size_t r = 0; r < G->nr; r++) win_scatter(A + r * m, ch->c[t], ch->h[t], ch->w[t], w, G->K[t] + G->rows[r] * sz);
}

/* A slot read by several inputs took rounded additions: the dense pass's
   merge_slack, 2u |A| zmax, on its window (outside it A is 0). */
static void patch_merge(pgrp *G, int t, pwin w, const double *A)
{
  const pchain *ch = G->ch;
  size_t m = win_size(ch->c[t], w);
  if (ch->cons[t] < 2 || m == 0) return;
  win_gather(G->ws->zmax[ch->node[t]], ch->c[t], ch->h[t], ch->w[t], w, G->gat);
  crown_add_terms(&G->T, G->nr, A, m, G->gat, 2 * ROUND_U, NULL);
}

/* First step: a CONV start's rows by crown_unit straight into its input's
   window (which is exactly the pixel's receptive field); an ADD start's
   rows as unit rows on its one-pixel window, for the general steps. */
static int patch_start(pgrp *G, const size_t *col, const double *val, const pwin *W)
{
  const pchain *ch = G->ch;
  const cb_node *n = &G->ws->net->node[ch->node[0]];
  size_t P = (size_t)(ch->h[0] * ch->w[0]);
  if (n->kind == CB_CONV) return crown_unit(G->ws, &G->T, ch->node[0], G->nr, col, val, G->rows, W[ch->in[0][0]], G->Acc[ch->in[0][0]]);
  for (size_t r = 0; r < G->nr; r++) G->Acc[0][r * (size_t)ch->c[0] + col[G->rows[r]] / P] = val[G->rows[r]];
  return CB_OK;
}

/* Slot t's step (node i, window W[t], matrix A): its terms, and its rows
   added into its inputs' windows. */
static int patch_step(pgrp *G, int t, const pwin *W, double *A)
{
  const pchain *ch = G->ch;
  const cb_node *n = &G->ws->net->node[ch->node[t]];
  int s = ch->in[t][0];
  size_t m = win_size(ch->c[t], W[t]), area = (size_t)((W[t].h1 - W[t].h0) * (W[t].w1 - W[t].w0));
  switch (n->kind) {
  case CB_CONV: return patch_conv(G, ch->node[t], W[t], W[s], A, G->Acc[s], G->M);
  case CB_MAXPOOL: patch_maxpool(G, ch->node[t], &G->P[t], W[t], W[s], A, G->Acc[s]); return CB_OK;
  case CB_SCALE:
    patch_scale(G, ch->node[t], ch->c[t], ch->h[t], ch->w[t], W[t], A);
    win_add(A, m, W[t], G->Acc[s], win_size(ch->c[s], W[s]), W[s], ch->c[t], G->nr);
    return CB_OK;
  case CB_ACT:
    patch_relaxed(G, ch->node[t], ch->c[t], ch->h[t], ch->w[t], W[t], A, G->X);
    win_add(G->X, m, W[t], G->Acc[s], win_size(ch->c[s], W[s]), W[s], ch->c[t], G->nr);
    return CB_OK;
  case CB_ADD: case CB_CONCAT:   /* CONCAT: input k takes its channels' block of each row */
    for (int k = 0, c0 = 0; k < ch->nin[t]; c0 += (int)ch->c[ch->in[t][k]], k++) {
      s = ch->in[t][k];
      win_add(A + (n->kind == CB_CONCAT ? (size_t)c0 * area : 0), m, W[t], G->Acc[s], win_size(ch->c[s], W[s]), W[s],
              ch->c[s], G->nr);
    }
    return CB_OK;
  case CB_AFFINE: case CB_SORT: case CB_MUL: case CB_RESHAPE: case CB_TRANSPOSE: case CB_INPUT: case CB_KIND_COUNT: break;
  }
  return CB_EINTERNAL;
}

/* The group's rows (output pixel p) down the DAG to the input: out_r for
   each, as the dense pass computes it.  Each slot's matrix is complete
   when its turn comes (its consumers have lower slots). */
static int patch_group(pgrp *G, size_t p, const size_t *col, const double *val, double *out)
{
  const cb_net *net = G->ws->net;
  const pchain *ch = G->ch;
  pwin W[PATCH_MAX + 1];
  size_t m = 0;
  int rc, n = ch->n;
  chain_windows(net, ch, p, W);
  for (int t = 0; t <= n; t++) memset(G->Acc[t], 0, G->nr * win_size(ch->c[t], W[t]) * sizeof(double));
  if ((rc = patch_start(G, col, val, W)) != CB_OK) return rc;
  for (int t = 0; t < n; t++) {
    for (size_t r = 0; r < G->nr; r++) G->T.slack[r] += G->ug[t];
    if (t == 0 && net->node[ch->node[0]].kind == CB_CONV) continue;   /* done by crown_unit */
    if (t > 0) keep_rows(G, t, W[t], G->Acc[t]);
    patch_merge(G, t, W[t], G->Acc[t]);
    if ((rc = patch_step(G, t, W, G->Acc[t])) != CB_OK) return rc;
  }
  keep_rows(G, n, W[n], G->Acc[n]);
  patch_merge(G, n, W[n], G->Acc[n]);
  for (int64_t c = 0; c < ch->c[n]; c++)   /* the input indices of the input's window */
    for (int64_t y = W[n].h0; y < W[n].h1; y++)
      for (int64_t xx = W[n].w0; xx < W[n].w1; xx++) G->idx[m++] = (size_t)((c * ch->h[n] + y) * ch->w[n] + xx);
  set_support_win(&G->ws->set, G->Acc[n], G->nr, m, G->idx, G->T.bias, G->o);
  for (size_t r = 0; r < G->nr; r++) out[G->rows[r]] = crown_close(net, &G->T, r, G->o[r]);
  return CB_OK;
}

/* K[t]: slot t's dense matrix, zeroed, in the pool of x; and the start's
   rows kept as the dense pass keeps them. */
static void keep_init(pgrp *G, size_t q)
{
  const cb_net *net = G->ws->net;
  const pchain *ch = G->ch;
  const pextra *x = G->x;
  for (int t = 0; t <= ch->n; t++) {
    int d = ch->node[t];
    G->K[t] = NULL;
    if (!x || !x->keep || t == 0) continue;
    G->K[t] = x->keep[d] = x->pool + crown_pool_offset(net, d, q);
    memset(G->K[t], 0, q * net->node[d].size * sizeof(double));
  }
  if (!x || !x->keep) return;
  x->keep[ch->node[0]] = x->pool + crown_pool_offset(net, ch->node[0], q);
  memcpy(x->keep[ch->node[0]], x->A0, q * net->node[ch->node[0]].size * sizeof(double));
}

/* Buffer sizes of a pass: per slot its largest window (mw), the largest
   window operator (maxm). */
static void pass_sizes(const cb_net *net, const pchain *ch, size_t *mw, size_t *maxm)
{
  pwin W[PATCH_MAX + 1];
  for (int t = 0; t <= ch->n; t++) mw[t] = 1;
  *maxm = 1;
  for (size_t p = 0; p < (size_t)(ch->h[0] * ch->w[0]); p++) {
    chain_windows(net, ch, p, W);
    for (int t = 0; t <= ch->n; t++) {
      size_t m = win_size(ch->c[t], W[t]), mi;
      if (m > mw[t]) mw[t] = m;
      if (t == ch->n || net->node[ch->node[t]].kind != CB_CONV) continue;
      mi = win_size(ch->c[ch->in[t][0]], W[ch->in[t][0]]);
      if (m * mi <= PATCH_OPMAX && m * mi > *maxm) *maxm = m * mi;
    }
  }
}

/* The receptive-field pass for unit rows val[r] e_{col[r]} at the start
   ch->node[0] down to the input: out_r as the dense pass computes it.  Rows
   are grouped by output pixel (st[p] .. st[p + 1] in rows[]). */
int crown_patch_pass(cb_ws *ws, const pchain *ch, const size_t *col, const double *val, size_t q, const pextra *x,
                     double *out)
{
  const cb_net *net = ws->net;
  size_t P = (size_t)(ch->h[0] * ch->w[0]), maxr = 0, maxw = 1, maxm, mw[PATCH_MAX + 1], tot = 0;
  size_t *st = cb_calloc(2 * P + 1, sizeof *st), *rows = cb_alloc((q + 1) * sizeof *rows), *fill;
  pgrp G = {.ws = ws, .ch = ch, .x = x, .lines = x ? x->lines : NULL};
  int rc = CB_ENOMEM;
  if (!st || !rows) goto out;
  fill = st + P + 1;
  for (size_t r = 0; r < q; r++) st[col[r] % P + 1]++;   /* rows grouped by output pixel */
  for (size_t p = 0; p < P; p++) { if (st[p + 1] > maxr) maxr = st[p + 1]; st[p + 1] += st[p]; fill[p] = st[p]; }
  for (size_t r = 0; r < q; r++) rows[fill[col[r] % P]++] = r;
  pass_sizes(net, ch, mw, &maxm);
  for (int t = 0; t <= ch->n; t++) { tot += maxr * mw[t]; if (mw[t] > maxw) maxw = mw[t]; }
  if (!(G.idx = cb_alloc(mw[ch->n] * sizeof *G.idx)) || !(G.X = crown_scratch(ws, tot + maxr * maxw + maxm + 6 * maxw + 4 * maxr)))
    goto out;
  G.Acc[0] = G.X + maxr * maxw;
  for (int t = 1; t <= ch->n; t++) G.Acc[t] = G.Acc[t - 1] + maxr * mw[t - 1];
  G.M = G.Acc[ch->n] + maxr * mw[ch->n]; G.gat = G.M + maxm;
  G.T.bias = G.gat + 6 * maxw; G.T.slack = G.T.bias + maxr; G.T.babs = G.T.slack + maxr; G.o = G.T.babs + maxr;
  for (int t = 0; t < ch->n; t++) {
    G.ug[t] = crown_underflow(ws, ch->node[t]);
    if (net->node[ch->node[t]].kind == CB_MAXPOOL && crown_maxpool_lines(ws, ch->node[t], &G.P[t]) != CB_OK) goto out;
  }
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
  for (int t = 0; t < ch->n; t++) crown_pool_free(&G.P[t]);
  cb_free(st);
  cb_free(rows);
  cb_free(G.idx);
  return rc;
}

long crown_window(const cb_net *net, int start, size_t j, int i, size_t *idx)
{
  pchain ch;
  pwin W[PATCH_MAX + 1];
  long m = 0;
  int t;
  if (start <= 0 || start >= net->n || !crown_patch_chain(net, start, &ch) || (t = slot_of(&ch, i)) < 0) return -1;
  chain_windows(net, &ch, j % (size_t)(ch.h[0] * ch.w[0]), W);
  for (int64_t c = 0; c < ch.c[t]; c++)
    for (int64_t y = W[t].h0; y < W[t].h1; y++)
      for (int64_t x = W[t].w0; x < W[t].w1; x++) idx[m++] = (size_t)((c * ch.h[t] + y) * ch.w[t] + x);
  return m;
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
