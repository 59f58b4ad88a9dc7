/*
** compare-models and the randomisation sanity checks in the public API
** (include/cerbere.h cb_compare_models, cb_attr_sanity):
**   K identical models give MeGe 1 and ReCo 1 (n_eq = K x rows, n_ne = 0);
**   three different nets match the scipy recomputation of Xplique's
**   MeGe/ReCo (tests/data/mege/ref.json, tests/data/gen_mege_ref.py) to
**   1e-12 and `cerbere compare-models` exactly;
**   bad input: one model, models of different input sizes, splits that do
**   not partition the rows or are out of range, each an error with its line;
**   cb_attr_sanity equals `cerbere attribute --sanity` exactly on 3 rows,
**   leaves the network unchanged, re-initialises only the layers asked for
**   (layers = 1 moves Saliency less than all layers), and model
**   randomisation moves every gradient method's map by more than 10%.
*/
#include <math.h>
#include "attr.h"
#include "cerbere.h"
#include "testutil.h"

static char cerbere[512];

static int *read_ints(const char *path, size_t R)
{
  FILE *f = fopen(path, "r");
  int *v = malloc(R * sizeof *v);
  for (size_t r = 0; r < R; r++)
    if (!f || fscanf(f, "%d", &v[r]) != 1) fail_msg("%s: cannot read %zu integers", path, R);
  fclose(f);
  return v;
}

/* X and labels of a CSV's rows. */
static double *rows_of(const cb_data *d, size_t n, int **labels)
{
  size_t R = cb_data_rows(d);
  double *X = malloc(R * n * sizeof *X);
  *labels = malloc(R * sizeof **labels);
  for (size_t r = 0; r < R; r++) {
    memcpy(X + r * n, cb_data_x(d, r), n * sizeof *X);
    (*labels)[r] = cb_data_label(d, r);
  }
  return X;
}

static void test_compare_identical_and_reference(void **st)
{
  (void)st;
  static const cb_attr_method ms[] = {CB_ATTR_SALIENCY, CB_ATTR_GRADXINPUT, CB_ATTR_LIME};
  cb_net *cnn = must_load("nets/digits_cnn.onnx"), *three[3] = {must_load("nets/digits_mlp.onnx"),
                must_load("nets/digits_tanh.onnx"), must_load("nets/digits_orth.onnx")};
  const cb_net *same[3] = {cnn, cnn, cnn};
  cb_data *d20 = must_csv("nets/digits_test20.csv", 64), *d = must_csv("nets/digits_test.csv", 64);
  int *lab20, *lab, *spl20 = read_ints("tests/data/mege/splits20.csv", 20), *spl = read_ints("tests/data/mege/splits3.csv", 360);
  double *X20 = rows_of(d20, 64, &lab20), *X = rows_of(d, 64, &lab);
  cJSON *ref = load_json("tests/data/mege/ref.json"), *j;
  cb_error err = {0};
  cb_mege m;
  char cmd[1024], dir[] = "/tmp/cb_test_attr_api_XXXXXX", p[300];
  for (size_t q = 0; q < sizeof ms / sizeof *ms; q++) {
    cb_attr_opts o;
    cb_attr_opts_init(&o, sizeof o);
    o.method = ms[q];
    if (cb_compare_models(same, 3, X20, lab20, spl20, 20, 64, &o, &m, &err) != CB_OK) fail_msg("%s", err.msg);
    if (m.mege != 1 || m.reco != 1 || m.n_eq != 40 || m.n_ne != 0)
      fail_msg("%s: identical models give MeGe %g ReCo %g (n_eq %zu, n_ne %zu)", cb_attr_method_name(ms[q]), m.mege, m.reco, m.n_eq, m.n_ne);
  }
  if (cb_compare_models((const cb_net *const *)three, 3, X, lab, spl, 360, 64, NULL, &m, &err) != CB_OK) fail_msg("%s", err.msg);
  if (fabs(m.mege - cJSON_GetObjectItem(ref, "mege")->valuedouble) > 1e-12 || fabs(m.reco - cJSON_GetObjectItem(ref, "reco")->valuedouble) > 1e-12)
    fail_msg("MeGe %.17g ReCo %.17g, scipy reference %.17g %.17g", m.mege, m.reco, cJSON_GetObjectItem(ref, "mege")->valuedouble,
             cJSON_GetObjectItem(ref, "reco")->valuedouble);
  assert_int_equal(m.n_eq, cJSON_GetObjectItem(ref, "n_eq")->valueint);
  assert_int_equal(m.n_ne, cJSON_GetObjectItem(ref, "n_ne")->valueint);
  if (!mkdtemp(dir)) fail_msg("mkdtemp");
  snprintf(p, sizeof p, "%s/o.json", dir);
  snprintf(cmd, sizeof cmd, "%s compare-models --models nets/digits_mlp.onnx nets/digits_tanh.onnx nets/digits_orth.onnx "
           "--data nets/digits_test.csv --splits tests/data/mege/splits3.csv --method saliency --quiet --json %s > /dev/null", cerbere, p);
  if (system(cmd) != 0) fail_msg("%s failed", cmd);
  j = load_json(p);
  assert_true(cJSON_GetObjectItem(j, "mege")->valuedouble == m.mege && cJSON_GetObjectItem(j, "reco")->valuedouble == m.reco);
  cJSON_Delete(j);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fail_msg("rm");
  cJSON_Delete(ref);
  free(X20); free(X); free(lab20); free(lab); free(spl20); free(spl);
  cb_data_free(d20);
  cb_data_free(d);
  cb_net_free(cnn);
  for (int k = 0; k < 3; k++) cb_net_free(three[k]);
}

static void test_compare_errors(void **st)
{
  (void)st;
  cb_net *cnn = must_load("nets/digits_cnn.onnx"), *att = must_load("tests/data/attn/attn_block.onnx");
  const cb_net *mixed[2] = {cnn, att}, *two[2] = {cnn, cnn};
  cb_data *d = must_csv("nets/digits_test20.csv", 64);
  int *lab, spl[20];
  double *X = rows_of(d, 64, &lab);
  cb_error err = {0};
  cb_mege m;
  for (int r = 0; r < 20; r++) spl[r] = r % 2;
  memset(&err, 0, sizeof err);
  assert_int_equal(cb_compare_models(two, 1, X, lab, spl, 20, 64, NULL, &m, &err), CB_EUSAGE);
  memset(&err, 0, sizeof err);
  assert_int_equal(cb_compare_models(mixed, 2, X, lab, spl, 20, 64, NULL, &m, &err), CB_ESHAPE);
  if (!strstr(err.msg, "must take the same input")) fail_msg("%s", err.msg);
  for (int r = 0; r < 20; r++) spl[r] = 0;   /* split 1 empty */
  memset(&err, 0, sizeof err);
  assert_int_equal(cb_compare_models(two, 2, X, lab, spl, 20, 64, NULL, &m, &err), CB_EVALUE);
  assert_non_null(strstr(err.msg, "do not partition"));
  spl[3] = 1; spl[4] = 2;   /* a split out of range */
  memset(&err, 0, sizeof err);
  assert_int_equal(cb_compare_models(two, 2, X, lab, spl, 20, 64, NULL, &m, &err), CB_EVALUE);
  assert_non_null(strstr(err.msg, "row 4: split 2"));
  assert_null(strchr(err.msg, '\n'));
  free(X); free(lab);
  cb_data_free(d);
  cb_net_free(cnn);
  cb_net_free(att);
}

static void test_sanity(void **st)
{
  (void)st;
  static const cb_attr_method grads[] = {CB_ATTR_SALIENCY, CB_ATTR_GRADXINPUT, CB_ATTR_IG, CB_ATTR_SMOOTHGRAD, CB_ATTR_VARGRAD,
                                         CB_ATTR_SQUAREGRAD, CB_ATTR_GUIDEDBP, CB_ATTR_DECONVNET, CB_ATTR_LRP, CB_ATTR_DEEPLIFT,
                                         CB_ATTR_GRADCAM, CB_ATTR_GRADCAMPP};
  cb_net *net = must_load("nets/digits_cnn.onnx");
  cb_data *d = must_csv("nets/digits_test20.csv", 64);
  char cmd[1024], dir[] = "/tmp/cb_test_sanity_XXXXXX", p[300];
  cJSON *j, *s;
  cb_error err = {0};
  cb_attr_opts o;
  cb_sanity a, b;
  double y0[10], y1[10];
  int rows = 0;
  if (!mkdtemp(dir)) fail_msg("mkdtemp");
  snprintf(p, sizeof p, "%s/o.json", dir);
  snprintf(cmd, sizeof cmd, "%s attribute nets/digits_cnn.onnx --data nets/digits_test20.csv --rows 0:3 --method saliency --sanity "
           "--quiet --json %s > /dev/null", cerbere, p);
  if (system(cmd) != 0) fail_msg("%s failed", cmd);
  j = load_json(p);
  cb_attr_opts_init(&o, sizeof o);
  if (cb_net_forward(net, cb_data_x(d, 0), 1, y0, &err) != CB_OK) fail_msg("%s", err.msg);
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(j, "samples")) {
    int r = cJSON_GetObjectItem(s, "index")->valueint, t = cJSON_GetObjectItem(s, "target")->valueint;
    cJSON *z = cJSON_GetObjectItem(s, "sanity");
    if (cb_attr_sanity(net, cb_data_x(d, (size_t)r), 64, t, &o, 0, (size_t)r, &a, &err) != CB_OK) fail_msg("%s", err.msg);
    assert_true(a.model_spearman == cJSON_GetObjectItem(z, "model_spearman")->valuedouble);
    assert_true(a.model_change == cJSON_GetObjectItem(z, "model_change")->valuedouble);
    assert_int_equal(a.logit_class, cJSON_GetObjectItem(z, "logit_class")->valueint);
    assert_true(a.logit_spearman == cJSON_GetObjectItem(z, "logit_spearman")->valuedouble);
    assert_true(a.logit_change == cJSON_GetObjectItem(z, "logit_change")->valuedouble);
    rows++;
  }
  assert_int_equal(rows, 3);
  cJSON_Delete(j);
  if (cb_net_forward(net, cb_data_x(d, 0), 1, y1, &err) != CB_OK) fail_msg("%s", err.msg);
  assert_memory_equal(y0, y1, sizeof y0);   /* the network itself is unchanged */
  if (cb_attr_sanity(net, cb_data_x(d, 0), 64, 0, &o, 1, 0, &b, &err) != CB_OK) fail_msg("%s", err.msg);
  if (cb_attr_sanity(net, cb_data_x(d, 0), 64, 0, &o, 0, 0, &a, &err) != CB_OK) fail_msg("%s", err.msg);
  assert_true(b.model_change > 0 && b.model_change < a.model_change);
  for (size_t q = 0; q < sizeof grads / sizeof *grads; q++) {
    cb_attr_opts_init(&o, sizeof o);
    o.method = grads[q];
    o.steps = 8;
    o.samples = 8;
    for (size_t r = 0; r < 3; r++) {
      if (cb_attr_sanity(net, cb_data_x(d, r), 64, cb_data_label(d, r), &o, 0, r, &a, &err) != CB_OK) fail_msg("%s", err.msg);
      if (!(a.model_change > 0.1)) fail_msg("%s row %zu: the randomised model's map moved by only %g", cb_attr_method_name(grads[q]), r, a.model_change);
    }
  }
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fail_msg("rm");
  cb_data_free(d);
  cb_net_free(net);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest t[] = {
    cmocka_unit_test(test_compare_identical_and_reference), cmocka_unit_test(test_compare_errors), cmocka_unit_test(test_sanity),
  };
  (void)argc;
  cerbere_bin(argv[0], cerbere, sizeof cerbere);
  return cmocka_run_group_tests(t, NULL, NULL);
}
