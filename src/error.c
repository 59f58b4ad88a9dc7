/*
** Errors.  Every fallible function fills a cb_error through cb_error_set.
** (The allocator and its hooks live in limits.c.)
*/
#include <stdarg.h>
#include <string.h>
#include "cb.h"

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
  size_t k = 0;
  if (status == CB_ENOMEM && cb_mem_limit_hit()) status = CB_ELIMIT;  /* the cap, not the machine */
  if (!err || err->status != CB_OK) return status;
  err->status = status;
  if (status == CB_ELIMIT && cb_mem_limit_hit())
    k = (size_t)snprintf(err->msg, sizeof err->msg, "memory limit of %.4g MiB reached (--max-memory; default: the machine's RAM): ",
                         (double)cb_mem_limit() / 1048576.0);
  va_start(ap, fmt);
  vsnprintf(err->msg + k, sizeof err->msg - k, fmt, ap);
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
  case CB_ELIMIT: return "resource limit reached";
  }
  return "unknown status";
}
