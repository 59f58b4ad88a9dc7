/*
** Three-valued attribution audits (attr.h): stable / unstable / undecided.
**
** A row is `stable` when the certified bounds (attr_cert.c) keep its whole
** top-k over the ball (and its guaranteed L2 change within the threshold,
** when one is set).  Otherwise the attribution itself is attacked, looking
** for a point w of the ball whose map leaves the clean top-k set S:
**   objective  g(y) = (max_{j not in S} m_j(y) - min_{i in S} m_i(y)) / max_i |m_i(x)|
**              (and, with a threshold T, (||m(y) - m(x)||_2 - T) / T; the larger)
**   sampling   `samples` points of the ball: L-inf half vertices (every
**              coordinate +-eps), half uniform in the box; L2 a random
**              direction, on the sphere or at radius eps u^(1/n); L1 half
**              single-coordinate vertices, half uniform in the ball
**   ascent     from the best samples and random points: a step of length
**              alpha along a random sign direction d, kept when g(y +- alpha d)
**              improves on g(y) (a finite-difference sign step: the maps of
**              ReLU networks are piecewise constant or linear in y, so their
**              own gradients say nothing about rank changes); alpha shrinks
**              by 0.7 after a step that does not improve.
** Every candidate is projected into the set (attack_project); a witness is
** kept only when the exact distance test (exact_dist_le) and the clip box
** accept it and its map, recomputed, still changes (attr_topk_changed's
** margin: 1e-9 max |m|, far above the rounding of a map).  `undecided`
** otherwise.  The largest change over every map computed is the empirical
** stability, reported beside the certified maximum change.
** Cost: samples + restarts * steps * 2 maps per row (none for the ascent
** of a stable row).  One RNG stream (splitmix64) per row: reproducible bit
** for bit for a seed, independently of threads.
*/
#include <math.h>
#include <string.h>
#include "attr.h"
#include "attack.h"
#include "exact.h"

const char *const attr_verdict_name[AV_COUNT] = {"stable", "unstable", "undecided"};

void attr_audit_opt_init(attr_audit_opt *o)
{
  o->topk = 5;
  o->threshold = INFINITY;
  o->samples = 2000;
  o->steps = 30;
  o->restarts = 6;
  o->seed = 1;
}

int attr_in_ball(const cb_set *s, const double *w)
{
  int p = s->norm == CB_NORM_INF ? 0 : s->norm == CB_NORM_1 ? 1 : 2;
  if (s->norm == CB_NORM_BOX || !s->center) return 0;
  if (!exact_dist_le(w, s->center, s->n, p, s->eps)) return 0;
  if (s->lo) for (size_t i = 0; i < s->n; i++) if (!(w[i] >= s->lo[i] && w[i] <= s->hi[i])) return 0;
  return 1;
}

/* max_{j not in S} m_j - min_{i in S} m_i (in = flags of S). */
static double rank_gap(const double *m, size_t nm, const unsigned char *in)
{
  double out = -INFINITY, low = INFINITY;
  for (size_t i = 0; i < nm; i++) {
    if (in[i]) low = fmin(low, m[i]);
    else out = fmax(out, m[i]);
  }
  return out - low;
}

static double max_abs(const double *m, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++) s = fmax(s, fabs(m[i]));
  return s;
}

int attr_topk_changed(const double *m1, size_t nm, size_t k, const int *t0, int *t1, int *entered, int *n_entered,
                      int *left, int *n_left)
{
  double out = -INFINITY, low = INFINITY;
  size_t kk = attr_topk(m1, nm, k, t1);
  *n_entered = *n_left = 0;
  for (size_t q = 0; q < kk; q++) {
    int in0 = 0, in1 = 0;
    for (size_t r = 0; r < kk; r++) { in0 |= t1[q] == t0[r]; in1 |= t0[q] == t1[r]; }
    if (!in0) entered[(*n_entered)++] = t1[q];
    if (!in1) left[(*n_left)++] = t0[q];
  }
  for (size_t i = 0; i < nm; i++) {
    int in = 0;
    for (size_t r = 0; r < kk; r++) in |= (int)i == t0[r];
    if (in) low = fmin(low, m1[i]);
    else out = fmax(out, m1[i]);
  }
  return out - low > 1e-9 * max_abs(m1, nm);
}

/* The state of one row's audit. */
typedef struct aud {
  attr_ctx *a;
  const cb_set *s;
  const attr_audit_opt *o;
  attr_audit_res *r;
  const double *m0;
  int target, *t0;
  size_t n, nm, k;
  unsigned char *in;       /* nm flags: the clean top-k */
  double scale;            /* max |m0| (1 if 0) */
  double *m, *d, *y2, *y3, *starts, *sobj;   /* nm, n, n, n, restarts x n, restarts */
  uint64_t rs;
  int certified, found;
} aud;

/* Map at y, its change (the empirical stability) and objective; records a
   witness the first time one is confirmed. */
static int eval(aud *A, const double *y, double *g, cb_error *err)
{
  attr_audit_res *r = A->r;
  double c1 = 0, c2 = 0, ci = 0, l2;
  int rc;
  if ((rc = attr_map(A->a, y, A->target, A->m, err)) != CB_OK) return rc;
  r->evals++;
  for (size_t i = 0; i < A->nm; i++) {
    double dd = fabs(A->m[i] - A->m0[i]);
    c1 += dd; c2 += dd * dd; ci = fmax(ci, dd);
  }
  l2 = sqrt(c2);
  r->emp[0] = fmax(r->emp[0], c1); r->emp[1] = fmax(r->emp[1], l2); r->emp[2] = fmax(r->emp[2], ci);
  *g = rank_gap(A->m, A->nm, A->in) / A->scale;
  if (isfinite(A->o->threshold)) *g = fmax(*g, (l2 - A->o->threshold) / A->o->threshold);
  if (A->found) return CB_OK;
  {
    int tk = attr_topk_changed(A->m, A->nm, A->k, A->t0, r->wtopk, r->entered, &r->n_entered, r->left, &r->n_left);
    int th = l2 * (1 - 1e-9) > A->o->threshold;
    if (!tk && !th) return CB_OK;
    if (A->certified && tk)
      return cb_error_set(err, CB_EINTERNAL, "audit: a sampled point changes the certified top-k (soundness bug in the attribution bounds)");
    if (A->certified || !attr_in_ball(A->s, y)) return CB_OK;
    memcpy(r->witness, y, A->n * sizeof *y);
    memcpy(r->wmap, A->m, A->nm * sizeof *A->m);
    r->wchange[0] = c1; r->wchange[1] = l2; r->wchange[2] = ci;
    r->reason_topk = tk;
    A->found = 1;
  }
  return CB_OK;
}

/* A random point of the ball (before projection) into y. */
static void sample(aud *A, double *y)
{
  const cb_set *s = A->s;
  size_t n = A->n;
  double e = s->eps, u = attr_rng_unit(&A->rs);
  if (s->norm == CB_NORM_INF) {
    for (size_t i = 0; i < n; i++) {
      double v = attr_rng_unit(&A->rs);
      y[i] = s->center[i] + (u < 0.5 ? (v < 0.5 ? -e : e) : e * (2 * v - 1));
    }
  } else if (s->norm == CB_NORM_2) {
    double nr = 0, rad = u < 0.5 ? e : e * pow(attr_rng_unit(&A->rs), 1.0 / (double)n);
    for (size_t i = 0; i < n; i++) { A->d[i] = attr_rng_normal(&A->rs); nr += A->d[i] * A->d[i]; }
    nr = nr > 0 ? sqrt(nr) : 1;
    for (size_t i = 0; i < n; i++) y[i] = s->center[i] + rad * A->d[i] / nr;
  } else {
    double sum = 0, rad = e * pow(attr_rng_unit(&A->rs), 1.0 / (double)n);
    memcpy(y, s->center, n * sizeof *y);
    if (u < 0.5) {
      size_t j = (size_t)(attr_rng_unit(&A->rs) * (double)n);
      y[j < n ? j : n - 1] += attr_rng_unit(&A->rs) < 0.5 ? -e : e;
      return;
    }
    for (size_t i = 0; i < n; i++) { A->d[i] = -log(1 - attr_rng_unit(&A->rs)); sum += A->d[i]; }
    for (size_t i = 0; i < n; i++) y[i] += (attr_rng_unit(&A->rs) < 0.5 ? -rad : rad) * A->d[i] / (sum > 0 ? sum : 1);
  }
}

/* Keeps y among the `restarts` best starting points (by objective). */
static void keep_start(aud *A, const double *y, double g)
{
  int R = A->o->restarts, p = R - 1;
  if (R <= 0 || !(g > A->sobj[p])) return;
  while (p > 0 && g > A->sobj[p - 1]) {
    A->sobj[p] = A->sobj[p - 1];
    memcpy(A->starts + (size_t)p * A->n, A->starts + (size_t)(p - 1) * A->n, A->n * sizeof *y);
    p--;
  }
  A->sobj[p] = g;
  memcpy(A->starts + (size_t)p * A->n, y, A->n * sizeof *y);
}

/* Random-sign finite-difference ascent from y (modified in place). */
static int ascent(aud *A, double *y, double g, cb_error *err)
{
  size_t n = A->n;
  double alpha = 0.5 * A->s->eps;
  int rc;
  for (int t = 0; t < A->o->steps && !A->found; t++) {
    double gp, gm, sc = A->s->norm == CB_NORM_INF ? 1 : A->s->norm == CB_NORM_2 ? 1 / sqrt((double)n) : 1 / (double)n;
    for (size_t i = 0; i < n; i++) A->d[i] = (attr_rng_next(&A->rs) & 1 ? alpha : -alpha) * sc;
    for (size_t i = 0; i < n; i++) { A->y2[i] = y[i] + A->d[i]; A->y3[i] = y[i] - A->d[i]; }
    if (!attack_project(A->s, A->y2) || !attack_project(A->s, A->y3)) { alpha *= 0.7; continue; }
    if ((rc = eval(A, A->y2, &gp, err)) != CB_OK || A->found) return rc;
    if ((rc = eval(A, A->y3, &gm, err)) != CB_OK) return rc;
    if (fmax(gp, gm) > g) {
      g = fmax(gp, gm);
      memcpy(y, gp >= gm ? A->y2 : A->y3, n * sizeof *y);
    } else alpha *= 0.7;
  }
  return CB_OK;
}

/* Certified part: all of the top-k certified and the L2 change bound within
   the threshold. */
static int certify_row(aud *A, const double *lb, const double *ub, cb_error *err)
{
  double mc[3];
  int *idx = cb_alloc(A->k * sizeof *idx);
  size_t c;
  if (!idx) return cb_error_set(err, CB_ENOMEM, "out of memory");
  c = attr_certified_topk(lb, ub, A->nm, A->k, idx);
  attr_max_change(A->m0, lb, ub, A->nm, mc);
  A->certified = c == A->k && mc[1] <= A->o->threshold;
  cb_free(idx);
  return CB_OK;
}

static int run(aud *A, const double *lb, const double *ub, cb_error *err)
{
  const attr_audit_opt *o = A->o;
  double *y = A->y2, g;
  int rc;
  if (lb && ub && (rc = certify_row(A, lb, ub, err)) != CB_OK) return rc;
  for (int q = 0; q < o->samples; q++) {   /* all of them, for the empirical stability */
    sample(A, y);
    if (!attack_project(A->s, y)) continue;
    if ((rc = eval(A, y, &g, err)) != CB_OK) return rc;
    keep_start(A, y, g);
  }
  for (int q = 0; q < o->restarts && !A->found && !A->certified; q++) {
    double *st = A->starts + (size_t)q * A->n;
    if (!isfinite(A->sobj[q])) {   /* fewer good samples than restarts: a random point */
      sample(A, st);
      if (!attack_project(A->s, st)) continue;
      if ((rc = eval(A, st, &A->sobj[q], err)) != CB_OK) return rc;
    }
    if ((rc = ascent(A, st, A->sobj[q], err)) != CB_OK) return rc;
  }
  return CB_OK;
}

/* Re-checks a witness from scratch: in the ball, and its recomputed map
   changes the top-k (or exceeds the threshold). */
static int recheck(aud *A, cb_error *err)
{
  attr_audit_res *r = A->r;
  int rc, tk;
  double c2 = 0;
  if (!attr_in_ball(A->s, r->witness)) return 0;
  if ((rc = attr_map(A->a, r->witness, A->target, A->m, err)) != CB_OK) return rc;
  for (size_t i = 0; i < A->nm; i++) {
    if (A->m[i] != r->wmap[i]) return 0;
    c2 += (A->m[i] - A->m0[i]) * (A->m[i] - A->m0[i]);
  }
  tk = attr_topk_changed(A->m, A->nm, A->k, A->t0, r->wtopk, r->entered, &r->n_entered, r->left, &r->n_left);
  return tk || sqrt(c2) * (1 - 1e-9) > A->o->threshold;
}

int attr_audit(attr_ctx *a, const cb_set *s, int target, const double *map, const double *lb, const double *ub,
               const attr_audit_opt *o, attr_audit_res *r, cb_error *err)
{
  aud A;
  size_t n = a->n, nm = a->nm, R = o->restarts > 0 ? (size_t)o->restarts : 0;
  int rc = CB_OK;
  if (o->topk < 1 || o->samples < 0 || o->steps < 0 || o->restarts < 0 || !(o->threshold > 0))
    return cb_error_set(err, CB_EUSAGE, "audit: topk must be >= 1, samples, steps and restarts >= 0, the threshold > 0");
  if (s->norm == CB_NORM_BOX || !s->center) return cb_error_set(err, CB_EUNSUP, "audit: the set must be a ball (a centre and a radius)");
  memset(&A, 0, sizeof A);
  A.a = a; A.s = s; A.o = o; A.r = r; A.m0 = map; A.target = target;
  A.n = n; A.nm = nm; A.k = (size_t)o->topk < nm ? (size_t)o->topk : nm;
  A.rs = o->seed;
  A.scale = max_abs(map, nm);
  if (!(A.scale > 0)) A.scale = 1;
  r->verdict = AV_UNDECIDED;
  r->certified = r->reason_topk = 0;
  r->n_entered = r->n_left = 0;
  r->evals = 0;
  memset(r->emp, 0, sizeof r->emp);
  memset(r->wchange, 0, sizeof r->wchange);
  A.m = cb_alloc((nm + 3 * n + R * n + R) * sizeof(double));
  A.in = cb_calloc(nm, 1);
  A.t0 = cb_alloc(A.k * sizeof *A.t0);
  if (!A.m || !A.in || !A.t0) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  A.d = A.m + nm; A.y2 = A.d + n; A.y3 = A.y2 + n; A.starts = A.y3 + n; A.sobj = A.starts + R * n;
  for (size_t q = 0; q < R; q++) A.sobj[q] = -INFINITY;
  attr_topk(map, nm, A.k, A.t0);
  for (size_t q = 0; q < A.k; q++) A.in[A.t0[q]] = 1;
  if ((rc = run(&A, lb, ub, err)) != CB_OK) goto out;
  r->certified = A.certified;
  if (A.certified) r->verdict = AV_STABLE;
  else if (A.found) {
    int ok = recheck(&A, err);
    if (ok < 0) { rc = ok; goto out; }
    r->verdict = ok ? AV_UNSTABLE : AV_UNDECIDED;
  }
out:
  cb_free(A.m);
  cb_free(A.in);
  cb_free(A.t0);
  return rc;
}
