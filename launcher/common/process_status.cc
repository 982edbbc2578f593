#include "common/process_status.h"

#include <sys/wait.h>

#include <cstring>

namespace ionet::launcher {

Termination decodeWaitStatus(int waitStatus) {
  return {WIFEXITED(waitStatus) ? WEXITSTATUS(waitStatus) : 0,
          WIFSIGNALED(waitStatus) ? WTERMSIG(waitStatus) : 0};
}

std::string describeWaitStatus(int exitCode, int signal) {
  if (signal != 0) {
    return "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
  }
  return "exited with code " + std::to_string(exitCode);
}

}  // namespace ionet::launcher
