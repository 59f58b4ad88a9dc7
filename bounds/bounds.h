/*
** The bounds floor: input sets, the per-sample workspace, IBP and CROWN.
**
** Soundness model (DESIGN.md): every bound holds for the real-arithmetic
** network given by the stored double parameters.  Arithmetic is plain double;
** each step that rounds adds its worst-case error to an explicit slack:
**   IBP:   widen each box by gamma_k (|W| (|c| + r) + |b|)  (k = dot length + 1)
**   CROWN: per backward step, slack += gamma_k |A| (|W| zmax + |b|), where zmax
**          bounds |z| at the step's input (from the IBP boxes); relaxation lines
**          are valid in real arithmetic (intercepts rounded outward);
**   concretisation adds gamma_{n+2} (|A| |x0| + |bias| + eps ||A||_*).
** gamma_k = k u / (1 - k u), u = 2^-53 (Higham, Accuracy and Stability of
** Numerical Algorithms, Sec. 3.1).  Gradual underflow is an absolute error
** (<= 2^-1075 per product) that gamma_k does not cover: each of the three
** steps adds (number of products) x 2^-1074 (x sum |z| in CROWN).  The slack
** is computed, then doubled to cover its own rounding.  docs/soundness.md
** gives the whole argument; tests/test_adversarial.c checks it exactly.  Nodes marked exact = 0 (stored parameter differs
** from the file's real value by rel_err) are widened the same way.
*/
#ifndef CB_BOUNDS_H
#define CB_BOUNDS_H

#include "net.h"

typedef enum cb_norm { CB_NORM_INF, CB_NORM_2, CB_NORM_1, CB_NORM_BOX } cb_norm;

/* The input region: a ball {x : ||x - center|| <= eps} intersected with the
   box [lo, hi] when lo/hi are given, or (CB_NORM_BOX) just the box. */
typedef struct cb_set {
  cb_norm norm;
  double eps;             /* radius, >= 0 (ignored for a box) */
  size_t n;               /* dimension = network input size */
  const double *center;   /* n values (NULL for a box) */
  const double *lo, *hi;  /* box, or clip box for a ball (NULL = none) */
} cb_set;

typedef enum cb_method { CB_IBP, CB_CROWN, CB_CROWN_IBP } cb_method;

/* Per-network cache shared by all samples: |W| of each AFFINE/CONV node. */
typedef struct cb_bnet {
  const cb_net *net;
  double **absW;          /* per node, NULL for kinds without weights */
  double *wmin;           /* per node: smallest nonzero |W| (HUGE_VAL if none), for underflow tests */
} cb_bnet;

/* Per-sample workspace: everything the analyzers learn about one sample. */
typedef struct cb_ws {
  const cb_bnet *bn;
  const cb_net *net;
  cb_set set;
  double **lo, **hi;      /* per node: bounds of the node's output (IBP, refined by CROWN) */
  double **zmax;          /* per node: max(|lo|, |hi|), for rounding slack */
  double **rl_w, **rl_b, **ru_w, **ru_b;  /* per nonlinear node: lower/upper relaxation lines */
  cb_method method;
} cb_ws;

/* set.c */
void set_box(const cb_set *s, double *lo, double *hi);         /* smallest box holding the set */
int set_contains(const cb_set *s, const double *x);            /* 1 if x is in the set (rounding-safe) */
int set_check(const cb_set *s, cb_error *err);                 /* eps >= 0 finite, lo <= hi ... */
void set_support(const cb_set *s, const double *A, size_t q, const double *bias,
                 double *out);    /* out_i >= max_{x in S} A_i x + bias_i, rounding included */

double gamma_n(size_t n);         /* n u / (1 - n u) */
double round_up(double v);        /* >= v after one rounded operation */
double round_dn(double v);

/* workspace.c */
int bnet_init(cb_bnet *bn, const cb_net *net, cb_error *err);
void bnet_free(cb_bnet *bn);
cb_ws *ws_new(const cb_bnet *bn, const cb_set *set, cb_error *err);  /* NULL on error */
void ws_free(cb_ws *ws);                                              /* NULL is a no-op */

/* ibp.c: boxes for every node. */
int ibp_run(cb_ws *ws, cb_error *err);
int ibp_node(cb_ws *ws, int i, cb_error *err);  /* box (and zmax) of node i from its inputs' boxes */
void set_zmax(cb_ws *ws, int i);                /* zmax = max(|lo|, |hi|) of node i */

/* relax.c: lines y >= lw x + lb and y <= uw x + ub valid for x in [l, u]. */
void relax_node(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub);
int relax_supported(const cb_node *n, cb_error *err);

/* crown.c */
int crown_upper(cb_ws *ws, int start, const double *A, size_t q, double *out, cb_error *err);
                  /* out_i >= max over the set of A_i . value(start) (A is q x size(start)) */
int bounds_run(cb_ws *ws, cb_method m, cb_error *err);  /* intermediate bounds for method m */
int bounds_spec(cb_ws *ws, const double *C, size_t q, double *lb, double *ub, cb_error *err);
                  /* bounds of C f(x) (C is q x output size); lb or ub may be NULL */

#endif
