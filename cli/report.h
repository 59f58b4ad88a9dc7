/*
** Report helpers shared by the CLI commands: JSON written atomically (a
** temporary file renamed into place, so a failed run leaves no partial file).
*/
#ifndef CB_REPORT_H
#define CB_REPORT_H

#include <cjson/cJSON.h>
#include "net.h"

int report_write_json(const char *path, cJSON *root, cb_error *err);  /* atomic write; numbers exact */
void report_exact_numbers(cJSON *root);   /* numbers -> shortest round-trip raw tokens (in place) */
cJSON *report_shape(const cb_shape *s);                             /* [d0, d1, ...] */

/* Exit codes shared by every command. */
#define EXIT_USAGE 2
#define EXIT_INPUT 3
#define EXIT_INTERNAL 4
#define EXIT_LIMIT 5      /* --timeout or --max-memory reached (CB_ELIMIT) */
int exit_code(int status);        /* cb_status -> exit code */
int report_fail(const cb_error *err);   /* prints "cerbere: msg", returns its exit code */
int report_usage(const char *cmd, const char *fmt, const char *arg);  /* usage error, exit 2 */
int report_limit_option(const char *cmd, const char *opt, const char *val);
      /* --timeout S / --max-memory MiB: sets the limit and returns 0; -1 if opt
         is neither; else a usage error's exit code.  --timeout starts the clock. */

#endif
