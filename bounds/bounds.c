/*
** The bounds driver: the table of bounding methods and the entry points that
** dispatch on it.  A method is two steps over one sample's workspace:
**   run:   intermediate bounds, node by node in topological order: the IBP
**          box (ibp.c), intersected with a prior box when the caller has one
**          (a parent subdomain's: valid on a superset of the set), then the
**          node's relaxation lines (relax.c) and, for CROWN and alpha-CROWN,
**          CROWN's bounds of the nodes it re-bounds (crown.c, crown_patch.c);
**          forward-linear bounds instead propagate symbolic intervals
**          (fwdlin.c);
**   spec:  the bound of C f(x): one backward pass (crown.c), or alpha-CROWN's
**          optimised lines (alpha.c).
** This file is the only caller of alpha.c, which calls the passes: no file
** of bounds/ calls back into the one that calls it.  Sizes: one table row per
** method; run is called once per sample (per subdomain in verify), spec once
** per specification.
*/
#include <assert.h>
#include <math.h>
#include <string.h>
#include "bounds.h"
#include "fwdlin.h"
#include "round.h"

#define CB_SOFTMAX_MAX 64   /* entries per softmax row the product form bounds (a stack row); longer rows keep one form */

/* Intersects node i's box with a prior box (valid on a superset of the set). */
static void clamp_prior(cb_ws *ws, int i, const double *plo, const double *phi)
{
  for (size_t e = 0; e < ws->net->node[i].size; e++) {
    if (plo[e] > ws->lo[i][e]) ws->lo[i][e] = plo[e];
    if (phi[e] < ws->hi[i][e]) ws->hi[i][e] = phi[e];
  }
  set_zmax(ws, i);
}

/*
** Every node's box: IBP from its inputs' boxes, intersected with the prior
** (plo/phi, NULL: none); nodes before `first` take the prior's boxes as they
** are.  relax: each relaxed node's lines from its input's box, before the
** nodes after it are bounded (a refinement reads them); refine: CROWN
** re-bounds the pre-activation nodes (crown_refines), then the prior again.
*/
/* A ReLU whose input CROWN re-bounds in full (not sign only: every neuron,
   both sides), or a linear node on the input (whose box is exact): its box relu([l, u]) is as tight as its own CROWN pass
   could give (the pass through its lines meets the input's bounds from the
   same relaxations: chord(u) = relu(u) above, alpha l <= 0 below), so that
   pass (a dense one for a ReLU feeding a MaxPool) is skipped. */
static int relu_box_exact(const cb_net *net, int i)
{
  const cb_node *n = &net->node[i], *x;
  if (n->kind != CB_ACT || n->p.act.type != CB_ACT_RELU) return 0;
  x = &net->node[n->in[0]];
  return (crown_refines(net, n->in[0]) && !crown_sign_only(net, n->in[0])) ||
         ((x->kind == CB_AFFINE || x->kind == CB_CONV || x->kind == CB_SCALE) && x->in[0] == 0);
}

/* Node i's box (IBP, the prior) and, with relax, its lines: the steps of
   run_nodes before node i's refinement. */
static int node_box(cb_ws *ws, int i, double *const *plo, double *const *phi, int relax, cb_error *err)
{
  int rc;
  if (cb_time_up()) return cb_limit_error(err, "the bounds");
  if ((rc = ibp_node(ws, i, err)) != CB_OK) return rc;
  if (plo && i > 0) clamp_prior(ws, i, plo[i], phi[i]);
  if (relax && cb_kind_info[ws->net->node[i].kind].relaxed) {  /* its own lines first: a refinement of i uses them */
    if ((rc = relax_supported(&ws->net->node[i], err)) != CB_OK) return rc;
    ws_relax_lines(ws, i);
  }
  return CB_OK;
}

/*
** Softmax in auto_LiRPA's product form, intersected with canon_attn.c's.
** The net computes y_i = 1 / (1 + sum_{j != i} exp(x_j - x_i)) (POW -1 of a
** 1x1 CONV with bias 1 summing EXP of a 1x1 CONV's differences); its lower
** end is exactly 1 / (the sum's upper bound).  The same y_i is
** e_i R, e_i = exp(x_i), R = 1 / T, T = sum_j exp(x_j), and McCormick's
** planes of that product, with EXP's and POW's own lines (relax_node) for
** e_i, T and R over the box of x, give lines in x:
**   lower: e R >= Rl e + El R - El Rl,  e R >= Ru e + Eu R - Eu Ru,
**          e >= EXP lower line, R >= POW lower line (slope <= 0) with T <= the
**          sum of EXP upper lines;
**   upper: e R <= Ru e + El R - El Ru,  e R <= Rl e + Eu R - Eu Rl,
**          e <= EXP upper line, R <= POW upper line with T >= EXP lower lines.
** One CROWN pass from x's node (crown_upper) concretises the four lines of
** every entry jointly over the input set, which beats 1 / S_u on many lower
** ends (bench/RESULTS.md, the ViT); each end of y's box keeps the tighter of
** the two forms.  Rounding: El, Eu, Tl, Tu, Rl, Ru are rounded outward; the
** lines' coefficients are products of doubles, whose rounding error (at most
** gamma_3 of the sum of the products' magnitudes per coefficient, and of the
** constant's terms) is charged to the constant against the box of x
** (docs/soundness.md).  The pattern is checked weight by weight, so a node
** that only looks like a softmax is left alone.
*/
/* Node i's box intersected with the product form's (comment above), when
   node i is a softmax output; CROWN and alpha-CROWN only (three passes from
   the scores' node: its box, T's box, the four lines per entry). */
static int softmax_product(cb_ws *ws, int i, cb_error *err)
{
  const cb_net *net = ws->net;
  int64_t B = 0, n;
  int t = 0;
  const cb_node *yn = &net->node[i], *en;
  const double *xl, *xh;
  double *A, *out, *c, *xb, *tA = NULL, *tc = NULL, g3 = round_gamma_up(3) * 2;
  size_t q, N;
  int rc;
  double *L = NULL;   /* ws->smx[i]: the product form's boxes and lines for CROWN's passes (crown.c back_softmax) */
  if (!(n = crown_softmax_rows(net, i, &B, &t))) return CB_OK;
  en = &net->node[net->node[net->node[i].in[0]].in[0]];
  N = net->node[t].size;
  q = 4 * (size_t)N;   /* per entry: two lower lines, two upper lines */
  A = cb_calloc(q * N, sizeof *A);
  out = cb_alloc(q * sizeof *out);
  c = cb_alloc(q * sizeof *c);
  xb = cb_alloc(2 * N * sizeof *xb);
  if (!A || !out || !c || !xb) {
    cb_free(A); cb_free(out); cb_free(c); cb_free(xb);
    return cb_error_set(err, CB_ENOMEM, "out of memory in the softmax bound");
  }
  /* x's own CROWN box first (its box may be IBP's: a MatMul's sum is not
     re-bounded), intersected with the box it has: rows +e_k, -e_k */
  for (size_t e = 0; e < N; e++) { A[2 * e * N + e] = 1; A[(2 * e + 1) * N + e] = -1; }
  if ((rc = crown_upper(ws, t, A, 2 * N, out, err)) != CB_OK) { cb_free(A); cb_free(out); cb_free(c); cb_free(xb); return rc; }
  memset(A, 0, 2 * N * N * sizeof *A);
  for (size_t e = 0; e < N; e++) {
    xb[e] = fmax(ws->lo[t][e], -out[2 * e + 1]);
    xb[N + e] = fmin(ws->hi[t][e], out[2 * e]);
  }
  xl = xb;
  xh = xb + N;
  /* T = sum_j exp(x_j)'s CROWN box per row b: EXP's upper lines' sum from
     above, the lower lines' from below (rows 2b, 2b + 1 of tA) */
  tA = cb_calloc(2 * (size_t)B * N, sizeof *tA);
  tc = cb_alloc(4 * (size_t)B * sizeof *tc);
  if (!tA || !tc) rc = cb_error_set(err, CB_ENOMEM, "out of memory in the softmax bound");
  for (int64_t b = 0; rc == CB_OK && b < B; b++) {
    double su = 0, sl = 0;
    for (int64_t k = 0; k < n; k++) {
      double l = xl[k * B + b], u = xh[k * B + b], w0, b0, w1, b1;
      if (!isfinite(l) || !isfinite(u) || l > u) { su = NAN; break; }
      relax_node(en, l, u, &w0, &b0, &w1, &b1);
      tA[(2 * b) * N + k * B + b] = w1;
      tA[(2 * b + 1) * N + k * B + b] = -w0;
      su = round_add_ru(su, b1);
      sl = round_add_rd(sl, b0);
    }
    tc[2 * b] = su;
    tc[2 * b + 1] = sl;
  }
  if (rc == CB_OK) rc = crown_upper(ws, t, tA, 2 * (size_t)B, tc + 2 * B, err);
  if (rc != CB_OK) { cb_free(A); cb_free(out); cb_free(c); cb_free(xb); cb_free(tA); cb_free(tc); return rc; }
  for (size_t r = 0; r < q; r++) c[r] = NAN;
  if (!ws->smx[i] && (ws->smx[i] = cb_alloc((3 + 8 * (size_t)B + 7 * N) * sizeof(double)))) {
    cb_free(ws->plan_off);   /* a cached compact plan may predate the edge to t (crown.c compact_plan) */
    ws->plan_off = NULL;
  }
  if ((L = ws->smx[i])) {
    L[0] = t; L[1] = (double)B; L[2] = (double)n;
    for (int64_t b = 0; b < B; b++) L[3 + 8 * b] = 0;
  }
  for (int64_t b = 0; b < B; b++) {
    double El[CB_SOFTMAX_MAX], Eu[CB_SOFTMAX_MAX], lw[CB_SOFTMAX_MAX], lb[CB_SOFTMAX_MAX], uw[CB_SOFTMAX_MAX],
        ub[CB_SOFTMAX_MAX], zx[CB_SOFTMAX_MAX];
    double Tl = 0, Tu = 0, Rl, Ru, plw, plb, puw, pub, Sub = 0, Slb = 0;
    int ok = n <= CB_SOFTMAX_MAX;
    for (int64_t k = 0; ok && k < n; k++) {
      double l = xl[k * B + b], u = xh[k * B + b];
      if (!isfinite(l) || !isfinite(u) || l > u) { ok = 0; break; }
      El[k] = round_down(exp(l));
      Eu[k] = round_up(exp(u));
      if (El[k] < 0) El[k] = 0;
      relax_node(en, l, u, &lw[k], &lb[k], &uw[k], &ub[k]);
      zx[k] = fmax(fabs(l), fabs(u));
      Tl = round_add_rd(Tl, El[k]);
      Tu = round_add_ru(Tu, Eu[k]);
      Sub = round_add_ru(Sub, ub[k]);
      Slb = round_add_rd(Slb, lb[k]);
      ok = isfinite(Eu[k]) && isfinite(lw[k]) && isfinite(lb[k]) && isfinite(uw[k]) && isfinite(ub[k]);
    }
    if (isfinite(tc[2 * b]) && isfinite(tc[2 * B + 2 * b])) Tu = fmin(Tu, round_add_ru(tc[2 * b], tc[2 * B + 2 * b]));
    if (isfinite(tc[2 * b + 1]) && isfinite(tc[2 * B + 2 * b + 1])) Tl = fmax(Tl, round_add_rd(tc[2 * b + 1], -tc[2 * B + 2 * b + 1]));
    if (!ok || !isfinite(Tu) || !(Tl > 0) || Tl > Tu) continue;
    Rl = round_div_rd(1, Tu);
    Ru = round_div_ru(1, Tl);
    relax_node(yn, Tl, Tu, &plw, &plb, &puw, &pub);
    if (!isfinite(plw) || !isfinite(plb) || !isfinite(puw) || !isfinite(pub) || plw > 0 || puw > 0) continue;
    if (L) {   /* row b: ok, Rl, Ru, R's lines over [Tl, Tu], Tu; entry e: El, Eu, e's lines, max |x_e| */
      double *Lb = L + 3 + 8 * b, rb[8] = {1, Rl, Ru, plw, plb, puw, pub, Tu};
      memcpy(Lb, rb, sizeof rb);
      for (int64_t k = 0; k < n; k++) {
        double *Le = L + 3 + 8 * B + 7 * (k * B + b), eb[7] = {El[k], Eu[k], lw[k], lb[k], uw[k], ub[k], zx[k]};
        memcpy(Le, eb, sizeof eb);
      }
    }
    for (int64_t i0 = 0; i0 < n; i0++)
      for (int s = 0; s < 4; s++) {
        /* s = 0, 1: lower lines (alpha e + beta R - gamma); 2, 3: upper lines.
           In A the row is negated for the lower lines: crown_upper bounds max A x. */
        int up = s >= 2;
        double al = s == 0 ? Rl : s == 1 ? Ru : s == 2 ? Ru : Rl, be = s == 0 || s == 2 ? El[i0] : Eu[i0];
        double ga = al * be, pw = up ? puw : plw, pb = up ? pub : plb, *row = A + ((size_t)(4 * (i0 * B + b) + s)) * N;
        double sgn = up ? 1 : -1, cst, slack;
        /* e's line (lower for a lower bound), R's line (pw <= 0: T's opposite-side lines) */
        double ew = up ? uw[i0] : lw[i0], eb = up ? ub[i0] : lb[i0], Ssum = up ? Slb : Sub;
        slack = 0;
        for (int64_t k = 0; k < n; k++) {
          double tw = up ? lw[k] : uw[k], v = be * pw * tw + (k == i0 ? al * ew : 0);
          row[k * B + b] = sgn * v;
          /* (be pw) tw: an underflow of be pw (<= eta/2) is scaled by |tw| (review11) */
          slack += (g3 * (fabs(be * pw * tw) + (k == i0 ? fabs(al * ew) : 0)) + (2 + fabs(tw)) * ROUND_ETA) * zx[k];
        }
        cst = al * eb + be * (pw * Ssum + pb) - ga;
        slack += g3 * (fabs(al * eb) + fabs(be * pw * Ssum) + fabs(be * pb) + fabs(ga)) + 4 * ROUND_ETA;
        slack = round_up(slack);
        c[4 * (i0 * B + b) + s] = up ? round_add_ru(cst, slack) : round_add_rd(cst, -slack);
      }
  }
  rc = crown_upper(ws, t, A, q, out, err);
  if (rc == CB_OK)
    for (size_t e = 0; e < N; e++)
      for (int s = 0; s < 4; s++) {
        double cs = c[4 * e + s], o = out[4 * e + s], v;
        if (isnan(cs) || !isfinite(o)) continue;
        if (s < 2) { v = round_add_rd(cs, -o); if (v > ws->lo[i][e]) ws->lo[i][e] = v; }
        else { v = round_add_ru(cs, o); if (v < ws->hi[i][e]) ws->hi[i][e] = v; }
      }
  if (rc == CB_OK && L) ws->smx_on[i] = 1;
  cb_free(A);
  cb_free(out);
  cb_free(c);
  cb_free(xb);
  cb_free(tA);
  cb_free(tc);
  set_zmax(ws, i);
  return rc;
}

/* The nodes before `first`: the prior's boxes as they are. */
static int prior_boxes(cb_ws *ws, double *const *plo, double *const *phi, int first, int relax, cb_error *err)
{
  const cb_net *net = ws->net;
  int rc = set_check(&ws->set, err);
  for (int i = 0; i < first && i < net->n && rc == CB_OK; i++) {
    memcpy(ws->lo[i], plo[i], net->node[i].size * sizeof(double));
    memcpy(ws->hi[i], phi[i], net->node[i].size * sizeof(double));
    set_zmax(ws, i);
    if (relax && cb_kind_info[net->node[i].kind].relaxed) {
      if ((rc = relax_supported(&net->node[i], err)) != CB_OK) break;
      ws_relax_lines(ws, i);
    }
  }
  return rc;
}

/* Does the driver re-bound node i by CROWN (when the method refines)? */
static int refined(const cb_net *net, int i) { return crown_refines(net, i) && !relu_box_exact(net, i); }

static int run_nodes(cb_ws *ws, double *const *plo, double *const *phi, int first, int relax, int refine,
                     cb_error *err)
{
  const cb_net *net = ws->net;
  int rc = prior_boxes(ws, plo, phi, first, relax, err);
  for (int i = first > 0 ? first : 0; i < net->n && rc == CB_OK; i++) {
    if ((rc = node_box(ws, i, plo, phi, relax, err)) != CB_OK) break;
    if (refine && refined(net, i)) {
      rc = crown_refine(ws, i, err);
      if (plo) clamp_prior(ws, i, plo[i], phi[i]);
    }
    if (rc == CB_OK && refine) rc = softmax_product(ws, i, err);
  }
  return rc;
}

/* IBP: boxes only. */
static int run_ibp(cb_ws *ws, double *const *plo, double *const *phi, int first, cb_error *err)
{
  return run_nodes(ws, plo, phi, first, 0, 0, err);
}

/* CROWN (and alpha-CROWN, whose intermediate bounds are CROWN's): boxes,
   lines, and CROWN's bounds of every pre-activation node. */
static int run_crown(cb_ws *ws, double *const *plo, double *const *phi, int first, cb_error *err)
{
  return run_nodes(ws, plo, phi, first, 1, 1, err);
}

/* CROWN-IBP: IBP boxes and their lines; CROWN bounds only the specification. */
static int run_crown_ibp(cb_ws *ws, double *const *plo, double *const *phi, int first, cb_error *err)
{
  return run_nodes(ws, plo, phi, first, 1, 0, err);
}

/* Forward linear bounds (a box set, dense kinds): no prior boxes; the
   branch and bound that uses them calls fwdlin_run itself, per box. */
static int run_fwdlin(cb_ws *ws, double *const *plo, double *const *phi, int first, cb_error *err)
{
  if (plo || phi || first > 0) return cb_error_set(err, CB_EUNSUP, "forward linear bounds take no prior boxes");
  return fwdlin_run(ws, NULL, NULL, err);
}

/* IBP's specification: C merged into a last AFFINE layer, concretised over
   that layer's input box (the output's own box otherwise). */
static int spec_ibp(cb_ws *ws, const double *C, size_t q, double *lb, double *ub, cb_error *err)
{
  const cb_node *o = &ws->net->node[ws->net->output];
  return crown_spec(ws, C, q, o->kind == CB_AFFINE ? o->in[0] : ws->net->output, lb, ub, err);
}

/* CROWN's: one backward pass down to the input set. */
static int spec_crown(cb_ws *ws, const double *C, size_t q, double *lb, double *ub, cb_error *err)
{
  return crown_spec(ws, C, q, 0, lb, ub, err);
}

/* alpha-CROWN's: each row's lines optimised (default options, ws->alpha_iters iterations).
   alpha-CROWN's passes take each node's own lines, not a softmax's product
   form (crown.c back_softmax), so on a net with one its iterate 0 can be
   looser than CROWN: there CROWN's bound of the rows is computed too and
   each row keeps the tighter (both are sound). */
static int spec_alpha(cb_ws *ws, const double *C, size_t q, double *lb, double *ub, cb_error *err)
{
  cb_alpha_opt o;
  double *cl = NULL, *cu = NULL;
  int rc, smx = 0;
  for (int i = 0; i < ws->net->n; i++) smx |= ws->smx_on[i];
  alpha_opt_init(&o);
  o.iters = ws->alpha_iters;
  if ((rc = alpha_spec(ws, C, q, &o, lb, ub, err)) != CB_OK || !smx || !q) return rc;
  if ((lb && !(cl = cb_alloc(q * sizeof *cl))) || (ub && !(cu = cb_alloc(q * sizeof *cu)))) {
    cb_free(cl);
    return cb_error_set(err, CB_ENOMEM, "out of memory in alpha-CROWN");
  }
  if ((rc = crown_spec(ws, C, q, 0, cl, cu, err)) == CB_OK)
    for (size_t r = 0; r < q; r++) {
      if (lb && cl[r] > lb[r]) lb[r] = cl[r];
      if (ub && cu[r] < ub[r]) ub[r] = cu[r];
    }
  cb_free(cl);
  cb_free(cu);
  return rc;
}

const cb_method_info cb_method_table[CB_METHOD_COUNT] = {
  [CB_IBP]         = {CB_IBP,         "ibp",         run_ibp,       spec_ibp,   0},
  [CB_CROWN]       = {CB_CROWN,       "crown",       run_crown,     spec_crown, 0},
  [CB_CROWN_IBP]   = {CB_CROWN_IBP,   "crown-ibp",   run_crown_ibp, spec_crown, 0},
  [CB_ALPHA_CROWN] = {CB_ALPHA_CROWN, "alpha-crown", run_crown,     spec_alpha, 0},
  [CB_FWDLIN]      = {CB_FWDLIN,      "fwd",         run_fwdlin,    spec_crown, 1},
};
static_assert(CB_METHOD_COUNT == 5, "a new method needs its row in cb_method_table");

int bounds_method_parse(const char *s, cb_method *m)
{
  for (int k = 0; k < CB_METHOD_COUNT; k++)
    if (!strcmp(s, cb_method_table[k].name)) { *m = cb_method_table[k].id; return 1; }
  return 0;
}

const char *bounds_method_name(cb_method m)
{
  return (unsigned)m < CB_METHOD_COUNT ? cb_method_table[m].name : "?";
}

int bounds_run_from(cb_ws *ws, cb_method m, double *const *plo, double *const *phi, int first, cb_error *err)
{
  if ((unsigned)m >= CB_METHOD_COUNT) return cb_error_set(err, CB_EUSAGE, "unknown bounding method %d", (int)m);
  ws->method = m;
  memset(ws->sv_ok, 0, (size_t)ws->net->n);   /* the boxes change: CROWN's cached slack vectors go stale */
  memset(ws->smx_on, 0, (size_t)ws->net->n);  /* and softmax_product's lines */
  return cb_method_table[m].run(ws, plo, phi, first, err);
}

int bounds_run_prior(cb_ws *ws, cb_method m, double *const *plo, double *const *phi, cb_error *err)
{
  return bounds_run_from(ws, m, plo, phi, 0, err);
}

int bounds_run(cb_ws *ws, cb_method m, cb_error *err)
{
  return bounds_run_prior(ws, m, NULL, NULL, err);
}

int bounds_spec(cb_ws *ws, const double *C, size_t q, double *lb, double *ub, cb_error *err)
{
  cb_assert((unsigned)ws->method < CB_METHOD_COUNT);
  return cb_method_table[ws->method].spec(ws, C, q, lb, ub, err);
}

/*
** Batched: S workspaces of one net (samples, or subdomains with their own
** priors plo[s]/phi[s] and `first[s]`; each may be NULL) run method m node
** by node together, and CROWN's refinement of each node is one stacked
** pass over all of them (crown_refine_batch): the same bounds as S calls
** of bounds_run_from, up to the reduction order of the stacked products
** (docs/soundness.md "Batched passes").  Methods without CROWN
** refinements (IBP, CROWN-IBP, forward linear) run per workspace.
*/
int bounds_run_batch(cb_ws *const *ws, size_t S, cb_method m, double **const *plo, double **const *phi,
                     const int *first, cb_error *err)
{
  const cb_net *net;
  cb_ws **sub = NULL;
  int rc = CB_OK;
  if ((unsigned)m >= CB_METHOD_COUNT) return cb_error_set(err, CB_EUSAGE, "unknown bounding method %d", (int)m);
  if (!S) return CB_OK;
  net = ws[0]->net;
  for (size_t s = 1; s < S; s++)
    if (ws[s]->net != net) return cb_error_set(err, CB_EUSAGE, "a batched pass needs workspaces of one network");
  if (S == 1 || (m != CB_CROWN && m != CB_ALPHA_CROWN)) {
    for (size_t s = 0; s < S && rc == CB_OK; s++)
      rc = bounds_run_from(ws[s], m, plo ? plo[s] : NULL, phi ? phi[s] : NULL, first ? first[s] : 0, err);
    return rc;
  }
  if (!(sub = cb_alloc(S * sizeof *sub))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  for (size_t s = 0; s < S && rc == CB_OK; s++) {
    ws[s]->method = m;
    memset(ws[s]->sv_ok, 0, (size_t)net->n);   /* the boxes change: cached slack vectors go stale */
    memset(ws[s]->smx_on, 0, (size_t)net->n);
    rc = prior_boxes(ws[s], plo ? plo[s] : NULL, phi ? phi[s] : NULL, first ? first[s] : 0, 1, err);
  }
  for (int i = 0; i < net->n && rc == CB_OK; i++) {
    size_t ns = 0;
    for (size_t s = 0; s < S && rc == CB_OK; s++) {
      double *const *pl = plo ? plo[s] : NULL, *const *ph = phi ? phi[s] : NULL;
      if (first && i < first[s]) continue;
      if ((rc = node_box(ws[s], i, pl, ph, 1, err)) == CB_OK) sub[ns++] = ws[s];
    }
    if (rc != CB_OK || !ns) continue;
    if (refined(net, i)) {
      rc = crown_refine_batch(sub, ns, i, err);
      for (size_t s = 0; s < S && rc == CB_OK; s++)
        if (plo && plo[s] && (!first || i >= first[s])) clamp_prior(ws[s], i, plo[s][i], phi[s][i]);
    }
    for (size_t s = 0; s < ns && rc == CB_OK; s++) rc = softmax_product(sub[s], i, err);
  }
  cb_free(sub);
  return rc;
}

/* bounds_spec for S workspaces after bounds_run_batch (one method): C[s] is
   sample s's q x output matrix; CROWN's passes stacked, alpha-CROWN per sample. */
int bounds_spec_batch(cb_ws *const *ws, size_t S, const double *const *C, size_t q, double *const *lb,
                      double *const *ub, cb_error *err)
{
  cb_method m;
  const cb_node *o;
  int rc = CB_OK;
  if (!S) return CB_OK;
  m = ws[0]->method;
  cb_assert((unsigned)m < CB_METHOD_COUNT);
  for (size_t s = 1; s < S; s++)
    if (ws[s]->method != m || ws[s]->net != ws[0]->net)
      return cb_error_set(err, CB_EUSAGE, "a batched pass needs workspaces of one network and method");
  if (m == CB_ALPHA_CROWN) {
    for (size_t s = 0; s < S && rc == CB_OK; s++) rc = bounds_spec(ws[s], C[s], q, lb ? lb[s] : NULL, ub ? ub[s] : NULL, err);
    return rc;
  }
  o = &ws[0]->net->node[ws[0]->net->output];
  return crown_spec_batch(ws, S, C, q, m == CB_IBP && o->kind == CB_AFFINE ? o->in[0] : m == CB_IBP ? ws[0]->net->output : 0,
                          lb, ub, err);
}
