/*
** `cerbere audit`: how trustworthy is an attribution map over a ball?
** Per CSV row, for a method with certified bounds (attr_cert_supported:
** Saliency, Gradient x Input, IG, SmoothGrad, VarGrad, SquareGrad,
** Occlusion, RISE, Grad-CAM, Grad-CAM++; certify/attr.h):
**   map at the row; empirical AverageStability (K neighbours, radius r);
**   certified bounds map_lb <= map(y) <= map_ub for every y of the ball
**   (attr_cert_bounds); the guaranteed maximum change of the map (L1, L2,
**   L-inf); the features certified to stay in the top-k; and `stable` when
**   the whole top-k is certified; then the three-valued verdict of
**   attr_audit (certify/attr_audit.c): stable (certified), unstable (a
**   witness point of the ball whose recomputed map changes the top-k or
**   moves past --threshold, found by sampling the ball and a seeded attack
**   on the attribution) or undecided, with the largest change sampled (the
**   empirical stability) beside the certified maximum change.  Writes DIR/audit.json and the report
**   (DIR/report.json with a run {"command": "audit"}, DIR/report.html).
** Rows run in parallel (batch.h), one attr_ctx per thread; nothing is
** written when a row fails.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "attr_cli.h"
#include "batch.h"
#include "cmd.h"
#include "report.h"
#include "report_doc.h"

static const char *usage =
  "usage: cerbere audit NET --data FILE --method M --norm inf|2|1 --eps E\n"
  "                     --out DIR [--stability-radius R] [--neighbours K] [--topk K] [--clip LO:HI]\n"
  "                     [--threshold T] [--attack-samples N] [--attack-steps S] [--attack-restarts R]\n"
  "                     [method options] [--rows A:B] [--json OUT] [--quiet] [--max-memory M]\n"
  "\n"
  "Audits the attribution map of each CSV row (label,x0,...) over the ball\n"
  "{y : ||y - row||_p <= E} (intersected with [LO,HI]^n with --clip):\n"
  "  map            the attribution at the row (as `cerbere attribute`)\n"
  "  stability      empirical AverageStability (Xplique): mean L2 distance between\n"
  "                 the map and the maps at K neighbours row + U([0, R])^n\n"
  "  map_lb/map_ub  certified bounds: every map over the ball lies inside (sound,\n"
  "                 outward rounded), for M in saliency, gradxinput, ig: the interval\n"
  "                 Jacobian (IG: each path point's ball is the input ball scaled by\n"
  "                 its alpha; random --baselines: boxes holding the moving baseline);\n"
  "                 smoothgrad, vargrad, squaregrad: one interval Jacobian per noisy\n"
  "                 point over the ball shifted by its fixed (seeded) noise, in\n"
  "                 interval arithmetic; gradcam, gradcampp: the interval Jacobian at\n"
  "                 the --node conv and its CROWN activation boxes; occlusion, rise:\n"
  "                 CROWN bounds of the score over each masked ball, combined\n"
  "                 term by term\n"
  "  max_change     guaranteed max over the ball of ||map(y) - map(row)|| in L1, L2, Linf\n"
  "  certified_topk features certified to be among the top-K values for every y\n"
  "  verdict        stable:    certified: all K of the top-K certified (and the max change\n"
  "                             L2 <= T with --threshold)\n"
  "                 unstable:  a witness point of the ball (distance checked exactly) whose\n"
  "                             recomputed map changes the top-K set (or moves more than T\n"
  "                             in L2), found by N random points of the ball and a\n"
  "                             random-sign finite-difference ascent on the rank-change\n"
  "                             objective from R starts of S steps (seeded by --seed and\n"
  "                             the row index: reproducible bit for bit)\n"
  "                 undecided: neither\n"
  "  empirical_max_change  the largest ||map(y) - map(row)|| (L1, L2, Linf) over every\n"
  "                 point sampled or attacked: a gap to max_change means loose bounds\n"
  "\n"
  "%s"
  BATCH_DATA_HELP
  "  --stability-radius R  AverageStability radius (default: E)\n"
  "  --neighbours K AverageStability neighbours (default 10)\n"
  "  --topk K       size of the top-k set (default 5)\n"
  "  --threshold T  also call a row unstable when its map moves more than T (L2)\n"
  "                 from the row's map, and stable only when max_change L2 <= T\n"
  "  --attack-samples N  random points per ball (default 2000; 0: none)\n"
  "  --attack-steps S    ascent steps per start (default 30)\n"
  "  --attack-restarts R ascent starts (default 6)\n"
  "  --clip LO:HI   intersect the ball with the box [LO, HI]^n; a row whose ball\n"
  "                 misses the box (an empty set) stops the run, naming the row (exit 3)\n"
  "  --rows A:B     only rows A..B-1 (0-based)\n"
  "  --out DIR      DIR/audit.json {command, version, net, data, settings, summary,\n"
  "                 samples: [{index, label, target, map, map_lb, map_ub, max_change:\n"
  "                 {l1, l2, linf}, empirical_max_change, stability, topk, certified_topk,\n"
  "                 stable, verdict, witness (unstable: {x, map, topk, entered, left,\n"
  "                 change, reason}, else null), attack_maps, time_ms}]},\n"
  "                 DIR/report.json and DIR/report.html (docs/report-schema.md)\n"
  "  --json OUT     also write audit.json's content to OUT\n"
  "  --quiet        print only the summary line\n"
  "  --max-memory M cap the analysis' own arrays at M MiB (default: the machine's\n"
  "                 RAM): past it, error 'memory limit of M MiB reached', exit 5\n";

typedef struct opts {
  const char *net, *data, *out, *json;
  attr_cli ac;
  attr_audit_opt ao;
  cb_norm norm;
  double eps, radius, clip_lo, clip_hi;
  int have_norm, have_eps, have_method, have_radius, clip, K, topk, quiet;
  long r0, r1;
} opts;

static int parse_int(const char *a, const char *v, int lo, int *out)
{
  char *e;
  long l = strtol(v, &e, 10);
  if (e == v || *e || l < lo || l > 1000000) {
    char fmt[80];
    snprintf(fmt, sizeof fmt, "%s wants an integer >= %d, not '%%s'", a, lo);
    return report_usage("audit", fmt, v);
  }
  *out = (int)l;
  return 0;
}

static int parse_value(opts *o, const char *a, const char *v)
{
  int rc;
  if (!strcmp(a, "--method")) o->have_method = 1;
  if ((rc = attr_cli_option("audit", a, v, &o->ac)) != 0) return rc > 0 ? rc : 0;
  if (!strcmp(a, "--data")) o->data = v;
  else if (!strcmp(a, "--out")) o->out = v;
  else if (!strcmp(a, "--json")) o->json = v;
  else if (!strcmp(a, "--norm")) { o->have_norm = 1; return arg_norm("audit", v, &o->norm); }
  else if (!strcmp(a, "--eps")) { o->have_eps = 1; return arg_eps("audit", "--eps", v, &o->eps); }
  else if (!strcmp(a, "--stability-radius")) { o->have_radius = 1; return arg_eps("audit", "--stability-radius", v, &o->radius); }
  else if (!strcmp(a, "--radius"))   /* one meaning across commands: certify's radius search */
    return report_usage("audit", "%s is certify's radius search; the AverageStability radius is --stability-radius R", a);
  else if (!strcmp(a, "--clip")) { o->clip = 1; return arg_clip("audit", v, &o->clip_lo, &o->clip_hi); }
  else if (!strcmp(a, "--rows")) return arg_rows("audit", v, &o->r0, &o->r1);
  else if (!strcmp(a, "--max-memory")) return report_limit_option("audit", a, v);
  else if (!strcmp(a, "--neighbours")) return parse_int(a, v, 1, &o->K);
  else if (!strcmp(a, "--topk")) return parse_int(a, v, 1, &o->topk);
  else if (!strcmp(a, "--threshold")) {
    double t;
    if ((rc = arg_eps("audit", "--threshold", v, &t)) != 0) return rc;
    if (!(t > 0)) return report_usage("audit", "--threshold wants a number > 0, not '%s'", v);
    o->ao.threshold = t;
  }
  else if (!strcmp(a, "--attack-samples")) return parse_int(a, v, 0, &o->ao.samples);
  else if (!strcmp(a, "--attack-steps")) return parse_int(a, v, 0, &o->ao.steps);
  else if (!strcmp(a, "--attack-restarts")) return parse_int(a, v, 0, &o->ao.restarts);
  else return report_usage("audit", "unknown option %s", a);
  return 0;
}

static int parse(int argc, char **argv, opts *o)
{
  int rc;
  attr_method m;
  memset(o, 0, sizeof *o);
  attr_opt_init(&o->ac.o);
  attr_audit_opt_init(&o->ao);
  o->K = 10;
  o->topk = 5;
  o->r1 = -1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { printf(usage, attr_cli_help); return -1; }
    if (!strcmp(a, "--quiet")) { o->quiet = 1; continue; }
    if (a[0] != '-') {
      if (o->net) return report_usage("audit", "unexpected argument %s", a);
      o->net = a;
      continue;
    }
    if (i + 1 >= argc) return report_usage("audit", "%s needs a value", a);
    if ((rc = parse_value(o, a, argv[++i])) != 0) return rc;
  }
  m = o->ac.o.method;
  if (!o->net) return report_usage("audit", "%s", "missing NET");
  if (!o->data) return report_usage("audit", "%s", "missing --data FILE");
  if (!o->have_method) return report_usage("audit", "%s", "missing --method");
  if (!attr_cert_supported(m))
    return report_usage("audit", "certified bounds exist for " ATTR_CERT_METHODS ", not '%s'", attr_method_name[m]);
  if (!o->have_norm) return report_usage("audit", "%s", "missing --norm");
  if (!o->have_eps) return report_usage("audit", "%s", "missing --eps");
  if (!o->out) return report_usage("audit", "%s", "missing --out DIR");
  if (!o->have_radius) o->radius = o->eps;
  return 0;
}

typedef struct row {
  double *map, *lb, *ub, mc[3], stab, ms;
  int *topk, *cert, target, ncert, status;
  attr_audit_res ar;       /* verdict, empirical change, witness */
  cb_error err;
} row;

/* The attack's seed for row `index`: --seed mixed with the row index, so a
   row's verdict does not depend on the rows around it or the threads. */
static uint64_t row_seed(uint64_t seed, size_t index)
{
  return seed * 0x9E3779B97F4A7C15ull ^ ((uint64_t)index + 1) * 0xBF58476D1CE4E5B9ull;
}

static void audit_row(attr_ctx *a, const opts *o, const double *x, int label, size_t index, size_t n, row *r)
{
  struct timespec t0, t1;
  cb_set s = {o->norm, o->eps, n, x, NULL, NULL};
  attr_audit_opt ao = o->ao;
  double *clo = NULL;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (o->clip) {
    if (!(clo = cb_alloc(2 * n * sizeof *clo))) { r->status = cb_error_set(&r->err, CB_ENOMEM, "out of memory"); return; }
    for (size_t i = 0; i < n; i++) { clo[i] = o->clip_lo; clo[n + i] = o->clip_hi; }
    s.lo = clo; s.hi = clo + n;
  }
  if ((r->status = attr_target(a, x, label, &r->target, &r->err)) != CB_OK ||
      (r->status = attr_map(a, x, r->target, r->map, &r->err)) != CB_OK ||
      (r->status = attr_stability(a, x, r->target, r->map, o->radius, o->K, 2, a->opt.seed, &r->stab, &r->err)) != CB_OK ||
      (r->status = attr_cert_bounds(a, &s, r->target, r->lb, r->ub, &r->err)) != CB_OK) goto out;
  attr_max_change(r->map, r->lb, r->ub, attr_map_size(a), r->mc);
  attr_topk(r->map, attr_map_size(a), (size_t)o->topk, r->topk);
  r->ncert = (int)attr_certified_topk(r->lb, r->ub, attr_map_size(a), (size_t)o->topk, r->cert);
  ao.topk = o->topk;
  ao.seed = row_seed(a->opt.seed, index);
  r->status = attr_audit(a, &s, r->target, r->map, r->lb, r->ub, &ao, &r->ar, &r->err);
out:
  cb_free(clo);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  r->ms = 1e3 * (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - t0.tv_nsec);
}

static cJSON *settings_json(const opts *o, size_t r0, size_t r1)
{
  cJSON *s = cJSON_CreateObject();
  const attr_opt *a = &o->ac.o;
  cJSON_AddStringToObject(s, "method", attr_method_name[a->method]);
  cJSON_AddStringToObject(s, "target", a->target == -1 ? "label" : a->target == -2 ? "pred" : "class");
  if (a->target >= 0) cJSON_AddNumberToObject(s, "target_class", a->target);
  cJSON_AddStringToObject(s, "norm", cb_norm_table[o->norm].name);
  cJSON_AddNumberToObject(s, "eps", o->eps);
  if (o->clip) { double c[2] = {o->clip_lo, o->clip_hi}; cJSON_AddItemToObject(s, "clip", cJSON_CreateDoubleArray(c, 2)); }
  else cJSON_AddNullToObject(s, "clip");
  if (a->method == AM_IG) {
    cJSON_AddNumberToObject(s, "steps", a->steps);
    if (a->n_baselines > 0) cJSON_AddNumberToObject(s, "baselines", a->n_baselines);
    else if (a->baseline_vec) cJSON_AddStringToObject(s, "baseline", "vector");
    else cJSON_AddNumberToObject(s, "baseline", a->baseline);
  }
  if (a->method == AM_SMOOTHGRAD || a->method == AM_VARGRAD || a->method == AM_SQUAREGRAD) {
    cJSON_AddNumberToObject(s, "samples", a->samples);
    cJSON_AddNumberToObject(s, "sigma", a->sigma);
  }
  if (a->method == AM_OCCLUSION) {
    cJSON_AddNumberToObject(s, "patch", a->patch);
    cJSON_AddNumberToObject(s, "stride", a->stride);
    cJSON_AddNumberToObject(s, "baseline", a->baseline);
  }
  if (a->method == AM_RISE) {
    cJSON_AddNumberToObject(s, "samples", a->samples);
    cJSON_AddNumberToObject(s, "rise_p", a->rise_p);
    cJSON_AddNumberToObject(s, "rise_cells", a->rise_cells);
  }
  if ((a->method == AM_GRADCAM || a->method == AM_GRADCAMPP) && a->node) cJSON_AddStringToObject(s, "node", a->node);
  cJSON_AddNumberToObject(s, "stability_radius", o->radius);
  cJSON_AddNumberToObject(s, "neighbours", o->K);
  cJSON_AddStringToObject(s, "stability_distance", "l2");
  cJSON_AddNumberToObject(s, "seed", (double)a->seed);
  cJSON_AddNumberToObject(s, "topk", o->topk);
  if (isfinite(o->ao.threshold)) cJSON_AddNumberToObject(s, "threshold", o->ao.threshold);
  else cJSON_AddNullToObject(s, "threshold");
  cJSON_AddNumberToObject(s, "attack_samples", o->ao.samples);
  cJSON_AddNumberToObject(s, "attack_steps", o->ao.steps);
  cJSON_AddNumberToObject(s, "attack_restarts", o->ao.restarts);
  cJSON_AddStringToObject(s, "bounds", a->method == AM_OCCLUSION || a->method == AM_RISE ? "crown per masked ball" :
                          a->method == AM_GRADCAM || a->method == AM_GRADCAMPP ? "crown activations + interval jacobian at the node" :
                          "crown + interval jacobian");
  cJSON_AddNumberToObject(s, "rows_from", (double)r0);
  cJSON_AddNumberToObject(s, "rows_to", (double)r1);
  return s;
}

static cJSON *change_json(const double c[3])
{
  cJSON *mc = cJSON_CreateObject();
  cJSON_AddNumberToObject(mc, "l1", c[0]);
  cJSON_AddNumberToObject(mc, "l2", c[1]);
  cJSON_AddNumberToObject(mc, "linf", c[2]);
  return mc;
}

/* The witness of an unstable row: the point, its map and top-k, the
   features entering and leaving the top-k, the change and why. */
static cJSON *witness_json(const row *r, size_t n, size_t nm, int k)
{
  cJSON *w;
  if (r->ar.verdict != AV_UNSTABLE) return cJSON_CreateNull();
  w = cJSON_CreateObject();
  cJSON_AddItemToObject(w, "x", cJSON_CreateDoubleArray(r->ar.witness, (int)n));
  cJSON_AddItemToObject(w, "map", cJSON_CreateDoubleArray(r->ar.wmap, (int)nm));
  cJSON_AddItemToObject(w, "topk", cJSON_CreateIntArray(r->ar.wtopk, k));
  cJSON_AddItemToObject(w, "entered", cJSON_CreateIntArray(r->ar.entered, r->ar.n_entered));
  cJSON_AddItemToObject(w, "left", cJSON_CreateIntArray(r->ar.left, r->ar.n_left));
  cJSON_AddItemToObject(w, "change", change_json(r->ar.wchange));
  cJSON_AddStringToObject(w, "reason", r->ar.reason_topk ? "topk" : "threshold");
  return w;
}

static cJSON *sample_json(const batch *b, size_t j, size_t nm, int k, const row *r)
{
  cJSON *s = batch_json_sample(b, j), *mc = cJSON_CreateObject();
  cJSON_AddNumberToObject(s, "target", r->target);
  cJSON_AddItemToObject(s, "x", cJSON_CreateDoubleArray(batch_x(b, j), (int)b->n_in));
  cJSON_AddItemToObject(s, "map", cJSON_CreateDoubleArray(r->map, (int)nm));
  cJSON_AddItemToObject(s, "map_lb", cJSON_CreateDoubleArray(r->lb, (int)nm));
  cJSON_AddItemToObject(s, "map_ub", cJSON_CreateDoubleArray(r->ub, (int)nm));
  cJSON_AddNumberToObject(mc, "l1", r->mc[0]);
  cJSON_AddNumberToObject(mc, "l2", r->mc[1]);
  cJSON_AddNumberToObject(mc, "linf", r->mc[2]);
  cJSON_AddItemToObject(s, "max_change", mc);
  cJSON_AddNumberToObject(s, "stability", r->stab);
  cJSON_AddItemToObject(s, "topk", cJSON_CreateIntArray(r->topk, k));
  cJSON_AddItemToObject(s, "certified_topk", cJSON_CreateIntArray(r->cert, r->ncert));
  cJSON_AddItemToObject(s, "empirical_max_change", change_json(r->ar.emp));
  cJSON_AddBoolToObject(s, "stable", r->ar.verdict == AV_STABLE);
  cJSON_AddStringToObject(s, "verdict", attr_verdict_name[r->ar.verdict]);
  cJSON_AddItemToObject(s, "witness", witness_json(r, b->n_in, nm, k));
  cJSON_AddNumberToObject(s, "attack_maps", (double)r->ar.evals);
  cJSON_AddNumberToObject(s, "time_ms", r->ms);
  return s;
}

static double median(double *v, size_t n)
{
  for (size_t i = 1; i < n; i++) for (size_t j = i; j > 0 && v[j] < v[j - 1]; j--) { double t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; }
  return n ? (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2])) : NAN;
}

static cJSON *summary_json(const row *res, size_t rows, int k, double secs)
{
  cJSON *s = cJSON_CreateObject();
  double st = 0, c1 = 0, c2 = 0, ci = 0, nc = 0, e2 = 0, *v = cb_alloc((rows + 1) * sizeof *v);
  int stable = 0, cnt[AV_COUNT] = {0};
  cJSON *vc = cJSON_CreateObject();
  (void)k;
  for (size_t j = 0; j < rows; j++) {
    st += res[j].stab; c1 += res[j].mc[0]; c2 += res[j].mc[1]; ci += res[j].mc[2]; nc += res[j].ncert;
    e2 += res[j].ar.emp[1];
    cnt[res[j].ar.verdict]++;
    stable += res[j].ar.verdict == AV_STABLE;
    if (v) v[j] = res[j].mc[1];
  }
  double d = rows ? (double)rows : 1;
  cJSON_AddNumberToObject(s, "n_samples", (double)rows);
  cJSON_AddNumberToObject(s, "n_stable", stable);
  cJSON_AddNumberToObject(s, "n_unstable", cnt[AV_UNSTABLE]);
  cJSON_AddNumberToObject(s, "n_undecided", cnt[AV_UNDECIDED]);
  for (int q = 0; q < AV_COUNT; q++) cJSON_AddNumberToObject(vc, attr_verdict_name[q], cnt[q]);
  cJSON_AddItemToObject(s, "verdicts", vc);
  cJSON_AddNumberToObject(s, "stable_fraction", rows ? stable / d : 0);
  cJSON_AddNumberToObject(s, "mean_empirical_max_change_l2", e2 / d);
  cJSON_AddNumberToObject(s, "mean_stability", st / d);
  cJSON_AddNumberToObject(s, "mean_max_change_l1", c1 / d);
  cJSON_AddNumberToObject(s, "mean_max_change_l2", c2 / d);
  cJSON_AddNumberToObject(s, "mean_max_change_linf", ci / d);
  if (v && rows) cJSON_AddNumberToObject(s, "median_max_change_l2", median(v, rows));
  else cJSON_AddNullToObject(s, "median_max_change_l2");
  cJSON_AddNumberToObject(s, "mean_certified_topk", nc / d);
  cJSON_AddNumberToObject(s, "time_s", secs);
  cb_free(v);
  return s;
}

/* DIR/report.json + report.html: one run {"command": "audit"}. */
static int write_report(const opts *o, const batch *b, const cJSON *top, cb_error *err)
{
  return report_write_run(o->out, "audit", b->net, o->data, cb_data_rows(b->d), top, NULL, err);
}

static int alloc_rows(row *res, size_t rows, size_t n, int k)
{
  for (size_t j = 0; j < rows; j++) {
    row *r = &res[j];
    if (!(r->map = cb_calloc(5 * n, sizeof(double))) || !(r->topk = cb_calloc(5 * (size_t)k, sizeof(int)))) return CB_ENOMEM;
    r->lb = r->map + n; r->ub = r->lb + n; r->cert = r->topk + k;
    r->ar.witness = r->ub + n; r->ar.wmap = r->ar.witness + n;
    r->ar.wtopk = r->cert + k; r->ar.entered = r->ar.wtopk + k; r->ar.left = r->ar.entered + k;
  }
  return CB_OK;
}

/* The rows of the batch (batch_run): one attr_ctx per thread, an audit per row. */
typedef struct run_ctx { const batch *b; const opts *o; const attr_ctx *probe; row *res; } run_ctx;

static void *thread_ctx(void *ctx, cb_error *err)
{
  run_ctx *c = ctx;
  return attr_new(c->b->net, &c->probe->opt, err);
}

static void thread_ctx_free(void *state) { attr_free(state); }

static int row_audit(void *ctx, void *state, size_t k, cb_error *err)
{
  run_ctx *c = ctx;
  row *r = &c->res[k];
  audit_row(state, c->o, batch_x(c->b, k), batch_label(c->b, k), c->b->r0 + k, c->b->n_in, r);
  if (r->status != CB_OK) *err = r->err;
  return r->status;
}

static cJSON *audit_json(const batch *b, const opts *o, const attr_ctx *probe, const row *res, double secs)
{
  cJSON *top = batch_json_top(b, "audit"), *samples;
  cJSON_AddItemToObject(top, "settings", settings_json(o, b->r0, b->r1));
  cJSON_AddItemToObject(cJSON_GetObjectItem(top, "settings"), "map_shape", map_shape(b->net, attr_map_size(probe)));
  cJSON_AddItemToObject(top, "summary", summary_json(res, b->n, o->topk, secs));
  samples = cJSON_AddArrayToObject(top, "samples");
  for (size_t k = 0; k < b->n; k++) cJSON_AddItemToArray(samples, sample_json(b, k, attr_map_size(probe), o->topk, &res[k]));
  return top;
}

static void print_list(const char *name, const int *v, int n)
{
  printf(" %s [", name);
  for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", v[i]);
  printf("]");
}

/* One line per row: verdict, certified and empirical change, evidence. */
static void print_row(const row *r, size_t index, int k)
{
  printf("row %zu: target %d  %-9s  max change L2 <= %.4g (certified), >= %.4g (sampled)  certified top-%d: %d",
         index, r->target, attr_verdict_name[r->ar.verdict], r->mc[1], r->ar.emp[1], k, r->ncert);
  if (r->ar.verdict == AV_UNSTABLE) {
    printf("  witness: %s", r->ar.reason_topk ? "top-k changed," : "change above the threshold,");
    print_list("entered", r->ar.entered, r->ar.n_entered);
    print_list("left", r->ar.left, r->ar.n_left);
  }
  printf("  (%.1f ms)\n", r->ms);
}

static int audit_cmd(opts *o, cb_error *err)
{
  batch b = {0};
  row *res = NULL;
  attr_ctx *probe = NULL;
  cJSON *top = NULL;
  batch_ball ball = {o->norm, o->eps, o->clip, o->clip_lo, o->clip_hi};
  batch_rows sel = {o->r0, o->r1, 0, &ball};
  struct timespec t0, t1;
  char path[4096];
  int rc, cnt[AV_COUNT] = {0};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if ((rc = report_prepare_dir(o->out, err)) != CB_OK) return rc;
  if ((rc = batch_load_net(&b, o->net, err)) != CB_OK) goto out;
  if ((rc = attr_cli_check(&o->ac, b.n_in, err)) != CB_OK) goto out;
  if ((rc = batch_load_rows(&b, o->data, &sel, err)) != CB_OK) goto out;
  if (!(probe = attr_new(b.net, &o->ac.o, err))) { rc = err->status; goto out; }
  if ((size_t)o->topk > attr_map_size(probe)) o->topk = (int)attr_map_size(probe);
  if (!(res = cb_calloc(b.n + 1, sizeof *res)) || alloc_rows(res, b.n, b.n_in, o->topk) != CB_OK) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  {
    run_ctx c = {&b, o, probe, res};
    batch_loop L = {.row = row_audit, .thread_new = thread_ctx, .thread_free = thread_ctx_free, .ctx = &c, .name_row = 1};
    if ((rc = batch_run(&b, &L, err)) != CB_OK) goto out;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  top = audit_json(&b, o, probe, res, (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
  snprintf(path, sizeof path, "%s/audit.json", o->out);
  if ((rc = report_write_json(path, top, err)) != CB_OK) goto out;
  if (o->json && (rc = report_write_json(o->json, top, err)) != CB_OK) goto out;
  if ((rc = write_report(o, &b, top, err)) != CB_OK) goto out;
  for (size_t k = 0; k < b.n; k++) {
    cnt[res[k].ar.verdict]++;
    if (!o->quiet) print_row(&res[k], b.r0 + k, o->topk);
  }
  printf("%zu rows, %s, L%s eps %g, top-%d: %d stable, %d unstable, %d undecided; report in %s\n", b.n, attr_method_name[o->ac.o.method],
         cb_norm_table[o->norm].name, o->eps, o->topk, cnt[AV_STABLE], cnt[AV_UNSTABLE], cnt[AV_UNDECIDED], o->out);
out:
  cJSON_Delete(top);
  if (res) for (size_t k = 0; k < b.n; k++) { cb_free(res[k].map); cb_free(res[k].topk); }
  cb_free(res);
  attr_free(probe);
  batch_close(&b);
  return rc;
}

int cmd_audit(int argc, char **argv)
{
  opts o;
  cb_error err = {0};
  int rc = parse(argc, argv, &o);
  if (rc == 0 && audit_cmd(&o, &err) != CB_OK) rc = report_fail(&err);
  attr_cli_free(&o.ac);
  return rc < 0 ? 0 : rc;
}
