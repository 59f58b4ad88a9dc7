/*
** The concrete forward pass in double: the reference every analyzer and test
** compares against.  Batched: every node's value is [batch][size].
*/
#ifndef CB_FORWARD_H
#define CB_FORWARD_H

#include "net.h"

/* Computes node i from its inputs' values act[in[k]]; act[i] has batch*size room. */
int fwd_node(const cb_net *net, int i, size_t batch, double *const *act, cb_error *err);

/* Runs every node: act[0] must hold the input batch; act[i] are caller buffers. */
int fwd_all(const cb_net *net, size_t batch, double *const *act, cb_error *err);

/* Allocates act[] (one block) for a batch; free with cb_free(act[0]) then cb_free(act). */
double **fwd_alloc(const cb_net *net, size_t batch);
void fwd_free(double **act);

/* A forward workspace: buffers and conv scratch for batches of up to
   max_batch samples, kept across calls (one per thread and network).
   fwd_ws_run is cb_net_forward without the allocations (bit-identical
   results); a larger batch runs in chunks.  NULL on OOM; free(NULL) no-op. */
typedef struct fwd_ws fwd_ws;
fwd_ws *fwd_ws_new(const cb_net *net, size_t max_batch);
int fwd_ws_run(fwd_ws *w, const double *x, size_t batch, double *y, cb_error *err);
void fwd_ws_free(fwd_ws *w);

#endif
