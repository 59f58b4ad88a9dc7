/*
** Attacks: search the input set for a point where a specification fails.
**
** The objective is g(x) = agg_i (C_i f(x) + d_i) with agg = min (a margin
** attack: g < 0 means some margin is negative) or max (a conjunction of
** constraints C_i y + d_i <= 0 is met when g <= 0).  attack_run minimises g
** over the set by projected gradient descent (the gradient of the active
** row, lip/grad.c) from the centre, the cheap corner guesses and random
** starts.  The returned point is inside the set (set_contains, rounding-safe)
** and g_best is recomputed from it by the concrete forward pass.
*/
#ifndef CB_ATTACK_H
#define CB_ATTACK_H

#include <stdint.h>
#include "bounds.h"

typedef enum cb_agg { CB_AGG_MIN, CB_AGG_MAX } cb_agg;

typedef struct cb_attack_opt {
  int steps;          /* PGD steps per start (default 40) */
  int restarts;       /* random starts besides the deterministic ones (default 4) */
  uint64_t seed;      /* RNG seed (0 = fixed default) */
  int apgd;           /* 1: L-inf / box sets take APGD's schedule (Croce and Hein 2020:
                         momentum 0.75, step 2r halved at checkpoints without progress,
                         restarting from the run's best point); 0: plain PGD */
} cb_attack_opt;

#define CB_ATTACK_DEFAULT ((cb_attack_opt){40, 4, 0, 0})

/* x_best (n_in) and g_best receive the best point found; stops early once
   g < stop_below.  A set without a point provably in it (empty, or within
   rounding of empty) finds nothing: g_best = HUGE_VAL, CB_OK.  Returns CB_OK,
   or an error (OOM, non-finite output). */
int attack_run(const cb_net *net, const cb_set *set, const double *C, const double *d, size_t q,
               cb_agg agg, double stop_below, const cb_attack_opt *opt, double *x_best,
               double *g_best, cb_error *err);

/* g(x) for a given output y. */
double attack_objective(const double *y, size_t nout, const double *C, const double *d, size_t q,
                        cb_agg agg, size_t *active);

/* Projects x onto the set (exactly for a box or L-inf ball; Euclidean / L1
   projection then clamping for the other balls), then pulls it inside until
   set_contains holds; returns 0 if that fails. */
int attack_project(const cb_set *set, double *x);

#endif
