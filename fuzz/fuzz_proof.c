/*
** libFuzzer harness: the proof parser and checker (src/proofchk.c).  Any
** input is parsed; a parse error must come with a one-line message naming
** its line and no proof.  A parsed proof is then checked against
** tests/data/tiny.nnet and tests/data/tiny_split.vnnlib (loaded once, when
** present: the fuzzer runs from the repository root), which must give 1 or
** 0 with a message, never a crash; a proof the parser accepts has leaves
** numbered 0..n_leaf-1 and boxes 0..n_box-1, and its header's input space is
** raw or normalized (version 2) or unrecorded (version 1).  Seeds:
** the proof files of tests/data (versions 1, 2 and 3: tighten_beta.proof).
*/
#include "fuzz_util.h"
#include "vnnlib.h"
#include "proofchk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cb_net *net;
static vnn_spec *spec;
static pchk *P;
static int loaded;

static void load_once(void)
{
  cb_error err = {0};
  loaded = 1;
  if (cb_net_load("tests/data/tiny.nnet", &net, &err) != CB_OK) return;
  if (vnn_parse("tests/data/tiny_split.vnnlib", &spec, &err) != CB_OK) return;
  if (pchk_new(net, spec, &P, &err) != CB_OK) P = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  proof *pf = NULL;
  cb_error err = {0};
  char msg[512] = "";
  long leaves = 0, nl = 0;
  int rc;
  if (!loaded) load_once();
  rc = proof_parse((const char *)data, size, &pf, &err);
  if (rc != CB_OK) {
    if (pf || !err.msg[0] || strchr(err.msg, '\n') || (rc != CB_ENOMEM && !strstr(err.msg, "line "))) abort();
    return 0;
  }
  if (pf->version == 1 ? pf->input_space != -1 : pf->version > PROOF_VERSION || (pf->input_space != 0 && pf->input_space != 1)) abort();
  for (size_t k = 0; k < pf->n; k++) if (pf->r[k].type == PR_LEAF && pf->r[k].a != nl++) abort();
  if (nl != pf->n_leaf) abort();
  if (P && pf->n_leaf <= 256) {   /* bigger trees: the parse alone (each leaf costs ~1 ms) */
    rc = proof_check(P, pf, msg, sizeof msg, &leaves);
    if (rc < 0 && rc != CB_ENOMEM) abort();
    if (rc == 0 && !msg[0]) abort();
    if (rc == 1 && leaves != pf->n_leaf) abort();
  }
  proof_free(pf);
  return 0;
}
