#include "ionet/launcher/local_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "ionet/error.h"

extern char** environ;

namespace ionet::launcher {

std::string defaultAgentPath() {
  if (const char* p = std::getenv("IONET_AGENT")) return p;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  IONET_ENFORCE(!ec, "cannot locate ionet-run's own binary: ", ec.message());
  return (self.parent_path() / "ionet-agent").string();
}

void LocalPool::start(const std::vector<std::string>& hostNames, std::uint16_t port,
                      const std::string& token) {
  IONET_ENFORCE(::access(agentPath_.c_str(), X_OK) == 0, "cannot execute the agent ", agentPath_,
                ": ", std::strerror(errno));
  const std::string connect = "127.0.0.1:" + std::to_string(port);
  const pid_t parent = ::getpid();
  // The token travels in the environment: argv is world-readable in /proc.
  std::vector<std::string> env = {"IONET_AGENT_TOKEN=" + token};
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "IONET_AGENT_TOKEN=", 18) != 0) env.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (const auto& name : hostNames) {
    std::vector<std::string> args = {agentPath_, "--connect", connect, "--host-name", name};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    IONET_ENFORCE(pid >= 0, "fork of agent for ", name, ": ", std::strerror(errno));
    if (pid == 0) {
      // Own process group: a terminal's ^C reaches ionet-run, which forwards it. The agent
      // hears of ionet-run's death twice: its channel closes and it gets SIGTERM.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) _exit(1);
      int devnull = ::open("/dev/null", O_RDONLY);
      ::dup2(devnull, 0);
      ::syscall(SYS_close_range, 3, ~0U, 0);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::signal(SIGPIPE, SIG_DFL);
      ::execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    ::setpgid(pid, pid);
    agents_.push_back({name, pid, false});
  }
}

std::vector<LocalPool::Exit> LocalPool::reap() {
  std::vector<Exit> exits;
  for (std::size_t i = 0; i < agents_.size(); ++i) {
    auto& a = agents_[i];
    if (a.exited) continue;
    int status = 0;
    if (::waitpid(a.pid, &status, WNOHANG) == a.pid) {
      a.exited = true;
      exits.push_back({i, status});
    }
  }
  return exits;
}

std::optional<int> LocalPool::awaitExit(std::size_t host, int timeoutMs) {
  auto& a = agents_.at(host);
  if (a.exited) return std::nullopt;
  for (int waited = 0;; waited += 5) {
    int status = 0;
    if (::waitpid(a.pid, &status, WNOHANG) == a.pid) {
      a.exited = true;
      return status;
    }
    if (waited >= timeoutMs) return std::nullopt;
    ::usleep(5000);
  }
}

void LocalPool::signalAll(int signum) const {
  for (const auto& a : agents_) {
    if (!a.exited) ::kill(a.pid, signum);
  }
}

bool LocalPool::allExited() const {
  for (const auto& a : agents_) {
    if (!a.exited) return false;
  }
  return true;
}

}  // namespace ionet::launcher
