/*
** Internals of the branch and bound of verify.h, shared by its files (not
** part of the library's interface):
**   verify.c      the search: options, the stack of subdomains and its loop,
**                 the two phases, the portfolio, vfy_run;
**   vfy_input.c   one subdomain: its bounds, the LP per output conjunction
**                 (vfy_process), and the input-splitting rule
**                 (choose_input_split);
**   vfy_relu.c    ReLU splitting inside a box (vfy_relu_box) and its rule
**                 (choose_relu_split);
**   vfy_beta.c    the beta-CROWN branch and bound over ReLU splits that
**                 vfy_relu_box calls in high dimension (vfy_beta_box);
**   vfy_fsb.c     its filtered smart branching rule (vfy_fsb_pick);
**   vfy_attack.c  the witness search before and during the search;
**   vfy_common.c  the exact witness check, the single copies of the blocks
**                 a refutation goes through, and small shared helpers.
** Sizes: an item holds 2 nx doubles and, when the search keeps priors, two
** per neuron of the net (its parent's node boxes); the stack's cap
** (max_memory_mb) is counted in items.
*/
#ifndef CB_VFY_INT_H
#define CB_VFY_INT_H

#include "verify.h"

typedef struct item {     /* a subdomain: sub-box of spec box `box`, live conjunctions */
  size_t box;
  int depth;
  double *lo, *hi;
  unsigned char *act;
  int has_prior;          /* plo/phi hold the parent's node boxes (valid here too) */
  int relu_fail;          /* unknown-sign ReLUs when a ReLU search last failed on an
                             ancestor (0: none); retried below 2/3 of that */
  double *plo, *phi;      /* sum of node sizes each, when the search keeps priors */
} item;

typedef struct istack {   /* the open subdomains; the top is searched first */
  item **it;
  size_t top, cap;        /* cap: from --max-memory */
} istack;

typedef enum outcome {
  O_CLOSED, O_SPLIT, O_SAT, O_LEAF, O_ERROR,
  O_REAL                  /* every real point of the box meets a live conjunction, and no
                             double lies in the spec's box: no refutation exists; the point
                             at the exact decimals is checked as the witness (verify.c,
                             apply_open), else the box is an undecided leaf */
} outcome;

typedef struct work {     /* result of bounding one item */
  outcome o;
  long states;            /* ReLU search states spent on it */
  int upper_first;        /* O_SPLIT: search the upper half first (it holds the LP point) */
  int relu_fail;          /* the item's relu_fail for its children */
  int dim;
  double *x;              /* O_SAT: witness (nx) */
  double *prior;          /* O_SPLIT with priors: the node boxes (lo then hi), for the children */
  vfy_prof prof;          /* its share of the profile (verify.c adds it to the result's) */
  cb_error err;
  char why[96];
} work;

typedef struct search {
  const cb_net *net;
  const vnn_spec *spec;
  const vfy_opts *o;
  vfy_bound_fn bound;
  double **C;             /* per box: all rows of all conjunctions, stacked */
  size_t *q;              /* per box: row count */
  size_t **row0;          /* per box: first row of each conjunction */
  double t0;
  vfy_result *r;
  double aspect;
  int fwd;                /* intermediate bounds by fwdlin_run (low-dim dense nets) */
  int prior;              /* children start from their parent's node boxes (default bound) */
  double deadline;        /* seconds after t0 when this phase of the search stops */
  int strong_done;        /* the long attack has run */
  long rs_useful, rs_wasted; /* states of ReLU searches that decided their box / that
                             handed it back; searches stop while wasted > 2 useful + RS_BASE
                             (vfy_relu.c) */
  size_t nb;              /* sum of node sizes */
} search;

/*
** Low- and high-dimensional inputs: one switch of strategy, made here only.
** Up to VFY_LOW_DIM input values (ACAS Xu 5, digits 64) work per input
** dimension is cheap and splitting the input box is the main search; above
** it (MNIST 784) per-dimension work is dear (one ReLU-search state's LPs
** over 784 inputs outlasted a 20 s timeout), so each box is bounded soundly
** and goes straight to ReLU splitting.  vfy_low_dim() decides, in low
** dimension / in high dimension:
**   attack (vfy_attack.c, verify.c): the local search descends with finite
**       differences / tries random vertices of the box; the long PGD run
**       makes strong_restarts starts / 2;
**   bounds (vfy_input.c): the one CROWN pass also gives the rows' linear
**       forms (prior_bound), then an LP per live conjunction refines it
**       (combined row, LP points as candidates, branching score) / the
**       rows' sound bounds only;
**   ties (vfy_input.c): a box whose rows vary below rounding scale is left
**       open (at_precision), a leaf's vertices are tried / neither;
**   branching (vfy_input.c): the scored dimension under the aspect guard,
**       LP side first / the widest dimension relative to the root box,
**       lower half first;
**   ReLU splitting (vfy_relu.c): a box with at most relu_leaf unknown
**       signs, while the searches have not wasted too many states
**       (RS_BASE), relu_states states per search, LP-tightened neuron boxes
**       on each region (relu_lp) / every box, whatever its count, by the
**       beta-CROWN branch and bound (vfy_beta.c; beta_bab, else the
**       depth-first search with no state cap and no LP tightening);
**   the search (verify.c): two phases of input splitting (aspect2, then
**       aspect), --method fwd and the portfolio are available / one phase,
**       fwd refused, no portfolio.
*/
#define VFY_LOW_DIM 64
static inline int vfy_low_dim(const vnn_spec *spec) { return spec->nx <= VFY_LOW_DIM; }

/* verify.c: a subdomain of box `box` in one allocation (node boxes when the
   search keeps priors, lo, hi, live conjunctions; none filled); cb_free. */
item *vfy_item_new(const search *S, size_t box, int depth);

/* vfy_common.c */
void vfy_prof_add(vfy_prof *to, const vfy_prof *p);     /* to += p, field by field */
double vfy_now(void);                                   /* monotonic seconds, or this thread's CPU
                                                           seconds after vfy_clock_cpu(1) */
void vfy_clock_cpu(int on);                             /* vfy_now's clock for this thread (vfy_run) */
int vfy_cancelled(const search *S);                     /* has the other search of a portfolio answered? */
void vfy_boxes_out(const search *S, const cb_ws *ws, double *p);  /* node boxes -> p (lo then hi, S->nb each) */
void vfy_boxes_ptrs(const search *S, double *p, double **pl);     /* pl[i], pl[n + i]: node i's lo, hi in p */
int vfy_set_sat(search *S, size_t b, const double *x, const double *y, size_t c);  /* S->r: SAT, witness x */
int vfy_set_sat_dec(search *S, size_t b, const cb_exact *E, size_t c);  /* S->r: SAT at E's exact (rational) point */
double vfy_lower_form(const double *lin, double out, const double *lo, const double *hi, size_t nx, double *a);
/* lp_minmax (lp.h), by the small dense solver where it can (lp_minmax_small: few
   inputs, no GLPK set-up), else GLPK; an estimate, re-checked by the caller. */
int vfy_minmax(const double *a, const double *c, size_t m, size_t n, const double *lo, const double *hi,
               double *x, double *l, double *t);
                  /* a = -lin; returns c: a . x + c >= row over the box, min = -out */
int vfy_row_refutes(const vnn_conj *k, size_t r, double lb);   /* lb > b_r (>= if strict) */
double vfy_combine_rows(const vnn_conj *k, size_t ny, const double *l, int neg, const double *ymax, double *g,
                        double *rhs);   /* g = +-sum l_r A_r, rhs = sum l_r b_r; returns the rounding slack */
int vfy_combination_refutes(double lb, double slack, double rhs);   /* round_down(lb - slack) > rhs */

/* vfy_attack.c: 1 (S->r set to SAT), 0 (nothing found) or a negative status */
int vfy_local_search(search *S, size_t b);
int vfy_pgd(search *S, size_t b, int restarts, int steps);

/* vfy_input.c */
void vfy_process(const search *S, cb_ws *ws, item *it, work *w, double *scratch);

/* vfy_relu.c */
typedef enum rres { R_CLOSED, R_SAT, R_OPEN, R_ERR } rres;
int vfy_net_has_relu(const cb_net *net);

rres vfy_relu_box(const search *S, cb_ws *ws, const item *it, double *x, long *states, int *relu_fail, vfy_prof *prof,
                  cb_error *err);
                  /* decides the box by ReLU splitting when that is worth trying; R_OPEN: not decided */

/* vfy_beta.c: beta-CROWN branch and bound over ReLU splits inside the box
   of `it` (high dimension), its CROWN bounds in ws; R_OPEN restores them.
   *states: subdomains bounded. */
#define VFY_BETA_DEPTH 512   /* most splits on one path; deeper subdomains are left open */
#define VFY_BETA_STRONG 0.05    /* the beta-CROWN search's long APGD attack (once): about this share
                                   of the timeout, in rounds of 2 starts x 100 steps per conjunction */
#define VFY_BETA_STRONG_AT 0.5  /* ... past this share of the timeout (and strong_after): the
                                   instances the search decides sooner do not pay for it (at a
                                   quarter, oval21's unsat instances of 20-30 s paid ~3 s) */
/* The ReLU search alone on the box of `it` (its CROWN bounds in ws), as
   vfy_relu_box runs it in low dimension, with no budget: for the proof
   emitter (proof_relu.c), which passes S->o->prec. */
rres vfy_relu_search(const search *S, cb_ws *ws, const item *it, double *x, long *states, vfy_prof *prof, cb_error *err);
int vfy_beta_used(const search *S);   /* beta_bab 2, or 1 in high dimension */
int vfy_fsb_children(cb_ws *ws, const double *row, const double *const *inj, const int *node, const size_t *idx,
                     int n, int batched, double *up, double *dn, cb_error *err);
                  /* vfy_fsb.c: upper bounds of the row (one CROWN pass, no re-bounding) on the
                     two children of each neuron idx[c] of ReLU node node[c] (up: active,
                     dn: inactive); batched: one pass of 2 n stacked rows, else 2 n passes */
#define VFY_FSB_FAVOUR 3.0   /* FSB: the first layer's candidate's gain counts this many times
                                (its split also tightens the re-bounded later layers, which
                                the candidates' cheap bounds do not see) */
int vfy_fsb_pick(cb_ws *ws, const double *row, const double *const *inj, double *const *keep, int k,
                 double parent, double favour, size_t *idx, cb_error *err);
                  /* vfy_fsb.c: the ReLU node to split (-1: none of unknown sign, -2: error)
                     and *idx its neuron, by FSB over k BaBSR candidates of all layers
                     and the first layer's best (keep: the row's matrices per node) */
rres vfy_beta_box(const search *S, cb_ws *ws, const item *it, double *x, long *states, cb_error *err);

/*
** vfy_milp.c: the complete leaf, an MILP over a region's ReLUs of unknown
** sign (big-M from the sound node boxes), decided by a depth-first branch
** and bound over their phases on GLPK's simplex; each closed node is proved
** by a sound bound on GLPK's multipliers (lp_model_bound), a candidate
** witness goes through a check.  The region: the inputs in ws->set's box
** whose node values lie in ws's node boxes (sound on it; a split neuron's
** pre-activation box clamped to [0, u] or [l, 0] carries the split).  The
** β-CROWN search can call it on a subdomain whose node boxes it holds in a
** workspace:
**   vfy_milp_leaf    all live conjunctions (act) of spec box `box`:
**                    R_CLOSED (every one refuted; act cleared), R_SAT (x a
**                    witness checked by vfy_check_witness), R_OPEN (some
**                    left: node cap o->milp_nodes, the deadline, rounding,
**                    a net it cannot encode, more than o->milp_leaf binaries;
**                    refuted ones are cleared in act), R_ERR (err set).
**   vfy_milp_new / _conj / _free   the same, one conjunction at a time,
**                    with the caller's check (tests: against enumeration).
*/
typedef struct milp_stat {
  long calls;             /* vfy_milp_conj calls */
  long nodes;             /* phase-tree nodes (one LP each) */
  long lps;               /* LPs solved */
  long candidates;        /* points given to the check */
  double seconds;         /* wall time inside */
} milp_stat;
enum { MILP_REFUTED, MILP_SAT, MILP_OPEN };
typedef struct vfy_milp vfy_milp;
int vfy_milp_supported(const cb_net *net);   /* INPUT, AFFINE, SCALE, ADD, RESHAPE, ReLU; exact parameters */
vfy_milp *vfy_milp_new(const cb_net *net, const cb_ws *ws, const vnn_conj *conj, size_t nc, size_t ny, int kmax,
                       cb_error *err);
                  /* the program of the region (ws) and the nc conjunctions; NULL with err->status CB_EUNSUP
                     (kinds, an infinite box, more than kmax binaries), CB_ENOMEM or CB_EINTERNAL */
size_t vfy_milp_binaries(const vfy_milp *P);   /* K: ReLUs of unknown sign encoded */
int vfy_milp_conj(vfy_milp *P, size_t c, double deadline, long max_nodes, int (*check)(void *ctx, double *x),
                  void *ctx, double *x, milp_stat *st);
                  /* conjunction c: MILP_REFUTED (sound), MILP_SAT (check(ctx, x) accepted x, which it may
                     move, e.g. clamp; copied to x),
                     MILP_OPEN; deadline in vfy_now() seconds; max_nodes 0 = no cap */
void vfy_milp_free(vfy_milp *P);
rres vfy_milp_leaf(const search *S, const cb_ws *ws, size_t box, unsigned char *act, double *x, milp_stat *st,
                   cb_error *err);

#endif
