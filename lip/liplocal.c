/*
** Local Lipschitz brackets over a ball (liplocal.h has the contract,
** docs/soundness.md "Local brackets" the argument).  Open sign patterns sit
** in a binary max-heap on their bound; each step pops the top and bounds its
** two children (one interval-Jacobian pass each, the fixed neurons' input
** bounds replaced by [1, 1] or [-1, -1], which the backward pass reads as a
** derivative of 1 or the negative slope).  The lower side samples the ball
** and certifies an exact-arithmetic secant at its best point.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "exact.h"
#include "grad.h"
#include "jacobian.h"
#include "lipbab.h"
#include "liplocal.h"
#include "rng.h"
#include "round.h"
#include "ubheap.h"

void liplocal_opts_init(liplocal_opts *o)
{
  memset(o, 0, sizeof *o);
  o->max_nodes = 64;
  o->gap = 1e-3;
  o->samples = 32;
  o->lower = 1;
  o->seed = 1;
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

/* 1 when the point lies in the set of ws (clip box, and the ball of its norm
   in exact arithmetic: exact_dist_le). */
static int in_set(const cb_set *s, const double *y)
{
  for (size_t k = 0; k < s->n; k++)
    if (s->lo && !(y[k] >= s->lo[k] && y[k] <= s->hi[k])) return 0;
  return exact_dist_le(y, s->center, s->n, s->norm == CB_NORM_INF ? 0 : s->norm == CB_NORM_2 ? 2 : 1, s->eps);
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

/* Lower bound of |c.f(y) - c.f(x)| from exact enclosures of both points'
   outputs (ex, ey: lo, hi pairs per output), rounded down; 0 if none. */
static double diff_lower(const double *c, size_t no, const double *ex, const double *ey)
{
  double lo = 0, hi = 0;
  for (size_t k = 0; k < no; k++) {
    double dl, dh;
    if (c[k] == 0) continue;
    dl = round_down(ey[2 * k] - ex[2 * k + 1]);      /* <= f_k(y) - f_k(x) <= dh */
    dh = round_up(ey[2 * k + 1] - ex[2 * k]);
    if (c[k] > 0) { lo = round_down(lo + round_down(c[k] * dl)); hi = round_up(hi + round_up(c[k] * dh)); }
    else { lo = round_down(lo + round_down(c[k] * dh)); hi = round_up(hi + round_up(c[k] * dl)); }
  }
  lo = fmax(lo, -hi);
  return lo > 0 ? lo : 0;
}

static int exact_outs(const cb_net *net, const double *x, size_t no, double *e, cb_error *err)
{
  cb_exact *ex = NULL;
  int rc = exact_eval(net, x, &ex, err);
  if (rc != CB_OK) return rc;
  for (size_t k = 0; k < no; k++) exact_output(ex, k, &e[2 * k], &e[2 * k + 1]);
  exact_free(ex);
  return CB_OK;
}

/* Certified secant at x (G: its double gradient, a direction only): y = x +-
   t d inside the set (clip box, exact ball test), d the gradient's dual
   direction; r->lower = max over a few t of |c.f(y) - c.f(x)| (exact
   enclosures, rounded down) / ||y - x|| (rounded up).  pts[n..2n) gets y. */
static int secant(const cb_ws *ws, const double *c, const double *x, const double *G, liplocal_result *r, double *pts,
                  cb_error *err)
{
  const cb_set *s = &ws->set;
  const cb_net *net = ws->net;
  size_t n = s->n, no = net->node[net->output].size, kmax = 0;
  double *d = cb_alloc((2 * n + 4 * no) * sizeof *d), *yy, *ex, *ey, g2;
  int rc = CB_OK;
  r->lower = 0;
  if (!d) return cb_error_set(err, CB_ENOMEM, "out of memory");
  yy = d + n; ex = yy + n; ey = ex + 2 * no;
  g2 = lip_bab_dual(G, n, CB_NORM_2);
  for (size_t k = 0; k < n; k++) if (fabs(G[k]) > fabs(G[kmax])) kmax = k;
  for (size_t k = 0; k < n; k++) {
    double sg = G[k] > 0 ? 1 : G[k] < 0 ? -1 : 0;
    d[k] = s->norm == CB_NORM_2 ? (g2 > 0 ? G[k] / g2 : 0) : s->norm == CB_NORM_INF ? sg : k == kmax ? sg : 0;
  }
  /* x is a sample kept by in_set or the centre, which a clip box may exclude */
  if (!(g2 > 0) || !in_set(s, x) || (rc = exact_outs(net, x, no, ex, err)) != CB_OK) goto out;
  for (double t = 1e-6 * s->eps; t > 1e-14 * s->eps; t /= 16) {
    for (int sg = 1; sg >= -1; sg -= 2) {
      double num, den = 0, v;
      int moved = 0;
      for (size_t k = 0; k < n; k++) {
        yy[k] = x[k] + sg * t * d[k];
        if (s->lo) yy[k] = fmin(fmax(yy[k], s->lo[k]), s->hi[k]);
        moved |= yy[k] != x[k];
      }
      if (!moved || !in_set(s, yy)) continue;
      if ((rc = exact_outs(net, yy, no, ey, err)) != CB_OK) goto out;
      num = diff_lower(c, no, ex, ey);
      for (size_t k = 0; k < n; k++) {
        double dk = round_up(fabs(yy[k] - x[k]));
        if (s->norm == CB_NORM_2) den = round_up(den + round_up(dk * dk));
        else if (s->norm == CB_NORM_INF) den = fmax(den, dk);
        else den = round_up(den + dk);
      }
      if (s->norm == CB_NORM_2) den = round_up(sqrt(den));
      v = num > 0 && den > 0 ? round_down(num / den) : 0;
      if (v > r->lower) { r->lower = v; memcpy(pts + n, yy, n * sizeof *yy); }
      break;
    }
    if (r->grad_norm > 0 && r->lower >= r->grad_norm * (1 - 1e-6)) break;   /* as tight as the double gradient */
  }
out:
  cb_free(d);
  return rc;
}

/* Lower: the centre, then random points of the set (half on its boundary
   sphere, scaled by 1 - 1e-9, half inside), clamped to the clip box; the
   best off-kink dual gradient norm (r->grad_norm, double) picks x, then the
   certified secant at x (r->lower, pts = x then y; r->attained 0 and lower 0
   when no secant is positive, e.g. every sample on a kink and a zero step). */
static int lower_row(const cb_ws *ws, const double *c, const liplocal_opts *o, liplocal_result *r, double *pts,
                     cb_error *err)
{
  const cb_set *s = &ws->set;
  size_t n = s->n;
  cb_grad *g = grad_new(ws->net, 1, err);
  double *y = cb_alloc(3 * n * sizeof *y), *G, *Gb, best = 0;
  uint64_t rng = o->seed ? o->seed : 1;
  int rc = CB_OK, have = 0;
  r->lower = r->grad_norm = 0;
  r->attained = 0;
  if (!g || !y) { grad_free(g); cb_free(y); return err && err->status ? err->status : cb_error_set(err, CB_ENOMEM, "out of memory"); }
  G = y + n;
  Gb = G + n;
  memset(Gb, 0, n * sizeof *Gb);   /* stays 0 (no secant) when neither the centre nor a sample is in the set */
  memcpy(pts, s->center, n * sizeof *pts);
  memcpy(pts + n, s->center, n * sizeof *pts);
  for (int t = -1; t < o->samples && rc == CB_OK; t++) {
    if (t < 0) { memcpy(y, s->center, n * sizeof *y); if (!in_set(s, y)) continue; }
    else {
      double nr = 0, sc;
      for (size_t k = 0; k < n; k++) {
        if (s->norm == CB_NORM_INF) y[k] = 2 * cb_rng_unit(&rng) - 1;
        else if (s->norm == CB_NORM_1) y[k] = (cb_rng_unit(&rng) < 0.5 ? -1 : 1) * -log(1 - cb_rng_unit(&rng));
        else y[k] = cb_rng_normal(&rng);
        nr = s->norm == CB_NORM_INF ? fmax(nr, fabs(y[k])) : s->norm == CB_NORM_1 ? nr + fabs(y[k]) : nr + y[k] * y[k];
      }
      if (s->norm == CB_NORM_2) nr = sqrt(nr);
      sc = nr > 0 ? s->eps / nr * (1 - 1e-9) : 0;
      if (t % 2) sc *= pow(cb_rng_unit(&rng), 1.0 / (double)n);
      for (size_t k = 0; k < n; k++) {
        y[k] = s->center[k] + sc * y[k];
        if (s->lo) y[k] = fmin(fmax(y[k], s->lo[k]), s->hi[k]);
      }
      if (!in_set(s, y)) continue;
    }
    if ((rc = grad_eval(g, y, c, 1, G, NULL, err)) != CB_OK) break;
    {
      double v = lip_bab_dual(G, n, s->norm);
      int off = off_kinks(ws->net, g);
      if (t < 0) memcpy(Gb, G, n * sizeof *G);   /* the centre's (sub)gradient: the fallback direction */
      if (isfinite(v) && (!have || v > best) && off) {
        best = v; have = 1;
        memcpy(pts, y, n * sizeof *pts);
        memcpy(Gb, G, n * sizeof *G);
      }
    }
  }
  grad_free(g);
  if (rc == CB_OK) {
    r->grad_norm = have ? best : 0;
    rc = secant(ws, c, pts, Gb, r, pts, err);
    r->attained = rc == CB_OK && r->lower > 0;
  }
  cb_free(y);
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
                 double *pts, cb_error *err)
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
  if (o->lower && (rc = lower_row(ws, c, o, r, pts, err)) != CB_OK) return rc;
  if (!o->lower) { memcpy(pts, ws->set.center, n * sizeof *pts); memcpy(pts + n, ws->set.center, n * sizeof *pts); }
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
  /* a certified secant above a guaranteed bound: a bug, never hidden (zero
     tolerance); the double gradient norm too, beyond its own rounding (1e-9) */
  if (r->lower > r->upper || r->grad_norm > r->upper * (1 + 1e-9))
    rc = cb_error_set(err, CB_EINTERNAL, "local Lipschitz bracket: lower %.17g (gradient norm %.17g) above the bound %.17g",
                      r->lower, r->grad_norm, r->upper);
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
  if (!(C = cb_alloc(((no - 1) * no + 2 * n) * sizeof *C))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  pt = C + (no - 1) * no;
  jac_margin_rows(no, label, C);
  for (size_t j = 0; j + 1 < no && rc == CB_OK; j++) {
    rc = liplocal_row(ws, C + j * no, lr, o, &r[j], pts ? pts + 2 * j * n : pt, err);
  }
  cb_free(C);
  return rc;
}
