/* exit_code: plain process (no MPI) where one chosen rank exits with a chosen code and the rest
 * linger, for testing how a launcher reports a failure and tears the others down. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s RANK CODE\n", argv[0]);
    return 2;
  }
  const char* env = getenv("OMPI_COMM_WORLD_RANK");
  int rank = env ? atoi(env) : 0;
  if (rank == atoi(argv[1])) {
    printf("rank %d exiting with %d\n", rank, atoi(argv[2]));
    fflush(stdout);
    return atoi(argv[2]);
  }
  /* One-second steps so a teardown signal is noticed promptly whatever the sleep granularity. */
  for (int i = 0; i < 60; i++) sleep(1);
  return 0;
}
