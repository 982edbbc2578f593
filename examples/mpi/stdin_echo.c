/* stdin_echo: rank 0 consumes stdin to EOF and reports its size and checksum, to test that a
 * launcher forwards stdin to rank 0 intact and then closes it. */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    unsigned char buf[65536];
    unsigned long long bytes = 0;
    uint32_t sum = 0; /* unsigned wraparound gives the sum mod 2^32 */
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < n; i++) sum += buf[i];
      bytes += (unsigned long long)n;
    }
    printf("rank 0 read %llu bytes, checksum %u\n", bytes, (unsigned)sum);
    fflush(stdout);
  }
  MPI_Finalize();
  return 0;
}
