/*
** bench/perturb.c: cost of the perturbation attributions (lime, kernelshap,
** sobol, hsic, rise, occlusion) in forward-pass multiples, and the rate of
** their batched forward passes against the same run's dgemm rate (a
** measurement, not a test).  `make bench-perturb`, or
**   build/bench/perturb NET CSV [NET CSV ...]
** (default nets/digits_cnn.onnx and /work/shared's mnist-net_256x6.onnx with
** the first rows of nets/digits_test.csv ... not its input size: an MNIST net
** gets rows of random pixels in [0, 1], seeded, as its inputs).
**
** One thread (OpenBLAS 1), thread CPU time, the median of REPS runs:
**   forward      one cb_net_forward of batch 1: the unit of "x fwd"
**   batched      cb_net_forward (fresh buffers per call) and fwd_ws_run (a workspace
**                kept across calls, what the methods use) of batch 128 (the methods' batch) and 256: GFLOP/s (FLOPs per sample F
**                = sum 2 out in (AFFINE) + 2 cout hout wout cin/g kh kw (CONV))
**   <method>     one map; forwards = the forward passes it makes; rate =
**                forwards F / time (everything the method does counted as
**                forward time: masks, estimator, regression included)
**   dgemm        la_gemm 256^3 and 1024^3 (one thread) in the same run
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "attr.h"
#include "forward.h"
#include "linalg.h"

#define REPS 5

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double flops(const cb_net *net)
{
  double f = 0;
  for (int i = 0; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    if (n->kind == CB_AFFINE) f += 2.0 * (double)n->p.aff.out * (double)n->p.aff.in;
    if (n->kind == CB_CONV) {
      const cb_conv *g = &n->p.conv.g;
      f += 2.0 * (double)g->cout * (double)g->hout * (double)g->wout * (double)g->cin / (double)g->groups * (double)g->kh * (double)g->kw;
    }
  }
  return f;
}

static double dgemm_rate(size_t n)
{
  double *A = cb_calloc(3 * n * n, sizeof *A), r[REPS];
  for (size_t i = 0; i < 2 * n * n; i++) A[i] = (double)(i % 7) - 3;
  la_gemm(0, 0, n, n, n, 1.0, A, n, A + n * n, n, 0.0, A + 2 * n * n, n);
  for (int k = 0; k < REPS; k++) {
    double t0 = now();
    la_gemm(0, 0, n, n, n, 1.0, A, n, A + n * n, n, 0.0, A + 2 * n * n, n);
    r[k] = 2e-9 * (double)n * (double)n * (double)n / (now() - t0);
  }
  cb_free(A);
  qsort(r, REPS, sizeof *r, cmp_double);
  return r[REPS / 2];
}

/* Median CPU seconds of fn over REPS runs of at least 0.05 s each. */
typedef struct job { const cb_net *net; attr_ctx *a; const double *x; double *y; size_t batch; int target; fwd_ws *w; } job;

static int run(job *j)
{
  cb_error err = {0};
  if (j->w) return fwd_ws_run(j->w, j->x, j->batch, j->y, &err);
  if (!j->a) return cb_net_forward(j->net, j->x, j->batch, j->y, &err);
  return attr_map(j->a, j->x, j->target, j->y, &err);
}

static double measure(job *j)
{
  double t[REPS];
  for (int k = 0; k < REPS; k++) {
    long it = 0;
    double t0 = now(), t1;
    do { if (run(j) != CB_OK) { fprintf(stderr, "perturb: run failed\n"); exit(1); } it++; } while ((t1 = now()) - t0 < 0.05);
    t[k] = (t1 - t0) / (double)it;
  }
  qsort(t, REPS, sizeof *t, cmp_double);
  return t[REPS / 2];
}

static void bench_net(const char *path)
{
  cb_net *net = NULL;
  cb_error err = {0};
  size_t n, no;
  double *x, *y, F, tf, tb, tb2, tw, tw2, d256, d1024;
  uint64_t s = 42;
  int c, h, w;
  static const struct { attr_method m; const char *name; } ms[] = {
    {AM_LIME, "lime (N=500)"}, {AM_KERNELSHAP, "kernelshap (N=2000 pairs)"}, {AM_SOBOL, "sobol (grid 8, N=32)"},
    {AM_HSIC, "hsic (grid 8, N=500)"}, {AM_RISE, "rise (N=2000)"}, {AM_OCCLUSION, "occlusion (2x2/1)"},
  };
  if (onnx_load(path, &net, &err) != CB_OK) { printf("%s: SKIPPED (%s)\n", path, err.msg); return; }
  n = cb_net_input_size(net);
  no = cb_net_output_size(net);
  x = cb_alloc(256 * n * sizeof *x);
  y = cb_alloc(256 * (n > no ? n : no) * sizeof *y);
  for (size_t i = 0; i < 256 * n; i++) x[i] = attr_rng_unit(&s);
  F = flops(net);
  attr_image(net, &c, &h, &w);
  {
    job j1 = {net, NULL, x, y, 1, 0, NULL}, j128 = {net, NULL, x, y, 128, 0, NULL}, j256 = {net, NULL, x, y, 256, 0, NULL};
    job w128 = {net, NULL, x, y, 128, 0, fwd_ws_new(net, 128)}, w256 = {net, NULL, x, y, 256, 0, fwd_ws_new(net, 256)};
    tf = measure(&j1);
    tb = measure(&j128) / 128;
    tb2 = measure(&j256) / 256;
    tw = measure(&w128) / 128;
    tw2 = measure(&w256) / 256;
    fwd_ws_free(w128.w);
    fwd_ws_free(w256.w);
  }
  d256 = dgemm_rate(256);
  d1024 = dgemm_rate(1024);
  printf("\n### %s (%zu inputs as %dx%dx%d, %.0f FLOPs per forward)\n\n", path, n, c, h, w, F);
  printf("same-run dgemm (1 thread): %.1f GFLOP/s at 256^3, %.1f GFLOP/s at 1024^3\n\n", d256, d1024);
  printf("| what | ms per map | forwards | x fwd (batch 1) | GFLOP/s | %% of dgemm 1024 |\n|---|---|---|---|---|---|\n");
  printf("| forward, batch 1 | %.4f | 1 | 1 | %.2f | %.0f%% |\n", 1e3 * tf, 1e-9 * F / tf, 100 * 1e-9 * F / tf / d1024);
  printf("| forward, batch 128 (per sample; the methods' batch) | %.4f | 1 | %.2f | %.2f | %.0f%% |\n", 1e3 * tb, tb / tf, 1e-9 * F / tb, 100 * 1e-9 * F / tb / d1024);
  printf("| forward, batch 256 (per sample) | %.4f | 1 | %.2f | %.2f | %.0f%% |\n", 1e3 * tb2, tb2 / tf, 1e-9 * F / tb2, 100 * 1e-9 * F / tb2 / d1024);
  printf("| forward, batch 128, workspace kept (fwd_ws; the methods' path) | %.4f | 1 | %.2f | %.2f | %.0f%% |\n", 1e3 * tw, tw / tf, 1e-9 * F / tw, 100 * 1e-9 * F / tw / d1024);
  printf("| forward, batch 256, workspace kept | %.4f | 1 | %.2f | %.2f | %.0f%% |\n", 1e3 * tw2, tw2 / tf, 1e-9 * F / tw2, 100 * 1e-9 * F / tw2 / d1024);
  for (size_t q = 0; q < sizeof ms / sizeof *ms; q++) {
    attr_opt o;
    attr_ctx *a;
    double t, fw;
    int G;
    attr_opt_init(&o);
    o.method = ms[q].m;
    o.reduce = 0;
    if (!(a = attr_new(net, &o, &err))) { printf("| %s | %s |\n", ms[q].name, err.msg); continue; }
    G = a->opt.grid < h ? a->opt.grid : h;   /* square images here */
    switch (ms[q].m) {
    case AM_LIME: fw = a->opt.samples; break;
    case AM_KERNELSHAP: fw = (double)h * w <= 12 ? (double)(1 << (h * w)) : 2.0 * a->opt.samples + 2; break;
    case AM_SOBOL: fw = (double)a->opt.samples * (G * G + 1); break;
    case AM_HSIC: fw = a->opt.samples; break;
    case AM_RISE: fw = a->opt.samples; break;
    default: fw = (double)(h - a->opt.patch + 1) * (w - a->opt.patch + 1) + 1; break;
    }
    {
      job j = {net, a, x, y, 1, 0, NULL};
      t = measure(&j);
    }
    printf("| %s | %.3f | %.0f | %.0f | %.2f | %.0f%% |\n", ms[q].name, 1e3 * t, fw, t / tf, 1e-9 * F * fw / t,
           100 * 1e-9 * F * fw / t / d1024);
    attr_free(a);
  }
  cb_free(x);
  cb_free(y);
  cb_net_free(net);
}

int main(int argc, char **argv)
{
  la_set_threads(1);
  if (argc > 1) for (int i = 1; i < argc; i++) bench_net(argv[i]);
  else {
    bench_net("nets/digits_cnn.onnx");
    bench_net("/work/shared/benchmarks/mnistfc/onnx/mnist-net_256x6.onnx");
  }
  return 0;
}
