/*
** Tests for the NPY/NPZ reader and cb_data_load (src/npy.c).
**
** Run from the repository root: reads nets/digits_test20.csv and its NumPy
** copies in tests/data/npy/ (written by tests/data/gen_npy.py, which the
** tests do not need), and the malformed files of tests/bad/.  Small
** hand-made NPY files are written as C byte strings to a fresh mkdtemp
** directory and removed afterwards.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include "cb.h"
#include "testutil.h"

#define CSV20 "nets/digits_test20.csv"
#define NP "tests/data/npy/"

static const char *write_tmp(const char *name, const void *bytes, size_t len) { return tmp_write(name, bytes, len); }

/* An NPY v1 file: header dict text (padded with spaces and a \n) then data. */
static const char *write_npy(const char *name, const char *dict, const void *data, size_t n)
{
  unsigned char buf[512];
  size_t h = strlen(dict), tot = 10 + h + 1;
  assert_true(tot + n <= sizeof buf);
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (unsigned char)((h + 1) & 0xFF);
  buf[9] = (unsigned char)((h + 1) >> 8);
  memcpy(buf + 10, dict, h);
  buf[10 + h] = '\n';
  memcpy(buf + tot, data, n);
  return write_tmp(name, buf, tot + n);
}

static int setup_tmp(void **state) { (void)state; return tmp_setup("cb_npy"); }

static int teardown_tmp(void **state) { (void)state; return tmp_teardown(); }

/* a and b hold the same rows: same sizes, bit-identical features, same labels. */
static void assert_same(const cb_data *a, const cb_data *b)
{
  assert_int_equal(cb_data_rows(a), cb_data_rows(b));
  assert_int_equal(cb_data_cols(a), cb_data_cols(b));
  for (size_t r = 0; r < cb_data_rows(a); r++) {
    assert_int_equal(cb_data_label(a, r), cb_data_label(b, r));
    assert_memory_equal(cb_data_x(a, r), cb_data_x(b, r), cb_data_cols(a) * sizeof(double));
  }
}

/* Loads path (+ labels, scale) and checks it equals the CSV's 20 rows. */
static void check_like_csv(const char *path, const char *labels, double scale, size_t n_features)
{
  cb_data *csv = NULL, *d = NULL;
  cb_error err = {0};
  assert_int_equal(cb_data_load_csv(CSV20, 64, &csv, &err), CB_OK);
  if (cb_data_load(path, labels, n_features, scale, &d, &err) != CB_OK) fail_msg("%s: %s", path, err.msg);
  assert_int_equal(cb_data_rows(d), 20);
  assert_same(csv, d);
  cb_data_free(d);
  cb_data_free(csv);
}

/* Every NumPy copy of digits_test20 gives the CSV's rows, bit for bit. */
static void test_same_as_csv(void **state)
{
  (void)state;
  check_like_csv(NP "digits20_x_f8.npy", NP "digits20_y.npy", 1, 64);
  check_like_csv(NP "digits20_x_f8.npy", NP "digits20_y.npy", 1, 0);
  check_like_csv(NP "digits20_x_f4.npy", NP "digits20_y_i4.npy", 1, 64);
  check_like_csv(NP "digits20_x_u1x16.npy", NP "digits20_y_u1.npy", 1.0 / 16, 64);
  check_like_csv(NP "digits20_x_8x8.npy", NP "digits20_y_f8.npy", 1, 64);
  check_like_csv(NP "digits20_x_v2.npy", NP "digits20_y.npy", 1, 64);
  check_like_csv(NP "digits20_x_v3.npy", NP "digits20_y.npy", 1, 64);
  check_like_csv(NP "digits20.npz", NULL, 1, 64);
  check_like_csv(NP "digits20_u1x16.npz", NULL, 0.0625, 64);
  check_like_csv(NP "digits20_compressed.npz", NULL, 1, 64);   /* np.savez_compressed: deflate */
  check_like_csv(CSV20, NULL, 1, 64);   /* cb_data_load on CSV = cb_data_load_csv */
}

/* --scale multiplies CSV features too. */
static void test_scale_csv(void **state)
{
  cb_data *a = NULL, *b = NULL;
  cb_error err = {0};
  (void)state;
  assert_int_equal(cb_data_load_csv(CSV20, 64, &a, &err), CB_OK);
  assert_int_equal(cb_data_load(CSV20, NULL, 64, 2, &b, &err), CB_OK);
  for (size_t j = 0; j < 64; j++) assert_true(cb_data_x(b, 3)[j] == 2 * cb_data_x(a, 3)[j]);
  cb_data_free(a);
  cb_data_free(b);
}

/* Expects load to fail with status st and a message containing sub. */
static void expect_fail(const char *path, const char *labels, size_t nf, cb_status st, const char *sub)
{
  cb_data *d = (cb_data *)1;
  cb_error err = {0};
  int rc = cb_data_load(path, labels, nf, 1, &d, &err);
  if (rc != (int)st || !strstr(err.msg, sub)) fail_msg("%s: status %d, message \"%s\"; wanted %d \"%s\"", path, rc, err.msg, st, sub);
  assert_null(d);
  assert_null(strchr(err.msg, '\n'));
}

/* The usage rules: .npy needs labels, CSV/NPZ refuse them, scale > 0, shape vs network. */
static void test_usage(void **state)
{
  (void)state;
  expect_fail(NP "digits20_x_f8.npy", NULL, 64, CB_EUSAGE, "needs its labels");
  expect_fail(NP "digits20.npz", NP "digits20_y.npy", 64, CB_EUSAGE, "--labels is only for a .npy");
  expect_fail(CSV20, NP "digits20_y.npy", 64, CB_EUSAGE, "--labels is only for a .npy");
  expect_fail(NP "digits20_x_f8.npy", NP "digits20_y.npy", 10, CB_ESHAPE, "64 features per row, the network takes 10");
  expect_fail(NP "digits20.npz", NULL, 10, CB_ESHAPE, "x.npy: 64 features per row");
  expect_fail(NP "digits20_x_f8.npy", CSV20, 64, CB_EFORMAT, "digits_test20.csv: not a NumPy .npy file");
  expect_fail(NP "digits20_x_f8.npy", NP "nope.npy", 64, CB_EIO, "nope.npy: cannot open");
  {
    cb_data *d = NULL;
    cb_error err = {0};
    assert_int_equal(cb_data_load(CSV20, NULL, 64, 0, &d, &err), CB_EUSAGE);
    assert_int_equal(cb_data_load(CSV20, NULL, 64, NAN, &d, &err), CB_EUSAGE);
  }
}

/* Every malformed file of tests/bad/ is refused with its own words. */
static void test_bad_files(void **state)
{
  static const struct { const char *f; cb_status st; const char *sub; } X[] = {
    {"bad_npy_bigendian.npy", CB_EUNSUP, "big-endian dtype '>f8'"},
    {"bad_npy_dtype.npy", CB_EUNSUP, "unsupported dtype '<c16'"},
    {"bad_npy_fortran.npy", CB_EUNSUP, "fortran_order True"},
    {"bad_npy_header.npy", CB_EFORMAT, "NPY header does not parse"},
    {"bad_npy_shape_overflow.npy", CB_ENOMEM, "absurd shape"},
    {"bad_npy_truncated.npy", CB_EFORMAT, "truncated data"},
    {"bad_npy_trailing.npy", CB_EFORMAT, "trailing data"},
    {"bad_npy_nan.npy", CB_EVALUE, "row 0: NaN or infinite value (feature 1)"},
    {"bad_npy_wrong_shape.npy", CB_ESHAPE, "3 features per row"},
    {"bad_npy_version.npy", CB_EUNSUP, "NPY version 9.0"},
  };
  static const struct { const char *f; cb_status st; const char *sub; } Y[] = {
    {"bad_npy_labels_count.npy", CB_ESHAPE, "2 labels for 3 rows"},
    {"bad_npy_labels_fraction.npy", CB_EFORMAT, "label 0.5 is not an integer"},
    {"bad_npy_labels_shape.npy", CB_ESHAPE, "shape (N,) or (N, 1)"},
  };
  static const struct { const char *f; cb_status st; const char *sub; } Z[] = {
    {"bad_npz_bzip2.npz", CB_EUNSUP, "x.npy: zip compression method 12 is not supported"},
    {"bad_npz_deflate_corrupt.npz", CB_EFORMAT, "x.npy: corrupt deflate data"},
    {"bad_npz_crc.npz", CB_EFORMAT, "CRC mismatch"},
    {"bad_npz_label_count.npz", CB_ESHAPE, "y.npy: 2 labels for 3 rows"},
    {"bad_npz_no_y.npz", CB_EFORMAT, "no y.npy"},
    {"bad_npz_truncated.npz", CB_EFORMAT, "end-of-central-directory"},
  };
  char p[256];
  (void)state;
  for (size_t i = 0; i < sizeof X / sizeof X[0]; i++) {
    snprintf(p, sizeof p, "tests/bad/%s", X[i].f);
    expect_fail(p, NP "tiny_y.npy", 2, X[i].st, X[i].sub);
  }
  for (size_t i = 0; i < sizeof Y / sizeof Y[0]; i++) {
    snprintf(p, sizeof p, "tests/bad/%s", Y[i].f);
    expect_fail(NP "tiny_x.npy", p, 2, Y[i].st, Y[i].sub);
  }
  for (size_t i = 0; i < sizeof Z / sizeof Z[0]; i++) {
    snprintf(p, sizeof p, "tests/bad/%s", Z[i].f);
    expect_fail(p, NULL, 2, Z[i].st, Z[i].sub);
  }
}

/* Hand-written headers: accepted spellings and refused ones. */
static void test_headers(void **state)
{
  static const double x4[4] = {1, 2, 3, 4};
  static const int64_t y2[2] = {1, 0};
  static const int64_t ybig[2] = {1, (int64_t)1 << 40};
  static const float yf[2] = {1.0f, 0.5f};
  const char *y = write_npy("y.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", y2, sizeof y2);
  const char *y21 = write_npy("y21.npy", "{\"shape\": (2, 1), \"fortran_order\": False, \"descr\": \"<i8\"}", y2, sizeof y2);
  cb_data *d = NULL;
  cb_error err = {0};
  (void)state;
  /* keys in any order, double quotes, (N, 1) labels, no trailing comma */
  assert_int_equal(cb_data_load(write_npy("x.npy", "{'descr':'<f8','fortran_order':False,'shape':(2,2)}", x4, sizeof x4), y21, 2, 1,
                                &d, &err), CB_OK);
  assert_int_equal(cb_data_rows(d), 2);
  assert_true(cb_data_x(d, 1)[1] == 4);
  assert_int_equal(cb_data_label(d, 0), 1);
  cb_data_free(d);
  expect_fail(write_npy("k.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), 'extra': 1}", x4, sizeof x4), y, 2,
              CB_EFORMAT, "unknown or repeated key");
  expect_fail(write_npy("m.npy", "{'descr': '<f8', 'shape': (2, 2)}", x4, sizeof x4), y, 2, CB_EFORMAT, "missing");
  expect_fail(write_npy("r.npy", "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 2)}", x4, sizeof x4), y, 2,
              CB_EFORMAT, "unknown or repeated key");
  expect_fail(write_npy("z.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 2)}", "", 0), y, 2, CB_EFORMAT, "no samples");
  expect_fail(write_npy("s.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': ()}", x4, 8), y, 2, CB_EFORMAT, "no samples");
  expect_fail(write_npy("q.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2)} x", x4, sizeof x4), y, 2, CB_EFORMAT,
              "text after the dict");
  expect_fail(write_npy("u.npy", "{'descr': '<f8', 'fortran_order': Fals, 'shape': (2, 2)}", x4, sizeof x4), y, 2, CB_EFORMAT,
              "does not parse");
  expect_fail(write_npy("i.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2)}", x4, sizeof x4), y, 2, CB_EUNSUP,
              "features must be float64, float32 or uint8");
  expect_fail(write_npy("x2.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2)}", x4, sizeof x4),
              write_npy("yb.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (2,)}", ybig, sizeof ybig), 2, CB_EVALUE,
              "does not fit in an int");
  expect_fail(write_npy("x3.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2)}", x4, sizeof x4),
              write_npy("yf.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", yf, sizeof yf), 2, CB_EFORMAT,
              "row 1: label 0.5 is not an integer");
  expect_fail(write_tmp("short.npy", "\x93NUMPY\x01\x00\xff\x00{", 11), y, 2, CB_EFORMAT, "truncated NPY header");
  expect_fail(write_tmp("tiny.npy", "\x93NUMPY", 6), y, 2, CB_EFORMAT, "not a NumPy .npy file");
}

/* Every allocation failure gives CB_ENOMEM (or success) and leaks nothing. */
static void test_oom(void **state)
{
  static const char *const files[][2] = {{NP "digits20_x_u1x16.npy", NP "digits20_y.npy"}, {NP "digits20.npz", NULL},
                                         {NP "digits20_compressed.npz", NULL}};
  (void)state;
  for (size_t f = 0; f < 3; f++)
    for (long k = 0; k < 16; k++) {
      size_t before = cb_mem_used();
      cb_data *d = NULL;
      cb_error err = {0};
      int rc;
      cb_alloc_fail_after(k);
      rc = cb_data_load(files[f][0], files[f][1], 64, 0.0625, &d, &err);
      cb_alloc_fail_after(-1);
      assert_true(rc == CB_OK || rc == CB_ENOMEM);
      if (rc == CB_OK) assert_int_equal(cb_data_rows(d), 20);
      else assert_null(d);
      cb_data_free(d);
      assert_int_equal(cb_mem_used(), before);
    }
}

/* cb_vector_load (--box, --eps-per-feature): the same 6 values from an NPY of
   shape (1, 2, 3) float64, an (6,) int64 NPY, a (6, 1) float32 NPY and text
   with commas, blanks, semicolons, newlines and a comment; refusals name the
   file; a failing allocator leaks nothing and leaves out untouched. */
static void test_vector(void **state)
{
  static const double want[6] = {0, 0.5, -1, 2, 1e-3, 7};
  static const int64_t iv[6] = {0, 1, -1, 2, 3, 7};
  float fv[6];
  double out[6], keep[6] = {9, 9, 9, 9, 9, 9};
  cb_error err = {0};
  const char *f8, *i8, *f4, *txt, *bad;
  (void)state;
  for (int k = 0; k < 6; k++) fv[k] = (float)want[k];
  f8 = write_npy("v_f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 3), }", want, sizeof want);
  i8 = write_npy("v_i8.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (6,), }", iv, sizeof iv);
  f4 = write_npy("v_f4.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 1), }", fv, sizeof fv);
  static const char text[] = "# radii\n0, 0.5;-1\n2\t1e-3 7\n";
  txt = write_tmp("v.txt", text, strlen(text));
  assert_int_equal(cb_vector_load(f8, 6, out, &err), CB_OK);
  assert_memory_equal(out, want, sizeof want);
  assert_int_equal(cb_vector_load(i8, 6, out, &err), CB_OK);
  for (int k = 0; k < 6; k++) assert_true(out[k] == (double)iv[k]);
  assert_int_equal(cb_vector_load(f4, 6, out, &err), CB_OK);
  for (int k = 0; k < 6; k++) assert_true(out[k] == (double)fv[k]);
  assert_int_equal(cb_vector_load(txt, 6, out, &err), CB_OK);
  assert_memory_equal(out, want, sizeof want);
  bad = write_tmp("v_bad.txt", "1,2,x\n", strlen("1,2,x\n"));
  memcpy(out, keep, sizeof keep);
  assert_int_equal(cb_vector_load(bad, 3, out, &err), CB_EFORMAT);
  assert_non_null(strstr(err.msg, "v_bad.txt: line 1: 'x' is not a number"));
  assert_memory_equal(out, keep, sizeof keep);
  cb_error_clear(&err);
  assert_int_equal(cb_vector_load(f8, 5, out, &err), CB_ESHAPE);
  assert_non_null(strstr(err.msg, "shape (1, 2, 3) holds 6 values, the network takes 5 inputs"));
  for (long k = 0; k < 4; k++) {
    size_t before = cb_mem_used();
    int rc;
    cb_error e2 = {0};
    cb_alloc_fail_after(k);
    rc = cb_vector_load(f8, 6, out, &e2);
    cb_alloc_fail_after(-1);
    assert_true(rc == CB_OK || rc == CB_ENOMEM);
    assert_int_equal(cb_mem_used(), before);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_same_as_csv),
    cmocka_unit_test(test_scale_csv),
    cmocka_unit_test(test_usage),
    cmocka_unit_test(test_bad_files),
    cmocka_unit_test(test_headers),
    cmocka_unit_test(test_oom),
    cmocka_unit_test(test_vector),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
