/* slow_finish: ranks sleep a given time before a final barrier, for testing launch timeouts. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  double secs = argc > 1 ? atof(argv[1]) : 2.0;
  printf("rank %d started\n", rank);
  fflush(stdout);
  /* nanosleep rather than sleep() so fractional durations work; restart if interrupted. */
  struct timespec left = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
  while (secs > 0 && nanosleep(&left, &left) != 0) {
  }
  MPI_Barrier(MPI_COMM_WORLD);
  printf("rank %d done\n", rank);
  fflush(stdout);
  MPI_Finalize();
  return 0;
}
