/*
** Per-sample certification: the cascade that combines the analyzers into a
** verdict for "the prediction is the label over the set S", S = the ball
** {y : ||y - x|| <= eps} intersected with the clip box when there is one.
**
**   clean forward pass  -> falsified if the clean point p is misclassified:
**                          p = x clamped into the clip box (set_nearest), the
**                          point of S nearest x; p = x when x is in the box
**   cheap attack        -> falsified with a checked counterexample
**   global Lipschitz    -> verified if eps < the Lipschitz radius at p
**   IBP, CROWN-IBP, CROWN (bounds/) -> verified if every margin lower bound > 0
**   local Lipschitz (lip/jacobian.h) -> verified if m_j(p) - L_j eps > 0 for all j,
**                       L_j from the interval Jacobian over S (CROWN bounds)
**   alpha-CROWN (bounds/alpha.c) -> verified if every optimised margin bound > 0
**   strong attack       -> falsified
**   bab (cert_bab.c)    -> branch and bound of verify.h on the set as a box
**                          property (cert_sample_spec): verified when every
**                          subdomain is refuted, falsified with its witness
**                          (through counterexample_accept), within bab_timeout;
**                          L-inf only (an L2/L1 ball is not a box)
**   otherwise unknown, with the reason (which margin failed, timeout, error).
** Methods are tried cheapest first and the first that decides is recorded.
** The clean step always runs.  Local Lipschitz and alpha-CROWN need CROWN's
** intermediate bounds over S: when CROWN did not run at this eps they
** compute them (their time, not a "crown" decision).  Both Lipschitz methods
** need the global Lipschitz analysis of the net.
** The Lipschitz methods may centre on p: every y of the box has
** |y_j - p_j| <= |y_j - x_j|, so S lies in the ball of radius eps around p.
** Threat models (cb_cert_opt, issue 20): a per-feature box merged with the
** clip box; a weighted L-inf ball (cb_set.w: local-lipschitz does not
** apply, the global Lipschitz radius is divided by max w); a target class
** (one margin row, f_label - f_target); regression (2 n_out rows
** T + f_j(x) - f_j(y) >= 0 and f_j(y) - f_j(x) + T >= 0 with f(x) enclosed
** exactly, non-strict; no Lipschitz methods, no bab).
** A verdict "verified" comes only from a sound bound; a NaN or infinite bound
** is an internal error for the sample (unknown), never read as verified.
** "falsified" only through counterexample_accept (certify.c): the point lies
** in S (set_contains: box exact, distances rounded up) and the double forward
** pass puts it in another class.
** The radius search gives [certified, attacked]: the largest eps verified by
** the sound methods (bisection) and the smallest eps at which the attack
** finds a counterexample.  With a clip box, S is empty for eps below the
** distance d from x to the box: the search starts at d (both radii >= d).
*/
#ifndef CB_CERTIFY_H
#define CB_CERTIFY_H

#include "attack.h"
#include "bounds.h"
#include "verdict.h"
#include "vnnlib.h"

/* Methods of the cascade, in cascade order. */
typedef enum cb_cm {
  CM_CLEAN, CM_ATTACK, CM_LIPSCHITZ, CM_IBP, CM_CROWN_IBP, CM_CROWN, CM_LOCAL_LIP, CM_ALPHA, CM_STRONG_ATTACK, CM_BAB, CM_COUNT
} cb_cm;
extern const char *const cb_cm_name[CM_COUNT];   /* "clean", "attack", "lipschitz", "ibp", ... */


typedef struct cb_cert_opt {
  cb_norm norm;
  double eps;
  int clip;                 /* intersect with [clip_lo, clip_hi]^n */
  double clip_lo, clip_hi;
  unsigned methods;         /* bit per cb_cm; CM_CLEAN is always on */
  int methods_named;        /* 1: the user chose `methods`: a named method that cannot run on
                               this net (lipschitz, local-lipschitz without a Lipschitz rule)
                               makes certifier_new fail; 0 (default): it is skipped */
  cb_attack_opt cheap, strong;
  double timeout;           /* seconds per sample, 0 = none */
  int radius;               /* also search [certified, attacked] radii */
  double radius_rtol;       /* relative tolerance of the bisection (default 1e-3) */
  double bab_timeout;       /* CPU seconds of branch and bound per sample (CM_BAB); with a
                               sample timeout, within what is left of it (wall); default
                               CERT_BAB_TIMEOUT; 0 = no bab step */
  double bab_memory_mb;     /* cap on bab's queued subdomains per sample; default 512 */
  long lip_nodes;           /* > 0: the local-lipschitz step tightens each margin's constant by the sign
                               branch and bound of lip/liplocal.h, at most this many nodes per margin
                               (skipped when the sample is out of time); 0 (default): the interval bound */
  /* Threat models (issue 20).  Arrays have the net's input size and are copied by certifier_new. */
  const double *box_lo, *box_hi;  /* per-feature box: the set is also cut by [box_lo, box_hi]
                               (and by the clip box when both are given); NULL = none */
  const double *eps_w;      /* per-feature radii: the set is the weighted L-inf ball
                               {y : |y_i - x_i| <= eps eps_w[i]} (norm inf only; eps is then a scale,
                               1 = the radii as given, and --radius searches that scale); NULL = none */
  int target;               /* >= 0: targeted: verified means f_label - f_target > 0 on all of S
                               ("target not reachable"; other classes may win), falsified a point of
                               S with f_target >= f_label in real arithmetic; -1 (default): every class */
  int regression;           /* 1: regression: verified means |f_j(y) - f_j(x)| <= tol on all of S for
                               every output j (any output count >= 1; labels unused), falsified a
                               point of S where some |f_j(y) - f_j(x)| > tol in real arithmetic */
  double tol;               /* the regression tolerance, finite >= 0 */
  int single;               /* 1 (--precision single): the sound methods' CROWN passes run their dense
                               products in binary32 (bounds.h cb_ws.single); 0 (default): double */
} cb_cert_opt;

/* Default bab budget in CPU seconds (cert_opt_init; why this value: cert_bab.c). */
#define CERT_BAB_TIMEOUT 60

void cert_opt_init(cb_cert_opt *o);   /* every method, default attacks, no radius */

typedef struct cb_certifier cb_certifier;   /* per network and options, shared by threads */

cb_certifier *certifier_new(const cb_net *net, const cb_cert_opt *o, cb_error *err);
void certifier_free(cb_certifier *c);
const struct lip_result *certifier_lipschitz(const cb_certifier *c);  /* NULL if not computed */
unsigned certifier_methods(const cb_certifier *c);  /* the methods that run (bit per cb_cm): the options'
                                                       less those the threat model rules out */

typedef struct cb_cert_result {
  int label, pred;
  cb_verdict verdict;
  cb_cm decided_by;         /* meaningful unless unknown */
  char reason[320];
  double *logits;           /* n_out */
  double *margin_lb;        /* n_out - 1: margins f_y - f_j (j != y ascending) from the deciding
                               (or last) bound method; NAN when none ran.  Targeted: one, f_y - f_target;
                               regression: 2 n_out, (tol + f_j(x)) - f_j(y) and f_j(y) - (f_j(x) - tol)
                               for each j (>= 0 proves |f_j(y) - f_j(x)| <= tol) */
  int have_margin_lb;
  double *logit_lb, *logit_ub;  /* n_out: logit bounds at eps from the last bound method that
                               ran there (IBP when none did); have_logit_bounds = 0 if none */
  int have_logit_bounds;
  cb_cm logit_method;
  double *cex;              /* n_in: the counterexample when falsified */
  double *cex_logits;       /* n_out */
  int cex_class;             /* the class that wins; regression: the output that deviates by > tol */
  double certified_radius;  /* radius search: largest verified eps (0 if none) */
  double attack_radius;     /* smallest eps with a counterexample; INFINITY if none found */
  double ms_total, ms[CM_COUNT];  /* wall time, total and per method */
  unsigned ran;             /* bit per cb_cm: the methods that ran on this sample */
  cb_verdict bab_answer;    /* when CM_BAB ran: the search's answer (verify.h), which the
                               verdict follows only for unsat and an accepted sat witness */
  long bab_nodes, bab_relu_states;  /* subdomains bounded, ReLU-split states inside them */
  int bab_depth;            /* deepest split */
} cb_cert_result;

int cert_result_init(cb_cert_result *r, const cb_net *net);   /* allocates the arrays */
void cert_result_free(cb_cert_result *r);

/* Certifies one sample; an error (OOM, bad label) is returned, not recorded as a verdict.
   `stop` (may be NULL) is polled between methods: when it becomes nonzero the sample
   ends as unknown with reason "interrupted". */
int certify_sample(const cb_certifier *c, const double *x, int label, cb_cert_result *r,
                   const volatile int *stop, cb_error *err);

/* The sample's property in VNNLIB form (the asserts describe a counterexample):
   one input box, the set's bounding box rounded outward (outer box; the inner
   box rounded inward; per-feature radii eps w_i when weighted), with the clip
   box and --box when there are, and the disjunction over j != label of
   y_label - y_j <= 0 (targeted: the one disjunct j = target; regression:
   refused, CB_EUNSUP).  For an L-inf ball the
   box is the set (up to rounding); for L2/L1 it only contains it, so an unsat
   answer on it proves the sample but a sat one does not refute it.  *out is
   freed with vnn_free. */
int cert_sample_spec(const cb_certifier *c, const double *x, int label, vnn_spec **out, cb_error *err);

#endif
