/*
** VNNLIB reader (the subset VNN-COMP uses), strict: any token, command,
** operator or variable outside it is an error "file:line:col: what".
**
** Meaning (VNN-COMP): the asserts describe a counterexample.  The conjunction
** of all asserts is put in disjunctive normal form; each term is a box on X
** (bounds on single inputs) and a conjunction of linear rows on Y.  Terms
** with the same box are grouped, so a spec is a disjunction of input boxes,
** each with a disjunction of output conjunctions  A y <= b  (a row may be
** strict: A_r y < b_r).
**
** Decimal constants are real numbers.  Each is read twice, rounded down and
** up, and kept as an interval: the "outer" box contains the real box (used
** to prove unsat), the "inner" box holds only doubles inside the real box
** (used to search for and check witnesses); b_up >= b >= b_dn likewise.
** An input bound that is no double also keeps its decimal text (lo_dec,
** hi_dec), so a witness can be built at the exact real point (exact.h).
** Coefficients of variables must be exact in binary64 (else an error).
*/
#ifndef CB_VNNLIB_H
#define CB_VNNLIB_H

#include <stdio.h>
#include "cb.h"
#include "arena.h"

typedef struct vnn_conj {
  size_t m;               /* rows (0: no output constraint, every output counts) */
  double *A;              /* m x ny, row-major */
  double *b_up, *b_dn;    /* the real right-hand side lies in [b_dn, b_up] */
  unsigned char *strict;  /* m flags: row r is A_r y < b_r */
  int line;               /* line of the first atom, for messages */
} vnn_conj;

typedef struct vnn_box {
  double *lo, *hi;        /* outer box: contains the real box (nx each) */
  double *lo_in, *hi_in;  /* inner box: doubles inside the real box (may be empty) */
  const char **lo_dec, **hi_dec;  /* nx each, or both NULL when no entry is set: the
                             exact real bound as its VNNLIB decimal text when it is
                             no double and the file gives it as "X_i <= d" / ">="
                             (or d <= X_i ...), non-strict, unambiguously; else NULL
                             (a pinned input, lo_dec[i] = hi_dec[i] = "0.1", is the
                             single real point 1/10, between two doubles) */
  size_t n_conj;
  vnn_conj *conj;         /* disjunction of output conjunctions */
} vnn_box;

typedef struct vnn_spec {
  cb_arena arena;         /* owns everything below */
  const char *path;
  size_t nx, ny;          /* declared X_0..X_{nx-1}, Y_0..Y_{ny-1} */
  int x_line, y_line;     /* line of the first declaration of each */
  size_t n_box;
  vnn_box *box;           /* disjunction of input boxes; 0 boxes: no term can hold */
} vnn_spec;

/* Reads and checks path; *out is NULL on error. */
int vnn_parse(const char *path, vnn_spec **out, cb_error *err);
/* Same, from a string (path names it in messages). */
int vnn_parse_string(const char *text, size_t len, const char *path, vnn_spec **out, cb_error *err);
/* Declared sizes must equal the network's input and output sizes. */
int vnn_check_sizes(const vnn_spec *s, size_t nx, size_t ny, cb_error *err);
void vnn_free(vnn_spec *s);             /* NULL is a no-op */

/* vnnlib_write.c: writes s as VNNLIB text that vnn_parse reads back to a spec
   whose outer boxes contain s's (bounds printed exactly, or rounded outward)
   and whose rows are s's (right-hand sides b_up); comment (may be NULL) goes
   first, each line behind "; ".  CB_OK, or CB_EIO when f reports an error. */
int vnn_write(FILE *f, const vnn_spec *s, const char *comment);

#endif
