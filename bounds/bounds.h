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
#include "norm.h"

/* The input region: a ball {x : ||x - center|| <= eps} (with w: the weighted
   L-inf ball max_j |x_j - center_j| / w_j <= eps) intersected with the box
   [lo, hi] when lo/hi are given, or (CB_NORM_BOX) just the box. */
typedef struct cb_set {
  cb_norm norm;
  double eps;             /* radius, >= 0 (ignored for a box) */
  size_t n;               /* dimension = network input size */
  const double *center;   /* n values (NULL for a box) */
  const double *lo, *hi;  /* box, or clip box for a ball (NULL = none) */
  const double *w;        /* weighted L-inf ball (norm CB_NORM_INF only; NULL = none):
                             {x : |x_j - center_j| <= eps w_j}, w_j >= 0 finite
                             (--eps-per-feature: eps scales the per-feature radii w) */
} cb_set;

/* Intermediate bounds: boxes (IBP), CROWN, IBP (CROWN-IBP), CROWN (alpha-CROWN),
   forward linear bounds (FWDLIN, box sets of dense nets: fwdlin.h); the
   specification is bounded by CROWN except for IBP, and alpha-CROWN optimises
   its relaxation lines per specification row (alpha.c).  One row each in
   cb_method_table (bounds.c). */
typedef enum cb_method { CB_IBP, CB_CROWN, CB_CROWN_IBP, CB_ALPHA_CROWN, CB_FWDLIN, CB_METHOD_COUNT } cb_method;

/* Per-network cache shared by all samples: |W| of each AFFINE/CONV node. */
typedef struct cb_bnet {
  const cb_net *net;
  double **absW;          /* per node, NULL for kinds without weights */
  double *wmin;           /* per node: smallest nonzero |W| (HUGE_VAL if none), for underflow tests */
  float **wf;             /* bnet_single: per AFFINE/CONV node whose W fits binary32, W in binary32 (NULL otherwise,
                             or before bnet_single: each workspace then converts its own) */
  unsigned char *wf_state;/* bnet_single: per node 1 W fits binary32, 2 not (crown.c w_fits_single) */
  double *wf_wmax;        /* bnet_single: per node max |w| */
} cb_bnet;

/*
** Vector relaxation of one node (the interface for kinds whose relaxation
** reads several inputs: Softmax, LayerNorm, a product of two tensors).  For
** each output neuron e, valid for every input in the node's input boxes:
**   y_e >= sum_{t in [off[e], off[e+1])} lw[t] x[idx[t]] + lb[e]
**   y_e <= sum_{t in [off[e], off[e+1])} uw[t] x[idx[t]] + ub[e]
** where x is the concatenation of the node's inputs (in[0], in[1], ... in
** order) and idx[t] an index into it.  Scalar relaxations (one input entry
** per neuron, CB_ACT) stay in rl_w/rl_b/ru_w/ru_b; a kind whose
** cb_kind_info row says vector_relaxed gets one of these from
** ws_vrelax_alloc.  No kind uses it yet (the ops issue fills it in).
*/
typedef struct cb_vrelax {
  size_t n;               /* output neurons (the node's size) */
  size_t nnz;             /* entries in all, off[n] */
  size_t *off;            /* n + 1 */
  size_t *idx;            /* nnz: index into the concatenated inputs */
  double *lw, *uw;        /* nnz: lower / upper line coefficients */
  double *lb, *ub;        /* n: lower / upper constants */
} cb_vrelax;

/* Per-sample workspace: everything the analyzers learn about one sample. */
/* W of an AFFINE node at rows ri[0..kr) x columns ci[0..kc) (rall / call:
   all of them, in order), kr x kc row-major (crown_wsub); use: last use. */
typedef struct cb_wcache {
  double *w;
  float *wf;              /* instead of w in ws->wcf's entries: the gather in binary32 (crown_wsub_f) */
  size_t *ri, *ci, kr, kc, wcap, rcap, ccap, wfcap;
  int rall, call, valid;
  unsigned long use;
} cb_wcache;

typedef struct cb_ws {
  const cb_bnet *bn;
  const cb_net *net;
  cb_set set;
  double **lo, **hi;      /* per node: bounds of the node's output (IBP, refined by CROWN) */
  double **zmax;          /* per node: max(|lo|, |hi|), for rounding slack */
  double **rl_w, **rl_b, **ru_w, **ru_b;  /* per nonlinear node: lower/upper relaxation lines */
  cb_vrelax **vr;         /* per node: its vector relaxation, NULL for scalar kinds */
  double **sv;            /* per AFFINE/CONV node: cached |W| zmax_in + |b| (CROWN's slack vector) */
  char *sv_ok;            /* per node: bit 1, sv is current; bit 2, uf is (bounds_run clears both; zmax
                             must not change after) */
  double *uf;             /* per node: crown_underflow's slack of a step through it (cached in crown.c) */
  double **smx;           /* per softmax output node (crown_softmax_rows): the product form's boxes and
                             lines, which CROWN's passes take instead of the node's own lines
                             (bounds.c softmax_product, crown.c back_softmax); cb_alloc'ed on first
                             use, NULL otherwise */
  char *smx_on;           /* per node: smx holds this run's lines (bounds_run clears it) */
  int smx_off;            /* 1 while a pass takes the softmax nodes' own lines (crown.c crown_pass_inj) */
  double **mulc;          /* per MUL node: the operand boxes its McCormick planes were made on and the
                             planes (crown.c mul_planes); cb_alloc'ed on first use, NULL otherwise */
  double flops;           /* matmul FLOPs of the CROWN passes so far (2 q x in x out per AFFINE,
                             2 q x cout x hout x wout x cin/groups x kh x kw per CONV; benchmarks) */
  double *scratch;        /* CROWN passes' matrices, reused (scratch_n doubles) */
  size_t scratch_n;
  double *gather;         /* a dense AFFINE step's live columns of A (crown.c), reused */
  size_t gather_n;
  unsigned long wc_clock; /* crown_wsub's calls so far (its entries' last use) */
  struct cb_wcache *wc;   /* per AFFINE node two cached gathers of W (crown_wsub), keyed on their row and
                             column sets: at most two compacted copies of the weights per workspace */
  size_t *live;           /* their indices, and a byte per column (live_n columns of room) */
  size_t live_n;
  size_t *alive;          /* an AFFINE step's input entries that are not off (crown_alive), alive_n of room */
  size_t alive_n;
  unsigned char *alive_nz;  /* crown_alive's byte per entry, alive_nz_n of room */
  size_t alive_nz_n;
  double *subout;         /* the product on those entries before its scatter, subout_n doubles of room */
  size_t subout_n;
  size_t *plan_off;       /* the compact layout of a dense pass's matrices (crown.c), for plan_start/stop */
  int plan_start, plan_stop;
  size_t plan_tot;
  double *convbuf;        /* a transposed conv's col and gathered A (la_conv_backward_buf), convbuf_n of room */
  size_t convbuf_n;
  double flops_skipped;   /* matmul FLOPs not done because A's columns were zero (stable-off ReLUs) */
  cb_method method;
  int dense_only;         /* 1: CROWN never takes the receptive-field pass (crown_patch.c), for the
                             tests that compare it with the dense pass; 0 (ws_new's default) */
  size_t patch_rows;      /* rows bounded by the receptive-field pass so far (tests, benchmarks) */
  int no_skip;            /* 1: the dense pass multiplies every column and bounds both sides of every
                             selected neuron (tests compare it with the skipping pass); 0 by default */
  size_t rows_skipped;    /* lower-bound rows not run because the upper bound proved the ReLU off */
  int alpha_iters;        /* alpha-CROWN's iterations when bounds_spec runs it: 0 (ws_new's
                             default) = alpha_auto_iters, else cb_alpha_opt.iters */
  int single;             /* 1 (--precision single): the dense pass's AFFINE products run in binary32
                             (sgemm) with u = 2^-24 in their slack (docs/soundness.md, "Single
                             precision"); a step whose weights or result do not fit binary32 runs in
                             double.  0 (ws_new's default): everything in double */
  float **wfull;          /* per AFFINE/CONV node: W in binary32 (single), NULL until used */
  struct cb_wcache *wcf;  /* per AFFINE node two cached binary32 gathers of W (crown_wsub_f, in wf) */
  double *wf_wmax;        /* per node: max |w| (set with wf_state) */
  unsigned char *wf_state;/* per node: 0 not checked, 1 W fits binary32 (every nonzero |w| in
                             [2^-126, 2^126]), 2 it does not (the node runs in double) */
  float *fA, *fT;         /* a single step's A and product, fA_n / fT_n floats of room */
  size_t fA_n, fT_n;
  double flops_single;    /* of flops: those done in binary32 */
  size_t single_fallback; /* single-precision steps redone in double (non-finite binary32 product) */
  size_t rows_batched;    /* rows of this workspace's passes that ran stacked with other workspaces'
                             (crown_batch.c), for tests and benchmarks */
  void *passbuf;          /* a dense pass's per-node and per-row bookkeeping (crown.c pass_once), reused */
  size_t passbuf_n;       /* its bytes */
  double *lpool;          /* crown_linear_inj's matrices, reused (lpool_n doubles) */
  size_t lpool_n;
  double *relaxv;         /* a relaxed step's slack vector (crown.c back_relaxed_own), relaxv_n of room */
  size_t relaxv_n;
} cb_ws;

/* set.c */
void set_box(const cb_set *s, double *lo, double *hi);         /* smallest box holding the set */
int set_contains(const cb_set *s, const double *x);            /* 1 if x is in the set (rounding-safe) */
int set_check(const cb_set *s, cb_error *err);                 /* eps >= 0 finite, lo <= hi, and not provably
                                                                  empty: "the set is empty: the L2 ball of radius
                                                                  E does not meet the clip box [LO,HI] (distance D)" */
void set_nearest(const cb_set *s, double *p);                  /* clamp(center) into the clip box: the point of the
                                                                  box nearest the centre in every p-norm */
double set_clip_distance(const cb_set *s, int up);             /* ||set_nearest - center||, an upper (up = 1) or
                                                                  lower (up = 0) bound; 0 without a clip box */
void set_support(const cb_set *s, const double *A, size_t q, const double *bias,
                 double *out);    /* out_i >= max_{x in S} A_i x + bias_i, rounding included */
void set_support_win(const cb_set *s, const double *A, size_t q, size_t m, const size_t *idx,
                     const double *bias, double *out);
                  /* the same for rows that are 0 outside the m input indices idx[] (A is q x m) */

void set_argmax(const cb_set *s, const double *a, double *x);  /* a maximiser of a.x over the set (for gradients) */

/* workspace.c */
int bnet_init(cb_bnet *bn, const cb_net *net, cb_error *err);
void bnet_free(cb_bnet *bn);
size_t bnet_wsize(const cb_node *n);            /* entries of an AFFINE or CONV node's W (0: other kinds) */
int bnet_single(cb_bnet *bn, cb_error *err);   /* the binary32 weights (wf) shared by every workspace with
                                                  single = 1 (call before the samples run; optional) */
cb_ws *ws_new(const cb_bnet *bn, const cb_set *set, cb_error *err);  /* NULL on error */
/* Node i's vector relaxation with nnz entries in all, in the workspace's
   arena (lives as long as ws); NULL on OOM.  Called once per node and sample. */
cb_vrelax *ws_vrelax_alloc(cb_ws *ws, int i, size_t nnz);
void ws_free(cb_ws *ws);                                              /* NULL is a no-op */
void ws_drop_cache(cb_ws *ws);  /* frees the passes' cached gathers (wc); a later pass rebuilds them */
void ws_relax_lines(cb_ws *ws, int i);  /* node i's relaxation lines (relax_node) from its input's box */
int ws_unknown_relus(const cb_ws *ws);  /* ReLUs whose input box has lo < 0 < hi */

/* ibp.c: boxes for every node. */
int ibp_run(cb_ws *ws, cb_error *err);
int ibp_node(cb_ws *ws, int i, cb_error *err);  /* box (and zmax) of node i from its inputs' boxes */
void set_zmax(cb_ws *ws, int i);                /* zmax = max(|lo|, |hi|) of node i */

/* relax.c: lines y >= lw x + lb and y <= uw x + ub valid for x in [l, u],
   one table row per activation (act.h). */
void relax_node(const cb_node *n, double l, double u, double *lw, double *lb, double *uw, double *ub);
int relax_supported(const cb_node *n, cb_error *err);
/* alpha-CROWN's parameters of an activation's lines: none (not an activation),
   fixed lines, a lower slope p in [alpha, 1] (ReLU-like), tangent points (S-shaped). */
typedef enum relax_family { RELAX_NONE, RELAX_FIXED, RELAX_SLOPE, RELAX_TANGENT } relax_family;
relax_family relax_alpha_family(const cb_node *n);

/* relax.c, alpha-CROWN's parameterised lines.  A side (upper = 0: lower line,
   1: upper line) of a neuron with input box [l, u] may have a family of valid
   lines indexed by p in [*pmin, *pmax]; relax_param_range returns its slot
   (0: one-sign tangent of sigmoid/tanh, 1: ReLU slope or both-sign tangent)
   or -1 when the line is fixed, and *p0, the member CROWN uses.
   ReLU/LeakyReLU/Abs lower side: p = slope in [alpha, 1] ([-1, 1]), line p x.
   Rows relaxed by their curvature map: p = slope, line p x + sup/inf (f - p x).
   Sigmoid/tanh, and Exp's lower side: p = tangent point, line
   f'(p) x + f(p) - f'(p) p (moved by the rounding margin).  relax_param_dline = d(line at x)/dp; relax_line_dlu
   gives d[4] = derivatives of the fixed line's slope and intercept in l and u. */
int relax_param_range(const cb_node *n, double l, double u, int upper, double *pmin, double *pmax, double *p0);
/* 1 for a row relaxed by its curvature map (SiLU, GELU, HardSwish, Log, Pow): its parameter is in [l, u]. */
int relax_by_shape(const cb_node *n);
void relax_param_line(const cb_node *n, double l, double u, int upper, double p, double *w, double *b);
double relax_param_dline(const cb_node *n, double l, double u, int upper, double p, double x);
void relax_line_dlu(const cb_node *n, double l, double u, int upper, double *d);

/* bounds.c: the bounding methods, one row each (the driver).  A method's run
   computes every node's intermediate bounds as bounds_run_from says; its spec
   bounds C f(x) as bounds_spec says, after run. */
typedef struct cb_method_info {
  cb_method id;
  const char *name;   /* as the command line spells it: "ibp", "crown", "crown-ibp", "alpha-crown", "fwd" */
  int (*run)(cb_ws *ws, double *const *plo, double *const *phi, int first, cb_error *err);
  int (*spec)(cb_ws *ws, const double *C, size_t q, double *lb, double *ub, cb_error *err);
  int box_only;       /* 1: only for a box input set (forward linear bounds) */
} cb_method_info;
extern const cb_method_info cb_method_table[CB_METHOD_COUNT];
int bounds_method_parse(const char *s, cb_method *m);  /* the method named s; 0 if unknown */
const char *bounds_method_name(cb_method m);           /* "crown-ibp"; "?" out of range */
int bounds_run(cb_ws *ws, cb_method m, cb_error *err);  /* intermediate bounds for method m */
int bounds_run_prior(cb_ws *ws, cb_method m, double *const *plo, double *const *phi, cb_error *err);
                  /* same, every box intersected with a prior box per node (bounds
                     valid on a superset of the set, e.g. a parent subdomain's);
                     neurons the prior proves stable are not re-bounded */
int bounds_run_from(cb_ws *ws, cb_method m, double *const *plo, double *const *phi, int first, cb_error *err);
                  /* bounds_run_prior, except that nodes before `first` take the prior's
                     boxes as they are (the caller knows they are this set's: a ReLU
                     split at node `first` changes nothing above it) */
int bounds_spec(cb_ws *ws, const double *C, size_t q, double *lb, double *ub, cb_error *err);
                  /* bounds of C f(x) (C is q x output size) by ws's method; lb or ub may be NULL */

/* bounds.c, batched (crown_batch.c): S workspaces of one net (samples of
   bounds/certify, or subdomains) share each CROWN pass, their rows stacked so
   that every AFFINE/CONV step is one product of all their rows.  Bounds equal
   S unbatched calls' up to the stacked products' reduction order, which
   their slack covers (docs/soundness.md "Batched passes"). */
int bounds_run_batch(cb_ws *const *ws, size_t S, cb_method m, double **const *plo, double **const *phi,
                     const int *first, cb_error *err);
                  /* bounds_run_from(ws[s], m, plo[s], phi[s], first[s]) for every s (plo, phi,
                     first, and each plo[s]/phi[s] may be NULL: no prior, first 0) */
int bounds_spec_batch(cb_ws *const *ws, size_t S, const double *const *C, size_t q, double *const *lb,
                      double *const *ub, cb_error *err);
                  /* bounds_spec(ws[s], C[s], q, lb[s], ub[s]) for every s (lb or ub NULL: that side
                     not computed), after bounds_run_batch; alpha-CROWN runs per workspace */
int crown_upper_batch(cb_ws *const *ws, size_t S, int start, int stop, const double *const *A, const size_t *q,
                      double *const *out, cb_error *err);
                  /* out[s]_r >= max over ws[s]'s set (stop 0) or stop's box of A[s]_r . value(start),
                     A[s] q[s] x size(start) (q[s] = 0: nothing), one stacked pass */
int crown_refine_batch(cb_ws *const *ws, size_t S, int k, cb_error *err);
                  /* crown_refine(ws[s], k) for every s, the dense passes stacked */
int crown_spec_batch(cb_ws *const *ws, size_t S, const double *const *C, size_t q, int stop, double *const *lb,
                     double *const *ub, cb_error *err);

/* crown.c: CROWN's backward passes (the receptive-field one is crown_patch.c). */
/* Per-row relaxation lines of one nonlinear node (alpha-CROWN): q x size each. */
typedef struct crown_lines {
  double *lw, *lb, *uw, *ub;   /* q x size; at a MUL node: lw, uw are the rows' McCormick weights
                                  (relax_mul_mix's rl, ru), lb, ub unused */
  size_t *alive, nalive;  /* when alive: the entries whose lines are not 0 in every row (crown_alive) */
} crown_lines;
int crown_pass_ex(cb_ws *ws, int start, const double *A, size_t q, const crown_lines *lines, double **keep,
                  double *pool, double *out, cb_error *err);
                  /* crown_upper, where row r uses lines[i] (when lines && lines[i].lw) at node i
                     instead of its stored lines; the accumulated matrices live in pool
                     (crown_pool_size doubles; NULL: the workspace's scratch) and keep[i]
                     (when keep, with a pool) points to node i's (q x size_i), NULL if not reached */
int crown_pass_inj_ex(cb_ws *ws, int start, const double *A, size_t q, const crown_lines *lines,
                      const double *const *inj, double **keep, double *pool, double *out, cb_error *err);
                  /* crown_pass_ex of A_r . value(start) + sum_i inj[i]_r . value(i) (inj NULL,
                     or per node NULL or q x size_i, nodes before start): beta-CROWN's
                     Lagrangian terms of split constraints enter this way (alpha.c) */
size_t crown_pool_size(const cb_net *net, int start, size_t q);
size_t crown_alive(cb_ws *ws, const crown_lines *L, int i, size_t q, size_t *idx);
                  /* the entries of node i that are not off: for an ACT node, those whose four
                     lines (row r's own, lines L when L && L->lw, else the workspace's) are not
                     all 0 in some row, written to idx (room for size_i); their count (size_i,
                     idx untouched, for any other kind) */
const double *crown_wsub(cb_ws *ws, int i, const size_t *rows, size_t kr, const size_t *cols, size_t kc);
const float *crown_wsub_f(cb_ws *ws, int i, const size_t *rows, size_t kr, const size_t *cols, size_t kc);
                  /* the same in binary32 (cached alongside), or NULL when node i's W does not
                     fit binary32 (wf_state 2) or on OOM (wf_state 1) */
                  /* AFFINE node i's W at rows[0..kr) x cols[0..kc) (NULL: all), kr x kc
                     row-major in the workspace (overwritten by the next call); NULL on OOM */
double *crown_subout(cb_ws *ws, size_t n);
int crown_conv_back(cb_ws *ws, const cb_conv *g, const double *W, const double *A, size_t q, double *Ain);
                  /* Ain += the transposed conv of A's q rows (la_conv_backward_buf, the workspace's buffer) */
                  /* the workspace's product buffer, grown to n doubles; NULL on OOM */
long crown_window(const cb_net *net, int start, size_t j, int i, size_t *idx);
                  /* when CROWN's passes from node start take the receptive-field path, the
                     entries of node i's tensor a row e_j can make nonzero (the rest stay exactly
                     0, whichever path runs): written to idx (room for size_i), returns how
                     many; -1 when the rows are dense or i is not on their chain (crown_patch.c) */
int crown_upper(cb_ws *ws, int start, const double *A, size_t q, double *out, cb_error *err);
                  /* out_i >= max over the set of A_i . value(start) (A is q x size(start)) */
int crown_spec(cb_ws *ws, const double *C, size_t q, int stop, double *lb, double *ub, cb_error *err);
                  /* bounds of C f(x) by one pass down to node stop: the input set (0) or
                     that node's box; lb or ub may be NULL */
int crown_linear(cb_ws *ws, const double *C, size_t q, double *lin, double *out, cb_error *err);
                  /* after bounds_run: out_r >= max over the set of C_r f(x) (sound,
                     as crown_upper from the output) and lin (q x input size) the
                     input coefficients of the linear bound it concretises */
int crown_linear_inj(cb_ws *ws, const double *C, size_t q, const double *const *inj, double *lin, double *out,
                     cb_error *err);
                  /* crown_linear of C_r f(x) + sum_i inj[i]_r . value(node i) (inj: per node
                     NULL or q x size_i, nodes before the output): branch and bound's split
                     constraints enter the bound this way (certify/vfy_relu.c) */
int crown_linear_from(cb_ws *ws, int start, const double *A, size_t q, const double *const *inj, double *lin,
                      double *out, cb_error *err);
                  /* crown_linear_inj of A_r . value(start) (A is q x size(start), inj NULL or
                     per node NULL or q x size_i at nodes before start): a bound of a node
                     below the output without the pass walking the nodes above it */
int crown_refine(cb_ws *ws, int k, cb_error *err);
                  /* CROWN's bounds of node k (all its neurons, or only those of unknown sign
                     when crown_sign_only) replace its box; its lines' inputs must be current */
int64_t crown_softmax_rows(const cb_net *net, int i, int64_t *B, int *x);
                  /* is node i a softmax output as canon_attn.c builds it (POW -1 of a
                     1x1 CONV with bias 1 summing EXP of the differences x_j - x_a), checked
                     weight by weight?  Its n entries per row (0: no), B rows, *x the node
                     of the scores [1, n, B, 1] */
int crown_refines(const cb_net *net, int k);  /* does CROWN re-bound node k (a pre-activation node)? */
int crown_sign_only(const cb_net *net, int k); /* do only ReLU/LeakyReLU read node k (so CROWN re-bounds
                                                  only its neurons of unknown sign)? */
int crown_domain_consumer(const cb_net *net, int k); /* does CROWN intersect its bounds of node k with the
                                                        box node k has (a Log/Pow input, a softmax's view)? */

/* alpha.c: alpha-CROWN (Xu et al. 2021).  Options, GLPK style: init, then set fields. */
typedef struct cb_alpha_opt {
  int iters;          /* bound evaluations (Adam steps + 1); 0 (default): alpha_auto_iters,
                         20 (auto_LiRPA's), 40 if the net has sigmoid/tanh (non-convex
                         tangent points) or more than 3 relaxed layers on a path (deep nets) */
  int patience;       /* stop early once no row's best bound has improved for this many
                         iterations in a row (0, the default: never); a net or pass without
                         parameters (every activation stable, no split) stops after
                         iteration 0 whatever this is (every iterate has CROWN's lines) */
  double lr;          /* Adam step size; default 0.5 */
  double lr_decay;    /* step size multiplied by this after each step; default 0.98 */
  double beta1, beta2;/* Adam moment decays; default 0.9, 0.999 */
  int interm;         /* 1: also optimise the CROWN-refined intermediate bounds, each
                         neuron's with its own lines, by the gradient of the final bound
                         (auto_LiRPA's CROWN-Optimized does); 0: final lines only. Default 1 */
  void (*on_iterate)(void *ctx, const cb_ws *ws, int iter, int upper, const double *out);
                      /* NULL (default), or called after every iteration's bound evaluation
                         (tests: each iterate must be sound): ws holds that iterate's
                         intermediate bounds; out[r] is its bound of row r, an upper bound of
                         C_r f(x) (upper = 1) or of -C_r f(x) (upper = 0: minus a lower bound) */
  void *ctx;          /* passed to on_iterate and done */
  /* beta-CROWN (Wang et al. 2021): the rows are bounded on the region of the
     input set where sig_s value(split_node[s])_{split_idx[s]} >= 0 for every
     split s (ReLU splits, at pre-activation nodes); the final pass adds the
     Lagrangian terms sum_s beta_rs sig_s value(...) to row r, beta >= 0
     optimised with the lines.  The caller's node boxes must be valid on
     that region (e.g. the split neurons' boxes clamped); docs/soundness.md. */
  size_t nsplit;      /* split constraints; 0 (default): none */
  const int *split_node;     /* pre-activation node of each (before the output; 0: the input) */
  const size_t *split_idx;   /* neuron */
  const int *split_sig;      /* +1 (value >= 0) or -1 (value <= 0) */
  double *beta;       /* NULL (default: start at 0, not returned), or q x nsplit: in, the start;
                         out, each row's beta at its best iterate (a warm start for children) */
  double beta_lr;     /* Adam step size of beta; default 0.05 (beta-CROWN's lr_beta) */
  int keep_interm;    /* 1 (with interm): at the end the CROWN-refined intermediate nodes keep
                         the intersection over the iterates of their bounds (each is valid)
                         and the activations reading them their box and lines from it, in
                         place of the boxes they had (a branch and bound's root); 0 (default):
                         the workspace is left as it was */
  int fixed_mul;      /* 1: products of two activations keep CROWN's McCormick planes; 0
                         (default): each row's planes are optimised (auto_LiRPA's BoundMul and
                         BoundMatMul alphas: a convex combination of the two planes per side) */
  int (*done)(void *ctx, const double *best);
                      /* NULL (default), or called after every iteration with each row's best
                         bound so far: 1 stops the optimisation (a branch and bound stops
                         once the subdomain is refuted) */
} cb_alpha_opt;
void alpha_opt_init(cb_alpha_opt *o);
int alpha_auto_iters(const cb_net *net);
                  /* the iteration count iters = 0 stands for: 20, or 40 for nets with
                     sigmoid/tanh or more than 3 relaxed layers on a path */
int alpha_spec(cb_ws *ws, const double *C, size_t q, const cb_alpha_opt *opt, double *lb, double *ub, cb_error *err);
                  /* as bounds_spec, each row's lines optimised (opt NULL = defaults); needs
                     bounds_run first (any method but IBP); every iterate is a sound bound and
                     each row keeps its best */

#endif
