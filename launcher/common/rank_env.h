// The environment contract: every variable ionet sets in a rank, built in one place.
// docs/environment.md lists them; keep the two in step.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ionet::launcher {

// Where one rank sits in the job.
struct RankPlace {
  std::uint32_t rank = 0;
  std::uint32_t worldSize = 1;
  std::uint32_t localRank = 0;  // index among the ranks of its host
  std::uint32_t localSize = 1;  // ranks on its host
  std::uint32_t hostIndex = 0;  // index of its host in the job's node order
  std::string hostName;
};

struct JobEnvInputs {
  std::string jobId;
  std::string masterAddr;        // rank 0's host
  std::uint32_t masterPort = 0;  // free on rank 0's host
  std::string vaderDir;          // per-job, per-host Open MPI shared-memory backing directory
  bool oversubscribed = false;   // more ranks than cores on this host
  // The data path (empty forwarder: ranks connect directly): libionet-shim.so is preloaded,
  // and the ranks publish and dial the job's virtual addresses on the virtual interface.
  std::string shimPath;          // libionet-shim.so
  std::string forwarder;         // "127.0.0.1:PORT" of this host's forwarder
  std::string virtualAddress;    // this host's, dotted
  std::string directPeers;       // IONET_DIRECT: "VADDR=IPV4,..." of hosts in our direct site
  std::string inheritedPreload;  // LD_PRELOAD the ranks would have had without us
  // NCCL through libnccl-net-ionet.so (empty: NCCL's own sockets, through the shim).
  std::string ncclPlugin;          // its absolute path
  std::string ncclAgent;           // IONET_NCCL_AGENT: the host agent's endpoint
  std::string ncclHostId;          // NCCL_HOSTID: one per host of the job
  std::string cudaVisibleDevices;  // the rank's GPUs ("0,1"); empty: not set
};

// Variables for one rank ("NAME=value"), excluding PMIx's own (setup_fork adds those) and the
// user's -x / --mca ones (the agent merges those last, so they win even over these: a user's
// -x LD_PRELOAD=... replaces the data path's shim).
std::vector<std::string> rankEnvironment(const RankPlace& place, const JobEnvInputs& job);

// The value of name in a "NAME=value" environment, if set.
std::optional<std::string> environmentValue(const std::vector<std::string>& env,
                                            const std::string& name);

// Merges assignments into a "NAME=value" environment: later entries replace earlier ones.
std::vector<std::string> mergeEnvironment(std::vector<std::string> base,
                                          const std::vector<std::string>& overrides);

// The data path needs its shim preloaded. When the job's own variables replaced LD_PRELOAD
// (-x LD_PRELOAD=...), the shim goes back in front of what they name.
std::vector<std::string> keepShimPreloaded(std::vector<std::string> env,
                                           const std::string& shimPath);

}  // namespace ionet::launcher
