/*
** PyTorch exports of the elementwise activations (tests/data/torch_elem/,
** made by tests/data/gen_torch_elem.py with python3-torch 1.13): a GELU MLP
** (torch's Erf decomposition), a SiLU CNN (Sigmoid then Mul), the opset-20
** Gelu op (exact and tanh), and HardSwish / PRelu per channel / Abs / Pow /
** Sqrt / Log / Reciprocal / Neg, and a Conv1d net (Conv1d, MaxPool1d,
** AvgPool1d on [1,C,L] as 2-D windows of height 1), a CNN with a nearest
** Upsample (Resize) and HardSwish, and torch's tanh-GELU decomposition.  Each loads into the activation kinds
** listed in NAME.kinds (the patterns were recognised, not refused), its
** forward pass matches torch's float64 outputs to 1e-6 relative, and IBP,
** CROWN, CROWN-IBP and alpha-CROWN bounds on an L-inf ball around the first
** row hold 500 sampled points (corners and inside) with zero tolerance.
** The exact evaluator's enclosure at every row holds the forward output.
** The same checks run on tests/data/attn/ (attention nets, gen_attn.py).
*/
#include <math.h>
#include "testutil.h"
#include "bounds.h"
#include "exact.h"

static uint64_t seed = 77;
/* Width allowed for the exact evaluator's enclosure, relative: the ViT's
   LayerNorms divide by standard deviations near sqrt(eps) and its softmaxes
   compound the libm error rules over 186 nodes (measured 7.4e-6). */
static double exact_width = 1e-9;
/* How far (relative) the double forward pass may lie outside the exact
   enclosure: 0, except for the Resize and held-out nets (piecewise-linear
   with exact parameters): their enclosure is a few ulps wide, narrower than
   the forward pass's own rounding of a dot product (measured 2.5e-16
   relative). */
static double fwd_slack = 0;
/* The ball's radius, the methods (from ms[]: first m0), and alpha-CROWN's
   iterations (0: its default) of check_bounds; the ViT overrides them (IBP
   on it is finite only at radii near 1e-7, alpha-CROWN takes minutes). */
static double bound_eps = 0.05;
static int m0 = 0, a_iters = 0;

static void check_kinds(const char *dir, const char *base, const cb_net *net)
{
  char p[1024], line[256], *tok, *save = NULL;
  FILE *f;
  snprintf(p, sizeof p, "%s/%s.kinds", dir, base);
  f = fopen(p, "r");
  assert_non_null(f);
  assert_non_null(fgets(line, sizeof line, f));
  fclose(f);
  for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
    int found = 0;
    for (int i = 0; i < net->n; i++) found |= !strcmp(node_kind_name(&net->node[i]), tok);
    if (!found) fail_msg("%s: no %s node after loading", base, tok);
  }
}

static void check_bounds(const char *base, const cb_net *net, const double *x0)
{
  static const cb_method ms[4] = {CB_IBP, CB_CROWN, CB_CROWN_IBP, CB_ALPHA_CROWN};
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
  double *I = calloc(no * no, sizeof *I), *lb = malloc(no * sizeof *lb), *ub = malloc(no * sizeof *ub);
  double *x = malloc(n * sizeof *x), *y = malloc(no * sizeof *y), eps = bound_eps;
  cb_set ball = {CB_NORM_INF, eps, n, x0, NULL, NULL};
  cb_error err = {0};
  cb_bnet bn;
  cb_ws *ws;
  for (size_t k = 0; k < no; k++) I[k * no + k] = 1;
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  ws = ws_new(&bn, &ball, &err);
  assert_non_null(ws);
  ws->alpha_iters = a_iters;
  for (int m = m0; m < 4; m++) {
    if (m0 && ms[m] == CB_CROWN_IBP) continue;
    if (bounds_run(ws, ms[m], &err) != CB_OK || bounds_spec(ws, I, no, lb, ub, &err) != CB_OK)
      fail_msg("%s %s: %s", base, bounds_method_name(ms[m]), err.msg);
    for (int t = 0; t < 500; t++) {
      for (size_t j = 0; j < n; j++) x[j] = x0[j] + (t % 2 ? eps * (2 * urand(&seed) - 1) : (urand(&seed) < 0.5 ? -eps : eps));
      assert_int_equal(cb_net_forward(net, x, 1, y, &err), CB_OK);
      for (size_t k = 0; k < no; k++)
        if (!(y[k] >= lb[k] && y[k] <= ub[k]))
          fail_msg("%s %s: output %zu = %.17g outside [%.17g, %.17g]", base, bounds_method_name(ms[m]), k, y[k], lb[k], ub[k]);
    }
    printf("  %-16s %-11s eps %g width of output 0: %.4g\n", base, bounds_method_name(ms[m]), eps, ub[0] - lb[0]);
  }
  ws_free(ws);
  bnet_free(&bn);
  free(I); free(lb); free(ub); free(x); free(y);
}

/* The exact evaluator's enclosure (src/exact.c: the new activations through
   act_shape_range) holds torch's output and the double forward pass at every
   row, and is narrow (1e-9 relative). */
static void check_exact(const char *base, const cb_net *net, const cb_data *x, const cb_data *want, const double *y)
{
  size_t no = cb_net_output_size(net);
  cb_error err = {0};
  for (size_t r = 0; r < cb_data_rows(x); r++) {
    cb_exact *E = NULL;
    if (exact_eval(net, cb_data_x(x, r), &E, &err) != CB_OK) fail_msg("%s exact: %s", base, err.msg);
    for (size_t k = 0; k < no; k++) {
      double lo, hi, w = cb_data_x(want, r)[k], v = y[r * no + k];
      exact_output(E, k, &lo, &hi);
      double sl = fwd_slack * fmax(1, fabs(v));
      if (!(lo - sl <= v && v <= hi + sl) || hi - lo > exact_width * fmax(1, fabs(v)))
        fail_msg("%s exact: row %zu output %zu: forward %.17g, enclosure [%.17g, %.17g]", base, r, k, v, lo, hi);
      if (!(fabs(w - v) <= 1e-6 * fmax(fabs(w), 1e-3))) fail_msg("%s: torch %.17g", base, w);
    }
    exact_free(E);
  }
}

static int check_net(const char *dir, const char *file)
{
  char p[1024], base[512];
  cb_net *net;
  cb_data *x, *want;
  double *y, worst = 0;
  size_t no;
  snprintf(base, sizeof base, "%.*s", (int)(strlen(file) - 5), file);
  snprintf(p, sizeof p, "%s/%s", dir, file);
  net = must_load(p);
  check_kinds(dir, base, net);
  snprintf(p, sizeof p, "%s/%s.in.csv", dir, base);
  x = must_csv(p, cb_net_input_size(net));
  snprintf(p, sizeof p, "%s/%s.out.csv", dir, base);
  no = cb_net_output_size(net);
  want = must_csv(p, no);
  assert_int_equal(cb_data_rows(x), cb_data_rows(want));
  y = forward_rows(net, x);
  for (size_t r = 0; r < cb_data_rows(x); r++)
    for (size_t k = 0; k < no; k++) {
      double w = cb_data_x(want, r)[k], d = fabs(y[r * no + k] - w) / fmax(fabs(w), 1e-3);
      if (d > worst) worst = d;
    }
  printf("%-20s %2d nodes  max rel. error vs torch %.2g\n", base, net->n, worst);
  if (worst > 1e-6) fail_msg("%s: forward differs from torch's float64 outputs by %g", base, worst);
  check_exact(base, net, x, want, y);
  if (!strcmp(base, "vit_digits")) {   /* all four at 1e-7; CROWN and alpha-CROWN (3 iterations) at 1e-3 */
    double e0 = bound_eps;
    bound_eps = 1e-7; a_iters = 3;
    check_bounds(base, net, cb_data_x(x, 0));
    bound_eps = 1e-3; m0 = 1;
    check_bounds(base, net, cb_data_x(x, 0));
    bound_eps = e0; m0 = 0; a_iters = 0;
  } else
    check_bounds(base, net, cb_data_x(x, 0));
  free(y);
  cb_data_free(x);
  cb_data_free(want);
  cb_net_free(net);
  return 1;
}

static void test_torch_elem(void **st)
{
  int n = each_onnx("tests/data/torch_elem", check_net);
  (void)st;
  printf("%d torch nets checked\n", n);
  assert_true(n >= 8);
}

/*
** Issue 19 acceptance 3, side by side with recorded auto_LiRPA 0.5.0 margin
** lower bounds (tests/data/attn/NET.alirpa.json, written by
** bench/attn_vs_alirpa.py --write-ref): cerbere's CROWN margins on every
** recorded row, alpha-CROWN's on the first arows rows (all 8 of attn_block:
** 0.3 s per row; aiters iterations, 0 = the automatic count).  Prints the worst amount by
** which we are looser (> 0) per cell and whether it is within the
** acceptance's 1e-4; fails if any is looser by more than 2.5e-3 (what we
** measured, 2e-3 at worst, with room for libm differences): a guard, not
** the acceptance, which is not met yet (bench/RESULTS.md).
*/
static void vs_alirpa_in(const char *dir, const char *name, double guard, double (*aguard)(double), size_t arows, int aiters)
{
  char p[512];
  cJSON *J;
  const cJSON *b, *labels;
  cb_net *net;
  cb_data *x;
  cb_bnet bn;
  cb_error err = {0};
  size_t no, n;
  snprintf(p, sizeof p, "%s/%s.alirpa.json", dir, name);
  J = load_json(p);
  assert_non_null(J);
  snprintf(p, sizeof p, "%s/%s.onnx", dir, name);
  net = must_load(p);
  no = cb_net_output_size(net);
  n = cb_net_input_size(net);
  snprintf(p, sizeof p, "%s/%s.in.csv", dir, name);
  x = must_csv(p, n);
  labels = cJSON_GetObjectItem(J, "labels");
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  cJSON_ArrayForEach(b, cJSON_GetObjectItem(J, "bounds")) {
    double eps = cJSON_GetObjectItem(b, "eps")->valuedouble, worst = -HUGE_VAL, sum = 0;
    size_t nm = 0, nloose = 0;
    int alpha = !strcmp(cJSON_GetObjectItem(b, "method")->valuestring, "alpha-crown");
    const cJSON *rows = cJSON_GetObjectItem(b, "margin_lb");
    size_t nr = (size_t)cJSON_GetArraySize(rows);
    if (alpha && nr > arows) nr = arows;
    for (size_t r = 0; r < nr; r++) {
      int lab = cJSON_GetArrayItem(labels, (int)r)->valueint;
      double *C = calloc((no - 1) * no, sizeof *C), *lb = malloc(no * sizeof *lb);
      cb_set ball = {CB_NORM_INF, eps, n, cb_data_x(x, r), NULL, NULL};
      cb_ws *ws = ws_new(&bn, &ball, &err);
      size_t q = 0;
      assert_non_null(ws);
      ws->alpha_iters = aiters;
      for (size_t j = 0; j < no; j++)
        if ((int)j != lab) { C[q * no + (size_t)lab] = 1; C[q * no + j] = -1; q++; }
      if (bounds_run(ws, alpha ? CB_ALPHA_CROWN : CB_CROWN, &err) != CB_OK || bounds_spec(ws, C, q, lb, NULL, &err) != CB_OK)
        fail_msg("%s: %s", name, err.msg);
      for (size_t k = 0; k < q; k++) {
        double a = cJSON_GetArrayItem(cJSON_GetArrayItem(rows, (int)r), (int)k)->valuedouble;
        if (a - lb[k] > worst) worst = a - lb[k];
        sum += lb[k] - a;
        nm++;
        nloose += a - lb[k] > 1e-4;
      }
      ws_free(ws);
      free(C); free(lb);
    }
    if (!nr) continue;
    printf("  %-10s %-11s eps %.3f: %zu rows%s, worst (auto_LiRPA - cerbere) margin lb %+.3g: %s; mean (cerbere - "
           "auto_LiRPA) %+.3g, %zu of %zu margins looser by > 1e-4\n", name, alpha ? "alpha-crown" : "crown", eps, nr,
           alpha && aiters ? " (few iterations)" : "", worst,
           worst <= 1e-4 ? "within 1e-4" : "LOOSER than 1e-4", sum / (double)nm, nloose, nm);
    if (worst > (alpha ? aguard(eps) : guard))
      fail_msg("%s %s eps %g: looser than auto_LiRPA by %g", name, alpha ? "alpha-crown" : "crown", eps, worst);
  }
  bnet_free(&bn);
  cb_data_free(x);
  cb_net_free(net);
  cJSON_Delete(J);
}

/* attn_block's alpha-CROWN: session 11 (xfmr6) worst 1.7e-4 at eps 0.01, 1.8e-3 at 0.03;
   with the products' McCormick planes and Exp's tangent points optimised (session 12,
   vitalpha) 2.6e-5 and 3.3e-4 (gated, row 0: 1.1e-4).  eps 0.01 is within the acceptance's
   1e-4; eps 0.03 guards at 5e-4 (a regression guard, not the acceptance). */
static double attn_alpha_guard(double eps) { return eps < 0.02 ? 1e-4 : 5e-4; }
static void vs_alirpa(const char *name, size_t arows) { vs_alirpa_in("tests/data/attn", name, 2.5e-3, attn_alpha_guard, arows, 0); }

static void test_attn_vs_alirpa(void **st)
{
  (void)st;
  vs_alirpa("attn_block", 8);
  vs_alirpa("gated", 1);
}

/* The tiny ViT (tests/data/vit/vit_digits.alirpa.json, bench/vit_vs_alirpa.py
   --write-ref): CROWN margins on the 8 recorded rows at eps 0.001 and 0.003
   against auto_LiRPA 0.5.0's.  With the softmax's product form in CROWN's
   backward passes (crown.c back_softmax; before, only intersected into its
   box: 8 of 72 margins looser at eps 0.001, by up to 4.1e-4), every margin
   is at least as tight at both radii (bench/RESULTS.md): the test fails
   beyond the acceptance's 1e-4 (issue 19, acceptance 3). */
/* alpha-CROWN (row 0, 2 iterations: ours takes 21-27 s per ViT row at its 40):
   2 iterations are CROWN's bound (worst 1.6e-3 at eps 0.001, 4.3e-2 at 0.003),
   so these guards catch a regression only.  At 40 iterations, with the
   products' planes and Exp's tangents optimised (session 12, bench/RESULTS.md):
   rows 0-2 worst -1.2e-4 at eps 0.001 (every margin tighter) and +4.3e-3 (7
   of 27 margins looser than 1e-4) at 0.003, before +6.5e-3 and +4.3e-2. */
static double vit_alpha_guard(double eps) { return eps < 0.002 ? 2.5e-3 : 6e-2; }

static void test_vit_vs_alirpa(void **st)
{
  (void)st;
  vs_alirpa_in("tests/data/vit", "vit_digits", 1e-4, vit_alpha_guard, 1, 2);
}

/* tests/data/attn/ (tests/data/gen_attn.py): a 2-layer attention block
   (2 heads, q k^T / sqrt d, Softmax inside the net, a @ v, residual, ReLU
   MLP) and products / quotients of activations with a LogSoftmax, through
   the same checks. */
static void test_attn(void **st)
{
  int n = each_onnx("tests/data/attn", check_net);
  (void)st;
  printf("%d attention nets checked\n", n);
  assert_true(n >= 2);
}

/* tests/data/resize/ (tests/data/gen_resize.py): Resize in linear mode
   (bilinear) as torch exports F.interpolate and nn.Upsample: align_corners
   (scale 2 and sizes), pytorch_half_pixel (sizes 4 -> 7, scales 1.5 and 2),
   and the same nets with the attribute set to asymmetric and half_pixel
   (reference outputs from the generator's own rational implementation,
   checked there against torch); forward within 1e-6 of the float64
   reference, the exact enclosure, all four bound methods at zero
   tolerance.  Each net must load its Resize as one AFFINE node. */
static int check_resize(const char *dir, const char *file)
{
  char p[1024];
  cb_net *net;
  int found = 0;
  snprintf(p, sizeof p, "%s/%s", dir, file);
  net = must_load(p);
  for (int i = 0; i < net->n; i++) found += net->node[i].kind == CB_AFFINE && !strcmp(net->node[i].op, "Resize");
  if (found != 1) fail_msg("%s: %d AFFINE nodes from a Resize, 1 expected", file, found);
  cb_net_free(net);
  return check_net(dir, file);
}

static void test_resize(void **st)
{
  int n;
  (void)st;
  fwd_slack = 1e-14;
  n = each_onnx("tests/data/resize", check_resize);
  fwd_slack = 0;
  printf("%d resize nets checked\n", n);
  assert_true(n >= 8);
}

/* tests/data/upsample/ (tests/data/gen_upsample.py): the ONNX Upsample op
   as torch exports it at opsets 7 and 8 (scales attribute) and 9 (constant
   scales input), nearest (scales 2 and 3) and linear (asymmetric, ONNX's
   meaning; reference from the generator's rational implementation): the
   same checks as the Resize nets, and each net loads its Upsample as one
   AFFINE node. */
static int check_upsample(const char *dir, const char *file)
{
  char p[1024];
  cb_net *net;
  int found = 0;
  snprintf(p, sizeof p, "%s/%s", dir, file);
  net = must_load(p);
  for (int i = 0; i < net->n; i++) found += net->node[i].kind == CB_AFFINE && !strcmp(net->node[i].op, "Upsample");
  if (found != 1) fail_msg("%s: %d AFFINE nodes from an Upsample, 1 expected", file, found);
  cb_net_free(net);
  return check_net(dir, file);
}

static void test_upsample(void **st)
{
  int n;
  (void)st;
  fwd_slack = 1e-14;
  n = each_onnx("tests/data/upsample", check_upsample);
  fwd_slack = 0;
  printf("%d upsample nets checked\n", n);
  assert_true(n >= 5);
}

/* tests/data/heldout/ (tests/data/gen_heldout.py, issue 19 acceptance 1's
   held-out set): a CNN with BatchNorm (fused by torch), a residual Add, a
   Softmax head and NHWC input, dynamic batch, exported at opsets 11 to 17:
   every one loads and predicts torch's float64 logits within 1e-6, with
   the same exact-enclosure and bound checks.  cnn_bn_kept_op9/op15 are the
   same model exported with training=PRESERVE, which keeps torch's two
   BatchNormalization nodes (eval mode): each must load as a node of its own. */
static int check_heldout(const char *dir, const char *file)
{
  if (!strncmp(file, "cnn_bn_kept", 11)) {
    char p[1024];
    cb_net *net;
    int found = 0;
    snprintf(p, sizeof p, "%s/%s", dir, file);
    net = must_load(p);
    for (int i = 0; i < net->n; i++) found += !strcmp(net->node[i].op, "BatchNormalization");
    cb_net_free(net);
    if (found != 2) fail_msg("%s: %d nodes from a BatchNormalization, 2 expected", file, found);
  }
  return check_net(dir, file);
}

static void test_heldout(void **st)
{
  int n;
  (void)st;
  fwd_slack = 1e-14;
  n = each_onnx("tests/data/heldout", check_heldout);
  fwd_slack = 0;
  printf("%d held-out exports checked\n", n);
  assert_true(n >= 9);
}

/* tests/data/vit/ (tests/data/gen_vit.py): the tiny ViT trained on the 8x8
   digits (opset-17 LayerNormalization, CLS token Concat of a parameter and
   Gather, Conv patches, 2 blocks of 2-head attention and GELU MLP) and
   ln_ops (the decomposed LayerNorm export, ReduceSum/Mean over two axes,
   ReduceL2, Slice, Gather, Expand, Where with a constant mask, broadcasting
   Sub, Concat with a constant), through the same checks. */
static void test_vit(void **st)
{
  int n;
  (void)st;
  exact_width = 1e-4;
  n = each_onnx("tests/data/vit", check_net);
  exact_width = 1e-9;
  printf("%d transformer nets checked\n", n);
  assert_true(n >= 2);
}

int main(void)
{
  const struct CMUnitTest tests[] = { cmocka_unit_test(test_torch_elem), cmocka_unit_test(test_resize), cmocka_unit_test(test_upsample), cmocka_unit_test(test_heldout), cmocka_unit_test(test_attn), cmocka_unit_test(test_vit), cmocka_unit_test(test_vit_vs_alirpa),
                                        cmocka_unit_test(test_attn_vs_alirpa) };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
