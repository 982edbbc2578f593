// Inside a Slurm allocation: the job's agents are one srun step, one ionet-agent per node
// (srun --overlap -N k -n k --ntasks-per-node=1), each naming itself after SLURMD_NODENAME and
// dialing back to ionet-run with the job's one-time key, as the embedded pool's agents do.
#pragma once

#include <sys/types.h>

#include <array>
#include <asio.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "run/agent_launcher.h"
#include "run/slurm_allocation.h"

namespace ionet::launcher {

// The srun command line that starts one agent on each of `nodes` (pure; unit-tested).
std::vector<std::string> slurmAgentStep(const std::string& jobId,
                                        const std::vector<std::string>& nodes,
                                        const std::string& agentPath, const std::string& launcher,
                                        bool cpuBinding);
// srun's line for a task that ended badly ("srun: error: n2: task 1: Killed", "... tasks 2-3:
// Exited with exit code 3"): the node and how. nullopt for any other line.
struct SrunTaskExit {
  std::string node, how;
  bool operator==(const SrunTaskExit&) const = default;
};
std::optional<SrunTaskExit> parseSrunTaskExit(const std::string& line);

// Whether Slurm binds tasks to CPUs, from `scontrol show config` (TaskPlugin other than
// task/none): then the agents' step asks for no binding.
bool slurmBindsTasks(const std::string& scontrolConfig);

class SlurmLauncher : public AgentLauncher {
 public:
  // directLinks: ranks on different nodes dial each other's NodeAddr (one trusted site);
  // false: through the agents' sessions, as between a pool's sites. Asks scontrol for the
  // allocation's node addresses; throws Error when Slurm cannot be asked.
  SlurmLauncher(asio::io_context& io, std::string agentPath, SlurmAllocation allocation,
                bool directLinks);

  std::string listenAddress() const override { return "0.0.0.0"; }
  std::string advertisedAddress() const override { return advertised_; }
  wan::Security serverSecurity() const override;
  wan::SessionOptions sessionOptions() const override { return {}; }
  void start(const std::vector<std::string>& hosts, const std::string& jobId,
             const std::string& launcher, const std::string& token, ExitHandler onExit) override;
  void poll() override;
  // One step runs every agent: an agent killed by a signal is known from srun's line about its
  // task (read from srun's stderr, which is passed on); any other end when the step ends.
  std::optional<std::string> awaitExit(std::size_t host, int timeoutMs) override;
  // srun passes a signal to every task of the step: there is no signal for one node alone.
  void signal(std::size_t host, int signum) override;
  void signalAll(int signum) override;
  bool allExited() const override { return srun_ < 0; }
  bool agentsAreLocal() const override { return false; }
  std::string dataEndpoint(std::size_t host, std::uint32_t dataPort,
                           const std::string& jobId) const override;
  DirectRoute directRoute(std::size_t host) const override;
  // A lost agent's directories on its node: removed by a one-task step there (at most 5 s; a
  // node that is really gone keeps them, and Slurm's node cleanup is then the owner's).
  void removeLeftovers(std::size_t host, bool lost, const std::vector<std::string>& dirs) override;

 private:
  std::string nodeAddress(std::size_t host) const;
  void readSrunOutput();
  void onSrunLine(const std::string& line);
  void report(std::size_t host, const std::string& how, bool failed);

  asio::io_context& io_;
  std::unique_ptr<asio::posix::stream_descriptor> srunStderr_;
  std::string partialLine_;
  std::array<char, 4096> readBuffer_{};

  std::string agentPath_;
  std::string srunPath_;  // srun as found on PATH, as a job script finds it
  SlurmAllocation allocation_;
  bool directLinks_;
  bool cpuBinding_ = true;
  std::map<std::string, std::string> addresses_;  // node name -> its IPv4 address
  std::string advertised_;
  std::string pskHex_;
  std::vector<std::string> hosts_;  // this run's nodes, in host order
  std::vector<bool> reported_;
  pid_t srun_ = -1;
  ExitHandler onExit_;
};

}  // namespace ionet::launcher
