/*
** Attributions: which input features a class score f_c depends on, and how
** far an attribution map can move over a ball (certified bounds).
**
** A map has one value per input feature, in the input's C order; for an
** image with C > 1 channels the default reduces it by the max over channels
** (Xplique's default) to H x W values (attr_map_size).  The score is the
** logit f_c of the target c.
**   attr_grad.c     Saliency |df_c/dx|, Gradient x Input, Integrated Gradients
**                   (trapezoid, m steps), SmoothGrad / VarGrad / SquareGrad
**   attr_perturb.c  Occlusion, RISE
**   attr_cam.c      Grad-CAM, Grad-CAM++, Score-CAM, Opti-CAM at a named CONV node
**   attr_gsa.c      LIME, Sobol total indices, HSIC (batched masked forwards)
**   attr_attn.c     attention rollout and raw attention (one value per token)
**   attr_eva.c      EVA: certified worst-case margin gain when a group is pinned
**   attr_metrics.c  AverageStability (Xplique), Deletion / Insertion AUC
**   attr_cert.c     sound bounds of Saliency, Gradient x Input, the discrete
**                   IG and SmoothGrad / VarGrad / SquareGrad over an Lp ball
**                   (interval Jacobian), guaranteed maximum change of the
**                   map, certified-stable top-k
**   attr_cert_cam.c   sound Grad-CAM / Grad-CAM++ bounds
**   attr_cert_pert.c  sound Occlusion / RISE bounds
** An attr_ctx holds the per-network buffers of one thread; the maps are
** deterministic for fixed options (seeded RNG, no thread-dependent sums).
*/
#ifndef CB_ATTR_H
#define CB_ATTR_H

#include <stdint.h>
#include "bounds.h"
#include "grad.h"

typedef enum attr_method {
  AM_SALIENCY, AM_GRADXINPUT, AM_IG, AM_SMOOTHGRAD, AM_VARGRAD, AM_SQUAREGRAD,
  AM_OCCLUSION, AM_RISE, AM_GRADCAM, AM_GRADCAMPP, AM_EVA,
  AM_LRP, AM_DEEPLIFT, AM_GUIDEDBP, AM_DECONVNET, AM_KERNELSHAP,
  AM_SCORECAM, AM_OPTICAM, AM_LIME, AM_SOBOL, AM_HSIC, AM_ROLLOUT, AM_COUNT
} attr_method;
extern const char *const attr_method_name[AM_COUNT];   /* "saliency", "gradxinput", ... */

/* LRP rules for AFFINE and CONV layers (attr_rules.c has the formulas). */
typedef enum attr_lrp_rule { LRP_EPS, LRP_GAMMA, LRP_ZPLUS, LRP_ALPHABETA, LRP_COUNT } attr_lrp_rule;
extern const char *const attr_lrp_rule_name[LRP_COUNT];   /* "eps", "gamma", "zplus", "alphabeta" */

/* Rollout: how the heads of one attention layer are fused. */
typedef enum attr_fusion { AF_MEAN, AF_MAX, AF_MIN, AF_COUNT } attr_fusion;
extern const char *const attr_fusion_name[AF_COUNT];   /* "mean", "max", "min" */

typedef struct attr_opt {
  attr_method method;
  int target;               /* >= 0: this class; -1: the row's label; -2: the predicted class */
  int steps;                /* IG: trapezoid intervals m (m + 1 gradients; default 50) */
  double baseline;          /* IG baseline constant, occlusion replacement value (default 0) */
  const double *baseline_vec;  /* IG: baseline vector (n values) instead of the constant */
  int n_baselines;          /* IG: > 0 averages over that many baselines ~ U[min x, max x]^n */
  int samples;              /* SmoothGrad/VarGrad/SquareGrad noise samples (50), RISE masks (2000) */
  double sigma;             /* SmoothGrad & co: noise standard deviation (default 0.2) */
  uint64_t seed;            /* RNG seed of every random method (default 1) */
  int patch, stride;        /* occlusion patch side and stride (2, 1); EVA group side (1) */
  double rise_p;            /* RISE: probability a cell is kept (0.5) */
  int rise_cells;           /* RISE: low-resolution grid side (4) */
  const char *node;         /* CAM methods' CONV node name (NULL: the last CONV node) */
  int reduce;               /* 1 (default): max over channels when C > 1 -> H x W map; 0: every feature */
  cb_norm norm;             /* EVA ball (default L-inf, eps 0.05) */
  double eps;
  attr_lrp_rule lrp_rule[2];   /* LRP rule of [0] AFFINE, [1] CONV layers (default eps, zplus: EpsilonPlus) */
  int lrp_rule_set[2];      /* 1: chosen for every layer, 2: for this layer type (the net must have one) */
  double lrp_eps;           /* LRP eps stabiliser (1e-6; 0: LRP-0) */
  double lrp_gamma;         /* LRP gamma (0.25) */
  double lrp_alpha;         /* LRP alpha (2; beta = alpha - 1) */
  double lr;                /* Opti-CAM: Adam learning rate (0.1; steps = the IG steps, 50) */
  int grid;                 /* Sobol / HSIC: grid side G, G x G cells (8, capped at the image side) */
  double kernel_width;      /* LIME: kernel width of exp(-d^2 / w^2), d the cosine distance (0.25) */
  double ridge;             /* LIME: ridge penalty of the weighted linear fit (1) */
  int attn_raw;             /* rollout: 0 (default) rollout over the layers, 1 the raw attention of one layer */
  attr_fusion fusion;       /* rollout: head fusion (default mean) */
  int query;                /* rollout: query token whose row is the map; -1 (default) the mean of the rows */
} attr_opt;

void attr_opt_init(attr_opt *o);
int attr_method_parse(const char *s, attr_method *m);   /* 0 if unknown */

/* Parses an LRP --rule value into o: "R" (every AFFINE and CONV layer) or a
   comma list of "dense=R" / "conv=R", R in eps|gamma|zplus|alphabeta.
   0 if malformed (msg, when not NULL, receives why). */
int attr_lrp_rule_parse(const char *s, attr_opt *o, char *msg, size_t cap);

/* Image view of the input: C x H x W (rank-4 input, or a flat square input as
   1 x s x s, else 1 x 1 x n). */
void attr_image(const cb_net *net, int *c, int *h, int *w);

typedef struct attr_ctx attr_ctx;
attr_ctx *attr_new(const cb_net *net, const attr_opt *o, cb_error *err);  /* checks the options */
void attr_free(attr_ctx *a);

/* Length of a map: H x W when channels are reduced, else the input size. */
size_t attr_map_size(const attr_ctx *a);

/* The target class for a row (o->target rule); error if out of range. */
int attr_target(attr_ctx *a, const double *x, int label, int *target, cb_error *err);

/* map (attr_map_size values) = the attribution of class `target` at x. */
int attr_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err);

/* f_c(x) and, if grad != NULL, df_c/dx (n). */
int attr_score(attr_ctx *a, const double *x, int target, double *score, double *grad, cb_error *err);

/* --- certified bounds (attr_cert.c) --------------------------------------- */

/* For every y in the set s (center x, any norm, optional clip box):
   lb <= map(y) <= ub entrywise (attr_map_size values; a channel-reduced
   map's bounds are the max over channels of the per-feature bounds), for the
   methods of attr_cert_supported: saliency, gradxinput, ig (the discrete IG
   of a->opt, each path point's ball the input ball scaled by alpha for a
   constant or vector baseline, boxes for random baselines), smoothgrad,
   vargrad, squaregrad (the map's seeded noise), occlusion, rise (its
   masks), gradcam and gradcampp (bounds may be infinite where a Grad-CAM++
   denominator can vanish).  Holds for real arithmetic (see attr_cert.c for
   what of the double computation is covered). */
int attr_cert_bounds(attr_ctx *a, const cb_set *s, int target, double *lb, double *ub, cb_error *err);

/* 1 if attr_cert_bounds covers method m (the list in ATTR_CERT_METHODS). */
int attr_cert_supported(attr_method m);
#define ATTR_CERT_METHODS "saliency, gradxinput, ig, smoothgrad, vargrad, squaregrad, occlusion, rise, gradcam and gradcampp"

/* Guaranteed maximum change max_y ||map(y) - map(x)|| in L1, L2, L-inf
   (out[0..2]) from the bounds and the centre map (rounded up). */
void attr_max_change(const double *map, const double *lb, const double *ub, size_t n, double out[3]);

/* Features certified to be in the top-k (by value) for every y of the set:
   i with lb_i > ub_j for all but fewer than k other j.  Writes them to idx
   (ascending), returns their count (<= k). */
size_t attr_certified_topk(const double *lb, const double *ub, size_t n, size_t k, int *idx);

/* The top-k features of a map: the indices of its k largest values, largest
   first (ties: the lower index first); returns how many (min(k, n)). */
size_t attr_topk(const double *map, size_t n, size_t k, int *idx);

/* --- metrics (attr_metrics.c) --------------------------------------------- */

/* Xplique's AverageStability at one sample: mean over K neighbours
   x + e, e ~ U([0, r])^n, of ||map(x + e) - map(x)|| (p = 1 or 2). */
int attr_stability(attr_ctx *a, const double *x, int target, const double *map, double r, int K, int p,
                   uint64_t seed, double *out, cb_error *err);

/* Deletion (insert = 0) or Insertion (insert = 1) AUC: the score f_c as the
   features are set, most important first, from x to the baseline constant
   (deletion) or from the baseline to x (insertion), in `steps` equal steps;
   trapezoid area over [0, 1]. */
int attr_deletion_auc(attr_ctx *a, const double *x, int target, const double *map, int insert, int steps,
                      double *auc, cb_error *err);

/* MuFidelity (Bhatt et al. 2020; Xplique): N random subsets S of the cells
   of a g x g grid over the image (each cell in S with probability frac; g
   capped at the image side), the features of S set to the baseline
   constant; out = Pearson correlation over the N subsets of sum_{i in S}
   map_i and the score drop f_c(x) - f_c(x with S removed).  0 when either
   side is constant. */
int attr_mufidelity(attr_ctx *a, const double *x, int target, const double *map, int g, double frac, int N,
                    uint64_t seed, double *out, cb_error *err);

/* --- comparing maps (attr_compare.c) ---------------------------------------- */

/* Spearman rank correlation of a and b (n values; average ranks for ties);
   NaN when either is constant or n < 2. */
double attr_spearman(const double *a, const double *b, size_t n);

/* MeGe and ReCo of K models (Xplique's K-models / K-splits protocol; the
   definitions and the one documented deviation are in attr_compare.c). */
typedef struct attr_mege_res {
  double mege, reco;        /* NaN when S= (MeGe) or S= u S!= (ReCo) is empty */
  size_t n_eq, n_ne, n_nan; /* |S=|, |S!=|, pairs left out (a constant map) */
} attr_mege_res;

/* maps: K x R x nm (model k's map of row n at (k R + n) nm), pred: K x R
   predicted classes, label and split: R each (split n in 0..K-1: the model
   that did not see row n). */
int attr_mege_reco(const double *maps, const int *pred, const int *label, const int *split, size_t K, size_t R,
                   size_t nm, attr_mege_res *out, cb_error *err);

/* Sparseness (Gini index of |map|) and complexity (entropy of |map| / sum). */
double attr_sparseness(const double *map, size_t n);
double attr_complexity(const double *map, size_t n);

/* Model-parameter randomisation (Adebayo et al. 2018), cascading from the
   output: the last `layers` AFFINE/CONV layers (layers <= 0: all) get
   weights ~ N(0, s^2), s the standard deviation of that layer's original
   weights (1 if they are constant), and zero biases, from a splitmix64
   stream of seed and the node index.  *done: layers re-initialised;
   CB_EUNSUP when the net has none. */
int attr_randomise_net(cb_net *net, int layers, uint64_t seed, int *done);

/* The same on a copy: net is unchanged; the copy shares every node and
   parameter with it except the re-initialised layers' weights and biases,
   and lives until attr_randomised_copy_free (before net is freed).  NULL
   with err set: CB_EUNSUP (no layer), CB_ENOMEM. */
cb_net *attr_randomised_copy(const cb_net *net, int layers, uint64_t seed, int *done, cb_error *err);
void attr_randomised_copy_free(cb_net *copy);   /* NULL: no-op */

/* --- three-valued audits (attr_audit.c) ----------------------------------- */

/* The verdict of an audited row (a closed set):
     stable     certified: every top-k feature is certified to stay in the
                top-k over the ball, and the guaranteed maximum change (L2)
                is within the threshold (when one is set)
     unstable   a witness point w of the ball (distance checked exactly,
                src/exact.c) whose map, recomputed, changes the top-k set
                (a feature enters with a value above a leaving one by more
                than the floating-point margin) or moves more than the
                threshold (L2) from the clean map
     undecided  neither */
typedef enum attr_verdict { AV_STABLE, AV_UNSTABLE, AV_UNDECIDED, AV_COUNT } attr_verdict;
extern const char *const attr_verdict_name[AV_COUNT];   /* "stable", "unstable", "undecided" */

typedef struct attr_audit_opt {
  int topk;                 /* size k of the top-k set (default 5) */
  double threshold;         /* L2 change threshold; INFINITY (default): top-k only */
  int samples;              /* random points of the ball (default 2000) */
  int steps;                /* random-sign finite-difference ascent steps per start (default 30) */
  int restarts;             /* ascent starts: the best samples, then random points (default 6) */
  uint64_t seed;            /* RNG seed of this row (the CLI mixes the row index in) */
} attr_audit_opt;

void attr_audit_opt_init(attr_audit_opt *o);

/* What attr_audit found.  The caller provides witness (n), wmap (map size),
   wtopk, entered and left (k each). */
typedef struct attr_audit_res {
  attr_verdict verdict;
  int certified;            /* 1 when the bounds certify the row (verdict stable) */
  int reason_topk;          /* unstable: 1 the top-k set changed, 0 only the threshold */
  double emp[3];            /* largest change sampled: max ||map(y) - map(x)|| in L1, L2, L-inf */
  double wchange[3];        /* unstable: ||map(w) - map(x)|| in L1, L2, L-inf */
  double *witness, *wmap;   /* unstable: the witness point and its map */
  int *wtopk, *entered, *left;
  int n_entered, n_left;    /* features entering / leaving the top-k at the witness */
  long evals;               /* maps computed by the sampling and the attack */
} attr_audit_res;

/* Audits one row: x the centre of the ball s, map its clean map, lb/ub the
   certified bounds of the map over s (NULL: no bounds, never stable).
   Samples the ball (the empirical stability) and, unless the row is
   certified, attacks the attribution: sign steps along random directions on
   the rank-change objective max_{j not in S} m_j - min_{i in S} m_i (S the
   clean top-k, m the map normalised by max |map(x)|), from the best samples
   and random restarts.  Deterministic for a fixed o->seed.  A sampled point
   that breaks a certified top-k is reported as an internal error (it would
   be a soundness bug). */
int attr_audit(attr_ctx *a, const cb_set *s, int target, const double *map, const double *lb, const double *ub,
               const attr_audit_opt *o, attr_audit_res *r, cb_error *err);

/* 1 if w is in the set s: ||w - centre||_p <= eps checked exactly
   (exact_dist_le) and lo <= w <= hi for a clipped ball. */
int attr_in_ball(const cb_set *s, const double *w);

/* Compares the top-k sets of the clean map m0 (top-k t0) and of m1: writes
   m1's top-k to t1 and the features entering / leaving; returns 1 when the
   set changed by more than the floating-point margin (an entering feature's
   value exceeds a leaving one's by more than 1e-9 max |m1|), else 0. */
int attr_topk_changed(const double *m1, size_t nm, size_t k, const int *t0, int *t1, int *entered, int *n_entered,
                      int *left, int *n_left);

/* --- internals shared by the attr_*.c files ------------------------------- */
struct attr_ctx {
  const cb_net *net;
  attr_opt opt;
  size_t n, no, nm;          /* input, output and map sizes */
  int ch, ih, iw;            /* image view (attr_image) */
  double *full;              /* n: the unreduced map */
  cb_grad *g;
  cb_bnet bn;               /* EVA and certified bounds */
  double *C, *G, *y, *t1, *t2, *t3;   /* no, n, no, n, n, n scratch */
  double *batch, *ybatch;   /* perturbation methods: AB inputs and outputs */
  int cam_node;             /* CAM methods' CONV node index */
  struct attr_rules *rules; /* lrp, deeplift, guidedbackprop, deconvnet buffers (lazy) */
  double lrp_absorbed;      /* LRP: relevance absorbed by biases and eps in the last map */
  struct attr_attn *attn;   /* rollout: the attention maps found and their buffers */
  struct fwd_ws *fw;        /* batched forwards' workspace (lazy, ATTR_FWD_BATCH samples) */
};
/* Y = f(X) for a batch (cb_net_forward's numbers) through the context's
   forward workspace, allocated at the first call and kept: no allocation
   per call. */
int attr_forward(attr_ctx *a, const double *X, size_t batch, double *Y, cb_error *err);
#define ATTR_FWD_BATCH 128
typedef struct attr_attn attr_attn;
/* Rollout (attr_attn.c): finds the attention maps (checks --node, the query,
   square maps for rollout) and sets a->nm to the token count; the map of x. */
int attr_attn_new(attr_ctx *a, cb_error *err);
void attr_attn_free(attr_attn *t);
int attr_attn_map(attr_ctx *a, const double *x, double *map, cb_error *err);
/* The nodes holding the net's attention maps (a Softmax over keys that is the
   left operand of a MatMul), topological order: their count; the first cap
   go to nodes (may be NULL). */
int attr_attn_layers(const cb_net *net, int *nodes, int cap);
typedef struct attr_rules attr_rules;
void attr_rules_free(attr_rules *r);
/* Method-specific checks of the net (deeplift: no MaxPool; deconvnet: ReLU
   activations; --rule: the layer type exists; rule parameters). */
int attr_rules_check(const cb_net *net, const attr_opt *o, cb_error *err);
int attr_rules_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err);
int attr_shap_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err);
int attr_gsa_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err);
#define ATTR_BATCH 64

uint64_t attr_rng_next(uint64_t *s);          /* splitmix64 */
double attr_rng_unit(uint64_t *s);            /* U[0, 1) */
double attr_rng_normal(uint64_t *s);          /* N(0, 1), Box-Muller */

int attr_grad_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err);
int attr_perturb_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err);
int attr_cam_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err);
int attr_eva_map(attr_ctx *a, const double *x, int target, double *map, cb_error *err);
int attr_cam_node(const cb_net *net, const char *method, const char *name, int *idx, cb_error *err);

/* EVA building block: certified lower bound of min_j (f_c - f_j) over the
   ball of a->opt around x with the coordinates in `pin` (n flags, may be
   NULL) fixed to x. */
int attr_eva_margin(attr_ctx *a, const double *x, int target, const unsigned char *pin, double *m,
                    cb_error *err);

/* Bilinear sample of the h x w CAM at input pixel (i, j) of an H x W image
   (half-pixel centres; nonnegative weights summing to 1). */
double attr_cam_upsample(const double *cam, int h, int w, int H, int W, int i, int j);

/* One RISE mask m (h x w, values in [0, 1]) for a grid of s x s cells kept
   with probability p, drawn from rng (grid: (s+1)^2 scratch). */
void attr_rise_mask(int h, int w, int s, double p, uint64_t *rng, double *grid, double *m);

/* Certified bounds of the full (unreduced, n values) map of the other
   methods, called by attr_cert_bounds: Grad-CAM / Grad-CAM++
   (attr_cert_cam.c), Occlusion / RISE (attr_cert_pert.c).  ylo, yhi: the
   set's box (set_box). */
int attr_cert_cam(attr_ctx *a, const cb_set *s, int target, double *lb, double *ub, cb_error *err);
int attr_cert_perturb(attr_ctx *a, const cb_set *s, int target, const double *ylo, const double *yhi,
                      double *lb, double *ub, cb_error *err);

/* [lo, hi] of f_c over the set s (CROWN, outward rounded). */
int attr_cert_score(attr_ctx *a, const cb_set *s, int target, double *lo, double *hi, cb_error *err);

/* Interval helpers of the certified bounds (attr_cert.c), outward rounded:
   the product of [a0, a1] and [b0, b1] (0 times an infinite end is 0), the
   square of [a0, a1] (its true range: 0 inside when a0 < 0 < a1). */
void attr_imul(double a0, double a1, double b0, double b1, double *lo, double *hi);
void attr_isq(double a0, double a1, double *lo, double *hi);

/* map[p] = max over channels c of full[c H W + p] (H W = a->nm). */
void attr_reduce(const attr_ctx *a, const double *full, double *map);

/* IG baseline j of a->opt for x (j < max(1, n_baselines)) into b. */
void attr_ig_baseline(const attr_ctx *a, const double *x, int j, double *b);

#endif
