// The embedded local pool: ionet-agent processes on this machine, one per (emulated) host,
// started by ionet-run and dialing back to it on loopback with a key made for the job.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "run/agent_launcher.h"

namespace ionet::launcher {

class LocalLauncher : public AgentLauncher {
 public:
  // agentPath: the ionet-agent binary.
  explicit LocalLauncher(std::string agentPath);

  std::string listenAddress() const override { return "127.0.0.1"; }
  std::string advertisedAddress() const override { return "127.0.0.1"; }
  wan::Security serverSecurity() const override;
  wan::SessionOptions sessionOptions() const override { return {}; }
  void start(const std::vector<std::string>& hosts, const std::string& jobId,
             const std::string& launcher, const std::string& token, ExitHandler onExit) override;
  void poll() override;
  std::optional<std::string> awaitExit(std::size_t host, int timeoutMs) override;
  void signal(std::size_t host, int signum) override;
  void signalAll(int signum) override;
  bool allExited() const override;
  bool agentsAreLocal() const override { return true; }
  void removeLeftovers(std::size_t host, bool lost, const std::vector<std::string>& dirs) override;
  std::string dataEndpoint(std::size_t, std::uint32_t dataPort, const std::string&) const override {
    return "127.0.0.1:" + std::to_string(dataPort);
  }

 private:
  struct Agent {
    std::string hostName;
    pid_t pid = -1;
    bool exited = false;
  };
  std::string agentPath_;
  std::string pskHex_;  // authenticates the job's sessions, both ways
  std::vector<Agent> agents_;
  ExitHandler onExit_;
};

}  // namespace ionet::launcher
