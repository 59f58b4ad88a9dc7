/*
** Soundness property test of IBP, CROWN, CROWN-IBP and alpha-CROWN (its
** 20 optimised iterates each a bound; the best is checked): random networks
** covering every node kind x random centres x {L-inf, L2, L1, L-inf clipped
** to a box} x radii {0.01, 0.1, 0.5}.  Per case 10^4 points of the set
** (uniform inside, on the boundary / at vertices) plus, for every bounded
** quantity, a projected-gradient attack on it (finite-difference gradients),
** and every forward output must lie within [lb, ub] with tolerance ZERO, for
** the logits (C = I) and for random specification rows.  lb <= ub always.
** Deep ReLU chains (one ending in a ReLU) go through the same test, and
** through test_alpha_iterates: every iterate of alpha-CROWN, intermediate
** bounds included, against sampled and attacked points.
** Fixed seeds; the counts are printed.  test_skipping: the work CROWN skips
** (zero columns, lower bounds of ReLUs proved off) changes no bound.
*/
#include <float.h>
#include <gmp.h>
#include <math.h>
#include "testutil.h"
#include "bounds.h"
#include "exact.h"
#include "round.h"
#include "forward.h"
#include "randnet.h"
#include "relax_mul.h"

typedef struct tcase { cb_norm norm; int clip; double eps; const double *x0, *lo, *hi; size_t n; } tcase;

static double gauss(void) { return sqrt(-2 * log(1 - urand(&seed))) * cos(6.283185307179586 * urand(&seed)); }

/* Projects x onto the set (in place); shrinks by 1e-12 so rounding stays inside. */
static void project(const tcase *t, double *x)
{
  double e = t->eps * (1 - 1e-12), s = 0;
  size_t n = t->n;
  if (t->norm == CB_NORM_INF) for (size_t j = 0; j < n; j++) x[j] = fmin(fmax(x[j], t->x0[j] - e), t->x0[j] + e);
  if (t->norm == CB_NORM_2) {
    for (size_t j = 0; j < n; j++) s += (x[j] - t->x0[j]) * (x[j] - t->x0[j]);
    if (sqrt(s) > e) for (size_t j = 0; j < n; j++) x[j] = t->x0[j] + (x[j] - t->x0[j]) * e / sqrt(s);
  }
  if (t->norm == CB_NORM_1) {  /* shrink towards x0 until inside (a sound, simple projection) */
    for (size_t j = 0; j < n; j++) s += fabs(x[j] - t->x0[j]);
    if (s > e) for (size_t j = 0; j < n; j++) x[j] = t->x0[j] + (x[j] - t->x0[j]) * e / s;
  }
  if (t->clip) for (size_t j = 0; j < n; j++) x[j] = fmin(fmax(x[j], t->lo[j]), t->hi[j]);
}

/* One random point of the set: inside (odd k) or on the boundary / a vertex (even k). */
static void sample(const tcase *t, double *x, int k)
{
  double s = 0, r = k % 2 ? pow(urand(&seed), 1.0 / (double)t->n) : 1.0;
  for (size_t j = 0; j < t->n; j++) {
    double d = t->norm == CB_NORM_INF ? (k % 2 ? rnd(-1, 1) : (urand(&seed) < 0.5 ? -1 : 1))
             : t->norm == CB_NORM_2 ? gauss() : -log(1 - urand(&seed)) * (urand(&seed) < 0.5 ? -1 : 1);
    x[j] = d;
    s += t->norm == CB_NORM_2 ? d * d : fabs(d);
  }
  if (t->norm == CB_NORM_2) s = sqrt(s);
  if (t->norm == CB_NORM_INF) s = 1;
  for (size_t j = 0; j < t->n; j++) x[j] = t->x0[j] + t->eps * r * x[j] / s;
  project(t, x);
}

typedef struct checker { const double *lb[4], *ub[4]; const double *C; size_t q, no; long points, checks; } checker;

/* Checks outputs y (batch rows) against every method's bounds of C y; tolerance 0. */
static void check_points(checker *ck, const double *y, size_t batch, const char *tag)
{
  for (size_t s = 0; s < batch; s++)
    for (size_t r = 0; r < ck->q; r++) {
      double v = 0;
      for (size_t k = 0; k < ck->no; k++) v += ck->C[r * ck->no + k] * y[s * ck->no + k];
      for (int m = 0; m < 4; m++) {
        if (!(ck->lb[m][r] <= v && v <= ck->ub[m][r]))
          fail_msg("%s method %d row %zu: value %.17g outside [%.17g, %.17g]", tag, m, r, v, ck->lb[m][r], ck->ub[m][r]);
        ck->checks++;
      }
    }
  ck->points += (long)batch;
}

/* Projected finite-difference gradient ascent on dir * (C_r . f(x)); checks every iterate. */
static void attack(checker *ck, const cb_net *net, const tcase *t, size_t r, double dir, const char *tag)
{
  size_t n = t->n, no = ck->no;
  double *X = malloc((2 * n + 1) * n * sizeof *X), *Y = malloc((2 * n + 1) * no * sizeof *Y), *g = malloc(n * sizeof *g);
  double h = 1e-6, step = t->eps / 4;
  cb_error err = {0};
  sample(t, X, 1);
  for (int it = 0; it < 12; it++, step *= 0.8) {
    double gn = 0;
    for (size_t j = 0; j < n; j++) {
      memcpy(X + (1 + 2 * j) * n, X, n * sizeof *X);
      memcpy(X + (2 + 2 * j) * n, X, n * sizeof *X);
      X[(1 + 2 * j) * n + j] += h;
      X[(2 + 2 * j) * n + j] -= h;
    }
    assert_int_equal(cb_net_forward(net, X, 2 * n + 1, Y, &err), CB_OK);
    check_points(ck, Y, 1, tag);
    for (size_t j = 0; j < n; j++) {
      double d = 0;
      for (size_t k = 0; k < no; k++) d += ck->C[r * no + k] * (Y[(1 + 2 * j) * no + k] - Y[(2 + 2 * j) * no + k]);
      g[j] = dir * d;
      gn += t->norm == CB_NORM_INF ? 0 : t->norm == CB_NORM_2 ? d * d : fmax(gn, fabs(d));
    }
    if (t->norm == CB_NORM_2) gn = sqrt(gn);
    for (size_t j = 0; j < n; j++)
      X[j] += t->norm == CB_NORM_INF ? step * (g[j] > 0 ? 1 : g[j] < 0 ? -1 : 0)
            : t->norm == CB_NORM_2 ? (gn > 0 ? step * g[j] / gn : 0)
            : (gn > 0 && fabs(g[j]) == gn ? step * (g[j] > 0 ? 1 : -1) : 0);
    project(t, X);
  }
  free(X); free(Y); free(g);
}

static int g_single;   /* 1: every workspace of run_case runs CROWN's dense products in binary32 (test_single) */
static int g_batch;    /* 1: run_case's bounds come from a batched pass of 3 workspaces (test_batched) */
static double g_batch_diff;   /* the largest |batched - unbatched| / (1 + |unbatched|) so far */

/*
** Batched passes (issue 24): set s is the middle of three workspaces (two
** other centres of the same shape around it) that run bounds_run_batch and
** bounds_spec_batch together; lb/ub (the unbatched bounds on entry) are
** replaced by the batched ones, which the caller then checks against its
** points and attacks at zero tolerance.  Batched and unbatched must agree
** within 1e-9 relative (docs/soundness.md "Batched passes": the stacked
** products only change the reduction order, which the slack covers).
*/
static void batched_case(const cb_bnet *bn, const cb_set *s, cb_method m, const double *C, size_t q, double *lb,
                         double *ub, const char *tag)
{
  size_t n = s->n;
  double *x = malloc(3 * n * sizeof *x), *l = malloc(3 * q * sizeof *l), *u = malloc(3 * q * sizeof *u);
  cb_set sets[3];
  cb_ws *ws[3];
  const double *Cs[3] = {C, C, C};
  double *ls[3] = {l, l + q, l + 2 * q}, *us[3] = {u, u + q, u + 2 * q};
  cb_error err = {0};
  for (int t = 0; t < 3; t++) {
    sets[t] = *s;
    if (t != 1) {
      for (size_t j = 0; j < n; j++) {   /* inside the clip box: a nonempty set */
        double c = s->center[j] + rnd(-0.3, 0.3);
        x[(size_t)t * n + j] = s->lo ? fmin(fmax(c, s->lo[j]), s->hi[j]) : c;
      }
      sets[t].center = x + (size_t)t * n;
    }
    assert_non_null(ws[t] = ws_new(bn, &sets[t], &err));
    ws[t]->single = g_single;
  }
  if (bounds_run_batch(ws, 3, m, NULL, NULL, NULL, &err) != CB_OK || bounds_spec_batch(ws, 3, Cs, q, ls, us, &err) != CB_OK)
    fail_msg("%s batched: %s", tag, err.msg);
  if (m != CB_ALPHA_CROWN && !g_single && !ws[1]->rows_batched) fail_msg("%s method %d: no stacked pass ran", tag, (int)m);
  for (size_t r = 0; r < q; r++) {
    double dl = fabs(ls[1][r] - lb[r]) / (1 + fabs(lb[r])), du = fabs(us[1][r] - ub[r]) / (1 + fabs(ub[r]));
    g_batch_diff = fmax(g_batch_diff, fmax(dl, du));
    if (!(dl <= 1e-9 && du <= 1e-9))
      fail_msg("%s method %d row %zu: batched [%.17g, %.17g], unbatched [%.17g, %.17g]", tag, (int)m, r, ls[1][r], us[1][r], lb[r], ub[r]);
    lb[r] = ls[1][r];
    ub[r] = us[1][r];
  }
  for (int t = 0; t < 3; t++) ws_free(ws[t]);
  free(x); free(l); free(u);
}

static void run_case(const cb_net *net, const cb_bnet *bn, const tcase *t, long *pts, long *chk, const char *tag)
{
  size_t no = cb_net_output_size(net), q = no + 3, N = 10000;
  double *C = calloc(q * no, sizeof *C), *lb = malloc(4 * q * sizeof *lb), *ub = malloc(4 * q * sizeof *ub);
  double *X = malloc(N * t->n * sizeof *X), *Y = malloc(N * no * sizeof *Y);
  cb_set s = {t->norm, t->eps, t->n, t->x0, t->clip ? t->lo : NULL, t->clip ? t->hi : NULL};
  cb_method meth[4] = {CB_IBP, CB_CROWN, CB_CROWN_IBP, CB_ALPHA_CROWN};
  checker ck = {{lb, lb + q, lb + 2 * q, lb + 3 * q}, {ub, ub + q, ub + 2 * q, ub + 3 * q}, C, q, no, 0, 0};
  cb_error err = {0};
  for (size_t k = 0; k < no; k++) C[k * no + k] = 1;
  for (size_t k = no; k < q; k++) { size_t a = (size_t)rnd(0, (double)no), b = (a + 1) % no; C[k * no + a] = 1; C[k * no + b] = -1; }
  for (int m = 0; m < 4; m++) {
    cb_ws *ws = ws_new(bn, &s, &err);
    assert_non_null(ws);
    ws->single = g_single;
    if (bounds_run(ws, meth[m], &err) != CB_OK || bounds_spec(ws, C, q, lb + (size_t)m * q, ub + (size_t)m * q, &err) != CB_OK)
      fail_msg("%s: %s", tag, err.msg);
    if (g_batch) batched_case(bn, &s, meth[m], C, q, lb + (size_t)m * q, ub + (size_t)m * q, tag);
    for (size_t r = 0; r < q; r++) if (!(lb[(size_t)m * q + r] <= ub[(size_t)m * q + r])) fail_msg("%s method %d row %zu: lb %.17g > ub %.17g", tag, m, r, lb[(size_t)m * q + r], ub[(size_t)m * q + r]);
    ws_free(ws);
  }
  /* alpha-CROWN starts from CROWN's lines and keeps its best; in binary32 its first pass (per-row lines,
     other gathers) rounds differently from CROWN's, within the slack's order (gamma32 ~ 1e-5) */
  double tol = g_single ? 1e-4 : 1e-9;
  for (size_t r = 0; r < q; r++)
    if (!(lb[3 * q + r] >= lb[q + r] - tol * (1 + fabs(lb[q + r])) && ub[3 * q + r] <= ub[q + r] + tol * (1 + fabs(ub[q + r]))))
      fail_msg("%s row %zu: alpha-CROWN [%.17g, %.17g] looser than CROWN [%.17g, %.17g]", tag, r, lb[3 * q + r], ub[3 * q + r], lb[q + r], ub[q + r]);
  for (size_t k = 0; k < N; k++) sample(t, X + k * t->n, (int)k);
  assert_int_equal(cb_net_forward(net, X, N, Y, &err), CB_OK);
  check_points(&ck, Y, N, tag);
  for (size_t r = 0; r < q; r++) { attack(&ck, net, t, r, 1, tag); attack(&ck, net, t, r, -1, tag); }
  *pts += ck.points;
  *chk += ck.checks;
  free(C); free(lb); free(ub); free(X); free(Y);
}

static void sound_net_p(cb_net *net, const char *name, int single)
{
  static const double radii[3] = {0.01, 0.1, 0.5};
  static const cb_norm norms[4] = {CB_NORM_INF, CB_NORM_2, CB_NORM_1, CB_NORM_INF};
  size_t n = cb_net_input_size(net);
  double *x0 = malloc(n * sizeof *x0), *lo = malloc(n * sizeof *lo), *hi = malloc(n * sizeof *hi);
  long pts = 0, chk = 0;
  cb_bnet bn;
  cb_error err = {0};
  char tag[128];
  g_single = single;
  net->output = net->n - 1;
  if (net_check(net, &err) != CB_OK) fail_msg("%s: %s", name, err.msg);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  for (int c = 0; c < 4; c++)
    for (int e = 0; e < 3; e++) {
      tcase t = {norms[c], c == 3, radii[e], x0, lo, hi, n};
      for (size_t j = 0; j < n; j++) { x0[j] = rnd(-0.5, 0.5); lo[j] = -0.5; hi[j] = 0.5; }
      snprintf(tag, sizeof tag, "%s norm %d%s eps %g", name, c, c == 3 ? " clipped" : "", radii[e]);
      run_case(net, &bn, &t, &pts, &chk, tag);
    }
  printf("%s: 12 sets, %ld points, %ld point-bound checks, 0 outside\n", name, pts, chk);
  bnet_free(&bn);
  free(x0); free(lo); free(hi);
  cb_net_free(net);
  g_single = 0;
}

static void sound_net(cb_net *net, const char *name) { sound_net_p(net, name, 0); }

/* alpha-CROWN's iterates, recorded by on_iterate: per iterate, every node's
   bounds (the intermediate ones its optimised slopes gave) and the rows' bounds. */
typedef struct iterates {
  size_t tot, q;             /* doubles of all nodes' bounds; rows */
  int n, cap;
  double *lo, *hi, *out;     /* n x tot, n x tot, n x q */
  int *upper;
} iterates;

static void record(void *ctx, const cb_ws *ws, int it, int upper, const double *out)
{
  iterates *R = ctx;
  size_t o = 0;
  (void)it;
  assert_true(R->n < R->cap);
  for (int i = 0; i < ws->net->n; i++, o += ws->net->node[i - 1].size) {
    memcpy(R->lo + (size_t)R->n * R->tot + o, ws->lo[i], ws->net->node[i].size * sizeof(double));
    memcpy(R->hi + (size_t)R->n * R->tot + o, ws->hi[i], ws->net->node[i].size * sizeof(double));
  }
  memcpy(R->out + (size_t)R->n * R->q, out, R->q * sizeof *out);
  R->upper[R->n++] = upper;
}

/* Every recorded iterate against the points X (m of them): each node's value in
   its bounds, each row's value below its bound; tolerance 0.  Returns checks. */
static long check_iterates(const cb_net *net, const iterates *R, const double *C, const double *X, size_t m, const char *tag)
{
  double **v = fwd_alloc(net, m);
  size_t no = cb_net_output_size(net);
  long checks = 0;
  cb_error err = {0};
  assert_non_null(v);
  memcpy(v[0], X, m * net->node[0].size * sizeof *X);
  assert_int_equal(fwd_all(net, m, v, &err), CB_OK);
  for (int k = 0; k < R->n; k++) {
    size_t o = 0;
    for (int i = 0; i < net->n; o += net->node[i].size, i++)
      for (size_t p = 0; p < m; p++)
        for (size_t e = 0; e < net->node[i].size; e++, checks++) {
          double x = v[i][p * net->node[i].size + e], l = R->lo[(size_t)k * R->tot + o + e], h = R->hi[(size_t)k * R->tot + o + e];
          if (!(l <= x && x <= h)) fail_msg("%s iterate %d node %d neuron %zu: value %.17g outside [%.17g, %.17g]", tag, k, i, e, x, l, h);
        }
    for (size_t p = 0; p < m; p++)
      for (size_t r = 0; r < R->q; r++, checks++) {
        double y = 0;
        for (size_t j = 0; j < no; j++) y += C[r * no + j] * v[net->output][p * no + j];
        if (!R->upper[k]) y = -y;
        if (!(y <= R->out[(size_t)k * R->q + r]))
          fail_msg("%s iterate %d row %zu (%s): value %.17g above its bound %.17g", tag, k, r, R->upper[k] ? "upper" : "lower", y, R->out[(size_t)k * R->q + r]);
      }
  }
  fwd_free(v);
  return checks;
}

/* Projected sign-gradient ascent (finite differences) on dir * c . value(node);
   its 12 iterates go to P (12 x n). */
static void attack_node(const cb_net *net, const tcase *t, int node, const double *c, double dir, double *P)
{
  size_t n = t->n, sz = net->node[node].size;
  double **v = fwd_alloc(net, 2 * n + 1), h = 1e-6, step = t->eps / 4, *x = P;
  cb_error err = {0};
  assert_non_null(v);
  sample(t, x, 1);
  for (int it = 0; it < 12; it++, step *= 0.8) {
    if (it) { memcpy(P + (size_t)it * n, x, n * sizeof *x); x = P + (size_t)it * n; }
    for (size_t j = 0; j < 2 * n + 1; j++) memcpy(v[0] + j * n, x, n * sizeof *x);
    for (size_t j = 0; j < n; j++) { v[0][(1 + 2 * j) * n + j] += h; v[0][(2 + 2 * j) * n + j] -= h; }
    assert_int_equal(fwd_all(net, 2 * n + 1, v, &err), CB_OK);
    for (size_t j = 0; j < n; j++) {
      double d = 0;
      for (size_t e = 0; e < sz; e++) d += c[e] * (v[node][(1 + 2 * j) * sz + e] - v[node][(2 + 2 * j) * sz + e]);
      x[j] += t->norm == CB_NORM_INF ? step * (dir * d > 0 ? 1 : dir * d < 0 ? -1 : 0) : step * dir * d;
    }
    project(t, x);
  }
  fwd_free(v);
}

/*
** alpha-CROWN's intermediate slopes (one set per start node and neuron) on
** deep random ReLU nets, with and without a final ReLU: every iterate's
** intermediate bounds and row bounds (on_iterate), lower and upper, must
** hold 10^4 sampled points of the set and the iterates of an attack on every
** row and every intermediate neuron (both directions); tolerance 0.  Also the
** optimised bound is never looser than CROWN's (iteration 0).
*/
static void iterates_case(const cb_net *net, const cb_bnet *bn, const tcase *t, const char *tag, long *pts, long *chk,
                          long *moved)
{
  size_t no = cb_net_output_size(net), q = no + 2, n = t->n, N = 10000, tot = 0, m = 0;
  double *C = calloc(q * no, sizeof *C), lb[8], ub[8], clb[8], cub[8];
  cb_set s = {t->norm, t->eps, n, t->x0, t->clip ? t->lo : NULL, t->clip ? t->hi : NULL};
  cb_alpha_opt o;
  cb_error err = {0};
  iterates R = {0};
  cb_ws *ws = ws_new(bn, &s, &err);
  double *X;
  int iters = alpha_auto_iters(net);
  for (int i = 0; i < net->n; i++) tot += net->node[i].size;
  for (int i = 0; i < net->n; i++) if (crown_refines(net, i)) m += 24 * net->node[i].size;   /* attack points */
  X = malloc((N + m + 24 * q) * n * sizeof *X);
  R.tot = tot; R.q = q; R.cap = 2 * iters;
  R.lo = malloc((size_t)R.cap * tot * sizeof(double)); R.hi = malloc((size_t)R.cap * tot * sizeof(double));
  R.out = malloc((size_t)R.cap * q * sizeof(double)); R.upper = malloc((size_t)R.cap * sizeof(int));
  for (size_t k = 0; k < no; k++) C[k * no + k] = 1;
  for (size_t k = no; k < q; k++) { C[k * no + k - no] = 1; C[k * no + (k - no + 1) % no] = -1; }
  assert_non_null(ws);
  if (bounds_run(ws, CB_ALPHA_CROWN, &err) != CB_OK || crown_spec(ws, C, q, 0, clb, cub, &err) != CB_OK) fail_msg("%s: %s", tag, err.msg);
  alpha_opt_init(&o);
  o.on_iterate = record;
  o.ctx = &R;
  if (alpha_spec(ws, C, q, &o, lb, ub, &err) != CB_OK) fail_msg("%s: %s", tag, err.msg);
  assert_int_equal(R.n, 2 * iters);
  for (int k = 1; k < R.n; k++)   /* the intermediate slopes moved some intermediate bound */
    for (size_t e = 0; e < tot; e++) *moved += R.lo[(size_t)k * tot + e] != R.lo[e] || R.hi[(size_t)k * tot + e] != R.hi[e];
  for (size_t r = 0; r < q; r++)
    if (!(lb[r] >= clb[r] - 1e-9 * (1 + fabs(clb[r])) && ub[r] <= cub[r] + 1e-9 * (1 + fabs(cub[r]))))
      fail_msg("%s row %zu: alpha-CROWN [%.17g, %.17g] looser than CROWN [%.17g, %.17g]", tag, r, lb[r], ub[r], clb[r], cub[r]);
  for (size_t k = 0; k < N; k++) sample(t, X + k * n, (int)k);
  m = N;
  for (int i = 0; i < net->n; i++) {
    size_t sz = net->node[i].size;
    double *c = calloc(sz, sizeof *c);
    if (!crown_refines(net, i)) { free(c); continue; }
    for (size_t e = 0; e < sz; e++, c[e - 1] = 0)
      for (int d = -1; d <= 1; d += 2, m += 12) { c[e] = 1; attack_node(net, t, i, c, d, X + m * n); }
    free(c);
  }
  for (size_t r = 0; r < q; r++)
    for (int d = -1; d <= 1; d += 2, m += 12) attack_node(net, t, net->output, C + r * no, d, X + m * n);
  *chk += check_iterates(net, &R, C, X, m, tag);
  *pts += (long)m;
  ws_free(ws);
  free(C); free(X); free(R.lo); free(R.hi); free(R.out); free(R.upper);
}

static void test_alpha_iterates(void **st)
{
  static const cb_norm norms[3] = {CB_NORM_INF, CB_NORM_2, CB_NORM_INF};
  static const double radii[3] = {0.3, 0.8, 1.0};
  (void)st;
  for (int v = 0; v < 2; v++) {
    cb_net *net = net_deep(6, 10, v == 0, v == 1);
    size_t n = cb_net_input_size(net);
    double x0[4], lo[4], hi[4];
    long pts = 0, chk = 0, moved = 0;
    cb_bnet bn;
    cb_error err = {0};
    char tag[128];
    net->output = net->n - 1;
    if (net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
    assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
    assert_int_equal(alpha_auto_iters(net), 40);   /* 6 relaxed layers (7 with the final ReLU) */
    for (int c = 0; c < 3; c++) {
      tcase t = {norms[c], c == 2, radii[c], x0, lo, hi, n};
      for (size_t j = 0; j < n; j++) { x0[j] = rnd(-0.5, 0.5); lo[j] = -0.6; hi[j] = 0.6; }
      snprintf(tag, sizeof tag, "deep%s norm %d%s eps %g", v ? " relu-out" : " leaky", c, c == 2 ? " clipped" : "", radii[c]);
      iterates_case(net, &bn, &t, tag, &pts, &chk, &moved);
    }
    printf("deep%s: 3 sets x 80 iterates (40 lower, 40 upper), %ld intermediate bounds moved from CROWN's, %ld points,"
           " %ld point-bound checks, 0 outside\n", v ? " relu-out" : " leaky", moved, pts, chk);
    assert_true(moved > 0);
    bnet_free(&bn);
    cb_net_free(net);
  }
}

/*
** alpha-CROWN at products (relax_mul_mix): for random boxes (mixed signs,
** one-signed, a point side, wide and tiny scales) and random weights (in
** [0, 1], at 0 and 1, beyond [0, 1] and NaN: clamped), every vertex and
** 40 sampled points (x, y) of the box satisfy lo <= x y <= up in exact
** rational arithmetic (GMP: a double is a rational exactly), tolerance 0.
** Weights 1 give relax_mul's planes bit for bit (CROWN's, iteration 0).
*/
static int plane_side(mpq_t xy, const mul_line *L, double x, double y, mpq_t a, mpq_t b)
{
  mpq_set_d(a, L->wx); mpq_set_d(b, x); mpq_mul(a, a, b);
  mpq_set_d(b, L->wy); mpq_set_d(xy, y); mpq_mul(b, b, xy);
  mpq_add(a, a, b);
  mpq_set_d(b, L->c); mpq_add(a, a, b);   /* the plane at (x, y) */
  mpq_set_d(xy, x); mpq_set_d(b, y); mpq_mul(xy, xy, b);
  return mpq_cmp(xy, a);                  /* sign of x y - plane */
}

static void test_mul_mix(void **st)
{
  mpq_t xy, a, b;
  long planes = 0, pts = 0;
  (void)st;
  mpq_init(xy); mpq_init(a); mpq_init(b);
  for (int c = 0; c < 6000; c++) {
    double sc = c % 4 == 0 ? 1e-6 : c % 4 == 1 ? 1e3 : 1, v[4], rl, ru;
    mul_line lo, up, lo1, up1;
    for (int k = 0; k < 4; k++) v[k] = sc * rnd(-2, 2);
    if (c % 5 == 1) v[0] = fabs(v[0]), v[1] = fabs(v[1]);   /* x >= 0 */
    if (c % 7 == 2) v[2] = -fabs(v[2]), v[3] = -fabs(v[3]);   /* y <= 0 */
    if (c % 11 == 3) v[1] = v[0];                              /* a point side */
    double xl = fmin(v[0], v[1]), xu = fmax(v[0], v[1]), yl = fmin(v[2], v[3]), yu = fmax(v[2], v[3]);
    rl = c % 6 == 0 ? 0 : c % 6 == 1 ? 1 : c % 6 == 2 ? rnd(-1, 2) : c % 6 == 3 ? NAN : urand(&seed);
    ru = c % 9 == 0 ? 0 : c % 9 == 1 ? 1 : c % 9 == 2 ? rnd(-1, 2) : urand(&seed);
    assert_true(relax_mul_mix(xl, xu, yl, yu, rl, ru, &lo, &up));
    assert_true(relax_mul_mix(xl, xu, yl, yu, 1, 1, &lo1, &up1) && relax_mul(xl, xu, yl, yu, &lo, &up) &&
                !memcmp(&lo1, &lo, sizeof lo) && !memcmp(&up1, &up, sizeof up));
    assert_true(relax_mul_mix(xl, xu, yl, yu, rl, ru, &lo, &up));
    planes += 2;
    for (int k = 0; k < 44; k++) {
      double x = k < 4 ? (k & 1 ? xu : xl) : xl + (xu - xl) * urand(&seed);
      double y = k < 4 ? (k & 2 ? yu : yl) : yl + (yu - yl) * urand(&seed);
      if (x > xu) x = xu;
      if (y > yu) y = yu;
      if (plane_side(xy, &lo, x, y, a, b) < 0 || plane_side(xy, &up, x, y, a, b) > 0)
        fail_msg("box [%.17g, %.17g] x [%.17g, %.17g] weights %g %g: (%.17g, %.17g) outside the planes", xl, xu, yl, yu, rl, ru, x, y);
      pts++;
    }
  }
  mpq_clear(xy); mpq_clear(a); mpq_clear(b);
  printf("mixed McCormick planes: %ld planes, %ld exact point checks, 0 on the wrong side\n", planes, pts);
}

/*
** alpha-CROWN at Exp: the lower line is the tangent at any p (relax_param_
** range's [l, u]; outside it is projected), with relax_convex's margin:
** for random boxes (narrow to wide, scores up to 700) and tangent points,
** exp(x) >= line at 300 points of [l, u] and its ends in long double;
** the range's p0 gives CROWN's line bit for bit.
*/
static void test_exp_tangents(void **st)
{
  int64_t d[2] = {1, 1};
  cb_net *net = start(2, d);
  int i = net_add_act(net, CB_ACT_EXP, "e", "test", 0, &(cb_error){0});
  long lines = 0, pts = 0;
  (void)st;
  assert_true(i >= 0);
  for (int c = 0; c < 4000; c++) {
    const cb_node *n = &net->node[i];
    double l = c % 3 == 0 ? rnd(-40, 10) : c % 3 == 1 ? rnd(-700, 700) : rnd(-2, 2), w, pmin, pmax, p0, lw, lb, uw, ub, cw, cb;
    double u = l + (c % 4 == 0 ? rnd(0, 1e-6) : c % 4 == 1 ? rnd(0, 30) : rnd(0, 3)), p;
    if (u > 709) u = 709;
    if (relax_param_range(n, l, u, 1, &pmin, &pmax, &p0) >= 0) fail_msg("exp's upper chord has no parameter");
    if (relax_param_range(n, l, u, 0, &pmin, &pmax, &p0) < 0) continue;
    relax_node(n, l, u, &lw, &lb, &uw, &ub);
    relax_param_line(n, l, u, 0, p0, &cw, &cb);
    if (cw != lw || cb != lb) fail_msg("exp [%.17g, %.17g]: p0's line is not CROWN's", l, u);
    for (int k = 0; k < 6; k++) {
      p = k == 0 ? pmin : k == 1 ? pmax : k == 2 ? pmin - 1 : k == 3 ? pmax + 5 : pmin + (pmax - pmin) * urand(&seed);
      relax_param_line(n, l, u, 0, p, &w, &cb);
      lines++;
      for (int j = -2; j <= 300; j++) {
        long double x = j == -2 ? l : j == -1 ? u : l + (u - l) * (j / 300.0L);
        if (x > u) x = u;
        if (!(expl(x) >= (long double)w * x + cb))
          fail_msg("exp [%.17g, %.17g] tangent point %.17g: line %.17g x + %.17g above exp at %.17Lg", l, u, p, w, cb, x);
        pts++;
      }
    }
  }
  cb_net_free(net);
  printf("exp tangents: %ld lines, %ld long double checks, 0 above exp\n", lines, pts);
  assert_true(lines > 10000);
}

/*
** alpha-CROWN on the attention nets (products of activations with mixed
** McCormick planes, Exp tangents, Pow slopes): every iterate's node boxes
** and row bounds hold 10^4 sampled points and the attacks (iterates_case,
** tolerance 0), and the optimised planes act: over the sets some row is
** tighter than with CROWN's planes kept (fixed_mul).
*/
static void test_alpha_attention(void **st)
{
  static const cb_norm norms[3] = {CB_NORM_INF, CB_NORM_2, CB_NORM_INF};
  static const double radii[3] = {0.1, 0.3, 0.5};
  (void)st;
  for (int v = 0; v < 2; v++) {
    cb_net *net = net_attention(v);
    size_t n, no;
    double x0[8], lo[8], hi[8], *C, lb[2][8], ub[2][8];
    long pts = 0, chk = 0, moved = 0, tighter = 0;
    cb_bnet bn;
    cb_error err = {0};
    char tag[128];
    net->output = net->n - 1;
    n = cb_net_input_size(net);
    no = cb_net_output_size(net);
    C = calloc(no * no, sizeof *C);
    assert_true(n <= 8 && no <= 8);
    if (net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
    assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
    for (size_t k = 0; k < no; k++) C[k * no + k] = 1;
    for (int c = 0; c < 3; c++) {
      tcase t = {norms[c], c == 2, radii[c], x0, lo, hi, n};
      cb_set s = {t.norm, t.eps, n, x0, c == 2 ? lo : NULL, c == 2 ? hi : NULL};
      for (size_t j = 0; j < n; j++) { x0[j] = rnd(-0.5, 0.5); lo[j] = -0.6; hi[j] = 0.6; }
      snprintf(tag, sizeof tag, "attention%s norm %d%s eps %g", v ? " (log-softmax)" : "", c, c == 2 ? " clipped" : "", radii[c]);
      iterates_case(net, &bn, &t, tag, &pts, &chk, &moved);
      for (int f = 0; f < 2; f++) {
        cb_alpha_opt o;
        cb_ws *ws = ws_new(&bn, &s, &err);
        assert_non_null(ws);
        alpha_opt_init(&o);
        o.fixed_mul = f;
        if (bounds_run(ws, CB_ALPHA_CROWN, &err) != CB_OK || alpha_spec(ws, C, no, &o, lb[f], ub[f], &err) != CB_OK)
          fail_msg("%s: %s", tag, err.msg);
        ws_free(ws);
      }
      for (size_t r = 0; r < no; r++) tighter += (lb[0][r] > lb[1][r]) + (ub[0][r] < ub[1][r]);
    }
    printf("attention%s: 3 sets, alpha-CROWN iterates: %ld intermediate bounds moved, %ld points, %ld checks, 0 outside; "
           "%ld of %zu row bounds tighter with optimised product planes\n", v ? " (log-softmax)" : "", moved, pts, chk,
           tighter, 6 * no);
    assert_true(moved > 0);
    assert_true(tighter > 0);
    bnet_free(&bn);
    cb_net_free(net);
    free(C);
  }
}

/* The deep nets through the whole property test (every method, 12 sets). */
static void test_deep(void **st)
{
  (void)st;
  sound_net(net_deep(6, 10, 1, 0), "deep leaky");
  sound_net(net_deep(6, 10, 0, 1), "deep relu-out");
}

static void test_dense(void **st) { (void)st; sound_net(net_dense(), "dense"); }
static void test_conv(void **st) { (void)st; sound_net(net_conv(), "conv"); }
static void test_residual(void **st) { (void)st; sound_net(net_residual(), "residual"); }
static void test_groupsort(void **st) { (void)st; sound_net(net_groupsort(), "groupsort"); }
static void test_products(void **st) { (void)st; sound_net(net_products(), "products"); }
static void test_attention(void **st)
{
  (void)st;
  sound_net(net_attention(0), "attention");
  sound_net(net_attention(1), "attention (log-softmax)");
}
/* The softmax's product form (bounds.c softmax_product): after CROWN, every
   node's box holds m sampled points of the set (tolerance 0: the softmax
   output, its reshaped and transposed views whose CROWN box keeps it, and
   everything after), and the softmax output's box is strictly inside
   [1 / hi(S), 1 / lo(S)] (the sum form's own box) on `tight` ends: the new
   form acted.  Returns the number of such ends. */
static long softmax_forms_case(const cb_net *net, const cb_bnet *bn, const tcase *t, size_t m, const char *tag)
{
  cb_set s = {t->norm, t->eps, t->n, t->x0, t->clip ? t->lo : NULL, t->clip ? t->hi : NULL};
  cb_error err = {0};
  cb_ws *ws = ws_new(bn, &s, &err);
  double **v = fwd_alloc(net, m);
  long tight = 0;
  assert_non_null(ws);
  assert_non_null(v);
  if (bounds_run(ws, CB_CROWN, &err) != CB_OK) fail_msg("%s: %s", tag, err.msg);
  for (size_t k = 0; k < m; k++) sample(t, v[0] + k * t->n, (int)k);
  assert_int_equal(fwd_all(net, m, v, &err), CB_OK);
  for (int i = 0; i < net->n; i++) {
    int64_t B;
    int x;
    size_t sz = net->node[i].size;
    for (size_t p = 0; p < m; p++)
      for (size_t e = 0; e < sz; e++) {
        double y = v[i][p * sz + e];
        if (!(ws->lo[i][e] <= y && y <= ws->hi[i][e]))
          fail_msg("%s node %d (%s) entry %zu: value %.17g outside [%.17g, %.17g]", tag, i, node_kind_name(&net->node[i]), e, y,
                   ws->lo[i][e], ws->hi[i][e]);
      }
    if (crown_softmax_rows(net, i, &B, &x)) {
      int S = net->node[i].in[0];
      for (size_t e = 0; e < sz; e++)
        tight += (ws->lo[i][e] > round_div_ru(1, ws->hi[S][e])) + (ws->hi[i][e] < round_div_rd(1, ws->lo[S][e]));
    }
  }
  fwd_free(v);
  ws_free(ws);
  return tight;
}

static void test_softmax_forms(void **st)
{
  static const double radii[3] = {0.01, 0.1, 0.5};
  static const cb_norm norms[4] = {CB_NORM_INF, CB_NORM_2, CB_NORM_1, CB_NORM_INF};
  cb_net *net = net_attention(0);
  size_t n = cb_net_input_size(net);
  double *x0 = malloc(n * sizeof *x0), *lo = malloc(n * sizeof *lo), *hi = malloc(n * sizeof *hi);
  long tight = 0;
  cb_bnet bn;
  cb_error err = {0};
  char tag[128];
  (void)st;
  net->output = net->n - 1;
  if (net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  for (int rep = 0; rep < 3; rep++)
    for (int c = 0; c < 4; c++)
      for (int e = 0; e < 3; e++) {
        tcase t = {norms[c], c == 3, radii[e], x0, lo, hi, n};
        for (size_t j = 0; j < n; j++) { x0[j] = rnd(-0.5, 0.5); lo[j] = -0.5; hi[j] = 0.5; }
        snprintf(tag, sizeof tag, "softmax forms norm %d%s eps %g", c, c == 3 ? " clipped" : "", radii[e]);
        tight += softmax_forms_case(net, &bn, &t, 2000, tag);
      }
  bnet_free(&bn);
  cb_net_free(net);
  free(x0); free(lo); free(hi);
  printf("attention: 36 sets x 2000 points, every node's CROWN box, 0 outside; %ld softmax ends tighter than 1/S's\n", tight);
  assert_true(tight > 0);
  /* The tiny ViT (where the product form tightens the margins against auto_LiRPA): rows 0 and 4, eps 0.001 and 0.003 */
  {
    cb_data *d;
    long vt = 0;
    net = must_load("tests/data/vit/vit_digits.onnx");
    n = cb_net_input_size(net);
    if (cb_data_load_csv("tests/data/vit/vit_digits.in.csv", n, &d, &err) != CB_OK) fail_msg("%s", err.msg);
    assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
    for (int r = 0; r < 2; r++)
      for (int e = 0; e < 2; e++) {
        tcase t = {CB_NORM_INF, 0, e ? 0.003 : 0.001, (double *)cb_data_x(d, r ? 4 : 0), NULL, NULL, n};
        snprintf(tag, sizeof tag, "vit row %d eps %g", r ? 4 : 0, t.eps);
        vt += softmax_forms_case(net, &bn, &t, 200, tag);
      }
    printf("vit_digits: 4 sets x 200 points, every node's CROWN box, 0 outside; %ld softmax ends tighter than 1/S's\n", vt);
    assert_true(vt > 0);
    bnet_free(&bn);
    cb_data_free(d);
    cb_net_free(net);
  }
}

/* review11: the product form on extreme scores.  net_attention's Q, K and V
   maps scaled by f (scores ~ f^2: near one-hot softmax rows, exp of scores
   near under/overflow), on degenerate (eps 0), tiny and huge sets, clipped
   boxes with lo = hi sides; every node's CROWN box against sampled points,
   tolerance 0 (softmax_forms_case), and at eps 0 the softmax box against
   exact.c's enclosure of the real value.  Sets whose IBP boxes leave Pow's
   domain or overflow Exp are refused by name (counted, not bounded). */
static void test_softmax_extreme(void **st)
{
  static const double scale[5] = {0.01, 1, 4, 12, 25};
  static const double radii[6] = {0, 1e-12, 1e-6, 1e-3, 0.3, 3};
  long tight = 0, ran = 0, refused = 0, exact_pts = 0;
  (void)st;
  for (int f = 0; f < 5; f++) {
    cb_net *net = net_attention(0);
    size_t n = cb_net_input_size(net);
    double *x0 = malloc(n * sizeof *x0), *lo = malloc(n * sizeof *lo), *hi = malloc(n * sizeof *hi);
    cb_bnet bn;
    cb_error err = {0};
    char tag[160];
    for (int i = 1; i < net->n; i++)
      if (net->node[i].kind == CB_AFFINE && net->node[i].in[0] == 0)
        for (size_t k = 0; k < net->node[i].p.aff.out * net->node[i].p.aff.in; k++) net->node[i].p.aff.W[k] *= scale[f];
    net->output = net->n - 1;
    if (net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
    assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
    for (int c = 0; c < 4; c++)
      for (int e = 0; e < 6; e++) {
        tcase t = {c == 3 ? CB_NORM_INF : (cb_norm)c, c == 3, radii[e], x0, lo, hi, n};
        for (size_t j = 0; j < n; j++) {
          x0[j] = rnd(-1, 1);
          lo[j] = j % 3 ? x0[j] - radii[e] / 2 : x0[j];   /* every third side lo = hi = x0 */
          hi[j] = j % 3 ? x0[j] + radii[e] / 3 : x0[j];
        }
        if (c < 3) t.norm = c == 0 ? CB_NORM_INF : c == 1 ? CB_NORM_2 : CB_NORM_1;
        snprintf(tag, sizeof tag, "softmax extreme scale %g norm %d%s eps %g", scale[f], c, c == 3 ? " clipped" : "", radii[e]);
        {   /* IBP's sum of exps spanning decades can leave Pow's domain (a refusal, not a bound): counted */
          cb_set cs = {t.norm, t.eps, t.n, t.x0, t.clip ? t.lo : NULL, t.clip ? t.hi : NULL};
          cb_ws *ws = ws_new(&bn, &cs, &err);
          int rc;
          assert_non_null(ws);
          rc = bounds_run(ws, CB_CROWN, &err);
          if (rc == CB_OK && radii[e] == 0)   /* a point: the softmax box against the exact enclosure (exact.c) */
            for (int i = 0; i < net->n; i++) {
              int64_t B;
              int xs, out = net->output;
              cb_exact *ex = NULL;
              if (!crown_softmax_rows(net, i, &B, &xs)) continue;
              net->output = i;
              if (exact_eval(net, x0, &ex, &err) != CB_OK) fail_msg("%s: %s", tag, err.msg);
              net->output = out;
              for (size_t k = 0; k < net->node[i].size; k++) {
                double a, b;
                exact_output(ex, k, &a, &b);
                if (ws->hi[i][k] < a || ws->lo[i][k] > b)
                  fail_msg("%s: softmax entry %zu box [%.17g, %.17g] misses the exact enclosure [%.17g, %.17g]", tag, k,
                           ws->lo[i][k], ws->hi[i][k], a, b);
                exact_pts++;
              }
              exact_free(ex);
            }
          ws_free(ws);
          if (rc == CB_EUNSUP && (strstr(err.msg, "outside its domain") || strstr(err.msg, "overflows"))) { refused++; continue; }
          if (rc != CB_OK) fail_msg("%s: %s", tag, err.msg);
        }
        tight += softmax_forms_case(net, &bn, &t, 500, tag);
        ran++;
      }
    bnet_free(&bn);
    cb_net_free(net);
    free(x0); free(lo); free(hi);
  }
  printf("softmax extreme: %ld of 120 sets x 500 points, 0 outside (%ld refused: Pow's input box leaves its domain, Exp overflows); %ld product-form ends tighter; "
         "%ld softmax entries at eps 0 inside their exact enclosures\n", ran, refused, tight, exact_pts);
  assert_true(ran >= 80 && tight > 0 && exact_pts > 0);
}

/* review11's hazard: on a wide set the softmax denominator 1 + sum_j exp(d_j)
   got an IBP box below 0 (the centre/radius form's slack, of the size of the
   largest exp), so Pow -1 / Log refused the set.  Now every denominator's
   box lies above 0 (ibp.c nonneg_floor), no set is refused for leaving a
   domain (an Exp that overflows still is, by name), and every node's box
   (IBP and CROWN) holds 300 sampled points, tolerance 0. */
static void test_softmax_wide(void **st)
{
  static const double radii[4] = {1, 2, 3, 4}, scale[2] = {1, 2};
  long ran = 0, overflow = 0;
  (void)st;
  for (int lf = 0; lf < 2; lf++)
    for (int f = 0; f < 2; f++) {
      cb_net *net = net_attention(lf);
      size_t n = cb_net_input_size(net), m = 300;
      double *x0 = malloc(n * sizeof *x0);
      cb_bnet bn;
      cb_error err = {0};
      for (int i = 1; i < net->n; i++)
        if (net->node[i].kind == CB_AFFINE && net->node[i].in[0] == 0)
          for (size_t k = 0; k < net->node[i].p.aff.out * net->node[i].p.aff.in; k++) net->node[i].p.aff.W[k] *= scale[f];
      net->output = net->n - 1;
      if (net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
      assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
      for (size_t j = 0; j < n; j++) x0[j] = rnd(-1, 1);
      for (int e = 0; e < 4; e++)
        for (int meth = 0; meth < 2; meth++) {
          tcase t = {CB_NORM_INF, 0, radii[e], x0, NULL, NULL, n};
          cb_set cs = {CB_NORM_INF, radii[e], n, x0, NULL, NULL};
          cb_ws *ws = ws_new(&bn, &cs, &err);
          double **v = fwd_alloc(net, m);
          int rc;
          assert_non_null(ws);
          assert_non_null(v);
          rc = bounds_run(ws, meth ? CB_CROWN : CB_IBP, &err);
          if (rc == CB_EUNSUP && strstr(err.msg, "overflows")) overflow++;
          else if (rc != CB_OK)
            fail_msg("log %d scale %g eps %g %s: %s", lf, scale[f], radii[e], meth ? "CROWN" : "IBP", err.msg);
          else {
            for (size_t k = 0; k < m; k++) sample(&t, v[0] + k * n, (int)k);
            assert_int_equal(fwd_all(net, m, v, &err), CB_OK);
            for (int i = 0; i < net->n; i++) {
              const cb_node *nd = &net->node[i];
              if (nd->kind == CB_ACT && (nd->p.act.type == CB_ACT_POW || nd->p.act.type == CB_ACT_LOG))
                for (size_t k = 0; k < net->node[nd->in[0]].size; k++)
                  if (!(ws->lo[nd->in[0]][k] > 0))
                    fail_msg("log %d scale %g eps %g: denominator box [%g, %g] reaches 0", lf, scale[f], radii[e],
                             ws->lo[nd->in[0]][k], ws->hi[nd->in[0]][k]);
              for (size_t p = 0; p < m; p++)
                for (size_t k = 0; k < nd->size; k++) {
                  double y = v[i][p * nd->size + k];
                  if (!(ws->lo[i][k] <= y && y <= ws->hi[i][k]))
                    fail_msg("log %d scale %g eps %g %s node %d (%s) entry %zu: %.17g outside [%.17g, %.17g]", lf, scale[f],
                             radii[e], meth ? "CROWN" : "IBP", i, node_kind_name(nd), k, y, ws->lo[i][k], ws->hi[i][k]);
                }
            }
            ran++;
          }
          fwd_free(v);
          ws_free(ws);
        }
      bnet_free(&bn);
      cb_net_free(net);
      free(x0);
    }
  printf("softmax wide: %ld of 32 sets x 300 points inside every box, tolerance 0 (%ld refused: Exp overflows)\n", ran, overflow);
  assert_true(ran >= 24);
}

/* review11: act_shape_offset's lines (GELU, GELU_TANH, SiLU, HardSwish, Log,
   Pow; the concave pieces' touching point by regula falsi) against a long
   double reference of f at 501 points of [l, u] (its ends, and both
   neighbours of every breakpoint inside), for random intervals (wide, ulp
   wide, l = u, around the breakpoints and the dips) and slopes (f' at random
   points, 0, beyond f's range): s x + b >= f(x) (upper), <= (lower),
   evaluated in long double, tolerance 0.  The touching point x0 of a
   concave piece moved anywhere in it keeps every line valid (the slope
   terms), and without them a moved x0 fails here (mutants, review11). */
static long double ref_f(cb_act a, double p, long double x)
{
  switch (a) {
  case CB_ACT_GELU: return 0.5L * x * erfcl(-x / sqrtl(2.0L));
  case CB_ACT_GELU_TANH: return x / (1 + expl(-2 * (long double)0.79788456080286541 * (x + (long double)0.044715 * x * x * x)));
  case CB_ACT_SILU: return x / (1 + expl(-x));
  case CB_ACT_HARD_SWISH: return x <= -3 ? 0 : x >= 3 ? x : x * (x + 3) / 6;
  case CB_ACT_LOG: return logl(x);
  default: return p == 2 ? x * x : p == -1 ? 1 / x : p == 0.5 ? sqrtl(x) : powl(x, (long double)p);
  }
}

static void test_shape_lines(void **st)
{
  static const cb_act acts[6] = {CB_ACT_GELU, CB_ACT_GELU_TANH, CB_ACT_SILU, CB_ACT_HARD_SWISH, CB_ACT_LOG, CB_ACT_POW};
  static const double pows[6] = {2, 3, -1, -2, 0.5, 1.5};
  long lines = 0, pts = 0;
  (void)st;
  for (int ai = 0; ai < 11; ai++) {
    int64_t d[2] = {1, 1};
    cb_net *net = start(2, d);
    cb_act a = acts[ai < 5 ? ai : 5];
    double p = ai < 5 ? 0 : pows[ai - 5];
    int pos = a == CB_ACT_LOG || (a == CB_ACT_POW && p != floor(p)) || (a == CB_ACT_POW && p < 0);
    int i = net_add_act(net, a, "a", "test", 0, &(cb_error){0});
    const cb_node *n;
    assert_true(i >= 0);
    if (a == CB_ACT_POW) net->node[i].p.act.alpha = p;
    n = &net->node[i];
    for (int c = 0; c < 1500; c++) {
      double l, u, w, s, b, sl;
      int kind = c % 6;
      /* interval: wide, narrow, l = u, an ulp, around -0.75 / -1.28 / +-3, huge */
      l = pos ? exp(rnd(-8, 4)) : rnd(-6, 4);
      w = kind == 0 ? rnd(0, 8) : kind == 1 ? rnd(0, 1e-3) : kind == 2 ? 0 : kind == 3 ? 0 : kind == 4 ? rnd(0, 2) : rnd(0, 60);
      if (kind == 3) { u = nextafter(l, HUGE_VAL); w = u - l; }
      if (kind == 4 && !pos) l = (c / 6) % 4 == 0 ? -0.75 - w / 2 : (c / 6) % 4 == 1 ? -1.28 - w / 2 : (c / 6) % 4 == 2 ? -3 - w / 2 : 3 - w / 2;
      if (kind == 5 && !pos) l = rnd(-40, 0);
      u = l + w;
      if (u < l) u = l;
      /* slope: f' somewhere in [l, u] (the tangents), 0, or beyond */
      sl = node_act(n)->df(n, l + (u - l) * urand(&seed), 0);
      s = c % 5 == 0 ? 0 : c % 5 == 1 ? sl * rnd(0.5, 1.5) + rnd(-0.1, 0.1) : sl;
      if (!isfinite(s)) continue;
      for (int upper = 0; upper < 2; upper++) {
        b = act_shape_offset(n, s, l, u, upper, NULL);
        if (!isfinite(b)) continue;
        lines++;
        for (int k = -4; k <= 500; k++) {
          long double x, fx, line;
          if (k == -4) x = l;
          else if (k == -3) x = u;
          else if (k < 0) { double bp = k == -2 ? -3 : 3; x = nextafter(bp, k == -2 ? -HUGE_VAL : HUGE_VAL); if (!(x >= l && x <= u)) continue; }
          else x = l + (u - l) * ((double)k / 500.0);
          if (x < l || x > u) continue;
          fx = ref_f(a, p, x);
          line = (long double)s * x + b;
          if (upper ? !(fx <= line) : !(fx >= line))
            fail_msg("%s p %g [%.17g, %.17g] slope %.17g %s offset %.17g: f(%.17Lg) = %.20Lg, line %.20Lg", cb_act_table[a].name, p, l, u,
                     s, upper ? "upper" : "lower", b, x, fx, line);
          pts++;
        }
      }
    }
    cb_net_free(net);
  }
  printf("shape lines: %ld lines, %ld point checks in long double, 0 on the wrong side\n", lines, pts);
  assert_true(lines > 25000);
}

/* Issue 19: the ONNX loader's LayerNorm and selections (tests/data/gen_vit.py
   ln_ops: the decomposed LayerNorm, ReduceSum/Mean over two axes, ReduceL2,
   Slice, Gather, Expand, Where, broadcasting Sub, Concat with a constant;
   ln17: opset-17 LayerNormalization, Add of two activations, Concat with a
   constant). */
static void test_ln_ops(void **st)
{
  (void)st;
  sound_net(must_load("tests/data/vit/ln_ops.onnx"), "ln_ops (onnx)");
  sound_net(must_load("tests/data/vit/ln17.onnx"), "ln17 (onnx)");
}
/* Issue 19: Resize in linear mode (tests/data/gen_resize.py): bilinear
   upsampling exported by torch, align_corners (inexact weights k/9, rel_err),
   nn.Upsample (exact 1/4, 3/4), asymmetric with scale 1.5 (thirds). */
static void test_resize_linear(void **st)
{
  (void)st;
  sound_net(must_load("tests/data/resize/bilinear_ac.onnx"), "bilinear_ac (onnx)");
  sound_net(must_load("tests/data/resize/upsample.onnx"), "upsample (onnx)");
  sound_net(must_load("tests/data/resize/bilinear_asym.onnx"), "bilinear_asym (onnx)");
}
static void test_resconv(void **st) { (void)st; sound_net(net_resconv_hw(8), "resconv"); }   /* receptive-field pass through ADDs */

/* Every activation of the table (act.h) in a dense net of its own, and in one
   whose output is that activation (alpha-CROWN's final pass then optimises
   its lines too): a new activation is covered here with no change to this file. */
static void test_every_activation(void **st)
{
  (void)st;
  for (int a = 0; a < CB_ACT_COUNT; a++)
    for (int out = 0; out < 2; out++) {
      int64_t d[2] = {1, 5};
      cb_net *net = start(2, d);
      char name[64];
      int i = act(net, dense(net, 0, 10), (cb_act)a);
      i = act(net, dense(net, i, 8), (cb_act)a);
      i = dense(net, i, 4);
      if (out) act(net, i, (cb_act)a);
      snprintf(name, sizeof name, "%s%s", cb_act_table[a].name, out ? " (output)" : "");
      sound_net(net, name);
    }
}

/* Pow with the exponents ONNX exports produce (Sqrt 1/2, Reciprocal -1, the
   square of a variance 2, odd and negative integers, a fractional one), each
   behind an Exp when its domain needs x > 0. */
static void test_pow(void **st)
{
  static const double pw[6] = {3, 0.5, -1, -2, 1.5, 4};
  (void)st;
  for (int k = 0; k < 6; k++) {
    int64_t d[2] = {1, 5};
    cb_net *net = start(2, d);
    char name[64];
    int i = dense(net, 0, 8);
    if (!(pw[k] == floor(pw[k]) && pw[k] > 0)) i = act(net, i, CB_ACT_EXP);
    i = act(net, i, CB_ACT_POW);
    net->node[i].p.act.alpha = pw[k];
    dense(net, i, 3);
    net->output = net->n - 1;
    snprintf(name, sizeof name, "POW %g", pw[k]);
    sound_net(net, name);
  }
}

/* An Exp whose box overflows (pre-activations up to ~1e3) is refused by name
   under every method: no infinite bound reaches a margin, so no false verified. */
static void test_exp_overflow_refused(void **st)
{
  int64_t d[2] = {1, 5};
  cb_net *net = start(2, d);
  double x0[5] = {0};
  cb_set s = {CB_NORM_INF, 1000, 5, x0, NULL, NULL};
  cb_method meth[5] = {CB_IBP, CB_CROWN, CB_CROWN_IBP, CB_ALPHA_CROWN, CB_FWDLIN};
  cb_bnet bn;
  cb_error err = {0};
  (void)st;
  dense(net, act(net, dense(net, 0, 4), CB_ACT_EXP), 2);
  net->output = net->n - 1;
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  for (int m = 0; m < 5; m++) {
    cb_ws *ws = ws_new(&bn, &s, &err);
    assert_non_null(ws);
    assert_int_equal(bounds_run(ws, meth[m], &err), CB_EUNSUP);
    assert_non_null(strstr(err.msg, "overflows"));
    ws_free(ws);
  }
  bnet_free(&bn);
  cb_net_free(net);
}

/* A deep ReLU MLP with negative-leaning biases (many neurons off on a
   ball), behind a Flatten of an image-shaped input: the nets where CROWN
   skips work.  Deep layers get more dead neurons. */
static cb_net *net_deep_relu(void)
{
  int64_t d[4] = {1, 1, 3, 4};
  cb_net *net = start(4, d);
  int i = flatten(net, 0);
  for (int l = 0; l < 6; l++) {
    i = dense(net, i, 32);
    for (size_t e = 0; e < 32; e++) net->node[i].p.aff.b[e] -= 0.15;
    i = act(net, i, CB_ACT_RELU);
  }
  dense(net, i, 5);
  return net;
}

/* The same with convolutions (the receptive-field pass refines the second
   conv's neurons), then a dense head. */
static cb_net *net_conv_relu(void)
{
  int64_t d[4] = {1, 2, 8, 8};
  cb_net *net = start(4, d);
  int i = act(net, conv(net, 0, 4, 3, 1, 1, 1, 1), CB_ACT_RELU);
  i = conv(net, i, 6, 3, 2, 1, 1, 1);
  for (int c = 0; c < 6; c++) net->node[i].p.conv.b[c] -= 0.3;
  i = act(net, i, CB_ACT_RELU);
  i = dense(net, flatten(net, i), 24);
  for (size_t e = 0; e < 24; e++) net->node[i].p.aff.b[e] -= 0.2;
  dense(net, act(net, i, CB_ACT_RELU), 4);
  return net;
}

/* Bound only what matters (issue 24): CROWN that skips the zero columns of
   A (ReLUs proved off) and the lower bounds of neurons whose upper bound
   proves them off, the Flatten that hands its matrix down uncopied, against
   the same pass with every column and both sides (no_skip): the logit bounds
   agree to reduction-order rounding (1e-12 relative), every upper bound of
   every node agrees, and work was skipped (else this test would prove
   nothing).  Then the sampling + attack soundness check of all methods. */
static void skip_net(cb_net *net, const char *name)
{
  size_t n = cb_net_input_size(net), no;
  double *x0 = malloc(n * sizeof *x0), I[25] = {0}, lb[2][5], ub[2][5], **hi0 = NULL;
  double skipped_flops = 0;
  size_t skipped_rows = 0;
  cb_bnet bn;
  cb_error err = {0};
  net->output = net->n - 1;
  no = cb_net_output_size(net);
  assert_true(no <= 5);
  assert_int_equal(net_check(net, &err), CB_OK);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  hi0 = calloc((size_t)net->n, sizeof *hi0);
  for (int i = 0; i < net->n; i++) hi0[i] = malloc(net->node[i].size * sizeof **hi0);
  for (size_t k = 0; k < no; k++) I[k * no + k] = 1;
  for (int c = 0; c < 8; c++) {
    cb_set s = {c % 2 ? CB_NORM_2 : CB_NORM_INF, c % 2 ? 0.6 : 0.15, n, x0, NULL, NULL};
    for (size_t j = 0; j < n; j++) x0[j] = rnd(-1, 1);
    for (int v = 0; v < 2; v++) {
      cb_ws *ws = ws_new(&bn, &s, &err);
      assert_non_null(ws);
      ws->no_skip = v;
      if (bounds_run(ws, CB_CROWN, &err) != CB_OK || bounds_spec(ws, I, no, lb[v], ub[v], &err) != CB_OK) fail_msg("%s", err.msg);
      if (v == 0) {
        skipped_flops += ws->flops_skipped;
        skipped_rows += ws->rows_skipped;
        for (int i = 1; i < net->n; i++) memcpy(hi0[i], ws->hi[i], net->node[i].size * sizeof **hi0);
      } else {
        assert_true(ws->flops_skipped == 0 && ws->rows_skipped == 0);
        for (int i = 1; i < net->n; i++)
          for (size_t e = 0; e < net->node[i].size; e++)
            if (!(fabs(hi0[i][e] - ws->hi[i][e]) <= 1e-12 * fmax(1, fabs(ws->hi[i][e]))))
              fail_msg("%s case %d node %d neuron %zu: upper bound %.17g skipping, %.17g not", name, c, i, e, hi0[i][e], ws->hi[i][e]);
      }
      ws_free(ws);
    }
    for (size_t k = 0; k < no; k++)
      if (!(fabs(lb[0][k] - lb[1][k]) <= 1e-12 * fmax(1, fabs(lb[1][k])) && fabs(ub[0][k] - ub[1][k]) <= 1e-12 * fmax(1, fabs(ub[1][k]))))
        fail_msg("%s case %d logit %zu: [%.17g, %.17g] skipping, [%.17g, %.17g] not", name, c, k, lb[0][k], ub[0][k], lb[1][k], ub[1][k]);
  }
  printf("%s: 8 sets, %.3g matmul FLOPs and %zu lower-bound rows skipped, bounds as without skipping\n", name, skipped_flops, skipped_rows);
  assert_true(skipped_rows > 0);
  if (!strcmp(name, "deep ReLU")) assert_true(skipped_flops > 0);
  for (int i = 0; i < net->n; i++) free(hi0[i]);
  free(hi0);
  free(x0);
  bnet_free(&bn);
  sound_net(net, name);
}

/* A normalisation prefix (x - m) / s per channel, as two SCALE nodes, before
   a padded CONV; then ReLU and a dense head. */
static cb_net *net_prefix(int dense_first)
{
  int64_t d[4] = {1, 3, 5, 5};
  cb_net *net = start(4, d);
  int i = 0;
  for (int t = 0; t < 2; t++) {
    int s = add_node(net, CB_SCALE, i, 4, net->node[i].shape.dim);
    net->node[s].p.scale.a = net_doubles(net, 75);
    net->node[s].p.scale.b = net_doubles(net, 75);
    for (int c = 0; c < 3; c++) {
      double a = t ? 1 / (0.2 + 0.1 * c) : 1, b = t ? 0 : -(0.4 + 0.05 * c);
      for (int e = 0; e < 25; e++) { net->node[s].p.scale.a[c * 25 + e] = a; net->node[s].p.scale.b[c * 25 + e] = b; }
    }
    if (t) net->node[s].rel_err = ROUND_U;   /* 1 / s is rounded */
    i = s;
  }
  i = dense_first ? act(net, dense(net, flatten(net, i), 10), CB_ACT_RELU) : flatten(net, act(net, conv(net, i, 4, 3, 1, 1, 1, 1), CB_ACT_RELU));
  dense(net, act(net, dense(net, i, 8), CB_ACT_RELU), 3);
  return net;
}

/* Exact input sets through affine prefixes (issue 24): an L2 / L1 ball seen
   through a normalisation is a weighted ball, so IBP's bound of the first
   weighted node is the weighted dual norm, equal to CROWN's (which is exact
   there) to 1e-9; before, IBP took the box of the ball's image and was far
   looser.  Then the sampling + attack soundness check of all methods. */
static void test_affine_prefix(void **st)
{
  (void)st;
  for (int df = 0; df < 2; df++) {
    cb_net *net = net_prefix(df);
    size_t n = cb_net_input_size(net);
    double *x0 = malloc(n * sizeof *x0), worst = 0;
    int first = 4;   /* after INPUT, 2 SCALEs and the Flatten (dense) / the CONV (conv) */
    cb_bnet bn;
    cb_error err = {0};
    net->output = net->n - 1;
    assert_int_equal(net_check(net, &err), CB_OK);
    assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
    if (!df) first = 3;
    assert_true(net->node[first].kind == (df ? CB_AFFINE : CB_CONV));
    for (int c = 0; c < 6; c++) {
      cb_set s = {c % 2 ? CB_NORM_1 : CB_NORM_2, c % 2 ? 0.3 : 0.15, n, x0, NULL, NULL};
      cb_ws *wi = ws_new(&bn, &s, &err), *wc = ws_new(&bn, &s, &err);
      for (size_t j = 0; j < n; j++) x0[j] = rnd(0, 1);
      wi->set.center = wc->set.center = x0;
      if (bounds_run(wi, CB_IBP, &err) != CB_OK || bounds_run(wc, CB_CROWN, &err) != CB_OK) fail_msg("%s", err.msg);
      for (size_t e = 0; e < net->node[first].size; e++) {
        double dl = fabs(wi->lo[first][e] - wc->lo[first][e]), dh = fabs(wi->hi[first][e] - wc->hi[first][e]);
        double tol = 1e-9 * (1 + fabs(wc->hi[first][e] - wc->lo[first][e]));
        if (fmax(dl, dh) > worst) worst = fmax(dl, dh);
        if (!df && !(dl <= tol && dh <= tol)) {   /* conv: per-channel scales, so the kernel bound is CROWN's at interior pixels */
          const cb_conv *g = &net->node[first].p.conv.g;
          size_t pix = e % (size_t)(g->hout * g->wout), oi = pix / (size_t)g->wout, oj = pix % (size_t)g->wout;
          if (oi == 0 || oj == 0 || oi + 1 == (size_t)g->hout || oj + 1 == (size_t)g->wout) continue;   /* borders: IBP's is looser (whole kernel) */
          fail_msg("prefix conv case %d neuron %zu: IBP [%.17g, %.17g], CROWN [%.17g, %.17g]", c, e, wi->lo[first][e], wi->hi[first][e], wc->lo[first][e], wc->hi[first][e]);
        }
        if (df && !(dl <= tol && dh <= tol))
          fail_msg("prefix dense case %d neuron %zu: IBP [%.17g, %.17g], CROWN [%.17g, %.17g]", c, e, wi->lo[first][e], wi->hi[first][e], wc->lo[first][e], wc->hi[first][e]);
      }
      ws_free(wi);
      ws_free(wc);
    }
    printf("normalisation prefix (%s): IBP's first-layer bounds = CROWN's (worst gap %.2g)\n", df ? "dense" : "conv", worst);
    free(x0);
    bnet_free(&bn);
    sound_net(net, df ? "prefix dense" : "prefix conv");
  }
}

static void test_skipping(void **st)
{
  (void)st;
  skip_net(net_deep_relu(), "deep ReLU");
  skip_net(net_conv_relu(), "conv ReLU");
}

/* --precision single (issue 24): CROWN's dense AFFINE products in binary32
   with u = 2^-24 in their slack.  On a deep ReLU MLP: the same 12 sets,
   10,000 points and attacks per set, every method, tolerance 0 (alpha-CROWN's
   passes run in binary32 too); single's bounds within 1e-3 relative of
   double's (the slack's cost), and binary32 did the products.  A net whose
   every W has an entry below binary32's normal range runs in double: the
   same bits as --precision double. */
static void single_net(cb_net *(*make)(void), const char *name)
{
  cb_net *net = make();
  size_t n = cb_net_input_size(net), no;
  double *x0 = malloc(n * sizeof *x0), I[25] = {0}, lb[2][5], ub[2][5], fs = 0, worst = 0;
  cb_bnet bn;
  cb_error err = {0};
  net->output = net->n - 1;
  no = cb_net_output_size(net);
  assert_int_equal(net_check(net, &err), CB_OK);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  for (size_t k = 0; k < no; k++) I[k * no + k] = 1;
  for (int c = 0; c < 6; c++) {
    cb_set st = {c % 2 ? CB_NORM_2 : CB_NORM_INF, c % 2 ? 0.4 : 0.1, n, x0, NULL, NULL};
    for (size_t j = 0; j < n; j++) x0[j] = rnd(-1, 1);
    for (int v = 0; v < 2; v++) {
      cb_ws *ws = ws_new(&bn, &st, &err);
      assert_non_null(ws);
      ws->single = v;
      if (bounds_run(ws, CB_CROWN, &err) != CB_OK || bounds_spec(ws, I, no, lb[v], ub[v], &err) != CB_OK) fail_msg("%s", err.msg);
      if (v) fs += ws->flops_single;
      ws_free(ws);
    }
    {   /* the net's shared binary32 weights (bnet_single, as the CLI) give the same bits */
      cb_bnet b2;
      double l2[5], u2[5];
      cb_ws *ws;
      assert_int_equal(bnet_init(&b2, net, &err), CB_OK);
      assert_int_equal(bnet_single(&b2, &err), CB_OK);
      assert_non_null(ws = ws_new(&b2, &st, &err));
      ws->single = 1;
      if (bounds_run(ws, CB_CROWN, &err) != CB_OK || bounds_spec(ws, I, no, l2, u2, &err) != CB_OK) fail_msg("%s", err.msg);
      assert_memory_equal(l2, lb[1], no * sizeof(double));
      assert_memory_equal(u2, ub[1], no * sizeof(double));
      ws_free(ws);
      bnet_free(&b2);
    }
    for (size_t k = 0; k < no; k++) {
      double dl = fabs(lb[1][k] - lb[0][k]) / fmax(1, ub[0][k] - lb[0][k]), du = fabs(ub[1][k] - ub[0][k]) / fmax(1, ub[0][k] - lb[0][k]);
      worst = fmax(worst, fmax(dl, du));
      if (!(dl <= 1e-3 && du <= 1e-3)) fail_msg("%s case %d logit %zu: single [%.17g, %.17g], double [%.17g, %.17g]", name, c, k, lb[1][k], ub[1][k], lb[0][k], ub[0][k]);
    }
  }
  printf("%s: single within %.2g of double (relative to the width), %.3g binary32 FLOPs\n", name, worst, fs);
  assert_true(fs > 0);
  free(x0);
  bnet_free(&bn);
  sound_net_p(net, name, 1);
}

/* Batched passes: the nets of test_dense, test_resconv (conv, residual
   ADDs, a dense head) and the deep ReLU chain, every method and set, their bounds
   from 3-workspace batches, checked at zero tolerance and against the
   unbatched bounds (batched_case). */
static void test_batched(void **st)
{
  (void)st;
  g_batch = 1;
  g_batch_diff = 0;
  sound_net(net_deep_relu(), "deep ReLU, batched");
  sound_net(net_dense(), "dense, batched");
  sound_net(net_resconv_hw(8), "resconv, batched");
  printf("batched vs unbatched: largest difference %.3g relative\n", g_batch_diff);
  g_batch = 0;
}

/* Batched subdomains (the API a branch and bound's batch uses): four
   ReLU splits of one set, each a prior (the parent's boxes with one unstable
   pre-activation neuron clamped to [0, u] or [l, 0]), bounded by
   bounds_run_batch + bounds_spec_batch: the same bounds as bounds_run_prior
   + bounds_spec per subdomain within 1e-9, and the passes stacked. */
static void test_batched_prior(void **st)
{
  cb_net *net = net_deep_relu();
  size_t n, no, tot = 0;
  double *x0, *I, *l[2], *u[2], *pool;
  double **plo[4], **phi[4];
  cb_ws *par, *ws[2][4];
  cb_bnet bn;
  cb_error err = {0};
  int k = -1;
  (void)st;
  net->output = net->n - 1;
  assert_int_equal(net_check(net, &err), CB_OK);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  n = cb_net_input_size(net);
  no = cb_net_output_size(net);
  x0 = malloc(n * sizeof *x0);
  I = calloc(no * no, sizeof *I);
  l[0] = malloc(8 * no * sizeof(double)); u[0] = l[0] + 4 * no; l[1] = malloc(8 * no * sizeof(double)); u[1] = l[1] + 4 * no;
  for (size_t j = 0; j < n; j++) x0[j] = rnd(-0.5, 0.5);
  for (size_t j = 0; j < no; j++) I[j * no + j] = 1;
  cb_set s = {CB_NORM_INF, 0.1, n, x0, NULL, NULL};
  assert_non_null(par = ws_new(&bn, &s, &err));
  assert_int_equal(bounds_run(par, CB_CROWN, &err), CB_OK);
  for (int i = 0; i < net->n; i++) tot += net->node[i].size;
  pool = malloc(8 * tot * sizeof *pool);
  for (int t = 0; t < 4; t++) {
    size_t o = 0;
    plo[t] = malloc((size_t)net->n * sizeof(double *));
    phi[t] = malloc((size_t)net->n * sizeof(double *));
    for (int i = 0; i < net->n; i++, o += net->node[i - 1].size) {
      plo[t][i] = pool + (size_t)(2 * t) * tot + o;
      phi[t][i] = pool + (size_t)(2 * t + 1) * tot + o;
      memcpy(plo[t][i], par->lo[i], net->node[i].size * sizeof(double));
      memcpy(phi[t][i], par->hi[i], net->node[i].size * sizeof(double));
    }
  }
  for (int i = 1; i < net->n && k < 0; i++)   /* the first re-bounded node with two unstable neurons */
    if (crown_refines(net, i)) {
      size_t c = 0;
      for (size_t e = 0; e < net->node[i].size; e++) c += par->lo[i][e] < 0 && par->hi[i][e] > 0;
      if (c >= 2) k = i;
    }
  assert_true(k > 0);
  for (int t = 0, e = 0; t < 4; t++) {   /* splits of the first two unstable neurons, both ways */
    size_t ui[2] = {0, 0}, c = 0;
    for (size_t j = 0; j < net->node[k].size && c < 2; j++) if (par->lo[k][j] < 0 && par->hi[k][j] > 0) ui[c++] = j;
    e = t / 2;
    if (t % 2) phi[t][k][ui[e]] = 0; else plo[t][k][ui[e]] = 0;
  }
  for (int v = 0; v < 2; v++)
    for (int t = 0; t < 4; t++) assert_non_null(ws[v][t] = ws_new(&bn, &s, &err));
  for (int t = 0; t < 4; t++)
    if (bounds_run_prior(ws[0][t], CB_CROWN, plo[t], phi[t], &err) != CB_OK ||
        bounds_spec(ws[0][t], I, no, l[0] + (size_t)t * no, u[0] + (size_t)t * no, &err) != CB_OK) fail_msg("%s", err.msg);
  {
    const double *Cs[4] = {I, I, I, I};
    double *ls[4], *us[4];
    for (int t = 0; t < 4; t++) { ls[t] = l[1] + (size_t)t * no; us[t] = u[1] + (size_t)t * no; }
    if (bounds_run_batch(ws[1], 4, CB_CROWN, plo, phi, NULL, &err) != CB_OK || bounds_spec_batch(ws[1], 4, Cs, no, ls, us, &err) != CB_OK)
      fail_msg("%s", err.msg);
  }
  for (size_t r = 0; r < 4 * no; r++)
    if (!(fabs(l[1][r] - l[0][r]) <= 1e-9 * (1 + fabs(l[0][r])) && fabs(u[1][r] - u[0][r]) <= 1e-9 * (1 + fabs(u[0][r]))))
      fail_msg("subdomain %zu logit %zu: batched [%.17g, %.17g], unbatched [%.17g, %.17g]", r / no, r % no, l[1][r], u[1][r], l[0][r], u[0][r]);
  for (int t = 0; t < 4; t++) {
    assert_true(ws[1][t]->rows_batched > 0);
    assert_true(ws[1][t]->flops <= ws[0][t]->flops * 1.125 + 1);   /* stacked only where the union does not cost more */
    printf("subdomain %d: %zu rows stacked, %.3g vs %.3g FLOPs unbatched\n", t, ws[1][t]->rows_batched, ws[1][t]->flops, ws[0][t]->flops);
  }
  for (int v = 0; v < 2; v++) for (int t = 0; t < 4; t++) ws_free(ws[v][t]);
  for (int t = 0; t < 4; t++) { free(plo[t]); free(phi[t]); }
  ws_free(par);
  free(pool); free(x0); free(I); free(l[0]); free(l[1]);
  bnet_free(&bn);
  cb_net_free(net);
}

static void test_single(void **st)
{
  cb_net *net;
  cb_bnet bn;
  cb_error err = {0};
  size_t n, no;
  double *x0, I[25] = {0}, lb[2][5], ub[2][5];
  (void)st;
  single_net(net_deep_relu, "deep ReLU, single");
  single_net(net_conv_relu, "conv ReLU, single");
  net = net_deep_relu();   /* every AFFINE with a subnormal-range weight: all in double */
  for (int i = 0; i < net->n; i++) if (net->node[i].kind == CB_AFFINE) net->node[i].p.aff.W[0] = 1e-40;
  net->output = net->n - 1;
  n = cb_net_input_size(net);
  no = cb_net_output_size(net);
  x0 = malloc(n * sizeof *x0);
  for (size_t j = 0; j < n; j++) x0[j] = rnd(-1, 1);
  for (size_t k = 0; k < no; k++) I[k * no + k] = 1;
  assert_int_equal(net_check(net, &err), CB_OK);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  for (int v = 0; v < 2; v++) {
    cb_set s = {CB_NORM_INF, 0.1, n, x0, NULL, NULL};
    cb_ws *ws = ws_new(&bn, &s, &err);
    assert_non_null(ws);
    ws->single = v;
    if (bounds_run(ws, CB_CROWN, &err) != CB_OK || bounds_spec(ws, I, no, lb[v], ub[v], &err) != CB_OK) fail_msg("%s", err.msg);
    assert_true(ws->flops_single == 0);
    ws_free(ws);
  }
  assert_memory_equal(lb[0], lb[1], no * sizeof(double));
  assert_memory_equal(ub[0], ub[1], no * sizeof(double));
  free(x0);
  bnet_free(&bn);
  cb_net_free(net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_dense), cmocka_unit_test(test_conv), cmocka_unit_test(test_residual), cmocka_unit_test(test_resconv),
    cmocka_unit_test(test_every_activation), cmocka_unit_test(test_pow), cmocka_unit_test(test_exp_overflow_refused),
    cmocka_unit_test(test_skipping), cmocka_unit_test(test_single), cmocka_unit_test(test_batched), cmocka_unit_test(test_batched_prior), cmocka_unit_test(test_affine_prefix),
    cmocka_unit_test(test_deep), cmocka_unit_test(test_alpha_iterates),
    cmocka_unit_test(test_groupsort),
    cmocka_unit_test(test_products),
    cmocka_unit_test(test_attention), cmocka_unit_test(test_softmax_forms), cmocka_unit_test(test_softmax_extreme), cmocka_unit_test(test_softmax_wide), cmocka_unit_test(test_shape_lines),
    cmocka_unit_test(test_mul_mix), cmocka_unit_test(test_exp_tangents), cmocka_unit_test(test_alpha_attention), cmocka_unit_test(test_ln_ops), cmocka_unit_test(test_resize_linear),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
