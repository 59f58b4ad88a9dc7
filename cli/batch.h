/*
** The rows a command runs over, and the loop that runs them.
**
** Every command that reads --data does the same steps around its own work
** (bounds, certify, jacobian, attribute, audit, predict, lipschitz --data,
** orthonormalize --data); they are done here once:
**   batch_load_net   the network;
**   batch_load_rows  the CSV, NPY or NPZ (as many columns as the net has inputs), the
**                    --rows range, and every selected row checked before
**                    any work: its label a class of the net
**                    (cb_data_check_labels) and, with a ball, its set not
**                    empty (set_check);
**   batch_run        the rows in parallel: OpenMP, one row at a time in
**                    row order (schedule dynamic, 1), BLAS single-threaded
**                    inside, optional per-thread state, a callback per row
**                    and one under a lock after each row; an error stops
**                    the rows not started, and the error reported is that
**                    of the lowest failing row, whatever the thread count;
**   batch_json_*     the fields every command's JSON starts with;
**   batch_progress   the progress line on a terminal.
** The commands keep their own per-row work, printing and JSON fields.
*/
#ifndef CB_BATCH_H
#define CB_BATCH_H

#include <cjson/cJSON.h>
#include "args.h"

typedef struct batch {
  const char *net_path, *data_path;   /* as given on the command line (messages, JSON) */
  cb_net *net;                        /* batch_load_net */
  cb_data *d;                         /* batch_load_rows */
  size_t r0, r1, n;                   /* the selected rows [r0, r1), n = r1 - r0 */
  size_t n_in, n_out;                 /* the net's input and output sizes */
  double *box_lo, *box_hi;            /* --box LO HI, per feature (NULL: none); batch_load_net */
  double *eps_w;                      /* --eps-per-feature FILE (NULL: none); batch_load_net */
  int target;                         /* --target K, or -1 */
} batch;

/* A command's set around each row: the ball {x : ||x - row||_norm <= eps},
   with clip intersected with [lo, hi]^n. */
typedef struct batch_ball { cb_norm norm; double eps; int clip; double lo, hi; } batch_ball;

typedef struct batch_rows {
  long r0, r1;              /* --rows A:B (0-based, B excluded); r1 < 0: to the last row */
  int margins;              /* the command bounds margins: a net with < 2 outputs is refused;
                               -1: margins when the net has >= 2 outputs, else plain output
                               intervals with the labels ignored (bounds on a regression net) */
  const batch_ball *ball;   /* the set around each row (with b's --box and --eps-per-feature),
                               refused when empty; NULL: no set */
  int no_labels;            /* 1: the labels are read but not used (certify --regression) */
} batch_rows;

/* The --data, --labels and --scale lines of every command's --help. */
#define BATCH_DATA_HELP \
  "  --data FILE    samples: CSV rows 'label,x0,...', X.npy (with --labels), or .npz\n" \
  "                 (np.savez(f, x=X, y=labels)); chosen by content, not by name\n" \
  "  --labels Y.npy the labels of an X.npy (shape (N,), integers)\n" \
  "  --scale S      multiply every feature by S (a number or A/B: 1/255 for uint8 pixels)\n" \
  "  --mean M --std S  the net sees (x - M) / S, per channel (comma lists, one value per\n" \
  "                 channel or one for all): an exact SCALE node is put in front of the\n" \
  "                 net, so eps, --clip and counterexamples stay in the data's raw space\n"

/* The threat-model lines of certify's and bounds' --help. */
#define BATCH_THREAT_HELP \
  "  --box LO HI    per-feature input box: LO and HI are .npy arrays (any shape with one\n" \
  "                 value per network input, e.g. (C, H, W)) or text files of that many\n" \
  "                 numbers; the set is the ball intersected with the box (and with --clip\n" \
  "                 when both are given).  Raw data space, as eps\n" \
  "  --eps-per-feature FILE  a weighted L-inf ball: |x_i - row_i| <= E * r_i with r from\n" \
  "                 FILE (.npy or text, one value >= 0 per input; 0 pins a feature).\n" \
  "                 --norm inf; --eps E is then a scale (1: the radii as given) and a\n" \
  "                 radius search reports the largest certified scale\n" \
  "  --target K     targeted threat model: only class K must be excluded.  Verified:\n" \
  "                 f_label - f_K > 0 on all of the set (K never reaches the label, so K is\n" \
  "                 never the top class; other classes may win); falsified: a point of the\n" \
  "                 set where f_K >= f_label in real arithmetic.  A row labelled K is refused\n"

/* Takes --labels FILE and --scale S (a number or A/B) out of a command's
   argv (argc updated) for batch_load_rows; main calls it once for every
   command that reads --data.  Returns 0, or the usage exit code after a
   message (a bad value, or either option without --data). */
int batch_data_options(const char *cmd, int *argc, char **argv);

/* The threat model as the JSON's "threat_model" object: {box, eps_per_feature,
   target} (paths as given; null when absent). */
cJSON *batch_json_threat(const batch *b);

/* Loads the network into b (which starts zeroed). */
int batch_load_net(batch *b, const char *net_path, cb_error *err);

/* Loads the rows for b's net (cb_data_load: CSV, NPY with --labels, or
   NPZ, features times --scale) and selects and checks them, in this order:
   "NET: margins need at least 2 outputs" (sel->margins), "DATA: --rows goes
   past the last row" (both CB_EUSAGE), then each row's label and set
   ("DATA: row R: ...", CB_EVALUE). */
int batch_load_rows(batch *b, const char *data_path, const batch_rows *sel, cb_error *err);

void batch_close(batch *b);
void batch_print_warnings(const batch *b);   /* the net's loader warnings, one stdout line each */                         /* frees net and rows; b may be half loaded */
const double *batch_x(const batch *b, size_t k);    /* features of row r0 + k */
int batch_label(const batch *b, size_t k);          /* label of row r0 + k */

#define BATCH_SKIP 1   /* a row callback's "nothing done" (a row resumed from an earlier run) */

typedef struct batch_loop {
  /* The work of row r0 + k: CB_OK, BATCH_SKIP, or an error status with err set.
     state is the thread's (NULL without thread_new). */
  int (*row)(void *ctx, void *state, size_t k, cb_error *err);
  /* Optional, under a lock, in the thread that ran the row, after a row that
     returned CB_OK while nothing stopped the run: record, print, progress. */
  void (*done)(void *ctx, void *state, size_t k);
  /* Optional per-thread state: NULL on failure with err set (then every row
     the thread takes fails with that error); freed by thread_free. */
  void *(*thread_new)(void *ctx, cb_error *err);
  void (*thread_free)(void *state);
  void *ctx;
  int threads;              /* OpenMP threads over rows; 0: OpenMP's default */
  volatile int *stop;       /* optional: once nonzero (Ctrl-C) no row starts; set to 2 on an error */
  int name_row;             /* prefix a row's error with "DATA: row R: " */
} batch_loop;

/* Runs every selected row (see above).  Returns CB_OK, or the status and
   error of the lowest failing row. */
int batch_run(const batch *b, const batch_loop *L, cb_error *err);

cJSON *batch_json_top(const batch *b, const char *command);   /* {command, version, net, data} */
cJSON *batch_json_sample(const batch *b, size_t k);           /* {index: r0 + k, label} */

/* "\r[DONE/TOTAL] WHAT  ETA S s" on stderr, a newline when done == total. */
void batch_progress(size_t done, size_t total, double secs, const char *what);

#endif
