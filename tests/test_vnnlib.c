/*
** VNNLIB reader: every construct of the VNN-COMP subset, the interval
** reading of decimal constants, and the strict errors (with line:column).
** vnn_write's text reads back to the same spec.  The last test reads every .vnnlib under ../shared/benchmarks (SKIPPED when
** absent).
*/
#include <dirent.h>
#include <math.h>
#include "testutil.h"
#include "vnnlib.h"

static vnn_spec *parse_ok(const char *text)
{
  vnn_spec *s = NULL;
  cb_error err = {0};
  int rc = vnn_parse_string(text, strlen(text), "t.vnnlib", &s, &err);
  if (rc) fail_msg("unexpected error: %s", err.msg);
  return s;
}

static void parse_bad(const char *text, const char *want)
{
  vnn_spec *s = NULL;
  cb_error err = {0};
  int rc = vnn_parse_string(text, strlen(text), "t.vnnlib", &s, &err);
  assert_true(rc < 0);
  assert_null(s);
  if (!strstr(err.msg, want)) fail_msg("message '%s' lacks '%s'", err.msg, want);
}

#define DECL2 "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n"
#define BOX2 "(assert (>= X_0 -1))\n(assert (<= X_0 1))\n(assert (>= X_1 0))\n(assert (<= X_1 0.5))\n"

static void test_box_and_row(void **state)
{
  vnn_spec *s = parse_ok("; comment\n" DECL2 BOX2 "(assert (<= Y_0 Y_1))\n");
  (void)state;
  assert_int_equal(s->nx, 2);
  assert_int_equal(s->ny, 2);
  assert_int_equal(s->n_box, 1);
  assert_true(s->box[0].lo[0] == -1 && s->box[0].hi[0] == 1 && s->box[0].lo[1] == 0 && s->box[0].hi[1] == 0.5);
  assert_true(s->box[0].lo_in[1] == 0 && s->box[0].hi_in[1] == 0.5);     /* exact constants: inner = outer */
  assert_int_equal(s->box[0].n_conj, 1);
  assert_int_equal(s->box[0].conj[0].m, 1);
  assert_true(s->box[0].conj[0].A[0] == 1 && s->box[0].conj[0].A[1] == -1);   /* Y_0 - Y_1 <= 0 */
  assert_true(s->box[0].conj[0].b_up[0] == 0 && s->box[0].conj[0].b_dn[0] == 0);
  assert_int_equal(s->box[0].conj[0].strict[0], 0);
  vnn_free(s);
}

static void test_linear_terms(void **state)
{
  /* 2 Y_0 - (Y_1 - 3) + -1 * Y_0 >= (- 1)  <=>  -Y_0 + Y_1 <= 4 */
  vnn_spec *s = parse_ok(DECL2 BOX2 "(assert (>= (+ (* 2 Y_0) (- (- Y_1 3)) (* -1 Y_0)) (- 1)))\n");
  const vnn_conj *c = &s->box[0].conj[0];
  (void)state;
  assert_true(c->A[0] == -1 && c->A[1] == 1);
  assert_true(c->b_up[0] == 4 && c->b_dn[0] == 4);
  vnn_free(s);
  /* constants on both sides and a product written constant-last */
  s = parse_ok(DECL2 BOX2 "(assert (< (* Y_1 0.5) (+ 1 Y_0 2)))\n");
  c = &s->box[0].conj[0];
  assert_true(c->A[0] == -1 && c->A[1] == 0.5 && c->b_up[0] == 3);
  assert_int_equal(c->strict[0], 1);
  vnn_free(s);
}

static void test_strict_and_inexact(void **state)
{
  vnn_spec *s = parse_ok(DECL2 "(assert (> X_0 0.1))\n(assert (< X_0 0.3))\n(assert (>= X_1 2e-1))\n(assert (<= X_1 0.2))\n"
                         "(assert (<= Y_0 0.1))\n");
  const vnn_box *b;
  (void)state;
  b = &s->box[0];
  /* outer contains the real interval, inner lies strictly inside it */
  assert_true(b->lo[0] <= 0.1 && b->lo_in[0] > 0.1 && b->hi[0] >= 0.3 && b->hi_in[0] < 0.3);
  assert_true(nextafter(b->lo[0], 1) >= b->lo_in[0] - 1e-17);
  /* X_1 = 0.2 exactly (not a double): the outer box is one ulp wide, the inner box empty */
  assert_true(b->lo[1] < b->hi[1] && b->lo_in[1] > b->hi_in[1]);
  assert_true(b->conj[0].b_dn[0] < b->conj[0].b_up[0] && nextafter(b->conj[0].b_dn[0], 1) == b->conj[0].b_up[0]);
  vnn_free(s);
}

/* The exact decimal of an input bound that is no double (vnn_box.lo_dec,
   hi_dec; issue 18): kept for "X_i op literal" and "literal op X_i", the
   tighter bound's; none for a double, a strict bound, two literals of the
   same rounding, or a side also bounded through arithmetic (two roundings:
   the outer bounds no longer order the real ones); boxes that differ only
   in a decimal stay apart. */
static void test_exact_decimals(void **state)
{
  vnn_spec *s = parse_ok(DECL2 "(assert (>= X_0 0.1))\n(assert (<= X_0 0.1))\n(assert (<= 0.3 X_1))\n(assert (<= X_1 0.5))\n"
                         "(assert (<= X_1 0.7))\n(assert (>= Y_0 1))\n");
  const vnn_box *b = &s->box[0];
  (void)state;
  assert_non_null(b->lo_dec);
  assert_string_equal(b->lo_dec[0], "0.1");
  assert_string_equal(b->hi_dec[0], "0.1");
  assert_string_equal(b->lo_dec[1], "0.3");
  assert_null(b->hi_dec[1]);                       /* 0.5 is a double: the bound is exact */
  vnn_free(s);
  s = parse_ok(DECL2 "(assert (>= X_0 -1))\n(assert (<= X_0 1))\n(assert (>= X_1 0))\n(assert (<= X_1 0.5))\n(assert (>= Y_0 1))\n");
  assert_null(s->box[0].lo_dec);                   /* every bound a double: no arrays */
  vnn_free(s);
  s = parse_ok(DECL2 "(assert (>= X_0 0.7))\n(assert (>= X_0 0.3))\n(assert (< X_0 0.9))\n"
                     "(assert (>= X_1 0.1))\n(assert (>= X_1 0.10000000000000000001))\n(assert (<= X_1 1))\n(assert (>= Y_0 1))\n");
  b = &s->box[0];
  assert_string_equal(b->lo_dec[0], "0.7");        /* the tighter, in either order */
  assert_null(b->hi_dec[0]);                       /* strict */
  assert_null(b->lo_dec[1]);                       /* two literals with the same roundings */
  vnn_free(s);
  s = parse_ok(DECL2 "(assert (>= X_0 0.1))\n(assert (<= X_0 0.1))\n(assert (<= (* 2 X_0) 0.2))\n"
                     "(assert (>= X_1 (+ 0.1 0)))\n(assert (<= X_1 1))\n(assert (>= Y_0 1))\n");
  b = &s->box[0];
  assert_string_equal(b->lo_dec[0], "0.1");
  assert_null(b->hi_dec[0]);                       /* 2 X_0 <= 0.2 bounds it too */
  assert_null(b->lo_dec[1]);                       /* a constant through arithmetic */
  vnn_free(s);
  s = parse_ok(DECL2 "(assert (or (and (>= X_0 0.1) (<= X_0 0.1) (>= X_1 0) (<= X_1 1))\n"
                     "            (and (>= X_0 0.10000000000000000001) (<= X_0 0.10000000000000000001) (>= X_1 0) (<= X_1 1))))\n"
                     "(assert (>= Y_0 1))\n");
  assert_int_equal(s->n_box, 2);                   /* the same doubles, other decimals */
  assert_string_equal(s->box[1].hi_dec[0], "0.10000000000000000001");
  vnn_free(s);
}

static void test_zero_width(void **state)
{
  vnn_spec *s = parse_ok(DECL2 "(assert (>= X_0 0.5))\n(assert (<= X_0 0.5))\n(assert (<= X_1 -0.25))\n(assert (>= X_1 -0.25))\n"
                         "(assert (>= Y_0 1))\n");
  (void)state;
  assert_true(s->box[0].lo[0] == 0.5 && s->box[0].hi[0] == 0.5 && s->box[0].lo_in[0] == 0.5 && s->box[0].hi_in[0] == 0.5);
  assert_true(s->box[0].lo[1] == -0.25 && s->box[0].hi_in[1] == -0.25);
  vnn_free(s);
}

static void test_disjunctions(void **state)
{
  /* two boxes (or of ands on X) times two output conjunctions (or on Y) */
  vnn_spec *s = parse_ok(DECL2
    "(assert (or (and (>= X_0 0) (<= X_0 1) (>= X_1 0) (<= X_1 1))\n"
    "            (and (>= X_0 2) (<= X_0 3) (>= X_1 0) (<= X_1 1))))\n"
    "(assert (or (and (<= Y_0 Y_1) (>= Y_0 0)) (and (<= Y_1 Y_0))))\n");
  (void)state;
  assert_int_equal(s->n_box, 2);
  assert_true(s->box[1].lo[0] == 2 && s->box[1].hi[0] == 3);
  for (int b = 0; b < 2; b++) {
    assert_int_equal(s->box[b].n_conj, 2);
    assert_int_equal(s->box[b].conj[0].m, 2);
    assert_int_equal(s->box[b].conj[1].m, 1);
  }
  vnn_free(s);
  /* input and output atoms mixed inside one disjunct (the 'test' family) */
  s = parse_ok(DECL2 "(assert (or (and (>= X_0 0) (<= X_0 1) (>= X_1 0) (<= X_1 1) (>= Y_0 5))))\n");
  assert_int_equal(s->n_box, 1);
  assert_int_equal(s->box[0].conj[0].m, 1);
  vnn_free(s);
}

static void test_constant_atoms(void **state)
{
  vnn_spec *s = parse_ok(DECL2 BOX2 "(assert (or (and (<= 1 2) (<= Y_0 0)) (and (<= 2 1) (<= Y_1 0))))\n");
  (void)state;
  assert_int_equal(s->box[0].n_conj, 1);      /* the false disjunct is dropped */
  assert_true(s->box[0].conj[0].A[0] == 1);
  vnn_free(s);
  s = parse_ok(DECL2 BOX2 "(assert (> 0 1))\n");
  assert_int_equal(s->n_box, 0);               /* nothing can hold */
  vnn_free(s);
  s = parse_ok(DECL2 BOX2);                    /* no output constraint: one conjunction without rows */
  assert_int_equal(s->box[0].n_conj, 1);
  assert_int_equal(s->box[0].conj[0].m, 0);
  vnn_free(s);
}

static void test_errors(void **state)
{
  (void)state;
  parse_bad(DECL2 BOX2 "(assert (<= Y_0 Y_1)\n", "t.vnnlib:9:1: unbalanced parentheses");
  parse_bad(DECL2 BOX2 "(assert (<= Y_0 Y_1)\n", "unbalanced parentheses");
  parse_bad(DECL2 BOX2 "(assert (<= Y_0 Y_1)))\n", "unbalanced parentheses: unexpected ')'");
  parse_bad(DECL2 BOX2 "(assert (== Y_0 Y_1))\n", "t.vnnlib:9:10: unknown operator '=='");
  parse_bad(DECL2 BOX2 "(assert (<= Y_0 Y_7))\n", "undeclared variable Y_7");
  parse_bad(DECL2 BOX2 "(assert (<= Y_0 Z_1))\n", "expected a number or a variable");
  parse_bad(DECL2 BOX2 "(assert (<= Y_0 1.2.3))\n", "found '1.2.3'");
  parse_bad(DECL2 BOX2 "(assert (<= Y_0 nan))\n", "found 'nan'");
  parse_bad(DECL2 BOX2 "(assert (<= Y_0 1e999))\n", "out of range");
  parse_bad(DECL2 "(assert (>= X_0 1))\n(assert (<= X_0 0))\n(assert (>= X_1 0))\n(assert (<= X_1 1))\n", "t.vnnlib:6:10: empty input box: X_0 has lower bound 1 above upper bound 0");
  parse_bad(DECL2 "(assert (>= X_0 1))\n(assert (>= X_1 0))\n(assert (<= X_1 1))\n", "X_0 has no upper bound");
  parse_bad(DECL2 BOX2 "(assert (<= X_0 Y_0))\n", "mixes input (X) and output (Y)");
  parse_bad(DECL2 BOX2 "(assert (<= (+ X_0 X_1) 1))\n", "bound one variable");
  parse_bad(DECL2 BOX2 "(assert (<= (* Y_0 Y_1) 1))\n", "not linear");
  parse_bad(DECL2 BOX2 "(assert (<= (* 0.1 Y_0) 1))\n", "not exactly representable");
  parse_bad(DECL2 "(declare-const X_0 Real)\n", "declared twice");
  parse_bad("(declare-const X_0 Int)\n", "unsupported sort 'Int'");
  parse_bad("(declare-const W_0 Real)\n", "unsupported variable name");
  parse_bad("(declare-const X_1 Real)\n(declare-const Y_0 Real)\n", "X_0 is not declared");
  parse_bad("(declare-fun f () Real)\n", "unknown command 'declare-fun'");
  parse_bad("(declare-const Y_0 Real)\n", "no input variable");
  parse_bad(DECL2 BOX2 "(assert (and))\n", "needs at least one argument");
}

static void test_sizes(void **state)
{
  vnn_spec *s = parse_ok(DECL2 BOX2 "(assert (<= Y_0 Y_1))\n");
  cb_error err = {0};
  (void)state;
  assert_int_equal(vnn_check_sizes(s, 2, 2, &err), CB_OK);
  assert_true(vnn_check_sizes(s, 5, 2, &err) < 0);
  assert_non_null(strstr(err.msg, "t.vnnlib:1:1: declares 2 input variables X_i but the network has 5 inputs"));
  cb_error_clear(&err);
  assert_true(vnn_check_sizes(s, 2, 3, &err) < 0);
  assert_non_null(strstr(err.msg, "t.vnnlib:3:1: declares 2 output variables"));
  vnn_free(s);
}

/* Failing allocator: every allocation failure gives CB_ENOMEM (or success), never a crash. */
static void test_oom(void **state)
{
  const char *text = DECL2 "(assert (or (and (>= X_0 0) (<= X_0 1) (>= X_1 0) (<= X_1 1))\n"
                     "            (and (>= X_0 2) (<= X_0 3) (>= X_1 0) (<= X_1 1))))\n"
                     "(assert (or (and (<= Y_0 Y_1) (>= Y_0 0)) (and (<= (+ Y_1 (* 2 Y_0)) Y_0))))\n";
  int ok = 0;
  (void)state;
  for (long n = 0; n < 400 && !ok; n++) {
    vnn_spec *s = NULL;
    cb_error err = {0};
    int rc;
    cb_alloc_fail_after(n);
    rc = vnn_parse_string(text, strlen(text), "t.vnnlib", &s, &err);
    cb_alloc_fail_after(-1);
    if (rc == CB_OK) { ok = 1; assert_int_equal(s->n_box, 2); }
    else { assert_int_equal(rc, CB_ENOMEM); assert_null(s); }
    vnn_free(s);
  }
  assert_true(ok);
}

/* Every property file of the 13 VNN-COMP families parses. */
static void walk(const char *dir, int *n)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[2048];
  if (!d) return;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (l > 7 && !strcmp(e->d_name + l - 7, ".vnnlib")) {
      vnn_spec *s = NULL;
      cb_error err = {0};
      if (vnn_parse(p, &s, &err) != CB_OK) fail_msg("%s", err.msg);
      assert_true(s->n_box >= 1);
      vnn_free(s);
      (*n)++;
    } else walk(p, n);
  }
  closedir(d);
}

/* vnn_write then vnn_parse: the same boxes (bounds printed exactly, or the
   outer box widened), the same conjunctions, rows and right-hand sides. */
static void roundtrip(const char *text)
{
  vnn_spec *a = parse_ok(text), *b = NULL;
  cb_error err = {0};
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  assert_non_null(f);
  assert_int_equal(vnn_write(f, a, "written by test_vnnlib"), CB_OK);
  assert_int_equal(fclose(f), 0);
  if (vnn_parse_string(out, len, "w.vnnlib", &b, &err) != CB_OK) fail_msg("%s\n%s", err.msg, out);
  assert_int_equal(a->nx, b->nx); assert_int_equal(a->ny, b->ny);
  assert_int_equal(a->n_box, b->n_box);
  for (size_t k = 0; k < a->n_box; k++) {
    const vnn_box *p = &a->box[k], *q = &b->box[k];
    for (size_t i = 0; i < a->nx; i++) assert_true(q->lo[i] <= p->lo[i] && q->hi[i] >= p->hi[i]);
    assert_int_equal(p->n_conj, q->n_conj);
    for (size_t c = 0; c < p->n_conj; c++) {
      assert_int_equal(p->conj[c].m, q->conj[c].m);
      assert_memory_equal(p->conj[c].A, q->conj[c].A, p->conj[c].m * a->ny * sizeof(double));
      for (size_t r = 0; r < p->conj[c].m; r++) {
        assert_true(q->conj[c].b_up[r] >= p->conj[c].b_up[r]);
        assert_int_equal(q->conj[c].strict[r], p->conj[c].strict[r]);
      }
    }
  }
  free(out);
  vnn_free(a); vnn_free(b);
}

static void test_write_roundtrip(void **state)
{
  (void)state;
  roundtrip(DECL2 BOX2 "(assert (or (and (>= Y_0 Y_1)) (and (<= (+ (* 0.5 Y_0) (* -3 Y_1)) 0.1) (< Y_1 2e-300))))\n");
  roundtrip(DECL2
    "(assert (or (and (>= X_0 0) (<= X_0 1) (>= X_1 0) (<= X_1 1))\n"
    "            (and (>= X_0 2) (<= X_0 3) (>= X_1 1e-310) (<= X_1 0.3))))\n"
    "(assert (or (and (<= Y_0 Y_1) (>= Y_0 0)) (and (<= Y_1 Y_0))))\n");
}

static void test_benchmark_files(void **state)
{
  char p[1024];
  int n = 0;
  (void)state;
  if (!shared_present("benchmarks")) return;
  snprintf(p, sizeof p, "%s/benchmarks", shared_dir());
  walk(p, &n);
  printf("parsed %d VNNLIB files\n", n);
  assert_true(n >= 700);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_box_and_row),
    cmocka_unit_test(test_linear_terms),
    cmocka_unit_test(test_strict_and_inexact),
    cmocka_unit_test(test_exact_decimals),
    cmocka_unit_test(test_zero_width),
    cmocka_unit_test(test_disjunctions),
    cmocka_unit_test(test_constant_atoms),
    cmocka_unit_test(test_errors),
    cmocka_unit_test(test_sizes),
    cmocka_unit_test(test_oom),
    cmocka_unit_test(test_write_roundtrip),
    cmocka_unit_test(test_benchmark_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
