/*
** The forward workspace (src/forward.c fwd_ws): the batched forward with
** buffers kept across calls, conv ReLUs fused and the batch-innermost
** layout handed from CONV to CONV or to an AFFINE, equals the batch-1
** reference.
*/
#include <math.h>
#include "testutil.h"
#include "randnet.h"

/* A chain of CONVs: conv -> relu -> conv -> conv (no ReLU between) -> relu, with
   strides, pads and groups: every hand-over of the workspace's layouts. */
static cb_net *net_conv_chain(void)
{
  int64_t d[4] = {1, 3, 9, 9};
  cb_net *net = start(4, d);
  int i = act(net, conv(net, 0, 4, 3, 1, 1, 1, 1), CB_ACT_RELU);
  i = conv(net, i, 6, 3, 2, 1, 1, 2);
  i = act(net, conv(net, i, 4, 2, 1, 0, 1, 1), CB_ACT_RELU);
  dense(net, flatten(net, i), 5);
  return net;
}

/* A grouped strided CONV (no ReLU) read by a dense layer through a flatten,
   and a CONV -> ReLU -> dense: the batch-innermost hand-over to an AFFINE. */
static cb_net *net_conv_dense(void)
{
  int64_t d[4] = {1, 4, 7, 6};
  cb_net *net = start(4, d);
  int i = conv(net, 0, 6, 3, 2, 1, 1, 2);
  i = act(net, dense(net, flatten(net, i), 7), CB_ACT_RELU);
  dense(net, i, 3);
  return net;
}

/* Compares fwd_ws_run on `batch` samples x with each sample's fwd_all. */
static void check_batch(cb_net *net, fwd_ws *w, double **act, const double *x, size_t batch, double *y, int q)
{
  cb_error err = {0};
  size_t n = net->node[0].size, no = net->node[net->output].size;
  if (fwd_ws_run(w, x, batch, y, &err) != CB_OK) fail_msg("%s", err.msg);
  for (size_t s = 0; s < batch; s++) {
    memcpy(act[0], x + s * n, n * sizeof *x);
    if (fwd_all(net, 1, act, &err) != CB_OK) fail_msg("%s", err.msg);
    for (size_t o = 0; o < no; o++) {
      double r = act[net->output][o], g = y[s * no + o];
      if (!(fabs(g - r) <= 1e-12 * fmax(1, fabs(r)))) fail_msg("net %d batch %zu sample %zu out %zu: %.17g vs %.17g", q, batch, s, o, g, r);
    }
  }
}

/* fwd_ws_run (the workspace kept across calls: fused conv ReLUs, batch-
   innermost hand-over between CONVs, chunks of max_batch) gives every
   sample's batch-1 forward (fwd_all) to 1e-12 relative, for batches below,
   at and above max_batch, on the conv nets, and is reusable. */
static void test_workspace(void **st)
{
  (void)st;
  cb_net *nets[5];
  cb_error err = {0};
  nets[0] = net_conv();
  nets[1] = net_resconv_hw(8);
  nets[2] = net_conv_chain();
  nets[3] = must_load("nets/digits_cnn.onnx");
  nets[4] = net_conv_dense();
  for (int q = 0; q < 5; q++) {
    cb_net *net = nets[q];
    size_t n, no, big = 700, batches[] = {1, 5, 8, 16, 41};
    fwd_ws *w, *wb;
    double **act, *x, *y;
    net->output = q != 3 ? net->n - 1 : net->output;
    if (q != 3 && net_check(net, &err) != CB_OK) fail_msg("%s", err.msg);
    n = net->node[0].size;
    no = net->node[net->output].size;
    w = fwd_ws_new(net, 16);
    wb = fwd_ws_new(net, big);   /* a batch whose im2col takes one output pixel per chunk */
    act = fwd_alloc(net, 1);
    x = malloc(big * n * sizeof *x);
    y = malloc(big * no * sizeof *y);
    assert_non_null(w);
    assert_non_null(wb);
    for (size_t i = 0; i < big * n; i++) x[i] = rnd(-1, 1);
    for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) check_batch(net, w, act, x, batches[b], y, q);
    check_batch(net, wb, act, x, big, y, q);
    check_batch(net, wb, act, x, 9, y, q);
    free(x);
    free(y);
    fwd_free(act);
    fwd_ws_free(w);
    fwd_ws_free(wb);
    cb_net_free(net);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_workspace),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
