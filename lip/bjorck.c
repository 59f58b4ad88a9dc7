/*
** Bjorck orthonormalisation.
**
**   W <- W / sigma_est                       (power iteration; Bjorck order 1
**                                             converges for sigma in (0, sqrt 3))
**   repeat:  Q = W^T W,  D = I - Q
**            W <- W * sum_{k=0..p} c_k D^k,   c_k = binom(2k, k) / 4^k
**   (the order-p truncation of (W^T W)^(-1/2) = (I - D)^(-1/2); p = 1 is
**    W (3/2 I - 1/2 W^T W), deel-lip's default with beta = 1/2.)
** Source: Bjorck & Bowie, "An iterative algorithm for computing the best
** estimate of an orthogonal matrix", SIAM J. Numer. Anal. 8(2), 1971;
** Anil, Lucas, Grosse, "Sorting out Lipschitz function approximation", ICML 2019.
** A wide W (m < n) uses Q = W W^T and W <- S W, so the Gram is always the
** smaller side.  Plain double arithmetic: the result is an estimate; the
** caller certifies the norm of what it writes with specnorm.c.
** Workload: once per layer, O(iters * order * p^2 * max(m, n)).
*/
#include <math.h>
#include <string.h>
#include "linalg.h"
#include "bjorck.h"
#include "power.h"

/* Defaults: 100 iterations, order 1, tolerance 1e-12. */
void lip_bjorck_opts_init(lip_bjorck_opts *o)
{
  o->iters = 100;
  o->order = 1;
  o->tol = 1e-12;
}

/* Q = W^T W (tall) or W W^T (wide), p x p. */
static void gram(const double *W, size_t m, size_t n, int tall, double *Q)
{
  if (tall) la_gemm(1, 0, n, n, m, 1.0, W, n, W, n, 0.0, Q, n);
  else la_gemm(0, 1, m, m, n, 1.0, W, n, W, n, 0.0, Q, m);
}

/* D = I - Q in place; returns ||D||_F. */
static double defect(double *Q, size_t p)
{
  double s = 0;
  for (size_t i = 0; i < p * p; i++) {
    Q[i] = (i % (p + 1) == 0 ? 1.0 : 0.0) - Q[i];
    s += Q[i] * Q[i];
  }
  return sqrt(s);
}

/* Orthogonality defect of W on its smaller Gram; -1 when out of memory. */
double lip_bjorck_residual(const double *W, size_t m, size_t n)
{
  int tall = m >= n;
  size_t p = tall ? n : m;
  double *Q = cb_alloc(p * p * sizeof *Q), r;
  if (!Q) return -1;
  gram(W, m, n, tall, Q);
  r = defect(Q, p);
  cb_free(Q);
  return r;
}

/* S = sum_{k=0..order} c_k D^k by Horner: S = c_p I; S = c_k I + D S. */
static void series(const double *D, size_t p, int order, double *S, double *tmp)
{
  double c[6] = {1.0, 0.5, 0.375, 0.3125, 0.2734375, 0.24609375};
  memset(S, 0, p * p * sizeof *S);
  for (size_t i = 0; i < p; i++) S[i * p + i] = c[order];
  for (int k = order - 1; k >= 0; k--) {
    la_gemm(0, 0, p, p, p, 1.0, D, p, S, p, 0.0, tmp, p);
    for (size_t i = 0; i < p; i++) tmp[i * p + i] += c[k];
    memcpy(S, tmp, p * p * sizeof *S);
  }
}

/* Divides W by its power-iteration estimate; returns the estimate. */
static int prescale(double *W, size_t m, size_t n, double *scale, cb_error *err)
{
  lip_op op;
  lip_power_opts po;
  lip_power_res pr;
  int rc;
  lip_power_op_dense(&op, W, m, n);
  lip_power_opts_init(&po);
  po.max_iters = 200;
  po.tol = 1e-9;
  if ((rc = lip_power(&op, 0, &po, &pr, NULL, err)) != CB_OK) return rc;
  *scale = pr.estimate;
  if (pr.estimate > 0) for (size_t i = 0; i < m * n; i++) W[i] /= pr.estimate;
  return CB_OK;
}

int lip_bjorck(double *W, size_t m, size_t n, const lip_bjorck_opts *o, lip_bjorck_res *r,
               cb_error *err)
{
  int tall = m >= n, rc;
  size_t p = tall ? n : m;
  double *Q = NULL, *S = NULL, *T = NULL, *W2 = NULL;
  memset(r, 0, sizeof *r);
  if (o->order < 1 || o->order > 5) return cb_error_set(err, CB_EUSAGE, "Bjorck: order %d not in 1..5", o->order);
  if ((rc = prescale(W, m, n, &r->scale, err)) != CB_OK || r->scale == 0) return rc;
  Q = cb_alloc(p * p * sizeof *Q); S = cb_alloc(p * p * sizeof *S);
  T = cb_alloc(p * p * sizeof *T); W2 = cb_alloc(m * n * sizeof *W2);
  if (!Q || !S || !T || !W2) { rc = cb_error_set(err, CB_ENOMEM, "Bjorck: out of memory"); goto out; }
  for (;;) {
    gram(W, m, n, tall, Q);
    r->residual = defect(Q, p);
    if (r->residual <= o->tol || r->iters >= o->iters) break;
    if (cb_time_up()) { rc = cb_limit_error(err, "Bjorck"); goto out; }
    series(Q, p, o->order, S, T);
    if (tall) la_gemm(0, 0, m, n, n, 1.0, W, n, S, n, 0.0, W2, n);
    else la_gemm(0, 0, m, n, m, 1.0, S, m, W, n, 0.0, W2, n);
    memcpy(W, W2, m * n * sizeof *W);
    r->iters++;
  }
out:
  cb_free(Q); cb_free(S); cb_free(T); cb_free(W2);
  return rc;
}
