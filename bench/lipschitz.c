/*
** Lipschitz benchmark: for every ONNX network of ../shared/benchmarks (or the
** files given as arguments), the wall time to bound every layer and the
** global constants in L2 (lip_analyze), the peak resident memory of that
** work, and for each conv layer its upper/lower ratio and method.
**
** `bench/lipschitz [--dense-max N] [NET.onnx ...]`; N = 0 puts every conv
** on the circulant bound (fast, looser), the default 4096 matches lip_opts.
** Each network runs in a forked child so that getrusage(RUSAGE_SELF) gives
** the peak memory of that network alone.  Output: markdown table rows
** (one per network, then one per conv layer), ready for bench/RESULTS_lip.md.
*/
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "lipschitz.h"

static size_t dense_max = 4096;  /* --dense-max N: convs with min(in, out) <= N get the Gram bound */

/* Monotonic wall clock, seconds. */
static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Name relative to the benchmarks folder: "<benchmark>/<file>". */
static const char *short_name(const char *path)
{
  const char *p = strstr(path, "benchmarks/");
  return p ? p + 11 : path;
}

/* One markdown row per conv layer: shape, bounds, ratio, method, time. */
static void conv_rows(const cb_net *net, const lip_result *r, const char *name)
{
  for (int k = 0; k < r->n_layers; k++) {
    const lip_layer *L = &r->layer[k];
    const cb_node *n = &net->node[L->node];
    if (n->kind != CB_CONV) continue;
    printf("| conv | %s | %s | %zu x %zu | %.6g | %.6g | %.6f | %s | %.3f |\n", name, n->name, L->rows,
           L->cols, L->b.lower, L->b.upper, L->b.upper / L->b.lower, L->b.method, L->seconds);
  }
}

/* Child: bounds one network, prints its rows, exits 0 or 1. */
static int run_one(const char *path)
{
  cb_net *net = NULL;
  lip_result *r = NULL;
  cb_error err = {0};
  lip_opts o;
  struct rusage ru;
  double t0, t;
  int nconv = 0;
  if (cb_net_load(path, &net, &err) != CB_OK) { printf("| net | %s | load error: %s |\n", short_name(path), err.msg); return 1; }
  lip_opts_init(&o);
  o.dense_max = dense_max;
  t0 = now();
  if (lip_analyze(net, &o, &r, &err) != CB_OK) {
    printf("| net | %s | error: %s |\n", short_name(path), err.msg);
    cb_net_free(net);
    return 1;
  }
  t = now() - t0;
  getrusage(RUSAGE_SELF, &ru);
  for (int k = 0; k < r->n_layers; k++) nconv += net->node[r->layer[k].node].kind == CB_CONV;
  printf("| net | %s | %d | %d | %.4g | %.4g | %.3f | %.1f |\n", short_name(path), r->n_layers, nconv,
         r->K_layerwise, r->K_merged, t, (double)ru.ru_maxrss / 1024.0);
  conv_rows(net, r, short_name(path));
  lip_result_free(r);
  cb_net_free(net);
  return 0;
}

/* Forks one child per network and prints the table; exit 1 if any failed. */
int main(int argc, char **argv)
{
  glob_t g;
  size_t n;
  char **files;
  int failed = 0;
  memset(&g, 0, sizeof g);
  if (argc > 2 && !strcmp(argv[1], "--dense-max")) { dense_max = (size_t)atol(argv[2]); argc -= 2; argv += 2; }
  if (argc > 1) { files = argv + 1; n = (size_t)(argc - 1); }
  else {
    if (glob("../shared/benchmarks/*/onnx/*.onnx", 0, NULL, &g) != 0) { printf("SKIPPED: ../shared/benchmarks not found\n"); return 0; }
    files = g.gl_pathv;
    n = g.gl_pathc;
  }
  printf("| row | network | layers | convs | K_layerwise | K_merged | seconds | peak MB |\n");
  printf("| row | network | conv | dense shape | lower | upper | upper/lower | method | seconds |\n");
  for (size_t i = 0; i < n; i++) {
    pid_t pid;
    int st = 0;
    fflush(stdout);
    if ((pid = fork()) == 0) { int rc = run_one(files[i]); fflush(stdout); _exit(rc); }
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) failed++;
  }
  globfree(&g);
  printf("%zu networks, %d failed\n", n, failed);
  return failed != 0;
}
