/* allreduce: sums a large double vector across ranks and checks it against the closed form. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  long count = argc > 1 ? atol(argv[1]) : 1L << 20;
  if (count < 1) count = 1;

  double* buf = malloc((size_t)count * sizeof *buf);
  if (!buf) MPI_Abort(MPI_COMM_WORLD, 2);
  for (long i = 0; i < count; i++) buf[i] = rank + 1 + (double)i;
  MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);

  /* Sum over r of (r+1+i) = N(N+1)/2 + N*i; all terms are small integers, so the sum is exact. */
  double n = size;
  long bad_index = -1;
  for (long i = 0; i < count && bad_index < 0; i++)
    if (buf[i] != n * (n + 1) / 2 + n * (double)i) bad_index = i;

  /* Every rank must reach the same verdict, so the exit codes agree. */
  int my_err = bad_index >= 0, any_err = 0;
  MPI_Allreduce(&my_err, &any_err, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (my_err)
    fprintf(stderr, "rank %d: element %ld is %.17g, expected %.17g\n", rank, bad_index,
            buf[bad_index], n * (n + 1) / 2 + n * (double)bad_index);
  if (rank == 0) {
    if (any_err)
      printf("allreduce FAILED ranks=%d count=%ld\n", size, count);
    else
      printf("allreduce OK ranks=%d count=%ld\n", size, count);
  }
  free(buf);
  MPI_Finalize();
  return any_err ? 1 : 0;
}
