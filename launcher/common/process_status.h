// What both ends say about a process: its output streams and how it ended (waitpid's status).
#pragma once

#include <string>

namespace ionet::launcher {

enum class StreamId { kStdout = 0, kStderr = 1 };

// How a process ended, from waitpid's status: its exit code, or the signal that killed it.
struct Termination {
  int exitCode = 0;  // valid when signal == 0
  int signal = 0;
};
Termination decodeWaitStatus(int waitStatus);

// "exited with code 3" / "killed by signal 11 (Segmentation fault)".
std::string describeWaitStatus(int exitCode, int signal);
inline std::string describeWaitStatus(Termination t) {
  return describeWaitStatus(t.exitCode, t.signal);
}

}  // namespace ionet::launcher
