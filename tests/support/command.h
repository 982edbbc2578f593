// Runs a real command for integration tests: its output is collected line by line with arrival
// times, so tests wait for conditions ("rank 3 ready") with deadlines instead of sleeping.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ionet::test {

using Clock = std::chrono::steady_clock;

struct TimedLine {
  std::string text;
  Clock::time_point at;
};

struct CommandResult {
  bool finished = false;        // false: killed at the deadline
  bool outputComplete = false;  // false: something still held its stdout/stderr 5 s later
  int exitCode = -1;            // valid when signal == 0
  int signal = 0;
  std::string out, err;
  std::vector<TimedLine> outLines;
  Clock::time_point startedAt, endedAt;
  double seconds() const { return std::chrono::duration<double>(endedAt - startedAt).count(); }
  std::vector<std::string> sortedLines() const;
};

// Whether pid is a live Command's own child (its Command waits for it; nobody else may). The
// caller holds commandProcessLock(), which Command holds across its fork.
std::mutex& commandProcessLock();
bool isCommandProcess(pid_t pid);
// Commands that ran an ionet program ("ionet-agent[123] killed by SIGSEGV") and were found,
// when waited for, to have crashed; each is returned once.
std::vector<std::string> takeCommandCrashes();

class Command {
 public:
  // env: extra "NAME=value" on top of this process's environment.
  Command(std::vector<std::string> argv, std::vector<std::string> env = {},
          std::string stdinData = "", bool closeStdin = true);
  ~Command();

  pid_t pid() const { return pid_; }
  void signal(int signum) const;

  // Waits until pred(stdout so far) holds; false at the deadline.
  bool waitForOutput(const std::function<bool(const std::string&)>& pred,
                     std::chrono::milliseconds timeout);

  // The same, on stderr.
  bool waitForStderr(const std::function<bool(const std::string&)>& pred,
                     std::chrono::milliseconds timeout);

  // What it printed so far, for failure messages of the waits above.
  std::string transcript();

  // Waits for exit; kills the process group at the deadline (finished=false).
  CommandResult wait(std::chrono::milliseconds timeout);

 private:
  void readLoop(int outFd, int errFd);
  void stopReader(std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  pid_t forkedPid_ = -1;      // registered for isCommandProcess until destroyed
  std::string ionetProgram_;  // the ionet-* program it runs, if any (crashes are reported)
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  CommandResult result_;
  std::string partial_;
  bool eof_ = false;
  int wakeRead_ = -1, wakeWrite_ = -1;
};

// Runs to completion (deadline default 60 s).
CommandResult run(std::vector<std::string> argv, std::vector<std::string> env = {},
                  std::string stdinData = "",
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Number of lines of text equal to line / containing needle.
int countLines(const std::string& text, const std::string& line);
int countContaining(const std::string& text, const std::string& needle);

}  // namespace ionet::test
