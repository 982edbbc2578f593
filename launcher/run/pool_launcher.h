// A pool of real hosts (pool.toml): the launcher opens a session to each host's pool agent
// (ionet-agent --pool), collects their registrations (cores, memory, GPUs), and has the placed
// hosts' pool agents start the job's agents, which dial back to the launcher.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hosts/pool_file.h"
#include "ionet/wan/credentials.h"
#include "run/agent_launcher.h"
#include "run/placement.h"

namespace ionet::launcher {

class PoolLauncher : public AgentLauncher {
 public:
  PoolLauncher(asio::io_context& io, PoolFile pool);
  ~PoolLauncher() override;

  // Sessions to every host's pool agent; waits up to `timeout` for their registrations. Hosts
  // that do not answer are left out with a warning; throws Error when none answers.
  Pool discover(std::chrono::milliseconds timeout);

  std::string listenAddress() const override { return "0.0.0.0"; }
  std::string advertisedAddress() const override { return advertised_; }
  wan::Security serverSecurity() const override;
  wan::SessionOptions sessionOptions() const override { return options_; }
  void start(const std::vector<std::string>& hosts, const std::string& jobId,
             const std::string& launcher, const std::string& token, ExitHandler onExit) override;
  std::optional<std::string> awaitExit(std::size_t host, int timeoutMs) override;
  void signal(std::size_t host, int signum) override;
  void signalAll(int signum) override;
  bool allExited() const override;
  bool agentsAreLocal() const override { return false; }
  DirectRoute directRoute(std::size_t host) const override;
  std::string dataEndpoint(std::size_t host, std::uint32_t dataPort,
                           const std::string& jobId) const override;

  // Closes the sessions to the pool agents.
  void close();

 private:
  struct Member;
  void onMessage(Member& m, const std::string& bytes);
  Member* placed(std::size_t host) const;

  asio::io_context& io_;
  PoolFile pool_;
  wan::Credentials credentials_;
  wan::SessionOptions options_;
  std::string advertised_;
  std::string jobId_;
  std::map<std::string, std::shared_ptr<Member>> members_;  // by host name
  std::vector<std::string> placedHosts_;                    // node order of the job
  ExitHandler onExit_;
};

}  // namespace ionet::launcher
