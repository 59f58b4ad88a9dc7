/*
** The MILP leaf (certify/vfy_milp.c) and the sound LP bound under it
** (lp_model_bound, bounds/lp.c):
**  - lp_model_bound, from GLPK's duals and from random multipliers, never
**    exceeds the objective at a feasible point, and never "proves" a
**    feasible LP infeasible (zero tolerance);
**  - on random ReLU nets with at most 12 ReLUs of unknown sign over the box
**    (CROWN boxes), the leaf's verdict on a random output conjunction equals
**    exhaustive enumeration: every phase pattern of those ReLUs gives an
**    affine net on its part of the box, and an LP (min over the box of the
**    largest of the rows and the pattern's sign constraints) says whether a
**    point of that part meets the rows; a pattern within 1e-9 of 0 makes the
**    instance a boundary case, where only wrong answers are checked (no
**    refutation with a sampled point meeting the rows).  Dense sampling
**    cross-checks the enumeration.  A sat answer's witness lies in the box
**    and meets the rows in the forward pass.  Right-hand sides come from
**    sampled row values (sat), below the rows' sampled minimum (mostly
**    unsat) and at the value at a vertex (boundary);
**  - inside verify's ReLU search on 72-input nets: the same answers with and
**    without the leaf, unsat survives sampling, refuted regions the audit;
**  - the CPU clock of certify's bab budget ignores a sleep, the wall clock
**    does not.
*/
#include <math.h>
#include <stdlib.h>
#include <time.h>
#include "testutil.h"
#include "bounds.h"
#include "forward.h"
#include "lp.h"
#include "vfy_int.h"
#include "verify.h"

static uint64_t seed = 4242;
static double rnd(double a, double b) { return a + (b - a) * urand(&seed); }

/* ---- lp_model_bound ---- */

static void test_lp_bound_sound(void **state)
{
  (void)state;
  for (int t = 0; t < 40; t++) {
    size_t m = 3 + (size_t)(t % 5), n = 2 + (size_t)(t % 4), np = 30, rp[16];
    int ci[128];
    double av[128], rl[16], ru[16], cl[8], cu[8], c[8], V[30 * 8], v[8], y[16], y2[16], obj, vmin = INFINITY;
    lp_model *M;
    for (size_t j = 0; j < n; j++) { cl[j] = rnd(-2, 0); cu[j] = cl[j] + rnd(0, 3); c[j] = rnd(-1, 1); }
    for (size_t p = 0; p < np; p++) for (size_t j = 0; j < n; j++) V[p * n + j] = rnd(cl[j], cu[j]);
    rp[0] = 0;
    for (size_t i = 0; i < m; i++) {
      double lo = INFINITY, hi = -INFINITY;
      for (size_t j = 0; j < n; j++) { ci[i * n + j] = (int)j; av[i * n + j] = rnd(-1, 1); }
      rp[i + 1] = (i + 1) * n;
      for (size_t p = 0; p < np; p++) {   /* the rows hold at every sampled point */
        double s = 0;
        for (size_t j = 0; j < n; j++) s += av[i * n + j] * V[p * n + j];
        lo = fmin(lo, s); hi = fmax(hi, s);
      }
      rl[i] = i % 3 == 0 ? -INFINITY : lo - 1e-3;
      ru[i] = i % 3 == 1 ? INFINITY : hi + 1e-3;
    }
    for (size_t p = 0; p < np; p++) {
      double s = 0;
      for (size_t j = 0; j < n; j++) s += c[j] * V[p * n + j];
      vmin = fmin(vmin, s);
    }
    assert_non_null(M = lp_model_new(m, n, rp, ci, av, rl, ru, cl, cu, c));
    assert_int_equal(lp_model_solve(M, v, y, &obj), 1);
    assert_true(lp_model_bound(M, y, 1) <= vmin);
    assert_true(lp_model_bound(M, y, 1) >= obj - 1e-6 * (1 + fabs(obj)));   /* GLPK's duals: tight */
    for (int k = 0; k < 50; k++) {
      for (size_t i = 0; i < m; i++) y2[i] = rnd(-3, 3);
      assert_true(lp_model_bound(M, y2, 1) <= vmin);
      assert_false(lp_model_bound(M, y2, 0) > 0);   /* feasible: no infeasibility "proof" */
    }
    lp_model_free(M);
  }
}

/* ---- the leaf against enumeration ---- */

static cb_net *start(size_t nx)
{
  cb_net *net = net_new("milp", "test");
  int64_t d[2] = {1, (int64_t)nx};
  cb_shape s;
  cb_error err = {0};
  shape_set(&s, 2, d);
  assert_int_equal(net_add(net, CB_INPUT, "x", "Input", NULL, 0, &s, &err), 0);
  return net;
}

static int dense(cb_net *net, int in, size_t out)
{
  size_t n = net->node[in].size;
  int64_t d[2] = {1, (int64_t)out};
  cb_shape s;
  cb_error err = {0};
  int i;
  shape_set(&s, 2, d);
  i = net_add(net, CB_AFFINE, "fc", "test", &in, 1, &s, &err);
  assert_true(i >= 0);
  net->node[i].p.aff.out = out; net->node[i].p.aff.in = n;
  net->node[i].p.aff.W = net_doubles(net, out * n);
  net->node[i].p.aff.b = net_doubles(net, out);
  for (size_t k = 0; k < out * n; k++) net->node[i].p.aff.W[k] = rnd(-1.5, 1.5) / sqrt((double)n);
  for (size_t k = 0; k < out; k++) net->node[i].p.aff.b[k] = rnd(-0.4, 0.4);
  net->node[i].exact = 1;
  net->output = i;
  return i;
}

static int relu(cb_net *net, int in)
{
  cb_error err = {0};
  int i = net_add_act(net, CB_ACT_RELU, "relu", "test", in, &err);
  assert_true(i >= 0);
  net->output = i;
  return i;
}

/* nx inputs, ReLU layers w1 and w2 (w2 = 0: one layer), 3 outputs. */
static cb_net *random_net(size_t nx, size_t w1, size_t w2)
{
  cb_net *net = start(nx);
  int i = relu(net, dense(net, 0, w1));
  if (w2) i = relu(net, dense(net, i, w2));
  dense(net, i, 3);
  return net;
}

typedef struct inst {     /* one instance: the net, its box and CROWN boxes, one conjunction */
  cb_net *net;
  cb_ws *ws;
  size_t nx, ny;
  const double *lo, *hi;
  vnn_conj k;
} inst;

/* The leaf's check in the test: x in the box, forward(x) meets every row (double). */
static int check_point(void *ctx, double *x)
{
  const inst *I = ctx;
  double y[3];
  cb_error err = {0};
  for (size_t j = 0; j < I->nx; j++) if (!(x[j] >= I->lo[j] && x[j] <= I->hi[j])) return 0;
  if (cb_net_forward(I->net, x, 1, y, &err) != CB_OK) return 0;
  for (size_t r = 0; r < I->k.m; r++) {
    double s = 0;
    for (size_t j = 0; j < I->ny; j++) s += I->k.A[r * I->ny + j] * y[j];
    if (!(s <= I->k.b_up[r])) return 0;
  }
  return 1;
}

/* The largest row of the conjunction at x, minus b (<= 0: x meets it). */
static double row_margin(const inst *I, const double *x)
{
  double y[3], worst = -INFINITY;
  cb_error err = {0};
  assert_int_equal(cb_net_forward(I->net, x, 1, y, &err), CB_OK);
  for (size_t r = 0; r < I->k.m; r++) {
    double s = -I->k.b_up[r];
    for (size_t j = 0; j < I->ny; j++) s += I->k.A[r * I->ny + j] * y[j];
    worst = fmax(worst, s);
  }
  return worst;
}

/*
** Enumeration: min over the 2^K phase patterns of the ReLUs of unknown sign
** of  min over the box of max(rows - b, -s_k z_k(x)),  with the pattern's
** affine net (z_k the pre-activations, s_k = +1 on, -1 off; stable ReLUs by
** their box).  <= 0 (up to GLPK's rounding): some point meets the rows.
*/
static double enumerate(const inst *I)
{
  const cb_net *net = I->net;
  size_t nx = I->nx, p1 = nx + 1, K = 0, rows_max = 64;
  int unk[64][2];
  double best = INFINITY;
  for (int i = 0; i < net->n; i++)
    if (node_is_act(&net->node[i], CB_ACT_RELU))
      for (size_t j = 0; j < net->node[i].size; j++) {
        int p = net->node[i].in[0];
        if (I->ws->lo[p][j] < 0 && I->ws->hi[p][j] > 0) { unk[K][0] = i; unk[K][1] = (int)j; K++; }
      }
  for (unsigned long pat = 0; pat < (1ul << K); pat++) {
    double *F[16] = {0}, a[64 * 8], c[64], x[8], l[64], t;
    size_t m = 0;
    for (int i = 0; i < net->n; i++) {   /* the affine form (nx coefficients, constant) of every node */
      const cb_node *nd = &net->node[i];
      F[i] = calloc(nd->size * p1, sizeof(double));
      if (nd->kind == CB_INPUT) { for (size_t j = 0; j < nx; j++) F[i][j * p1 + j] = 1; continue; }
      if (nd->kind == CB_AFFINE) {
        for (size_t o = 0; o < nd->size; o++) {
          F[i][o * p1 + nx] = nd->p.aff.b[o];
          for (size_t k = 0; k < nd->p.aff.in; k++)
            for (size_t e = 0; e < p1; e++) F[i][o * p1 + e] += nd->p.aff.W[o * nd->p.aff.in + k] * F[nd->in[0]][k * p1 + e];
        }
        continue;
      }
      for (size_t j = 0; j < nd->size; j++) {   /* ReLU */
        int p = nd->in[0], on = I->ws->lo[p][j] >= 0;
        for (size_t u = 0; u < K; u++) if (unk[u][0] == i && (size_t)unk[u][1] == j) {
          on = (int)(pat >> u & 1);
          for (size_t e = 0; e < nx; e++) a[m * nx + e] = (on ? -1 : 1) * F[p][j * p1 + e];
          c[m++] = (on ? -1 : 1) * F[p][j * p1 + nx];
        }
        if (on && !(I->ws->hi[p][j] <= 0)) memcpy(F[i] + j * p1, F[p] + j * p1, p1 * sizeof(double));
      }
    }
    for (size_t r = 0; r < I->k.m; r++, m++) {
      const double *Fy = F[net->output];
      for (size_t e = 0; e < nx; e++) { a[m * nx + e] = 0; for (size_t j = 0; j < I->ny; j++) a[m * nx + e] += I->k.A[r * I->ny + j] * Fy[j * p1 + e]; }
      c[m] = -I->k.b_up[r];
      for (size_t j = 0; j < I->ny; j++) c[m] += I->k.A[r * I->ny + j] * Fy[j * p1 + nx];
    }
    assert_true(m <= rows_max);
    assert_int_equal(lp_minmax(a, c, m, nx, I->lo, I->hi, x, l, &t), 1);
    best = fmin(best, t);
    for (int i = 0; i < net->n; i++) free(F[i]);
  }
  return best;
}

static void test_milp_vs_enumeration(void **state)
{
  int n_sat = 0, n_unsat = 0, n_boundary = 0, tried = 0;
  (void)state;
  for (int t = 0; t < 400 && tried < 90; t++) {
    size_t nx = 2 + (size_t)(t % 2), w1 = 4 + (size_t)(t % 4), w2 = t % 3 ? 3 + (size_t)(t % 3) : 0;
    cb_net *net = random_net(nx, w1, w2);
    double lo[3], hi[3], A[6], bu[2], bd[2], samp[3], x[3], ymin[2] = {INFINITY, INFINITY}, truth;
    unsigned char strict[2] = {0, 0};
    cb_bnet bn;
    cb_error err = {0};
    milp_stat st = {0};
    inst I = {.net = net, .nx = nx, .ny = 3, .lo = lo, .hi = hi};
    vfy_milp *P;
    int K = 0, res, kind = t % 3;
    for (size_t j = 0; j < nx; j++) { lo[j] = rnd(-1, 0.5); hi[j] = lo[j] + rnd(0.2, 1.5); }
    cb_set set = {CB_NORM_BOX, 0, nx, NULL, lo, hi};
    assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
    assert_non_null(I.ws = ws_new(&bn, &set, &err));
    assert_int_equal(bounds_run(I.ws, CB_CROWN, &err), CB_OK);
    for (int i = 0; i < net->n; i++)
      if (node_is_act(&net->node[i], CB_ACT_RELU))
        for (size_t j = 0; j < net->node[i].size; j++) K += I.ws->lo[net->node[i].in[0]][j] < 0 && I.ws->hi[net->node[i].in[0]][j] > 0;
    if (K > 12 || K < 1) goto next;
    tried++;
    I.k.m = 1 + (size_t)(t % 2);
    I.k.A = A; I.k.b_up = bu; I.k.b_dn = bd; I.k.strict = strict;
    for (size_t e = 0; e < I.k.m * 3; e++) A[e] = rnd(-1, 1);
    for (int s = 0; s < 400; s++) {   /* the rows' sampled minima */
      double y[3];
      for (size_t j = 0; j < nx; j++) samp[j] = rnd(lo[j], hi[j]);
      assert_int_equal(cb_net_forward(net, samp, 1, y, &err), CB_OK);
      for (size_t r = 0; r < I.k.m; r++) ymin[r] = fmin(ymin[r], A[r * 3] * y[0] + A[r * 3 + 1] * y[1] + A[r * 3 + 2] * y[2]);
    }
    for (size_t r = 0; r < I.k.m; r++) {
      if (kind == 0) bu[r] = ymin[r] + rnd(0, 0.3);            /* mostly sat */
      else if (kind == 1) bu[r] = ymin[r] - rnd(0.001, 0.2);   /* below every sample: often unsat */
      else {                                                    /* at a vertex's value: boundary */
        double y[3];
        for (size_t j = 0; j < nx; j++) samp[j] = (t >> j) & 1 ? hi[j] : lo[j];
        assert_int_equal(cb_net_forward(net, samp, 1, y, &err), CB_OK);
        bu[r] = A[r * 3] * y[0] + A[r * 3 + 1] * y[1] + A[r * 3 + 2] * y[2];
      }
      bd[r] = bu[r];
    }
    truth = enumerate(&I);
    assert_non_null(P = vfy_milp_new(net, I.ws, &I.k, 1, 3, 12, &err));
    assert_int_equal((int)vfy_milp_binaries(P), K);
    res = vfy_milp_conj(P, 0, vfy_now() + 30, 0, check_point, &I, x, &st);
    vfy_milp_free(P);
    for (int s = 0; s < 2000; s++) {   /* sampling agrees with the enumeration; no refutation of a met point */
      double mg;
      for (size_t j = 0; j < nx; j++) samp[j] = s < 8 ? ((s >> j) & 1 ? hi[j] : lo[j]) : rnd(lo[j], hi[j]);
      mg = row_margin(&I, samp);
      if (mg < -1e-12) {
        assert_true(truth < 1e-9);
        if (res == MILP_REFUTED) fail_msg("instance %d: refuted, but a sampled point meets the rows by %g", t, -mg);
      }
    }
    if (res == MILP_SAT) {
      assert_true(check_point(&I, x));
      assert_true(truth < 1e-9);
    }
    if (truth > 1e-9) { n_unsat++; if (res != MILP_REFUTED) fail_msg("instance %d: enumeration unsat (%g), leaf %d", t, truth, res); }
    else if (truth < -1e-9) { n_sat++; if (res != MILP_SAT) fail_msg("instance %d: enumeration sat (%g), leaf %d", t, truth, res); }
    else n_boundary++;
  next:
    ws_free(I.ws);
    bnet_free(&bn);
    cb_net_free(net);
  }
  print_message("milp vs enumeration: %d instances, %d sat, %d unsat, %d boundary\n", tried, n_sat, n_unsat, n_boundary);
  assert_true(n_sat >= 15);
  assert_true(n_unsat >= 15);
  assert_true(n_boundary >= 5);
}

/* A net the program does not encode (a sigmoid) is refused, not answered. */
static void test_milp_refuses(void **state)
{
  cb_net *net = start(2);
  cb_error err = {0};
  cb_bnet bn;
  double lo[2] = {0, 0}, hi[2] = {1, 1}, A[3] = {1, 0, 0}, b = 0;
  unsigned char st = 0;
  vnn_conj k = {1, A, &b, &b, &st, 0};
  int i = dense(net, 0, 3);
  (void)state;
  i = net_add_act(net, CB_ACT_SIGMOID, "s", "test", i, &err);
  net->output = i;
  cb_set set = {CB_NORM_BOX, 0, 2, NULL, lo, hi};
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  cb_ws *ws = ws_new(&bn, &set, &err);
  assert_int_equal(bounds_run(ws, CB_CROWN, &err), CB_OK);
  assert_false(vfy_milp_supported(net));
  assert_null(vfy_milp_new(net, ws, &k, 1, 3, 12, &err));
  assert_int_equal(err.status, CB_EUNSUP);
  ws_free(ws);
  bnet_free(&bn);
  cb_net_free(net);
}


/* ---- the leaf inside verify's ReLU search ---- */

#define HX 72             /* inputs: above VFY_LOW_DIM, where the search uses the leaf */

typedef struct audit_ctx { const cb_net *net; const double *tau; long regions, inside; } audit_ctx;

/* Every region the search refutes (the leaf's included): 500 points of its
   box, those inside its half-spaces by the forward pass, meet neither
   conjunction (Y_1 >= Y_0 + tau_0, Y_2 >= Y_0 + tau_1). */
static void audit(void *ctx, const vfy_region *g)
{
  audit_ctx *A = ctx;
  double **act = fwd_alloc(A->net, 1);
  cb_error err = {0};
  assert_non_null(act);
  if (g->tnode < 0) A->regions++;
  for (int k = 0; k < 500 && g->tnode < 0; k++) {
    int in = 1;
    const double *y;
    for (size_t j = 0; j < HX; j++) act[0][j] = rnd(g->lo[j], g->hi[j]);
    assert_int_equal(fwd_all(A->net, 1, act, &err), CB_OK);
    for (size_t s = 0; s < g->n && in; s++) in = g->sig[s] * act[A->net->node[g->node[s]].in[0]][g->idx[s]] >= 0;
    if (!in) continue;
    A->inside++;
    assert_true(g->conj != (size_t)-1);
    y = act[A->net->output];
    assert_false(y[1 + g->conj] >= y[0] + A->tau[g->conj]);
  }
  fwd_free(act);
}

/*
** Random nets over 72 inputs, the property "Y_1 >= Y_0 + tau_0 or
** Y_2 >= Y_0 + tau_1" on a small box, the taus around the sampled maxima
** (mostly just above: unsat or a rare witness): verify without the leaf and with it (milp_leaf 12) never
** disagree, every unsat survives sampling, every refuted region (the
** leaf's too) survives the audit, and the leaf decided regions itself.
*/
static void test_milp_in_search(void **state)
{
  int agree = 0, decided = 0;
  long leaf_closed = 0, leaf_calls = 0;
  (void)state;
  for (int t = 0; t < 16; t++) {
    cb_net *net = random_net(HX, 10, 8);
    double c[HX], eps = 0.05 + 0.03 * (t % 3), tau[2] = {-INFINITY, -INFINITY};
    char *text = malloc(20000);
    size_t n = 0;
    vnn_spec *sp = NULL;
    cb_error err = {0};
    vfy_result r[2];
    audit_ctx A = {net, tau, 0, 0};
    for (size_t j = 0; j < HX; j++) c[j] = rnd(-1, 1);
    for (size_t j = 0; j < HX; j++) n += (size_t)snprintf(text + n, 20000 - n, "(declare-const X_%zu Real)", j);
    n += (size_t)snprintf(text + n, 20000 - n, "(declare-const Y_0 Real)(declare-const Y_1 Real)(declare-const Y_2 Real)");
    for (size_t j = 0; j < HX; j++)
      n += (size_t)snprintf(text + n, 20000 - n, "(assert (>= X_%zu %.17g))(assert (<= X_%zu %.17g))", j, c[j] - eps, j, c[j] + eps);
    for (int s = 0; s < 300; s++) {   /* thresholds around the sampled maxima of Y_k - Y_0 */
      double x[HX], y[3];
      for (size_t j = 0; j < HX; j++) x[j] = rnd(c[j] - eps, c[j] + eps);
      assert_int_equal(cb_net_forward(net, x, 1, y, &err), CB_OK);
      tau[0] = fmax(tau[0], y[1] - y[0]);
      tau[1] = fmax(tau[1], y[2] - y[0]);
    }
    {   /* tau between the sampled maximum and CROWN's upper bound: neither decides it */
      double lo[HX], hi[HX], C[6] = {-1, 1, 0, -1, 0, 1}, lb[2], ub[2];
      cb_bnet bn;
      cb_ws *ws;
      for (size_t j = 0; j < HX; j++) { lo[j] = c[j] - eps; hi[j] = c[j] + eps; }
      cb_set set = {CB_NORM_BOX, 0, HX, NULL, lo, hi};
      assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
      assert_non_null(ws = ws_new(&bn, &set, &err));
      assert_int_equal(bounds_run(ws, CB_CROWN, &err), CB_OK);
      assert_int_equal(bounds_spec(ws, C, 2, lb, ub, &err), CB_OK);
      for (int k = 0; k < 2; k++) tau[k] += (t % 4 == 0 ? 0.1 : 0.4 + 0.1 * (t % 3)) * (ub[k] - tau[k]);
      ws_free(ws);
      bnet_free(&bn);
    }
    snprintf(text + n, 20000 - n, "(assert (or (and (>= Y_1 (+ Y_0 %.17g))) (and (>= Y_2 (+ Y_0 %.17g)))))", tau[0], tau[1]);
    assert_int_equal(vnn_parse_string(text, strlen(text), "t.vnnlib", &sp, &err), CB_OK);
    for (int k = 0; k < 2; k++) {
      vfy_opts o;
      vfy_opts_init(&o);
      o.timeout = 20;
      o.threads = 1;
      o.milp_leaf = k ? 12 : 0;
      o.beta_bab = 0;   /* the leaf lives in the depth-first ReLU search (beta-CROWN takes high dimension by default) */
      o.audit = audit;
      o.audit_ctx = &A;
      assert_int_equal(vfy_run(net, sp, &o, &r[k], &err), CB_OK);
    }
    assert_false(r[0].answer == V_VERIFIED && r[1].answer == V_FALSIFIED);
    assert_false(r[1].answer == V_VERIFIED && r[0].answer == V_FALSIFIED);
    agree += r[0].answer == r[1].answer;
    decided += r[1].answer == V_VERIFIED || r[1].answer == V_FALSIFIED;
    leaf_calls += r[1].prof.milp_calls;
    leaf_closed += r[1].prof.milp_closed;
    if (r[1].answer == V_VERIFIED || r[0].answer == V_VERIFIED)
      for (int s = 0; s < 3000; s++) {   /* unsat survives sampling */
        double x[HX], y[3];
        for (size_t j = 0; j < HX; j++) x[j] = rnd(c[j] - eps, c[j] + eps);
        assert_int_equal(cb_net_forward(net, x, 1, y, &err), CB_OK);
        assert_false(y[1] >= y[0] + tau[0] || y[2] >= y[0] + tau[1]);
      }
    for (int k = 0; k < 2; k++) vfy_result_free(&r[k]);
    vnn_free(sp);
    free(text);
    cb_net_free(net);
  }
  print_message("milp in the search: %d of 16 agree, %d decided with the leaf, %ld leaves (%ld closed)\n",
                agree, decided, leaf_calls, leaf_closed);
  assert_true(decided >= 8);
  assert_true(leaf_closed >= 3);
}

/*
** An ADD whose two addends are one column of the program: x + x, or
** relu(z) + z where z's box is >= 0 (a stable ReLU is z's own column).  The
** ADD's row then named that column twice, and GLPK aborts the process on a
** row with a duplicate column (glp_set_mat_row); it must hold one entry -2.
** z0 = x0 - x1 + 5 in [3, 7] on [-1, 1]^2, so y0 = relu(z0) + z0 = 2 z0 is in
** [6, 14] (attained at x = (-1, 1)), and y2 = 2 (0.3 x1 - x0 - 0.2) + ...:
** y0 <= 6 is met (sat), y0 <= 6 - 2^-20 nowhere (refuted).
*/
static void test_milp_add_one_column(void **state)
{
  (void)state;
  for (int form = 0; form < 2; form++)
    for (int tight = 0; tight < 2; tight++) {
      cb_net *net = start(2);
      static const double W[6] = {1, -1, 0.5, 1, -1, 0.3}, b[3] = {5, 0.1, -0.2};
      double lo[2] = {-1, -1}, hi[2] = {1, 1}, A[3] = {1, 0, 0}, bu = tight ? 6 : 6 - 0x1p-20, x[2];
      unsigned char strict = 0;
      cb_bnet bn;
      cb_error err = {0};
      milp_stat st = {0};
      int64_t d[2] = {1, 3};
      cb_shape s;
      inst I = {.net = net, .nx = 2, .ny = 3, .lo = lo, .hi = hi, .k = {1, A, &bu, &bu, &strict, 0}};
      int a = dense(net, 0, 3), r, in2[2], res;
      vfy_milp *P;
      for (int k = 0; k < 6; k++) net->node[a].p.aff.W[k] = W[k];
      for (int k = 0; k < 3; k++) net->node[a].p.aff.b[k] = b[k];
      r = relu(net, a);
      in2[0] = form ? a : r; in2[1] = a;   /* relu(z) + z, or z + z */
      shape_set(&s, 2, d);
      assert_true((net->output = net_add(net, CB_ADD, "add", "test", in2, 2, &s, &err)) >= 0);
      net->node[net->output].exact = 1;
      cb_set set = {CB_NORM_BOX, 0, 2, NULL, lo, hi};
      assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
      assert_non_null(I.ws = ws_new(&bn, &set, &err));
      assert_int_equal(bounds_run(I.ws, CB_CROWN, &err), CB_OK);
      assert_true(I.ws->lo[a][0] >= 0);   /* the stable neuron whose column is shared */
      assert_non_null(P = vfy_milp_new(net, I.ws, &I.k, 1, 3, 12, &err));
      res = vfy_milp_conj(P, 0, vfy_now() + 30, 0, check_point, &I, x, &st);
      vfy_milp_free(P);
      if (tight) {   /* met only at x = (-1, 1): sat or, at the boundary, open; never refuted */
        assert_int_not_equal(res, MILP_REFUTED);
        if (res == MILP_SAT) assert_true(check_point(&I, x));
      } else assert_int_equal(res, MILP_REFUTED);
      ws_free(I.ws);
      bnet_free(&bn);
      cb_net_free(net);
    }
}

/* vfy_opts.cpu_clock's clock (certify's bab budget): after vfy_clock_cpu(1)
   a sleep does not advance vfy_now (CPU time of this thread), after
   vfy_clock_cpu(0) it does (monotonic wall time). */
static void test_cpu_clock(void **state)
{
  struct timespec nap = {0, 200000000};
  double t0, t1;
  (void)state;
  vfy_clock_cpu(1);
  t0 = vfy_now();
  nanosleep(&nap, NULL);
  t1 = vfy_now();
  vfy_clock_cpu(0);
  assert_true(t1 - t0 < 0.1);
  t0 = vfy_now();
  nanosleep(&nap, NULL);
  assert_true(vfy_now() - t0 >= 0.19);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_lp_bound_sound),
    cmocka_unit_test(test_milp_vs_enumeration),
    cmocka_unit_test(test_milp_refuses),
    cmocka_unit_test(test_milp_add_one_column),
    cmocka_unit_test(test_milp_in_search),
    cmocka_unit_test(test_cpu_clock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
