/*
** `cerbere check NET PROP.vnnlib PROOF`: the independent proof checker.
**
** Reads the network and the property with the readers of src/ only, the
** proof with proof_parse, compares the SHA-256 of both files with the
** proof's header, and checks every leaf in exact arithmetic (src/proofchk.c).
** Prints "valid" and exits 0, or "invalid: <first failing leaf and why>"
** and exits 1; 3 for an input error (a file that does not load).
**
** This file and src/ are the whole checker: the Makefile builds
** build/cerbere-check from the check/ files and the src/ objects alone (no code of
** bounds/, lip/ or certify/), and the cerbere binary's `check` command is
** the same code (check_main).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "check.h"
#include "net.h"
#include "proofchk.h"
#include "vnnlib.h"

static const char *usage =
  "usage: cerbere check NET PROP.vnnlib PROOF [--ignore-hash] [--input-space raw|normalized]\n"
  "       cerbere check NET DIR/certificates.json [--data FILE]\n"
  "\n"
  "Checks a proof written by 'cerbere verify NET PROP --proof PROOF' (docs/proof-format.md):\n"
  "every leaf of its branch-and-bound tree refutes every output conjunction of the\n"
  "property, recomputed in exact rational arithmetic (GMP) with the weights as the\n"
  "exact float values in NET, and the leaves cover the property's input boxes.\n"
  "Nothing in the proof is trusted but its tree and multipliers.  Prints 'valid'\n"
  "(exit 0) or 'invalid: ' and the first failing leaf with the reason (exit 1).\n"
  "\n"
  "  --ignore-hash    check against NET and PROP even when their SHA-256 differ from\n"
  "                   the proof's header (the verdict is then about these files)\n"
  "  --input-space S  as for verify (NNet files whose header normalises inputs): only\n"
  "                   for version-1 proofs; version 2 records it in its header, and an\n"
  "                   --input-space that disagrees with the header is a usage error\n"
  "\n"
  "The second form checks the per-sample proofs of 'cerbere certify --proof' (L-inf, L2,\n"
  "L1: the property's box must contain the L-inf ball of radius eps, which holds the others):\n"
  "each proved sample's row and label are re-read from the data (the file the\n"
  "certificates name, or --data FILE), its set from the certificate's eps and clip box;\n"
  "its property file must contain that set and state every margin, and its proof must\n"
  "check valid.  Prints 'valid' or 'invalid: sample row N: reason'.\n"
  "\n"
  "exit codes: 0 valid, 1 invalid, 2 usage error, 3 input error.\n";

char *check_read_file(const char *path, size_t *len, cb_error *err)
{
  FILE *f = fopen(path, "rb");
  char *s = NULL;
  size_t cap = 0, n = 0, r;
  if (!f) { cb_error_set(err, CB_EIO, "%s: cannot open", path); return NULL; }
  do {
    if (n == cap) {
      char *t = cb_alloc((cap = cap ? 2 * cap : 1 << 16) + 1);
      if (!t) { cb_free(s); fclose(f); cb_error_set(err, CB_ENOMEM, "out of memory"); return NULL; }
      if (n) memcpy(t, s, n);
      cb_free(s);
      s = t;
    }
    r = fread(s + n, 1, cap - n, f);
    n += r;
  } while (r > 0);
  if (ferror(f)) { cb_free(s); fclose(f); cb_error_set(err, CB_EIO, "%s: read error", path); return NULL; }
  fclose(f);
  *len = n;
  return s;
}

static double now_s(clockid_t c)
{
  struct timespec t;
  clock_gettime(c, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int check_main(int argc, char **argv)
{
  const char *pos[3] = {NULL, NULL, NULL}, *data = NULL;
  int np = 0, ignore_hash = 0, normalised = 0, space_given = 0, code = 3, rc;
  cb_net *net = NULL;
  vnn_spec *spec = NULL;
  proof *pf = NULL;
  pchk *P = NULL;
  cb_error err = {0};
  char *text = NULL, hn[65] = "", hp[65] = "", msg[512] = "";
  size_t len = 0;
  long leaves = 0;
  double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(usage, stdout); return 0; }
    if (!strcmp(argv[i], "--ignore-hash")) ignore_hash = 1;
    else if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
    else if (!strcmp(argv[i], "--input-space") && i + 1 < argc && (!strcmp(argv[i + 1], "raw") || !strcmp(argv[i + 1], "normalized")))
      normalised = !strcmp(argv[++i], "normalized"), space_given = 1;
    else if (argv[i][0] == '-' || np == 3) { fprintf(stderr, "cerbere check: bad argument '%s'\n%s", argv[i], usage); return 2; }
    else pos[np++] = argv[i];
  }
  if (np == 2 && strlen(pos[1]) > 5 && !strcmp(pos[1] + strlen(pos[1]) - 5, ".json")) {
    if (ignore_hash || space_given) { fprintf(stderr, "cerbere check: --ignore-hash and --input-space are for a proof of a property\n"); return 2; }
    return check_certs(pos[0], pos[1], data);
  }
  if (data) { fprintf(stderr, "cerbere check: --data is for certificates.json\n%s", usage); return 2; }
  if (np != 3) { fputs(usage, stderr); return 2; }
  if (!(text = check_read_file(pos[2], &len, &err))) { fprintf(stderr, "cerbere check: %s\n", err.msg); goto out; }
  if (proof_parse(text, len, &pf, &err) != CB_OK) { printf("invalid: %s: %s\n", pos[2], err.msg); code = 1; goto out; }
  if (pf->input_space >= 0) {   /* version 2: the header says which function the proof is about */
    if (space_given && normalised != pf->input_space) {
      fprintf(stderr, "cerbere check: --input-space %s, but %s records input-space %s\n", normalised ? "normalized" : "raw", pos[2],
              pf->input_space ? "normalized" : "raw");
      code = 2;
      goto out;
    }
    normalised = pf->input_space;
  }
  if ((rc = cb_net_load(pos[0], &net, &err)) != CB_OK || (normalised && (rc = nnet_inputs_normalised(net, &err)) != CB_OK) ||
      (rc = vnn_parse(pos[1], &spec, &err)) != CB_OK) {
    fprintf(stderr, "cerbere check: %s\n", err.msg);
    goto out;
  }
  if (!proof_sha256_file(pos[0], hn) || !proof_sha256_file(pos[1], hp)) { fprintf(stderr, "cerbere check: cannot hash the inputs\n"); goto out; }
  if (strcmp(hn, pf->net_sha) || strcmp(hp, pf->prop_sha)) {
    if (!ignore_hash) {
      printf("invalid: the proof is for another %s (SHA-256 %s, this file %s)\n", strcmp(hn, pf->net_sha) ? "network" : "property",
             strcmp(hn, pf->net_sha) ? pf->net_sha : pf->prop_sha, strcmp(hn, pf->net_sha) ? hn : hp);
      code = 1;
      goto out;
    }
    printf("# warning: --ignore-hash: the files differ from those the proof names; checking it against these\n");
  }
  if ((rc = pchk_new(net, spec, &P, &err)) != CB_OK) { fprintf(stderr, "cerbere check: %s\n", err.msg); goto out; }
  rc = proof_check(P, pf, msg, sizeof msg, &leaves);
  if (rc < 0) { fprintf(stderr, "cerbere check: out of memory\n"); code = 4; goto out; }
  if (rc == 1)
    printf("valid\n# %ld leaves checked in exact arithmetic over the %s input space, %.3f s, %.3f s CPU\n", leaves,
           normalised ? "normalized (the NNet file's input normalisation applied)" : "raw", now_s(CLOCK_MONOTONIC) - t0,
           now_s(CLOCK_PROCESS_CPUTIME_ID) - c0);
  else printf("invalid: %s\n", msg);
  code = rc == 1 ? 0 : 1;
out:
  pchk_free(P);
  proof_free(pf);
  cb_free(text);
  vnn_free(spec);
  cb_net_free(net);
  return code;
}
