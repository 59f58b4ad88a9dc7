/*
** The exact proof checker (proofchk.h; the format: docs/proof-format.md).
**
** Numbers are dyadic rationals m 2^e (mpz_t m, long e), as in exact.c: every
** double is one and sums, products and comparisons are exact.  Per leaf:
**   1. node bounds, in order: the leaf box at the input; an AFFINE or SCALE
**      node's exact interval image of its input's box, rounded outward to
**      doubles; a ReLU node relu([l, u]); then, for a node that feeds a
**      ReLU, the leaf's split constraints (u := min(u, 0) or l := max(l, 0);
**      l > u: the region is empty and the leaf holds) and, for each entry of
**      unknown sign, CROWN's lower bounds of +e_j and -e_j (step 2),
**      intersected;
**   2. CROWN back-substitution of a row c over node s: min c . v(s) >=
**      const + ..., through each node down to the input:
**        AFFINE y = W x + b:  const += c . b, c := W^T c, exact; then c is
**          rounded to doubles c' and the residual (c - c') . x is bounded by
**          its exact minimum over x's box (keeps the numbers short);
**        SCALE y = a x + b:   const += c . b, c := a c;
**        ReLU y = max(x, 0) on x in [l, u], l < 0 < u (Zhang et al. 2018):
**          c_j > 0: y >= a x with a = 1 if u > -l else 0;
**          c_j < 0: y <= s x + t, s = fl(u / (u - l)), t = max(-s l, u - s u)
**          (exact): the line lies above relu at l and at u, so on [l, u];
**        input: const += sum_j min(c_j lo_j, c_j hi_j).
**      Every line is valid by construction on the bounds this file
**      computed, so nothing of the proof enters a bound but its box, its
**      splits and its multipliers;
**   3. per conjunction A y <= b: g = sum_r lam_r A_r and r = sum_r lam_r
**      b_up_r exactly (lam_r >= 0 finite, as read); refuted iff the exact
**      lower bound of g . y (step 2 from the output) exceeds r: then no y
**      of the leaf has A y <= b (b <= b_up), strict rows included.
** Version 3 (inject, tighten_node): the proof's multipliers mu >= 0 of the
** path's split terms t_s <= 0 are added to a row when back_lower reaches
** their node, which only lowers it on the region: a `tighten` bound of a
** ReLU input is used once step 2 re-derives it, a `beta` line joins step 3.
** GMP allocates with malloc and aborts on failure (as in exact.c).
*/
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gmp.h>
#include "dyadic.h"
#include <openssl/evp.h>
#include "proofchk.h"


static void dy_zero(dy *a) { mpz_set_ui(a->m, 0); a->e = 0; }

/* A finite double as (integer mantissa, exponent): d = m 2^e exactly. */
typedef struct dd { long m; long e; } dd;
static dd dd_of(double d)
{
  int k;
  dd r;
  double f = frexp(d, &k);
  r.m = (long)ldexp(f, 53);
  r.e = r.m ? (long)k - 53 : 0;
  while (r.m && !(r.m & 1)) { r.m /= 2; r.e++; }
  return r;
}

static void dy_set_dd(dy *r, dd d) { mpz_set_si(r->m, d.m); r->e = d.e; }
static void dy_set_d(dy *r, double d) { dy_set_dd(r, dd_of(d)); }

/* r = a + b (r may alias either); t is scratch. */

/* acc += a * w, p and t scratch. */
static void dy_addmul(dy *acc, const dy *a, dd w, dy *p, mpz_t t)
{
  if (!w.m || !mpz_sgn(a->m)) return;
  mpz_mul_si(p->m, a->m, w.m);
  p->e = a->e + w.e;
  dy_add(acc, acc, p, t);
}

static void dy_mul_dd(dy *r, const dy *a, dd w)
{
  mpz_mul_si(r->m, a->m, w.m);
  r->e = mpz_sgn(r->m) ? a->e + w.e : 0;
}


/* A double near a (truncated); +-HUGE_VAL or 0 far outside the doubles. */
static double dy_approx(const dy *a)
{
  long k;
  double f;
  if (!mpz_sgn(a->m)) return 0;
  f = mpz_get_d_2exp(&k, a->m);
  k += a->e;
  return k > 2000 ? copysign(HUGE_VAL, f) : k < -2000 ? 0 : ldexp(f, (int)k);
}

/* The double next to a: <= a (up = 0) or >= a (up = 1); +-inf beyond. */
static double dy_round(const dy *a, int up, dy *p, mpz_t t)
{
  double d = dy_approx(a);
  for (int i = 0; i < 4; i++) {
    int c;
    if (isinf(d)) return d;
    dy_set_d(p, d);
    c = dy_cmp(a, p, t);
    if (up ? c <= 0 : c >= 0) return d;
    d = nextafter(d, up ? HUGE_VAL : -HUGE_VAL);
  }
  return up ? HUGE_VAL : -HUGE_VAL;
}

/* ---- the checker's state ---- */

typedef __int128 i128;     /* GCC and clang: back-substitution sums, exact (see grid_of) */

typedef struct pnode {    /* one node, parameters split into mantissas once */
  dd *W, *b;              /* AFFINE: out x in, out; SCALE: a, b (size each) */
  size_t in, out;
  int64_t *Wi;            /* W (SCALE: a) on the grid 2^F: W = Wi 2^F exactly, |Wi| < 2^wbits */
  long F;
  size_t ns, *so, *sj;    /* entries off that grid (tiny next to the largest): bounded one by one */
  int64_t *bi;            /* AFFINE: the biases on their grid 2^Fb (0: off it, added exactly) */
  long Fb;
  signed char *sign;      /* a node feeding a ReLU: the leaf's split per entry (0: none) */
  /* per leaf, made at first use once the node's bounds are final (see lo_grid, relu_table): */
  int64_t *L;             /* lo_j rounded down to the grid 2^H (|L_j| <= 2^41) */
  long H;
  int64_t *S, *T;         /* ReLU node: upper slope S_j 2^-30 and intercept t_j <= T_j 2^Gt (T_j < 2^62) */
  long Gt;
  int lo_ok, tab_ok;
} pnode;

struct pchk {
  const cb_net *net;
  const vnn_spec *spec;
  pnode *pn;
  double **lo, **hi;      /* per node: bounds on the current leaf */
  dy *c0, *c1;            /* exact rows (the output's combined row), max node size each */
  int64_t *ci;            /* the back-substitution row: ci 2^E, |ci| <= 2^53 */
  i128 *v;                /* its next value before renormalising */
  long E;
  size_t maxn;
  dy acc, acc2, p;
  mpz_t t;
  const pchk_split *sp;   /* version 3: the leaf's splits; inj their multipliers in back_lower (NULL: none) */
  size_t ns, ntt;
  const double *inj;
  const pchk_tighten *tt;
  char *why;
  size_t nwhy;
};

static int node_ok(const cb_node *nd, int i)
{
  if (i == 0) return nd->kind == CB_INPUT;
  if (nd->n_in != 1 || nd->in[0] != i - 1) return 0;
  if (!nd->exact && nd->rel_err > 0) return 0;
  switch (nd->kind) {
  case CB_AFFINE: case CB_SCALE: case CB_RESHAPE: return 1;
  case CB_ACT: return node_is_act(nd, CB_ACT_RELU);
  default: return 0;
  }
}

static dd *dd_array(const double *v, size_t n, int *ok)
{
  dd *r = cb_calloc(n ? n : 1, sizeof *r);
  if (!r) return NULL;
  for (size_t k = 0; k < n; k++) {
    double x = v ? v[k] : 0;
    if (!isfinite(x)) *ok = 0;
    r[k] = dd_of(isfinite(x) ? x : 0);
  }
  return r;
}

/* The fixed-point grid of a weight array: F so that every entry whose
   lowest set bit is >= F is Wi 2^F with |Wi| < 2^wbits, wbits leaving room
   for sums of n products with 54-bit rows in 126 bits; the other entries
   (at least 2^(wbits - 54) times smaller than the largest) go to the
   sparse list, bounded one by one (exactly) during back-substitution. */
static int grid_of(pnode *q, const dd *W, size_t n, size_t nsum)
{
  long top = LONG_MIN, wbits = 62, lg = 0;
  size_t ns = 0;
  while (((size_t)1 << lg) < nsum + 1) lg++;
  if (126 - 55 - lg < wbits) wbits = 126 - 55 - lg;
  for (size_t k = 0; k < n; k++) if (W[k].m) {
    long t = W[k].e + 64 - __builtin_clzl((unsigned long)labs(W[k].m));
    if (t > top) top = t;
  }
  q->F = top == LONG_MIN ? 0 : top - wbits;
  if (!(q->Wi = cb_calloc(n ? n : 1, sizeof *q->Wi))) return CB_ENOMEM;
  for (size_t k = 0; k < n; k++) {
    if (!W[k].m) continue;
    if (W[k].e >= q->F) q->Wi[k] = W[k].m * (1L << (W[k].e - q->F)); else ns++;
  }
  q->so = cb_alloc((ns + 1) * sizeof *q->so);
  q->sj = cb_alloc((ns + 1) * sizeof *q->sj);
  if (!q->so || !q->sj) return CB_ENOMEM;
  for (size_t k = 0; k < n; k++) if (W[k].m && W[k].e < q->F) { q->so[q->ns] = k; q->sj[q->ns++] = k; }
  return CB_OK;
}

/* The biases on a grid 2^Fb with |bi| < 2^60 (sums of out products with
   54-bit rows stay in 126 bits for out < 2^12; larger layers add the
   biases one by one); entries below the grid stay 0 (added exactly). */
static int bias_grid(pnode *q)
{
  long top = LONG_MIN;
  if (!(q->bi = cb_calloc(q->out + 1, sizeof *q->bi))) return CB_ENOMEM;
  if (q->out >= 4096) return CB_OK;
  for (size_t o = 0; o < q->out; o++) if (q->b[o].m) {
    long t = q->b[o].e + 64 - __builtin_clzl((unsigned long)labs(q->b[o].m));
    if (t > top) top = t;
  }
  q->Fb = top == LONG_MIN ? 0 : top - 60;
  for (size_t o = 0; o < q->out; o++)
    if (q->b[o].m && q->b[o].e >= q->Fb) q->bi[o] = q->b[o].m * (1L << (q->b[o].e - q->Fb));
  return CB_OK;
}

static int prep_node(pchk *P, int i)
{
  const cb_node *nd = &P->net->node[i];
  pnode *q = &P->pn[i];
  int ok = 1;
  if (nd->kind == CB_AFFINE) {
    q->in = nd->p.aff.in; q->out = nd->p.aff.out;
    if (!(q->W = dd_array(nd->p.aff.W, q->in * q->out, &ok)) || !(q->b = dd_array(nd->p.aff.b, q->out, &ok))) return CB_ENOMEM;
    if (grid_of(q, q->W, q->in * q->out, q->in > q->out ? q->in : q->out) != CB_OK) return CB_ENOMEM;
    if (bias_grid(q) != CB_OK) return CB_ENOMEM;
  } else if (nd->kind == CB_SCALE) {
    q->in = q->out = nd->size;
    if (!(q->W = dd_array(nd->p.scale.a, nd->size, &ok)) || !(q->b = dd_array(nd->p.scale.b, nd->size, &ok))) return CB_ENOMEM;
    if (grid_of(q, q->W, nd->size, 1) != CB_OK) return CB_ENOMEM;
  }
  if (i + 1 < P->net->n && P->net->node[i + 1].kind == CB_ACT && !(q->sign = cb_calloc(nd->size + 1, 1))) return CB_ENOMEM;
  if (!(q->L = cb_calloc(nd->size + 1, sizeof *q->L))) return CB_ENOMEM;
  if (nd->kind == CB_ACT && (!(q->S = cb_calloc(nd->size + 1, sizeof *q->S)) || !(q->T = cb_calloc(nd->size + 1, sizeof *q->T))))
    return CB_ENOMEM;
  if (!(P->lo[i] = cb_alloc((nd->size + 1) * sizeof(double))) || !(P->hi[i] = cb_alloc((nd->size + 1) * sizeof(double)))) return CB_ENOMEM;
  if (nd->size > P->maxn) P->maxn = nd->size;
  return ok ? CB_OK : CB_EVALUE;
}

int pchk_new(const cb_net *net, const vnn_spec *spec, pchk **out, cb_error *err)
{
  pchk *P;
  int rc = CB_OK;
  *out = NULL;
  for (int i = 0; i < net->n; i++)
    if (!node_ok(&net->node[i], i))
      return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\" (%s): the proof checker takes chains of AFFINE, SCALE, "
                          "RESHAPE and ReLU nodes with exact parameters", net->path, net->node[i].name, node_kind_name(&net->node[i]));
  if (net->output != net->n - 1) return cb_error_set(err, CB_EUNSUP, "%s: the output is not the last node", net->path);
  if (spec->nx != net->node[0].size || spec->ny != net->node[net->output].size)
    return cb_error_set(err, CB_EVALUE, "%s: %zu inputs and %zu outputs, the network %zu and %zu", spec->path, spec->nx, spec->ny,
                        net->node[0].size, net->node[net->output].size);
  if (!(P = cb_calloc(1, sizeof *P))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  P->net = net; P->spec = spec;
  mpz_init(P->t); dy_init(&P->acc); dy_init(&P->acc2); dy_init(&P->p);
  P->pn = cb_calloc((size_t)net->n, sizeof *P->pn);
  P->lo = cb_calloc((size_t)net->n, sizeof *P->lo);
  P->hi = cb_calloc((size_t)net->n, sizeof *P->hi);
  if (!P->pn || !P->lo || !P->hi) rc = CB_ENOMEM;
  for (int i = 0; i < net->n && rc == CB_OK; i++) rc = prep_node(P, i);
  if (rc == CB_OK && spec->ny > P->maxn) P->maxn = spec->ny;
  if (rc == CB_OK && (!(P->c0 = cb_calloc(P->maxn, sizeof *P->c0)) || !(P->c1 = cb_calloc(P->maxn, sizeof *P->c1)))) rc = CB_ENOMEM;
  if (rc == CB_OK) for (size_t k = 0; k < P->maxn; k++) { dy_init(&P->c0[k]); dy_init(&P->c1[k]); }
  if (rc == CB_OK && (!(P->ci = cb_calloc(P->maxn, sizeof *P->ci)) || !(P->v = cb_calloc(P->maxn, sizeof *P->v)))) rc = CB_ENOMEM;
  if (rc != CB_OK) {
    if (P->c0 && !P->c1) { cb_free(P->c0); P->c0 = NULL; }
    pchk_free(P);
    return rc == CB_EVALUE ? cb_error_set(err, rc, "%s: a parameter is not finite", net->path)
                           : cb_error_set(err, rc, "out of memory");
  }
  *out = P;
  return CB_OK;
}

void pchk_free(pchk *P)
{
  if (!P) return;
  for (int i = 0; P->pn && i < P->net->n; i++) {
    cb_free(P->pn[i].W); cb_free(P->pn[i].b); cb_free(P->pn[i].sign);
    cb_free(P->pn[i].Wi); cb_free(P->pn[i].so); cb_free(P->pn[i].sj); cb_free(P->pn[i].bi);
    cb_free(P->pn[i].L); cb_free(P->pn[i].S); cb_free(P->pn[i].T);
    if (P->lo) cb_free(P->lo[i]);
    if (P->hi) cb_free(P->hi[i]);
  }
  if (P->c0 && P->c1) for (size_t k = 0; k < P->maxn; k++) { dy_clear(&P->c0[k]); dy_clear(&P->c1[k]); }
  cb_free(P->c0); cb_free(P->c1); cb_free(P->ci); cb_free(P->v);
  cb_free(P->pn); cb_free(P->lo); cb_free(P->hi);
  mpz_clear(P->t); dy_clear(&P->acc); dy_clear(&P->acc2); dy_clear(&P->p);
  cb_free(P);
}

/* ---- step 2: back-substitution, in fixed point ----
** The row is ci 2^E with |ci| <= 2^53 (int64); a node's step makes exact
** 128-bit integers v 2^G (products of ci with the grid weights Wi 2^F, or
** with ReLU slopes S 2^-30), and renorm() keeps their top 53 bits: v =
** q 2^s + r with 0 <= r < 2^s, the row becomes q 2^(G+s) and r 2^G . x
** >= r 2^G lo goes into the constant, exactly (mpz). */

/* cst += a 2^e (a a 128-bit integer). */
static void add_i128(pchk *P, dy *cst, i128 a, long e)
{
  int neg = a < 0;
  unsigned __int128 u = neg ? -(unsigned __int128)a : (unsigned __int128)a;
  mpz_set_ui(P->p.m, (unsigned long)(u >> 64));
  mpz_mul_2exp(P->p.m, P->p.m, 64);
  mpz_add_ui(P->p.m, P->p.m, (unsigned long)u);
  if (neg) mpz_neg(P->p.m, P->p.m);
  P->p.e = e;
  dy_add(cst, cst, &P->p, P->t);
}

/* cst += c 2^e * w for an int64 c and a double w, exactly. */
static void add_cw(pchk *P, dy *cst, int64_t c, long e, dd w)
{
  if (!c || !w.m) return;
  mpz_set_si(P->p.m, c);
  mpz_mul_si(P->p.m, P->p.m, w.m);
  P->p.e = e + w.e;
  dy_add(cst, cst, &P->p, P->t);
}

/* cst += c 2^e * w * x for an int64 c and doubles w, x, exactly. */
static void add_cwx(pchk *P, dy *cst, int64_t c, long e, dd w, double x)
{
  dd d = dd_of(x);
  if (!c || !w.m || !d.m) return;
  mpz_set_si(P->p.m, c);
  mpz_mul_si(P->p.m, P->p.m, w.m);
  mpz_mul_si(P->p.m, P->p.m, d.m);
  P->p.e = e + w.e + d.e;
  dy_add(cst, cst, &P->p, P->t);
}

static int bits128(i128 a)
{
  unsigned __int128 u = a < 0 ? -(unsigned __int128)a : (unsigned __int128)a;
  unsigned long h = (unsigned long)(u >> 64), l = (unsigned long)u;
  return h ? 128 - __builtin_clzl(h) : l ? 64 - __builtin_clzl(l) : 0;
}

/* Node k's lower bounds on the grid 2^H, rounded down: L_j 2^H <= lo_j,
   |L_j| <= 2^41 (H 40 bits below the largest |lo_j|). */
static void lo_grid(pchk *P, int k)
{
  pnode *q = &P->pn[k];
  const double *lo = P->lo[k];
  size_t n = P->net->node[k].size;
  int top = INT_MIN, e;
  for (size_t j = 0; j < n; j++) if (lo[j] < 0) { frexp(lo[j], &e); if (e > top) top = e; }
  q->H = top == INT_MIN ? 0 : (long)top - 40;
  for (size_t j = 0; j < n; j++) {
    q->L[j] = lo[j] < 0 ? (int64_t)floor(ldexp(lo[j], (int)-q->H)) : 0;
    if (lo[j] < 0 && q->L[j] == 0) q->L[j] = -1;     /* ldexp into the subnormals may round to -0: floor is <= -1 */
  }
  q->lo_ok = 1;
}

/* P->v (n entries, 2^G) over node k's box [lo, hi] -> P->ci 2^E, residual to
   cst: v_j = q 2^s + r, q = floor (r >= 0) when lo_j >= 0 and ceil (r <= 0)
   when hi_j <= 0, so that r x_j >= 0 on the box and is dropped; an entry
   whose box holds 0 inside adds r 2^G lo_j (floor) >= r 2^G L_j 2^H: these
   terms (each <= 0, |r| < 2^74, |L_j| <= 2^41) are summed in 128 bits for
   n < 4096 entries, else added one by one exactly. */
static void renorm(pchk *P, size_t n, long G, int k, dy *cst)
{
  const double *lo = P->lo[k], *hi = P->hi[k];
  pnode *nk = &P->pn[k];
  int B, sh, small = n < 4096;
  i128 all = 0, res = 0;
  for (size_t j = 0; j < n; j++) all |= P->v[j] < 0 ? -P->v[j] : P->v[j];   /* |v_j| < 2^127: no overflow */
  B = bits128(all);
  sh = B > 53 ? B - 53 : 0;
  for (size_t j = 0; j < n; j++) {
    i128 q, r;
    if (!P->v[j]) { P->ci[j] = 0; continue; }
    q = P->v[j] >= 0 ? P->v[j] >> sh : -((-P->v[j] - 1) >> sh) - 1;   /* floor(v / 2^s), no shift of a negative */
    r = P->v[j] - q * ((i128)1 << sh);
    if (r && hi[j] <= 0) { q += 1; r = 0; }           /* ceil: r - 2^s <= 0 */
    else if (r && lo[j] < 0 && small) {
      if (!nk->lo_ok) lo_grid(P, k);
      res += r * (i128)nk->L[j];
    } else if (r && lo[j] < 0) {
      dd l = dd_of(lo[j]);
      dy_zero(&P->acc2);
      add_i128(P, &P->acc2, r, 0);
      mpz_mul_si(P->acc2.m, P->acc2.m, l.m);
      P->acc2.e += G + l.e;
      dy_add(cst, cst, &P->acc2, P->t);
      dy_zero(&P->acc2);
    }
    P->ci[j] = (int64_t)q;
  }
  if (res) add_i128(P, cst, res, G + nk->H);
  P->E = G + sh;
}

/* AFFINE node i: cst += c . b; v = W^T c on the grid; entries off the grid
   bounded alone over x's box; renormalised over node i-1's box. */
static void back_affine(pchk *P, int i, dy *cst)
{
  const pnode *q = &P->pn[i];
  const double *lo = P->lo[i - 1], *hi = P->hi[i - 1];
  for (size_t j = 0; j < q->in; j++) P->v[j] = 0;
  i128 bsum = 0;
  for (size_t o = 0; o < q->out; o++) {
    int64_t c = P->ci[o];
    const int64_t *w = q->Wi + o * q->in;
    if (!c) continue;
    if (q->bi[o] || !q->b[o].m) bsum += (i128)c * q->bi[o]; else add_cw(P, cst, c, P->E, q->b[o]);
    for (size_t j = 0; j < q->in; j++) P->v[j] += (i128)c * w[j];
  }
  if (bsum) add_i128(P, cst, bsum, P->E + q->Fb);
  for (size_t k = 0; k < q->ns; k++) {
    size_t o = q->so[k] / q->in, j = q->so[k] % q->in;
    int64_t c = P->ci[o];
    dd w = q->W[q->so[k]];
    if (c) add_cwx(P, cst, c, P->E, w, (c > 0) == (w.m > 0) ? lo[j] : hi[j]);
  }
  renorm(P, q->in, P->E + q->F, i - 1, cst);
}

/* SCALE node i: y = a x + b elementwise, the same on its diagonal grid. */
static void back_scale(pchk *P, int i, dy *cst)
{
  const pnode *q = &P->pn[i];
  const double *lo = P->lo[i - 1], *hi = P->hi[i - 1];
  for (size_t k = 0; k < q->out; k++) {
    add_cw(P, cst, P->ci[k], P->E, q->b[k]);
    P->v[k] = (i128)P->ci[k] * q->Wi[k];
  }
  for (size_t k = 0; k < q->ns; k++) {
    size_t j = q->so[k];
    int64_t c = P->ci[j];
    dd w = q->W[j];
    if (c) add_cwx(P, cst, c, P->E, w, (c > 0) == (w.m > 0) ? lo[j] : hi[j]);
  }
  renorm(P, q->out, P->E + q->F, i - 1, cst);
}

/* ReLU node i's upper lines over node i-1's box [l, u], l < 0 < u (the
   lines of the header): slope S_j 2^-30, S_j = floor(2^30 u / (u - l)) in
   [0, 2^30], and intercept t_j = max(-s l, u - s u) >= 0 computed exactly,
   then rounded up to T_j 2^Gt (62 bits below the largest): the line
   y <= s x + T_j 2^Gt lies above y <= s x + t_j, so it is valid too. */
static void relu_table(pchk *P, int i)
{
  pnode *q = &P->pn[i];
  const double *l = P->lo[i - 1], *u = P->hi[i - 1];
  size_t n = P->net->node[i].size;
  long top = LONG_MIN;
  dy *t = P->c1;          /* scratch: the exact intercepts (c1 holds maxn dyadics, unused here) */
  dy w;
  dy_init(&w);
  for (size_t j = 0; j < n; j++) {
    dy_zero(&t[j]);
    q->S[j] = 0;
    if (!(l[j] < 0 && u[j] > 0)) continue;
    {
      double sl = floor(ldexp(u[j] / (u[j] - l[j]), 30));
      int64_t S = sl >= 0 && sl <= 1073741824.0 ? (int64_t)sl : 1073741824;
      dd sd = {S, -30};
      q->S[j] = S;
      dy_set_d(&t[j], l[j]);
      dy_mul_dd(&t[j], &t[j], sd);
      mpz_neg(t[j].m, t[j].m);                        /* -s l */
      dy_set_d(&P->p, u[j]);
      dy_mul_dd(&P->p, &P->p, sd);
      mpz_neg(P->p.m, P->p.m);
      dy_set_d(&w, u[j]);
      dy_add(&w, &w, &P->p, P->t);                    /* u - s u */
      if (dy_cmp(&w, &t[j], P->t) > 0) dy_set(&t[j], &w);
      if (mpz_sgn(t[j].m)) {
        long b = t[j].e + (long)mpz_sizeinbase(t[j].m, 2);
        if (b > top) top = b;
      }
    }
  }
  q->Gt = top == LONG_MIN ? 0 : top - 62;
  for (size_t j = 0; j < n; j++) {
    q->T[j] = 0;
    if (!mpz_sgn(t[j].m)) continue;
    if (t[j].e >= q->Gt) mpz_mul_2exp(P->t, t[j].m, (mp_bitcnt_t)(t[j].e - q->Gt));
    else mpz_cdiv_q_2exp(P->t, t[j].m, (mp_bitcnt_t)(q->Gt - t[j].e));   /* rounded up */
    q->T[j] = mpz_get_si(P->t);
  }
  dy_clear(&w);
  q->tab_ok = 1;
}

/* ReLU node i over node i-1's box [l, u]: lower line y >= a x (a = 1 if
   u > -l else 0) for c_j > 0, the upper line of relu_table for c_j < 0
   (c_j T_j summed in 128 bits: each <= 0, |c_j T_j| < 2^115, fewer than
   4096 entries; else one by one). */
static void back_relu(pchk *P, int i, dy *cst)
{
  const double *l = P->lo[i - 1], *u = P->hi[i - 1];
  pnode *q = &P->pn[i];
  size_t n = P->net->node[i].size;
  i128 tsum = 0;
  for (size_t j = 0; j < n; j++) {
    int64_t c = P->ci[j];
    if (!c || u[j] <= 0) { P->v[j] = 0; continue; }
    if (l[j] >= 0 || (c > 0 && u[j] > -l[j])) { P->v[j] = (i128)c * ((i128)1 << 30); continue; }
    if (c > 0) { P->v[j] = 0; continue; }
    if (!q->tab_ok) relu_table(P, i);
    P->v[j] = (i128)c * q->S[j];
    if (n < 4096) tsum += (i128)c * q->T[j];
    else add_i128(P, cst, (i128)c * q->T[j], P->E + q->Gt);
  }
  if (tsum) add_i128(P, cst, tsum, P->E + q->Gt);
  renorm(P, n, P->E - 30, i - 1, cst);
}

static void row_from_exact(pchk *P, int o, dy *cst);

/* Version 3: adds the split terms at node i, sum_s inj_s t_s with t_s =
   -sign_s v_s(i) <= 0 on the region, to the row (made exact, then put back
   on the grid: the residual's bound goes to cst). */
static void inject(pchk *P, int i, dy *cst)
{
  size_t n = P->net->node[i].size, s;
  dy r;
  for (s = 0; s < P->ns && !(P->sp[s].node - 1 == i && P->inj[s] != 0); s++) {}
  if (s == P->ns) return;
  for (size_t j = 0; j < n; j++) { mpz_set_si(P->c0[j].m, P->ci[j]); P->c0[j].e = P->E; }
  for (; s < P->ns; s++)
    if (P->sp[s].node - 1 == i && P->inj[s] != 0) {
      dy_set_d(&P->acc2, P->sp[s].sign > 0 ? -P->inj[s] : P->inj[s]);
      dy_add(&P->c0[P->sp[s].idx], &P->c0[P->sp[s].idx], &P->acc2, P->t);
    }
  dy_init(&r);
  row_from_exact(P, i, &r);
  dy_add(cst, cst, &r, P->t);
  dy_clear(&r);
}

/* *cst = a lower bound of (P->ci 2^P->E) . v(s) (plus P->inj's split terms) over the leaf. */
static void back_lower(pchk *P, int s, dy *cst)
{
  const double *lo = P->lo[0], *hi = P->hi[0];
  dy_zero(cst);
  dy_zero(&P->acc2);
  for (int i = s; i >= 0; i--) {
    if (P->inj) inject(P, i, cst);
    if (!i) break;
    switch (P->net->node[i].kind) {
    case CB_AFFINE: back_affine(P, i, cst); break;
    case CB_SCALE: back_scale(P, i, cst); break;
    case CB_ACT: back_relu(P, i, cst); break;
    default: break;   /* RESHAPE: the same entries */
    }
  }
  for (size_t k = 0; k < P->net->node[0].size; k++)
    if (P->ci[k]) add_cw(P, cst, P->ci[k], P->E, dd_of(P->ci[k] > 0 ? lo[k] : hi[k]));
}

/* The exact row g (P->c0, node `o`'s size) on the fixed-point grid: its
   rounding residual bounded over node o's box into cst. */
static void row_from_exact(pchk *P, int o, dy *cst)
{
  size_t n = P->net->node[o].size;
  long emin = LONG_MAX, top = LONG_MIN;
  for (size_t j = 0; j < n; j++) if (mpz_sgn(P->c0[j].m)) {
    long t = P->c0[j].e + (long)mpz_sizeinbase(P->c0[j].m, 2);
    if (t > top) top = t;
    if (P->c0[j].e < emin) emin = P->c0[j].e;
  }
  dy_zero(cst);
  if (top == LONG_MIN) { for (size_t j = 0; j < n; j++) P->ci[j] = 0; P->E = 0; return; }
  P->E = top - 53;
  for (size_t j = 0; j < n; j++) {
    dy *g = &P->c0[j];
    /* q = floor(g / 2^E), r = g - q 2^E >= 0 */
    if (g->e >= P->E) mpz_mul_2exp(P->t, g->m, (mp_bitcnt_t)(g->e - P->E));
    else mpz_fdiv_q_2exp(P->t, g->m, (mp_bitcnt_t)(P->E - g->e));
    P->ci[j] = mpz_get_si(P->t);
    mpz_mul_2exp(P->p.m, P->t, 0);
    P->p.e = P->E;
    mpz_neg(P->p.m, P->p.m);
    dy_add(&P->acc2, g, &P->p, P->t);                 /* r */
    if (mpz_sgn(P->acc2.m)) {
      dd l = dd_of(P->lo[o][j]);
      mpz_mul_si(P->acc2.m, P->acc2.m, l.m);
      P->acc2.e += l.e;
      dy_add(cst, cst, &P->acc2, P->t);
    }
    dy_zero(&P->acc2);
  }
  (void)emin;
}

/* ---- step 1: node bounds on the leaf ---- */

/* Interval image of node i (AFFINE or SCALE) of its input's box.  AFFINE:
   the box rounded outward to the grid 2^H (53 bits below its largest end;
   a larger box, so still sound), W on its grid, sums exact in 128 bits;
   off-grid weights, the bias and the rounding to doubles in GMP. */
static void ibp_node(pchk *P, int i)
{
  const pnode *q = &P->pn[i];
  const cb_node *nd = &P->net->node[i];
  const double *xl = P->lo[i - 1], *xh = P->hi[i - 1];
  if (nd->kind == CB_AFFINE) {
    long top = LONG_MIN, H;
    int64_t *li = (int64_t *)P->v, *hi2 = li + q->in;   /* scratch: 2 in int64 fit in maxn int128 */
    for (size_t j = 0; j < q->in; j++) {
      int e;
      if (xl[j]) { frexp(xl[j], &e); if (e > top) top = e; }
      if (xh[j]) { frexp(xh[j], &e); if (e > top) top = e; }
    }
    H = top == LONG_MIN ? 0 : top - 53;
    for (size_t j = 0; j < q->in; j++) {
      li[j] = (int64_t)floor(ldexp(xl[j], (int)-H));
      hi2[j] = (int64_t)ceil(ldexp(xh[j], (int)-H));
    }
    for (size_t o = 0; o < q->out; o++) {
      const int64_t *w = q->Wi + o * q->in;
      i128 sl = 0, sh = 0;
      for (size_t j = 0; j < q->in; j++) {
        if (w[j] > 0) { sl += (i128)w[j] * li[j]; sh += (i128)w[j] * hi2[j]; }
        else if (w[j] < 0) { sl += (i128)w[j] * hi2[j]; sh += (i128)w[j] * li[j]; }
      }
      dy_set_dd(&P->acc, q->b[o]);
      dy_set_dd(&P->c1[0], q->b[o]);
      add_i128(P, &P->acc, sl, H + q->F);
      add_i128(P, &P->c1[0], sh, H + q->F);
      P->lo[i][o] = 0;   /* the off-grid weights of row o */
      for (size_t k = 0; k < q->ns; k++) {
        size_t oo = q->so[k] / q->in, j = q->so[k] % q->in;
        dd wk = q->W[q->so[k]];
        if (oo != o) continue;
        add_cwx(P, &P->acc, 1, 0, wk, wk.m > 0 ? xl[j] : xh[j]);
        add_cwx(P, &P->c1[0], 1, 0, wk, wk.m > 0 ? xh[j] : xl[j]);
      }
      P->lo[i][o] = dy_round(&P->acc, 0, &P->p, P->t);
      P->hi[i][o] = dy_round(&P->c1[0], 1, &P->p, P->t);
    }
    return;
  }
  for (size_t o = 0; o < q->out; o++) {
    dd w = q->W[o];
    dy_set_dd(&P->acc, q->b[o]);
    dy_set_dd(&P->acc2, q->b[o]);
    if (w.m) {
      dy_set_d(&P->c0[0], w.m > 0 ? xl[o] : xh[o]);
      dy_addmul(&P->acc, &P->c0[0], w, &P->p, P->t);
      dy_set_d(&P->c0[0], w.m > 0 ? xh[o] : xl[o]);
      dy_addmul(&P->acc2, &P->c0[0], w, &P->p, P->t);
    }
    P->lo[i][o] = dy_round(&P->acc, 0, &P->p, P->t);
    P->hi[i][o] = dy_round(&P->acc2, 1, &P->p, P->t);
  }
}

/* Split constraints on node i (it feeds a ReLU); 0 when the region is empty. */
static int apply_signs(pchk *P, int i)
{
  const signed char *sg = P->pn[i].sign;
  for (size_t j = 0; j < P->net->node[i].size; j++) {
    if (sg[j] < 0 && P->hi[i][j] > 0) P->hi[i][j] = 0;
    if (sg[j] > 0 && P->lo[i][j] < 0) P->lo[i][j] = 0;
    if (P->lo[i][j] > P->hi[i][j]) return 0;
  }
  return 1;
}

/* CROWN's bounds of node i's entries of unknown sign, intersected. */
static void crown_node(pchk *P, int i)
{
  size_t n = P->net->node[i].size;
  for (size_t j = 0; j < n; j++) {
    for (int side = 0; side < 2 && P->lo[i][j] < 0 && P->hi[i][j] > 0; side++) {
      double v;
      for (size_t k = 0; k < n; k++) P->ci[k] = 0;
      P->ci[j] = side ? -1 : 1;
      P->E = 0;
      back_lower(P, i, &P->acc);
      v = dy_round(&P->acc, 0, &P->p, P->t);
      if (!side && v > P->lo[i][j]) P->lo[i][j] = v;
      if (side && -v < P->hi[i][j]) P->hi[i][j] = -v;
    }
  }
}

/* A multiplier list's first bad entry (negative or not finite), -1: none. */
static long bad_mult(const double *m, size_t n)
{
  for (size_t k = 0; k < n; k++) if (!(m[k] >= 0) || !isfinite(m[k])) return (long)k;
  return -1;
}

/* Version 3's tighten records of node i, in order: each bound is used only
   once re-derived (back_lower of +-e_j with the split terms); 1, 0 (empty
   region), -2 (a record fails: P->why says which). */
static int tighten_node(pchk *P, int i)
{
  for (size_t k = 0; k < P->ntt; k++) {
    const pchk_tighten *T = &P->tt[k];
    long b = bad_mult(T->mu, P->ns);
    double v, bd;
    if (T->node - 1 != i) continue;
    for (size_t s = 0; s < P->ns && b < 0; s++) if (T->mu[s] != 0 && P->sp[s].node > T->node) b = (long)s;
    if (b >= 0) {
      snprintf(P->why, P->nwhy, "tighten at line %d: multiplier %ld is %s", T->line, b,
               !isfinite(T->mu[b]) ? "not finite" : T->mu[b] < 0 ? "negative" : "of a split below its node");
      return -2;
    }
    for (size_t j = 0; j < P->net->node[i].size; j++) P->ci[j] = 0;
    P->ci[T->idx] = T->side ? -1 : 1;
    P->E = 0;
    P->inj = T->mu;
    back_lower(P, i, &P->acc);
    P->inj = NULL;
    v = dy_round(&P->acc, 0, &P->p, P->t);   /* derive mode (bound NaN): the exact bound rounded outward */
    if (T->got) *T->got = T->side ? -v : v;
    bd = isnan(T->bound) ? (T->side ? -v : v) : T->bound;
    if (isfinite(bd)) dy_set_d(&P->acc2, T->side ? -bd : bd);
    if (!isfinite(bd) || dy_cmp(&P->acc, &P->acc2, P->t) < 0) {
      if (isnan(T->bound)) continue;
      snprintf(P->why, P->nwhy, "tighten at line %d: %s bound %.17g of node %d neuron %zu not re-derived (%.17g)", T->line,
               T->side ? "upper" : "lower", T->bound, T->node, T->idx, T->side ? -v : v);
      return -2;
    }
    if (!T->side && bd > P->lo[i][T->idx]) P->lo[i][T->idx] = bd;
    if (T->side && bd < P->hi[i][T->idx]) P->hi[i][T->idx] = bd;
  }
  return apply_signs(P, i);
}

/* Every node's bounds on the leaf; 0 if the region is empty. */
static int leaf_bounds(pchk *P, const double *lo, const double *hi)
{
  const cb_net *net = P->net;
  for (int i = 0; i < net->n; i++) P->pn[i].lo_ok = P->pn[i].tab_ok = 0;   /* per-leaf tables: made again at first use */
  memcpy(P->lo[0], lo, net->node[0].size * sizeof(double));
  memcpy(P->hi[0], hi, net->node[0].size * sizeof(double));
  for (size_t k = 0; k < net->node[0].size; k++) if (!(lo[k] <= hi[k])) return 0;
  for (int i = 1; i < net->n; i++) {
    const cb_node *nd = &net->node[i];
    size_t n = nd->size;
    if (nd->kind == CB_AFFINE || nd->kind == CB_SCALE) ibp_node(P, i);
    else if (nd->kind == CB_ACT)
      for (size_t j = 0; j < n; j++) { P->lo[i][j] = fmax(P->lo[i - 1][j], 0); P->hi[i][j] = fmax(P->hi[i - 1][j], 0); }
    else { memcpy(P->lo[i], P->lo[i - 1], n * sizeof(double)); memcpy(P->hi[i], P->hi[i - 1], n * sizeof(double)); }
    for (size_t j = 0; j < n; j++) if (!isfinite(P->lo[i][j]) || !isfinite(P->hi[i][j])) return -1;
    if (P->pn[i].sign) {
      if (!apply_signs(P, i)) return 0;
      int t;
      crown_node(P, i);
      if (!apply_signs(P, i)) return 0;
      if (P->ntt && (t = tighten_node(P, i)) < 1) return t;
    }
  }
  return 1;
}

static void set_signs(pchk *P, const pchk_split *sp, size_t ns, int on)
{
  for (size_t k = 0; k < ns; k++) P->pn[sp[k].node - 1].sign[sp[k].idx] = (signed char)(on ? sp[k].sign : 0);
}

/* Conjunction c of box b with multipliers lam: 1 refuted, 0 not (why). */
static int refute_conj(pchk *P, const vnn_conj *k, const double *lam, const double *beta, char *why, size_t nwhy, size_t c)
{
  size_t ny = P->spec->ny;
  int any = 0, o = P->net->output;
  dy rhs;
  for (size_t r = 0; r < k->m; r++) {
    if (!(lam[r] >= 0) || !isfinite(lam[r])) {
      snprintf(why, nwhy, "conjunction %zu: multiplier %zu is %s", c, r, isfinite(lam[r]) ? "negative" : "not finite");
      return 0;
    }
    any |= lam[r] > 0;
  }
  if (!any) { snprintf(why, nwhy, "conjunction %zu: no positive multiplier", c); return 0; }
  if (beta && bad_mult(beta, P->ns) >= 0) {
    snprintf(why, nwhy, "conjunction %zu: split multiplier %ld is %s", c, bad_mult(beta, P->ns),
             isfinite(beta[bad_mult(beta, P->ns)]) ? "negative" : "not finite");
    return 0;
  }
  dy_init(&rhs);
  for (size_t j = 0; j < ny; j++) dy_zero(&P->c0[j]);
  for (size_t r = 0; r < k->m; r++) {
    dd l = dd_of(lam[r]);
    if (!l.m) continue;
    for (size_t j = 0; j < ny; j++) {
      dy_set_d(&P->acc2, k->A[r * ny + j]);
      dy_addmul(&P->c0[j], &P->acc2, l, &P->p, P->t);
    }
    dy_set_d(&P->acc2, k->b_up[r]);
    dy_addmul(&rhs, &P->acc2, l, &P->p, P->t);
  }
  row_from_exact(P, o, &P->acc);
  {
    dy sv;                                            /* the residual's bound (back_lower's tables use c1 as scratch) */
    dy_init(&sv);
    dy_set(&sv, &P->acc);
    P->inj = beta;
    back_lower(P, o, &P->acc);
    P->inj = NULL;
    dy_add(&P->acc, &P->acc, &sv, P->t);
    dy_clear(&sv);
  }
  if (dy_cmp(&P->acc, &rhs, P->t) > 0) { dy_clear(&rhs); return 1; }
  {
    double lb = dy_round(&P->acc, 1, &P->p, P->t), rb = dy_round(&rhs, 0, &P->p, P->t);
    snprintf(why, nwhy, "conjunction %zu (line %d) not refuted: lower bound %.17g of the combined rows, right-hand side %.17g",
             c, k->line, lb, rb);
  }
  dy_clear(&rhs);
  return 0;
}

int pchk_leaf(pchk *P, size_t box, const double *lo, const double *hi, const pchk_split *sp, size_t ns,
              const double *const *lam, char *why, size_t nwhy)
{
  return pchk_leaf3(P, box, lo, hi, sp, ns, NULL, 0, lam, NULL, why, nwhy);
}

int pchk_leaf3(pchk *P, size_t box, const double *lo, const double *hi, const pchk_split *sp, size_t ns,
               const pchk_tighten *tt, size_t ntt, const double *const *lam, const double *const *beta, char *why, size_t nwhy)
{
  const vnn_box *B = &P->spec->box[box];
  int ok;
  for (size_t c = 0; c < B->n_conj; c++)
    for (size_t r = 0; r < B->conj[c].m; r++)
      if (!(lam[c][r] >= 0) || !isfinite(lam[c][r])) {
        snprintf(why, nwhy, "conjunction %zu: multiplier %zu is %s", c, r, isfinite(lam[c][r]) ? "negative" : "not finite");
        return 0;
      }
  set_signs(P, sp, ns, 1);
  P->sp = sp; P->ns = ns; P->tt = tt; P->ntt = ntt; P->why = why; P->nwhy = nwhy;
  ok = leaf_bounds(P, lo, hi);                      /* 0: the region is empty, nothing to refute */
  if (ok == -1) snprintf(why, nwhy, "a bound is not finite");
  if (ok > 0)
    for (size_t c = 0; ok && c < B->n_conj; c++) ok = refute_conj(P, &B->conj[c], lam[c], beta ? beta[c] : NULL, why, nwhy, c);
  else ok = ok == 0;
  P->ntt = 0;
  set_signs(P, sp, ns, 0);
  return ok;
}

int pchk_bounds(pchk *P, const double *lo, const double *hi, const pchk_split *sp, size_t ns, const pchk_tighten *tt, size_t ntt,
                double *const **blo, double *const **bhi)
{
  char why[8];
  int ok;
  set_signs(P, sp, ns, 1);
  P->sp = sp; P->ns = ns; P->tt = tt; P->ntt = ntt; P->why = why; P->nwhy = sizeof why;
  ok = leaf_bounds(P, lo, hi);
  P->ntt = 0;
  set_signs(P, sp, ns, 0);
  *blo = P->lo; *bhi = P->hi;
  return ok;
}

int pchk_leaf_auto(pchk *P, size_t box, const double *lo, const double *hi, const pchk_split *sp, size_t ns,
                   const unsigned char *use, long *row)
{
  const vnn_box *B = &P->spec->box[box];
  int ok;
  char why[8];
  double *lam;
  size_t mmax = 1;
  for (size_t c = 0; c < B->n_conj; c++) { if (B->conj[c].m > mmax) mmax = B->conj[c].m; row[c] = -1; }
  if (!(lam = cb_calloc(mmax, sizeof *lam))) return CB_ENOMEM;
  set_signs(P, sp, ns, 1);
  ok = leaf_bounds(P, lo, hi);
  if (ok == 0) ok = 1;                              /* empty region: every conjunction holds vacuously */
  else if (ok > 0)
    for (size_t c = 0; ok && c < B->n_conj; c++) {
      int got = 0;
      if (use && !use[c]) continue;
      for (size_t r = 0; r < B->conj[c].m && !got; r++) {
        memset(lam, 0, mmax * sizeof *lam);
        lam[r] = 1;
        if ((got = refute_conj(P, &B->conj[c], lam, NULL, why, sizeof why, c))) row[c] = (long)r;
      }
      if (!got && B->conj[c].m > 1) {               /* the rows' sum: contradictory rows (y <= 0, y >= 1) */
        for (size_t r = 0; r < B->conj[c].m; r++) lam[r] = 1;
        if ((got = refute_conj(P, &B->conj[c], lam, NULL, why, sizeof why, c))) row[c] = -2;
      }
      ok = got;
    }
  else ok = 0;
  set_signs(P, sp, ns, 0);
  cb_free(lam);
  return ok;
}

/* ---- the text format ---- */

static int push_rec(proof *p, proof_rec r)
{
  if (p->n == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 256;
    proof_rec *q = cb_alloc(cap * sizeof *q);
    if (!q) return CB_ENOMEM;
    if (p->n) memcpy(q, p->r, p->n * sizeof *q);
    cb_free(p->r);
    p->r = q; p->cap = cap;
  }
  p->r[p->n++] = r;
  return CB_OK;
}

static int push_lam(proof *p, double v)
{
  if (p->n_lam == p->cap_lam) {
    size_t cap = p->cap_lam ? 2 * p->cap_lam : 256;
    double *q = cb_alloc(cap * sizeof *q);
    if (!q) return CB_ENOMEM;
    if (p->n_lam) memcpy(q, p->lam, p->n_lam * sizeof *q);
    cb_free(p->lam);
    p->lam = q; p->cap_lam = cap;
  }
  p->lam[p->n_lam++] = v;
  return CB_OK;
}

/* The tokens of one line (at most `max`), NUL-terminated in place. */
static int tokens(char *s, char **tok, int max)
{
  int n = 0;
  while (*s) {
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    if (!*s) break;
    if (n == max) return max + 1;
    tok[n++] = s;
    while (*s && *s != ' ' && *s != '\t' && *s != '\r') s++;
    if (*s) *s++ = 0;
  }
  return n;
}

static int get_long(const char *t, long max, long *v)
{
  char *e;
  long x;
  if (!isdigit((unsigned char)t[0])) return 0;
  errno = 0;
  x = strtol(t, &e, 10);
  if (*e || errno || x < 0 || x > max) return 0;
  *v = x;
  return 1;
}

static int get_double(const char *t, double *v)
{
  char *e;
  if (!*t) return 0;
  *v = strtod(t, &e);
  return !*e && isfinite(*v);
}

static int get_sha(const char *t, char *out)
{
  if (strlen(t) != 64) return 0;
  for (int k = 0; k < 64; k++) {
    if (!isxdigit((unsigned char)t[k])) return 0;
    out[k] = (char)tolower((unsigned char)t[k]);
  }
  out[64] = 0;
  return 1;
}

typedef struct pstate {   /* the tree shape while parsing */
  long box, leaf, conj;   /* next box / leaf numbers; next conj index (-1: not after a leaf) */
  int rem[PROOF_MAX_DEPTH + 1], top, root;
  int open_line[PROOF_MAX_DEPTH + 1];
} pstate;

/* A tree node starts: it is the next child of the deepest open split. */
static int tree_node(pstate *S, int internal, int line, cb_error *err)
{
  while (S->top > 0 && S->rem[S->top - 1] == 0) S->top--;
  if (S->box < 1) return cb_error_set(err, CB_EFORMAT, "line %d: a tree node before the first \"box\"", line);
  if (S->top == 0 && S->root) return cb_error_set(err, CB_EFORMAT, "line %d: box %ld already has its tree", line, S->box - 1);
  if (S->top > 0) S->rem[S->top - 1]--; else S->root = 1;
  if (internal) {
    if (S->top == PROOF_MAX_DEPTH) return cb_error_set(err, CB_EFORMAT, "line %d: deeper than %d splits", line, PROOF_MAX_DEPTH);
    S->open_line[S->top] = line;
    S->rem[S->top++] = 2;
  }
  return CB_OK;
}

/* The current box's tree must be complete (at a "box" or "end" line). */
static int tree_done(pstate *S, int line, cb_error *err)
{
  while (S->top > 0 && S->rem[S->top - 1] == 0) S->top--;
  if (S->box < 1) return CB_OK;
  if (!S->root) return cb_error_set(err, CB_EFORMAT, "line %d: box %ld has no tree", line, S->box - 1);
  if (S->top > 0)
    return cb_error_set(err, CB_EFORMAT, "line %d: box %ld's tree is incomplete: the split at line %d lacks a child "
                        "(leaf %ld missing)", line, S->box - 1, S->open_line[S->top - 1], S->leaf);
  return CB_OK;
}

static int parse_line(proof *p, pstate *S, char **tok, int nt, int line, cb_error *err)
{
  proof_rec r = {0};
  const char *k = tok[0];
  r.line = line;
  if (!strcmp(k, "box")) {
    int rc = tree_done(S, line, err);
    if (rc) return rc;
    if (nt != 2 || !get_long(tok[1], 1L << 40, &r.a) || r.a != S->box || r.a >= p->n_box)
      return cb_error_set(err, CB_EFORMAT, "line %d: expected \"box %ld\" (of %ld)", line, S->box, p->n_box);
    r.type = PR_BOX; S->box++; S->root = 0; S->top = 0; S->conj = -1;
    return push_rec(p, r);
  }
  if (!strcmp(k, "split") || !strcmp(k, "relu")) {
    int split = k[0] == 's';
    r.type = split ? PR_SPLIT : PR_RELU;
    if (split ? nt != 4 || !get_long(tok[1], 1L << 40, &r.a) || !get_double(tok[2], &r.x) || !get_double(tok[3], &r.y)
              : nt != 3 || !get_long(tok[1], 1L << 30, &r.a) || !get_long(tok[2], 1L << 40, &r.b))
      return cb_error_set(err, CB_EFORMAT, "line %d: expected %s", line, split ? "\"split DIM LEFT_HI RIGHT_LO\"" : "\"relu NODE NEURON\"");
    S->conj = -1;
    if (tree_node(S, 1, line, err)) return err->status;
    return push_rec(p, r);
  }
  if (!strcmp(k, "leaf")) {
    if (nt != 2 || !get_long(tok[1], 1L << 50, &r.a)) return cb_error_set(err, CB_EFORMAT, "line %d: expected \"leaf N\"", line);
    if (r.a != S->leaf)
      return cb_error_set(err, CB_EFORMAT, "line %d: leaf %ld where leaf %ld was expected: leaf %ld is missing", line, r.a, S->leaf,
                          S->leaf);
    r.type = PR_LEAF; S->leaf++; S->conj = 0;
    if (tree_node(S, 0, line, err)) return err->status;
    return push_rec(p, r);
  }
  if (!strcmp(k, "conj")) {
    if (nt < 2 || !get_long(tok[1], 1L << 40, &r.a) || S->conj < 0 || r.a != S->conj)
      return cb_error_set(err, CB_EFORMAT, "line %d: expected \"conj %ld MULTIPLIERS...\" after a leaf", line, S->conj < 0 ? 0 : S->conj);
    r.type = PR_CONJ; S->conj++;
    r.lam = p->n_lam; r.nlam = (size_t)(nt - 2);
    for (int t = 2; t < nt; t++) {
      double v;
      if (!get_double(tok[t], &v)) return cb_error_set(err, CB_EFORMAT, "line %d: multiplier \"%.40s\" is no finite number", line, tok[t]);
      if (push_lam(p, v)) return CB_ENOMEM;
    }
    return push_rec(p, r);
  }
  if (p->version >= 3 && (!strcmp(k, "tighten") || !strcmp(k, "beta"))) {
    int t = k[0] == 't', prev = p->n ? p->r[p->n - 1].type : -1, f = t ? 5 : 1;
    if (t ? S->conj != 0 || (prev != PR_LEAF && prev != PR_TIGHTEN) : prev != PR_CONJ)
      return cb_error_set(err, CB_EFORMAT, "line %d: \"%s\" must follow %s", line, k, t ? "a leaf (before its conj lines)" : "a conj line");
    if (t && (nt < 5 || !get_long(tok[1], 1L << 30, &r.a) || !get_long(tok[2], 1L << 40, &r.b) ||
              (strcmp(tok[3], "lo") && strcmp(tok[3], "hi")) || !get_double(tok[4], &r.x)))
      return cb_error_set(err, CB_EFORMAT, "line %d: expected \"tighten NODE NEURON lo|hi BOUND MULTIPLIERS...\"", line);
    r.type = t ? PR_TIGHTEN : PR_BETA;
    r.y = t && tok[3][0] == 'h';
    r.lam = p->n_lam; r.nlam = (size_t)(nt - f);
    for (int i = f; i < nt; i++) {
      double v;
      if (!get_double(tok[i], &v)) return cb_error_set(err, CB_EFORMAT, "line %d: multiplier \"%.40s\" is no finite number", line, tok[i]);
      if (push_lam(p, v)) return CB_ENOMEM;
    }
    return push_rec(p, r);
  }
  return cb_error_set(err, CB_EFORMAT, "line %d: unknown record \"%.40s\"", line, k);
}

/* The header's lines (four in version 1; versions 2 and 3 add input-space). */
static int header_line(proof *p, int *state, char **tok, int nt, int line, cb_error *err)
{
  switch (*state) {
  case 0:
    if (nt != 2 || strcmp(tok[0], "cerbere-proof") || !get_long(tok[1], 1000, &p->n_box))
      return cb_error_set(err, CB_EFORMAT, "line %d: not a cerbere proof (expected \"cerbere-proof %d\")", line, PROOF_VERSION);
    p->version = (int)p->n_box;
    if (p->version < 1 || p->version > PROOF_VERSION)
      return cb_error_set(err, CB_EFORMAT, "line %d: proof format version %d; this checker reads versions 1 to %d", line, p->version,
                          PROOF_VERSION);
    p->input_space = -1;
    break;
  case 1: case 2:
    if (nt != 2 || strcmp(tok[0], *state == 1 ? "network-sha256" : "property-sha256") || !get_sha(tok[1], *state == 1 ? p->net_sha : p->prop_sha))
      return cb_error_set(err, CB_EFORMAT, "line %d: expected \"%s HEX64\"", line, *state == 1 ? "network-sha256" : "property-sha256");
    if (*state == 2 && p->version == 1) (*state)++;   /* version 1 has no input-space line */
    break;
  case 3:
    if (nt != 2 || strcmp(tok[0], "input-space") || (strcmp(tok[1], "raw") && strcmp(tok[1], "normalized")))
      return cb_error_set(err, CB_EFORMAT, "line %d: expected \"input-space raw\" or \"input-space normalized\"", line);
    p->input_space = !strcmp(tok[1], "normalized");
    break;
  case 4:
    if (nt != 2 || strcmp(tok[0], "boxes") || !get_long(tok[1], 1L << 40, &p->n_box))
      return cb_error_set(err, CB_EFORMAT, "line %d: expected \"boxes N\"", line);
    break;
  }
  (*state)++;
  return CB_OK;
}

int proof_parse(const char *text, size_t len, proof **out, cb_error *err)
{
  proof *p = cb_calloc(1, sizeof *p);
  pstate *S = cb_calloc(1, sizeof *S);
  char *buf = NULL, *tok[4100];
  int rc = CB_OK, line = 0, head = 0, ended = 0;
  size_t pos = 0;
  *out = NULL;
  if (!p || !S) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  S->conj = -1;
  while (pos < len && rc == CB_OK) {
    size_t e = pos, n;
    int nt;
    while (e < len && text[e] != '\n') e++;
    n = e - pos;
    line++;
    if (!(buf = cb_alloc(n + 1))) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); break; }
    memcpy(buf, text + pos, n);
    buf[n] = 0;
    pos = e + 1;
    if (memchr(buf, 0, n)) { rc = cb_error_set(err, CB_EFORMAT, "line %d: a NUL byte", line); break; }
    nt = tokens(buf, tok, 4096);
    if (nt > 4096) rc = cb_error_set(err, CB_EFORMAT, "line %d: more than 4096 fields", line);
    else if (nt == 0 || tok[0][0] == '#') { /* blank or comment */ }
    else if (ended) rc = cb_error_set(err, CB_EFORMAT, "line %d: text after \"end\"", line);
    else if (head < 5) rc = header_line(p, &head, tok, nt, line, err);
    else if (!strcmp(tok[0], "end") && nt == 1) {
      if ((rc = tree_done(S, line, err)) == CB_OK && S->box != p->n_box)
        rc = cb_error_set(err, CB_EFORMAT, "line %d: %ld boxes declared, %ld given", line, p->n_box, S->box);
      ended = 1;
    } else rc = parse_line(p, S, tok, nt, line, err);
    cb_free(buf);
    buf = NULL;
  }
  cb_free(buf);
  if (rc == CB_OK && !ended) rc = cb_error_set(err, CB_EFORMAT, "line %d: the proof does not end with \"end\" (truncated?)", line);
  if (rc == CB_ENOMEM && !err->status) cb_error_set(err, rc, "out of memory");
out:
  cb_free(S);
  if (rc != CB_OK) { proof_free(p); return rc; }
  for (size_t k = 0; k < p->n; k++) if (p->r[k].type == PR_LEAF) p->n_leaf++;
  *out = p;
  return CB_OK;
}

void proof_free(proof *p)
{
  if (!p) return;
  cb_free(p->r);
  cb_free(p->lam);
  cb_free(p);
}

/* ---- the walk ---- */

typedef struct frame {    /* an open split on the path to the current node */
  int type, rem;          /* rem: children not yet started (2, 1, 0) */
  long a;                 /* SPLIT: dimension; RELU: node */
  size_t rec;             /* its record */
  double lo, hi;          /* SPLIT: the parent box's lo[a], hi[a] */
} frame;

typedef struct walk {
  pchk *P;
  const proof *pf;
  double *lo, *hi;        /* the current node's box */
  frame *f;
  int top;
  pchk_split *sp;         /* the ReLU splits on the path */
  size_t ns;
  const double **lam, **beta;
  pchk_tighten *tt;       /* a leaf's tighten records (room for the longest run) */
} walk;

/* Leaves frames whose two subtrees are complete, restoring the box. */
static void unwind(walk *W)
{
  while (W->top > 0 && W->f[W->top - 1].rem == 0) {
    frame *f = &W->f[--W->top];
    if (f->type == PR_SPLIT) { W->lo[f->a] = f->lo; W->hi[f->a] = f->hi; }
    else W->ns--;
  }
}

/* The node about to be read is the next child of the top frame: its first
   child keeps the box set when the frame opened; the second gets
   [right_lo, parent hi] (or the sign >= 0). */
static void next_child(walk *W)
{
  frame *f;
  if (!W->top) return;
  f = &W->f[W->top - 1];
  if (f->rem-- == 2) return;
  if (f->type == PR_SPLIT) { W->hi[f->a] = f->hi; W->lo[f->a] = W->pf->r[f->rec].y; }
  else W->sp[W->ns - 1].sign = 1;
}

static int walk_leaf(walk *W, size_t k, long box, int depth, char *msg, size_t nmsg)
{
  const proof *pf = W->pf;
  const proof_rec *L = &pf->r[k];
  const vnn_box *B = &W->P->spec->box[box];
  char why[320];
  size_t c, ntt = 0, nb = 0;
  for (k++; k < pf->n && pf->r[k].type == PR_TIGHTEN; k++, ntt++) {
    const proof_rec *R = &pf->r[k];
    const cb_net *net = W->P->net;
    if (R->a < 1 || R->a >= net->n || !node_is_act(&net->node[R->a], CB_ACT_RELU) || (size_t)R->b >= net->node[R->a].size || R->nlam != W->ns) {
      snprintf(msg, nmsg, "leaf %ld (box %ld, depth %d, line %d): the tighten record at line %d %s", L->a, box, depth, L->line, R->line,
               R->nlam != W->ns ? "has not one multiplier per ReLU split on the path" : "names no ReLU neuron");
      return 0;
    }
    W->tt[ntt] = (pchk_tighten){(int)R->a, R->y != 0, R->line, (size_t)R->b, R->x, pf->lam + R->lam, NULL};
  }
  k--;
  for (c = 0; c < B->n_conj; c++) {
    const proof_rec *R = k + 1 + c + nb < pf->n ? &pf->r[k + 1 + c + nb] : NULL;
    if (!R || R->type != PR_CONJ) break;
    W->beta[c] = NULL;
    if (k + 2 + c + nb < pf->n && pf->r[k + 2 + c + nb].type == PR_BETA) {
      const proof_rec *Q = &pf->r[k + 2 + c + nb];
      if (Q->nlam != W->ns) {
        snprintf(msg, nmsg, "leaf %ld (box %ld, depth %d, line %d): the beta record at line %d has not one multiplier per ReLU split on the path",
                 L->a, box, depth, L->line, Q->line);
        return 0;
      }
      W->beta[c] = pf->lam + Q->lam;
      nb++;
    }
    if (R->nlam != B->conj[c].m) {
      snprintf(msg, nmsg, "leaf %ld (box %ld, depth %d, line %d): conjunction %zu has %zu rows, the proof %zu multipliers", L->a, box, depth,
               L->line, c, B->conj[c].m, R->nlam);
      return 0;
    }
    W->lam[c] = pf->lam + R->lam;
  }
  if (c != B->n_conj || (k + 1 + c + nb < pf->n && pf->r[k + 1 + c + nb].type == PR_CONJ)) {
    snprintf(msg, nmsg, "leaf %ld (box %ld, depth %d, line %d): the property's box %ld has %zu conjunctions, the leaf does not give "
             "one multiplier line for each", L->a, box, depth, L->line, box, B->n_conj);
    return 0;
  }
  {
    int ok = pchk_leaf3(W->P, (size_t)box, W->lo, W->hi, W->sp, W->ns, W->tt, ntt, W->lam, W->beta, why, sizeof why);
    if (ok < 0) return ok;
    if (!ok) snprintf(msg, nmsg, "leaf %ld (box %ld, depth %d, line %d): %s", L->a, box, depth, L->line, why);
    return ok;
  }
}

static int walk_split(walk *W, size_t k, long next_leaf, char *msg, size_t nmsg)
{
  const cb_net *net = W->P->net;
  const proof_rec *R = &W->pf->r[k];
  frame *f = &W->f[W->top];
  f->rec = k; f->rem = 2; f->type = R->type; f->a = R->a;
  if (R->type == PR_SPLIT) {
    size_t d = (size_t)R->a;
    if (d >= W->P->spec->nx || !(W->lo[d] <= R->y && R->y <= R->x && R->x <= W->hi[d])) {
      snprintf(msg, nmsg, "leaf %ld: the split at line %d above it does not cover its box: %s", next_leaf, R->line,
               d >= W->P->spec->nx ? "no such input" : R->y > R->x ? "its children leave a gap (right_lo > left_hi)"
               : "a child's bound lies outside the parent box");
      return 0;
    }
    f->lo = W->lo[d]; f->hi = W->hi[d];
    W->hi[d] = R->x;
    W->top++;
    return 1;
  }
  if (R->a < 1 || R->a >= net->n || !node_is_act(&net->node[R->a], CB_ACT_RELU) || (size_t)R->b >= net->node[R->a].size) {
    snprintf(msg, nmsg, "leaf %ld: the ReLU split at line %d names no ReLU neuron (node %ld, neuron %ld)", next_leaf, R->line, R->a, R->b);
    return 0;
  }
  W->sp[W->ns].node = (int)R->a; W->sp[W->ns].idx = (size_t)R->b; W->sp[W->ns].sign = -1;
  W->ns++;
  W->top++;
  return 1;
}

int proof_check(pchk *P, const proof *pf, char *msg, size_t nmsg, long *leaves_checked)
{
  const vnn_spec *sp = P->spec;
  walk W = {P, pf, NULL, NULL, NULL, 0, NULL, 0, NULL, NULL, NULL};
  int ok = 1;
  size_t cmax = 1, tmax = 1, run = 0;
  long box = -1, leaf = 0;
  *leaves_checked = 0;
  for (size_t b = 0; b < sp->n_box; b++) if (sp->box[b].n_conj > cmax) cmax = sp->box[b].n_conj;
  W.lo = cb_alloc((sp->nx + 1) * sizeof *W.lo);
  W.hi = cb_alloc((sp->nx + 1) * sizeof *W.hi);
  W.f = cb_calloc(PROOF_MAX_DEPTH + 1, sizeof *W.f);
  W.sp = cb_calloc(PROOF_MAX_DEPTH + 1, sizeof *W.sp);
  W.lam = cb_calloc(cmax, sizeof *W.lam);
  for (size_t k = 0; k < pf->n; k++) { run = pf->r[k].type == PR_TIGHTEN ? run + 1 : 0; if (run > tmax) tmax = run; }
  W.beta = cb_calloc(cmax, sizeof *W.beta);
  W.tt = cb_calloc(tmax, sizeof *W.tt);
  if (!W.lo || !W.hi || !W.f || !W.sp || !W.lam || !W.beta || !W.tt) { ok = CB_ENOMEM; goto out; }
  if (pf->n_box != (long)sp->n_box) {
    snprintf(msg, nmsg, "the proof covers %ld input boxes, the property has %zu", pf->n_box, sp->n_box);
    ok = 0;
    goto out;
  }
  for (size_t k = 0; k < pf->n && ok == 1; k++) {
    const proof_rec *R = &pf->r[k];
    if (R->type == PR_CONJ || R->type == PR_TIGHTEN || R->type == PR_BETA) continue;
    if (R->type == PR_BOX) {
      box = R->a; W.top = 0; W.ns = 0;
      memcpy(W.lo, sp->box[box].lo, sp->nx * sizeof(double));
      memcpy(W.hi, sp->box[box].hi, sp->nx * sizeof(double));
      continue;
    }
    unwind(&W);
    next_child(&W);
    if (R->type == PR_LEAF) {
      ok = walk_leaf(&W, k, box, W.top, msg, nmsg);
      if (ok == 1) (*leaves_checked)++;
      leaf++;
    } else ok = walk_split(&W, k, leaf, msg, nmsg);
  }
out:
  cb_free(W.lo); cb_free(W.hi); cb_free(W.f); cb_free(W.sp); cb_free((void *)W.lam); cb_free((void *)W.beta); cb_free(W.tt);
  return ok;
}

/* The one file hash of proofs (verify --proof writes it, cerbere check
   compares it): OpenSSL's SHA-256, as the report's digests. */
int proof_sha256_file(const char *path, char hex[65])
{
  unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  size_t n;
  int ok = 0;
  FILE *f = fopen(path, "rb");
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (f && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
    ok = 1;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) ok &= EVP_DigestUpdate(ctx, buf, n);
    ok &= !ferror(f) && EVP_DigestFinal_ex(ctx, md, &len) && len == 32;
  }
  for (unsigned int k = 0; ok && k < len; k++) snprintf(hex + 2 * k, 3, "%02x", md[k]);
  EVP_MD_CTX_free(ctx);
  if (f) fclose(f);
  return ok;
}
