/*
** report.json pieces and the atomic writer of report.json + report.html
** (see report_doc.h).  File digests: SHA-256 from OpenSSL's libcrypto.
*/
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "commit.h"
#include "report.h"
#include "report_doc.h"

int cb_argc;
char **cb_argv;

cJSON *report_tool(void)
{
  cJSON *t = cJSON_CreateObject();
  cJSON_AddStringToObject(t, "name", "cerbere");
  cJSON_AddStringToObject(t, "version", CB_VERSION);
  cJSON_AddStringToObject(t, "git_commit", CB_GIT_COMMIT);
  return t;
}

/* Hex SHA-256 of a file into hex[65]; 0 if unreadable. */
static int sha256_file(const char *path, char *hex)
{
  unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  size_t n;
  FILE *f = fopen(path, "rb");
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = f && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) ok = EVP_DigestUpdate(ctx, buf, n);
  ok = ok && f && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &len);
  for (unsigned int i = 0; ok && i < len; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  if (f) fclose(f);
  EVP_MD_CTX_free(ctx);
  return ok;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A folder (PNG images and their labels CSV): SHA-256 of the lines
   "NAME  SHA256\n" of its regular files in name order (sha256sum's format,
   so `cd DIR && sha256sum * | sha256sum` gives the same digest when every
   entry is a file); 0 if unreadable. */
static int sha256_folder(const char *dir, char *hex)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char **names = NULL, path[4096], fh[65], line[4200];
  size_t n = 0, cap = 0;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = d && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  while (ok && (e = readdir(d))) {
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (n == cap) {
      char **t = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
      if (!t) { ok = 0; break; }
      names = t;
    }
    if (!(names[n] = strdup(e->d_name))) { ok = 0; break; }
    n++;
  }
  if (ok) qsort(names, n, sizeof *names, cmp_name);
  for (size_t i = 0; ok && i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    ok = sha256_file(path, fh);
    snprintf(line, sizeof line, "%s  %s\n", fh, names[i]);
    ok = ok && EVP_DigestUpdate(ctx, line, strlen(line));
  }
  ok = ok && EVP_DigestFinal_ex(ctx, md, &len);
  for (unsigned int i = 0; ok && i < len; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  if (d) closedir(d);
  EVP_MD_CTX_free(ctx);
  return ok;
}

cJSON *report_network(const cb_net *net, cb_error *err)
{
  char hex[65];
  cJSON *o, *ops;
  int count[CB_KIND_COUNT + CB_ACT_COUNT] = {0};
  if (!sha256_file(net->path, hex)) { cb_error_set(err, CB_EIO, "%s: cannot read for its digest", net->path); return NULL; }
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "file", net->path);
  cJSON_AddStringToObject(o, "sha256", hex);
  cJSON_AddStringToObject(o, "format", net->format);
  cJSON_AddItemToObject(o, "input_shape", report_shape(&net->input_shape));
  cJSON_AddItemToObject(o, "output_shape", report_shape(&net->node[net->output].shape));
  cJSON_AddNumberToObject(o, "input_size", (double)cb_net_input_size(net));
  cJSON_AddNumberToObject(o, "output_size", (double)cb_net_output_size(net));
  cJSON_AddNumberToObject(o, "parameters", (double)net_param_count(net));
  cJSON_AddNumberToObject(o, "nodes", net->n);
  {
    cJSON *w = cJSON_AddArrayToObject(o, "warnings");   /* the loader's: NNet normalisation, dropped Softmax */
    for (int i = 0; i < net->n_warn; i++) cJSON_AddItemToArray(w, cJSON_CreateString(net->warn[i]));
  }
  for (int i = 0; i < net->n; i++)   /* activations count by their own name, after the kinds */
    count[net->node[i].kind == CB_ACT ? CB_KIND_COUNT + (int)net->node[i].p.act.type : (int)net->node[i].kind]++;
  ops = cJSON_AddObjectToObject(o, "ops");
  for (int k = 0; k < CB_KIND_COUNT; k++) {
    if (k == CB_ACT)
      for (int a = 0; a < CB_ACT_COUNT; a++)
        if (count[CB_KIND_COUNT + a]) cJSON_AddNumberToObject(ops, cb_act_table[a].name, count[CB_KIND_COUNT + a]);
    if (count[k]) cJSON_AddNumberToObject(ops, cb_kind_info[k].name, count[k]);
  }
  return o;
}

cJSON *report_datafile(const char *path, size_t rows, cb_error *err)
{
  char hex[65];
  cJSON *o;
  struct stat st;
  int folder = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
  if (!(folder ? sha256_folder(path, hex) : sha256_file(path, hex))) { cb_error_set(err, CB_EIO, "%s: cannot read for its digest", path); return NULL; }
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "file", path);
  cJSON_AddStringToObject(o, "sha256", hex);
  if (folder) cJSON_AddStringToObject(o, "sha256_of", "the folder: sha256sum of its files, one line each in name order");
  cJSON_AddNumberToObject(o, "rows", (double)rows);
  return o;
}

cJSON *report_lipschitz(const cb_net *net, const lip_result *r)
{
  cJSON *o = cJSON_CreateObject(), *layers;
  cJSON_AddStringToObject(o, "norm", cb_norm_table[r->norm].name);
  layers = cJSON_AddArrayToObject(o, "layers");
  for (int k = 0; k < r->n_layers; k++) {
    const lip_layer *l = &r->layer[k];
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "node", l->node);
    cJSON_AddStringToObject(e, "name", net->node[l->node].name);
    cJSON_AddStringToObject(e, "kind", node_kind_name(&net->node[l->node]));
    cJSON_AddNumberToObject(e, "rows", (double)l->rows);
    cJSON_AddNumberToObject(e, "cols", (double)l->cols);
    cJSON_AddNumberToObject(e, "lower", l->b.lower);
    cJSON_AddNumberToObject(e, "upper", l->b.upper);
    cJSON_AddStringToObject(e, "method", l->b.method ? l->b.method : "");
    cJSON_AddItemToArray(layers, e);
  }
  cJSON_AddNumberToObject(o, "K_layerwise", r->K_layerwise);
  cJSON_AddNumberToObject(o, "K_merged", r->K_merged);
  return o;
}

/* Shell-safe quoting: plain words stay as they are, others get single quotes. */
static void quote(char *out, size_t cap, size_t *len, const char *w)
{
  int plain = *w != 0;
  for (const char *c = w; *c; c++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+", *c)) plain = 0;
  if (*len && *len + 1 < cap) out[(*len)++] = ' ';
  if (!plain && *len + 1 < cap) out[(*len)++] = '\'';
  for (const char *c = w; *c && *len + 5 < cap; c++) {
    if (*c == '\'') { memcpy(out + *len, "'\\''", 4); *len += 4; }
    else out[(*len)++] = *c;
  }
  if (!plain && *len + 1 < cap) out[(*len)++] = '\'';
  out[*len] = 0;
}

cJSON *report_argv(int argc, char **argv, char **line)
{
  cJSON *a = cJSON_CreateArray();
  size_t cap = 1, len = 0;
  for (int i = 0; i < argc; i++) cap += 4 * strlen(argv[i]) + 3;
  *line = cb_alloc(cap);
  if (*line) (*line)[0] = 0;
  for (int i = 0; i < argc; i++) {
    const char *w = i == 0 ? "cerbere" : argv[i];
    cJSON_AddItemToArray(a, cJSON_CreateString(w));
    if (*line) quote(*line, cap, &len, w);
  }
  return a;
}

/* mkdir -p */
static int mkdirs(const char *dir)
{
  char p[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof p) { errno = ENAMETOOLONG; return -1; }
  memcpy(p, dir, n + 1);
  for (size_t i = 1; i < n; i++)
    if (p[i] == '/') { p[i] = 0; if (mkdir(p, 0777) != 0 && errno != EEXIST) return -1; p[i] = '/'; }
  return mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

int report_prepare_dir(const char *dir, cb_error *err)
{
  char p[4096];
  FILE *f;
  if (mkdirs(dir) != 0)
    return cb_error_set(err, CB_EIO, "%s: cannot create the output directory (%s)", dir, strerror(errno));
  snprintf(p, sizeof p, "%s/.cerbere-write-test", dir);
  if (!(f = fopen(p, "w"))) return cb_error_set(err, CB_EIO, "%s: output directory is not writable (%s)", dir, strerror(errno));
  fclose(f);
  remove(p);
  return CB_OK;
}

cJSON *report_new(cJSON *runs)
{
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "schema", CB_REPORT_SCHEMA);
  cJSON_AddItemToObject(r, "tool", report_tool());
  cJSON_AddItemToObject(r, "runs", runs);
  return r;
}

static int write_tmp(const char *path, const char *txt)
{
  FILE *f = fopen(path, "w");
  int ok;
  if (!f) return 0;
  ok = fputs(txt, f) >= 0;
  return (fclose(f) == 0) && ok;
}

int report_write_dir(const char *dir, cJSON *report, cb_error *err)
{
  char pj[4096], ph[4096], tj[4200], th[4200];
  cJSON *copy = cJSON_Duplicate(report, 1);   /* the caller's tree keeps its numbers */
  char *html = report_html(report), *json = NULL;
  int rc = CB_OK;
  report_exact_numbers(copy);
  if (copy) json = cJSON_Print(copy);
  cJSON_Delete(copy);
  snprintf(pj, sizeof pj, "%s/report.json", dir);
  snprintf(ph, sizeof ph, "%s/report.html", dir);
  snprintf(tj, sizeof tj, "%s.tmp", pj);
  snprintf(th, sizeof th, "%s.tmp", ph);
  if (!json || !html) rc = cb_error_set(err, CB_ENOMEM, "out of memory writing the report");
  else if (!write_tmp(tj, json) || !write_tmp(th, html) || rename(tj, pj) != 0 || rename(th, ph) != 0)
    rc = cb_error_set(err, CB_EIO, "%s: cannot write the report files", dir);
  if (rc != CB_OK) { remove(tj); remove(th); }
  cJSON_free(json);
  cb_free(html);
  return rc;
}

int report_write_run(const char *dir, const char *command, const cb_net *net, const char *data, size_t rows,
                     const cJSON *top, cJSON *lipschitz, cb_error *err)
{
  static const char *const timing_keys[] = {"time_s", "method_ms_total"};
  cJSON *run = cJSON_CreateObject(), *nj = report_network(net, err), *dj = NULL, *sum, *timing, *report;
  char *line = NULL;
  int rc;
  if (!nj || !(dj = report_datafile(data, rows, err))) {
    cJSON_Delete(run); cJSON_Delete(nj); cJSON_Delete(lipschitz);
    return err ? err->status : CB_EIO;
  }
  cJSON_AddStringToObject(run, "command", command);
  cJSON_AddItemToObject(run, "argv", report_argv(cb_argc, cb_argv, &line));
  cJSON_AddStringToObject(run, "command_line", line ? line : "");
  cb_free(line);
  cJSON_AddItemToObject(run, "network", nj);
  if (cJSON_GetObjectItem(top, "input_space"))   /* the space of eps, clip and counterexamples (batch_json_top) */
    cJSON_AddItemToObject(dj, "input_space", cJSON_Duplicate(cJSON_GetObjectItem(top, "input_space"), 1));
  if (cJSON_GetObjectItem(top, "normalisation"))
    cJSON_AddItemToObject(dj, "normalisation", cJSON_Duplicate(cJSON_GetObjectItem(top, "normalisation"), 1));
  cJSON_AddItemToObject(run, "data", dj);
  cJSON_AddItemToObject(run, "settings", cJSON_Duplicate(cJSON_GetObjectItem(top, "settings"), 1));
  sum = cJSON_Duplicate(cJSON_GetObjectItem(top, "summary"), 1);
  timing = cJSON_CreateObject();
  for (int k = 0; k < 2; k++)
    if (cJSON_GetObjectItem(sum, timing_keys[k]))
      cJSON_AddItemToObject(timing, timing_keys[k], cJSON_DetachItemFromObject(sum, timing_keys[k]));
  cJSON_AddItemToObject(run, "summary", sum);
  if (lipschitz) cJSON_AddItemToObject(run, "lipschitz", lipschitz);
  else cJSON_AddNullToObject(run, "lipschitz");
  cJSON_AddItemToObject(run, "samples", cJSON_Duplicate(cJSON_GetObjectItem(top, "samples"), 1));
  if (cJSON_GetObjectItem(top, "proofs"))   /* certify --proof: how many verdicts carry a proof, the re-check command */
    cJSON_AddItemToObject(run, "proofs", cJSON_Duplicate(cJSON_GetObjectItem(top, "proofs"), 1));
  {   /* when and where: the date goes with the timings (it differs between identical runs) */
    char when[32], host[256] = "unknown", cwd[4096] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm); else strcpy(when, "unknown");
    if (gethostname(host, sizeof host) != 0) strcpy(host, "unknown");
    host[sizeof host - 1] = 0;
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    cJSON_AddStringToObject(timing, "created", when);
    cJSON_AddStringToObject(run, "host", host);
    cJSON_AddStringToObject(run, "cwd", cwd);   /* the command line's relative paths are relative to it */
  }
  cJSON_AddItemToObject(run, "timing", timing);
  report = report_new(cJSON_CreateArray());
  cJSON_AddItemToArray(cJSON_GetObjectItem(report, "runs"), run);
  rc = report_write_dir(dir, report, err);
  cJSON_Delete(report);
  return rc;
}
