/*
** verify --proof: the proof tree, searched by input splitting with CROWN and
** confirmed leaf by leaf in exact arithmetic (proof_emit.h).  Written in
** preorder (docs/proof-format.md): a depth-first stack whose left half is
** popped first.  Cost: one CROWN pass per box and one exact leaf test per
** leaf (the exact test dominates on ACAS Xu, see bench/RESULTS_vnncomp.md).
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "proof_emit.h"
#include "proofchk.h"
#include "bounds.h"
#include "lp.h"

typedef struct pbox { double *lo, *hi; int depth; } pbox;

/* Dimensions tried per split (strong branching): each candidate's two halves
   get a CROWN pass, and the split whose worse half is closest to refuted
   wins.  Fewer leaves mean fewer exact leaf tests, for the emitter and for
   the checker alike (bench/RESULTS_vnncomp.md). */
#define LOOKAHEAD 3

typedef struct emit {
  const cb_net *net;
  const vnn_spec *spec;
  pchk *P;
  cb_ws *ws;
  FILE *f;
  double *C, *lb, *lin, *row;   /* rows of the box (q x ny), their lower bounds, one row's input coefficients */
  long *pick;                   /* per conjunction: the refuting row (-3: the LP's combination lam) */
  double *lam, *la, *lc, *lx;   /* per conjunction (mmax each): its LP multipliers; the rows' lower
                                   forms over the box (mmax x nx), constants, the LP's point */
  double *negA, *llin, *lout;   /* the rows as -A (mmax x ny), their CROWN input coefficients, bounds */
  const double **lamp;          /* per conjunction: E->lam's row, for pchk_leaf */
  size_t mmax;
  unsigned char *use;
  int cand[LOOKAHEAD], ncand;   /* choose_dim's candidate dimensions, best first */
  int look;                     /* 1: strong branching (the first attempt), 0: choose_dim's rule alone */
  int wide;                     /* ... its widest dimension relative to the root box, and that ratio */
  double bw;
  double t0, c0, timeout;
  int max_depth;
  int relu;                     /* 1: boxes input splitting leaves open go to the ReLU route first */
  proof_emit_stats *st;
} emit;

static double now_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU seconds of this process (the proof search runs on one thread): its
   timeout and its reported cost do not grow with the machine's load. */
static double cpu_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int sha256_file(const char *path, char *hex, cb_error *err)
{
  int ok = proof_sha256_file(path, hex);
  return ok ? CB_OK : cb_error_set(err, CB_EIO, "%s: cannot read it to hash it", path);
}

/* Box b's rows stacked (conjunction c from row0[c]), then for each
   conjunction of several rows their sum (at sum0[c]); q rows in all. */
static size_t stack_rows(emit *E, size_t b, size_t *row0, size_t *sum0)
{
  const vnn_box *B = &E->spec->box[b];
  size_t q = 0, ny = E->spec->ny;
  for (size_t c = 0; c < B->n_conj; c++) {
    row0[c] = q;
    memcpy(E->C + q * ny, B->conj[c].A, B->conj[c].m * ny * sizeof(double));
    q += B->conj[c].m;
  }
  for (size_t c = 0; c < B->n_conj; c++) {
    sum0[c] = (size_t)-1;
    if (B->conj[c].m < 2) continue;
    sum0[c] = q;
    memset(E->C + q * ny, 0, ny * sizeof(double));
    for (size_t r = 0; r < B->conj[c].m; r++)
      for (size_t j = 0; j < ny; j++) E->C[q * ny + j] += B->conj[c].A[r * ny + j];
    q++;
  }
  return q;
}

/* The dimension to halve: largest |coefficient| x width in CROWN's linear
   lower bound of row r (the row closest to refuting a conjunction that is
   not refuted), unless the widest dimension relative to the root box is 16
   times wider than that one. */
static int choose_dim(emit *E, const pbox *x, const double *root_lo, const double *root_hi, size_t r, int *dim, cb_error *err)
{
  size_t nx = E->spec->nx, ny = E->spec->ny;
  int best = 0, wide = 0, rc;
  double bs = -1, bw = -1, ub;
  for (size_t j = 0; j < ny; j++) E->row[j] = -E->C[r * ny + j];
  if ((rc = crown_linear(E->ws, E->row, 1, E->lin, &ub, err)) != CB_OK) return rc;
  for (size_t k = 0; k < nx; k++) {
    double w = x->hi[k] - x->lo[k], rel = root_hi[k] > root_lo[k] ? w / (root_hi[k] - root_lo[k]) : 0;
    double sc = fabs(E->lin[k]) * w;
    if (!(w > 0) || x->lo[k] + 0.5 * w <= x->lo[k] || x->lo[k] + 0.5 * w >= x->hi[k]) continue;   /* cannot halve */
    if (sc > bs) { bs = sc; best = (int)k; }
    if (rel > bw) { bw = rel; wide = (int)k; }
  }
  if (bw < 0) return cb_error_set(err, CB_EVALUE, "a box too small to split is not refuted");
  {
    double rb = root_hi[best] > root_lo[best] ? (x->hi[best] - x->lo[best]) / (root_hi[best] - root_lo[best]) : 0;
    *dim = bs <= 0 || bw > 16 * rb ? wide : best;
  }
  /* the runners-up by |coefficient| x width, for the lookahead (E->cand);
     none when the widest dimension is forced (every one must shrink) */
  E->ncand = 0;
  E->cand[E->ncand++] = *dim;
  E->wide = wide;
  E->bw = bw;
  if (*dim != best) return CB_OK;
  for (int t = 0; t < LOOKAHEAD && E->ncand < LOOKAHEAD; t++) {
    int arg = -1;
    double v = 0;
    for (size_t k = 0; k < nx; k++) {
      double w = x->hi[k] - x->lo[k], sc = fabs(E->lin[k]) * w;
      int dup = 0;
      if (!(w > 0) || x->lo[k] + 0.5 * w <= x->lo[k] || x->lo[k] + 0.5 * w >= x->hi[k]) continue;
      for (int c = 0; c < E->ncand; c++) dup |= E->cand[c] == (int)k;
      if (!dup && sc > v) { v = sc; arg = (int)k; }
    }
    if (arg < 0) break;
    E->cand[E->ncand++] = arg;
  }
  return CB_OK;
}

/* CROWN on box x: *refuted = 1 when every conjunction has a row, or the
   sum of its rows, whose lower bound exceeds its b_up (the sum's, for the
   sum: a guess in double that the exact test confirms); else *worst = the
   row to branch on. */
static int crown_box(emit *E, size_t b, const size_t *row0, const size_t *sum0, size_t q, const pbox *x, int *refuted,
                     size_t *worst, double *wmin, cb_error *err)
{
  const vnn_box *B = &E->spec->box[b];
  int rc;
  double wm = -HUGE_VAL, all = HUGE_VAL;
  E->ws->set.lo = x->lo; E->ws->set.hi = x->hi;
  if ((rc = bounds_run(E->ws, CB_CROWN, err)) != CB_OK || (rc = bounds_spec(E->ws, E->C, q, E->lb, NULL, err)) != CB_OK) return rc;
  *refuted = 1;
  *worst = 0;
  for (size_t c = 0; c < B->n_conj; c++) {
    const vnn_conj *k = &B->conj[c];
    double m = -HUGE_VAL, bs = 0;
    size_t mr = row0[c];
    if (!k->m) return cb_error_set(err, CB_EVALUE, "conjunction at line %d has no rows: every point meets it", k->line);
    for (size_t r = 0; r < k->m; r++) {
      double g = E->lb[row0[c] + r] - k->b_up[r];
      bs += k->b_up[r];
      if (g > m || isnan(m)) { m = g; mr = row0[c] + r; }
    }
    if (sum0[c] != (size_t)-1 && E->lb[sum0[c]] - bs > 0) m = E->lb[sum0[c]] - bs;
    if (!(m >= all)) all = isnan(m) ? -HUGE_VAL : m;
    if (!(m > 0)) {
      if (*refuted || m > wm) { wm = m; *worst = mr; }
      *refuted = 0;
    }
  }
  if (wmin) *wmin = all;
  return CB_OK;
}

/* A box CROWN does not refute row by row: per conjunction, GLPK weighs its
   rows' CROWN lower forms over the box (lp_minmax: min over the box of the
   max of the forms); when every conjunction's optimum is positive the
   combination lam is a candidate leaf, and the exact test (pchk_leaf, the
   checker's own) decides: GLPK proves nothing.  *leaf 1 when accepted
   (E->pick[c] = -3, the multipliers in E->lam). */
static int lp_leaf(emit *E, size_t b, const pbox *x, int *leaf, cb_error *err)
{
  const vnn_box *B = &E->spec->box[b];
  size_t nx = E->spec->nx, ny = E->spec->ny;
  char why[8];
  int multi = 0;
  *leaf = 0;
  for (size_t c = 0; c < B->n_conj; c++) multi |= B->conj[c].m > 1;
  if (!multi) return CB_OK;   /* single rows: crown_box's bounds already said no */
  for (size_t c = 0; c < B->n_conj; c++) {
    const vnn_conj *k = &B->conj[c];
    double *lam = E->lam + c * E->mmax, t;
    int res;
    E->lamp[c] = lam;
    for (size_t e = 0; e < k->m * ny; e++) E->negA[e] = -k->A[e];
    if (crown_linear(E->ws, E->negA, k->m, E->llin, E->lout, err) != CB_OK) return err->status;
    for (size_t r = 0; r < k->m; r++) {   /* A_r y >= a_r . x + (-out_r - min a_r . x) on the box */
      double mn = 0;
      if (!isfinite(E->lout[r])) return CB_OK;
      for (size_t j = 0; j < nx; j++) {
        double a = -E->llin[r * nx + j];
        E->la[r * nx + j] = a;
        mn += fmin(a * x->lo[j], a * x->hi[j]);
      }
      E->lc[r] = -E->lout[r] - mn - k->b_up[r];
    }
    res = lp_minmax(E->la, E->lc, k->m, nx, x->lo, x->hi, E->lx, lam, &t);
    if (res < 0) return cb_error_set(err, res, "out of memory in the LP");
    if (res != 1 || !(t > 0)) return CB_OK;
    for (size_t r = 0; r < k->m; r++) if (!(lam[r] >= 0)) lam[r] = 0;   /* GLPK's -0 or tiny negatives */
  }
  {
    int ok = pchk_leaf(E->P, b, x->lo, x->hi, NULL, 0, E->lamp, why, sizeof why);
    if (ok < 0) return cb_error_set(err, ok, "out of memory");
    if (!ok) { E->st->rejected++; return CB_OK; }
  }
  for (size_t c = 0; c < B->n_conj; c++) E->pick[c] = -3;
  *leaf = 1;
  E->st->lp_leaves++;
  return CB_OK;
}

static void write_leaf(emit *E, size_t b)
{
  const vnn_box *B = &E->spec->box[b];
  fprintf(E->f, "leaf %ld\n", E->st->leaves++);
  for (size_t c = 0; c < B->n_conj; c++) {
    long r = E->pick[c] == -1 ? 0 : E->pick[c];
    fprintf(E->f, "conj %zu", c);
    for (size_t k = 0; k < B->conj[c].m; k++)
      if (r == -3) fprintf(E->f, " %a", E->lam[c * E->mmax + k]);
      else fputs((long)k == r || r == -2 ? " 1" : " 0", E->f);
    fputc('\n', E->f);
  }
}

/* One search of the proof tree with one split rule, resumable: its own
   file, its depth-first stack (boxes of nx doubles each side), the box it
   is in and its CPU so far.  proof_emit runs two of them side by side
   (choose_dim's rule and strong branching) and keeps the first to finish. */
typedef struct prun {
  FILE *f;
  char *tmp;
  pbox *st;
  double *mem;
  size_t cap, top, b, q, *row0, *sum0;
  long rs_useful, rs_wasted;    /* ReLU-route states of boxes it closed / left open (budget as verify's) */
  int look, inbox, state;       /* state: 0 searching, 1 finished (the tree written), -1 failed (error in err) */
  double cpu, done;             /* CPU spent in it; fraction of the current box's volume closed by leaves */
  proof_emit_stats s;
  cb_error err;
} prun;

static int prun_init(emit *E, prun *R, const char *out, int look, int k, cb_error *err)
{
  size_t nx = E->spec->nx, cmax = 1;
  for (size_t b = 0; b < E->spec->n_box; b++) if (E->spec->box[b].n_conj > cmax) cmax = E->spec->box[b].n_conj;
  R->look = look;
  R->cap = (size_t)E->max_depth + 4;
  R->row0 = cb_alloc(2 * (cmax + 1) * sizeof *R->row0);
  R->st = cb_calloc(R->cap, sizeof *R->st);
  R->mem = cb_alloc(2 * nx * R->cap * sizeof *R->mem + 1);
  R->tmp = cb_alloc(strlen(out) + 32);
  if (!R->row0 || !R->st || !R->mem || !R->tmp) return cb_error_set(err, CB_ENOMEM, "out of memory");
  R->sum0 = R->row0 + cmax + 1;
  for (size_t k2 = 0; k2 < R->cap; k2++) { R->st[k2].lo = R->mem + 2 * nx * k2; R->st[k2].hi = R->st[k2].lo + nx; }
  snprintf(R->tmp, strlen(out) + 32, "%s.tmp%ld.%d", out, (long)getpid(), k);
  if (!(R->f = fopen(R->tmp, "w"))) return cb_error_set(err, CB_EIO, "%s: cannot write", out);
  return CB_OK;
}

static void prun_free(prun *R)
{
  if (R->f) { fclose(R->f); remove(R->tmp); }
  cb_free(R->row0); cb_free(R->st); cb_free(R->mem); cb_free(R->tmp);
}

static int relu_depth = PROOF_RELU_DEPTH;
void proof_emit_relu_depth(int d) { relu_depth = d == -2 ? PROOF_RELU_DEPTH : d; }


/* The ReLU route (proof_relu.c) on box x, whose CROWN bounds E->ws holds:
   tried when at most RELU_LEAF signs are unknown and the run's searches
   have not wasted more than twice the useful states plus RELU_BASE
   (verify's rule, vfy_relu.c); *leaf 1 when the subtree is written. */
#define RELU_LEAF 100
#define RELU_BASE 20000
static int relu_route(emit *E, prun *R, size_t b, const pbox *x, int *leaf, cb_error *err)
{
  long states = 0, l0 = R->s.leaves;
  char why[320];
  int u = ws_unknown_relus(E->ws), rc;
  *leaf = 0;
  if (!E->relu || relu_depth < 0 || x->depth < relu_depth || u > RELU_LEAF || R->rs_wasted > 2 * R->rs_useful + RELU_BASE) return CB_OK;
  R->s.relu_tries++;
  rc = proof_relu_box(E->net, E->spec, E->P, E->ws, b, x->lo, x->hi, E->timeout - (cpu_s() - E->c0), R->f, &R->s.leaves,
                      &states, why, sizeof why, err);
  if (rc < 0) return rc;
  R->s.relu_states += states;
  if (rc == 0) { R->rs_wasted += states; return CB_OK; }
  R->rs_useful += states;
  R->s.relu_boxes++;
  R->s.relu_leaves += R->s.leaves - l0;
  *leaf = 1;
  return CB_OK;
}

/* One step of run R: open its next box, or pop one box and write it as a
   leaf (confirmed by the exact test) or split it. */
static int prun_step(emit *E, prun *R, cb_error *err)
{
  size_t nx = E->spec->nx, b = R->b, worst;
  const vnn_box *B;
  pbox *st = R->st, *x = &st[R->cap - 1];   /* scratch: the popped box */
  int rc, refuted, leaf = 0, dim = 0;
  if (b >= E->spec->n_box) { fprintf(R->f, "end\n"); R->state = 1; return CB_OK; }
  B = &E->spec->box[b];
  E->f = R->f; E->st = &R->s; E->look = R->look;
  R->q = stack_rows(E, b, R->row0, R->sum0);   /* E->C is shared by the runs: restacked each step (a few rows) */
  if (!R->inbox) {
    fprintf(R->f, "box %zu\n", b);
    memcpy(st[0].lo, B->lo, nx * sizeof *R->mem);
    memcpy(st[0].hi, B->hi, nx * sizeof *R->mem);
    st[0].depth = 0;
    R->top = 1; R->inbox = 1; R->done = 0;
    return CB_OK;
  }
  if (!R->top) { R->inbox = 0; R->b++; return CB_OK; }
  R->top--;
  memcpy(x->lo, st[R->top].lo, 2 * nx * sizeof *R->mem);
  x->depth = st[R->top].depth;
  if ((rc = crown_box(E, b, R->row0, R->sum0, R->q, x, &refuted, &worst, NULL, err)) != CB_OK) return rc;
  if (refuted) {
    int ok = pchk_leaf_auto(E->P, b, x->lo, x->hi, NULL, 0, NULL, E->pick);
    if (ok < 0) return cb_error_set(err, ok, "out of memory");
    if (ok) leaf = 1;
    else R->s.rejected++;
  }
  if (!leaf && (rc = lp_leaf(E, b, x, &leaf, err)) != CB_OK) return rc;
  if (leaf) { write_leaf(E, b); R->done += ldexp(1, -x->depth); return CB_OK; }
  if ((rc = relu_route(E, R, b, x, &leaf, err)) != CB_OK) return rc;
  if (leaf) { R->done += ldexp(1, -x->depth); return CB_OK; }
  if (x->depth >= E->max_depth) return cb_error_set(err, CB_EVALUE, "a box at depth %d is not refuted by CROWN in exact arithmetic", x->depth);
  if ((rc = choose_dim(E, x, B->lo, B->hi, worst, &dim, err)) != CB_OK) return rc;
  if (E->ncand > 1 && E->look) {   /* strong branching over the candidates: the top slot of the stack as scratch */
    pbox *h = &st[R->top];
    double bestv = -HUGE_VAL;
    size_t wk;
    for (int c = 0; c < E->ncand; c++) {
      int d = E->cand[c], rf;
      double mid = x->lo[d] + 0.5 * (x->hi[d] - x->lo[d]), v = 0, m;
      for (int side = 0; side < 2; side++) {
        memcpy(h->lo, x->lo, 2 * nx * sizeof *R->mem);
        if (side) h->lo[d] = mid; else h->hi[d] = mid;
        if ((rc = crown_box(E, b, R->row0, R->sum0, R->q, h, &rf, &wk, &m, err)) != CB_OK) return rc;
        v += fmax(fmin(m, 0), -1e300);   /* a refuted half counts as 0 */
      }
      if (v > bestv) { bestv = v; dim = d; }
    }
    {   /* the widest-dimension rule of choose_dim holds for the chosen one too */
      double rel = x->hi[dim] - x->lo[dim], rr = B->hi[dim] - B->lo[dim];
      if (E->bw > 256 * (rr > 0 ? rel / rr : 0)) dim = E->wide;
    }
  }
  {
    double mid = x->lo[dim] + 0.5 * (x->hi[dim] - x->lo[dim]);
    pbox *r = &st[R->top], *l = &st[R->top + 1];   /* the right half below the left: the left is popped first */
    memcpy(r->lo, x->lo, 2 * nx * sizeof *R->mem);
    memcpy(l->lo, x->lo, 2 * nx * sizeof *R->mem);
    r->lo[dim] = mid;
    l->hi[dim] = mid;
    l->depth = r->depth = x->depth + 1;
    if (r->depth > R->s.depth) R->s.depth = r->depth;
    fprintf(R->f, "split %d %a %a\n", dim, mid, mid);
    R->s.splits++;
    R->top += 2;
  }
  return CB_OK;
}

/* Which run takes the next step.  Neither split rule is better on every
   instance (bench/RESULTS_vnncomp.md, sessions 9-10: strong branching
   writes 2.6-6x fewer leaves on 4_7, 4_9, 5_8, 2_8 prop 1 but runs out of
   time on 3_6, 3_7, 3_9 prop 1 and 1_1 prop 2, where choose_dim's rule
   alone takes 10-40 s).  So both run, interleaved step by step: equal CPU
   shares until WARM of the budget is spent, then the run whose remaining
   time, estimated from the fraction of its box volume closed (each leaf at
   depth d closes 2^-d), is smaller gets the CPU, the other keeping at least
   MINSHARE of it.  The first to finish writes the proof. */
#define WARM 0.1
#define MINSHARE 0.1

static double prun_left(const emit *E, const prun *R)
{
  double p = ((double)R->b + (R->inbox ? R->done : 0)) / (double)(E->spec->n_box ? E->spec->n_box : 1);
  return p > 0 ? R->cpu * (1 - p) / p : HUGE_VAL;
}

static int pick_run(const emit *E, const prun *R, double timeout)
{
  double tot = R[0].cpu + R[1].cpu;
  int fav, oth;
  if (R[0].state) return 1;
  if (R[1].state) return 0;
  if (tot < WARM * timeout) return R[1].cpu < R[0].cpu;
  fav = prun_left(E, &R[1]) < prun_left(E, &R[0]);
  oth = !fav;
  return R[oth].cpu < MINSHARE * tot ? oth : fav;
}

int proof_emit(const cb_net *net, const vnn_spec *spec, const char *net_path, const char *prop_path, const char *out,
               double timeout, int max_depth, int normalised, proof_emit_stats *st, cb_error *err)
{
  emit E = {net, spec};
  cb_bnet bn;
  int rc, have_bn = 0, win = -1;
  char hn[65] = "", hp[65] = "";
  size_t qmax = 1, cmax = 1, nx = spec->nx, ny = spec->ny;
  cb_set root = {CB_NORM_BOX, 0, nx, NULL, NULL, NULL};
  prun R[2];
  memset(R, 0, sizeof R);
  memset(st, 0, sizeof *st);
  E.st = st; E.relu = 1; E.t0 = now_s(); E.c0 = cpu_s(); E.timeout = timeout; E.max_depth = max_depth > 0 ? max_depth : 64;
  if (E.max_depth > PROOF_MAX_DEPTH) E.max_depth = PROOF_MAX_DEPTH;
  if ((rc = sha256_file(net_path, hn, err)) != CB_OK || (rc = sha256_file(prop_path, hp, err)) != CB_OK) return rc;
  if ((rc = pchk_new(net, spec, &E.P, err)) != CB_OK) return rc;
  for (size_t b = 0; b < spec->n_box; b++) {
    size_t q = 0;
    for (size_t c = 0; c < spec->box[b].n_conj; c++) q += spec->box[b].conj[c].m;
    q += spec->box[b].n_conj;   /* the sums */
    if (q > qmax) qmax = q;
    if (spec->box[b].n_conj > cmax) cmax = spec->box[b].n_conj;
  }
  E.C = cb_alloc(qmax * ny * sizeof *E.C);
  E.lb = cb_alloc(qmax * sizeof *E.lb);
  E.lin = cb_alloc((nx + 1) * sizeof *E.lin);
  E.row = cb_alloc((ny + 1) * sizeof *E.row);
  E.pick = cb_alloc(cmax * sizeof *E.pick);
  for (size_t b = 0; b < spec->n_box; b++)
    for (size_t c = 0; c < spec->box[b].n_conj; c++) if (spec->box[b].conj[c].m > E.mmax) E.mmax = spec->box[b].conj[c].m;
  if (!E.mmax) E.mmax = 1;
  E.lam = cb_calloc(cmax * E.mmax, sizeof *E.lam);
  E.la = cb_alloc(E.mmax * nx * sizeof *E.la);
  E.lc = cb_alloc(E.mmax * sizeof *E.lc);
  E.lx = cb_alloc((nx + 1) * sizeof *E.lx);
  E.negA = cb_alloc(E.mmax * ny * sizeof *E.negA);
  E.llin = cb_alloc(E.mmax * nx * sizeof *E.llin);
  E.lout = cb_alloc(E.mmax * sizeof *E.lout);
  E.lamp = cb_calloc(cmax, sizeof *E.lamp);
  if (!E.C || !E.lb || !E.lin || !E.row || !E.pick || !E.lam || !E.la || !E.lc || !E.lx || !E.negA || !E.llin || !E.lout || !E.lamp) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  if ((rc = bnet_init(&bn, net, err)) != CB_OK) goto out;
  have_bn = 1;
  root.lo = spec->n_box ? spec->box[0].lo : NULL;
  root.hi = spec->n_box ? spec->box[0].hi : NULL;
  if (spec->n_box && !(E.ws = ws_new(&bn, &root, err))) { rc = err->status ? err->status : CB_ENOMEM; goto out; }
  /* two runs side by side (pick_run): R[0] choose_dim's rule alone, R[1]
     strong branching; every leaf of either is confirmed by the exact test */
  for (int k = 0; k < 2; k++) {
    if ((rc = prun_init(&E, &R[k], out, k, k, err)) != CB_OK) goto out;
    fprintf(R[k].f, "cerbere-proof %d\nnetwork-sha256 %s\nproperty-sha256 %s\ninput-space %s\nboxes %zu\n", PROOF_VERSION_WRITTEN, hn, hp,
            normalised ? "normalized" : "raw", spec->n_box);
  }
  while (win < 0) {
    int k;
    double c0;
    if (R[0].state < 0 && R[1].state < 0) {   /* both failed: the strong run's reason unless it is only the time */
      *err = R[R[1].err.status == CB_ELIMIT ? 0 : 1].err;
      rc = err->status;
      goto out;
    }
    if (cpu_s() - E.c0 > timeout) {
      rc = cb_error_set(err, CB_ELIMIT, "CPU time limit of %g s reached writing the proof (ReLU route: %ld + %ld of %ld + %ld boxes closed, %ld + %ld leaves)",
                        timeout, R[0].s.relu_boxes, R[1].s.relu_boxes, R[0].s.relu_tries, R[1].s.relu_tries, R[0].s.relu_leaves, R[1].s.relu_leaves);
      goto out;
    }
    k = pick_run(&E, R, timeout);
    c0 = cpu_s();
    rc = prun_step(&E, &R[k], &R[k].err);
    R[k].cpu += cpu_s() - c0;
    if (rc == CB_EVALUE || rc == CB_ELIMIT) { R[k].state = -1; continue; }   /* this rule cannot finish: the other goes on */
    if (rc != CB_OK) { *err = R[k].err; goto out; }
    if (R[k].state == 1) win = k;
  }
  *st = R[win].s;
  st->strong = win;
  st->cpu_rule[0] = R[0].cpu; st->cpu_rule[1] = R[1].cpu;
  st->bytes = ftell(R[win].f);
  rc = 0;
  if (st->relu_boxes && (fseek(R[win].f, 14, SEEK_SET) || fputc('0' + PROOF_VERSION, R[win].f) == EOF)) rc = -1;   /* "cerbere-proof 2" -> 3 */
  rc |= fclose(R[win].f);
  R[win].f = NULL;
  if (rc != 0) rc = cb_error_set(err, CB_EIO, "%s: write error", out);
  if (rc == CB_OK && rename(R[win].tmp, out) != 0) rc = cb_error_set(err, CB_EIO, "%s: cannot write", out);
  if (rc != CB_OK) remove(R[win].tmp);
out:
  prun_free(&R[0]); prun_free(&R[1]);
  st->seconds = now_s() - E.t0;
  st->cpu_seconds = cpu_s() - E.c0;
  ws_free(E.ws);
  if (have_bn) bnet_free(&bn);
  pchk_free(E.P);
  cb_free(E.C); cb_free(E.lb); cb_free(E.lin); cb_free(E.row); cb_free(E.pick);
  cb_free(E.lam); cb_free(E.la); cb_free(E.lc); cb_free(E.lx); cb_free(E.negA); cb_free(E.llin); cb_free(E.lout);
  cb_free((void *)E.lamp);
  return rc;
}
