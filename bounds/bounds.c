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
#include <string.h>
#include "bounds.h"
#include "fwdlin.h"

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

/* alpha-CROWN's: each row's lines optimised (default options, ws->alpha_iters iterations). */
static int spec_alpha(cb_ws *ws, const double *C, size_t q, double *lb, double *ub, cb_error *err)
{
  cb_alpha_opt o;
  alpha_opt_init(&o);
  o.iters = ws->alpha_iters;
  return alpha_spec(ws, C, q, &o, lb, ub, err);
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
    rc = prior_boxes(ws[s], plo ? plo[s] : NULL, phi ? phi[s] : NULL, first ? first[s] : 0, 1, err);
  }
  for (int i = 0; i < net->n && rc == CB_OK; i++) {
    size_t ns = 0;
    for (size_t s = 0; s < S && rc == CB_OK; s++) {
      double *const *pl = plo ? plo[s] : NULL, *const *ph = phi ? phi[s] : NULL;
      if (first && i < first[s]) continue;
      if ((rc = node_box(ws[s], i, pl, ph, 1, err)) == CB_OK) sub[ns++] = ws[s];
    }
    if (rc != CB_OK || !ns || !refined(net, i)) continue;
    rc = crown_refine_batch(sub, ns, i, err);
    for (size_t s = 0; s < S && rc == CB_OK; s++)
      if (plo && plo[s] && (!first || i >= first[s])) clamp_prior(ws[s], i, plo[s][i], phi[s][i]);
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
