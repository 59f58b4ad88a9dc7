/*
** EVA, verified perturbation analysis (Fel, Ducoffe et al., CVPR 2023),
** with cerbere's bound engine.  For the ball B of a->opt (norm, eps) around x:
**   m0     = a certified lower bound of min_{y in B} min_{j != c} f_c(y) - f_j(y)
**   m(u)   = the same bound over B with the coordinates of group u pinned to x
**   map_i  = m(u) - m0 for every feature i of group u.
** Pinning shrinks the set, so the true worst margin can only grow; the bound
** engine (CROWN) is not monotone in the set, so m(u) is max(m0, bound), a
** sound bound as well (both bound the same minimum from below).
** Groups: non-overlapping P x P patches of the image view (P = 1: single
** features), all channels of a pixel together.  Sets: L-inf -> the box
** [x - eps, x + eps] (rounded outward) with pinned lo = hi = x; L2 / L1 ->
** the ball with a clip box pinning the group.  Cost: groups + 1 CROWN runs.
*/
#include <math.h>
#include <string.h>
#include "attr.h"
#include "jacobian.h"

int attr_eva_margin(attr_ctx *a, const double *x, int target, const unsigned char *pin, double *m,
                    cb_error *err)
{
  size_t n = a->n, no = a->no;
  double *lo = cb_alloc((2 * n + (no - 1) * no + no) * sizeof *lo), *hi, *C, *lb;
  cb_set s = {a->opt.norm, a->opt.eps, n, x, NULL, NULL};
  cb_ws *ws = NULL;
  int rc;
  if (!lo) return cb_error_set(err, CB_ENOMEM, "out of memory");
  hi = lo + n; C = hi + n; lb = C + (no - 1) * no;
  set_box(&s, lo, hi);
  for (size_t i = 0; pin && i < n; i++) if (pin[i]) lo[i] = hi[i] = x[i];
  if (a->opt.norm == CB_NORM_INF) s.norm = CB_NORM_BOX;
  s.lo = lo; s.hi = hi;
  jac_margin_rows(no, target, C);
  if (!(ws = ws_new(&a->bn, &s, err))) { rc = err->status; goto out; }
  if ((rc = bounds_run(ws, CB_CROWN, err)) != CB_OK || (rc = bounds_spec(ws, C, no - 1, lb, NULL, err)) != CB_OK) goto out;
  *m = INFINITY;
  for (size_t j = 0; j + 1 < no; j++) *m = fmin(*m, lb[j]);
  if (!isfinite(*m)) rc = cb_error_set(err, CB_EVALUE, "EVA: the margin bound is not finite");
out:
  ws_free(ws);
  cb_free(lo);
  return rc;
}

int attr_eva_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err)
{
  int c, h, w, P = a->opt.patch, rc;
  size_t n = a->n;
  double m0, mu;
  unsigned char *pin;
  if (a->no < 2) return cb_error_set(err, CB_EUSAGE, "EVA needs a network with at least 2 outputs");
  if ((rc = attr_eva_margin(a, x, target, NULL, &m0, err)) != CB_OK) return rc;
  if (!(pin = cb_calloc(n, 1))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  attr_image(a->net, &c, &h, &w);
  for (int i0 = 0; i0 < h; i0 += P)
    for (int j0 = 0; j0 < w; j0 += P) {
      memset(pin, 0, n);
      for (int ch = 0; ch < c; ch++)
        for (int i = i0; i < i0 + P && i < h; i++)
          for (int j = j0; j < j0 + P && j < w; j++) pin[((size_t)ch * (size_t)h + (size_t)i) * (size_t)w + (size_t)j] = 1;
      if ((rc = attr_eva_margin(a, x, target, pin, &mu, err)) != CB_OK) { cb_free(pin); return rc; }
      mu = fmax(mu, m0);
      for (size_t i = 0; i < n; i++) if (pin[i]) map[i] = mu - m0;
    }
  cb_free(pin);
  return CB_OK;
}
