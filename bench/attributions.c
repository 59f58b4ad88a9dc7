/*
** bench/attributions.c: time per sample of every attribution method and of
** the certified bounds (a measurement, not a test).  `make bench-attr`;
** `build/bench/attributions --cam-ratio` for the Grad-CAM / Saliency ratio.
**
** Per reference net (nets/digits_{mlp,cnn,tanh,orth}.onnx, rows of
** nets/digits_test20.csv cycled), one thread (OpenBLAS 1), thread CPU time:
**   forward      cb_net_forward, batch 1 (the unit of every ratio)
**   saliency, gradxinput        1 gradient
**   ig           m = 50 (51 gradients)
**   smoothgrad   N = 50 noisy gradients (vargrad/squaregrad cost the same)
**   occlusion    2x2 patches, stride 1 (49 forwards on 8x8, batched by 64)
**   rise         N = 2000 masks (2000 forwards, batched by 64)
**   gradcam      1 gradient + the map (conv net only)
**   eva          L-inf 0.05, single features: 65 CROWN margin bounds
**   cert-*       certified bounds over the L-inf ball 0.01: saliency and
**                gradxinput = 1 CROWN + 1 interval Jacobian; ig (m = 50) = 51;
**                gradcam(pp) = 1 CROWN + 1 interval Jacobian stopped at the
**                node; smoothgrad / vargrad N = 50: 50 of each; occlusion:
**                50 CROWN score bounds; rise N = 200: 200; ig with 4 random
**                baselines: 204 CROWN + interval Jacobians over boxes
** Each figure is the median of REPS measurements of >= 0.05 s each; ratios
** are median / median(forward).  FLOPs of one forward pass F = sum over
** AFFINE 2 out in and CONV 2 cout hout wout cin/g kh kw.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "attr.h"
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

typedef struct job { attr_ctx *a; const cb_data *d; const cb_net *net; int kind; double *map, *lb, *ub; double eps; } job;

/* kind 0 forward, 1 map, 2 certified bounds; one sample. */
static int one(job *j, size_t r)
{
  cb_error err = {0};
  const double *x = cb_data_x(j->d, r % cb_data_rows(j->d));
  int c = cb_data_label(j->d, r % cb_data_rows(j->d));
  if (j->kind == 0) return cb_net_forward(j->net, x, 1, j->map, &err);
  if (j->kind == 1) return attr_map(j->a, x, c, j->map, &err);
  cb_set s = {CB_NORM_INF, j->eps, cb_net_input_size(j->net), x, NULL, NULL};
  return attr_cert_bounds(j->a, &s, c, j->lb, j->ub, &err);
}

/* Median seconds per sample. */
static double measure(job *j)
{
  double t[REPS];
  size_t r = 0;
  for (int k = 0; k < REPS; k++) {
    double t0 = now(), t1;
    long cnt = 0;
    do { if (one(j, r++) != CB_OK) { fprintf(stderr, "bench: a sample failed\n"); exit(4); } cnt++; } while ((t1 = now()) - t0 < 0.05);
    t[k] = (t1 - t0) / (double)cnt;
  }
  qsort(t, REPS, sizeof *t, cmp_double);
  return t[REPS / 2];
}

static double flops(const cb_net *net)
{
  double f = 0;
  for (int i = 0; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    if (n->kind == CB_AFFINE) f += 2.0 * (double)n->p.aff.out * (double)n->p.aff.in;
    if (n->kind == CB_CONV) {
      const cb_conv *g = &n->p.conv.g;
      f += 2.0 * (double)(g->cout * g->hout * g->wout * (g->cin / g->groups) * g->kh * g->kw);
    }
  }
  return f;
}

/*
** attributions --cam-ratio [ROUNDS]: the "certified Grad-CAM costs no
** more than 5x certified Saliency", measured side by side on digits_cnn
** (L-inf 0.01, rows of digits_test20.csv): ROUNDS (default 9) rounds, each
** timing cert saliency, cert gradcam and cert gradcam++ one after the other
** (median of REPS), and the median over rounds of the per-round ratios, so
** load changes between rounds cancel.
*/
static int cam_ratio(int rounds)
{
  static const attr_method ms[3] = {AM_SALIENCY, AM_GRADCAM, AM_GRADCAMPP};
  cb_net *net;
  cb_data *d;
  cb_error err = {0};
  attr_ctx *a[3];
  double *buf, t[3], r1[64], r2[64];
  if (rounds < 1 || rounds > 64) rounds = 9;
  if (cb_net_load("nets/digits_cnn.onnx", &net, &err) != CB_OK ||
      cb_data_load_csv("nets/digits_test20.csv", cb_net_input_size(net), &d, &err) != CB_OK) {
    fprintf(stderr, "bench: %s\n", err.msg);
    return 3;
  }
  buf = calloc(3 * cb_net_input_size(net) + 64, sizeof(double));
  for (int q = 0; q < 3; q++) {
    attr_opt o;
    attr_opt_init(&o);
    o.method = ms[q];
    if (!(a[q] = attr_new(net, &o, &err))) { fprintf(stderr, "bench: %s\n", err.msg); return 3; }
  }
  printf("| round | cert saliency ms | cert gradcam ms | cert gradcam++ ms | gradcam / saliency | gradcam++ / saliency |\n|---|---|---|---|---|---|\n");
  for (int r = 0; r < rounds; r++) {
    for (int q = 0; q < 3; q++) {
      size_t n = cb_net_input_size(net);
      job j = {a[q], d, net, 2, buf, buf + n, buf + 2 * n, 0.01};
      t[q] = measure(&j);
    }
    r1[r] = t[1] / t[0];
    r2[r] = t[2] / t[0];
    printf("| %d | %.3f | %.3f | %.3f | %.2f | %.2f |\n", r + 1, 1e3 * t[0], 1e3 * t[1], 1e3 * t[2], r1[r], r2[r]);
    fflush(stdout);
  }
  qsort(r1, (size_t)rounds, sizeof *r1, cmp_double);
  qsort(r2, (size_t)rounds, sizeof *r2, cmp_double);
  printf("\nmedian over %d rounds: cert gradcam / cert saliency %.2f, cert gradcam++ / cert saliency %.2f (target <= 5)\n",
         rounds, r1[rounds / 2], r2[rounds / 2]);
  for (int q = 0; q < 3; q++) attr_free(a[q]);
  free(buf);
  cb_data_free(d);
  cb_net_free(net);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc > 1 && !strcmp(argv[1], "--cam-ratio")) {
    la_set_threads(1);
    return cam_ratio(argc > 2 ? atoi(argv[2]) : 9);
  }
  static const char *nets[] = {"digits_mlp", "digits_cnn", "digits_tanh", "digits_orth"};
  struct { const char *name; attr_method m; int cert, samples, nb; } rows[] = {
    {"saliency", AM_SALIENCY, 0}, {"gradxinput", AM_GRADXINPUT, 0}, {"ig (m=50)", AM_IG, 0},
    {"smoothgrad (N=50)", AM_SMOOTHGRAD, 0}, {"occlusion (2x2/1)", AM_OCCLUSION, 0}, {"rise (N=2000)", AM_RISE, 0},
    {"gradcam", AM_GRADCAM, 0}, {"eva (inf 0.05)", AM_EVA, 0},
    {"lrp (eps/zplus)", AM_LRP, 0}, {"deeplift", AM_DEEPLIFT, 0}, {"guidedbackprop", AM_GUIDEDBP, 0},
    {"kernelshap (N=2000)", AM_KERNELSHAP, 0},
    {"cert saliency (inf 0.01)", AM_SALIENCY, 1}, {"cert gradxinput (inf 0.01)", AM_GRADXINPUT, 1}, {"cert ig m=50 (inf 0.01)", AM_IG, 1},
    {"cert gradcam (inf 0.01)", AM_GRADCAM, 1}, {"cert gradcampp (inf 0.01)", AM_GRADCAMPP, 1},
    {"cert smoothgrad N=50 (inf 0.01)", AM_SMOOTHGRAD, 1}, {"cert vargrad N=50 (inf 0.01)", AM_VARGRAD, 1},
    {"cert occlusion 2x2/1 (inf 0.01)", AM_OCCLUSION, 1}, {"cert rise N=200 (inf 0.01)", AM_RISE, 1, 200},
    {"cert ig m=50, 4 random baselines (inf 0.01)", AM_IG, 1, 0, 4},
  };
  int nr = (int)(sizeof rows / sizeof rows[0]);
  la_set_threads(1);
  printf("| method |");
  for (int k = 0; k < 4; k++) printf(" %s ms (x fwd) |", nets[k]);
  printf("\n|---|---|---|---|---|\n");
  double fwd[4];
  cb_net *net[4];
  cb_data *data[4];
  double *buf[4];
  for (int k = 0; k < 4; k++) {
    char p[128];
    cb_error err = {0};
    snprintf(p, sizeof p, "nets/%s.onnx", nets[k]);
    if (cb_net_load(p, &net[k], &err) != CB_OK || cb_data_load_csv("nets/digits_test20.csv", cb_net_input_size(net[k]), &data[k], &err) != CB_OK) {
      fprintf(stderr, "bench: %s\n", err.msg);
      return 3;
    }
    buf[k] = calloc(3 * cb_net_input_size(net[k]) + 64, sizeof(double));
    job j = {NULL, data[k], net[k], 0, buf[k], NULL, NULL, 0};
    fwd[k] = measure(&j);
  }
  printf("| forward | ");
  for (int k = 0; k < 4; k++) printf("%.4f (1) | ", 1e3 * fwd[k]);
  printf("\n");
  for (int r = 0; r < nr; r++) {
    printf("| %s |", rows[r].name);
    for (int k = 0; k < 4; k++) {
      attr_opt o;
      cb_error err = {0};
      size_t n = cb_net_input_size(net[k]);
      attr_opt_init(&o);
      o.method = rows[r].m;
      o.samples = rows[r].samples;
      o.n_baselines = rows[r].nb;
      attr_ctx *a = attr_new(net[k], &o, &err);
      if (!a) { printf(" n/a |"); continue; }
      job j = {a, data[k], net[k], 1 + rows[r].cert, buf[k], buf[k] + n, buf[k] + 2 * n, 0.01};
      double t = measure(&j);
      printf(" %.3f (%.0f) |", 1e3 * t, t / fwd[k]);
      fflush(stdout);
      attr_free(a);
    }
    printf("\n");
  }
  printf("\nforward FLOPs:");
  for (int k = 0; k < 4; k++) printf(" %s %.0f;", nets[k], flops(net[k]));
  printf("\n");
  for (int k = 0; k < 4; k++) { free(buf[k]); cb_data_free(data[k]); cb_net_free(net[k]); }
  return 0;
}
