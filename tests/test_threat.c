/*
** Threat models of issue 20: per-feature boxes (--box), weighted L-inf balls
** (--eps-per-feature: cb_set.w), targeted certification (--target) and
** regression certification (--regression --tol), each held to the rules of
** docs/soundness.md:
**  - enclosure: on random nets of every node kind (randnet.h), weighted
**    balls (some radii 0: pinned features) cut by a per-feature box, IBP,
**    CROWN-IBP, CROWN and alpha-CROWN output bounds hold at 2,000 sampled
**    points and every vertex-like corner of the set, zero tolerance; sampled
**    points pass set_contains, and attack_project's points are in the set
**    by exact rational membership (GMP);
**  - the property: random small nets x weighted/plain balls x boxes x
**    targeted/untargeted/regression rows (>= 4,000): every "falsified"
**    counterexample lies in the set exactly and violates the property in
**    real arithmetic (exact.h), every "verified" row holds at 200 sampled
**    points of its set, and with --radius, certified <= attacked;
**  - set_check refuses a weighted ball that misses the box, and a pinned
**    feature (radius 0) outside the box.
*/
#include <gmp.h>
#include <math.h>
#include "attack.h"
#include "certify.h"
#include "exact.h"
#include "randnet.h"

/* 1 if x is in {|x_j - c_j| <= eps w_j (w NULL: eps), lo_j <= x_j <= hi_j} in rationals. */
static int in_set_q(const cb_set *s, const double *x)
{
  mpq_t d, t, r;
  int ok = 1;
  mpq_inits(d, t, r, NULL);
  for (size_t j = 0; j < s->n && ok; j++) {
    if (s->lo && !(x[j] >= s->lo[j] && x[j] <= s->hi[j])) ok = 0;
    mpq_set_d(d, x[j]);
    mpq_set_d(t, s->center[j]);
    mpq_sub(d, d, t);
    mpq_abs(d, d);
    mpq_set_d(r, s->eps);
    if (s->w) { mpq_set_d(t, s->w[j]); mpq_mul(r, r, t); }
    if (mpq_cmp(d, r) > 0) ok = 0;
  }
  mpq_clears(d, t, r, NULL);
  return ok;
}

/* A random point of the set: each coordinate uniform in its interval, or at an end. */
static void sample(const cb_set *s, double *x, int corner)
{
  for (size_t j = 0; j < s->n; j++) {
    double r = s->w ? s->eps * s->w[j] : s->eps, l = s->center[j] - r, h = s->center[j] + r;
    if (s->lo) { l = fmax(l, s->lo[j]); h = fmin(h, s->hi[j]); }
    x[j] = corner ? (urand(&seed) < 0.5 ? l : h) : rnd(l, h);
    if (s->lo) x[j] = fmin(fmax(x[j], s->lo[j]), s->hi[j]);
  }
}

/* Output bounds of every method over a weighted ball in a box, against samples. */
static void enclosure_case(cb_net *net, const char *name)
{
  static const cb_method meth[4] = {CB_IBP, CB_CROWN_IBP, CB_CROWN, CB_ALPHA_CROWN};
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
  double *x0 = cb_alloc(n * sizeof *x0), *w = cb_alloc(n * sizeof *w), *lo = cb_alloc(n * sizeof *lo),
         *hi = cb_alloc(n * sizeof *hi), *x = cb_alloc(n * sizeof *x), *y = cb_alloc(no * sizeof *y),
         *I = cb_calloc(no * no, sizeof *I), *lb = cb_alloc(no * sizeof *lb), *ub = cb_alloc(no * sizeof *ub);
  cb_bnet bn;
  cb_error err = {0};
  long checked = 0;
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  for (size_t k = 0; k < no; k++) I[k * no + k] = 1;
  for (int c = 0; c < 6; c++) {
    cb_set s = {CB_NORM_INF, rnd(0.2, 1.5), n, x0, c % 2 ? lo : NULL, c % 2 ? hi : NULL, w};
    for (size_t j = 0; j < n; j++) {
      x0[j] = rnd(-1, 1);
      w[j] = urand(&seed) < 0.2 ? 0 : rnd(0, 0.3);
      lo[j] = x0[j] - rnd(0, 0.2);   /* the box holds the centre: the set is not empty */
      hi[j] = x0[j] + rnd(0, 0.2);
    }
    assert_int_equal(set_check(&s, &err), CB_OK);
    for (int m = 0; m < 4; m++) {
      cb_ws *ws = ws_new(&bn, &s, &err);
      assert_non_null(ws);
      if (bounds_run(ws, meth[m], &err) != CB_OK || bounds_spec(ws, I, no, lb, ub, &err) != CB_OK)
        fail_msg("%s case %d method %d: %s", name, c, m, err.msg);
      for (int t = 0; t < 2000; t++) {
        sample(&s, x, t % 4 == 0);
        assert_true(set_contains(&s, x) || !in_set_q(&s, x));
        assert_int_equal(cb_net_forward(net, x, 1, y, &err), CB_OK);
        for (size_t k = 0; k < no; k++)
          if (!(y[k] >= lb[k] && y[k] <= ub[k]))
            fail_msg("%s case %d method %d: output %zu = %.17g outside [%.17g, %.17g]", name, c, m, k, y[k], lb[k], ub[k]);
        checked++;
      }
      ws_free(ws);
    }
    for (int t = 0; t < 200; t++) {   /* projections land in the real set */
      for (size_t j = 0; j < n; j++) x[j] = x0[j] + rnd(-3, 3);
      if (attack_project(&s, x) && !in_set_q(&s, x)) fail_msg("%s case %d: a projected point is outside the set", name, c);
    }
  }
  printf("  %s: %ld points x outputs inside every method's bounds\n", name, checked);
  bnet_free(&bn);
  cb_free(x0); cb_free(w); cb_free(lo); cb_free(hi); cb_free(x); cb_free(y); cb_free(I); cb_free(lb); cb_free(ub);
}

static void test_weighted_enclosure(void **st)
{
  (void)st;
  seed = 20261207;
  cb_net *nets[3] = {net_dense(), net_conv(), net_residual()};
  const char *names[3] = {"dense", "conv", "residual"};
  for (int k = 0; k < 3; k++) {
    cb_error err = {0};
    nets[k]->output = nets[k]->n - 1;
    if (net_check(nets[k], &err) != CB_OK) fail_msg("%s", err.msg);
    enclosure_case(nets[k], names[k]);
    cb_net_free(nets[k]);
  }
}

/* set_check on weighted balls: a ball that misses the box, a pinned feature outside it. */
static void test_weighted_empty(void **st)
{
  double c[2] = {0, 0.5}, w[2] = {1, 0}, lo[2] = {0.3, 0}, hi[2] = {1, 1};
  cb_set s = {CB_NORM_INF, 0.2, 2, c, lo, hi, w};
  cb_error err = {0};
  (void)st;
  assert_int_not_equal(set_check(&s, &err), CB_OK);             /* |0.3 - 0| > 0.2 * 1 */
  printf("  %s\n", err.msg);
  assert_non_null(strstr(err.msg, "the set is empty: the weighted L-inf ball"));
  s.eps = 0.3;
  cb_error_clear(&err);
  assert_int_equal(set_check(&s, &err), CB_OK);                 /* touches the box */
  assert_true(set_clip_distance(&s, 0) <= 0.3 && set_clip_distance(&s, 1) >= 0.3);
  c[1] = 1.5;                                                   /* pinned (w = 0) outside [0, 1] */
  s.eps = 100;
  assert_int_not_equal(set_check(&s, &err), CB_OK);
  assert_true(set_clip_distance(&s, 0) == HUGE_VAL);
  s.norm = CB_NORM_2;
  c[1] = 0.5;
  cb_error_clear(&err);
  assert_int_not_equal(set_check(&s, &err), CB_OK);
  assert_non_null(strstr(err.msg, "the norm must be inf"));
}

/* A random dense net: n inputs, one or two hidden layers (ReLU, maybe tanh), no outputs. */
static cb_net *small_net(size_t n, size_t no)
{
  int64_t d[2] = {1, (int64_t)n};
  cb_net *net = start(2, d);
  cb_error err = {0};
  int i = act(net, dense(net, 0, 4 + (size_t)(urand(&seed) * 6)), CB_ACT_RELU);
  if (urand(&seed) < 0.5) i = act(net, dense(net, i, 6), urand(&seed) < 0.7 ? CB_ACT_RELU : CB_ACT_TANH);
  dense(net, i, no);
  net->output = net->n - 1;
  if (net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
  return net;
}

typedef struct tally { long rows, ver, fal, unk, targeted, regression, weighted, boxed, radius; } tally;

/* The row's property fails at x in real arithmetic (exact.h enclosures):
   regression some |f_j(x) - f_j(x0)| > tol, else f_k >= f_label for the
   target k (or some k != label). */
static int violates_exact(const cb_net *net, const cb_cert_opt *o, const double *x0, int label, const double *x)
{
  cb_exact *E = NULL, *E0 = NULL;
  cb_error err = {0};
  size_t no = cb_net_output_size(net);
  double a[8] = {0};
  int bad = 0;
  assert_int_equal(exact_eval(net, x, &E, &err), CB_OK);
  if (o->regression) {
    assert_int_equal(exact_eval(net, x0, &E0, &err), CB_OK);
    for (size_t j = 0; j < no; j++) {
      double l, h, l0, h0;
      exact_output(E, j, &l, &h);
      exact_output(E0, j, &l0, &h0);
      if (l - h0 > o->tol || l0 - h > o->tol) bad = 1;   /* a double difference: within rounding of the exact one */
    }
  } else for (size_t k = 0; k < no && !bad; k++) {
    int smin, smax;
    if ((int)k == label || (o->target >= 0 && (int)k != o->target)) continue;
    memset(a, 0, sizeof a);
    a[label] = 1; a[k] = -1;
    exact_row_sign(E, a, 0, &smin, &smax);
    bad = smax <= 0;
  }
  exact_free(E);
  exact_free(E0);
  return bad;
}

/* The property holds at x (double forward pass, zero tolerance). */
static int holds_double(const cb_net *net, const cb_cert_opt *o, const double *y0, int label, const double *x)
{
  double y[8];
  cb_error err = {0};
  size_t no = cb_net_output_size(net);
  assert_int_equal(cb_net_forward(net, x, 1, y, &err), CB_OK);
  for (size_t k = 0; k < no; k++) {
    if (o->regression) { if (fabs(y[k] - y0[k]) > o->tol) return 0; continue; }
    if ((int)k == label || (o->target >= 0 && (int)k != o->target)) continue;
    if (!(y[label] > y[k])) return 0;
  }
  return 1;
}

static void random_row(const cb_net *net, int net_i, tally *t)
{
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
  double x[8], lo[8], hi[8], w[8], y0[8], p[8];
  int weighted = urand(&seed) < 0.5, boxed = urand(&seed) < 0.5, label = (int)(urand(&seed) * (double)no), rc;
  cb_cert_opt o;
  cb_certifier *c;
  cb_cert_result r;
  cb_error err = {0};
  char tag[128];
  cert_opt_init(&o);
  for (size_t j = 0; j < n; j++) {
    x[j] = rnd(-1, 1);
    w[j] = urand(&seed) < 0.15 ? 0 : rnd(0.2, 1);
    lo[j] = x[j] - rnd(0, 0.5);
    hi[j] = x[j] + rnd(0, 0.5);
  }
  o.norm = weighted || urand(&seed) < 0.5 ? CB_NORM_INF : CB_NORM_2;
  o.eps = rnd(0.02, 0.5);
  o.regression = no == 1 || urand(&seed) < 0.3;
  assert_int_equal(cb_net_forward(net, x, 1, y0, &err), CB_OK);
  if (o.regression) o.tol = rnd(0.01, 1) * (fabs(y0[0]) + 0.1);
  else {
    size_t b = 0;
    for (size_t k = 1; k < no; k++) if (y0[k] > y0[b]) b = k;
    if (urand(&seed) < 0.6) label = (int)b;     /* the attacks must work on correct rows */
    if (urand(&seed) < 0.5) { o.target = (int)(urand(&seed) * (double)(no - 1)); if (o.target >= label) o.target++; }
  }
  if (weighted) o.eps_w = w;
  if (boxed) { o.box_lo = lo; o.box_hi = hi; }
  o.methods &= ~(1u << CM_ALPHA);
  o.cheap = (cb_attack_opt){5, 0, (uint64_t)t->rows + 1};
  o.strong = (cb_attack_opt){10, 2, (uint64_t)net_i + 7};
  o.bab_timeout = 0.2;
  o.radius = urand(&seed) < 0.05;
  o.radius_rtol = 1e-2;
  c = certifier_new(net, &o, &err);
  if (!c) fail_msg("certifier_new: %s", err.msg);
  assert_int_equal(cert_result_init(&r, net), CB_OK);
  rc = certify_sample(c, x, label, &r, NULL, &err);
  snprintf(tag, sizeof tag, "net %d row %ld (%s%s%s%s)", net_i, t->rows, weighted ? "weighted " : "", boxed ? "box " : "",
           o.regression ? "regression" : o.target >= 0 ? "targeted" : "untargeted", o.norm == CB_NORM_2 ? " L2" : "");
  if (rc != CB_OK) fail_msg("%s: %s", tag, err.msg);
  t->rows++;
  t->weighted += weighted; t->boxed += boxed; t->regression += o.regression; t->targeted += o.target >= 0;
  t->ver += r.verdict == V_VERIFIED;
  t->fal += r.verdict == V_FALSIFIED;
  t->unk += r.verdict == V_UNKNOWN;
  {
    cb_set s = {o.norm, o.eps, n, x, boxed ? lo : NULL, boxed ? hi : NULL, weighted ? w : NULL};
    if (r.verdict == V_FALSIFIED) {
      if (o.norm == CB_NORM_INF && !in_set_q(&s, r.cex)) fail_msg("%s: counterexample (%s) outside the set", tag, cb_cm_name[r.decided_by]);
      if (!set_contains(&s, r.cex)) fail_msg("%s: counterexample outside the set", tag);
      if (!violates_exact(net, &o, x, label, r.cex)) fail_msg("%s: counterexample (%s) meets the property", tag, cb_cm_name[r.decided_by]);
    }
    if (r.verdict == V_VERIFIED && o.norm == CB_NORM_INF)
      for (int k = 0; k < 200; k++) {
        sample(&s, p, k % 3 == 0);
        if (!holds_double(net, &o, y0, label, p)) fail_msg("%s: verified (%s), but the property fails at a sampled point", tag, cb_cm_name[r.decided_by]);
      }
  }
  if (o.radius) {
    t->radius++;
    if (!(r.certified_radius <= r.attack_radius)) fail_msg("%s: radii [%g, %g]", tag, r.certified_radius, r.attack_radius);
  }
  cert_result_free(&r);
  certifier_free(c);
}

static void test_property(void **st)
{
  tally t = {0};
  (void)st;
  seed = 20261208;
  for (int net_i = 0; net_i < 40; net_i++) {
    size_t no = urand(&seed) < 0.2 ? 1 : 2 + (size_t)(urand(&seed) * 3);
    cb_net *net = small_net(2 + (size_t)(urand(&seed) * 5), no);
    for (int row = 0; row < 100; row++) random_row(net, net_i, &t);
    cb_net_free(net);
  }
  printf("  %ld rows (%ld weighted, %ld with a box, %ld targeted, %ld regression, %ld with --radius): "
         "verified %ld, falsified %ld, unknown %ld; every counterexample in its set and violating its property exactly\n",
         t.rows, t.weighted, t.boxed, t.targeted, t.regression, t.radius, t.ver, t.fal, t.unk);
  assert_true(t.rows >= 4000 && t.fal >= 300 && t.ver >= 300 && t.targeted >= 500 && t.regression >= 500);
}

/* Refusals: --target out of range or equal to the label, a weighted L2 ball, tol < 0. */
static void test_refusals(void **st)
{
  cb_net *net;
  cb_cert_opt o;
  cb_cert_result r;
  cb_certifier *c;
  cb_error err = {0};
  double x[3] = {0, 0, 0}, w[3] = {1, 1, 1};
  (void)st;
  seed = 7;
  net = small_net(3, 3);
  cert_opt_init(&o); o.eps = 0.1; o.target = 3;
  assert_null(certifier_new(net, &o, &err));
  assert_non_null(strstr(err.msg, "--target 3 is not a class"));
  cert_opt_init(&o); o.eps = 0.1; o.norm = CB_NORM_2; o.eps_w = w;
  cb_error_clear(&err);
  assert_null(certifier_new(net, &o, &err));
  assert_non_null(strstr(err.msg, "weighted L-inf ball"));
  cert_opt_init(&o); o.eps = 0.1; o.regression = 1; o.tol = -1;
  cb_error_clear(&err);
  assert_null(certifier_new(net, &o, &err));
  cert_opt_init(&o); o.eps = 0.1; o.target = 1;
  cb_error_clear(&err);
  c = certifier_new(net, &o, &err);
  assert_non_null(c);
  assert_int_equal(cert_result_init(&r, net), CB_OK);
  assert_int_not_equal(certify_sample(c, x, 1, &r, NULL, &err), CB_OK);
  assert_non_null(strstr(err.msg, "is the target class"));
  cert_result_free(&r);
  certifier_free(c);
  cb_net_free(net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_weighted_enclosure), cmocka_unit_test(test_weighted_empty),
    cmocka_unit_test(test_property), cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
