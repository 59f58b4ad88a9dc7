/*
** Labelled samples from NumPy files: X.npy with a labels .npy, or one .npz
** (np.savez(path, x=X, y=y)), and cb_data_load, which picks NPY, NPZ or CSV
** by the file's first bytes.  Written from the NPY format spec
** (numpy.lib.format, versions 1.0, 2.0 and 3.0) and PKWARE's APPNOTE (zip).
**
** NPY: "\x93NUMPY", major, minor, a header length (2 bytes little-endian for
** v1, 4 for v2/v3), then an ASCII (v3: UTF-8) Python dict literal
** {'descr': '<f8', 'fortran_order': False, 'shape': (N, ...), } and the raw
** C-order data.  Features: '<f8', '<f4', '|u1' (times `scale`, for uint8
** pixels e.g. 1/255).  Labels: '<i8', '<i4', '|u1', '|i1', and '<f8'/'<f4'
** with integral values; shape (N,) or (N, 1).  X of shape (N, d1, ...)
** gives N rows of d1*... features.
**
** NPZ: a zip whose entries x.npy and y.npy are stored (method 0, what
** np.savez writes) or deflated (method 8, np.savez_compressed; zlib, into
** a buffer of exactly the declared size), ZIP64 sizes and offsets included
** (numpy writes with force_zip64).  Every offset and size is checked
** against the file size and each entry's CRC-32 is checked.
**
** Refused by name, one line "PATH: ..." (an NPZ entry "PATH: x.npy: ..."):
** a header that does not parse, fortran_order True, a big-endian or other
** dtype, a shape whose product overflows, truncated or trailing data, no
** rows or no features, NaN or infinite features (CB_EVALUE), non-integral
** labels or labels that do not fit in an int, a label count that differs
** from the row count, a feature count that differs from the network's,
** encrypted NPZ entries or methods other than stored and deflate, corrupt
** deflate data, a CRC mismatch, a zip without x.npy/y.npy.
**
** Files are read whole into one cb_alloc buffer (hundreds of rows to a few
** hundred thousand, read once); the values are converted to double.
*/
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include "cb.h"

#define NPY_MAX_DIMS 16

/* One parsed array: dtype kind 'f', 'i' or 'u', item size, shape, data. */
typedef struct npy_arr {
  char kind;
  size_t size, ndim, count;
  size_t shape[NPY_MAX_DIMS];
  const unsigned char *data;   /* count * size bytes, little-endian */
} npy_arr;

/* The header text being parsed: [p, e), with the name for messages. */
typedef struct hdr {
  const char *p, *e, *name;
  cb_error *err;
} hdr;

static uint64_t le(const unsigned char *b, size_t n)
{
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = v << 8 | b[i];
  return v;
}

static void skip_ws(hdr *h)
{
  while (h->p < h->e && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

/* 1 and consumes c (after blanks) if it comes next, else 0. */
static int eat(hdr *h, char c)
{
  skip_ws(h);
  if (h->p < h->e && *h->p == c) { h->p++; return 1; }
  return 0;
}

static int bad_header(hdr *h, const char *what)
{
  return cb_error_set(h->err, CB_EFORMAT, "%s: NPY header does not parse (%s)", h->name, what);
}

/* A quoted Python string ('...' or "...", no escapes) into buf. */
static int quoted(hdr *h, char *buf, size_t cap)
{
  char q;
  size_t n = 0;
  skip_ws(h);
  if (h->p >= h->e || (*h->p != '\'' && *h->p != '"')) return bad_header(h, "a quoted string expected");
  q = *h->p++;
  while (h->p < h->e && *h->p != q) {
    if (n + 1 >= cap || *h->p == '\\') return bad_header(h, "string too long or escaped");
    buf[n++] = *h->p++;
  }
  if (h->p >= h->e) return bad_header(h, "unterminated string");
  h->p++;
  buf[n] = 0;
  return CB_OK;
}

/* The dtype string: sets kind and size, or refuses it by name. */
static int parse_descr(hdr *h, npy_arr *a)
{
  static const struct { const char *s; char kind; size_t size; } ok[] = {
    {"<f8", 'f', 8}, {"<f4", 'f', 4}, {"|u1", 'u', 1}, {"<u1", 'u', 1}, {"|i1", 'i', 1}, {"<i1", 'i', 1},
    {"<i8", 'i', 8}, {"<i4", 'i', 4}};
  char d[32];
  int rc;
  if (eat(h, '[')) return cb_error_set(h->err, CB_EUNSUP, "%s: structured dtype is not supported (float64, float32 or uint8)", h->name);
  if ((rc = quoted(h, d, sizeof d)) < 0) return rc;
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (!strcmp(d, ok[i].s)) { a->kind = ok[i].kind; a->size = ok[i].size; return CB_OK; }
  if (d[0] == '>')
    return cb_error_set(h->err, CB_EUNSUP, "%s: big-endian dtype '%s' is not supported (save with '<' byte order)", h->name, d);
  return cb_error_set(h->err, CB_EUNSUP,
                      "%s: unsupported dtype '%s' (features: <f8, <f4, |u1; labels also <i8, <i4, |i1)", h->name, d);
}

/* The shape tuple "(d0, d1, )": dims into a, count = their product. */
static int parse_shape(hdr *h, npy_arr *a)
{
  if (!eat(h, '(')) return bad_header(h, "shape is not a tuple");
  a->ndim = 0;
  a->count = 1;
  for (;;) {
    size_t v = 0;
    if (eat(h, ')')) return CB_OK;
    skip_ws(h);
    if (h->p >= h->e || *h->p < '0' || *h->p > '9') return bad_header(h, "shape entry is not a number");
    while (h->p < h->e && *h->p >= '0' && *h->p <= '9') {
      if (v > (SIZE_MAX - 9) / 10) return cb_error_set(h->err, CB_ENOMEM, "%s: absurd shape (a dimension overflows)", h->name);
      v = v * 10 + (size_t)(*h->p++ - '0');
    }
    if (a->ndim == NPY_MAX_DIMS) return cb_error_set(h->err, CB_EUNSUP, "%s: more than %d dimensions", h->name, NPY_MAX_DIMS);
    a->shape[a->ndim++] = v;
    if (!cb_mul_size(a->count, v, &a->count))
      return cb_error_set(h->err, CB_ENOMEM, "%s: absurd shape (more than %zu values)", h->name, (size_t)CB_MAX_ELEMS);
    if (!eat(h, ',')) {
      if (eat(h, ')')) return CB_OK;
      return bad_header(h, "',' or ')' expected in shape");
    }
  }
}

/* The header dict: exactly the keys descr, fortran_order and shape. */
static int parse_dict(hdr *h, npy_arr *a)
{
  int seen = 0, rc;
  if (!eat(h, '{')) return bad_header(h, "'{' expected");
  while (!eat(h, '}')) {
    char key[32];
    int bit;
    if ((rc = quoted(h, key, sizeof key)) < 0) return rc;
    if (!eat(h, ':')) return bad_header(h, "':' expected");
    bit = !strcmp(key, "descr") ? 1 : !strcmp(key, "fortran_order") ? 2 : !strcmp(key, "shape") ? 4 : 0;
    if (!bit || (seen & bit)) return bad_header(h, "unknown or repeated key");
    seen |= bit;
    if (bit == 1) rc = parse_descr(h, a);
    else if (bit == 4) rc = parse_shape(h, a);
    else {
      skip_ws(h);
      if ((size_t)(h->e - h->p) >= 4 && !memcmp(h->p, "True", 4))
        return cb_error_set(h->err, CB_EUNSUP, "%s: fortran_order True is not supported (save a C-order array)", h->name);
      if ((size_t)(h->e - h->p) < 5 || memcmp(h->p, "False", 5)) return bad_header(h, "fortran_order is not True or False");
      h->p += 5;
    }
    if (rc < 0) return rc;
    if (!eat(h, ',')) {
      if (eat(h, '}')) break;
      return bad_header(h, "',' or '}' expected");
    }
  }
  skip_ws(h);
  if (h->p != h->e) return bad_header(h, "text after the dict");
  if (seen != 7) return bad_header(h, "descr, fortran_order or shape missing");
  return CB_OK;
}

/* Parses the NPY file b[0..n) named `name` into a (data points into b). */
static int npy_parse(const unsigned char *b, size_t n, const char *name, npy_arr *a, cb_error *err)
{
  size_t lenb, hlen, off, bytes;
  hdr h;
  int rc;
  memset(a, 0, sizeof *a);
  if (n < 10 || memcmp(b, "\x93NUMPY", 6)) return cb_error_set(err, CB_EFORMAT, "%s: not a NumPy .npy file (no \\x93NUMPY magic)", name);
  if (b[6] < 1 || b[6] > 3) return cb_error_set(err, CB_EUNSUP, "%s: NPY version %d.%d is not supported (1.0, 2.0, 3.0)", name, b[6], b[7]);
  lenb = b[6] == 1 ? 2 : 4;
  if (n < 8 + lenb) return cb_error_set(err, CB_EFORMAT, "%s: truncated NPY header", name);
  hlen = (size_t)le(b + 8, lenb);
  off = 8 + lenb;
  if (hlen > n - off) return cb_error_set(err, CB_EFORMAT, "%s: truncated NPY header (%zu bytes announced)", name, hlen);
  h = (hdr){(const char *)b + off, (const char *)b + off + hlen, name, err};
  if ((rc = parse_dict(&h, a)) < 0) return rc;
  off += hlen;
  bytes = a->count * a->size;   /* count <= 2^31, size <= 8: no overflow */
  if (n - off < bytes)
    return cb_error_set(err, CB_EFORMAT, "%s: truncated data: %zu bytes for %zu values of %zu bytes", name, n - off, a->count, a->size);
  if (n - off > bytes)
    return cb_error_set(err, CB_EFORMAT, "%s: %zu bytes of trailing data after %zu values", name, n - off - bytes, a->count);
  a->data = b + off;
  return CB_OK;
}

/* Value i of a as a double (integers up to 2^53 exactly, beyond rounded). */
static double npy_get(const npy_arr *a, size_t i)
{
  const unsigned char *p = a->data + i * a->size;
  uint64_t u = le(p, a->size);
  if (a->kind == 'f') {
    if (a->size == 8) { double d; memcpy(&d, &u, 8); return d; }
    { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); return (double)f; }
  }
  if (a->kind == 'u') return (double)u;
  if (a->size == 1) return (double)(int8_t)u;
  if (a->size == 4) return (double)(int32_t)(uint32_t)u;
  return (double)(int64_t)u;
}

/* Fills d from the parsed X and labels arrays (names for messages). */
static int fill(cb_data *d, const npy_arr *x, const char *xname, const npy_arr *y, const char *yname,
                size_t n_features, double scale, cb_error *err)
{
  size_t rows, cols;
  if (x->kind != 'f' && !(x->kind == 'u' && x->size == 1))
    return cb_error_set(err, CB_EUNSUP, "%s: features must be float64, float32 or uint8 (<f8, <f4, |u1)", xname);
  if (x->ndim < 1 || x->shape[0] == 0) return cb_error_set(err, CB_EFORMAT, "%s: no samples (shape has no rows)", xname);
  rows = x->shape[0];
  cols = x->count / rows;
  if (cols == 0) return cb_error_set(err, CB_EFORMAT, "%s: no features (a dimension is 0)", xname);
  if (n_features && cols != n_features)
    return cb_error_set(err, CB_ESHAPE, "%s: %zu features per row, the network takes %zu", xname, cols, n_features);
  if (y->ndim < 1 || y->ndim > 2 || (y->ndim == 2 && y->shape[1] != 1))
    return cb_error_set(err, CB_ESHAPE, "%s: labels must have shape (N,) or (N, 1)", yname);
  if (y->shape[0] != rows)
    return cb_error_set(err, CB_ESHAPE, "%s: %zu labels for %zu rows", yname, y->shape[0], rows);
  d->rows = rows;
  d->cols = cols;
  if (!(d->x = cb_calloc(x->count, sizeof *d->x)) || !(d->label = cb_calloc(rows, sizeof *d->label)))
    return cb_error_set(err, CB_ENOMEM, "%s: out of memory for %zu values", xname, x->count);
  for (size_t i = 0; i < x->count; i++) {
    double v = npy_get(x, i) * scale;
    if (!isfinite(v))
      return cb_error_set(err, CB_EVALUE, "%s: row %zu: NaN or infinite value (feature %zu)", xname, i / cols, i % cols);
    d->x[i] = v;
  }
  for (size_t r = 0; r < rows; r++) {
    double v = npy_get(y, r);
    if (!isfinite(v) || v != floor(v)) return cb_error_set(err, CB_EFORMAT, "%s: row %zu: label %g is not an integer", yname, r, v);
    if (v < INT_MIN || v > INT_MAX) return cb_error_set(err, CB_EVALUE, "%s: row %zu: label %g does not fit in an int", yname, r, v);
    d->label[r] = (int)v;
  }
  return CB_OK;
}

/* Reads the whole file into *buf (cb_alloc), its length into *n. */
static int read_all(const char *path, unsigned char **buf, size_t *n, cb_error *err)
{
  FILE *f = fopen(path, "rb");
  long len;
  int rc = CB_OK;
  *buf = NULL;
  if (!f) return cb_error_set(err, CB_EIO, "%s: cannot open: %s", path, strerror(errno));
  if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
    rc = cb_error_set(err, CB_EIO, "%s: cannot read: %s", path, strerror(errno));
    goto out;
  }
  if ((unsigned long)len > (unsigned long)CB_MAX_ELEMS * 8 + 65536) {
    rc = cb_error_set(err, CB_ENOMEM, "%s: absurd size (%ld bytes)", path, len);
    goto out;
  }
  *n = (size_t)len;
  if (!(*buf = cb_alloc(*n ? *n : 1))) { rc = cb_error_set(err, CB_ENOMEM, "%s: out of memory (%ld bytes)", path, len); goto out; }
  if (fread(*buf, 1, *n, f) != *n) rc = cb_error_set(err, CB_EIO, "%s: read error", path);
out:
  fclose(f);
  return rc;
}

/* CRC-32 (IEEE, reflected, as zip). */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = c >> 1 ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return ~c;
}

/* One central-directory entry, its sizes and offset with ZIP64 applied. */
typedef struct zent {
  const unsigned char *name;
  size_t name_len;
  unsigned method, flags;
  uint32_t crc;
  uint64_t csize, usize, lho;
} zent;

/* Reads the ZIP64 extra field (0x0001) of e from extra[0..n): replaces the
** fields that are 0xFFFFFFFF, in the order usize, csize, offset. */
static int zip64_extra(const unsigned char *x, size_t n, zent *e, const char *path, cb_error *err)
{
  while (n >= 4) {
    size_t id = (size_t)le(x, 2), sz = (size_t)le(x + 2, 2), k = 0;
    if (sz > n - 4) return cb_error_set(err, CB_EFORMAT, "%s: zip extra field runs past its entry", path);
    if (id == 1) {
      uint64_t *f[3] = {&e->usize, &e->csize, &e->lho};
      for (int i = 0; i < 3; i++) {
        if (*f[i] != 0xFFFFFFFFu) continue;
        if (k + 8 > sz) return cb_error_set(err, CB_EFORMAT, "%s: zip64 extra field too short", path);
        *f[i] = le(x + 4 + k, 8);
        k += 8;
      }
    }
    x += 4 + sz;
    n -= 4 + sz;
  }
  return CB_OK;
}

/* Finds the central directory of zip b[0..n): *cd offset, *cd_n bytes, *cnt entries. */
static int zip_dir(const unsigned char *b, size_t n, const char *path, size_t *cd, size_t *cd_n, size_t *cnt,
                   cb_error *err)
{
  size_t eocd = 0, lo = n > 22 + 65535 ? n - 22 - 65535 : 0;
  uint64_t off, size, count;
  int found = 0;
  for (size_t i = n >= 22 ? n - 22 + 1 : 0; i-- > lo;)
    if (!memcmp(b + i, "PK\x05\x06", 4)) { eocd = i; found = 1; break; }
  if (!found) return cb_error_set(err, CB_EFORMAT, "%s: zip archive without an end-of-central-directory record (truncated?)", path);
  count = le(b + eocd + 10, 2);
  size = le(b + eocd + 12, 4);
  off = le(b + eocd + 16, 4);
  if ((count == 0xFFFF || size == 0xFFFFFFFFu || off == 0xFFFFFFFFu) && eocd >= 20 && !memcmp(b + eocd - 20, "PK\x06\x07", 4)) {
    uint64_t z = le(b + eocd - 20 + 8, 8);
    if (z > n || n - z < 56 || memcmp(b + z, "PK\x06\x06", 4))
      return cb_error_set(err, CB_EFORMAT, "%s: bad zip64 end-of-central-directory record", path);
    count = le(b + z + 32, 8);
    size = le(b + z + 40, 8);
    off = le(b + z + 48, 8);
  }
  if (off > n || size > n - off) return cb_error_set(err, CB_EFORMAT, "%s: zip central directory outside the file", path);
  *cd = (size_t)off;
  *cd_n = (size_t)size;
  *cnt = (size_t)count;
  return CB_OK;
}

/* Parses the central-directory entry at b[*p..end) into e, advancing *p. */
static int zip_entry(const unsigned char *b, size_t *p, size_t end, zent *e, const char *path, cb_error *err)
{
  const unsigned char *q = b + *p;
  size_t nl, xl, cl;
  if (end - *p < 46 || memcmp(q, "PK\x01\x02", 4)) return cb_error_set(err, CB_EFORMAT, "%s: bad zip central directory entry", path);
  nl = (size_t)le(q + 28, 2);
  xl = (size_t)le(q + 30, 2);
  cl = (size_t)le(q + 32, 2);
  if (nl + xl + cl > end - *p - 46) return cb_error_set(err, CB_EFORMAT, "%s: zip central directory entry runs past its end", path);
  *e = (zent){q + 46, nl, (unsigned)le(q + 10, 2), (unsigned)le(q + 8, 2), (uint32_t)le(q + 16, 4),
              le(q + 20, 4), le(q + 24, 4), le(q + 42, 4)};
  *p += 46 + nl + xl + cl;
  return zip64_extra(q + 46 + nl, xl, e, path, err);
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) { (void)opaque; return cb_calloc(items, size); }
static void z_free(voidpf opaque, voidpf p) { (void)opaque; cb_free(p); }

/* Inflates the raw deflate stream in[0..n) into a new cb_alloc buffer of
** exactly `want` bytes (*out; the entry's declared size, so a zip bomb
** stops there). */
static int inflate_entry(const unsigned char *in, size_t n, size_t want, unsigned char **out, const char *path,
                         const zent *e, cb_error *err)
{
  z_stream z;
  unsigned char *buf;
  int zr, nn = (int)e->name_len;
  const char *nm = (const char *)e->name;
  /* deflate expands at most 1032:1: a larger declared size is a lie */
  if (want > CB_MAX_ELEMS * 8 + 65536 || n > UINT_MAX || want > UINT_MAX || want / 1032 > n + 1)
    return cb_error_set(err, CB_EFORMAT, "%s: %.*s: declared size %zu is impossible for %zu deflated bytes", path, nn, nm, want, n);
  if (!(buf = cb_alloc(want ? want : 1))) return cb_error_set(err, CB_ENOMEM, "%s: %.*s: out of memory", path, nn, nm);
  memset(&z, 0, sizeof z);
  z.zalloc = z_alloc;
  z.zfree = z_free;
  if (inflateInit2(&z, -15) != Z_OK) {
    cb_free(buf);
    return cb_error_set(err, CB_ENOMEM, "%s: %.*s: cannot start inflate", path, nn, nm);
  }
  z.next_in = (Bytef *)(uintptr_t)in;
  z.avail_in = (uInt)n;
  z.next_out = buf;
  z.avail_out = (uInt)want;
  zr = inflate(&z, Z_FINISH);
  inflateEnd(&z);
  if (zr == Z_MEM_ERROR) { cb_free(buf); return cb_error_set(err, CB_ENOMEM, "%s: %.*s: out of memory inflating", path, nn, nm); }
  if (zr != Z_STREAM_END || z.total_out != want) {
    cb_free(buf);
    return cb_error_set(err, CB_EFORMAT, "%s: %.*s: corrupt deflate data (or not the declared size)", path, nn, nm);
  }
  *out = buf;
  return CB_OK;
}

/* The data of entry e in b[0..n) (*size bytes): stored, pointing into b, or
** deflated into a new buffer *own (cb_alloc; the caller frees it).  Checks
** the method, every bound and the CRC. */
static int zip_data(const unsigned char *b, size_t n, const zent *e, const char *path, const unsigned char **data,
                    size_t *size, unsigned char **own, cb_error *err)
{
  uint64_t start;
  const char *nm = (const char *)e->name;
  int nn = (int)e->name_len, rc;
  *own = NULL;
  if (e->flags & 1) return cb_error_set(err, CB_EUNSUP, "%s: %.*s: encrypted zip entry is not supported", path, nn, nm);
  if (e->method != 0 && e->method != 8)
    return cb_error_set(err, CB_EUNSUP, "%s: %.*s: zip compression method %u is not supported (np.savez or np.savez_compressed)", path, nn, nm, e->method);
  if (e->method == 0 && e->csize != e->usize) return cb_error_set(err, CB_EFORMAT, "%s: %.*s: stored entry with different sizes", path, nn, nm);
  if (e->lho > n || n - e->lho < 30 || memcmp(b + e->lho, "PK\x03\x04", 4))
    return cb_error_set(err, CB_EFORMAT, "%s: %.*s: bad zip local header offset", path, nn, nm);
  start = e->lho + 30 + le(b + e->lho + 26, 2) + le(b + e->lho + 28, 2);
  if (start > n || e->csize > n - start) return cb_error_set(err, CB_EFORMAT, "%s: %.*s: zip entry runs past the end of the file (truncated?)", path, nn, nm);
  *data = b + start;
  *size = (size_t)e->csize;
  if (e->method == 8) {
    if ((rc = inflate_entry(b + start, (size_t)e->csize, (size_t)e->usize, own, path, e, err)) < 0) return rc;
    *data = *own;
    *size = (size_t)e->usize;
  }
  if (crc32_of(*data, *size) != e->crc) return cb_error_set(err, CB_EFORMAT, "%s: %.*s: CRC mismatch (corrupt archive)", path, nn, nm);
  return CB_OK;
}

/* Loads x.npy and y.npy from the zip b[0..n) into d. */
static int load_npz(const unsigned char *b, size_t n, const char *path, size_t n_features, double scale, cb_data *d,
                    cb_error *err)
{
  size_t cd = 0, cd_n = 0, cnt = 0, p;
  zent ents[2];
  int have[2] = {0, 0}, rc;
  npy_arr arr[2];
  char name[2][1100];
  unsigned char *own[2] = {NULL, NULL};
  if ((rc = zip_dir(b, n, path, &cd, &cd_n, &cnt, err)) < 0) return rc;
  p = cd;
  for (size_t i = 0; i < cnt; i++) {
    zent e;
    if ((rc = zip_entry(b, &p, cd + cd_n, &e, path, err)) < 0) goto out;
    for (int k = 0; k < 2; k++)
      if (e.name_len == 5 && !memcmp(e.name, k ? "y.npy" : "x.npy", 5)) {
        if (have[k]) { rc = cb_error_set(err, CB_EFORMAT, "%s: two entries %s", path, k ? "y.npy" : "x.npy"); goto out; }
        ents[k] = e;
        have[k] = 1;
      }
  }
  for (int k = 0; k < 2; k++) {
    const unsigned char *data = NULL;
    size_t size = 0;
    if (!have[k]) {
      rc = cb_error_set(err, CB_EFORMAT, "%s: no %s in the archive (np.savez(path, x=X, y=labels))", path, k ? "y.npy" : "x.npy");
      goto out;
    }
    snprintf(name[k], sizeof name[k], "%.1000s: %s", path, k ? "y.npy" : "x.npy");
    if ((rc = zip_data(b, n, &ents[k], path, &data, &size, &own[k], err)) < 0) goto out;
    if ((rc = npy_parse(data, size, name[k], &arr[k], err)) < 0) goto out;
  }
  rc = fill(d, &arr[0], name[0], &arr[1], name[1], n_features, scale, err);
out:
  cb_free(own[0]);
  cb_free(own[1]);
  return rc;
}

/* Loads X.npy (path) with labels.npy (labels_path) into d. */
static int load_npy(const char *path, const unsigned char *b, size_t n, const char *labels_path, size_t n_features,
                    double scale, cb_data *d, cb_error *err)
{
  unsigned char *lb = NULL;
  size_t ln = 0;
  npy_arr x, y;
  int rc;
  if (!labels_path) return cb_error_set(err, CB_EUSAGE, "%s: a .npy file needs its labels (--labels y.npy)", path);
  if ((rc = npy_parse(b, n, path, &x, err)) < 0) return rc;
  if ((rc = read_all(labels_path, &lb, &ln, err)) < 0) goto out;
  if ((rc = npy_parse(lb, ln, labels_path, &y, err)) < 0) goto out;
  rc = fill(d, &x, path, &y, labels_path, n_features, scale, err);
out:
  cb_free(lb);
  return rc;
}

/* Loads labelled samples from path, by content: NPY (with labels_path), NPZ
** (x.npy, y.npy), else CSV.  Features are multiplied by scale (> 0, finite).
** n_features 0 = infer.  On failure *out is NULL and nothing leaks. */
cb_status cb_data_load(const char *path, const char *labels_path, size_t n_features, double scale, cb_data **out,
                       cb_error *err)
{
  unsigned char *b = NULL;
  size_t n = 0;
  cb_data *d = NULL;
  int rc;
  if (!path || !out) return cb_error_set(err, CB_EUSAGE, "cb_data_load: NULL argument");
  *out = NULL;
  if (!(scale > 0) || !isfinite(scale)) return cb_error_set(err, CB_EUSAGE, "%s: scale %g is not a finite number > 0", path, scale);
  {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return png_folder_load(path, labels_path, n_features, scale, out, err);
  }
  {
    unsigned char head[6] = {0};
    FILE *f = fopen(path, "rb");
    size_t k;
    if (!f) return cb_error_set(err, CB_EIO, "%s: cannot open: %s", path, strerror(errno));
    k = fread(head, 1, sizeof head, f);
    fclose(f);
    if (!(k == 6 && !memcmp(head, "\x93NUMPY", 6)) && !(k >= 4 && !memcmp(head, "PK\x03\x04", 4))) {
      if (labels_path)
        return cb_error_set(err, CB_EUSAGE, "%s: --labels is only for a .npy file (CSV and .npz carry their labels)", path);
      if ((rc = cb_data_load_csv(path, n_features, &d, err)) < 0) return (cb_status)rc;
      if (scale != 1)
        for (size_t i = 0; i < d->rows * d->cols; i++) d->x[i] *= scale;
      *out = d;
      return CB_OK;
    }
  }
  if ((rc = read_all(path, &b, &n, err)) < 0) goto out;
  if (!(d = cb_calloc(1, sizeof *d))) { rc = cb_error_set(err, CB_ENOMEM, "%s: out of memory", path); goto out; }
  if (n >= 4 && b[0] == 'P') {
    if (labels_path) rc = cb_error_set(err, CB_EUSAGE, "%s: --labels is only for a .npy file (a .npz carries y.npy)", path);
    else rc = load_npz(b, n, path, n_features, scale, d, err);
  } else rc = load_npy(path, b, n, labels_path, n_features, scale, d, err);
out:
  cb_free(b);
  if (rc < 0) cb_data_free(d);
  else *out = d;
  return (cb_status)rc;
}

/*
** One value per feature (--box LO HI, --eps-per-feature, issue 20): an NPY
** array of any C-order shape whose element count is n (float64, float32 or
** an integer dtype; (n,), (1, n), or the network's (C, H, W)), or a text
** file of exactly n numbers separated by commas, blanks or newlines (a
** CSV row or column; '#' starts a comment line).  Every value finite.
** Errors name the file; out is untouched on error.
*/
static int vector_text(const char *path, const unsigned char *b, size_t len, size_t n, double *out, cb_error *err)
{
  size_t k = 0, line = 1;
  const char *p = (const char *)b, *e = p + len;
  char tok[64];
  while (p < e) {
    size_t t = 0;
    if (*p == '#') { while (p < e && *p != '\n') p++; continue; }
    if (*p == '\n') { line++; p++; continue; }
    if (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' || *p == ';') { p++; continue; }
    while (p < e && !strchr(",; \t\r\n", *p) && t + 1 < sizeof tok) tok[t++] = *p++;
    tok[t] = 0;
    if (p < e && !strchr(",; \t\r\n", *p))
      return cb_error_set(err, CB_EFORMAT, "%s: line %zu: value too long", path, line);
    {
      char *end;
      double v = strtod(tok, &end);
      if (end == tok || *end)
        return cb_error_set(err, CB_EFORMAT, "%s: line %zu: '%.40s' is not a number", path, line, tok);
      if (!isfinite(v)) return cb_error_set(err, CB_EVALUE, "%s: line %zu: value %zu is NaN or infinite", path, line, k);
      if (k >= n) return cb_error_set(err, CB_ESHAPE, "%s: more than %zu values, the network takes %zu inputs", path, n, n);
      out[k++] = v;
    }
  }
  if (k != n) return cb_error_set(err, CB_ESHAPE, "%s: %zu values, the network takes %zu inputs", path, k, n);
  return CB_OK;
}

cb_status cb_vector_load(const char *path, size_t n, double *out, cb_error *err)
{
  unsigned char *b = NULL;
  size_t len = 0;
  double *v = NULL;
  npy_arr a;
  int rc;
  struct stat st;
  if (!path || !out) return cb_error_set(err, CB_EUSAGE, "cb_vector_load: NULL argument");
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return cb_error_set(err, CB_EIO, "%s: is a directory, not a file", path);
  if ((rc = read_all(path, &b, &len, err)) < 0) return (cb_status)rc;
  if (!(v = cb_calloc(n ? n : 1, sizeof *v))) { rc = cb_error_set(err, CB_ENOMEM, "%s: out of memory", path); goto out; }
  if (len >= 6 && !memcmp(b, "\x93NUMPY", 6)) {
    if ((rc = npy_parse(b, len, path, &a, err)) < 0) goto out;
    if (a.kind != 'f' && a.kind != 'i' && a.kind != 'u') { rc = cb_error_set(err, CB_EUNSUP, "%s: values must be floats or integers", path); goto out; }
    if (a.count != n) {
      char shp[128] = "";
      size_t o = 0;
      for (size_t d = 0; d < a.ndim && o + 24 < sizeof shp; d++) o += (size_t)snprintf(shp + o, sizeof shp - o, "%s%zu", d ? ", " : "", a.shape[d]);
      if (a.ndim == 1) snprintf(shp + o, sizeof shp - o, ",");   /* NumPy's (3,) */
      rc = cb_error_set(err, CB_ESHAPE, "%s: shape (%s) holds %zu values, the network takes %zu inputs", path, shp, a.count, n);
      goto out;
    }
    for (size_t i = 0; i < n; i++) {
      v[i] = npy_get(&a, i);
      if (!isfinite(v[i])) { rc = cb_error_set(err, CB_EVALUE, "%s: value %zu is NaN or infinite", path, i); goto out; }
    }
  } else if (len >= 4 && !memcmp(b, "PK\x03\x04", 4)) {
    rc = cb_error_set(err, CB_EFORMAT, "%s: a .npz archive: give one .npy array or a text file of %zu numbers", path, n);
    goto out;
  } else {
    for (size_t i = 0; i < len; i++)
      if (b[i] == 0 || (b[i] < 32 && !strchr("\t\r\n", b[i]))) {
        rc = cb_error_set(err, CB_EFORMAT, "%s: binary data, not an .npy array nor a text file of numbers", path);
        goto out;
      }
    if ((rc = vector_text(path, b, len, n, v, err)) < 0) goto out;
  }
  memcpy(out, v, n * sizeof *v);
  rc = CB_OK;
out:
  cb_free(v);
  cb_free(b);
  return (cb_status)rc;
}
