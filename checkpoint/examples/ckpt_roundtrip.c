/* Writes checkpoint sets 1..STEPS with per-rank data through libionet-ckpt's C API, restores
 * the newest one and checks every value. With CKPT_FAIL_RANK=r, rank r fails its write of the
 * last step (it writes one dataset twice, which HDF5 rejects): that commit must fail on every
 * rank, and the restore must come back with the step before.
 * Usage: ckpt_roundtrip DIR [STEPS]   (exit 0 when everything is as expected) */
#include <ionet_ckpt.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ROWS = 4, COLS = 8 };

static double value(int rank, int64_t step, int i) { return rank * 1000.0 + step * 10.0 + i; }

static int write_set(ionet_ckpt_t* h, int rank, int size, int64_t step, int fail) {
  double field[ROWS * COLS];
  int32_t owners[64];
  uint64_t dims[2] = {ROWS, COLS}, n = (uint64_t)(size < 64 ? size : 64);
  char meta[64];
  for (int i = 0; i < ROWS * COLS; ++i) field[i] = value(rank, step, i);
  for (uint64_t i = 0; i < n; ++i) owners[i] = (int32_t)(i * step);
  snprintf(meta, sizeof meta, "rank %d of %d", rank, size);
  if (ionet_ckpt_begin(h, step) != IONET_CKPT_OK) {
    printf("rank %d: begin %lld failed: %s\n", rank, (long long)step, ionet_ckpt_error(h));
    return -1;
  }
  /* A failed write is reported by commit on every rank: keep going to commit. */
  if (ionet_ckpt_write(h, "field", IONET_CKPT_FLOAT64, 2, dims, field) != IONET_CKPT_OK ||
      ionet_ckpt_write(h, "owners", IONET_CKPT_INT32, 1, &n, owners) != IONET_CKPT_OK ||
      ionet_ckpt_set_meta(h, "who", meta) != IONET_CKPT_OK)
    printf("rank %d: write failed: %s\n", rank, ionet_ckpt_error(h));
  if (fail && ionet_ckpt_write(h, "field", IONET_CKPT_FLOAT64, 2, dims, field) != IONET_CKPT_OK)
    printf("rank %d: deliberate write failure: %s\n", rank, ionet_ckpt_error(h));
  int rc = ionet_ckpt_commit(h);
  if (rc != IONET_CKPT_OK) {
    printf("rank %d: commit of step %lld failed (%s): %s\n", rank, (long long)step,
           ionet_ckpt_status_name(rc), ionet_ckpt_error(h));
    return -1;
  }
  return 0;
}

static int check_restored(ionet_ckpt_t* h, int rank, int size, int64_t expected) {
  int64_t step = -1;
  if (ionet_ckpt_restore(h, &step) != IONET_CKPT_OK) {
    printf("rank %d: restore failed: %s\n", rank, ionet_ckpt_error(h));
    return -1;
  }
  if (step != expected) {
    printf("rank %d: restored step %lld, expected %lld\n", rank, (long long)step,
           (long long)expected);
    return -1;
  }
  ionet_ckpt_dtype dtype;
  int ndims = 0;
  uint64_t dims[IONET_CKPT_MAX_DIMS];
  if (ionet_ckpt_shape(h, "field", &dtype, &ndims, dims, IONET_CKPT_MAX_DIMS) != IONET_CKPT_OK ||
      dtype != IONET_CKPT_FLOAT64 || ndims != 2 || dims[0] != ROWS || dims[1] != COLS) {
    printf("rank %d: wrong shape of field: %s\n", rank, ionet_ckpt_error(h));
    return -1;
  }
  double field[ROWS * COLS];
  if (ionet_ckpt_read(h, "field", IONET_CKPT_FLOAT64, field, sizeof field) != IONET_CKPT_OK) {
    printf("rank %d: read failed: %s\n", rank, ionet_ckpt_error(h));
    return -1;
  }
  for (int i = 0; i < ROWS * COLS; ++i)
    if (field[i] != value(rank, step, i)) {
      printf("rank %d: field[%d] = %g, expected %g\n", rank, i, field[i], value(rank, step, i));
      return -1;
    }
  const char* who = NULL;
  char expect[64];
  snprintf(expect, sizeof expect, "rank %d of %d", rank, size);
  if (ionet_ckpt_get_meta(h, "who", &who) != IONET_CKPT_OK || strcmp(who, expect) != 0) {
    printf("rank %d: metadata 'who' is '%s': %s\n", rank, who ? who : "", ionet_ckpt_error(h));
    return -1;
  }
  printf("rank %d: restored step %lld, data ok\n", rank, (long long)step);
  return 0;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 2) {
    if (rank == 0) fprintf(stderr, "usage: %s DIR [STEPS]\n", argv[0]);
    MPI_Finalize();
    return 2;
  }
  int64_t steps = argc > 2 ? atoll(argv[2]) : 3;
  const char* failEnv = getenv("CKPT_FAIL_RANK");
  int failRank = failEnv ? atoi(failEnv) : -1;

  ionet_ckpt_t* h = NULL;
  int ok = ionet_ckpt_open(argv[1], 2, MPI_COMM_WORLD, &h) == IONET_CKPT_OK;
  if (!ok) printf("rank %d: open failed: %s\n", rank, ionet_ckpt_error(h));
  int64_t committed = 0;
  for (int64_t step = 1; ok && step <= steps; ++step) {
    int fail = step == steps && rank == failRank;
    int rc = write_set(h, rank, size, step, fail);
    if (rc == 0) {
      committed = step;
      if (rank == 0) printf("committed step %lld\n", (long long)step);
    }
    /* Expected: every step commits, except the last one when a rank fails it. */
    if ((rc == 0) != !(failRank >= 0 && step == steps)) ok = 0;
  }
  if (ok && check_restored(h, rank, size, committed) != 0) ok = 0;
  ionet_ckpt_close(h);

  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (rank == 0) printf(all ? "ckpt_roundtrip: ok\n" : "ckpt_roundtrip: FAILED\n");
  MPI_Finalize();
  return all ? 0 : 1;
}
