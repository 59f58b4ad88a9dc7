/*
** libFuzzer harness: NNet loader (header, sizes, normalisation, weights),
** then a forward pass on what loaded.
*/
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *p = fuzz_file(data, size, ".nnet");
  cb_net *net = NULL;
  cb_error err = {0};
  if (!p) return 0;
  fuzz_check_error(nnet_load(p, &net, &err), net, &err);
  if (net) fuzz_forward(net);
  cb_net_free(net);
  return 0;
}
