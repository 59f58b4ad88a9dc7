/*
** verify under `mpirun -np P cerbere-mpi verify NET PROP` (vfy_dist.h): the
** open subdomains of the input-splitting branch and bound (verify.c) are
** shared by the ranks.  The only file that calls MPI for verify; compiled
** by mpicc into build/cerbere-mpi alone (the library and build/cerbere
** link vfy_dist.c's one-process vfy_dist_run instead).
**
** Every rank runs the same search (vfy_run, one phase, no portfolio; OpenMP
** threads inside the rank as usual) on its own stack of subdomains, through
** the frontier hook vfy_opts.share, called before each batch:
**   - rank 0 starts with the spec's boxes and coordinates: it hands the
**     bottom half of its stack (the shallowest subdomains: the largest
**     subtrees) to a rank that is idle, and when it has nothing to give it
**     asks a busy rank to give the bottom half of its own (work stealing
**     through the coordinator: at most one request outstanding);
**   - a rank whose stack runs empty says so (T_IDLE, with its count of
**     subdomains left undecided) and waits for work or the end;
**   - a subdomain travels as a compact record: the spec box's index, depth,
**     its sub-box (2 nx doubles), its live conjunctions (a byte each) and the
**     parent's node boxes (2 x the sum of node sizes doubles; they hold on
**     the sub-box too and seed its bounds);
**   - a rank that ends its search on its own (a checked witness, the memory
**     cap, an error, its deadline) sends its answer (T_RESULT); rank 0
**     re-checks a witness exactly (vfy_check_witness) before taking it, and
**     stops every rank (T_STOP);
**   - unsat only when rank 0's stack is empty, every other rank has said it
**     is idle since it last received work, and no steal request is pending:
**     then no subdomain is open anywhere.  A rank that dies leaves rank 0
**     waiting for it, and mpirun ends the job with its message and a
**     non-zero exit: never an answer.
** The timeout is rank 0's: the ranks start together (a barrier) and rank 0
** stops them all when its deadline passes.  After the search every rank
** sends its counts (T_STATS) and rank 0 adds them up.
**
** Sends are non-blocking (MPI_Isend, buffers freed as they complete), so a
** rank answering a steal request never waits for the coordinator.  The
** shared search bounds one subdomain a thread per batch (verify.c), so the
** rest of a rank's stack stays available between its subdomains.  The last
** rank also runs the portfolio's race, in a thread that takes turns with its
** shared search (below: "The race").  Every rank reports its own counts at
** the end (T_STATS; --json mpi.per_rank): on ACAS Xu at -np 2 the ranks'
** subdomains and ReLU-search states add up to single-process's exactly.  Inputs
** of more than VFY_LOW_DIM values go to ReLU splitting at the root (beta-
** CROWN), whose frontier is not shared: rank 0 runs them alone and says so.
**
** Sizes (ACAS Xu): records of 9,944 B (5 inputs, 615 node values), subdomains
** of 0.2-17 ms, 0.001-0.01 messages per subdomain at 2 and 8 ranks
** (bench/RESULTS_distributed.md).
*/
#include <mpi.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdint.h>
#include <unistd.h>
#include "vfy_dist.h"
#include "vfy_int.h"

enum { T_WORK = 1, T_STEAL, T_STOP, T_IDLE, T_GIVE, T_RESULT, T_STATS };

#define GIVE_MAX 64          /* most subdomains in one message */
#define NAP_NS 50000L        /* first sleep between probes while waiting (50 us), doubling to 1 ms */
#define STEAL_BACKOFF 0.002  /* seconds before asking again after an empty reply */
#define STATS_WAIT 2.0       /* seconds rank 0 waits for the counts after the end */

typedef struct peer {        /* rank 0's view of another rank */
  int busy;                  /* has work (or has not yet said it is idle) */
  int done;                  /* its search ended on its own (T_RESULT) */
  long leaves;               /* subdomains it left undecided, as of its last T_IDLE */
  char why[96];
} peer;

typedef struct pend { MPI_Request q; unsigned char *buf; } pend;

typedef struct dist {
  int rank, ranks;
  const cb_net *net;
  const vnn_spec *spec;
  long msgs, bytes, items_sent, steals;
  long race_nodes;           /* subdomains of the race */
  double idle_s;             /* wall seconds waiting for work (the race may run meanwhile) */
  double cpu0;               /* CPU seconds at the start of the search */
  double tcpu0;              /* the main thread's CPU seconds then */
  struct racer *race;        /* the last rank: its race (below), or NULL */
  int race_ended;            /* the race answered (its result replaces the shared search's) */
  int stopped;               /* another rank: rank 0 said stop */
  int first;                 /* another rank: the roots are rank 0's, drop them */
  peer *p;                   /* rank 0: per rank */
  int steal_to;              /* rank 0: the rank a steal request is pending at, or -1 */
  double steal_after;
  int rr;                    /* rank 0: round robin of steal requests */
  unsigned char *buf;        /* receive buffer */
  size_t cap;
  pend *pd;                  /* sends in flight */
  size_t npd, cpd;
} dist;

static int stats_missing;   /* rank 0: ranks whose counts had not arrived when it answered */

static double now(void) { return MPI_Wtime(); }

/* Sleeps *ns nanoseconds, then doubles *ns up to 1 ms: a waiting rank
   answers within 50 us at first and wakes ~1000 times a second after a few
   ms (the ranks may share cores: mpirun --oversubscribe). */
static void nap(long *ns)
{
  struct timespec ts = {0, *ns};
  nanosleep(&ts, NULL);
  if (*ns < 1000000L) *ns *= 2;
}

/* Frees the buffers of the sends that completed. */
static void progress(dist *d)
{
  size_t k = 0;
  for (size_t i = 0; i < d->npd; i++) {
    int done = 0;
    MPI_Test(&d->pd[i].q, &done, MPI_STATUS_IGNORE);
    if (done) cb_free(d->pd[i].buf);
    else d->pd[k++] = d->pd[i];
  }
  d->npd = k;
}

/* Sends n bytes (buf, taken over: freed once sent) to dest with tag. */
static int post(dist *d, int dest, int tag, unsigned char *buf, size_t n)
{
  if (d->npd == d->cpd) {
    size_t c = d->cpd ? 2 * d->cpd : 16;
    pend *q = cb_alloc(c * sizeof *q);
    if (!q) { cb_free(buf); return CB_ENOMEM; }
    if (d->npd) memcpy(q, d->pd, d->npd * sizeof *q);
    cb_free(d->pd);
    d->pd = q;
    d->cpd = c;
  }
  MPI_Isend(buf, (int)n, MPI_BYTE, dest, tag, MPI_COMM_WORLD, &d->pd[d->npd].q);
  d->pd[d->npd++].buf = buf;
  d->msgs++;
  d->bytes += (long)n;
  return CB_OK;
}

static int post_empty(dist *d, int dest, int tag)
{
  unsigned char *b = cb_alloc(1);
  return b ? post(d, dest, tag, b, 0) : CB_ENOMEM;
}

/* A message waiting from src (MPI_ANY_SOURCE: any): its tag (0: none), its
   source and its bytes, received into d->buf. */
static int poll_msg(dist *d, int src, int *from, size_t *n)
{
  MPI_Status st;
  int flag = 0, cnt = 0;
  MPI_Iprobe(src, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
  if (!flag) return 0;
  MPI_Get_count(&st, MPI_BYTE, &cnt);
  if ((size_t)cnt + 8 > d->cap) {
    unsigned char *b = cb_alloc((size_t)cnt + 8);
    if (!b) return -1;
    cb_free(d->buf);
    d->buf = b;
    d->cap = (size_t)cnt + 8;
  }
  MPI_Recv(d->buf, cnt, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  *from = st.MPI_SOURCE;
  *n = (size_t)cnt;
  return st.MPI_TAG;
}

/* ---- subdomain records ---- */

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

/* A record: int32 box, depth, relu_fail, has_prior; lo, hi (nx doubles
   each); the live conjunctions (a byte each, padded to 8); the parent's node
   boxes (2 nb doubles) when has_prior. */
static size_t rec_size(const search *S, const item *it)
{
  return 16 + 16 * S->spec->nx + pad8(S->spec->box[it->box].n_conj) + (it->has_prior ? 16 * S->nb : 0);
}

static unsigned char *put_rec(const search *S, const item *it, unsigned char *p)
{
  int32_t h[4] = {(int32_t)it->box, it->depth, it->relu_fail, it->has_prior};
  size_t nx = S->spec->nx, nc = S->spec->box[it->box].n_conj;
  memcpy(p, h, 16);
  memcpy(p + 16, it->lo, nx * sizeof(double));
  memcpy(p + 16 + 8 * nx, it->hi, nx * sizeof(double));
  memset(p + 16 + 16 * nx, 0, pad8(nc));
  memcpy(p + 16 + 16 * nx, it->act, nc);
  if (it->has_prior) memcpy(p + 16 + 16 * nx + pad8(nc), it->plo, 2 * S->nb * sizeof(double));
  return p + rec_size(S, it);
}

/* The k subdomains at the bottom of the stack (the shallowest), packed
   (int32 count, then records) into *buf (caller frees), taken off the
   stack and freed.  Returns the bytes, 0 on out of memory. */
static size_t take_bottom(const search *S, istack *st, size_t k, unsigned char **buf)
{
  size_t n = 8;
  unsigned char *p;
  int32_t cnt = (int32_t)k;
  for (size_t i = 0; i < k; i++) n += rec_size(S, st->it[i]);
  if (!(*buf = cb_alloc(n))) return 0;
  memset(*buf, 0, 8);
  memcpy(*buf, &cnt, 4);
  p = *buf + 8;
  for (size_t i = 0; i < k; i++) { p = put_rec(S, st->it[i], p); cb_free(st->it[i]); }
  memmove(st->it, st->it + k, (st->top - k) * sizeof *st->it);
  st->top -= k;
  return n;
}

/* Pushes the records of a T_WORK / T_GIVE message onto the stack.  A status,
   or 1 when the stack's cap is reached (the answer becomes unknown: a
   subdomain is never dropped). */
static int push_recs(const search *S, istack *st, const unsigned char *b, size_t n, long *got)
{
  int32_t cnt;
  const unsigned char *p = b + 8, *end = b + n;
  if (n < 8) return CB_EINTERNAL;
  memcpy(&cnt, b, 4);
  for (int32_t i = 0; i < cnt; i++) {
    int32_t h[4];
    item *it;
    size_t nx = S->spec->nx, nc;
    if (p + 16 > end) return CB_EINTERNAL;
    memcpy(h, p, 16);
    if (h[0] < 0 || (size_t)h[0] >= S->spec->n_box || (h[3] && !S->prior)) return CB_EINTERNAL;
    nc = S->spec->box[h[0]].n_conj;
    if (st->top >= st->cap) return 1;
    if (!(it = vfy_item_new(S, (size_t)h[0], h[1]))) return CB_ENOMEM;
    it->relu_fail = h[2];
    it->has_prior = h[3];
    if (p + rec_size(S, it) > end) { cb_free(it); return CB_EINTERNAL; }
    memcpy(it->lo, p + 16, nx * sizeof(double));
    memcpy(it->hi, p + 16 + 8 * nx, nx * sizeof(double));
    memcpy(it->act, p + 16 + 16 * nx, nc);
    if (h[3]) memcpy(it->plo, p + 16 + 16 * nx + pad8(nc), 2 * S->nb * sizeof(double));
    p += rec_size(S, it);
    st->it[st->top++] = it;
    (*got)++;
  }
  return CB_OK;
}

/* Sends the bottom k subdomains of the stack to dest with tag (k may be 0). */
static int give(dist *d, const search *S, istack *st, int dest, int tag, size_t k)
{
  unsigned char *buf;
  size_t n = take_bottom(S, st, k, &buf);
  if (!n) return CB_ENOMEM;
  d->items_sent += (long)k;
  return post(d, dest, tag, buf, n);
}

static int stack_full(search *S, istack *st)
{
  S->r->answer = V_UNKNOWN;
  snprintf(S->r->reason, sizeof S->r->reason, "memory limit: %zu subdomains queued", st->top);
  return VFY_SHARE_STOP;
}

/*
** The race.  With two threads or more, one process races input splitting
** alone against the search with ReLU splitting (verify.c, portfolio): each
** answers instances the other does not (ACAS Xu 1_9 prop 7: sat by the
** portfolio's input splitting, a timeout for the ReLU search alone).  Here
** the last rank runs the portfolio's first search (input splitting alone,
** with the wide aspect guard, a budget of a twentieth of the timeout, at
** least 5 s, counted in that search's own CPU time), on its own whole copy
** of the property, in a second thread, while the rank's main thread takes
** part in the shared search from the start like every rank.  The two
** threads never run at once: a token passes between them (a coroutine).
** The race gets the token
**   - while the rank waits for work (it would sleep otherwise), and
**   - for RACE_SHARE of the rank's CPU time while the shared search has work,
** in slices of RACE_SLICE CPU seconds (its batches of input splitting
** alone last ~1 ms, and the gate is its share hook, called before each).
** So the race yields to the shared search instead of holding a rank for a
** twentieth of the timeout: on an unsat instance it costs RACE_SHARE of one
** rank.  A decisive answer ends the run like any rank's (rank 0 re-checks a
** witness); the race's search makes no MPI call.
*/
#define RACE_SHARE 0.05    /* the race's share of its rank's CPU while the shared search has work */
#define RACE_SLICE 0.004   /* CPU seconds per turn of the race */

typedef struct racer {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int turn;                  /* 1: the race may run; 0: the main thread */
  int quit;                  /* the main thread ends the race */
  int done;                  /* the race's search has returned */
  int cancel;                /* the race search's vfy_opts.cancel */
  double cpu0, cpu;          /* the race thread's CPU seconds: at its start, used since */
  double slice_end;          /* the race thread's CPU time when its turn ends */
  const cb_net *net;
  const vnn_spec *spec;
  vfy_opts o;
  vfy_result r;
  cb_error err;
  int rc;
} racer;

static double thread_cpu(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Waits (race thread, mutex held) until its turn or the end; starts a slice. */
static void race_wait_turn(racer *R)
{
  while (!R->turn && !R->quit) pthread_cond_wait(&R->cv, &R->mu);
  R->slice_end = thread_cpu() + RACE_SLICE;
}

/* The race search's share hook: at the end of its slice, gives the token
   back and waits for the next turn.  Touches no stack. */
static int race_gate(void *ctx, struct search *S, struct istack *st, size_t *leaves, char *why)
{
  racer *R = ctx;
  double c = thread_cpu();
  (void)S; (void)st; (void)leaves; (void)why;
  pthread_mutex_lock(&R->mu);
  R->cpu = c - R->cpu0;
  if (c >= R->slice_end && !R->quit) {
    R->turn = 0;
    pthread_cond_broadcast(&R->cv);
    race_wait_turn(R);
  }
  pthread_mutex_unlock(&R->mu);
  return VFY_SHARE_GO;
}

static void *race_main(void *arg)
{
  racer *R = arg;
  pthread_mutex_lock(&R->mu);
  R->cpu0 = thread_cpu();
  race_wait_turn(R);
  pthread_mutex_unlock(&R->mu);
  if (!R->quit) R->rc = vfy_run(R->net, R->spec, &R->o, &R->r, &R->err);
  pthread_mutex_lock(&R->mu);
  R->cpu = thread_cpu() - R->cpu0;
  R->done = 1;
  R->turn = 0;
  pthread_cond_broadcast(&R->cv);
  pthread_mutex_unlock(&R->mu);
  return NULL;
}

/* Starts the race thread (it waits for its first turn).  0, or -1 when no
   thread could be made (then no race). */
static int race_start(racer *R, const cb_net *net, const vnn_spec *spec, const vfy_opts *o)
{
  memset(R, 0, sizeof *R);
  R->net = net;
  R->spec = spec;
  R->o = *o;
  R->o.relu_leaf = 0;   /* portfolio_opts, search 0 */
  R->o.timeout = fmin(o->timeout, fmax(5, 0.05 * o->timeout));
  R->o.cpu_clock = 1;   /* its budget is its own CPU time: paused turns do not count */
  R->o.threads = 1;
  R->o.aspect = o->aspect2 > 1 ? o->aspect2 : o->aspect;
  R->o.aspect2 = 0;
  R->o.share = race_gate;
  R->o.share_ctx = R;
  R->o.cancel = &R->cancel;
  R->r.answer = V_TIMEOUT;
  pthread_mutex_init(&R->mu, NULL);
  pthread_cond_init(&R->cv, NULL);
  if (pthread_create(&R->th, NULL, race_main, R)) {
    pthread_mutex_destroy(&R->mu);
    pthread_cond_destroy(&R->cv);
    return -1;
  }
  return 0;
}

/* Main thread: one turn of the race (returns when the race gives the token
   back or ends).  1 when the race has ended. */
static int race_turn(racer *R)
{
  int done;
  pthread_mutex_lock(&R->mu);
  if (!R->done && !R->quit) {
    R->turn = 1;
    pthread_cond_broadcast(&R->cv);
    while (R->turn && !R->done) pthread_cond_wait(&R->cv, &R->mu);
  }
  done = R->done;
  pthread_mutex_unlock(&R->mu);
  return done;
}

/* Has the race ended with a decisive answer? */
static int race_won(const racer *R)
{
  return R->done && R->rc == CB_OK && (R->r.answer == V_FALSIFIED || R->r.answer == V_VERIFIED);
}

/* Ends the race thread (cancelled if still running) and joins it. */
static void race_stop(racer *R)
{
  pthread_mutex_lock(&R->mu);
  R->quit = 1;
  #pragma omp atomic write
  R->cancel = 1;
  R->turn = 1;
  pthread_cond_broadcast(&R->cv);
  pthread_mutex_unlock(&R->mu);
  pthread_join(R->th, NULL);
  pthread_mutex_destroy(&R->mu);
  pthread_cond_destroy(&R->cv);
}

static int race_wanted(const vfy_opts *o, int ranks)
{
  return ranks >= 2 && o->portfolio && o->relu_leaf > 0 && !o->fwd && !o->bound;
}

/* ---- ranks other than 0 ---- */

/* One message from rank 0 during the search: VFY_SHARE_GO, _STOP or a status. */
static int worker_msg(dist *d, search *S, istack *st, int tag, size_t n)
{
  long got = 0;
  int rc;
  switch (tag) {
  case T_STOP:
    d->stopped = 1;
    S->r->answer = V_TIMEOUT;
    snprintf(S->r->reason, sizeof S->r->reason, "stopped by rank 0");
    return VFY_SHARE_STOP;
  case T_STEAL:
    return give(d, S, st, 0, T_GIVE, st->top > 1 ? (st->top / 2 < GIVE_MAX ? st->top / 2 : GIVE_MAX) : 0);
  case T_WORK:
    rc = push_recs(S, st, d->buf, n, &got);
    return rc == 1 ? stack_full(S, st) : rc;
  default:
    return CB_EINTERNAL;
  }
}

/* Is the race owed a turn (its share of this rank's CPU not yet used)? */
static int race_due(const dist *d)
{
  const racer *R = d->race;
  return R && !R->done && R->cpu < RACE_SHARE / (1 - RACE_SHARE) * (thread_cpu() - d->tcpu0);
}

/* The race answered: the shared search on this rank stops (vfy_dist_run
   sends the race's answer). */
static int race_answered(dist *d, search *S)
{
  d->race_ended = 1;
  S->r->answer = V_TIMEOUT;
  snprintf(S->r->reason, sizeof S->r->reason, "the race answered");
  return VFY_SHARE_STOP;
}

/* vfy_opts.share on a rank other than 0. */
static int worker_share(void *ctx, struct search *S, struct istack *st, size_t *leaves, char *why)
{
  dist *d = ctx;
  unsigned char *b;
  int tag, from, rc;
  size_t n;
  double t0;
  if (d->first) {   /* the roots are rank 0's */
    while (st->top) cb_free(st->it[--st->top]);
    d->first = 0;
  }
  progress(d);
  while ((tag = poll_msg(d, 0, &from, &n)) != 0)
    if (tag < 0 || (rc = worker_msg(d, S, st, tag, n)) != VFY_SHARE_GO) return tag < 0 ? CB_ENOMEM : rc;
  if (st->top) {
    if (race_due(d) && race_turn(d->race) && race_won(d->race)) return race_answered(d, S);
    return VFY_SHARE_GO;
  }
  if (!(b = cb_alloc(104))) return CB_ENOMEM;
  {
    int64_t l = (int64_t)*leaves;
    memcpy(b, &l, 8);
    memcpy(b + 8, why, 96);
  }
  if ((rc = post(d, 0, T_IDLE, b, 104)) != CB_OK) return rc;
  t0 = now();
  for (long ns = NAP_NS;;) {
    progress(d);
    if ((tag = poll_msg(d, 0, &from, &n)) == 0) {
      if (d->race && !d->race->done) {   /* waiting for work: the race's turn instead of a sleep */
        if (race_turn(d->race) && race_won(d->race)) { d->idle_s += now() - t0; return race_answered(d, S); }
      } else nap(&ns);
      continue;
    }
    if (tag < 0) return CB_ENOMEM;
    if ((rc = worker_msg(d, S, st, tag, n)) != VFY_SHARE_GO || st->top) { d->idle_s += now() - t0; return rc; }
  }
}

/* ---- rank 0 ---- */

/* A rank's answer (T_RESULT: int32 answer, box, two pads; reason[256];
   x[nx]).  A witness is re-checked exactly here before it is taken. */
static int lead_result(dist *d, search *S, int from, size_t n)
{
  vfy_result *r = S->r;
  int32_t h[4];
  size_t nx = S->spec->nx, c = 0;
  char why[256];
  if (n < 16 + 256 + 8 * nx) return CB_EINTERNAL;
  memcpy(h, d->buf, 16);
  memcpy(why, d->buf + 16, 256);
  why[255] = 0;
  d->p[from].done = 1;
  d->p[from].busy = 0;
  if (h[0] == V_FALSIFIED) {
    double *x = cb_alloc((nx + S->spec->ny + 1) * sizeof *x), *y = x ? x + nx : NULL;
    int ok, rc = CB_OK;
    if (!x) return CB_ENOMEM;
    memcpy(x, d->buf + 16 + 256, nx * sizeof *x);
    if (h[1] < 0 || (size_t)h[1] >= S->spec->n_box) { cb_free(x); return CB_EINTERNAL; }
    /* as apply_work does (verify.c): at the exact decimals when the box holds no double */
    if ((ok = vfy_check_witness(S->net, S->spec, (size_t)h[1], x, y, &c, &r->fp_only)))
      rc = vfy_set_sat(S, (size_t)h[1], x, y, c);
    cb_free(x);
    if (rc != CB_OK) return CB_ENOMEM;
    if (!ok) {
      r->answer = V_ERROR;
      snprintf(r->reason, sizeof r->reason, "rank %d's witness failed the exact re-check on rank 0", from);
      return VFY_SHARE_STOP;
    }
    snprintf(r->reason, sizeof r->reason, "rank %d: %.200s", from, why);
    return VFY_SHARE_STOP;
  }
  r->answer = h[0] >= 0 && h[0] <= V_ERROR ? (cb_verdict)h[0] : V_ERROR;
  snprintf(r->reason, sizeof r->reason, "rank %d: %.200s", from, why);
  return VFY_SHARE_STOP;
}

/* One message to rank 0 during the search. */
static int lead_msg(dist *d, search *S, istack *st, int from, int tag, size_t n)
{
  long got = 0;
  int rc;
  switch (tag) {
  case T_IDLE:
    if (n < 104) return CB_EINTERNAL;
    {
      int64_t l;
      memcpy(&l, d->buf, 8);
      d->p[from].leaves = (long)l;
      memcpy(d->p[from].why, d->buf + 8, 96);
      d->p[from].why[95] = 0;
    }
    d->p[from].busy = 0;
    return VFY_SHARE_GO;
  case T_GIVE:
    d->steal_to = -1;
    rc = push_recs(S, st, d->buf, n, &got);
    if (!got) d->steal_after = now() + STEAL_BACKOFF;
    return rc == 1 ? stack_full(S, st) : rc;
  case T_RESULT:
    return lead_result(d, S, from, n);
  default:
    return CB_EINTERNAL;
  }
}

/* Idle ranks get a share of rank 0's stack, from its bottom; rank 0 keeps
   one subdomain at least. */
static int feed(dist *d, const search *S, istack *st)
{
  int idle = 0, rc;
  for (int w = 1; w < d->ranks; w++) idle += !d->p[w].busy && !d->p[w].done;
  for (int w = 1; w < d->ranks && idle && st->top >= 2; w++) {
    size_t k;
    if (d->p[w].busy || d->p[w].done) continue;
    k = st->top / (size_t)(idle + 1);
    if (k < 1) k = 1;
    if (k > GIVE_MAX) k = GIVE_MAX;
    if ((rc = give(d, S, st, w, T_WORK, k)) != CB_OK) return rc;
    d->p[w].busy = 1;
    idle--;
  }
  return CB_OK;
}

/* Asks a busy rank for half of its stack when someone (rank 0 included)
   has nothing to do and none is pending. */
static int maybe_steal(dist *d, const istack *st)
{
  int idle = !st->top;
  if (d->steal_to >= 0 || now() < d->steal_after) return CB_OK;
  for (int w = 1; w < d->ranks; w++) idle += !d->p[w].busy && !d->p[w].done;
  if (!idle) return CB_OK;
  for (int k = 0; k < d->ranks - 1; k++) {
    int w = 1 + (d->rr + k) % (d->ranks - 1);
    if (!d->p[w].busy || d->p[w].done) continue;
    d->rr = w % (d->ranks - 1);
    d->steal_to = w;
    d->steals++;
    return post_empty(d, w, T_STEAL);
  }
  return CB_OK;
}

/* vfy_opts.share on rank 0. */
static int lead_share(void *ctx, struct search *S, struct istack *st, size_t *leaves, char *why)
{
  dist *d = ctx;
  double t0 = -1;
  long ns = NAP_NS;
  for (;;) {
    int tag, from, rc, busy = 0;
    size_t n;
    progress(d);
    while ((tag = poll_msg(d, MPI_ANY_SOURCE, &from, &n)) != 0)
      if (tag < 0 || (rc = lead_msg(d, S, st, from, tag, n)) != VFY_SHARE_GO) return tag < 0 ? CB_ENOMEM : rc;
    if ((rc = feed(d, S, st)) != CB_OK || (rc = maybe_steal(d, st)) != CB_OK) return rc;
    if (st->top) { if (t0 >= 0) d->idle_s += now() - t0; return VFY_SHARE_GO; }
    for (int w = 1; w < d->ranks; w++) busy += d->p[w].busy;
    if (!busy && d->steal_to < 0) {   /* nothing open anywhere */
      for (int w = 1; w < d->ranks; w++) {
        *leaves += (size_t)d->p[w].leaves;
        if (d->p[w].leaves && !why[0]) snprintf(why, 96, "%s", d->p[w].why);
      }
      if (t0 >= 0) d->idle_s += now() - t0;
      return VFY_SHARE_DONE;
    }
    if (t0 < 0) t0 = now();
    if (vfy_now() - S->t0 > S->deadline) {
      S->r->answer = V_TIMEOUT;
      snprintf(S->r->reason, sizeof S->r->reason, "timeout after %ld subdomains on rank 0 (the others' follow)", S->r->nodes);
      return VFY_SHARE_STOP;
    }
    nap(&ns);
  }
}

/* ---- the end: answers and counts ---- */

enum { ST_NODES, ST_STATES, ST_DEPTH, ST_FP, ST_MSGS, ST_BYTES, ST_ITEMS, ST_IDLE, ST_BOUND, ST_BRANCH, ST_LP,
       ST_LPC, ST_MILP, ST_MILPC, ST_MILPN, ST_MILPCL, ST_MILPS, ST_ATTACK, ST_CPU, ST_RCPU, ST_RNODES,
       ST_BATCH, ST_BITEMS, ST_BMAX, ST_COUNT };

/* This process's CPU seconds (all its threads). */
static double cpu_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void stats_of(const dist *d, const vfy_result *r, double *v)
{
  const vfy_prof *p = &r->prof;
  double a[ST_COUNT] = {(double)r->nodes, (double)r->relu_states, r->depth, (double)r->fp_only, (double)d->msgs,
                        (double)d->bytes, (double)d->items_sent, d->idle_s, p->bound_s, p->branch_s, p->lp_s,
                        (double)p->lp_calls, p->milp_s, (double)p->milp_calls, (double)p->milp_nodes,
                        (double)p->milp_closed, (double)p->milp_sat, p->attack_s, cpu_now() - d->cpu0,
                        d->race ? d->race->cpu : 0, (double)d->race_nodes,
                        (double)p->batches, (double)p->batch_items, (double)p->batch_max};
  memcpy(v, a, sizeof a);
}

/* Another rank after its search: its answer when it ended on its own, then
   (after rank 0's stop) its counts. */
static int worker_end(dist *d, const vfy_result *r, int rc, int searched)
{
  size_t nx = d->spec->nx, n;
  int tag, from;
  double *v;
  if (!d->stopped && searched) {
    unsigned char *b = cb_calloc(16 + 256 + 8 * nx + 8, 1);
    int32_t h[4] = {rc != CB_OK ? V_ERROR : (int32_t)r->answer, (int32_t)r->box, 0, 0};
    if (!b) return CB_ENOMEM;
    memcpy(b, h, 16);
    snprintf((char *)b + 16, 256, "%s", r->reason);
    if (r->answer == V_FALSIFIED && r->x) memcpy(b + 16 + 256, r->x, nx * sizeof(double));
    if (post(d, 0, T_RESULT, b, 16 + 256 + 8 * nx) != CB_OK) return CB_ENOMEM;
  }
  while (!d->stopped) {
    progress(d);
    if ((tag = poll_msg(d, 0, &from, &n)) == 0) { struct timespec ts = {0, 1000000L}; nanosleep(&ts, NULL); continue; }
    if (tag < 0) return CB_ENOMEM;
    if (tag == T_STOP) d->stopped = 1;
    else if (tag == T_STEAL && post(d, 0, T_GIVE, (unsigned char *)cb_calloc(8, 1), 8) != CB_OK) return CB_ENOMEM;
  }
  if (!(v = cb_alloc(ST_COUNT * sizeof *v))) return CB_ENOMEM;
  stats_of(d, r, v);   /* rank 0 adds this message itself */
  return post(d, 0, T_STATS, (unsigned char *)v, ST_COUNT * sizeof *v);
}

/* Rank `from`'s own counts (its T_STATS, or rank 0's) into info->per. */
static void rank_stat(vfy_dist_info *info, int from, const double *v)
{
  struct vfy_rank_stat *p;
  if (from < 0 || from >= VFY_DIST_PER) return;
  p = &info->per[from];
  p->nodes = (long)v[ST_NODES] - (long)v[ST_RNODES];
  p->states = (long)v[ST_STATES];
  p->race_nodes = (long)v[ST_RNODES];
  p->msgs = (long)v[ST_MSGS];
  p->bytes = (long)v[ST_BYTES];
  p->busy_cpu_s = v[ST_CPU] - v[ST_RCPU];
  p->race_cpu_s = v[ST_RCPU];
  p->idle_s = v[ST_IDLE];
}

/* Rank 0 after its search: stops every rank, then adds up their counts
   (waiting at most STATS_WAIT seconds: rank 0 must print before its alarm). */
static void lead_end(dist *d, vfy_result *r, vfy_dist_info *info, double deadline)
{
  double v[ST_COUNT], t_end;
  int got = 1;
  stats_of(d, r, v);
  info->nodes_max = info->nodes_min = r->nodes;
  info->cpu_max_s = info->cpu_min_s = v[ST_CPU];
  info->msgs = d->msgs + d->ranks - 1;   /* the stops below */
  info->bytes = d->bytes;
  info->items_sent = d->items_sent;
  info->steals = d->steals;
  info->idle_s = d->idle_s;
  rank_stat(info, 0, v);
  info->per_n = d->ranks < VFY_DIST_PER ? d->ranks : VFY_DIST_PER;
  for (int w = 1; w < d->ranks; w++) post_empty(d, w, T_STOP);
  t_end = fmin(now() + STATS_WAIT, deadline);
  for (long ns = NAP_NS; got < d->ranks && now() < t_end;) {
    int tag, from;
    size_t n;
    progress(d);
    if ((tag = poll_msg(d, MPI_ANY_SOURCE, &from, &n)) == 0) { nap(&ns); continue; }
    if (tag != T_STATS || n < sizeof v) continue;
    memcpy(v, d->buf, sizeof v);
    got++;
    rank_stat(info, from, v);
    r->nodes += (long)v[ST_NODES];
    r->relu_states += (long)v[ST_STATES];
    if ((int)v[ST_DEPTH] > r->depth) r->depth = (int)v[ST_DEPTH];
    r->fp_only += (long)v[ST_FP];
    r->prof.bound_s += v[ST_BOUND]; r->prof.branch_s += v[ST_BRANCH]; r->prof.lp_s += v[ST_LP];
    r->prof.lp_calls += (long)v[ST_LPC]; r->prof.milp_s += v[ST_MILP]; r->prof.milp_calls += (long)v[ST_MILPC];
    r->prof.milp_nodes += (long)v[ST_MILPN]; r->prof.milp_closed += (long)v[ST_MILPCL];
    r->prof.milp_sat += (long)v[ST_MILPS]; r->prof.attack_s += v[ST_ATTACK];
    r->prof.batches += (long)v[ST_BATCH]; r->prof.batch_items += (long)v[ST_BITEMS];
    if ((long)v[ST_BMAX] > r->prof.batch_max) r->prof.batch_max = (long)v[ST_BMAX];
    info->msgs += (long)v[ST_MSGS] + 1;
    info->bytes += (long)v[ST_BYTES] + (long)sizeof v;
    info->items_sent += (long)v[ST_ITEMS];
    info->idle_s += v[ST_IDLE];
    if ((long)v[ST_NODES] > info->nodes_max) info->nodes_max = (long)v[ST_NODES];
    if ((long)v[ST_NODES] < info->nodes_min) info->nodes_min = (long)v[ST_NODES];
    info->cpu_max_s = fmax(info->cpu_max_s, v[ST_CPU]);
    info->cpu_min_s = fmin(info->cpu_min_s, v[ST_CPU]);
  }
  info->stats_ranks = got;
  stats_missing = d->ranks - got;
}

/* "all N subdomains refuted" with every rank's N. */
static void global_reason(vfy_result *r, int ranks)
{
  const char *tail = strstr(r->reason, "subdomains refuted");
  char t[256];
  if (r->answer != V_VERIFIED || strncmp(r->reason, "all ", 4) || !tail) return;
  snprintf(t, sizeof t, "%s", tail + strlen("subdomains refuted"));
  snprintf(r->reason, sizeof r->reason, "all %ld subdomains refuted on %d ranks%.180s", r->nodes, ranks, t);
}

/* At exit: rank 0 first receives (and drops) what the late ranks still send,
   up to their counts, so that none waits on a send while MPI_Finalize waits
   for it. */
static void finalize(void)
{
  int fin = 0;
  MPI_Finalized(&fin);
  if (fin) return;
  while (stats_missing > 0) {
    MPI_Status st;
    int cnt = 0;
    unsigned char *b;
    MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
    MPI_Get_count(&st, MPI_BYTE, &cnt);
    b = cb_alloc((size_t)cnt + 8);
    MPI_Recv(b ? b : NULL, b ? cnt : 0, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    cb_free(b);
    stats_missing -= st.MPI_TAG == T_STATS;
  }
  MPI_Finalize();
}

int vfy_dist_run(const cb_net *net, const vnn_spec *spec, const vfy_opts *o, vfy_result *r, vfy_dist_info *info,
                 cb_error *err)
{
  dist d = {.net = net, .spec = spec, .steal_to = -1, .first = 1};
  vfy_opts so = *o;
  racer R;
  int init = 0, prov, rc, shared = vfy_low_dim(spec), racing;
  double t0;
  memset(info, 0, sizeof *info);
  MPI_Initialized(&init);
  if (!init) {
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &prov);   /* only the main thread calls MPI (the race's calls none) */
    atexit(finalize);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &d.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &d.ranks);
  info->rank = d.rank;
  info->ranks = d.ranks;
  info->stats_ranks = 1;
  if (d.ranks == 1) return vfy_run(net, spec, o, r, err);
  if (d.rank) alarm(0);   /* the answer and its backstop are rank 0's */
  if (!shared)
    snprintf(info->note, sizeof info->note, "inputs of more than %d values go to ReLU splitting, whose frontier is not "
             "shared: the search ran on rank 0 alone", VFY_LOW_DIM);
  if (!(d.p = cb_calloc((size_t)d.ranks, sizeof *d.p))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  for (int w = 1; w < d.ranks; w++) d.p[w].busy = shared;
  racing = shared && race_wanted(o, d.ranks);
  if (shared) {
    so.share = d.rank ? worker_share : lead_share;
    so.share_ctx = &d;
    so.seed = o->seed + (unsigned long)d.rank;   /* the attacks of the ranks try other points */
    if (racing) so.lp_side_first = 0;   /* portfolio_opts, search 1 */
    if (d.rank) so.strong_after = HUGE_VAL;   /* the long attack once, on rank 0 (it is not divided) */
  }
  MPI_Barrier(MPI_COMM_WORLD);
  t0 = now();
  d.cpu0 = cpu_now();
  d.tcpu0 = thread_cpu();
  if (!d.rank) alarm((unsigned)ceil(o->timeout) + 2);   /* the CLI's backstop, from the start of the search:
                                                           MPI's start-up took part of its second */
  if (racing && d.rank == d.ranks - 1 && race_start(&R, net, spec, o) == 0) d.race = &R;
  if (d.rank && !shared) { memset(r, 0, sizeof *r); r->answer = V_TIMEOUT; rc = CB_OK; }
  else {
    so.timeout = o->timeout - (now() - t0);
    rc = so.timeout > 0 ? vfy_run(net, spec, &so, r, err) : CB_OK;
    if (so.timeout <= 0) { memset(r, 0, sizeof *r); r->answer = V_TIMEOUT; snprintf(r->reason, sizeof r->reason, "timeout"); }
  }
  if (d.race) {   /* the race ends with the shared search; its answer replaces this rank's when it decided */
    race_stop(&R);
    d.race_nodes = R.r.nodes;
    if (d.race_ended && !d.stopped && race_won(&R)) {
      long nodes = r->nodes;
      size_t n;
      vfy_result_free(r);
      *r = R.r;
      r->nodes += nodes;
      n = strlen(r->reason);
      snprintf(r->reason + n, sizeof r->reason - n, " [input splitting alone]");
      rc = CB_OK;
    } else {
      r->nodes += R.r.nodes;
      vfy_result_free(&R.r);
    }
  }
  if (d.rank) {
    if (worker_end(&d, r, rc, shared) != CB_OK && rc == CB_OK) rc = cb_error_set(err, CB_ENOMEM, "out of memory");
  } else {
    lead_end(&d, r, info, t0 + o->timeout + 1);
    if (rc == CB_OK) global_reason(r, d.ranks);
  }
  progress(&d);
  while (d.npd) { MPI_Wait(&d.pd[d.npd - 1].q, MPI_STATUS_IGNORE); cb_free(d.pd[--d.npd].buf); }
  cb_free(d.pd);
  cb_free(d.buf);
  cb_free(d.p);
  return rc;
}
