/*
** Forward pass: one switch over node kinds, one small function per kind.
** Dense layers go through dgemm (dgemv for a batch of one), convolutions
** through im2col + dgemm (linalg.c).  Plain double arithmetic; this is the
** reference semantics, not a bound.
*/
#include <math.h>
#include <string.h>
#include "forward.h"
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

/* Numerically stable logistic function. */
static double sigmoid(double v)
{
  if (v >= 0) return 1.0 / (1.0 + exp(-v));
  double e = exp(v);
  return e / (1.0 + e);
}

static void fwd_elementwise(const cb_node *n, size_t len, const double *x, double *y)
{
  for (size_t e = 0; e < len; e++) {
    double v = x[e];
    switch (n->kind) {
    case CB_RELU: y[e] = v > 0 ? v : 0; break;
    case CB_LEAKY_RELU: y[e] = v >= 0 ? v : n->p.leaky.alpha * v; break;
    case CB_SIGMOID: y[e] = sigmoid(v); break;
    case CB_TANH: y[e] = tanh(v); break;
    case CB_CLIP: y[e] = v < n->p.clip.lo ? n->p.clip.lo : v > n->p.clip.hi ? n->p.clip.hi : v; break;
    case CB_INPUT: case CB_AFFINE: case CB_SCALE: case CB_CONV: case CB_ADD: case CB_CONCAT:
    case CB_RESHAPE: case CB_TRANSPOSE: case CB_MAXPOOL: case CB_KIND_COUNT:
      cb_assert(0 && "not elementwise");
    }
  }
}

int fwd_node(const cb_net *net, int i, size_t batch, double *const *act, cb_error *err)
{
  const cb_node *n = &net->node[i];
  const double *x = n->n_in ? act[n->in[0]] : NULL;
  double *y = act[i];
  size_t len = batch * n->size;
  switch (n->kind) {
  case CB_INPUT: return CB_OK;
  case CB_AFFINE: la_affine_rows(n->p.aff.W, n->p.aff.b, n->p.aff.out, n->p.aff.in, x, batch, y); return CB_OK;
  case CB_SCALE: fwd_scale(n, batch, x, y); return CB_OK;
  case CB_CONV:
    if (la_conv_forward(&n->p.conv.g, n->p.conv.W, n->p.conv.b, x, batch, y) != CB_OK)
      return cb_error_set(err, CB_ENOMEM, "%s: node \"%s\": out of memory in conv", net->path, n->name);
    return CB_OK;
  case CB_ADD:
    for (size_t e = 0; e < len; e++) y[e] = x[e] + act[n->in[1]][e];
    return CB_OK;
  case CB_CONCAT: fwd_concat(net, n, batch, act, y); return CB_OK;
  case CB_RESHAPE: memcpy(y, x, len * sizeof *y); return CB_OK;
  case CB_TRANSPOSE: fwd_transpose(n, &net->node[n->in[0]], batch, x, y); return CB_OK;
  case CB_RELU: case CB_LEAKY_RELU: case CB_SIGMOID: case CB_TANH: case CB_CLIP:
    fwd_elementwise(n, len, x, y);
    return CB_OK;
  case CB_MAXPOOL: fwd_maxpool(&n->p.pool.g, batch, x, y); return CB_OK;
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

cb_status cb_net_forward(const cb_net *net, const double *x, size_t batch, double *y, cb_error *err)
{
  double **act;
  int rc;
  if (!net || (!x && batch) || (!y && batch)) return (cb_status)cb_error_set(err, CB_EUSAGE, "cb_net_forward: NULL argument");
  if (batch == 0) return CB_OK;
  if (!(act = fwd_alloc(net, batch))) return (cb_status)cb_error_set(err, CB_ENOMEM, "%s: out of memory for a batch of %zu", net->path, batch);
  memcpy(act[0], x, batch * net->node[0].size * sizeof *x);
  rc = fwd_all(net, batch, act, err);
  if (rc == CB_OK) memcpy(y, act[net->output], batch * net->node[net->output].size * sizeof *y);
  fwd_free(act);
  return (cb_status)rc;
}
