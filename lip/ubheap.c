/* Max-heap on upper bounds (see ubheap.h). */
#include <string.h>
#include "cb.h"
#include "ubheap.h"

int ub_heap_push(ub_heap *H, double ub, void *p)
{
  size_t i;
  if (H->n == H->cap) {
    size_t nc = H->cap ? 2 * H->cap : 64;
    ub_item *a = cb_alloc(nc * sizeof *a);
    if (!a) return CB_ENOMEM;
    if (H->n) memcpy(a, H->a, H->n * sizeof *a);
    cb_free(H->a);
    H->a = a;
    H->cap = nc;
  }
  i = H->n++;
  while (i > 0 && H->a[(i - 1) / 2].ub < ub) { H->a[i] = H->a[(i - 1) / 2]; i = (i - 1) / 2; }
  H->a[i].ub = ub;
  H->a[i].p = p;
  return CB_OK;
}

void *ub_heap_pop(ub_heap *H)
{
  void *top = H->a[0].p;
  ub_item last = H->a[--H->n];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, m = l;
    if (l >= H->n) break;
    if (l + 1 < H->n && H->a[l + 1].ub > H->a[l].ub) m = l + 1;
    if (H->a[m].ub <= last.ub) break;
    H->a[i] = H->a[m];
    i = m;
  }
  if (H->n) H->a[i] = last;
  return top;
}

void ub_heap_free(ub_heap *H)
{
  cb_free(H->a);
  H->a = NULL;
  H->n = H->cap = 0;
}
