/*
** One `cerbere certify` run, shared by its three drivers:
**   cmd_certify.c   one process, OpenMP threads over the rows (batch_run);
**   certify_mpi.c   under mpirun: rank 0 deals rows to every rank;
**   cmd_merge.c     no run at all: joins the outputs of --shard runs.
** The steps every driver takes are here once: the options, the settings
** object (the identity --resume and merge check), a row's sample JSON, the
** progress file, the summary, and the final files (certificates.json,
** report.json/html, --json, --export-vnnlib), written only when every row is
** done, each to a temporary name renamed into place.
**
** --shard I/N keeps the selected rows whose position in the selection is I
** modulo N (I 0-based, as SLURM_ARRAY_TASK_ID under --array=0-(N-1)); the
** settings then carry {"shard": {"index": I, "count": N}}, so --resume only
** continues the same shard, and `cerbere merge` joins the N outputs.
*/
#ifndef CB_CERT_RUN_H
#define CB_CERT_RUN_H

#include <stdio.h>
#include <cjson/cJSON.h>
#include "batch.h"
#include "certify.h"

/* Run outcomes, above the cb_status range so they never mix with errors. */
#define EXIT_FALSIFIED 10
#define EXIT_UNKNOWN 11
#define EXIT_INTERRUPTED 130

typedef struct certify_opts {
  const char *net, *data, *out, *json, *export_dir;
  cb_cert_opt co;
  int have_tol;
  long r0, r1;              /* --rows A:B; r1 < 0: to the last row */
  long shard_i, shard_n;    /* --shard I/N; shard_n 0: no sharding */
  int threads, resume, quiet;
  int proof;                /* --proof: DIR/proofs/row_<i>.{vnnlib,proof} for every verified row */
} certify_opts;

/* Parses certify's options (after the command name); 0, -1 after --help,
   or the usage exit code after a message. */
int certify_parse(int argc, char **argv, certify_opts *o);

/* The tally of finished samples, for the summary and the progress bar. */
typedef struct cert_tally { int n, ver, fal, unk, clean_ok, by[CM_COUNT]; double *radii; int nr; double ms[CM_COUNT]; } cert_tally;

typedef struct certify_run {
  const certify_opts *o;
  certify_opts o_eff;       /* the options with the threat model's arrays (summary line) */
  batch b;
  cb_certifier *c;
  cJSON *set;               /* the settings object */
  char *set_s;              /* ... printed: the identity --resume checks */
  cJSON **done;             /* per selected row: its sample once finished (or resumed) */
  size_t n_todo;            /* the rows of this run (of its shard) */
  cert_tally t;
  FILE *pf;                 /* DIR/progress.jsonl, or NULL */
  char prog[4096];
  int ndone, bar, threads;
  double t0;
} certify_run;

/* Loads the net, the rows and the certifier.  writer (the process that
   writes the files): also prepares --out and --export-vnnlib, loads
   progress.jsonl with --resume (refused when its settings differ) and
   rewrites it with the settings and the resumed samples.  threads is the
   summary's thread count. */
int certify_setup(certify_run *R, const certify_opts *o, int writer, int threads, cb_error *err);

int certify_in_run(const certify_run *R, size_t k);   /* row r0 + k is in this run (its shard) */

/* Row r0 + k's sample object from its result. */
cJSON *certify_sample_json(const certify_run *R, size_t k, const cb_cert_result *r);

/* Records a finished sample s (owned): the tally, progress.jsonl (flushed),
   and the row line or the progress bar. */
void certify_record(certify_run *R, size_t k, cJSON *s);

/* After every row: the summary, and the final files.  Returns 0, 10 or 11
   (the run's outcome) or an error status with err set. */
int certify_finish(certify_run *R, cb_error *err);

void certify_close(certify_run *R);

double certify_now(void);   /* monotonic seconds */

/* The summary object of a samples array (merge): as a run computes it. */
cJSON *certify_summary_of(const cJSON *samples, double secs, int threads, int regression);

/* The settings keys that say which rows a run holds: a merge compares the
   settings without them. */
#define CERT_ROW_KEYS {"rows_from", "rows_to", "shard"}

#endif
