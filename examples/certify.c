/*
** Example: certify samples with the public API.  For each row of a CSV
** file, the certify cascade over the L-inf ball of radius EPS around the
** row, intersected with the clip box [0, 1]: one line "row R: ANSWER
** (METHOD) REASON", as `cerbere certify --clip 0:1` decides it.
**   usage: certify NET CSV [EPS [BAB_TIMEOUT]]
*/
#include <stdio.h>
#include <stdlib.h>
#include "cerbere.h"

int main(int argc, char **argv)
{
  cb_net *net = NULL;
  cb_data *data = NULL;
  cb_region *ball = NULL;
  cb_certificate *cert = NULL;
  cb_certify_opts opts;
  cb_error err = {0};
  double eps = argc > 3 ? atof(argv[3]) : 0.01, *zero = NULL, *one = NULL;
  size_t nin;
  int rc = 1;
  if (argc < 3 || argc > 5) { fprintf(stderr, "usage: %s NET CSV [EPS [BAB_TIMEOUT]]\n", argv[0]); return 2; }
  cb_certify_opts_init(&opts, sizeof opts);
  if (argc > 4) opts.bab_timeout = atof(argv[4]);
  if (cb_net_load(argv[1], &net, &err) != CB_OK ||
      cb_data_load_csv(argv[2], cb_net_input_size(net), &data, &err) != CB_OK) goto out;
  nin = cb_net_input_size(net);
  if (!(zero = calloc(nin, sizeof *zero)) || !(one = malloc(nin * sizeof *one))) { fprintf(stderr, "error: out of memory\n"); goto out; }
  for (size_t j = 0; j < nin; j++) one[j] = 1;
  for (size_t r = 0; r < cb_data_rows(data); r++) {
    if (cb_region_ball(net, CB_LP_INF, eps, cb_data_x(data, r), nin, &ball, &err) != CB_OK ||
        cb_region_clip(ball, zero, one, nin, &err) != CB_OK ||
        cb_certify(net, ball, cb_data_label(data, r), &opts, &cert, &err) != CB_OK) goto out;
    printf("row %zu: %s (%s) %s\n", r, cb_answer_name(cb_certificate_answer(cert)), cb_certificate_method(cert),
           cb_certificate_reason(cert));
    cb_certificate_free(cert);
    cb_region_free(ball);
    cert = NULL; ball = NULL;
  }
  rc = 0;
out:
  if (rc && err.status != CB_OK) fprintf(stderr, "error: %s: %s\n", cb_status_name(err.status), err.msg);
  free(zero); free(one);
  cb_certificate_free(cert);
  cb_region_free(ball);
  cb_data_free(data);
  cb_net_free(net);
  return rc;
}
