/*
** Internal umbrella: status codes and errors (from the public header),
** the allocator every file goes through, and cb_assert for invariants.
**
** cb_alloc/cb_calloc/cb_free route through one hook so that tests can make
** the Nth allocation fail (test_oom).  cb_assert is for bugs only, never for
** user input: user input gets a cb_error.
*/
#ifndef CB_H
#define CB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "../include/cerbere.h"

/* Largest tensor we accept (elements); bigger is reported as absurd. */
#define CB_MAX_ELEMS ((size_t)1 << 31)

void *cb_alloc(size_t n);                 /* malloc through the test hook; NULL on failure */
void *cb_calloc(size_t count, size_t n);  /* zeroed, overflow-checked */
void cb_free(void *p);                    /* free; NULL is a no-op */
char *cb_strdup(const char *s);           /* copy through cb_alloc */
void cb_alloc_fail_after(long n);         /* tests: fail the allocation after n more; -1 = never */

/* Resource limits (limits.c).  Process-wide; 0 means no limit.  Long loops
   call cb_time_up() once per node / sample / iteration and, when it is true,
   return cb_limit_error(err, "what was running") (status CB_ELIMIT).  An
   allocation past the memory cap fails, and the CB_ENOMEM error it causes is
   reported as CB_ELIMIT "memory limit of N MiB reached". */
void cb_limits_set(double timeout_s, size_t max_bytes);  /* starts the clock now */
int cb_time_up(void);                     /* 1 once the timeout has passed (cheap) */
void cb_task_deadline(double seconds);    /* this thread's task must end within seconds (0: none);
                                             cb_time_up() also turns 1 when it passes */
int cb_limit_error(cb_error *err, const char *where);  /* CB_ELIMIT "time limit of S s reached in where" */
int cb_mem_limit_hit(void);               /* an allocation was refused by the cap */
size_t cb_mem_limit(void);                /* the cap in bytes (0 = none) */
size_t cb_mem_used(void);                 /* bytes now held through cb_alloc */
size_t cb_mem_peak(void);                 /* most bytes ever held at once */

/* Fill err (may be NULL) and return status.  fmt is printf-style. */
int cb_error_set(cb_error *err, cb_status status, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
void cb_error_clear(cb_error *err);

/* Labelled samples (csv.c reads CSV, npy.c NPY/NPZ; csv.c owns the accessors). */
struct cb_data {
  size_t rows, cols;  /* samples, features per sample */
  double *x;          /* [rows][cols], cb_alloc */
  int *label;         /* [rows], cb_alloc */
};

/* png.c: a folder of PNG images with a labels CSV (cb_data_load sends directories here). */
cb_status png_folder_load(const char *dir, const char *labels_path, size_t n_features, double scale, cb_data **out,
                          cb_error *err);

/* npy.c: n values, one per network input, from an NPY array of n elements
   (any shape, float or integer dtype) or a text file of n numbers (commas,
   blanks or newlines); one line naming the file on error (--box,
   --eps-per-feature). */
cb_status cb_vector_load(const char *path, size_t n, double *out, cb_error *err);

/* Overflow-checked product of sizes; returns 0 on overflow or > CB_MAX_ELEMS. */
int cb_mul_size(size_t a, size_t b, size_t *out);

#define cb_assert(x) do { if (!(x)) { \
  fprintf(stderr, "%s:%d: internal error: assertion '%s' failed\n", __FILE__, __LINE__, #x); \
  abort(); } } while (0)

#endif
