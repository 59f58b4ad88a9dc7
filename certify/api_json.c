/*
** cb_certificates_write_json (include/cerbere.h): certificates from
** cb_certify as one JSON file with the sample keys of `cerbere certify`'s
** certificates.json, so the tools that read one read the other.
** Numbers are written as the shortest decimal that strtod maps back to the
** same double (a counterexample read back must be the same point: cJSON's
** own printing can change the last bit), non-finite numbers as null.  The
** file is written to PATH.tmp and renamed, so a failure leaves no partial
** file.  (cli/report_json.c does the same for the CLI, which is not part
** of the library.)  Workload: once per run; cost linear in the output.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "api_int.h"

/* v as a raw token with the shortest round-trip decimal; null if not finite. */
static cJSON *num(double v)
{
  char buf[40];
  if (!isfinite(v)) return cJSON_CreateNull();
  for (int p = 15; p <= 17; p++) {
    snprintf(buf, sizeof buf, "%.*g", p, v);
    if (strtod(buf, NULL) == v) break;
  }
  return cJSON_CreateRaw(buf);
}

static cJSON *nums(const double *v, size_t n)
{
  cJSON *a;
  if (!v) return cJSON_CreateNull();
  if (!(a = cJSON_CreateArray())) return NULL;
  for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, num(v[i]));
  return a;
}

/* One sample object; NULL on OOM (cJSON's adders ignore a NULL item, so a
   failed allocation shows as a missing key, caught by the caller's check). */
static cJSON *sample_json(const cb_certificate *c, size_t index)
{
  cJSON *s = cJSON_CreateObject();
  if (!s) return NULL;
  cJSON_AddItemToObject(s, "index", num((double)index));
  cJSON_AddItemToObject(s, "label", num(c->label));
  cJSON_AddStringToObject(s, "norm", cb_norm_table[c->norm].name);
  cJSON_AddItemToObject(s, "eps", num(c->eps));
  cJSON_AddItemToObject(s, "pred", num(c->pred));
  cJSON_AddStringToObject(s, "verdict", cb_answer_name(c->answer));
  if (c->answer == CB_ANSWER_UNKNOWN) cJSON_AddNullToObject(s, "decided_by");
  else cJSON_AddStringToObject(s, "decided_by", c->method);
  cJSON_AddStringToObject(s, "reason", c->reason);
  cJSON_AddItemToObject(s, "logits", nums(c->logits, c->n_out));
  cJSON_AddItemToObject(s, "margin_lb", nums(c->margin_lb, c->n_out - 1));
  cJSON_AddItemToObject(s, "counterexample", nums(c->cex, c->n_cex));
  cJSON_AddItemToObject(s, "certified_radius", c->radius ? num(c->certified) : cJSON_CreateNull());
  cJSON_AddItemToObject(s, "attack_radius", c->radius ? num(c->attacked) : cJSON_CreateNull());
  if (cJSON_GetArraySize(s) != 13) { cJSON_Delete(s); return NULL; }
  return s;
}

/* The whole document; NULL on OOM. */
static cJSON *document(const cb_certificate *const *certs, size_t n)
{
  cJSON *top = cJSON_CreateObject(), *sum, *arr;
  int count[3] = {0, 0, 0};
  if (!top) return NULL;
  cJSON_AddStringToObject(top, "command", "api");
  cJSON_AddStringToObject(top, "version", cb_version());
  sum = cJSON_AddObjectToObject(top, "summary");
  arr = cJSON_AddArrayToObject(top, "samples");
  if (!sum || !arr) { cJSON_Delete(top); return NULL; }
  for (size_t k = 0; k < n; k++) {
    cJSON *s = sample_json(certs[k], k);
    if (!s) { cJSON_Delete(top); return NULL; }
    cJSON_AddItemToArray(arr, s);
    count[certs[k]->answer == CB_ANSWER_VERIFIED ? 0 : certs[k]->answer == CB_ANSWER_FALSIFIED ? 1 : 2]++;
  }
  cJSON_AddItemToObject(sum, "n_samples", num((double)n));
  cJSON_AddItemToObject(sum, "n_verified", num(count[0]));
  cJSON_AddItemToObject(sum, "n_falsified", num(count[1]));
  cJSON_AddItemToObject(sum, "n_unknown", num(count[2]));
  if (cJSON_GetArraySize(sum) != 4) { cJSON_Delete(top); return NULL; }
  return top;
}

/* text to path through path.tmp and a rename. */
static cb_status write_atomic(const char *path, const char *text, cb_error *err)
{
  size_t len = strlen(path) + 5;
  char *tmp = cb_alloc(len);
  FILE *f;
  int ok;
  if (!tmp) return api_fail(err, CB_ENOMEM, "%s: out of memory", "cb_certificates_write_json");
  snprintf(tmp, len, "%s.tmp", path);
  if (!(f = fopen(tmp, "w"))) { cb_free(tmp); return api_fail(err, CB_EIO, "%s: cannot write file", path); }
  ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    cb_free(tmp);
    return api_fail(err, CB_EIO, "%s: cannot write file", path);
  }
  cb_free(tmp);
  return CB_OK;
}

cb_status cb_certificates_write_json(const char *path, const cb_certificate *const *certs, size_t n, cb_error *err)
{
  cJSON *doc;
  char *text;
  cb_status rc;
  if (!path || (!certs && n)) return api_fail(err, CB_EUSAGE, "%s: NULL argument", "cb_certificates_write_json");
  for (size_t k = 0; k < n; k++)
    if (!certs[k]) return (cb_status)cb_error_set(err, CB_EUSAGE, "cb_certificates_write_json: certificate %zu is NULL", k);
  if (!(doc = document(certs, n))) return api_fail(err, CB_ENOMEM, "%s: out of memory", "cb_certificates_write_json");
  text = cJSON_Print(doc);
  cJSON_Delete(doc);
  if (!text) return api_fail(err, CB_ENOMEM, "%s: out of memory", "cb_certificates_write_json");
  rc = write_atomic(path, text, err);
  cJSON_free(text);
  return rc;
}
