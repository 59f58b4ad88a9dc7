/*
** Forward linear bounds (symbolic intervals, as in ReluVal/Neurify and
** DeepPoly without back-substitution) for low-dimensional inputs: every node
** gets lower and upper linear functions of the input x, L(x) <= z <= U(x) on
** the box.  Cost per node ~ size x fan-in x (n_in + 1): tens of microseconds
** on ACAS Xu, where CROWN's back-substitution per layer costs ~1 ms.  Used by
** branch and bound as the intermediate bounds of a box; the final
** specification is then bounded by bounds_spec (backward CROWN) as usual.
*/
#ifndef CB_FWDLIN_H
#define CB_FWDLIN_H

#include "bounds.h"

/* Fills ws (box set only) for bounds_run(ws, CB_FWDLIN), which calls it:
   every node's box, zmax and relaxation lines, the boxes being the
   intersection of IBP and the concretised forward linear bounds.  If out_lo / out_hi are not NULL they
   get the output's lower / upper functions, [size_out][n_in + 1] (last column
   the constant, rounding slack folded in).  CB_EUNSUP for a network with
   kinds other than INPUT AFFINE SCALE ADD RESHAPE and the elementwise
   activations, or with inexact parameters: the caller falls back to CROWN. */
int fwdlin_run(cb_ws *ws, double *out_lo, double *out_hi, cb_error *err);
int fwdlin_supported(const cb_net *net);    /* 1 if fwdlin_run can run on net */

#endif
