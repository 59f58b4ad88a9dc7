/*
** The Lipschitz bracket (lip/lipbab.h) against references computed here, on
** random ReLU / LeakyReLU chains with at most 12 hidden neurons over small
** boxes, and on a GroupSort net, zero tolerance:
**   upper >= the largest dual gradient norm over 20000 uniform points of the
**     box (every sampled norm is a value of the constant's sup);
**   lower <= the largest gradient norm over all 2^h activation patterns
**     (feasible or not: an upper reference of the exact constant);
**   lower is the gradient norm at the reported point, recomputed, and the
**     point lies in the box;
**   with a node budget large enough, the gap target is reached.
*/
#include <float.h>
#include "testutil.h"
#include "randnet.h"
#include "grad.h"
#include "lipbab.h"

/* net->output at the last node, checked. */
static cb_net *ready(cb_net *net)
{
  cb_error err = {0};
  net->output = net->n - 1;
  assert_int_equal(net_check(net, &err), CB_OK);
  return net;
}

/* Max over every activation pattern of ||c J||_* for a chain AFFINE (ACT AFFINE)*. */
static double pattern_max(const cb_net *net, const double *c, cb_norm norm)
{
  int nh = 0;
  size_t nbits = 0, n0 = cb_net_input_size(net);
  double best = 0, *v = calloc(256, sizeof *v), *w = calloc(256, sizeof *w);
  for (int i = 0; i < net->n; i++) if (net->node[i].kind == CB_ACT) { nh++; nbits += net->node[i].size; }
  assert_true(nbits <= 14);
  for (unsigned long m = 0; m < (1ul << nbits); m++) {
    size_t no = cb_net_output_size(net), len = no, bit = nbits;
    int h = nh;
    memcpy(v, c, no * sizeof *v);
    for (int i = net->n - 1; i > 0; i--) {
      const cb_node *nd = &net->node[i];
      if (nd->kind == CB_AFFINE) {
        for (size_t k = 0; k < nd->p.aff.in; k++) {
          double s = 0;
          for (size_t r = 0; r < nd->p.aff.out; r++) s += v[r] * nd->p.aff.W[r * nd->p.aff.in + k];
          w[k] = s;
        }
        len = nd->p.aff.in;
        memcpy(v, w, len * sizeof *v);
      } else {
        double a = node_is_act(nd, CB_ACT_LEAKY_RELU) ? nd->p.act.alpha : 0;
        assert_true(node_is_act(nd, CB_ACT_RELU) || node_is_act(nd, CB_ACT_LEAKY_RELU));
        h--;
        bit -= nd->size;
        for (size_t k = 0; k < nd->size; k++) v[k] *= (m >> (bit + k)) & 1 ? 1 : a;
      }
    }
    assert_int_equal(len, n0);
    (void)h;
    best = fmax(best, lip_bab_dual(v, n0, norm));
  }
  free(v); free(w);
  return best;
}

/* Checks one bracket of row j of net over [lo, hi]^n in norm. */
static void check(cb_net *net, size_t j, double blo, double bhi, cb_norm norm, long max_nodes, int want_gap)
{
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
  double lo[16], hi[16], x[16], y[16], c[8] = {0}, G[16], smax = 0, pmax;
  lip_bab_opts o;
  lip_bab_result r;
  cb_error err = {0};
  cb_grad *g = grad_new(net, 1, &err);
  uint64_t s = 99;
  assert_non_null(g);
  assert_true(n <= 16 && no <= 8);
  c[j] = 1;
  for (size_t k = 0; k < n; k++) { lo[k] = blo; hi[k] = bhi; }
  lip_bab_opts_init(&o);
  o.norm = norm;
  o.max_nodes = max_nodes;
  assert_int_equal(lip_bab(net, j, lo, hi, NULL, &o, &r, x, y, &err), CB_OK);
  for (int t = 0; t < 20000; t++) {
    double p[16];
    for (size_t k = 0; k < n; k++) p[k] = blo + (bhi - blo) * urand(&s);
    assert_int_equal(grad_eval(g, p, c, 1, G, NULL, &err), CB_OK);
    smax = fmax(smax, lip_bab_dual(G, n, norm));
  }
  pmax = pattern_max(net, c, norm);
  if (getenv("LIPBAB_DEBUG")) fprintf(stderr, "n %zu no %zu up %g lo %g smax %g pmax %g nodes %ld stop %s\n", n, no, r.upper, r.lower, smax, pmax, r.nodes, r.stop);
  assert_true(r.upper >= smax);
  assert_true(r.lower <= pmax);
  assert_true(r.grad_norm <= pmax * (1 + 1e-12));   /* double evaluations of one real value */
  assert_true(r.lower <= r.upper);
  for (size_t k = 0; k < n; k++) assert_true(x[k] >= blo && x[k] <= bhi && y[k] >= blo && y[k] <= bhi);
  assert_int_equal(grad_eval(g, x, c, 1, G, NULL, &err), CB_OK);
  assert_true(lip_bab_dual(G, n, norm) == r.grad_norm);
  {   /* the secant, recomputed in double, is above the certified lower */
    double fx[8], fy[8], d = 0, dk;
    assert_int_equal(cb_net_forward(net, x, 1, fx, &err), CB_OK);
    assert_int_equal(cb_net_forward(net, y, 1, fy, &err), CB_OK);
    for (size_t k = 0; k < n; k++) {
      dk = fabs(y[k] - x[k]);
      d = norm == CB_NORM_2 ? d + dk * dk : norm == CB_NORM_INF ? fmax(d, dk) : d + dk;
    }
    if (norm == CB_NORM_2) d = sqrt(d);
    assert_true(r.lower > 0);
    assert_true(r.lower <= fabs(fy[j] - fx[j]) / d * (1 + 1e-6));
    assert_true(r.lower >= r.grad_norm * (1 - 1e-6));   /* the secant is within one region */
  }
  assert_true(r.nodes <= max_nodes + 1);
  if (want_gap) { assert_string_equal(r.stop, "gap"); assert_true(r.upper - r.lower <= o.gap * r.upper); }
  grad_free(g);
}

static void test_relu_chains(void **state)
{
  (void)state;
  for (int t = 0; t < 2; t++) {
    cb_net *net = ready(net_deep(2, 6, 0, 0));   /* 4 -> 6 -> 6 -> 3: 12 ReLUs */
    for (size_t j = 0; j < 3; j++) {
      check(net, j, -1, 1, CB_NORM_2, 100000, 1);
      check(net, j, -0.5, 2, CB_NORM_INF, 100000, 1);
      check(net, j, -2, 1, CB_NORM_1, 100000, 1);
      check(net, j, -1, 1, CB_NORM_2, 1, 0);     /* one sub-box: still sound */
      check(net, j, -3, 3, CB_NORM_2, 7, 0);
    }
    cb_net_free(net);
  }
}

static void test_leaky_chain(void **state)
{
  (void)state;
  for (int t = 0; t < 2; t++) {
    cb_net *net = ready(net_deep(3, 4, 1, 0));   /* 12 hidden, the third layer LeakyReLU */
    for (size_t j = 0; j < 3; j++) {
      check(net, j, -1, 1, CB_NORM_2, 100000, 1);
      check(net, j, -2, 2, CB_NORM_INF, 15, 0);
    }
    cb_net_free(net);
  }
}

/* Upper against sampling only (no pattern reference), over [-1, 1]^n. */
static void check_sampled(cb_net *net, int pl);

/* GroupSort: upper against sampling only (no pattern reference). */
static void test_groupsort(void **state)
{
  (void)state;
  check_sampled(ready(net_groupsort()), 1);
}

/* A pre-activation read by a ReLU and a tanh (summed): the phase enumeration
   must not overwrite bounds the tanh reads. */
static void test_shared_pre(void **state)
{
  int64_t d[2] = {1, 4}, d6[2] = {1, 6};
  (void)state;
  for (int t = 0; t < 4; t++) {
    cb_net *net = start(2, d);
    int h = dense(net, 0, 6), a = act(net, h, CB_ACT_RELU), b = act(net, h, CB_ACT_TANH), in2[2] = {a, b}, sum;
    cb_shape s;
    cb_error err = {0};
    shape_set(&s, 2, d6);
    sum = net_add(net, CB_ADD, "add", "Add", in2, 2, &s, &err);
    dense(net, act(net, dense(net, sum, 3), CB_ACT_RELU), 2);
    check_sampled(ready(net), 0);
  }
}

/* pl: piecewise linear (the secant at the reported points equals the
   gradient there); else (tanh) within 1e-6 relative of it. */
static void check_sampled(cb_net *net, int pl)
{
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
  double *lo = calloc(n, sizeof *lo), *hi = calloc(n, sizeof *hi), *x = calloc(n, sizeof *x), *y = calloc(n, sizeof *y),
         *c = calloc(no, sizeof *c), *G = calloc(n, sizeof *G), *p = calloc(n, sizeof *p), smax = 0;
  lip_bab_opts o;
  lip_bab_result r;
  cb_error err = {0};
  cb_grad *g = grad_new(net, 1, &err);
  uint64_t s = 7;
  c[0] = 1;
  for (size_t k = 0; k < n; k++) { lo[k] = -1; hi[k] = 1; }
  lip_bab_opts_init(&o);
  o.max_nodes = 2000;
  assert_int_equal(lip_bab(net, 0, lo, hi, NULL, &o, &r, x, y, &err), CB_OK);
  for (int t = 0; t < 20000; t++) {
    for (size_t k = 0; k < n; k++) p[k] = -1 + 2 * urand(&s);
    assert_int_equal(grad_eval(g, p, c, 1, G, NULL, &err), CB_OK);
    smax = fmax(smax, lip_bab_dual(G, n, CB_NORM_2));
  }
  if (!(r.upper >= smax)) fail_msg("sampled gradient norm %.17g above the bracket's upper %.17g", smax, r.upper);
  assert_true(r.lower <= r.upper);
  assert_int_equal(grad_eval(g, x, c, 1, G, NULL, &err), CB_OK);
  assert_true(lip_bab_dual(G, n, CB_NORM_2) >= r.lower * (pl ? 1 : 1 - 1e-6));
  grad_free(g);
  free(lo); free(hi); free(x); free(y); free(c); free(G); free(p);
  cb_net_free(net);
}

static void test_bad_domain(void **state)
{
  cb_net *net = ready(net_deep(1, 3, 0, 0));
  double lo[4] = {0, 0, 1, 0}, hi[4] = {1, 1, 0, 1}, x[4], y[4];
  lip_bab_opts o;
  lip_bab_result r;
  cb_error err = {0};
  (void)state;
  lip_bab_opts_init(&o);
  assert_int_equal(lip_bab(net, 0, lo, hi, NULL, &o, &r, x, y, &err), CB_EVALUE);
  assert_non_null(strstr(err.msg, "input 2"));
  hi[2] = 2;
  cb_error_clear(&err);
  assert_int_equal(lip_bab(net, 3, lo, hi, NULL, &o, &r, x, y, &err), CB_EVALUE);
  if (!strstr(err.msg, "3 outputs")) fail_msg("%s", err.msg);
  cb_net_free(net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_relu_chains),
    cmocka_unit_test(test_leaky_chain),
    cmocka_unit_test(test_groupsort),
    cmocka_unit_test(test_shared_pre),
    cmocka_unit_test(test_bad_domain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
