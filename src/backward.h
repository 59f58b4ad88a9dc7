/*
** Shared pieces of every backward pass over the graph (CROWN in bounds/,
** gradients and interval Jacobians in lip/): the transpose of the index-map
** nodes, and pooling windows.
*/
#ifndef CB_BACKWARD_H
#define CB_BACKWARD_H

#include "net.h"

/* For q row vectors A [q x size_i] on the output of an index-map node i
   (ADD, CONCAT, RESHAPE, TRANSPOSE), adds their pull-back onto input k:
   Ain [q x size(in[k])] += A routed through the node's index map. */
void bwd_index(const cb_net *net, int i, int k, size_t q, const double *A, double *Ain);

/* Input indices (C order within the input tensor) of the pooling window of
   output (c, oi, oj), padding skipped, in the forward pass's scan order;
   returns how many (idx has room for kh*kw). */
int pool_window(const cb_conv *g, int64_t c, int64_t oi, int64_t oj, size_t *idx);

#endif
