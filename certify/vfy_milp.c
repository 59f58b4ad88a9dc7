/*
** The complete leaf (vfy_int.h): a region of the branch and bound with few
** ReLUs of unknown sign is decided exactly by a mixed-integer program over
** those ReLUs' phases, solved by a branch and bound of our own over GLPK's
** simplex (lp_model, bounds/lp.c), every closed node proved by a sound bound.
**
** The region: every input x in the workspace's box (ws->set) whose node
** values all lie in the workspace's node boxes (ws->lo, ws->hi), which must
** be sound on it (a split neuron's pre-activation box clamped to [0, u] or
** [l, 0] carries the split).  The encoding, per node (exact in real
** arithmetic, with the net's double parameters, which must be exact):
**   INPUT        x_j in [lo_j, hi_j]
**   AFFINE       z_o in [l_o, u_o],  z_o - sum_j W_oj v_j = b_o
**   SCALE, ADD   z_j - a_j v_j = b_j,  z_j - v_j - w_j = 0 (boxes as above)
**   RESHAPE      the same columns
**   ReLU         u <= 0: the constant 0;  l >= 0: the input's column;
**                l < 0 < u: h in [0, u], d in {0, 1} and
**                  h >= z,  h <= u d,  h <= z - l (1 - d)      (big-M from the
**                sound box: d = 1 gives h = z >= 0, d = 0 gives h = 0 >= z)
**   conjunction  t in [tmin, tmax],  A_r y - t <= b_up_r  (b_up >= b_r)
** and minimises t.  Every point of the region, with its real node values,
** the d of its phases and t = max(tmin, max_r (A_r y - b_up_r)), is feasible
** (tmax bounds the rows over the output box, tmin <= 0); a point meeting the
** conjunction has t <= 0.  So a sound lower bound > 0 of min t over the
** program's relaxation at a node of the phase tree (d fixed on the path,
** [0, 1] elsewhere) refutes the conjunction on the node's part of the
** region, and a node whose LP is infeasible (a sound certificate) holds no
** point of it.  Both are proved by lp_model_bound from GLPK's multipliers
** (the Neumaier-Shcherbina bound, rounding included): GLPK only proposes.
** A node whose LP optimum is <= 0 proposes its x, which is a witness only
** after the exact check (vfy_check_witness).  The search is depth first,
** branching on the most fractional d (the side it leans to first); when
** every d is fixed the LP is the net itself on that phase pattern, so a
** pattern is either refuted, or gives a candidate, or (rounding at a
** boundary) leaves the leaf open.  Open (unknown) also at the node cap or
** the deadline; never unsat without every leaf of the tree proved.
**
** docs/soundness.md, "The MILP leaf", has the argument in full.
**
** Sizes: mnistfc 256x2 on a 784-pixel box: ~1,100 columns, ~600 rows,
** ~150,000 entries (the first layer's live rows); K <= milp_leaf (16)
** binaries, so at most 2^(K+1) LPs, in practice tens.
*/
#include <math.h>
#include <string.h>
#include "vfy_int.h"
#include "lp.h"
#include "round.h"

typedef struct enc {      /* the program being written: pass 0 counts, pass 1 fills */
  int fill;
  size_t nrow, ncol, nz;
  size_t *rp;
  int *ci;
  double *av, *rl, *ru, *cl, *cu, *c;
} enc;

static int new_col(enc *E, double lo, double hi)
{
  if (E->fill) { E->cl[E->ncol] = lo; E->cu[E->ncol] = hi; E->c[E->ncol] = 0; }
  return (int)E->ncol++;
}

static void row_add(enc *E, int j, double a)
{
  if (a == 0) return;
  if (E->fill) { E->ci[E->nz] = j; E->av[E->nz] = a; }
  E->nz++;
}

static void row_end(enc *E, double lo, double hi)
{
  if (E->fill) { E->rl[E->nrow] = lo; E->ru[E->nrow] = hi; E->rp[E->nrow + 1] = E->nz; }
  E->nrow++;
}

#define COL_ZERO (-1)     /* the neuron's value is the constant 0 */
#define COL_NONE (-2)     /* not needed by the program */

struct vfy_milp {
  const cb_net *net;
  int **col;              /* per node: a column per neuron, or COL_ZERO / COL_NONE */
  unsigned char **use;    /* per node: neuron read by the program */
  int *bin;               /* K: the binaries d */
  int *tcol;              /* per conjunction: its t */
  size_t *row0;           /* per conjunction: its first row; row0[nc] = the end */
  size_t K, nc, nx, nrow, ncol;
  const vnn_conj *conj;
  lp_model *LP;
  double *v, *y, *obj, *x;
  double deadline;
  long max_nodes;
  milp_stat *st;
  int (*check)(void *ctx, double *x);
  void *ctx;
};

/* Is the net one the program encodes (INPUT, AFFINE, SCALE, ADD, RESHAPE,
   ReLU, exact parameters)? */
int vfy_milp_supported(const cb_net *net)
{
  for (int i = 0; i < net->n; i++) {
    const cb_node *nd = &net->node[i];
    switch (nd->kind) {
    case CB_INPUT: case CB_RESHAPE: break;
    case CB_AFFINE: case CB_SCALE: case CB_ADD: if (!nd->exact) return 0; break;
    case CB_ACT: if (!node_is_act(nd, CB_ACT_RELU)) return 0; break;
    case CB_CONV: case CB_CONCAT: case CB_TRANSPOSE: case CB_MAXPOOL: case CB_SORT: case CB_MUL: case CB_KIND_COUNT: return 0;
    }
  }
  return 1;
}

/* Which neurons the program holds: the output's, and backwards what each
   held neuron reads.  A ReLU with u <= 0 keeps its input's column too: its
   box (z <= 0) is part of the region, and without it an LP point with every
   phase fixed could lie outside the region, where the program's net is not
   the real one (it then failed the witness check). */
static void mark_use(struct vfy_milp *P)
{
  const cb_net *net = P->net;
  for (int i = 0; i < net->n; i++) memset(P->use[i], i == net->output, net->node[i].size);
  for (int i = net->n - 1; i >= 0; i--) {
    const cb_node *nd = &net->node[i];
    int p = nd->n_in > 0 ? nd->in[0] : -1;
    size_t any = 0;
    for (size_t j = 0; j < nd->size; j++) any |= P->use[i][j];
    if (!any || p < 0) continue;
    switch (nd->kind) {
    case CB_AFFINE: memset(P->use[p], 1, net->node[p].size); break;
    case CB_ADD: for (size_t j = 0; j < nd->size; j++) { P->use[p][j] |= P->use[i][j]; P->use[nd->in[1]][j] |= P->use[i][j]; } break;
    case CB_ACT: for (size_t j = 0; j < nd->size; j++) P->use[p][j] |= P->use[i][j]; break;
    default: for (size_t j = 0; j < nd->size; j++) P->use[p][j] |= P->use[i][j]; break;
    }
  }
}

/* A column for a used neuron of node i with its sound box; COL_NONE if unused. */
static int node_col(enc *E, const struct vfy_milp *P, const cb_ws *ws, int i, size_t j)
{
  return P->use[i][j] ? new_col(E, ws->lo[i][j], ws->hi[i][j]) : COL_NONE;
}

/* Node i's columns and rows (see the file header).  -1: a box that is not
   finite, or an input column that should exist and does not. */
static int enc_node(enc *E, struct vfy_milp *P, const cb_ws *ws, int i)
{
  const cb_node *nd = &P->net->node[i];
  int *col = P->col[i], p = nd->n_in > 0 ? nd->in[0] : -1;
  for (size_t j = 0; j < nd->size; j++) {
    int z;
    if (P->use[i][j] && !(isfinite(ws->lo[i][j]) && isfinite(ws->hi[i][j]))) return -1;
    switch (nd->kind) {
    case CB_INPUT: col[j] = new_col(E, ws->set.lo[j], ws->set.hi[j]); break;
    case CB_RESHAPE: col[j] = P->col[p][j]; break;
    case CB_AFFINE:
      if ((col[j] = node_col(E, P, ws, i, j)) < 0) break;
      row_add(E, col[j], 1);
      for (size_t k = 0; k < nd->p.aff.in; k++) {
        if (P->col[p][k] == COL_NONE) return -1;
        if (P->col[p][k] >= 0) row_add(E, P->col[p][k], -nd->p.aff.W[j * nd->p.aff.in + k]);
      }
      row_end(E, nd->p.aff.b[j], nd->p.aff.b[j]);
      break;
    case CB_SCALE:
      if ((col[j] = node_col(E, P, ws, i, j)) < 0) break;
      if (P->col[p][j] == COL_NONE) return -1;
      row_add(E, col[j], 1);
      if (P->col[p][j] >= 0) row_add(E, P->col[p][j], -nd->p.scale.a[j]);
      row_end(E, nd->p.scale.b[j], nd->p.scale.b[j]);
      break;
    case CB_ADD: {
      int c0 = P->col[p][j], c1 = P->col[nd->in[1]][j];
      if ((col[j] = node_col(E, P, ws, i, j)) < 0) break;
      if (c0 == COL_NONE || c1 == COL_NONE) return -1;
      row_add(E, col[j], 1);
      /* one column for both addends (x + x; relu(z) + z with z >= 0, a stable
         ReLU being z's own column): one entry, as GLPK aborts on a row that
         names a column twice */
      if (c0 >= 0 && c0 == c1) row_add(E, c0, -2);
      else {
        if (c0 >= 0) row_add(E, c0, -1);
        if (c1 >= 0) row_add(E, c1, -1);
      }
      row_end(E, 0, 0);
      break;
    }
    default: {   /* ReLU (vfy_milp_supported) */
      double l = ws->lo[p][j], u = ws->hi[p][j];
      if (!P->use[i][j]) { col[j] = COL_NONE; break; }
      if (!(isfinite(l) && isfinite(u))) return -1;
      z = P->col[p][j];
      if (u <= 0 || z == COL_ZERO) { col[j] = COL_ZERO; break; }
      if (z == COL_NONE) return -1;
      if (l >= 0) { col[j] = z; break; }
      col[j] = new_col(E, 0, u);
      if (E->fill) P->bin[P->K] = (int)E->ncol;
      P->K++;
      new_col(E, 0, 1);                        /* d */
      row_add(E, col[j], 1); row_add(E, z, -1); row_end(E, 0, INFINITY);                            /* h >= z */
      row_add(E, col[j], 1); row_add(E, (int)E->ncol - 1, -u); row_end(E, -INFINITY, 0);            /* h <= u d */
      row_add(E, col[j], 1); row_add(E, z, -1); row_add(E, (int)E->ncol - 1, -l); row_end(E, -INFINITY, -l);  /* h <= z - l (1 - d) */
      break;
    }
    }
  }
  return 0;
}

/* Conjunction c's t and rows: A_r y - t <= b_up_r, t in [tmin, tmax] with
   tmax >= every row's value over the output box (rounded up generously) and
   tmin = -tmax - 1 <= 0. */
static int enc_conj(enc *E, struct vfy_milp *P, const cb_ws *ws, const vnn_conj *k, size_t ny, size_t c)
{
  const cb_net *net = P->net;
  int out = net->output, t;
  double tmax = 0;
  for (size_t r = 0; r < k->m; r++) {
    double s = fabs(k->b_up[r]);
    for (size_t j = 0; j < ny; j++) s += fabs(k->A[r * ny + j]) * fmax(fabs(ws->lo[out][j]), fabs(ws->hi[out][j]));
    tmax = fmax(tmax, s);
  }
  tmax = 2 * tmax + 1;
  if (!isfinite(tmax)) return -1;
  t = new_col(E, -tmax - 1, tmax);
  if (E->fill) { P->tcol[c] = t; P->row0[c] = E->nrow; }
  for (size_t r = 0; r < k->m; r++) {
    for (size_t j = 0; j < ny; j++) {
      if (P->col[out][j] == COL_NONE) return -1;
      if (P->col[out][j] >= 0) row_add(E, P->col[out][j], k->A[r * ny + j]);
    }
    row_add(E, t, -1);
    row_end(E, -INFINITY, k->b_up[r]);
  }
  return 0;
}

/* Both passes of the encoding of the net and the nc conjunctions. */
static int encode(struct vfy_milp *P, const cb_ws *ws, const vnn_conj *conj, size_t ny, enc *E)
{
  for (int i = 0; i < P->net->n; i++) if (enc_node(E, P, ws, i)) return -1;
  for (size_t c = 0; c < P->nc; c++) if (enc_conj(E, P, ws, &conj[c], ny, c)) return -1;
  if (E->fill) P->row0[P->nc] = E->nrow;
  return 0;
}

void vfy_milp_free(vfy_milp *P)
{
  if (!P) return;
  for (int i = 0; P->col && i < P->net->n; i++) { cb_free(P->col[i]); if (P->use) cb_free(P->use[i]); }
  cb_free(P->col); cb_free(P->use); cb_free(P->bin); cb_free(P->tcol); cb_free(P->row0); cb_free(P->v);
  lp_model_free(P->LP);
  cb_free(P);
}

vfy_milp *vfy_milp_new(const cb_net *net, const cb_ws *ws, const vnn_conj *conj, size_t nc, size_t ny, int kmax,
                       cb_error *err)
{
  vfy_milp *P = cb_calloc(1, sizeof *P);
  enc E = {0};
  int rc = CB_ENOMEM;
  if (!P) goto fail;
  P->net = net; P->nc = nc; P->nx = net->node[0].size; P->conj = conj;
  if (!(P->col = cb_calloc((size_t)net->n, sizeof *P->col)) || !(P->use = cb_calloc((size_t)net->n, sizeof *P->use))) goto fail;
  for (int i = 0; i < net->n; i++)
    if (!(P->col[i] = cb_alloc(net->node[i].size * sizeof **P->col + 1)) || !(P->use[i] = cb_alloc(net->node[i].size + 1))) goto fail;
  rc = CB_EUNSUP;
  if (!vfy_milp_supported(net) || net->node[0].kind != CB_INPUT) goto fail;
  mark_use(P);
  if (encode(P, ws, conj, ny, &E)) goto fail;   /* pass 0: the sizes */
  if (P->K > (size_t)kmax) goto fail;
  rc = CB_ENOMEM;
  P->bin = cb_alloc((P->K + 1) * sizeof *P->bin);
  P->tcol = cb_alloc((nc + 1) * sizeof *P->tcol);
  P->row0 = cb_alloc((nc + 1) * sizeof *P->row0);
  E.rp = cb_alloc((E.nrow + 1) * sizeof *E.rp);
  E.ci = cb_alloc((E.nz + 1) * sizeof *E.ci);
  E.av = cb_alloc((E.nz + 1) * sizeof *E.av);
  E.rl = cb_alloc((2 * E.nrow + 3 * E.ncol + 1) * sizeof *E.rl);
  P->v = cb_alloc((2 * E.ncol + E.nrow + P->nx + 1) * sizeof *P->v);
  if (!P->bin || !P->tcol || !P->row0 || !E.rp || !E.ci || !E.av || !E.rl || !P->v) goto fail_e;
  E.ru = E.rl + E.nrow; E.cl = E.ru + E.nrow; E.cu = E.cl + E.ncol; E.c = E.cu + E.ncol;
  P->obj = P->v + E.ncol; P->y = P->obj + E.ncol; P->x = P->y + E.nrow;
  E.fill = 1; E.rp[0] = 0; E.nrow = E.ncol = E.nz = 0; P->K = 0;
  rc = CB_EINTERNAL;
  if (encode(P, ws, conj, ny, &E)) goto fail_e;   /* pass 1 writes the same program */
  rc = CB_ENOMEM;
  P->nrow = E.nrow; P->ncol = E.ncol;
  if (!(P->LP = lp_model_new(E.nrow, E.ncol, E.rp, E.ci, E.av, E.rl, E.ru, E.cl, E.cu, E.c))) goto fail_e;
  cb_free(E.rp); cb_free(E.ci); cb_free(E.av); cb_free(E.rl);
  return P;
fail_e:
  cb_free(E.rp); cb_free(E.ci); cb_free(E.av); cb_free(E.rl);
fail:
  vfy_milp_free(P);
  if (rc == CB_ENOMEM) cb_error_set(err, CB_ENOMEM, "out of memory in the MILP leaf");
  else if (rc == CB_EINTERNAL) cb_error_set(err, CB_EINTERNAL, "MILP leaf: the two encoding passes differ");
  else err->status = rc;   /* not encodable here: the caller goes on without the leaf */
  return NULL;
}

size_t vfy_milp_binaries(const vfy_milp *P) { return P->K; }

/* The node's candidate: the LP's x, clamped into the box, to the check. */
static int try_point(vfy_milp *P)
{
  for (size_t j = 0; j < P->nx; j++) {
    double lo, hi;
    lp_model_get_col(P->LP, (size_t)P->col[0][j], &lo, &hi);
    P->x[j] = fmin(fmax(P->v[P->col[0][j]], lo), hi);
  }
  P->st->candidates++;
  return P->check(P->ctx, P->x);
}

/* The binary to branch on: the most fractional unfixed d (ties: the first);
   all integral: the first unfixed one; -1 when every d is fixed. */
static int pick_binary(const vfy_milp *P, double *lean)
{
  int best = -1, first = -1;
  double bf = 1e-9;
  for (size_t k = 0; k < P->K; k++) {
    double lo, hi, d = P->v[P->bin[k]], f;
    lp_model_get_col(P->LP, (size_t)P->bin[k], &lo, &hi);
    if (lo == hi) continue;
    if (first < 0) { first = (int)k; *lean = d; }
    f = fmin(d, 1 - d);
    if (f > bf) { bf = f; best = (int)k; *lean = d; }
  }
  return best >= 0 ? best : first;
}

/* One node of the phase tree: MILP_REFUTED (proved on the node), MILP_SAT
   (the check accepted P->x) or MILP_OPEN. */
static int bb_node(vfy_milp *P, int depth)
{
  double est, lean = 0;
  int res, k, open = 0;
  if (vfy_now() > P->deadline || (P->max_nodes && P->st->nodes >= P->max_nodes)) return MILP_OPEN;
  P->st->nodes++;
  P->st->lps++;
  res = lp_model_solve(P->LP, P->v, P->y, &est);
  if (res < 0) return MILP_OPEN;
  if (res == 0) {   /* infeasible, if the tableau row proves it either way */
    double b1 = lp_model_bound(P->LP, P->y, 0), b2;
    for (size_t i = 0; i < P->nrow; i++) P->y[i] = -P->y[i];
    b2 = lp_model_bound(P->LP, P->y, 0);
    return b1 > 0 || b2 > 0 ? MILP_REFUTED : MILP_OPEN;
  }
  if (lp_model_bound(P->LP, P->y, 1) > 0) return MILP_REFUTED;
  if (est <= 0 && try_point(P)) return MILP_SAT;
  if ((k = pick_binary(P, &lean)) < 0) return MILP_OPEN;   /* every phase fixed, not refuted, no witness */
  for (int side = 0; side < 2; side++) {
    double b = (lean >= 0.5) == (side == 0) ? 1 : 0;
    lp_model_set_col(P->LP, (size_t)P->bin[k], b, b);
    res = bb_node(P, depth + 1);
    lp_model_set_col(P->LP, (size_t)P->bin[k], 0, 1);
    if (res == MILP_SAT) return res;
    if (res == MILP_OPEN) open = 1;
  }
  return open ? MILP_OPEN : MILP_REFUTED;
}

int vfy_milp_conj(vfy_milp *P, size_t c, double deadline, long max_nodes, int (*check)(void *ctx, double *x),
                  void *ctx, double *x, milp_stat *st)
{
  double t0 = vfy_now();
  int res;
  for (size_t d = 0; d < P->nc; d++)   /* conjunction c's rows on, the others free */
    for (size_t r = 0; r < P->conj[d].m; r++)
      lp_model_set_row(P->LP, P->row0[d] + r, -INFINITY, d == c ? P->conj[d].b_up[r] : INFINITY);
  memset(P->obj, 0, P->ncol * sizeof *P->obj);
  P->obj[P->tcol[c]] = 1;
  lp_model_set_obj(P->LP, P->obj);
  P->deadline = deadline; P->max_nodes = max_nodes; P->check = check; P->ctx = ctx; P->st = st;
  st->calls++;
  res = bb_node(P, 0);
  if (res == MILP_SAT) memcpy(x, P->x, P->nx * sizeof *x);
  st->seconds += vfy_now() - t0;
  return res;
}

/* ---- the leaf in the search ---- */

typedef struct leafck { const search *S; size_t box; double *y; } leafck;

/* The search's check: x clamped into the spec box's inner box (a witness
   must lie there; the program's box is the outer one), then the exact
   replay. */
static int leaf_check(void *ctx, double *x)
{
  const leafck *L = ctx;
  const vnn_box *B = &L->S->spec->box[L->box];
  size_t c;
  for (size_t j = 0; j < L->S->spec->nx; j++) x[j] = fmin(fmax(x[j], B->lo_in[j]), B->hi_in[j]);
  return vfy_check_witness(L->S->net, L->S->spec, L->box, x, L->y, &c, &L->S->r->fp_only);
}

rres vfy_milp_leaf(const search *S, const cb_ws *ws, size_t box, unsigned char *act, double *x, milp_stat *st,
                   cb_error *err)
{
  const vnn_box *B = &S->spec->box[box];
  leafck L = {S, box, NULL};
  vfy_milp *P;
  rres res = R_CLOSED;
  if (S->o->milp_leaf <= 0) return R_OPEN;
  if (!(P = vfy_milp_new(S->net, ws, B->conj, B->n_conj, S->spec->ny, S->o->milp_leaf, err))) {
    if (err->status == CB_ENOMEM || err->status == CB_EINTERNAL) return R_ERR;
    err->status = 0;   /* not encodable (kinds, K too large): not a failure */
    return R_OPEN;
  }
  if (!(L.y = cb_alloc(S->spec->ny * sizeof *L.y + 1))) { vfy_milp_free(P); cb_error_set(err, CB_ENOMEM, "out of memory"); return R_ERR; }
  for (size_t c = 0; c < B->n_conj && res != R_SAT; c++) {
    int r;
    if (!act[c]) continue;
    r = vfy_milp_conj(P, c, S->t0 + S->deadline, S->o->milp_nodes, leaf_check, &L, x, st);
    if (r == MILP_SAT) res = R_SAT;
    else if (r == MILP_REFUTED) act[c] = 0;
    else res = R_OPEN;
  }
  cb_free(L.y);
  vfy_milp_free(P);
  return res;
}
