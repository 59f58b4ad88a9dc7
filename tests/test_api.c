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
*/
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "cerbere.h"

void cb_alloc_fail_after(long n);   /* src/cb.h: tests make the Nth allocation fail */

#define TINY "tests/data/tiny.nnet"
#define DIGITS "nets/digits_mlp.onnx"

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
  cb_certify_opts_init(&o);
  cb_certify_opts_init(NULL);
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
  cb_certify_opts_init(&o);
  assert_int_equal(cb_region_clip(ball, lo, hi, 2, &err), CB_OK);   /* [0,1] x [0,2]: per feature */
  expect_status(cb_certify(net, ball, 0, &o, &c, &err), CB_EUNSUP, err);
  assert_null(c);
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
  cb_verify_opts_init(&o);
  cb_verify_opts_init(NULL);
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

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_load_errors),
    cmocka_unit_test(test_region_errors),
    cmocka_unit_test(test_bounds_errors),
    cmocka_unit_test(test_certify_errors),
    cmocka_unit_test(test_verify_errors),
    cmocka_unit_test(test_oom_sweep),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
