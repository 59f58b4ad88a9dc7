/*
** cerbere: sound certificates for neural networks.  Public API.
**
** Handles are opaque.  Every fallible call returns a cb_status (0 = CB_OK,
** negative on failure) and, on failure, fills the caller's cb_error with one
** line that names the file, the node or line, and what is wrong.  Nothing is
** printed and nothing exits below the CLI.  All *_free functions accept NULL.
*/
#ifndef CERBERE_H
#define CERBERE_H

#include <stddef.h>

#define CB_VERSION "0.1.0"

typedef enum cb_status {
  CB_OK = 0,
  CB_EUSAGE = -1,    /* bad argument from the caller */
  CB_EIO = -2,       /* file cannot be opened or read */
  CB_EFORMAT = -3,   /* malformed file (protobuf, NNet, CSV, VNNLIB) */
  CB_EUNSUP = -4,    /* well-formed but uses something we do not support */
  CB_ESHAPE = -5,    /* shapes do not chain */
  CB_EVALUE = -6,    /* NaN, infinity or out-of-range value */
  CB_ENOMEM = -7,    /* allocation failed or size absurd */
  CB_EINTERNAL = -8, /* a bug: an invariant was broken */
  CB_ELIMIT = -9     /* --timeout or --max-memory reached (cb_limits_set) */
} cb_status;

typedef struct cb_error {
  cb_status status;  /* the failing status, CB_OK if none */
  char msg[1024];    /* one line, no trailing newline */
} cb_error;

typedef struct cb_net cb_net;    /* canonical network (opaque) */
typedef struct cb_data cb_data;  /* labelled samples (opaque) */

const char *cb_status_name(cb_status s);          /* short text for a status */

cb_status cb_net_load(const char *path, cb_net **out, cb_error *err);
                                                  /* ONNX or NNet, chosen by content */
void cb_net_free(cb_net *net);                    /* NULL is a no-op */
size_t cb_net_input_size(const cb_net *net);      /* flattened input length */
size_t cb_net_output_size(const cb_net *net);     /* flattened output length */
cb_status cb_net_forward(const cb_net *net, const double *x, size_t batch,
                         double *y, cb_error *err);
                                                  /* x [batch][in] -> y [batch][out], double */

cb_status cb_data_load_csv(const char *path, size_t n_features, cb_data **out,
                           cb_error *err);        /* rows "label,x0,...,x(n-1)"; n_features 0 = infer */
cb_status cb_data_load(const char *path, const char *labels_path, size_t n_features, double scale,
                       cb_data **out, cb_error *err);
                                                  /* by content: X.npy (labels_path: labels .npy,
                                                     required), .npz (x.npy, y.npy; labels_path
                                                     NULL), a folder of PNG images (labels_path:
                                                     'file,label' CSV, required; pixels C,H,W) or
                                                     CSV (labels_path NULL); features
                                                     times scale (> 0; 1 = as stored, 1/255.
                                                     for uint8 pixels); n_features 0 = infer */
void cb_data_free(cb_data *d);                    /* NULL is a no-op */
size_t cb_data_rows(const cb_data *d);            /* number of samples */
size_t cb_data_cols(const cb_data *d);            /* features per sample */
const double *cb_data_x(const cb_data *d, size_t row); /* features of one row */
int cb_data_label(const cb_data *d, size_t row);  /* label of one row */
cb_status cb_data_check_labels(const cb_data *d, const char *path, size_t r0, size_t r1,
                               size_t n_classes, cb_error *err);
                                                  /* rows [r0, r1) labelled 0..n_classes-1, else
                                                     "PATH: row R: label L is not a class ..." */

size_t cb_argmax(const double *v, size_t n);      /* first index of the maximum */

#endif
