/*
** Example: load a network with the public API, run a forward pass on the
** first row of a CSV file and print the logits and the predicted class.
**   usage: predict NET CSV
*/
#include <stdio.h>
#include <stdlib.h>
#include "cerbere.h"

int main(int argc, char **argv)
{
  cb_net *net = NULL;
  cb_data *data = NULL;
  cb_error err = {0};
  double *y = NULL;
  size_t n;
  int rc = 1;
  if (argc != 3) { fprintf(stderr, "usage: %s NET CSV\n", argv[0]); return 2; }
  if (cb_net_load(argv[1], &net, &err) != CB_OK ||
      cb_data_load_csv(argv[2], cb_net_input_size(net), &data, &err) != CB_OK) {
    fprintf(stderr, "error: %s\n", err.msg);
    goto out;
  }
  n = cb_net_output_size(net);
  if (!(y = malloc(n * sizeof *y))) goto out;
  if (cb_net_forward(net, cb_data_x(data, 0), 1, y, &err) != CB_OK) {
    fprintf(stderr, "error: %s\n", err.msg);
    goto out;
  }
  printf("logits:");
  for (size_t k = 0; k < n; k++) printf(" %.6f", y[k]);
  printf("\nprediction: %zu (label %d)\n", cb_argmax(y, n), cb_data_label(data, 0));
  rc = 0;
out:
  free(y);
  cb_data_free(data);
  cb_net_free(net);
  return rc;
}
