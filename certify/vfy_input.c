/*
** One subdomain of the input-splitting search (vfy_int.h): vfy_process
** bounds a sub-box and decides it, or says how to split it, in steps:
**   1. bound_rows: CROWN intermediate bounds started from the parent's
**      boxes (bounds_run_prior), then one not-concretised CROWN pass of the
**      rows (crown_linear) gives both their sound lower bounds and (low
**      dimension) their linear forms a_r . x + c_r.  A conjunction is
**      refuted where a row's lower bound is above its right-hand side (at or
**      above for a strict row).  When the spec's box holds no double, a box
**      on which a live conjunction holds everywhere ends the search
**      (no double in the box, below);
**   2. try_centre: the centre, clamped into the inner box, is checked
**      exactly as a witness;
**   3. refine_rows (low dimension): for a live conjunction with several
**      rows, GLPK solves min over the box of max_r (a_r . x + c_r - b_r)
**      (lp_minmax); if positive, its row weights l give one combined row
**      sum_r l_r A_r, re-bounded by CROWN with its rounding added
**      (combined_refutes).  The LP's minimiser is another candidate;
**   4. relu_step: ReLU splitting inside the box (vfy_relu.c) when few ReLUs
**      of unknown sign are left;
**   5. split_step: the rounding-scale stop (ties end, below), else the
**      dimension and side of choose_input_split, the branching rule.
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
   prior.  Low dimension: one CROWN pass gives the rows' sound bounds and their
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
   its right-hand side is added explicitly (vfy_combine_rows). */
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
  else if ((res = vfy_minmax(a, cc, m, nx, it->lo, it->hi, xs, l, &t)) < 0) { rc = cb_error_set(err, res, "out of memory in the LP"); goto out; }
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

/* ---- the input-splitting rule ---- */

/*
** Which dimension of the box to halve (at its midpoint; the two halves share
** it, so they cover the box), and which half to search first.
**   - score: the dimension with the largest score_j = w_j |sum_r l_r a_rj|
**     over the live conjunctions (refine_rows: a_r the rows' linear lower
**     forms, l the LP's weights), i.e. the one along which the bound moves
**     most;
**   - aspect guard: the widest dimension relative to the root box instead,
**     when nothing scores (high dimension: no forms) or when it is
**     S->aspect times wider than the scored one (the output's slope ignores
**     the relaxation gap that a wide dimension causes);
**   - precision floor: only dimensions that splittable() allows.
** *upper_first: the upper half first when it holds xlp, the LP point of the
** most violated live conjunction (lp_side_first, low dimension; xlp NULL:
** none: finds witnesses sooner), else the lower half.  Returns the
** dimension, or -1 when no dimension can be split.
*/
static int choose_input_split(const search *S, const item *it, const double *score, const double *xlp,
                              int *upper_first)
{
  const vnn_box *B = &S->spec->box[it->box];
  size_t nx = S->spec->nx;
  int dim = -1, wide = -1;
  double best = 0, rw = 0, rd, mid;
  for (size_t j = 0; j < nx; j++)
    if (score[j] > best && splittable(it, B, j)) { best = score[j]; dim = (int)j; }
  rd = dim >= 0 ? (it->hi[dim] - it->lo[dim]) / (B->hi[dim] - B->lo[dim]) : 0;
  for (size_t j = 0; j < nx; j++) {
    double s = splittable(it, B, j) ? (it->hi[j] - it->lo[j]) / (B->hi[j] - B->lo[j]) : 0;
    if (s > rw) { rw = s; wide = (int)j; }
  }
  if (dim < 0 || rw > S->aspect * rd) dim = wide;
  *upper_first = 0;
  if (dim < 0) return -1;
  mid = it->lo[dim] + 0.5 * (it->hi[dim] - it->lo[dim]);
  *upper_first = S->o->lp_side_first && vfy_low_dim(S->spec) && xlp && xlp[dim] > mid;
  return dim;
}

/* ---- one subdomain, step by step ---- */

typedef struct sub {      /* one call of vfy_process */
  const search *S;
  cb_ws *ws;              /* its node boxes: this box's, once bounded */
  item *it;
  work *w;
  const vnn_box *B;
  size_t nx, ny, q;       /* inputs, outputs, rows of all the box's conjunctions */
  int low;                /* vfy_low_dim */
  int have_lin;           /* a, lc hold the rows' forms (from the bounding pass) */
  int nodbl;              /* no double in the spec's box (no_double) */
  double *lb;             /* q: sound lower bounds of the rows */
  double *ub;             /* q: their upper bounds (holds_everywhere) */
  double *a, *lc;         /* q x nx, q: the rows' linear lower forms (low dimension) */
  double *Flo, *Fhi;      /* (nx + 1) x ny each: forward linear bounds (S->fwd) */
  double *x, *y;          /* nx, ny: a candidate and its output; the witness on O_SAT */
  double *score;          /* nx: branching score per dimension */
  double *xb;             /* nx: the LP point of the most violated live conjunction */
  double tbest;           /* its LP value; INFINITY: no LP point */
} sub;

/* Is any conjunction of `it` still live? */
static int any_live(const sub *D)
{
  for (size_t c = 0; c < D->B->n_conj; c++) if (D->it->act[c]) return 1;
  return 0;
}

/*
** No double in the box.  A VNNLIB file may pin an input to a decimal that is
** not a double (Collins RUL: X_0 = -0.432882241988499, about 170 of 400
** inputs): the real box then holds no double, and a witness must be a
** rational point (vfy_check_witness takes the exact decimals there).  Where
** the property holds on the whole of a subdomain, no split refutes it, and
** the search bisected the free inputs down to the rounding floor until the
** timeout (2^80 boxes for 2 free inputs).  So, when the spec's inner box is
** empty, a subdomain whose rows' sound upper bounds meet every row of a
** live conjunction (ub < b_dn if strict, ub <= b_dn otherwise; b_dn <= b,
** the real right-hand side) is O_REAL: the property holds in real
** arithmetic at every point of the box, so it is not split further; the
** point at the exact decimals in it is checked as the witness (verify.c,
** apply_open), and if that fails it is an undecided leaf.  One more CROWN
** pass per subdomain, only for such specs.
*/
static size_t no_double(const vnn_box *B, size_t nx)   /* the first input with no double, or nx */
{
  size_t j = 0;
  while (j < nx && B->lo_in[j] <= B->hi_in[j]) j++;
  return j;
}

static int row_holds(const vnn_conj *k, size_t r, double ub)
{
  return k->strict[r] ? ub < k->b_dn[r] : ub <= k->b_dn[r];
}

static outcome holds_everywhere(sub *D)
{
  const search *S = D->S;
  item *it = D->it;
  if (bounds_spec(D->ws, S->C[it->box], D->q, NULL, D->ub, &D->w->err) != CB_OK) return O_ERROR;
  for (size_t c = 0; c < D->B->n_conj; c++) {
    const vnn_conj *k = &D->B->conj[c];
    const double *ub = D->ub + S->row0[it->box][c];
    size_t r = 0;
    if (!it->act[c]) continue;
    while (r < k->m && row_holds(k, r, ub[r])) r++;
    if (r < k->m) continue;
    snprintf(D->w->why, sizeof D->w->why, "conjunction %zu met on the whole box; X_%zu is pinned between two doubles",
             c, no_double(D->B, D->nx));
    return O_REAL;
  }
  return O_SPLIT;
}

/* Step 1: the rows' sound lower bounds over the box (and, in low dimension,
   their linear forms from the same CROWN pass); closes the conjunctions one
   of whose rows they refute; with no double in the box, O_REAL where a
   conjunction holds on all of it (holds_everywhere).  O_SPLIT: go on. */
static outcome bound_rows(sub *D)
{
  const search *S = D->S;
  item *it = D->it;
  const double *C = S->C[it->box];
  int rc;
  if (S->fwd) rc = fwdlin_run(D->ws, D->Flo, D->Fhi, &D->w->err) ? D->w->err.status : bounds_spec(D->ws, C, D->q, D->lb, NULL, &D->w->err);
  else if (S->prior) rc = prior_bound(S, D->ws, it, C, D->q, D->lb, D->a, D->lc, &D->have_lin, &D->w->err);
  else rc = S->bound(S->o->bound_ctx, D->ws, S->o->method, C, D->q, D->lb, &D->w->err);
  if (rc != CB_OK) return O_ERROR;
  for (size_t r = 0; r < D->q; r++)
    if (isnan(D->lb[r]) || D->lb[r] == INFINITY) { snprintf(D->w->why, sizeof D->w->why, "NaN or +inf in a bound"); return O_LEAF; }
  for (size_t c = 0; c < D->B->n_conj; c++) {
    const vnn_conj *k = &D->B->conj[c];
    const double *lb = D->lb + S->row0[it->box][c];
    for (size_t r = 0; r < k->m && it->act[c]; r++)
      if (vfy_row_refutes(k, r, lb[r])) it->act[c] = 0;
  }
  if (!any_live(D)) return O_CLOSED;
  return D->nodbl ? holds_everywhere(D) : O_SPLIT;
}

/* The candidate D->x clamped into the inner box (a witness must lie there). */
static void clamp_inner(sub *D)
{
  for (size_t j = 0; j < D->nx; j++) D->x[j] = fmin(fmax(D->x[j], D->B->lo_in[j]), D->B->hi_in[j]);
}

/* Is the candidate D->x a checked witness (vfy_check_witness)? */
static int is_witness(sub *D)
{
  size_t c;
  return vfy_check_witness(D->S->net, D->S->spec, D->it->box, D->x, D->y, &c, &D->S->r->fp_only);
}

/* Step 2: the box's centre as a candidate. */
static outcome try_centre(sub *D)
{
  for (size_t j = 0; j < D->nx; j++) D->x[j] = D->it->lo[j] + 0.5 * (D->it->hi[j] - D->it->lo[j]);
  clamp_inner(D);
  return is_witness(D) ? O_SAT : O_SPLIT;
}

/* Step 3 (low dimension): the rows' linear forms, then per live conjunction
   the LP, its combined row re-bounded (refine_conj) and its point as a
   candidate; fills the branching score and the most violated conjunction's
   LP point (xb, tbest). */
static outcome refine_rows(sub *D)
{
  const search *S = D->S;
  item *it = D->it;
  size_t nx = D->nx;
  int have_x = 0;
  if (S->fwd) fwd_rows(S->C[it->box], D->q, D->ny, nx, D->Flo, D->Fhi, D->a, D->lc);
  else if (!D->have_lin && linear_bounds(D->ws, S->C[it->box], D->q, nx, D->a, D->lc, NULL, &D->w->err) != CB_OK) return O_ERROR;
  for (size_t c = 0; c < D->B->n_conj; c++) {
    size_t r0 = S->row0[it->box][c];
    double tv = INFINITY;
    if (!it->act[c]) continue;
    D->w->prof.lp_calls += S->spec->box[it->box].conj[c].m > 1;   /* refine_conj's lp_minmax */
    if (refine_conj(S, D->ws, it, c, D->a + r0 * nx, D->lc + r0, D->score, D->x, &have_x, &tv, &D->w->err) != CB_OK) return O_ERROR;
    if (!have_x) continue;   /* the LP minimiser is a candidate too */
    clamp_inner(D);
    if (it->act[c] && tv < D->tbest) { D->tbest = tv; memcpy(D->xb, D->x, nx * sizeof *D->x); }
    if (is_witness(D)) return O_SAT;
    have_x = 0;
  }
  return any_live(D) ? O_SPLIT : O_CLOSED;
}

/* Step 4: ReLU splitting inside the box (vfy_relu.c). */
static outcome relu_step(sub *D)
{
  vfy_prof *pf = &D->w->prof;
  double t0 = vfy_now(), inner = pf->lp_s + pf->milp_s + pf->branch_s;
  rres r = vfy_relu_box(D->S, D->ws, D->it, D->x, &D->w->states, &D->w->relu_fail, pf, &D->w->err);
  pf->bound_s += vfy_now() - t0 - (pf->lp_s + pf->milp_s + pf->branch_s - inner);   /* the states' CROWN passes */
  switch (r) {
  case R_CLOSED: return O_CLOSED;
  case R_SAT:
    snprintf(D->w->why, sizeof D->w->why, "%s", vfy_beta_used(D->S) ? "from the beta-CROWN search" : "from the ReLU search");
    return O_SAT;
  case R_ERR: return O_ERROR;
  case R_OPEN: return O_SPLIT;
  }
  return O_ERROR;
}

/* Step 5: the split (choose_input_split), or a leaf left open at rounding
   scale after its vertices are tried (low dimension). */
static outcome split_step(sub *D)
{
  const search *S = D->S;
  item *it = D->it;
  work *w = D->w;
  size_t c;
  double mid;
  if (D->low && at_precision(S, it, D->a, D->lc)) {
    if (leaf_vertices(S, it, D->a, D->x, D->y, &c)) return O_SAT;
    snprintf(w->why, sizeof w->why, "undecided below rounding error: the rows vary by < 2^-40 of their size");
    return O_LEAF;
  }
  w->dim = choose_input_split(S, it, D->score, D->tbest < INFINITY ? D->xb : NULL, &w->upper_first);
  if (w->dim < 0) {
    if (D->low && leaf_vertices(S, it, D->a, D->x, D->y, &c)) return O_SAT;
    snprintf(w->why, sizeof w->why, "undecided at 2^-40 of the box's width (rounding scale)");
    return O_LEAF;
  }
  mid = it->lo[w->dim] + 0.5 * (it->hi[w->dim] - it->lo[w->dim]);
  if (!(mid > it->lo[w->dim] && mid < it->hi[w->dim])) { snprintf(w->why, sizeof w->why, "subdomain too small to split"); return O_LEAF; }
  if (S->prior) w->prior = save_prior(S, D->ws);   /* NULL on OOM: the children start afresh */
  return O_SPLIT;
}

/* Bounds item `it` with workspace ws and decides it, or says how to split
   it; fills w (and it->act).  scratch: q + 1 + 3 nx + ny doubles. */
void vfy_process(const search *S, cb_ws *ws, item *it, work *w, double *scratch)
{
  size_t nx = S->spec->nx, ny = S->spec->ny, q = S->q[it->box];
  sub D = {.S = S, .ws = ws, .it = it, .w = w, .B = &S->spec->box[it->box], .nx = nx, .ny = ny, .q = q,
           .low = vfy_low_dim(S->spec), .lb = scratch, .x = scratch + q + 1, .tbest = INFINITY};
  outcome o;
  double t0;
  D.y = D.x + nx;
  D.score = D.y + ny;
  D.xb = D.score + nx;
  ws->set.lo = it->lo;
  ws->set.hi = it->hi;
  w->o = O_SPLIT;
  w->states = 0;
  w->upper_first = 0;
  w->relu_fail = it->relu_fail;
  w->x = NULL;
  w->prior = NULL;
  w->why[0] = 0;
  w->dim = -1;
  if (!(D.a = cb_alloc((q * nx + 2 * q + 2 * (nx + 1) * ny + 1) * sizeof *D.a))) {
    w->o = O_ERROR;
    cb_error_set(&w->err, CB_ENOMEM, "out of memory");
    return;
  }
  D.lc = D.a + q * nx;
  D.Flo = D.lc + q;
  D.Fhi = D.Flo + (nx + 1) * ny;
  D.ub = D.Fhi + (nx + 1) * ny;
  D.nodbl = no_double(D.B, nx) < nx;
  memset(D.score, 0, nx * sizeof *D.score);
  memset(&w->prof, 0, sizeof w->prof);
  t0 = vfy_now();
  o = bound_rows(&D);
  if (o == O_SPLIT) o = try_centre(&D);
  w->prof.bound_s += vfy_now() - t0;
  t0 = vfy_now();
  if (o == O_SPLIT && D.low) o = refine_rows(&D);
  w->prof.lp_s += vfy_now() - t0;   /* the LPs, and their combined rows' CROWN passes */
  if (o == O_SPLIT) o = relu_step(&D);
  t0 = vfy_now();
  if (o == O_SPLIT) o = split_step(&D);
  w->prof.branch_s += vfy_now() - t0;
  if (o == O_SAT && (w->x = cb_alloc(nx * sizeof *w->x))) memcpy(w->x, D.x, nx * sizeof *D.x);
  else if (o == O_SAT) { o = O_ERROR; cb_error_set(&w->err, CB_ENOMEM, "out of memory"); }
  w->o = o;
  cb_free(D.a);
}
