/*
** Example: verify a VNNLIB property with the public API.  Prints the
** answer in VNN-COMP's words (sat, unsat, timeout, unknown, error), as the
** first line of `cerbere verify` does, then the witness for sat as
** ((X_0 v) ... (Y_0 v) ...) with %.17g values, and a comment line with the
** reason.
**   usage: verify NET PROP.vnnlib [TIMEOUT]
*/
#include <stdio.h>
#include <stdlib.h>
#include "cerbere.h"

int main(int argc, char **argv)
{
  cb_net *net = NULL;
  cb_verification *v = NULL;
  cb_verify_opts opts;
  cb_error err = {0};
  const double *x, *y;
  size_t nx, ny;
  int rc = 1;
  if (argc < 3 || argc > 4) { fprintf(stderr, "usage: %s NET PROP.vnnlib [TIMEOUT]\n", argv[0]); return 2; }
  cb_verify_opts_init(&opts, sizeof opts);
  if (argc > 3) opts.timeout = atof(argv[3]);
  if (cb_net_load(argv[1], &net, &err) != CB_OK || cb_verify_vnnlib(net, argv[2], &opts, &v, &err) != CB_OK) {
    fprintf(stderr, "error: %s: %s\n", cb_status_name(err.status), err.msg);
    goto out;
  }
  printf("%s\n", cb_answer_vnnlib(cb_verification_answer(v)));
  if ((x = cb_verification_witness(v, &nx, &y, &ny))) {
    for (size_t i = 0; i < nx + ny; i++)
      printf("%s(%c_%zu %.17g)%s\n", i ? " " : "(", i < nx ? 'X' : 'Y', i < nx ? i : i - nx, i < nx ? x[i] : y[i - nx],
             i + 1 == nx + ny ? ")" : "");
  }
  printf("# %s\n", cb_verification_reason(v));
  rc = 0;
out:
  cb_verification_free(v);
  cb_net_free(net);
  return rc;
}
