/*
** Complete verification of a VNNLIB property (vnnlib.h) by branch and bound
** with input splitting: is there an input in one of the boxes whose output
** meets one of that box's output conjunctions?
**
** Answers are a closed set.  SAT only with a witness replayed through the
** concrete forward pass and checked exactly against the inner box and the
** output rows (vfy_check_witness); UNSAT only when every subdomain is closed
** by a sound bound; anything else (NaN, a subdomain that cannot be split
** further, an internal error) gives UNKNOWN or ERROR.
*/
#ifndef CB_VERIFY_H
#define CB_VERIFY_H

#include "bounds.h"
#include "verdict.h"
#include "vnnlib.h"
#include "exact.h"

/* Answers are verdicts (verdict.h), printed by their VNN-COMP word
   (cb_verdict_table[a].vnnlib): V_VERIFIED "unsat", V_FALSIFIED "sat",
   V_TIMEOUT, V_UNKNOWN, V_ERROR. */

/* Lower bounds lb[0..q) of C f(x) (C: q x output size, row-major) over the
   box in ws->set.  Must be sound.  The default runs bounds_run(ws, method)
   then bounds_spec; a tighter method (alpha-CROWN) plugs in here. */
typedef int (*vfy_bound_fn)(void *ctx, cb_ws *ws, cb_method method, const double *C, size_t q,
                            double *lb, cb_error *err);

/* A region the ReLU search refuted (vfy_opts.audit): the input sub-box cut by
   the half-spaces sig[s] * xhat >= 0, xhat the input of neuron idx[s] of RELU
   node node[s]; conj = the conjunction of spec box `box` refuted there, or
   (size_t)-1 when the region itself was shown empty.  Also called when the
   search tightens node boxes on a region (rs_tighten): then tnode >= 0 and
   every point of the region has value(tnode) in [tlo, thi] (conj unused). */
typedef struct vfy_region {
  size_t box, conj;
  const double *lo, *hi;
  size_t n;
  const int *node, *sig;
  const size_t *idx;
  int tnode;
  const double *tlo, *thi;
} vfy_region;

/* vfy_opts.prec: the ReLU search's evidence, in search order (depth first),
   for verify --proof (certify/proof_relu.c).  ENTER / LEAVE: a child state
   with one more split (ReLU node `node`, neuron idx, sig +1: xhat >= 0, -1:
   xhat <= 0); TIGHTEN: the state's bound of xhat of neuron idx of
   pre-activation node `node` (sig 1: upper, 0: lower) from
   `sig ? xhat : -xhat` plus sum_s mu_s sig_s xhat_s (ns split terms);
   CONJ: conjunction `conj` refuted on the state's region by lam (m rows)
   and, when mu is not NULL, the split terms weighed by mu; EMPTY: the
   state's region was shown empty; BOXES (each state, after its LP
   tightening, before its conjunctions): the hook may replace the state's
   node boxes in ws by bounds valid on the region (the checker's own, so
   that the multipliers the search finds next are ones the checker
   accepts), and sets *ret to 1 when it shows the region empty.  The
   search proves nothing through it: a proof's checker re-derives every
   bound. */
enum { VFY_PREC_ENTER, VFY_PREC_LEAVE, VFY_PREC_TIGHTEN, VFY_PREC_CONJ, VFY_PREC_EMPTY, VFY_PREC_BOXES };
typedef struct vfy_prec {
  int ev, node, sig;
  size_t idx, conj, m, ns;
  double bound;
  const double *lam, *mu;
  cb_ws *ws;              /* BOXES: the state's boxes (others: NULL) */
  int *ret;               /* BOXES: 1 when the hook shows the region empty */
} vfy_prec;

struct search;
struct istack;

/* vfy_opts.share: a frontier shared with other processes (vfy_mpi.c), called
   by the input-splitting loop before each batch, with the stack of open
   subdomains (vfy_int.h) and the count of subdomains left undecided there
   (*leaves, *leaf_why: 96 chars).  It may take subdomains off the stack (to
   hand them to another process) and push subdomains received; while the
   stack is empty it waits for work.  Returns VFY_SHARE_GO (the stack is not
   empty), VFY_SHARE_STOP (stop now: the answer is in the search's result),
   VFY_SHARE_DONE (every subdomain of every process is closed; *leaves then
   counts the undecided ones of all of them), or a negative status. */
enum { VFY_SHARE_GO, VFY_SHARE_STOP, VFY_SHARE_DONE };
typedef int (*vfy_share_fn)(void *ctx, struct search *S, struct istack *st, size_t *leaves, char *leaf_why);

typedef struct vfy_opts {
  double timeout;         /* wall-clock seconds for the whole search; default 300 */
  double max_memory_mb;   /* cap on queued subdomains; default 2048 MB */
  int threads;            /* OpenMP threads over subdomains; 0 = OpenMP default */
  cb_method method;       /* intermediate bounds per subdomain; default CB_CROWN */
  vfy_bound_fn bound;     /* NULL = default (see above) */
  void *bound_ctx;        /* passed to bound */
  long max_nodes;         /* stop with UNKNOWN after this many subdomains; 0 = no cap */
  int attack_restarts;    /* random starts of the local search and PGD before BaB; default 8 */
  int strong_restarts;    /* PGD starts (100 steps each) of the long attack run once when
                             the search passes strong_after seconds; inputs <= 64 values
                             only (2 starts above); default 500 */
  double strong_after;    /* seconds; default 3 (a long attack costs ~1 s per conjunction) */
  unsigned long seed;     /* for the local search; default 1 */
  int fwd;                /* 1: intermediate bounds by forward linear bounds (fwdlin.h)
                             instead of CROWN: cheaper per box, looser (ACAS Xu trees
                             grew 5-30x in our runs); dense nets, <= 64 inputs; default 0 */
  double aspect;          /* branching: take the widest dimension (relative to the root
                             box) when it is this many times wider than the best-scored
                             one; default 16 */
  double aspect2;         /* the same for a first phase of the search (a quarter of the
                             timeout) before a restart with `aspect`; <= 1 = one phase
                             only; default 64 */
  int relu_leaf;          /* a box with at most this many ReLUs of unknown sign (CROWN
                             bounds, <= 64 inputs) is decided by splitting those ReLUs
                             (vfy_relu.c); 0 = input splitting only;
                             default 100 */
  int relu_lp;            /* inside a ReLU search, tighten the boxes of neurons of
                             unknown sign on each split region by LP, layer by layer
                             (rs_tighten; inputs of <= 64 values); default 1 */
  long relu_states;       /* states of one such ReLU search before the box goes back
                             to input splitting; default 10000 */
  int beta_bab;           /* 1 (default): inputs of > 64 values split ReLUs by beta-CROWN branch
                             and bound (vfy_beta.c) instead of the depth-first search with LPs;
                             2: every input size (tests); 0: never */
  int beta_iters;         /* alpha/beta optimisation steps per subdomain (twice at the root);
                             default 10 */
  int beta_fsb;           /* beta-CROWN branching: filtered smart branching over this many
                             BaBSR candidates of all layers plus the first layer's best
                             (vfy_fsb.c; at most 32); 0 = BaBSR in the first layer with a
                             neuron of unknown sign only; default 8 */
  int milp_leaf;          /* a ReLU-search state (inputs of > 64 values; or a caller's
                             subdomain) with at most this many ReLUs of unknown sign is
                             decided by the MILP leaf (vfy_milp.c); 0 = never; default
                             VFY_MILP_LEAF */
  long milp_nodes;        /* phase-tree nodes per conjunction of one MILP leaf before it
                             gives the region back; default 2000 */
  int lp_side_first;      /* input splitting: search first the half holding the LP point of
                             the most violated live conjunction (else the lower half);
                             default 1 (the portfolio's ReLU search uses 0) */
  int portfolio;          /* inputs of <= 64 values and >= 2 threads: race input splitting
                             alone (a twentieth of the timeout, >= 5 s) against input +
                             ReLU splitting, one thread each, then the ReLU search on
                             every thread; first decisive answer wins; default 1 */
  int cpu_clock;          /* 1, with threads = 1: timeout (and every deadline and time of the
                             search) counts the CPU time of the calling thread, not wall
                             time: a budget of work that the machine's load does not
                             shrink (certify's bab step); default 0 */
  const int *cancel;      /* internal (portfolio): the search stops when *cancel != 0 */
  const int *grow;        /* internal (portfolio): while *grow == 0 the search runs on one
                             of its `threads` threads only */
  void (*audit)(void *ctx, const vfy_region *g);   /* NULL, or called (from the search's
                             threads) for every region the ReLU search refutes: tests
                             sample it */
  void *audit_ctx;
  void (*prec)(void *ctx, const vfy_prec *p);   /* NULL, or the ReLU search's evidence
                             (above); one thread only */
  void *prec_ctx;
  vfy_share_fn share;     /* NULL, or the distributed frontier (see above): one search of
                             one phase, no portfolio */
  void *share_ctx;
} vfy_opts;

/* Where a search's time went (verify --json "profile"); wall seconds summed
   over the threads that did the work. */
typedef struct vfy_prof {
  double bound_s;         /* bounding subdomains: CROWN passes of vfy_process and of the
                             ReLU-search states (the LPs and MILP leaves below excluded) */
  double branch_s;        /* choosing splits (input dimension, ReLU neuron) */
  double lp_s;            /* GLPK LPs of the search (lp_minmax, region tightening) */
  long lp_calls;
  double milp_s;          /* MILP leaves (vfy_milp.c), their LPs included */
  long milp_calls, milp_nodes, milp_closed, milp_sat;   /* conjunctions tried, phase-tree
                             nodes (one LP each), regions closed, witnesses found */
  double attack_s;        /* witness search before and during the search */
  long batches;           /* batches of the input-splitting loop (verify.c bab): subdomains
                             taken off the stack together and bounded in parallel */
  long batch_items;       /* subdomains in them (their sum; / batches: the mean size) */
  long batch_max;         /* the largest batch */
} vfy_prof;

/* Default of vfy_opts.milp_leaf: 0, off.  Measured on the mnistfc 256x2
   rows of bench/RESULTS_certify.md (one thread, CPU seconds): a ReLU-search
   state costs ~2 ms there and a node of the leaf's phase tree ~50 ms (GLPK
   re-factorises a ~580-row basis over the 784 inputs per solve), and the
   search's states below a state with <= 8 or <= 16 unknown signs were fewer
   than 25 times the leaf's nodes: row 36 took 2.4 s without the leaf and
   3.7 s with 16 (5 leaves, 31 nodes), row 44 2.6 s and 4.2 s with 8, sat
   row 37 1.9 s and 7.9 s with 16; ACAS Xu 3_3 prop 2 (unsat in 50,942
   states without) timed out at 60 s with 16.  The leaf stays for callers
   with dearer states (β-CROWN, vfy_milp_leaf) and --milp-leaf K. */
#define VFY_MILP_LEAF 0

typedef struct vfy_result {
  cb_verdict answer;
  double *x, *y;          /* SAT: the checked witness (nx and ny values), else NULL */
  size_t box, conj;       /* SAT: the input box and output conjunction it meets */
  long nodes;             /* subdomains bounded */
  long relu_states;       /* states of the ReLU searches inside them (relu_leaf) */
  long beta_doms;         /* subdomains bounded by the beta-CROWN search (vfy_beta.c) */
  long beta_qmax;         /* its largest queue */
  int beta_wsrc;          /* SAT by the beta-CROWN search: where its witness came from:
                             1 a bound's minimiser, 2 the root probe (plain CROWN minimisers
                             and PGD from them, before the root's alpha), 3 PGD from a
                             subdomain's minimiser, 4 the long APGD attack; else 0 */
  double t_bound, t_branch, t_attack;   /* its seconds bounding (node boxes and alpha/beta),
                             branching (the worst row's pass, the score, the candidate check),
                             and in PGD from the bound's minimisers */
  int depth;              /* deepest split */
  double seconds;
  long fp_only;           /* candidates the double forward pass put in the property
                             that real arithmetic (exact.h) puts outside: never a witness */
  int rational;           /* SAT: the witness is a rational point no double equals (an
                             input pinned to a VNNLIB decimal such as 0.1): it was checked
                             in real arithmetic at the exact decimals; x and y then hold
                             the nearest doubles, which need not meet the property */
  char **x_text, **y_text;/* rational SAT: the nx inputs as exact decimals and the ny real
                             outputs (exact decimals, or "[lo, hi]" enclosures); else NULL */
  char reason[256];       /* why: "all 1234 subdomains refuted", "contradictory output ..." */
  vfy_prof prof;          /* where the time went */
} vfy_result;

void vfy_opts_init(vfy_opts *o);
/* Runs the search.  Returns CB_OK with an answer in r (ERROR included), or a
   negative status (bad sizes, out of memory before the search starts). */
int vfy_run(const cb_net *net, const vnn_spec *spec, const vfy_opts *o, vfy_result *r, cb_error *err);
void vfy_result_free(vfy_result *r);      /* frees x, y */

/* 1 if x lies in box b's inner box exactly, its forward output y (filled) is
   finite, and the network's real-arithmetic output at x (exact.h: exact for
   piecewise-linear nets, an enclosure otherwise) meets output conjunction
   *conj (set) of that box, strict rows strictly; else 0.  A point that the
   double pass puts in a conjunction but real arithmetic does not is refused
   and counted in *fp_only (atomically; fp_only may be NULL).  An input whose
   real interval holds no double but has two decimal bounds (vnn_box.lo_dec)
   may lie anywhere in x: x proposes in double, and the real point checked
   takes the decimals' midpoint there (the decimal when pinned); the SAT
   answer (vfy_set_sat) is then that rational point. */
int vfy_check_witness(const cb_net *net, const vnn_spec *spec, size_t b, const double *x,
                      double *y, size_t *conj, long *fp_only);

/* The witness when box b's real box holds no double (an input pinned to, or
   held between, decimals no double equals): the candidate is built at the
   exact decimals (vnn_box.lo_dec/hi_dec; the midpoint of an input's two
   decimal bounds, the decimal itself when pinned), the other inputs at the
   centre of [lo, hi] clamped into the inner box (or at the decimal bound
   [lo, hi] lies beside, when it misses the inner box); it is evaluated in real
   arithmetic (exact_eval_dec) and must meet an output conjunction, strict
   rows strictly, as in vfy_check_witness.  1: *conj is set and *E holds the
   evaluation (exact inputs and outputs; the caller frees it); 0: no
   candidate (an input with neither a double nor two decimal bounds) or it
   fails, *E NULL. */
int vfy_check_witness_dec(const cb_net *net, const vnn_spec *spec, size_t b, const double *lo, const double *hi,
                          size_t *conj, cb_exact **E);

#endif
