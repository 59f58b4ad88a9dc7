/*
** The witness search of the branch and bound (vfy_int.h): cheap ways to find
** an input that meets the property before and during the search.  Every
** point found is only a candidate until vfy_check_witness accepts it.
**   - local search: random starts in a box's inner box, then signed descent
**     on phi (below) with finite-difference gradients (low input dimension;
**     above it, random vertices of the box);
**   - PGD on each output conjunction (attack.h), short before the search and
**     long once when the search passes strong_after seconds.
**
** Sizes: the local search evaluates (nx + 1) points per step, 40 steps per
** start, attack_restarts starts; ACAS Xu: 5 inputs, a few ms per box.
*/
#include <math.h>
#include <string.h>
#include "vfy_int.h"
#include "forward.h"
#include "attack.h"

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

/* Finite-difference gradient of phi at x (low dimension): X is (nx+1) x nx
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

/* One xorshift step of *s: a uniform double in [0, 1) (53 bits). */
static double rnd(unsigned long *s)
{
  *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
  return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

/* Local search in the inner box of b: random starts, signed descent on phi.
   Returns 1 (r set to SAT), 0 (nothing found) or a negative status. */
int vfy_local_search(search *S, size_t b)
{
  const vnn_spec *sp = S->spec;
  const vnn_box *B = &sp->box[b];
  size_t nx = sp->nx, ny = sp->ny, c = 0;
  unsigned long seed = S->o->seed * 2654435761UL + b + 1;
  int found = 0, restarts = S->o->attack_restarts, fd = vfy_low_dim(sp);
  size_t nb = fd ? nx + 1 : 64;
  double *X = cb_alloc(nb * nx * sizeof *X), *Y = cb_alloc(nb * ny * sizeof *Y), *x = cb_alloc(nx * sizeof *x);
  double *g = cb_alloc(nx * sizeof *g), *y = cb_alloc(ny * sizeof *y);
  unsigned char *act = cb_alloc(B->n_conj + 1);
  if (!X || !Y || !x || !g || !y || !act) { found = CB_ENOMEM; goto out; }
  memset(act, 1, B->n_conj + 1);
  for (int r = 0; r < restarts && !found; r++) {
    if (vfy_now() - S->t0 > S->o->timeout || vfy_cancelled(S)) break;
    for (size_t j = 0; j < nx; j++)
      x[j] = r == 0 ? B->lo_in[j] + 0.5 * (B->hi_in[j] - B->lo_in[j]) : B->lo_in[j] + rnd(&seed) * (B->hi_in[j] - B->lo_in[j]);
    if (!fd) {   /* high dimension: random vertices of the box near x */
      for (size_t k = 0; k < nb; k++)
        for (size_t j = 0; j < nx; j++) X[k * nx + j] = rnd(&seed) < 0.5 ? B->lo_in[j] : B->hi_in[j];
      long k = try_points(S, b, X, nb, Y, y, &c);
      if (k >= 0) { found = vfy_set_sat(S, b, X + (size_t)k * nx, y, c) ? CB_ENOMEM : 1; }
      continue;
    }
    for (int it = 0; it < 40 && !found; it++) {
      double eta = 0.1 * pow(0.9, it);
      if (isnan(fd_grad(S, B, act, x, B->lo_in, B->hi_in, X, Y, g))) break;
      if (vfy_check_witness(S->net, sp, b, x, y, &c, &S->r->fp_only)) { found = vfy_set_sat(S, b, x, y, c) ? CB_ENOMEM : 1; break; }
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
   An input whose real interval holds no double (pinned to a decimal) but
   has two decimal bounds is searched over its two neighbouring doubles;
   vfy_check_witness then checks the point at the decimals.  Returns 1 (r
   set to SAT), 0 or a negative status. */
int vfy_pgd(search *S, size_t b, int restarts, int steps)
{
  const vnn_spec *sp = S->spec;
  const vnn_box *B = &sp->box[b];
  size_t nx = sp->nx, ny = sp->ny, c;
  cb_attack_opt opt = CB_ATTACK_DEFAULT;
  double *x = cb_alloc(nx * sizeof *x), *y = cb_alloc(ny * sizeof *y), *d = NULL, g;
  double *lo = cb_alloc(2 * nx * sizeof *lo), *hi = lo + nx;
  cb_set set = {CB_NORM_BOX, 0, nx, NULL, lo, hi};
  int found = 0;
  cb_error err = {0};
  if (!x || !y || !lo) { found = CB_ENOMEM; goto out; }
  for (size_t j = 0; j < nx; j++) {
    lo[j] = B->lo_in[j]; hi[j] = B->hi_in[j];
    if (lo[j] <= hi[j]) continue;
    if (!B->lo_dec || !B->lo_dec[j] || !B->hi_dec[j]) goto out;   /* no double, no decimal: no candidate */
    lo[j] = B->hi_in[j]; hi[j] = B->lo_in[j];   /* the doubles either side of the real interval */
  }
  opt.restarts = restarts;
  opt.steps = steps;
  opt.apgd = !vfy_low_dim(sp);   /* APGD's schedule for images (ACAS Xu keeps its PGD) */
  opt.seed = S->o->seed + (uint64_t)restarts;
  for (size_t k = 0; k < B->n_conj && !found; k++) {
    const vnn_conj *cj = &B->conj[k];
    if (!cj->m || vfy_now() - S->t0 > S->o->timeout || vfy_cancelled(S)) continue;
    cb_free(d);
    if (!(d = cb_alloc(cj->m * sizeof *d))) { found = CB_ENOMEM; break; }
    for (size_t r = 0; r < cj->m; r++) d[r] = -cj->b_dn[r];
    cb_error_clear(&err);
    if (attack_run(S->net, &set, cj->A, d, cj->m, CB_AGG_MAX, 0, &opt, x, &g, &err) != CB_OK) continue;
    if (g <= 0 && vfy_check_witness(S->net, sp, b, x, y, &c, &S->r->fp_only)) found = vfy_set_sat(S, b, x, y, c) ? CB_ENOMEM : 1;
  }
out:
  cb_free(x); cb_free(y); cb_free(d); cb_free(lo);
  return found;
}
