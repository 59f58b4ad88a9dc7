/*
** JSON output and the error/exit-code conventions every command shares.
** Exit codes: 0 success, 2 usage, 3 input error, 4 internal error.
*/
#include <stdio.h>
#include <string.h>
#include "report.h"

int exit_code(int status)
{
  switch (status) {
  case CB_OK: return 0;
  case CB_EUSAGE: return EXIT_USAGE;
  case CB_EINTERNAL: return EXIT_INTERNAL;
  default: return EXIT_INPUT;
  }
}

int report_fail(const cb_error *err)
{
  fprintf(stderr, "cerbere: %s\n", err->msg[0] ? err->msg : cb_status_name(err->status));
  return exit_code(err->status);
}

int report_usage(const char *cmd, const char *fmt, const char *arg)
{
  fprintf(stderr, "cerbere%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, " (try 'cerbere %s%s--help')\n", cmd ? cmd : "", cmd ? " " : "");
  return EXIT_USAGE;
}

int report_write_json(const char *path, cJSON *root, cb_error *err)
{
  char tmp[4096];
  char *txt = root ? cJSON_Print(root) : NULL;
  FILE *f;
  int ok;
  if (!txt) return cb_error_set(err, CB_ENOMEM, "out of memory writing JSON");
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  f = fopen(tmp, "w");
  if (!f) { cJSON_free(txt); return cb_error_set(err, CB_EIO, "%s: cannot write file", path); }
  ok = fputs(txt, f) >= 0 && fputc('\n', f) != EOF;
  ok = (fclose(f) == 0) && ok;
  cJSON_free(txt);
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    return cb_error_set(err, CB_EIO, "%s: cannot write file", path);
  }
  return CB_OK;
}

cJSON *report_shape(const cb_shape *s)
{
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < s->rank; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)s->dim[i]));
  return a;
}
