/*
** Power iteration (lower estimate of ||A||_2) and the operator plumbing of
** lip/: dense y = W x through dgemm, convolution through la_conv_forward and
** its adjoint written here (dgemm with W^T, then col2im scatter-add).
**
** Invariant: lip_power_apply never adds a bias, so it applies exactly the
** linear part whose norm the analyzers bound.  Plain double arithmetic; the
** only rounding term is the one that turns the estimate into `lower`.
** Workload: power iteration runs once per layer; adjoint convs are as costly
** as forward ones (one dgemm per group).
*/
#include <math.h>
#include <string.h>
#include "linalg.h"
#include "power.h"
#include "specnorm.h"
#include "round.h"

/* Wraps a row-major dense W [rows x cols] as an operator (no copy). */
void lip_power_op_dense(lip_op *op, const double *W, size_t rows, size_t cols)
{
  op->rows = rows;
  op->cols = cols;
  op->W = W;
  op->g = NULL;
}

/* Wraps a conv kernel with its geometry; rows/cols are the flattened output/input sizes. */
void lip_power_op_conv(lip_op *op, const cb_conv *g, const double *W)
{
  op->rows = (size_t)(g->cout * g->hout * g->wout);
  op->cols = (size_t)(g->cin * g->hin * g->win);
  op->W = W;
  op->g = g;
}

/* Dot-product length of A x: cols for a dense matrix, cin/groups*kh*kw for a conv. */
size_t lip_power_op_inner(const lip_op *op)
{
  if (!op->g) return op->cols;
  return (size_t)(op->g->cin / op->g->groups * op->g->kh * op->g->kw);
}

/* A^T y: dgemm over the cout/groups outputs of a group, then col2im adds up
   to kh*kw of those sums into one input. */
size_t lip_power_op_inner_t(const lip_op *op)
{
  if (!op->g) return op->rows;
  return (size_t)(op->g->cout / op->g->groups + op->g->kh * op->g->kw);
}

/* x = A^T y for a batch of conv outputs: the transposed convolution of linalg.c
   (dgemm with W^T per group, then col2im), which accumulates, so x is cleared. */
int lip_power_conv_transpose(const cb_conv *g, const double *W, const double *y, size_t batch,
                             double *x)
{
  memset(x, 0, batch * (size_t)(g->cin * g->hin * g->win) * sizeof *x);
  return la_conv_backward(g, W, y, batch, x);
}

/* y = A x or x = A^T y for a batch, never adding a bias; CB_ENOMEM on failure. */
int lip_power_apply(const lip_op *op, int adjoint, const double *in, size_t batch, double *out)
{
  double *zero;
  int rc;
  if (!op->g) {
    if (!adjoint) la_gemm(0, 1, batch, op->rows, op->cols, 1.0, in, op->cols, op->W, op->cols, 0.0, out, op->rows);
    else la_gemm(0, 0, batch, op->cols, op->rows, 1.0, in, op->rows, op->W, op->cols, 0.0, out, op->cols);
    return CB_OK;
  }
  if (adjoint) return lip_power_conv_transpose(op->g, op->W, in, batch, out);
  if (!(zero = cb_calloc((size_t)op->g->cout, sizeof *zero))) return CB_ENOMEM;
  rc = la_conv_forward(op->g, op->W, zero, in, batch, out);
  cb_free(zero);
  return rc;
}

/* Defaults: 1000 iterations, tolerance 1e-12, seed 1, random start. */
void lip_power_opts_init(lip_power_opts *o)
{
  o->max_iters = 1000;
  o->tol = 1e-12;
  o->seed = 1;
  o->v0 = NULL;
}

/* Uniform in [-1, 1) (xorshift64*). */
static double rand_pm1(uint64_t *s)
{
  *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
  return 2.0 * (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0 - 1.0;
}

/* Euclidean norm in plain double (the estimate; not a bound). */
static double nrm2(const double *x, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++) s += x[i] * x[i];
  return sqrt(s);
}

/*
** Rounding-safe lower bound from one product u = fl(A v):
**   ||A v|| >= ||u|| - ||u - A v||,  ||u - A v|| <= gamma_k || |A| |v| || <= gamma_k abs2 ||v||
** (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq. 3.13),
** plus rows * k * 2^-1074 for underflow.  Norms are rounded outward.
*/
static double rigorous_lower(const lip_op *op, const double *u, const double *v, double abs2)
{
  double nu = round_nrm2_down(u, op->rows), nv = round_nrm2_up(v, op->cols);
  double k = (double)lip_power_op_inner(op);
  double e = round_next_up(round_next_up(round_gamma_up((size_t)k) * abs2) * nv);
  e = round_next_up(e + (double)op->rows * k * ROUND_ETA);
  if (nv == 0 || nu <= e) return 0;
  return round_next_down(round_next_down(nu - e) / nv);
}

/* One step: u = A v, w = A^T u; returns ||u|| / ||v|| and leaves w / ||w|| in v. */
static int power_step(const lip_op *op, double *v, double *u, double *w, double *est)
{
  double nv = nrm2(v, op->cols), nw;
  int rc;
  if ((rc = lip_power_apply(op, 0, v, 1, u)) != CB_OK) return rc;
  *est = nv > 0 ? nrm2(u, op->rows) / nv : 0;
  if ((rc = lip_power_apply(op, 1, u, 1, w)) != CB_OK) return rc;
  nw = nrm2(w, op->cols);
  if (nw > 0) for (size_t i = 0; i < op->cols; i++) v[i] = w[i] / nw;
  return CB_OK;
}

int lip_power(const lip_op *op, double abs2, const lip_power_opts *o, lip_power_res *r,
              double *v_out, cb_error *err)
{
  double *v = cb_calloc(op->cols * 2 + op->rows + 1, sizeof *v), *w, *u, est = 0, prev = -1;
  uint64_t s = o->seed ? o->seed : 1;
  int rc = CB_OK;
  memset(r, 0, sizeof *r);
  if (!v) return cb_error_set(err, CB_ENOMEM, "power iteration: out of memory");
  w = v + op->cols;
  u = w + op->cols;
  for (size_t i = 0; i < op->cols; i++) v[i] = o->v0 ? o->v0[i] : rand_pm1(&s);
  for (r->iters = 0; r->iters < o->max_iters; r->iters++) {
    if (cb_time_up()) { cb_free(v); return cb_limit_error(err, "power iteration"); }
    if ((rc = power_step(op, v, u, w, &est)) != CB_OK) goto out;
    if (prev >= 0 && fabs(est - prev) <= o->tol * est) { r->converged = 1; r->iters++; break; }
    prev = est;
  }
  if ((rc = lip_power_apply(op, 0, v, 1, u)) != CB_OK) goto out;
  r->estimate = nrm2(v, op->cols) > 0 ? nrm2(u, op->rows) / nrm2(v, op->cols) : 0;
  if (r->estimate == 0 && est == 0) r->converged = 1;  /* A v = 0 from the start: A may be 0 */
  r->lower = rigorous_lower(op, u, v, abs2);
  if (v_out) memcpy(v_out, v, op->cols * sizeof *v);
out:
  cb_free(v);
  if (rc != CB_OK) return cb_error_set(err, rc, "power iteration: out of memory");
  return CB_OK;
}
