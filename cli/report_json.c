/*
** JSON output and the error/exit-code conventions every command shares.
** Exit codes: 0 success, 2 usage, 3 input error, 4 internal error,
** 5 resource limit (--timeout / --max-memory).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"

int exit_code(int status)
{
  switch (status) {
  case CB_OK: return 0;
  case CB_EUSAGE: return EXIT_USAGE;
  case CB_EINTERNAL: return EXIT_INTERNAL;
  case CB_ELIMIT: return EXIT_LIMIT;
  default: return EXIT_INPUT;
  }
}

int report_fail(const cb_error *err)
{
  fprintf(stderr, "cerbere: %s\n", err->msg[0] ? err->msg : cb_status_name(err->status));
  return exit_code(err->status);
}

static double lim_time;   /* --timeout, seconds (0 = none) */
static size_t lim_bytes;  /* --max-memory, bytes (0 = none) */

int report_limit_option(const char *cmd, const char *opt, const char *val)
{
  char *e;
  double v;
  if (strcmp(opt, "--timeout") && strcmp(opt, "--max-memory")) return -1;
  if (!val) return report_usage(cmd, "%s needs a value", opt);
  v = strtod(val, &e);
  if (e == val || *e || !(v > 0) || !(v < 1e12))
    return report_usage(cmd, opt[2] == 't' ? "--timeout wants seconds > 0, not '%s'" : "--max-memory wants MiB > 0, not '%s'", val);
  if (!lim_bytes) lim_bytes = cb_mem_limit();  /* keep the default (RAM) unless replaced */
  if (opt[2] == 't') lim_time = v; else lim_bytes = (size_t)ceil(v * 1048576.0);
  cb_limits_set(lim_time, lim_bytes);
  return 0;
}

int report_usage(const char *cmd, const char *fmt, const char *arg)
{
  fprintf(stderr, "cerbere%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, " (try 'cerbere %s%s--help')\n", cmd ? cmd : "", cmd ? " " : "");
  return EXIT_USAGE;
}

/* cJSON prints doubles with 15 digits when they match to within an epsilon,
   which can change the last bit: a counterexample read back from the file
   could then lie outside the set.  Every number is replaced by a raw token
   with the shortest decimal that strtod maps back to the same double. */
void report_exact_numbers(cJSON *o)
{
  cJSON *c = o ? o->child : NULL;
  while (c) {
    cJSON *next = c->next;
    if (cJSON_IsNumber(c)) {
      char buf[40];
      double v = c->valuedouble;
      cJSON *r;
      if (!isfinite(v)) r = cJSON_CreateNull();
      else {
        for (int p = 15; p <= 17; p++) {
          snprintf(buf, sizeof buf, "%.*g", p, v);
          if (strtod(buf, NULL) == v) break;
        }
        r = cJSON_CreateRaw(buf);
      }
      if (r) {   /* the key moves to the replacement (ReplaceItemViaPointer keeps none) */
        r->string = c->string;
        r->type |= c->type & cJSON_StringIsConst;
        c->string = NULL;
        cJSON_ReplaceItemViaPointer(o, c, r);
      }
    } else report_exact_numbers(c);
    c = next;
  }
}

int report_write_json(const char *path, cJSON *root, cb_error *err)
{
  char tmp[4096];
  cJSON *copy = root ? cJSON_Duplicate(root, 1) : NULL;   /* the caller's tree keeps its numbers */
  char *txt;
  report_exact_numbers(copy);
  txt = copy ? cJSON_Print(copy) : NULL;
  cJSON_Delete(copy);
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
