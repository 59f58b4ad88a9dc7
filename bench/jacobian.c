/*
** bench/jacobian.c: time per sample of the exact gradient and of the interval
** Jacobian (a measurement, not a test).  `make bench-jac`.
**
** Per network (nets/digits_{mlp,cnn,tanh,orth}.onnx on rows of
** nets/digits_test20.csv; ../shared/benchmarks/mnistfc mnist-net_256x6 on
** uniform [0,1) inputs, SKIPPED without ../shared), one thread (OpenBLAS 1):
**   forward   cb_net_forward, batch 1
**   grad      grad_eval of the q = no - 1 margin rows (forward included)
**   ijac      jac_interval of the q margin rows on a workspace whose bounds
**             are already computed (the backward pass alone)
**   ibp+ijac  ws_new + bounds_run(IBP) + jac_interval: a fresh ball
**   crown+ijac  the same with CROWN intermediate bounds
**   radius    radius_lip_search (CROWN, at most 16 balls, tol 1e-3), L2
** Balls: L2, eps 0.1 (digits, inputs in [0,1]) and 0.02 (mnist).
** FLOPs: F = sum over AFFINE 2 out in and CONV 2 cout hout wout cin/g kh kw
** (forward); grad = F + q F (q rows back through every linear node); ijac =
** 2 q F (centre and radius products).  GFLOP/s of grad and ijac are those
** counts over the median time, beside the dgemm rate (la_time_dgemm, n=512,
** measured at the start and the end: a drift > 20% means a busy machine).
** Each figure is the median of 7 measurements of >= 0.1 s of thread CPU time
** each (argument 1 changes it): CPU time, not wall time, because the machine
** is shared and a single-threaded run's CPU time is its idle-machine wall time.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "grad.h"
#include "jacobian.h"
#include "linalg.h"
#include "radius.h"

#define REPS 7

/* Thread CPU time: the run is single-threaded, and on a shared machine the
   CPU time of the thread is what an idle machine's wall time would be. */
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

typedef struct job {
  const char *what;
  const cb_bnet *bn;
  const lip_result *lr;
  cb_grad *g;
  cb_ws *ws;            /* bounds done, for "ijac" */
  const double *X;      /* rows of inputs */
  size_t rows, k;       /* rows available, next row */
  int label[32];
  double *C, *lo, *hi, *y;
  size_t q;
  double eps;
} job;

/* One call of the measured operation on the next row; exits on error. */
static void once(job *j)
{
  const cb_net *net = j->bn->net;
  size_t n = net->node[0].size, r = j->k++ % j->rows;
  const double *x = j->X + r * n;
  cb_error err = {0};
  int rc = CB_OK;
  if (!strcmp(j->what, "forward")) rc = cb_net_forward(net, x, 1, j->y, &err);
  else if (!strcmp(j->what, "grad")) rc = grad_eval(j->g, x, j->C, j->q, j->lo, j->y, &err);
  else if (!strcmp(j->what, "ijac")) rc = jac_interval(j->ws, j->C, j->q, j->lo, j->hi, &err);
  else if (!strcmp(j->what, "radius")) {
    radius_lip rad;
    radius_lip_opts o;
    radius_lip_opts_init(&o);
    rc = radius_lip_search(j->bn, j->lr, x, j->label[r], &o, &rad, &err);
  } else {
    cb_set s = {CB_NORM_2, j->eps, n, x, NULL, NULL};
    cb_ws *ws = ws_new(j->bn, &s, &err);
    rc = ws ? bounds_run(ws, j->what[0] == 'i' ? CB_IBP : CB_CROWN, &err) : CB_ENOMEM;
    if (rc == CB_OK) rc = jac_interval(ws, j->C, j->q, j->lo, j->hi, &err);
    ws_free(ws);
  }
  if (rc != CB_OK) { fprintf(stderr, "bench/jacobian: %s: %s\n", j->what, err.msg); exit(1); }
}

/* Median seconds per call: REPS measurements of >= min_time each. */
static double timeit(job *j, double min_time)
{
  double t[REPS];
  for (int r = 0; r < REPS; r++) {
    long calls = 0;
    double t0 = now(), t1;
    do { once(j); calls++; t1 = now(); } while (t1 - t0 < min_time);
    t[r] = (t1 - t0) / (double)calls;
  }
  qsort(t, REPS, sizeof *t, cmp_double);
  return t[REPS / 2];
}

/* Matmul FLOPs of one forward pass. */
static double net_flops(const cb_net *net)
{
  double f = 0;
  for (int i = 0; i < net->n; i++) {
    const cb_node *d = &net->node[i];
    if (d->kind == CB_AFFINE) f += 2.0 * (double)d->p.aff.out * (double)d->p.aff.in;
    if (d->kind == CB_CONV)
      f += 2.0 * (double)(d->p.conv.g.cout * d->p.conv.g.hout * d->p.conv.g.wout * d->p.conv.g.cin / d->p.conv.g.groups *
                          d->p.conv.g.kh * d->p.conv.g.kw);
  }
  return f;
}

/* dgemm GFLOP/s on 512 x 512 doubles, median of REPS (thread CPU time). */
static double dgemm_rate(void)
{
  size_t n = 512;
  double *A = calloc(3 * n * n, sizeof *A), t[REPS];
  for (size_t k = 0; k < 2 * n * n; k++) A[k] = (double)(k % 7) - 3;
  for (int r = 0; r < REPS; r++) {
    double t0 = now();
    la_gemm(0, 0, n, n, n, 1.0, A, n, A + n * n, n, 0.0, A + 2 * n * n, n);
    t[r] = now() - t0;
  }
  free(A);
  qsort(t, REPS, sizeof *t, cmp_double);
  return 2.0 * (double)(n * n * n) / t[REPS / 2] / 1e9;
}

/* One network: a markdown row per measured operation. */
static void bench_net(const char *path, const char *name, double eps, double min_time, double rate)
{
  static const char *ops[] = {"forward", "grad", "ijac", "ibp+ijac", "crown+ijac", "radius"};
  cb_net *net = NULL;
  cb_data *d = NULL;
  cb_bnet bn;
  lip_result *lr = NULL;
  lip_opts lo;
  cb_error err = {0};
  job j;
  size_t n, no;
  double F, tf = 0;
  memset(&j, 0, sizeof j);
  if (cb_net_load(path, &net, &err) != CB_OK || bnet_init(&bn, net, &err) != CB_OK) { fprintf(stderr, "%s\n", err.msg); exit(1); }
  n = cb_net_input_size(net);
  no = cb_net_output_size(net);
  lip_opts_init(&lo);
  if (lip_analyze(net, &lo, &lr, &err) != CB_OK) { fprintf(stderr, "%s\n", err.msg); exit(1); }
  j.bn = &bn; j.lr = lr; j.q = no - 1; j.eps = eps;
  j.rows = 20;
  if (n == 64 && cb_data_load_csv("nets/digits_test20.csv", 64, &d, &err) == CB_OK) {
    j.X = cb_data_x(d, 0);
    for (size_t r = 0; r < 20; r++) j.label[r] = cb_data_label(d, r);
  } else {
    double *X = malloc(20 * n * sizeof *X), *y = malloc(no * sizeof *y);
    uint64_t s = 7;
    for (size_t k = 0; k < 20 * n; k++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; X[k] = (double)(s >> 11) * 0x1.0p-53; }
    for (size_t r = 0; r < 20; r++) { cb_net_forward(net, X + r * n, 1, y, &err); j.label[r] = (int)cb_argmax(y, no); }
    j.X = X;
    free(y);
  }
  j.C = calloc(j.q * no, sizeof *j.C);
  j.lo = malloc(j.q * n * sizeof *j.lo);
  j.hi = malloc(j.q * n * sizeof *j.hi);
  j.y = malloc(no * sizeof *j.y);
  j.g = grad_new(net, j.q, &err);
  jac_margin_rows(no, 0, j.C);
  {
    cb_set s = {CB_NORM_2, eps, n, j.X, NULL, NULL};
    j.ws = ws_new(&bn, &s, &err);
    if (!j.ws || bounds_run(j.ws, CB_CROWN, &err) != CB_OK) { fprintf(stderr, "%s\n", err.msg); exit(1); }
  }
  F = net_flops(net);
  for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
    double t, fl = 0;
    j.what = ops[k];
    j.k = 0;
    t = timeit(&j, min_time);
    if (k == 0) tf = t;
    if (!strcmp(ops[k], "grad")) fl = F * (1.0 + (double)j.q);
    if (!strcmp(ops[k], "ijac")) fl = 2.0 * (double)j.q * F;
    printf("| %s | %s | %.1f | %.2f |", name, ops[k], t * 1e6, t / tf);
    if (k == 0) printf(" F = %.1f k |  |\n", F / 1e3);
    else if (fl > 0) printf(" %.2f | %.1f%% |\n", fl / t / 1e9, 100 * fl / t / 1e9 / rate);
    else printf("  |  |\n");
    fflush(stdout);
  }
  ws_free(j.ws);
  grad_free(j.g);
  free(j.C); free(j.lo); free(j.hi); free(j.y);
  if (!d) free((double *)j.X);
  cb_data_free(d);
  lip_result_free(lr);
  bnet_free(&bn);
  cb_net_free(net);
}

int main(int argc, char **argv)
{
  static const char *digits[] = {"mlp", "cnn", "tanh", "orth"};
  const char *mnist = "../shared/benchmarks/mnistfc/onnx/mnist-net_256x6.onnx";
  double min_time = argc > 1 ? atof(argv[1]) : 0.1, r0, r1;
  struct stat st;
  char path[64];
  la_set_threads(1);
  r0 = dgemm_rate();
  printf("dgemm rate (n = 512, 1 thread): %.2f GFLOP/s\n\n", r0);
  printf("| network | operation | us / sample | x forward | GFLOP/s | of dgemm |\n|---|---|---:|---:|---:|---:|\n");
  for (int k = 0; k < 4; k++) {
    char name[32];
    snprintf(path, sizeof path, "nets/digits_%s.onnx", digits[k]);
    snprintf(name, sizeof name, "digits_%s", digits[k]);
    bench_net(path, name, 0.1, min_time, r0);
  }
  if (stat(mnist, &st) == 0) bench_net(mnist, "mnist-net_256x6", 0.02, min_time, r0);
  else printf("| mnist-net_256x6 | SKIPPED (../shared absent) | | | | |\n");
  r1 = dgemm_rate();
  printf("\ndgemm rate at the end: %.2f GFLOP/s%s\n", r1, fabs(r1 - r0) > 0.2 * r0 ? "  WARNING: drift > 20%, machine busy" : "");
  return 0;
}
