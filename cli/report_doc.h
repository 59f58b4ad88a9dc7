/*
** The certification report: report.json (schema "cerbere-report/1",
** docs/report-schema.md) and report.html, rendered from the JSON alone so the
** two always show the same numbers.  A report holds one or more runs (one per
** certifying command; `cerbere report` merges several).
*/
#ifndef CB_REPORT_DOC_H
#define CB_REPORT_DOC_H

#include <cjson/cJSON.h>
#include "net.h"
#include "lipschitz.h"

#define CB_REPORT_SCHEMA "cerbere-report/1"

cJSON *report_tool(void);                                     /* {name, version, git_commit} */
cJSON *report_network(const cb_net *net, cb_error *err);      /* {file, sha256, format, ..., ops}; NULL on error */
cJSON *report_datafile(const char *path, size_t rows, cb_error *err);  /* {file, sha256, rows} */
cJSON *report_lipschitz(const cb_net *net, const lip_result *r);      /* per-layer lower/upper, K */
cJSON *report_argv(int argc, char **argv, char **line);      /* ["cerbere", ...] and the shell-quoted line */

/* Checks DIR exists (created if missing) and is writable: before any work. */
int report_prepare_dir(const char *dir, cb_error *err);

/* {schema, tool, runs} -> DIR/report.json and DIR/report.html (both written to
   temporary names first, then renamed). */
int report_write_dir(const char *dir, cJSON *report, cb_error *err);
cJSON *report_new(cJSON *runs);                               /* wraps a runs array */

/* DIR/report.{json,html} with one run of `command` built from a command's own
   JSON `top` ({settings, summary, samples}): the summary's time_s and
   method_ms_total move to the run's timing object; lipschitz (owned, may be
   NULL) is the Lipschitz section. */
int report_write_run(const char *dir, const char *command, const cb_net *net, const char *data, size_t rows,
                     const cJSON *top, cJSON *lipschitz, cb_error *err);

/* report_html.c: the whole page as one string (caller frees with cb_free). */
char *report_html(const cJSON *report);

/* Saved command line of this process (set by main). */
extern int cb_argc;
extern char **cb_argv;

#endif
