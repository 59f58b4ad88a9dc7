/*
** Attention rollout and raw attention (Abnar & Zuidema 2020, "Quantifying
** attention flow in transformers"), for nets whose attention blocks were
** canonicalised by src/canon_attn.c.
**
** Finding the attention maps (attn_find).  An attention map is the value of
** a Softmax over the key axis that is the left operand A of a MatMul A V:
**   - walking back from the MUL's first operand through RESHAPE / TRANSPOSE
**     (pure layout) reaches net_add_softmax's core,
**       POW(-1) <- CONV (sum over j, bias 1) <- EXP <- CONV (differences),
**     whose first CONV has cin = n keys and cout = n (n - 1) outputs with
**     weights in {-1, 0, 1}, and whose second CONV has every bias 1;
**   - the MUL is a MatMul (net_add_matmul): its only reader is a CONV
**     summing windows of n products (kw = n);
**   - the operand node's shape ends in [..., m, n]: m queries, n keys, the
**     leading entries are heads (H = size / (m n)).
** At every map the rows are re-checked numerically (entries >= 0, sum 1 to
** 1e-9): a layout this file misreads is refused, not averaged.
**
** Per layer l (in topological order), heads fused by mean (default), max or
** min:  F_l = fuse_h A_l[h]  (m x n).
**   raw      map = row q of F_L (L the --node layer, default the last), or the
**            mean of its rows (q = -1, the default)
**   rollout  Abar_l = (F_l + I) / 2, rows renormalised to sum 1 (they already
**            do for mean fusion);  R = Abar_L ... Abar_1;  map = row q of R
**            (or the mean of its rows).  Needs m = n = T at every layer.
** The map has one value per key token (T values), not per input feature:
** a ViT's first token is its class token, the others its patches.  It does
** not depend on the target class.
** Cost: one forward pass keeping every node's value, O(L T^3) after it.
*/
#include <math.h>
#include <string.h>
#include "attr.h"
#include "forward.h"
#include "linalg.h"

struct attr_attn {
  int n_layer;          /* attention maps found, topological order */
  int *node;            /* [n_layer] node holding each map (the MUL's operand) */
  int64_t *H, *m, *k;   /* [n_layer] heads, queries, keys */
  int last;             /* layer of --node (raw) / the last one rolled out */
  double **act;         /* fwd_alloc buffers of one forward pass */
  double *F, *R, *S;    /* T x T each: fused map, rollout, scratch */
};

const char *const attr_fusion_name[AF_COUNT] = {"mean", "max", "min"};

/* Skips RESHAPE / TRANSPOSE back from node i. */
static int layout_back(const cb_net *net, int i)
{
  while (i > 0 && (net->node[i].kind == CB_RESHAPE || net->node[i].kind == CB_TRANSPOSE)) i = net->node[i].in[0];
  return i;
}

/* 1 if node c is the first CONV of net_add_softmax: n keys, n (n - 1) differences. */
static int is_diff_conv(const cb_node *c, int64_t *n)
{
  const cb_conv *g = &c->p.conv.g;
  size_t nw;
  if (c->kind != CB_CONV || g->kh != 1 || g->kw != 1 || g->groups != 1 || g->cin < 2 || g->cout != g->cin * (g->cin - 1))
    return 0;
  nw = (size_t)(g->cout * g->cin);
  for (size_t e = 0; e < nw; e++)
    if (c->p.conv.W[e] != 0 && c->p.conv.W[e] != 1 && c->p.conv.W[e] != -1) return 0;
  *n = g->cin;
  return 1;
}

/* 1 if node i's value is a softmax over n entries (net_add_softmax's form). */
static int is_softmax(const cb_net *net, int i, int64_t *n)
{
  const cb_node *p = &net->node[layout_back(net, i)], *c2, *e;
  if (!node_is_act(p, CB_ACT_POW) || p->p.act.alpha != -1) return 0;
  c2 = &net->node[p->in[0]];
  if (c2->kind != CB_CONV || c2->p.conv.g.kh != 1 || c2->p.conv.g.kw != 1) return 0;
  for (int64_t o = 0; o < c2->p.conv.g.cout; o++) if (c2->p.conv.b[o] != 1) return 0;
  e = &net->node[c2->in[0]];
  if (!node_is_act(e, CB_ACT_EXP)) return 0;
  return is_diff_conv(&net->node[e->in[0]], n) && c2->p.conv.g.cout == *n;
}

/* 1 if MUL node j is a MatMul over n-entry windows (read by one CONV, kw = n). */
static int is_matmul_over(const cb_net *net, int j, int64_t n)
{
  int readers = 0, ok = 0;
  for (int r = j + 1; r < net->n; r++)
    for (int t = 0; t < net->node[r].n_in; t++)
      if (net->node[r].in[t] == j) {
        readers++;
        ok = net->node[r].kind == CB_CONV && net->node[r].p.conv.g.kw == n && net->node[r].p.conv.g.sw == n;
      }
  return readers == 1 && ok;
}

/* Node i (the MUL's first operand) as an attention map: H, m, k; 0 if not. */
static int attn_shape(const cb_net *net, int i, int64_t n, int64_t *H, int64_t *m, int64_t *k)
{
  const cb_shape *s = &net->node[i].shape;
  if (s->rank < 2 || s->dim[s->rank - 1] != n) return 0;
  *k = n;
  *m = s->dim[s->rank - 2];
  *H = (int64_t)net->node[i].size / (*m * n);
  return *H >= 1 && *m >= 1;
}

void attr_attn_free(attr_attn *t)
{
  if (!t) return;
  cb_free(t->node);
  cb_free(t->H);
  fwd_free(t->act);
  cb_free(t->F);
  cb_free(t);
}

int attr_attn_layers(const cb_net *net, int *nodes, int cap)
{
  int L = 0;
  for (int j = 1; j < net->n; j++) {
    int64_t n, H, m, k;
    int i;
    if (net->node[j].kind != CB_MUL || net->node[j].n_in != 2) continue;
    i = net->node[j].in[0];
    if (!is_softmax(net, i, &n) || !is_matmul_over(net, j, n) || !attn_shape(net, i, n, &H, &m, &k)) continue;
    if (nodes && L < cap) nodes[L] = i;
    L++;
  }
  return L;
}

/* The --node layer: a node named `name` that is one of the maps. */
static int pick_layer(const cb_net *net, attr_attn *t, const char *name, cb_error *err)
{
  int found = 0;
  t->last = t->n_layer - 1;
  if (!name) return CB_OK;
  for (int i = 0; i < net->n; i++) if (!strcmp(net->node[i].name, name)) found = 1;
  for (int l = 0; l < t->n_layer; l++)
    if (!strcmp(net->node[t->node[l]].name, name)) { t->last = l; return CB_OK; }
  return cb_error_set(err, CB_EUSAGE, found ? "%s: rollout --node \"%s\" is not an attention map (the maps are the Softmax "
                      "nodes feeding a MatMul with values; first: \"%s\")" : "%s: rollout --node: no node named \"%s\" (first "
                      "attention map: \"%s\")", net->path, name, net->node[t->node[0]].name);
}

int attr_attn_new(attr_ctx *a, cb_error *err)
{
  const cb_net *net = a->net;
  attr_attn *t;
  int L = attr_attn_layers(net, NULL, 0), rc;
  int64_t T;
  if (L == 0)
    return cb_error_set(err, CB_EUSAGE, "%s: rollout needs attention (a Softmax over keys feeding a MatMul with values) "
                        "and the network has none", net->path);
  if (a->opt.query < -1) return cb_error_set(err, CB_EUSAGE, "rollout: the query token must be >= 0 or -1 (the mean)");
  if (!(t = cb_calloc(1, sizeof *t))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  a->attn = t;
  if (!(t->H = cb_calloc(3 * (size_t)L, sizeof *t->H)) || !(t->node = cb_calloc((size_t)L, sizeof *t->node)))
    return cb_error_set(err, CB_ENOMEM, "out of memory");
  t->n_layer = attr_attn_layers(net, t->node, L);
  t->m = t->H + L; t->k = t->m + L;
  for (int l = 0; l < L; l++) {
    const cb_shape *s = &net->node[t->node[l]].shape;
    t->k[l] = s->dim[s->rank - 1];
    t->m[l] = s->dim[s->rank - 2];
    t->H[l] = (int64_t)net->node[t->node[l]].size / (t->m[l] * t->k[l]);
  }
  if ((rc = pick_layer(net, t, a->opt.node, err)) != CB_OK) return rc;
  T = t->k[t->last];
  if (!a->opt.attn_raw)
    for (int l = 0; l <= t->last; l++)
      if (t->m[l] != T || t->k[l] != T)
        return cb_error_set(err, CB_EUSAGE, "%s: rollout multiplies square attention maps of one token count, and \"%s\" is "
                            "%lld x %lld against %lld tokens (raw attention, --attention raw, reads one layer)", net->path,
                            net->node[t->node[l]].name, (long long)t->m[l], (long long)t->k[l], (long long)T);
  if (a->opt.query >= t->m[t->last])
    return cb_error_set(err, CB_EUSAGE, "rollout: query token %d is out of range (the map has %lld queries: 0..%lld)",
                        a->opt.query, (long long)t->m[t->last], (long long)t->m[t->last] - 1);
  {
    size_t mx = 0;
    for (int l = 0; l <= t->last; l++) if ((size_t)(t->m[l] * t->k[l]) > mx) mx = (size_t)(t->m[l] * t->k[l]);
    if (!(t->act = fwd_alloc(net, 1)) || !(t->F = cb_alloc(3 * mx * sizeof *t->F)))
      return cb_error_set(err, CB_ENOMEM, "out of memory");
    t->R = t->F + mx;
    t->S = t->R + mx;
  }
  a->nm = (size_t)T;
  return CB_OK;
}

/* F (m x k) = heads of layer l fused; checks every row is a distribution. */
static int fuse(const cb_net *net, const attr_attn *t, int l, attr_fusion f, double *F, cb_error *err)
{
  const double *A = t->act[t->node[l]];
  int64_t H = t->H[l], m = t->m[l], k = t->k[l];
  size_t mk = (size_t)(m * k);
  for (size_t e = 0; e < mk; e++) F[e] = f == AF_MEAN ? 0 : A[e];
  for (int64_t h = 0; h < H; h++) {
    const double *Ah = A + (size_t)h * mk;
    for (int64_t r = 0; r < m; r++) {
      double s = 0;
      for (int64_t c = 0; c < k; c++) {
        double v = Ah[r * k + c], *o = &F[r * k + c];
        if (!(v >= 0)) s = NAN;
        s += v;
        *o = f == AF_MEAN ? *o + v / (double)H : f == AF_MAX ? fmax(*o, v) : fmin(*o, v);
      }
      if (!(fabs(s - 1) <= 1e-9))
        return cb_error_set(err, CB_EVALUE, "%s: node \"%s\": head %lld query %lld of the attention map is not a distribution "
                            "(sum %.17g): not read as attention", net->path, net->node[t->node[l]].name, (long long)h,
                            (long long)r, s);
    }
  }
  return CB_OK;
}

/* map = row q of M (m x k), or the mean of its rows when q < 0. */
static void pick_row(const double *M, int64_t m, int64_t k, int q, double *map)
{
  if (q >= 0) { memcpy(map, M + (size_t)q * (size_t)k, (size_t)k * sizeof *map); return; }
  for (int64_t c = 0; c < k; c++) {
    double s = 0;
    for (int64_t r = 0; r < m; r++) s += M[r * k + c];
    map[c] = s / (double)m;
  }
}

int attr_attn_map(attr_ctx *a, const double *x, double *map, cb_error *err)
{
  attr_attn *t = a->attn;
  const cb_net *net = a->net;
  int rc, last = t->last;
  size_t T = (size_t)t->k[last];
  memcpy(t->act[0], x, a->n * sizeof *x);
  for (int i = 1; i <= t->node[last]; i++)
    if ((rc = fwd_node(net, i, 1, t->act, err)) != CB_OK) return rc;
  if (a->opt.attn_raw) {
    if ((rc = fuse(net, t, last, a->opt.fusion, t->F, err)) != CB_OK) return rc;
    pick_row(t->F, t->m[last], t->k[last], a->opt.query, map);
    return CB_OK;
  }
  for (size_t e = 0; e < T * T; e++) t->R[e] = e % (T + 1) == 0;
  for (int l = 0; l <= last; l++) {
    if ((rc = fuse(net, t, l, a->opt.fusion, t->F, err)) != CB_OK) return rc;
    for (size_t r = 0; r < T; r++) {
      double s = 0;
      for (size_t c = 0; c < T; c++) s += t->F[r * T + c] = (t->F[r * T + c] + (r == c)) / 2;
      for (size_t c = 0; c < T; c++) t->F[r * T + c] /= s;
    }
    la_gemm(0, 0, T, T, T, 1, t->F, T, t->R, T, 0, t->S, T);   /* S = Abar_l R */
    memcpy(t->R, t->S, T * T * sizeof *t->R);
  }
  pick_row(t->R, (int64_t)T, (int64_t)T, a->opt.query, map);
  return CB_OK;
}
