/*
** cerbere: sound certificates for neural networks.  Public API.
**
** Conventions, for every function below:
** - Handles are opaque (cb_net, cb_data, cb_region, cb_certificate,
**   cb_verification): created by one function, freed by its *_free, which
**   accepts NULL.  The library keeps no global state of its own: a handle
**   is used by one thread at a time, while const handles (a cb_net, a
**   cb_region) may be read by many threads at once, e.g. one cb_net shared
**   by threads that each bound their own region.
** - Every fallible call returns a cb_status (0 = CB_OK, negative on failure)
**   and, on failure, fills the caller's cb_error (which may be NULL) with
**   one line that names the file, the node or line, and what is wrong.  On
**   failure, output handles are set to NULL and output arrays are left in
**   an unspecified state.  Nothing is printed and nothing exits.
** - A NULL handle or pointer where one is required gives CB_EUSAGE; an array
**   whose length (the size_t after it) is not the one the network needs
**   gives CB_ESHAPE.  Something the library does not do yet gives
**   CB_EUNSUP with a message saying what; it never answers in its place.
** - Arrays are flat C-order double.  The caller owns every array it passes
**   and every array it gets back is owned by the handle it came from (valid
**   until that handle is freed).
** - Options structs (cb_*_opts) are passed by pointer and start with a
**   `size` field.  Always fill one with its init function first, giving
**   the struct's size: cb_certify_opts o; cb_certify_opts_init(&o, sizeof o);
**   then change fields.  New fields are only ever appended, so a program
**   built against an older header keeps working with a newer library: init
**   writes no more than `size` bytes, and a call reads the first o->size
**   bytes and takes the defaults for the rest.  A size of 0 (struct not
**   initialised) or one larger than the library knows (a newer header than
**   the library) gives CB_EUSAGE.  A NULL opts pointer means the defaults.
** - Soundness: a bound holds for the network's stored weights in real
**   arithmetic, rounding included; CB_ANSWER_VERIFIED comes only from such
**   a bound, CB_ANSWER_FALSIFIED only with a counterexample re-checked by
**   the forward pass.
** Build with: cc prog.c $(pkg-config --cflags --libs cerbere)
*/
#ifndef CERBERE_H
#define CERBERE_H

#include <stddef.h>

#define CB_VERSION "0.1.0"

const char *cb_version(void);                     /* the loaded library's version, e.g. "0.1.0"
                                                     (CB_VERSION of the header it was built
                                                     with; compare with this header's) */

typedef enum cb_status {
  CB_OK = 0,
  CB_EUSAGE = -1,    /* bad argument from the caller */
  CB_EIO = -2,       /* file cannot be opened or read */
  CB_EFORMAT = -3,   /* malformed file (protobuf, NNet, CSV, VNNLIB) */
  CB_EUNSUP = -4,    /* well-formed but uses something we do not support */
  CB_ESHAPE = -5,    /* shapes do not chain */
  CB_EVALUE = -6,    /* NaN, infinity or out-of-range value */
  CB_ENOMEM = -7,    /* allocation failed or size absurd */
  CB_EINTERNAL = -8, /* a bug: an invariant was broken */
  CB_ELIMIT = -9     /* --timeout or --max-memory reached (cb_limits_set) */
} cb_status;

typedef struct cb_error {
  cb_status status;  /* the failing status, CB_OK if none */
  char msg[1024];    /* one line, no trailing newline */
} cb_error;

typedef struct cb_net cb_net;    /* canonical network (opaque) */
typedef struct cb_data cb_data;  /* labelled samples (opaque) */

const char *cb_status_name(cb_status s);          /* short text for a status */

cb_status cb_net_load(const char *path, cb_net **out, cb_error *err);
                                                  /* ONNX or NNet, chosen by content; *out is
                                                     freed with cb_net_free.  CB_EIO, CB_EFORMAT,
                                                     CB_EUNSUP, CB_ESHAPE, CB_EVALUE, CB_ENOMEM */
void cb_net_free(cb_net *net);                    /* NULL is a no-op */
size_t cb_net_input_size(const cb_net *net);      /* flattened input length (0 for NULL) */
size_t cb_net_output_size(const cb_net *net);     /* flattened output length (0 for NULL) */
cb_status cb_net_forward(const cb_net *net, const double *x, size_t batch,
                         double *y, cb_error *err);
                                                  /* x [batch][in] -> y [batch][out], double */

cb_status cb_data_load_csv(const char *path, size_t n_features, cb_data **out,
                           cb_error *err);        /* rows "label,x0,...,x(n-1)"; n_features 0 = infer */
cb_status cb_data_load(const char *path, const char *labels_path, size_t n_features, double scale,
                       cb_data **out, cb_error *err);
                                                  /* by content: X.npy (labels_path: labels .npy,
                                                     required), .npz (x.npy, y.npy; labels_path
                                                     NULL), a folder of PNG images (labels_path:
                                                     'file,label' CSV, required; pixels C,H,W) or
                                                     CSV (labels_path NULL); features
                                                     times scale (> 0; 1 = as stored, 1/255.
                                                     for uint8 pixels); n_features 0 = infer */
void cb_data_free(cb_data *d);                    /* NULL is a no-op */
size_t cb_data_rows(const cb_data *d);            /* number of samples */
size_t cb_data_cols(const cb_data *d);            /* features per sample */
const double *cb_data_x(const cb_data *d, size_t row); /* features of one row (owned by d);
                                                     NULL for a NULL d or row >= rows */
int cb_data_label(const cb_data *d, size_t row);  /* label of one row; -1 for a NULL d or
                                                     row >= rows */
cb_status cb_data_check_labels(const cb_data *d, const char *path, size_t r0, size_t r1,
                               size_t n_classes, cb_error *err);
                                                  /* rows [r0, r1) labelled 0..n_classes-1, else
                                                     CB_EVALUE "PATH: row R: label L is not a
                                                     class ..."; CB_EUSAGE for a NULL d or a
                                                     range outside the rows */

size_t cb_argmax(const double *v, size_t n);      /* first index of the maximum */

/* ---- Input regions ---------------------------------------------------------
** A cb_region is the set of inputs an analysis covers: an Lp ball
** {x : ||x - center||_p <= eps}, optionally intersected with a box (the
** clip box: valid pixel range, per feature), or a box alone.  It copies
** what it is given; its size is the network's input size. */
typedef enum cb_lp {
  CB_LP_INF,                                      /* max |x_i| */
  CB_LP_2,                                        /* Euclidean */
  CB_LP_1                                         /* sum |x_i| */
} cb_lp;
typedef struct cb_region cb_region;               /* input set (opaque) */

cb_status cb_region_ball(const cb_net *net, cb_lp norm, double eps, const double *center, size_t n,
                         cb_region **out, cb_error *err);
                                                  /* ball of radius eps >= 0 (finite) around
                                                     center (n = input size values, finite), no
                                                     clip; free with cb_region_free.  CB_EUSAGE
                                                     (NULL, unknown norm), CB_ESHAPE (n),
                                                     CB_EVALUE (eps or a value not finite) */
cb_status cb_region_box(const cb_net *net, const double *lo, const double *hi, size_t n,
                        cb_region **out, cb_error *err);
                                                  /* the box [lo, hi] (n values each, lo <= hi,
                                                     finite); errors as cb_region_ball */
cb_status cb_region_clip(cb_region *r, const double *lo, const double *hi, size_t n, cb_error *err);
                                                  /* intersect a ball with the box [lo, hi]
                                                     (replaces an earlier clip).  CB_EUSAGE on a
                                                     box region, CB_ESHAPE (n), CB_EVALUE when
                                                     lo > hi, a value is NaN, or the ball
                                                     provably misses the box (empty set) */
void cb_region_free(cb_region *r);                /* NULL is a no-op */

/* ---- Bounds ---------------------------------------------------------------
** Certified bounds over a region.  Each call builds its own workspace, so
** calls on one network may run in parallel on different threads. */
typedef enum cb_bound_method {
  CB_BOUND_IBP,                                   /* interval bound propagation: fastest, loosest */
  CB_BOUND_CROWN,                                 /* backward linear bounds (CROWN/DeepPoly) */
  CB_BOUND_CROWN_IBP,                             /* IBP intermediate bounds, CROWN at the output */
  CB_BOUND_ALPHA_CROWN                            /* CROWN with optimised relaxations: tightest,
                                                     10-150x CROWN's time */
} cb_bound_method;
const char *cb_bound_method_name(cb_bound_method m); /* "ibp", "crown", "crown-ibp", "alpha-crown";
                                                     "?" when unknown */

cb_status cb_bounds_logits(const cb_net *net, const cb_region *set, cb_bound_method m,
                           double *lo, double *hi, size_t n, cb_error *err);
                                                  /* lo[k] <= f_k(x) <= hi[k] for every x in
                                                     set, n = output size.  CB_EUSAGE (NULL,
                                                     unknown method), CB_ESHAPE (n), CB_EUNSUP
                                                     (a node the method cannot bound),
                                                     CB_ENOMEM, CB_EVALUE (NaN in a bound) */
cb_status cb_bounds_margins(const cb_net *net, const cb_region *set, cb_bound_method m, int label,
                            double *lo, size_t n, cb_error *err);
                                                  /* lo[k] <= f_label(x) - f_j(x) for the
                                                     classes j != label in ascending order (k-th
                                                     such j), n = output size - 1; all > 0
                                                     proves the label is kept on set.  Errors
                                                     as cb_bounds_logits, and CB_EUSAGE when
                                                     label is not a class or the net has one
                                                     output */

/* ---- Certification of one sample -------------------------------------------
** The certify cascade (the `cerbere certify` command): clean pass, attack,
** global Lipschitz, IBP, CROWN-IBP, CROWN, local Lipschitz, alpha-CROWN,
** strong attack, branch and bound; cheapest first, the first that decides
** wins. */
typedef enum cb_answer {
  CB_ANSWER_UNKNOWN,                              /* neither proved nor refuted (see the reason) */
  CB_ANSWER_VERIFIED,                             /* proved over the whole set / property box */
  CB_ANSWER_FALSIFIED,                            /* a re-checked counterexample exists */
  CB_ANSWER_TIMEOUT,                              /* verify: the time limit came first */
  CB_ANSWER_ERROR                                 /* verify: an internal error stopped the search */
} cb_answer;
const char *cb_answer_name(cb_answer a);          /* "unknown", "verified", "falsified", "timeout",
                                                     "error"; "?" when out of range */
const char *cb_answer_vnnlib(cb_answer a);        /* VNN-COMP's word: "unknown", "unsat", "sat",
                                                     "timeout", "error"; "?" out of range */

typedef struct cb_certify_opts {
  size_t size;                                    /* sizeof (cb_certify_opts): set by init */
  double timeout;                                 /* seconds for the sample; 0 = none (default 0);
                                                     out of time gives CB_ANSWER_UNKNOWN */
  double bab_timeout;                             /* seconds of branch and bound within it, L-inf
                                                     balls only; 0 = no bab step (default 10) */
  double bab_memory_mb;                           /* cap on bab's queued subdomains (default 512) */
  int radius;                                     /* 1: also search the certified radius
                                                     (`certify --radius`, cb_certificate_radii);
                                                     default 0 */
} cb_certify_opts;
void cb_certify_opts_init(cb_certify_opts *o, size_t size);
                                                  /* the defaults above into the first size
                                                     bytes of *o (size = sizeof *o; sets
                                                     o->size); NULL is a no-op */

typedef struct cb_certificate cb_certificate;     /* one sample's verdict (opaque) */

cb_status cb_certify(const cb_net *net, const cb_region *set, int label, const cb_certify_opts *o,
                     cb_certificate **out, cb_error *err);
                                                  /* is every input of set classified as label?
                                                     set is a ball (its centre is the sample),
                                                     with or without a clip box (one range for
                                                     every feature is `certify --clip`; bounds
                                                     per feature are `certify --box`); o NULL =
                                                     the defaults.  A verdict (any answer) is
                                                     CB_OK; free *out with cb_certificate_free.
                                                     CB_EUSAGE (NULL, label not a class, a box
                                                     region), CB_EVALUE, CB_ENOMEM */
void cb_certificate_free(cb_certificate *c);      /* NULL is a no-op */
cb_answer cb_certificate_answer(const cb_certificate *c); /* verified, falsified or unknown
                                                     (CB_ANSWER_UNKNOWN for NULL) */
const char *cb_certificate_method(const cb_certificate *c); /* the method that decided ("crown",
                                                     "attack", ...), "none" when unknown, "" NULL */
const char *cb_certificate_reason(const cb_certificate *c); /* one line: why (the margin that
                                                     failed, a timeout); owned by c; "" for NULL */
int cb_certificate_predicted(const cb_certificate *c); /* class of the clean point; -1 for NULL */
const double *cb_certificate_counterexample(const cb_certificate *c, size_t *n);
                                                  /* falsified: the checked input (owned by c,
                                                     *n = input size); else NULL, *n = 0 */
int cb_certificate_label(const cb_certificate *c); /* the label certified; -1 for NULL */
const double *cb_certificate_margins(const cb_certificate *c, size_t *n);
                                                  /* lower bounds of f_label - f_j (j != label,
                                                     ascending) over the set from the deciding
                                                     (or last) bound method, *n = outputs - 1;
                                                     NULL, *n = 0 when no bound method ran */
int cb_certificate_radii(const cb_certificate *c, double *certified, double *attacked);
                                                  /* with opts radius = 1: 1, *certified = the
                                                     largest eps proved (bisection with the
                                                     cascade's sound methods), *attacked = the
                                                     smallest eps with a counterexample
                                                     (INFINITY if none found); else 0 */

/* ---- VNNLIB verification ---------------------------------------------------
** Complete verification of a VNNLIB property (the `cerbere verify`
** command): branch and bound over the input box.  The asserts describe a
** counterexample: unsat (CB_ANSWER_VERIFIED) = none exists, sat
** (CB_ANSWER_FALSIFIED) = a witness checked in real arithmetic. */
typedef struct cb_verify_opts {
  size_t size;                                    /* sizeof (cb_verify_opts), set by init */
  double timeout;                                 /* wall-clock seconds (default 300) */
  double max_memory_mb;                           /* cap on queued subdomains (default 2048);
                                                     reaching it answers unknown */
  int threads;                                    /* OpenMP threads; 0 = OpenMP's default */
} cb_verify_opts;
void cb_verify_opts_init(cb_verify_opts *o, size_t size);
                                                  /* the defaults above into the first size
                                                     bytes of *o (size = sizeof *o; sets
                                                     o->size); NULL is a no-op */

typedef struct cb_verification cb_verification;   /* the answer and its witness (opaque) */

cb_status cb_verify_vnnlib(const cb_net *net, const char *vnnlib_path, const cb_verify_opts *o,
                           cb_verification **out, cb_error *err);
                                                  /* decides the property; o NULL = defaults.
                                                     CB_OK with any answer (error included);
                                                     free *out with cb_verification_free.
                                                     CB_EUSAGE (NULL), CB_EIO, CB_EFORMAT,
                                                     CB_EUNSUP (the VNNLIB file), CB_ESHAPE (its
                                                     X/Y counts differ from the net's),
                                                     CB_ENOMEM */
void cb_verification_free(cb_verification *v);    /* NULL is a no-op */
cb_answer cb_verification_answer(const cb_verification *v); /* unsat = CB_ANSWER_VERIFIED, sat =
                                                     CB_ANSWER_FALSIFIED, timeout, unknown, error
                                                     (CB_ANSWER_ERROR for NULL) */
const char *cb_verification_reason(const cb_verification *v); /* one line; owned by v; "" NULL */
const double *cb_verification_witness(const cb_verification *v, size_t *nx, const double **y,
                                      size_t *ny);
                                                  /* sat: the witness input (*nx values) and
                                                     its output (*y, *ny; y, ny may be NULL),
                                                     owned by v; else NULL and zero sizes */
int cb_verification_witness_rational(const cb_verification *v);
                                                  /* 1 when the sat witness is a rational point
                                                     no double equals (an input pinned to a
                                                     decimal such as 0.1): checked exactly, and
                                                     the witness arrays hold the nearest
                                                     doubles; 0 otherwise */

/* ---- Lipschitz -------------------------------------------------------------- */
cb_status cb_lipschitz_upper(const cb_net *net, cb_lp norm, double *K, cb_error *err);
                                                  /* *K >= the global Lipschitz constant of the
                                                     whole network in the norm (||f(x) - f(y)||
                                                     <= K ||x - y||, same norm on both sides):
                                                     min of the layerwise and merged bounds of
                                                     `cerbere lipschitz`.  CB_EUSAGE (NULL,
                                                     unknown norm), CB_EUNSUP (a node kind
                                                     without a Lipschitz rule), CB_ENOMEM */

/* ---- Radius search -----------------------------------------------------------
** The largest eps for which a sample's label is proved over the ball. */
typedef enum cb_radius_method {
  CB_RADIUS_CASCADE,                              /* `certify --radius`: bisection on eps with
                                                     the certify cascade's sound methods, and
                                                     the attack radius above it (default) */
  CB_RADIUS_LOCAL_LIPSCHITZ                       /* `jacobian`'s certified_radius_local: balls
                                                     whose local Lipschitz constants (interval
                                                     Jacobian) certify min(eps, m_j / L_j),
                                                     never below the global-Lipschitz radius;
                                                     no attack, *attacked = INFINITY */
} cb_radius_method;
typedef struct cb_radius_opts {
  size_t size;                                    /* sizeof (cb_radius_opts), set by init */
  cb_radius_method method;                        /* default CB_RADIUS_CASCADE */
  double timeout;                                 /* cascade: seconds for the sample (0 = none,
                                                     default 0): the bracket found by then */
  double bab_timeout;                             /* cascade: bab seconds at the region's eps
                                                     (default 10; 0 = no bab step) */
  cb_bound_method bounds;                         /* local Lipschitz: pre-activation bounds of
                                                     each ball, CB_BOUND_CROWN (default) or
                                                     CB_BOUND_IBP */
  int steps;                                      /* local Lipschitz: balls bounded at most
                                                     (default 16, 0..60; 0 = the global radius) */
} cb_radius_opts;
void cb_radius_opts_init(cb_radius_opts *o, size_t size);
                                                  /* the defaults above into the first size
                                                     bytes of *o (size = sizeof *o; sets
                                                     o->size); NULL is a no-op */

cb_status cb_radius(const cb_net *net, const cb_region *set, int label, const cb_radius_opts *o,
                    double *certified, double *attacked, cb_error *err);
                                                  /* set: a ball around the sample (its norm
                                                     and centre; CB_RADIUS_CASCADE starts at its
                                                     eps and honours its clip box, as `certify
                                                     --radius --eps E`; the local search reads
                                                     neither, CB_EUNSUP with a clip box).
                                                     *certified: the label holds on the ball of
                                                     that radius (0 if none proved); *attacked
                                                     (may be NULL): the smallest radius with a
                                                     checked counterexample, INFINITY if none.
                                                     CB_EUSAGE (NULL, box region, label, opts),
                                                     CB_EUNSUP, CB_ENOMEM */

/* ---- Gradients and interval Jacobians ---------------------------------------- */
cb_status cb_gradient(const cb_net *net, const double *x, size_t n, const double *C, size_t q,
                      double *G, size_t ng, cb_error *err);
                                                  /* G = C df/dx at x (reverse mode, derivative
                                                     of ReLU at 0 = 0 as in PyTorch): C is q x
                                                     outputs row-major (NULL: the identity, q =
                                                     outputs: the Jacobian), G is q x inputs
                                                     (ng = q * inputs), n = input size.  The
                                                     double computation, not a bound.
                                                     CB_EUSAGE, CB_ESHAPE, CB_EVALUE, CB_ENOMEM */
cb_status cb_jacobian_bounds(const cb_net *net, const cb_region *set, cb_bound_method m,
                             const double *C, size_t q, double *lo, double *hi, size_t ng,
                             cb_error *err);
                                                  /* interval Jacobian: lo <= C df/dx(x) <= hi
                                                     entrywise for every x of set (the Clarke
                                                     Jacobian at kinks; sound, rounding
                                                     included); C and sizes as cb_gradient.  m:
                                                     the pre-activation bounds, CB_BOUND_IBP or
                                                     CB_BOUND_CROWN (tighter); others CB_EUNSUP */

/* ---- Attributions ------------------------------------------------------------
** One value per input feature (C order) of the score f_target, or per pixel
** for an image input with C > 1 channels (max over channels, `reduce`). */
typedef enum cb_attr_method {
  CB_ATTR_SALIENCY,                               /* |df/dx| */
  CB_ATTR_GRADXINPUT,                             /* x * df/dx */
  CB_ATTR_IG,                                     /* Integrated Gradients (trapezoid, steps) */
  CB_ATTR_SMOOTHGRAD,                             /* mean gradient under Gaussian noise */
  CB_ATTR_VARGRAD,                                /* its variance */
  CB_ATTR_SQUAREGRAD,                             /* its mean square */
  CB_ATTR_OCCLUSION,                              /* score drop of patches set to baseline */
  CB_ATTR_RISE,                                   /* random masks */
  CB_ATTR_GRADCAM,                                /* Grad-CAM at a CONV node */
  CB_ATTR_GRADCAMPP,                              /* Grad-CAM++ */
  CB_ATTR_EVA,                                    /* certified margin gain of pinned groups */
  CB_ATTR_LRP,                                    /* layer-wise relevance (lrp_rule, default
                                                     EpsilonPlus: eps dense, zplus conv) */
  CB_ATTR_DEEPLIFT,                               /* DeepLIFT Rescale (baseline as IG) */
  CB_ATTR_GUIDEDBP,                               /* Guided Backprop (ReLU nets) */
  CB_ATTR_DECONVNET,                              /* DeconvNet (ReLU nets) */
  CB_ATTR_KERNELSHAP,                             /* KernelSHAP (seeded; exact for <= 12 groups) */
  CB_ATTR_SCORECAM,                               /* Score-CAM at a CONV node */
  CB_ATTR_OPTICAM,                                /* Opti-CAM (Adam on the mask weights) */
  CB_ATTR_LIME,                                   /* LIME (seeded, patch superpixels) */
  CB_ATTR_SOBOL,                                  /* total-order Sobol indices (QMC masks) */
  CB_ATTR_HSIC,                                   /* HSIC of binary cell masks */
  CB_ATTR_ROLLOUT                                 /* attention rollout / raw attention: one
                                                     value per token, class-independent */
} cb_attr_method;
const char *cb_attr_method_name(cb_attr_method m); /* "saliency", "gradxinput", "ig", ...
                                                     (the CLI's --method words); "?" unknown */
typedef struct cb_attr_opts {
  size_t size;                                    /* sizeof (cb_attr_opts), set by init */
  cb_attr_method method;                          /* default CB_ATTR_SALIENCY */
  int steps;                                      /* IG trapezoid intervals (default 50) */
  double baseline;                                /* IG baseline / occlusion value (default 0) */
  const double *baseline_vec;                     /* IG: one baseline per input (input size
                                                     values), NULL = the constant (default) */
  int n_baselines;                                /* IG: > 0 averages over that many random
                                                     baselines ~ U[min x, max x] (default 0) */
  int samples;                                    /* noise samples / RISE masks / LIME, Sobol,
                                                     HSIC designs; 0 = the method's default
                                                     (50, RISE and KernelSHAP 2000, LIME 500,
                                                     Sobol 32, HSIC 500) */
  double sigma;                                   /* noise standard deviation (default 0.2) */
  unsigned long long seed;                        /* RNG seed of random methods (default 1) */
  int patch, stride;                              /* occlusion patch (0 = default 2; EVA group
                                                     side, default 1) and stride (default 1) */
  double rise_p;                                  /* RISE keep probability (default 0.5) */
  int rise_cells;                                 /* RISE grid side (default 4) */
  const char *node;                               /* CAM methods' CONV node (NULL: last CONV) */
  int reduce;                                     /* 1 (default): max over channels when C > 1;
                                                     0: one value per input feature */
  cb_lp norm;                                     /* EVA ball norm (default CB_LP_INF) */
  double eps;                                     /* EVA ball radius (default 0.05) */
  const char *lrp_rule;                           /* LRP rules as `--rule`: "R" or
                                                     "dense=R,conv=R", R in eps|gamma|zplus|
                                                     alphabeta; NULL = the default composite */
  double lrp_eps, lrp_gamma, lrp_alpha;           /* LRP eps (1e-6), gamma (0.25), alpha (2) */
  double lr;                                      /* Opti-CAM Adam learning rate (0.1) */
  int grid;                                       /* Sobol / HSIC grid side (8) */
  double kernel_width, ridge;                     /* LIME kernel width (0.25), ridge (1) */
  int attention_raw;                              /* rollout: 0 (default) rollout over the
                                                     layers, 1 raw attention of the `node` layer
                                                     (NULL: the last) */
  int head_fusion;                                /* rollout: heads fused by 0 mean (default),
                                                     1 max, 2 min */
  int query;                                      /* rollout: the query token's row; -1 (default)
                                                     the mean of the rows */
} cb_attr_opts;
void cb_attr_opts_init(cb_attr_opts *o, size_t size);
                                                  /* the defaults above into the first size
                                                     bytes of *o (size = sizeof *o; sets
                                                     o->size); NULL is a no-op */
size_t cb_attr_map_size(const cb_net *net, const cb_attr_opts *o);
                                                  /* map length: H x W when channels are reduced
                                                     (o->reduce, o NULL = the defaults), else the
                                                     input size; 0 for a NULL net */
cb_status cb_attribute(const cb_net *net, const double *x, size_t n, int target,
                       const cb_attr_opts *o, double *map, size_t nm, cb_error *err);
                                                  /* the map of class target at x (n = input
                                                     size, nm = cb_attr_map_size); the same
                                                     numbers as `cerbere attribute` (seeded,
                                                     deterministic).  CB_EUSAGE (NULL, target,
                                                     options), CB_ESHAPE, CB_EUNSUP, CB_ENOMEM */
cb_status cb_attribute_bounds(const cb_net *net, const cb_region *set, int target,
                              const cb_attr_opts *o, double *lb, double *ub, size_t nm,
                              cb_error *err);
                                                  /* certified: lb <= map(y) <= ub for every y
                                                     of set (a ball, maybe clipped; its centre
                                                     is the sample), for saliency, gradxinput,
                                                     ig (also with random baselines),
                                                     smoothgrad, vargrad, squaregrad (fixed
                                                     seed), occlusion, rise, gradcam and
                                                     gradcampp (`cerbere audit`'s bounds);
                                                     other methods CB_EUNSUP */

/* ---- Comparing attributions across models, and sanity checks ----------------- */
typedef struct cb_mege {
  double mege, reco;                              /* NaN when undefined (no pair of its kind) */
  size_t n_eq, n_ne, n_nan;                       /* pairs with equal / different correctness,
                                                     pairs left out (a constant map) */
} cb_mege;
cb_status cb_compare_models(const cb_net *const *nets, size_t K, const double *X, const int *labels,
                            const int *splits, size_t R, size_t n, const cb_attr_opts *o,
                            cb_mege *out, cb_error *err);
                                                  /* MeGe and ReCo (Xplique's K-models /
                                                     K-splits protocol, `cerbere compare-
                                                     models`): X R rows of n inputs, labels R
                                                     classes, splits R indices in 0..K-1 (model
                                                     k did not see split k; every split used);
                                                     each model's map of each row's label.
                                                     CB_EUSAGE (NULL, K < 2, eva), CB_ESHAPE
                                                     (models of different input sizes or
                                                     classes), CB_EVALUE (splits that do not
                                                     partition the rows, labels) */
typedef struct cb_sanity {
  double model_spearman, model_change;            /* the map against the map of a copy of the
                                                     net with re-initialised layers: Spearman
                                                     rank correlation (NaN: a constant map),
                                                     relative L2 change ||m' - m|| / ||m|| */
  int logit_class;                                /* a random class other than the target */
  double logit_spearman, logit_change;            /* the map against that class's map */
} cb_sanity;
cb_status cb_attr_sanity(const cb_net *net, const double *x, size_t n, int target,
                         const cb_attr_opts *o, int layers, size_t row, cb_sanity *out,
                         cb_error *err);
                                                  /* the randomisation sanity checks (Adebayo
                                                     et al. 2018) of `cerbere attribute
                                                     --sanity`: the last `layers` (<= 0: all)
                                                     AFFINE/CONV layers re-initialised from
                                                     o->seed (net itself is unchanged); row is
                                                     mixed into the random class's seed as the
                                                     CLI does for data row `row`.  CB_EUNSUP
                                                     (no such layer; one class), as
                                                     cb_attribute otherwise */

/* ---- JSON report ---------------------------------------------------------------- */
cb_status cb_certificates_write_json(const char *path, const cb_certificate *const *certs, size_t n,
                                     cb_error *err);
                                                  /* writes {command: "api", version, summary:
                                                     {n_samples, n_verified, n_falsified,
                                                     n_unknown}, samples: [{index, label, norm,
                                                     eps, pred, verdict, decided_by, reason,
                                                     logits, margin_lb, counterexample,
                                                     certified_radius, attack_radius}]} with
                                                     the keys of `certify`'s certificates.json;
                                                     numbers print back to the same doubles;
                                                     written to PATH.tmp and renamed (no
                                                     partial file).  CB_EUSAGE, CB_EIO, CB_ENOMEM */

#endif
