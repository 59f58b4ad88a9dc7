/*
** Guaranteed upper bounds of layer operator norms (see specnorm.h for the
** menu).  Every bound here holds for the REAL operator given by the stored
** doubles: each floating-point step is either exact or followed by an
** explicit error term, and the final arithmetic on bounds rounds outward.
**
** Assumptions, stated once:
**  - IEEE double, round to nearest (u = 2^-53); gradual underflow adds at
**    most 2^-1074 per operation (terms "... * eta").  Outward rounding is
**    src/round.h's one-nextafter-step family.
**  - dgemm (OpenBLAS) is a conventional O(n^3) product, so each entry obeys
**    |fl(a.b) - a.b| <= gamma_k |a|.|b| for any summation order, with or
**    without FMA (Higham, Accuracy and Stability, 2nd ed., eq. 3.13, Lemma 3.1).
**  - glibc sin/cos are within 1 ulp (glibc manual, "Known Maximum Errors in
**    Math Functions", x86_64); we allow 16 ulp.
**  - LAPACK's eigensolver is NOT trusted: its output only seeds a residual
**    certificate whose every step is bounded here.
** Workload: once per layer.  Gram bound O(p^3) with p = min(rows, cols) <=
** dense_max; circulant bound O(frequencies * p^3) with p = 2 min(cout, cin*s*s)
** per group, small for real convs.
*/
#include <math.h>
#include <string.h>
#include "linalg.h"
#include "specnorm.h"
#include "round.h"

#define TWO_PI 6.283185307179586  /* fl(2 pi), relative error <= u */

/* Defaults: L2, dense_max 4096, power-iteration defaults. */
void lip_spec_opts_init(lip_spec_opts *o)
{
  o->norm = CB_NORM_2;
  o->dense_max = 4096;
  lip_power_opts_init(&o->power);
}

/* ---------------------------------------------------------------------------
** Symmetric certificate.  For S symmetric (held exactly) and any V:
**   T = fl(S V), M = fl(V^T T):  M = V^T S V + F,
**     ||F||_2 <= ||F||_F <= gamma_p (||V||_F ||T||_F + ||V||_F^2 ||S||_F) + 2 p^3 eta
**   lambda_max(V^T S V) <= max_i (M_ii + sum_{j!=i} (|M_ij| + |M_ji|)/2) + ||F||_2
**     (x^T V^T S V x <= x^T sym(M) x + ||F|| ||x||^2; Gershgorin on sym(M))
**   delta >= ||V^T V - I||_2 from fl(V^T V) the same way; if delta < 1,
**   lambda_max(S) <= max(lambda_max(V^T S V), 0) / (1 - delta)
**     (Ostrowski: lambda_k(V^T S V) = theta_k lambda_k(S), theta_k in
**      [lambda_min(V^T V), lambda_max(V^T V)]; Horn & Johnson Thm 4.5.9).
** V comes from LAPACK dsyevd and only needs to be close to orthogonal and
** to diagonalise S for the bound to be tight; soundness does not depend on it.
*/

/* Gershgorin bound of lambda_max(sym(M)), rounded up. */
static double gersh_up(const double *M, size_t p)
{
  double best = -HUGE_VAL;
  for (size_t i = 0; i < p; i++) {
    double r = 0, gi;
    for (size_t j = 0; j < p; j++)
      if (j != i) r += fabs(M[i * p + j]) + fabs(M[j * p + i]);
    r = 0.5 * round_sum_up(r, 2 * p);
    gi = round_add_up(M[i * p + i], r);
    if (gi > best) best = gi;
  }
  return best;
}

/* ||N - I||_F rounded up for N = fl(V^T V); diagonals in [0.5, 2] make N_ii - 1
   exact (Sterbenz).  Returns 2 (no certificate) otherwise. */
static double orth_defect_up(double *N, size_t p)
{
  for (size_t i = 0; i < p; i++) {
    if (!(N[i * p + i] >= 0.5 && N[i * p + i] <= 2.0)) return 2.0;
    N[i * p + i] -= 1.0;
  }
  return round_next_up(sqrt(round_sumsq_up(N, p * p)));
}

/* Upper bound of lambda_max(S) from approximate eigenvectors V (columns). */
static int certify_lmax(const double *S, const double *V, size_t p, double *lam, cb_error *err)
{
  double *T = cb_alloc(p * p * sizeof *T), *M = cb_alloc(p * p * sizeof *M);
  double g = round_gamma_up(p), fv, ft, fs, F, G, delta, under = round_mul_up(2.0 * (double)p * (double)p * (double)p, ROUND_ETA);
  if (!T || !M) { cb_free(T); cb_free(M); return cb_error_set(err, CB_ENOMEM, "spectral norm: out of memory"); }
  la_gemm(0, 0, p, p, p, 1.0, S, p, V, p, 0.0, T, p);
  la_gemm(1, 0, p, p, p, 1.0, V, p, T, p, 0.0, M, p);
  fv = round_next_up(sqrt(round_sumsq_up(V, p * p)));
  ft = round_next_up(sqrt(round_sumsq_up(T, p * p)));
  fs = round_next_up(sqrt(round_sumsq_up(S, p * p)));
  F = round_add_up(round_mul_up(g, round_add_up(round_mul_up(fv, ft), round_mul_up(round_mul_up(fv, fv), fs))), under);
  G = gersh_up(M, p);
  la_gemm(1, 0, p, p, p, 1.0, V, p, V, p, 0.0, T, p);
  delta = round_add_up(round_add_up(orth_defect_up(T, p), round_mul_up(g, round_mul_up(fv, fv))), under);
  cb_free(T);
  cb_free(M);
  if (!(delta < 0.5) || !isfinite(G) || !isfinite(F))
    return cb_error_set(err, CB_EINTERNAL, "spectral norm: eigenvector certificate failed "
                        "(orthogonality defect %g)", delta);
  G = round_add_up(G, F);
  *lam = G <= 0 ? 0 : round_next_up(G / round_next_down(1.0 - delta));
  return CB_OK;
}

/* Eigenvectors of symmetric S (p x p) into V (columns), ascending eigenvalues in w. */
static int eig_sym(const double *S, size_t p, double *V, double *w, cb_error *err)
{
  int rc;
  memcpy(V, S, p * p * sizeof *V);
  rc = la_syevd(V, p, w);
  if (rc == CB_ENOMEM) return cb_error_set(err, CB_ENOMEM, "spectral norm: out of memory in dsyevd");
  if (rc != CB_OK) return cb_error_set(err, CB_EINTERNAL, "spectral norm: dsyevd failed");
  return CB_OK;
}

/* ---------------------------------------------------------------------------
** Gram matrices.  tall (cols <= rows): S = A^T A (p = cols), else S = A A^T.
** Dense: one dgemm, inner length k = the other side.  Operator (conv): S is
** built row by row as A^T (A e_j) or A (A^T e_j); the first product of a basis
** vector is exact (one nonzero per dot product; distinct taps of one pixel hit
** distinct positions), so only the second has error, inner length k = its
** dot-product length.  Either way |S_hat - S| <= gamma_k |A|^T |A| entrywise,
** hence ||S_hat - S||_2 <= gamma_k ||A||_F^2 + p k eta.  Only the upper
** triangle is kept (mirrored), so S_hat is exactly symmetric.
*/
static void mirror(double *S, size_t p)
{
  for (size_t i = 0; i < p; i++)
    for (size_t j = 0; j < i; j++) S[i * p + j] = S[j * p + i];
}

/* S (p x p) of an implicit operator from p basis vectors in chunks; *k the inner
   length of the inexact (second) product.  CB_ENOMEM on failure. */
static int gram_op(const lip_op *op, int tall, double *S, size_t p, size_t *k)
{
  size_t other = tall ? op->rows : op->cols, B = ((size_t)1 << 22) / (other + p);
  if (B < 1) B = 1;
  if (B > 64) B = 64;
  double *X = cb_calloc(B * p, sizeof *X), *Y = cb_alloc(B * other * sizeof *Y);
  int rc = (X && Y) ? CB_OK : CB_ENOMEM;
  *k = tall ? lip_power_op_inner_t(op) : lip_power_op_inner(op);
  for (size_t j0 = 0; rc == CB_OK && j0 < p; j0 += B) {
    size_t b = p - j0 < B ? p - j0 : B;
    memset(X, 0, B * p * sizeof *X);
    for (size_t i = 0; i < b; i++) X[i * p + j0 + i] = 1.0;
    rc = lip_power_apply(op, !tall, X, b, Y);
    if (rc == CB_OK) rc = lip_power_apply(op, tall, Y, b, S + j0 * p);
  }
  cb_free(X);
  cb_free(Y);
  mirror(S, p);
  return rc;
}

/* S = fl(A^T A) or fl(A A^T) by one dgemm; *k its inner length. */
static void gram_dense(const lip_op *op, int tall, double *S, size_t *k)
{
  size_t m = op->rows, n = op->cols;
  if (tall) { la_gemm(1, 0, n, n, m, 1.0, op->W, n, op->W, n, 0.0, S, n); *k = m; }
  else { la_gemm(0, 1, m, m, n, 1.0, op->W, n, op->W, n, 0.0, S, m); *k = n; }
  mirror(S, tall ? n : m);
}

/* >= ||A||_F^2: dense exactly; a conv kernel entry appears in at most hout*wout rows. */
static double frob2_up(const lip_op *op)
{
  const cb_conv *g = op->g;
  if (!g) return round_sumsq_up(op->W, op->rows * op->cols);
  return round_mul_up(round_sumsq_up(op->W, (size_t)(g->cout * (g->cin / g->groups) * g->kh * g->kw)),
                (double)(g->hout * g->wout));
}

/* sigma_max(A) <= sqrt(lambda_max(S_hat) + ||S_hat - S||), all rounded up. */
int lip_spec_gram_upper(const lip_op *op, double *upper, double *v_top, cb_error *err)
{
  int tall = op->cols <= op->rows, rc;
  size_t p = tall ? op->cols : op->rows, k = 0;
  double *S = cb_alloc(p * p * sizeof *S), *V = cb_alloc(p * p * sizeof *V), *w = cb_alloc(p * sizeof *w);
  double lam = 0, e0;
  if (!S || !V || !w) { rc = cb_error_set(err, CB_ENOMEM, "spectral norm: out of memory (Gram %zu x %zu)", p, p); goto out; }
  if (op->g) { if ((rc = gram_op(op, tall, S, p, &k)) != CB_OK) { cb_error_set(err, rc, "spectral norm: out of memory"); goto out; } }
  else gram_dense(op, tall, S, &k);
  e0 = round_add_up(round_mul_up(round_gamma_up(k), frob2_up(op)), round_mul_up((double)p * (double)k, ROUND_ETA));
  if ((rc = eig_sym(S, p, V, w, err)) != CB_OK) goto out;
  if ((rc = certify_lmax(S, V, p, &lam, err)) != CB_OK) goto out;
  *upper = round_next_up(sqrt(round_add_up(lam, e0)));
  if (v_top) {
    for (size_t i = 0; i < p; i++) w[i] = V[i * p + p - 1];
    if (tall) memcpy(v_top, w, p * sizeof *w);
    else if ((rc = lip_power_apply(op, 1, w, 1, v_top)) != CB_OK) cb_error_set(err, rc, "spectral norm: out of memory");
  }
out:
  cb_free(S); cb_free(V); cb_free(w);
  return rc;
}

/* ---------------------------------------------------------------------------
** Circulant bound for a conv of any size, never building its matrix.
**  1. Polyphase: with stride s, tap a reads input row s*i + rho_a, rho_a =
**     d*a - pad = s*q_a + phi_a (0 <= phi_a < s).  Rearranging x into s*s
**     phase channels x'[(c,phi)][r'] = x[c][s r' + phi] is an isometry (each
**     input appears once), after which the layer is a stride-1 correlation
**     with kernel K'[o][(c,phi1,phi2)][q1 - q1min][q2 - q2min] (each tap lands
**     in a distinct slot).  Groups give a block-diagonal operator: max over groups.
**  2. Torus: on Z_N with N >= max(H', Hout, Hout + qmax, H' - qmin)
**     (H' = ceil(H/s)) no tap wraps onto a stored input, so the layer is
**     R_out C R_in with coordinate restriction/embedding R (norm <= 1) and C
**     the block-circulant correlation on the torus.
**  3. The DFT block-diagonalises C: ||C||_2 = max over k in Z_N1 x Z_N2 of
**     ||Khat(k)||_2, Khat(k) = sum_t K'_t e^{2 pi i (k1 t1/N1 + k2 t2/N2)}
**     (Sedghi, Gupta, Long, "The singular values of convolutional layers",
**     ICLR 2019, Thm 6).  Khat(-k) = conj(Khat(k)): half the grid suffices.
**  4. Each Khat(k) = X + iY is bounded through the real [[X,-Y],[Y,X]] (same
**     singular values) with lip_spec_gram_upper.  Rounding of the computed
**     X, Y: |err| <= (dt + gamma_T (1 + dt)) sum_t |K'_t| per entry, with
**     dt = 64u >= 16 ulp of a value <= 1 (32u, cos/sin) + 19u (argument
**     fl(fl(j * fl(2 pi)) / L): three roundings, |theta| < 2 pi, cos and sin
**     1-Lipschitz); the realified error is <= 2 (dt + gamma_T(1+dt)) ||Sabs||_F.
** Tight when the image is large compared to the kernel; for zero padding it
** is an upper bound, not the exact norm (the benchmark records the ratio).
*/
typedef struct poly {
  int64_t qmin[2], T[2], N[2];  /* per axis: first tap offset, tap count, torus size */
  size_t co, ci;                /* per group: cout/groups and (cin/groups) * sh * sw */
  double *K;                    /* [co][ci][T0][T1] */
  double *cs, *sn;              /* cos / sin (2 pi j / L), L = N0 N1 */
} poly;

/* floor(a / b) for b > 0. */
static int64_t floordiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* Tap range and torus size along one axis. */
static void poly_axis(int64_t k, int64_t s, int64_t d, int64_t pad, int64_t in, int64_t out,
                      int64_t *qmin, int64_t *T, int64_t *N)
{
  int64_t q0 = floordiv(-pad, s), q1 = floordiv(d * (k - 1) - pad, s);
  int64_t hp = (in + s - 1) / s, n = hp;
  if (out > n) n = out;
  if (out + q1 > n) n = out + q1;
  if (hp - q0 > n) n = hp - q0;
  *qmin = q0;
  *T = q1 - q0 + 1;
  *N = n;
}

/* Fills p->K with the polyphase kernel of group gi. */
static void poly_kernel(const cb_conv *g, const double *W, int64_t gi, poly *p)
{
  int64_t cpg = g->cin / g->groups;
  memset(p->K, 0, p->co * p->ci * (size_t)(p->T[0] * p->T[1]) * sizeof *p->K);
  for (size_t o = 0; o < p->co; o++)
    for (int64_t c = 0; c < cpg; c++)
      for (int64_t a = 0; a < g->kh; a++)
        for (int64_t b = 0; b < g->kw; b++) {
          int64_t ra = g->dh * a - g->pt, rb = g->dw * b - g->pl;
          int64_t qa = floordiv(ra, g->sh), qb = floordiv(rb, g->sw);
          int64_t ch = (c * g->sh + (ra - qa * g->sh)) * g->sw + (rb - qb * g->sw);
          size_t t = (size_t)((qa - p->qmin[0]) * p->T[1] + (qb - p->qmin[1]));
          p->K[((o * p->ci + (size_t)ch) * (size_t)(p->T[0] * p->T[1])) + t] =
            W[(((size_t)gi * p->co + o) * (size_t)cpg + (size_t)c) * (size_t)(g->kh * g->kw) + (size_t)(a * g->kw + b)];
        }
}

/* Realified symbol R [2co x 2ci] = [[X,-Y],[Y,X]] at frequency (k0, k1). */
static void poly_symbol(const poly *p, int64_t k0, int64_t k1, double *R)
{
  size_t T = (size_t)(p->T[0] * p->T[1]), ci2 = 2 * p->ci;
  int64_t L = p->N[0] * p->N[1];
  for (size_t o = 0; o < p->co; o++)
    for (size_t c = 0; c < p->ci; c++) {
      const double *k = p->K + (o * p->ci + c) * T;
      double x = 0, y = 0;
      for (size_t t = 0; t < T; t++) {
        int64_t t0 = (int64_t)t / p->T[1] + p->qmin[0], t1 = (int64_t)t % p->T[1] + p->qmin[1];
        int64_t j = ((k0 * t0 * p->N[1] + k1 * t1 * p->N[0]) % L + L) % L;
        x += k[t] * p->cs[j];
        y += k[t] * p->sn[j];
      }
      R[o * ci2 + c] = x; R[o * ci2 + p->ci + c] = -y;
      R[(p->co + o) * ci2 + c] = y; R[(p->co + o) * ci2 + p->ci + c] = x;
    }
}

/* Rounding term of the computed symbols, the same for every frequency. */
static double poly_err(const poly *p)
{
  size_t T = (size_t)(p->T[0] * p->T[1]);
  double dt = 64.0 * ROUND_U, s2 = 0, e;
  for (size_t oc = 0; oc < p->co * p->ci; oc++) {
    double s = 0;
    for (size_t t = 0; t < T; t++) s += fabs(p->K[oc * T + t]);
    s = round_sum_up(s, T);
    s2 = round_add_up(s2, round_mul_up(s, s));
  }
  s2 = round_sum_up(s2, p->co * p->ci);
  e = round_add_up(dt, round_mul_up(round_gamma_up(T + 1), round_add_up(1.0, dt)));
  return round_mul_up(2.0 * e, round_next_up(sqrt(s2)));
}

/* Max over half the frequency grid of the certified symbol norms. */
static int poly_max(const poly *p, double *best, cb_error *err)
{
  double *R = cb_alloc(4 * p->co * p->ci * sizeof *R), s = 0;
  lip_op op;
  int rc = CB_OK;
  if (!R) return cb_error_set(err, CB_ENOMEM, "circulant bound: out of memory");
  lip_power_op_dense(&op, R, 2 * p->co, 2 * p->ci);
  *best = 0;
  for (int64_t k0 = 0; k0 < p->N[0] && rc == CB_OK; k0++)
    for (int64_t k1 = 0; k1 < p->N[1] && rc == CB_OK; k1++) {
      int64_t idx = k0 * p->N[1] + k1;
      int64_t conj = ((p->N[0] - k0) % p->N[0]) * p->N[1] + (p->N[1] - k1) % p->N[1];
      if (conj < idx) continue;
      poly_symbol(p, k0, k1, R);
      if ((rc = lip_spec_gram_upper(&op, &s, NULL, err)) == CB_OK && s > *best) *best = s;
    }
  cb_free(R);
  return rc;
}

/* cos / sin (2 pi j / L) for j < L = N0 N1; CB_ENOMEM on failure. */
static int poly_tables(poly *p)
{
  int64_t L = p->N[0] * p->N[1];
  p->cs = cb_alloc(2 * (size_t)L * sizeof *p->cs);
  if (!p->cs) return CB_ENOMEM;
  p->sn = p->cs + L;
  for (int64_t j = 0; j < L; j++) {
    double th = (double)j * TWO_PI / (double)L;
    p->cs[j] = cos(th);
    p->sn[j] = sin(th);
  }
  return CB_OK;
}

/* Max over groups of the certified circulant bound of each group's polyphase kernel. */
int lip_spec_conv_circulant_upper(const cb_conv *g, const double *W, double *upper, cb_error *err)
{
  poly p;
  double best = 0, s = 0;
  int rc = CB_OK;
  memset(&p, 0, sizeof p);
  poly_axis(g->kh, g->sh, g->dh, g->pt, g->hin, g->hout, &p.qmin[0], &p.T[0], &p.N[0]);
  poly_axis(g->kw, g->sw, g->dw, g->pl, g->win, g->wout, &p.qmin[1], &p.T[1], &p.N[1]);
  p.co = (size_t)(g->cout / g->groups);
  p.ci = (size_t)(g->cin / g->groups * g->sh * g->sw);
  p.K = cb_alloc(p.co * p.ci * (size_t)(p.T[0] * p.T[1]) * sizeof *p.K);
  if (!p.K || poly_tables(&p) != CB_OK) { rc = cb_error_set(err, CB_ENOMEM, "circulant bound: out of memory"); goto out; }
  for (int64_t gi = 0; gi < g->groups && rc == CB_OK; gi++) {
    poly_kernel(g, W, gi, &p);
    if ((rc = poly_max(&p, &s, err)) == CB_OK) {
      s = round_add_up(s, poly_err(&p));
      if (s > best) best = s;
    }
  }
  *upper = best;
out:
  cb_free(p.K);
  cb_free(p.cs);
  return rc;
}

/* ---------------------------------------------------------------------------
** L1 / Linf: ||A||_inf = max_i sum_j |A_ij| = max(|A| 1), ||A||_1 = max(|A|^T 1).
** Sums of nonnegative exact terms: exact in [s (1 - gamma_k), s (1 + 2 gamma_k)],
** k = the dot-product length (for a conv, |K| is applied to a vector of ones).
*/
static double vmax(const double *x, size_t n)
{
  double m = 0;
  for (size_t i = 0; i < n; i++) if (x[i] > m) m = x[i];
  return m;
}

/* Row sums (rs, rows entries) and column sums (cs, cols entries) of |A|. */
static int abs_sums(const lip_op *op, double *rs, double *cs)
{
  size_t nw = op->g ? (size_t)(op->g->cout * (op->g->cin / op->g->groups) * op->g->kh * op->g->kw) : op->rows * op->cols;
  double *aw = cb_alloc(nw * sizeof *aw), *one = cb_alloc((op->rows > op->cols ? op->rows : op->cols) * sizeof *one);
  lip_op a = *op;
  int rc = (aw && one) ? CB_OK : CB_ENOMEM;
  if (rc == CB_OK) {
    for (size_t i = 0; i < nw; i++) aw[i] = fabs(op->W[i]);
    for (size_t i = 0; i < (op->rows > op->cols ? op->rows : op->cols); i++) one[i] = 1.0;
    a.W = aw;
    rc = lip_power_apply(&a, 0, one, 1, rs);
    if (rc == CB_OK) rc = lip_power_apply(&a, 1, one, 1, cs);
  }
  cb_free(aw);
  cb_free(one);
  return rc;
}

int lip_spec_abs_norms(const lip_op *op, double *n1, double *ninf, double *lo1, double *loinf,
                       cb_error *err)
{
  double *rs = cb_alloc((op->rows + op->cols) * sizeof *rs), *cs, r, c;
  size_t kr = lip_power_op_inner(op), kc = lip_power_op_inner_t(op);
  int rc;
  if (!rs) return cb_error_set(err, CB_ENOMEM, "operator norm: out of memory");
  cs = rs + op->rows;
  if ((rc = abs_sums(op, rs, cs)) != CB_OK) { cb_free(rs); return cb_error_set(err, rc, "operator norm: out of memory"); }
  r = vmax(rs, op->rows);
  c = vmax(cs, op->cols);
  cb_free(rs);
  *ninf = round_add_up(round_sum_up(r, kr), (double)kr * ROUND_ETA);
  *n1 = round_add_up(round_sum_up(c, kc), (double)kc * ROUND_ETA);
  if (loinf) *loinf = fmax(0, round_next_down(round_next_down(r * round_next_down(1.0 - round_gamma_up(kr))) - (double)kr * ROUND_ETA));
  if (lo1) *lo1 = fmax(0, round_next_down(round_next_down(c * round_next_down(1.0 - round_gamma_up(kc))) - (double)kc * ROUND_ETA));
  return CB_OK;
}

/* ---------------------------------------------------------------------------
** Dispatcher.  L2: exact Gram bound for dense layers and for convs whose
** smaller side p = min(rows, cols) is <= dense_max (the p x p Gram is built
** from p applications of the conv and its adjoint, in chunks of <= 64
** vectors: the rows x cols matrix is never stored), circulant bound beyond
** (e.g. a conv with more than dense_max inputs AND outputs); either is capped by the
** always-valid ||A||_2 <= sqrt(||A||_1 ||A||_inf) (Hoelder / Schur test).
** Lower: power iteration, warm-started from the Gram eigenvector when there is one.
*/
static int bound_l2(const lip_op *op, const lip_spec_opts *o, double abs2, lip_bound *b, cb_error *err)
{
  double *v = cb_alloc(op->cols * sizeof *v), up;
  lip_power_opts po = o->power;
  lip_power_res pr;
  int rc;
  if (!v) return cb_error_set(err, CB_ENOMEM, "spectral norm: out of memory");
  if (!op->g || (op->rows < op->cols ? op->rows : op->cols) <= o->dense_max) {
    rc = lip_spec_gram_upper(op, &up, v, err);
    b->method = op->g ? "conv-gram-eig" : "gram-eig";
    po.v0 = v;
  } else {
    rc = lip_spec_conv_circulant_upper(op->g, op->W, &up, err);
    b->method = "conv-circulant";
  }
  if (rc == CB_OK && abs2 < up) { up = abs2; b->method = "l1-linf"; }
  if (rc == CB_OK) rc = lip_power(op, abs2, &po, &pr, NULL, err);
  cb_free(v);
  if (rc != CB_OK) return rc;
  b->upper = up;
  b->lower = pr.lower;
  b->iters = pr.iters;
  b->converged = pr.converged;
  if (b->lower > b->upper)
    return cb_error_set(err, CB_EINTERNAL, "spectral norm: lower %.17g > upper %.17g", b->lower, b->upper);
  return CB_OK;
}

/* Exact L1/Linf, or the L2 pair (lower, upper); b->method names the bound used. */
int lip_spec_bound(const lip_op *op, const lip_spec_opts *o, lip_bound *b, cb_error *err)
{
  double n1, ninf, lo1, loinf;
  int rc;
  memset(b, 0, sizeof *b);
  b->converged = 1;
  b->method = "abs-sum";
  if ((rc = lip_spec_abs_norms(op, &n1, &ninf, &lo1, &loinf, err)) != CB_OK) return rc;
  switch (o->norm) {
  case CB_NORM_INF: b->lower = loinf; b->upper = ninf; return CB_OK;
  case CB_NORM_1: b->lower = lo1; b->upper = n1; return CB_OK;
  case CB_NORM_2: return bound_l2(op, o, round_next_up(sqrt(round_mul_up(n1, ninf))), b, err);
  case CB_NORM_BOX: case CB_NORM_COUNT: break;
  }
  return cb_error_set(err, CB_EUSAGE, "operator norm: unknown norm %d", (int)o->norm);
}
