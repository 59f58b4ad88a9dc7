/*
** Labelled samples from CSV: rows "label,x0,...,x(n-1)", and an optional
** header line (a first line with no numeric field).  Labels may be written
** in float notation when integral ("2.000e+00", NumPy's savetxt).  A file
** that is not text (NPY, NPZ, PNG, a control byte in its first 64 bytes) is
** refused by name.
**
** Accepted: comma-separated fields with optional spaces or tabs around them,
** \n or \r\n line ends, blank lines at the end of the file.  Refused, with
** `PATH:LINE: ...` (lines from 1; columns from 1, the label is column 1 and
** feature j is column j+2): a blank line followed by more data, a row whose
** column count differs from the expected one, an empty or non-numeric field
** (quoted), a label that is not integral or does not fit in an int, a NaN
** or infinite feature (CB_EVALUE), a file with no rows.
**
** Storage: x is one row-major [rows][cols] double array and label one int
** array, both grown geometrically through cb_alloc; cb_data owns them.  Sizes:
** hundreds to a few hundred thousand rows, read once.  The line buffer comes
** from getline (libc malloc) and is released with free().
*/
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include "cb.h"

typedef struct csv_rd {
  FILE *f;
  const char *path;
  char *line;          /* current line (getline buffer) */
  size_t cap;          /* its capacity */
  long lineno;         /* 1-based number of the current line */
  long blank;          /* first blank line since the last row, 0 if none */
  size_t want;         /* features per row, 0 until known */
  size_t nx, xcap;     /* doubles used and allocated in d->x */
  size_t lcap;         /* ints allocated in d->label */
  cb_data *d;
  cb_error *err;
} csv_rd;

/* Makes *p (elements of `elem` bytes, *cap of them) hold at least `need`,
** doubling; returns 0 on overflow past CB_MAX_ELEMS or allocation failure. */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
  size_t n = *cap ? *cap : 64;
  void *q;
  if (need <= *cap) return 1;
  if (need > CB_MAX_ELEMS) return 0;
  while (n < need) n = n > CB_MAX_ELEMS / 2 ? CB_MAX_ELEMS : 2 * n;
  q = cb_calloc(n, elem);
  if (!q) return 0;
  if (*cap) memcpy(q, *p, *cap * elem);
  cb_free(*p);
  *p = q;
  *cap = n;
  return 1;
}

/* Reads the next line into rd->line with its \n or \r\n removed.  Returns 1,
** 0 at end of file, or a negative status on a read error. */
static int next_line(csv_rd *rd)
{
  ssize_t n;
  errno = 0;
  n = getline(&rd->line, &rd->cap, rd->f);
  if (n < 0) {
    if (!ferror(rd->f)) return 0;
    if (errno == ENOMEM)
      return cb_error_set(rd->err, CB_ENOMEM, "%s:%ld: out of memory reading a line", rd->path,
                          rd->lineno + 1);
    return cb_error_set(rd->err, CB_EIO, "%s:%ld: read error: %s", rd->path, rd->lineno + 1,
                        strerror(errno));
  }
  rd->lineno++;
  while (n > 0 && (rd->line[n - 1] == '\n' || rd->line[n - 1] == '\r')) rd->line[--n] = 0;
  return 1;
}

/* Strips spaces and tabs around the NUL-terminated field s, in place. */
static char *trim(char *s)
{
  size_t n;
  s += strspn(s, " \t");
  n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
  return s;
}

/* Parses the label field s (column 1): an integer that fits in an int,
   written as one ("2") or in float notation with an integral value
   ("2.000e+00", NumPy's savetxt default). */
static int parse_label(csv_rd *rd, const char *s, int *label)
{
  char *end;
  long v;
  double d;
  errno = 0;
  v = strtol(s, &end, 10);
  if (end != s && !*end) {
    if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
      return cb_error_set(rd->err, CB_EVALUE, "%s:%ld: label \"%.40s\" does not fit in an int (column 1)",
                          rd->path, rd->lineno, s);
    *label = (int)v;
    return CB_OK;
  }
  d = strtod(s, &end);
  if (end == s || *end || !isfinite(d) || d != floor(d))
    return cb_error_set(rd->err, CB_EFORMAT, "%s:%ld: label \"%.40s\" is not an integer (column 1)",
                        rd->path, rd->lineno, s);
  if (d < INT_MIN || d > INT_MAX)
    return cb_error_set(rd->err, CB_EVALUE, "%s:%ld: label \"%.40s\" does not fit in an int (column 1)",
                        rd->path, rd->lineno, s);
  *label = (int)d;
  return CB_OK;
}

/* 1 if no field of line s parses as a number: a header line ("label,x0,..."). */
static int is_header(const char *line)
{
  const char *p = line;
  for (;;) {
    size_t n = strcspn(p, ","), k = 0;
    char buf[64], *end;
    while (k < n && (p[k] == ' ' || p[k] == '\t')) k++;
    if (n - k >= sizeof buf) return 0;
    memcpy(buf, p + k, n - k);
    buf[n - k] = 0;
    if (!buf[0]) return 0;
    strtod(buf, &end);
    if (end != buf) return 0;
    if (!p[n]) return 1;
    p += n + 1;
  }
}

/* The first bytes of a file that is not text: which format it is, or NULL. */
static const char *binary_format(const unsigned char *b, size_t n)
{
  if (n >= 6 && !memcmp(b, "\x93NUMPY", 6)) return "a NumPy .npy file";
  if (n >= 4 && !memcmp(b, "PK\x03\x04", 4)) return "a zip archive (NumPy .npz?)";
  if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return "a PNG image (give the folder of images with --labels FILE.csv)";
  for (size_t i = 0; i < n; i++)
    if ((b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r') || b[i] == 0x7f) return "a binary file";
  return NULL;
}

/* Parses feature field s (0-based feature j) and appends it to d->x. */
static int parse_feature(csv_rd *rd, const char *s, size_t j)
{
  char *end;
  double v = strtod(s, &end);
  if (end == s || *end)
    return cb_error_set(rd->err, CB_EFORMAT,
                        "%s:%ld: non-numeric field \"%.40s\" in column %zu (feature %zu)",
                        rd->path, rd->lineno, s, j + 2, j);
  if (!isfinite(v))
    return cb_error_set(rd->err, CB_EVALUE,
                        "%s:%ld: NaN or infinite value \"%.40s\" in column %zu (feature %zu)",
                        rd->path, rd->lineno, s, j + 2, j);
  if (!grow((void **)&rd->d->x, &rd->xcap, rd->nx + 1, sizeof(double)))
    return cb_error_set(rd->err, CB_ENOMEM, "%s:%ld: out of memory (or absurd size) at %zu values",
                        rd->path, rd->lineno, rd->nx + 1);
  rd->d->x[rd->nx++] = v;
  return CB_OK;
}

/* Parses the current non-blank line: the label into d->label[rows], the
** features appended to d->x; *n_feat receives the number of features. */
static int parse_row(csv_rd *rd, size_t *n_feat)
{
  char *p = rd->line;
  size_t col = 0;
  int rc;
  if (!grow((void **)&rd->d->label, &rd->lcap, rd->d->rows + 1, sizeof(int)))
    return cb_error_set(rd->err, CB_ENOMEM, "%s:%ld: out of memory", rd->path, rd->lineno);
  for (;;) {
    char *e = p + strcspn(p, ","), sep = *e, *s;
    *e = 0;
    s = trim(p);
    if (!*s)
      return cb_error_set(rd->err, CB_EFORMAT, "%s:%ld: empty field in column %zu", rd->path,
                          rd->lineno, col + 1);
    rc = col == 0 ? parse_label(rd, s, &rd->d->label[rd->d->rows]) : parse_feature(rd, s, col - 1);
    if (rc < 0) return rc;
    col++;
    if (!sep) break;
    p = e + 1;
  }
  *n_feat = col - 1;
  return CB_OK;
}

/* Reads one data line as a row and checks its column count (the first row
** fixes it when the caller gave 0 features). */
static int add_row(csv_rd *rd)
{
  size_t found = 0;
  int rc;
  if (rd->blank)
    return cb_error_set(rd->err, CB_EFORMAT, "%s:%ld: blank line in the middle of the data",
                        rd->path, rd->blank);
  if ((rc = parse_row(rd, &found)) < 0) return rc;
  if (found == 0)
    return cb_error_set(rd->err, CB_EFORMAT, "%s:%ld: no features after the label", rd->path,
                        rd->lineno);
  if (rd->want == 0) rd->want = found;
  if (found != rd->want)
    return cb_error_set(rd->err, CB_EFORMAT,
                        "%s:%ld: expected %zu columns (label + %zu features), found %zu",
                        rd->path, rd->lineno, rd->want + 1, rd->want, found + 1);
  rd->d->rows++;
  return CB_OK;
}

/* Reads every line of the open file into rd->d; a first line with no
   numeric field is a header and skipped. */
static int read_rows(csv_rd *rd)
{
  int rc;
  while ((rc = next_line(rd)) > 0) {
    if (!rd->line[strspn(rd->line, " \t")]) {
      if (!rd->blank) rd->blank = rd->lineno;
      continue;
    }
    if (rd->lineno == 1 && is_header(rd->line)) continue;
    if ((rc = add_row(rd)) < 0) return rc;
  }
  if (rc < 0) return rc;
  if (rd->d->rows == 0)
    return cb_error_set(rd->err, CB_EFORMAT, "%s: empty file, no samples", rd->path);
  rd->d->cols = rd->want;
  return CB_OK;
}

/* Loads a CSV of labelled samples (see the file header).  n_features 0 takes
** the count from the first row.  On failure *out is NULL and nothing leaks. */
cb_status cb_data_load_csv(const char *path, size_t n_features, cb_data **out, cb_error *err)
{
  csv_rd rd;
  int rc;
  if (!path || !out) return cb_error_set(err, CB_EUSAGE, "cb_data_load_csv: NULL argument");
  *out = NULL;
  memset(&rd, 0, sizeof rd);
  rd.path = path;
  rd.err = err;
  rd.want = n_features;
  rd.f = fopen(path, "r");
  if (!rd.f) {
    rc = cb_error_set(err, CB_EIO, "%s: cannot open: %s", path, strerror(errno));
    goto out;
  }
  {
    unsigned char head[64];
    size_t n = fread(head, 1, sizeof head, rd.f);
    const char *what = binary_format(head, n);
    if (what) {
      rc = cb_error_set(err, CB_EFORMAT, "%s: this is %s, not CSV text (rows \"label,x0,...,x(n-1)\")", path, what);
      goto out;
    }
    rewind(rd.f);
  }
  rd.d = cb_calloc(1, sizeof *rd.d);
  if (!rd.d) {
    rc = cb_error_set(err, CB_ENOMEM, "%s: out of memory", path);
    goto out;
  }
  rc = read_rows(&rd);
out:
  if (rc < 0) cb_data_free(rd.d);
  else *out = rd.d;
  free(rd.line);
  if (rd.f) fclose(rd.f);
  return (cb_status)rc;
}

/* Frees d and its arrays; NULL is a no-op. */
void cb_data_free(cb_data *d)
{
  if (!d) return;
  cb_free(d->x);
  cb_free(d->label);
  cb_free(d);
}

/* Number of samples (0 for NULL). */
size_t cb_data_rows(const cb_data *d) { return d ? d->rows : 0; }

/* Features per sample (0 for NULL). */
size_t cb_data_cols(const cb_data *d) { return d ? d->cols : 0; }

/* Features of row `row` (cols doubles); NULL for a NULL d or row >= rows. */
const double *cb_data_x(const cb_data *d, size_t row)
{
  return d && row < d->rows ? d->x + row * d->cols : NULL;
}

/* Label of row `row`; -1 for a NULL d or row >= rows. */
int cb_data_label(const cb_data *d, size_t row)
{
  return d && row < d->rows ? d->label[row] : -1;
}

/* The one label check of every command: each row of [r0, r1) must carry a
** class of a network with n_classes outputs.  The first row that does not
** gives CB_EVALUE "PATH: row R: label L is not a class of the network
** (0..n_classes-1)" (rows from 0, as --rows and the JSON "index"). */
cb_status cb_data_check_labels(const cb_data *d, const char *path, size_t r0, size_t r1, size_t n_classes,
                               cb_error *err)
{
  if (!d || r0 > r1 || r1 > d->rows) return (cb_status)cb_error_set(err, CB_EUSAGE, "cb_data_check_labels: rows %zu..%zu outside the data", r0, r1);
  for (size_t r = r0; r < r1; r++)
    if (d->label[r] < 0 || (size_t)d->label[r] >= n_classes)
      return cb_error_set(err, CB_EVALUE, "%s: row %zu: label %d is not a class of the network (0..%zu)", path ? path : "data", r,
                          d->label[r], n_classes ? n_classes - 1 : 0);
  return CB_OK;
}

/* First index of the maximum of v[0..n-1]; 0 when n is 0.  NaN entries are
** ignored unless every entry is NaN (then 0). */
size_t cb_argmax(const double *v, size_t n)
{
  size_t best = 0;
  for (size_t i = 1; i < n; i++)
    if (v[i] > v[best] || (isnan(v[best]) && !isnan(v[i]))) best = i;
  return best;
}
