/*
** CROWN / DeepPoly back-substitution over the whole graph (one backward
** pass = one switch over node kinds, one small function per kind), the
** steps and rounding terms the receptive-field pass shares (crown_int.h),
** and CROWN's bounds of one node (crown_refine) and of a specification
** (crown_spec, crown_linear).  Unit rows at a CONV or ADD whose nodes down
** to the input allow it take the receptive-field pass instead (crown_patch.c).
** Which method runs which pass is the driver's business (bounds.c).
**
** A backward pass bounds max over the set of A . value(start) for q rows at
** once: it walks the nodes from `start` down to `stop` (the input, or a node
** whose box is used instead), carrying per node an accumulated matrix
** A_i [q x size_i], and per row a bias, a rounding slack and the sum of
** |bias contributions|.  Upper bounds only; a lower bound is minus the upper
** bound of the negated row, so both come from one pass over [A; -A] (STYLE G5).
** Relaxed nonlinear node, upper side:  A_in = A+ uw + A- lw,  bias += A+ ub + A- lb.
** Source: Zhang et al. 2018 (CROWN) Thm 3.2; Singh et al. 2019 (DeepPoly).
** Sizes: q up to twice a layer's width; A matrices are propagated with dgemm,
** an AFFINE step on A's nonzero columns x the input entries not off only.
*/
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "crown_int.h"
#include "backward.h"
#include "linalg.h"
#include "relax_mul.h"
#include "relax_sort.h"
#include "sort.h"
#include "round.h"

/* A of node i, zeroed on first use (in the pass's pool). */
static double *acc(bwd *B, int i)
{
  if (!B->A[i]) {
    B->A[i] = B->pool + B->off[i];
    memset(B->A[i], 0, B->q * B->ws->net->node[i].size * sizeof(double));
  } else B->merged[i] = 1;
  return B->A[i];
}

/* slack_r += g * sum_j |A_rj| v_j  and  bias_r += sum_j A_rj c_j (c may be
   NULL), for the q rows of A (q x n). */
CB_SIMD_CLONES
void crown_add_terms(const crown_terms *T, size_t q, const double *A, size_t n, const double *v, double g,
                     const double *c)
{
  for (size_t r = 0; r < q; r++) {
    double t = 0, s = terms_row(A + r * n, n, v, c, &t);
    T->slack[r] += g * s;
    if (c) { T->bias[r] += t; T->babs[r] += fabs(t); }
  }
}

/* A node reached by more than one contribution (a residual ADD, an injected
   row): each entry of A_i took a rounded addition, 2u |A_i| zmax_i. */
static void merge_slack(bwd *B, int i, const double *A)
{
  crown_add_terms(&B->T, B->q, A, B->ws->net->node[i].size, B->ws->zmax[i], 2 * ROUND_U, NULL);
}

/* The slack vector of an AFFINE/CONV node, |W| zmax_in + |b| (cached in the
   workspace: zmax does not change once a pass has read it). */
const double *crown_slack_vec(cb_ws *ws, int i)
{
  const cb_node *n = &ws->net->node[i];
  double *v = ws->sv[i];
  if (ws->sv_ok[i] & 1) return v;
  if (n->kind == CB_AFFINE) {
    la_gemm(0, 1, 1, n->size, n->p.aff.in, 1.0, ws->zmax[n->in[0]], n->p.aff.in, ws->bn->absW[i], n->p.aff.in, 0.0, v, n->size);
    for (size_t o = 0; o < n->size; o++) v[o] += fabs(n->p.aff.b[o]);
  } else {
    const cb_conv *g = &n->p.conv.g;
    size_t P = (size_t)(g->hout * g->wout);
    double *zero = cb_calloc((size_t)g->cout, sizeof *zero);
    if (!zero || la_conv_forward(g, ws->bn->absW[i], zero, ws->zmax[n->in[0]], 1, v) != CB_OK) { cb_free(zero); return NULL; }
    cb_free(zero);
    for (size_t e = 0; e < n->size; e++) v[e] += fabs(n->p.conv.b[e / P]);
  }
  ws->sv_ok[i] |= 1;
  return v;
}

/* Slack factor of an AFFINE/CONV node (in = input size): 2 (gamma + rel_err)
   covering the product with A and the slack vector's own dot products.  An
   entry of a CONV's A_in sums up to (cout/groups) kh kw products (every output
   channel of the group at every tap over that input), the slack vector's
   entries (cin/groups) kh kw: gamma of their sum, as AFFINE's out + in. */
double crown_slack_gamma(const cb_node *n, size_t in)
{
  const cb_conv *g = &n->p.conv.g;
  if (n->kind == CB_AFFINE) return 2 * (round_gamma(n->size + in + 2) + n->rel_err);
  return 2 * (round_gamma((size_t)((g->cin + g->cout) / g->groups * g->kh * g->kw) + 2) + n->rel_err);
}

/* Slack factor of a SCALE node: one product and one sum per entry of A_in
   and of the bias, and one of each in the slack vector: 2 (gamma_3 + rel_err). */
double crown_scale_gamma(const cb_node *n) { return 2 * (round_gamma(3) + n->rel_err); }

/* Slack vector of a SCALE node on m entries: v = |a| zmax_in + |b|. */
void crown_scale_vec(size_t m, const double *a, const double *b, const double *z, double *v)
{
  for (size_t e = 0; e < m; e++) v[e] = fabs(a[e]) * z[e] + fabs(b[e]);
}

/* Slack factor of a relaxed node (lines picked by sign, summed over the row):
   2 gamma_{size+3}. */
double crown_relax_gamma(const cb_node *n) { return 2 * round_gamma(n->size + 3); }

/* Bias of a CONV on output window wo (channel-major, as the window's tensor):
   c_e = b_co for every pixel of channel co. */
void crown_conv_bias(const cb_node *n, pwin wo, double *c)
{
  size_t P = (size_t)((wo.h1 - wo.h0) * (wo.w1 - wo.w0));
  for (size_t co = 0, e = 0; co < (size_t)n->p.conv.g.cout; co++)
    for (size_t k = 0; k < P; k++, e++) c[e] = n->p.conv.b[co];
}

/* The columns of A (q x m) with a nonzero entry, into live[]; their count.
   A column is zero where a ReLU-like consumer is off on the whole box (both
   lines 0) or a unit/sparse row never reaches it.  The bits of |a| are ORed
   per column into bits (m doubles of room, four lanes at a time): a column
   is zero iff its OR is +0 (a NaN's bits are not). */
CB_SIMD_CLONES
static size_t live_columns(const double *A, size_t q, size_t m, size_t *live, double *bits)
{
  size_t k = 0;
  memset(bits, 0, m * sizeof *bits);
  for (size_t r = 0; r < q; r++) {
    const double *a = A + r * m;
    size_t j = 0;
    for (; j + 4 <= m; j += 4) STORE4(bits + j, (v4d)((v4i)LOAD4(bits + j) | (v4i)ABS4(LOAD4(a + j))));
    for (; j < m; j++) {
      uint64_t x, y;
      memcpy(&x, a + j, sizeof x);
      memcpy(&y, bits + j, sizeof y);
      y |= x << 1 >> 1;
      memcpy(bits + j, &y, sizeof y);
    }
  }
  for (size_t j = 0; j < m; j++) if (bits[j] != 0) live[k++] = j;
  return k;
}

/* The one node that reads node i, or -1 (none, or two or more reads). */
static int sole_consumer(const cb_net *net, int i)
{
  int c = -1;
  for (int j = i + 1; j < net->n; j++)
    for (int k = 0; k < net->node[j].n_in; k++)
      if (net->node[j].in[k] == i) { if (c >= 0) return -1; c = j; }
  return c;
}

/* Grows the workspace's gather buffer to n doubles (kept); NULL on OOM. */
static double *gather_buf(cb_ws *ws, size_t n)
{
  if (ws->gather_n < n) {
    cb_free(ws->gather);
    ws->gather_n = 0;
    if (!(ws->gather = cb_alloc(n * sizeof(double)))) return NULL;
    ws->gather_n = n;
  }
  return ws->gather;
}

/* W's rows at the k live columns ws->live[] of AFFINE node i, all columns
   (crown_wsub's cache).  NULL on OOM. */
static const double *live_rows(cb_ws *ws, int i, size_t k)
{
  return crown_wsub(ws, i, ws->live, k, NULL, ws->net->node[i].p.aff.in);
}

/* Grows *p to n elements of sz bytes (kept for the next call); 0 on OOM. */
static int grow(void **p, size_t *cap, size_t n, size_t sz)
{
  if (n == 0) n = 1;
  if (*cap >= n) return 1;
  cb_free(*p);
  *cap = 0;
  if (!(*p = cb_alloc(n * sz))) return 0;
  *cap = n;
  return 1;
}

/* Entries of node i that are not off (bounds.h).  A column of A at an ACT
   node whose four lines are 0 in every row takes part in nothing: the step
   through the node adds a_e 0 to A_in, a_e 0 to the bias and |a_e| 0 to the
   slack (both slack vectors are made of |line| terms), whatever finite a_e. */
size_t crown_alive(cb_ws *ws, const crown_lines *L, int i, size_t q, size_t *idx)
{
  const cb_node *n = &ws->net->node[i];
  size_t sz = n->size, k = 0;
  unsigned char *nz;
  if (n->kind != CB_ACT || !ws->rl_w[i]) return sz;
  if (!grow((void **)&ws->alive_nz, &ws->alive_nz_n, sz, 1)) return sz;   /* no memory: all alive */
  nz = ws->alive_nz;
  if (L && L->lw && L->alive) {   /* known to the caller */
    memcpy(idx, L->alive, L->nalive * sizeof *idx);
    return L->nalive;
  }
  if (L && L->lw) {   /* the rows' own lines replace the workspace's; row by row, in memory order */
    memset(nz, 0, sz);
    for (size_t r = 0; r < q; r++) {
      const double *lw = L->lw + r * sz, *lb = L->lb + r * sz, *uw = L->uw + r * sz, *ub = L->ub + r * sz;
      for (size_t e = 0; e < sz; e++) nz[e] |= (lw[e] != 0) | (lb[e] != 0) | (uw[e] != 0) | (ub[e] != 0);
    }
  } else
    for (size_t e = 0; e < sz; e++)
      nz[e] = (ws->rl_w[i][e] != 0) | (ws->rl_b[i][e] != 0) | (ws->ru_w[i][e] != 0) | (ws->ru_b[i][e] != 0);
  for (size_t e = 0; e < sz; e++) if (nz[e]) idx[k++] = e;
  return k;
}

double *crown_subout(cb_ws *ws, size_t n)
{
  return grow((void **)&ws->subout, &ws->subout_n, n, sizeof(double)) ? ws->subout : NULL;
}

int crown_conv_back(cb_ws *ws, const cb_conv *g, const double *W, const double *A, size_t q, double *Ain)
{
  if (!grow((void **)&ws->convbuf, &ws->convbuf_n, la_conv_backward_need(g, q), sizeof(double))) return CB_ENOMEM;
  return la_conv_backward_buf(g, W, A, q, Ain, ws->convbuf);
}

/* Does cache entry c hold W at rows (rows, kr) x columns (cols, kc)? */
static int wc_hit(const cb_wcache *c, const size_t *rows, size_t kr, const size_t *cols, size_t kc)
{
  return c->valid && c->kr == kr && c->kc == kc && c->rall == !rows && c->call == !cols &&
         (!rows || !memcmp(c->ri, rows, kr * sizeof *rows)) && (!cols || !memcmp(c->ci, cols, kc * sizeof *cols));
}

/*
** W of AFFINE node i at rows rows[0..kr) x columns cols[0..kc) (NULL: all,
** in order), kr x kc row-major.  Cached per node in two entries keyed on the
** two index sets (the backward step's and alpha-CROWN's gradient's sets at a
** node may differ; the chunks of one refinement, the refinements of later
** layers and alpha-CROWN's iterations mostly see the same stable ReLUs); a
** miss rebuilds the least recently used entry.  The pointer stays valid until
** the next crown_wsub at node i.  W itself when both sets are all.  NULL on OOM.
*/
const double *crown_wsub(cb_ws *ws, int i, const size_t *rows, size_t kr, const size_t *cols, size_t kc)
{
  const cb_node *n = &ws->net->node[i];
  size_t in = n->p.aff.in;
  cb_wcache *c, *e;
  if (!rows && !cols) return n->p.aff.W;
  if (!ws->wc && !(ws->wc = cb_calloc(2 * (size_t)ws->net->n, sizeof *ws->wc))) return NULL;
  e = ws->wc + 2 * i;
  ws->wc_clock++;
  for (int t = 0; t < 2; t++)
    if (wc_hit(&e[t], rows, kr, cols, kc)) { e[t].use = ws->wc_clock; return e[t].w; }
  c = e[0].use <= e[1].use ? &e[0] : &e[1];
  c->valid = 0;   /* a failed rebuild leaves no stale entry behind */
  if (!grow((void **)&c->w, &c->wcap, kr * kc, sizeof *c->w) || !grow((void **)&c->ri, &c->rcap, kr, sizeof *c->ri) ||
      !grow((void **)&c->ci, &c->ccap, kc, sizeof *c->ci)) return NULL;
  for (size_t a = 0; a < kr; a++) {
    const double *w = n->p.aff.W + (rows ? rows[a] : a) * in;
    double *d = c->w + a * kc;
    if (cols) for (size_t k = 0; k < kc; k++) d[k] = w[cols[k]];
    else memcpy(d, w, kc * sizeof *d);
  }
  if (rows) memcpy(c->ri, rows, kr * sizeof *rows);
  if (cols) memcpy(c->ci, cols, kc * sizeof *cols);
  c->kr = kr; c->kc = kc; c->rall = !rows; c->call = !cols;
  c->valid = 1;
  c->use = ws->wc_clock;
  return c->w;
}

/* Does AFFINE node i's W fit binary32 with a relative rounding error of at
   most u = 2^-24 per entry (every nonzero |w| normal and at most 2^100)?
   Checked once per workspace (wf_state), with max |w| (wf_wmax), or once
   per net by bnet_single (workspace.c, the same condition). */
static int w_fits_single(cb_ws *ws, int i)
{
  const cb_node *n = &ws->net->node[i];
  if (ws->bn->wf) return ws->bn->wf_state[i] == 1;   /* bnet_single ran: the net's, shared */
  if (!ws->wf_state && !(ws->wf_state = cb_calloc((size_t)ws->net->n, 1))) return 0;
  if (!ws->wf_wmax && !(ws->wf_wmax = cb_calloc((size_t)ws->net->n, sizeof *ws->wf_wmax))) return 0;
  if (!ws->wf_state[i]) {
    size_t m = bnet_wsize(n);
    const double *w = n->kind == CB_CONV ? n->p.conv.W : n->p.aff.W;
    double mx = 0;
    int ok = 1;
    for (size_t e = 0; e < m && ok; e++) {
      double a = fabs(w[e]);
      ok = a == 0 || (a >= 0x1p-126 && a <= 0x1p100);   /* NaN fails too */
      if (a > mx) mx = a;
    }
    ws->wf_state[i] = ok ? 1 : 2;
    ws->wf_wmax[i] = mx;
  }
  return ws->wf_state[i] == 1;
}

/* max |w| of node i (w_fits_single must have said 1). */
static double w_max_single(const cb_ws *ws, int i) { return ws->bn->wf ? ws->bn->wf_wmax[i] : ws->wf_wmax[i]; }

/* Did w_fits_single refuse node i (not an OOM)? */
static int w_refused_single(const cb_ws *ws, int i)
{
  return ws->bn->wf ? ws->bn->wf_state[i] == 2 : ws->wf_state && ws->wf_state[i] == 2;
}

/* crown_wsub in binary32, built from W (each entry within u |w|:
   w_fits_single) and cached the same way in ws->wcf; the whole W in
   ws->wfull[i]. */
const float *crown_wsub_f(cb_ws *ws, int i, const size_t *rows, size_t kr, const size_t *cols, size_t kc)
{
  const cb_node *n = &ws->net->node[i];
  size_t in = n->p.aff.in, m = kr * kc;
  cb_wcache *c, *e;
  const float *src;
  if (!w_fits_single(ws, i)) return NULL;
  src = ws->bn->wf ? ws->bn->wf[i] : NULL;
  if (!rows && !cols) {
    if (src) return src;
    if (!ws->wfull && !(ws->wfull = cb_calloc((size_t)ws->net->n, sizeof *ws->wfull))) return NULL;
    if (ws->wfull[i]) return ws->wfull[i];
    if (!(ws->wfull[i] = cb_alloc((m ? m : 1) * sizeof(float)))) return NULL;
    for (size_t t = 0; t < m; t++) ws->wfull[i][t] = (float)n->p.aff.W[t];
    return ws->wfull[i];
  }
  if (!ws->wcf && !(ws->wcf = cb_calloc(2 * (size_t)ws->net->n, sizeof *ws->wcf))) return NULL;
  e = ws->wcf + 2 * i;
  ws->wc_clock++;
  for (int t = 0; t < 2; t++)
    if (wc_hit(&e[t], rows, kr, cols, kc)) { e[t].use = ws->wc_clock; return e[t].wf; }
  c = e[0].use <= e[1].use ? &e[0] : &e[1];
  c->valid = 0;
  if (!grow((void **)&c->wf, &c->wfcap, m, sizeof *c->wf) || !grow((void **)&c->ri, &c->rcap, kr, sizeof *c->ri) ||
      !grow((void **)&c->ci, &c->ccap, kc, sizeof *c->ci)) return NULL;
  for (size_t a = 0; a < kr; a++) {
    const double *w = n->p.aff.W + (rows ? rows[a] : a) * in;
    const float *wf = src ? src + (rows ? rows[a] : a) * in : NULL;
    float *d = c->wf + a * kc;
    if (wf && cols) for (size_t k = 0; k < kc; k++) d[k] = wf[cols[k]];
    else if (wf) memcpy(d, wf, kc * sizeof *d);
    else if (cols) for (size_t k = 0; k < kc; k++) d[k] = (float)w[cols[k]];
    else for (size_t k = 0; k < kc; k++) d[k] = (float)w[k];
  }
  if (rows) memcpy(c->ri, rows, kr * sizeof *rows);
  if (cols) memcpy(c->ci, cols, kc * sizeof *cols);
  c->kr = kr; c->kc = kc; c->rall = !rows; c->call = !cols;
  c->valid = 1;
  c->use = ws->wc_clock;
  return c->wf;
}

/* A CONV node's W in binary32 (same layout), or NULL when it does not fit
   (w_fits_single; w_refused_single tells that from an OOM). */
static const float *conv_wf(cb_ws *ws, int i)
{
  const cb_node *n = &ws->net->node[i];
  size_t m = bnet_wsize(n);
  if (!w_fits_single(ws, i)) return NULL;
  if (ws->bn->wf) return ws->bn->wf[i];
  if (!ws->wfull && !(ws->wfull = cb_calloc((size_t)ws->net->n, sizeof *ws->wfull))) return NULL;
  if (ws->wfull[i]) return ws->wfull[i];
  if (!(ws->wfull[i] = cb_alloc((m ? m : 1) * sizeof(float)))) return NULL;
  for (size_t t = 0; t < m; t++) ws->wfull[i][t] = (float)n->p.conv.W[t];
  return ws->wfull[i];
}

typedef float v4f __attribute__((vector_size(16)));
typedef float v4fu __attribute__((vector_size(16), aligned(4), may_alias));

/* max |g_e| over m entries, or NaN when an entry is NaN; 4 lanes. */
CB_SIMD_CLONES
static double abs_max(const double *g, size_t m)
{
  v4d mx = {0, 0, 0, 0};
  v4i nan = {0, 0, 0, 0};
  double s = 0;
  size_t e = 0;
  for (; e + 4 <= m; e += 4) {
    v4d a = ABS4(LOAD4(g + e));
    nan |= a != a;
    v4i gt = a > mx;
    mx = (v4d)(((v4i)a & gt) | ((v4i)mx & ~gt));
  }
  for (; e < m; e++) { double a = fabs(g[e]); if (a != a) return NAN; if (a > s) s = a; }
  if (nan[0] | nan[1] | nan[2] | nan[3]) return NAN;
  for (int t = 0; t < 4; t++) if (mx[t] > s) s = mx[t];
  return s;
}

/* f_e = (float)g_e (each |g_e| <= 2^126: no overflow). */
CB_SIMD_CLONES
static void to_float(const double *g, size_t m, float *f)
{
  size_t e = 0;
  for (; e + 4 <= m; e += 4) *(v4fu *)(f + e) = __builtin_convertvector(LOAD4(g + e), v4f);
  for (; e < m; e++) f[e] = (float)g[e];
}

/* a_e += (double)t_e, contiguous. */
CB_SIMD_CLONES
static void add_float(double *a, const float *t, size_t m)
{
  size_t e = 0;
  for (; e + 4 <= m; e += 4) STORE4(a + e, LOAD4(a + e) + __builtin_convertvector(*(const v4fu *)(t + e), v4d));
  for (; e < m; e++) a[e] += (double)t[e];
}

/* gamma_n of binary32 (u = 2^-24), rounded up; HUGE_VAL once n u >= 1/4. */
static double gamma32_up(size_t n)
{
  double nu = (double)n * 0x1p-24;
  if (nu >= 0.25) return HUGE_VAL;
  return round_next_up(nu / round_next_down(1.0 - nu));
}

/*
** A CONV step's transposed conv (geometry g: the node's, or a window of it
** in the receptive-field pass) with its product in binary32 (ws->single):
** Ain += col2im(fl32(Wf^T fl32(A))) (la_conv_backward_f_buf).  *done = 0
** (Ain untouched) when W does not fit binary32 or an entry of A or a partial
** sum could leave binary32's range (as single_product): the caller runs the
** step in double.  Its rounding is covered by crown_conv_single_gamma and
** crown_conv_single_eta (docs/soundness.md, "Single precision").
*/
int crown_conv_single(cb_ws *ws, int i, const cb_conv *g, const double *A, size_t q, double *Ain, int *done)
{
  size_t opg = (size_t)(g->cout / g->groups), osz = (size_t)(g->cout * g->hout * g->wout);
  const float *Wf;
  double amax;
  *done = 0;
  if (!ws->single || !q || !osz || gamma32_up(opg + 3) == HUGE_VAL) return CB_OK;
  if (!(Wf = conv_wf(ws, i))) return w_refused_single(ws, i) ? CB_OK : CB_ENOMEM;
  amax = abs_max(A, q * osz);
  if (!(amax <= 0x1p100 && amax * w_max_single(ws, i) * (double)(opg + 1) <= 0x1p125)) { ws->single_fallback++; return CB_OK; }
  if (!grow((void **)&ws->convbuf, &ws->convbuf_n, la_conv_backward_f_need(g, q), sizeof(double))) return CB_ENOMEM;
  la_conv_backward_f_buf(g, Wf, A, q, Ain, ws->convbuf);
  ws->flops_single += 2.0 * (double)q * (double)osz * (double)(g->cin / g->groups * g->kh * g->kw);
  *done = 1;
  return CB_OK;
}

/* The slack factor of a CONV step run by crown_conv_single, for
   crown_add_terms with the step's slack vector v = |W| zmax_in + |b|:
   2 gamma32_{opg+3} (1 + 2^-20) for the binary32 product (opg = cout/groups
   terms per col entry, A's and W's conversions) plus the double step's own
   factor for the col2im sums in double, the bias and v's dot products. */
double crown_conv_single_gamma(const cb_node *n)
{
  const cb_conv *g = &n->p.conv.g;
  return 2 * gamma32_up((size_t)(g->cout / g->groups) + 3) * (1 + 0x1p-20) + crown_slack_gamma(n, 0);
}

/* Per row, the underflow slack of a CONV step run by crown_conv_single:
   2 eta (sum_e v_e + (2 opg kh kw + 1) sum_j zmax_in_j), eta = 2^-125, over
   the whole node (an upper bound of any window's sums). */
double crown_conv_single_eta(cb_ws *ws, int i)
{
  const cb_node *n = &ws->net->node[i];
  const cb_conv *g = &n->p.conv.g;
  const double *v = crown_slack_vec(ws, i), *z = ws->zmax[n->in[0]];
  size_t in = (size_t)(g->cin * g->hin * g->win);
  double sv = 0, sz = 0, u;
  if (!v) return HUGE_VAL;
  for (size_t e = 0; e < n->size; e++) sv += v[e];
  for (size_t j = 0; j < in; j++) sz += z[j];
  u = 2 * 0x1p-125 * (sv + (double)(2 * (size_t)(g->cout / g->groups * g->kh * g->kw) + 1) * sz);
  return u * (1 + 0x1p-20) + DBL_MIN;
}

/*
** A dense AFFINE step's product in binary32 (ws->single): Ain[r, cols[c]] +=
** fl32(G_f Wf)[r, c] for G (q x k, A's live columns) and W's rows rows[0..k)
** x columns cols[0..nc) (NULL: all).  *done = 0 (Ain untouched) when W does
** not fit binary32, an entry of G is not within 2^126, or the product is
** not finite (an overflow): the caller runs the step in double.  Its
** rounding is covered by single_slack (docs/soundness.md, "Single precision").
*/
static int single_product(cb_ws *ws, int i, const double *G, size_t q, size_t k, const size_t *rows, const size_t *cols,
                          size_t nc, double *Ain, size_t in, int *done)
{
  const cb_node *n = &ws->net->node[i];
  const float *Wf;
  float *fa, *ft;
  double amax;
  *done = 0;
  if (!k || !nc || gamma32_up(n->size + 3) == HUGE_VAL) return CB_OK;
  if (!(Wf = crown_wsub_f(ws, i, k < n->size ? rows : NULL, k, cols, nc)))
    return w_refused_single(ws, i) ? CB_OK : CB_ENOMEM;
  if (!grow((void **)&ws->fA, &ws->fA_n, q * k, sizeof(float)) || !grow((void **)&ws->fT, &ws->fT_n, q * nc, sizeof(float)))
    return CB_ENOMEM;
  fa = ws->fA; ft = ws->fT;
  amax = abs_max(G, q * k);
  /* every partial sum of the product is at most (1 + gamma_k) k amax wmax in magnitude: below 2^126, no
     overflow (and no entry of G overflows its conversion); otherwise, or on a NaN, the step runs in double */
  if (!(amax <= 0x1p100 && amax * w_max_single(ws, i) * (double)(k + 1) <= 0x1p125)) { ws->single_fallback++; return CB_OK; }
  to_float(G, q * k, fa);
  la_sgemm(q, nc, k, fa, k, Wf, nc, ft, nc);
  for (size_t r = 0; r < q; r++) {
    const float *t = ft + r * nc;
    double *a = Ain + r * in;
    if (cols) for (size_t c = 0; c < nc; c++) a[cols[c]] += (double)t[c];
    else add_float(a, t, nc);
  }
  ws->flops_single += 2.0 * (double)q * (double)k * (double)nc;
  *done = 1;
  return CB_OK;
}

/*
** The terms of an AFFINE step whose product ran in binary32: bias += A b,
** slack += 2 (gamma32_{out+3} + gamma_{out+in+2} + rel_err) |A| (|W| zmax_in + |b|)
** (binary32's gamma over the product of k <= out terms and A's and W's
** conversions, and the double step's own factor for the rest) plus,
** per row, 2 eta (sum_o v_o + (out + 1) sum_j zmax_in_j) with eta = 2^-125 for
** underflow (gradual or flushed) in the conversions and the product.
*/
static void single_terms(bwd *B, int i, const double *A, const double *v)
{
  cb_ws *ws = B->ws;
  const cb_node *n = &ws->net->node[i];
  size_t out = n->size, in = n->p.aff.in;
  const double *z = ws->zmax[n->in[0]];
  double sv = 0, sz = 0, u;
  for (size_t o = 0; o < out; o++) sv += v[o];
  for (size_t j = 0; j < in; j++) sz += z[j];
  u = 2 * 0x1p-125 * (sv + (double)(out + 1) * sz);
  u = u * (1 + 0x1p-20) + DBL_MIN;   /* its own rounding (a few operations of relative error u64 each) */
  crown_add_terms(&B->T, B->q, A, out, v, 2 * (gamma32_up(out + 3) + crown_slack_gamma(n, in) / 2), n->p.aff.b);
  for (size_t r = 0; r < B->q; r++) B->T.slack[r] += u;
}

/*
** AFFINE whose input is an ACT node (not the pass's stop) with entries that
** are off (crown_alive): A_in's columns there are left 0 (they take part in
** nothing, as crown_alive says), so the product runs on W's live rows x alive
** columns only, q x kin x k, and is added into A_in's alive columns.  Each
** computed entry is the same sum as the full product's (the dropped
** products are not summed into it), so the slack stays valid.
*/
static int back_affine_sub(bwd *B, int i, const double *A, double *Ain, size_t k, size_t kin, int *single)
{
  cb_ws *ws = B->ws;
  const cb_node *n = &ws->net->node[i];
  size_t out = n->size, in = n->p.aff.in, q = B->q;
  const double *Ws;
  double *T, *G = (double *)A;
  int rc;
  *single = 0;
  if (!k || !kin) return CB_OK;
  if (k < out) {
    if (!(G = gather_buf(ws, k * q))) return CB_ENOMEM;
    for (size_t r = 0; r < q; r++)
      for (size_t c = 0; c < k; c++) G[r * k + c] = A[r * out + ws->live[c]];
  }
  if (ws->single) {
    if ((rc = single_product(ws, i, G, q, k, ws->live, ws->alive, kin, Ain, in, single)) != CB_OK) return rc;
    if (*single) {
      ws->flops += 2.0 * (double)q * (double)kin * (double)k;
      ws->flops_skipped += 2.0 * (double)q * ((double)in * (double)out - (double)kin * (double)k);
      return CB_OK;
    }
  }
  Ws = crown_wsub(ws, i, k < out ? ws->live : NULL, k, ws->alive, kin);
  T = crown_subout(ws, q * kin);
  if (!Ws || !T) return CB_ENOMEM;
  la_gemm(0, 0, q, kin, k, 1.0, G, k, Ws, kin, 0.0, T, kin);
  for (size_t r = 0; r < q; r++)
    for (size_t c = 0; c < kin; c++) Ain[r * in + ws->alive[c]] += T[r * kin + c];
  ws->flops += 2.0 * (double)q * (double)kin * (double)k;
  ws->flops_skipped += 2.0 * (double)q * ((double)in * (double)out - (double)kin * (double)k);
  return CB_OK;
}

/*
** AFFINE: A_in += A W; bias += A b; slack += gamma |A| (|W| zmax_in + |b|).
** Only A's live columns are multiplied: where k of the `out` columns are
** nonzero, A's k columns and W's k rows are gathered and the product is
** q x k x in (the dropped terms are exact zeros, and the rounding bound of a
** sum of k <= out terms is below that of out, so the slack stays valid).
** Worth the gather when at least 1/8 of the columns are zero.  Likewise only
** the alive columns of A_in (back_affine_sub).
*/
static int back_affine(bwd *B, int i, const double *A)
{
  cb_ws *ws = B->ws;
  const cb_node *n = &ws->net->node[i];
  size_t out = n->size, in = n->p.aff.in, q = B->q, k = out, kin = in;
  double *Ain = acc(B, n->in[0]), *G;
  const double *v = crown_slack_vec(ws, i);
  if (!Ain || !v) return CB_ENOMEM;
  if (ws->live_n < out) {
    cb_free(ws->live);
    ws->live_n = 0;
    if (!(ws->live = cb_alloc(out * (sizeof(size_t) + 1)))) return CB_ENOMEM;
    ws->live_n = out;
  }
  if (q > 1 && !ws->no_skip) {   /* A's columns at entries its sole ACT consumer has off are 0 (crown_alive):
                                    that set, fixed while the lines are, keeps crown_wsub's cache hot; a
                                    column 0 in every row by chance adds exact zeros */
    int c = sole_consumer(ws->net, i);
    if (c > i && c <= B->start && !B->merged[i] && ws->net->node[c].kind == CB_ACT && ws->rl_w[c])
      k = crown_alive(ws, B->lines ? &B->lines[c] : NULL, c, q, ws->live);
    else {
      double *bits = crown_subout(ws, out);   /* free until back_affine_sub's product */
      if (!bits) return CB_ENOMEM;
      k = live_columns(A, q, out, ws->live, bits);
    }
  }
  if (q > 1 && !ws->no_skip && n->in[0] != B->stop) {
    if (!grow((void **)&ws->alive, &ws->alive_n, in, sizeof(size_t))) return CB_ENOMEM;
    kin = crown_alive(ws, B->lines ? &B->lines[n->in[0]] : NULL, n->in[0], q, ws->alive);
  }
  if (8 * kin <= 7 * in) {
    int single, rc = back_affine_sub(B, i, A, Ain, k, kin, &single);
    if (rc == CB_OK && single) single_terms(B, i, A, v);
    else if (rc == CB_OK) crown_add_terms(&B->T, q, A, out, v, crown_slack_gamma(n, in), n->p.aff.b);
    return rc;
  }
  if (ws->single && k) {   /* binary32 on A's live columns x all of W's columns */
    int single, rc;
    G = (double *)A;
    if (k < out) {
      if (!(G = gather_buf(ws, k * q))) return CB_ENOMEM;
      for (size_t r = 0; r < q; r++)
        for (size_t c = 0; c < k; c++) G[r * k + c] = A[r * out + ws->live[c]];
    }
    if ((rc = single_product(ws, i, G, q, k, ws->live, NULL, in, Ain, in, &single)) != CB_OK) return rc;
    if (single) {
      ws->flops += 2.0 * (double)q * (double)in * (double)k;
      ws->flops_skipped += 2.0 * (double)q * (double)in * (double)(out - k);
      single_terms(B, i, A, v);
      return CB_OK;
    }
  }
  if (8 * k <= 7 * out) {
    const double *Wk = k ? live_rows(ws, i, k) : NULL;
    if (k && (!Wk || !(G = gather_buf(ws, k * q)))) return CB_ENOMEM;
    for (size_t r = 0; k && r < q; r++)
      for (size_t c = 0; c < k; c++) G[r * k + c] = A[r * out + ws->live[c]];
    if (k) la_gemm(0, 0, q, in, k, 1.0, G, k, Wk, in, 1.0, Ain, in);
  } else la_gemm(0, 0, q, in, out, 1.0, A, out, n->p.aff.W, in, 1.0, Ain, in);
  ws->flops += 2.0 * (double)q * (double)in * (double)k;
  ws->flops_skipped += 2.0 * (double)q * (double)in * (double)(out - k);
  crown_add_terms(&B->T, q, A, out, v, crown_slack_gamma(n, in), n->p.aff.b);
  return CB_OK;
}

/* CONV: A_in += conv^T(A); bias += sum A b; slack via |W| * zmax_in (a forward conv). */
static int back_conv(bwd *B, int i, const double *A)
{
  const cb_node *n = &B->ws->net->node[i];
  const cb_conv *g = &n->p.conv.g;
  pwin all = {0, g->hout, 0, g->wout};
  double *Ain = acc(B, n->in[0]), *c = cb_alloc(n->size * sizeof *c);
  const double *v = crown_slack_vec(B->ws, i);
  int rc = CB_ENOMEM, single = 0;
  if (!Ain || !c || !v) goto out;
  if ((rc = crown_conv_single(B->ws, i, g, A, B->q, Ain, &single)) != CB_OK) goto out;
  rc = CB_ENOMEM;
  if (!single && crown_conv_back(B->ws, g, n->p.conv.W, A, B->q, Ain) != CB_OK) goto out;
  B->ws->flops += 2.0 * (double)B->q * (double)n->size * (double)(g->cin / g->groups * g->kh * g->kw);
  crown_conv_bias(n, all, c);
  crown_add_terms(&B->T, B->q, A, n->size, v, single ? crown_conv_single_gamma(n) : crown_slack_gamma(n, 0), c);
  if (single) {
    double u = crown_conv_single_eta(B->ws, i);
    for (size_t r = 0; r < B->q; r++) B->T.slack[r] += u;
  }
  rc = CB_OK;
out:
  cb_free(c);
  return rc;
}

/* ai += a times row j of a CONV's operator (output (co, oi, oj): co's
   kernel at the pixel's receptive field) on the input window wi (the whole
   input: {0, hin, 0, win}); the entries outside wi must be zero taps. */
void crown_conv_row(const cb_node *n, size_t j, double a, pwin wi, double *ai)
{
  const cb_conv *g = &n->p.conv.g;
  int64_t P = g->hout * g->wout, co = (int64_t)j / P, oi = ((int64_t)j % P) / g->wout, oj = (int64_t)j % g->wout;
  int64_t cpg = g->cin / g->groups, c0 = co / (g->cout / g->groups) * cpg, hh = wi.h1 - wi.h0, ww = wi.w1 - wi.w0;
  const double *w = n->p.conv.W + (size_t)(co * cpg * g->kh * g->kw);
  for (int64_t c = 0; c < cpg; c++)
    for (int64_t ki = 0; ki < g->kh; ki++) {
      int64_t ii = oi * g->sh - g->pt + ki * g->dh;
      if (ii < 0 || ii >= g->hin) continue;
      for (int64_t kj = 0; kj < g->kw; kj++) {
        int64_t jj = oj * g->sw - g->pl + kj * g->dw;
        if (jj >= 0 && jj < g->win) ai[((c0 + c) * hh + ii - wi.h0) * ww + jj - wi.w0] += a * w[(c * g->kh + ki) * g->kw + kj];
      }
    }
}

/*
** First step of a pass whose rows are signed unit vectors a e_j (CROWN's
** intermediate bounds): row r of A_in is a times row j of the operator
** (AFFINE: W's row; CONV: the kernel of output channel co placed at the
** output pixel's receptive field), written directly instead of a product
** with a mostly-zero matrix.  Same bias and slack terms as the general step:
**   bias_r += a b_j,  slack_r += gamma |a| (|W| zmax_in + |b|)_j.
** Row r of the step is unit row rows[r] (rows NULL: r); A_in has the size of
** the input window wi per row (CONV; AFFINE: the whole input) and is added to.
*/
int crown_unit(cb_ws *ws, const crown_terms *T, int i, size_t nr, const size_t *col, const double *val,
               const size_t *rows, pwin wi, double *Ain)
{
  const cb_node *n = &ws->net->node[i];
  int aff = n->kind == CB_AFFINE;
  size_t isz = aff ? n->p.aff.in : win_size(n->p.conv.g.cin, wi);
  const double *v = crown_slack_vec(ws, i);
  double gm;
  if (!v) return CB_ENOMEM;
  gm = crown_slack_gamma(n, aff ? n->p.aff.in : 0);
  ws->flops += 2.0 * (double)nr * (double)(aff ? n->p.aff.in
               : (size_t)(n->p.conv.g.cin / n->p.conv.g.groups * n->p.conv.g.kh * n->p.conv.g.kw));
  for (size_t r = 0; r < nr; r++) {
    size_t j = col[rows ? rows[r] : r];
    double a = val[rows ? rows[r] : r], *ai = Ain + r * isz, bj;
    if (aff) {
      const double *w = n->p.aff.W + j * isz;
      for (size_t k = 0; k < isz; k++) ai[k] += a * w[k];
      bj = n->p.aff.b[j];
    } else {
      crown_conv_row(n, j, a, wi, ai);
      bj = n->p.conv.b[(int64_t)j / (n->p.conv.g.hout * n->p.conv.g.wout)];
    }
    T->bias[r] += a * bj;
    T->babs[r] += fabs(a * bj);
    T->slack[r] += gm * fabs(a) * v[j];
  }
  return CB_OK;
}

static int back_unit(bwd *B, int i, const size_t *col, const double *val)
{
  const cb_node *n = &B->ws->net->node[i];
  double *Ain = acc(B, n->in[0]);
  pwin all = {0, 0, 0, 0};   /* CONV: its whole input; AFFINE reads no window */
  if (n->kind == CB_CONV) all.h1 = n->p.conv.g.hin, all.w1 = n->p.conv.g.win;
  if (!Ain) return CB_ENOMEM;
  return crown_unit(B->ws, &B->T, i, B->q, col, val, NULL, all, Ain);
}

/* SCALE: A_in += A .* a; bias += A b; slack += gamma |A| (|a| zmax_in + |b|). */
static int back_scale(bwd *B, int i, const double *A)
{
  const cb_node *n = &B->ws->net->node[i];
  const double *z = B->ws->zmax[n->in[0]];
  double *Ain = acc(B, n->in[0]), *v = cb_alloc(n->size * sizeof *v);
  if (!Ain || !v) { cb_free(v); return CB_ENOMEM; }
  for (size_t r = 0; r < B->q; r++)
    for (size_t e = 0; e < n->size; e++) Ain[r * n->size + e] += A[r * n->size + e] * n->p.scale.a[e];
  crown_scale_vec(n->size, n->p.scale.a, n->p.scale.b, z, v);
  crown_add_terms(&B->T, B->q, A, n->size, v, crown_scale_gamma(n), n->p.scale.b);
  cb_free(v);
  return CB_OK;
}

/* fmax(a, b) as C99 defines it (a NaN argument gives the other), inline:
   GCC calls the library's fmax, once per entry of every relaxed step. */
static inline double fmax_inline(double a, double b) { return b > a || isnan(a) ? b : a; }

/*
** Relaxed elementwise node, upper side:  A_in = A+ uw + A- lw,
** bias += A+ ub + A- lb,  slack += gamma_{size+3} |A| v  with the slack vector
** v = max(|uw|, |lw|) zmax_in + max(|ub|, |lb|) (either line may be picked).
** Applied to nr rows of m entries (the node's, or a window's: crown_patch.c)
** with the lines on those entries; A_in is added to; v is m doubles of room.
*/
CB_SIMD_CLONES
void crown_relaxed(const crown_terms *T, size_t nr, size_t m, const double *A, double *Ain, const double *uw,
                   const double *lw, const double *ub, const double *lb, const double *z, double *v, double g)
{
  for (size_t e = 0; e < m; e++) v[e] = fmax_inline(fabs(uw[e]), fabs(lw[e])) * z[e] + fmax_inline(fabs(ub[e]), fabs(lb[e]));
  for (size_t r = 0; r < nr; r++) {   /* the slack term of crown_add_terms fused in */
    double sl, t = relaxed_row(A + r * m, Ain + r * m, m, uw, lw, ub, lb, v, &sl);
    terms_add(T, r, t, g, sl);
  }
}

/* Relaxed node with one pair of lines per row (alpha-CROWN's optimised lines):
   the slack vector per row and entry, |line| zmax_in + |intercept| of the
   line that row's sign picks (relaxed_row_lines). */
CB_SIMD_CLONES
static int back_relaxed_rows(bwd *B, int i, const double *A)
{
  const cb_node *n = &B->ws->net->node[i];
  const crown_lines *L = &B->lines[i];
  const double *z = B->ws->zmax[n->in[0]];
  double *Ain = acc(B, n->in[0]), g = crown_relax_gamma(n);
  if (!Ain) return CB_ENOMEM;
  for (size_t r = 0; r < B->q; r++) {
    size_t o = r * n->size;
    double s, t = relaxed_row_lines(A + o, Ain + o, n->size, L->uw + o, L->lw + o, L->ub + o, L->lb + o, z, &s);
    terms_add(&B->T, r, t, g, s);
  }
  return CB_OK;
}

/* Relaxed elementwise node with the stored lines (or a row's own). */
static int back_relaxed_own(bwd *B, int i, const double *A)
{
  cb_ws *ws = B->ws;
  if (B->lines && B->lines[i].lw) return back_relaxed_rows(B, i, A);
  const cb_node *n = &ws->net->node[i];
  double *Ain = acc(B, n->in[0]);
  if (!Ain || !grow((void **)&ws->relaxv, &ws->relaxv_n, n->size, sizeof(double))) return CB_ENOMEM;
  crown_relaxed(&B->T, B->q, n->size, A, Ain, ws->ru_w[i], ws->rl_w[i], ws->ru_b[i], ws->rl_b[i], ws->zmax[n->in[0]],
                ws->relaxv, crown_relax_gamma(n));
  return CB_OK;
}

/*
** A softmax output y_e = e_e R_b (e = exp(x), R = 1 / T, T_b = sum_k e_{kB+b})
** in auto_LiRPA's product form, with the boxes and lines bounds.c stored
** (softmax_product, ws->smx[i]: t, B, n; per row b: ok, Rl, Ru, R's lower
** and upper line in T, Tu; per entry: El, Eu, EXP's lower and upper line in
** x, max |x|).  The step is the backward pass through that small graph, as
** auto_LiRPA's: McCormick's plane at y by the sign of a = A_e
** (a > 0: y <= Ru e + El R - El Ru; a < 0: y >= Rl e + El R - El Rl), so
** A_e += a R_{u|l}, A_R += a El; then R's line by the sign of the row's
** summed A_R, A_T = A_R w; T's sum, A_e += A_T; EXP's line by the sign of
** each summed A_e, into the scores' node t.  Choosing each relaxation on the
** summed coefficient (not per entry) is what makes this form tight.  Every
** substituted inequality holds on the boxes (e in [El, Eu], R in [Rl, Ru],
** T in [Tl, Tu], x in the box the EXP lines were made on), so the step is
** sound; rows b whose boxes were not finite keep the node's own lines.
** Rounding: every coefficient is a short sum of products; each step's
** |terms| times the zmax of its variable (Eu, Ru, Tu, max |x|), and each
** bias term, are charged crown_relax_gamma(node) (as back_mul's planes).
*/
static int back_softmax(bwd *B, int i, const double *A)
{
  const cb_ws *ws = B->ws;
  const double *L = ws->smx[i];
  int t = (int)L[0];
  size_t Bn = (size_t)L[1], n = (size_t)L[2], N = ws->net->node[i].size, Nt = ws->net->node[t].size;
  const double *Lr = L + 3, *Le = L + 3 + 8 * Bn;
  double *Am = cb_alloc(B->q * N * sizeof *Am), *Ae = cb_alloc((N + 1) * sizeof *Ae), *At = acc(B, t);
  double g = crown_relax_gamma(&ws->net->node[i]), uf = 1;
  int rc;
  if (!Am || !Ae || !At) { cb_free(Am); cb_free(Ae); return CB_ENOMEM; }
  memcpy(Am, A, B->q * N * sizeof *Am);
  /* underflow: each of the step's at most 4 (N + B) + 4 products of a row, rounded to a
     subnormal, is off by at most DBL_TRUE_MIN times its variable's magnitude */
  for (size_t b = 0; b < Bn; b++) {   /* rows with stored boxes only (the others' entries are not set) */
    if (Lr[8 * b] == 0) continue;
    uf += Lr[8 * b + 2] + Lr[8 * b + 7] + 1;
    for (size_t k = 0; k < n; k++) uf += Le[7 * (k * Bn + b) + 1] + Le[7 * (k * Bn + b) + 6];
  }
  uf *= (double)(4 * (N + Bn) + 4) * DBL_TRUE_MIN;
  for (size_t r = 0; r < B->q; r++) {
    double sl = 0, bias = 0, babs = 0;
    const double *a = A + r * N;
    for (size_t b = 0; b < Bn; b++) {
      const double *R = Lr + 8 * b;
      double aR = 0, sR = 0, w, c, aT;
      int any = 0;
      if (R[0] == 0) continue;
      for (size_t k = 0; k < n; k++) {
        size_t e = k * Bn + b;
        const double *E = Le + 7 * e;
        double ae = a[e], rr = ae > 0 ? R[2] : R[1], gm;
        Ae[e] = 0;
        if (ae == 0) continue;
        any = 1;
        Am[r * N + e] = 0;
        Ae[e] = ae * rr;
        aR += ae * E[0];
        gm = -ae * E[0] * rr;
        bias += gm;
        babs += fabs(gm);
        sl += fabs(ae * rr) * E[1] + fabs(ae * E[0]) * R[2] + fabs(gm);
        sR += fabs(ae * E[0]);
      }
      if (!any) continue;
      sl += sR * R[2];   /* A_R's sum */
      w = aR > 0 ? R[5] : R[3];
      c = aR > 0 ? R[6] : R[4];
      aT = aR * w;
      bias += aR * c;
      babs += fabs(aR * c);
      sl += fabs(aT) * R[7] + fabs(aR * c);
      for (size_t k = 0; k < n; k++) {
        size_t e = k * Bn + b;
        const double *E = Le + 7 * e;
        double ae = Ae[e] + aT, ex = ae > 0 ? E[4] : E[2], eb = ae > 0 ? E[5] : E[3];
        sl += fabs(ae) * E[1];   /* the sum A_e + A_T */
        At[r * Nt + e] += ae * ex;
        bias += ae * eb;
        babs += fabs(ae * eb);
        sl += fabs(ae * ex) * E[6] + fabs(ae * eb);
      }
    }
    B->T.bias[r] += bias;
    B->T.babs[r] += babs;
    B->T.slack[r] += g * sl + uf;
  }
  rc = back_relaxed_own(B, i, Am);
  cb_free(Am);
  cb_free(Ae);
  return rc;
}

/* A relaxed elementwise node: a softmax output's product-form lines where
   stored (not in alpha-CROWN's passes, whose gradient follows the node's
   own lines), else the node's lines. */
static int back_relaxed(bwd *B, int i, const double *A)
{
  const cb_ws *ws = B->ws;
  if (!B->lines && !ws->smx_off && ws->smx_on[i] && ws->smx[i] && (int)ws->smx[i][0] >= B->stop) return back_softmax(B, i, A);
  return back_relaxed_own(B, i, A);
}

/*
** MaxPool, per output window J with input boxes [l_j, u_j]:
**   if some j* has l_j* >= u_j for all j != j*:  y = x_j*  (exact);
**   else  upper: y <= max_j u_j (constant);  lower: y >= x_jl, jl = argmax_j l_j.
** Sound: y is the max of the window, so y >= every x_j and y <= max u_j.
** Source: Singh et al. 2019 (DeepPoly) Sec. 4.
** The lines of every output (both passes use these, so they agree).
*/
int crown_maxpool_lines(const cb_ws *ws, int i, crown_pool *P)
{
  const cb_node *n = &ws->net->node[i];
  const cb_conv *g = &n->p.pool.g;
  const double *l = ws->lo[n->in[0]], *u = ws->hi[n->in[0]], *z = ws->zmax[n->in[0]];
  size_t *idx = cb_alloc((size_t)(g->kh * g->kw) * sizeof *idx), o = 0;
  P->jl = cb_alloc(n->size * sizeof *P->jl);
  P->exact = cb_alloc(n->size);
  P->umax = cb_alloc(2 * n->size * sizeof *P->umax);
  P->zs = P->umax ? P->umax + n->size : NULL;
  if (!idx || !P->jl || !P->exact || !P->umax) { cb_free(idx); crown_pool_free(P); return CB_ENOMEM; }
  for (int64_t c = 0; c < g->cin; c++)
    for (int64_t oi = 0; oi < g->hout; oi++)
      for (int64_t oj = 0; oj < g->wout; oj++, o++) {
        int m = pool_window(g, c, oi, oj, idx), jl = 0, exact = 1;
        double umax = u[idx[0]];
        for (int k = 1; k < m; k++) {   /* ties (ReLU lower bounds 0): the larger upper bound */
          if (l[idx[k]] > l[idx[jl]] || (l[idx[k]] == l[idx[jl]] && u[idx[k]] > u[idx[jl]])) jl = k;
          umax = fmax(umax, u[idx[k]]);
        }
        for (int k = 0; k < m; k++) if (k != jl && u[idx[k]] > l[idx[jl]]) exact = 0;
        P->jl[o] = idx[jl]; P->exact[o] = (unsigned char)exact; P->umax[o] = umax; P->zs[o] = fmax(umax, z[idx[jl]]);
      }
  cb_free(idx);
  return CB_OK;
}

void crown_pool_free(crown_pool *P)
{
  cb_free(P->jl); cb_free(P->exact); cb_free(P->umax);
  P->jl = NULL; P->exact = NULL; P->umax = P->zs = NULL;
}

static int back_maxpool(bwd *B, int i, const double *A)
{
  const cb_node *n = &B->ws->net->node[i];
  size_t isz = B->ws->net->node[n->in[0]].size;
  double *Ain = acc(B, n->in[0]);
  crown_pool P;
  if (!Ain || crown_maxpool_lines(B->ws, i, &P) != CB_OK) return CB_ENOMEM;
  for (size_t o = 0; o < n->size; o++)
    for (size_t r = 0; r < B->q; r++)
      maxpool_entry(&B->T, r, A[r * n->size + o], &P, o, Ain + r * isz + P.jl[o]);
  crown_pool_free(&P);
  return CB_OK;
}

/*
** SORT, per group: each rank's lower and upper line over at most two input
** entries (relax_sort.c), picked by the sign of A's entry:
**   A_in += a w,  bias += a c,  slack += 2 gamma_{size+3} |a| (|w| zmax_in + |c|)
** (an entry of A_in sums at most g <= size products: the relaxed nodes' factor).
*/
static int back_sort(bwd *B, int i, const double *A)
{
  const cb_node *n = &B->ws->net->node[i];
  const double *l = B->ws->lo[n->in[0]], *u = B->ws->hi[n->in[0]], *z = B->ws->zmax[n->in[0]];
  size_t g = (size_t)n->p.sort.g, isz = n->size, *zs = cb_alloc(3 * g * sizeof *zs);
  double *zd = cb_alloc(2 * g * sizeof *zd), *sl = cb_calloc(B->q, sizeof *sl), *Ain = acc(B, n->in[0]);
  sort_line *lines = cb_alloc(2 * g * sizeof *lines);
  int rc = CB_ENOMEM;
  if (!zs || !zd || !sl || !Ain || !lines) goto out;
  for (size_t k = 0; k < sort_groups(n); k++) {
    size_t *idx = zs + 2 * g;
    sort_members(n, k, idx);
    relax_sort_group(n, l, u, idx, zs, zd, lines, lines + g);
    for (size_t r = 0; r < B->q; r++)
      for (size_t t = 0; t < g; t++) {
        double a = A[r * isz + idx[t]], s;
        const sort_line *L = a > 0 ? &lines[g + t] : &lines[t];
        if (a == 0) continue;
        s = fabs(L->c);
        for (int m = 0; m < L->n; m++) { Ain[r * isz + L->j[m]] += a * L->w[m]; s += fabs(L->w[m]) * z[L->j[m]]; }
        B->T.bias[r] += a * L->c;
        B->T.babs[r] += fabs(a * L->c);
        sl[r] += fabs(a) * s;
      }
  }
  for (size_t r = 0; r < B->q; r++) B->T.slack[r] += crown_relax_gamma(n) * sl[r];
  rc = CB_OK;
out:
  cb_free(zs); cb_free(zd); cb_free(sl); cb_free(lines);
  return rc;
}

/*
** MUL z = x .* y, per entry: McCormick's lower and upper planes over the
** operands' boxes (relax_mul.c), picked by the sign of A's entry a:
**   A_x += a wx,  A_y += a wy,  bias += a c,
**   slack += 2 gamma_{size+3} |a| (|wx| zmax_x + |wy| zmax_y + |c|).
** x and y may be the same node (x .* x): both updates go to its matrix.
** A broadcast operand (index map i0/i1) takes entry e's terms at the entry
** it reads; an entry of A_x then sums up to size products (the relaxed
** nodes' gamma still covers it).
** In alpha-CROWN's passes (lines[i].lw set) row r's planes at entry e are
** relax_mul_mix's with weights lw, uw [r size + e] (1: the planes above):
** other planes valid on the same box, same step and slack.
*/
/* Node i's McCormick planes (lo, up: sz each), from ws->mulc[i]: per entry
   the four operand bounds they were made on, then the two planes, then per
   plane its slack factor |wx| zmax_x + |wy| zmax_y + |c| (zmax = max(|l|,
   |u|) of those bounds, as set_zmax).  An entry whose operands' boxes
   changed since (a new sample, a refined box) is remade, so the planes are
   always relax_mul's on the current boxes, made once per box instead of once
   per pass.  NULL on OOM; *ok = 0 when a plane is not finite. */
static const mul_line *mul_planes(cb_ws *ws, int i, const double **kf, int *ok)
{
  const cb_node *n = &ws->net->node[i];
  int a0 = n->in[0], a1 = n->in[1];
  const double *xl = ws->lo[a0], *xu = ws->hi[a0], *yl = ws->lo[a1], *yu = ws->hi[a1];
  const size_t *i0 = n->p.mul.i0, *i1 = n->p.mul.i1;
  size_t sz = n->size;
  double *c = ws->mulc[i], *k;
  mul_line *L;
  *ok = 1;
  if (!c) {
    if (!(c = ws->mulc[i] = cb_alloc(12 * sz * sizeof *c))) return NULL;
    for (size_t e = 0; e < 4 * sz; e++) c[e] = NAN;   /* never equal: every entry is made */
  }
  L = (mul_line *)(c + 4 * sz);   /* 3 doubles each: lo[0..sz), up[0..sz) */
  k = c + 10 * sz;                /* the slack factors of lo[e], up[e] */
  for (size_t e = 0; e < sz; e++) {
    size_t j0 = mul_at(i0, e), j1 = mul_at(i1, e);
    double *v = c + 4 * e, zx, zy;
    if (v[0] == xl[j0] && v[1] == xu[j0] && v[2] == yl[j1] && v[3] == yu[j1]) continue;
    v[0] = xl[j0]; v[1] = xu[j0]; v[2] = yl[j1]; v[3] = yu[j1];
    if (!relax_mul(xl[j0], xu[j0], yl[j1], yu[j1], &L[e], &L[sz + e])) v[0] = NAN;   /* remade (and refused) next time */
    zx = fmax(fabs(v[0]), fabs(v[1]));
    zy = fmax(fabs(v[2]), fabs(v[3]));
    k[e] = fabs(L[e].wx) * zx + fabs(L[e].wy) * zy + fabs(L[e].c);
    k[sz + e] = fabs(L[sz + e].wx) * zx + fabs(L[sz + e].wy) * zy + fabs(L[sz + e].c);
  }
  for (size_t e = 0; e < sz; e++) if (!isfinite(L[e].c) || !isfinite(L[sz + e].c) || c[4 * e] != c[4 * e]) { *ok = 0; break; }
  *kf = k;
  return L;
}

static int back_mul(bwd *B, int i, const double *A)
{
  const cb_node *n = &B->ws->net->node[i];
  int a0 = n->in[0], a1 = n->in[1], ok;
  size_t sz = n->size, s0 = B->ws->net->node[a0].size, s1 = B->ws->net->node[a1].size;
  const size_t *i0 = n->p.mul.i0, *i1 = n->p.mul.i1;
  const double *xl = B->ws->lo[a0], *xu = B->ws->hi[a0], *yl = B->ws->lo[a1], *yu = B->ws->hi[a1];
  const crown_lines *mix = B->lines && B->lines[i].lw ? &B->lines[i] : NULL;   /* alpha-CROWN's weights */
  double *Ax = acc(B, a0), *Ay = acc(B, a1), g = crown_relax_gamma(n);
  const double *kf = NULL;
  const mul_line *lo, *up;
  if (!Ax || !Ay || !(lo = mul_planes(B->ws, i, &kf, &ok))) return CB_ENOMEM;
  if (!ok) return CB_EUNSUP;
  up = lo + sz;
  for (size_t r = 0; r < B->q; r++) {
    const double *a = A + r * sz;
    double *ax = Ax + r * s0, *ay = Ay + r * s1, bias = B->T.bias[r], babs = B->T.babs[r], sl = 0;
    for (size_t e = 0; e < sz; e++) {
      double ae = a[e], t, kfe;
      int u = ae > 0;
      const mul_line *L = u ? &up[e] : &lo[e];
      mul_line rowl[2];
      if (ae == 0) continue;
      size_t j0 = mul_at(i0, e), j1 = mul_at(i1, e);
      kfe = kf[u ? sz + e : e];
      if (mix && (mix->lw[r * sz + e] != 1 || mix->uw[r * sz + e] != 1)) {   /* the row's own planes */
        if (!relax_mul_mix(xl[j0], xu[j0], yl[j1], yu[j1], mix->lw[r * sz + e], mix->uw[r * sz + e], &rowl[0], &rowl[1]))
          return CB_EUNSUP;
        L = &rowl[u];
        kfe = fabs(L->wx) * fmax(fabs(xl[j0]), fabs(xu[j0])) + fabs(L->wy) * fmax(fabs(yl[j1]), fabs(yu[j1])) + fabs(L->c);
      }
      ax[j0] += ae * L->wx;
      ay[j1] += ae * L->wy;
      t = ae * L->c;
      bias += t;
      babs += fabs(t);
      sl += fabs(ae) * kfe;
    }
    B->T.bias[r] = bias;
    B->T.babs[r] = babs;
    B->T.slack[r] += g * sl;
  }
  return CB_OK;
}

/* Index maps (ADD, CONCAT, RESHAPE, TRANSPOSE): A flows back through the map. */
/* How many node inputs read node k. */
static int consumers(const cb_net *net, int k)
{
  int c = 0;
  for (int i = k + 1; i < net->n; i++)
    for (int j = 0; j < net->node[i].n_in; j++) c += net->node[i].in[j] == k;
  return c;
}

/* An index map: A_in += A moved by the map.  A RESHAPE whose input nothing
   else reads hands its matrix down as it is (same entries in the same
   order): no copy of what is often the pass's largest matrix, at the input. */
static int back_index(bwd *B, int i, const double *A)
{
  const cb_node *n = &B->ws->net->node[i];
  if (n->kind == CB_RESHAPE && !B->A[n->in[0]] && consumers(B->ws->net, n->in[0]) == 1) {
    B->A[n->in[0]] = (double *)A;   /* node i's matrix, which the pass no longer writes */
    return CB_OK;
  }
  for (int k = 0; k < n->n_in; k++) {
    double *Ain = acc(B, n->in[k]);
    if (!Ain) return CB_ENOMEM;
    bwd_index(B->ws->net, i, k, B->q, A, Ain);
  }
  return CB_OK;
}

/* Gradual underflow: a product below 2^-1022 has an absolute error up to
   2^-1075 that no gamma term covers.  A step through node i makes each entry
   of A_in (and of the bias) from at most size_i products, so the row's value
   A_in . z_in moves by at most size_i 2^-1075 (sum |z_in| + 1); doubled:
   (size_i + 1) 2^-1074 (sum |zmax_in| + 1) per row, 0 for index maps. */
double crown_underflow(const cb_ws *ws, int i)
{
  const cb_net *net = ws->net;
  const cb_node *n = &net->node[i];
  double z = 1;
  if (n->kind == CB_RESHAPE || n->kind == CB_TRANSPOSE || n->kind == CB_CONCAT || n->kind == CB_ADD) return 0;
  for (int k = 0; k < n->n_in; k++)
    for (size_t e = 0; e < net->node[n->in[k]].size; e++) z += ws->zmax[n->in[k]][e];
  return (double)(n->size + 1) * DBL_TRUE_MIN * z;
}

/* crown_underflow, cached in the workspace with the slack vectors (the
   same zmax, which does not change once a pass has read it). */
static double underflow_cached(cb_ws *ws, int i)
{
  if (!(ws->sv_ok[i] & 2)) { ws->uf[i] = crown_underflow(ws, i); ws->sv_ok[i] |= 2; }
  return ws->uf[i];
}

static int back_node(bwd *B, int i, const double *A)
{
  switch (B->ws->net->node[i].kind) {
  case CB_AFFINE: return back_affine(B, i, A);
  case CB_CONV: return back_conv(B, i, A);
  case CB_SCALE: return back_scale(B, i, A);
  case CB_ACT: return back_relaxed(B, i, A);
  case CB_MAXPOOL: return back_maxpool(B, i, A);
  case CB_SORT: return back_sort(B, i, A);
  case CB_MUL: return back_mul(B, i, A);
  case CB_ADD: case CB_CONCAT: case CB_RESHAPE: case CB_TRANSPOSE: return back_index(B, i, A);
  case CB_INPUT: case CB_KIND_COUNT: break;
  }
  return CB_EINTERNAL;
}

/* The last step of every pass: v = the row's max over the set (or the
   bias, when nothing reached the input) plus the accumulated slack, doubled
   to cover its own rounding, and the rounding of the bias sum:
   round_up(v + 2 (slack + gamma_{n+2} babs)), n = the number of nodes. */
double crown_close(const cb_net *net, const crown_terms *T, size_t r, double v)
{
  return round_up(v + 2 * (T->slack[r] + round_gamma((size_t)net->n + 2) * T->babs[r]));
}

/* Concretises the rows accumulated at node `stop` (the input set, or that node's box). */
static void concretise(bwd *B, int stop, double *out)
{
  cb_ws *ws = B->ws;
  cb_set box = {CB_NORM_BOX, 0, ws->net->node[stop].size, NULL, ws->lo[stop], ws->hi[stop]};
  const cb_set *s = stop == 0 ? &ws->set : &box;
  if (B->merged[stop]) merge_slack(B, stop, B->A[stop]);
  set_support(s, B->A[stop], B->q, B->T.bias, out);
  for (size_t r = 0; r < B->q; r++) out[r] = crown_close(ws->net, &B->T, r, out[r]);
}

/* Are the rows of A0 each one nonzero a e_j at an AFFINE/CONV node (its
   first step: back_unit) or an ADD (the receptive-field pass's start)?
   Then col[r] = j, val[r] = a (allocated; the caller frees).  -1 on OOM. */
static int unit_rows(const cb_net *net, int start, const double *A0, size_t q, size_t **col, double **val)
{
  size_t sz = net->node[start].size;
  cb_kind k = net->node[start].kind;
  if (k != CB_AFFINE && k != CB_CONV && k != CB_ADD) return 0;
  if (!(*col = cb_alloc((q + 1) * sizeof **col)) || !(*val = cb_alloc((q + 1) * sizeof **val))) return -1;
  for (size_t r = 0; r < q; r++) {   /* first nonzero, then an OR of the rest's bits but the sign (-0.0 is 0) */
    const double *a = A0 + r * sz;
    size_t e = 0;
    uint64_t rest = 0;
    while (e < sz && a[e] == 0) e++;
    if (e == sz) return 0;
    (*col)[r] = e;
    (*val)[r] = a[e];
    for (size_t j = e + 1; j < sz; j++) { uint64_t b; memcpy(&b, a + j, sizeof b); rest |= b << 1; }
    if (rest) return 0;
  }
  return 1;
}

/*
** Compact layout of a pass's matrices (a pass without kept matrices or
** injected rows): node d's matrix is live from the step of its highest
** consumer in (d, start] (which first adds into it) down to its own step
** (stop's: the concretisation), and matrices whose lives overlap get
** disjoint ranges, first fit; a RESHAPE whose input only it reads hands its
** matrix down (back_index), so the two share one range, live until the
** input's step.  A chain then reuses two or three matrices' room instead of
** one per node: the pool stays in L2 and a first pass faults in a fraction
** of the pages.  Offsets in units of q doubles (cached per start and stop
** in the workspace); the pool's size in *tot.
*/
static const size_t *compact_plan(cb_ws *ws, int start, int stop, size_t *tot)
{
  const cb_net *net = ws->net;
  int n = net->n, *birth, *own, *death, *ord, nr = 0;
  size_t *off;
  char *tgt;
  if (ws->plan_off && ws->plan_start == start && ws->plan_stop == stop) { *tot = ws->plan_tot; return ws->plan_off; }
  cb_free(ws->plan_off);
  ws->plan_off = NULL;
  off = cb_calloc((size_t)n + 1, sizeof *off);
  birth = cb_alloc(5 * (size_t)n * sizeof *birth);
  tgt = cb_calloc((size_t)n, 1);
  if (!off || !birth || !tgt) { cb_free(off); cb_free(birth); cb_free(tgt); return NULL; }
  own = birth + n; death = own + n; ord = death + n;
  for (int d = 0; d < n; d++) { birth[d] = -1; own[d] = d; death[d] = d; }
  birth[start] = start;
  for (int c = start; c > stop; c--) {
    int64_t nb;
    int t = -1;
    for (int k = 0; k < net->node[c].n_in; k++) {
      int d = net->node[c].in[k];
      if (d >= stop && birth[d] < 0) birth[d] = c;
    }
    if (crown_softmax_rows(net, c, &nb, &t) && t >= stop) {   /* back_softmax's edge c -> t: t's own range */
      if (birth[t] < 0) birth[t] = c;
      tgt[t] = 1;
    }
  }
  for (int c = start; c > stop; c--) {   /* handed-down matrices: the input lives in its RESHAPE's range */
    int d = net->node[c].n_in ? net->node[c].in[0] : -1;
    if (birth[c] >= 0 && net->node[c].kind == CB_RESHAPE && d >= stop && consumers(net, d) == 1 && !tgt[d]) {
      own[d] = own[c];
      if (d < death[own[c]]) death[own[c]] = d;
    }
  }
  for (int c = start; c >= stop; c--) if (birth[c] >= 0 && own[c] == c) ord[nr++] = c;   /* by birth, latest first */
  for (int a = 1; a < nr; a++)
    for (int b = a; b > 0 && birth[ord[b]] > birth[ord[b - 1]]; b--) { int t = ord[b]; ord[b] = ord[b - 1]; ord[b - 1] = t; }
  *tot = 0;
  for (int a = 0; a < nr; a++) {   /* lowest offset clear of every placed range live at the same time */
    int r = ord[a], nl = 0, *live = ord + nr;   /* the placed ranges live with r: after ord (room for n) */
    size_t o = 0, sz = net->node[r].size;
    for (int b = 0; b < a; b++)
      if (death[ord[b]] <= birth[r] && death[r] <= birth[ord[b]]) live[nl++] = ord[b];
    for (int moved = 1; moved;) {
      moved = 0;
      for (int b = 0; b < nl; b++) {
        int x = live[b];
        if (o < off[x] + net->node[x].size && off[x] < o + sz) { o = off[x] + net->node[x].size; moved = 1; }
      }
    }
    off[r] = o;
    if (o + sz > *tot) *tot = o + sz;
  }
  for (int d = stop; d <= start; d++) off[d] = off[own[d]];
  cb_free(birth);
  cb_free(tgt);
  ws->plan_off = off; ws->plan_start = start; ws->plan_stop = stop; ws->plan_tot = *tot;
  return off;
}

/* Node d's matrix of a q-row pass lives at pool + crown_pool_offset(d)
   (the matrices of nodes 0 .. d-1 before it). */
size_t crown_pool_offset(const cb_net *net, int d, size_t q)
{
  size_t t = 0;
  for (int i = 0; i < d; i++) t += net->node[i].size;
  return t * q;
}

/* Doubles a pass of q rows from `start` needs in its pool. */
size_t crown_pool_size(const cb_net *net, int start, size_t q) { return crown_pool_offset(net, start + 1, q); }

/* The workspace's scratch pool, grown to n doubles (kept for the next pass:
   no page faults from fresh allocations on every pass); NULL on OOM. */
double *crown_scratch(cb_ws *ws, size_t n)
{
  if (n == 0) n = 1;
  if (ws->scratch_n < n) {
    cb_free(ws->scratch);
    ws->scratch_n = 0;
    if (!(ws->scratch = cb_alloc(n * sizeof(double)))) return NULL;
    ws->scratch_n = n;
  }
  return ws->scratch;
}

static int is_relaxed(cb_kind k) { return cb_kind_info[k].relaxed; }

/* One backward pass from `start` (rows A0, q x size) down to `stop`; see
   crown_pass_ex.  inj (NULL, or per node NULL or q x size) adds inj[i] . value(i)
   to every row: node i's matrix starts from inj[i] (counted as merged). */
static int pass_once(cb_ws *ws, int start, int stop, const double *A0, size_t q, const crown_lines *lines,
                     const double *const *inj, double **keep, double *pool, double *out);

/* Is a softmax output with product-form lines between stop and start? */
static int smx_between(const cb_ws *ws, int start, int stop)
{
  for (int i = stop + 1; i <= start; i++) if (ws->smx_on[i]) return 1;
  return 0;
}

/*
** The pass, where it crosses a softmax output with the product form stored
** (back_softmax): an intermediate pass (start below the output: a node's
** own box, softmax_product's boxes) takes the softmax nodes' own lines only;
** the output's pass runs once through the product form and once through
** the own lines, and each row keeps the smaller of the two bounds (both are
** sound).  Neither form dominates on the ViT.  The product form alone makes
** every margin at least as tight as auto_LiRPA's, but the mean margin at
** eps 0.003 falls by 0.13 against the own lines' (bench/RESULTS.md); the own
** lines alone in every pass leave 8 of 72 margins at eps 0.001 looser than
** auto_LiRPA's by up to 4.1e-4.  Both forms on the output's pass and the own
** lines on the others keep every margin at least as tight as auto_LiRPA's
** (8 rows, both radii) for about 1.05x the CPU of one form; both forms on
** every pass gained a further 0.0065 of mean margin at eps 0.003 for 2.4x
** the CPU.  Kept matrices (crown_linear's coefficients) and alpha-CROWN's
** per-row lines: the first pass only, whose matrices are the ones returned.
*/
static int crown_pass_inj(cb_ws *ws, int start, int stop, const double *A0, size_t q, const crown_lines *lines,
                          const double *const *inj, double **keep, double *pool, double *out)
{
  double *o2;
  int rc, two = !lines && !keep && !ws->smx_off && smx_between(ws, start, stop);
  if (two && start != ws->net->output) {   /* intermediate: the own lines only */
    ws->smx_off = 1;
    rc = pass_once(ws, start, stop, A0, q, lines, inj, keep, pool, out);
    ws->smx_off = 0;
    return rc;
  }
  rc = pass_once(ws, start, stop, A0, q, lines, inj, keep, pool, out);
  if (rc != CB_OK || !two) return rc;
  if (!(o2 = cb_alloc((q + 1) * sizeof *o2))) return CB_ENOMEM;
  ws->smx_off = 1;
  rc = pass_once(ws, start, stop, A0, q, lines, inj, keep, pool, o2);
  ws->smx_off = 0;
  for (size_t r = 0; rc == CB_OK && r < q; r++) if (o2[r] < out[r]) out[r] = o2[r];
  cb_free(o2);
  return rc;
}

static int pass_once(cb_ws *ws, int start, int stop, const double *A0, size_t q, const crown_lines *lines,
                     const double *const *inj, double **keep, double *pool, double *out)
{
  bwd B = {ws, q, NULL, NULL, {NULL, NULL, NULL}, lines, pool, NULL, stop, start};
  size_t *col = NULL;
  double *val = NULL;
  int rc = CB_ENOMEM, n = ws->net->n, unit = start > stop ? unit_rows(ws->net, start, A0, q, &col, &val) : 0;
  pchain pc;
  if (unit < 0) goto out;
  if (unit && !inj && stop == 0 && (!keep || pool) && !ws->dense_only && crown_patch_chain(ws->net, start, &pc)) {
    pextra x = {lines, keep, pool, A0};
    rc = crown_patch_pass(ws, &pc, col, val, q, &x, out);   /* before B.pool: it uses the scratch pool too */
    goto out;
  }
  {   /* the bookkeeping, zeroed, in the workspace's buffer (no allocation per pass): doubles, then
         pointers, offsets and flags */
    size_t need = 3 * q * sizeof(double) + (size_t)n * sizeof(double *) + ((size_t)n + 1) * sizeof(size_t) + (size_t)n;
    char *p;
    if (!grow(&ws->passbuf, &ws->passbuf_n, need, 1)) goto out;
    p = memset(ws->passbuf, 0, need);
    B.T.bias = (double *)p;
    B.T.slack = B.T.bias + q;
    B.T.babs = B.T.slack + q;
    B.A = (double **)(p + 3 * q * sizeof(double));
    B.off = (size_t *)(B.A + n);
    B.merged = (char *)(B.off + n + 1);
  }
  if (!B.pool && !keep && !inj) {   /* compact: ranges reused by matrices that are not live together */
    size_t tot;
    const size_t *u = compact_plan(ws, start, stop, &tot);
    if (!u || !(B.pool = crown_scratch(ws, q * tot))) goto out;
    for (int i = stop; i <= start; i++) B.off[i] = q * u[i];
  } else {
    if (!B.pool && !(B.pool = crown_scratch(ws, crown_pool_size(ws->net, start, q)))) goto out;
    for (int i = 0; i < start; i++) B.off[i + 1] = B.off[i] + q * ws->net->node[i].size;
  }
  acc(&B, start);
  memcpy(B.A[start], A0, q * ws->net->node[start].size * sizeof(double));
  for (int i = stop; inj && i < start; i++) {   /* stop too: a split on a ReLU of the input */
    double *a;
    if (!inj[i]) continue;
    a = acc(&B, i);
    for (size_t e = 0; e < q * ws->net->node[i].size; e++) a[e] += inj[i][e];
    B.merged[i] = 1;
  }
  for (int i = start; i > stop; i--) {
    if (!B.A[i]) continue;
    double u = underflow_cached(ws, i);
    if (B.merged[i]) merge_slack(&B, i, B.A[i]);
    for (size_t r = 0; r < q; r++) B.T.slack[r] += u;
    if ((rc = i == start && unit && ws->net->node[i].kind != CB_ADD ? back_unit(&B, i, col, val) : back_node(&B, i, B.A[i])) != CB_OK)
      goto out;
    if (keep) keep[i] = B.A[i];
    B.A[i] = NULL;
  }
  rc = CB_OK;
  if (B.A[stop]) concretise(&B, stop, out);
  else for (size_t r = 0; r < q; r++) out[r] = crown_close(ws->net, &B.T, r, B.T.bias[r]);
  if (keep) keep[stop] = B.A[stop];
out:
  cb_free(col); cb_free(val);
  return rc;
}

static int crown_pass(cb_ws *ws, int start, int stop, const double *A0, size_t q, const crown_lines *lines,
                      double **keep, double *pool, double *out)
{
  return crown_pass_inj(ws, start, stop, A0, q, lines, NULL, keep, pool, out);
}

int crown_upper(cb_ws *ws, int start, const double *A, size_t q, double *out, cb_error *err)
{
  return crown_pass_ex(ws, start, A, q, NULL, NULL, NULL, out, err);
}

int crown_pass_ex(cb_ws *ws, int start, const double *A, size_t q, const crown_lines *lines, double **keep,
                  double *pool, double *out, cb_error *err)
{
  return crown_pass_inj_ex(ws, start, A, q, lines, NULL, keep, pool, out, err);
}

int crown_pass_inj_ex(cb_ws *ws, int start, const double *A, size_t q, const crown_lines *lines,
                      const double *const *inj, double **keep, double *pool, double *out, cb_error *err)
{
  int rc = crown_pass_inj(ws, start, 0, A, q, lines, inj, keep, pool, out);
  if (rc == CB_ENOMEM) return cb_error_set(err, rc, "out of memory in CROWN (%zu rows)", q);
  return rc == CB_OK ? CB_OK : cb_error_set(err, rc, "internal error in CROWN");
}

/* Do all consumers of node k decide their relaxation only by the sign of the
   bounds (ReLU, LeakyReLU)?  Then a neuron that IBP already proves stable has
   the same exact relaxation whatever CROWN would say, and is not re-bounded. */
static int is_preactivation(const cb_net *net, int k);

/* Not when such a ReLU feeds a MaxPool (or another node that needs its box):
   then node k's full box makes the ReLU's (bounds.c skips its own pass). */
int crown_sign_only(const cb_net *net, int k)
{
  for (int i = k + 1; i < net->n; i++)
    for (int j = 0; j < net->node[i].n_in; j++)
      if (net->node[i].in[j] == k &&
          ((!node_is_act(&net->node[i], CB_ACT_RELU) && !node_is_act(&net->node[i], CB_ACT_LEAKY_RELU)) || is_preactivation(net, i)))
        return 0;
  return 1;
}

/* Are all consumers of node k ReLUs?  Then a neuron proved off (u <= 0) has
   both lines 0 whatever its lower bound, so that bound need not be computed. */
static int relu_only(const cb_net *net, int k)
{
  for (int i = k + 1; i < net->n; i++)
    for (int j = 0; j < net->node[i].n_in; j++)
      if (net->node[i].in[j] == k && !node_is_act(&net->node[i], CB_ACT_RELU)) return 0;
  return 1;
}

/* Dense CROWN bounds of the m neurons sel[] of node k, in chunks of <= ch
   rows (unit rows, `sides` per neuron: 2 = upper and minus lower in one pass,
   +1 = upper only, -1 = lower only). */
/* Does an activation defined on part of R (Log, Pow: act.h's domain) read
   node k?  Then CROWN's bounds of k are intersected with its IBP box, which
   stays inside the domain (CROWN's alone may leave it: Log after Exp).  So
   are a softmax output's reshapes and transposes: their IBP box is the
   softmax's box, which bounds.c intersects with the product form's. */
static int domain_consumer(const cb_net *net, int k)
{
  int v = k;
  int64_t B;
  while (v > 0 && (net->node[v].kind == CB_RESHAPE || net->node[v].kind == CB_TRANSPOSE)) v = net->node[v].in[0];
  if (v > 0 && crown_softmax_rows(net, v, &B, &(int){0})) return 1;   /* a view of a softmax: keep its product-form box (bounds.c) */
  for (int i = k + 1; i < net->n; i++)
    if (net->node[i].kind == CB_ACT && node_act(&net->node[i])->domain && net->node[i].in[0] == k) return 1;
  return 0;
}

static int refine_rows(cb_ws *ws, int k, const size_t *sel, size_t m, int sides, cb_error *err)
{
  size_t n = ws->net->node[k].size, per = sides == 2 ? 2 : 1, ch = 64 / per;
  int keep = domain_consumer(ws->net, k);
  double *A = cb_calloc(64 * n, sizeof *A), *out = cb_alloc(64 * sizeof *out);
  int rc = CB_OK;
  if (!A || !out) rc = cb_error_set(err, CB_ENOMEM, "out of memory in CROWN");
  for (size_t r0 = 0; r0 < m && rc == CB_OK; r0 += ch) {
    size_t c = m - r0 < ch ? m - r0 : ch;
    if (cb_time_up()) { rc = cb_limit_error(err, "CROWN"); break; }
    memset(A, 0, per * c * n * sizeof *A);
    for (size_t j = 0; j < c; j++) {
      A[j * n + sel[r0 + j]] = sides == -1 ? -1 : 1;
      if (sides == 2) A[(c + j) * n + sel[r0 + j]] = -1;
    }
    if ((rc = crown_upper(ws, k, A, per * c, out, err)) != CB_OK) break;
    for (size_t j = 0; j < c; j++) {
      double *h = &ws->hi[k][sel[r0 + j]], *l = &ws->lo[k][sel[r0 + j]];
      if (sides != -1) *h = keep ? fmin(*h, out[j]) : out[j];
      if (sides != 1) *l = keep ? fmax(*l, -out[sides == 2 ? c + j : j]) : -out[sides == 2 ? c + j : j];
    }
  }
  cb_free(A);
  cb_free(out);
  return rc;
}

/* One side (or both) of the m neurons sel[]: by the receptive-field pass
   along chain P, or densely (P NULL). */
static int refine_side(cb_ws *ws, int k, const pchain *P, const size_t *sel, size_t m, int sides, cb_error *err)
{
  return P ? crown_patch_refine(ws, k, P, sel, m, sides, err) : refine_rows(ws, k, sel, m, sides, err);
}

/* CROWN bounds of node k (replacing its IBP box) for the neurons that need
   them: by one receptive-field pass where it applies, else densely in chunks
   of 64 rows, which keep a pass's matrices in L2 (digits_cnn at eps 0.05 and
   cifar_base_kw 25% faster than 512 rows; mnist 256x6 within 4%).  Where
   only ReLUs read node k, the upper bounds come first and the lower bound
   is computed only for neurons still possibly on (u > 0): on deep MNIST nets
   30-60% of the IBP-unstable neurons are proved off.  Both passes do this. */
int crown_refine(cb_ws *ws, int k, cb_error *err)
{
  size_t n = ws->net->node[k].size, m = 0, m2 = 0, *sel = cb_alloc(n * sizeof *sel);
  int rc = CB_OK, sign_only = crown_sign_only(ws->net, k);
  pchain pc;
  const pchain *P = NULL;
  if (!sel) { rc = cb_error_set(err, CB_ENOMEM, "out of memory in CROWN"); goto out; }
  for (size_t e = 0; e < n; e++) if (!sign_only || (ws->lo[k][e] < 0 && ws->hi[k][e] > 0)) sel[m++] = e;
  if (m && !ws->dense_only && crown_patch_chain(ws->net, k, &pc)) {
    if (cb_time_up()) { rc = cb_limit_error(err, "CROWN"); goto done; }
    P = &pc;
  }
  if (ws->no_skip || !relu_only(ws->net, k)) { rc = refine_side(ws, k, P, sel, m, 2, err); goto done; }
  if ((rc = refine_side(ws, k, P, sel, m, 1, err)) != CB_OK) goto done;
  for (size_t j = 0; j < m; j++) if (ws->hi[k][sel[j]] > 0) sel[m2++] = sel[j];
  ws->rows_skipped += m - m2;
  rc = refine_side(ws, k, P, sel, m2, -1, err);
done:
  set_zmax(ws, k);
out:
  cb_free(sel);
  return rc;
}

/* Does node k feed a nonlinear node (so its bounds decide a relaxation)? */
static int is_preactivation(const cb_net *net, int k)
{
  for (int i = k + 1; i < net->n; i++)
    if ((is_relaxed(net->node[i].kind) || net->node[i].kind == CB_MAXPOOL || net->node[i].kind == CB_SORT) && net->node[i].in[0] == k) return 1;
    else if (net->node[i].kind == CB_MUL && (net->node[i].in[0] == k || net->node[i].in[1] == k)) return 1;
  return 0;
}

/* A linear node reading the input directly: its IBP box is already its
   dual-norm bound, so CROWN is not run on it (auto_LiRPA does the same). */
static int first_linear(const cb_net *net, int k)
{
  const cb_node *n = &net->node[k];
  int in = n->n_in ? n->in[0] : -1;
  if (n->kind != CB_AFFINE && n->kind != CB_CONV && n->kind != CB_SCALE) return 0;
  while (in > 0 && net->node[in].kind == CB_RESHAPE) in = net->node[in].in[0];
  return in == 0;
}

int crown_refines(const cb_net *net, int k) { return k > 0 && is_preactivation(net, k) && !first_linear(net, k); }

int crown_linear(cb_ws *ws, const double *C, size_t q, double *lin, double *out, cb_error *err)
{
  return crown_linear_inj(ws, C, q, NULL, lin, out, err);
}

int crown_linear_inj(cb_ws *ws, const double *C, size_t q, const double *const *inj, double *lin, double *out,
                     cb_error *err)
{
  return crown_linear_from(ws, ws->net->output, C, q, inj, lin, out, err);
}

int crown_linear_from(cb_ws *ws, int start, const double *A, size_t q, const double *const *inj, double *lin,
                      double *out, cb_error *err)
{
  const cb_net *net = ws->net;
  size_t n0 = net->node[0].size;
  double *pool = grow((void **)&ws->lpool, &ws->lpool_n, crown_pool_size(net, start, q), sizeof *pool) ? ws->lpool : NULL;
  double **keep = cb_calloc((size_t)net->n, sizeof *keep);
  int rc = pool && keep ? crown_pass_inj(ws, start, 0, A, q, NULL, inj, keep, pool, out) : CB_ENOMEM;
  if (rc == CB_ENOMEM) rc = cb_error_set(err, rc, "out of memory in CROWN (%zu rows)", q);
  else if (rc != CB_OK) rc = cb_error_set(err, rc, "internal error in CROWN");
  if (rc == CB_OK && keep[0]) memcpy(lin, keep[0], q * n0 * sizeof *lin);
  else if (rc == CB_OK) memset(lin, 0, q * n0 * sizeof *lin);
  cb_free(keep);
  return rc;
}

/* Bounds of C value(output): one pass over [C; -C] (the rows needed only)
   down to node stop, the input set (0) or that node's box. */
int crown_spec(cb_ws *ws, const double *C, size_t q, int stop, double *lb, double *ub, cb_error *err)
{
  const cb_net *net = ws->net;
  int start = net->output, rc;
  size_t no = net->node[start].size, rows = (lb ? q : 0) + (ub ? q : 0);
  double *A = cb_alloc(rows * no * sizeof *A), *out = cb_alloc(rows * sizeof *out);
  if (!A || !out) { cb_free(A); cb_free(out); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  if (ub) memcpy(A, C, q * no * sizeof *A);
  if (lb) for (size_t e = 0; e < q * no; e++) A[(ub ? q * no : 0) + e] = -C[e];
  rc = crown_pass(ws, start, stop, A, rows, NULL, NULL, NULL, out);
  if (rc == CB_OK) {
    for (size_t r = 0; ub && r < q; r++) ub[r] = out[r];
    for (size_t r = 0; lb && r < q; r++) lb[r] = -out[(ub ? q : 0) + r];
  } else rc = cb_error_set(err, rc, "out of memory in the bound of the specification");
  cb_free(A);
  cb_free(out);
  return rc;
}

/* The steps above, for crown_batch.c (crown_int.h). */
double *crown_bwd_acc(bwd *B, int i) { return acc(B, i); }
int crown_bwd_node(bwd *B, int i, const double *A) { return back_node(B, i, A); }
int crown_bwd_unit(bwd *B, int i, const size_t *col, const double *val) { return back_unit(B, i, col, val); }
void crown_bwd_merge(bwd *B, int i, const double *A) { merge_slack(B, i, A); }
void crown_bwd_concretise(bwd *B, int stop, double *out) { concretise(B, stop, out); }
int crown_unit_rows(const cb_net *net, int start, const double *A0, size_t q, size_t **col, double **val)
{
  return unit_rows(net, start, A0, q, col, val);
}
const size_t *crown_plan(cb_ws *ws, int start, int stop, size_t *tot) { return compact_plan(ws, start, stop, tot); }
int crown_relu_only(const cb_net *net, int k) { return relu_only(net, k); }
int crown_pass_stop(cb_ws *ws, int start, int stop, const double *A0, size_t q, double *out)
{
  return crown_pass(ws, start, stop, A0, q, NULL, NULL, NULL, out);
}
int crown_domain_consumer(const cb_net *net, int k) { return domain_consumer(net, k); }

int64_t crown_softmax_rows(const cb_net *net, int i, int64_t *B, int *x)
{
  const cb_node *y = &net->node[i], *s, *e, *d;
  int64_t n, m;
  if (y->kind != CB_ACT || y->p.act.type != CB_ACT_POW || y->p.act.alpha != -1) return 0;
  s = &net->node[y->in[0]];
  if (s->kind != CB_CONV || !s->exact) return 0;
  n = s->p.conv.g.cout;
  m = n * (n - 1);
  if (n < 2 || s->p.conv.g.cin != m || s->p.conv.g.kh != 1 || s->p.conv.g.kw != 1 || s->p.conv.g.groups != 1 ||
      s->p.conv.g.wout != 1 || s->p.conv.g.win != 1 || s->p.conv.g.hout != s->p.conv.g.hin ||
      s->p.conv.g.sh != 1 || s->p.conv.g.sw != 1 || s->p.conv.g.pt || s->p.conv.g.pl || s->p.conv.g.pb || s->p.conv.g.pr)
    return 0;
  for (int64_t o = 0; o < n; o++) {
    if (s->p.conv.b[o] != 1) return 0;
    for (int64_t c = 0; c < m; c++)
      if (s->p.conv.W[o * m + c] != (c / (n - 1) == o ? 1 : 0)) return 0;
  }
  e = &net->node[s->in[0]];
  if (!node_is_act(e, CB_ACT_EXP)) return 0;
  d = &net->node[e->in[0]];
  if (d->kind != CB_CONV || !d->exact || d->p.conv.g.cout != m || d->p.conv.g.cin != n || d->p.conv.g.kh != 1 ||
      d->p.conv.g.kw != 1 || d->p.conv.g.groups != 1 || d->p.conv.g.win != 1 || d->p.conv.g.wout != 1 ||
      d->p.conv.g.hin != s->p.conv.g.hin || d->p.conv.g.hout != d->p.conv.g.hin || d->p.conv.g.sh != 1 ||
      d->p.conv.g.sw != 1 || d->p.conv.g.pt || d->p.conv.g.pl || d->p.conv.g.pb || d->p.conv.g.pr)
    return 0;
  for (int64_t a = 0, r = 0; a < n; a++)   /* channel r: x_j - x_a, j != a in order */
    for (int64_t j = 0; j < n; j++) {
      if (j == a) continue;
      if (d->p.conv.b[r] != 0) return 0;
      for (int64_t c = 0; c < n; c++)
        if (d->p.conv.W[r * n + c] != (c == j ? 1 : c == a ? -1 : 0)) return 0;
      r++;
    }
  *B = s->p.conv.g.hout;
  *x = d->in[0];
  return (size_t)(n * *B) == y->size ? n : 0;
}
