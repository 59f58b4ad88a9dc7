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
** candidate 0 wins ties.  The workspace's lines are restored exactly (the
** lines of one neuron, four doubles), so no bound of the caller changes.
**
** Cost: 2 (k + 1) one-row CROWN passes per open subdomain.  The scores miss
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

/* One child's bound: neuron j of ReLU node i fixed to phase sig. */
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
  double cs[FSB_MAX + 1], bs = -INFINITY;
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
  for (int c = 0; c < nc; c++) {
    double up, dn, g;
    if (child_bound(ws, cn[c], cj[c], 1, row, inj, &up, err) != CB_OK ||
        child_bound(ws, cn[c], cj[c], -1, row, inj, &dn, err) != CB_OK) return -2;
    g = parent - fmax(up, dn);   /* the gain of the worse child */
    if (!c) g *= favour;
    if (best < 0 || g > bs) { bs = g; best = c; }
  }
  *idx = cj[best];
  return cn[best];
}
