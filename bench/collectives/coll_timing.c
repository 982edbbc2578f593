/* coll_timing: median time of MPI collectives per message size, for bench/collectives.
 *
 *   coll_timing OPS SIZE...     OPS: allreduce|bcast|allgather|all, or a comma list
 *
 * For each op and size (bytes): one warm-up call, then samples (at least 3, more until about
 * 1.5 s is spent, at most 20), each timed as time_op says; only PMPI_ calls frame them (an
 * interposed MPI_Barrier is not what is measured). Rank 0 prints one line per size:
 *
 *   allreduce 1048576 232.100     (op, bytes, median ms)
 *
 * allreduce: MPI_FLOAT elements, MPI_SUM (so bf16/int8 WAN compression applies).
 * bcast: root 0.  allgather: SIZE is the total result; each rank contributes SIZE/np bytes.
 * Only the timed call goes through the interposable names (MPI_Allreduce, MPI_Bcast,
 * MPI_Allgather); all bookkeeping uses PMPI_.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_ITERS 3
#define MAX_ITERS 20
#define TARGET_SECONDS 1.5

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int run_op(const char *op, void *sbuf, void *rbuf, size_t bytes, int np) {
  if (strcmp(op, "allreduce") == 0) {
    int count = (int)(bytes / sizeof(float));
    if (count < 1) count = 1;
    return MPI_Allreduce(sbuf, rbuf, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
  if (strcmp(op, "bcast") == 0) return MPI_Bcast(rbuf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
  if (strcmp(op, "allgather") == 0) {
    int block = (int)(bytes / (size_t)np);
    if (block < 1) block = 1;
    return MPI_Allgather(sbuf, block, MPI_BYTE, rbuf, block, MPI_BYTE, MPI_COMM_WORLD);
  }
  return -1;
}

/* Seconds from leaving a barrier until rank 0 holds every rank's zero-byte answer to `ops`
 * back-to-back calls (0: the answer alone), timed on rank 0. */
static double batch_seconds(const char *op, void *sbuf, void *rbuf, size_t bytes, int np,
                            int ops) {
  char none = 0;
  PMPI_Barrier(MPI_COMM_WORLD);
  double t0 = PMPI_Wtime();
  for (int k = 0; k < ops; k++) {
    if (run_op(op, sbuf, rbuf, bytes, np) != MPI_SUCCESS) PMPI_Abort(MPI_COMM_WORLD, 2);
  }
  PMPI_Gather(&none, 0, MPI_BYTE, &none, 0, MPI_BYTE, 0, MPI_COMM_WORLD);
  double t = PMPI_Wtime() - t0;
  PMPI_Bcast(&t, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD); /* every rank decides alike */
  return t;
}

/* One (op, size): the median over samples, in seconds (the same on every rank). A sample is
 * rank 0's time for a batch of calls plus every rank's answer, less the answer alone, per
 * call: ranks leave a barrier up to a one-way delay apart, and a broadcast's root is done
 * long before its data lands, so neither a per-rank clock after a barrier nor the root's
 * alone measures the collective. Batches of 5 below 1 MiB spread the skew over 5 calls. */
static double time_op(const char *op, void *sbuf, void *rbuf, size_t bytes, int np) {
  double times[MAX_ITERS];
  const int batch = bytes < (1u << 20) ? 5 : 1;
  int n = 0;
  double spent = 0;
  batch_seconds(op, sbuf, rbuf, bytes, np, 1); /* warm-up: connections, the library's layout */
  double answers[MIN_ITERS];
  for (int i = 0; i < MIN_ITERS; i++) answers[i] = batch_seconds(op, sbuf, rbuf, bytes, np, 0);
  qsort(answers, MIN_ITERS, sizeof answers[0], cmp_double);
  const double answer = answers[MIN_ITERS / 2];
  for (;;) {
    const double t = batch_seconds(op, sbuf, rbuf, bytes, np, batch);
    times[n++] = (t - answer) / batch;
    spent += t;
    if (n >= MAX_ITERS || (n >= MIN_ITERS && spent >= TARGET_SECONDS)) break;
  }
  qsort(times, (size_t)n, sizeof times[0], cmp_double);
  return n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, np;
  PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
  PMPI_Comm_size(MPI_COMM_WORLD, &np);
  if (argc < 3) {
    if (rank == 0) fprintf(stderr, "usage: %s allreduce|bcast|allgather|all[,..] SIZE...\n", argv[0]);
    MPI_Finalize();
    return 2;
  }
  char ops[256];
  snprintf(ops, sizeof ops, "%s", strcmp(argv[1], "all") == 0 ? "allreduce,bcast,allgather" : argv[1]);
  size_t maxbytes = 0;
  for (int i = 2; i < argc; i++) {
    size_t b = strtoull(argv[i], NULL, 0);
    if (b > maxbytes) maxbytes = b;
  }
  size_t alloc = maxbytes + (size_t)np * 4 + 64;
  float *sbuf = malloc(alloc), *rbuf = malloc(alloc);
  if (!sbuf || !rbuf) PMPI_Abort(MPI_COMM_WORLD, 3);
  for (size_t i = 0; i < alloc / sizeof(float); i++) sbuf[i] = (float)((i + (size_t)rank) % 97) * 0.25f;
  memset(rbuf, 0, alloc);

  for (char *save = NULL, *op = strtok_r(ops, ",", &save); op; op = strtok_r(NULL, ",", &save)) {
    if (strcmp(op, "allreduce") && strcmp(op, "bcast") && strcmp(op, "allgather")) {
      if (rank == 0) fprintf(stderr, "coll_timing: unknown op %s\n", op);
      PMPI_Abort(MPI_COMM_WORLD, 2);
    }
    for (int i = 2; i < argc; i++) {
      size_t bytes = strtoull(argv[i], NULL, 0);
      double med = time_op(op, sbuf, rbuf, bytes, np);
      if (rank == 0) {
        printf("%s %zu %.3f\n", op, bytes, med * 1e3);
        fflush(stdout);
      }
    }
  }
  free(sbuf);
  free(rbuf);
  MPI_Finalize();
  return 0;
}
