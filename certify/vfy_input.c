/*
** One subdomain of the input-splitting search (vfy_int.h), vfy_process:
**   1. bound: CROWN intermediate bounds started from the parent's boxes
**      (bounds_run_prior), then one not-concretised CROWN pass of the rows
**      (crown_linear) gives both their sound lower bounds and their linear
**      forms a_r . x + c_r.  A conjunction is refuted if some row's lower
**      bound is above its right-hand side (at or above for a strict row);
**   2. candidates: the centre (clamped into the inner box), then the LP
**      points below; a point meeting a conjunction is checked exactly;
**   3. joint refutation: for a live conjunction with several rows, GLPK
**      solves min over the box of max_r (a_r . x + c_r - b_r) (lp_minmax);
**      if positive, its row weights l give one combined row sum_r l_r A_r,
**      re-bounded by CROWN with its rounding added (combined_refutes);
**   4. ReLU splitting (vfy_relu.c) when few ReLUs of unknown sign are left;
**   5. else the split: the dimension and the side searched first.
**
** Sizes: ACAS Xu: 5 inputs, 1..4 rows per conjunction, ~0.3 ms per call,
** 1e2..1e6 calls per property.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "vfy_int.h"
#include "lp.h"
#include "fwdlin.h"
#include "round.h"

/* Sound lower bounds lb (may be NULL) of the rows C over the sub-box, and
   their linear forms a_r . x + c_r: one CROWN pass of -C (crown_linear); c_r
   is set so that the form's minimum over the box is lb_r.  a and c serve the
   branching score and the LP only (nothing is proved with them). */
static int linear_bounds(cb_ws *ws, const double *C, size_t q, size_t nx, double *a, double *c, double *lb, cb_error *err)
{
  size_t ny = ws->net->node[ws->net->output].size;
  double *nC = cb_alloc((q * ny + q + 1) * sizeof *nC), *out = nC + q * ny;
  int rc;
  if (!nC) return cb_error_set(err, CB_ENOMEM, "out of memory");
  for (size_t k = 0; k < q * ny; k++) nC[k] = -C[k];
  rc = crown_linear(ws, nC, q, a, out, err);
  for (size_t r = 0; r < q && rc == CB_OK; r++) {
    c[r] = vfy_lower_form(a + r * nx, out[r], ws->set.lo, ws->set.hi, nx, a + r * nx);
    if (lb) lb[r] = -out[r];
  }
  cb_free(nC);
  return rc;
}

/* Bounds of the rows over the item's box with the parent's node boxes as a
   prior.  Small inputs: one CROWN pass gives the rows' sound bounds and their
   linear forms (a, lc; *have_lin = 1), one pass fewer than bounds_spec +
   linear_bounds. */
static int prior_bound(const search *S, cb_ws *ws, const item *it, const double *C, size_t q, double *lb,
                       double *a, double *lc, int *have_lin, cb_error *err)
{
  const cb_net *net = S->net;
  double **pl = NULL, **ph = NULL;
  int rc;
  if (it->has_prior) {   /* plo and phi are one flat buffer (item_new) */
    if (!(pl = cb_alloc(2 * (size_t)net->n * sizeof *pl))) return cb_error_set(err, CB_ENOMEM, "out of memory");
    ph = pl + net->n;
    vfy_boxes_ptrs(S, it->plo, pl);
  }
  rc = bounds_run_prior(ws, S->o->method, pl, it->has_prior ? ph : NULL, err);
  cb_free(pl);
  if (rc != CB_OK) return rc;
  if (!vfy_low_dim(S->spec)) return bounds_spec(ws, C, q, lb, NULL, err);
  if ((rc = linear_bounds(ws, C, q, S->spec->nx, a, lc, lb, err)) == CB_OK) *have_lin = 1;
  return rc;
}

/* Copies the workspace's node boxes (lo then hi) into a new buffer. */
static double *save_prior(const search *S, const cb_ws *ws)
{
  double *p = cb_alloc(2 * S->nb * sizeof *p);
  if (p) vfy_boxes_out(S, ws, p);
  return p;
}

/* Sound check of the row combination l of conjunction k: lb of (sum l_r A_r) y
   over the box > sum l_r b_r refutes the conjunction (any y meeting it has
   (sum l_r A_r) y <= sum l_r b_r).  The rounding of the combined row and of
   its right-hand side is added explicitly. */
static int combined_refutes(cb_ws *ws, const vnn_conj *k, size_t ny, const double *l, double *g, int *refuted, cb_error *err)
{
  double rhs, lbg, slack = vfy_combine_rows(k, ny, l, 0, ws->zmax[ws->net->output], g, &rhs);
  int rc;
  if ((rc = bounds_spec(ws, g, 1, &lbg, NULL, err)) != CB_OK) return rc;
  *refuted = vfy_combination_refutes(lbg, slack, rhs);
  return CB_OK;
}

/* Branching score from linear bounds: dimension j scores w_j * |g_j| summed
   over the live conjunctions (g = their weighted rows' coefficients). */
static void add_score(double *score, const double *a, const double *l, size_t m, size_t nx, const double *lo, const double *hi)
{
  for (size_t j = 0; j < nx; j++) {
    double g = 0;
    for (size_t r = 0; r < m; r++) g += l[r] * a[r * nx + j];
    score[j] += fabs(g) * (hi[j] - lo[j]);
  }
}

/* The tighter checks on a live conjunction c of `it`: the LP over the rows'
   linear bounds gives a weighting l; its combination is re-bounded soundly.
   Adds the branching score; may turn off it->act[c]; *xs gets the LP point. */
static int refine_conj(const search *S, cb_ws *ws, item *it, size_t c, const double *a, const double *lc,
                       double *score, double *xs, int *have_x, double *tv, cb_error *err)
{
  const vnn_conj *k = &S->spec->box[it->box].conj[c];
  size_t nx = S->spec->nx, ny = S->spec->ny, m = k->m;
  double *l = cb_alloc((2 * m + ny + 1) * sizeof *l), *cc = l + m, *g = cc + m, t;
  int rc = CB_OK, res, refuted = 0;
  if (!l) return cb_error_set(err, CB_ENOMEM, "out of memory");
  for (size_t r = 0; r < m; r++) cc[r] = lc[r] - k->b_up[r];
  if (m == 1) {   /* one row: the minimiser of its linear form is a vertex */
    l[0] = 1;
    res = 0;
    t = cc[0];
    for (size_t j = 0; j < nx; j++) { xs[j] = a[j] > 0 ? it->lo[j] : it->hi[j]; t += a[j] * xs[j]; }
    *tv = t;
    *have_x = 1;
  }
  else if ((res = lp_minmax(a, cc, m, nx, it->lo, it->hi, xs, l, &t)) < 0) { rc = cb_error_set(err, res, "out of memory in the LP"); goto out; }
  if (res == 1) {
    *have_x = 1;
    *tv = t;
    if (t > 0 && (rc = combined_refutes(ws, k, ny, l, g, &refuted, err)) != CB_OK) goto out;
    if (refuted) { it->act[c] = 0; goto out; }
  } else for (size_t r = 0; r < m; r++) l[r] = 1.0 / (double)m;
  add_score(score, a, l, m, nx, it->lo, it->hi);
out:
  cb_free(l);
  return rc;
}

/* Linear lower bounds of the rows C from the output's forward linear bounds
   (lower function where C_rj > 0, upper where C_rj < 0); heuristic use only. */
static void fwd_rows(const double *C, size_t q, size_t ny, size_t nx, const double *Flo, const double *Fhi,
                     double *a, double *c)
{
  size_t p = nx + 1;
  for (size_t r = 0; r < q; r++) {
    c[r] = 0;
    for (size_t j = 0; j < nx; j++) a[r * nx + j] = 0;
    for (size_t k = 0; k < ny; k++) {
      double w = C[r * ny + k];
      const double *f = w > 0 ? Flo + k * p : Fhi + k * p;
      if (w == 0) continue;
      for (size_t j = 0; j < nx; j++) a[r * nx + j] += w * f[j];
      c[r] += w * f[nx];
    }
  }
}

/*
** Ties end.  Where the property is decided only at the scale of rounding
** error (a tie, or a margin of 1e-18), bounds never close it and bisection
** would go on to adjacent doubles (depth 200 and more).  The search stops
** splitting, and leaves the subdomain open (answer unknown), when
**   - a dimension is narrower than PREC_FLOOR times its width in the
**     property's box: it is not split any more; none left: open;
**   - (low-dimensional inputs) every row of every live conjunction varies
**     over the box by at most PREC_FLOOR of its magnitude: with a_r . x + c_r
**     the row's CROWN form, sum_j w_j |a_rj| <= PREC_FLOOR (|c_r| + |b_r| +
**     sum_j |a_rj| max(|lo_j|, |hi_j|)).  Splitting cannot move its bound by
**     more than the rounding slack the bound already carries.
** 2^-40 is ~1000 times the relative rounding error of a bound on the nets
** here; ACAS Xu's deepest subdomains are ~2^-25 of the box.
*/
#define PREC_FLOOR 0x1p-40

static int splittable(const item *it, const vnn_box *B, size_t j)
{
  double w = it->hi[j] - it->lo[j], mid = it->lo[j] + 0.5 * w;
  return w > PREC_FLOOR * (B->hi[j] - B->lo[j]) && mid > it->lo[j] && mid < it->hi[j];
}

static int at_precision(const search *S, const item *it, const double *a, const double *lc)
{
  const vnn_box *B = &S->spec->box[it->box];
  size_t nx = S->spec->nx;
  for (size_t c = 0; c < B->n_conj; c++) {
    const vnn_conj *k = &B->conj[c];
    if (!it->act[c]) continue;
    for (size_t r = 0; r < k->m; r++) {
      const double *ar = a + (S->row0[it->box][c] + r) * nx;
      double var = 0, mag = fabs(lc[S->row0[it->box][c] + r]) + fabs(k->b_up[r]);
      for (size_t j = 0; j < nx; j++) {
        var += (it->hi[j] - it->lo[j]) * fabs(ar[j]);
        mag += fabs(ar[j]) * fmax(fabs(it->lo[j]), fabs(it->hi[j]));
      }
      if (!(var <= PREC_FLOOR * mag)) return 0;
    }
  }
  return 1;
}

/* A subdomain left open at rounding scale may still hold an exact witness
   where its rows are extreme: at a vertex.  Tries, clamped into the inner
   box, the vertex minimising each live row's linear form a_r . x, and every
   vertex when there are at most 2^8.  1 with the witness in x (y, *c). */
static int leaf_vertices(const search *S, const item *it, const double *a, double *x, double *y, size_t *c)
{
  const vnn_box *B = &S->spec->box[it->box];
  size_t nx = S->spec->nx;
  for (size_t k = 0; k < B->n_conj; k++) {
    if (!it->act[k]) continue;
    for (size_t r = 0; r < B->conj[k].m; r++) {
      const double *ar = a + (S->row0[it->box][k] + r) * nx;
      for (size_t j = 0; j < nx; j++) x[j] = fmin(fmax(ar[j] >= 0 ? it->lo[j] : it->hi[j], B->lo_in[j]), B->hi_in[j]);
      if (vfy_check_witness(S->net, S->spec, it->box, x, y, c, &S->r->fp_only)) return 1;
    }
  }
  if (nx > 8) return 0;
  for (unsigned v = 0; v < (1u << nx); v++) {
    for (size_t j = 0; j < nx; j++) x[j] = fmin(fmax(v >> j & 1 ? it->hi[j] : it->lo[j], B->lo_in[j]), B->hi_in[j]);
    if (vfy_check_witness(S->net, S->spec, it->box, x, y, c, &S->r->fp_only)) return 1;
  }
  return 0;
}

/* Bounds item `it` with workspace ws; fills w (and it->act). */
void vfy_process(const search *S, cb_ws *ws, item *it, work *w, double *scratch)
{
  const vnn_spec *sp = S->spec;
  const vnn_box *B = &sp->box[it->box];
  size_t nx = sp->nx, ny = sp->ny, q = S->q[it->box], live = 0, c;
  double *lb = scratch, *x = lb + q + 1, *y = x + nx, *score = y + ny, *xb = score + nx, *a = NULL, *lc = NULL, *Flo, *Fhi;
  double best = 0, tbest = INFINITY;
  int rc, have_x = 0, have_lin = 0, u, low = vfy_low_dim(sp);
  ws->set.lo = it->lo;
  ws->set.hi = it->hi;
  w->o = O_SPLIT;
  w->states = 0;
  w->upper_first = 0;
  w->relu_fail = it->relu_fail;
  w->x = NULL;
  w->prior = NULL;
  w->dim = -1;
  a = cb_alloc((q * nx + q + 2 * (nx + 1) * ny + 1) * sizeof *a);
  if (!a) { w->o = O_ERROR; cb_error_set(&w->err, CB_ENOMEM, "out of memory"); return; }
  lc = a + q * nx;
  Flo = lc + q; Fhi = Flo + (nx + 1) * ny;
  if (S->fwd) rc = fwdlin_run(ws, Flo, Fhi, &w->err) ? w->err.status : bounds_spec(ws, S->C[it->box], q, lb, NULL, &w->err);
  else if (S->prior) rc = prior_bound(S, ws, it, S->C[it->box], q, lb, a, lc, &have_lin, &w->err);
  else rc = S->bound(S->o->bound_ctx, ws, S->o->method, S->C[it->box], q, lb, &w->err);
  if (rc != CB_OK) { w->o = O_ERROR; goto out; }
  for (size_t r = 0; r < q; r++)
    if (isnan(lb[r]) || lb[r] == INFINITY) { w->o = O_LEAF; snprintf(w->why, sizeof w->why, "NaN or +inf in a bound"); goto out; }
  for (c = 0; c < B->n_conj; c++) {
    const vnn_conj *k = &B->conj[c];
    size_t r0 = S->row0[it->box][c];
    if (!it->act[c]) continue;
    for (size_t r = 0; r < k->m && it->act[c]; r++)
      if (vfy_row_refutes(k, r, lb[r0 + r])) it->act[c] = 0;
    live += it->act[c];
  }
  if (!live) { w->o = O_CLOSED; goto out; }
  for (size_t j = 0; j < nx; j++)   /* candidate: the centre, clamped into the inner box */
    x[j] = fmin(fmax(it->lo[j] + 0.5 * (it->hi[j] - it->lo[j]), B->lo_in[j]), B->hi_in[j]);
  if (vfy_check_witness(S->net, sp, it->box, x, y, &c, &S->r->fp_only)) goto sat;
  /* linear bounds of every row, the LP per live conjunction, the score */
  memset(score, 0, nx * sizeof *score);
  if (!low) goto branch;   /* high dimension: no per-dimension linear bounds */
  if (S->fwd) fwd_rows(S->C[it->box], q, ny, nx, Flo, Fhi, a, lc);
  else if (!have_lin && linear_bounds(ws, S->C[it->box], q, nx, a, lc, NULL, &w->err) != CB_OK) { w->o = O_ERROR; goto out; }
  live = 0;
  for (c = 0; c < B->n_conj; c++) {
    size_t r0 = S->row0[it->box][c];
    if (!it->act[c]) continue;
    double tv = INFINITY;
    if (refine_conj(S, ws, it, c, a + r0 * nx, lc + r0, score, x, &have_x, &tv, &w->err) != CB_OK) { w->o = O_ERROR; goto out; }
    live += it->act[c];
    if (have_x) {   /* the LP minimiser is a candidate too */
      for (size_t j = 0; j < nx; j++) x[j] = fmin(fmax(x[j], B->lo_in[j]), B->hi_in[j]);
      if (it->act[c] && tv < tbest) { tbest = tv; memcpy(xb, x, nx * sizeof *x); }
      if (vfy_check_witness(S->net, sp, it->box, x, y, &c, &S->r->fp_only)) goto sat;
      have_x = 0;
    }
  }
  if (!live) { w->o = O_CLOSED; goto out; }
branch:
  w->relu_fail = it->relu_fail;
  if (S->o->relu_leaf > 0 && S->prior && vfy_net_has_relu(S->net) && (u = vfy_rs_count(ws)) > 0 &&
      (!low || u <= S->o->relu_leaf) && (!it->relu_fail || 3 * u <= 2 * it->relu_fail) &&
      (!low || S->rs_wasted <= 2 * S->rs_useful + RS_BASE)) {
    rres rr = vfy_relu_leaf(S, ws, it, u < RS_MAX_DEPTH ? u : RS_MAX_DEPTH, x, &w->states, &w->err);
    if (rr == R_OPEN) w->relu_fail = u;   /* not again on the sub-boxes until they are simpler */
    if (rr == R_CLOSED) { w->o = O_CLOSED; goto out; }
    if (rr == R_SAT) goto sat;
    if (rr == R_ERR) { w->o = O_ERROR; goto out; }
  }
  if (low && at_precision(S, it, a, lc)) {
    if (leaf_vertices(S, it, a, x, y, &c)) goto sat;
    w->o = O_LEAF;
    snprintf(w->why, sizeof w->why, "undecided below rounding error: the rows vary by < 2^-40 of their size");
    goto out;
  }
  for (size_t j = 0; j < nx; j++)
    if (score[j] > best && splittable(it, B, j)) { best = score[j]; w->dim = (int)j; }
  {  /* the widest dimension relative to the root box, when nothing scores or when
        the scored one is already ASPECT times narrower (the output's slope
        ignores the relaxation gap that a wide dimension causes) */
    int wide = -1;
    double rw = 0, rc_ = w->dim >= 0 ? (it->hi[w->dim] - it->lo[w->dim]) / (B->hi[w->dim] - B->lo[w->dim]) : 0;
    for (size_t j = 0; j < nx; j++) {
      double s = splittable(it, B, j) ? (it->hi[j] - it->lo[j]) / (B->hi[j] - B->lo[j]) : 0;
      if (s > rw) { rw = s; wide = (int)j; }
    }
    if (w->dim < 0 || rw > S->aspect * rc_) w->dim = wide;
  }
  if (w->dim < 0) {
    if (low && leaf_vertices(S, it, a, x, y, &c)) goto sat;
    w->o = O_LEAF; snprintf(w->why, sizeof w->why, "undecided at 2^-40 of the box's width (rounding scale)"); goto out;
  }
  double mid = it->lo[w->dim] + 0.5 * (it->hi[w->dim] - it->lo[w->dim]);
  w->upper_first = S->o->lp_side_first && low && tbest < INFINITY && xb[w->dim] > mid;   /* the most violated live conjunction's LP point */
  if (!(mid > it->lo[w->dim] && mid < it->hi[w->dim])) { w->o = O_LEAF; snprintf(w->why, sizeof w->why, "subdomain too small to split"); }
  else if (S->prior) w->prior = save_prior(S, ws);   /* NULL on OOM: the children start afresh */
  goto out;
sat:
  if ((w->x = cb_alloc(nx * sizeof *w->x))) { memcpy(w->x, x, nx * sizeof *x); w->o = O_SAT; }
out:
  cb_free(a);
}
