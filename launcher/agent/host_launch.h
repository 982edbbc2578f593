// What an agent starts for a job on its host: the PMIx layout of the whole job and, for each of
// this host's ranks, the program, arguments, working directory and environment (the contract of
// rank_env.h, the data path's settings, the rank's GPUs, the job's own variables last). Built
// from the launcher's LaunchJob and a few facts about the host; starts nothing, so the agent
// only adds PMIx's per-rank variables and forks.
#pragma once

#include <string>
#include <vector>

#include "agent/rank_process.h"
#include "common/control.h"
#include "ionet/bridge/pmix_server.h"

namespace ionet::launcher {

struct HostFacts {
  std::string hostName;                  // this host's name in the job
  std::string sessionDir;                // PMIx's directory for the job
  std::string vaderDir;                  // Open MPI's shared-memory directory for the job
  std::string checkpointDir;             // this host's own, when the job checkpoints
  std::string shimPath;                  // libionet-shim.so, when the job uses the data path
  std::string ncclPlugin;                // libnccl-net-ionet.so, when the job's NCCL uses it
  std::string collLibrary;               // libionet-coll.so, when the job's ranks get it
  std::string ncclAgent;                 // the agent's NcclEndpoint address
  unsigned forwarderPort = 0;            // where the shim reaches this host's forwarder
  std::vector<std::string> environment;  // the agent's own, "NAME=value"
  unsigned cores = 1;                    // more ranks than this: oversubscribed
};

struct HostLaunch {
  bridge::JobLayout layout;
  std::vector<RankSpec> ranks;  // this host's, in rank order
};

// Throws Error when the program cannot be found, or the data path has no shim.
HostLaunch planHostLaunch(const control::LaunchJob& job, const HostFacts& host);

// This process's environment, "NAME=value".
std::vector<std::string> processEnvironment();

// A library of ionet's that ranks load: $envName, else beside the agent's lib directory (build
// tree: bin/ and lib/; installed: bin/ and lib/ionet/); "" when there is none.
std::string findRankLibrary(const char* envName, const char* fileName);
// libionet-shim.so ($IONET_SHIM) and libnccl-net-ionet.so ($IONET_NCCL_PLUGIN).
inline std::string findShim() { return findRankLibrary("IONET_SHIM", "libionet-shim.so"); }
inline std::string findCollLibrary() {
  return findRankLibrary("IONET_COLL_LIBRARY", "libionet-coll.so");
}
inline std::string findNcclPlugin() {
  return findRankLibrary("IONET_NCCL_PLUGIN", "libnccl-net-ionet.so");
}

}  // namespace ionet::launcher
