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
#include "round.h"

/* Four doubles in one vector (GCC/clang vector extension) for the row
   kernels: one AVX2 register in the callers' avx2 clones (CB_SIMD_CLONES,
   chosen at run time), two SSE2 registers in their default clones.  Lane t
   of a 4-lane accumulator holds the partial sum of the entries e = t mod 4,
   and the final reduction is (lane0 + lane2) + (lane1 + lane3): the same
   operations in the same order on either width (no FMA contraction:
   -std=c11 keeps -ffp-contract=off), so both clones give the same bits. */
typedef double v4d __attribute__((vector_size(32)));
typedef long long v4i __attribute__((vector_size(32)));
typedef double v4du __attribute__((vector_size(32), aligned(8), may_alias));   /* an unaligned load or store */

/* Macros, not functions: a function taking or returning a 32-byte vector
   has another ABI with and without AVX (gcc -Wpsabi). */
#define LOAD4(p) (*(const v4du *)(p))
#define STORE4(p, v) (*(v4du *)(p) = (v))
#define ABS4(a) ((v4d)((v4i)(a) & (v4i){0x7fffffffffffffffLL, 0x7fffffffffffffffLL, 0x7fffffffffffffffLL, 0x7fffffffffffffffLL}))
#define HSUM4(t) (((t)[0] + (t)[2]) + ((t)[1] + (t)[3]))

/* sum_j |a_j| v_j, and *t = sum_j a_j c_j when c; four partial sums (any
   order of a sum is within the same gamma bound). */
static inline __attribute__((always_inline)) double terms_row(const double *restrict a, size_t n, const double *restrict v, const double *restrict c, double *t)
{
  v4d s4 = {0, 0, 0, 0}, t4 = {0, 0, 0, 0};
  double s = 0, tt = 0;
  size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    v4d a0 = LOAD4(a + j);
    s4 += ABS4(a0) * LOAD4(v + j);
    if (c) t4 += a0 * LOAD4(c + j);
  }
  for (; j < n; j++) { s += fabs(a[j]) * v[j]; if (c) tt += a[j] * c[j]; }
  if (c) *t = HSUM4(t4) + tt;
  return HSUM4(s4) + s;
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
** sum_e a_e (a_e > 0 ? ub_e : lb_e) and *sl = sum_e |a_e| v_e.  Four entries
** per vector (four partial sums: any order of a sum is within the same gamma
** bound); positive part and |a| by bit masks, the same values as pos_part
** and fabs.
*/
static inline __attribute__((always_inline)) double relaxed_row(const double *restrict a, double *restrict y, size_t n, const double *restrict uw,
                          const double *restrict lw, const double *restrict ub, const double *restrict lb,
                          const double *restrict v, double *sl)
{
  const v4d zero = {0, 0, 0, 0};
  v4d t4 = zero, s4 = zero;
  double t = 0, s = 0;
  size_t e = 0;
  for (; e + 4 <= n; e += 4) {
    v4d a0 = LOAD4(a + e);
    v4d p0 = (v4d)((v4i)a0 & (a0 > zero));
    v4d n0 = a0 - p0;
    STORE4(y + e, LOAD4(y + e) + (p0 * LOAD4(uw + e) + n0 * LOAD4(lw + e)));
    t4 += p0 * LOAD4(ub + e) + n0 * LOAD4(lb + e);
    s4 += ABS4(a0) * LOAD4(v + e);
  }
  for (; e < n; e++) {
    double ae = a[e], pos = pos_part(ae), neg = ae - pos;
    y[e] += pos * uw[e] + neg * lw[e];
    t += pos * ub[e] + neg * lb[e];
    s += fabs(ae) * v[e];
  }
  *sl = HSUM4(s4) + s;
  return HSUM4(t4) + t;
}

/* relaxed_row with a row's own lines (alpha-CROWN): the slack term is
   sum_e pos_e (|uw_e| z_e + |ub_e|) - neg_e (|lw_e| z_e + |lb_e|). */
static inline __attribute__((always_inline)) double relaxed_row_lines(const double *restrict a, double *restrict y, size_t n, const double *restrict uw,
                                const double *restrict lw, const double *restrict ub, const double *restrict lb,
                                const double *restrict z, double *sl)
{
  const v4d zero = {0, 0, 0, 0};
  v4d t4 = zero, s4 = zero;
  double t = 0, s = 0;
  size_t e = 0;
  for (; e + 4 <= n; e += 4) {
    v4d a0 = LOAD4(a + e);
    v4d p0 = (v4d)((v4i)a0 & (a0 > zero));
    v4d n0 = a0 - p0;
    v4d u0 = LOAD4(uw + e), l0 = LOAD4(lw + e), bu0 = LOAD4(ub + e), bl0 = LOAD4(lb + e), z0 = LOAD4(z + e);
    STORE4(y + e, LOAD4(y + e) + (p0 * u0 + n0 * l0));
    t4 += p0 * bu0 + n0 * bl0;
    s4 += p0 * (ABS4(u0) * z0 + ABS4(bu0)) - n0 * (ABS4(l0) * z0 + ABS4(bl0));
  }
  if (e + 2 <= n) {   /* the patched pass calls this on window runs of 2-5 entries: lanes 0 and 1 */
    for (int k = 0; k < 2; k++, e++) {
      double ae = a[e], pos = pos_part(ae), neg = ae - pos;
      y[e] += pos * uw[e] + neg * lw[e];
      t4[k] += pos * ub[e] + neg * lb[e];
      s4[k] += pos * (fabs(uw[e]) * z[e] + fabs(ub[e])) - neg * (fabs(lw[e]) * z[e] + fabs(lb[e]));
    }
  }
  for (; e < n; e++) {
    double ae = a[e], pos = pos_part(ae), neg = ae - pos;
    y[e] += pos * uw[e] + neg * lw[e];
    t += pos * ub[e] + neg * lb[e];
    s += pos * (fabs(uw[e]) * z[e] + fabs(ub[e])) - neg * (fabs(lw[e]) * z[e] + fabs(lb[e]));
  }
  *sl = HSUM4(s4) + s;
  return HSUM4(t4) + t;
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

/* One backward pass (crown.c; crown_batch.c runs one per sample over a
   shared pool, each on its block of the stacked rows). */
typedef struct bwd {
  cb_ws *ws;
  size_t q;
  double **A;       /* per node accumulated matrix, NULL if none reached it */
  char *merged;     /* per node: more than one contribution was added */
  crown_terms T;    /* per row: bias, slack, babs */
  const crown_lines *lines;  /* per node per-row lines (alpha-CROWN), or NULL */
  double *pool;     /* node i's matrix lives at pool + off[i] (no allocation per node) */
  size_t *off;
  int stop;         /* the node the pass concretises at */
  int start;        /* the node its rows start at */
} bwd;

/* crown.c's pass steps, for crown_batch.c's stacked passes (each on one bwd). */
double *crown_bwd_acc(bwd *B, int i);                 /* node i's matrix, zeroed on first use */
int crown_bwd_node(bwd *B, int i, const double *A);   /* the step through node i */
int crown_bwd_unit(bwd *B, int i, const size_t *col, const double *val);   /* a unit first step */
void crown_bwd_merge(bwd *B, int i, const double *A); /* a merged node's 2u |A| zmax slack */
void crown_bwd_concretise(bwd *B, int stop, double *out);
int crown_unit_rows(const cb_net *net, int start, const double *A0, size_t q, size_t **col, double **val);
                  /* 1 when A0's rows are signed unit rows at an AFFINE/CONV/ADD start (col, val
                     allocated), 0 when not, -1 on OOM */
const size_t *crown_plan(cb_ws *ws, int start, int stop, size_t *tot);
                  /* the compact layout of a pass's matrices, in units of its row count */
int crown_relu_only(const cb_net *net, int k);        /* do only ReLUs read node k? */
int crown_pass_stop(cb_ws *ws, int start, int stop, const double *A0, size_t q, double *out);
                  /* one sample's pass from start down to stop (the input set or stop's box) */

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
int crown_conv_single(cb_ws *ws, int i, const cb_conv *g, const double *A, size_t q, double *Ain, int *done);
                  /* CONV node i's transposed conv (geometry g) in binary32 when ws->single and
                     everything fits (*done = 1), else *done = 0 and Ain untouched */
double crown_conv_single_gamma(const cb_node *n);
                  /* the slack factor of a step crown_conv_single did (instead of crown_slack_gamma) */
double crown_conv_single_eta(cb_ws *ws, int i);
                  /* its per-row underflow slack (HUGE_VAL on OOM) */
double crown_underflow(const cb_ws *ws, int i);
                  /* a step's gradual-underflow slack per row: (size_i + 1) 2^-1074 (sum |zmax_in| + 1) */
double crown_close(const cb_net *net, const crown_terms *T, size_t r, double v);
                  /* row r's bound from its max v over the set: round_up(v + 2 (slack + gamma_{n+2} babs)) */
double *crown_scratch(cb_ws *ws, size_t n);
                  /* the workspace's scratch pool, grown to n doubles; NULL on OOM */
size_t crown_pool_offset(const cb_net *net, int d, size_t q);
                  /* where node d's matrix of a q-row pass lives in its pool */

/* MaxPool's relaxation (crown.c, DeepPoly's): per output o, the lower line
   y >= x_{jl[o]} (an input index), the upper bound umax[o] (a constant) or,
   when exact[o], y = x_{jl[o]}; zs[o] = max(umax, zmax_in[jl]) for the slack. */
typedef struct crown_pool { size_t *jl; unsigned char *exact; double *umax, *zs; } crown_pool;
int crown_maxpool_lines(const cb_ws *ws, int i, crown_pool *P);   /* fills P (allocated); CB_ENOMEM */
void crown_pool_free(crown_pool *P);

/* One entry a of a row r at MaxPool output o: the line its sign picks
   (ain_jl: the row's input-matrix entry of jl), the
   bias, and the slack 4u |a| zs (the same in both passes). */
static inline void maxpool_entry(const crown_terms *T, size_t r, double a, const crown_pool *P, size_t o, double *ain_jl)
{
  if (a < 0 || P->exact[o]) *ain_jl += a;
  else { T->bias[r] += a * P->umax[o]; T->babs[r] += fabs(a * P->umax[o]); }
  T->slack[r] += 4 * ROUND_U * fabs(a) * P->zs[o];
}

/* crown_patch.c: the receptive-field pass. */
#define PATCH_MAX 48   /* most nodes below a start handled */
#define PATCH_IN 4     /* most inputs of a CONCAT handled */

/* The nodes below a CONV or ADD down to the input (a DAG of CONV, MAXPOOL,
   SCALE, relaxed, ADD and channel CONCAT nodes): slot t < n is node[t], in
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
