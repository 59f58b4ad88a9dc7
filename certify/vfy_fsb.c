/*
** Filtered smart branching (FSB; De Palma et al. 2021, "Improved branch and
** bound for neural network verification via Lagrangian decomposition",
** Sec. 5) for the beta-CROWN search (vfy_beta.c): a heuristic choice of the
** ReLU neuron to split, never a bound.
**
** Candidates: the neuron the BaBSR rule picks in the first ReLU layer with
** a neuron of unknown sign (vfy_beta.c's rule; candidate 0), and the k
** neurons of best BaBSR score over all layers.  Each candidate is scored
** by the bound of the two children in one CROWN pass of the worst row (the
** caller's row and injected beta terms) with the neuron's relaxation lines
** fixed to its phase (active: y = x; inactive: y = 0) and every other box
** and line as they are: the child's bound without re-bounding the layers
** after it.  The pick minimises the worse child's upper bound of the row;
** candidate 0 wins ties.  The stacked pass leaves the workspace as it
** is, so no bound of the caller changes.
**
** Cost: one CROWN pass of 2 (k + 1) stacked copies of the row per open
** subdomain (per-row lines at the candidates' nodes; one dgemm per layer
** instead of 2 (k + 1) matrix-vector products).  vfy_fsb_children also
** has the one-row-per-child path (the workspace's lines changed and
** restored), which the tests compare with the stacked one.  The scores miss
** what a split at an early layer gives through the re-bounded later layers
** (vfy_beta.c re-bounds them), which is why candidate 0 stays in the set.
*/
#include <math.h>
#include <string.h>
#include "vfy_int.h"

#define FSB_MAX 32

/* BaBSR score of neuron j of ReLU node i (a: the row's matrix there, or NULL); -1 if stable. */
static double babsr(const cb_ws *ws, int p, const double *a, size_t j)
{
  double l = ws->lo[p][j], u = ws->hi[p][j], aj = a ? a[j] : 0;
  if (!(l < 0 && u > 0)) return -1;
  return (aj > 0 ? aj * (-u * l / (u - l)) : 0) + 1e-3 * fabs(aj) * fmin(u, -l) + 1e-9 * fmin(u, -l);
}

/* One child's bound: neuron j of ReLU node i fixed to phase sig in the
   workspace's lines (restored after). */
static int child_bound(cb_ws *ws, int i, size_t j, int sig, const double *row, const double *const *inj,
                       double *out, cb_error *err)
{
  double s[4] = {ws->rl_w[i][j], ws->rl_b[i][j], ws->ru_w[i][j], ws->ru_b[i][j]};
  int rc;
  ws->rl_w[i][j] = ws->ru_w[i][j] = sig > 0 ? 1 : 0;
  ws->rl_b[i][j] = ws->ru_b[i][j] = 0;
  rc = crown_pass_inj_ex(ws, ws->net->output, row, 1, NULL, inj, NULL, NULL, out, err);
  ws->rl_w[i][j] = s[0]; ws->rl_b[i][j] = s[1]; ws->ru_w[i][j] = s[2]; ws->ru_b[i][j] = s[3];
  return rc;
}

/* All 2 n children in one pass of 2 n stacked copies of the row: per-row
   lines (crown_lines) at the nodes holding a candidate, the workspace's
   lines copied with the candidate's neuron fixed (row 2c active, 2c + 1
   inactive); the injected terms copied per row.  The workspace is not
   touched. */
static int children_batched(cb_ws *ws, const double *row, const double *const *inj, const int *node,
                            const size_t *idx, int n, double *up, double *dn, cb_error *err)
{
  const cb_net *net = ws->net;
  size_t q = 2 * (size_t)n, ny = net->node[net->output].size;
  crown_lines *L = cb_calloc((size_t)net->n, sizeof *L);
  double **iq = inj ? cb_calloc((size_t)net->n, sizeof *iq) : NULL, *A = cb_alloc(q * ny * sizeof *A);
  double *out = cb_alloc(q * sizeof *out);
  int rc = CB_ENOMEM;
  if (!L || (inj && !iq) || !A || !out) goto done;
  for (size_t r = 0; r < q; r++) memcpy(A + r * ny, row, ny * sizeof *A);
  for (int c = 0; c < n; c++) {
    int i = node[c];
    size_t sz = net->node[i].size;
    if (!L[i].lw) {
      double *m = cb_alloc(4 * q * sz * sizeof *m);
      if (!m) goto done;
      L[i].lw = m; L[i].lb = m + q * sz; L[i].uw = m + 2 * q * sz; L[i].ub = m + 3 * q * sz;
      for (size_t r = 0; r < q; r++) {
        memcpy(L[i].lw + r * sz, ws->rl_w[i], sz * sizeof *m); memcpy(L[i].lb + r * sz, ws->rl_b[i], sz * sizeof *m);
        memcpy(L[i].uw + r * sz, ws->ru_w[i], sz * sizeof *m); memcpy(L[i].ub + r * sz, ws->ru_b[i], sz * sizeof *m);
      }
    }
    for (int sg = 0; sg < 2; sg++) {
      size_t e = (2 * (size_t)c + (size_t)sg) * sz + idx[c];
      L[i].lw[e] = L[i].uw[e] = sg ? 0 : 1;
      L[i].lb[e] = L[i].ub[e] = 0;
    }
  }
  for (int i = 0; inj && i < net->n; i++) {
    size_t sz = net->node[i].size;
    if (!inj[i]) continue;
    if (!(iq[i] = cb_alloc(q * sz * sizeof **iq))) goto done;
    for (size_t r = 0; r < q; r++) memcpy(iq[i] + r * sz, inj[i], sz * sizeof **iq);
  }
  if ((rc = crown_pass_inj_ex(ws, net->output, A, q, L, (const double *const *)iq, NULL, NULL, out, err)) != CB_OK) goto done;
  for (int c = 0; c < n; c++) { up[c] = out[2 * c]; dn[c] = out[2 * c + 1]; }
done:
  if (rc == CB_ENOMEM) cb_error_set(err, CB_ENOMEM, "out of memory in the branching rule");
  for (int i = 0; i < net->n; i++) { if (L) cb_free(L[i].lw); if (iq) cb_free(iq[i]); }
  cb_free(L); cb_free(iq); cb_free(A); cb_free(out);
  return rc;
}

int vfy_fsb_children(cb_ws *ws, const double *row, const double *const *inj, const int *node, const size_t *idx,
                     int n, int batched, double *up, double *dn, cb_error *err)
{
  if (batched) return children_batched(ws, row, inj, node, idx, n, up, dn, err);
  for (int c = 0; c < n; c++) {
    int rc;
    if ((rc = child_bound(ws, node[c], idx[c], 1, row, inj, &up[c], err)) != CB_OK ||
        (rc = child_bound(ws, node[c], idx[c], -1, row, inj, &dn[c], err)) != CB_OK) return rc;
  }
  return CB_OK;
}

/* Inserts (i, j, s) into the list sorted by decreasing score, positions 1..k. */
static void top_insert(int *cn, size_t *cj, double *cs, int *nc, int k, int i, size_t j, double s)
{
  int at = *nc;
  while (at > 1 && cs[at - 1] < s) at--;
  if (at > k) return;
  if (*nc < k + 1) (*nc)++;
  for (int m = *nc - 1; m > at; m--) { cn[m] = cn[m - 1]; cj[m] = cj[m - 1]; cs[m] = cs[m - 1]; }
  cn[at] = i; cj[at] = j; cs[at] = s;
}

int vfy_fsb_pick(cb_ws *ws, const double *row, const double *const *inj, double *const *keep, int k,
                 double parent, double favour, size_t *idx, cb_error *err)
{
  const cb_net *net = ws->net;
  int cn[FSB_MAX + 1], nc = 1, best = -1;
  size_t cj[FSB_MAX + 1];
  double cs[FSB_MAX + 1], bs = -INFINITY, up[FSB_MAX + 1], dn[FSB_MAX + 1];
  if (k > FSB_MAX) k = FSB_MAX;
  cn[0] = -1; cj[0] = 0; cs[0] = INFINITY;
  for (int i = 0; i < net->n; i++) {   /* candidate 0: the best of the first layer with one */
    double fb = -1;
    if (!node_is_act(&net->node[i], CB_ACT_RELU)) continue;
    for (size_t j = 0; j < net->node[i].size; j++) {
      double s = babsr(ws, net->node[i].in[0], keep[i], j);
      if (s > fb) { fb = s; cn[0] = i; cj[0] = j; }
    }
    if (cn[0] >= 0) break;
  }
  if (cn[0] < 0) return -1;
  for (int i = 0; i < net->n; i++) {   /* the top k of all layers */
    if (!node_is_act(&net->node[i], CB_ACT_RELU)) continue;
    for (size_t j = 0; j < net->node[i].size; j++) {
      double s = babsr(ws, net->node[i].in[0], keep[i], j);
      if (s >= 0 && !(i == cn[0] && j == cj[0])) top_insert(cn, cj, cs, &nc, k, i, j, s);
    }
  }
  if (vfy_fsb_children(ws, row, inj, cn, cj, nc, 1, up, dn, err) != CB_OK) return -2;
  for (int c = 0; c < nc; c++) {
    double g = parent - fmax(up[c], dn[c]);   /* the gain of the worse child */
    if (!c) g *= favour;
    if (best < 0 || g > bs) { bs = g; best = c; }
  }
  *idx = cj[best];
  return cn[best];
}
