/*
** Proofs of `unsat` (verify --proof): a branch-and-bound tree over the input
** boxes of a VNNLIB spec whose every leaf the exact checker (src/proofchk.c,
** `cerbere check`) accepts.  Format: docs/proof-format.md.
**
** The tree is searched here, after the verifier has answered unsat, by input
** splitting alone: each box is bounded by CROWN (bounds/), a box whose rows
** refute every output conjunction is confirmed by the checker's own exact
** leaf test (pchk_leaf_auto) before it becomes a leaf, so a written proof
** checks by construction; a box whose conjunction no single row refutes
** may still be a leaf with the rows weighed by GLPK (lp_minmax over their
** CROWN lower forms), again only once the exact test (pchk_leaf) accepts
** the weights; otherwise the box is halved along an input chosen
** by strong branching (LOOKAHEAD candidates by |CROWN coefficient| x width,
** each half bounded by CROWN; the widest input relative to the root box when
** it lags far behind).  The verifier's own tree is not reused:
** its leaves are closed by LPs, alpha-CROWN, ReLU splits with LP-tightened
** boxes and parents' node boxes, which the checker does not re-derive.
*/
#ifndef CB_PROOF_EMIT_H
#define CB_PROOF_EMIT_H

#include "vnnlib.h"
#include "net.h"
#include <stdio.h>

typedef struct proof_emit_stats {
  long leaves, splits;
  int depth;              /* deepest input split */
  long lp_leaves;          /* leaves whose multipliers GLPK weighed (rows combined) */
  long rejected;          /* boxes CROWN refuted that the exact test did not (split further) */
  double seconds;          /* wall */
  double cpu_seconds;      /* CPU of the process while writing it */
  long bytes;             /* size of the proof file */
  int strong;             /* 1: the tree of strong branching, 0: of choose_dim's rule alone (both run side by side) */
  double cpu_rule[2];     /* CPU each of the two runs took (choose_dim's rule, strong branching) */
  long relu_boxes, relu_leaves, relu_states;   /* boxes closed by the ReLU route (proof_relu.c), their
                             leaves (version 3's records), the ReLU search's states (all tries) */
  long relu_tries;        /* boxes handed to the ReLU route */
} proof_emit_stats;

/* Writes the proof of `unsat` for net and spec (read from net_path and
   prop_path, whose SHA-256 go into the header) to out, atomically (a
   temporary file renamed; nothing is left on error).  timeout: CPU
   seconds of the process (CB_ELIMIT past it); max_depth: deepest split on a path; normalised: the
   net was loaded with --input-space normalized (recorded in the header,
   the checker applies it).  CB_EUNSUP when
   the checker does not take the net, CB_EVALUE when a box cannot be refuted
   down to max_depth (the property may be sat, or need ReLU splits). */
int proof_emit(const cb_net *net, const vnn_spec *spec, const char *net_path, const char *prop_path, const char *out,
               double timeout, int max_depth, int normalised, proof_emit_stats *st, cb_error *err);

/* Boxes at split depth >= d that input splitting leaves open go to the ReLU
   route (proof_relu_box) first; d < 0: never; -2: the default
   (PROOF_RELU_DEPTH).  Process-wide, for tests and benchmarks. */
#define PROOF_RELU_DEPTH 10
void proof_emit_relu_depth(int d);

/* proof_relu.c: box b of spec restricted to [lo, hi] (ws holds its CROWN
   bounds) closed by verify's ReLU search (vfy_relu_search, within budget
   seconds) and written to f as a subtree of `relu` splits with version 3's
   records, every leaf accepted by the exact test (pchk_leaf3) first.
   1: written (*leaf counts on); 0: not (the search left the box open, or
   the checker rejects a leaf: why says which; nothing is left in f);
   negative: status.  *states: the search's states. */
typedef struct pchk pchk;
struct cb_ws;
int proof_relu_box(const cb_net *net, const vnn_spec *spec, pchk *P, struct cb_ws *ws, size_t b, const double *lo,
                   const double *hi, double budget, FILE *f, long *leaf, long *states, char *why, size_t nwhy, cb_error *err);

#endif
