/*
** verify over several processes: one interface, two backend files, chosen
** when the binary is linked (never an #ifdef in the search):
**   vfy_dist.c   (in libcerbere.a) one process: vfy_run as it is;
**   vfy_mpi.c    (build/cerbere-mpi only, compiled by mpicc and linked
**                before the library, so its vfy_dist_run is the one used)
**                Open MPI: the input-splitting frontier shared by the ranks
**                of `mpirun -np P`, rank 0 the coordinator.
** Every process calls vfy_dist_run once, after loading the same network and
** property; the answer that counts is rank 0's (info->rank == 0): only that
** process prints and writes files.
*/
#ifndef CB_VFY_DIST_H
#define CB_VFY_DIST_H

#include "verify.h"

#define VFY_DIST_PER 16   /* ranks whose own counts vfy_dist_info keeps */

typedef struct vfy_dist_info {
  int rank, ranks;        /* this process's rank and the number of ranks (0 and 1 alone) */
  long msgs, bytes;       /* rank 0: messages and bytes sent by all ranks (payload only) */
  long items_sent;        /* rank 0: subdomains moved between ranks */
  long steals;            /* rank 0: steal requests sent */
  long nodes_max, nodes_min;   /* rank 0: subdomains bounded by the busiest / idlest rank */
  double idle_s;          /* rank 0: seconds the ranks spent waiting for work, summed */
  double cpu_max_s, cpu_min_s;   /* rank 0: CPU seconds of the search on the busiest / idlest
                             rank (each rank's process CPU time from the start of the search):
                             on a loaded machine, the time the run would take on idle cores
                             is about cpu_max_s plus the waits */
  int stats_ranks;        /* rank 0: ranks whose counts arrived (ranks when complete) */
  int per_n;              /* rank 0: ranks in per[] (the first VFY_DIST_PER of them) */
  struct vfy_rank_stat {  /* rank 0: each rank's own counts */
    long nodes;           /* subdomains it bounded in the shared search */
    long states;          /* ReLU-search states inside them */
    long race_nodes;      /* subdomains of its race (the last rank; 0 elsewhere) */
    long msgs, bytes;     /* messages and payload bytes it sent */
    double busy_cpu_s;    /* CPU seconds of its shared search's thread(s) (process CPU minus the race's) */
    double race_cpu_s;    /* CPU seconds of its race */
    double idle_s;        /* wall seconds it waited for work (the race may have run meanwhile) */
  } per[VFY_DIST_PER];
  char note[160];         /* why the search was not shared (""), e.g. high-dimensional inputs */
} vfy_dist_info;

/* vfy_run, over every process of the run; *info filled.  On a rank other
   than 0 the result is that rank's share only (do not print it). */
int vfy_dist_run(const cb_net *net, const vnn_spec *spec, const vfy_opts *o, vfy_result *r, vfy_dist_info *info,
                 cb_error *err);

#endif
