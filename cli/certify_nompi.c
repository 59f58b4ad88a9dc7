/*
** The MPI entry points of a build without MPI (build/cerbere; see
** certify_mpi.h): started by mpirun, a command would run whole on every rank and
** each would write the same files, so it refuses instead, on rank 0 only.
*/
#include <stdio.h>
#include "certify_mpi.h"
#include "report.h"

const char *mpi_library(void) { return NULL; }

int mpi_certify(const certify_opts *o)
{
  (void)o;
  if (mpi_env_rank() == 0)
    fprintf(stderr, "cerbere certify: this binary was built without MPI, so mpirun would run the whole dataset on "
                    "every rank; run cerbere-mpi (built by make when mpicc is present: Debian openmpi-bin, "
                    "libopenmpi-dev), or split the rows with --shard I/N (docs/cluster.md)\n");
  return EXIT_USAGE;
}
