/*
** Projected gradient attack (see attack.h).  Steps, in the spirit of Madry
** et al. 2018 (PGD): L-inf: x -= a sign(grad); L2 and L1: x -= a grad/|grad|_2;
** step a = 2.5 r / steps, where r is the set's radius (half the box width
** per coordinate for a box).  Projection onto the L1 ball: Duchi et al. 2008
** (sort-based).  A start that does not improve is not kept; the best point
** over every start is returned.
**
** With opt.apgd, L-inf balls and boxes use the step-size schedule of APGD
** (Croce and Hein 2020, "Reliable evaluation of adversarial robustness with
** an ensemble of diverse parameter-free attacks", Alg. 1): step 2r, momentum
** 0.75, and at checkpoints 0.22, 0.22 + 0.19, ... of the steps the step is
** halved and the iterate restarts from the run's best point when fewer than
** 75% of the steps since the last checkpoint improved, or when the step and
** the best value did not change.  Every iterate is projected into the set,
** so the point returned is inside it whatever the schedule.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "attack.h"
#include "forward.h"
#include "grad.h"

static double urand(uint64_t *s)
{
  *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
  return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

double attack_objective(const double *y, size_t nout, const double *C, const double *d, size_t q,
                        cb_agg agg, size_t *active)
{
  double best = agg == CB_AGG_MIN ? HUGE_VAL : -HUGE_VAL;
  size_t arg = 0;
  for (size_t r = 0; r < q; r++) {
    double v = d ? d[r] : 0;
    for (size_t o = 0; o < nout; o++) v += C[r * nout + o] * y[o];
    if (!isfinite(v)) { best = NAN; arg = r; break; }
    if (agg == CB_AGG_MIN ? v < best : v > best) { best = v; arg = r; }
  }
  if (active) *active = arg;
  return best;
}

static int desc(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

/* Euclidean projection of v (n) onto {|v|_1 <= eps} (Duchi et al. 2008). */
static void project_l1(double *v, size_t n, double eps, double *tmp)
{
  double s = 0, cum = 0, theta = 0;
  size_t k;
  for (size_t j = 0; j < n; j++) s += fabs(v[j]);
  if (s <= eps) return;
  if (eps <= 0) { memset(v, 0, n * sizeof *v); return; }
  for (size_t j = 0; j < n; j++) tmp[j] = fabs(v[j]);
  qsort(tmp, n, sizeof *tmp, desc);
  for (k = 0; k < n; k++) {
    cum += tmp[k];
    if (tmp[k] - (cum - eps) / (double)(k + 1) <= 0) { cum -= tmp[k]; break; }
  }
  theta = (cum - eps) / (double)k;
  for (size_t j = 0; j < n; j++) {
    double a = fabs(v[j]) - theta;
    v[j] = a > 0 ? copysign(a, v[j]) : 0;
  }
}

int attack_project(const cb_set *s, double *x)
{
  size_t n = s->n;
  if (s->norm != CB_NORM_BOX) {
    const double *c = s->center;
    if (s->norm == CB_NORM_INF) {
      for (size_t j = 0; j < n; j++) {   /* weighted ball: radius eps w_j */
        double r = s->w ? s->eps * s->w[j] : s->eps;
        x[j] = fmin(fmax(x[j], c[j] - r), c[j] + r);
      }
    } else {
      double nrm = 0;
      for (size_t j = 0; j < n; j++) { x[j] -= c[j]; nrm += x[j] * x[j]; }
      if (s->norm == CB_NORM_2) {
        nrm = sqrt(nrm);
        if (nrm > s->eps) for (size_t j = 0; j < n; j++) x[j] *= s->eps / nrm;
      } else {
        double *tmp = cb_alloc(n * sizeof *tmp);
        if (!tmp) return 0;
        project_l1(x, n, s->eps, tmp);
        cb_free(tmp);
      }
      for (size_t j = 0; j < n; j++) x[j] += c[j];
    }
  }
  if (s->lo) for (size_t j = 0; j < n; j++) x[j] = fmin(fmax(x[j], s->lo[j]), s->hi[j]);
  /* rounding may leave x a few ulps outside: pull it towards the centre */
  for (int t = 0; t < 60 && !set_contains(s, x); t++) {
    double f = ldexp(1.0, -44 + t);
    for (size_t j = 0; j < n; j++) {
      double c = s->norm == CB_NORM_BOX ? 0.5 * (s->lo[j] + s->hi[j]) : s->center[j];
      x[j] -= (x[j] - c) * fmin(f, 1.0);
      if (s->lo) x[j] = fmin(fmax(x[j], s->lo[j]), s->hi[j]);
    }
  }
  return set_contains(s, x);
}

typedef struct atk {
  const cb_net *net;
  const cb_set *set;
  const double *C, *d;
  size_t q, nin, nout;
  cb_agg agg;
  cb_grad *g;
  double *y, *G, *x, *step;   /* scratch */
  double *xp, *xl;            /* APGD: previous iterate, the run's best point */
  double *r;                  /* per-coordinate radius (step scale) */
  double best, *xbest;
  int evals;
} atk;

/* Evaluates g at a.x (gradient of the active row into a.G); keeps the best. */
static int eval(atk *a, double *gx, cb_error *err)
{
  size_t act = 0;
  double v;
  int rc = grad_forward(a->g, a->x, a->y, err);
  if (rc != CB_OK) return rc;
  a->evals++;
  v = attack_objective(a->y, a->nout, a->C, a->d, a->q, a->agg, &act);
  if (!isfinite(v)) return cb_error_set(err, CB_EINTERNAL, "attack: network output is not finite");
  if ((rc = grad_backward(a->g, a->C + act * a->nout, 1, a->G, err)) != CB_OK) return rc;
  if (v < a->best) { a->best = v; memcpy(a->xbest, a->x, a->nin * sizeof *a->x); }
  *gx = v;
  return CB_OK;
}

/* PGD from a.x for `steps` steps. */
static int pgd(atk *a, int steps, double stop_below, cb_error *err)
{
  double gx, scale = 2.5 / (steps > 0 ? steps : 1);
  int rc;
  for (int t = 0; t <= steps; t++) {
    if ((rc = eval(a, &gx, err)) != CB_OK) return rc;
    if (a->best < stop_below || t == steps) break;
    if (a->set->norm == CB_NORM_INF || a->set->norm == CB_NORM_BOX) {
      for (size_t j = 0; j < a->nin; j++)
        a->x[j] -= scale * a->r[j] * (a->G[j] > 0 ? 1 : a->G[j] < 0 ? -1 : 0);
    } else {
      double nrm = 0;
      for (size_t j = 0; j < a->nin; j++) nrm += a->G[j] * a->G[j];
      nrm = sqrt(nrm);
      if (nrm == 0) break;
      for (size_t j = 0; j < a->nin; j++) a->x[j] -= scale * a->set->eps * a->G[j] / nrm;
    }
    if (!attack_project(a->set, a->x)) break;
  }
  return CB_OK;
}

/* APGD from a.x for `steps` steps (L-inf ball or box; the header). */
static int apgd(atk *a, int steps, double stop_below, cb_error *err)
{
  double gx, lbest, eta = 2, eta_ck = 2, best_ck, p = 0, dp = 0.22;
  int rc, ck = (int)ceil(0.22 * steps), last_ck = 0, good = 0;
  size_t n = a->nin;
  if ((rc = eval(a, &gx, err)) != CB_OK) return rc;
  lbest = best_ck = gx;
  memcpy(a->xl, a->x, n * sizeof *a->x);
  memcpy(a->xp, a->x, n * sizeof *a->x);
  for (int t = 0; t < steps && a->best >= stop_below; t++) {
    double fprev = gx;
    for (size_t j = 0; j < n; j++) {   /* z = P(x - eta r sign g); x' = P(x + 0.75 (z - x) + 0.25 (x - x_prev)) */
      double x = a->x[j], z = x - eta * a->r[j] * (a->G[j] > 0 ? 1 : a->G[j] < 0 ? -1 : 0);
      a->step[j] = z;
    }
    if (!attack_project(a->set, a->step)) break;
    for (size_t j = 0; j < n; j++) {
      double x = a->x[j], m = t ? x + 0.75 * (a->step[j] - x) + 0.25 * (x - a->xp[j]) : a->step[j];
      a->xp[j] = x;
      a->x[j] = m;
    }
    if (!attack_project(a->set, a->x)) break;
    if ((rc = eval(a, &gx, err)) != CB_OK) return rc;
    if (gx < fprev) good++;
    if (gx < lbest) { lbest = gx; memcpy(a->xl, a->x, n * sizeof *a->x); }
    if (t + 1 == ck) {   /* checkpoint */
      int span = ck - last_ck;
      if (good < 0.75 * span || (eta == eta_ck && lbest == best_ck)) {
        eta *= 0.5;
        memcpy(a->x, a->xl, n * sizeof *a->x);
        memcpy(a->xp, a->xl, n * sizeof *a->x);
        if ((rc = eval(a, &gx, err)) != CB_OK) return rc;
      }
      eta_ck = eta; best_ck = lbest; good = 0; last_ck = ck;
      p += dp;
      dp = fmax(dp - 0.03, 0.06);
      ck = (int)ceil((p + dp) * steps);
      if (ck <= t + 1) ck = t + 2;
    }
  }
  return CB_OK;
}

/* A random start inside the set. */
static void random_start(atk *a, uint64_t *rs)
{
  const cb_set *s = a->set;
  for (size_t j = 0; j < a->nin; j++) {
    double c = s->norm == CB_NORM_BOX ? 0.5 * (s->lo[j] + s->hi[j]) : s->center[j];
    a->x[j] = c + a->r[j] * (2 * urand(rs) - 1);
  }
  if (s->norm == CB_NORM_2 || s->norm == CB_NORM_1)   /* shrink into the ball: scale by a random radius */
    for (size_t j = 0; j < a->nin; j++) {
      double c = s->center[j];
      a->x[j] = c + (a->x[j] - c) * urand(rs) / (s->norm == CB_NORM_2 ? sqrt((double)a->nin) : (double)a->nin);
    }
  attack_project(s, a->x);
}

int attack_run(const cb_net *net, const cb_set *set, const double *C, const double *d, size_t q,
               cb_agg agg, double stop_below, const cb_attack_opt *opt, double *x_best,
               double *g_best, cb_error *err)
{
  atk a = {.net = net, .set = set, .C = C, .d = d, .q = q, .agg = agg, .best = HUGE_VAL};
  cb_attack_opt o = opt ? *opt : CB_ATTACK_DEFAULT;
  uint64_t rs = o.seed ? o.seed : 0x9E3779B97F4A7C15ULL;
  double gx;
  int (*run)(atk *, int, double, cb_error *) = o.apgd && (set->norm == CB_NORM_INF || set->norm == CB_NORM_BOX) ? apgd : pgd;
  int rc = CB_ENOMEM;
  a.nin = net->node[0].size;
  a.nout = net->node[net->output].size;
  a.g = grad_new(net, 1, err);
  a.y = cb_alloc(a.nout * sizeof *a.y);
  a.G = cb_alloc(a.nin * sizeof *a.G);
  a.x = cb_alloc(a.nin * sizeof *a.x);
  a.r = cb_alloc(a.nin * sizeof *a.r);
  a.step = cb_alloc(3 * a.nin * sizeof *a.step);
  a.xp = a.step ? a.step + a.nin : NULL;
  a.xl = a.step ? a.step + 2 * a.nin : NULL;
  a.xbest = x_best;
  if (!a.g || !a.y || !a.G || !a.x || !a.r || !a.step) { if (a.g) cb_error_set(err, CB_ENOMEM, "attack: out of memory"); goto out; }
  for (size_t j = 0; j < a.nin; j++) {
    a.r[j] = set->norm == CB_NORM_BOX ? 0.5 * (set->hi[j] - set->lo[j]) : set->w ? set->eps * set->w[j] : set->eps;
    a.x[j] = set->norm == CB_NORM_BOX ? 0.5 * (set->lo[j] + set->hi[j]) : set->center[j];
  }
  /* 1. the centre (projected: with a clip box it may lie outside).  No point
     of the set provably in it (an empty set, or one within rounding of
     empty): nothing to attack, nothing found. */
  if (!attack_project(set, a.x)) {
    memcpy(x_best, a.x, a.nin * sizeof *a.x);
    *g_best = HUGE_VAL;
    rc = CB_OK;
    goto out;
  }
  if ((rc = eval(&a, &gx, err)) != CB_OK) goto out;
  /* 2. PGD from the centre: its first step is the FGSM corner guess */
  if (a.best >= stop_below && (rc = run(&a, o.steps, stop_below, err)) != CB_OK) goto out;
  /* 3. random starts */
  for (int k = 0; k < o.restarts && a.best >= stop_below; k++) {
    random_start(&a, &rs);
    if ((rc = run(&a, o.steps, stop_below, err)) != CB_OK) goto out;
  }
  /* the concrete forward pass decides the reported value */
  if ((rc = cb_net_forward(net, x_best, 1, a.y, err)) != CB_OK) goto out;
  *g_best = attack_objective(a.y, a.nout, C, d, q, agg, NULL);
  rc = CB_OK;
out:
  grad_free(a.g);
  cb_free(a.y); cb_free(a.G); cb_free(a.x); cb_free(a.r); cb_free(a.step);
  return rc;
}
