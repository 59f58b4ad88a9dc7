/*
** Bump arena: many small allocations, one free.  A cb_net owns one arena
** (weights, shapes, names); a per-sample workspace owns another.  Blocks are
** chained; each allocation is 16-byte aligned and zero-filled.
*/
#ifndef CB_ARENA_H
#define CB_ARENA_H

#include <stddef.h>

typedef struct cb_arena_block cb_arena_block;
typedef struct cb_arena {
  cb_arena_block *head;  /* newest block */
  size_t used;           /* bytes handed out, for dumps */
  size_t limit;          /* 0, or most bytes this arena may hand out (loaders: sized by the file) */
  int over;              /* an allocation was refused by limit */
} cb_arena;

void arena_init(cb_arena *a);                        /* empty arena, allocates nothing */
void *arena_alloc(cb_arena *a, size_t n);            /* zeroed, aligned; NULL on failure */
void *arena_array(cb_arena *a, size_t count, size_t size); /* overflow-checked arena_alloc */
char *arena_strdup(cb_arena *a, const char *s);      /* copy of s (NULL gives "") */
void arena_free(cb_arena *a);                        /* frees every block; safe twice */

#endif
