/*
** Per-network cache (|W| of every weighted node, computed once) and the
** per-sample workspace: for every node its output box (lo, hi) and
** zmax = max(|lo|, |hi|), and for every nonlinear node its relaxation lines.
** The workspace owns one arena: freeing it is one call.  Sizes: sum of node
** sizes (thousands to a few hundred thousand doubles per sample).
*/
#include <math.h>
#include <string.h>
#include "bounds.h"

static size_t weight_count(const cb_node *n)
{
  if (n->kind == CB_AFFINE) return n->p.aff.out * n->p.aff.in;
  if (n->kind == CB_CONV)
    return (size_t)(n->p.conv.g.cout * (n->p.conv.g.cin / n->p.conv.g.groups) * n->p.conv.g.kh * n->p.conv.g.kw);
  return 0;
}

int bnet_init(cb_bnet *bn, const cb_net *net, cb_error *err)
{
  bn->net = net;
  bn->wf = NULL;   /* bnet_single's, when called */
  bn->wf_state = NULL;
  bn->wf_wmax = NULL;
  bn->absW = cb_calloc((size_t)net->n, sizeof *bn->absW);
  bn->wmin = cb_alloc((size_t)net->n * sizeof *bn->wmin);
  if (!bn->absW || !bn->wmin) { cb_free(bn->wmin); cb_free(bn->absW); bn->absW = NULL; bn->wmin = NULL; return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  for (int i = 0; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    size_t k = weight_count(n);
    const double *W = n->kind == CB_AFFINE ? n->p.aff.W : n->p.conv.W;
    bn->wmin[i] = HUGE_VAL;
    if (!k) continue;
    if (!(bn->absW[i] = cb_alloc(k * sizeof(double)))) { bnet_free(bn); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
    for (size_t j = 0; j < k; j++) {
      bn->absW[i][j] = fabs(W[j]);
      if (W[j] != 0 && bn->absW[i][j] < bn->wmin[i]) bn->wmin[i] = bn->absW[i][j];
    }
  }
  return CB_OK;
}

size_t bnet_wsize(const cb_node *n)
{
  const cb_conv *g = &n->p.conv.g;
  if (n->kind == CB_AFFINE) return n->size * n->p.aff.in;
  if (n->kind == CB_CONV) return (size_t)(g->cout * (g->cin / g->groups) * g->kh * g->kw);
  return 0;
}

/* W in binary32 for --precision single, once per net: per AFFINE or CONV node
   whose every nonzero |w| is in [2^-126, 2^100] (crown.c's condition), else state 2. */
int bnet_single(cb_bnet *bn, cb_error *err)
{
  const cb_net *net = bn->net;
  size_t nn = (size_t)net->n;
  if (bn->wf) return CB_OK;
  bn->wf = cb_calloc(nn, sizeof *bn->wf);
  bn->wf_state = cb_calloc(nn, 1);
  bn->wf_wmax = cb_calloc(nn, sizeof *bn->wf_wmax);
  if (!bn->wf || !bn->wf_state || !bn->wf_wmax) goto oom;
  for (int i = 0; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    size_t m;
    double mx = 0;
    int ok = 1;
    const double *w = n->kind == CB_CONV ? n->p.conv.W : n->p.aff.W;
    if (n->kind != CB_AFFINE && n->kind != CB_CONV) continue;
    m = bnet_wsize(n);
    for (size_t e = 0; e < m && ok; e++) {
      double a = fabs(w[e]);
      ok = a == 0 || (a >= 0x1p-126 && a <= 0x1p100);   /* NaN fails too */
      if (a > mx) mx = a;
    }
    bn->wf_state[i] = ok ? 1 : 2;
    bn->wf_wmax[i] = mx;
    if (!ok) continue;
    if (!(bn->wf[i] = cb_alloc((m ? m : 1) * sizeof(float)))) goto oom;
    for (size_t e = 0; e < m; e++) bn->wf[i][e] = (float)w[e];
  }
  return CB_OK;
oom:
  for (int i = 0; bn->wf && i < net->n; i++) cb_free(bn->wf[i]);
  cb_free(bn->wf); cb_free(bn->wf_state); cb_free(bn->wf_wmax);
  bn->wf = NULL; bn->wf_state = NULL; bn->wf_wmax = NULL;
  return cb_error_set(err, CB_ENOMEM, "out of memory");
}

void bnet_free(cb_bnet *bn)
{
  if (!bn || !bn->absW) return;
  for (int i = 0; bn->wf && i < bn->net->n; i++) cb_free(bn->wf[i]);
  cb_free(bn->wf); cb_free(bn->wf_state); cb_free(bn->wf_wmax);
  bn->wf = NULL; bn->wf_state = NULL; bn->wf_wmax = NULL;
  for (int i = 0; i < bn->net->n; i++) cb_free(bn->absW[i]);
  cb_free(bn->absW);
  cb_free(bn->wmin);
  bn->absW = NULL;
  bn->wmin = NULL;
}

static int is_nonlinear(cb_kind k) { return cb_kind_info[k].relaxed; }

typedef struct ws_block { cb_ws ws; cb_arena arena; } ws_block;

cb_ws *ws_new(const cb_bnet *bn, const cb_set *set, cb_error *err)
{
  const cb_net *net = bn->net;
  ws_block *b = cb_calloc(1, sizeof *b);
  cb_ws *ws;
  size_t nn = (size_t)net->n;
  if (!b) { cb_error_set(err, CB_ENOMEM, "out of memory"); return NULL; }
  ws = &b->ws;
  arena_init(&b->arena);
  ws->bn = bn;
  ws->net = net;
  ws->set = *set;
  ws->lo = arena_array(&b->arena, nn, sizeof(double *));
  ws->hi = arena_array(&b->arena, nn, sizeof(double *));
  ws->zmax = arena_array(&b->arena, nn, sizeof(double *));
  ws->rl_w = arena_array(&b->arena, nn, sizeof(double *));
  ws->rl_b = arena_array(&b->arena, nn, sizeof(double *));
  ws->ru_w = arena_array(&b->arena, nn, sizeof(double *));
  ws->ru_b = arena_array(&b->arena, nn, sizeof(double *));
  ws->sv = arena_array(&b->arena, nn, sizeof(double *));
  ws->vr = arena_array(&b->arena, nn, sizeof(cb_vrelax *));
  ws->sv_ok = arena_array(&b->arena, nn, 1);
  ws->uf = arena_array(&b->arena, nn, sizeof(double));
  ws->smx = arena_array(&b->arena, nn, sizeof(double *));
  ws->smx_on = arena_array(&b->arena, nn, 1);
  ws->mulc = arena_array(&b->arena, nn, sizeof(double *));
  for (size_t i = 0; ws->smx && i < nn; i++) ws->smx[i] = NULL;
  for (size_t i = 0; ws->mulc && i < nn; i++) ws->mulc[i] = NULL;
  if (!ws->lo || !ws->hi || !ws->zmax || !ws->rl_w || !ws->rl_b || !ws->ru_w || !ws->ru_b || !ws->sv || !ws->sv_ok || !ws->uf || !ws->vr ||
      !ws->smx || !ws->smx_on || !ws->mulc) goto oom;
  memset(ws->sv_ok, 0, nn);
  memset(ws->smx_on, 0, nn);
  for (int i = 0; i < net->n; i++) {
    size_t s = net->node[i].size;
    if (!(ws->lo[i] = arena_array(&b->arena, s, sizeof(double))) ||
        !(ws->hi[i] = arena_array(&b->arena, s, sizeof(double))) ||
        !(ws->zmax[i] = arena_array(&b->arena, s, sizeof(double)))) goto oom;
    if ((net->node[i].kind == CB_AFFINE || net->node[i].kind == CB_CONV) &&
        !(ws->sv[i] = arena_array(&b->arena, s, sizeof(double)))) goto oom;
    if (!is_nonlinear(net->node[i].kind) && net->node[i].kind != CB_MAXPOOL) continue;
    if (!(ws->rl_w[i] = arena_array(&b->arena, s, sizeof(double))) ||
        !(ws->rl_b[i] = arena_array(&b->arena, s, sizeof(double))) ||
        !(ws->ru_w[i] = arena_array(&b->arena, s, sizeof(double))) ||
        !(ws->ru_b[i] = arena_array(&b->arena, s, sizeof(double)))) goto oom;
  }
  return ws;
oom:
  ws_free(ws);
  cb_error_set(err, CB_ENOMEM, "out of memory for the bounds workspace");
  return NULL;
}

cb_vrelax *ws_vrelax_alloc(cb_ws *ws, int i, size_t nnz)
{
  cb_arena *a = &((ws_block *)ws)->arena;
  size_t n = ws->net->node[i].size;
  cb_vrelax *v = arena_array(a, 1, sizeof *v);
  if (!v) return NULL;
  v->n = n;
  v->nnz = nnz;
  v->off = arena_array(a, n + 1, sizeof *v->off);
  v->idx = arena_array(a, nnz ? nnz : 1, sizeof *v->idx);
  v->lw = arena_array(a, nnz ? nnz : 1, sizeof(double));
  v->uw = arena_array(a, nnz ? nnz : 1, sizeof(double));
  v->lb = arena_array(a, n, sizeof(double));
  v->ub = arena_array(a, n, sizeof(double));
  if (!v->off || !v->idx || !v->lw || !v->uw || !v->lb || !v->ub) return NULL;
  ws->vr[i] = v;
  return v;
}

/* Relaxation lines of nonlinear node i from the box of its input (once per
   relaxed node per bounds run; again when alpha-CROWN moves the box). */
void ws_relax_lines(cb_ws *ws, int i)
{
  const cb_node *n = &ws->net->node[i];
  const double *l = ws->lo[n->in[0]], *u = ws->hi[n->in[0]];
  for (size_t e = 0; e < n->size; e++)
    relax_node(n, l[e], u[e], &ws->rl_w[i][e], &ws->rl_b[i][e], &ws->ru_w[i][e], &ws->ru_b[i][e]);
}

/* ReLUs whose input box in ws has unknown sign (lo < 0 < hi). */
int ws_unknown_relus(const cb_ws *ws)
{
  int u = 0;
  for (int i = 0; i < ws->net->n; i++)
    if (node_is_act(&ws->net->node[i], CB_ACT_RELU)) {
      int p = ws->net->node[i].in[0];
      for (size_t j = 0; j < ws->net->node[i].size; j++) u += ws->lo[p][j] < 0 && ws->hi[p][j] > 0;
    }
  return u;
}

void ws_drop_cache(cb_ws *ws)
{
  for (int i = 0; ws->wc && i < 2 * ws->net->n; i++) {
    cb_free(ws->wc[i].w); cb_free(ws->wc[i].wf); cb_free(ws->wc[i].ri); cb_free(ws->wc[i].ci);
  }
  cb_free(ws->wc);
  ws->wc = NULL;
  for (int i = 0; ws->wcf && i < 2 * ws->net->n; i++) { cb_free(ws->wcf[i].wf); cb_free(ws->wcf[i].ri); cb_free(ws->wcf[i].ci); }
  cb_free(ws->wcf);
  ws->wcf = NULL;
  for (int i = 0; ws->wfull && i < ws->net->n; i++) cb_free(ws->wfull[i]);
  cb_free(ws->wfull);
  ws->wfull = NULL;
}

void ws_free(cb_ws *ws)
{
  ws_block *b = (ws_block *)ws;
  if (!b) return;
  ws_drop_cache(ws);
  for (int i = 0; ws->smx && i < ws->net->n; i++) cb_free(ws->smx[i]);
  for (int i = 0; ws->mulc && i < ws->net->n; i++) cb_free(ws->mulc[i]);
  cb_free(ws->scratch);
  cb_free(ws->gather);
  cb_free(ws->live);
  cb_free(ws->alive);
  cb_free(ws->alive_nz);
  cb_free(ws->subout);
  cb_free(ws->convbuf);
  cb_free(ws->passbuf);
  cb_free(ws->lpool);
  cb_free(ws->relaxv);
  cb_free(ws->plan_off);
  cb_free(ws->wf_state);
  cb_free(ws->wf_wmax);
  cb_free(ws->fA);
  cb_free(ws->fT);
  arena_free(&b->arena);
  cb_free(b);
}
