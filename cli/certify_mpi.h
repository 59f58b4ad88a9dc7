/*
** certify over MPI: one interface, two files, chosen when the binary is
** linked (DESIGN.md: optional engines sit at the edge in files of their own;
** the *_mpi.c naming is the Makefile's, as for verify's vfy_mpi.c):
**   certify_mpi.c    `certify` under mpirun: rank 0 deals rows to every rank;
**   certify_nompi.c  the same entry points in a build without MPI: they
**                    refuse, saying so.
** make links build/cerbere with certify_nompi.o, and, when mpicc is present,
** build/cerbere-mpi with the *_mpi.o files compiled by mpicc.  Whether a
** command runs distributed is read from the environment mpirun (or srun with
** PMI/PMIx) gives each process, so one command line serves both.
*/
#ifndef CB_CERTIFY_MPI_H
#define CB_CERTIFY_MPI_H

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
