/*
** Resource limits: a wall-clock deadline and a cap on the bytes held through
** cb_alloc.  Both are process-wide (a CLI run is one analysis) and off until
** cb_limits_set is called.
**
** Time: cb_time_up() reads CLOCK_MONOTONIC (about 20 ns) and is meant to be
** called once per node, per sample or per iteration, never per element.  Once
** the deadline has passed it stays true.  Long loops return CB_ELIMIT through
** cb_limit_error(), and the caller reports "timeout" (an unknown verdict).
**
** Memory: cb_alloc adds malloc_usable_size of each block to an atomic
** counter and cb_free subtracts it, so threads (OpenMP over samples) share one
** budget.  An allocation that would pass the cap fails like any allocation,
** and cb_error_set turns the CB_ENOMEM it causes into CB_ELIMIT with "memory
** limit of N MiB reached".  Memory that does not come from cb_alloc (BLAS
** buffers, protobuf-c's unpacked message, GLPK) is not counted: the cap is on
** the analyses' own arrays, which are what grows with the network.
*/
#define _DEFAULT_SOURCE 1   /* madvise(MADV_HUGEPAGE) */
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include "cb.h"

static long fail_after = -1;          /* allocations left before a forced failure; -1 never */
static double deadline;               /* monotonic seconds; 0 = no time limit */
static double timeout_s;              /* as given, for messages */
static size_t max_bytes;              /* 0 = no memory limit */
static atomic_size_t used, peak;      /* bytes held through cb_alloc */
static atomic_int time_hit, mem_hit;  /* a limit was reached */

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void cb_limits_set(double timeout, size_t bytes)
{
  timeout_s = timeout > 0 ? timeout : 0;
  deadline = timeout > 0 ? now() + timeout : 0;
  max_bytes = bytes;
  atomic_store(&time_hit, 0);
  atomic_store(&mem_hit, 0);
}

/* Per-thread deadline of the current task (certify's per-sample --timeout). */
static _Thread_local double task_deadline;

void cb_task_deadline(double seconds) { task_deadline = seconds > 0 ? now() + seconds : 0; }

int cb_time_up(void)
{
  if (task_deadline != 0 && now() >= task_deadline) return 1;
  if (deadline == 0) return 0;
  if (atomic_load_explicit(&time_hit, memory_order_relaxed)) return 1;
  if (now() < deadline) return 0;
  atomic_store(&time_hit, 1);
  return 1;
}

int cb_mem_limit_hit(void) { return atomic_load(&mem_hit); }
size_t cb_mem_limit(void) { return max_bytes; }
size_t cb_mem_used(void) { return atomic_load(&used); }
size_t cb_mem_peak(void) { return atomic_load(&peak); }

int cb_limit_error(cb_error *err, const char *where)
{
  if (deadline == 0 || now() < deadline)   /* the task's deadline, not the process's */
    return cb_error_set(err, CB_ELIMIT, "time limit of the task reached%s%s", where ? " in " : "", where ? where : "");
  return cb_error_set(err, CB_ELIMIT, "time limit of %g s reached%s%s", timeout_s,
                      where ? " in " : "", where ? where : "");
}

/* Tests: make the allocation after n more successful ones fail (n = -1: never). */
void cb_alloc_fail_after(long n) { fail_after = n; }

/* malloc (zeroed: calloc, whose fresh large blocks are untouched zero pages
   rather than a memset pass) through the test hook and the byte limit. */
static void *alloc_hooked(size_t n, int zeroed)
{
  void *p;
  size_t got, total, top;
  if (fail_after == 0) return NULL;
  if (fail_after > 0) fail_after--;
  if (max_bytes) {
    size_t u = atomic_load(&used);
    if (u >= max_bytes || n > max_bytes - u) { atomic_store(&mem_hit, 1); return NULL; }
  }
#ifdef MADV_HUGEPAGE
  /* A large zeroed block (a folded weight: loading a 10 MB ONNX file touches
     ~100 MB of them) is 2 MiB-aligned and advised to use 2 MiB pages, so its
     first touch is one page fault per 2 MiB, not per 4 KiB (advice only: a
     kernel without transparent huge pages ignores it). */
  if (zeroed && n >= ((size_t)4 << 20)) {
    size_t big = (n + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
    if (!(p = aligned_alloc((size_t)2 << 20, big))) return NULL;
    (void)madvise(p, big, MADV_HUGEPAGE);
    memset(p, 0, n);
  } else
#endif
  if (!(p = zeroed ? calloc(1, n ? n : 1) : malloc(n ? n : 1))) return NULL;
  got = malloc_usable_size(p);
  total = atomic_fetch_add(&used, got) + got;
  if (max_bytes && total > max_bytes) {  /* another thread took the room meanwhile */
    atomic_fetch_sub(&used, got);
    atomic_store(&mem_hit, 1);
    free(p);
    return NULL;
  }
  top = atomic_load(&peak);
  while (total > top && !atomic_compare_exchange_weak(&peak, &top, total)) {}
  return p;
}

void *cb_alloc(size_t n) { return alloc_hooked(n, 0); }

void *cb_calloc(size_t count, size_t n)
{
  if (n && count > SIZE_MAX / n) return NULL;
  return alloc_hooked(count * n, 1);
}

void cb_free(void *p)
{
  if (!p) return;
  atomic_fetch_sub(&used, malloc_usable_size(p));
  free(p);
}

char *cb_strdup(const char *s)
{
  size_t n = strlen(s) + 1;
  char *p = cb_alloc(n);
  if (p) memcpy(p, s, n);
  return p;
}
