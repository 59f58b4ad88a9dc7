/*
** Acceptance 1 of the bounds analyzer: on the 4 reference nets x 20 samples
** x 6 balls, IBP, CROWN and CROWN-IBP logit bounds and margin lower bounds
** match auto_LiRPA's (tests/data/ref/<net>.json, copied from
** shared/reference/bounds) to max(1e-4 absolute, 1e-5 relative), and the
** verified counts equal the reference summary.  Also: each bound is checked
** against the reference's empirical extremes (sampled points must be inside).
*/
#include <math.h>
#include "testutil.h"
#include "bounds.h"

static const char *nets[] = {"digits_mlp", "digits_cnn", "digits_tanh", "digits_orth"};
static const char *mname[] = {"IBP", "CROWN", "CROWN-IBP"};
static const cb_method mcode[] = {CB_IBP, CB_CROWN, CB_CROWN_IBP};

static double worst_diff;

static void expect_close(const char *what, double got, double want)
{
  double d = fabs(got - want);
  if (d > worst_diff) worst_diff = d;
  if (d > fmax(1e-4, 1e-5 * fabs(want))) fail_msg("%s: got %.9g, reference %.9g", what, got, want);
}

/* Bounds of one sample, one ball, one method; returns 1 if verified. */
static int check_one(const cb_bnet *bn, const double *x0, int label, const cJSON *res, int m, const char *tag)
{
  const cJSON *mr = cJSON_GetObjectItem(cJSON_GetObjectItem(res, "methods"), mname[m]);
  const cJSON *emp = cJSON_GetObjectItem(res, "empirical");
  cb_set s = {strcmp(cJSON_GetObjectItem(res, "norm")->valuestring, "2") ? CB_NORM_INF : CB_NORM_2,
              cJSON_GetObjectItem(res, "eps")->valuedouble, 64, x0, NULL, NULL};
  double I[100] = {0}, C[90] = {0}, lb[10], ub[10], mlb[9];
  char what[256];
  cb_error err = {0};
  cb_ws *ws = ws_new(bn, &s, &err);
  int verified = 1;
  assert_non_null(ws);
  for (int k = 0; k < 10; k++) I[k * 10 + k] = 1;
  for (int k = 0, j = 0; j < 10; j++) if (j != label) { C[k * 10 + label] = 1; C[k * 10 + j] = -1; k++; }
  if (bounds_run(ws, mcode[m], &err) != CB_OK || bounds_spec(ws, I, 10, lb, ub, &err) != CB_OK ||
      bounds_spec(ws, C, 9, mlb, NULL, &err) != CB_OK) fail_msg("%s: %s", tag, err.msg);
  for (int k = 0; k < 10; k++) {
    snprintf(what, sizeof what, "%s %s logit_lb[%d]", tag, mname[m], k);
    expect_close(what, lb[k], cJSON_GetArrayItem(cJSON_GetObjectItem(mr, "logit_lb"), k)->valuedouble);
    snprintf(what, sizeof what, "%s %s logit_ub[%d]", tag, mname[m], k);
    expect_close(what, ub[k], cJSON_GetArrayItem(cJSON_GetObjectItem(mr, "logit_ub"), k)->valuedouble);
    if (!(lb[k] <= cJSON_GetArrayItem(cJSON_GetObjectItem(emp, "logit_min"), k)->valuedouble + 1e-5) ||
        !(ub[k] >= cJSON_GetArrayItem(cJSON_GetObjectItem(emp, "logit_max"), k)->valuedouble - 1e-5))
      fail_msg("%s %s logit %d: bound [%.9g, %.9g] misses a sampled value", tag, mname[m], k, lb[k], ub[k]);
  }
  for (int k = 0; k < 9; k++) {
    snprintf(what, sizeof what, "%s %s margin_lb[%d]", tag, mname[m], k);
    expect_close(what, mlb[k], cJSON_GetArrayItem(cJSON_GetObjectItem(mr, "margin_lb"), k)->valuedouble);
    { double e = cJSON_GetArrayItem(cJSON_GetObjectItem(emp, "margin_min"), k)->valuedouble;
      if (!(mlb[k] <= e + 1e-5))
        fail_msg("%s %s margin_lb[%d] = %.9g above a sampled margin %.9g", tag, mname[m], k, mlb[k], e); }
    if (!(mlb[k] > 0)) verified = 0;
  }
  ws_free(ws);
  return verified;
}

static void check_net(int ni)
{
  char p[256], tag[128];
  cJSON *ref, *samples, *summary;
  cb_net *net;
  cb_data *x;
  cb_bnet bn;
  cb_error err = {0};
  int count[6][3] = {{0}};
  snprintf(p, sizeof p, "tests/data/ref/%s.json", nets[ni]);
  assert_non_null(ref = load_json(p));
  snprintf(p, sizeof p, "nets/%s.onnx", nets[ni]);
  net = must_load(p);
  x = must_csv("nets/digits_test20.csv", 64);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  samples = cJSON_GetObjectItem(ref, "samples");
  summary = cJSON_GetObjectItem(ref, "summary");
  worst_diff = 0;
  for (int s = 0; s < 20; s++)
    for (int b = 0; b < 6; b++)
      for (int m = 0; m < 3; m++) {
        const cJSON *res = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(samples, s), "results"), b);
        snprintf(tag, sizeof tag, "%s sample %d ball %d", nets[ni], s, b);
        count[b][m] += check_one(&bn, cb_data_x(x, (size_t)s), cb_data_label(x, (size_t)s), res, m, tag);
      }
  for (int b = 0; b < 6; b++)
    for (int m = 0; m < 3; m++) {
      int want = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(summary, b), "verified"), mname[m])->valueint;
      if (count[b][m] != want) fail_msg("%s ball %d %s: %d verified, reference %d", nets[ni], b, mname[m], count[b][m], want);
    }
  printf("%s: 20 samples x 6 balls x 3 methods match; worst |difference| %.3g\n", nets[ni], worst_diff);
  bnet_free(&bn);
  cb_data_free(x);
  cb_net_free(net);
  cJSON_Delete(ref);
}

static void test_mlp(void **st) { (void)st; check_net(0); }
static void test_cnn(void **st) { (void)st; check_net(1); }
static void test_tanh(void **st) { (void)st; check_net(2); }
static void test_orth(void **st) { (void)st; check_net(3); }

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_mlp), cmocka_unit_test(test_cnn),
    cmocka_unit_test(test_tanh), cmocka_unit_test(test_orth),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
