// fork/exec of ranks. Between fork and exec the child runs only async-signal-safe calls on
// data prepared before the fork (the agent has PMIx threads).
#include "agent/rank_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ionet/error.h"

namespace ionet::launcher {
namespace {

struct PipeFds {
  int read = -1;
  int write = -1;
};

PipeFds makePipe() {
  int fds[2];
  IONET_ENFORCE(::pipe2(fds, O_CLOEXEC) == 0, "pipe2: ", std::strerror(errno));
  return {fds[0], fds[1]};
}

std::vector<char*> cStrings(const std::vector<std::string>& items) {
  std::vector<char*> out;
  for (const auto& s : items) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

void writeAll(int fd, const char* s) {
  ssize_t n = ::write(fd, s, std::strlen(s));
  (void)n;
}

[[noreturn]] void execChild(const RankSpec& spec, char** argv, char** envp, PipeFds in, PipeFds out,
                            PipeFds err, pid_t parent) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) _exit(127);
  int devnull = in.read < 0 ? ::open("/dev/null", O_RDONLY) : in.read;
  ::dup2(devnull, 0);
  ::dup2(out.write, 1);
  ::dup2(err.write, 2);
  ::syscall(SYS_close_range, 3, ~0U, 0);
  // Ignored signals survive exec: give the program default dispositions and an empty mask.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) ::sigaction(s, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (!spec.workDir.empty() && ::chdir(spec.workDir.c_str()) != 0) {
    writeAll(2, "ionet-agent: cannot change to working directory ");
    writeAll(2, spec.workDir.c_str());
    writeAll(2, "\n");
    _exit(127);
  }
  ::execve(spec.path.c_str(), argv, envp);
  const char* why = std::strerror(errno);  // not async-signal-safe in theory; glibc's is
  writeAll(2, "ionet-agent: cannot execute ");
  writeAll(2, spec.path.c_str());
  writeAll(2, ": ");
  writeAll(2, why);
  writeAll(2, "\n");
  _exit(127);
}

}  // namespace

RankProcess::RankProcess(asio::io_context& io, const RankSpec& spec, OutputFn onOutput)
    : rank_(spec.rank), onOutput_(std::move(onOutput)), out_(io), err_(io) {
  PipeFds in;
  if (spec.withStdin) in = makePipe();
  PipeFds out = makePipe();
  PipeFds err = makePipe();
  auto argv = cStrings(spec.argv);
  auto envp = cStrings(spec.env);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  IONET_ENFORCE(pid_ >= 0, "fork for rank ", spec.rank, ": ", std::strerror(errno));
  if (pid_ == 0) execChild(spec, argv.data(), envp.data(), in, out, err, parent);
  ::setpgid(pid_, pid_);  // also in the parent: no window where signal() misses the group
  ::close(out.write);
  ::close(err.write);
  out_.fd.assign(out.read);
  err_.fd.assign(err.read);
  out_.fd.non_blocking(true);
  err_.fd.non_blocking(true);
  out_.open = err_.open = true;
  if (spec.withStdin) {
    ::close(in.read);
    stdin_.emplace(io, in.write);
    stdin_->non_blocking(true);
  }
  watch(StreamId::kStdout);
  watch(StreamId::kStderr);
}

RankProcess::~RankProcess() {
  closePipe(StreamId::kStdout);
  closePipe(StreamId::kStderr);
  if (stdin_) {
    asio::error_code ignored;
    stdin_->close(ignored);
  }
}

void RankProcess::signal(int signum) const {
  if (pid_ > 0) ::kill(-pid_, signum);
}

// Waits for readability and reads in the handler (not async_read_some): a reap can then drain
// the pipe without a queued handler holding older bytes, so output order is kept.
void RankProcess::watch(StreamId id) {
  Pipe& p = id == StreamId::kStdout ? out_ : err_;
  if (!p.open) return;
  p.fd.async_wait(asio::posix::stream_descriptor::wait_read, [this, id](asio::error_code ec) {
    if (ec) return;
    if (drain(id)) {
      watch(id);
    } else {
      closePipe(id);
    }
  });
}

bool RankProcess::drain(StreamId id) {
  Pipe& p = id == StreamId::kStdout ? out_ : err_;
  if (!p.open) return false;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(p.fd.native_handle(), buf, sizeof(buf));
    if (n > 0) {
      std::string lines = p.lines.feed(std::string_view(buf, n));
      if (!lines.empty()) onOutput_(rank_, id, std::move(lines));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;  // EOF or error
  }
}

void RankProcess::closePipe(StreamId id) {
  Pipe& p = id == StreamId::kStdout ? out_ : err_;
  if (!p.open) return;
  p.open = false;
  std::string rest = p.lines.flush();
  if (!rest.empty()) onOutput_(rank_, id, std::move(rest));
  asio::error_code ignored;
  p.fd.cancel(ignored);
  p.fd.close(ignored);
}

void RankProcess::markExited(int waitStatus) {
  status_ = waitStatus;
  // The process is gone, so what it wrote is in the pipe now. A child it left behind may still
  // hold the pipe open: we do not wait for that one (teardown kills the group anyway).
  for (StreamId id : {StreamId::kStdout, StreamId::kStderr}) {
    drain(id);
    closePipe(id);
  }
  closeStdin();
}

void RankProcess::writeStdin(std::string data) {
  if (!stdin_ || stdinClosing_) return;
  stdinPending_ += data;
  if (!stdinWriting_) pumpStdin();
}

void RankProcess::closeStdin() {
  stdinClosing_ = true;
  if (stdin_ && !stdinWriting_ && stdinPending_.empty()) {
    asio::error_code ignored;
    stdin_->close(ignored);
    stdin_.reset();
  }
}

void RankProcess::pumpStdin() {
  if (!stdin_) return;
  if (stdinPending_.empty()) {
    stdinWriting_ = false;
    if (stdinClosing_) closeStdin();
    return;
  }
  stdinWriting_ = true;
  auto chunk = std::make_shared<std::string>(std::move(stdinPending_));
  stdinPending_.clear();
  asio::async_write(*stdin_, asio::buffer(*chunk), [this, chunk](asio::error_code ec, std::size_t) {
    if (ec) {  // the rank closed its stdin or died: drop the rest, as a shell pipe would
      stdinPending_.clear();
      stdinWriting_ = false;
      stdinClosing_ = true;
      closeStdin();
      return;
    }
    pumpStdin();
  });
}

std::string resolveExecutable(const std::string& name, const std::string& pathVar,
                              const std::string& workDir) {
  auto executable = [](const std::string& p) { return ::access(p.c_str(), X_OK) == 0; };
  if (name.find('/') != std::string::npos) {
    std::string p = (name[0] == '/' || workDir.empty()) ? name : workDir + "/" + name;
    return executable(p) ? p : std::string();
  }
  std::size_t start = 0;
  while (start <= pathVar.size()) {
    std::size_t end = pathVar.find(':', start);
    if (end == std::string::npos) end = pathVar.size();
    std::string dir = pathVar.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string p = dir + "/" + name;
    if (dir[0] != '/' && !workDir.empty()) p = workDir + "/" + p;
    if (executable(p)) return p;
    start = end + 1;
  }
  return {};
}

}  // namespace ionet::launcher
