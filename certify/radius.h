/*
** Certified radii: the two radius searches of the library, in one file
** (radius.c).
**
**  - radius_lip_search: the local-Lipschitz radius of one point (`cerbere
**    jacobian`): a ball of radius eps whose margins have local Lipschitz
**    constants L_j(eps) (lip/jacobian.h) certifies min(eps, min_j m_j / L_j(eps));
**    a search over eps keeps the best, never below the global-Lipschitz
**    radius (lip_certify); optionally each ball's constants tightened by a
**    sign branch and bound (lip/liplocal.h) and the shell radius (nested
**    balls' constants summed along each ray: radius.c).
**  - radius_bracket (cert_int.h, for certify_sample): `certify --radius`'s
**    [certified, attacked] interval, by bisection on eps with the cascade's
**    sound methods and attacks (certify.h).
*/
#ifndef CB_RADIUS_H
#define CB_RADIUS_H

#include "bounds.h"
#include "lipschitz.h"

typedef struct radius_lip_opts {
  cb_method method;     /* bounds of each ball: CB_IBP or CB_CROWN (default) */
  int steps;            /* balls bounded by the search, at most (besides eps = 0); default 16;
                           0: the global-Lipschitz radius alone, no ball bounded */
  double tol;           /* stop when the bracket is <= tol x its lower end; default 1e-3 */
  long nodes;           /* > 0: each ball's margin constants tightened by lip/liplocal.h's sign branch and
                           bound with at most this many nodes per margin (default 0: the interval bound) */
  int shells;           /* > 0: also the shell radius over this many nested balls up to `upper` (default 0) */
} radius_lip_opts;

typedef struct radius_lip {
  double radius;        /* certified: max(radius_local, radius_shell, radius_global) */
  double radius_local;  /* best radius certified by a ball's local constants (0 if none) */
  double radius_global; /* the global-Lipschitz radius of lip_certify (per class pair) */
  double radius_shell;  /* the shell radius (radius.c: nested balls' constants summed along each ray; 0 if off) */
  double upper;         /* min_j m_lo_j / L_j(0): what the centre's own gradient allows (0 with steps 0) */
  int evals;            /* balls bounded, the eps = 0 ball included */
} radius_lip;

void radius_lip_opts_init(radius_lip_opts *o);

/* Certified radius around x in the norm of lr (lip_analyze with the same
   norm): a ball of radius eps with local constants L_j(eps) certifies
   min(eps, min_j m_lo_j / L_j(eps)); the search (regula falsi on eps) keeps
   the best, never below the global-Lipschitz radius.  bn wraps the net. */
int radius_lip_search(const cb_bnet *bn, const lip_result *lr, const double *x, int label,
                      const radius_lip_opts *o, radius_lip *out, cb_error *err);

#endif
