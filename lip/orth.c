/*
** Certified orthonormalisation (orth.h).  Per layer: Bjorck on the weight
** matrix (a conv's reshaped kernel), a conv divided by its guaranteed
** operator bound when that exceeds 1, then round_to_unit: the float32
** weights of the written file, shrunk until certified <= 1.  Plain double
** except the certified bounds (lip_spec_bound, specnorm.c) and the shrink
** factor (rounded down).  Called once per network; cost is a few spectral
** bounds per layer.
*/
#include <math.h>
#include <string.h>
#include "orth.h"
#include "round.h"

/* Bjorck matrix shape of a node and its layer operator over weights W. */
static void node_weights(const cb_node *n, lip_op *op, double *W, size_t *rows, size_t *cols)
{
  if (n->kind == CB_AFFINE) {
    *rows = n->p.aff.out; *cols = n->p.aff.in;
    lip_power_op_dense(op, W, *rows, *cols);
  } else {
    *rows = (size_t)n->p.conv.g.cout;
    *cols = (size_t)(n->p.conv.g.cin / n->p.conv.g.groups * n->p.conv.g.kh * n->p.conv.g.kw);
    lip_power_op_conv(op, &n->p.conv.g, W);
  }
}

/* Guaranteed L2 upper bound of the layer operator with weights op->W. */
static int op_upper(const lip_op *op, double *ub, double *abs2, cb_error *err)
{
  lip_spec_opts so;
  lip_bound b;
  double n1, ninf;
  int rc;
  lip_spec_opts_init(&so);
  so.power.max_iters = 50;
  if ((rc = lip_spec_bound(op, &so, &b, err)) != CB_OK) return rc;
  if ((rc = lip_spec_abs_norms(op, &n1, &ninf, NULL, NULL, err)) != CB_OK) return rc;
  *ub = b.upper;
  *abs2 = sqrt(n1 * ninf);
  return CB_OK;
}

/*
** Rounds W to float32 after a shrink s so that the rounded layer is certified
** <= 1.  fl32 moves each weight by <= 2^-24 |w|, so the norm moves by at most
** 2^-24 || |W| ||_2 <= 2^-24 abs2: s = 1 / (sigma + f 2^-24 abs2) with f
** growing to 4 always succeeds in exact arithmetic; every try is re-certified.
*/
static int round_to_unit(lip_op *op, const double *W, size_t nw, double *W32, lip_orth_layer *rec, cb_error *err)
{
  static const double frac[] = {0, 0.125, 0.5, 1, 2, 4};
  double sig, abs2, ub, a2;
  lip_op o32 = *op;
  int rc;
  if ((rc = op_upper(op, &sig, &abs2, err)) != CB_OK) return rc;
  o32.W = W32;
  for (size_t t = 0; t < sizeof frac / sizeof frac[0]; t++) {
    double s = round_next_down(1.0 / round_next_up(sig + frac[t] * 0x1p-24 * abs2 + 0x1p-40));
    for (size_t i = 0; i < nw; i++) W32[i] = (double)(float)(W[i] * s);
    if ((rc = op_upper(&o32, &ub, &a2, err)) != CB_OK) return rc;
    if (ub <= 1.0) { rec->shrink = s; return CB_OK; }
  }
  return cb_error_set(err, CB_EINTERNAL, "cannot certify the rounded layer <= 1 (bound %.17g)", ub);
}

/* Bjorck (RKO for a conv), rescale by the conv bound, round: rec->W. */
static int orth_node(const cb_net *net, int i, const lip_bjorck_opts *bo, lip_orth_layer *rec, cb_error *err)
{
  const cb_node *n = &net->node[i];
  lip_op op;
  lip_bjorck_res br;
  double *W = NULL, a2;
  size_t nw;
  int rc;
  node_weights(n, &op, NULL, &rec->rows, &rec->cols);
  nw = rec->rows * rec->cols;
  W = cb_alloc(nw * sizeof *W);
  rec->W = cb_alloc(nw * sizeof *rec->W);
  if (!W || !rec->W) { cb_free(W); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  memcpy(W, n->kind == CB_AFFINE ? n->p.aff.W : n->p.conv.W, nw * sizeof *W);
  node_weights(n, &op, W, &rec->rows, &rec->cols);
  if ((rc = lip_bjorck(W, rec->rows, rec->cols, bo, &br, err)) == CB_OK) {
    rec->iters = br.iters;
    rec->bjorck_residual = br.residual;
    if (n->kind == CB_CONV && (rc = op_upper(&op, &rec->rko_bound, &a2, err)) == CB_OK && rec->rko_bound > 1)
      for (size_t k = 0; k < nw; k++) W[k] /= rec->rko_bound;
  }
  if (rc == CB_OK) rc = round_to_unit(&op, W, nw, rec->W, rec, err);
  if (rc == CB_OK) rec->residual = lip_bjorck_residual(rec->W, rec->rows, rec->cols);
  cb_free(W);
  rec->done = rc == CB_OK;
  return rc;
}

int lip_orthonormalize(const cb_net *net, const lip_result *before, const lip_bjorck_opts *bo,
                       lip_orth **out, cb_error *err)
{
  int nl = before->n_layers;
  lip_orth *o = cb_calloc(1, sizeof *o);
  *out = NULL;
  if (!o || !(o->layer = cb_calloc((size_t)nl + 1, sizeof *o->layer)) || !(o->patch = cb_calloc((size_t)nl + 1, sizeof *o->patch))) {
    lip_orth_free(o);
    return cb_error_set(err, CB_ENOMEM, "out of memory");
  }
  o->n_layers = nl;
  for (int k = 0; k < nl; k++) {
    lip_orth_layer *rec = &o->layer[k];
    const cb_node *n = &net->node[before->layer[k].node];
    cb_error e = {0};
    rec->node = before->layer[k].node;
    rec->before_lo = before->layer[k].b.lower;
    rec->before_up = before->layer[k].b.upper;
    if (n->kind == CB_SCALE || !n->w_init) continue;
    if (orth_node(net, rec->node, bo, rec, &e) != CB_OK) {
      lip_orth_free(o);
      return cb_error_set(err, e.status, "%s: node \"%s\": %s", net->path, n->name, e.msg);
    }
    o->patch[o->n_patch++] = (onnx_patch){n->name, n->w_init, n->w_trans, rec->rows, rec->cols,
                                          n->kind == CB_AFFINE ? n->p.aff.W : n->p.conv.W, rec->W};
  }
  *out = o;
  return CB_OK;
}

int lip_orth_check(lip_orth *o, const cb_net *net, const cb_net *written, const lip_result *after,
                   cb_error *err)
{
  if (written->n != net->n) return cb_error_set(err, CB_EINTERNAL, "%s: reloaded graph differs", written->path);
  if (!after) return CB_OK;
  if (after->n_layers != o->n_layers) return cb_error_set(err, CB_EINTERNAL, "%s: reloaded layers differ", written->path);
  for (int k = 0; k < o->n_layers; k++) {
    o->layer[k].after_lo = after->layer[k].b.lower;
    o->layer[k].after_up = after->layer[k].b.upper;
  }
  return CB_OK;
}

void lip_orth_free(lip_orth *o)
{
  if (!o) return;
  for (int k = 0; o->layer && k < o->n_layers; k++) cb_free(o->layer[k].W);
  cb_free(o->layer);
  cb_free(o->patch);
  cb_free(o);
}
