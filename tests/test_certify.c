/*
** The certification cascade (certify/certify.c), acceptance 1-3 of the
** certify issue, on the 4 reference nets x 20 samples x 6 balls of
** tests/data/ref (copied from shared/reference/bounds):
**  - verified count >= the reference CROWN count, falsified count >= the
**    reference PGD count, and no sample verified here that the reference PGD
**    falsified;
**  - every counterexample lies in the set (set_contains, tolerance 0) and the
**    forward pass puts it in another class than the label;
**  - with the radius search: certified radius <= attack radius for every
**    sample, and consistent with the verdict at eps; on digits_orth with L2,
**    the certified radius >= the reference Lipschitz radius
**    (certified_l2_radius_merged; the reference's K is a float64 SVD, ours a
**    guaranteed upper bound, so 1e-6 relative slack).
*/
#include <math.h>
#include "testutil.h"
#include "certify.h"

static const char *nets[] = {"digits_mlp", "digits_cnn", "digits_tanh", "digits_orth"};

static void run_net(int t, int radius)
{
  char path[256];
  snprintf(path, sizeof path, "nets/%s.onnx", nets[t]);
  cb_net *net = must_load(path);
  size_t nin = cb_net_input_size(net), nout = cb_net_output_size(net);
  cb_data *d = must_csv("nets/digits_test20.csv", nin);
  snprintf(path, sizeof path, "tests/data/ref/%s.json", nets[t]);
  cJSON *ref = load_json(path);
  const cJSON *samples = cJSON_GetObjectItem(ref, "samples"), *summary = cJSON_GetObjectItem(ref, "summary");
  double *y = malloc(nout * sizeof *y);
  assert_non_null(ref);
  for (int b = 0; b < cJSON_GetArraySize(summary); b++) {
    const cJSON *sb = cJSON_GetArrayItem(summary, b);
    const char *nm = cJSON_GetObjectItem(sb, "norm")->valuestring;
    cb_cert_opt o;
    cb_certifier *c;
    cb_error err = {0};
    int ver = 0, fal = 0;
    int ref_crown = cJSON_GetObjectItem(cJSON_GetObjectItem(sb, "verified"), "CROWN")->valueint;
    int ref_pgd = cJSON_GetObjectItem(sb, "pgd_counterexamples")->valueint;
    cert_opt_init(&o);
    o.norm = nm[0] == 'i' ? CB_NORM_INF : CB_NORM_2;
    o.eps = cJSON_GetObjectItem(sb, "eps")->valuedouble;
    o.radius = radius;
    o.bab_timeout = 1;     /* bab on the few open L-inf rows (the tanh and cnn nets' search is slow): 1 s keeps the test short */
    if (radius && (o.norm != CB_NORM_2 || o.eps != 0.1)) continue;   /* radius: one ball per net */
    c = certifier_new(net, &o, &err);
    if (!c) fail_msg("%s", err.msg);
    for (int i = 0; i < cJSON_GetArraySize(samples); i++) {
      const cJSON *sm = cJSON_GetArrayItem(samples, i), *res = cJSON_GetObjectItem(sm, "results"), *pgd = NULL;
      cb_cert_result r;
      cb_set s = {o.norm, o.eps, nin, cb_data_x(d, (size_t)i), NULL, NULL};
      for (int k = 0; k < cJSON_GetArraySize(res); k++) {
        const cJSON *rk = cJSON_GetArrayItem(res, k);
        if (!strcmp(cJSON_GetObjectItem(rk, "norm")->valuestring, nm) && cJSON_GetObjectItem(rk, "eps")->valuedouble == o.eps)
          pgd = cJSON_GetObjectItem(rk, "pgd");
      }
      assert_non_null(pgd);
      assert_int_equal(cert_result_init(&r, net), CB_OK);
      if (certify_sample(c, s.center, cb_data_label(d, (size_t)i), &r, NULL, &err) != CB_OK) fail_msg("%s", err.msg);
      ver += r.verdict == V_VERIFIED;
      fal += r.verdict == V_FALSIFIED;
      if (r.verdict == V_VERIFIED && cJSON_IsTrue(cJSON_GetObjectItem(pgd, "counterexample")))
        fail_msg("%s %s eps %g sample %d: verified, but the reference PGD falsified it", nets[t], nm, o.eps, i);
      if (r.verdict == V_FALSIFIED) {
        assert_true(set_contains(&s, r.cex));
        assert_int_equal(cb_net_forward(net, r.cex, 1, y, &err), CB_OK);
        int am = 0;
        for (size_t k = 1; k < nout; k++) if (y[k] > y[am]) am = (int)k;
        if (am == r.label) fail_msg("%s sample %d: counterexample classified as the label", nets[t], i);
        assert_int_equal(am, r.cex_class);
      }
      if (radius) {
        double lipr = cJSON_GetObjectItem(sm, "certified_l2_radius_merged")->valuedouble;
        if (!(r.certified_radius <= r.attack_radius))
          fail_msg("%s sample %d: certified radius %g > attack radius %g", nets[t], i, r.certified_radius, r.attack_radius);
        if (r.verdict == V_VERIFIED) assert_true(r.certified_radius >= o.eps);
        if (r.verdict == V_FALSIFIED) assert_true(r.attack_radius <= o.eps);
        if (t == 3 && r.certified_radius < lipr * (1 - 1e-6))
          fail_msg("digits_orth sample %d: certified radius %.9g < reference Lipschitz radius %.9g", i, r.certified_radius, lipr);
        if (i < 3) printf("  %s L2 sample %d: [certified %.6g, attacked %.6g], reference Lipschitz radius %.6g\n",
                          nets[t], i, r.certified_radius, r.attack_radius, lipr);
      }
      cert_result_free(&r);
    }
    printf("%s L%s eps %g%s: verified %d (reference CROWN %d), falsified %d (reference PGD %d)\n", nets[t], nm, o.eps,
           radius ? " +radius" : "", ver, ref_crown, fal, ref_pgd);
    assert_true(ver >= ref_crown);
    assert_true(fal >= ref_pgd);
    certifier_free(c);
  }
  free(y);
  cJSON_Delete(ref); cb_data_free(d); cb_net_free(net);
}

static void test_verdicts(void **st) { (void)st; for (int t = 0; t < 4; t++) run_net(t, 0); }
static void test_radii(void **st) { (void)st; for (int t = 0; t < 4; t++) run_net(t, 1); }

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_verdicts), cmocka_unit_test(test_radii)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
