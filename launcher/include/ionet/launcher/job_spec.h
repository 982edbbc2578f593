// What the user asked ionet-run for: the program, how many ranks, where, and how to show it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ionet::launcher {

enum class MapBy { kSlot, kNode };

// What to do when the job loses a rank or a host (restart.h).
struct RestartPolicy {
  std::uint32_t maxRestarts = 0;          // --max-restarts
  std::uint32_t spareHosts = 0;           // --spare-hosts: the pool's last N, held back
  std::optional<std::uint32_t> minHosts;  // --min-hosts; unset: as many as the first run
  double restartDelaySeconds = 1;         // --restart-delay
  std::string checkpointDir;              // --checkpoint-dir, absolute; empty: none
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
  RestartPolicy restart;
  std::vector<std::string> argv;  // the program and its arguments
};

}  // namespace ionet::launcher
