/*
** Example: certified bounds with the public API.  For each row of a CSV
** file, the logit bounds and the margin lower bounds over the L-inf ball of
** radius EPS around the row, by METHOD, then the network's global L-inf
** Lipschitz upper bound.  Values print as %.17g (exact doubles), so a test
** can compare them with `cerbere bounds --json`.
**   usage: bounds NET CSV [EPS [ibp|crown|crown-ibp|alpha-crown]]
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cerbere.h"

static int method_of(const char *s, cb_bound_method *m)
{
  const cb_bound_method all[] = {CB_BOUND_IBP, CB_BOUND_CROWN, CB_BOUND_CROWN_IBP, CB_BOUND_ALPHA_CROWN};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
    if (!strcmp(s, cb_bound_method_name(all[k]))) { *m = all[k]; return 1; }
  return 0;
}

static void print_values(const char *what, const double *v, size_t n)
{
  printf("%s", what);
  for (size_t k = 0; k < n; k++) printf(" %.17g", v[k]);
  printf("\n");
}

int main(int argc, char **argv)
{
  cb_net *net = NULL;
  cb_data *data = NULL;
  cb_region *ball = NULL;
  cb_error err = {0};
  cb_bound_method m = CB_BOUND_CROWN;
  double eps = argc > 3 ? atof(argv[3]) : 0.01, *lo = NULL, *hi = NULL, *mlo = NULL, K;
  size_t nin, nout;
  int rc = 1;
  if (argc < 3 || argc > 5 || (argc == 5 && !method_of(argv[4], &m))) {
    fprintf(stderr, "usage: %s NET CSV [EPS [ibp|crown|crown-ibp|alpha-crown]]\n", argv[0]);
    return 2;
  }
  if (cb_net_load(argv[1], &net, &err) != CB_OK ||
      cb_data_load_csv(argv[2], cb_net_input_size(net), &data, &err) != CB_OK) goto out;
  nin = cb_net_input_size(net);
  nout = cb_net_output_size(net);
  if (!(lo = malloc(nout * sizeof *lo)) || !(hi = malloc(nout * sizeof *hi)) || !(mlo = malloc(nout * sizeof *mlo))) {
    fprintf(stderr, "error: out of memory\n");
    goto out;
  }
  for (size_t r = 0; r < cb_data_rows(data); r++) {
    if (cb_region_ball(net, CB_LP_INF, eps, cb_data_x(data, r), nin, &ball, &err) != CB_OK ||
        cb_bounds_logits(net, ball, m, lo, hi, nout, &err) != CB_OK ||
        cb_bounds_margins(net, ball, m, cb_data_label(data, r), mlo, nout - 1, &err) != CB_OK) goto out;
    printf("row %zu\n", r);
    print_values("logit_lb", lo, nout);
    print_values("logit_ub", hi, nout);
    print_values("margin_lb", mlo, nout - 1);
    cb_region_free(ball);
    ball = NULL;
  }
  if (cb_lipschitz_upper(net, CB_LP_INF, &K, &err) != CB_OK) goto out;
  printf("lipschitz_inf %.17g\n", K);
  rc = 0;
out:
  if (rc && err.status != CB_OK) fprintf(stderr, "error: %s: %s\n", cb_status_name(err.status), err.msg);
  free(lo); free(hi); free(mlo);
  cb_region_free(ball);
  cb_data_free(data);
  cb_net_free(net);
  return rc;
}
