/* The rows of a command and the loop over them (see batch.h). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "linalg.h"
#include "report.h"

/* Rows [r0, r1) of d checked before any work: each label a class of the
   network (n_classes outputs, cb_data_check_labels) and, when ball is not
   NULL, each row's set not empty (set_check, the same words for every
   command).  The first bad row is named, "PATH: row R: ...", CB_EVALUE. */
static int check_rows(const batch *b, const cb_data *d, const char *path, size_t r0, size_t r1, size_t n_classes,
                      const batch_ball *ball, cb_error *err)
{
  size_t n = cb_data_cols(d);
  double *box = NULL;
  cb_set s;
  int rc = n_classes ? cb_data_check_labels(d, path, r0, r1, n_classes, err) : CB_OK;   /* 0: labels unused */
  for (size_t r = r0; rc == CB_OK && n_classes && b->target >= 0 && r < r1; r++)
    if (cb_data_label(d, r) == b->target)
      rc = cb_error_set(err, CB_EVALUE, "%s: row %zu: label %d is the target class (--target %d): nothing to exclude", path, r,
                        b->target, b->target);
  if (rc != CB_OK || !ball) return rc;
  s = (cb_set){ball->norm, ball->eps, n, NULL, NULL, NULL, b->eps_w};
  if (ball->clip || b->box_lo) {   /* the clip box and --box, merged as the certifier does */
    if (!(box = cb_alloc(2 * n * sizeof *box))) return cb_error_set(err, CB_ENOMEM, "out of memory");
    for (size_t j = 0; j < n && rc == CB_OK; j++) {
      box[j] = ball->clip ? ball->lo : -HUGE_VAL;
      box[n + j] = ball->clip ? ball->hi : HUGE_VAL;
      if (b->box_lo) { box[j] = fmax(box[j], b->box_lo[j]); box[n + j] = fmin(box[n + j], b->box_hi[j]); }
      if (!(box[j] <= box[n + j]))
        rc = cb_error_set(err, CB_EVALUE, "--box: input %zu: [%g, %g] is empty%s", j, box[j], box[n + j], ball->clip ? " (cut by --clip)" : "");
    }
    s.lo = box; s.hi = box + n;
  }
  for (size_t r = r0; r < r1 && rc == CB_OK; r++) {
    cb_error e = {0};
    s.center = cb_data_x(d, r);
    if ((rc = set_check(&s, &e)) != CB_OK) rc = cb_error_set(err, e.status, "%s: row %zu: %s", path, r, e.msg);
  }
  cb_free(box);
  return rc;
}

/* --labels and --scale, taken out of argv by batch_data_options (the CLI
   runs one command per process). */
static const char *data_labels;
static double data_scale = 1;
static const char *box_paths[2], *epsw_path;   /* --box LO HI, --eps-per-feature FILE */
static long data_target = -1;                  /* --target K */
#define NORM_MAX 4096
static double norm_mean[NORM_MAX], norm_std[NORM_MAX];   /* --mean / --std, per channel */
static size_t norm_nm, norm_ns;

/* A comma-separated list of finite numbers into v (at most NORM_MAX); count, 0 if malformed. */
static size_t parse_list(const char *s, double *v)
{
  size_t n = 0;
  while (*s && n < NORM_MAX) {
    char *e;
    v[n] = strtod(s, &e);
    if (e == s || !isfinite(v[n])) return 0;
    n++;
    if (*e == ',') s = e + 1; else if (!*e) return n; else return 0;
  }
  return 0;
}

/* S as a number, or A/B as A divided by B: finite and > 0. */
static int parse_scale(const char *v, double *s)
{
  char *e;
  double a = strtod(v, &e), b = 1;
  if (e != v && *e == '/') {
    const char *q = e + 1;
    b = strtod(q, &e);
    if (e == q) return 0;
  }
  *s = a / b;
  return e != v && !*e && isfinite(*s) && *s > 0;
}

int batch_data_options(const char *cmd, int *argc, char **argv)
{
  int n = 0, data = 0, extra = 0;
  for (int i = 0; i < *argc; i++) {
    const char *a = argv[i], *v = i + 1 < *argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--data")) data = 1;
    if ((!strcmp(a, "--box") || !strcmp(a, "--eps-per-feature") || !strcmp(a, "--target")) &&
        (!strcmp(cmd, "certify") || !strcmp(cmd, "bounds"))) {   /* others: their own --target, or "unknown option" */
      if (!v || (a[2] == 'b' && (i + 2 >= *argc || !strncmp(argv[i + 2], "--", 2)))) return report_usage(cmd, "%s", a[2] == 'b' ? "--box needs two files, LO and HI" : "a threat option needs a value");
      if (a[2] == 'b') { box_paths[0] = v; box_paths[1] = argv[i + 2]; i += 2; continue; }
      if (a[2] == 'e') epsw_path = v;
      else {
        char *e;
        data_target = strtol(v, &e, 10);
        if (e == v || *e || data_target < 0 || data_target > 1000000) return report_usage(cmd, "--target wants a class number >= 0, not '%s'", v);
      }
      i++;
      continue;
    }
    if (!strcmp(a, "--mean") || !strcmp(a, "--std")) {
      size_t *cnt = a[2] == 'm' ? &norm_nm : &norm_ns;
      if (!v) return report_usage(cmd, "%s needs a value", a);
      if (!(*cnt = parse_list(v, a[2] == 'm' ? norm_mean : norm_std)))
        return report_usage(cmd, "%s", a[2] == 'm' ? "--mean wants numbers separated by commas (one per channel, or one for all)"
                                                 : "--std wants numbers separated by commas (one per channel, or one for all)");
      i++;
      continue;
    }
    if (strcmp(a, "--labels") && strcmp(a, "--scale")) { argv[n++] = argv[i]; continue; }
    if (!v) return report_usage(cmd, "%s needs a value", a);
    if (a[2] == 'l') data_labels = v;
    else if (!parse_scale(v, &data_scale)) return report_usage(cmd, "--scale wants a number > 0 or A/B, not '%s'", v);
    extra = 1;
    i++;
  }
  *argc = n;
  argv[n] = NULL;
  if (extra && !data) return report_usage(cmd, "%s", "--labels and --scale go with --data");
  if ((norm_nm || norm_ns) && norm_nm != norm_ns)
    return report_usage(cmd, "%s", "--mean and --std go together, with as many values each");
  return 0;
}

int batch_load_net(batch *b, const char *net_path, cb_error *err)
{
  int rc;
  b->net_path = net_path;
  if ((rc = cb_net_load(net_path, &b->net, err)) != CB_OK) return rc;
  if (norm_nm && (rc = net_prefix_scale(b->net, norm_mean, norm_std, norm_nm, err)) != CB_OK) return rc;
  b->n_in = cb_net_input_size(b->net);
  b->n_out = cb_net_output_size(b->net);
  b->target = (int)data_target;
  if (data_target >= 0 && (size_t)data_target >= b->n_out)
    return cb_error_set(err, CB_EUSAGE, "%s: --target %ld is not a class of the network (0..%zu)", net_path, data_target, b->n_out - 1);
  if (box_paths[0]) {
    if (!(b->box_lo = cb_alloc(2 * b->n_in * sizeof *b->box_lo))) return cb_error_set(err, CB_ENOMEM, "out of memory");
    b->box_hi = b->box_lo + b->n_in;
    if ((rc = cb_vector_load(box_paths[0], b->n_in, b->box_lo, err)) != CB_OK ||
        (rc = cb_vector_load(box_paths[1], b->n_in, b->box_hi, err)) != CB_OK) return rc;
    for (size_t j = 0; j < b->n_in; j++)
      if (!(b->box_lo[j] <= b->box_hi[j]))
        return cb_error_set(err, CB_EVALUE, "%s: input %zu: lower bound %g is above the upper bound %g in %s", box_paths[0], j,
                            b->box_lo[j], b->box_hi[j], box_paths[1]);
  }
  if (epsw_path) {
    if (!(b->eps_w = cb_alloc(b->n_in * sizeof *b->eps_w))) return cb_error_set(err, CB_ENOMEM, "out of memory");
    if ((rc = cb_vector_load(epsw_path, b->n_in, b->eps_w, err)) != CB_OK) return rc;
    for (size_t j = 0; j < b->n_in; j++)
      if (!(b->eps_w[j] >= 0)) return cb_error_set(err, CB_EVALUE, "%s: input %zu: radius %g is negative", epsw_path, j, b->eps_w[j]);
  }
  return CB_OK;
}

cJSON *batch_json_threat(const batch *b)
{
  cJSON *t = cJSON_CreateObject();
  if (b->box_lo) {
    cJSON *x = cJSON_AddObjectToObject(t, "box");
    cJSON_AddStringToObject(x, "lo", box_paths[0]);
    cJSON_AddStringToObject(x, "hi", box_paths[1]);
  } else cJSON_AddNullToObject(t, "box");
  if (b->eps_w) cJSON_AddStringToObject(t, "eps_per_feature", epsw_path);
  else cJSON_AddNullToObject(t, "eps_per_feature");
  if (b->target >= 0) cJSON_AddNumberToObject(t, "target", b->target);
  else cJSON_AddNullToObject(t, "target");
  return t;
}

int batch_load_rows(batch *b, const char *data_path, const batch_rows *sel, cb_error *err)
{
  size_t rows;
  int rc;
  b->data_path = data_path;
  if ((rc = cb_data_load(data_path, data_labels, b->n_in, data_scale, &b->d, err)) != CB_OK) return rc;
  rows = cb_data_rows(b->d);
  b->r0 = (size_t)sel->r0;
  b->r1 = sel->r1 < 0 ? rows : (size_t)sel->r1;
  if (sel->margins == 1 && b->n_out < 2) return cb_error_set(err, CB_EUSAGE, "%s: margins need at least 2 outputs", b->net_path);
  if (b->r1 > rows) return cb_error_set(err, CB_EUSAGE, "%s: --rows goes past the last row", data_path);
  b->n = b->r1 - b->r0;
  if (b->eps_w && sel->ball && sel->ball->norm != CB_NORM_INF)
    return cb_error_set(err, CB_EUSAGE, "%s: per-feature radii make a weighted L-inf ball: use --norm inf, not %s", epsw_path,
                        cb_norm_table[sel->ball->norm].name);
  return check_rows(b, b->d, data_path, b->r0, b->r1, sel->no_labels || (sel->margins == -1 && b->n_out < 2) ? 0 : b->n_out, sel->ball, err);
}

void batch_print_warnings(const batch *b)
{
  for (int i = 0; b->net && i < b->net->n_warn; i++) printf("warning: %s: %s\n", b->net_path, b->net->warn[i]);
}

void batch_close(batch *b)
{
  cb_data_free(b->d);
  cb_net_free(b->net);
  cb_free(b->box_lo);
  cb_free(b->eps_w);
  b->d = NULL;
  b->net = NULL;
  b->box_lo = b->box_hi = b->eps_w = NULL;
}

const double *batch_x(const batch *b, size_t k) { return cb_data_x(b->d, b->r0 + k); }
int batch_label(const batch *b, size_t k) { return cb_data_label(b->d, b->r0 + k); }

/*
** Rows are handed out in increasing order (dynamic, 1), so when row k fails
** every row below k has started and runs to its end: skipping the rows not
** started loses no lower failure, and the error reported does not depend on
** the threads.
*/
int batch_run(const batch *b, const batch_loop *L, cb_error *err)
{
  volatile int stop_local = 0, *stop = L->stop ? L->stop : &stop_local;
  int rc = CB_OK;
  size_t bad = b->n;    /* the lowest failing row so far */
  la_set_threads(1);
#pragma omp parallel num_threads(L->threads > 0 ? L->threads : omp_get_max_threads())
  {
    cb_error te = {0};
    void *state = L->thread_new ? L->thread_new(L->ctx, &te) : NULL;
    int dead = L->thread_new && !state;
#pragma omp for schedule(dynamic, 1)
    for (long k = 0; k < (long)b->n; k++) {
      cb_error e = {0};
      int st;
      if (*stop) continue;
      if (dead) { e = te; st = te.status; }
      else st = L->row(L->ctx, state, (size_t)k, &e);
#pragma omp critical(batch_run)
      {
        if (st < 0) {
          if ((size_t)k < bad) { bad = (size_t)k; rc = st; *err = e; }
          *stop = 2;
        } else if (st == CB_OK && !*stop && L->done) L->done(L->ctx, state, (size_t)k);
      }
    }
    if (state && L->thread_free) L->thread_free(state);
  }
  if (rc != CB_OK && L->name_row) {
    cb_error e = *err;
    cb_error_clear(err);
    rc = cb_error_set(err, rc, "%s: row %zu: %s", b->data_path, b->r0 + bad, e.msg);
  }
  return rc;
}

cJSON *batch_json_top(const batch *b, const char *command)
{
  cJSON *t = cJSON_CreateObject();
  cJSON_AddStringToObject(t, "command", command);
  cJSON_AddStringToObject(t, "version", CB_VERSION);
  cJSON_AddStringToObject(t, "net", b->net_path);
  cJSON_AddStringToObject(t, "data", b->data_path);
  if (data_labels) cJSON_AddStringToObject(t, "labels", data_labels);
  if (data_scale != 1) cJSON_AddNumberToObject(t, "scale", data_scale);
  if (norm_nm) {
    cJSON *nm = cJSON_AddObjectToObject(t, "normalisation");
    cJSON_AddItemToObject(nm, "mean", cJSON_CreateDoubleArray(norm_mean, (int)norm_nm));
    cJSON_AddItemToObject(nm, "std", cJSON_CreateDoubleArray(norm_std, (int)norm_ns));
  }
  {
    cJSON *w = cJSON_AddArrayToObject(t, "warnings");   /* the loader's: NNet normalisation, dropped Softmax */
    for (int i = 0; b->net && i < b->net->n_warn; i++) cJSON_AddItemToArray(w, cJSON_CreateString(b->net->warn[i]));
  }
  cJSON_AddStringToObject(t, "input_space", norm_nm ? "raw: eps, clip box and counterexamples are in the data's space; "
                          "the net sees (x - mean) / std" : "the network's input");
  return t;
}

cJSON *batch_json_sample(const batch *b, size_t k)
{
  cJSON *s = cJSON_CreateObject();
  cJSON_AddNumberToObject(s, "index", (double)(b->r0 + k));
  cJSON_AddNumberToObject(s, "label", batch_label(b, k));
  return s;
}

void batch_progress(size_t done, size_t total, double secs, const char *what)
{
  double eta = done ? secs / (double)done * (double)(total - done) : 0;
  fprintf(stderr, "\r[%zu/%zu] %s  ETA %.0f s   ", done, total, what, eta);
  if (done == total) fputc('\n', stderr);
}
