/* abort: the last rank calls MPI_Abort while the others block forever, so the launcher must
 * propagate the abort status and tear the blocked ranks down. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int status = argc > 1 ? atoi(argv[1]) : 7;
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == size - 1) {
    printf("rank %d calling MPI_Abort(%d)\n", rank, status);
    fflush(stdout);
    MPI_Abort(MPI_COMM_WORLD, status);
  }
  /* Nobody ever sends: only the launcher's teardown ends this receive. */
  int dummy;
  MPI_Recv(&dummy, 1, MPI_INT, MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  MPI_Finalize();
  return 0;
}
