/*
** Exact gradients (lip/grad.c) against central finite differences, h = 1e-6
** in double: on the 4 reference nets (rows of nets/digits_test20.csv) and on
** random nets of every node kind (tests/randnet.h), for the full Jacobian
** (C = I) and for the margin rows e_y - e_j.  Points are moved until every
** activation input is at least 1e-4 from its kink (ReLU/LeakyReLU at 0, Clip
** at lo/hi, MaxPool ties), so the function is smooth along the difference.
** Criterion per entry: |g - fd| <= 1e-5 * max(|g|, max |row of g|).
*/
#include <float.h>
#include "testutil.h"
#include "randnet.h"
#include "grad.h"

#define H 1e-6

/* 1 if every kink is at least 1e-4 away at the point of the last grad_eval. */
static int far_from_kinks(const cb_net *net, const cb_grad *g)
{
  for (int i = 1; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    const double *x = grad_value(g, n->in ? n->in[0] : 0);
    if (node_is_act(n, CB_ACT_RELU) || node_is_act(n, CB_ACT_LEAKY_RELU) || node_is_act(n, CB_ACT_ELU)) {
      for (size_t e = 0; e < n->size; e++) if (fabs(x[e]) < 1e-4) return 0;
    } else if (node_is_act(n, CB_ACT_CLIP)) {
      for (size_t e = 0; e < n->size; e++)
        if (fabs(x[e] - n->p.act.lo) < 1e-4 || fabs(x[e] - n->p.act.hi) < 1e-4) return 0;
    } else if (n->kind == CB_MAXPOOL) {
      const double *y = grad_value(g, i);
      size_t isz = net->node[n->in[0]].size, hw = (size_t)(n->p.pool.g.hin * n->p.pool.g.win);
      /* a tie: an input other than the maximum within 1e-4 of it, in a window it belongs to */
      for (size_t e = 0; e < n->size; e++) {
        size_t c = e / (n->size / (size_t)n->p.pool.g.cin);
        int close = 0;
        for (size_t j = c * hw; j < (c + 1) * hw && j < isz; j++)
          if (x[j] != y[e] && fabs(x[j] - y[e]) < 1e-4) close = 1;
        if (close) return 0;   /* conservative: any near-tie in the channel */
      }
    } else if (n->kind == CB_SORT) {   /* a near-tie between two members of one group */
      size_t gs = (size_t)n->p.sort.g, in = (size_t)n->p.sort.inner;
      for (size_t e = 0; e < n->size; e++)
        for (size_t j = 1; j < gs; j++) {
          size_t f = e + j * in;
          if ((e / in) % gs + j < gs && f < n->size && fabs(x[e] - x[f]) < 1e-4) return 0;
        }
    }
  }
  return 1;
}

static double worst;

static void check_point(const cb_net *net, cb_grad *g, const double *x, const double *C, size_t q, const char *tag)
{
  size_t nin = net->node[0].size, nout = net->node[net->output].size;
  double *G = malloc(q * nin * sizeof *G), *xp = malloc(nin * sizeof *xp);
  double *yp = malloc(nout * sizeof *yp), *ym = malloc(nout * sizeof *ym), *Z = calloc(q * nin, sizeof *Z);
  cb_error err = {0};
  assert_true(G && xp && yp && ym && Z);
  if (grad_eval(g, x, C, q, G, NULL, &err) != CB_OK) fail_msg("%s: %s", tag, err.msg);
  memcpy(xp, x, nin * sizeof *xp);
  for (size_t k = 0; k < nin; k++) {
    xp[k] = x[k] + H;
    assert_int_equal(cb_net_forward(net, xp, 1, yp, &err), CB_OK);
    xp[k] = x[k] - H;
    assert_int_equal(cb_net_forward(net, xp, 1, ym, &err), CB_OK);
    xp[k] = x[k];
    for (size_t r = 0; r < q; r++) {
      double s = 0;
      for (size_t o = 0; o < nout; o++) s += C[r * nout + o] * (yp[o] - ym[o]);
      Z[r * nin + k] = s / (2 * H);
    }
  }
  for (size_t r = 0; r < q; r++) {
    double rmax = 0;
    for (size_t k = 0; k < nin; k++) rmax = fmax(rmax, fabs(G[r * nin + k]));
    for (size_t k = 0; k < nin; k++) {
      double gv = G[r * nin + k], d = fabs(gv - Z[r * nin + k]), tol = 1e-5 * fmax(fabs(gv), rmax);
      if (rmax > 0 && d / rmax > worst) worst = d / rmax;
      if (d > tol && d > 1e-12) fail_msg("%s: row %zu input %zu: gradient %.12g, finite difference %.12g", tag, r, k, gv, Z[r * nin + k]);
    }
  }
  free(G); free(xp); free(yp); free(ym); free(Z);
}

/* C = I (full Jacobian), then margin rows for label y. */
static void check_all_rows(const cb_net *net, cb_grad *g, const double *x, int y, const char *tag)
{
  size_t nout = net->node[net->output].size, q = 0;
  double *C = calloc(nout * nout, sizeof *C);
  for (size_t o = 0; o < nout; o++) C[o * nout + o] = 1;
  check_point(net, g, x, C, nout, tag);
  memset(C, 0, nout * nout * sizeof *C);
  for (size_t j = 0; j < nout; j++)
    if ((int)j != y) { C[q * nout + (size_t)y] = 1; C[q * nout + j] = -1; q++; }
  if (q) check_point(net, g, x, C, q, tag);
  free(C);
}

/* Moves x by small random steps until it is far from every kink; 0 if it never is. */
static int settle(const cb_net *net, cb_grad *g, double *x, double step)
{
  size_t nin = net->node[0].size, nout = net->node[net->output].size;
  double *C = calloc(nout, sizeof *C), *G = malloc(nin * sizeof *G);
  cb_error err = {0};
  int ok = 0;
  C[0] = 1;
  for (int t = 0; t < 200 && !ok; t++) {
    assert_int_equal(grad_eval(g, x, C, 1, G, NULL, &err), CB_OK);
    if (far_from_kinks(net, g)) ok = 1;
    else for (size_t k = 0; k < nin; k++) x[k] += step * (urand(&seed) - 0.5);
  }
  free(C); free(G);
  return ok;
}

static void test_reference_nets(void **st)
{
  static const char *nets[] = {"digits_mlp", "digits_cnn", "digits_tanh", "digits_orth"};
  (void)st;
  for (int t = 0; t < 4; t++) {
    char path[256], tag[300];
    snprintf(path, sizeof path, "nets/%s.onnx", nets[t]);
    cb_net *net = must_load(path);
    size_t nin = cb_net_input_size(net);
    cb_data *d = must_csv("nets/digits_test20.csv", nin);
    cb_grad *g = grad_new(net, cb_net_output_size(net), NULL);
    double *x = malloc(nin * sizeof *x);
    int done = 0;
    assert_non_null(g);
    for (size_t r = 0; r < cb_data_rows(d); r++) {
      memcpy(x, cb_data_x(d, r), nin * sizeof *x);
      if (!settle(net, g, x, 1e-3)) continue;
      snprintf(tag, sizeof tag, "%s row %zu", nets[t], r);
      check_all_rows(net, g, x, cb_data_label(d, r), tag);
      done++;
    }
    printf("%s: %d of %zu rows checked (full Jacobian and margins)\n", nets[t], done, cb_data_rows(d));
    assert_true(done >= 15);
    free(x); grad_free(g); cb_data_free(d); cb_net_free(net);
  }
  printf("worst |gradient - finite difference| / max|row| = %.3g\n", worst);
}

static void random_net(cb_net *net, const char *name)
{
  cb_error err = {0};
  size_t nin = net->node[0].size;
  cb_grad *g;
  double *x = malloc(nin * sizeof *x);
  int done = 0;
  net->output = net->n - 1;
  if (net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
  g = grad_new(net, cb_net_output_size(net), &err);
  assert_non_null(g);
  for (int p = 0; p < 50; p++) {
    char tag[64];
    for (size_t k = 0; k < nin; k++) x[k] = rnd(-1, 1);
    if (!settle(net, g, x, 1e-2)) continue;
    snprintf(tag, sizeof tag, "%s point %d", name, p);
    check_all_rows(net, g, x, p % (int)cb_net_output_size(net), tag);
    done++;
  }
  printf("%s: %d of 50 random points checked\n", name, done);
  assert_true(done >= 40);
  free(x); grad_free(g); cb_net_free(net);
}

static void test_dense(void **st) { (void)st; random_net(net_dense(), "dense"); }
static void test_conv(void **st) { (void)st; random_net(net_conv(), "conv"); }
static void test_residual(void **st) { (void)st; random_net(net_residual(), "residual"); }
static void test_groupsort(void **st) { (void)st; random_net(net_groupsort(), "groupsort"); }

/* Kink conventions (PyTorch): ReLU'(0) = 0, LeakyReLU'(0) = alpha. */
static void test_kinks(void **st)
{
  int64_t d[2] = {1, 1};
  cb_net *net = start(2, d);
  cb_grad *g;
  double x = 0, c = 1, G;
  (void)st;
  act(net, 0, CB_ACT_RELU);
  net->output = 1;
  g = grad_new(net, 1, NULL);
  assert_int_equal(grad_eval(g, &x, &c, 1, &G, NULL, NULL), CB_OK);
  assert_true(G == 0.0);
  grad_free(g); cb_net_free(net);
  net = start(2, d);
  act(net, 0, CB_ACT_LEAKY_RELU);
  net->output = 1;
  g = grad_new(net, 1, NULL);
  assert_int_equal(grad_eval(g, &x, &c, 1, &G, NULL, NULL), CB_OK);
  assert_true(G == 0.1);
  grad_free(g); cb_net_free(net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reference_nets), cmocka_unit_test(test_dense),
    cmocka_unit_test(test_conv), cmocka_unit_test(test_residual), cmocka_unit_test(test_groupsort), cmocka_unit_test(test_kinks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
