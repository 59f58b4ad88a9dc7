/*
** The steps of a certify run shared by its drivers (see cert_run.h): the
** settings, a row's sample JSON, progress.jsonl, the summary, the final files.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cert_run.h"
#include "exact.h"
#include "linalg.h"
#include "proof_emit.h"
#include "proofchk.h"
#include "report.h"
#include "report_doc.h"

static cJSON *settings_json(const certify_opts *o, const batch *b, unsigned methods, size_t r0, size_t r1)
{
  cJSON *s = cJSON_CreateObject(), *m = cJSON_CreateArray();
  cJSON_AddStringToObject(s, "norm", cb_norm_table[o->co.norm].name);
  cJSON_AddNumberToObject(s, "eps", o->co.eps);
  cJSON_AddItemToObject(s, "threat_model", batch_json_threat(b));
  cJSON_AddStringToObject(s, "property", o->co.regression ? "regression: |f_j(y) - f_j(x)| <= tol for every output j"
                          : b->target >= 0 ? "targeted: f_label - f_target > 0 (the target class never reaches the label)"
                          : "f_label - f_j > 0 for every class j != label");
  if (o->co.regression) cJSON_AddNumberToObject(s, "tol", o->co.tol);
  else cJSON_AddNullToObject(s, "tol");
  if (o->co.clip) { double c[2] = {o->co.clip_lo, o->co.clip_hi}; cJSON_AddItemToObject(s, "clip", cJSON_CreateDoubleArray(c, 2)); }
  else cJSON_AddNullToObject(s, "clip");
  for (int k = 0; k < CM_COUNT; k++) if ((methods >> k) & 1) cJSON_AddItemToArray(m, cJSON_CreateString(cb_cm_name[k]));
  cJSON_AddItemToObject(s, "methods", m);
  cJSON_AddBoolToObject(s, "radius", o->co.radius);
  if (b->eps_w) cJSON_AddStringToObject(s, "radius_unit", "a scale of the per-feature radii (eps_per_feature)");
  cJSON_AddNumberToObject(s, "radius_rtol", o->co.radius_rtol);
  cJSON_AddNumberToObject(s, "timeout_s", o->co.timeout);
  cJSON_AddNumberToObject(s, "bab_timeout_s", (methods >> CM_BAB) & 1 ? o->co.bab_timeout : 0);
  cJSON_AddNumberToObject(s, "attack_steps", o->co.cheap.steps);
  cJSON_AddNumberToObject(s, "attack_restarts", o->co.cheap.restarts);
  cJSON_AddNumberToObject(s, "strong_attack_steps", o->co.strong.steps);
  cJSON_AddNumberToObject(s, "strong_attack_restarts", o->co.strong.restarts);
  cJSON_AddNumberToObject(s, "seed", (double)o->co.cheap.seed);
  cJSON_AddNumberToObject(s, "rows_from", (double)r0);
  cJSON_AddNumberToObject(s, "rows_to", (double)r1);
  if (o->shard_n) {   /* only when sharded: an unsharded run's settings stay as they were */
    cJSON *sh = cJSON_AddObjectToObject(s, "shard");
    cJSON_AddNumberToObject(sh, "index", (double)o->shard_i);
    cJSON_AddNumberToObject(sh, "count", (double)o->shard_n);
  }
  return s;
}

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

/* The counterexample's real-arithmetic logits: exact decimals for a
   piecewise-linear net, "[lo, hi]" enclosures otherwise (exact.h). */
static cJSON *real_logits(const cb_net *net, const double *x)
{
  cb_exact *E = NULL;
  cb_error err = {0};
  cJSON *a;
  char buf[512];
  if (exact_eval(net, x, &E, &err) != CB_OK || !(a = cJSON_CreateArray())) { exact_free(E); return cJSON_CreateNull(); }
  for (size_t j = 0; j < exact_n_out(E); j++) {
    exact_output_text(E, j, buf, sizeof buf);
    cJSON_AddItemToArray(a, cJSON_CreateString(buf));
  }
  exact_free(E);
  return a;
}

/* The margin rows of a sample (certify.h's margin_lb). */
static size_t n_margins(const cb_cert_opt *co, size_t no) { return co->regression ? 2 * no : co->target >= 0 ? 1 : no - 1; }

static cJSON *sample_json(const batch *b, size_t k, const cb_cert_result *r, const cb_cert_opt *co)
{
  cJSON *s = batch_json_sample(b, k), *ms = cJSON_CreateObject(), *mc = cJSON_CreateArray();
  size_t ni = b->n_in, no = b->n_out, nm = n_margins(co, no);
  int radius = co->radius;
  if (co->regression) cJSON_AddNullToObject(s, "pred");
  else cJSON_AddNumberToObject(s, "pred", r->pred);
  cJSON_AddStringToObject(s, "verdict", cb_verdict_table[r->verdict].name);
  if (r->verdict == V_UNKNOWN) cJSON_AddNullToObject(s, "decided_by");
  else cJSON_AddStringToObject(s, "decided_by", cb_cm_name[r->decided_by]);
  cJSON_AddStringToObject(s, "reason", r->reason);
  cJSON_AddItemToObject(s, "logits", cJSON_CreateDoubleArray(r->logits, (int)no));
  if (co->regression)   /* rows 2j: tol + f_j(x) - f_j(y), 2j + 1: f_j(y) - f_j(x) + tol */
    for (size_t j = 0; j < 2 * no; j++) cJSON_AddItemToArray(mc, cJSON_CreateNumber((double)(j / 2)));
  else if (co->target >= 0) cJSON_AddItemToArray(mc, cJSON_CreateNumber(co->target));
  else for (size_t j = 0; j < no; j++) if ((int)j != r->label) cJSON_AddItemToArray(mc, cJSON_CreateNumber((double)j));
  cJSON_AddItemToObject(s, co->regression ? "margin_outputs" : "margin_classes", mc);
  if (r->have_margin_lb) cJSON_AddItemToObject(s, "margin_lb", cJSON_CreateDoubleArray(r->margin_lb, (int)nm));
  else cJSON_AddNullToObject(s, "margin_lb");
  if (r->have_logit_bounds) {
    cJSON_AddItemToObject(s, "logit_lb", cJSON_CreateDoubleArray(r->logit_lb, (int)no));
    cJSON_AddItemToObject(s, "logit_ub", cJSON_CreateDoubleArray(r->logit_ub, (int)no));
    cJSON_AddStringToObject(s, "logit_bounds_method", cb_cm_name[r->logit_method]);
  } else {
    cJSON_AddNullToObject(s, "logit_lb");
    cJSON_AddNullToObject(s, "logit_ub");
    cJSON_AddNullToObject(s, "logit_bounds_method");
  }
  if (r->verdict == V_FALSIFIED) {
    cJSON_AddItemToObject(s, "x", cJSON_CreateDoubleArray(batch_x(b, k), (int)ni));
    cJSON_AddItemToObject(s, "counterexample", cJSON_CreateDoubleArray(r->cex, (int)ni));
    cJSON_AddItemToObject(s, "counterexample_logits", cJSON_CreateDoubleArray(r->cex_logits, (int)no));
    cJSON_AddItemToObject(s, "counterexample_logits_real", real_logits(b->net, r->cex));
    if (co->regression) {
      cJSON_AddItemToObject(s, "logits_real", real_logits(b->net, batch_x(b, k)));   /* f(x), to compare */
      cJSON_AddNullToObject(s, "counterexample_class");
      cJSON_AddNumberToObject(s, "counterexample_output", r->cex_class);
    } else cJSON_AddNumberToObject(s, "counterexample_class", r->cex_class);
  } else {
    cJSON_AddNullToObject(s, "counterexample");
    cJSON_AddNullToObject(s, "counterexample_logits");
    cJSON_AddNullToObject(s, "counterexample_logits_real");
    cJSON_AddNullToObject(s, "counterexample_class");
  }
  cJSON_AddItemToObject(s, "certified_radius", radius ? cJSON_CreateNumber(r->certified_radius) : cJSON_CreateNull());
  cJSON_AddItemToObject(s, "attack_radius", radius ? num_or_null(r->attack_radius) : cJSON_CreateNull());
  if ((r->ran >> CM_BAB) & 1) {
    cJSON *bb = cJSON_AddObjectToObject(s, "bab");
    cJSON_AddStringToObject(bb, "answer", cb_verdict_table[r->bab_answer].vnnlib);
    cJSON_AddNumberToObject(bb, "subdomains", (double)r->bab_nodes);
    cJSON_AddNumberToObject(bb, "relu_states", (double)r->bab_relu_states);
    cJSON_AddNumberToObject(bb, "depth", r->bab_depth);
    cJSON_AddNumberToObject(bb, "time_ms", r->ms[CM_BAB]);
  } else cJSON_AddNullToObject(s, "bab");
  cJSON_AddNumberToObject(s, "time_ms", r->ms_total);
  for (int m = 0; m < CM_COUNT; m++) if (((r->ran >> m) & 1) || r->ms[m] > 0) cJSON_AddNumberToObject(ms, cb_cm_name[m], r->ms[m]);
  cJSON_AddItemToObject(s, "method_ms", ms);
  return s;
}

/* --resume: loads finished samples from progress.jsonl if its settings match. */
static int load_progress(const char *path, const char *settings, cJSON **done, size_t r0, size_t n, cb_error *err)
{
  FILE *f = fopen(path, "r");
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int first = 1, rc = CB_OK;
  if (!f) return CB_OK;   /* nothing to resume: start from the beginning */
  while ((len = getline(&line, &cap, f)) > 0) {
    cJSON *j = cJSON_Parse(line);
    if (first) {
      char *s = j ? cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "settings")) : NULL;
      int same = s && !strcmp(s, settings);
      cJSON_free(s);
      cJSON_Delete(j);
      if (!same) { rc = cb_error_set(err, CB_EUSAGE, "%s: the interrupted run had other settings; run without --resume", path); break; }
      first = 0;
      continue;
    }
    if (!j) continue;    /* a line cut by the interruption */
    const cJSON *ix = cJSON_GetObjectItem(j, "index");
    size_t k = cJSON_IsNumber(ix) ? (size_t)ix->valuedouble : (size_t)-1;
    if (k >= r0 && k < r0 + n && !done[k - r0]) done[k - r0] = j;
    else cJSON_Delete(j);
  }
  free(line);
  fclose(f);
  return rc;
}

typedef cert_tally tally;

static void count(tally *t, const cJSON *s)
{
  const char *v = cJSON_GetObjectItem(s, "verdict")->valuestring, *by;
  const cJSON *b = cJSON_GetObjectItem(s, "decided_by"), *r = cJSON_GetObjectItem(s, "certified_radius"), *m;
  t->n++;
  t->ver += !strcmp(v, "verified");
  t->fal += !strcmp(v, "falsified");
  t->unk += !strcmp(v, "unknown");
  t->clean_ok += cJSON_IsNumber(cJSON_GetObjectItem(s, "pred")) &&
                 cJSON_GetObjectItem(s, "pred")->valueint == cJSON_GetObjectItem(s, "label")->valueint;
  by = cJSON_IsString(b) ? b->valuestring : NULL;
  for (int k = 0; by && k < CM_COUNT; k++) if (!strcmp(by, cb_cm_name[k])) t->by[k]++;
  if (cJSON_IsNumber(r)) t->radii[t->nr++] = r->valuedouble;
  cJSON_ArrayForEach(m, cJSON_GetObjectItem(s, "method_ms"))
    for (int k = 0; k < CM_COUNT; k++) if (!strcmp(m->string, cb_cm_name[k])) t->ms[k] += m->valuedouble;
}

static int dcmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static double median(double *v, int n)
{
  if (n == 0) return NAN;
  qsort(v, (size_t)n, sizeof *v, dcmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static cJSON *summary_json(const tally *t, double medr, double secs, int threads, int regression)
{
  cJSON *s = cJSON_CreateObject(), *by = cJSON_CreateObject(), *ms = cJSON_CreateObject();
  cJSON_AddNumberToObject(s, "n_samples", t->n);
  if (regression) cJSON_AddNullToObject(s, "clean_accuracy");   /* no classes */
  else cJSON_AddNumberToObject(s, "clean_accuracy", t->n ? (double)t->clean_ok / t->n : 0);
  cJSON_AddNumberToObject(s, "certified_accuracy", t->n ? (double)t->ver / t->n : 0);
  cJSON_AddNumberToObject(s, "n_verified", t->ver);
  cJSON_AddNumberToObject(s, "n_falsified", t->fal);
  cJSON_AddNumberToObject(s, "n_unknown", t->unk);
  for (int k = 0; k < CM_COUNT; k++) cJSON_AddNumberToObject(by, cb_cm_name[k], t->by[k]);
  cJSON_AddItemToObject(s, "decided_by", by);
  cJSON_AddItemToObject(s, "median_certified_radius", num_or_null(medr));
  for (int k = 0; k < CM_COUNT; k++) cJSON_AddNumberToObject(ms, cb_cm_name[k], t->ms[k]);
  cJSON_AddItemToObject(s, "method_ms_total", ms);
  cJSON_AddNumberToObject(s, "time_s", secs);
  cJSON_AddNumberToObject(s, "threads", threads);
  return s;
}

static void print_summary(const certify_opts *o, const tally *t, double medr, double secs, int threads)
{
  printf("cerbere certify: %s, L%s eps %g%s%s%s, %d samples, %d thread%s\n", o->net, cb_norm_table[o->co.norm].name, o->co.eps,
         o->co.clip ? " (clipped)" : "", o->co.eps_w ? " (per-feature radii times eps)" : "", o->co.box_lo ? " (--box)" : "",
         t->n, threads, threads > 1 ? "s" : "");
  if (o->co.regression) printf("  %-20s |f_j(y) - f_j(x)| <= %g for every output j\n", "regression", o->co.tol);
  else if (o->co.target >= 0) printf("  %-20s class %d must not reach the label\n", "targeted", o->co.target);
  if (!o->co.regression) printf("  %-20s %.4f\n", "clean accuracy", t->n ? (double)t->clean_ok / t->n : 0);
  printf("  %-20s %.4f  (%d verified)\n", o->co.regression ? "verified fraction" : "certified accuracy", t->n ? (double)t->ver / t->n : 0, t->ver);
  printf("  %-20s %d\n  %-20s %d\n", "falsified", t->fal, "unknown", t->unk);
  if (o->co.radius) printf("  %-20s %.6g%s\n", "median cert. radius", medr, o->co.eps_w ? " (a scale of the per-feature radii)" : "");
  printf("  %-20s", "decided by");
  for (int k = 0; k < CM_COUNT; k++) printf(" %s %d%s", cb_cm_name[k], t->by[k], k + 1 < CM_COUNT ? "," : "\n");
  printf("  %-20s %.3f s\n", "time", secs);
}

static void progress(int done, size_t total, const tally *t, double secs)
{
  char what[96];
  snprintf(what, sizeof what, "verified %d falsified %d unknown %d", t->ver, t->fal, t->unk);
  batch_progress((size_t)done, total, secs, what);
}

/* DIR/report.json + report.html: the certificates plus what an auditor needs
   to tie them to the inputs (digests, tool commit, command line, Lipschitz). */
static int write_report(const certify_opts *o, const batch *b, const cb_certifier *c, const cJSON *top, cb_error *err)
{
  const lip_result *lr = certifier_lipschitz(c);
  return report_write_run(o->out, "certify", b->net, o->data, cb_data_rows(b->d), top, lr ? report_lipschitz(b->net, lr) : NULL, err);
}

/* --export-vnnlib DIR: DIR/row_<index>.vnnlib for every row left unknown,
   the row's property as cert_sample_spec builds it (certify.h); *n counts them. */
static int export_vnnlib(const certify_opts *o, const batch *b, const cb_certifier *c, cJSON *const *done, int *n, cb_error *err)
{
  char path[4096], note[1024], clip[96] = "", who[64];
  *n = 0;
  for (size_t k = 0; k < b->n; k++) {
    const cJSON *s = done[k];
    vnn_spec *sp = NULL;
    FILE *f;
    int rc;
    if (!s || strcmp(cJSON_GetObjectItem(s, "verdict")->valuestring, "unknown")) continue;
    if ((rc = cert_sample_spec(c, batch_x(b, k), batch_label(b, k), &sp, err)) != CB_OK) return rc;
    snprintf(path, sizeof path, "%s/row_%zu.vnnlib", o->export_dir, b->r0 + k);
    if (o->co.clip) snprintf(clip, sizeof clip, ", clip box [%.17g, %.17g]", o->co.clip_lo, o->co.clip_hi);
    if (b->target >= 0) snprintf(who, sizeof who, "the target's output Y_%d is >=", b->target);   /* targeted: one disjunct */
    else snprintf(who, sizeof who, "some output Y_j, j != %d, is >=", batch_label(b, k));
    snprintf(note, sizeof note,
             "cerbere certify %s --data %s: row %zu, label %d, L%s eps %.17g%s\n"
             "left unknown: %.400s\n"
             "The asserts describe a counterexample: an input of the box (the row's set, bounds rounded\n"
             "outward%s) where %s Y_%d.%s",
             o->net, o->data, b->r0 + k, batch_label(b, k), cb_norm_table[o->co.norm].name, o->co.eps, clip,
             cJSON_GetObjectItem(s, "reason")->valuestring,
             b->box_lo || b->eps_w ? ", cut by the clip box and --box, per-feature radii times eps" : o->co.clip ? ", cut by the clip box" : "",
             who, batch_label(b, k),
             o->co.norm == CB_NORM_INF ? "" : "\nThe box is the bounding box of the ball: unsat on it proves the row, sat does not refute it.");
    if (!(f = fopen(path, "w"))) { vnn_free(sp); return cb_error_set(err, CB_EIO, "%s: cannot write", path); }
    rc = vnn_write(f, sp, note);
    if (fclose(f) != 0 || rc != CB_OK) { vnn_free(sp); return cb_error_set(err, CB_EIO, "%s: write failed", path); }
    vnn_free(sp);
    (*n)++;
  }
  return CB_OK;
}

/* --proof: for every verified row, DIR/proofs/row_<index>.vnnlib (its
   property, cert_sample_spec's box and rows) and row_<index>.proof (the
   emitter of verify --proof, within the bab budget or 30 s of CPU); the
   sample gains "proof": {"file", "property", "leaves"} or {"error"}.  *np
   counts the proofs, *nv the verified rows. */
static int write_proofs(const certify_opts *o, const batch *b, const cb_certifier *c, cJSON *const *done, int *np, int *nv, cb_error *err)
{
  char dir[4096], vp[4200], pp[4200], note[512];
  int rc;
  *np = *nv = 0;
  snprintf(dir, sizeof dir, "%s/proofs", o->out);
  if ((rc = report_prepare_dir(dir, err)) != CB_OK) return rc;
  for (size_t k = 0; k < b->n; k++) {
    cJSON *s = done[k], *pj;
    vnn_spec *sp = NULL;
    proof_emit_stats st;
    cb_error e2 = {0};
    FILE *f;
    size_t row = b->r0 + k;
    if (!s || strcmp(cJSON_GetObjectItem(s, "verdict")->valuestring, "verified")) continue;
    (*nv)++;
    if ((rc = cert_sample_spec(c, batch_x(b, k), batch_label(b, k), &sp, err)) != CB_OK) return rc;
    snprintf(vp, sizeof vp, "%s/row_%zu.vnnlib", dir, row);
    snprintf(pp, sizeof pp, "%s/row_%zu.proof", dir, row);
    snprintf(note, sizeof note, "cerbere certify %s --data %s --proof: row %zu, label %d, L%s eps %.17g; its proof: row_%zu.proof\n"
             "The asserts describe a counterexample (some Y_j, j != label, >= Y_label on the row's box, rounded outward%s).",
             o->net, o->data, row, batch_label(b, k), cb_norm_table[o->co.norm].name, o->co.eps, row,
             o->co.norm == CB_NORM_INF ? "" : "; the box of radius eps contains the ball");
    if (!(f = fopen(vp, "w"))) { vnn_free(sp); return cb_error_set(err, CB_EIO, "%s: cannot write", vp); }
    rc = vnn_write(f, sp, note);
    if (fclose(f) != 0 || rc != CB_OK) { vnn_free(sp); return cb_error_set(err, CB_EIO, "%s: write failed", vp); }
    pj = cJSON_CreateObject();
    rc = proof_emit(b->net, sp, o->net, vp, pp, o->co.bab_timeout > 0 ? o->co.bab_timeout : 30, 64, 0, &st, &e2);
    vnn_free(sp);
    if (rc == CB_OK) {
      snprintf(vp, sizeof vp, "proofs/row_%zu.vnnlib", row);
      snprintf(pp, sizeof pp, "proofs/row_%zu.proof", row);
      cJSON_AddStringToObject(pj, "file", pp);
      cJSON_AddStringToObject(pj, "property", vp);
      cJSON_AddNumberToObject(pj, "leaves", (double)st.leaves);
      (*np)++;
    } else {
      if (rc == CB_ENOMEM || rc == CB_EIO) { cJSON_Delete(pj); return cb_error_set(err, rc, "%s", e2.msg); }
      remove(vp);
      cJSON_AddStringToObject(pj, "error", e2.msg);
    }
    cJSON_AddItemToObject(s, "proof", pj);
  }
  return CB_OK;
}

double certify_now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A sample as one line whose numbers read back to the same doubles (cJSON's
   own printing keeps 15 digits when they come within an epsilon, which
   would change the last bits of a resumed sample). */
static char *print_exact(const cJSON *s)
{
  cJSON *c = cJSON_Duplicate(s, 1);
  char *l;
  report_exact_numbers(c);
  l = c ? cJSON_PrintUnformatted(c) : NULL;
  cJSON_Delete(c);
  return l;
}

int certify_in_run(const certify_run *R, size_t k)
{
  return !R->o->shard_n || (long)(k % (size_t)R->o->shard_n) == R->o->shard_i;
}

cJSON *certify_sample_json(const certify_run *R, size_t k, const cb_cert_result *r)
{
  return sample_json(&R->b, k, r, &R->o->co);
}

int certify_setup(certify_run *R, const certify_opts *o, int writer, int threads, cb_error *err)
{
  batch_ball ball = {o->co.norm, o->co.eps, o->co.clip, o->co.clip_lo, o->co.clip_hi};
  batch_rows sel = {o->r0, o->r1, 0, &ball, o->co.regression};
  int rc;
  memset(R, 0, sizeof *R);
  R->o = o;
  R->t0 = certify_now();
  R->threads = threads;
  R->bar = writer && !o->quiet && isatty(2);
  if (writer && o->out && (rc = report_prepare_dir(o->out, err)) != CB_OK) return rc;
  if (writer && o->export_dir && (rc = report_prepare_dir(o->export_dir, err)) != CB_OK) return rc;
  if ((rc = batch_load_net(&R->b, o->net, err)) != CB_OK || (rc = batch_load_rows(&R->b, o->data, &sel, err)) != CB_OK) return rc;
  {
    cb_cert_opt co = o->co;   /* the threat model's arrays, loaded with the net (batch.h) */
    co.box_lo = R->b.box_lo; co.box_hi = R->b.box_hi; co.eps_w = R->b.eps_w; co.target = R->b.target;
    /* OpenBLAS on one thread for the network-wide work (the Lipschitz
       constant seeds every radius search): its sums then do not depend on
       the cores a process sees, so shards on other machines and MPI ranks
       bound to one core give the same radii, bit for bit */
    la_single_begin();
    R->c = certifier_new(R->b.net, &co, err);
    la_single_end();
    if (!R->c) return err->status;
    R->o_eff = *o;   /* the summary line's view of the threat model */
    R->o_eff.co = co;
  }
  if (o->proof) {   /* what the checker cannot re-derive is refused before any work */
    cJSON *top = batch_json_top(&R->b, "certify");
    int nm = cJSON_GetObjectItem(top, "normalisation") != NULL;
    cJSON_Delete(top);
    if (R->b.box_lo || R->b.eps_w || R->b.target >= 0 || nm)
      return cb_error_set(err, CB_EUSAGE, "--proof: per-sample proofs are of the plain L-inf ball (with --clip); not with %s",
                          R->b.box_lo ? "--box" : R->b.eps_w ? "--eps-per-feature" : R->b.target >= 0 ? "--target" : "--mean/--std");
    if (R->b.n) {
      vnn_spec *sp = NULL;
      pchk *P = NULL;
      if ((rc = cert_sample_spec(R->c, batch_x(&R->b, 0), batch_label(&R->b, 0), &sp, err)) != CB_OK) return rc;
      rc = pchk_new(R->b.net, sp, &P, err);
      pchk_free(P);
      vnn_free(sp);
      if (rc != CB_OK) return cb_error_set(err, rc, "--proof: %s", err->msg);
    }
  }
  R->set = settings_json(o, &R->b, certifier_methods(R->c), R->b.r0, R->b.r1);
  R->set_s = cJSON_PrintUnformatted(R->set);
  R->done = cb_calloc(R->b.n + 1, sizeof *R->done);
  R->t.radii = cb_calloc(R->b.n + 1, sizeof *R->t.radii);
  if (!R->set_s || !R->done || !R->t.radii) return cb_error_set(err, CB_ENOMEM, "out of memory");
  for (size_t k = 0; k < R->b.n; k++) R->n_todo += (size_t)certify_in_run(R, k);
  if (writer && o->out) {
    snprintf(R->prog, sizeof R->prog, "%s/progress.jsonl", o->out);
    if (o->resume && (rc = load_progress(R->prog, R->set_s, R->done, R->b.r0, R->b.n, err)) != CB_OK) return rc;
    if (!(R->pf = fopen(R->prog, "w"))) return cb_error_set(err, CB_EIO, "%s: cannot write", R->prog);
    fprintf(R->pf, "{\"settings\":%s}\n", R->set_s);
    for (size_t k = 0; k < R->b.n; k++)
      if (R->done[k]) {
        char *l = print_exact(R->done[k]);
        fprintf(R->pf, "%s\n", l ? l : "");
        cJSON_free(l);
        count(&R->t, R->done[k]);
        R->ndone++;
      }
    if (fflush(R->pf) != 0) return cb_error_set(err, CB_EIO, "%s: cannot write", R->prog);
  }
  if (R->ndone) fprintf(stderr, "resuming: %d of %zu samples already done\n", R->ndone, R->n_todo);
  return CB_OK;
}

void certify_record(certify_run *R, size_t k, cJSON *s)
{
  const certify_opts *o = R->o;
  const cJSON *reason = cJSON_GetObjectItem(s, "reason"), *tm = cJSON_GetObjectItem(s, "time_ms");
  R->done[k] = s;
  count(&R->t, s);
  R->ndone++;
  if (R->pf) { char *l = print_exact(s); fprintf(R->pf, "%s\n", l ? l : ""); fflush(R->pf); cJSON_free(l); }
  if (!o->quiet && !R->bar && o->co.regression)
    printf("row %zu: %s (%s) %.2f ms\n", R->b.r0 + k, cJSON_GetObjectItem(s, "verdict")->valuestring, reason->valuestring, tm->valuedouble);
  else if (!o->quiet && !R->bar)
    printf("row %zu: label %d pred %d %s (%s) %.2f ms\n", R->b.r0 + k, cJSON_GetObjectItem(s, "label")->valueint,
           cJSON_GetObjectItem(s, "pred")->valueint, cJSON_GetObjectItem(s, "verdict")->valuestring, reason->valuestring, tm->valuedouble);
  if (R->bar) progress(R->ndone, R->n_todo, &R->t, certify_now() - R->t0);
}

int certify_finish(certify_run *R, cb_error *err)
{
  const certify_opts *o = R->o;
  cJSON *top = batch_json_top(&R->b, "certify"), *samples;
  char fin[4096];
  double medr = median(R->t.radii, R->t.nr);
  int rc = CB_OK;
  if (R->pf) { int bad = fclose(R->pf) != 0; R->pf = NULL; if (bad) { cJSON_Delete(top); return cb_error_set(err, CB_EIO, "%s: cannot write", R->prog); } }
  cJSON_AddItemToObject(top, "threat_model", batch_json_threat(&R->b));
  cJSON_AddItemToObject(top, "settings", R->set); R->set = NULL;
  cJSON_AddItemToObject(top, "summary", summary_json(&R->t, medr, certify_now() - R->t0, R->threads, o->co.regression));
  print_summary(&R->o_eff, &R->t, medr, certify_now() - R->t0, R->threads);
  batch_print_warnings(&R->b);
  if (o->export_dir) {
    int nx;
    if ((rc = export_vnnlib(o, &R->b, R->c, R->done, &nx, err)) != CB_OK) goto out;
    printf("  %-20s %d file%s in %s\n", "exported VNNLIB", nx, nx == 1 ? "" : "s", o->export_dir);
  }
  if (o->proof) {
    int np, nv;
    char cmd[8300];
    cJSON *pr;
    if ((rc = write_proofs(o, &R->b, R->c, R->done, &np, &nv, err)) != CB_OK) goto out;
    snprintf(cmd, sizeof cmd, "cerbere check %s %s/certificates.json", o->net, o->out);
    pr = cJSON_AddObjectToObject(top, "proofs");
    cJSON_AddNumberToObject(pr, "verified", nv);
    cJSON_AddNumberToObject(pr, "with_proof", np);
    cJSON_AddStringToObject(pr, "recheck", cmd);
    printf("  %-20s %d of %d verified rows carry a proof (%s/proofs); re-check them all: %s\n", "proofs", np, nv, o->out, cmd);
  }
  samples = cJSON_AddArrayToObject(top, "samples");
  for (size_t k = 0; k < R->b.n; k++) if (R->done[k]) { cJSON_AddItemToArray(samples, R->done[k]); R->done[k] = NULL; }
  if (o->out) {
    snprintf(fin, sizeof fin, "%s/certificates.json", o->out);
    if ((rc = report_write_json(fin, top, err)) != CB_OK) goto out;
    remove(R->prog);
  }
  if (o->json && (rc = report_write_json(o->json, top, err)) != CB_OK) goto out;
  if (o->out && (rc = write_report(o, &R->b, R->c, top, err)) != CB_OK) goto out;
  rc = R->t.fal ? EXIT_FALSIFIED : R->t.unk ? EXIT_UNKNOWN : 0;
out:
  cJSON_Delete(top);
  return rc;
}

void certify_close(certify_run *R)
{
  if (R->pf) fclose(R->pf);
  for (size_t k = 0; R->done && k < R->b.n; k++) cJSON_Delete(R->done[k]);
  cb_free(R->done);
  cb_free(R->t.radii);
  cJSON_free(R->set_s);
  cJSON_Delete(R->set);
  certifier_free(R->c);
  batch_close(&R->b);
  memset(R, 0, sizeof *R);
}

cJSON *certify_summary_of(const cJSON *samples, double secs, int threads, int regression)
{
  tally t = {0};
  const cJSON *s;
  cJSON *sum;
  int n = cJSON_GetArraySize(samples);
  if (!(t.radii = cb_calloc((size_t)n + 1, sizeof *t.radii))) return NULL;
  cJSON_ArrayForEach(s, samples) count(&t, s);
  sum = summary_json(&t, median(t.radii, t.nr), secs, threads, regression);
  cb_free(t.radii);
  return sum;
}
