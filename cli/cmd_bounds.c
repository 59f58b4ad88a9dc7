/*
** `cerbere bounds`: for every CSV row, certified bounds on the logits and on
** the margins f_label - f_j (j != label, ascending) over an Lp ball around the
** row, by IBP, CROWN, CROWN-IBP or alpha-CROWN.  Samples run in parallel
** (batch.h: OpenMP, one workspace per sample, BLAS single-threaded inside).
** "verified" means every margin lower bound is > 0: a sound proof that the
** label is kept on the ball.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "batch.h"
#include "bounds.h"
#include "cmd.h"
#include "report.h"

static const char *usage =
  "usage: cerbere bounds NET --data FILE --norm inf|2|1 --eps E [--method ibp|crown|crown-ibp|alpha-crown]\n"
  "                      [--alpha-iters N] [--clip LO:HI] [--rows A:B] [--json OUT] [--quiet]\n"
  "                      [--timeout S] [--max-memory M] [--box LO HI] [--eps-per-feature FILE]\n"
  "                      [--target K] [--precision single|double] [--batch N]\n"
  "\n"
  "For each CSV row (label,x0,...), bounds the logits and the margins\n"
  "f_label - f_j (j != label, ascending) over the ball {x : ||x - row||_p <= E},\n"
  "intersected with the box [LO, HI]^n when --clip is given.  A row is\n"
  "'verified' when every margin lower bound is > 0 (a sound proof).  A row\n"
  "whose set is empty (the ball misses the clip box) or whose label is not a\n"
  "class stops the run before any work, naming the row (exit 3).  A network\n"
  "with a single output (regression) gets its output interval per row, with\n"
  "the label column ignored, 'verified' null and no margins.\n"
  "\n"
  BATCH_DATA_HELP
  BATCH_THREAT_HELP
  "                 (bounds: margin_lb holds the one margin f_label - f_K)\n"
  "  --method M    ibp, crown (default), crown-ibp, or alpha-crown: CROWN whose\n"
  "                ReLU slopes, sigmoid/tanh/exp tangent points and the planes of\n"
  "                products of activations (attention) are optimised per\n"
  "                bound (intermediate layers included) by 20 Adam steps, 40 if\n"
  "                the net has sigmoid/tanh or more than 3 activation layers;\n"
  "                tighter, 10-150x the time of crown; logit lower, logit upper\n"
  "                and margin bounds are 3 optimisations\n"
  "  --alpha-iters N  alpha-crown's iteration count instead (every iterate is a\n"
  "                sound bound and each row keeps its best: more never loosens)\n"
  "  --precision P  double (default) or single: CROWN's matrix products (AFFINE\n"
  "                steps, CONV steps' transposed convs) in binary32 at about\n"
  "                twice the BLAS rate, their rounding covered with u = 2^-24\n"
  "                (still sound; margins looser, by 0.05-2% on the benchmark\n"
  "                nets); a step that does not fit binary32 runs in double\n"
  "  --batch N     N rows (1..1024, default 1) share each CROWN pass, their rows\n"
  "                stacked so that every dense/conv step is one larger product;\n"
  "                the same bounds up to the products' rounding order (covered by\n"
  "                the slack); each row's time_ms/cpu_ms is its chunk's share;\n"
  "                alpha-crown's optimisation and --precision single still run\n"
  "                per row\n"
  "  --rows A:B    only rows A..B-1 (0-based)\n"
  "  --json OUT    {command, net, data, norm, eps, method, clip, n_samples, n_verified,\n"
  "                samples: [{index, label, logits, margin_classes, logit_lb, logit_ub,\n"
  "                margin_lb, verified, timeout, time_ms, cpu_ms, flops, flops_skipped,\n"
  "                flops_single, rows_skipped, rows_batched}], precision} (bounds null on a timeout;\n"
  "                cpu_ms: the row's thread CPU time; flops: its matmul FLOPs, of which\n"
  "                flops_single in binary32; flops_skipped: products by columns of\n"
  "                ReLUs off on the whole set, not done; rows_skipped: lower-bound\n"
  "                rows of neurons their upper bound proved off, not run;\n"
  "                rows_batched: pass rows stacked with other rows' (--batch))\n"
  "  --timeout S   wall-time limit in seconds for the whole run: rows not finished\n"
  "                by then are reported 'timeout' (not verified, no bounds), exit 0\n"
  "  --max-memory M  cap the analysis' own arrays at M MiB: past it, error 'memory\n"
  "                limit of M MiB reached', exit 5, no output file\n";

/* --batch's default: rows per stacked pass (bench/RESULTS.md, "Batched passes"). */
#define BOUNDS_BATCH_DEFAULT 1

typedef struct opts {
  const char *net, *data, *json;
  cb_norm norm;
  double eps, clip_lo, clip_hi;
  int clip, quiet, alpha_iters, single;   /* alpha_iters: 0 = automatic; single: --precision single */
  int batch;                              /* --batch N: rows whose CROWN passes are stacked (>= 1) */
  cb_method method;
  long r0, r1;
} opts;

typedef struct result {
  double *logits, *lb, *ub, *mlb, ms, cpu_ms, flops, flops_skipped, flops_single, rows_skipped, rows_batched;   /* no, no, no, no - 1 values; wall and thread CPU ms; matmul FLOPs */
  int verified, status, timeout;  /* timeout: the row hit --timeout (no bounds) */
  cb_error err;
} result;

static int parse(int argc, char **argv, opts *o)
{
  int have_norm = 0, have_eps = 0, rc;
  memset(o, 0, sizeof *o);
  o->method = CB_CROWN;
  o->r1 = -1;
  o->batch = BOUNDS_BATCH_DEFAULT;
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
    } else if (!strcmp(a, "--alpha-iters")) {
      char *e;
      long l = strtol(v, &e, 10);
      if (e == v || *e || l < 1 || l > 100000) return report_usage("bounds", "%s", "--alpha-iters must be an integer in 1..100000");
      o->alpha_iters = (int)l;
    } else if (!strcmp(a, "--batch")) {
      char *e;
      long l = strtol(v, &e, 10);
      if (e == v || *e || l < 1 || l > 1024) return report_usage("bounds", "%s", "--batch must be an integer in 1..1024");
      o->batch = (int)l;
    } else if (!strcmp(a, "--precision")) {
      if (strcmp(v, "single") && strcmp(v, "double")) return report_usage("bounds", "unknown precision '%s' (single or double)", v);
      o->single = !strcmp(v, "single");
    } else if (a[0] == '-') return report_usage("bounds", "unknown option %s", a);
    else if (o->net) return report_usage("bounds", "unexpected argument %s", a);
    else { o->net = a; continue; }
    i++;
  }
  if (!o->net) return report_usage("bounds", "%s", "missing NET");
  if (!o->data) return report_usage("bounds", "%s", "missing --data FILE");
  if (!have_norm) return report_usage("bounds", "%s", "missing --norm inf|2|1");
  if (!have_eps) return report_usage("bounds", "%s", "missing --eps E");
  if (o->alpha_iters && o->method != CB_ALPHA_CROWN) return report_usage("bounds", "%s", "--alpha-iters needs --method alpha-crown");
  return 0;
}

/* One sample's set, specification rows and workspace (prepare), freed by
   unprep; the chunk's bounds run over several of them together. */
typedef struct prep { double *lo, *hi, *I, *C; cb_set s; cb_ws *ws; } prep;

static int prepare(const cb_bnet *bn, const opts *o, const batch *b, const double *x, int label, size_t no, result *r,
                   prep *p)
{
  const cb_net *net = bn->net;
  size_t n = cb_net_input_size(net);
  cb_set s = {o->norm, o->eps, n, x, NULL, NULL, b->eps_w};
  memset(p, 0, sizeof *p);
  p->I = cb_calloc(no * no, sizeof *p->I);
  p->C = cb_calloc(no * no, sizeof *p->C);
  if (!p->I || !p->C) return cb_error_set(&r->err, CB_ENOMEM, "out of memory");
  if (o->clip || b->box_lo) {   /* the clip box and --box */
    if (!(p->lo = cb_alloc(n * sizeof *p->lo)) || !(p->hi = cb_alloc(n * sizeof *p->hi))) return cb_error_set(&r->err, CB_ENOMEM, "out of memory");
    for (size_t j = 0; j < n; j++) {
      p->lo[j] = o->clip ? o->clip_lo : -HUGE_VAL;
      p->hi[j] = o->clip ? o->clip_hi : HUGE_VAL;
      if (b->box_lo) { p->lo[j] = fmax(p->lo[j], b->box_lo[j]); p->hi[j] = fmin(p->hi[j], b->box_hi[j]); }
    }
    s.lo = p->lo; s.hi = p->hi;
  }
  p->s = s;
  for (size_t k = 0; k < no; k++) p->I[k * no + k] = 1;
  if (b->target >= 0) { p->C[(size_t)label] = 1; p->C[(size_t)b->target] = -1; }   /* targeted: the one margin f_label - f_target */
  else for (size_t k = 0, j = 0; no >= 2 && j < no; j++) if (j != (size_t)label) { p->C[k * no + (size_t)label] = 1; p->C[k * no + j] = -1; k++; }
  if (cb_net_forward(net, x, 1, r->logits, &r->err) != CB_OK) return r->err.status;
  if (!(p->ws = ws_new(bn, &p->s, &r->err))) return r->err.status;
  p->ws->alpha_iters = o->alpha_iters;
  p->ws->single = o->single;
  return CB_OK;
}

static void unprep(prep *p)
{
  ws_free(p->ws);
  cb_free(p->I); cb_free(p->C); cb_free(p->lo); cb_free(p->hi);
  memset(p, 0, sizeof *p);
}

/*
** Bounds of the cnt samples k0 .. k0+cnt-1 into res[] (r->lb etc.
** preallocated): with cnt > 1 their CROWN passes are stacked (--batch,
** bounds_run_batch); each row's time and CPU time are the chunk's shared
** equally.  An error or a timeout applies to every row of the chunk.
*/
static void run_chunk(const cb_bnet *bn, const opts *o, const batch *b, size_t k0, size_t cnt, result *res)
{
  size_t no = b->n_out, nm = b->target >= 0 ? 1 : no - 1;   /* margin rows */
  prep *p = cb_calloc(cnt, sizeof *p);
  cb_ws **ws = cb_calloc(cnt + 1, sizeof *ws);
  const double **Is = cb_calloc(cnt + 1, sizeof *Is), **Cs = cb_calloc(cnt + 1, sizeof *Cs);
  double **lb = cb_calloc(cnt + 1, sizeof *lb), **ub = cb_calloc(cnt + 1, sizeof *ub), **mlb = cb_calloc(cnt + 1, sizeof *mlb);
  struct timespec t0, t1, c0, c1;
  int st = CB_OK;
  cb_error e = {0};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
  if (!p || !ws || !Is || !Cs || !lb || !ub || !mlb) st = cb_error_set(&e, CB_ENOMEM, "out of memory");
  else if (cb_time_up()) st = cb_limit_error(&e, NULL);
  for (size_t t = 0; t < cnt && st == CB_OK; t++) {
    result *r = &res[k0 + t];
    if ((st = prepare(bn, o, b, batch_x(b, k0 + t), batch_label(b, k0 + t), no, r, &p[t])) != CB_OK) { e = r->err; break; }
    ws[t] = p[t].ws; Is[t] = p[t].I; Cs[t] = p[t].C; lb[t] = r->lb; ub[t] = r->ub; mlb[t] = r->mlb;
  }
  if (st == CB_OK &&
      ((st = bounds_run_batch(ws, cnt, o->method, NULL, NULL, NULL, &e)) != CB_OK ||
       (st = bounds_spec_batch(ws, cnt, Is, no, lb, ub, &e)) != CB_OK ||
       (no >= 2 && (st = bounds_spec_batch(ws, cnt, Cs, nm, mlb, NULL, &e)) != CB_OK))) {}
  clock_gettime(CLOCK_MONOTONIC, &t1);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
  for (size_t t = 0; t < cnt; t++) {
    result *r = &res[k0 + t];
    cb_ws *w = p ? p[t].ws : NULL;
    r->status = st;
    if (st != CB_OK) r->err = e;
    r->verified = st == CB_OK && no >= 2;   /* a single output has no margins: nothing to verify, the interval is the answer */
    for (size_t k = 0; r->verified && k < nm; k++) if (!(r->mlb[k] > 0)) r->verified = 0;
    if (r->status == CB_ELIMIT && !cb_mem_limit_hit()) { r->timeout = 1; r->verified = 0; r->status = CB_OK; }
    r->ms = (1e3 * (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - t0.tv_nsec)) / (double)cnt;
    r->cpu_ms = (1e3 * (double)(c1.tv_sec - c0.tv_sec) + 1e-6 * (double)(c1.tv_nsec - c0.tv_nsec)) / (double)cnt;
    r->flops = w ? w->flops : 0;
    r->flops_skipped = w ? w->flops_skipped : 0;
    r->flops_single = w ? w->flops_single : 0;
    r->rows_skipped = w ? (double)w->rows_skipped : 0;
    r->rows_batched = w ? (double)w->rows_batched : 0;
    if (p) unprep(&p[t]);
  }
  cb_free(p); cb_free(ws); cb_free(Is); cb_free(Cs); cb_free(lb); cb_free(ub); cb_free(mlb);
}

static cJSON *sample_json(const batch *b, size_t k, const result *r)
{
  cJSON *s = batch_json_sample(b, k), *mc = cJSON_CreateArray();
  size_t no = b->n_out;
  int label = batch_label(b, k);
  if (r->timeout) cJSON_AddNullToObject(s, "logits");  /* the row may not have started */
  else cJSON_AddItemToObject(s, "logits", cJSON_CreateDoubleArray(r->logits, (int)no));
  size_t nm = b->target >= 0 ? 1 : no - 1;
  if (b->target >= 0) cJSON_AddItemToArray(mc, cJSON_CreateNumber(b->target));
  else for (size_t j = 0; no >= 2 && j < no; j++) if (j != (size_t)label) cJSON_AddItemToArray(mc, cJSON_CreateNumber((double)j));
  cJSON_AddItemToObject(s, "margin_classes", mc);
  if (r->timeout) {
    cJSON_AddNullToObject(s, "logit_lb"); cJSON_AddNullToObject(s, "logit_ub"); cJSON_AddNullToObject(s, "margin_lb");
  } else {
    cJSON_AddItemToObject(s, "logit_lb", cJSON_CreateDoubleArray(r->lb, (int)no));
    cJSON_AddItemToObject(s, "logit_ub", cJSON_CreateDoubleArray(r->ub, (int)no));
    cJSON_AddItemToObject(s, "margin_lb", cJSON_CreateDoubleArray(r->mlb, (int)(no >= 2 ? nm : 0)));
  }
  if (no < 2) cJSON_AddNullToObject(s, "verified");   /* no margins on a single output */
  else cJSON_AddBoolToObject(s, "verified", r->verified);
  cJSON_AddBoolToObject(s, "timeout", r->timeout);
  cJSON_AddNumberToObject(s, "time_ms", r->ms);
  cJSON_AddNumberToObject(s, "cpu_ms", r->cpu_ms);
  cJSON_AddNumberToObject(s, "flops", r->flops);
  cJSON_AddNumberToObject(s, "flops_skipped", r->flops_skipped);
  cJSON_AddNumberToObject(s, "flops_single", r->flops_single);
  cJSON_AddNumberToObject(s, "rows_skipped", r->rows_skipped);
  cJSON_AddNumberToObject(s, "rows_batched", r->rows_batched);
  return s;
}

static cJSON *top_json(const batch *b, const opts *o, int nver, int nto)
{
  cJSON *t = batch_json_top(b, "bounds");
  cJSON_AddStringToObject(t, "norm", cb_norm_table[o->norm].name);
  cJSON_AddNumberToObject(t, "eps", o->eps);
  cJSON_AddStringToObject(t, "method", bounds_method_name(o->method));
  cJSON_AddStringToObject(t, "precision", o->single ? "single" : "double");
  cJSON_AddItemToObject(t, "threat_model", batch_json_threat(b));
  if (o->clip) { double c[2] = {o->clip_lo, o->clip_hi}; cJSON_AddItemToObject(t, "clip", cJSON_CreateDoubleArray(c, 2)); }
  else cJSON_AddNullToObject(t, "clip");
  cJSON_AddNumberToObject(t, "n_samples", (double)b->n);
  if (b->n_out < 2) cJSON_AddNullToObject(t, "n_verified");   /* a single output: intervals only */
  else cJSON_AddNumberToObject(t, "n_verified", nver);
  cJSON_AddNumberToObject(t, "n_timeout", nto);
  return t;
}

/* One row of the batch (batch_run): its bounds into res[k]. */
typedef struct run_ctx { const batch *b; const cb_bnet *bn; const opts *o; result *res; } run_ctx;

/* Row k: the leader of its chunk of --batch rows runs the chunk; the
   others were (or will be) filled by theirs. */
static int row_bounds(void *ctx, void *state, size_t k, cb_error *err)
{
  run_ctx *c = ctx;
  size_t N = (size_t)c->o->batch, k0 = k - k % N, cnt = c->b->n - k0 < N ? c->b->n - k0 : N;
  (void)state;
  if (k != k0) return CB_OK;
  run_chunk(c->bn, c->o, c->b, k0, cnt, c->res);
  for (size_t t = 0; t < cnt; t++)
    if (c->res[k0 + t].status != CB_OK) { *err = c->res[k0 + t].err; return c->res[k0 + t].status; }
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

static void print_rows(const batch *b, const opts *o, const result *res, int nver, int nto)
{
  size_t no = b->n_out;
  for (size_t k = 0; k < b->n && !o->quiet; k++) {
    double m = res[k].mlb[0];
    if (res[k].timeout) { printf("row %zu: label %d  timeout\n", b->r0 + k, batch_label(b, k)); continue; }
    if (no < 2) { printf("row %zu: output in [%.17g, %.17g]  (%.2f ms)\n", b->r0 + k, res[k].lb[0], res[k].ub[0], res[k].ms); continue; }
    for (size_t j = 1; b->target < 0 && j + 1 < no; j++) m = fmin(m, res[k].mlb[j]);
    printf("row %zu: label %d  min margin lower bound %+.6g  %s  (%.2f ms)\n", b->r0 + k, batch_label(b, k), m,
           res[k].verified ? "verified" : "not verified", res[k].ms);
  }
  if (no < 2) printf("%s, %s ball eps %g: output intervals of %zu rows (a single output has no margins to verify)",
                     bounds_method_name(o->method), cb_norm_table[o->norm].name, o->eps, b->n);
  else printf("%s, %s ball eps %g: %d of %zu rows verified", bounds_method_name(o->method), cb_norm_table[o->norm].name, o->eps, nver, b->n);
  printf(nto ? ", %d timed out (--timeout)\n" : "\n", nto);
  batch_print_warnings(b);
}

static int bounds_cmd(const opts *o, cb_error *err)
{
  batch b = {0};
  cb_bnet bn = {0};
  result *res = NULL;
  cJSON *top = NULL, *samples;
  batch_ball ball = {o->norm, o->eps, o->clip, o->clip_lo, o->clip_hi};
  batch_rows sel = {o->r0, o->r1, -1, &ball};   /* a single-output net: output intervals only */
  int rc, nver = 0, nto = 0;
  if ((rc = batch_load_net(&b, o->net, err)) != CB_OK || (rc = batch_load_rows(&b, o->data, &sel, err)) != CB_OK) goto out;
  if ((rc = bnet_init(&bn, b.net, err)) != CB_OK) goto out;
  if (o->single && (rc = bnet_single(&bn, err)) != CB_OK) goto out;
  if (!(res = cb_calloc(b.n + 1, sizeof *res)) || alloc_results(res, b.n, b.n_out) != CB_OK) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  {
    run_ctx c = {&b, &bn, o, res};
    batch_loop L = {.row = row_bounds, .ctx = &c};
    if ((rc = batch_run(&b, &L, err)) != CB_OK) goto out;
  }
  for (size_t k = 0; k < b.n; k++) { nver += res[k].verified; nto += res[k].timeout; }
  if (o->json) {
    top = top_json(&b, o, nver, nto);
    samples = cJSON_AddArrayToObject(top, "samples");
    for (size_t k = 0; k < b.n; k++) cJSON_AddItemToArray(samples, sample_json(&b, k, &res[k]));
    if ((rc = report_write_json(o->json, top, err)) != CB_OK) goto out;
  }
  print_rows(&b, o, res, nver, nto);
out:
  cJSON_Delete(top);
  if (res) for (size_t k = 0; k < b.n + 1 && res[k].logits; k++) cb_free(res[k].logits);
  cb_free(res);
  bnet_free(&bn);
  batch_close(&b);
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
