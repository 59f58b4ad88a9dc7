/*
** Sign-split branch and bound for L2 Lipschitz brackets (lipsign.h has the
** contract, docs/soundness.md the argument).  Workload: small dense MLPs
** (tens of units), up to millions of nodes; each node costs one interval
** backward product (a few thousand flops) and at most one small LP.
*/
#include <gmp.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include "exact.h"
#include "linalg.h"
#include "lp.h"
#include "lipsign.h"
#include "norm.h"
#include "round.h"
#include "specnorm.h"

void lip_sign_opts_init(lip_sign_opts *o)
{
  memset(o, 0, sizeof *o);
  o->gap = 1e-2;
  o->max_nodes = 5000000;
  o->row = -1;
  o->report_gap = 1e-2;
  o->norm = CB_NORM_2;
  o->margin_i = o->margin_j = -1;
}

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct layer {
  size_t out, in;
  const double *W, *b;  /* W [out x in] */
  int act;              /* 0 ReLU, 1 sorted pairs, -1 none (the last layer) */
  int64_t inner, g;     /* sort: stride, group size */
  int desc;             /* sort: larger first */
  size_t u0, nu;        /* its units: u0 .. u0 + nu - 1 */
} layer;

typedef struct unit { int layer; size_t a, b; } unit;   /* sort: the pair's entries (state 1: z_a > z_b) */

typedef struct node {
  double ub;
  int depth, has_pt;
  double margin;
  unsigned char *st;    /* U states */
  double *pt;           /* n */
} node;

typedef struct sb {
  const cb_net *net;
  const lip_sign_opts *o;
  layer *L;
  int nl;
  unit *U;
  size_t nu, n, m, wmax;
  const double *Wrow;   /* the last layer's rows used (m of them) */
  const double *brow;
  double *Wmar, *Wrad;  /* margin I:J: the row fl(W_I - W_J) and its rounding error's bound (NULL: exact) */
  node **heap;
  size_t nheap, cap;
  double *blk, *Cb, *C, *R, *C2, *R2, *z, *z2, *M, *M2, *mo, *mo2, *A, *ap, *cp, *xp, *lp, *v;
  double best, *bestx, *bestv, *um, *rn, *E, *Hs, *hv, *cvb, *tail, tail0;
  unsigned char *st2;  /* nu states: completions */
  size_t *ru;           /* LP row -> unit */
  long nodes, lps, pruned, kept;
  int have;
} sb;

/* ---- the net's form ---- */

static int extract(sb *S, cb_error *err)
{
  const cb_net *net = S->net;
  int i = 1, k = 0;
  S->L = cb_alloc((size_t)net->n * sizeof *S->L);
  if (!S->L) return cb_error_set(err, CB_ENOMEM, "out of memory");
  while (i < net->n) {
    const cb_node *nd = &net->node[i];
    if (nd->n_in != 1 || nd->in[0] != i - 1) goto bad;   /* a chain */
    if (nd->kind == CB_RESHAPE) { i++; continue; }
    if (nd->kind != CB_AFFINE)
      goto bad;
    if (!nd->exact && nd->rel_err > 0) {   /* rounded weights (Gemm alpha/beta): the regions and the exact rows would be the stored net's */
      cb_free(S->L);
      S->L = NULL;
      return cb_error_set(err, CB_EUNSUP,
                          "lipschitz --split sign: node %d (%s \"%s\"): its weights are rounded (relative error %g); the exact "
                          "certificates need the file's weights as stored (use the box split)",
                          i, node_kind_name(nd), nd->name ? nd->name : "", nd->rel_err);
    }
    S->L[k].out = nd->p.aff.out; S->L[k].in = nd->p.aff.in;
    S->L[k].W = nd->p.aff.W; S->L[k].b = nd->p.aff.b; S->L[k].act = -1;
    if (k && S->L[k].in != S->L[k - 1].out) goto bad;
    i++;
    while (i < net->n && net->node[i].kind == CB_RESHAPE) i++;
    if (i == net->n) { k++; break; }
    nd = &net->node[i];
    if (nd->n_in != 1 || nd->in[0] != i - 1) goto bad;
    if (node_is_act(nd, CB_ACT_RELU)) S->L[k].act = 0;
    else if (nd->kind == CB_SORT && nd->p.sort.g >= 2 && nd->p.sort.g <= 8 && nd->p.sort.inner >= 1 &&
             nd->size % (size_t)(nd->p.sort.g * nd->p.sort.inner) == 0) {
      S->L[k].act = 1; S->L[k].inner = nd->p.sort.inner; S->L[k].desc = nd->p.sort.desc; S->L[k].g = nd->p.sort.g;
    } else goto bad;
    k++; i++;
  }
  if (k < 1 || S->L[k - 1].act != -1 || net->output != net->n - 1) { i = net->output; goto bad; }
  S->nl = k;
  return CB_OK;
bad:
  cb_free(S->L);   /* the caller frees nothing on a refusal */
  S->L = NULL;
  if (i >= net->n) i = net->n - 1;
  return cb_error_set(err, CB_EUNSUP,
                      "lipschitz --split sign: node %d (%s \"%s\"): only chains of Gemm/MatMul, ReLU and "
                      "GroupSort/MaxMin/sort groups of at most 8 are covered (use the box split)",
                      i, node_kind_name(&net->node[i]), net->node[i].name ? net->node[i].name : "");
}

int lip_sign_check(const cb_net *net, cb_error *err)
{
  sb S;
  int rc;
  memset(&S, 0, sizeof S);
  S.net = net;
  rc = extract(&S, err);
  cb_free(S.L);
  return rc;
}

/* Sort groups: group q's member m is entry gmember(l, q, m); its units are
   the pairs m1 < m2 in order.  group_pos: each member's output position
   range [lo, hi] from the pairs fixed among units u .. (u < d); with every
   pair fixed, lo = hi = its rank (from the largest when desc). */
static size_t gmember(const layer *l, size_t q, int m)
{
  size_t in = (size_t)l->inner, o = q / in, i = q % in;
  return o * (size_t)l->g * in + (size_t)m * in + i;
}

static void group_pos(const layer *l, const unsigned char *st, size_t u, long d, int *lo, int *hi)
{
  int g = (int)l->g;
  for (int m = 0; m < g; m++) { lo[m] = 0; hi[m] = g - 1; }
  for (int m1 = 0; m1 < g; m1++)
    for (int m2 = m1 + 1; m2 < g; m2++, u++)
      if ((long)u < d) { if (st[u]) { lo[m1]++; hi[m2]--; } else { lo[m2]++; hi[m1]--; } }
  if (l->desc) for (int m = 0; m < g; m++) { int t = g - 1 - lo[m]; lo[m] = g - 1 - hi[m]; hi[m] = t; }
  for (int m = 0; m < g; m++) { if (lo[m] > g - 1) lo[m] = g - 1; if (hi[m] < 0) hi[m] = 0; if (hi[m] < lo[m]) hi[m] = lo[m]; }
}

static size_t group_units(const layer *l) { return (size_t)(l->g * (l->g - 1) / 2); }

static void units(sb *S)
{
  size_t u = 0;
  for (int k = 0; k + 1 < S->nl; k++) {
    layer *l = &S->L[k];
    l->u0 = u;
    if (l->act == 0) for (size_t e = 0; e < l->out; e++, u++) { S->U[u].layer = k; S->U[u].a = e; S->U[u].b = e; }
    else
      for (size_t q = 0; q < l->out / (size_t)l->g; q++)
        for (int m1 = 0; m1 < l->g; m1++)
          for (int m2 = m1 + 1; m2 < l->g; m2++, u++) {
            S->U[u].layer = k; S->U[u].a = gmember(l, q, m1); S->U[u].b = gmember(l, q, m2);
          }
    l->nu = u - l->u0;
  }
  S->nu = u;
}

/* Does a pair with state s (1: z_a > z_b) swap its entries? */
static int swaps(const layer *l, int s) { return l->desc ? !s : s; }

/* ---- affine maps of the fixed prefix: z_k = M x + mo for layer k ---- */

/* Pre-activations of layer kk as M (out x n), mo, given that layers < kk are
   fully fixed in st.  Double only (the LP's rows; exactness: exact_row). */
static void affine_to(sb *S, const unsigned char *st, int kk)
{
  size_t n = S->n;
  double *M = S->M, *mo = S->mo;
  for (int k = 0; k <= kk; k++) {
    layer *l = &S->L[k];
    if (k == 0) {
      memcpy(M, l->W, l->out * n * sizeof *M);
      memcpy(mo, l->b, l->out * sizeof *mo);
    } else {
      /* a = D z (previous layer), z' = W a + b */
      layer *p = &S->L[k - 1];
      double *A = S->M2, *ao = S->mo2;
      if (p->act == 0)
        for (size_t uu = p->u0; uu < p->u0 + p->nu; uu++) {
          unit *U = &S->U[uu];
          if (st[uu]) { memcpy(A + U->a * n, M + U->a * n, n * sizeof *A); ao[U->a] = mo[U->a]; }
          else { memset(A + U->a * n, 0, n * sizeof *A); ao[U->a] = 0; }
        }
      else {
        int lo[8], hi[8];
        memset(A, 0, p->out * n * sizeof *A);
        memset(ao, 0, p->out * sizeof *ao);
        for (size_t q = 0; q < p->out / (size_t)p->g; q++) {
          group_pos(p, st, p->u0 + q * group_units(p), LONG_MAX, lo, hi);
          for (int m = 0; m < p->g; m++) {
            size_t src = gmember(p, q, m), dst = gmember(p, q, lo[m]);
            memcpy(A + dst * n, M + src * n, n * sizeof *A); ao[dst] = mo[src];
          }
        }
      }
      for (size_t r = 0; r < l->out; r++) {
        double *mr = M + r * n, o = l->b[r];
        memset(mr, 0, n * sizeof *mr);
        for (size_t j = 0; j < l->in; j++) {
          double w = l->W[r * l->in + j];
          if (w == 0) continue;
          o += w * ao[j];
          for (size_t q = 0; q < n; q++) mr[q] += w * A[j * n + q];
        }
        mo[r] = o;
      }
    }
  }
}

/* The row (a, c) of unit u's signed margin s * (z_a - [z_b]) = a . x + c,
   from S->M, S->mo of the unit's layer. */
static void unit_row(sb *S, size_t u, int s, double *a, double *c)
{
  const unit *U = &S->U[u];
  const layer *l = &S->L[U->layer];
  size_t n = S->n;
  double sg = s ? 1 : -1;
  for (size_t q = 0; q < n; q++)
    a[q] = sg * (l->act == 0 ? S->M[U->a * n + q] : S->M[U->a * n + q] - S->M[U->b * n + q]);
  *c = sg * (l->act == 0 ? S->mo[U->a] : S->mo[U->a] - S->mo[U->b]);
}

/* ---- exact rows and the Motzkin certificate ---- */

/* Unit u's signed homogenised row (a, c) exactly (n + 1 rationals), from the
   weights and the states of the layers below it. */
static void exact_row(sb *S, const unsigned char *st, size_t u, int s, mpq_t *row)
{
  const unit *U = &S->U[u];
  int k = U->layer;
  size_t n = S->n, wmax = S->wmax;
  mpq_t *v = row + n + 1, *w = v + wmax, t;   /* scratch after the row */
  mpq_init(t);
  for (size_t j = 0; j < S->L[k].in; j++) {
    mpq_set_d(v[j], S->L[k].W[U->a * S->L[k].in + j]);
    if (S->L[k].act == 1) { mpq_set_d(t, S->L[k].W[U->b * S->L[k].in + j]); mpq_sub(v[j], v[j], t); }
  }
  mpq_set_d(row[n], S->L[k].b[U->a]);
  if (S->L[k].act == 1) { mpq_set_d(t, S->L[k].b[U->b]); mpq_sub(row[n], row[n], t); }
  for (int kk = k - 1; kk >= 0; kk--) {
    layer *l = &S->L[kk];
    /* v (over layer kk's outputs a) -> D^T: over its pre-activations z */
    for (size_t j = 0; j < l->out; j++) mpq_set(w[j], v[j]);
    if (l->act == 0)
      for (size_t uu = l->u0; uu < l->u0 + l->nu; uu++) { if (!st[uu]) mpq_set_ui(w[S->U[uu].a], 0, 1); }
    else
      for (size_t q = 0; q < l->out / (size_t)l->g; q++) {
        int lo[8], hi[8];
        group_pos(l, st, l->u0 + q * group_units(l), LONG_MAX, lo, hi);
        for (int m = 0; m < l->g; m++) mpq_set(w[gmember(l, q, m)], v[gmember(l, q, lo[m])]);
      }
    for (size_t j = 0; j < l->out; j++) { mpq_set_d(t, l->b[j]); mpq_mul(t, t, w[j]); mpq_add(row[n], row[n], t); }
    for (size_t q = 0; q < l->in; q++) {
      mpq_set_ui(v[q], 0, 1);
      for (size_t j = 0; j < l->out; j++) {
        double wq = l->W[j * l->in + q];
        if (wq == 0 || !mpq_sgn(w[j])) continue;
        mpq_set_d(t, wq); mpq_mul(t, t, w[j]); mpq_add(v[q], v[q], t);
      }
    }
  }
  for (size_t q = 0; q < n; q++) mpq_set(row[q], v[q]);
  if (!s) for (size_t q = 0; q <= n; q++) mpq_neg(row[q], row[q]);
  mpq_clear(t);
}

/* Rows of the child's LP: fixed units with a nonzero row (states st), box
   rows (lo <= x <= hi as x - lo t >= 0, hi t - x >= 0), and t >= 0.  Row
   index r: r < d: unit S->ru[r]; then 2n box rows if boxed; last: t.  Certificate over the
   rows with weight lw[r] > 0: exact nonneg null combination?  1: proven. */
static int certify_empty(sb *S, const unsigned char *st, int d, const double *lw, size_t nrows)
{
  size_t n = S->n, n1 = n + 1, ns = 0, *sel, cols;
  mpq_t *rows, *scr, t;
  int ok = 0;
  double lmax = 0;
  for (size_t r = 0; r < nrows; r++) lmax = fmax(lmax, lw[r]);
  if (!(lmax > 0)) return 0;
  sel = cb_alloc(nrows * sizeof *sel);
  if (!sel) return 0;
  /* the last row (t > 0) always: its bound t >= 0 carries a reduced cost GLPK
     does not report as a row dual */
  for (size_t r = 0; r < nrows; r++) if (lw[r] > 1e-9 * lmax || r + 1 == nrows) sel[ns++] = r;
  /* A box side with lo_q == hi_q: the box has no interior, so "no interior
     point" says nothing about the region's points in the box (its two rows
     alone sum to 0 and would drop every region).  Such rows are not used. */
  for (size_t c = 0; c < ns && S->o->lo; c++)
    if (sel[c] >= (size_t)d && sel[c] < (size_t)d + 2 * n && S->o->lo[(sel[c] - (size_t)d) / 2] == S->o->hi[(sel[c] - (size_t)d) / 2]) {
      cb_free(sel);
      return 0;
    }
  cols = ns;
  rows = cb_alloc(ns * n1 * sizeof *rows);
  scr = cb_alloc((n1 + 2 * S->wmax) * sizeof *scr);
  if (!rows || !scr) { cb_free(sel); cb_free(rows); cb_free(scr); return 0; }
  for (size_t i = 0; i < ns * n1; i++) mpq_init(rows[i]);
  for (size_t i = 0; i < n1 + 2 * S->wmax; i++) mpq_init(scr[i]);
  mpq_init(t);
  for (size_t c = 0; c < ns; c++) {
    size_t r = sel[c];
    mpq_t *row = rows + c * n1;
    int zero = 1;
    if (r < (size_t)d) {
      size_t u = S->ru[r];
      exact_row(S, st, u, st[u], scr);
      for (size_t q = 0; q < n1; q++) mpq_set(row[q], scr[q]);
    } else if (S->o->lo && r < (size_t)d + 2 * n) {
      size_t q = (r - (size_t)d) / 2;
      int up = (int)((r - (size_t)d) % 2);
      mpq_set_si(row[q], up ? -1 : 1, 1);
      mpq_set_d(row[n], up ? S->o->hi[q] : -S->o->lo[q]);
    } else mpq_set_si(row[n], 1, 1);
    for (size_t q = 0; q < n1; q++) zero &= !mpq_sgn(row[q]);
    if (zero) goto out;   /* a zero row says nothing about the interior */
  }
  /* Solve sum_c l_c row_c = 0: Gaussian elimination on the n1 x ns system
     (column c = row_c), free l_c := lw (exact dyadics), pivots solved. */
  {
    mpq_t *Mx = cb_alloc(n1 * ns * sizeof *Mx), *l = cb_alloc(ns * sizeof *l);
    int *piv = cb_alloc(n1 * sizeof *piv), *isp = cb_alloc(ns * sizeof *isp);
    size_t rk = 0;
    if (!Mx || !l || !piv || !isp) { cb_free(Mx); cb_free(l); cb_free(piv); cb_free(isp); goto out; }
    for (size_t i = 0; i < n1 * ns; i++) mpq_init(Mx[i]);
    for (size_t c = 0; c < ns; c++) { mpq_init(l[c]); isp[c] = 0; }
    for (size_t q = 0; q < n1; q++) for (size_t c = 0; c < ns; c++) mpq_set(Mx[q * ns + c], rows[c * n1 + q]);
    for (size_t c = 0; c < ns && rk < n1; c++) {
      size_t p = rk;
      while (p < n1 && !mpq_sgn(Mx[p * ns + c])) p++;
      if (p == n1) continue;
      if (p != rk) for (size_t j = 0; j < ns; j++) mpq_swap(Mx[p * ns + j], Mx[rk * ns + j]);
      mpq_inv(t, Mx[rk * ns + c]);
      for (size_t j = 0; j < ns; j++) mpq_mul(Mx[rk * ns + j], Mx[rk * ns + j], t);
      for (size_t q = 0; q < n1; q++) {
        if (q == rk || !mpq_sgn(Mx[q * ns + c])) continue;
        mpq_set(t, Mx[q * ns + c]);
        for (size_t j = 0; j < ns; j++) {
          mpq_t u2;
          if (!mpq_sgn(Mx[rk * ns + j])) continue;
          mpq_init(u2); mpq_mul(u2, t, Mx[rk * ns + j]); mpq_sub(Mx[q * ns + j], Mx[q * ns + j], u2); mpq_clear(u2);
        }
      }
      piv[rk++] = (int)c; isp[c] = 1;
    }
    for (size_t c = 0; c < ns; c++) if (!isp[c]) mpq_set_d(l[c], lw[sel[c]] / S->rn[sel[c]]);
    for (size_t q = 0; q < rk; q++) {
      size_t c = (size_t)piv[q];
      mpq_set_ui(l[c], 0, 1);
      for (size_t j = 0; j < ns; j++) if (!isp[j]) { mpq_mul(t, Mx[q * ns + j], l[j]); mpq_sub(l[c], l[c], t); }
    }
    ok = rk < ns;   /* a nonzero null vector needs a free column */
    if (ok && ns - rk == 1) {   /* one null direction: scale it to a nonzero, then orient it */
      int nneg = 0, npos = 0;
      for (size_t c = 0; c < ns; c++) if (!isp[c]) mpq_set_ui(l[c], 1, 1);
      for (size_t q = 0; q < rk; q++) {
        size_t c = (size_t)piv[q];
        mpq_set_ui(l[c], 0, 1);
        for (size_t j = 0; j < ns; j++) if (!isp[j]) { mpq_mul(t, Mx[q * ns + j], l[j]); mpq_sub(l[c], l[c], t); }
      }
      for (size_t c = 0; c < ns; c++) { nneg += mpq_sgn(l[c]) < 0; npos += mpq_sgn(l[c]) > 0; }
      if (nneg && !npos) for (size_t c = 0; c < ns; c++) mpq_neg(l[c], l[c]);
    }
    {
      int pos = 0;
      for (size_t c = 0; c < ns && ok; c++) { if (mpq_sgn(l[c]) < 0) ok = 0; if (mpq_sgn(l[c]) > 0) pos = 1; }
      ok = ok && pos;
    }
    /* re-check sum_c l_c row_c == 0 exactly (independent of the elimination) */
    for (size_t q = 0; q < n1 && ok; q++) {
      mpq_t acc; mpq_init(acc);
      for (size_t c = 0; c < ns; c++) { mpq_mul(t, l[c], rows[c * n1 + q]); mpq_add(acc, acc, t); }
      if (mpq_sgn(acc)) ok = 0;
      mpq_clear(acc);
    }
    for (size_t i = 0; i < n1 * ns; i++) mpq_clear(Mx[i]);
    for (size_t c = 0; c < ns; c++) mpq_clear(l[c]);
    cb_free(Mx); cb_free(l); cb_free(piv); cb_free(isp);
  }
out:
  for (size_t i = 0; i < cols * n1; i++) mpq_clear(rows[i]);
  for (size_t i = 0; i < n1 + 2 * S->wmax; i++) mpq_clear(scr[i]);
  mpq_clear(t);
  cb_free(rows); cb_free(scr); cb_free(sel);
  return ok;
}

/* ---- the interval Jacobian and its norm ---- */

/* J in C +- R (m x n) for states st with the first d units fixed; others
   relaxed.  Rounding: each product C W is off by <= gamma |C||W|, folded
   into R, and R's own products are inflated by (1 + 4 gamma). */
static void jac_from(sb *S, const unsigned char *st, int d, const double *C0, size_t m, int ktop, int kbot);

static void jac_bound(sb *S, const unsigned char *st, int d)
{
  jac_from(S, st, d, S->Wrow, S->m, S->nl - 2, 0);
}

/* C0 (m x layer ktop's outputs, exact) times D_ktop W_ktop ... D_kbot W_kbot
   into C +- R (m x layer kbot's inputs; kbot = 0: m x n). */
static void jac_from(sb *S, const unsigned char *st, int d, const double *C0, size_t m, int ktop, int kbot)
{
  double *C = S->C, *R = S->R;
  size_t w = ktop >= 0 ? S->L[ktop].out : S->n;
  memcpy(C, C0, m * w * sizeof *C);
  if (C0 == S->Wrow && S->Wrad) memcpy(R, S->Wrad, m * w * sizeof *R);   /* the margin row's rounding */
  else memset(R, 0, m * w * sizeof *R);
  for (int k = ktop; k >= kbot; k--) {
    layer *l = &S->L[k];
    /* the product below sums l->out terms per entry (more than l->in on a widening layer) */
    double g = round_gamma((l->in > l->out ? l->in : l->out) + 4), *C2 = S->C2, *R2 = S->R2;
    /* C, R over layer k's outputs (w = l->out) -> times D_k */
    if (l->act == 0)
      for (size_t uu = l->u0; uu < l->u0 + l->nu; uu++) {
        unit *U = &S->U[uu];
        int fixed = (long)uu < d, s = fixed ? st[uu] : 0;
        for (size_t i = 0; i < m; i++) {
          double *c = C + i * w, *r = R + i * w;
          if (!fixed) { r[U->a] = round_up(r[U->a] + 0.5 * fabs(c[U->a])); c[U->a] *= 0.5; }
          else if (!s) { c[U->a] = 0; r[U->a] = 0; }
        }
      }
    else {
      /* column of member m: some column at a position in [lo, hi]: their hull */
      double *c2 = S->C2, *r2 = S->R2;
      memcpy(c2, C, m * w * sizeof *c2);
      memcpy(r2, R, m * w * sizeof *r2);
      for (size_t q = 0; q < l->out / (size_t)l->g; q++) {
        int lo[8], hi[8];
        group_pos(l, st, l->u0 + q * group_units(l), d, lo, hi);
        for (int mm = 0; mm < l->g; mm++) {
          size_t e = gmember(l, q, mm);
          for (size_t i = 0; i < m; i++) {
            double cmin = HUGE_VAL, cmax = -HUGE_VAL, rmax = 0;
            for (int p = lo[mm]; p <= hi[mm]; p++) {
              size_t f = gmember(l, q, p);
              cmin = fmin(cmin, c2[i * w + f]); cmax = fmax(cmax, c2[i * w + f]); rmax = fmax(rmax, r2[i * w + f]);
            }
            if (lo[mm] == hi[mm]) { C[i * w + e] = cmin; R[i * w + e] = rmax; }
            else {
              C[i * w + e] = 0.5 * cmin + 0.5 * cmax;
              R[i * w + e] = round_up(round_up(0.5 * cmax - 0.5 * cmin) + rmax + round_slack(fabs(C[i * w + e])));
            }
          }
        }
      }
    }
    /* times W_k: (m x out) (out x in) */
    for (size_t i = 0; i < m; i++) {
      for (size_t q = 0; q < l->in; q++) {
        double cc = 0, rr = 0, ca = 0;
        for (size_t j = 0; j < l->out; j++) {
          double wq = l->W[j * l->in + q];
          cc += C[i * w + j] * wq;
          ca += fabs(C[i * w + j] * wq);
          rr += R[i * w + j] * fabs(wq);
        }
        C2[i * l->in + q] = cc;
        R2[i * l->in + q] = (rr + g * ca) * (1 + 4 * g) + 1e-300;
      }
    }
    w = l->in;
    memcpy(C, C2, m * w * sizeof *C);
    memcpy(R, R2, m * w * sizeof *R);
  }
}

/* Every permutation of g <= 5 (member m at position perms[k][m]); returns
   g!. */
static int all_perms(int g, int perms[][5])
{
  int np = 0, tot = 1;
  for (int k = 2; k <= g; k++) tot *= k;
  for (int code = 0; code < tot; code++) {
    int used[5] = {0}, c = code;
    for (int m = 0; m < g; m++) {
      int r = c % (g - m), k;
      c /= g - m;
      for (k = 0; k < g; k++) if (!used[k] && r-- == 0) break;
      used[k] = 1; perms[np][m] = k;
    }
    np++;
  }
  return np;
}

/* Is order perms (positions) consistent with the pairs of the group whose
   first unit is u0 that are fixed (units < d)? */
static int perm_ok(const layer *l, const unsigned char *st, size_t u0, long d, const int *pos)
{
  size_t u = u0;
  for (int m1 = 0; m1 < l->g; m1++)
    for (int m2 = m1 + 1; m2 < l->g; m2++, u++)
      if ((long)u < d) {
        int big1 = l->desc ? pos[m1] < pos[m2] : pos[m1] > pos[m2];
        if (big1 != (st[u] != 0)) return 0;
      }
  return 1;
}

/* The pair states of a group in order pos. */
static void perm_states(const layer *l, unsigned char *st, size_t u0, const int *pos)
{
  size_t u = u0;
  for (int m1 = 0; m1 < l->g; m1++)
    for (int m2 = m1 + 1; m2 < l->g; m2++, u++)
      st[u] = (unsigned char)(l->desc ? pos[m1] < pos[m2] : pos[m1] > pos[m2]);
}

/* Certified upper bound of max ||J||_2 over J in C +- R (m x n); A: m x n
   scratch. */
static double norm_up_dims(int norm, const double *C, const double *R, size_t m, size_t n, double *A, double *v)
{
  if (norm != CB_NORM_2) {
    /* the induced L-inf norm: the largest row sum of |J|; L1: the largest
       column sum.  Every |J_iq| <= |C_iq| + R_iq; sums rounded upward */
    double best = 0;
    size_t outer = norm == CB_NORM_INF ? m : n, inner = norm == CB_NORM_INF ? n : m;
    (void)A; (void)v;
    for (size_t i = 0; i < outer; i++) {
      double s = 0;
      for (size_t q = 0; q < inner; q++) {
        size_t e = norm == CB_NORM_INF ? i * n + q : q * n + i;
        s = round_add_ru(s, round_add_ru(fabs(C[e]), R[e]));
      }
      best = fmax(best, s);
    }
    return best;
  }
  if (m == 1) {
    for (size_t q = 0; q < n; q++) v[q] = round_up(fabs(C[q]) + R[q]);
    return round_up(round_nrm2_up(v, n));
  } else {
    lip_op op;
    double a = HUGE_VAL, b = HUGE_VAL, c = HUGE_VAL;
    cb_error e;
    memset(&e, 0, sizeof e);
    memset(&op, 0, sizeof op);
    op.rows = m; op.cols = n; op.g = NULL;
    for (size_t i = 0; i < m * n; i++) A[i] = round_up(fabs(C[i]) + R[i]);
    op.W = A;
    if (lip_spec_gram_upper(&op, &a, NULL, &e) != CB_OK) a = HUGE_VAL;
    op.W = C;
    if (lip_spec_gram_upper(&op, &b, NULL, &e) != CB_OK) b = HUGE_VAL;
    op.W = R;
    if (b < HUGE_VAL && lip_spec_gram_upper(&op, &c, NULL, &e) == CB_OK) b = round_add_up(b, c);
    else b = HUGE_VAL;
    return fmin(a, b);
  }
}

static double norm_up(sb *S) { return norm_up_dims(S->o->norm, S->C, S->R, S->m, S->n, S->A, S->v); }

/* Tail times head.  With layers < k fixed and layers > k open (the search
   fixes units in layer order), J = T D_k H where H = W_k D_{k-1} ... W_0 is
   the fixed head (z_k as a map of x), D_k the layer's activation Jacobian
   (diag in [0, 1] for ReLU, a permutation for sort groups: ||D_k||_2 <= 1
   whatever its states) and T = Wrow D_{L-1} W_{L-1} ... D_{k+1} W_{k+1} the
   open tail, with sup ||T||_2 <= tail[k] (precomputed: the smaller of the
   norm product and the interval bound with every unit above k open).  So
   ||J||_2 <= tail[k] ||H||_2, rounded up; HUGE_VAL when not applicable (the
   Gram side above 64: too costly per node). */
static double head_bound(sb *S, const unsigned char *st, int d)
{
  int k;
  size_t out;
  double h;
  if (d >= (int)S->nu || !S->tail) return HUGE_VAL;
  k = S->U[d].layer;
  if (k < 1) return S->tail0;
  out = S->L[k].out;
  if ((out < S->n ? out : S->n) > 64 || !(S->tail[k] < HUGE_VAL)) return HUGE_VAL;
  jac_from(S, st, d, S->L[k].W, out, k - 1, 0);
  h = norm_up_dims(S->o->norm, S->C, S->R, out, S->n, S->Hs, S->hv);
  return round_mul_up(S->tail[k], h);
}

/* The head bound over the completions of the first open layer k (below the
   last hidden one): every point of the region has the states of one
   completion (ReLU: 2^open; sort groups of <= 5: the orders consistent with
   the fixed pairs), so the largest head_bound over at most 32 completions,
   each with layer k fixed, bounds the region.  HUGE_VAL when not applicable. */
static double head_enum_bound(sb *S, const unsigned char *st, int d)
{
  int k, perms[120][5], np = 0, cnt[64], sel[64][32], ngo = 0;
  layer *l;
  size_t ng, gu;
  long comb = 1;
  double best = 0;
  unsigned char *s2 = S->st2;
  if (d >= (int)S->nu || !S->tail) return HUGE_VAL;
  k = S->U[d].layer;
  l = &S->L[k];
  if (k >= S->nl - 2) return HUGE_VAL;
  memcpy(s2, st, S->nu);
  if (l->act == 0) {
    size_t open = l->u0 + l->nu - (size_t)d;
    if (open > 5) return HUGE_VAL;
    for (unsigned c = 0; c < 1u << open; c++) {
      double h;
      for (size_t i = 0; i < open; i++) s2[(size_t)d + i] = (unsigned char)((c >> i) & 1);
      h = head_bound(S, s2, (int)(l->u0 + l->nu));
      if (!(h < HUGE_VAL)) return HUGE_VAL;
      best = fmax(best, h);
    }
    return best;
  }
  if (l->g > 5) return HUGE_VAL;
  np = all_perms((int)l->g, perms);
  gu = group_units(l); ng = l->out / (size_t)l->g;
  if (ng > 64) return HUGE_VAL;
  for (size_t q = 0; q < ng; q++) {
    size_t u0 = l->u0 + q * gu;
    cnt[q] = 0;
    for (int j = 0; j < np; j++)
      if (perm_ok(l, st, u0, d, perms[j])) { if (cnt[q] == 32) return HUGE_VAL; sel[q][cnt[q]++] = j; }
    if (!cnt[q]) return HUGE_VAL;
    comb *= cnt[q];
    if (comb > 32) return HUGE_VAL;
    ngo++;
  }
  {
    int pi[64] = {0};
    for (;;) {
      double h;
      for (size_t q = 0; q < ng; q++) perm_states(l, s2, l->u0 + q * gu, perms[sel[q][pi[q]]]);
      h = head_bound(S, s2, (int)(l->u0 + l->nu));
      if (!(h < HUGE_VAL)) return HUGE_VAL;
      best = fmax(best, h);
      {
        long q = (long)ng - 1;
        while (q >= 0 && ++pi[q] == cnt[q]) { pi[q] = 0; q--; }
        if (q < 0) break;
      }
    }
  }
  (void)ngo;
  return best;
}

/* tail[k] for k = 0 .. L-2 (see head_bound) and tail0 = tail[0] ||W_0||_2. */
static int tails(sb *S)
{
  int nl = S->nl;
  unsigned char *st0 = cb_alloc(S->nu + 1);
  double *wn = cb_alloc((size_t)nl * sizeof *wn);
  S->tail = cb_alloc((size_t)nl * sizeof *S->tail);
  if (!st0 || !wn || !S->tail) { cb_free(st0); cb_free(wn); cb_free(S->tail); S->tail = NULL; return CB_ENOMEM; }
  memset(st0, 0, S->nu + 1);
  for (int k = 0; k < nl; k++) {
    size_t zero = S->L[k].out * S->L[k].in;
    double *Z = S->Hs;
    memset(Z, 0, zero * sizeof *Z);
    wn[k] = norm_up_dims(S->o->norm, S->L[k].W, Z, S->L[k].out, S->L[k].in, S->Hs + zero, S->hv);
  }
  for (int k = nl - 2; k >= 0; k--) {
    double t1, t2;
    size_t w = S->L[k + 1].in;
    if (k == nl - 2) {
      if (S->Wrad) memcpy(S->Hs, S->Wrad, S->m * w * sizeof *S->Hs);
      else memset(S->Hs, 0, S->m * w * sizeof *S->Hs);
      t1 = norm_up_dims(S->o->norm, S->Wrow, S->Hs, S->m, w, S->Hs + S->m * w, S->hv);
    } else t1 = round_mul_up(S->tail[k + 1], wn[k + 1]);
    jac_from(S, st0, 0, S->Wrow, S->m, nl - 2, k + 1);
    t2 = norm_up_dims(S->o->norm, S->C, S->R, S->m, w, S->Hs, S->hv);
    S->tail[k] = fmin(t1, t2);
  }
  S->tail0 = round_mul_up(S->tail[0], wn[0]);
  cb_free(st0); cb_free(wn);
  return CB_OK;
}

/* Single-row nets, every layer before the last hidden one fixed, at most 16
   of its units open: the largest ||J|| over every completion of the last
   hidden layer's states (Gray-code enumeration), rounding bounded; HUGE_VAL
   when not applicable. */
static double enum_bound(sb *S, const unsigned char *st, int d)
{
  int lk = S->nl - 2;
  layer *l;
  size_t n = S->n, open = 0, no, idx[16];
  double *P, *Pr, *w = (double *)S->Wrow, *base, *vec, *T, maxsq = 0, steps;
  if (S->m != 1 || lk < 0 || S->o->norm != CB_NORM_2 || S->Wrad) return HUGE_VAL;   /* its error terms are L2's, for an exact row */
  l = &S->L[lk];
  if (l->act == 1 && l->g != 2) return HUGE_VAL;
  if ((size_t)d < l->u0) return HUGE_VAL;
  for (size_t u = l->u0; u < l->u0 + l->nu; u++) if ((long)u >= d) { if (open == 16) return HUGE_VAL; idx[open++] = u; }
  no = l->out;
  /* P +- Pr: rows of dz_lk/dx */
  jac_from(S, st, d, l->W, no, lk - 1, 0);
  P = S->C; Pr = S->R;
  base = S->E; vec = base + n; T = vec + n;
  double *Rr = T + n, *dl = Rr + n;   /* radii; open x n deltas */
  for (size_t q = 0; q < n; q++) { base[q] = 0; T[q] = 0; Rr[q] = 0; }
  for (size_t u = l->u0; u < l->u0 + l->nu; u++) {
    const unit *U = &S->U[u];
    int fixed = (long)u < d;
    double k0a, k0b, k1a, k1b;   /* coefficients of rows a, b under states 0 and 1 */
    size_t ra = U->a, rb = U->b;
    if (l->act == 0) { k0a = 0; k1a = w[ra]; k0b = k1b = 0; }
    else {
      if (swaps(l, 0)) { k0a = w[rb]; k0b = w[ra]; } else { k0a = w[ra]; k0b = w[rb]; }
      if (swaps(l, 1)) { k1a = w[rb]; k1b = w[ra]; } else { k1a = w[ra]; k1b = w[rb]; }
    }
    for (size_t q = 0; q < n; q++) {
      double pa = P[ra * n + q], pb = l->act == 0 ? 0 : P[rb * n + q];
      double c0 = k0a * pa + k0b * pb, c1 = k1a * pa + k1b * pb;
      /* T bounds the computed terms' magnitudes, not only their sums: c0, c1
         and the delta are sums of two products that can cancel (sort pairs
         with w_a ~ -w_b and rows p_a ~ p_b), and their rounding is relative
         to the products */
      T[q] += (fabs(k0a) + fabs(k1a)) * fabs(pa) + (fabs(k0b) + fabs(k1b)) * fabs(pb);
      Rr[q] += (fabs(k0a) + fabs(k1a)) * Pr[ra * n + q] + (l->act == 0 ? 0 : (fabs(k0b) + fabs(k1b)) * Pr[rb * n + q]);
      if (fixed) base[q] += st[u] ? c1 : c0;
      else base[q] += c0;
    }
    if (!fixed) {
      size_t i = 0;
      while (idx[i] != u) i++;
      for (size_t q = 0; q < n; q++) {
        double pa = P[ra * n + q], pb = l->act == 0 ? 0 : P[rb * n + q];
        dl[i * n + q] = (k1a - k0a) * pa + (k1b - k0b) * pb;
      }
    }
  }
  memcpy(vec, base, n * sizeof *vec);
  {
    unsigned long long gray = 0, N = 1ull << open;
    for (unsigned long long it = 0; it < N; it++) {
      double sq = 0;
      if (it) {
        int bit = __builtin_ctzll(it);
        double sg = (gray >> bit) & 1 ? -1 : 1;
        gray ^= 1ull << bit;
        for (size_t q = 0; q < n; q++) vec[q] += sg * dl[(size_t)bit * n + q];
      }
      for (size_t q = 0; q < n; q++) sq += vec[q] * vec[q];
      if (sq > maxsq) maxsq = sq;
    }
    steps = (double)N + (double)l->nu + 8;
  }
  /* |computed - real| per entry <= the rows' radii + steps * 2u * T (T
     bounds every partial sum and every term's products); ||real|| <=
     ||computed|| + ||err|| */
  for (size_t q = 0; q < n; q++) vec[q] = round_up(round_up(Rr[q] * (1 + round_gamma(4 * l->nu + 4))) + T[q] * (steps + 4) * 4 * ROUND_U + 1e-300);
  {
    double e = round_nrm2_up(vec, n), top = round_up(sqrt(round_up(maxsq * (1 + round_gamma(n + 2)))));
    return round_add_up(top, e);
  }
}

/* 1 when the order perm of a sort group (member m at position perm[m])
   agrees with every fixed pair unit of the group (units u0, u0 + 1, ...,
   fixed when below d, st[u] != 0 meaning "the first member is larger"). */
static int order_agrees(const layer *l, const int *perm, int g, const unsigned char *st, size_t u0, int d)
{
  size_t u = u0;
  for (int m1 = 0; m1 < g; m1++)
    for (int m2 = m1 + 1; m2 < g; m2++, u++)
      if ((long)u < d) {
        int big1 = l->desc ? perm[m1] < perm[m2] : perm[m1] > perm[m2];
        if (big1 != (st[u] != 0)) return 0;
      }
  return 1;
}

/* Single-row nets whose last hidden layer is sort groups of 3 to 5, every
   layer before it fixed: the largest ||J|| over every combination of the
   open groups' orders consistent with the fixed pairs (at most 2^15
   combinations), rounding bounded as in enum_bound; HUGE_VAL when not
   applicable.  Each group's order is a permutation pi (member m at output
   position pi[m]); the gradient is sum_groups sum_m w[pos pi[m]] * row m of
   dz/dx. */
static double sort_enum_bound(sb *S, const unsigned char *st, int d)
{
  int lk = S->nl - 2, g, perms[120][5], np = 0, nperm[64], pi[5];
  layer *l;
  size_t n = S->n, ng, nopen = 0, gu;
  double *P, *Pr, *w = (double *)S->Wrow, *base, *T, *Rr, *cv, *part, maxsq = 0, comb = 1;
  if (S->m != 1 || lk < 0 || S->o->norm != CB_NORM_2 || S->Wrad) return HUGE_VAL;   /* its error terms are L2's, for an exact row */
  l = &S->L[lk];
  if (l->act != 1 || l->g < 3 || l->g > 5 || (size_t)d < l->u0) return HUGE_VAL;
  g = (int)l->g; ng = l->out / (size_t)g; gu = group_units(l);
  np = all_perms(g, perms);
  jac_from(S, st, d, l->W, l->out, lk - 1, 0);
  P = S->C; Pr = S->R;
  base = S->E; T = base + n; Rr = T + n; part = Rr + n;   /* part: (ng + 1) x n partial sums */
  cv = S->cvb;                                            /* per open group: up to 120 x n */
  if (ng > 16) return HUGE_VAL;                           /* part: (ng + 1) x n within S->E */
  for (size_t q = 0; q < n; q++) { base[q] = 0; T[q] = 0; Rr[q] = 0; }
  for (size_t q = 0; q < ng; q++) {
    size_t u0 = l->u0 + q * gu;
    double wm = 0;
    int cnt = 0, first = -1;
    for (int m = 0; m < g; m++) wm = fmax(wm, fabs(w[gmember(l, q, m)]));
    for (int m = 0; m < g; m++)
      for (size_t c = 0; c < n; c++) {
        T[c] += wm * fabs(P[gmember(l, q, m) * n + c]);
        Rr[c] += wm * Pr[gmember(l, q, m) * n + c];
      }
    for (int k = 0; k < np; k++) {
      if (!order_agrees(l, perms[k], g, st, u0, d)) continue;
      if (first < 0) first = k;
      cnt++;
      if (cnt > 1) break;
    }
    if (cnt == 0) return HUGE_VAL;   /* an inconsistent order: the LP prunes the region */
    if (cnt == 1) {
      for (int m = 0; m < g; m++) {
        double wv = w[gmember(l, q, perms[first][m])];
        for (size_t c = 0; c < n; c++) base[c] += wv * P[gmember(l, q, m) * n + c];
      }
    } else {
      if (nopen == 4) return HUGE_VAL;   /* cv holds 4 groups */
      nperm[nopen] = 0;
      for (int k = 0; k < np; k++) {
        double *v;
        if (!order_agrees(l, perms[k], g, st, u0, d)) continue;
        v = cv + (nopen * 120 + (size_t)nperm[nopen]) * n;
        for (size_t c = 0; c < n; c++) v[c] = 0;
        for (int m = 0; m < g; m++) {
          double wv = w[gmember(l, q, perms[k][m])];
          for (size_t c = 0; c < n; c++) v[c] += wv * P[gmember(l, q, m) * n + c];
        }
        nperm[nopen]++;
      }
      comb *= nperm[nopen];
      nopen++;
      if (comb > 32768) return HUGE_VAL;
    }
  }
  /* odometer over the open groups, partial sums per level (no drift) */
  memcpy(part, base, n * sizeof *part);
  for (size_t k = 0; k < nopen; k++) pi[k] = 0;
  for (;;) {
    for (size_t k = 0; k < nopen; k++) {
      const double *v = cv + (k * 120 + (size_t)pi[k]) * n;
      for (size_t c = 0; c < n; c++) part[(k + 1) * n + c] = part[k * n + c] + v[c];
    }
    {
      const double *f = part + nopen * n;
      double sq = 0;
      for (size_t c = 0; c < n; c++) sq += f[c] * f[c];
      if (sq > maxsq) maxsq = sq;
    }
    {
      long k = (long)nopen - 1;
      while (k >= 0 && ++pi[k] == nperm[k]) { pi[k] = 0; k--; }
      if (k < 0) break;
    }
  }
  /* |computed - real| per entry <= Rr (the rows' radii) + gamma(g ng + ng + 8) T
     (base sums up to g ng products, a combination adds ng + 1 vectors) */
  {
    double e, top, gm = round_gamma((size_t)g * ng + ng + 8);
    for (size_t c = 0; c < n; c++) T[c] = round_up(round_up(Rr[c] * (1 + gm)) + round_up(T[c] * 2 * gm) + 1e-300);
    e = round_nrm2_up(T, n);
    top = round_up(sqrt(round_up(maxsq * (1 + round_gamma(n + 2)))));
    return round_add_up(top, e);
  }
}

/* ---- points: the pattern and the Jacobian norm at x (double) ---- */

/* Full states at x into st2; returns the smallest |margin| / ||row|| (the
   distance to the nearest kink, approximately). */
static void states_at(sb *S, const double *x, unsigned char *st2)
{
  double *a = S->z, *z = S->z2;
  memcpy(a, x, S->n * sizeof *a);
  for (int k = 0; k + 1 < S->nl; k++) {
    layer *l = &S->L[k];
    for (size_t r = 0; r < l->out; r++) {
      double s = l->b[r];
      for (size_t q = 0; q < l->in; q++) s += l->W[r * l->in + q] * a[q];
      z[r] = s;
    }
    for (size_t uu = l->u0; uu < l->u0 + l->nu; uu++) {
      unit *U = &S->U[uu];
      if (l->act == 0) { st2[uu] = z[U->a] > 0; a[U->a] = fmax(z[U->a], 0); S->um[uu] = z[U->a]; }
      else { S->um[uu] = z[U->a] - z[U->b]; st2[uu] = z[U->a] > z[U->b]; }
    }
    if (l->act == 1)
      for (size_t q = 0; q < l->out / (size_t)l->g; q++) {
        int lo[8], hi[8];
        group_pos(l, st2, l->u0 + q * group_units(l), LONG_MAX, lo, hi);
        for (int m = 0; m < l->g; m++) a[gmember(l, q, lo[m])] = z[gmember(l, q, m)];
      }
  }
}

/* ||J|| at the full pattern st2 (double estimate) and its top right singular
   direction in S->bestv-like vector v (n). */
static double jac_norm_est(sb *S, const unsigned char *st2, double *v)
{
  size_t m = S->m, n = S->n;
  jac_bound(S, st2, (int)S->nu);
  if (S->o->norm != CB_NORM_2) {
    /* L-inf: the largest row sum, attained along v = the signs of that row;
       L1: the largest column sum, attained along that input's unit vector */
    int inf = S->o->norm == CB_NORM_INF;
    size_t outer = inf ? m : n, inner = inf ? n : m, top = 0;
    double best = -1;
    for (size_t i = 0; i < outer; i++) {
      double sum = 0;
      for (size_t q = 0; q < inner; q++) sum += fabs(S->C[inf ? i * n + q : q * n + i]);
      if (sum > best) { best = sum; top = i; }
    }
    for (size_t q = 0; q < n; q++) v[q] = inf ? (S->C[top * n + q] < 0 ? -1 : 1) : (q == top ? 1 : 0);
    return best;
  }
  if (m == 1) {
    double s = 0;
    for (size_t q = 0; q < n; q++) s += S->C[q] * S->C[q];
    s = sqrt(s);
    for (size_t q = 0; q < n; q++) v[q] = s > 0 ? S->C[q] / s : 0;
    return s;
  } else {
    /* power iteration on C^T C */
    double *u = S->z, nv = 0, sig = 0;
    for (size_t q = 0; q < n; q++) v[q] = 1.0 / (double)(q + 1);
    for (int it = 0; it < 300; it++) {
      double s = 0;
      for (size_t i = 0; i < m; i++) { u[i] = 0; for (size_t q = 0; q < n; q++) u[i] += S->C[i * n + q] * v[q]; }
      for (size_t q = 0; q < n; q++) { double t = 0; for (size_t i = 0; i < m; i++) t += S->C[i * n + q] * u[i]; v[q] = t; s += t * t; }
      nv = sqrt(s);
      if (!(nv > 0)) return 0;
      for (size_t q = 0; q < n; q++) v[q] /= nv;
      if (fabs(sqrt(nv) - sig) <= 1e-15 * sig) { sig = sqrt(nv); break; }
      sig = sqrt(nv);
    }
    return sig;
  }
}

static void try_point(sb *S, const double *x)
{
  unsigned char *st2 = (unsigned char *)(S->v + S->n);
  double *v = S->xp, g;
  states_at(S, x, st2);
  g = jac_norm_est(S, st2, v);
  if (g > S->best || !S->have) {
    S->best = g; S->have = 1;
    memcpy(S->bestx, x, S->n * sizeof *x);
    memcpy(S->bestv, v, S->n * sizeof *v);
  }
}

/* Lower-side warm start: the Jacobian norm at sampled points (uniform in the
   box, or in cubes of half-width 0.01 .. 1000 around 0 for R^n), then a
   random local search around the best point at shrinking scales.  Only
   raises S->best (a norm some real point attains; the final lower is the
   exact secant there).  About 2e8 flops at most. */
static uint64_t lcg(uint64_t *s) { *s = *s * 6364136223846793005ull + 1442695040888963407ull; return *s >> 11; }
static double urand01(uint64_t *s) { return (double)lcg(s) / 9007199254740992.0; }

static void warm_points(sb *S)
{
  size_t n = S->n, cost = 1, np;
  double *x = S->hv, *b = S->cvb;   /* n each: hv holds wmax >= n, cvb 480 n */
  uint64_t sd = 12345;
  for (int k = 0; k < S->nl; k++) cost += 2 * S->L[k].out * S->L[k].in + S->m * S->L[k].out * S->L[k].in;
  np = (size_t)(2e8 / (double)cost);
  if (np > 4096) np = 4096;
  for (size_t i = 0; i < np; i++) {
    double sc = pow(10.0, (double)(i % 6) - 2);
    for (size_t q = 0; q < n; q++) {
      double u = urand01(&sd);
      x[q] = S->o->lo ? S->o->lo[q] + (S->o->hi[q] - S->o->lo[q]) * u : sc * (2 * u - 1);
    }
    try_point(S, x);
  }
  if (!S->have) return;
  for (size_t i = 0; i < np; i++) {
    double xs = 0, sig;
    memcpy(b, S->bestx, n * sizeof *b);
    for (size_t q = 0; q < n; q++) xs = fmax(xs, fabs(b[q]));
    sig = fmax(xs, 1e-3) * pow(10.0, -3.0 * (double)i / (double)np);
    int in = 1;
    for (size_t q = 0; q < n; q++) {
      x[q] = b[q] + sig * (2 * urand01(&sd) - 1);
      if (S->o->lo) in &= x[q] > S->o->lo[q] && x[q] < S->o->hi[q];
    }
    if (in) try_point(S, x);   /* strictly inside a box: the secant needs room on one side */
  }
}

/* ---- heap ---- */

static int better(const node *a, const node *b) { return a->ub > b->ub || (a->ub == b->ub && a->depth > b->depth); }

static int heap_push(sb *S, node *b)
{
  size_t i;
  if (S->nheap == S->cap) {
    size_t nc = S->cap ? 2 * S->cap : 1024;
    node **h = cb_alloc(nc * sizeof *h);
    if (!h) return CB_ENOMEM;
    if (S->nheap) memcpy(h, S->heap, S->nheap * sizeof *h);
    cb_free(S->heap);
    S->heap = h; S->cap = nc;
  }
  i = S->nheap++;
  while (i > 0 && better(b, S->heap[(i - 1) / 2])) { S->heap[i] = S->heap[(i - 1) / 2]; i = (i - 1) / 2; }
  S->heap[i] = b;
  return CB_OK;
}

static node *heap_pop(sb *S)
{
  node *top = S->heap[0], *last = S->heap[--S->nheap];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= S->nheap) break;
    if (c + 1 < S->nheap && better(S->heap[c + 1], S->heap[c])) c++;
    if (!better(S->heap[c], last)) break;
    S->heap[i] = S->heap[c]; i = c;
  }
  if (S->nheap) S->heap[i] = last;
  return top;
}

static node *node_new(sb *S)
{
  node *b = cb_alloc(sizeof *b + S->nu + 8 + S->n * sizeof(double));
  if (!b) return NULL;
  memset(b, 0, sizeof *b);
  b->pt = (double *)(b + 1);
  b->st = (unsigned char *)(b->pt + S->n);
  return b;
}

/* ---- children ---- */

/* LP for node b (states st, d fixed): margin and point.  Returns 1 feasible
   (point set), 0 proven empty, 2 kept without a point. */
static int child_lp(sb *S, node *b)
{
  size_t n = S->n, n1 = n + 1, nr = 0, nur, d = (size_t)b->depth;
  int boxed = S->o->lo != NULL, rc;
  double *a = S->ap, *lw = S->lp, *ylo = S->cp, *yhi = ylo + n1, *y = S->z, t;
  double *c0 = S->mo2;   /* scratch for the LP's constant column */
  int lastk = -1;
  (void)c0;
  /* rows: units 0..d-1 (normalised, negated: lp_minmax minimises max of a.y) */
  for (size_t u = 0; u < d; u++) {
    double c, nn = 0;
    if (S->U[u].layer != lastk) { lastk = S->U[u].layer; affine_to(S, b->st, lastk); }
    unit_row(S, u, b->st[u], a + nr * n1, &c);
    a[nr * n1 + n] = c;
    for (size_t q = 0; q < n1; q++) nn += a[nr * n1 + q] * a[nr * n1 + q];
    nn = sqrt(nn);
    if (!(nn > 0)) continue;   /* 0 >= 0 (in double): no constraint; the certificate never uses it */
    for (size_t q = 0; q < n1; q++) a[nr * n1 + q] = -a[nr * n1 + q] / nn;
    S->rn[nr] = nn;
    S->ru[nr] = u;
    nr++;
  }
  nur = nr;
  if (boxed)
    for (size_t q = 0; q < n; q++) {
      double nl = sqrt(1 + S->o->lo[q] * S->o->lo[q]), nh = sqrt(1 + S->o->hi[q] * S->o->hi[q]);
      memset(a + nr * n1, 0, n1 * sizeof *a);
      a[nr * n1 + q] = -1 / nl; a[nr * n1 + n] = S->o->lo[q] / nl; S->rn[nr] = nl; nr++;
      memset(a + nr * n1, 0, n1 * sizeof *a);
      a[nr * n1 + q] = 1 / nh; a[nr * n1 + n] = -S->o->hi[q] / nh; S->rn[nr] = nh; nr++;
    }
  memset(a + nr * n1, 0, n1 * sizeof *a);
  a[nr * n1 + n] = -1; S->rn[nr] = 1; nr++;
  for (size_t q = 0; q < n; q++) { ylo[q] = -1; yhi[q] = 1; }
  ylo[n] = 0; yhi[n] = 1;
  memset(S->cp + 2 * n1, 0, nr * sizeof(double));
  S->lps++;
  rc = lp_minmax(a, S->cp + 2 * n1, nr, n1, ylo, yhi, y, lw, &t);
  if (rc == 1 && -t > 1e-9 && y[n] > 0) {
    /* GLPK's point meets the box rows only within its tolerances (and y / t
       rounds): clamped, so the points the lower is taken at are in the box */
    for (size_t q = 0; q < n; q++) {
      b->pt[q] = y[q] / y[n];
      if (boxed) b->pt[q] = fmin(fmax(b->pt[q], S->o->lo[q]), S->o->hi[q]);
    }
    b->margin = -t; b->has_pt = 1;
    return 1;
  }
  if (rc == 1 && certify_empty(S, b->st, (int)nur, lw, nr)) return 0;
  b->has_pt = 0;
  return 2;
}

/* ---- the lower's certified secant ---- */

static int secant(sb *S, double *y, double *out, cb_error *err)
{
  const double *x = S->bestx, *v = S->bestv;
  size_t n = S->n, no = cb_net_output_size(S->net);
  cb_exact *ex = NULL;
  double *ax = S->C2, *bx = ax + no, best = 0, xs = 0, *yy = S->z;
  int rc;
  *out = 0;
  memcpy(y, x, n * sizeof *y);
  if ((rc = exact_eval(S->net, x, &ex, err)) != CB_OK) return rc;
  for (size_t j = 0; j < no; j++) exact_output(ex, j, &ax[j], &bx[j]);
  exact_free(ex);
  for (size_t q = 0; q < n; q++) xs = fmax(xs, fabs(x[q]));
  for (double t = 1e-3 * fmax(xs, 1); t > 1e-12 * fmax(xs, 1); t /= 8) {
    for (int sg = 1; sg >= -1; sg -= 2) {
      double num = 0, den = 0;
      int in = 1;
      for (size_t q = 0; q < n; q++) {
        yy[q] = x[q] + sg * t * v[q];
        if (S->o->lo) in &= yy[q] >= S->o->lo[q] && yy[q] <= S->o->hi[q];
      }
      if (!in) continue;
      if ((rc = exact_eval(S->net, yy, &ex, err)) != CB_OK) return rc;
      if (S->o->margin_i >= 0) {   /* |(f_I - f_J)(y) - (f_I - f_J)(x)| >= the enclosures' smaller side */
        double iy0, iy1, jy0, jy1, lo, hi;
        size_t I = (size_t)S->o->margin_i, J = (size_t)S->o->margin_j;
        exact_output(ex, I, &iy0, &iy1);
        exact_output(ex, J, &jy0, &jy1);
        /* d = (iy - jy) - (ix - jx): lo = iy0 - jy1 - ix1 + jx0, hi = iy1 - jy0 - ix0 + jx1 */
        lo = round_add_rd(round_add_rd(iy0, -jy1), round_add_rd(-bx[I], ax[J]));
        hi = round_add_ru(round_add_ru(iy1, -jy0), round_add_ru(-ax[I], bx[J]));
        num = fmax(0, fmax(lo, -hi));
        if (S->o->norm == CB_NORM_2) num = round_mul_rd(num, num);
      }
      for (size_t j = 0; j < (S->o->margin_i >= 0 ? 0 : no); j++) {
        double ay, by, dj;
        if (S->o->row >= 0 && (long)j != S->o->row) continue;
        exact_output(ex, j, &ay, &by);
        dj = fmax(0, fmax(round_add_rd(ay, -bx[j]), round_add_rd(ax[j], -by)));
        if (S->o->norm == CB_NORM_INF) num = fmax(num, dj);
        else if (S->o->norm == CB_NORM_1) num = round_add_rd(num, dj);
        else num = round_add_rd(num, round_mul_rd(dj, dj));
      }
      exact_free(ex);
      if (S->o->norm == CB_NORM_2) num = round_next_down(sqrt(num));
      for (size_t q = 0; q < n; q++) {
        double dq = round_up(fabs(yy[q] - x[q]));
        if (S->o->norm == CB_NORM_INF) den = fmax(den, dq);
        else if (S->o->norm == CB_NORM_1) den = round_add_ru(den, dq);
        else den = round_add_ru(den, round_mul_ru(dq, dq));
      }
      if (S->o->norm == CB_NORM_2) den = round_next_up(sqrt(den));
      if (num > 0 && den > 0) {
        double val = round_div_rd(num, den);
        if (val > best) { best = val; memcpy(y, yy, n * sizeof *y); }
      }
    }
  }
  *out = best;
  return CB_OK;
}

/* ---- the search ---- */

static void sb_free(sb *S)
{
  for (size_t i = 0; i < S->nheap; i++) cb_free(S->heap[i]);
  cb_free(S->heap); cb_free(S->L); cb_free(S->U); cb_free(S->blk); cb_free(S->um); cb_free(S->rn); cb_free(S->ru); cb_free(S->E); cb_free(S->Cb); cb_free(S->Hs); cb_free(S->hv); cb_free(S->cvb); cb_free(S->tail); cb_free(S->st2); cb_free(S->Wmar);
}

static int sign_bab(const cb_net *net, const lip_sign_opts *o, lip_sign_result *r, double *x, double *y,
                    cb_error *err)
{
  sb S;
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net), tot, nrmax;
  double t0 = now(), upper_done = 0, ub;
  node *b;
  int rc;
  memset(&S, 0, sizeof S);
  memset(r, 0, sizeof *r);
  r->t_report = -1;
  S.net = net; S.o = o; S.n = n;
  if ((rc = extract(&S, err)) != CB_OK) return rc;
  if (o->norm != CB_NORM_2 && o->norm != CB_NORM_INF && o->norm != CB_NORM_1) {
    sb_free(&S);
    return cb_error_set(err, CB_EVALUE, "lipschitz --split sign: the norm must be 2, inf or 1");
  }
  if (o->margin_i >= 0 && (o->margin_i >= (long)no || o->margin_j < 0 || o->margin_j >= (long)no || o->margin_i == o->margin_j || o->row >= 0)) {
    sb_free(&S);
    return cb_error_set(err, CB_EVALUE, "lipschitz bracket: margin %ld:%ld: wants two different outputs below %zu (and no row)", o->margin_i, o->margin_j, no);
  }
  if (o->row >= (long)no) { sb_free(&S); return cb_error_set(err, CB_EVALUE, "lipschitz bracket: output row %ld: the network has %zu outputs", o->row, no); }
  if (o->lo)
    for (size_t q = 0; q < n; q++)
      if (!(isfinite(o->lo[q]) && isfinite(o->hi[q]) && o->lo[q] <= o->hi[q])) {
        sb_free(&S);
        return cb_error_set(err, CB_EVALUE, "lipschitz bracket: input %zu: the domain [%g, %g] is not a finite interval", q, o->lo[q], o->hi[q]);
      }
  S.wmax = n;
  for (int k = 0; k < S.nl; k++) S.wmax = S.L[k].out > S.wmax ? S.L[k].out : S.wmax;
  {   /* a sort group of g entries has g (g - 1) / 2 pair units: more than its entries when g > 3 */
    size_t nu = 1;
    for (int k = 0; k + 1 < S.nl; k++)
      nu += S.L[k].act == 0 ? S.L[k].out : S.L[k].out / (size_t)S.L[k].g * (size_t)(S.L[k].g * (S.L[k].g - 1) / 2);
    S.U = cb_alloc(nu * sizeof *S.U);
  }
  S.m = o->row >= 0 ? 1 : no;
  S.Wrow = S.L[S.nl - 1].W + (o->row >= 0 ? (size_t)o->row * S.L[S.nl - 1].in : 0);
  if (o->margin_i >= 0) {   /* f_I - f_J: the row W_I - W_J, rounded, with its exact error bound */
    size_t w = S.L[S.nl - 1].in;
    const double *wi = S.L[S.nl - 1].W + (size_t)o->margin_i * w, *wj = S.L[S.nl - 1].W + (size_t)o->margin_j * w;
    int any = 0;
    S.m = 1;
    S.Wmar = cb_alloc(2 * w * sizeof *S.Wmar);
    if (!S.Wmar) { sb_free(&S); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
    for (size_t q = 0; q < w; q++) {
      double dq = wi[q] - wj[q], e = fabs(round_two_sum_err(wi[q], -wj[q], dq));
      S.Wmar[q] = dq;
      S.Wmar[w + q] = e > 0 ? round_next_up(e) : 0;
      any |= e > 0 || !isfinite(dq);
    }
    S.Wrow = S.Wmar;
    if (any) S.Wrad = S.Wmar + w;
  }
  if (!S.U) { sb_free(&S); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  units(&S);
  nrmax = S.nu + 2 * n + 2;
  tot = 4 * S.m * S.wmax + 2 * S.wmax + 2 * S.wmax * n + 2 * S.wmax + S.m * n + nrmax * (n + 1) +
        2 * (n + 1) + nrmax + nrmax + 3 * n + S.nu + 16 + n + 2 * no;
  S.blk = cb_alloc(tot * sizeof(double));
  S.um = cb_alloc((S.nu + 1) * sizeof(double));
  S.rn = cb_alloc(nrmax * sizeof(double));
  S.ru = cb_alloc(nrmax * sizeof(size_t));
  {
    size_t cs = (S.m + S.wmax) * S.wmax + 2 * no + 2;
    S.Cb = cb_alloc(4 * cs * sizeof(double));
    S.E = cb_alloc((20 * n + 8) * sizeof(double));
    S.Hs = cb_alloc((2 * S.wmax * S.wmax + 8) * sizeof(double));
    S.hv = cb_alloc((S.wmax + 8) * sizeof(double));
    S.cvb = cb_alloc((4 * 120 * n + 8) * sizeof(double));
    S.st2 = cb_alloc(S.nu + 8);
    if (S.Cb) { S.C = S.Cb; S.R = S.C + cs; S.C2 = S.R + cs; S.R2 = S.C2 + cs; }
  }
  if (!S.blk || !S.Cb || !S.E || !S.Hs || !S.hv || !S.cvb || !S.st2 || !S.um || !S.rn || !S.ru) { sb_free(&S); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  memset(S.blk, 0, tot * sizeof(double));
  S.z = S.blk; S.z2 = S.z + S.wmax;
  S.M = S.z2 + S.wmax; S.M2 = S.M + S.wmax * n; S.mo = S.M2 + S.wmax * n; S.mo2 = S.mo + S.wmax;
  S.A = S.mo2 + S.wmax; S.ap = S.A + S.m * n; S.cp = S.ap + nrmax * (n + 1);
  S.lp = S.cp + 2 * (n + 1) + nrmax; S.xp = S.lp + nrmax; S.bestv = S.xp + n; S.v = S.bestv + n;
  /* S.v: n doubles then nu state bytes (within the remaining 16 + n + S.nu doubles) */
  S.bestx = x;
  S.best = 0;
  /* the LP's constant column (zeros) sits at S.cp + 2 (n + 1): nrmax entries */
  if (!(b = node_new(&S))) { sb_free(&S); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  for (size_t q = 0; q < n; q++) b->pt[q] = o->lo ? 0.5 * (o->lo[q] + o->hi[q]) : 0;
  b->has_pt = 1; b->margin = 1;
  jac_bound(&S, b->st, 0);
  b->ub = norm_up(&S);
  if (!o->no_head && tails(&S) != CB_OK) { cb_free(b); sb_free(&S); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  b->ub = fmin(b->ub, head_bound(&S, b->st, 0));
  if (o->cap > 0) b->ub = fmin(b->ub, o->cap);
  try_point(&S, b->pt);
  if (!o->no_warm) warm_points(&S);
  if (heap_push(&S, b) != CB_OK) { cb_free(b); sb_free(&S); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  r->stop = "done";
  while (S.nheap || upper_done > 0) {
    ub = fmax(S.nheap ? S.heap[0]->ub : 0, upper_done);
    if (ub - S.best <= o->report_gap * ub && r->t_report < 0) r->t_report = now() - t0;
    if (ub - S.best <= o->gap * ub) { r->stop = "gap"; break; }
    if (!S.nheap) { r->stop = "done"; break; }
    if (S.nodes >= o->max_nodes) { r->stop = "nodes"; break; }
    if ((o->seconds > 0 && now() - t0 > o->seconds) || cb_time_up()) { r->stop = "time"; break; }
    b = heap_pop(&S);
    if (b->depth == (int)S.nu) {   /* a leaf: its bound is the region's norm */
      if (!b->has_pt) upper_done = fmax(upper_done, b->ub);
      else {
        upper_done = fmax(upper_done, b->ub);
        try_point(&S, b->pt);
      }
      cb_free(b);
      continue;
    }
    {
      size_t u = (size_t)b->depth;
      int s0 = -1;
      if (b->has_pt) {
        unsigned char *st2 = (unsigned char *)(S.v + n);
        double zz;
        states_at(&S, b->pt, st2);
        s0 = st2[u];
        /* the point goes to the child on its side only if clearly away from the kink */
        zz = S.um[u];
        if (!(fabs(zz) > 1e-9 * (1 + fabs(zz)))) s0 = -1;
      }
      for (int s = 1; s >= 0; s--) {
        node *c = node_new(&S);
        int f;
        if (!c) { cb_free(b); sb_free(&S); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
        memcpy(c->st, b->st, S.nu);
        c->st[u] = (unsigned char)s;
        c->depth = b->depth + 1;
        if (s == s0) { memcpy(c->pt, b->pt, n * sizeof *c->pt); c->has_pt = 1; c->margin = b->margin; f = 1; }
        else f = child_lp(&S, c);
        S.nodes++;
        if (f == 0) { S.pruned++; cb_free(c); continue; }
        if (f == 2) S.kept++;
        jac_bound(&S, c->st, c->depth);
        c->ub = fmin(norm_up(&S), b->ub);
        c->ub = fmin(c->ub, enum_bound(&S, c->st, c->depth));
        c->ub = fmin(c->ub, head_bound(&S, c->st, c->depth));
        c->ub = fmin(c->ub, sort_enum_bound(&S, c->st, c->depth));
        if (c->ub > S.best) c->ub = fmin(c->ub, head_enum_bound(&S, c->st, c->depth));
        if (c->has_pt && s != s0) try_point(&S, c->pt);
        if (c->ub <= S.best) { upper_done = fmax(upper_done, c->ub); cb_free(c); continue; }   /* settled: its bound is kept */
        if (heap_push(&S, c) != CB_OK) { cb_free(c); cb_free(b); sb_free(&S); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
      }
      cb_free(b);
    }
  }
  ub = fmax(S.nheap ? S.heap[0]->ub : 0, upper_done);
  r->upper = ub;
  r->grad_norm = S.best;
  r->nodes = S.nodes; r->lps = S.lps; r->pruned = S.pruned; r->kept_uncertified = S.kept; r->open = (long)S.nheap;
  rc = secant(&S, y, &r->lower, err);
  if (rc == CB_OK && r->lower > r->upper) r->upper = r->lower;   /* both sound: lower <= L <= upper; never reached */
  r->gap = r->upper > 0 ? (r->upper - r->lower) / r->upper : 0;
  r->seconds = now() - t0;
  sb_free(&S);
  return rc;
}

/* OpenBLAS on one thread: the search's eigenproblems are at most 64 x 64,
   where its worker threads only spin (a fifth of the time on this machine). */
int lip_sign_bab(const cb_net *net, const lip_sign_opts *o, lip_sign_result *r, double *x, double *y,
                 cb_error *err)
{
  int rc;
  la_single_begin();
  rc = sign_bab(net, o, r, x, y, err);
  la_single_end();
  return rc;
}
