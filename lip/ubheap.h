/* A binary max-heap of open branch-and-bound nodes keyed by their upper
** bound: the box engine (lipbab.c) and the local bracket (liplocal.c) pop
** the node with the largest upper bound first.  The heap owns only its
** array; the nodes are the caller's. */
#ifndef CB_UBHEAP_H
#define CB_UBHEAP_H

#include <stddef.h>

typedef struct ub_item { double ub; void *p; } ub_item;
typedef struct ub_heap { ub_item *a; size_t n, cap; } ub_heap;

int ub_heap_push(ub_heap *H, double ub, void *p);   /* CB_OK or CB_ENOMEM (H unchanged) */
void *ub_heap_pop(ub_heap *H);                      /* the top's node; H->n > 0 */
void ub_heap_free(ub_heap *H);                      /* the array, not the nodes */

#endif
