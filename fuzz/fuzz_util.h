/*
** Shared by the libFuzzer harnesses (fuzz/fuzz_*.c, built by `make fuzz`).
** The loaders take a path, so each input is written to one private file
** (under $TMPDIR, removed at exit) and loaded from there: the harness goes
** through exactly the code the CLI runs, file reading included.
*/
#ifndef CB_FUZZ_UTIL_H
#define CB_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "net.h"
#include "forward.h"

static char fuzz_path[512];

static void fuzz_cleanup(void) { if (fuzz_path[0]) unlink(fuzz_path); }

/* Writes data to the harness's file and returns its path (NULL on failure). */
static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *ext)
{
  FILE *f;
  if (!fuzz_path[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(fuzz_path, sizeof fuzz_path, "%s/cb_fuzz_%ld%s", t && t[0] ? t : "/tmp", (long)getpid(), ext);
    atexit(fuzz_cleanup);
  }
  if (!(f = fopen(fuzz_path, "wb"))) return NULL;
  if (size && fwrite(data, 1, size, f) != size) { fclose(f); return NULL; }
  fclose(f);
  return fuzz_path;
}

/* A loaded network must also run: a forward pass on a zero input checks that
   the shapes the loader inferred agree with the parameters it stored.  Nets
   costing more than 2^22 multiply-adds are skipped: under ASan they take
   over the 1 s hang limit (a 480-byte Conv with pads of 65535 has 1.3M
   outputs), and their size is legitimate, not a loader bug. */
static inline void fuzz_forward(const cb_net *net)
{
  double cost = 0;
  size_t nin = cb_net_input_size(net), nout = cb_net_output_size(net);
  double *x, *y;
  cb_error err = {0};
  for (int i = 0; i < net->n; i++) {
    const cb_node *n = &net->node[i];
    double k = n->kind == CB_AFFINE ? (double)n->p.aff.in
             : n->kind == CB_CONV ? (double)(n->p.conv.g.cin / n->p.conv.g.groups * n->p.conv.g.kh * n->p.conv.g.kw)
             : n->kind == CB_MAXPOOL ? (double)(n->p.pool.g.kh * n->p.pool.g.kw) : 1;
    cost += (double)n->size * k;
  }
  if (cost > 4194304.0) return;
  x = calloc(nin ? nin : 1, sizeof *x);
  y = calloc(nout ? nout : 1, sizeof *y);
  if (x && y && cb_net_forward(net, x, 1, y, &err) != CB_OK && err.msg[0] == 0) abort();
  free(x);
  free(y);
}

/* A failing load must leave a one-line message. */
static inline void fuzz_check_error(int rc, const cb_net *net, const cb_error *err)
{
  if (rc == CB_OK) { if (!net) abort(); return; }
  if (net || err->msg[0] == 0 || strchr(err->msg, '\n')) abort();
}

#endif
