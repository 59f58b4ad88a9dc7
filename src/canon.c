/*
** Canonicalisation: exact rewrites of the loaded graph, then compaction.
**
**  - a zero-padding CONV (depthwise 1x1 identity, from Pad) whose only
**    consumer is a CONV is merged into that conv's pads:  conv_p(pad_q(x)) =
**    conv_{p+q}(x), exact;
**  - a SCALE y = a.*x + c right after an AFFINE/CONV that feeds nothing else
**    is folded into its weights and bias when every product and sum is exact
**    in double (checked with fma); ACAS Xu's MatMul + Add becomes one AFFINE;
**  - SCALE with a = 1, b = 0, and RESHAPE to the same shape, are removed;
**    RESHAPE of RESHAPE reads the original;
**  - GroupSort exports fold to one SORT (canon_sort.c, first);
**  - nodes that do not reach the output are dropped.
** Runs once per load; O(nodes + parameters).
*/
#include <math.h>
#include <string.h>
#include "net.h"

/* Number of consumers of each node (the output counts as one). */
static void count_uses(const cb_net *net, int *uses)
{
  memset(uses, 0, (size_t)net->n * sizeof *uses);
  for (int i = 0; i < net->n; i++)
    for (int k = 0; k < net->node[i].n_in; k++) uses[net->node[i].in[k]]++;
  uses[net->output]++;
}

static int is_pad_conv(const cb_node *n)
{
  const cb_conv *g = &n->p.conv.g;
  if (n->kind != CB_CONV || g->kh != 1 || g->kw != 1 || g->sh != 1 || g->sw != 1 ||
      g->groups != g->cin || g->cout != g->cin) return 0;
  for (int64_t c = 0; c < g->cout; c++) if (n->p.conv.W[c] != 1 || n->p.conv.b[c] != 0) return 0;
  return 1;
}

/* Replaces every use of node `from` by node `to`. */
static void redirect(cb_net *net, int from, int to)
{
  for (int i = 0; i < net->n; i++)
    for (int k = 0; k < net->node[i].n_in; k++)
      if (net->node[i].in[k] == from) net->node[i].in[k] = to;
  if (net->output == from) net->output = to;
}

static int merge_pad(cb_net *net, int i, const int *uses)
{
  cb_node *b = &net->node[i], *a;
  if (b->kind != CB_CONV) return 0;
  a = &net->node[b->in[0]];
  if (!is_pad_conv(a) || uses[b->in[0]] != 1) return 0;
  b->p.conv.g.pt += a->p.conv.g.pt; b->p.conv.g.pb += a->p.conv.g.pb;
  b->p.conv.g.pl += a->p.conv.g.pl; b->p.conv.g.pr += a->p.conv.g.pr;
  b->p.conv.g.hin = a->p.conv.g.hin; b->p.conv.g.win = a->p.conv.g.win;
  b->in[0] = a->in[0];
  return 1;
}

/* s = a*x + c exactly, or returns 0. */
static int exact_axpc(double a, double x, double c, double *s)
{
  double p = a * x, r;
  if (fma(a, x, -p) != 0) return 0;
  r = p + c;
  if ((r - p) != c || (r - c) != p) return 0;
  *s = r;
  return 1;
}

/* Folds SCALE node i into the AFFINE/CONV before it, when exact. */
static int fold_scale(cb_net *net, int i, const int *uses)
{
  cb_node *s = &net->node[i], *w;
  size_t rows, cols;
  double *W, *b;
  if (s->kind != CB_SCALE || uses[s->in[0]] != 1) return 0;
  w = &net->node[s->in[0]];
  if (w->kind == CB_AFFINE) { rows = w->p.aff.out; cols = w->p.aff.in; W = w->p.aff.W; b = w->p.aff.b; }
  else if (w->kind == CB_CONV) {
    rows = (size_t)w->p.conv.g.cout;
    cols = (size_t)(w->p.conv.g.cin / w->p.conv.g.groups * w->p.conv.g.kh * w->p.conv.g.kw);
    W = w->p.conv.W; b = w->p.conv.b;
    for (size_t e = 0; e < s->size; e++) {  /* the scale must be constant per channel */
      size_t c = e / (s->size / rows), c0 = c * (s->size / rows);
      if (s->p.scale.a[e] != s->p.scale.a[c0] || s->p.scale.b[e] != s->p.scale.b[c0]) return 0;
    }
  } else return 0;
  for (size_t r = 0; r < rows; r++) {
    size_t e = r * (s->size / rows);
    double t;
    if (!exact_axpc(s->p.scale.a[e], b[r], s->p.scale.b[e], &t)) return 0;
    for (size_t k = 0; k < cols; k++) if (!exact_axpc(s->p.scale.a[e], W[r * cols + k], 0, &t)) return 0;
  }
  for (size_t r = 0; r < rows; r++) {
    size_t e = r * (s->size / rows);
    exact_axpc(s->p.scale.a[e], b[r], s->p.scale.b[e], &b[r]);
    for (size_t k = 0; k < cols; k++) W[r * cols + k] *= s->p.scale.a[e];
  }
  redirect(net, i, s->in[0]);
  return 1;
}

static int is_identity(const cb_net *net, const cb_node *n)
{
  const cb_node *x;
  if (n->kind == CB_SCALE) {
    if (!n->exact && n->rel_err > 0) return 0;   /* a rounded a = 1 stands for a real a != 1 */
    for (size_t e = 0; e < n->size; e++) if (n->p.scale.a[e] != 1 || n->p.scale.b[e] != 0) return 0;
    return 1;
  }
  if (n->kind != CB_RESHAPE) return 0;
  x = &net->node[n->in[0]];
  if (x->shape.rank != n->shape.rank) return 0;
  for (int k = 0; k < n->shape.rank; k++) if (x->shape.dim[k] != n->shape.dim[k]) return 0;
  return 1;
}

/* Drops nodes that do not reach the output; keeps topological order. */
static int compact(cb_net *net, cb_error *err)
{
  char *live = cb_calloc((size_t)net->n, 1);
  int *map = cb_calloc((size_t)net->n, sizeof *map), m = 0;
  if (!live || !map) { cb_free(live); cb_free(map); return cb_error_set(err, CB_ENOMEM, "%s: out of memory", net->path); }
  live[0] = 1;
  live[net->output] = 1;
  for (int i = net->n - 1; i >= 0; i--)
    if (live[i]) for (int k = 0; k < net->node[i].n_in; k++) live[net->node[i].in[k]] = 1;
  for (int i = 0; i < net->n; i++) {
    if (!live[i]) continue;
    map[i] = m;
    net->node[m] = net->node[i];
    for (int k = 0; k < net->node[m].n_in; k++) net->node[m].in[k] = map[net->node[m].in[k]];
    m++;
  }
  net->output = map[net->output];
  net->n = m;
  cb_free(live);
  cb_free(map);
  return CB_OK;
}

int canon_run(cb_net *net, cb_error *err)
{
  int *uses, rc = canon_sort(net, err);
  if (rc != CB_OK) return rc;
  if (!(uses = cb_calloc((size_t)net->n, sizeof *uses))) return cb_error_set(err, CB_ENOMEM, "%s: out of memory", net->path);
  for (int i = 1; i < net->n; i++) {
    cb_node *n = &net->node[i];
    count_uses(net, uses);
    if (merge_pad(net, i, uses) || fold_scale(net, i, uses)) continue;
    if (is_identity(net, n)) { redirect(net, i, n->in[0]); continue; }
    if (n->kind == CB_RESHAPE && net->node[n->in[0]].kind == CB_RESHAPE)
      n->in[0] = net->node[n->in[0]].in[0];
  }
  cb_free(uses);
  return compact(net, err);
}
