/*
** `cerbere merge DIR... --out DIR`: joins the output directories of certify
** runs over parts of one dataset (--shard I/N, or --rows A:B ranges) into
** the certificates.json and report.json/html one run over all the rows
** writes.  Nothing is recomputed: the samples are copied as they are, the
** summary is computed from them by the code a run uses (cert_run.c), and the
** settings are the shards' without the keys that say which rows a run holds.
**
** Refused, with one line naming the directories and what differs, before
** anything is written: a directory without certificates.json (an unfinished
** shard), other tool versions (version and git commit), network or data
** digests (report.json), settings, threat model or Lipschitz section, a row
** held by two directories, and rows of the joined range held by none.
**
** What differs from a single run over all rows is the run's context, not
** its results: summary.time_s (the sum of the shards'), summary.threads
** (the sum), per-sample time_ms and method_ms (as each shard measured them),
** and in report.json the timing object, host and cwd.  argv and
** command_line are the first shard's certify command with --shard and
** --resume taken out and --out set to the merge's directory: the single run
** that gives these results.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cert_run.h"
#include "cmd.h"
#include "report.h"
#include "report_doc.h"

static const char *usage =
  "usage: cerbere merge DIR1 DIR2 ... --out DIR [--json OUT] [--quiet]\n"
  "\n"
  "Joins the output directories of `certify --shard I/N` runs (or of runs over\n"
  "--rows ranges) into DIR/certificates.json and DIR/report.json + report.html,\n"
  "the files one certify run over all the rows writes: the same samples, settings\n"
  "(without the shard) and summary.  Only timing and where the run ran differ\n"
  "(summary.time_s and threads are the shards' sums; report.json's timing, host,\n"
  "cwd).  See docs/cluster.md.\n"
  "\n"
  "Refused, naming what differs, with nothing written: a directory without\n"
  "certificates.json (a shard still running or interrupted: finish it with\n"
  "--resume), other tool versions, network or data digests, settings, a row in\n"
  "two directories, or rows that no directory holds.\n"
  "\n"
  "  --out DIR      the merged certificates.json, report.json and report.html\n"
  "  --json OUT     also write the merged certificates to OUT\n"
  "  --quiet        no summary line\n"
  "\n"
  "exit codes: as certify's: 0 every sample verified, 10 some falsified, 11 none\n"
  "falsified but some unknown; 2 usage error, 3 the directories do not merge.\n";

typedef struct shard_in {
  const char *dir;
  cJSON *cert, *rep;        /* certificates.json, report.json */
  const cJSON *run;         /* rep's runs[0] */
} shard_in;

static cJSON *read_json(const char *dir, const char *name, cb_error *err)
{
  char p[4096];
  FILE *f;
  long n;
  char *txt;
  cJSON *j;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  if (!(f = fopen(p, "rb"))) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  rewind(f);
  if (n < 0 || !(txt = malloc((size_t)n + 1))) { fclose(f); cb_error_set(err, CB_ENOMEM, "out of memory"); return NULL; }
  txt[fread(txt, 1, (size_t)n, f)] = 0;
  fclose(f);
  if (!(j = cJSON_Parse(txt))) cb_error_set(err, CB_EVALUE, "merge: %s: not valid JSON", p);
  free(txt);
  return j;
}

static int file_exists(const char *dir, const char *name)
{
  char p[4096];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return stat(p, &st) == 0;
}

static int load_shard(shard_in *s, const char *dir, cb_error *err)
{
  const cJSON *cmd;
  s->dir = dir;
  if (!(s->cert = read_json(dir, "certificates.json", err))) {
    if (err->status) return err->status;
    if (file_exists(dir, "progress.jsonl"))
      return cb_error_set(err, CB_EVALUE, "merge: %s: the run has not finished (progress.jsonl, no certificates.json): "
                          "finish it with certify --resume", dir);
    return cb_error_set(err, CB_EVALUE, "merge: %s: no certificates.json (not the --out directory of a finished certify run)", dir);
  }
  cmd = cJSON_GetObjectItem(s->cert, "command");
  if (!cJSON_IsString(cmd) || strcmp(cmd->valuestring, "certify") || !cJSON_IsArray(cJSON_GetObjectItem(s->cert, "samples")) ||
      !cJSON_IsObject(cJSON_GetObjectItem(s->cert, "settings")))
    return cb_error_set(err, CB_EVALUE, "merge: %s/certificates.json: not written by certify", dir);
  if (!(s->rep = read_json(dir, "report.json", err)))
    return err->status ? err->status : cb_error_set(err, CB_EVALUE, "merge: %s: no report.json", dir);
  s->run = cJSON_GetArrayItem(cJSON_GetObjectItem(s->rep, "runs"), 0);
  if (!cJSON_IsObject(s->run)) return cb_error_set(err, CB_EVALUE, "merge: %s/report.json: no run", dir);
  return CB_OK;
}

/* A JSON value, printed and cut to fit a message. */
static void show(const cJSON *v, char *out, size_t cap)
{
  char *t = v ? cJSON_PrintUnformatted(v) : NULL;
  snprintf(out, cap, "%s", t ? t : "(absent)");
  if (t && strlen(t) >= cap && cap > 4) strcpy(out + cap - 4, "...");
  cJSON_free(t);
}

/* The first place where a and b differ ("eps" or "threat_model.target"),
   skipping the keys in skip (top level only); 0 when equal. */
static int first_diff(const cJSON *a, const cJSON *b, const char *const *skip, int nskip, char *path, size_t cap)
{
  const cJSON *x;
  if (!cJSON_IsObject(a) || !cJSON_IsObject(b)) { if (cJSON_Compare(a, b, 1)) return 0; snprintf(path, cap, "%s", ""); return 1; }
  for (int pass = 0; pass < 2; pass++)
    cJSON_ArrayForEach(x, (pass ? b : a)) {
      const cJSON *y = cJSON_GetObjectItemCaseSensitive(pass ? a : b, x->string);
      int skipped = 0;
      for (int i = 0; i < nskip; i++) skipped |= !strcmp(x->string, skip[i]);
      if (skipped) continue;
      if (!y) { snprintf(path, cap, "%s", x->string); return 1; }
      if (!pass && !cJSON_Compare(x, y, 1)) {
        char sub[256] = "";
        if (cJSON_IsObject(x) && cJSON_IsObject(y)) first_diff(x, y, NULL, 0, sub, sizeof sub);
        snprintf(path, cap, "%s%s%s", x->string, *sub ? "." : "", sub);
        return 1;
      }
    }
  return 0;
}

/* The value at a dotted path ("threat_model.target"). */
static const cJSON *at(const cJSON *o, const char *path)
{
  char buf[256], *save = NULL;
  snprintf(buf, sizeof buf, "%s", path);
  for (char *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save)) o = cJSON_GetObjectItemCaseSensitive(o, t);
  return o;
}

static int differ(const shard_in *a, const shard_in *b, const char *what, const cJSON *va, const cJSON *vb,
                  const char *const *skip, int nskip, cb_error *err)
{
  char path[256], sa[200], sb[200];
  if (!first_diff(va, vb, skip, nskip, path, sizeof path)) return CB_OK;
  show(*path ? at(va, path) : va, sa, sizeof sa);
  show(*path ? at(vb, path) : vb, sb, sizeof sb);
  return cb_error_set(err, CB_EVALUE, "merge: %s differ%s%s: %s in %s, %s in %s", what, *path ? " at " : "", path, sa, a->dir, sb, b->dir);
}

/* Same tool, network, data, settings (but the rows), threat model and Lipschitz section. */
static int check_same(const shard_in *a, const shard_in *b, cb_error *err)
{
  static const char *const row_keys[] = CERT_ROW_KEYS;
  static const char *const top_own[] = {"summary", "samples", "settings", "net", "data", "version"};
  const cJSON *ta = cJSON_GetObjectItem(a->rep, "tool"), *tb = cJSON_GetObjectItem(b->rep, "tool");
  int rc;
  if ((rc = differ(a, b, "tool versions", cJSON_GetObjectItem(a->cert, "version"), cJSON_GetObjectItem(b->cert, "version"), NULL, 0, err)) ||
      (rc = differ(a, b, "tool versions", ta, tb, NULL, 0, err)) ||
      (rc = differ(a, b, "network digests", at(a->run, "network.sha256"), at(b->run, "network.sha256"), NULL, 0, err)) ||
      (rc = differ(a, b, "data digests", at(a->run, "data.sha256"), at(b->run, "data.sha256"), NULL, 0, err)) ||
      (rc = differ(a, b, "settings", cJSON_GetObjectItem(a->cert, "settings"), cJSON_GetObjectItem(b->cert, "settings"), row_keys, 3, err)) ||
      (rc = differ(a, b, "certificates.json fields", a->cert, b->cert, top_own, 6, err)) ||
      (rc = differ(a, b, "Lipschitz sections", cJSON_GetObjectItem(a->run, "lipschitz"), cJSON_GetObjectItem(b->run, "lipschitz"), NULL, 0, err)))
    return rc;
  return CB_OK;
}

static long num(const cJSON *o, const char *k) { const cJSON *v = cJSON_GetObjectItem(o, k); return cJSON_IsNumber(v) ? (long)v->valuedouble : -1; }

/* Every row of [from, to) in exactly one directory: by[] gets each row's sample. */
static int check_rows(const shard_in *in, int n, long from, long to, const cJSON **by, const shard_in **owner, cb_error *err)
{
  long missing = 0, first = -1;
  char shards[256] = "";
  for (int i = 0; i < n; i++) {
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(in[i].cert, "samples")) {
      long r = num(s, "index");
      if (r < from || r >= to) return cb_error_set(err, CB_EVALUE, "merge: %s: row %ld lies outside the rows its settings name", in[i].dir, r);
      if (by[r - from])
        return cb_error_set(err, CB_EVALUE, "merge: overlapping rows: row %ld is in both %s and %s", r, owner[r - from]->dir, in[i].dir);
      by[r - from] = s;
      owner[r - from] = &in[i];
    }
  }
  for (long r = from; r < to; r++) if (!by[r - from]) { missing++; if (first < 0) first = r; }
  if (!missing) return CB_OK;
  {   /* sharded runs: name the shards no directory gives */
    const cJSON *sh = cJSON_GetObjectItem(cJSON_GetObjectItem(in[0].cert, "settings"), "shard");
    long cnt = num(sh, "count");
    size_t len = 0;
    for (long k = 0; sh && k < cnt && k < 64; k++) {
      int have = 0;
      for (int i = 0; i < n; i++) have |= num(cJSON_GetObjectItem(cJSON_GetObjectItem(in[i].cert, "settings"), "shard"), "index") == k;
      if (!have && len + 24 < sizeof shards) len += (size_t)snprintf(shards + len, sizeof shards - len, "%s%ld/%ld", len ? ", " : " (no --shard ", k, cnt);
    }
    if (len) snprintf(shards + len, sizeof shards - len, " given)");
  }
  return cb_error_set(err, CB_EVALUE, "merge: missing rows: %ld of rows %ld..%ld are in no directory, the first row %ld%s", missing, from, to - 1, first, shards);
}

/* argv of the single run: the first shard's, without --shard and --resume, --out DIR. */
static cJSON *single_argv(const cJSON *argv, const char *out, char **line)
{
  const cJSON *a;
  char *v[512];
  int n = 0;
  cJSON *r;
  cJSON_ArrayForEach(a, argv) {
    const char *w = cJSON_IsString(a) ? a->valuestring : "";
    if (n >= 510) break;
    if (!strcmp(w, "--shard")) { a = a->next; if (!a) break; continue; }
    if (!strcmp(w, "--resume")) continue;
    v[n++] = (char *)w;
    if (!strcmp(w, "--out") && a->next) { v[n++] = (char *)out; a = a->next; }
  }
  v[n] = NULL;
  r = report_argv(n, v, line);
  return r;
}

static void replace(cJSON *o, const char *k, cJSON *v)
{
  if (cJSON_GetObjectItem(o, k)) cJSON_ReplaceItemInObject(o, k, v);
  else cJSON_AddItemToObject(o, k, v);
}

/* The merged report.json: the first shard's run with the merged settings,
   summary (its timings moved to timing) and samples. */
static int write_report(const shard_in *a, const char *out, const cJSON *top, double secs, cb_error *err)
{
  cJSON *rep = cJSON_Duplicate(a->rep, 1), *run = cJSON_GetArrayItem(cJSON_GetObjectItem(rep, "runs"), 0);
  cJSON *sum = cJSON_Duplicate(cJSON_GetObjectItem(top, "summary"), 1), *timing = cJSON_CreateObject();
  char *line = NULL, when[32], host[256] = "unknown", cwd[4096] = "";
  time_t now = time(NULL);
  struct tm tm;
  int rc;
  replace(run, "argv", single_argv(cJSON_GetObjectItem(run, "argv"), out, &line));
  replace(run, "command_line", cJSON_CreateString(line ? line : ""));
  cb_free(line);
  replace(run, "settings", cJSON_Duplicate(cJSON_GetObjectItem(top, "settings"), 1));
  cJSON_AddItemToObject(timing, "time_s", cJSON_DetachItemFromObject(sum, "time_s"));
  cJSON_AddItemToObject(timing, "method_ms_total", cJSON_DetachItemFromObject(sum, "method_ms_total"));
  replace(run, "summary", sum);
  replace(run, "samples", cJSON_Duplicate(cJSON_GetObjectItem(top, "samples"), 1));
  if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm); else strcpy(when, "unknown");
  if (gethostname(host, sizeof host) != 0) strcpy(host, "unknown");
  host[sizeof host - 1] = 0;
  if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
  cJSON_AddStringToObject(timing, "created", when);
  replace(run, "host", cJSON_CreateString(host));
  replace(run, "cwd", cJSON_CreateString(cwd));
  replace(run, "timing", timing);
  (void)secs;
  rc = report_write_dir(out, rep, err);
  cJSON_Delete(rep);
  return rc;
}

static int merge(const char **dirs, int n, const char *out, const char *json, int quiet, cb_error *err)
{
  shard_in *in = cb_calloc((size_t)n, sizeof *in);
  const cJSON **by = NULL;
  const shard_in **owner = NULL;
  cJSON *top = NULL, *set, *samples, *sum;
  long from = -1, to = -1;
  double secs = 0;
  int threads = 0, rc = CB_OK, regression, ver, fal, unk;
  char fin[4096];
  if (!in) return cb_error_set(err, CB_ENOMEM, "out of memory");
  for (int i = 0; i < n && rc == CB_OK; i++) {
    const cJSON *st, *su;
    if ((rc = load_shard(&in[i], dirs[i], err)) != CB_OK) break;
    if (i && (rc = check_same(&in[0], &in[i], err)) != CB_OK) break;
    st = cJSON_GetObjectItem(in[i].cert, "settings");
    su = cJSON_GetObjectItem(in[i].cert, "summary");
    if (from < 0 || num(st, "rows_from") < from) from = num(st, "rows_from");
    if (num(st, "rows_to") > to) to = num(st, "rows_to");
    secs += cJSON_GetNumberValue(cJSON_GetObjectItem(su, "time_s"));
    threads += (int)num(su, "threads");
  }
  if (rc != CB_OK) goto out;
  if (from < 0 || to < from) { rc = cb_error_set(err, CB_EVALUE, "merge: %s: settings name no rows", dirs[0]); goto out; }
  by = cb_calloc((size_t)(to - from) + 1, sizeof *by);
  owner = cb_calloc((size_t)(to - from) + 1, sizeof *owner);
  if (!by || !owner) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  if ((rc = check_rows(in, n, from, to, by, owner, err)) != CB_OK) goto out;
  /* the single run's certificates.json, in its key order */
  top = cJSON_Duplicate(in[0].cert, 1);
  set = cJSON_GetObjectItem(top, "settings");
  cJSON_DeleteItemFromObject(set, "shard");
  cJSON_ReplaceItemInObject(set, "rows_from", cJSON_CreateNumber((double)from));
  cJSON_ReplaceItemInObject(set, "rows_to", cJSON_CreateNumber((double)to));
  samples = cJSON_CreateArray();
  for (long r = from; r < to; r++) cJSON_AddItemToArray(samples, cJSON_Duplicate(by[r - from], 1));
  regression = !cJSON_IsNull(cJSON_GetObjectItem(set, "tol"));
  if (!(sum = certify_summary_of(samples, secs, threads, regression))) { cJSON_Delete(samples); rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  cJSON_ReplaceItemInObject(top, "summary", sum);
  cJSON_ReplaceItemInObject(top, "samples", samples);
  if ((rc = report_prepare_dir(out, err)) != CB_OK) goto out;
  snprintf(fin, sizeof fin, "%s/certificates.json", out);
  if ((rc = report_write_json(fin, top, err)) != CB_OK) goto out;
  if (json && (rc = report_write_json(json, top, err)) != CB_OK) goto out;
  if ((rc = write_report(&in[0], out, top, secs, err)) != CB_OK) goto out;
  ver = (int)num(sum, "n_verified"); fal = (int)num(sum, "n_falsified"); unk = (int)num(sum, "n_unknown");
  if (!quiet)
    printf("cerbere merge: %d director%s, rows %ld..%ld (%ld samples): %d verified, %d falsified, %d unknown -> %s\n", n,
           n == 1 ? "y" : "ies", from, to - 1, to - from, ver, fal, unk, out);
  rc = fal ? EXIT_FALSIFIED : unk ? EXIT_UNKNOWN : 0;
out:
  for (int i = 0; i < n; i++) { cJSON_Delete(in[i].cert); cJSON_Delete(in[i].rep); }
  cb_free(in);
  cb_free(by);
  cb_free(owner);
  cJSON_Delete(top);
  return rc;
}

int cmd_merge(int argc, char **argv)
{
  const char **dirs = cb_calloc((size_t)argc + 1, sizeof *dirs), *out = NULL, *json = NULL;
  int n = 0, quiet = 0, rc;
  cb_error err = {0};
  if (!dirs) { fputs("cerbere: out of memory\n", stderr); return EXIT_INTERNAL; }
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage, stdout); cb_free(dirs); return 0; }
    if (!strcmp(a, "--quiet")) { quiet = 1; continue; }
    if (!strcmp(a, "--out") || !strcmp(a, "--json")) {
      if (i + 1 >= argc) { cb_free(dirs); return report_usage("merge", "%s needs a value", a); }
      if (a[2] == 'o') out = argv[++i]; else json = argv[++i];
      continue;
    }
    if (a[0] == '-') { cb_free(dirs); return report_usage("merge", "unknown option %s", a); }
    dirs[n++] = a;
  }
  if (!out) { cb_free(dirs); return report_usage("merge", "%s", "missing --out DIR"); }
  if (!n) { cb_free(dirs); return report_usage("merge", "%s", "no directories to merge"); }
  rc = merge(dirs, n, out, json, quiet, &err);
  cb_free(dirs);
  if (rc == 0 || rc == EXIT_FALSIFIED || rc == EXIT_UNKNOWN) return rc;
  return report_fail(&err);
}
