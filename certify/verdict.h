/*
** Verdicts: the closed set every decision of certify/ ends in, one enum and
** one name table shared by the certification cascade (certify.h) and the
** VNNLIB verifier (verify.h).
**
** The certify cascade answers "is the prediction provably the label over S?"
** and says verified, falsified or unknown (a sample out of time, or whose
** bounds failed, is unknown with the reason: it never uses V_TIMEOUT or
** V_ERROR).  verify answers a VNNLIB property, whose asserts describe a
** counterexample, in VNN-COMP's words: unsat = verified (no counterexample
** exists), sat = falsified (a witness checked in real arithmetic), timeout,
** unknown, error.  Both words of a verdict are in its row of the table.
**
** Soundness rule (DESIGN.md): V_VERIFIED only from a sound bound,
** V_FALSIFIED only with a re-checked counterexample; anything else
** (NaN, a limit, an internal error) is unknown, timeout or error.  V_UNKNOWN
** is 0, so a zeroed result never reads as verified.
*/
#ifndef CB_VERDICT_H
#define CB_VERDICT_H

typedef enum cb_verdict {
  V_UNKNOWN,     /* neither proved nor refuted (the reason says why) */
  V_VERIFIED,    /* proved for every input of the set / box */
  V_FALSIFIED,   /* a counterexample, re-checked, is given */
  V_TIMEOUT,     /* the time limit came first (verify; certify says unknown) */
  V_ERROR,       /* an internal error stopped the search (verify) */
  V_COUNT
} cb_verdict;

typedef struct cb_verdict_info {
  const char *name;     /* certify's word: "unknown", "verified", "falsified", "timeout", "error" */
  const char *vnnlib;   /* verify's VNN-COMP word: "unknown", "unsat", "sat", "timeout", "error" */
} cb_verdict_info;

extern const cb_verdict_info cb_verdict_table[V_COUNT];   /* certify/verdict.c */

#endif
