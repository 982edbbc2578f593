/* segfault: one rank dies of a real SIGSEGV while the others block forever, so the launcher
 * must report the signal and tear the blocked ranks down. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int victim = argc > 1 ? atoi(argv[1]) : (size > 1 ? 1 : 0);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == victim) {
    printf("rank %d segfaulting\n", rank);
    fflush(stdout);
    /* A genuine fault, not raise(): the launcher must see what a real crash looks like. */
    volatile int* p = 0;
    *p = 1;
  }
  int dummy;
  MPI_Recv(&dummy, 1, MPI_INT, MPI_ANY_SOURCE, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  MPI_Finalize();
  return 0;
}
