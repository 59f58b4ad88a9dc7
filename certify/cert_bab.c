/*
** The cascade's last step, bab: the branch and bound of `verify` (verify.h:
** input and ReLU splitting, LP, its attacks, its exact witness check) run on
** the sample's own property, built in memory (cert_sample_spec): the set as
** an input box and "some class j != label has y_j >= y_label" as the output
** disjunction.  The engine decides boxes only, so the step runs on L-inf
** balls (with the clip box): there the box is the set.  An L2 or L1 ball
** is not a box; its bounding box would let the search's witnesses fall
** outside the set, so those samples skip the step (certify.c says so in
** the reason).
**
** Verdicts: verified only when the search answers unsat (every subdomain
** refuted by a sound bound over a box that contains the set: the outer box
** is rounded outward); falsified only when its witness, already checked
** exactly by the search against the inner box (rounded inward) and the
** real-arithmetic outputs, also passes cert_counterexample_accept, the
** check every other counterexample of certify passes.  Anything else
** (timeout, unknown, an error inside the search) leaves the sample unknown
** with the search's account.
**
** Budget: bab_timeout seconds (default CERT_BAB_TIMEOUT = 60 s) of the
** search's CPU time (vfy_opts.cpu_clock: its one thread's clock), cut to
** what is left of the sample's --timeout, in which case it is wall time
** (a deadline the user set).  Why CPU time: the rows bab can close need a
** fixed amount of work, and a wall budget shrank with the machine's load:
** on the 11 mnistfc 256x2 rows the cascade leaves open (L-inf 0.02, clip
** [0,1]; bench/RESULTS_certify.md), at load 14-16 on 2 cores a 10 s wall
** budget gave each search ~1 s of CPU and closed 4 rows; 10 s of CPU closed
** 9.  Why 60 s: `verify --timeout 60` on one of these boxes runs this same
** search on one thread (one subdomain), so on an idle core it has 60 s of
** CPU, and row 13 needs 34 s (13,125 states, unsat): with 60 s of CPU bab
** decides every row `verify` decides within 60 s, whatever the load.  The
** cost is a row the search cannot close (row 20: 60 s of CPU); the other
** rows take 1-4 s since lp_minmax starts GLPK's dual simplex (4-20 s
** before).  A user after throughput lowers --bab-timeout.
** One thread per sample (certify runs samples in parallel); the search's
** queued subdomains are capped at bab_memory_mb.
*/
#include <math.h>
#include <string.h>
#include <time.h>
#include "cert_int.h"
#include "round.h"
#include "verify.h"

/* One box: bounds, conjunctions and their rows, all in the spec's arena. */
static int spec_alloc(vnn_spec *S, size_t nx, size_t ny)
{
  vnn_box *B;
  double *v, *A, *b;
  unsigned char *st;
  arena_init(&S->arena);
  S->path = arena_strdup(&S->arena, "certify sample");
  S->box = B = arena_array(&S->arena, 1, sizeof *B);
  v = arena_array(&S->arena, 4 * nx + 1, sizeof *v);
  B->conj = arena_array(&S->arena, ny, sizeof *B->conj);
  A = arena_array(&S->arena, ny * ny + 1, sizeof *A);
  b = arena_array(&S->arena, ny + 1, sizeof *b);
  st = arena_array(&S->arena, ny + 1, 1);
  if (!S->path || !B || !v || !B->conj || !A || !b || !st) return CB_ENOMEM;
  S->nx = nx; S->ny = ny; S->n_box = 1;
  B->lo = v; B->hi = v + nx; B->lo_in = v + 2 * nx; B->hi_in = v + 3 * nx;
  for (size_t k = 0; k + 1 < ny; k++) {
    B->conj[k].m = 1;
    B->conj[k].A = A + k * ny;
    B->conj[k].b_up = B->conj[k].b_dn = b;   /* 0 */
    B->conj[k].strict = st;                   /* 0: y_label - y_j <= 0, a tie counts */
  }
  B->n_conj = ny - 1;
  return CB_OK;
}

/*
** The L-inf box of centre x, radius eps, cut by the clip box [cl, ch]:
**   outer  [RD(x_i - eps), RU(x_i + eps)] (contains the real set),
**   inner  [RU(x_i - eps), RD(x_i + eps)] (doubles of the real set only),
** each intersected with the clip box (exact: its bounds are doubles).
** L2/L1: the same box, the ball's bounding box.
*/
int cert_sample_spec(const cb_certifier *c, const double *x, int label, vnn_spec **out, cb_error *err)
{
  size_t nx = c->nin, ny = c->nout;
  double eps = c->o.eps;
  vnn_spec *S;
  vnn_box *B;
  *out = NULL;
  if (label < 0 || (size_t)label >= ny)
    return cb_error_set(err, CB_EVALUE, "label %d is not a class of the network (0..%zu)", label, ny - 1);
  if (!(S = cb_calloc(1, sizeof *S))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  if (spec_alloc(S, nx, ny) != CB_OK) { vnn_free(S); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  B = &S->box[0];
  for (size_t i = 0; i < nx; i++) {
    double ru = c->w ? round_mul_ru(eps, c->w[i]) : eps, rd = c->w ? round_mul_rd(eps, c->w[i]) : eps;  /* weighted: eps w_i */
    B->lo[i] = round_add_rd(x[i], -ru) + 0.0; B->lo_in[i] = round_add_ru(x[i], -rd) + 0.0;
    B->hi[i] = round_add_ru(x[i], ru) + 0.0;  B->hi_in[i] = round_add_rd(x[i], rd) + 0.0;
    if (c->blo) {   /* the clip box and --box */
      B->lo[i] = fmax(B->lo[i], c->blo[i]); B->lo_in[i] = fmax(B->lo_in[i], c->blo[i]);
      B->hi[i] = fmin(B->hi[i], c->bhi[i]); B->hi_in[i] = fmin(B->hi_in[i], c->bhi[i]);
    }
    if (!(B->lo[i] <= B->hi[i])) {
      vnn_free(S);
      return cb_error_set(err, CB_EVALUE, "the set is empty in input %zu: [%.17g, %.17g]", i, B->lo[i], B->hi[i]);
    }
  }
  if (c->o.regression) { vnn_free(S); return cb_error_set(err, CB_EUNSUP, "%s", "a regression row has no VNNLIB property here"); }
  if (c->o.target >= 0) {   /* targeted: the one disjunct y_label - y_target <= 0 */
    B->conj[0].A[label] = 1;
    B->conj[0].A[c->o.target] = -1;
    B->n_conj = 1;
  } else for (size_t k = 0, j = 0; j < ny; j++) {
    if ((int)j == label) continue;
    B->conj[k].A[label] = 1;
    B->conj[k].A[j] = -1;
    k++;
  }
  *out = S;
  return CB_OK;
}

static double since(const struct timespec *t0)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

/* The search's answer applied to the sample (see the file header). */
static int take_answer(cert_job *j, const vfy_result *vr, char *why, size_t n, cb_error *err)
{
  cb_cert_result *r = j->r;
  int rc = CB_OK;
  if (vr->answer == V_VERIFIED) {
    r->verdict = V_VERIFIED;
    r->decided_by = CM_BAB;
    snprintf(r->reason, sizeof r->reason, "bab: unsat, %.200s (%.3g s)", vr->reason, vr->seconds);
    return CB_OK;
  }
  if (vr->answer == V_FALSIFIED && vr->x) {
    j->set.eps = j->c->o.eps;
    if (cert_counterexample_accept(j, vr->x, 1, &rc, err)) {
      r->verdict = V_FALSIFIED;
      r->decided_by = CM_BAB;
      return CB_OK;
    }
    if (rc != CB_OK) return rc;
    snprintf(why, n, "bab: its witness was refused by certify's counterexample check (%ld subdomains, %.3g s)",
             vr->nodes, vr->seconds);
    return CB_OK;
  }
  snprintf(why, n, "bab %s after %ld subdomains in %.3g s: %.160s", cb_verdict_table[vr->answer].vnnlib,
           vr->nodes, vr->seconds, vr->reason);
  return CB_OK;
}

int cert_bab(cert_job *j, char *why, size_t n, cb_error *err)
{
  const cb_certifier *c = j->c;
  cb_cert_result *r = j->r;
  vnn_spec *sp = NULL;
  vfy_opts vo;
  vfy_result vr;
  cb_error e2 = {0};
  struct timespec t;
  double left = c->o.bab_timeout;
  int rc;
  memset(&vr, 0, sizeof vr);
  why[0] = 0;
  if (c->o.timeout > 0) left = fmin(left, c->o.timeout - since(&j->t0));
  if (!(left > 0)) return CB_OK;
  clock_gettime(CLOCK_MONOTONIC, &t);
  r->ran |= 1u << CM_BAB;
  if ((rc = cert_sample_spec(c, j->x, j->label, &sp, err)) != CB_OK) goto out;
  vfy_opts_init(&vo);
  vo.timeout = left;
  vo.threads = 1;
  vo.max_memory_mb = c->o.bab_memory_mb;
  vo.cancel = (const int *)j->stop;    /* read atomically by the search (vfy_cancelled) */
  vo.cpu_clock = !(c->o.timeout > 0);  /* the budget in CPU seconds, unless the sample has a wall deadline */
  rc = vfy_run(c->net, sp, &vo, &vr, &e2);
  r->bab_answer = vr.answer;
  r->bab_nodes = vr.nodes;
  r->bab_relu_states = vr.relu_states;
  r->bab_depth = vr.depth;
  if (rc == CB_ENOMEM || (rc == CB_ELIMIT && !cert_out_of_time(j))) { *err = e2; goto out; }
  if (rc != CB_OK) {     /* the sample's deadline inside a bound pass, or an internal error */
    r->bab_answer = cert_out_of_time(j) ? V_TIMEOUT : V_ERROR;
    snprintf(why, n, "bab stopped after %ld subdomains: %.200s", vr.nodes, e2.msg);
    rc = CB_OK;
    goto out;
  }
  rc = take_answer(j, &vr, why, n, err);
out:
  r->ms[CM_BAB] += 1e3 * since(&t);
  vfy_result_free(&vr);
  vnn_free(sp);
  return rc;
}
