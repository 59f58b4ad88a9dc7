/*
** Proof files for `unsat` (docs/proof-format.md) and their exact checker.
**
** A proof is a branch-and-bound tree per input box of a VNNLIB spec: input
** splits (two child boxes whose union covers the parent), ReLU splits (the
** pre-activation of one ReLU neuron <= 0, then >= 0), and leaves that carry,
** per output conjunction, nonnegative multipliers of its rows.  The checker
** trusts no number of the proof: on each leaf it recomputes every node's
** bounds itself (interval arithmetic, then CROWN back-substitution for every
** ReLU input of unknown sign) in exact dyadic arithmetic (GMP), with the
** network's weights taken as the exact doubles the file holds, and shows
** that the multipliers' combination of the rows exceeds the combination of
** the right-hand sides (b rounded up) over the leaf.
**
** This file, with the readers of src/, is the whole checker: it uses no
** code of bounds/, lip/ or certify/ (check/check.c links src/ objects only).
** Cost: per leaf O(L n^2) exact operations for interval bounds plus one
** back-substitution per ReLU of unknown sign (two rows each): meant for
** ACAS-sized dense nets; nets of other kinds are refused (pchk_new).
*/
#ifndef CB_PROOFCHK_H
#define CB_PROOFCHK_H

#include <stddef.h>
#include "net.h"
#include "vnnlib.h"

#define PROOF_VERSION 3   /* newest read (versions 1, 2 and 3) */
#define PROOF_VERSION_WRITTEN 2   /* what verify writes when no leaf holds version 3's records (it then writes 3) */
#define PROOF_MAX_DEPTH 2000   /* deepest tree accepted (input + ReLU splits on one path) */

/* ---- the parsed proof (structure only; proof_parse needs no network) ---- */
enum { PR_BOX, PR_SPLIT, PR_RELU, PR_LEAF, PR_CONJ, PR_TIGHTEN, PR_BETA };
typedef struct proof_rec {
  int type, line;
  long a, b;              /* BOX: index; SPLIT: dim; RELU, TIGHTEN: node, neuron; LEAF: number; CONJ: index */
  double x, y;            /* SPLIT: left child's hi, right child's lo; TIGHTEN: bound, side (0 lo, 1 hi) */
  size_t nlam, lam;       /* CONJ, TIGHTEN, BETA: multiplier count and offset into proof.lam */
} proof_rec;

typedef struct proof {
  int version;
  char net_sha[65], prop_sha[65];   /* lower-case hex */
  int input_space;        /* version 2's header: 0 raw, 1 normalized; -1 not recorded (version 1) */
  long n_box, n_leaf;
  proof_rec *r;
  size_t n, cap;
  double *lam;
  size_t n_lam, cap_lam;
} proof;

/* Parses text (len bytes, need not be NUL-terminated).  Checks the syntax
   and the tree shape (every split has two children, boxes 0..n_box-1 in
   order, leaves numbered 0, 1, ... in order); *out NULL on error, err says
   "line N: what". */
int proof_parse(const char *text, size_t len, proof **out, cb_error *err);
void proof_free(proof *p);   /* NULL is a no-op */
/* The SHA-256 of the file at path as 64 lower-case hex digits and a NUL;
   0 when it cannot be read (hex is then unspecified), else 1. */
int proof_sha256_file(const char *path, char hex[65]);

/* ---- checking ---- */
typedef struct pchk pchk;
typedef struct pchk_split { int node; size_t idx; int sign; } pchk_split;   /* sign -1: input of ReLU
                             node `node`, entry idx, <= 0; +1: >= 0 */

/* A checker for net and spec (both kept by pointer).  CB_EUNSUP (with the
   node named) for a net that is not a chain of INPUT, AFFINE, SCALE, RESHAPE
   and ReLU nodes with exact parameters, or sizes that disagree with spec. */
int pchk_new(const cb_net *net, const vnn_spec *spec, pchk **out, cb_error *err);
void pchk_free(pchk *P);   /* NULL is a no-op */

/* Version 3: a bound of the input of ReLU node `node`, entry idx, on the
   leaf's region: side 0 lo >= bound, 1 hi <= bound, re-derived by
   back-substituting +-e_idx plus sum_s mu_s t_s, t_s = -sign_s z_s <= 0 the
   path's split terms (mu: ns multipliers >= 0, zero for splits below node).
   got (NULL: none) receives the re-derived bound (rounded outward; +-inf
   when none); with bound NaN (the emitter's derive mode, never from a
   parsed proof) that bound is the one used. */
typedef struct pchk_tighten { int node, side, line; size_t idx; double bound; const double *mu; double *got; } pchk_tighten;

/* One leaf: box `box` of the spec restricted to [lo, hi] and the splits.
   lam[c]: the multipliers of conjunction c (spec->box[box].conj[c].m each).
   1: every conjunction refuted on the leaf (or the region is empty); 0: not,
   why says the first conjunction that is not and by how much, or the bad
   multiplier; a negative status on out of memory. */
int pchk_leaf(pchk *P, size_t box, const double *lo, const double *hi, const pchk_split *sp, size_t ns,
              const double *const *lam, char *why, size_t nwhy);
/* The same with version 3's records: tt[0..ntt) applied as each node's
   bounds are made (in order), and beta[c] (NULL: none) the multipliers of
   the split terms added to conjunction c's combined row. */
int pchk_leaf3(pchk *P, size_t box, const double *lo, const double *hi, const pchk_split *sp, size_t ns,
               const pchk_tighten *tt, size_t ntt, const double *const *lam, const double *const *beta, char *why, size_t nwhy);
/* The node bounds pchk_leaf3 would refute with (no conjunction tested):
   1 and, per node, (*blo)[i] and (*bhi)[i] (valid until P's next call);
   0 the region is empty; < 0 none (a bound not finite, a record refused).
   For the emitter (proof_relu.c), which searches with these bounds. */
int pchk_bounds(pchk *P, const double *lo, const double *hi, const pchk_split *sp, size_t ns, const pchk_tighten *tt, size_t ntt,
                double *const **blo, double *const **bhi);
/* The same with multipliers chosen here: for each conjunction c with
   use[c] set, the single rows (unit multipliers) in turn, then the sum of
   all its rows; the first that refutes goes to row[c] (-2: the sum; -1 when
   the region is empty).  1 / 0 / status. */
int pchk_leaf_auto(pchk *P, size_t box, const double *lo, const double *hi, const pchk_split *sp, size_t ns,
                   const unsigned char *use, long *row);

/* Checks every leaf of pf against P's net and spec, in order, and that the
   trees cover every box of the spec.  1: valid; 0: invalid, msg names the
   first failing leaf (number, box, depth, line) and why; negative: status. */
int proof_check(pchk *P, const proof *pf, char *msg, size_t nmsg, long *leaves_checked);

#endif
