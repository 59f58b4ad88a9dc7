/*
** The attribution options the `attribute` and `audit` commands share
** (defined in cli/cmd_attribute.c).
*/
#ifndef CB_ATTR_CLI_H
#define CB_ATTR_CLI_H

#include <cjson/cJSON.h>
#include "attr.h"

/* Parsed attribution options: o plus the storage behind o.baseline_vec. */
typedef struct attr_cli {
  attr_opt o;
  double *bvec;             /* --baseline list (cb_alloc), NULL if a constant */
  size_t bvec_n;
} attr_cli;

/* One attribution option `a` with value v: -1 if handled, 0 if `a` is not an
   attribution option, else the usage exit code (message printed). */
int attr_cli_option(const char *cmd, const char *a, const char *v, attr_cli *c);

/* The shape of a map: the input shape, or [H, W] when channels are reduced. */
cJSON *map_shape(const cb_net *net, size_t nm);

/* After loading the net: checks the baseline list has the input's size. */
int attr_cli_check(const attr_cli *c, size_t n, cb_error *err);
void attr_cli_free(attr_cli *c);

/* The option help shared by both commands. */
extern const char *const attr_cli_help;

#endif
