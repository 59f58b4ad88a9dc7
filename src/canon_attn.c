/*
** Attention's building blocks as canonical nodes (the loader calls these;
** tests build nets with them too).  Each is exact: no parameter rounds.
**
** MatMul of two computed tensors, per leading index l (L of them):
**   Y[l,i,j] = sum_t A[l,i,t] B[l,t,j]
** becomes
**   P = MUL with index maps,  P[l,i,j,t] = A[l,i,t] B[l,t,j]   (shape [1,1,L m n,k])
**   S = CONV 1 x k, stride k, weights 1:  S[l,i,j] = sum_t P[l,i,j,t]
**   RESHAPE to the output's shape,
** (an operand with one [m,k] or [k,n] block is read for every l), so CROWN
** relaxes each product by McCormick's planes (relax_mul.c), as
** auto_LiRPA's BoundMatMul does through BoundMul, and the sum stays implicit.
**
** Softmax over an axis of n entries, per row:
**   softmax_i = 1 / sum_j exp(x_j - x_i),  log softmax_i = -log sum_j exp(x_j - x_i)
** becomes TRANSPOSE (the axis first), RESHAPE [1, n, B, 1], a 1x1 CONV to the
** n (n - 1) differences x_j - x_i, j != i, EXP, a 1x1 CONV summing over j
** with bias 1 (the term j = i), POW -1 (or LOG and SCALE -1), and the
** inverse RESHAPE and TRANSPOSE.  An axis of one entry (a constant output) is refused.  No product of two bounded tensors appears: each output is a
** decreasing convex function of a sum of exponentials of differences, which
** is what makes this form tighter than exp(x_i) / sum_j exp(x_j) with a
** bilinear relaxation of the division (Wei et al. 2023, "Convex bounds on
** the softmax function").
*/
#include <string.h>
#include "net.h"

static int reshape_to(cb_net *net, const char *name, const char *op, int x, int rank, const int64_t *dims, cb_error *err)
{
  cb_shape s;
  shape_set(&s, rank, dims);
  return net_add(net, CB_RESHAPE, name, op, &x, 1, &s, err);
}

/* A CONV on x shaped [1, cin, h, w] with a kernel kh x kw, strides sh x sw, no pads, bias 0. */
static int conv_on(cb_net *net, const char *name, const char *op, int x, int64_t cin, int64_t h, int64_t w, int64_t cout,
                   int64_t kh, int64_t kw, int64_t sh, int64_t sw, cb_error *err)
{
  cb_conv g = {.cin = cin, .hin = h, .win = w, .cout = cout, .kh = kh, .kw = kw, .sh = sh, .sw = sw,
               .dh = 1, .dw = 1, .groups = 1};
  int64_t d[4];
  cb_shape s;
  int i;
  g.hout = (h - kh) / sh + 1;
  g.wout = (w - kw) / sw + 1;
  d[0] = 1; d[1] = cout; d[2] = g.hout; d[3] = g.wout;
  shape_set(&s, 4, d);
  if ((i = net_add(net, CB_CONV, name, op, &x, 1, &s, err)) < 0) return i;
  net->node[i].p.conv.g = g;
  net->node[i].p.conv.W = net_doubles(net, (size_t)(cout * cin * kh * kw));
  net->node[i].p.conv.b = net_doubles(net, (size_t)cout);
  if (!net->node[i].p.conv.W || !net->node[i].p.conv.b) return cb_error_set(err, CB_ENOMEM, "out of memory");
  net->node[i].exact = 1;
  return i;
}

int net_add_matmul(cb_net *net, const char *name, const char *op, int a, int b, int64_t L, int64_t m, int64_t k,
                   int64_t n, int b_trans, const cb_shape *out, cb_error *err)
{
  int64_t d[4] = {1, 1, L * m * n, k};
  size_t sz = (size_t)(L * m * n * k), *i0, *i1, e = 0;
  cb_shape s;
  int p, c;
  size_t sa = net->node[a].size, sb = net->node[b].size;
  int la = sa == (size_t)(L * m * k), lb = sb == (size_t)(L * k * n);   /* 0: one copy, broadcast over l */
  if ((!la && sa != (size_t)(m * k)) || (!lb && sb != (size_t)(k * n)))
    return cb_error_set(err, CB_ESHAPE, "%s: node \"%s\" (op %s): operand sizes do not match [%lld,%lld,%lld] x [%lld,%lld,%lld]",
                        net->path, name, op, (long long)L, (long long)m, (long long)k, (long long)L, (long long)k, (long long)n);
  shape_set(&s, 4, d);
  i0 = arena_array(&net->arena, sz, sizeof *i0);
  i1 = arena_array(&net->arena, sz, sizeof *i1);
  if (!i0 || !i1) return cb_error_set(err, CB_ENOMEM, "out of memory");
  for (int64_t l = 0; l < L; l++)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++)
        for (int64_t t = 0; t < k; t++, e++) {
          i0[e] = (size_t)(la * l * m * k + i * k + t);
          i1[e] = (size_t)(b_trans ? lb * l * n * k + j * k + t : lb * l * k * n + t * n + j);
        }
  {
    int in2[2] = {a, b};
    if ((p = net_add(net, CB_MUL, name, op, in2, 2, &s, err)) < 0) return p;
  }
  net->node[p].p.mul.i0 = i0;
  net->node[p].p.mul.i1 = i1;
  if ((c = conv_on(net, name, op, p, 1, L * m * n, k, 1, 1, k, 1, k, err)) < 0) return c;
  for (int64_t t = 0; t < k; t++) net->node[c].p.conv.W[t] = 1;
  return net_add(net, CB_RESHAPE, name, op, &c, 1, out, err);
}

int net_add_softmax(cb_net *net, const char *name, const char *op, int x, int axis, int log_form, cb_error *err)
{
  const cb_shape xs = net->node[x].shape;
  cb_shape ts;
  int64_t n, B, d4[4];
  int perm[CB_MAX_RANK], inv[CB_MAX_RANK], t, c1, c2, y;
  if (axis < 0) axis += xs.rank;
  if (axis < 0 || axis >= xs.rank)
    return cb_error_set(err, CB_ESHAPE, "%s: node \"%s\" (op %s): axis out of range", net->path, name, op);
  n = xs.dim[axis];
  if (n < 2)
    return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\" (op %s): softmax over an axis of one entry (a constant) is not "
                        "supported", net->path, name, op);
  B = (int64_t)(net->node[x].size / (size_t)n);
  perm[0] = axis;
  for (int d = 0, k = 1; d < xs.rank; d++) if (d != axis) perm[k++] = d;
  ts.rank = xs.rank;
  for (int d = 0; d < xs.rank; d++) { ts.dim[d] = xs.dim[perm[d]]; inv[perm[d]] = d; }
  if ((t = net_add(net, CB_TRANSPOSE, name, op, &x, 1, &ts, err)) < 0) return t;
  memcpy(net->node[t].p.transpose.perm, perm, sizeof perm);
  d4[0] = 1; d4[1] = n; d4[2] = B; d4[3] = 1;
  if ((t = reshape_to(net, name, op, t, 4, d4, err)) < 0) return t;
  if ((c1 = conv_on(net, name, op, t, n, B, 1, n * (n - 1), 1, 1, 1, 1, err)) < 0) return c1;
  for (int64_t i = 0, r = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++)
      if (i != j) {
        net->node[c1].p.conv.W[r * n + j] = 1;
        net->node[c1].p.conv.W[r * n + i] = -1;
        r++;
      }
  if ((y = net_add_act(net, CB_ACT_EXP, name, op, c1, err)) < 0) return y;
  if ((c2 = conv_on(net, name, op, y, n * (n - 1), B, 1, n, 1, 1, 1, 1, err)) < 0) return c2;
  for (int64_t i = 0; i < n; i++) {
    for (int64_t j = 0; j < n - 1; j++) net->node[c2].p.conv.W[i * n * (n - 1) + i * (n - 1) + j] = 1;
    net->node[c2].p.conv.b[i] = 1;   /* exp(x_i - x_i) */
  }
  if (log_form) {
    if ((y = net_add_act(net, CB_ACT_LOG, name, op, c2, err)) < 0) return y;
    {
      int s = net_add(net, CB_SCALE, name, op, &y, 1, &net->node[y].shape, err);
      if (s < 0) return s;
      net->node[s].p.scale.a = net_doubles(net, net->node[s].size);
      net->node[s].p.scale.b = net_doubles(net, net->node[s].size);
      if (!net->node[s].p.scale.a || !net->node[s].p.scale.b) return cb_error_set(err, CB_ENOMEM, "out of memory");
      for (size_t e = 0; e < net->node[s].size; e++) net->node[s].p.scale.a[e] = -1;
      net->node[s].exact = 1;
      y = s;
    }
  } else {
    if ((y = net_add_act(net, CB_ACT_POW, name, op, c2, err)) < 0) return y;
    net->node[y].p.act.alpha = -1;
  }
  if ((y = net_add(net, CB_RESHAPE, name, op, &y, 1, &ts, err)) < 0) return y;
  if ((y = net_add(net, CB_TRANSPOSE, name, op, &y, 1, &xs, err)) < 0) return y;
  memcpy(net->node[y].p.transpose.perm, inv, sizeof inv);
  return y;
}
