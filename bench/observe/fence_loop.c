/* fence_loop: N PMIx fences with data collection, as MPI_Init's modex does, so that every one
 * crosses the hosts and ionet-run (an MPI_Barrier would not: Open MPI's barrier runs over the
 * ranks' own connections). Each rank puts a small value first, so each fence carries a blob.
 * Rank 0 prints each fence's wall time in microseconds, one line "fence_us T1 T2 ...".
 *
 *   fence_loop [FENCES]        default 1000; built by fence_latency_bench.py against libpmix */
#include <pmix.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char** argv) {
  long fences = argc > 1 ? atol(argv[1]) : 1000;
  if (fences < 1) fences = 1;
  pmix_proc_t me;
  pmix_status_t rc = PMIx_Init(&me, NULL, 0);
  if (rc != PMIX_SUCCESS) {
    fprintf(stderr, "fence_loop: PMIx_Init: %s\n", PMIx_Error_string(rc));
    return 1;
  }
  pmix_proc_t all;
  PMIX_PROC_CONSTRUCT(&all);
  memcpy(all.nspace, me.nspace, sizeof all.nspace);
  all.rank = PMIX_RANK_WILDCARD;
  pmix_info_t collect;
  bool yes = true;
  PMIX_INFO_LOAD(&collect, PMIX_COLLECT_DATA, &yes, PMIX_BOOL);

  double* took = calloc((size_t)fences, sizeof *took);
  int status = took ? 0 : 1;
  for (long i = 0; i < fences && status == 0; i++) {
    char key[32];
    pmix_value_t v;
    snprintf(key, sizeof key, "fence_loop.%ld", i % 8);
    PMIX_VALUE_LOAD(&v, &i, PMIX_INT64);
    if ((rc = PMIx_Put(PMIX_GLOBAL, key, &v)) != PMIX_SUCCESS ||
        (rc = PMIx_Commit()) != PMIX_SUCCESS) {
      fprintf(stderr, "fence_loop: put/commit: %s\n", PMIx_Error_string(rc));
      status = 1;
      break;
    }
    const double t0 = now_us();
    rc = PMIx_Fence(&all, 1, &collect, 1);
    took[i] = now_us() - t0;
    if (rc != PMIX_SUCCESS) {
      fprintf(stderr, "fence_loop: fence %ld: %s\n", i, PMIx_Error_string(rc));
      status = 1;
    }
  }
  if (me.rank == 0 && status == 0) {
    printf("fence_us");
    for (long i = 0; i < fences; i++) printf(" %.1f", took[i]);
    printf("\n");
    fflush(stdout);
  }
  free(took);
  PMIX_INFO_DESTRUCT(&collect);
  PMIx_Finalize(NULL, 0);
  return status;
}
