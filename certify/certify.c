/*
** The certification cascade (see certify.h); the radius search that reuses
** its steps is in radius.c (cert_int.h).
*/
#include <math.h>
#include <string.h>
#include <time.h>
#include "cert_int.h"
#include "forward.h"
#include "exact.h"
#include "jacobian.h"
#include "lipschitz.h"
#include "liplocal.h"
#include "round.h"

const char *const cb_cm_name[CM_COUNT] = {"clean", "attack", "lipschitz", "ibp", "crown-ibp", "crown",
                                          "local-lipschitz", "alpha-crown", "strong-attack", "bab"};

/* The methods that need the global Lipschitz analysis (certifier_new). */
#define LIP_METHODS ((1u << CM_LIPSCHITZ) | (1u << CM_LOCAL_LIP))

void cert_opt_init(cb_cert_opt *o)
{
  memset(o, 0, sizeof *o);
  o->norm = CB_NORM_INF;
  o->methods = (1u << CM_COUNT) - 1;
  o->cheap = (cb_attack_opt){10, 0, 1};
  o->strong = (cb_attack_opt){100, 8, 2};
  o->radius_rtol = 1e-3;
  o->bab_timeout = CERT_BAB_TIMEOUT;
  o->bab_memory_mb = 512;
  o->target = -1;
}

/* The threat model's arrays (certify.h): the merged box, the radii. */
static int threat_init(cb_certifier *c, const cb_cert_opt *o, cb_error *err)
{
  size_t n = c->nin;
  if (o->regression && !(o->tol >= 0 && isfinite(o->tol)))
    return cb_error_set(err, CB_EUSAGE, "--tol must be a finite number >= 0 (got %g)", o->tol);
  if (o->regression && o->target >= 0) return cb_error_set(err, CB_EUSAGE, "%s", "--target is for classifiers, not with --regression");
  if (o->target >= 0 && (size_t)o->target >= c->nout)
    return cb_error_set(err, CB_EUSAGE, "%s: --target %d is not a class of the network (0..%zu)", c->net->path, o->target, c->nout - 1);
  if (o->eps_w && o->norm != CB_NORM_INF)
    return cb_error_set(err, CB_EUSAGE, "per-feature radii make a weighted L-inf ball: use --norm inf, not %s", cb_norm_table[o->norm].name);
  if ((o->box_lo != NULL) != (o->box_hi != NULL)) return cb_error_set(err, CB_EUSAGE, "%s", "a box needs both its lower and upper bounds");
  if (o->clip || o->box_lo) {
    if (!(c->blo = cb_alloc(2 * n * sizeof *c->blo))) return cb_error_set(err, CB_ENOMEM, "out of memory");
    c->bhi = c->blo + n;
    for (size_t j = 0; j < n; j++) {
      c->blo[j] = o->clip ? o->clip_lo : -HUGE_VAL;
      c->bhi[j] = o->clip ? o->clip_hi : HUGE_VAL;
      if (o->box_lo) { c->blo[j] = fmax(c->blo[j], o->box_lo[j]); c->bhi[j] = fmin(c->bhi[j], o->box_hi[j]); }
      if (!(c->blo[j] <= c->bhi[j]) || !isfinite(c->blo[j]) || !isfinite(c->bhi[j]))
        return cb_error_set(err, CB_EVALUE, "input %zu: the box [%g, %g]%s is empty or not finite", j, c->blo[j], c->bhi[j],
                            o->clip && o->box_lo ? " (--box cut by --clip)" : "");
    }
  }
  c->wmax = 1;
  if (o->eps_w) {
    if (!(c->w = cb_alloc(n * sizeof *c->w))) return cb_error_set(err, CB_ENOMEM, "out of memory");
    c->wmax = 0;
    for (size_t j = 0; j < n; j++) {
      if (!(o->eps_w[j] >= 0) || !isfinite(o->eps_w[j]))
        return cb_error_set(err, CB_EVALUE, "input %zu: per-feature radius %g is not a finite number >= 0", j, o->eps_w[j]);
      c->w[j] = o->eps_w[j];
      c->wmax = fmax(c->wmax, c->w[j]);
    }
  }
  c->o.box_lo = c->o.box_hi = c->o.eps_w = NULL;   /* the caller's arrays: not kept */
  c->q = o->regression ? 2 * c->nout : o->target >= 0 ? 1 : c->nout - 1;
  return CB_OK;
}

cb_certifier *certifier_new(const cb_net *net, const cb_cert_opt *o, cb_error *err)
{
  cb_certifier *c = cb_calloc(1, sizeof *c);
  if (!c) { cb_error_set(err, CB_ENOMEM, "out of memory"); return NULL; }
  c->net = net;
  c->o = *o;
  c->o.methods |= 1u << CM_CLEAN;
  if (!(c->o.bab_timeout > 0)) c->o.methods &= ~(1u << CM_BAB);
  c->nin = cb_net_input_size(net);
  c->nout = cb_net_output_size(net);
  if (c->nout < 2 && !o->regression) {
    cb_error_set(err, CB_EUSAGE, "%s: certification needs at least 2 outputs (a regression net: --regression --tol T)", net->path);
    goto fail;
  }
  if (c->nout < 1) { cb_error_set(err, CB_EUSAGE, "%s: the network has no output", net->path); goto fail; }
  if (threat_init(c, o, err) != CB_OK) goto fail;
  if (o->regression || o->eps_w) {   /* the methods that do not apply */
    unsigned off = o->regression ? LIP_METHODS | (1u << CM_BAB) : 1u << CM_LOCAL_LIP;
    if (o->methods_named && (o->methods & off & ~(1u << CM_BAB))) {
      cb_error_set(err, CB_EUNSUP, "--methods %s does not apply %s", (o->methods >> CM_LIPSCHITZ) & 1 && o->regression ? "lipschitz" : "local-lipschitz",
                   o->regression ? "to --regression (it bounds class margins)" : "to per-feature radii (--eps-per-feature)");
      goto fail;
    }
    c->o.methods &= ~off;
    if (c->o.methods == 1u << CM_CLEAN) { cb_error_set(err, CB_EUSAGE, "%s", "--methods names no method that applies here"); goto fail; }
  }
  if (bnet_init(&c->bn, net, err) != CB_OK) goto fail;
  if (o->single && bnet_single(&c->bn, err) != CB_OK) goto fail;
  if ((c->o.methods & LIP_METHODS) && o->norm != CB_NORM_BOX) {
    lip_opts lo;
    cb_error e2 = {0};
    lip_opts_init(&lo);
    lo.norm = o->norm;
    if (lip_analyze(net, &lo, &c->lip, &e2) != CB_OK) {
      if (e2.status == CB_ENOMEM || e2.status == CB_ELIMIT) { *err = e2; goto fail; }
      if (o->methods_named) {                         /* the user asked for it: say why it cannot run */
        cb_error_set(err, CB_EUNSUP, "--methods %s: %s", (c->o.methods >> CM_LIPSCHITZ) & 1 ? "lipschitz" : "local-lipschitz", e2.msg);
        goto fail;
      }
      c->lip = NULL;                                  /* unsupported kind: both methods are skipped */
      c->o.methods &= ~LIP_METHODS;
    }
  }
  return c;
fail:
  certifier_free(c);
  return NULL;
}

const struct lip_result *certifier_lipschitz(const cb_certifier *c) { return c->lip; }
unsigned certifier_methods(const cb_certifier *c) { return c->o.methods; }

void certifier_free(cb_certifier *c)
{
  if (!c) return;
  lip_result_free(c->lip);
  bnet_free(&c->bn);
  cb_free(c->blo);
  cb_free(c->w);
  cb_free(c);
}

int cert_result_init(cb_cert_result *r, const cb_net *net)
{
  size_t ni = cb_net_input_size(net), no = cb_net_output_size(net);
  memset(r, 0, sizeof *r);
  r->logits = cb_calloc(6 * no + ni, sizeof(double));   /* logits, margin_lb (2 no: regression), cex_logits, logit_lb, logit_ub, cex */
  if (!r->logits) return CB_ENOMEM;
  r->margin_lb = r->logits + no;
  r->cex_logits = r->margin_lb + 2 * no;
  r->logit_lb = r->cex_logits + no;
  r->logit_ub = r->logit_lb + no;
  r->cex = r->logit_ub + no;
  return CB_OK;
}

void cert_result_free(cb_cert_result *r) { cb_free(r->logits); r->logits = NULL; }

static double since(const struct timespec *t0)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

int cert_out_of_time(const cert_job *j)
{
  return (j->stop && *j->stop) || (j->c->o.timeout > 0 && since(&j->t0) > j->c->o.timeout);
}

static int on(const cert_job *j, cb_cm m) { return (j->c->o.methods >> m) & 1; }

static int argmax(const double *y, size_t n)
{
  size_t b = 0;
  for (size_t k = 1; k < n; k++) if (y[k] > y[b]) b = k;
  return (int)b;
}

/* x in the set in real arithmetic: the clip box (double comparisons are
   exact) and ||x - center||_p <= eps decided exactly (exact.h). */
static int in_set_exact(const cb_set *s, const double *x)
{
  for (size_t i = 0; s->lo && i < s->n; i++) if (!(x[i] >= s->lo[i] && x[i] <= s->hi[i])) return 0;
  if (s->norm == CB_NORM_BOX) return 1;
  if (s->w) {   /* weighted: |x_i - c_i| <= eps w_i, the radius rounded down (a lower bound of the real one) */
    for (size_t i = 0; i < s->n; i++) if (!exact_dist_le(x + i, s->center + i, 1, 0, round_mul_rd(s->eps, s->w[i]))) return 0;
    return 1;
  }
  return exact_dist_le(x, s->center, s->n, s->norm == CB_NORM_INF ? 0 : s->norm == CB_NORM_2 ? 2 : 1, s->eps);
}

/* Regression: an output j whose real value at x deviates from its real
   value at the row by more than tol, from the enclosures (exact_output) at
   both points: lo(f_j(x)) - hi(f_j(row)) rounded down > tol, or the mirror;
   -1 if none (or on an error, *rc). */
static int deviates_exact(const cert_job *j, const double *x, int *rc, cb_error *err)
{
  const cb_certifier *c = j->c;
  cb_exact *E = NULL;
  int found = -1;
  if ((*rc = exact_eval(c->net, x, &E, err)) != CB_OK) return -1;
  for (size_t o = 0; o < c->nout && found < 0; o++) {
    double lo, hi;
    exact_output(E, o, &lo, &hi);
    if (round_add_rd(lo, -j->y_hi[o]) > c->o.tol || round_add_rd(j->y_lo[o], -hi) > c->o.tol) found = (int)o;
  }
  exact_free(E);
  return found;
}

/* A class k != label whose real-arithmetic logit is >= the label's at x
   (exact for piecewise-linear nets, over the whole enclosure otherwise):
   the double pass's choice first, then the others; -1 if none (the double
   pass's misclassification was rounding), or on an error (*rc). */
static int misclassified_exact(const cb_certifier *c, const double *x, int label, int first, int *rc, cb_error *err)
{
  cb_exact *E = NULL;
  double *a = NULL;
  int found = -1;
  if ((*rc = exact_eval(c->net, x, &E, err)) != CB_OK) return -1;
  if (!(a = cb_calloc(c->nout, sizeof *a))) { exact_free(E); *rc = cb_error_set(err, CB_ENOMEM, "out of memory"); return -1; }
  for (size_t t = 0; t <= c->nout && found < 0; t++) {
    int k = t == 0 ? first : (int)t - 1, smin, smax;
    if (k == label || (t > 0 && k == first)) continue;
    if (c->o.target >= 0 && k != c->o.target) continue;   /* targeted: only the target counts */
    a[label] = 1; a[k] = -1;
    exact_row_sign(E, a, 0, &smin, &smax);   /* y_label - y_k <= 0 everywhere in the enclosure */
    a[k] = 0;
    if (smax <= 0) found = k;
  }
  cb_free(a);
  exact_free(E);
  return found;
}

/*
** THE place where a counterexample is accepted: every "falsified" (clean
** step, attacks, radius search) goes through here.  x is accepted when it
** lies in the set at the current eps, in real arithmetic (in_set_exact:
** the clip box and the ball's distance decided exactly; set_contains first,
** the cheap rounded test), the double forward pass gives every output finite
** and an argmax other than the label, and the real-arithmetic outputs
** (misclassified_exact, exact.h) put some other class at or above the
** label.  With keep, x, its double logits and that class go to r.  Returns
** 1 if accepted, 0 if not; *rc gets the status (an error of a forward pass).
*/
int cert_counterexample_accept(cert_job *j, const double *x, int keep, int *rc, cb_error *err)
{
  const cb_certifier *c = j->c;
  double *y = j->ya;
  int k;
  *rc = CB_OK;
  if (!set_contains(&j->set, x) || !in_set_exact(&j->set, x)) return 0;
  if ((*rc = cb_net_forward(c->net, x, 1, y, err)) != CB_OK) return 0;
  for (size_t o = 0; o < c->nout; o++) if (!isfinite(y[o])) return 0;
  if (c->o.regression) {
    if ((k = deviates_exact(j, x, rc, err)) < 0) return 0;
  } else {
    k = c->o.target >= 0 ? c->o.target : argmax(y, c->nout);
    if (k == j->label || (c->o.target >= 0 && y[k] < y[j->label])) return 0;   /* the double pass's filter */
    if ((k = misclassified_exact(c, x, j->label, k, rc, err)) < 0) return 0;
  }
  if (keep) {
    if (x != j->r->cex) memcpy(j->r->cex, x, c->nin * sizeof *x);
    memcpy(j->r->cex_logits, y, c->nout * sizeof *y);
    j->r->cex_class = k;
  }
  return 1;
}

/* Attack at radius eps; 1 if it found an accepted counterexample (stored in r with keep). */
int cert_attack_at(cert_job *j, double eps, const cb_attack_opt *ao, cb_cm m, int keep, cb_error *err, int *rc)
{
  const cb_certifier *c = j->c;
  struct timespec t;
  double g;
  int found = 0;
  clock_gettime(CLOCK_MONOTONIC, &t);
  j->set.eps = eps;
  *rc = attack_run(c->net, &j->set, j->C, j->d, c->q, CB_AGG_MIN, 0, ao, j->xa, &g, err);
  if (*rc == CB_OK && g < 0) found = cert_counterexample_accept(j, j->xa, keep, rc, err);
  j->r->ms[m] += 1e3 * since(&t);
  j->r->ran |= 1u << m;
  return found;
}

/* A bound method stopped with status rc: the sample's time ran out (0, not
   verified) or an error (-1). */
static int stopped(cert_job *j, int rc, cb_error *err)
{
  if (rc == CB_ELIMIT && cert_out_of_time(j)) { cb_error_clear(err); return 0; }
  return -1;
}

/* Folds the margin bounds lb of method m into best: 1 if every margin is
   proved > 0 (best = lb, the deciding method's bounds), 0 if not, -1 on a
   non-finite bound (reason in r). */
static int take_bounds(cert_job *j, cb_cm m)
{
  size_t q = j->c->q;
  int ok = 1;
  for (size_t r = 0; r < q; r++) {
    if (!isfinite(j->lb[r])) {
      snprintf(j->r->reason, sizeof j->r->reason, "internal error: non-finite %s bound on margin %zu", cb_cm_name[m], r);
      return -1;
    }
    if (j->d) {   /* regression: C_r f + d_r >= 0 (non-strict: |f_j(y) - f_j(x)| <= tol) */
      j->lb[r] = round_add_rd(j->lb[r], j->d[r]);
      if (!(j->lb[r] >= 0)) ok = 0;
    } else if (!(j->lb[r] > 0)) ok = 0;
    j->best[r] = j->have_best ? fmax(j->best[r], j->lb[r]) : j->lb[r];
  }
  j->have_best = 1;
  if (ok) memcpy(j->best, j->lb, q * sizeof *j->lb);
  return ok;
}

/* CROWN's intermediate bounds over the set at the current eps, which local
   Lipschitz and alpha-CROWN (method m) build on: kept when CROWN ran at this
   eps, computed otherwise (m's time). */
static int need_crown(cert_job *j, cb_cm m, cb_error *err)
{
  struct timespec t;
  int rc;
  if (j->last == CM_CROWN) return CB_OK;
  clock_gettime(CLOCK_MONOTONIC, &t);
  rc = bounds_run(j->ws, CB_CROWN, err);
  j->r->ms[m] += 1e3 * since(&t);
  if (rc == CB_OK) j->last = CM_CROWN;
  return rc;
}

/* lb_j = m_j(p) - L_j eps with the interval constants, each L_j tightened by
   liplocal's sign branch and bound when o.lip_nodes > 0 and time is left
   (every L_j sound over the set, so the smaller one is; the same rounding
   as jac_margin_lb). */
static int local_lip_lb(cert_job *j, cb_error *err)
{
  size_t no = j->c->nout;
  double *L;
  liplocal_result *br;
  liplocal_opts lo;
  int rc;
  if (j->c->o.lip_nodes <= 0 || cert_out_of_time(j)) return jac_margin_lb(j->ws, j->label, j->c->lip, j->m_lo, j->lb, NULL, err);
  if (!(L = cb_alloc(no * sizeof *L + no * sizeof *br))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  br = (liplocal_result *)(L + no);
  liplocal_opts_init(&lo);
  lo.max_nodes = j->c->o.lip_nodes;
  lo.samples = 0;
  lo.lower = 0;
  lo.gap = 0;
  if ((rc = jac_margin_lb(j->ws, j->label, j->c->lip, j->m_lo, j->lb, L, err)) == CB_OK &&
      (rc = liplocal_margins(j->ws, j->label, j->c->lip, &lo, br, NULL, err)) == CB_OK)
    for (size_t k = 0; k + 1 < no; k++)
      if (br[k].upper < L[k]) j->lb[k] = round_next_down(j->m_lo[k] - round_next_up(br[k].upper * j->ws->set.eps));
  cb_free(L);
  return rc;
}

/* Local Lipschitz at the current eps: m_j(p) - L_j eps, by the mean value
   theorem along the segment from p to any y of the set (p is in the set,
   which is convex, and ||y - p|| <= eps).  1 / 0 / -1 as take_bounds. */
static int local_lip_at(cert_job *j, cb_error *err)
{
  struct timespec t;
  int rc;
  if (!set_contains(&j->set, j->p)) return 0;
  if ((rc = need_crown(j, CM_LOCAL_LIP, err)) != CB_OK) return stopped(j, rc, err);
  clock_gettime(CLOCK_MONOTONIC, &t);
  rc = local_lip_lb(j, err);
  j->r->ms[CM_LOCAL_LIP] += 1e3 * since(&t);
  j->r->ran |= 1u << CM_LOCAL_LIP;
  if (rc != CB_OK) return stopped(j, rc, err);
  if (j->c->o.target >= 0)   /* the target's margin (j != label ascending) is the one row */
    j->lb[0] = j->lb[j->c->o.target < j->label ? j->c->o.target : j->c->o.target - 1];
  return take_bounds(j, CM_LOCAL_LIP);
}

/* alpha-CROWN's margin bounds at the current eps.  1 / 0 / -1 as take_bounds. */
static int alpha_at(cert_job *j, cb_error *err)
{
  struct timespec t;
  int rc;
  if ((rc = need_crown(j, CM_ALPHA, err)) != CB_OK) return stopped(j, rc, err);
  clock_gettime(CLOCK_MONOTONIC, &t);
  rc = alpha_spec(j->ws, j->C, j->c->q, NULL, j->lb, NULL, err);
  j->r->ms[CM_ALPHA] += 1e3 * since(&t);
  j->r->ran |= 1u << CM_ALPHA;
  if (rc != CB_OK) return stopped(j, rc, err);
  return take_bounds(j, CM_ALPHA);
}

/* Sound methods at radius eps, cheapest first: returns 1 if verified (by *by),
   0 if not, -1 on an error or a non-finite bound (reason in r).  A set that
   is provably empty (the radius search near the distance to the clip box)
   is verified vacuously, by no method (*by = CM_COUNT). */
int cert_sound_at(cert_job *j, double eps, cb_cm *by, cb_error *err)
{
  static const cb_cm order[] = {CM_IBP, CM_CROWN_IBP, CM_CROWN};
  static const cb_method meth[] = {CB_IBP, CB_CROWN_IBP, CB_CROWN};
  size_t q = j->c->q;
  int v = 0;
  *by = CM_COUNT;
  j->last = CM_COUNT;          /* the workspace holds nothing at this eps yet */
  j->set.eps = eps;
  j->ws->set.eps = eps;
  if (eps < j->d_up || j->set.w) {   /* weighted: d is in units of the scale, checked at every eps */
    cb_error e2 = {0};
    if (set_check(&j->set, &e2) != CB_OK) return 1;
  }
  if (on(j, CM_LIPSCHITZ)) {
    j->r->ran |= 1u << CM_LIPSCHITZ;
    if (eps < j->lip_radius) { *by = CM_LIPSCHITZ; return 1; }
  }
  for (int k = 0; k < 3 && v == 0; k++) {
    struct timespec t;
    int rc;
    if (!on(j, order[k]) || cert_out_of_time(j)) continue;
    clock_gettime(CLOCK_MONOTONIC, &t);
    rc = bounds_run(j->ws, meth[k], err);
    if (rc == CB_OK) rc = bounds_spec(j->ws, j->C, q, j->lb, NULL, err);
    j->r->ms[order[k]] += 1e3 * since(&t);
    j->r->ran |= 1u << order[k];
    if (rc != CB_OK) return stopped(j, rc, err);
    j->last = order[k];
    if ((v = take_bounds(j, order[k])) > 0) *by = order[k];
  }
  if (v == 0 && on(j, CM_LOCAL_LIP) && j->have_m_lo && !cert_out_of_time(j) && (v = local_lip_at(j, err)) > 0) *by = CM_LOCAL_LIP;
  if (v == 0 && on(j, CM_ALPHA) && !cert_out_of_time(j) && (v = alpha_at(j, err)) > 0) *by = CM_ALPHA;
  return v;
}

/* The worst margin of the best bounds, for the reason text. */
static void unknown_reason(cert_job *j)
{
  size_t q = j->c->q, w = 0;
  if (!j->have_best && on(j, CM_LIPSCHITZ)) {
    snprintf(j->r->reason, sizeof j->r->reason, "eps %.6g not below the global Lipschitz radius %.6g, no counterexample found",
             j->c->o.eps, j->lip_radius);
    return;
  }
  if (!j->have_best) { snprintf(j->r->reason, sizeof j->r->reason, "no sound method ran"); return; }
  for (size_t r = 1; r < q; r++) if (j->best[r] < j->best[w]) w = r;
  if (j->d) {
    snprintf(j->r->reason, sizeof j->r->reason, "output %zu: f(y) %s f(x) %s %g not proved: best margin %.6g, no counterexample found",
             w / 2, w % 2 ? ">=" : "<=", w % 2 ? "-" : "+", j->c->o.tol, j->best[w]);
    return;
  }
  if (j->c->o.target >= 0) {
    snprintf(j->r->reason, sizeof j->r->reason, "margin against the target class %d not proved: best lower bound %.6g, "
             "no counterexample found", j->c->o.target, j->best[0]);
    return;
  }
  snprintf(j->r->reason, sizeof j->r->reason, "margin against class %zu not proved: best lower bound %.6g, no counterexample found",
           w < (size_t)j->label ? w : w + 1, j->best[w]);
}

/* Logit bounds at eps for the report, from the workspace state of the last
   bound method (IBP when none ran). */
static int logit_bounds(cert_job *j, cb_error *err)
{
  size_t no = j->c->nout;
  double *I = cb_calloc(no * no, sizeof *I);
  int rc;
  if (!I) return cb_error_set(err, CB_ENOMEM, "out of memory");
  for (size_t k = 0; k < no; k++) I[k * no + k] = 1;
  j->set.eps = j->ws->set.eps = j->c->o.eps;
  if (j->last == CM_COUNT) { j->last = CM_IBP; rc = bounds_run(j->ws, CB_IBP, err); } else rc = CB_OK;
  if (rc == CB_OK) rc = bounds_spec(j->ws, I, no, j->r->logit_lb, j->r->logit_ub, err);
  cb_free(I);
  if (rc == CB_ELIMIT && cert_out_of_time(j)) { cb_error_clear(err); j->r->have_logit_bounds = 0; return CB_OK; }
  if (rc != CB_OK) return rc;
  j->r->have_logit_bounds = 1;
  j->r->logit_method = j->last;
  for (size_t k = 0; k < no; k++)
    if (!isfinite(j->r->logit_lb[k]) || !isfinite(j->r->logit_ub[k])) j->r->have_logit_bounds = 0;
  return CB_OK;
}

/* The clean step: the forward pass at the clean point p (logits and pred of
   the sample); falsified when p is misclassified and accepted. */
static int clean_step(cert_job *j, cb_error *err)
{
  const cb_certifier *c = j->c;
  cb_cert_result *r = j->r;
  struct timespec t;
  int rc, found;
  clock_gettime(CLOCK_MONOTONIC, &t);
  set_nearest(&j->set, j->p);
  rc = cb_net_forward(c->net, j->p, 1, r->logits, err);
  r->ms[CM_CLEAN] += 1e3 * since(&t);
  r->ran |= 1u << CM_CLEAN;
  if (rc != CB_OK) return rc;
  r->pred = argmax(r->logits, c->nout);
  for (size_t o = 0; o < c->nout; o++)
    if (!isfinite(r->logits[o])) return cb_error_set(err, CB_EVALUE, "the network output is not finite at this sample");
  if (c->o.regression ? !memcmp(j->p, j->x, c->nin * sizeof *j->x)            /* f(x) - f(x) = 0 */
      : c->o.target >= 0 ? r->logits[c->o.target] < r->logits[j->label] : r->pred == j->label) return CB_OK;
  found = cert_counterexample_accept(j, j->p, 1, &rc, err);
  if (rc != CB_OK || !found) return rc;      /* p not provably in the set: the cascade goes on */
  r->verdict = V_FALSIFIED;
  r->decided_by = CM_CLEAN;
  if (c->o.regression)
    snprintf(r->reason, sizeof r->reason, "the row clamped into the box moves output %d by more than %g", r->cex_class, c->o.tol);
  else if (c->o.target >= 0)
    snprintf(r->reason, sizeof r->reason, "the target class %d scores >= the label %d at the %s", c->o.target, j->label,
             memcmp(j->p, j->x, c->nin * sizeof *j->x) ? "row clamped into the box" : "sample itself");
  else snprintf(r->reason, sizeof r->reason, "the %s is classified %d, not %d",
           memcmp(j->p, j->x, c->nin * sizeof *j->x) ? "row clamped into the clip box" : "sample itself", r->pred, j->label);
  return CB_OK;
}

/* Per-sample inputs of the Lipschitz methods, at the clean point p. */
static int lipschitz_inputs(cert_job *j, cb_error *err)
{
  const cb_certifier *c = j->c;
  struct timespec t;
  int rc = CB_OK;
  clock_gettime(CLOCK_MONOTONIC, &t);
  if (on(j, CM_LIPSCHITZ)) {
    lip_sample ls;
    if ((rc = lip_certify(c->net, c->lip, j->p, j->label, &ls, err)) != CB_OK) return rc;
    j->lip_radius = ls.radius_pairwise;   /* every margin: a lower bound of the target's alone too */
    /* weighted ball: S lies in the L-inf ball of radius eps wmax around p, so in
       units of the scale eps the radius is lip / wmax (rounded down) */
    if (c->w) j->lip_radius = c->wmax > 0 ? round_div_rd(j->lip_radius, c->wmax) : 0;
    j->r->ms[CM_LIPSCHITZ] += 1e3 * since(&t);
  }
  clock_gettime(CLOCK_MONOTONIC, &t);
  if (on(j, CM_LOCAL_LIP) && c->lip) {
    if ((rc = jac_margins_at(c->net, c->lip, j->p, j->label, j->m_lo, NULL, err)) != CB_OK) return rc;
    j->have_m_lo = 1;
    j->r->ms[CM_LOCAL_LIP] += 1e3 * since(&t);
  }
  return rc;
}

int certify_sample(const cb_certifier *c, const double *x, int label, cb_cert_result *r,
                   const volatile int *stop, cb_error *err)
{
  size_t q = c->q, ni = c->nin, no = c->nout, nl = q > no ? q : no;
  cert_job j = {.c = c, .x = x, .label = label, .r = r, .stop = stop, .last = CM_COUNT};
  char bab_why[200] = "";
  cb_cm by = CM_COUNT;
  int rc = CB_OK, v = 0;
  clock_gettime(CLOCK_MONOTONIC, &j.t0);
  cb_task_deadline(c->o.timeout);    /* long bound passes stop at the sample's deadline too */
  r->label = label;
  r->verdict = V_UNKNOWN;
  r->decided_by = CM_COUNT;
  r->reason[0] = 0;
  r->have_margin_lb = 0;
  r->have_logit_bounds = 0;
  r->certified_radius = 0;
  r->attack_radius = INFINITY;
  r->ran = 0;
  memset(r->ms, 0, sizeof r->ms);
  r->bab_answer = V_UNKNOWN;
  r->bab_nodes = r->bab_relu_states = 0;
  r->bab_depth = 0;
  if (!c->o.regression && (label < 0 || (size_t)label >= no))
    return cb_error_set(err, CB_EVALUE, "label %d is not a class of the network (0..%zu)", label, no - 1);
  if (c->o.target >= 0 && label == c->o.target)
    return cb_error_set(err, CB_EVALUE, "label %d is the target class (--target): nothing to exclude", label);
  j.C = cb_calloc(q * no + nl + 2 * q + 4 * ni + 4 * no, sizeof(double));
  if (!j.C) return cb_error_set(err, CB_ENOMEM, "out of memory");
  j.lb = j.C + q * no; j.best = j.lb + nl; j.xa = j.best + q; j.lo = j.xa + ni; j.hi = j.lo + ni; j.p = j.hi + ni;
  j.ya = j.p + ni;
  j.m_lo = j.ya + no;
  j.y_lo = j.m_lo + no; j.y_hi = j.y_lo + no;
  if (c->o.regression) {   /* rows -f_o + (tol + f_o(x)) >= 0 and f_o + (tol - f_o(x)) >= 0 */
    cb_exact *E = NULL;
    j.d = j.y_hi + no;
    if ((rc = exact_eval(c->net, x, &E, err)) != CB_OK) goto out;
    for (size_t o = 0; o < no; o++) {
      exact_output(E, o, &j.y_lo[o], &j.y_hi[o]);
      j.C[2 * o * no + o] = -1; j.d[2 * o] = round_add_rd(c->o.tol, j.y_lo[o]);
      j.C[(2 * o + 1) * no + o] = 1; j.d[2 * o + 1] = round_add_rd(c->o.tol, -j.y_hi[o]);
    }
    exact_free(E);
  } else if (c->o.target >= 0) {
    j.C[(size_t)label] = 1; j.C[(size_t)c->o.target] = -1;
  } else for (size_t k = 0, o = 0; o < no; o++)
    if ((int)o != label) { j.C[k * no + (size_t)label] = 1; j.C[k * no + o] = -1; k++; }
  j.set = (cb_set){c->o.norm, c->o.eps, ni, x, c->blo, c->bhi, c->w};
  if ((rc = set_check(&j.set, err)) != CB_OK) goto out;
  j.d_lo = set_clip_distance(&j.set, 0);
  j.d_up = set_clip_distance(&j.set, 1);
  if ((rc = clean_step(&j, err)) != CB_OK) goto out;
  if (r->verdict == V_FALSIFIED) goto radius;
  if ((rc = lipschitz_inputs(&j, err)) != CB_OK) goto out;
  if (!(j.ws = ws_new(&c->bn, &j.set, err))) { rc = err ? err->status : CB_ENOMEM; goto out; }
  j.ws->single = c->o.single;
  /* cheap attack, then the sound methods, then a strong attack */
  if (on(&j, CM_ATTACK) && cert_attack_at(&j, c->o.eps, &c->o.cheap, CM_ATTACK, 1, err, &rc)) {
    r->verdict = V_FALSIFIED; r->decided_by = CM_ATTACK;
  } else if (rc == CB_OK && (v = cert_sound_at(&j, c->o.eps, &by, err)) > 0) {
    r->verdict = V_VERIFIED; r->decided_by = by;
  } else if (rc == CB_OK && v == 0 && on(&j, CM_STRONG_ATTACK) && !cert_out_of_time(&j) &&
             cert_attack_at(&j, c->o.eps, &c->o.strong, CM_STRONG_ATTACK, 1, err, &rc)) {
    r->verdict = V_FALSIFIED; r->decided_by = CM_STRONG_ATTACK;
  }
  /* last, branch and bound on the set as a box property (cert_bab.c): L-inf only */
  if (rc == CB_OK && v == 0 && r->verdict == V_UNKNOWN && on(&j, CM_BAB) && !cert_out_of_time(&j)) {
    if (c->o.norm == CB_NORM_INF) rc = cert_bab(&j, bab_why, sizeof bab_why, err);   /* weighted too: a box */
    else snprintf(bab_why, sizeof bab_why, "bab skipped: the L%s ball is not a box (bab runs on L-inf balls only)",
                  cb_norm_table[c->o.norm].name);
  }
  if (rc != CB_OK) goto out;
  if (v < 0) {   /* a bound error: the sample stays unknown with the reason */
    if (!r->reason[0]) snprintf(r->reason, sizeof r->reason, "internal error: %.150s", err ? err->msg : "bound failed");
    cb_error_clear(err);
    goto done;
  }
  r->have_margin_lb = r->verdict == V_VERIFIED ? by != CM_LIPSCHITZ && r->decided_by != CM_BAB : r->verdict == V_UNKNOWN && j.have_best;
  if (r->have_margin_lb) memcpy(r->margin_lb, j.best, q * sizeof *j.best);
  if (r->verdict == V_FALSIFIED && c->o.regression)
    snprintf(r->reason, sizeof r->reason, "%s found an input that moves output %d by more than %g", cb_cm_name[r->decided_by],
             r->cex_class, c->o.tol);
  else if (r->verdict == V_FALSIFIED && c->o.target >= 0)
    snprintf(r->reason, sizeof r->reason, "%s found an input where the target class %d scores >= the label", cb_cm_name[r->decided_by],
             c->o.target);
  else if (r->verdict == V_FALSIFIED)
    snprintf(r->reason, sizeof r->reason, "%s found an input classified %d", cb_cm_name[r->decided_by], r->cex_class);
  else if (r->verdict == V_VERIFIED && r->decided_by == CM_BAB)
    ;                                          /* cert_bab wrote it */
  else if (r->verdict == V_VERIFIED && by == CM_LIPSCHITZ)
    snprintf(r->reason, sizeof r->reason, "eps %.6g < global Lipschitz radius %.6g", c->o.eps, j.lip_radius);
  else if (r->verdict == V_VERIFIED && c->o.regression)
    snprintf(r->reason, sizeof r->reason, "%s: every output stays within %g of its value at the row", cb_cm_name[by], c->o.tol);
  else if (r->verdict == V_VERIFIED && c->o.target >= 0)
    snprintf(r->reason, sizeof r->reason, "%s: the margin against the target class %d is > 0", cb_cm_name[by], c->o.target);
  else if (r->verdict == V_VERIFIED)
    snprintf(r->reason, sizeof r->reason, "%s: every margin lower bound > 0", cb_cm_name[by]);
  else if (cert_out_of_time(&j))
    snprintf(r->reason, sizeof r->reason, stop && *stop ? "interrupted" : "timeout after %g s", c->o.timeout);
  else unknown_reason(&j);
  if (r->verdict == V_UNKNOWN && bab_why[0] && !(stop && *stop)) {   /* interrupted: that is the reason */
    size_t l = strlen(r->reason);
    snprintf(r->reason + l, sizeof r->reason - l, "; %s", bab_why);
  }
  if ((rc = logit_bounds(&j, err)) != CB_OK) goto out;
radius:
  if (c->o.radius && (rc = radius_bracket(&j, err)) != CB_OK) {
    if (rc == CB_EINTERNAL) { rc = CB_OK; cb_error_clear(err); r->certified_radius = 0; }
    else goto out;
  }
done:
  rc = CB_OK;
out:
  cb_task_deadline(0);
  r->ms_total = 1e3 * since(&j.t0);
  ws_free(j.ws);
  cb_free(j.C);
  return rc;
}
