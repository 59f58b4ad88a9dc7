/*
** Linear relaxation of a SORT node's group (relax_sort.c): per rank r, a
** lower and an upper line over at most two input entries,
**   y_r >= or <= w_0 x_{j_0} + w_1 x_{j_1} + c,
** valid in real arithmetic for the stored doubles (the chord intercepts are
** computed with directed rounding).  Shared by CROWN (crown.c) and its tests.
*/
#ifndef CB_RELAX_SORT_H
#define CB_RELAX_SORT_H

#include "net.h"

typedef struct sort_line {
  int n;            /* entries used: 0 (constant), 1 or 2 */
  size_t j[2];      /* flat input indices */
  double w[2], c;
} sort_line;

/* Lines lo[r], up[r] for every rank r of the group idx (g members) over the
   input box [l, u]; scratch: 2 g size_t and 2 g doubles of room. */
void relax_sort_group(const cb_node *n, const double *l, const double *u, const size_t *idx, size_t *zs, double *zd,
                      sort_line *lo, sort_line *up);

#endif
