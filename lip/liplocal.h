/*
** Local Lipschitz constants over a ball, bracketed: for one row c of the
** output (a margin row e_label - e_j, or a logit), over the set S of a
** bounds workspace (a ball around a point, bounds_run done),
**   upper >= ||c df/dx(y)||_*  for almost every y in S (so upper is a
**            Lipschitz constant of c.f on S: the dual norm of the set's norm),
**   lower  = a certified secant |c.f(y) - c.f(x)| / ||y - x|| at two
**            reported points x, y of S (exact enclosures of f, src/exact.c,
**            rounded down; the ball tested exactly): a value the real f
**            attains, so lower <= the best Lipschitz constant of c.f on S.
** Upper: branch and bound on the signs of the ReLU-type neurons that are
** unstable over S (pre-activation bounds l < 0 < h).  A node fixes the signs
** of a prefix of them (largest max |adjoint| x (h - l) first: how much each
** widens the input gradient's interval); its bound is the interval
** Jacobian (jacobian.h, with the cut bound of the global constants) with the
** fixed neurons' derivatives set to 1 or the negative slope; the node with
** the largest bound is split on its next neuron.  Only neurons whose
** pre-activation node feeds nothing else are split (the split overwrites
** that node's bounds during one backward pass).  Every point of S where no
** unstable neuron sits on its kink (a full-measure set) has one sign pattern,
** covered by an open leaf, so the largest leaf bound holds (infeasible
** patterns only cost tightness).  See docs/soundness.md, "Local brackets".
** Lower: x is the best (largest off-kink dual gradient norm, in double) of
** the centre and o->samples random points of S, y = x +- t d with d the
** gradient's dual direction and a few small steps t (the best secant kept).
** When every sample lies on a kink, x is the centre with its subgradient;
** when no secant is positive, lower is 0 and attained 0 (no points claimed).
** Workload: one backward pass per node (q = 1), tens to thousands of nodes.
*/
#ifndef CB_LIP_LIPLOCAL_H
#define CB_LIP_LIPLOCAL_H

#include <stdint.h>
#include "bounds.h"
#include "lipschitz.h"

typedef struct liplocal_opts {
  long max_nodes;       /* sign-split nodes bounded per row, at most (default 64; 0: the plain interval bound) */
  double gap;           /* stop a row at (upper - lower) <= gap x upper (default 1e-3) */
  int samples;          /* random points of the set for the lower, besides the centre (default 32) */
  int lower;            /* 0: no lower side at all (lower 0, attained 0: callers that use upper only); default 1 */
  uint64_t seed;        /* for the samples (default 1) */
} liplocal_opts;

typedef struct liplocal_result {
  double upper;         /* guaranteed (see above) */
  double upper_plain;   /* the interval Jacobian's bound before any split (jac_interval_lip) */
  double lower;         /* certified secant (see above); 0 when attained is 0 */
  double grad_norm;     /* the dual gradient norm at x, in double (not certified) */
  int attained;         /* 1: lower is attained by the points x, y; 0: lower is 0, no points */
  double gap;           /* (upper - lower) / upper, 0 when upper is 0 */
  long nodes;           /* nodes bounded (the root included) */
  int unstable;         /* unstable ReLU-type neurons over the set */
} liplocal_result;

void liplocal_opts_init(liplocal_opts *o);

/* Bracket of row c (output size values) over the set of ws (bounds_run done,
   a ball with a centre).  pts (2 x input size) receives x then y, the
   points of r->lower (meaningful when r->attained).
   lr (may be NULL): lip_analyze in the set's norm, for the cut bound.  ws's
   bounds are changed during the search and restored before return. */
int liplocal_row(cb_ws *ws, const double *c, const lip_result *lr, const liplocal_opts *o, liplocal_result *r,
                 double *pts, cb_error *err);

/* The margin rows e_label - e_j (j != label, ascending) of the set of ws:
   r[no - 1] and pts[(no - 1) x 2n] (row j: x then y; pts may be NULL). */
int liplocal_margins(cb_ws *ws, int label, const lip_result *lr, const liplocal_opts *o, liplocal_result *r,
                     double *pts, cb_error *err);

#endif
