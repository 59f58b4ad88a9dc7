/*
** `cerbere report --out DIR A/report.json B/report.json ...`: merges the runs
** of several reports (e.g. certify at two balls and an audit) into one
** DIR/report.json and DIR/report.html.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "report.h"
#include "report_doc.h"

static const char *usage =
  "usage: cerbere report --out DIR REPORT.json [REPORT.json ...]\n"
  "\n"
  "Merges the runs of the given report.json files (written by certify) into\n"
  "DIR/report.json and DIR/report.html, in the order given.\n";

static int load(const char *path, cJSON **out, cb_error *err)
{
  FILE *f = fopen(path, "rb");
  char *s;
  long n;
  if (!f) return cb_error_set(err, CB_EIO, "%s: cannot open", path);
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 || !(s = cb_alloc((size_t)n + 1))) {
    fclose(f);
    return cb_error_set(err, CB_EIO, "%s: cannot read", path);
  }
  if (fread(s, 1, (size_t)n, f) != (size_t)n) { fclose(f); cb_free(s); return cb_error_set(err, CB_EIO, "%s: cannot read", path); }
  fclose(f);
  s[n] = 0;
  *out = cJSON_Parse(s);
  cb_free(s);
  if (!*out) return cb_error_set(err, CB_EFORMAT, "%s: not valid JSON", path);
  const cJSON *sc = cJSON_GetObjectItem(*out, "schema");
  if (!cJSON_IsString(sc) || strcmp(sc->valuestring, CB_REPORT_SCHEMA) || !cJSON_IsArray(cJSON_GetObjectItem(*out, "runs"))) {
    cJSON_Delete(*out);
    return cb_error_set(err, CB_EFORMAT, "%s: not a cerbere report (schema %s expected)", path, CB_REPORT_SCHEMA);
  }
  return CB_OK;
}

int cmd_report(int argc, char **argv)
{
  const char *out = NULL;
  cb_error err = {0};
  cJSON *runs = cJSON_CreateArray(), *report;
  int n = 0, rc;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage, stdout); cJSON_Delete(runs); return 0; }
    if (!strcmp(argv[i], "--out")) {
      if (i + 1 >= argc) { cJSON_Delete(runs); return report_usage("report", "%s needs a value", "--out"); }
      out = argv[++i];
    } else if (argv[i][0] == '-') { cJSON_Delete(runs); return report_usage("report", "unknown option %s", argv[i]); }
    else n++;
  }
  if (!out || !n) { cJSON_Delete(runs); return report_usage("report", "%s", out ? "missing REPORT.json" : "missing --out DIR"); }
  if ((rc = report_prepare_dir(out, &err)) != CB_OK) { cJSON_Delete(runs); return report_fail(&err); }
  for (int i = 0; i < argc; i++) {
    cJSON *r = NULL, *run;
    if (!strcmp(argv[i], "--out")) { i++; continue; }
    if ((rc = load(argv[i], &r, &err)) != CB_OK) { cJSON_Delete(runs); return report_fail(&err); }
    while ((run = cJSON_DetachItemFromArray(cJSON_GetObjectItem(r, "runs"), 0))) cJSON_AddItemToArray(runs, run);
    cJSON_Delete(r);
  }
  report = report_new(runs);
  rc = report_write_dir(out, report, &err);
  cJSON_Delete(report);
  if (rc != CB_OK) return report_fail(&err);
  printf("report written: %s/report.json, %s/report.html\n", out, out);
  return 0;
}
