/*
** Soundness property test of IBP, CROWN, CROWN-IBP and alpha-CROWN (its
** 20 optimised iterates each a bound; the best is checked): random networks
** covering every node kind x random centres x {L-inf, L2, L1, L-inf clipped
** to a box} x radii {0.01, 0.1, 0.5}.  Per case 10^4 points of the set
** (uniform inside, on the boundary / at vertices) plus, for every bounded
** quantity, a projected-gradient attack on it (finite-difference gradients),
** and every forward output must lie within [lb, ub] with tolerance ZERO, for
** the logits (C = I) and for random specification rows.  lb <= ub always.
** Fixed seeds; the counts are printed.
*/
#include <float.h>
#include <math.h>
#include "testutil.h"
#include "bounds.h"

static uint64_t seed = 12345;
static double rnd(double a, double b) { return a + (b - a) * urand(&seed); }

static double *rnd_vec(cb_net *net, size_t n, double a, double b)
{
  double *v = net_doubles(net, n);
  for (size_t i = 0; i < n; i++) v[i] = rnd(a, b);
  return v;
}

static int add_node(cb_net *net, cb_kind k, int in, int rank, const int64_t *dims)
{
  cb_shape s;
  cb_error err = {0};
  int idx;
  shape_set(&s, rank, dims);
  idx = net_add(net, k, cb_kind_name[k], "test", &in, 1, &s, &err);
  assert_true(idx >= 0);
  return idx;
}

static int dense(cb_net *net, int in, size_t out)
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

static int act(cb_net *net, int in, cb_kind k)
{
  int i = add_node(net, k, in, net->node[in].shape.rank, net->node[in].shape.dim);
  if (k == CB_LEAKY_RELU) net->node[i].p.leaky.alpha = 0.1;
  if (k == CB_CLIP) { net->node[i].p.clip.lo = -0.2; net->node[i].p.clip.hi = 0.4; }
  return i;
}

static int conv(cb_net *net, int in, int64_t cout, int64_t k, int64_t s, int64_t p, int64_t dil, int64_t groups)
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

static int maxpool(cb_net *net, int in, int64_t k, int64_t s, int64_t p)
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

static int flatten(cb_net *net, int in)
{
  int64_t d[2] = {1, (int64_t)net->node[in].size};
  return add_node(net, CB_RESHAPE, in, 2, d);
}

static cb_net *start(int rank, const int64_t *dims)
{
  cb_net *net = net_new("random", "test");
  cb_shape s;
  cb_error err = {0};
  shape_set(&s, rank, dims);
  net_add(net, CB_INPUT, "x", "Input", NULL, 0, &s, &err);
  return net;
}

/* Dense: AFFINE, RELU, LEAKY_RELU, SIGMOID, TANH, CLIP, SCALE (a folded BatchNorm). */
static cb_net *net_dense(void)
{
  int64_t d[2] = {1, 6};
  cb_net *net = start(2, d);
  int i = act(net, dense(net, 0, 12), CB_RELU);
  int s;
  i = act(net, dense(net, i, 10), CB_LEAKY_RELU);
  s = add_node(net, CB_SCALE, i, 2, net->node[i].shape.dim);
  net->node[s].p.scale.a = rnd_vec(net, 10, -2, 2);
  net->node[s].p.scale.b = rnd_vec(net, 10, -0.5, 0.5);
  i = act(net, dense(net, s, 8), CB_SIGMOID);
  i = act(net, dense(net, i, 8), CB_TANH);
  i = act(net, dense(net, i, 8), CB_CLIP);
  dense(net, i, 4);
  return net;
}

/* Conv with stride/padding/dilation/groups, an average pool (depthwise conv), max pools. */
static cb_net *net_conv(void)
{
  int64_t d[4] = {1, 2, 7, 7};
  cb_net *net = start(4, d);
  int i = act(net, conv(net, 0, 4, 3, 2, 1, 1, 1), CB_RELU);        /* 4x4x4 */
  int a = conv(net, i, 4, 2, 1, 0, 1, 4);                           /* avgpool 2x2 s1 -> 3x3 */
  for (int k = 0; k < 16; k++) net->node[a].p.conv.W[k] = 0.25;
  for (int k = 0; k < 4; k++) net->node[a].p.conv.b[k] = 0;
  i = act(net, conv(net, a, 6, 2, 1, 1, 2, 2), CB_TANH);             /* dilation 2, groups 2 */
  i = maxpool(net, i, 2, 1, 1);
  i = act(net, dense(net, flatten(net, i), 8), CB_RELU);
  dense(net, i, 3);
  return net;
}

/* Residual ADD, CONCAT, TRANSPOSE, and a max pool feeding dense layers. */
static cb_net *net_residual(void)
{
  int64_t d[4] = {1, 2, 5, 5}, dc[4] = {1, 4, 5, 5}, dt[4] = {1, 5, 5, 4};
  cb_net *net = start(4, d);
  int c1 = act(net, conv(net, 0, 2, 3, 1, 1, 1, 1), CB_RELU);
  int c2 = conv(net, c1, 2, 3, 1, 1, 1, 1), in2[2] = {c2, 0}, sum, cat, t, i;
  cb_shape s;
  cb_error err = {0};
  shape_set(&s, 4, d);
  sum = net_add(net, CB_ADD, "add", "Add", in2, 2, &s, &err);
  sum = act(net, sum, CB_LEAKY_RELU);
  in2[0] = sum; in2[1] = c1;
  shape_set(&s, 4, dc);
  cat = net_add(net, CB_CONCAT, "cat", "Concat", in2, 2, &s, &err);
  net->node[cat].p.concat.axis = 1;
  t = add_node(net, CB_TRANSPOSE, cat, 4, dt);
  net->node[t].p.transpose.perm[0] = 0; net->node[t].p.transpose.perm[1] = 2;
  net->node[t].p.transpose.perm[2] = 3; net->node[t].p.transpose.perm[3] = 1;
  i = maxpool(net, cat, 3, 2, 0);
  i = act(net, dense(net, flatten(net, i), 6), CB_RELU);
  i = dense(net, i, 5);
  {  /* the transposed branch joins through a dense layer on it */
    int j = dense(net, flatten(net, t), 5), in3[2] = {i, j};
    int64_t d5[2] = {1, 5};
    shape_set(&s, 2, d5);
    i = net_add(net, CB_ADD, "join", "Add", in3, 2, &s, &err);
  }
  return net;
}

typedef struct tcase { cb_norm norm; int clip; double eps; const double *x0, *lo, *hi; size_t n; } tcase;

static double gauss(void) { return sqrt(-2 * log(1 - urand(&seed))) * cos(6.283185307179586 * urand(&seed)); }

/* Projects x onto the set (in place); shrinks by 1e-12 so rounding stays inside. */
static void project(const tcase *t, double *x)
{
  double e = t->eps * (1 - 1e-12), s = 0;
  size_t n = t->n;
  if (t->norm == CB_NORM_INF) for (size_t j = 0; j < n; j++) x[j] = fmin(fmax(x[j], t->x0[j] - e), t->x0[j] + e);
  if (t->norm == CB_NORM_2) {
    for (size_t j = 0; j < n; j++) s += (x[j] - t->x0[j]) * (x[j] - t->x0[j]);
    if (sqrt(s) > e) for (size_t j = 0; j < n; j++) x[j] = t->x0[j] + (x[j] - t->x0[j]) * e / sqrt(s);
  }
  if (t->norm == CB_NORM_1) {  /* shrink towards x0 until inside (a sound, simple projection) */
    for (size_t j = 0; j < n; j++) s += fabs(x[j] - t->x0[j]);
    if (s > e) for (size_t j = 0; j < n; j++) x[j] = t->x0[j] + (x[j] - t->x0[j]) * e / s;
  }
  if (t->clip) for (size_t j = 0; j < n; j++) x[j] = fmin(fmax(x[j], t->lo[j]), t->hi[j]);
}

/* One random point of the set: inside (odd k) or on the boundary / a vertex (even k). */
static void sample(const tcase *t, double *x, int k)
{
  double s = 0, r = k % 2 ? pow(urand(&seed), 1.0 / (double)t->n) : 1.0;
  for (size_t j = 0; j < t->n; j++) {
    double d = t->norm == CB_NORM_INF ? (k % 2 ? rnd(-1, 1) : (urand(&seed) < 0.5 ? -1 : 1))
             : t->norm == CB_NORM_2 ? gauss() : -log(1 - urand(&seed)) * (urand(&seed) < 0.5 ? -1 : 1);
    x[j] = d;
    s += t->norm == CB_NORM_2 ? d * d : fabs(d);
  }
  if (t->norm == CB_NORM_2) s = sqrt(s);
  if (t->norm == CB_NORM_INF) s = 1;
  for (size_t j = 0; j < t->n; j++) x[j] = t->x0[j] + t->eps * r * x[j] / s;
  project(t, x);
}

typedef struct checker { const double *lb[4], *ub[4]; const double *C; size_t q, no; long points, checks; } checker;

/* Checks outputs y (batch rows) against every method's bounds of C y; tolerance 0. */
static void check_points(checker *ck, const double *y, size_t batch, const char *tag)
{
  for (size_t s = 0; s < batch; s++)
    for (size_t r = 0; r < ck->q; r++) {
      double v = 0;
      for (size_t k = 0; k < ck->no; k++) v += ck->C[r * ck->no + k] * y[s * ck->no + k];
      for (int m = 0; m < 4; m++) {
        if (!(ck->lb[m][r] <= v && v <= ck->ub[m][r]))
          fail_msg("%s method %d row %zu: value %.17g outside [%.17g, %.17g]", tag, m, r, v, ck->lb[m][r], ck->ub[m][r]);
        ck->checks++;
      }
    }
  ck->points += (long)batch;
}

/* Projected finite-difference gradient ascent on dir * (C_r . f(x)); checks every iterate. */
static void attack(checker *ck, const cb_net *net, const tcase *t, size_t r, double dir, const char *tag)
{
  size_t n = t->n, no = ck->no;
  double *X = malloc((2 * n + 1) * n * sizeof *X), *Y = malloc((2 * n + 1) * no * sizeof *Y), *g = malloc(n * sizeof *g);
  double h = 1e-6, step = t->eps / 4;
  cb_error err = {0};
  sample(t, X, 1);
  for (int it = 0; it < 12; it++, step *= 0.8) {
    double gn = 0;
    for (size_t j = 0; j < n; j++) {
      memcpy(X + (1 + 2 * j) * n, X, n * sizeof *X);
      memcpy(X + (2 + 2 * j) * n, X, n * sizeof *X);
      X[(1 + 2 * j) * n + j] += h;
      X[(2 + 2 * j) * n + j] -= h;
    }
    assert_int_equal(cb_net_forward(net, X, 2 * n + 1, Y, &err), CB_OK);
    check_points(ck, Y, 1, tag);
    for (size_t j = 0; j < n; j++) {
      double d = 0;
      for (size_t k = 0; k < no; k++) d += ck->C[r * no + k] * (Y[(1 + 2 * j) * no + k] - Y[(2 + 2 * j) * no + k]);
      g[j] = dir * d;
      gn += t->norm == CB_NORM_INF ? 0 : t->norm == CB_NORM_2 ? d * d : fmax(gn, fabs(d));
    }
    if (t->norm == CB_NORM_2) gn = sqrt(gn);
    for (size_t j = 0; j < n; j++)
      X[j] += t->norm == CB_NORM_INF ? step * (g[j] > 0 ? 1 : g[j] < 0 ? -1 : 0)
            : t->norm == CB_NORM_2 ? (gn > 0 ? step * g[j] / gn : 0)
            : (gn > 0 && fabs(g[j]) == gn ? step * (g[j] > 0 ? 1 : -1) : 0);
    project(t, X);
  }
  free(X); free(Y); free(g);
}

static void run_case(const cb_net *net, const cb_bnet *bn, const tcase *t, long *pts, long *chk, const char *tag)
{
  size_t no = cb_net_output_size(net), q = no + 3, N = 10000;
  double *C = calloc(q * no, sizeof *C), *lb = malloc(4 * q * sizeof *lb), *ub = malloc(4 * q * sizeof *ub);
  double *X = malloc(N * t->n * sizeof *X), *Y = malloc(N * no * sizeof *Y);
  cb_set s = {t->norm, t->eps, t->n, t->x0, t->clip ? t->lo : NULL, t->clip ? t->hi : NULL};
  cb_method meth[4] = {CB_IBP, CB_CROWN, CB_CROWN_IBP, CB_ALPHA_CROWN};
  checker ck = {{lb, lb + q, lb + 2 * q, lb + 3 * q}, {ub, ub + q, ub + 2 * q, ub + 3 * q}, C, q, no, 0, 0};
  cb_error err = {0};
  for (size_t k = 0; k < no; k++) C[k * no + k] = 1;
  for (size_t k = no; k < q; k++) { size_t a = (size_t)rnd(0, (double)no), b = (a + 1) % no; C[k * no + a] = 1; C[k * no + b] = -1; }
  for (int m = 0; m < 4; m++) {
    cb_ws *ws = ws_new(bn, &s, &err);
    assert_non_null(ws);
    if (bounds_run(ws, meth[m], &err) != CB_OK || bounds_spec(ws, C, q, lb + (size_t)m * q, ub + (size_t)m * q, &err) != CB_OK)
      fail_msg("%s: %s", tag, err.msg);
    for (size_t r = 0; r < q; r++) if (!(lb[(size_t)m * q + r] <= ub[(size_t)m * q + r])) fail_msg("%s method %d row %zu: lb %.17g > ub %.17g", tag, m, r, lb[(size_t)m * q + r], ub[(size_t)m * q + r]);
    ws_free(ws);
  }
  for (size_t r = 0; r < q; r++)  /* alpha-CROWN starts from CROWN's lines and keeps its best */
    if (!(lb[3 * q + r] >= lb[q + r] - 1e-9 * (1 + fabs(lb[q + r])) && ub[3 * q + r] <= ub[q + r] + 1e-9 * (1 + fabs(ub[q + r]))))
      fail_msg("%s row %zu: alpha-CROWN [%.17g, %.17g] looser than CROWN [%.17g, %.17g]", tag, r, lb[3 * q + r], ub[3 * q + r], lb[q + r], ub[q + r]);
  for (size_t k = 0; k < N; k++) sample(t, X + k * t->n, (int)k);
  assert_int_equal(cb_net_forward(net, X, N, Y, &err), CB_OK);
  check_points(&ck, Y, N, tag);
  for (size_t r = 0; r < q; r++) { attack(&ck, net, t, r, 1, tag); attack(&ck, net, t, r, -1, tag); }
  *pts += ck.points;
  *chk += ck.checks;
  free(C); free(lb); free(ub); free(X); free(Y);
}

static void sound_net(cb_net *net, const char *name)
{
  static const double radii[3] = {0.01, 0.1, 0.5};
  static const cb_norm norms[4] = {CB_NORM_INF, CB_NORM_2, CB_NORM_1, CB_NORM_INF};
  size_t n = cb_net_input_size(net);
  double *x0 = malloc(n * sizeof *x0), *lo = malloc(n * sizeof *lo), *hi = malloc(n * sizeof *hi);
  long pts = 0, chk = 0;
  cb_bnet bn;
  cb_error err = {0};
  char tag[128];
  net->output = net->n - 1;
  if (net_check(net, &err) != CB_OK) fail_msg("%s: %s", name, err.msg);
  assert_int_equal(bnet_init(&bn, net, &err), CB_OK);
  for (int c = 0; c < 4; c++)
    for (int e = 0; e < 3; e++) {
      tcase t = {norms[c], c == 3, radii[e], x0, lo, hi, n};
      for (size_t j = 0; j < n; j++) { x0[j] = rnd(-0.5, 0.5); lo[j] = -0.5; hi[j] = 0.5; }
      snprintf(tag, sizeof tag, "%s norm %d%s eps %g", name, c, c == 3 ? " clipped" : "", radii[e]);
      run_case(net, &bn, &t, &pts, &chk, tag);
    }
  printf("%s: 12 sets, %ld points, %ld point-bound checks, 0 outside\n", name, pts, chk);
  bnet_free(&bn);
  free(x0); free(lo); free(hi);
  cb_net_free(net);
}

static void test_dense(void **st) { (void)st; sound_net(net_dense(), "dense"); }
static void test_conv(void **st) { (void)st; sound_net(net_conv(), "conv"); }
static void test_residual(void **st) { (void)st; sound_net(net_residual(), "residual"); }

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_dense), cmocka_unit_test(test_conv), cmocka_unit_test(test_residual),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
