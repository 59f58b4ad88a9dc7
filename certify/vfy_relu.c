/*
** ReLU splitting inside a box (vfy_int.h): a box of the input-splitting
** search whose CROWN bounds leave few ReLUs of unknown sign (any number, in
** high dimension) is decided by a depth-first search over those ReLUs'
** phases, or handed back to input splitting with its node boxes restored.
** vfy_relu_box says when to try; per state (rs_state): the node boxes are
** tightened on the region by LP (rs_tighten, low dimension), each live
** conjunction is bounded and refuted or met (rs_conj), and the next neuron
** to split is chosen by the rule choose_relu_split.
**
** Sizes: ACAS Xu boxes reach here with up to relu_leaf (150) unknown signs;
** a search takes 1..relu_states (10,000) states of one to three CROWN passes
** and an LP each.
*/
#include <limits.h>
#include <math.h>
#include <string.h>
#include "vfy_int.h"
#include "lp.h"
#include "round.h"

/* A box whose CROWN bounds leave few ReLUs of unknown sign is decided by
   splitting those ReLUs instead of the box.  A state fixes the phase of some
   of them: neuron (node, idx) with sig = +1 lies in {xhat >= 0}, sig = -1 in
   {xhat <= 0}; the state's region is the box cut by these half-spaces (the
   two children of a split cover their parent: xhat = 0 is in both).  On the
   region the split neuron's input box is [max(l, 0), u] (or [l, min(u, 0)]),
   so its ReLU is exactly the identity (or 0), and the node boxes recomputed
   by CROWN from these (bounds_run_prior, the parent state's boxes as prior)
   hold on the region: downstream neurons become stable.  Then:
     - CROWN of each row over the box with these lines bounds it on the
       region (the split constraints themselves ignored, "beta = 0");
     - a Farkas combination: if some l >= 0 makes
         h(x) = sum_r l_r (A_r y - b_r) + sum_s l_s (-sig_s xhat_s)
       positive over the box (one CROWN pass with the xhat terms injected at
       their nodes, crown_linear_inj; the rounding of the combination added
       by vfy_combine_rows), no point of the region meets the conjunction
       (every term is <= 0 there).  l comes from an LP (vfy_minmax over the
       rows' linear lower forms), which proves nothing by itself.
   When no ReLU of unknown sign is left the network is affine on the region
   and the forms are exact: the LP refutes or returns a point that is checked
   as a witness.  A state it cannot decide (rounding at a boundary, the state
   cap) hands the whole box back to input splitting, after its node boxes are
   restored.  Splits follow the layer order (as nnenum's star sets do), so the
   xhat forms of split neurons carry no relaxation. */

typedef struct rsplit { int node; size_t idx; int sig; } rsplit;

#define RS_MAX_DEPTH 256   /* splits on one path of a ReLU search */
#define RS_BASE 20000      /* ReLU search states any search may waste (see search.rs_wasted) */

typedef struct rsearch {
  const search *S;
  cb_ws *ws;
  const item *it;
  rsplit *sp;
  int ns, nmax;
  long states, max_states;
  unsigned char *act;     /* (nmax + 1) x n_conj: live conjunctions per depth */
  double *box;            /* (nmax + 2) x 2 nb: node boxes per depth (lo then hi) */
  double **pl;            /* 2 x n pointers into one level of box */
  double **inj;           /* per node: qmax x size for RELU inputs, else NULL */
  size_t *dirty;          /* per node: rows of inj that may be nonzero (rs_inj_row) */
  const double **injp;    /* per node: inj where dirty, else NULL (the pass's argument, rs_injp) */
  size_t qmax;
  int have_x;             /* x holds the last LP point */
  double *form;           /* 2 (nmax + 2) x (nx + 1): per split level, the lower linear forms
                             of -xhat (sig = +1) and of +xhat (sig = -1) */
  double *C, *lin, *out, *a, *lc, *l, *g, *x, *y;
  double *mu, *F, *f;     /* rs_tighten: qmax x (nmax + 1) multipliers; the region's rows */
  vfy_prof *prof;         /* LP, MILP and branching time go here */
  int milp_block;         /* split depth of a state the MILP leaf left open (its subtree does
                             not call the leaf again), -1: none */
  cb_error *err;
} rsearch;

int vfy_net_has_relu(const cb_net *net)
{
  for (int i = 0; i < net->n; i++) if (node_is_act(&net->node[i], CB_ACT_RELU)) return 1;
  return 0;
}

/* Copies the workspace's node boxes into level d. */
static void rs_save(rsearch *R, int d) { vfy_boxes_out(R->S, R->ws, R->box + (size_t)d * 2 * R->S->nb); }

/* Node boxes from the priors at level d, taken as they are before node
   `first` (bounds_run_from). */
static int rs_bounds(rsearch *R, int d, int first)
{
  vfy_boxes_ptrs(R->S, R->box + (size_t)d * 2 * R->S->nb, R->pl);
  return bounds_run_from(R->ws, R->S->o->method, R->pl, R->pl + R->S->net->n, first, R->err);
}

/* Zeroes every injected row (only the rows written since the last clear). */
static void rs_inj_clear(rsearch *R)
{
  const cb_net *net = R->ws->net;
  for (int i = 0; i < net->n; i++)
    if (R->dirty[i]) { memset(R->inj[i], 0, R->dirty[i] * net->node[i].size * sizeof(double)); R->dirty[i] = 0; }
}

/* Injected row `row` of node p, to be written. */
static double *rs_inj_row(rsearch *R, int p, size_t row)
{
  if (R->dirty[p] <= row) R->dirty[p] = row + 1;
  return R->inj[p] + row * R->ws->net->node[p].size;
}

/* The injected rows for crown_linear_inj: NULL at the nodes no row was
   written to since the last clear, so the pass neither adds their zeros
   nor charges them a merged node's rounding slack (and their AFFINE step
   keeps its skip of the columns the ReLU has off, crown_alive). */
static const double *const *rs_injp(rsearch *R)
{
  for (int i = 0; i < R->ws->net->n; i++) R->injp[i] = R->dirty[i] ? R->inj[i] : NULL;
  return R->injp;
}

/* The q injected rows as a CROWN bound: when every row written lies at or
   below node pre, one pass from pre with pre's rows as its start
   (crown_linear_from: the nodes above pre, all-zero rows, are not walked),
   else from the output with C = 0.  Same bound up to the rounding terms of
   those zero steps and of pre's merge (both only ever loosen it). */
static int rs_inj_bound(rsearch *R, int pre, size_t q)
{
  const cb_net *net = R->ws->net;
  int i, below = 1;
  for (i = pre + 1; i < net->n && below; i++) below = !R->dirty[i];
  if (!below) {
    memset(R->C, 0, q * R->S->spec->ny * sizeof *R->C);
    return crown_linear_inj(R->ws, R->C, q, rs_injp(R), R->lin, R->out, R->err);
  }
  rs_injp(R);
  R->injp[pre] = NULL;
  return crown_linear_from(R->ws, pre, R->inj[pre], q, R->injp, R->lin, R->out, R->err);
}

/* Adds sum_s coef_s sig_s xhat_s (the split terms) to injected row `row`. */
static void rs_inj_splits(rsearch *R, size_t row, const double *coef)
{
  const cb_net *net = R->ws->net;
  for (int s = 0; s < R->ns; s++) {
    int p = net->node[R->sp[s].node].in[0];
    rs_inj_row(R, p, row)[R->sp[s].idx] += coef[s] * R->sp[s].sig;
  }
}

/* Hands a refuted region to the audit hook (conj = (size_t)-1: empty region;
   extra >= 0: one more split, not yet in R->sp, with sign extra_sig;
   extra = -2 - k: the region's tightened box of node k, rs_tighten). */
static void rs_audit(const rsearch *R, size_t conj, int extra_node, size_t extra_idx, int extra_sig)
{
  const vfy_opts *o = R->S->o;
  int node[RS_MAX_DEPTH + 1], sig[RS_MAX_DEPTH + 1];
  size_t idx[RS_MAX_DEPTH + 1], n = 0;
  vfy_region g;
  if (!o->audit) return;
  for (int s = 0; s < R->ns && n < RS_MAX_DEPTH; s++, n++) { node[n] = R->sp[s].node; idx[n] = R->sp[s].idx; sig[n] = R->sp[s].sig; }
  if (extra_node >= 0) { node[n] = extra_node; idx[n] = extra_idx; sig[n] = extra_sig; n++; }
  g = (vfy_region){R->it->box, conj, R->ws->set.lo, R->ws->set.hi, n, node, sig, idx, -1, NULL, NULL};
  if (extra_node < -1) { g.tnode = -extra_node - 2; g.tlo = R->ws->lo[g.tnode]; g.thi = R->ws->hi[g.tnode]; }
  o->audit(o->audit_ctx, &g);
}

/* The proof emitter's record of the search (vfy_opts.prec, proof_relu.c):
   one event, ns = the state's splits. */
static void rs_prec(const rsearch *R, int ev, int node, size_t idx, int sig, double bound, size_t conj, const double *lam,
                    size_t m, const double *mu)
{
  vfy_prec p = {ev, node, sig, idx, conj, m, (size_t)R->ns, bound, lam, mu, NULL, NULL};
  if (R->S->o->prec) R->S->o->prec(R->S->o->prec_ctx, &p);
}

/* The prec hook's BOXES event: it may replace the state's node boxes (with
   the proof checker's, proof_relu.c); every ReLU's lines are then made
   again from them.  1: the hook showed the region empty; 0: go on. */
static int rs_prec_boxes(rsearch *R)
{
  const cb_net *net = R->S->net;
  int ret = 0;
  vfy_prec p = {VFY_PREC_BOXES, 0, 0, 0, 0, 0, (size_t)R->ns, 0, NULL, NULL, R->ws, &ret};
  if (!R->S->o->prec) return 0;
  R->S->o->prec(R->S->o->prec_ctx, &p);
  if (ret == 1) { rs_prec(R, VFY_PREC_EMPTY, 0, 0, 0, 0, 0, NULL, 0, NULL); return 1; }
  for (int i = 0; i < net->n; i++) if (node_is_act(&net->node[i], CB_ACT_RELU)) ws_relax_lines(R->ws, i);
  return 0;
}

/* Split s's constraint on the region, -sig_s xhat_s <= 0, as a lower linear
   form over the input (nx coefficients, then the constant): exact, kept from
   the split (rs_split_forms). */
static const double *rs_region_row(const rsearch *R, int s)
{
  return R->form + (2 * (size_t)s + (R->sp[s].sig > 0 ? 0 : 1)) * (R->S->spec->nx + 1);
}

/* rs_tighten, first pass: upper bounds g (sound on the box, so on the
   region) of +xhat_j (row 2k) and -xhat_j (row 2k + 1), j = jj[k], k < u,
   at pre-activation node pre, and their linear forms in R->lin. */
static int rs_xhat_bounds(rsearch *R, int pre, const size_t *jj, size_t u)
{
  size_t q = 2 * u;
  rs_inj_clear(R);
  for (size_t k = 0; k < u; k++) { rs_inj_row(R, pre, 2 * k)[jj[k]] = 1; rs_inj_row(R, pre, 2 * k + 1)[jj[k]] = -1; }
  if (rs_inj_bound(R, pre, q) != CB_OK) return -1;
  memcpy(R->g, R->out, q * sizeof *R->out);
  return 0;
}

/* rs_tighten: GLPK's multipliers mu (q x ns, >= 0) of the split constraints
   for the forms R->lin of the q rows; 0 where the box's maximising vertex
   already lies in the region (no LP gain), where the LP fails, and where the
   LP's maximum of the row's form over the region (its value plus the form's
   constant, g minus the form's maximum over the box) is no lower than the
   neuron's present bound: the injected pass (rs_xhat_region) would then
   bound it no lower either (on the first layer with unknown signs that
   pass's bound is this LP's dual value; below it the same relaxation), so
   the row is not bounded again; nor is a neuron whose sign the first pass
   already fixed (g[2k] <= 0 or g[2k + 1] <= 0: the state's boxes are the
   parent's, rs_children, so such neurons are common).  Multipliers only
   make bounds looser or tighter, never unsound; leaving a row out keeps its
   present bound.  ACAS Xu 3_3 prop 2 and 1_8 prop 2: the same ReLU-search
   states. */
static long rs_multipliers(rsearch *R, lp_region *LR, int pre, const size_t *jj, size_t q)
{
  long calls = 0;
  const cb_ws *ws = R->ws;
  size_t nx = R->S->spec->nx, ns = (size_t)R->ns;
  for (size_t r = 0; r < q; r++) {
    double v, *mu = R->mu + r * ns, *lin = R->lin + r * nx;
    int inside = 1;
    for (size_t s = 0; s < ns && inside; s++) {
      double t = R->f[s];
      for (size_t i = 0; i < nx; i++) t += R->F[s * nx + i] * (lin[i] > 0 ? ws->set.hi[i] : ws->set.lo[i]);
      inside = t <= 0;
    }
    if (inside || R->g[r & ~(size_t)1] <= 0 || R->g[r | 1] <= 0 || (calls++, !lp_region_max(LR, lin, mu, &v))) {
      memset(mu, 0, ns * sizeof *mu);   /* no gain, or the first pass alone fixed the neuron's sign */
      continue;
    }
    {
      double mb = 0, cur = r % 2 ? -ws->lo[pre][jj[r / 2]] : ws->hi[pre][jj[r / 2]];
      for (size_t i = 0; i < nx; i++) {   /* lin and the box are finite here (the LP took lin) */
        double p = lin[i] * ws->set.lo[i], h = lin[i] * ws->set.hi[i];
        mb += p > h ? p : h;
      }
      if (v + (R->g[r] - mb) >= cur) memset(mu, 0, ns * sizeof *mu);
    }
  }
  return calls;
}

/* rs_tighten, second pass: the rows with a multiplier, packed, each with the
   split terms sum_s mu_s sig_s xhat_s injected; g keeps the smaller bound. */
static int rs_xhat_region(rsearch *R, int pre, const size_t *jj, size_t q)
{
  size_t ns = (size_t)R->ns, row[2 * RS_MAX_DEPTH], nz = 0;
  rs_inj_clear(R);
  for (size_t r = 0; r < q; r++) {
    int any = 0;
    for (size_t s = 0; s < ns; s++) any |= R->mu[r * ns + s] > 0;
    if (!any) continue;
    rs_inj_row(R, pre, nz)[jj[r / 2]] = r % 2 ? -1 : 1;
    rs_inj_splits(R, nz, R->mu + r * ns);
    row[nz++] = r;
  }
  if (nz && rs_inj_bound(R, pre, nz) != CB_OK) return -1;
  for (size_t k = 0; k < nz; k++) {
    R->g[row[k]] = fmin(R->g[row[k]], R->out[k]);
    rs_prec(R, VFY_PREC_TIGHTEN, pre, jj[row[k] / 2], row[k] % 2 == 0, row[k] % 2 ? -R->out[k] : R->out[k], 0, NULL, 0,
            R->mu + row[k] * ns);
  }
  return 0;
}

/* rs_tighten: narrows the boxes of neurons jj[k] of node pre to the bounds
   in g where those are narrower; counts the neurons now of known sign;
   1 when a lower bound passes an upper one (the region is empty). */
static int rs_narrow(rsearch *R, int pre, const size_t *jj, size_t u, int *stable)
{
  cb_ws *ws = R->ws;
  for (size_t k = 0; k < u; k++) {
    size_t j = jj[k];
    double hi = R->g[2 * k], lo = -R->g[2 * k + 1];
    if (isfinite(hi) && hi < ws->hi[pre][j]) ws->hi[pre][j] = hi;
    if (isfinite(lo) && lo > ws->lo[pre][j]) ws->lo[pre][j] = lo;
    if (ws->lo[pre][j] > ws->hi[pre][j]) return 1;
    if (ws->lo[pre][j] >= 0 || ws->hi[pre][j] <= 0) (*stable)++;
  }
  return 0;
}

/* LP-tightened bounds on the state's region for the unknown-sign neurons of
   ReLU node bi (in the spirit of nnenum's star-set bounds, re-checked): CROWN
   gives upper linear forms of +xhat_j and -xhat_j over the box (exact for the
   first layer with unknown signs, as every ReLU before it has a fixed sign on
   the region; relaxed below it); GLPK maximises each over the box cut by the
   split constraints (lp_region_max), and its multipliers mu_s >= 0 weigh the
   split terms; one CROWN pass with those terms injected then bounds
     sig xhat_j + sum_s mu_s sig_s xhat_s
   from above, soundly, with the state's node boxes (valid on the region, not
   on the whole input box).  On the region sig_s xhat_s >= 0, so that bound
   holds for sig xhat_j there, whatever mu is: GLPK proves nothing, a bad mu
   only gives a looser bound.  New boxes go to ws (node `pre` of bi), in
   chunks of at most qmax / 2 neurons; *stable counts neurons now of known
   sign, *empty says the region is empty (a lower bound above an upper one). */
static int rs_tighten(rsearch *R, int bi, int *stable, int *empty)
{
  const cb_net *net = R->S->net;
  cb_ws *ws = R->ws;
  int pre = net->node[bi].in[0], rc = CB_OK;
  size_t np = net->node[pre].size, nx = R->S->spec->nx, ns = (size_t)R->ns;
  size_t per = R->qmax / 2 < RS_MAX_DEPTH ? R->qmax / 2 : RS_MAX_DEPTH, j0 = 0;
  lp_region *LR;
  *stable = *empty = 0;
  for (size_t s = 0; s < ns; s++) {
    const double *f = rs_region_row(R, (int)s);
    memcpy(R->F + s * nx, f, nx * sizeof *f);
    R->f[s] = f[nx];
  }
  if (!(LR = lp_region_new(R->F, R->f, ns, nx, ws->set.lo, ws->set.hi))) return cb_error_set(R->err, CB_ENOMEM, "out of memory in the LP");
  while (j0 < np && !*empty) {
    size_t jj[RS_MAX_DEPTH], u = 0;
    for (; j0 < np && u < per; j0++) if (ws->lo[pre][j0] < 0 && ws->hi[pre][j0] > 0) jj[u++] = j0;
    if (!u) break;
    if (rs_xhat_bounds(R, pre, jj, u)) { rc = -1; break; }
    { double t0 = vfy_now(); R->prof->lp_calls += rs_multipliers(R, LR, pre, jj, 2 * u); R->prof->lp_s += vfy_now() - t0; }
    if (rs_xhat_region(R, pre, jj, 2 * u)) { rc = -1; break; }
    *empty = rs_narrow(R, pre, jj, u, stable);
  }
  lp_region_free(LR);
  if (rc) return R->err->status ? R->err->status : CB_EINTERNAL;
  rs_audit(R, 0, -2 - pre, 0, 0);
  return CB_OK;
}

/* One conjunction c in the current state: R_CLOSED (refuted on the region),
   R_SAT (R->x is a checked witness), R_OPEN or R_ERR. */
static rres rs_conj(rsearch *R, size_t c)
{
  const search *S = R->S;
  cb_ws *ws = R->ws;
  const vnn_conj *k = &S->spec->box[R->it->box].conj[c];
  size_t nx = S->spec->nx, ny = S->spec->ny, m = k->m, q = m + (size_t)R->ns, cc;
  double t, t0, lb1, slack, rhs;
  int res;
  for (size_t e = 0; e < m * ny; e++) R->C[e] = -k->A[e];
  if (crown_linear(ws, R->C, m, R->lin, R->out, R->err) != CB_OK) return R_ERR;
  for (size_t r = 0; r < m; r++) {   /* lower forms of the spec rows minus b */
    if (!isfinite(R->out[r])) return R_OPEN;
    if (vfy_row_refutes(k, r, -R->out[r])) {
      memset(R->l, 0, m * sizeof *R->l);
      R->l[r] = 1;
      rs_prec(R, VFY_PREC_CONJ, 0, 0, 0, 0, c, R->l, m, NULL);
      rs_audit(R, c, -1, 0, 0);
      return R_CLOSED;
    }
    R->lc[r] = vfy_lower_form(R->lin + r * nx, R->out[r], ws->set.lo, ws->set.hi, nx, R->a + r * nx) - k->b_up[r];
  }
  for (int s = 0; s < R->ns; s++) {   /* the region's rows, -sig xhat */
    const double *f = rs_region_row(R, s);
    memcpy(R->a + (m + (size_t)s) * nx, f, nx * sizeof *R->a);
    R->lc[m + (size_t)s] = f[nx];
  }
  t0 = vfy_now();
  res = vfy_minmax(R->a, R->lc, q, nx, ws->set.lo, ws->set.hi, R->x, R->l, &t);
  R->prof->lp_s += vfy_now() - t0;
  R->prof->lp_calls++;
  if (res < 0) {
    cb_error_set(R->err, res, "out of memory in the LP");
    return R_ERR;
  }
  if (res != 1) return R_OPEN;
  R->have_x = 1;
  if (t <= 0) {   /* the LP point may be a witness */
    const vnn_box *B = &S->spec->box[R->it->box];
    for (size_t j = 0; j < nx; j++) R->x[j] = fmin(fmax(R->x[j], B->lo_in[j]), B->hi_in[j]);
    return vfy_check_witness(S->net, S->spec, R->it->box, R->x, R->y, &cc, &S->r->fp_only) ? R_SAT : R_OPEN;
  }
  if (q == 1) return R_OPEN;   /* one row: its own bound above said no */
  /* the combination (-g: crown_linear bounds from above), bounded soundly in one pass */
  slack = vfy_combine_rows(k, ny, R->l, 1, ws->zmax[ws->net->output], R->g, &rhs);
  rs_inj_clear(R);
  rs_inj_splits(R, 0, R->l + m);
  if (crown_linear_inj(ws, R->g, 1, rs_injp(R), R->lin, &lb1, R->err) != CB_OK) return R_ERR;
  if (!vfy_combination_refutes(-lb1, slack, rhs)) return R_OPEN;
  rs_prec(R, VFY_PREC_CONJ, 0, 0, 0, 0, c, R->l, m, R->l + m);
  rs_audit(R, c, -1, 0, 0);
  return R_CLOSED;
}

/* The first ReLU node at or after `from` with a neuron of unknown sign in
   ws's boxes, or -1. */
static int rs_unknown_layer(const rsearch *R, int from)
{
  const cb_net *net = R->S->net;
  size_t u = 0;
  for (int i = from; i < net->n; i++) {
    int p;
    if (!node_is_act(&net->node[i], CB_ACT_RELU)) continue;
    p = net->node[i].in[0];
    for (size_t j = 0; j < net->node[i].size; j++) u += R->ws->lo[p][j] < 0 && R->ws->hi[p][j] > 0;
    if (u) return i;
  }
  return -1;
}

/* The state's node boxes tightened on its region, each layer with unknown
   signs in turn (rs_tighten), that layer's ReLU lines recomputed from its
   narrowed inputs.  The nodes below are not re-bounded by a whole CROWN
   pass: the next rs_tighten's first pass is that CROWN bound for every
   neuron still of unknown sign, and a neuron of known sign needs no box
   (its ReLU is exact).  Boxes left wider than they could be (stable
   neurons, the ReLU outputs, zmax) stay valid on the region, so every pass
   stays sound.  (Re-bounding every node below a layer that gained stable
   neurons, as before, took ~1.5x the CPU on ACAS Xu 3_3 / 4_2 prop 2, for
   slightly more states.)  1: the region is empty; 0: go on; -1: error.  Low
   dimension only: on MNIST's 784 inputs one state's LPs took longer than
   the 20 s timeout, and 256x2 prop_0_0.03, unsat in 2.7 s without, timed
   out. */
static int rs_tighten_layers(rsearch *R)
{
  for (int ti = rs_unknown_layer(R, 0); ti >= 0; ti = rs_unknown_layer(R, ti + 1)) {
    int st, em;
    if (rs_tighten(R, ti, &st, &em) != CB_OK) return -1;
    if (em) {   /* with the prec hook its checker decides (rs_prec_boxes): the boxes that showed it may not be its */
      if (!R->S->o->prec) rs_prec(R, VFY_PREC_EMPTY, 0, 0, 0, 0, 0, NULL, 0, NULL);
      rs_audit(R, (size_t)-1, -1, 0, 0);
      return 1;
    }
    ws_relax_lines(R->ws, ti);
  }
  return 0;
}

/* Every live conjunction (act) in the state: R_CLOSED when all are refuted,
   R_OPEN when some are left, R_SAT or R_ERR from rs_conj. */
static rres rs_conjs(rsearch *R, unsigned char *act)
{
  size_t nc = R->S->spec->box[R->it->box].n_conj;
  int live = 0;
  for (size_t c = 0; c < nc; c++) {
    rres r;
    if (!act[c]) continue;
    r = rs_conj(R, c);
    if (r == R_CLOSED) { act[c] = 0; continue; }
    if (r != R_OPEN) return r;
    live = 1;
  }
  return live ? R_OPEN : R_CLOSED;
}

/*
** The ReLU-splitting rule: which neuron's phase to fix next.  The first
** ReLU node, in the net's (topological) order, with a neuron of unknown
** sign in the state's boxes, and there the neuron whose input box [l, u]
** reaches furthest on both sides of 0, max min(-l, u): the widest
** relaxation.  Splitting layer by layer keeps the forms of the split
** neurons' xhat exact (every ReLU before a split has a fixed sign on the
** region), as nnenum's star sets do.  Returns the node, or -1 when no ReLU
** of unknown sign is left (the network is affine on the region); *idx: the
** neuron.
*/
static int choose_relu_split(const rsearch *R, size_t *idx)
{
  const cb_net *net = R->S->net;
  double best = -1;
  *idx = 0;
  for (int i = 0; i < net->n; i++) {
    int p;
    if (!node_is_act(&net->node[i], CB_ACT_RELU)) continue;
    p = net->node[i].in[0];
    for (size_t j = 0; j < net->node[i].size; j++) {
      double gap = fmin(-R->ws->lo[p][j], R->ws->hi[p][j]);
      if (gap > 0 && gap > best) { best = gap; *idx = j; }
    }
    if (best > 0) return i;
  }
  return -1;
}

/* The lower forms of -xhat and +xhat (rows of the children sig = +1, -1)
   for neuron bj of ReLU node bi, from CROWN's upper forms of +xhat and
   -xhat over this state: exact, as every ReLU before this layer has its
   sign fixed on the region.  Stored at split level R->ns; empty[h]: the
   child's region is empty (max of sig xhat < 0). */
static int rs_split_forms(rsearch *R, int bi, size_t bj, int empty[2])
{
  const cb_net *net = R->S->net;
  int pre = net->node[bi].in[0];
  size_t nx = R->S->spec->nx;
  rs_inj_clear(R);
  rs_inj_row(R, pre, 0)[bj] = 1;
  rs_inj_row(R, pre, 1)[bj] = -1;
  if (rs_inj_bound(R, pre, 2) != CB_OK) return -1;
  for (int h = 0; h < 2; h++) {   /* sig = +1 takes row 0: lower form of -xhat = -(upper form of xhat) */
    double *f = R->form + (2 * (size_t)R->ns + (size_t)h) * (nx + 1);
    f[nx] = vfy_lower_form(R->lin + (size_t)h * nx, R->out[h], R->ws->set.lo, R->ws->set.hi, nx, f);
    empty[h] = R->out[h] < 0;
  }
  return 0;
}

/* The child searched first: the side holding the last LP point (finds
   witnesses sooner), else sig = +1. */
static int rs_first_sig(const rsearch *R)
{
  size_t nx = R->S->spec->nx;
  const double *f = R->form + 2 * (size_t)R->ns * (nx + 1);
  double v = f[nx];
  for (size_t j = 0; j < nx; j++) v += f[j] * R->x[j];
  return R->have_x && v > 0 ? -1 : 1;   /* -xhat > 0 at the point: xhat < 0 there */
}

static rres rs_state(rsearch *R);

/* The complete leaf (vfy_milp.c) on the state's region when at most
   o->milp_leaf ReLUs of unknown sign are left, in high dimension only: on
   ACAS Xu's 5 inputs a state costs ~0.3 ms and an LP of the program more
   (3_3 prop 2: unsat in 50,942 states without, a timeout at 60 s with 644
   leaves); on MNIST 256x2 a state costs ~2 ms of CPU and a node of the
   leaf ~50 ms, which is why it is off by default (VFY_MILP_LEAF).  The
   state's node boxes carry its splits (each split neuron's box is clamped
   to its side), so the program's region contains this state's.  A state
   the leaf leaves open is not retried below it (milp_block).  R_CLOSED:
   every live conjunction refuted (each handed to the audit hook); R_SAT:
   R->x a checked witness; R_OPEN: go on splitting (the refuted ones are off
   in act); R_ERR. */
static rres rs_milp(rsearch *R, unsigned char *act)
{
  const search *S = R->S;
  size_t nc = S->spec->box[R->it->box].n_conj;
  unsigned char before[64];
  milp_stat st = {0};
  int u;
  rres r;
  if (R->milp_block >= 0) {   /* inside the subtree of a state the leaf left open? */
    if (R->ns > R->milp_block) return R_OPEN;
    R->milp_block = -1;
  }
  if (S->o->milp_leaf <= 0 || vfy_low_dim(S->spec) || nc > sizeof before || (u = ws_unknown_relus(R->ws)) > S->o->milp_leaf ||
      !vfy_milp_supported(S->net))
    return R_OPEN;
  memcpy(before, act, nc);
  r = vfy_milp_leaf(S, R->ws, R->it->box, act, R->x, &st, R->err);
  R->prof->milp_s += st.seconds;
  R->prof->milp_calls += st.calls;
  R->prof->milp_nodes += st.nodes;
  R->prof->milp_closed += r == R_CLOSED;
  R->prof->milp_sat += r == R_SAT;
  for (size_t c = 0; c < nc; c++) if (before[c] && !act[c]) rs_audit(R, c, -1, 0, 0);
  if (r == R_OPEN) R->milp_block = R->ns;
  return r;
}

/* Does every state below the root tighten its boxes by LP (rs_state)? */
static int rs_tightens(const search *S) { return S->o->relu_lp && vfy_low_dim(S->spec); }

/* The two children of splitting neuron bj of ReLU node bi, `first` first:
   each clamps the neuron's input box to [0, u] or [l, 0] at the next level
   and recomputes the boxes below it (rs_bounds), or, where the child's
   rs_tighten_layers will bound them anyway, takes the parent's boxes as
   they are (valid on the parent's region, which holds the child's) with
   every relaxation line recomputed.  An empty child is closed. */
static rres rs_children(rsearch *R, int bi, size_t bj, const int empty[2], int first)
{
  const search *S = R->S;
  size_t nc = S->spec->box[R->it->box].n_conj, nb = S->nb, boff = 0;
  unsigned char *act = R->act + (size_t)R->ns * nc;
  int pre = S->net->node[bi].in[0];
  for (int i = 0; i < pre; i++) boff += S->net->node[i].size;   /* the pre-activation's offset */
  for (int side = 0, sig = first; side < 2; side++, sig = -sig) {
    rres r;
    double *lv = R->box + (size_t)(R->ns + 1) * 2 * nb;
    if (empty[sig > 0 ? 0 : 1] && !S->o->prec) {   /* with the prec hook the child's state asks its checker */
      rs_prec(R, VFY_PREC_ENTER, bi, bj, sig, 0, 0, NULL, 0, NULL);
      rs_prec(R, VFY_PREC_EMPTY, 0, 0, 0, 0, 0, NULL, 0, NULL);
      rs_prec(R, VFY_PREC_LEAVE, 0, 0, 0, 0, 0, NULL, 0, NULL);
      rs_audit(R, (size_t)-1, bi, bj, sig);
      continue;
    }
    memcpy(lv, R->box + (size_t)R->ns * 2 * nb, 2 * nb * sizeof *lv);
    if (sig > 0) lv[boff + bj] = 0; else lv[nb + boff + bj] = 0;
    memcpy(act + nc, act, nc);
    R->sp[R->ns] = (rsplit){bi, bj, sig};
    rs_prec(R, VFY_PREC_ENTER, bi, bj, sig, 0, 0, NULL, 0, NULL);
    R->ns++;
    r = rs_bounds(R, R->ns, rs_tightens(S) ? S->net->n : pre + 1) == CB_OK ? rs_state(R) : R_ERR;
    R->ns--;
    rs_prec(R, VFY_PREC_LEAVE, 0, 0, 0, 0, 0, NULL, 0, NULL);
    if (r != R_CLOSED) return r;
  }
  return R_CLOSED;
}

/* Depth-first over the splits; R->ns splits are applied and the workspace
   holds this state's node boxes.  R_OPEN hands the box back (state cap,
   deadline, nothing left to split). */
static rres rs_state(rsearch *R)
{
  const search *S = R->S;
  unsigned char *act = R->act + (size_t)R->ns * S->spec->box[R->it->box].n_conj;
  int bi, empty[2], t;
  size_t bj;
  double t0;
  rres r;
  if (++R->states > R->max_states || vfy_now() - S->t0 > S->deadline || vfy_cancelled(S)) return R_OPEN;
  if (R->ns > 0 && rs_tightens(S) && (t = rs_tighten_layers(R)) != 0 && (t < 0 || !S->o->prec))
    return t > 0 ? R_CLOSED : R_ERR;
  if (rs_prec_boxes(R)) return R_CLOSED;
  if ((r = rs_conjs(R, act)) != R_OPEN) return r;
  if ((r = rs_milp(R, act)) != R_OPEN) return r;
  t0 = vfy_now();
  bi = choose_relu_split(R, &bj);
  R->prof->branch_s += vfy_now() - t0;
  if (bi < 0 || R->ns >= R->nmax) return R_OPEN;   /* still open: hand back */
  rs_save(R, R->ns);
  if (rs_split_forms(R, bi, bj, empty)) return R_ERR;
  return rs_children(R, bi, bj, empty, rs_first_sig(R));
}

/* Frees what rs_alloc allocated (NULL fields are fine). */
static void rs_free(rsearch *R)
{
  for (int i = 0; R->inj && i < R->S->net->n; i++) cb_free(R->inj[i]);
  cb_free(R->inj); cb_free(R->dirty); cb_free(R->injp); cb_free(R->sp); cb_free(R->act); cb_free(R->C); cb_free(R->pl); cb_free(R->box);
  cb_free(R->form); cb_free(R->mu);
}

/* The search's buffers for at most nmax splits on a path: qmax = the most
   rows of a conjunction + nmax + 1 rows per CROWN pass, node boxes and
   split forms per level, one injected-row block per ReLU input node. */
static int rs_alloc(rsearch *R, int nmax)
{
  const search *S = R->S;
  const cb_net *net = S->net;
  const vnn_box *B = &S->spec->box[R->it->box];
  size_t nc = B->n_conj, nx = S->spec->nx, ny = S->spec->ny, mmax = 0;
  for (size_t c = 0; c < nc; c++) if (B->conj[c].m > mmax) mmax = B->conj[c].m;
  R->qmax = mmax + (size_t)nmax + 1;
  R->sp = cb_alloc((size_t)(nmax + 1) * sizeof *R->sp);
  R->act = cb_alloc((size_t)(nmax + 2) * nc + 1);
  R->inj = cb_calloc((size_t)net->n, sizeof *R->inj);
  R->dirty = cb_calloc((size_t)net->n, sizeof *R->dirty);
  R->injp = cb_calloc((size_t)net->n, sizeof *R->injp);
  R->pl = cb_alloc(2 * (size_t)net->n * sizeof *R->pl);
  R->box = cb_alloc((size_t)(nmax + 2) * 2 * S->nb * sizeof *R->box);
  R->form = cb_alloc(2 * (size_t)(nmax + 2) * (nx + 1) * sizeof *R->form);
  R->mu = cb_alloc((R->qmax * (size_t)(nmax + 1) + (size_t)(nmax + 1) * (nx + 1)) * sizeof *R->mu);
  R->C = cb_alloc((R->qmax * (ny + 2 * nx + 4) + nx + 2 * ny) * sizeof *R->C);
  if (!R->sp || !R->act || !R->inj || !R->dirty || !R->injp || !R->pl || !R->box || !R->form || !R->C || !R->mu) return CB_ENOMEM;
  R->lin = R->C + R->qmax * ny;
  R->a = R->lin + R->qmax * nx;
  R->out = R->a + R->qmax * nx;
  R->lc = R->out + R->qmax;
  R->l = R->lc + R->qmax;
  R->g = R->l + R->qmax;              /* ny */
  R->x = R->g + R->qmax + ny;
  R->y = R->x + nx;
  R->F = R->mu + R->qmax * (size_t)(nmax + 1);
  R->f = R->F + (size_t)(nmax + 1) * nx;
  for (int i = 0; i < net->n; i++) {
    int p = net->node[i].in[0];
    if (node_is_act(&net->node[i], CB_ACT_RELU) && !R->inj[p] &&
        !(R->inj[p] = cb_calloc(R->qmax * net->node[p].size, sizeof(double)))) return CB_ENOMEM;
  }
  return CB_OK;
}

/* Decides the item's box by ReLU splitting (its CROWN bounds are in ws), with
   at most nmax splits on a path; R_OPEN leaves it to input splitting with
   ws's boxes restored.  SAT: the witness goes to x.  *states: the states it
   took (at most relu_states in low dimension, uncapped above). */
static rres relu_leaf(const search *S, cb_ws *ws, const item *it, int nmax, double *x, long *states, vfy_prof *prof,
                      cb_error *err)
{
  rsearch R = {.S = S, .ws = ws, .it = it, .nmax = nmax, .err = err, .prof = prof, .milp_block = -1,
               .max_states = !vfy_low_dim(S->spec) ? LONG_MAX : S->o->relu_states};
  rres res = R_ERR;
  *states = 0;
  if (rs_alloc(&R, nmax) != CB_OK) { cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  memcpy(R.act, it->act, S->spec->box[it->box].n_conj);
  res = rs_state(&R);
  *states = R.states;
  if (res == R_SAT) memcpy(x, R.x, S->spec->nx * sizeof *x);
  if (res == R_OPEN && R.states > 1 && rs_bounds(&R, 0, S->net->n) != CB_OK) res = R_ERR;   /* the box's own boxes back */
out:
  rs_free(&R);
  return res;
}

rres vfy_relu_search(const search *S, cb_ws *ws, const item *it, double *x, long *states, vfy_prof *prof, cb_error *err)
{
  int u = ws_unknown_relus(ws);
  return relu_leaf(S, ws, it, u < RS_MAX_DEPTH ? u : RS_MAX_DEPTH, x, states, prof, err);
}

/* Does ReLU splitting go to the beta-CROWN search (vfy_beta.c)? */
int vfy_beta_used(const search *S) { return S->o->beta_bab == 2 || (!vfy_low_dim(S->spec) && S->o->beta_bab); }

/*
** Whether to decide the box of `it` by ReLU splitting, and doing so.  Tried
** when the search keeps node boxes (S->prior: the default bound),
** relu_leaf > 0, and the box's CROWN bounds (in ws) leave u > 0 ReLUs of
** unknown sign, with
**   - in low dimension: u <= relu_leaf, and the searches so far have not
**     wasted more than twice the states of the useful ones plus RS_BASE;
**   - in high dimension: any u, no such budget (vfy_int.h);
**   - if a search failed on an ancestor at u' unknown signs
**     (it->relu_fail): u <= 2/3 u'.
** R_OPEN when not tried or handed back (then *relu_fail = u: not again on
** the sub-boxes until they are simpler).  *states: the states taken.
*/
rres vfy_relu_box(const search *S, cb_ws *ws, const item *it, double *x, long *states, int *relu_fail, vfy_prof *prof,
                  cb_error *err)
{
  int low = vfy_low_dim(S->spec), u;
  rres rr;
  if (!(S->o->relu_leaf > 0 && S->prior && vfy_net_has_relu(S->net) && (u = ws_unknown_relus(ws)) > 0 &&
        (!it->relu_fail || 3 * u <= 2 * it->relu_fail)))
    return R_OPEN;
  if (vfy_beta_used(S)) {   /* beta-CROWN branch and bound */
    rr = vfy_beta_box(S, ws, it, x, states, err);
    if (rr == R_OPEN) *relu_fail = u;
    return rr;
  }
  if (low && (u > S->o->relu_leaf || S->rs_wasted > 2 * S->rs_useful + RS_BASE)) return R_OPEN;
  rr = relu_leaf(S, ws, it, u < RS_MAX_DEPTH ? u : RS_MAX_DEPTH, x, states, prof, err);
  if (rr == R_OPEN) *relu_fail = u;
  return rr;
}
