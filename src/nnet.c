/*
** NNet loader: Kyle Julian's ACAS Xu text format (.nnet) -> canonical net.
**
** File layout (one logical record per line, comma separated, a trailing
** comma allowed, \r\n tolerated, blank lines ignored):
**   // comment lines (only before the header)
**   numLayers,inputSize,outputSize,maxLayerSize,
**   s0,s1,...,s(numLayers),          layer sizes, s0 = inputSize
**   flag                             unused, skipped unread
**   inputSize minimums, inputSize maximums,
**   inputSize+1 means, inputSize+1 ranges (the last of each is the output's)
**   per layer k: s(k+1) rows of s(k) weights, then s(k+1) rows of one bias.
**
** Net built (every shape [1,n]):
**   0 INPUT "input" -> SCALE "normalize" (op NNetNormalize)
**     -> AFFINE "layer_0" (op NNetLayer) -> RELU "relu_0" -> ... -> AFFINE "layer_L-1".
** Layers are numbered from 0 in node names and in messages; lines from 1.
**
** Normalisation.  The file's function is x_norm = (x - mean_i) / range_i.  We
** store a_i = fl(1/range_i) and b_i = fl(-mean_i/range_i): each is the double
** nearest its real value (one rounding each, so a*x + b is as close as two
** doubles can make it; b is NOT fl(-mean*a), which would round twice).  The
** node is exact when both divisions are exact (checked with an fma residual);
** otherwise exact = 0 and rel_err = 2^-53, the relative error of one
** round-to-nearest into a normal double (1.0 if a result is subnormal).
**
** The output is NOT de-normalised (y*range_out + mean_out is not applied):
** the ONNX versions of these networks output the raw values, and so do we.
** The output mean and range are read and checked but not kept.  The input
** minimums/maximums are kept in net->in_min/in_max as information only.
**
** Sizes: ACAS Xu files are 7 layers of <= 50 neurons (13k parameters), read
** once.  Declared sizes are checked before anything is allocated: each layer
** <= 1e7 neurons, <= 1e5 layers, products within CB_MAX_ELEMS, and above 2^20
** parameters the count must fit in the file (>= 2 bytes per number).
**
** The line buffer comes from getline (libc malloc) and is released with free().
*/
#include <errno.h>
#include <float.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include "net.h"
#include "round.h"

#define NNET_MAX_NEURONS 10000000.0  /* neurons per layer */
#define NNET_MAX_LAYERS 100000.0     /* layers */
#define NNET_FILE_CHECK ((size_t)1 << 20) /* parameters above which the file size is checked */

typedef struct nnet_rd {
  FILE *f;
  const char *path;
  char *line;      /* current line (getline buffer) */
  size_t cap;      /* its capacity */
  long lineno;     /* 1-based number of the current line */
  cb_error *err;
} nnet_rd;

/* Where a row of values sits, for messages. */
typedef struct nnet_part {
  const char *what;  /* plural noun: "input minimums", "weights", "biases" */
  const char *unit;  /* noun in count messages: "input minimums", "weights", "bias" */
  long layer, row;   /* 0-based layer and row; layer -1 in the header */
} nnet_part;

/* The header: counts and layer sizes (in the net's arena). */
typedef struct nnet_hdr {
  size_t n_layers, n_in, n_out, max_size;
  size_t *size;      /* n_layers + 1 sizes */
} nnet_hdr;

/* Reads the next non-blank line into rd->line.  Returns 1, 0 at end of file,
** or a negative status on a read error (CB_ENOMEM if getline ran out). */
static int next_line(nnet_rd *rd)
{
  for (;;) {
    errno = 0;
    if (getline(&rd->line, &rd->cap, rd->f) < 0) {
      if (!ferror(rd->f)) return 0;
      if (errno == ENOMEM)
        return cb_error_set(rd->err, CB_ENOMEM, "%s:%ld: out of memory reading a line",
                            rd->path, rd->lineno + 1);
      return cb_error_set(rd->err, CB_EIO, "%s:%ld: read error: %s", rd->path,
                          rd->lineno + 1, strerror(errno));
    }
    rd->lineno++;
    if (rd->line[strspn(rd->line, " \t\r\n")]) return 1;
  }
}

/* Reports the field starting at p as non-numeric (quoted, at most 40 chars). */
static int bad_field(nnet_rd *rd, const char *p)
{
  size_t n = strcspn(p, ",\r\n");
  while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
  if (n == 0)
    return cb_error_set(rd->err, CB_EFORMAT, "%s:%ld: empty field", rd->path, rd->lineno);
  return cb_error_set(rd->err, CB_EFORMAT, "%s:%ld: non-numeric field \"%.*s%s\"", rd->path,
                      rd->lineno, (int)(n > 40 ? 40 : n), p, n > 40 ? "..." : "");
}

/* Parses the current line as comma-separated finite numbers: stores the first
** `want` in dst and counts all of them in *found.  A trailing comma is allowed.
** Errors: CB_EFORMAT for a non-numeric or empty field, CB_EVALUE for NaN/inf. */
static int parse_numbers(nnet_rd *rd, double *dst, size_t want, size_t *found)
{
  const char *p = rd->line;
  size_t n = 0;
  for (;;) {
    char *end;
    double v;
    p += strspn(p, " \t\r\n");
    if (!*p) break;
    v = strtod(p, &end);
    if (end == p) return bad_field(rd, p);
    end += strspn(end, " \t\r\n");
    if (*end && *end != ',') return bad_field(rd, p);
    if (!isfinite(v))
      return cb_error_set(rd->err, CB_EVALUE, "%s:%ld: NaN or infinite value", rd->path,
                          rd->lineno);
    if (n < want) dst[n] = v;
    n++;
    p = *end == ',' ? end + 1 : end;
  }
  *found = n;
  return CB_OK;
}

/* Reads the next line as exactly `want` numbers into dst; `pt` names the
** part for the end-of-file and count messages. */
static int read_vec(nnet_rd *rd, double *dst, size_t want, const nnet_part *pt)
{
  size_t found = 0;
  int rc = next_line(rd);
  if (rc < 0) return rc;
  if (rc == 0 && pt->layer < 0)
    return cb_error_set(rd->err, CB_EFORMAT, "%s: unexpected end of file in %s", rd->path,
                        pt->what);
  if (rc == 0)
    return cb_error_set(rd->err, CB_EFORMAT, "%s: unexpected end of file in layer %ld %s",
                        rd->path, pt->layer, pt->what);
  if ((rc = parse_numbers(rd, dst, want, &found)) < 0) return rc;
  if (found == want) return CB_OK;
  if (pt->layer < 0)
    return cb_error_set(rd->err, CB_EFORMAT, "%s:%ld: expected %zu %s, found %zu", rd->path,
                        rd->lineno, want, pt->unit, found);
  return cb_error_set(rd->err, CB_EFORMAT,
                      "%s:%ld: expected %zu %s in row %ld of layer %ld, found %zu",
                      rd->path, rd->lineno, want, pt->unit, pt->row, pt->layer, found);
}

/* Checks that v (read on the current line) is an integer in [1, max]. */
static int to_size(nnet_rd *rd, double v, double max, const char *what, size_t *out)
{
  if (!(v >= 1 && v == floor(v)))
    return cb_error_set(rd->err, CB_EFORMAT, "%s:%ld: %s is %g, not a positive integer",
                        rd->path, rd->lineno, what, v);
  if (v > max)
    return cb_error_set(rd->err, CB_EFORMAT, "%s:%ld: absurd %s %.0f (limit %.0f)", rd->path,
                        rd->lineno, what, v, max);
  *out = (size_t)v;
  return CB_OK;
}

/* Reads the comment lines and the header line "numLayers,in,out,maxSize,". */
static int read_counts(nnet_rd *rd, nnet_hdr *h)
{
  static const nnet_part pt = { "header", "header fields", -1, -1 };
  double v[4];
  size_t found = 0;
  int rc;
  do {
    if ((rc = next_line(rd)) < 0) return rc;
    if (rc == 0)
      return cb_error_set(rd->err, CB_EFORMAT, "%s: unexpected end of file in %s", rd->path,
                          pt.what);
  } while (strncmp(rd->line + strspn(rd->line, " \t"), "//", 2) == 0);
  if ((rc = parse_numbers(rd, v, 4, &found)) < 0) return rc;
  if (found != 4)
    return cb_error_set(rd->err, CB_EFORMAT, "%s:%ld: expected 4 %s, found %zu", rd->path,
                        rd->lineno, pt.unit, found);
  if ((rc = to_size(rd, v[0], NNET_MAX_LAYERS, "number of layers", &h->n_layers)) < 0 ||
      (rc = to_size(rd, v[1], NNET_MAX_NEURONS, "input size", &h->n_in)) < 0 ||
      (rc = to_size(rd, v[2], NNET_MAX_NEURONS, "output size", &h->n_out)) < 0)
    return rc;
  return to_size(rd, v[3], NNET_MAX_NEURONS, "maximum layer size", &h->max_size);
}

/* Checks that the declared parameter count overflows nothing and, when it is
** large (> NNET_FILE_CHECK), fits in the file (every number takes at least 2
** bytes: a digit and a separator).  Small nets are left to the reader, whose
** end-of-file message names the layer. */
static int check_totals(nnet_rd *rd, const nnet_hdr *h)
{
  size_t total = 0, w;
  struct stat st;
  for (size_t k = 0; k < h->n_layers; k++) {
    if (!cb_mul_size(h->size[k] + 1, h->size[k + 1], &w) || total > CB_MAX_ELEMS - w)
      return cb_error_set(rd->err, CB_ENOMEM, "%s:%ld: absurd network size (layer %zu: %zu x %zu)",
                          rd->path, rd->lineno, k, h->size[k + 1], h->size[k]);
    total += w;
  }
  if (total > NNET_FILE_CHECK && fstat(fileno(rd->f), &st) == 0 && S_ISREG(st.st_mode) &&
      total > ((size_t)st.st_size + 1) / 2)
    return cb_error_set(rd->err, CB_EFORMAT,
                        "%s:%ld: layer sizes need %zu parameters but the file has only %lld bytes",
                        rd->path, rd->lineno, total, (long long)st.st_size);
  return CB_OK;
}

/* Reads the layer-size line into h->size (arena of net) and checks it against
** the header: first = inputs, last = outputs, max <= maxLayerSize. */
static int read_sizes(nnet_rd *rd, cb_net *net, nnet_hdr *h)
{
  static const nnet_part pt = { "layer sizes", "layer sizes", -1, -1 };
  size_t n = h->n_layers + 1, max = 0;
  double *v = net_doubles(net, n);
  int rc;
  h->size = arena_array(&net->arena, n, sizeof *h->size);
  if (!v || !h->size) return cb_error_set(rd->err, CB_ENOMEM, "%s: out of memory", rd->path);
  if ((rc = read_vec(rd, v, n, &pt)) < 0) return rc;
  for (size_t k = 0; k < n; k++) {
    if ((rc = to_size(rd, v[k], NNET_MAX_NEURONS, "layer size", &h->size[k])) < 0) return rc;
    if (h->size[k] > max) max = h->size[k];
  }
  if (h->size[0] != h->n_in || h->size[n - 1] != h->n_out || max > h->max_size)
    return cb_error_set(rd->err, CB_EFORMAT,
                        "%s:%ld: layer sizes do not match header (header: %zu inputs, %zu outputs, "
                        "max layer %zu; layer sizes: first %zu, last %zu, max %zu)", rd->path,
                        rd->lineno, h->n_in, h->n_out, h->max_size, h->size[0], h->size[n - 1],
                        max);
  return check_totals(rd, h);
}

/* Relative error bound of q = fl(num/den): 0 if provably exact, 2^-53 for a
** normal result, 1 for a subnormal or underflowed one.  The fma residual is
** trusted only when |num| is large enough that a nonzero residual cannot
** underflow to zero; otherwise the division is assumed inexact. */
static double quot_err(double q, double num, double den)
{
  if (num == 0) return 0;
  if (!(fabs(q) >= DBL_MIN)) return 1.0;
  if (fabs(num) >= 0x1p-900 && fma(q, den, -num) == 0) return 0;
  return ROUND_U;
}

/* Reads minimums, maximums, means and ranges; keeps min/max on the net and
** fills a = 1/range, b = -mean/range (n_in each) and *rel_err (see header). */
static int read_norm(nnet_rd *rd, cb_net *net, size_t n, double *a, double *b, double *rel_err)
{
  static const nnet_part p_min = { "input minimums", "input minimums", -1, -1 };
  static const nnet_part p_max = { "input maximums", "input maximums", -1, -1 };
  static const nnet_part p_mean = { "means", "means", -1, -1 };
  static const nnet_part p_range = { "ranges", "ranges", -1, -1 };
  double *mean = net_doubles(net, n + 1), *range = net_doubles(net, n + 1);
  int rc;
  net->in_min = net_doubles(net, n);
  net->in_max = net_doubles(net, n);
  if (!mean || !range || !net->in_min || !net->in_max)
    return cb_error_set(rd->err, CB_ENOMEM, "%s: out of memory", rd->path);
  if ((rc = read_vec(rd, net->in_min, n, &p_min)) < 0 ||
      (rc = read_vec(rd, net->in_max, n, &p_max)) < 0) return rc;
  for (size_t i = 0; i < n; i++)
    if (net->in_min[i] > net->in_max[i])
      return cb_error_set(rd->err, CB_EFORMAT, "%s:%ld: input %zu: minimum %g exceeds maximum %g",
                          rd->path, rd->lineno, i, net->in_min[i], net->in_max[i]);
  if ((rc = read_vec(rd, mean, n + 1, &p_mean)) < 0 ||
      (rc = read_vec(rd, range, n + 1, &p_range)) < 0) return rc;
  *rel_err = 0;
  for (size_t i = 0; i < n; i++) {
    double ea, eb;
    if (range[i] == 0)
      return cb_error_set(rd->err, CB_EVALUE, "%s:%ld: range of input %zu is zero", rd->path,
                          rd->lineno, i);
    a[i] = 1.0 / range[i];
    b[i] = -mean[i] / range[i];
    ea = quot_err(a[i], 1.0, range[i]);
    eb = quot_err(b[i], -mean[i], range[i]);
    if (ea > *rel_err) *rel_err = ea;
    if (eb > *rel_err) *rel_err = eb;
  }
  return CB_OK;
}

/* Adds the INPUT node and the normalising SCALE node (reads the flag line and
** the normalisation block). */
static int add_input(nnet_rd *rd, cb_net *net, const nnet_hdr *h)
{
  cb_shape s = { 2, { 1, (int64_t)h->n_in } };
  int zero = 0, rc;
  double *a = net_doubles(net, h->n_in), *b = net_doubles(net, h->n_in), rel_err = 0;
  if (!a || !b) return cb_error_set(rd->err, CB_ENOMEM, "%s: out of memory", rd->path);
  if ((rc = next_line(rd)) < 0) return rc;
  if (rc == 0)
    return cb_error_set(rd->err, CB_EFORMAT, "%s: unexpected end of file in flag line", rd->path);
  if ((rc = read_norm(rd, net, h->n_in, a, b, &rel_err)) < 0) return rc;
  if ((rc = net_add(net, CB_INPUT, "input", "Input", NULL, 0, &s, rd->err)) < 0) return rc;
  if ((rc = net_add(net, CB_SCALE, "normalize", "NNetNormalize", &zero, 1, &s, rd->err)) < 0)
    return rc;
  net->node[rc].p.scale.a = a;
  net->node[rc].p.scale.b = b;
  net->node[rc].exact = rel_err == 0;
  net->node[rc].rel_err = rel_err;
  net->input_shape = s;
  for (size_t i = 0; i < h->n_in; i++)
    if (a[i] != 1 || b[i] != 0) {   /* say so: the ONNX export of the same net may read normalised inputs */
      net_warn(net, "the NNet header's input normalisation (x - mean) / range is the network's first node: "
                    "inputs (data rows, VNNLIB boxes) are read in raw, unnormalised space");
      break;
    }
  return CB_OK;
}

/* Reads layer k (weights then biases) and appends its AFFINE node, plus a RELU
** unless it is the last layer. */
static int add_layer(nnet_rd *rd, cb_net *net, const nnet_hdr *h, size_t k)
{
  size_t in = h->size[k], out = h->size[k + 1];
  nnet_part pw = { "weights", "weights", (long)k, 0 }, pb = { "biases", "bias", (long)k, 0 };
  cb_shape s = { 2, { 1, (int64_t)out } };
  double *W = net_doubles(net, out * in), *b = net_doubles(net, out);
  char name[32];
  int prev = net->n - 1, rc;
  if (!W || !b) return cb_error_set(rd->err, CB_ENOMEM, "%s: out of memory", rd->path);
  for (size_t r = 0; r < out; r++, pw.row++)
    if ((rc = read_vec(rd, W + r * in, in, &pw)) < 0) return rc;
  for (size_t r = 0; r < out; r++, pb.row++)
    if ((rc = read_vec(rd, b + r, 1, &pb)) < 0) return rc;
  snprintf(name, sizeof name, "layer_%zu", k);
  if ((rc = net_add(net, CB_AFFINE, name, "NNetLayer", &prev, 1, &s, rd->err)) < 0) return rc;
  net->node[rc].p.aff.out = out;
  net->node[rc].p.aff.in = in;
  net->node[rc].p.aff.W = W;
  net->node[rc].p.aff.b = b;
  if (k + 1 == h->n_layers) return CB_OK;
  prev = rc;
  snprintf(name, sizeof name, "relu_%zu", k);
  rc = net_add_act(net, CB_ACT_RELU, name, "Relu", prev, rd->err);
  return rc < 0 ? rc : CB_OK;
}

/* Reads the whole file into net; the caller owns net. */
static int read_net(nnet_rd *rd, cb_net *net)
{
  nnet_hdr h = { 0, 0, 0, 0, NULL };
  int rc;
  if ((rc = read_counts(rd, &h)) < 0 || (rc = read_sizes(rd, net, &h)) < 0 ||
      (rc = add_input(rd, net, &h)) < 0) return rc;
  for (size_t k = 0; k < h.n_layers; k++)
    if ((rc = add_layer(rd, net, &h, k)) < 0) return rc;
  if ((rc = next_line(rd)) < 0) return rc;
  if (rc > 0)
    return cb_error_set(rd->err, CB_EFORMAT, "%s:%ld: unexpected content after the last bias",
                        rd->path, rd->lineno);
  net->output = net->n - 1;
  net->input_name = "input";
  net->output_name = "output";
  return CB_OK;
}

/* Loads an .nnet file into a checked canonical net.  On success *out owns the
** net; on failure *out is NULL, err says why, and nothing leaks. */
int nnet_load(const char *path, cb_net **out, cb_error *err)
{
  nnet_rd rd = { NULL, path, NULL, 0, 0, err };
  cb_net *net = NULL;
  int rc;
  *out = NULL;
  rd.f = fopen(path, "r");
  if (!rd.f) {
    rc = cb_error_set(err, CB_EIO, "%s: cannot open: %s", path, strerror(errno));
    goto out;
  }
  net = net_new(path, "nnet");
  if (!net) {
    rc = cb_error_set(err, CB_ENOMEM, "%s: out of memory", path);
    goto out;
  }
  if ((rc = read_net(&rd, net)) < 0) goto out;
  rc = net_check(net, err);
out:
  if (rc < 0) cb_net_free(net);
  else *out = net;
  free(rd.line);
  if (rd.f) fclose(rd.f);
  return rc;
}

/* The VNNLIB box / data rows are already in the NNet header's normalised
** space: the normalising SCALE node becomes the identity (a = 1, b = 0,
** exact), and the loader's warning says which space inputs are read in.
** CB_EUSAGE when net is not an NNet file with a normalisation node. */
int nnet_inputs_normalised(cb_net *net, cb_error *err)
{
  static const char raw[] = "the NNet header's input normalisation";
  for (int i = 0; net && !strcmp(net->format, "nnet") && i < net->n; i++) {
    cb_node *n = &net->node[i];
    if (n->kind != CB_SCALE || !n->op || strcmp(n->op, "NNetNormalize")) continue;
    for (size_t e = 0; e < n->size; e++) { n->p.scale.a[e] = 1; n->p.scale.b[e] = 0; }
    n->exact = 1;
    n->rel_err = 0;
    for (int w = 0; w < net->n_warn; w++)
      if (!strncmp(net->warn[w], raw, sizeof raw - 1))
        net->warn[w] = arena_strdup(&net->arena, "the NNet header's input normalisation is not applied (--input-space "
                                                 "normalized): inputs (VNNLIB boxes) are read as already normalised");
    return CB_OK;
  }
  return cb_error_set(err, CB_EUSAGE, "%s: --input-space normalized applies to NNet files (their header's input "
                                      "normalisation), and this is not one", net && net->path ? net->path : "network");
}
