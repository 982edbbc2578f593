/* comm_split: splits the world by rank parity and checks a reduction inside each half. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int color = rank % 2;
  MPI_Comm sub;
  MPI_Comm_split(MPI_COMM_WORLD, color, rank, &sub);
  int sub_size;
  MPI_Comm_size(sub, &sub_size);
  long sum = 0, mine = rank;
  MPI_Allreduce(&mine, &sum, 1, MPI_LONG, MPI_SUM, sub);

  /* Ranks with parity c are c, c+2, ..., so k = (N-c+1)/2 of them summing to k*c + k*(k-1). */
  long k = (size - color + 1) / 2;
  long expected = k * color + k * (k - 1);
  int ok = sum == expected && sub_size == k;
  printf("split rank %d color %d sub_size %d sum %ld %s\n", rank, color, sub_size, sum,
         ok ? "OK" : "FAILED");
  if (!ok) fprintf(stderr, "rank %d: expected sub_size %ld sum %ld\n", rank, k, expected);
  MPI_Comm_free(&sub);
  MPI_Finalize();
  return ok ? 0 : 1;
}
