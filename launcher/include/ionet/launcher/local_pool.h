// The embedded local pool: ionet-agent processes on this machine, one per (emulated) host,
// started by ionet-run and dialing back to it on loopback.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ionet::launcher {

class LocalPool {
 public:
  // agentPath: the ionet-agent binary.
  explicit LocalPool(std::string agentPath) : agentPath_(std::move(agentPath)) {}

  // Starts one agent per host name; each connects to 127.0.0.1:port and presents token.
  void start(const std::vector<std::string>& hostNames, std::uint16_t port,
             const std::string& token);

  struct Exit {
    std::size_t host;
    int waitStatus;
  };
  // Reaps agents that ended (non-blocking).
  std::vector<Exit> reap();

  // Reaps host's agent if it ends within timeoutMs (its channel closing usually means it is
  // exiting); the wait status, or nothing.
  std::optional<int> awaitExit(std::size_t host, int timeoutMs);

  void signalAll(int signum) const;
  bool allExited() const;
  pid_t pid(std::size_t host) const { return agents_.at(host).pid; }

 private:
  struct Agent {
    std::string hostName;
    pid_t pid = -1;
    bool exited = false;
  };
  std::string agentPath_;
  std::vector<Agent> agents_;
};

// ionet-agent next to the running binary, or $IONET_AGENT.
std::string defaultAgentPath();

}  // namespace ionet::launcher
