/*
** SORT nodes (GroupSort, MaxMin, FullSort, TopK with k = the axis): the
** tensor viewed as [outer][g][inner]; group (o, i) has members
** m_j = (o g + j) inner + i, j < g, and the output puts the group's values in
** rank order back on the same positions: y[m_r] = the r-th largest (desc) or
** r-th smallest (asc) of the group.  Ties keep member order (a stable sort),
** which is how the gradient routes (grad.c).  Helpers shared by every
** analyzer; each call handles one group of g entries.
*/
#ifndef CB_SORT_H
#define CB_SORT_H

#include "net.h"

size_t sort_groups(const cb_node *n);                              /* size / g */
void sort_members(const cb_node *n, size_t k, size_t *idx);        /* idx[j] = flat index of member j of group k */
void sort_order(const cb_node *n, const double *x, const size_t *idx, size_t *ord);
                               /* ord[r] = the member at rank r of x's group idx (stable) */
void sort_rank_range(const cb_node *n, const double *l, const double *u, const size_t *idx, size_t *rmin,
                     size_t *rmax);
                               /* over the box [l, u]: every member j's rank lies in [rmin[j], rmax[j]]
                                  (ties counted as the stable order breaks them) */
void sort_values(const cb_node *n, const double *x, const size_t *idx, size_t *ord, double *v);
                               /* v[r] = the rank-r value of x's group idx (ord: g of room) */
int sort_forward(const cb_node *n, size_t batch, const double *x, double *y);  /* CB_OK or CB_ENOMEM */

#endif
