// How the ionet processes of a test ended, as far as the test can see them, for every
// integration test's teardown:
// - the kernel's log (/dev/kmsg) of fatal faults of any ionet-* process, however deep in the
//   tree (SIGSEGV, SIGBUS, SIGILL, SIGFPE: "ionet-agent[123]: segfault at ...");
// - the ionet programs the test ran itself (Command), as their Command found them ended;
// - the test's orphans: the test process is a child subreaper, so daemons that detach (the
//   queue daemon, shepherds) and processes whose parent died become its children, and their
//   wait statuses are read here (a SIGABRT shows only there);
// - sanitizer reports, in a sanitized build ($IONET_SANITIZER_LOG_DIR, where ASAN_OPTIONS and
//   UBSAN_OPTIONS log_path point).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ionet::test {

class CrashWatch {
 public:
  CrashWatch();  // watches from now on; makes this process a child subreaper
  ~CrashWatch();
  CrashWatch(const CrashWatch&) = delete;
  CrashWatch& operator=(const CrashWatch&) = delete;

  // One line per crash seen since construction or the last call.
  std::vector<std::string> crashes();

 private:
  // Reaps the orphans that ended, every 10 ms (never a Command's own child, which its Command
  // waits for): an orphan that is not reaped stays a zombie that kill(pid, 0) still finds.
  void reapLoop();
  void reapOrphans();

  int kmsg_ = -1;
  std::set<std::string> sanitizerReports_;
  std::mutex lock_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::vector<std::string> orphanCrashes_;
  std::thread reaper_;
};

// "killed by SIGSEGV" when a wait status is a crash (SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE,
// SIGSYS), "" otherwise: an exit status, or a signal a test or a teardown sends.
std::string crashOf(int waitStatus);

}  // namespace ionet::test
