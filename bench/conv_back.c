/*
** The transposed convolution of CROWN's CONV step (la_conv_backward_buf:
** dgemm into col, then col2im) on the real nets' conv geometries, for q rows
** at once (the dense pass's chunks of 64; the receptive-field pass's small
** windows with 32): CPU microseconds per call, best of 5 runs, and a
** checksum of the result's bits (equal checksums from two builds: the same
** bits).  Issue 24; results in bench/RESULTS.md.
**   make build/bench/conv_back && OPENBLAS_NUM_THREADS=1 build/bench/conv_back
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "linalg.h"

static double cpu_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void)
{
  /* cin, input side, cout, kernel, stride, pad, rows: cifar_base_kw's two convs, resnet_2b's (3x3 strides 2 and 1,
     the 1x1 shortcut), two inner windows of resnet_2b's receptive-field pass */
  static const int64_t geo[][7] = {{3, 32, 8, 4, 2, 1, 64},  {8, 16, 16, 4, 2, 1, 64}, {3, 32, 8, 3, 2, 1, 64},
                                   {8, 16, 16, 3, 2, 1, 64}, {16, 8, 16, 3, 1, 1, 64}, {8, 16, 16, 1, 2, 0, 64},
                                   {16, 7, 16, 3, 1, 0, 32}, {16, 5, 16, 3, 1, 1, 32}};
  uint64_t sum = 0;
  for (size_t t = 0; t < sizeof geo / sizeof geo[0]; t++) {
    const int64_t *e = geo[t];
    cb_conv g = {0};
    size_t q = (size_t)e[6], osz, isz, K, need;
    double *W, *A, *X, *buf, best = 1e30;
    int reps;
    g.cin = e[0]; g.hin = g.win = e[1]; g.cout = e[2]; g.kh = g.kw = e[3]; g.sh = g.sw = e[4];
    g.pt = g.pl = g.pb = g.pr = e[5]; g.dh = g.dw = 1; g.groups = 1;
    g.hout = g.wout = (e[1] + 2 * e[5] - e[3]) / e[4] + 1;
    osz = (size_t)(g.cout * g.hout * g.wout); isz = (size_t)(g.cin * g.hin * g.win); K = (size_t)(g.cin * g.kh * g.kw);
    need = la_conv_backward_need(&g, q);
    W = malloc((size_t)g.cout * K * sizeof *W); A = malloc(q * osz * sizeof *A);
    X = calloc(q * isz, sizeof *X); buf = malloc(need * sizeof *buf);
    if (!W || !A || !X || !buf) { fprintf(stderr, "conv_back: out of memory\n"); return 1; }
    srand(1);
    for (size_t i = 0; i < (size_t)g.cout * K; i++) W[i] = rand() / (double)RAND_MAX - 0.5;
    for (size_t i = 0; i < q * osz; i++) A[i] = rand() / (double)RAND_MAX - 0.5;
    reps = (int)(2e8 / (double)(2 * q * osz * K) + 1);
    for (int r = 0; r < 5; r++) {
      double t0 = cpu_s(), d;
      for (int k = 0; k < reps; k++) la_conv_backward_buf(&g, W, A, q, X, buf);
      d = (cpu_s() - t0) / reps;
      if (d < best) best = d;
    }
    for (size_t i = 0; i < q * isz; i++) { uint64_t b; memcpy(&b, X + i, sizeof b); sum = sum * 31 + b; }
    printf("cin %2ld in %2ld cout %2ld k %ld s %ld p %ld, %3zu rows: %7.1f us  (%.2f GFLOP/s)\n", (long)e[0], (long)e[1],
           (long)e[2], (long)e[3], (long)e[4], (long)e[5], q, 1e6 * best, 2e-9 * (double)(q * osz * K) / best);
    free(W); free(A); free(X); free(buf);
  }
  printf("checksum %016llx\n", (unsigned long long)sum);
  return 0;
}
