/*
** The cerbere command line: parse arguments, call the library, print, write
** JSON.  The only place that exits.  Output files are written to a temporary
** name and renamed, so an error never leaves a partial file; stdout of the
** non-streaming commands is held until they succeed (hold_stdout).
**
** Exit codes: 0 success, 2 usage error, 3 input error (file, format, shape,
** unsupported op), 4 internal error.
*/
#include <cjson/cJSON.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "batch.h"
#include "cmd.h"
#include "certify_mpi.h"
#include "net.h"
#include "report.h"
#include "report_doc.h"

static const char *usage_main =
  "usage: cerbere COMMAND [options]\n"
  "\n"
  "Sound certificates for neural networks (ONNX, NNet).\n"
  "\n"
  "commands:\n"
  "  info NET [--check] [--json OUT]   describe a network (nodes, kinds, shapes, parameters)\n"
  "  predict NET --data FILE [--json OUT]  forward pass: logits, predicted class, accuracy\n"
  "  bounds NET --data FILE --norm inf|2|1 --eps E --method ibp|crown|crown-ibp|alpha-crown [--json OUT]\n"
  "                                    certified output and margin bounds over a ball per sample\n"
  "  certify NET --data FILE --norm inf|2|1 --eps E --out DIR [--radius] [--clip LO:HI]\n"
  "                                    per-sample verdicts (verified / falsified with a\n"
  "                                    checked counterexample / unknown), certified radii\n"
  "  merge DIR... --out DIR            join the output directories of certify --shard I/N\n"
  "                                    runs into the files one run over all rows writes\n"
  "  report --out DIR REPORT.json...   merge certification reports into one JSON + HTML\n"
  "  lipschitz NET [--norm 2|inf|1] [--data FILE] [--json OUT]\n"
  "                                    per-layer operator norms (lower estimate, guaranteed upper\n"
  "                                    bound), global Lipschitz constants, certified radii\n"
  "  orthonormalize NET -o OUT.onnx    Bjorck-orthonormalise the weights (1-Lipschitz layers)\n"
  "  verify NET PROP.vnnlib [--timeout S] [--out RESULT] [--proof FILE]\n"
  "                                    decide a VNNLIB property: sat (checked witness),\n"
  "                                    unsat (proved; --proof writes a checkable proof),\n"
  "                                    timeout or unknown\n"
  "  check NET PROP.vnnlib PROOF       check a proof of unsat in exact arithmetic, independently\n"
  "                                    of the verifier (docs/proof-format.md): valid / invalid\n"
  "  jacobian NET --data FILE [--norm inf|2|1 --eps E] [--bounds crown|ibp] [--json OUT]\n"
  "                                    exact margin gradients; over a ball: interval Jacobian,\n"
  "                                    local Lipschitz constants, certified radius\n"
  "  attribute NET --data FILE --method M [--json OUT]\n"
  "                                    attribution maps: saliency, gradxinput, ig, smoothgrad,\n"
  "                                    vargrad, squaregrad, occlusion, rise, gradcam(pp), eva,\n"
  "                                    lrp, deeplift, guidedbackprop, deconvnet, kernelshap,\n"
  "                                    scorecam, opticam, lime, sobol, hsic\n"
  "  compare-models --models M1 ... MK --data FILE --splits SPLITS.csv --method M\n"
  "                                    MeGe and ReCo of a method over K models / K splits\n"
  "  audit NET --data FILE --method M --norm inf|2|1 --eps E --out DIR\n"
  "                                    attribution stability audit: certified map bounds,\n"
  "                                    guaranteed max change, certified top-k, report\n"
  "\n"
  "options:\n"
  "  -h, --help      this text; 'cerbere COMMAND --help' for a command\n"
  "  --version       print the version, and the MPI library of an MPI build (cerbere-mpi:\n"
  "                  under mpirun -np P, certify shares its rows between the P processes;\n"
  "                  docs/cluster.md)\n"
  "\n"
  "exit codes: 0 success, 2 usage error, 3 input error (file, format, shape,\n"
  "unsupported op), 4 internal error, 5 resource limit (--timeout, --max-memory).\n";

static const char *usage_info =
  "usage: cerbere info NET [--check] [--json OUT]\n"
  "\n"
  "Loads NET (.onnx, or .nnet for the ACAS Xu text format) and prints its\n"
  "canonical graph: one line per node with its kind, source op, shape and name,\n"
  "the input and output shapes and the parameter count.\n"
  "\n"
  "  --check       report support for every ONNX node (ok / UNSUPPORTED and why)\n"
  "                instead of stopping at the first problem; exit 3 if any is unsupported\n"
  "  --json OUT    also write the description as JSON\n";

static const char *usage_predict =
  "usage: cerbere predict NET --data FILE [--json OUT] [--quiet]\n"
  "\n"
  "Runs the double-precision forward pass on every row of CSV (rows\n"
  "'label,x0,...,x(n-1)', no header; n = the network's input size) and prints\n"
  "the predicted class per row and the accuracy.  A label that is not a class\n"
  "of the network stops the run, naming the row (exit 3).\n"
  "\n"
  BATCH_DATA_HELP
  "  --json OUT    write {command, net, data, n_samples, accuracy, samples:[{index,\n"
  "                label, logits, pred}]} to OUT\n"
  "  --quiet       print only the summary line\n";

static cJSON *info_json(const cb_net *net)
{
  cJSON *root = cJSON_CreateObject(), *nodes = cJSON_CreateArray();
  cJSON_AddStringToObject(root, "command", "info");
  cJSON_AddStringToObject(root, "net", net->path);
  cJSON_AddStringToObject(root, "format", net->format);
  cJSON_AddStringToObject(root, "version", CB_VERSION);
  cJSON_AddItemToObject(root, "input_shape", report_shape(&net->input_shape));
  cJSON_AddItemToObject(root, "output_shape", report_shape(&net->node[net->output].shape));
  cJSON_AddNumberToObject(root, "input_size", (double)cb_net_input_size(net));
  cJSON_AddNumberToObject(root, "output_size", (double)cb_net_output_size(net));
  cJSON_AddNumberToObject(root, "parameters", (double)net_param_count(net));
  for (int i = 0; i < net->n; i++) {
    const cb_node *nd = &net->node[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", i);
    cJSON_AddStringToObject(o, "kind", node_kind_name(nd));
    cJSON_AddStringToObject(o, "op", nd->op);
    cJSON_AddStringToObject(o, "name", nd->name);
    cJSON_AddItemToObject(o, "shape", report_shape(&nd->shape));
    cJSON_AddBoolToObject(o, "exact", nd->exact);
    cJSON_AddItemToArray(nodes, o);
  }
  cJSON_AddItemToObject(root, "nodes", nodes);
  return root;
}

static void info_print(const cb_net *net)
{
  char in[128], out[128];
  shape_str(&net->input_shape, in, sizeof in);
  shape_str(&net->node[net->output].shape, out, sizeof out);
  printf("net:        %s\n", net->path);
  printf("format:     %s", net->format);
  if (net->opset) printf(" (ir %lld, opset %lld, producer \"%s\")", (long long)net->ir_version,
                         (long long)net->opset, net->producer);
  printf("\ninput:      \"%s\" %s (%zu values)\n", net->input_name, in, cb_net_input_size(net));
  printf("output:     \"%s\" %s (%zu values)\n", net->output_name, out, cb_net_output_size(net));
  printf("nodes:      %d canonical\nparameters: %zu\n", net->n, net_param_count(net));
  for (int i = 0; i < net->n_warn; i++) printf("warning:    %s\n", net->warn[i]);
  cb_net_dump(net, stdout);
}

static int cmd_info(int argc, char **argv)
{
  const char *path = NULL, *json = NULL;
  int check = 0, rc;
  cb_net *net = NULL;
  cb_error err = {0};
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage_info, stdout); return 0; }
    else if (!strcmp(argv[i], "--check")) check = 1;
    else if (!strcmp(argv[i], "--json")) { if (++i >= argc) return report_usage("info", "%s needs a file", "--json"); json = argv[i]; }
    else if (argv[i][0] == '-') return report_usage("info", "unknown option %s", argv[i]);
    else if (path) return report_usage("info", "unexpected argument %s", argv[i]);
    else path = argv[i];
  }
  if (!path) return report_usage("info", "%s", "missing NET");
  if (check) {
    const char *dot = strrchr(path, '.');
    if (dot && !strcmp(dot, ".nnet")) rc = nnet_load(path, &net, &err);
    else rc = onnx_check(path, stdout, &err);
    cb_net_free(net);
    if (rc != CB_OK) return report_fail(&err);
    printf("all nodes supported\n");
    return 0;
  }
  if ((rc = cb_net_load(path, &net, &err)) != CB_OK) return report_fail(&err);
  if (json) {
    cJSON *root = info_json(net);
    rc = root ? report_write_json(json, root, &err) : cb_error_set(&err, CB_ENOMEM, "out of memory");
    cJSON_Delete(root);
    if (rc != CB_OK) { cb_net_free(net); return report_fail(&err); }
  }
  info_print(net);
  cb_net_free(net);
  return 0;
}

static cJSON *predict_json(const batch *b, const double *y, double acc)
{
  cJSON *root = batch_json_top(b, "predict"), *samples = cJSON_CreateArray();
  size_t nout = b->n_out;
  cJSON_AddNumberToObject(root, "n_samples", (double)b->n);
  cJSON_AddNumberToObject(root, "accuracy", acc);
  for (size_t r = 0; r < b->n; r++) {
    cJSON *s = batch_json_sample(b, r);
    cJSON_AddItemToObject(s, "logits", cJSON_CreateDoubleArray(y + r * nout, (int)nout));
    cJSON_AddNumberToObject(s, "pred", (double)cb_argmax(y + r * nout, nout));
    cJSON_AddItemToArray(samples, s);
  }
  cJSON_AddItemToObject(root, "samples", samples);
  return root;
}

/* Every row (batch.h: labels checked first), one batched forward pass. */
static int predict_run(const char *path, const char *data, const char *json, int quiet, cb_error *err)
{
  batch b = {0};
  batch_rows sel = {0, -1, 0, NULL};
  double *y = NULL;
  cJSON *root = NULL;
  size_t rows, nout, correct = 0;
  int rc;
  if ((rc = batch_load_net(&b, path, err)) != CB_OK || (rc = batch_load_rows(&b, data, &sel, err)) != CB_OK) goto out;
  rows = b.n;
  nout = b.n_out;
  if (!(y = cb_calloc(rows * nout, sizeof *y))) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
  if ((rc = cb_net_forward(b.net, batch_x(&b, 0), rows, y, err)) != CB_OK) goto out;
  for (size_t r = 0; r < rows; r++) correct += cb_argmax(y + r * nout, nout) == (size_t)batch_label(&b, r);
  if (json) {
    if (!(root = predict_json(&b, y, (double)correct / (double)rows))) { rc = cb_error_set(err, CB_ENOMEM, "out of memory"); goto out; }
    if ((rc = report_write_json(json, root, err)) != CB_OK) goto out;
  }
  for (size_t r = 0; r < rows && !quiet; r++)
    printf("row %zu: label %d pred %zu\n", r, batch_label(&b, r), cb_argmax(y + r * nout, nout));
  printf("%zu samples, accuracy %.4f (%zu correct)\n", rows, (double)correct / (double)rows, correct);
out:
  cJSON_Delete(root);
  cb_free(y);
  batch_close(&b);
  return rc;
}

static int cmd_predict(int argc, char **argv)
{
  const char *path = NULL, *data = NULL, *json = NULL;
  int quiet = 0;
  cb_error err = {0};
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage_predict, stdout); return 0; }
    else if (!strcmp(argv[i], "--quiet")) quiet = 1;
    else if (!strcmp(argv[i], "--data") || !strcmp(argv[i], "--json")) {
      if (i + 1 >= argc) return report_usage("predict", "%s needs a file", argv[i]);
      if (argv[i][2] == 'd') data = argv[++i]; else json = argv[++i];
    }
    else if (argv[i][0] == '-') return report_usage("predict", "unknown option %s", argv[i]);
    else if (path) return report_usage("predict", "unexpected argument %s", argv[i]);
    else path = argv[i];
  }
  if (!path) return report_usage("predict", "%s", "missing NET");
  if (!data) return report_usage("predict", "%s", "missing --data FILE");
  if (predict_run(path, data, json, quiet, &err) != CB_OK) return report_fail(&err);
  return 0;
}

static int run_command(int argc, char **argv);

int main(int argc, char **argv)
{
  /* Analyzers allocate and free matrices of a few MB per pass: keep them on
     the heap (no mmap/munmap and page faults each time). */
  mallopt(M_MMAP_THRESHOLD, 512 << 20);
  mallopt(M_TRIM_THRESHOLD, 1024 << 20);
  cb_argc = argc;
  cb_argv = argv;
  /* Default memory cap: the machine's RAM, so that an absurd network fails
     with "memory limit reached" instead of swapping or being OOM-killed. */
  if (sysconf(_SC_PHYS_PAGES) > 0 && sysconf(_SC_PAGESIZE) > 0)
    cb_limits_set(0, (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE));
  if (argc < 2) { fputs(usage_main, stderr); return EXIT_USAGE; }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) { fputs(usage_main, stdout); return 0; }
  if (!strcmp(argv[1], "--version")) {
    printf("cerbere %s\n", CB_VERSION);
    if (mpi_library()) printf("MPI: %s (certify shares its rows between mpirun's processes)\n", mpi_library());
    else printf("MPI: none (this binary was built without MPI; make builds cerbere-mpi when mpicc is present)\n");
    return 0;
  }
  {
    /* --labels and --scale go with --data, for every command that reads it:
       taken out of a copy of argv (cb_argv keeps them for the reproduce line) */
    static const char *const with_data[] = {"predict", "bounds", "certify", "lipschitz", "orthonormalize",
                                            "jacobian", "attribute", "audit"};
    for (size_t k = 0; k < sizeof with_data / sizeof with_data[0]; k++)
      if (!strcmp(argv[1], with_data[k])) {
        char **av = malloc(((size_t)argc + 1) * sizeof *av);
        int ac = argc, rc;
        if (!av) { fputs("cerbere: out of memory\n", stderr); return EXIT_INTERNAL; }
        memcpy(av, argv, (size_t)argc * sizeof *av);
        av[argc] = NULL;
        rc = batch_data_options(argv[1], &ac, av);
        if (!rc) rc = run_command(ac, av);
        free(av);
        return rc;
      }
  }
  return run_command(argc, argv);
}

/*
** stdout held in an unlinked temporary file (tmpfile: nothing is left behind
** if the process is killed) while a command runs, then copied to the real
** stdout on exit code 0 and dropped otherwise, so an error leaves no partial
** output (non-negotiable 3; review11: lipschitz --bracket --data printed
** rows before a later row's bounds overflowed).  Not held: verify (its
** answer is flushed before the proof search on purpose), certify and merge
** (exit codes 10/11/130 come with their rows), check, and info (--check
** lists the unsupported nodes before its error).  Without a temporary file
** the command runs unheld.
*/
typedef struct held_out { FILE *f; int fd; } held_out;

static void hold_stdout(held_out *h)
{
  h->fd = -1;
  fflush(stdout);
  if (!(h->f = tmpfile())) return;
  if ((h->fd = dup(STDOUT_FILENO)) < 0 || dup2(fileno(h->f), STDOUT_FILENO) < 0) {
    if (h->fd >= 0) close(h->fd);
    fclose(h->f);
    h->f = NULL;
  }
}

static void release_stdout(held_out *h, int keep)
{
  char buf[1 << 15];
  size_t n;
  if (!h->f) return;
  fflush(stdout);
  dup2(h->fd, STDOUT_FILENO);
  close(h->fd);
  if (keep) {
    rewind(h->f);
    while ((n = fread(buf, 1, sizeof buf, h->f)) > 0 && fwrite(buf, 1, n, stdout) == n) {}
    fflush(stdout);
  }
  fclose(h->f);
}

static int run_held(int (*cmd)(int, char **), int argc, char **argv)
{
  held_out h;
  int rc;
  hold_stdout(&h);
  rc = cmd(argc, argv);
  release_stdout(&h, rc == 0);
  return rc;
}

/* Runs the command argv[1] with the options argv[2..argc). */
static int run_command(int argc, char **argv)
{
  static const struct { const char *name; int (*cmd)(int, char **); } held[] = {
    {"predict", cmd_predict}, {"bounds", cmd_bounds}, {"lipschitz", cmd_lipschitz},
    {"orthonormalize", cmd_orthonormalize}, {"jacobian", cmd_jacobian}, {"attribute", cmd_attribute},
    {"audit", cmd_audit}, {"compare-models", cmd_compare_models}, {"report", cmd_report}};
  for (size_t k = 0; k < sizeof held / sizeof held[0]; k++)
    if (!strcmp(argv[1], held[k].name)) return run_held(held[k].cmd, argc - 2, argv + 2);
  if (!strcmp(argv[1], "info")) return cmd_info(argc - 2, argv + 2);
  if (!strcmp(argv[1], "verify")) return cmd_verify(argc - 2, argv + 2);
  if (!strcmp(argv[1], "check")) return check_main(argc - 2, argv + 2);
  if (!strcmp(argv[1], "certify")) return cmd_certify(argc - 2, argv + 2);
  if (!strcmp(argv[1], "merge")) return cmd_merge(argc - 2, argv + 2);
  return report_usage(NULL, "unknown command %s", argv[1]);
}
