/*
** Bump arena (ggml-context style).  Blocks of at least 64 KiB come from
** cb_alloc, so a failing-allocator test reaches arena growth too.
*/
#include <string.h>
#include "cb.h"
#include "arena.h"

struct cb_arena_block {
  cb_arena_block *next;
  size_t cap, off;
  _Alignas(16) unsigned char data[];
};

#define ARENA_MIN_BLOCK ((size_t)64 << 10)

void arena_init(cb_arena *a) { a->head = NULL; a->used = 0; a->limit = 0; a->over = 0; }

void *arena_alloc(cb_arena *a, size_t n)
{
  cb_arena_block *b = a->head;
  void *p;
  if (n > SIZE_MAX - 16) return NULL;
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  if (a->limit && n > a->limit - (a->used < a->limit ? a->used : a->limit)) { a->over = 1; return NULL; }
  if (!b || b->cap - b->off < n) {
    size_t cap = n > ARENA_MIN_BLOCK ? n : ARENA_MIN_BLOCK;
    int fresh = cap == n;   /* a block of its own: calloc's zeros (for a large block, untouched */
    if (cap > SIZE_MAX - sizeof *b) return NULL;                 /* zero pages, no memset pass) */
    b = fresh ? cb_calloc(1, sizeof *b + cap) : cb_alloc(sizeof *b + cap);
    if (!b) return NULL;
    b->cap = cap;
    b->off = 0;
    b->next = a->head;
    a->head = b;
    if (fresh) {
      b->off = n;
      a->used += n;
      return b->data;
    }
  }
  p = b->data + b->off;
  b->off += n;
  a->used += n;
  memset(p, 0, n);
  return p;
}

void *arena_array(cb_arena *a, size_t count, size_t size)
{
  if (size && count > SIZE_MAX / size / 2) return NULL;
  return arena_alloc(a, count * size);
}

char *arena_strdup(cb_arena *a, const char *s)
{
  size_t n;
  char *p;
  if (!s) s = "";
  n = strlen(s) + 1;
  p = arena_alloc(a, n);
  if (p) memcpy(p, s, n);
  return p;
}

void arena_free(cb_arena *a)
{
  cb_arena_block *b = a->head;
  while (b) {
    cb_arena_block *next = b->next;
    cb_free(b);
    b = next;
  }
  a->head = NULL;
  a->used = 0;
}
