/*
** Branch and bound over the input box for a bracket of a row's Lipschitz
** constant (lipbab.h has the contract, docs/soundness.md the argument).
** Open sub-boxes sit in a binary max-heap on their upper bound; each step
** pops the top, splits it at the middle of its widest dimension and bounds
** both halves (one CROWN run and one interval-Jacobian pass each) and
** samples them (one exact gradient per point).  Workload: small dense nets
** (tens to hundreds of neurons), thousands to a million sub-boxes.
*/
#include <math.h>
#include <string.h>
#include <time.h>
#include "exact.h"
#include "grad.h"
#include "jacobian.h"
#include "lipbab.h"
#include "rng.h"
#include "round.h"
#include "ubheap.h"

void lip_bab_opts_init(lip_bab_opts *o)
{
  memset(o, 0, sizeof *o);
  o->norm = CB_NORM_2;
  o->gap = 1e-2;
  o->max_nodes = 200000;
  o->samples = 4;
  o->seed = 1;
  o->method = CB_CROWN;
}

double lip_bab_dual(const double *g, size_t n, cb_norm norm)
{
  double s = 0;
  for (size_t k = 0; k < n; k++) {
    double a = fabs(g[k]);
    if (norm == CB_NORM_2) s += a * a;
    else if (norm == CB_NORM_INF) s += a;   /* L-inf input: ||g||_1 */
    else s = a > s ? a : s;                 /* L1 input: ||g||_inf */
  }
  return norm == CB_NORM_2 ? sqrt(s) : s;
}

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct box {
  double ub;
  double *lo, *hi;      /* n each, in one allocation with the struct */
} box;

typedef struct bab {
  const cb_net *net;
  const cb_bnet *bn;
  const lip_result *lr;
  const lip_bab_opts *o;
  const double *c;
  size_t n;
  cb_grad *g;
  double *G, *x, *jlo, *jhi;
  ub_heap heap;               /* open boxes, largest upper first */
  uint64_t rng;
  double best;          /* lower so far, attained at bestx */
  double *bestx;
  int have;             /* bestx is set */
} bab;

static box *box_new(size_t n)
{
  box *b = cb_alloc(sizeof *b + 2 * n * sizeof(double));
  if (!b) return NULL;
  b->lo = (double *)(b + 1);
  b->hi = b->lo + n;
  return b;
}

/* 1 when no piecewise-linear activation of the last grad_forward has an
   input within a relative 1e-9 of a kink (its derivative range over that
   neighbourhood is one value): the gradient there is that of an open region. */
static int off_kinks(bab *B)
{
  for (int i = 0; i < B->net->n; i++) {
    const cb_node *nd = &B->net->node[i];
    const double *v;
    if (nd->kind != CB_ACT || !node_piecewise_linear(nd)) continue;
    v = grad_value(B->g, nd->in[0]);
    for (size_t e = 0; e < nd->size; e++) {
      double d = 1e-9 * (1 + fabs(v[e])), dl, dh;
      node_act(nd)->drange(nd, v[e] - d, v[e] + d, &dl, &dh);
      if (dh - dl > 1e-12 * (1 + fabs(dh))) return 0;
    }
  }
  return 1;
}

/* Exact gradient norm at B->x; keeps it when it beats the best. */
static int probe(bab *B, cb_error *err)
{
  int rc = grad_eval(B->g, B->x, B->c, 1, B->G, NULL, err);
  double v;
  if (rc != CB_OK) return rc;
  v = lip_bab_dual(B->G, B->n, B->o->norm);
  if (isfinite(v) && (v > B->best || !B->have) && off_kinks(B)) {
    B->best = v;
    B->have = 1;
    memcpy(B->bestx, B->x, B->n * sizeof *B->x);
  }
  return CB_OK;
}

/* Centre and o->samples random points of b. */
static int sample(bab *B, const box *b, cb_error *err)
{
  int rc;
  for (size_t k = 0; k < B->n; k++) B->x[k] = 0.5 * b->lo[k] + 0.5 * b->hi[k];
  if ((rc = probe(B, err)) != CB_OK) return rc;
  for (int s = 0; s < B->o->samples; s++) {
    for (size_t k = 0; k < B->n; k++) B->x[k] = b->lo[k] + (b->hi[k] - b->lo[k]) * cb_rng_unit(&B->rng);
    if ((rc = probe(B, err)) != CB_OK) return rc;
  }
  return CB_OK;
}

/*
** Phase enumeration: the interval Jacobian takes, at an unstable ReLU-type
** neuron (l < 0 < u), the derivative interval [alpha, 1], and the dual norm of
** an interval row exceeds the largest norm of the rows it holds; splitting
** the box does not remove this where a kink crosses it.  With u <= PHASE_MAX
** unstable neurons, each of the 2^u phase assignments fixes their derivative
** to 1 or alpha (the input box of the neuron is replaced by [1, 1] or
** [-1, -1] before the backward pass, which reads nothing else of it), and
** the largest of the 2^u bounds holds: every differentiable point of the box
** has one of these phases, and the Clarke set at a kink is the convex hull
** of the adjacent phases' gradients, whose norm is at most their largest.
** The enumeration includes infeasible phases, so it is an upper bound.
** Wins when it is smaller than the plain bound (*L).
*/
#define PHASE_MAX 8
static int phase_split(bab *B, cb_ws *ws, double *L, cb_error *err)
{
  int node[PHASE_MAX];
  size_t ent[PHASE_MAX];
  double sl[PHASE_MAX], su[PHASE_MAX], best = 0, Lp;
  int u = 0, rc = CB_OK;
  for (int i = 0; i < B->net->n; i++) {
    const cb_node *nd = &B->net->node[i];
    int uses = 0;
    if (!node_is_act(nd, CB_ACT_RELU) && !node_is_act(nd, CB_ACT_LEAKY_RELU)) continue;
    /* the phase overwrites the input node's bounds: only when nothing else reads them */
    for (int k = 0; k < B->net->n; k++)
      for (int a = 0; a < B->net->node[k].n_in; a++) uses += B->net->node[k].in[a] == nd->in[0];
    if (uses != 1) continue;
    for (size_t e = 0; e < nd->size; e++) {
      double l = ws->lo[nd->in[0]][e], h = ws->hi[nd->in[0]][e];
      if (!(l < 0 && h > 0)) continue;
      if (u == PHASE_MAX) return CB_OK;
      node[u] = nd->in[0]; ent[u] = e; sl[u] = l; su[u] = h; u++;
    }
  }
  if (u == 0) return CB_OK;
  for (unsigned m = 0; m < (1u << u) && rc == CB_OK; m++) {
    for (int k = 0; k < u; k++) {
      double v = (m >> k) & 1 ? 1.0 : -1.0;
      ws->lo[node[k]][ent[k]] = v;
      ws->hi[node[k]][ent[k]] = v;
    }
    rc = jac_interval_lip(ws, B->c, 1, B->lr, B->jlo, B->jhi, &Lp, err);
    if (rc == CB_OK && !(Lp >= 0)) rc = cb_error_set(err, CB_EVALUE, "lipschitz bracket: a phase's bound is not a number");
    if (rc == CB_OK && Lp > best) best = Lp;
  }
  for (int k = 0; k < u; k++) { ws->lo[node[k]][ent[k]] = sl[k]; ws->hi[node[k]][ent[k]] = su[k]; }
  if (rc == CB_OK && best < *L) *L = best;
  return rc;
}

/* b->ub >= the row's largest dual gradient norm over b (Clarke), at most cap. */
static int bound(bab *B, box *b, double cap, cb_error *err)
{
  cb_set s;
  cb_ws *ws;
  double L;
  int rc;
  double e = 0;
  memset(&s, 0, sizeof s);
  /* The box as a ball of the input norm around its centre, clipped by the box:
     every box point x has ||x - centre||_p <= ||x - centre||_1 <= (sum of
     widths) / 2 < eps, so the set is exactly the box, and jac_interval_lip
     takes the dual of o->norm. */
  for (size_t k = 0; k < B->n; k++) { B->x[k] = 0.5 * b->lo[k] + 0.5 * b->hi[k]; e += b->hi[k] - b->lo[k]; }
  s.norm = B->o->norm;
  s.n = B->n;
  s.center = B->x;
  s.eps = 2 * e + 1;
  s.lo = b->lo;
  s.hi = b->hi;
  if (!(ws = ws_new(B->bn, &s, err))) return err && err->status ? err->status : CB_ENOMEM;
  rc = bounds_run(ws, B->o->method, err);
  if (rc == CB_OK) rc = jac_interval_lip(ws, B->c, 1, B->lr, B->jlo, B->jhi, &L, err);
  if (rc == CB_OK) rc = phase_split(B, ws, &L, err);
  ws_free(ws);
  if (rc != CB_OK) return rc;
  if (!(L >= 0)) return cb_error_set(err, CB_EVALUE, "lipschitz bracket: the interval Jacobian's bound is not a number");
  b->ub = L < cap ? L : cap;
  return CB_OK;
}

/* Certified secant lower bound: y = x +- t d inside [lo, hi], value
   |f_j(y) - f_j(x)| (exact enclosures, rounded down) / ||y - x|| (rounded up);
   the best over a few step sizes t.  y receives its second point. */
static int secant(bab *B, size_t j, const double *lo, const double *hi, double *y, double *out, cb_error *err)
{
  const double *x = B->bestx;
  double *d = B->jlo, *yy = B->jhi, w = 0, best = 0, ax = 0, bx = 0;
  size_t n = B->n, kmax = 0;
  cb_exact *ex = NULL;
  int rc;
  if ((rc = grad_eval(B->g, x, B->c, 1, B->G, NULL, err)) != CB_OK) return rc;
  for (size_t k = 0; k < n; k++) { if (fabs(B->G[k]) > fabs(B->G[kmax])) kmax = k; w = fmax(w, hi[k] - lo[k]); }
  for (size_t k = 0; k < n; k++) {
    double gk = B->G[k], s = gk > 0 ? 1 : gk < 0 ? -1 : 0;
    if (B->o->norm == CB_NORM_2) d[k] = gk;
    else if (B->o->norm == CB_NORM_INF) d[k] = s;
    else d[k] = k == kmax ? s : 0;
  }
  if (B->o->norm == CB_NORM_2) { double g2 = lip_bab_dual(B->G, n, CB_NORM_2); for (size_t k = 0; k < n && g2 > 0; k++) d[k] /= g2; }
  memcpy(y, x, n * sizeof *y);
  *out = 0;
  if ((rc = exact_eval(B->net, x, &ex, err)) != CB_OK) return rc;
  exact_output(ex, j, &ax, &bx);
  exact_free(ex);
  for (double t = 1e-6 * fmax(w, 1e-300); t > 1e-14 * fmax(w, 1e-300); t /= 16) {
    for (int sg = 1; sg >= -1; sg -= 2) {
      double ay, by, num, den = 0;
      int in = 1;
      for (size_t k = 0; k < n; k++) { yy[k] = x[k] + sg * t * d[k]; in &= yy[k] >= lo[k] && yy[k] <= hi[k]; }
      if (!in) continue;
      if ((rc = exact_eval(B->net, yy, &ex, err)) != CB_OK) return rc;
      exact_output(ex, j, &ay, &by);
      exact_free(ex);
      num = fmax(ay - bx, ax - by);   /* <= |f(y) - f(x)| before rounding */
      num = round_down(num);
      for (size_t k = 0; k < n; k++) {
        double dk = round_up(fabs(yy[k] - x[k]));
        if (B->o->norm == CB_NORM_2) den = round_up(den + round_up(dk * dk));
        else if (B->o->norm == CB_NORM_INF) den = fmax(den, dk);
        else den = round_up(den + dk);
      }
      if (B->o->norm == CB_NORM_2) den = round_up(sqrt(den));
      if (num > 0 && den > 0) {
        double v = round_down(num / den);
        if (v > best) { best = v; memcpy(y, yy, n * sizeof *y); }
      }
      break;
    }
  }
  *out = best;
  return CB_OK;
}

static void bab_free(bab *B)
{
  for (size_t i = 0; i < B->heap.n; i++) cb_free(B->heap.a[i].p);
  ub_heap_free(&B->heap);
  cb_free(B->G);
  grad_free(B->g);
}

int lip_bab(const cb_net *net, size_t j, const double *lo, const double *hi, const lip_result *lr,
            const lip_bab_opts *o, lip_bab_result *r, double *x, double *y, cb_error *err)
{
  bab B;
  cb_bnet bn;
  box *b, *kid;
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
  double t0 = now(), *c;
  int rc;
  memset(&B, 0, sizeof B);
  memset(r, 0, sizeof *r);
  if (j >= no) return cb_error_set(err, CB_EVALUE, "lipschitz bracket: output row %zu: the network has %zu outputs", j, no);
  for (size_t k = 0; k < n; k++)
    if (!(isfinite(lo[k]) && isfinite(hi[k]) && lo[k] <= hi[k]))
      return cb_error_set(err, CB_EVALUE, "lipschitz bracket: input %zu: the domain [%g, %g] is not a finite interval", k, lo[k], hi[k]);
  if (lr && lr->norm != o->norm) lr = NULL;
  if ((rc = bnet_init(&bn, net, err)) != CB_OK) return rc;
  B.net = net; B.bn = &bn; B.lr = lr; B.o = o; B.n = n;
  B.rng = o->seed ? o->seed : 1;
  B.bestx = x;
  B.g = grad_new(net, 1, err);
  B.G = cb_alloc(4 * n * sizeof *B.G + no * sizeof *B.G);
  if (!B.g || !B.G) { rc = B.g ? cb_error_set(err, CB_ENOMEM, "out of memory") : (err && err->status ? err->status : CB_ENOMEM); goto out; }
  B.jlo = B.G + n; B.jhi = B.jlo + n; B.x = B.jhi + n; c = B.x + n;
  memset(c, 0, no * sizeof *c);
  c[j] = 1;
  B.c = c;
  if (!(b = box_new(n))) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  memcpy(b->lo, lo, n * sizeof *lo);
  memcpy(b->hi, hi, n * sizeof *hi);
  if ((rc = bound(&B, b, HUGE_VAL, err)) != CB_OK || (rc = sample(&B, b, err)) != CB_OK) { cb_free(b); goto out; }
  if ((rc = ub_heap_push(&B.heap, b->ub, b)) != CB_OK) { cb_free(b); rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  r->nodes = 1;
  for (;;) {
    double up = B.heap.a[0].ub;
    size_t w = 0;
    if (!B.have) B.best = 0;
    if (up - B.best <= o->gap * up) { r->stop = "gap"; break; }
    if (r->nodes >= o->max_nodes) { r->stop = "nodes"; break; }
    if ((o->seconds > 0 && now() - t0 >= o->seconds) || cb_time_up()) { r->stop = "time"; break; }
    b = ub_heap_pop(&B.heap);
    for (size_t k = 1; k < n; k++) if (b->hi[k] - b->lo[k] > b->hi[w] - b->lo[w]) w = k;
    if (!(kid = box_new(n))) { cb_free(b); rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
    memcpy(kid->lo, b->lo, n * sizeof *lo);
    memcpy(kid->hi, b->hi, n * sizeof *hi);
    {
      double mid = 0.5 * b->lo[w] + 0.5 * b->hi[w];
      if (!(mid > b->lo[w] && mid < b->hi[w])) {   /* a point box: its bound stays, nothing to split */
        cb_free(kid);
        r->stop = "nodes";
        if ((rc = ub_heap_push(&B.heap, b->ub, b)) != CB_OK) { cb_free(b); rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
        break;
      }
      b->hi[w] = mid;
      kid->lo[w] = mid;
    }
    if ((rc = bound(&B, b, up, err)) != CB_OK || (rc = bound(&B, kid, up, err)) != CB_OK
        || (rc = sample(&B, b, err)) != CB_OK || (rc = sample(&B, kid, err)) != CB_OK) { cb_free(b); cb_free(kid); goto out; }
    r->nodes += 2;
    if ((rc = ub_heap_push(&B.heap, b->ub, b)) != CB_OK) { cb_free(b); cb_free(kid); rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
    if ((rc = ub_heap_push(&B.heap, kid->ub, kid)) != CB_OK) { cb_free(kid); rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  }
  r->upper = B.heap.a[0].ub;
  r->grad_norm = B.best;
  r->open = (long)B.heap.n;
  if (!B.have) { rc = cb_error_set(err, CB_EVALUE, "lipschitz bracket: every sampled point lies on an activation kink"); goto out; }
  if ((rc = secant(&B, j, lo, hi, y, &r->lower, err)) != CB_OK) goto out;
  r->gap = r->upper > 0 ? (r->upper - r->lower) / r->upper : 0;
  r->seconds = now() - t0;
out:
  bab_free(&B);
  bnet_free(&bn);
  return rc;
}
