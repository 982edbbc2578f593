/* ckpt_write_bench: writes checkpoint sets through libionet-ckpt and times each from begin to a
 * returned commit (so the fsyncs, checksums, manifest and rename are all inside the time).
 *
 *   ckpt_write_bench DIR MIB_PER_RANK SETS
 *
 * Rank 0 prints one line per set: "set <step> bytes <total over all ranks> seconds <s>". */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ionet_ckpt.h"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc != 4) {
    if (rank == 0) fprintf(stderr, "usage: ckpt_write_bench DIR MIB_PER_RANK SETS\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  const uint64_t bytes = (uint64_t)atol(argv[2]) << 20;
  const int sets = atoi(argv[3]);
  unsigned char* data = malloc(bytes);
  if (!data) MPI_Abort(MPI_COMM_WORLD, 2);
  /* Not zeros: the bytes are hashed, and a filesystem may treat zero pages specially. */
  for (uint64_t i = 0; i < bytes; i++) data[i] = (unsigned char)(i * 2654435761u >> 13) ^ rank;

  ionet_ckpt_t* ck = NULL;
  if (ionet_ckpt_open(argv[1], 2, MPI_COMM_WORLD, &ck) != IONET_CKPT_OK) {
    fprintf(stderr, "ckpt_write_bench: %s\n", ionet_ckpt_error(ck));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  for (int s = 1; s <= sets; s++) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    const uint64_t dims[1] = {bytes};
    int st = ionet_ckpt_begin(ck, s);
    if (st == IONET_CKPT_OK) st = ionet_ckpt_write(ck, "data", IONET_CKPT_UINT8, 1, dims, data);
    int committed = ionet_ckpt_commit(ck);
    if (st != IONET_CKPT_OK || committed != IONET_CKPT_OK) {
      fprintf(stderr, "ckpt_write_bench: %s\n", ionet_ckpt_error(ck));
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    const double seconds = MPI_Wtime() - t0;
    if (rank == 0) {
      printf("set %d bytes %llu seconds %.6f\n", s, (unsigned long long)(bytes * (uint64_t)size),
             seconds);
      fflush(stdout);
    }
  }
  ionet_ckpt_close(ck);
  free(data);
  MPI_Finalize();
  return 0;
}
