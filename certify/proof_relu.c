/*
** verify --proof, the ReLU route (proof_emit.h): a box the emitter's input
** splitting does not close is handed to verify's ReLU search
** (vfy_relu_search), whose evidence is recorded through vfy_opts.prec: the
** split tree, per state the multipliers of its LP-tightened neuron bounds
** (TIGHTEN) and of its refuted conjunctions (CONJ: rows and split terms), and
** the states shown empty.  When the search closes the box, every leaf of its
** tree becomes a version-3 leaf (docs/proof-format.md): the path's splits,
** the tighten records of the leaf and all its ancestors (multipliers padded
** with zeros for later splits, zero for splits below the record's node),
** per conjunction the certificate of the nearest state that refuted it.
** The bounds written are the ones the checker re-derives from those
** multipliers (pchk_leaf3's derive mode, bound NaN); the leaf is then run
** again through the exact test with the written numbers, and only a tree
** whose every leaf is accepted is written.  The search proposes; the
** checker decides.  So that it proposes what the checker accepts, every
** state searches with the checker's own node boxes for its region
** (sync_boxes, the BOXES event), not the parent's inherited ones.  Cost: one
** search (at most relu_states states), one exact bound computation per
** state and two exact leaf tests per leaf.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "proof_emit.h"
#include "proofchk.h"
#include "vfy_int.h"

#define PR_POOL_MAX ((size_t)1 << 24)   /* doubles of recorded multipliers (128 MiB) before giving up */

typedef struct rnode {
  int parent, child[2];       /* child[0]: sig -1 (the checker's first child, z <= 0), child[1]: sig +1 */
  int node, sig, empty;
  size_t idx, t0, nt, c0, nc; /* this state's tighten and conj records (contiguous) */
} rnode;

typedef struct trec { int pre, hi; size_t idx, mu, ns; } trec;
typedef struct crec { size_t conj, lam, m, mu, ns; int has_mu; } crec;

typedef struct rrec {
  rnode *n; size_t nn, cn;
  trec *t; size_t nt, ct;
  crec *c; size_t ncr, cc;
  double *pool; size_t np, cp;
  int cur, bad;               /* the state the events are about; bad: out of memory / out of order */
  pchk *P;                    /* BOXES: the checker, the box, and scratch for the path's records */
  const cb_net *net;
  const double *lo, *hi;
  int path[PROOF_MAX_DEPTH];
  pchk_split sp[PROOF_MAX_DEPTH];
  pchk_tighten *tt;
  double *mus;
  size_t ttcap, mucap;
  long synced;                /* states whose boxes are the checker's */
} rrec;

static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
  size_t c = *cap ? *cap : 64;
  void *q;
  if (need <= *cap) return 0;
  while (c < need) c *= 2;
  if (!(q = cb_alloc(c * sz))) return -1;
  if (*cap) memcpy(q, *p, *cap * sz);
  cb_free(*p);
  *p = q; *cap = c;
  return 0;
}

static size_t pool_put(rrec *R, const double *v, size_t n)
{
  size_t at = R->np;
  if (R->np + n > PR_POOL_MAX || grow((void **)&R->pool, &R->cp, R->np + n + 1, sizeof *R->pool)) { R->bad = 1; return 0; }
  for (size_t k = 0; k < n; k++) R->pool[at + k] = v ? v[k] : 0;
  R->np += n;
  return at;
}

/* The tighten records of the states path[0..d] (d splits, sp) as the
   checker takes them: derive mode (bound NaN), multipliers padded with
   zeros for the later splits and zero for a split below the record's node;
   into *tt (multipliers in *mus, room for `extra` more rows of d after
   them), got[k] (NULL: none) receiving record k's re-derived bound.  The
   count, or -1 (memory). */
static long path_records(const rrec *R, const int *path, size_t d, const pchk_split *sp, size_t extra, pchk_tighten **tt,
                         size_t *ttcap, double **mus, size_t *mucap, double *got)
{
  size_t ntt = 0, nm = 0;
  for (size_t k = 0; k <= d; k++) ntt += R->n[path[k]].nt;
  if (grow((void **)tt, ttcap, ntt + 1, sizeof **tt) || grow((void **)mus, mucap, (ntt + extra + 1) * (d + 1), sizeof **mus))
    return -1;
  ntt = 0;
  for (size_t k = 0; k <= d; k++) {
    const rnode *N = &R->n[path[k]];
    for (size_t t = N->t0; t < N->t0 + N->nt; t++) {
      const trec *T = &R->t[t];
      double *mu = *mus + nm;
      for (size_t q = 0; q < d; q++) mu[q] = q < T->ns && sp[q].node <= T->pre + 1 && R->pool[T->mu + q] > 0 ? R->pool[T->mu + q] : 0;
      nm += d;
      (*tt)[ntt] = (pchk_tighten){T->pre + 1, T->hi, 0, T->idx, NAN, mu, got ? &got[ntt] : NULL};
      ntt++;
    }
  }
  return (long)ntt;
}

/* BOXES: the state's node boxes become the checker's (pchk_bounds on the
   path's splits and records), so that the search refutes with bounds the
   checker rebuilds: where the checker leaves a ReLU input of unknown sign,
   its box replaces the search's (which may be tighter: inherited from the
   parent states, CROWN run on other intermediate boxes); where it fixes
   the sign, the two boxes are intersected (a stable ReLU is exact either
   way).  zmax only grows.  Nothing changes when the checker fails. */
static void sync_boxes(rrec *R, const vfy_prec *p)
{
  const cb_net *net = R->net;
  cb_ws *ws = p->ws;
  double *const *blo, *const *bhi;
  size_t d = 0;
  long ntt;
  int ok;
  for (int s = R->cur; s > 0; s = R->n[s].parent) d++;
  if (d + 1 >= PROOF_MAX_DEPTH) return;
  for (int s = R->cur, k = (int)d; k >= 0; s = R->n[s].parent, k--) R->path[k] = s;
  for (size_t k = 0; k < d; k++) {
    const rnode *C = &R->n[R->path[k + 1]];
    R->sp[k] = (pchk_split){C->node, C->idx, C->sig};
  }
  if ((ntt = path_records(R, R->path, d, R->sp, 0, &R->tt, &R->ttcap, &R->mus, &R->mucap, NULL)) < 0) { R->bad = 1; return; }
  ok = pchk_bounds(R->P, R->lo, R->hi, R->sp, d, R->tt, (size_t)ntt, &blo, &bhi);
  if (ok == 0) { *p->ret = 1; return; }
  if (ok < 0) return;
  R->synced++;
  for (int i = 0; i < net->n; i++) {
    int pre = net->node[i].in[0];
    if (!node_is_act(&net->node[i], CB_ACT_RELU)) continue;
    for (size_t j = 0; j < net->node[pre].size; j++) {
      double cl = blo[pre][j], ch = bhi[pre][j];
      if (!(cl < 0 && ch > 0)) {
        cl = fmax(cl, ws->lo[pre][j]);
        ch = fmin(ch, ws->hi[pre][j]);
        if (cl > ch) cl = blo[pre][j], ch = bhi[pre][j];
      }
      ws->lo[pre][j] = cl;
      ws->hi[pre][j] = ch;
      ws->zmax[pre][j] = fmax(ws->zmax[pre][j], fmax(-cl, ch));
    }
  }
}

/* The vfy_opts.prec callback. */
static void on_prec(void *ctx, const vfy_prec *p)
{
  rrec *R = ctx;
  rnode *cur;
  if (R->bad) return;
  if (p->ev == VFY_PREC_LEAVE) { R->cur = R->n[R->cur].parent; return; }
  if (p->ev == VFY_PREC_BOXES) { sync_boxes(R, p); return; }
  if (p->ev == VFY_PREC_ENTER) {
    int k = p->sig > 0;
    if (grow((void **)&R->n, &R->cn, R->nn + 1, sizeof *R->n)) { R->bad = 1; return; }
    if (R->n[R->cur].child[k] >= 0) { R->bad = 1; return; }   /* a state entered twice: not a tree */
    R->n[R->nn] = (rnode){R->cur, {-1, -1}, p->node, p->sig, 0, p->idx, 0, 0, 0, 0};
    R->n[R->cur].child[k] = (int)R->nn;
    R->cur = (int)R->nn++;
    return;
  }
  cur = &R->n[R->cur];
  if (p->ev == VFY_PREC_EMPTY) { cur->empty = 1; return; }
  if (p->ev == VFY_PREC_TIGHTEN) {
    if (grow((void **)&R->t, &R->ct, R->nt + 1, sizeof *R->t)) { R->bad = 1; return; }
    if (!cur->nt) cur->t0 = R->nt;
    if (cur->t0 + cur->nt != R->nt) { R->bad = 1; return; }
    R->t[R->nt++] = (trec){p->node, p->sig, p->idx, pool_put(R, p->mu, p->ns), p->ns};
    cur->nt++;
    return;
  }
  if (p->ev == VFY_PREC_CONJ) {
    if (grow((void **)&R->c, &R->cc, R->ncr + 1, sizeof *R->c)) { R->bad = 1; return; }
    if (!cur->nc) cur->c0 = R->ncr;
    if (cur->c0 + cur->nc != R->ncr) { R->bad = 1; return; }
    R->c[R->ncr].conj = p->conj;
    R->c[R->ncr].m = p->m;
    R->c[R->ncr].lam = pool_put(R, p->lam, p->m);
    R->c[R->ncr].has_mu = p->mu != NULL;
    R->c[R->ncr].ns = p->ns;
    R->c[R->ncr].mu = p->mu ? pool_put(R, p->mu, p->ns) : 0;
    if (p->mu && !R->bad) {   /* rows all weighed 0 (the split terms alone refute: an empty region): the
                                 checker wants a positive row weight, so each row gets a tiny one */
      double any = 0, mx = 1;
      for (size_t r = 0; r < p->m; r++) any = fmax(any, R->pool[R->c[R->ncr].lam + r]);
      for (size_t q = 0; q < p->ns; q++) mx = fmax(mx, p->mu[q]);
      if (!(any > 0)) for (size_t r = 0; r < p->m; r++) R->pool[R->c[R->ncr].lam + r] = ldexp(mx, -30);
    }
    R->ncr++;
    cur->nc++;
  }
}

/* Writing the recorded tree: the path so far and per-leaf scratch. */
typedef struct rwrite {
  const vnn_spec *spec;
  pchk *P;
  rrec *R;
  FILE *f;
  size_t b;
  const double *lo, *hi;
  long *leaf;
  int path[PROOF_MAX_DEPTH];
  pchk_split sp[PROOF_MAX_DEPTH];
  pchk_tighten *tt;
  double *mus, *got, *betas, *ones;
  const double **lam, **beta;
  size_t ttcap, mucap, gotcap;
  char why[320];
} rwrite;

/* Records by node, neuron and side, the tightest bound first (then file order). */
static int rec_cmp(const void *a, const void *b)
{
  const pchk_tighten *x = a, *y = b;
  if (x->node != y->node) return x->node < y->node ? -1 : 1;
  if (x->idx != y->idx) return x->idx < y->idx ? -1 : 1;
  if (x->side != y->side) return x->side < y->side ? -1 : 1;
  if (x->bound != y->bound) return (x->side ? x->bound < y->bound : x->bound > y->bound) ? -1 : 1;
  return x->mu < y->mu ? -1 : x->mu > y->mu;
}

/* One multiplier: 0 as "0" (most are), others in hexadecimal. */
static void put_mult(FILE *f, double v)
{
  if (v == 0) fputs(" 0", f);
  else fprintf(f, " %a", v);
}

/* Leaf at the state W->path[d], d splits deep: 1 written, 0 rejected (why), < 0 status. */
static int write_rleaf(rwrite *W, size_t d)
{
  const rrec *R = W->R;
  const vnn_box *B = &W->spec->box[W->b];
  size_t ntt = 0, nm, nc = B->n_conj;
  int empty = 0, ok;
  long got;
  for (size_t k = 0; k <= d; k++) ntt += R->n[W->path[k]].nt, empty |= R->n[W->path[k]].empty;
  if (grow((void **)&W->got, &W->gotcap, ntt + 1, sizeof *W->got) ||
      (got = path_records(R, W->path, d, W->sp, nc, &W->tt, &W->ttcap, &W->mus, &W->mucap, W->got)) < 0)
    return CB_ENOMEM;
  ntt = (size_t)got;
  nm = ntt * d;
  for (size_t c = 0; c < nc; c++) {   /* the nearest state that refuted c */
    const crec *C = NULL;
    for (size_t k = d + 1; k-- > 0 && !C;) {
      const rnode *N = &R->n[W->path[k]];
      for (size_t q = N->c0; q < N->c0 + N->nc; q++) if (R->c[q].conj == c) C = &R->c[q];
    }
    W->beta[c] = NULL;
    if (!C) {
      if (!empty) { snprintf(W->why, sizeof W->why, "conjunction %zu has no certificate on the search's state", c); return 0; }
      W->lam[c] = W->ones;
      continue;
    }
    if (C->m != B->conj[c].m) { snprintf(W->why, sizeof W->why, "conjunction %zu: row count differs", c); return 0; }
    W->lam[c] = R->pool + C->lam;
    if (C->has_mu && d) {
      double *be = W->mus + nm;
      for (size_t q = 0; q < d; q++) be[q] = q < C->ns && R->pool[C->mu + q] > 0 ? R->pool[C->mu + q] : 0;
      nm += d;
      W->beta[c] = be;
    }
  }
  ok = pchk_leaf3(W->P, W->b, W->lo, W->hi, W->sp, d, W->tt, ntt, W->lam, W->beta, W->why, sizeof W->why);
  if (ok <= 0) return ok;
  {   /* the numbers to write: the re-derived bounds (records that derived none are left out), checked again */
    size_t w = 0, all;
    for (size_t t = 0; t < ntt; t++) {
      if (!isfinite(W->got[t])) continue;
      W->tt[w] = W->tt[t];
      W->tt[w].bound = W->got[t];
      W->tt[w].got = NULL;
      w++;
    }
    ntt = all = w;
    if (ntt > 1) {   /* only the tightest record per neuron and side: derived again alone, else all are kept */
      qsort(W->tt, ntt, sizeof *W->tt, rec_cmp);
      for (size_t t = w = 0; t < ntt; t++)
        if (!w || W->tt[t].node != W->tt[w - 1].node || W->tt[t].idx != W->tt[w - 1].idx || W->tt[t].side != W->tt[w - 1].side)
          W->tt[w++] = W->tt[t];
      for (size_t t = w; t < ntt; t++) W->tt[t].got = NULL;   /* kept after the w used, for the fallback */
      for (size_t t = 0; t < w; t++) W->tt[t].got = &W->got[t], W->tt[t].bound = NAN;
      ok = pchk_leaf3(W->P, W->b, W->lo, W->hi, W->sp, d, W->tt, w, W->lam, W->beta, W->why, sizeof W->why);
      if (ok < 0) return ok;
      for (size_t t = 0; t < w; t++) W->tt[t].got = NULL, W->tt[t].bound = isfinite(W->got[t]) ? W->got[t] : NAN;
      for (size_t t = 0; ok && t < w; t++) ok = isfinite(W->tt[t].bound);
      if (ok) ok = pchk_leaf3(W->P, W->b, W->lo, W->hi, W->sp, d, W->tt, w, W->lam, W->beta, W->why, sizeof W->why);
      if (ok < 0) return ok;
      if (ok) ntt = w;
      else {   /* all of them again, as first derived */
        if ((got = path_records(R, W->path, d, W->sp, nc, &W->tt, &W->ttcap, &W->mus, &W->mucap, W->got)) < 0) return CB_ENOMEM;
        ok = pchk_leaf3(W->P, W->b, W->lo, W->hi, W->sp, d, W->tt, (size_t)got, W->lam, W->beta, W->why, sizeof W->why);
        if (ok <= 0) return ok;
        for (size_t t = w = 0; t < (size_t)got; t++)
          if (isfinite(W->got[t])) W->tt[w] = W->tt[t], W->tt[w].bound = W->got[t], W->tt[w].got = NULL, w++;
        ntt = w;
        (void)all;
      }
    }
  }
  ok = pchk_leaf3(W->P, W->b, W->lo, W->hi, W->sp, d, W->tt, ntt, W->lam, W->beta, W->why, sizeof W->why);
  if (ok <= 0) return ok;
  fprintf(W->f, "leaf %ld\n", (*W->leaf)++);
  for (size_t t = 0; t < ntt; t++) {
    fprintf(W->f, "tighten %d %zu %s %a", W->tt[t].node, W->tt[t].idx, W->tt[t].side ? "hi" : "lo", W->tt[t].bound);
    for (size_t q = 0; q < d; q++) put_mult(W->f, W->tt[t].mu[q]);
    fputc('\n', W->f);
  }
  for (size_t c = 0; c < nc; c++) {
    fprintf(W->f, "conj %zu", c);
    for (size_t r = 0; r < B->conj[c].m; r++) fprintf(W->f, " %a", W->lam[c][r] > 0 ? W->lam[c][r] : 0.0);
    fputc('\n', W->f);
    if (W->beta[c]) {
      fputs("beta", W->f);
      for (size_t q = 0; q < d; q++) put_mult(W->f, W->beta[c][q]);
      fputc('\n', W->f);
    }
  }
  return 1;
}

/* The subtree of state s (d splits deep), in the checker's order. */
static int write_rtree(rwrite *W, int s, size_t d)
{
  const rnode *N = &W->R->n[s];
  int rc;
  W->path[d] = s;
  if (N->child[0] < 0 && N->child[1] < 0) return write_rleaf(W, d);
  if (N->child[0] < 0 || N->child[1] < 0 || d + 1 >= PROOF_MAX_DEPTH) { snprintf(W->why, sizeof W->why, "a split with one child"); return 0; }
  {
    const rnode *L = &W->R->n[N->child[0]];
    fprintf(W->f, "relu %d %zu\n", L->node, L->idx);
    for (int k = 0; k < 2; k++) {
      const rnode *C = &W->R->n[N->child[k]];
      W->sp[d] = (pchk_split){C->node, C->idx, C->sig};
      if ((rc = write_rtree(W, N->child[k], d + 1)) <= 0) return rc;
    }
  }
  return 1;
}

int proof_relu_box(const cb_net *net, const vnn_spec *spec, pchk *P, cb_ws *ws, size_t b, const double *lo, const double *hi,
                   double budget, FILE *f, long *leaf, long *states, char *why, size_t nwhy, cb_error *err)
{
  const vnn_box *B = &spec->box[b];
  vfy_opts o;
  vfy_result res;
  vfy_prof prof;
  search S;
  item it;
  rrec R;
  rwrite *W = NULL;
  rres rr;
  unsigned char act[256];
  double *x = NULL;
  long pos = ftell(f), leaf0 = *leaf;
  int rc = 0;
  size_t mmax = 1;
  memset(&R, 0, sizeof R);
  memset(&S, 0, sizeof S);
  memset(&res, 0, sizeof res);
  memset(&prof, 0, sizeof prof);
  *states = 0;
  snprintf(why, nwhy, "the ReLU search left the box open");
  if (B->n_conj > sizeof act || pos < 0) return 0;
  vfy_opts_init(&o);
  o.prec = on_prec;
  o.prec_ctx = &R;
  S.net = net; S.spec = spec; S.o = &o; S.r = &res; S.prior = 1;
  for (int i = 0; i < net->n; i++) S.nb += net->node[i].size;
  S.t0 = vfy_now();
  S.deadline = budget;
  memset(act, 1, sizeof act);
  it = (item){b, 0, (double *)lo, (double *)hi, act, 0, 0, NULL, NULL};
  if (grow((void **)&R.n, &R.cn, 1, sizeof *R.n) || !(x = cb_alloc((spec->nx + 1) * sizeof *x))) { rc = CB_ENOMEM; goto out; }
  R.P = P; R.net = net; R.lo = lo; R.hi = hi;
  R.n[0] = (rnode){-1, {-1, -1}, 0, 0, 0, 0, 0, 0, 0, 0};
  R.nn = 1;
  rr = vfy_relu_search(&S, ws, &it, x, states, &prof, err);
  if (rr == R_ERR) { rc = err->status ? err->status : CB_EINTERNAL; goto out; }
  if (rr != R_CLOSED) goto out;
  if (R.bad || R.cur != 0) { snprintf(why, nwhy, "the ReLU search's record is incomplete (memory)"); goto out; }
  for (size_t c = 0; c < B->n_conj; c++) if (B->conj[c].m > mmax) mmax = B->conj[c].m;
  if (!(W = cb_calloc(1, sizeof *W)) || !(W->lam = cb_calloc(B->n_conj + 1, sizeof *W->lam)) ||
      !(W->beta = cb_calloc(B->n_conj + 1, sizeof *W->beta)) || !(W->ones = cb_alloc(mmax * sizeof *W->ones))) {
    rc = CB_ENOMEM;
    goto out;
  }
  for (size_t r = 0; r < mmax; r++) W->ones[r] = 1;
  W->spec = spec; W->P = P; W->R = &R; W->f = f; W->b = b; W->lo = lo; W->hi = hi; W->leaf = leaf;
  rc = write_rtree(W, 0, 0);
  if (rc == 0) snprintf(why, nwhy, "%s", W->why);
out:
  if (rc <= 0) {   /* nothing of this box stays in the file */
    *leaf = leaf0;
    if (fflush(f) || ftruncate(fileno(f), pos) || fseek(f, pos, SEEK_SET)) rc = cb_error_set(err, CB_EIO, "cannot rewind the proof file");
  }
  if (rc == CB_ENOMEM) rc = cb_error_set(err, CB_ENOMEM, "out of memory");
  if (W) { cb_free(W->tt); cb_free(W->mus); cb_free(W->got); cb_free((void *)W->lam); cb_free((void *)W->beta); cb_free(W->ones); }
  cb_free(W);
  cb_free(R.n); cb_free(R.t); cb_free(R.c); cb_free(R.pool); cb_free(R.tt); cb_free(R.mus); cb_free(x);
  vfy_result_free(&res);
  return rc;
}
