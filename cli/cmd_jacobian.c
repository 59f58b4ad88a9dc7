/*
** `cerbere jacobian`: per CSV row, the exact gradient of every margin
** f_label - f_j (lip/grad.c) and, over an Lp ball, the interval Jacobian of
** the margins, their local Lipschitz constants, the operator norm of the
** logits' interval Jacobian and the certified radius from local Lipschitz
** constants (lip/jacobian.c, certify/radius.c).  Samples run in parallel
** (batch.h: OpenMP, BLAS single-threaded inside); output is written only
** when every row succeeded.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "batch.h"
#include "cmd.h"
#include "grad.h"
#include "jacobian.h"
#include "liplocal.h"
#include "radius.h"
#include "report.h"

static const char *usage =
  "usage: cerbere jacobian NET --data FILE [--norm inf|2|1 --eps E] [--bounds crown|ibp]\n"
  "                        [--rows A:B] [--steps N] [--bracket [--nodes N] [--shells K]]\n"
  "                        [--json OUT] [--quiet] [--max-memory M]\n"
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
  BATCH_DATA_HELP
  "  --norm P      ball norm: inf, 2 or 1 (needs --eps)\n"
  "  --eps E       ball radius, a finite number >= 0 (needs --norm)\n"
  "  --bounds B    pre-activation bounds of each ball: crown (default, tighter) or ibp\n"
  "  --rows A:B    only rows A..B-1 (0-based)\n"
  "  --steps N     balls the radius search may bound (default 16; 0 = global radius only)\n"
  "  --bracket     (with --eps) per margin, a bracket of its Lipschitz constant on the\n"
  "                ball: upper (branch and bound on the signs of the ReLU-type neurons\n"
  "                unstable over the ball, interval Jacobian per sign pattern), lower\n"
  "                (a certified secant |f(y) - f(x)| / ||y - x|| in exact arithmetic\n"
  "                between two points of the ball: x the best of the centre and 32\n"
  "                random points, y a small step along its gradient), gap, nodes,\n"
  "                point (x), point_y (y; both null when lower is 0); and the radius\n"
  "                search uses the tightened constants and adds the shell radius: the\n"
  "                ray from the row crosses K nested balls of radii k u / K (u = the\n"
  "                radius the row's own gradient allows), each paying its own constant\n"
  "  --nodes N     sign-split nodes per margin and ball (default 256 with --bracket: the\n"
  "                least of 64/128/256 giving 1.3x the plain radius on digits_mlp)\n"
  "  --shells K    nested balls of the shell radius (default 16 with --bracket; 0: off)\n"
  "  --json OUT    {command, version, net, data, norm, eps, bounds, K_global, n_samples,\n"
  "                samples: [{index, label, pred, logits, margin_classes, margins,\n"
  "                gradient, jacobian_lb, jacobian_ub, local_lipschitz,\n"
  "                local_lipschitz_interval, local_lipschitz_logits, lipschitz_operator,\n"
  "                certified_radius_local, with --bracket bracket: [{upper, lower,\n"
  "                grad_norm, gap, nodes, unstable, point, point_y}] per margin and\n"
  "                certified_radius_shell,\n"
  "                certified_radius_global, radius_evals, time_ms}]}; gradient and\n"
  "                jacobian_* are [margin row][input] arrays; ball fields only with --eps\n"
  "  --quiet       print only the summary line\n"
  "  --max-memory M  cap the analysis' own arrays at M MiB (default: the machine's\n"
  "                RAM): past it, error 'memory limit of M MiB reached', exit 5\n";

typedef struct opts {
  const char *net, *data, *json;
  cb_norm norm;
  double eps;
  int ball, quiet, steps, bracket, shells;
  long nodes;
  cb_method method;
  long r0, r1;
} opts;

typedef struct result {
  double *logits, *margin, *grad;            /* no, no - 1, (no - 1) x n */
  double *jlo, *jhi, *L, *Lint, *Lout;       /* (no - 1) x n twice, no - 1 twice, no */
  liplocal_result *br;                       /* --bracket: no - 1 */
  double *bpt;                               /* --bracket: (no - 1) x 2n, the two points of each lower */
  double op, ms;
  radius_lip rad;
  int status;
  cb_error err;
} result;

/* One option with value v; returns -1 if handled, else an exit code. */
static int parse_value(const char *a, const char *v, opts *o, int *have_norm, int *have_eps)
{
  char *e;
  if (!strcmp(a, "--data")) o->data = v;
  else if (!strcmp(a, "--json")) o->json = v;
  else if (!strcmp(a, "--norm")) {
    *have_norm = 1;
    if (arg_norm("jacobian", v, &o->norm)) return EXIT_USAGE;
  } else if (!strcmp(a, "--eps")) {
    if (arg_eps("jacobian", "--eps", v, &o->eps)) return EXIT_USAGE;
    *have_eps = 1;
  } else if (!strcmp(a, "--bounds")) {
    if (!bounds_method_parse(v, &o->method) || (o->method != CB_IBP && o->method != CB_CROWN))
      return report_usage("jacobian", "unknown bounds '%s' (crown or ibp)", v);
  } else if (!strcmp(a, "--max-memory")) {
    int r2 = report_limit_option("jacobian", a, v);
    if (r2) return r2;
  } else if (!strcmp(a, "--rows")) {
    if (arg_rows("jacobian", v, &o->r0, &o->r1)) return EXIT_USAGE;
  } else if (!strcmp(a, "--steps")) {
    long s = strtol(v, &e, 10);
    if (e == v || *e || s < 0 || s > 60) return report_usage("jacobian", "--steps wants 0..60, not '%s'", v);
    o->steps = (int)s;
  } else if (!strcmp(a, "--nodes")) {
    long s = strtol(v, &e, 10);
    if (e == v || *e || s < 1 || s > 100000000) return report_usage("jacobian", "--nodes wants 1..100000000, not '%s'", v);
    o->nodes = s;
  } else if (!strcmp(a, "--shells")) {
    long s = strtol(v, &e, 10);
    if (e == v || *e || s < 0 || s > 4096) return report_usage("jacobian", "--shells wants 0..4096, not '%s'", v);
    o->shells = (int)s;
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
  o->nodes = -1;
  o->shells = -1;
  o->r1 = -1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage, stdout); return -1; }
    if (!strcmp(a, "--quiet")) { o->quiet = 1; continue; }
    if (!strcmp(a, "--bracket")) { o->bracket = 1; continue; }
    if (a[0] != '-') {
      if (o->net) return report_usage("jacobian", "unexpected argument %s", a);
      o->net = a;
      continue;
    }
    if (i + 1 >= argc) return report_usage("jacobian", "%s needs a value", a);
    if ((rc = parse_value(a, argv[++i], o, &have_norm, &have_eps)) >= 0) return rc;
  }
  if (!o->net) return report_usage("jacobian", "%s", "missing NET");
  if (!o->data) return report_usage("jacobian", "%s", "missing --data FILE");
  if (have_norm != have_eps) return report_usage("jacobian", "%s", "--norm and --eps go together");
  o->ball = have_eps;
  if (!o->bracket && (o->nodes >= 0 || o->shells >= 0)) return report_usage("jacobian", "%s", "--nodes and --shells go with --bracket");
  if (o->bracket && !o->ball) return report_usage("jacobian", "%s", "--bracket needs --norm and --eps (a ball)");
  if (o->nodes < 0) o->nodes = 256;   /* bench/RESULTS_lip.md: 128 gives 1.29x on digits_mlp, 256 1.31x */
  if (o->shells < 0) o->shells = 16;
  return 0;
}

/* The ball part of one row: bounds, then the interval Jacobian of the
   margins and logits (jac_ball_margins), then the radius (radius_lip_search). */
static int ball_one(const cb_bnet *bn, const lip_result *lr, const opts *o, const double *x, int label, result *r)
{
  cb_set s = {o->norm, o->eps, cb_net_input_size(bn->net), x, NULL, NULL};
  cb_ws *ws = NULL;
  jac_ball jb = {r->jlo, r->jhi, r->L, r->Lint, r->Lout, 0};
  radius_lip_opts ro;
  int rc;
  if (!(ws = ws_new(bn, &s, &r->err))) return r->err.status;
  if ((rc = bounds_run(ws, o->method, &r->err)) == CB_OK && (rc = jac_ball_margins(ws, label, lr, &jb, &r->err)) == CB_OK) {
    r->op = jb.op;
    if (o->bracket) {
      liplocal_opts lo;
      liplocal_opts_init(&lo);
      lo.max_nodes = o->nodes;
      if ((rc = liplocal_margins(ws, label, lr, &lo, r->br, r->bpt, &r->err)) != CB_OK) goto out;
      for (size_t j = 0; j + 1 < cb_net_output_size(bn->net); j++) r->L[j] = fmin(r->L[j], r->br[j].upper);
    }
    radius_lip_opts_init(&ro);
    ro.method = o->method;
    ro.steps = o->steps;
    if (o->bracket) { ro.nodes = o->nodes; ro.shells = o->shells; }
    rc = radius_lip_search(bn, lr, x, label, &ro, &r->rad, &r->err);
  }
out:
  ws_free(ws);
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
  if (o->ball) r->status = ball_one(bn, lr, o, x, label, r);
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

static cJSON *sample_json(const batch *b, size_t k, const opts *o, const result *r)
{
  cJSON *s = batch_json_sample(b, k), *mc = cJSON_CreateArray();
  size_t no = b->n_out, n = b->n_in;
  int label = batch_label(b, k);
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
    if (o->bracket) {
      cJSON *a = cJSON_AddArrayToObject(s, "bracket");
      for (size_t j = 0; j + 1 < no; j++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "upper", r->br[j].upper);
        cJSON_AddNumberToObject(e, "lower", r->br[j].lower);
        cJSON_AddNumberToObject(e, "grad_norm", r->br[j].grad_norm);
        cJSON_AddNumberToObject(e, "gap", r->br[j].gap);
        cJSON_AddNumberToObject(e, "nodes", (double)r->br[j].nodes);
        cJSON_AddNumberToObject(e, "unstable", r->br[j].unstable);
        cJSON_AddItemToObject(e, "point", r->br[j].attained ? cJSON_CreateDoubleArray(r->bpt + 2 * j * n, (int)n) : cJSON_CreateNull());
        cJSON_AddItemToObject(e, "point_y", r->br[j].attained ? cJSON_CreateDoubleArray(r->bpt + (2 * j + 1) * n, (int)n) : cJSON_CreateNull());
        cJSON_AddItemToArray(a, e);
      }
      cJSON_AddNumberToObject(s, "certified_radius_shell", r->rad.radius_shell);
    }
  }
  cJSON_AddNumberToObject(s, "time_ms", r->ms);
  return s;
}

static cJSON *top_json(const batch *b, const opts *o, const lip_result *lr)
{
  cJSON *t = batch_json_top(b, "jacobian");
  if (o->ball) {
    cJSON_AddStringToObject(t, "norm", cb_norm_table[o->norm].name);
    cJSON_AddNumberToObject(t, "eps", o->eps);
    cJSON_AddStringToObject(t, "bounds", bounds_method_name(o->method));
    cJSON_AddNumberToObject(t, "K_global", fmin(lr->K_layerwise, lr->K_merged));
  } else {
    cJSON_AddNullToObject(t, "norm");
    cJSON_AddNullToObject(t, "eps");
  }
  cJSON_AddNumberToObject(t, "n_samples", (double)b->n);
  return t;
}

/* Allocates every row's arrays in one block per row. */
static int alloc_results(result *res, size_t rows, size_t no, size_t n)
{
  size_t m = no - 1, per = no + m + m * n + 2 * m * n + 2 * m + no + 2 * m * n;
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
    r->bpt = r->Lout + no;
    if (!(r->br = cb_calloc(m, sizeof *r->br))) return CB_ENOMEM;
  }
  return CB_OK;
}

static void print_rows(const opts *o, const batch *b, const result *res)
{
  size_t no = b->n_out, n = b->n_in;
  for (size_t k = 0; k < b->n && !o->quiet; k++) {
    const result *r = &res[k];
    double gmax = 0, lmax = 0;
    for (size_t j = 0; j + 1 < no; j++) {
      double s = 0;
      for (size_t i = 0; i < n; i++) { double g = fabs(r->grad[j * n + i]); s = o->norm == CB_NORM_2 ? s + g * g : o->norm == CB_NORM_1 ? fmax(s, g) : s + g; }
      gmax = fmax(gmax, o->norm == CB_NORM_2 ? sqrt(s) : s);
      lmax = fmax(lmax, r->L[j]);
    }
    printf("row %zu: label %d pred %zu  max |grad margin|_* %.6g", b->r0 + k, batch_label(b, k), cb_argmax(r->logits, no), gmax);
    if (o->ball) printf("  local L <= %.6g  certified radius %.6g (global %.6g)", lmax, r->rad.radius, r->rad.radius_global);
    printf("  (%.2f ms)\n", r->ms);
  }
}

/* One row of the batch (batch_run): its gradient and ball into res[k]. */
typedef struct run_ctx { const batch *b; const cb_bnet *bn; const lip_result *lr; const opts *o; result *res; } run_ctx;

static int row_jacobian(void *ctx, void *state, size_t k, cb_error *err)
{
  run_ctx *c = ctx;
  result *r = &c->res[k];
  (void)state;
  run_one(c->bn, c->lr, c->o, batch_x(c->b, k), batch_label(c->b, k), c->b->n_out, r);
  if (r->status != CB_OK) *err = r->err;
  return r->status;
}

static int jacobian_cmd(const opts *o, cb_error *err)
{
  batch b = {0};
  cb_bnet bn = {0};
  lip_result *lr = NULL;
  result *res = NULL;
  cJSON *top = NULL, *samples;
  batch_ball ball = {o->norm, o->eps, 0, 0, 0};
  batch_rows sel = {o->r0, o->r1, 1, o->ball ? &ball : NULL};
  double rsum = 0;
  int rc;
  if ((rc = batch_load_net(&b, o->net, err)) != CB_OK || (rc = batch_load_rows(&b, o->data, &sel, err)) != CB_OK) goto out;
  if ((rc = bnet_init(&bn, b.net, err)) != CB_OK) goto out;
  if (o->ball) {
    lip_opts lo;
    lip_opts_init(&lo);
    lo.norm = o->norm;
    if ((rc = lip_analyze(b.net, &lo, &lr, err)) != CB_OK) goto out;
  }
  if (!(res = cb_calloc(b.n + 1, sizeof *res)) || alloc_results(res, b.n, b.n_out, b.n_in) != CB_OK) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  {
    run_ctx c = {&b, &bn, lr, o, res};
    batch_loop L = {.row = row_jacobian, .ctx = &c};
    if ((rc = batch_run(&b, &L, err)) != CB_OK) goto out;
  }
  if (o->json) {
    top = top_json(&b, o, lr);
    samples = cJSON_AddArrayToObject(top, "samples");
    for (size_t k = 0; k < b.n; k++) cJSON_AddItemToArray(samples, sample_json(&b, k, o, &res[k]));
    if ((rc = report_write_json(o->json, top, err)) != CB_OK) goto out;
  }
  print_rows(o, &b, res);
  for (size_t k = 0; k < b.n; k++) rsum += res[k].rad.radius;
  if (o->ball) printf("%zu rows, %s ball eps %g (%s bounds): mean certified radius %.6g\n", b.n, cb_norm_table[o->norm].name, o->eps,
                      bounds_method_name(o->method), b.n ? rsum / (double)b.n : 0.0);
  else printf("%zu rows: gradients of the margins\n", b.n);
out:
  cJSON_Delete(top);
  if (res) for (size_t k = 0; k < b.n && res[k].logits; k++) { cb_free(res[k].logits); cb_free(res[k].br); }
  cb_free(res);
  lip_result_free(lr);
  bnet_free(&bn);
  batch_close(&b);
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
