/*
** CROWN / DeepPoly back-substitution (one backward pass = one switch over
** node kinds, one small function per kind), and the drivers that compute
** intermediate bounds for IBP, CROWN and CROWN-IBP.
**
** A backward pass bounds max over the set of A . value(start) for q rows at
** once: it walks the nodes from `start` down to `stop` (the input, or a node
** whose box is used instead), carrying per node an accumulated matrix
** A_i [q x size_i], and per row a bias, a rounding slack and the sum of
** |bias contributions|.  Upper bounds only; a lower bound is minus the upper
** bound of the negated row, so both come from one pass over [A; -A] (STYLE G5).
** Relaxed nonlinear node, upper side:  A_in = A+ uw + A- lw,  bias += A+ ub + A- lb.
** Source: Zhang et al. 2018 (CROWN) Thm 3.2; Singh et al. 2019 (DeepPoly).
** Sizes: q up to twice a layer's width; A matrices are propagated with dgemm.
*/
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "bounds.h"
#include "backward.h"
#include "linalg.h"
#include "round.h"

typedef struct bwd {
  cb_ws *ws;
  size_t q;
  double **A;       /* per node accumulated matrix, NULL if none reached it */
  char *merged;     /* per node: more than one contribution was added */
  double *bias, *slack, *babs;
  const crown_lines *lines;  /* per node per-row lines (alpha-CROWN), or NULL */
  double *pool;     /* node i's matrix lives at pool + off[i] (no allocation per node) */
  size_t *off;
} bwd;

/* A of node i, zeroed on first use (in the pass's pool). */
static double *acc(bwd *B, int i)
{
  if (!B->A[i]) {
    B->A[i] = B->pool + B->off[i];
    memset(B->A[i], 0, B->q * B->ws->net->node[i].size * sizeof(double));
  } else B->merged[i] = 1;
  return B->A[i];
}

/* Two doubles in one SSE2 register (GCC/clang vector extension), for the row kernels. */
typedef double v2d __attribute__((vector_size(16)));
typedef long long v2i __attribute__((vector_size(16)));

static inline v2d load2(const double *p) { v2d v; memcpy(&v, p, sizeof v); return v; }
static inline v2d abs2(v2d a) { const v2i m = {0x7fffffffffffffffLL, 0x7fffffffffffffffLL}; return (v2d)((v2i)a & m); }

/* sum_j |a_j| v_j, and *t = sum_j a_j c_j when c; four partial sums (any
   order of a sum is within the same gamma bound). */
static double terms_row(const double *restrict a, size_t n, const double *restrict v, const double *restrict c, double *t)
{
  v2d s0 = {0, 0}, s1 = {0, 0}, t0 = {0, 0}, t1 = {0, 0};
  double s = 0, tt = 0;
  size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    v2d a0 = load2(a + j), a1 = load2(a + j + 2);
    s0 += abs2(a0) * load2(v + j);
    s1 += abs2(a1) * load2(v + j + 2);
    if (c) { t0 += a0 * load2(c + j); t1 += a1 * load2(c + j + 2); }
  }
  for (; j < n; j++) { s += fabs(a[j]) * v[j]; if (c) tt += a[j] * c[j]; }
  if (c) *t = ((t0[0] + t1[0]) + (t0[1] + t1[1])) + tt;
  return ((s0[0] + s1[0]) + (s0[1] + s1[1])) + s;
}

/* slack_r += g * sum_j |A_rj| v_j  and  bias_r += sum_j A_rj c_j (c may be NULL). */
static void add_terms(bwd *B, const double *A, size_t n, const double *v, double g, const double *c)
{
  for (size_t r = 0; r < B->q; r++) {
    double t = 0, s = terms_row(A + r * n, n, v, c, &t);
    B->slack[r] += g * s;
    if (c) { B->bias[r] += t; B->babs[r] += fabs(t); }
  }
}

/* The slack vector of an AFFINE/CONV node, |W| zmax_in + |b| (cached in the
   workspace: zmax does not change once a pass has read it). */
static const double *slack_vec(cb_ws *ws, int i)
{
  const cb_node *n = &ws->net->node[i];
  double *v = ws->sv[i];
  if (ws->sv_ok[i]) return v;
  if (n->kind == CB_AFFINE) {
    la_gemm(0, 1, 1, n->size, n->p.aff.in, 1.0, ws->zmax[n->in[0]], n->p.aff.in, ws->bn->absW[i], n->p.aff.in, 0.0, v, n->size);
    for (size_t o = 0; o < n->size; o++) v[o] += fabs(n->p.aff.b[o]);
  } else {
    const cb_conv *g = &n->p.conv.g;
    size_t P = (size_t)(g->hout * g->wout);
    double *zero = cb_calloc((size_t)g->cout, sizeof *zero);
    if (!zero || la_conv_forward(g, ws->bn->absW[i], zero, ws->zmax[n->in[0]], 1, v) != CB_OK) { cb_free(zero); return NULL; }
    cb_free(zero);
    for (size_t e = 0; e < n->size; e++) v[e] += fabs(n->p.conv.b[e / P]);
  }
  ws->sv_ok[i] = 1;
  return v;
}

/* Slack factor of an AFFINE/CONV node (in = input size): 2 (gamma + rel_err)
   covering the product with A and the slack vector's own dot products.  An
   entry of a CONV's A_in sums up to (cout/groups) kh kw products (every output
   channel of the group at every tap over that input), the slack vector's
   entries (cin/groups) kh kw: gamma of their sum, as AFFINE's out + in. */
static double slack_gamma(const cb_node *n, size_t in)
{
  const cb_conv *g = &n->p.conv.g;
  if (n->kind == CB_AFFINE) return 2 * (round_gamma(n->size + in + 2) + n->rel_err);
  return 2 * (round_gamma((size_t)((g->cin + g->cout) / g->groups * g->kh * g->kw) + 2) + n->rel_err);
}

/* AFFINE: A_in += A W; bias += A b; slack += gamma |A| (|W| zmax_in + |b|). */
static int back_affine(bwd *B, int i, const double *A)
{
  const cb_node *n = &B->ws->net->node[i];
  size_t out = n->size, in = n->p.aff.in;
  double *Ain = acc(B, n->in[0]);
  const double *v = slack_vec(B->ws, i);
  if (!Ain || !v) return CB_ENOMEM;
  la_gemm(0, 0, B->q, in, out, 1.0, A, out, n->p.aff.W, in, 1.0, Ain, in);
  B->ws->flops += 2.0 * (double)B->q * (double)in * (double)out;
  add_terms(B, A, out, v, slack_gamma(n, in), n->p.aff.b);
  return CB_OK;
}

/* CONV: A_in += conv^T(A); bias += sum A b; slack via |W| * zmax_in (a forward conv). */
static int back_conv(bwd *B, int i, const double *A)
{
  const cb_node *n = &B->ws->net->node[i];
  const cb_conv *g = &n->p.conv.g;
  size_t P = (size_t)(g->hout * g->wout);
  double *Ain = acc(B, n->in[0]), *c = cb_alloc(n->size * sizeof *c);
  const double *v = slack_vec(B->ws, i);
  int rc = CB_ENOMEM;
  if (!Ain || !c || !v) goto out;
  if (la_conv_backward(g, n->p.conv.W, A, B->q, Ain) != CB_OK) goto out;
  B->ws->flops += 2.0 * (double)B->q * (double)n->size * (double)(g->cin / g->groups * g->kh * g->kw);
  for (size_t e = 0; e < n->size; e++) c[e] = n->p.conv.b[e / P];
  add_terms(B, A, n->size, v, slack_gamma(n, 0), c);
  rc = CB_OK;
out:
  cb_free(c);
  return rc;
}

/*
** First step of a pass whose rows are signed unit vectors a e_j (CROWN's
** intermediate bounds): row r of A_in is a times row j of the operator
** (AFFINE: W's row; CONV: the kernel of output channel co placed at the
** output pixel's receptive field), written directly instead of a product
** with a mostly-zero matrix.  Same bias and slack terms as the general step.
*/
static int back_unit(bwd *B, int i, const size_t *col, const double *val)
{
  const cb_node *n = &B->ws->net->node[i];
  size_t isz = B->ws->net->node[n->in[0]].size;
  double *Ain = acc(B, n->in[0]), gm;
  const double *v = slack_vec(B->ws, i);
  if (!Ain || !v) return CB_ENOMEM;
  gm = slack_gamma(n, n->kind == CB_AFFINE ? n->p.aff.in : 0);
  B->ws->flops += 2.0 * (double)B->q * (double)(n->kind == CB_AFFINE ? n->p.aff.in
                  : (size_t)(n->p.conv.g.cin / n->p.conv.g.groups * n->p.conv.g.kh * n->p.conv.g.kw));
  for (size_t r = 0; r < B->q; r++) {
    size_t j = col[r];
    double a = val[r], *ai = Ain + r * isz, bj;
    if (n->kind == CB_AFFINE) {
      const double *w = n->p.aff.W + j * isz;
      for (size_t k = 0; k < isz; k++) ai[k] += a * w[k];
      bj = n->p.aff.b[j];
    } else {
      const cb_conv *g = &n->p.conv.g;
      int64_t P = g->hout * g->wout, co = (int64_t)j / P, oi = ((int64_t)j % P) / g->wout, oj = (int64_t)j % g->wout;
      int64_t cpg = g->cin / g->groups, c0 = co / (g->cout / g->groups) * cpg;
      const double *w = n->p.conv.W + (size_t)(co * cpg * g->kh * g->kw);
      for (int64_t c = 0; c < cpg; c++)
        for (int64_t ki = 0; ki < g->kh; ki++) {
          int64_t ii = oi * g->sh - g->pt + ki * g->dh;
          if (ii < 0 || ii >= g->hin) continue;
          for (int64_t kj = 0; kj < g->kw; kj++) {
            int64_t jj = oj * g->sw - g->pl + kj * g->dw;
            if (jj >= 0 && jj < g->win) ai[((c0 + c) * g->hin + ii) * g->win + jj] += a * w[(c * g->kh + ki) * g->kw + kj];
          }
        }
      bj = n->p.conv.b[co];
    }
    B->bias[r] += a * bj;
    B->babs[r] += fabs(a * bj);
    B->slack[r] += gm * fabs(a) * v[j];
  }
  return CB_OK;
}

/* SCALE: A_in += A .* a; bias += A b. */
static int back_scale(bwd *B, int i, const double *A)
{
  const cb_node *n = &B->ws->net->node[i];
  const double *z = B->ws->zmax[n->in[0]];
  double *Ain = acc(B, n->in[0]), *v = cb_alloc(n->size * sizeof *v);
  if (!Ain || !v) { cb_free(v); return CB_ENOMEM; }
  for (size_t r = 0; r < B->q; r++)
    for (size_t e = 0; e < n->size; e++) Ain[r * n->size + e] += A[r * n->size + e] * n->p.scale.a[e];
  for (size_t e = 0; e < n->size; e++) v[e] = fabs(n->p.scale.a[e]) * z[e] + fabs(n->p.scale.b[e]);
  add_terms(B, A, n->size, v, 2 * (round_gamma(3) + n->rel_err), n->p.scale.b);
  cb_free(v);
  return CB_OK;
}

/* max(a, 0) without a branch: gcc compiles `a > 0 ? a : 0` to a jump, which
   mispredicts on rows of mixed signs (the relaxed steps ran at ~18 cycles per
   entry); a mask gives the same value (+0.0 for a <= 0 or NaN). */
static inline double pos_part(double a)
{
  uint64_t b, m = -(uint64_t)(a > 0);
  memcpy(&b, &a, sizeof b);
  b &= m;
  memcpy(&a, &b, sizeof a);
  return a;
}

/*
** One row through a relaxed node, upper side, with the line each entry's sign
** picks: y_e += a_e (a_e > 0 ? uw_e : lw_e); returns the bias term
** sum_e a_e (a_e > 0 ? ub_e : lb_e) and *sl = sum_e |a_e| v_e.  Two entries
** per vector and two vectors per step (four partial sums: any order of a sum
** is within the same gamma bound); positive part and |a| by bit masks, the
** same values as pos_part and fabs.
*/
static double relaxed_row(const double *restrict a, double *restrict y, size_t n, const double *restrict uw,
                          const double *restrict lw, const double *restrict ub, const double *restrict lb,
                          const double *restrict v, double *sl)
{
  const v2d zero = {0, 0};
  v2d t0 = zero, t1 = zero, s0 = zero, s1 = zero;
  double t = 0, s = 0;
  size_t e = 0;
  for (; e + 4 <= n; e += 4) {
    v2d a0 = load2(a + e), a1 = load2(a + e + 2);
    v2d p0 = (v2d)((v2i)a0 & (a0 > zero)), p1 = (v2d)((v2i)a1 & (a1 > zero));
    v2d n0 = a0 - p0, n1 = a1 - p1;
    v2d y0 = load2(y + e) + (p0 * load2(uw + e) + n0 * load2(lw + e));
    v2d y1 = load2(y + e + 2) + (p1 * load2(uw + e + 2) + n1 * load2(lw + e + 2));
    memcpy(y + e, &y0, sizeof y0);
    memcpy(y + e + 2, &y1, sizeof y1);
    t0 += p0 * load2(ub + e) + n0 * load2(lb + e);
    t1 += p1 * load2(ub + e + 2) + n1 * load2(lb + e + 2);
    s0 += abs2(a0) * load2(v + e);
    s1 += abs2(a1) * load2(v + e + 2);
  }
  for (; e < n; e++) {
    double ae = a[e], pos = pos_part(ae), neg = ae - pos;
    y[e] += pos * uw[e] + neg * lw[e];
    t += pos * ub[e] + neg * lb[e];
    s += fabs(ae) * v[e];
  }
  *sl = ((s0[0] + s1[0]) + (s0[1] + s1[1])) + s;
  return ((t0[0] + t1[0]) + (t0[1] + t1[1])) + t;
}

/* relaxed_row with a row's own lines (alpha-CROWN): the slack term is
   sum_e pos_e (|uw_e| z_e + |ub_e|) - neg_e (|lw_e| z_e + |lb_e|). */
static double relaxed_row_lines(const double *restrict a, double *restrict y, size_t n, const double *restrict uw,
                                const double *restrict lw, const double *restrict ub, const double *restrict lb,
                                const double *restrict z, double *sl)
{
  const v2d zero = {0, 0};
  v2d t0 = zero, t1 = zero, s0 = zero, s1 = zero;
  double t = 0, s = 0;
  size_t e = 0;
  for (; e + 4 <= n; e += 4) {
    v2d a0 = load2(a + e), a1 = load2(a + e + 2);
    v2d p0 = (v2d)((v2i)a0 & (a0 > zero)), p1 = (v2d)((v2i)a1 & (a1 > zero));
    v2d n0 = a0 - p0, n1 = a1 - p1;
    v2d u0 = load2(uw + e), u1 = load2(uw + e + 2), l0 = load2(lw + e), l1 = load2(lw + e + 2);
    v2d bu0 = load2(ub + e), bu1 = load2(ub + e + 2), bl0 = load2(lb + e), bl1 = load2(lb + e + 2);
    v2d z0 = load2(z + e), z1 = load2(z + e + 2);
    v2d y0 = load2(y + e) + (p0 * u0 + n0 * l0), y1 = load2(y + e + 2) + (p1 * u1 + n1 * l1);
    memcpy(y + e, &y0, sizeof y0);
    memcpy(y + e + 2, &y1, sizeof y1);
    t0 += p0 * bu0 + n0 * bl0;
    t1 += p1 * bu1 + n1 * bl1;
    s0 += p0 * (abs2(u0) * z0 + abs2(bu0)) - n0 * (abs2(l0) * z0 + abs2(bl0));
    s1 += p1 * (abs2(u1) * z1 + abs2(bu1)) - n1 * (abs2(l1) * z1 + abs2(bl1));
  }
  if (e + 2 <= n) {   /* the patched pass calls this on window runs of 2-5 entries */
    v2d a0 = load2(a + e), p0 = (v2d)((v2i)a0 & (a0 > zero)), n0 = a0 - p0;
    v2d u0 = load2(uw + e), l0 = load2(lw + e), bu0 = load2(ub + e), bl0 = load2(lb + e), z0 = load2(z + e);
    v2d y0 = load2(y + e) + (p0 * u0 + n0 * l0);
    memcpy(y + e, &y0, sizeof y0);
    t0 += p0 * bu0 + n0 * bl0;
    s0 += p0 * (abs2(u0) * z0 + abs2(bu0)) - n0 * (abs2(l0) * z0 + abs2(bl0));
    e += 2;
  }
  for (; e < n; e++) {
    double ae = a[e], pos = pos_part(ae), neg = ae - pos;
    y[e] += pos * uw[e] + neg * lw[e];
    t += pos * ub[e] + neg * lb[e];
    s += pos * (fabs(uw[e]) * z[e] + fabs(ub[e])) - neg * (fabs(lw[e]) * z[e] + fabs(lb[e]));
  }
  *sl = ((s0[0] + s1[0]) + (s0[1] + s1[1])) + s;
  return ((t0[0] + t1[0]) + (t0[1] + t1[1])) + t;
}

/* Relaxed node with one pair of lines per row (alpha-CROWN's optimised lines). */
static int back_relaxed_rows(bwd *B, int i, const double *A)
{
  const cb_node *n = &B->ws->net->node[i];
  const crown_lines *L = &B->lines[i];
  const double *z = B->ws->zmax[n->in[0]];
  double *Ain = acc(B, n->in[0]), g = 2 * round_gamma(n->size + 3);
  if (!Ain) return CB_ENOMEM;
  for (size_t r = 0; r < B->q; r++) {
    size_t o = r * n->size;
    double s, t = relaxed_row_lines(A + o, Ain + o, n->size, L->uw + o, L->lw + o, L->ub + o, L->lb + o, z, &s);
    B->bias[r] += t;
    B->babs[r] += fabs(t);
    B->slack[r] += g * s;
  }
  return CB_OK;
}

/* Relaxed elementwise node: upper side of A y with the stored lines. */
static int back_relaxed(bwd *B, int i, const double *A)
{
  cb_ws *ws = B->ws;
  if (B->lines && B->lines[i].lw) return back_relaxed_rows(B, i, A);
  const cb_node *n = &ws->net->node[i];
  const double *lw = ws->rl_w[i], *lb = ws->rl_b[i], *uw = ws->ru_w[i], *ub = ws->ru_b[i], *z = ws->zmax[n->in[0]];
  double *Ain = acc(B, n->in[0]), *v = cb_alloc(n->size * sizeof *v);
  if (!Ain || !v) { cb_free(v); return CB_ENOMEM; }
  for (size_t e = 0; e < n->size; e++) v[e] = fmax(fabs(uw[e]), fabs(lw[e])) * z[e] + fmax(fabs(ub[e]), fabs(lb[e]));
  for (size_t r = 0; r < B->q; r++) {   /* the slack term of add_terms fused in */
    double sl, t = relaxed_row(A + r * n->size, Ain + r * n->size, n->size, uw, lw, ub, lb, v, &sl);
    B->bias[r] += t;
    B->babs[r] += fabs(t);
    B->slack[r] += 2 * round_gamma(n->size + 3) * sl;
  }
  cb_free(v);
  return CB_OK;
}

/*
** MaxPool, per output window J with input boxes [l_j, u_j]:
**   if some j* has l_j* >= u_j for all j != j*:  y = x_j*  (exact);
**   else  upper: y <= max_j u_j (constant);  lower: y >= x_jl, jl = argmax_j l_j.
** Sound: y is the max of the window, so y >= every x_j and y <= max u_j.
** Source: Singh et al. 2019 (DeepPoly) Sec. 4.
*/
static int back_maxpool(bwd *B, int i, const double *A)
{
  const cb_node *n = &B->ws->net->node[i];
  const cb_conv *g = &n->p.pool.g;
  const double *l = B->ws->lo[n->in[0]], *u = B->ws->hi[n->in[0]];
  size_t isz = B->ws->net->node[n->in[0]].size, *idx = cb_alloc((size_t)(g->kh * g->kw) * sizeof *idx), o = 0;
  double *Ain = acc(B, n->in[0]);
  if (!Ain || !idx) { cb_free(idx); return CB_ENOMEM; }
  for (int64_t c = 0; c < g->cin; c++)
    for (int64_t oi = 0; oi < g->hout; oi++)
      for (int64_t oj = 0; oj < g->wout; oj++, o++) {
        int m = pool_window(g, c, oi, oj, idx), jl = 0, exact = 1;
        double umax = u[idx[0]];
        for (int k = 1; k < m; k++) { if (l[idx[k]] > l[idx[jl]]) jl = k; umax = fmax(umax, u[idx[k]]); }
        for (int k = 0; k < m; k++) if (k != jl && u[idx[k]] > l[idx[jl]]) exact = 0;
        for (size_t r = 0; r < B->q; r++) {
          double a = A[r * n->size + o];
          if (a < 0 || exact) Ain[r * isz + idx[jl]] += a;
          else { B->bias[r] += a * umax; B->babs[r] += fabs(a * umax); }
          B->slack[r] += 4 * ROUND_U * fabs(a) * fmax(umax, B->ws->zmax[n->in[0]][idx[jl]]);
        }
      }
  cb_free(idx);
  return CB_OK;
}

/* Index maps (ADD, CONCAT, RESHAPE, TRANSPOSE): A flows back through the map. */
static int back_index(bwd *B, int i, const double *A)
{
  const cb_node *n = &B->ws->net->node[i];
  for (int k = 0; k < n->n_in; k++) {
    double *Ain = acc(B, n->in[k]);
    if (!Ain) return CB_ENOMEM;
    bwd_index(B->ws->net, i, k, B->q, A, Ain);
  }
  return CB_OK;
}

/* Gradual underflow: a product below 2^-1022 has an absolute error up to
   2^-1075 that no gamma term covers.  A step through node i makes each entry
   of A_in (and of the bias) from at most size_i products, so the row's value
   A_in . z_in moves by at most size_i 2^-1075 (sum |z_in| + 1); doubled. */
static void underflow_slack(bwd *B, int i)
{
  const cb_net *net = B->ws->net;
  const cb_node *n = &net->node[i];
  double z = 1, g;
  if (n->kind == CB_RESHAPE || n->kind == CB_TRANSPOSE || n->kind == CB_CONCAT || n->kind == CB_ADD) return;
  for (int k = 0; k < n->n_in; k++)
    for (size_t e = 0; e < net->node[n->in[k]].size; e++) z += B->ws->zmax[n->in[k]][e];
  g = (double)(n->size + 1) * DBL_TRUE_MIN * z;
  for (size_t r = 0; r < B->q; r++) B->slack[r] += g;
}

static int back_node(bwd *B, int i, const double *A)
{
  switch (B->ws->net->node[i].kind) {
  case CB_AFFINE: return back_affine(B, i, A);
  case CB_CONV: return back_conv(B, i, A);
  case CB_SCALE: return back_scale(B, i, A);
  case CB_ACT: return back_relaxed(B, i, A);
  case CB_MAXPOOL: return back_maxpool(B, i, A);
  case CB_ADD: case CB_CONCAT: case CB_RESHAPE: case CB_TRANSPOSE: return back_index(B, i, A);
  case CB_INPUT: case CB_KIND_COUNT: break;
  }
  return CB_EINTERNAL;
}

/* Concretises the rows accumulated at node `stop` (the input set, or that node's box). */
static void concretise(bwd *B, int stop, double *out)
{
  cb_ws *ws = B->ws;
  cb_set box = {CB_NORM_BOX, 0, ws->net->node[stop].size, NULL, ws->lo[stop], ws->hi[stop]};
  const cb_set *s = stop == 0 ? &ws->set : &box;
  if (B->merged[stop]) add_terms(B, B->A[stop], s->n, ws->zmax[stop], 2 * ROUND_U, NULL);
  set_support(s, B->A[stop], B->q, B->bias, out);
  for (size_t r = 0; r < B->q; r++)
    out[r] = round_up(out[r] + 2 * (B->slack[r] + round_gamma((size_t)ws->net->n + 2) * B->babs[r]));
}

/* Are the rows of A0 each one nonzero a e_j at an AFFINE/CONV node?  Then
   col[r] = j, val[r] = a (allocated; the caller frees).  -1 on OOM. */
static int unit_rows(const cb_net *net, int start, const double *A0, size_t q, size_t **col, double **val)
{
  size_t sz = net->node[start].size;
  cb_kind k = net->node[start].kind;
  if (k != CB_AFFINE && k != CB_CONV) return 0;
  if (!(*col = cb_alloc((q + 1) * sizeof **col)) || !(*val = cb_alloc((q + 1) * sizeof **val))) return -1;
  for (size_t r = 0; r < q; r++) {   /* first nonzero, then an OR of the rest's bits but the sign (-0.0 is 0) */
    const double *a = A0 + r * sz;
    size_t e = 0;
    uint64_t rest = 0;
    while (e < sz && a[e] == 0) e++;
    if (e == sz) return 0;
    (*col)[r] = e;
    (*val)[r] = a[e];
    for (size_t j = e + 1; j < sz; j++) { uint64_t b; memcpy(&b, a + j, sizeof b); rest |= b << 1; }
    if (rest) return 0;
  }
  return 1;
}

/* Doubles a pass of q rows from `start` needs in its pool. */
size_t crown_pool_size(const cb_net *net, int start, size_t q)
{
  size_t t = 0;
  for (int i = 0; i <= start; i++) t += net->node[i].size;
  return t * q;
}

/* The workspace's scratch pool, grown to n doubles (kept for the next pass:
   no page faults from fresh allocations on every pass); NULL on OOM. */
static double *scratch(cb_ws *ws, size_t n)
{
  if (n == 0) n = 1;
  if (ws->scratch_n < n) {
    cb_free(ws->scratch);
    ws->scratch_n = 0;
    if (!(ws->scratch = cb_alloc(n * sizeof(double)))) return NULL;
    ws->scratch_n = n;
  }
  return ws->scratch;
}

static int is_relaxed(cb_kind k) { return cb_kind_info[k].relaxed; }

/*
** Receptive-field ("patches") pass.  CROWN's intermediate bounds of a CONV
** node start from unit rows +-e_j, j = (co, oi, oj).  Back through a chain of
** CONV, SCALE and relaxed elementwise nodes down to the input, such a row is
** zero outside the receptive field of pixel (oi, oj): at each tensor a
** window (all channels) x [h0, h1) x [w0, w1), grown by each CONV by its
** kernel and stride and clipped at the borders.  The rows of one output pixel
** share their windows, so they go as one group of small dense matrices
** [rows x C (h1 - h0) (w1 - w0)] through the same steps as the dense pass
** (back_unit, back_relaxed, back_scale, back_conv as a transposed conv of
** the window, underflow_slack), with the same bias, slack and underflow terms
** (factors from the whole node, as there), and are concretised by
** set_support_win on the input window (set.c).  The dense pass's
** entries outside the windows are exact zeros, so both passes compute the
** same sums up to the order of their nonzero terms: equal up to rounding,
** and each sum has no more nonzero terms than the dense pass's, so the
** same gamma bounds cover it (tests/test_patches.c compares the two).
** Source: the "patches" mode of auto_LiRPA (Xu et al. 2020, "Automatic
** Perturbation Analysis for Scalable Certified Robustness and Beyond").
** Used for unit rows at a CONV whose chain down to the input has only those
** kinds (one input each) and whose windows average less than half the
** tensors; anything else (AFFINE, ADD, CONCAT, MAXPOOL, ...) takes the dense
** pass.  alpha-CROWN's passes work too: per-row lines are gathered on the
** window (back_relaxed_rows' terms), and the matrices it keeps for its
** gradient are scattered into dense ones in its pool.
** Sizes: digits_cnn's second conv, 512 rows in 16 groups of 32; windows of
** 8 x 3 x 3 at the first ReLU and 1 x 5 x 5 at the input (dense: 512, 64).
*/
#define PATCH_MAX 32   /* longest chain handled */

typedef struct pwin { int64_t h0, h1, w0, w1; } pwin;   /* [h0, h1) x [w0, w1); empty: all 0 */

/* Chain from a CONV down to the input: node[t] reads node[t + 1] (node[n - 1]
   reads node 0); c, h, w[t]: the shape of node[t]'s input. */
typedef struct pchain { int n, node[PATCH_MAX]; int64_t c[PATCH_MAX], h[PATCH_MAX], w[PATCH_MAX]; } pchain;

/* One group's per-row terms (rows of one output pixel) and gather space;
   rows[] are the group's row numbers in the pass (for per-row lines). */
typedef struct pgrp { cb_ws *ws; size_t nr; double *bias, *slack, *babs, *gat; const size_t *rows; const crown_lines *lines; } pgrp;

/* What crown_pass_ex may ask of a pass besides the bound: per-row lines per
   node (alpha-CROWN; NULL: the workspace's), and keep[i] = node i's matrix,
   dense, in pool (crown_pool_size), for alpha-CROWN's gradient. */
typedef struct pextra { const crown_lines *lines; double **keep; double *pool; const double *A0; } pextra;

static size_t win_size(int64_t c, pwin w) { return (size_t)(c * (w.h1 - w.h0) * (w.w1 - w.w0)); }

/* Window of a CONV's input that its output window o reads, clipped to the tensor. */
static pwin win_in(const cb_conv *g, pwin o)
{
  pwin r = {0, 0, 0, 0};
  if (o.h1 <= o.h0 || o.w1 <= o.w0) return r;
  r.h0 = o.h0 * g->sh - g->pt; r.h1 = (o.h1 - 1) * g->sh - g->pt + (g->kh - 1) * g->dh + 1;
  r.w0 = o.w0 * g->sw - g->pl; r.w1 = (o.w1 - 1) * g->sw - g->pl + (g->kw - 1) * g->dw + 1;
  if (r.h0 < 0) r.h0 = 0;
  if (r.w0 < 0) r.w0 = 0;
  if (r.h1 > g->hin) r.h1 = g->hin;
  if (r.w1 > g->win) r.w1 = g->win;
  if (r.h1 <= r.h0 || r.w1 <= r.w0) r.h0 = r.h1 = r.w0 = r.w1 = 0;
  return r;
}

/* W[t]: the window at chain node t's input for output pixel p of the start. */
static void chain_windows(const cb_net *net, const pchain *ch, size_t p, pwin *W)
{
  const cb_conv *g = &net->node[ch->node[0]].p.conv.g;
  int64_t oi = (int64_t)p / g->wout, oj = (int64_t)p % g->wout;
  pwin o = {oi, oi + 1, oj, oj + 1};
  for (int t = 0; t < ch->n; t++) {
    const cb_node *n = &net->node[ch->node[t]];
    if (n->kind == CB_CONV) o = win_in(&n->p.conv.g, o);
    W[t] = o;
  }
}

/* Does the receptive-field pass apply to unit rows at node k?  Fills ch. */
static int patch_chain(const cb_net *net, int k, pchain *ch)
{
  const cb_conv *g0 = &net->node[k].p.conv.g;
  size_t win = 0, full = 0;
  pwin W[PATCH_MAX];
  ch->n = 0;
  if (net->node[k].kind != CB_CONV) return 0;
  for (int i = k; i > 0; i = net->node[i].in[0]) {
    const cb_node *n = &net->node[i];
    int t = ch->n;
    if (t == PATCH_MAX || n->n_in != 1) return 0;
    if (n->kind == CB_CONV) {
      const cb_conv *g = &n->p.conv.g;
      if (t > 0 && (g->cout != ch->c[t - 1] || g->hout != ch->h[t - 1] || g->wout != ch->w[t - 1])) return 0;
      ch->c[t] = g->cin; ch->h[t] = g->hin; ch->w[t] = g->win;
    } else if (is_relaxed(n->kind) || n->kind == CB_SCALE) {
      ch->c[t] = ch->c[t - 1]; ch->h[t] = ch->h[t - 1]; ch->w[t] = ch->w[t - 1];
    } else return 0;
    if (net->node[n->in[0]].size != (size_t)(ch->c[t] * ch->h[t] * ch->w[t]) ||
        (n->kind != CB_CONV && n->size != net->node[n->in[0]].size)) return 0;
    ch->node[ch->n++] = i;
  }
  for (size_t p = 0; p < (size_t)(g0->hout * g0->wout); p++) {   /* worth it: windows well inside */
    chain_windows(net, ch, p, W);
    for (int t = 0; t < ch->n; t++) { win += win_size(ch->c[t], W[t]); full += (size_t)(ch->c[t] * ch->h[t] * ch->w[t]); }
  }
  return 2 * win < full;
}

/* dst = the window w of tensor src (shape c x h x wd); returns its size. */
static size_t win_gather(const double *restrict src, int64_t c, int64_t h, int64_t wd, pwin w, double *restrict dst)
{
  size_t m = 0;
  for (int64_t ci = 0; ci < c; ci++)
    for (int64_t y = w.h0; y < w.h1; y++) {
      const double *r = src + (ci * h + y) * wd;
      for (int64_t x = w.w0; x < w.w1; x++) dst[m++] = r[x];   /* short runs: no memcpy call */
    }
  return m;
}

/* dst (tensor c x h x wd) at window w = src (the rest of dst untouched). */
static void win_scatter(const double *restrict src, int64_t c, int64_t h, int64_t wd, pwin w, double *restrict dst)
{
  size_t m = 0;
  for (int64_t ci = 0; ci < c; ci++)
    for (int64_t y = w.h0; y < w.h1; y++) {
      double *r = dst + (ci * h + y) * wd;
      for (int64_t x = w.w0; x < w.w1; x++) r[x] = src[m++];
    }
}

/* First step (back_unit on the window wi of the start CONV's input): row rr
   of Ain = val times output channel co's kernel at pixel (oi, oj). */
static int patch_unit(pgrp *G, int i, const size_t *col, const double *val, const size_t *rows, pwin wi, double *Ain)
{
  const cb_node *n = &G->ws->net->node[i];
  const cb_conv *g = &n->p.conv.g;
  const double *v = slack_vec(G->ws, i);
  int64_t P = g->hout * g->wout, cpg = g->cin / g->groups, opg = g->cout / g->groups;
  int64_t hh = wi.h1 - wi.h0, ww = wi.w1 - wi.w0;
  size_t mi = win_size(g->cin, wi);
  double gm = slack_gamma(n, 0);
  if (!v) return CB_ENOMEM;
  memset(Ain, 0, G->nr * mi * sizeof *Ain);
  for (size_t rr = 0; rr < G->nr; rr++) {
    size_t j = col[rows[rr]];
    double a = val[rows[rr]], *ai = Ain + rr * mi, bj;
    int64_t co = (int64_t)j / P, oi = ((int64_t)j % P) / g->wout, oj = (int64_t)j % g->wout, c0 = co / opg * cpg;
    const double *w = n->p.conv.W + (size_t)(co * cpg * g->kh * g->kw);
    for (int64_t c = 0; c < cpg; c++)
      for (int64_t ki = 0; ki < g->kh; ki++) {
        int64_t ii = oi * g->sh - g->pt + ki * g->dh;
        if (ii < 0 || ii >= g->hin) continue;
        for (int64_t kj = 0; kj < g->kw; kj++) {
          int64_t jj = oj * g->sw - g->pl + kj * g->dw;
          if (jj >= 0 && jj < g->win) ai[((c0 + c) * hh + ii - wi.h0) * ww + jj - wi.w0] += a * w[(c * g->kh + ki) * g->kw + kj];
        }
      }
    bj = n->p.conv.b[co];
    G->bias[rr] += a * bj;
    G->babs[rr] += fabs(a * bj);
    G->slack[rr] += gm * fabs(a) * v[j];
  }
  G->ws->flops += 2.0 * (double)G->nr * (double)(cpg * g->kh * g->kw);
  return CB_OK;
}

/* back_relaxed (back_relaxed_rows when the pass has per-row lines at node i)
   on window w of node i (shape c x h x wd): Ain = A through the lines. */
static void patch_relaxed(pgrp *G, int i, int64_t c, int64_t h, int64_t wd, pwin w, const double *A, double *Ain)
{
  cb_ws *ws = G->ws;
  const cb_node *n = &ws->net->node[i];
  const crown_lines *L = G->lines && G->lines[i].lw ? &G->lines[i] : NULL;
  size_t m = win_size(c, w);
  double *uw = G->gat, *lw = uw + m, *ub = lw + m, *lb = ub + m, *z = lb + m, *v = z + m, g = 2 * round_gamma(n->size + 3);
  win_gather(ws->zmax[n->in[0]], c, h, wd, w, z);
  memset(Ain, 0, G->nr * m * sizeof *Ain);
  if (L) {   /* the row's lines in place: one window row (a contiguous run) at a time */
    size_t len = (size_t)(w.w1 - w.w0);
    for (size_t r = 0; r < G->nr; r++) {
      size_t o = G->rows[r] * n->size, k = 0;
      double sl = 0, t = 0, sk;
      for (int64_t ci = 0; ci < c; ci++)
        for (int64_t y = w.h0; y < w.h1; y++, k += len) {
          size_t go = o + (size_t)((ci * h + y) * wd + w.w0);
          t += relaxed_row_lines(A + r * m + k, Ain + r * m + k, len, L->uw + go, L->lw + go, L->ub + go, L->lb + go, z + k, &sk);
          sl += sk;
        }
      G->bias[r] += t;
      G->babs[r] += fabs(t);
      G->slack[r] += g * sl;
    }
    return;
  }
  win_gather(ws->ru_w[i], c, h, wd, w, uw); win_gather(ws->rl_w[i], c, h, wd, w, lw);
  win_gather(ws->ru_b[i], c, h, wd, w, ub); win_gather(ws->rl_b[i], c, h, wd, w, lb);
  for (size_t e = 0; e < m; e++) v[e] = fmax(fabs(uw[e]), fabs(lw[e])) * z[e] + fmax(fabs(ub[e]), fabs(lb[e]));
  for (size_t r = 0; r < G->nr; r++) {
    double sl, t = relaxed_row(A + r * m, Ain + r * m, m, uw, lw, ub, lb, v, &sl);
    G->bias[r] += t;
    G->babs[r] += fabs(t);
    G->slack[r] += g * sl;
  }
}

/* back_scale on window w of node i (shape c x h x wd), in place. */
static void patch_scale(pgrp *G, int i, int64_t c, int64_t h, int64_t wd, pwin w, double *A)
{
  cb_ws *ws = G->ws;
  const cb_node *n = &ws->net->node[i];
  size_t m = win_size(c, w);
  double *sa = G->gat, *sb = sa + m, *z = sb + m, *v = z + m, g = 2 * (round_gamma(3) + n->rel_err);
  win_gather(n->p.scale.a, c, h, wd, w, sa); win_gather(n->p.scale.b, c, h, wd, w, sb);
  win_gather(ws->zmax[n->in[0]], c, h, wd, w, z);
  for (size_t e = 0; e < m; e++) v[e] = fabs(sa[e]) * z[e] + fabs(sb[e]);
  for (size_t r = 0; r < G->nr; r++) {
    double *a = A + r * m, t = 0, sl = 0;
    for (size_t e = 0; e < m; e++) { t += a[e] * sb[e]; sl += fabs(a[e]) * v[e]; a[e] *= sa[e]; }
    G->bias[r] += t;
    G->babs[r] += fabs(t);
    G->slack[r] += g * sl;
  }
}

/* Cap (doubles) of a CONV's window operator M (patch_conv); larger windows
   use la_conv_backward on the window. */
#define PATCH_OPMAX ((size_t)1 << 15)

/* M [mo x mi]: the CONV restricted to output window wo and input window wi
   (row (co, oi, oj) holds co's kernel at the pixel's receptive field). */
static void window_operator(const cb_node *n, pwin wo, pwin wi, double *M)
{
  const cb_conv *g = &n->p.conv.g;
  int64_t cpg = g->cin / g->groups, opg = g->cout / g->groups, hh = wi.h1 - wi.h0, ww = wi.w1 - wi.w0;
  size_t mi = win_size(g->cin, wi), row = 0;
  memset(M, 0, win_size(g->cout, wo) * mi * sizeof *M);
  for (int64_t co = 0; co < g->cout; co++)
    for (int64_t oi = wo.h0; oi < wo.h1; oi++)
      for (int64_t oj = wo.w0; oj < wo.w1; oj++, row++) {
        const double *w = n->p.conv.W + (size_t)(co * cpg * g->kh * g->kw);
        double *m = M + row * mi;
        for (int64_t c = 0; c < cpg; c++)
          for (int64_t ki = 0; ki < g->kh; ki++) {
            int64_t ii = oi * g->sh - g->pt + ki * g->dh;
            if (ii < 0 || ii >= g->hin) continue;
            for (int64_t kj = 0; kj < g->kw; kj++) {
              int64_t jj = oj * g->sw - g->pl + kj * g->dw;
              if (jj >= 0 && jj < g->win) m[((co / opg * cpg + c) * hh + ii - wi.h0) * ww + jj - wi.w0] += w[(c * g->kh + ki) * g->kw + kj];
            }
          }
      }
}

/* back_conv from output window wo to input window wi: A_in = A M with the
   window operator (one dgemm for the group; each entry sums the same nonzero
   products as the dense transposed conv), or for a large window the
   transposed conv of the window (a conv whose input is wi, pads shifted). */
static int patch_conv(pgrp *G, int i, pwin wo, pwin wi, const double *A, double *Ain, double *M)
{
  cb_ws *ws = G->ws;
  const cb_node *n = &ws->net->node[i];
  const cb_conv *g = &n->p.conv.g;
  size_t mo = win_size(g->cout, wo), mi = win_size(g->cin, wi), P = (size_t)((wo.h1 - wo.h0) * (wo.w1 - wo.w0));
  const double *sv = slack_vec(ws, i);
  double *v = G->gat, *cb = v + mo, gm = slack_gamma(n, 0);
  cb_conv l = *g;
  if (!sv) return CB_ENOMEM;
  if (mo == 0 || mi == 0) memset(Ain, 0, G->nr * mi * sizeof *Ain);
  if (mo == 0) return CB_OK;
  win_gather(sv, g->cout, g->hout, g->wout, wo, v);
  for (size_t co = 0, e = 0; co < (size_t)g->cout; co++)
    for (size_t k = 0; k < P; k++, e++) cb[e] = n->p.conv.b[co];
  for (size_t r = 0; r < G->nr; r++) {
    double t = 0, s = terms_row(A + r * mo, mo, v, cb, &t);
    G->bias[r] += t;
    G->babs[r] += fabs(t);
    G->slack[r] += gm * s;
  }
  if (mi == 0) return CB_OK;
  if (mo * mi <= PATCH_OPMAX) {
    window_operator(n, wo, wi, M);
    la_gemm(0, 0, G->nr, mi, mo, 1.0, A, mo, M, mi, 0.0, Ain, mi);
    ws->flops += 2.0 * (double)G->nr * (double)mo * (double)mi;
    return CB_OK;
  }
  memset(Ain, 0, G->nr * mi * sizeof *Ain);
  l.hin = wi.h1 - wi.h0; l.win = wi.w1 - wi.w0; l.hout = wo.h1 - wo.h0; l.wout = wo.w1 - wo.w0;
  l.pt = g->pt + wi.h0 - wo.h0 * g->sh; l.pl = g->pl + wi.w0 - wo.w0 * g->sw;
  ws->flops += 2.0 * (double)G->nr * (double)mo * (double)(g->cin / g->groups * g->kh * g->kw);
  return la_conv_backward(&l, n->p.conv.W, A, G->nr, Ain);
}

/* Underflow term of a step through node i (underflow_slack's, per row). */
static double underflow_term(const cb_ws *ws, int i)
{
  const cb_node *n = &ws->net->node[i];
  double z = 1;
  for (size_t e = 0; e < ws->net->node[n->in[0]].size; e++) z += ws->zmax[n->in[0]][e];
  return (double)(n->size + 1) * DBL_TRUE_MIN * z;
}

/* The group's rows at node[t]'s input (window w) into that node's dense matrix Kt. */
static void keep_rows(const pgrp *G, const pchain *ch, int t, pwin w, const double *A, double *Kt, const cb_net *net)
{
  size_t m = win_size(ch->c[t], w), sz = net->node[t < ch->n - 1 ? ch->node[t + 1] : 0].size;
  for (size_t r = 0; r < G->nr; r++) win_scatter(A + r * m, ch->c[t], ch->h[t], ch->w[t], w, Kt + G->rows[r] * sz);
}

/* Where node d's matrix of a q-row pass lives in its pool (as crown_pass's off[d]). */
static size_t pool_offset(const cb_net *net, int d, size_t q)
{
  size_t off = 0;
  for (int j = 0; j < d; j++) off += q * net->node[j].size;
  return off;
}

/* The receptive-field pass for unit rows val[r] e_{col[r]} at chain start
   ch->node[0] down to the input: out_r as crown_pass computes it. */
static int patch_pass(cb_ws *ws, const pchain *ch, const size_t *col, const double *val, size_t q, const pextra *x,
                      double *out)
{
  const cb_net *net = ws->net;
  const cb_conv *g0 = &net->node[ch->node[0]].p.conv.g;
  size_t P = (size_t)(g0->hout * g0->wout), maxr = 0, maxw = 1, maxm = 1;
  size_t *st = cb_calloc(2 * P + 1, sizeof *st), *rows = cb_alloc((q + 1) * sizeof *rows), *fill, *idx = NULL;
  double ug[PATCH_MAX], *X0, *X1, *M, *o, *K[PATCH_MAX];
  pwin W[PATCH_MAX];
  pgrp G = {ws, 0, NULL, NULL, NULL, NULL, NULL, x ? x->lines : NULL};
  int rc = CB_ENOMEM, last = ch->n - 1;
  if (!st || !rows) goto out;
  fill = st + P + 1;
  for (size_t r = 0; r < q; r++) st[col[r] % P + 1]++;   /* rows grouped by output pixel */
  for (size_t p = 0; p < P; p++) { if (st[p + 1] > maxr) maxr = st[p + 1]; st[p + 1] += st[p]; fill[p] = st[p]; }
  for (size_t r = 0; r < q; r++) rows[fill[col[r] % P]++] = r;
  for (size_t p = 0; p < P; p++) {   /* buffer sizes: largest window, largest window operator */
    chain_windows(net, ch, p, W);
    for (int t = 0; t < ch->n; t++) {
      size_t m = win_size(ch->c[t], W[t]), mo = t ? win_size(ch->c[t - 1], W[t - 1]) : 0;
      if (m > maxw) maxw = m;
      if (t && net->node[ch->node[t]].kind == CB_CONV && mo * m <= PATCH_OPMAX && mo * m > maxm) maxm = mo * m;
    }
  }
  if (!(idx = cb_alloc(maxw * sizeof *idx)) || !(X0 = scratch(ws, 2 * maxr * maxw + maxm + 6 * maxw + 4 * maxr))) goto out;
  X1 = X0 + maxr * maxw; M = X1 + maxr * maxw; G.gat = M + maxm;
  G.bias = G.gat + 6 * maxw; G.slack = G.bias + maxr; G.babs = G.slack + maxr; o = G.babs + maxr;
  for (int t = 0; t < ch->n; t++) ug[t] = underflow_term(ws, ch->node[t]);
  ws->patch_rows += q;
  if (x && x->keep) {   /* K[t]: the dense matrix at node[t]'s input (node[t + 1] or the input), zeroed */
    for (int t = 0; t < ch->n; t++) {
      int d = t < last ? ch->node[t + 1] : 0;
      K[t] = x->keep[d] = x->pool + pool_offset(net, d, q);
      memset(K[t], 0, q * net->node[d].size * sizeof(double));
    }
    x->keep[ch->node[0]] = x->pool + pool_offset(net, ch->node[0], q);   /* the start rows, as the dense pass */
    memcpy(x->keep[ch->node[0]], x->A0, q * net->node[ch->node[0]].size * sizeof(double));
  }
  for (size_t p = 0; p < P; p++) {
    double *cur = X0, *nxt = X1, *sw;
    size_t m = 0;
    if (!(G.nr = st[p + 1] - st[p])) continue;
    chain_windows(net, ch, p, W);
    G.rows = rows + st[p];
    memset(G.bias, 0, 3 * maxr * sizeof(double));
    for (size_t r = 0; r < G.nr; r++) G.slack[r] += ug[0];
    if ((rc = patch_unit(&G, ch->node[0], col, val, rows + st[p], W[0], cur)) != CB_OK) goto out;
    if (x && x->keep) keep_rows(&G, ch, 0, W[0], cur, K[0], net);
    for (int t = 1; t < ch->n; t++) {
      int i = ch->node[t];
      for (size_t r = 0; r < G.nr; r++) G.slack[r] += ug[t];
      if (net->node[i].kind == CB_CONV) {   /* patch_chain admits CONV, SCALE, relaxed */
        if ((rc = patch_conv(&G, i, W[t - 1], W[t], cur, nxt, M)) != CB_OK) goto out;
        sw = cur; cur = nxt; nxt = sw;
      } else if (net->node[i].kind == CB_SCALE) patch_scale(&G, i, ch->c[t], ch->h[t], ch->w[t], W[t], cur);
      else {
        patch_relaxed(&G, i, ch->c[t], ch->h[t], ch->w[t], W[t], cur, nxt);
        sw = cur; cur = nxt; nxt = sw;
      }
      if (x && x->keep) keep_rows(&G, ch, t, W[t], cur, K[t], net);
    }
    for (int64_t c = 0; c < ch->c[last]; c++)   /* the input indices of the last window */
      for (int64_t y = W[last].h0; y < W[last].h1; y++)
        for (int64_t xx = W[last].w0; xx < W[last].w1; xx++) idx[m++] = (size_t)((c * ch->h[last] + y) * ch->w[last] + xx);
    set_support_win(&ws->set, cur, G.nr, m, idx, G.bias, o);
    for (size_t r = 0; r < G.nr; r++)
      out[rows[st[p] + r]] = round_up(o[r] + 2 * (G.slack[r] + round_gamma((size_t)net->n + 2) * G.babs[r]));
  }
  rc = CB_OK;
out:
  cb_free(st);
  cb_free(rows);
  cb_free(idx);
  return rc;
}

long crown_window(const cb_net *net, int start, size_t j, int i, size_t *idx)
{
  pchain ch;
  pwin W[PATCH_MAX];
  long m = 0;
  const cb_conv *g;
  if (start <= 0 || start >= net->n || !patch_chain(net, start, &ch)) return -1;
  g = &net->node[start].p.conv.g;
  chain_windows(net, &ch, j % (size_t)(g->hout * g->wout), W);
  for (int t = 0; t < ch.n; t++) {
    if ((t < ch.n - 1 ? ch.node[t + 1] : 0) != i) continue;
    for (int64_t c = 0; c < ch.c[t]; c++)
      for (int64_t y = W[t].h0; y < W[t].h1; y++)
        for (int64_t x = W[t].w0; x < W[t].w1; x++) idx[m++] = (size_t)((c * ch.h[t] + y) * ch.w[t] + x);
    return m;
  }
  return -1;
}

/* One backward pass from `start` (rows A0, q x size) down to `stop`; see
   crown_pass_ex.  inj (NULL, or per node NULL or q x size) adds inj[i] . value(i)
   to every row: node i's matrix starts from inj[i] (counted as merged). */
static int crown_pass_inj(cb_ws *ws, int start, int stop, const double *A0, size_t q, const crown_lines *lines,
                          const double *const *inj, double **keep, double *pool, double *out)
{
  bwd B = {ws, q, NULL, NULL, NULL, NULL, NULL, lines, pool, NULL};
  size_t *col = NULL;
  double *val = NULL;
  int rc = CB_ENOMEM, n = ws->net->n, unit = start > stop ? unit_rows(ws->net, start, A0, q, &col, &val) : 0;
  pchain pc;
  if (unit < 0) goto out;
  if (unit && !inj && stop == 0 && (!keep || pool) && !ws->dense_only && patch_chain(ws->net, start, &pc)) {
    pextra x = {lines, keep, pool, A0};
    rc = patch_pass(ws, &pc, col, val, q, &x, out);   /* before B.pool: it uses the scratch pool too */
    goto out;
  }
  if (!B.pool) B.pool = scratch(ws, crown_pool_size(ws->net, start, q));
  B.A = cb_calloc((size_t)n, sizeof *B.A);
  B.off = cb_calloc((size_t)n + 1, sizeof *B.off);
  B.merged = cb_calloc((size_t)n, 1);
  B.bias = cb_calloc(q, sizeof(double));
  B.slack = cb_calloc(q, sizeof(double));
  B.babs = cb_calloc(q, sizeof(double));
  if (!B.pool || !B.A || !B.off || !B.merged || !B.bias || !B.slack || !B.babs) goto out;
  for (int i = 0; i < start; i++) B.off[i + 1] = B.off[i] + q * ws->net->node[i].size;
  acc(&B, start);
  memcpy(B.A[start], A0, q * ws->net->node[start].size * sizeof(double));
  for (int i = stop; inj && i < start; i++) {   /* stop too: a split on a ReLU of the input */
    double *a;
    if (!inj[i]) continue;
    a = acc(&B, i);
    for (size_t e = 0; e < q * ws->net->node[i].size; e++) a[e] += inj[i][e];
    B.merged[i] = 1;
  }
  for (int i = start; i > stop; i--) {
    if (!B.A[i]) continue;
    if (B.merged[i]) add_terms(&B, B.A[i], ws->net->node[i].size, ws->zmax[i], 2 * ROUND_U, NULL);
    underflow_slack(&B, i);
    if ((rc = i == start && unit ? back_unit(&B, i, col, val) : back_node(&B, i, B.A[i])) != CB_OK) goto out;
    if (keep) keep[i] = B.A[i];
    B.A[i] = NULL;
  }
  rc = CB_OK;
  if (B.A[stop]) concretise(&B, stop, out);
  else for (size_t r = 0; r < q; r++) out[r] = round_up(B.bias[r] + 2 * (B.slack[r] + round_gamma((size_t)n + 2) * B.babs[r]));
  if (keep) keep[stop] = B.A[stop];
out:
  cb_free(B.A); cb_free(B.off); cb_free(B.merged); cb_free(B.bias); cb_free(B.slack); cb_free(B.babs);
  cb_free(col); cb_free(val);
  return rc;
}

static int crown_pass(cb_ws *ws, int start, int stop, const double *A0, size_t q, const crown_lines *lines,
                      double **keep, double *pool, double *out)
{
  return crown_pass_inj(ws, start, stop, A0, q, lines, NULL, keep, pool, out);
}

int crown_upper(cb_ws *ws, int start, const double *A, size_t q, double *out, cb_error *err)
{
  return crown_pass_ex(ws, start, A, q, NULL, NULL, NULL, out, err);
}

int crown_pass_ex(cb_ws *ws, int start, const double *A, size_t q, const crown_lines *lines, double **keep,
                  double *pool, double *out, cb_error *err)
{
  int rc = crown_pass(ws, start, 0, A, q, lines, keep, pool, out);
  if (rc == CB_ENOMEM) return cb_error_set(err, rc, "out of memory in CROWN (%zu rows)", q);
  return rc == CB_OK ? CB_OK : cb_error_set(err, rc, "internal error in CROWN");
}

/* Relaxation lines of nonlinear node i from the box of its input. */
static void relax_lines(cb_ws *ws, int i)
{
  const cb_node *n = &ws->net->node[i];
  const double *l = ws->lo[n->in[0]], *u = ws->hi[n->in[0]];
  for (size_t e = 0; e < n->size; e++)
    relax_node(n, l[e], u[e], &ws->rl_w[i][e], &ws->rl_b[i][e], &ws->ru_w[i][e], &ws->ru_b[i][e]);
}

/* Do all consumers of node k decide their relaxation only by the sign of the
   bounds (ReLU, LeakyReLU)?  Then a neuron that IBP already proves stable has
   the same exact relaxation whatever CROWN would say, and is not re-bounded. */
int crown_sign_only(const cb_net *net, int k)
{
  for (int i = k + 1; i < net->n; i++)
    for (int j = 0; j < net->node[i].n_in; j++)
      if (net->node[i].in[j] == k && !node_is_act(&net->node[i], CB_ACT_RELU) && !node_is_act(&net->node[i], CB_ACT_LEAKY_RELU)) return 0;
  return 1;
}

/* Node k's neurons sel[0..m) by one receptive-field pass: rows j (upper) and
   m + j (minus lower); patch_pass groups them by pixel itself. */
static int refine_patches(cb_ws *ws, int k, const pchain *pc, const size_t *sel, size_t m, cb_error *err)
{
  size_t *col = cb_alloc((2 * m + 1) * sizeof *col);
  double *val = cb_alloc((2 * m + 1) * sizeof *val), *out = cb_alloc((2 * m + 1) * sizeof *out);
  int rc = CB_ENOMEM;
  if (col && val && out) {
    for (size_t j = 0; j < m; j++) { col[j] = col[m + j] = sel[j]; val[j] = 1; val[m + j] = -1; }
    rc = patch_pass(ws, pc, col, val, 2 * m, NULL, out);
  }
  if (rc == CB_OK) for (size_t j = 0; j < m; j++) { ws->hi[k][sel[j]] = out[j]; ws->lo[k][sel[j]] = -out[m + j]; }
  else rc = cb_error_set(err, rc, "out of memory in CROWN (%zu rows)", 2 * m);
  cb_free(col);
  cb_free(val);
  cb_free(out);
  return rc;
}

/* CROWN bounds of node k (replacing its IBP box) for the neurons that need
   them: by one receptive-field pass where it applies, else densely in chunks
   of <= 32 neurons (2 rows each: upper and minus lower): 64 rows keep a
   pass's matrices in L2 (digits_cnn at eps 0.05 and cifar_base_kw 25% faster
   than 512 rows; mnist 256x6 within 4%). */
static int crown_refine(cb_ws *ws, int k, cb_error *err)
{
  size_t n = ws->net->node[k].size, ch = n < 32 ? n : 32, m = 0, *sel = cb_alloc(n * sizeof *sel);
  double *A = NULL, *out = NULL;
  int rc = CB_OK, sign_only = crown_sign_only(ws->net, k);
  pchain pc;
  if (!sel) { rc = cb_error_set(err, CB_ENOMEM, "out of memory in CROWN"); goto out; }
  for (size_t e = 0; e < n; e++) if (!sign_only || (ws->lo[k][e] < 0 && ws->hi[k][e] > 0)) sel[m++] = e;
  if (m && !ws->dense_only && patch_chain(ws->net, k, &pc)) {
    rc = cb_time_up() ? cb_limit_error(err, "CROWN") : refine_patches(ws, k, &pc, sel, m, err);
    goto done;
  }
  A = cb_calloc(2 * ch * n, sizeof *A);
  out = cb_alloc(2 * ch * sizeof *out);
  if (!A || !out) { rc = cb_error_set(err, CB_ENOMEM, "out of memory in CROWN"); goto out; }
  for (size_t r0 = 0; r0 < m && rc == CB_OK; r0 += ch) {
    size_t c = m - r0 < ch ? m - r0 : ch;
    if (cb_time_up()) { rc = cb_limit_error(err, "CROWN"); break; }
    memset(A, 0, 2 * c * n * sizeof *A);
    for (size_t j = 0; j < c; j++) { A[j * n + sel[r0 + j]] = 1; A[(c + j) * n + sel[r0 + j]] = -1; }
    if ((rc = crown_upper(ws, k, A, 2 * c, out, err)) != CB_OK) break;
    for (size_t j = 0; j < c; j++) { ws->hi[k][sel[r0 + j]] = out[j]; ws->lo[k][sel[r0 + j]] = -out[c + j]; }
  }
done:
  set_zmax(ws, k);
out:
  cb_free(A);
  cb_free(out);
  cb_free(sel);
  return rc;
}

/* Does node k feed a nonlinear node (so its bounds decide a relaxation)? */
static int is_preactivation(const cb_net *net, int k)
{
  for (int i = k + 1; i < net->n; i++)
    if ((is_relaxed(net->node[i].kind) || net->node[i].kind == CB_MAXPOOL) && net->node[i].in[0] == k) return 1;
  return 0;
}

/* A linear node reading the input directly: its IBP box is already its
   dual-norm bound, so CROWN is not run on it (auto_LiRPA does the same). */
static int first_linear(const cb_net *net, int k)
{
  const cb_node *n = &net->node[k];
  int in = n->n_in ? n->in[0] : -1;
  if (n->kind != CB_AFFINE && n->kind != CB_CONV && n->kind != CB_SCALE) return 0;
  while (in > 0 && net->node[in].kind == CB_RESHAPE) in = net->node[in].in[0];
  return in == 0;
}

int crown_refines(const cb_net *net, int k) { return k > 0 && is_preactivation(net, k) && !first_linear(net, k); }

/* Intersects node i's box with a prior box (valid on a superset of the set). */
static void clamp_prior(cb_ws *ws, int i, const double *plo, const double *phi)
{
  for (size_t e = 0; e < ws->net->node[i].size; e++) {
    if (plo[e] > ws->lo[i][e]) ws->lo[i][e] = plo[e];
    if (phi[e] < ws->hi[i][e]) ws->hi[i][e] = phi[e];
  }
  set_zmax(ws, i);
}

int bounds_run_prior(cb_ws *ws, cb_method m, double *const *plo, double *const *phi, cb_error *err)
{
  return bounds_run_from(ws, m, plo, phi, 0, err);
}

int bounds_run_from(cb_ws *ws, cb_method m, double *const *plo, double *const *phi, int first, cb_error *err)
{
  const cb_net *net = ws->net;
  int rc = set_check(&ws->set, err);
  ws->method = m;
  memset(ws->sv_ok, 0, (size_t)net->n);
  for (int i = 0; i < first && i < net->n && rc == CB_OK; i++) {   /* the prior's boxes as they are */
    memcpy(ws->lo[i], plo[i], net->node[i].size * sizeof(double));
    memcpy(ws->hi[i], phi[i], net->node[i].size * sizeof(double));
    set_zmax(ws, i);
    if (m != CB_IBP && is_relaxed(net->node[i].kind)) {
      if ((rc = relax_supported(&net->node[i], err)) != CB_OK) break;
      relax_lines(ws, i);
    }
  }
  for (int i = first > 0 ? first : 0; i < net->n && rc == CB_OK; i++) {
    if (cb_time_up()) { rc = cb_limit_error(err, "the bounds"); break; }
    if ((rc = ibp_node(ws, i, err)) != CB_OK) break;
    if (plo && i > 0) clamp_prior(ws, i, plo[i], phi[i]);
    if (m != CB_IBP && is_relaxed(net->node[i].kind)) {  /* its own lines first: a refinement of i uses them */
      if ((rc = relax_supported(&net->node[i], err)) != CB_OK) break;
      relax_lines(ws, i);
    }
    if ((m == CB_CROWN || m == CB_ALPHA_CROWN) && crown_refines(net, i)) {
      rc = crown_refine(ws, i, err);
      if (plo) clamp_prior(ws, i, plo[i], phi[i]);
    }
  }
  return rc;
}

int bounds_run(cb_ws *ws, cb_method m, cb_error *err)
{
  return bounds_run_prior(ws, m, NULL, NULL, err);
}

int crown_linear(cb_ws *ws, const double *C, size_t q, double *lin, double *out, cb_error *err)
{
  return crown_linear_inj(ws, C, q, NULL, lin, out, err);
}

int crown_linear_inj(cb_ws *ws, const double *C, size_t q, const double *const *inj, double *lin, double *out,
                     cb_error *err)
{
  const cb_net *net = ws->net;
  size_t n0 = net->node[0].size;
  double *pool = cb_alloc(crown_pool_size(net, net->output, q) * sizeof *pool), **keep = cb_calloc((size_t)net->n, sizeof *keep);
  int rc = pool && keep ? crown_pass_inj(ws, net->output, 0, C, q, NULL, inj, keep, pool, out) : CB_ENOMEM;
  if (rc == CB_ENOMEM) rc = cb_error_set(err, rc, "out of memory in CROWN (%zu rows)", q);
  else if (rc != CB_OK) rc = cb_error_set(err, rc, "internal error in CROWN");
  if (rc == CB_OK && keep[0]) memcpy(lin, keep[0], q * n0 * sizeof *lin);
  else if (rc == CB_OK) memset(lin, 0, q * n0 * sizeof *lin);
  cb_free(pool);
  cb_free(keep);
  return rc;
}

/* Bounds of C f(x): one pass over [C; -C] (rows needed only).  IBP merges C
   into a last AFFINE layer and concretises over that layer's input box;
   alpha-CROWN optimises the lines per row (alpha.c, default options). */
int bounds_spec(cb_ws *ws, const double *C, size_t q, double *lb, double *ub, cb_error *err)
{
  const cb_net *net = ws->net;
  int start = net->output, stop = 0, rc;
  size_t no = net->node[start].size, rows = (lb ? q : 0) + (ub ? q : 0);
  double *A, *out;
  if (ws->method == CB_ALPHA_CROWN) return alpha_spec(ws, C, q, NULL, lb, ub, err);
  A = cb_alloc(rows * no * sizeof *A);
  out = cb_alloc(rows * sizeof *out);
  if (!A || !out) { cb_free(A); cb_free(out); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  if (ws->method == CB_IBP) stop = net->node[start].kind == CB_AFFINE ? net->node[start].in[0] : start;
  if (ub) memcpy(A, C, q * no * sizeof *A);
  if (lb) for (size_t e = 0; e < q * no; e++) A[(ub ? q * no : 0) + e] = -C[e];
  rc = crown_pass(ws, start, stop, A, rows, NULL, NULL, NULL, out);
  if (rc == CB_OK) {
    for (size_t r = 0; ub && r < q; r++) ub[r] = out[r];
    for (size_t r = 0; lb && r < q; r++) lb[r] = -out[(ub ? q : 0) + r];
  } else rc = cb_error_set(err, rc, "out of memory in the bound of the specification");
  cb_free(A);
  cb_free(out);
  return rc;
}
