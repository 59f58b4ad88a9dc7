/*
** Branch and bound with input and ReLU splitting for VNNLIB properties (verify.h).
**
** A subdomain is a sub-box of one input box of the spec, with the set of its
** output conjunctions not yet refuted there, and (default bound) the node
** boxes of its parent, valid on it too.  Per subdomain:
**   1. bound: CROWN intermediate bounds started from the parent's boxes
**      (bounds_run_prior), then one not-concretised CROWN pass of the rows
**      (crown_linear) gives both their sound lower bounds lb (set_support
**      concretises) and their linear forms a_r . x + c_r.  Conjunction c is
**      refuted if some row has lb_r > b_up_r (>= for a strict row).
**      Refutation is inherited by sub-boxes.
**   2. candidates: the centre (clamped into the inner box); a point meeting
**      a conjunction is checked exactly (vfy_check_witness): SAT.
**   3. joint refutation: for a live conjunction with several rows, GLPK
**      solves min over the box of max_r (a_r . x + c_r - b_r) (lp_minmax);
**      if positive, the row weights l it returns give one combined row
**      sum_r l_r A_r, which is re-bounded by CROWN with its rounding added
**      (combined_refutes).  The LP's minimiser is another candidate.
**   4. ReLU splitting: when the box's CROWN bounds leave at most relu_leaf
**      ReLUs of unknown sign (always, for inputs of more than 64 values),
**      a depth-first search over those ReLUs' phases decides the box or
**      hands it back (see "ReLU splitting inside a box" below).
**   5. split the dimension with the largest width_j * |sum_r l_r a_rj|, or
**      the widest relative to the root box if that is ASPECT times wider,
**      at the midpoint (the two halves share it, so they cover the box).
** Subdomains are kept on a stack (depth first: finds witnesses early, memory
** stays small); a batch from its top is bounded in parallel (OpenMP, one
** workspace per thread), results are applied in order.
**
** Before the search: a conjunction with no rows is met by any point; a
** conjunction that no output can meet (Farkas certificate from GLPK, checked
** in double over the root output bounds) is dropped with that reason; a short
** local search (random starts + signed finite-difference descent, low input
** dimension only) and PGD (attack.h) look for an easy witness.  A long PGD
** runs once when the search passes strong_after seconds.
**
** Sizes: ACAS Xu has 5 inputs, 6 x 50 ReLUs, 1e2..1e6 subdomains of ~0.3 ms.
*/
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <omp.h>
#include "verify.h"
#include "forward.h"
#include "exact.h"
#include "linalg.h"
#include "lp.h"
#include "fwdlin.h"
#include "attack.h"
#include "round.h"

#define FD_MAX_DIM 64      /* finite differences (smear, local search) up to this input size */
#define BATCH_PER_THREAD 4

void vfy_opts_init(vfy_opts *o)
{
  memset(o, 0, sizeof *o);
  o->timeout = 300;
  o->max_memory_mb = 2048;
  o->method = CB_CROWN;
  o->attack_restarts = 8;
  o->strong_restarts = 500;
  o->strong_after = 3;
  o->aspect = 16;
  o->aspect2 = 64;
  o->seed = 1;
  o->relu_leaf = 100;   /* ACAS Xu, portfolio: 45 -> 118.2 s, 100 -> 99.0 s, 150 -> 98.9 s in total */
  o->relu_states = 10000;
  o->relu_lp = 1;
  o->portfolio = 1;
  o->lp_side_first = 1;
}

void vfy_result_free(vfy_result *r)
{
  if (!r) return;
  cb_free(r->x);
  cb_free(r->y);
  r->x = r->y = NULL;
}

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int default_bound(void *ctx, cb_ws *ws, cb_method m, const double *C, size_t q, double *lb, cb_error *err)
{
  int rc;
  (void)ctx;
  if ((rc = bounds_run(ws, m, err)) != CB_OK) return rc;
  return bounds_spec(ws, C, q, lb, NULL, err);
}

/* Does y meet conjunction c (rows in double, against the rounded-down b)? */
static int meets(const vnn_conj *c, const double *y, size_t ny)
{
  for (size_t r = 0; r < c->m; r++) {
    double s = 0;
    for (size_t j = 0; j < ny; j++) s += c->A[r * ny + j] * y[j];
    if (!(c->strict[r] ? s < c->b_dn[r] : s <= c->b_dn[r])) return 0;
  }
  return 1;
}

/* Does the real output (enclosure E) meet conjunction c?  The real b_r lies
   in [b_dn, b_up]; rows compare with b_dn <= b_r.  When b_dn < b_up, b_r is
   not a double and b_dn < b_r, so a.y <= b_dn implies a.y < b_r. */
static int meets_exact(const vnn_conj *c, const cb_exact *E)
{
  for (size_t r = 0; r < c->m; r++) {
    int smin, smax;
    exact_row_sign(E, c->A + r * exact_n_out(E), c->b_dn[r], &smin, &smax);
    if (!(c->strict[r] && c->b_dn[r] == c->b_up[r] ? smax < 0 : smax <= 0)) return 0;
  }
  return 1;
}

int vfy_check_witness(const cb_net *net, const vnn_spec *spec, size_t b, const double *x, double *y, size_t *conj,
                      long *fp_only)
{
  const vnn_box *B = &spec->box[b];
  cb_error err = {0};
  cb_exact *E = NULL;
  int any = 0, ok = 0;
  for (size_t i = 0; i < spec->nx; i++)
    if (!(x[i] >= B->lo_in[i] && x[i] <= B->hi_in[i])) return 0;
  if (cb_net_forward(net, x, 1, y, &err) != CB_OK) return 0;
  for (size_t j = 0; j < spec->ny; j++) if (!isfinite(y[j])) return 0;
  for (size_t c = 0; c < B->n_conj && !any; c++) any = meets(&B->conj[c], y, spec->ny);
  if (!any || exact_eval(net, x, &E, &err) != CB_OK) return 0;
  for (size_t c = 0; c < B->n_conj && !ok; c++)
    if (meets_exact(&B->conj[c], E)) { *conj = c; ok = 1; }
  exact_free(E);
  if (!ok && fp_only) {
    #pragma omp atomic
    (*fp_only)++;
  }
  return ok;
}

/* phi(y) = min over live conjunctions of max over rows of (A_r y - b_r):
   <= 0 means y (nearly) meets one; the local search and the smear minimise it. */
static double phi(const vnn_box *B, const unsigned char *act, const double *y, size_t ny)
{
  double best = INFINITY;
  for (size_t c = 0; c < B->n_conj; c++) {
    const vnn_conj *k = &B->conj[c];
    double worst = -INFINITY;
    if (!act[c]) continue;
    for (size_t r = 0; r < k->m; r++) {
      double s = -k->b_dn[r];
      for (size_t j = 0; j < ny; j++) s += k->A[r * ny + j] * y[j];
      worst = fmax(worst, s);
    }
    best = fmin(best, worst);
  }
  return best;
}

/* ---- search state ---- */

typedef struct item {     /* a subdomain: sub-box of spec box `box`, live conjunctions */
  size_t box;
  int depth;
  double *lo, *hi;
  unsigned char *act;
  int has_prior;          /* plo/phi hold the parent's node boxes (valid here too) */
  int relu_fail;          /* unknown-sign ReLUs when a ReLU search last failed on an
                             ancestor (0: none); retried below 2/3 of that */
  double *plo, *phi;      /* sum of node sizes each, when the search keeps priors */
} item;

typedef enum outcome { O_CLOSED, O_SPLIT, O_SAT, O_LEAF, O_ERROR } outcome;

typedef struct work {     /* result of bounding one item */
  outcome o;
  long states;            /* ReLU search states spent on it */
  int upper_first;        /* O_SPLIT: search the upper half first (it holds the LP point) */
  int relu_fail;          /* the item's relu_fail for its children */
  int dim;
  double *x;              /* O_SAT: witness (nx) */
  double *prior;          /* O_SPLIT with priors: the node boxes (lo then hi), for the children */
  cb_error err;
  char why[96];
} work;

typedef struct search {
  const cb_net *net;
  const vnn_spec *spec;
  const vfy_opts *o;
  vfy_bound_fn bound;
  double **C;             /* per box: all rows of all conjunctions, stacked */
  size_t *q;              /* per box: row count */
  size_t **row0;          /* per box: first row of each conjunction */
  double t0;
  vfy_result *r;
  double aspect;
  int fwd;                /* intermediate bounds by fwdlin_run (low-dim dense nets) */
  int prior;              /* children start from their parent's node boxes (default bound) */
  double deadline;        /* seconds after t0 when this phase of the search stops */
  int strong_done;        /* the long attack has run */
  long rs_useful, rs_wasted; /* states of ReLU searches that decided their box / that
                             handed it back; searches stop while wasted > 2 useful + RS_BASE */
  size_t nb;              /* sum of node sizes */
} search;

/* Has the other search of a portfolio answered (vfy_run)? */
static int cancelled(const search *S)
{
  int v = 0;
  if (!S->o->cancel) return 0;
  #pragma omp atomic read
  v = *S->o->cancel;
  return v;
}

static item *item_new(const search *S, size_t box, int depth)
{
  size_t nx = S->spec->nx, nc = S->spec->box[box].n_conj, np = S->prior ? S->nb : 0;
  item *it = cb_alloc(sizeof *it + (2 * np + 2 * nx) * sizeof(double) + nc + 1);
  if (!it) return NULL;
  it->box = box;
  it->depth = depth;
  it->has_prior = 0;
  it->relu_fail = 0;
  it->plo = (double *)(it + 1);
  it->phi = it->plo + np;
  it->lo = it->phi + np;
  it->hi = it->lo + nx;
  it->act = (unsigned char *)(it->hi + nx);
  return it;
}

static size_t item_bytes(const search *S) { return sizeof(item) + (2 * S->spec->nx + (S->prior ? 2 * S->nb : 0)) * sizeof(double) + 64; }

/* Bounds of the rows over the item's box with the parent's node boxes as a prior. */
static int linear_bounds(cb_ws *ws, const double *C, size_t q, size_t nx, double *a, double *c, double *lb, cb_error *err);

/* The node boxes (lo then hi, S->nb each) copied out of / pointed into a flat buffer. */
static void boxes_out(const search *S, const cb_ws *ws, double *p)
{
  size_t off = 0;
  for (int i = 0; i < S->net->n; i++) {
    size_t n = S->net->node[i].size;
    memcpy(p + off, ws->lo[i], n * sizeof *p);
    memcpy(p + S->nb + off, ws->hi[i], n * sizeof *p);
    off += n;
  }
}

static void boxes_ptrs(const search *S, double *p, double **pl)
{
  size_t off = 0;
  for (int i = 0; i < S->net->n; i++) { pl[i] = p + off; pl[S->net->n + i] = p + S->nb + off; off += S->net->node[i].size; }
}

/* Bounds of the rows over the item's box with the parent's node boxes as a
   prior.  Small inputs: one CROWN pass gives the rows' sound bounds and their
   linear forms (a, lc; *have_lin = 1), one pass fewer than bounds_spec +
   linear_bounds. */
static int prior_bound(const search *S, cb_ws *ws, const item *it, const double *C, size_t q, double *lb,
                       double *a, double *lc, int *have_lin, cb_error *err)
{
  const cb_net *net = S->net;
  double **pl = NULL, **ph = NULL;
  int rc;
  if (it->has_prior) {   /* plo and phi are one flat buffer (item_new) */
    if (!(pl = cb_alloc(2 * (size_t)net->n * sizeof *pl))) return cb_error_set(err, CB_ENOMEM, "out of memory");
    ph = pl + net->n;
    boxes_ptrs(S, it->plo, pl);
  }
  rc = bounds_run_prior(ws, S->o->method, pl, it->has_prior ? ph : NULL, err);
  cb_free(pl);
  if (rc != CB_OK) return rc;
  if (S->spec->nx > FD_MAX_DIM) return bounds_spec(ws, C, q, lb, NULL, err);
  if ((rc = linear_bounds(ws, C, q, S->spec->nx, a, lc, lb, err)) == CB_OK) *have_lin = 1;
  return rc;
}

/* Copies the workspace's node boxes (lo then hi) into a new buffer. */
static double *save_prior(const search *S, const cb_ws *ws)
{
  double *p = cb_alloc(2 * S->nb * sizeof *p);
  if (p) boxes_out(S, ws, p);
  return p;
}

/* Sets r to SAT with witness x (already checked) in box b. */
static int set_sat(search *S, size_t b, const double *x, const double *y, size_t c)
{
  vfy_result *r = S->r;
  r->x = cb_alloc(S->spec->nx * sizeof(double));
  r->y = cb_alloc(S->spec->ny * sizeof(double));
  if (!r->x || !r->y) return CB_ENOMEM;
  memcpy(r->x, x, S->spec->nx * sizeof(double));
  memcpy(r->y, y, S->spec->ny * sizeof(double));
  r->answer = V_FALSIFIED;
  r->box = b;
  r->conj = c;
  return CB_OK;
}

/* Evaluates points X[k] (k < n) and returns the index of one that is a
   checked witness of box b (its output in y), or -1.  Ybuf holds n * ny. */
static long try_points(const search *S, size_t b, const double *X, size_t n, double *Ybuf, double *y, size_t *c)
{
  const vnn_spec *sp = S->spec;
  cb_error err = {0};
  if (cb_net_forward(S->net, X, n, Ybuf, &err) != CB_OK) return -1;
  for (size_t k = 0; k < n; k++) {
    if (vfy_check_witness(S->net, sp, b, X + k * sp->nx, y, c, &S->r->fp_only)) return (long)k;
  }
  return -1;
}

/* Finite-difference gradient of phi at x (nx <= FD_MAX_DIM): X is (nx+1) x nx
   scratch, Y (nx+1) x ny.  Returns phi(x) (NaN on failure). */
static double fd_grad(const search *S, const vnn_box *B, const unsigned char *act, const double *x,
                      const double *lo, const double *hi, double *X, double *Y, double *g)
{
  size_t nx = S->spec->nx, ny = S->spec->ny;
  cb_error err = {0};
  double f0;
  for (size_t k = 0; k <= nx; k++) memcpy(X + k * nx, x, nx * sizeof *x);
  for (size_t j = 0; j < nx; j++) {
    double h = 1e-6 * (hi[j] - lo[j]);
    X[(j + 1) * nx + j] += x[j] + h <= hi[j] ? h : -h;
  }
  if (cb_net_forward(S->net, X, nx + 1, Y, &err) != CB_OK) return NAN;
  f0 = phi(B, act, Y, ny);
  for (size_t j = 0; j < nx; j++) {
    double h = X[(j + 1) * nx + j] - x[j];
    g[j] = h != 0 ? (phi(B, act, Y + (j + 1) * ny, ny) - f0) / h : 0;
    if (!isfinite(g[j])) g[j] = 0;
  }
  return f0;
}

static double rnd(unsigned long *s)
{
  *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
  return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

/* Local search in the inner box of b: random starts, signed descent on phi.
   Returns 1 (r set to SAT), 0 (nothing found) or a negative status. */
static int local_search(search *S, size_t b)
{
  const vnn_spec *sp = S->spec;
  const vnn_box *B = &sp->box[b];
  size_t nx = sp->nx, ny = sp->ny, c = 0;
  unsigned long seed = S->o->seed * 2654435761UL + b + 1;
  int found = 0, restarts = S->o->attack_restarts, fd = nx <= FD_MAX_DIM;
  size_t nb = fd ? nx + 1 : 64;
  double *X = cb_alloc(nb * nx * sizeof *X), *Y = cb_alloc(nb * ny * sizeof *Y), *x = cb_alloc(nx * sizeof *x);
  double *g = cb_alloc(nx * sizeof *g), *y = cb_alloc(ny * sizeof *y);
  unsigned char *act = cb_alloc(B->n_conj + 1);
  if (!X || !Y || !x || !g || !y || !act) { found = CB_ENOMEM; goto out; }
  memset(act, 1, B->n_conj + 1);
  for (int r = 0; r < restarts && !found; r++) {
    if (now() - S->t0 > S->o->timeout || cancelled(S)) break;
    for (size_t j = 0; j < nx; j++)
      x[j] = r == 0 ? B->lo_in[j] + 0.5 * (B->hi_in[j] - B->lo_in[j]) : B->lo_in[j] + rnd(&seed) * (B->hi_in[j] - B->lo_in[j]);
    if (!fd) {   /* high dimension: random vertices of the box near x */
      for (size_t k = 0; k < nb; k++)
        for (size_t j = 0; j < nx; j++) X[k * nx + j] = rnd(&seed) < 0.5 ? B->lo_in[j] : B->hi_in[j];
      long k = try_points(S, b, X, nb, Y, y, &c);
      if (k >= 0) { found = set_sat(S, b, X + (size_t)k * nx, y, c) ? CB_ENOMEM : 1; }
      continue;
    }
    for (int it = 0; it < 40 && !found; it++) {
      double eta = 0.1 * pow(0.9, it);
      if (isnan(fd_grad(S, B, act, x, B->lo_in, B->hi_in, X, Y, g))) break;
      if (vfy_check_witness(S->net, sp, b, x, y, &c, &S->r->fp_only)) { found = set_sat(S, b, x, y, c) ? CB_ENOMEM : 1; break; }
      for (size_t j = 0; j < nx; j++) {
        double w = B->hi_in[j] - B->lo_in[j];
        x[j] -= eta * w * (g[j] > 0 ? 1 : g[j] < 0 ? -1 : 0);
        x[j] = fmin(fmax(x[j], B->lo_in[j]), B->hi_in[j]);
      }
    }
  }
out:
  cb_free(X); cb_free(Y); cb_free(x); cb_free(g); cb_free(y); cb_free(act);
  return found;
}

/* PGD (attack.h) on each output conjunction of box b over its inner box:
   minimises max_r (A_r y - b_r); a point with value <= 0 is checked exactly.
   Returns 1 (r set to SAT), 0 or a negative status. */
static int pgd(search *S, size_t b, int restarts, int steps)
{
  const vnn_spec *sp = S->spec;
  const vnn_box *B = &sp->box[b];
  size_t nx = sp->nx, ny = sp->ny, c;
  cb_set set = {CB_NORM_BOX, 0, nx, NULL, B->lo_in, B->hi_in};
  cb_attack_opt opt = CB_ATTACK_DEFAULT;
  double *x = cb_alloc(nx * sizeof *x), *y = cb_alloc(ny * sizeof *y), *d = NULL, g;
  int found = 0;
  cb_error err = {0};
  if (!x || !y) { found = CB_ENOMEM; goto out; }
  for (size_t j = 0; j < nx; j++) if (!(B->lo_in[j] <= B->hi_in[j])) goto out;   /* no double in the box */
  opt.restarts = restarts;
  opt.steps = steps;
  opt.seed = S->o->seed + (uint64_t)restarts;
  for (size_t k = 0; k < B->n_conj && !found; k++) {
    const vnn_conj *cj = &B->conj[k];
    if (!cj->m || now() - S->t0 > S->o->timeout || cancelled(S)) continue;
    cb_free(d);
    if (!(d = cb_alloc(cj->m * sizeof *d))) { found = CB_ENOMEM; break; }
    for (size_t r = 0; r < cj->m; r++) d[r] = -cj->b_dn[r];
    cb_error_clear(&err);
    if (attack_run(S->net, &set, cj->A, d, cj->m, CB_AGG_MAX, 0, &opt, x, &g, &err) != CB_OK) continue;
    if (g <= 0 && vfy_check_witness(S->net, sp, b, x, y, &c, &S->r->fp_only)) found = set_sat(S, b, x, y, c) ? CB_ENOMEM : 1;
  }
out:
  cb_free(x); cb_free(y); cb_free(d);
  return found;
}

/* ---- one subdomain ---- */

/* Sound lower bounds lb (may be NULL) of the rows C over the sub-box, and
   their linear forms a_r . x + c_r: one CROWN pass of -C (crown_linear); c_r
   is set so that the form's minimum over the box is lb_r.  a and c serve the
   branching score and the LP only (nothing is proved with them). */
static int linear_bounds(cb_ws *ws, const double *C, size_t q, size_t nx, double *a, double *c, double *lb, cb_error *err)
{
  size_t ny = ws->net->node[ws->net->output].size;
  double *nC = cb_alloc((q * ny + q + 1) * sizeof *nC), *out = nC + q * ny;
  int rc;
  if (!nC) return cb_error_set(err, CB_ENOMEM, "out of memory");
  for (size_t k = 0; k < q * ny; k++) nC[k] = -C[k];
  rc = crown_linear(ws, nC, q, a, out, err);
  for (size_t r = 0; r < q && rc == CB_OK; r++) {
    double m = 0;
    for (size_t j = 0; j < nx; j++) {
      a[r * nx + j] = -a[r * nx + j];
      m += fmin(a[r * nx + j] * ws->set.lo[j], a[r * nx + j] * ws->set.hi[j]);
    }
    c[r] = -out[r] - m;
    if (lb) lb[r] = -out[r];
  }
  cb_free(nC);
  return rc;
}

/* Sound check of the row combination l of conjunction k: lb of (sum l_r A_r) y
   over the box > sum l_r b_r refutes the conjunction (any y meeting it has
   (sum l_r A_r) y <= sum l_r b_r).  The rounding of the combined row and of
   its right-hand side is added explicitly. */
static int combined_refutes(cb_ws *ws, const vnn_conj *k, size_t ny, const double *l, double *g, int *refuted, cb_error *err)
{
  const double *ymax = ws->zmax[ws->net->output];
  double rhs = 0, rabs = 0, slack = 0, lbg;
  int rc;
  for (size_t j = 0; j < ny; j++) {
    double gabs = 0;
    g[j] = 0;
    for (size_t r = 0; r < k->m; r++) { g[j] += l[r] * k->A[r * ny + j]; gabs += l[r] * fabs(k->A[r * ny + j]); }
    slack += round_gamma(k->m + 1) * gabs * ymax[j];
  }
  for (size_t r = 0; r < k->m; r++) { rhs += l[r] * k->b_up[r]; rabs += fabs(l[r] * k->b_up[r]); }
  slack = round_up(2 * (slack + round_gamma(k->m + 1) * rabs));
  if ((rc = bounds_spec(ws, g, 1, &lbg, NULL, err)) != CB_OK) return rc;
  *refuted = isfinite(slack) && round_down(lbg - slack) > rhs;
  return CB_OK;
}

/* Branching score from linear bounds: dimension j scores w_j * |g_j| summed
   over the live conjunctions (g = their weighted rows' coefficients). */
static void add_score(double *score, const double *a, const double *l, size_t m, size_t nx, const double *lo, const double *hi)
{
  for (size_t j = 0; j < nx; j++) {
    double g = 0;
    for (size_t r = 0; r < m; r++) g += l[r] * a[r * nx + j];
    score[j] += fabs(g) * (hi[j] - lo[j]);
  }
}

/* The tighter checks on a live conjunction c of `it`: the LP over the rows'
   linear bounds gives a weighting l; its combination is re-bounded soundly.
   Adds the branching score; may turn off it->act[c]; *xs gets the LP point. */
static int refine_conj(const search *S, cb_ws *ws, item *it, size_t c, const double *a, const double *lc,
                       double *score, double *xs, int *have_x, double *tv, cb_error *err)
{
  const vnn_conj *k = &S->spec->box[it->box].conj[c];
  size_t nx = S->spec->nx, ny = S->spec->ny, m = k->m;
  double *l = cb_alloc((2 * m + ny + 1) * sizeof *l), *cc = l + m, *g = cc + m, t;
  int rc = CB_OK, res, refuted = 0;
  if (!l) return cb_error_set(err, CB_ENOMEM, "out of memory");
  for (size_t r = 0; r < m; r++) cc[r] = lc[r] - k->b_up[r];
  if (m == 1) {   /* one row: the minimiser of its linear form is a vertex */
    l[0] = 1;
    res = 0;
    t = cc[0];
    for (size_t j = 0; j < nx; j++) { xs[j] = a[j] > 0 ? it->lo[j] : it->hi[j]; t += a[j] * xs[j]; }
    *tv = t;
    *have_x = 1;
  }
  else if ((res = lp_minmax(a, cc, m, nx, it->lo, it->hi, xs, l, &t)) < 0) { rc = cb_error_set(err, res, "out of memory in the LP"); goto out; }
  if (res == 1) {
    *have_x = 1;
    *tv = t;
    if (t > 0 && (rc = combined_refutes(ws, k, ny, l, g, &refuted, err)) != CB_OK) goto out;
    if (refuted) { it->act[c] = 0; goto out; }
  } else for (size_t r = 0; r < m; r++) l[r] = 1.0 / (double)m;
  add_score(score, a, l, m, nx, it->lo, it->hi);
out:
  cb_free(l);
  return rc;
}

/* Linear lower bounds of the rows C from the output's forward linear bounds
   (lower function where C_rj > 0, upper where C_rj < 0); heuristic use only. */
static void fwd_rows(const double *C, size_t q, size_t ny, size_t nx, const double *Flo, const double *Fhi,
                     double *a, double *c)
{
  size_t p = nx + 1;
  for (size_t r = 0; r < q; r++) {
    c[r] = 0;
    for (size_t j = 0; j < nx; j++) a[r * nx + j] = 0;
    for (size_t k = 0; k < ny; k++) {
      double w = C[r * ny + k];
      const double *f = w > 0 ? Flo + k * p : Fhi + k * p;
      if (w == 0) continue;
      for (size_t j = 0; j < nx; j++) a[r * nx + j] += w * f[j];
      c[r] += w * f[nx];
    }
  }
}

/* ---- ReLU splitting inside a box: the complete leaf check ---- */

/* A box whose CROWN bounds leave few ReLUs of unknown sign is decided by
   splitting those ReLUs instead of the box.  A state fixes the phase of some
   of them: neuron (node, idx) with sig = +1 lies in {xhat >= 0}, sig = -1 in
   {xhat <= 0}; the state's region is the box cut by these half-spaces (the
   two children of a split cover their parent: xhat = 0 is in both).  On the
   region the split neuron's input box is [max(l, 0), u] (or [l, min(u, 0)]),
   so its ReLU is exactly the identity (or 0), and the node boxes recomputed
   by CROWN from these (bounds_run_prior, the parent state's boxes as prior)
   hold on the region: downstream neurons become stable.  Then:
     - CROWN of each row over the box with these lines bounds it on the
       region (the split constraints themselves ignored, "beta = 0");
     - a Farkas combination: if some l >= 0 makes
         h(x) = sum_r l_r (A_r y - b_r) + sum_s l_s (-sig_s xhat_s)
       positive over the box (one CROWN pass with the xhat terms injected at
       their nodes, crown_linear_inj; the rounding of the combination added as
       in combined_refutes), no point of the region meets the conjunction
       (every term is <= 0 there).  l comes from GLPK (lp_minmax over the
       rows' linear lower forms), which proves nothing by itself.
   When no ReLU of unknown sign is left the network is affine on the region
   and the forms are exact: the LP refutes or returns a point that is checked
   as a witness.  A state it cannot decide (rounding at a boundary, the state
   cap) hands the whole box back to input splitting, after its node boxes are
   restored.  Splits follow the layer order (as nnenum's star sets do), so the
   xhat forms of split neurons carry no relaxation. */

typedef struct rsplit { int node; size_t idx; int sig; } rsplit;

typedef enum rres { R_CLOSED, R_SAT, R_OPEN, R_ERR } rres;

typedef struct rsearch {
  const search *S;
  cb_ws *ws;
  item *it;
  rsplit *sp;
  int ns, nmax;
  long states, max_states;
  unsigned char *act;     /* (nmax + 1) x n_conj: live conjunctions per depth */
  double *box;            /* (nmax + 2) x 2 nb: node boxes per depth (lo then hi) */
  double **pl;            /* 2 x n pointers into one level of box */
  double **inj;           /* per node: qmax x size for RELU inputs, else NULL */
  size_t qmax;
  int have_x;             /* x holds the last LP point */
  double *form;           /* 2 (nmax + 2) x (nx + 1): per split level, the lower linear forms
                             of -xhat (sig = +1) and of +xhat (sig = -1) */
  double *C, *lin, *out, *a, *lc, *l, *g, *x, *y;
  double *mu, *F, *f;     /* rs_tighten: qmax x (nmax + 1) multipliers; the region's rows */
  cb_error *err;
} rsearch;

static _Thread_local long rs_last_states;

#define RS_MAX_DEPTH 256   /* splits on one path of a ReLU search */
#define RS_BASE 20000      /* ReLU search states any search may waste (see search.rs_wasted) */

static int net_has_relu(const cb_net *net)
{
  for (int i = 0; i < net->n; i++) if (node_is_act(&net->node[i], CB_ACT_RELU)) return 1;
  return 0;
}

/* Unknown-sign ReLUs of the current bounds (the count decides whether to try). */
static int rs_count(const cb_ws *ws)
{
  int u = 0;
  for (int i = 0; i < ws->net->n; i++)
    if (node_is_act(&ws->net->node[i], CB_ACT_RELU)) {
      int p = ws->net->node[i].in[0];
      for (size_t j = 0; j < ws->net->node[i].size; j++) u += ws->lo[p][j] < 0 && ws->hi[p][j] > 0;
    }
  return u;
}

/* Copies the workspace's node boxes into level d. */
static void rs_save(rsearch *R, int d) { boxes_out(R->S, R->ws, R->box + (size_t)d * 2 * R->S->nb); }

/* Node boxes from the priors at level d, taken as they are before node
   `first` (bounds_run_from). */
static int rs_bounds(rsearch *R, int d, int first)
{
  boxes_ptrs(R->S, R->box + (size_t)d * 2 * R->S->nb, R->pl);
  return bounds_run_from(R->ws, R->S->o->method, R->pl, R->pl + R->S->net->n, first, R->err);
}

/* Zeroes the first q injected rows of every node. */
static void rs_inj_clear(rsearch *R, size_t q)
{
  const cb_net *net = R->ws->net;
  for (int i = 0; i < net->n; i++) if (R->inj[i]) memset(R->inj[i], 0, q * net->node[i].size * sizeof(double));
}

/* Adds sum_s coef_s sig_s xhat_s (the split terms) to injected row `row`. */
static void rs_inj_splits(rsearch *R, size_t row, const double *coef)
{
  const cb_net *net = R->ws->net;
  for (int s = 0; s < R->ns; s++) {
    int p = net->node[R->sp[s].node].in[0];
    R->inj[p][row * net->node[p].size + R->sp[s].idx] += coef[s] * R->sp[s].sig;
  }
}

/* Hands a refuted region to the audit hook (conj = (size_t)-1: empty region;
   extra >= 0: one more split, not yet in R->sp, with sign extra_sig;
   extra = -2 - k: the region's tightened box of node k, rs_tighten). */
static void rs_audit(const rsearch *R, size_t conj, int extra_node, size_t extra_idx, int extra_sig)
{
  const vfy_opts *o = R->S->o;
  int node[RS_MAX_DEPTH + 1], sig[RS_MAX_DEPTH + 1];
  size_t idx[RS_MAX_DEPTH + 1], n = 0;
  vfy_region g;
  if (!o->audit) return;
  for (int s = 0; s < R->ns && n < RS_MAX_DEPTH; s++, n++) { node[n] = R->sp[s].node; idx[n] = R->sp[s].idx; sig[n] = R->sp[s].sig; }
  if (extra_node >= 0) { node[n] = extra_node; idx[n] = extra_idx; sig[n] = extra_sig; n++; }
  g = (vfy_region){R->it->box, conj, R->ws->set.lo, R->ws->set.hi, n, node, sig, idx, -1, NULL, NULL};
  if (extra_node < -1) { g.tnode = -extra_node - 2; g.tlo = R->ws->lo[g.tnode]; g.thi = R->ws->hi[g.tnode]; }
  o->audit(o->audit_ctx, &g);
}

/* LP-tightened bounds on the state's region for the unknown-sign neurons of
   ReLU node bi (in the spirit of nnenum's star-set bounds, re-checked): CROWN
   gives upper linear forms of +xhat_j and -xhat_j over the box (exact for the
   first layer with unknown signs, as every ReLU before it has a fixed sign on
   the region; relaxed below it); GLPK maximises each over the box cut by the
   split constraints (lp_region_max), and its multipliers mu_s >= 0 weigh the
   split terms; one CROWN pass with those terms injected then bounds
     sig xhat_j + sum_s mu_s sig_s xhat_s
   from above, soundly, with the state's node boxes (valid on the region, not
   on the whole input box).  On the region sig_s xhat_s >= 0, so that bound
   holds for sig xhat_j there, whatever mu is: GLPK proves nothing, a bad mu
   only gives a looser bound.  New boxes go to ws (node `pre` of bi);
   *stable counts neurons now of known sign, *empty says the region is empty
   (a lower bound above an upper one). */
static int rs_tighten(rsearch *R, int bi, int *stable, int *empty)
{
  const cb_net *net = R->S->net;
  cb_ws *ws = R->ws;
  int pre = net->node[bi].in[0];
  size_t np = net->node[pre].size, nx = R->S->spec->nx, ny = R->S->spec->ny, ns = (size_t)R->ns;
  size_t per = R->qmax / 2 < RS_MAX_DEPTH ? R->qmax / 2 : RS_MAX_DEPTH, j0 = 0;
  lp_region *LR;
  *stable = *empty = 0;
  for (size_t s = 0; s < ns; s++) {
    const double *f = R->form + (2 * s + (R->sp[s].sig > 0 ? 0 : 1)) * (nx + 1);
    memcpy(R->F + s * nx, f, nx * sizeof *f);
    R->f[s] = f[nx];
  }
  if (!(LR = lp_region_new(R->F, R->f, ns, nx, ws->set.lo, ws->set.hi))) return cb_error_set(R->err, CB_ENOMEM, "out of memory in the LP");
  while (j0 < np) {
    size_t jj[RS_MAX_DEPTH], row[2 * RS_MAX_DEPTH], u = 0, q, nz;
    for (; j0 < np && u < per; j0++) if (ws->lo[pre][j0] < 0 && ws->hi[pre][j0] > 0) jj[u++] = j0;
    if (!u) break;
    q = 2 * u;
    rs_inj_clear(R, q);
    memset(R->C, 0, q * ny * sizeof *R->C);
    for (size_t k = 0; k < u; k++) { R->inj[pre][2 * k * np + jj[k]] = 1; R->inj[pre][(2 * k + 1) * np + jj[k]] = -1; }
    if (crown_linear_inj(ws, R->C, q, (const double *const *)R->inj, R->lin, R->out, R->err) != CB_OK) goto fail;
    memcpy(R->g, R->out, q * sizeof *R->out);   /* sound already (the box contains the region) */
    for (size_t r = 0; r < q; r++) {
      double v, *mu = R->mu + r * ns, *lin = R->lin + r * nx;
      int inside = 1;
      for (size_t s = 0; s < ns && inside; s++) {   /* the box's maximising vertex in the region: no LP gain */
        double t = R->f[s];
        for (size_t i = 0; i < nx; i++) t += R->F[s * nx + i] * (lin[i] > 0 ? ws->set.hi[i] : ws->set.lo[i]);
        inside = t <= 0;
      }
      if (inside || !lp_region_max(LR, lin, mu, &v)) memset(mu, 0, ns * sizeof *mu);
    }
    nz = 0;   /* rows with a multiplier go through a second pass, packed */
    rs_inj_clear(R, q);
    for (size_t r = 0; r < q; r++) {
      int any = 0;
      for (size_t s = 0; s < ns; s++) any |= R->mu[r * ns + s] > 0;
      if (!any) continue;
      R->inj[pre][nz * np + jj[r / 2]] = r % 2 ? -1 : 1;
      rs_inj_splits(R, nz, R->mu + r * ns);
      row[nz++] = r;
    }
    if (nz && crown_linear_inj(ws, R->C, nz, (const double *const *)R->inj, R->lin, R->out, R->err) != CB_OK) goto fail;
    for (size_t k = 0; k < nz; k++) R->g[row[k]] = fmin(R->g[row[k]], R->out[k]);
    for (size_t k = 0; k < u; k++) {
      size_t j = jj[k];
      double hi = R->g[2 * k], lo = -R->g[2 * k + 1];
      if (isfinite(hi) && hi < ws->hi[pre][j]) ws->hi[pre][j] = hi;
      if (isfinite(lo) && lo > ws->lo[pre][j]) ws->lo[pre][j] = lo;
      if (ws->lo[pre][j] > ws->hi[pre][j]) { *empty = 1; break; }
      if (ws->lo[pre][j] >= 0 || ws->hi[pre][j] <= 0) (*stable)++;
    }
    if (*empty) break;
  }
  lp_region_free(LR);
  rs_audit(R, 0, -2 - pre, 0, 0);
  return CB_OK;
fail:
  lp_region_free(LR);
  return R->err->status ? R->err->status : CB_EINTERNAL;
}

/* One conjunction c in the current state: R_CLOSED (refuted on the region),
   R_SAT (R->x is a checked witness), R_OPEN or R_ERR. */
static rres rs_conj(rsearch *R, size_t c)
{
  const search *S = R->S;
  cb_ws *ws = R->ws;
  const vnn_conj *k = &S->spec->box[R->it->box].conj[c];
  size_t nx = S->spec->nx, ny = S->spec->ny, m = k->m, q = m + (size_t)R->ns, cc;
  double t, lb1, slack = 0, rhs = 0, rabs = 0;
  const double *ymax = ws->zmax[ws->net->output];
  int res;
  for (size_t e = 0; e < m * ny; e++) R->C[e] = -k->A[e];
  if (crown_linear(ws, R->C, m, R->lin, R->out, R->err) != CB_OK) return R_ERR;
  for (size_t r = 0; r < m; r++) {   /* lower forms of the spec rows minus b */
    double mn = 0;
    if (!isfinite(R->out[r])) return R_OPEN;
    if (k->strict[r] ? -R->out[r] >= k->b_up[r] : -R->out[r] > k->b_up[r]) { rs_audit(R, c, -1, 0, 0); return R_CLOSED; }
    for (size_t j = 0; j < nx; j++) {
      R->a[r * nx + j] = -R->lin[r * nx + j];
      mn += fmin(R->a[r * nx + j] * ws->set.lo[j], R->a[r * nx + j] * ws->set.hi[j]);
    }
    R->lc[r] = -R->out[r] - mn - k->b_up[r];
  }
  for (int s = 0; s < R->ns; s++) {   /* the region's rows, -sig xhat (exact forms, kept from the split) */
    const double *f = R->form + (2 * (size_t)s + (R->sp[s].sig > 0 ? 0 : 1)) * (nx + 1);
    memcpy(R->a + (m + (size_t)s) * nx, f, nx * sizeof *R->a);
    R->lc[m + (size_t)s] = f[nx];
  }
  if ((res = lp_minmax(R->a, R->lc, q, nx, ws->set.lo, ws->set.hi, R->x, R->l, &t)) < 0) {
    cb_error_set(R->err, res, "out of memory in the LP");
    return R_ERR;
  }
  if (res != 1) return R_OPEN;
  R->have_x = 1;
  if (t <= 0) {   /* the LP point may be a witness */
    const vnn_box *B = &S->spec->box[R->it->box];
    for (size_t j = 0; j < nx; j++) R->x[j] = fmin(fmax(R->x[j], B->lo_in[j]), B->hi_in[j]);
    return vfy_check_witness(S->net, S->spec, R->it->box, R->x, R->y, &cc, &S->r->fp_only) ? R_SAT : R_OPEN;
  }
  if (q == 1) return R_OPEN;   /* one row: its own bound above said no */
  /* the combination, bounded soundly in one pass */
  for (size_t j = 0; j < ny; j++) {
    double gabs = 0;
    R->g[j] = 0;
    for (size_t r = 0; r < m; r++) { R->g[j] -= R->l[r] * k->A[r * ny + j]; gabs += R->l[r] * fabs(k->A[r * ny + j]); }
    slack += round_gamma(m + 1) * gabs * ymax[j];
  }
  for (size_t r = 0; r < m; r++) { rhs += R->l[r] * k->b_up[r]; rabs += fabs(R->l[r] * k->b_up[r]); }
  slack = round_up(2 * (slack + round_gamma(m + 1) * rabs));
  rs_inj_clear(R, 1);
  rs_inj_splits(R, 0, R->l + m);
  if (crown_linear_inj(ws, R->g, 1, (const double *const *)R->inj, R->lin, &lb1, R->err) != CB_OK) return R_ERR;
  if (!(isfinite(slack) && isfinite(lb1) && round_down(-lb1 - slack) > rhs)) return R_OPEN;
  rs_audit(R, c, -1, 0, 0);
  return R_CLOSED;
}

/* Depth-first over the splits; R->ns splits are applied and the workspace
   holds this state's node boxes. */
static rres rs_state(rsearch *R)
{
  const search *S = R->S;
  const cb_net *net = S->net;
  size_t nc = S->spec->box[R->it->box].n_conj, nb = S->nb, boff = 0;
  unsigned char *act = R->act + (size_t)R->ns * nc;
  int live = 0, bi = -1, pre, empty[2], first;
  size_t bj = 0;
  double best = -1;
  if (++R->states > R->max_states || now() - S->t0 > S->deadline || cancelled(S)) return R_OPEN;
  /* each layer with unknown signs in turn, tightened on the region (inputs of
     <= 64 values: on MNIST's 784 one state's LPs took longer than the 20 s
     timeout, and 256x2 prop_0_0.03, unsat in 2.7 s without, timed out) */
  for (int from = 0; R->ns > 0 && S->o->relu_lp && S->spec->nx <= FD_MAX_DIM;) {
    int ti = -1, st, em, p;
    size_t u = 0;
    for (int i = from; i < net->n && ti < 0; i++) {
      if (!node_is_act(&net->node[i], CB_ACT_RELU)) continue;
      p = net->node[i].in[0];
      for (size_t j = 0; j < net->node[i].size; j++) u += R->ws->lo[p][j] < 0 && R->ws->hi[p][j] > 0;
      if (u) ti = i;
    }
    if (ti < 0) break;
    from = ti + 1;
    if (rs_tighten(R, ti, &st, &em) != CB_OK) return R_ERR;
    if (em) { rs_audit(R, (size_t)-1, -1, 0, 0); return R_CLOSED; }
    if (st) {
      rs_save(R, R->ns);   /* the tightened boxes, then every node below them again */
      if (rs_bounds(R, R->ns, net->node[ti].in[0] + 1) != CB_OK) return R_ERR;
    }
  }
  for (size_t c = 0; c < nc; c++) {
    rres r;
    if (!act[c]) continue;
    r = rs_conj(R, c);
    if (r == R_CLOSED) { act[c] = 0; continue; }
    if (r != R_OPEN) return r;
    live = 1;
  }
  if (!live) return R_CLOSED;
  /* the next ReLU: first layer with an unknown sign, widest relaxation there */
  for (int i = 0; i < net->n && bi < 0; i++) {
    int p;
    if (!node_is_act(&net->node[i], CB_ACT_RELU)) continue;
    p = net->node[i].in[0];
    for (size_t j = 0; j < net->node[i].size; j++) {
      double gap = fmin(-R->ws->lo[p][j], R->ws->hi[p][j]);
      if (gap > 0 && gap > best) { best = gap; bj = j; }
    }
    if (best > 0) bi = i;
  }
  if (bi < 0 || R->ns >= R->nmax) return R_OPEN;   /* nothing to split and still open: hand back */
  pre = net->node[bi].in[0];
  for (int i = 0; i < pre; i++) boff += net->node[i].size;   /* the pre-activation's offset */
  rs_save(R, R->ns);
  {  /* upper forms of +xhat and -xhat over this state (rows 0, 1): exact, as
        every ReLU before this layer has its sign fixed on the region */
    size_t np = net->node[pre].size, nx = S->spec->nx;
    rs_inj_clear(R, 2);
    memset(R->C, 0, 2 * S->spec->ny * sizeof *R->C);
    R->inj[pre][bj] = 1;
    R->inj[pre][np + bj] = -1;
    if (crown_linear_inj(R->ws, R->C, 2, (const double *const *)R->inj, R->lin, R->out, R->err) != CB_OK) return R_ERR;
    for (int h = 0; h < 2; h++) {   /* sig = +1 takes row 0: lower form of -xhat = -(upper form of xhat) */
      double *f = R->form + (2 * (size_t)R->ns + (size_t)h) * (nx + 1), mn = 0;
      for (size_t j = 0; j < nx; j++) {
        f[j] = -R->lin[(size_t)h * nx + j];
        mn += fmin(f[j] * R->ws->set.lo[j], f[j] * R->ws->set.hi[j]);
      }
      f[nx] = -R->out[h] - mn;
      empty[h] = R->out[h] < 0;   /* max of sig xhat < 0: the child region is empty */
    }
  }
  {  /* the side holding the last LP point first (finds witnesses sooner) */
    const double *f = R->form + 2 * (size_t)R->ns * (S->spec->nx + 1);
    double v = f[S->spec->nx];
    for (size_t j = 0; j < S->spec->nx; j++) v += f[j] * R->x[j];
    first = R->have_x && v > 0 ? -1 : 1;   /* -xhat > 0 at the point: xhat < 0 there */
  }
  for (int side = 0, sig = first; side < 2; side++, sig = -sig) {
    rres r;
    double *lv = R->box + (size_t)(R->ns + 1) * 2 * nb;
    if (empty[sig > 0 ? 0 : 1]) { rs_audit(R, (size_t)-1, bi, bj, sig); continue; }
    memcpy(lv, R->box + (size_t)R->ns * 2 * nb, 2 * nb * sizeof *lv);
    if (sig > 0) lv[boff + bj] = 0; else lv[nb + boff + bj] = 0;
    memcpy(act + nc, act, nc);
    R->sp[R->ns] = (rsplit){bi, bj, sig};
    R->ns++;
    r = rs_bounds(R, R->ns, pre + 1) == CB_OK ? rs_state(R) : R_ERR;
    R->ns--;
    if (r != R_CLOSED) return r;
  }
  return R_CLOSED;
}

/* Decides the item's box by ReLU splitting (its CROWN bounds are in ws);
   R_OPEN leaves it to input splitting with ws's boxes restored.  SAT: the
   witness goes to x. */
static rres relu_leaf(const search *S, cb_ws *ws, item *it, int nmax, double *x, cb_error *err)
{
  const cb_net *net = S->net;
  const vnn_box *B = &S->spec->box[it->box];
  size_t nc = B->n_conj, nx = S->spec->nx, ny = S->spec->ny, mmax = 0;
  rsearch R = {S, ws, it, NULL, 0, nmax, 0, nx > FD_MAX_DIM ? LONG_MAX : S->o->relu_states, NULL, NULL, NULL, NULL, 0, 0, NULL,
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, err};
  rres res = R_ERR;
  for (size_t c = 0; c < nc; c++) if (B->conj[c].m > mmax) mmax = B->conj[c].m;
  R.qmax = mmax + (size_t)nmax + 1;
  R.sp = cb_alloc((size_t)(nmax + 1) * sizeof *R.sp);
  R.act = cb_alloc((size_t)(nmax + 2) * nc + 1);
  R.inj = cb_calloc((size_t)net->n, sizeof *R.inj);
  R.pl = cb_alloc(2 * (size_t)net->n * sizeof *R.pl);
  R.box = cb_alloc((size_t)(nmax + 2) * 2 * S->nb * sizeof *R.box);
  R.form = cb_alloc(2 * (size_t)(nmax + 2) * (nx + 1) * sizeof *R.form);
  R.mu = cb_alloc((R.qmax * (size_t)(nmax + 1) + (size_t)(nmax + 1) * (nx + 1)) * sizeof *R.mu);
  R.C = cb_alloc((R.qmax * (ny + 2 * nx + 4) + nx + 2 * ny) * sizeof *R.C);
  if (!R.sp || !R.act || !R.inj || !R.pl || !R.box || !R.form || !R.C || !R.mu) { cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  R.lin = R.C + R.qmax * ny;
  R.a = R.lin + R.qmax * nx;
  R.out = R.a + R.qmax * nx;
  R.lc = R.out + R.qmax;
  R.l = R.lc + R.qmax;
  R.g = R.l + R.qmax;              /* ny */
  R.x = R.g + R.qmax + ny;
  R.y = R.x + nx;
  R.F = R.mu + R.qmax * (size_t)(nmax + 1);
  R.f = R.F + (size_t)(nmax + 1) * nx;
  for (int i = 0; i < net->n; i++)
    if (node_is_act(&net->node[i], CB_ACT_RELU) && !R.inj[net->node[i].in[0]] &&
        !(R.inj[net->node[i].in[0]] = cb_alloc(R.qmax * net->node[net->node[i].in[0]].size * sizeof(double)))) {
      cb_error_set(err, CB_ENOMEM, "out of memory"); goto out;
    }
  memcpy(R.act, it->act, nc);
  res = rs_state(&R);
  rs_last_states = R.states;
  if (res == R_SAT) memcpy(x, R.x, nx * sizeof *x);
  if (res == R_OPEN && R.states > 1 && rs_bounds(&R, 0, net->n) != CB_OK) res = R_ERR;   /* the box's own boxes back */
out:
  for (int i = 0; R.inj && i < net->n; i++) cb_free(R.inj[i]);
  cb_free(R.inj); cb_free(R.sp); cb_free(R.act); cb_free(R.C); cb_free(R.pl); cb_free(R.box); cb_free(R.form); cb_free(R.mu);
  return res;
}

/*
** Ties end.  Where the property is decided only at the scale of rounding
** error (a tie, or a margin of 1e-18), bounds never close it and bisection
** would go on to adjacent doubles (depth 200 and more).  The search stops
** splitting, and leaves the subdomain open (answer unknown), when
**   - a dimension is narrower than PREC_FLOOR times its width in the
**     property's box: it is not split any more; none left: open;
**   - (inputs of <= 64 values) every row of every live conjunction varies
**     over the box by at most PREC_FLOOR of its magnitude: with a_r . x + c_r
**     the row's CROWN form, sum_j w_j |a_rj| <= PREC_FLOOR (|c_r| + |b_r| +
**     sum_j |a_rj| max(|lo_j|, |hi_j|)).  Splitting cannot move its bound by
**     more than the rounding slack the bound already carries.
** 2^-40 is ~1000 times the relative rounding error of a bound on the nets
** here; ACAS Xu's deepest subdomains are ~2^-25 of the box.
*/
#define PREC_FLOOR 0x1p-40

static int splittable(const item *it, const vnn_box *B, size_t j)
{
  double w = it->hi[j] - it->lo[j], mid = it->lo[j] + 0.5 * w;
  return w > PREC_FLOOR * (B->hi[j] - B->lo[j]) && mid > it->lo[j] && mid < it->hi[j];
}

static int at_precision(const search *S, const item *it, const double *a, const double *lc)
{
  const vnn_box *B = &S->spec->box[it->box];
  size_t nx = S->spec->nx;
  for (size_t c = 0; c < B->n_conj; c++) {
    const vnn_conj *k = &B->conj[c];
    if (!it->act[c]) continue;
    for (size_t r = 0; r < k->m; r++) {
      const double *ar = a + (S->row0[it->box][c] + r) * nx;
      double var = 0, mag = fabs(lc[S->row0[it->box][c] + r]) + fabs(k->b_up[r]);
      for (size_t j = 0; j < nx; j++) {
        var += (it->hi[j] - it->lo[j]) * fabs(ar[j]);
        mag += fabs(ar[j]) * fmax(fabs(it->lo[j]), fabs(it->hi[j]));
      }
      if (!(var <= PREC_FLOOR * mag)) return 0;
    }
  }
  return 1;
}

/* A subdomain left open at rounding scale may still hold an exact witness
   where its rows are extreme: at a vertex.  Tries, clamped into the inner
   box, the vertex minimising each live row's linear form a_r . x, and every
   vertex when there are at most 2^8.  1 with the witness in x (y, *c). */
static int leaf_vertices(const search *S, const item *it, const double *a, double *x, double *y, size_t *c)
{
  const vnn_box *B = &S->spec->box[it->box];
  size_t nx = S->spec->nx;
  for (size_t k = 0; k < B->n_conj; k++) {
    if (!it->act[k]) continue;
    for (size_t r = 0; r < B->conj[k].m; r++) {
      const double *ar = a + (S->row0[it->box][k] + r) * nx;
      for (size_t j = 0; j < nx; j++) x[j] = fmin(fmax(ar[j] >= 0 ? it->lo[j] : it->hi[j], B->lo_in[j]), B->hi_in[j]);
      if (vfy_check_witness(S->net, S->spec, it->box, x, y, c, &S->r->fp_only)) return 1;
    }
  }
  if (nx > 8) return 0;
  for (unsigned v = 0; v < (1u << nx); v++) {
    for (size_t j = 0; j < nx; j++) x[j] = fmin(fmax(v >> j & 1 ? it->hi[j] : it->lo[j], B->lo_in[j]), B->hi_in[j]);
    if (vfy_check_witness(S->net, S->spec, it->box, x, y, c, &S->r->fp_only)) return 1;
  }
  return 0;
}

/* Bounds item `it` with workspace ws; fills w (and it->act). */
static void process(const search *S, cb_ws *ws, item *it, work *w, double *scratch)
{
  const vnn_spec *sp = S->spec;
  const vnn_box *B = &sp->box[it->box];
  size_t nx = sp->nx, ny = sp->ny, q = S->q[it->box], live = 0, c;
  double *lb = scratch, *x = lb + q + 1, *y = x + nx, *score = y + ny, *xb = score + nx, *a = NULL, *lc = NULL, *Flo, *Fhi;
  double best = 0, tbest = INFINITY;
  int rc, have_x = 0, have_lin = 0, u;
  ws->set.lo = it->lo;
  ws->set.hi = it->hi;
  w->o = O_SPLIT;
  w->states = 0;
  w->upper_first = 0;
  w->relu_fail = it->relu_fail;
  w->x = NULL;
  w->prior = NULL;
  w->dim = -1;
  a = cb_alloc((q * nx + q + 2 * (nx + 1) * ny + 1) * sizeof *a);
  if (!a) { w->o = O_ERROR; cb_error_set(&w->err, CB_ENOMEM, "out of memory"); return; }
  lc = a + q * nx;
  Flo = lc + q; Fhi = Flo + (nx + 1) * ny;
  if (S->fwd) rc = fwdlin_run(ws, Flo, Fhi, &w->err) ? w->err.status : bounds_spec(ws, S->C[it->box], q, lb, NULL, &w->err);
  else if (S->prior) rc = prior_bound(S, ws, it, S->C[it->box], q, lb, a, lc, &have_lin, &w->err);
  else rc = S->bound(S->o->bound_ctx, ws, S->o->method, S->C[it->box], q, lb, &w->err);
  if (rc != CB_OK) { w->o = O_ERROR; goto out; }
  for (size_t r = 0; r < q; r++)
    if (isnan(lb[r]) || lb[r] == INFINITY) { w->o = O_LEAF; snprintf(w->why, sizeof w->why, "NaN or +inf in a bound"); goto out; }
  for (c = 0; c < B->n_conj; c++) {
    const vnn_conj *k = &B->conj[c];
    size_t r0 = S->row0[it->box][c];
    if (!it->act[c]) continue;
    for (size_t r = 0; r < k->m && it->act[c]; r++)
      if (k->strict[r] ? lb[r0 + r] >= k->b_up[r] : lb[r0 + r] > k->b_up[r]) it->act[c] = 0;
    live += it->act[c];
  }
  if (!live) { w->o = O_CLOSED; goto out; }
  for (size_t j = 0; j < nx; j++)   /* candidate: the centre, clamped into the inner box */
    x[j] = fmin(fmax(it->lo[j] + 0.5 * (it->hi[j] - it->lo[j]), B->lo_in[j]), B->hi_in[j]);
  if (vfy_check_witness(S->net, sp, it->box, x, y, &c, &S->r->fp_only)) goto sat;
  /* linear bounds of every row, the LP per live conjunction, the score */
  memset(score, 0, nx * sizeof *score);
  if (nx > FD_MAX_DIM) goto branch;   /* high dimension: no per-dimension linear bounds */
  if (S->fwd) fwd_rows(S->C[it->box], q, ny, nx, Flo, Fhi, a, lc);
  else if (!have_lin && linear_bounds(ws, S->C[it->box], q, nx, a, lc, NULL, &w->err) != CB_OK) { w->o = O_ERROR; goto out; }
  live = 0;
  for (c = 0; c < B->n_conj; c++) {
    size_t r0 = S->row0[it->box][c];
    if (!it->act[c]) continue;
    double tv = INFINITY;
    if (refine_conj(S, ws, it, c, a + r0 * nx, lc + r0, score, x, &have_x, &tv, &w->err) != CB_OK) { w->o = O_ERROR; goto out; }
    live += it->act[c];
    if (have_x) {   /* the LP minimiser is a candidate too */
      for (size_t j = 0; j < nx; j++) x[j] = fmin(fmax(x[j], B->lo_in[j]), B->hi_in[j]);
      if (it->act[c] && tv < tbest) { tbest = tv; memcpy(xb, x, nx * sizeof *x); }
      if (vfy_check_witness(S->net, sp, it->box, x, y, &c, &S->r->fp_only)) goto sat;
      have_x = 0;
    }
  }
  if (!live) { w->o = O_CLOSED; goto out; }
branch:
  w->relu_fail = it->relu_fail;
  if (S->o->relu_leaf > 0 && S->prior && net_has_relu(S->net) && (u = rs_count(ws)) > 0 &&
      (nx > FD_MAX_DIM || u <= S->o->relu_leaf) && (!it->relu_fail || 3 * u <= 2 * it->relu_fail) &&
      (nx > FD_MAX_DIM || S->rs_wasted <= 2 * S->rs_useful + RS_BASE)) {
    rres rr = relu_leaf(S, ws, it, u < RS_MAX_DEPTH ? u : RS_MAX_DEPTH, x, &w->err);
    w->states = rs_last_states;
    if (rr == R_OPEN) w->relu_fail = u;   /* not again on the sub-boxes until they are simpler */
    if (rr == R_CLOSED) { w->o = O_CLOSED; goto out; }
    if (rr == R_SAT) goto sat;
    if (rr == R_ERR) { w->o = O_ERROR; goto out; }
  }
  if (nx <= FD_MAX_DIM && at_precision(S, it, a, lc)) {
    if (leaf_vertices(S, it, a, x, y, &c)) goto sat;
    w->o = O_LEAF;
    snprintf(w->why, sizeof w->why, "undecided below rounding error: the rows vary by < 2^-40 of their size");
    goto out;
  }
  for (size_t j = 0; j < nx; j++)
    if (score[j] > best && splittable(it, B, j)) { best = score[j]; w->dim = (int)j; }
  {  /* the widest dimension relative to the root box, when nothing scores or when
        the scored one is already ASPECT times narrower (the output's slope
        ignores the relaxation gap that a wide dimension causes) */
    int wide = -1;
    double rw = 0, rc_ = w->dim >= 0 ? (it->hi[w->dim] - it->lo[w->dim]) / (B->hi[w->dim] - B->lo[w->dim]) : 0;
    for (size_t j = 0; j < nx; j++) {
      double s = splittable(it, B, j) ? (it->hi[j] - it->lo[j]) / (B->hi[j] - B->lo[j]) : 0;
      if (s > rw) { rw = s; wide = (int)j; }
    }
    if (w->dim < 0 || rw > S->aspect * rc_) w->dim = wide;
  }
  if (w->dim < 0) {
    if (nx <= FD_MAX_DIM && leaf_vertices(S, it, a, x, y, &c)) goto sat;
    w->o = O_LEAF; snprintf(w->why, sizeof w->why, "undecided at 2^-40 of the box's width (rounding scale)"); goto out;
  }
  double mid = it->lo[w->dim] + 0.5 * (it->hi[w->dim] - it->lo[w->dim]);
  w->upper_first = S->o->lp_side_first && nx <= FD_MAX_DIM && tbest < INFINITY && xb[w->dim] > mid;   /* the most violated live conjunction's LP point */
  if (!(mid > it->lo[w->dim] && mid < it->hi[w->dim])) { w->o = O_LEAF; snprintf(w->why, sizeof w->why, "subdomain too small to split"); }
  else if (S->prior) w->prior = save_prior(S, ws);   /* NULL on OOM: the children start afresh */
  goto out;
sat:
  if ((w->x = cb_alloc(nx * sizeof *w->x))) { memcpy(w->x, x, nx * sizeof *x); w->o = O_SAT; }
out:
  cb_free(a);
}

/* ---- the search ---- */

static int setup_rows(search *S)
{
  const vnn_spec *sp = S->spec;
  size_t ny = sp->ny;
  S->C = cb_calloc(sp->n_box + 1, sizeof *S->C);
  S->q = cb_calloc(sp->n_box + 1, sizeof *S->q);
  S->row0 = cb_calloc(sp->n_box + 1, sizeof *S->row0);
  if (!S->C || !S->q || !S->row0) return CB_ENOMEM;
  for (size_t b = 0; b < sp->n_box; b++) {
    const vnn_box *B = &sp->box[b];
    size_t q = 0;
    if (!(S->row0[b] = cb_alloc((B->n_conj + 1) * sizeof **S->row0))) return CB_ENOMEM;
    for (size_t c = 0; c < B->n_conj; c++) { S->row0[b][c] = q; q += B->conj[c].m; }
    S->q[b] = q;
    if (!(S->C[b] = cb_alloc((q * ny + 1) * sizeof **S->C))) return CB_ENOMEM;
    for (size_t c = 0; c < B->n_conj; c++)
      memcpy(S->C[b] + S->row0[b][c] * ny, B->conj[c].A, B->conj[c].m * ny * sizeof(double));
  }
  return CB_OK;
}

static void free_rows(search *S)
{
  for (size_t b = 0; S->C && b < S->spec->n_box; b++) { cb_free(S->C[b]); cb_free(S->row0[b]); }
  cb_free(S->C); cb_free(S->q); cb_free(S->row0);
}

/* Conjunctions no reachable output meets (Farkas, lp.c) are switched off in
   act0 (per box); the count goes to *dropped. */
static int drop_contradictions(search *S, cb_ws *ws, unsigned char **act0, size_t *dropped, cb_error *err)
{
  const vnn_spec *sp = S->spec;
  size_t ny = sp->ny, no = ny;
  int rc = CB_OK;
  double *ylo = cb_alloc(2 * no * sizeof *ylo), *I = cb_calloc(no * no + 1, sizeof *I);
  if (!ylo || !I) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  for (size_t j = 0; j < no; j++) I[j * no + j] = 1;
  for (size_t b = 0; b < sp->n_box && rc == CB_OK; b++) {
    const vnn_box *B = &sp->box[b];
    int any = 0;
    for (size_t c = 0; c < B->n_conj; c++) any |= B->conj[c].m > 1;
    if (!any) continue;
    ws->set.lo = B->lo; ws->set.hi = B->hi;
    if ((rc = bounds_run(ws, CB_IBP, err)) != CB_OK ||
        (rc = bounds_spec(ws, I, no, ylo, ylo + no, err)) != CB_OK) break;
    for (size_t c = 0; c < B->n_conj; c++) {
      const vnn_conj *k = &B->conj[c];
      int res = k->m > 1 ? lp_farkas(k->A, k->b_up, k->m, ny, ylo, ylo + no) : 0;
      if (res < 0) { rc = cb_error_set(err, res, "out of memory in the LP"); break; }
      if (res == 1) { act0[b][c] = 0; (*dropped)++; }
    }
  }
out:
  cb_free(ylo); cb_free(I);
  return rc;
}

/* The BaB loop over the stack; returns a status, the answer goes to S->r. */
static int bab(search *S, item **stack, size_t *top, size_t cap, cb_ws **ws, int nt, double **scratch)
{
  int cur;
  vfy_result *r = S->r;
  size_t nb = (size_t)nt * BATCH_PER_THREAD, leaves = 0;
  work *W = cb_calloc(nb, sizeof *W);
  item **batch = cb_calloc(nb, sizeof *batch);
  char leaf_why[96] = "";
  int rc = CB_OK;
  if (!W || !batch) { rc = CB_ENOMEM; goto out; }
  while (*top && r->answer != V_FALSIFIED) {
    size_t n = 0;
    if (now() - S->t0 > S->deadline) { r->answer = V_TIMEOUT; snprintf(r->reason, sizeof r->reason, "timeout after %ld subdomains (%zu open)", r->nodes, *top); goto out; }
    if (cancelled(S)) { r->answer = V_TIMEOUT; snprintf(r->reason, sizeof r->reason, "stopped: the other search answered"); goto out; }
    if (S->o->max_nodes && r->nodes >= S->o->max_nodes) { r->answer = V_UNKNOWN; snprintf(r->reason, sizeof r->reason, "node limit %ld reached", r->nodes); goto out; }
    if (!S->strong_done && now() - S->t0 > S->o->strong_after) {   /* not easy: a much longer attack, once */
      S->strong_done = 1;
      for (size_t b = 0; b < S->spec->n_box && r->answer != V_FALSIFIED; b++)
        if ((rc = pgd(S, b, S->spec->nx <= FD_MAX_DIM ? S->o->strong_restarts : 2, 100)) < 0) goto out;
      rc = CB_OK;
      if (r->answer == V_FALSIFIED) { snprintf(r->reason, sizeof r->reason, "witness from the long attack after %ld subdomains", r->nodes); goto out; }
    }
    cur = nt;
    if (S->o->grow) {
      int g;
      #pragma omp atomic read
      g = *S->o->grow;
      if (!g) cur = 1;
    }
    while (n < (size_t)cur * BATCH_PER_THREAD && *top) batch[n++] = stack[--*top];   /* <= nb */
    #pragma omp parallel for schedule(dynamic, 1) num_threads(cur)
    for (size_t k = 0; k < n; k++) {
      int t = omp_get_thread_num();
      memset(&W[k].err, 0, sizeof W[k].err);
      process(S, ws[t], batch[k], &W[k], scratch[t]);
    }
    for (size_t k = 0; k < n; k++) {
      item *it = batch[k];
      r->nodes++;
      r->relu_states += W[k].states;
      if (W[k].o == O_CLOSED || W[k].o == O_SAT) S->rs_useful += W[k].states; else S->rs_wasted += W[k].states;
      if (it->depth > r->depth) r->depth = it->depth;
      if (W[k].o == O_SAT && r->answer != V_FALSIFIED) {
        double *y = cb_alloc(S->spec->ny * sizeof *y);
        size_t c = 0;
        if (y && vfy_check_witness(S->net, S->spec, it->box, W[k].x, y, &c, &S->r->fp_only)) {
          if (set_sat(S, it->box, W[k].x, y, c)) rc = CB_ENOMEM;
          else snprintf(r->reason, sizeof r->reason, "witness at a subdomain centre (depth %d)", it->depth);
        }
        cb_free(y);
      } else if (W[k].o == O_ERROR) {
        if (rc == CB_OK) { rc = W[k].err.status ? W[k].err.status : CB_EINTERNAL; snprintf(r->reason, sizeof r->reason, "%s", W[k].err.msg); }
      } else if (W[k].o == O_LEAF) {
        leaves++;
        snprintf(leaf_why, sizeof leaf_why, "%s", W[k].why);
      } else if (W[k].o == O_SPLIT) {
        item *a = item_new(S, it->box, it->depth + 1), *b = item_new(S, it->box, it->depth + 1);
        size_t nx = S->spec->nx, d = (size_t)W[k].dim;
        if (!a || !b || *top + 2 > cap) {
          cb_free(a); cb_free(b);
          if (rc == CB_OK) rc = *top + 2 > cap ? 1 : CB_ENOMEM;
        } else {
          double mid = it->lo[d] + 0.5 * (it->hi[d] - it->lo[d]);
          memcpy(a->lo, it->lo, 2 * nx * sizeof(double) + S->spec->box[it->box].n_conj);
          memcpy(b->lo, it->lo, 2 * nx * sizeof(double) + S->spec->box[it->box].n_conj);
          a->hi[d] = mid;
          b->lo[d] = mid;
          a->relu_fail = b->relu_fail = W[k].relu_fail;
          if (W[k].prior) {
            memcpy(a->plo, W[k].prior, 2 * S->nb * sizeof(double));
            memcpy(b->plo, W[k].prior, 2 * S->nb * sizeof(double));
            a->has_prior = b->has_prior = 1;
          }
          stack[(*top)++] = W[k].upper_first ? a : b;   /* the top is searched first */
          stack[(*top)++] = W[k].upper_first ? b : a;
        }
      }
      cb_free(W[k].x);
      cb_free(W[k].prior);
      W[k].x = NULL;
      W[k].prior = NULL;
      cb_free(it);
    }
    if (rc != CB_OK && r->answer != V_FALSIFIED) {
      if (rc == 1) { r->answer = V_UNKNOWN; snprintf(r->reason, sizeof r->reason, "memory limit: %zu subdomains queued", *top); rc = CB_OK; }
      else r->answer = V_ERROR;
      goto out;
    }
  }
  if (r->answer == V_FALSIFIED) goto out;
  if (leaves) { r->answer = V_UNKNOWN; snprintf(r->reason, sizeof r->reason, "%zu subdomains not decided (%s)", leaves, leaf_why); }
  else { r->answer = V_VERIFIED; snprintf(r->reason, sizeof r->reason, "all %ld subdomains refuted", r->nodes); }
out:
  cb_free(W); cb_free(batch);
  return rc < 0 ? rc : CB_OK;
}

/* An open answer whose search met points that hold only in double says so. */
static void note_fp_only(vfy_result *r)
{
  char head[160];
  size_t n;
  if (!r->fp_only || (r->answer != V_UNKNOWN && r->answer != V_TIMEOUT) || strstr(r->reason, "floating point")) return;
  n = (size_t)snprintf(head, sizeof head, "witness holds only in floating point (%ld candidate%s meet the property in "
                       "the double forward pass, none in real arithmetic); ", r->fp_only, r->fp_only == 1 ? "" : "s");
  if (n >= sizeof head) n = sizeof head - 1;
  memmove(r->reason + n, r->reason, sizeof r->reason - n);
  memcpy(r->reason, head, n);
  r->reason[sizeof r->reason - 1] = 0;
}

static int vfy_run_one(const cb_net *net, const vnn_spec *spec, const vfy_opts *o, vfy_result *r, cb_error *err)
{
  search S = {net, spec, o, o->bound ? o->bound : default_bound, NULL, NULL, NULL, now(), r, 0, 0, 0, 0, 0, 0, 0, 0};
  int relu;
  S.aspect = o->aspect > 1 ? o->aspect : 1;
  S.fwd = !o->bound && o->fwd;
  S.prior = !o->bound && !S.fwd && o->method != CB_IBP;
  for (int i = 0; i < net->n; i++) S.nb += net->node[i].size;
  if (S.fwd && !fwdlin_supported(net)) return cb_error_set(err, CB_EUNSUP, "--method fwd needs a dense network with exact parameters (no conv, concat, transpose or maxpool)");
  if (S.fwd && spec->nx > FD_MAX_DIM) return cb_error_set(err, CB_EUNSUP, "--method fwd is for inputs of at most %d values", FD_MAX_DIM);
  cb_bnet bn = {0};
  cb_ws **ws = NULL;
  double **scratch = NULL;
  item **stack = NULL;
  unsigned char **act0 = NULL;
  size_t top = 0, cap, dropped = 0, nx = spec->nx, ny = spec->ny;
  int nt = o->threads > 0 ? o->threads : omp_get_max_threads(), rc;
  cb_set root = {CB_NORM_BOX, 0, nx, NULL, NULL, NULL};
  memset(r, 0, sizeof *r);
  r->answer = V_ERROR;
  if ((rc = vnn_check_sizes(spec, cb_net_input_size(net), cb_net_output_size(net), err)) != CB_OK) return rc;
  if (nt > 1) la_set_threads(1);
  cap = (size_t)(o->max_memory_mb * 1048576.0 / (double)item_bytes(&S));
  if (cap < 16) cap = 16;
  if (cap > ((size_t)1 << 26)) cap = (size_t)1 << 26;
  if ((rc = setup_rows(&S)) != CB_OK || (rc = bnet_init(&bn, net, err)) != CB_OK) goto oom;
  ws = cb_calloc((size_t)nt, sizeof *ws);
  scratch = cb_calloc((size_t)nt, sizeof *scratch);
  act0 = cb_calloc(spec->n_box + 1, sizeof *act0);
  if (!ws || !scratch || !act0) goto oom;
  root.lo = spec->n_box ? spec->box[0].lo : NULL;
  root.hi = spec->n_box ? spec->box[0].hi : NULL;
  for (int t = 0; t < nt; t++) {
    size_t qmax = 0;
    for (size_t b = 0; b < spec->n_box; b++) if (S.q[b] > qmax) qmax = S.q[b];
    if (spec->n_box && !(ws[t] = ws_new(&bn, &root, err))) { rc = err->status; goto out; }
    if (!(scratch[t] = cb_alloc((qmax + 1 + 3 * nx + ny + 1) * sizeof(double)))) goto oom;
  }
  for (size_t b = 0; b < spec->n_box; b++) {
    if (!(act0[b] = cb_alloc(spec->box[b].n_conj + 1))) goto oom;
    memset(act0[b], 1, spec->box[b].n_conj + 1);
  }
  /* a conjunction without rows: any point of the inner box is a witness */
  for (size_t b = 0; b < spec->n_box && r->answer != V_FALSIFIED; b++)
    for (size_t c = 0; c < spec->box[b].n_conj; c++)
      if (!spec->box[b].conj[c].m) { if ((rc = local_search(&S, b)) < 0) goto oom; break; }
  if (r->answer != V_FALSIFIED && spec->n_box && (rc = drop_contradictions(&S, ws[0], act0, &dropped, err)) != CB_OK) goto out;
  for (size_t b = 0; b < spec->n_box && r->answer != V_FALSIFIED; b++)
    if ((rc = local_search(&S, b)) < 0 || (r->answer != V_FALSIFIED && (rc = pgd(&S, b, o->attack_restarts, 40)) < 0)) goto oom;
  if (r->answer == V_FALSIFIED) { snprintf(r->reason, sizeof r->reason, "witness from the local search"); goto done; }
  if (!(stack = cb_alloc(cap * sizeof *stack))) goto oom;
  /* Input splitting alone: two phases, branching with the wide aspect guard
     (o->aspect2) for a quarter of the time, then from scratch with the narrow
     one (o->aspect).  Neither dominates on ACAS Xu: prop 2 on 1_1 takes 1,227
     subdomains with aspect 64 and does not finish in 116 s with 16; prop 3 on
     1_1 the reverse.  With ReLU splitting, the wide guard throughout: with 16,
     4_2 prop 2 does not finish in 116 s (29 s with 64), 3_3 prop 2 takes 88 s
     (25 s), 1_1 prop 3 is the same. */
  relu = o->relu_leaf > 0 && S.prior && net_has_relu(net) && o->aspect2 > 1 && nx <= FD_MAX_DIM;
  for (int phase = relu || (o->aspect2 > 1 && nx <= FD_MAX_DIM) ? 0 : 1; phase < 2; phase++) {
    while (top) cb_free(stack[--top]);
    for (size_t b = 0; b < spec->n_box; b++) {
      item *it = item_new(&S, b, 0);
      if (!it) goto oom;
      memcpy(it->lo, spec->box[b].lo, nx * sizeof(double));
      memcpy(it->hi, spec->box[b].hi, nx * sizeof(double));
      memcpy(it->act, act0[b], spec->box[b].n_conj);
      stack[top++] = it;
    }
    S.aspect = phase ? (o->aspect > 1 ? o->aspect : 1) : o->aspect2;
    S.deadline = phase || relu ? o->timeout : 0.25 * o->timeout;
    r->answer = V_ERROR;
    if ((rc = bab(&S, stack, &top, cap, ws, nt, scratch)) < 0) { cb_error_set(err, rc, "%s", r->reason[0] ? r->reason : "out of memory in the search"); goto out; }
    if (r->answer != V_TIMEOUT || relu) break;
  }
  if (r->answer == V_VERIFIED && dropped)
    snprintf(r->reason + strlen(r->reason), sizeof r->reason - strlen(r->reason), "; %zu output conjunction(s) contradictory", dropped);
  if (r->answer == V_VERIFIED && !spec->n_box) snprintf(r->reason, sizeof r->reason, "no disjunct of the property can hold");
  note_fp_only(r);
done:
  rc = CB_OK;
  note_fp_only(r);
  goto out;
oom:
  rc = cb_error_set(err, CB_ENOMEM, "out of memory in the search");
out:
  while (stack && top) cb_free(stack[--top]);
  cb_free(stack);
  for (int t = 0; ws && t < nt; t++) { ws_free(ws[t]); if (scratch) cb_free(scratch[t]); }
  for (size_t b = 0; act0 && b < spec->n_box; b++) cb_free(act0[b]);
  cb_free(ws); cb_free(scratch); cb_free(act0);
  bnet_free(&bn);
  free_rows(&S);
  r->seconds = now() - S.t0;
  if (rc != CB_OK) r->answer = V_ERROR;
  return rc;
}

/* Inputs of <= 64 values with two threads or more: a portfolio of two
   searches, input splitting alone and input + ReLU splitting, one core
   each; the first decisive answer stops the other, and each answer stands on
   its own proof or witness.  Input splitting alone gets a twentieth of the
   timeout (at least 5 s), with the wide aspect guard; after that the ReLU
   search takes every thread.  On ACAS Xu input splitting alone answered
   no instance after 5 s, but it answers some sat ones the ReLU search
   misses (1_9 prop 7: 0.8 s, a timeout for the ReLU search alone), while
   the ReLU search on both cores takes 3_3 / 4_2 prop 2 from 26 / 32 s to
   16 / 19 s. */
int vfy_run(const cb_net *net, const vnn_spec *spec, const vfy_opts *o, vfy_result *r, cb_error *err)
{
  int nt = o->threads > 0 ? o->threads : omp_get_max_threads(), stop = 0, grow = 0, rc[2] = {CB_OK, CB_OK}, win = -1;
  int levels = omp_get_max_active_levels();
  vfy_opts po[2];
  vfy_result pr[2];
  cb_error pe[2];
  if (nt < 2 || !o->portfolio || o->relu_leaf <= 0 || o->bound || o->fwd || o->cancel ||
      vnn_check_sizes(spec, cb_net_input_size(net), cb_net_output_size(net), err) != CB_OK ||
      spec->nx > FD_MAX_DIM)
    return err->status ? err->status : vfy_run_one(net, spec, o, r, err);
  for (int k = 0; k < 2; k++) {
    po[k] = *o;
    po[k].threads = 1;
    po[k].max_memory_mb = o->max_memory_mb / 2;
    po[k].cancel = &stop;
    memset(&pe[k], 0, sizeof pe[k]);
  }
  po[0].relu_leaf = 0;
  po[0].timeout = fmin(o->timeout, fmax(5, 0.05 * o->timeout));
  po[0].aspect = o->aspect2 > 1 ? o->aspect2 : o->aspect;
  po[0].aspect2 = 0;
  po[1].lp_side_first = 0;   /* two orders too: 1_6 prop 2 needs the LP side first, 1_9 prop 7 not */
  po[1].threads = nt;
  po[1].grow = &grow;
  la_set_threads(1);
  omp_set_max_active_levels(2);   /* the ReLU search's own team inside the portfolio's */
  #pragma omp parallel for num_threads(2) schedule(static, 1)
  for (int k = 0; k < 2; k++) {
    rc[k] = vfy_run_one(net, spec, &po[k], &pr[k], &pe[k]);
    if (k == 0) {
      #pragma omp atomic write
      grow = 1;
    }
    if (rc[k] == CB_OK && (pr[k].answer == V_FALSIFIED || pr[k].answer == V_VERIFIED)) {
      #pragma omp critical(vfy_portfolio)
      if (win < 0) {
        win = k;
        #pragma omp atomic write
        stop = 1;
      }
    }
  }
  omp_set_max_active_levels(levels);
  if (win < 0) win = rc[1] == CB_OK ? 1 : 0;   /* neither decided: the ReLU search's account */
  *r = pr[win];
  vfy_result_free(&pr[1 - win]);
  if (rc[win] != CB_OK) { *err = pe[win]; return rc[win]; }
  r->nodes += pr[1 - win].nodes;
  r->relu_states += pr[1 - win].relu_states;
  r->fp_only += pr[1 - win].fp_only;
  note_fp_only(r);
  snprintf(r->reason + strlen(r->reason), sizeof r->reason - strlen(r->reason), " [%s]",
           win ? "input + ReLU splitting" : "input splitting");
  return CB_OK;
}
