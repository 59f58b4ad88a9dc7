/*
** Canonicalisation of GroupSort exports (onnx_sort.c builds them from
** selections, CONCATs and SORTs): exact rewrites so that every export of one
** activation gives the same graph, and with it the same bounds and the same
** Lipschitz constant.
**   R1  a CONCAT or selection whose index-map ancestors (RESHAPE, TRANSPOSE,
**       CONCAT, selections; at least one selection) all read one node x is
**       one selection of x (a RESHAPE when it is x's entries in order);
**   R2  P2 SORT(P1 x), P1 and P2 permutations, is SORT'(x) when the groups of
**       P1 x are, in x, groups of one stride and P2 puts rank r back at the
**       r-th member: checked entry by entry, else left alone;
**   R3  a SORT all of whose live readers are RESHAPEs reads through the
**       RESHAPEs before it and takes its input's shape (SORT is defined on
**       flat indices), so the RESHAPEs around it become identities;
**   R4  a chain of RESHAPEs that ends in a node of its own shape is that node.
** A selection is an AFFINE with unit rows and zero bias.  Sizes: the label
** pass is one forward evaluation of the index maps per candidate; ordinary
** nets have no selection and cost one scan of their AFFINE weights.
*/
#include <string.h>
#include "forward.h"
#include "net.h"

/* AFFINE with every row a unit vector e_j and b = 0: y_r = x_{map[r]}. */
static int is_select(const cb_node *n)
{
  if (n->kind != CB_AFFINE) return 0;
  for (size_t r = 0; r < n->p.aff.out; r++) {
    const double *w = n->p.aff.W + r * n->p.aff.in;
    int ones = 0;
    if (n->p.aff.b[r] != 0) return 0;
    for (size_t c = 0; c < n->p.aff.in; c++) {
      if (w[c] == 1) ones++;
      else if (w[c] != 0) return 0;
    }
    if (ones != 1) return 0;
  }
  return 1;
}

static int is_index(const cb_node *n)
{
  return n->kind == CB_RESHAPE || n->kind == CB_TRANSPOSE || n->kind == CB_CONCAT || is_select(n);
}

/* Walks the index maps above node i: in_region[] marks them, returns the one
   node they all read (or -1), *sel = whether a selection is among them. */
static int frontier(const cb_net *net, int i, char *in_region, int *sel)
{
  int src = -1;
  for (int j = i; j >= 1; j--) {
    if (!in_region[j]) continue;
    *sel |= is_select(&net->node[j]);
    for (int k = 0; k < net->node[j].n_in; k++) {
      int p = net->node[j].in[k];
      if (p > 0 && is_index(&net->node[p])) in_region[p] = 1;
      else if (src < 0 || src == p) src = p;
      else return -1;
    }
  }
  return src;
}

/* Makes node i the selection y_r = x_{map[r]} of node x (a RESHAPE when map
   is x's entries in order). */
static int make_select(cb_net *net, int i, int x, const size_t *map)
{
  cb_node *n = &net->node[i];
  size_t rows = n->size, cols = net->node[x].size, id = rows == cols;
  for (size_t r = 0; id && r < rows; r++) id = map[r] == r;
  n->n_in = 1;
  n->in[0] = x;
  n->exact = 1;
  n->rel_err = 0;
  n->w_init = NULL;
  if (id) { n->kind = CB_RESHAPE; return CB_OK; }
  n->kind = CB_AFFINE;
  n->p.aff.out = rows;
  n->p.aff.in = cols;
  n->p.aff.W = net_doubles(net, rows * cols);
  n->p.aff.b = net_doubles(net, rows);
  if (!n->p.aff.W || !n->p.aff.b) return CB_ENOMEM;
  for (size_t r = 0; r < rows; r++) n->p.aff.W[r * cols + map[r]] = 1;
  return CB_OK;
}

/* R1 at node i; *changed set when rewritten. */
static int collapse(cb_net *net, int i, int *changed, cb_error *err)
{
  char *reg;
  double **act;
  int x, sel = 0, rc = CB_OK, nreg = 0;
  size_t *map = NULL;
  if (net->node[i].kind != CB_CONCAT && !is_select(&net->node[i])) return CB_OK;
  reg = cb_calloc((size_t)net->n, 1);
  act = cb_calloc((size_t)net->n, sizeof *act);
  if (!reg || !act) { rc = CB_ENOMEM; goto out; }
  reg[i] = 1;
  if ((x = frontier(net, i, reg, &sel)) < 0 || !sel) goto out;
  for (int j = 0; j <= i; j++) nreg += reg[j];
  if (!(act[x] = cb_alloc(net->node[x].size * sizeof **act)) || !(map = cb_alloc(net->node[i].size * sizeof *map))) {
    rc = CB_ENOMEM;
    goto out;
  }
  for (size_t e = 0; e < net->node[x].size; e++) act[x][e] = (double)e;   /* labels */
  for (int j = x + 1; j <= i && rc == CB_OK; j++) {
    if (!reg[j]) continue;
    if (!(act[j] = cb_alloc(net->node[j].size * sizeof **act))) rc = CB_ENOMEM;
    else rc = fwd_node(net, j, 1, act, err);
  }
  if (rc != CB_OK) goto out;
  for (size_t e = 0; e < net->node[i].size; e++) {
    double v = act[i][e];
    if (!(v >= 0 && v < (double)net->node[x].size && v == (double)(size_t)v)) goto out;
    map[e] = (size_t)v;
  }
  if (nreg == 1) {   /* a selection of x already: only the identity is worth a rewrite */
    int id = net->node[i].size == net->node[x].size;
    for (size_t e = 0; id && e < net->node[i].size; e++) id = map[e] == e;
    if (!id) goto out;
  }
  if ((rc = make_select(net, i, x, map)) != CB_OK) goto out;
  *changed = 1;
out:
  for (int j = 0; act && j < net->n; j++) cb_free(act[j]);
  cb_free(act);
  cb_free(reg);
  cb_free(map);
  if (rc == CB_ENOMEM) return cb_error_set(err, rc, "%s: out of memory", net->path);
  return rc;
}

/* The map of a selection that is a permutation, or NULL (inv: its inverse). */
static int perm_of(const cb_node *n, size_t *map, size_t *inv)
{
  if (!is_select(n) || n->p.aff.in != n->p.aff.out) return 0;
  for (size_t c = 0; c < n->size; c++) inv[c] = (size_t)-1;
  for (size_t r = 0; r < n->size; r++) {
    const double *w = n->p.aff.W + r * n->p.aff.in;
    size_t c = 0;
    while (w[c] != 1) c++;
    if (inv[c] != (size_t)-1) return 0;
    map[r] = c;
    inv[c] = r;
  }
  return 1;
}

/* R2 at node w (see the header). */
static int conjugate(cb_net *net, int w, int *changed)
{
  cb_node *W = &net->node[w], *S;
  size_t n = W->size, *m1, *i1, *m2, *i2, *xm, g, in, stride = 0;
  int z, ok = 0;
  if (!is_select(W) || net->node[W->in[0]].kind != CB_SORT) return CB_OK;
  S = &net->node[W->in[0]];
  z = S->in[0];
  g = (size_t)S->p.sort.g;
  in = (size_t)S->p.sort.inner;
  if (g < 2 || S->size != n || net->node[z].size != n || !is_select(&net->node[z])) return CB_OK;
  if (!(m1 = cb_alloc(5 * n * sizeof *m1))) return CB_ENOMEM;
  i1 = m1 + n; m2 = i1 + n; i2 = m2 + n; xm = i2 + n;
  if (!perm_of(&net->node[z], m1, i1) || !perm_of(W, m2, i2)) goto out;
  for (size_t k = 0; k < n / g; k++) {   /* group k of S: members h_j, in x at m1[h_j] */
    size_t o = k / in, i = k % in, base = (size_t)-1;
    for (size_t j = 0; j < g; j++) { xm[j] = m1[(o * g + j) * in + i]; base = xm[j] < base ? xm[j] : base; }
    if (k == 0) {
      size_t second = (size_t)-1;
      for (size_t j = 0; j < g; j++) if (xm[j] > base && xm[j] < second) second = xm[j];
      stride = second - base;
    }
    if (stride == 0 || base % (g * stride) >= stride) goto out;
    for (size_t r = 0; r < g; r++)   /* rank r's output lands on the r-th member of the x-group */
      if (i2[(o * g + r) * in + i] != base + r * stride) goto out;
    for (size_t j = 0; j < g; j++) {   /* and the x-group is exactly {base + t stride} */
      size_t t = (xm[j] - base) / stride;
      if (xm[j] < base || (xm[j] - base) % stride || t >= g) goto out;
    }
  }
  ok = stride > 0 && n % (g * stride) == 0;
out:
  if (ok) {
    int desc = S->p.sort.desc, x = net->node[z].in[0];
    W->kind = CB_SORT;
    W->in[0] = x;
    W->p.sort.g = (int64_t)g;
    W->p.sort.inner = (int64_t)stride;
    W->p.sort.desc = desc;
    *changed = 1;
  }
  cb_free(m1);
  return CB_OK;
}

/* R3 at SORT node i. */
static void through_reshapes(cb_net *net, int i, const char *live, int *changed)
{
  cb_node *n = &net->node[i];
  int x = n->in[0];
  if (n->kind != CB_SORT || i == net->output) return;
  for (int j = i + 1; j < net->n; j++)
    for (int k = 0; k < net->node[j].n_in; k++)
      if (live[j] && net->node[j].in[k] == i && net->node[j].kind != CB_RESHAPE) return;
  while (net->node[x].kind == CB_RESHAPE) x = net->node[x].in[0];
  if (x == n->in[0] && n->shape.rank == net->node[x].shape.rank &&
      !memcmp(n->shape.dim, net->node[x].shape.dim, (size_t)n->shape.rank * sizeof n->shape.dim[0])) return;
  n->in[0] = x;
  n->shape = net->node[x].shape;
  *changed = 1;
}

/* R4: a RESHAPE chain that ends in a node of the same shape is that node. */
static void drop_reshapes(cb_net *net)
{
  for (int i = 1; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    int x = i;
    if (n->kind != CB_RESHAPE) continue;
    while (net->node[x].kind == CB_RESHAPE) x = net->node[x].in[0];
    if (net->node[x].shape.rank != n->shape.rank ||
        memcmp(net->node[x].shape.dim, n->shape.dim, (size_t)n->shape.rank * sizeof n->shape.dim[0])) continue;
    for (int j = i + 1; j < net->n; j++)
      for (int k = 0; k < net->node[j].n_in; k++) if (net->node[j].in[k] == i) net->node[j].in[k] = x;
    if (net->output == i) net->output = x;
  }
}

static void mark_live(const cb_net *net, char *live)
{
  memset(live, 0, (size_t)net->n);
  live[net->output] = 1;
  for (int i = net->n - 1; i >= 0; i--)
    if (live[i]) for (int k = 0; k < net->node[i].n_in; k++) live[net->node[i].in[k]] = 1;
}

int canon_sort(cb_net *net, cb_error *err)
{
  char *live;
  int changed = 1, rc = CB_OK, any = 0;
  for (int i = 1; i < net->n; i++) any |= net->node[i].kind == CB_SORT;
  if (!any) return CB_OK;
  if (!(live = cb_alloc((size_t)net->n))) return cb_error_set(err, CB_ENOMEM, "%s: out of memory", net->path);
  for (int pass = 0; changed && pass < 8 && rc == CB_OK; pass++) {
    changed = 0;
    mark_live(net, live);
    for (int i = 1; i < net->n && rc == CB_OK; i++) {
      if (!live[i]) continue;
      if ((rc = collapse(net, i, &changed, err)) != CB_OK) break;
      if ((rc = conjugate(net, i, &changed)) != CB_OK) { rc = cb_error_set(err, rc, "%s: out of memory", net->path); break; }
      through_reshapes(net, i, live, &changed);
    }
  }
  if (rc == CB_OK) drop_reshapes(net);
  cb_free(live);
  return rc;
}
