/*
** Certification reports (docs/report-schema.md), issue "reports" acceptance:
**  1. report.json of a certify run has every required field with its type
**     (run level and sample level), and two runs with the same inputs give
**     the same bytes once the timing fields are removed;
**  3. the numbers shown in report.html are those of report.json (summary
**     cards, one table row per sample with its radii);
**  4. an output directory that cannot be created fails before any work.
** The cerbere binary is the one next to this test (B/cerbere).
*/
#include <math.h>
#include <unistd.h>
#include "testutil.h"

static char cerbere[1024], tmpdir[256];

static void run_certify(const char *out, int expect_ok)
{
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s certify nets/digits_mlp.onnx --data nets/digits_test20.csv --norm 2 --eps 0.2 --radius "
           "--threads 2 --quiet --out %s > %s/stdout 2> %s/stderr", cerbere, out, tmpdir, tmpdir);
  int rc = system(cmd);
  int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  if (expect_ok && code != 0 && code != 10 && code != 11) fail_msg("certify exited %d", code);
  if (!expect_ok && (code == 0 || code == 10 || code == 11)) fail_msg("certify succeeded on an unwritable directory");
}

static void strip_timing(cJSON *o)
{
  static const char *keys[] = {"time_ms", "method_ms", "timing"};
  cJSON *c;
  if (!cJSON_IsObject(o) && !cJSON_IsArray(o)) return;
  if (cJSON_IsObject(o)) for (int k = 0; k < 3; k++) cJSON_DeleteItemFromObjectCaseSensitive(o, keys[k]);
  cJSON_ArrayForEach(c, o) strip_timing(c);
}

typedef struct field { const char *name; const char *types; } field;   /* types: s n a o b z(null) */

static int has_type(const cJSON *v, const char *t)
{
  for (; *t; t++)
    if ((*t == 's' && cJSON_IsString(v)) || (*t == 'n' && cJSON_IsNumber(v)) || (*t == 'a' && cJSON_IsArray(v)) ||
        (*t == 'o' && cJSON_IsObject(v)) || (*t == 'b' && cJSON_IsBool(v)) || (*t == 'z' && cJSON_IsNull(v))) return 1;
  return 0;
}

static void check_fields(const cJSON *o, const field *f, const char *where)
{
  for (; f->name; f++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, f->name);
    if (!v) fail_msg("%s: required field '%s' missing", where, f->name);
    if (!has_type(v, f->types)) fail_msg("%s: field '%s' has the wrong type", where, f->name);
  }
}

static const field top_f[] = {{"schema", "s"}, {"tool", "o"}, {"runs", "a"}, {NULL, NULL}};
static const field tool_f[] = {{"name", "s"}, {"version", "s"}, {"git_commit", "s"}, {NULL, NULL}};
static const field run_f[] = {{"command", "s"}, {"argv", "a"}, {"command_line", "s"}, {"network", "o"}, {"data", "o"},
                              {"settings", "o"}, {"summary", "o"}, {"lipschitz", "oz"}, {"samples", "a"}, {"timing", "o"},
                              {"host", "s"}, {"cwd", "s"}, {NULL, NULL}};
static const field net_f[] = {{"file", "s"}, {"sha256", "s"}, {"format", "s"}, {"input_shape", "a"}, {"output_shape", "a"},
                              {"input_size", "n"}, {"output_size", "n"}, {"parameters", "n"}, {"nodes", "n"}, {"ops", "o"}, {NULL, NULL}};
static const field data_f[] = {{"file", "s"}, {"sha256", "s"}, {"rows", "n"}, {NULL, NULL}};
static const field set_f[] = {{"norm", "s"}, {"eps", "n"}, {"clip", "az"}, {"methods", "a"}, {"radius", "b"}, {"radius_rtol", "n"},
                              {"timeout_s", "n"}, {"attack_steps", "n"}, {"attack_restarts", "n"}, {"strong_attack_steps", "n"},
                              {"strong_attack_restarts", "n"}, {"seed", "n"}, {"rows_from", "n"}, {"rows_to", "n"}, {NULL, NULL}};
static const field sum_f[] = {{"n_samples", "n"}, {"clean_accuracy", "n"}, {"certified_accuracy", "n"}, {"n_verified", "n"},
                              {"n_falsified", "n"}, {"n_unknown", "n"}, {"decided_by", "o"}, {"median_certified_radius", "nz"},
                              {"threads", "n"}, {NULL, NULL}};
static const field lip_f[] = {{"norm", "s"}, {"layers", "a"}, {"K_layerwise", "n"}, {"K_merged", "n"}, {NULL, NULL}};
static const field smp_f[] = {{"index", "n"}, {"label", "n"}, {"pred", "n"}, {"verdict", "s"}, {"decided_by", "sz"}, {"reason", "s"},
                              {"logits", "a"}, {"margin_classes", "a"}, {"margin_lb", "az"}, {"logit_lb", "az"}, {"logit_ub", "az"},
                              {"logit_bounds_method", "sz"}, {"counterexample", "az"}, {"counterexample_logits", "az"},
                              {"counterexample_class", "nz"}, {"certified_radius", "nz"}, {"attack_radius", "nz"},
                              {"time_ms", "n"}, {"method_ms", "o"}, {NULL, NULL}};

static cJSON *load_report(const char *dir)
{
  char p[512];
  snprintf(p, sizeof p, "%s/report.json", dir);
  cJSON *j = load_json(p);
  if (!j) fail_msg("%s: missing or invalid", p);
  return j;
}

static void test_schema_and_determinism(void **st)
{
  char a[512], b[512];
  cJSON *ja, *jb, *run, *s;
  char *ta, *tb;
  (void)st;
  snprintf(a, sizeof a, "%s/a", tmpdir);
  snprintf(b, sizeof b, "%s/b", tmpdir);
  run_certify(a, 1);               /* the same command twice: the second copy is moved to b */
  assert_int_equal(rename(a, b), 0);
  run_certify(a, 1);
  ja = load_report(a);
  jb = load_report(b);
  check_fields(ja, top_f, "report");
  assert_string_equal(cJSON_GetObjectItem(ja, "schema")->valuestring, "cerbere-report/1");
  check_fields(cJSON_GetObjectItem(ja, "tool"), tool_f, "tool");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(ja, "runs")), 1);
  cJSON_ArrayForEach(run, cJSON_GetObjectItem(ja, "runs")) {
    int n = 0;
    check_fields(run, run_f, "run");
    check_fields(cJSON_GetObjectItem(run, "network"), net_f, "network");
    check_fields(cJSON_GetObjectItem(run, "data"), data_f, "data");
    check_fields(cJSON_GetObjectItem(run, "settings"), set_f, "settings");
    check_fields(cJSON_GetObjectItem(run, "summary"), sum_f, "summary");
    check_fields(cJSON_GetObjectItem(run, "lipschitz"), lip_f, "lipschitz");
    assert_int_equal(strlen(cJSON_GetObjectItem(cJSON_GetObjectItem(run, "network"), "sha256")->valuestring), 64);
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(run, "samples")) {
      char where[64];
      snprintf(where, sizeof where, "sample %d", n);
      check_fields(s, smp_f, where);
      if (!strcmp(cJSON_GetObjectItem(s, "verdict")->valuestring, "falsified")) {
        assert_true(cJSON_IsArray(cJSON_GetObjectItem(s, "counterexample")));
        assert_true(cJSON_IsArray(cJSON_GetObjectItem(s, "x")));
      }
      n++;
    }
    assert_int_equal(n, 20);
  }
  strip_timing(ja);
  strip_timing(jb);
  ta = cJSON_PrintUnformatted(ja);
  tb = cJSON_PrintUnformatted(jb);
  if (strcmp(ta, tb)) {
    size_t k = 0;
    while (ta[k] && ta[k] == tb[k]) k++;
    fail_msg("two identical runs gave different report.json (timing fields removed) at byte %zu: ...%.80s... vs ...%.80s...",
             k, ta + (k > 40 ? k - 40 : 0), tb + (k > 40 ? k - 40 : 0));
  }
  printf("report.json: schema fields present; two runs identical apart from timing (%zu bytes)\n", strlen(ta));
  cJSON_free(ta); cJSON_free(tb);
  cJSON_Delete(ja); cJSON_Delete(jb);
}

/* Counts occurrences of needle in hay. */
static int count(const char *hay, const char *needle)
{
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void test_html_matches_json(void **st)
{
  char a[512], p[600], want[128];
  cJSON *j, *run, *sum, *s;
  char *html;
  (void)st;
  snprintf(a, sizeof a, "%s/a", tmpdir);
  j = load_report(a);
  snprintf(p, sizeof p, "%s/report.html", a);
  html = slurp(p);
  assert_non_null(html);
  run = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "runs"), 0);
  sum = cJSON_GetObjectItem(run, "summary");
  snprintf(want, sizeof want, "certified accuracy<b class=verified>%.4f</b>%d of %d verified",
           cJSON_GetObjectItem(sum, "certified_accuracy")->valuedouble, cJSON_GetObjectItem(sum, "n_verified")->valueint,
           cJSON_GetObjectItem(sum, "n_samples")->valueint);
  if (!strstr(html, want)) fail_msg("report.html lacks the summary '%s'", want);
  snprintf(want, sizeof want, "falsified<b class=falsified>%d</b>", cJSON_GetObjectItem(sum, "n_falsified")->valueint);
  assert_non_null(strstr(html, want));
  assert_int_equal(count(html, "<tr class=sample-row>"), cJSON_GetArraySize(cJSON_GetObjectItem(run, "samples")));
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(run, "samples")) {
    char row[96];
    double c = cJSON_GetObjectItem(s, "certified_radius")->valuedouble;
    snprintf(row, sizeof row, "<tr class=sample-row><td>%d</td><td>%d</td><td>%d</td>", cJSON_GetObjectItem(s, "index")->valueint,
             cJSON_GetObjectItem(s, "label")->valueint, cJSON_GetObjectItem(s, "pred")->valueint);
    const char *r = strstr(html, row);
    if (!r) fail_msg("report.html has no row '%s'", row);
    snprintf(want, sizeof want, "<td>%.6g</td>", c);
    const char *e = strstr(r, "</tr>");
    const char *f = strstr(r, want);
    if (!f || f > e) fail_msg("row of sample %d lacks its certified radius %s", cJSON_GetObjectItem(s, "index")->valueint, want);
  }
  /* every setting, where and when, a reproduce line that works from anywhere, a print stylesheet */
  {
    const cJSON *set;
    char cwd[400], line[600];
    cJSON_ArrayForEach(set, cJSON_GetObjectItem(run, "settings")) {
      snprintf(want, sizeof want, "<tr><th class=l>%s</th>", set->string);
      if (!strstr(html, want)) fail_msg("report.html does not show setting %s", set->string);
    }
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(line, sizeof line, "<pre>cd %.400s &amp;&amp; cerbere certify", cwd);
    if (!strstr(html, line)) fail_msg("report.html lacks the reproduce line '%s'", line);
    assert_non_null(strstr(html, cJSON_GetObjectItem(run, "host")->valuestring));
    assert_non_null(strstr(html, cJSON_GetObjectItem(cJSON_GetObjectItem(run, "timing"), "created")->valuestring));
    assert_non_null(strstr(html, "@media print{details::details-content"));
    assert_non_null(strstr(html, "<div class=audit><b>What this certifies.</b>"));   /* the auditor's summary */
    assert_non_null(strstr(html, "||<sub>2</sub> &le; 0.2"));                          /* with this run's threat model */
    assert_non_null(strstr(html, "<svg id=curve-0"));   /* --radius: the curve is drawn */
  }
  /* self-contained: nothing to fetch */
  assert_null(strstr(html, "http://"));
  assert_null(strstr(html, "https://"));
  assert_null(strstr(html, "<script"));
  assert_null(strstr(html, "<link"));
  assert_null(strstr(html, "url("));
  assert_null(strstr(html, "@import"));
  printf("report.html: summary, %d sample rows and radii equal report.json; no external reference\n",
         cJSON_GetArraySize(cJSON_GetObjectItem(run, "samples")));
  free(html);
  cJSON_Delete(j);
}

static void test_unwritable(void **st)
{
  (void)st;
  run_certify("/proc/cerbere-cannot-write/x", 0);
  char p[512];
  snprintf(p, sizeof p, "%s/stderr", tmpdir);
  char *e = slurp(p);
  assert_non_null(e);
  if (!strstr(e, "cannot create the output directory")) fail_msg("unexpected message: %s", e);
  free(e);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_schema_and_determinism), cmocka_unit_test(test_html_matches_json),
                                     cmocka_unit_test(test_unwritable)};
  char *slash;
  int rc;
  (void)argc;
  snprintf(cerbere, sizeof cerbere, "%s", argv[0]);
  slash = strrchr(cerbere, '/');
  slash = slash ? slash : cerbere;
  *slash = 0;
  slash = strrchr(cerbere, '/');   /* B/tests -> B */
  if (slash) *slash = 0; else strcpy(cerbere, ".");
  strcat(cerbere, "/cerbere");
  snprintf(tmpdir, sizeof tmpdir, "/tmp/cb_test_report_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return rc;
}
