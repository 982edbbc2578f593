/* ring: passes a token once around all ranks, each adding rank+1; checks point-to-point order. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  long token = 0;
  int rc = 0;

  if (rank == 0) {
    token += rank + 1;
    /* With one rank, next == prev == 0: Sendrecv to self avoids a blocking send to oneself. */
    MPI_Sendrecv_replace(&token, 1, MPI_LONG, next, 0, prev, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    long expected = (long)size * (size + 1) / 2;
    if (token == expected) {
      printf("ring OK token=%ld\n", token);
    } else {
      printf("ring FAILED token=%ld expected=%ld\n", token, expected);
      rc = 1;
    }
  } else {
    MPI_Recv(&token, 1, MPI_LONG, prev, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    token += rank + 1;
    MPI_Send(&token, 1, MPI_LONG, next, 0, MPI_COMM_WORLD);
  }
  /* Rank 0's verdict decides every rank's exit code. */
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return rc;
}
