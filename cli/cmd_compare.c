/*
** `cerbere compare-models`: MeGe and ReCo of an attribution method over K
** models trained on K splits (certify/attr_compare.c has the definitions).
** Model k (the k-th of --models) is the one that did not see split k; the
** splits file gives, per data row, its split.  Every model must take the
** same input and have the same classes; the splits must partition the rows
** into K non-empty parts.  Nothing is written when anything fails.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attr_cli.h"
#include "cmd.h"
#include "report.h"

static const char *usage =
  "usage: cerbere compare-models --models M1 M2 ... MK --data FILE --splits SPLITS.csv\n"
  "                              --method M [method options] [--json OUT] [--quiet]\n"
  "\n"
  "MeGe (representativity) and ReCo (consistency) of an attribution method, as\n"
  "in Xplique's K-models / K-splits protocol (Fel, Vigouroux et al. 2020): model\n"
  "k was trained on every split but split k.  For each pair of models and each\n"
  "row that one of them never saw and at least one predicts right, the distance\n"
  "sqrt(1 - |Spearman rho|) of their maps (of the row's label) goes to S= when\n"
  "both predict the same class, else to S!=.  MeGe = 1 / (1 + mean S=); ReCo =\n"
  "max over thresholds of TPR + TNR - 1 separating S= from S!= (a rate with no\n"
  "pair counts as 1, so K identical models give MeGe 1 and ReCo 1).\n"
  "\n"
  "  --models M...  K >= 2 networks (ONNX or NNet), same input and classes; also\n"
  "                 as one comma-separated list\n"
  "  --data FILE    CSV rows label,x0,... (the whole dataset)\n"
  "  --splits FILE  one integer per line, one line per data row: the row's split\n"
  "                 0..K-1; every split must have a row\n"
  "  --method M     any method of 'cerbere attribute' (see its --help for the\n"
  "                 method options; --target defaults to the row's label)\n"
  "  --json OUT     {command, version, models, data, splits, method, settings,\n"
  "                 n_rows, accuracy: [per model], mege, reco, n_eq, n_ne,\n"
  "                 n_left_out}\n"
  "  --quiet        print only the summary line\n"
  "\n"
  "%s";

#define MAX_MODELS 64

typedef struct opts {
  const char *model[MAX_MODELS], *data, *splits, *json;
  int K, quiet, have_method;
  attr_cli ac;
} opts;

static int add_models(opts *o, const char *v)
{
  const char *p = v;
  for (;;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char *s;
    if (!len) return report_usage("compare-models", "--models has an empty name in '%s'", v);
    if (o->K >= MAX_MODELS) return report_usage("compare-models", "--models: at most 64 models (at '%s')", p);
    if (!(s = malloc(len + 1))) return report_usage("compare-models", "%s", "out of memory");
    memcpy(s, p, len);
    s[len] = 0;
    o->model[o->K++] = s;
    if (!e) return 0;
    p = e + 1;
  }
}

static int parse(int argc, char **argv, opts *o)
{
  int rc;
  memset(o, 0, sizeof *o);
  attr_opt_init(&o->ac.o);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { printf(usage, attr_cli_help); return -1; }
    if (!strcmp(a, "--quiet")) { o->quiet = 1; continue; }
    if (a[0] != '-') return report_usage("compare-models", "unexpected argument %s", a);
    if (i + 1 >= argc) return report_usage("compare-models", "%s needs a value", a);
    if (!strcmp(a, "--models")) {
      while (i + 1 < argc && argv[i + 1][0] != '-')
        if ((rc = add_models(o, argv[++i]))) return rc;
      continue;
    }
    v = argv[++i];
    if (!strcmp(a, "--method")) o->have_method = 1;
    if ((rc = attr_cli_option("compare-models", a, v, &o->ac)) > 0) return rc;
    if (rc < 0) continue;
    if (!strcmp(a, "--data")) o->data = v;
    else if (!strcmp(a, "--splits")) o->splits = v;
    else if (!strcmp(a, "--json")) o->json = v;
    else return report_usage("compare-models", "unknown option %s", a);
  }
  if (o->K < 2) return report_usage("compare-models", "%s", "--models needs at least two networks (K >= 2)");
  if (!o->data) return report_usage("compare-models", "%s", "missing --data FILE");
  if (!o->splits) return report_usage("compare-models", "%s", "missing --splits FILE");
  if (!o->have_method) return report_usage("compare-models", "%s", "missing --method");
  if (o->ac.o.method == AM_EVA) return report_usage("compare-models", "%s", "--method eva needs a ball; compare-models takes the other methods");
  return 0;
}

/* The split of every row: R lines, each an integer in 0..K-1, every split used. */
static int load_splits(const char *path, size_t R, int K, int *split, cb_error *err)
{
  FILE *f = fopen(path, "r");
  char line[256];
  size_t n = 0, count[MAX_MODELS] = {0};
  if (!f) return cb_error_set(err, CB_EIO, "%s: cannot open the splits file", path);
  while (fgets(line, sizeof line, f)) {
    char *e;
    long v;
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    if (n >= R) { fclose(f); return cb_error_set(err, CB_EFORMAT, "%s: line %zu: more lines than the %zu data rows (one split per row)", path, n + 1, R); }
    v = strtol(line, &e, 10);
    if (e == line || *e) { fclose(f); return cb_error_set(err, CB_EFORMAT, "%s: line %zu: '%s' is not an integer split index", path, n + 1, line); }
    if (v < 0 || v >= K) { fclose(f); return cb_error_set(err, CB_EVALUE, "%s: line %zu: split %ld is not in 0..%d (there are %d models)", path, n + 1, v, K - 1, K); }
    split[n++] = (int)v;
    count[v]++;
  }
  fclose(f);
  if (n != R) return cb_error_set(err, CB_EFORMAT, "%s: %zu lines for %zu data rows: the splits do not partition the data", path, n, R);
  for (int k = 0; k < K; k++)
    if (!count[k]) return cb_error_set(err, CB_EVALUE, "%s: split %d has no row: the splits do not partition the data into %d parts", path, k, K);
  return CB_OK;
}

static int compare(const opts *o, cb_error *err)
{
  cb_net *net[MAX_MODELS] = {0};
  cb_data *d = NULL;
  attr_ctx *a = NULL;
  size_t n = 0, no = 0, R = 0, nm = 0;
  int *split = NULL, *pred = NULL, *label = NULL, rc = CB_OK;
  double *maps = NULL, *y = NULL, acc[MAX_MODELS] = {0};
  attr_mege_res res;
  cJSON *top = NULL;
  for (int k = 0; k < o->K; k++) {
    if ((rc = cb_net_load(o->model[k], &net[k], err)) != CB_OK) goto out;
    if (!k) { n = cb_net_input_size(net[0]); no = cb_net_output_size(net[0]); continue; }
    if (cb_net_input_size(net[k]) != n) {
      rc = cb_error_set(err, CB_ESHAPE, "compare-models: %s takes %zu inputs and %s takes %zu: the K models must take the same input",
                        o->model[k], cb_net_input_size(net[k]), o->model[0], n);
      goto out;
    }
    if (cb_net_output_size(net[k]) != no) {
      rc = cb_error_set(err, CB_ESHAPE, "compare-models: %s has %zu classes and %s has %zu: the K models must have the same classes",
                        o->model[k], cb_net_output_size(net[k]), o->model[0], no);
      goto out;
    }
  }
  if ((rc = attr_cli_check(&o->ac, n, err)) != CB_OK) goto out;
  if ((rc = cb_data_load_csv(o->data, n, &d, err)) != CB_OK) goto out;
  R = cb_data_rows(d);
  if ((rc = cb_data_check_labels(d, o->data, 0, R, no, err)) != CB_OK) goto out;
  split = cb_alloc(3 * R * sizeof *split + (size_t)o->K * R * sizeof *pred);
  y = cb_alloc(no * sizeof *y);
  if (!split || !y) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  label = split + R;
  pred = label + R;
  if ((rc = load_splits(o->splits, R, o->K, split, err)) != CB_OK) goto out;
  for (int k = 0; k < o->K; k++) {
    if (!(a = attr_new(net[k], &o->ac.o, err))) { rc = err->status; goto out; }
    if (!k) {
      nm = attr_map_size(a);
      if (!(maps = cb_alloc((size_t)o->K * R * nm * sizeof *maps))) { rc = cb_error_set(err, CB_ENOMEM, "out of memory for %d x %zu maps", o->K, R); goto out; }
    }
    for (size_t r = 0; r < R; r++) {
      const double *x = cb_data_x(d, r);
      int t;
      label[r] = cb_data_label(d, r);
      if ((rc = cb_net_forward(net[k], x, 1, y, err)) != CB_OK) goto out;
      pred[(size_t)k * R + r] = (int)cb_argmax(y, no);
      acc[k] += (pred[(size_t)k * R + r] == label[r]) / (double)R;
      if ((rc = attr_target(a, x, label[r], &t, err)) != CB_OK) goto out;
      if ((rc = attr_map(a, x, t, maps + ((size_t)k * R + r) * nm, err)) != CB_OK) goto out;
    }
    attr_free(a);
    a = NULL;
  }
  if ((rc = attr_mege_reco(maps, pred, label, split, (size_t)o->K, R, nm, &res, err)) != CB_OK) goto out;
  if (o->json) {
    cJSON *m, *ac;
    top = cJSON_CreateObject();
    cJSON_AddStringToObject(top, "command", "compare-models");
    cJSON_AddStringToObject(top, "version", CB_VERSION);
    m = cJSON_AddArrayToObject(top, "models");
    for (int k = 0; k < o->K; k++) cJSON_AddItemToArray(m, cJSON_CreateString(o->model[k]));
    cJSON_AddStringToObject(top, "data", o->data);
    cJSON_AddStringToObject(top, "splits", o->splits);
    cJSON_AddStringToObject(top, "method", attr_method_name[o->ac.o.method]);
    cJSON_AddNumberToObject(top, "n_rows", (double)R);
    ac = cJSON_AddArrayToObject(top, "accuracy");
    for (int k = 0; k < o->K; k++) cJSON_AddItemToArray(ac, cJSON_CreateNumber(acc[k]));
    if (isnan(res.mege)) cJSON_AddNullToObject(top, "mege"); else cJSON_AddNumberToObject(top, "mege", res.mege);
    if (isnan(res.reco)) cJSON_AddNullToObject(top, "reco"); else cJSON_AddNumberToObject(top, "reco", res.reco);
    cJSON_AddNumberToObject(top, "n_eq", (double)res.n_eq);
    cJSON_AddNumberToObject(top, "n_ne", (double)res.n_ne);
    cJSON_AddNumberToObject(top, "n_left_out", (double)res.n_nan);
    if ((rc = report_write_json(o->json, top, err)) != CB_OK) goto out;
  }
  if (!o->quiet)
    for (int k = 0; k < o->K; k++) printf("model %d %s: accuracy %.4f\n", k, o->model[k], acc[k]);
  printf("%d models, %zu rows, %s: MeGe %.6g, ReCo %.6g (|S=| %zu, |S!=| %zu, %zu pairs left out: constant map)\n", o->K, R,
         attr_method_name[o->ac.o.method], res.mege, res.reco, res.n_eq, res.n_ne, res.n_nan);
out:
  cJSON_Delete(top);
  attr_free(a);
  for (int k = 0; k < o->K; k++) cb_net_free(net[k]);
  cb_data_free(d);
  cb_free(split);
  cb_free(y);
  cb_free(maps);
  return rc;
}

int cmd_compare_models(int argc, char **argv)
{
  opts o;
  cb_error err = {0};
  int rc = parse(argc, argv, &o);
  if (rc == 0 && compare(&o, &err) != CB_OK) rc = report_fail(&err);
  for (int k = 0; k < o.K; k++) free((char *)o.model[k]);
  attr_cli_free(&o.ac);
  return rc < 0 ? 0 : rc;
}
