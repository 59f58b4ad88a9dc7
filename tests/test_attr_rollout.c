/*
** Attention rollout and raw attention (certify/attr_attn.c):
**   oracle: every map of tests/data/attn/rollout_ref.json (torch, from the
**     modules' own softmax tensors; tests/data/gen_rollout_ref.py) is matched
**     to 1e-12 on a 2-layer net (rollout2) and the 1-layer attn_block, for
**     rollout and raw attention, mean / max / min head fusion, query rows
**     0 and 2 and the mean of the rows; through attr_map and through the
**     public cb_attribute (cb_attr_map_size = the token count); and every map
**     of tests/data/vit/rollout_ref.json (gen_vit_rollout_ref.py) on the tiny
**     ViT, through the CLI too;
**   the attention maps are found from the graph: 2 layers, 1 layer, none on
**     a LogSoftmax net and the reference CNNs; --node picks a layer (rollout
**     through the first layer of rollout2 = (mean rows of F_1 + 1/T) / 2, a
**     closed form from its raw map);
**   bad input is one line and a non-zero exit: a net without attention,
**     --node that is not an attention map, --query out of range, --metrics
**     with rollout;
**   failing allocations are reported as out of memory.
*/
#include <math.h>
#include "attr.h"
#include "cerbere.h"
#include "testutil.h"

static char cerbere[512];

static attr_ctx *mk(const cb_net *net, int raw, attr_fusion f, int q, const char *node)
{
  attr_opt o;
  cb_error err = {0};
  attr_ctx *a;
  attr_opt_init(&o);
  o.method = AM_ROLLOUT;
  o.attn_raw = raw;
  o.fusion = f;
  o.query = q;
  o.node = node;
  if (!(a = attr_new(net, &o, &err))) fail_msg("attr_new rollout: %s", err.msg);
  return a;
}

/* Every map of one reference file; returns how many were checked. */
static int check_reference(const char *path)
{
  cJSON *ref = load_json(path), *jn;
  int checked = 0;
  cJSON_ArrayForEach(jn, cJSON_GetObjectItem(ref, "nets")) {
    cb_net *net = must_load(cJSON_GetObjectItem(jn, "net")->valuestring);
    size_t n = cb_net_input_size(net), T = (size_t)cJSON_GetObjectItem(jn, "tokens")->valueint;
    cb_data *d = must_csv(cJSON_GetObjectItem(jn, "data")->valuestring, n);
    cJSON *c, *m;
    assert_int_equal(attr_attn_layers(net, NULL, 0), cJSON_GetObjectItem(jn, "layers")->valueint);
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(jn, "cases")) {
      const double *x = cb_data_x(d, (size_t)cJSON_GetObjectItem(c, "row")->valueint);
      cJSON_ArrayForEach(m, cJSON_GetObjectItem(c, "maps")) {
        int raw = !strcmp(cJSON_GetObjectItem(m, "attention")->valuestring, "raw"), q = cJSON_GetObjectItem(m, "query")->valueint;
        const char *fs = cJSON_GetObjectItem(m, "fusion")->valuestring;
        attr_fusion f = !strcmp(fs, "max") ? AF_MAX : !strcmp(fs, "min") ? AF_MIN : AF_MEAN;
        attr_ctx *a = mk(net, raw, f, q, NULL);
        double got[16], api[16], dev = 0;
        cb_error err = {0};
        cb_attr_opts o;
        assert_int_equal(attr_map_size(a), T);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m, "map")), (int)T);
        if (attr_map(a, x, 1, got, &err) != CB_OK) fail_msg("%s", err.msg);
        cb_attr_opts_init(&o, sizeof o);
        o.method = CB_ATTR_ROLLOUT;
        o.attention_raw = raw;
        o.head_fusion = (int)f;
        o.query = q;
        assert_int_equal(cb_attr_map_size(net, &o), T);
        if (cb_attribute(net, x, n, 0, &o, api, T, &err) != CB_OK) fail_msg("cb_attribute: %s", err.msg);
        for (size_t i = 0; i < T; i++) {
          dev = fmax(dev, fabs(got[i] - cJSON_GetArrayItem(cJSON_GetObjectItem(m, "map"), (int)i)->valuedouble));
          assert_true(api[i] == got[i]);
        }
        if (dev > 1e-12) fail_msg("%s %s %s query %d: max deviation %g from torch", cJSON_GetObjectItem(jn, "net")->valuestring,
                                  raw ? "raw" : "rollout", fs, q, dev);
        attr_free(a);
        checked++;
      }
    }
    cb_data_free(d);
    cb_net_free(net);
  }
  cJSON_Delete(ref);
  return checked;
}

static void test_reference(void **st)
{
  (void)st;
  assert_int_equal(check_reference("tests/data/attn/rollout_ref.json"), 6 * 18 + 4 * 18);
}

/* The tiny ViT (tests/data/vit/vit_digits.onnx: patch Conv, CLS token, 2
   pre-LayerNorm blocks of 2 heads, opset 17): its two softmaxes are found
   through the decomposed LayerNorm and the CLS Concat, and every map (8
   rows x raw/rollout x 3 fusions x 3 queries, CLS included) equals torch's
   (gen_vit_rollout_ref.py) to 1e-12. */
static void test_reference_vit(void **st)
{
  (void)st;
  cJSON *ref, *out, *c, *m;
  char dir[] = "/tmp/cb_test_rollout_vit_XXXXXX", cmd[1024], path[300];
  int rows = 0;
  assert_int_equal(check_reference("tests/data/vit/rollout_ref.json"), 8 * 18);
  /* the CLI: `attribute --method rollout --query 0` (the CLS row) on the 8 rows */
  if (!mkdtemp(dir)) fail_msg("mkdtemp");
  snprintf(cmd, sizeof cmd, "%s attribute tests/data/vit/vit_digits.onnx --data tests/data/vit/vit_digits.in.csv "
           "--method rollout --query 0 --quiet --json %s/o.json > /dev/null", cerbere, dir);
  if (system(cmd) != 0) fail_msg("'%s' failed", cmd);
  snprintf(path, sizeof path, "%s/o.json", dir);
  out = load_json(path);
  ref = load_json("tests/data/vit/rollout_ref.json");
  cJSON_ArrayForEach(c, cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "nets"), 0), "cases")) {
    cJSON *got = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "samples"), cJSON_GetObjectItem(c, "row")->valueint), "map");
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(c, "maps")) {
      if (strcmp(cJSON_GetObjectItem(m, "attention")->valuestring, "rollout") || strcmp(cJSON_GetObjectItem(m, "fusion")->valuestring, "mean") ||
          cJSON_GetObjectItem(m, "query")->valueint != 0) continue;
      assert_non_null(got);
      assert_int_equal(cJSON_GetArraySize(got), 5);
      for (int i = 0; i < 5; i++) {
        double g = cJSON_GetArrayItem(got, i)->valuedouble, r = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "map"), i)->valuedouble;
        if (!(fabs(g - r) <= 1e-12)) fail_msg("CLI vit row %d token %d: %.17g, torch %.17g", cJSON_GetObjectItem(c, "row")->valueint, i, g, r);
      }
      rows++;
    }
  }
  assert_int_equal(rows, 8);
  cJSON_Delete(out);
  cJSON_Delete(ref);
  remove(path);
  rmdir(dir);
}

/* Layers found from the graph, and --node picking the first one. */
static void test_layers(void **st)
{
  (void)st;
  static const char *none[] = {"tests/data/attn/gated.onnx", "nets/digits_cnn.onnx", "nets/digits_mlp.onnx"};
  cb_net *net = must_load("tests/data/attn/rollout2.onnx");
  cb_data *d = must_csv("tests/data/attn/rollout2.in.csv", cb_net_input_size(net));
  int nodes[4];
  double raw[5], roll[5];
  cb_error err = {0};
  assert_int_equal(attr_attn_layers(net, nodes, 4), 2);
  assert_true(nodes[0] < nodes[1]);
  {
    attr_ctx *a = mk(net, 1, AF_MEAN, -1, net->node[nodes[0]].name), *b = mk(net, 0, AF_MEAN, -1, net->node[nodes[0]].name);
    if (attr_map(a, cb_data_x(d, 3), 0, raw, &err) != CB_OK || attr_map(b, cb_data_x(d, 3), 0, roll, &err) != CB_OK) fail_msg("%s", err.msg);
    for (int i = 0; i < 5; i++) assert_true(fabs(roll[i] - (raw[i] + 0.2) / 2) < 1e-15);
    attr_free(a);
    attr_free(b);
  }
  for (size_t k = 0; k < sizeof none / sizeof *none; k++) {
    cb_net *m = must_load(none[k]);
    attr_opt o;
    attr_opt_init(&o);
    o.method = AM_ROLLOUT;
    assert_int_equal(attr_attn_layers(m, NULL, 0), 0);
    assert_null(attr_new(m, &o, &err));
    assert_non_null(strstr(err.msg, "the network has none"));
    cb_net_free(m);
  }
  cb_data_free(d);
  cb_net_free(net);
}

/* Bad input through the CLI: one line on stderr, nothing on stdout, exit 2 or 3. */
static void test_errors(void **st)
{
  (void)st;
  static const struct { const char *args, *want; } bad[] = {
    {"nets/digits_cnn.onnx --data nets/digits_test20.csv --method rollout", "rollout needs attention"},
    {"tests/data/attn/attn_block.onnx --data tests/data/attn/attn_block.in.csv --method rollout --node /att/Div",
     "is not an attention map"},
    {"tests/data/attn/attn_block.onnx --data tests/data/attn/attn_block.in.csv --method rollout --node nosuch", "no node named"},
    {"tests/data/attn/attn_block.onnx --data tests/data/attn/attn_block.in.csv --method rollout --query 4", "out of range"},
    {"tests/data/attn/attn_block.onnx --data tests/data/attn/attn_block.in.csv --method rollout --metrics", "one value per token"},
    {"tests/data/attn/attn_block.onnx --data tests/data/attn/attn_block.in.csv --method rollout --head-fusion sum", "mean, max or min"},
  };
  char dir[] = "/tmp/cb_test_rollout_XXXXXX", cmd[1024], p[256], *t;
  if (!mkdtemp(dir)) fail_msg("mkdtemp");
  for (size_t q = 0; q < sizeof bad / sizeof *bad; q++) {
    int rc;
    snprintf(cmd, sizeof cmd, "%s attribute %s --json %s/o.json > %s/out 2> %s/err; "
             "r=$?; test $(wc -l < %s/err) = 1 && test ! -s %s/out && test ! -e %s/o.json && exit $r; exit 99",
             cerbere, bad[q].args, dir, dir, dir, dir, dir, dir);
    rc = system(cmd);
    rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (rc != 2 && rc != 3) fail_msg("'%s': exit %d (want one line and exit 2 or 3)", bad[q].args, rc);
    snprintf(p, sizeof p, "%s/err", dir);
    t = slurp(p);
    if (!t || !strstr(t, bad[q].want)) fail_msg("'%s': message '%s' lacks '%s'", bad[q].args, t ? t : "", bad[q].want);
    free(t);
  }
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fail_msg("rm");
}

static void test_oom(void **st)
{
  (void)st;
  cb_net *net = must_load("tests/data/attn/rollout2.onnx");
  cb_data *d = must_csv("tests/data/attn/rollout2.in.csv", cb_net_input_size(net));
  double map[5];
  int k, ok = 0;
  for (k = 0; k < 200 && !ok; k++) {
    attr_opt o;
    cb_error err = {0};
    attr_ctx *a;
    int rc;
    attr_opt_init(&o);
    o.method = AM_ROLLOUT;
    cb_alloc_fail_after(k);
    a = attr_new(net, &o, &err);
    rc = a ? attr_map(a, cb_data_x(d, 0), 0, map, &err) : err.status;
    cb_alloc_fail_after(-1);
    attr_free(a);
    if (rc == CB_OK) ok = 1;
    else if (rc != CB_ENOMEM || !err.msg[0]) fail_msg("failing allocation %d: status %d: %s", k, rc, err.msg);
  }
  assert_true(ok);
  cb_data_free(d);
  cb_net_free(net);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest t[] = {
    cmocka_unit_test(test_reference),
    cmocka_unit_test(test_reference_vit),
    cmocka_unit_test(test_layers), cmocka_unit_test(test_errors), cmocka_unit_test(test_oom),
  };
  (void)argc;
  cerbere_bin(argv[0], cerbere, sizeof cerbere);
  return cmocka_run_group_tests(t, NULL, NULL);
}
