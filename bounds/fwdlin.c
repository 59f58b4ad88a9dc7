/*
** Forward linear bounds (fwdlin.h).  Per node i and neuron e, with x in the
** box [lo, hi] and p = n_in + 1 columns (coefficients, then the constant):
**   L_e(x) - E_e <= z_e <= U_e(x) + E_e,   |L_e(x)|, |U_e(x)| <= M_e.
** E collects every rounding of the plain double arithmetic used to form the
** coefficients (Higham: a dot product of length k errs by <= gamma_k |a||b|):
**   AFFINE   L' = W+ L + W- U + b,  U' = W+ U + W- L + b  (two dgemms each)
**            E' = |W| E + gamma_{k+2} (|W| M + |b|)
**   relaxed  y >= lw z + lb, y <= uw z + ub (relax.c lines on the input box;
**            the parallel lower line of Neurify was tried and gave larger
**            ACAS Xu search trees than relax.c's adaptive one):
**            L' = lw (lw >= 0 ? L : U) + lb,  E' = |lw| E + gamma_2 (|lw| M + |lb|)
**   ADD      L' = L0 + L1, E' = E0 + E1 + gamma_1 (M0 + M1)
** Concretisation adds gamma_{p+2} of the magnitudes and is intersected with
** the IBP box of the node.  Source: Wang et al. 2018 (ReluVal, symbolic
** intervals), Singh et al. 2019 (DeepPoly) without back-substitution.
*/
#include <math.h>
#include <string.h>
#include "fwdlin.h"
#include "linalg.h"
#include "round.h"

typedef struct lin { double *L, *U, *E, *M; } lin;   /* per node: size x p, size x p, size, size */

int fwdlin_supported(const cb_net *net)
{
  for (int i = 0; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    if (!n->exact) return 0;
    switch (n->kind) {
    case CB_INPUT: case CB_AFFINE: case CB_SCALE: case CB_ADD: case CB_RESHAPE:
    case CB_ACT: break;
    case CB_CONV: case CB_CONCAT: case CB_TRANSPOSE: case CB_MAXPOOL: case CB_SORT: case CB_MUL: case CB_KIND_COUNT: return 0;
    }
  }
  return 1;
}

/* M_e = max over the box of |L_e|, |U_e|, rounded up. */
static void magnitudes(lin *z, size_t size, size_t nx, const double *xmax)
{
  size_t p = nx + 1;
  for (size_t e = 0; e < size; e++) {
    double ml = fabs(z->L[e * p + nx]), mu = fabs(z->U[e * p + nx]);
    for (size_t j = 0; j < nx; j++) { ml += fabs(z->L[e * p + j]) * xmax[j]; mu += fabs(z->U[e * p + j]) * xmax[j]; }
    z->M[e] = round_up(fmax(ml, mu) * (1 + 2 * round_gamma(nx + 2)));
  }
}

/* Intersects node i's IBP box with the concretised linear bounds. */
static void concretise(cb_ws *ws, int i, const lin *z, size_t nx)
{
  const double *lo = ws->set.lo, *hi = ws->set.hi;
  size_t p = nx + 1, size = ws->net->node[i].size;
  for (size_t e = 0; e < size; e++) {
    const double *a = z->L + e * p, *b = z->U + e * p;
    double l = a[nx], u = b[nx];
    for (size_t j = 0; j < nx; j++) { l += fmin(a[j] * lo[j], a[j] * hi[j]); u += fmax(b[j] * lo[j], b[j] * hi[j]); }
    double s = 2 * (round_gamma(nx + 2) * z->M[e] + z->E[e]);
    l = round_down(l - s);
    u = round_up(u + s);
    if (l > ws->lo[i][e]) ws->lo[i][e] = l;
    if (u < ws->hi[i][e]) ws->hi[i][e] = u;
    if (ws->lo[i][e] > ws->hi[i][e]) ws->lo[i][e] = ws->hi[i][e];   /* rounding crossed: keep a valid box */
  }
  set_zmax(ws, i);
}

static int fwd_affine(const cb_ws *ws, const cb_node *n, const lin *x, lin *z, size_t nx, double *Wp, double *Wn, int i)
{
  size_t out = n->p.aff.out, in = n->p.aff.in, p = nx + 1;
  const double *W = n->p.aff.W, *b = n->p.aff.b, *absW = ws->bn->absW[i];
  for (size_t k = 0; k < out * in; k++) { Wp[k] = W[k] > 0 ? W[k] : 0; Wn[k] = W[k] < 0 ? W[k] : 0; }
  la_gemm(0, 0, out, p, in, 1, Wp, in, x->L, p, 0, z->L, p);
  la_gemm(0, 0, out, p, in, 1, Wn, in, x->U, p, 1, z->L, p);
  la_gemm(0, 0, out, p, in, 1, Wp, in, x->U, p, 0, z->U, p);
  la_gemm(0, 0, out, p, in, 1, Wn, in, x->L, p, 1, z->U, p);
  for (size_t e = 0; e < out; e++) {
    double se = 0, sm = 0, bb = b ? b[e] : 0;
    z->L[e * p + nx] += bb;
    z->U[e * p + nx] += bb;
    for (size_t k = 0; k < in; k++) { se += absW[e * in + k] * x->E[k]; sm += absW[e * in + k] * x->M[k]; }
    z->E[e] = round_up((se + round_gamma(in + 2) * (sm + fabs(bb))) * (1 + 2 * round_gamma(in + 2)));
  }
  return CB_OK;
}

/* Elementwise y >= lw z + lb, y <= uw z + ub. */
static void fwd_lines(const lin *x, lin *z, size_t size, size_t nx, const double *lw, const double *lb,
                      const double *uw, const double *ub)
{
  size_t p = nx + 1;
  for (size_t e = 0; e < size; e++) {
    const double *sl = lw[e] >= 0 ? x->L + e * p : x->U + e * p, *su = uw[e] >= 0 ? x->U + e * p : x->L + e * p;
    for (size_t j = 0; j < p; j++) { z->L[e * p + j] = lw[e] * sl[j]; z->U[e * p + j] = uw[e] * su[j]; }
    z->L[e * p + nx] += lb[e];
    z->U[e * p + nx] += ub[e];
    double a = fmax(fabs(lw[e]), fabs(uw[e])), c = fmax(fabs(lb[e]), fabs(ub[e]));
    z->E[e] = round_up((a * x->E[e] + round_gamma(3) * (a * x->M[e] + c)) * (1 + 2 * round_gamma(3)));
  }
}

static int node_lin(cb_ws *ws, int i, lin *Z, size_t nx, double *Wp, double *Wn)
{
  const cb_node *n = &ws->net->node[i];
  lin *z = &Z[i], *x = n->n_in ? &Z[n->in[0]] : NULL;
  size_t p = nx + 1, size = n->size;
  switch (n->kind) {
  case CB_INPUT:
    memset(z->L, 0, size * p * sizeof(double));
    for (size_t e = 0; e < size; e++) { z->L[e * p + e] = 1; z->E[e] = 0; }
    memcpy(z->U, z->L, size * p * sizeof(double));
    return CB_OK;
  case CB_AFFINE: return fwd_affine(ws, n, x, z, nx, Wp, Wn, i);
  case CB_SCALE: fwd_lines(x, z, size, nx, n->p.scale.a, n->p.scale.b, n->p.scale.a, n->p.scale.b); return CB_OK;
  case CB_RESHAPE:
    memcpy(z->L, x->L, size * p * sizeof(double)); memcpy(z->U, x->U, size * p * sizeof(double));
    memcpy(z->E, x->E, size * sizeof(double));
    return CB_OK;
  case CB_ADD: {
    const lin *y = &Z[n->in[1]];
    for (size_t k = 0; k < size * p; k++) { z->L[k] = x->L[k] + y->L[k]; z->U[k] = x->U[k] + y->U[k]; }
    for (size_t e = 0; e < size; e++) z->E[e] = round_up((x->E[e] + y->E[e] + round_gamma(2) * (x->M[e] + y->M[e])) * (1 + 2 * round_gamma(2)));
    return CB_OK;
  }
  case CB_ACT:
    ws_relax_lines(ws, i);
    fwd_lines(x, z, size, nx, ws->rl_w[i], ws->rl_b[i], ws->ru_w[i], ws->ru_b[i]);
    return CB_OK;
  case CB_CONV: case CB_CONCAT: case CB_TRANSPOSE: case CB_MAXPOOL: case CB_SORT: case CB_MUL: case CB_KIND_COUNT: break;
  }
  return CB_EUNSUP;
}

int fwdlin_run(cb_ws *ws, double *out_lo, double *out_hi, cb_error *err)
{
  const cb_net *net = ws->net;
  size_t nx = ws->set.n, p = nx + 1, total = 0, wmax = 1, smax = 1;
  lin *Z = NULL;
  double *buf = NULL, *xmax, *Wp, *Wn, *q;
  int rc = set_check(&ws->set, err);
  if (rc != CB_OK) return rc;
  if (ws->set.norm != CB_NORM_BOX || !fwdlin_supported(net))
    return cb_error_set(err, CB_EUNSUP, "forward linear bounds need a box and dense kinds with exact parameters");
  for (int i = 0; i < net->n; i++) {
    total += net->node[i].size * (2 * p + 2);
    if (net->node[i].size > smax) smax = net->node[i].size;
    if (net->node[i].kind == CB_AFFINE) wmax = wmax > net->node[i].p.aff.out * net->node[i].p.aff.in ? wmax : net->node[i].p.aff.out * net->node[i].p.aff.in;
  }
  Z = cb_calloc((size_t)net->n, sizeof *Z);
  buf = cb_alloc((total + 2 * wmax + nx + smax) * sizeof *buf);
  if (!Z || !buf) { rc = cb_error_set(err, CB_ENOMEM, "out of memory in forward linear bounds"); goto out; }
  q = buf;
  for (int i = 0; i < net->n; i++) {
    size_t s = net->node[i].size;
    Z[i].L = q; q += s * p; Z[i].U = q; q += s * p; Z[i].E = q; q += s; Z[i].M = q; q += s;
  }
  Wp = q; Wn = Wp + wmax; xmax = Wn + wmax;
  for (size_t j = 0; j < nx; j++) xmax[j] = fmax(fabs(ws->set.lo[j]), fabs(ws->set.hi[j]));
  ws->method = CB_FWDLIN;   /* bounds_spec: CROWN's pass, as after CB_CROWN */
  memset(ws->sv_ok, 0, (size_t)net->n);   /* every box moves: CROWN's cached slack vectors go stale */
  for (int i = 0; i < net->n && rc == CB_OK; i++) {
    if ((rc = ibp_node(ws, i, err)) != CB_OK) break;
    if ((rc = node_lin(ws, i, Z, nx, Wp, Wn)) != CB_OK) { rc = cb_error_set(err, rc, "forward linear bounds: unsupported node"); break; }
    magnitudes(&Z[i], net->node[i].size, nx, xmax);
    concretise(ws, i, &Z[i], nx);
  }
  if (rc == CB_OK && (out_lo || out_hi)) {
    const lin *z = &Z[net->output];
    for (size_t e = 0; e < net->node[net->output].size; e++)
      for (size_t j = 0; j < p; j++) {
        double s = j == nx ? 2 * (z->E[e] + round_gamma(nx + 2) * z->M[e]) : 0;
        if (out_lo) out_lo[e * p + j] = z->L[e * p + j] - s;
        if (out_hi) out_hi[e * p + j] = z->U[e * p + j] + s;
      }
  }
out:
  cb_free(Z);
  cb_free(buf);
  return rc;
}
