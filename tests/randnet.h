/*
** Random networks covering every node kind, for the property tests
** (soundness of bounds, gradients, interval Jacobians).  Weights come from
** a fixed-seed RNG (`seed`), so each test is reproducible.
**   net_dense:    AFFINE, RELU, LEAKY_RELU, SCALE (folded BatchNorm), SIGMOID, TANH, CLIP
**   net_conv:     CONV with stride/padding/dilation/groups, AvgPool as a depthwise CONV, MAXPOOL
**   net_residual: residual ADD, CONCAT, TRANSPOSE, MAXPOOL, dense head
**   net_resconv:  resnet-like conv blocks (1x1 stride-2 and identity shortcuts)
**   net_groupsort: AFFINE and SORT (GroupSort2, strided 4-sort, FullSort)
**   net_deep:     a deep ReLU (LeakyReLU) chain, optionally ending in a ReLU
*/
#ifndef CB_RANDNET_H
#define CB_RANDNET_H

#include <math.h>
#include "testutil.h"

static uint64_t seed = 12345;
static inline double rnd(double a, double b) { return a + (b - a) * urand(&seed); }

static inline double *rnd_vec(cb_net *net, size_t n, double a, double b)
{
  double *v = net_doubles(net, n);
  for (size_t i = 0; i < n; i++) v[i] = rnd(a, b);
  return v;
}

static inline int add_node(cb_net *net, cb_kind k, int in, int rank, const int64_t *dims)
{
  cb_shape s;
  cb_error err = {0};
  int idx;
  shape_set(&s, rank, dims);
  idx = net_add(net, k, cb_kind_info[k].name, "test", &in, 1, &s, &err);
  assert_true(idx >= 0);
  return idx;
}

static inline int dense(cb_net *net, int in, size_t out)
{
  size_t n = net->node[in].size;
  int64_t d[2] = {1, (int64_t)out};
  int i = add_node(net, CB_AFFINE, in, 2, d);
  cb_node *nd = &net->node[i];
  nd->p.aff.out = out; nd->p.aff.in = n;
  nd->p.aff.W = rnd_vec(net, out * n, -1.5 / sqrt((double)n), 1.5 / sqrt((double)n));
  nd->p.aff.b = rnd_vec(net, out, -0.3, 0.3);
  return i;
}

static inline int act(cb_net *net, int in, cb_act a)
{
  cb_error err = {0};
  int i;
  if (a == CB_ACT_LOG) in = act(net, in, CB_ACT_EXP);   /* Log needs x > 0 */
  i = net_add_act(net, a, cb_act_table[a].name, "test", in, &err);
  assert_true(i >= 0);
  if (a == CB_ACT_LEAKY_RELU) net->node[i].p.act.alpha = 0.1;
  if (a == CB_ACT_ELU) net->node[i].p.act.alpha = 0.7;
  if (a == CB_ACT_SELU) { net->node[i].p.act.alpha = 1.6732632; net->node[i].p.act.gamma = 1.0507010; }
  if (a == CB_ACT_HARD_SIGMOID) { net->node[i].p.act.alpha = 0.2; net->node[i].p.act.beta = 0.5; }
  if (a == CB_ACT_CLIP) { net->node[i].p.act.lo = -0.2; net->node[i].p.act.hi = 0.4; }
  if (a == CB_ACT_POW) net->node[i].p.act.alpha = 2;   /* other exponents: test_sound's test_pow */
  return i;
}

static inline int conv(cb_net *net, int in, int64_t cout, int64_t k, int64_t s, int64_t p, int64_t dil, int64_t groups)
{
  const cb_node *x = &net->node[in];
  cb_conv g = {.cin = x->shape.dim[1], .hin = x->shape.dim[2], .win = x->shape.dim[3], .cout = cout,
               .kh = k, .kw = k, .sh = s, .sw = s, .pt = p, .pl = p, .pb = p, .pr = p, .dh = dil, .dw = dil, .groups = groups};
  int64_t d[4];
  int i;
  assert_true(conv_out_dim(g.hin, k, s, p, p, dil, &g.hout) && conv_out_dim(g.win, k, s, p, p, dil, &g.wout));
  d[0] = 1; d[1] = cout; d[2] = g.hout; d[3] = g.wout;
  i = add_node(net, CB_CONV, in, 4, d);
  net->node[i].p.conv.g = g;
  net->node[i].p.conv.W = rnd_vec(net, (size_t)(cout * g.cin / groups * k * k), -0.6, 0.6);
  net->node[i].p.conv.b = rnd_vec(net, (size_t)cout, -0.2, 0.2);
  return i;
}

static inline int maxpool(cb_net *net, int in, int64_t k, int64_t s, int64_t p)
{
  const cb_node *x = &net->node[in];
  cb_conv g = {.cin = x->shape.dim[1], .hin = x->shape.dim[2], .win = x->shape.dim[3], .cout = x->shape.dim[1],
               .kh = k, .kw = k, .sh = s, .sw = s, .pt = p, .pl = p, .pb = p, .pr = p, .dh = 1, .dw = 1, .groups = 1};
  int64_t d[4];
  int i;
  conv_out_dim(g.hin, k, s, p, p, 1, &g.hout);
  conv_out_dim(g.win, k, s, p, p, 1, &g.wout);
  d[0] = 1; d[1] = g.cin; d[2] = g.hout; d[3] = g.wout;
  i = add_node(net, CB_MAXPOOL, in, 4, d);
  net->node[i].p.pool.g = g;
  return i;
}

/* SORT of groups of g entries at stride inner (desc: largest first). */
static inline int sortg(cb_net *net, int in, int64_t g, int64_t inner, int desc)
{
  int i = add_node(net, CB_SORT, in, net->node[in].shape.rank, net->node[in].shape.dim);
  net->node[i].p.sort.g = g; net->node[i].p.sort.inner = inner; net->node[i].p.sort.desc = desc;
  return i;
}

static inline int flatten(cb_net *net, int in)
{
  int64_t d[2] = {1, (int64_t)net->node[in].size};
  return add_node(net, CB_RESHAPE, in, 2, d);
}

static inline cb_net *start(int rank, const int64_t *dims)
{
  cb_net *net = net_new("random", "test");
  cb_shape s;
  cb_error err = {0};
  shape_set(&s, rank, dims);
  net_add(net, CB_INPUT, "x", "Input", NULL, 0, &s, &err);
  return net;
}

/* A deep ReLU chain of `depth` layers of width w (every third a LeakyReLU when
   leaky), ending in a ReLU when relu_out (as eran2021's mnist_relu_9_200, whose
   final pass starts at that ReLU and optimises its lines too). */
static inline cb_net *net_deep(int depth, size_t w, int leaky, int relu_out)
{
  int64_t d[2] = {1, 4};
  cb_net *net = start(2, d);
  int i = 0;
  for (int k = 0; k < depth; k++) i = act(net, dense(net, i, w), leaky && k % 3 == 2 ? CB_ACT_LEAKY_RELU : CB_ACT_RELU);
  i = dense(net, i, 3);
  if (relu_out) act(net, i, CB_ACT_RELU);
  return net;
}

/* Dense: AFFINE, RELU, LEAKY_RELU, SIGMOID, TANH, CLIP, SCALE (a folded BatchNorm). */
static inline cb_net *net_dense(void)
{
  int64_t d[2] = {1, 6};
  cb_net *net = start(2, d);
  int i = act(net, dense(net, 0, 12), CB_ACT_RELU);
  int s;
  i = act(net, dense(net, i, 10), CB_ACT_LEAKY_RELU);
  s = add_node(net, CB_SCALE, i, 2, net->node[i].shape.dim);
  net->node[s].p.scale.a = rnd_vec(net, 10, -2, 2);
  net->node[s].p.scale.b = rnd_vec(net, 10, -0.5, 0.5);
  i = act(net, dense(net, s, 8), CB_ACT_SIGMOID);
  i = act(net, dense(net, i, 8), CB_ACT_TANH);
  i = act(net, dense(net, i, 8), CB_ACT_CLIP);
  dense(net, i, 4);
  return net;
}

/* Conv with stride/padding/dilation/groups, an average pool (depthwise conv), max pools. */
static inline cb_net *net_conv(void)
{
  int64_t d[4] = {1, 2, 7, 7};
  cb_net *net = start(4, d);
  int i = act(net, conv(net, 0, 4, 3, 2, 1, 1, 1), CB_ACT_RELU);        /* 4x4x4 */
  int a = conv(net, i, 4, 2, 1, 0, 1, 4);                           /* avgpool 2x2 s1 -> 3x3 */
  for (int k = 0; k < 16; k++) net->node[a].p.conv.W[k] = 0.25;
  for (int k = 0; k < 4; k++) net->node[a].p.conv.b[k] = 0;
  i = act(net, conv(net, a, 6, 2, 1, 1, 2, 2), CB_ACT_TANH);             /* dilation 2, groups 2 */
  i = maxpool(net, i, 2, 1, 1);
  i = act(net, dense(net, flatten(net, i), 8), CB_ACT_RELU);
  dense(net, i, 3);
  return net;
}

/* 1-Lipschitz-style dense net: GroupSort2 (pairs), a 4-sort of strided
   members (largest first), a full sort (FullSort), as deel-lip/orthogonium. */
static inline cb_net *net_groupsort(void)
{
  int64_t d[2] = {1, 6};
  cb_net *net = start(2, d);
  int i = sortg(net, dense(net, 0, 8), 2, 1, 0);
  i = sortg(net, dense(net, i, 8), 4, 2, 1);
  i = sortg(net, dense(net, i, 6), 6, 1, 0);
  dense(net, i, 4);
  return net;
}

/* y = a .* b (same sizes): a product of two computed tensors. */
static inline int mul2(cb_net *net, int a, int b)
{
  int in2[2] = {a, b}, i;
  cb_error err = {0};
  i = net_add(net, CB_MUL, "mul", "Mul", in2, 2, &net->node[a].shape, &err);
  assert_true(i >= 0);
  return i;
}

/* Products of activations (attention's kind of node): q .* k of two dense
   maps of the input, a tanh gate times a dense branch, a square x .* x
   (both operands one node), then a dense read-out. */
static inline cb_net *net_products(void)
{
  int64_t d[2] = {1, 5};
  cb_net *net = start(2, d);
  int q = dense(net, 0, 6), k = dense(net, 0, 6), p = mul2(net, q, k);
  int g = act(net, dense(net, p, 6), CB_ACT_TANH), v = dense(net, p, 6), h = mul2(net, g, v);
  h = mul2(net, h, h);
  dense(net, h, 4);
  return net;
}

static inline int reshape3(cb_net *net, int in, int64_t a, int64_t b)
{
  int64_t d[3] = {1, a, b};
  return add_node(net, CB_RESHAPE, in, 3, d);
}

/* One head of dot-product attention over 3 tokens of dimension 2, from
   canon_attn.c's blocks: softmax(Q K^T) V, then a dense read-out.  log_form:
   a LogSoftmax instead (over the other axis), feeding a tanh. */
static inline cb_net *net_attention(int log_form)
{
  int64_t d[2] = {1, 6}, s33[3] = {1, 3, 3}, s32[3] = {1, 3, 2};
  cb_net *net = start(2, d);
  cb_error err = {0};
  cb_shape s;
  int q = reshape3(net, dense(net, 0, 6), 3, 2), k = reshape3(net, dense(net, 0, 6), 3, 2);
  int v = reshape3(net, dense(net, 0, 6), 3, 2), sc, a, o;
  shape_set(&s, 3, s33);
  sc = net_add_matmul(net, "qk", "MatMul", q, k, 1, 3, 2, 3, 1, &s, &err);
  assert_true(sc >= 0);
  a = net_add_softmax(net, "softmax", "Softmax", sc, log_form ? 1 : -1, log_form, &err);
  assert_true(a >= 0);
  if (log_form) a = act(net, a, CB_ACT_TANH);
  shape_set(&s, 3, s32);
  o = net_add_matmul(net, "av", "MatMul", a, v, 1, 3, 3, 2, 0, &s, &err);
  assert_true(o >= 0);
  dense(net, flatten(net, o), 3);
  return net;
}

/* Residual ADD, CONCAT, TRANSPOSE, and a max pool feeding dense layers. */
static inline cb_net *net_residual(void)
{
  int64_t d[4] = {1, 2, 5, 5}, dc[4] = {1, 4, 5, 5}, dt[4] = {1, 5, 5, 4};
  cb_net *net = start(4, d);
  int c1 = act(net, conv(net, 0, 2, 3, 1, 1, 1, 1), CB_ACT_RELU);
  int c2 = conv(net, c1, 2, 3, 1, 1, 1, 1), in2[2] = {c2, 0}, sum, cat, t, i;
  cb_shape s;
  cb_error err = {0};
  shape_set(&s, 4, d);
  sum = net_add(net, CB_ADD, "add", "Add", in2, 2, &s, &err);
  sum = act(net, sum, CB_ACT_LEAKY_RELU);
  in2[0] = sum; in2[1] = c1;
  shape_set(&s, 4, dc);
  cat = net_add(net, CB_CONCAT, "cat", "Concat", in2, 2, &s, &err);
  net->node[cat].p.concat.axis = 1;
  t = add_node(net, CB_TRANSPOSE, cat, 4, dt);
  net->node[t].p.transpose.perm[0] = 0; net->node[t].p.transpose.perm[1] = 2;
  net->node[t].p.transpose.perm[2] = 3; net->node[t].p.transpose.perm[3] = 1;
  i = maxpool(net, cat, 3, 2, 0);
  i = act(net, dense(net, flatten(net, i), 6), CB_ACT_RELU);
  i = dense(net, i, 5);
  {  /* the transposed branch joins through a dense layer on it */
    int j = dense(net, flatten(net, t), 5), in3[2] = {i, j};
    int64_t d5[2] = {1, 5};
    shape_set(&s, 2, d5);
    i = net_add(net, CB_ADD, "join", "Add", in3, 2, &s, &err);
  }
  return net;
}

/* y = a + b (same shapes), a residual join. */
static inline int add2(cb_net *net, int a, int b)
{
  int in2[2] = {a, b}, i;
  cb_error err = {0};
  i = net_add(net, CB_ADD, "add", "Add", in2, 2, &net->node[a].shape, &err);
  assert_true(i >= 0);
  return i;
}

/* resnet_2b's shape, smaller: a stride-2 block with a 1x1 stride-2 conv
   shortcut, then a block with an identity shortcut; both ADDs feed ReLUs,
   so CROWN re-bounds them (a pass that starts at an ADD) and the convs above
   them (a pass down both branches): CROWN's receptive-field pass runs on them. */
static inline cb_net *net_resconv_hw(int64_t hw)
{
  int64_t d[4] = {1, 2, hw, hw};
  cb_net *net = start(4, d);
  int c1 = act(net, conv(net, 0, 3, 3, 1, 1, 1, 1), CB_ACT_RELU);           /* 16x16 */
  int b = act(net, conv(net, c1, 4, 3, 2, 1, 1, 1), CB_ACT_RELU);           /* 8x8 */
  int r = act(net, add2(net, conv(net, b, 4, 3, 1, 1, 1, 1), conv(net, c1, 4, 1, 2, 0, 1, 1)), CB_ACT_RELU);
  b = act(net, conv(net, r, 4, 3, 1, 1, 1, 1), CB_ACT_RELU);
  r = act(net, add2(net, conv(net, b, 4, 3, 1, 1, 1, 1), r), CB_ACT_RELU);  /* identity shortcut */
  dense(net, flatten(net, r), 4);
  return net;
}

/* 16 x 16: windows well inside the tensors (test_patches' receptive-field
   pass); the property test takes 8 x 8, its 512-input version cost minutes
   under ASan (finite-difference attacks on every input). */
static inline cb_net *net_resconv(void) { return net_resconv_hw(16); }

#endif
