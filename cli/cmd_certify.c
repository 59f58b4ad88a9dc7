/*
** `cerbere certify`: the dataset mode of the certification cascade.
** Samples run in parallel (batch.h: OpenMP, BLAS single-threaded inside).  Each
** finished sample is appended to DIR/progress.jsonl (flushed), so --resume
** can continue an interrupted run; DIR/certificates.json is written once at
** the end, to a temporary file renamed into place.  SIGINT stops the run
** cleanly: finished samples stay in progress.jsonl, no certificates.json.
*/
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "batch.h"
#include "certify.h"
#include "exact.h"
#include "cmd.h"
#include "report.h"
#include "report_doc.h"

/* Run outcomes, above the cb_status range so they never mix with errors. */
#define EXIT_FALSIFIED 10
#define EXIT_UNKNOWN 11
#define EXIT_INTERRUPTED 130

static const char *usage =
  "usage: cerbere certify NET --data FILE --norm inf|2|1 --eps E --out DIR\n"
  "                       [--clip LO:HI] [--radius] [--methods LIST] [--timeout S]\n"
  "                       [--rows A:B] [--threads N] [--resume] [--json OUT] [--quiet]\n"
  "                       [--max-memory M] [--bab-timeout S] [--export-vnnlib DIR]\n"
  "                       [--box LO HI] [--eps-per-feature FILE] [--target K]\n"
  "                       [--regression --tol T] [--precision single|double]\n"
  "\n"
  "For each CSV row (label,x0,...), decides whether the prediction is provably\n"
  "the label over the set S = the ball {x : ||x - row||_p <= E}, intersected\n"
  "with [LO,HI]^n with --clip.  Methods run cheapest first and the first that\n"
  "decides wins:\n"
  "  clean (the clean point misclassified: the row, or with --clip the row\n"
  "  clamped into [LO,HI], the point of S nearest the row) -> attack (PGD,\n"
  "  cheap) -> lipschitz (global constant) -> ibp -> crown-ibp -> crown ->\n"
  "  local-lipschitz (interval Jacobian over S) -> alpha-crown -> strong-attack\n"
  "  -> bab (branch and bound, the engine of `cerbere verify`, on S: L-inf only).\n"
  "Verdicts: verified (a sound bound proved every margin > 0), falsified (a\n"
  "counterexample in S, re-checked by the forward pass, is reported), unknown\n"
  "(with the reason: the margin that failed, a timeout, an internal error).\n"
  "A row whose set is empty (the ball misses the clip box) or whose label is\n"
  "not a class stops the run before any work, naming the row (exit 3).\n"
  "\n"
  BATCH_DATA_HELP
  BATCH_THREAT_HELP
  "  --regression --tol T  for a network with any number of outputs (a regression net):\n"
  "                 verified means |f_j(y) - f_j(row)| <= T for every output j and every y\n"
  "                 of the set (the outputs at the row taken in real arithmetic, src/exact.c);\n"
  "                 falsified, a point y of the set where some output moves by more than T,\n"
  "                 re-checked in real arithmetic (counterexample_output says which).  Labels\n"
  "                 are read but unused; methods: attack, ibp, crown-ibp, crown, alpha-crown,\n"
  "                 strong-attack (lipschitz, local-lipschitz and bab bound class margins)\n"
  "  --radius       also search the certified radius (largest verified eps, by\n"
  "                 bisection from the Lipschitz radius) and the attack radius\n"
  "                 (smallest eps where the attack succeeds): [certified, attacked];\n"
  "                 with --clip both are >= the row's distance to the box (S is\n"
  "                 empty below it)\n"
  "  --methods L    comma-separated subset of attack,lipschitz,ibp,crown-ibp,crown,\n"
  "                 local-lipschitz,alpha-crown,strong-attack,bab (default: all); clean\n"
  "                 always runs.  local-lipschitz and alpha-crown compute CROWN's\n"
  "                 intermediate bounds themselves when crown is not listed; a net\n"
  "                 without a Lipschitz rule refuses lipschitz/local-lipschitz\n"
  "  --timeout S    seconds per sample; a sample out of time is unknown\n"
  "  --precision P  double (default) or single: the sound methods' CROWN passes\n"
  "                 run their dense matrix products in binary32 (bounds --help)\n"
  "  --bab-timeout S  CPU seconds of branch and bound per sample left open by the\n"
  "                 other methods (default 60; 0 = no bab step; with --timeout, within\n"
  "                 what is left of it, as wall time).  bab\n"
  "                 runs `verify`'s search (input and ReLU splitting, LP, attacks) on\n"
  "                 the property 'some class j != label has logit >= the label's'\n"
  "                 over S as a box: verified when every subdomain is refuted,\n"
  "                 falsified with a witness that passes the same exact checks as\n"
  "                 every counterexample; else unknown, the reason giving the\n"
  "                 search's answer and subdomain count.  L2 and L1 balls are not\n"
  "                 boxes: those rows skip bab (said in the reason).  Why 60 s of\n"
  "                 CPU: the same search `verify --timeout 60` runs on one core, so\n"
  "                 bab decides what verify decides in 60 s, whatever the load (on 50\n"
  "                 MNIST 256x2 rows: 1-4 s each, one row 34 s); a row it cannot\n"
  "                 close costs the whole budget (bench/RESULTS_certify.md)\n"
  "  --export-vnnlib DIR  write DIR/row_<index>.vnnlib for every row left unknown: the\n"
  "                 row's property for another verifier (the box of S rounded outward,\n"
  "                 with the clip box; Y_j >= Y_label for each j); for L2/L1 the box is\n"
  "                 the ball's bounding box (unsat there proves the row, sat does not\n"
  "                 refute it)\n"
  "  --max-memory M cap the analysis' own arrays at M MiB (default: the machine's\n"
  "                 RAM): past it, error 'memory limit of M MiB reached', exit 5\n"
  "  --threads N    OpenMP threads over samples (default: all cores)\n"
  "  --resume       continue the interrupted run in DIR (same settings), skipping\n"
  "                 the samples already in DIR/progress.jsonl\n"
  "  --out DIR      write DIR/report.json and DIR/report.html (the certification\n"
  "                 report, docs/report-schema.md) and DIR/certificates.json: {command, version, net, data,\n"
  "                 settings, summary, samples: [{index, label, pred, verdict,\n"
  "                 decided_by, reason, margin_lb, counterexample, counterexample_logits,\n"
  "                 counterexample_logits_real (exact or enclosed), counterexample_class,\n"
  "                 certified_radius, attack_radius, time_ms, method_ms}]}\n"
  "  --json OUT     also write the same JSON to OUT\n"
  "  --quiet        no per-sample lines, no progress bar\n"
  "\n"
  "exit codes: 0 every sample verified, 10 some falsified, 11 none falsified but\n"
  "some unknown, 2 usage error, 3 input error, 4 internal error, 5 --max-memory\n"
  "reached, 130 interrupted.\n";

typedef struct opts {
  const char *net, *data, *out, *json, *export_dir;
  cb_cert_opt co;
  int have_tol;
  long r0, r1;
  int threads, resume, quiet;
} opts;

static volatile int g_stop;
static void on_sigint(int sig) { (void)sig; g_stop = 1; }

/* --methods: a comma-separated list of cascade methods.  "clean" may be
   named but always runs; a list naming no other method is refused. */
static int parse_methods(const char *v, unsigned *m)
{
  char buf[256], *save = NULL;
  *m = 1u << CM_CLEAN;
  if (strlen(v) >= sizeof buf) return report_usage("certify", "--methods list too long: '%s'", v);
  strcpy(buf, v);
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    int k;
    for (k = CM_CLEAN; k < CM_COUNT; k++) if (!strcmp(t, cb_cm_name[k])) break;
    if (k == CM_COUNT) return report_usage("certify", "unknown method '%s' (attack, lipschitz, ibp, crown-ibp, crown, local-lipschitz, alpha-crown, strong-attack, bab)", t);
    *m |= 1u << k;
  }
  if (*m == 1u << CM_CLEAN)
    return report_usage("certify", "--methods '%s' names no method besides clean, which always runs (attack, lipschitz, ibp, crown-ibp, crown, local-lipschitz, alpha-crown, strong-attack, bab)", v);
  return 0;
}

static int parse(int argc, char **argv, opts *o)
{
  int have_norm = 0, have_eps = 0;
  memset(o, 0, sizeof *o);
  cert_opt_init(&o->co);
  o->r1 = -1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage, stdout); return -1; }
    if (!strcmp(a, "--quiet")) { o->quiet = 1; continue; }
    if (!strcmp(a, "--radius")) { o->co.radius = 1; continue; }
    if (!strcmp(a, "--regression")) { o->co.regression = 1; continue; }
    if (!strcmp(a, "--resume")) { o->resume = 1; continue; }
    if (a[0] == '-' && a[1] == '-' && !v) return report_usage("certify", "%s needs a value", a);
    if (!strcmp(a, "--data")) o->data = v;
    else if (!strcmp(a, "--out")) o->out = v;
    else if (!strcmp(a, "--json")) o->json = v;
    else if (!strcmp(a, "--norm")) { if (arg_norm("certify", v, &o->co.norm)) return EXIT_USAGE; have_norm = 1; }
    else if (!strcmp(a, "--eps")) { if (arg_eps("certify", "--eps", v, &o->co.eps)) return EXIT_USAGE; have_eps = 1; }
    else if (!strcmp(a, "--tol")) { if (arg_eps("certify", "--tol", v, &o->co.tol)) return EXIT_USAGE; o->have_tol = 1; }
    else if (!strcmp(a, "--timeout")) { if (arg_eps("certify", "--timeout", v, &o->co.timeout)) return EXIT_USAGE; }
    else if (!strcmp(a, "--bab-timeout")) { if (arg_eps("certify", "--bab-timeout", v, &o->co.bab_timeout)) return EXIT_USAGE; }
    else if (!strcmp(a, "--export-vnnlib")) o->export_dir = v;
    else if (!strcmp(a, "--precision")) {
      if (strcmp(v, "single") && strcmp(v, "double")) return report_usage("certify", "unknown precision '%s' (single or double)", v);
      o->co.single = !strcmp(v, "single");
    }
    else if (!strcmp(a, "--max-memory")) { int rc = report_limit_option("certify", a, v); if (rc) return rc; }
    else if (!strcmp(a, "--clip")) { if (arg_clip("certify", v, &o->co.clip_lo, &o->co.clip_hi)) return EXIT_USAGE; o->co.clip = 1; }
    else if (!strcmp(a, "--rows")) { if (arg_rows("certify", v, &o->r0, &o->r1)) return EXIT_USAGE; }
    else if (!strcmp(a, "--methods")) { if (parse_methods(v, &o->co.methods)) return EXIT_USAGE; o->co.methods_named = 1; }
    else if (!strcmp(a, "--threads")) {
      char *e;
      long t = strtol(v, &e, 10);
      if (e == v || *e || t < 1 || t > 1024) return report_usage("certify", "--threads wants a number from 1 to 1024, not '%s'", v);
      o->threads = (int)t;
    } else if (a[0] == '-') return report_usage("certify", "unknown option %s", a);
    else if (o->net) return report_usage("certify", "unexpected argument %s", a);
    else { o->net = a; continue; }
    i++;
  }
  if (!o->net) return report_usage("certify", "%s", "missing NET");
  if (!o->data) return report_usage("certify", "%s", "missing --data FILE");
  if (!have_norm) return report_usage("certify", "%s", "missing --norm inf|2|1");
  if (!have_eps) return report_usage("certify", "%s", "missing --eps E");
  if (!o->out && !o->json) return report_usage("certify", "%s", "missing --out DIR");
  if (o->co.regression != o->have_tol) return report_usage("certify", "%s", "--regression and --tol T go together");
  if (o->co.regression && o->export_dir) return report_usage("certify", "%s", "--export-vnnlib writes class-margin properties, not --regression ones");
  if (!(o->co.bab_timeout > 0)) {   /* --bab-timeout 0: no bab step */
    o->co.methods &= ~(1u << CM_BAB);
    if (o->co.methods == 1u << CM_CLEAN) return report_usage("certify", "%s", "--methods names only bab, which --bab-timeout 0 turns off");
  }
  return 0;
}

/* The settings object: also the identity of a run for --resume. */
static cJSON *settings_json(const opts *o, const batch *b, unsigned methods, size_t r0, size_t r1)
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

typedef struct tally { int n, ver, fal, unk, clean_ok, by[CM_COUNT]; double *radii; int nr; double ms[CM_COUNT]; } tally;

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

static void print_summary(const opts *o, const tally *t, double medr, double secs, int threads)
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
static int write_report(const opts *o, const batch *b, const cb_certifier *c, const cJSON *top, cb_error *err)
{
  const lip_result *lr = certifier_lipschitz(c);
  return report_write_run(o->out, "certify", b->net, o->data, cb_data_rows(b->d), top, lr ? report_lipschitz(b->net, lr) : NULL, err);
}

/* --export-vnnlib DIR: DIR/row_<index>.vnnlib for every row left unknown,
   the row's property as cert_sample_spec builds it (certify.h); *n counts them. */
static int export_vnnlib(const opts *o, const batch *b, const cb_certifier *c, cJSON *const *done, int *n, cb_error *err)
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

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The run's state the row callbacks share (batch_run). */
typedef struct run_ctx {
  const batch *b;
  const opts *o;
  const cb_certifier *c;
  cJSON **done;             /* per row: its sample, once finished (or resumed) */
  tally *t;
  FILE *pf;                 /* DIR/progress.jsonl, or NULL */
  int ndone, bar;
  double t0;
} run_ctx;

/* Per thread: the result of its current row. */
static void *thread_result(void *ctx, cb_error *err)
{
  cb_cert_result *r = cb_calloc(1, sizeof *r);
  (void)ctx;
  if (!r) cb_error_set(err, CB_ENOMEM, "out of memory");
  return r;
}

static void thread_result_free(void *state) { cert_result_free(state); cb_free(state); }

static int row_certify(void *ctx, void *state, size_t k, cb_error *err)
{
  run_ctx *c = ctx;
  cb_cert_result *r = state;
  if (c->done[k]) return BATCH_SKIP;   /* resumed from progress.jsonl */
  cert_result_free(r);
  if (cert_result_init(r, c->b->net) != CB_OK) return cb_error_set(err, CB_ENOMEM, "out of memory");
  return certify_sample(c->c, batch_x(c->b, k), batch_label(c->b, k), r, &g_stop, err);
}

/* A finished row, under batch_run's lock: its sample, the tally, the
   progress file, the row line or the progress bar. */
static void row_done(void *ctx, void *state, size_t k)
{
  run_ctx *c = ctx;
  const cb_cert_result *r = state;
  cJSON *s = sample_json(c->b, k, r, &c->o->co);
  c->done[k] = s;
  count(c->t, s);
  c->ndone++;
  if (c->pf) { char *l = cJSON_PrintUnformatted(s); fprintf(c->pf, "%s\n", l); fflush(c->pf); cJSON_free(l); }
  if (!c->o->quiet && !c->bar && c->o->co.regression)
    printf("row %zu: %s (%s) %.2f ms\n", c->b->r0 + k, cb_verdict_table[r->verdict].name, r->reason, r->ms_total);
  else if (!c->o->quiet && !c->bar)
    printf("row %zu: label %d pred %d %s (%s) %.2f ms\n", c->b->r0 + k, r->label, r->pred, cb_verdict_table[r->verdict].name, r->reason, r->ms_total);
  if (c->bar) progress(c->ndone, c->b->n, c->t, now() - c->t0);
}

static int run(const opts *o, cb_error *err)
{
  batch b = {0};
  opts o_eff;
  cb_certifier *c = NULL;
  cJSON **done = NULL, *top = NULL, *set = NULL, *samples;
  char *set_s = NULL, prog[4096] = "", fin[4096];
  FILE *pf = NULL;
  batch_ball ball = {o->co.norm, o->co.eps, o->co.clip, o->co.clip_lo, o->co.clip_hi};
  batch_rows sel = {o->r0, o->r1, 0, &ball, o->co.regression};
  int rc, threads, bar = !o->quiet && isatty(2), ndone = 0;
  tally t = {0};
  double t0 = now(), medr;
  if (o->out && (rc = report_prepare_dir(o->out, err)) != CB_OK) return rc;
  if (o->export_dir && (rc = report_prepare_dir(o->export_dir, err)) != CB_OK) return rc;
  if ((rc = batch_load_net(&b, o->net, err)) != CB_OK || (rc = batch_load_rows(&b, o->data, &sel, err)) != CB_OK) goto out;
  {
    cb_cert_opt co = o->co;   /* the threat model's arrays, loaded with the net (batch.h) */
    co.box_lo = b.box_lo; co.box_hi = b.box_hi; co.eps_w = b.eps_w; co.target = b.target;
      if (!(c = certifier_new(b.net, &co, err))) { rc = err->status; goto out; }
    o_eff = *o;   /* the summary line's view of the threat model */
    o_eff.co = co;
  }
  set = settings_json(o, &b, certifier_methods(c), b.r0, b.r1);
  set_s = cJSON_PrintUnformatted(set);
  done = cb_calloc(b.n + 1, sizeof *done);
  t.radii = cb_calloc(b.n + 1, sizeof *t.radii);
  if (!set_s || !done || !t.radii) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  if (o->out) {
    snprintf(prog, sizeof prog, "%s/progress.jsonl", o->out);
    if (o->resume && (rc = load_progress(prog, set_s, done, b.r0, b.n, err)) != CB_OK) goto out;
    if (!(pf = fopen(prog, "w"))) { rc = cb_error_set(err, CB_EIO, "%s: cannot write", prog); goto out; }
    fprintf(pf, "{\"settings\":%s}\n", set_s);
    for (size_t k = 0; k < b.n; k++)
      if (done[k]) { char *l = cJSON_PrintUnformatted(done[k]); fprintf(pf, "%s\n", l); cJSON_free(l); count(&t, done[k]); ndone++; }
    fflush(pf);
  }
  if (ndone) fprintf(stderr, "resuming: %d of %zu samples already done\n", ndone, b.n);
  threads = o->threads ? o->threads : omp_get_max_threads();
  g_stop = 0;
  signal(SIGINT, on_sigint);
  {
    run_ctx rx = {&b, o, c, done, &t, pf, ndone, bar, t0};
    batch_loop L = {.row = row_certify, .done = row_done, .thread_new = thread_result, .thread_free = thread_result_free,
                    .ctx = &rx, .threads = threads, .stop = &g_stop};
    rc = batch_run(&b, &L, err);
    ndone = rx.ndone;
  }
  signal(SIGINT, SIG_DFL);
  if (pf) { fclose(pf); pf = NULL; }
  if (rc != CB_OK) goto out;
  if (g_stop) {
    fprintf(stderr, "\ncerbere certify: interrupted: %d of %zu samples done%s\n", ndone, b.n,
            o->out ? "; rerun with --resume to continue" : "");
    rc = EXIT_INTERRUPTED;
    goto out;
  }
  top = batch_json_top(&b, "certify");
  cJSON_AddItemToObject(top, "threat_model", batch_json_threat(&b));
  cJSON_AddItemToObject(top, "settings", set); set = NULL;
  medr = median(t.radii, t.nr);
  cJSON_AddItemToObject(top, "summary", summary_json(&t, medr, now() - t0, threads, o->co.regression));
  print_summary(&o_eff, &t, medr, now() - t0, threads);
  batch_print_warnings(&b);
  if (o->export_dir) {
    int nx;
    if ((rc = export_vnnlib(o, &b, c, done, &nx, err)) != CB_OK) goto out;
    printf("  %-20s %d file%s in %s\n", "exported VNNLIB", nx, nx == 1 ? "" : "s", o->export_dir);
  }
  samples = cJSON_AddArrayToObject(top, "samples");
  for (size_t k = 0; k < b.n; k++) { cJSON_AddItemToArray(samples, done[k]); done[k] = NULL; }
  if (o->out) {
    snprintf(fin, sizeof fin, "%s/certificates.json", o->out);
    if ((rc = report_write_json(fin, top, err)) != CB_OK) goto out;
    remove(prog);
  }
  if (o->json && (rc = report_write_json(o->json, top, err)) != CB_OK) goto out;
  if (o->out && (rc = write_report(o, &b, c, top, err)) != CB_OK) goto out;
  rc = t.fal ? EXIT_FALSIFIED : t.unk ? EXIT_UNKNOWN : 0;
out:
  if (pf) fclose(pf);
  for (size_t k = 0; done && k < b.n; k++) cJSON_Delete(done[k]);
  cb_free(done);
  cb_free(t.radii);
  cJSON_free(set_s);
  cJSON_Delete(set);
  cJSON_Delete(top);
  certifier_free(c);
  batch_close(&b);
  return rc;
}

int cmd_certify(int argc, char **argv)
{
  opts o;
  cb_error err = {0};
  int rc = parse(argc, argv, &o);
  if (rc != 0) return rc < 0 ? 0 : rc;
  rc = run(&o, &err);
  if (rc == 0 || rc == EXIT_FALSIFIED || rc == EXIT_UNKNOWN || rc == EXIT_INTERRUPTED) return rc;
  return report_fail(&err);
}
