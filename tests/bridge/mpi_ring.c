/* mpi_ring: the shim's MPI workload. A checked Allreduce, a 4 MiB ring shift (every rank sends
 * to the next) and a 4 MiB ping-pong between rank 0 and rank size/2, all contents verified. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE_BYTES (4 << 20)

static unsigned char pattern(int origin, long i) { return (unsigned char)(origin * 131 + i * 7); }

static int checkFrom(const unsigned char* buf, int origin) {
  for (long i = 0; i < MESSAGE_BYTES; i++)
    if (buf[i] != pattern(origin, i)) return 1;
  return 0;
}

static void fill(unsigned char* buf, int origin) {
  for (long i = 0; i < MESSAGE_BYTES; i++) buf[i] = pattern(origin, i);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size, bad = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  /* Allreduce: the sum over ranks of (rank + 1 + i) is size(size+1)/2 + size*i, exactly. */
  enum { kCount = 1 << 16 };
  double* sums = malloc(kCount * sizeof *sums);
  for (long i = 0; i < kCount; i++) sums[i] = rank + 1 + (double)i;
  MPI_Allreduce(MPI_IN_PLACE, sums, kCount, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  for (long i = 0; i < kCount; i++)
    if (sums[i] != size * (size + 1) / 2.0 + (double)size * (double)i) bad |= 1;
  free(sums);

  unsigned char* out = malloc(MESSAGE_BYTES);
  unsigned char* in = malloc(MESSAGE_BYTES);
  int next = (rank + 1) % size, prev = (rank + size - 1) % size;
  fill(out, rank);
  MPI_Sendrecv(out, MESSAGE_BYTES, MPI_BYTE, next, 1, in, MESSAGE_BYTES, MPI_BYTE, prev, 1,
               MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  if (checkFrom(in, prev)) bad |= 2;

  int partner = size / 2;
  if (size > 1 && (rank == 0 || rank == partner)) {
    for (int round = 0; round < 2; round++) {
      if (rank == 0) {
        fill(out, 1000 + round);
        MPI_Send(out, MESSAGE_BYTES, MPI_BYTE, partner, 2, MPI_COMM_WORLD);
        MPI_Recv(in, MESSAGE_BYTES, MPI_BYTE, partner, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (checkFrom(in, 2000 + round)) bad |= 4;
      } else {
        MPI_Recv(in, MESSAGE_BYTES, MPI_BYTE, 0, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (checkFrom(in, 1000 + round)) bad |= 4;
        fill(out, 2000 + round);
        MPI_Send(out, MESSAGE_BYTES, MPI_BYTE, 0, 3, MPI_COMM_WORLD);
      }
    }
  }
  free(out);
  free(in);

  int anyBad = 0;
  MPI_Allreduce(&bad, &anyBad, 1, MPI_INT, MPI_BOR, MPI_COMM_WORLD);
  if (bad) fprintf(stderr, "mpi_ring: rank %d failed checks 0x%x\n", rank, bad);
  if (rank == 0) printf("mpi_ring %s ranks=%d\n", anyBad ? "FAILED" : "OK", size);
  MPI_Finalize();
  return anyBad ? 1 : 0;
}
