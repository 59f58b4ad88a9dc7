/*
** Branch and bound with input and ReLU splitting for VNNLIB properties
** (verify.h): the search loop.
**
** A subdomain (item) is a sub-box of one input box of the spec, with the
** set of its output conjunctions not yet refuted there, and (default bound)
** the node boxes of its parent, valid on it too.  vfy_process (vfy_input.c)
** bounds one: it refutes conjunctions (refutation is inherited by
** sub-boxes), tries candidates, hands a box with few ReLUs of unknown sign
** to ReLU splitting (vfy_relu.c), or says which dimension to halve.
** Subdomains are kept on a stack (depth first: finds witnesses early,
** memory stays small); a batch from its top is bounded in parallel (OpenMP,
** one workspace per thread), and the results are applied in stack order.
**
** Before the search: a conjunction with no rows is met by any point; a
** conjunction that no output can meet (Farkas certificate from GLPK, checked
** in double over the root output bounds) is dropped with that reason; a short
** local search and PGD (vfy_attack.c) look for an easy witness.  A long PGD
** runs once when the search passes strong_after seconds.  Input splitting
** alone runs in two phases (search_phases); with two threads, a portfolio
** races it against input + ReLU splitting (vfy_run).  Which of these run
** depends on the input's dimension (vfy_int.h, vfy_low_dim).
**
** A distributed run (vfy_mpi.c) shares the stack through vfy_opts.share,
** called before each batch: one phase, no portfolio.
**
** Files (vfy_int.h): this one; vfy_input.c, one subdomain and the
** input-splitting rule; vfy_relu.c, ReLU splitting and its rule;
** vfy_beta.c, beta-CROWN branch and bound over ReLU splits (high dimension);
** vfy_attack.c, the witness search; vfy_common.c, the exact witness check
** and the blocks every refutation goes through.
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
  o->relu_leaf = 150;   /* ACAS Xu, portfolio: 45 -> 118.2 s, 100 -> 99.0 s, 150 -> 98.9 s in total; with
                           cheaper ReLU-search states (bab3) 100 -> 150: 1.13x CPU on every 4th, 1.31x on the 8 heaviest */
  o->relu_states = 10000;
  o->relu_lp = 1;
  o->milp_leaf = VFY_MILP_LEAF;
  o->milp_nodes = 2000;
  o->portfolio = 1;
  o->lp_side_first = 1;
  o->beta_bab = 1;
  o->beta_iters = 10;
  o->beta_fsb = 8;
}

void vfy_result_free(vfy_result *r)
{
  if (!r) return;
  cb_free(r->x);
  cb_free(r->y);
  cb_free(r->x_text);
  r->x = r->y = NULL;
  r->x_text = r->y_text = NULL;
}

/* vfy_opts.bound's default: intermediate bounds by `m`, then the rows' lower
   bounds (unused when the search keeps priors: prior_bound, vfy_input.c). */
static int default_bound(void *ctx, cb_ws *ws, cb_method m, const double *C, size_t q, double *lb, cb_error *err)
{
  int rc;
  (void)ctx;
  if ((rc = bounds_run(ws, m, err)) != CB_OK) return rc;
  return bounds_spec(ws, C, q, lb, NULL, err);
}

/* A subdomain of box `box` in one allocation: node boxes (when the search
   keeps priors), lo, hi, live conjunctions; none of them filled. */
item *vfy_item_new(const search *S, size_t box, int depth)
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

/* An item's size, for the stack's cap from max_memory_mb. */
static size_t item_bytes(const search *S) { return sizeof(item) + (2 * S->spec->nx + (S->prior ? 2 * S->nb : 0)) * sizeof(double) + 64; }

/* ---- the rows and the root ---- */

/* Per box: every conjunction's rows stacked into one matrix C (q rows,
   conjunction c from row0[c]), bounded together by one CROWN pass. */
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
  for (size_t b = 0; b < S->spec->n_box; b++) { if (S->C) cb_free(S->C[b]); if (S->row0) cb_free(S->row0[b]); }
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

/* ---- the loop ---- */

/* Checked before each batch: the phase's deadline, the other search's
   answer, the node cap.  1 (answer and reason set) or 0. */
static int bab_stop(search *S, size_t open)
{
  vfy_result *r = S->r;
  if (vfy_now() - S->t0 > S->deadline) { r->answer = V_TIMEOUT; snprintf(r->reason, sizeof r->reason, "timeout after %ld subdomains (%zu open)", r->nodes, open); return 1; }
  if (vfy_cancelled(S)) { r->answer = V_TIMEOUT; snprintf(r->reason, sizeof r->reason, "stopped: the other search answered"); return 1; }
  if (S->o->max_nodes && r->nodes >= S->o->max_nodes) { r->answer = V_UNKNOWN; snprintf(r->reason, sizeof r->reason, "node limit %ld reached", r->nodes); return 1; }
  return 0;
}

/* Once, when the search passes strong_after seconds (the property is not
   easy): a much longer PGD on every box.  A negative status, 1 (SAT, reason
   set) or 0. */
static int strong_attack(search *S)
{
  vfy_result *r = S->r;
  int rc;
  double t0 = vfy_now();
  if (S->strong_done || !(vfy_now() - S->t0 > S->o->strong_after)) return 0;
  S->strong_done = 1;
  for (size_t b = 0; b < S->spec->n_box && r->answer != V_FALSIFIED; b++)
    if ((rc = vfy_pgd(S, b, vfy_low_dim(S->spec) ? S->o->strong_restarts : 2, 100)) < 0) return rc;
  r->prof.attack_s += vfy_now() - t0;
  if (r->answer != V_FALSIFIED) return 0;
  snprintf(r->reason, sizeof r->reason, "witness from the long attack after %ld subdomains", r->nodes);
  return 1;
}

/* Threads for the next batch: all nt, or 1 while the portfolio's input
   splitting alone still runs (vfy_opts.grow). */
static int batch_threads(const search *S, int nt)
{
  int g;
  if (!S->o->grow) return nt;
  #pragma omp atomic read
  g = *S->o->grow;
  return g ? nt : 1;
}

/* Pushes the two halves of `it` along w->dim (they share the midpoint), with
   w's node boxes as their prior; the half searched first goes on top.
   CB_OK, 1 (the stack is full) or CB_ENOMEM. */
static int push_children(const search *S, const item *it, const work *w, istack *st)
{
  item *a = vfy_item_new(S, it->box, it->depth + 1), *b = vfy_item_new(S, it->box, it->depth + 1);
  size_t nx = S->spec->nx, d = (size_t)w->dim;
  double mid = it->lo[d] + 0.5 * (it->hi[d] - it->lo[d]);
  if (!a || !b || st->top + 2 > st->cap) {
    cb_free(a); cb_free(b);
    return st->top + 2 > st->cap ? 1 : CB_ENOMEM;
  }
  memcpy(a->lo, it->lo, 2 * nx * sizeof(double) + S->spec->box[it->box].n_conj);
  memcpy(b->lo, it->lo, 2 * nx * sizeof(double) + S->spec->box[it->box].n_conj);
  a->hi[d] = mid;
  b->lo[d] = mid;
  a->relu_fail = b->relu_fail = w->relu_fail;
  if (w->prior) {
    memcpy(a->plo, w->prior, 2 * S->nb * sizeof(double));
    memcpy(b->plo, w->prior, 2 * S->nb * sizeof(double));
    a->has_prior = b->has_prior = 1;
  }
  st->it[st->top++] = w->upper_first ? a : b;
  st->it[st->top++] = w->upper_first ? b : a;
  return CB_OK;
}

/* Does box B's real box hold no double (an input between two doubles)? */
static int no_double(const vnn_box *B, size_t nx)
{
  for (size_t i = 0; i < nx; i++) if (!(B->lo_in[i] <= B->hi_in[i])) return 1;
  return 0;
}

/* No double in the spec's box: the candidate at the exact decimals in the
   subdomain `it`, checked in real arithmetic (vfy_check_witness_dec); 1 and
   S->r set to SAT when it holds.  *rc: CB_ENOMEM when the answer cannot be
   stored. */
static int exact_witness(search *S, const item *it, int *rc)
{
  cb_exact *E = NULL;
  size_t c = 0;
  if (!vfy_check_witness_dec(S->net, S->spec, it->box, it->lo, it->hi, &c, &E)) return 0;
  if (vfy_set_sat_dec(S, it->box, E, c) != CB_OK) { *rc = CB_ENOMEM; exact_free(E); return 0; }
  exact_free(E);
  return 1;
}

/* A subdomain left open (O_LEAF) or on which the property holds in real
   arithmetic (O_REAL), when no answer is in yet: with no double in the
   spec's box, the point at the exact decimals may be a witness
   (exact_witness); else it is an undecided leaf (never unsat), and the
   search goes on while time remains: another subdomain may still give a
   witness. */
static void apply_open(search *S, const item *it, const work *w, size_t *leaves, char *leaf_why, int *rc)
{
  vfy_result *r = S->r;
  if (r->answer == V_FALSIFIED) return;
  if (no_double(&S->spec->box[it->box], S->spec->nx) && exact_witness(S, it, rc)) {
    snprintf(r->reason, sizeof r->reason, "witness at the exact VNNLIB decimals, a rational point no double equals, "
             "checked in real arithmetic (subdomain at depth %d%s)", it->depth,
             w->o == O_REAL ? ", on which sound bounds show the property holds" : ", left open");
    return;
  }
  (*leaves)++;
  if (w->o == O_LEAF) snprintf(leaf_why, 96, "%s", w->why);
  else snprintf(leaf_why, 96, "sat in real arithmetic on one, but its point at the exact decimals fails the check");
}

/* Applies one bounded subdomain's result, in stack order: counts, the SAT
   witness (re-checked), the first error, an open leaf, or its children.
   *rc keeps the first failure (1: the stack is full). */
static void apply_work(search *S, const item *it, const work *w, istack *st, size_t *leaves, char *leaf_why, int *rc)
{
  vfy_result *r = S->r;
  r->nodes++;
  r->relu_states += w->states;
  vfy_prof_add(&r->prof, &w->prof);
  if (w->o == O_CLOSED || w->o == O_SAT) S->rs_useful += w->states; else S->rs_wasted += w->states;
  if (it->depth > r->depth) r->depth = it->depth;
  if (w->o == O_SAT && r->answer != V_FALSIFIED) {
    double *y = cb_alloc(S->spec->ny * sizeof *y);
    size_t c = 0;
    if (y && vfy_check_witness(S->net, S->spec, it->box, w->x, y, &c, &S->r->fp_only)) {
      if (vfy_set_sat(S, it->box, w->x, y, c)) *rc = CB_ENOMEM;
      else snprintf(r->reason, sizeof r->reason, "witness %s (depth %d)", w->why[0] ? w->why : "at a subdomain centre", it->depth);
    }
    cb_free(y);
  } else if (w->o == O_ERROR) {
    if (*rc == CB_OK) { *rc = w->err.status ? w->err.status : CB_EINTERNAL; snprintf(r->reason, sizeof r->reason, "%s", w->err.msg); }
  } else if (w->o == O_REAL || w->o == O_LEAF) {
    apply_open(S, it, w, leaves, leaf_why, rc);
  } else if (w->o == O_SPLIT) {
    int pc = push_children(S, it, w, st);
    if (pc != CB_OK && *rc == CB_OK) *rc = pc;
  }
}

/* Bounds the n subdomains of a batch in parallel on `cur` threads (one
   workspace and scratch each); W[k] receives item k's result. */
static void bound_batch(const search *S, item **batch, work *W, size_t n, int cur, cb_ws **ws, double **scratch)
{
  (void)cur;   /* read only by the pragma (unused in a build without OpenMP) */
  #pragma omp parallel for schedule(dynamic, 1) num_threads(cur)
  for (size_t k = 0; k < n; k++) {
    int t = omp_get_thread_num();
    memset(&W[k].err, 0, sizeof W[k].err);
    vfy_process(S, ws[t], batch[k], &W[k], scratch[t]);
  }
}

/* The BaB loop over the stack: batches from its top are bounded in
   parallel, their results applied in order.  Returns a status; the answer
   goes to S->r. */
static int bab(search *S, istack *st, cb_ws **ws, int nt, double **scratch)
{
  vfy_result *r = S->r;
  size_t nb = (size_t)nt * BATCH_PER_THREAD, leaves = 0;
  work *W = cb_calloc(nb, sizeof *W);
  item **batch = cb_calloc(nb, sizeof *batch);
  char leaf_why[96] = "";
  int rc = CB_OK;
  if (!W || !batch) { rc = CB_ENOMEM; goto out; }
  while (r->answer != V_FALSIFIED && r->answer != V_UNKNOWN) {
    size_t n = 0;
    int cur, sh;
    if (S->o->share && (sh = S->o->share(S->o->share_ctx, S, st, &leaves, leaf_why)) != VFY_SHARE_GO) {
      if (sh < 0) { rc = sh; r->answer = V_ERROR; goto out; }
      if (sh == VFY_SHARE_STOP) goto out;
      break;   /* VFY_SHARE_DONE: closed everywhere */
    }
    if (!st->top) break;
    if (bab_stop(S, st->top)) goto out;
    if ((rc = strong_attack(S)) != 0) { if (rc > 0) rc = CB_OK; goto out; }
    cur = batch_threads(S, nt);
    /* shared (vfy_mpi.c): one subdomain a thread per batch, so that what is
       not being bounded stays on the stack for an idle process to take */
    while (n < (size_t)cur * (S->o->share ? 1 : BATCH_PER_THREAD) && st->top) batch[n++] = st->it[--st->top];   /* <= nb */
    r->prof.batches++;
    r->prof.batch_items += (long)n;
    if ((long)n > r->prof.batch_max) r->prof.batch_max = (long)n;
    bound_batch(S, batch, W, n, cur, ws, scratch);
    for (size_t k = 0; k < n; k++) {
      apply_work(S, batch[k], &W[k], st, &leaves, leaf_why, &rc);
      cb_free(W[k].x);
      cb_free(W[k].prior);
      W[k].x = NULL;
      W[k].prior = NULL;
      cb_free(batch[k]);
    }
    if (rc != CB_OK && r->answer != V_FALSIFIED) {
      if (rc == 1) { r->answer = V_UNKNOWN; snprintf(r->reason, sizeof r->reason, "memory limit: %zu subdomains queued", st->top); rc = CB_OK; }
      else r->answer = V_ERROR;
      goto out;
    }
  }
  if (r->answer == V_FALSIFIED || r->answer == V_UNKNOWN) goto out;
  if (leaves) { r->answer = V_UNKNOWN; snprintf(r->reason, sizeof r->reason, "%zu subdomains not decided (%s)", leaves, leaf_why); }
  else { r->answer = V_VERIFIED; snprintf(r->reason, sizeof r->reason, "all %ld subdomains refuted", r->nodes); }
out:
  cb_free(W); cb_free(batch);
  return rc < 0 ? rc : CB_OK;
}

/* An open answer whose search met points that hold only in double says so. */
static void note_fp_only(vfy_result *r)
{
  char head[160];
  size_t n;
  if (!r->fp_only || (r->answer != V_UNKNOWN && r->answer != V_TIMEOUT) || strstr(r->reason, "floating point")) return;
  n = (size_t)snprintf(head, sizeof head, "witness holds only in floating point (%ld candidate%s meet the property in "
                       "the double forward pass, none in real arithmetic); ", r->fp_only, r->fp_only == 1 ? "" : "s");
  if (n >= sizeof head) n = sizeof head - 1;
  memmove(r->reason + n, r->reason, sizeof r->reason - n);
  memcpy(r->reason, head, n);
  r->reason[sizeof r->reason - 1] = 0;
}

/* ---- one search ---- */

typedef struct run {      /* one search and what it owns (vfy_run_one) */
  search S;
  cb_bnet bn;
  cb_ws **ws;             /* per thread */
  double **scratch;       /* per thread: vfy_process's */
  int nt;
  istack st;
  unsigned char **act0;   /* per box: its conjunctions live at the root */
  size_t dropped;         /* conjunctions no output can meet */
} run;

/* The search's row tables, workspaces, scratch and root conjunctions.  A
   status; err is set, except for a bare CB_ENOMEM. */
static int run_alloc(run *R, cb_error *err)
{
  search *S = &R->S;
  const vnn_spec *spec = S->spec;
  size_t qmax = 0, nx = spec->nx, ny = spec->ny;
  cb_set root = {CB_NORM_BOX, 0, nx, NULL, NULL, NULL};
  int rc;
  if ((rc = setup_rows(S)) != CB_OK || (rc = bnet_init(&R->bn, S->net, err)) != CB_OK) return CB_ENOMEM;
  R->ws = cb_calloc((size_t)R->nt, sizeof *R->ws);
  R->scratch = cb_calloc((size_t)R->nt, sizeof *R->scratch);
  R->act0 = cb_calloc(spec->n_box + 1, sizeof *R->act0);
  if (!R->ws || !R->scratch || !R->act0) return CB_ENOMEM;
  root.lo = spec->n_box ? spec->box[0].lo : NULL;
  root.hi = spec->n_box ? spec->box[0].hi : NULL;
  for (size_t b = 0; b < spec->n_box; b++) if (S->q[b] > qmax) qmax = S->q[b];
  for (int t = 0; t < R->nt; t++) {
    if (spec->n_box && !(R->ws[t] = ws_new(&R->bn, &root, err))) return err->status ? err->status : CB_EINTERNAL;
    if (!(R->scratch[t] = cb_alloc((qmax + 1 + 3 * nx + ny + 1) * sizeof(double)))) return CB_ENOMEM;
  }
  for (size_t b = 0; b < spec->n_box; b++) {
    if (!(R->act0[b] = cb_alloc(spec->box[b].n_conj + 1))) return CB_ENOMEM;
    memset(R->act0[b], 1, spec->box[b].n_conj + 1);
  }
  return CB_OK;
}

static void run_free(run *R)
{
  while (R->st.it && R->st.top) cb_free(R->st.it[--R->st.top]);
  cb_free(R->st.it);
  for (int t = 0; R->ws && t < R->nt; t++) { ws_free(R->ws[t]); if (R->scratch) cb_free(R->scratch[t]); }
  for (size_t b = 0; R->act0 && b < R->S.spec->n_box; b++) cb_free(R->act0[b]);
  cb_free(R->ws); cb_free(R->scratch); cb_free(R->act0);
  bnet_free(&R->bn);
  free_rows(&R->S);
}

/* Before the search: a box with a conjunction without rows (any point of its
   inner box is a witness) gets the local search; conjunctions no output can
   meet are dropped; then the local search and a short PGD on every box.
   A status (SAT goes to r). */
static int before_search(run *R, cb_error *err)
{
  search *S = &R->S;
  const vnn_spec *spec = S->spec;
  vfy_result *r = S->r;
  int rc;
  for (size_t b = 0; b < spec->n_box && r->answer != V_FALSIFIED; b++)
    for (size_t c = 0; c < spec->box[b].n_conj; c++)
      if (!spec->box[b].conj[c].m) { if ((rc = vfy_local_search(S, b)) < 0) return CB_ENOMEM; break; }
  if (r->answer != V_FALSIFIED && spec->n_box && (rc = drop_contradictions(S, R->ws[0], R->act0, &R->dropped, err)) != CB_OK) return rc;
  double t0 = vfy_now();
  for (size_t b = 0; b < spec->n_box && r->answer != V_FALSIFIED; b++)
    if (vfy_local_search(S, b) < 0 || (r->answer != V_FALSIFIED && vfy_pgd(S, b, S->o->attack_restarts, 40) < 0)) return CB_ENOMEM;
  r->prof.attack_s += vfy_now() - t0;
  return CB_OK;
}

/* Empties the stack and pushes every box of the spec, whole. */
static int push_roots(run *R)
{
  const vnn_spec *spec = R->S.spec;
  while (R->st.top) cb_free(R->st.it[--R->st.top]);
  for (size_t b = 0; b < spec->n_box; b++) {
    item *it = vfy_item_new(&R->S, b, 0);
    if (!it) return CB_ENOMEM;
    memcpy(it->lo, spec->box[b].lo, spec->nx * sizeof(double));
    memcpy(it->hi, spec->box[b].hi, spec->nx * sizeof(double));
    memcpy(it->act, R->act0[b], spec->box[b].n_conj);
    R->st.it[R->st.top++] = it;
  }
  return CB_OK;
}

/* Input splitting alone: two phases, branching with the wide aspect guard
   (o->aspect2) for a quarter of the time, then from scratch with the narrow
   one (o->aspect).  Neither dominates on ACAS Xu: prop 2 on 1_1 takes 1,227
   subdomains with aspect 64 and does not finish in 116 s with 16; prop 3 on
   1_1 the reverse.  With ReLU splitting, the wide guard throughout: with 16,
   4_2 prop 2 does not finish in 116 s (29 s with 64), 3_3 prop 2 takes 88 s
   (25 s), 1_1 prop 3 is the same.  High dimension: one phase, o->aspect.
   A status; the answer goes to r. */
static int search_phases(run *R, cb_error *err)
{
  search *S = &R->S;
  const vfy_opts *o = S->o;
  vfy_result *r = S->r;
  int relu = o->relu_leaf > 0 && S->prior && vfy_net_has_relu(S->net) && o->aspect2 > 1 && vfy_low_dim(S->spec), rc;
  for (int phase = relu || (o->aspect2 > 1 && vfy_low_dim(S->spec) && !o->share) ? 0 : 1; phase < 2; phase++) {
    if (push_roots(R) != CB_OK) return cb_error_set(err, CB_ENOMEM, "out of memory in the search");
    S->aspect = phase ? (o->aspect > 1 ? o->aspect : 1) : o->aspect2;
    S->deadline = phase || relu ? o->timeout : 0.25 * o->timeout;
    r->answer = V_ERROR;
    if ((rc = bab(S, &R->st, R->ws, R->nt, R->scratch)) < 0) return cb_error_set(err, rc, "%s", r->reason[0] ? r->reason : "out of memory in the search");
    if (r->answer != V_TIMEOUT || relu) break;
  }
  return CB_OK;
}

/* One search (no portfolio), with o->threads threads over subdomains. */
static int vfy_run_one(const cb_net *net, const vnn_spec *spec, const vfy_opts *o, vfy_result *r, cb_error *err)
{
  run R = {.S = {.net = net, .spec = spec, .o = o, .bound = o->bound ? o->bound : default_bound, .t0 = vfy_now(), .r = r}};
  search *S = &R.S;
  int rc;
  S->aspect = o->aspect > 1 ? o->aspect : 1;
  S->fwd = !o->bound && o->fwd;
  S->prior = !o->bound && !S->fwd && o->method != CB_IBP;
  for (int i = 0; i < net->n; i++) S->nb += net->node[i].size;
  if (S->fwd && !fwdlin_supported(net)) return cb_error_set(err, CB_EUNSUP, "--method fwd needs a dense network with exact parameters (no conv, concat, transpose or maxpool)");
  if (S->fwd && !vfy_low_dim(spec)) return cb_error_set(err, CB_EUNSUP, "--method fwd is for inputs of at most %d values", VFY_LOW_DIM);
  R.nt = o->threads > 0 ? o->threads : omp_get_max_threads();
  memset(r, 0, sizeof *r);
  r->answer = V_ERROR;
  if ((rc = vnn_check_sizes(spec, cb_net_input_size(net), cb_net_output_size(net), err)) != CB_OK) return rc;
  R.st.cap = (size_t)(o->max_memory_mb * 1048576.0 / (double)item_bytes(S));
  if (R.st.cap < 16) R.st.cap = 16;
  if (R.st.cap > ((size_t)1 << 26)) R.st.cap = (size_t)1 << 26;
  if ((rc = run_alloc(&R, err)) == CB_OK && (rc = before_search(&R, err)) == CB_OK) {
    if (r->answer == V_FALSIFIED) snprintf(r->reason, sizeof r->reason, "witness from the local search");
    else if (!(R.st.it = cb_alloc(R.st.cap * sizeof *R.st.it))) rc = CB_ENOMEM;
    else if ((rc = search_phases(&R, err)) == CB_OK) {
      if (r->answer == V_VERIFIED && R.dropped)
        snprintf(r->reason + strlen(r->reason), sizeof r->reason - strlen(r->reason), "; %zu output conjunction(s) contradictory", R.dropped);
      if (r->answer == V_VERIFIED && !spec->n_box) snprintf(r->reason, sizeof r->reason, "no disjunct of the property can hold");
    }
    if (rc == CB_OK) note_fp_only(r);
  }
  if (rc == CB_ENOMEM) rc = cb_error_set(err, CB_ENOMEM, "out of memory in the search");   /* keeps a first error */
  run_free(&R);
  r->seconds = vfy_now() - S->t0;
  if (rc != CB_OK) r->answer = V_ERROR;
  return rc;
}

/* ---- the portfolio ---- */

/* The options of the portfolio's two searches: 0, input splitting alone on
   one thread for a twentieth of the timeout (at least 5 s), with the wide
   aspect guard; 1, input + ReLU splitting, on one thread until search 0
   ends (*grow), then on nt.  Each gets half the memory and stops when the
   other answers (*stop). */
static void portfolio_opts(const vfy_opts *o, int nt, int *stop, int *grow, vfy_opts po[2])
{
  for (int k = 0; k < 2; k++) {
    po[k] = *o;
    po[k].threads = 1;
    po[k].max_memory_mb = o->max_memory_mb / 2;
    po[k].cancel = stop;
  }
  po[0].relu_leaf = 0;
  po[0].timeout = fmin(o->timeout, fmax(5, 0.05 * o->timeout));
  po[0].aspect = o->aspect2 > 1 ? o->aspect2 : o->aspect;
  po[0].aspect2 = 0;
  po[1].lp_side_first = 0;   /* two orders too: 1_6 prop 2 needs the LP side first, 1_9 prop 7 not */
  po[1].threads = nt;
  po[1].grow = grow;
}

/* The race: both searches at once, the first decisive answer (SAT or UNSAT)
   wins.  The reason names the winner; counts are the sums of both.  Neither
   decided: the ReLU search's account (or the other's, if it failed). */
static int portfolio(const cb_net *net, const vnn_spec *spec, const vfy_opts *o, int nt, vfy_result *r, cb_error *err)
{
  int stop = 0, grow = 0, rc[2] = {CB_OK, CB_OK}, win = -1, levels = omp_get_max_active_levels();
  vfy_opts po[2];
  vfy_result pr[2];
  cb_error pe[2];
  portfolio_opts(o, nt, &stop, &grow, po);
  memset(pe, 0, sizeof pe);
  omp_set_max_active_levels(2);   /* the ReLU search's own team inside the portfolio's */
  #pragma omp parallel for num_threads(2) schedule(static, 1)
  for (int k = 0; k < 2; k++) {
    rc[k] = vfy_run_one(net, spec, &po[k], &pr[k], &pe[k]);
    if (k == 0) {
      #pragma omp atomic write
      grow = 1;
    }
    if (rc[k] == CB_OK && (pr[k].answer == V_FALSIFIED || pr[k].answer == V_VERIFIED)) {
      #pragma omp critical(vfy_portfolio)
      if (win < 0) {
        win = k;
        #pragma omp atomic write
        stop = 1;
      }
    }
  }
  omp_set_max_active_levels(levels);
  if (win < 0) win = rc[1] == CB_OK ? 1 : 0;
  *r = pr[win];
  vfy_result_free(&pr[1 - win]);
  if (rc[win] != CB_OK) { *err = pe[win]; return rc[win]; }
  r->nodes += pr[1 - win].nodes;
  r->relu_states += pr[1 - win].relu_states;
  vfy_prof_add(&r->prof, &pr[1 - win].prof);
  r->fp_only += pr[1 - win].fp_only;
  note_fp_only(r);
  snprintf(r->reason + strlen(r->reason), sizeof r->reason - strlen(r->reason), " [%s]",
           win ? "input + ReLU splitting" : "input splitting");
  return CB_OK;
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
   16 / 19 s.  Otherwise one search. */
static int run_nt(const cb_net *net, const vnn_spec *spec, const vfy_opts *o, int nt, vfy_result *r, cb_error *err)
{
  int rc;
  if (o->cpu_clock && nt == 1) {   /* one thread: its CPU time is the search's */
    vfy_clock_cpu(1);
    rc = vfy_run_one(net, spec, o, r, err);
    vfy_clock_cpu(0);
    return rc;
  }
  if (nt < 2 || !o->portfolio || o->relu_leaf <= 0 || o->bound || o->fwd || o->cancel || o->share ||
      vnn_check_sizes(spec, cb_net_input_size(net), cb_net_output_size(net), err) != CB_OK ||
      !vfy_low_dim(spec))
    return err->status ? err->status : vfy_run_one(net, spec, o, r, err);
  return portfolio(net, spec, o, nt, r, err);
}

/* With several search threads OpenBLAS runs on one (each thread's products
   are small; nested teams oversubscribe the cores).  That setting is the
   process's: la_single_begin/end count the searches that need it and give
   the caller's thread count back when the last one ends, so concurrent
   calls (the library, one handle per thread) cannot leave it changed. */
int vfy_run(const cb_net *net, const vnn_spec *spec, const vfy_opts *o, vfy_result *r, cb_error *err)
{
  int nt = o->threads > 0 ? o->threads : omp_get_max_threads(), rc;
  if (nt > 1) la_single_begin();
  rc = run_nt(net, spec, o, nt, r, err);
  if (nt > 1) la_single_end();
  return rc;
}
