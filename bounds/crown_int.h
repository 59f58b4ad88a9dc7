/*
** The interface between CROWN's two backward passes: the dense pass over the
** whole graph (crown.c) and the receptive-field ("patches") pass for unit
** rows at a CONV (crown_patch.c).  Both compute the same bias, slack and
** underflow terms with the same factors (bounds.h gives the rounding model);
** the row kernels and the per-node terms they share live here or in crown.c,
** once.  Internal to bounds/: nothing outside crown*.c includes it.
** The row kernels are static inline: each pass inlines them in its hot loops
** (the patch pass calls relaxed_row_lines on window runs of 2-5 entries).
*/
#ifndef CB_CROWN_INT_H
#define CB_CROWN_INT_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "bounds.h"

/* Two doubles in one SSE2 register (GCC/clang vector extension), for the row kernels. */
typedef double v2d __attribute__((vector_size(16)));
typedef long long v2i __attribute__((vector_size(16)));

static inline v2d load2(const double *p) { v2d v; memcpy(&v, p, sizeof v); return v; }
static inline v2d abs2(v2d a) { const v2i m = {0x7fffffffffffffffLL, 0x7fffffffffffffffLL}; return (v2d)((v2i)a & m); }

/* sum_j |a_j| v_j, and *t = sum_j a_j c_j when c; four partial sums (any
   order of a sum is within the same gamma bound). */
static inline double terms_row(const double *restrict a, size_t n, const double *restrict v, const double *restrict c, double *t)
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
static inline double relaxed_row(const double *restrict a, double *restrict y, size_t n, const double *restrict uw,
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
static inline double relaxed_row_lines(const double *restrict a, double *restrict y, size_t n, const double *restrict uw,
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

/* A pass's per-row terms (q rows each): the bias, the rounding slack, and
   the sum of |bias contributions| (for the rounding of the bias sum). */
typedef struct crown_terms { double *bias, *slack, *babs; } crown_terms;

/* Row r takes a bias contribution t and a slack term g s. */
static inline void terms_add(const crown_terms *T, size_t r, double t, double g, double s)
{
  T->bias[r] += t;
  T->babs[r] += fabs(t);
  T->slack[r] += g * s;
}

/* A window [h0, h1) x [w0, w1), all channels, of a c x h x w tensor; the
   whole tensor is {0, h, 0, w}; an empty window has no entries. */
typedef struct pwin { int64_t h0, h1, w0, w1; } pwin;

static inline size_t win_size(int64_t c, pwin w) { return (size_t)(c * (w.h1 - w.h0) * (w.w1 - w.w0)); }

/*
** crown.c: the steps and terms both passes use, with the rounding factors
** of bounds.h (each factor and slack vector is defined once, here).
*/
const double *crown_slack_vec(cb_ws *ws, int i);
                  /* |W| zmax_in + |b| of an AFFINE/CONV node (cached in ws); NULL on OOM */
double crown_slack_gamma(const cb_node *n, size_t in);
                  /* its factor: 2 (gamma + rel_err) (in: AFFINE's input size, 0 for CONV) */
double crown_scale_gamma(const cb_node *n);                     /* SCALE's factor, 2 (gamma_3 + rel_err) */
void crown_scale_vec(size_t m, const double *a, const double *b, const double *z, double *v);
                  /* SCALE's slack vector on m entries: |a| zmax_in + |b| */
double crown_relax_gamma(const cb_node *n);                     /* a relaxed node's factor, 2 gamma_{size+3} */
void crown_relaxed(const crown_terms *T, size_t nr, size_t m, const double *A, double *Ain, const double *uw,
                   const double *lw, const double *ub, const double *lb, const double *z, double *v, double g);
                  /* nr rows of m entries through a relaxed node's stored lines: Ain += the
                     line each sign picks, and the rows' terms (v: m doubles of room) */
void crown_add_terms(const crown_terms *T, size_t q, const double *A, size_t n, const double *v, double g,
                     const double *c);
                  /* slack_r += g sum_j |A_rj| v_j; bias_r += sum_j A_rj c_j (c may be NULL) */
void crown_conv_bias(const cb_node *n, pwin wo, double *c);     /* a CONV's bias on output window wo */
void crown_conv_row(const cb_node *n, size_t j, double a, pwin wi, double *ai);
                  /* ai += a times row j of a CONV's operator, on the input window wi */
int crown_unit(cb_ws *ws, const crown_terms *T, int i, size_t nr, const size_t *col, const double *val,
               const size_t *rows, pwin wi, double *Ain);
                  /* the first step of unit rows val e_col at AFFINE/CONV node i (rows NULL:
                     rows 0..nr), Ain (nr x the window's size) added to */
double crown_underflow(const cb_ws *ws, int i);
                  /* a step's gradual-underflow slack per row: (size_i + 1) 2^-1074 (sum |zmax_in| + 1) */
double crown_close(const cb_net *net, const crown_terms *T, size_t r, double v);
                  /* row r's bound from its max v over the set: round_up(v + 2 (slack + gamma_{n+2} babs)) */
double *crown_scratch(cb_ws *ws, size_t n);
                  /* the workspace's scratch pool, grown to n doubles; NULL on OOM */
size_t crown_pool_offset(const cb_net *net, int d, size_t q);
                  /* where node d's matrix of a q-row pass lives in its pool */

/* crown_patch.c: the receptive-field pass. */
#define PATCH_MAX 48   /* most nodes below a start handled */
#define PATCH_IN 4     /* most inputs of a CONCAT handled */

/* The nodes below a CONV or ADD down to the input (a DAG of CONV, SCALE,
   relaxed, ADD and channel CONCAT nodes): slot t < n is node[t], in
   decreasing node order (slot 0 the start, every consumer before what it
   reads), slot n the input (node[n] = 0).  c, h, w[t]: slot t's tensor;
   in[t][k]: the slot of its k-th input (nin[t] of them); cons[t]: how many
   inputs of the DAG's nodes read it (2 or more: its matrix is merged). */
typedef struct pchain {
  int n, node[PATCH_MAX + 1], nin[PATCH_MAX], in[PATCH_MAX][PATCH_IN], cons[PATCH_MAX + 1];
  int64_t c[PATCH_MAX + 1], h[PATCH_MAX + 1], w[PATCH_MAX + 1];
} pchain;

/* What crown_pass_ex may ask of a pass besides the bound: per-row lines per
   node (alpha-CROWN; NULL: the workspace's), and keep[i] = node i's matrix,
   dense, in pool (crown_pool_size), for alpha-CROWN's gradient. */
typedef struct pextra { const crown_lines *lines; double **keep; double *pool; const double *A0; } pextra;

int crown_patch_chain(const cb_net *net, int k, pchain *ch);
                  /* does the receptive-field pass apply to unit rows at node k (CONV or ADD)?  fills ch */
int crown_patch_pass(cb_ws *ws, const pchain *ch, const size_t *col, const double *val, size_t q, const pextra *x,
                     double *out);
                  /* out_r >= max over the set of val[r] value(ch->node[0])_{col[r]}, as the dense pass */
int crown_patch_refine(cb_ws *ws, int k, const pchain *pc, const size_t *sel, size_t m, int sides, cb_error *err);
                  /* node k's bounds for neurons sel[0..m) by one receptive-field pass */

#endif
