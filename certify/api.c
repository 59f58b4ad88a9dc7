/*
** The public API of include/cerbere.h above loading and the forward pass:
** input regions, bounds, certification of one sample, VNNLIB verification
** and global Lipschitz bounds (radius, gradients and attributions:
** api_grad.c; the certificates JSON: api_json.c; shared: api_int.h).  Thin wrappers: each checks its arguments
** (NULL, sizes, enums), maps the public enums to the floors' (bounds.h,
** certify.h, verify.h, lipschitz.h), calls them and copies what the caller
** may keep into an opaque handle.  No algorithm lives here, and nothing
** here is global: every call builds what it needs (a bounds workspace, a
** certifier, a Lipschitz analysis) and frees it before returning, so calls
** on one const cb_net may run on several threads.  It sits in certify/
** because it uses every floor; the CLI does not call it.
** Workload: one call per sample or property; the wrappers' own cost is a
** few copies of input- and output-sized arrays.
*/
#include <assert.h>
#include <math.h>
#include <string.h>
#include "api_int.h"
#include "linalg.h"
#include "certify.h"
#include "lipschitz.h"
#include "verify.h"

static_assert(CB_ANSWER_UNKNOWN == (int)V_UNKNOWN && CB_ANSWER_VERIFIED == (int)V_VERIFIED &&
              CB_ANSWER_FALSIFIED == (int)V_FALSIFIED && CB_ANSWER_TIMEOUT == (int)V_TIMEOUT &&
              CB_ANSWER_ERROR == (int)V_ERROR && V_COUNT == 5, "cb_answer must follow cb_verdict");

struct cb_verification {
  cb_answer answer;
  char reason[256];
  double *x, *y;          /* sat: the witness, nx and ny values; else NULL */
  size_t nx, ny;
  int rational;
};

const char *cb_version(void) { return CB_VERSION; }

cb_status api_fail(cb_error *err, cb_status s, const char *fmt, const char *what)
{
  return (cb_status)cb_error_set(err, s, fmt, what);
}

void api_opts_init(void *o, size_t size, const void *d, size_t full)
{
  if (!o || size < sizeof size) return;
  memcpy(o, d, size < full ? size : full);
  if (size > full) memset((char *)o + full, 0, size - full);
  memcpy(o, &size, sizeof size);
}

cb_status api_opts_read(void *dst, size_t full, const void *src, const char *what, cb_error *err)
{
  size_t sz;
  if (!src) return CB_OK;
  memcpy(&sz, src, sizeof sz);
  if (sz < sizeof sz || sz > full)
    return (cb_status)cb_error_set(err, CB_EUSAGE, "options: size field is %zu, not %zu: initialise the struct with %s first",
                                   sz, full, what);
  memcpy(dst, src, sz);
  memcpy(dst, &full, sizeof full);
  return CB_OK;
}

/* The internal norm of a public one; 0 if p is not a cb_lp. */
int api_lp_norm(cb_lp p, cb_norm *out)
{
  switch (p) {
  case CB_LP_INF: *out = CB_NORM_INF; return 1;
  case CB_LP_2: *out = CB_NORM_2; return 1;
  case CB_LP_1: *out = CB_NORM_1; return 1;
  }
  return 0;
}

/* The internal bounding method of a public one; 0 if m is not one. */
int api_bound_method(cb_bound_method m, cb_method *out)
{
  switch (m) {
  case CB_BOUND_IBP: *out = CB_IBP; return 1;
  case CB_BOUND_CROWN: *out = CB_CROWN; return 1;
  case CB_BOUND_CROWN_IBP: *out = CB_CROWN_IBP; return 1;
  case CB_BOUND_ALPHA_CROWN: *out = CB_ALPHA_CROWN; return 1;
  }
  return 0;
}

/* A copy of n doubles through cb_alloc; NULL on OOM. */
double *api_copy_doubles(const double *v, size_t n)
{
  double *c = cb_alloc((n ? n : 1) * sizeof *c);
  if (c && n) memcpy(c, v, n * sizeof *c);
  return c;
}

/* The region's set, as bounds.h reads it (points into r). */
cb_set api_region_set(const cb_region *r)
{
  cb_set s = {r->norm, r->eps, r->n, r->center, r->lo, r->hi};
  return s;
}

void cb_region_free(cb_region *r)
{
  if (!r) return;
  cb_free(r->center); cb_free(r->lo); cb_free(r->hi);
  cb_free(r);
}

/* A region of n values for net: checks what ball and box share. */
static cb_status region_new(const cb_net *net, size_t n, cb_region **out, cb_error *err)
{
  *out = NULL;
  if (!net) return api_fail(err, CB_EUSAGE, "%s: NULL network", "cb_region");
  if (n != cb_net_input_size(net))
    return (cb_status)cb_error_set(err, CB_ESHAPE, "cb_region: %zu values given, the network takes %zu inputs", n,
                                   cb_net_input_size(net));
  if (!(*out = cb_calloc(1, sizeof **out))) return api_fail(err, CB_ENOMEM, "%s: out of memory", "cb_region");
  (*out)->n = n;
  return CB_OK;
}

cb_status cb_region_ball(const cb_net *net, cb_lp norm, double eps, const double *center, size_t n,
                         cb_region **out, cb_error *err)
{
  cb_region *r = NULL;
  cb_set s;
  cb_status rc;
  if (!out) return api_fail(err, CB_EUSAGE, "%s: NULL argument", "cb_region_ball");
  *out = NULL;
  if ((rc = region_new(net, n, &r, err)) != CB_OK) return rc;
  if (!center) { rc = api_fail(err, CB_EUSAGE, "%s: NULL centre", "cb_region_ball"); goto out; }
  if (!api_lp_norm(norm, &r->norm)) { rc = api_fail(err, CB_EUSAGE, "%s: unknown norm", "cb_region_ball"); goto out; }
  if (!(eps >= 0) || !isfinite(eps)) {
    rc = (cb_status)cb_error_set(err, CB_EVALUE, "cb_region_ball: eps must be a finite number >= 0 (got %g)", eps);
    goto out;
  }
  r->eps = eps;
  if (!(r->center = api_copy_doubles(center, n))) { rc = api_fail(err, CB_ENOMEM, "%s: out of memory", "cb_region_ball"); goto out; }
  s = api_region_set(r);
  rc = (cb_status)set_check(&s, err);
out:
  if (rc != CB_OK) cb_region_free(r);
  else *out = r;
  return rc;
}

cb_status cb_region_box(const cb_net *net, const double *lo, const double *hi, size_t n, cb_region **out,
                        cb_error *err)
{
  cb_region *r = NULL;
  cb_set s;
  cb_status rc;
  if (!out) return api_fail(err, CB_EUSAGE, "%s: NULL argument", "cb_region_box");
  *out = NULL;
  if ((rc = region_new(net, n, &r, err)) != CB_OK) return rc;
  r->norm = CB_NORM_BOX;
  if (!lo || !hi) { rc = api_fail(err, CB_EUSAGE, "%s: NULL bound", "cb_region_box"); goto out; }
  if (!(r->lo = api_copy_doubles(lo, n)) || !(r->hi = api_copy_doubles(hi, n))) {
    rc = api_fail(err, CB_ENOMEM, "%s: out of memory", "cb_region_box");
    goto out;
  }
  s = api_region_set(r);
  rc = (cb_status)set_check(&s, err);
out:
  if (rc != CB_OK) cb_region_free(r);
  else *out = r;
  return rc;
}

cb_status cb_region_clip(cb_region *r, const double *lo, const double *hi, size_t n, cb_error *err)
{
  double *l, *h;
  cb_set s;
  cb_status rc;
  if (!r || !lo || !hi) return api_fail(err, CB_EUSAGE, "%s: NULL argument", "cb_region_clip");
  if (r->norm == CB_NORM_BOX) return api_fail(err, CB_EUSAGE, "%s: a box region has no ball to clip", "cb_region_clip");
  if (n != r->n)
    return (cb_status)cb_error_set(err, CB_ESHAPE, "cb_region_clip: %zu values given, the region has %zu", n, r->n);
  if (!(l = api_copy_doubles(lo, n)) || !(h = api_copy_doubles(hi, n))) {
    cb_free(l);
    return api_fail(err, CB_ENOMEM, "%s: out of memory", "cb_region_clip");
  }
  s = api_region_set(r);
  s.lo = l; s.hi = h;
  if ((rc = (cb_status)set_check(&s, err)) != CB_OK) { cb_free(l); cb_free(h); return rc; }
  cb_free(r->lo); cb_free(r->hi);
  r->lo = l; r->hi = h;
  return CB_OK;
}

const char *cb_bound_method_name(cb_bound_method m)
{
  cb_method im;
  return api_bound_method(m, &im) ? bounds_method_name(im) : "?";
}

/* Bounds of C f(x) over set (C: q x output size; lb, ub may be NULL) by
   method m: one workspace, built and freed here.  A NaN bound is an error,
   never a number handed back. */
static cb_status spec_bounds(const cb_net *net, const cb_region *set, cb_bound_method m, const double *C, size_t q,
                             double *lb, double *ub, cb_error *err)
{
  cb_bnet bn = {0};
  cb_ws *ws = NULL;
  cb_method im;
  cb_set s = api_region_set(set);
  cb_error local;
  cb_status rc;
  if (!err) err = &local;   /* ws_new reports its status through err */
  if (!api_bound_method(m, &im)) return api_fail(err, CB_EUSAGE, "%s: unknown bounding method", "cb_bounds");
  if ((rc = (cb_status)bnet_init(&bn, net, err)) != CB_OK) goto out;
  if (!(ws = ws_new(&bn, &s, err))) { rc = err->status; goto out; }
  if ((rc = (cb_status)bounds_run(ws, im, err)) != CB_OK || (rc = (cb_status)bounds_spec(ws, C, q, lb, ub, err)) != CB_OK)
    goto out;
  for (size_t k = 0; k < q; k++)
    if ((lb && isnan(lb[k])) || (ub && isnan(ub[k]))) { rc = api_fail(err, CB_EVALUE, "%s: a bound is NaN", "cb_bounds"); goto out; }
out:
  ws_free(ws);
  bnet_free(&bn);
  return rc;
}

/* The checks every bounds call shares: handles, and that region and net agree. */
cb_status api_bounds_args(const cb_net *net, const cb_region *set, const void *a, const void *b, cb_error *err)
{
  if (!net || !set || !a || !b) return api_fail(err, CB_EUSAGE, "%s: NULL argument", "cb_bounds");
  if (set->n != cb_net_input_size(net))
    return (cb_status)cb_error_set(err, CB_ESHAPE, "cb_bounds: the region has %zu values, the network takes %zu inputs",
                                   set->n, cb_net_input_size(net));
  return CB_OK;
}

cb_status cb_bounds_logits(const cb_net *net, const cb_region *set, cb_bound_method m, double *lo, double *hi,
                           size_t n, cb_error *err)
{
  double *I;
  size_t no;
  cb_status rc = api_bounds_args(net, set, lo, hi, err);
  if (rc != CB_OK) return rc;
  no = cb_net_output_size(net);
  if (n != no) return (cb_status)cb_error_set(err, CB_ESHAPE, "cb_bounds_logits: room for %zu values, the network has %zu outputs", n, no);
  if (!(I = cb_calloc(no * no, sizeof *I))) return api_fail(err, CB_ENOMEM, "%s: out of memory", "cb_bounds_logits");
  for (size_t k = 0; k < no; k++) I[k * no + k] = 1;
  rc = spec_bounds(net, set, m, I, no, lo, hi, err);
  cb_free(I);
  return rc;
}

cb_status cb_bounds_margins(const cb_net *net, const cb_region *set, cb_bound_method m, int label, double *lo,
                            size_t n, cb_error *err)
{
  double *C;
  size_t no;
  cb_status rc = api_bounds_args(net, set, lo, lo, err);
  if (rc != CB_OK) return rc;
  no = cb_net_output_size(net);
  if (no < 2) return api_fail(err, CB_EUSAGE, "%s: margins need at least 2 outputs", "cb_bounds_margins");
  if (label < 0 || (size_t)label >= no)
    return (cb_status)cb_error_set(err, CB_EUSAGE, "cb_bounds_margins: label %d is not a class of the network (0..%zu)", label, no - 1);
  if (n != no - 1)
    return (cb_status)cb_error_set(err, CB_ESHAPE, "cb_bounds_margins: room for %zu values, the network has %zu margins", n, no - 1);
  if (!(C = cb_calloc(no * no, sizeof *C))) return api_fail(err, CB_ENOMEM, "%s: out of memory", "cb_bounds_margins");
  for (size_t k = 0, j = 0; j < no; j++)
    if (j != (size_t)label) { C[k * no + (size_t)label] = 1; C[k * no + j] = -1; k++; }
  rc = spec_bounds(net, set, m, C, no - 1, lo, NULL, err);
  cb_free(C);
  return rc;
}

const char *cb_answer_name(cb_answer a)
{
  return a >= CB_ANSWER_UNKNOWN && a <= CB_ANSWER_ERROR ? cb_verdict_table[a].name : "?";
}

const char *cb_answer_vnnlib(cb_answer a)
{
  return a >= CB_ANSWER_UNKNOWN && a <= CB_ANSWER_ERROR ? cb_verdict_table[a].vnnlib : "?";
}

void cb_certify_opts_init(cb_certify_opts *o, size_t size)
{
  cb_cert_opt co;
  cb_certify_opts d;
  memset(&d, 0, sizeof d);
  cert_opt_init(&co);
  d.timeout = co.timeout;
  d.bab_timeout = co.bab_timeout;
  d.bab_memory_mb = co.bab_memory_mb;
  d.radius = co.radius;
  api_opts_init(o, size, &d, sizeof d);
}

/* The cascade's options for a ball region: its one clip range when every
   feature has the same, else its per-feature box (certify's --box). */
static cb_status cert_options(const cb_region *set, const cb_certify_opts *o, cb_cert_opt *co, cb_error *err)
{
  cert_opt_init(co);
  co->norm = set->norm;
  co->eps = set->eps;
  co->timeout = o->timeout;
  co->bab_timeout = o->bab_timeout;
  co->bab_memory_mb = o->bab_memory_mb;
  co->radius = o->radius != 0;
  if (!(o->timeout >= 0) || !(o->bab_timeout >= 0) || !(o->bab_memory_mb > 0))
    return api_fail(err, CB_EUSAGE, "%s: timeouts must be >= 0 and bab_memory_mb > 0", "cb_certify");
  if (!(co->bab_timeout > 0)) co->methods &= ~(1u << CM_BAB);   /* as `certify --bab-timeout 0` */
  if (!set->lo) return CB_OK;
  for (size_t j = 1; j < set->n; j++)
    if (set->lo[j] != set->lo[0] || set->hi[j] != set->hi[0]) {   /* per feature: the cascade's --box */
      co->box_lo = set->lo;
      co->box_hi = set->hi;
      return CB_OK;
    }
  co->clip = set->n > 0;
  co->clip_lo = set->n ? set->lo[0] : 0;
  co->clip_hi = set->n ? set->hi[0] : 0;
  return CB_OK;
}

/* The caller's copy of a cascade result. */
static cb_status certificate_of(const cb_cert_result *r, const cb_cert_opt *co, size_t n_in, size_t n_out,
                                cb_certificate **out, cb_error *err)
{
  cb_certificate *c = cb_calloc(1, sizeof *c);
  if (!c) return api_fail(err, CB_ENOMEM, "%s: out of memory", "cb_certify");
  c->answer = (cb_answer)r->verdict;
  c->label = r->label;
  c->pred = r->pred;
  c->norm = co->norm;
  c->eps = co->eps;
  c->n_out = n_out;
  snprintf(c->method, sizeof c->method, "%s", r->verdict == V_UNKNOWN ? "none" : cb_cm_name[r->decided_by]);
  snprintf(c->reason, sizeof c->reason, "%s", r->reason);
  c->radius = co->radius;
  c->certified = r->certified_radius;
  c->attacked = r->attack_radius;
  if (!(c->logits = api_copy_doubles(r->logits, n_out)) ||
      (r->have_margin_lb && !(c->margin_lb = api_copy_doubles(r->margin_lb, n_out - 1))) ||
      (r->verdict == V_FALSIFIED && r->cex && !(c->cex = api_copy_doubles(r->cex, n_in)))) {
    cb_certificate_free(c);
    return api_fail(err, CB_ENOMEM, "%s: out of memory", "cb_certify");
  }
  if (c->cex) c->n_cex = n_in;
  *out = c;
  return CB_OK;
}

cb_status cb_certify(const cb_net *net, const cb_region *set, int label, const cb_certify_opts *o,
                     cb_certificate **out, cb_error *err)
{
  cb_certify_opts oo;
  cb_cert_opt co;
  cb_certifier *c = NULL;
  cb_cert_result r = {0};
  cb_error local;
  cb_status rc;
  if (!err) err = &local;   /* certifier_new reports its status through err */
  if (!out) return api_fail(err, CB_EUSAGE, "%s: NULL argument", "cb_certify");
  *out = NULL;
  if ((rc = api_bounds_args(net, set, set, net, err)) != CB_OK) return rc;
  if (set->norm == CB_NORM_BOX) return api_fail(err, CB_EUSAGE, "%s: the region must be a ball around the sample, not a box", "cb_certify");
  if (label < 0 || (size_t)label >= cb_net_output_size(net) || cb_net_output_size(net) < 2)
    return (cb_status)cb_error_set(err, CB_EUSAGE, "cb_certify: label %d is not a class of the network (%zu outputs)", label,
                                   cb_net_output_size(net));
  cb_certify_opts_init(&oo, sizeof oo);
  if ((rc = api_opts_read(&oo, sizeof oo, o, "cb_certify_opts_init", err)) != CB_OK) return rc;
  if ((rc = cert_options(set, &oo, &co, err)) != CB_OK) return rc;
  if (!(c = certifier_new(net, &co, err))) return err->status;
  if ((rc = (cb_status)cert_result_init(&r, net)) != CB_OK) { api_fail(err, rc, "%s: out of memory", "cb_certify"); goto out; }
  if ((rc = (cb_status)certify_sample(c, set->center, label, &r, NULL, err)) != CB_OK) goto out;
  rc = certificate_of(&r, &co, set->n, cb_net_output_size(net), out, err);
out:
  cert_result_free(&r);
  certifier_free(c);
  return rc;
}

void cb_certificate_free(cb_certificate *c)
{
  if (!c) return;
  cb_free(c->cex);
  cb_free(c->logits);
  cb_free(c->margin_lb);
  cb_free(c);
}

int cb_certificate_label(const cb_certificate *c) { return c ? c->label : -1; }

const double *cb_certificate_margins(const cb_certificate *c, size_t *n)
{
  if (n) *n = c && c->margin_lb ? c->n_out - 1 : 0;
  return c ? c->margin_lb : NULL;
}

int cb_certificate_radii(const cb_certificate *c, double *certified, double *attacked)
{
  int has = c && c->radius;
  if (certified) *certified = has ? c->certified : 0;
  if (attacked) *attacked = has ? c->attacked : INFINITY;
  return has;
}

cb_answer cb_certificate_answer(const cb_certificate *c) { return c ? c->answer : CB_ANSWER_UNKNOWN; }
const char *cb_certificate_method(const cb_certificate *c) { return c ? c->method : ""; }
const char *cb_certificate_reason(const cb_certificate *c) { return c ? c->reason : ""; }
int cb_certificate_predicted(const cb_certificate *c) { return c ? c->pred : -1; }

const double *cb_certificate_counterexample(const cb_certificate *c, size_t *n)
{
  if (n) *n = c && c->cex ? c->n_cex : 0;
  return c ? c->cex : NULL;
}

void cb_verify_opts_init(cb_verify_opts *o, size_t size)
{
  vfy_opts v;
  cb_verify_opts d;
  memset(&d, 0, sizeof d);
  vfy_opts_init(&v);
  d.timeout = v.timeout;
  d.max_memory_mb = v.max_memory_mb;
  d.threads = v.threads;
  api_opts_init(o, size, &d, sizeof d);
}

/* The caller's copy of a search result; the witness is copied, not moved. */
static cb_status verification_of(const vfy_result *r, size_t nx, size_t ny, cb_verification **out, cb_error *err)
{
  cb_verification *v = cb_calloc(1, sizeof *v);
  if (!v) return api_fail(err, CB_ENOMEM, "%s: out of memory", "cb_verify_vnnlib");
  v->answer = (cb_answer)r->answer;
  snprintf(v->reason, sizeof v->reason, "%s", r->reason);
  if (r->answer == V_FALSIFIED && r->x && r->y) {
    if (!(v->x = api_copy_doubles(r->x, nx)) || !(v->y = api_copy_doubles(r->y, ny))) {
      cb_verification_free(v);
      return api_fail(err, CB_ENOMEM, "%s: out of memory", "cb_verify_vnnlib");
    }
    v->nx = nx; v->ny = ny;
    v->rational = r->rational;
  }
  *out = v;
  return CB_OK;
}

cb_status cb_verify_vnnlib(const cb_net *net, const char *vnnlib_path, const cb_verify_opts *o,
                           cb_verification **out, cb_error *err)
{
  vnn_spec *spec = NULL;
  vfy_opts vo;
  vfy_result r = {0};
  cb_verify_opts oo;
  cb_status rc;
  if (!out) return api_fail(err, CB_EUSAGE, "%s: NULL argument", "cb_verify_vnnlib");
  *out = NULL;
  if (!net || !vnnlib_path) return api_fail(err, CB_EUSAGE, "%s: NULL argument", "cb_verify_vnnlib");
  vfy_opts_init(&vo);
  cb_verify_opts_init(&oo, sizeof oo);
  if ((rc = api_opts_read(&oo, sizeof oo, o, "cb_verify_opts_init", err)) != CB_OK) return rc;
  if (!(oo.timeout > 0) || !(oo.max_memory_mb > 0) || oo.threads < 0)
    return api_fail(err, CB_EUSAGE, "%s: timeout and max_memory_mb must be > 0, threads >= 0", "cb_verify_vnnlib");
  vo.timeout = oo.timeout;
  vo.max_memory_mb = oo.max_memory_mb;
  vo.threads = oo.threads;
  if ((rc = (cb_status)vnn_parse(vnnlib_path, &spec, err)) != CB_OK ||
      (rc = (cb_status)vnn_check_sizes(spec, cb_net_input_size(net), cb_net_output_size(net), err)) != CB_OK)
    goto out;
  rc = (cb_status)vfy_run(net, spec, &vo, &r, err);   /* gives OpenBLAS's thread count back (la_single_end) */
  if (rc != CB_OK) {
    if (rc == CB_ENOMEM || rc == CB_EUSAGE) goto out;
    r.answer = V_ERROR;   /* as `cerbere verify`: an error in the search is the answer "error" */
    snprintf(r.reason, sizeof r.reason, "%.200s", err ? err->msg : "internal error");
  }
  rc = verification_of(&r, spec->nx, spec->ny, out, err);
out:
  vfy_result_free(&r);
  vnn_free(spec);
  return rc;
}

void cb_verification_free(cb_verification *v)
{
  if (!v) return;
  cb_free(v->x); cb_free(v->y);
  cb_free(v);
}

cb_answer cb_verification_answer(const cb_verification *v) { return v ? v->answer : CB_ANSWER_ERROR; }
const char *cb_verification_reason(const cb_verification *v) { return v ? v->reason : ""; }
int cb_verification_witness_rational(const cb_verification *v) { return v && v->x ? v->rational : 0; }

const double *cb_verification_witness(const cb_verification *v, size_t *nx, const double **y, size_t *ny)
{
  int has = v && v->x;
  if (nx) *nx = has ? v->nx : 0;
  if (y) *y = has ? v->y : NULL;
  if (ny) *ny = has ? v->ny : 0;
  return has ? v->x : NULL;
}

cb_status cb_lipschitz_upper(const cb_net *net, cb_lp norm, double *K, cb_error *err)
{
  lip_opts lo;
  lip_result *r = NULL;
  cb_status rc;
  double k;
  if (!net || !K) return api_fail(err, CB_EUSAGE, "%s: NULL argument", "cb_lipschitz_upper");
  lip_opts_init(&lo);
  if (!api_lp_norm(norm, &lo.norm)) return api_fail(err, CB_EUSAGE, "%s: unknown norm", "cb_lipschitz_upper");
  if ((rc = (cb_status)lip_analyze(net, &lo, &r, err)) != CB_OK) return rc;
  k = r->K_merged <= r->K_layerwise ? r->K_merged : r->K_layerwise;
  lip_result_free(r);
  if (!(k >= 0)) return api_fail(err, CB_EVALUE, "%s: the bound is NaN", "cb_lipschitz_upper");
  *K = k;
  return CB_OK;
}
