/*
** `cerbere bounds`: for every CSV row, certified bounds on the logits and on
** the margins f_label - f_j (j != label, ascending) over an Lp ball around the
** row, by IBP, CROWN, CROWN-IBP or alpha-CROWN.  Samples run in parallel (OpenMP, one
** workspace per sample, BLAS single-threaded inside).  "verified" means every
** margin lower bound is > 0: a sound proof that the label is kept on the ball.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "args.h"
#include "bounds.h"
#include "linalg.h"
#include "report.h"

static const char *usage =
  "usage: cerbere bounds NET --data CSV --norm inf|2|1 --eps E [--method ibp|crown|crown-ibp|alpha-crown]\n"
  "                      [--clip LO:HI] [--rows A:B] [--json OUT] [--quiet]\n"
  "                      [--timeout S] [--max-memory M]\n"
  "\n"
  "For each CSV row (label,x0,...), bounds the logits and the margins\n"
  "f_label - f_j (j != label, ascending) over the ball {x : ||x - row||_p <= E},\n"
  "intersected with the box [LO, HI]^n when --clip is given.  A row is\n"
  "'verified' when every margin lower bound is > 0 (a sound proof).  A row\n"
  "whose set is empty (the ball misses the clip box) or whose label is not a\n"
  "class stops the run before any work, naming the row (exit 3).\n"
  "\n"
  "  --method M    ibp, crown (default), crown-ibp, or alpha-crown: CROWN whose\n"
  "                ReLU slopes and sigmoid/tanh tangent points are optimised per\n"
  "                bound (intermediate layers included) by 20 Adam steps, 40 if\n"
  "                the net has sigmoid/tanh; tighter, 10-40x the time of crown;\n"
  "                logit lower, logit upper and margin bounds are 3 optimisations\n"
  "  --rows A:B    only rows A..B-1 (0-based)\n"
  "  --json OUT    {command, net, data, norm, eps, method, clip, n_samples, n_verified,\n"
  "                samples: [{index, label, logits, margin_classes, logit_lb, logit_ub,\n"
  "                margin_lb, verified, timeout, time_ms}]} (bounds null on a timeout)\n"
  "  --timeout S   wall-time limit in seconds for the whole run: rows not finished\n"
  "                by then are reported 'timeout' (not verified, no bounds), exit 0\n"
  "  --max-memory M  cap the analysis' own arrays at M MiB: past it, error 'memory\n"
  "                limit of M MiB reached', exit 5, no output file\n";

typedef struct opts {
  const char *net, *data, *json;
  cb_norm norm;
  double eps, clip_lo, clip_hi;
  int clip, quiet;
  cb_method method;
  long r0, r1;
} opts;

typedef struct result {
  double *logits, *lb, *ub, *mlb, ms;   /* no, no, no, no - 1 values */
  int verified, status, timeout;  /* timeout: the row hit --timeout (no bounds) */
  cb_error err;
} result;

static int parse(int argc, char **argv, opts *o)
{
  int have_norm = 0, have_eps = 0, rc;
  memset(o, 0, sizeof *o);
  o->method = CB_CROWN;
  o->r1 = -1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage, stdout); return -1; }
    if (!strcmp(a, "--quiet")) { o->quiet = 1; continue; }
    if (a[0] == '-' && a[1] == '-' && strcmp(a, "--quiet") && !v) return report_usage("bounds", "%s needs a value", a);
    if ((rc = report_limit_option("bounds", a, v)) > 0) return rc;
    if (rc == 0) { i++; continue; }
    if (!strcmp(a, "--data")) o->data = v;
    else if (!strcmp(a, "--json")) o->json = v;
    else if (!strcmp(a, "--norm")) {
      have_norm = 1;
      if (arg_norm("bounds", v, &o->norm)) return EXIT_USAGE;
    } else if (!strcmp(a, "--eps")) {
      if (arg_eps("bounds", "--eps", v, &o->eps)) return EXIT_USAGE;
      have_eps = 1;
    } else if (!strcmp(a, "--method")) {
      if (!bounds_method_parse(v, &o->method) || cb_method_table[o->method].box_only)
        return report_usage("bounds", "unknown method '%s' (ibp, crown, crown-ibp or alpha-crown)", v);
    } else if (!strcmp(a, "--clip")) {
      if (arg_clip("bounds", v, &o->clip_lo, &o->clip_hi)) return EXIT_USAGE;
      o->clip = 1;
    } else if (!strcmp(a, "--rows")) {
      if (arg_rows("bounds", v, &o->r0, &o->r1)) return EXIT_USAGE;
    } else if (a[0] == '-') return report_usage("bounds", "unknown option %s", a);
    else if (o->net) return report_usage("bounds", "unexpected argument %s", a);
    else { o->net = a; continue; }
    i++;
  }
  if (!o->net) return report_usage("bounds", "%s", "missing NET");
  if (!o->data) return report_usage("bounds", "%s", "missing --data CSV");
  if (!have_norm) return report_usage("bounds", "%s", "missing --norm inf|2|1");
  if (!have_eps) return report_usage("bounds", "%s", "missing --eps E");
  return 0;
}

/* Bounds of one sample into r (r->lb etc. preallocated). */
static void run_one(const cb_bnet *bn, const opts *o, const double *x, int label, size_t no, result *r)
{
  const cb_net *net = bn->net;
  size_t n = cb_net_input_size(net);
  double *lo = NULL, *hi = NULL, *I = cb_calloc(no * no, sizeof *I), *C = cb_calloc(no * no, sizeof *C);
  cb_set s = {o->norm, o->eps, n, x, NULL, NULL};
  cb_ws *ws = NULL;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  r->status = CB_ENOMEM;
  if (cb_time_up()) { r->status = cb_limit_error(&r->err, NULL); goto out; }
  if (!I || !C) { cb_error_set(&r->err, CB_ENOMEM, "out of memory"); goto out; }
  if (o->clip) {
    if (!(lo = cb_alloc(n * sizeof *lo)) || !(hi = cb_alloc(n * sizeof *hi))) { cb_error_set(&r->err, CB_ENOMEM, "out of memory"); goto out; }
    for (size_t j = 0; j < n; j++) { lo[j] = o->clip_lo; hi[j] = o->clip_hi; }
    s.lo = lo; s.hi = hi;
  }
  for (size_t k = 0; k < no; k++) I[k * no + k] = 1;
  for (size_t k = 0, j = 0; j < no; j++) if (j != (size_t)label) { C[k * no + (size_t)label] = 1; C[k * no + j] = -1; k++; }
  if ((r->status = cb_net_forward(net, x, 1, r->logits, &r->err)) != CB_OK) goto out;
  if (!(ws = ws_new(bn, &s, &r->err))) { r->status = r->err.status; goto out; }
  if ((r->status = bounds_run(ws, o->method, &r->err)) != CB_OK ||
      (r->status = bounds_spec(ws, I, no, r->lb, r->ub, &r->err)) != CB_OK ||
      (r->status = bounds_spec(ws, C, no - 1, r->mlb, NULL, &r->err)) != CB_OK) goto out;
  r->verified = 1;
  for (size_t k = 0; k + 1 < no; k++) if (!(r->mlb[k] > 0)) r->verified = 0;
out:
  if (r->status == CB_ELIMIT && !cb_mem_limit_hit()) { r->timeout = 1; r->verified = 0; r->status = CB_OK; }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  r->ms = 1e3 * (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - t0.tv_nsec);
  ws_free(ws);
  cb_free(I); cb_free(C); cb_free(lo); cb_free(hi);
}

static cJSON *sample_json(size_t row, int label, size_t no, const result *r)
{
  cJSON *s = cJSON_CreateObject(), *mc = cJSON_CreateArray();
  cJSON_AddNumberToObject(s, "index", (double)row);
  cJSON_AddNumberToObject(s, "label", label);
  if (r->timeout) cJSON_AddNullToObject(s, "logits");  /* the row may not have started */
  else cJSON_AddItemToObject(s, "logits", cJSON_CreateDoubleArray(r->logits, (int)no));
  for (size_t j = 0; j < no; j++) if (j != (size_t)label) cJSON_AddItemToArray(mc, cJSON_CreateNumber((double)j));
  cJSON_AddItemToObject(s, "margin_classes", mc);
  if (r->timeout) {
    cJSON_AddNullToObject(s, "logit_lb"); cJSON_AddNullToObject(s, "logit_ub"); cJSON_AddNullToObject(s, "margin_lb");
  } else {
    cJSON_AddItemToObject(s, "logit_lb", cJSON_CreateDoubleArray(r->lb, (int)no));
    cJSON_AddItemToObject(s, "logit_ub", cJSON_CreateDoubleArray(r->ub, (int)no));
    cJSON_AddItemToObject(s, "margin_lb", cJSON_CreateDoubleArray(r->mlb, (int)no - 1));
  }
  cJSON_AddBoolToObject(s, "verified", r->verified);
  cJSON_AddBoolToObject(s, "timeout", r->timeout);
  cJSON_AddNumberToObject(s, "time_ms", r->ms);
  return s;
}

static cJSON *top_json(const opts *o, size_t rows, int nver, int nto)
{
  cJSON *t = cJSON_CreateObject();
  cJSON_AddStringToObject(t, "command", "bounds");
  cJSON_AddStringToObject(t, "version", CB_VERSION);
  cJSON_AddStringToObject(t, "net", o->net);
  cJSON_AddStringToObject(t, "data", o->data);
  cJSON_AddStringToObject(t, "norm", norm_name(o->norm));
  cJSON_AddNumberToObject(t, "eps", o->eps);
  cJSON_AddStringToObject(t, "method", bounds_method_name(o->method));
  if (o->clip) { double c[2] = {o->clip_lo, o->clip_hi}; cJSON_AddItemToObject(t, "clip", cJSON_CreateDoubleArray(c, 2)); }
  else cJSON_AddNullToObject(t, "clip");
  cJSON_AddNumberToObject(t, "n_samples", (double)rows);
  cJSON_AddNumberToObject(t, "n_verified", nver);
  cJSON_AddNumberToObject(t, "n_timeout", nto);
  return t;
}

/* Runs every selected row (OpenMP over samples); fills res[]. */
static int run_all(const cb_bnet *bn, const opts *o, const cb_data *d, size_t r0, size_t r1, size_t no, result *res, cb_error *err)
{
  long n = (long)(r1 - r0);
  args_ball ball = {o->norm, o->eps, o->clip, o->clip_lo, o->clip_hi};
  int rc = args_check_rows(d, o->data, r0, r1, no, &ball, err);
  if (rc != CB_OK) return rc;
  la_set_threads(1);
#pragma omp parallel for schedule(dynamic, 1)
  for (long k = 0; k < n; k++)
    run_one(bn, o, cb_data_x(d, r0 + (size_t)k), cb_data_label(d, r0 + (size_t)k), no, &res[k]);
  for (long k = 0; k < n; k++)
    if (res[k].status != CB_OK) { *err = res[k].err; return res[k].status; }
  return CB_OK;
}

static int alloc_results(result *res, size_t n, size_t no)
{
  for (size_t k = 0; k < n; k++) {
    res[k].logits = cb_calloc(4 * no, sizeof(double));
    if (!res[k].logits) return CB_ENOMEM;
    res[k].lb = res[k].logits + no; res[k].ub = res[k].lb + no; res[k].mlb = res[k].ub + no;
  }
  return CB_OK;
}

static int bounds_cmd(const opts *o, cb_error *err)
{
  cb_net *net = NULL;
  cb_data *d = NULL;
  cb_bnet bn = {0};
  result *res = NULL;
  cJSON *top = NULL, *samples;
  size_t r0, r1, no;
  int rc, nver = 0, nto = 0;
  if ((rc = cb_net_load(o->net, &net, err)) != CB_OK) goto out;
  if ((rc = cb_data_load_csv(o->data, cb_net_input_size(net), &d, err)) != CB_OK) goto out;
  no = cb_net_output_size(net);
  r0 = (size_t)o->r0;
  r1 = o->r1 < 0 ? cb_data_rows(d) : (size_t)o->r1;
  if (r1 > cb_data_rows(d) || no < 2) {
    rc = cb_error_set(err, CB_EUSAGE, no < 2 ? "%s: margins need at least 2 outputs" : "%s: --rows goes past the last row",
                      no < 2 ? o->net : o->data);
    goto out;
  }
  if ((rc = bnet_init(&bn, net, err)) != CB_OK) goto out;
  if (!(res = cb_calloc(r1 - r0 + 1, sizeof *res)) || alloc_results(res, r1 - r0, no) != CB_OK) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  if ((rc = run_all(&bn, o, d, r0, r1, no, res, err)) != CB_OK) goto out;
  for (size_t k = 0; k < r1 - r0; k++) { nver += res[k].verified; nto += res[k].timeout; }
  if (o->json) {
    top = top_json(o, r1 - r0, nver, nto);
    samples = cJSON_AddArrayToObject(top, "samples");
    for (size_t k = 0; k < r1 - r0; k++) cJSON_AddItemToArray(samples, sample_json(r0 + k, cb_data_label(d, r0 + k), no, &res[k]));
    if ((rc = report_write_json(o->json, top, err)) != CB_OK) goto out;
  }
  for (size_t k = 0; k < r1 - r0 && !o->quiet; k++) {
    double m = res[k].mlb[0];
    if (res[k].timeout) { printf("row %zu: label %d  timeout\n", r0 + k, cb_data_label(d, r0 + k)); continue; }
    for (size_t j = 1; j + 1 < no; j++) m = fmin(m, res[k].mlb[j]);
    printf("row %zu: label %d  min margin lower bound %+.6g  %s  (%.2f ms)\n", r0 + k, cb_data_label(d, r0 + k), m,
           res[k].verified ? "verified" : "not verified", res[k].ms);
  }
  printf("%s, %s ball eps %g: %d of %zu rows verified", bounds_method_name(o->method), norm_name(o->norm), o->eps, nver, r1 - r0);
  printf(nto ? ", %d timed out (--timeout)\n" : "\n", nto);
out:
  cJSON_Delete(top);
  if (res) for (size_t k = 0; k < r1 - r0 + 1 && res[k].logits; k++) cb_free(res[k].logits);
  cb_free(res);
  bnet_free(&bn);
  cb_data_free(d);
  cb_net_free(net);
  return rc;
}

int cmd_bounds(int argc, char **argv)
{
  opts o;
  cb_error err = {0};
  int rc = parse(argc, argv, &o);
  if (rc != 0) return rc < 0 ? 0 : rc;
  if (bounds_cmd(&o, &err) != CB_OK) return report_fail(&err);
  return 0;
}
