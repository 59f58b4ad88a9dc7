/*
** Attributions by a modified backward pass (attr.h): one reverse sweep in
** topological order carrying one vector per node, like lip/grad.c, with a
** per-method rule at each node.  The forward values come from the gradient
** context (grad_forward at x).
**
**   lrp        Layer-wise Relevance Propagation (Bach et al. 2015; the rules
**              as Montavon et al. 2019 and Zennit write them).  R starts as
**              f_c(x) e_c.  AFFINE and CONV layers z = W x + b use a rule:
**                eps:   R_j = x_j sum_k w_kj R_k / (z_k + eps sgn z_k)   (eps 0: LRP-0)
**                gamma: the same with w + gamma w+, b + gamma b+
**                alphabeta: R_j = sum_k (alpha (x_j w_kj)+ / z+_k - beta (x_j w_kj)- / z-_k) R_k,
**                       z+-_k = sum_j (x_j w_kj)+-, biases left out, beta = alpha - 1
**                zplus: alphabeta with alpha 1, beta 0 (the z+ rule)
**              (a zero denominator passes nothing; sgn 0 = +1).  The default
**              composite (Zennit's EpsilonPlus): zplus on CONV, eps on AFFINE.
**              Activations pass R unchanged; MaxPool gives it to the first
**              maximal input (winner takes all); SCALE y = a x + b and ADD
**              split R in proportion to their terms (eps rule); index maps
**              route it.  The relevance absorbed by biases and eps (the
**              difference between what enters and leaves a layer) is summed
**              in a->lrp_absorbed: sum(map) + absorbed = f_c(x) up to rounding.
**   deeplift   DeepLIFT, Rescale rule (Shrikumar et al. 2017): multipliers
**              m = df/dx through linear nodes, (f(x) - f(b)) / (x - b) at
**              each activation (f'(x) where x and b coincide within 1e-10
**              (1 + |x|)); map = m .* (x - b), b the IG baseline.  Summation
**              to delta: sum(map) = f_c(x) - f_c(b).  MaxPool is refused.
**   guidedbackprop  the gradient with negative signals zeroed at every
**              activation: R_in = f'(x) max(R, 0) (Springenberg et al. 2015)
**   deconvnet  at every ReLU-type activation R_in = max(R, 0), ignoring the
**              forward pass (Zeiler & Fergus 2014); other activations refused
** Cost: one forward and one backward sweep (lrp: alphabeta layers 2-4 sweeps
** of the layer; deeplift: two forwards).  Deterministic.
*/
#include <math.h>
#include <string.h>
#include "attr.h"
#include "sort.h"
#include "backward.h"
#include "forward.h"
#include "linalg.h"

const char *const attr_lrp_rule_name[LRP_COUNT] = {"eps", "gamma", "zplus", "alphabeta"};

struct attr_rules {
  double **rel;        /* per node: the backward vector (size of the node) */
  double *block;
  double **act0;       /* deeplift: the forward values at the baseline */
  double *wp, *wm, *bp, *bz;   /* largest layer: modified weights, biases */
  double *z, *z2, *c, *c2, *xp, *xm;   /* largest node scratch */
  size_t *idx;         /* pooling window */
};

void attr_rules_free(attr_rules *r)
{
  if (!r) return;
  cb_free(r->rel);
  cb_free(r->block);
  fwd_free(r->act0);
  cb_free(r->wp);
  cb_free(r->idx);
  cb_free(r);
}

static size_t n_weights(const cb_node *n)
{
  if (n->kind == CB_AFFINE) return n->p.aff.out * n->p.aff.in;
  if (n->kind == CB_CONV) {
    const cb_conv *g = &n->p.conv.g;
    return (size_t)(g->cout * (g->cin / g->groups) * g->kh * g->kw);
  }
  return 0;
}

static attr_rules *rules_new(attr_ctx *a, cb_error *err)
{
  const cb_net *net = a->net;
  attr_rules *r = cb_calloc(1, sizeof *r);
  size_t tot = 0, mw = 1, ms = 1, win = 1;
  if (!r) goto oom;
  for (int i = 0; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    tot += n->size;
    if (n_weights(n) > mw) mw = n_weights(n);
    if (n->size > ms) ms = n->size;
    if (n->kind == CB_MAXPOOL && (size_t)(n->p.pool.g.kh * n->p.pool.g.kw) > win) win = (size_t)(n->p.pool.g.kh * n->p.pool.g.kw);
  }
  r->rel = cb_calloc((size_t)net->n, sizeof *r->rel);
  r->block = cb_alloc(tot * sizeof *r->block);
  r->wp = cb_alloc((2 * mw + 8 * ms) * sizeof *r->wp);
  r->idx = cb_alloc(win * sizeof *r->idx);
  if (!r->rel || !r->block || !r->wp || !r->idx) goto oom;
  if (a->opt.method == AM_DEEPLIFT && !(r->act0 = fwd_alloc(net, 1))) goto oom;
  r->wm = r->wp + mw; r->bp = r->wm + mw; r->bz = r->bp + ms; r->z = r->bz + ms; r->z2 = r->z + ms;
  r->c = r->z2 + ms; r->c2 = r->c + ms; r->xp = r->c2 + ms; r->xm = r->xp + ms;
  memset(r->bz, 0, ms * sizeof *r->bz);
  for (int i = 0, off = 0; i < net->n; i++) { r->rel[i] = r->block + off; off += (int)net->node[i].size; }
  return r;
oom:
  attr_rules_free(r);
  cb_error_set(err, CB_ENOMEM, "out of memory");
  return NULL;
}

/* y = W x + b for an AFFINE or CONV node (b may be the zero vector). */
static int lin_fwd(const cb_node *n, const double *W, const double *b, const double *x, double *y)
{
  if (n->kind == CB_AFFINE) { la_affine_rows(W, b, n->p.aff.out, n->p.aff.in, x, 1, y); return CB_OK; }
  return la_conv_forward(&n->p.conv.g, W, b, x, 1, y);
}

/* Ain += W^T s. */
static int lin_bwd(const cb_node *n, const double *W, const double *s, double *Ain)
{
  if (n->kind == CB_AFFINE) { la_gemm(0, 0, 1, n->p.aff.in, n->p.aff.out, 1.0, s, n->p.aff.out, W, n->p.aff.in, 1.0, Ain, n->p.aff.in); return CB_OK; }
  return la_conv_backward(&n->p.conv.g, W, s, 1, Ain);
}

static double stab(double z, double eps) { return z + (z >= 0 ? eps : -eps); }

/* LRP eps / gamma rule at a linear node: Rin += x .* W'^T (R ./ (z' + eps sgn z')). */
static int lrp_eps(attr_ctx *a, attr_rules *w, const cb_node *n, double gamma, const double *x, const double *R, double *Rin)
{
  size_t nw = n_weights(n), ni = a->net->node[n->in[0]].size, nb = n->kind == CB_AFFINE ? n->p.aff.out : (size_t)n->p.conv.g.cout;
  const double *W = n->kind == CB_AFFINE ? n->p.aff.W : n->p.conv.W, *b = n->kind == CB_AFFINE ? n->p.aff.b : n->p.conv.b;
  double in = 0, out = 0;
  int rc;
  if (!b) b = w->bz;
  for (size_t e = 0; e < nw; e++) w->wp[e] = W[e] + gamma * fmax(W[e], 0);
  for (size_t e = 0; e < nb; e++) w->bp[e] = b[e] + gamma * fmax(b[e], 0);
  if ((rc = lin_fwd(n, w->wp, w->bp, x, w->z)) != CB_OK) return rc;
  for (size_t e = 0; e < n->size; e++) {
    double d = stab(w->z[e], a->opt.lrp_eps);
    w->z[e] = d != 0 ? R[e] / d : 0;
    out += R[e];
  }
  memset(w->c, 0, ni * sizeof *w->c);
  if ((rc = lin_bwd(n, w->wp, w->z, w->c)) != CB_OK) return rc;
  for (size_t j = 0; j < ni; j++) { Rin[j] += x[j] * w->c[j]; in += x[j] * w->c[j]; }
  a->lrp_absorbed += out - in;
  return CB_OK;
}

/* LRP alpha-beta rule (zplus: alpha 1, beta 0), biases left out. */
static int lrp_ab(attr_ctx *a, attr_rules *w, const cb_node *n, double alpha, double beta, const double *x, const double *R, double *Rin)
{
  size_t nw = n_weights(n), ni = a->net->node[n->in[0]].size, no = n->size;
  const double *W = n->kind == CB_AFFINE ? n->p.aff.W : n->p.conv.W;
  double in = 0, out = 0, *sp = w->z, *sm = w->z2, *t = w->bp, *cp = w->c, *cm = w->c2;
  int rc;
  for (size_t e = 0; e < nw; e++) { w->wp[e] = fmax(W[e], 0); w->wm[e] = fmin(W[e], 0); }
  for (size_t j = 0; j < ni; j++) { w->xp[j] = fmax(x[j], 0); w->xm[j] = fmin(x[j], 0); }
  /* z+ = W+ x+ + W- x-, z- = W- x+ + W+ x- */
  if ((rc = lin_fwd(n, w->wp, w->bz, w->xp, sp)) || (rc = lin_fwd(n, w->wm, w->bz, w->xm, t))) return rc;
  for (size_t e = 0; e < no; e++) sp[e] += t[e];
  if ((rc = lin_fwd(n, w->wm, w->bz, w->xp, sm)) || (rc = lin_fwd(n, w->wp, w->bz, w->xm, t))) return rc;
  for (size_t e = 0; e < no; e++) {
    sm[e] += t[e];
    sp[e] = sp[e] != 0 ? alpha * R[e] / sp[e] : 0;
    sm[e] = sm[e] != 0 && beta != 0 ? beta * R[e] / sm[e] : 0;
    out += R[e];
  }
  /* R_j = x+_j (W+^T s+ - W-^T s-)_j + x-_j (W-^T s+ - W+^T s-)_j */
  memset(cp, 0, ni * sizeof *cp);
  memset(cm, 0, ni * sizeof *cm);
  for (size_t e = 0; e < no; e++) sm[e] = -sm[e];
  if ((rc = lin_bwd(n, w->wp, sp, cp)) || (rc = lin_bwd(n, w->wm, sm, cp))) return rc;
  if ((rc = lin_bwd(n, w->wm, sp, cm)) || (rc = lin_bwd(n, w->wp, sm, cm))) return rc;
  for (size_t j = 0; j < ni; j++) {
    double r = w->xp[j] * cp[j] + w->xm[j] * cm[j];
    Rin[j] += r;
    in += r;
  }
  a->lrp_absorbed += out - in;
  return CB_OK;
}

static int lrp_linear(attr_ctx *a, attr_rules *w, const cb_node *n, const double *x, const double *R, double *Rin)
{
  attr_lrp_rule r = a->opt.lrp_rule[n->kind == CB_CONV];
  double al = a->opt.lrp_alpha;
  switch (r) {
  case LRP_EPS: return lrp_eps(a, w, n, 0, x, R, Rin);
  case LRP_GAMMA: return lrp_eps(a, w, n, a->opt.lrp_gamma, x, R, Rin);
  case LRP_ZPLUS: return lrp_ab(a, w, n, 1, 0, x, R, Rin);
  case LRP_ALPHABETA: return lrp_ab(a, w, n, al, al - 1, x, R, Rin);
  case LRP_COUNT: break;
  }
  return CB_EINTERNAL;
}

/* MaxPool: R of each output to the first maximal input of its window. */
static void to_argmax(attr_rules *w, const cb_net *net, const cb_node *n, const double *x, const double *R, double *Rin)
{
  const cb_conv *g = &n->p.pool.g;
  size_t o = 0;
  (void)net;
  for (int64_t c = 0; c < g->cin; c++)
    for (int64_t oi = 0; oi < g->hout; oi++)
      for (int64_t oj = 0; oj < g->wout; oj++, o++) {
        int m = pool_window(g, c, oi, oj, w->idx), best = 0;
        for (int k = 1; k < m; k++) if (x[w->idx[k]] > x[w->idx[best]]) best = k;
        if (m > 0) Rin[w->idx[best]] += R[o];
      }
}

/* LRP at SCALE and ADD: R split in proportion to the terms (eps rule). */
static void lrp_split(attr_ctx *a, const cb_node *n, int i, const double *R)
{
  const double *y = grad_value(a->g, i);
  double *Rin, out = 0, in = 0;
  for (size_t e = 0; e < n->size; e++) out += R[e];
  for (int k = 0; k < (n->kind == CB_ADD ? 2 : 1); k++) {
    const double *x = grad_value(a->g, n->in[k]);
    Rin = a->rules->rel[n->in[k]];
    for (size_t e = 0; e < n->size; e++) {
      double d = stab(y[e], a->opt.lrp_eps), t = n->kind == CB_SCALE ? n->p.scale.a[e] * x[e] : x[e], r = d != 0 ? t * R[e] / d : 0;
      Rin[e] += r;
      in += r;
    }
  }
  a->lrp_absorbed += out - in;
}

/* The activation rule of each method; R is the node's vector. */
static int act_rule(attr_ctx *a, const cb_node *n, int i, const double *R, double *Rin, cb_error *err)
{
  const double *x = grad_value(a->g, n->in[0]), *y = grad_value(a->g, i);
  const cb_act_info *f = node_act(n);
  attr_method m = a->opt.method;
  int relu = n->p.act.type == CB_ACT_RELU || n->p.act.type == CB_ACT_LEAKY_RELU;
  if (m == AM_DECONVNET && !relu)
    return cb_error_set(err, CB_EUNSUP, "deconvnet is defined for ReLU networks: node \"%s\" is a %s activation", n->name, f->name);
  for (size_t e = 0; e < n->size; e++) {
    double d;
    if (m == AM_LRP) d = 1;
    else if (m == AM_DECONVNET) { Rin[e] += fmax(R[e], 0); continue; }
    else if (m == AM_GUIDEDBP) { Rin[e] += f->df(n, x[e], y[e]) * fmax(R[e], 0); continue; }
    else {   /* deeplift: (f(x) - f(b)) / (x - b) */
      const double *x0 = a->rules->act0[n->in[0]], *y0 = a->rules->act0[i];
      double dx = x[e] - x0[e];
      d = fabs(dx) > 1e-10 * (1 + fabs(x[e])) ? (y[e] - y0[e]) / dx : f->df(n, x[e], y[e]);
    }
    Rin[e] += d * R[e];
  }
  return CB_OK;
}

/* DeepLIFT's Rescale rule has no form for a MaxPool or a SORT (the selection
   at x and at the baseline differ): refused by name, before the sweep
   (attr_rules_check) and again in it, should the options change. */
static int deeplift_refuse(const cb_node *n, cb_error *err)
{
  return cb_error_set(err, CB_EUNSUP, "deeplift: node \"%s\" is a %s: the Rescale rule is not implemented for %s", n->name,
                      n->kind == CB_MAXPOOL ? "MaxPool" : "SORT", n->kind == CB_MAXPOOL ? "MaxPool" : "sorts");
}

/* SORT at input x: output position idx[t] holds the value of member idx[ord[t]], so its relevance goes there. */
static int sort_route(const cb_node *n, const double *x, const double *R, double *Rin)
{
  size_t gs = (size_t)n->p.sort.g, *idx = cb_alloc(2 * gs * sizeof *idx), *ord;
  if (!idx) return CB_ENOMEM;
  ord = idx + gs;
  for (size_t k = 0; k < sort_groups(n); k++) {
    sort_members(n, k, idx);
    sort_order(n, x, idx, ord);
    for (size_t t = 0; t < gs; t++) Rin[idx[ord[t]]] += R[idx[t]];
  }
  cb_free(idx);
  return CB_OK;
}

/* One node of the sweep: its vector onto its inputs. */
static int back_node(attr_ctx *a, int i, cb_error *err)
{
  attr_rules *w = a->rules;
  const cb_node *n = &a->net->node[i];
  const double *R = w->rel[i], *x = grad_value(a->g, n->in[0]);
  double *Rin = w->rel[n->in[0]];
  int lrp = a->opt.method == AM_LRP;
  switch (n->kind) {
  case CB_AFFINE: case CB_CONV:
    if (lrp) return lrp_linear(a, w, n, x, R, Rin);
    return lin_bwd(n, n->kind == CB_AFFINE ? n->p.aff.W : n->p.conv.W, R, Rin);
  case CB_SCALE:
    if (lrp) { lrp_split(a, n, i, R); return CB_OK; }
    for (size_t e = 0; e < n->size; e++) Rin[e] += n->p.scale.a[e] * R[e];
    return CB_OK;
  case CB_ADD:
    if (lrp && (a->net->node[n->in[0]].size != n->size || a->net->node[n->in[1]].size != n->size))
      return cb_error_set(err, CB_EUNSUP, "lrp: node \"%s\" is a broadcasting Add: no LRP rule for it", n->name);
    if (lrp) { lrp_split(a, n, i, R); return CB_OK; }
    for (int k = 0; k < n->n_in; k++) bwd_index(a->net, i, k, 1, R, w->rel[n->in[k]]);
    return CB_OK;
  case CB_ACT:
    return act_rule(a, n, i, R, Rin, err);
  case CB_MAXPOOL:
    if (a->opt.method == AM_DEEPLIFT) return deeplift_refuse(n, err);
    to_argmax(w, a->net, n, x, R, Rin);
    return CB_OK;
  case CB_CONCAT: case CB_RESHAPE: case CB_TRANSPOSE:
    for (int k = 0; k < n->n_in; k++) bwd_index(a->net, i, k, 1, R, w->rel[n->in[k]]);
    return CB_OK;
  case CB_MUL:
    return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\" is a product of two computed tensors: no relevance rule for it",
                        attr_method_name[a->opt.method], n->name);
  case CB_SORT:   /* a permutation at x: relevance follows each value back to its member (conserved) */
    if (a->opt.method == AM_DEEPLIFT) return deeplift_refuse(n, err);
    return sort_route(n, x, R, Rin);
  case CB_INPUT: case CB_KIND_COUNT: break;
  }
  return cb_error_set(err, CB_EINTERNAL, "attribution rules: node %d", i);
}

int attr_rules_check(const cb_net *net, const attr_opt *o, cb_error *err)
{
  int has[2] = {0, 0};
  for (int i = 0; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    if (n->kind == CB_AFFINE || n->kind == CB_CONV) has[n->kind == CB_CONV] = 1;
    if (o->method == AM_DEEPLIFT && (n->kind == CB_MAXPOOL || n->kind == CB_SORT)) return deeplift_refuse(n, err);
    if (o->method == AM_DECONVNET && n->kind == CB_ACT && n->p.act.type != CB_ACT_RELU && n->p.act.type != CB_ACT_LEAKY_RELU)
      return cb_error_set(err, CB_EUNSUP, "deconvnet is defined for ReLU networks: node \"%s\" is a %s activation", n->name, node_act(n)->name);
  }
  if ((o->lrp_rule_set[0] || o->lrp_rule_set[1]) && o->method != AM_LRP)
    return cb_error_set(err, CB_EUSAGE, "--rule is an option of --method lrp, not %s", attr_method_name[o->method]);
  for (int t = 0; t < 2; t++)
    if (o->lrp_rule_set[t] == 2 && !has[t])
      return cb_error_set(err, CB_EUSAGE, "--rule %s=%s: the network has no %s layer to apply it to", t ? "conv" : "dense",
                          attr_lrp_rule_name[o->lrp_rule[t]], t ? "CONV" : "dense (AFFINE)");
  if (!(o->lrp_eps >= 0) || !(o->lrp_gamma >= 0) || !(o->lrp_alpha >= 1) || !isfinite(o->lrp_eps + o->lrp_gamma + o->lrp_alpha))
    return cb_error_set(err, CB_EUSAGE, "LRP: eps and gamma must be >= 0 and alpha >= 1 (finite)");
  return CB_OK;
}

int attr_rules_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err)
{
  const cb_net *net = a->net;
  attr_rules *w;
  double *b = a->t1;
  int rc;
  if (!a->rules && !(a->rules = rules_new(a, err))) return err->status;
  w = a->rules;
  if ((rc = grad_forward(a->g, x, a->y, err)) != CB_OK) return rc;
  if (!isfinite(a->y[target])) return cb_error_set(err, CB_EVALUE, "the score is not finite");
  for (int i = 0; i < net->n; i++) memset(w->rel[i], 0, net->node[i].size * sizeof(double));
  a->lrp_absorbed = 0;
  w->rel[net->output][target] = a->opt.method == AM_LRP ? a->y[target] : 1;
  if (a->opt.method == AM_DEEPLIFT) {
    attr_ig_baseline(a, x, 0, b);
    memcpy(w->act0[0], b, a->n * sizeof *b);
    if ((rc = fwd_all(net, 1, w->act0, err)) != CB_OK) return rc;
  }
  for (int i = net->output; i > 0; i--) {
    cb_error e = {0};
    if ((rc = back_node(a, i, &e)) == CB_OK) continue;
    if (e.msg[0]) *err = e;   /* the linear algebra returns a bare status (out of memory) */
    else cb_error_set(err, rc, "%s: backward step at node \"%s\" failed (%s)", attr_method_name[a->opt.method], net->node[i].name,
                      rc == CB_ENOMEM ? "out of memory" : "internal error");
    return rc;
  }
  for (size_t e = 0; e < a->n; e++) {
    map[e] = a->opt.method == AM_DEEPLIFT ? w->rel[0][e] * (x[e] - b[e]) : w->rel[0][e];
    if (!isfinite(map[e])) return cb_error_set(err, CB_EVALUE, "%s: non-finite attribution at feature %zu", attr_method_name[a->opt.method], e);
  }
  return CB_OK;
}
