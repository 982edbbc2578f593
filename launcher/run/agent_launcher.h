// Where a job's agents come from: the embedded local pool (forked here) or a pool of hosts whose
// pool agents start them (remote_pool.h). The launcher drives a job through this interface only.
#pragma once

#include <asio.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ionet/wan/session.h"

namespace ionet::launcher {

class AgentLauncher {
 public:
  virtual ~AgentLauncher() = default;

  // How the launcher's session server listens for the job's agents and proves itself.
  virtual std::string listenAddress() const = 0;
  virtual std::string advertisedAddress() const = 0;  // what agents dial (with the port)
  virtual wan::Security serverSecurity() const = 0;
  virtual wan::SessionOptions sessionOptions() const = 0;

  // How an agent ended: host index, how ("killed by signal 9"), and whether that is a failure.
  using ExitHandler = std::function<void(std::size_t host, const std::string& how, bool failed)>;
  // Starts one agent per host (node order); each dials `launcher` and presents `token`.
  virtual void start(const std::vector<std::string>& hosts, const std::string& jobId,
                     const std::string& launcher, const std::string& token, ExitHandler onExit) = 0;
  // SIGCHLD arrived (local agents are our children).
  virtual void poll() {}
  // If the host's agent is ending right now (its session dropped), how it ended — waiting at
  // most timeoutMs for a local one.
  virtual std::optional<std::string> awaitExit(std::size_t host, int timeoutMs) = 0;
  virtual void signal(std::size_t host, int signum) = 0;
  virtual void signalAll(int signum) = 0;
  virtual bool allExited() const = 0;
  // The agents run on this machine (the embedded pool): the launcher removes what one killed
  // with -9 leaves, and emulated hosts meet on loopback when the data path is off.
  virtual bool agentsAreLocal() const = 0;

  // After a run: the private directories of host's agent (its hello's), which one killed with
  // -9 leaves behind; lost: its session ended before it said the job was done. Local agents'
  // are removed here; a pool agent removes its job agents' itself.
  virtual void removeLeftovers(std::size_t /*host*/, bool /*lost*/,
                               const std::vector<std::string>& /*dirs*/) {}

  // Where the forwarder of `host` (which reported dataPort) accepts other agents' sessions.
  virtual std::string dataEndpoint(std::size_t host, std::uint32_t dataPort,
                                   const std::string& jobId) const = 0;
  // Placed host `host` in a direct site (pool.direct_sites): the site and its IPv4 address, which
  // ranks of the same site dial kernel to kernel. Empty strings otherwise.
  struct DirectRoute {
    std::string site, ipv4;
  };
  virtual DirectRoute directRoute(std::size_t) const { return {}; }
};

}  // namespace ionet::launcher
