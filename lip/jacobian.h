/*
** The backward network over a set: interval Jacobians and local Lipschitz
** constants (the certified radius they give: certify/radius.h).
**
** jac_interval walks the graph backwards from the output with, per node, an
** interval matrix G_i [q x size_i] that holds d(C f)/d(node i) for every
** point of the set.  Activation derivatives become intervals from the
** pre-activation bounds of a bounds workspace (bounds_run first: IBP or
** CROWN, tighter bounds give a tighter Jacobian); linear nodes are applied in
** centre/radius form with BLAS: [c +- r] W is inside c W +- r |W|.
** The result holds the Clarke generalised Jacobian of the real-arithmetic
** network at every point of the set (kinks get the whole derivative range),
** which is what the mean-value bound f(y) - f(x) <= L ||y - x|| needs.
**
** Sizes: q = a few rows (margins, logits); one backward pass costs about
** 2q times a forward pass (two dgemm per linear node: centre and radius).
*/
#ifndef CB_LIP_JACOBIAN_H
#define CB_LIP_JACOBIAN_H

#include "bounds.h"
#include "lipschitz.h"

/* Interval Jacobian of C f over the set of ws (bounds_run done on ws): for every
   x in the set, lo <= C df/dx(x) <= hi entrywise (lo, hi: q x input size,
   row-major).  C is q x output size.  CB_EVALUE if the result is not finite. */
int jac_interval(const cb_ws *ws, const double *C, size_t q, double *lo, double *hi, cb_error *err);

/* The same pass stopped at node `node`: for every x in the set,
   lo <= d(C f)/d(value of node)(x) <= hi entrywise (q x size of the node),
   the adjoint that Grad-CAM reads at a CONV node.  Contributions reach the
   node only through the nodes after it (topological order), so the pass
   over nodes output..node+1 is complete. */
int jac_interval_node(const cb_ws *ws, const double *C, size_t q, int node, double *lo, double *hi, cb_error *err);

/* jac_interval, and L_r >= the Lipschitz constant of row r of C f over the set
   (dual norm of the set's norm): the smallest, over the cut nodes h of the
   graph (every input-output path passes h; the input and the output are
   cuts), of max ||row r of the interval d(C f)/d(node h)||_* x K_h, K_h the
   global constant input -> h of lr (used only when lr is in the set's norm;
   lr NULL: the input cut alone, = jac_row_lipschitz of lo, hi).  The output
   cut is ||C_r||_* K: L never exceeds the global bound. */
int jac_interval_lip(const cb_ws *ws, const double *C, size_t q, const lip_result *lr, double *lo, double *hi,
                     double *L, cb_error *err);

/* Margin rows e_label - e_j for j != label, ascending: C is (no - 1) x no. */
void jac_margin_rows(size_t no, int label, double *C);

/* L_r >= max over the interval row r of ||row||_* (dual of norm: L-inf ball ->
   ||.||_1, L2 -> ||.||_2, L1 -> ||.||_inf), the local Lipschitz constant of
   row r of C f over the set. */
void jac_row_lipschitz(const double *lo, const double *hi, size_t q, size_t n, cb_norm norm, double *L);

/* out >= max over J in [lo, hi] of the operator norm ||J||_{p->p} (p = norm). */
int jac_op_norm(const double *lo, const double *hi, size_t q, size_t n, cb_norm norm, double *out,
                cb_error *err);

/* Lower bounds of the real-arithmetic margins f_label - f_j (j != label,
   ascending) at the point x: the computed margins minus the forward pass's
   rounding bound (lip_forward_error; lr from lip_analyze in any norm).
   m_lo has no - 1 entries; y (may be NULL) receives the computed logits. */
int jac_margins_at(const cb_net *net, const lip_result *lr, const double *x, int label,
                   double *m_lo, double *y, cb_error *err);

/* Certified margin lower bounds over the ball of ws around its centre:
   lb_j = m_lo_j - L_j eps, m_lo from jac_margins_at, L_j the local Lipschitz
   constant of margin row j over the ball from jac_interval_lip (lr may be
   NULL: interval Jacobian alone; with lr in the ball's norm, the cut bound,
   never above the global ||e_y - e_j||_* K).
   L (may be NULL) receives the L_j.  For the certify cascade: one backward
   pass over a workspace it already has. */
int jac_margin_lb(const cb_ws *ws, int label, const lip_result *lr, const double *m_lo, double *lb,
                  double *L, cb_error *err);

/* What `cerbere jacobian` reports over a ball: arrays the caller provides. */
typedef struct jac_ball {
  double *jlo, *jhi;    /* [no - 1 x n]: the margins' interval Jacobian (margin rows f_label - f_j, j != label) */
  double *L;            /* [no - 1]: each margin's local Lipschitz constant (the cut bound with lr) */
  double *Lint;         /* [no - 1]: the same from the interval Jacobian's rows alone (the input cut) */
  double *Lout;         /* [no]: each logit's local Lipschitz constant (cut bound) */
  double op;            /* bound of the ws->set.norm operator norm of the logits' interval Jacobian,
                           capped by the global K (rounded up) */
} jac_ball;

/* One backward pass over the ball of ws (bounds_run done) for the margin and
   logit rows of `label`: fills b.  lr: lip_analyze in the ball's norm. */
int jac_ball_margins(const cb_ws *ws, int label, const lip_result *lr, jac_ball *b, cb_error *err);

#endif
