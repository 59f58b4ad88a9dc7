/*
** src/round.c against exact rational arithmetic (GMP mpq: every finite
** double is a rational, so a + b, a b, x / y and sums are compared exactly).
** Checks, with zero tolerance:
**   gamma: round_gamma within u relative of n u / (1 - n u), round_gamma_up
**     above it, and an n-term dot product within round_gamma_up(n) |a|.|b|;
**   every up/down pair brackets the real result of +, -, *, / on random
**     doubles over the whole exponent range (subnormals included);
**   RU / RD are the IEEE directed roundings: equal when the result is a
**     double, one nextafter step apart otherwise; two-sum's error is exact;
**   the inline hot-loop helpers bracket too and keep exact results exact;
**   bounded sums and 2-norms bound the exact sums of squares;
**   edge cases: 0, the smallest subnormal, DBL_MIN, DBL_MAX, infinities.
*/
#include <float.h>
#include <gmp.h>
#include <math.h>
#include "testutil.h"
#include "round.h"

#define TRIALS 40000

static uint64_t seed = 20260517;

static uint64_t next64(void)
{
  seed ^= seed >> 12; seed ^= seed << 25; seed ^= seed >> 27;
  return seed * 2685821657736338717ULL;
}

/* A random double: random sign and mantissa, exponent in [emin, emax]; now
   and then 0, +-eta, +-DBL_MIN or a power of two. */
static double rand_double(int emin, int emax)
{
  uint64_t r = next64();
  double m = 1 + (double)(r >> 11) * 0x1p-53, s = (r & 1) ? -1 : 1;
  int e = emin + (int)(next64() % (uint64_t)(emax - emin + 1));
  switch (r >> 60) {
  case 0: return 0;
  case 1: return s * ROUND_ETA;
  case 2: return s * DBL_MIN;
  case 3: return s * ldexp(1, e);
  default: return s * ldexp(m, e);
  }
}

/* lo <= x <= hi for the rational x; an infinite end is checked by its sign
   (GMP has no infinities), a NaN end fails. */
static void assert_brackets(double lo, const mpq_t x, double hi)
{
  mpq_t q;
  assert_false(isnan(lo) || isnan(hi) || lo == HUGE_VAL || hi == -HUGE_VAL);
  mpq_init(q);
  if (lo != -HUGE_VAL) { mpq_set_d(q, lo); assert_true(mpq_cmp(q, x) <= 0); }
  if (hi != HUGE_VAL) { mpq_set_d(q, hi); assert_true(mpq_cmp(x, q) <= 0); }
  mpq_clear(q);
}

/* x = a op b exactly (op: + - * /). */
static void exact_op(char op, double a, double b, mpq_t x)
{
  mpq_t qa, qb;
  mpq_inits(qa, qb, NULL);
  mpq_set_d(qa, a);
  mpq_set_d(qb, b);
  if (op == '+') mpq_add(x, qa, qb);
  else if (op == '-') mpq_sub(x, qa, qb);
  else if (op == '*') mpq_mul(x, qa, qb);
  else mpq_div(x, qa, qb);
  mpq_clears(qa, qb, NULL);
}

static double double_op(char op, double a, double b)
{
  return op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : a / b;
}

static void test_constants(void **state)
{
  (void)state;
  assert_true(ROUND_U == DBL_EPSILON / 2);
  assert_true(ROUND_ETA == DBL_TRUE_MIN);
  assert_true(1 + ROUND_U == 1 && 1 + 2 * ROUND_U > 1);  /* u is half the gap above 1 */
}

/* round_gamma(n) against the rational n u / (1 - n u); round_gamma_up above it. */
static void test_gamma_formula(void **state)
{
  static const double ns[] = {0, 1, 2, 3, 7, 10, 100, 1000, 12345, 0x1p20, 0x1p40, 0x1p50, 0x1p51 - 1};
  mpq_t nu, g, q, tol;
  (void)state;
  mpq_inits(nu, g, q, tol, NULL);
  for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
    size_t n = (size_t)ns[t];
    double r = round_gamma(n), ru = round_gamma_up(n);
    mpq_set_d(nu, ns[t] * ROUND_U);          /* exact: a power-of-two scaling */
    mpq_set_ui(q, 1, 1);
    mpq_sub(q, q, nu);
    mpq_div(g, nu, q);                        /* gamma_n */
    mpq_set_d(q, r);
    mpq_sub(q, q, g);
    mpq_abs(q, q);
    mpq_set_d(tol, ROUND_U);
    mpq_mul(tol, tol, g);
    assert_true(mpq_cmp(q, tol) <= 0);        /* |round_gamma - gamma_n| <= u gamma_n */
    mpq_set_d(q, ru);
    assert_true(mpq_cmp(q, g) >= 0);          /* round_gamma_up >= gamma_n */
    assert_true(ru <= r * (1 + 8 * ROUND_U) || n == 0);
  }
  assert_true(round_gamma(0) == 0);
  assert_true(round_gamma_up((size_t)1 << 51) == HUGE_VAL);  /* n u = 1/4: no bound */
  mpq_clears(nu, g, q, tol, NULL);
}

/* |fl(a.b) - a.b| <= gamma_n |a|.|b| on random dot products (Higham eq. 3.5). */
static void test_gamma_dot(void **state)
{
  static const size_t ns[] = {1, 2, 3, 10, 100, 1000};
  mpq_t dot, mag, p, q;
  (void)state;
  mpq_inits(dot, mag, p, q, NULL);
  for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++)
    for (int rep = 0; rep < 20; rep++) {
      size_t n = ns[t];
      double s = 0;
      mpq_set_ui(dot, 0, 1);
      mpq_set_ui(mag, 0, 1);
      for (size_t i = 0; i < n; i++) {
        double a = rand_double(-30, 30), b = rand_double(-30, 30);
        if (fabs(a) < 0x1p-900) a = 1;  /* no underflow: the bound is purely relative */
        if (fabs(b) < 0x1p-900) b = -1;
        s += a * b;
        exact_op('*', a, b, p);
        mpq_add(dot, dot, p);
        mpq_abs(p, p);
        mpq_add(mag, mag, p);
      }
      mpq_set_d(q, s);
      mpq_sub(q, q, dot);
      mpq_abs(q, q);
      mpq_set_d(p, round_gamma_up(n));
      mpq_mul(p, p, mag);
      assert_true(mpq_cmp(q, p) <= 0);
    }
  mpq_clears(dot, mag, p, q, NULL);
}

/* Every pair brackets the real a op b; RU / RD are the directed roundings. */
static void test_brackets(void **state)
{
  static const char ops[] = "+-*/";
  mpq_t x, q, e;
  (void)state;
  mpq_inits(x, q, e, NULL);
  for (int t = 0; t < TRIALS; t++) {
    double a = rand_double(-1074, 1023), b = rand_double(-1074, 1023);
    if (t % 4 == 1) b = -a * (1 + (double)(next64() >> 40) * 0x1p-52);  /* cancellation */
    for (int k = 0; k < 4; k++) {
      char op = ops[k];
      double v = double_op(op, a, b), lo, hi;
      if (!isfinite(v) || (op == '/' && b == 0)) continue;
      exact_op(op, a, b, x);
      assert_brackets(round_down(v), x, round_up(v));
      assert_brackets(round_next_down(v), x, round_next_up(v));
      if (op == '+') {
        assert_brackets(-HUGE_VAL, x, round_add_up(a, b));
        mpq_set_d(q, round_two_sum_err(a, b, v));
        mpq_set_d(e, v);
        mpq_add(q, q, e);
        assert_true(mpq_equal(q, x));  /* v + err = a + b exactly */
        lo = round_add_rd(a, b);
        hi = round_add_ru(a, b);
      }
      else if (op == '-') { lo = round_add_rd(a, -b); hi = round_add_ru(a, -b); }
      else if (op == '*') { assert_brackets(-HUGE_VAL, x, round_mul_up(a, b)); lo = round_mul_rd(a, b); hi = round_mul_ru(a, b); }
      else { lo = round_div_rd(a, b); hi = round_div_ru(a, b); }
      assert_brackets(lo, x, hi);   /* everywhere, the tiny region included */
      /* tight (one step, exact kept exact) except where the residual may
         underflow: there RU/RD step outward unconditionally (round.c) */
      if ((op == '*' && fabs(v) < 0x1p-960) || (op == '/' && (fabs(a) < 0x1p-960 || fabs(v) < 0x1p-960))) continue;
      mpq_set_d(q, v);
      assert_true(mpq_equal(q, x) ? lo == v && hi == v : hi == round_next_up(lo));
    }
  }
  mpq_clears(x, q, e, NULL);
}

/* The inline helpers bracket sums and products and keep exact ones exact. */
static void test_inline(void **state)
{
  mpq_t x, q;
  (void)state;
  mpq_inits(x, q, NULL);
  for (int t = 0; t < TRIALS; t++) {
    double a = rand_double(-1074, 1000), b = rand_double(-1074, 1000), s, p;
    if (t % 4 == 1) b = -a * (1 + (double)(next64() >> 40) * 0x1p-52);  /* cancellation */
    s = a + b;
    p = a * b;
    if (!isfinite(s) || !isfinite(p)) continue;
    exact_op('+', a, b, x);
    assert_brackets(round_sum2_down(s), x, round_sum2_up(s));
    assert_brackets(round_acc_down(a, b), x, round_acc_up(a, b));
    assert_brackets(s - round_slack_nz(s), x, s + round_slack_nz(s));
    if (fabs(s) < DBL_MIN) assert_true(round_sum2_down(s) == s && round_sum2_up(s) == s);
    exact_op('*', a, b, x);
    assert_brackets(round_prod_down(a, b), x, round_prod_up(a, b));
  }
  assert_true(round_acc_up(0, 0.1) == 0.1 && round_acc_down(0.1, 0) == 0.1);
  assert_true(round_prod_up(0, 1e300) == 0 && round_prod_down(-3, 0) == 0);
  assert_true(round_slack_nz(0) == 0 && round_slack(0) == DBL_MIN);
  mpq_clears(x, q, NULL);
}

/* Sums of nonnegative terms, any order: round_sum_up >= the exact sum; the
   sum of squares and the 2-norm bounds hold around the exact sum of squares. */
static void test_sums(void **state)
{
  static const size_t ns[] = {0, 1, 2, 5, 64, 1000};
  double x[1000];
  mpq_t sum, ssq, p, q;
  (void)state;
  mpq_inits(sum, ssq, p, q, NULL);
  for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++)
    for (int rep = 0; rep < 30; rep++) {
      size_t n = ns[t];
      int lo = rep % 3 == 0 ? -1074 : rep % 3 == 1 ? -540 : -40, hi = rep % 3 == 0 ? -1000 : 40;
      double fwd = 0, bwd = 0, nu, nd;
      mpq_set_ui(sum, 0, 1);
      mpq_set_ui(ssq, 0, 1);
      for (size_t i = 0; i < n; i++) {
        x[i] = fabs(rand_double(lo, hi));
        fwd += x[i];
        mpq_set_d(p, x[i]);
        mpq_add(sum, sum, p);
        mpq_mul(p, p, p);
        mpq_add(ssq, ssq, p);
      }
      for (size_t i = n; i-- > 0;) bwd += x[i];
      assert_brackets(-HUGE_VAL, sum, round_sum_up(fwd, n));
      assert_brackets(-HUGE_VAL, sum, round_sum_up(bwd, n));
      assert_brackets(-HUGE_VAL, ssq, round_sumsq_up(x, n));
      nu = round_nrm2_up(x, n);
      nd = round_nrm2_down(x, n);
      assert_true(nd >= 0 && nd <= nu);
      mpq_set_d(q, nu);
      mpq_mul(q, q, q);
      assert_true(mpq_cmp(ssq, q) <= 0);      /* ||x||^2 <= nrm2_up^2 */
      mpq_set_d(q, nd);
      mpq_mul(q, q, q);
      assert_true(mpq_cmp(q, ssq) <= 0);      /* nrm2_down^2 <= ||x||^2 */
    }
  /* near the worst case: 1 + (n - 1) terms just under u, each rounded away */
  for (size_t n = 2; n <= 1000; n *= 10) {
    mpq_set_ui(sum, 1, 1);
    x[0] = 1;
    for (size_t i = 1; i < n; i++) {
      x[i] = ROUND_U * (1 - 0x1p-52);
      mpq_set_d(p, x[i]);
      mpq_add(sum, sum, p);
    }
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    assert_true(s == 1);
    assert_brackets(-HUGE_VAL, sum, round_sum_up(s, n));
  }
  mpq_clears(sum, ssq, p, q, NULL);
}

/* 0, subnormals, the normal threshold, overflow and infinities. */
static void test_edges(void **state)
{
  double inf = HUGE_VAL;
  (void)state;
  assert_true(round_up(0) == ROUND_ETA && round_down(0) == -ROUND_ETA);
  assert_true(round_next_up(0) == ROUND_ETA && round_next_down(0) == -ROUND_ETA);
  assert_true(round_up(ROUND_ETA) == 2 * ROUND_ETA && round_down(-ROUND_ETA) == -2 * ROUND_ETA);
  assert_true(round_next_up(DBL_MIN - ROUND_ETA) == DBL_MIN);
  assert_true(round_up(DBL_MIN) > DBL_MIN && round_down(DBL_MIN) < DBL_MIN);
  assert_true(round_next_up(DBL_MAX) == inf && round_next_down(-DBL_MAX) == -inf);
  assert_true(round_add_ru(DBL_MAX, DBL_MAX) == inf);
  assert_true(round_add_ru(0, 0) == 0 && round_add_rd(0, 0) == 0 && round_mul_ru(0, 5) == 0);
  assert_true(round_add_ru(1, 0x1p-80) == 1 + 0x1p-52 && round_add_rd(1, 0x1p-80) == 1);
  assert_true(round_div_ru(1, 3) == round_next_up(round_div_rd(1, 3)));
  assert_true(round_div_ru(-1, 3) == round_next_up(round_div_rd(-1, 3)));
  /* the outward side stays infinite; NaN (no bound) propagates */
  assert_true(round_up(inf) == inf && round_down(-inf) == -inf);
  assert_true(isnan(round_down(inf)) && isnan(round_up(-inf)));
  assert_true(round_next_up(inf) == inf && round_next_down(-inf) == -inf);
  assert_true(round_add_up(inf, 1) == inf && round_mul_up(inf, 2) == inf);
  assert_true(isnan(round_up(NAN)) && isnan(round_next_up(NAN)) && isnan(round_sum_up(NAN, 3)));
  /* empty sums: small positive upper bounds, a zero lower bound */
  assert_true(round_sum_up(0, 0) == ROUND_ETA && round_sumsq_up(NULL, 0) == 2 * ROUND_ETA);
  assert_true(round_nrm2_up(NULL, 0) > 0 && round_nrm2_up(NULL, 0) < 1e-150 && round_nrm2_down(NULL, 0) == 0);
}

/* Products and quotients whose fma residual underflows (found in review):
   the real value is nonzero or off p, so RU/RD must still step outward. */
static void test_tiny_residual(void **state)
{
  (void)state;
  assert_true(round_mul_ru(0x1p-600, 0x1p-600) > 0);              /* real 2^-1200 */
  assert_true(round_mul_rd(-0x1p-600, 0x1p-600) < 0);
  assert_true(round_mul_rd(0x1p-600, 0x1p-600) <= 0);
  /* a normal result: residual 2^-1124, p below the real value */
  double a = 0x1.0000000000001p-500, b = 0x1.0000000000001p-520, p = a * b;
  assert_true(round_mul_ru(a, b) > p && round_mul_rd(a, b) <= p);
  assert_true(round_mul_ru(-a, b) >= -p && round_mul_rd(-a, b) < -p);
  /* quotients with a tiny dividend or quotient */
  assert_true(round_div_ru(0x1p-1000, 0x1p100) > 0 && round_div_rd(-0x1p-1000, 0x1p100) < 0);
  double x = 0x1.0000000000001p-1000, y = 0x1.0000000000003p-900, q = x / y;
  assert_true(round_div_ru(x, y) > q && round_div_rd(x, y) < q);
  /* exact cases stay exact where a factor is 0 */
  assert_true(round_mul_ru(0, 0x1p-600) == 0 && round_mul_rd(0x1p-600, 0) == 0);
  assert_true(round_div_ru(0, 0x1p-600) == 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_constants),
    cmocka_unit_test(test_gamma_formula),
    cmocka_unit_test(test_gamma_dot),
    cmocka_unit_test(test_brackets),
    cmocka_unit_test(test_inline),
    cmocka_unit_test(test_sums),
    cmocka_unit_test(test_edges),
    cmocka_unit_test(test_tiny_residual),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
