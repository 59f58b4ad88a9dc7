/*
** Resource limits (src/limits.c): the memory cap refuses the allocation that
** would pass it and the error says so; the byte count returns to its start
** after a load + analysis + free (every cb_alloc is matched by a cb_free);
** a passed deadline makes the bounds and the Lipschitz analysis stop with
** CB_ELIMIT "time limit" instead of running on.
*/
#include <time.h>
#include "testutil.h"
#include "bounds.h"
#include "lipschitz.h"

static void test_mem_cap(void **st)
{
  cb_error err = {0};
  size_t base = cb_mem_used();
  void *a, *b;
  (void)st;
  cb_limits_set(0, base + (1 << 20));
  a = cb_alloc(600 << 10);
  assert_non_null(a);
  assert_false(cb_mem_limit_hit());
  b = cb_alloc(600 << 10);          /* 1.2 MiB > the 1 MiB cap */
  assert_null(b);
  assert_true(cb_mem_limit_hit());
  assert_int_equal(cb_error_set(&err, CB_ENOMEM, "out of memory in X"), CB_ELIMIT);
  assert_int_equal(err.status, CB_ELIMIT);
  assert_non_null(strstr(err.msg, "memory limit of"));
  assert_non_null(strstr(err.msg, "out of memory in X"));
  cb_free(a);
  assert_int_equal(cb_mem_used(), base);
  cb_limits_set(0, 0);
  b = cb_alloc(2 << 20);            /* no cap any more */
  assert_non_null(b);
  cb_free(b);
  assert_true(cb_mem_peak() >= base + (600 << 10));
}

/* A load under a cap smaller than the network fails cleanly with CB_ELIMIT. */
static void test_mem_cap_load(void **st)
{
  cb_net *net = NULL;
  cb_error err = {0};
  (void)st;
  cb_limits_set(0, cb_mem_used() + (16 << 10));
  assert_int_equal(cb_net_load("nets/digits_cnn.onnx", &net, &err), CB_ELIMIT);
  assert_null(net);
  assert_non_null(strstr(err.msg, "memory limit of"));
  cb_limits_set(0, 0);
}

/* Every byte taken by load, bounds and Lipschitz analysis is given back. */
static void test_balance(void **st)
{
  size_t base = cb_mem_used();
  cb_net *net = must_load("nets/digits_cnn.onnx");
  cb_bnet bn = {0};
  cb_error err = {0};
  double x[64] = {0};
  cb_set s = {CB_NORM_INF, 0.01, 64, x, NULL, NULL};
  cb_ws *ws;
  lip_opts lo;
  lip_result *r = NULL;
  (void)st;
  assert_true(cb_mem_used() > base);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  assert_non_null(ws = ws_new(&bn, &s, &err));
  assert_int_equal(bounds_run(ws, CB_CROWN, &err), CB_OK);
  ws_free(ws);
  bnet_free(&bn);
  lip_opts_init(&lo);
  assert_int_equal(lip_analyze(net, &lo, &r, &err), CB_OK);
  lip_result_free(r);
  cb_net_free(net);
  assert_int_equal(cb_mem_used(), base);
}

static void wait_past(double s)
{
  struct timespec t = {0, (long)(s * 1e9)};
  nanosleep(&t, NULL);
}

static void test_timeout(void **st)
{
  cb_net *net = must_load("nets/digits_cnn.onnx");
  cb_bnet bn = {0};
  cb_error err = {0}, e2 = {0};
  double x[64] = {0};
  cb_set s = {CB_NORM_INF, 0.01, 64, x, NULL, NULL};
  cb_ws *ws;
  lip_opts lo;
  lip_result *r = NULL;
  (void)st;
  cb_limits_set(100, 0);
  assert_false(cb_time_up());
  cb_limits_set(0.001, 0);
  wait_past(0.005);
  assert_true(cb_time_up());
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  assert_non_null(ws = ws_new(&bn, &s, &err));
  assert_int_equal(bounds_run(ws, CB_CROWN, &err), CB_ELIMIT);
  assert_non_null(strstr(err.msg, "time limit of 0.001 s reached"));
  lip_opts_init(&lo);
  assert_int_equal(lip_analyze(net, &lo, &r, &e2), CB_ELIMIT);
  assert_null(r);
  assert_non_null(strstr(e2.msg, "time limit"));
  cb_limits_set(0, 0);
  assert_false(cb_time_up());
  ws_free(ws);
  bnet_free(&bn);
  cb_net_free(net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_mem_cap),
    cmocka_unit_test(test_mem_cap_load),
    cmocka_unit_test(test_balance),
    cmocka_unit_test(test_timeout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
