/*
** bench/forward.c: forward-pass throughput benchmark (a measurement, not a test).
**
** What it measures, in one run on one machine:
**  1. the dgemm rate: median GFLOP/s of la_gemm on square n x n doubles
**     (n = 1024 and n = 256, 7 repetitions each, FLOPs = 2 n^3);
**  2. for each network, cb_net_forward (the public API, including its
**     per-call allocation) at batch 1 and batch 256 on uniform [0,1) inputs:
**     samples/s, achieved GFLOP/s and the ratio to the n = 1024 dgemm rate.
**
** FLOPs of a forward pass are counted on the canonical nodes of the loaded
** net: AFFINE 2*out*in, CONV 2*cout*hout*wout*(cin/groups)*kh*kw.  Everything
** else (bias adds, SCALE, ADD, activations, MAXPOOL comparisons) is counted
** apart as "other ops" and is not part of GFLOP/s; copies (RESHAPE, CONCAT,
** TRANSPOSE) count as 0.
**
** Timing: each measurement runs the call enough times to take >= min_time
** seconds (0.2 by default); the reported time is the median of >= 7 such
** measurements.  Output: a Markdown table on stdout, and in --out FILE.
** --threads N sets the OpenBLAS thread count for the whole run (dgemm too).
** The dgemm rate is measured again at the end; a drift of more than 20% is
** reported, because then the machine was not idle and the ratios are off.
** Networks under ../shared are optional: they are reported as SKIPPED when
** ../shared is absent.  A network that fails to load is an error (exit 1).
*/
#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "cerbere.h"
#include "net.h"
#include "linalg.h"

#define N_REPS_MIN 7

typedef struct bench_opts {
  const char *out;   /* --out FILE: also write the report there (NULL = stdout only) */
  double min_time;   /* seconds per measurement, default 0.2 */
  int reps;          /* measurements per median, default 7 (at least 7) */
  int threads;       /* --threads N: OpenBLAS threads (0 = leave as configured) */
} bench_opts;

typedef struct net_cost {
  double flops;      /* matmul-kind FLOPs per sample (AFFINE, CONV) */
  double other;      /* other element ops per sample (bias, activations, pool...) */
  int dense;         /* 1 if no CONV: a dense (fully connected) net */
} net_cost;

typedef struct net_result {
  size_t batch;
  double sec;        /* median seconds per cb_net_forward call */
} net_result;

static FILE *g_out;  /* the --out file, or NULL */

/* printf to stdout and, if open, to the --out file. */
static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  if (g_out) {
    va_start(ap, fmt);
    vfprintf(g_out, fmt, ap);
    va_end(ap);
  }
}

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of v[0..n), sorts v. */
static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* splitmix64: deterministic uniform doubles in [0,1). */
static double urand(uint64_t *s)
{
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

static double *rand_array(size_t n, uint64_t seed)
{
  double *v = malloc((n ? n : 1) * sizeof *v);
  if (v)
    for (size_t i = 0; i < n; i++) v[i] = urand(&seed);
  return v;
}

/* Median GFLOP/s of la_gemm on n x n (one warm-up call, then reps timed calls). */
static double dgemm_gflops(size_t n, int reps)
{
  double *A = rand_array(n * n, 1), *B = rand_array(n * n, 2), *C = rand_array(n * n, 3);
  double *t = malloc((size_t)reps * sizeof *t), r = -1;
  if (A && B && C && t) {
    la_gemm(0, 0, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
    for (int i = 0; i < reps; i++) {
      double t0 = now();
      la_gemm(0, 0, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
      t[i] = now() - t0;
    }
    r = 2.0 * (double)n * (double)n * (double)n / median(t, reps) / 1e9;
  }
  free(A); free(B); free(C); free(t);
  return r;
}

/* FLOPs and other ops of one sample's forward pass, from the canonical nodes. */
static net_cost count_cost(const cb_net *net)
{
  net_cost c = { 0, 0, 1 };
  for (int i = 1; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    double sz = (double)n->size;
    switch (n->kind) {
    case CB_AFFINE:
      c.flops += 2.0 * (double)n->p.aff.out * (double)n->p.aff.in;
      c.other += (double)n->p.aff.out;                      /* bias add */
      break;
    case CB_CONV: {
      const cb_conv *g = &n->p.conv.g;
      c.dense = 0;
      c.flops += 2.0 * (double)(g->cout * g->hout * g->wout) * (double)(g->cin / g->groups)
                 * (double)(g->kh * g->kw);
      c.other += (double)(g->cout * g->hout * g->wout);     /* bias add */
      break;
    }
    case CB_SCALE: c.other += 2.0 * sz; break;               /* a*x + b */
    case CB_ADD: case CB_ACT: case CB_MUL:
      c.other += sz;
      break;
    case CB_MAXPOOL: {
      const cb_conv *g = &n->p.pool.g;
      c.other += sz * (double)(g->kh * g->kw);              /* comparisons */
      break;
    }
    case CB_SORT: c.other += sz * (double)n->p.sort.g; break;   /* insertion-sort comparisons, at most */
    case CB_INPUT: case CB_RESHAPE: case CB_CONCAT: case CB_TRANSPOSE: case CB_KIND_COUNT:
      break;
    }
  }
  return c;
}

/* Median seconds of one cb_net_forward at this batch; < 0 on error (err filled). */
static double time_forward(const cb_net *net, size_t batch, const bench_opts *o, cb_error *err)
{
  size_t nin = cb_net_input_size(net), nout = cb_net_output_size(net);
  double *x = rand_array(batch * nin, 42 + batch), *y = malloc(batch * nout * sizeof *y);
  double *t = malloc((size_t)o->reps * sizeof *t), r = -1, el = 0;
  long iters = 1;
  if (!x || !y || !t) { cb_error_set(err, CB_ENOMEM, "bench: out of memory"); goto out; }
  if (cb_net_forward(net, x, batch, y, err) != CB_OK) goto out;   /* warm-up */
  for (;;) {                                                      /* calibrate iters */
    double t0 = now();
    for (long k = 0; k < iters; k++)
      if (cb_net_forward(net, x, batch, y, err) != CB_OK) goto out;
    el = now() - t0;
    if (el >= o->min_time) break;
    iters = el > 0 ? (long)ceil((double)iters * 1.2 * o->min_time / el) : iters * 10;
  }
  for (int m = 0; m < o->reps; m++) {
    double t0 = now();
    for (long k = 0; k < iters; k++)
      if (cb_net_forward(net, x, batch, y, err) != CB_OK) goto out;
    t[m] = (now() - t0) / (double)iters;
  }
  for (size_t i = 0; i < batch * nout; i++)
    if (!isfinite(y[i])) { cb_error_set(err, CB_EVALUE, "bench: non-finite output"); goto out; }
  r = median(t, o->reps);
out:
  free(x); free(y); free(t);
  return r;
}

/* First "model name" (or "Processor"/"cpu model") line of /proc/cpuinfo. */
static void cpu_model(char *buf, size_t n)
{
  char line[512];
  FILE *f = fopen("/proc/cpuinfo", "r");
  snprintf(buf, n, "unknown");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (!colon || (strncmp(line, "model name", 10) && strncmp(line, "Processor", 9)
                   && strncmp(line, "cpu model", 9)))
      continue;
    colon++;
    while (*colon == ' ' || *colon == '\t') colon++;
    colon[strcspn(colon, "\n")] = 0;
    snprintf(buf, n, "%s", colon);
    break;
  }
  fclose(f);
}

/* The three load averages of /proc/loadavg (other work on the machine skews timings). */
static const char *loadavg(char *buf, size_t n)
{
  FILE *f = fopen("/proc/loadavg", "r");
  double a[3];
  snprintf(buf, n, "unknown");
  if (f && fscanf(f, "%lf %lf %lf", &a[0], &a[1], &a[2]) == 3)
    snprintf(buf, n, "%.2f %.2f %.2f", a[0], a[1], a[2]);
  if (f) fclose(f);
  return buf;
}

static void print_machine(double g1024, double g256)
{
  struct utsname u;
  char cpu[256], date[64], load[64];
  time_t now_t = time(NULL);
  cpu_model(cpu, sizeof cpu);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now_t));
  if (uname(&u) != 0) snprintf(u.machine, sizeof u.machine, "unknown");
  emit("# cerbere forward-pass benchmark\n\n");
  emit("- date: %s\n", date);
  emit("- machine: %s, nproc %ld, CPU \"%s\"\n", u.machine, sysconf(_SC_NPROCESSORS_ONLN), cpu);
  emit("- load average at start: %s\n", loadavg(load, sizeof load));
#ifdef OPENBLAS_VERSION
  emit("- BLAS:%s threads %d (core %s)\n", OPENBLAS_VERSION, openblas_get_num_threads(),
       openblas_get_corename());
#else
  emit("- BLAS: not OpenBLAS (thread count unknown)\n");
#endif
  emit("- dgemm (la_gemm, median of 7): n=1024 %.1f GFLOP/s, n=256 %.1f GFLOP/s\n\n", g1024, g256);
}

static void print_header(void)
{
  emit("| net | FLOP/sample | other ops/sample | batch | samples/s | us/sample | GFLOP/s | vs dgemm |\n");
  emit("|---|---:|---:|---:|---:|---:|---:|---:|\n");
}

static const char *base_name(const char *p)
{
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

/* Loads and times one net; returns 0 or 1 (load or forward failure, reported). */
static double g_dense_min = -1;  /* lowest batch-256 ratio to dgemm over dense nets */

static int bench_net(const char *path, const bench_opts *o, double g1024)
{
  static const size_t batches[] = { 1, 256 };
  cb_net *net = NULL;
  cb_error err = { CB_OK, "" };
  net_cost c;
  if (cb_net_load(path, &net, &err) != CB_OK) {
    fprintf(stderr, "bench: cannot load %s: %s: %s\n", path, cb_status_name(err.status), err.msg);
    return 1;
  }
  c = count_cost(net);
  for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
    double s = time_forward(net, batches[b], o, &err), sps, gf;
    if (s < 0) {
      fprintf(stderr, "bench: forward failed on %s at batch %zu: %s\n", path, batches[b], err.msg);
      cb_net_free(net);
      return 1;
    }
    sps = (double)batches[b] / s;
    gf = c.flops * sps / 1e9;
    emit("| %s | %.3g | %.3g | %zu | %.4g | %.3g | %.3g | %.1f%% |\n", base_name(path), c.flops,
         c.other, batches[b], sps, 1e6 / sps, gf, 100.0 * gf / g1024);
    if (c.dense && batches[b] == 256 && (g_dense_min < 0 || gf / g1024 < g_dense_min))
      g_dense_min = gf / g1024;
    fflush(stdout);
  }
  cb_net_free(net);
  return 0;
}

static int usage(const char *argv0)
{
  fprintf(stderr, "usage: %s [--out FILE] [--min-time SEC] [--reps N] [--threads N]\n"
                  "  run from the repository root (nets/ and ../shared/ are relative)\n", argv0);
  return 2;
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--out") && i + 1 < argc) o->out = argv[++i];
    else if (!strcmp(argv[i], "--min-time") && i + 1 < argc) o->min_time = atof(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) o->reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) o->threads = atoi(argv[++i]);
    else return -1;
  }
  if (o->min_time <= 0 || o->reps < 1 || o->threads < 0) return -1;
  if (o->reps < N_REPS_MIN) o->reps = N_REPS_MIN;
  return 0;
}

int main(int argc, char **argv)
{
  static const char *const local[] = { "nets/digits_mlp.onnx" };
  static const char *const shared[] = {
    "../shared/benchmarks/acasxu/onnx/ACASXU_run2a_1_1_batch_2000.onnx",
    "../shared/benchmarks/mnistfc/onnx/mnist-net_256x6.onnx",
    "../shared/benchmarks/oval21/onnx/cifar_base_kw.onnx",
  };
  bench_opts o = { NULL, 0.2, N_REPS_MIN, 0 };
  char load[64];
  struct stat st;
  int have_shared, rc = 0;
  double g1024, g256, g_end;
  if (parse_args(argc, argv, &o) != 0) return usage(argv[0]);
  if (o.threads > 0) {
#ifdef OPENBLAS_VERSION
    openblas_set_num_threads(o.threads);
#else
    fprintf(stderr, "bench: --threads needs OpenBLAS\n");
    return 2;
#endif
  }
  if (o.out && !(g_out = fopen(o.out, "w"))) {
    fprintf(stderr, "bench: cannot write %s\n", o.out);
    return 1;
  }
  g1024 = dgemm_gflops(1024, N_REPS_MIN);
  g256 = dgemm_gflops(256, N_REPS_MIN);
  if (g1024 <= 0 || g256 <= 0) { fprintf(stderr, "bench: out of memory in dgemm\n"); rc = 1; goto out; }
  print_machine(g1024, g256);
  print_header();
  for (size_t i = 0; i < sizeof local / sizeof *local && !rc; i++) rc = bench_net(local[i], &o, g1024);
  have_shared = stat("../shared", &st) == 0 && S_ISDIR(st.st_mode);
  for (size_t i = 0; i < sizeof shared / sizeof *shared && !rc && have_shared; i++)
    rc = bench_net(shared[i], &o, g1024);
  if (rc) goto out;
  for (size_t i = 0; i < sizeof shared / sizeof *shared && !have_shared; i++)
    emit("%sSKIPPED %s: ../shared absent\n", i ? "" : "\n", shared[i]);
  if (g_dense_min >= 0)
    emit("\nDense nets at batch 256: lowest ratio to dgemm %.1f%% (target >= 30%%): %s.\n",
         100.0 * g_dense_min, g_dense_min >= 0.30 ? "met" : "NOT met");
  g_end = dgemm_gflops(1024, N_REPS_MIN);
  emit("\nAt the end: load average %s, dgemm n=1024 %.1f GFLOP/s.\n", loadavg(load, sizeof load), g_end);
  if (fabs(g_end - g1024) > 0.2 * g1024)
    emit("WARNING: the dgemm rate moved by more than 20%% during the run: the machine was not "
         "idle, so the ratios above are unreliable.\n");
  emit("\nFLOP = 2*out*in per AFFINE + 2*cout*hout*wout*(cin/groups)*kh*kw per CONV; other ops "
       "(bias, activations, pool) are not in GFLOP/s. Times: median of %d runs of >= %.2g s. "
       "\"vs dgemm\" = GFLOP/s / dgemm n=1024 rate of this run.\n", o.reps, o.min_time);
out:
  if (g_out && fclose(g_out) != 0) { fprintf(stderr, "bench: error writing %s\n", o.out); rc = 1; }
  return rc;
}
