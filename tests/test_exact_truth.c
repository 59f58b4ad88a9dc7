/*
** verify against exact truth: about 340 small ReLU-network VNNLIB
** properties whose answer this test decides exactly (GMP rationals), each
** run through vfy_run.  No answer may contradict the truth, and every sat
** witness must hold in real arithmetic.
**
** What is generated (fixed seeds; nets built in memory with randnet.h; all
** weights, biases, box bounds and thresholds are dyadic and printed as exact
** decimals, so the real numbers of the VNNLIB text are the test's doubles;
** the parsed spec is compared with the intended one field by field):
**   tie       one AFFINE layer (1-3 in, 2 out): (<= Y_0 Y_1) and (< Y_0 Y_1)
**             (or >=, >) where the exact extremum of Y_0 - Y_1 over the box
**             is 0, +-5 2^-60, +-2^-53 or +-3 2^-70: a double forward pass
**             cannot tell these apart (Y_0 = W x + 5 2^-60 rounds to W x);
**   attained  ReLU nets with weights k/64: the threshold is the exact max
**             (min) of an output over the box: (>= Y t) sat, (> Y t) unsat;
**   ulp       the same thresholds one ulp above and below: both unsat on
**             the far side, both sat on the near side;
**   dyadic    random dyadic ReLU nets, one- or two-row conjunctions with
**             thresholds in or near the exact range of the rows;
**   pinned    some inputs with lo == hi (sometimes all: then also
**             thresholds exactly at the output value);
**   disjunct  2-3 input boxes and 1-3 output conjunctions per box;
**   known     a 4-6-1 net with weights k/64 whose max of Y_0 over the box
**             is 1321/2048, at a box corner: verify answered sat to
**             (> Y_0 0.64501953125) when its witness check compared a
**             double forward pass (found by the ulp/attained generators,
**             kept fixed here).
** Truth: the nets are piecewise linear.  Their activation regions (each
** hidden ReLU active, z >= 0, or inactive, z <= 0) are enumerated depth
** first, pruned by exact LPs; on a region every pre-activation and output is
** affine in x, so "some x of the box in this region meets the conjunction"
** is an exact rational LP (a dense simplex in mpq, Bland's rule, x - lo >= 0
** as variables, the box's upper bounds as rows).  Strict rows get a slack t:
** maximise t <= 1 with A_r y + t <= b_r; strictly feasible iff t* > 0.
** Every "feasible" comes with the LP's point, which an exact forward pass
** (no regions) re-checks; test_lp_sampled checks "infeasible" and the
** extrema against sampled points.  Thresholds of the tie/attained/ulp
** families are derived from the exact extremum (a family skips a net whose
** extremum is not a double), and the LP truth must equal the derived one.
** Why: the answers must hold for the real-valued network the stored doubles
** define; a tie the double forward pass rounds the wrong way must not make
** a counterexample, and rounding slack must not make unsat out of sat.
** Checks: no sat on an unsat property, no unsat on a sat one, every sat
** witness inside the real box and meeting its conjunction exactly (strict
** rows strictly).  unknown and timeout are allowed; the answers are counted
** per category and printed, with the first wrong ones in full.
** Cost: vo.timeout 2 s and vo.max_nodes 1500 (the undecidable ties stop
** there, ~10 ms each; the known case's witness needs depth ~190), one thread;
** about 2 s at -O2 and 20 s under ASan at -O1, the exact side under a second.
*/
#include <gmp.h>
#include <math.h>
#include "randnet.h"
#include "verify.h"

#define MX 4                      /* inputs */
#define MY 3                      /* outputs */
#define MWID 6                    /* neurons of a hidden layer */
#define MH 12                     /* hidden ReLUs */
#define MR 3                      /* rows of a conjunction */
#define MC 3                      /* conjunctions of a box */
#define MB 3                      /* input boxes */
#define MCON (MH + MR)            /* LP constraints besides the box */
#define LPR (MX + MCON + 1)       /* LP rows: box widths, constraints, t <= 1 */
#define LPV (MX + 1)              /* LP variables: x - lo, then t */
#define MAX_PRINT 10              /* wrong answers printed in full (2 per category at most) */

static int irand(int a, int b) { return a + (int)(urand(&seed) * (double)(b - a + 1)); }

/* ------------------------------------------------------------ networks */

typedef struct layer { size_t in, out; const double *W, *b; int relu; } layer;
typedef struct tnet { cb_net *net; size_t nx, ny; int nl; layer L[3]; } tnet;

/* Overwrites an AFFINE node's parameters with k/64 (|k| <= kw for W, kb for b). */
static void dyadic_params(cb_node *nd, int kw, int kb)
{
  for (size_t k = 0; k < nd->p.aff.out * nd->p.aff.in; k++) nd->p.aff.W[k] = irand(-kw, kw) / 64.0;
  for (size_t k = 0; k < nd->p.aff.out; k++) nd->p.aff.b[k] = irand(-kb, kb) / 64.0;
  nd->exact = 1;
}

/* The layer table of a net AFFINE (RELU AFFINE)*, read back from the nodes. */
static void tnet_layers(tnet *N)
{
  N->nl = 0;
  for (int i = 1; i < N->net->n; i++) {
    const cb_node *nd = &N->net->node[i];
    if (node_is_act(nd, CB_ACT_RELU)) { N->L[N->nl - 1].relu = 1; continue; }
    assert_int_equal(nd->kind, CB_AFFINE);
    assert_true(N->nl < 3);
    N->L[N->nl++] = (layer){nd->p.aff.in, nd->p.aff.out, nd->p.aff.W, nd->p.aff.b, 0};
  }
  N->nx = N->L[0].in;
  N->ny = N->L[N->nl - 1].out;
}

/* A dense net nx -> hid[0..nh) (ReLU) -> ny with random k/64 parameters. */
static tnet relu_net(size_t nx, const size_t *hid, int nh, size_t ny)
{
  int64_t d[2] = {1, (int64_t)nx};
  cb_error err = {0};
  tnet N = {0};
  int i = 0;
  N.net = start(2, d);
  for (int l = 0; l <= nh; l++) {
    i = dense(N.net, i, l < nh ? hid[l] : ny);
    dyadic_params(&N.net->node[i], 64, 16);
    if (l < nh) { i = act(N.net, i, CB_ACT_RELU); N.net->node[i].exact = 1; }
  }
  N.net->output = i;
  if (net_check(N.net, &err) != CB_OK) fail_msg("%s", err.msg);
  tnet_layers(&N);
  return N;
}

/* A random shape: 1-4 inputs, 1-2 hidden layers of 2-6, 1-3 outputs. */
static tnet random_relu_net(size_t nx)
{
  size_t hid[2];
  int nh = irand(1, 2);
  for (int l = 0; l < nh; l++) hid[l] = (size_t)irand(2, 6);
  return relu_net(nx, hid, nh, (size_t)irand(1, 3));
}

/* ------------------------------------------------------------ properties */

typedef struct row { double a[MY], b; int strict; } row;   /* a . y <= b, or < b */
typedef struct conj { int m; row r[MR]; } conj;
typedef struct box { double lo[MX], hi[MX]; int nc; conj c[MC]; } box;
typedef struct prop { const char *cat; int nb; box b[MB]; int expect; } prop;  /* expect: -1 or the truth by construction */

typedef struct sbuf { char s[16384]; size_t n; } sbuf;

static void put(sbuf *B, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *B, const char *fmt, ...)
{
  va_list ap;
  int k;
  va_start(ap, fmt);
  k = vsnprintf(B->s + B->n, sizeof B->s - B->n, fmt, ap);
  va_end(ap);
  assert_true(k >= 0 && (size_t)k < sizeof B->s - B->n);
  B->n += (size_t)k;
}

/* 1 if dec(v) fits the parser's 512-character numbers: not below 2^-200 in magnitude
   (the ulp below an extremum 0 is 2^-1074: a 1074-digit decimal). */
static int printable(double v) { return v == 0 || fabs(v) >= 0x1p-200; }

/* v as an exact decimal: every double is m 2^-k = m 5^k / 10^k (printable(v)). */
static const char *dec(double v, char *out, size_t cap)
{
  char dig[400];
  mpq_t q;
  mpz_t z;
  size_t k, len, o = 0;
  mpq_init(q); mpz_init(z);
  mpq_set_d(q, v);
  k = mpz_sizeinbase(mpq_denref(q), 2) - 1;
  mpz_ui_pow_ui(z, 5, k);
  mpz_mul(z, z, mpq_numref(q));
  mpz_abs(z, z);
  assert_true(mpz_sizeinbase(z, 10) + 2 < sizeof dig && k + 8 < cap);
  mpz_get_str(dig, 10, z);
  len = strlen(dig);
  if (mpq_sgn(q) < 0) out[o++] = '-';
  if (len <= k) out[o++] = '0';
  else { memcpy(out + o, dig, len - k); o += len - k; }
  if (k) {
    out[o++] = '.';
    for (size_t i = len; i < k; i++) out[o++] = '0';
    memcpy(out + o, dig + (len > k ? len - k : 0), len > k ? k : len);
    o += len > k ? k : len;
  }
  assert_true(o < cap);
  out[o] = 0;
  mpq_clear(q); mpz_clear(z);
  return out;
}

/* A row in the form a reader expects: (<= Y_j b), (>= Y_j t), (<= Y_j Y_k), or a sum. */
static void put_row(sbuf *B, const row *r, size_t ny)
{
  const char *le = r->strict ? "<" : "<=", *ge = r->strict ? ">" : ">=";
  char t[300];
  int nz = 0, j1 = -1, j2 = -1;
  for (size_t j = 0; j < ny; j++)
    if (r->a[j] != 0) { if (nz++ == 0) j1 = (int)j; else j2 = (int)j; }
  assert_true(nz > 0);
  if (nz == 1 && r->a[j1] == 1) put(B, " (%s Y_%d %s)", le, j1, dec(r->b, t, sizeof t));
  else if (nz == 1 && r->a[j1] == -1) put(B, " (%s Y_%d %s)", ge, j1, dec(-r->b, t, sizeof t));
  else if (nz == 2 && fabs(r->a[j1]) == 1 && r->a[j2] == -r->a[j1]) {
    int p = r->a[j1] > 0 ? j1 : j2, q = r->a[j1] > 0 ? j2 : j1;
    if (r->b == 0) put(B, " (%s Y_%d Y_%d)", le, p, q);
    else put(B, " (%s (- Y_%d Y_%d) %s)", le, p, q, dec(r->b, t, sizeof t));
  } else {
    put(B, " (%s (+", le);
    for (size_t j = 0; j < ny; j++) if (r->a[j] != 0) put(B, " (* %s Y_%zu)", dec(r->a[j], t, sizeof t), j);
    put(B, ") %s)", dec(r->b, t, sizeof t));
  }
}

/* The VNNLIB text of P: one (and box rows) term per box and conjunction. */
static void prop_text(const prop *P, size_t nx, size_t ny, sbuf *B)
{
  char t[300];
  B->n = 0;
  for (size_t i = 0; i < nx; i++) put(B, "(declare-const X_%zu Real)\n", i);
  for (size_t j = 0; j < ny; j++) put(B, "(declare-const Y_%zu Real)\n", j);
  put(B, "(assert (or");
  for (int b = 0; b < P->nb; b++)
    for (int c = 0; c < P->b[b].nc; c++) {
      put(B, "\n  (and");
      for (size_t i = 0; i < nx; i++) {
        put(B, " (>= X_%zu %s)", i, dec(P->b[b].lo[i], t, sizeof t));
        put(B, " (<= X_%zu %s)", i, dec(P->b[b].hi[i], t, sizeof t));
      }
      for (int r = 0; r < P->b[b].c[c].m; r++) put_row(B, &P->b[b].c[c].r[r], ny);
      put(B, ")");
    }
  put(B, "))\n");
}

/* The parser read exactly P: same boxes (inner = outer = ours), conjunctions, rows, constants. */
static void spec_matches(const prop *P, const vnn_spec *S)
{
  assert_int_equal(S->n_box, P->nb);
  for (int b = 0; b < P->nb; b++) {
    const box *X = &P->b[b];
    const vnn_box *V = &S->box[b];
    for (size_t i = 0; i < S->nx; i++)
      assert_true(V->lo[i] == X->lo[i] && V->lo_in[i] == X->lo[i] && V->hi[i] == X->hi[i] && V->hi_in[i] == X->hi[i]);
    assert_int_equal(V->n_conj, X->nc);
    for (int c = 0; c < X->nc; c++) {
      assert_int_equal(V->conj[c].m, X->c[c].m);
      for (int r = 0; r < X->c[c].m; r++) {
        const row *R = &X->c[c].r[r];
        assert_true(V->conj[c].b_dn[r] == R->b && V->conj[c].b_up[r] == R->b);
        assert_int_equal(V->conj[c].strict[r], R->strict);
        for (size_t j = 0; j < S->ny; j++) assert_true(V->conj[c].A[(size_t)r * S->ny + j] == R->a[j]);
      }
    }
  }
}

/* ------------------------------------------------------------ exact affine maps */

typedef struct aff { mpq_t c[MX + 1]; } aff;   /* c[0..MX) . x + c[MX] */

static mpq_t T1, T2;                            /* scratch of the aff helpers */

static void aff_init(aff *a) { for (int j = 0; j <= MX; j++) mpq_init(a->c[j]); }
static void aff_clear(aff *a) { for (int j = 0; j <= MX; j++) mpq_clear(a->c[j]); }
static void aff_set(aff *a, const aff *b) { for (int j = 0; j <= MX; j++) mpq_set(a->c[j], b->c[j]); }
static void aff_zero(aff *a) { for (int j = 0; j <= MX; j++) mpq_set_ui(a->c[j], 0, 1); }
static void aff_neg(aff *a, const aff *b) { for (int j = 0; j <= MX; j++) mpq_neg(a->c[j], b->c[j]); }

static aff *affs_new(size_t n)
{
  aff *a = malloc((n ? n : 1) * sizeof *a);
  assert_non_null(a);
  for (size_t k = 0; k < n; k++) { aff_init(&a[k]); aff_zero(&a[k]); }
  return a;
}

static void affs_free(aff *a, size_t n)
{
  for (size_t k = 0; k < n; k++) aff_clear(&a[k]);
  free(a);
}

/* a += s b, s a double (exactly). */
static void aff_axpy(aff *a, double s, const aff *b)
{
  mpq_set_d(T1, s);
  for (int j = 0; j <= MX; j++) { mpq_mul(T2, T1, b->c[j]); mpq_add(a->c[j], a->c[j], T2); }
}

/* The exact range [mn, mx] of a over the box. */
static void aff_range(const aff *a, size_t n, const double *lo, const double *hi, mpq_t mn, mpq_t mx)
{
  mpq_set(mn, a->c[MX]);
  mpq_set(mx, a->c[MX]);
  for (size_t j = 0; j < n; j++) {
    mpq_set_d(T1, lo[j]); mpq_mul(T1, T1, a->c[j]);
    mpq_set_d(T2, hi[j]); mpq_mul(T2, T2, a->c[j]);
    if (mpq_cmp(T1, T2) > 0) mpq_swap(T1, T2);
    mpq_add(mn, mn, T1);
    mpq_add(mx, mx, T2);
  }
}

/* z = W a + b for layer L (a: L->in maps, z: L->out maps). */
static void layer_apply(const layer *L, const aff *a, aff *z)
{
  for (size_t o = 0; o < L->out; o++) {
    aff_zero(&z[o]);
    for (size_t j = 0; j < L->in; j++) aff_axpy(&z[o], L->W[o * L->in + j], &a[j]);
    mpq_set_d(T1, L->b[o]);
    mpq_add(z[o].c[MX], z[o].c[MX], T1);
  }
}

/* y = f(x) exactly at the rational point x, layer by layer (no regions). */
static void exact_forward(const tnet *N, mpq_t *x, mpq_t *y)
{
  mpq_t a[MWID], z[MWID], t;
  size_t n = N->nx;
  mpq_init(t);
  for (int k = 0; k < MWID; k++) { mpq_init(a[k]); mpq_init(z[k]); }
  for (size_t k = 0; k < n; k++) mpq_set(a[k], x[k]);
  for (int l = 0; l < N->nl; l++) {
    const layer *L = &N->L[l];
    for (size_t o = 0; o < L->out; o++) {
      mpq_set_d(z[o], L->b[o]);
      for (size_t j = 0; j < L->in; j++) { mpq_set_d(t, L->W[o * L->in + j]); mpq_mul(t, t, a[j]); mpq_add(z[o], z[o], t); }
    }
    for (size_t o = 0; o < L->out; o++) {
      if (L->relu && mpq_sgn(z[o]) < 0) mpq_set_ui(a[o], 0, 1); else mpq_set(a[o], z[o]);
    }
  }
  for (size_t j = 0; j < N->ny; j++) mpq_set(y[j], a[j]);
  for (int k = 0; k < MWID; k++) { mpq_clear(a[k]); mpq_clear(z[k]); }
  mpq_clear(t);
}

/* 1 if y meets every row of C exactly (strict rows strictly). */
static int meets_exact(const conj *C, mpq_t *y, size_t ny)
{
  mpq_t s, t;
  int ok = 1;
  mpq_inits(s, t, NULL);
  for (int r = 0; r < C->m && ok; r++) {
    mpq_set_ui(s, 0, 1);
    for (size_t j = 0; j < ny; j++) { mpq_set_d(t, C->r[r].a[j]); mpq_mul(t, t, y[j]); mpq_add(s, s, t); }
    mpq_set_d(t, C->r[r].b);
    ok = C->r[r].strict ? mpq_cmp(s, t) < 0 : mpq_cmp(s, t) <= 0;
  }
  mpq_clears(s, t, NULL);
  return ok;
}

/* 1 if the rational point x lies in box X and f(x) meets conjunction C exactly. */
static int point_meets(const tnet *N, const box *X, const conj *C, mpq_t *x)
{
  mpq_t y[MY], t;
  int ok = 1;
  mpq_init(t);
  for (size_t i = 0; i < N->nx && ok; i++) {
    mpq_set_d(t, X->lo[i]); ok = mpq_cmp(x[i], t) >= 0;
    mpq_set_d(t, X->hi[i]); ok = ok && mpq_cmp(x[i], t) <= 0;
  }
  for (int j = 0; j < MY; j++) mpq_init(y[j]);
  if (ok) { exact_forward(N, x, y); ok = meets_exact(C, y, N->ny); }
  for (int j = 0; j < MY; j++) mpq_clear(y[j]);
  mpq_clear(t);
  return ok;
}

/* ------------------------------------------------------------ exact simplex */

/*
** Dictionary form over mpq: row i < m reads  basic_i = D[i][R] - sum_j D[i][j] nb_j,
** row m reads  z = D[m][R] - sum_j D[m][j] nb_j  (maximised); R = n + 1 is the
** right-hand side, column n the auxiliary x0 of phase 1.  Every variable is
** >= 0.  Ids: originals 0..n-1, x0 = n, slack of row i = n + 1 + i.  Bland's
** rule (smallest id enters, ties leave by smallest id) rules out cycling.
*/
static struct lpws {
  mpq_t D[LPR + 1][LPV + 2];
  mpq_t q, r, f;
  int bas[LPR], nb[LPV + 1], m, n;
} W;

/* A query: x in [lo, hi] with con_i(x) >= 0 (> 0 if strict_i). */
typedef struct lpq { size_t n; const double *lo, *hi; int m; const aff *con[MCON]; unsigned char strict[MCON]; } lpq;

static void lpws_init(void)
{
  for (int i = 0; i <= LPR; i++) for (int j = 0; j < LPV + 2; j++) mpq_init(W.D[i][j]);
  mpq_inits(W.q, W.r, W.f, T1, T2, NULL);
}

static void lpws_clear(void)
{
  for (int i = 0; i <= LPR; i++) for (int j = 0; j < LPV + 2; j++) mpq_clear(W.D[i][j]);
  mpq_clears(W.q, W.r, W.f, T1, T2, NULL);
}

/* Exchanges basic row l and nonbasic column e (D[l][e] != 0). */
static void pivot(int l, int e)
{
  int R = W.n + 1;
  mpq_inv(W.q, W.D[l][e]);
  for (int j = 0; j <= R; j++) if (j != e) mpq_mul(W.D[l][j], W.D[l][j], W.q);
  mpq_set(W.D[l][e], W.q);
  for (int i = 0; i <= W.m; i++) {
    if (i == l || !mpq_sgn(W.D[i][e])) continue;
    mpq_set(W.f, W.D[i][e]);
    for (int j = 0; j <= R; j++) {
      if (j == e) continue;
      mpq_mul(W.q, W.f, W.D[l][j]);
      mpq_sub(W.D[i][j], W.D[i][j], W.q);
    }
    mpq_mul(W.D[i][e], W.f, W.D[l][e]);
    mpq_neg(W.D[i][e], W.D[i][e]);
  }
  int t = W.bas[l]; W.bas[l] = W.nb[e]; W.nb[e] = t;
}

/* Pivots to an optimum of row m (the feasible problems here are bounded). */
static void simplex(void)
{
  int R = W.n + 1;
  for (;;) {
    int e = -1, l = -1;
    for (int j = 0; j <= W.n; j++)
      if (mpq_sgn(W.D[W.m][j]) < 0 && (e < 0 || W.nb[j] < W.nb[e])) e = j;
    if (e < 0) return;
    for (int i = 0; i < W.m; i++) {
      int c;
      if (mpq_sgn(W.D[i][e]) <= 0) continue;
      mpq_div(W.q, W.D[i][R], W.D[i][e]);
      if (l < 0 || (c = mpq_cmp(W.q, W.r)) < 0 || (c == 0 && W.bas[i] < W.bas[l])) { l = i; mpq_set(W.r, W.q); }
    }
    assert_true(l >= 0);
    pivot(l, e);
  }
}

/* Clears row i (all columns and the right-hand side). */
static void row_zero(int i) { for (int j = 0; j <= W.n + 1; j++) mpq_set_ui(W.D[i][j], 0, 1); }

/* The dictionary of P: u = x - lo >= 0 (and t >= 0 if has_t); rows u_j <= hi_j - lo_j,
   -con_i . u (+ t if strict) <= con_i(lo), t <= 1. */
static void lp_load(const lpq *P, int has_t)
{
  int R, n = (int)P->n;
  W.n = n + has_t; W.m = 0; R = W.n + 1;
  for (int j = 0; j < n; j++, W.m++) {
    row_zero(W.m);
    mpq_set_ui(W.D[W.m][j], 1, 1);
    mpq_set_d(W.D[W.m][R], P->hi[j]); mpq_set_d(W.q, P->lo[j]);
    mpq_sub(W.D[W.m][R], W.D[W.m][R], W.q);
  }
  for (int i = 0; i < P->m; i++, W.m++) {
    row_zero(W.m);
    mpq_set(W.D[W.m][R], P->con[i]->c[MX]);
    for (int j = 0; j < n; j++) {
      mpq_neg(W.D[W.m][j], P->con[i]->c[j]);
      mpq_set_d(W.q, P->lo[j]); mpq_mul(W.q, W.q, P->con[i]->c[j]);
      mpq_add(W.D[W.m][R], W.D[W.m][R], W.q);
    }
    if (has_t && P->strict[i]) mpq_set_ui(W.D[W.m][n], 1, 1);
  }
  if (has_t) { row_zero(W.m); mpq_set_ui(W.D[W.m][n], 1, 1); mpq_set_ui(W.D[W.m][R], 1, 1); W.m++; }
  row_zero(W.m);
  for (int j = 0; j <= W.n; j++) W.nb[j] = j;
  for (int i = 0; i < W.m; i++) W.bas[i] = W.n + 1 + i;
}

/* Phase 1 (x0 method): a feasible dictionary with x0 removed, or 0 if the rows are infeasible. */
static int phase1(void)
{
  int R = W.n + 1, X0 = W.n, l = -1;
  for (int i = 0; i < W.m; i++)
    if (mpq_sgn(W.D[i][R]) < 0 && (l < 0 || mpq_cmp(W.D[i][R], W.D[l][R]) < 0)) l = i;
  if (l < 0) return 1;
  for (int i = 0; i < W.m; i++) mpq_set_si(W.D[i][X0], -1, 1);
  row_zero(W.m);
  mpq_set_ui(W.D[W.m][X0], 1, 1);                 /* maximise -x0 */
  pivot(l, X0);
  simplex();
  if (mpq_sgn(W.D[W.m][R]) < 0) return 0;
  for (int i = 0; i < W.m; i++) {
    if (W.bas[i] != X0) continue;
    for (int j = 0; j <= W.n; j++) if (mpq_sgn(W.D[i][j])) { pivot(i, j); break; }
    break;                                         /* an all-zero row keeps x0 = 0: harmless */
  }
  for (int j = 0; j <= W.n; j++)
    if (W.nb[j] == X0) for (int i = 0; i <= W.m; i++) mpq_set_ui(W.D[i][j], 0, 1);
  return 1;
}

/* Row m := maximise sum_k c[k] v_k + c0 over the original variables, in the current basis. */
static void set_objective(mpq_t *c, const mpq_t c0)
{
  int R = W.n + 1;
  row_zero(W.m);
  mpq_set(W.D[W.m][R], c0);
  for (int k = 0; k < W.n; k++) {
    if (!mpq_sgn(c[k])) continue;
    for (int j = 0; j <= W.n; j++) if (W.nb[j] == k) mpq_sub(W.D[W.m][j], W.D[W.m][j], c[k]);
    for (int i = 0; i < W.m; i++) {
      if (W.bas[i] != k) continue;
      for (int j = 0; j <= R; j++) { mpq_mul(W.q, c[k], W.D[i][j]); mpq_add(W.D[W.m][j], W.D[W.m][j], W.q); }
    }
  }
}

/* x = lo + u at the current basic solution. */
static void lp_point(const lpq *P, mpq_t *x)
{
  for (size_t j = 0; j < P->n; j++) mpq_set_d(x[j], P->lo[j]);
  for (int i = 0; i < W.m; i++)
    if (W.bas[i] < (int)P->n) mpq_add(x[W.bas[i]], x[W.bas[i]], W.D[i][W.n + 1]);
}

/* Is { x in P's box : its constraints } nonempty (with strict rows: strictly)?  obj
   (no strict rows then): *val = its maximum.  xo (n, if non-NULL): a point of the set,
   the maximiser with obj. */
static int lp_solve(const lpq *P, const aff *obj, mpq_t val, mpq_t *xo)
{
  mpq_t c[LPV], c0;
  int has_t = 0, ok = 1;
  for (int i = 0; i < P->m; i++) has_t |= P->strict[i];
  assert_false(has_t && obj);
  lp_load(P, has_t);
  if (!phase1()) return 0;
  if (!has_t && !obj) { if (xo) lp_point(P, xo); return 1; }
  for (int k = 0; k < LPV; k++) mpq_init(c[k]);
  mpq_init(c0);
  if (has_t) mpq_set_ui(c[P->n], 1, 1);
  else {
    mpq_set(c0, obj->c[MX]);
    for (size_t j = 0; j < P->n; j++) {
      mpq_set(c[j], obj->c[j]);
      mpq_set_d(W.q, P->lo[j]); mpq_mul(W.q, W.q, obj->c[j]); mpq_add(c0, c0, W.q);
    }
  }
  set_objective(c, c0);
  simplex();
  if (has_t) ok = mpq_sgn(W.D[W.m][W.n + 1]) > 0;
  else mpq_set(val, W.D[W.m][W.n + 1]);
  if (ok && xo) lp_point(P, xo);
  for (int k = 0; k < LPV; k++) mpq_clear(c[k]);
  mpq_clear(c0);
  return ok;
}

/* ------------------------------------------------------------ activation regions */

typedef struct region { int nc; aff con[MH]; aff y[MY]; } region;   /* con_i(x) >= 0; y(x) */
typedef struct regions { const tnet *N; const double *lo, *hi; region *r; size_t n, cap; } regions;
typedef struct walker { regions *R; const aff *con[MH]; int nc; } walker;

static void walk_layer(walker *w, int l, const aff *in);

/* The query "x in the box, in the walker's region so far". */
static lpq walker_query(const walker *w)
{
  lpq P = {w->R->N->nx, w->R->lo, w->R->hi, w->nc, {0}, {0}};
  for (int i = 0; i < w->nc; i++) P.con[i] = w->con[i];
  return P;
}

/* Which signs z can take on the region: 1 active only, 2 inactive only, 3 both. */
static int neuron_signs(const walker *w, const aff *z)
{
  const regions *R = w->R;
  mpq_t mn, mx;
  aff neg;
  int s;
  lpq P;
  mpq_inits(mn, mx, NULL);
  aff_range(z, R->N->nx, R->lo, R->hi, mn, mx);
  s = mpq_sgn(mn) >= 0 ? 1 : mpq_sgn(mx) <= 0 ? 2 : 3;
  if (s == 3 && w->nc) {   /* on the box alone both signs occur; inside the region, ask the LP */
    P = walker_query(w);
    aff_init(&neg); aff_neg(&neg, z);
    assert_true(lp_solve(&P, z, mx, NULL) && lp_solve(&P, &neg, mn, NULL));
    mpq_neg(mn, mn);
    s = mpq_sgn(mn) >= 0 ? 1 : mpq_sgn(mx) <= 0 ? 2 : 3;
    aff_clear(&neg);
  }
  mpq_clears(mn, mx, NULL);
  return s;
}

/* Decides ReLUs k.. of layer l; z holds the layer's maps (rows < k already after the ReLU). */
static void walk_neuron(walker *w, int l, size_t k, aff *z)
{
  aff save, neg;
  int s;
  if (k == w->R->N->L[l].out) { walk_layer(w, l + 1, z); return; }
  s = neuron_signs(w, &z[k]);
  if (s & 1) {
    if (s == 3) w->con[w->nc++] = &z[k];
    walk_neuron(w, l, k + 1, z);
    if (s == 3) w->nc--;
  }
  if (!(s & 2)) return;
  aff_init(&save); aff_init(&neg);
  aff_set(&save, &z[k]);
  aff_neg(&neg, &z[k]);
  if (s == 3) w->con[w->nc++] = &neg;
  aff_zero(&z[k]);
  walk_neuron(w, l, k + 1, z);
  if (s == 3) w->nc--;
  aff_set(&z[k], &save);
  aff_clear(&save); aff_clear(&neg);
}

/* Stores the current region with outputs y. */
static void push_region(walker *w, const aff *y)
{
  regions *R = w->R;
  region *g;
  if (R->n == R->cap) {
    R->cap = R->cap ? 2 * R->cap : 16;
    R->r = realloc(R->r, R->cap * sizeof *R->r);
    assert_non_null(R->r);
  }
  g = &R->r[R->n++];
  g->nc = w->nc;
  for (int i = 0; i < w->nc; i++) { aff_init(&g->con[i]); aff_set(&g->con[i], w->con[i]); }
  for (size_t j = 0; j < R->N->ny; j++) { aff_init(&g->y[j]); aff_set(&g->y[j], &y[j]); }
}

/* Enters layer l with the maps of its input (after the whole net: a region). */
static void walk_layer(walker *w, int l, const aff *in)
{
  const tnet *N = w->R->N;
  aff *z;
  if (l == N->nl) { push_region(w, in); return; }
  z = affs_new(N->L[l].out);
  layer_apply(&N->L[l], in, z);
  if (N->L[l].relu) walk_neuron(w, l, 0, z); else walk_layer(w, l + 1, z);
  affs_free(z, N->L[l].out);
}

/* Every activation region of N meeting the box [lo, hi] (closed; they cover it). */
static regions regions_build(const tnet *N, const double *lo, const double *hi)
{
  regions R = {N, lo, hi, NULL, 0, 0};
  walker w = {&R, {0}, 0};
  aff *x = affs_new(N->nx);
  for (size_t j = 0; j < N->nx; j++) mpq_set_ui(x[j].c[j], 1, 1);
  walk_layer(&w, 0, x);
  affs_free(x, N->nx);
  assert_true(R.n > 0);
  return R;
}

static void regions_free(regions *R)
{
  for (size_t k = 0; k < R->n; k++) {
    for (int i = 0; i < R->r[k].nc; i++) aff_clear(&R->r[k].con[i]);
    for (size_t j = 0; j < R->N->ny; j++) aff_clear(&R->r[k].y[j]);
  }
  free(R->r);
}

/* h(x) = b - a . y(x) on region g (row a . y <= b holds iff h >= 0). */
static void row_aff(const region *g, const row *r, size_t ny, aff *h)
{
  aff_zero(h);
  for (size_t j = 0; j < ny; j++) if (r->a[j] != 0) aff_axpy(h, -r->a[j], &g->y[j]);
  mpq_set_d(T1, r->b);
  mpq_add(h->c[MX], h->c[MX], T1);
}

/* Does some x of region g meet conjunction C?  Its LP point must pass the exact forward pass. */
static int region_meets(const regions *R, const region *g, const box *X, const conj *C)
{
  lpq P = {R->N->nx, R->lo, R->hi, g->nc, {0}, {0}};
  aff h[MR];
  mpq_t x[MX], v;
  int ok;
  for (int i = 0; i < g->nc; i++) P.con[i] = &g->con[i];
  for (int r = 0; r < C->m; r++) {
    aff_init(&h[r]);
    row_aff(g, &C->r[r], R->N->ny, &h[r]);
    P.con[P.m] = &h[r];
    P.strict[P.m++] = (unsigned char)C->r[r].strict;
  }
  for (int j = 0; j < MX; j++) mpq_init(x[j]);
  mpq_init(v);
  ok = lp_solve(&P, NULL, v, x);
  if (ok && !point_meets(R->N, X, C, x)) fail_msg("exact LP point does not meet the conjunction (LP bug)");
  for (int r = 0; r < C->m; r++) aff_clear(&h[r]);
  for (int j = 0; j < MX; j++) mpq_clear(x[j]);
  mpq_clear(v);
  return ok;
}

/* The exact maximum of a . y over the regions' box; the maximiser is re-evaluated exactly. */
static void regions_max(const regions *R, const double *a, mpq_t M)
{
  mpq_t v, x[MX], bx[MX], y[MY], s, t;
  aff o;
  int have = 0;
  mpq_inits(v, s, t, NULL);
  for (int j = 0; j < MX; j++) { mpq_init(x[j]); mpq_init(bx[j]); }
  for (int j = 0; j < MY; j++) mpq_init(y[j]);
  aff_init(&o);
  for (size_t k = 0; k < R->n; k++) {
    const region *g = &R->r[k];
    lpq P = {R->N->nx, R->lo, R->hi, g->nc, {0}, {0}};
    for (int i = 0; i < g->nc; i++) P.con[i] = &g->con[i];
    aff_zero(&o);
    for (size_t j = 0; j < R->N->ny; j++) if (a[j] != 0) aff_axpy(&o, a[j], &g->y[j]);
    assert_true(lp_solve(&P, &o, v, x));
    if (!have || mpq_cmp(v, M) > 0) { mpq_set(M, v); for (int j = 0; j < MX; j++) mpq_set(bx[j], x[j]); }
    have = 1;
  }
  exact_forward(R->N, bx, y);
  mpq_set_ui(s, 0, 1);
  for (size_t j = 0; j < R->N->ny; j++) { mpq_set_d(t, a[j]); mpq_mul(t, t, y[j]); mpq_add(s, s, t); }
  if (!mpq_equal(s, M)) fail_msg("exact maximiser does not attain the LP maximum (LP bug)");
  aff_clear(&o);
  for (int j = 0; j < MY; j++) mpq_clear(y[j]);
  for (int j = 0; j < MX; j++) { mpq_clear(x[j]); mpq_clear(bx[j]); }
  mpq_clears(v, s, t, NULL);
}

/* The exact truth of P: some box, region and conjunction with a point meeting it. */
static int prop_truth(const tnet *N, const prop *P)
{
  int found = 0;
  for (int b = 0; b < P->nb && !found; b++) {
    regions R = regions_build(N, P->b[b].lo, P->b[b].hi);
    for (int c = 0; c < P->b[b].nc && !found; c++)
      for (size_t k = 0; k < R.n && !found; k++) found = region_meets(&R, &R.r[k], &P->b[b], &P->b[b].c[c]);
    regions_free(&R);
  }
  return found;
}

/* 1 if mpq v is exactly a double (then *d is it). */
static int as_double(const mpq_t v, double *d)
{
  mpq_t t;
  int ok;
  mpq_init(t);
  *d = mpq_get_d(v);
  mpq_set_d(t, *d);
  ok = mpq_equal(t, v);
  mpq_clear(t);
  return ok;
}

/* ------------------------------------------------------------ running verify */

typedef struct stats { const char *cat; int n, truth[2], ans[V_COUNT], wrong, badwit, printed; double secs; } stats;

static stats ST[8];
static int n_st, n_printed;
static vfy_opts VO;

static stats *cat_stats(const char *cat)
{
  for (int k = 0; k < n_st; k++) if (!strcmp(ST[k].cat, cat)) return &ST[k];
  assert_true(n_st < 8);
  ST[n_st].cat = cat;
  return &ST[n_st++];
}

/* 1 if verify's witness lies in P's box b and meets its conjunction c exactly. */
static int witness_ok(const tnet *N, const prop *P, const vfy_result *r)
{
  mpq_t x[MX];
  int ok;
  if (r->box >= (size_t)P->nb || r->conj >= (size_t)P->b[r->box].nc || !r->x) return 0;
  for (size_t j = 0; j < N->nx; j++) if (!isfinite(r->x[j])) return 0;
  for (int j = 0; j < MX; j++) mpq_init(x[j]);
  for (size_t j = 0; j < N->nx; j++) mpq_set_d(x[j], r->x[j]);
  ok = point_meets(N, &P->b[r->box], &P->b[r->box].c[r->conj], x);
  for (int j = 0; j < MX; j++) mpq_clear(x[j]);
  return ok;
}

/* Prints a wrong answer: one line, then in full for the first of each category. */
static void report_wrong(const tnet *N, const sbuf *B, const prop *P, stats *st, int truth, const vfy_result *r, int badwit)
{
  printf("WRONG [%s] verify: %s, exact truth: %s%s (%s)\n", P->cat, cb_verdict_table[r->answer].vnnlib,
         truth ? "sat" : "unsat", badwit ? ", witness fails in exact arithmetic" : "", r->reason);
  if (st->printed >= 2 || n_printed >= MAX_PRINT) return;
  st->printed++; n_printed++;
  if (r->answer == V_FALSIFIED && r->x) {
    printf("  witness box %zu conj %zu x =", r->box, r->conj);
    for (size_t j = 0; j < N->nx; j++) printf(" %.17g", r->x[j]);
    printf("  y(double) =");
    for (size_t j = 0; j < N->ny; j++) printf(" %.17g", r->y[j]);
    printf("\n");
  }
  printf("  net:");
  for (int l = 0; l < N->nl; l++) {
    printf(" L%d%s W =", l, N->L[l].relu ? "(relu)" : "");
    for (size_t k = 0; k < N->L[l].in * N->L[l].out; k++) printf(" %g", N->L[l].W[k] * 64);
    printf(" /64, b =");
    for (size_t k = 0; k < N->L[l].out; k++) printf(" %.17g", N->L[l].b[k]);
    printf(";");
  }
  printf("\n%s", B->s);
}

/* Runs verify on P, compares with the exact truth and tallies in P's category. */
static void run_prop(const tnet *N, const prop *P)
{
  stats *st = cat_stats(P->cat);
  vnn_spec *S = NULL;
  cb_error err = {0};
  vfy_result r;
  static sbuf B;
  int truth, bad = 0, wrong;
  prop_text(P, N->nx, N->ny, &B);
  if (vnn_parse_string(B.s, B.n, "exact.vnnlib", &S, &err)) fail_msg("%s\n%s", err.msg, B.s);
  spec_matches(P, S);
  truth = prop_truth(N, P);
  if (P->expect >= 0 && truth != P->expect) fail_msg("[%s] exact LP says %d, construction %d\n%s", P->cat, truth, P->expect, B.s);
  memset(&r, 0, sizeof r);
  if (vfy_run(N->net, S, &VO, &r, &err)) fail_msg("%s", err.msg);
  if (r.answer == V_FALSIFIED) bad = !witness_ok(N, P, &r);
  wrong = (r.answer == V_FALSIFIED && !truth) || (r.answer == V_VERIFIED && truth);
  st->n++; st->truth[truth]++; st->ans[r.answer]++; st->secs += r.seconds;
  st->wrong += wrong; st->badwit += bad && !wrong;
  if (wrong || bad) report_wrong(N, &B, P, st, truth, &r, bad);
  vfy_result_free(&r);
  vnn_free(S);
}

/* ------------------------------------------------------------ generators */

/* A random box in [-1, 1]: each side on the 1/16 or the 1/32 grid, widths up to 1/2. */
static void random_box(box *X, size_t nx)
{
  for (size_t i = 0; i < nx; i++) {
    double g = irand(0, 1) ? 16 : 32;
    X->lo[i] = irand((int)-g, (int)g / 2) / g;
    X->hi[i] = X->lo[i] + irand(1, (int)g / 2) / g;
  }
}

/* P with one box X and one conjunction of one row (a, b, strict); expected truth e. */
static prop one_row(const char *cat, const box *X, const double *a, double b, int strict, int e)
{
  prop P = {cat, 1, {*X}, e};
  P.b[0].nc = 1;
  P.b[0].c[0].m = 1;
  memset(&P.b[0].c[0].r[0], 0, sizeof(row));
  memcpy(P.b[0].c[0].r[0].a, a, MY * sizeof *a);
  P.b[0].c[0].r[0].b = b;
  P.b[0].c[0].r[0].strict = strict;
  return P;
}

/* tie: Y_0 - Y_1 = d . x + tau - S with S its extremum over the box, so its exact
   min (max) is tau; (<= Y_0 Y_1) and (< Y_0 Y_1) (or >=, >) on it. */
static void gen_tie(int nets)
{
  static const double taus[] = {0, 5 * 0x1p-60, -5 * 0x1p-60, 0x1p-53, -0x1p-53, 3 * 0x1p-70, -3 * 0x1p-70};
  for (int t = 0; t < nets; t++) {
    size_t nx = (size_t)(1 + t % 3);
    int64_t d[2] = {1, (int64_t)nx}, use_max = t % 2;
    double tau = taus[t % 7], S = 0, a[MY] = {1, -1, 0};
    cb_error err = {0};
    tnet N = {0};
    box X = {0};
    cb_node *nd;
    N.net = start(2, d);
    N.net->output = dense(N.net, 0, 2);
    nd = &N.net->node[N.net->output];
    do dyadic_params(nd, 64, 0); while (nd->p.aff.W[0] == nd->p.aff.W[nx]);
    random_box(&X, nx);
    for (size_t j = 0; j < nx; j++) {
      double dj = nd->p.aff.W[j] - nd->p.aff.W[nx + j], p = dj * X.lo[j], q = dj * X.hi[j];
      S += use_max ? fmax(p, q) : fmin(p, q);
    }
    nd->p.aff.b[0] = tau; nd->p.aff.b[1] = S;
    if (net_check(N.net, &err) != CB_OK) fail_msg("%s", err.msg);
    tnet_layers(&N);
    if (use_max) { a[0] = -1; a[1] = 1; }   /* Y_0 >= Y_1: Y_1 - Y_0 <= 0; its min is -tau */
    for (int strict = 0; strict < 2; strict++) {
      int e = use_max ? (strict ? tau > 0 : tau >= 0) : (strict ? tau < 0 : tau <= 0);
      prop P = one_row("tie", &X, a, 0, strict, e);
      run_prop(&N, &P);
    }
    cb_net_free(N.net);
  }
}

/* attained and ulp: thresholds at the exact max of Y_j (side 0) or min (side 1), and one ulp
   either way.  Returns 0 if the extremum is not a double or an ulp step is unprintable. */
static int extremum_props(const tnet *N, const box *X, size_t j, int side, const regions *R)
{
  double a[MY] = {0}, m;
  mpq_t M;
  int ok;
  a[j] = side ? -1 : 1;                       /* maximise a . y */
  mpq_init(M);
  regions_max(R, a, M);
  ok = as_double(M, &m);
  mpq_clear(M);
  if (!ok) return 0;
  a[j] = -a[j];                               /* rows: -a . y <= -t, i.e. a . y >= t */
  for (int u = -1; u <= 1; u++) {
    double t = u == 0 ? m : nextafter(m, u * INFINITY);
    if (!printable(t)) { ok = 0; continue; }
    for (int strict = 0; strict < 2; strict++) {
      int e = u < 0 || (u == 0 && !strict);   /* max m: a . y >= t holds somewhere iff t <= m (< m if strict) */
      prop P = one_row(u == 0 ? "attained" : "ulp", X, a, -t, strict, e);
      run_prop(N, &P);
    }
  }
  return ok;
}

static void gen_extrema(int nets, int *skipped)
{
  for (int t = 0; t < nets; t++) {
    tnet N = random_relu_net((size_t)(1 + t % 4));
    box X = {0};
    size_t j = (size_t)irand(0, (int)N.ny - 1);
    regions R;
    random_box(&X, N.nx);
    R = regions_build(&N, X.lo, X.hi);
    for (int side = 0; side < 2; side++) *skipped += !extremum_props(&N, &X, j, side, &R);
    regions_free(&R);
    cb_net_free(N.net);
  }
}

/* A threshold for a . y <= t given the exact range [mn, mx] of a . y: out = 0: an end of
   the range (the min: met at the argmin only) or a 1/1024-grid point in or near it; out = 1:
   a threshold no point meets (the min with a strict row, one ulp below it, or 1/64 below). */
static void pick_threshold(row *r, const mpq_t mn, const mpq_t mx, int out)
{
  double l = mpq_get_d(mn), h = mpq_get_d(mx), t;
  int pick = irand(0, 5), exact = as_double(mn, &t);
  r->strict = irand(0, 1);
  if (out && exact && pick < 2) { r->b = t; r->strict = 1; }
  else if (out && exact && pick < 4 && printable(nextafter(t, -INFINITY))) { r->b = nextafter(t, -INFINITY); r->strict = 0; }
  else if (out) r->b = floor(l * 1024) / 1024 - 1.0 / 64;
  else if (pick == 0 && exact) r->b = t;
  else if (pick == 1 && as_double(mx, &t)) r->b = t;
  else r->b = round((l + (h - l) * rnd(-0.15, 1.15)) * 1024) / 1024;
}

/* A random row on N's outputs (one output or a difference of two, either sign) with a
   threshold from its exact range over the regions R (pick_threshold). */
static row random_row(const tnet *N, const regions *R, int out)
{
  row r;
  mpq_t mx, mn;
  int j = irand(0, (int)N->ny - 1), k = irand(0, (int)N->ny - 1);
  memset(&r, 0, sizeof r);
  r.a[j] = irand(0, 1) ? 1 : -1;
  if (k != j && irand(0, 2) == 0) r.a[k] = -r.a[j];
  mpq_inits(mx, mn, NULL);
  regions_max(R, r.a, mx);
  for (int i = 0; i < MY; i++) r.a[i] = -r.a[i];
  regions_max(R, r.a, mn);
  for (int i = 0; i < MY; i++) r.a[i] = -r.a[i];
  mpq_neg(mn, mn);
  pick_threshold(&r, mn, mx, out);
  mpq_clears(mx, mn, NULL);
  return r;
}

/* A box's conjunctions: nc of them, 1-2 rows each; out: each has a row no point meets
   (so the box holds no counterexample, yet its rows may tie with the range). */
static void random_conjs(const tnet *N, box *X, int nc, int out)
{
  regions R = regions_build(N, X->lo, X->hi);
  X->nc = nc;
  for (int c = 0; c < nc; c++) {
    X->c[c].m = irand(1, 2);
    for (int r = 0; r < X->c[c].m; r++) X->c[c].r[r] = random_row(N, &R, out && r == 0);
  }
  regions_free(&R);
}

/* 1 if box b of P equals an earlier one (the parser would merge them). */
static int box_repeats(const prop *P, int b)
{
  for (int k = 0; k < b; k++)
    if (!memcmp(P->b[k].lo, P->b[b].lo, sizeof P->b[b].lo) && !memcmp(P->b[k].hi, P->b[b].hi, sizeof P->b[b].hi)) return 1;
  return 0;
}

/* dyadic / pinned / disjunct: random nets, boxes (pinned: some lo == hi) and conjunctions. */
static void gen_random(const char *cat, int count)
{
  for (int t = 0; t < count; t++) {
    tnet N = random_relu_net((size_t)irand(1, 4));
    prop P = {.cat = cat, .nb = 1, .expect = -1};
    int multi = !strcmp(cat, "disjunct"), out = multi && irand(0, 1);   /* disjunctions: half aimed at unsat */
    if (multi) P.nb = irand(1, 3);
    for (int b = 0; b < P.nb; b++) {
      do random_box(&P.b[b], N.nx); while (box_repeats(&P, b));
      if (!strcmp(cat, "pinned")) {
        int all = irand(0, 3) == 0;
        for (size_t i = 0; i < N.nx; i++) if (all || irand(0, 1)) P.b[b].hi[i] = P.b[b].lo[i];
      }
      random_conjs(&N, &P.b[b], multi ? irand(P.nb == 1 ? 2 : 1, 3) : 1, out);
    }
    run_prop(&N, &P);
    cb_net_free(N.net);
  }
}

/* known: a 4-6-1 net with k/64 weights (the output bias shifted so that the max is
   1321/2048); the max of Y_0 over the box is attained at the corner (lo0, hi1, lo2, lo3)
   only.  verify answered sat to (> Y_0 0.64501953125) with x = (-0.68749999999999956,
   -0.46875, -0.93749999999999956, -0.53125), a subdomain centre at depth 191 whose double
   forward pass gives 0.64501953125000011. */
static void gen_known(void)
{
  static const int W1[24] = {62, -61, 26, 3, 14, 21, 50, -51, -54, -1, -36, -43,
                             64, -44, -30, 23, -31, 11, -15, -8, -15, -63, -12, -26};
  static const int b1[6] = {-4, 12, 13, -2, -6, 16}, W2[6] = {2, -55, 45, 17, -43, -14};
  static const double a[MY] = {-1, 0, 0};
  size_t six = 6;
  tnet N = relu_net(4, &six, 1, 1);
  box X = {.lo = {-0.6875, -0.5625, -0.9375, -0.53125}, .hi = {-0.4375, -0.46875, -0.875, -0.34375}};
  mpq_t M, want;
  regions R;
  for (int k = 0; k < 24; k++) N.net->node[1].p.aff.W[k] = W1[k] / 64.0;
  for (int k = 0; k < 6; k++) { N.net->node[1].p.aff.b[k] = b1[k] / 64.0; N.net->node[3].p.aff.W[k] = W2[k] / 64.0; }
  N.net->node[3].p.aff.b[0] = 0.04282379150390625;
  mpq_inits(M, want, NULL);
  R = regions_build(&N, X.lo, X.hi);
  regions_max(&R, (double[MY]){1, 0, 0}, M);
  mpq_set_ui(want, 1321, 2048);
  assert_true(mpq_equal(M, want));
  for (int strict = 0; strict < 2; strict++) {
    prop P = one_row("known", &X, a, -1321.0 / 2048, strict, !strict);
    run_prop(&N, &P);
  }
  regions_free(&R);
  mpq_clears(M, want, NULL);
  cb_net_free(N.net);
}

/* ------------------------------------------------------------ tests */

static int setup(void **state) { (void)state; lpws_init(); return 0; }
static int teardown(void **state) { (void)state; lpws_clear(); return 0; }

static void print_stats(void)
{
  stats all = {.cat = "all"};
  printf("%-9s %5s %9s | %5s %5s %7s %7s %5s | %5s %6s %7s\n", "category", "props", "sat/unsat",
         "unsat", "sat", "timeout", "unknown", "error", "wrong", "badwit", "seconds");
  for (int k = 0; k <= n_st; k++) {
    stats *s = k < n_st ? &ST[k] : &all;
    if (k < n_st) {
      all.n += s->n; all.wrong += s->wrong; all.badwit += s->badwit; all.secs += s->secs;
      for (int i = 0; i < 2; i++) all.truth[i] += s->truth[i];
      for (int i = 0; i < V_COUNT; i++) all.ans[i] += s->ans[i];
    }
    printf("%-9s %5d %4d/%-4d | %5d %5d %7d %7d %5d | %5d %6d %7.2f\n", s->cat, s->n, s->truth[1], s->truth[0],
           s->ans[V_VERIFIED], s->ans[V_FALSIFIED], s->ans[V_TIMEOUT], s->ans[V_UNKNOWN], s->ans[V_ERROR],
           s->wrong, s->badwit, s->secs);
  }
}

/* A sampled point of X: a corner for k < 2^nx, else uniform (any double: exact arithmetic). */
static void sample_point(const box *X, size_t nx, int k, mpq_t *x)
{
  for (size_t i = 0; i < nx; i++) {
    double v = k < (1 << nx) ? ((k >> i) & 1 ? X->hi[i] : X->lo[i]) : rnd(X->lo[i], X->hi[i]);
    mpq_set_d(x[i], fmin(fmax(v, X->lo[i]), X->hi[i]));
  }
}

/* The exact LP against sampling on random nets and properties: a sampled point meeting a
   conjunction means truth sat; no sampled a . y exceeds the exact maximum.  And a hand
   case: y = relu(x) on [-1, 1] has max 1, min 0. */
static void test_lp_sampled(void **state)
{
  int sat = 0, sampled_sat = 0;
  (void)state;
  seed = 61;
  for (int t = 0; t < 40; t++) {
    tnet N = random_relu_net((size_t)irand(1, 4));
    prop P = {.cat = "sampled", .nb = 1, .expect = -1};
    mpq_t x[MX], y[MY], M, s, v;
    double a[MY] = {0};
    int truth, hit = 0;
    regions R;
    random_box(&P.b[0], N.nx);
    if (t % 4 == 3) P.b[0].hi[0] = P.b[0].lo[0];
    random_conjs(&N, &P.b[0], irand(1, 3), t % 3 == 0);
    truth = prop_truth(&N, &P);
    for (int j = 0; j < MX; j++) mpq_init(x[j]);
    for (int j = 0; j < MY; j++) mpq_init(y[j]);
    mpq_inits(M, s, v, NULL);
    a[irand(0, (int)N.ny - 1)] = irand(0, 1) ? 1 : -1;
    R = regions_build(&N, P.b[0].lo, P.b[0].hi);
    regions_max(&R, a, M);
    for (int k = 0; k < 600; k++) {
      sample_point(&P.b[0], N.nx, k, x);
      exact_forward(&N, x, y);
      for (int c = 0; c < P.b[0].nc; c++) hit |= meets_exact(&P.b[0].c[c], y, N.ny);
      mpq_set_ui(s, 0, 1);
      for (size_t j = 0; j < N.ny; j++) { mpq_set_d(v, a[j]); mpq_mul(v, v, y[j]); mpq_add(s, s, v); }
      assert_true(mpq_cmp(s, M) <= 0);
    }
    if (hit && !truth) fail_msg("net %d: a sampled point meets the property, the exact LP says unsat", t);
    sat += truth; sampled_sat += hit;
    regions_free(&R);
    for (int j = 0; j < MX; j++) mpq_clear(x[j]);
    for (int j = 0; j < MY; j++) mpq_clear(y[j]);
    mpq_clears(M, s, v, NULL);
    cb_net_free(N.net);
  }
  printf("exact LP: %d of 40 random properties sat (%d found by sampling too)\n", sat, sampled_sat);
}

/* By hand: y = relu(x) on [-1, 1] has 2 regions, max 1, min 0; y >= 1 holds, y > 1 not. */
static void test_lp_hand(void **state)
{
  size_t one = 1;
  tnet N = relu_net(1, &one, 1, 1);
  box X = {.lo = {-1}, .hi = {1}};
  double up[MY] = {1}, dn[MY] = {-1};
  mpq_t M;
  regions R;
  (void)state;
  N.net->node[1].p.aff.W[0] = 1; N.net->node[1].p.aff.b[0] = 0;
  N.net->node[3].p.aff.W[0] = 1; N.net->node[3].p.aff.b[0] = 0;
  mpq_init(M);
  R = regions_build(&N, X.lo, X.hi);
  assert_int_equal(R.n, 2);
  regions_max(&R, up, M);
  assert_true(mpq_cmp_si(M, 1, 1) == 0);
  regions_max(&R, dn, M);
  assert_true(mpq_sgn(M) == 0);
  for (int strict = 0; strict < 2; strict++) {
    prop P = one_row("hand", &X, dn, -1, strict, -1);
    assert_int_equal(prop_truth(&N, &P), !strict);
  }
  regions_free(&R);
  mpq_clear(M);
  cb_net_free(N.net);
}

static void test_verify_exact(void **state)
{
  int skipped = 0, wrong = 0, bad = 0, total = 0;
  (void)state;
  seed = 16;
  vfy_opts_init(&VO);
  VO.timeout = 2;
  VO.threads = 1;
  VO.max_nodes = 1500;
  gen_tie(42);
  gen_extrema(14, &skipped);
  gen_random("dyadic", 40);
  gen_random("pinned", 30);
  gen_random("disjunct", 30);
  gen_known();
  print_stats();
  printf("(%d extrema were not doubles: skipped)\n", skipped);
  for (int k = 0; k < n_st; k++) {
    wrong += ST[k].wrong; bad += ST[k].badwit; total += ST[k].n;
    assert_true(ST[k].n >= (strcmp(ST[k].cat, "known") ? 20 : 2));
    assert_true(ST[k].truth[0] > 0 && ST[k].truth[1] > 0);
  }
  assert_true(total >= 200);
  fflush(stdout);
  if (wrong || bad)
    fail_msg("%d wrong answers (sat on unsat or unsat on sat) and %d sat witnesses of sat properties "
             "that fail in exact arithmetic: see the WRONG lines", wrong, bad);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_lp_hand),
    cmocka_unit_test(test_lp_sampled),
    cmocka_unit_test(test_verify_exact),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
