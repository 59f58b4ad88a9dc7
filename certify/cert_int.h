/*
** Certify internals shared by the cascade (certify.c) and the radius search
** (radius.c): the certifier, one sample's working state and the cascade's
** steps the search reuses.  Not part of the library's interface.
*/
#ifndef CB_CERT_INT_H
#define CB_CERT_INT_H

#include <time.h>
#include "certify.h"
#include "lipschitz.h"

struct cb_certifier {
  const cb_net *net;
  cb_bnet bn;
  lip_result *lip;          /* NULL when the Lipschitz method is off or unsupported */
  cb_cert_opt o;
  size_t nin, nout;
  size_t q;                 /* specification rows: nout - 1 margins, 1 (target), 2 nout (regression) */
  double *blo, *bhi;        /* the clip box and --box merged, per feature (NULL: none) */
  double *w;                /* per-feature radii (NULL: a plain ball) */
  double wmax;              /* max w (1 without w) */
};

/* One sample's working state. */
typedef struct cert_job {
  const cb_certifier *c;
  const double *x;
  int label;
  cb_cert_result *r;
  const volatile int *stop;
  double *C, *lb, *best, *xa, *ya, *lo, *hi;
  double *d;                 /* regression: the rows' constants (C_r f + d_r >= 0 is the property); NULL otherwise */
  double *y_lo, *y_hi;       /* regression: enclosure of the real outputs f(x) at the row */
  double *p;                 /* the clean point: x clamped into the clip box (x without one) */
  double d_lo, d_up;         /* bounds of ||p - x||: S is empty for eps < d_lo (0 without a clip box) */
  int have_best;             /* best[] holds some sound margin bounds */
  cb_cm last;                /* last bound method run on ws (CM_COUNT: none) */
  cb_ws *ws;
  cb_set set;
  double lip_radius;        /* global Lipschitz radius (0 if none) */
  double *m_lo;             /* real-arithmetic margin lower bounds at p (local Lipschitz) */
  int have_m_lo;
  struct timespec t0;
} cert_job;

/* The sample's time is up (its timeout) or it was stopped (certify.h). */
int cert_out_of_time(const cert_job *j);

/* The attack at radius eps (method m's time); 1 if it found a counterexample
   that counterexample_accept took (stored in the result with keep); *rc the
   status. */
int cert_attack_at(cert_job *j, double eps, const cb_attack_opt *ao, cb_cm m, int keep, cb_error *err, int *rc);

/* The sound methods at radius eps, cheapest first: 1 if verified (*by the
   method; CM_COUNT for a set provably empty), 0 if not, -1 on an error or a
   non-finite bound (reason in the result). */
int cert_sound_at(cert_job *j, double eps, cb_cm *by, cb_error *err);

/* THE acceptance test of a counterexample (certify.c): 1 if x lies in the set
   at j->set.eps exactly and the forward pass, re-checked in real arithmetic,
   puts another class at or above the label (stored in the result with keep);
   *rc the status of a forward pass. */
int cert_counterexample_accept(cert_job *j, const double *x, int keep, int *rc, cb_error *err);

/* cert_bab.c: the bab step at the sample's eps.  Sets the verdict (verified,
   or falsified through cert_counterexample_accept; decided_by CM_BAB) or
   leaves it unknown with *why the search's account; the counts go to the
   result.  A status: only out-of-memory and the --max-memory cap are errors,
   anything else the search meets leaves the sample unknown. */
int cert_bab(cert_job *j, char *why, size_t why_len, cb_error *err);

/* radius.c: the radius search of --radius, [certified, attacked] into j->r. */
int radius_bracket(cert_job *j, cb_error *err);

#endif
