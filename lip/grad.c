/*
** Reverse-mode gradient (see grad.h): a forward pass keeps every node's
** value, then one backward sweep in reverse topological order carries
** per node the q x size matrix of adjoints.  One small function per kind;
** dense and conv steps go through dgemm (linalg.c).
*/
#include <math.h>
#include <string.h>
#include "backward.h"
#include "forward.h"
#include "grad.h"
#include "linalg.h"
#include "sort.h"

struct cb_grad {
  const cb_net *net;
  size_t qmax;
  double **act;      /* forward values, batch 1 */
  double **adj;      /* per node, qmax x size adjoints (one block) */
  double *block;
  size_t *idx;       /* pooling window scratch */
};

cb_grad *grad_new(const cb_net *net, size_t qmax, cb_error *err)
{
  cb_grad *g = cb_calloc(1, sizeof *g);
  size_t total = 0, win = 1;
  if (!g) goto oom;
  g->net = net;
  g->qmax = qmax ? qmax : 1;
  for (int i = 0; i < net->n; i++) {
    total += net->node[i].size;
    if (net->node[i].kind == CB_MAXPOOL) {
      size_t w = (size_t)(net->node[i].p.pool.g.kh * net->node[i].p.pool.g.kw);
      if (w > win) win = w;
    }
  }
  if (!cb_mul_size(total, g->qmax, &total)) {
    cb_error_set(err, CB_EINTERNAL, "gradient buffers for %zu rows are too large", qmax);
    grad_free(g);
    return NULL;
  }
  g->act = fwd_alloc(net, 1);
  g->adj = cb_calloc((size_t)net->n, sizeof *g->adj);
  g->block = cb_alloc(total * sizeof *g->block);
  g->idx = cb_alloc(win * sizeof *g->idx);
  if (!g->act || !g->adj || !g->block || !g->idx) goto oom;
  for (int i = 0, off = 0; i < net->n; i++) { g->adj[i] = g->block + off; off += (int)(net->node[i].size * g->qmax); }
  return g;
oom:
  grad_free(g);
  cb_error_set(err, CB_ENOMEM, "out of memory for the gradient buffers");
  return NULL;
}

void grad_free(cb_grad *g)
{
  if (!g) return;
  fwd_free(g->act);
  cb_free(g->adj);
  cb_free(g->block);
  cb_free(g->idx);
  cb_free(g);
}

const double *grad_value(const cb_grad *g, int i) { return g->act[i]; }
const double *grad_adjoint(const cb_grad *g, int i) { return g->adj[i]; }

/* MaxPool: each output's adjoint goes to the first maximal element of its window. */
static void back_maxpool(cb_grad *g, const cb_node *n, size_t q, const double *A, double *Ain)
{
  const cb_conv *w = &n->p.pool.g;
  const double *x = g->act[n->in[0]];
  size_t isz = g->net->node[n->in[0]].size, o = 0;
  for (int64_t c = 0; c < w->cin; c++)
    for (int64_t oi = 0; oi < w->hout; oi++)
      for (int64_t oj = 0; oj < w->wout; oj++, o++) {
        int m = pool_window(w, c, oi, oj, g->idx), best = 0;
        for (int k = 1; k < m; k++) if (x[g->idx[k]] > x[g->idx[best]]) best = k;
        if (m == 0) continue;
        for (size_t r = 0; r < q; r++) Ain[r * isz + g->idx[best]] += A[r * n->size + o];
      }
}

/* SORT: the adjoint of rank r's position goes to the member at rank r (the
   forward pass's stable order: the derivative of the computed function). */
static int back_sort(cb_grad *g, const cb_node *n, size_t q, const double *A, double *Ain)
{
  size_t gs = (size_t)n->p.sort.g, *idx = cb_alloc(2 * gs * sizeof *idx), *ord = idx + gs;
  const double *x = g->act[n->in[0]];
  if (!idx) return CB_ENOMEM;
  for (size_t k = 0; k < sort_groups(n); k++) {
    sort_members(n, k, idx);
    sort_order(n, x, idx, ord);
    for (size_t r = 0; r < q; r++)
      for (size_t t = 0; t < gs; t++) Ain[r * n->size + idx[ord[t]]] += A[r * n->size + idx[t]];
  }
  cb_free(idx);
  return CB_OK;
}

static int back_node(cb_grad *g, int i, size_t q)
{
  const cb_node *n = &g->net->node[i];
  const double *A = g->adj[i];
  double *Ain = g->adj[n->in[0]];
  switch (n->kind) {
  case CB_AFFINE:
    la_gemm(0, 0, q, n->p.aff.in, n->p.aff.out, 1.0, A, n->p.aff.out, n->p.aff.W, n->p.aff.in, 1.0, Ain, n->p.aff.in);
    return CB_OK;
  case CB_CONV:
    return la_conv_backward(&n->p.conv.g, n->p.conv.W, A, q, Ain);
  case CB_SCALE:
    for (size_t r = 0; r < q; r++)
      for (size_t e = 0; e < n->size; e++) Ain[r * n->size + e] += A[r * n->size + e] * n->p.scale.a[e];
    return CB_OK;
  case CB_ACT: {   /* the activation table's f'(x), given y = f(x) */
    const double *x = g->act[n->in[0]], *y = g->act[i];
    const cb_act_info *a = node_act(n);
    for (size_t e = 0; e < n->size; e++) {
      double d = a->df(n, x[e], y[e]);
      if (d != 0)
        for (size_t r = 0; r < q; r++) Ain[r * n->size + e] += A[r * n->size + e] * d;
    }
    return CB_OK;
  }
  case CB_MAXPOOL:
    back_maxpool(g, n, q, A, Ain);
    return CB_OK;
  case CB_SORT: return back_sort(g, n, q, A, Ain);
  case CB_MUL: {   /* d(x y) = y dx + x dy (x .* x: both terms reach x) */
    const double *x = g->act[n->in[0]], *y = g->act[n->in[1]];
    double *Ay = g->adj[n->in[1]];
    size_t s0 = g->net->node[n->in[0]].size, s1 = g->net->node[n->in[1]].size;
    for (size_t r = 0; r < q; r++)
      for (size_t e = 0; e < n->size; e++) {
        double a = A[r * n->size + e];
        size_t j0 = mul_at(n->p.mul.i0, e), j1 = mul_at(n->p.mul.i1, e);
        Ain[r * s0 + j0] += a * y[j1];
        Ay[r * s1 + j1] += a * x[j0];
      }
    return CB_OK;
  }
  case CB_ADD: case CB_CONCAT: case CB_RESHAPE: case CB_TRANSPOSE:
    for (int k = 0; k < n->n_in; k++) bwd_index(g->net, i, k, q, A, g->adj[n->in[k]]);
    return CB_OK;
  case CB_INPUT: case CB_KIND_COUNT: break;
  }
  return CB_EINTERNAL;
}

int grad_forward(cb_grad *g, const double *x, double *out, cb_error *err)
{
  const cb_net *net = g->net;
  int rc;
  memcpy(g->act[0], x, net->node[0].size * sizeof *x);
  if ((rc = fwd_all(net, 1, g->act, err)) != CB_OK) return rc;
  if (out) memcpy(out, g->act[net->output], net->node[net->output].size * sizeof *out);
  return CB_OK;
}

int grad_backward(cb_grad *g, const double *C, size_t q, double *G, cb_error *err)
{
  const cb_net *net = g->net;
  size_t nin = net->node[0].size, nout = net->node[net->output].size;
  int rc;
  if (q > g->qmax) return cb_error_set(err, CB_EINTERNAL, "gradient of %zu rows, buffers hold %zu", q, g->qmax);
  for (int i = 0; i < net->n; i++) memset(g->adj[i], 0, q * net->node[i].size * sizeof(double));
  memcpy(g->adj[net->output], C, q * nout * sizeof *C);
  for (int i = net->output; i > 0; i--)
    if ((rc = back_node(g, i, q)) != CB_OK)
      return cb_error_set(err, rc, "gradient: backward step at node %d (%s) failed", i, net->node[i].name);
  memcpy(G, g->adj[0], q * nin * sizeof *G);
  for (size_t e = 0; e < q * nin; e++)
    if (!isfinite(G[e])) return cb_error_set(err, CB_EINTERNAL, "gradient: non-finite entry");
  return CB_OK;
}

int grad_eval(cb_grad *g, const double *x, const double *C, size_t q, double *G, double *out,
              cb_error *err)
{
  int rc = grad_forward(g, x, out, err);
  return rc != CB_OK ? rc : grad_backward(g, C, q, G, err);
}
