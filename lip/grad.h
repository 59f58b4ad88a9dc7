/*
** Exact gradients: reverse mode over the canonical graph at one point.
**
** G = C J_f(x) for q rows of C at once (q = 1 for one score, the output size
** for the full Jacobian).  Derivative conventions at kinks follow PyTorch, so
** gradients compare with the peers' autograd: ReLU'(0) = 0, LeakyReLU'(0) =
** alpha, Clip'(x) = 1 on [lo, hi] inclusive, MaxPool routes to the first
** maximal element of its window (scan order of the forward pass).
*/
#ifndef CB_GRAD_H
#define CB_GRAD_H

#include "net.h"

typedef struct cb_grad cb_grad;   /* reusable buffers for one network */

cb_grad *grad_new(const cb_net *net, size_t qmax, cb_error *err);   /* NULL on error */
void grad_free(cb_grad *g);                                         /* NULL is a no-op */

/* G (q x n_in, row-major) = C df/dx at x; C is q x n_out (q <= qmax);
   out (n_out values, may be NULL) receives f(x). */
int grad_eval(cb_grad *g, const double *x, const double *C, size_t q, double *G, double *out,
              cb_error *err);

/* The two halves of grad_eval, for callers that pick the rows after seeing
   the output (an attack needs only the active row's gradient):
   grad_forward stores every node's value at x (out as above);
   grad_backward then gives G = C df/dx at that x. */
int grad_forward(cb_grad *g, const double *x, double *out, cb_error *err);
int grad_backward(cb_grad *g, const double *C, size_t q, double *G, cb_error *err);

/* The activations of the last grad_eval (node i's value), for callers that
   need more than the output. */
const double *grad_value(const cb_grad *g, int i);

/* After grad_backward: the adjoints of node i, q x size(i) row-major
   (d(C f)/d value(i)), for callers that need the gradient at an inner node
   (Grad-CAM at a conv output).  Valid until the next grad_backward. */
const double *grad_adjoint(const cb_grad *g, int i);

#endif
