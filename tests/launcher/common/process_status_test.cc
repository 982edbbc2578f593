// Wait statuses as both ends describe them, from real child processes.
#include "common/process_status.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ionet::launcher {
namespace {

int statusOfChild(void (*body)()) {
  const pid_t pid = ::fork();
  if (pid == 0) body();
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

TEST(ProcessStatus, ExitCodeOfAChildThatExited) {
  const Termination t = decodeWaitStatus(statusOfChild([] { ::_exit(3); }));
  EXPECT_EQ(t.exitCode, 3);
  EXPECT_EQ(t.signal, 0);
  EXPECT_EQ(describeWaitStatus(t), "exited with code 3");
}

TEST(ProcessStatus, SignalOfAChildThatWasKilled) {
  const Termination t = decodeWaitStatus(statusOfChild([] {
    ::raise(SIGKILL);
    ::_exit(0);
  }));
  EXPECT_EQ(t.signal, SIGKILL);
  EXPECT_EQ(t.exitCode, 0);
  EXPECT_EQ(describeWaitStatus(t), "killed by signal 9 (Killed)");
}

}  // namespace
}  // namespace ionet::launcher
