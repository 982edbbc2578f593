// What the user asked ionet-run for: the program, how many ranks, where, and how to show it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "run/slurm_allocation.h"
#include "run/wan_tuning.h"

namespace ionet::launcher {

enum class MapBy { kSlot, kNode };

// Where checkpoint sets live: one directory every host sees (the local pool, emulated hosts,
// a shared filesystem), or each host's own directory with copies at a partner host.
enum class CheckpointStorage { kShared, kPartner };

// --checkpoint-storage partner: a set a host holds (its own or a partner's), as it reported it.
struct HeldSet {
  std::int64_t step = 0;
  std::uint32_t nranks = 0;
  std::vector<std::uint32_t> ranks;  // whose files it has
};
using Holdings = std::map<std::string, std::vector<HeldSet>>;  // by host name

// Before a run: the files hosts fetch from each other so that every rank finds its file of
// `step` on the host it runs on (checkpoint_plan.h).
struct CheckpointFetch {
  std::uint32_t rank = 0;
  std::string from, to;  // host names
  bool operator==(const CheckpointFetch&) const = default;
};
struct StagingPlan {
  std::int64_t step = -1;  // -1: no set to resume from
  std::vector<CheckpointFetch> fetches;
};

// What to do when the job loses a rank or a host (restart.h).
struct RestartPolicy {
  std::uint32_t maxRestarts = 0;          // --max-restarts
  std::uint32_t spareHosts = 0;           // --spare-hosts: the pool's last N, held back
  std::optional<std::uint32_t> minHosts;  // --min-hosts; unset: as many as the first run
  double restartDelaySeconds = 1;         // --restart-delay
  double hostCooldownSeconds = 300;       // --host-cooldown: a lost host is left out this long
  std::string checkpointDir;              // --checkpoint-dir, absolute; empty: none
  CheckpointStorage storage = CheckpointStorage::kShared;  // --checkpoint-storage
  bool storageGiven = false;  // else a pool without shared_checkpoint_dir means kPartner
};

struct JobSpec {
  std::optional<std::uint32_t> np;          // -n/-np/-c
  std::optional<std::uint32_t> perHost;     // -N/--npernode/--pernode, or --map-by ppr:N:node
  std::vector<std::string> hostLists;       // each -H/--host value
  std::string hostfile;                     // --hostfile/--machinefile
  std::optional<std::uint32_t> localHosts;  // --local-hosts H: emulate H hosts here
  std::string poolFile;                     // --pool FILE: pool.toml or a hostfile (pool_file.h)
  std::vector<std::string> exports;         // -x NAME[=value], resolved to NAME=value
  std::vector<std::pair<std::string, std::string>> mca;  // --mca key value
  MapBy mapBy = MapBy::kSlot;
  std::optional<bool> oversubscribe;  // unset: the pool's default
  bool tagOutput = false;
  bool timestampOutput = false;
  bool mergeStderrToStdout = false;
  bool quiet = false;
  std::string outputDir;                // --output-filename
  std::string workDir;                  // --wdir (default: current directory)
  std::uint32_t timeoutSeconds = 0;     // 0: none
  double statusIntervalSeconds = 0;     // --status-interval: > 0 prints a status every so often
  std::uint32_t gpusPerRank = 0;        // --gpus-per-rank K: 0 places no GPUs
  std::string gpuModel;                 // --gpu-model: case-insensitive substring of NVML's name
  std::uint64_t gpuMinMemoryBytes = 0;  // --gpu-min-mem: only GPUs with at least this much
  // --nccl-net: NCCL between hosts through ionet's plugin (true) or its own sockets (false,
  // "socket"), which then go through the shim like any TCP.
  bool ncclNet = true;
  // --coll, --wan-tuning, --wan-compress, --wan-rate (docs/collectives.md).
  CollectiveSettings collectives;
  double gpuMinTflops = 0;  // --gpu-min-tflops: only GPUs whose health check measured this much
  // Inside a batch job on a pool: the GPUs (NVML indices) the job holds on each host of its
  // allocation; no others are used. Unset outside a job.
  std::optional<std::map<std::string, std::vector<std::uint32_t>>> allocatedGpus;
  // Inside a Slurm allocation with no hosts named: its nodes, whose agents one srun step
  // starts (docs/slurm.md). slurmDirectLinks: --slurm-links direct (ranks dial each other's
  // node address) or sessions (through the agents, as between a pool's sites).
  std::optional<SlurmAllocation> slurm;
  bool slurmDirectLinks = true;
  RestartPolicy restart;
  StagingPlan staging;            // set by runWithRestarts for one run (partner storage)
  std::vector<std::string> argv;  // the program and its arguments
};

}  // namespace ionet::launcher
