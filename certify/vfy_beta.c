/*
** beta-CROWN branch and bound over ReLU splits inside one input box
** (vfy_int.h), for high-dimensional inputs (above VFY_LOW_DIM), where the
** depth-first ReLU search of vfy_relu.c spends its time in GLPK.
**
** A subdomain is the box cut by a set of split half-spaces
** sig_s xhat_s >= 0 (xhat_s the input of a ReLU neuron).  Its bound:
**   1. node boxes: the parent's, with the newest split neuron's input box
**      clamped to [0, u] or [l, 0], every node after it re-bounded by CROWN
**      with those as a prior (bounds_run_from, as vfy_relu.c does): valid on
**      the region; a box with lo > hi shows the region empty;
**   2. the rows of the live conjunctions, bounded by alpha-CROWN with the
**      split constraints as Lagrangian terms beta >= 0 (alpha.c, beta-CROWN):
**      every iterate is a sound bound on the region (docs/soundness.md),
**      each row keeps its best; the optimisation stops once every live
**      conjunction is refuted (a row's lower bound above its right-hand
**      side, vfy_row_refutes);
**   3. an open subdomain: one CROWN pass of its worst row (the best beta
**      injected) gives the bound's minimiser over the box (a candidate
**      witness, checked exactly) and the matrices at the ReLUs for the
**      branching score (FSB over BaBSR candidates, vfy_fsb.c, with
**      --beta-fsb K > 0, the default; else choose_split: BaBSR in the first
**      layer with a neuron of unknown sign);
**   4. its two children inherit the node boxes and each row's beta (a warm
**      start; the new split's beta starts at 0).
** The queue is best-first: the subdomain whose parent had the worst margin
** first; past half of the memory cap, the deepest first (depth first keeps
** the queue from growing).  Counterexamples: the bound's minimiser of each
** open subdomain, and PGD (attack.h) started from it on the subdomains whose
** margin is within a tenth of the root's, while the attack has used less
** than a fifth of the time; before the root's alpha-CROWN, the root probe
** (each row's plain CROWN minimiser, and PGD from it); once past
** VFY_BETA_STRONG_AT of the timeout, a long APGD over the box.  Every
** candidate goes through vfy_check_witness.
**
** Answers: R_CLOSED when every subdomain is refuted or empty; R_SAT with a
** checked witness; R_OPEN at the deadline, when the queue reaches its cap
** (the box goes back to input splitting), or when a subdomain with no ReLU
** of unknown sign left stays open (the network is affine there; the row
** bounds are not exact on the split region).  R_OPEN restores the box's own
** node boxes in ws.
**
** Sizes: MNIST 784 inputs, 2-9 layers of 100-1024 ReLUs, 9 rows; a
** subdomain holds the node boxes (2 x sum of node sizes doubles) and q x ns
** betas.
*/
#include <math.h>
#include <string.h>
#include "vfy_int.h"
#include "attack.h"

typedef struct bdom {     /* a subdomain: its splits, node boxes, live conjunctions, betas */
  double key;             /* the parent's margin (min over live conjunctions of the best row's
                             lower bound minus its right-hand side): the smallest is bounded first */
  int depth;              /* splits */
  double *box;            /* 2 nb: node boxes (lo then hi) valid on the region, newest split clamped */
  int *node, *sig;        /* depth: pre-activation node and sign of each split */
  size_t *idx;            /* depth: the neuron */
  double *beta;           /* q x depth: each row's multipliers (warm start) */
  unsigned char *act;     /* n_conj: live conjunctions */
} bdom;

typedef struct beng {
  const search *S;
  cb_ws *ws;
  const item *it;
  cb_error *err;
  const vnn_box *B;
  size_t q, nc, nx, ny, nb;
  bdom **Q;               /* the open subdomains */
  size_t nq, cap;
  double **pl;            /* 2 n pointers into a box */
  double *root;           /* 2 nb: the input box's node boxes (restored on R_OPEN) */
  double *C, *ub, *beta;  /* live rows (-A): q x ny; their upper bounds; q x ns betas */
  size_t *row;            /* live row k -> the box's row */
  double *x, *y, *pool;   /* candidate, its output; one-row pass matrices */
  double **keep, **inj;   /* per node: that pass's matrices; injected rows (1 x size at split nodes) */
  double root_margin;
  double pout;            /* worst_pass's bound of its row */
  double t_bound, t_branch, t_attack;   /* seconds (added to S->r at the end) */
  long qmax;              /* the largest queue */
  long leaves;            /* subdomains left open with no ReLU of unknown sign */
  int strong_done;        /* the long APGD attack ran */
  int wsrc;               /* R_SAT: vfy_result.beta_wsrc */
} beng;

/* ---- subdomains ---- */

static bdom *dom_new(const beng *E, int depth)
{
  size_t d = (size_t)depth;
  bdom *D = cb_alloc(sizeof *D + (2 * E->nb + E->q * d + 1) * sizeof(double) + d * (2 * sizeof(int) + sizeof(size_t)) + E->nc + 8);
  if (!D) return NULL;
  D->depth = depth;
  D->box = (double *)(D + 1);
  D->beta = D->box + 2 * E->nb;
  D->idx = (size_t *)(D->beta + E->q * d + 1);
  D->node = (int *)(D->idx + d);
  D->sig = D->node + d;
  D->act = (unsigned char *)(D->sig + d);
  return D;
}

static size_t dom_bytes(const beng *E, int depth)
{
  return sizeof(bdom) + (2 * E->nb + E->q * (size_t)depth + 1) * sizeof(double) + (size_t)depth * 16 + E->nc + 8;
}

/* The next subdomain: the smallest key, or past half the cap the deepest. */
static bdom *pop(beng *E)
{
  size_t b = 0;
  bdom *D;
  int deep = E->nq > E->cap / 2;
  for (size_t k = 1; k < E->nq; k++)
    if (deep ? E->Q[k]->depth > E->Q[b]->depth || (E->Q[k]->depth == E->Q[b]->depth && E->Q[k]->key < E->Q[b]->key)
             : E->Q[k]->key < E->Q[b]->key) b = k;
  D = E->Q[b];
  E->Q[b] = E->Q[--E->nq];
  return D;
}

/* ---- one subdomain ---- */

typedef struct dctx { const beng *E; const bdom *D; size_t qa; } dctx;

/* Is every live conjunction refuted by some row's bound (best: upper bounds of -A_r y)? */
static int all_refuted(const beng *E, const unsigned char *act, const double *best)
{
  size_t k = 0;
  for (size_t c = 0; c < E->nc; c++) {
    const vnn_conj *cj = &E->B->conj[c];
    int ref = 0;
    if (!act[c]) continue;
    for (size_t r = 0; r < cj->m; r++, k++) ref |= vfy_row_refutes(cj, r, -best[k]);
    if (!ref) return 0;
  }
  return 1;
}

/* alpha_opt.done: stop once refuted, or at the deadline (the best iterate so far is sound). */
static int opt_done(void *ctx, const double *best)
{
  const dctx *x = ctx;
  const search *S = x->E->S;
  return all_refuted(x->E, x->D->act, best) || vfy_now() - S->t0 > S->deadline || vfy_cancelled(S);
}

/* Node boxes of D on its region into ws: its boxes as they are before
   `first`, re-bounded from there on. */
static int load_boxes(beng *E, const bdom *D, int first)
{
  vfy_boxes_ptrs(E->S, D->box, E->pl);
  return bounds_run_from(E->ws, E->S->o->method, E->pl, E->pl + E->S->net->n, first, E->err);
}

/* Does some node box of ws have lo > hi (the region is empty)? */
static int region_empty(const beng *E)
{
  const cb_net *net = E->S->net;
  for (int i = 0; i < net->n; i++)
    for (size_t j = 0; j < net->node[i].size; j++) if (E->ws->lo[i][j] > E->ws->hi[i][j]) return 1;
  return 0;
}

/* The live rows of D (as -A, bounded from above) with their betas; returns their count. */
static size_t live_rows(beng *E, const bdom *D)
{
  size_t qa = 0, r0 = 0, ns = (size_t)D->depth, ny = E->ny;
  for (size_t c = 0; c < E->nc; c++) {
    const vnn_conj *cj = &E->B->conj[c];
    for (size_t r = 0; r < cj->m; r++, r0++) {
      if (!D->act[c]) continue;
      for (size_t j = 0; j < ny; j++) E->C[qa * ny + j] = -cj->A[r * ny + j];
      memcpy(E->beta + qa * ns, D->beta + r0 * ns, ns * sizeof *E->beta);
      E->row[qa++] = r0;
    }
  }
  return qa;
}

/* Step 2: the live rows' bounds by alpha/beta-CROWN into E->ub; refutes
   conjunctions in D->act; *margin: the worst live conjunction's best row
   bound minus its right-hand side; *worst: that row (among the live ones). */
static int bound_rows(beng *E, bdom *D, size_t *qa, double *margin, size_t *worst)
{
  const search *S = E->S;
  cb_alpha_opt o;
  dctx cx = {E, D, 0};
  size_t k = 0;
  int rc;
  *qa = cx.qa = live_rows(E, D);
  alpha_opt_init(&o);
  o.iters = D->depth ? S->o->beta_iters : 0;   /* the root: alpha_auto_iters, and the */
  o.interm = o.keep_interm = !D->depth;          /* intermediate bounds optimised and kept */
  o.nsplit = (size_t)D->depth;
  o.split_node = D->node; o.split_idx = D->idx; o.split_sig = D->sig;
  o.beta = E->beta;
  o.done = opt_done;
  o.ctx = &cx;
  if ((rc = alpha_spec(E->ws, E->C, *qa, &o, NULL, E->ub, E->err)) != CB_OK) return rc;
  *margin = INFINITY;
  *worst = 0;
  for (size_t c = 0; c < E->nc; c++) {
    const vnn_conj *cj = &E->B->conj[c];
    double mc = -INFINITY;
    size_t wr = k;
    if (!D->act[c]) continue;
    for (size_t r = 0; r < cj->m; r++, k++) {
      double m = -E->ub[k] - cj->b_up[r];
      if (vfy_row_refutes(cj, r, -E->ub[k])) D->act[c] = 0;
      if (m > mc) { mc = m; wr = k; }
    }
    if (D->act[c] && mc < *margin) { *margin = mc; *worst = wr; }
  }
  for (size_t j = 0; j < *qa; j++)   /* the best betas back, for the children */
    memcpy(D->beta + E->row[j] * (size_t)D->depth, E->beta + j * (size_t)D->depth, (size_t)D->depth * sizeof(double));
  return CB_OK;
}

/* Step 3: one CROWN pass of live row w with its best beta: E->keep holds its
   matrices, E->x the maximiser over the box of its linear bound (the
   minimiser of the row's lower bound), clamped into the inner box. */
static int worst_pass(beng *E, const bdom *D, size_t w)
{
  const cb_net *net = E->S->net;
  double out;
  size_t ns = (size_t)D->depth;
  int any = 0;
  for (int i = 0; i < net->n; i++) if (E->inj[i]) memset(E->inj[i], 0, net->node[i].size * sizeof(double));
  for (size_t s = 0; s < ns; s++) {
    double b = E->beta[w * ns + s];
    if (b > 0) { E->inj[D->node[s]][D->idx[s]] += b * D->sig[s]; any = 1; }
  }
  memset(E->keep, 0, (size_t)net->n * sizeof *E->keep);
  if (crown_pass_inj_ex(E->ws, net->output, E->C + w * E->ny, 1, NULL, any ? (const double *const *)E->inj : NULL,
                        E->keep, E->pool, &out, E->err) != CB_OK) return -1;
  E->pout = out;
  if (E->keep[0]) set_argmax(&E->ws->set, E->keep[0], E->x);
  else for (size_t j = 0; j < E->nx; j++) E->x[j] = 0.5 * (E->ws->set.lo[j] + E->ws->set.hi[j]);
  for (size_t j = 0; j < E->nx; j++) E->x[j] = fmin(fmax(E->x[j], E->B->lo_in[j]), E->B->hi_in[j]);
  return 0;
}

/*
** The branching rule (BaBSR, Bunel et al. 2020, "Branch and bound for
** piecewise linear neural network verification", Sec. 5.1): for each ReLU
** neuron of unknown sign, input box [l, u], and a = the worst row's
** coefficient of its output in the pass (E->keep at the ReLU node), the
** bound pays a * (-u l / (u - l)) for the upper line's intercept when a > 0
** (the row takes the upper line): splitting removes that term.  Ties and
** all-zero scores fall back to |a| min(u, -l), then to min(u, -l) (the
** widest relaxation).  Returns the ReLU node, or -1 when no ReLU of unknown
** sign is left; *idx the neuron.
*/
static int choose_split(const beng *E, size_t *idx)
{
  const cb_net *net = E->S->net;
  const cb_ws *ws = E->ws;
  double best = -1;
  int bi = -1;
  for (int i = 0; i < net->n; i++) {
    int p;
    const double *a;
    if (!node_is_act(&net->node[i], CB_ACT_RELU)) continue;
    p = net->node[i].in[0];
    a = E->keep[i];
    for (size_t j = 0; j < net->node[i].size; j++) {
      double l = ws->lo[p][j], u = ws->hi[p][j], aj = a ? a[j] : 0, s;
      if (!(l < 0 && u > 0)) continue;
      s = (aj > 0 ? aj * (-u * l / (u - l)) : 0) + 1e-3 * fabs(aj) * fmin(u, -l) + 1e-9 * fmin(u, -l);
      if (s > best) { best = s; bi = i; *idx = j; }
    }
    if (bi >= 0) return bi;   /* the first layer with a neuron of unknown sign */
  }
  return bi;
}

/* PGD from E->x on the live conjunctions act (a box around it: the whole
   inner box, started at x), 20 steps.  With `strong`: APGD (attack.h) over
   the inner box from its centre and one random start per conjunction, 100
   steps each, in rounds with fresh seeds until `budget` seconds have passed
   (checked after each conjunction: conv nets take seconds per round).  1: E->x is a checked
   witness; 0; negative: out of memory. */
static int pgd_from(beng *E, const unsigned char *act, int strong, double budget)
{
  const search *S = E->S;
  const vnn_box *B = E->B;
  cb_set set = {CB_NORM_INF, 0, E->nx, E->x, B->lo_in, B->hi_in};
  cb_attack_opt opt = {20, 0, S->o->seed, 0};
  double *xb = cb_alloc(E->nx * sizeof *xb), g, t0 = vfy_now();
  size_t c;
  int found = 0;
  cb_error err = {0};
  if (!xb) return CB_ENOMEM;
  for (size_t j = 0; j < E->nx; j++) set.eps = fmax(set.eps, B->hi_in[j] - B->lo_in[j]);
  if (strong) { set.norm = CB_NORM_BOX; set.center = NULL; set.eps = 0; opt = (cb_attack_opt){100, 1, S->o->seed + 1, 1}; }
  for (int round = 0; !found; round++) {
    for (size_t k = 0; k < E->nc && !found; k++) {
      const vnn_conj *cj = &B->conj[k];
      double d[64];
      if (!act[k] || !cj->m || cj->m > 64) continue;
      for (size_t r = 0; r < cj->m; r++) d[r] = -cj->b_dn[r];
      cb_error_clear(&err);
      if (attack_run(S->net, &set, cj->A, d, cj->m, CB_AGG_MAX, 0, &opt, xb, &g, &err) != CB_OK) continue;
      if (g <= 0 && vfy_check_witness(S->net, S->spec, E->it->box, xb, E->y, &c, &S->r->fp_only)) {
        memcpy(E->x, xb, E->nx * sizeof *xb);
        found = 1;
      }
      if (strong && (vfy_now() - t0 > budget || vfy_now() - S->t0 > S->deadline || vfy_cancelled(S))) break;
    }
    opt.seed += 0x9E3779B9u;
    if (!strong || vfy_now() - t0 > budget || vfy_now() - S->t0 > S->deadline || vfy_cancelled(S)) break;
  }
  cb_free(xb);
  E->t_attack += vfy_now() - t0;
  return found;
}

/* Pushes the two children of D splitting neuron j of ReLU node bi; the
   node boxes are ws's (D's, re-bounded), clamped.  CB_OK, 1 (the queue is
   full) or CB_ENOMEM. */
static int push_children(beng *E, const bdom *D, int bi, size_t j, double margin)
{
  const search *S = E->S;
  int p = S->net->node[bi].in[0], d = D->depth;
  size_t off = 0, q = E->q, ns = (size_t)d;
  for (int i = 0; i < p; i++) off += S->net->node[i].size;
  if (E->nq + 2 > E->cap) return 1;
  for (int sig = 1; sig >= -1; sig -= 2) {
    bdom *C = dom_new(E, d + 1);
    if (!C) return CB_ENOMEM;
    C->key = margin;
    vfy_boxes_out(S, E->ws, C->box);
    if (sig > 0) C->box[off + j] = 0; else C->box[E->nb + off + j] = 0;
    memcpy(C->node, D->node, ns * sizeof *C->node); C->node[d] = p;
    memcpy(C->idx, D->idx, ns * sizeof *C->idx); C->idx[d] = j;
    memcpy(C->sig, D->sig, ns * sizeof *C->sig); C->sig[d] = sig;
    for (size_t r = 0; r < q; r++) {
      memcpy(C->beta + r * (ns + 1), D->beta + r * ns, ns * sizeof(double));
      C->beta[r * (ns + 1) + ns] = 0;
    }
    memcpy(C->act, D->act, E->nc);
    E->Q[E->nq++] = C;
  }
  if ((long)E->nq > E->qmax) E->qmax = (long)E->nq;
  return CB_OK;
}

/* Before the root's alpha-CROWN optimisation (many iterations over every
   layer on deep nets): for each live row, the minimiser of its plain CROWN
   bound over the box (one pass), checked as a witness and then the start of
   a short PGD on the row's conjunction.  1: E->x a checked witness; 0; negative: an error. */
static int root_probe(beng *E, const bdom *D)
{
  const search *S = E->S;
  size_t qa = live_rows(E, D), c;
  unsigned char *one = cb_calloc(E->nc + 1, 1);
  int f = 0;
  if (!one) return CB_ENOMEM;
  for (size_t w = 0; w < qa && !f; w++) {
    double t0 = vfy_now();
    size_t k = 0, r0 = 0;
    if (vfy_now() - S->t0 > S->deadline || vfy_cancelled(S)) break;
    if (worst_pass(E, D, w) < 0) { f = CB_EINTERNAL; break; }
    if (vfy_check_witness(S->net, S->spec, E->it->box, E->x, E->y, &c, &S->r->fp_only)) f = 1;
    E->t_attack += vfy_now() - t0;   /* pgd_from counts its own */
    if (f) break;
    while (k < E->nc && r0 + E->B->conj[k].m <= E->row[w]) r0 += E->B->conj[k++].m;   /* row w's conjunction */
    if (k >= E->nc) continue;
    one[k] = 1;
    f = pgd_from(E, one, 0, 0);   /* PGD on that conjunction alone */
    one[k] = 0;
  }
  cb_free(one);
  return f;
}

/* Bounds D and applies the result: R_CLOSED (refuted or empty), R_SAT
   (E->x a checked witness), R_OPEN (children pushed, or a leaf left open),
   R_ERR; *full when the queue is full. */
static rres process(beng *E, bdom *D, int *full)
{
  const search *S = E->S;
  double margin, t0 = vfy_now(), t1;
  size_t qa, w, j = 0, c;
  int bi, pc;
  if (load_boxes(E, D, D->depth ? D->node[D->depth - 1] + 1 : S->net->n) != CB_OK) return R_ERR;
  if (region_empty(E)) { E->t_bound += vfy_now() - t0; return R_CLOSED; }
  if (!D->depth) {
    int f = root_probe(E, D);
    if (f < 0) { if (f == CB_ENOMEM) cb_error_set(E->err, CB_ENOMEM, "out of memory in the attack"); return R_ERR; }
    if (f) { E->wsrc = 2; return R_SAT; }
  }
  if (bound_rows(E, D, &qa, &margin, &w) != CB_OK) return R_ERR;
  t1 = vfy_now();
  E->t_bound += t1 - t0;
  if (margin == INFINITY) return R_CLOSED;
  if (w >= qa) { E->leaves++; return R_OPEN; }   /* a live conjunction without rows */
  if (!D->depth) { E->root_margin = margin; vfy_boxes_out(S, E->ws, E->root); }
  if (worst_pass(E, D, w) < 0) return R_ERR;
  if (vfy_check_witness(S->net, S->spec, E->it->box, E->x, E->y, &c, &S->r->fp_only)) { E->wsrc = 1; return R_SAT; }
  if (S->o->beta_fsb > 0) {
    bi = vfy_fsb_pick(E->ws, E->C + w * E->ny, D->depth ? (const double *const *)E->inj : NULL, E->keep,
                      S->o->beta_fsb, E->pout, VFY_FSB_FAVOUR, &j, E->err);
    if (bi == -2) return R_ERR;
  } else bi = choose_split(E, &j);
  E->t_branch += vfy_now() - t1;
  if ((margin > 0.1 * E->root_margin || !D->depth) && E->t_attack < 0.2 * (vfy_now() - S->t0)) {
    int f = pgd_from(E, D->act, 0, 0);
    if (f < 0) { cb_error_set(E->err, CB_ENOMEM, "out of memory in the attack"); return R_ERR; }
    if (f) { E->wsrc = 3; return R_SAT; }
  }
  if (bi < 0 || D->depth >= VFY_BETA_DEPTH) { E->leaves++; return R_OPEN; }
  if ((pc = push_children(E, D, bi, j, margin)) < 0) { cb_error_set(E->err, CB_ENOMEM, "out of memory"); return R_ERR; }
  *full = pc == 1;
  return R_OPEN;
}

/* ---- the search ---- */

static void eng_free(beng *E)
{
  const cb_net *net = E->S->net;
  while (E->Q && E->nq) cb_free(E->Q[--E->nq]);
  for (int i = 0; E->inj && i < net->n; i++) cb_free(E->inj[i]);
  cb_free(E->Q); cb_free(E->pl); cb_free(E->root); cb_free(E->C); cb_free(E->row); cb_free(E->pool);
  cb_free(E->keep); cb_free(E->inj);
}

/* Buffers, the queue (its cap from max_memory_mb, at depth 64) and the root subdomain. */
static int eng_alloc(beng *E)
{
  const search *S = E->S;
  const cb_net *net = S->net;
  size_t q = E->q, ny = E->ny, nx = E->nx;
  bdom *R;
  E->cap = (size_t)(S->o->max_memory_mb * 1048576.0 / (double)dom_bytes(E, 64));
  if (E->cap < 4) E->cap = 4;
  if (E->cap > ((size_t)1 << 24)) E->cap = (size_t)1 << 24;
  E->Q = cb_alloc(E->cap * sizeof *E->Q);
  E->pl = cb_alloc(2 * (size_t)net->n * sizeof *E->pl);
  E->root = cb_alloc(2 * E->nb * sizeof *E->root);
  E->C = cb_alloc((q * ny + q + q * (size_t)VFY_BETA_DEPTH + nx + ny + 1) * sizeof *E->C);
  E->row = cb_alloc((q + 1) * sizeof *E->row);
  E->pool = cb_alloc((crown_pool_size(net, net->output, 1) + 1) * sizeof *E->pool);
  E->keep = cb_calloc((size_t)net->n, sizeof *E->keep);
  E->inj = cb_calloc((size_t)net->n, sizeof *E->inj);
  if (!E->Q || !E->pl || !E->root || !E->C || !E->row || !E->pool || !E->keep || !E->inj) return CB_ENOMEM;
  E->ub = E->C + q * ny;
  E->beta = E->ub + q;
  E->x = E->beta + q * (size_t)VFY_BETA_DEPTH;
  E->y = E->x + nx;
  for (int i = 0; i < net->n; i++)
    if (node_is_act(&net->node[i], CB_ACT_RELU) && !E->inj[net->node[i].in[0]] &&
        !(E->inj[net->node[i].in[0]] = cb_alloc(net->node[net->node[i].in[0]].size * sizeof(double)))) return CB_ENOMEM;
  vfy_boxes_out(S, E->ws, E->root);
  if (!(R = dom_new(E, 0))) return CB_ENOMEM;
  R->key = 0;
  memcpy(R->box, E->root, 2 * E->nb * sizeof *R->box);
  memcpy(R->act, E->it->act, E->nc);
  E->Q[E->nq++] = R;
  return CB_OK;
}

/* The loop: R_CLOSED, R_SAT (E->x), R_ERR, or R_OPEN at the deadline, with
   the queue full, or with open leaves. */
static rres search_loop(beng *E, long *doms)
{
  const search *S = E->S;
  while (E->nq) {
    bdom *D;
    rres res;
    int full = 0;
    if (vfy_now() - S->t0 > S->deadline || vfy_cancelled(S)) return R_OPEN;
    if (!E->strong_done && *doms && vfy_now() - S->t0 > fmax(S->o->strong_after, VFY_BETA_STRONG_AT * S->o->timeout)) {
      int f;
      E->strong_done = 1;
      if ((f = pgd_from(E, E->it->act, 1, VFY_BETA_STRONG * S->o->timeout)) < 0) {
        cb_error_set(E->err, CB_ENOMEM, "out of memory in the attack");
        return R_ERR;
      }
      if (f) { E->wsrc = 4; return R_SAT; }
    }
    D = pop(E);
    res = process(E, D, &full);
    (*doms)++;
    cb_free(D);
    if (res == R_SAT || res == R_ERR || full) return full ? R_OPEN : res;
  }
  return E->leaves ? R_OPEN : R_CLOSED;
}

/* The search's counters into the result (searches of several boxes may run
   on parallel threads). */
static void add_counts(vfy_result *r, const beng *E, long doms)
{
  #pragma omp atomic
  r->beta_doms += doms;
  #pragma omp atomic
  r->t_bound += E->t_bound;
  #pragma omp atomic
  r->t_branch += E->t_branch;
  #pragma omp atomic
  r->t_attack += E->t_attack;
  #pragma omp critical(vfy_beta_qmax)
  if (E->qmax > r->beta_qmax) r->beta_qmax = E->qmax;
}

rres vfy_beta_box(const search *S, cb_ws *ws, const item *it, double *x, long *states, cb_error *err)
{
  beng E = {.S = S, .ws = ws, .it = it, .err = err, .B = &S->spec->box[it->box], .q = S->q[it->box],
            .nx = S->spec->nx, .ny = S->spec->ny, .nb = S->nb};
  rres res = R_ERR;
  E.nc = E.B->n_conj;
  *states = 0;
  if (eng_alloc(&E) != CB_OK) { cb_error_set(err, CB_ENOMEM, "out of memory in the beta-CROWN search"); goto out; }
  res = search_loop(&E, states);
  if (res == R_SAT) {
    memcpy(x, E.x, E.nx * sizeof *x);
    #pragma omp atomic write
    S->r->beta_wsrc = E.wsrc;
  }
  if (res == R_OPEN) {   /* the box's own node boxes back, for input splitting */
    vfy_boxes_ptrs(S, E.root, E.pl);
    if (bounds_run_from(ws, S->o->method, E.pl, E.pl + S->net->n, S->net->n, err) != CB_OK) res = R_ERR;
  }
out:
  add_counts(S->r, &E, *states);
  eng_free(&E);
  return res;
}
