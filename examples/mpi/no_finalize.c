/* A buggy MPI program: rank 0 returns from main without MPI_Finalize (exit status 0); the
 * others block in a receive. A launcher must call that a failure, as mpirun does. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char** argv) {
  int rank = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    printf("rank 0 leaving without MPI_Finalize\n");
    fflush(stdout);
    return 0;
  }
  int token = 0;
  MPI_Recv(&token, 1, MPI_INT, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  MPI_Finalize();
  return 0;
}
