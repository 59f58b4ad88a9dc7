/*
** `cerbere lipschitz`: per-layer operator norms (lower estimate, guaranteed
** upper bound), the global constants K_layerwise / K_merged, and with --data
** the certified radius of every row (global and per class pair).
**
** `cerbere orthonormalize`: the certified orthonormalisation of lip/orth.h
** (Bjorck, RKO for convs, float rounding certified <= 1 per layer), written
** as a new ONNX file, reloaded and bounded again: the K it prints is the
** guaranteed constant of the file on disk.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "cmd.h"
#include "lipbab.h"
#include "liplocal.h"
#include "lipsign.h"
#include "orth.h"
#include "report.h"

static const char *usage_lip =
  "usage: cerbere lipschitz NET [--norm 2|inf|1] [--data FILE [--labels Y.npy] [--scale S]] [--json OUT] [--quiet]\n"
  "                         [--bracket --domain LO:HI|all [--split sign|box] [--row J | --margin I:J] [--gap G] [--nodes N] [--budget S]]\n"
  "                         [--bracket --data FILE --eps E [--nodes N] [--gap G]]\n"
  "                         [--dense-max N] [--iters N] [--tol T] [--timeout S] [--max-memory M]\n"
  "\n"
  "Bounds the operator norm of every AFFINE / CONV / SCALE layer on its actual\n"
  "input shape (power-iteration lower estimate and guaranteed upper bound) and\n"
  "the global Lipschitz constant of the network: K_layerwise (product of layer\n"
  "bounds x activation constants, sum rule at residual adds) and K_merged\n"
  "(chains of linear layers multiplied out first).  With --data, prints for each\n"
  "row the certified radius max(margin,0) / (c K) (c = sqrt 2, 2, 1 for the\n"
  "L2, Linf, L1 input norm) and the tighter per-class-pair radius.\n"
  "\n"
  "  --norm P       operator / input norm: 2 (default), inf or 1\n"
  "  --data FILE    rows to certify: CSV, X.npy with --labels Y.npy, or .npz;\n"
  "                 --scale S multiplies the features\n"
  "  --json OUT     {command, net, norm, layers:[{node, op, kind, dense_shape, norm_lower,\n"
  "                 norm_upper, method, power_iters, power_converged, seconds}], blocks,\n"
  "                 K_layerwise, K_merged, samples:[{index, label, pred, clean_margin,\n"
  "                 margin_lower_bound, certified_radius, certified_radius_layerwise,\n"
  "                 certified_radius_merged, certified_radius_pairwise}]}\n"
  "  --dense-max N  convs with min(inputs, outputs) <= N get the exact Gram bound,\n"
  "                larger ones the circulant bound (default 4096; 0: circulant always)\n"
  "  --iters N      power-iteration cap (default 1000); --tol T its tolerance (1e-12)\n"
  "  --timeout S    stop after S seconds of wall time: error 'time limit of S s\n"
  "                 reached', exit 5, no output file\n"
  "  --max-memory M cap the analysis' own arrays at M MiB: past it, error 'memory\n"
  "                 limit of M MiB reached', exit 5, no output file\n"
  "  --quiet        no per-row lines\n"
  "\n"
  "Bracket (branch and bound over a box):\n"
  "  --bracket      for every output row j (or --row J), a bracket lower <= L_j <= upper\n"
  "                 of L_j = sup over the --domain box of ||d f_j/dx||_* (dual of --norm):\n"
  "                 upper from CROWN intermediate bounds and the interval Jacobian of each\n"
  "                 sub-box (guaranteed, Clarke; ReLU phases enumerated when <= 8 unstable),\n"
  "                 lower = |f_j(y) - f_j(x)| / ||y - x|| in exact arithmetic for two reported\n"
  "                 points of the box (x: the best sampled gradient norm, y = x + a tiny step\n"
  "                 along it), rounded down; the sub-box with the largest upper is\n"
  "                 split at the middle of its widest input.  Prints per row upper, lower,\n"
  "                 gap, nodes, time, stop reason and the point; JSON adds \"bracket\"\n"
  "  --domain LO:HI the box [LO, HI] in every input (required with --bracket).  A\n"
  "                 piecewise-linear net's constant over the whole space is >= its value\n"
  "                 on any box; the bracket is of the box's constant only\n"
  "  --split sign   branch on activation signs instead of the box: the --norm\n"
  "                 operator norm of the whole Jacobian (2: spectral; inf: largest row\n"
  "                 sum of |J|; 1: largest column sum) or of row --row J (its gradient's\n"
  "                 dual norm: ||g||_2, ||g||_1, ||g||_inf) for chains of\n"
  "                 Gemm/MatMul with ReLU or sort groups (GroupSort/MaxMin, <= 8); a\n"
  "                 region is dropped only on an exact Motzkin certificate, a region with\n"
  "                 every sign fixed gets its exact norm; root capped by K_merged\n"
  "  --margin I:J   (sign split) bracket the margin f_I - f_J instead (its gradient's\n"
  "                 dual norm; JSON row \"I-J\", margin_i, margin_j)\n"
  "  --domain all   the whole input space R^n (implies --split sign; no box needed)\n"
  "  --row J        bracket output J only (default: every output; with --split sign\n"
  "                 the whole Jacobian)\n"
  "  --gap G        stop at (upper - lower) <= G upper (default 1e-2)\n"
  "  --nodes N      stop after N sub-boxes per row (default 200000; sign split 5000000)\n"
  "  --budget S     stop a row after S seconds (default: none); --timeout S also\n"
  "                 stops the bracket (the bracket reached is printed, exit 0)\n"
  "\n"
  "Local bracket (over the --norm ball of radius E around each --data row):\n"
  "  --eps E        with --bracket and --data (no --domain): for each row and each\n"
  "                 margin f_label - f_j, a bracket of its Lipschitz constant on the\n"
  "                 ball: upper from CROWN bounds over the ball and a branch and bound\n"
  "                 on the signs of the ReLU-type neurons unstable over it (interval\n"
  "                 Jacobian per sign pattern; guaranteed), lower = a certified secant\n"
  "                 |f(y) - f(x)| / ||y - x|| between two points of the ball (exact\n"
  "                 arithmetic, rounded down; x the best of the centre and 32 random\n"
  "                 points).  --nodes N: patterns bounded per margin (default\n"
  "                 1024), --gap G as above.  JSON adds \"bracket_local\": [{index,\n"
  "                 label, eps, margins: [{class, upper, upper_plain, lower, gap, nodes,\n"
  "                 unstable, grad_norm, point, point_y}]}] (points null when lower is 0)\n";

static const char *usage_orth =
  "usage: cerbere orthonormalize NET -o OUT.onnx [--iters N] [--order P] [--tol T]\n"
  "                              [--data FILE [--labels Y.npy] [--scale S]] [--json OUT] [--timeout S] [--max-memory M]\n"
  "\n"
  "Replaces every Gemm / MatMul / Conv weight initializer of NET by its Bjorck\n"
  "orthonormalisation (deel-lip style: rescale by a power-iteration estimate,\n"
  "iterate W <- W sum_k c_k (I - W^T W)^k to the tolerance).  Conv kernels are\n"
  "orthonormalised as reshaped [cout x cin*kh*kw] matrices (RKO); RKO alone does\n"
  "not make a conv 1-Lipschitz, so the kernel is then divided by the conv's\n"
  "guaranteed operator bound.  Weights are rounded to the file's float type and\n"
  "shrunk until the rounded layer is certified <= 1.  Prints per layer sigma_max\n"
  "before / after (guaranteed upper bounds, after = the file written) and\n"
  "||W^T W - I||_F, the guaranteed K of OUT, and with --data both accuracies.\n"
  "\n"
  "  -o OUT.onnx    output network (required)\n"
  "  --iters N      Bjorck iterations, at most (default 100)\n"
  "  --order P      series order 1..5 (default 1: W (3/2 I - 1/2 W^T W))\n"
  "  --tol T        stop when ||W^T W - I||_F <= T (default 1e-12)\n"
  "  --data FILE    measure the accuracy of NET and OUT on these rows (CSV, .npy with\n"
  "                 --labels Y.npy, or .npz; --scale S multiplies the features)\n"
  "  --json OUT     write the per-layer report as JSON\n"
  "  --timeout S    stop after S seconds: error 'time limit of S s reached', exit 5,\n"
  "                 neither OUT.onnx nor the JSON written\n"
  "  --max-memory M cap the analysis' own arrays at M MiB: error 'memory limit of\n"
  "                 M MiB reached', exit 5\n";

/* ------------------------------------------------------------------ options */

typedef struct lip_cli {
  const char *net, *data, *json, *out;
  int quiet, bracket, row, margin_i, margin_j;
  double dlo, dhi;
  int has_domain, domain_all, split_sign, has_eps, has_nodes;
  double eps;
  lip_bab_opts bab;
  lip_opts lo;
  lip_bjorck_opts bo;
} lip_cli;

/* Parses an integer in [lo, hi]; 0 on failure. */
static int parse_long(const char *s, long lo, long hi, long *v)
{
  char *e;
  *v = strtol(s, &e, 10);
  return e != s && !*e && *v >= lo && *v <= hi;
}

/* Parses a finite positive number; 0 on failure. */
static int parse_pos(const char *s, double *v)
{
  char *e;
  *v = strtod(s, &e);
  return e != s && !*e && *v > 0 && isfinite(*v);
}

/* One option with a value; returns -1 if handled, else an exit code. */
static int parse_value(const char *cmd, const char *opt, const char *val, lip_cli *o)
{
  long l;
  double d;
  if (!strcmp(opt, "--data")) o->data = val;
  else if (!strcmp(opt, "--domain") && !strcmp(val, "all")) { o->has_domain = 1; o->domain_all = 1; o->split_sign = 1; }
  else if (!strcmp(opt, "--split")) {
    if (!strcmp(val, "sign")) o->split_sign = 1;
    else if (!strcmp(val, "box")) o->split_sign = 0;
    else return report_usage(cmd, "--split must be sign or box, not %s", val);
  }
  else if (!strcmp(opt, "--domain")) {
    char *e, *f;
    o->dlo = strtod(val, &e);
    if (e == val || *e != ':' || (o->dhi = strtod(e + 1, &f), f == e + 1 || *f) || !isfinite(o->dlo) || !isfinite(o->dhi) || o->dlo > o->dhi)
      return report_usage(cmd, "--domain must be LO:HI with finite LO <= HI, or all, not %s", val);
    o->has_domain = 1;
  }
  else if (!strcmp(opt, "--row")) { if (!parse_long(val, 0, 1L << 30, &l)) return report_usage(cmd, "bad --row %s", val); o->row = (int)l; }
  else if (!strcmp(opt, "--margin")) {
    char *c = strchr(val, ':');
    long l2;
    if (!c) return report_usage(cmd, "--margin wants I:J, not %s", val);
    *c = 0;
    if (!parse_long(val, 0, 1L << 30, &l) || !parse_long(c + 1, 0, 1L << 30, &l2) || l == l2) { *c = ':'; return report_usage(cmd, "--margin wants I:J with two different outputs, not %s", val); }
    *c = ':';
    o->margin_i = (int)l; o->margin_j = (int)l2;
  }
  else if (!strcmp(opt, "--gap")) { if (!parse_pos(val, &d)) return report_usage(cmd, "bad --gap %s", val); o->bab.gap = d; }
  else if (!strcmp(opt, "--nodes")) { if (!parse_long(val, 1, 1L << 40, &l)) return report_usage(cmd, "bad --nodes %s", val); o->bab.max_nodes = l; o->has_nodes = 1; }
  else if (!strcmp(opt, "--eps")) { if (arg_eps(cmd, "--eps", val, &o->eps)) return EXIT_USAGE; o->has_eps = 1; }
  else if (!strcmp(opt, "--budget")) { if (!parse_pos(val, &d)) return report_usage(cmd, "bad --budget %s", val); o->bab.seconds = d; }
  else if (!strcmp(opt, "--json")) o->json = val;
  else if (!strcmp(opt, "-o")) o->out = val;
  else if (!strcmp(opt, "--norm")) { if (!arg_norm_word(val, &o->lo.norm)) return report_usage(cmd, "--norm must be 2, inf or 1, not %s", val); }
  else if (!strcmp(opt, "--dense-max")) { if (!parse_long(val, 0, 1L << 20, &l)) return report_usage(cmd, "bad --dense-max %s", val); o->lo.dense_max = (size_t)l; }
  else if (!strcmp(opt, "--iters")) {
    if (!parse_long(val, 0, 1000000, &l)) return report_usage(cmd, "bad --iters %s", val);
    o->lo.power_iters = (int)l;
    o->bo.iters = (int)l;
  }
  else if (!strcmp(opt, "--order")) { if (!parse_long(val, 1, 5, &l)) return report_usage(cmd, "--order must be 1..5, not %s", val); o->bo.order = (int)l; }
  else if (!strcmp(opt, "--tol")) { if (!parse_pos(val, &d)) return report_usage(cmd, "bad --tol %s", val); o->lo.power_tol = d; o->bo.tol = d; }
  else if ((l = report_limit_option(cmd, opt, val)) >= 0) return l ? (int)l : -1;
  else return report_usage(cmd, "unknown option %s", opt);
  return -1;
}

/* Returns -1 to run, else the exit code (0 after --help). */
static int parse(const char *cmd, const char *usage, const char *const *valued, int argc, char **argv, lip_cli *o)
{
  memset(o, 0, sizeof *o);
  lip_opts_init(&o->lo);
  lip_bjorck_opts_init(&o->bo);
  lip_bab_opts_init(&o->bab);
  o->row = -1;
  o->margin_i = o->margin_j = -1;
  for (int i = 0; i < argc; i++) {
    int takes = 0, rc;
    for (int k = 0; valued[k]; k++) takes |= !strcmp(argv[i], valued[k]);
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage, stdout); return 0; }
    if (!strcmp(argv[i], "--quiet") && cmd[0] == 'l') o->quiet = 1;
    else if (!strcmp(argv[i], "--bracket") && cmd[0] == 'l') o->bracket = 1;
    else if (takes) {
      if (i + 1 >= argc) return report_usage(cmd, "%s needs a value", argv[i]);
      if ((rc = parse_value(cmd, argv[i], argv[i + 1], o)) >= 0) return rc;
      i++;
    }
    else if (argv[i][0] == '-') return report_usage(cmd, "unknown option %s", argv[i]);
    else if (o->net) return report_usage(cmd, "unexpected argument %s", argv[i]);
    else o->net = argv[i];
  }
  if (!o->net) return report_usage(cmd, "%s", "missing NET");
  return -1;
}

/* ------------------------------------------------------------------ lipschitz */

/* [rows, cols] as a JSON array. */
static cJSON *shape2(size_t rows, size_t cols)
{
  cJSON *a = cJSON_CreateArray();
  cJSON_AddItemToArray(a, cJSON_CreateNumber((double)rows));
  cJSON_AddItemToArray(a, cJSON_CreateNumber((double)cols));
  return a;
}

/* One JSON object per bounded layer. */
static cJSON *layers_json(const cb_net *net, const lip_result *r)
{
  cJSON *a = cJSON_CreateArray();
  for (int k = 0; k < r->n_layers; k++) {
    const lip_layer *L = &r->layer[k];
    const cb_node *n = &net->node[L->node];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "node", n->name);
    cJSON_AddStringToObject(o, "op", n->op);
    cJSON_AddStringToObject(o, "kind", node_kind_name(n));
    cJSON_AddNumberToObject(o, "index", L->node);
    cJSON_AddItemToObject(o, "dense_shape", shape2(L->rows, L->cols));
    cJSON_AddNumberToObject(o, "norm_lower", L->b.lower);
    cJSON_AddNumberToObject(o, "norm_upper", L->b.upper);
    cJSON_AddStringToObject(o, "method", L->b.method);
    cJSON_AddNumberToObject(o, "power_iters", L->b.iters);
    cJSON_AddBoolToObject(o, "power_converged", L->b.converged);
    cJSON_AddNumberToObject(o, "seconds", L->seconds);
    cJSON_AddItemToArray(a, o);
  }
  return a;
}

/* One JSON object per merged block. */
static cJSON *blocks_json(const cb_net *net, const lip_result *r)
{
  cJSON *a = cJSON_CreateArray();
  for (int k = 0; k < r->n_blocks; k++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "first", net->node[r->block[k].first].name);
    cJSON_AddStringToObject(o, "last", net->node[r->block[k].last].name);
    cJSON_AddNumberToObject(o, "norm_upper", r->block[k].upper);
    cJSON_AddNumberToObject(o, "product_of_layers", r->block[k].product);
    cJSON_AddItemToArray(a, o);
  }
  return a;
}

/* One certified sample as JSON. */
static cJSON *sample_json(const batch *b, size_t k, const lip_sample *s)
{
  cJSON *o = batch_json_sample(b, k);
  cJSON_AddNumberToObject(o, "pred", (double)s->pred);
  cJSON_AddNumberToObject(o, "clean_margin", s->margin);
  cJSON_AddNumberToObject(o, "margin_lower_bound", s->margin_lo);
  cJSON_AddNumberToObject(o, "certified_radius", s->radius);
  cJSON_AddNumberToObject(o, "certified_radius_layerwise", s->radius_layerwise);
  cJSON_AddNumberToObject(o, "certified_radius_merged", s->radius_merged);
  cJSON_AddNumberToObject(o, "certified_radius_pairwise", s->radius_pairwise);
  return o;
}

/* Human-readable layer table and the global constants. */
static void print_layers(const cb_net *net, const lip_result *r)
{
  printf("norm: L%s\n", cb_norm_table[r->norm].name);
  for (int k = 0; k < r->n_layers; k++) {
    const lip_layer *L = &r->layer[k];
    const cb_node *n = &net->node[L->node];
    char bl[40], bu[40];
    printf("layer %-24s %-10s [%zu x %zu]  lower %s  upper %s  upper/lower %.3g  %s",
           n->name, n->op, L->rows, L->cols, fmt_dir(bl, L->b.lower, 12, -1), fmt_dir(bu, L->b.upper, 12, 1),
           L->b.lower > 0 ? L->b.upper / L->b.lower : HUGE_VAL, L->b.method);
    if (r->norm == CB_NORM_2 && strcmp(L->b.method, "max-abs"))
      printf("  power %d it%s", L->b.iters, L->b.converged ? "" : " (not converged)");
    printf("\n");
  }
  char b1[40], b2[40];
  for (int k = 0; k < r->n_blocks; k++)
    printf("block %s .. %s: merged %s (layers %s)\n", net->node[r->block[k].first].name,
           net->node[r->block[k].last].name, fmt_dir(b1, r->block[k].upper, 12, 1), fmt_dir(b2, r->block[k].product, 12, 1));
  printf("K_layerwise %s\nK_merged    %s\n", fmt_dir(b1, r->K_layerwise, 12, 1), fmt_dir(b2, r->K_merged, 12, 1));
}

/* Certifies every row of --data (batch.h: labels checked first), in order,
   printing as it goes; adds samples to root (may be NULL).  Each row is one
   forward pass: a plain loop, with the --timeout check per row. */
static int certify_rows(batch *b, const lip_result *r, const lip_cli *o, cJSON *root, cb_error *err)
{
  batch_rows sel = {0, -1, 0, NULL};
  cJSON *arr;
  double sum = 0;
  size_t correct = 0;
  int rc = batch_load_rows(b, o->data, &sel, err);
  if (rc != CB_OK) return rc;
  arr = root ? cJSON_AddArrayToObject(root, "samples") : NULL;
  for (size_t i = 0; i < b->n && rc == CB_OK; i++) {
    lip_sample s;
    if (cb_time_up()) { rc = cb_limit_error(err, "the certified radii"); break; }
    if ((rc = lip_certify(b->net, r, batch_x(b, i), batch_label(b, i), &s, err)) != CB_OK) break;
    correct += s.pred == (size_t)s.label;
    sum += s.radius_pairwise;
    if (arr) cJSON_AddItemToArray(arr, sample_json(b, i, &s));
    if (!o->quiet)
      printf("row %zu: label %d pred %zu margin %.6g radius %.6g (layerwise %.6g merged %.6g) pairwise %.6g\n",
             i, s.label, s.pred, s.margin, s.radius, s.radius_layerwise, s.radius_merged, s.radius_pairwise);
  }
  if (rc == CB_OK)
    printf("%zu samples, accuracy %.4f, mean certified L%s radius (pairwise) %.6g\n", b->n,
           b->n ? (double)correct / (double)b->n : 0, cb_norm_table[r->norm].name, b->n ? sum / (double)b->n : 0);
  if (rc == CB_OK && root) cJSON_AddNumberToObject(root, "n_samples", (double)b->n);
  return rc;
}

/* The JSON report without samples (added by certify_rows). */
static cJSON *lip_json(const lip_cli *o, const cb_net *net, const lip_result *r)
{
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "command", "lipschitz");
  cJSON_AddStringToObject(root, "version", CB_VERSION);
  cJSON_AddStringToObject(root, "net", o->net);
  cJSON_AddStringToObject(root, "norm", cb_norm_table[r->norm].name);
  if (o->data) cJSON_AddStringToObject(root, "data", o->data);
  cJSON_AddItemToObject(root, "layers", layers_json(net, r));
  cJSON_AddItemToObject(root, "blocks", blocks_json(net, r));
  cJSON_AddNumberToObject(root, "K_layerwise", r->K_layerwise);
  cJSON_AddNumberToObject(root, "K_merged", r->K_merged);
  return root;
}

/* --bracket: one branch and bound per output row; adds "bracket" to root. */
static int bracket_rows(const lip_cli *o, const cb_net *net, const lip_result *r, cJSON *root, cb_error *err)
{
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
  double *lo = cb_alloc(4 * n * sizeof *lo), *hi, *x, *y;
  cJSON *jb = NULL, *rows = NULL;
  lip_bab_opts bo = o->bab;
  int rc = CB_OK;
  if (!lo) return cb_error_set(err, CB_ENOMEM, "out of memory");
  hi = lo + n; x = hi + n; y = x + n;
  for (size_t k = 0; k < n; k++) { lo[k] = o->dlo; hi[k] = o->dhi; }
  bo.norm = o->lo.norm;
  if (root) {
    jb = cJSON_AddObjectToObject(root, "bracket");
    cJSON_AddNumberToObject(jb, "domain_lo", o->dlo);
    cJSON_AddNumberToObject(jb, "domain_hi", o->dhi);
    cJSON_AddStringToObject(jb, "input_norm", cb_norm_table[bo.norm].name);
    cJSON_AddNumberToObject(jb, "gap_target", bo.gap);
    rows = cJSON_AddArrayToObject(jb, "rows");
  }
  printf("bracket over [%g, %g]^%zu, gradient norm dual to L%s, gap target %g\n", o->dlo, o->dhi, n,
         cb_norm_table[bo.norm].name, bo.gap);
  for (size_t j = 0; j < no && rc == CB_OK; j++) {
    lip_bab_result br;
    if (o->row >= 0 && (size_t)o->row != j) continue;
    if ((rc = lip_bab(net, j, lo, hi, r, &bo, &br, x, y, err)) != CB_OK) break;
    char bu[40], bl[40];
    printf("row %zu: upper %s lower %s gap %.3g nodes %ld open %ld time %.3f s stop %s (gradient norm at x %.10g)\n",
           j, fmt_dir(bu, br.upper, 10, 1), fmt_dir(bl, br.lower, 10, -1), br.gap, br.nodes, br.open, br.seconds, br.stop, br.grad_norm);
    if (!o->quiet) {
      printf("  lower = |f(y) - f(x)| / ||y - x|| (exact) at x = [");
      for (size_t k = 0; k < n; k++) printf("%s%.17g", k ? ", " : "", x[k]);
      printf("]\n  y = [");
      for (size_t k = 0; k < n; k++) printf("%s%.17g", k ? ", " : "", y[k]);
      printf("]\n");
    }
    if (rows) {
      cJSON *e = cJSON_CreateObject();
      cJSON_AddNumberToObject(e, "row", (double)j);
      cJSON_AddNumberToObject(e, "upper", br.upper);
      cJSON_AddNumberToObject(e, "lower", br.lower);
      cJSON_AddNumberToObject(e, "gap", br.gap);
      cJSON_AddNumberToObject(e, "nodes", (double)br.nodes);
      cJSON_AddNumberToObject(e, "open", (double)br.open);
      cJSON_AddNumberToObject(e, "seconds", br.seconds);
      cJSON_AddStringToObject(e, "stop", br.stop);
      cJSON_AddNumberToObject(e, "grad_norm_at_point", br.grad_norm);
      cJSON_AddItemToObject(e, "point", cJSON_CreateDoubleArray(x, (int)n));
      cJSON_AddItemToObject(e, "point2", cJSON_CreateDoubleArray(y, (int)n));
      cJSON_AddItemToArray(rows, e);
    }
  }
  cb_free(lo);
  return rc;
}

/* --bracket --split sign (or --domain all): one sign-split branch and bound
   of the whole Jacobian's --norm operator norm (or row --row J); adds "bracket". */
static int bracket_sign(const lip_cli *o, const cb_net *net, const lip_result *lr, cJSON *root, cb_error *err)
{
  size_t n = cb_net_input_size(net);
  double *lo = cb_alloc(4 * n * sizeof *lo), *hi, *x, *y;
  lip_sign_opts so;
  lip_sign_result sr;
  int rc;
  if (!lo) return cb_error_set(err, CB_ENOMEM, "out of memory");
  hi = lo + n; x = hi + n; y = x + n;
  for (size_t k = 0; k < n; k++) { lo[k] = o->dlo; hi[k] = o->dhi; }
  lip_sign_opts_init(&so);
  so.gap = o->bab.gap;
  so.seconds = o->bab.seconds;
  if (o->bab.max_nodes != 200000) so.max_nodes = o->bab.max_nodes;
  so.row = o->row;
  so.margin_i = o->margin_i; so.margin_j = o->margin_j;
  so.norm = lr->norm;
  if (o->row < 0 && o->margin_i < 0) so.cap = fmin(lr->K_layerwise, lr->K_merged);   /* the whole Jacobian's global bound */
  if (!o->domain_all) { so.lo = lo; so.hi = hi; }
  if ((rc = lip_sign_bab(net, &so, &sr, x, y, err)) != CB_OK) { cb_free(lo); return rc; }
  if (o->domain_all) printf("bracket over R^%zu (sign splits), %s norm of ", n, cb_norm_table[so.norm].text);
  else printf("bracket over [%g, %g]^%zu (sign splits), %s norm of ", o->dlo, o->dhi, n, cb_norm_table[so.norm].text);
  if (o->margin_i >= 0) printf("the margin f_%d - f_%d's gradient (as a 1 x n operator: dual norm %s)", o->margin_i, o->margin_j, so.norm == CB_NORM_INF ? "L1" : so.norm == CB_NORM_1 ? "L-inf" : "L2");
  else if (o->row >= 0) printf("row %d's gradient (as a 1 x n operator: dual norm %s)", o->row, so.norm == CB_NORM_INF ? "L1" : so.norm == CB_NORM_1 ? "L-inf" : "L2");
  else printf("the whole Jacobian (induced operator norm)");
  printf(", gap target %g\n", so.gap);
  char bu[40], bl[40];
  printf("upper %s lower %s gap %.3g nodes %ld lps %ld pruned %ld uncertified %ld open %ld time %.3f s "
         "stop %s (norm at x %.10g; 1%% gap at %.3f s)\n", fmt_dir(bu, sr.upper, 10, 1), fmt_dir(bl, sr.lower, 10, -1), sr.gap, sr.nodes, sr.lps, sr.pruned,
         sr.kept_uncertified, sr.open, sr.seconds, sr.stop, sr.grad_norm, sr.t_report);
  if (!o->quiet) {
    printf("  lower = ||f(y) - f(x)|| / ||y - x|| (exact) at x = [");
    for (size_t k = 0; k < n; k++) printf("%s%.17g", k ? ", " : "", x[k]);
    printf("]\n  y = [");
    for (size_t k = 0; k < n; k++) printf("%s%.17g", k ? ", " : "", y[k]);
    printf("]\n");
  }
  if (root) {
    cJSON *jb = cJSON_AddObjectToObject(root, "bracket"), *rows = NULL, *e = cJSON_CreateObject();
    cJSON_AddStringToObject(jb, "split", "sign");
    if (o->domain_all) cJSON_AddStringToObject(jb, "domain", "all");
    else { cJSON_AddNumberToObject(jb, "domain_lo", o->dlo); cJSON_AddNumberToObject(jb, "domain_hi", o->dhi); }
    cJSON_AddStringToObject(jb, "input_norm", cb_norm_table[so.norm].name);
    cJSON_AddNumberToObject(jb, "gap_target", so.gap);
    rows = cJSON_AddArrayToObject(jb, "rows");
    if (o->margin_i >= 0) {
      char mb[48];
      snprintf(mb, sizeof mb, "%d-%d", o->margin_i, o->margin_j);
      cJSON_AddStringToObject(e, "row", mb);
      cJSON_AddNumberToObject(e, "margin_i", o->margin_i);
      cJSON_AddNumberToObject(e, "margin_j", o->margin_j);
    } else if (o->row >= 0) cJSON_AddNumberToObject(e, "row", o->row); else cJSON_AddStringToObject(e, "row", "all");
    cJSON_AddNumberToObject(e, "upper", sr.upper);
    cJSON_AddNumberToObject(e, "lower", sr.lower);
    cJSON_AddNumberToObject(e, "gap", sr.gap);
    cJSON_AddNumberToObject(e, "nodes", (double)sr.nodes);
    cJSON_AddNumberToObject(e, "lps", (double)sr.lps);
    cJSON_AddNumberToObject(e, "pruned", (double)sr.pruned);
    cJSON_AddNumberToObject(e, "uncertified", (double)sr.kept_uncertified);
    cJSON_AddNumberToObject(e, "open", (double)sr.open);
    cJSON_AddNumberToObject(e, "seconds", sr.seconds);
    cJSON_AddNumberToObject(e, "seconds_to_1pct", sr.t_report);
    cJSON_AddStringToObject(e, "stop", sr.stop);
    cJSON_AddNumberToObject(e, "grad_norm_at_point", sr.grad_norm);
    cJSON_AddItemToObject(e, "point", cJSON_CreateDoubleArray(x, (int)n));
    cJSON_AddItemToObject(e, "point2", cJSON_CreateDoubleArray(y, (int)n));
    cJSON_AddItemToArray(rows, e);
  }
  cb_free(lo);
  return CB_OK;
}

/* --bracket --data --eps: per row, liplocal_margins over the ball; adds
   "bracket_local" to root. */
static int bracket_local(const lip_cli *o, batch *b, const lip_result *r, cJSON *root, cb_error *err)
{
  size_t n = cb_net_input_size(b->net), no = cb_net_output_size(b->net);
  liplocal_result *res = NULL;
  double *pts = NULL;
  cJSON *arr = root ? cJSON_AddArrayToObject(root, "bracket_local") : NULL;
  liplocal_opts lo;
  cb_bnet bn;
  int rc;
  if (no < 2) return cb_error_set(err, CB_EUNSUP, "%s: local brackets are of class margins: the network has %zu output", o->net, no);
  if ((rc = bnet_init(&bn, b->net, err)) != CB_OK) return rc;
  liplocal_opts_init(&lo);
  lo.max_nodes = o->has_nodes ? o->bab.max_nodes : 1024;
  lo.gap = o->bab.gap;
  res = cb_alloc((no - 1) * sizeof *res);
  pts = cb_alloc(2 * (no - 1) * n * sizeof *pts);
  if (!res || !pts) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  printf("local brackets over L%s balls of radius %g, margins f_label - f_j, gap target %g, %ld nodes per margin\n",
         cb_norm_table[r->norm].name, o->eps, lo.gap, lo.max_nodes);
  for (size_t i = 0; i < b->n && rc == CB_OK; i++) {
    cb_set s = {r->norm, o->eps, n, batch_x(b, i), NULL, NULL};
    cb_ws *ws = ws_new(&bn, &s, err);
    int label = batch_label(b, i);
    double wu = 0, wl = 0;
    if (!ws) { rc = err->status ? err->status : CB_ENOMEM; break; }
    if ((rc = bounds_run(ws, CB_CROWN, err)) == CB_OK) rc = liplocal_margins(ws, label, r, &lo, res, pts, err);
    ws_free(ws);
    if (rc != CB_OK) break;
    for (size_t j = 0; j + 1 < no; j++) { wu = fmax(wu, res[j].upper); wl = fmax(wl, res[j].lower); }
    if (!o->quiet) {
      char bu[40], bl[40], bp[40];
      printf("row %zu: label %d  max over margins: upper %s lower %s\n", i, label, fmt_dir(bu, wu, 6, 1),
             fmt_dir(bl, wl, 6, -1));
      for (size_t j = 0, c = 0; j + 1 < no; j++, c++) {
        if (c == (size_t)label) c++;
        printf("  class %zu: upper %s (interval %s) lower %s gap %.3g nodes %ld unstable %d\n", c,
               fmt_dir(bu, res[j].upper, 6, 1), fmt_dir(bp, res[j].upper_plain, 6, 1), fmt_dir(bl, res[j].lower, 6, -1), res[j].gap, res[j].nodes, res[j].unstable);
      }
    }
    if (arr) {
      cJSON *e = cJSON_CreateObject(), *m = cJSON_AddArrayToObject(e, "margins");
      cJSON_AddNumberToObject(e, "index", (double)(b->r0 + i));
      cJSON_AddNumberToObject(e, "label", label);
      cJSON_AddNumberToObject(e, "eps", o->eps);
      for (size_t j = 0, c = 0; j + 1 < no; j++, c++) {
        cJSON *q = cJSON_CreateObject();
        if (c == (size_t)label) c++;
        cJSON_AddNumberToObject(q, "class", (double)c);
        cJSON_AddNumberToObject(q, "upper", res[j].upper);
        cJSON_AddNumberToObject(q, "upper_plain", res[j].upper_plain);
        cJSON_AddNumberToObject(q, "lower", res[j].lower);
        cJSON_AddNumberToObject(q, "grad_norm", res[j].grad_norm);
        cJSON_AddNumberToObject(q, "gap", res[j].gap);
        cJSON_AddNumberToObject(q, "nodes", (double)res[j].nodes);
        cJSON_AddNumberToObject(q, "unstable", res[j].unstable);
        cJSON_AddItemToObject(q, "point", res[j].attained ? cJSON_CreateDoubleArray(pts + 2 * j * n, (int)n) : cJSON_CreateNull());
        cJSON_AddItemToObject(q, "point_y", res[j].attained ? cJSON_CreateDoubleArray(pts + (2 * j + 1) * n, (int)n) : cJSON_CreateNull());
        cJSON_AddItemToArray(m, q);
      }
      cJSON_AddItemToArray(arr, e);
    }
  }
out:
  cb_free(res);
  cb_free(pts);
  bnet_free(&bn);
  return rc;
}

/* Loads, bounds, prints, certifies --data rows, writes --json. */
static int lip_run(const lip_cli *o, cb_error *err)
{
  batch b = {0};
  lip_result *r = NULL;
  cJSON *root = NULL;
  int rc;
  if ((rc = batch_load_net(&b, o->net, err)) != CB_OK) goto out;
  if (o->bracket && o->row >= 0 && (size_t)o->row >= cb_net_output_size(b.net)) {
    rc = cb_error_set(err, CB_EVALUE, "--row %d: the network has %zu outputs", o->row, cb_net_output_size(b.net));
    goto out;
  }
  if (o->bracket && o->margin_i >= 0 && (size_t)(o->margin_i > o->margin_j ? o->margin_i : o->margin_j) >= cb_net_output_size(b.net)) {
    rc = cb_error_set(err, CB_EVALUE, "--margin %d:%d: the network has %zu outputs", o->margin_i, o->margin_j, cb_net_output_size(b.net));
    goto out;
  }
  if ((rc = lip_analyze(b.net, &o->lo, &r, err)) != CB_OK) goto out;
  print_layers(b.net, r);
  if (o->json && !(root = lip_json(o, b.net, r))) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  if (o->data && (rc = certify_rows(&b, r, o, root, err)) != CB_OK) goto out;
  if (o->bracket && o->has_eps && (rc = bracket_local(o, &b, r, root, err)) != CB_OK) goto out;
  if (o->bracket && o->split_sign && (rc = bracket_sign(o, b.net, r, root, err)) != CB_OK) goto out;
  if (o->bracket && o->has_domain && !o->split_sign && (rc = bracket_rows(o, b.net, r, root, err)) != CB_OK) goto out;
  if (o->json) rc = report_write_json(o->json, root, err);
out:
  cJSON_Delete(root);
  lip_result_free(r);
  batch_close(&b);
  return rc;
}

/* `cerbere lipschitz`: returns the exit code. */
int cmd_lipschitz(int argc, char **argv)
{
  static const char *const valued[] = {"--norm", "--data", "--json", "--dense-max", "--iters", "--tol",
                                       "--timeout", "--max-memory", "--domain", "--row", "--gap", "--nodes",
                                       "--budget", "--split", "--eps", "--margin", NULL};
  lip_cli o;
  cb_error err = {0};
  int rc = parse("lipschitz", usage_lip, valued, argc, argv, &o);
  if (rc >= 0) return rc;
  if (o.has_eps && !(o.bracket && o.data)) return report_usage("lipschitz", "%s", "--eps goes with --bracket and --data (local brackets)");
  if (o.has_eps && (o.has_domain || o.row >= 0)) return report_usage("lipschitz", "%s", "--eps (local brackets over balls) and --domain/--row (a box) exclude each other");
  if (o.bracket && !o.has_domain && !o.has_eps) return report_usage("lipschitz", "%s", "--bracket needs --domain LO:HI, --domain all, or --data with --eps");
  if (o.domain_all && !o.split_sign) return report_usage("lipschitz", "%s", "--domain all needs --split sign");
  if (o.margin_i >= 0 && !(o.bracket && o.split_sign)) return report_usage("lipschitz", "%s", "--margin I:J goes with --bracket --split sign or --domain all");
  if (o.margin_i >= 0 && o.row >= 0) return report_usage("lipschitz", "%s", "--margin and --row exclude each other");
  if (!o.bracket && (o.has_domain || o.row >= 0)) return report_usage("lipschitz", "%s", "--domain and --row go with --bracket");
  if (lip_run(&o, &err) != CB_OK) return report_fail(&err);
  return 0;
}

/* ------------------------------------------------------------------ orthonormalize */

/* Fraction of rows of d whose argmax is the label. */
static int accuracy(const cb_net *net, const cb_data *d, double *acc, cb_error *err)
{
  size_t rows = cb_data_rows(d), no = cb_net_output_size(net), ok = 0;
  double *y = cb_calloc(rows * no, sizeof *y);
  int rc;
  if (!y) return cb_error_set(err, CB_ENOMEM, "out of memory");
  rc = cb_net_forward(net, cb_data_x(d, 0), rows, y, err);
  for (size_t r = 0; rc == CB_OK && r < rows; r++) ok += cb_argmax(y + r * no, no) == (size_t)cb_data_label(d, r);
  *acc = rows ? (double)ok / (double)rows : 0;
  cb_free(y);
  return rc;
}

static cJSON *orth_json(const lip_cli *o, const cb_net *net, const lip_orth_layer *recs, int n,
                        const lip_result *before, const lip_result *after, const double *acc)
{
  cJSON *root = cJSON_CreateObject(), *arr;
  cJSON_AddStringToObject(root, "command", "orthonormalize");
  cJSON_AddStringToObject(root, "version", CB_VERSION);
  cJSON_AddStringToObject(root, "net", o->net);
  cJSON_AddStringToObject(root, "out", o->out);
  arr = cJSON_AddArrayToObject(root, "layers");
  for (int k = 0; k < n; k++) {
    cJSON *l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "node", net->node[recs[k].node].name);
    cJSON_AddStringToObject(l, "op", net->node[recs[k].node].op);
    cJSON_AddBoolToObject(l, "orthonormalized", recs[k].done);
    cJSON_AddNumberToObject(l, "sigma_lower_before", recs[k].before_lo);
    cJSON_AddNumberToObject(l, "sigma_upper_before", recs[k].before_up);
    cJSON_AddNumberToObject(l, "sigma_lower_after", recs[k].after_lo);
    cJSON_AddNumberToObject(l, "sigma_upper_after", recs[k].after_up);
    if (recs[k].done) {
      cJSON_AddNumberToObject(l, "orth_residual_fro", recs[k].residual);
      cJSON_AddNumberToObject(l, "bjorck_residual_fro", recs[k].bjorck_residual);
      cJSON_AddNumberToObject(l, "bjorck_iters", recs[k].iters);
      cJSON_AddNumberToObject(l, "shrink", recs[k].shrink);
      if (recs[k].rko_bound > 0) cJSON_AddNumberToObject(l, "rko_operator_bound", recs[k].rko_bound);
    }
    cJSON_AddItemToArray(arr, l);
  }
  cJSON_AddNumberToObject(root, "K_before", fmin(before->K_layerwise, before->K_merged));
  cJSON_AddNumberToObject(root, "K_after", fmin(after->K_layerwise, after->K_merged));
  if (acc) { cJSON_AddNumberToObject(root, "accuracy_before", acc[0]); cJSON_AddNumberToObject(root, "accuracy_after", acc[1]); }
  return root;
}

static void orth_print(const cb_net *net, const lip_orth_layer *recs, int n, const lip_result *before,
                       const lip_result *after)
{
  for (int k = 0; k < n; k++) {
    const lip_orth_layer *r = &recs[k];
    printf("layer %-24s %-8s sigma_max <= %.10g -> <= %.10g", net->node[r->node].name,
           net->node[r->node].op, r->before_up, r->after_up);
    if (!r->done) printf("  (kept: no weight initializer)\n");
    else if (r->rko_bound > 0)
      printf("  RKO: Bjorck %d it, ||W^T W - I||_F %.3g; the conv's bound was then %.6g%s\n", r->iters,
             r->bjorck_residual, r->rko_bound, r->rko_bound > 1 ? ", kernel divided by it (RKO alone is not 1-Lipschitz)" : "");
    else printf("  ||W^T W - I||_F %.3g (as written)  Bjorck %d it\n", r->residual, r->iters);
  }
  printf("K before %.12g, K after %.12g (guaranteed, of the file written)\n",
         fmin(before->K_layerwise, before->K_merged), fmin(after->K_layerwise, after->K_merged));
}

/* Reloads and bounds the written file: the K printed is that of the file on disk. */
static int orth_after(const lip_cli *o, const cb_net *net, lip_orth *orth, cb_net **net2,
                      lip_result **after, cb_error *err)
{
  int rc;
  if ((rc = cb_net_load(o->out, net2, err)) != CB_OK) return rc;
  if ((rc = lip_orth_check(orth, net, *net2, NULL, err)) != CB_OK) return rc;
  if ((rc = lip_analyze(*net2, &o->lo, after, err)) != CB_OK) return rc;
  return lip_orth_check(orth, net, *net2, *after, err);
}

/* Whole orthonormalize pipeline; every resource freed at out. */
static int orth_run(const lip_cli *o, cb_error *err)
{
  batch b = {0};
  batch_rows sel = {0, -1, 0, NULL};
  cb_net *net = NULL, *net2 = NULL;
  lip_result *before = NULL, *after = NULL;
  lip_orth *orth = NULL;
  cb_data *d = NULL;
  cJSON *root = NULL;
  double acc[2];
  int rc, written = 0;
  if ((rc = batch_load_net(&b, o->net, err)) != CB_OK) goto out;
  net = b.net;
  if (strcmp(net->format, "onnx")) { rc = cb_error_set(err, CB_EUNSUP, "%s: orthonormalize writes ONNX; give an ONNX network", o->net); goto out; }
  if ((rc = lip_analyze(net, &o->lo, &before, err)) != CB_OK) goto out;
  if (o->data && (rc = batch_load_rows(&b, o->data, &sel, err)) != CB_OK) goto out;
  d = b.d;
  if ((rc = lip_orthonormalize(net, before, &o->bo, &orth, err)) != CB_OK) goto out;
  if ((rc = onnx_write_patched(o->net, o->out, orth->patch, orth->n_patch, err)) != CB_OK) goto out;
  written = 1;
  if ((rc = orth_after(o, net, orth, &net2, &after, err)) != CB_OK) goto out;
  if (d && ((rc = accuracy(net, d, &acc[0], err)) != CB_OK || (rc = accuracy(net2, d, &acc[1], err)) != CB_OK)) goto out;
  if (o->json && (rc = report_write_json(o->json, root = orth_json(o, net, orth->layer, orth->n_layers, before, after, d ? acc : NULL), err)) != CB_OK) goto out;
  orth_print(net, orth->layer, orth->n_layers, before, after);
  if (d) printf("accuracy on %s: %.4f before, %.4f after (measured)\n", o->data, acc[0], acc[1]);
out:
  if (rc != CB_OK && written) remove(o->out);  /* a failing run leaves no output */
  lip_orth_free(orth);
  cJSON_Delete(root);
  lip_result_free(before); lip_result_free(after);
  cb_net_free(net2);
  batch_close(&b);
  return rc;
}

/* `cerbere orthonormalize`: returns the exit code. */
int cmd_orthonormalize(int argc, char **argv)
{
  static const char *const valued[] = {"-o", "--iters", "--order", "--tol", "--data", "--json",
                                       "--timeout", "--max-memory", NULL};
  lip_cli o;
  cb_error err = {0};
  int rc = parse("orthonormalize", usage_orth, valued, argc, argv, &o);
  if (rc >= 0) return rc;
  if (!o.out) return report_usage("orthonormalize", "%s", "missing -o OUT.onnx");
  o.lo.power_iters = 1000;
  o.lo.power_tol = 1e-12;
  if (orth_run(&o, &err) != CB_OK) return report_fail(&err);
  return 0;
}
