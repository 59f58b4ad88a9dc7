/*
** libFuzzer harness: ONNX loader (protobuf unpack, tensors, attributes,
** topological order, op mapping, canonicalisation, shape inference), the
** --check report, then a forward pass on what loaded.
*/
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static FILE *devnull;
  const char *p = fuzz_file(data, size, ".onnx");
  cb_net *net = NULL;
  cb_error err = {0}, err2 = {0};
  int rc;
  if (!p) return 0;
  if (!devnull) devnull = fopen("/dev/null", "w");
  rc = onnx_load(p, &net, &err);
  fuzz_check_error(rc, net, &err);
  if (net) fuzz_forward(net);
  cb_net_free(net);
  rc = onnx_check(p, devnull, &err2);
  if (rc != CB_OK && err2.msg[0] == 0) abort();
  return 0;
}
