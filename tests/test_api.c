/*
** The public API's error paths (include/cerbere.h): NULL handles and
** pointers, bad paths, wrong sizes, bad enums and labels give the
** documented status and a message, set output handles to NULL, and never
** crash; accessors and *_free accept NULL; a failed call leaves its inputs
** usable.  Plus a few successes that tie the wrappers to the floors (bounds
** enclose the forward pass, a sat witness is returned), and an allocation
** failure sweep over region + bounds + certify (no leak under ASan).
** Nets: tests/data/tiny.nnet (2 inputs, 2 outputs), nets/digits_mlp.onnx
** (64 inputs, 10 outputs).
** The calls added for issue 20 (radius, gradient, interval Jacobian,
** attributions, certificates JSON, the opts size field) are checked
** against the floor function they wrap, called directly on the same
** inputs: equal bit for bit (memcmp), since the same code runs.
*/
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "cb.h"
#include "attr.h"
#include "certify.h"
#include "grad.h"
#include "jacobian.h"
#include "radius.h"
#include "linalg.h"

#define TINY "tests/data/tiny.nnet"
#define DIGITS "nets/digits_mlp.onnx"
#define ROWS "nets/digits_test20.csv"

static cb_net *load(const char *path)
{
  cb_net *net = NULL;
  cb_error err = {0};
  assert_int_equal(cb_net_load(path, &net, &err), CB_OK);
  return net;
}

/* The call's status is s, err carries it and a message. */
#define expect_status(call, s, err) do { \
  memset(&(err), 0, sizeof (err)); \
  assert_int_equal((call), (s)); \
  assert_int_equal((err).status, (s)); \
  assert_true(strlen((err).msg) > 0); } while (0)

static void test_load_errors(void **state)
{
  cb_net *net = (cb_net *)1;
  cb_error err;
  (void)state;
  expect_status(cb_net_load(NULL, &net, &err), CB_EUSAGE, err);
  expect_status(cb_net_load(TINY, NULL, &err), CB_EUSAGE, err);
  expect_status(cb_net_load("tests/data/no_such_file.onnx", &net, &err), CB_EIO, err);
  assert_null(net);
  net = (cb_net *)1;
  assert_int_not_equal(cb_net_load("nets/digits_test20.csv", &net, &err), CB_OK);
  assert_null(net);
  assert_int_equal(cb_net_load(NULL, &net, NULL), CB_EUSAGE);   /* err may be NULL */
  assert_int_equal(cb_net_input_size(NULL), 0);
  assert_int_equal(cb_net_output_size(NULL), 0);
  expect_status(cb_net_forward(NULL, NULL, 1, NULL, &err), CB_EUSAGE, err);
  cb_net_free(NULL);
  cb_data_free(NULL);
  assert_null(cb_data_x(NULL, 0));
  assert_int_equal(cb_data_label(NULL, 0), -1);
  expect_status(cb_data_check_labels(NULL, "x", 0, 1, 2, &err), CB_EUSAGE, err);
}

static void test_region_errors(void **state)
{
  cb_net *net = load(TINY);
  cb_region *r = (cb_region *)1;
  cb_error err;
  double c[2] = {0, 1}, lo[2] = {0, 0}, hi[2] = {1, 1}, bad[2] = {NAN, 0}, far[2] = {100, 100};
  (void)state;
  expect_status(cb_region_ball(NULL, CB_LP_INF, 0.1, c, 2, &r, &err), CB_EUSAGE, err);
  assert_null(r);
  expect_status(cb_region_ball(net, CB_LP_INF, 0.1, c, 2, NULL, &err), CB_EUSAGE, err);
  expect_status(cb_region_ball(net, CB_LP_INF, 0.1, NULL, 2, &r, &err), CB_EUSAGE, err);
  expect_status(cb_region_ball(net, CB_LP_INF, 0.1, c, 3, &r, &err), CB_ESHAPE, err);
  expect_status(cb_region_ball(net, (cb_lp)99, 0.1, c, 2, &r, &err), CB_EUSAGE, err);
  expect_status(cb_region_ball(net, CB_LP_2, -1, c, 2, &r, &err), CB_EVALUE, err);
  expect_status(cb_region_ball(net, CB_LP_2, NAN, c, 2, &r, &err), CB_EVALUE, err);
  expect_status(cb_region_ball(net, CB_LP_2, INFINITY, c, 2, &r, &err), CB_EVALUE, err);
  expect_status(cb_region_ball(net, CB_LP_1, 0.1, bad, 2, &r, &err), CB_EVALUE, err);
  assert_null(r);
  expect_status(cb_region_box(net, NULL, hi, 2, &r, &err), CB_EUSAGE, err);
  expect_status(cb_region_box(net, hi, lo, 2, &r, &err), CB_EVALUE, err);   /* lo > hi */
  expect_status(cb_region_box(net, lo, hi, 1, &r, &err), CB_ESHAPE, err);
  assert_int_equal(cb_region_box(net, lo, hi, 2, &r, &err), CB_OK);
  expect_status(cb_region_clip(r, lo, hi, 2, &err), CB_EUSAGE, err);       /* a box has no ball */
  cb_region_free(r);
  assert_int_equal(cb_region_ball(net, CB_LP_INF, 0.1, c, 2, &r, &err), CB_OK);
  expect_status(cb_region_clip(NULL, lo, hi, 2, &err), CB_EUSAGE, err);
  expect_status(cb_region_clip(r, NULL, hi, 2, &err), CB_EUSAGE, err);
  expect_status(cb_region_clip(r, lo, hi, 5, &err), CB_ESHAPE, err);
  expect_status(cb_region_clip(r, far, far, 2, &err), CB_EVALUE, err);     /* empty set */
  expect_status(cb_region_clip(r, hi, lo, 2, &err), CB_EVALUE, err);
  assert_int_equal(cb_region_clip(r, lo, hi, 2, &err), CB_OK);            /* still usable */
  cb_region_free(r);
  cb_region_free(NULL);
  cb_net_free(net);
}

static void test_bounds_errors(void **state)
{
  cb_net *tiny = load(TINY), *digits = load(DIGITS);
  cb_region *r = NULL;
  cb_error err;
  double c[2] = {0.25, 1}, lo[2], hi[2], m[1], y[2];
  (void)state;
  assert_int_equal(cb_region_ball(tiny, CB_LP_INF, 0.1, c, 2, &r, &err), CB_OK);
  expect_status(cb_bounds_logits(NULL, r, CB_BOUND_CROWN, lo, hi, 2, &err), CB_EUSAGE, err);
  expect_status(cb_bounds_logits(tiny, NULL, CB_BOUND_CROWN, lo, hi, 2, &err), CB_EUSAGE, err);
  expect_status(cb_bounds_logits(tiny, r, CB_BOUND_CROWN, NULL, hi, 2, &err), CB_EUSAGE, err);
  expect_status(cb_bounds_logits(tiny, r, CB_BOUND_CROWN, lo, NULL, 2, &err), CB_EUSAGE, err);
  expect_status(cb_bounds_logits(tiny, r, CB_BOUND_CROWN, lo, hi, 3, &err), CB_ESHAPE, err);
  expect_status(cb_bounds_logits(tiny, r, (cb_bound_method)42, lo, hi, 2, &err), CB_EUSAGE, err);
  expect_status(cb_bounds_logits(digits, r, CB_BOUND_CROWN, lo, hi, 2, &err), CB_ESHAPE, err);  /* region of another net */
  expect_status(cb_bounds_margins(tiny, r, CB_BOUND_IBP, -1, m, 1, &err), CB_EUSAGE, err);
  expect_status(cb_bounds_margins(tiny, r, CB_BOUND_IBP, 2, m, 1, &err), CB_EUSAGE, err);
  expect_status(cb_bounds_margins(tiny, r, CB_BOUND_IBP, 0, m, 2, &err), CB_ESHAPE, err);
  expect_status(cb_bounds_margins(tiny, r, CB_BOUND_IBP, 0, NULL, 1, &err), CB_EUSAGE, err);
  assert_int_equal(cb_bounds_logits(tiny, r, CB_BOUND_IBP, lo, hi, 2, NULL), CB_OK);
  assert_string_equal(cb_bound_method_name((cb_bound_method)42), "?");
  /* after the failures, the handles still work: bounds enclose the centre's outputs */
  for (int k = CB_BOUND_IBP; k <= CB_BOUND_ALPHA_CROWN; k++) {
    assert_int_equal(cb_bounds_logits(tiny, r, (cb_bound_method)k, lo, hi, 2, &err), CB_OK);
    assert_int_equal(cb_net_forward(tiny, c, 1, y, &err), CB_OK);
    for (int j = 0; j < 2; j++) assert_true(lo[j] <= y[j] && y[j] <= hi[j]);
    assert_int_equal(cb_bounds_margins(tiny, r, (cb_bound_method)k, 0, m, 1, &err), CB_OK);
    assert_true(m[0] <= y[0] - y[1]);
  }
  cb_region_free(r);
  cb_net_free(tiny);
  cb_net_free(digits);
}

static void test_certify_errors(void **state)
{
  cb_net *net = load(TINY);
  cb_region *ball = NULL, *box = NULL;
  cb_certificate *c = (cb_certificate *)1;
  cb_certify_opts o;
  cb_error err;
  double x[2] = {0.25, 1}, lo[2] = {0, 0}, hi[2] = {1, 2};
  size_t n = 7;
  (void)state;
  cb_certify_opts_init(&o, sizeof o);
  cb_certify_opts_init(NULL, 0);
  assert_int_equal(cb_region_ball(net, CB_LP_INF, 0.01, x, 2, &ball, &err), CB_OK);
  assert_int_equal(cb_region_box(net, lo, hi, 2, &box, &err), CB_OK);
  expect_status(cb_certify(net, ball, 0, &o, NULL, &err), CB_EUSAGE, err);
  expect_status(cb_certify(NULL, ball, 0, &o, &c, &err), CB_EUSAGE, err);
  assert_null(c);
  expect_status(cb_certify(net, NULL, 0, &o, &c, &err), CB_EUSAGE, err);
  expect_status(cb_certify(net, box, 0, &o, &c, &err), CB_EUSAGE, err);
  expect_status(cb_certify(net, ball, 5, &o, &c, &err), CB_EUSAGE, err);
  o.timeout = -1;
  expect_status(cb_certify(net, ball, 0, &o, &c, &err), CB_EUSAGE, err);
  cb_certify_opts_init(&o, sizeof o);
  assert_int_equal(cb_region_clip(ball, lo, hi, 2, &err), CB_OK);   /* [0,1] x [0,2]: per feature, certify's --box */
  {
    double xo[2] = {0.995, 1.5}, lo2[2] = {0, 0}, hi2[2] = {1, 2};
    cb_region *edge = NULL;
    const double *cx;
    size_t ncx = 0;
    int falsified = 0;
    assert_int_equal(cb_certify(net, ball, 0, &o, &c, &err), CB_OK);
    cb_certificate_free(c);
    c = NULL;
    /* a ball poking out of the box: any counterexample lies in the box */
    assert_int_equal(cb_region_ball(net, CB_LP_INF, 0.05, xo, 2, &edge, &err), CB_OK);
    assert_int_equal(cb_region_clip(edge, lo2, hi2, 2, &err), CB_OK);
    for (int lab = 0; lab < 2; lab++) {
      assert_int_equal(cb_certify(net, edge, lab, &o, &c, &err), CB_OK);
      if ((cx = cb_certificate_counterexample(c, &ncx))) {
        falsified++;
        for (size_t j = 0; j < ncx; j++) assert_true(cx[j] >= lo2[j] && cx[j] <= hi2[j] && fabs(cx[j] - xo[j]) <= 0.05);
      }
      cb_certificate_free(c);
      c = NULL;
    }
    cb_region_free(edge);
    assert_true(falsified >= 1);   /* the label that is not the class is falsified (at least at the centre) */
  }
  assert_int_equal(cb_certificate_answer(NULL), CB_ANSWER_UNKNOWN);
  assert_string_equal(cb_certificate_method(NULL), "");
  assert_string_equal(cb_certificate_reason(NULL), "");
  assert_int_equal(cb_certificate_predicted(NULL), -1);
  assert_null(cb_certificate_counterexample(NULL, &n));
  assert_int_equal(n, 0);
  cb_certificate_free(NULL);
  assert_string_equal(cb_answer_name((cb_answer)-3), "?");
  assert_string_equal(cb_answer_vnnlib(CB_ANSWER_FALSIFIED), "sat");
  cb_region_free(ball);
  /* a decided sample: no clip, the label the net predicts at x */
  assert_int_equal(cb_region_ball(net, CB_LP_INF, 0.01, x, 2, &ball, &err), CB_OK);
  assert_int_equal(cb_certify(net, ball, 0, NULL, &c, NULL), CB_OK);
  assert_true(strlen(cb_certificate_reason(c)) > 0);
  if (cb_certificate_answer(c) != CB_ANSWER_FALSIFIED) assert_null(cb_certificate_counterexample(c, &n));
  cb_certificate_free(c);
  cb_region_free(ball);
  cb_region_free(box);
  cb_net_free(net);
}

static void test_verify_errors(void **state)
{
  cb_net *tiny = load(TINY), *digits = load(DIGITS);
  cb_verification *v = (cb_verification *)1;
  cb_verify_opts o;
  cb_error err;
  const double *y = (const double *)1;
  size_t nx = 7, ny = 7;
  double K;
  (void)state;
  cb_verify_opts_init(&o, sizeof o);
  cb_verify_opts_init(NULL, 0);
  expect_status(cb_verify_vnnlib(tiny, "tests/data/tiny_unsat.vnnlib", &o, NULL, &err), CB_EUSAGE, err);
  expect_status(cb_verify_vnnlib(NULL, "tests/data/tiny_unsat.vnnlib", &o, &v, &err), CB_EUSAGE, err);
  assert_null(v);
  expect_status(cb_verify_vnnlib(tiny, NULL, &o, &v, &err), CB_EUSAGE, err);
  expect_status(cb_verify_vnnlib(tiny, "tests/data/no_such.vnnlib", &o, &v, &err), CB_EIO, err);
  expect_status(cb_verify_vnnlib(digits, "tests/data/tiny_unsat.vnnlib", &o, &v, &err), CB_ESHAPE, err);
  expect_status(cb_verify_vnnlib(tiny, TINY, &o, &v, &err), CB_EFORMAT, err);
  assert_null(v);
  o.timeout = 0;
  expect_status(cb_verify_vnnlib(tiny, "tests/data/tiny_unsat.vnnlib", &o, &v, &err), CB_EUSAGE, err);
  assert_int_equal(cb_verification_answer(NULL), CB_ANSWER_ERROR);
  assert_string_equal(cb_verification_reason(NULL), "");
  assert_null(cb_verification_witness(NULL, &nx, &y, &ny));
  assert_true(nx == 0 && ny == 0 && y == NULL);
  assert_int_equal(cb_verification_witness_rational(NULL), 0);
  cb_verification_free(NULL);
  /* the two answers, and a witness only for sat */
  assert_int_equal(cb_verify_vnnlib(tiny, "tests/data/tiny_unsat.vnnlib", NULL, &v, NULL), CB_OK);
  assert_int_equal(cb_verification_answer(v), CB_ANSWER_VERIFIED);
  assert_null(cb_verification_witness(v, &nx, NULL, NULL));
  cb_verification_free(v);
  assert_int_equal(cb_verify_vnnlib(tiny, "tests/data/tiny_sat.vnnlib", NULL, &v, &err), CB_OK);
  assert_int_equal(cb_verification_answer(v), CB_ANSWER_FALSIFIED);
  assert_non_null(cb_verification_witness(v, &nx, &y, &ny));
  assert_true(nx == 2 && ny == 2 && y != NULL);
  cb_verification_free(v);
  expect_status(cb_lipschitz_upper(NULL, CB_LP_2, &K, &err), CB_EUSAGE, err);
  expect_status(cb_lipschitz_upper(tiny, CB_LP_2, NULL, &err), CB_EUSAGE, err);
  expect_status(cb_lipschitz_upper(tiny, (cb_lp)7, &K, &err), CB_EUSAGE, err);
  assert_int_equal(cb_lipschitz_upper(tiny, CB_LP_2, &K, &err), CB_OK);
  assert_true(K > 0 && isfinite(K));
  cb_net_free(tiny);
  cb_net_free(digits);
}

/* Fail the Nth allocation for every N until the calls succeed: each either
   succeeds or returns CB_ENOMEM with its handles NULL (ASan checks for
   leaks). */
static void test_oom_sweep(void **state)
{
  cb_net *net = load(TINY);
  double x[2] = {0.25, 1}, lo[2], hi[2];
  int done = 0;
  (void)state;
  for (long n = 0; n < 100000 && !done; n++) {
    cb_region *r = NULL;
    cb_certificate *c = NULL;
    cb_error err = {0};
    cb_status rc;
    cb_alloc_fail_after(n);
    rc = cb_region_ball(net, CB_LP_INF, 0.05, x, 2, &r, &err);
    if (rc == CB_OK) rc = cb_bounds_logits(net, r, CB_BOUND_CROWN, lo, hi, 2, &err);
    if (rc == CB_OK) rc = cb_certify(net, r, 0, NULL, &c, &err);
    cb_alloc_fail_after(-1);
    if (rc == CB_OK) done = 1;
    else {
      assert_int_equal(err.status, rc);
      assert_true(rc == CB_ENOMEM || rc == CB_ELIMIT);
      assert_null(c);
    }
    cb_certificate_free(c);
    cb_region_free(r);
  }
  assert_true(done);
  cb_net_free(net);
}

/* ---- issue 20: the calls beyond certify/verify -------------------------- */

/* Row r of nets/digits_test20.csv: its 64 features into x, its label. */
static int digits_row(size_t r, double *x)
{
  cb_data *d = NULL;
  cb_error err;
  int label;
  assert_int_equal(cb_data_load_csv(ROWS, 64, &d, &err), CB_OK);
  memcpy(x, cb_data_x(d, r), 64 * sizeof *x);
  label = cb_data_label(d, r);
  cb_data_free(d);
  return label;
}

static void test_version_opts(void **state)
{
  cb_net *net = load(TINY);
  cb_region *r = NULL;
  cb_certificate *c = NULL;
  cb_certify_opts o;
  cb_verify_opts vo;
  cb_radius_opts ro;
  cb_attr_opts ao;
  cb_verification *v = NULL;
  cb_error err;
  double x[2] = {0.25, 1}, cr, ar, map[2];
  (void)state;
  assert_string_equal(cb_version(), CB_VERSION);
  cb_radius_opts_init(NULL, 0);
  cb_attr_opts_init(NULL, 0);
  cb_certify_opts_init(&o, sizeof o);
  cb_verify_opts_init(&vo, sizeof vo);
  cb_radius_opts_init(&ro, sizeof ro);
  cb_attr_opts_init(&ao, sizeof ao);
  assert_int_equal(o.size, sizeof o);
  assert_int_equal(vo.size, sizeof vo);
  assert_int_equal(ro.size, sizeof ro);
  assert_int_equal(ao.size, sizeof ao);
  assert_int_equal(cb_region_ball(net, CB_LP_INF, 0.01, x, 2, &r, &err), CB_OK);
  /* a struct not initialised (size 0) or from a newer header (too large) */
  o.size = 0;
  expect_status(cb_certify(net, r, 0, &o, &c, &err), CB_EUSAGE, err);
  assert_non_null(strstr(err.msg, "cb_certify_opts_init"));
  assert_null(c);
  o.size = sizeof o + 8;
  expect_status(cb_certify(net, r, 0, &o, &c, &err), CB_EUSAGE, err);
  vo.size = 1;
  expect_status(cb_verify_vnnlib(net, "tests/data/tiny_unsat.vnnlib", &vo, &v, &err), CB_EUSAGE, err);
  assert_null(v);
  ro.size = 0;
  expect_status(cb_radius(net, r, 0, &ro, &cr, &ar, &err), CB_EUSAGE, err);
  ao.size = 0;
  expect_status(cb_attribute(net, x, 2, 0, &ao, map, 2, &err), CB_EUSAGE, err);
  /* a struct of an older header (without `radius`): init writes no byte past
     its size, and the call takes the default for the rest */
  {
    unsigned char buf[sizeof(cb_certify_opts) + 16];
    size_t old = offsetof(cb_certify_opts, radius), sz;
    memset(buf, 0xab, sizeof buf);
    cb_certify_opts_init((cb_certify_opts *)(void *)buf, old);
    memcpy(&sz, buf, sizeof sz);
    assert_int_equal(sz, old);
    for (size_t k = old; k < sizeof buf; k++) assert_int_equal(buf[k], 0xab);
    memset(buf, 0xab, sizeof buf);
    cb_certify_opts_init((cb_certify_opts *)(void *)buf, 4);   /* too small for the size field */
    for (size_t k = 0; k < sizeof buf; k++) assert_int_equal(buf[k], 0xab);
  }
  cb_certify_opts_init(&o, sizeof o);
  o.radius = 1;
  o.size = offsetof(cb_certify_opts, radius);
  assert_int_equal(cb_certify(net, r, 0, &o, &c, &err), CB_OK);
  assert_int_equal(cb_certificate_radii(c, &cr, &ar), 0);   /* radius read as its default, 0 */
  cb_certificate_free(c);
  o.size = sizeof o;
  assert_int_equal(cb_certify(net, r, 0, &o, &c, &err), CB_OK);
  assert_int_equal(cb_certificate_radii(c, &cr, &ar), 1);
  assert_int_equal(cb_certificate_label(c), 0);
  cb_certificate_free(c);
  /* a newer header's longer struct: init zeroes the tail, the call refuses it */
  {
    struct { cb_radius_opts o; double later; } big;
    memset(&big, 0xab, sizeof big);
    cb_radius_opts_init(&big.o, sizeof big);
    assert_int_equal(big.o.size, sizeof big);
    assert_true(big.later == 0);
    assert_int_equal(big.o.steps, 16);
    expect_status(cb_radius(net, r, 0, &big.o, &cr, &ar, &err), CB_EUSAGE, err);
    assert_non_null(strstr(err.msg, "cb_radius_opts_init"));
  }
  assert_int_equal(cb_certificate_label(NULL), -1);
  assert_int_equal(cb_certificate_radii(NULL, &cr, &ar), 0);
  assert_true(cr == 0 && isinf(ar));
  cb_region_free(r);
  cb_net_free(net);
}

/* cb_gradient = grad_eval on the same rows, bit for bit; its errors. */
static void test_gradient(void **state)
{
  cb_net *net = load(DIGITS);
  cb_grad *g;
  cb_error err;
  double x[64], C[9 * 10], G[10 * 64], R[10 * 64], eye[100] = {0}, bad[64];
  int label = digits_row(3, x);
  (void)state;
  jac_margin_rows(10, label, C);
  assert_int_equal(cb_gradient(net, x, 64, C, 9, G, 9 * 64, &err), CB_OK);
  assert_non_null(g = grad_new(net, 10, &err));
  assert_int_equal(grad_eval(g, x, C, 9, R, NULL, &err), CB_OK);
  assert_memory_equal(G, R, 9 * 64 * sizeof *G);
  for (int k = 0; k < 10; k++) eye[k * 10 + k] = 1;
  assert_int_equal(cb_gradient(net, x, 64, NULL, 10, G, 640, NULL), CB_OK);   /* NULL C: the Jacobian */
  assert_int_equal(grad_eval(g, x, eye, 10, R, NULL, &err), CB_OK);
  assert_memory_equal(G, R, 640 * sizeof *G);
  grad_free(g);
  memcpy(bad, x, sizeof bad);
  bad[5] = NAN;
  expect_status(cb_gradient(NULL, x, 64, C, 9, G, 576, &err), CB_EUSAGE, err);
  expect_status(cb_gradient(net, NULL, 64, C, 9, G, 576, &err), CB_EUSAGE, err);
  expect_status(cb_gradient(net, x, 64, C, 9, NULL, 576, &err), CB_EUSAGE, err);
  expect_status(cb_gradient(net, x, 63, C, 9, G, 576, &err), CB_ESHAPE, err);
  expect_status(cb_gradient(net, x, 64, C, 9, G, 575, &err), CB_ESHAPE, err);
  expect_status(cb_gradient(net, x, 64, C, 0, G, 0, &err), CB_ESHAPE, err);
  expect_status(cb_gradient(net, x, 64, NULL, 9, G, 576, &err), CB_ESHAPE, err);
  expect_status(cb_gradient(net, bad, 64, C, 9, G, 576, &err), CB_EVALUE, err);
  cb_net_free(net);
}

/* cb_jacobian_bounds = bounds_run + jac_interval, bit for bit; encloses the
   gradient at the centre; its errors. */
static void test_jacobian_bounds(void **state)
{
  cb_net *net = load(DIGITS);
  cb_region *r = NULL, *box = NULL;
  cb_bnet bn = {0};
  cb_ws *ws;
  cb_error err;
  double x[64], C[90], lo[576], hi[576], rlo[576], rhi[576], G[576], l[64], h[64];
  int label = digits_row(1, x);
  cb_set s = {CB_NORM_2, 0.05, 64, x, NULL, NULL};
  (void)state;
  jac_margin_rows(10, label, C);
  assert_int_equal(cb_region_ball(net, CB_LP_2, 0.05, x, 64, &r, &err), CB_OK);
  for (int m = CB_BOUND_IBP; m <= CB_BOUND_CROWN; m++) {
    assert_int_equal(cb_jacobian_bounds(net, r, (cb_bound_method)m, C, 9, lo, hi, 576, &err), CB_OK);
    assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
    assert_non_null(ws = ws_new(&bn, &s, &err));
    assert_int_equal(bounds_run(ws, m == CB_BOUND_IBP ? CB_IBP : CB_CROWN, &err), CB_OK);
    assert_int_equal(jac_interval(ws, C, 9, rlo, rhi, &err), CB_OK);
    ws_free(ws);
    bnet_free(&bn);
    assert_memory_equal(lo, rlo, sizeof lo);
    assert_memory_equal(hi, rhi, sizeof hi);
    assert_int_equal(cb_gradient(net, x, 64, C, 9, G, 576, &err), CB_OK);
    for (int k = 0; k < 576; k++) assert_true(lo[k] <= G[k] && G[k] <= hi[k]);
  }
  expect_status(cb_jacobian_bounds(net, r, CB_BOUND_ALPHA_CROWN, C, 9, lo, hi, 576, &err), CB_EUNSUP, err);
  expect_status(cb_jacobian_bounds(net, r, (cb_bound_method)9, C, 9, lo, hi, 576, &err), CB_EUSAGE, err);
  expect_status(cb_jacobian_bounds(net, r, CB_BOUND_CROWN, C, 9, lo, hi, 640, &err), CB_ESHAPE, err);
  expect_status(cb_jacobian_bounds(net, r, CB_BOUND_CROWN, C, 9, NULL, hi, 576, &err), CB_EUSAGE, err);
  expect_status(cb_jacobian_bounds(net, NULL, CB_BOUND_CROWN, C, 9, lo, hi, 576, &err), CB_EUSAGE, err);
  /* a box region works too */
  for (int k = 0; k < 64; k++) { l[k] = x[k] - 0.01; h[k] = x[k] + 0.01; }
  assert_int_equal(cb_region_box(net, l, h, 64, &box, &err), CB_OK);
  assert_int_equal(cb_jacobian_bounds(net, box, CB_BOUND_CROWN, C, 9, rlo, rhi, 576, &err), CB_OK);
  for (int k = 0; k < 576; k++) assert_true(rlo[k] <= G[k] && G[k] <= rhi[k]);
  expect_status(cb_jacobian_bounds(net, box, CB_BOUND_CROWN, NULL, 9, rlo, rhi, 576, &err), CB_ESHAPE, err);
  cb_region_free(box);
  cb_region_free(r);
  cb_net_free(net);
}

/* cb_radius: the local search = radius_lip_search, the cascade =
   certify_sample with radius on, bit for bit; its errors. */
static void test_radius(void **state)
{
  cb_net *net = load(DIGITS);
  cb_region *r = NULL, *box = NULL;
  cb_radius_opts o;
  cb_bnet bn = {0};
  lip_opts lo;
  lip_result *lr = NULL;
  radius_lip_opts rlo;
  radius_lip res;
  cb_cert_opt co;
  cb_certifier *c;
  cb_cert_result cr = {0};
  cb_error err;
  double x[64], cert, att, clip_lo[64], clip_hi[64];
  int label = digits_row(0, x);
  (void)state;
  assert_int_equal(cb_region_ball(net, CB_LP_INF, 0.01, x, 64, &r, &err), CB_OK);
  cb_radius_opts_init(&o, sizeof o);
  o.method = CB_RADIUS_LOCAL_LIPSCHITZ;
  assert_int_equal(cb_radius(net, r, label, &o, &cert, &att, &err), CB_OK);
  assert_true(isinf(att) && cert > 0);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  lip_opts_init(&lo);
  lo.norm = CB_NORM_INF;
  assert_int_equal(lip_analyze(net, &lo, &lr, &err), CB_OK);
  radius_lip_opts_init(&rlo);
  assert_int_equal(radius_lip_search(&bn, lr, x, label, &rlo, &res, &err), CB_OK);
  assert_memory_equal(&cert, &res.radius, sizeof cert);
  lip_result_free(lr);
  bnet_free(&bn);
  /* the cascade's bracket */
  cb_radius_opts_init(&o, sizeof o);
  assert_int_equal(cb_radius(net, r, label, &o, &cert, &att, &err), CB_OK);
  cert_opt_init(&co);
  co.norm = CB_NORM_INF;
  co.eps = 0.01;
  co.radius = 1;
  assert_non_null(c = certifier_new(net, &co, &err));
  assert_int_equal(cert_result_init(&cr, net), CB_OK);
  assert_int_equal(certify_sample(c, x, label, &cr, NULL, &err), CB_OK);
  assert_memory_equal(&cert, &cr.certified_radius, sizeof cert);
  assert_memory_equal(&att, &cr.attack_radius, sizeof att);
  assert_true(cert >= 0.01 && cert <= att);
  cert_result_free(&cr);
  certifier_free(c);
  /* errors */
  expect_status(cb_radius(net, r, label, &o, NULL, &att, &err), CB_EUSAGE, err);
  expect_status(cb_radius(NULL, r, label, &o, &cert, &att, &err), CB_EUSAGE, err);
  expect_status(cb_radius(net, r, 10, &o, &cert, &att, &err), CB_EUSAGE, err);
  o.method = (cb_radius_method)5;
  expect_status(cb_radius(net, r, label, &o, &cert, &att, &err), CB_EUSAGE, err);
  o.method = CB_RADIUS_LOCAL_LIPSCHITZ;
  o.steps = 99;
  expect_status(cb_radius(net, r, label, &o, &cert, &att, &err), CB_EUSAGE, err);
  o.steps = 4;
  o.bounds = CB_BOUND_ALPHA_CROWN;
  expect_status(cb_radius(net, r, label, &o, &cert, &att, &err), CB_EUNSUP, err);
  o.bounds = CB_BOUND_IBP;
  for (int k = 0; k < 64; k++) { clip_lo[k] = 0; clip_hi[k] = 1; }
  assert_int_equal(cb_region_clip(r, clip_lo, clip_hi, 64, &err), CB_OK);
  expect_status(cb_radius(net, r, label, &o, &cert, &att, &err), CB_EUNSUP, err);
  assert_int_equal(cb_region_box(net, clip_lo, clip_hi, 64, &box, &err), CB_OK);
  expect_status(cb_radius(net, box, label, &o, &cert, &att, &err), CB_EUSAGE, err);
  cb_region_free(box);
  cb_region_free(r);
  cb_net_free(net);
}

/* cb_attribute = attr_map and cb_attribute_bounds = attr_cert_bounds, bit
   for bit; the centre's map lies in the bounds; errors. */
static void test_attribute(void **state)
{
  cb_net *net = load(DIGITS);
  cb_region *r = NULL, *box = NULL;
  cb_attr_opts o;
  attr_opt ao;
  attr_ctx *a;
  cb_error err;
  double x[64], map[64], ref[64], lb[64], ub[64], rlb[64], rub[64];
  int label = digits_row(2, x);
  cb_attr_method ms[4] = {CB_ATTR_SALIENCY, CB_ATTR_GRADXINPUT, CB_ATTR_IG, CB_ATTR_SMOOTHGRAD};
  cb_set s = {CB_NORM_INF, 0.01, 64, x, NULL, NULL};
  (void)state;
  assert_int_equal(cb_region_ball(net, CB_LP_INF, 0.01, x, 64, &r, &err), CB_OK);
  assert_string_equal(cb_attr_method_name(CB_ATTR_IG), "ig");
  assert_string_equal(cb_attr_method_name((cb_attr_method)40), "?");
  for (int k = 0; k < 4; k++) {
    cb_attr_opts_init(&o, sizeof o);
    o.method = ms[k];
    o.steps = 8;
    o.samples = 5;
    assert_int_equal(cb_attr_map_size(net, &o), 64);
    assert_int_equal(cb_attribute(net, x, 64, label, &o, map, 64, &err), CB_OK);
    attr_opt_init(&ao);
    ao.method = (attr_method)ms[k];
    ao.steps = 8;
    ao.samples = 5;
    ao.target = label;
    assert_non_null(a = attr_new(net, &ao, &err));
    assert_int_equal(attr_map(a, x, label, ref, &err), CB_OK);
    assert_memory_equal(map, ref, sizeof map);
    assert_int_equal(cb_attribute_bounds(net, r, label, &o, lb, ub, 64, &err), CB_OK);
    assert_int_equal(attr_cert_bounds(a, &s, label, rlb, rub, &err), CB_OK);
    assert_memory_equal(lb, rlb, sizeof lb);
    assert_memory_equal(ub, rub, sizeof ub);
    for (int i = 0; i < 64; i++) assert_true(lb[i] <= map[i] && map[i] <= ub[i]);
    attr_free(a);
  }
  cb_attr_opts_init(&o, sizeof o);
  o.method = CB_ATTR_KERNELSHAP;   /* no certified bounds */
  expect_status(cb_attribute_bounds(net, r, label, &o, lb, ub, 64, &err), CB_EUNSUP, err);
  /* the rule-based methods: LRP with a rule string, and DeepLIFT, through the same options as the CLI */
  cb_attr_opts_init(&o, sizeof o);
  o.method = CB_ATTR_LRP;
  o.lrp_rule = "dense=zplus";
  assert_int_equal(cb_attribute(net, x, 64, label, &o, map, 64, &err), CB_OK);
  attr_opt_init(&ao);
  ao.method = AM_LRP;
  ao.target = label;
  assert_int_equal(attr_lrp_rule_parse("dense=zplus", &ao, NULL, 0), 1);
  assert_non_null(a = attr_new(net, &ao, &err));
  assert_int_equal(attr_map(a, x, label, ref, &err), CB_OK);
  assert_memory_equal(map, ref, sizeof map);
  attr_free(a);
  o.lrp_rule = "conv=gamma";   /* digits_mlp has no CONV layer */
  expect_status(cb_attribute(net, x, 64, label, &o, map, 64, &err), CB_EUSAGE, err);
  o.lrp_rule = "bogus";
  expect_status(cb_attribute(net, x, 64, label, &o, map, 64, &err), CB_EUSAGE, err);
  o.method = CB_ATTR_DEEPLIFT;
  o.lrp_rule = "eps";          /* a rule on another method is refused */
  expect_status(cb_attribute(net, x, 64, label, &o, map, 64, &err), CB_EUSAGE, err);
  o.lrp_rule = NULL;
  assert_int_equal(cb_attribute(net, x, 64, label, &o, map, 64, &err), CB_OK);
  assert_string_equal(cb_attr_method_name(CB_ATTR_KERNELSHAP), "kernelshap");
  cb_attr_opts_init(&o, sizeof o);
  expect_status(cb_attribute(net, x, 64, 10, &o, map, 64, &err), CB_EUSAGE, err);
  expect_status(cb_attribute(net, x, 64, -1, &o, map, 64, &err), CB_EUSAGE, err);
  expect_status(cb_attribute(net, x, 63, label, &o, map, 64, &err), CB_ESHAPE, err);
  expect_status(cb_attribute(net, x, 64, label, &o, map, 65, &err), CB_ESHAPE, err);
  expect_status(cb_attribute(NULL, x, 64, label, &o, map, 64, &err), CB_EUSAGE, err);
  expect_status(cb_attribute(net, x, 64, label, &o, NULL, 64, &err), CB_EUSAGE, err);
  o.steps = 0;
  o.method = CB_ATTR_IG;
  expect_status(cb_attribute(net, x, 64, label, &o, map, 64, &err), CB_EUSAGE, err);
  cb_attr_opts_init(&o, sizeof o);
  o.method = (cb_attr_method)77;
  expect_status(cb_attribute(net, x, 64, label, &o, map, 64, &err), CB_EUSAGE, err);
  o.method = CB_ATTR_GRADCAM;   /* an MLP has no CONV node */
  assert_int_not_equal(cb_attribute(net, x, 64, label, &o, map, 64, &err), CB_OK);
  assert_true(strlen(err.msg) > 0);
  cb_attr_opts_init(&o, sizeof o);
  o.norm = (cb_lp)9;
  expect_status(cb_attribute(net, x, 64, label, &o, map, 64, &err), CB_EUSAGE, err);
  cb_attr_opts_init(&o, sizeof o);
  assert_int_equal(cb_region_box(net, lb, lb, 64, &box, &err), CB_OK);
  expect_status(cb_attribute_bounds(net, box, label, &o, lb, ub, 64, &err), CB_EUSAGE, err);
  expect_status(cb_attribute_bounds(net, r, label, &o, lb, ub, 3, &err), CB_ESHAPE, err);
  assert_int_equal(cb_attr_map_size(NULL, &o), 0);
  cb_region_free(box);
  cb_region_free(r);
  cb_net_free(net);
}

/* The JSON holds each certificate's fields, numbers read back to the same
   doubles; a failed write leaves no file. */
static void test_certificates_json(void **state)
{
  cb_net *net = load(DIGITS);
  cb_certificate *c[3] = {NULL, NULL, NULL};
  cb_certify_opts o;
  cb_error err;
  const char *path = "build/tests/test_api_certs.json";
  double x[64];
  char *txt;
  long len;
  FILE *f;
  cJSON *doc, *samples;
  (void)state;
  cb_certify_opts_init(&o, sizeof o);
  o.radius = 1;
  o.bab_timeout = 0;
  for (int k = 0; k < 3; k++) {
    cb_region *r = NULL;
    int label = digits_row((size_t)k, x);
    assert_int_equal(cb_region_ball(net, CB_LP_INF, k == 2 ? 0.3 : 0.01, x, 64, &r, &err), CB_OK);
    assert_int_equal(cb_certify(net, r, label, k == 1 ? NULL : &o, &c[k], &err), CB_OK);
    cb_region_free(r);
  }
  remove(path);
  assert_int_equal(cb_certificates_write_json(path, (const cb_certificate *const *)c, 3, &err), CB_OK);
  assert_non_null(f = fopen(path, "rb"));
  fseek(f, 0, SEEK_END);
  len = ftell(f);
  rewind(f);
  assert_non_null(txt = malloc((size_t)len + 1));
  assert_int_equal(fread(txt, 1, (size_t)len, f), (size_t)len);
  txt[len] = 0;
  fclose(f);
  assert_non_null(doc = cJSON_Parse(txt));
  free(txt);
  assert_string_equal(cJSON_GetObjectItem(doc, "version")->valuestring, cb_version());
  samples = cJSON_GetObjectItem(doc, "samples");
  assert_int_equal(cJSON_GetArraySize(samples), 3);
  for (int k = 0; k < 3; k++) {
    cJSON *s = cJSON_GetArrayItem(samples, k), *m = cJSON_GetObjectItem(s, "margin_lb");
    size_t nm;
    const double *mar = cb_certificate_margins(c[k], &nm);
    double cr, ar;
    assert_string_equal(cJSON_GetObjectItem(s, "verdict")->valuestring, cb_answer_name(cb_certificate_answer(c[k])));
    assert_int_equal(cJSON_GetObjectItem(s, "label")->valueint, cb_certificate_label(c[k]));
    assert_int_equal(cJSON_GetObjectItem(s, "pred")->valueint, cb_certificate_predicted(c[k]));
    assert_int_equal(cJSON_IsNull(m), mar == NULL);
    for (size_t j = 0; mar && j < nm; j++) assert_true(cJSON_GetArrayItem(m, (int)j)->valuedouble == mar[j]);
    if (cb_certificate_radii(c[k], &cr, &ar)) assert_true(cJSON_GetObjectItem(s, "certified_radius")->valuedouble == cr);
    else assert_true(cJSON_IsNull(cJSON_GetObjectItem(s, "certified_radius")));
  }
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "summary"), "n_samples")->valueint, 3);
  cJSON_Delete(doc);
  remove(path);
  expect_status(cb_certificates_write_json("build/no_such_dir/x.json", (const cb_certificate *const *)c, 3, &err), CB_EIO, err);
  assert_null(fopen("build/no_such_dir/x.json.tmp", "r"));
  expect_status(cb_certificates_write_json(NULL, (const cb_certificate *const *)c, 3, &err), CB_EUSAGE, err);
  expect_status(cb_certificates_write_json(path, NULL, 3, &err), CB_EUSAGE, err);
  cb_certificate_free(c[1]);
  c[1] = NULL;
  expect_status(cb_certificates_write_json(path, (const cb_certificate *const *)c, 3, &err), CB_EUSAGE, err);
  assert_null(fopen(path, "r"));
  for (int k = 0; k < 3; k++) cb_certificate_free(c[k]);
  cb_net_free(net);
}

/* The allocation-failure sweep over the new calls. */
/* Verify with two search threads puts OpenBLAS on one thread while it runs
   (a process-wide setting): from two threads at once, each verifying,
   the caller's count must come back when both are done. */
static void *verify_twice(void *arg)
{
  cb_net *net = arg;
  cb_verify_opts o;
  cb_error err;
  for (int k = 0; k < 4; k++) {
    cb_verification *v = NULL;
    cb_verify_opts_init(&o, sizeof o);
    o.threads = 2;
    o.timeout = 20;
    if (cb_verify_vnnlib(net, k % 2 ? "tests/data/tiny_sat.vnnlib" : "tests/data/tiny_unsat.vnnlib", &o, &v, &err) != CB_OK ||
        cb_verification_answer(v) != (k % 2 ? CB_ANSWER_FALSIFIED : CB_ANSWER_VERIFIED)) {
      cb_verification_free(v);
      return (void *)1;
    }
    cb_verification_free(v);
  }
  return NULL;
}

static void test_verify_blas_threads(void **state)
{
  cb_net *tiny = load(TINY);
  pthread_t t[2];
  void *res[2];
  int before;
  (void)state;
  la_set_threads(3);
  before = la_get_threads();
  for (int k = 0; k < 2; k++) assert_int_equal(pthread_create(&t[k], NULL, verify_twice, tiny), 0);
  for (int k = 0; k < 2; k++) assert_int_equal(pthread_join(t[k], &res[k]), 0);
  assert_null(res[0]);
  assert_null(res[1]);
  assert_int_equal(la_get_threads(), before);
  la_set_threads(1);
  cb_net_free(tiny);
}

static void test_oom_sweep_new(void **state)
{
  cb_net *net = load(TINY);
  double x[2] = {0.25, 1}, G[4], lo[4], hi[4], map[2], lb[2], ub[2], cert;
  const char *path = "build/tests/test_api_oom.json";
  cb_radius_opts ro;
  int done = 0;
  (void)state;
  cb_radius_opts_init(&ro, sizeof ro);
  ro.method = CB_RADIUS_LOCAL_LIPSCHITZ;
  for (long n = 0; n < 100000 && !done; n++) {
    cb_region *r = NULL;
    cb_certificate *c = NULL;
    cb_error err = {0};
    cb_status rc;
    cb_alloc_fail_after(n);
    rc = cb_region_ball(net, CB_LP_INF, 0.05, x, 2, &r, &err);
    if (rc == CB_OK) rc = cb_gradient(net, x, 2, NULL, 2, G, 4, &err);
    if (rc == CB_OK) rc = cb_jacobian_bounds(net, r, CB_BOUND_CROWN, NULL, 2, lo, hi, 4, &err);
    if (rc == CB_OK) rc = cb_attribute(net, x, 2, 0, NULL, map, 2, &err);
    if (rc == CB_OK) rc = cb_attribute_bounds(net, r, 0, NULL, lb, ub, 2, &err);
    if (rc == CB_OK) rc = cb_radius(net, r, 0, &ro, &cert, NULL, &err);
    if (rc == CB_OK) rc = cb_certify(net, r, 0, NULL, &c, &err);
    if (rc == CB_OK) rc = cb_certificates_write_json(path, (const cb_certificate *const *)&c, 1, &err);
    cb_alloc_fail_after(-1);
    if (rc == CB_OK) done = 1;
    else {
      assert_int_equal(err.status, rc);
      assert_true(rc == CB_ENOMEM || rc == CB_ELIMIT);
    }
    cb_certificate_free(c);
    cb_region_free(r);
  }
  assert_true(done);
  remove(path);
  cb_net_free(net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_load_errors),
    cmocka_unit_test(test_region_errors),
    cmocka_unit_test(test_bounds_errors),
    cmocka_unit_test(test_certify_errors),
    cmocka_unit_test(test_verify_errors),
    cmocka_unit_test(test_oom_sweep),
    cmocka_unit_test(test_version_opts),
    cmocka_unit_test(test_gradient),
    cmocka_unit_test(test_jacobian_bounds),
    cmocka_unit_test(test_radius),
    cmocka_unit_test(test_attribute),
    cmocka_unit_test(test_certificates_json),
    cmocka_unit_test(test_oom_sweep_new),
    cmocka_unit_test(test_verify_blas_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
