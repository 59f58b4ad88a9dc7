/*
** `cerbere certify` under mpirun -np P (build/cerbere-mpi; certify_mpi.h).
**
** Every rank loads the net, the rows and the certifier from the same command
** line.  Rank 0 owns the run: it keeps the queue of rows still to do (the
** selected rows of this shard, in row order, without those --resume found
** in progress.jsonl), deals them out, records each finished sample in
** progress.jsonl as it arrives, shows progress, and writes the final files
** (cert_run.c) only when every row is done.  The other ranks ask for work,
** certify a chunk of rows (as many as they have OpenMP threads, one row per
** thread) and send the chunk's samples back, which is also their request for
** the next chunk: a dynamic work queue with small chunks, so a slow row
** holds up no one.  Rank 0 certifies rows too, on its own threads, while its
** main thread serves the queue (MPI_THREAD_FUNNELED: only that thread calls
** MPI; it polls every millisecond and sleeps in between, so it costs no
** core).
**
** Messages (MPI_COMM_WORLD, rank r -> 0, then 0 -> r):
**   TAG_SAMPLES  text {"threads": T, "samples": [sample...]}: the samples of
**                the last chunk (none in the first message);
**   TAG_FAIL     text "STATUS\tMESSAGE": a row failed on rank r;
**   TAG_ROWS     long[] the next chunk (row positions k of the selection);
**                an empty chunk: no more work, the rank leaves.
** A sample is the same JSON object a single process writes (cert_run.c), so
** the results equal the single-process run's by construction: a row's
** certification depends on the row and the settings alone.
**
** Failures: a row's error on any rank ends the run: rank 0 stops dealing,
** lets the others finish their chunk and leave, and prints the error naming
** the rank and the row; progress.jsonl keeps every finished sample, no final
** file is written, and --resume continues.  A rank that dies (killed, out of
** memory) makes mpirun end the job: rank 0 then gets SIGTERM and says how
** many samples progress.jsonl holds before it exits.
*/
#include <mpi.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "linalg.h"
#include "certify_mpi.h"
#include "report.h"

enum { TAG_SAMPLES = 101, TAG_FAIL, TAG_ROWS };

const char *mpi_library(void)
{
  static char v[MPI_MAX_LIBRARY_VERSION_STRING];
  int n = 0;
  MPI_Get_library_version(v, &n);
  v[strcspn(v, ",\n")] = 0;   /* "Open MPI v4.1.4" */
  return v;
}

/* Rank 0's state, shared by its main thread and its compute threads (under
   the critical section "q"). */
typedef struct dealer {
  certify_run *R;
  size_t *queue, nq, next;  /* the rows to do, and the first not dealt */
  int failed;               /* a row failed: deal no more */
  int fail_rank, fail_status;
  char fail_msg[1024 + 64];
} dealer;

static volatile sig_atomic_t g_term;
static volatile int g_ndone;         /* samples in progress.jsonl, for the SIGTERM message */
static const char *g_prog = "";

/* Appends the decimal digits of v (async-signal-safe). */
static size_t put_int(char *b, size_t n, long v)
{
  char d[24];
  int k = 0;
  do { d[k++] = (char)('0' + v % 10); v /= 10; } while (v && k < 23);
  while (k) b[n++] = d[--k];
  return n;
}

/* SIGTERM on rank 0: mpirun ends the job because a rank died (or the job was
   cancelled).  One line, then exit: progress.jsonl holds the finished samples. */
static void on_term(int sig)
{
  static const char a[] = "cerbere certify: stopped by mpirun (a rank died, or the job was cancelled): ";
  static const char b[] = " finished samples are in ";
  static const char c[] = "; no final file was written; rerun with --resume to continue\n";
  char m[5000];
  size_t n = 0, lp = strlen(g_prog);
  (void)sig;
  g_term = 1;
  memcpy(m + n, a, sizeof a - 1); n += sizeof a - 1;
  n = put_int(m, n, g_ndone);
  memcpy(m + n, b, sizeof b - 1); n += sizeof b - 1;
  if (lp > 4000) lp = 4000;
  memcpy(m + n, g_prog, lp); n += lp;
  memcpy(m + n, c, sizeof c - 1); n += sizeof c - 1;
  if (write(2, m, n) < 0) n = 0;
  _exit(EXIT_INTERRUPTED);
}

/* Certifies row k into a new sample object; NULL with err set ("row R:
   ...") on failure. */
static cJSON *certify_row(const certify_run *R, size_t k, cb_error *err)
{
  cb_cert_result r = {0};
  cb_error e = {0};
  cJSON *s = NULL;
  if (cert_result_init(&r, R->b.net) != CB_OK) cb_error_set(&e, CB_ENOMEM, "out of memory");
  else if (certify_sample(R->c, batch_x(&R->b, k), batch_label(&R->b, k), &r, NULL, &e) == CB_OK &&
           !(s = certify_sample_json(R, k, &r)))
    cb_error_set(&e, CB_ENOMEM, "out of memory");
  cert_result_free(&r);
  if (!s) cb_error_set(err, e.status, "row %zu: %s", R->b.r0 + k, e.msg);
  return s;
}

/* Records a failure (the first one wins). */
static void fail(dealer *D, int rank, int status, const char *msg)
{
  if (D->failed) return;
  D->failed = 1;
  D->fail_rank = rank;
  D->fail_status = status;
  snprintf(D->fail_msg, sizeof D->fail_msg, "%s", msg);
}

/* Rank 0's compute thread: takes rows from the queue until it is empty. */
static void local_worker(dealer *D, int rank)
{
  for (;;) {
    size_t k = 0;
    int have = 0;
    cb_error e = {0};
    cJSON *s;
#pragma omp critical(q)
    if (!D->failed && D->next < D->nq) { k = D->queue[D->next++]; have = 1; }
    if (!have) return;
    s = certify_row(D->R, k, &e);
#pragma omp critical(q)
    {
      if (!s) fail(D, rank, e.status, e.msg);
      else { certify_record(D->R, k, s); g_ndone = D->R->ndone; }
    }
  }
}

/* A worker's message: its samples are recorded; its next chunk goes back
   (empty once the queue is done or the run failed).  Returns 1 when the
   worker leaves. */
static int serve(dealer *D, MPI_Status *st, int *left_out)
{
  int len, src = st->MPI_SOURCE, threads = 1, leave;
  char *buf;
  long chunk[1024];
  int nc = 0;
  MPI_Get_count(st, MPI_CHAR, &len);
  if (!(buf = malloc((size_t)len + 1))) { MPI_Abort(MPI_COMM_WORLD, EXIT_INTERNAL); return 1; }
  MPI_Recv(buf, len, MPI_CHAR, src, st->MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  buf[len] = 0;
  if (st->MPI_TAG == TAG_FAIL) {
    char *tab = strchr(buf, '\t');
#pragma omp critical(q)
    fail(D, src, atoi(buf), tab ? tab + 1 : buf);
  } else {
    cJSON *m = cJSON_Parse(buf), *s, *th = cJSON_GetObjectItem(m, "threads");
    cJSON *ss = cJSON_GetObjectItem(m, "samples");
    if (cJSON_IsNumber(th)) threads = th->valueint;
#pragma omp critical(q)
    {
      if (!m) fail(D, src, CB_EINTERNAL, "a message from this rank does not parse");
      while (ss && (s = cJSON_DetachItemFromArray(ss, 0))) {
        size_t k = (size_t)cJSON_GetObjectItem(s, "index")->valuedouble - D->R->b.r0;
        if (k < D->R->b.n && !D->R->done[k]) { certify_record(D->R, k, s); g_ndone = D->R->ndone; }
        else cJSON_Delete(s);
      }
    }
    cJSON_Delete(m);
  }
  free(buf);
#pragma omp critical(q)
  while (!D->failed && nc < threads && nc < 1024 && D->next < D->nq) chunk[nc++] = (long)D->queue[D->next++];
  MPI_Send(chunk, nc, MPI_LONG, src, TAG_ROWS, MPI_COMM_WORLD);
  leave = nc == 0;
  *left_out += leave;
  return leave;
}

/* Rank 0's main thread: serves the other ranks until all have left. */
static void serve_all(dealer *D, int size)
{
  int left = 0;
  while (left < size - 1) {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    if (flag) serve(D, &st, &left);
    else nanosleep(&(struct timespec){0, 1000000}, NULL);
  }
}

/* Ranks > 0: ask, certify the chunk on the rank's threads, send, repeat. */
static void work(certify_run *R, int threads)
{
  cJSON *m = NULL;
  long chunk[1024];
  for (;;) {
    cb_error e = {0};
    int nc, failed = 0;
    MPI_Status st;
    char *txt;
    if (!m) { m = cJSON_CreateObject(); cJSON_AddNumberToObject(m, "threads", threads); cJSON_AddArrayToObject(m, "samples"); }
    report_exact_numbers(m);   /* numbers that read back to the same doubles */
    txt = cJSON_PrintUnformatted(m);
    if (!txt) MPI_Abort(MPI_COMM_WORLD, EXIT_INTERNAL);
    MPI_Send(txt, (int)strlen(txt), MPI_CHAR, 0, TAG_SAMPLES, MPI_COMM_WORLD);
    cJSON_free(txt);
    cJSON_Delete(m);
    m = NULL;
    MPI_Recv(chunk, 1024, MPI_LONG, 0, TAG_ROWS, MPI_COMM_WORLD, &st);
    MPI_Get_count(&st, MPI_LONG, &nc);
    if (nc == 0) return;
    {
      cJSON *out[1024] = {0};
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
      for (int i = 0; i < nc; i++) {
        cb_error te = {0};
        int bad;
#pragma omp critical(w)
        bad = failed;
        if (bad) continue;
        if (!(out[i] = certify_row(R, (size_t)chunk[i], &te))) {
#pragma omp critical(w)
          if (!failed) { failed = 1; e = te; }
        }
      }
      if (failed) {
        char msg[1024 + 32];
        for (int i = 0; i < nc; i++) cJSON_Delete(out[i]);
        snprintf(msg, sizeof msg, "%d\t%s", e.status, e.msg);
        MPI_Send(msg, (int)strlen(msg), MPI_CHAR, 0, TAG_FAIL, MPI_COMM_WORLD);
        MPI_Recv(chunk, 1024, MPI_LONG, 0, TAG_ROWS, MPI_COMM_WORLD, MPI_STATUS_IGNORE);   /* empty: leave */
        return;
      }
      m = cJSON_CreateObject();
      cJSON_AddNumberToObject(m, "threads", threads);
      cJSON *ss = cJSON_AddArrayToObject(m, "samples");
      for (int i = 0; i < nc; i++) cJSON_AddItemToArray(ss, out[i]);
    }
  }
}

/* Rank 0: the queue, its own threads and the service of the others. */
static int deal(certify_run *R, int size, int threads, cb_error *err)
{
  dealer D = {R};
  if (!(D.queue = cb_calloc(R->b.n + 1, sizeof *D.queue))) return cb_error_set(err, CB_ENOMEM, "out of memory");
  for (size_t k = 0; k < R->b.n; k++) if (certify_in_run(R, k) && !R->done[k]) D.queue[D.nq++] = k;
  g_ndone = R->ndone;
  la_set_threads(1);
#pragma omp parallel num_threads(threads + 1)
  {
    if (omp_get_thread_num() == 0) serve_all(&D, size);
    else local_worker(&D, 0);
  }
  cb_free(D.queue);
  if (!D.failed) return CB_OK;
  if (R->pf) { fclose(R->pf); R->pf = NULL; }
  return cb_error_set(err, D.fail_status, "rank %d of %d failed: %s; no final file was written%s", D.fail_rank, size, D.fail_msg,
                      R->o->out ? "; progress.jsonl keeps the finished samples: rerun with --resume to continue" : "");
}

int mpi_certify(const certify_opts *o)
{
  certify_run R;
  cb_error err = {0};
  int provided, rank, size, rc, bad, threads = o->threads ? o->threads : omp_get_max_threads(), total;
  MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (provided < MPI_THREAD_FUNNELED) {
    if (rank == 0) fprintf(stderr, "cerbere certify: the MPI library gives no MPI_THREAD_FUNNELED support (threads inside ranks)\n");
    MPI_Finalize();
    return EXIT_INTERNAL;
  }
  rc = certify_setup(&R, o, rank == 0, threads, &err);
  {   /* the lowest rank that failed to start says why; all ranks end with its status */
    int mine = rc != CB_OK ? rank : size;
    MPI_Allreduce(&mine, &bad, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (bad < size) {
      int st = rc;
      MPI_Bcast(&st, 1, MPI_INT, bad, MPI_COMM_WORLD);
      if (rank == bad && bad == 0) report_fail(&err);
      else if (rank == bad) fprintf(stderr, "cerbere: rank %d of %d: %s\n", rank, size, err.msg);
      certify_close(&R);
      MPI_Finalize();
      return exit_code(st);
    }
  }
  MPI_Allreduce(&threads, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  R.threads = total;   /* the summary's thread count: every rank's */
  if (rank == 0) {
    if (!o->quiet) fprintf(stderr, "cerbere certify: %d rank%s, %d thread%s in all, %zu rows to do\n", size, size > 1 ? "s" : "",
                           total, total > 1 ? "s" : "", R.n_todo - (size_t)R.ndone);
    g_prog = R.prog[0] ? R.prog : "no file (no --out)";
    signal(SIGTERM, on_term);
    rc = deal(&R, size, threads, &err);
    if (rc == CB_OK) rc = certify_finish(&R, &err);
  } else {
    la_set_threads(1);
    work(&R, threads);
  }
  if (rank == 0 && rc != 0 && rc != EXIT_FALSIFIED && rc != EXIT_UNKNOWN) rc = report_fail(&err);
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);   /* every rank ends with the run's exit code */
  certify_close(&R);
  MPI_Finalize();
  return rc;
}
