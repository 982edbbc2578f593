#include "run/local_launcher.h"

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

#include "common/agent_process.h"
#include "common/process_status.h"
#include "ionet/error.h"
#include "ionet/wan/credentials.h"

extern char** environ;

namespace ionet::launcher {

LocalLauncher::LocalLauncher(std::string agentPath)
    : agentPath_(std::move(agentPath)), pskHex_(randomHex(32)) {}

wan::Security LocalLauncher::serverSecurity() const {
  return wan::Security::fromCredentials(localPoolCredentials(pskHex_, "launcher"),
                                        wan::TlsRole::server);
}

void LocalLauncher::start(const std::vector<std::string>& hosts, const std::string&,
                          const std::string& launcher, const std::string& token,
                          ExitHandler onExit) {
  onExit_ = std::move(onExit);
  const auto env = agentEnvironment({"IONET_AGENT_TOKEN=" + token, "IONET_AGENT_PSK=" + pskHex_});
  for (const auto& name : hosts) {
    const pid_t pid =
        spawnAgentProcess({agentPath_, "--connect", launcher, "--host-name", name}, env, true);
    agents_.push_back({name, pid, false});
  }
}

void LocalLauncher::poll() {
  for (std::size_t i = 0; i < agents_.size(); ++i) {
    auto& a = agents_[i];
    int status = 0;
    if (a.exited || ::waitpid(a.pid, &status, WNOHANG) != a.pid) continue;
    a.exited = true;
    const Termination t = decodeWaitStatus(status);
    if (onExit_) onExit_(i, describeWaitStatus(t), t.signal != 0 || t.exitCode != 0);
  }
}

std::optional<std::string> LocalLauncher::awaitExit(std::size_t host, int timeoutMs) {
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

void LocalLauncher::signal(std::size_t host, int signum) {
  const auto& a = agents_.at(host);
  if (!a.exited) ::kill(a.pid, signum);
}

void LocalLauncher::signalAll(int signum) {
  for (const auto& a : agents_) {
    if (!a.exited) ::kill(a.pid, signum);
  }
}

void LocalLauncher::removeLeftovers(std::size_t, bool, const std::vector<std::string>& dirs) {
  std::error_code ignored;
  for (const auto& d : dirs) {
    if (!d.empty()) std::filesystem::remove_all(d, ignored);
  }
}

bool LocalLauncher::allExited() const {
  for (const auto& a : agents_) {
    if (!a.exited) return false;
  }
  return true;
}

}  // namespace ionet::launcher
