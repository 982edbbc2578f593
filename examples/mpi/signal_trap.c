/* signal_trap: every rank waits for SIGTERM or SIGINT and reports it, so tests can check that a
 * launcher delivers its signals to all ranks. SIGUSR1 and SIGUSR2 are reported and waited past. */
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t caught;

static void record(int sig) { caught = sig; }

int main(int argc, char** argv) {
  /* Blocked before MPI_Init so the threads it starts (PMIx, progress) inherit the mask: a
   * process-directed signal then waits for the main thread's sigsuspend. Blocked only in main,
   * a signal arriving just before sigsuspend went to a helper thread and main slept forever. */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGUSR1);
  sigaddset(&block, SIGUSR2);
  sigprocmask(SIG_BLOCK, &block, &old);

  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);

  /* Installed after MPI_Init so that ours, not any the MPI library set, are the ones in force. */
  struct sigaction sa = {0};
  sa.sa_handler = record;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);

  MPI_Barrier(MPI_COMM_WORLD);
  printf("rank %d ready\n", rank);
  fflush(stdout);
  for (;;) {
    while (!caught) sigsuspend(&old);
    if (caught != SIGUSR1 && caught != SIGUSR2) break;
    printf("rank %d got signal %d\n", rank, (int)caught);
    fflush(stdout);
    caught = 0;
  }

  printf("rank %d got signal %d\n", rank, (int)caught);
  fflush(stdout);
  /* No MPI_Finalize: peers are being killed too, and finalize would wait on them. */
  _exit(128 + caught);
}
