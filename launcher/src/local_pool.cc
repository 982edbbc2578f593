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
#include <random>

#include "ionet/error.h"
#include "ionet/launcher/rank_process.h"
#include "ionet/wan/credentials.h"

extern char** environ;

namespace ionet::launcher {

std::string defaultAgentPath() {
  if (const char* p = std::getenv("IONET_AGENT")) return p;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  IONET_ENFORCE(!ec, "cannot locate ionet-run's own binary: ", ec.message());
  return (self.parent_path() / "ionet-agent").string();
}

pid_t spawnAgentProcess(const std::vector<std::string>& args, std::vector<std::string> env,
                        bool dieWithParent) {
  IONET_ENFORCE(!args.empty() && ::access(args[0].c_str(), X_OK) == 0, "cannot execute the agent ",
                args.empty() ? "" : args[0], ": ", std::strerror(errno));
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argCopy = args;
  std::vector<char*> argv;
  for (auto& a : argCopy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  IONET_ENFORCE(pid >= 0, "fork of agent: ", std::strerror(errno));
  if (pid == 0) {
    // Own process group: a terminal's ^C reaches ionet-run, which forwards it. A local agent
    // hears of ionet-run's death twice: its session ends and it gets SIGTERM.
    ::setpgid(0, 0);
    if (dieWithParent) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) _exit(1);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::syscall(SYS_close_range, 3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::signal(SIGUSR1, SIG_DFL);  // ionet-run ignores them between runs; ignoring survives exec
    ::signal(SIGUSR2, SIG_DFL);
    ::execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  ::setpgid(pid, pid);
  return pid;
}

std::vector<std::string> agentEnvironment(const std::vector<std::string>& secrets) {
  // Secrets travel in the environment: argv is world-readable in /proc.
  std::vector<std::string> env = secrets;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "IONET_AGENT_TOKEN=", 18) != 0 &&
        std::strncmp(*e, "IONET_AGENT_PSK=", 16) != 0) {
      env.emplace_back(*e);
    }
  }
  return env;
}

std::string randomHex(std::size_t bytes) {
  std::random_device rd;
  std::string out;
  const char* digits = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += digits[v >> 4];
    out += digits[v & 15];
  }
  return out;
}

LocalPool::LocalPool(std::string agentPath)
    : agentPath_(std::move(agentPath)), pskHex_(randomHex(32)) {}

wan::Credentials localPoolCredentials(const std::string& pskHex, const std::string& nodeName) {
  wan::Credentials c;
  c.poolName = "local";
  c.nodeName = nodeName;
  for (std::size_t i = 0; i + 1 < pskHex.size(); i += 2) {
    c.psk.push_back(static_cast<char>(std::stoi(pskHex.substr(i, 2), nullptr, 16)));
  }
  return c;
}

wan::Security LocalPool::serverSecurity() const {
  return wan::Security::fromCredentials(localPoolCredentials(pskHex_, "launcher"),
                                        wan::TlsRole::server);
}

void LocalPool::start(const std::vector<std::string>& hosts, const std::string&,
                      const std::string& launcher, const std::string& token, ExitHandler onExit) {
  onExit_ = std::move(onExit);
  const auto env = agentEnvironment({"IONET_AGENT_TOKEN=" + token, "IONET_AGENT_PSK=" + pskHex_});
  for (const auto& name : hosts) {
    const pid_t pid =
        spawnAgentProcess({agentPath_, "--connect", launcher, "--host-name", name}, env, true);
    agents_.push_back({name, pid, false});
  }
}

void LocalPool::poll() {
  for (std::size_t i = 0; i < agents_.size(); ++i) {
    auto& a = agents_[i];
    int status = 0;
    if (a.exited || ::waitpid(a.pid, &status, WNOHANG) != a.pid) continue;
    a.exited = true;
    const Termination t = decodeWaitStatus(status);
    if (onExit_) onExit_(i, describeWaitStatus(t), t.signal != 0 || t.exitCode != 0);
  }
}

std::optional<std::string> LocalPool::awaitExit(std::size_t host, int timeoutMs) {
  auto& a = agents_.at(host);
  if (a.exited) return std::nullopt;
  for (int waited = 0;; waited += 5) {
    int status = 0;
    if (::waitpid(a.pid, &status, WNOHANG) == a.pid) {
      a.exited = true;
      return describeWaitStatus(decodeWaitStatus(status));
    }
    if (waited >= timeoutMs) return std::nullopt;
    ::usleep(5000);
  }
}

void LocalPool::signal(std::size_t host, int signum) {
  const auto& a = agents_.at(host);
  if (!a.exited) ::kill(a.pid, signum);
}

void LocalPool::signalAll(int signum) {
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
