/*
** A folder of PNG images with a labels CSV (issue 20, src/png.c): pixel
** values as stored in channel-major (C, H, W) order for RGB, 16-bit grey and
** palette images (tests/data/png_misc, written by tests/data/gen_png.py);
** the digits folder equals the CSV rows it came from (--scale 1/16); alpha,
** tRNS, truncated files, names leaving the folder, bad labels, wrong sizes
** and a missing labels file are refused with a message naming the file.
*/
#include <math.h>
#include "testutil.h"

static const char *M = "tests/data/png_misc";

static cb_data *load_ok(const char *dir, const char *labels, size_t n, double scale)
{
  cb_data *d = NULL;
  cb_error err = {0};
  if (cb_data_load(dir, labels, n, scale, &d, &err) != CB_OK) fail_msg("%s", err.msg);
  return d;
}

static void expect_refused(const char *dir, const char *labels, size_t n, const char *text)
{
  cb_data *d = NULL;
  cb_error err = {0};
  int rc = cb_data_load(dir, labels, n, 1, &d, &err);
  if (rc == CB_OK) fail_msg("%s with %s: loaded, expected '%s'", dir, labels ? labels : "(no labels)", text);
  assert_null(d);
  if (!strstr(err.msg, text)) fail_msg("message '%s' lacks '%s'", err.msg, text);
}

static void test_layouts(void **st)
{
  cb_data *d;
  (void)st;
  d = load_ok(M, "tests/data/png_misc/rgb.csv", 18, 1);   /* (y, x, c) = 100 c + 10 y + x, stored c-major */
  assert_int_equal(cb_data_rows(d), 1);
  assert_int_equal(cb_data_label(d, 0), 1);
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < 2; y++)
      for (int x = 0; x < 3; x++) assert_true(cb_data_x(d, 0)[c * 6 + y * 3 + x] == 100 * c + 10 * y + x);
  cb_data_free(d);
  d = load_ok(M, "tests/data/png_misc/grey16.csv", 4, 1.0 / 65535);   /* 16-bit: 1000 (2y + x) + 1, scaled */
  for (int e = 0; e < 4; e++) assert_true(fabs(cb_data_x(d, 0)[e] - (1000.0 * e + 1) / 65535) < 1e-15);
  cb_data_free(d);
  d = load_ok(M, "tests/data/png_misc/pal.csv", 12, 1);    /* palette [0, 1; 1, 0] -> RGB, channel-major */
  {
    const double want[12] = {10, 40, 40, 10, 20, 50, 50, 20, 30, 60, 60, 30};
    for (int e = 0; e < 12; e++) assert_true(cb_data_x(d, 0)[e] == want[e]);
  }
  cb_data_free(d);
}

static void test_digits_equal_csv(void **st)
{
  cb_data *p, *c;
  (void)st;
  p = load_ok("tests/data/png", "tests/data/png/labels.csv", 64, 1.0 / 16);
  c = load_ok("nets/digits_test20.csv", NULL, 64, 1);
  assert_int_equal(cb_data_rows(p), 5);
  for (size_t r = 0; r < 5; r++) {
    assert_int_equal(cb_data_label(p, r), cb_data_label(c, r));
    for (size_t j = 0; j < 64; j++) assert_true(cb_data_x(p, r)[j] == cb_data_x(c, r)[j]);
  }
  cb_data_free(p);
  cb_data_free(c);
}

static void test_refused(void **st)
{
  (void)st;
  expect_refused(M, "tests/data/png_misc/alpha.csv", 4, "alpha.png: has an alpha channel");
  expect_refused(M, "tests/data/png_misc/trns.csv", 4, "trns.png: has an alpha channel or transparency");
  expect_refused(M, "tests/data/png_misc/bad.csv", 4, "bad.png: unreadable PNG");
  expect_refused(M, "tests/data/png_misc/rgb.csv", 64, "rgb.png: 3 x 2 x 3 = 18 values, the network's input has 64");
  expect_refused(M, NULL, 4, "needs --labels");
  expect_refused(M, tmp_write("up.csv", "../png/digit_0.png,1\n", 21), 64, "without '..'");
  expect_refused(M, tmp_write("abs.csv", "/etc/passwd,1\n", 14), 64, "must be relative");
  expect_refused(M, tmp_write("lab.csv", "rgb.png,1.5\n", 12), 18, "label '1.5' is not a non-negative integer");
  expect_refused(M, tmp_write("none.csv", "file,label\n", 11), 18, "no 'file,label' lines");
  expect_refused(M, tmp_write("miss.csv", "nothere.png,1\n", 14), 18, "nothere.png: cannot open");
  expect_refused(M, tmp_write("mixed.csv", "rgb.png,1\npal.png,0\n", 20), 18, "pal.png: 3 x 2 x 2, but the first image is 3 x 2 x 3");
  expect_refused("tests/data/png/digit_0.png", NULL, 64, "a PNG image (give the folder");
}

static int setup(void **st) { (void)st; return tmp_setup("cb_png"); }
static int teardown(void **st) { (void)st; return tmp_teardown(); }

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_layouts), cmocka_unit_test(test_digits_equal_csv), cmocka_unit_test(test_refused)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
