#include "crash_watch.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "command.h"

namespace fs = std::filesystem;

namespace ionet::test {
namespace {

std::set<std::string> reportsIn(const char* dir) {
  std::set<std::string> out;
  std::error_code ec;
  if (!dir || !*dir) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.insert(e.path().string());
  return out;
}

// The kernel's line for a fatal fault of an ionet process: "ionet-agent[12]: segfault at 0 ..."
// or "traps: ionet-run[12] general protection fault ...".
bool isIonetFault(const std::string& message) {
  const bool fault = message.find("segfault at") != std::string::npos ||
                     message.find("traps:") != std::string::npos ||
                     message.find("general protection") != std::string::npos ||
                     message.find("trap invalid opcode") != std::string::npos;
  return fault && message.find("ionet") != std::string::npos;
}

// Children of this process (any thread's), zombies included.
std::vector<pid_t> children() {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/self/task", ec)) {
    std::ifstream in(task.path() / "children");
    for (pid_t pid; in >> pid;) out.push_back(pid);
  }
  return out;
}

std::string commOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name.empty() ? "?" : name;
}

}  // namespace

std::string crashOf(int waitStatus) {
  if (!WIFSIGNALED(waitStatus)) return "";
  const int sig = WTERMSIG(waitStatus);
  for (int crash : {SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGSYS}) {
    if (sig == crash) return std::string("killed by SIG") + ::sigabbrev_np(sig);
  }
  return "";
}

CrashWatch::CrashWatch() {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  kmsg_ = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (kmsg_ >= 0) ::lseek(kmsg_, 0, SEEK_END);
  sanitizerReports_ = reportsIn(std::getenv("IONET_SANITIZER_LOG_DIR"));
  reaper_ = std::thread([this] { reapLoop(); });
}

CrashWatch::~CrashWatch() {
  {
    std::lock_guard<std::mutex> lock(lock_);
    stop_ = true;
  }
  wake_.notify_all();
  reaper_.join();
  reapOrphans();
  // Orphans of later code go to init again, which reaps them.
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  if (kmsg_ >= 0) ::close(kmsg_);
}

void CrashWatch::reapLoop() {
  std::unique_lock<std::mutex> lock(lock_);
  while (!stop_) {
    lock.unlock();
    reapOrphans();
    lock.lock();
    wake_.wait_for(lock, std::chrono::milliseconds(10), [this] { return stop_; });
  }
}

void CrashWatch::reapOrphans() {
  std::vector<std::string> crashed;
  {
    std::lock_guard<std::mutex> registry(commandProcessLock());
    for (pid_t pid : children()) {
      if (isCommandProcess(pid)) continue;
      const std::string comm = commOf(pid);
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) != pid) continue;  // still running
      if (auto crash = crashOf(status); !crash.empty()) {
        crashed.push_back(comm + "[" + std::to_string(pid) + "] " + crash);
      }
    }
  }
  std::lock_guard<std::mutex> lock(lock_);
  orphanCrashes_.insert(orphanCrashes_.end(), crashed.begin(), crashed.end());
}

std::vector<std::string> CrashWatch::crashes() {
  std::vector<std::string> out;
  if (kmsg_ >= 0) {
    char record[8192];
    for (;;) {
      const ssize_t n = ::read(kmsg_, record, sizeof record - 1);
      if (n < 0 && errno == EPIPE) continue;  // overwritten records: read on
      if (n <= 0) break;
      record[n] = '\0';
      const char* text = std::strchr(record, ';');
      std::string message = text ? text + 1 : record;
      if (!message.empty() && message.back() == '\n') message.pop_back();
      if (isIonetFault(message)) out.push_back("kernel: " + message);
    }
  }
  reapOrphans();
  {
    std::lock_guard<std::mutex> lock(lock_);
    out.insert(out.end(), orphanCrashes_.begin(), orphanCrashes_.end());
    orphanCrashes_.clear();
  }
  for (auto& c : takeCommandCrashes()) out.push_back(std::move(c));
  const auto reports = reportsIn(std::getenv("IONET_SANITIZER_LOG_DIR"));
  for (const auto& r : reports) {
    if (sanitizerReports_.count(r)) continue;
    std::ifstream in(r);
    std::stringstream text;
    text << in.rdbuf();
    out.push_back("sanitizer report " + r + ":\n" + text.str());
  }
  sanitizerReports_ = reports;
  return out;
}

}  // namespace ionet::test
