/*
** Local Lipschitz brackets over a ball (liplocal.h has the contract,
** docs/soundness.md "Local brackets" the argument).  Open sign patterns sit
** in a binary max-heap on their bound; each step pops the top and bounds its
** two children (one interval-Jacobian pass each, the fixed neurons' input
** bounds replaced by [1, 1] or [-1, -1], which the backward pass reads as a
** derivative of 1 or the negative slope).  The lower side samples the ball.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "grad.h"
#include "jacobian.h"
#include "lipbab.h"
#include "liplocal.h"
#include "ubheap.h"

void liplocal_opts_init(liplocal_opts *o)
{
  memset(o, 0, sizeof *o);
  o->max_nodes = 64;
  o->gap = 1e-3;
  o->samples = 32;
  o->seed = 1;
}

static double urand01(uint64_t *s)   /* splitmix64 -> [0, 1) */
{
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

static double gauss(uint64_t *s)
{
  double u = urand01(s), v = urand01(s);
  return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

/* One unstable neuron: its pre-activation node and entry, its bounds. */
typedef struct unit { int node; size_t e; double l, h, score; } unit;

/* Largest score first (unit_scores); ties: the deeper node first. */
static int unit_cmp(const void *a, const void *b)
{
  const unit *p = a, *q = b;
  double sp = p->score, sq = q->score;
  if (sp == sq && p->node != q->node) return p->node > q->node ? -1 : 1;
  return sp > sq ? -1 : sp < sq ? 1 : 0;
}

typedef struct pnode { double ub; int depth; signed char s[]; } pnode;

/* 1 when node i is a ReLU / LeakyReLU whose input node feeds nothing else:
   a split overwrites that node's bounds during one backward pass, which
   only node i may read (another consumer would see [1, 1] or [-1, -1]). */
static int splittable(const cb_net *net, int i)
{
  const cb_node *nd = &net->node[i];
  int uses = 0;
  if (!node_is_act(nd, CB_ACT_RELU) && !node_is_act(nd, CB_ACT_LEAKY_RELU)) return 0;
  for (int k = 0; k < net->n; k++) {
    const cb_node *o = &net->node[k];
    for (int a = 0; a < o->n_in; a++) uses += o->in[a] == nd->in[0];
  }
  return uses == 1 && nd->in[0] != net->output;
}

/* Bound of the row with the first depth units fixed to the signs s. */
static int bound_pattern(cb_ws *ws, const unit *U, const signed char *s, int depth, const double *c,
                         const lip_result *lr, double *jlo, double *jhi, double *L, cb_error *err)
{
  int rc;
  for (int k = 0; k < depth; k++) ws->lo[U[k].node][U[k].e] = ws->hi[U[k].node][U[k].e] = s[k];
  rc = jac_interval_lip(ws, c, 1, lr, jlo, jhi, L, err);
  for (int k = 0; k < depth; k++) { ws->lo[U[k].node][U[k].e] = U[k].l; ws->hi[U[k].node][U[k].e] = U[k].h; }
  if (rc == CB_OK && !(*L >= 0)) rc = cb_error_set(err, CB_EVALUE, "local Lipschitz bracket: a pattern's bound is not a number");
  return rc;
}

/* 1 when the point lies in the set of ws (ball of its norm, clip box). */
static int in_set(const cb_set *s, const double *y)
{
  double a = 0;
  for (size_t k = 0; k < s->n; k++) {
    double d = fabs(y[k] - s->center[k]);
    if (s->lo && (y[k] < s->lo[k] || y[k] > s->hi[k])) return 0;
    if (s->norm == CB_NORM_2) a += d * d;
    else if (s->norm == CB_NORM_1) a += d;
    else a = fmax(a, d);
  }
  if (s->norm == CB_NORM_2) a = sqrt(a);
  return a <= s->eps;
}

/* 1 when no piecewise-linear activation of the last grad_eval has its input
   within a relative 1e-9 of a kink (lipbab.c's rule). */
static int off_kinks(const cb_net *net, const cb_grad *g)
{
  for (int i = 0; i < net->n; i++) {
    const cb_node *nd = &net->node[i];
    const double *v;
    if (nd->kind != CB_ACT || !node_piecewise_linear(nd)) continue;
    v = grad_value(g, nd->in[0]);
    for (size_t e = 0; e < nd->size; e++) {
      double d = 1e-9 * (1 + fabs(v[e])), dl, dh;
      node_act(nd)->drange(nd, v[e] - d, v[e] + d, &dl, &dh);
      if (dh - dl > 1e-12 * (1 + fabs(dh))) return 0;
    }
  }
  return 1;
}

/* Lower: the centre, then random points of the set (half on its boundary
   sphere, scaled by 1 - 1e-9, half inside), clamped to the clip box. */
static int lower_row(const cb_ws *ws, const double *c, const liplocal_opts *o, double *best, double *pt,
                     cb_error *err)
{
  const cb_set *s = &ws->set;
  size_t n = s->n;
  cb_grad *g = grad_new(ws->net, 1, err);
  double *y = cb_alloc(2 * n * sizeof *y), *G;
  uint64_t rng = o->seed ? o->seed : 1;
  int rc = CB_OK, have = 0;
  *best = 0;
  if (!g || !y) { grad_free(g); cb_free(y); return err && err->status ? err->status : cb_error_set(err, CB_ENOMEM, "out of memory"); }
  G = y + n;
  memcpy(pt, s->center, n * sizeof *pt);
  for (int t = -1; t < o->samples && rc == CB_OK; t++) {
    if (t < 0) memcpy(y, s->center, n * sizeof *y);
    else {
      double nr = 0, sc;
      for (size_t k = 0; k < n; k++) {
        if (s->norm == CB_NORM_INF) y[k] = 2 * urand01(&rng) - 1;
        else if (s->norm == CB_NORM_1) y[k] = (urand01(&rng) < 0.5 ? -1 : 1) * -log(1 - urand01(&rng));
        else y[k] = gauss(&rng);
        nr = s->norm == CB_NORM_INF ? fmax(nr, fabs(y[k])) : s->norm == CB_NORM_1 ? nr + fabs(y[k]) : nr + y[k] * y[k];
      }
      if (s->norm == CB_NORM_2) nr = sqrt(nr);
      sc = nr > 0 ? s->eps / nr * (1 - 1e-9) : 0;
      if (t % 2) sc *= pow(urand01(&rng), 1.0 / (double)n);
      for (size_t k = 0; k < n; k++) {
        y[k] = s->center[k] + sc * y[k];
        if (s->lo) y[k] = fmin(fmax(y[k], s->lo[k]), s->hi[k]);
      }
      if (!in_set(s, y)) continue;
    }
    if ((rc = grad_eval(g, y, c, 1, G, NULL, err)) != CB_OK) break;
    {
      double v = lip_bab_dual(G, n, s->norm);
      if (isfinite(v) && (!have || v > *best) && off_kinks(ws->net, g)) { *best = v; have = 1; memcpy(pt, y, n * sizeof *pt); }
    }
  }
  grad_free(g);
  cb_free(y);
  if (rc == CB_OK && !have) *best = 0;   /* every sample on a kink: lower 0 at the centre (trivially <= L) */
  return rc;
}

/* Score of each unstable unit: max |adjoint| of its activation's output over
   the set (the interval backward pass stopped there) x (h - l), about how much
   its open derivative widens the input gradient's interval. */
static int unit_scores(cb_ws *ws, const double *c, unit *U, size_t nu, cb_error *err)
{
  const cb_net *net = ws->net;
  int rc = CB_OK;
  for (int i = 0; i < net->n && rc == CB_OK; i++) {
    const cb_node *nd = &net->node[i];
    double *a;
    if (!splittable(net, i)) continue;
    if (!(a = cb_alloc(2 * nd->size * sizeof *a))) return cb_error_set(err, CB_ENOMEM, "out of memory");
    if ((rc = jac_interval_node(ws, c, 1, i, a, a + nd->size, err)) == CB_OK)
      for (size_t k = 0; k < nu; k++)
        if (U[k].node == nd->in[0]) U[k].score = fmax(fabs(a[U[k].e]), fabs(a[nd->size + U[k].e])) * (U[k].h - U[k].l);
    cb_free(a);
  }
  return rc;
}

int liplocal_row(cb_ws *ws, const double *c, const lip_result *lr, const liplocal_opts *o, liplocal_result *r,
                 double *pt, cb_error *err)
{
  const cb_net *net = ws->net;
  size_t n = net->node[0].size, nu = 0;
  unit *U = NULL;
  ub_heap H = {NULL, 0, 0};
  double *jlo = NULL, L;
  int rc, u;
  memset(r, 0, sizeof *r);
  if (!ws->set.center || ws->set.norm == CB_NORM_BOX || ws->set.w)
    return cb_error_set(err, CB_EUSAGE, "%s: a local Lipschitz bracket needs a ball (no per-feature radii)", net->path);
  if (lr && lr->norm != ws->set.norm) lr = NULL;
  if ((rc = lower_row(ws, c, o, &r->lower, pt, err)) != CB_OK) return rc;
  for (int i = 0; i < net->n; i++) {
    const cb_node *nd = &net->node[i];
    if (!splittable(net, i)) continue;
    for (size_t e = 0; e < nd->size; e++) nu += ws->lo[nd->in[0]][e] < 0 && ws->hi[nd->in[0]][e] > 0;
  }
  if (!(jlo = cb_alloc(2 * n * sizeof *jlo)) || (nu && !(U = cb_alloc(nu * sizeof *U)))) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  nu = 0;
  for (int i = 0; i < net->n; i++) {
    const cb_node *nd = &net->node[i];
    if (!splittable(net, i)) continue;
    for (size_t e = 0; e < nd->size; e++) {
      double l = ws->lo[nd->in[0]][e], h = ws->hi[nd->in[0]][e];
      if (l < 0 && h > 0) { U[nu].node = nd->in[0]; U[nu].e = e; U[nu].l = l; U[nu].h = h; U[nu].score = 0; nu++; }
    }
  }
  if ((rc = unit_scores(ws, c, U, nu, err)) != CB_OK) goto out;
  if (nu) qsort(U, nu, sizeof *U, unit_cmp);
  u = nu > 100000 ? 100000 : (int)nu;
  r->unstable = (int)nu;
  if ((rc = bound_pattern(ws, U, NULL, 0, c, lr, jlo, jlo + n, &L, err)) != CB_OK) goto out;
  r->upper = r->upper_plain = L;
  r->nodes = 1;
  if (u > 0 && o->max_nodes > 1) {
    pnode *p = cb_alloc(sizeof *p + (size_t)u);
    if (!p) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
    p->ub = L; p->depth = 0;
    if ((rc = ub_heap_push(&H, p->ub, p)) != CB_OK) { cb_free(p); rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
    while (r->nodes + 2 <= o->max_nodes && H.a[0].ub - r->lower > o->gap * H.a[0].ub && ((pnode *)H.a[0].p)->depth < u
           && !cb_time_up()) {
      pnode *par = ub_heap_pop(&H);
      for (int sg = 1; sg >= -1; sg -= 2) {
        pnode *k = cb_alloc(sizeof *k + (size_t)u);
        if (!k) { cb_free(par); rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
        memcpy(k->s, par->s, (size_t)par->depth);
        k->s[par->depth] = (signed char)sg;
        k->depth = par->depth + 1;
        if ((rc = bound_pattern(ws, U, k->s, k->depth, c, lr, jlo, jlo + n, &L, err)) != CB_OK) { cb_free(k); cb_free(par); goto out; }
        k->ub = L < par->ub ? L : par->ub;
        if ((rc = ub_heap_push(&H, k->ub, k)) != CB_OK) { cb_free(k); cb_free(par); rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
        r->nodes++;
      }
      cb_free(par);
    }
    r->upper = H.a[0].ub;
  }
  /* a sampled gradient above a guaranteed bound: a bug, never hidden (beyond the
     double evaluation's own rounding, 1e-9 relative; the tests use zero tolerance) */
  if (r->lower > r->upper * (1 + 1e-9))
    rc = cb_error_set(err, CB_EINTERNAL, "local Lipschitz bracket: sampled norm %.17g above the bound %.17g", r->lower, r->upper);
  r->gap = r->upper > 0 ? (r->upper - r->lower) / r->upper : 0;
out:
  for (size_t i = 0; i < H.n; i++) cb_free(H.a[i].p);
  ub_heap_free(&H);
  cb_free(U);
  cb_free(jlo);
  return rc;
}

int liplocal_margins(cb_ws *ws, int label, const lip_result *lr, const liplocal_opts *o, liplocal_result *r,
                     double *pts, cb_error *err)
{
  const cb_net *net = ws->net;
  size_t no = net->node[net->output].size, n = net->node[0].size;
  double *C, *pt;
  int rc = CB_OK;
  if (no < 2 || label < 0 || (size_t)label >= no)
    return cb_error_set(err, CB_EUSAGE, "%s: margin brackets need >= 2 classes and a valid label", net->path);
  if (!(C = cb_alloc(((no - 1) * no + n) * sizeof *C))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  pt = C + (no - 1) * no;
  jac_margin_rows(no, label, C);
  for (size_t j = 0; j + 1 < no && rc == CB_OK; j++) {
    rc = liplocal_row(ws, C + j * no, lr, o, &r[j], pts ? pts + j * n : pt, err);
  }
  cb_free(C);
  return rc;
}
