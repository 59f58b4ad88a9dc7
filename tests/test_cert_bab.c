/*
** certify's bab step (certify/cert_bab.c, issue 18): branch and bound of
** `verify` on the sample's own property.
**  - known counterexamples: digits_mlp rows the attacks falsify at L-inf
**    0.08, certified again with the attacks switched off: bab finds a
**    counterexample (in the set exactly, of another class) or leaves the row
**    unknown, never verified;
**  - random small ReLU nets x clip boxes x labels, no attack in the cascade:
**    every row bab verifies survives 3000 sampled points (and the box's
**    vertices in low dimension) with no misclassified one, every
**    counterexample is in the set exactly;
**  - bab decides rows the cascade left unknown (digits_mlp, L-inf 0.08), and
**    leaves every row the cascade decided as it was;
**  - bab_timeout 0 gives the cascade without bab exactly (verdicts,
**    deciding methods, reasons, methods run);
**  - the sample's property (cert_sample_spec) written by vnn_write parses
**    back (vnn_parse_string) to the same box and rows, and verify's search
**    answers the same on the parsed spec as on the one built in memory.
** The CLI side (--export-vnnlib files fed to `cerbere verify`) is
** tests/run_cert_bab.sh.
*/
#include <gmp.h>
#include <math.h>
#include "certify.h"
#include "verify.h"
#include "randnet.h"

/* x in {y : ||y - c||_inf <= eps, lo <= y <= hi}, in exact rationals. */
static int in_linf_exact(double eps, const double *c, double lo, double hi, const double *x, size_t n)
{
  mpq_t d, t, e;
  int ok = 1;
  mpq_inits(d, t, e, NULL);
  mpq_set_d(e, eps);
  for (size_t j = 0; j < n && ok; j++) {
    if (!(x[j] >= lo && x[j] <= hi)) ok = 0;
    mpq_set_d(d, x[j]);
    mpq_set_d(t, c[j]);
    mpq_sub(d, d, t);
    mpq_abs(d, d);
    if (mpq_cmp(d, e) > 0) ok = 0;
  }
  mpq_clears(d, t, e, NULL);
  return ok;
}

static int argmax_of(const double *y, size_t n)
{
  size_t b = 0;
  for (size_t k = 1; k < n; k++) if (y[k] > y[b]) b = k;
  return (int)b;
}

/* A falsified row: its counterexample is in the set exactly and not of the label. */
static void check_cex(const cb_net *net, const cb_cert_opt *o, const double *x, const cb_cert_result *r, const char *tag)
{
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
  double y[16];
  cb_error err = {0};
  assert_true(no <= 16);
  if (!in_linf_exact(o->eps, x, o->clip ? o->clip_lo : -HUGE_VAL, o->clip ? o->clip_hi : HUGE_VAL, r->cex, n))
    fail_msg("%s: counterexample (decided by %s) outside the set", tag, cb_cm_name[r->decided_by]);
  assert_int_equal(cb_net_forward(net, r->cex, 1, y, &err), CB_OK);
  if (argmax_of(y, no) == r->label) fail_msg("%s: counterexample classified as the label %d", tag, r->label);
}

static cb_certifier *must_certifier(const cb_net *net, const cb_cert_opt *o)
{
  cb_error err = {0};
  cb_certifier *c = certifier_new(net, o, &err);
  if (!c) fail_msg("%s", err.msg);
  return c;
}

static void certify_row(const cb_certifier *c, const cb_net *net, const double *x, int label, cb_cert_result *r)
{
  cb_error err = {0};
  assert_int_equal(cert_result_init(r, net), CB_OK);
  if (certify_sample(c, x, label, r, NULL, &err) != CB_OK) fail_msg("%s", err.msg);
}

#define M(m) (1u << (m))

/* Rows with a known counterexample (the attacks falsify them), certified with
   no attack: bab falsifies or leaves unknown, never verifies. */
static void test_known_counterexamples(void **st)
{
  cb_net *net = must_load("nets/digits_mlp.onnx");
  cb_data *d = must_csv("nets/digits_test20.csv", 64);
  cb_cert_opt o, on;
  cb_certifier *c0, *c1;
  int known = 0, found = 0;
  (void)st;
  cert_opt_init(&o);
  o.eps = 0.08;
  o.bab_timeout = 0;
  on = o;
  on.methods = M(CM_CLEAN) | M(CM_IBP) | M(CM_CROWN) | M(CM_BAB);
  on.methods_named = 1;
  on.bab_timeout = 3;
  c0 = must_certifier(net, &o);
  c1 = must_certifier(net, &on);
  for (size_t row = 0; row < cb_data_rows(d); row++) {
    cb_cert_result r0, r1;
    char tag[64];
    certify_row(c0, net, cb_data_x(d, row), cb_data_label(d, row), &r0);
    if (r0.verdict == V_FALSIFIED && (r0.decided_by == CM_ATTACK || r0.decided_by == CM_STRONG_ATTACK)) {
      known++;
      certify_row(c1, net, cb_data_x(d, row), cb_data_label(d, row), &r1);
      snprintf(tag, sizeof tag, "digits_mlp row %zu", row);
      if (r1.verdict == V_VERIFIED) fail_msg("%s: verified by %s, but %s found a counterexample", tag,
                                             cb_cm_name[r1.decided_by], cb_cm_name[r0.decided_by]);
      if (r1.verdict == V_FALSIFIED) {
        assert_int_equal(r1.decided_by, CM_BAB);
        check_cex(net, &on, cb_data_x(d, row), &r1, tag);
        found++;
      }
      cert_result_free(&r1);
    }
    cert_result_free(&r0);
  }
  printf("  %d rows with a counterexample from the attacks; with no attack, bab found one on %d, verified none\n", known, found);
  assert_true(known >= 5 && found >= known / 2);
  certifier_free(c0); certifier_free(c1);
  cb_data_free(d);
  cb_net_free(net);
}

/* A ReLU net with n inputs, one or two hidden layers, 3 classes. */
static cb_net *relu_net(size_t n)
{
  int64_t dm[2] = {1, (int64_t)n};
  cb_net *net = start(2, dm);
  cb_error err = {0};
  int i = act(net, dense(net, 0, 4 + (size_t)(urand(&seed) * 8)), CB_ACT_RELU);
  if (urand(&seed) < 0.6) i = act(net, dense(net, i, 6), CB_ACT_RELU);
  dense(net, i, 3);
  net->output = net->n - 1;
  if (net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
  return net;
}

/* No point of the set may be classified other than the label: 3000 random
   points and, up to 6 inputs, every vertex of the box. */
static void sample_verified(const cb_net *net, const cb_cert_opt *o, const double *x, int label, const char *tag)
{
  size_t n = cb_net_input_size(net);
  double lo[8], hi[8], p[8], y[3];
  cb_error err = {0};
  for (size_t j = 0; j < n; j++) { lo[j] = fmax(x[j] - o->eps, o->clip_lo); hi[j] = fmin(x[j] + o->eps, o->clip_hi); }
  for (int s = 0; s < 3000 + (1 << n); s++) {
    for (size_t j = 0; j < n; j++)
      p[j] = s < 3000 ? rnd(lo[j], hi[j]) : ((s - 3000) >> j) & 1 ? hi[j] : lo[j];
    assert_int_equal(cb_net_forward(net, p, 1, y, &err), CB_OK);
    for (int k = 0; k < 3; k++)
      if (k != label && y[k] > y[label] + 1e-9 * (1 + fabs(y[label])))
        fail_msg("%s: verified, but the point %d of the set is classified %d", tag, s, k);
  }
}

static void test_random_nets(void **st)
{
  int ver = 0, fal = 0, unk = 0, bab = 0;
  (void)st;
  seed = 20261207;
  for (int net_i = 0; net_i < 40; net_i++) {
    size_t n = 2 + (size_t)(urand(&seed) * 5);
    cb_net *net = relu_net(n);
    for (int row = 0; row < 10; row++) {
      cb_cert_opt o;
      cb_certifier *c;
      cb_cert_result r;
      double x[8];
      int label = (int)(urand(&seed) * 3);
      char tag[96];
      cert_opt_init(&o);
      o.eps = rnd(0.02, 0.4);
      o.clip = 1; o.clip_lo = rnd(-1, 0); o.clip_hi = o.clip_lo + rnd(0.5, 2);
      o.methods = M(CM_CLEAN) | M(CM_CROWN) | M(CM_BAB);
      o.methods_named = 1;
      o.bab_timeout = 1;
      for (size_t j = 0; j < n; j++) x[j] = rnd(o.clip_lo, o.clip_hi);
      if (urand(&seed) < 0.8) {   /* mostly the clean class: the rows clean does not decide */
        double y[3];
        cb_error err = {0};
        assert_int_equal(cb_net_forward(net, x, 1, y, &err), CB_OK);
        label = argmax_of(y, 3);
      }
      c = must_certifier(net, &o);
      certify_row(c, net, x, label, &r);
      snprintf(tag, sizeof tag, "net %d row %d (eps %g)", net_i, row, o.eps);
      if (r.verdict == V_VERIFIED) sample_verified(net, &o, x, label, tag);
      if (r.verdict == V_FALSIFIED) check_cex(net, &o, x, &r, tag);
      ver += r.verdict == V_VERIFIED;
      fal += r.verdict == V_FALSIFIED;
      unk += r.verdict == V_UNKNOWN;
      bab += r.verdict != V_UNKNOWN && r.decided_by == CM_BAB;
      cert_result_free(&r);
      certifier_free(c);
    }
    cb_net_free(net);
  }
  printf("  400 rows on random ReLU nets, no attack: verified %d, falsified %d, unknown %d; bab decided %d\n", ver, fal, unk, bab);
  assert_true(bab >= 100 && ver >= 20 && fal >= 20);
}

/* bab decides rows the cascade left open; rows the cascade decided keep
   their verdict and method. */
static void test_decides_unknown(void **st)
{
  cb_net *net = must_load("nets/digits_mlp.onnx");
  cb_data *d = must_csv("nets/digits_test20.csv", 64);
  cb_cert_opt o0, o1;
  cb_certifier *c0, *c1;
  int unk0 = 0, unk1 = 0, by_bab = 0;
  (void)st;
  cert_opt_init(&o0);
  o0.eps = 0.08;
  o0.bab_timeout = 0;
  o1 = o0;
  o1.bab_timeout = 5;
  c0 = must_certifier(net, &o0);
  c1 = must_certifier(net, &o1);
  for (size_t row = 0; row < cb_data_rows(d); row++) {
    cb_cert_result r0, r1;
    certify_row(c0, net, cb_data_x(d, row), cb_data_label(d, row), &r0);
    certify_row(c1, net, cb_data_x(d, row), cb_data_label(d, row), &r1);
    unk0 += r0.verdict == V_UNKNOWN;
    unk1 += r1.verdict == V_UNKNOWN;
    if (r0.verdict != V_UNKNOWN) {
      assert_int_equal(r1.verdict, r0.verdict);
      assert_int_equal(r1.decided_by, r0.decided_by);
      assert_false((r1.ran >> CM_BAB) & 1);
    } else {
      assert_true((r1.ran >> CM_BAB) & 1);
      if (r1.verdict != V_UNKNOWN) { assert_int_equal(r1.decided_by, CM_BAB); by_bab++; }
      else assert_non_null(strstr(r1.reason, "bab"));
      if (r1.verdict == V_FALSIFIED) check_cex(net, &o1, cb_data_x(d, row), &r1, "digits_mlp");
      if (r1.verdict == V_VERIFIED) assert_true(r1.bab_answer == V_VERIFIED && r1.bab_nodes >= 1);
    }
    cert_result_free(&r0); cert_result_free(&r1);
  }
  printf("  digits_mlp L-inf 0.08, 20 rows: unknown %d without bab, %d with it (%d decided by bab)\n", unk0, unk1, by_bab);
  assert_true(unk0 >= 3 && by_bab >= 3 && unk1 == unk0 - by_bab);
  certifier_free(c0); certifier_free(c1);
  cb_data_free(d);
  cb_net_free(net);
}

/* bab_timeout 0 is the cascade without the bab method, to the reason. */
static void test_timeout_zero(void **st)
{
  cb_net *net = must_load("nets/digits_mlp.onnx");
  cb_data *d = must_csv("nets/digits_test20.csv", 64);
  cb_cert_opt o0, o1;
  cb_certifier *c0, *c1;
  int unk = 0;
  (void)st;
  cert_opt_init(&o0);
  o0.eps = 0.08;
  o0.bab_timeout = 0;
  o1 = o0;
  o1.bab_timeout = 5;
  o1.methods &= ~M(CM_BAB);
  c0 = must_certifier(net, &o0);
  c1 = must_certifier(net, &o1);
  for (size_t row = 0; row < cb_data_rows(d); row++) {
    cb_cert_result r0, r1;
    certify_row(c0, net, cb_data_x(d, row), cb_data_label(d, row), &r0);
    certify_row(c1, net, cb_data_x(d, row), cb_data_label(d, row), &r1);
    assert_int_equal(r0.verdict, r1.verdict);
    if (r0.verdict != V_UNKNOWN) assert_int_equal(r0.decided_by, r1.decided_by);
    assert_string_equal(r0.reason, r1.reason);
    assert_int_equal(r0.ran, r1.ran);
    assert_false((r0.ran >> CM_BAB) & 1);
    assert_null(strstr(r0.reason, "bab"));
    unk += r0.verdict == V_UNKNOWN;
    cert_result_free(&r0); cert_result_free(&r1);
  }
  assert_true(unk >= 3);    /* rows bab would have searched */
  certifier_free(c0); certifier_free(c1);
  cb_data_free(d);
  cb_net_free(net);
}

/* The property written and read back: same box, same rows; the search
   answers the same on both. */
static void test_spec_roundtrip(void **st)
{
  static const struct { cb_norm norm; double eps; int clip; double lo, hi; } cfg[] = {
    {CB_NORM_INF, 0.08, 0, 0, 0}, {CB_NORM_INF, 0.3, 1, 0, 1}, {CB_NORM_INF, 0.06, 1, 0.05, 0.95}, {CB_NORM_2, 0.5, 1, 0.05, 0.95}};
  cb_net *net = must_load("nets/digits_mlp.onnx");
  cb_data *d = must_csv("nets/digits_test20.csv", 64);
  int same = 0;
  (void)st;
  for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
    cb_cert_opt o;
    cb_certifier *c;
    cert_opt_init(&o);
    o.norm = cfg[k].norm; o.eps = cfg[k].eps; o.clip = cfg[k].clip; o.clip_lo = cfg[k].lo; o.clip_hi = cfg[k].hi;
    c = must_certifier(net, &o);
    for (size_t row = 0; row < 5; row++) {
      const double *x = cb_data_x(d, row);
      int label = cb_data_label(d, row);
      vnn_spec *a = NULL, *b = NULL;
      cb_error err = {0};
      char *text = NULL;
      size_t len = 0;
      FILE *f = open_memstream(&text, &len);
      assert_non_null(f);
      assert_int_equal(cert_sample_spec(c, x, label, &a, &err), CB_OK);
      assert_int_equal(vnn_write(f, a, "round trip\nsecond line"), CB_OK);
      assert_int_equal(fclose(f), 0);
      if (vnn_parse_string(text, len, "written", &b, &err) != CB_OK) fail_msg("%s", err.msg);
      assert_int_equal(b->nx, 64); assert_int_equal(b->ny, 10);
      assert_int_equal(b->n_box, 1);
      assert_int_equal(b->box[0].n_conj, 9);
      for (size_t i = 0; i < 64; i++) {
        double l = fmax(x[i] - o.eps, o.clip ? o.clip_lo : -HUGE_VAL), h = fmin(x[i] + o.eps, o.clip ? o.clip_hi : HUGE_VAL);
        assert_true(b->box[0].lo[i] == a->box[0].lo[i] && b->box[0].hi[i] == a->box[0].hi[i]);   /* printed exactly */
        assert_true(b->box[0].lo[i] <= l && b->box[0].hi[i] >= h);   /* contains the set (l, h within rounding: <= / >= hold) */
      }
      for (size_t cj = 0; cj < 9; cj++) {
        const vnn_conj *p = &a->box[0].conj[cj], *q = &b->box[0].conj[cj];
        assert_int_equal(q->m, 1);
        assert_memory_equal(p->A, q->A, 10 * sizeof(double));
        assert_true(q->b_up[0] == 0 && q->b_dn[0] == 0 && !q->strict[0]);
      }
      if (o.norm == CB_NORM_INF && row < 3) {   /* the same search on both: the same answer */
        vfy_opts vo;
        vfy_result ra, rb;
        vfy_opts_init(&vo);
        vo.threads = 1;
        vo.max_nodes = 200;
        vo.timeout = 30;
        if (vfy_run(net, a, &vo, &ra, &err) != CB_OK) fail_msg("config %zu row %zu: %s", k, row, err.msg);
        assert_int_equal(vfy_run(net, b, &vo, &rb, &err), CB_OK);
        /* Both decided: the same answer.  A run that hit its limits (the
           30 s budget under load, or the node cap) answers unknown/timeout
           and is not compared, but a decided answer never crosses. */
        if ((ra.answer == V_VERIFIED || ra.answer == V_FALSIFIED) && (rb.answer == V_VERIFIED || rb.answer == V_FALSIFIED)) {
          assert_int_equal(ra.answer, rb.answer);
          same++;
        }
        vfy_result_free(&ra); vfy_result_free(&rb);
      }
      free(text);
      vnn_free(a); vnn_free(b);
    }
    certifier_free(c);
  }
  printf("  20 properties written and read back exactly; %d searched on both with the same answer\n", same);
  assert_true(same >= 1);   /* at least one pair decided both ways */
  cb_data_free(d);
  cb_net_free(net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_known_counterexamples), cmocka_unit_test(test_random_nets),
    cmocka_unit_test(test_decides_unknown), cmocka_unit_test(test_timeout_zero),
    cmocka_unit_test(test_spec_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
