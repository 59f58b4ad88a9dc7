/*
** bench/dgemm_rate.c: the machine's single-thread dgemm rate in CPU time, for
** the "% of the same-run dgemm rate" of bench/side/crown_vs_alirpa.sh (a
** measurement, not a test).  `make build/bench/dgemm_rate`, then
**   build/bench/dgemm_rate [N ...]     (default 1024 256)
** For each N: 7 products C = A B of N x N doubles (la_gemm, OpenBLAS on one
** thread) after one warm-up, each timed by the thread's CPU clock (the side
** runs report CPU time per sample, so the two rates are comparable on a
** shared machine); prints the median and the best GFLOP/s (2 N^3 FLOPs).
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "linalg.h"
#include "cb.h"

static double cpu_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
  static const char *def[] = {"1024", "256"};
  int nn = argc > 1 ? argc - 1 : 2;
  la_set_threads(1);
  for (int a = 0; a < nn; a++) {
    size_t n = (size_t)atol(argc > 1 ? argv[a + 1] : def[a]);
    double *A = cb_calloc(n * n, sizeof *A), *B = cb_calloc(n * n, sizeof *B), *C = cb_calloc(n * n, sizeof *C), r[7];
    if (!n || !A || !B || !C) { fprintf(stderr, "dgemm_rate: bad size or out of memory\n"); return 1; }
    for (size_t i = 0; i < n * n; i++) { A[i] = (double)(i % 7) - 3; B[i] = (double)(i % 5) - 2; }
    la_gemm(0, 0, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
    for (int k = 0; k < 7; k++) {
      double t0 = cpu_s();
      la_gemm(0, 0, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
      r[k] = 2e-9 * (double)n * (double)n * (double)n / (cpu_s() - t0);
    }
    qsort(r, 7, sizeof *r, cmp);
    printf("dgemm n=%zu 1 thread: median %.1f GFLOP/s, best %.1f GFLOP/s (CPU time)\n", n, r[3], r[6]);
    cb_free(A); cb_free(B); cb_free(C);
  }
  return 0;
}
