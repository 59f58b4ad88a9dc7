/*
** The canonical graph: kind names, construction, shape checks, dumps.
**
** net_check() is the one place that states how the shapes of each kind
** chain; loaders and canonicalisation call it after building, so every
** analyzer may assume a checked net.  Sizes: tens to thousands of nodes.
*/
#include <assert.h>
#include <math.h>
#include <string.h>
#include "net.h"
#include "round.h"

/*                     name        n_in wtd lin map elt mono pl rlx vrlx */
const cb_kind_facts cb_kind_info[CB_KIND_COUNT] = {
  [CB_INPUT]     = {"INPUT",      0,  0,  1,  1,  1,  1,  1,  0,  0},
  [CB_AFFINE]    = {"AFFINE",     1,  1,  1,  0,  0,  0,  1,  0,  0},
  [CB_SCALE]     = {"SCALE",      1,  1,  1,  0,  1,  0,  1,  0,  0},
  [CB_CONV]      = {"CONV",       1,  1,  1,  0,  0,  0,  1,  0,  0},
  [CB_ADD]       = {"ADD",        2,  0,  1,  0,  0,  1,  1,  0,  0},
  [CB_CONCAT]    = {"CONCAT",    -1,  0,  1,  1,  0,  1,  1,  0,  0},
  [CB_RESHAPE]   = {"RESHAPE",    1,  0,  1,  1,  1,  1,  1,  0,  0},
  [CB_TRANSPOSE] = {"TRANSPOSE",  1,  0,  1,  1,  0,  1,  1,  0,  0},
  [CB_ACT]       = {"ACT",        1,  0,  0,  0,  1,  0,  0,  1,  0},
  [CB_MAXPOOL]   = {"MAXPOOL",    1,  0,  0,  0,  0,  1,  1,  0,  0},
  [CB_SORT]      = {"SORT",       1,  0,  0,  0,  0,  1,  1,  0,  0},
  [CB_MUL]       = {"MUL",        2,  0,  0,  0,  0,  0,  0,  0,  0},
};
static_assert(CB_KIND_COUNT == 12, "a new kind needs its row in cb_kind_info (and every analyzer switch)");

const char *node_kind_name(const cb_node *n) { return n->kind == CB_ACT ? cb_act_table[n->p.act.type].name : cb_kind_info[n->kind].name; }
const cb_act_info *node_act(const cb_node *n) { return n->kind == CB_ACT ? &cb_act_table[n->p.act.type] : NULL; }
int node_is_act(const cb_node *n, cb_act type) { return n->kind == CB_ACT && n->p.act.type == type; }
int node_piecewise_linear(const cb_node *n) { return n->kind == CB_ACT ? node_act(n)->piecewise_linear : cb_kind_info[n->kind].piecewise_linear; }
int node_monotone(const cb_node *n) { return n->kind == CB_ACT ? node_act(n)->monotone(n) : cb_kind_info[n->kind].monotone; }

int net_add_act(cb_net *net, cb_act type, const char *name, const char *op, int in, cb_error *err)
{
  int i = net_add(net, CB_ACT, name, op, &in, 1, &net->node[in].shape, err);
  if (i >= 0) net->node[i].p.act.type = type;
  return i;
}

cb_net *net_new(const char *path, const char *format)
{
  cb_net *net = cb_calloc(1, sizeof *net);
  if (!net) return NULL;
  arena_init(&net->arena);
  net->path = arena_strdup(&net->arena, path);
  net->format = arena_strdup(&net->arena, format);
  net->producer = "";
  net->input_name = net->output_name = "";
  net->output = -1;
  if (!net->path || !net->format) { cb_net_free(net); return NULL; }
  return net;
}

void cb_net_free(cb_net *net)
{
  if (!net) return;
  cb_free(net->node);
  arena_free(&net->arena);
  cb_free(net);
}

double *net_doubles(cb_net *net, size_t n) { return arena_array(&net->arena, n, sizeof(double)); }

/*
** Input normalisation as the net's first node: SCALE y = (x - mean) / std
** with one (mean, std) per channel (dim 1 of an NCHW/NC... input, nc of
** them) or one for all (nc = 1).  Where a = 1/std or b = -mean/std round
** (checked with fma), the node's rel_err is 2u (a and b each within u of the
** real values; the SCALE steps bound a x + b with it) and exact = 0.  The node goes in
** at index 1 (every reader of the input now reads it; indices shift by one),
** so the sets, clip boxes and counterexamples stay in raw input space.
*/
int net_prefix_scale(cb_net *net, const double *mean, const double *std, size_t nc, cb_error *err)
{
  cb_shape shp = net->node[0].shape;   /* a copy: net_add may move the node array */
  const cb_shape *s0 = &shp;
  size_t n0 = net->node[0].size, per, ch = s0->rank >= 2 ? (size_t)s0->dim[1] : n0;
  int zero = 0, idx;
  cb_node nd;
  if (nc != 1 && nc != ch)
    return cb_error_set(err, CB_EUSAGE, "%s: --mean/--std have %zu values; the input has %zu channels (give 1 or %zu)",
                        net->path, nc, ch, ch);
  for (size_t c = 0; c < nc; c++)
    if (!isfinite(mean[c]) || !isfinite(std[c]) || !(std[c] > 0))
      return cb_error_set(err, CB_EUSAGE, "%s: --std must be > 0 and --mean finite (channel %zu)", net->path, c);
  idx = net_add(net, CB_SCALE, "input_normalisation", "--mean/--std", &zero, 1, s0, err);
  if (idx < 0) return idx;
  nd = net->node[idx];
  if (!(nd.p.scale.a = net_doubles(net, n0)) || !(nd.p.scale.b = net_doubles(net, n0)))
    return cb_error_set(err, CB_ENOMEM, "out of memory");
  per = n0 / ch;   /* entries per channel: batch 1, C-order */
  for (size_t e = 0; e < n0; e++) {
    size_t c = nc == 1 ? 0 : (s0->rank >= 2 ? e / per : e);
    nd.p.scale.a[e] = 1 / std[c];
    nd.p.scale.b[e] = -mean[c] / std[c];
  }
  nd.exact = 1;   /* a = 1/std and b = -mean/std may round: then 2u relative */
  for (size_t c = 0; c < nc; c++)
    if (fma(1 / std[c], std[c], -1) != 0 || fma(-mean[c] / std[c], std[c], mean[c]) != 0) nd.exact = 0;
  nd.rel_err = nd.exact ? 0 : 2 * ROUND_U;
  for (int i = 1; i < idx; i++)   /* readers of the input read the new node */
    for (int k = 0; k < net->node[i].n_in; k++) if (net->node[i].in[k] == 0) net->node[i].in[k] = idx;
  if (net->output == 0) net->output = idx;
  memmove(net->node + 2, net->node + 1, (size_t)(idx - 1) * sizeof *net->node);   /* the node to index 1 */
  net->node[1] = nd;
  for (int i = 2; i < net->n; i++)
    for (int k = 0; k < net->node[i].n_in; k++) {
      int j = net->node[i].in[k];
      net->node[i].in[k] = j == idx ? 1 : j >= 1 ? j + 1 : j;
    }
  net->output = net->output == idx ? 1 : net->output >= 1 ? net->output + 1 : net->output;
  return CB_OK;
}

void net_warn(cb_net *net, const char *msg)
{
  if (net->n_warn < (int)(sizeof net->warn / sizeof net->warn[0]))
    net->warn[net->n_warn++] = arena_strdup(&net->arena, msg);
}

size_t shape_size(const cb_shape *s)
{
  size_t n = 1;
  for (int i = 0; i < s->rank; i++) n *= (size_t)s->dim[i];
  return n;
}

int shape_set(cb_shape *s, int rank, const int64_t *dim)
{
  if (rank < 0 || rank > CB_MAX_RANK) return 0;
  s->rank = rank;
  for (int i = 0; i < rank; i++) s->dim[i] = dim[i];
  return 1;
}

void shape_str(const cb_shape *s, char *buf, size_t n)
{
  size_t k = 0;
  k += (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < s->rank && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)s->dim[i]);
  if (k < n) snprintf(buf + k, n - k, "]");
}

/* Appends a node; shape dims must be positive and the size sane.  shape
   may point into net->node (a node's own shape): it is copied before the
   node array grows. */
int net_add(cb_net *net, cb_kind kind, const char *name, const char *op,
            const int *in, int n_in, const cb_shape *shape_in, cb_error *err)
{
  cb_node *nd;
  size_t size = 1;
  const cb_shape sh = *shape_in, *shape = &sh;
  for (int i = 0; i < shape->rank; i++)
    if (shape->dim[i] <= 0 || !cb_mul_size(size, (size_t)shape->dim[i], &size))
      return cb_error_set(err, CB_ENOMEM, "%s: node \"%s\" (op %s): absurd or empty tensor shape",
                          net->path, name, op);
  for (int i = 0; i < n_in; i++)
    if (in[i] < 0 || in[i] >= net->n)
      return cb_error_set(err, CB_EINTERNAL, "%s: node \"%s\": bad input index", net->path, name);
  if (net->n == net->cap) {
    int cap = net->cap ? 2 * net->cap : 16;
    cb_node *nn = cb_calloc((size_t)cap, sizeof *nn);
    if (!nn) return cb_error_set(err, CB_ENOMEM, "%s: out of memory", net->path);
    if (net->n) memcpy(nn, net->node, (size_t)net->n * sizeof *nn);
    cb_free(net->node);
    net->node = nn;
    net->cap = cap;
  }
  nd = &net->node[net->n];
  memset(nd, 0, sizeof *nd);
  nd->kind = kind;
  nd->name = arena_strdup(&net->arena, name);
  nd->op = arena_strdup(&net->arena, op);
  nd->in = arena_array(&net->arena, (size_t)(n_in ? n_in : 1), sizeof(int));
  if (!nd->name || !nd->op || !nd->in)
    return cb_error_set(err, CB_ENOMEM, "%s: out of memory", net->path);
  nd->n_in = n_in;
  for (int i = 0; i < n_in; i++) nd->in[i] = in[i];
  nd->shape = *shape;
  nd->size = size;
  nd->exact = 1;
  return net->n++;
}

int conv_out_dim(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t d, int64_t *out)
{
  int64_t span;
  if (in <= 0 || k <= 0 || s <= 0 || d <= 0 || p0 < 0 || p1 < 0) return 0;
  if (k > (1 << 20) || d > (1 << 20) || p0 > (1 << 20) || p1 > (1 << 20)) return 0;
  span = d * (k - 1) + 1;
  if (in + p0 + p1 < span) return 0;
  *out = (in + p0 + p1 - span) / s + 1;
  return 1;
}

static int all_finite(const double *v, size_t n)
{
  for (size_t i = 0; i < n; i++) if (!isfinite(v[i])) return 0;
  return 1;
}

/* Geometry of a window op: output dims follow from input dims. */
static int geom_ok(const cb_conv *g)
{
  int64_t ho, wo;
  return conv_out_dim(g->hin, g->kh, g->sh, g->pt, g->pb, g->dh, &ho) &&
         conv_out_dim(g->win, g->kw, g->sw, g->pl, g->pr, g->dw, &wo) &&
         ho == g->hout && wo == g->wout;
}

static int check_node(const cb_net *net, int i, cb_error *err)
{
  const cb_node *nd = &net->node[i];
  const cb_node *x = nd->n_in > 0 ? &net->node[nd->in[0]] : NULL;
  const char *bad = NULL;
  for (int k = 0; k < nd->n_in; k++)
    if (nd->in[k] < 0 || nd->in[k] >= i) bad = "input is not earlier in topological order";
  if (bad) goto out;
  if (nd->kind != CB_INPUT && nd->kind != CB_CONCAT && nd->kind != CB_ADD && nd->kind != CB_MUL &&
      nd->n_in != 1)
    { bad = "wrong number of inputs"; goto out; }
  switch (nd->kind) {
  case CB_INPUT:
    if (i != 0 || nd->n_in != 0) bad = "input node must be node 0 with no inputs";
    break;
  case CB_AFFINE:
    if (x->size != nd->p.aff.in || nd->size != nd->p.aff.out) bad = "weight shape does not chain";
    else if (!all_finite(nd->p.aff.W, nd->p.aff.out * nd->p.aff.in) ||
             !all_finite(nd->p.aff.b, nd->p.aff.out)) bad = "NaN or infinite weight";
    break;
  case CB_SCALE:
    if (x->size != nd->size) bad = "size changes";
    else if (!all_finite(nd->p.scale.a, nd->size) || !all_finite(nd->p.scale.b, nd->size))
      bad = "NaN or infinite constant";
    break;
  case CB_CONV: {
    const cb_conv *g = &nd->p.conv.g;
    if (g->groups <= 0 || g->cin % g->groups || g->cout % g->groups) bad = "bad groups";
    else if (!geom_ok(g)) bad = "conv geometry inconsistent";
    else if (x->size != (size_t)(g->cin * g->hin * g->win) ||
             nd->size != (size_t)(g->cout * g->hout * g->wout)) bad = "conv sizes do not chain";
    else if (!all_finite(nd->p.conv.W, (size_t)(g->cout * (g->cin / g->groups) * g->kh * g->kw)) ||
             !all_finite(nd->p.conv.b, (size_t)g->cout)) bad = "NaN or infinite weight";
    break;
  }
  case CB_ADD:
    if (nd->n_in != 2 || net->node[nd->in[0]].size != nd->size ||
        net->node[nd->in[1]].size != nd->size) bad = "ADD operands differ in size";
    break;
  case CB_MUL:
    if (nd->n_in != 2) { bad = "MUL needs two operands"; break; }
    for (int k = 0; k < 2 && !bad; k++) {
      const size_t *ix = k ? nd->p.mul.i1 : nd->p.mul.i0;
      size_t m = net->node[nd->in[k]].size;
      if (!ix && m != nd->size) bad = "MUL operand differs in size and has no index map";
      for (size_t e = 0; ix && e < nd->size && !bad; e++) if (ix[e] >= m) bad = "MUL index map out of range";
    }
    break;
  case CB_CONCAT: {
    size_t s = 0;
    for (int k = 0; k < nd->n_in; k++) s += net->node[nd->in[k]].size;
    if (nd->n_in < 1 || s != nd->size) bad = "CONCAT sizes do not add up";
    break;
  }
  case CB_TRANSPOSE:
    if (x->shape.rank != nd->shape.rank) { bad = "rank changes"; break; }
    for (int k = 0; k < nd->shape.rank; k++) {
      int pk = nd->p.transpose.perm[k];
      if (pk < 0 || pk >= nd->shape.rank || x->shape.dim[pk] != nd->shape.dim[k])
        bad = "bad permutation";
    }
    break;
  case CB_MAXPOOL: {
    const cb_conv *g = &nd->p.pool.g;
    if (!geom_ok(g) || x->size != (size_t)(g->cin * g->hin * g->win) ||
        nd->size != (size_t)(g->cin * g->hout * g->wout)) bad = "pool sizes do not chain";
    else if (g->pt >= g->kh || g->pb >= g->kh || g->pl >= g->kw || g->pr >= g->kw)
      bad = "pad not smaller than the window";
    break;
  }
  case CB_SORT:
    if (x->size != nd->size) { bad = "size changes"; break; }
    if (nd->p.sort.g < 1 || nd->p.sort.inner < 1 || nd->size % (size_t)(nd->p.sort.g * nd->p.sort.inner))
      bad = "sort groups do not tile the tensor";
    break;
  case CB_ACT:
    if ((unsigned)nd->p.act.type >= CB_ACT_COUNT) { bad = "invalid activation"; break; }
    if (node_is_act(nd, CB_ACT_CLIP) && !(nd->p.act.lo <= nd->p.act.hi)) bad = "clip min > max";
    if (!isfinite(nd->p.act.alpha)) bad = "alpha not finite";
    /* fall through */
  case CB_RESHAPE:
    if (!bad && x->size != nd->size) bad = "size changes";
    break;
  case CB_KIND_COUNT:
    bad = "invalid kind";
    break;
  }
out:
  if (bad)
    return cb_error_set(err, CB_ESHAPE, "%s: node \"%s\" (op %s, %s): %s", net->path,
                        nd->name, nd->op, node_kind_name(nd), bad);
  return CB_OK;
}

int net_check(const cb_net *net, cb_error *err)
{
  int rc;
  if (net->n < 1 || net->node[0].kind != CB_INPUT)
    return cb_error_set(err, CB_ESHAPE, "%s: network has no input", net->path);
  if (net->output < 0 || net->output >= net->n)
    return cb_error_set(err, CB_ESHAPE, "%s: network has no output", net->path);
  for (int i = 0; i < net->n; i++)
    if ((rc = check_node(net, i, err)) != CB_OK) return rc;
  return CB_OK;
}

size_t net_param_count(const cb_net *net)
{
  size_t n = 0;
  for (int i = 0; i < net->n; i++) {
    const cb_node *nd = &net->node[i];
    switch (nd->kind) {
    case CB_AFFINE: n += nd->p.aff.out * (nd->p.aff.in + 1); break;
    case CB_SCALE: n += 2 * nd->size; break;
    case CB_CONV: {
      const cb_conv *g = &nd->p.conv.g;
      n += (size_t)(g->cout * (g->cin / g->groups * g->kh * g->kw + 1));
      break;
    }
    case CB_INPUT: case CB_ADD: case CB_CONCAT: case CB_RESHAPE: case CB_TRANSPOSE:
    case CB_ACT: case CB_MAXPOOL: case CB_SORT: case CB_MUL: case CB_KIND_COUNT:
      break;
    }
  }
  return n;
}

void cb_net_dump(const cb_net *net, FILE *f)
{
  char sh[128];
  for (int i = 0; i < net->n; i++) {
    const cb_node *nd = &net->node[i];
    shape_str(&nd->shape, sh, sizeof sh);
    fprintf(f, "%3d %-10s %-18s in=", i, node_kind_name(nd), nd->op);
    for (int k = 0; k < nd->n_in; k++) fprintf(f, "%s%d", k ? "," : "", nd->in[k]);
    if (!nd->n_in) fprintf(f, "-");
    fprintf(f, " shape=%s \"%s\"%s\n", sh, nd->name, nd->exact ? "" : " (rounded)");
  }
}

size_t cb_net_input_size(const cb_net *net) { return net ? net->node[0].size : 0; }
size_t cb_net_output_size(const cb_net *net) { return net ? net->node[net->output].size : 0; }
