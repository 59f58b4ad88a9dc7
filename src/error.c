/*
** Errors and allocation.  Every fallible function fills a cb_error through
** cb_error_set; the allocator hook lets tests fail the Nth allocation.
*/
#include <stdarg.h>
#include <string.h>
#include "cb.h"

static long fail_after = -1;  /* allocations left before a forced failure; -1 never */

/* Tests: make the allocation after n more successful ones fail (n = -1: never). */
void cb_alloc_fail_after(long n) { fail_after = n; }

void *cb_alloc(size_t n)
{
  if (fail_after == 0) return NULL;
  if (fail_after > 0) fail_after--;
  return malloc(n ? n : 1);
}

void *cb_calloc(size_t count, size_t n)
{
  size_t total;
  void *p;
  if (n && count > SIZE_MAX / n) return NULL;
  total = count * n;
  p = cb_alloc(total);
  if (p) memset(p, 0, total ? total : 1);
  return p;
}

void cb_free(void *p) { free(p); }

char *cb_strdup(const char *s)
{
  size_t n = strlen(s) + 1;
  char *p = cb_alloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

int cb_mul_size(size_t a, size_t b, size_t *out)
{
  if (b && a > CB_MAX_ELEMS / b) return 0;
  *out = a * b;
  return 1;
}

/* Keep the first error: later failures on the unwinding path must not hide it. */
int cb_error_set(cb_error *err, cb_status status, const char *fmt, ...)
{
  va_list ap;
  char *p;
  if (!err || err->status != CB_OK) return status;
  err->status = status;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  for (p = err->msg; *p; p++)  /* one printable line, whatever names the file holds */
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
  return status;
}

void cb_error_clear(cb_error *err)
{
  if (!err) return;
  err->status = CB_OK;
  err->msg[0] = 0;
}

const char *cb_status_name(cb_status s)
{
  switch (s) {
  case CB_OK: return "ok";
  case CB_EUSAGE: return "usage error";
  case CB_EIO: return "i/o error";
  case CB_EFORMAT: return "format error";
  case CB_EUNSUP: return "unsupported";
  case CB_ESHAPE: return "shape error";
  case CB_EVALUE: return "bad value";
  case CB_ENOMEM: return "out of memory";
  case CB_EINTERNAL: return "internal error";
  }
  return "unknown status";
}
