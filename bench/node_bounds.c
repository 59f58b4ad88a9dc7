/*
** Per-node bounds of a net over an L-inf ball, for layer-by-layer comparisons
** with auto_LiRPA's intermediate bounds (bench/vit_layers.py):
**   build/bench/node_bounds NET.onnx DATA.csv EPS ROW [METHOD]
** prints, per node i: "N i KIND NAME SIZE", then lines "C" (the centre's
** value: IBP at eps 0, midpoint), "L" and "U" (the node's box after METHOD,
** default crown).
*/
#include <stdio.h>
#include <stdlib.h>
#include "cerbere.h"
#include "net.h"
#include "bounds.h"
int main(int argc, char **argv)
{
  cb_net *net; cb_data *d; cb_error err = {0}; cb_bnet bn; cb_method meth = CB_CROWN;
  if (argc < 5) { fputs("usage: node_bounds NET.onnx DATA.csv EPS ROW [METHOD]\n", stderr); return 2; }
  double eps = atof(argv[3]); int row = atoi(argv[4]);
  if (cb_net_load(argv[1], &net, &err)) { puts(err.msg); return 1; }
  size_t n = cb_net_input_size(net);
  if (cb_data_load_csv(argv[2], n, &d, &err)) { puts(err.msg); return 1; }
  bnet_init(&bn, net, &err);
  cb_set s0 = {CB_NORM_INF, 0, n, cb_data_x(d, row), NULL, NULL}, s1 = {CB_NORM_INF, eps, n, cb_data_x(d, row), NULL, NULL};
  cb_ws *w0 = ws_new(&bn, &s0, &err), *w1 = ws_new(&bn, &s1, &err);
  if (argc > 5 && !bounds_method_parse(argv[5], &meth)) { puts("unknown method"); return 1; }
  if (bounds_run(w0, CB_IBP, &err) || bounds_run(w1, meth, &err)) { puts(err.msg); return 1; }
  for (int i = 0; i < net->n; i++) {
    size_t m = net->node[i].size;
    printf("N %d %s %s %zu\n", i, node_kind_name(&net->node[i]), net->node[i].name ? net->node[i].name : "-", m);
    printf("C"); for (size_t k = 0; k < m; k++) printf(" %.12g", 0.5 * (w0->lo[i][k] + w0->hi[i][k])); printf("\n");
    printf("L"); for (size_t k = 0; k < m; k++) printf(" %.12g", w1->lo[i][k]); printf("\n");
    printf("U"); for (size_t k = 0; k < m; k++) printf(" %.12g", w1->hi[i][k]); printf("\n");
  }
  ws_free(w0); ws_free(w1); bnet_free(&bn); cb_data_free(d); cb_net_free(net);
  return 0;
}
