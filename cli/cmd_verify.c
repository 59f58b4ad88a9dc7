/*
** `cerbere verify NET PROP.vnnlib`: complete verification of a VNNLIB
** property (verify.h), printing and writing the VNN-COMP result format:
** first line sat / unsat / timeout / unknown / error, then for sat the
** checked witness ((X_0 v) ... (Y_0 v) ...).
**
** The hard timeout: the search stops itself at --timeout; a SIGALRM set one
** second later is a backstop for a single step that runs long (a load, one
** huge bound): its handler writes "timeout" (async-signal-safe calls only:
** open, write, rename, _exit) so an answer line always appears.  With
** --cpu-time the backstop is a CPU-time timer (SIGPROF), as the search's clock.
** It is disarmed once the answer is written: --proof's search that follows
** has its own CPU budget (proof_emit) and must not turn unsat into timeout.
*/
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <cjson/cJSON.h>
#include "cmd.h"
#include "exact.h"
#include "report.h"
#include "verify.h"
#include "vfy_dist.h"
#include "proof_emit.h"

static const char *usage =
  "usage: cerbere verify NET PROP.vnnlib [--timeout S] [--out RESULT] [--json OUT] [--proof FILE [--proof-timeout S]]\n"
  "                      [--threads N] [--max-memory MB] [--relu-split N] [--relu-states K]\n"
  "                      [--milp-leaf K] [--method crown|crown-ibp|ibp|fwd] [--beta-bab 0|1] [--beta-iters K]\n"
  "                      [--beta-fsb K] [--cpu-time]\n"
  "                      [--input-space raw|normalized]\n"
  "\n"
  "Decides the VNNLIB property PROP on NET (the VNN-COMP subset: declare-const\n"
  "X_i/Y_j Real, assert with <= >= < > and or, linear terms + - * over X and Y;\n"
  "the asserts describe a counterexample).  Prints one answer line:\n"
  "  sat      a counterexample exists; the witness follows as ((X_0 v) ... (Y_0 v) ...).\n"
  "           It was replayed through the double forward pass and checked against the\n"
  "           input box exactly and against the output constraint before printing.\n"
  "           When the input box holds no double (an input pinned to a decimal such as\n"
  "           0.1), the witness is the rational point at the exact decimals, checked in\n"
  "           real arithmetic; its X values are those decimals (Y exact when short,\n"
  "           else the nearest double; --json has them exactly), and a last line\n"
  "           \"; rational witness ...\" says a floating-point replay rounds them.\n"
  "  unsat    proved: no input in the box meets the output constraint (sound bounds\n"
  "           on every subdomain of a branch and bound that splits the input box and,\n"
  "           inside a box, the ReLUs of unknown sign; see --relu-split).\n"
  "  timeout  --timeout reached first.\n"
  "  unknown  the search could not decide (memory cap, a subdomain too small to split\n"
  "           that is not refuted, a NaN in a bound, the point at the exact decimals of a\n"
  "           box that holds no double failing the real-arithmetic check).\n"
  "  error    an internal error during the search.\n"
  "A second line on stdout gives the reason, node count and time.\n"
  "\n"
  "  --timeout S      wall-clock limit in seconds (default 300); an answer is always printed\n"
  "  --out RESULT     also write the answer (and witness) to RESULT, atomically\n"
  "  --proof FILE     on unsat only (an old FILE is removed before the search, with the\n"
  "                   FILE.tmpPID.K files of killed runs), also write a proof that\n"
  "                   'cerbere check NET PROP FILE' validates in exact arithmetic without\n"
  "                   trusting this search (docs/proof-format.md): a tree of input splits\n"
  "                   searched again after the answer, each leaf refuted by CROWN and\n"
  "                   confirmed exactly; within --timeout S (or --proof-timeout S) more\n"
  "                   seconds of CPU.  Dense ReLU nets\n"
  "                   (AFFINE, SCALE, RESHAPE, ReLU) only; the proof records --input-space;\n"
  "                   '# proof:' lines say what was written and the one command that\n"
  "                   re-checks it; a proof that cannot be made is an error (exit 3 or 5)\n"
  "  --proof-timeout S  with --proof: the proof search's CPU budget in seconds instead\n"
  "                   of --timeout's (ACAS Xu 1_1 prop 5 needs ~311 s; default --timeout)\n"
  "  --json OUT       write {command, net, prop, answer, reason, nodes, relu_states, depth,\n"
  "                   beta_bab {subdomains, max_queue, batch (subdomains a pass: 1),\n"
  "                   subdomains_per_bound_s, bound_s, branch_s, attack_s} when\n"
  "                   the beta-CROWN search ran,\n"
  "                   time_s, x, y, y_real, y_real_exact, profile}; a rational witness adds\n"
  "                   x_rational: true and x_exact (the decimals; x holds the nearest doubles);\n"
  "                   profile: subdomains_bounded (input-split subdomains + ReLU-search\n"
  "                   states, beta-CROWN's included), subdomains_per_s (over time_s),\n"
  "                   batches, batch_mean, batch_max (subdomains bounded together by the\n"
  "                   input-splitting loop), seconds in bounding, branching, LPs, MILP leaves and attacks\n"
  "                   (bound_time_s, branch_time_s, lp_time_s, milp_time_s, attack_time_s;\n"
  "                   summed over threads), LP\n"
  "                   calls, MILP leaf calls / phase-tree nodes / regions closed / witnesses\n"
  "  --input-space S  NNet files whose header normalises inputs: raw (default) reads the\n"
  "                   VNNLIB box in raw units, the normalisation being the net's first node;\n"
  "                   normalized reads it as already normalised (the normalisation is not\n"
  "                   applied; as the ONNX exports of ACAS Xu expect). A '# warning:' line\n"
  "                   and --json's warnings say which; refused for other networks\n"
  "  --milp-leaf K    inputs of > 64 values with --beta-bab 0: decide a ReLU-search region\n"
  "                   with <= K ReLUs of\n"
  "                   unknown sign by the MILP leaf (exact, each closed node proved\n"
  "                   soundly, witnesses checked exactly); default 0 = off (on MNIST\n"
  "                   nets a leaf node costs ~25 search states and saved fewer)\n"
  "  --threads N      threads over subdomains (default: OpenMP's default); with >= 2 and an\n"
  "                   input of <= 64 values, input splitting alone races the ReLU search\n"
  "                   for a twentieth of the timeout (>= 5 s), then the ReLU search takes\n"
  "                   every thread\n"
  "  --max-memory MB  cap on queued subdomains (default 2048); reaching it gives unknown\n"
  "  --relu-split N   inputs of <= 64 values: a box whose CROWN bounds leave at most N\n"
  "                   ReLUs of unknown sign is decided by splitting those ReLUs (GLPK LP\n"
  "                   on each split region, re-checked by a CROWN bound); larger inputs:\n"
  "                   ReLU splitting from the start; 0 = input splitting only (default 150)\n"
  "  --cpu-time       with --threads 1: --timeout and every deadline of the search count\n"
  "                   the process's CPU seconds, not wall-clock ones (benchmarks on a\n"
  "                   loaded machine: the same search whatever the load)\n"
  "  --relu-states K  states one such search may take (inputs of <= 64 values) before\n"
  "                   the box goes back to input splitting (default 10000)\n"
  "  --beta-bab 0|1   inputs of > 64 values: 1 (default) splits ReLUs by beta-CROWN branch\n"
  "                   and bound (split constraints as optimised Lagrangian terms in an\n"
  "                   alpha-CROWN bound, best-first queue, FSB branching (--beta-fsb),\n"
  "                   PGD from the bounds' minimisers, a long APGD past half of the\n"
  "                   timeout); 0: the\n"
  "                   depth-first ReLU search with GLPK as for small inputs\n"
  "  --beta-iters K   alpha/beta optimisation steps per beta-CROWN subdomain (default 10;\n"
  "                   the root takes alpha-CROWN's 20 or 40, intermediate bounds included)\n"
  "  --beta-fsb K     beta-CROWN branching: filtered smart branching, the split whose two\n"
  "                   children's cheap CROWN bounds gain most among the K best BaBSR\n"
  "                   candidates of all layers and the best of the first layer with\n"
  "                   unknown signs (default 8, at most 32); 0: that first-layer one only\n"
  "  --method M       intermediate bounds per subdomain: crown (default), crown-ibp, ibp,\n"
  "                   or fwd (forward linear bounds: cheaper per subdomain but looser;\n"
  "                   dense networks with at most 64 inputs)\n"
  "\n"
  "Under mpirun (build/cerbere-mpi, built when mpicc is present): mpirun -np P\n"
  "build/cerbere-mpi verify ... shares the input-splitting frontier across the P\n"
  "ranks (--threads each); rank 0 prints the one answer, with a '# mpi:' line, and\n"
  "--json adds \"mpi\" {ranks, messages, bytes, subdomains_moved, per_rank, ...}; inputs of\n"
  "more than 64 values run on rank 0 alone.\n"
  "\n"
  "exit codes: 0 an answer was printed (including timeout and unknown), 2 usage error,\n"
  "3 input error (network, VNNLIB file, sizes that do not match; nothing is written),\n"
  "4 internal error (the answer line is 'error').\n";

typedef struct vopts {
  const char *net, *prop, *out, *json, *proof;
  double proof_timeout;   /* --proof-timeout: the proof search's CPU budget (0: --timeout) */
  int normalised;         /* --input-space normalized: an NNet's header normalisation is not applied */
  vfy_opts v;
} vopts;

/* Backstop state for the SIGALRM handler (set before arming). */
static char alarm_tmp[4096], alarm_dst[4096];

static void on_alarm(int sig)
{
  static const char msg[] = "timeout\n";
  (void)sig;
  if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0) _exit(0);
  if (alarm_dst[0]) {
    int fd = open(alarm_tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      if (write(fd, msg, sizeof msg - 1) == (ssize_t)(sizeof msg - 1)) rename(alarm_tmp, alarm_dst);
      close(fd);
    }
  }
  _exit(0);
}

static void arm_alarm(const char *out, double timeout, int cpu)
{
  struct sigaction sa;
  struct itimerval it;
  if (out) {
    snprintf(alarm_tmp, sizeof alarm_tmp, "%s.alarm.tmp", out);
    snprintf(alarm_dst, sizeof alarm_dst, "%s", out);
  }
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  if (!cpu) {
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)ceil(timeout) + 1);
    return;
  }
  sigaction(SIGPROF, &sa, NULL);   /* --cpu-time: the backstop counts CPU time too */
  memset(&it, 0, sizeof it);
  it.it_value.tv_sec = (time_t)ceil(timeout) + 1;
  setitimer(ITIMER_PROF, &it, NULL);
}

static void disarm_alarm(void)
{
  struct itimerval it;
  memset(&it, 0, sizeof it);
  alarm(0);
  setitimer(ITIMER_PROF, &it, NULL);
}

static int same_file(const char *a, const char *b);

static int parse(int argc, char **argv, vopts *o)
{
  vfy_opts_init(&o->v);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    char *e;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage, stdout); return 1; }
    if (!strcmp(a, "--cpu-time")) o->v.cpu_clock = 1;
    else if (!strcmp(a, "--out") || !strcmp(a, "--json") || !strcmp(a, "--proof")) {
      if (++i >= argc) return report_usage("verify", "%s needs a file", a);
      if (a[2] == 'o') o->out = argv[i]; else if (a[2] == 'j') o->json = argv[i]; else o->proof = argv[i];
    } else if (!strcmp(a, "--timeout") || !strcmp(a, "--max-memory") || !strcmp(a, "--proof-timeout")) {
      double v;
      if (++i >= argc) return report_usage("verify", "%s needs a number", a);
      v = strtod(argv[i], &e);
      if (e == argv[i] || *e || !isfinite(v) || v <= 0 || v > 1e7) return report_usage("verify", "%s must be a finite number > 0", a);
      if (a[2] == 't') o->v.timeout = v; else if (a[2] == 'p') o->proof_timeout = v; else o->v.max_memory_mb = v;
    } else if (!strcmp(a, "--beta-fsb") || !strcmp(a, "--milp-leaf")) {
      long v, hi = a[2] == 'b' ? 32 : 64;
      if (++i >= argc) return report_usage("verify", "%s needs a number", a);
      v = strtol(argv[i], &e, 10);
      if (e == argv[i] || *e || v < 0 || v > hi)
        return report_usage("verify", hi == 32 ? "%s must be an integer in 0..32" : "%s must be an integer in 0..64", a);
      if (a[2] == 'b') o->v.beta_fsb = (int)v; else o->v.milp_leaf = (int)v;
    } else if (!strcmp(a, "--beta-bab") || !strcmp(a, "--beta-iters")) {
      long v, hi = a[7] == 'b' ? 1 : 10000, lo = a[7] == 'b' ? 0 : 1;
      if (++i >= argc) return report_usage("verify", "%s needs a number", a);
      v = strtol(argv[i], &e, 10);
      if (e == argv[i] || *e || v < lo || v > hi)
        return report_usage("verify", a[7] == 'b' ? "%s must be 0 or 1" : "%s must be an integer in 1..10000", a);
      if (a[7] == 'b') o->v.beta_bab = (int)v; else o->v.beta_iters = (int)v;
    } else if (!strcmp(a, "--input-space")) {
      if (++i >= argc) return report_usage("verify", "%s needs raw or normalized", a);
      if (!strcmp(argv[i], "raw")) o->normalised = 0;
      else if (!strcmp(argv[i], "normalized") || !strcmp(argv[i], "normalised")) o->normalised = 1;
      else return report_usage("verify", "--input-space must be raw or normalized, not '%s'", argv[i]);
    } else if (!strcmp(a, "--threads") || !strcmp(a, "--relu-split") || !strcmp(a, "--relu-states")) {
      long v, lo = a[2] == 't' ? 1 : 0, hi = a[2] == 't' ? 1024 : 1000000000;
      if (++i >= argc) return report_usage("verify", "%s needs a number", a);
      v = strtol(argv[i], &e, 10);
      if (e == argv[i] || *e || v < lo || v > hi)
        return report_usage("verify", a[2] == 't' ? "%s must be an integer in 1..1024" : "%s must be an integer in 0..1000000000", a);
      if (a[2] == 't') o->v.threads = (int)v;
      else if (!strcmp(a, "--relu-split")) o->v.relu_leaf = (int)v;
      else o->v.relu_states = v;
    } else if (!strcmp(a, "--method")) {
      if (++i >= argc) return report_usage("verify", "%s needs a value", a);
      cb_method m;
      if (!bounds_method_parse(argv[i], &m) || m == CB_ALPHA_CROWN) return report_usage("verify", "unknown method '%s'", argv[i]);
      if (m == CB_FWDLIN) o->v.fwd = 1; else o->v.method = m;
    } else if (a[0] == '-') return report_usage("verify", "unknown option %s", a);
    else if (!o->net) o->net = a;
    else if (!o->prop) o->prop = a;
    else return report_usage("verify", "unexpected argument %s", a);
  }
  if (o->v.cpu_clock && o->v.threads != 1) return report_usage("verify", "%s needs --threads 1", "--cpu-time");
  if (o->proof_timeout > 0 && !o->proof) return report_usage("verify", "%s needs --proof", "--proof-timeout");
  if (!o->net) return report_usage("verify", "%s", "missing NET");
  if (!o->prop) return report_usage("verify", "%s", "missing PROP.vnnlib");
  if (o->proof) {   /* the old proof is removed before the search: never --proof over an input or another output */
    const char *other[4] = {o->net, o->prop, o->out, o->json};
    for (int k = 0; k < 4; k++)
      if (other[k] && same_file(o->proof, other[k]))
        return report_usage("verify", "--proof names the same file as %s", other[k]);
  }
  return 0;
}

/* 1 if paths a and b name the same file (equal strings, or one inode). */
static int same_file(const char *a, const char *b)
{
  struct stat sa, sb;
  if (!strcmp(a, b)) return 1;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* 1 if name is base + ".tmp" + PID + "." + K (proof_emit's temporary names);
   the PID in *pid. */
static int proof_tmp_name(const char *name, const char *base, long *pid)
{
  size_t bl = strlen(base);
  char *end;
  if (strncmp(name, base, bl) || strncmp(name + bl, ".tmp", 4) || !isdigit((unsigned char)name[bl + 4])) return 0;
  *pid = strtol(name + bl + 4, &end, 10);
  if (*end != '.' || !isdigit((unsigned char)end[1])) return 0;
  strtol(end + 1, &end, 10);
  return *end == 0;
}

/*
** A stale proof never sits next to a new answer (review11's hazards 3, 4):
** before the search, the old PROOF is removed (unsat writes a new one
** through PROOF.tmpPID.K and a rename; sat, unknown, timeout, an error or
** a kill leave none), and so are PROOF.tmpPID.K files of proof searches that
** died (SIGKILL cannot be caught): PID no live process (kill(PID, 0): ESRCH).
** A live PID's file is kept (another verify writing the same proof, or a
** reused PID: then it stays until a later run).  -1 (errno set) if the old
** proof exists and cannot be removed.
*/
static int clear_proof(const char *proof)
{
  char dir[4096], path[8192];
  const char *base = strrchr(proof, '/');
  DIR *d;
  struct dirent *e;
  if (unlink(proof) != 0 && errno != ENOENT) return -1;
  if (base) { snprintf(dir, sizeof dir, "%.*s", (int)(base - proof), proof); base++; }
  else { snprintf(dir, sizeof dir, "."); base = proof; }
  if (!(d = opendir(dir[0] ? dir : "/"))) return 0;
  while ((e = readdir(d))) {
    long pid;
    if (!proof_tmp_name(e->d_name, base, &pid) || pid <= 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  return 0;
}

/* The witness's value i (inputs then outputs) as text: %.17g of the double,
   or, for a rational witness, the exact decimal (an output enclosure
   "[lo, hi]" prints as its midpoint: a value must be one number). */
static void witness_value(const vfy_result *r, size_t nx, size_t i, char *buf, size_t n)
{
  const char *t = r->x_text ? r->x_text[i] : NULL;
  if (t && t[0] != '[' && !strchr(t, '/')) snprintf(buf, n, "%s", t);
  else snprintf(buf, n, "%.17g", i < nx ? r->x[i] : r->y[i - nx]);
}

/* The VNN-COMP result text (answer line, witness for sat); caller frees.  A
   rational witness (inputs pinned to decimals no double equals) ends with a
   comment line saying so: replaying it in floating point rounds it. */
static char *result_text(const vfy_result *r, size_t nx, size_t ny)
{
  size_t cap = 256 + (nx + ny) * 48, n;
  char *s, v[4096];
  for (size_t i = 0; r->answer == V_FALSIFIED && r->x_text && i < nx + ny; i++) cap += strlen(r->x_text[i]);
  if (!(s = cb_alloc(cap))) return NULL;
  n = (size_t)snprintf(s, cap, "%s\n", cb_verdict_table[r->answer].vnnlib);
  if (r->answer != V_FALSIFIED) return s;
  for (size_t i = 0; i < nx + ny; i++) {
    witness_value(r, nx, i, v, sizeof v);
    n += (size_t)snprintf(s + n, cap - n, "%s(%c_%zu %s)%s\n", i ? " " : "(", i < nx ? 'X' : 'Y',
                          i < nx ? i : i - nx, v, i + 1 == nx + ny ? ")" : "");
  }
  if (r->rational)
    snprintf(s + n, cap - n, "; rational witness: the X values are the exact VNNLIB decimals, a point no double "
             "equals, checked in real arithmetic; each Y value is exact, or the nearest double when its exact "
             "value is too long or enclosed (--json: y_real); a floating-point replay rounds the inputs\n");
  return s;
}

static int write_text(const char *path, const char *text, cb_error *err)
{
  char tmp[4096];
  FILE *f;
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (!(f = fopen(tmp, "w"))) return cb_error_set(err, CB_EIO, "%s: cannot write", tmp);
  if (fputs(text, f) < 0 || fclose(f)) { remove(tmp); return cb_error_set(err, CB_EIO, "%s: write failed", tmp); }
  if (rename(tmp, path)) { remove(tmp); return cb_error_set(err, CB_EIO, "%s: cannot rename into place", path); }
  return CB_OK;
}

/* The witness's real-arithmetic outputs: "y_real" (exact decimals, or
   "[lo, hi]" enclosures for smooth or rounded nets) and "y_real_exact". */
static void add_real_outputs(cJSON *root, const cb_net *net, const double *x)
{
  cb_exact *E = NULL;
  cb_error err = {0};
  cJSON *a;
  char buf[512];
  if (exact_eval(net, x, &E, &err) != CB_OK || !(a = cJSON_AddArrayToObject(root, "y_real"))) { exact_free(E); return; }
  for (size_t j = 0; j < exact_n_out(E); j++) {
    exact_output_text(E, j, buf, sizeof buf);
    cJSON_AddItemToArray(a, cJSON_CreateString(buf));
  }
  cJSON_AddBoolToObject(root, "y_real_exact", exact_is_point(E));
  exact_free(E);
}

/* A rational witness: "x_rational": true, "x_exact" (the exact decimals;
   "x" holds the nearest doubles), "y_real" and "y_real_exact" as above. */
static void add_rational_witness(cJSON *root, const vfy_result *r, size_t nx, size_t ny)
{
  cJSON *xa = cJSON_AddArrayToObject(root, "x_exact"), *ya = cJSON_AddArrayToObject(root, "y_real");
  int point = 1;
  cJSON_AddBoolToObject(root, "x_rational", 1);
  for (size_t i = 0; xa && i < nx; i++) cJSON_AddItemToArray(xa, cJSON_CreateString(r->x_text[i]));
  for (size_t j = 0; ya && j < ny; j++) {
    cJSON_AddItemToArray(ya, cJSON_CreateString(r->y_text[j]));
    if (r->y_text[j][0] == '[') point = 0;
  }
  cJSON_AddBoolToObject(root, "y_real_exact", point);
}

/* "profile": where the search's time went (vfy_prof, verify.h). */
static void add_profile(cJSON *root, const vfy_result *r)
{
  const vfy_prof *p = &r->prof;
  long doms = r->nodes + r->relu_states;   /* relu_states counts the beta-CROWN subdomains too */
  cJSON *j = cJSON_AddObjectToObject(root, "profile");
  if (!j) return;
  cJSON_AddNumberToObject(j, "subdomains_bounded", (double)doms);
  cJSON_AddNumberToObject(j, "subdomains_per_s", r->seconds > 0 ? (double)doms / r->seconds : 0);
  cJSON_AddNumberToObject(j, "batches", (double)p->batches);
  cJSON_AddNumberToObject(j, "batch_mean", p->batches ? (double)p->batch_items / (double)p->batches : 0);
  cJSON_AddNumberToObject(j, "batch_max", (double)p->batch_max);
  cJSON_AddNumberToObject(j, "bound_time_s", p->bound_s);
  cJSON_AddNumberToObject(j, "branch_time_s", p->branch_s);
  cJSON_AddNumberToObject(j, "lp_time_s", p->lp_s);
  cJSON_AddNumberToObject(j, "lp_calls", (double)p->lp_calls);
  cJSON_AddNumberToObject(j, "milp_time_s", p->milp_s);
  cJSON_AddNumberToObject(j, "milp_calls", (double)p->milp_calls);
  cJSON_AddNumberToObject(j, "milp_nodes", (double)p->milp_nodes);
  cJSON_AddNumberToObject(j, "milp_closed", (double)p->milp_closed);
  cJSON_AddNumberToObject(j, "milp_sat", (double)p->milp_sat);
  cJSON_AddNumberToObject(j, "attack_time_s", p->attack_s);
}

/* "mpi": the run's ranks and messages (build/cerbere-mpi under mpirun). */
static void add_dist(cJSON *root, const vfy_dist_info *d)
{
  cJSON *j = cJSON_AddObjectToObject(root, "mpi");
  if (!j) return;
  cJSON_AddNumberToObject(j, "ranks", d->ranks);
  cJSON_AddNumberToObject(j, "messages", (double)d->msgs);
  cJSON_AddNumberToObject(j, "bytes", (double)d->bytes);
  cJSON_AddNumberToObject(j, "subdomains_moved", (double)d->items_sent);
  cJSON_AddNumberToObject(j, "steal_requests", (double)d->steals);
  cJSON_AddNumberToObject(j, "subdomains_max_rank", (double)d->nodes_max);
  cJSON_AddNumberToObject(j, "subdomains_min_rank", (double)d->nodes_min);
  cJSON_AddNumberToObject(j, "idle_s", d->idle_s);
  cJSON_AddNumberToObject(j, "cpu_max_rank_s", d->cpu_max_s);
  cJSON_AddNumberToObject(j, "cpu_min_rank_s", d->cpu_min_s);
  cJSON_AddNumberToObject(j, "ranks_counted", d->stats_ranks);
  if (d->note[0]) cJSON_AddStringToObject(j, "note", d->note);
  if (d->per_n > 0) {   /* each rank's own counts (the first VFY_DIST_PER ranks) */
    cJSON *a = cJSON_AddArrayToObject(j, "per_rank");
    for (int i = 0; a && i < d->per_n; i++) {
      cJSON *e = cJSON_CreateObject();
      if (!e) break;
      cJSON_AddNumberToObject(e, "subdomains", (double)d->per[i].nodes);
      cJSON_AddNumberToObject(e, "relu_states", (double)d->per[i].states);
      cJSON_AddNumberToObject(e, "race_subdomains", (double)d->per[i].race_nodes);
      cJSON_AddNumberToObject(e, "messages", (double)d->per[i].msgs);
      cJSON_AddNumberToObject(e, "bytes", (double)d->per[i].bytes);
      cJSON_AddNumberToObject(e, "busy_cpu_s", d->per[i].busy_cpu_s);
      cJSON_AddNumberToObject(e, "race_cpu_s", d->per[i].race_cpu_s);
      cJSON_AddNumberToObject(e, "idle_s", d->per[i].idle_s);
      cJSON_AddItemToArray(a, e);
    }
  }
}

static cJSON *result_json(const vopts *o, const cb_net *net, const vfy_result *r, const vfy_dist_info *d, size_t nx,
                          size_t ny)
{
  cJSON *root = cJSON_CreateObject();
  if (!root) return NULL;
  cJSON_AddStringToObject(root, "command", "verify");
  cJSON_AddStringToObject(root, "version", CB_VERSION);
  cJSON_AddStringToObject(root, "net", o->net);
  cJSON_AddStringToObject(root, "prop", o->prop);
  cJSON_AddStringToObject(root, "answer", cb_verdict_table[r->answer].vnnlib);
  cJSON_AddStringToObject(root, "reason", r->reason);
  cJSON_AddNumberToObject(root, "nodes", (double)r->nodes);
  cJSON_AddNumberToObject(root, "relu_states", (double)r->relu_states);
  cJSON_AddNumberToObject(root, "depth", r->depth);
  if (r->beta_doms) {   /* the beta-CROWN ReLU search ran (inputs of > 64 values) */
    cJSON *b = cJSON_AddObjectToObject(root, "beta_bab");
    cJSON_AddNumberToObject(b, "subdomains", (double)r->beta_doms);
    cJSON_AddNumberToObject(b, "max_queue", (double)r->beta_qmax);
    cJSON_AddNumberToObject(b, "batch", 1);   /* one subdomain a CROWN pass: not batched yet */
    cJSON_AddNumberToObject(b, "subdomains_per_bound_s", r->t_bound > 0 ? (double)r->beta_doms / r->t_bound : 0);
    cJSON_AddNumberToObject(b, "bound_s", r->t_bound);
    cJSON_AddNumberToObject(b, "branch_s", r->t_branch);
    cJSON_AddNumberToObject(b, "attack_s", r->t_attack);
  }
  cJSON_AddNumberToObject(root, "time_s", r->seconds);
  if (r->answer == V_FALSIFIED) {
    cJSON_AddItemToObject(root, "x", cJSON_CreateDoubleArray(r->x, (int)nx));
    cJSON_AddItemToObject(root, "y", cJSON_CreateDoubleArray(r->y, (int)ny));
    if (r->rational) add_rational_witness(root, r, nx, ny);
    else add_real_outputs(root, net, r->x);
  }
  cJSON_AddNumberToObject(root, "fp_only_refused", (double)r->fp_only);
  add_profile(root, r);
  if (d->ranks > 1) add_dist(root, d);
  {
    cJSON *w = cJSON_AddArrayToObject(root, "warnings");   /* the loader's: NNet normalisation, dropped Softmax */
    for (int i = 0; i < net->n_warn; i++) cJSON_AddItemToArray(w, cJSON_CreateString(net->warn[i]));
  }
  return root;
}

int cmd_verify(int argc, char **argv)
{
  vopts o = {0};
  cb_net *net = NULL;
  vnn_spec *spec = NULL;
  vfy_result r = {0};
  vfy_dist_info dist = {0};
  cb_error err = {0};
  cJSON *root = NULL;
  char *text = NULL;
  int rc = parse(argc, argv, &o), code = 0;
  if (rc) return rc == 1 ? 0 : rc;
  arm_alarm(o.out, o.v.timeout, o.v.cpu_clock);
  if ((rc = cb_net_load(o.net, &net, &err)) != CB_OK || (o.normalised && (rc = nnet_inputs_normalised(net, &err)) != CB_OK) ||
      (rc = vnn_parse(o.prop, &spec, &err)) != CB_OK ||
      (rc = vnn_check_sizes(spec, cb_net_input_size(net), cb_net_output_size(net), &err)) != CB_OK) {
    disarm_alarm();
    code = report_fail(&err);
    goto out;
  }
  if (o.proof && clear_proof(o.proof) != 0) {
    disarm_alarm();
    cb_error_set(&err, CB_EIO, "--proof %s: cannot remove the old proof: %s", o.proof, strerror(errno));
    code = report_fail(&err);
    goto out;
  }
  rc = vfy_dist_run(net, spec, &o.v, &r, &dist, &err);
  if (rc != CB_OK) { r.answer = V_ERROR; snprintf(r.reason, sizeof r.reason, "%.200s", err.msg); code = EXIT_INTERNAL; }
  if (dist.rank) goto out;   /* under mpirun only rank 0 answers */
  if (!(text = result_text(&r, spec->nx, spec->ny))) { cb_error_set(&err, CB_ENOMEM, "out of memory"); code = report_fail(&err); goto out; }
  disarm_alarm();   /* with --cpu-time the backstop is a CPU timer: alarm(0) alone left it armed (review11) */
  if (o.out && write_text(o.out, text, &err) != CB_OK) { code = report_fail(&err); goto out; }
  if (o.json) {
    if (!(root = result_json(&o, net, &r, &dist, spec->nx, spec->ny))) { cb_error_set(&err, CB_ENOMEM, "out of memory"); code = report_fail(&err); goto out; }
    if (report_write_json(o.json, root, &err) != CB_OK) { code = report_fail(&err); goto out; }
  }
  fputs(text, stdout);
  printf("# %s; %ld subdomains (%ld ReLU-split states), depth %d, %.3f s\n", r.reason, r.nodes, r.relu_states, r.depth, r.seconds);
  if (o.proof && r.answer == V_VERIFIED && code == 0) {
    proof_emit_stats ps;
    fflush(stdout);   /* the answer leaves now: a proof search killed from outside (a harness's timeout)
                         must not take the buffered verdict with it (review11) */
    disarm_alarm();   /* the answer is written: the proof search has its own CPU budget, and the backstop
                         must not overwrite the unsat verdict with `timeout` (it did on 1_1 prop 5) */
    if (proof_emit(net, spec, o.net, o.prop, o.proof, o.proof_timeout > 0 ? o.proof_timeout : o.v.timeout, 64, o.normalised, &ps, &err) != CB_OK) {
      fprintf(stderr, "cerbere verify: --proof: no proof written: %s\n", err.msg);
      code = err.status == CB_ELIMIT ? EXIT_LIMIT : err.status == CB_ENOMEM || err.status == CB_EIO ? EXIT_INTERNAL : EXIT_INPUT;
    } else
      printf("# proof: %s, %ld leaves, %ld splits, depth %d, %ld bytes, %.3f s, %.3f s CPU (%ld boxes CROWN refuted split further for the exact test; %ld leaves with rows weighed by LP; ReLU route: %ld of %ld boxes closed, %ld leaves, %ld states; split rule: %s, runs of %.3f and %.3f s of CPU)\n",
             o.proof, ps.leaves, ps.splits, ps.depth, ps.bytes, ps.seconds, ps.cpu_seconds, ps.rejected, ps.lp_leaves,
             ps.relu_boxes, ps.relu_tries, ps.relu_leaves, ps.relu_states,
             ps.strong ? "strong branching" : "widest coefficient", ps.cpu_rule[0], ps.cpu_rule[1]),
      printf("# the unsat verdict carries this proof; re-check it independently: cerbere check %s %s %s\n", o.net, o.prop, o.proof);
  }
  for (int i = 0; i < net->n_warn; i++) printf("# warning: %s\n", net->warn[i]);
  if (dist.ranks > 1)
    printf("# mpi: %d ranks, %ld messages, %ld bytes, %ld subdomains moved%s%s\n", dist.ranks, dist.msgs, dist.bytes,
           dist.items_sent, dist.note[0] ? "; " : "", dist.note);
  if (code == EXIT_INTERNAL) fprintf(stderr, "cerbere: %s\n", err.msg);
out:
  cJSON_Delete(root);
  cb_free(text);
  vfy_result_free(&r);
  vnn_free(spec);
  cb_net_free(net);
  return code;
}
