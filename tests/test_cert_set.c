/*
** certify on the whole set S = {y : ||y - x||_p <= eps} intersected with a
** clip box (issue 16).  Each test below failed on the code before the fix:
**  - clip4 (tests/data/clip4.nnet): a row outside the clip box is not its own
**    counterexample; the clean step evaluates the row clamped into the box
**    (verified where it used to be "falsified by clean" with the row);
**  - --radius with L2 and a clip box that holds no pixel at 0: the search
**    used to attack an empty set and abort ("attack: the set is empty");
**  - every --methods subset runs each named method unless an earlier one
**    decided (alpha-crown / local-lipschitz alone used to do nothing);
**  - set_check: the L-inf set whose ball touches the box at one face is not
**    empty and its clean point is in it; the L2 set the ball misses is;
**  - the property: random small nets x clip boxes x norms inf/2/1 x centres
**    inside and outside the box, >= 10,000 rows: every "falsified"
**    counterexample lies in S by EXACT membership (GMP rationals) and the
**    forward pass puts it in another class; with --radius, certified <=
**    attacked and both >= the distance from the row to the box.
*/
#include <gmp.h>
#include <math.h>
#include "certify.h"
#include "randnet.h"

/* 1 if x is in {y : ||y - c||_norm <= eps, lo <= y <= hi} in exact rational arithmetic. */
static int in_set_exact(cb_norm norm, double eps, const double *c, double lo, double hi, const double *x, size_t n)
{
  mpq_t d, acc, e, t;
  int ok = 1;
  mpq_inits(d, acc, e, t, NULL);
  mpq_set_d(e, eps);
  for (size_t j = 0; j < n && ok; j++) {
    if (!(x[j] >= lo && x[j] <= hi)) ok = 0;      /* doubles compare exactly */
    mpq_set_d(d, x[j]);
    mpq_set_d(t, c[j]);
    mpq_sub(d, d, t);
    mpq_abs(d, d);
    if (norm == CB_NORM_INF) { if (mpq_cmp(d, e) > 0) ok = 0; }
    else if (norm == CB_NORM_1) mpq_add(acc, acc, d);
    else { mpq_mul(d, d, d); mpq_add(acc, acc, d); }
  }
  if (ok && norm == CB_NORM_1 && mpq_cmp(acc, e) > 0) ok = 0;
  if (ok && norm == CB_NORM_2) { mpq_mul(e, e, e); if (mpq_cmp(acc, e) > 0) ok = 0; }
  mpq_clears(d, acc, e, t, NULL);
  return ok;
}

static int argmax_of(const double *y, size_t n)
{
  size_t b = 0;
  for (size_t k = 1; k < n; k++) if (y[k] > y[b]) b = k;
  return (int)b;
}

/* A falsified result: the counterexample is in S exactly and not of the label. */
static void check_cex(const cb_net *net, const cb_cert_opt *o, const double *x, const cb_cert_result *r, const char *tag)
{
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
  double lo = o->clip ? o->clip_lo : -HUGE_VAL, hi = o->clip ? o->clip_hi : HUGE_VAL, y[16];
  cb_error err = {0};
  assert_true(no <= 16);
  if (!in_set_exact(o->norm, o->eps, x, lo, hi, r->cex, n))
    fail_msg("%s: counterexample (decided by %s) outside the set", tag, cb_cm_name[r->decided_by]);
  assert_int_equal(cb_net_forward(net, r->cex, 1, y, &err), CB_OK);
  if (argmax_of(y, no) == r->label || argmax_of(y, no) != r->cex_class)
    fail_msg("%s: counterexample classified %d (label %d, reported %d)", tag, argmax_of(y, no), r->label, r->cex_class);
}

static cb_certifier *must_certifier(const cb_net *net, const cb_cert_opt *o)
{
  cb_error err = {0};
  cb_certifier *c = certifier_new(net, o, &err);
  if (!c) fail_msg("%s", err.msg);
  return c;
}

/* The 4-input net whose clip box [0.6,1]^4 is all class 0 while the origin is class 1. */
static void test_clip_row_outside(void **st)
{
  static const cb_norm norms[3] = {CB_NORM_INF, CB_NORM_2, CB_NORM_1};
  static const double eps[3] = {1, 1.5, 3}, dist[3] = {0.6, 1.2, 2.4};
  cb_net *net = must_load("tests/data/clip4.nnet");
  double x[4] = {0, 0, 0, 0};
  (void)st;
  for (int k = 0; k < 3; k++)
    for (int label = 0; label < 2; label++) {
      cb_cert_opt o;
      cb_cert_result r;
      cb_error err = {0};
      cb_certifier *c;
      char tag[64];
      cert_opt_init(&o);
      o.norm = norms[k]; o.eps = eps[k]; o.clip = 1; o.clip_lo = 0.6; o.clip_hi = 1; o.radius = 1;
      c = must_certifier(net, &o);
      assert_int_equal(cert_result_init(&r, net), CB_OK);
      if (certify_sample(c, x, label, &r, NULL, &err) != CB_OK) fail_msg("%s", err.msg);
      snprintf(tag, sizeof tag, "clip4 norm %d label %d", k, label);
      printf("  %s: %s (%s), radii [%g, %g]\n", tag, cb_verdict_table[r.verdict].name, r.reason, r.certified_radius, r.attack_radius);
      if (label == 0) {      /* class 0 on the whole box: verified, by a bound */
        if (r.verdict != V_VERIFIED) fail_msg("%s: %s (%s), expected verified", tag, cb_verdict_table[r.verdict].name, r.reason);
        assert_int_equal(r.pred, 0);
        assert_true(r.certified_radius >= eps[k]);
      } else {               /* the clean point (0.6,0.6,0.6,0.6) is class 0: falsified by clean */
        assert_int_equal(r.verdict, V_FALSIFIED);
        assert_int_equal(r.decided_by, CM_CLEAN);
        for (int j = 0; j < 4; j++) assert_true(r.cex[j] == 0.6);
        check_cex(net, &o, x, &r, tag);
        assert_true(r.certified_radius <= dist[k] && r.attack_radius >= dist[k]);
        assert_true(r.attack_radius <= dist[k] * (1 + 1e-12));
      }
      cert_result_free(&r);
      certifier_free(c);
    }
  cb_net_free(net);
}

/* digits rows 7, 9, 15: 0.29, 0.28, 0.31 from [0.05,0.95]^64 in L2; eps 0.4. */
static void test_radius_l2_clip(void **st)
{
  static const size_t rows[3] = {7, 9, 15};
  cb_net *net = must_load("nets/digits_mlp.onnx");
  cb_data *d = must_csv("nets/digits_test.csv", 64);
  cb_cert_opt o;
  cb_certifier *c;
  (void)st;
  cert_opt_init(&o);
  o.norm = CB_NORM_2; o.eps = 0.4; o.clip = 1; o.clip_lo = 0.05; o.clip_hi = 0.95; o.radius = 1;
  c = must_certifier(net, &o);
  for (int k = 0; k < 3; k++) {
    const double *x = cb_data_x(d, rows[k]);
    cb_set s = {o.norm, o.eps, 64, x, NULL, NULL};
    double lo[64], hi[64], dist;
    cb_cert_result r;
    cb_error err = {0};
    for (int j = 0; j < 64; j++) { lo[j] = 0.05; hi[j] = 0.95; }
    s.lo = lo; s.hi = hi;
    dist = set_clip_distance(&s, 0);
    assert_true(dist > 0.25 && dist < 0.4);
    assert_int_equal(cert_result_init(&r, net), CB_OK);
    if (certify_sample(c, x, cb_data_label(d, rows[k]), &r, NULL, &err) != CB_OK) fail_msg("row %zu: %s", rows[k], err.msg);
    printf("  digits row %zu (distance %.6g to the box): %s, radii [%g, %g]\n", rows[k], dist, cb_verdict_table[r.verdict].name,
           r.certified_radius, r.attack_radius);
    assert_true(r.certified_radius >= dist && r.certified_radius <= r.attack_radius);
    if (r.verdict == V_FALSIFIED) check_cex(net, &o, x, &r, "digits L2 clip");
    cert_result_free(&r);
  }
  certifier_free(c);
  cb_data_free(d);
  cb_net_free(net);
}

/* Every subset of the methods besides clean: each named method runs unless
   a method before it in the cascade decided, and only named methods decide. */
static void test_methods_subsets(void **st)
{
  cb_net *net = must_load("nets/digits_mlp.onnx");
  cb_data *d = must_csv("nets/digits_test20.csv", 64);
  int runs = 0;
  (void)st;
  for (unsigned sub = 1; sub < 1u << (CM_COUNT - 1); sub++) {
    cb_cert_opt o;
    cb_certifier *c;
    cert_opt_init(&o);
    o.norm = CB_NORM_INF; o.eps = 0.01;
    o.methods = (sub << 1) | 1u << CM_CLEAN;
    o.methods_named = 1;
    o.cheap = (cb_attack_opt){5, 0, 1};
    o.strong = (cb_attack_opt){10, 1, 2};
    c = must_certifier(net, &o);
    for (size_t row = 0; row < 2; row++) {
      cb_cert_result r;
      cb_error err = {0};
      assert_int_equal(cert_result_init(&r, net), CB_OK);
      if (certify_sample(c, cb_data_x(d, row), cb_data_label(d, row), &r, NULL, &err) != CB_OK) fail_msg("%s", err.msg);
      for (int m = CM_CLEAN; m < CM_COUNT; m++) {
        int named = (o.methods >> m) & 1, ran = (r.ran >> m) & 1;
        int earlier = r.verdict != V_UNKNOWN && (int)r.decided_by < m;
        if (ran && !named) fail_msg("methods %#x row %zu: %s ran without being named", o.methods, row, cb_cm_name[m]);
        if (named && !ran && !earlier)
          fail_msg("methods %#x row %zu: %s named but did not run (%s, %s)", o.methods, row, cb_cm_name[m],
                   cb_verdict_table[r.verdict].name, r.reason);
      }
      if (r.verdict != V_UNKNOWN) assert_true((o.methods >> r.decided_by) & 1);
      if (r.verdict == V_UNKNOWN && (o.methods & ~((1u << CM_CLEAN) | (1u << CM_ATTACK) | (1u << CM_STRONG_ATTACK) | (1u << CM_BAB))))
        assert_null(strstr(r.reason, "no sound method ran"));
      runs++;
      cert_result_free(&r);
    }
    certifier_free(c);
  }
  printf("  %d runs over %u method subsets: every named method ran or an earlier one decided\n", runs, (1u << (CM_COUNT - 1)) - 1);
  cb_data_free(d);
  cb_net_free(net);
}

/* set_check: refuses exactly the empty sets at the L-inf boundary, and the
   clean point of a set touching the box is in the set. */
static void test_set_boundary(void **st)
{
  double c[3] = {0, 0.5, 1.5}, lo[3] = {0.05, 0.05, 0.05}, hi[3] = {0.95, 0.95, 0.95}, p[3];
  cb_set s = {CB_NORM_INF, 0.55, 3, c, lo, hi};
  cb_error err = {0};
  (void)st;
  assert_int_equal(set_check(&s, &err), CB_OK);             /* 1.5 - 0.95 = 0.55 in double */
  set_nearest(&s, p);
  assert_true(p[0] == 0.05 && p[1] == 0.5 && p[2] == 0.95);
  assert_true(in_set_exact(s.norm, s.eps, c, 0.05, 0.95, p, 3) == set_contains(&s, p));
  s.eps = nextafter(0.55, 0);
  assert_int_equal(in_set_exact(s.norm, s.eps, c, 0.05, 0.95, p, 3), 0);
  assert_int_not_equal(set_check(&s, &err), CB_OK);
  printf("  %s\n", err.msg);
  assert_non_null(strstr(err.msg, "the set is empty: the L-inf ball of radius"));
  c[2] = 0.5;                                                /* L2: distance 0.05 */
  s.norm = CB_NORM_2; s.eps = 0.049;
  cb_error_clear(&err);
  assert_int_not_equal(set_check(&s, &err), CB_OK);
  printf("  %s\n", err.msg);
  assert_non_null(strstr(err.msg, "the set is empty: the L2 ball of radius 0.049 does not meet the clip box [0.05,0.95] (distance 0.05)"));
  s.eps = 0.06;
  assert_int_equal(set_check(&s, &err), CB_OK);
  set_nearest(&s, p);
  assert_true(set_contains(&s, p));
  assert_true(in_set_exact(s.norm, s.eps, c, 0.05, 0.95, p, 3));
}

/* A random dense ReLU net: n inputs, one or two hidden layers, 3 outputs. */
static cb_net *small_net(size_t n)
{
  int64_t d[2] = {1, (int64_t)n};
  cb_net *net = start(2, d);
  cb_error err = {0};
  int i = act(net, dense(net, 0, 4 + (size_t)(urand(&seed) * 6)), CB_ACT_RELU);
  if (urand(&seed) < 0.5) i = act(net, dense(net, i, 6), urand(&seed) < 0.7 ? CB_ACT_RELU : CB_ACT_TANH);
  dense(net, i, 3);
  net->output = net->n - 1;
  if (net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
  return net;
}

typedef struct tally { long rows, empty, ver, fal, unk, outside, radius, by[CM_COUNT], fal_out_attack; } tally;

/* One random row on net with clip box [clo, chi]: a centre inside the box or
   outside it, a norm, eps from 0.7 to 3 times the distance to the box (so
   some sets are empty and refused), --radius on one row in 20; the label is
   the class of the clean point half of the time (the attacks must work),
   a random class otherwise. */
static void random_row(const cb_net *net, int net_i, double clo, double chi, tally *t)
{
  static const cb_norm norms[3] = {CB_NORM_INF, CB_NORM_2, CB_NORM_1};
  size_t n = cb_net_input_size(net);
  int k = (int)(urand(&seed) * 3), outside = urand(&seed) < 0.6, label = (int)(urand(&seed) * 3), rc;
  double x[8], lo[8], hi[8], dist;
  cb_set s = {norms[k], 0, n, x, lo, hi};
  cb_cert_opt o;
  cb_certifier *c;
  cb_cert_result r;
  cb_error err = {0};
  char tag[96];
  for (size_t j = 0; j < n; j++) {
    lo[j] = clo; hi[j] = chi;
    x[j] = outside && urand(&seed) < 0.5 ? (urand(&seed) < 0.5 ? clo - rnd(0, 0.3) : chi + rnd(0, 0.3)) : rnd(clo, chi);
  }
  dist = set_clip_distance(&s, 0);
  if (urand(&seed) < 0.5) {
    double p[8], y[3];
    set_nearest(&s, p);
    assert_int_equal(cb_net_forward(net, p, 1, y, &err), CB_OK);
    label = argmax_of(y, 3);
  }
  cert_opt_init(&o);
  o.norm = norms[k];
  o.eps = dist > 0 ? dist * rnd(0.7, 3) : rnd(0.02, 0.4) * (k == 0 ? 1 : k == 1 ? 1.5 : 2.5);
  o.clip = 1; o.clip_lo = clo; o.clip_hi = chi;
  o.methods &= ~(1u << CM_ALPHA);
  o.cheap = (cb_attack_opt){5, 0, (uint64_t)t->rows + 1};
  o.strong = (cb_attack_opt){10, 2, (uint64_t)net_i + 7};
  o.radius = urand(&seed) < 0.05;
  o.radius_rtol = 1e-2;
  c = must_certifier(net, &o);
  t->outside += dist > 0;
  assert_int_equal(cert_result_init(&r, net), CB_OK);
  rc = certify_sample(c, x, label, &r, NULL, &err);
  snprintf(tag, sizeof tag, "net %d row %ld norm %d eps %g distance %g", net_i, t->rows, k, o.eps, dist);
  t->rows++;
  if (rc != CB_OK) {          /* only an empty set may be refused */
    if (!strstr(err.msg, "the set is empty")) fail_msg("%s: %s", tag, err.msg);
    assert_true(dist > o.eps);
    t->empty++;
  } else {
    t->ver += r.verdict == V_VERIFIED;
    t->fal += r.verdict == V_FALSIFIED;
    t->unk += r.verdict == V_UNKNOWN;
    if (r.verdict != V_UNKNOWN) t->by[r.decided_by]++;
    if (r.verdict == V_FALSIFIED) check_cex(net, &o, x, &r, tag);
    t->fal_out_attack += r.verdict == V_FALSIFIED && r.decided_by != CM_CLEAN && dist > 0;
    if (o.radius) {
      t->radius++;
      if (!(r.certified_radius >= dist && r.certified_radius <= r.attack_radius))
        fail_msg("%s: radii [%g, %g]", tag, r.certified_radius, r.attack_radius);
    }
  }
  cert_result_free(&r);
  certifier_free(c);
}

static void test_property(void **st)
{
  tally t = {0};
  (void)st;
  seed = 20240916;
  for (int net_i = 0; net_i < 100; net_i++) {
    cb_net *net = small_net(2 + (size_t)(urand(&seed) * 5));
    double clo = rnd(-0.5, 0.5), chi = clo + rnd(0.2, 1);
    for (int row = 0; row < 200; row++) random_row(net, net_i, clo, chi, &t);
    cb_net_free(net);
  }
  printf("  %ld rows (%ld centred outside the clip box, %ld refused as empty sets, %ld with --radius): "
         "verified %ld, falsified %ld, unknown %ld; every counterexample in the set exactly\n",
         t.rows, t.outside, t.empty, t.radius, t.ver, t.fal, t.unk);
  printf("  decided by:");
  for (int m = 0; m < CM_COUNT; m++) printf(" %s %ld", cb_cm_name[m], t.by[m]);
  printf("; falsified by an attack with the centre outside the box: %ld\n", t.fal_out_attack);
  assert_true(t.rows - t.empty >= 10000);
  assert_true(t.fal >= 1000 && t.ver >= 500 && t.outside >= 3000 && t.fal_out_attack >= 300);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_clip_row_outside), cmocka_unit_test(test_radius_l2_clip),
    cmocka_unit_test(test_methods_subsets), cmocka_unit_test(test_set_boundary),
    cmocka_unit_test(test_property),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
