/*
** Certified radii (radius.h): the local-Lipschitz radius search of one point
** and certify's [certified, attacked] bracket.  Both only search over eps:
** every radius they return comes from a sound bound (a ball's bounds, the
** cascade's sound methods) or an accepted counterexample, whatever the
** bounds do as eps moves (they need not be monotone: that costs
** evaluations, not soundness).  Plain double outside the bounds they call.
** Called once per sample; a search bounds up to `steps` (16) balls, a
** bracket about 2 log2(1/tol) cascades.
*/
#include <math.h>
#include <string.h>
#include "cert_int.h"
#include "jacobian.h"
#include "liplocal.h"
#include "radius.h"
#include "round.h"

/* ------------------------------------------------------------ local-Lipschitz radius */

void radius_lip_opts_init(radius_lip_opts *o)
{
  memset(o, 0, sizeof *o);
  o->method = CB_CROWN;
  o->steps = 16;
  o->tol = 1e-3;
}

/* The margins' constants L_j over the ball of ws (bounds_run done): the cut
   bound of jac_margin_lb, tightened by the sign branch and bound of
   lip/liplocal.h when o->nodes > 0 (each a sound bound: the smaller holds). */
static int ball_constants(cb_ws *ws, const lip_result *lr, const radius_lip_opts *o, int label, const double *m_lo,
                          double *lb, double *L, cb_error *err)
{
  size_t no = ws->net->node[ws->net->output].size;
  liplocal_result *lr_ = NULL;
  liplocal_opts lo;
  int rc = jac_margin_lb(ws, label, lr, m_lo, lb, L, err);
  if (rc != CB_OK || o->nodes <= 0) return rc;
  if (!(lr_ = cb_alloc((no - 1) * sizeof *lr_))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  liplocal_opts_init(&lo);
  lo.max_nodes = o->nodes;
  lo.samples = 0;
  lo.lower = 0;          /* the lower side is not needed here */
  lo.gap = 0;
  if ((rc = liplocal_margins(ws, label, lr, &lo, lr_, NULL, err)) == CB_OK)
    for (size_t j = 0; j + 1 < no; j++) L[j] = fmin(L[j], lr_[j].upper);
  cb_free(lr_);
  return rc;
}

/*
** One ball of radius eps: bounds, the margins' local constants L_j(eps), and
** what they certify.  L_j(eps) holds on every ball of radius r <= eps, so for
** r < t = min_j m_lo_j / L_j(eps) every margin stays > 0 there: the ball
** certifies min(eps, t) (rounded down twice: strictly inside), pass or fail.
** *t receives t (HUGE_VAL when every L_j is 0).
*/
static int eval_ball(const cb_bnet *bn, const lip_result *lr, const radius_lip_opts *o, const double *x, double eps,
                     int label, const double *m_lo, double *lb, double *L, double *t, cb_error *err)
{
  const cb_net *net = bn->net;
  cb_set s = {lr->norm, eps, net->node[0].size, x, NULL, NULL};
  cb_ws *ws = ws_new(bn, &s, err);
  int rc;
  *t = HUGE_VAL;
  if (!ws) return err ? err->status : CB_ENOMEM;
  if ((rc = bounds_run(ws, o->method, err)) == CB_OK && (rc = ball_constants(ws, lr, o, label, m_lo, lb, L, err)) == CB_OK)
    for (size_t j = 0; j + 1 < net->node[net->output].size; j++)
      if (L[j] > 0) *t = fmin(*t, round_next_down(round_next_down(m_lo[j] / L[j])));
  ws_free(ws);
  return rc;
}

/*
** Shells: the margin's drop along a ray.  For ||d|| = rho, cut the segment
** x -> x + d at the distances s_0 = 0 < s_1 < ... (s_k = k top / K): the
** piece between s_{k-1} and s_k lies in the ball of radius s_k, where L_j(s_k)
** is a Lipschitz constant of margin j, and has length s_k - s_{k-1} (any norm
** is homogeneous along a ray).  So
**   m_j(x + d) >= m_lo_j - sum_{k: s_k <= rho} (s_k - s_{k-1}) L_j(s_k) - (rho - s_K') L_j(s_{K'+1})
** and the label holds at every rho where that stays > 0: with I_j the sum over
** the shells passed, the shell (s_{k-1}, s_k] certifies up to
** s_{k-1} + (m_lo_j - I_j) / L_j(s_k) (rounded down twice), capped at s_k.
** A ball's constant is the worst point of the whole ball; here the points near
** x only pay the constant of the small balls, which stays near the centre's
** gradient.  Each sum is rounded up, each radius down.
*/
static int shell_radius(const cb_bnet *bn, const lip_result *lr, const radius_lip_opts *o, const double *x, int label,
                        const double *m_lo, double top, radius_lip *out, cb_error *err)
{
  size_t no = bn->net->node[bn->net->output].size;
  double *I = cb_calloc(3 * no, sizeof *I), *lb, *L, t, prev = 0;
  int rc = CB_OK;
  if (!I) return cb_error_set(err, CB_ENOMEM, "out of memory");
  lb = I + no;
  L = lb + no;
  for (int k = 1; k <= o->shells; k++) {
    double e = k == o->shells ? top : top * k / o->shells, w, rk = HUGE_VAL;
    if (!(e > prev)) continue;
    if ((rc = eval_ball(bn, lr, o, x, e, label, m_lo, lb, L, &t, err)) != CB_OK) break;
    out->evals++;
    w = round_add_ru(e, -prev);
    for (size_t j = 0; j + 1 < no; j++) {
      double avail = round_add_rd(m_lo[j], -I[j]);
      if (!(avail > 0)) { rk = 0; break; }
      if (L[j] > 0) rk = fmin(rk, round_next_down(round_add_rd(prev, round_div_rd(avail, L[j]))));
    }
    if (rk <= e) { out->radius_shell = fmax(out->radius_shell, fmax(rk, 0.0)); break; }
    for (size_t j = 0; j + 1 < no; j++) I[j] = round_add_ru(I[j], round_mul_ru(w, L[j]));
    out->radius_shell = e;   /* rk > e: every margin stays > 0 on the closed ball of radius e */
    prev = e;
  }
  cb_free(I);
  return rc;
}

/*
** Radius search: maximise r(eps) = min(eps, t(eps)) (eval_ball).  t falls as
** L grows with eps, so the best eps is near the fixed point t(eps) = eps,
** where psi(eps) = log t(eps) - log eps changes sign.  Start at the radius
** the centre's own gradient allows, t(0) (an eps = 0 ball); double while
** psi >= 0, else follow eps <- t(eps) down until psi >= 0; then the Illinois
** variant of regula falsi on psi over log eps (t spans decades on deep nets)
** until the bracket is tol (relative) or `steps` balls were bounded (steps 0:
** the global radius alone, no ball).  Any
** evaluated ball's r is certified; the best is kept, and the global-Lipschitz
** radius (lip_certify, pairwise) is the floor.  Bounds need not be monotone
** in eps: that costs evaluations, not soundness.
** Source: Dowell & Jarratt 1971 (the Illinois method).
*/
int radius_lip_search(const cb_bnet *bn, const lip_result *lr, const double *x, int label,
                      const radius_lip_opts *o, radius_lip *out, cb_error *err)
{
  const cb_net *net = bn->net;
  size_t no = net->node[net->output].size;
  double *m_lo = cb_alloc(3 * no * sizeof *m_lo), *lb, *L, t, up_ = 0, pp = 0, uf = 0, pf = 0, e;
  lip_sample ls;
  int rc, havep = 0, havef = 0, side = 0;
  memset(out, 0, sizeof *out);
  if (!m_lo) return cb_error_set(err, CB_ENOMEM, "out of memory");
  lb = m_lo + no;
  L = lb + no;
  if ((rc = lip_certify(net, lr, x, label, &ls, err)) != CB_OK) goto out;
  out->radius = out->radius_global = ls.radius_pairwise;
  if (o->steps == 0) goto out;                                        /* the global radius alone */
  if ((rc = jac_margins_at(net, lr, x, label, m_lo, NULL, err)) != CB_OK) goto out;
  if ((rc = eval_ball(bn, lr, o, x, 0.0, label, m_lo, lb, L, &t, err)) != CB_OK) goto out;
  out->evals = 1;
  for (size_t j = 0; j + 1 < no; j++) if (!(m_lo[j] > 0)) goto out;   /* the margin itself is not certified */
  out->upper = t;
  e = isfinite(t) ? t : 1.0;
  while (out->evals < 1 + o->steps && e > 0 && e < 1e300) {
    double u = log(e), psi;
    if ((rc = eval_ball(bn, lr, o, x, e, label, m_lo, lb, L, &t, err)) != CB_OK) goto out;
    out->evals++;
    out->radius_local = fmax(out->radius_local, fmin(e, t));
    psi = isfinite(t) ? log(t) - u : 1.0;
    if (psi >= 0) { if (side == 1 && havef) pf *= 0.5; up_ = u; pp = psi; havep = 1; side = 1; }
    else { if (side == -1 && havep) pp *= 0.5; uf = u; pf = psi; havef = 1; side = -1; }
    if (psi == 0) break;                    /* the fixed point itself */
    if (!havef) e *= 2;                     /* no failing ball yet: grow */
    else if (!havep) e = t;                 /* no passing ball yet: follow t down */
    else if (uf - up_ <= log1p(o->tol) || out->radius_local * (1 + o->tol) >= exp(uf)) break;
    else e = exp(up_ + (uf - up_) * pp / (pp - pf));
  }
  if (o->shells > 0 && isfinite(out->upper) && out->upper > 0 &&
      (rc = shell_radius(bn, lr, o, x, label, m_lo, out->upper, out, err)) != CB_OK) goto out;
  out->radius = fmax(fmax(out->radius_local, out->radius_shell), out->radius_global);
out:
  cb_free(m_lo);
  return rc;
}

/* ------------------------------------------------------------ certify --radius */

/* [certified, attacked] radii by bisection, warm-started from the Lipschitz
   radius.  Below d_lo (a lower bound of the distance from x to the clip
   box) the set is empty, so every eps < d_lo is verified vacuously and the
   search starts there: it never bounds or attacks an empty set.  A clean
   point p that is a counterexample is in the set from eps = ||p - x||: both
   radii are then that distance (d_lo, d_up: rounded down, up). */
int radius_bracket(cert_job *j, cb_error *err)
{
  const cb_certifier *c = j->c;
  cb_cert_result *r = j->r;
  double lo = fmax(j->lip_radius, j->d_lo), hi = INFINITY, ahi = INFINITY, tol = c->o.radius_rtol, e;
  cb_cm by;
  int rc, v;
  if (r->verdict == V_FALSIFIED && r->decided_by == CM_CLEAN) { r->certified_radius = j->d_lo; r->attack_radius = j->d_up; return CB_OK; }
  if (r->verdict == V_VERIFIED) lo = fmax(lo, c->o.eps);
  else if (r->verdict == V_FALSIFIED) hi = ahi = c->o.eps;
  else hi = c->o.eps;
  /* find a radius that is not verified */
  for (e = fmax(lo, 1e-6) * 2; hi == INFINITY && e < 1e6 && !cert_out_of_time(j); e *= 2) {
    if ((v = cert_sound_at(j, e, &by, err)) < 0) return CB_EINTERNAL;
    if (v) lo = e; else hi = e;
  }
  while (hi < INFINITY && hi - lo > tol * hi && !cert_out_of_time(j)) {
    double m = 0.5 * (lo + hi);
    if ((v = cert_sound_at(j, m, &by, err)) < 0) return CB_EINTERNAL;
    if (v) lo = m; else hi = m;
  }
  r->certified_radius = lo;
  /* the attack radius: first a radius where the attack succeeds, then bisection down to lo */
  for (e = hi; ahi == INFINITY && e < 1e6 && e > 0 && !cert_out_of_time(j); e *= 2) {
    if (cert_attack_at(j, e, &c->o.strong, CM_STRONG_ATTACK, 0, err, &rc)) ahi = e;
    if (rc != CB_OK) return rc;
    if (e >= 64 * fmax(hi, 1e-6)) break;
  }
  double alo = lo;
  while (ahi < INFINITY && ahi - alo > tol * ahi && !cert_out_of_time(j)) {
    double m = 0.5 * (alo + ahi);
    if (cert_attack_at(j, m, &c->o.cheap, CM_ATTACK, 0, err, &rc)) ahi = m; else alo = m;
    if (rc != CB_OK) return rc;
  }
  r->attack_radius = ahi;
  return CB_OK;
}
