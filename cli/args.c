/* Option values shared by the commands (see args.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "report.h"

static int pair(const char *s, double *a, double *b)
{
  char *e;
  *a = strtod(s, &e);
  if (e == s || *e != ':') return 0;
  s = e + 1;
  *b = strtod(s, &e);
  return e != s && !*e;
}

int arg_norm_word(const char *v, cb_norm *n)
{
  for (int k = CB_NORM_INF; k <= CB_NORM_1; k++)
    if (!strcmp(v, cb_norm_table[k].name)) { *n = (cb_norm)k; return 1; }
  return 0;
}

int arg_norm(const char *cmd, const char *v, cb_norm *n)
{
  return arg_norm_word(v, n) ? 0 : report_usage(cmd, "unknown norm '%s' (inf, 2 or 1)", v);
}

int arg_eps(const char *cmd, const char *opt, const char *v, double *e)
{
  char *end;
  char fmt[96];
  *e = strtod(v, &end);
  if (end != v && !*end && *e >= 0 && isfinite(*e)) return 0;
  snprintf(fmt, sizeof fmt, "%s must be a finite number >= 0, not '%%s'", opt);
  return report_usage(cmd, fmt, v);
}

int arg_clip(const char *cmd, const char *v, double *lo, double *hi)
{
  if (pair(v, lo, hi) && *lo <= *hi && isfinite(*lo) && isfinite(*hi)) return 0;
  return report_usage(cmd, "--clip wants LO:HI with LO <= HI, not '%s'", v);
}

int arg_rows(const char *cmd, const char *v, long *r0, long *r1)
{
  double x, y;
  if (!pair(v, &x, &y) || x < 0 || y < x || x != floor(x) || y != floor(y) || y > 1e15)
    return report_usage(cmd, "--rows wants A:B with 0 <= A <= B, not '%s'", v);
  *r0 = (long)x;
  *r1 = (long)y;
  return 0;
}

int args_check_rows(const cb_data *d, const char *path, size_t r0, size_t r1, size_t n_classes,
                    const args_ball *ball, cb_error *err)
{
  size_t n = cb_data_cols(d);
  double *box = NULL;
  cb_set s;
  int rc = cb_data_check_labels(d, path, r0, r1, n_classes, err);
  if (rc != CB_OK || !ball) return rc;
  s = (cb_set){ball->norm, ball->eps, n, NULL, NULL, NULL};
  if (ball->clip) {
    if (!(box = cb_alloc(2 * n * sizeof *box))) return cb_error_set(err, CB_ENOMEM, "out of memory");
    for (size_t j = 0; j < n; j++) { box[j] = ball->lo; box[n + j] = ball->hi; }
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
