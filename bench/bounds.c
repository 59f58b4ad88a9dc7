/*
** Bounds benchmark (a measurement, not a test): median milliseconds per
** sample of the margin query (intermediate bounds + margin lower bounds, as
** auto_LiRPA's `median_ms_margins` times it) for IBP, CROWN, CROWN-IBP and
** alpha-CROWN on the 4 reference nets x 6 balls x 20 samples, single thread,
** next to auto_LiRPA's figures from tests/data/ref/<net>.json and their
** ratio; then CROWN on two VNN-COMP nets from ../shared (skipped when absent)
** with the FLOPs of its backward passes (cb_ws.flops) and the achieved
** GFLOP/s against the single-thread dgemm rate measured in the same run.
** Each query: best of 3 runs, wall clock and (separately) process CPU time,
** which is less disturbed when other work shares the machine.
**   usage: build/bench/bounds [--out FILE] [--net NAME]  (NAME: one reference
**   net only, e.g. digits_cnn, and no VNN-COMP nets: a quick loop)
*/
#include <cjson/cJSON.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bounds.h"
#include "linalg.h"

static double now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

static double median(double *v, int n) { qsort(v, (size_t)n, sizeof *v, cmp); return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]); }

static double last_flops, last_cpu;   /* FLOPs and CPU ms of the last timed query */

static double cpu_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

/* Milliseconds of one margin query (best of 3 runs, to skip cold caches). */
static double time_query(const cb_bnet *bn, const cb_set *s, cb_method m, const double *C, size_t q)
{
  double best = 1e30, lb[64];
  last_cpu = 1e30;
  for (int r = 0; r < 3; r++) {
    cb_error err = {0};
    double t0 = now_ms(), c0 = cpu_ms();
    cb_ws *ws = ws_new(bn, s, &err);
    if (!ws || bounds_run(ws, m, &err) != CB_OK || bounds_spec(ws, C, q, lb, NULL, &err) != CB_OK) {
      fprintf(stderr, "bench: %s\n", err.msg);
      exit(1);
    }
    if (now_ms() - t0 < best) best = now_ms() - t0;
    if (cpu_ms() - c0 < last_cpu) last_cpu = cpu_ms() - c0;
    last_flops = ws->flops;
    ws_free(ws);
  }
  return best;
}

static char *slurp(const char *path)
{
  FILE *f = fopen(path, "rb");
  long n;
  char *s;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END); n = ftell(f); fseek(f, 0, SEEK_SET);
  s = malloc((size_t)n + 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
  if (s) s[n] = 0;
  fclose(f);
  return s;
}

static void reference_net(const char *name, FILE *out)
{
  static const char *mn[4] = {"IBP", "CROWN", "CROWN-IBP", "alpha-CROWN"};
  static const cb_method mc[4] = {CB_IBP, CB_CROWN, CB_CROWN_IBP, CB_ALPHA_CROWN};
  char p[256], *txt;
  cb_net *net = NULL;
  cb_data *d = NULL;
  cb_bnet bn;
  cb_error err = {0};
  cJSON *ref;
  snprintf(p, sizeof p, "tests/data/ref/%s.json", name);
  txt = slurp(p);
  ref = txt ? cJSON_Parse(txt) : NULL;
  snprintf(p, sizeof p, "nets/%s.onnx", name);
  if (!ref || cb_net_load(p, &net, &err) != CB_OK || cb_data_load_csv("nets/digits_test20.csv", 64, &d, &err) != CB_OK ||
      bnet_init(&bn, net, &err) != CB_OK) { fprintf(stderr, "bench: %s: %s\n", name, err.msg); exit(1); }
  for (int b = 0; b < 6; b++) {
    cJSON *sb = cJSON_GetArrayItem(cJSON_GetObjectItem(ref, "summary"), b);
    const char *norm = cJSON_GetObjectItem(sb, "norm")->valuestring;
    double eps = cJSON_GetObjectItem(sb, "eps")->valuedouble;
    for (int m = 0; m < 4; m++) {
      double ms[20], cpu[20], theirs = cJSON_GetObjectItem(cJSON_GetObjectItem(sb, "median_ms_margins"), mn[m])->valuedouble, mine;
      for (int s = 0; s < 20; s++) {
        double C[90] = {0};
        int y = cb_data_label(d, (size_t)s);
        cb_set set = {strcmp(norm, "2") ? CB_NORM_INF : CB_NORM_2, eps, 64, cb_data_x(d, (size_t)s), NULL, NULL};
        for (int k = 0, j = 0; j < 10; j++) if (j != y) { C[k * 10 + y] = 1; C[k * 10 + j] = -1; k++; }
        ms[s] = time_query(&bn, &set, mc[m], C, 9);
        cpu[s] = last_cpu;
      }
      mine = median(ms, 20);
      fprintf(out, "| %s | L%s %g | %s | %.4f | %.4f | %.2f | %.0fx |\n", name, norm, eps, mn[m], mine, median(cpu, 20),
              theirs, theirs / mine);
    }
  }
  bnet_free(&bn);
  cb_data_free(d);
  cb_net_free(net);
  cJSON_Delete(ref);
  free(txt);
}

static void vnncomp_net(const char *path, double eps, double gflops_dgemm, FILE *out)
{
  cb_net *net = NULL;
  cb_bnet bn;
  cb_error err = {0};
  size_t n;
  double *x, C[90] = {0}, ms[5], ms_med;
  uint64_t st = 1;
  if (cb_net_load(path, &net, &err) != CB_OK) { fprintf(out, "| %s | SKIPPED: %s |\n", path, err.msg); return; }
  n = cb_net_input_size(net);
  x = malloc(n * sizeof *x);
  for (size_t j = 0; j < n; j++) { st = st * 6364136223846793005ULL + 1; x[j] = (double)(st >> 11) / 9007199254740992.0; }
  for (int k = 0; k < 9; k++) { C[k * 10] = 1; C[k * 10 + k + 1] = -1; }
  bnet_init(&bn, net, &err);
  for (int r = 0; r < 5; r++) {
    cb_set s = {CB_NORM_INF, eps, n, x, NULL, NULL};
    ms[r] = time_query(&bn, &s, CB_CROWN, C, 9);
  }
  ms_med = median(ms, 5);
  fprintf(out, "| %s | Linf %g | CROWN | %.2f | %.3g | %.1f | %.0f%% |\n", path, eps, ms_med, last_flops,
          last_flops / ms_med * 1e-6, 100 * last_flops / ms_med * 1e-6 / gflops_dgemm);
  bnet_free(&bn);
  free(x);
  cb_net_free(net);
}

int main(int argc, char **argv)
{
  FILE *out = stdout, *la = fopen("/proc/loadavg", "r");
  time_t t = time(NULL);
  char load[64] = "?";
  double rate;
  const char *only = NULL;
  for (int a = 1; a + 1 < argc; a += 2) {
    if (!strcmp(argv[a], "--out") && !(out = fopen(argv[a + 1], "w"))) return 1;
    if (!strcmp(argv[a], "--net")) only = argv[a + 1];
  }
  mallopt(M_MMAP_THRESHOLD, 512 << 20);   /* as cerbere's main: freed matrices stay on the heap */
  mallopt(M_TRIM_THRESHOLD, 1024 << 20);
  if (la) { if (!fgets(load, sizeof load, la)) strcpy(load, "?"); fclose(la); }
  la_set_threads(1);
  rate = 2e-9 * 1024.0 * 1024.0 * 1024.0 / la_time_dgemm(1024, 5);
  fprintf(out, "bounds benchmark, %sload average at start: %s1-thread dgemm (n = 1024, best of 5): %.1f GFLOP/s\n",
          ctime(&t), load, rate);
  fprintf(out, "\n| net | ball | method | cerbere ms (median of 20) | cerbere CPU ms | auto_LiRPA ms | speed-up |\n"
               "|---|---|---|---|---|---|---|\n");
  if (only) {
    reference_net(only, out);
    if (out != stdout) fclose(out);
    return 0;
  }
  reference_net("digits_mlp", out);
  reference_net("digits_cnn", out);
  reference_net("digits_tanh", out);
  reference_net("digits_orth", out);
  fprintf(out, "\n| net | ball | method | ms (median of 5) | FLOP | GFLOP/s | of dgemm |\n|---|---|---|---|---|---|---|\n");
  vnncomp_net("../shared/benchmarks/mnistfc/onnx/mnist-net_256x6.onnx", 0.02, rate, out);
  vnncomp_net("../shared/benchmarks/oval21/onnx/cifar_base_kw.onnx", 2.0 / 255, rate, out);
  if (out != stdout) fclose(out);
  return 0;
}
