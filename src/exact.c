/*
** Real-arithmetic evaluation of the canonical graph at one point (exact.h).
**
** Numbers are dyadic rationals m * 2^e (mpz_t m, long e): every double is
** one, and sums, products and comparisons of dyadics are exact, so affine
** and piecewise-linear nodes are evaluated with no rounding at all.  Each
** node value is an interval [lo, hi] of dyadics; while nothing has widened
** it (a point through exact nodes) hi aliases lo and is never computed.
**
** Widening rules (the only places where the value is not exact):
**   - a node with exact = 0 stands for parameters p' with |p' - p| <= r|p|
**     (r = rel_err): its output is the exact-parameter interval widened by
**     r (sum_k |w_k| max(|x_lo,k|, |x_hi,k|) + |b|), computed exactly;
**   - smooth monotone activations (SIGMOID, TANH, ELU, SOFTPLUS, ...):
**     [f(lo), f(hi)]; f is computed by libm at
**     the enclosing doubles of lo and hi and widened by 16 ulps relative
**     plus 16 * DBL_TRUE_MIN absolute, then clamped to f's range.  glibc
**     documents at most 1-2 ulp for exp and tanh on x86_64, and the logistic
**     formula adds two roundings: 16 ulps leaves a wide margin.
** At a rational point (exact_eval_dec: VNNLIB decimals no double equals)
** every value is held times s = 10^K, K the decimals' digits: s x is then
** an integer or a dyadic, the homogeneous nodes (affine maps, max pool,
** ReLU, LeakyReLU) act on scaled values unchanged, their additive
** constants (biases, Clip ends, HardSigmoid's offset and 1) are multiplied
** by s (dy_set_ds), and smooth activations divide by s into enclosing
** doubles and multiply back (docs/soundness.md, section 5b).  At a double
** point s = 1.
** GMP allocates with malloc and aborts on failure (it cannot report it);
** the sizes here are a few machine words per number.
*/
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <gmp.h>
#include "dyadic.h"
#include "exact.h"
#include "sort.h"


struct cb_exact {
  size_t n_out, n_in;
  int point;              /* 1: lo == hi for every output */
  dy *lo, *hi;            /* n_out each (hi == lo when point); values times s */
  dy *in;                 /* n_in: the input point, times s */
  long K;                 /* s = 10^K */
  mpz_t s;
};

typedef struct ev {       /* evaluation state */
  const cb_net *net;
  dy **lo, **hi;          /* per node; hi[i] == lo[i] while node i is a point */
  mpz_t t;                /* scratch for alignment */
  dy p;                   /* scratch product */
  mpz_t s;                /* every value is held times s = 10^K (1 at a double point) */
  long K;
} ev;


/* r = d exactly: d = f 2^k with f in [0.5, 1), so f 2^53 is an integer. */
static void dy_set_d(dy *r, double d)
{
  int k;
  double f = frexp(d, &k);
  mpz_set_d(r->m, ldexp(f, 53));
  r->e = mpz_sgn(r->m) ? (long)k - 53 : 0;
}

/* r = a + b (r may alias either); t is scratch. */

/* r = a * w for a double w (r may alias a). */
static void dy_mul_d(dy *r, const dy *a, double w)
{
  int k;
  double f = frexp(w, &k);
  mpz_mul_si(r->m, a->m, (long)ldexp(f, 53));
  r->e = mpz_sgn(r->m) ? a->e + (long)k - 53 : 0;
}

/* Sign of a - b. */

/* Drops trailing zero bits of m (keeps numbers short across layers). */
static void dy_norm(dy *a)
{
  if (!mpz_sgn(a->m)) { a->e = 0; return; }
  mp_bitcnt_t z = mpz_scan1(a->m, 0);
  if (z) { mpz_fdiv_q_2exp(a->m, a->m, z); a->e += (long)z; }
}

/* r = d s, the constant d of the network on the scale of the values. */
static void dy_set_ds(dy *r, double d, ev *E)
{
  dy_set_d(r, d);
  mpz_mul(r->m, r->m, E->s);
}

/* Sign of a - d s for a double d (+-inf allowed): a against the constant d. */
static int dy_cmp_ds(const dy *a, double d, ev *E)
{
  if (isinf(d)) return d > 0 ? -1 : 1;
  dy_set_ds(&E->p, d, E);
  return dy_cmp(a, &E->p, E->t);
}

/* A double near a / s (within an ulp or so), for dy_to_d to adjust; s = 1
   is the plain conversion.  Magnitudes far outside the doubles give +-inf
   or 0, which the adjustment then moves by at most one step. */
static double dy_approx(const dy *a, const ev *E)
{
  long k;
  double f, lg;
  if (!mpz_sgn(a->m)) return 0;
  if (!E->K) {
    f = mpz_get_d_2exp(&k, a->m);
    k += a->e;
    return k > 2000 ? copysign(HUGE_VAL, f) : k < -2000 ? 0 : ldexp(f, (int)k);
  }
  lg = (double)((long)mpz_sizeinbase(a->m, 2) + a->e) - 3.3219280948873623 * (double)E->K;   /* log2 |a / s| in (lg - 1.01, lg + 0.01) */
  if (lg > 1020) return mpz_sgn(a->m) > 0 ? HUGE_VAL : -HUGE_VAL;   /* (near) overflow: a loose but sound end */
  if (lg < -1090) return 0;                                         /* below 2^-1074: 0 is within a step */
  {
    mpq_t q;
    mpq_init(q);
    mpz_set(mpq_numref(q), a->m);
    mpz_set(mpq_denref(q), E->s);
    if (a->e >= 0) mpz_mul_2exp(mpq_numref(q), mpq_numref(q), (mp_bitcnt_t)a->e);
    else mpz_mul_2exp(mpq_denref(q), mpq_denref(q), (mp_bitcnt_t)-a->e);
    mpq_canonicalize(q);
    f = mpq_get_d(q);   /* truncated: within one ulp */
    mpq_clear(q);
  }
  return f;
}

/* The double next to a / s in direction up (1) or down (0): a <= result s, or >=. */
static double dy_to_d(const dy *a, int up, ev *E)
{
  double d = dy_approx(a, E);
  for (int i = 0; i < 4; i++) {
    int c = dy_cmp_ds(a, d, E);
    if (up ? c <= 0 : c >= 0) return d;
    d = nextafter(d, up ? HUGE_VAL : -HUGE_VAL);
  }
  return up ? HUGE_VAL : -HUGE_VAL;   /* not reached: truncation is within 2 ulps */
}

/* ---- node values ---- */

static dy *dy_array(size_t n)
{
  dy *v = cb_calloc(n ? n : 1, sizeof *v);
  if (v) for (size_t k = 0; k < n; k++) dy_init(&v[k]);
  return v;
}

static void dy_array_free(dy *v, size_t n)
{
  if (!v) return;
  for (size_t k = 0; k < n; k++) dy_clear(&v[k]);
  cb_free(v);
}

/* Gives node i its hi array (a copy of lo) if it is still a point. */
static int widen_node(ev *E, int i)
{
  size_t n = E->net->node[i].size;
  if (E->hi[i] != E->lo[i]) return CB_OK;
  if (!(E->hi[i] = dy_array(n))) return CB_ENOMEM;
  for (size_t k = 0; k < n; k++) dy_set(&E->hi[i][k], &E->lo[i][k]);
  return CB_OK;
}

/* acc_lo += w * [xl, xh] (and acc_hi when given): the end of x that w picks. */
static void acc_term(ev *E, dy *acc_lo, dy *acc_hi, double w, const dy *xl, const dy *xh)
{
  if (w == 0) return;
  dy_mul_d(&E->p, w > 0 ? xl : xh, w);
  dy_add(acc_lo, acc_lo, &E->p, E->t);
  if (acc_hi) {
    dy_mul_d(&E->p, w > 0 ? xh : xl, w);
    dy_add(acc_hi, acc_hi, &E->p, E->t);
  }
}

/* acc += |w| * max(|xl|, |xh|) (the magnitude a rel_err widening scales). */
static void acc_abs(ev *E, dy *acc, double w, const dy *xl, const dy *xh)
{
  dy a, b;
  if (w == 0) return;
  dy_init(&a); dy_init(&b);
  mpz_abs(a.m, xl->m); a.e = xl->e;
  mpz_abs(b.m, xh->m); b.e = xh->e;
  dy_mul_d(&E->p, dy_cmp(&a, &b, E->t) >= 0 ? &a : &b, fabs(w));
  dy_add(acc, acc, &E->p, E->t);
  dy_clear(&a); dy_clear(&b);
}

/* [lo, hi] of node i widened by r * mag (mag >= 0): lo -= r mag, hi += r mag. */
static void widen_by(ev *E, dy *lo, dy *hi, const dy *mag, double r)
{
  dy_mul_d(&E->p, mag, r);
  dy_add(hi, hi, &E->p, E->t);
  mpz_neg(E->p.m, E->p.m);
  dy_add(lo, lo, &E->p, E->t);
}

/* One output of an affine map: bias + sum_k W[k] x[idx(k)], with the
   rel_err widening when the node is not exact.  idx NULL: k itself. */
typedef struct dot { const double *w; size_t n, wstride; const size_t *idx; double b; } dot;

static void affine_out(ev *E, const cb_node *nd, const dy *xl, const dy *xh, const dot *D, dy *yl, dy *yh)
{
  int pt = yl == yh;   /* node_point: exact node, point inputs */
  dy_set_ds(yl, D->b, E);
  if (!pt) dy_set_ds(yh, D->b, E);
  for (size_t k = 0; k < D->n; k++) {
    size_t j = D->idx ? D->idx[k] : k;
    if (D->idx && j == SIZE_MAX) continue;
    acc_term(E, yl, pt ? NULL : yh, D->w[k * D->wstride], &xl[j], &xh[j]);
  }
  if (!nd->exact && nd->rel_err > 0) {
    dy mag;
    dy_init(&mag);
    dy_set_ds(&mag, fabs(D->b), E);
    for (size_t k = 0; k < D->n; k++) {
      size_t j = D->idx ? D->idx[k] : k;
      if (D->idx && j == SIZE_MAX) continue;
      acc_abs(E, &mag, D->w[k * D->wstride], &xl[j], &xh[j]);
    }
    widen_by(E, yl, yh, &mag, nd->rel_err);
    dy_clear(&mag);
  }
  dy_norm(yl);
  if (!pt) dy_norm(yh);
}

static void ex_affine(ev *E, int i)
{
  const cb_node *nd = &E->net->node[i];
  const dy *xl = E->lo[nd->in[0]], *xh = E->hi[nd->in[0]];
  for (size_t o = 0; o < nd->p.aff.out; o++) {
    dot D = {nd->p.aff.W + o * nd->p.aff.in, nd->p.aff.in, 1, NULL, nd->p.aff.b ? nd->p.aff.b[o] : 0};
    affine_out(E, nd, xl, xh, &D, &E->lo[i][o], &E->hi[i][o]);
  }
}

static void ex_scale(ev *E, int i)
{
  const cb_node *nd = &E->net->node[i];
  const dy *xl = E->lo[nd->in[0]], *xh = E->hi[nd->in[0]];
  for (size_t e = 0; e < nd->size; e++) {
    dot D = {&nd->p.scale.a[e], 1, 1, &e, nd->p.scale.b[e]};
    affine_out(E, nd, xl, xh, &D, &E->lo[i][e], &E->hi[i][e]);
  }
}

/* y[co, oi, oj] = b[co] + sum W[co][ci][ki][kj] x[g*cpg + ci, ii, jj] (zero pads). */
static int ex_conv(ev *E, int i)
{
  const cb_node *nd = &E->net->node[i];
  const cb_conv *g = &nd->p.conv.g;
  const dy *xl = E->lo[nd->in[0]], *xh = E->hi[nd->in[0]];
  size_t cpg = (size_t)(g->cin / g->groups), opg = (size_t)(g->cout / g->groups);
  size_t K = cpg * (size_t)(g->kh * g->kw);
  size_t *idx = cb_alloc(K * sizeof *idx);
  if (!idx) return CB_ENOMEM;
  for (int64_t co = 0; co < g->cout; co++)
    for (int64_t oi = 0; oi < g->hout; oi++)
      for (int64_t oj = 0; oj < g->wout; oj++) {
        size_t gi = (size_t)co / opg, k = 0, o = (size_t)((co * g->hout + oi) * g->wout + oj);
        for (size_t ci = 0; ci < cpg; ci++)
          for (int64_t ki = 0; ki < g->kh; ki++)
            for (int64_t kj = 0; kj < g->kw; kj++, k++) {
              int64_t ii = oi * g->sh - g->pt + ki * g->dh, jj = oj * g->sw - g->pl + kj * g->dw;
              idx[k] = ii >= 0 && ii < g->hin && jj >= 0 && jj < g->win
                     ? (size_t)(((int64_t)(gi * cpg + ci) * g->hin + ii) * g->win + jj) : SIZE_MAX;
            }
        dot D = {nd->p.conv.W + (size_t)co * K, K, 1, idx, nd->p.conv.b ? nd->p.conv.b[co] : 0};
        affine_out(E, nd, xl, xh, &D, &E->lo[i][o], &E->hi[i][o]);
      }
  cb_free(idx);
  return CB_OK;
}

/* Index of node i's element e in its input (CONCAT: also which input). */
static size_t concat_src(const cb_net *net, const cb_node *nd, size_t e, int *which)
{
  size_t outer = 1, per = nd->size, b, r;
  for (int d = 0; d < nd->p.concat.axis; d++) outer *= (size_t)nd->shape.dim[d];
  per /= outer;
  b = e / per; r = e % per;
  for (int k = 0; k < nd->n_in; k++) {
    size_t chunk = net->node[nd->in[k]].size / outer;
    if (r < chunk) { *which = nd->in[k]; return b * chunk + r; }
    r -= chunk;
  }
  *which = nd->in[0];
  return 0;   /* not reached for a checked net */
}

static size_t transpose_src(const cb_node *nd, const cb_node *xn, size_t e)
{
  size_t istride[CB_MAX_RANK], st = 1, rem = e, src = 0;
  int r = nd->shape.rank;
  for (int d = r - 1; d >= 0; d--) { istride[d] = st; st *= (size_t)xn->shape.dim[d]; }
  for (int d = r - 1; d >= 0; d--) {
    size_t id = rem % (size_t)nd->shape.dim[d];
    rem /= (size_t)nd->shape.dim[d];
    src += id * istride[nd->p.transpose.perm[d]];
  }
  return src;
}

/* Copies for the index maps (RESHAPE, TRANSPOSE, CONCAT) and ADD. */
static void ex_move(ev *E, int i, int pt)
{
  const cb_node *nd = &E->net->node[i];
  for (size_t e = 0; e < nd->size; e++) {
    int from = nd->in[0];
    size_t s = nd->kind == CB_TRANSPOSE ? transpose_src(nd, &E->net->node[from], e)
             : nd->kind == CB_CONCAT ? concat_src(E->net, nd, e, &from) : e;
    if (nd->kind == CB_ADD) {
      dy_add(&E->lo[i][e], &E->lo[nd->in[0]][e], &E->lo[nd->in[1]][e], E->t);
      if (!pt) dy_add(&E->hi[i][e], &E->hi[nd->in[0]][e], &E->hi[nd->in[1]][e], E->t);
      continue;
    }
    dy_set(&E->lo[i][e], &E->lo[from][s]);
    if (!pt) dy_set(&E->hi[i][e], &E->hi[from][s]);
  }
}

/* y = f(x) for a piecewise-linear f with one kink at 0 (ReLU, LeakyReLU),
   CLIP or HARD_SIGMOID (alpha >= 0, nondecreasing): the range over [lo, hi] is spanned by f(lo), f(hi) and f(0) when 0
   lies inside (any LeakyReLU slope, even negative). */
static void pl_value(const cb_node *nd, const dy *x, dy *y, ev *E)
{
  dy_set(y, x);
  if (node_is_act(nd, CB_ACT_RELU)) { if (mpz_sgn(x->m) < 0) mpz_set_ui(y->m, 0); }
  else if (node_is_act(nd, CB_ACT_LEAKY_RELU)) { if (mpz_sgn(x->m) < 0) dy_mul_d(y, x, nd->p.act.alpha); }
  else if (node_is_act(nd, CB_ACT_ABS)) { if (mpz_sgn(x->m) < 0) mpz_neg(y->m, y->m); }
  else if (node_is_act(nd, CB_ACT_CLIP)) {
    if (dy_cmp_ds(x, nd->p.act.lo, E) < 0) dy_set_ds(y, nd->p.act.lo, E);
    else if (dy_cmp_ds(x, nd->p.act.hi, E) > 0) dy_set_ds(y, nd->p.act.hi, E);
  } else if (node_is_act(nd, CB_ACT_HARD_SIGMOID)) {   /* clip(alpha x + beta, 0, 1), exactly */
    dy_mul_d(y, x, nd->p.act.alpha);
    dy_set_ds(&E->p, nd->p.act.beta, E);
    dy_add(y, y, &E->p, E->t);
    if (mpz_sgn(y->m) < 0) { mpz_set_ui(y->m, 0); y->e = 0; }
    else if (dy_cmp_ds(y, 1.0, E) > 0) dy_set_ds(y, 1.0, E);
  } else cb_assert(0 && "a piecewise-linear activation without an exact rule here");
}

static void ex_pl(ev *E, int i, int pt)
{
  const cb_node *nd = &E->net->node[i];
  const dy *xl = E->lo[nd->in[0]], *xh = E->hi[nd->in[0]];
  int neg_slope = (node_is_act(nd, CB_ACT_LEAKY_RELU) && nd->p.act.alpha < 0) || node_is_act(nd, CB_ACT_ABS);
  for (size_t e = 0; e < nd->size; e++) {
    pl_value(nd, &xl[e], &E->lo[i][e], E);
    if (pt) continue;
    pl_value(nd, &xh[e], &E->hi[i][e], E);
    if (neg_slope && mpz_sgn(xl[e].m) < 0) {   /* f(lo) may be the max; f(0) = 0 the min */
      dy *a = &E->lo[i][e], *b = &E->hi[i][e];
      if (dy_cmp(a, b, E->t) > 0) { mpz_swap(a->m, b->m); long t = a->e; a->e = b->e; b->e = t; }
      if (mpz_sgn(xh[e].m) > 0 && mpz_sgn(a->m) > 0) mpz_set_ui(a->m, 0);
    }
  }
}

/* Monotone smooth activation at the enclosing doubles, widened (header);
   the result is clamped to f's range [f(-inf), f(+inf)] from the table. */
static int ex_smooth(ev *E, int i)
{
  const cb_node *nd = &E->net->node[i];
  const cb_act_info *a = node_act(nd);
  const dy *xl = E->lo[nd->in[0]], *xh = E->hi[nd->in[0]];
  double range_lo = a->shape ? -HUGE_VAL : a->f(nd, -HUGE_VAL), range_hi = a->shape ? HUGE_VAL : a->f(nd, HUGE_VAL);
  for (size_t e = 0; e < nd->size; e++) {
    double fa, fb, l = dy_to_d(&xl[e], 0, E), u = dy_to_d(&xh[e], 1, E);
    if (a->shape) {   /* not monotone / partial domain: act_shape.c's rigorous range over the enclosing doubles */
      if (!(l <= u) || (a->domain && !a->domain(nd, l, u))) return CB_EUNSUP;
      act_shape_range(nd, l, u, &fa, &fb);
    } else {
      fa = a->f(nd, l);
      fb = a->f(nd, u);
    }
    fa = fmax(fa - (fabs(fa) * 16 * DBL_EPSILON + 16 * DBL_TRUE_MIN), range_lo);
    fb = fmin(fb + (fabs(fb) * 16 * DBL_EPSILON + 16 * DBL_TRUE_MIN), range_hi);
    if (!isfinite(fa) || !isfinite(fb)) return CB_EUNSUP;   /* f overflows (Exp): no dyadic encloses it */
    dy_set_ds(&E->lo[i][e], fa, E);
    dy_set_ds(&E->hi[i][e], fb, E);
  }
  return CB_OK;
}

static int ex_maxpool(ev *E, int i, int pt)
{
  const cb_node *nd = &E->net->node[i];
  const cb_conv *g = &nd->p.pool.g;
  const dy *xl = E->lo[nd->in[0]], *xh = E->hi[nd->in[0]];
  for (int64_t c = 0; c < g->cin; c++)
    for (int64_t oi = 0; oi < g->hout; oi++)
      for (int64_t oj = 0; oj < g->wout; oj++) {
        size_t o = (size_t)((c * g->hout + oi) * g->wout + oj);
        int any = 0;
        for (int64_t ki = 0; ki < g->kh; ki++)
          for (int64_t kj = 0; kj < g->kw; kj++) {
            int64_t ii = oi * g->sh - g->pt + ki * g->dh, jj = oj * g->sw - g->pl + kj * g->dw;
            if (ii < 0 || ii >= g->hin || jj < 0 || jj >= g->win) continue;
            size_t s = (size_t)((c * g->hin + ii) * g->win + jj);
            if (!any || dy_cmp(&xl[s], &E->lo[i][o], E->t) > 0) dy_set(&E->lo[i][o], &xl[s]);
            if (!pt && (!any || dy_cmp(&xh[s], &E->hi[i][o], E->t) > 0)) dy_set(&E->hi[i][o], &xh[s]);
            any = 1;
          }
        if (!any) return CB_EUNSUP;
      }
  return CB_OK;
}

/* SORT: rank r's enclosure is [r-th order statistic of the lows, of the
   highs] (order statistics are nondecreasing in every entry); a point input
   sorts exactly.  Insertion sort by dy_cmp per group. */
static int ex_sort_side(ev *E, const cb_node *nd, const dy *x, dy *y, const dy **v, size_t *idx)
{
  size_t g = (size_t)nd->p.sort.g;
  for (size_t k = 0; k < sort_groups(nd); k++) {
    sort_members(nd, k, idx);
    for (size_t j = 0; j < g; j++) {
      size_t t = j;
      while (t > 0 && (nd->p.sort.desc ? dy_cmp(&x[idx[j]], v[t - 1], E->t) > 0 : dy_cmp(&x[idx[j]], v[t - 1], E->t) < 0)) {
        v[t] = v[t - 1];
        t--;
      }
      v[t] = &x[idx[j]];
    }
    for (size_t r = 0; r < g; r++) dy_set(&y[idx[r]], v[r]);
  }
  return CB_OK;
}

static int ex_sort(ev *E, int i, int pt)
{
  const cb_node *nd = &E->net->node[i];
  size_t g = (size_t)nd->p.sort.g, *idx = cb_alloc(g * sizeof *idx);
  const dy **v = cb_alloc(g * sizeof *v);
  if (!idx || !v) { cb_free(idx); cb_free((void *)v); return CB_ENOMEM; }
  ex_sort_side(E, nd, E->lo[nd->in[0]], E->lo[i], v, idx);
  if (!pt) ex_sort_side(E, nd, E->hi[nd->in[0]], E->hi[i], v, idx);
  cb_free(idx);
  cb_free((void *)v);
  return CB_OK;
}

/* r = a b exactly (r may alias neither). */
static void dy_mul(dy *r, const dy *a, const dy *b)
{
  mpz_mul(r->m, a->m, b->m);
  r->e = mpz_sgn(r->m) ? a->e + b->e : 0;
  dy_norm(r);
}

/* MUL: x y exactly, an interval product by its four corners.  On the
   scaled values of a rational point (s = 10^K > 1) s x s y is s^2 x y, and
   dividing by s leaves the dyadics: refused (CB_EUNSUP). */
static int ex_mul(ev *E, int i, int pt)
{
  const cb_node *nd = &E->net->node[i];
  const dy *xl = E->lo[nd->in[0]], *xh = E->hi[nd->in[0]], *yl = E->lo[nd->in[1]], *yh = E->hi[nd->in[1]];
  dy c;
  if (E->K > 0) return CB_EUNSUP;
  if (pt) {
    for (size_t e = 0; e < nd->size; e++) dy_mul(&E->lo[i][e], &xl[mul_at(nd->p.mul.i0, e)], &yl[mul_at(nd->p.mul.i1, e)]);
    return CB_OK;
  }
  dy_init(&c);
  for (size_t e = 0; e < nd->size; e++) {
    size_t j0 = mul_at(nd->p.mul.i0, e), j1 = mul_at(nd->p.mul.i1, e);
    const dy *xs[2] = {&xl[j0], &xh[j0]}, *ys[2] = {&yl[j1], &yh[j1]};
    dy_mul(&E->lo[i][e], xs[0], ys[0]);
    dy_set(&E->hi[i][e], &E->lo[i][e]);
    for (int k = 1; k < 4; k++) {
      dy_mul(&c, xs[k >> 1], ys[k & 1]);
      if (dy_cmp(&c, &E->lo[i][e], E->t) < 0) dy_set(&E->lo[i][e], &c);
      if (dy_cmp(&c, &E->hi[i][e], E->t) > 0) dy_set(&E->hi[i][e], &c);
    }
  }
  dy_clear(&c);
  return CB_OK;
}

/* 1 if node i's value can stay a point given its inputs. */
static int node_point(const ev *E, const cb_node *nd)
{
  if (nd->kind == CB_ACT && !node_piecewise_linear(nd)) return 0;
  if (!nd->exact && nd->rel_err > 0) return 0;
  for (int k = 0; k < nd->n_in; k++) if (E->lo[nd->in[k]] != E->hi[nd->in[k]]) return 0;
  return 1;
}

static int ex_node(ev *E, int i)
{
  const cb_node *nd = &E->net->node[i];
  int pt = node_point(E, nd);
  if (!(E->lo[i] = dy_array(nd->size))) return CB_ENOMEM;
  E->hi[i] = E->lo[i];
  if (!pt) {
    for (int k = 0; k < nd->n_in; k++) if (widen_node(E, nd->in[k]) != CB_OK) return CB_ENOMEM;
    if (!(E->hi[i] = dy_array(nd->size))) return CB_ENOMEM;
  }
  switch (nd->kind) {
  case CB_INPUT: return CB_OK;
  case CB_AFFINE: ex_affine(E, i); return CB_OK;
  case CB_SCALE: ex_scale(E, i); return CB_OK;
  case CB_CONV: return ex_conv(E, i);
  case CB_ADD: case CB_CONCAT: case CB_RESHAPE: case CB_TRANSPOSE: ex_move(E, i, pt); return CB_OK;
  case CB_ACT:
    if (!node_monotone(nd) && !node_piecewise_linear(nd) && !node_act(nd)->shape) return CB_EUNSUP;
    if (node_piecewise_linear(nd)) { ex_pl(E, i, pt); return CB_OK; }
    return ex_smooth(E, i);
  case CB_MAXPOOL: return ex_maxpool(E, i, pt);
  case CB_SORT: return ex_sort(E, i, pt);
  case CB_MUL: return ex_mul(E, i, pt);
  case CB_KIND_COUNT: break;
  }
  return CB_EINTERNAL;
}

static void ev_free(ev *E)
{
  for (int i = 0; E->lo && E->hi && i < E->net->n; i++) {
    if (E->hi[i] != E->lo[i]) dy_array_free(E->hi[i], E->net->node[i].size);
    dy_array_free(E->lo[i], E->net->node[i].size);
  }
  cb_free(E->lo);
  cb_free(E->hi);
  mpz_clear(E->t);
  mpz_clear(E->s);
  dy_clear(&E->p);
}

/* Moves the output node's arrays into a cb_exact, with a copy of the input
   point and the scale. */
static cb_exact *take_output(ev *E)
{
  int o = E->net->output;
  size_t nx = E->net->node[0].size;
  cb_exact *x = cb_calloc(1, sizeof *x);
  if (!x) return NULL;
  if (!(x->in = dy_array(nx))) { cb_free(x); return NULL; }
  for (size_t k = 0; k < nx; k++) dy_set(&x->in[k], &E->lo[0][k]);
  x->n_in = nx;
  mpz_init_set(x->s, E->s);
  x->K = E->K;
  x->n_out = E->net->node[o].size;
  x->lo = E->lo[o]; x->hi = E->hi[o];
  x->point = x->lo == x->hi;
  E->lo[o] = E->hi[o] = NULL;
  return x;
}

/* ---- the input point: doubles, and decimals no double may equal ---- */

/* q = the VNNLIB decimal text t ([+-]digits[.digits][(e|E)[+-]digits], at
   least one digit before the exponent); 0 if t is not one or its exponent
   lies beyond +-DEC_EXP_MAX (no VNNLIB constant needs that many digits). */
#define DEC_EXP_MAX 4000
static int dec_parse(const char *t, mpq_t q)
{
  const char *p = t;
  long frac = 0, ex = 0;
  int neg = 0, digits = 0, point = 0;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  mpz_set_ui(mpq_numref(q), 0);
  for (; (*p >= '0' && *p <= '9') || (*p == '.' && !point); p++) {
    if (*p == '.') { point = 1; continue; }
    mpz_mul_ui(mpq_numref(q), mpq_numref(q), 10);
    mpz_add_ui(mpq_numref(q), mpq_numref(q), (unsigned long)(*p - '0'));
    digits++;
    frac += point;
  }
  if (*p == 'e' || *p == 'E') {
    int eneg = 0, ed = 0;
    p++;
    if (*p == '+' || *p == '-') eneg = *p++ == '-';
    for (; *p >= '0' && *p <= '9'; p++, ed++) if (ex <= DEC_EXP_MAX) ex = ex * 10 + (*p - '0');
    if (!ed) digits = 0;
    if (eneg) ex = -ex;
  }
  ex -= frac;                        /* value = digits 10^ex */
  if (!digits || *p || ex > DEC_EXP_MAX || ex < -DEC_EXP_MAX) return 0;
  if (neg) mpz_neg(mpq_numref(q), mpq_numref(q));
  mpz_ui_pow_ui(mpq_denref(q), 10, (unsigned long)(ex < 0 ? -ex : ex));
  if (ex >= 0) { mpz_mul(mpq_numref(q), mpq_numref(q), mpq_denref(q)); mpz_set_ui(mpq_denref(q), 1); }
  mpq_canonicalize(q);
  return 1;
}

/* The least K with 10^K a multiple of d = 2^i 5^j (a decimal's denominator). */
static long dec_digits(const mpz_t d)
{
  mpz_t r, five;
  long i = (long)mpz_scan1(d, 0), j;
  mpz_init(r);
  mpz_init_set_ui(five, 5);
  mpz_fdiv_q_2exp(r, d, (mp_bitcnt_t)i);
  j = (long)mpz_remove(r, r, five);
  cb_assert(mpz_cmp_ui(r, 1) == 0 && "a decimal's denominator is 2^i 5^j");
  mpz_clear(r);
  mpz_clear(five);
  return i > j ? i : j;
}

/* m = (a + b) / 2 for the decimals a <= b of coordinate k; 0 if a text is
   not a decimal or a > b. */
static int dec_mid(const char *a, const char *b, mpq_t m, mpq_t t)
{
  if (!dec_parse(a, m) || !dec_parse(b, t) || mpq_cmp(m, t) > 0) return 0;
  mpq_add(m, m, t);
  mpq_div_2exp(m, m, 1);
  return 1;
}

/* Node 0's values: the point times s = 10^K, K the least that makes every
   decimal coordinate an integer times s (doubles are dyadic, and stay so
   times s).  *bad: the coordinate refused (CB_EVALUE). */
static int set_input(ev *E, const double *x, const char *const *dl, const char *const *dh, size_t *bad)
{
  size_t nx = E->net->node[0].size;
  mpq_t m, t;
  int rc = CB_OK;
  mpq_init(m);
  mpq_init(t);
  E->K = 0;
  for (size_t k = 0; k < nx && rc == CB_OK; k++) {
    long K;
    if (!dl || !dl[k]) { if (!isfinite(x[k])) { *bad = k; rc = CB_EVALUE; } continue; }
    if (!dh || !dh[k] || !dec_mid(dl[k], dh[k], m, t)) { *bad = k; rc = CB_EVALUE; continue; }
    if ((K = dec_digits(mpq_denref(m))) > E->K) E->K = K;
  }
  mpz_ui_pow_ui(E->s, 10, (unsigned long)E->K);
  for (size_t k = 0; k < nx && rc == CB_OK; k++) {
    dy *v = &E->lo[0][k];
    if (!dl || !dl[k]) { dy_set_ds(v, x[k], E); continue; }
    dec_mid(dl[k], dh[k], m, t);
    mpz_divexact(v->m, E->s, mpq_denref(m));   /* s / den, an integer */
    mpz_mul(v->m, v->m, mpq_numref(m));
    v->e = 0;
    dy_norm(v);
  }
  mpq_clear(m);
  mpq_clear(t);
  return rc;
}

int exact_eval_dec(const cb_net *net, const double *x, const char *const *dec_lo, const char *const *dec_hi,
                   cb_exact **out, cb_error *err)
{
  ev E;
  int rc = CB_OK, last = 0;
  size_t nx = net->node[0].size, bad = 0;
  *out = NULL;
  memset(&E, 0, sizeof E);
  E.net = net;
  mpz_init(E.t);
  mpz_init_set_ui(E.s, 1);
  dy_init(&E.p);
  E.lo = cb_calloc((size_t)net->n, sizeof *E.lo);
  E.hi = cb_calloc((size_t)net->n, sizeof *E.hi);
  if (!E.lo || !E.hi) { rc = CB_ENOMEM; goto out; }
  if (!(E.lo[0] = dy_array(nx))) { rc = CB_ENOMEM; goto out; }
  E.hi[0] = E.lo[0];
  if ((rc = set_input(&E, x, dec_lo, dec_hi, &bad)) != CB_OK) goto out;
  for (int i = 1; i < net->n && rc == CB_OK; i++) { rc = ex_node(&E, i); last = i; }
  if (rc == CB_OK && !(*out = take_output(&E))) rc = CB_ENOMEM;
out:
  ev_free(&E);
  if (rc == CB_ENOMEM) return cb_error_set(err, rc, "exact evaluation: out of memory");
  if (rc == CB_EVALUE)
    return cb_error_set(err, rc, "exact evaluation: input %zu is %s", bad,
                        dec_lo && dec_lo[bad] ? "not a decimal interval lo <= hi" : "not finite");
  if (rc != CB_OK)
    return cb_error_set(err, rc, "%s: node \"%s\": exact evaluation: %s", net->path, net->node[last].name,
                        rc == CB_EUNSUP ? "a max pool window with no element, or a smooth activation that is not monotone or overflows"
                                          : "invalid kind");
  return CB_OK;
}

int exact_eval(const cb_net *net, const double *x, cb_exact **out, cb_error *err)
{
  return exact_eval_dec(net, x, NULL, NULL, out, err);
}

void exact_free(cb_exact *e)
{
  if (!e) return;
  if (e->hi != e->lo) dy_array_free(e->hi, e->n_out);
  dy_array_free(e->lo, e->n_out);
  dy_array_free(e->in, e->n_in);
  mpz_clear(e->s);
  cb_free(e);
}

int exact_is_point(const cb_exact *e) { return e->point; }
size_t exact_n_out(const cb_exact *e) { return e->n_out; }
size_t exact_n_in(const cb_exact *e) { return e->n_in; }

/* Scratch state for reading e's values (its scale s = 10^K). */
static void ev_view(ev *E, const cb_exact *e)
{
  mpz_init(E->t);
  mpz_init_set(E->s, e->s);
  E->K = e->K;
  dy_init(&E->p);
}

static void ev_view_done(ev *E)
{
  mpz_clear(E->t);
  mpz_clear(E->s);
  dy_clear(&E->p);
}

static void enclose(const cb_exact *e, const dy *lo, const dy *hi, double *dlo, double *dhi)
{
  ev E;
  ev_view(&E, e);
  *dlo = dy_to_d(lo, 0, &E);
  *dhi = dy_to_d(hi, 1, &E);
  ev_view_done(&E);
}

void exact_output(const cb_exact *e, size_t j, double *lo, double *hi) { enclose(e, &e->lo[j], &e->hi[j], lo, hi); }
void exact_input(const cb_exact *e, size_t k, double *lo, double *hi) { enclose(e, &e->in[k], &e->in[k], lo, hi); }

static void gmp_str_free(char *s)
{
  void (*fr)(void *, size_t);
  mp_get_memory_functions(NULL, NULL, &fr);
  fr(s, strlen(s) + 1);
}

/* The exact decimal of m 2^e / 10^K when it has at most `room` characters. */
static int dy_decimal(const dy *a, long K, char *buf, size_t room)
{
  mpz_t n;
  long e = a->e;
  size_t digits, frac = (e < 0 ? (size_t)-e : 0) + (size_t)K;
  if (e < -200 && !K) return 0;   /* a double point: "N/2^k" is shorter (a rational one: room decides) */
  mpz_init(n);
  if (e >= 0) mpz_mul_2exp(n, a->m, (mp_bitcnt_t)e);
  else { mpz_ui_pow_ui(n, 5, (unsigned long)-e); mpz_mul(n, n, a->m); }   /* m 2^-f = m 5^f / 10^f */
  digits = mpz_sizeinbase(n, 10) + frac + 4;
  if (digits >= room) { mpz_clear(n); return 0; }
  {
    int neg = mpz_sgn(n) < 0;
    char *s;
    mpz_abs(n, n);
    s = mpz_get_str(NULL, 10, n);
    size_t L = strlen(s), p = 0;
    if (neg) buf[p++] = '-';
    if (L <= frac) {
      buf[p++] = '0'; buf[p++] = '.';
      for (size_t z = 0; z < frac - L; z++) buf[p++] = '0';
      memcpy(buf + p, s, L); p += L;
    } else {
      memcpy(buf + p, s, L - frac); p += L - frac;
      if (frac) { buf[p++] = '.'; memcpy(buf + p, s + L - frac, frac); p += frac; }
    }
    while (frac && buf[p - 1] == '0') p--;   /* trailing zeros of the fraction (m 10^K) */
    if (buf[p - 1] == '.') p--;
    buf[p] = 0;
    gmp_str_free(s);
  }
  mpz_clear(n);
  return 1;
}

/* a / 10^K as text: its exact decimal, else "N/2^k" (K = 0) or "N/D". */
static void dy_text(const dy *v, long K, char *buf, size_t n)
{
  dy a;
  char *s;
  dy_init(&a);
  dy_set(&a, v);
  dy_norm(&a);
  if (dy_decimal(&a, K, buf, n)) { dy_clear(&a); return; }
  if (K) {
    mpq_t q;
    mpq_init(q);
    mpz_set(mpq_numref(q), a.m);
    mpz_ui_pow_ui(mpq_denref(q), 10, (unsigned long)K);
    if (a.e >= 0) mpz_mul_2exp(mpq_numref(q), mpq_numref(q), (mp_bitcnt_t)a.e);
    else mpz_mul_2exp(mpq_denref(q), mpq_denref(q), (mp_bitcnt_t)-a.e);
    mpq_canonicalize(q);
    s = mpq_get_str(NULL, 10, q);
    snprintf(buf, n, "%s", s);
    mpq_clear(q);
  } else {
    s = mpz_get_str(NULL, 10, a.m);
    if (a.e < 0) snprintf(buf, n, "%s/2^%ld", s, -a.e); else snprintf(buf, n, "%s*2^%ld", s, a.e);
  }
  gmp_str_free(s);
  dy_clear(&a);
}

void exact_output_text(const cb_exact *e, size_t j, char *buf, size_t n)
{
  double lo, hi;
  if (!n) return;
  if (e->point) { dy_text(&e->lo[j], e->K, buf, n); return; }
  exact_output(e, j, &lo, &hi);
  snprintf(buf, n, "[%.17g, %.17g]", lo, hi);
}

void exact_input_text(const cb_exact *e, size_t k, char *buf, size_t n)
{
  if (n) dy_text(&e->in[k], e->K, buf, n);
}

int exact_input_is_double(const cb_exact *e)
{
  for (size_t k = 0; k < e->n_in; k++) {
    double lo, hi;
    exact_input(e, k, &lo, &hi);
    if (lo != hi) return 0;
  }
  return 1;
}

void exact_row_sign(const cb_exact *e, const double *a, double b, int *smin, int *smax)
{
  ev E;
  dy lo, hi;
  ev_view(&E, e);
  dy_init(&lo); dy_init(&hi);
  dy_set_ds(&lo, -b, &E);   /* a . y - b has the sign of a . (s y) - s b */
  dy_set_ds(&hi, -b, &E);
  for (size_t j = 0; j < e->n_out; j++) acc_term(&E, &lo, &hi, a[j], &e->lo[j], &e->hi[j]);
  *smin = mpz_sgn(lo.m);
  *smax = mpz_sgn(hi.m);
  dy_clear(&lo); dy_clear(&hi);
  ev_view_done(&E);
}

int exact_dist_le(const double *x, const double *c, size_t n, int p, double eps)
{
  mpz_t t;
  dy s, d, q;
  int ok;
  if (!isfinite(eps)) return 0;   /* GMP raises SIGFPE on a non-finite double (jacobian --bracket at eps 5e307) */
  for (size_t k = 0; k < n; k++) if (!isfinite(x[k]) || !isfinite(c[k])) return 0;
  mpz_init(t);
  dy_init(&s); dy_init(&d); dy_init(&q);
  for (size_t k = 0; k < n; k++) {
    dy_set_d(&d, x[k]);
    dy_set_d(&q, -c[k]);
    dy_add(&d, &d, &q, t);               /* d = x_k - c_k exactly */
    mpz_abs(d.m, d.m);
    if (p == 0) { if (dy_cmp(&d, &s, t) > 0) dy_set(&s, &d); }
    else if (p == 1) dy_add(&s, &s, &d, t);
    else { mpz_mul(q.m, d.m, d.m); q.e = 2 * d.e; dy_add(&s, &s, &q, t); }
  }
  dy_set_d(&d, eps);
  if (p == 2) {                          /* compare with eps^2 (eps >= 0 required) */
    mpz_mul(q.m, d.m, d.m); q.e = 2 * d.e;
    ok = eps >= 0 && dy_cmp(&s, &q, t) <= 0;
  } else ok = eps >= 0 && dy_cmp(&s, &d, t) <= 0;
  dy_clear(&s); dy_clear(&d); dy_clear(&q);
  mpz_clear(t);
  return ok;
}
