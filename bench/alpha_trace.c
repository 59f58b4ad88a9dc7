/*
** alpha-CROWN's iterates on one row (bench/RESULTS.md, the ViT section):
**   make build/bench/alpha_trace
**   build/bench/alpha_trace NET.onnx DATA.csv EPS ROW LABEL ITERS LR [INTERM]
** bounds the margins f_LABEL - f_j over the L-inf ball of radius EPS around
** row ROW, prints CROWN's mean margin lower bound, then alpha-CROWN's mean and
** smallest margin lower bound at every iterate (alpha_spec with ITERS Adam
** steps of rate LR; INTERM 0: the final pass's parameters only), and the
** kept result.  Iterate 0 is CROWN's lines (alpha's own passes: a softmax's
** node lines, not the product form).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "cerbere.h"
#include "net.h"
#include "bounds.h"

static size_t Q;

static void it_cb(void *ctx, const cb_ws *ws, int it, int upper, const double *out)
{
  double s = 0, mn = HUGE_VAL;
  (void)ctx; (void)ws;
  for (size_t r = 0; r < Q; r++) { s += -out[r]; if (-out[r] < mn) mn = -out[r]; }
  printf("  it %2d %s mean %.6f min %.6f\n", it, upper ? "ub" : "lb", s / (double)Q, mn);
  fflush(stdout);
}

int main(int argc, char **argv)
{
  cb_net *net; cb_data *d; cb_error err = {0}; cb_bnet bn; cb_alpha_opt o;
  double lb[64], lc[64], s = 0, *C;
  size_t q = 0, n, no;
  if (argc < 8) { fputs("usage: alpha_trace NET.onnx DATA.csv EPS ROW LABEL ITERS LR [INTERM]\n", stderr); return 2; }
  if (cb_net_load(argv[1], &net, &err)) { puts(err.msg); return 1; }
  n = cb_net_input_size(net);
  no = cb_net_output_size(net);
  if (no > 64) { puts("more than 64 outputs"); return 1; }
  if (cb_data_load_csv(argv[2], n, &d, &err)) { puts(err.msg); return 1; }
  bnet_init(&bn, net, &err);
  cb_set set = {CB_NORM_INF, atof(argv[3]), n, cb_data_x(d, (size_t)atoi(argv[4])), NULL, NULL};
  cb_ws *w = ws_new(&bn, &set, &err);
  int lab = atoi(argv[5]);
  if (!w || bounds_run(w, CB_ALPHA_CROWN, &err)) { puts(err.msg); return 1; }
  C = calloc(no * no, sizeof *C);
  for (size_t j = 0; j < no; j++) if ((int)j != lab) { C[q * no + (size_t)lab] = 1; C[q * no + j] = -1; q++; }
  Q = q;
  if (crown_spec(w, C, q, 0, lc, NULL, &err)) { puts(err.msg); return 1; }
  for (size_t r = 0; r < q; r++) s += lc[r];
  printf("crown mean %.6f\n", s / (double)q);
  alpha_opt_init(&o);
  o.iters = atoi(argv[6]);
  o.lr = atof(argv[7]);
  o.on_iterate = it_cb;
  if (argc > 8) o.interm = atoi(argv[8]);
  if (alpha_spec(w, C, q, &o, lb, NULL, &err)) { puts(err.msg); return 1; }
  s = 0;
  for (size_t r = 0; r < q; r++) s += lb[r];
  printf("alpha mean %.6f\n", s / (double)q);
  free(C); ws_free(w); bnet_free(&bn); cb_data_free(d); cb_net_free(net);
  return 0;
}
