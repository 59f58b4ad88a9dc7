/*
** Backward of the index-map nodes and pooling windows, shared by CROWN,
** gradients and interval Jacobians (see backward.h).
*/
#include "backward.h"

int pool_window(const cb_conv *g, int64_t c, int64_t oi, int64_t oj, size_t *idx)
{
  int m = 0;
  for (int64_t ki = 0; ki < g->kh; ki++)
    for (int64_t kj = 0; kj < g->kw; kj++) {
      int64_t ii = oi * g->sh - g->pt + ki * g->dh, jj = oj * g->sw - g->pl + kj * g->dw;
      if (ii >= 0 && ii < g->hin && jj >= 0 && jj < g->win) idx[m++] = (size_t)((c * g->hin + ii) * g->win + jj);
    }
  return m;
}

/* TRANSPOSE: output element e reads input element src(e). */
static void bwd_transpose(const cb_net *net, const cb_node *n, size_t q, const double *A, double *Ain)
{
  const cb_node *x = &net->node[n->in[0]];
  size_t st[CB_MAX_RANK], s = 1;
  for (int d = x->shape.rank - 1; d >= 0; d--) { st[d] = s; s *= (size_t)x->shape.dim[d]; }
  for (size_t e = 0; e < n->size; e++) {
    size_t rem = e, src = 0;
    for (int d = n->shape.rank - 1; d >= 0; d--) {
      src += (rem % (size_t)n->shape.dim[d]) * st[n->p.transpose.perm[d]];
      rem /= (size_t)n->shape.dim[d];
    }
    for (size_t r = 0; r < q; r++) Ain[r * n->size + src] += A[r * n->size + e];
  }
}

void bwd_index(const cb_net *net, int i, int k, size_t q, const double *A, double *Ain)
{
  const cb_node *n = &net->node[i];
  size_t outer = 1, off = 0, isz = net->node[n->in[k]].size, chunk;
  switch (n->kind) {
  case CB_RESHAPE: case CB_ADD:
    for (size_t e = 0; e < q * n->size; e++) Ain[e] += A[e];
    return;
  case CB_TRANSPOSE:
    bwd_transpose(net, n, q, A, Ain);
    return;
  case CB_CONCAT:
    for (int d = 0; d < n->p.concat.axis; d++) outer *= (size_t)n->shape.dim[d];
    for (int j = 0; j < k; j++) off += net->node[n->in[j]].size / outer;
    chunk = isz / outer;
    for (size_t r = 0; r < q; r++)
      for (size_t b = 0; b < outer; b++)
        for (size_t t = 0; t < chunk; t++)
          Ain[r * isz + b * chunk + t] += A[r * n->size + b * (n->size / outer) + off + t];
    return;
  default:
    cb_assert(0 && "bwd_index on a node that is not an index map");
  }
}
