/*
** bench/load.c: ONNX load time (issue 19: "loading a 10 MB ONNX file with
** folded subgraphs takes under 0.2 s").  A measurement, not a test.
**
**   build/bench/load NET.onnx [REPS]
**
** Times cb_net_load (the public API: read, parse, fold the weight-only
** subgraphs, canonicalise) REPS times (default 7) and prints the median and
** the minimum wall time and the median CPU time (this process, all
** threads), the file size, the canonical node and parameter counts, and the
** load average at the start and at the end (/proc/loadavg): on the shared
** machine the CPU time is the figure that does not depend on the load.
** Make target: `make bench-load` (generates bench/gen_fold_net.py's 10 MB
** export under build/ first; SKIPPED without /usr/bin/python3 and torch).
*/
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include "cerbere.h"
#include "net.h"

static double now(clockid_t c)
{
  struct timespec t;
  clock_gettime(c, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void loadavg(char *buf, size_t n)
{
  FILE *f = fopen("/proc/loadavg", "r");
  buf[0] = 0;
  if (f) {
    if (!fgets(buf, (int)n, f)) buf[0] = 0;
    fclose(f);
  }
  for (char *p = buf; *p; p++) if (*p == '\n') *p = 0;
}

int main(int argc, char **argv)
{
  int reps = argc > 2 ? atoi(argv[2]) : 7;
  double *wall, *cpu;
  char la0[128], la1[128];
  struct stat st;
  size_t params = 0;
  int nodes = 0;
  if (argc < 2 || reps < 1 || reps > 1000) { fprintf(stderr, "usage: load NET.onnx [REPS]\n"); return 2; }
  if (stat(argv[1], &st) != 0) { fprintf(stderr, "load: cannot stat %s\n", argv[1]); return 1; }
  wall = malloc((size_t)reps * sizeof *wall);
  cpu = malloc((size_t)reps * sizeof *cpu);
  if (!wall || !cpu) return 1;
  loadavg(la0, sizeof la0);
  for (int r = 0; r < reps; r++) {
    cb_net *net = NULL;
    cb_error err = {0};
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    if (cb_net_load(argv[1], &net, &err) != CB_OK) { fprintf(stderr, "load: %s\n", err.msg); return 1; }
    wall[r] = now(CLOCK_MONOTONIC) - w0;
    cpu[r] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (r == 0) {
      nodes = net->n;
      params = 0;
      for (int i = 0; i < net->n; i++) {
        const cb_node *nd = &net->node[i];
        if (nd->kind == CB_AFFINE) params += nd->p.aff.out * (nd->p.aff.in + 1);
      }
    }
    cb_net_free(net);
  }
  loadavg(la1, sizeof la1);
  qsort(wall, (size_t)reps, sizeof *wall, cmp);
  qsort(cpu, (size_t)reps, sizeof *cpu, cmp);
  printf("file %s: %.2f MB, %d canonical nodes, %zu dense parameters\n", argv[1], (double)st.st_size / 1e6, nodes, params);
  printf("cb_net_load x %d: wall median %.1f ms (min %.1f ms), CPU median %.1f ms (min %.1f ms)\n", reps,
         1e3 * wall[reps / 2], 1e3 * wall[0], 1e3 * cpu[reps / 2], 1e3 * cpu[0]);
  printf("load average before: %s; after: %s\n", la0, la1);
  free(wall); free(cpu);
  return 0;
}
