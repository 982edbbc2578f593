/* chatter: floods stdout with long lines, each written in three pieces, so a launcher that
 * forwards raw chunks without assembling lines would visibly interleave ranks. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAYLOAD 200

/* write() may be partial on a pipe; finish the piece so the only splits are the deliberate ones. */
static void writeAll(const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w <= 0) exit(3);
    p += w;
    n -= (size_t)w;
  }
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  long lines = argc > 1 ? atol(argv[1]) : 2000;

  char payload[PAYLOAD];
  memset(payload, 'a' + rank % 26, sizeof payload);
  char prefix[64];
  for (long k = 0; k < lines; k++) {
    int n = snprintf(prefix, sizeof prefix, "rank %d line %ld ", rank, k);
    writeAll(prefix, (size_t)n);
    writeAll(payload, sizeof payload);
    writeAll("\n", 1);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  MPI_Finalize();
  return 0;
}
