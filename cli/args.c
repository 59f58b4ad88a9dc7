/* Option values shared by the commands (see args.h). */
#include <fenv.h>
#include <math.h>
#include <stdio.h>
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

/* "inf", "2", "1", and the aliases linf, l2, l1 (any case of the l), as
   other tools write them. */
int arg_norm_word(const char *v, cb_norm *n)
{
  static const char *const alias[] = {"linf", "l2", "l1"};
  for (int k = CB_NORM_INF; k <= CB_NORM_1; k++)
    if (!strcmp(v, cb_norm_table[k].name) ||
        ((v[0] == 'l' || v[0] == 'L') && !strcmp(v + 1, alias[k - CB_NORM_INF] + 1))) { *n = (cb_norm)k; return 1; }
  return 0;
}

int arg_norm(const char *cmd, const char *v, cb_norm *n)
{
  return arg_norm_word(v, n) ? 0 : report_usage(cmd, "unknown norm '%s' (inf, 2 or 1; or linf, l2, l1)", v);
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

/* V with DIGITS significant digits, the decimal rounded up (DIR > 0) or
   down (DIR < 0), so that a printed upper bound is still an upper bound and
   a printed lower bound still a lower bound (glibc's printf rounds in the
   current rounding mode). BUF holds at least 40 characters. */
const char *fmt_dir(char *buf, double v, int digits, int dir)
{
  int mode = fegetround();
  fesetround(dir > 0 ? FE_UPWARD : dir < 0 ? FE_DOWNWARD : FE_TONEAREST);
  snprintf(buf, 40, "%.*g", digits, v);
  fesetround(mode);
  return buf;
}
