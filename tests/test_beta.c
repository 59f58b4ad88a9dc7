/*
** beta-CROWN (bounds/alpha.c with split constraints): the bound of a row on
** a split region {x in box : sig_s xhat_s(x) >= 0 for every split s}, with
** the split neurons' input boxes clamped and the node boxes re-bounded from
** them, must hold at every point of the region, for every iterate of the
** optimisation and every beta >= 0 it starts from or moves to.  Checked on
** small random ReLU nets against dense samples of the region (points of the
** box filtered by the split half-spaces), zero tolerance.  Also: beta = 0
** (and a beta step of 0) gives alpha-CROWN's bound exactly; keep_interm's
** intersected intermediate boxes hold on the whole box; a warm start is
** returned per row.
*/
#include <math.h>
#include "randnet.h"
#include "bounds.h"
#include "forward.h"

#define NS 3000   /* samples of the box per case */

typedef struct region {
  const cb_net *net;
  double **act;           /* NS samples, every node's value */
  unsigned char *in;      /* NS: the sample lies in the region */
  size_t n_in;
  const double *C;        /* q x output rows */
  size_t q;
  long checks, iterates;
  double worst;           /* smallest bound minus sampled max over all rows and iterates */
} region;

static cb_net *relu_net(int first_relu)
{
  int64_t d[2] = {1, 2};
  cb_net *net = start(2, d);
  int i = first_relu ? act(net, 0, CB_ACT_RELU) : 0;   /* a split on the input itself */
  i = act(net, dense(net, i, 10), CB_ACT_RELU);
  i = act(net, dense(net, i, 8), CB_ACT_RELU);
  i = act(net, dense(net, i, 6), CB_ACT_RELU);
  net->output = dense(net, i, 3);
  return net;
}

/* Every sample in the region lies in every node box of ws. */
static void boxes_hold(const region *R, const cb_ws *ws)
{
  for (int i = 0; i < R->net->n; i++) {
    size_t sz = R->net->node[i].size;
    for (size_t k = 0; k < NS; k++) {
      if (!R->in[k]) continue;
      for (size_t j = 0; j < sz; j++) {
        double v = R->act[i][k * sz + j];
        if (!(v >= ws->lo[i][j] && v <= ws->hi[i][j]))
          fail_msg("node %d neuron %zu: %.17g outside [%.17g, %.17g]", i, j, v, ws->lo[i][j], ws->hi[i][j]);
      }
    }
  }
}

/* on_iterate: each row's upper bound holds at every sample of the region, and
   so do the iterate's intermediate boxes. */
static void check_iterate(void *ctx, const cb_ws *ws, int iter, int upper, const double *out)
{
  region *R = ctx;
  size_t no = R->net->node[R->net->output].size;
  const double *y = R->act[R->net->output];
  (void)iter;
  assert_true(upper);
  R->iterates++;
  boxes_hold(R, ws);
  for (size_t r = 0; r < R->q; r++)
    for (size_t k = 0; k < NS; k++) {
      double v = 0;
      if (!R->in[k]) continue;
      for (size_t j = 0; j < no; j++) v += R->C[r * no + j] * y[k * no + j];
      if (!(out[r] >= v)) fail_msg("iterate %d row %zu: bound %.17g below %.17g on the region", iter, r, out[r], v);
      if (out[r] - v < R->worst) R->worst = out[r] - v;
      R->checks++;
    }
}

/* Samples the box (lo, hi) into R->act. */
static void sample_box(region *R, const double *lo, const double *hi)
{
  cb_error err = {0};
  for (size_t k = 0; k < NS; k++)
    for (int j = 0; j < 2; j++) R->act[0][k * 2 + j] = k < 4 ? ((k >> j) & 1 ? hi[j] : lo[j]) : rnd(lo[j], hi[j]);
  assert_int_equal(fwd_all(R->net, NS, R->act, &err), CB_OK);
}

/* Random splits among the unknown-sign neurons of ws's boxes (ns of them,
   at distinct neurons); marks the samples in the region; 0 when the region
   holds fewer than 40 samples. */
static int pick_splits(region *R, const cb_ws *ws, size_t ns, int *node, size_t *idx, int *sig)
{
  const cb_net *net = R->net;
  size_t cand = 0, s = 0;
  int cn[256];
  size_t cj[256];
  for (int i = 0; i < net->n; i++) {
    int p;
    if (!node_is_act(&net->node[i], CB_ACT_RELU)) continue;
    p = net->node[i].in[0];
    for (size_t j = 0; j < net->node[p].size && cand < 256; j++)
      if (ws->lo[p][j] < 0 && ws->hi[p][j] > 0) { cn[cand] = p; cj[cand++] = j; }
  }
  if (cand < ns) return 0;
  while (s < ns) {
    size_t c = (size_t)rnd(0, (double)cand);
    int dup = 0;
    if (c >= cand) c = cand - 1;
    for (size_t t = 0; t < s; t++) dup |= node[t] == cn[c] && idx[t] == cj[c];
    if (dup) continue;
    node[s] = cn[c]; idx[s] = cj[c]; sig[s] = rnd(0, 1) < 0.5 ? 1 : -1;
    s++;
  }
  R->n_in = 0;
  for (size_t k = 0; k < NS; k++) {
    int ok = 1;
    for (size_t t = 0; t < ns && ok; t++) ok = sig[t] * R->act[node[t]][k * net->node[node[t]].size + idx[t]] >= 0;
    R->in[k] = (unsigned char)ok;
    R->n_in += (size_t)ok;
  }
  return R->n_in >= 40;
}

/* ws's boxes with the split neurons clamped, re-bounded by CROWN as a prior
   (what the branch and bound does per subdomain). */
static void clamp_and_rebound(cb_ws *ws, size_t ns, const int *node, const size_t *idx, const int *sig)
{
  const cb_net *net = ws->net;
  double **pl = malloc(2 * (size_t)net->n * sizeof *pl);
  cb_error err = {0};
  for (int i = 0; i < net->n; i++) {
    size_t sz = net->node[i].size;
    pl[i] = malloc(sz * sizeof(double)); pl[net->n + i] = malloc(sz * sizeof(double));
    memcpy(pl[i], ws->lo[i], sz * sizeof(double)); memcpy(pl[net->n + i], ws->hi[i], sz * sizeof(double));
  }
  for (size_t s = 0; s < ns; s++) {
    if (sig[s] > 0) pl[node[s]][idx[s]] = 0; else pl[net->n + node[s]][idx[s]] = 0;
  }
  assert_int_equal(bounds_run_prior(ws, CB_CROWN, pl, pl + net->n, &err), CB_OK);
  for (int i = 0; i < 2 * net->n; i++) free(pl[i]);
  free(pl);
}

/*
** Random nets x random boxes x random split sets x random starting betas
** and steps: every iterate's bound (and intermediate boxes) holds on the
** region's samples.  A start beta far from the optimum (up to 5) and a
** large step (0.5) exercise bounds much looser than the optimum: weak
** duality says they hold too.
*/
static void test_beta_iterates_sound(void **state)
{
  long checks = 0, iterates = 0, cases = 0, tighter = 0;
  (void)state;
  for (int t = 0; t < 60; t++) {
    cb_net *net = relu_net(t % 5 == 4);
    cb_bnet bn;
    cb_error err = {0};
    double lo[2], hi[2], C[6], ub[2], ub0[2], beta[2 * 4];
    int node[4], sig[4];
    size_t idx[4], ns = 1 + (size_t)(t % 4);
    region R = {.net = net, .act = fwd_alloc(net, NS), .in = malloc(NS), .C = C, .q = 2, .worst = INFINITY};
    cb_ws *ws;
    cb_alpha_opt o;
    for (int j = 0; j < 2; j++) { lo[j] = rnd(-1, 0.5); hi[j] = lo[j] + rnd(0.2, 1.5); }
    cb_set set = {CB_NORM_BOX, 0, 2, NULL, lo, hi};
    assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
    assert_non_null(ws = ws_new(&bn, &set, &err));
    assert_int_equal(bounds_run(ws, CB_CROWN, &err), CB_OK);
    sample_box(&R, lo, hi);
    for (int k = 0; k < 6; k++) C[k] = rnd(-1, 1);
    if (pick_splits(&R, ws, ns, node, idx, sig)) {
      clamp_and_rebound(ws, ns, node, idx, sig);
      boxes_hold(&R, ws);
      alpha_opt_init(&o);
      o.iters = 12;
      o.interm = t % 2;
      o.nsplit = ns; o.split_node = node; o.split_idx = idx; o.split_sig = sig;
      for (size_t k = 0; k < 2 * ns; k++) beta[k] = t % 3 == 0 ? 0 : rnd(0, 5);
      o.beta = beta;
      o.beta_lr = t % 3 == 2 ? 0.5 : 0.05;
      o.on_iterate = check_iterate;
      o.ctx = &R;
      if (alpha_spec(ws, C, 2, &o, NULL, ub, &err) != CB_OK) fail_msg("%s", err.msg);
      for (size_t k = 0; k < 2 * ns; k++) assert_true(beta[k] >= 0);   /* the warm start, projected */
      o.nsplit = 0; o.on_iterate = NULL;   /* alpha-CROWN alone on the same boxes */
      assert_int_equal(alpha_spec(ws, C, 2, &o, NULL, ub0, &err), CB_OK);
      tighter += ub[0] < ub0[0] - 1e-9 || ub[1] < ub0[1] - 1e-9;
      cases++;
    }
    checks += R.checks;
    iterates += R.iterates;
    ws_free(ws);
    bnet_free(&bn);
    fwd_free(R.act);
    free(R.in);
    cb_net_free(net);
  }
  printf("beta-CROWN: %ld split regions, %ld iterates, %ld row x sample checks, all bounds hold; "
         "tighter than alpha-CROWN on %ld regions\n", cases, iterates, checks, tighter);
  assert_true(cases >= 30);
  assert_true(checks > 200000);
  assert_true(tighter >= 5);   /* the split terms do tighten */
}

/* beta = 0 with a beta step of 0: exactly alpha-CROWN's bound (no injected
   term enters a pass), with and without optimised intermediate bounds. */
static void test_beta_zero(void **state)
{
  (void)state;
  for (int t = 0; t < 20; t++) {
    cb_net *net = relu_net(t % 5 == 4);
    cb_bnet bn;
    cb_error err = {0};
    double lo[2], hi[2], C[6], a[2], b[2];
    int node[2], sig[2];
    size_t idx[2];
    region R = {.net = net, .act = fwd_alloc(net, NS), .in = malloc(NS)};
    cb_ws *ws;
    cb_alpha_opt o;
    for (int j = 0; j < 2; j++) { lo[j] = rnd(-1, 0.5); hi[j] = lo[j] + rnd(0.2, 1.5); }
    cb_set set = {CB_NORM_BOX, 0, 2, NULL, lo, hi};
    assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
    assert_non_null(ws = ws_new(&bn, &set, &err));
    assert_int_equal(bounds_run(ws, CB_CROWN, &err), CB_OK);
    sample_box(&R, lo, hi);
    for (int k = 0; k < 6; k++) C[k] = rnd(-1, 1);
    if (pick_splits(&R, ws, 2, node, idx, sig)) {
      clamp_and_rebound(ws, 2, node, idx, sig);
      alpha_opt_init(&o);
      o.iters = 8;
      o.interm = t % 2;
      assert_int_equal(alpha_spec(ws, C, 2, &o, a, NULL, &err), CB_OK);
      o.nsplit = 2; o.split_node = node; o.split_idx = idx; o.split_sig = sig; o.beta_lr = 0;
      assert_int_equal(alpha_spec(ws, C, 2, &o, b, NULL, &err), CB_OK);
      for (int r = 0; r < 2; r++)
        if (a[r] != b[r]) fail_msg("case %d row %d: alpha %.17g, beta = 0 %.17g", t, r, a[r], b[r]);
    }
    ws_free(ws);
    bnet_free(&bn);
    fwd_free(R.act);
    free(R.in);
    cb_net_free(net);
  }
}

/* keep_interm: the intersected intermediate boxes written back hold at every
   sample of the whole box, lie within CROWN's, and a CROWN pass on them
   still bounds the rows soundly. */
static void test_keep_interm(void **state)
{
  long narrower = 0;
  (void)state;
  for (int t = 0; t < 20; t++) {
    cb_net *net = relu_net(0);
    cb_bnet bn;
    cb_error err = {0};
    double lo[2], hi[2], C[6], ub[2], *save;
    size_t nb = 0;
    region R = {.net = net, .act = fwd_alloc(net, NS), .in = malloc(NS), .C = C, .q = 2, .worst = INFINITY};
    cb_ws *ws;
    cb_alpha_opt o;
    for (int j = 0; j < 2; j++) { lo[j] = rnd(-1, 0.5); hi[j] = lo[j] + rnd(0.2, 1.5); }
    cb_set set = {CB_NORM_BOX, 0, 2, NULL, lo, hi};
    assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
    assert_non_null(ws = ws_new(&bn, &set, &err));
    assert_int_equal(bounds_run(ws, CB_CROWN, &err), CB_OK);
    sample_box(&R, lo, hi);
    memset(R.in, 1, NS);
    for (int i = 0; i < net->n; i++) nb += net->node[i].size;
    save = malloc(2 * nb * sizeof *save);
    for (int i = 0, off = 0; i < net->n; off += (int)net->node[i].size, i++) {
      memcpy(save + off, ws->lo[i], net->node[i].size * sizeof(double));
      memcpy(save + nb + (size_t)off, ws->hi[i], net->node[i].size * sizeof(double));
    }
    for (int k = 0; k < 6; k++) C[k] = rnd(-1, 1);
    alpha_opt_init(&o);
    o.iters = 10;
    o.keep_interm = 1;
    assert_int_equal(alpha_spec(ws, C, 2, &o, NULL, ub, &err), CB_OK);
    boxes_hold(&R, ws);
    for (int i = 0, off = 0; i < net->n; off += (int)net->node[i].size, i++)
      for (size_t j = 0; j < net->node[i].size; j++) {
        assert_true(ws->lo[i][j] >= save[(size_t)off + j] && ws->hi[i][j] <= save[nb + (size_t)off + j]);
        narrower += ws->lo[i][j] > save[(size_t)off + j] || ws->hi[i][j] < save[nb + (size_t)off + j];
      }
    assert_int_equal(crown_upper(ws, net->output, C, 2, ub, &err), CB_OK);
    check_iterate(&R, ws, 0, 1, ub);
    free(save);
    ws_free(ws);
    bnet_free(&bn);
    fwd_free(R.act);
    free(R.in);
    cb_net_free(net);
  }
  printf("keep_interm: %ld neuron bounds narrowed, all hold on the samples\n", narrower);
  assert_true(narrower > 0);
}

/* Bad split descriptions are refused with a message. */
static void test_beta_usage(void **state)
{
  cb_net *net = relu_net(0);
  cb_bnet bn;
  cb_error err = {0};
  double lo[2] = {0, 0}, hi[2] = {1, 1}, C[3] = {1, 0, 0}, ub;
  int node = net->output, sig = 1;
  size_t idx = 0;
  cb_set set = {CB_NORM_BOX, 0, 2, NULL, lo, hi};
  cb_ws *ws;
  cb_alpha_opt o;
  (void)state;
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  assert_non_null(ws = ws_new(&bn, &set, &err));
  assert_int_equal(bounds_run(ws, CB_CROWN, &err), CB_OK);
  alpha_opt_init(&o);
  o.nsplit = 1; o.split_node = &node; o.split_idx = &idx; o.split_sig = &sig;
  assert_int_equal(alpha_spec(ws, C, 1, &o, NULL, &ub, &err), CB_EUSAGE);
  assert_non_null(strstr(err.msg, "beta-CROWN"));
  node = 1; sig = 0;
  assert_int_equal(alpha_spec(ws, C, 1, &o, NULL, &ub, &err), CB_EUSAGE);
  sig = -1; idx = 1000;
  assert_int_equal(alpha_spec(ws, C, 1, &o, NULL, &ub, &err), CB_EUSAGE);
  ws_free(ws);
  bnet_free(&bn);
  cb_net_free(net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_beta_iterates_sound),
    cmocka_unit_test(test_beta_zero),
    cmocka_unit_test(test_keep_interm),
    cmocka_unit_test(test_beta_usage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
