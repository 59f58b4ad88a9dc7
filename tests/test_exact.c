/*
** The real-arithmetic evaluator (src/exact.c) and the witness rule it serves
** (issue 16): a "sat" witness must hold for the network's real-arithmetic
** outputs, not only for the double forward pass.
**  - hand cases whose exact values are known: a bias of 2^-57 that the double
**    pass rounds away, y = ((x + 2^30) - 2^30) - x + 2^-30 (= 2^-30 for all
**    real x, <= 0 in double for x = 2^-24);
**  - verify on those: never sat; the answer is unknown with the reason
**    "witness holds only in floating point", and it comes at once (ties end,
**    no bisection down to adjacent doubles), with every option set the
**    issue names (threads 1 and 2, crown-ibp, relu-split 2 / 50 states);
**  - exact_dist_le at the rounding edge of each norm;
**  - random nets of every kind: piecewise-linear nets give exact points,
**    sigmoid/tanh/rounded nodes narrow enclosures, and the double pass
**    agrees with them up to its rounding;
**  - the evaluator at a rational point (exact_eval_dec, issue 18): a
**    hand-computed net at x = (0.1, 0.5) and at a decimal midpoint; a
**    decimal that equals a double gives the very enclosure the double
**    gives, on random nets of every kind; piecewise-linear chains (Clip,
**    HardSigmoid, LeakyReLU, ReLU, SCALE: every scaled constant) against
**    a direct GMP rational evaluation at random decimals; bad texts.
*/
#include <gmp.h>
#include <float.h>
#include <math.h>
#include "testutil.h"
#include "randnet.h"
#include "exact.h"
#include "forward.h"
#include "verify.h"
#include "certify.h"

static int hnode(cb_net *net, cb_kind k, const int *in, int n_in, size_t size)
{
  int64_t d[2] = {1, (int64_t)size};
  cb_shape s;
  cb_error err = {0};
  int i;
  shape_set(&s, 2, d);
  i = net_add(net, k, cb_kind_info[k].name, "test", in, n_in, &s, &err);
  assert_true(i >= 0);
  net->output = i;
  return i;
}

static cb_net *hstart(size_t nx)
{
  int64_t d[2] = {1, (int64_t)nx};
  return start(2, d);
}

/* Y = W x + b with 2 inputs and 2 outputs: Y_0 = x_0 + 2^-57, Y_1 = x_0. */
static cb_net *near_tie(void)
{
  cb_net *net = hstart(2);
  int i = hnode(net, CB_AFFINE, (int[]){0}, 1, 2);
  cb_node *n = &net->node[i];
  n->p.aff.out = 2; n->p.aff.in = 2;
  n->p.aff.W = net_doubles(net, 4);
  n->p.aff.b = net_doubles(net, 2);
  n->p.aff.W[0] = 1; n->p.aff.W[2] = 1;
  n->p.aff.b[0] = 0x1p-57;
  return net;
}

static int hscale(cb_net *net, int in, double a, double b)
{
  int i = hnode(net, CB_SCALE, &in, 1, 1);
  net->node[i].p.scale.a = net_doubles(net, 1);
  net->node[i].p.scale.b = net_doubles(net, 1);
  net->node[i].p.scale.a[0] = a;
  net->node[i].p.scale.b[0] = b;
  return i;
}

/* y = ((x + 2^30) - 2^30) - x + 2^-30 */
static cb_net *cancellation(void)
{
  cb_net *net = hstart(1);
  int a = hscale(net, 0, 1, 0x1p30);
  int b = hscale(net, a, 1, -0x1p30);
  int m = hscale(net, 0, -1, 0);
  int s = hnode(net, CB_ADD, (int[]){b, m}, 2, 1);
  hscale(net, s, 1, 0x1p-30);
  return net;
}

static vnn_spec *spec(const char *text)
{
  vnn_spec *s = NULL;
  cb_error err = {0};
  if (vnn_parse_string(text, strlen(text), "t.vnnlib", &s, &err)) fail_msg("%s", err.msg);
  return s;
}

static void test_exact_values(void **state)
{
  (void)state;
  cb_net *net = near_tie();
  cb_exact *E = NULL;
  cb_error err = {0};
  double x[2] = {0.5, 0.25}, y[2], lo, hi;
  char buf[128];
  int smin, smax;
  assert_int_equal(cb_net_forward(net, x, 1, y, &err), CB_OK);
  assert_true(y[0] == y[1]);                       /* the double pass sees a tie */
  assert_int_equal(exact_eval(net, x, &E, &err), CB_OK);
  assert_true(exact_is_point(E));
  exact_row_sign(E, (double[]){1, -1}, 0, &smin, &smax);
  assert_int_equal(smin, 1); assert_int_equal(smax, 1);   /* exactly Y_0 - Y_1 = 2^-57 */
  exact_row_sign(E, (double[]){1, -1}, 0x1p-57, &smin, &smax);
  assert_int_equal(smin, 0); assert_int_equal(smax, 0);
  exact_output_text(E, 0, buf, sizeof buf);
  assert_string_equal(buf, "0.500000000000000006938893903907228377647697925567626953125");
  exact_output(E, 0, &lo, &hi);
  assert_true(lo == 0.5 && hi == nextafter(0.5, 1));
  exact_free(E);
  cb_net_free(net);

  net = cancellation();
  x[0] = 0x1p-24;
  assert_int_equal(cb_net_forward(net, x, 1, y, &err), CB_OK);
  assert_true(y[0] < 0);                           /* double: -2^-24 + 2^-30 */
  assert_int_equal(exact_eval(net, x, &E, &err), CB_OK);
  exact_output_text(E, 0, buf, sizeof buf);
  assert_string_equal(buf, "0.000000000931322574615478515625");   /* 2^-30 */
  exact_free(E);
  x[0] = NAN;
  assert_int_equal(exact_eval(net, x, &E, &err), CB_EVALUE);
  assert_null(E);
  cb_net_free(net);
}

/* Exp at 800 overflows a double: exact_eval refuses it (no dyadic encloses
   +inf) instead of reading an infinity; at 1 it encloses e. */
static void test_exp_overflow(void **st)
{
  int64_t d[2] = {1, 1};
  cb_net *net = start(2, d);
  cb_exact *E = NULL;
  cb_error err = {0};
  double x = 1, lo, hi;
  (void)st;
  net->output = act(net, 0, CB_ACT_EXP);
  assert_int_equal(exact_eval(net, &x, &E, &err), CB_OK);
  exact_output(E, 0, &lo, &hi);
  assert_true(lo <= 2.718281828459045 && 2.7182818284590455 <= hi);
  exact_free(E);
  E = NULL;
  x = 800;
  assert_int_equal(exact_eval(net, &x, &E, &err), CB_EUNSUP);
  assert_null(E);
  cb_net_free(net);
}

/* verify must not answer sat; it answers unknown (floating point) quickly. */
static void check_not_sat(const cb_net *net, const char *text, int threads, cb_method m, int relu_leaf, long states)
{
  vnn_spec *s = spec(text);
  vfy_opts o;
  vfy_result r;
  cb_error err = {0};
  vfy_opts_init(&o);
  o.timeout = 20;
  o.threads = threads;
  o.method = m;
  if (relu_leaf >= 0) { o.relu_leaf = relu_leaf; o.relu_states = states; }
  assert_int_equal(vfy_run(net, s, &o, &r, &err), CB_OK);
  print_message("    threads %d method %d: %s in %.2f s, depth %d, %ld refused: %s\n", threads, (int)m,
                cb_verdict_table[r.answer].vnnlib, r.seconds, r.depth, r.fp_only, r.reason);
  assert_int_not_equal(r.answer, V_FALSIFIED);
  assert_true(r.answer == V_VERIFIED || r.answer == V_UNKNOWN);
  assert_true(r.seconds < 10);
  if (r.answer == V_UNKNOWN && r.fp_only) assert_non_null(strstr(r.reason, "witness holds only in floating point"));
  vfy_result_free(&r);
  vnn_free(s);
}

static void check_all_options(const cb_net *net, const char *text)
{
  check_not_sat(net, text, 1, CB_CROWN, -1, 0);
  check_not_sat(net, text, 2, CB_CROWN, -1, 0);
  check_not_sat(net, text, 1, CB_CROWN_IBP, -1, 0);
  check_not_sat(net, text, 2, CB_CROWN, 2, 50);
}

static void test_verify_near_tie(void **state)
{
  (void)state;
  cb_net *net = near_tie();
  check_all_options(net, "(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)"
                         "(assert (>= X_0 0.5))(assert (<= X_0 1))(assert (>= X_1 0))(assert (<= X_1 1))"
                         "(assert (<= Y_0 Y_1))");
  cb_net_free(net);
}

static void test_verify_cancellation(void **state)
{
  (void)state;
  cb_net *net = cancellation();
  const char *text = "(declare-const X_0 Real)(declare-const Y_0 Real)"
                     "(assert (>= X_0 0))(assert (<= X_0 0.001))(assert (<= Y_0 0))";
  vnn_spec *s = spec(text);
  double x = 0x1p-24, y;
  size_t c = 9;
  long refused = 0;
  assert_int_equal(vfy_check_witness(net, s, 0, &x, &y, &c, &refused), 0);
  assert_true(y < 0);           /* the double pass meets the property ... */
  assert_int_equal(refused, 1); /* ... and the exact check refuses it */
  vnn_free(s);
  check_all_options(net, text);
  cb_net_free(net);
}

/* certify: a counterexample of the double pass only is refused.  Outputs
   (0, ((x + 2^30) - 2^30) - x + 2^-30): class 1 wins by 2^-30 at every real
   x, but the double pass puts class 0 first at x = 2^-24. */
static void test_certify_refuses_fp_counterexample(void **state)
{
  (void)state;
  cb_net *net = hstart(1);
  int z = hscale(net, 0, 0, 0);
  int a = hscale(net, 0, 1, 0x1p30), b = hscale(net, a, 1, -0x1p30), m = hscale(net, 0, -1, 0);
  int s = hnode(net, CB_ADD, (int[]){b, m}, 2, 1);
  int y1 = hscale(net, s, 1, 0x1p-30);
  int64_t d2[2] = {1, 2};
  cb_shape sh;
  cb_error err = {0};
  cb_cert_opt o;
  cb_certifier *c;
  cb_cert_result r;
  double x = 0x1p-24, y[2];
  shape_set(&sh, 2, d2);
  int cat = net_add(net, CB_CONCAT, "cat", "test", (int[]){z, y1}, 2, &sh, &err);
  assert_true(cat >= 0);
  net->node[cat].p.concat.axis = 1;
  net->output = cat;
  assert_int_equal(net_check(net, &err), CB_OK);
  assert_int_equal(cb_net_forward(net, &x, 1, y, &err), CB_OK);
  assert_true(y[0] > y[1]);                 /* double: class 0 */
  cert_opt_init(&o);
  o.norm = CB_NORM_INF;
  o.eps = 0;                                /* the set is the point itself */
  assert_non_null(c = certifier_new(net, &o, &err));
  assert_int_equal(cert_result_init(&r, net), CB_OK);
  assert_int_equal(certify_sample(c, &x, 1, &r, NULL, &err), CB_OK);
  print_message("    label 1 at x = 2^-24: %s (%s)\n", cb_verdict_table[r.verdict].name, r.reason);
  assert_int_not_equal(r.verdict, V_FALSIFIED);
  cert_result_free(&r);
  certifier_free(c);
  cb_net_free(net);
}

/* Every allocation of exact_eval may fail: an error is returned, nothing leaks. */
static void test_exact_oom(void **state)
{
  (void)state;
  cb_net *net = net_conv();
  double x[98];
  int done = 0;
  net->output = net->n - 1;
  for (size_t k = 0; k < net->node[0].size; k++) x[k] = rnd(-1, 1);
  for (long n = 0; n < 100000 && !done; n++) {
    cb_exact *E = NULL;
    cb_error err = {0};
    int rc;
    cb_alloc_fail_after(n);
    rc = exact_eval(net, x, &E, &err);
    cb_alloc_fail_after(-1);
    if (rc == CB_OK) { done = 1; assert_non_null(E); }
    else { assert_int_equal(rc, CB_ENOMEM); assert_null(E); }
    exact_free(E);
  }
  assert_true(done);
  cb_net_free(net);
}

static void test_dist(void **state)
{
  (void)state;
  double c[2] = {0, 0}, x[2] = {3, 4}, one = 1, onep = 1 + 0x1p-52, zero = 0;
  assert_true(exact_dist_le(x, c, 2, 2, 5));
  assert_false(exact_dist_le(x, c, 2, 2, nextafter(5, 0)));
  assert_true(exact_dist_le(x, c, 2, 1, 7));
  assert_false(exact_dist_le(x, c, 2, 1, nextafter(7, 0)));
  assert_true(exact_dist_le(x, c, 2, 0, 4));
  assert_false(exact_dist_le(x, c, 2, 0, nextafter(4, 0)));
  assert_false(exact_dist_le(&onep, &zero, 1, 0, one));
  assert_true(exact_dist_le(&onep, &zero, 1, 0, onep));
  /* (0.1 + 0.2) - 0.1 is 0.2 + 2^-55 exactly, and 0.20000000000000004 in double */
  double a = 0.1, b = 0.1 + 0.2, e = b - a;
  assert_false(exact_dist_le(&b, &a, 1, 0, 0.2));
  assert_true(exact_dist_le(&b, &a, 1, 0, e));
  assert_false(exact_dist_le(x, c, 2, 2, -1));
}

/* Random nets: PL nets give points, others narrow enclosures; the double
   pass agrees up to its rounding (catches index errors in every kind). */
static void check_net(cb_net *net, int want_point, double atol)
{
  net->output = net->n - 1;
  size_t nx = net->node[0].size, ny = net->node[net->output].size;
  double *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y);
  cb_error err = {0};
  for (int t = 0; t < 5; t++) {
    cb_exact *E = NULL;
    for (size_t k = 0; k < nx; k++) x[k] = rnd(-1, 1);
    assert_int_equal(cb_net_forward(net, x, 1, y, &err), CB_OK);
    assert_int_equal(exact_eval(net, x, &E, &err), CB_OK);
    assert_int_equal(exact_n_out(E), ny);
    if (want_point >= 0) assert_int_equal(exact_is_point(E), want_point);
    for (size_t j = 0; j < ny; j++) {
      double lo, hi, tol = atol + 1e-9 * fabs(y[j]);
      exact_output(E, j, &lo, &hi);
      assert_true(lo <= hi);
      assert_true(hi - lo <= atol + 1e-12 * fabs(y[j]));
      if (!(y[j] >= lo - tol && y[j] <= hi + tol)) fail_msg("output %zu: double %.17g, exact [%.17g, %.17g]", j, y[j], lo, hi);
    }
    exact_free(E);
  }
  free(x); free(y);
}

/*
** y0 = relu(x0 + x1 - 0.6), y1 = relu(3 x0 + 0.25) at x0 = 1/10 (no double),
** x1 = 0.5.  By hand, with the double -0.6 = -0.59999999999999997779...:
**   y0 = 0.6 - 0.59999999999999997779553950749686919152736663818359375
**      = 2.220446049250313080847263336181640625e-17,
**   y1 = 0.3 + 0.25 = 0.55 (and the double 0.55 is above it);
** at x0 = (0.1 + 0.2) / 2 = 0.15, y1 = 0.7.
*/
static cb_net *hand_dec(void)
{
  cb_net *net = hstart(2);
  int i = hnode(net, CB_AFFINE, (int[]){0}, 1, 2);
  cb_node *n = &net->node[i];
  cb_error err = {0};
  n->p.aff.out = 2; n->p.aff.in = 2;
  n->p.aff.W = net_doubles(net, 4);
  n->p.aff.b = net_doubles(net, 2);
  n->p.aff.W[0] = 1; n->p.aff.W[1] = 1; n->p.aff.W[2] = 3; n->p.aff.W[3] = 0;
  n->p.aff.b[0] = -0.6; n->p.aff.b[1] = 0.25;
  net->output = net_add_act(net, CB_ACT_RELU, "relu", "test", i, &err);
  assert_true(net->output > i);
  return net;
}

static void test_decimal_point(void **state)
{
  (void)state;
  cb_net *net = hand_dec();
  cb_exact *E = NULL;
  cb_error err = {0};
  double x[2] = {0, 0.5}, lo, hi;
  const char *dl[2] = {"0.1", NULL}, *dh[2] = {"0.1", NULL};
  char buf[256];
  int smin, smax;
  assert_int_equal(exact_eval_dec(net, x, dl, dh, &E, &err), CB_OK);
  assert_true(exact_is_point(E));
  assert_int_equal(exact_n_in(E), 2);
  exact_output_text(E, 0, buf, sizeof buf);
  assert_string_equal(buf, "0.00000000000000002220446049250313080847263336181640625");
  exact_output_text(E, 1, buf, sizeof buf);
  assert_string_equal(buf, "0.55");
  exact_input_text(E, 0, buf, sizeof buf);
  assert_string_equal(buf, "0.1");
  exact_input_text(E, 1, buf, sizeof buf);
  assert_string_equal(buf, "0.5");
  exact_input(E, 0, &lo, &hi);
  assert_true(hi == nextafter(lo, 1) && lo < 0.1 && hi == 0.1);   /* the double 0.1 is above 1/10 */
  exact_input(E, 1, &lo, &hi);
  assert_true(lo == 0.5 && hi == 0.5);
  assert_false(exact_input_is_double(E));
  exact_output(E, 1, &lo, &hi);
  assert_true(lo < 0.55 && hi == 0.55);
  exact_row_sign(E, (double[]){0, 1}, 0.55, &smin, &smax);   /* 0.55 - double(0.55) < 0 */
  assert_int_equal(smin, -1); assert_int_equal(smax, -1);
  exact_row_sign(E, (double[]){1, 0}, 0, &smin, &smax);
  assert_int_equal(smin, 1); assert_int_equal(smax, 1);
  exact_free(E);
  /* the midpoint of 0.1 and 0.2, and the same decimal in other spellings */
  dh[0] = "0.2";
  assert_int_equal(exact_eval_dec(net, x, dl, dh, &E, &err), CB_OK);
  exact_output_text(E, 1, buf, sizeof buf);
  assert_string_equal(buf, "0.7");
  exact_input_text(E, 0, buf, sizeof buf);
  assert_string_equal(buf, "0.15");
  exact_free(E);
  dl[0] = "1e-1"; dh[0] = "+0.0100E+1";
  assert_int_equal(exact_eval_dec(net, x, dl, dh, &E, &err), CB_OK);
  exact_output_text(E, 1, buf, sizeof buf);
  assert_string_equal(buf, "0.55");
  exact_free(E);
  /* refused: lo > hi, not a decimal, an absurd exponent, a non-finite double */
  const char *bad[][2] = {{"0.2", "0.1"}, {"abc", "abc"}, {"0.1x", "0.1x"}, {"1e", "1e"}, {".", "."}, {"1e-99999", "1e-99999"}};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    dl[0] = bad[k][0]; dh[0] = bad[k][1];
    assert_int_equal(exact_eval_dec(net, x, dl, dh, &E, &err), CB_EVALUE);
    assert_null(E);
  }
  dl[0] = NULL; x[0] = INFINITY;
  assert_int_equal(exact_eval_dec(net, x, dl, dh, &E, &err), CB_EVALUE);
  cb_net_free(net);
}

/* A decimal that is a double (k / 1024, written in full) gives the same
   values as that double, on random nets of every kind: the scale 10^K
   changes nothing, points or enclosures. */
static void same_as_double(cb_net *net)
{
  net->output = net->n - 1;
  size_t nx = net->node[0].size, ny = net->node[net->output].size;
  double *x = malloc(nx * sizeof *x);
  char (*txt)[32] = malloc(nx * sizeof *txt), a[512], b[512];
  const char **dl = malloc(nx * sizeof *dl);
  cb_error err = {0};
  for (int t = 0; t < 3; t++) {
    cb_exact *E = NULL, *D = NULL;
    for (size_t k = 0; k < nx; k++) {
      x[k] = floor(rnd(-1024, 1024)) / 1024;
      snprintf(txt[k], sizeof txt[k], "%.10f", x[k]);   /* exact: at most 10 decimals */
      dl[k] = k % 2 ? txt[k] : NULL;                    /* half of them as decimals */
    }
    assert_int_equal(exact_eval(net, x, &E, &err), CB_OK);
    assert_int_equal(exact_eval_dec(net, x, dl, dl, &D, &err), CB_OK);
    assert_int_equal(exact_is_point(E), exact_is_point(D));
    assert_true(exact_input_is_double(D));
    for (size_t j = 0; j < ny; j++) {
      exact_output_text(E, j, a, sizeof a);
      exact_output_text(D, j, b, sizeof b);
      if (strcmp(a, b) && !strchr(a, '/')) fail_msg("output %zu: %s at the double, %s at the decimal", j, a, b);
    }
    exact_free(E);
    exact_free(D);
  }
  free(x); free(txt); free(dl);
}

/* q = the decimal or "N/D" text s. */
static void q_of_text(mpq_t q, const char *s)
{
  char buf[1024];
  const char *dot = strchr(s, '.');
  if (strchr(s, '/') || !dot) { assert_int_equal(mpq_set_str(q, s, 10), 0); mpq_canonicalize(q); return; }
  size_t n = (size_t)(dot - s), f = strlen(dot + 1);
  snprintf(buf, sizeof buf, "%.*s%s/1", (int)n, s, dot + 1);
  for (size_t k = 0; k < f; k++) strcat(buf, "0");
  assert_int_equal(mpq_set_str(q, buf, 10), 0);
  mpq_canonicalize(q);
}

/* Direct rational evaluation of the chain built by pl_chain at x (nx). */
static void q_chain(const cb_net *net, mpq_t *v, size_t nx, mpq_t *out)
{
  mpq_t t, w, c;
  mpq_t *cur = v, *nxt = NULL;
  size_t n = nx;
  mpq_init(t); mpq_init(w); mpq_init(c);
  for (int i = 1; i < net->n; i++) {
    const cb_node *nd = &net->node[i];
    size_t m = nd->size;
    nxt = malloc(m * sizeof *nxt);
    for (size_t o = 0; o < m; o++) mpq_init(nxt[o]);
    for (size_t o = 0; o < m; o++) {
      if (nd->kind == CB_AFFINE) {
        mpq_set_d(nxt[o], nd->p.aff.b[o]);
        for (size_t k = 0; k < n; k++) { mpq_set_d(w, nd->p.aff.W[o * n + k]); mpq_mul(t, w, cur[k]); mpq_add(nxt[o], nxt[o], t); }
      } else if (nd->kind == CB_SCALE) {
        mpq_set_d(w, nd->p.scale.a[o]); mpq_mul(nxt[o], w, cur[o]);
        mpq_set_d(c, nd->p.scale.b[o]); mpq_add(nxt[o], nxt[o], c);
      } else if (node_is_act(nd, CB_ACT_RELU)) {
        mpq_set(nxt[o], cur[o]); if (mpq_sgn(cur[o]) < 0) mpq_set_ui(nxt[o], 0, 1);
      } else if (node_is_act(nd, CB_ACT_LEAKY_RELU)) {
        mpq_set(nxt[o], cur[o]); if (mpq_sgn(cur[o]) < 0) { mpq_set_d(w, nd->p.act.alpha); mpq_mul(nxt[o], w, cur[o]); }
      } else if (node_is_act(nd, CB_ACT_CLIP)) {
        mpq_set(nxt[o], cur[o]);
        mpq_set_d(c, nd->p.act.lo); if (mpq_cmp(cur[o], c) < 0) mpq_set(nxt[o], c);
        mpq_set_d(c, nd->p.act.hi); if (mpq_cmp(cur[o], c) > 0) mpq_set(nxt[o], c);
      } else if (node_is_act(nd, CB_ACT_HARD_SIGMOID)) {
        mpq_set_d(w, nd->p.act.alpha); mpq_mul(nxt[o], w, cur[o]);
        mpq_set_d(c, nd->p.act.beta); mpq_add(nxt[o], nxt[o], c);
        if (mpq_sgn(nxt[o]) < 0) mpq_set_ui(nxt[o], 0, 1);
        if (mpq_cmp_ui(nxt[o], 1, 1) > 0) mpq_set_ui(nxt[o], 1, 1);
      } else fail_msg("q_chain: node %d", i);
    }
    if (cur != v) { for (size_t k = 0; k < n; k++) mpq_clear(cur[k]); free(cur); }
    cur = nxt; n = m;
  }
  for (size_t o = 0; o < n; o++) mpq_set(out[o], cur[o]);
  if (cur != v) { for (size_t k = 0; k < n; k++) mpq_clear(cur[k]); free(cur); }
  mpq_clear(t); mpq_clear(w); mpq_clear(c);
}

/* Piecewise-linear chain with every kind of scaled constant. */
static cb_net *pl_chain(void)
{
  int64_t d[2] = {1, 4};
  cb_net *net = start(2, d);
  int i = act(net, dense(net, 0, 6), CB_ACT_CLIP), s;
  i = act(net, dense(net, i, 6), CB_ACT_HARD_SIGMOID);
  i = act(net, dense(net, i, 5), CB_ACT_LEAKY_RELU);
  s = add_node(net, CB_SCALE, i, 2, net->node[i].shape.dim);
  net->node[s].p.scale.a = rnd_vec(net, 5, -2, 2);
  net->node[s].p.scale.b = rnd_vec(net, 5, -0.5, 0.5);
  i = act(net, dense(net, s, 4), CB_ACT_RELU);
  dense(net, i, 3);
  net->output = net->n - 1;
  return net;
}

static void test_decimal_random(void **state)
{
  (void)state;
  static const char *digits[] = {"0.1", "-0.3", "0.7", "-0.45", "0.123456789012345678", "1.5e-3", "-2.5E-1", "0.2"};
  for (int k = 0; k < 3; k++) {
    cb_net *net = net_dense(); same_as_double(net); cb_net_free(net);
    net = net_conv(); same_as_double(net); cb_net_free(net);
    net = net_residual(); same_as_double(net); cb_net_free(net);
    net = net_groupsort(); same_as_double(net); cb_net_free(net);
  }
  for (int t = 0; t < 40; t++) {
    cb_net *net = pl_chain();
    cb_exact *E = NULL;
    cb_error err = {0};
    const char *dl[4], *dh[4];
    double x[4] = {0};
    mpq_t v[4], out[3], got, a, b;
    char buf[2048];
    for (int k = 0; k < 4; k++) {
      dl[k] = digits[(t + 3 * k) % 8];
      dh[k] = t % 3 ? dl[k] : digits[(t + 3 * k + 1) % 8];
      mpq_init(v[k]); mpq_init(a); mpq_init(b);
      q_of_text(a, strchr(dl[k], 'e') || strchr(dl[k], 'E') ? (dl[k][0] == '-' ? "-1/4" : "3/2000") : dl[k]);
      q_of_text(b, strchr(dh[k], 'e') || strchr(dh[k], 'E') ? (dh[k][0] == '-' ? "-1/4" : "3/2000") : dh[k]);
      if (mpq_cmp(a, b) > 0) { dh[k] = dl[k]; mpq_set(b, a); }   /* keep lo <= hi */
      mpq_add(v[k], a, b); mpq_div_2exp(v[k], v[k], 1);
      mpq_clear(a); mpq_clear(b);
    }
    for (int j = 0; j < 3; j++) mpq_init(out[j]);
    mpq_init(got);
    q_chain(net, v, 4, out);
    assert_int_equal(exact_eval_dec(net, x, dl, dh, &E, &err), CB_OK);
    assert_true(exact_is_point(E));
    for (size_t j = 0; j < 3; j++) {
      exact_output_text(E, j, buf, sizeof buf);
      q_of_text(got, buf);
      if (!mpq_equal(got, out[j])) fail_msg("net %d output %zu: %s", t, j, buf);
    }
    for (int k = 0; k < 4; k++) mpq_clear(v[k]);
    for (int j = 0; j < 3; j++) mpq_clear(out[j]);
    mpq_clear(got);
    exact_free(E);
    cb_net_free(net);
  }
}

static void test_random_nets(void **state)
{
  (void)state;
  cb_net *net;
  for (int k = 0; k < 3; k++) {
    net = net_dense();           /* sigmoid/tanh: enclosures */
    check_net(net, 0, 1e-9);
    cb_net_free(net);
    net = net_conv();
    check_net(net, -1, 1e-9);
    cb_net_free(net);
    net = net_residual();
    check_net(net, -1, 1e-9);
    cb_net_free(net);
    net = net_groupsort();       /* AFFINE and SORT: exact points */
    check_net(net, 1, 1e-9);
    cb_net_free(net);
    net = net_products();        /* MUL of intervals (behind a tanh) */
    check_net(net, 0, 1e-9);
    cb_net_free(net);
    {                            /* MUL of points: exact */
      int64_t d[2] = {1, 4};
      int q, kk;
      net = start(2, d);
      q = dense(net, 0, 5); kk = dense(net, 0, 5);
      dense(net, mul2(net, q, kk), 3);
      check_net(net, 1, 1e-9);
      cb_net_free(net);
    }
  }
  net = cancellation();          /* PL and exact: points; the double pass is off by ~2^-22 */
  check_net(net, 1, 1e-6);
  net->node[1].exact = 0; net->node[1].rel_err = 0x1p-53;   /* a rounded parameter widens */
  check_net(net, 0, 1e-6);
  cb_net_free(net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_exact_values),
    cmocka_unit_test(test_exp_overflow),
    cmocka_unit_test(test_dist),
    cmocka_unit_test(test_exact_oom),
    cmocka_unit_test(test_random_nets),
    cmocka_unit_test(test_decimal_point),
    cmocka_unit_test(test_decimal_random),
    cmocka_unit_test(test_verify_near_tie),
    cmocka_unit_test(test_verify_cancellation),
    cmocka_unit_test(test_certify_refuses_fp_counterexample),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
