// ionet's PMIx server: what slurmstepd is for `srun --mpi=pmix`. One per agent process.
// It registers a job's namespace and local ranks with libpmix, prepares each rank's
// environment, and hands fences, aborts and direct-modex requests to the agent through hooks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ionet::bridge {

// Completes a fence or a direct-modex request: status is a PMIx status (0 = success).
// May be called from any thread, exactly once.
using ModexCompletion = std::function<void(int status, std::string data)>;

struct FenceRequest {
  std::string signature;  // "*" for the whole job, else the participating ranks "0,3,5"
  std::string data;       // this host's contribution
  ModexCompletion complete;
};

struct DmodexRequest {
  std::uint32_t rank;
  ModexCompletion complete;
};

// Hooks run on PMIx's progress thread and must not block: post to your own loop.
struct PmixHooks {
  std::function<void(FenceRequest)> onFence;
  std::function<void(DmodexRequest)> onDmodex;
  std::function<void(std::uint32_t rank, int status, std::string message)> onAbort;
  std::function<void(std::uint32_t rank)> onConnected;
  std::function<void(std::uint32_t rank)> onFinalized;
};

struct JobLayout {
  std::string nspace;                             // same on every host of the job
  std::vector<std::string> hostNames;             // node order
  std::vector<std::vector<std::uint32_t>> ranks;  // ranks[h] = ranks on host h, ascending
  std::uint32_t hostIndex = 0;                    // this host
  std::string sessionDir;                         // PMIX_TMPDIR / PMIX_NSDIR for the job
};

class PmixServer {
 public:
  // Starts libpmix's server side; its rendezvous files go under tmpDir. hostName is the name
  // of this host in job layouts (emulated hosts share one kernel hostname).
  PmixServer(const std::string& tmpDir, const std::string& hostName, PmixHooks hooks);
  ~PmixServer();
  PmixServer(const PmixServer&) = delete;
  PmixServer& operator=(const PmixServer&) = delete;

  // Registers the namespace and this host's ranks; blocks until libpmix has taken them.
  void registerJob(const JobLayout& layout);

  // Environment entries ("NAME=value") PMIx needs in a local rank before exec.
  std::vector<std::string> setupFork(std::uint32_t rank);

  // Asks libpmix for a local rank's modex data (answering another host's direct modex).
  void dmodexRequest(std::uint32_t rank, ModexCompletion complete);

  // Forgets the job (local ranks first); blocks until done.
  void deregisterJob();

 private:
  std::string nspace_;
  std::vector<std::uint32_t> localRanks_;
};

// Canonical participant signature of a fence: "*" when the whole namespace takes part.
std::string fenceSignature(const std::vector<std::uint32_t>& ranks, bool wholeJob);

}  // namespace ionet::bridge
