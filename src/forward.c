/*
** Forward pass: one switch over node kinds, one small function per kind.
** Dense layers go through dgemm (dgemv for a batch of one), convolutions
** through im2col + dgemm (linalg.c).  Plain double arithmetic; this is the
** reference semantics, not a bound.
*/
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "forward.h"
#include "sort.h"
#include "linalg.h"

static void fwd_scale(const cb_node *n, size_t batch, const double *x, double *y)
{
  for (size_t s = 0; s < batch; s++)
    for (size_t e = 0; e < n->size; e++)
      y[s * n->size + e] = n->p.scale.a[e] * x[s * n->size + e] + n->p.scale.b[e];
}

/* y = concat(x_0, ..., x_k) along axis: per sample, `outer` blocks of each input. */
static void fwd_concat(const cb_net *net, const cb_node *n, size_t batch, double *const *act, double *y)
{
  size_t outer = 1;
  for (int d = 0; d < n->p.concat.axis; d++) outer *= (size_t)n->shape.dim[d];
  for (size_t s = 0; s < batch; s++) {
    double *o = y + s * n->size;
    for (size_t b = 0; b < outer; b++)
      for (int k = 0; k < n->n_in; k++) {
        const cb_node *x = &net->node[n->in[k]];
        size_t chunk = x->size / outer;
        memcpy(o, act[n->in[k]] + s * x->size + b * chunk, chunk * sizeof *o);
        o += chunk;
      }
  }
}

/* y[out index] = x[in index] with out dim i = in dim perm[i]. */
static void fwd_transpose(const cb_node *n, const cb_node *xn, size_t batch, const double *x, double *y)
{
  size_t istride[CB_MAX_RANK], st = 1;
  int r = n->shape.rank;
  for (int d = r - 1; d >= 0; d--) { istride[d] = st; st *= (size_t)xn->shape.dim[d]; }
  for (size_t e = 0; e < n->size; e++) {
    size_t rem = e, src = 0;
    for (int d = r - 1; d >= 0; d--) {
      size_t idx = rem % (size_t)n->shape.dim[d];
      rem /= (size_t)n->shape.dim[d];
      src += idx * istride[n->p.transpose.perm[d]];
    }
    for (size_t s = 0; s < batch; s++) y[s * n->size + e] = x[s * n->size + src];
  }
}

static void fwd_maxpool(const cb_conv *g, size_t batch, const double *x, double *y)
{
  size_t isz = (size_t)(g->cin * g->hin * g->win), osz = (size_t)(g->cin * g->hout * g->wout);
  for (size_t s = 0; s < batch; s++)
    for (int64_t c = 0; c < g->cin; c++)
      for (int64_t oi = 0; oi < g->hout; oi++)
        for (int64_t oj = 0; oj < g->wout; oj++) {
          double m = -HUGE_VAL;
          for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++) {
              int64_t ii = oi * g->sh - g->pt + ki * g->dh, jj = oj * g->sw - g->pl + kj * g->dw;
              if (ii >= 0 && ii < g->hin && jj >= 0 && jj < g->win) {
                double v = x[s * isz + (size_t)((c * g->hin + ii) * g->win + jj)];
                if (v > m) m = v;
              }
            }
          y[s * osz + (size_t)((c * g->hout + oi) * g->wout + oj)] = m;
        }
}

/* y = f(x) elementwise from the activation table.  ReLU, the hot one, keeps
   a loop of its own: `omp simd` (CFLAGS has -fopenmp) lets -O2 vectorise it
   into compare-and-mask, with the same IEEE results as the table's f. */
static void fwd_act(const cb_node *n, size_t len, const double *x, double *y)
{
  const cb_act_info *a = node_act(n);
  if (n->p.act.type == CB_ACT_RELU) {
#pragma omp simd
    for (size_t e = 0; e < len; e++) y[e] = x[e] > 0 ? x[e] : 0;
    return;
  }
  for (size_t e = 0; e < len; e++) y[e] = a->f(n, x[e]);
}

static int node_run(const cb_net *net, int i, size_t batch, double *const *act, double *scratch, int flags,
                    cb_error *err);

int fwd_node(const cb_net *net, int i, size_t batch, double *const *act, cb_error *err)
{
  return node_run(net, i, batch, act, NULL, 0, err);
}

/* An AFFINE's workspace flag: its input is a CONV's batch-innermost output
   (CB_CONV_OUT_BI, through a RESHAPE or not): la_affine_cols. */
#define FWD_AFF_IN_BI 8

/* fwd_node; scratch: NULL, or la_conv_forward_need doubles for a CONV node,
   which then runs with the workspace's CB_CONV_* flags (linalg.h); an
   AFFINE with FWD_AFF_IN_BI (only with scratch: a workspace's plan). */
static int node_run(const cb_net *net, int i, size_t batch, double *const *act, double *scratch, int flags,
                    cb_error *err)
{
  const cb_node *n = &net->node[i];
  const double *x = n->n_in ? act[n->in[0]] : NULL;
  double *y = act[i];
  size_t len = batch * n->size;
  switch (n->kind) {
  case CB_INPUT: return CB_OK;
  case CB_AFFINE:
    if (flags & FWD_AFF_IN_BI) la_affine_cols(n->p.aff.W, n->p.aff.b, n->p.aff.out, n->p.aff.in, x, batch, y);
    else la_affine_rows(n->p.aff.W, n->p.aff.b, n->p.aff.out, n->p.aff.in, x, batch, y);
    return CB_OK;
  case CB_SCALE: fwd_scale(n, batch, x, y); return CB_OK;
  case CB_CONV:
    if (scratch) { la_conv_forward_buf(&n->p.conv.g, n->p.conv.W, n->p.conv.b, x, batch, y, scratch, flags); return CB_OK; }
    if (la_conv_forward(&n->p.conv.g, n->p.conv.W, n->p.conv.b, x, batch, y) != CB_OK)
      return cb_error_set(err, CB_ENOMEM, "%s: node \"%s\": out of memory in conv", net->path, n->name);
    return CB_OK;
  case CB_ADD:
#pragma omp simd
    for (size_t e = 0; e < len; e++) y[e] = x[e] + act[n->in[1]][e];
    return CB_OK;
  case CB_MUL: {
    const double *x1 = act[n->in[1]];
    size_t s0 = net->node[n->in[0]].size, s1 = net->node[n->in[1]].size;
    if (!n->p.mul.i0 && !n->p.mul.i1) {
#pragma omp simd
      for (size_t e = 0; e < len; e++) y[e] = x[e] * x1[e];
      return CB_OK;
    }
    for (size_t b = 0; b < batch; b++)
      for (size_t e = 0; e < n->size; e++)
        y[b * n->size + e] = x[b * s0 + mul_at(n->p.mul.i0, e)] * x1[b * s1 + mul_at(n->p.mul.i1, e)];
    return CB_OK;
  }
  case CB_CONCAT: fwd_concat(net, n, batch, act, y); return CB_OK;
  case CB_RESHAPE: memcpy(y, x, len * sizeof *y); return CB_OK;
  case CB_TRANSPOSE: fwd_transpose(n, &net->node[n->in[0]], batch, x, y); return CB_OK;
  case CB_ACT: fwd_act(n, len, x, y); return CB_OK;
  case CB_MAXPOOL: fwd_maxpool(&n->p.pool.g, batch, x, y); return CB_OK;
  case CB_SORT:
    if (sort_forward(n, batch, x, y) != CB_OK)
      return cb_error_set(err, CB_ENOMEM, "%s: node \"%s\": out of memory in sort", net->path, n->name);
    return CB_OK;
  case CB_KIND_COUNT: break;
  }
  return cb_error_set(err, CB_EINTERNAL, "%s: node \"%s\": invalid kind", net->path, n->name);
}

int fwd_all(const cb_net *net, size_t batch, double *const *act, cb_error *err)
{
  for (int i = 1; i < net->n; i++) {
    int rc = fwd_node(net, i, batch, act, err);
    if (rc != CB_OK) return rc;
  }
  return CB_OK;
}

double **fwd_alloc(const cb_net *net, size_t batch)
{
  size_t total = 0;
  double **act = cb_calloc((size_t)net->n, sizeof *act);
  if (!act) return NULL;
  for (int i = 0; i < net->n; i++) total += net->node[i].size * batch;
  act[0] = cb_alloc(total * sizeof(double));
  if (!act[0]) { cb_free(act); return NULL; }
  for (int i = 1; i < net->n; i++) act[i] = act[i - 1] + net->node[i - 1].size * batch;
  return act;
}

void fwd_free(double **act)
{
  if (!act) return;
  cb_free(act[0]);
  cb_free(act);
}

/*
** The forward workspace (fwd_ws): cb_net_forward's buffer plan, its buffers
** and the convolutions' im2col scratch, built once for a batch size and
** reused by every call (the perturbation attributions run thousands of
** batched forwards per map: fresh buffers per call cost page faults that
** made a batch of 128 slower per sample than a batch of one).
**
** The plan (fwd_all and fwd_alloc keep one buffer per node for callers that
** want every value): node values share as few per-sample slots as possible.
** A slot is reused once every reader of its value has run, and no node
** writes into a slot it reads.  INPUT reads the caller's x, a RESHAPE aliases
** its input's buffer (no copy), a ReLU that is a CONV's only reader is
** applied by the CONV as it writes its output (the same max(y, 0), on data
** still in cache) and aliases it, a CONV (or its fused ReLU) whose only
** reader is a CONV hands it the batch-innermost layout (linalg.h
** CB_CONV_OUT_BI / IN_BI: no transposition between the two), or to an
** AFFINE that reads it (through a RESHAPE: la_affine_cols, the dgemm reads
** it transposed), and the output is copied to the caller's y.
** A chain then needs two slots instead of one buffer per node.  The
** arithmetic is unchanged.
**
** Expected use: one workspace per thread and network, O(n * slots) to
** build; a call costs the node arithmetic only.
*/
struct fwd_ws {
  const cb_net *net;
  size_t max_batch; /* batch the buffers hold; larger calls run in chunks */
  double **act;     /* [n] node buffers for node_run */
  size_t *cap;      /* [n] per slot: per-sample length, then per-sample offset */
  int *owner;       /* [n] node whose buffer holds node i's value (i, or the aliased node) */
  int *last;        /* [n] per owner: index of its last reader */
  int *slot;        /* [n] per owner: its slot */
  int *busy;        /* [n] per slot: last reader of its current value */
  int *cflags;      /* [n] CONV nodes' CB_CONV_* flags: a fused reader ReLU (which aliases it), layouts */
  int *nread;       /* [n] readers per node (plan building) */
  double *buf;      /* the slots: total * max_batch */
  double *scratch;  /* im2col scratch of the largest CONV at max_batch (NULL: none) */
};

/* A free slot for node i: the smallest that holds size, else the largest; -1 if none. */
static int plan_pick(const fwd_ws *p, int nslot, int i, size_t size)
{
  int best = -1;
  for (int s = 0; s < nslot; s++) {
    if (p->busy[s] >= i) continue;                         /* still read by i or later */
    if (best < 0) { best = s; continue; }
    int fits = p->cap[s] >= size, bfits = p->cap[best] >= size;
    if (fits ? !bfits || p->cap[s] < p->cap[best] : !bfits && p->cap[s] > p->cap[best]) best = s;
  }
  return best;
}

/* Fills the plan; returns the per-sample length of all slots together. */
/* The only reader of node v, or -1. */
static int only_reader(const cb_net *net, const fwd_ws *p, int v)
{
  if (p->nread[v] != 1) return -1;
  for (int j = v + 1; j < net->n; j++)
    for (int k = 0; k < net->node[j].n_in; k++) if (net->node[j].in[k] == v) return j;
  return -1;
}

/* CONV flags: ReLU fusion, then the batch-innermost hand-over between CONVs. */
static void plan_conv_flags(const cb_net *net, fwd_ws *p)
{
  int n = net->n;
  for (int i = 0; i < n; i++) { p->nread[i] = 0; p->cflags[i] = 0; }
  for (int i = 0; i < n; i++)
    for (int k = 0; k < net->node[i].n_in; k++) p->nread[net->node[i].in[k]]++;
  for (int c = 0; c < n; c++) {
    int r, v = c;
    if (net->node[c].kind != CB_CONV || c == net->output) continue;
    r = only_reader(net, p, c);
    if (r >= 0 && r != net->output && node_is_act(&net->node[r], CB_ACT_RELU)) { p->cflags[c] |= CB_CONV_RELU; v = r; }
    r = only_reader(net, p, v);
    if (v != net->output && r >= 0 && net->node[r].kind == CB_CONV && net->node[r].n_in == 1) {
      p->cflags[c] |= CB_CONV_OUT_BI;
      p->cflags[r] |= CB_CONV_IN_BI;
      continue;
    }
    /* CONV -> [ReLU] -> [RESHAPE] -> AFFINE: a RESHAPE keeps the element
       order, so the AFFINE reads the batch-innermost output as X[in][batch]. */
    if (v != net->output && r >= 0 && r != net->output && net->node[r].kind == CB_RESHAPE) r = only_reader(net, p, r);
    if (v != net->output && r >= 0 && net->node[r].kind == CB_AFFINE) {
      p->cflags[c] |= CB_CONV_OUT_BI;
      p->cflags[r] |= FWD_AFF_IN_BI;
    }
  }
}

/* Fills the plan; returns the per-sample length of all slots together. */
static size_t plan_build(const cb_net *net, fwd_ws *p)
{
  int nslot = 0, n = net->n;
  size_t total = 0;
  plan_conv_flags(net, p);
  for (int i = 0; i < n; i++) {
    const cb_node *nd = &net->node[i];
    int fused_relu = nd->n_in == 1 && (p->cflags[nd->in[0]] & CB_CONV_RELU) && net->node[nd->in[0]].kind == CB_CONV;
    p->owner[i] = (nd->kind == CB_RESHAPE && i != net->output) || fused_relu ? p->owner[nd->in[0]] : i;
    p->last[i] = i;   /* readers of an alias update its owner */
    for (int k = 0; k < nd->n_in && p->owner[i] == i; k++)
      if (p->last[p->owner[nd->in[k]]] < i) p->last[p->owner[nd->in[k]]] = i;
  }
  for (int i = 0; i < n; i++) {
    size_t size = net->node[i].size;
    p->slot[i] = -1;
    if (i == 0 || p->owner[i] != i) continue;
    int s = plan_pick(p, nslot, i, size);
    if (s < 0) { s = nslot++; p->cap[s] = 0; }
    if (p->cap[s] < size) p->cap[s] = size;
    p->busy[s] = i == net->output ? n : p->last[i];
    p->slot[i] = s;
  }
  for (int s = 0; s < nslot; s++) { size_t c = p->cap[s]; p->cap[s] = total; total += c; }
  return total;
}

void fwd_ws_free(fwd_ws *w)
{
  if (!w) return;
  cb_free(w->buf);
  cb_free(w->scratch);
  cb_free(w->act);
  cb_free(w);
}

fwd_ws *fwd_ws_new(const cb_net *net, size_t max_batch)
{
  int n = net->n;
  size_t total, need = 0;
  fwd_ws *w = cb_calloc(1, sizeof *w);
  if (!w || max_batch == 0) { cb_free(w); return NULL; }
  w->net = net;
  w->max_batch = max_batch;
  if (!(w->act = cb_alloc((size_t)n * (sizeof(double *) + sizeof(size_t) + 6 * sizeof(int))))) goto oom;
  w->cap = (size_t *)(w->act + n);
  w->owner = (int *)(w->cap + n);
  w->last = w->owner + n; w->slot = w->last + n; w->busy = w->slot + n; w->cflags = w->busy + n; w->nread = w->cflags + n;
  total = plan_build(net, w);
  if (total > SIZE_MAX / sizeof(double) / max_batch) goto oom;
  if (!(w->buf = cb_alloc(total * max_batch * sizeof *w->buf))) goto oom;
  for (int i = 0; i < n; i++)   /* la_conv_forward_need grows with the batch: enough for any chunk */
    if (net->node[i].kind == CB_CONV && la_conv_forward_need(&net->node[i].p.conv.g, max_batch, w->cflags[i]) > need)
      need = la_conv_forward_need(&net->node[i].p.conv.g, max_batch, w->cflags[i]);
  if (need && !(w->scratch = cb_alloc(need * sizeof *w->scratch))) goto oom;
  return w;
oom:
  fwd_ws_free(w);
  return NULL;
}

/* One chunk of at most max_batch samples. */
static int ws_chunk(fwd_ws *w, const double *x, size_t batch, double *y, cb_error *err)
{
  const cb_net *net = w->net;
  int rc = CB_OK;
  for (int i = 0; i < net->n; i++) {
    int o = w->owner[i];
    w->act[i] = o == 0 ? (double *)(uintptr_t)x : w->buf + w->cap[w->slot[o]] * batch;   /* INPUT is read only */
  }
  for (int i = 1; i < net->n && rc == CB_OK; i++)
    if (w->owner[i] == i) rc = node_run(net, i, batch, w->act, w->scratch, w->cflags[i], err);
  if (rc == CB_OK) memcpy(y, w->act[net->output], batch * net->node[net->output].size * sizeof *y);
  return rc;
}

int fwd_ws_run(fwd_ws *w, const double *x, size_t batch, double *y, cb_error *err)
{
  const cb_net *net = w->net;
  size_t nin = net->node[0].size, nout = net->node[net->output].size;
  if (net->output == 0) {  /* the output is the input */
    memmove(y, x, batch * nin * sizeof *y);
    return CB_OK;
  }
  for (size_t s0 = 0; s0 < batch; s0 += w->max_batch) {
    size_t nb = batch - s0 < w->max_batch ? batch - s0 : w->max_batch;
    int rc = ws_chunk(w, x + s0 * nin, nb, y + s0 * nout, err);
    if (rc != CB_OK) return rc;
  }
  return CB_OK;
}

cb_status cb_net_forward(const cb_net *net, const double *x, size_t batch, double *y, cb_error *err)
{
  fwd_ws *w;
  int rc;
  if (!net || (!x && batch) || (!y && batch)) return (cb_status)cb_error_set(err, CB_EUSAGE, "cb_net_forward: NULL argument");
  if (batch == 0) return CB_OK;
  if (net->output == 0) {  /* the output is the input */
    memmove(y, x, batch * net->node[0].size * sizeof *y);
    return CB_OK;
  }
  if (!(w = fwd_ws_new(net, batch)))
    return (cb_status)cb_error_set(err, CB_ENOMEM, "%s: out of memory for a batch of %zu", net->path, batch);
  rc = fwd_ws_run(w, x, batch, y, err);
  fwd_ws_free(w);
  return (cb_status)rc;
}
