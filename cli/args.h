/*
** Option values shared by the commands: each returns 0 on success or the
** usage exit code after printing "cerbere CMD: ... (try --help)".
*/
#ifndef CB_ARGS_H
#define CB_ARGS_H

#include "bounds.h"

const char *fmt_dir(char *buf, double v, int digits, int dir);  /* printed rounded up (dir > 0) / down (< 0); buf >= 40 */
int arg_norm(const char *cmd, const char *v, cb_norm *n);          /* inf | 2 | 1 */
int arg_norm_word(const char *v, cb_norm *n);   /* the same without a message: 1 if v names one, else 0 */
int arg_eps(const char *cmd, const char *opt, const char *v, double *e);  /* finite >= 0 */
int arg_clip(const char *cmd, const char *v, double *lo, double *hi);      /* LO:HI, LO <= HI */
int arg_rows(const char *cmd, const char *v, long *r0, long *r1);          /* A:B, 0 <= A <= B */

#endif
