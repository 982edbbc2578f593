// Starting an ionet-agent process, as ionet-run (the embedded pool) and a pool agent both do:
// where the binary is, its environment and secrets, and the embedded pool's one-job key.
#include "common/agent_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

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

pid_t spawnAgentProcess(const std::vector<std::string>& args, std::vector<std::string> env,
                        bool dieWithParent, int stderrFd) {
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
    if (stderrFd >= 0) ::dup2(stderrFd, 2);
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

wan::Credentials localPoolCredentials(const std::string& pskHex, const std::string& nodeName) {
  wan::Credentials c;
  c.poolName = "local";
  c.nodeName = nodeName;
  for (std::size_t i = 0; i + 1 < pskHex.size(); i += 2) {
    c.psk.push_back(static_cast<char>(std::stoi(pskHex.substr(i, 2), nullptr, 16)));
  }
  return c;
}

}  // namespace ionet::launcher
