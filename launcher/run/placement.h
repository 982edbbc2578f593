// Where each rank runs: the host list of the job (embedded local pool, emulated hosts, or the
// user's -H/hostfile) and the mapping of ranks onto it (--map-by slot|node, -N), with GPUs
// (--gpus-per-rank) given out per rank.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hosts/hostfile.h"
#include "hosts/resources.h"
#include "run/job_spec.h"

namespace ionet::launcher {

struct PoolHost {
  std::string name;
  std::uint32_t slots = 1;
  bool local = true;          // runs on this machine (embedded pool or emulated)
  std::vector<GpuInfo> gpus;  // what the host's agent reported (NVML)
};

struct Pool {
  std::vector<PoolHost> hosts;
  bool slotsGiven = false;  // the user stated slots: exceeding them needs --oversubscribe
};

// The hosts this job may use. Throws UsageError when hosts cannot be served here.
Pool resolvePool(const JobSpec& spec, std::uint32_t localCores, const std::string& localName);
// With --pool: -H / --hostfile pick hosts of the pool (in the order named; slots given there
// replace the pool's). Throws UsageError naming a host the pool does not offer. Inside a batch
// job (spec.allocatedGpus) each host keeps only the GPUs the job holds there.
Pool restrictPool(const Pool& pool, const JobSpec& spec);

struct PlacedHost {
  std::string name;
  std::vector<std::uint32_t> ranks;  // ascending
  // Parallel to ranks: the GPU indices (NVML's, ascending) each rank gets; empty lists when
  // the job asked for no GPUs.
  std::vector<std::vector<unsigned>> gpusOfRank;
};

struct Placement {
  std::vector<PlacedHost> hosts;  // only hosts with ranks, in pool order (the node order)
  std::uint32_t worldSize = 0;
};

// Throws UsageError when the ranks do not fit. With spec.gpusPerRank > 0 only GPUs matching
// spec.gpuModel and spec.gpuMinMemoryBytes count, a host holds at most
// min(slots, matching GPUs / gpusPerRank) ranks (GPUs are never oversubscribed), hosts without
// room are left out, and each rank gets distinct GPUs in index order.
Placement placeRanks(const JobSpec& spec, const Pool& pool);

// CUDA_VISIBLE_DEVICES for a rank: {0, 1} -> "0,1"; "" for none (then do not set it).
std::string cudaVisibleDevices(const std::vector<unsigned>& gpus);

}  // namespace ionet::launcher
