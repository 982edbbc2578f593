#include "command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>
#include <sstream>
#include <utility>

#include "crash_watch.h"

extern char** environ;

namespace ionet::test {
namespace {

// Every Command's own child, for CrashWatch: those are waited for by their Command.
std::set<pid_t> commandPids;
// How Commands that ran an ionet program crashed, for CrashWatch (under commandProcessLock).
std::vector<std::string> commandCrashes;

// The ionet program a command line runs ("ionet-run", also behind "ip netns exec"), if any.
std::string ionetProgramOf(const std::vector<std::string>& argv) {
  for (const auto& a : argv) {
    if (a.find(' ') != std::string::npos) continue;  // a shell's script, not a program
    const std::string base = a.substr(a.rfind('/') + 1);
    if (base.rfind("ionet-", 0) == 0) return base;
  }
  return "";
}

}  // namespace

std::mutex& commandProcessLock() {
  static std::mutex lock;
  return lock;
}

bool isCommandProcess(pid_t pid) { return commandPids.count(pid) > 0; }

std::vector<std::string> takeCommandCrashes() {
  std::lock_guard<std::mutex> lock(commandProcessLock());
  return std::exchange(commandCrashes, {});
}

std::vector<std::string> CommandResult::sortedLines() const {
  std::vector<std::string> lines;
  for (const auto& l : outLines) lines.push_back(l.text);
  std::sort(lines.begin(), lines.end());
  return lines;
}

Command::Command(std::vector<std::string> argv, std::vector<std::string> env, std::string stdinData,
                 bool closeStdin)
    : ionetProgram_(ionetProgramOf(argv)) {
  int out[2], err[2], in[2];
  if (::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC) || ::pipe2(in, O_CLOEXEC)) {
    throw std::runtime_error("pipe2 failed");
  }
  std::vector<std::string> fullEnv;
  for (char** e = environ; *e; ++e) fullEnv.emplace_back(*e);
  for (auto& e : env) fullEnv.push_back(e);
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : fullEnv) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  result_.startedAt = Clock::now();
  // Forked and registered under the lock: CrashWatch's reaper never sees our child unregistered.
  std::unique_lock<std::mutex> registry(commandProcessLock());
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);  // so a deadline kill takes the whole tree
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execvpe(cargv[0], cargv.data(), cenv.data());
    std::fprintf(stderr, "exec %s: %s\n", cargv[0], std::strerror(errno));
    _exit(127);
  }
  ::setpgid(pid_, pid_);
  forkedPid_ = pid_;
  commandPids.insert(pid_);
  registry.unlock();
  ::close(out[1]);
  ::close(err[1]);
  ::close(in[0]);
  // Feed stdin from a thread of its own: the child may read it slowly.
  std::thread([fd = in[1], data = std::move(stdinData), closeStdin] {
    std::size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    if (closeStdin) ::close(fd);
  }).detach();
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC)) throw std::runtime_error("pipe2 failed");
  wakeRead_ = wake[0];
  wakeWrite_ = wake[1];
  reader_ = std::thread([this, o = out[0], e = err[0]] { readLoop(o, e); });
}

Command::~Command() {
  if (pid_ > 0 && !result_.finished) {
    ::kill(-pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  stopReader(std::chrono::milliseconds(0));
  ::close(wakeRead_);
  ::close(wakeWrite_);
  std::lock_guard<std::mutex> lock(commandProcessLock());
  commandPids.erase(forkedPid_);
}

// Output ends when every holder of the pipes is gone (agents, ranks). A holder that outlives
// the deadline is a bug the test reports; the reader is woken so the test never hangs.
void Command::stopReader(std::chrono::milliseconds timeout) {
  if (!reader_.joinable()) return;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return eof_; })) {
      char c = 1;
      ssize_t n = ::write(wakeWrite_, &c, 1);
      (void)n;
    }
  }
  reader_.join();
}

void Command::signal(int signum) const { ::kill(pid_, signum); }

void Command::readLoop(int outFd, int errFd) {
  pollfd fds[3] = {{outFd, POLLIN, 0}, {errFd, POLLIN, 0}, {wakeRead_, POLLIN, 0}};
  int open = 2;
  char buf[65536];
  while (open > 0) {
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents & POLLIN) {
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd >= 0) ::close(fds[i].fd);
      }
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
        continue;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      const auto now = Clock::now();
      if (i == 1) {
        result_.err.append(buf, n);
      } else {
        result_.out.append(buf, n);
        partial_.append(buf, n);
        std::size_t pos;
        while ((pos = partial_.find('\n')) != std::string::npos) {
          result_.outLines.push_back({partial_.substr(0, pos), now});
          partial_.erase(0, pos + 1);
        }
      }
      changed_.notify_all();
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (!partial_.empty()) result_.outLines.push_back({partial_, Clock::now()});
  eof_ = true;
  changed_.notify_all();
}

bool Command::waitForOutput(const std::function<bool(const std::string&)>& pred,
                            std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return pred(result_.out) || eof_; }) &&
         pred(result_.out);
}

bool Command::waitForStderr(const std::function<bool(const std::string&)>& pred,
                            std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return pred(result_.err) || eof_; }) &&
         pred(result_.err);
}

std::string Command::transcript() {
  std::lock_guard<std::mutex> lock(mutex_);
  return "stdout so far:\n" + result_.out + "\nstderr so far:\n" + result_.err;
}

CommandResult Command::wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (Clock::now() >= deadline) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      result_.finished = false;
      stopReader(std::chrono::seconds(5));
      result_.endedAt = Clock::now();
      pid_ = -1;
      return result_;
    }
    // Poll the child at 5 ms: waitpid has no timeout, and a SIGCHLD handler would be global.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  result_.endedAt = Clock::now();
  result_.finished = true;
  result_.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result_.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  if (auto crash = crashOf(status); !crash.empty() && !ionetProgram_.empty()) {
    std::lock_guard<std::mutex> lock(commandProcessLock());
    commandCrashes.push_back(ionetProgram_ + "[" + std::to_string(pid_) + "] " + crash);
  }
  stopReader(
      std::max(std::chrono::milliseconds(5000),
               std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())));
  std::lock_guard<std::mutex> lock(mutex_);
  result_.outputComplete = eof_;
  return result_;
}

CommandResult run(std::vector<std::string> argv, std::vector<std::string> env,
                  std::string stdinData, std::chrono::milliseconds timeout) {
  Command c(std::move(argv), std::move(env), std::move(stdinData));
  return c.wait(timeout);
}

int countLines(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  int n = 0;
  for (std::string l; std::getline(in, l);) n += l == line;
  return n;
}

int countContaining(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  int n = 0;
  for (std::string l; std::getline(in, l);) n += l.find(needle) != std::string::npos;
  return n;
}

}  // namespace ionet::test
