/*
** vfy_dist_run for one process (vfy_dist.h): the search as vfy_run runs it.
** build/cerbere-mpi links vfy_mpi.c's vfy_dist_run instead; this file must
** define nothing else, so that the linker never needs it there.
*/
#include <string.h>
#include "vfy_dist.h"

int vfy_dist_run(const cb_net *net, const vnn_spec *spec, const vfy_opts *o, vfy_result *r, vfy_dist_info *info,
                 cb_error *err)
{
  memset(info, 0, sizeof *info);
  info->ranks = 1;
  info->stats_ranks = 1;
  return vfy_run(net, spec, o, r, err);
}
