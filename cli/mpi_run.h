/*
** The MPI drivers of the CLI, one file per command that distributes work
** (DESIGN.md: optional engines sit at the edge in files of their own):
**   mpi_certify.c  `certify` under mpirun: rank 0 deals rows to every rank;
**   mpi_none.c     the same entry points in a build without MPI: they refuse,
**                  saying so.
** make links build/cerbere with mpi_none.o, and, when mpicc is present,
** build/cerbere-mpi with the mpi_*.o files compiled by mpicc.  Whether a
** command runs distributed is read from the environment mpirun (or srun with
** PMI/PMIx) gives each process, so one command line serves both.
*/
#ifndef CB_MPI_RUN_H
#define CB_MPI_RUN_H

#include <stdlib.h>
#include "cert_run.h"

/* This process was started by an MPI launcher: Open MPI's mpirun sets
   OMPI_COMM_WORLD_SIZE, PMIx launchers PMIX_RANK, MPICH's Hydra and srun
   --mpi=pmi2 PMI_RANK.  (A Slurm array task alone sets none of them.) */
static inline int mpi_launched(void)
{
  return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

/* The launcher's rank of this process (0 when unknown), before MPI_Init. */
static inline int mpi_env_rank(void)
{
  const char *r = getenv("OMPI_COMM_WORLD_RANK");
  if (!r) r = getenv("PMIX_RANK");
  if (!r) r = getenv("PMI_RANK");
  return r ? atoi(r) : 0;
}

/* "Open MPI v4.1.4, ..." (the library's version string), or NULL in a build
   without MPI. */
const char *mpi_library(void);

/* certify over every rank of MPI_COMM_WORLD (options already parsed);
   returns the process exit code, as cmd_certify. */
int mpi_certify(const certify_opts *o);

#endif
