/*
** Tests for the NNet loader (src/nnet.c) and the CSV sample loader (src/csv.c).
**
** Run from the repository root: reads tests/data/tiny.nnet, tests/data/small.csv
** and, when present, the ACAS Xu network under ../shared (else prints
** "SKIPPED: ../shared absent" and skips that test).  Malformed inputs are
** written to a fresh mkdtemp directory and removed afterwards.  Every error
** case checks the status and that the one-line message names the line.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include "net.h"
#include "testutil.h"

#define ACAS "../shared/benchmarks/acasxu/nnet/ACASXU_run2a_1_1_batch_2000.nnet"
#define TINY "tests/data/tiny.nnet"
#define SMALL "tests/data/small.csv"

/* Body of tiny.nnet after its header line, for building variants. */
#define TINY_BODY \
  "2,3,2,\n0,\n-1.0,0.0,\n1.0,4.0,\n0.5,1.0,0.0,\n2.0,4.0,1.0,\n" \
  "1.0,-2.0,\n0.5,0.25,\n-1,1,\n1,\n0,\n-1.5,\n1,1,1,\n-1,0,2,\n0.5,\n-0.5,\n"

static const char *write_tmp(const char *name, const void *bytes, size_t len) { return tmp_write(name, bytes, len); }

/* Group setup: a fresh temporary directory. */
static int setup_tmp(void **state) { (void)state; return tmp_setup("cb_nnet_csv"); }

/* Group teardown: removes every file written and the directory. */
static int teardown_tmp(void **state) { (void)state; return tmp_teardown(); }

/* Loads text as an .nnet and checks the status and a message substring. */
static void expect_nnet_error(const char *name, const char *text, int status, const char *sub)
{
  cb_error e = { CB_OK, "" };
  cb_net *net = (cb_net *)1;
  const char *path = write_tmp(name, text, strlen(text));
  int rc = nnet_load(path, &net, &e);
  if (rc != status || !strstr(e.msg, sub))
    print_error("%s: rc %d, message \"%s\"; wanted %d and \"%s\"\n", name, rc, e.msg, status, sub);
  assert_int_equal(rc, status);
  assert_int_equal(e.status, status);
  assert_null(net);
  assert_non_null(strstr(e.msg, sub));
  assert_non_null(strstr(e.msg, path));
}

/* Loads text as a CSV (n features) and checks the status and a message substring. */
static void expect_csv_error(const char *name, const char *text, size_t n, int status,
                             const char *sub)
{
  cb_error e = { CB_OK, "" };
  cb_data *d = (cb_data *)1;
  const char *path = write_tmp(name, text, strlen(text));
  int rc = cb_data_load_csv(path, n, &d, &e);
  if (rc != status || !strstr(e.msg, sub))
    print_error("%s: rc %d, message \"%s\"; wanted %d and \"%s\"\n", name, rc, e.msg, status, sub);
  assert_int_equal(rc, status);
  assert_null(d);
  assert_non_null(strstr(e.msg, sub));
  assert_non_null(strstr(e.msg, path));
}

/* The ACAS Xu network: 1 input + 1 scale + 7 affine + 6 relu, 5 -> 50 x 6 -> 5. */
static void test_nnet_acas(void **state)
{
  cb_error e = { CB_OK, "" };
  cb_net *net = NULL;
  (void)state;
  if (access(ACAS, R_OK) != 0) {
    printf("SKIPPED: ../shared absent\n");
    skip();
  }
  assert_int_equal(nnet_load(ACAS, &net, &e), CB_OK);
  assert_int_equal(net->n, 15);
  assert_int_equal(net->output, 14);
  assert_string_equal(net->format, "nnet");
  assert_int_equal(cb_net_input_size(net), 5);
  assert_int_equal(cb_net_output_size(net), 5);
  assert_int_equal(net->node[1].kind, CB_SCALE);
  assert_int_equal(net->node[1].exact, 0);
  assert_true(net->node[1].rel_err == 0x1p-53);
  assert_true(net->node[1].p.scale.a[0] == 1.0 / 60261.0);
  assert_true(net->node[1].p.scale.b[0] == -1.9791091e+04 / 60261.0);
  assert_true(net->in_min[0] == 0.0 && net->in_max[0] == 60760.0);
  for (int k = 0; k < 7; k++) {
    const cb_node *nd = &net->node[2 + 2 * k];
    assert_int_equal(nd->kind, CB_AFFINE);
    assert_int_equal(nd->p.aff.out, k == 6 ? 5 : 50);
    assert_int_equal(nd->p.aff.in, k == 0 ? 5 : 50);
    if (k < 6) assert_true(node_is_act(&net->node[3 + 2 * k], CB_ACT_RELU));
  }
  assert_true(net->node[2].p.aff.W[0] == 5.40062e-02);
  assert_true(net->node[2].p.aff.W[5] == -1.12374e+00);
  assert_true(net->node[14].p.aff.b[4] == -1.48281e-02);
  cb_net_free(net);
}

/* tiny.nnet: every weight, bias and normalisation constant loads exactly. */
static void test_nnet_tiny(void **state)
{
  static const double W0[6] = { 1.0, -2.0, 0.5, 0.25, -1, 1 }, b0[3] = { 1, 0, -1.5 };
  static const double W1[6] = { 1, 1, 1, -1, 0, 2 }, b1[2] = { 0.5, -0.5 };
  cb_error e = { CB_OK, "" };
  cb_net *net = NULL;
  const cb_node *nd;
  (void)state;
  assert_int_equal(nnet_load(TINY, &net, &e), CB_OK);
  assert_int_equal(net->n, 5);
  assert_string_equal(net->node[0].name, "input");
  assert_string_equal(net->input_name, "input");
  assert_string_equal(net->output_name, "output");
  assert_int_equal(net->input_shape.rank, 2);
  assert_int_equal(net->input_shape.dim[1], 2);
  nd = &net->node[1];
  assert_string_equal(nd->op, "NNetNormalize");
  assert_int_equal(nd->exact, 1);
  assert_true(nd->rel_err == 0);
  assert_true(nd->p.scale.a[0] == 0.5 && nd->p.scale.a[1] == 0.25);
  assert_true(nd->p.scale.b[0] == -0.25 && nd->p.scale.b[1] == -0.25);
  assert_true(net->in_min[0] == -1.0 && net->in_min[1] == 0.0);
  assert_true(net->in_max[0] == 1.0 && net->in_max[1] == 4.0);
  assert_memory_equal(net->node[2].p.aff.W, W0, sizeof W0);
  assert_memory_equal(net->node[2].p.aff.b, b0, sizeof b0);
  assert_string_equal(net->node[3].name, "relu_0");
  assert_string_equal(net->node[4].name, "layer_1");
  assert_memory_equal(net->node[4].p.aff.W, W1, sizeof W1);
  assert_memory_equal(net->node[4].p.aff.b, b1, sizeof b1);
  assert_int_equal(net->output, 4);
  cb_net_free(net);
}

/* Layout variants that must load: \r\n, blank lines, no trailing commas,
** spaces; and a range of 3 whose reciprocal is rounded (exact = 0). */
static void test_nnet_variants(void **state)
{
  static const char crlf[] = "// c\r\n1,1,1,1,\r\n1,1,\r\n0,\r\n0,\r\n1,\r\n1,0,\r\n3,1,\r\n"
                             "2,\r\n\r\n-1,\r\n\r\n";
  static const char loose[] = "1,1,1,1\n1,1\n0\n0\n1\n0.5,0\n2,1\n 4 , \n7\n\n\n";
  cb_error e = { CB_OK, "" };
  cb_net *net = NULL;
  (void)state;
  assert_int_equal(nnet_load(write_tmp("crlf.nnet", crlf, strlen(crlf)), &net, &e), CB_OK);
  assert_int_equal(net->node[1].exact, 0);
  assert_true(net->node[1].rel_err == 0x1p-53);
  assert_true(net->node[1].p.scale.a[0] == 1.0 / 3.0);
  assert_true(net->node[1].p.scale.b[0] == -1.0 / 3.0);
  assert_true(net->node[2].p.aff.W[0] == 2 && net->node[2].p.aff.b[0] == -1);
  cb_net_free(net);
  assert_int_equal(nnet_load(write_tmp("loose.nnet", loose, strlen(loose)), &net, &e), CB_OK);
  assert_int_equal(net->n, 3);
  assert_int_equal(net->node[1].exact, 1);
  assert_true(net->node[1].p.scale.a[0] == 0.5 && net->node[1].p.scale.b[0] == -0.25);
  assert_true(net->node[2].p.aff.W[0] == 4 && net->node[2].p.aff.b[0] == 7);
  cb_net_free(net);
}

/* Malformed .nnet files: status and the line (or part) in the message. */
static void test_nnet_bad(void **state)
{
  (void)state;
  expect_nnet_error("short.nnet", "2,2,2,3,\n2,3,2,\n0,\n-1,0,\n1,4,\n0.5,1,0,\n2,4,1,\n"
                    "1,-2,\n0.5,\n", CB_EFORMAT, ":9: expected 2 weights in row 1 of layer 0, found 1");
  expect_nnet_error("long.nnet", "2,2,2,3,\n2,3,2,\n0,\n-1,0,\n1,4,\n0.5,1,0,\n2,4,1,\n"
                    "1,-2,3,\n", CB_EFORMAT, ":8: expected 2 weights in row 0 of layer 0, found 3");
  expect_nnet_error("sizes.nnet", "2,2,2,3,\n2,3,3,\n" "0,\n", CB_EFORMAT,
                    ":2: layer sizes do not match header");
  expect_nnet_error("nsizes.nnet", "2,2,2,3,\n2,3,\n", CB_EFORMAT, ":2: expected 3 layer sizes, found 2");
  expect_nnet_error("after.nnet", "2,2,2,3,\n" TINY_BODY "junk\n", CB_EFORMAT,
                    ":18: unexpected content after the last bias");
  expect_nnet_error("inf.nnet", "2,2,2,3,\n2,3,2,\n0,\n-1,0,\n1,inf,\n", CB_EVALUE,
                    ":5: NaN or infinite value");
  expect_nnet_error("nanw.nnet", "2,2,2,3,\n2,3,2,\n0,\n-1,0,\n1,4,\n0.5,1,0,\n2,4,1,\n"
                    "NaN,-2,\n", CB_EVALUE, ":8: NaN or infinite value");
  expect_nnet_error("alpha.nnet", "2,2,2,3,\n2,3,2,\n0,\n-1,0,\n1,4,\n0.5,1,0,\n2,4,1,\n"
                    "1,2x,\n", CB_EFORMAT, ":8: non-numeric field \"2x\"");
  expect_nnet_error("empty.nnet", "2,2,2,3,\n2,3,2,\n0,\n-1,,\n", CB_EFORMAT, ":4: empty field");
}

/* More malformed .nnet files: truncation, junk, sizes, ranges. */
static void test_nnet_bad2(void **state)
{
  static const char trunc[] = "2,2,2,3,\n2,3,2,\n0,\n-1,0,\n1,4,\n0.5,1,0,\n2,4,1,\n"
                              "1,-2,\n0.5,0.25,\n-1,1,\n1,\n0,\n-1.5,\n1,1,1,\n-1,0,2,\n0.5,\n";
  (void)state;
  expect_nnet_error("t1.nnet", trunc, CB_EFORMAT, "unexpected end of file in layer 1 biases");
  expect_nnet_error("t2.nnet", "2,2,2,3,\n2,3,2,\n0,\n-1,0,\n1,4,\n0.5,1,0,\n2,4,1,\n1,2,\n",
                    CB_EFORMAT, "unexpected end of file in layer 0 weights");
  expect_nnet_error("t3.nnet", "// only a comment\n", CB_EFORMAT, "unexpected end of file in header");
  expect_nnet_error("t4.nnet", "2,2,2,3,\n2,3,2,\n0,\n-1,0,\n1,4,\n0.5,1,0,\n", CB_EFORMAT,
                    "unexpected end of file in ranges");
  expect_nnet_error("junk.nnet", "2,2,2,3,\n" TINY_BODY "\n1,\n", CB_EFORMAT,
                    ":19: unexpected content after the last bias");
  expect_nnet_error("absurd.nnet", "2,2,2,3,\n2,100000000,2,\n", CB_EFORMAT,
                    ":2: absurd layer size 100000000");
  expect_nnet_error("big.nnet", "2,2,2,9000000,\n2,9000000,9000000,2,\n", CB_EFORMAT,
                    ":2: expected 3 layer sizes, found 4");
  expect_nnet_error("overflow.nnet", "3,2,2,9000000,\n2,9000000,9000000,2,\n", CB_ENOMEM,
                    ":2: absurd network size (layer 1");
  expect_nnet_error("toolong.nnet", "1,2,2,3000,\n2,3000,\n", CB_EFORMAT,
                    ":2: layer sizes do not match header");
  expect_nnet_error("short.nnet2", "2,2,2,1000000,\n2,1000000,2,\n0,\n", CB_EFORMAT,
                    ":2: layer sizes need 5000002 parameters but the file has only");
  expect_nnet_error("frac.nnet", "2,2.5,2,3,\n", CB_EFORMAT, ":1: input size is 2.5, not a positive integer");
  expect_nnet_error("zero.nnet", "2,2,2,3,\n2,3,2,\n0,\n-1,0,\n1,4,\n0.5,1,0,\n2,0,1,\n",
                    CB_EVALUE, ":7: range of input 1 is zero");
  expect_nnet_error("minmax.nnet", "2,2,2,3,\n2,3,2,\n0,\n-1,5,\n1,4,\n", CB_EFORMAT,
                    ":5: input 1: minimum 5 exceeds maximum 4");
}

/* small.csv: 4 rows of 2 features, \r\n and spaces, a blank last line. */
static void test_csv_small(void **state)
{
  static const int lab[4] = { 0, 1, -3, 7 };
  static const double x[8] = { 0.5, -1, 2.25, 3e2, 0, 0.125, 1e-3, 4 };
  cb_error e = { CB_OK, "" };
  cb_data *d = NULL;
  (void)state;
  for (size_t n = 0; n <= 2; n += 2) {
    assert_int_equal(cb_data_load_csv(SMALL, n, &d, &e), CB_OK);
    assert_int_equal(cb_data_rows(d), 4);
    assert_int_equal(cb_data_cols(d), 2);
    for (size_t r = 0; r < 4; r++) {
      assert_int_equal(cb_data_label(d, r), lab[r]);
      assert_memory_equal(cb_data_x(d, r), x + 2 * r, 2 * sizeof(double));
    }
    cb_data_free(d);
  }
  cb_data_free(NULL);
  assert_int_equal(cb_data_rows(NULL), 0);
  assert_int_equal(cb_data_load_csv(SMALL, 3, &d, &e), CB_EFORMAT);
  assert_null(d);
  assert_non_null(strstr(e.msg, ":1: expected 4 columns (label + 3 features), found 3"));
}

/* NumPy's savetxt: a header line and labels in float notation; a label
   that is not integral is refused; binary files are refused by name. */
static void test_csv_numpy(void **state)
{
  const char *text = "label, x0, x1\n2.000000000000000000e+00,5.0e-01,2.5e-01\n-1.0e+00,1,2\n";
  const char npy[] = "\x93NUMPY\x01\x00v\x00{'descr': '<f8'";
  const char png[] = "\x89PNG\r\n\x1a\n";
  cb_error e = { CB_OK, "" };
  cb_data *d = NULL;
  (void)state;
  assert_int_equal(cb_data_load_csv(write_tmp("savetxt.csv", text, strlen(text)), 0, &d, &e), CB_OK);
  assert_int_equal(cb_data_rows(d), 2);
  assert_int_equal(cb_data_label(d, 0), 2);
  assert_int_equal(cb_data_label(d, 1), -1);
  assert_true(cb_data_x(d, 0)[1] == 0.25);
  cb_data_free(d);
  assert_int_equal(cb_data_load_csv(write_tmp("half.csv", "2.5,1,2\n", 8), 0, &d, &e), CB_EFORMAT);
  assert_non_null(strstr(e.msg, "label \"2.5\" is not an integer"));
  memset(&e, 0, sizeof e);
  assert_int_equal(cb_data_load_csv(write_tmp("hdr2.csv", "1,2\nlabel,x\n", 12), 0, &d, &e), CB_EFORMAT);  /* a header only on line 1 */
  memset(&e, 0, sizeof e);
  assert_int_equal(cb_data_load_csv(write_tmp("x.npy", npy, sizeof npy - 1), 0, &d, &e), CB_EFORMAT);
  assert_non_null(strstr(e.msg, "this is a NumPy .npy file, not CSV text"));
  memset(&e, 0, sizeof e);
  assert_int_equal(cb_data_load_csv(write_tmp("x.png", png, sizeof png - 1), 0, &d, &e), CB_EFORMAT);
  assert_non_null(strstr(e.msg, "this is a PNG image"));
  assert_null(d);
}

/* A CSV larger than the first growth step, with long lines. */
static void test_csv_grow(void **state)
{
  enum { ROWS = 300, COLS = 40 };
  static char text[ROWS * (COLS * 8 + 8)];
  size_t k = 0;
  cb_error e = { CB_OK, "" };
  cb_data *d = NULL;
  (void)state;
  for (int r = 0; r < ROWS; r++) {
    k += (size_t)snprintf(text + k, sizeof text - k, "%d", r % 10);
    for (int c = 0; c < COLS; c++) k += (size_t)snprintf(text + k, sizeof text - k, ",%d.5", r + c);
    k += (size_t)snprintf(text + k, sizeof text - k, "\n");
  }
  assert_int_equal(cb_data_load_csv(write_tmp("grow.csv", text, k), 0, &d, &e), CB_OK);
  assert_int_equal(cb_data_rows(d), ROWS);
  assert_int_equal(cb_data_cols(d), COLS);
  assert_true(cb_data_x(d, ROWS - 1)[COLS - 1] == ROWS - 1 + COLS - 1 + 0.5);
  assert_int_equal(cb_data_label(d, 123), 3);
  cb_data_free(d);
}

/* Malformed CSV files: status, line and the quoted field in the message. */
static void test_csv_bad(void **state)
{
  (void)state;
  expect_csv_error("cols.csv", "0,1,2\n1,1,2,3\n", 0, CB_EFORMAT,
                   ":2: expected 3 columns (label + 2 features), found 4");
  expect_csv_error("cols2.csv", "0,1,2\n1,1\n", 2, CB_EFORMAT,
                   ":2: expected 3 columns (label + 2 features), found 2");
  expect_csv_error("alpha.csv", "0,1,2\n1, 1 ,abc\n", 0, CB_EFORMAT,
                   ":2: non-numeric field \"abc\" in column 3 (feature 1)");
  expect_csv_error("space.csv", "0,1 2,2\n", 0, CB_EFORMAT, ":1: non-numeric field \"1 2\"");
  expect_csv_error("nan.csv", "0,1,2\r\n1,nan,0\r\n", 0, CB_EVALUE,
                   ":2: NaN or infinite value \"nan\" in column 2");
  expect_csv_error("inf.csv", "0,1,1e999\n", 0, CB_EVALUE, ":1: NaN or infinite value \"1e999\"");
  expect_csv_error("empty.csv", "", 0, CB_EFORMAT, "empty file, no samples");
  expect_csv_error("blanks.csv", "\n \n\r\n", 0, CB_EFORMAT, "empty file, no samples");
  expect_csv_error("middle.csv", "0,1,2\n\n1,1,2\n", 0, CB_EFORMAT, ":2: blank line in the middle");
  expect_csv_error("label.csv", "0,1,2\n1.5,1,2\n", 0, CB_EFORMAT, ":2: label \"1.5\" is not an integer");
  expect_csv_error("label2.csv", "x,1,2\n", 0, CB_EFORMAT, ":1: label \"x\" is not an integer");
  expect_csv_error("label3.csv", "0,1,2\n99999999999,1,2\n", 0, CB_EVALUE,
                   ":2: label \"99999999999\" does not fit in an int");
  expect_csv_error("field.csv", "0,1,,2\n", 0, CB_EFORMAT, ":1: empty field in column 3");
  expect_csv_error("trail.csv", "0,1,2,\n", 0, CB_EFORMAT, ":1: empty field in column 4");
  expect_csv_error("nofeat.csv", "3\n", 0, CB_EFORMAT, ":1: no features after the label");
}

/* Missing files are CB_EIO for both loaders; cb_argmax takes the first max. */
static void test_eio_argmax(void **state)
{
  static const double v[5] = { 1, 3, -2, 3, 0 };
  static const double w[3] = { NAN, -1, NAN };
  cb_error e = { CB_OK, "" };
  cb_net *net = NULL;
  cb_data *d = NULL;
  (void)state;
  assert_int_equal(nnet_load("tests/data/no_such_file.nnet", &net, &e), CB_EIO);
  assert_non_null(strstr(e.msg, "tests/data/no_such_file.nnet: cannot open"));
  cb_error_clear(&e);
  assert_int_equal(cb_data_load_csv("tests/data/no_such_file.csv", 0, &d, &e), CB_EIO);
  assert_null(net);
  assert_null(d);
  assert_int_equal(cb_argmax(v, 5), 1);
  assert_int_equal(cb_argmax(v, 1), 0);
  assert_int_equal(cb_argmax(v, 0), 0);
  assert_int_equal(cb_argmax(w, 3), 1);
}

/* Failing allocator: every k either loads or fails with CB_ENOMEM and a message. */
static void test_alloc_fail_sweep(void **state)
{
  int n_fail = 0, n_ok = 0;
  (void)state;
  for (long k = 0; k < 64; k++) {
    cb_error e1 = { CB_OK, "" }, e2 = { CB_OK, "" };
    cb_net *net = NULL;
    cb_data *d = NULL;
    int r1, r2;
    cb_alloc_fail_after(k);
    r1 = nnet_load(TINY, &net, &e1);
    cb_alloc_fail_after(k);
    r2 = cb_data_load_csv(SMALL, 0, &d, &e2);
    cb_alloc_fail_after(-1);
    assert_true(r1 == CB_OK || r1 == CB_ENOMEM);
    assert_true(r2 == CB_OK || r2 == CB_ENOMEM);
    assert_true(r1 == CB_OK ? net != NULL : net == NULL && e1.msg[0]);
    assert_true(r2 == CB_OK ? d != NULL : d == NULL && e2.msg[0]);
    n_fail += (r1 != CB_OK) + (r2 != CB_OK);
    n_ok += (r1 == CB_OK) + (r2 == CB_OK);
    cb_net_free(net);
    cb_data_free(d);
  }
  assert_true(n_fail > 0);
  assert_true(n_ok > 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_nnet_acas),
    cmocka_unit_test(test_nnet_tiny),
    cmocka_unit_test(test_nnet_variants),
    cmocka_unit_test(test_nnet_bad),
    cmocka_unit_test(test_nnet_bad2),
    cmocka_unit_test(test_csv_small),
    cmocka_unit_test(test_csv_numpy),
    cmocka_unit_test(test_csv_grow),
    cmocka_unit_test(test_csv_bad),
    cmocka_unit_test(test_eio_argmax),
    cmocka_unit_test(test_alloc_fail_sweep),
  };
  return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
