/*
** Branch and bound with input and ReLU splitting for VNNLIB properties (verify.h).
**
** A subdomain is a sub-box of one input box of the spec, with the set of its
** output conjunctions not yet refuted there, and (default bound) the node
** boxes of its parent, valid on it too.  Per subdomain:
**   1. bound: CROWN intermediate bounds started from the parent's boxes
**      (bounds_run_prior), then one not-concretised CROWN pass of the rows
**      (crown_linear) gives both their sound lower bounds lb (set_support
**      concretises) and their linear forms a_r . x + c_r.  Conjunction c is
**      refuted if some row has lb_r > b_up_r (>= for a strict row).
**      Refutation is inherited by sub-boxes.
**   2. candidates: the centre (clamped into the inner box); a point meeting
**      a conjunction is checked exactly (vfy_check_witness): SAT.
**   3. joint refutation: for a live conjunction with several rows, GLPK
**      solves min over the box of max_r (a_r . x + c_r - b_r) (lp_minmax);
**      if positive, the row weights l it returns give one combined row
**      sum_r l_r A_r, which is re-bounded by CROWN with its rounding added
**      (combined_refutes).  The LP's minimiser is another candidate.
**   4. ReLU splitting: when the box's CROWN bounds leave at most relu_leaf
**      ReLUs of unknown sign (always, for high-dimensional inputs: vfy_int.h),
**      a depth-first search over those ReLUs' phases decides the box or
**      hands it back (see "ReLU splitting inside a box" below).
**   5. split the dimension with the largest width_j * |sum_r l_r a_rj|, or
**      the widest relative to the root box if that is ASPECT times wider,
**      at the midpoint (the two halves share it, so they cover the box).
** Subdomains are kept on a stack (depth first: finds witnesses early, memory
** stays small); a batch from its top is bounded in parallel (OpenMP, one
** workspace per thread), results are applied in order.
**
** Before the search: a conjunction with no rows is met by any point; a
** conjunction that no output can meet (Farkas certificate from GLPK, checked
** in double over the root output bounds) is dropped with that reason; a short
** local search (random starts + signed finite-difference descent, low input
** dimension only) and PGD (attack.h) look for an easy witness.  A long PGD
** runs once when the search passes strong_after seconds.
**
** Files (vfy_int.h): this one holds the search loop, the phases and the
** portfolio; vfy_input.c bounds one subdomain (steps 1-3, 5), vfy_relu.c
** splits ReLUs (4), vfy_attack.c looks for witnesses, vfy_common.c checks
** them exactly.
**
** Sizes: ACAS Xu has 5 inputs, 6 x 50 ReLUs, 1e2..1e6 subdomains of ~0.3 ms.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <omp.h>
#include "vfy_int.h"
#include "linalg.h"
#include "lp.h"
#include "fwdlin.h"

const char *const vfy_answer_name[5] = {"unsat", "sat", "timeout", "unknown", "error"};

#define BATCH_PER_THREAD 4

void vfy_opts_init(vfy_opts *o)
{
  memset(o, 0, sizeof *o);
  o->timeout = 300;
  o->max_memory_mb = 2048;
  o->method = CB_CROWN;
  o->attack_restarts = 8;
  o->strong_restarts = 500;
  o->strong_after = 3;
  o->aspect = 16;
  o->aspect2 = 64;
  o->seed = 1;
  o->relu_leaf = 100;   /* ACAS Xu, portfolio: 45 -> 118.2 s, 100 -> 99.0 s, 150 -> 98.9 s in total */
  o->relu_states = 10000;
  o->relu_lp = 1;
  o->portfolio = 1;
  o->lp_side_first = 1;
}

void vfy_result_free(vfy_result *r)
{
  if (!r) return;
  cb_free(r->x);
  cb_free(r->y);
  r->x = r->y = NULL;
}

static int default_bound(void *ctx, cb_ws *ws, cb_method m, const double *C, size_t q, double *lb, cb_error *err)
{
  int rc;
  (void)ctx;
  if ((rc = bounds_run(ws, m, err)) != CB_OK) return rc;
  return bounds_spec(ws, C, q, lb, NULL, err);
}

static item *item_new(const search *S, size_t box, int depth)
{
  size_t nx = S->spec->nx, nc = S->spec->box[box].n_conj, np = S->prior ? S->nb : 0;
  item *it = cb_alloc(sizeof *it + (2 * np + 2 * nx) * sizeof(double) + nc + 1);
  if (!it) return NULL;
  it->box = box;
  it->depth = depth;
  it->has_prior = 0;
  it->relu_fail = 0;
  it->plo = (double *)(it + 1);
  it->phi = it->plo + np;
  it->lo = it->phi + np;
  it->hi = it->lo + nx;
  it->act = (unsigned char *)(it->hi + nx);
  return it;
}

static size_t item_bytes(const search *S) { return sizeof(item) + (2 * S->spec->nx + (S->prior ? 2 * S->nb : 0)) * sizeof(double) + 64; }


/* ---- the search ---- */

static int setup_rows(search *S)
{
  const vnn_spec *sp = S->spec;
  size_t ny = sp->ny;
  S->C = cb_calloc(sp->n_box + 1, sizeof *S->C);
  S->q = cb_calloc(sp->n_box + 1, sizeof *S->q);
  S->row0 = cb_calloc(sp->n_box + 1, sizeof *S->row0);
  if (!S->C || !S->q || !S->row0) return CB_ENOMEM;
  for (size_t b = 0; b < sp->n_box; b++) {
    const vnn_box *B = &sp->box[b];
    size_t q = 0;
    if (!(S->row0[b] = cb_alloc((B->n_conj + 1) * sizeof **S->row0))) return CB_ENOMEM;
    for (size_t c = 0; c < B->n_conj; c++) { S->row0[b][c] = q; q += B->conj[c].m; }
    S->q[b] = q;
    if (!(S->C[b] = cb_alloc((q * ny + 1) * sizeof **S->C))) return CB_ENOMEM;
    for (size_t c = 0; c < B->n_conj; c++)
      memcpy(S->C[b] + S->row0[b][c] * ny, B->conj[c].A, B->conj[c].m * ny * sizeof(double));
  }
  return CB_OK;
}

static void free_rows(search *S)
{
  for (size_t b = 0; S->C && b < S->spec->n_box; b++) { cb_free(S->C[b]); cb_free(S->row0[b]); }
  cb_free(S->C); cb_free(S->q); cb_free(S->row0);
}

/* Conjunctions no reachable output meets (Farkas, lp.c) are switched off in
   act0 (per box); the count goes to *dropped. */
static int drop_contradictions(search *S, cb_ws *ws, unsigned char **act0, size_t *dropped, cb_error *err)
{
  const vnn_spec *sp = S->spec;
  size_t ny = sp->ny, no = ny;
  int rc = CB_OK;
  double *ylo = cb_alloc(2 * no * sizeof *ylo), *I = cb_calloc(no * no + 1, sizeof *I);
  if (!ylo || !I) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  for (size_t j = 0; j < no; j++) I[j * no + j] = 1;
  for (size_t b = 0; b < sp->n_box && rc == CB_OK; b++) {
    const vnn_box *B = &sp->box[b];
    int any = 0;
    for (size_t c = 0; c < B->n_conj; c++) any |= B->conj[c].m > 1;
    if (!any) continue;
    ws->set.lo = B->lo; ws->set.hi = B->hi;
    if ((rc = bounds_run(ws, CB_IBP, err)) != CB_OK ||
        (rc = bounds_spec(ws, I, no, ylo, ylo + no, err)) != CB_OK) break;
    for (size_t c = 0; c < B->n_conj; c++) {
      const vnn_conj *k = &B->conj[c];
      int res = k->m > 1 ? lp_farkas(k->A, k->b_up, k->m, ny, ylo, ylo + no) : 0;
      if (res < 0) { rc = cb_error_set(err, res, "out of memory in the LP"); break; }
      if (res == 1) { act0[b][c] = 0; (*dropped)++; }
    }
  }
out:
  cb_free(ylo); cb_free(I);
  return rc;
}

/* The BaB loop over the stack; returns a status, the answer goes to S->r. */
static int bab(search *S, item **stack, size_t *top, size_t cap, cb_ws **ws, int nt, double **scratch)
{
  int cur;
  vfy_result *r = S->r;
  size_t nb = (size_t)nt * BATCH_PER_THREAD, leaves = 0;
  work *W = cb_calloc(nb, sizeof *W);
  item **batch = cb_calloc(nb, sizeof *batch);
  char leaf_why[96] = "";
  int rc = CB_OK;
  if (!W || !batch) { rc = CB_ENOMEM; goto out; }
  while (*top && r->answer != VFY_SAT) {
    size_t n = 0;
    if (vfy_now() - S->t0 > S->deadline) { r->answer = VFY_TIMEOUT; snprintf(r->reason, sizeof r->reason, "timeout after %ld subdomains (%zu open)", r->nodes, *top); goto out; }
    if (vfy_cancelled(S)) { r->answer = VFY_TIMEOUT; snprintf(r->reason, sizeof r->reason, "stopped: the other search answered"); goto out; }
    if (S->o->max_nodes && r->nodes >= S->o->max_nodes) { r->answer = VFY_UNKNOWN; snprintf(r->reason, sizeof r->reason, "node limit %ld reached", r->nodes); goto out; }
    if (!S->strong_done && vfy_now() - S->t0 > S->o->strong_after) {   /* not easy: a much longer attack, once */
      S->strong_done = 1;
      for (size_t b = 0; b < S->spec->n_box && r->answer != VFY_SAT; b++)
        if ((rc = vfy_pgd(S, b, vfy_low_dim(S->spec) ? S->o->strong_restarts : 2, 100)) < 0) goto out;
      rc = CB_OK;
      if (r->answer == VFY_SAT) { snprintf(r->reason, sizeof r->reason, "witness from the long attack after %ld subdomains", r->nodes); goto out; }
    }
    cur = nt;
    if (S->o->grow) {
      int g;
      #pragma omp atomic read
      g = *S->o->grow;
      if (!g) cur = 1;
    }
    while (n < (size_t)cur * BATCH_PER_THREAD && *top) batch[n++] = stack[--*top];   /* <= nb */
    #pragma omp parallel for schedule(dynamic, 1) num_threads(cur)
    for (size_t k = 0; k < n; k++) {
      int t = omp_get_thread_num();
      memset(&W[k].err, 0, sizeof W[k].err);
      vfy_process(S, ws[t], batch[k], &W[k], scratch[t]);
    }
    for (size_t k = 0; k < n; k++) {
      item *it = batch[k];
      r->nodes++;
      r->relu_states += W[k].states;
      if (W[k].o == O_CLOSED || W[k].o == O_SAT) S->rs_useful += W[k].states; else S->rs_wasted += W[k].states;
      if (it->depth > r->depth) r->depth = it->depth;
      if (W[k].o == O_SAT && r->answer != VFY_SAT) {
        double *y = cb_alloc(S->spec->ny * sizeof *y);
        size_t c = 0;
        if (y && vfy_check_witness(S->net, S->spec, it->box, W[k].x, y, &c, &S->r->fp_only)) {
          if (vfy_set_sat(S, it->box, W[k].x, y, c)) rc = CB_ENOMEM;
          else snprintf(r->reason, sizeof r->reason, "witness at a subdomain centre (depth %d)", it->depth);
        }
        cb_free(y);
      } else if (W[k].o == O_ERROR) {
        if (rc == CB_OK) { rc = W[k].err.status ? W[k].err.status : CB_EINTERNAL; snprintf(r->reason, sizeof r->reason, "%s", W[k].err.msg); }
      } else if (W[k].o == O_LEAF) {
        leaves++;
        snprintf(leaf_why, sizeof leaf_why, "%s", W[k].why);
      } else if (W[k].o == O_SPLIT) {
        item *a = item_new(S, it->box, it->depth + 1), *b = item_new(S, it->box, it->depth + 1);
        size_t nx = S->spec->nx, d = (size_t)W[k].dim;
        if (!a || !b || *top + 2 > cap) {
          cb_free(a); cb_free(b);
          if (rc == CB_OK) rc = *top + 2 > cap ? 1 : CB_ENOMEM;
        } else {
          double mid = it->lo[d] + 0.5 * (it->hi[d] - it->lo[d]);
          memcpy(a->lo, it->lo, 2 * nx * sizeof(double) + S->spec->box[it->box].n_conj);
          memcpy(b->lo, it->lo, 2 * nx * sizeof(double) + S->spec->box[it->box].n_conj);
          a->hi[d] = mid;
          b->lo[d] = mid;
          a->relu_fail = b->relu_fail = W[k].relu_fail;
          if (W[k].prior) {
            memcpy(a->plo, W[k].prior, 2 * S->nb * sizeof(double));
            memcpy(b->plo, W[k].prior, 2 * S->nb * sizeof(double));
            a->has_prior = b->has_prior = 1;
          }
          stack[(*top)++] = W[k].upper_first ? a : b;   /* the top is searched first */
          stack[(*top)++] = W[k].upper_first ? b : a;
        }
      }
      cb_free(W[k].x);
      cb_free(W[k].prior);
      W[k].x = NULL;
      W[k].prior = NULL;
      cb_free(it);
    }
    if (rc != CB_OK && r->answer != VFY_SAT) {
      if (rc == 1) { r->answer = VFY_UNKNOWN; snprintf(r->reason, sizeof r->reason, "memory limit: %zu subdomains queued", *top); rc = CB_OK; }
      else r->answer = VFY_ERROR;
      goto out;
    }
  }
  if (r->answer == VFY_SAT) goto out;
  if (leaves) { r->answer = VFY_UNKNOWN; snprintf(r->reason, sizeof r->reason, "%zu subdomains not decided (%s)", leaves, leaf_why); }
  else { r->answer = VFY_UNSAT; snprintf(r->reason, sizeof r->reason, "all %ld subdomains refuted", r->nodes); }
out:
  cb_free(W); cb_free(batch);
  return rc < 0 ? rc : CB_OK;
}

/* An open answer whose search met points that hold only in double says so. */
static void note_fp_only(vfy_result *r)
{
  char head[160];
  size_t n;
  if (!r->fp_only || (r->answer != VFY_UNKNOWN && r->answer != VFY_TIMEOUT) || strstr(r->reason, "floating point")) return;
  n = (size_t)snprintf(head, sizeof head, "witness holds only in floating point (%ld candidate%s meet the property in "
                       "the double forward pass, none in real arithmetic); ", r->fp_only, r->fp_only == 1 ? "" : "s");
  if (n >= sizeof head) n = sizeof head - 1;
  memmove(r->reason + n, r->reason, sizeof r->reason - n);
  memcpy(r->reason, head, n);
  r->reason[sizeof r->reason - 1] = 0;
}

static int vfy_run_one(const cb_net *net, const vnn_spec *spec, const vfy_opts *o, vfy_result *r, cb_error *err)
{
  search S = {net, spec, o, o->bound ? o->bound : default_bound, NULL, NULL, NULL, vfy_now(), r, 0, 0, 0, 0, 0, 0, 0, 0};
  int relu;
  S.aspect = o->aspect > 1 ? o->aspect : 1;
  S.fwd = !o->bound && o->fwd;
  S.prior = !o->bound && !S.fwd && o->method != CB_IBP;
  for (int i = 0; i < net->n; i++) S.nb += net->node[i].size;
  if (S.fwd && !fwdlin_supported(net)) return cb_error_set(err, CB_EUNSUP, "--method fwd needs a dense network with exact parameters (no conv, concat, transpose or maxpool)");
  if (S.fwd && !vfy_low_dim(spec)) return cb_error_set(err, CB_EUNSUP, "--method fwd is for inputs of at most %d values", VFY_LOW_DIM);
  cb_bnet bn = {0};
  cb_ws **ws = NULL;
  double **scratch = NULL;
  item **stack = NULL;
  unsigned char **act0 = NULL;
  size_t top = 0, cap, dropped = 0, nx = spec->nx, ny = spec->ny;
  int nt = o->threads > 0 ? o->threads : omp_get_max_threads(), rc;
  cb_set root = {CB_NORM_BOX, 0, nx, NULL, NULL, NULL};
  memset(r, 0, sizeof *r);
  r->answer = VFY_ERROR;
  if ((rc = vnn_check_sizes(spec, cb_net_input_size(net), cb_net_output_size(net), err)) != CB_OK) return rc;
  if (nt > 1) la_set_threads(1);
  cap = (size_t)(o->max_memory_mb * 1048576.0 / (double)item_bytes(&S));
  if (cap < 16) cap = 16;
  if (cap > ((size_t)1 << 26)) cap = (size_t)1 << 26;
  if ((rc = setup_rows(&S)) != CB_OK || (rc = bnet_init(&bn, net, err)) != CB_OK) goto oom;
  ws = cb_calloc((size_t)nt, sizeof *ws);
  scratch = cb_calloc((size_t)nt, sizeof *scratch);
  act0 = cb_calloc(spec->n_box + 1, sizeof *act0);
  if (!ws || !scratch || !act0) goto oom;
  root.lo = spec->n_box ? spec->box[0].lo : NULL;
  root.hi = spec->n_box ? spec->box[0].hi : NULL;
  for (int t = 0; t < nt; t++) {
    size_t qmax = 0;
    for (size_t b = 0; b < spec->n_box; b++) if (S.q[b] > qmax) qmax = S.q[b];
    if (spec->n_box && !(ws[t] = ws_new(&bn, &root, err))) { rc = err->status; goto out; }
    if (!(scratch[t] = cb_alloc((qmax + 1 + 3 * nx + ny + 1) * sizeof(double)))) goto oom;
  }
  for (size_t b = 0; b < spec->n_box; b++) {
    if (!(act0[b] = cb_alloc(spec->box[b].n_conj + 1))) goto oom;
    memset(act0[b], 1, spec->box[b].n_conj + 1);
  }
  /* a conjunction without rows: any point of the inner box is a witness */
  for (size_t b = 0; b < spec->n_box && r->answer != VFY_SAT; b++)
    for (size_t c = 0; c < spec->box[b].n_conj; c++)
      if (!spec->box[b].conj[c].m) { if ((rc = vfy_local_search(&S, b)) < 0) goto oom; break; }
  if (r->answer != VFY_SAT && spec->n_box && (rc = drop_contradictions(&S, ws[0], act0, &dropped, err)) != CB_OK) goto out;
  for (size_t b = 0; b < spec->n_box && r->answer != VFY_SAT; b++)
    if ((rc = vfy_local_search(&S, b)) < 0 || (r->answer != VFY_SAT && (rc = vfy_pgd(&S, b, o->attack_restarts, 40)) < 0)) goto oom;
  if (r->answer == VFY_SAT) { snprintf(r->reason, sizeof r->reason, "witness from the local search"); goto done; }
  if (!(stack = cb_alloc(cap * sizeof *stack))) goto oom;
  /* Input splitting alone: two phases, branching with the wide aspect guard
     (o->aspect2) for a quarter of the time, then from scratch with the narrow
     one (o->aspect).  Neither dominates on ACAS Xu: prop 2 on 1_1 takes 1,227
     subdomains with aspect 64 and does not finish in 116 s with 16; prop 3 on
     1_1 the reverse.  With ReLU splitting, the wide guard throughout: with 16,
     4_2 prop 2 does not finish in 116 s (29 s with 64), 3_3 prop 2 takes 88 s
     (25 s), 1_1 prop 3 is the same. */
  relu = o->relu_leaf > 0 && S.prior && vfy_net_has_relu(net) && o->aspect2 > 1 && vfy_low_dim(spec);
  for (int phase = relu || (o->aspect2 > 1 && vfy_low_dim(spec)) ? 0 : 1; phase < 2; phase++) {
    while (top) cb_free(stack[--top]);
    for (size_t b = 0; b < spec->n_box; b++) {
      item *it = item_new(&S, b, 0);
      if (!it) goto oom;
      memcpy(it->lo, spec->box[b].lo, nx * sizeof(double));
      memcpy(it->hi, spec->box[b].hi, nx * sizeof(double));
      memcpy(it->act, act0[b], spec->box[b].n_conj);
      stack[top++] = it;
    }
    S.aspect = phase ? (o->aspect > 1 ? o->aspect : 1) : o->aspect2;
    S.deadline = phase || relu ? o->timeout : 0.25 * o->timeout;
    r->answer = VFY_ERROR;
    if ((rc = bab(&S, stack, &top, cap, ws, nt, scratch)) < 0) { cb_error_set(err, rc, "%s", r->reason[0] ? r->reason : "out of memory in the search"); goto out; }
    if (r->answer != VFY_TIMEOUT || relu) break;
  }
  if (r->answer == VFY_UNSAT && dropped)
    snprintf(r->reason + strlen(r->reason), sizeof r->reason - strlen(r->reason), "; %zu output conjunction(s) contradictory", dropped);
  if (r->answer == VFY_UNSAT && !spec->n_box) snprintf(r->reason, sizeof r->reason, "no disjunct of the property can hold");
  note_fp_only(r);
done:
  rc = CB_OK;
  note_fp_only(r);
  goto out;
oom:
  rc = cb_error_set(err, CB_ENOMEM, "out of memory in the search");
out:
  while (stack && top) cb_free(stack[--top]);
  cb_free(stack);
  for (int t = 0; ws && t < nt; t++) { ws_free(ws[t]); if (scratch) cb_free(scratch[t]); }
  for (size_t b = 0; act0 && b < spec->n_box; b++) cb_free(act0[b]);
  cb_free(ws); cb_free(scratch); cb_free(act0);
  bnet_free(&bn);
  free_rows(&S);
  r->seconds = vfy_now() - S.t0;
  if (rc != CB_OK) r->answer = VFY_ERROR;
  return rc;
}

/* Low-dimensional inputs with two threads or more: a portfolio of two
   searches, input splitting alone and input + ReLU splitting, one core
   each; the first decisive answer stops the other, and each answer stands on
   its own proof or witness.  Input splitting alone gets a twentieth of the
   timeout (at least 5 s), with the wide aspect guard; after that the ReLU
   search takes every thread.  On ACAS Xu input splitting alone answered
   no instance after 5 s, but it answers some sat ones the ReLU search
   misses (1_9 prop 7: 0.8 s, a timeout for the ReLU search alone), while
   the ReLU search on both cores takes 3_3 / 4_2 prop 2 from 26 / 32 s to
   16 / 19 s. */
int vfy_run(const cb_net *net, const vnn_spec *spec, const vfy_opts *o, vfy_result *r, cb_error *err)
{
  int nt = o->threads > 0 ? o->threads : omp_get_max_threads(), stop = 0, grow = 0, rc[2] = {CB_OK, CB_OK}, win = -1;
  int levels = omp_get_max_active_levels();
  vfy_opts po[2];
  vfy_result pr[2];
  cb_error pe[2];
  if (nt < 2 || !o->portfolio || o->relu_leaf <= 0 || o->bound || o->fwd || o->cancel ||
      vnn_check_sizes(spec, cb_net_input_size(net), cb_net_output_size(net), err) != CB_OK ||
      !vfy_low_dim(spec))
    return err->status ? err->status : vfy_run_one(net, spec, o, r, err);
  for (int k = 0; k < 2; k++) {
    po[k] = *o;
    po[k].threads = 1;
    po[k].max_memory_mb = o->max_memory_mb / 2;
    po[k].cancel = &stop;
    memset(&pe[k], 0, sizeof pe[k]);
  }
  po[0].relu_leaf = 0;
  po[0].timeout = fmin(o->timeout, fmax(5, 0.05 * o->timeout));
  po[0].aspect = o->aspect2 > 1 ? o->aspect2 : o->aspect;
  po[0].aspect2 = 0;
  po[1].lp_side_first = 0;   /* two orders too: 1_6 prop 2 needs the LP side first, 1_9 prop 7 not */
  po[1].threads = nt;
  po[1].grow = &grow;
  la_set_threads(1);
  omp_set_max_active_levels(2);   /* the ReLU search's own team inside the portfolio's */
  #pragma omp parallel for num_threads(2) schedule(static, 1)
  for (int k = 0; k < 2; k++) {
    rc[k] = vfy_run_one(net, spec, &po[k], &pr[k], &pe[k]);
    if (k == 0) {
      #pragma omp atomic write
      grow = 1;
    }
    if (rc[k] == CB_OK && (pr[k].answer == VFY_SAT || pr[k].answer == VFY_UNSAT)) {
      #pragma omp critical(vfy_portfolio)
      if (win < 0) {
        win = k;
        #pragma omp atomic write
        stop = 1;
      }
    }
  }
  omp_set_max_active_levels(levels);
  if (win < 0) win = rc[1] == CB_OK ? 1 : 0;   /* neither decided: the ReLU search's account */
  *r = pr[win];
  vfy_result_free(&pr[1 - win]);
  if (rc[win] != CB_OK) { *err = pe[win]; return rc[win]; }
  r->nodes += pr[1 - win].nodes;
  r->relu_states += pr[1 - win].relu_states;
  r->fp_only += pr[1 - win].fp_only;
  note_fp_only(r);
  snprintf(r->reason + strlen(r->reason), sizeof r->reason - strlen(r->reason), " [%s]",
           win ? "input + ReLU splitting" : "input splitting");
  return CB_OK;
}
