/*
** `cerbere jacobian`: per CSV row, the exact gradient of every margin
** f_label - f_j (lip/grad.c) and, over an Lp ball, the interval Jacobian of
** the margins, their local Lipschitz constants, the operator norm of the
** logits' interval Jacobian and the certified radius from local Lipschitz
** constants (lip/jacobian.c).  Samples run in parallel (OpenMP, BLAS
** single-threaded inside); output is written only when every row succeeded.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "args.h"
#include "cmd_jacobian.h"
#include "grad.h"
#include "jacobian.h"
#include "linalg.h"
#include "report.h"
#include "round.h"

static const char *usage =
  "usage: cerbere jacobian NET --data CSV [--norm inf|2|1 --eps E] [--bounds crown|ibp]\n"
  "                        [--rows A:B] [--steps N] [--json OUT] [--quiet] [--max-memory M]\n"
  "\n"
  "For each CSV row (label,x0,...): the exact gradient of every margin\n"
  "f_label - f_j (j != label, ascending) at the row (reverse mode; ReLU'(0) = 0\n"
  "as in PyTorch).  With --norm and --eps, over the ball {x : ||x - row||_p <= E}:\n"
  "  - the interval Jacobian of the margins: at every point of the ball every\n"
  "    gradient entry lies in [jacobian_lb, jacobian_ub] (sound, rounding included);\n"
  "  - local_lipschitz: per margin, a bound of its Lipschitz constant on the ball:\n"
  "    min over cut nodes h of max ||interval gradient w.r.t. node h||_* x K(input->h),\n"
  "    so never above the global ||e_y - e_j||_* K (local_lipschitz_interval: the\n"
  "    input cut alone, i.e. the dual norm of the interval Jacobian's row);\n"
  "  - local_lipschitz_logits: the same per logit, and lipschitz_operator: a bound\n"
  "    of the p->p operator norm of the logits' Jacobian over the ball (<= K);\n"
  "  - certified_radius_local: a radius r such that the label provably holds on\n"
  "    the p-ball of radius r: a ball of radius e certifies min(e, min_j\n"
  "    margin_j(row) / L_j(e)); a search over e (Illinois regula falsi on log e,\n"
  "    to 1e-3 relative) keeps the best, never below the global-Lipschitz radius.\n"
  "\n"
  "  --norm P      ball norm: inf, 2 or 1 (needs --eps)\n"
  "  --eps E       ball radius, a finite number >= 0 (needs --norm)\n"
  "  --bounds B    pre-activation bounds of each ball: crown (default, tighter) or ibp\n"
  "  --rows A:B    only rows A..B-1 (0-based)\n"
  "  --steps N     balls the radius search may bound (default 16; 0 = global radius only)\n"
  "  --json OUT    {command, version, net, data, norm, eps, bounds, K_global, n_samples,\n"
  "                samples: [{index, label, pred, logits, margin_classes, margins,\n"
  "                gradient, jacobian_lb, jacobian_ub, local_lipschitz,\n"
  "                local_lipschitz_interval, local_lipschitz_logits, lipschitz_operator,\n"
  "                certified_radius_local,\n"
  "                certified_radius_global, radius_evals, time_ms}]}; gradient and\n"
  "                jacobian_* are [margin row][input] arrays; ball fields only with --eps\n"
  "  --quiet       print only the summary line\n"
  "  --max-memory M  cap the analysis' own arrays at M MiB (default: the machine's\n"
  "                RAM): past it, error 'memory limit of M MiB reached', exit 5\n";

typedef struct opts {
  const char *net, *data, *json;
  cb_norm norm;
  double eps;
  int ball, quiet, steps;
  cb_method method;
  long r0, r1;
} opts;

typedef struct result {
  double *logits, *margin, *grad;            /* no, no - 1, (no - 1) x n */
  double *jlo, *jhi, *L, *Lint, *Lout;       /* (no - 1) x n twice, no - 1 twice, no */
  double op, ms;
  jac_radius rad;
  int status;
  cb_error err;
} result;

static int parse_pair(const char *s, double *a, double *b)
{
  char *e;
  *a = strtod(s, &e);
  if (e == s || *e != ':') return 0;
  s = e + 1;
  *b = strtod(s, &e);
  return e != s && !*e;
}

/* One option with value v; returns -1 if handled, else an exit code. */
static int parse_value(const char *a, const char *v, opts *o, int *have_norm, int *have_eps)
{
  char *e;
  double x, y;
  if (!strcmp(a, "--data")) o->data = v;
  else if (!strcmp(a, "--json")) o->json = v;
  else if (!strcmp(a, "--norm")) {
    *have_norm = 1;
    if (!strcmp(v, "inf")) o->norm = CB_NORM_INF;
    else if (!strcmp(v, "2")) o->norm = CB_NORM_2;
    else if (!strcmp(v, "1")) o->norm = CB_NORM_1;
    else return report_usage("jacobian", "unknown norm '%s' (inf, 2 or 1)", v);
  } else if (!strcmp(a, "--eps")) {
    o->eps = strtod(v, &e);
    if (e == v || *e || !(o->eps >= 0) || !isfinite(o->eps)) return report_usage("jacobian", "--eps must be a finite number >= 0, not '%s'", v);
    *have_eps = 1;
  } else if (!strcmp(a, "--bounds")) {
    if (!bounds_method_parse(v, &o->method) || (o->method != CB_IBP && o->method != CB_CROWN))
      return report_usage("jacobian", "unknown bounds '%s' (crown or ibp)", v);
  } else if (!strcmp(a, "--max-memory")) {
    int r2 = report_limit_option("jacobian", a, v);
    if (r2) return r2;
  } else if (!strcmp(a, "--rows")) {
    if (!parse_pair(v, &x, &y) || x < 0 || y < x || x != floor(x) || y != floor(y))
      return report_usage("jacobian", "--rows wants A:B with 0 <= A <= B, not '%s'", v);
    o->r0 = (long)x; o->r1 = (long)y;
  } else if (!strcmp(a, "--steps")) {
    long s = strtol(v, &e, 10);
    if (e == v || *e || s < 0 || s > 60) return report_usage("jacobian", "--steps wants 0..60, not '%s'", v);
    o->steps = (int)s;
  } else return report_usage("jacobian", "unknown option %s", a);
  return -1;
}

/* Returns 0 to run, -1 after --help, else the exit code. */
static int parse(int argc, char **argv, opts *o)
{
  int have_norm = 0, have_eps = 0, rc;
  memset(o, 0, sizeof *o);
  o->method = CB_CROWN;
  o->steps = 16;
  o->r1 = -1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage, stdout); return -1; }
    if (!strcmp(a, "--quiet")) { o->quiet = 1; continue; }
    if (a[0] != '-') {
      if (o->net) return report_usage("jacobian", "unexpected argument %s", a);
      o->net = a;
      continue;
    }
    if (i + 1 >= argc) return report_usage("jacobian", "%s needs a value", a);
    if ((rc = parse_value(a, argv[++i], o, &have_norm, &have_eps)) >= 0) return rc;
  }
  if (!o->net) return report_usage("jacobian", "%s", "missing NET");
  if (!o->data) return report_usage("jacobian", "%s", "missing --data CSV");
  if (have_norm != have_eps) return report_usage("jacobian", "%s", "--norm and --eps go together");
  o->ball = have_eps;
  return 0;
}

static lip_norm lip_norm_of(cb_norm n) { return n == CB_NORM_INF ? LIP_NORM_INF : n == CB_NORM_2 ? LIP_NORM_2 : LIP_NORM_1; }

/* The ball part of one row: interval Jacobian of [margins; logits], L, operator norm, radius. */
static int ball_one(const cb_bnet *bn, const lip_result *lr, const opts *o, const double *x, int label,
                    size_t no, result *r)
{
  const cb_net *net = bn->net;
  size_t n = cb_net_input_size(net), q = 2 * no - 1;
  double *C = cb_calloc(q * no + 2 * q * n + q, sizeof *C), *lo, *hi, *Lq;
  cb_set s = {o->norm, o->eps, n, x, NULL, NULL};
  cb_ws *ws = NULL;
  jac_radius_opts ro;
  int rc;
  if (!C) { rc = cb_error_set(&r->err, CB_ENOMEM, "out of memory"); goto out; }
  lo = C + q * no;
  hi = lo + q * n;
  Lq = hi + q * n;
  jac_margin_rows(no, label, C);
  for (size_t k = 0; k < no; k++) C[(no - 1 + k) * no + k] = 1;
  if (!(ws = ws_new(bn, &s, &r->err))) { rc = r->err.status; goto out; }
  if ((rc = bounds_run(ws, o->method, &r->err)) != CB_OK || (rc = jac_interval_lip(ws, C, q, lr, lo, hi, Lq, &r->err)) != CB_OK ||
      (rc = jac_op_norm(lo + (no - 1) * n, hi + (no - 1) * n, no, n, o->norm, &r->op, &r->err)) != CB_OK) goto out;
  memcpy(r->jlo, lo, (no - 1) * n * sizeof *lo);
  memcpy(r->jhi, hi, (no - 1) * n * sizeof *hi);
  jac_row_lipschitz(lo, hi, no - 1, n, o->norm, r->Lint);
  memcpy(r->L, Lq, (no - 1) * sizeof *Lq);
  memcpy(r->Lout, Lq + no - 1, no * sizeof *Lq);
  r->op = fmin(r->op, round_next_up(fmin(lr->K_layerwise, lr->K_merged)));
  jac_radius_opts_init(&ro);
  ro.method = o->method;
  ro.steps = o->steps;
  if (o->steps == 0) {
    lip_sample ls;
    if ((rc = lip_certify(net, lr, x, label, &ls, &r->err)) == CB_OK) r->rad.radius = r->rad.radius_global = ls.radius_pairwise;
  } else rc = jac_certify_radius(bn, lr, x, label, &ro, &r->rad, &r->err);
out:
  ws_free(ws);
  cb_free(C);
  return rc;
}

/* One row: gradient at the point, then the ball part. */
static void run_one(const cb_bnet *bn, const lip_result *lr, const opts *o, const double *x, int label, size_t no, result *r)
{
  const cb_net *net = bn->net;
  double *C = cb_calloc((no - 1) * no, sizeof *C);
  cb_grad *g = grad_new(net, no - 1, &r->err);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (!C || !g) { r->status = cb_error_set(&r->err, CB_ENOMEM, "out of memory"); goto out; }
  jac_margin_rows(no, label, C);
  if ((r->status = grad_eval(g, x, C, no - 1, r->grad, r->logits, &r->err)) != CB_OK) goto out;
  for (size_t k = 0, j = 0; j < no; j++) if (j != (size_t)label) r->margin[k++] = r->logits[label] - r->logits[j];
  if (o->ball) r->status = ball_one(bn, lr, o, x, label, no, r);
out:
  clock_gettime(CLOCK_MONOTONIC, &t1);
  r->ms = 1e3 * (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - t0.tv_nsec);
  grad_free(g);
  cb_free(C);
}

/* A [rows x cols] matrix as a JSON array of arrays. */
static cJSON *matrix_json(const double *A, size_t rows, size_t cols)
{
  cJSON *a = cJSON_CreateArray();
  for (size_t r = 0; r < rows; r++) cJSON_AddItemToArray(a, cJSON_CreateDoubleArray(A + r * cols, (int)cols));
  return a;
}

static cJSON *sample_json(size_t row, int label, size_t no, size_t n, const opts *o, const result *r)
{
  cJSON *s = cJSON_CreateObject(), *mc = cJSON_CreateArray();
  cJSON_AddNumberToObject(s, "index", (double)row);
  cJSON_AddNumberToObject(s, "label", label);
  cJSON_AddNumberToObject(s, "pred", (double)cb_argmax(r->logits, no));
  cJSON_AddItemToObject(s, "logits", cJSON_CreateDoubleArray(r->logits, (int)no));
  for (size_t j = 0; j < no; j++) if (j != (size_t)label) cJSON_AddItemToArray(mc, cJSON_CreateNumber((double)j));
  cJSON_AddItemToObject(s, "margin_classes", mc);
  cJSON_AddItemToObject(s, "margins", cJSON_CreateDoubleArray(r->margin, (int)no - 1));
  cJSON_AddItemToObject(s, "gradient", matrix_json(r->grad, no - 1, n));
  if (o->ball) {
    cJSON_AddItemToObject(s, "jacobian_lb", matrix_json(r->jlo, no - 1, n));
    cJSON_AddItemToObject(s, "jacobian_ub", matrix_json(r->jhi, no - 1, n));
    cJSON_AddItemToObject(s, "local_lipschitz", cJSON_CreateDoubleArray(r->L, (int)no - 1));
    cJSON_AddItemToObject(s, "local_lipschitz_interval", cJSON_CreateDoubleArray(r->Lint, (int)no - 1));
    cJSON_AddItemToObject(s, "local_lipschitz_logits", cJSON_CreateDoubleArray(r->Lout, (int)no));
    cJSON_AddNumberToObject(s, "lipschitz_operator", r->op);
    cJSON_AddNumberToObject(s, "certified_radius_local", r->rad.radius);
    cJSON_AddNumberToObject(s, "certified_radius_global", r->rad.radius_global);
    cJSON_AddNumberToObject(s, "radius_evals", r->rad.evals);
  }
  cJSON_AddNumberToObject(s, "time_ms", r->ms);
  return s;
}

static cJSON *top_json(const opts *o, size_t rows, const lip_result *lr)
{
  cJSON *t = cJSON_CreateObject();
  cJSON_AddStringToObject(t, "command", "jacobian");
  cJSON_AddStringToObject(t, "version", CB_VERSION);
  cJSON_AddStringToObject(t, "net", o->net);
  cJSON_AddStringToObject(t, "data", o->data);
  if (o->ball) {
    cJSON_AddStringToObject(t, "norm", norm_name(o->norm));
    cJSON_AddNumberToObject(t, "eps", o->eps);
    cJSON_AddStringToObject(t, "bounds", bounds_method_name(o->method));
    cJSON_AddNumberToObject(t, "K_global", fmin(lr->K_layerwise, lr->K_merged));
  } else {
    cJSON_AddNullToObject(t, "norm");
    cJSON_AddNullToObject(t, "eps");
  }
  cJSON_AddNumberToObject(t, "n_samples", (double)rows);
  return t;
}

/* Allocates every row's arrays in one block per row. */
static int alloc_results(result *res, size_t rows, size_t no, size_t n)
{
  size_t m = no - 1, per = no + m + m * n + 2 * m * n + 2 * m + no;
  for (size_t k = 0; k < rows; k++) {
    result *r = &res[k];
    if (!(r->logits = cb_calloc(per, sizeof(double)))) return CB_ENOMEM;
    r->margin = r->logits + no;
    r->grad = r->margin + m;
    r->jlo = r->grad + m * n;
    r->jhi = r->jlo + m * n;
    r->L = r->jhi + m * n;
    r->Lint = r->L + m;
    r->Lout = r->Lint + m;
  }
  return CB_OK;
}

static void print_rows(const opts *o, const cb_data *d, size_t r0, size_t rows, size_t no, size_t n, const result *res)
{
  for (size_t k = 0; k < rows && !o->quiet; k++) {
    const result *r = &res[k];
    double gmax = 0, lmax = 0;
    for (size_t j = 0; j + 1 < no; j++) {
      double s = 0;
      for (size_t i = 0; i < n; i++) { double g = fabs(r->grad[j * n + i]); s = o->norm == CB_NORM_2 ? s + g * g : o->norm == CB_NORM_1 ? fmax(s, g) : s + g; }
      gmax = fmax(gmax, o->norm == CB_NORM_2 ? sqrt(s) : s);
      lmax = fmax(lmax, r->L[j]);
    }
    printf("row %zu: label %d pred %zu  max |grad margin|_* %.6g", r0 + k, cb_data_label(d, r0 + k), cb_argmax(r->logits, no), gmax);
    if (o->ball) printf("  local L <= %.6g  certified radius %.6g (global %.6g)", lmax, r->rad.radius, r->rad.radius_global);
    printf("  (%.2f ms)\n", r->ms);
  }
}

static int jacobian_cmd(const opts *o, cb_error *err)
{
  cb_net *net = NULL;
  cb_data *d = NULL;
  cb_bnet bn = {0};
  lip_result *lr = NULL;
  result *res = NULL;
  cJSON *top = NULL, *samples;
  size_t r0 = (size_t)o->r0, r1 = 0, no, n, rows = 0;
  double rsum = 0;
  int rc;
  if ((rc = cb_net_load(o->net, &net, err)) != CB_OK) goto out;
  if ((rc = cb_data_load_csv(o->data, cb_net_input_size(net), &d, err)) != CB_OK) goto out;
  no = cb_net_output_size(net);
  n = cb_net_input_size(net);
  r1 = o->r1 < 0 ? cb_data_rows(d) : (size_t)o->r1;
  if (r1 > cb_data_rows(d) || no < 2) {
    rc = cb_error_set(err, CB_EUSAGE, no < 2 ? "%s: margins need at least 2 outputs" : "%s: --rows goes past the last row",
                      no < 2 ? o->net : o->data);
    goto out;
  }
  rows = r1 - r0;
  {
    args_ball ball = {o->norm, o->eps, 0, 0, 0};
    if ((rc = args_check_rows(d, o->data, r0, r1, no, o->ball ? &ball : NULL, err)) != CB_OK) goto out;
  }
  if ((rc = bnet_init(&bn, net, err)) != CB_OK) goto out;
  if (o->ball) {
    lip_opts lo;
    lip_opts_init(&lo);
    lo.norm = lip_norm_of(o->norm);
    if ((rc = lip_analyze(net, &lo, &lr, err)) != CB_OK) goto out;
  }
  if (!(res = cb_calloc(rows + 1, sizeof *res)) || alloc_results(res, rows, no, n) != CB_OK) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  la_set_threads(1);
#pragma omp parallel for schedule(dynamic, 1)
  for (long k = 0; k < (long)rows; k++)
    run_one(&bn, lr, o, cb_data_x(d, r0 + (size_t)k), cb_data_label(d, r0 + (size_t)k), no, &res[k]);
  for (size_t k = 0; k < rows; k++)
    if (res[k].status != CB_OK) { *err = res[k].err; rc = res[k].status; goto out; }
  if (o->json) {
    top = top_json(o, rows, lr);
    samples = cJSON_AddArrayToObject(top, "samples");
    for (size_t k = 0; k < rows; k++) cJSON_AddItemToArray(samples, sample_json(r0 + k, cb_data_label(d, r0 + k), no, n, o, &res[k]));
    if ((rc = report_write_json(o->json, top, err)) != CB_OK) goto out;
  }
  print_rows(o, d, r0, rows, no, n, res);
  for (size_t k = 0; k < rows; k++) rsum += res[k].rad.radius;
  if (o->ball) printf("%zu rows, %s ball eps %g (%s bounds): mean certified radius %.6g\n", rows, norm_name(o->norm), o->eps,
                      bounds_method_name(o->method), rows ? rsum / (double)rows : 0.0);
  else printf("%zu rows: gradients of the margins\n", rows);
out:
  cJSON_Delete(top);
  if (res) for (size_t k = 0; k < rows && res[k].logits; k++) cb_free(res[k].logits);
  cb_free(res);
  lip_result_free(lr);
  bnet_free(&bn);
  cb_data_free(d);
  cb_net_free(net);
  return rc;
}

int cmd_jacobian(int argc, char **argv)
{
  opts o;
  cb_error err = {0};
  int rc = parse(argc, argv, &o);
  if (rc != 0) return rc < 0 ? 0 : rc;
  if (jacobian_cmd(&o, &err) != CB_OK) return report_fail(&err);
  return 0;
}
