/*
** alpha-CROWN: CROWN whose relaxation lines are chosen per bounded row to
** make that row's bound as tight as possible (Xu et al. 2021, "Fast and
** Complete", Sec. 3.1).  Parameters (relax.c, relax_param_*): the lower slope
** p in [alpha, 1] of every unstable ReLU / LeakyReLU, the tangent points
** of S-shaped (sigmoid/tanh/erf/softsign) lines and of Exp's lower line, the
** slopes of curvature-map rows (GELU, Pow...), and at a product of two
** activations (MUL: attention's Q K^T and A V) each row's McCormick planes,
** a convex combination of the two per side (init_mul, relax_mul_mix).  A "pass" is one CROWN
** backward pass: the final one
** (rows = the specification) and, with opt->interm, one per intermediate node
** that CROWN re-bounds (rows = its neurons of unknown sign, upper and minus
** lower), each row with its own parameters.  A pass's parameters are those of
** the relaxed nodes it crosses: every one before its start node, and the start
** node itself when it is an activation (a net whose output is a ReLU, as
** eran2021's mnist_relu_9_200: the final rows meet those lines first, and the
** gradient to the intermediate bounds flows through them; leaving them out
** cost 44 in mean margin there).  Per iteration the passes run in
** topological order; each writes its node's new bounds into the workspace and
** re-derives the lines that depend on them (saved first, restored at the end).
**
** Soundness: every parameter value gives valid lines and every intermediate
** bound so computed is a valid bound, so every iterate is a sound bound
** (crown.c's rounding slack included); each final row keeps its best.
** Iteration 0 uses CROWN's own lines and intermediate bounds, so the result
** is never looser than CROWN (tests/test_sound.c checks it).
**
** Gradient (reverse mode, exact up to the omissions below): for a pass, the
** derivative of a row's bound U = A_0 . x* + bias terms with respect to the
** matrix A_k it accumulates at node k is G_k, the value at node k of the
** linearised network evaluated at the maximiser x* of the input set (G_0 = x*;
** linear nodes map G as the network does, fwd_node; a relaxed node applies the
** line that row used, chosen by the sign of the row's A there).  So
** dU/dp = a d(line at G_in)/dp, and likewise dU/dl, dU/du of a line that moves
** with its input bounds (chords).  The final pass weighs its rows by 1; the
** pass of an intermediate node weighs row "upper of j" by dLoss/du_j and row
** "minus lower of j" by -dLoss/dl_j, accumulated from the later passes
** (processed in reverse).  Left out (they only steer, never bound): rounding
** slack, MaxPool's and Clip's dependence on bounds, and the clamp of a
** parameter's range to moving bounds.
** Optimiser: Adam (Kingma & Ba 2015), step decayed geometrically, projection
** onto each parameter's range: auto_LiRPA's step 0.5, decay 0.98 and 20
** iterations for piecewise-linear nets, but 40 when S-shaped tangent
** points are optimised: their landscape is not convex and after 20 steps our
** (double, exact-gradient) trajectory was tighter than auto_LiRPA's on average
** but looser on 5% of digits_tanh's bounds (by up to 0.018); after 40 it is at
** least as tight on all of them (tests/test_alpha.c).  40 too for nets of more
** than 3 relaxed layers, for the same reason (alpha_auto_iters).  A
** curvature-map row's step (GELU, Pow...: p in [l, u]) is scaled by
** min(1, u - l): lr alone crossed a narrow box's whole range at once.  Each final
** row keeps its best iterate; the intermediate bounds are each iterate's own
** (not intersected across iterates: tried, it helped mnist_relu_9_200 but cost
** 256x6 up to 50 in margin, the gradient no longer seeing the bound in use).
** Lower and upper bounds of the same rows are separate optimisations.
** Sizes: final rows 9-20; intermediate rows twice the unstable neurons of a
** layer; per iteration one CROWN pass and one batched forward pass per pass.
** Entries of a ReLU that are off in every row of a pass (its four lines 0:
** fill_alive) take part in nothing: the pass's AFFINE products and the
** linearised forward run on the other entries only (crown_alive,
** grad_affine); mnist_relu_9_200 has 72-92% of each layer off.
** Rows of a conv layer's pass that takes CROWN's receptive-field path are 0
** outside their windows (crown_window): their lines, gradients and Adam
** steps are computed on the windows only (digits_cnn: 72 of 512 entries).
** Parameters, Adam moments and gradients are stored compactly (npar,
** par_at: per row, only R->idx or the row's window); the linearised forward
** computes only the node values something reads (pass_need).
*/
#include <math.h>
#include <string.h>
#include "bounds.h"
#include "forward.h"
#include "linalg.h"
#include "relax_mul.h"

void alpha_opt_init(cb_alpha_opt *o)
{
  o->iters = 0;
  o->patience = 0;
  o->lr = 0.5;
  o->lr_decay = 0.98;
  o->beta1 = 0.9;
  o->beta2 = 0.999;
  o->interm = 1;
  o->on_iterate = NULL;
  o->ctx = NULL;
  o->nsplit = 0;
  o->split_node = NULL;
  o->split_idx = NULL;
  o->split_sig = NULL;
  o->beta = NULL;
  o->beta_lr = 0.05;
  o->done = NULL;
  o->keep_interm = 0;
  o->fixed_mul = 0;
}

/*
** Parameters of one relaxed node in one pass: slot k = 2 side + family
** (side 0 lower / 1 upper line; family as relax_param_range's slot).
** Compact layout (par_at): a slot's values p, Adam moments m, v and gradient
** g are stored only for the entries that can have a parameter, not q x size:
**  - rows windowed at node i (P->wo[i], crown_window): row r's window entries
**    in order, at wo[i][r] + jj for entry wx[i][wo[i][r] + jj] (entries of
**    the window outside R->idx hold an unused value);
**  - other rows: row r, entry R->idx[j] at r * R->nidx + j (R->pos[e] = j).
** So Adam, the projection, the gradients and the copies touch q x nidx (or
** the windows' total) values; only the per-row lines (crown_lines, read by
** the CROWN pass and the linearised forward) stay q x size.
*/
typedef struct npar { double *p[4], *m[4], *v[4], *g[4]; } npar;
/* Adam state of a MUL node's weights in one pass (side 0: lower plane's rl, 1: upper's ru). */
typedef struct mpar { double *m[2], *v[2], *g[2]; } mpar;

typedef struct apass {
  int start;                 /* node whose value the rows bound */
  size_t q, m, *sel;         /* rows; intermediate: m neurons sel[], rows j (upper) and m + j (minus lower) */
  double *A0, *out, *rho;    /* start rows; this iteration's bounds; loss weight per row */
  double **keep, **G;        /* per node: A reached by the pass (in pool); linearised forward values */
  double *pool;              /* the pass's matrices (crown_pool_size) */
  char *need;                /* per node: G is read (pass_need): by backprop, beta, or a node whose G is read */
  size_t **wo, **wx;         /* per node: the entries row r can make nonzero, wx[i][wo[i][r] .. wo[i][r + 1])
                                (crown_window; NULL: all); the rest of its A is 0, so its lines,
                                gradients and Adam steps there are skipped */
  npar *par;                 /* per node */
  crown_lines *lines;        /* per node (lw NULL: the workspace lines); at a MUL node lw, uw: the rows'
                                McCormick weights (relax_mul_mix), the parameters themselves */
  mpar *mp;                  /* per node: a MUL node's Adam state (init_mul) */
} apass;

/* Per relaxed node: each side's family, range and line derivatives at the current bounds. */
typedef struct nrange {
  signed char *slot[2]; double *pmin[2], *pmax[2], *d[2];
  size_t *idx, nidx;         /* neurons whose lines can change (all of a sigmoid/tanh node) */
  size_t *pos;               /* pos[e]: e's place in idx (when has[e]) */
  char *has;                 /* has[e]: e is in idx */
} nrange;

typedef struct alpha_st {
  cb_ws *ws;
  int *sole;                 /* per node: its only consumer, -1 if none or several */
  size_t *ia, *oa;           /* grad_affine's alive input and output entries (room for the widest node) */
  size_t *xnz;               /* fill_alive's byte per entry (room for the widest node) */
  double *memo;              /* fill_lines: per side and entry, the last parameter and its line (6 x widest) */
  double *xg;                /* grad_affine's gathered input values, xg_n doubles of room */
  size_t xg_n;
  double *cs;                /* grad_forward's CONV scratch (la_conv_forward_need for the widest pass), allocated
                                once: la_conv_forward allocated and page-faulted it per node per iteration */
  int np;                    /* passes: intermediate ones in node order, then the final one */
  apass *P;
  nrange *R;                 /* per node */
  double **ladj, **uadj;     /* per re-bounded node: dLoss/dlo, dLoss/dhi */
  double **save;             /* per node: saved lo|hi (re-bounded) or the 4 lines (relaxed) */
  const cb_alpha_opt *o;
  size_t ns;                 /* beta-CROWN: split constraints (o->split_*), 0: none */
  char *injn;                /* per node: some split lies on it */
  double **inj;              /* per node with a split: the final pass's q x size Lagrangian rows */
  double *beta, *bm, *bv, *bbest;   /* q x ns: multipliers, Adam moments, best */
  double **ibox;             /* keep_interm: per re-bounded node, the intersection of its bounds (lo|hi) */
  char *keep0;               /* per node: its pass's bounds are met with iteration 0's (as CROWN meets a Log/Pow
                                input's or a softmax view's; every node after a product-form softmax) */
} alpha_st;

/* Activations whose lines alpha-CROWN moves (relax.c's families), and the S-shaped ones. */
static int relaxed(const cb_node *n) { return relax_alpha_family(n) >= RELAX_SLOPE; }
static int s_shaped(const cb_node *n) { return relax_alpha_family(n) == RELAX_TANGENT; }

/* Node i's families and ranges at its input's current bounds. */
static void update_range(alpha_st *S, int i)
{
  const cb_node *n = &S->ws->net->node[i];
  const double *l = S->ws->lo[n->in[0]], *u = S->ws->hi[n->in[0]];
  nrange *R = &S->R[i];
  for (int s = 0; s < 2; s++)
    for (size_t e = 0; e < n->size; e++) {
      double p0;
      R->slot[s][e] = (signed char)relax_param_range(n, l[e], u[e], s, &R->pmin[s][e], &R->pmax[s][e], &p0);
      relax_line_dlu(n, l[e], u[e], s, R->d[s] + 4 * e);
    }
}

/* Node i's workspace lines from its input's current bounds (after a re-bound). */
static void update_lines(alpha_st *S, int i)
{
  ws_relax_lines(S->ws, i);
  if (relaxed(&S->ws->net->node[i])) update_range(S, i);
}

/* Where row r's parameter of entry e at node i lives (the compact layout, npar):
   j is e's place in row r's window (windowed rows) or in R->idx (the others). */
static inline size_t par_at(const apass *P, const nrange *R, int i, size_t r, size_t e, size_t j)
{
  (void)e;
  return P->wo && P->wo[i] ? P->wo[i][r] + j : r * R->nidx + j;
}

/* Allocates node i's parameters in pass P when some neuron has a family; initial values p0
   (after init_windows: the layout depends on the windows). */
static int init_par(alpha_st *S, apass *P, int i)
{
  const cb_node *n = &S->ws->net->node[i];
  const double *l = S->ws->lo[n->in[0]], *u = S->ws->hi[n->in[0]];
  npar *A = &P->par[i];
  const nrange *R = &S->R[i];
  int win = P->wo && P->wo[i];
  size_t sz = n->size, k = P->q * sz * sizeof(double), any = 0, np = win ? P->wo[i][P->q] : P->q * R->nidx;
  crown_lines *L = &P->lines[i];
  for (size_t e = 0; e < sz; e++) any += S->R[i].slot[0][e] >= 0 || S->R[i].slot[1][e] >= 0;
  if (!any) return CB_OK;
  for (int s = s_shaped(n) ? 0 : 1; s < (s_shaped(n) ? 4 : 2); s++) {
    if (!(A->p[s] = cb_alloc((np + 1) * sizeof(double))) || !(A->m[s] = cb_calloc(np + 1, sizeof(double))) ||
        !(A->v[s] = cb_calloc(np + 1, sizeof(double))) || !(A->g[s] = cb_alloc((np + 1) * sizeof(double)))) return CB_ENOMEM;
    for (size_t r = 0; r < P->q; r++)
      for (size_t j = 0, ne = win ? P->wo[i][r + 1] - P->wo[i][r] : R->nidx; j < ne; j++) {
        size_t e = win ? P->wx[i][P->wo[i][r] + j] : R->idx[j];
        double pmin, pmax, p0 = 0.5 * l[e] + 0.5 * u[e];
        if (relax_param_range(n, l[e], u[e], s / 2, &pmin, &pmax, &p0) != s % 2) p0 = 0.5 * l[e] + 0.5 * u[e];
        A->p[s][par_at(P, R, i, r, e, j)] = p0;
      }
  }
  if (!(L->lw = cb_alloc(k)) || !(L->lb = cb_alloc(k)) || !(L->uw = cb_alloc(k)) || !(L->ub = cb_alloc(k)) ||
      !(L->alive = cb_alloc(sz * sizeof *L->alive))) return CB_ENOMEM;
  for (size_t r = 0; r < P->q; r++) {   /* neurons outside R->idx keep these lines */
    memcpy(L->lw + r * sz, S->ws->rl_w[i], sz * sizeof(double)); memcpy(L->lb + r * sz, S->ws->rl_b[i], sz * sizeof(double));
    memcpy(L->uw + r * sz, S->ws->ru_w[i], sz * sizeof(double)); memcpy(L->ub + r * sz, S->ws->ru_b[i], sz * sizeof(double));
  }
  return CB_OK;
}

/* Pass P's per-row lines at node i: parameters projected onto the current ranges. */
static void fill_lines(alpha_st *S, apass *P, int i)
{
  const cb_ws *ws = S->ws;
  const cb_node *n = &ws->net->node[i];
  const double *l = ws->lo[n->in[0]], *u = ws->hi[n->in[0]];
  const nrange *R = &S->R[i];
  npar *A = &P->par[i];
  crown_lines *L = &P->lines[i];
  int moved = S->ladj[n->in[0]] != NULL;   /* input bounds re-computed: its fixed lines may move */
  int win = P->wo && P->wo[i];
  /* memo[3 (sz s + e) ..]: the last (p, w, b) of side s at entry e in this call
     (l, u fixed here): rows sharing a parameter (all of them at the start,
     and those the gradient never moved) cost one line, not one each; a
     curvature-map line (GELU, Pow) is a root search of f' */
  double *memo = S->memo;
  for (size_t k = 0; k < 2 * n->size; k++) memo[3 * k] = NAN;
  for (size_t r = 0; r < P->q; r++)
    for (size_t j = 0, ne = win ? P->wo[i][r + 1] - P->wo[i][r] : R->nidx; j < ne; j++) {
      size_t e = win ? P->wx[i][P->wo[i][r] + j] : R->idx[j], o = r * n->size + e;
      if (win && !R->has[e]) continue;
      if (moved) {
        L->lw[o] = ws->rl_w[i][e]; L->lb[o] = ws->rl_b[i][e];
        L->uw[o] = ws->ru_w[i][e]; L->ub[o] = ws->ru_b[i][e];
      }
      for (int s = 0; s < 2; s++) {
        int k = 2 * s + R->slot[s][e];
        double *p;
        if (R->slot[s][e] < 0 || !A->p[k]) continue;
        p = &A->p[k][par_at(P, R, i, r, e, j)];
        *p = *p < R->pmin[s][e] ? R->pmin[s][e] : *p > R->pmax[s][e] ? R->pmax[s][e] : *p;
        if (!s_shaped(n)) { L->lw[o] = *p; L->lb[o] = 0; continue; }   /* ReLU: y >= p x */
        {
          double *me = memo + 3 * (s * n->size + e), *w = s ? &L->uw[o] : &L->lw[o], *b = s ? &L->ub[o] : &L->lb[o];
          if (me[0] == *p) { *w = me[1]; *b = me[2]; continue; }   /* NAN never equal */
          relax_param_line(n, l[e], u[e], s, *p, w, b);
          me[0] = *p; me[1] = *w; me[2] = *b;
        }
      }
    }
}

/* Pass P's alive entries at node i (crown_alive) after fill_lines: those
   outside R->idx keep the lines init_par copied, the same in every row;
   those in it are looked up row by row.  Windowed rows: left to crown_alive. */
static void fill_alive(alpha_st *S, apass *P, int i)
{
  const cb_ws *ws = S->ws;
  const nrange *R = &S->R[i];
  crown_lines *L = &P->lines[i];
  size_t sz = ws->net->node[i].size;
  unsigned char *nz = (unsigned char *)S->xnz;
  if (!L->alive) return;
  if (P->wo && P->wo[i]) { cb_free(L->alive); L->alive = NULL; return; }
  for (size_t e = 0; e < sz; e++) nz[e] = !R->has[e] && ((L->lw[e] != 0) | (L->lb[e] != 0) | (L->uw[e] != 0) | (L->ub[e] != 0));
  for (size_t r = 0; r < P->q; r++)
    for (size_t j = 0; j < R->nidx; j++) {
      size_t e = R->idx[j], o = r * sz + e;
      nz[e] |= (L->lw[o] != 0) | (L->lb[o] != 0) | (L->uw[o] != 0) | (L->ub[o] != 0);
    }
  L->nalive = 0;
  for (size_t e = 0; e < sz; e++) if (nz[e]) L->alive[L->nalive++] = e;
}

/*
** beta-CROWN's Lagrangian rows of the final pass: inj[p]_r has
** beta_rs sig_s at neuron idx_s of each split's node p.  For x in the region,
** sig_s value_p(x)_{idx_s} >= 0, so with beta >= 0
**   A0_r f(x) <= A0_r f(x) + sum_s beta_rs sig_s value_p(x)_{idx_s},
** and the pass's sound upper bound of the right side (over the input set,
** with lines valid on the region's node boxes) bounds the left side on the
** region: every beta >= 0 gives a sound bound (weak duality).  NULL when
** every beta is 0 (the pass is then exactly alpha-CROWN's).
*/
static const double *const *fill_inj(alpha_st *S, size_t q)
{
  const cb_net *net = S->ws->net;
  const cb_alpha_opt *o = S->o;
  int any = 0;
  for (size_t k = 0; k < q * S->ns; k++) any |= S->beta[k] > 0;
  if (!any) return NULL;
  for (int i = 0; i < net->n; i++) if (S->inj[i]) memset(S->inj[i], 0, q * net->node[i].size * sizeof(double));
  for (size_t r = 0; r < q; r++)
    for (size_t s = 0; s < S->ns; s++) {
      int p = o->split_node[s];
      S->inj[p][r * net->node[p].size + o->split_idx[s]] += S->beta[r * S->ns + s] * o->split_sig[s];
    }
  return (const double *const *)S->inj;
}

/* Runs pass P; an intermediate pass writes its node's new bounds (no
   intersection with older ones: auto_LiRPA's behaviour, and the gradient stays
   exact) and re-derives the lines that use them; not at iteration 0 (write =
   0), whose parameters are CROWN's: the bounds_run values are kept, so that
   iteration 0 is exactly CROWN (a recomputation can differ by rounding, and a
   MaxPool's choice of input can flip on a near-tie). */
/* Is [lo, hi] inside the domain of every activation reading node k (Log,
   Pow with a negative or fractional exponent)?  A pass's bound below CROWN's
   (its lines are other lines) may leave it, e.g. the lower bound of a sum of
   exponentials going below 0 in front of a reciprocal (softmax): the
   neuron then keeps its previous bound, which is valid too. */
static int in_domains(const cb_net *net, int k, double lo, double hi)
{
  for (int i = k + 1; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    if (n->kind == CB_ACT && n->in[0] == k && node_act(n)->domain && !node_act(n)->domain(n, lo, hi)) return 0;
  }
  return 1;
}

static int run_pass(alpha_st *S, apass *P, int keep, int write, cb_error *err)
{
  cb_ws *ws = S->ws;
  const cb_net *net = ws->net;
  int rc, k = P->start;
  const double *const *inj = P == &S->P[S->np - 1] ? fill_inj(S, P->q) : NULL;
  if (!P->q) return CB_OK;   /* an intermediate node without neurons of unknown sign */
  for (int i = 1; i <= k; i++) if (P->lines[i].lw && net->node[i].kind == CB_ACT) { fill_lines(S, P, i); fill_alive(S, P, i); }
  rc = crown_pass_inj_ex(ws, k, P->A0, P->q, P->lines, inj, keep ? P->keep : NULL, keep ? P->pool : NULL, P->out, err);
  if (rc != CB_OK || !P->sel || !write) return rc;
  for (size_t j = 0; j < P->m; j++) {
    double hi = P->out[j], lo = -P->out[P->m + j];
    if (S->keep0[k]) {   /* as CROWN (crown_domain_consumer): met with iteration 0's box, also valid */
      size_t sz = net->node[k].size;
      hi = fmin(hi, S->save[k][sz + P->sel[j]]);
      lo = fmax(lo, S->save[k][P->sel[j]]);
    }
    if (!(lo <= hi) || !in_domains(net, k, lo, hi)) continue;   /* keep the previous (valid) bound */
    ws->hi[k][P->sel[j]] = hi;
    ws->lo[k][P->sel[j]] = lo;
  }
  for (int i = k + 1; i < net->n; i++)
    if (net->node[i].kind == CB_ACT && net->node[i].in[0] == k) update_lines(S, i);
  return CB_OK;
}

/*
** G at AFFINE node i on its alive entries only: inputs from an ACT node
** whose lines are 0 in every row of the pass have G = 0 x + 0 = 0 there
** (crown_alive), and outputs whose sole consumer is such an ACT node (at or
** before the pass's start) are read only through those 0 lines and their
** bound derivatives, which are 0 too (relax_line_dlu of a stable neuron):
** they are set to 0, and the product is q x kout x kin.  G is never a bound.
** Returns 1 when it did the node, 0 when the full product is no dearer.
*/
static int grad_affine(alpha_st *S, apass *P, int i)
{
  cb_ws *ws = S->ws;
  const cb_node *n = &ws->net->node[i];
  size_t in = n->p.aff.in, out = n->size, q = P->q, kin, kout = out;
  int c = S->sole[i];
  const double *X = P->G[n->in[0]], *Ws;
  double *T, *Y = P->G[i];
  if (q < 2 || ws->no_skip) return 0;
  kin = crown_alive(ws, &P->lines[n->in[0]], n->in[0], q, S->ia);
  if (c >= 0 && c <= P->start && ws->net->node[c].kind == CB_ACT &&   /* an elementwise consumer (not a CONV of its image) */
      !(S->injn && S->injn[i]))                                          /* beta needs G at splits */
    kout = crown_alive(ws, &P->lines[c], c, q, S->oa);
  if (8 * kin * kout > 7 * in * out) return 0;
  if (!(Ws = crown_wsub(ws, i, kout < out ? S->oa : NULL, kout, kin < in ? S->ia : NULL, kin)) ||
      !(T = crown_subout(ws, q * kout + 1))) return -1;
  if (kin < in) {
    if (S->xg_n < q * kin) {
      cb_free(S->xg);
      S->xg_n = 0;
      if (!(S->xg = cb_alloc(q * kin * sizeof(double) + 1))) return -1;
      S->xg_n = q * kin;
    }
    for (size_t r = 0; r < q; r++)
      for (size_t k = 0; k < kin; k++) S->xg[r * kin + k] = X[r * in + S->ia[k]];
    X = S->xg;
  }
  if (kin && kout) la_gemm(0, 1, q, kout, kin, 1.0, X, kin, Ws, kin, 0.0, T, kout);
  else memset(T, 0, q * kout * sizeof *T);
  for (size_t r = 0; r < q; r++) {
    double *y = Y + r * out;
    if (kout < out) memset(y, 0, out * sizeof *y);
    for (size_t k = 0; k < kout; k++) {
      size_t e = kout < out ? S->oa[k] : k;
      y[e] = T[r * kout + k] + n->p.aff.b[e];
    }
  }
  return 1;
}

/*
** G at a product of two activations (MUL): the linearised network applies
** the plane the row's pass used there (crown.c back_mul: the upper plane
** where the row's A is > 0, the lower one elsewhere), as at an activation;
** the product x y of the inputs' G is another function, and a gradient
** through it pointed the ViT's GELU/Pow steps the wrong way (every Adam
** step loosened its margins).  G is never a bound: no rounding here.
*/
static int grad_mul(alpha_st *S, apass *P, int i)
{
  const cb_ws *ws = S->ws;
  const cb_node *n = &ws->net->node[i];
  int a0 = n->in[0], a1 = n->in[1];
  size_t sz = n->size, s0 = ws->net->node[a0].size, s1 = ws->net->node[a1].size;
  const double *A = P->keep[i], *gx = P->G[a0], *gy = P->G[a1];
  const crown_lines *W = P->lines[i].lw ? &P->lines[i] : NULL;
  for (size_t e = 0; e < sz; e++) {
    size_t j0 = mul_at(n->p.mul.i0, e), j1 = mul_at(n->p.mul.i1, e);
    double xl = ws->lo[a0][j0], xu = ws->hi[a0][j0], yl = ws->lo[a1][j1], yu = ws->hi[a1][j1];
    mul_line lo, up;
    if (!relax_mul(xl, xu, yl, yu, &lo, &up)) return CB_EUNSUP;
    for (size_t r = 0; r < P->q; r++) {
      size_t o = r * sz + e;
      const mul_line *L = A[o] > 0 ? &up : &lo;
      mul_line m;
      if (W && (A[o] > 0 ? W->uw[o] : W->lw[o]) != 1) {   /* the row's mixed plane (unrounded: G is no bound) */
        double t = A[o] > 0 ? W->uw[o] : W->lw[o];
        if (A[o] > 0) { m.wx = t * yu + (1 - t) * yl; m.wy = t * xl + (1 - t) * xu; m.c = -t * xl * yu - (1 - t) * xu * yl; }
        else { m.wx = t * yl + (1 - t) * yu; m.wy = t * xl + (1 - t) * xu; m.c = -t * xl * yl - (1 - t) * xu * yu; }
        L = &m;
      }
      P->G[i][o] = L->wx * gx[r * s0 + j0] + L->wy * gy[r * s1 + j1] + L->c;
    }
  }
  return CB_OK;
}

/*
** alpha-CROWN at a product of two activations (auto_LiRPA's BoundMul /
** BoundMatMul alpha): row r's plane at entry e is, per side, a convex
** combination of McCormick's two planes, weight t in [0, 1] (relax_mul_mix;
** t = 1: CROWN's plane), so every iterate's planes are valid on the box.
** The rows' weights live in the pass's lines[i].lw (lower) and uw (upper),
** starting at 1; mp[i] holds their Adam moments and gradients.
*/
static int init_mul(apass *P, int i, size_t sz)
{
  crown_lines *L = &P->lines[i];
  mpar *M = &P->mp[i];
  size_t k = P->q * sz;
  if (!(L->lw = cb_alloc(k * sizeof(double))) || !(L->uw = cb_alloc(k * sizeof(double)))) return CB_ENOMEM;
  for (size_t j = 0; j < k; j++) L->lw[j] = L->uw[j] = 1;
  for (int s = 0; s < 2; s++)
    if (!(M->m[s] = cb_calloc(k, sizeof(double))) || !(M->v[s] = cb_calloc(k, sizeof(double))) ||
        !(M->g[s] = cb_alloc(k * sizeof(double)))) return CB_ENOMEM;
  return CB_OK;
}

/*
** Gradients at MUL node i for pass P's weighted rows: row r's bound takes
** a (wx X + wy Y + c) there (X, Y: the inputs' G; a the row's A, its sign
** picks the side), with, at weight t,
**   lower: wx = t yl + (1-t) yu, wy = t xl + (1-t) xu, c = -t xl yl - (1-t) xu yu,
**   upper: wx = t yu + (1-t) yl, wy = t xl + (1-t) xu, c = -t xl yu - (1-t) xu yl,
** so d/dt and d/d(xl, xu, yl, yu) follow (the bounds' adjoints, when the
** inputs are re-bounded: the planes move with their boxes).  x .* x (one
** input) takes both inputs' terms.  The rounding of the intercept is left out.
*/
static void backprop_mul(alpha_st *S, apass *P, int i)
{
  const cb_ws *ws = S->ws;
  const cb_node *n = &ws->net->node[i];
  int a0 = n->in[0], a1 = n->in[1];
  size_t sz = n->size, s0 = ws->net->node[a0].size, s1 = ws->net->node[a1].size;
  const double *A = P->keep[i], *gx = P->G[a0], *gy = P->G[a1];
  const crown_lines *W = &P->lines[i];
  mpar *M = &P->mp[i];
  double *lx = S->ladj[a0], *ux = S->uadj[a0], *ly = S->ladj[a1], *uy = S->uadj[a1];
  memset(M->g[0], 0, P->q * sz * sizeof(double));
  memset(M->g[1], 0, P->q * sz * sizeof(double));
  if (!A) return;
  for (size_t r = 0; r < P->q; r++) {
    if (P->rho[r] == 0) continue;
    for (size_t e = 0; e < sz; e++) {
      size_t o = r * sz + e, j0 = mul_at(n->p.mul.i0, e), j1 = mul_at(n->p.mul.i1, e);
      double a = A[o], w = P->rho[r] * a, X = gx[r * s0 + j0], Y = gy[r * s1 + j1], t;
      double xl = ws->lo[a0][j0], xu = ws->hi[a0][j0], yl = ws->lo[a1][j1], yu = ws->hi[a1][j1];
      if (a == 0) continue;
      if (a > 0) {
        t = W->uw[o];
        M->g[1][o] = w * ((yu - yl) * X + (xl - xu) * Y - xl * yu + xu * yl);
        if (lx) { lx[j0] += w * t * (Y - yu); ux[j0] += w * (1 - t) * (Y - yl); }
        if (ly) { uy[j1] += w * t * (X - xl); ly[j1] += w * (1 - t) * (X - xu); }
      } else {
        t = W->lw[o];
        M->g[0][o] = w * ((yl - yu) * X + (xl - xu) * Y - xl * yl + xu * yu);
        if (lx) { lx[j0] += w * t * (Y - yl); ux[j0] += w * (1 - t) * (Y - yu); }
        if (ly) { ly[j1] += w * t * (X - xl); uy[j1] += w * (1 - t) * (X - xu); }
      }
    }
  }
}

/* One Adam step on MUL node i's weights in pass P, projected onto [0, 1]. */
static void adam_mul(apass *P, int i, size_t sz, const cb_alpha_opt *o, int t, double lr)
{
  crown_lines *L = &P->lines[i];
  mpar *M = &P->mp[i];
  double c1 = 1 - pow(o->beta1, t), c2 = 1 - pow(o->beta2, t);
  for (int s = 0; s < 2; s++) {
    double *p = s ? L->uw : L->lw;
    for (size_t j = 0; j < P->q * sz; j++) {
      double g = M->g[s][j];
      if (g == 0 && M->m[s][j] == 0 && M->v[s][j] == 0) continue;
      M->m[s][j] = o->beta1 * M->m[s][j] + (1 - o->beta1) * g;
      M->v[s][j] = o->beta2 * M->v[s][j] + (1 - o->beta2) * g * g;
      p[j] -= lr * (M->m[s][j] / c1) / (sqrt(M->v[s][j] / c2) + 1e-8);
      p[j] = p[j] > 1 ? 1 : p[j] > 0 ? p[j] : 0;
    }
  }
}

/* g = the line a row's A chose at each entry (the upper one where a >= 0 or a is NaN): both lines,
   then a select, in vectors (CB_SIMD_CLONES; elementwise, so the bits are the scalar loop's). */
CB_SIMD_CLONES
static void act_select(double *restrict g, const double *restrict a, const double *restrict x, const double *restrict lw,
                       const double *restrict lb, const double *restrict uw, const double *restrict ub, size_t n)
{
#pragma omp simd
  for (size_t e = 0; e < n; e++) {
    double gl = lw[e] * x[e] + lb[e], gu = uw[e] * x[e] + ub[e];
    g[e] = a[e] < 0 ? gl : gu;
  }
}

/* G of pass P: the rows' linearised forward pass from the input set's maximisers. */
static int grad_forward(alpha_st *S, apass *P, cb_error *err)
{
  const cb_ws *ws = S->ws;
  const cb_net *net = ws->net;
  size_t n0 = net->node[0].size;
  for (size_t r = 0; P->need[0] && r < P->q; r++) {
    if (P->keep[0]) set_argmax(&ws->set, P->keep[0] + r * n0, P->G[0] + r * n0);
    else memcpy(P->G[0] + r * n0, ws->set.center ? ws->set.center : ws->set.lo, n0 * sizeof(double));
  }
  for (int i = 1; i < P->start; i++) {
    const cb_node *n = &net->node[i];
    if (!P->need[i]) continue;
    if (n->kind == CB_ACT) {
      const crown_lines *L = &P->lines[i];
      const double *a = P->keep[i], *x = P->G[n->in[0]];
      for (size_t r = 0; r < P->q; r++) {
        size_t o0 = L->lw ? r * n->size : 0, g0 = r * n->size;
        const double *lw = L->lw ? L->lw + o0 : ws->rl_w[i], *lb = L->lw ? L->lb + o0 : ws->rl_b[i];
        const double *uw = L->lw ? L->uw + o0 : ws->ru_w[i], *ub = L->lw ? L->ub + o0 : ws->ru_b[i];
        const double *ar = a ? a + g0 : NULL, *xr = x + g0;
        double *gr = P->G[i] + g0;
        if (P->rho[r] == 0) { memset(gr, 0, n->size * sizeof *gr); continue; }  /* no gradient wanted */
        if (!ar) { for (size_t e = 0; e < n->size; e++) gr[e] = uw[e] * xr[e] + ub[e]; continue; }
        if (L->alive) {   /* entries whose lines are 0 in every row: 0 x + 0 = 0 */
          memset(gr, 0, n->size * sizeof *gr);
          for (size_t j = 0; j < L->nalive; j++) {
            size_t e = L->alive[j];
            double gl = lw[e] * xr[e] + lb[e], gu = uw[e] * xr[e] + ub[e];
            gr[e] = ar[e] < 0 ? gl : gu;
          }
          continue;
        }
        act_select(gr, ar, xr, lw, lb, uw, ub, n->size);
      }
      continue;
    }
    if (n->kind == CB_MUL && P->keep[i]) {   /* the McCormick plane each row used (back_mul), not x y */
      if (grad_mul(S, P, i) != CB_OK) return cb_error_set(err, CB_EUNSUP, "alpha-CROWN: no McCormick planes at node %d", i);
      continue;
    }
    if (n->kind == CB_AFFINE) {
      int done = grad_affine(S, P, i);
      if (done < 0) return cb_error_set(err, CB_ENOMEM, "out of memory in alpha-CROWN");
      if (done) continue;
    }
    if (n->kind == CB_CONV && S->cs) {   /* what la_conv_forward does, in the state's scratch */
      la_conv_forward_buf(&n->p.conv.g, n->p.conv.W, n->p.conv.b, P->G[n->in[0]], P->q, P->G[i], S->cs, 0);
      continue;
    }
    if (fwd_node(net, i, P->q, P->G, err) != CB_OK) return err->status;
  }
  return CB_OK;
}

/* Gradients of pass P's weighted rows: into its parameters' g and the bound adjoints. */
static void backprop(alpha_st *S, apass *P)
{
  const cb_net *net = S->ws->net;
  for (int i = 1; i <= P->start; i++) {
    const cb_node *n = &net->node[i];
    const double *a = P->keep[i], *x = P->G[n->in[0]];
    const nrange *R = &S->R[i];
    npar *A = &P->par[i];
    double *la = S->ladj[n->in[0]], *ua = S->uadj[n->in[0]];
    int win = P->wo && P->wo[i];
    if (n->kind == CB_MUL && P->mp && P->mp[i].g[0]) { backprop_mul(S, P, i); continue; }
    if (!relaxed(n) || !a) continue;
    for (int k = 0; k < 4; k++)   /* compact: all of g is read by adam_step */
      if (A->g[k]) memset(A->g[k], 0, (win ? P->wo[i][P->q] : P->q * R->nidx) * sizeof(double));
    for (size_t r = 0; r < P->q; r++) {
      if (P->rho[r] == 0) continue;
      for (size_t j = 0, ne = win ? P->wo[i][r + 1] - P->wo[i][r] : la ? n->size : R->nidx; j < ne; j++) {
        size_t e = win ? P->wx[i][P->wo[i][r] + j] : la ? j : R->idx[j], o = r * n->size + e;   /* no adjoint wanted: parameters only */
        if (win && !la && !R->has[e]) continue;
        int s = a[o] >= 0, k = 2 * s + R->slot[s][e];
        double w = P->rho[r] * a[o];
        const double *d = R->d[s] + 4 * e;
        if (a[o] == 0) continue;
        if (R->slot[s][e] >= 0 && A->g[k]) {
          if (R->has[e]) {
            size_t c = par_at(P, R, i, r, e, win ? j : la ? R->pos[e] : j);
            A->g[k][c] += w * relax_param_dline(n, S->ws->lo[n->in[0]][e], S->ws->hi[n->in[0]][e], s, A->p[k][c], x[o]);
          }
        }
        else if (la) { la[e] += w * (x[o] * d[0] + d[1]); ua[e] += w * (x[o] * d[2] + d[3]); }
      }
    }
  }
}

/* One Adam step on pass P's parameters (minimising its weighted rows). */
static void adam_step(alpha_st *S, apass *P, const cb_alpha_opt *o, int t, double lr)
{
  const cb_net *net = S->ws->net;
  double c1 = 1 - pow(o->beta1, t), c2 = 1 - pow(o->beta2, t);
  for (int i = 1; i <= P->start; i++) {
    npar *A = &P->par[i];
    const nrange *R = &S->R[i];
    /* a curvature-map row's parameter lives in [l, u] (x units): a step of
       lr moves it across a narrow box's whole range, so it is scaled by the
       range's width (at most 1); tangent points and slopes keep lr */
    int shape = relax_by_shape(&net->node[i]);
    const double *lo = S->ws->lo[net->node[i].in[0]], *hi = S->ws->hi[net->node[i].in[0]];
    for (int k = 0; k < 4; k++) {
      if (!A->g[k] || !P->keep[i]) continue;
      int win = P->wo && P->wo[i];
      for (size_t r = 0; r < P->q; r++)
        for (size_t jj = 0, ne = win ? P->wo[i][r + 1] - P->wo[i][r] : R->nidx; jj < ne; jj++) {   /* only neurons with parameters */
          size_t e = win ? P->wx[i][P->wo[i][r] + jj] : R->idx[jj], j = par_at(P, R, i, r, e, jj);
          if (win && !R->has[e]) continue;
          double g = A->g[k][j];
          if (g == 0 && A->m[k][j] == 0 && A->v[k][j] == 0) continue;  /* Adam's step would be 0 */
          A->m[k][j] = o->beta1 * A->m[k][j] + (1 - o->beta1) * g;
          A->v[k][j] = o->beta2 * A->v[k][j] + (1 - o->beta2) * g * g;
          A->p[k][j] -= lr * (shape ? fmin(1, hi[e] - lo[e]) : 1) * (A->m[k][j] / c1) / (sqrt(A->v[k][j] / c2) + 1e-8);
        }
    }
  }
}

static void free_keep(alpha_st *S, apass *P)
{
  for (int i = 0; i < S->ws->net->n; i++) P->keep[i] = NULL;
}

static void free_pass(alpha_st *S, apass *P)
{
  int n = S->ws->net->n;
  if (P->keep) free_keep(S, P);
  for (int i = 0; P->par && i < n; i++)
    for (int k = 0; k < 4; k++) { cb_free(P->par[i].p[k]); cb_free(P->par[i].m[k]); cb_free(P->par[i].v[k]); cb_free(P->par[i].g[k]); }
  for (int i = 0; P->lines && i < n; i++) {
    cb_free(P->lines[i].lw); cb_free(P->lines[i].lb); cb_free(P->lines[i].uw); cb_free(P->lines[i].ub); cb_free(P->lines[i].alive);
  }
  for (int i = 0; P->mp && i < n; i++)
    for (int k = 0; k < 2; k++) { cb_free(P->mp[i].m[k]); cb_free(P->mp[i].v[k]); cb_free(P->mp[i].g[k]); }
  cb_free(P->mp);
  for (int i = 0; P->wo && i < n; i++) cb_free(P->wo[i]);
  for (int i = 0; P->wx && i < n; i++) cb_free(P->wx[i]);
  cb_free(P->wo); cb_free(P->wx);
  cb_free(P->par); cb_free(P->lines); cb_free(P->keep); cb_free(P->pool); cb_free(P->need); cb_free(P->sel); cb_free(P->A0); cb_free(P->out); cb_free(P->rho);
  if (P->G) cb_free(P->G[0]);
  cb_free(P->G);
}

/* Pass P's per-row entries at relaxed node i (P->wo, P->wx), when its rows
   (unit rows of the neurons sel[]) reach only receptive-field windows there. */
static int init_windows(alpha_st *S, apass *P, int i)
{
  const cb_net *net = S->ws->net;
  size_t sz = net->node[i].size, tot = 0, *buf = cb_alloc(sz * sizeof *buf);
  int rc = CB_ENOMEM;
  if (!buf) return CB_ENOMEM;
  if (crown_window(net, P->start, P->sel[0], i, buf) < 0) { rc = CB_OK; goto out; }   /* dense rows */
  if (!(P->wo[i] = cb_alloc((P->q + 1) * sizeof **P->wo))) goto out;
  P->wo[i][0] = 0;
  for (size_t r = 0; r < P->q; r++) P->wo[i][r + 1] = tot += (size_t)crown_window(net, P->start, P->sel[r % P->m], i, buf);
  if (!(P->wx[i] = cb_alloc((tot + 1) * sizeof **P->wx))) goto out;
  for (size_t r = 0; r < P->q; r++) crown_window(net, P->start, P->sel[r % P->m], i, P->wx[i] + P->wo[i][r]);
  rc = CB_OK;
out:
  cb_free(buf);
  return rc;
}

/*
** The nodes whose G the pass reads (P->need): the input of every relaxed
** node up to start (backprop), a split's node in the final pass (beta_step),
** and, backwards, every input of a node before start whose G is read.  The
** others (a node read only by start, or only by such nodes: resnet_2b's
** second conv of a block in the pass at its ADD, a Flatten before the pass
** at a Gemm) are not computed: nothing reads them, so the bits are the same.
** A new reader of G (a gradient through another kind) must mark it here.
*/
static void pass_need(alpha_st *S, apass *P, int final)
{
  const cb_net *net = S->ws->net;
  for (int i = 1; i <= P->start; i++) if (relaxed(&net->node[i])) P->need[net->node[i].in[0]] = 1;
  for (int i = 1; !S->o->fixed_mul && i <= P->start; i++)   /* backprop_mul reads both inputs' G (init_mul's nodes) */
    if (net->node[i].kind == CB_MUL)
      for (int j = 0; j < net->node[i].n_in; j++) P->need[net->node[i].in[j]] = 1;
  for (size_t s = 0; final && s < S->o->nsplit; s++) P->need[S->o->split_node[s]] = 1;
  for (int i = P->start - 1; i >= 1; i--)
    if (P->need[i])
      for (int j = 0; j < net->node[i].n_in; j++) P->need[net->node[i].in[j]] = 1;
}

/* Pass for rows A0 (q x size(start)), or for node `start`'s neurons of unknown sign when A0 is NULL. */
static int init_pass(alpha_st *S, apass *P, int start, const double *A0, size_t q)
{
  cb_ws *ws = S->ws;
  const cb_net *net = ws->net;
  size_t sz = net->node[start].size;
  P->start = start;
  if (!A0) {
    int sign_only = crown_sign_only(net, start);
    if (!(P->sel = cb_alloc(sz * sizeof *P->sel))) return CB_ENOMEM;
    for (size_t e = 0; e < sz; e++) if (!sign_only || (ws->lo[start][e] < 0 && ws->hi[start][e] > 0)) P->sel[P->m++] = e;
    q = 2 * P->m;
  }
  P->q = q;
  P->A0 = cb_calloc(q * sz + 1, sizeof(double));
  P->out = cb_alloc((q + 1) * sizeof(double));
  P->rho = cb_alloc((q + 1) * sizeof(double));
  P->keep = cb_calloc((size_t)net->n, sizeof *P->keep);
  P->par = cb_calloc((size_t)net->n, sizeof *P->par);
  P->lines = cb_calloc((size_t)net->n, sizeof *P->lines);
  P->G = cb_calloc((size_t)net->n, sizeof *P->G);   /* values of nodes before start only */
  if (P->G && !(P->G[0] = cb_alloc((crown_pool_size(net, start, q ? q : 1) + 1) * sizeof(double)))) { cb_free(P->G); P->G = NULL; }
  for (int i = 1; P->G && i < start; i++) P->G[i] = P->G[i - 1] + (q ? q : 1) * net->node[i - 1].size;
  P->pool = cb_alloc((crown_pool_size(net, start, q) + 1) * sizeof(double));
  P->need = cb_calloc((size_t)net->n, 1);
  if (P->need) pass_need(S, P, A0 != NULL);
  if (!P->pool || !P->need || !P->A0 || !P->out || !P->rho || !P->keep || !P->par || !P->lines || !P->G) return CB_ENOMEM;
  if (A0) memcpy(P->A0, A0, q * sz * sizeof(double));
  for (size_t j = 0; j < P->m; j++) { P->A0[j * sz + P->sel[j]] = 1; P->A0[(P->m + j) * sz + P->sel[j]] = -1; }
  if (P->sel && q) {
    if (!(P->wo = cb_calloc((size_t)net->n, sizeof *P->wo)) || !(P->wx = cb_calloc((size_t)net->n, sizeof *P->wx))) return CB_ENOMEM;
    for (int i = 1; i < start; i++)
      if (relaxed(&net->node[i]) && init_windows(S, P, i) != CB_OK) return CB_ENOMEM;
  }
  for (int i = 1; q && i <= start; i++)
    if (relaxed(&net->node[i]) && init_par(S, P, i) != CB_OK) return CB_ENOMEM;
  for (int i = 1; q && !S->o->fixed_mul && i <= start; i++)
    if (net->node[i].kind == CB_MUL &&
        ((!P->mp && !(P->mp = cb_calloc((size_t)net->n, sizeof *P->mp))) || init_mul(P, i, net->node[i].size) != CB_OK))
      return CB_ENOMEM;
  return CB_OK;
}

/* Saves (restore = 0) or restores the workspace values the passes overwrite:
   bounds, zmax and lines of every node. */
static void save_ws(alpha_st *S, int restore)
{
  cb_ws *ws = S->ws;
  for (int i = 0; i < ws->net->n; i++) {
    size_t sz = ws->net->node[i].size;
    double *v[7] = {ws->lo[i], ws->hi[i], ws->zmax[i], ws->rl_w[i], ws->rl_b[i], ws->ru_w[i], ws->ru_b[i]};
    for (int j = 0; S->save[i] && j < 7; j++) {
      if (!v[j]) continue;
      if (restore) memcpy(v[j], S->save[i] + (size_t)j * sz, sz * sizeof(double));
      else memcpy(S->save[i] + (size_t)j * sz, v[j], sz * sizeof(double));
    }
  }
}

/* State: ranges, adjoints and saves per node, the passes (intermediate ones when interm). */
static int init_state(alpha_st *S, const double *A0, size_t q, int interm)
{
  cb_ws *ws = S->ws;
  const cb_net *net = ws->net;
  int n = net->n, nt = 0;
  S->R = cb_calloc((size_t)n, sizeof *S->R);
  S->ladj = cb_calloc((size_t)n, sizeof *S->ladj);
  S->uadj = cb_calloc((size_t)n, sizeof *S->uadj);
  S->save = cb_calloc((size_t)n, sizeof *S->save);
  S->sole = cb_alloc((size_t)n * sizeof *S->sole);
  S->keep0 = cb_calloc((size_t)n, 1);
  if (!S->R || !S->ladj || !S->uadj || !S->save || !S->sole || !S->keep0) return CB_ENOMEM;
  {   /* with a softmax's product form in CROWN's passes (crown.c back_softmax), which alpha's own
         passes do not take, CROWN's box of every node after it can be the tighter: met too */
    int smx = 0;
    for (int i = 1; i < n; i++) {
      S->keep0[i] = (char)(crown_domain_consumer(net, i) || smx);
      smx |= ws->smx_on[i];
    }
  }
  for (int i = 0; i < n; i++) S->sole[i] = -1;
  for (int j = 1; j < n; j++)   /* -2: read more than once */
    for (int k = 0; k < net->node[j].n_in; k++) {
      int *c = &S->sole[net->node[j].in[k]];
      *c = *c == -1 ? j : -2;
    }
  for (int i = 0; i < n; i++) if (S->sole[i] < 0) S->sole[i] = -1;
  {
    size_t wide = 1;
    for (int i = 0; i < n; i++) if (net->node[i].size > wide) wide = net->node[i].size;
    if (!(S->ia = cb_alloc(wide * sizeof *S->ia)) || !(S->oa = cb_alloc(wide * sizeof *S->oa)) ||
        !(S->xnz = cb_alloc(wide * sizeof *S->xnz)) || !(S->memo = cb_alloc(6 * wide * sizeof *S->memo)))
      return CB_ENOMEM;
  }
  for (int i = 1; i <= net->output; i++) {
    size_t sz = net->node[i].size;
    int target = interm && crown_refines(net, i) && i < net->output;
    if (target && (nt++, !(S->ladj[i] = cb_alloc(sz * sizeof(double))) || !(S->uadj[i] = cb_alloc(sz * sizeof(double)))))
      return CB_ENOMEM;
    if (!(S->save[i] = cb_alloc(7 * sz * sizeof(double)))) return CB_ENOMEM;
    if (!relaxed(&net->node[i])) continue;
    for (int s = 0; s < 2; s++)
      if (!(S->R[i].slot[s] = cb_alloc(sz)) || !(S->R[i].pmin[s] = cb_alloc(sz * sizeof(double))) ||
          !(S->R[i].pmax[s] = cb_alloc(sz * sizeof(double))) || !(S->R[i].d[s] = cb_alloc(4 * sz * sizeof(double)))) return CB_ENOMEM;
    update_range(S, i);
    if (!(S->R[i].idx = cb_alloc(sz * sizeof(size_t))) || !(S->R[i].has = cb_calloc(sz, 1)) ||
        !(S->R[i].pos = cb_alloc(sz * sizeof(size_t)))) return CB_ENOMEM;
    for (size_t e = 0; e < sz; e++)
      if (s_shaped(&net->node[i]) || S->R[i].slot[0][e] >= 0 || S->R[i].slot[1][e] >= 0) {
        S->R[i].pos[e] = S->R[i].nidx;
        S->R[i].idx[S->R[i].nidx++] = e;
        S->R[i].has[e] = 1;
      }
  }
  save_ws(S, 0);
  if (!(S->P = cb_calloc((size_t)nt + 1, sizeof *S->P))) return CB_ENOMEM;
  {   /* the largest pass has at most max(q, twice the widest node) rows */
    size_t qmax = q, need = 0;
    for (int i = 1; i < net->output; i++) if (S->ladj[i] && 2 * net->node[i].size > qmax) qmax = 2 * net->node[i].size;
    for (int i = 1; i < n; i++)
      if (net->node[i].kind == CB_CONV && la_conv_forward_need(&net->node[i].p.conv.g, qmax, 0) > need)
        need = la_conv_forward_need(&net->node[i].p.conv.g, qmax, 0);
    if (need && !(S->cs = cb_alloc(need * sizeof(double)))) return CB_ENOMEM;
  }
  for (int i = 1; i < net->output; i++)
    if (S->ladj[i] && init_pass(S, &S->P[S->np++], i, NULL, 0) != CB_OK) return CB_ENOMEM;
  return init_pass(S, &S->P[S->np++], net->output, A0, q);
}

static void free_state(alpha_st *S)
{
  int n = S->ws->net->n;
  if (S->save && S->P) save_ws(S, 1);
  for (int k = 0; S->P && k < S->np; k++) free_pass(S, &S->P[k]);
  for (int i = 0; S->R && i < n; i++)
  {
    for (int s = 0; s < 2; s++) { cb_free(S->R[i].slot[s]); cb_free(S->R[i].pmin[s]); cb_free(S->R[i].pmax[s]); cb_free(S->R[i].d[s]); }
    cb_free(S->R[i].idx);
    cb_free(S->R[i].pos);
    cb_free(S->R[i].has);
  }
  for (int i = 0; i < n; i++) {
    if (S->ladj) cb_free(S->ladj[i]);
    if (S->uadj) cb_free(S->uadj[i]);
    if (S->save) cb_free(S->save[i]);
  }
  cb_free(S->P); cb_free(S->R); cb_free(S->ladj); cb_free(S->uadj); cb_free(S->save);
  cb_free(S->sole); cb_free(S->keep0); cb_free(S->ia); cb_free(S->oa); cb_free(S->xnz); cb_free(S->memo); cb_free(S->xg); cb_free(S->cs);
}

/*
** beta's gradient and Adam step, projected onto beta >= 0: the final row's
** bound U_r takes beta_rs sig_s at node p's neuron j in its matrix there, and
** dU_r/dA_p = G_p (the header), so dU_r/dbeta_rs = sig_s G_p[r][j].
*/
static void beta_step(alpha_st *S, const apass *P, const cb_alpha_opt *o, int t, double lr)
{
  const cb_net *net = S->ws->net;
  const cb_alpha_opt *so = S->o;
  double c1 = 1 - pow(o->beta1, t), c2 = 1 - pow(o->beta2, t);
  for (size_t r = 0; r < P->q; r++)
    for (size_t s = 0; s < S->ns; s++) {
      int p = so->split_node[s];
      size_t k = r * S->ns + s;
      double g = P->G[p] ? so->split_sig[s] * P->G[p][r * net->node[p].size + so->split_idx[s]] : 0;
      S->bm[k] = o->beta1 * S->bm[k] + (1 - o->beta1) * g;
      S->bv[k] = o->beta2 * S->bv[k] + (1 - o->beta2) * g * g;
      S->beta[k] -= lr * (S->bm[k] / c1) / (sqrt(S->bv[k] / c2) + 1e-8);
      if (!(S->beta[k] > 0)) S->beta[k] = 0;
    }
}

/* Gradients of the final rows' sum through every pass, then one Adam step on each. */
static int gradient_step(alpha_st *S, const cb_alpha_opt *o, int t, double lr, cb_error *err)
{
  int rc = CB_OK;
  for (int i = 0; i < S->ws->net->n; i++)
    if (S->ladj[i]) for (size_t e = 0; e < S->ws->net->node[i].size; e++) S->ladj[i][e] = S->uadj[i][e] = 0;
  for (int k = S->np - 1; k >= 0 && rc == CB_OK; k--) {
    apass *P = &S->P[k];
    for (size_t r = 0; r < P->q; r++)
      P->rho[r] = !P->sel ? 1 : r < P->m ? S->uadj[P->start][P->sel[r]] : -S->ladj[P->start][P->sel[r - P->m]];
    if ((rc = grad_forward(S, P, err)) != CB_OK) break;
    backprop(S, P);
    adam_step(S, P, o, t, lr);
    for (int i = 1; P->mp && i <= P->start; i++)
      if (P->mp[i].g[0] && P->keep[i]) adam_mul(P, i, S->ws->net->node[i].size, o, t, lr);
    if (k == S->np - 1 && S->ns) beta_step(S, P, o, t, o->beta_lr * pow(o->lr_decay, t - 1));
  }
  return rc;
}

/* keep_interm: the re-bounded nodes' boxes of this iterate intersected into S->ibox. */
static void meet_interm(alpha_st *S)
{
  const cb_ws *ws = S->ws;
  for (int i = 0; i < ws->net->n; i++) {
    size_t sz = ws->net->node[i].size;
    if (!S->ibox[i]) continue;
    for (size_t e = 0; e < sz; e++) {
      S->ibox[i][e] = fmax(S->ibox[i][e], ws->lo[i][e]);
      S->ibox[i][sz + e] = fmin(S->ibox[i][sz + e], ws->hi[i][e]);
    }
  }
}

/* keep_interm, after the workspace is restored: the intersected boxes go in,
   and every activation after the first of them takes its box (IBP) and
   lines from its input's.  Boxes of other nodes stay (valid, maybe looser). */
static int write_interm(alpha_st *S, cb_error *err)
{
  cb_ws *ws = S->ws;
  const cb_net *net = ws->net;
  int first = net->n;
  for (int i = 0; i < net->n; i++) {
    size_t sz = net->node[i].size;
    if (!S->ibox[i]) continue;
    if (first > i) first = i;
    memcpy(ws->lo[i], S->ibox[i], sz * sizeof(double));
    memcpy(ws->hi[i], S->ibox[i] + sz, sz * sizeof(double));
    set_zmax(ws, i);
  }
  memset(ws->sv_ok, 0, (size_t)net->n);
  for (int i = first + 1; i < net->n; i++) {
    int rc;
    if (net->node[i].kind != CB_ACT) continue;
    if ((rc = ibp_node(ws, i, err)) != CB_OK) return rc;
    ws_relax_lines(ws, i);
  }
  return CB_OK;
}

/* Does some pass have a parameter (or beta a multiplier)?  Without one every
   iterate uses CROWN's lines, and iterations after 0 only recompute its bounds. */
static int has_params(const alpha_st *S)
{
  if (S->ns) return 1;
  for (int k = 0; k < S->np; k++)
    for (int i = 0; i < S->ws->net->n; i++)
    {
      for (int s = 0; s < 4; s++) if (S->P[k].par && S->P[k].par[i].p[s]) return 1;
      if (S->P[k].mp && S->P[k].mp[i].g[0]) return 1;
    }
  return 0;
}

/*
** The optimisation loop: best[r] per final row.  Early stop (o->patience):
** after `patience` iterations in a row in which no row's bound went below its
** best, the loop ends; what it returns is each row's best computed iterate,
** as at the full count (sound; never looser than iteration 0, CROWN).  Off
** by default: on the benchmark nets the bound still improves at the last of
** the 20-40 iterations (mnist-net_256x6, cifar_wide_kw: by 1e-5-1e-4 per
** iterate), and with patience 5 the golden digits_mlp runs stall for 5
** iterates and then gain 4.6e-5 more.  A run without parameters (every
** activation stable, no split) ends after iteration 0: its later iterates
** have CROWN's lines and only recompute its bounds (same answer).
*/
static int optimise(alpha_st *S, const cb_alpha_opt *o, int upper, double *best, cb_error *err)
{
  apass *F = &S->P[S->np - 1];
  double lr = o->lr;
  int rc = CB_OK, stall = 0, params = has_params(S);
  for (size_t r = 0; r < F->q; r++) best[r] = INFINITY;
  for (int it = 0; it < o->iters && rc == CB_OK; it++) {
    int last = it == o->iters - 1 || !params, improved = 0;
    if (cb_time_up()) return cb_limit_error(err, "alpha-CROWN");
    for (int k = 0; k < S->np && rc == CB_OK; k++) rc = run_pass(S, &S->P[k], !last, it > 0, err);
    for (size_t r = 0; rc == CB_OK && r < F->q; r++)
      if (F->out[r] < best[r]) {
        best[r] = F->out[r];
        improved = 1;
        if (S->ns) memcpy(S->bbest + r * S->ns, S->beta + r * S->ns, S->ns * sizeof *S->bbest);
      }
    stall = improved ? 0 : stall + 1;
    if (o->patience > 0 && stall >= o->patience) last = 1;
    if (rc == CB_OK && S->ibox) meet_interm(S);
    if (rc == CB_OK && o->on_iterate) o->on_iterate(o->ctx, S->ws, it, upper, F->out);
    if (rc != CB_OK || last || (o->done && o->done(o->ctx, best))) break;
    rc = gradient_step(S, o, it + 1, lr, err);
    lr *= o->lr_decay;
    for (int k = 0; k < S->np; k++) free_keep(S, &S->P[k]);
  }
  return rc;
}

/* beta-CROWN's state for q final rows (nothing without splits). */
static int init_beta(alpha_st *S, size_t q)
{
  const cb_net *net = S->ws->net;
  const cb_alpha_opt *o = S->o;
  size_t n = q * o->nsplit + 1;
  if (!o->nsplit) return CB_OK;
  S->ns = o->nsplit;
  if (!(S->injn = cb_calloc((size_t)net->n, 1)) || !(S->inj = cb_calloc((size_t)net->n, sizeof *S->inj)) ||
      !(S->beta = cb_alloc(n * sizeof(double))) || !(S->bm = cb_calloc(n, sizeof(double))) ||
      !(S->bv = cb_calloc(n, sizeof(double))) || !(S->bbest = cb_calloc(n, sizeof(double)))) return CB_ENOMEM;
  for (size_t k = 0; k + 1 < n; k++) S->beta[k] = o->beta && o->beta[k] > 0 ? o->beta[k] : 0;
  memcpy(S->bbest, S->beta, (n - 1) * sizeof *S->bbest);
  for (size_t s = 0; s < S->ns; s++) {
    int p = o->split_node[s];
    S->injn[p] = 1;
    if (!S->inj[p] && !(S->inj[p] = cb_alloc(q * net->node[p].size * sizeof(double) + 1))) return CB_ENOMEM;
  }
  return CB_OK;
}

/* keep_interm: each re-bounded node's box starts as its current one. */
static int init_ibox(alpha_st *S)
{
  const cb_ws *ws = S->ws;
  if (!(S->ibox = cb_calloc((size_t)ws->net->n, sizeof *S->ibox))) return CB_ENOMEM;
  for (int i = 0; i < ws->net->n; i++) {
    size_t sz = ws->net->node[i].size;
    if (!S->ladj[i]) continue;
    if (!(S->ibox[i] = cb_alloc(2 * sz * sizeof(double)))) return CB_ENOMEM;
    memcpy(S->ibox[i], ws->lo[i], sz * sizeof(double));
    memcpy(S->ibox[i] + sz, ws->hi[i], sz * sizeof(double));
  }
  return CB_OK;
}

static void free_beta(alpha_st *S)
{
  for (int i = 0; S->inj && i < S->ws->net->n; i++) cb_free(S->inj[i]);
  cb_free(S->inj); cb_free(S->injn); cb_free(S->beta); cb_free(S->bm); cb_free(S->bv); cb_free(S->bbest);
}

/* Optimises the upper bounds of the rows A (q x output size) into best. */
static int alpha_rows(cb_ws *ws, const double *A, size_t q, const cb_alpha_opt *o, int upper, double *best,
                      cb_error *err)
{
  alpha_st S = {.ws = ws, .o = o};
  int rc = init_state(&S, A, q, o->interm && ws->method != CB_CROWN_IBP);
  if (rc == CB_OK) rc = init_beta(&S, q);
  if (rc == CB_OK && o->keep_interm) rc = init_ibox(&S);
  if (rc != CB_OK) rc = cb_error_set(err, CB_ENOMEM, "out of memory in alpha-CROWN");
  else rc = optimise(&S, o, upper, best, err);
  if (rc == CB_OK && S.ns && o->beta) memcpy(o->beta, S.bbest, q * S.ns * sizeof *o->beta);
  free_beta(&S);
  free_state(&S);   /* restores the workspace */
  if (rc == CB_OK && S.ibox) rc = write_interm(&S, err);
  for (int i = 0; S.ibox && i < ws->net->n; i++) cb_free(S.ibox[i]);
  cb_free(S.ibox);
  return rc;
}

/* Relaxed activations on the path from the output back to the input through
   each node's first input (a chain for sequential nets; one path of a DAG). */
static int relaxed_depth(const cb_net *net)
{
  int d = 0;
  for (int i = net->output; i > 0; i = net->node[i].n_in ? net->node[i].in[0] : 0) d += relaxed(&net->node[i]);
  return d;
}

/*
** The automatic iteration count: auto_LiRPA's 20 for nets of at most 3
** relaxed layers on the path (relaxed_depth); 40 when sigmoid/tanh tangent
** points are optimised (not convex; see the header) or the net is deeper.
** Deep ReLU nets: at 20 iterations our trajectory (the same algorithm in
** double) ends within float32-trajectory noise of auto_LiRPA's, looser on
** some rows (mnistfc 256x6 prop_12: 17.6 in margin, from a CROWN start 4.2
** tighter than its float32 one); with 40 every margin of 13 mnist_relu_9_200
** and 13 256x6 boxes is at least as tight (bench/RESULTS.md).  The first 20
** iterates are those of a 20-iteration run and the best is kept, so more
** iterations never loosen a bound.
*/
int alpha_auto_iters(const cb_net *net)
{
  for (int i = 1; i < net->n; i++) if (s_shaped(&net->node[i])) return 40;
  return relaxed_depth(net) > 3 ? 40 : 20;
}

/* Where a softmax has its product form stored, CROWN's output pass runs both
   forms and keeps each row's smaller bound, while alpha's passes (which
   carry their own lines) take the softmax's own lines: the rows' best is met
   with CROWN's pass, so alpha-CROWN is never looser than CROWN (the minimum
   of two sound bounds). */
static int meet_crown(cb_ws *ws, const double *A, size_t q, double *best, cb_error *err)
{
  const cb_net *net = ws->net;
  double *c;
  int any = 0, rc;
  for (int i = 1; i <= net->output && !any; i++) any = ws->smx_on[i] && ws->smx[i];
  if (!any) return CB_OK;
  if (!(c = cb_alloc((q + 1) * sizeof *c))) return cb_error_set(err, CB_ENOMEM, "out of memory in alpha-CROWN");
  rc = crown_upper(ws, net->output, A, q, c, err);
  for (size_t r = 0; rc == CB_OK && r < q; r++) if (c[r] < best[r]) best[r] = c[r];
  cb_free(c);
  return rc;
}

/* Lower and upper bounds are two optimisations (as auto_LiRPA's): the
   parameters shared by all rows (intermediate layers) serve one side each. */
int alpha_spec(cb_ws *ws, const double *C, size_t q, const cb_alpha_opt *opt, double *lb, double *ub, cb_error *err)
{
  const cb_net *net = ws->net;
  size_t no = net->node[net->output].size;
  cb_alpha_opt o;
  double *A = cb_alloc((q ? q : 1) * no * sizeof *A), *best = cb_alloc((q ? q : 1) * sizeof *best);
  int rc = CB_OK;
  if (opt) o = *opt; else alpha_opt_init(&o);
  if (ws->method == CB_IBP) { rc = cb_error_set(err, CB_EUSAGE, "alpha-CROWN needs CROWN or CROWN-IBP intermediate bounds, not IBP"); goto out; }
  if (o.iters == 0) o.iters = alpha_auto_iters(net);
  if (o.iters < 1 || !(o.lr >= 0) || !(o.lr_decay > 0) || !(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1))
    { rc = cb_error_set(err, CB_EUSAGE, "alpha-CROWN: iterations must be >= 1, step >= 0, decay > 0, Adam betas in [0, 1)"); goto out; }
  for (size_t s = 0; s < o.nsplit && rc == CB_OK; s++)
    if (!o.split_node || !o.split_idx || !o.split_sig || o.split_node[s] < 0 || o.split_node[s] >= net->output ||
        o.split_idx[s] >= net->node[o.split_node[s]].size || (o.split_sig[s] != 1 && o.split_sig[s] != -1))
      rc = cb_error_set(err, CB_EUSAGE, "beta-CROWN: split %zu must name a neuron of a node before the output, sign +1 or -1", s);
  if (rc == CB_OK && o.nsplit && !(o.beta_lr >= 0)) rc = cb_error_set(err, CB_EUSAGE, "beta-CROWN: the step of beta must be >= 0");
  if (rc != CB_OK) goto out;
  if (!A || !best) { rc = cb_error_set(err, CB_ENOMEM, "out of memory in alpha-CROWN"); goto out; }
  if (!q) goto out;
  if (ub) {
    memcpy(A, C, q * no * sizeof *A);
    if ((rc = alpha_rows(ws, A, q, &o, 1, ub, err)) != CB_OK || (rc = meet_crown(ws, A, q, ub, err)) != CB_OK) goto out;
  }
  if (lb) {
    for (size_t e = 0; e < q * no; e++) A[e] = -C[e];
    if ((rc = alpha_rows(ws, A, q, &o, 0, best, err)) != CB_OK || (rc = meet_crown(ws, A, q, best, err)) != CB_OK) goto out;
    for (size_t r = 0; r < q; r++) lb[r] = -best[r];
  }
out:
  cb_free(A);
  cb_free(best);
  return rc;
}

