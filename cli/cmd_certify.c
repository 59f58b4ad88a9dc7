/*
** `cerbere certify`: the dataset mode of the certification cascade.
** Samples run in parallel (batch.h: OpenMP, BLAS single-threaded inside).  Each
** finished sample is appended to DIR/progress.jsonl (flushed), so --resume
** can continue an interrupted run; DIR/certificates.json is written once at
** the end, to a temporary file renamed into place.  SIGINT stops the run
** cleanly: finished samples stay in progress.jsonl, no certificates.json.
** The steps around the loop are cert_run.c's, shared with the MPI driver
** (certify_mpi.c, under mpirun) and with `cerbere merge` (cmd_merge.c).
*/
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cert_run.h"
#include "cmd.h"
#include "certify_mpi.h"
#include "report.h"


static const char *usage =
  "usage: cerbere certify NET --data FILE --norm inf|2|1 --eps E --out DIR\n"
  "                       [--clip LO:HI] [--radius] [--methods LIST] [--timeout S]\n"
  "                       [--rows A:B] [--shard I/N] [--threads N] [--resume] [--json OUT] [--quiet]\n"
  "                       [--max-memory M] [--bab-timeout S] [--lip-nodes N] [--export-vnnlib DIR]\n"
  "                       [--box LO HI] [--eps-per-feature FILE] [--target K]\n"
  "                       [--regression --tol T] [--precision single|double] [--proof]\n"
  "\n"
  "For each CSV row (label,x0,...), decides whether the prediction is provably\n"
  "the label over the set S = the ball {x : ||x - row||_p <= E}, intersected\n"
  "with [LO,HI]^n with --clip.  Methods run cheapest first and the first that\n"
  "decides wins:\n"
  "  clean (the clean point misclassified: the row, or with --clip the row\n"
  "  clamped into [LO,HI], the point of S nearest the row) -> attack (PGD,\n"
  "  cheap) -> lipschitz (global constant) -> ibp -> crown-ibp -> crown ->\n"
  "  local-lipschitz (interval Jacobian over S) -> alpha-crown -> strong-attack\n"
  "  -> bab (branch and bound, the engine of `cerbere verify`, on S: L-inf only).\n"
  "Verdicts: verified (a sound bound proved every margin > 0), falsified (a\n"
  "counterexample in S, re-checked by the forward pass, is reported), unknown\n"
  "(with the reason: the margin that failed, a timeout, an internal error).\n"
  "A row whose set is empty (the ball misses the clip box) or whose label is\n"
  "not a class stops the run before any work, naming the row (exit 3).\n"
  "\n"
  BATCH_DATA_HELP
  BATCH_THREAT_HELP
  "  --regression --tol T  for a network with any number of outputs (a regression net):\n"
  "                 verified means |f_j(y) - f_j(row)| <= T for every output j and every y\n"
  "                 of the set (the outputs at the row taken in real arithmetic, src/exact.c);\n"
  "                 falsified, a point y of the set where some output moves by more than T,\n"
  "                 re-checked in real arithmetic (counterexample_output says which).  Labels\n"
  "                 are read but unused; methods: attack, ibp, crown-ibp, crown, alpha-crown,\n"
  "                 strong-attack (lipschitz, local-lipschitz and bab bound class margins)\n"
  "  --radius       also search the certified radius (largest verified eps, by\n"
  "                 bisection from the Lipschitz radius) and the attack radius\n"
  "                 (smallest eps where the attack succeeds): [certified, attacked];\n"
  "                 with --clip both are >= the row's distance to the box (S is\n"
  "                 empty below it)\n"
  "  --methods L    comma-separated subset of attack,lipschitz,ibp,crown-ibp,crown,\n"
  "                 local-lipschitz,alpha-crown,strong-attack,bab (default: all); clean\n"
  "                 always runs.  local-lipschitz and alpha-crown compute CROWN's\n"
  "                 intermediate bounds themselves when crown is not listed; a net\n"
  "                 without a Lipschitz rule refuses lipschitz/local-lipschitz\n"
  "  --timeout S    seconds per sample; a sample out of time is unknown\n"
  "  --precision P  double (default) or single: the sound methods' CROWN passes\n"
  "                 run their matrix products (dense and conv) in binary32\n"
  "                 (bounds --help)\n"
  "  --lip-nodes N  local-lipschitz tightens each margin's constant over S by a\n"
  "                 branch and bound on the signs of the ReLUs unstable over S (at most\n"
  "                 N interval-Jacobian passes per margin; skipped once the sample is out\n"
  "                 of time; default 0 = off); --radius's search uses it too\n"
  "  --bab-timeout S  CPU seconds of branch and bound per sample left open by the\n"
  "                 other methods (default 60; 0 = no bab step; with --timeout, within\n"
  "                 what is left of it, as wall time).  bab\n"
  "                 runs `verify`'s search (input and ReLU splitting, LP, attacks) on\n"
  "                 the property 'some class j != label has logit >= the label's'\n"
  "                 over S as a box: verified when every subdomain is refuted,\n"
  "                 falsified with a witness that passes the same exact checks as\n"
  "                 every counterexample; else unknown, the reason giving the\n"
  "                 search's answer and subdomain count.  L2 and L1 balls are not\n"
  "                 boxes: those rows skip bab (said in the reason).  Why 60 s of\n"
  "                 CPU: the same search `verify --timeout 60` runs on one core, so\n"
  "                 bab decides what verify decides in 60 s, whatever the load (on 50\n"
  "                 MNIST 256x2 rows: 1-4 s each, one row 34 s); a row it cannot\n"
  "                 close costs the whole budget (bench/RESULTS_certify.md)\n"
  "  --proof        (--out DIR) for every verified row, also write a proof that an\n"
  "                 independent exact checker validates: DIR/proofs/row_<index>.vnnlib (the\n"
  "                 row's property, as --export-vnnlib writes it) and row_<index>.proof\n"
  "                 (as verify --proof, docs/proof-format.md); the sample's \"proof\" names\n"
  "                 them (or says why none was found).  Re-check every one with\n"
  "                 'cerbere check NET DIR/certificates.json'.  Dense ReLU nets only; not\n"
  "                 with --box, --eps-per-feature, --target, --mean/--std\n"
  "  --export-vnnlib DIR  write DIR/row_<index>.vnnlib for every row left unknown: the\n"
  "                 row's property for another verifier (the box of S rounded outward,\n"
  "                 with the clip box; Y_j >= Y_label for each j); for L2/L1 the box is\n"
  "                 the ball's bounding box (unsat there proves the row, sat does not\n"
  "                 refute it)\n"
  "  --max-memory M cap the analysis' own arrays at M MiB (default: the machine's\n"
  "                 RAM): past it, error 'memory limit of M MiB reached', exit 5\n"
  "  --threads N    OpenMP threads over samples (default: all cores)\n"
  "  --shard I/N    certify only the I-th, (I+N)-th, (I+2N)-th... selected rows (I is\n"
  "                 0-based: 0 <= I < N, as SLURM_ARRAY_TASK_ID with --array=0-(N-1));\n"
  "                 the settings record the shard, each shard writes its own --out DIR,\n"
  "                 and `cerbere merge DIR... --out ALL` joins them (docs/cluster.md)\n"
  "  mpirun -np P cerbere-mpi certify ...  the MPI build shares the rows between P\n"
  "                 processes (rank 0 deals them and writes the files; --threads per\n"
  "                 rank); the results equal a single run's (docs/cluster.md)\n"
  "  --resume       continue the interrupted run in DIR (same settings), skipping\n"
  "                 the samples already in DIR/progress.jsonl\n"
  "  --out DIR      write DIR/report.json and DIR/report.html (the certification\n"
  "                 report, docs/report-schema.md) and DIR/certificates.json: {command, version, net, data,\n"
  "                 settings, summary, samples: [{index, label, pred, verdict,\n"
  "                 decided_by, reason, margin_lb, counterexample, counterexample_logits,\n"
  "                 counterexample_logits_real (exact or enclosed), counterexample_class,\n"
  "                 certified_radius, attack_radius, time_ms, method_ms}]}\n"
  "  --json OUT     also write the same JSON to OUT\n"
  "  --quiet        no per-sample lines, no progress bar\n"
  "\n"
  "exit codes: 0 every sample verified, 10 some falsified, 11 none falsified but\n"
  "some unknown, 2 usage error, 3 input error, 4 internal error, 5 --max-memory\n"
  "reached, 130 interrupted.\n";

static volatile int g_stop;
static void on_sigint(int sig) { (void)sig; g_stop = 1; }

/* --methods: a comma-separated list of cascade methods.  "clean" may be
   named but always runs; a list naming no other method is refused. */
static int parse_methods(const char *v, unsigned *m)
{
  char buf[256], *save = NULL;
  *m = 1u << CM_CLEAN;
  if (strlen(v) >= sizeof buf) return report_usage("certify", "--methods list too long: '%s'", v);
  strcpy(buf, v);
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    int k;
    for (k = CM_CLEAN; k < CM_COUNT; k++) if (!strcmp(t, cb_cm_name[k])) break;
    if (k == CM_COUNT) return report_usage("certify", "unknown method '%s' (attack, lipschitz, ibp, crown-ibp, crown, local-lipschitz, alpha-crown, strong-attack, bab)", t);
    *m |= 1u << k;
  }
  if (*m == 1u << CM_CLEAN)
    return report_usage("certify", "--methods '%s' names no method besides clean, which always runs (attack, lipschitz, ibp, crown-ibp, crown, local-lipschitz, alpha-crown, strong-attack, bab)", v);
  return 0;
}

/* --shard I/N: 0 <= I < N, N at most a million. */
static int parse_shard(const char *v, long *i, long *n)
{
  char *e, *f;
  *i = strtol(v, &e, 10);
  if (e == v || *e != '/' || !(e[1] >= '0' && e[1] <= '9')) goto bad;
  *n = strtol(e + 1, &f, 10);
  if (*f || *n < 1 || *n > 1000000 || *i < 0 || *i >= *n) goto bad;
  return 0;
bad:
  return report_usage("certify", "--shard wants I/N with 0 <= I < N (I is 0-based, like SLURM_ARRAY_TASK_ID with --array=0-(N-1)), not '%s'", v);
}

static int parse(int argc, char **argv, certify_opts *o)
{
  int have_norm = 0, have_eps = 0;
  memset(o, 0, sizeof *o);
  cert_opt_init(&o->co);
  o->r1 = -1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage, stdout); return -1; }
    if (!strcmp(a, "--quiet")) { o->quiet = 1; continue; }
    if (!strcmp(a, "--radius")) { o->co.radius = 1; continue; }
    if (!strcmp(a, "--regression")) { o->co.regression = 1; continue; }
    if (!strcmp(a, "--resume")) { o->resume = 1; continue; }
    if (!strcmp(a, "--proof")) { o->proof = 1; continue; }
    if (a[0] == '-' && a[1] == '-' && !v) return report_usage("certify", "%s needs a value", a);
    if (!strcmp(a, "--data")) o->data = v;
    else if (!strcmp(a, "--out")) o->out = v;
    else if (!strcmp(a, "--json")) o->json = v;
    else if (!strcmp(a, "--norm")) { if (arg_norm("certify", v, &o->co.norm)) return EXIT_USAGE; have_norm = 1; }
    else if (!strcmp(a, "--eps")) { if (arg_eps("certify", "--eps", v, &o->co.eps)) return EXIT_USAGE; have_eps = 1; }
    else if (!strcmp(a, "--tol")) { if (arg_eps("certify", "--tol", v, &o->co.tol)) return EXIT_USAGE; o->have_tol = 1; }
    else if (!strcmp(a, "--timeout")) { if (arg_eps("certify", "--timeout", v, &o->co.timeout)) return EXIT_USAGE; }
    else if (!strcmp(a, "--lip-nodes")) {
      char *e;
      long nn = strtol(v, &e, 10);
      if (e == v || *e || nn < 0 || nn > 100000000) return report_usage("certify", "--lip-nodes wants 0..100000000, not '%s'", v);
      o->co.lip_nodes = nn;
    }
    else if (!strcmp(a, "--bab-timeout")) { if (arg_eps("certify", "--bab-timeout", v, &o->co.bab_timeout)) return EXIT_USAGE; }
    else if (!strcmp(a, "--export-vnnlib")) o->export_dir = v;
    else if (!strcmp(a, "--precision")) {
      if (strcmp(v, "single") && strcmp(v, "double")) return report_usage("certify", "unknown precision '%s' (single or double)", v);
      o->co.single = !strcmp(v, "single");
    }
    else if (!strcmp(a, "--max-memory")) { int rc = report_limit_option("certify", a, v); if (rc) return rc; }
    else if (!strcmp(a, "--clip")) { if (arg_clip("certify", v, &o->co.clip_lo, &o->co.clip_hi)) return EXIT_USAGE; o->co.clip = 1; }
    else if (!strcmp(a, "--rows")) { if (arg_rows("certify", v, &o->r0, &o->r1)) return EXIT_USAGE; }
    else if (!strcmp(a, "--shard")) { if (parse_shard(v, &o->shard_i, &o->shard_n)) return EXIT_USAGE; }
    else if (!strcmp(a, "--methods")) { if (parse_methods(v, &o->co.methods)) return EXIT_USAGE; o->co.methods_named = 1; }
    else if (!strcmp(a, "--threads")) {
      char *e;
      long t = strtol(v, &e, 10);
      if (e == v || *e || t < 1 || t > 1024) return report_usage("certify", "--threads wants a number from 1 to 1024, not '%s'", v);
      o->threads = (int)t;
    } else if (a[0] == '-') return report_usage("certify", "unknown option %s", a);
    else if (o->net) return report_usage("certify", "unexpected argument %s", a);
    else { o->net = a; continue; }
    i++;
  }
  if (!o->net) return report_usage("certify", "%s", "missing NET");
  if (!o->data) return report_usage("certify", "%s", "missing --data FILE");
  if (!have_norm) return report_usage("certify", "%s", "missing --norm inf|2|1");
  if (!have_eps) return report_usage("certify", "%s", "missing --eps E");
  if (!o->out && !o->json) return report_usage("certify", "%s", "missing --out DIR");
  if (o->co.regression != o->have_tol) return report_usage("certify", "%s", "--regression and --tol T go together");
  if (o->co.regression && o->export_dir) return report_usage("certify", "%s", "--export-vnnlib writes class-margin properties, not --regression ones");
  if (o->proof && !o->out) return report_usage("certify", "%s", "--proof writes its files under --out DIR");
  if (o->proof && o->co.regression) return report_usage("certify", "%s", "--proof proves class margins, not --regression rows");
  if (!(o->co.bab_timeout > 0)) {   /* --bab-timeout 0: no bab step */
    o->co.methods &= ~(1u << CM_BAB);
    if (o->co.methods == 1u << CM_CLEAN) return report_usage("certify", "%s", "--methods names only bab, which --bab-timeout 0 turns off");
  }
  return 0;
}

/* The run's state the row callbacks share (batch_run). */
typedef struct run_ctx {
  certify_run *R;
} run_ctx;

/* Per thread: the result of its current row. */
static void *thread_result(void *ctx, cb_error *err)
{
  cb_cert_result *r = cb_calloc(1, sizeof *r);
  (void)ctx;
  if (!r) cb_error_set(err, CB_ENOMEM, "out of memory");
  return r;
}

static void thread_result_free(void *state) { cert_result_free(state); cb_free(state); }

static int row_certify(void *ctx, void *state, size_t k, cb_error *err)
{
  certify_run *R = ((run_ctx *)ctx)->R;
  cb_cert_result *r = state;
  if (R->done[k] || !certify_in_run(R, k)) return BATCH_SKIP;   /* resumed from progress.jsonl, or another shard's */
  cert_result_free(r);
  if (cert_result_init(r, R->b.net) != CB_OK) return cb_error_set(err, CB_ENOMEM, "out of memory");
  return certify_sample(R->c, batch_x(&R->b, k), batch_label(&R->b, k), r, &g_stop, err);
}

/* A finished row, under batch_run's lock. */
static void row_done(void *ctx, void *state, size_t k)
{
  certify_run *R = ((run_ctx *)ctx)->R;
  certify_record(R, k, certify_sample_json(R, k, state));
}

static int run(const certify_opts *o, cb_error *err)
{
  certify_run R;
  int rc, threads = o->threads ? o->threads : omp_get_max_threads();
  if ((rc = certify_setup(&R, o, 1, threads, err)) != CB_OK) goto out;
  g_stop = 0;
  signal(SIGINT, on_sigint);
  {
    run_ctx rx = {&R};
    batch_loop L = {.row = row_certify, .done = row_done, .thread_new = thread_result, .thread_free = thread_result_free,
                    .ctx = &rx, .threads = threads, .stop = &g_stop};
    rc = batch_run(&R.b, &L, err);
  }
  signal(SIGINT, SIG_DFL);
  if (R.pf) { fclose(R.pf); R.pf = NULL; }
  if (rc != CB_OK) goto out;
  if (g_stop) {
    fprintf(stderr, "\ncerbere certify: interrupted: %d of %zu samples done%s\n", R.ndone, R.n_todo,
            o->out ? "; rerun with --resume to continue" : "");
    rc = EXIT_INTERRUPTED;
    goto out;
  }
  rc = certify_finish(&R, err);
out:
  certify_close(&R);
  return rc;
}

int cmd_certify(int argc, char **argv)
{
  certify_opts o;
  cb_error err = {0};
  int rc, quiet = mpi_launched() && mpi_env_rank() > 0, saved[2] = {-1, -1};
  if (quiet) {   /* under mpirun, rank 0 alone prints a usage error or --help */
    int dn = open("/dev/null", O_WRONLY);
    saved[0] = dup(1); saved[1] = dup(2);
    if (dn >= 0) { dup2(dn, 1); dup2(dn, 2); close(dn); }
  }
  rc = parse(argc, argv, &o);
  if (quiet) {
    fflush(stdout); fflush(stderr);
    if (saved[0] >= 0) { dup2(saved[0], 1); close(saved[0]); }
    if (saved[1] >= 0) { dup2(saved[1], 2); close(saved[1]); }
  }
  if (rc != 0) return rc < 0 ? 0 : rc;
  if (mpi_launched()) return mpi_certify(&o);   /* under mpirun: certify_mpi.c (or certify_nompi.c: refused) */
  rc = run(&o, &err);
  if (rc == 0 || rc == EXIT_FALSIFIED || rc == EXIT_UNKNOWN || rc == EXIT_INTERRUPTED) return rc;
  return report_fail(&err);
}
