/*
** Failing-allocator sweep: the Nth allocation fails, for every N until the
** operation succeeds.  Each attempt must return CB_ENOMEM with a message (or
** succeed) and never crash; leaks are caught by `make asan` / `make valgrind`,
** which run this same binary.
*/
#include "testutil.h"

static void sweep_load(const char *path)
{
  int n;
  for (n = 0; n < 100000; n++) {
    cb_net *net = NULL;
    cb_error err = {0};
    int rc;
    cb_alloc_fail_after(n);
    rc = cb_net_load(path, &net, &err);
    cb_alloc_fail_after(-1);
    if (rc == CB_OK) { assert_non_null(net); cb_net_free(net); break; }
    if (rc != CB_ENOMEM) fail_msg("%s, failing allocation %d: status %d: %s", path, n, rc, err.msg);
    assert_true(err.msg[0] != 0);
    assert_null(net);
  }
  printf("%s: %d allocation failure points, all reported as out of memory\n", path, n);
}

static void test_load_onnx(void **st) { (void)st; sweep_load("nets/digits_cnn.onnx"); }
static void test_load_nnet(void **st) { (void)st; sweep_load("tests/data/tiny.nnet"); }

static void test_forward(void **st)
{
  cb_net *net = must_load("nets/digits_cnn.onnx");
  double x[4 * 64] = {0}, y[40];
  int n;
  (void)st;
  for (n = 0; n < 1000; n++) {
    cb_error err = {0};
    int rc;
    cb_alloc_fail_after(n);
    rc = cb_net_forward(net, x, 4, y, &err);
    cb_alloc_fail_after(-1);
    if (rc == CB_OK) break;
    assert_int_equal(rc, CB_ENOMEM);
    assert_true(err.msg[0] != 0);
  }
  assert_true(n < 1000);
  cb_net_free(net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_load_onnx),
    cmocka_unit_test(test_load_nnet),
    cmocka_unit_test(test_forward),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
