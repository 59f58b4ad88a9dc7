/*
** Forward pass against hand-computed tiny networks, one per node kind.
** The table has one entry per kind (checked at compile time), so a new kind
** without a forward oracle breaks the build: the "forward" column of the
** kind x transformer completeness table.
*/
#include <math.h>
#include "testutil.h"

typedef struct { cb_net *net; double x[16]; double want[16]; } tiny;

static int add1(cb_net *net, cb_kind k, int in, int rank, const int64_t *dims)
{
  cb_shape s;
  cb_error err = {0};
  int idx;
  shape_set(&s, rank, dims);
  idx = net_add(net, k, cb_kind_info[k].name, "test", &in, in < 0 ? 0 : 1, &s, &err);
  assert_true(idx >= 0);
  return idx;
}

static cb_net *with_input(int rank, const int64_t *dims)
{
  cb_net *net = net_new("tiny", "test");
  cb_shape s;
  cb_error err = {0};
  shape_set(&s, rank, dims);
  assert_int_equal(net_add(net, CB_INPUT, "x", "Input", NULL, 0, &s, &err), 0);
  return net;
}

static const int64_t d2[] = {1, 2}, d3x3[] = {1, 1, 3, 3};

static void k_input(tiny *t) { t->net = with_input(2, d2); t->x[0] = 3; t->x[1] = -4; t->want[0] = 3; t->want[1] = -4; }

static void k_affine(tiny *t)
{
  static const double W[] = {1, 2, 3, 4}, b[] = {1, -1};
  cb_node *n;
  t->net = with_input(2, d2);
  n = &t->net->node[add1(t->net, CB_AFFINE, 0, 2, d2)];
  n->p.aff.out = n->p.aff.in = 2;
  n->p.aff.W = (double *)W; n->p.aff.b = (double *)b;
  t->x[0] = 1; t->x[1] = 1; t->want[0] = 4; t->want[1] = 6;
}

static void k_scale(tiny *t)
{
  static const double a[] = {2, -1}, b[] = {0.5, 0};
  cb_node *n;
  t->net = with_input(2, d2);
  n = &t->net->node[add1(t->net, CB_SCALE, 0, 2, d2)];
  n->p.scale.a = (double *)a; n->p.scale.b = (double *)b;
  t->x[0] = 1; t->x[1] = 2; t->want[0] = 2.5; t->want[1] = -2;
}

/* 3x3 image 1..9, 2x2 ones kernel, stride 2, pad 1: windows sum 1, 2+3, 4+7, 5+6+8+9. */
static void k_conv(tiny *t)
{
  static const double W[] = {1, 1, 1, 1}, b[] = {0.5};
  static const int64_t o[] = {1, 1, 2, 2};
  cb_node *n;
  t->net = with_input(4, d3x3);
  n = &t->net->node[add1(t->net, CB_CONV, 0, 4, o)];
  n->p.conv.g = (cb_conv){.cin = 1, .hin = 3, .win = 3, .cout = 1, .hout = 2, .wout = 2, .kh = 2, .kw = 2,
                          .sh = 2, .sw = 2, .pt = 1, .pl = 1, .pb = 1, .pr = 1, .dh = 1, .dw = 1, .groups = 1};
  n->p.conv.W = (double *)W; n->p.conv.b = (double *)b;
  for (int i = 0; i < 9; i++) t->x[i] = i + 1;
  t->want[0] = 1.5; t->want[1] = 5.5; t->want[2] = 11.5; t->want[3] = 28.5;
}

static void k_add(tiny *t)
{
  int in[2] = {0, 0};
  cb_shape s;
  cb_error err = {0};
  t->net = with_input(2, d2);
  shape_set(&s, 2, d2);
  assert_true(net_add(t->net, CB_ADD, "add", "Add", in, 2, &s, &err) == 1);
  t->x[0] = 1.5; t->x[1] = -2; t->want[0] = 3; t->want[1] = -4;
}

/* x .* x of x = [[1.5, -2]] -> [2.25, 4]. */
static void k_mul(tiny *t)
{
  int in[2] = {0, 0};
  cb_shape s;
  cb_error err = {0};
  t->net = with_input(2, d2);
  shape_set(&s, 2, d2);
  assert_true(net_add(t->net, CB_MUL, "mul", "Mul", in, 2, &s, &err) == 1);
  t->x[0] = 1.5; t->x[1] = -2; t->want[0] = 2.25; t->want[1] = 4;
}

/* concat([x, relu(x)], axis 1) of x = [[-1, 2]] -> [-1, 2, 0, 2]. */
static void k_concat(tiny *t)
{
  static const int64_t d4[] = {1, 4};
  int in[2] = {0, 1}, idx;
  cb_shape s;
  cb_error err = {0};
  t->net = with_input(2, d2);
  { cb_error e2 = {0}; net_add_act(t->net, CB_ACT_RELU, "relu", "test", 0, &e2); }
  shape_set(&s, 2, d4);
  idx = net_add(t->net, CB_CONCAT, "cat", "Concat", in, 2, &s, &err);
  t->net->node[idx].p.concat.axis = 1;
  t->x[0] = -1; t->x[1] = 2;
  t->want[0] = -1; t->want[1] = 2; t->want[2] = 0; t->want[3] = 2;
}

static void k_reshape(tiny *t)
{
  static const int64_t d[] = {2, 1};
  t->net = with_input(2, d2);
  add1(t->net, CB_RESHAPE, 0, 2, d);
  t->x[0] = 7; t->x[1] = 8; t->want[0] = 7; t->want[1] = 8;
}

/* [1,2,3] -> perm (0,2,1) -> [1,3,2]: y[0,j,i] = x[0,i,j]. */
static void k_transpose(tiny *t)
{
  static const int64_t di[] = {1, 2, 3}, dout[] = {1, 3, 2};
  cb_node *n;
  t->net = with_input(3, di);
  n = &t->net->node[add1(t->net, CB_TRANSPOSE, 0, 3, dout)];
  n->p.transpose.perm[0] = 0; n->p.transpose.perm[1] = 2; n->p.transpose.perm[2] = 1;
  for (int i = 0; i < 6; i++) t->x[i] = i;      /* x = [[0,1,2],[3,4,5]] */
  t->want[0] = 0; t->want[1] = 3; t->want[2] = 1; t->want[3] = 4; t->want[4] = 2; t->want[5] = 5;
}

static void act(tiny *t, cb_act a, double x0, double x1, double w0, double w1)
{
  cb_node *n;
  cb_error err = {0};
  t->net = with_input(2, d2);
  n = &t->net->node[net_add_act(t->net, a, cb_act_table[a].name, "test", 0, &err)];
  if (a == CB_ACT_LEAKY_RELU) n->p.act.alpha = 0.1;
  if (a == CB_ACT_ELU) n->p.act.alpha = 0.5;
  if (a == CB_ACT_CLIP) { n->p.act.lo = 0; n->p.act.hi = 6; }
  if (a == CB_ACT_HARD_SIGMOID) { n->p.act.alpha = 0.2; n->p.act.beta = 0.5; }
  if (a == CB_ACT_SELU) { n->p.act.alpha = 1.5; n->p.act.gamma = 2; }
  if (a == CB_ACT_POW) n->p.act.alpha = 3;
  t->x[0] = x0; t->x[1] = x1; t->want[0] = w0; t->want[1] = w1;
}

static void k_relu(tiny *t) { act(t, CB_ACT_RELU, -3, 2, 0, 2); }
static void k_leaky(tiny *t) { act(t, CB_ACT_LEAKY_RELU, -3, 2, -0.3, 2); }
static void k_sigmoid(tiny *t) { act(t, CB_ACT_SIGMOID, 0, -800, 0.5, 0); }
static void k_tanh(tiny *t) { act(t, CB_ACT_TANH, 0, 1, 0, tanh(1.0)); }
static void k_clip(tiny *t) { act(t, CB_ACT_CLIP, -1, 7, 0, 6); }
static void k_elu(tiny *t) { act(t, CB_ACT_ELU, -1, 2, 0.5 * expm1(-1.0), 2); }
/* log(1 + e^0) = log 2; at 1000 the naive log(1 + exp(x)) overflows, softplus is x + 0. */
static void k_softplus(tiny *t) { act(t, CB_ACT_SOFTPLUS, 0, 1000, log(2.0), 1000); }
static void k_exp(tiny *t) { act(t, CB_ACT_EXP, 0, -800, 1, 0); }
static void k_erf(tiny *t) { act(t, CB_ACT_ERF, 1, -30, 0.84270079294971487, -1); }   /* erf(1) (A&S 7.1) */
static void k_softsign(tiny *t) { act(t, CB_ACT_SOFTSIGN, -3, 1, -0.75, 0.5); }
static void k_selu(tiny *t) { act(t, CB_ACT_SELU, -1, 2, 3 * expm1(-1.0), 4); }   /* 2 (1.5 (e^-1 - 1)), 2 * 2 */
static void k_hsig(tiny *t) { act(t, CB_ACT_HARD_SIGMOID, 1, 5, 0.7, 1); }   /* 0.2 + 0.5; clipped at 1 */
/* Values at 40 digits (mpmath): x / (1 + e^-x); x Phi(x); the tanh form. */
static void k_silu(tiny *t) { act(t, CB_ACT_SILU, 1, -40, 0.73105857863000487925, -1.6993417021166355909e-16); }
static void k_gelu(tiny *t) { act(t, CB_ACT_GELU, 1, -10, 0.84134474606854294859, -7.619853024160526066e-23); }
static void k_gelu_tanh(tiny *t) { act(t, CB_ACT_GELU_TANH, 1, -3, 0.84119199060827670478, -0.0036373920817730188378); }
static void k_hswish(tiny *t) { act(t, CB_ACT_HARD_SWISH, 1, -4, 2.0 / 3, 0); }   /* 1 (1/6 + 1/2); 0 below -3 */
static void k_abs(tiny *t) { act(t, CB_ACT_ABS, -3, 2, 3, 2); }
static void k_log(tiny *t) { act(t, CB_ACT_LOG, 1, 2, 0, 0.69314718055994530942); }
static void k_pow(tiny *t) { act(t, CB_ACT_POW, -2, 1.5, -8, 3.375); }   /* x^3 */

/* 3x3 image 1..9, 2x2 window stride 1 -> [5, 6, 8, 9]. */
static void k_maxpool(tiny *t)
{
  static const int64_t o[] = {1, 1, 2, 2};
  cb_node *n;
  t->net = with_input(4, d3x3);
  n = &t->net->node[add1(t->net, CB_MAXPOOL, 0, 4, o)];
  n->p.pool.g = (cb_conv){.cin = 1, .hin = 3, .win = 3, .cout = 1, .hout = 2, .wout = 2, .kh = 2, .kw = 2,
                          .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 1};
  for (int i = 0; i < 9; i++) t->x[i] = i + 1;
  t->want[0] = 5; t->want[1] = 6; t->want[2] = 8; t->want[3] = 9;
}

/* Groups of 3 at stride 2, largest first: (3, 2, 4) at 0, 2, 4 -> (4, 3, 2);
   (1, 5, 6) at 1, 3, 5 -> (6, 5, 1). */
static void k_sort(tiny *t)
{
  static const int64_t d6[] = {1, 6};
  static const double x[6] = {3, 1, 2, 5, 4, 6}, y[6] = {4, 6, 3, 5, 2, 1};
  cb_node *n;
  t->net = with_input(2, d6);
  n = &t->net->node[add1(t->net, CB_SORT, 0, 2, d6)];
  n->p.sort.g = 3; n->p.sort.inner = 2; n->p.sort.desc = 1;
  for (int i = 0; i < 6; i++) { t->x[i] = x[i]; t->want[i] = y[i]; }
}

static void (*const builders[])(tiny *) = {
  [CB_INPUT] = k_input, [CB_AFFINE] = k_affine, [CB_SCALE] = k_scale, [CB_CONV] = k_conv,
  [CB_ADD] = k_add, [CB_CONCAT] = k_concat, [CB_RESHAPE] = k_reshape, [CB_TRANSPOSE] = k_transpose,
  [CB_ACT] = k_relu, [CB_MAXPOOL] = k_maxpool, [CB_SORT] = k_sort,
  [CB_MUL] = k_mul,
};
_Static_assert(sizeof builders / sizeof builders[0] == CB_KIND_COUNT, "every kind needs a forward oracle");
static void (*const act_builders[])(tiny *) = {
  [CB_ACT_RELU] = k_relu, [CB_ACT_LEAKY_RELU] = k_leaky, [CB_ACT_SIGMOID] = k_sigmoid, [CB_ACT_TANH] = k_tanh,
  [CB_ACT_CLIP] = k_clip, [CB_ACT_ELU] = k_elu, [CB_ACT_SOFTPLUS] = k_softplus,
  [CB_ACT_EXP] = k_exp, [CB_ACT_HARD_SIGMOID] = k_hsig, [CB_ACT_ERF] = k_erf,
  [CB_ACT_SOFTSIGN] = k_softsign, [CB_ACT_SELU] = k_selu, [CB_ACT_SILU] = k_silu, [CB_ACT_GELU] = k_gelu,
  [CB_ACT_GELU_TANH] = k_gelu_tanh, [CB_ACT_HARD_SWISH] = k_hswish, [CB_ACT_ABS] = k_abs, [CB_ACT_LOG] = k_log,
  [CB_ACT_POW] = k_pow,
};
_Static_assert(sizeof act_builders / sizeof act_builders[0] == CB_ACT_COUNT, "every activation needs a forward oracle");

static void test_every_kind(void **st)
{
  (void)st;
  for (int k = 0; k < CB_KIND_COUNT + CB_ACT_COUNT; k++) {   /* every kind, then every activation */
    void (*build)(tiny *) = k < CB_KIND_COUNT ? builders[k] : act_builders[k - CB_KIND_COUNT];
    tiny t;
    double y[2][16];
    cb_error err = {0};
    double xx[32];
    memset(&t, 0, sizeof t);
    assert_non_null(build);
    build(&t);
    t.net->output = t.net->n - 1;
    if (net_check(t.net, &err) != CB_OK) fail_msg("%s: %s", node_kind_name(&t.net->node[t.net->output]), err.msg);
    /* batch of 2 identical rows: checks batching too */
    memcpy(xx, t.x, sizeof t.x);
    memcpy(xx + cb_net_input_size(t.net), t.x, cb_net_input_size(t.net) * sizeof(double));
    assert_int_equal(cb_net_forward(t.net, xx, 2, &y[0][0], &err), CB_OK);
    for (size_t i = 0; i < cb_net_output_size(t.net); i++) {
      double got0 = y[0][i], got1 = (&y[0][0])[cb_net_output_size(t.net) + i];
      if (fabs(got0 - t.want[i]) > 1e-15 || got1 != got0)
        fail_msg("%s: output %zu = %.17g, want %.17g", node_kind_name(&t.net->node[t.net->output]), i, got0, t.want[i]);
    }
    cb_net_free(t.net);
  }
}

/* net_check refuses a node whose shapes do not chain. */
static void test_check_refuses(void **st)
{
  tiny t;
  cb_error err = {0};
  (void)st;
  memset(&t, 0, sizeof t);
  k_affine(&t);
  t.net->node[1].p.aff.in = 3;
  t.net->output = 1;
  assert_int_equal(net_check(t.net, &err), CB_ESHAPE);
  assert_non_null(strstr(err.msg, "AFFINE"));
  cb_net_free(t.net);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_kind),
    cmocka_unit_test(test_check_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
