/*
** The public API of include/cerbere.h for radius search, gradients,
** interval Jacobians and attributions: thin wrappers over certify/radius.c
** (through the certify cascade, or radius_lip_search), lip/grad.c,
** lip/jacobian.c and certify/attr*.c.  Each checks its arguments, reads the
** caller's options struct by its size (api_opts_read), builds what the
** floor function needs (a gradient buffer, a bounds workspace, a Lipschitz
** analysis, an attribution context), calls it and frees everything before
** returning: nothing is kept between calls, so calls on one const cb_net
** may run on several threads.  No algorithm lives here.
** Workload: one call per sample; the wrappers' own cost is a few copies of
** input- and output-sized arrays.
*/
#include <assert.h>
#include <math.h>
#include <string.h>
#include "api_int.h"
#include "attr.h"
#include "grad.h"
#include "jacobian.h"
#include "radius.h"

static_assert(CB_ATTR_SALIENCY == (int)AM_SALIENCY && CB_ATTR_IG == (int)AM_IG && CB_ATTR_OCCLUSION == (int)AM_OCCLUSION &&
              CB_ATTR_GRADCAM == (int)AM_GRADCAM && CB_ATTR_EVA == (int)AM_EVA && CB_ATTR_LRP == (int)AM_LRP &&
              CB_ATTR_KERNELSHAP == (int)AM_KERNELSHAP && CB_ATTR_SCORECAM == (int)AM_SCORECAM &&
              CB_ATTR_HSIC == (int)AM_HSIC && CB_ATTR_ROLLOUT == (int)AM_ROLLOUT && AM_COUNT == 22,
              "cb_attr_method must follow attr_method");

/* ------------------------------------------------------------ radius */

void cb_radius_opts_init(cb_radius_opts *o, size_t size)
{
  cb_certify_opts co;
  radius_lip_opts ro;
  cb_radius_opts d;
  memset(&d, 0, sizeof d);
  cb_certify_opts_init(&co, sizeof co);
  radius_lip_opts_init(&ro);
  d.method = CB_RADIUS_CASCADE;
  d.timeout = co.timeout;
  d.bab_timeout = co.bab_timeout;
  d.bounds = CB_BOUND_CROWN;
  d.steps = ro.steps;
  api_opts_init(o, size, &d, sizeof d);
}

/* `certify --radius`: the cascade with its radius search at the set's eps. */
static cb_status radius_cascade(const cb_net *net, const cb_region *set, int label, const cb_radius_opts *o,
                                double *certified, double *attacked, cb_error *err)
{
  cb_certify_opts co;
  cb_certificate *c = NULL;
  cb_status rc;
  cb_certify_opts_init(&co, sizeof co);
  co.timeout = o->timeout;
  co.bab_timeout = o->bab_timeout;
  co.radius = 1;
  if ((rc = cb_certify(net, set, label, &co, &c, err)) != CB_OK) return rc;
  cb_certificate_radii(c, certified, attacked);
  cb_certificate_free(c);
  return CB_OK;
}

/* `jacobian`'s certified_radius_local: radius_lip_search with the global
   analysis in the set's norm (as cmd_jacobian.c builds it). */
static cb_status radius_local(const cb_net *net, const cb_region *set, int label, const cb_radius_opts *o,
                              double *certified, double *attacked, cb_error *err)
{
  cb_bnet bn = {0};
  lip_opts lo;
  lip_result *lr = NULL;
  radius_lip_opts ro;
  radius_lip res;
  cb_status rc;
  if (set->lo) return api_fail(err, CB_EUNSUP, "%s: the local-Lipschitz radius is for a ball without a clip box", "cb_radius");
  if (o->bounds != CB_BOUND_IBP && o->bounds != CB_BOUND_CROWN)
    return api_fail(err, CB_EUNSUP, "%s: the local-Lipschitz radius bounds its balls by CB_BOUND_IBP or CB_BOUND_CROWN", "cb_radius");
  if (o->steps < 0 || o->steps > 60) return (cb_status)cb_error_set(err, CB_EUSAGE, "cb_radius: steps must be in 0..60 (got %d)", o->steps);
  radius_lip_opts_init(&ro);
  ro.method = o->bounds == CB_BOUND_IBP ? CB_IBP : CB_CROWN;
  ro.steps = o->steps;
  lip_opts_init(&lo);
  lo.norm = set->norm;
  if ((rc = (cb_status)bnet_init(&bn, net, err)) == CB_OK && (rc = (cb_status)lip_analyze(net, &lo, &lr, err)) == CB_OK &&
      (rc = (cb_status)radius_lip_search(&bn, lr, set->center, label, &ro, &res, err)) == CB_OK) {
    *certified = res.radius;
    if (attacked) *attacked = INFINITY;
  }
  lip_result_free(lr);
  bnet_free(&bn);
  return rc;
}

cb_status cb_radius(const cb_net *net, const cb_region *set, int label, const cb_radius_opts *o, double *certified,
                    double *attacked, cb_error *err)
{
  cb_radius_opts oo;
  cb_status rc;
  if (!certified) return api_fail(err, CB_EUSAGE, "%s: NULL argument", "cb_radius");
  if ((rc = api_bounds_args(net, set, set, net, err)) != CB_OK) return rc;
  if (set->norm == CB_NORM_BOX) return api_fail(err, CB_EUSAGE, "%s: the region must be a ball around the sample, not a box", "cb_radius");
  if (label < 0 || (size_t)label >= cb_net_output_size(net) || cb_net_output_size(net) < 2)
    return (cb_status)cb_error_set(err, CB_EUSAGE, "cb_radius: label %d is not a class of the network (%zu outputs)", label,
                                   cb_net_output_size(net));
  cb_radius_opts_init(&oo, sizeof oo);
  if ((rc = api_opts_read(&oo, sizeof oo, o, "cb_radius_opts_init", err)) != CB_OK) return rc;
  switch (oo.method) {
  case CB_RADIUS_CASCADE: return radius_cascade(net, set, label, &oo, certified, attacked, err);
  case CB_RADIUS_LOCAL_LIPSCHITZ: return radius_local(net, set, label, &oo, certified, attacked, err);
  }
  return api_fail(err, CB_EUSAGE, "%s: unknown radius method", "cb_radius");
}

/* ------------------------------------------------------------ gradients */

/* The rows C (q x no), or the identity when C is NULL (then q must be no),
   and room for q x n_in values. */
static cb_status rows_args(const cb_net *net, const double **C, size_t q, size_t ng, double **eye, const char *who,
                           cb_error *err)
{
  size_t no = cb_net_output_size(net), ni = cb_net_input_size(net);
  *eye = NULL;
  if (q == 0) return (cb_status)cb_error_set(err, CB_ESHAPE, "%s: q = 0 rows", who);
  if (!*C && q != no)
    return (cb_status)cb_error_set(err, CB_ESHAPE, "%s: C is NULL (the identity) but q = %zu, the network has %zu outputs", who, q, no);
  if (q > ((size_t)-1 / sizeof(double)) / (ni ? ni : 1) || ng != q * ni)
    return (cb_status)cb_error_set(err, CB_ESHAPE, "%s: room for %zu values, %zu rows x %zu inputs need %zu", who, ng, q, ni, q * ni);
  if (*C) return CB_OK;
  if (!(*eye = cb_calloc(no * no, sizeof **eye))) return api_fail(err, CB_ENOMEM, "%s: out of memory", who);
  for (size_t k = 0; k < no; k++) (*eye)[k * no + k] = 1;
  *C = *eye;
  return CB_OK;
}

cb_status cb_gradient(const cb_net *net, const double *x, size_t n, const double *C, size_t q, double *G, size_t ng,
                      cb_error *err)
{
  cb_grad *g = NULL;
  double *eye = NULL;
  cb_error local;
  cb_status rc;
  if (!err) err = &local;   /* grad_new reports its status through err */
  if (!net || !x || !G) return api_fail(err, CB_EUSAGE, "%s: NULL argument", "cb_gradient");
  if (n != cb_net_input_size(net))
    return (cb_status)cb_error_set(err, CB_ESHAPE, "cb_gradient: %zu values given, the network takes %zu inputs", n, cb_net_input_size(net));
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return (cb_status)cb_error_set(err, CB_EVALUE, "cb_gradient: input %zu is not finite", i);
  if ((rc = rows_args(net, &C, q, ng, &eye, "cb_gradient", err)) != CB_OK) return rc;
  if (!(g = grad_new(net, q, err))) { rc = err->status; goto out; }
  rc = (cb_status)grad_eval(g, x, C, q, G, NULL, err);
out:
  grad_free(g);
  cb_free(eye);
  return rc;
}

cb_status cb_jacobian_bounds(const cb_net *net, const cb_region *set, cb_bound_method m, const double *C, size_t q,
                             double *lo, double *hi, size_t ng, cb_error *err)
{
  cb_bnet bn = {0};
  cb_ws *ws = NULL;
  cb_method im;
  cb_set s;
  double *eye = NULL;
  cb_error local;
  cb_status rc;
  if (!err) err = &local;   /* ws_new reports its status through err */
  if ((rc = api_bounds_args(net, set, lo, hi, err)) != CB_OK) return rc;
  if (!api_bound_method(m, &im)) return api_fail(err, CB_EUSAGE, "%s: unknown bounding method", "cb_jacobian_bounds");
  if (im != CB_IBP && im != CB_CROWN)
    return api_fail(err, CB_EUNSUP, "%s: the pre-activation bounds are CB_BOUND_IBP or CB_BOUND_CROWN", "cb_jacobian_bounds");
  if ((rc = rows_args(net, &C, q, ng, &eye, "cb_jacobian_bounds", err)) != CB_OK) return rc;
  s = api_region_set(set);
  if ((rc = (cb_status)bnet_init(&bn, net, err)) != CB_OK) goto out;
  if (!(ws = ws_new(&bn, &s, err))) { rc = err->status; goto out; }
  if ((rc = (cb_status)bounds_run(ws, im, err)) != CB_OK) goto out;
  rc = (cb_status)jac_interval(ws, C, q, lo, hi, err);
out:
  ws_free(ws);
  bnet_free(&bn);
  cb_free(eye);
  return rc;
}

/* ------------------------------------------------------------ attributions */

const char *cb_attr_method_name(cb_attr_method m)
{
  return m >= CB_ATTR_SALIENCY && m <= CB_ATTR_ROLLOUT ? attr_method_name[m] : "?";
}

void cb_attr_opts_init(cb_attr_opts *o, size_t size)
{
  attr_opt a;
  cb_attr_opts d;
  memset(&d, 0, sizeof d);
  attr_opt_init(&a);
  d.method = (cb_attr_method)a.method;
  d.steps = a.steps;
  d.baseline = a.baseline;
  d.baseline_vec = a.baseline_vec;
  d.n_baselines = a.n_baselines;
  d.samples = a.samples;
  d.sigma = a.sigma;
  d.seed = a.seed;
  d.patch = a.patch;
  d.stride = a.stride;
  d.rise_p = a.rise_p;
  d.rise_cells = a.rise_cells;
  d.node = a.node;
  d.reduce = a.reduce;
  d.norm = CB_LP_INF;
  d.eps = a.eps;
  d.lrp_rule = NULL;
  d.lrp_eps = a.lrp_eps;
  d.lrp_gamma = a.lrp_gamma;
  d.lrp_alpha = a.lrp_alpha;
  d.lr = a.lr;
  d.grid = a.grid;
  d.kernel_width = a.kernel_width;
  d.ridge = a.ridge;
  d.attention_raw = a.attn_raw;
  d.head_fusion = (int)a.fusion;
  d.query = a.query;
  api_opts_init(o, size, &d, sizeof d);
}

/* The attribution context of the caller's options for target; checks both. */
static cb_status attr_open(const cb_net *net, const cb_attr_opts *o, int target, attr_ctx **out, cb_error *err)
{
  cb_attr_opts oo;
  attr_opt a;
  cb_status rc;
  *out = NULL;
  cb_attr_opts_init(&oo, sizeof oo);
  if ((rc = api_opts_read(&oo, sizeof oo, o, "cb_attr_opts_init", err)) != CB_OK) return rc;
  attr_opt_init(&a);
  if (oo.method < CB_ATTR_SALIENCY || oo.method > CB_ATTR_ROLLOUT) return api_fail(err, CB_EUSAGE, "%s: unknown method", "cb_attr_opts");
  if (!api_lp_norm(oo.norm, &a.norm)) return api_fail(err, CB_EUSAGE, "%s: unknown norm", "cb_attr_opts");
  if (oo.n_baselines < 0 || oo.samples < 0 || oo.patch < 0)
    return api_fail(err, CB_EUSAGE, "%s: n_baselines, samples and patch must be >= 0", "cb_attr_opts");
  if (target < 0 || (size_t)target >= cb_net_output_size(net))
    return (cb_status)cb_error_set(err, CB_EUSAGE, "cb_attribute: target %d is not a class of the network (%zu outputs)", target,
                                   cb_net_output_size(net));
  a.method = (attr_method)oo.method;
  a.target = target;
  a.steps = oo.steps;
  a.baseline = oo.baseline;
  a.baseline_vec = oo.baseline_vec;
  a.n_baselines = oo.n_baselines;
  a.samples = oo.samples;
  a.sigma = oo.sigma;
  a.seed = (uint64_t)oo.seed;
  a.patch = oo.patch;
  a.stride = oo.stride;
  a.rise_p = oo.rise_p;
  a.rise_cells = oo.rise_cells;
  a.node = oo.node;
  a.reduce = oo.reduce != 0;
  a.eps = oo.eps;
  a.lrp_eps = oo.lrp_eps;
  a.lrp_gamma = oo.lrp_gamma;
  a.lrp_alpha = oo.lrp_alpha;
  a.lr = oo.lr;
  a.grid = oo.grid;
  a.kernel_width = oo.kernel_width;
  a.ridge = oo.ridge;
  a.attn_raw = oo.attention_raw != 0;
  if (oo.head_fusion < 0 || oo.head_fusion >= AF_COUNT) return api_fail(err, CB_EUSAGE, "%s: head_fusion must be 0 (mean), 1 (max) or 2 (min)", "cb_attr_opts");
  a.fusion = (attr_fusion)oo.head_fusion;
  a.query = oo.query;
  if (oo.lrp_rule) {
    char msg[160];
    if (a.method != AM_LRP) return api_fail(err, CB_EUSAGE, "%s: lrp_rule is an option of CB_ATTR_LRP", "cb_attr_opts");
    if (!attr_lrp_rule_parse(oo.lrp_rule, &a, msg, sizeof msg)) return api_fail(err, CB_EUSAGE, "cb_attr_opts: lrp_rule: %s", msg);
  }
  if (!(*out = attr_new(net, &a, err))) return err->status != CB_OK ? err->status : CB_ENOMEM;
  return CB_OK;
}

size_t cb_attr_map_size(const cb_net *net, const cb_attr_opts *o)
{
  int c, h, w, reduce = 1;
  cb_attr_opts oo;
  if (!net) return 0;
  cb_attr_opts_init(&oo, sizeof oo);
  if (api_opts_read(&oo, sizeof oo, o, "cb_attr_opts_init", NULL) == CB_OK) reduce = oo.reduce != 0;
  if (oo.method == CB_ATTR_ROLLOUT) {   /* the token count of the attention maps: 0 when there are none */
    attr_ctx *a = NULL;
    cb_error e = {0};
    size_t nm = attr_open(net, o, 0, &a, &e) == CB_OK ? attr_map_size(a) : 0;
    attr_free(a);
    return nm;
  }
  attr_image(net, &c, &h, &w);
  return reduce && c > 1 ? (size_t)h * (size_t)w : cb_net_input_size(net);
}

/* The size checks of the two attribution calls. */
static cb_status attr_sizes(const attr_ctx *a, size_t n, size_t nm, const char *who, cb_error *err)
{
  if (n != a->n) return (cb_status)cb_error_set(err, CB_ESHAPE, "%s: %zu values given, the network takes %zu inputs", who, n, a->n);
  if (nm != attr_map_size(a))
    return (cb_status)cb_error_set(err, CB_ESHAPE, "%s: room for %zu values, the map has %zu (cb_attr_map_size)", who, nm, attr_map_size(a));
  return CB_OK;
}

cb_status cb_attribute(const cb_net *net, const double *x, size_t n, int target, const cb_attr_opts *o, double *map, size_t nm,
                       cb_error *err)
{
  attr_ctx *a = NULL;
  cb_error local;
  cb_status rc;
  if (!err) err = &local;
  if (!net || !x || !map) return api_fail(err, CB_EUSAGE, "%s: NULL argument", "cb_attribute");
  if ((rc = attr_open(net, o, target, &a, err)) != CB_OK) return rc;
  if ((rc = attr_sizes(a, n, nm, "cb_attribute", err)) == CB_OK) {
    for (size_t i = 0; i < n && rc == CB_OK; i++)
      if (!isfinite(x[i])) rc = (cb_status)cb_error_set(err, CB_EVALUE, "cb_attribute: input %zu is not finite", i);
    if (rc == CB_OK) rc = (cb_status)attr_map(a, x, target, map, err);
  }
  attr_free(a);
  return rc;
}

cb_status cb_attribute_bounds(const cb_net *net, const cb_region *set, int target, const cb_attr_opts *o, double *lb,
                              double *ub, size_t nm, cb_error *err)
{
  attr_ctx *a = NULL;
  cb_set s;
  cb_error local;
  cb_status rc;
  if (!err) err = &local;
  if ((rc = api_bounds_args(net, set, lb, ub, err)) != CB_OK) return rc;
  if (set->norm == CB_NORM_BOX)
    return api_fail(err, CB_EUSAGE, "%s: the region must be a ball around the sample, not a box", "cb_attribute_bounds");
  if ((rc = attr_open(net, o, target, &a, err)) != CB_OK) return rc;
  s = api_region_set(set);
  if ((rc = attr_sizes(a, set->n, nm, "cb_attribute_bounds", err)) == CB_OK) rc = (cb_status)attr_cert_bounds(a, &s, target, lb, ub, err);
  attr_free(a);
  return rc;
}

/* ------------------------------------------------- comparing models, sanity */

/* ||m1 - m0|| / ||m0|| (L2; the plain norm of m1 - m0 when m0 is zero), as the CLI. */
static double rel_change(const double *m0, const double *m1, size_t n)
{
  double d = 0, z = 0;
  for (size_t i = 0; i < n; i++) { d += (m1[i] - m0[i]) * (m1[i] - m0[i]); z += m0[i] * m0[i]; }
  return z > 0 ? sqrt(d / z) : sqrt(d);
}

/* The argument checks of cb_compare_models. */
static cb_status compare_args(const cb_net *const *nets, size_t K, const int *labels, const int *splits, size_t R,
                              size_t n, cb_error *err)
{
  size_t no;
  for (size_t k = 0; k < K; k++) if (!nets[k]) return api_fail(err, CB_EUSAGE, "%s: NULL network", "cb_compare_models");
  no = cb_net_output_size(nets[0]);
  for (size_t k = 0; k < K; k++) {
    if (cb_net_input_size(nets[k]) != n)
      return (cb_status)cb_error_set(err, CB_ESHAPE, "cb_compare_models: model %zu takes %zu inputs, the rows have %zu: the K "
                                     "models must take the same input", k, cb_net_input_size(nets[k]), n);
    if (cb_net_output_size(nets[k]) != no)
      return (cb_status)cb_error_set(err, CB_ESHAPE, "cb_compare_models: model %zu has %zu classes and model 0 has %zu: the K "
                                     "models must have the same classes", k, cb_net_output_size(nets[k]), no);
  }
  for (size_t k = 0; k < K; k++) {
    size_t c = 0;
    for (size_t r = 0; r < R; r++) c += splits[r] == (int)k;
    if (!c) return (cb_status)cb_error_set(err, CB_EVALUE, "cb_compare_models: split %zu has no row: the splits do not partition "
                                           "the rows into %zu parts", k, K);
  }
  for (size_t r = 0; r < R; r++) {
    if (splits[r] < 0 || (size_t)splits[r] >= K)
      return (cb_status)cb_error_set(err, CB_EVALUE, "cb_compare_models: row %zu: split %d is not in 0..%zu", r, splits[r], K - 1);
    if (labels[r] < 0 || (size_t)labels[r] >= no)
      return (cb_status)cb_error_set(err, CB_EVALUE, "cb_compare_models: row %zu: label %d is not a class (0..%zu)", r, labels[r], no - 1);
  }
  return CB_OK;
}

cb_status cb_compare_models(const cb_net *const *nets, size_t K, const double *X, const int *labels, const int *splits,
                            size_t R, size_t n, const cb_attr_opts *o, cb_mege *out, cb_error *err)
{
  attr_ctx *a = NULL;
  double *maps = NULL, *y = NULL;
  int *pred = NULL;
  size_t nm = 0;
  attr_mege_res res;
  cb_error local;
  cb_status rc;
  if (!err) err = &local;
  if (!nets || !X || !labels || !splits || !out || !R) return api_fail(err, CB_EUSAGE, "%s: NULL argument or no rows", "cb_compare_models");
  if (K < 2) return api_fail(err, CB_EUSAGE, "%s: at least two models (K >= 2)", "cb_compare_models");
  if ((rc = compare_args(nets, K, labels, splits, R, n, err)) != CB_OK) return rc;
  if (o && o->method == CB_ATTR_EVA) return api_fail(err, CB_EUSAGE, "%s: eva needs a ball; compare the other methods", "cb_compare_models");
  for (size_t r = 0; r < R * n; r++)
    if (!isfinite(X[r])) return (cb_status)cb_error_set(err, CB_EVALUE, "cb_compare_models: row %zu: input %zu is not finite", r / n, r % n);
  if (!(pred = cb_alloc(K * R * sizeof *pred)) || !(y = cb_alloc(cb_net_output_size(nets[0]) * sizeof *y))) {
    rc = (cb_status)cb_error_set(err, CB_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t k = 0; k < K; k++) {
    if ((rc = attr_open(nets[k], o, 0, &a, err)) != CB_OK) goto out;
    if (!k && !(maps = cb_alloc(K * R * (nm = attr_map_size(a)) * sizeof *maps))) {
      rc = (cb_status)cb_error_set(err, CB_ENOMEM, "out of memory for %zu x %zu maps", K, R);
      goto out;
    }
    for (size_t r = 0; r < R && rc == CB_OK; r++) {
      if ((rc = cb_net_forward(nets[k], X + r * n, 1, y, err)) != CB_OK) break;
      pred[k * R + r] = (int)cb_argmax(y, cb_net_output_size(nets[k]));
      rc = (cb_status)attr_map(a, X + r * n, labels[r], maps + (k * R + r) * nm, err);
    }
    attr_free(a);
    a = NULL;
    if (rc != CB_OK) goto out;
  }
  if ((rc = (cb_status)attr_mege_reco(maps, pred, labels, splits, K, R, nm, &res, err)) == CB_OK) {
    out->mege = res.mege; out->reco = res.reco;
    out->n_eq = res.n_eq; out->n_ne = res.n_ne; out->n_nan = res.n_nan;
  }
out:
  attr_free(a);
  cb_free(maps);
  cb_free(pred);
  cb_free(y);
  return rc;
}

cb_status cb_attr_sanity(const cb_net *net, const double *x, size_t n, int target, const cb_attr_opts *o, int layers,
                         size_t row, cb_sanity *out, cb_error *err)
{
  attr_ctx *a = NULL, *ar = NULL;
  cb_net *rnet = NULL;
  double *m0 = NULL, *m1;
  size_t nm, no;
  uint64_t s;
  int done;
  cb_error local;
  cb_status rc;
  if (!err) err = &local;
  if (!net || !x || !out) return api_fail(err, CB_EUSAGE, "%s: NULL argument", "cb_attr_sanity");
  if ((no = cb_net_output_size(net)) < 2) return api_fail(err, CB_EUNSUP, "%s: the random-logit check needs two classes", "cb_attr_sanity");
  if ((rc = attr_open(net, o, target, &a, err)) != CB_OK) return rc;
  if ((rc = attr_sizes(a, n, attr_map_size(a), "cb_attr_sanity", err)) != CB_OK) goto out;
  nm = attr_map_size(a);
  if (!(m0 = cb_alloc(2 * nm * sizeof *m0))) { rc = (cb_status)cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  m1 = m0 + nm;
  if (!(rnet = attr_randomised_copy(net, layers, a->opt.seed, &done, err))) { rc = err->status; goto out; }
  if ((rc = attr_open(rnet, o, target, &ar, err)) != CB_OK) goto out;
  if ((rc = (cb_status)attr_map(a, x, target, m0, err)) != CB_OK || (rc = (cb_status)attr_map(ar, x, target, m1, err)) != CB_OK) goto out;
  out->model_spearman = attr_spearman(m0, m1, nm);
  out->model_change = rel_change(m0, m1, nm);
  s = a->opt.seed ^ (0xA5A5A5A5ull + (uint64_t)row * 0x9E3779B97F4A7C15ull);   /* as cmd_attribute.c's sanity() */
  out->logit_class = (int)(attr_rng_next(&s) % (no - 1));
  if (out->logit_class >= target) out->logit_class++;
  if ((rc = (cb_status)attr_map(a, x, out->logit_class, m1, err)) != CB_OK) goto out;
  out->logit_spearman = attr_spearman(m0, m1, nm);
  out->logit_change = rel_change(m0, m1, nm);
out:
  attr_free(a);
  attr_free(ar);
  attr_randomised_copy_free(rnet);
  cb_free(m0);
  return rc;
}
