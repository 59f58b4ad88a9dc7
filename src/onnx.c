/*
** ONNX loader, part 1: the protobuf (via protobuf-c and Debian's onnx.proto),
** tensors, attributes, topological order and the driver.  Part 2
** (onnx_ops.c) maps each op to canonical nodes.
**
** The whole file is read and unpacked once; every initializer becomes a
** double constant (float32 and float64 are exact in double; NaN/Inf refused).
** Nodes are visited in a topological order computed here (files need not be
** sorted); a cycle or a name nobody produces is an error naming the node.
** Unsupported nodes are collected and reported together in one line.
*/
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include "onnx_int.h"

#define MAX_FILE ((size_t)1 << 31)
/* Arrays the loader makes (constants as double, folded kernels, per-element
   scales, broadcasts) may take at most this many bytes per byte of file, and
   at least LOAD_MIN_MIB: a small file that expands into gigabytes (a huge
   AveragePool kernel, a scalar Mul broadcast over a 2^30-value input) is
   refused before the allocation, not by the OOM killer.  float32 -> double
   doubles the weights; copies and folds stay well under 64x. */
#define LOAD_BYTES_PER_FILE_BYTE 64
#define LOAD_MIN_MIB 256

/* Reads the whole file into a cb_alloc'd buffer. */
static int read_file(const char *path, uint8_t **buf, size_t *len, cb_error *err)
{
  FILE *f = fopen(path, "rb");
  long sz;
  *buf = NULL;
  if (!f) return cb_error_set(err, CB_EIO, "%s: cannot open file", path);
  if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return cb_error_set(err, CB_EIO, "%s: cannot read file", path);
  }
  if (sz == 0 || (size_t)sz > MAX_FILE) {
    fclose(f);
    return cb_error_set(err, CB_EFORMAT, "%s: %s", path, sz ? "file too large" : "empty file");
  }
  *buf = cb_alloc((size_t)sz);
  if (!*buf) { fclose(f); return cb_error_set(err, CB_ENOMEM, "%s: out of memory", path); }
  *len = fread(*buf, 1, (size_t)sz, f);
  fclose(f);
  if (*len != (size_t)sz) return cb_error_set(err, CB_EIO, "%s: short read", path);
  return CB_OK;
}

const char *ld_node_name(const Onnx__NodeProto *nd)
{
  if (nd->name && nd->name[0]) return nd->name;
  if (nd->n_output && nd->output[0]) return nd->output[0];
  return "?";
}

int ld_err(ld *L, cb_error *err, cb_status st, const char *fmt, ...)
{
  char msg[700];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (st == CB_ENOMEM && (L->tmp.over || (L->net && L->net->arena.over)))
    snprintf(msg, sizeof msg, "the network would take more than %zu MiB, too much for a %zu-byte "
             "file (loader limit: %d x the file size, at least %d MiB)", L->tmp.limit >> 20, L->file_len,
             LOAD_BYTES_PER_FILE_BYTE, LOAD_MIN_MIB);
  if (L->cur)
    return cb_error_set(err, st, "%s: node \"%s\" (op %s): %s", L->path, ld_node_name(L->cur),
                        L->cur->op_type ? L->cur->op_type : "?", msg);
  return cb_error_set(err, st, "%s: %s", L->path, msg);
}

val *ld_find(ld *L, const char *name)
{
  for (size_t i = L->nv; i-- > 0;)
    if (strcmp(L->v[i].name, name) == 0) return &L->v[i];
  return NULL;
}

val *ld_new_val(ld *L, const char *name, cb_error *err)
{
  if (L->nv == L->capv) {
    size_t cap = L->capv ? 2 * L->capv : 64;
    val *nv = arena_array(&L->tmp, cap, sizeof *nv);
    if (!nv) { ld_err(L, err, CB_ENOMEM, "out of memory"); return NULL; }
    if (L->nv) memcpy(nv, L->v, L->nv * sizeof *nv);
    L->v = nv;
    L->capv = cap;
  }
  memset(&L->v[L->nv], 0, sizeof L->v[0]);
  L->v[L->nv].name = arena_strdup(&L->tmp, name);
  if (!L->v[L->nv].name) { ld_err(L, err, CB_ENOMEM, "out of memory"); return NULL; }
  return &L->v[L->nv++];
}

/* Element count of a tensor's dims, refusing negative or absurd sizes. */
static int tensor_count(ld *L, const Onnx__TensorProto *t, const char *what, val *out,
                        cb_error *err)
{
  size_t n = 1;
  if (t->n_dims > CB_MAX_RANK)
    return ld_err(L, err, CB_EUNSUP, "%s \"%s\": rank %zu > %d", what, t->name, t->n_dims, CB_MAX_RANK);
  for (size_t i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0 || !cb_mul_size(n, (size_t)t->dims[i], &n))
      return ld_err(L, err, CB_ENOMEM, "%s \"%s\": absurd dimensions (more than 2^31 values)", what, t->name);
    out->shape.dim[i] = t->dims[i];
  }
  out->shape.rank = (int)t->n_dims;
  out->n = n;
  return CB_OK;
}

/* Copies raw little-endian data of element size es into d[] as double. */
static void raw_to_double(const uint8_t *p, int dt, size_t n, double *d)
{
  for (size_t i = 0; i < n; i++) {
    if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) { float f; memcpy(&f, p + 4 * i, 4); d[i] = f; }
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) memcpy(&d[i], p + 8 * i, 8);
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) { int64_t v; memcpy(&v, p + 8 * i, 8); d[i] = (double)v; }
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL) d[i] = p[i] != 0;
    else { int32_t v; memcpy(&v, p + 4 * i, 4); d[i] = v; }
  }
}

/* Reads an initializer / Constant tensor into a V_CONST value. */
int ld_tensor(ld *L, const Onnx__TensorProto *t, const char *what, val *out, cb_error *err)
{
  int dt = t->data_type, rc;
  size_t es, have;
  if ((rc = tensor_count(L, t, what, out, err)) != CB_OK) return rc;
  if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    return ld_err(L, err, CB_EUNSUP, "%s \"%s\": external data is not supported", what, t->name);
  switch (dt) {
  case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: es = 4; have = t->n_float_data; break;
  case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: es = 8; have = t->n_double_data; break;
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: es = 8; have = t->n_int64_data; break;
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: es = 4; have = t->n_int32_data; break;
  case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: es = 1; have = t->n_int32_data; break;   /* masks (Where) */
  default:
    return ld_err(L, err, CB_EUNSUP, "%s \"%s\": data type %d is not supported "
                  "(float32, float64, int32, int64, bool are)", what, t->name, dt);
  }
  if (t->has_raw_data) have = t->raw_data.len % es ? (size_t)-1 : t->raw_data.len / es;
  if (have != out->n)
    return ld_err(L, err, CB_EFORMAT, "%s \"%s\": holds %zu values, its dims say %zu",
                  what, t->name, have == (size_t)-1 ? 0 : have, out->n);
  out->kind = V_CONST;
  out->is_int = dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT32 ||
                dt == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;
  out->d = arena_array(&L->tmp, out->n ? out->n : 1, sizeof(double));
  if (!out->d) return ld_err(L, err, CB_ENOMEM, "out of memory");
  if (t->has_raw_data) raw_to_double(t->raw_data.data, dt, out->n, out->d);
  else for (size_t i = 0; i < out->n; i++)
    out->d[i] = dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ? (double)t->float_data[i]
              : dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ? t->double_data[i]
              : dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ? (double)t->int64_data[i]
              : dt == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL ? (double)(t->int32_data[i] != 0)
              : (double)t->int32_data[i];
  for (size_t i = 0; i < out->n; i++)
    if (!isfinite(out->d[i]))
      return ld_err(L, err, CB_EVALUE, "%s \"%s\": %s value at index %zu", what, t->name,
                    isnan(out->d[i]) ? "NaN" : "infinite", i);
  return CB_OK;
}

const Onnx__AttributeProto *ld_attr(const Onnx__NodeProto *nd, const char *name)
{
  for (size_t i = 0; i < nd->n_attribute; i++)
    if (nd->attribute[i]->name && strcmp(nd->attribute[i]->name, name) == 0) return nd->attribute[i];
  return NULL;
}

int64_t ld_attr_int(const Onnx__NodeProto *nd, const char *name, int64_t def)
{
  const Onnx__AttributeProto *a = ld_attr(nd, name);
  return a ? a->i : def;
}

int ld_const_int(ld *L, const val *v, size_t i, const char *what, int64_t *out, cb_error *err)
{
  double x = v->d[i];
  if (!(fabs(x) < 9223372036854775808.0) || x != floor(x))   /* also NaN; 2^63 */
    return ld_err(L, err, CB_EFORMAT, "%s entry %zu is %g, not an integer in range", what, i, x);
  *out = (int64_t)x;
  return CB_OK;
}

double ld_attr_float(const Onnx__NodeProto *nd, const char *name, double def)
{
  const Onnx__AttributeProto *a = ld_attr(nd, name);
  return a ? (double)a->f : def;
}

int ld_attr_ints(const Onnx__NodeProto *nd, const char *name, int64_t *out, int max)
{
  const Onnx__AttributeProto *a = ld_attr(nd, name);
  if (!a) return -1;
  if (a->n_ints > (size_t)max) return -2;
  for (size_t i = 0; i < a->n_ints; i++) out[i] = a->ints[i];
  return (int)a->n_ints;
}

/* The network input: the one graph input that is not an initializer. */
static int add_input(ld *L, const Onnx__GraphProto *g, cb_error *err)
{
  const Onnx__ValueInfoProto *in = NULL;
  const Onnx__TypeProto__Tensor *tt;
  cb_shape s = {0};
  val *v;
  int idx;
  for (size_t i = 0; i < g->n_input; i++) {
    const val *c = g->input[i]->name ? ld_find(L, g->input[i]->name) : NULL;
    if (c && c->kind == V_CONST) continue;
    if (in) return ld_err(L, err, CB_EUNSUP, "graph has several inputs (\"%s\", \"%s\"); one is supported",
                          in->name, g->input[i]->name);
    in = g->input[i];
  }
  if (!in || !in->name) return ld_err(L, err, CB_EFORMAT, "graph has no input");
  if (!in->type || in->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
      !(tt = in->type->tensor_type) || !tt->shape)
    return ld_err(L, err, CB_EFORMAT, "input \"%s\" has no tensor shape", in->name);
  if (tt->shape->n_dim > CB_MAX_RANK)
    return ld_err(L, err, CB_EUNSUP, "input \"%s\": rank %zu too large", in->name, tt->shape->n_dim);
  s.rank = (int)tt->shape->n_dim;
  for (int i = 0; i < s.rank; i++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
    s.dim[i] = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ? d->dim_value : 1;
    if (s.dim[i] <= 0) return ld_err(L, err, CB_ESHAPE, "input \"%s\": dimension %d is %lld",
                                     in->name, i, (long long)s.dim[i]);
  }
  L->net->input_name = arena_strdup(&L->net->arena, in->name);
  L->net->input_shape = s;
  idx = net_add(L->net, CB_INPUT, in->name, "Input", NULL, 0, &s, err);
  if (idx < 0) return idx;
  if (!(v = ld_new_val(L, in->name, err))) return CB_ENOMEM;
  v->kind = V_NODE;
  v->node = idx;
  v->shape = s;
  return CB_OK;
}

int ld_perm(ld *L, const Onnx__NodeProto *nd, const cb_shape *x, int64_t *perm, cb_shape *out, cb_error *err)
{
  int r = x->rank, n = ld_attr_ints(nd, "perm", perm, CB_MAX_RANK), seen[CB_MAX_RANK] = {0};
  if (n < 0) { n = r; for (int i = 0; i < r; i++) perm[i] = r - 1 - i; }
  if (n != r) return ld_err(L, err, CB_ESHAPE, "perm has %d entries for a %d-D tensor", n, r);
  out->rank = r;
  for (int i = 0; i < r; i++) {
    if (perm[i] < 0 || perm[i] >= r || seen[perm[i]]++) return ld_err(L, err, CB_EFORMAT, "perm is not a permutation");
    out->dim[i] = x->dim[perm[i]];
  }
  return CB_OK;
}

int ld_used(ld *L, const char *name)
{
  const Onnx__GraphProto *g = L->graph;
  if (!name || !name[0] || !g) return 0;
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_input; k++)
      if (!strcmp(g->node[i]->input[k], name)) return 1;
  for (size_t i = 0; i < g->n_output; i++)
    if (g->output[i]->name && !strcmp(g->output[i]->name, name)) return 1;
  return 0;
}

/* Topological order of the nodes (Kahn); refuses cycles and dangling names. */
static int topo_order(ld *L, const Onnx__GraphProto *g, size_t *order, cb_error *err)
{
  size_t n = g->n_node, done = 0;
  char *placed = arena_alloc(&L->tmp, n ? n : 1);
  if (!placed) return ld_err(L, err, CB_ENOMEM, "out of memory");
  while (done < n) {
    int progress = 0;
    for (size_t i = 0; i < n; i++) {
      const Onnx__NodeProto *nd = g->node[i];
      int ready = 1;
      if (placed[i]) continue;
      for (size_t k = 0; k < nd->n_input && ready; k++) {
        const char *nm = nd->input[k];
        if (!nm[0] || ld_find(L, nm)) continue;
        ready = 0;
        for (size_t j = 0; j < n; j++)
          for (size_t o = 0; o < g->node[j]->n_output; o++)
            if (strcmp(g->node[j]->output[o], nm) == 0 && !placed[j]) ready = -1;
        if (ready == 0) {
          L->cur = nd;
          return ld_err(L, err, CB_EFORMAT, "input \"%s\" is not produced by any node, "
                        "initializer or graph input", nm);
        }
        if (ready == -1) { ready = 0; break; }
      }
      if (!ready) continue;
      for (size_t o = 0; o < nd->n_output; o++) {
        val *v;
        if (!nd->output[o][0]) continue;
        if (ld_find(L, nd->output[o])) {
          L->cur = nd;
          return ld_err(L, err, CB_EFORMAT, "tensor \"%s\" is produced twice (by this node and "
                        "by another node, an initializer or the graph input)", nd->output[o]);
        }
        if (!(v = ld_new_val(L, nd->output[o], err))) return CB_ENOMEM;
        v->kind = V_UNSUP;  /* placeholder until converted */
      }
      placed[i] = 1;
      order[done++] = i;
      progress = 1;
    }
    if (!progress) {
      for (size_t i = 0; i < n; i++) if (!placed[i]) { L->cur = g->node[i]; break; }
      return ld_err(L, err, CB_EFORMAT, "graph has a cycle through this node");
    }
  }
  return CB_OK;
}

/* Initializers become constants. */
static int add_initializers(ld *L, const Onnx__GraphProto *g, cb_error *err)
{
  for (size_t i = 0; i < g->n_initializer; i++) {
    const Onnx__TensorProto *t = g->initializer[i];
    val *v;
    int rc;
    if (!t->name || !t->name[0]) return ld_err(L, err, CB_EFORMAT, "initializer %zu has no name", i);
    if (!(v = ld_new_val(L, t->name, err))) return CB_ENOMEM;
    if ((rc = ld_tensor(L, t, "initializer", v, err)) != CB_OK) return rc;
  }
  return CB_OK;
}

static int64_t model_opset(const Onnx__ModelProto *m)
{
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const char *d = m->opset_import[i]->domain;
    if (!d || !d[0] || strcmp(d, "ai.onnx") == 0) return m->opset_import[i]->version;
  }
  return m->n_opset_import ? -1 : 1;
}

/* Visits the nodes in order; drops placeholders and converts. */
static int convert_all(ld *L, const Onnx__GraphProto *g, const size_t *order, cb_error *err)
{
  for (size_t k = 0; k < g->n_node; k++) {
    const Onnx__NodeProto *nd = g->node[order[k]];
    int rc;
    L->cur = nd;
    rc = ops_convert(L, nd, err);
    if (rc == 1 || rc == CB_EUNSUP) {
      size_t len = strlen(L->unsup);
      const char *why = strstr(err->msg, "): ");
      why = why ? why + 3 : err->msg;
      if (rc == 1) {  /* consumer of an unsupported value: not checked, said so */
        if (L->report) fprintf(L->report, "not checked %-20s \"%s\": reads the output of an unsupported node (its shape "
                               "cannot be inferred)\n", nd->op_type, ld_node_name(nd));
        goto mark;
      }
      if (L->n_unsup < 12 && len + 40 < sizeof L->unsup)
        snprintf(L->unsup + len, sizeof L->unsup - len, "%snode \"%s\" (op %s): %.200s",
                 L->n_unsup ? "; " : "", ld_node_name(nd), nd->op_type, why);
      if (L->report) fprintf(L->report, "UNSUPPORTED %-20s \"%s\": %s\n", nd->op_type, ld_node_name(nd), why);
      L->n_unsup++;
      cb_error_clear(err);
    mark:
      for (size_t o = 0; o < nd->n_output; o++) {
        val *v = ld_new_val(L, nd->output[o], err);
        if (!v) return CB_ENOMEM;
        v->kind = V_UNSUP;
      }
    } else if (rc != CB_OK) {
      return rc;
    } else if (L->report) {
      fprintf(L->report, "ok          %-20s \"%s\"\n", nd->op_type, ld_node_name(nd));
    }
  }
  L->cur = NULL;
  return CB_OK;
}

/* Sets net->output from the single graph output. */
static int set_output(ld *L, const Onnx__GraphProto *g, cb_error *err)
{
  const val *v;
  if (g->n_output != 1 || !g->output[0]->name)
    return ld_err(L, err, CB_EUNSUP, "graph has %zu outputs; exactly one is supported", g->n_output);
  v = ld_find(L, g->output[0]->name);
  if (!v) return ld_err(L, err, CB_EFORMAT, "output \"%s\" is not produced by any node", g->output[0]->name);
  if (v->kind == V_UNSUP) return CB_EUNSUP;
  if (v->kind != V_NODE)
    return ld_err(L, err, CB_EUNSUP, "output \"%s\" is a constant, not computed from the input",
                  g->output[0]->name);
  L->net->output = v->node;
  L->net->output_name = arena_strdup(&L->net->arena, g->output[0]->name);
  return CB_OK;
}

static int load_graph(ld *L, const Onnx__ModelProto *m, cb_error *err)
{
  const Onnx__GraphProto *g = m->graph;
  size_t *order;
  int rc;
  if (!g) return ld_err(L, err, CB_EFORMAT, "not an ONNX model (no graph; truncated or not a protobuf?)");
  if (g->n_node == 0) return ld_err(L, err, CB_EFORMAT, "graph has no nodes");
  L->opset = model_opset(m);
  if (L->opset < 7 || L->opset > 20)   /* 19, 20: no change to the float ops mapped here; 20 adds Gelu */
    return ld_err(L, err, CB_EUNSUP, "opset %lld is not supported (7 to 20 are)", (long long)L->opset);
  L->net->ir_version = m->ir_version;
  L->net->opset = L->opset;
  L->net->producer = arena_strdup(&L->net->arena, m->producer_name);
  L->graph_output = g->n_output && g->output[0]->name ? g->output[0]->name : "";
  L->graph = g;
  if ((rc = add_initializers(L, g, err)) != CB_OK) return rc;
  if ((rc = add_input(L, g, err)) != CB_OK) return rc;
  order = arena_array(&L->tmp, g->n_node, sizeof *order);
  if (!order) return ld_err(L, err, CB_ENOMEM, "out of memory");
  if ((rc = topo_order(L, g, order, err)) != CB_OK) return rc;
  if ((rc = convert_all(L, g, order, err)) != CB_OK) return rc;
  rc = set_output(L, g, err);
  if (L->n_unsup)
    return cb_error_set(err, CB_EUNSUP, "%s: %d unsupported node%s: %s%s", L->path, L->n_unsup,
                        L->n_unsup > 1 ? "s" : "", L->unsup,
                        (int)strlen(L->unsup) + 40 >= (int)sizeof L->unsup ? "; ..." : "");
  return rc;
}

static int load(const char *path, FILE *report, cb_net **out, cb_error *err)
{
  uint8_t *buf = NULL;
  size_t len = 0;
  Onnx__ModelProto *m = NULL;
  ld L;
  int rc;
  memset(&L, 0, sizeof L);
  arena_init(&L.tmp);
  L.path = path;
  L.report = report;
  *out = NULL;
  if ((rc = read_file(path, &buf, &len, err)) != CB_OK) goto out;
  L.file_len = len;
  L.tmp.limit = len > ((size_t)LOAD_MIN_MIB << 20) / LOAD_BYTES_PER_FILE_BYTE ? len * LOAD_BYTES_PER_FILE_BYTE
                                                                          : (size_t)LOAD_MIN_MIB << 20;
  m = onnx__model_proto__unpack(NULL, len, buf);
  if (!m) { rc = cb_error_set(err, CB_EFORMAT, "%s: not a valid ONNX protobuf (truncated or corrupt)", path); goto out; }
  if (!(L.net = net_new(path, "onnx"))) { rc = cb_error_set(err, CB_ENOMEM, "%s: out of memory", path); goto out; }
  L.net->arena.limit = L.tmp.limit;
  if ((rc = load_graph(&L, m, err)) != CB_OK) goto out;
  if ((rc = canon_run(L.net, err)) != CB_OK) goto out;
  if ((rc = net_check(L.net, err)) != CB_OK) goto out;
  L.net->arena.limit = 0;  /* the load's limit, not the network's */
  *out = L.net;
  L.net = NULL;
out:
  cb_net_free(L.net);
  if (m) onnx__model_proto__free_unpacked(m, NULL);
  cb_free(buf);
  arena_free(&L.tmp);
  return rc;
}

int onnx_load(const char *path, cb_net **out, cb_error *err) { return load(path, NULL, out, err); }

/* Writes one line per ONNX node (ok / UNSUPPORTED with the reason). */
int onnx_check(const char *path, FILE *report, cb_error *err)
{
  cb_net *net = NULL;
  int rc = load(path, report, &net, err);
  cb_net_free(net);
  return rc;
}

/* Chooses the loader: a .nnet name, or text starting with "//" (NNet's comment
   header), goes to the NNet reader; everything else is read as ONNX. */
cb_status cb_net_load(const char *path, cb_net **out, cb_error *err)
{
  const char *dot;
  char head[2] = {0, 0};
  struct stat st;
  FILE *f;
  if (!path || !out) return (cb_status)cb_error_set(err, CB_EUSAGE, "cb_net_load: NULL argument");
  dot = strrchr(path, '.');
  *out = NULL;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))   /* fopen succeeds on a directory; say what it is */
    return (cb_status)cb_error_set(err, CB_EIO, "%s: is a directory, not a network file", path);
  if ((f = fopen(path, "rb"))) {
    if (fread(head, 1, 2, f) != 2) head[0] = 0;
    fclose(f);
  }
  if ((dot && strcmp(dot, ".nnet") == 0) || (head[0] == '/' && head[1] == '/'))
    return (cb_status)nnet_load(path, out, err);
  return (cb_status)onnx_load(path, out, err);
}
