/* coll_timing: median time of MPI collectives per message size, for bench/collectives.
 *
 *   coll_timing OPS SIZE...     OPS: allreduce|bcast|allgather|all, or a comma list
 *
 * For each op and size (bytes): one warm-up call, then 3..20 calls, each timed as one_call says
 * on the clock the emulated hosts share; only PMPI_ calls frame them (an interposed
 * MPI_Barrier is not what is measured). Rank 0 prints one line per size:
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
#include <time.h>

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

/* CLOCK_MONOTONIC: one clock for every process of this machine, which every emulated host
 * of the bench shares (MPI_Wtime may be a per-process cycle counter). */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One call, timed on the shared clock: from the moment the last rank entered it (a broadcast:
 * the moment the root entered it, the others having entered first) until the last rank
 * returned. Ranks leave a barrier up to a one-way delay apart, so a clock started after one
 * would count that skew; here the root of a broadcast waits 100 ms (longer than any skew of
 * the bench's links) before it starts, so every other rank is already waiting for the data. */
static double one_call(const char *op, void *sbuf, void *rbuf, size_t bytes, int np, int rank) {
  PMPI_Barrier(MPI_COMM_WORLD);
  const int bcast = strcmp(op, "bcast") == 0;
  if (bcast && rank == 0) {
    const double until = now() + 0.1;
    while (now() < until) {
    }
  }
  double start = now();
  if (run_op(op, sbuf, rbuf, bytes, np) != MPI_SUCCESS) PMPI_Abort(MPI_COMM_WORLD, 2);
  double end = now();
  if (bcast && rank != 0) start = 0; /* the root's entry counts */
  double first[2] = {start, end}, last[2];
  PMPI_Allreduce(first, last, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return last[1] - last[0];
}

/* One (op, size): the median over calls, in seconds (the same on every rank): one warm-up
 * call (connections, the library's layout), then at least 3 and at most 20 calls, until about
 * 1.5 s of them. */
static double time_op(const char *op, void *sbuf, void *rbuf, size_t bytes, int np, int rank) {
  double times[MAX_ITERS];
  int n = 0;
  double spent = 0;
  one_call(op, sbuf, rbuf, bytes, np, rank);
  for (;;) {
    const double t = one_call(op, sbuf, rbuf, bytes, np, rank);
    times[n++] = t;
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
      double med = time_op(op, sbuf, rbuf, bytes, np, rank);
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
