/*
** Exact-in-the-limit L2 (and L-inf, L1: opts.norm) Lipschitz brackets of piecewise-linear MLPs by
** branch and bound on activation signs (ExLipBaB-style), over a box or the
** whole input space R^n.
**
** Nets: INPUT, then AFFINE, (ReLU | SORT with group size 2), AFFINE, ...,
** AFFINE (RESHAPE nodes in between are skipped), AFFINE weights exact as
** stored (a node with rounded weights, rel_err > 0, is refused).  A "unit" is one ReLU (its
** state: z > 0) or one sorted pair (its state: z_first > z_second).  A node
** of the search fixes the states of the first d units in layer order; its
** region {x : every fixed unit's state holds} is a polyhedron (the layers
** before the last fixed one are affine there).
**   upper of a node: the Jacobian W_L D_{L-1} ... D_1 W_1 as a midpoint-
**     radius interval matrix, unfixed units' D relaxed to their convex hull
**     (ReLU d in [0,1]; pair [[1-l, l], [l, 1-l]], l in [0,1]), rounding
**     included; its L2 norm bounded by a certified Gram eigenvalue bound.
**     ||J|| is convex in each D, so the bound covers every completion.
**   feasibility: a child inherits its parent's interior point when that point
**     lies on its side; the other child gets an LP (max of the smallest
**     normalised margin over the homogenised cone, lp_minmax).  A child is
**     dropped only when an exact (GMP) Motzkin certificate l >= 0, l != 0,
**     sum_r l_r A_r = 0 over nonzero homogenised rows shows its region has no
**     interior; otherwise it stays (sound, maybe loose).
**   also (docs/soundness.md): tail times head (sup ||open tail|| times the
**     certified norm of the fixed head, activation Jacobians being
**     contractions), the same over <= 32 completions of the first open
**     layer, and the exact max over the orders of open sort groups of 3-5
**     in the last hidden layer (one row).
**   lower: the Jacobian norm at sampled points and every interior point met
**     (double), and at the end the best point's secant ||f(y) - f(x)|| / ||y - x|| along its top
**     singular direction, evaluated in exact arithmetic and rounded down.
** L-inf and L1 (opts.norm): the same search; a node's interval Jacobian is
** bounded by the largest row (column) sum of |C| + R, rounded up (exact
** for a fixed region up to rounding), the tail times head bounds hold as
** well (ReLU diagonals and sort permutations have induced norm <= 1 in
** every p-norm); the Gray-code and sort-order enumerations (L2 error terms)
** are not used; the lower's direction is the signs of the largest row
** (L-inf) or the unit vector of the largest column (L1).
** See docs/soundness.md, "Lipschitz brackets by sign splits".
*/
#ifndef CB_LIP_LIPSIGN_H
#define CB_LIP_LIPSIGN_H

#include "net.h"
#include "norm.h"

typedef struct lip_sign_opts {
  double gap;           /* relative gap to stop at (default 1e-2) */
  long max_nodes;       /* nodes bounded, at most (default 5000000) */
  double seconds;       /* wall-time budget (0: none) */
  long row;             /* -1: the whole Jacobian's spectral norm (default); else output row */
  long margin_i, margin_j; /* >= 0 (row -1): the margin f_I - f_J instead (default -1 -1) */
  const double *lo, *hi;/* the box domain, or NULL for R^n */
  double report_gap;    /* record the time the gap first reaches this (default 1e-2) */
  double cap;           /* a guaranteed global L2 bound of the same quantity (e.g. K_merged), or 0 */
  int no_head;          /* 1: without the tail-times-head bounds (tests check both ways) */
  int no_warm;          /* 1: without the sampled warm start of the lower */
  cb_norm norm;         /* CB_NORM_2 (default), CB_NORM_INF or CB_NORM_1: the norm on inputs and
                           outputs; the bracket is of the induced operator norm of the Jacobian
                           (inf: largest row sum of |J|, 1: largest column sum; for one row the
                           dual norm of the gradient: ||g||_1 for inf, ||g||_inf for 1) */
} lip_sign_opts;

typedef struct lip_sign_result {
  double upper;         /* >= ||J(x)|| (the norm of opts.norm) at every differentiable point of the domain */
  double lower;         /* <= ||f(y) - f(x)|| / ||y - x|| (that norm; exact arithmetic, rounded down) */
  double grad_norm;     /* ||J(x)|| in double at the lower's point x */
  double gap;           /* (upper - lower) / upper */
  long nodes, lps, pruned, kept_uncertified, open;
  double seconds, t_report;  /* wall time; time to report_gap (-1: not reached) */
  const char *stop;     /* "gap", "nodes", "time", "done" */
} lip_sign_result;

void lip_sign_opts_init(lip_sign_opts *o);

/* CB_OK if the net has the form above (else CB_EUNSUP with a message naming
   the node that does not fit). */
int lip_sign_check(const cb_net *net, cb_error *err);

/* The bracket.  x, y (input size each) receive the lower's two points. */
int lip_sign_bab(const cb_net *net, const lip_sign_opts *o, lip_sign_result *r, double *x, double *y,
                 cb_error *err);

#endif
