/*
** A bracket lower <= L* <= upper of the Lipschitz constant of one output row
** c.f over a box [lo, hi], L* = sup over the box of ||c df/dx(x)||_* (the dual
** of the input norm), by branch and bound over the box:
**   upper of a sub-box: the interval Jacobian of c.f over it (jacobian.h,
**     intermediate bounds by CROWN or the method asked for), its row's
**     largest dual norm, with the cut bound of the global constants when lr
**     is given (jac_interval_lip); a child keeps min(its bound, its parent's);
**   lower: the gradient norm (grad.h, double) at the sub-box's centre and at
**     random points inside it, at points whose every ReLU-type pre-activation
**     is away from its kink; at the end the best point x gets a second point
**     y = x + t d (d the gradient's dual direction, t small) and the lower
**     bound reported is the secant |c.f(y) - c.f(x)| / ||y - x|| evaluated in
**     exact arithmetic and rounded down: any secant of two box points is at
**     most L*, and inside one linear region it equals the gradient norm;
**   split: the sub-box with the largest upper bound, at the middle of its
**     widest input dimension.
** Stops at (upper - lower) <= gap * upper, at max_nodes sub-boxes bounded,
** at seconds of wall time, or when cb_time_up() (the CLI's --timeout): the
** bracket reached so far is the result, never an error.
** See docs/soundness.md, "Lipschitz brackets".
*/
#ifndef CB_LIP_LIPBAB_H
#define CB_LIP_LIPBAB_H

#include "bounds.h"
#include "lipschitz.h"

typedef struct lip_bab_opts {
  cb_norm norm;         /* input norm; the gradient's dual norm is bracketed (default CB_NORM_2) */
  double gap;           /* relative gap to stop at (default 1e-2) */
  long max_nodes;       /* sub-boxes bounded, at most (default 200000) */
  double seconds;       /* wall-time budget (0: none; default 0) */
  int samples;          /* random points per sub-box besides its centre (default 4) */
  uint64_t seed;        /* sample points (default 1) */
  cb_method method;     /* intermediate bounds (default CB_CROWN) */
} lip_bab_opts;

typedef struct lip_bab_result {
  double upper;         /* guaranteed: >= ||c df/dx||_* at every point of the box (Clarke) */
  double lower;         /* certified: <= |c.f(y) - c.f(x)| / ||y - x|| for the two points x, y of
                           the box (exact arithmetic, src/exact.c, rounded down), so <= L* */
  double grad_norm;     /* ||c df/dx(x)||_* evaluated in double (>= lower up to rounding) */
  double gap;           /* (upper - lower) / upper */
  long nodes;           /* sub-boxes bounded */
  long open;            /* sub-boxes left open at the stop */
  double seconds;       /* wall time */
  const char *stop;     /* "gap", "nodes", "time" */
} lip_bab_result;

void lip_bab_opts_init(lip_bab_opts *o);

/* Brackets the constant of output row j over [lo, hi] (input size each,
   lo <= hi finite).  x and y (input size each) receive the two points whose
   secant gives r->lower (x is also the point of r->grad_norm).  lr (may be
   NULL): lip_analyze in o->norm, for the cut bound. */
int lip_bab(const cb_net *net, size_t j, const double *lo, const double *hi, const lip_result *lr,
            const lip_bab_opts *o, lip_bab_result *r, double *x, double *y, cb_error *err);

/* The dual norm of the input norm applied to a gradient g (n entries),
   in double (the value lip_bab reports as lower). */
double lip_bab_dual(const double *g, size_t n, cb_norm norm);

#endif
