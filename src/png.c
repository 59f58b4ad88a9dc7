/*
** Samples from a folder of PNG images (issue 20): `--data DIR --labels
** LABELS.csv`, the CSV one `file,label` line per sample (an optional header
** line; names relative to DIR, no "..", no absolute paths), in that order.
** Each image is read with Debian's libpng (classic API: every pixel value as
** stored, no gamma or colour conversion): palette images are expanded to RGB,
** grey below 8 bits to 8 bits; 8-bit samples are 0..255 and 16-bit ones
** 0..65535 (use --scale 1/255 or 1/65535).  An alpha channel (or a tRNS
** transparency chunk) is refused: it is not a pixel value.  Pixels go in
** channel-major order (C, H, W), as NCHW networks read them; every image
** must have the size the network wants (C H W = its input size).
** Errors name the file (and line of the labels CSV); nothing leaks.
*/
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cb.h"

/* libpng's errors land here: the message is kept for ours. */
typedef struct png_ctx { char msg[160]; } png_ctx;

static void on_error(png_structp p, png_const_charp m)
{
  png_ctx *c = png_get_error_ptr(p);
  snprintf(c->msg, sizeof c->msg, "%s", m);
  png_longjmp(p, 1);
}

static void on_warning(png_structp p, png_const_charp m) { (void)p; (void)m; }

/*
** One image into x (n doubles, channel-major), its shape checked against the
** first image's (*c, *h, *w; 0 = not set yet) and against n.
*/
static int read_png(const char *path, double *x, size_t n, int *c0, int *h0, int *w0, cb_error *err)
{
  FILE *f = fopen(path, "rb");
  png_ctx ctx = {{0}};
  png_structp p = NULL;
  png_infop info = NULL;
  unsigned char sig[8];
  png_bytep *volatile rows = NULL;
  unsigned char *volatile buf = NULL;
  volatile int rc = CB_OK;
  if (!f) return cb_error_set(err, CB_EIO, "%s: cannot open: %s", path, strerror(errno));
  if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8)) { fclose(f); return cb_error_set(err, CB_EFORMAT, "%s: not a PNG file", path); }
  if (!(p = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_error, on_warning)) || !(info = png_create_info_struct(p))) {
    png_destroy_read_struct(&p, NULL, NULL);
    fclose(f);
    return cb_error_set(err, CB_ENOMEM, "%s: out of memory", path);
  }
  if (setjmp(png_jmpbuf(p))) {
    rc = cb_error_set(err, CB_EFORMAT, "%s: unreadable PNG: %s", path, ctx.msg[0] ? ctx.msg : "corrupt data");
    goto out;
  }
  png_set_user_limits(p, 1 << 14, 1 << 14);   /* 16384 x 16384 at most: a forged header cannot ask for more */
  png_init_io(p, f);
  png_set_sig_bytes(p, 8);
  png_read_info(p, info);
  {
    png_uint_32 w = png_get_image_width(p, info), h = png_get_image_height(p, info);
    int bd = png_get_bit_depth(p, info), ct = png_get_color_type(p, info), ch, bpp;
    size_t rowbytes, px;
    if (ct & PNG_COLOR_MASK_ALPHA || png_get_valid(p, info, PNG_INFO_tRNS)) {
      rc = cb_error_set(err, CB_EUNSUP, "%s: has an alpha channel or transparency (not a pixel value; save it without)", path);
      goto out;
    }
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(p);
    if (ct == PNG_COLOR_TYPE_GRAY && bd < 8) png_set_expand_gray_1_2_4_to_8(p);
    if (bd == 16) png_set_swap(p);   /* host order below: little-endian machines read uint16 directly */
    png_read_update_info(p, info);
    ch = png_get_channels(p, info);
    bd = png_get_bit_depth(p, info);
    bpp = bd == 16 ? 2 : 1;
    if (*c0 == 0) { *c0 = ch; *h0 = (int)h; *w0 = (int)w; }
    if (ch != *c0 || (int)h != *h0 || (int)w != *w0) {
      rc = cb_error_set(err, CB_EFORMAT, "%s: %d x %d x %lu, but the first image is %d x %d x %d (channels x height x width)",
                        path, ch, (int)h, (unsigned long)w, *c0, *h0, *w0);
      goto out;
    }
    px = (size_t)h * w;
    if ((size_t)ch * px != n) {
      rc = cb_error_set(err, CB_ESHAPE, "%s: %d x %u x %u = %zu values, the network's input has %zu", path, ch, (unsigned)h,
                        (unsigned)w, (size_t)ch * px, n);
      goto out;
    }
    rowbytes = png_get_rowbytes(p, info);
    if (!(buf = cb_alloc(rowbytes * h + 1)) || !(rows = cb_alloc(h * sizeof *rows + 1))) {
      rc = cb_error_set(err, CB_ENOMEM, "%s: out of memory", path);
      goto out;
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = buf + y * rowbytes;
    png_read_image(p, rows);
    for (png_uint_32 y = 0; y < h; y++)
      for (png_uint_32 xx = 0; xx < w; xx++)
        for (int k = 0; k < ch; k++) {
          const unsigned char *q = rows[y] + ((size_t)xx * ch + k) * bpp;
          unsigned v = bpp == 2 ? (unsigned)(q[0] | q[1] << 8) : q[0];
          x[(size_t)k * px + (size_t)y * w + xx] = v;
        }
  }
out:
  png_destroy_read_struct(&p, &info, NULL);
  cb_free(rows);
  cb_free(buf);
  fclose(f);
  return rc;
}

/* Trims spaces and a trailing CR in place. */
static char *trim(char *s)
{
  char *e;
  while (isspace((unsigned char)*s)) s++;
  e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
  return s;
}

cb_status png_folder_load(const char *dir, const char *labels_path, size_t n_features, double scale, cb_data **out,
                          cb_error *err)
{
  FILE *f;
  char line[4096], path[4352];
  cb_data *d = NULL;
  size_t cap = 0, ln = 0;
  int rc = CB_OK, c0 = 0, h0 = 0, w0 = 0;
  *out = NULL;
  if (!labels_path)
    return cb_error_set(err, CB_EUSAGE, "%s: a folder of PNG images needs --labels FILE.csv (one 'file,label' line per image)", dir);
  if (!n_features) return cb_error_set(err, CB_EUSAGE, "%s: PNG folders need the network's input size", dir);
  if (!(f = fopen(labels_path, "r"))) return cb_error_set(err, CB_EIO, "%s: cannot open: %s", labels_path, strerror(errno));
  while (fgets(line, sizeof line, f)) if (strchr(line, '\n') || feof(f)) cap++;   /* lines: room for that many images */
  rewind(f);
  if (!(d = cb_calloc(1, sizeof *d))) { fclose(f); return cb_error_set(err, CB_ENOMEM, "out of memory"); }
  d->cols = n_features;
  {
    size_t xs;
    if (!cap || !cb_mul_size(cap, n_features, &xs) || !(d->x = cb_alloc(xs * sizeof *d->x)) || !(d->label = cb_alloc(cap * sizeof *d->label))) {
      fclose(f);
      cb_data_free(d);
      return cap ? cb_error_set(err, CB_ENOMEM, "%s: out of memory for %zu images", labels_path, cap)
                 : cb_error_set(err, CB_EFORMAT, "%s: no 'file,label' lines", labels_path);
    }
  }
  while (rc == CB_OK && fgets(line, sizeof line, f)) {
    char *s, *name, *lab, *e;
    double v;
    ln++;
    if (!strchr(line, '\n') && !feof(f)) { rc = cb_error_set(err, CB_EFORMAT, "%s line %zu: longer than %zu characters", labels_path, ln, sizeof line - 2); break; }
    s = trim(line);
    if (!*s) continue;
    if (!(lab = strchr(s, ','))) { rc = cb_error_set(err, CB_EFORMAT, "%s line %zu: expected 'file,label'", labels_path, ln); break; }
    *lab++ = 0;
    name = trim(s);
    lab = trim(lab);
    v = strtod(lab, &e);
    if (e == lab || *e || !isfinite(v) || v != floor(v) || v < 0 || v > 1e9) {
      if (ln == 1 && e == lab) continue;   /* a header line: its label field is not a number */
      rc = cb_error_set(err, CB_EFORMAT, "%s line %zu: label '%s' is not a non-negative integer", labels_path, ln, lab);
      break;
    }
    if (!*name || name[0] == '/' || strstr(name, "..")) {
      rc = cb_error_set(err, CB_EFORMAT, "%s line %zu: file name '%s' must be relative to the folder, without '..'", labels_path, ln, name);
      break;
    }
    if (d->rows == cap) { rc = cb_error_set(err, CB_EIO, "%s: changed while being read", labels_path); break; }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((rc = read_png(path, d->x + d->rows * n_features, n_features, &c0, &h0, &w0, err)) != CB_OK) break;
    for (size_t j = 0; j < n_features; j++) d->x[d->rows * n_features + j] *= scale;
    d->label[d->rows++] = (int)v;
  }
  if (rc == CB_OK && ferror(f)) rc = cb_error_set(err, CB_EIO, "%s: read error", labels_path);
  fclose(f);
  if (rc == CB_OK && d->rows == 0) rc = cb_error_set(err, CB_EFORMAT, "%s: no 'file,label' lines", labels_path);
  if (rc != CB_OK) { cb_data_free(d); return (cb_status)rc; }
  *out = d;
  return CB_OK;
}
