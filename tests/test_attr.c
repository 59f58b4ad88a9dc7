/*
** Attributions (certify/attr*.c):
**   identities on a linear model (Gradient x Input = x .* w bit for bit, IG =
**   x .* w, Occlusion = the analytic drop, AverageStability = its closed form),
**   IG completeness (m = 256) and Saliency = |finite difference| on the 4
**   reference nets;
**   certified bounds of Saliency, Gradient x Input and IG contain the maps at
**   10^3 points per ball (inside, boundary, and a hill-climbing ascent on the
**   map change) on every reference net and three balls, zero tolerance, and the
**   certified maximum change is >= every sampled change;
**   EVA: the pinned margin bound is sound (sampled) and >= the unpinned one,
**   the map is reproducible bit for bit; Grad-CAM; top-k and max-change units.
*/
#include <math.h>
#include "attack.h"
#include "attr.h"
#include "randnet.h"

static const char *ref_nets[] = {"nets/digits_mlp.onnx", "nets/digits_cnn.onnx", "nets/digits_tanh.onnx", "nets/digits_orth.onnx"};

static attr_ctx *ctx(const cb_net *net, attr_method m, int steps)
{
  attr_opt o;
  cb_error err = {0};
  attr_ctx *a;
  attr_opt_init(&o);
  o.method = m;
  o.steps = steps;
  if (!(a = attr_new(net, &o, &err))) fail_msg("attr_new: %s", err.msg);
  return a;
}

static void map_ok(attr_ctx *a, const double *x, int c, double *map)
{
  cb_error err = {0};
  if (attr_map(a, x, c, map, &err) != CB_OK) fail_msg("attr_map: %s", err.msg);
}

/* Linear model on a 4x4 image: 16 -> 3. */
static cb_net *linear_net(void)
{
  int64_t d[2] = {1, 16};
  cb_net *net = start(2, d);
  dense(net, 0, 3);
  net->output = net->n - 1;
  return net;
}

static void test_linear_identities(void **st)
{
  (void)st;
  cb_net *net = linear_net();
  const double *W = net->node[1].p.aff.W;
  double x[16], map[16], exp[16] = {0}, f0, s;
  cb_error err = {0};
  attr_ctx *a;
  for (int i = 0; i < 16; i++) x[i] = rnd(0, 1);
  for (int c = 0; c < 3; c++) {
    const double *w = W + 16 * c;
    a = ctx(net, AM_GRADXINPUT, 50);
    map_ok(a, x, c, map);
    for (int i = 0; i < 16; i++) assert_true(map[i] == x[i] * w[i]);   /* exact */
    attr_free(a);
    a = ctx(net, AM_IG, 50);
    map_ok(a, x, c, map);
    for (int i = 0; i < 16; i++) assert_true(fabs(map[i] - x[i] * w[i]) <= 1e-14 * (1 + fabs(x[i] * w[i])));
    attr_free(a);
    /* Occlusion 2x2 stride 1, value 0.3: drop of a patch = sum_{i in P} w_i (x_i - v). */
    a = ctx(net, AM_OCCLUSION, 50);
    a->opt.patch = 2; a->opt.stride = 1; a->opt.baseline = 0.3;
    map_ok(a, x, c, map);
    memset(exp, 0, sizeof exp);
    for (int i0 = 0; i0 + 2 <= 4; i0++)
      for (int j0 = 0; j0 + 2 <= 4; j0++) {
        double drop = 0;
        for (int i = i0; i < i0 + 2; i++) for (int j = j0; j < j0 + 2; j++) drop += w[i * 4 + j] * (x[i * 4 + j] - 0.3);
        for (int i = i0; i < i0 + 2; i++) for (int j = j0; j < j0 + 2; j++) exp[i * 4 + j] += drop;
      }
    for (int i = 0; i < 16; i++) assert_true(fabs(map[i] - exp[i]) <= 1e-12);
    /* AverageStability (L1) of Gradient x Input: ||w .* e||_1, E = r/2 sum |w_i|;
       the sample mean of K draws is within 5 standard deviations. */
    attr_free(a);
    a = ctx(net, AM_GRADXINPUT, 50);
    map_ok(a, x, c, map);
    {
      double r = 0.1, mean = 0, var = 0;
      int K = 4000;
      for (int i = 0; i < 16; i++) { mean += fabs(w[i]) * r / 2; var += w[i] * w[i] * r * r / 12; }
      assert_int_equal(attr_stability(a, x, c, map, r, K, 1, 7, &s, &err), CB_OK);
      if (fabs(s - mean) > 5 * sqrt(var / K)) fail_msg("AverageStability %g, closed form %g", s, mean);
    }
    attr_free(a);
    /* Saliency of a linear model does not move: stability exactly 0. */
    a = ctx(net, AM_SALIENCY, 50);
    map_ok(a, x, c, map);
    assert_int_equal(attr_stability(a, x, c, map, 0.1, 50, 2, 7, &s, &err), CB_OK);
    assert_true(s == 0);
    assert_int_equal(attr_score(a, x, c, &f0, NULL, &err), CB_OK);
    attr_free(a);
  }
  cb_net_free(net);
}

/* |sum IG - (f(x) - f(b))| <= 1e-3 |f(x) - f(b)|, m = 256, baseline 0. */
static void test_ig_completeness(void **st)
{
  (void)st;
  for (int k = 0; k < 4; k++) {
    cb_net *net = must_load(ref_nets[k]);
    size_t n = cb_net_input_size(net);
    cb_data *d = must_csv("nets/digits_test20.csv", n);
    attr_ctx *a = ctx(net, AM_IG, 256);
    double *map = malloc(n * sizeof *map), *b = calloc(n, sizeof *b), fx, fb, worst = 0;
    cb_error err = {0};
    for (size_t r = 0; r < cb_data_rows(d); r++) {
      const double *x = cb_data_x(d, r);
      int c = cb_data_label(d, r);
      double s = 0;
      map_ok(a, x, c, map);
      for (size_t i = 0; i < n; i++) s += map[i];
      assert_int_equal(attr_score(a, x, c, &fx, NULL, &err), CB_OK);
      assert_int_equal(attr_score(a, b, c, &fb, NULL, &err), CB_OK);
      worst = fmax(worst, fabs(s - (fx - fb)) / fabs(fx - fb));
      if (fabs(s - (fx - fb)) > 1e-3 * fabs(fx - fb)) fail_msg("%s row %zu: sum IG %.9g, f(x) - f(b) %.9g", ref_nets[k], r, s, fx - fb);
    }
    printf("  %s: IG completeness worst relative error %.3g\n", ref_nets[k], worst);
    free(map); free(b);
    attr_free(a);
    cb_data_free(d);
    cb_net_free(net);
  }
}

/* Saliency = |central difference| to 1e-5 of the largest gradient entry. */
static void test_saliency_fd(void **st)
{
  (void)st;
  const double h = 1e-6;
  for (int k = 0; k < 4; k++) {
    cb_net *net = must_load(ref_nets[k]);
    size_t n = cb_net_input_size(net);
    cb_data *d = must_csv("nets/digits_test20.csv", n);
    attr_ctx *a = ctx(net, AM_SALIENCY, 50);
    double *map = malloc(n * sizeof *map), *xp = malloc(n * sizeof *xp), fp, fm;
    cb_error err = {0};
    for (size_t r = 0; r < 5; r++) {
      const double *x = cb_data_x(d, r);
      int c = cb_data_label(d, r);
      double mx = 0;
      map_ok(a, x, c, map);
      for (size_t i = 0; i < n; i++) mx = fmax(mx, map[i]);
      memcpy(xp, x, n * sizeof *xp);
      for (size_t i = 0; i < n; i++) {
        xp[i] = x[i] + h; assert_int_equal(attr_score(a, xp, c, &fp, NULL, &err), CB_OK);
        xp[i] = x[i] - h; assert_int_equal(attr_score(a, xp, c, &fm, NULL, &err), CB_OK);
        xp[i] = x[i];
        if (fabs(map[i] - fabs((fp - fm) / (2 * h))) > 1e-5 * mx)
          fail_msg("%s row %zu input %zu: saliency %.10g, |FD| %.10g", ref_nets[k], r, i, map[i], fabs((fp - fm) / (2 * h)));
      }
    }
    free(map); free(xp);
    attr_free(a);
    cb_data_free(d);
    cb_net_free(net);
  }
}

/* A random point of the set: kind 0 inside, 1 boundary. */
static void sample_point(const cb_set *s, int kind, double *y)
{
  size_t n = s->n;
  double nr = 0, rad;
  if (s->norm == CB_NORM_INF) {
    for (size_t i = 0; i < n; i++) y[i] = s->center[i] + (kind ? (rnd(0, 1) < 0.5 ? -1 : 1) : rnd(-1, 1)) * s->eps;
  } else {
    for (size_t i = 0; i < n; i++) { y[i] = rnd(-1, 1) + rnd(-1, 1) + rnd(-1, 1); nr += y[i] * y[i]; }
    rad = s->eps * (kind ? 1 - 1e-12 : pow(rnd(0, 1), 1.0 / (double)n));
    for (size_t i = 0; i < n; i++) y[i] = s->center[i] + y[i] / sqrt(nr) * rad;
  }
}

typedef struct probe { attr_ctx *a; const cb_set *s; int c; const double *map0, *lb, *ub, *mc; double *m; long checked; } probe;

/* Checks map(y) against the bounds and the max change; returns ||map(y) - map(x)||_2. */
static double check_y(probe *p, const double *y, const char *tag)
{
  size_t n = attr_map_size(p->a);   /* H x W when channels are reduced */
  double d1 = 0, d2 = 0, di = 0;
  if (!set_contains(p->s, y)) return -1;
  map_ok(p->a, y, p->c, p->m);
  for (size_t i = 0; i < n; i++) {
    double e = fabs(p->m[i] - p->map0[i]);
    if (!(p->lb[i] <= p->m[i] && p->m[i] <= p->ub[i]))
      fail_msg("%s: feature %zu: map %.17g outside the certified [%.17g, %.17g]", tag, i, p->m[i], p->lb[i], p->ub[i]);
    d1 += e; d2 += e * e; di = fmax(di, e);
  }
  d2 = sqrt(d2);
  if (d1 > p->mc[0] || d2 > p->mc[1] || di > p->mc[2]) fail_msg("%s: sampled change (%g, %g, %g) above the certified (%g, %g, %g)", tag, d1, d2, di, p->mc[0], p->mc[1], p->mc[2]);
  p->checked++;
  return d2;
}

/* 400 inside + 300 boundary + 300 hill-climbing steps maximising the change. */
static void sample_ball(probe *p, const char *tag)
{
  size_t n = p->s->n;
  double *y = malloc(n * sizeof *y), *best = malloc(n * sizeof *best), fb = -1, f;
  for (int t = 0; t < 700; t++) {
    sample_point(p->s, t >= 400, y);
    attack_project(p->s, y);   /* boundary points: a few ulps inside */
    if ((f = check_y(p, y, tag)) > fb) { fb = f; memcpy(best, y, n * sizeof *y); }
  }
  for (int t = 0; t < 300; t++) {
    double step = p->s->eps * (t < 150 ? 0.5 : 0.1);
    for (size_t i = 0; i < n; i++) y[i] = best[i] + rnd(-step, step);
    attack_project(p->s, y);
    if ((f = check_y(p, y, tag)) > fb) { fb = f; memcpy(best, y, n * sizeof *y); }
  }
  free(y); free(best);
}

static void test_cert_bounds(void **st)
{
  (void)st;
  struct { cb_norm norm; double eps; int clip; } balls[4] = {{CB_NORM_INF, 0.01, 0}, {CB_NORM_INF, 0.03, 0}, {CB_NORM_2, 0.1, 0},
                                                               {CB_NORM_2, 0.3, 1}};
  attr_method ms[3] = {AM_SALIENCY, AM_GRADXINPUT, AM_IG};
  for (int k = 0; k < 4; k++) {
    cb_net *net = must_load(ref_nets[k]);
    size_t n = cb_net_input_size(net);
    cb_data *d = must_csv("nets/digits_test20.csv", n);
    double *map0 = malloc(6 * n * sizeof *map0), *lb = map0 + n, *ub = lb + n, *m = ub + n, *clo = m + n, *chi = clo + n, mc[3];
    long total = 0;
    for (size_t i = 0; i < n; i++) { clo[i] = 0; chi[i] = 1; }   /* the digits' pixel range */
    for (int mi = 0; mi < 3; mi++) {
      attr_ctx *a = ctx(net, ms[mi], 8);
      for (int b = 0; b < 4; b++)
        for (size_t r = 0; r < 2; r++) {
          const double *x = cb_data_x(d, r);
          cb_set s = {balls[b].norm, balls[b].eps, n, x, balls[b].clip ? clo : NULL, balls[b].clip ? chi : NULL};
          cb_error err = {0};
          char tag[160];
          probe p = {a, &s, cb_data_label(d, r), map0, lb, ub, mc, m, 0};
          snprintf(tag, sizeof tag, "%s %s L%s eps %g%s row %zu", ref_nets[k], attr_method_name[ms[mi]], balls[b].norm == CB_NORM_INF ? "inf" : "2",
                   balls[b].eps, balls[b].clip ? " clip [0,1]" : "", r);
          map_ok(a, x, p.c, map0);
          if (attr_cert_bounds(a, &s, p.c, lb, ub, &err) != CB_OK) fail_msg("%s: %s", tag, err.msg);
          attr_max_change(map0, lb, ub, n, mc);
          sample_ball(&p, tag);
          if (p.checked < 900) fail_msg("%s: only %ld points inside the set", tag, p.checked);
          total += p.checked;
        }
      attr_free(a);
    }
    printf("  %s: %ld sampled maps inside the certified bounds\n", ref_nets[k], total);
    free(map0);
    cb_data_free(d);
    cb_net_free(net);
  }
}

/* The same containment on random nets of every node kind (randnet.h), the
   three methods, L-inf and L2 balls, 1000 points each. */
static void test_cert_random_nets(void **st)
{
  (void)st;
  cb_net *nets[3] = {net_dense(), net_conv(), net_residual()};
  attr_method ms[3] = {AM_SALIENCY, AM_GRADXINPUT, AM_IG};
  for (int k = 0; k < 3; k++) {
    cb_net *net = nets[k];
    cb_error err = {0};
    size_t n, no;
    net->output = net->n - 1;
    if (net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
    n = cb_net_input_size(net); no = cb_net_output_size(net);
    double *x = malloc(5 * n * sizeof *x), *map0 = x + n, *lb = map0 + n, *ub = lb + n, *m = ub + n, mc[3];
    for (int mi = 0; mi < 3; mi++) {
      attr_ctx *a = ctx(net, ms[mi], 6);
      for (int b = 0; b < 2; b++) {
        cb_set s = {b ? CB_NORM_2 : CB_NORM_INF, b ? 0.2 : 0.05, n, x, NULL, NULL};
        char tag[96];
        probe p = {a, &s, (int)(no - 1), map0, lb, ub, mc, m, 0};
        for (size_t i = 0; i < n; i++) x[i] = rnd(-1, 1);
        snprintf(tag, sizeof tag, "random net %d %s ball %d", k, attr_method_name[ms[mi]], b);
        map_ok(a, x, p.c, map0);
        if (attr_cert_bounds(a, &s, p.c, lb, ub, &err) != CB_OK) fail_msg("%s: %s", tag, err.msg);
        attr_max_change(map0, lb, ub, n, mc);
        sample_ball(&p, tag);
        if (p.checked < 900) fail_msg("%s: only %ld points inside the set", tag, p.checked);
      }
      attr_free(a);
    }
    free(x);
    cb_net_free(net);
  }
}

/* Channel reduction (net_conv: 2 input channels): the reduced map is the
   max over channels of the unreduced one, for a gradient and a perturbation
   method; the reduced certified bounds were checked by test_cert_random_nets. */
static void test_reduce(void **st)
{
  (void)st;
  cb_net *net = net_conv();
  cb_error err = {0};
  attr_method ms[2] = {AM_GRADXINPUT, AM_OCCLUSION};
  net->output = net->n - 1;
  assert_int_equal(net_check(net, &err), CB_OK);
  size_t n = cb_net_input_size(net), hw = 49;
  double *x = malloc(3 * n * sizeof *x), *full = x + n, *red = full + n;
  for (size_t i = 0; i < n; i++) x[i] = rnd(-1, 1);
  for (int k = 0; k < 2; k++) {
    attr_ctx *a = ctx(net, ms[k], 8), *b;
    attr_opt o = a->opt;
    o.reduce = 0;
    assert_non_null(b = attr_new(net, &o, &err));
    assert_int_equal(attr_map_size(a), hw);
    assert_int_equal(attr_map_size(b), n);
    map_ok(a, x, 1, red);
    map_ok(b, x, 1, full);
    for (size_t p = 0; p < hw; p++) assert_true(red[p] == fmax(full[p], full[hw + p]));
    attr_free(a); attr_free(b);
  }
  free(x);
  cb_net_free(net);
}

/* EVA: pinned bound sound and >= unpinned; map reproducible bit for bit. */
static void test_eva(void **st)
{
  (void)st;
  for (int k = 0; k < 2; k++) {
    cb_net *net = must_load(ref_nets[k]);
    size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
    cb_data *d = must_csv("nets/digits_test20.csv", n);
    attr_ctx *a = ctx(net, AM_EVA, 50);
    double *m1 = malloc(3 * n * sizeof *m1), *m2 = m1 + n, *y = m2 + n, m0, mu, *out = malloc(no * sizeof *out);
    unsigned char *pin = calloc(n, 1);
    cb_error err = {0};
    const double *x = cb_data_x(d, 0);
    int c = cb_data_label(d, 0), raw_ge = 0;
    a->opt.eps = 0.02;
    map_ok(a, x, c, m1);
    map_ok(a, x, c, m2);
    assert_memory_equal(m1, m2, n * sizeof *m1);
    for (size_t i = 0; i < n; i++) assert_true(m1[i] >= 0);
    assert_int_equal(attr_eva_margin(a, x, c, NULL, &m0, &err), CB_OK);
    for (size_t g = 0; g < n; g += 7) {
      memset(pin, 0, n);
      for (size_t i = g; i < g + 7 && i < n; i++) pin[i] = 1;
      assert_int_equal(attr_eva_margin(a, x, c, pin, &mu, &err), CB_OK);
      raw_ge += mu >= m0;
      for (int t = 0; t < 200; t++) {   /* soundness of the pinned bound */
        double mm = INFINITY;
        for (size_t i = 0; i < n; i++) y[i] = pin[i] ? x[i] : x[i] + (t & 1 ? (rnd(0, 1) < 0.5 ? -1 : 1) : rnd(-1, 1)) * a->opt.eps;
        assert_int_equal(cb_net_forward(net, y, 1, out, &err), CB_OK);
        for (size_t j = 0; j < no; j++) if ((int)j != c) mm = fmin(mm, out[c] - out[j]);
        if (mm < mu) fail_msg("%s: sampled margin %g below the pinned bound %g", ref_nets[k], mm, mu);
      }
    }
    printf("  %s: EVA raw pinned bound >= unpinned for %d of %zu groups\n", ref_nets[k], raw_ge, (n + 6) / 7);
    free(m1); free(out); free(pin);
    attr_free(a);
    cb_data_free(d);
    cb_net_free(net);
  }
}

static void test_gradcam(void **st)
{
  (void)st;
  cb_net *net = must_load("nets/digits_cnn.onnx");
  size_t n = cb_net_input_size(net);
  cb_data *d = must_csv("nets/digits_test20.csv", n);
  attr_opt o;
  cb_error err = {0};
  attr_ctx *a;
  double *map = malloc(n * sizeof *map), *G = malloc(n * sizeof *G), s = 0;
  for (int pp = 0; pp < 2; pp++) {
    a = ctx(net, pp ? AM_GRADCAMPP : AM_GRADCAM, 50);
    map_ok(a, cb_data_x(d, 0), cb_data_label(d, 0), map);
    for (size_t i = 0; i < n; i++) { assert_true(map[i] >= 0 && isfinite(map[i])); s += map[i]; }
    /* grad_adjoint at the input is the input gradient. */
    assert_int_equal(attr_score(a, cb_data_x(d, 0), 2, NULL, G, &err), CB_OK);
    assert_memory_equal(grad_adjoint(a->g, 0), G, n * sizeof *G);
    attr_free(a);
  }
  assert_true(s > 0);
  attr_opt_init(&o);
  o.method = AM_GRADCAM;
  o.node = "/Relu";
  assert_null(attr_new(net, &o, &err));
  assert_non_null(strstr(err.msg, "not a CONV"));
  free(map); free(G);
  cb_data_free(d);
  cb_net_free(net);
}

/* Deletion / Insertion AUC on the linear model, one feature per step, against
   a direct computation: f after the t most important features moved. */
static void test_deletion(void **st)
{
  (void)st;
  cb_net *net = linear_net();
  const double *W = net->node[1].p.aff.W, *b = net->node[1].p.aff.b;
  double x[16], map[16], auc, z[16];
  int ord[16];
  cb_error err = {0};
  attr_ctx *a = ctx(net, AM_GRADXINPUT, 50);
  for (int i = 0; i < 16; i++) x[i] = rnd(0, 1);
  map_ok(a, x, 1, map);
  for (int i = 0; i < 16; i++) ord[i] = i;
  for (int i = 1; i < 16; i++)   /* insertion sort, decreasing map */
    for (int j = i; j > 0 && map[ord[j]] > map[ord[j - 1]]; j--) { int t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t; }
  for (int ins = 0; ins < 2; ins++) {
    double exp = 0, prev = 0;
    for (int i = 0; i < 16; i++) z[i] = ins ? 0 : x[i];
    for (int t = 0; t <= 16; t++) {
      double f = b[1];
      if (t) z[ord[t - 1]] = ins ? x[ord[t - 1]] : 0;
      for (int i = 0; i < 16; i++) f += W[16 + i] * z[i];
      if (t) exp += 0.5 * (prev + f) / 16;
      prev = f;
    }
    assert_int_equal(attr_deletion_auc(a, x, 1, map, ins, 16, &auc, &err), CB_OK);
    if (fabs(auc - exp) > 1e-12) fail_msg("%s AUC %.17g, expected %.17g", ins ? "insertion" : "deletion", auc, exp);
  }
  /* MuFidelity of Gradient x Input on a linear model, baseline 0: the drop
     is exactly the attribution sum, so the correlation is 1. */
  assert_int_equal(attr_mufidelity(a, x, 1, map, 2, 0.3, 100, 3, &auc, &err), CB_OK);
  if (fabs(auc - 1) > 1e-9) fail_msg("MuFidelity %.17g, expected 1", auc);
  attr_free(a);
  cb_net_free(net);
}

/* grad_adjoint at the CONV nodes of digits_cnn against central differences
   of f_c in that node's value (nodes after it recomputed by fwd_node). */
static void test_adjoint_fd(void **st)
{
  (void)st;
  cb_net *net = must_load("nets/digits_cnn.onnx");
  size_t n = cb_net_input_size(net), no = cb_net_output_size(net);
  cb_data *d = must_csv("nets/digits_test20.csv", n);
  cb_error err = {0};
  cb_grad *g = grad_new(net, 1, &err);
  double **act = fwd_alloc(net, 1), *C = calloc(no, sizeof *C), *G = malloc(n * sizeof *G);
  const double h = 1e-6;
  int c = cb_data_label(d, 3), convs = 0;
  assert_non_null(g); assert_non_null(act);
  C[c] = 1;
  assert_int_equal(grad_eval(g, cb_data_x(d, 3), C, 1, G, NULL, &err), CB_OK);
  for (int k = 1; k < net->n; k++) {
    const double *adj = grad_adjoint(g, k);
    double mx = 0;
    if (net->node[k].kind != CB_CONV) continue;
    convs++;
    for (size_t e = 0; e < net->node[k].size; e++) mx = fmax(mx, fabs(adj[e]));
    for (size_t e = 0; e < net->node[k].size; e += 5) {
      double fp, fm;
      memcpy(act[0], cb_data_x(d, 3), n * sizeof(double));
      assert_int_equal(fwd_all(net, 1, act, &err), CB_OK);
      for (int sgn = 0; sgn < 2; sgn++) {
        act[k][e] = grad_value(g, k)[e] + (sgn ? -h : h);
        for (int i = k + 1; i < net->n; i++) assert_int_equal(fwd_node(net, i, 1, act, &err), CB_OK);
        if (sgn) fm = act[net->output][c]; else fp = act[net->output][c];
      }
      if (fabs(adj[e] - (fp - fm) / (2 * h)) > 1e-5 * mx)
        fail_msg("node %d entry %zu: adjoint %.10g, finite difference %.10g", k, e, adj[e], (fp - fm) / (2 * h));
    }
  }
  assert_int_equal(convs, 2);
  free(C); free(G);
  fwd_free(act);
  grad_free(g);
  cb_data_free(d);
  cb_net_free(net);
}

static void test_topk_change(void **st)
{
  (void)st;
  double lb[5] = {5, 3, 0, 2.9, -1}, ub[5] = {6, 4, 1, 3.5, 0}, map[5] = {5.5, 3.5, 0.5, 3, -0.5}, mc[3];
  int idx[5];
  assert_int_equal(attr_certified_topk(lb, ub, 5, 1, idx), 1);
  assert_int_equal(idx[0], 0);
  assert_int_equal(attr_certified_topk(lb, ub, 5, 2, idx), 1);   /* 1 and 3 overlap */
  assert_int_equal(attr_certified_topk(lb, ub, 5, 3, idx), 3);
  assert_int_equal(idx[2], 3);
  attr_max_change(map, lb, ub, 5, mc);
  assert_true(mc[2] >= 0.5 && mc[2] < 0.5 + 1e-12);
  assert_true(mc[0] >= 2.5 && mc[0] < 2.5 + 1e-12);
  {   /* the map's own top-k: largest first, ties by index, at most n */
    double m[6] = {1, 3, 2, 3, -1, 2};
    assert_int_equal(attr_topk(m, 6, 3, idx), 3);
    assert_int_equal(idx[0], 1); assert_int_equal(idx[1], 3); assert_int_equal(idx[2], 2);
    assert_int_equal(attr_topk(m, 2, 5, idx), 2);
    assert_int_equal(idx[0], 1); assert_int_equal(idx[1], 0);
    assert_int_equal(attr_topk(m, 6, 0, idx), 0);
  }
}

/* Failing-allocator sweep: every allocation failure of attr_new, each
   method's map and the certified bounds is reported as out of memory (no
   crash; leaks show under `make asan` / `make valgrind`). */
static void test_oom(void **st)
{
  (void)st;
  cb_net *net = must_load("nets/digits_cnn.onnx");
  size_t n = cb_net_input_size(net);
  cb_data *d = must_csv("nets/digits_test20.csv", n);
  double *map = malloc(3 * n * sizeof *map);
  const double *x = cb_data_x(d, 0);
  cb_set s = {CB_NORM_INF, 0.01, n, x, NULL, NULL};
  for (int m = 0; m < AM_COUNT; m++) {
    int k, ok = 0;
    if (m == AM_ROLLOUT) continue;   /* an attention method: test_attr_rollout sweeps it */
    for (k = 0; k < 5000 && !ok; k++) {
      attr_opt o;
      cb_error err = {0};
      attr_ctx *a;
      int rc;
      attr_opt_init(&o);
      o.method = (attr_method)m;
      o.steps = 3; o.samples = 70; o.eps = 0.01;
      if (m == AM_EVA) o.patch = 4;   /* 4 groups: fewer allocation points */
      if (m == AM_SOBOL) o.samples = 16;   /* a power of two */
      o.grid = 4;
      cb_alloc_fail_after(k);
      a = attr_new(net, &o, &err);
      rc = a ? attr_map(a, x, 1, map, &err) : err.status;
      if (rc == CB_OK && (m == AM_SALIENCY || m == AM_GRADXINPUT || m == AM_IG)) rc = attr_cert_bounds(a, &s, 1, map + n, map + 2 * n, &err);
      cb_alloc_fail_after(-1);
      attr_free(a);
      if (rc == CB_OK) ok = 1;
      else if (rc != CB_ENOMEM || !err.msg[0]) fail_msg("%s, failing allocation %d: status %d: %s", attr_method_name[m], k, rc, err.msg);
    }
    if (!ok) fail_msg("%s: still failing after %d allocation failure points", attr_method_name[m], k);
  }
  free(map);
  cb_data_free(d);
  cb_net_free(net);
}

static char cerbere[1024], tmpdir[256];

static void sh(const char *cmd)
{
  int rc = system(cmd);
  if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) fail_msg("command failed (%d): %s", rc, cmd);
}

/* attribute --json: same bytes at 1 and 2 threads, maps equal the library's;
   audit --out: audit.json fields, an "audit" run in report.json, report.html. */
static void test_cli(void **st)
{
  (void)st;
  char cmd[4096], p1[512], p2[512];
  char *a1, *a2;
  cJSON *j, *s;
  cb_net *net = must_load("nets/digits_mlp.onnx");
  size_t n = cb_net_input_size(net);
  cb_data *d = must_csv("nets/digits_test20.csv", n);
  attr_ctx *a = ctx(net, AM_IG, 16);
  double *map = malloc(n * sizeof *map);
  int k = 0;
  snprintf(p1, sizeof p1, "%s/a1.json", tmpdir);
  snprintf(p2, sizeof p2, "%s/a2.json", tmpdir);
  for (int t = 1; t <= 2; t++) {
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=%d %s attribute nets/digits_mlp.onnx --data nets/digits_test20.csv --method ig --steps 16 "
             "--rows 0:6 --quiet --json %s > /dev/null", t, cerbere, t == 1 ? p1 : p2);
    sh(cmd);
  }
  a1 = slurp(p1); a2 = slurp(p2);
  assert_non_null(a1); assert_non_null(a2);
  assert_string_equal(a1, a2);
  j = cJSON_Parse(a1);
  assert_non_null(j);
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(j, "samples")) {
    const cJSON *m = cJSON_GetObjectItem(s, "map");
    int r = (int)cJSON_GetObjectItem(s, "index")->valuedouble;
    assert_int_equal(r, k);
    assert_int_equal(cJSON_GetArraySize(m), (int)n);
    map_ok(a, cb_data_x(d, (size_t)r), cb_data_label(d, (size_t)r), map);
    for (size_t i = 0; i < n; i++) assert_true(cJSON_GetArrayItem(m, (int)i)->valuedouble == map[i]);
    k++;
  }
  assert_int_equal(k, 6);
  cJSON_Delete(j); free(a1); free(a2);
  snprintf(cmd, sizeof cmd, "%s audit nets/digits_mlp.onnx --data nets/digits_test20.csv --method gradxinput --norm 2 --eps 0.1 "
           "--rows 0:3 --quiet --out %s/aud > /dev/null", cerbere, tmpdir);
  sh(cmd);
  snprintf(p1, sizeof p1, "%s/aud/audit.json", tmpdir);
  assert_non_null(j = load_json(p1));
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(j, "samples")) {
    static const char *f[] = {"index", "map", "map_lb", "map_ub", "max_change", "stability", "certified_topk", "stable"};
    const cJSON *lb = cJSON_GetObjectItem(s, "map_lb"), *ub = cJSON_GetObjectItem(s, "map_ub"), *m = cJSON_GetObjectItem(s, "map");
    for (int q = 0; q < 8; q++) if (!cJSON_GetObjectItem(s, f[q])) fail_msg("audit.json: sample lacks '%s'", f[q]);
    for (int i = 0; i < (int)n; i++)
      assert_true(cJSON_GetArrayItem(lb, i)->valuedouble <= cJSON_GetArrayItem(m, i)->valuedouble &&
                  cJSON_GetArrayItem(m, i)->valuedouble <= cJSON_GetArrayItem(ub, i)->valuedouble);
  }
  cJSON_Delete(j);
  snprintf(p1, sizeof p1, "%s/aud/report.json", tmpdir);
  assert_non_null(j = load_json(p1));
  s = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "runs"), 0);
  assert_string_equal(cJSON_GetObjectItem(s, "command")->valuestring, "audit");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s, "samples")), 3);
  cJSON_Delete(j);
  snprintf(p1, sizeof p1, "%s/aud/report.html", tmpdir);
  assert_non_null(a1 = slurp(p1));
  assert_non_null(strstr(a1, "audit: nets/digits_mlp.onnx"));
  assert_non_null(strstr(a1, "Verdicts: "));   /* the three-valued verdicts explained */
  free(a1);
  free(map);
  attr_free(a);
  cb_data_free(d);
  cb_net_free(net);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest t[] = {
    cmocka_unit_test(test_linear_identities), cmocka_unit_test(test_ig_completeness),
    cmocka_unit_test(test_saliency_fd), cmocka_unit_test(test_cert_bounds), cmocka_unit_test(test_cert_random_nets),
    cmocka_unit_test(test_eva), cmocka_unit_test(test_gradcam), cmocka_unit_test(test_reduce), cmocka_unit_test(test_adjoint_fd), cmocka_unit_test(test_topk_change), cmocka_unit_test(test_deletion),
    cmocka_unit_test(test_cli), cmocka_unit_test(test_oom),
  };
  char *slash;
  int rc;
  (void)argc;
  snprintf(cerbere, sizeof cerbere, "%s", argv[0]);   /* B/tests/test_attr -> B/cerbere */
  slash = strrchr(cerbere, '/');
  if (slash) *slash = 0; else strcpy(cerbere, ".");
  slash = strrchr(cerbere, '/');
  if (slash) *slash = 0; else strcpy(cerbere, ".");
  strcat(cerbere, "/cerbere");
  snprintf(tmpdir, sizeof tmpdir, "/tmp/cb_test_attr_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  rc = cmocka_run_group_tests(t, NULL, NULL);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return rc;
}
