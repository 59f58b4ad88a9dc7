/*
** Option values shared by the commands: each returns 0 on success or the
** usage exit code after printing "cerbere CMD: ... (try --help)".
*/
#ifndef CB_ARGS_H
#define CB_ARGS_H

#include "bounds.h"

int arg_norm(const char *cmd, const char *v, cb_norm *n);          /* inf | 2 | 1 */
int arg_norm_word(const char *v, cb_norm *n);   /* the same without a message: 1 if v names one, else 0 */
int arg_eps(const char *cmd, const char *opt, const char *v, double *e);  /* finite >= 0 */
int arg_clip(const char *cmd, const char *v, double *lo, double *hi);      /* LO:HI, LO <= HI */
int arg_rows(const char *cmd, const char *v, long *r0, long *r1);          /* A:B, 0 <= A <= B */

/* A command's ball around each row: {x : ||x - row||_norm <= eps}, with
   clip: intersected with [lo, hi]^n. */
typedef struct args_ball { cb_norm norm; double eps; int clip; double lo, hi; } args_ball;

/* The rows [r0, r1) of d (read from path) as every command takes them,
   checked before any work: each label a class of the network (n_classes
   outputs, cb_data_check_labels) and, when ball is not NULL, each row's set
   not empty (set_check).  The first bad row is named, "PATH: row R: ...",
   CB_EVALUE (exit 3). */
int args_check_rows(const cb_data *d, const char *path, size_t r0, size_t r1, size_t n_classes,
                    const args_ball *ball, cb_error *err);

#endif
