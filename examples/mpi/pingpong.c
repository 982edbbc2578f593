/* pingpong: rank 0 and rank 1 bounce a message of BYTES a fixed number of times and rank 0
 * prints the rate: "pingpong BYTES bytes x ROUNDS round trips: R Mbit/s". Unlike NetPIPE it runs
 * exactly the round trips asked for, which a slow (lossy, long) link needs. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  long bytes = argc > 1 ? atol(argv[1]) : 1L << 20;
  long rounds = argc > 2 ? atol(argv[2]) : 10;
  if (size != 2 || bytes < 1 || bytes > (1L << 30) || rounds < 1) {
    if (rank == 0) fprintf(stderr, "usage: pingpong BYTES ROUNDS (2 ranks; BYTES up to 1 GiB)\n");
    MPI_Finalize();
    return 2;
  }
  char* buf = malloc((size_t)bytes);
  if (!buf) MPI_Abort(MPI_COMM_WORLD, 2);
  memset(buf, rank, (size_t)bytes);
  /* One small exchange first: the connection between the ranks is set up outside the timing. */
  MPI_Sendrecv_replace(buf, 1, MPI_CHAR, 1 - rank, 0, 1 - rank, 0, MPI_COMM_WORLD,
                       MPI_STATUS_IGNORE);
  MPI_Barrier(MPI_COMM_WORLD);
  double start = MPI_Wtime();
  for (long i = 0; i < rounds; i++) {
    if (rank == 0) {
      MPI_Send(buf, (int)bytes, MPI_CHAR, 1, 1, MPI_COMM_WORLD);
      MPI_Recv(buf, (int)bytes, MPI_CHAR, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      MPI_Recv(buf, (int)bytes, MPI_CHAR, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(buf, (int)bytes, MPI_CHAR, 0, 1, MPI_COMM_WORLD);
    }
  }
  double seconds = MPI_Wtime() - start;
  if (rank == 0) {
    printf("pingpong %ld bytes x %ld round trips: %.1f Mbit/s\n", bytes, rounds,
           2.0 * (double)bytes * (double)rounds * 8 / seconds / 1e6);
  }
  free(buf);
  MPI_Finalize();
  return 0;
}
