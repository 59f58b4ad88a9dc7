/*
** ONNX writer for rewritten weights (orthonormalisation).  The source model
** is unpacked with protobuf-c, the data of each patched float32/float64
** initializer is overwritten in place (same element count, same type, so no
** buffer owned by protobuf-c changes size), and the model is packed again.
**
** Invariant: a patch is applied only if the file's current values equal the
** values the canonical node was loaded with (W_old), through the node's
** layout map (transposed or not).  So a Gemm with alpha != 1 or weights that
** canonicalisation folded a scale into are refused instead of silently
** written wrong.  Host byte order is little-endian, as in onnx.c.
** Workload: once per command; O(file size).
*/
#include <string.h>
#include "onnx_write.h"
#include "onnx.pb-c.h"

#define MAX_FILE ((size_t)1 << 31)

/* Reads the whole file into a cb_alloc'd buffer. */
static int read_all(const char *path, uint8_t **buf, size_t *len, cb_error *err)
{
  FILE *f = fopen(path, "rb");
  long sz;
  *buf = NULL;
  if (!f) return cb_error_set(err, CB_EIO, "%s: cannot open file", path);
  if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) <= 0 || (size_t)sz > MAX_FILE || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return cb_error_set(err, CB_EIO, "%s: cannot read file", path);
  }
  if (!(*buf = cb_alloc((size_t)sz))) { fclose(f); return cb_error_set(err, CB_ENOMEM, "%s: out of memory", path); }
  *len = fread(*buf, 1, (size_t)sz, f);
  fclose(f);
  if (*len != (size_t)sz) return cb_error_set(err, CB_EIO, "%s: short read", path);
  return CB_OK;
}

/* Element e of a float32 / float64 tensor, raw or typed storage. */
static double elem_get(const Onnx__TensorProto *t, size_t e)
{
  int f32 = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  if (t->has_raw_data) {
    if (f32) { float v; memcpy(&v, t->raw_data.data + 4 * e, 4); return v; }
    double v; memcpy(&v, t->raw_data.data + 8 * e, 8); return v;
  }
  return f32 ? (double)t->float_data[e] : t->double_data[e];
}

/* Stores x (already representable in the tensor's type) as element e. */
static void elem_set(Onnx__TensorProto *t, size_t e, double x)
{
  int f32 = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  float v = (float)x;
  if (t->has_raw_data) {
    if (f32) memcpy(t->raw_data.data + 4 * e, &v, 4);
    else memcpy(t->raw_data.data + 8 * e, &x, 8);
  } else if (f32) t->float_data[e] = v;
  else t->double_data[e] = x;
}

/* Number of stored elements, or (size_t)-1 for an unsupported type. */
static size_t elem_count(const Onnx__TensorProto *t)
{
  size_t es;
  if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) es = 4;
  else if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) es = 8;
  else return (size_t)-1;
  if (t->has_raw_data) return t->raw_data.len / es;
  return es == 4 ? t->n_float_data : t->n_double_data;
}

/* The initializer called name and how many share that name. */
static Onnx__TensorProto *find_init(Onnx__GraphProto *g, const char *name, int *count)
{
  Onnx__TensorProto *t = NULL;
  *count = 0;
  for (size_t i = 0; i < g->n_initializer; i++)
    if (g->initializer[i]->name && !strcmp(g->initializer[i]->name, name)) { t = g->initializer[i]; (*count)++; }
  return t;
}

/* Checks one patch against the file, then writes its values. */
static int apply_patch(const char *src, Onnx__GraphProto *g, const onnx_patch *p, cb_error *err)
{
  int count;
  Onnx__TensorProto *t = p->init ? find_init(g, p->init, &count) : NULL;
  size_t n = p->rows * p->cols;
  if (!t || count != 1)
    return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\": weights are not one named initializer", src, p->node);
  if (elem_count(t) != n)
    return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\": initializer \"%s\" is not a float32/float64 "
                        "tensor of %zu values", src, p->node, p->init, n);
  for (size_t r = 0; r < p->rows; r++)
    for (size_t c = 0; c < p->cols; c++) {
      size_t e = p->trans ? c * p->rows + r : r * p->cols + c;
      if (elem_get(t, e) != p->W_old[r * p->cols + c])
        return cb_error_set(err, CB_EUNSUP, "%s: node \"%s\": the loaded weights are not the values of "
                            "initializer \"%s\" (Gemm alpha != 1 or a folded scale); cannot rewrite it",
                            src, p->node, p->init);
      if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && (double)(float)p->W[r * p->cols + c] != p->W[r * p->cols + c])
        return cb_error_set(err, CB_EVALUE, "%s: node \"%s\": new weight not representable in float32", src, p->node);
    }
  for (size_t r = 0; r < p->rows; r++)
    for (size_t c = 0; c < p->cols; c++)
      elem_set(t, p->trans ? c * p->rows + r : r * p->cols + c, p->W[r * p->cols + c]);
  return CB_OK;
}

/* Packs m and writes it to dst through dst.tmp + rename. */
static int write_model(const Onnx__ModelProto *m, const char *dst, cb_error *err)
{
  size_t len = onnx__model_proto__get_packed_size(m);
  uint8_t *buf = cb_alloc(len ? len : 1);
  char tmp[4096];
  FILE *f;
  int ok;
  if (!buf) return cb_error_set(err, CB_ENOMEM, "%s: out of memory", dst);
  onnx__model_proto__pack(m, buf);
  snprintf(tmp, sizeof tmp, "%s.tmp", dst);
  if (!(f = fopen(tmp, "wb"))) { cb_free(buf); return cb_error_set(err, CB_EIO, "%s: cannot write file", dst); }
  ok = fwrite(buf, 1, len, f) == len;
  ok = (fclose(f) == 0) && ok;
  cb_free(buf);
  if (!ok || rename(tmp, dst) != 0) {
    remove(tmp);
    return cb_error_set(err, CB_EIO, "%s: cannot write file", dst);
  }
  return CB_OK;
}

/* Unpack, patch, pack, write atomically; the source file is never modified. */
int onnx_write_patched(const char *src, const char *dst, const onnx_patch *p, int n, cb_error *err)
{
  uint8_t *buf = NULL;
  size_t len = 0;
  Onnx__ModelProto *m = NULL;
  int rc;
  if ((rc = read_all(src, &buf, &len, err)) != CB_OK) goto out;
  if (!(m = onnx__model_proto__unpack(NULL, len, buf)) || !m->graph) {
    rc = cb_error_set(err, CB_EFORMAT, "%s: not a valid ONNX model", src);
    goto out;
  }
  for (int i = 0; i < n && rc == CB_OK; i++) rc = apply_patch(src, m->graph, &p[i], err);
  if (rc == CB_OK) rc = write_model(m, dst, err);
out:
  if (m) onnx__model_proto__free_unpacked(m, NULL);
  cb_free(buf);
  return rc;
}
