/*
** alpha-CROWN side by side with auto_LiRPA on VNNLIB boxes (a measurement,
** not a test): for each VNNLIB file, the input box of its first term and the
** label it protects (the output every disjunct compares against), the mean of
** the 9 margin lower bounds f_y - f_j and the process CPU ms per sample (best
** of `--reps` runs, intermediate bounds + margins, as alirpa_bounds.py times
** its margin query) of IBP, CROWN and alpha-CROWN.  --boxes OUT writes the
** boxes as alirpa_bounds.py's box file (label,lo...,hi...) so both tools see
** the same sets; --json OUT the margins, one line per (file, method), in
** alirpa_bounds.py's format (method, row, label, cpu_ms, margin_lb).  Run it single-threaded (OPENBLAS_NUM_THREADS=1).
**   usage: build/bench/alpha_vnn [--iters N] [--interm 0|1] [--lr S] [--reps R] [--boxes OUT] [--json OUT] NET.onnx V1.vnnlib ...
*/
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bounds.h"
#include "vnnlib.h"

static double cpu_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

/* The output index every row of every disjunct of box b reads: the label. */
static int box_label(const vnn_box *b, size_t ny)
{
  for (size_t y = 0; y < ny; y++) {
    size_t hit = 0, rows = 0;
    for (size_t c = 0; c < b->n_conj; c++)
      for (size_t r = 0; r < b->conj[c].m; r++, rows++) hit += b->conj[c].A[r * ny + y] != 0;
    if (rows && hit == rows) return (int)y;
  }
  return -1;
}

/* Mean margin lower bound and best CPU ms of method m on set s. */
static int run(const cb_bnet *bn, const cb_set *s, cb_method m, const cb_alpha_opt *ao, const double *C, size_t q,
               int reps, double *lb, double *mean, double *ms)
{
  *ms = 1e30;
  for (int r = 0; r < reps; r++) {
    cb_error err = {0};
    double c0 = cpu_ms();
    cb_ws *ws = ws_new(bn, s, &err);
    int rc = ws ? bounds_run(ws, m, &err) : CB_ENOMEM;
    if (rc == CB_OK) rc = m == CB_ALPHA_CROWN ? alpha_spec(ws, C, q, ao, lb, NULL, &err) : bounds_spec(ws, C, q, lb, NULL, &err);
    if (cpu_ms() - c0 < *ms) *ms = cpu_ms() - c0;
    ws_free(ws);
    if (rc != CB_OK) { fprintf(stderr, "alpha_vnn: %s\n", err.msg); return rc; }
  }
  *mean = 0;
  for (size_t k = 0; k < q; k++) *mean += lb[k] / (double)q;
  return CB_OK;
}

int main(int argc, char **argv)
{
  const cb_method ms[3] = {CB_IBP, CB_CROWN, CB_ALPHA_CROWN};
  const char *boxes = NULL, *json = NULL, *mname[3] = {"IBP", "CROWN", "alpha-CROWN"};
  cb_alpha_opt ao;
  int a = 1, reps = 1;
  double sum[3] = {0}, tsum[3] = {0};
  cb_error err = {0};
  cb_net *net;
  cb_bnet bn;
  FILE *bf = NULL, *jf = NULL;
  mallopt(M_MMAP_THRESHOLD, 512 << 20);   /* as cerbere's main: freed matrices stay on the heap */
  mallopt(M_TRIM_THRESHOLD, 1024 << 20);
  alpha_opt_init(&ao);
  for (; a < argc && argv[a][0] == '-'; a += 2) {
    if (a + 1 >= argc) break;
    if (!strcmp(argv[a], "--iters")) ao.iters = atoi(argv[a + 1]);
    else if (!strcmp(argv[a], "--reps")) reps = atoi(argv[a + 1]);
    else if (!strcmp(argv[a], "--interm")) ao.interm = atoi(argv[a + 1]);
    else if (!strcmp(argv[a], "--lr")) ao.lr = atof(argv[a + 1]);
    else if (!strcmp(argv[a], "--boxes")) boxes = argv[a + 1];
    else if (!strcmp(argv[a], "--json")) json = argv[a + 1];
  }
  if (argc - a < 2) { fprintf(stderr, "usage: alpha_vnn [--iters N] [--reps R] [--boxes OUT] NET.onnx V.vnnlib...\n"); return 2; }
  if (onnx_load(argv[a], &net, &err) != CB_OK || bnet_init(&bn, net, &err) != CB_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
  if (boxes && !(bf = fopen(boxes, "w"))) { perror(boxes); return 1; }
  if (json && !(jf = fopen(json, "w"))) { perror(json); return 1; }
  printf("file,label,ibp,crown,alpha,ibp_ms,crown_ms,alpha_ms\n");
  for (int f = a + 1; f < argc; f++) {
    vnn_spec *sp;
    size_t nx = net->node[0].size, ny = net->node[net->output].size, q = 0;
    double C[16 * 16] = {0}, mean[3], t[3], lb[16];
    if (vnn_parse(argv[f], &sp, &err) != CB_OK || vnn_check_sizes(sp, nx, ny, &err) != CB_OK || ny > 16)
      { fprintf(stderr, "%s\n", err.msg); return 1; }
    int y = box_label(&sp->box[0], ny);
    cb_set s = {CB_NORM_BOX, 0, nx, NULL, sp->box[0].lo, sp->box[0].hi};
    for (size_t j = 0; j < ny; j++) if ((int)j != y) { C[q * ny + (size_t)y] = 1; C[q * ny + j] = -1; q++; }
    if (bf) {
      fprintf(bf, "%d", y);
      for (size_t i = 0; i < 2 * nx; i++) fprintf(bf, ",%.17g", i < nx ? s.lo[i] : s.hi[i - nx]);
      fprintf(bf, "\n");
    }
    for (int k = 0; k < 3; k++) {
      if (run(&bn, &s, ms[k], &ao, C, q, reps, lb, &mean[k], &t[k]) != CB_OK) return 1;
      if (jf) {
        fprintf(jf, "{\"method\": \"%s\", \"row\": %d, \"label\": %d, \"cpu_ms\": %.3f, \"margin_lb\": [", mname[k], f - a - 1, y, t[k]);
        for (size_t r = 0; r < q; r++) fprintf(jf, "%s%.17g", r ? ", " : "", lb[r]);
        fprintf(jf, "]}\n");
      }
      sum[k] += mean[k];
      tsum[k] += t[k];
    }
    printf("%s,%d,%.6f,%.6f,%.6f,%.1f,%.1f,%.1f\n", argv[f], y, mean[0], mean[1], mean[2], t[0], t[1], t[2]);
    fflush(stdout);
    vnn_free(sp);
  }
  int n = argc - a - 1;
  printf("mean,,%.6f,%.6f,%.6f,%.1f,%.1f,%.1f\n", sum[0] / n, sum[1] / n, sum[2] / n, tsum[0] / n, tsum[1] / n, tsum[2] / n);
  if (bf) fclose(bf);
  if (jf) fclose(jf);
  bnet_free(&bn);
  cb_net_free(net);
  return 0;
}
