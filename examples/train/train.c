/* train: a deterministic data-parallel training loop (linear regression on synthetic data) that
 * checkpoints its weights every K steps through libionet-ckpt and prints a checksum of its final
 * weights. Started again after a failure (ionet-run --max-restarts), it resumes from the newest
 * verified set and ends with the same weights, bit for bit, as a run that never failed.
 *
 *   train [STEPS [EVERY [DIM]]]     defaults 200 steps, a checkpoint every 20, 4096 weights
 *
 * Determinism: each rank's samples come from a generator seeded by (rank, step), and gradients
 * are summed on rank 0 in rank order (not by MPI_Allreduce, whose order may follow placement),
 * so the result depends only on the number of ranks.
 *
 * Fault injection for the tests: with TRAIN_STOP_IN_CHECKPOINT=N, rank 1 of a first run
 * (IONET_RESTART_COUNT unset or 0) stops itself with SIGSTOP after writing its part of set N
 * and before the commit, so a test can kill it while the set is half written. */
#include <inttypes.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ionet_ckpt.h"

enum { kSamples = 16 };

/* splitmix64: a small, well-mixed generator; (rank, step, i) fully determine each value. */
static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
static double uniform(uint64_t seed) { return (double)(mix(seed) >> 11) * 0x1.0p-53 - 0.5; }

static uint64_t fnv1a(const void* data, size_t n) {
  const unsigned char* p = data;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

/* Whether this rank stops inside the commit of set `step` (TRAIN_STOP_IN_CHECKPOINT). */
static int stopInCheckpoint(int rank, long step) {
  const char* at = getenv("TRAIN_STOP_IN_CHECKPOINT");
  const char* restarts = getenv("IONET_RESTART_COUNT");
  return rank == 1 && at && atol(at) == step && (!restarts || strcmp(restarts, "0") == 0);
}

static void check(ionet_ckpt_t* ck, int status, const char* what) {
  if (status == IONET_CKPT_OK) return;
  fprintf(stderr, "train: %s: %s\n", what, ionet_ckpt_error(ck));
  MPI_Abort(MPI_COMM_WORLD, 3);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const long steps = argc > 1 ? atol(argv[1]) : 200;
  const long every = argc > 2 ? atol(argv[2]) : 20;
  const long dim = argc > 3 ? atol(argv[3]) : 4096;
  if (steps < 1 || every < 1 || dim < 1) {
    if (rank == 0) fprintf(stderr, "usage: train [STEPS [EVERY [DIM]]]\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }

  double* w = calloc((size_t)dim, sizeof *w);
  double* grad = malloc((size_t)dim * sizeof *grad);
  double* all = rank == 0 ? malloc((size_t)dim * (size_t)size * sizeof *all) : NULL;
  double* x = malloc((size_t)dim * sizeof *x);
  if (!w || !grad || !x || (rank == 0 && !all)) MPI_Abort(MPI_COMM_WORLD, 2);

  /* The checkpoint directory is $IONET_CHECKPOINT_DIR, set by ionet-run --checkpoint-dir. */
  ionet_ckpt_t* ck = NULL;
  check(ck, ionet_ckpt_open(NULL, 2, MPI_COMM_WORLD, &ck), "opening the checkpoint directory");
  long start = 0;
  int64_t restored = 0;
  int status = ionet_ckpt_restore(ck, &restored);
  if (status == IONET_CKPT_OK) {
    check(ck, ionet_ckpt_read(ck, "weights", IONET_CKPT_FLOAT64, w, (uint64_t)dim * sizeof *w),
          "reading the weights");
    start = (long)restored;
    if (rank == 0) printf("resumed from step %ld (%s)\n", start, ionet_ckpt_restored_path(ck));
  } else if (status != IONET_CKPT_ERR_NOT_FOUND) {
    check(ck, status, "restoring");
  }
  fflush(stdout);

  for (long step = start; step < steps; step++) {
    /* Local gradient of the squared error against a fixed target model t_j = sin-like(j). */
    memset(grad, 0, (size_t)dim * sizeof *grad);
    for (int s = 0; s < kSamples; s++) {
      const uint64_t seed = ((uint64_t)rank << 48) ^ ((uint64_t)step << 16) ^ (uint64_t)s;
      double pred = 0, target = 0;
      for (long j = 0; j < dim; j++) {
        x[j] = uniform(seed * 1000003ull + (uint64_t)j);
        pred += w[j] * x[j];
        target += x[j] * (double)((j % 7) - 3);
      }
      const double err = pred - target;
      for (long j = 0; j < dim; j++) grad[j] += err * x[j];
    }
    MPI_Gather(grad, (int)dim, MPI_DOUBLE, all, (int)dim, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (rank == 0) {
      for (long j = 0; j < dim; j++) {
        double sum = 0;
        for (int r = 0; r < size; r++) sum += all[(size_t)r * (size_t)dim + (size_t)j];
        w[j] -= 0.01 * sum / (double)(kSamples * size);
      }
    }
    MPI_Bcast(w, (int)dim, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if ((step + 1) % every == 0 || step + 1 == steps) {
      check(ck, ionet_ckpt_begin(ck, step + 1), "beginning a checkpoint");
      const uint64_t dims[1] = {(uint64_t)dim};
      /* A failed write (ENOSPC) is not fatal here: commit then fails on every rank alike,
       * naming the rank and the error, and no rank is left waiting in the commit. */
      ionet_ckpt_write(ck, "weights", IONET_CKPT_FLOAT64, 1, dims, w);
      if (stopInCheckpoint(rank, step + 1)) raise(SIGSTOP);
      check(ck, ionet_ckpt_commit(ck), "committing the checkpoint");
      if (rank == 0) printf("checkpoint step %ld\n", step + 1);
    }
    if (rank == 0) printf("step %ld\n", step + 1);
    fflush(stdout);
  }
  if (rank == 0) printf("final weights checksum %016" PRIx64 "\n", fnv1a(w, (size_t)dim * sizeof *w));
  ionet_ckpt_close(ck);
  free(w);
  free(grad);
  free(all);
  free(x);
  MPI_Finalize();
  return 0;
}
