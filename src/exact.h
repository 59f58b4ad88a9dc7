/*
** The network's real-arithmetic value at one point, for accepting witnesses.
**
** A "sat" witness or a "falsified" counterexample is a claim about the
** real-valued function the file's weights define, not about the double
** forward pass (whose rounding can put a point 1e-16 on the wrong side of a
** threshold).  exact_eval evaluates the canonical graph at a point x of
** doubles (taken as the exact reals they denote), or (exact_eval_dec) at a
** point some of whose coordinates are VNNLIB decimals that no double equals:
**   - exactly, as dyadic rationals m * 2^e (GMP integers), through AFFINE,
**     SCALE, CONV, ADD, CONCAT, RESHAPE, TRANSPOSE, MAXPOOL and the
**     piecewise-linear activations (ReLU, LeakyReLU, Clip): every double is
**     dyadic and these only add, multiply and compare, so nothing rounds;
**   - as an enclosing interval of dyadics through the smooth activations
**     (sigmoid, tanh, ELU: monotone; SiLU, GELU, Log, Pow...: the rigorous
**     range of src/act_shape.c; the libm value widened outward by 16
**     ulps, see exact.c) and through nodes whose
**     stored parameters are roundings of the file's (exact = 0: each
**     parameter p stands for some p' with |p' - p| <= rel_err |p|).
** The outputs are then either exact values (exact_is_point) or intervals
** that contain the real outputs.  Decisions read them through exact_row_sign,
** which says the sign of a . y - b over the whole enclosure.
**
** Cost: one GMP multiply-add per weight use; meant for a handful of points
** per property (candidates the double pass already accepts), not for search.
** GMP is used here and in the proof checker (proofchk.c), through dyadic.h.
*/
#ifndef CB_EXACT_H
#define CB_EXACT_H

#include <stddef.h>
#include "net.h"

typedef struct cb_exact cb_exact;

/* Evaluates net at x (node 0's size doubles, all finite).  *out is NULL on
   error (CB_EVALUE for a non-finite x, CB_ENOMEM, CB_EUNSUP for a max pool
   window with no element). */
int exact_eval(const cb_net *net, const double *x, cb_exact **out, cb_error *err);
/* The same at a rational point: x_k = (dec_lo[k] + dec_hi[k]) / 2 exactly
   where dec_lo[k] is set (VNNLIB decimal texts, [+-]d[.d][e[+-]d]; equal
   texts pin x_k to that decimal, e.g. "0.1" = 1/10, which no double
   equals), else x_k = x[k].  dec_lo, dec_hi may be NULL (then exact_eval).
   CB_EVALUE also for a text that is no decimal, dec_lo[k] > dec_hi[k], or
   an exponent beyond +-4000.  Values are held times 10^K (K: the decimals'
   digits), which keeps them dyadic: see exact.c. */
int exact_eval_dec(const cb_net *net, const double *x, const char *const *dec_lo, const char *const *dec_hi,
                   cb_exact **out, cb_error *err);
void exact_free(cb_exact *e);                         /* NULL is a no-op */

size_t exact_n_in(const cb_exact *e);
/* Input k enclosed in doubles (lo == hi: it is that double). */
void exact_input(const cb_exact *e, size_t k, double *lo, double *hi);
/* Input k as its exact decimal text (a fraction "N/D" when too long). */
void exact_input_text(const cb_exact *e, size_t k, char *buf, size_t n);
/* 1 if every input is a double (0: a rational point outside the doubles). */
int exact_input_is_double(const cb_exact *e);

int exact_is_point(const cb_exact *e);                /* 1: outputs are exact values */
size_t exact_n_out(const cb_exact *e);
/* Output j enclosed in doubles, rounded outward: lo <= y_j <= hi. */
void exact_output(const cb_exact *e, size_t j, double *lo, double *hi);
/* Output j as text: the exact value in decimal (or "N/2^K", or "N/D" at a
   rational point, when long) for a point, else "[lo, hi]" in %.17g rounded
   outward.  Always NUL-terminated. */
void exact_output_text(const cb_exact *e, size_t j, char *buf, size_t n);

/* Signs (-1, 0, +1) of the least and the greatest value of a . y - b over
   the enclosure of the outputs y (a has exact_n_out entries, finite; b a
   finite double).  For a point both are the sign of the exact value. */
void exact_row_sign(const cb_exact *e, const double *a, double b, int *smin, int *smax);

/* 1 if ||x - c||_p <= eps holds exactly for reals x, c, eps given as doubles
   (p: 0 for L-inf, 1 or 2), else 0 (also when any of them is not finite: an
   infinite point lies in no ball).  n may be 0 (then 1 for eps >= 0). */
int exact_dist_le(const double *x, const double *c, size_t n, int p, double eps);

#endif
