/*
** SORT nodes: group layout, stable rank order and the forward pass
** (sort.h).  Insertion sort per group: groups are small (2 for GroupSort2 and
** MaxMin, up to a layer's width for FullSort); O(g^2) per group.
*/
#include "sort.h"

size_t sort_groups(const cb_node *n) { return n->size / (size_t)n->p.sort.g; }

void sort_members(const cb_node *n, size_t k, size_t *idx)
{
  size_t g = (size_t)n->p.sort.g, in = (size_t)n->p.sort.inner, o = k / in, i = k % in;
  for (size_t j = 0; j < g; j++) idx[j] = (o * g + j) * in + i;
}

/* Does member a come before member b in rank order (strictly)? */
static int before(int desc, double a, double b) { return desc ? a > b : a < b; }

void sort_order(const cb_node *n, const double *x, const size_t *idx, size_t *ord)
{
  size_t g = (size_t)n->p.sort.g;
  for (size_t j = 0; j < g; j++) {
    size_t t = j;
    while (t > 0 && before(n->p.sort.desc, x[idx[j]], x[idx[ord[t - 1]]])) { ord[t] = ord[t - 1]; t--; }
    ord[t] = j;
  }
}

/* Is a value a (of member ka) ranked before a value b (of member kb)? */
static int before_tie(int desc, double a, double b, int ka_first) { return before(desc, a, b) || (a == b && ka_first); }

/*
** Member k is certainly ranked before j when its least favourable value is:
** desc: l_k > u_j (or equal with k first); asc: u_k < l_j.  Possibly before:
** desc: u_k > l_j (or equal, k first); asc: l_k < u_j.  Then j's rank lies in
** [#certainly before, #possibly before].
*/
void sort_rank_range(const cb_node *n, const double *l, const double *u, const size_t *idx, size_t *rmin,
                     size_t *rmax)
{
  size_t g = (size_t)n->p.sort.g;
  int d = n->p.sort.desc;
  for (size_t j = 0; j < g; j++) {
    size_t a = 0, b = 0, xj = idx[j];
    for (size_t k = 0; k < g; k++) {
      size_t xk = idx[k];
      if (k == j) continue;
      a += (size_t)(d ? before_tie(1, l[xk], u[xj], k < j) : before_tie(0, u[xk], l[xj], k < j));
      b += (size_t)(d ? before_tie(1, u[xk], l[xj], k < j) : before_tie(0, l[xk], u[xj], k < j));
    }
    rmin[j] = a;
    rmax[j] = b;
  }
}

void sort_values(const cb_node *n, const double *x, const size_t *idx, size_t *ord, double *v)
{
  sort_order(n, x, idx, ord);
  for (size_t r = 0; r < (size_t)n->p.sort.g; r++) v[r] = x[idx[ord[r]]];
}

int sort_forward(const cb_node *n, size_t batch, const double *x, double *y)
{
  size_t g = (size_t)n->p.sort.g, *idx = cb_alloc(2 * g * sizeof *idx), *ord = idx + g;
  if (!idx) return CB_ENOMEM;
  for (size_t s = 0; s < batch; s++)
    for (size_t k = 0; k < sort_groups(n); k++) {
      const double *xs = x + s * n->size;
      sort_members(n, k, idx);
      sort_order(n, xs, idx, ord);
      for (size_t r = 0; r < g; r++) y[s * n->size + idx[r]] = xs[idx[ord[r]]];
    }
  cb_free(idx);
  return CB_OK;
}
