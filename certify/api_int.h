/*
** Internals shared by the files of the public API (api.c: regions, bounds,
** certify, verify, Lipschitz; api_grad.c: radius, gradients, interval
** Jacobians, attributions; api_json.c: the certificates JSON): the opaque
** handles' layouts and the argument checks they share.
*/
#ifndef CB_API_INT_H
#define CB_API_INT_H

#include "cb.h"
#include "bounds.h"

struct cb_region {
  size_t n;               /* the network's input size */
  cb_norm norm;           /* CB_NORM_BOX for a box region */
  double eps;             /* radius (0 for a box) */
  double *center;         /* n values, NULL for a box */
  double *lo, *hi;        /* n values each: the box, or a ball's clip box (NULL: none) */
};

struct cb_certificate {
  cb_answer answer;
  int label, pred;
  cb_norm norm;           /* the region's */
  double eps;
  char method[32];        /* cb_cm_name of the deciding method, "none" when unknown */
  char reason[320];
  double *logits;         /* n_out values at the centre */
  double *margin_lb;      /* n_out - 1 values, NULL when no bound method ran */
  size_t n_out;
  double *cex;            /* n_in values when falsified, else NULL */
  size_t n_cex;
  int radius;             /* the radius search ran: certified, attacked are set */
  double certified, attacked;
};

/* err->status = s with the message fmt (one %s: what); returns s. */
cb_status api_fail(cb_error *err, cb_status s, const char *fmt, const char *what);

/* The internal norm / bounding method of a public one; 0 if out of range. */
int api_lp_norm(cb_lp p, cb_norm *out);
int api_bound_method(cb_bound_method m, cb_method *out);

/* The region's set, as bounds.h reads it (points into r). */
cb_set api_region_set(const cb_region *r);

/* NULL checks of net, set, a and b, and that the region fits the net. */
cb_status api_bounds_args(const cb_net *net, const cb_region *set, const void *a, const void *b, cb_error *err);

/* An init function's work: the defaults d (full bytes) into the caller's o
   of `size` bytes (bytes past full zeroed), o->size = size; nothing when o
   is NULL or too small to hold the size field. */
void api_opts_init(void *o, size_t size, const void *d, size_t full);

/* An options struct from the caller: dst (full bytes) holds the defaults;
   the first src->size bytes of src replace them (src NULL: kept).  A size
   of 0 or above full is CB_EUSAGE naming `what` (the init function). */
cb_status api_opts_read(void *dst, size_t full, const void *src, const char *what, cb_error *err);

/* A copy of n doubles through cb_alloc; NULL on OOM. */
double *api_copy_doubles(const double *v, size_t n);

#endif
