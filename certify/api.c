/*
** The public API of include/cerbere.h above loading and the forward pass:
** input regions, bounds, certification of one sample, VNNLIB verification
** and global Lipschitz bounds.  Thin wrappers: each checks its arguments
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
#include "cb.h"
#include "bounds.h"
#include "certify.h"
#include "lipschitz.h"
#include "verify.h"

static_assert(CB_ANSWER_UNKNOWN == (int)V_UNKNOWN && CB_ANSWER_VERIFIED == (int)V_VERIFIED &&
              CB_ANSWER_FALSIFIED == (int)V_FALSIFIED && CB_ANSWER_TIMEOUT == (int)V_TIMEOUT &&
              CB_ANSWER_ERROR == (int)V_ERROR && V_COUNT == 5, "cb_answer must follow cb_verdict");

struct cb_region {
  size_t n;               /* the network's input size */
  cb_norm norm;           /* CB_NORM_BOX for a box region */
  double eps;             /* radius (0 for a box) */
  double *center;         /* n values, NULL for a box */
  double *lo, *hi;        /* n values each: the box, or a ball's clip box (NULL: none) */
};

struct cb_certificate {
  cb_answer answer;
  int pred;
  char method[32];        /* cb_cm_name of the deciding method, "none" when unknown */
  char reason[320];
  double *cex;            /* n_in values when falsified, else NULL */
  size_t n_cex;
};

struct cb_verification {
  cb_answer answer;
  char reason[256];
  double *x, *y;          /* sat: the witness, nx and ny values; else NULL */
  size_t nx, ny;
  int rational;
};

static cb_status fail(cb_error *err, cb_status s, const char *fmt, const char *what)
{
  return (cb_status)cb_error_set(err, s, fmt, what);
}

/* The internal norm of a public one; 0 if p is not a cb_lp. */
static int lp_norm(cb_lp p, cb_norm *out)
{
  switch (p) {
  case CB_LP_INF: *out = CB_NORM_INF; return 1;
  case CB_LP_2: *out = CB_NORM_2; return 1;
  case CB_LP_1: *out = CB_NORM_1; return 1;
  }
  return 0;
}

/* The internal bounding method of a public one; 0 if m is not one. */
static int bound_method(cb_bound_method m, cb_method *out)
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
static double *copy_doubles(const double *v, size_t n)
{
  double *c = cb_alloc((n ? n : 1) * sizeof *c);
  if (c && n) memcpy(c, v, n * sizeof *c);
  return c;
}

/* The region's set, as bounds.h reads it (points into r). */
static cb_set region_set(const cb_region *r)
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
  if (!net) return fail(err, CB_EUSAGE, "%s: NULL network", "cb_region");
  if (n != cb_net_input_size(net))
    return (cb_status)cb_error_set(err, CB_ESHAPE, "cb_region: %zu values given, the network takes %zu inputs", n,
                                   cb_net_input_size(net));
  if (!(*out = cb_calloc(1, sizeof **out))) return fail(err, CB_ENOMEM, "%s: out of memory", "cb_region");
  (*out)->n = n;
  return CB_OK;
}

cb_status cb_region_ball(const cb_net *net, cb_lp norm, double eps, const double *center, size_t n,
                         cb_region **out, cb_error *err)
{
  cb_region *r = NULL;
  cb_set s;
  cb_status rc;
  if (!out) return fail(err, CB_EUSAGE, "%s: NULL argument", "cb_region_ball");
  *out = NULL;
  if ((rc = region_new(net, n, &r, err)) != CB_OK) return rc;
  if (!center) { rc = fail(err, CB_EUSAGE, "%s: NULL centre", "cb_region_ball"); goto out; }
  if (!lp_norm(norm, &r->norm)) { rc = fail(err, CB_EUSAGE, "%s: unknown norm", "cb_region_ball"); goto out; }
  if (!(eps >= 0) || !isfinite(eps)) {
    rc = (cb_status)cb_error_set(err, CB_EVALUE, "cb_region_ball: eps must be a finite number >= 0 (got %g)", eps);
    goto out;
  }
  r->eps = eps;
  if (!(r->center = copy_doubles(center, n))) { rc = fail(err, CB_ENOMEM, "%s: out of memory", "cb_region_ball"); goto out; }
  s = region_set(r);
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
  if (!out) return fail(err, CB_EUSAGE, "%s: NULL argument", "cb_region_box");
  *out = NULL;
  if ((rc = region_new(net, n, &r, err)) != CB_OK) return rc;
  r->norm = CB_NORM_BOX;
  if (!lo || !hi) { rc = fail(err, CB_EUSAGE, "%s: NULL bound", "cb_region_box"); goto out; }
  if (!(r->lo = copy_doubles(lo, n)) || !(r->hi = copy_doubles(hi, n))) {
    rc = fail(err, CB_ENOMEM, "%s: out of memory", "cb_region_box");
    goto out;
  }
  s = region_set(r);
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
  if (!r || !lo || !hi) return fail(err, CB_EUSAGE, "%s: NULL argument", "cb_region_clip");
  if (r->norm == CB_NORM_BOX) return fail(err, CB_EUSAGE, "%s: a box region has no ball to clip", "cb_region_clip");
  if (n != r->n)
    return (cb_status)cb_error_set(err, CB_ESHAPE, "cb_region_clip: %zu values given, the region has %zu", n, r->n);
  if (!(l = copy_doubles(lo, n)) || !(h = copy_doubles(hi, n))) {
    cb_free(l);
    return fail(err, CB_ENOMEM, "%s: out of memory", "cb_region_clip");
  }
  s = region_set(r);
  s.lo = l; s.hi = h;
  if ((rc = (cb_status)set_check(&s, err)) != CB_OK) { cb_free(l); cb_free(h); return rc; }
  cb_free(r->lo); cb_free(r->hi);
  r->lo = l; r->hi = h;
  return CB_OK;
}

const char *cb_bound_method_name(cb_bound_method m)
{
  cb_method im;
  return bound_method(m, &im) ? bounds_method_name(im) : "?";
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
  cb_set s = region_set(set);
  cb_error local;
  cb_status rc;
  if (!err) err = &local;   /* ws_new reports its status through err */
  if (!bound_method(m, &im)) return fail(err, CB_EUSAGE, "%s: unknown bounding method", "cb_bounds");
  if ((rc = (cb_status)bnet_init(&bn, net, err)) != CB_OK) goto out;
  if (!(ws = ws_new(&bn, &s, err))) { rc = err->status; goto out; }
  if ((rc = (cb_status)bounds_run(ws, im, err)) != CB_OK || (rc = (cb_status)bounds_spec(ws, C, q, lb, ub, err)) != CB_OK)
    goto out;
  for (size_t k = 0; k < q; k++)
    if ((lb && isnan(lb[k])) || (ub && isnan(ub[k]))) { rc = fail(err, CB_EVALUE, "%s: a bound is NaN", "cb_bounds"); goto out; }
out:
  ws_free(ws);
  bnet_free(&bn);
  return rc;
}

/* The checks every bounds call shares: handles, and that region and net agree. */
static cb_status bounds_args(const cb_net *net, const cb_region *set, const void *a, const void *b, cb_error *err)
{
  if (!net || !set || !a || !b) return fail(err, CB_EUSAGE, "%s: NULL argument", "cb_bounds");
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
  cb_status rc = bounds_args(net, set, lo, hi, err);
  if (rc != CB_OK) return rc;
  no = cb_net_output_size(net);
  if (n != no) return (cb_status)cb_error_set(err, CB_ESHAPE, "cb_bounds_logits: room for %zu values, the network has %zu outputs", n, no);
  if (!(I = cb_calloc(no * no, sizeof *I))) return fail(err, CB_ENOMEM, "%s: out of memory", "cb_bounds_logits");
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
  cb_status rc = bounds_args(net, set, lo, lo, err);
  if (rc != CB_OK) return rc;
  no = cb_net_output_size(net);
  if (no < 2) return fail(err, CB_EUSAGE, "%s: margins need at least 2 outputs", "cb_bounds_margins");
  if (label < 0 || (size_t)label >= no)
    return (cb_status)cb_error_set(err, CB_EUSAGE, "cb_bounds_margins: label %d is not a class of the network (0..%zu)", label, no - 1);
  if (n != no - 1)
    return (cb_status)cb_error_set(err, CB_ESHAPE, "cb_bounds_margins: room for %zu values, the network has %zu margins", n, no - 1);
  if (!(C = cb_calloc(no * no, sizeof *C))) return fail(err, CB_ENOMEM, "%s: out of memory", "cb_bounds_margins");
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

void cb_certify_opts_init(cb_certify_opts *o)
{
  cb_cert_opt co;
  if (!o) return;
  cert_opt_init(&co);
  o->timeout = co.timeout;
  o->bab_timeout = co.bab_timeout;
  o->bab_memory_mb = co.bab_memory_mb;
}

/* The cascade's options for a ball region: its one clip range when every
   feature has the same, else CB_EUNSUP. */
static cb_status cert_options(const cb_region *set, const cb_certify_opts *o, cb_cert_opt *co, cb_error *err)
{
  cert_opt_init(co);
  co->norm = set->norm;
  co->eps = set->eps;
  co->timeout = o->timeout;
  co->bab_timeout = o->bab_timeout;
  co->bab_memory_mb = o->bab_memory_mb;
  if (!(o->timeout >= 0) || !(o->bab_timeout >= 0) || !(o->bab_memory_mb > 0))
    return fail(err, CB_EUSAGE, "%s: timeouts must be >= 0 and bab_memory_mb > 0", "cb_certify");
  if (!set->lo) return CB_OK;
  for (size_t j = 1; j < set->n; j++)
    if (set->lo[j] != set->lo[0] || set->hi[j] != set->hi[0])
      return fail(err, CB_EUNSUP, "%s: a clip box with different bounds per feature is not supported yet "
                  "(the cascade takes one range for every feature)", "cb_certify");
  co->clip = set->n > 0;
  co->clip_lo = set->n ? set->lo[0] : 0;
  co->clip_hi = set->n ? set->hi[0] : 0;
  return CB_OK;
}

/* The caller's copy of a cascade result. */
static cb_status certificate_of(const cb_cert_result *r, size_t n_in, cb_certificate **out, cb_error *err)
{
  cb_certificate *c = cb_calloc(1, sizeof *c);
  if (!c) return fail(err, CB_ENOMEM, "%s: out of memory", "cb_certify");
  c->answer = (cb_answer)r->verdict;
  c->pred = r->pred;
  snprintf(c->method, sizeof c->method, "%s", r->verdict == V_UNKNOWN ? "none" : cb_cm_name[r->decided_by]);
  snprintf(c->reason, sizeof c->reason, "%s", r->reason);
  if (r->verdict == V_FALSIFIED && r->cex) {
    if (!(c->cex = copy_doubles(r->cex, n_in))) { cb_free(c); return fail(err, CB_ENOMEM, "%s: out of memory", "cb_certify"); }
    c->n_cex = n_in;
  }
  *out = c;
  return CB_OK;
}

cb_status cb_certify(const cb_net *net, const cb_region *set, int label, const cb_certify_opts *o,
                     cb_certificate **out, cb_error *err)
{
  cb_certify_opts dflt;
  cb_cert_opt co;
  cb_certifier *c = NULL;
  cb_cert_result r = {0};
  cb_error local;
  cb_status rc;
  if (!err) err = &local;   /* certifier_new reports its status through err */
  if (!out) return fail(err, CB_EUSAGE, "%s: NULL argument", "cb_certify");
  *out = NULL;
  if ((rc = bounds_args(net, set, set, net, err)) != CB_OK) return rc;
  if (set->norm == CB_NORM_BOX) return fail(err, CB_EUSAGE, "%s: the region must be a ball around the sample, not a box", "cb_certify");
  if (label < 0 || (size_t)label >= cb_net_output_size(net) || cb_net_output_size(net) < 2)
    return (cb_status)cb_error_set(err, CB_EUSAGE, "cb_certify: label %d is not a class of the network (%zu outputs)", label,
                                   cb_net_output_size(net));
  if (!o) { cb_certify_opts_init(&dflt); o = &dflt; }
  if ((rc = cert_options(set, o, &co, err)) != CB_OK) return rc;
  if (!(c = certifier_new(net, &co, err))) return err->status;
  if ((rc = (cb_status)cert_result_init(&r, net)) != CB_OK) { fail(err, rc, "%s: out of memory", "cb_certify"); goto out; }
  if ((rc = (cb_status)certify_sample(c, set->center, label, &r, NULL, err)) != CB_OK) goto out;
  rc = certificate_of(&r, set->n, out, err);
out:
  cert_result_free(&r);
  certifier_free(c);
  return rc;
}

void cb_certificate_free(cb_certificate *c)
{
  if (!c) return;
  cb_free(c->cex);
  cb_free(c);
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

void cb_verify_opts_init(cb_verify_opts *o)
{
  vfy_opts v;
  if (!o) return;
  vfy_opts_init(&v);
  o->timeout = v.timeout;
  o->max_memory_mb = v.max_memory_mb;
  o->threads = v.threads;
}

/* The caller's copy of a search result; the witness is copied, not moved. */
static cb_status verification_of(const vfy_result *r, size_t nx, size_t ny, cb_verification **out, cb_error *err)
{
  cb_verification *v = cb_calloc(1, sizeof *v);
  if (!v) return fail(err, CB_ENOMEM, "%s: out of memory", "cb_verify_vnnlib");
  v->answer = (cb_answer)r->answer;
  snprintf(v->reason, sizeof v->reason, "%s", r->reason);
  if (r->answer == V_FALSIFIED && r->x && r->y) {
    if (!(v->x = copy_doubles(r->x, nx)) || !(v->y = copy_doubles(r->y, ny))) {
      cb_verification_free(v);
      return fail(err, CB_ENOMEM, "%s: out of memory", "cb_verify_vnnlib");
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
  cb_status rc;
  if (!out) return fail(err, CB_EUSAGE, "%s: NULL argument", "cb_verify_vnnlib");
  *out = NULL;
  if (!net || !vnnlib_path) return fail(err, CB_EUSAGE, "%s: NULL argument", "cb_verify_vnnlib");
  vfy_opts_init(&vo);
  if (o) {
    if (!(o->timeout > 0) || !(o->max_memory_mb > 0) || o->threads < 0)
      return fail(err, CB_EUSAGE, "%s: timeout and max_memory_mb must be > 0, threads >= 0", "cb_verify_vnnlib");
    vo.timeout = o->timeout;
    vo.max_memory_mb = o->max_memory_mb;
    vo.threads = o->threads;
  }
  if ((rc = (cb_status)vnn_parse(vnnlib_path, &spec, err)) != CB_OK ||
      (rc = (cb_status)vnn_check_sizes(spec, cb_net_input_size(net), cb_net_output_size(net), err)) != CB_OK)
    goto out;
  if ((rc = (cb_status)vfy_run(net, spec, &vo, &r, err)) != CB_OK) {
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
  if (!net || !K) return fail(err, CB_EUSAGE, "%s: NULL argument", "cb_lipschitz_upper");
  lip_opts_init(&lo);
  if (!lp_norm(norm, &lo.norm)) return fail(err, CB_EUSAGE, "%s: unknown norm", "cb_lipschitz_upper");
  if ((rc = (cb_status)lip_analyze(net, &lo, &r, err)) != CB_OK) return rc;
  k = r->K_merged <= r->K_layerwise ? r->K_merged : r->K_layerwise;
  lip_result_free(r);
  if (!(k >= 0)) return fail(err, CB_EVALUE, "%s: the bound is NaN", "cb_lipschitz_upper");
  *K = k;
  return CB_OK;
}
