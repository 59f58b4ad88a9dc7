/*
** Acceptance 1: the four reference nets load; the double forward pass on
** digits_test20.csv matches the reference logits (float64 forward over the
** same float32 weights) to 1e-6 absolute, and accuracy on the 360-row test
** split equals the manifest's test_accuracy.  Uses only files in the repo.
*/
#include <math.h>
#include "testutil.h"

static const char *nets[] = {"digits_mlp", "digits_cnn", "digits_tanh", "digits_orth"};

static void check_logits(const char *name)
{
  char p[256];
  cb_net *net;
  cb_data *x, *ref;
  double *y, worst = 0;
  snprintf(p, sizeof p, "nets/%s.onnx", name);
  net = must_load(p);
  x = must_csv("nets/digits_test20.csv", cb_net_input_size(net));
  snprintf(p, sizeof p, "tests/data/ref/%s_logits20.csv", name);
  ref = must_csv(p, 10);
  assert_int_equal(cb_data_rows(x), 20);
  assert_int_equal(cb_data_rows(ref), 20);
  y = forward_rows(net, x);
  for (size_t r = 0; r < 20; r++) {
    assert_int_equal(cb_data_label(x, r), cb_data_label(ref, r));
    for (size_t k = 0; k < 10; k++) {
      double d = fabs(y[r * 10 + k] - cb_data_x(ref, r)[k]);
      if (d > worst) worst = d;
    }
  }
  printf("%s: max |logit - reference| = %.3g\n", name, worst);
  assert_true(worst <= 1e-6);
  free(y);
  cb_data_free(x);
  cb_data_free(ref);
  cb_net_free(net);
}

static double manifest_accuracy(const char *name)
{
  cJSON *m = load_json("tests/data/ref/manifest.json"), *n;
  double acc = -1;
  assert_non_null(m);
  cJSON_ArrayForEach(n, cJSON_GetObjectItem(m, "nets"))
    if (!strcmp(cJSON_GetObjectItem(n, "name")->valuestring, name))
      acc = cJSON_GetObjectItem(n, "test_accuracy")->valuedouble;
  cJSON_Delete(m);
  return acc;
}

static void check_accuracy(const char *name)
{
  char p[256];
  cb_net *net;
  cb_data *x;
  double *y;
  size_t correct = 0, rows;
  snprintf(p, sizeof p, "nets/%s.onnx", name);
  net = must_load(p);
  x = must_csv("nets/digits_test.csv", cb_net_input_size(net));
  rows = cb_data_rows(x);
  assert_int_equal(rows, 360);
  y = forward_rows(net, x);
  for (size_t r = 0; r < rows; r++) correct += cb_argmax(y + r * 10, 10) == (size_t)cb_data_label(x, r);
  assert_int_equal(correct, (size_t)llround(manifest_accuracy(name) * 360));
  free(y);
  cb_data_free(x);
  cb_net_free(net);
}

static void test_logits(void **st) { (void)st; for (int i = 0; i < 4; i++) check_logits(nets[i]); }
static void test_accuracy(void **st) { (void)st; for (int i = 0; i < 4; i++) check_accuracy(nets[i]); }

/* Batch size must not change any logit bit: batch 1 (dgemv) vs batch 20 (dgemm) agree to 1e-12. */
static void test_batch_consistency(void **st)
{
  cb_net *net = must_load("nets/digits_cnn.onnx");
  cb_data *x = must_csv("nets/digits_test20.csv", 64);
  double *all = forward_rows(net, x), one[10];
  cb_error err = {0};
  (void)st;
  for (size_t r = 0; r < 20; r++) {
    assert_int_equal(cb_net_forward(net, cb_data_x(x, r), 1, one, &err), CB_OK);
    for (int k = 0; k < 10; k++) assert_true(fabs(one[k] - all[r * 10 + k]) <= 1e-12);
  }
  free(all);
  cb_data_free(x);
  cb_net_free(net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_logits),
    cmocka_unit_test(test_accuracy),
    cmocka_unit_test(test_batch_consistency),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
