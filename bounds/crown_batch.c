/*
** Batched CROWN passes: several workspaces (samples of `bounds`/`certify`,
** or subdomains of one net) share one backward pass, their rows stacked.
**
** Sample s owns rows [R_s, R_s + q_s) of every accumulated matrix: node i's
** stacked matrix is Q x size_i (Q = sum q_s) in one pool, and sample s's
** block, q_s x size_i at row R_s, is exactly the matrix its own pass would
** hold.  Each sample keeps its own pass state (a bwd over its block, its
** own bias, slack and |bias| terms), so every per-sample step (relaxed
** nodes with that sample's lines, MaxPool, SCALE, index maps, the unit first
** step, the concretisation over that sample's set) is crown.c's, unchanged.
** The two steps whose cost is a matrix product run once on the stacked rows:
**   AFFINE: A_in += A W as one dgemm of Q rows (on the union over samples of
**           A's nonzero columns and of the input entries not off);
**   CONV:   A_in += conv^T(A), one transposed conv of Q rows;
** and each sample then adds its own terms with its own slack vector
** |W| zmax_in + |b| (crown_add_terms).  Soundness: an entry of a sample's
** A_in is the same real sum as in its own pass, computed by a dgemm whose
** blocking and live-column set may differ, so in another order and with
** exact zero terms added: gamma_k with k <= out covers any order (bounds.h,
** docs/soundness.md "Batched passes").  Batched and unbatched bounds thus
** differ only by that reduction-order rounding (tests/test_sound.c
** test_batched measures it).
** Not batched (each sample runs its own pass): binary32 products
** (--precision single), unit rows that take the receptive-field pass
** (crown_patch.c), alpha-CROWN's optimisation.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "crown_int.h"
#include "linalg.h"

/* Grows *p to n elements of sz bytes (kept); 0 on OOM. */
static int bgrow(void **p, size_t *cap, size_t n, size_t sz)
{
  if (n == 0) n = 1;
  if (*cap >= n) return 1;
  cb_free(*p);
  *cap = 0;
  if (!(*p = cb_alloc(n * sz))) return 0;
  *cap = n;
  return 1;
}

/* Do all workspaces run the same kind of pass (one net, double precision,
   the same dense/skip switches)?  Otherwise each runs its own. */
static int batchable(cb_ws *const *ws, size_t S)
{
  for (size_t s = 0; s < S; s++) {
    if (ws[s]->net != ws[0]->net || ws[s]->single || ws[s]->dense_only != ws[0]->dense_only ||
        ws[s]->no_skip != ws[0]->no_skip) return 0;
    for (int i = 0; i < ws[s]->net->n; i++) if (ws[s]->smx_on[i]) return 0;   /* a softmax's product-form step (crown.c back_softmax): per sample */
  }
  return 1;
}

/*
** Stacked AFFINE step: one product for all samples' rows.  Only the columns
** of the stacked A with a nonzero entry (k of out) and, when node i reads an
** ACT node that is not the stop, the input entries some sample has not off
** (kin of in; the others take part in nothing in any sample, crown_alive)
** are multiplied, as back_affine does for one sample.
*/
static int batch_affine(bwd *B, size_t S, size_t Q, int i)
{
  cb_ws *w0 = B[0].ws;
  const cb_net *net = w0->net;
  const cb_node *n = &net->node[i];
  int j = n->in[0], skip_in;
  size_t out = n->size, in = n->p.aff.in, k = out, kin = in;
  const double *A = B[0].A[i];
  double *Ain = NULL, *G = (double *)A, own = 0;
  unsigned char *nz, *nzs = cb_alloc(out ? out : 1);
  if (!nzs) return CB_ENOMEM;
  if (w0->live_n < out) {
    cb_free(w0->live);
    w0->live_n = 0;
    if (!(w0->live = cb_alloc(out * (sizeof(size_t) + 1)))) { cb_free(nzs); return CB_ENOMEM; }
    w0->live_n = out;
  }
  skip_in = !w0->no_skip && j != B[0].stop && net->node[j].kind == CB_ACT;
  for (size_t s = 0; s < S; s++) skip_in &= B[s].ws->rl_w[j] != NULL;
  if (skip_in && (!bgrow((void **)&w0->alive, &w0->alive_n, in, sizeof(size_t)) ||
                  !bgrow((void **)&w0->alive_nz, &w0->alive_nz_n, in, 1))) { cb_free(nzs); return CB_ENOMEM; }
  nz = (unsigned char *)(w0->live + out);
  memset(nz, 0, out);
  if (skip_in) memset(w0->alive_nz, 0, in);
  for (size_t s = 0, R = 0; s < S; R += B[s].q, s++) {   /* the union of the samples' columns, and their own counts */
    const cb_ws *w = B[s].ws;
    size_t ks = 0, kis = in;
    memset(nzs, 0, out);
    for (size_t r = R; r < R + B[s].q; r++)
      for (size_t c = 0; c < out; c++) nzs[c] |= A[r * out + c] != 0;
    for (size_t c = 0; c < out; c++) { ks += nzs[c]; nz[c] |= nzs[c]; }
    if (skip_in) {
      kis = 0;
      for (size_t e = 0; e < in; e++) {
        unsigned char a = (w->rl_w[j][e] != 0) | (w->rl_b[j][e] != 0) | (w->ru_w[j][e] != 0) | (w->ru_b[j][e] != 0);
        kis += a;
        w0->alive_nz[e] |= a;
      }
    }
    own += (double)B[s].q * (double)ks * (double)kis;
  }
  cb_free(nzs);
  if (!w0->no_skip) {
    k = 0;
    for (size_t c = 0; c < out; c++) if (nz[c]) w0->live[k++] = c;
  }
  if (skip_in) {
    kin = 0;
    for (size_t e = 0; e < in; e++) if (w0->alive_nz[e]) w0->alive[kin++] = e;
  }
  /* The samples' live columns differ (each has its own stable ReLUs): where
     the union costs more than 1/8 above their own products, each runs its
     own step (crown.c's, on its block) instead. */
  if (!w0->no_skip && 8 * (double)Q * (double)k * (double)kin > 9 * own) {
    for (size_t s = 0; s < S; s++) {
      int rc = crown_bwd_node(&B[s], i, B[s].A[i]);
      if (rc != CB_OK) return rc;
    }
    return CB_OK;
  }
  for (size_t s = 0; s < S; s++) {
    double *a = crown_bwd_acc(&B[s], j);
    if (!a) return CB_ENOMEM;
    if (s == 0) Ain = a;
  }
  if (k && kin && (k < out || kin < in)) {
    const double *Ws;
    double *T;
    if (k < out) {
      if (!bgrow((void **)&w0->gather, &w0->gather_n, k * Q, sizeof(double))) return CB_ENOMEM;
      G = w0->gather;
      for (size_t r = 0; r < Q; r++)
        for (size_t c = 0; c < k; c++) G[r * k + c] = A[r * out + w0->live[c]];
    }
    Ws = crown_wsub(w0, i, k < out ? w0->live : NULL, k, kin < in ? w0->alive : NULL, kin);
    if (!Ws) return CB_ENOMEM;
    if (kin < in) {
      if (!(T = crown_subout(w0, Q * kin))) return CB_ENOMEM;
      la_gemm(0, 0, Q, kin, k, 1.0, G, k, Ws, kin, 0.0, T, kin);
      for (size_t r = 0; r < Q; r++)
        for (size_t c = 0; c < kin; c++) Ain[r * in + w0->alive[c]] += T[r * kin + c];
    } else la_gemm(0, 0, Q, in, k, 1.0, G, k, Ws, in, 1.0, Ain, in);
  } else if (k && kin) la_gemm(0, 0, Q, in, out, 1.0, A, out, n->p.aff.W, in, 1.0, Ain, in);
  for (size_t s = 0; s < S; s++) {
    cb_ws *w = B[s].ws;
    const double *v = crown_slack_vec(w, i);
    if (!v) return CB_ENOMEM;
    w->flops += 2.0 * (double)B[s].q * (double)kin * (double)k;
    w->flops_skipped += 2.0 * (double)B[s].q * ((double)in * (double)out - (double)kin * (double)k);
    crown_add_terms(&B[s].T, B[s].q, B[s].A[i], out, v, crown_slack_gamma(n, in), n->p.aff.b);
  }
  return CB_OK;
}

/* Stacked CONV step: one transposed conv of Q rows, then each sample's terms. */
static int batch_conv(bwd *B, size_t S, size_t Q, int i)
{
  cb_ws *w0 = B[0].ws;
  const cb_node *n = &w0->net->node[i];
  const cb_conv *g = &n->p.conv.g;
  pwin all = {0, g->hout, 0, g->wout};
  double *Ain = NULL, *c;
  int rc = CB_ENOMEM;
  for (size_t s = 0; s < S; s++) {
    double *a = crown_bwd_acc(&B[s], n->in[0]);
    if (!a) return CB_ENOMEM;
    if (s == 0) Ain = a;
  }
  if (crown_conv_back(w0, g, n->p.conv.W, B[0].A[i], Q, Ain) != CB_OK) return CB_ENOMEM;
  if (!(c = cb_alloc(n->size * sizeof *c))) return CB_ENOMEM;
  crown_conv_bias(n, all, c);
  for (size_t s = 0; s < S; s++) {
    cb_ws *w = B[s].ws;
    const double *v = crown_slack_vec(w, i);
    if (!v) goto out;
    w->flops += 2.0 * (double)B[s].q * (double)n->size * (double)(g->cin / g->groups * g->kh * g->kw);
    crown_add_terms(&B[s].T, B[s].q, B[s].A[i], n->size, v, crown_slack_gamma(n, 0), c);
  }
  rc = CB_OK;
out:
  cb_free(c);
  return rc;
}

/* The stacked pass over the S' samples with rows (q[s] > 0), ws[s] etc.
   already compacted. */
static int pass_stacked(cb_ws *const *ws, size_t S, int start, int stop, const double *const *A0, const size_t *q,
                        double *const *out)
{
  const cb_net *net = ws[0]->net;
  int n = net->n, unit = 0, rc = CB_ENOMEM;
  size_t Q = 0, R = 0, tot;
  bwd *B = cb_calloc(S, sizeof *B);
  size_t **col = cb_calloc(S, sizeof *col);
  double **val = cb_calloc(S, sizeof *val), *terms = NULL, *pool;
  const size_t *u;
  pchain pc;
  if (!B || !col || !val) goto out;
  for (size_t s = 0; s < S; s++) Q += q[s];
  for (size_t s = 0; s < S; s++) {
    int us = start > stop ? crown_unit_rows(net, start, A0[s], q[s], &col[s], &val[s]) : 0;
    if (us < 0) goto out;
    if (s == 0) unit = us;
    else if (us != unit) unit = -1;
  }
  if (unit < 0 || (unit && stop == 0 && !ws[0]->dense_only && crown_patch_chain(net, start, &pc))) {
    /* mixed rows, or the receptive-field pass: each sample its own pass */
    for (size_t s = 0; s < S; s++)
      if ((rc = crown_pass_stop(ws[s], start, stop, A0[s], q[s], out[s])) != CB_OK) goto out;
    rc = CB_OK;
    goto out;
  }
  if (!(u = crown_plan(ws[0], start, stop, &tot)) || !(pool = crown_scratch(ws[0], Q * tot)) ||
      !(terms = cb_calloc(3 * Q, sizeof *terms))) goto out;
  for (size_t s = 0; s < S; s++) {
    bwd *b = &B[s];
    b->ws = ws[s]; b->q = q[s]; b->stop = stop; b->start = start; b->pool = pool; b->lines = NULL;
    b->A = cb_calloc((size_t)n, sizeof *b->A);
    b->merged = cb_calloc((size_t)n, 1);
    b->off = cb_calloc((size_t)n + 1, sizeof *b->off);
    if (!b->A || !b->merged || !b->off) goto out;
    b->T.bias = terms + R; b->T.slack = terms + Q + R; b->T.babs = terms + 2 * Q + R;
    for (int i = stop; i <= start; i++) b->off[i] = Q * u[i] + R * net->node[i].size;
    if (!crown_bwd_acc(b, start)) goto out;
    memcpy(b->A[start], A0[s], q[s] * net->node[start].size * sizeof(double));
    if (S > 1) ws[s]->rows_batched += q[s];
    R += q[s];
  }
  for (int i = start; i > stop; i--) {
    cb_kind kd = net->node[i].kind;
    if (!B[0].A[i]) continue;
    for (size_t s = 0; s < S; s++) {
      double uf = crown_underflow(ws[s], i);
      if (B[s].merged[i]) crown_bwd_merge(&B[s], i, B[s].A[i]);
      for (size_t r = 0; r < q[s]; r++) B[s].T.slack[r] += uf;
    }
    if (i == start && unit && kd != CB_ADD) {
      for (size_t s = 0; s < S; s++) if ((rc = crown_bwd_unit(&B[s], i, col[s], val[s])) != CB_OK) goto out;
    } else if (kd == CB_AFFINE) {
      if ((rc = batch_affine(B, S, Q, i)) != CB_OK) goto out;
    } else if (kd == CB_CONV) {
      if ((rc = batch_conv(B, S, Q, i)) != CB_OK) goto out;
    } else
      for (size_t s = 0; s < S; s++) if ((rc = crown_bwd_node(&B[s], i, B[s].A[i])) != CB_OK) goto out;
    for (size_t s = 0; s < S; s++) B[s].A[i] = NULL;
  }
  for (size_t s = 0; s < S; s++) {
    if (B[s].A[stop]) crown_bwd_concretise(&B[s], stop, out[s]);
    else for (size_t r = 0; r < q[s]; r++) out[s][r] = crown_close(net, &B[s].T, r, B[s].T.bias[r]);
  }
  rc = CB_OK;
out:
  for (size_t s = 0; B && s < S; s++) { cb_free(B[s].A); cb_free(B[s].merged); cb_free(B[s].off); }
  for (size_t s = 0; col && val && s < S; s++) { cb_free(col[s]); cb_free(val[s]); }
  cb_free(B); cb_free(col); cb_free(val); cb_free(terms);
  return rc;
}

int crown_upper_batch(cb_ws *const *ws, size_t S, int start, int stop, const double *const *A, const size_t *q,
                      double *const *out, cb_error *err)
{
  cb_ws **w = cb_alloc((S + 1) * sizeof *w);
  const double **a = cb_alloc((S + 1) * sizeof *a);
  double **o = cb_alloc((S + 1) * sizeof *o);
  size_t *qq = cb_alloc((S + 1) * sizeof *qq), m = 0, rows = 0;
  int rc = CB_OK;
  if (!w || !a || !o || !qq) rc = CB_ENOMEM;
  for (size_t s = 0; rc == CB_OK && s < S; s++)
    if (q[s]) { w[m] = ws[s]; a[m] = A[s]; o[m] = out[s]; qq[m++] = q[s]; rows += q[s]; }
  if (rc == CB_OK && m && (m == 1 || !batchable(w, m))) {   /* one workspace: its own pass, the same bits */
    for (size_t s = 0; s < m && rc == CB_OK; s++) rc = crown_pass_stop(w[s], start, stop, a[s], qq[s], o[s]);
  } else if (rc == CB_OK && m) rc = pass_stacked(w, m, start, stop, a, qq, o);
  cb_free(w); cb_free(a); cb_free(o); cb_free(qq);
  if (rc == CB_ENOMEM) return cb_error_set(err, rc, "out of memory in a batched CROWN pass (%zu rows)", rows);
  return rc == CB_OK ? CB_OK : cb_error_set(err, rc, "internal error in a batched CROWN pass");
}

/* Dense CROWN bounds of node k for the m[s] neurons sel[s][] of each sample,
   `sides` per neuron as crown.c's refine_rows: every pass takes up to 64
   rows of each sample, stacked. */
static int refine_rows_batch(cb_ws *const *ws, size_t S, int k, size_t *const *sel, const size_t *m, int sides,
                             cb_error *err)
{
  const cb_net *net = ws[0]->net;
  size_t n = net->node[k].size, per = sides == 2 ? 2 : 1, ch = 64 / per, mx = 0;
  int keep = crown_domain_consumer(net, k), rc = CB_OK;
  double *A = cb_calloc(S * 64 * n, sizeof *A), *out = cb_alloc(S * 64 * sizeof *out);
  const double **As = cb_alloc(S * sizeof *As);
  double **os = cb_alloc(S * sizeof *os);
  size_t *q = cb_alloc(S * sizeof *q), *c = cb_alloc(S * sizeof *c);
  if (!A || !out || !As || !os || !q || !c) rc = cb_error_set(err, CB_ENOMEM, "out of memory in CROWN");
  for (size_t s = 0; s < S; s++) if (m[s] > mx) mx = m[s];
  for (size_t s = 0; rc == CB_OK && s < S; s++) { As[s] = A + s * 64 * n; os[s] = out + s * 64; }
  for (size_t r0 = 0; r0 < mx && rc == CB_OK; r0 += ch) {
    if (cb_time_up()) { rc = cb_limit_error(err, "CROWN"); break; }
    for (size_t s = 0; s < S; s++) {
      double *a = A + s * 64 * n;
      c[s] = m[s] > r0 ? (m[s] - r0 < ch ? m[s] - r0 : ch) : 0;
      q[s] = per * c[s];
      memset(a, 0, q[s] * n * sizeof *a);
      for (size_t j = 0; j < c[s]; j++) {
        a[j * n + sel[s][r0 + j]] = sides == -1 ? -1 : 1;
        if (sides == 2) a[(c[s] + j) * n + sel[s][r0 + j]] = -1;
      }
    }
    if ((rc = crown_upper_batch(ws, S, k, 0, As, q, os, err)) != CB_OK) break;
    for (size_t s = 0; s < S; s++)
      for (size_t j = 0; j < c[s]; j++) {
        double *h = &ws[s]->hi[k][sel[s][r0 + j]], *l = &ws[s]->lo[k][sel[s][r0 + j]], *o = os[s];
        if (sides != -1) *h = keep ? fmin(*h, o[j]) : o[j];
        if (sides != 1) *l = keep ? fmax(*l, -o[sides == 2 ? c[s] + j : j]) : -o[sides == 2 ? c[s] + j : j];
      }
  }
  cb_free(A); cb_free(out); cb_free(As); cb_free(os); cb_free(q); cb_free(c);
  return rc;
}

/* crown_refine of node k in S workspaces, their dense passes stacked; the
   same neurons and sides as each one's crown_refine (upper bounds first
   where only ReLUs read k, then lower bounds of the neurons not proved off). */
int crown_refine_batch(cb_ws *const *ws, size_t S, int k, cb_error *err)
{
  const cb_net *net = ws[0]->net;
  size_t n = net->node[k].size, *m = NULL, **sel = NULL;
  int rc = CB_OK, sign_only = crown_sign_only(net, k);
  pchain pc;
  if (S == 1 || !batchable(ws, S) || (!ws[0]->dense_only && crown_patch_chain(net, k, &pc))) {
    for (size_t s = 0; s < S && rc == CB_OK; s++) rc = crown_refine(ws[s], k, err);
    return rc;
  }
  m = cb_calloc(S, sizeof *m);
  sel = cb_calloc(S, sizeof *sel);
  if (!m || !sel) { rc = cb_error_set(err, CB_ENOMEM, "out of memory in CROWN"); goto out; }
  for (size_t s = 0; s < S; s++) {
    if (!(sel[s] = cb_alloc((n ? n : 1) * sizeof **sel))) { rc = cb_error_set(err, CB_ENOMEM, "out of memory in CROWN"); goto out; }
    for (size_t e = 0; e < n; e++)
      if (!sign_only || (ws[s]->lo[k][e] < 0 && ws[s]->hi[k][e] > 0)) sel[s][m[s]++] = e;
  }
  if (ws[0]->no_skip || !crown_relu_only(net, k)) rc = refine_rows_batch(ws, S, k, sel, m, 2, err);
  else if ((rc = refine_rows_batch(ws, S, k, sel, m, 1, err)) == CB_OK) {
    for (size_t s = 0; s < S; s++) {
      size_t m2 = 0;
      for (size_t j = 0; j < m[s]; j++) if (ws[s]->hi[k][sel[s][j]] > 0) sel[s][m2++] = sel[s][j];
      ws[s]->rows_skipped += m[s] - m2;
      m[s] = m2;
    }
    rc = refine_rows_batch(ws, S, k, sel, m, -1, err);
  }
  for (size_t s = 0; s < S; s++) set_zmax(ws[s], k);
out:
  for (size_t s = 0; sel && s < S; s++) cb_free(sel[s]);
  cb_free(sel);
  cb_free(m);
  return rc;
}

/* crown_spec for S workspaces (C[s], q rows each), one stacked pass over
   each sample's [C; -C] (the rows needed only) down to node stop. */
int crown_spec_batch(cb_ws *const *ws, size_t S, const double *const *C, size_t q, int stop, double *const *lb,
                     double *const *ub, cb_error *err)
{
  const cb_net *net = ws[0]->net;
  size_t no = net->node[net->output].size, rows = (lb ? q : 0) + (ub ? q : 0);
  double *A = cb_alloc((S * rows * no + 1) * sizeof *A), *out = cb_alloc((S * rows + 1) * sizeof *out);
  const double **As = cb_alloc((S + 1) * sizeof *As);
  double **os = cb_alloc((S + 1) * sizeof *os);
  size_t *qs = cb_alloc((S + 1) * sizeof *qs);
  int rc;
  if (!A || !out || !As || !os || !qs) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  for (size_t s = 0; s < S; s++) {
    double *a = A + s * rows * no;
    if (ub) memcpy(a, C[s], q * no * sizeof *a);
    if (lb) for (size_t e = 0; e < q * no; e++) a[(ub ? q * no : 0) + e] = -C[s][e];
    As[s] = a; os[s] = out + s * rows; qs[s] = rows;
  }
  if ((rc = crown_upper_batch(ws, S, net->output, stop, As, qs, os, err)) != CB_OK) goto out;
  for (size_t s = 0; s < S; s++) {
    for (size_t r = 0; ub && r < q; r++) ub[s][r] = os[s][r];
    for (size_t r = 0; lb && r < q; r++) lb[s][r] = -os[s][(ub ? q : 0) + r];
  }
out:
  cb_free(A); cb_free(out); cb_free(As); cb_free(os); cb_free(qs);
  return rc;
}
