/*
** Global Lipschitz analyzer: one constant per node (one dispatch switch),
** propagation over the DAG, merged linear blocks, the forward-pass rounding
** bound and the certified radii of a sample.
**
** Node constants, valid in every norm unless stated (elementwise maps act
** coordinate by coordinate, so a per-coordinate constant is a p-norm constant):
**   AFFINE, CONV      ||A||_p from specnorm.c (guaranteed upper bound)
**   SCALE             max |a|
**   RESHAPE, TRANSPOSE, CONCAT (per block), ADD (per operand)   1 (permutations)
**   RELU, TANH, CLIP  1;  LEAKY_RELU max(1, |alpha|);  SIGMOID 1/4
**   MAXPOOL           Linf: 1; L1: c; L2: sqrt(c), c = the largest number of
**                     windows one input falls in:  |max_w x - max_w y| <=
**                     max_{i in w} |x_i - y_i|, so sum_w (.)^2 <= c ||x - y||^2.
**   CONCAT [relu(v); relu(-v)]  1 from v in every norm (crelu_source)
**   SORT              1 in every p-norm: continuous, and on each region where the
**                     order is fixed a permutation (norm 1); a segment crosses
**                     finitely many regions, so |s(x) - s(y)|_p <= |x - y|_p.
** A node whose parameters are a rounding of the file's (exact = 0) has
** ||A_true|| <= ||A|| + rel_err || |A| ||, || |A| ||_2 <= sqrt(||A||_1 ||A||_inf).
** Arithmetic on bounds rounds outward (round.h, one nextafter step).
** Workload: lip_analyze once per network (dominated by the layer bounds);
** lip_certify once per sample (one forward pass plus O(size) work).
*/
#include <math.h>
#include <string.h>
#include <time.h>
#include "forward.h"
#include "lipschitz.h"
#include "round.h"

/* Defaults: L2, dense_max 4096, merge_max 4 M entries, 1000 power iterations. */
void lip_opts_init(lip_opts *o)
{
  o->norm = CB_NORM_2;
  o->dense_max = 4096;
  o->merge_max = (size_t)1 << 22;
  o->power_iters = 1000;
  o->power_tol = 1e-12;
  o->seed = 1;
}

/* Monotonic wall clock, seconds. */
static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CB_EUNSUP naming the node whose kind has no Lipschitz rule. */
static int no_rule(const cb_net *net, int i, cb_error *err)
{
  const cb_node *n = &net->node[i];
  return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\" (op %s, kind %s): no Lipschitz rule for "
                      "this node kind", net->path, n->name, n->op,
                      (unsigned)n->kind < CB_KIND_COUNT ? node_kind_name(n) : "invalid");
}

/* Re-issues a lower-level error with the node named. */
static int node_err(const cb_net *net, int i, const cb_error *inner, cb_error *err)
{
  return cb_error_set(err, inner->status, "%s: node \"%s\" (op %s): %s", net->path,
                      net->node[i].name, net->node[i].op, inner->msg);
}

/* Frees a result; NULL is a no-op. */
void lip_result_free(lip_result *r)
{
  if (!r) return;
  cb_free(r->layer);
  cb_free(r->block);
  cb_free(r->c);
  cb_free(r);
}

/* Zeroed result for n nodes (one block for the per-node arrays); NULL on OOM. */
static lip_result *result_new(int n)
{
  lip_result *r = cb_calloc(1, sizeof *r);
  if (!r) return NULL;
  r->n = n;
  r->layer = cb_calloc((size_t)n, sizeof *r->layer);
  r->block = cb_calloc((size_t)n, sizeof *r->block);
  r->c = cb_calloc(5 * (size_t)n, sizeof *r->c);
  if (!r->layer || !r->block || !r->c) { lip_result_free(r); return NULL; }
  r->cabs = r->c + n;
  r->cinf = r->cabs + n;
  r->K = r->cinf + n;
  r->Km = r->K + n;
  return r;
}

/* ---------------------------------------------------------------- node constants */

/* The linear operator of an AFFINE or CONV node (weights borrowed). */
static void node_op(const cb_node *n, lip_op *op)
{
  if (n->kind == CB_AFFINE) lip_power_op_dense(op, n->p.aff.W, n->p.aff.out, n->p.aff.in);
  else lip_power_op_conv(op, &n->p.conv.g, n->p.conv.W);
}

/* Relative error bound of a node's stored parameters (0 when exact). */
static double rel_of(const cb_node *n) { return n->exact ? 0.0 : n->rel_err; }

/* ||A_true|| <= ||A|| + rel || |A| ||, and the lower estimate moves down as much. */
static void widen(lip_bound *b, double rel, double absn)
{
  double d = round_mul_up(rel, absn);
  if (d == 0) return;
  b->upper = round_add_up(b->upper, d);
  b->lower = fmax(0, round_next_down(b->lower - d));
}

/* specnorm options from the analyzer options. */
static void spec_opts(const lip_opts *o, lip_spec_opts *so)
{
  lip_spec_opts_init(so);
  so->norm = o->norm;
  so->dense_max = o->dense_max;
  so->power.max_iters = o->power_iters;
  so->power.tol = o->power_tol;
  so->power.seed = o->seed;
}

/* AFFINE and CONV: operator norm of the layer on its actual input shape. */
static int const_weighted(const cb_net *net, int i, const lip_opts *o, lip_result *r, cb_error *err)
{
  const cb_node *n = &net->node[i];
  lip_layer *L = &r->layer[r->n_layers];
  lip_spec_opts so;
  lip_op op;
  cb_error e = {0};
  double n1, ninf, absn, rel = rel_of(n), t0 = now();
  node_op(n, &op);
  spec_opts(o, &so);
  if (lip_spec_abs_norms(&op, &n1, &ninf, NULL, NULL, &e) != CB_OK ||
      lip_spec_bound(&op, &so, &L->b, &e) != CB_OK) return node_err(net, i, &e, err);
  absn = o->norm == CB_NORM_2 ? round_next_up(sqrt(round_mul_up(n1, ninf))) : o->norm == CB_NORM_1 ? n1 : ninf;
  widen(&L->b, rel, absn);
  L->node = i;
  L->rows = op.rows;
  L->cols = op.cols;
  L->seconds = now() - t0;
  r->c[i] = L->b.upper;
  r->cabs[i] = absn;
  r->cinf[i] = round_add_up(ninf, round_mul_up(rel, ninf));
  r->n_layers++;
  return CB_OK;
}

/* SCALE y = a .* x + b: every operator norm of diag(a) is max |a|. */
static void const_scale(const cb_net *net, int i, lip_result *r)
{
  const cb_node *n = &net->node[i];
  lip_layer *L = &r->layer[r->n_layers++];
  double m = 0, rel = rel_of(n);
  for (size_t e = 0; e < n->size; e++) m = fmax(m, fabs(n->p.scale.a[e]));
  L->node = i;
  L->rows = L->cols = n->size;
  L->b.lower = m;
  L->b.upper = m;
  L->b.method = "max-abs";
  L->b.converged = 1;
  widen(&L->b, rel, m);
  r->c[i] = r->cinf[i] = L->b.upper;
  r->cabs[i] = m;
}

/* Largest number of windows (oi) that contain one input row ii. */
static int64_t windows_per_input(int64_t in, int64_t out, int64_t k, int64_t s, int64_t p, int64_t d)
{
  int64_t best = 0;
  for (int64_t ii = 0; ii < in; ii++) {
    int64_t c = 0;
    for (int64_t oi = 0; oi < out; oi++)
      for (int64_t ki = 0; ki < k; ki++)
        if (oi * s - p + ki * d == ii) { c++; break; }
    if (c > best) best = c;
  }
  return best;
}

/* MAXPOOL constant: 1 (Linf), c (L1), sqrt c (L2), c = windows per input. */
static void const_maxpool(const cb_net *net, int i, cb_norm norm, lip_result *r)
{
  const cb_conv *g = &net->node[i].p.pool.g;
  double c = (double)(windows_per_input(g->hin, g->hout, g->kh, g->sh, g->pt, g->dh) *
                      windows_per_input(g->win, g->wout, g->kw, g->sw, g->pl, g->dw));
  r->c[i] = norm == CB_NORM_INF ? 1.0 : norm == CB_NORM_1 ? c : round_next_up(sqrt(c));
  r->cinf[i] = 1.0;
  r->cabs[i] = r->c[i];
}

/* A node with the same constant in every norm (permutations, activations). */
static void const_fixed(lip_result *r, int i, double c)
{
  r->c[i] = r->cinf[i] = r->cabs[i] = c;
}

/* The one dispatch over kinds: constant of node i in o->norm. */
static int node_const(const cb_net *net, int i, const lip_opts *o, lip_result *r, cb_error *err)
{
  const cb_node *n = &net->node[i];
  switch (n->kind) {
  case CB_INPUT: if (i != 0) break; const_fixed(r, i, 1.0); return CB_OK;
  case CB_AFFINE: case CB_CONV: return const_weighted(net, i, o, r, err);
  case CB_SCALE: const_scale(net, i, r); return CB_OK;
  case CB_ADD: case CB_CONCAT: case CB_RESHAPE: case CB_TRANSPOSE: const_fixed(r, i, 1.0); return CB_OK;
  case CB_ACT:   /* +inf: f' unbounded on R (Exp), no global constant */
    if (isinf(node_act(n)->lip(n)))
      return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\" (op %s, kind %s): no global Lipschitz constant (f' is "
                          "unbounded)", net->path, n->name, n->op, node_kind_name(n));
    const_fixed(r, i, node_act(n)->lip(n));
    return CB_OK;
  case CB_MAXPOOL: const_maxpool(net, i, o->norm, r); return CB_OK;
  case CB_SORT: const_fixed(r, i, 1.0); return CB_OK;   /* a permutation per region (header) */
  case CB_MUL:   /* x y: its derivative grows with |x| and |y| without bound (dot-product attention) */
    return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\" (op %s, kind MUL): a product of two computed tensors has no "
                        "global Lipschitz constant (local bounds: cerbere jacobian, or certify --methods local-lipschitz)",
                        net->path, n->name, n->op);
  case CB_KIND_COUNT: break;
  }
  return no_rule(net, i, err);
}

/* ---------------------------------------------------------------- propagation */

/* CONCAT of blocks with constants K_k: ||[d_1; ...]||_p over the blocks. */
static double concat_rule(const cb_node *n, cb_norm norm, const double *K)
{
  double s = 0;
  for (int k = 0; k < n->n_in; k++) {
    double v = K[n->in[k]];
    if (norm == CB_NORM_INF) s = fmax(s, v);
    else if (norm == CB_NORM_1) s = round_add_up(s, v);
    else s = round_add_up(s, round_mul_up(v, v));
  }
  return norm == CB_NORM_2 ? round_next_up(sqrt(s)) : s;
}

/* Node i without a negation y = -x (SCALE a = -1, b = 0) in front: its input, else i. */
static int strip_neg(const cb_net *net, int i)
{
  const cb_node *n = &net->node[i];
  if (n->kind != CB_SCALE || !n->exact) return i;
  for (size_t e = 0; e < n->size; e++) if (n->p.scale.a[e] != -1 || n->p.scale.b[e] != 0) return i;
  return n->in[0];
}

/*
** CONCAT [relu(v); relu(-v)] (either order, either half possibly negated):
** deel-torchlip's MaxMin, exported as Relu, Neg, Relu, Concat.  Per entry,
** d1 = relu(x) - relu(y) and d2 = relu(-y) - relu(-x) have the sign of x - y
** and d1 + d2 = x - y, so |d1| + |d2| = |x - y|, d1^2 + d2^2 <= (x - y)^2 and
** max(|d1|, |d2|) <= |x - y|: 1-Lipschitz from v in L1, L2 and Linf.
** Returns v, or -1 when node n is not this pattern.
*/
static int crelu_source(const cb_net *net, const cb_node *n)
{
  int a, b, va, vb;
  if (n->kind != CB_CONCAT || n->n_in != 2) return -1;
  a = strip_neg(net, n->in[0]);
  b = strip_neg(net, n->in[1]);
  if (!node_is_act(&net->node[a], CB_ACT_RELU) || !node_is_act(&net->node[b], CB_ACT_RELU)) return -1;
  va = net->node[a].in[0];
  vb = net->node[b].in[0];
  if (strip_neg(net, vb) == va && vb != va) return va;
  if (strip_neg(net, va) == vb && va != vb) return vb;
  return -1;
}

/* Merged block ending at node i, or NULL. */
static const lip_block *block_at(const lip_result *r, int i)
{
  for (int b = 0; b < r->n_blocks; b++) if (r->block[b].last == i) return &r->block[b];
  return NULL;
}

/* K[i] for every node, in topological order; merged: use blocks (min of both). */
static int propagate(const cb_net *net, lip_result *r, int merged, double *K, cb_error *err)
{
  K[0] = 1.0;
  for (int i = 1; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    const lip_block *b;
    switch (n->kind) {
    case CB_ADD: K[i] = round_add_up(K[n->in[0]], K[n->in[1]]); break;
    case CB_CONCAT: {
      int v = crelu_source(net, n);
      K[i] = concat_rule(n, r->norm, K);
      if (v >= 0) K[i] = fmin(K[i], K[v]);
      break;
    }
    case CB_AFFINE: case CB_SCALE: case CB_CONV: case CB_RESHAPE: case CB_TRANSPOSE:
    case CB_ACT: case CB_MAXPOOL: case CB_SORT:
      K[i] = round_mul_up(r->c[i], K[n->in[0]]);
      break;
    case CB_MUL: return no_rule(net, i, err);
    case CB_INPUT: case CB_KIND_COUNT: return no_rule(net, i, err);
    }
    if (merged && (b = block_at(r, i)))
      K[i] = fmin(K[i], round_mul_up(b->upper, K[net->node[b->first].in[0]]));
  }
  return CB_OK;
}

/* ---------------------------------------------------------------- merged blocks */

/* Kinds that a merged block may contain (one input, linear without bias). */
static int is_linear(cb_kind k) { return cb_kind_info[k].linear && cb_kind_info[k].n_in == 1; }

/* Kinds with weights, worth multiplying out. */
static int is_weighted(cb_kind k) { return cb_kind_info[k].weighted; }

/* next[i] = the only consumer of i (not when i is the output), else -1. */
static int only_consumers(const cb_net *net, int *next)
{
  int *cnt = cb_calloc((size_t)net->n, sizeof *cnt);
  if (!cnt) return CB_ENOMEM;
  for (int i = 0; i < net->n; i++) next[i] = -1;
  for (int i = 0; i < net->n; i++)
    for (int k = 0; k < net->node[i].n_in; k++) { cnt[net->node[i].in[k]]++; next[net->node[i].in[k]] = i; }
  for (int i = 0; i < net->n; i++) if (cnt[i] != 1 || i == net->output) next[i] = -1;
  cb_free(cnt);
  return CB_OK;
}

/* Q[nb][size_s] = A_s P[nb][size_in] without bias. */
static int apply_linear(const cb_net *net, int s, const double *P, size_t nb, double *Q, cb_error *err)
{
  const cb_node *n = &net->node[s];
  size_t in = net->node[n->in[0]].size;
  lip_op op;
  switch (n->kind) {
  case CB_AFFINE: case CB_CONV:
    node_op(n, &op);
    if (lip_power_apply(&op, 0, P, nb, Q) != CB_OK) return cb_error_set(err, CB_ENOMEM, "%s: out of memory", net->path);
    return CB_OK;
  case CB_SCALE:
    for (size_t b = 0; b < nb; b++) for (size_t e = 0; e < in; e++) Q[b * in + e] = n->p.scale.a[e] * P[b * in + e];
    return CB_OK;
  case CB_RESHAPE: memcpy(Q, P, nb * in * sizeof *Q); return CB_OK;
  case CB_TRANSPOSE: {
    double *act[2] = {(double *)P, Q};
    cb_net one = *net;
    cb_node nodes[2];
    nodes[0] = net->node[n->in[0]];
    nodes[1] = *n;
    nodes[1].in = (int[]){0};
    one.node = nodes;
    one.n = 2;
    return fwd_node(&one, 1, nb, act, err);
  }
  case CB_INPUT: case CB_ADD: case CB_CONCAT: case CB_ACT: case CB_MAXPOOL: case CB_SORT: case CB_MUL: case CB_KIND_COUNT: break;
  }
  return cb_error_set(err, CB_EINTERNAL, "%s: node \"%s\": not linear", net->path, n->name);
}

/* Norm (in `norm`) of the matrix whose transpose B [nb x m] is stored; rounding-safe. */
static int norm_of_transposed(const double *B, size_t nb, size_t m, cb_norm norm, int exact_l2,
                              double *v, cb_error *err)
{
  lip_op op;
  double n1, ninf;
  int rc;
  lip_power_op_dense(&op, B, nb, m);
  if (norm == CB_NORM_2 && exact_l2) return lip_spec_gram_upper(&op, v, NULL, err);
  if (norm == CB_NORM_2) { *v = round_nrm2_up(B, nb * m); return CB_OK; }
  if ((rc = lip_spec_abs_norms(&op, &n1, &ninf, NULL, NULL, err)) != CB_OK) return rc;
  *v = norm == CB_NORM_INF ? n1 : ninf;
  return CB_OK;
}

/* Inner length of the dot products of node s applied without bias. */
static size_t inner_len(const cb_node *n)
{
  lip_op op;
  if (n->kind == CB_SCALE) return 1;
  if (n->kind != CB_AFFINE && n->kind != CB_CONV) return 0;
  node_op(n, &op);
  return lip_power_op_inner(&op);
}

/*
** Bound of the product A_k ... A_1 of a chain, from P_hat = fl(A_k fl(... I)):
**   P_hat_s = A_s P_hat_{s-1} + E_s,  ||E_s|| <= (gamma_k + rel) || |A_s| || ||P_hat_{s-1}||
**   D_s = P_hat_s - P_s = A_s D_{s-1} + E_s  =>  ||D_s|| <= ||A_s|| ||D_{s-1}|| + ||E_s||
**   ||P_k|| <= ||P_hat_k|| (certified) + ||D_k||.   (Higham eq. 3.13 per product)
*/
static int block_bound(const cb_net *net, const lip_result *r, const int *seq, int len, double *ub, cb_error *err)
{
  size_t nin = net->node[net->node[seq[0]].in[0]].size, cur = nin;
  double *P = cb_calloc(nin * nin, sizeof *P), *Q = NULL, delta = 0, np;
  int rc = P ? CB_OK : cb_error_set(err, CB_ENOMEM, "%s: out of memory", net->path);
  for (size_t j = 0; P && j < nin; j++) P[j * nin + j] = 1.0;
  for (int t = 0; rc == CB_OK && t < len; t++) {
    const cb_node *n = &net->node[seq[t]];
    size_t k = inner_len(n);
    double e;
    if (!(Q = cb_alloc(nin * n->size * sizeof *Q))) { rc = cb_error_set(err, CB_ENOMEM, "%s: out of memory", net->path); break; }
    if ((rc = norm_of_transposed(P, nin, cur, r->norm, 0, &np, err)) != CB_OK) break;
    if ((rc = apply_linear(net, seq[t], P, nin, Q, err)) != CB_OK) break;
    e = round_mul_up(round_mul_up(round_add_up(round_gamma_up(k), rel_of(n)), r->cabs[seq[t]]), np);
    e = round_add_up(e, round_mul_up((double)nin * (double)n->size * (double)k, ROUND_ETA));
    delta = round_add_up(round_mul_up(r->c[seq[t]], delta), e);
    cb_free(P);
    P = Q;
    Q = NULL;
    cur = n->size;
  }
  if (rc == CB_OK && (rc = norm_of_transposed(P, nin, cur, r->norm, 1, &np, err)) == CB_OK)
    *ub = round_add_up(np, delta);
  cb_free(P);
  cb_free(Q);
  return rc;
}

/* Records the block seq[0..len) when it is worth multiplying out and fits. */
static int try_block(const cb_net *net, const lip_opts *o, lip_result *r, const int *seq, int len, cb_error *err)
{
  size_t nin = net->node[net->node[seq[0]].in[0]].size, big = nin;
  int nw = 0, rc;
  double prod = 1, ub;
  for (int t = 0; t < len; t++) {
    nw += is_weighted(net->node[seq[t]].kind);
    big = net->node[seq[t]].size > big ? net->node[seq[t]].size : big;
    prod = round_mul_up(prod, r->c[seq[t]]);
  }
  if (nw < 2 || o->merge_max == 0 || big > o->merge_max / nin) return CB_OK;
  if ((rc = block_bound(net, r, seq, len, &ub, err)) != CB_OK) return rc;
  r->block[r->n_blocks].first = seq[0];
  r->block[r->n_blocks].last = seq[len - 1];
  r->block[r->n_blocks].upper = ub;
  r->block[r->n_blocks].product = prod;
  r->n_blocks++;
  return CB_OK;
}

/* Finds maximal chains of linear nodes and bounds the worthwhile ones. */
static int merge_blocks(const cb_net *net, const lip_opts *o, lip_result *r, cb_error *err)
{
  int *next = cb_alloc(2 * (size_t)net->n * sizeof *next), *seq, rc = CB_OK;
  if (!next || only_consumers(net, next) != CB_OK) { cb_free(next); return cb_error_set(err, CB_ENOMEM, "%s: out of memory", net->path); }
  seq = next + net->n;
  for (int i = 1; i < net->n && rc == CB_OK; i++) {
    const cb_node *n = &net->node[i];
    int len = 0, j = i, p = n->n_in == 1 ? n->in[0] : -1;
    if (!is_linear(n->kind) || (p >= 0 && is_linear(net->node[p].kind) && next[p] == i)) continue;
    seq[len++] = j;
    while (next[j] >= 0 && is_linear(net->node[next[j]].kind)) seq[len++] = j = next[j];
    rc = try_block(net, o, r, seq, len, err);
  }
  cb_free(next);
  return rc;
}

/* Node constants, then K layerwise, the merged blocks, and K merged. */
int lip_analyze(const cb_net *net, const lip_opts *o, lip_result **out, cb_error *err)
{
  lip_result *r;
  int rc = CB_OK;
  *out = NULL;
  if (o->norm != CB_NORM_INF && o->norm != CB_NORM_2 && o->norm != CB_NORM_1)
    return cb_error_set(err, CB_EUSAGE, "Lipschitz constants need the norm inf, 2 or 1, not %s", cb_norm_table[o->norm].name);
  if (!(r = result_new(net->n))) return cb_error_set(err, CB_ENOMEM, "%s: out of memory", net->path);
  r->norm = o->norm;
  for (int i = 0; i < net->n && rc == CB_OK; i++)
    rc = cb_time_up() ? cb_limit_error(err, "the Lipschitz analysis") : node_const(net, i, o, r, err);
  if (rc == CB_OK) rc = propagate(net, r, 0, r->K, err);
  if (rc == CB_OK) rc = merge_blocks(net, o, r, err);
  if (rc == CB_OK) rc = propagate(net, r, 1, r->Km, err);
  if (rc != CB_OK) { lip_result_free(r); return rc; }
  r->K_layerwise = r->K[net->output];
  r->K_merged = r->Km[net->output];
  *out = r;
  return CB_OK;
}

/* ---------------------------------------------------------------- forward rounding */

/* max_i |x_i|. */
static double vmaxabs(const double *x, size_t n)
{
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
  return m;
}

/* Rounding of y = A x + b for one node: (gamma_{k+1} + rel)(||A||_inf ||x||_inf + ||b||_inf) + k eta. */
static double affine_round(const cb_node *n, const lip_result *r, int i, const double *x, size_t nx)
{
  const double *b = n->kind == CB_AFFINE ? n->p.aff.b : n->kind == CB_CONV ? n->p.conv.b : n->p.scale.b;
  size_t nb = n->kind == CB_CONV ? (size_t)n->p.conv.g.cout : n->kind == CB_AFFINE ? n->p.aff.out : n->size;
  size_t k = inner_len(n) + 1;
  double t = round_add_up(round_mul_up(r->cinf[i], vmaxabs(x, nx)), vmaxabs(b, nb));
  return round_add_up(round_mul_up(round_add_up(round_gamma_up(k), rel_of(n)), t), (double)k * ROUND_ETA);
}

/*
** delta_i >= max |computed - exact| at node i (Linf), by kind:
**   linear:  cinf delta_in + rounding of A x + b (above)
**   ADD:     delta_a + delta_b + u |y|;  CONCAT: max;  exact maps (RESHAPE, TRANSPOSE,
**            RELU, CLIP, MAXPOOL, SORT): delta_in;  LEAKY_RELU: |alpha| delta_in + u |y|
**   SIGMOID, TANH: L delta_in + 16u |y|  (glibc exp/tanh <= 2 ulp; + 3 roundings)
*/
static int node_delta(const cb_net *net, const lip_result *r, int i, double *const *act, double *d, cb_error *err)
{
  const cb_node *n = &net->node[i];
  double di = n->n_in ? d[n->in[0]] : 0, ym = vmaxabs(act[i], n->size);
  switch (n->kind) {
  case CB_INPUT: d[i] = 0; return CB_OK;
  case CB_AFFINE: case CB_CONV: case CB_SCALE:
    d[i] = round_add_up(round_mul_up(r->cinf[i], di), affine_round(n, r, i, act[n->in[0]], net->node[n->in[0]].size));
    return CB_OK;
  case CB_ADD: d[i] = round_add_up(round_add_up(di, d[n->in[1]]), round_mul_up(ROUND_U, ym)); return CB_OK;
  case CB_CONCAT:
    d[i] = 0;
    for (int k = 0; k < n->n_in; k++) d[i] = fmax(d[i], d[n->in[k]]);
    return CB_OK;
  case CB_RESHAPE: case CB_TRANSPOSE: case CB_MAXPOOL: case CB_SORT: d[i] = di; return CB_OK;
  case CB_MUL: {   /* |x'y' - xy| <= |x'| dy + |y'| dx + dx dy, plus the product's rounding u |y| */
    double dy = d[n->in[1]], mx = vmaxabs(act[n->in[0]], n->size), my = vmaxabs(act[n->in[1]], n->size);
    d[i] = round_add_up(round_add_up(round_add_up(round_mul_up(mx, dy), round_mul_up(my, di)), round_mul_up(di, dy)),
                        round_add_up(round_mul_up(ROUND_U, ym), ROUND_ETA));
    return CB_OK;
  }
  case CB_ACT:   /* the activation's forward-error rule (act.h) */
    switch (node_act(n)->err) {
    case CB_ACT_ERR_EXACT: d[i] = round_mul_up(r->cinf[i], di); return CB_OK;
    case CB_ACT_ERR_ROUND: d[i] = round_add_up(round_mul_up(r->cinf[i], di), round_mul_up(ROUND_U, ym)); return CB_OK;
    case CB_ACT_ERR_LIBM: d[i] = round_add_up(round_add_up(round_mul_up(r->cinf[i], di), round_mul_up(16 * ROUND_U, ym)), ROUND_ETA); return CB_OK;
    case CB_ACT_ERR_COND: d[i] = round_add_up(round_add_up(round_mul_up(r->cinf[i], di), round_mul_up(0x1p-40, ym)), ROUND_ETA); return CB_OK;
    }
    break;
  case CB_KIND_COUNT: break;
  }
  return no_rule(net, i, err);
}

int lip_forward_error(const cb_net *net, const lip_result *r, const double *x, double *y,
                      double *delta, cb_error *err)
{
  double **act = fwd_alloc(net, 1), *d = cb_calloc((size_t)net->n, sizeof *d);
  int rc = (act && d) ? CB_OK : cb_error_set(err, CB_ENOMEM, "%s: out of memory", net->path);
  if (rc == CB_OK) {
    memcpy(act[0], x, net->node[0].size * sizeof *x);
    rc = fwd_all(net, 1, act, err);
  }
  for (int i = 0; rc == CB_OK && i < net->n; i++) rc = node_delta(net, r, i, act, d, err);
  if (rc == CB_OK) {
    *delta = d[net->output];
    if (y) memcpy(y, act[net->output], net->node[net->output].size * sizeof *y);
    if (!isfinite(*delta)) rc = cb_error_set(err, CB_EVALUE, "%s: forward pass overflows", net->path);
  }
  fwd_free(act);
  cb_free(d);
  return rc;
}

/* ---------------------------------------------------------------- radii */

/* The AFFINE that computes the output (through RESHAPEs), or -1. */
static int last_affine(const cb_net *net)
{
  int i = net->output;
  while (net->node[i].kind == CB_RESHAPE) i = net->node[i].in[0];
  return net->node[i].kind == CB_AFFINE ? i : -1;
}

/* ||w_y - w_j||_q (q dual of the norm) of the true weights, rounded up. */
static double row_diff_norm(const cb_node *n, int y, int j, cb_norm norm)
{
  const double *a = n->p.aff.W + (size_t)y * n->p.aff.in, *b = n->p.aff.W + (size_t)j * n->p.aff.in;
  double s = 0, rel = rel_of(n);
  for (size_t k = 0; k < n->p.aff.in; k++) {
    double d = round_add_up(round_next_up(fabs(a[k] - b[k])), round_mul_up(rel, round_add_up(fabs(a[k]), fabs(b[k]))));
    if (norm == CB_NORM_1) s = fmax(s, d);        /* dual of L1 is Linf */
    else if (norm == CB_NORM_INF) s = round_add_up(s, d);  /* dual of Linf is L1 */
    else s = round_add_up(s, round_mul_up(d, d));
  }
  return norm == CB_NORM_2 ? round_next_up(sqrt(s)) : s;
}

/* Lower bound of the real margin f_y - f_j from the computed one and delta. */
static double margin_lo(double m, double delta)
{
  return round_next_down(m - round_add_up(round_mul_up(2.0, delta), round_mul_up(2.0 * ROUND_U, fabs(m))));
}

/* Certified radius lo / cst rounded down; 0 when the margin bound is not positive. */
static double radius_of(double lo, double cst) { return lo <= 0 ? 0 : round_next_down(lo / cst); }

/* Per class pair: margin_j / (||w_y - w_j||_q K_h), K_h at the last affine's input. */
static double pairwise(const cb_net *net, const lip_result *r, const double *y, int label, double delta)
{
  int a = last_affine(net), h;
  double best = HUGE_VAL, Kh;
  if (a < 0) return 0;
  h = net->node[a].in[0];
  Kh = fmin(r->K[h], r->Km[h]);
  for (size_t j = 0; j < net->node[net->output].size; j++) {
    if ((int)j == label) continue;
    best = fmin(best, radius_of(margin_lo(y[label] - y[j], delta),
                                round_mul_up(row_diff_norm(&net->node[a], label, (int)j, r->norm), Kh)));
  }
  return best;
}

int lip_certify(const cb_net *net, const lip_result *r, const double *x, int label,
                lip_sample *s, cb_error *err)
{
  size_t no = net->node[net->output].size;
  double *y = cb_alloc(no * sizeof *y), delta = 0, cn;
  int rc;
  memset(s, 0, sizeof *s);
  if (!y) return cb_error_set(err, CB_ENOMEM, "%s: out of memory", net->path);
  if (no < 2 || label < 0 || (size_t)label >= no) {
    cb_free(y);
    if (no < 2) return cb_error_set(err, CB_EUNSUP, "%s: %zu output: a margin needs at least 2 classes", net->path, no);
    return cb_error_set(err, CB_EVALUE, "%s: label %d is not a class (the network has %zu outputs)", net->path, label, no);
  }
  if ((rc = lip_forward_error(net, r, x, y, &delta, err)) == CB_OK) {
    s->label = label;
    s->pred = cb_argmax(y, no);
    s->margin = HUGE_VAL;
    for (size_t j = 0; j < no; j++) if ((int)j != label) s->margin = fmin(s->margin, y[label] - y[j]);
    s->margin_lo = margin_lo(s->margin, delta);
    cn = r->norm == CB_NORM_2 ? round_next_up(sqrt(2.0)) : r->norm == CB_NORM_INF ? 2.0 : 1.0;
    s->radius_layerwise = radius_of(s->margin_lo, round_mul_up(cn, r->K_layerwise));
    s->radius_merged = radius_of(s->margin_lo, round_mul_up(cn, r->K_merged));
    s->radius = fmax(s->radius_layerwise, s->radius_merged);
    s->radius_pairwise = fmax(s->radius, pairwise(net, r, y, label, delta));
  }
  cb_free(y);
  return rc;
}
