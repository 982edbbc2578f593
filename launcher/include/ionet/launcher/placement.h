// Where each rank runs: the host list of the job (embedded local pool, emulated hosts, or the
// user's -H/hostfile) and the mapping of ranks onto it (--map-by slot|node, -N).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ionet/launcher/hostfile.h"
#include "ionet/launcher/job_spec.h"

namespace ionet::launcher {

struct PoolHost {
  std::string name;
  std::uint32_t slots = 1;
  bool local = true;  // runs on this machine (embedded pool or emulated)
};

struct Pool {
  std::vector<PoolHost> hosts;
  bool slotsGiven = false;  // the user stated slots: exceeding them needs --oversubscribe
};

// The hosts this job may use. Throws UsageError when hosts cannot be served here.
Pool resolvePool(const JobSpec& spec, std::uint32_t localCores, const std::string& localName);

struct PlacedHost {
  std::string name;
  std::vector<std::uint32_t> ranks;  // ascending
};

struct Placement {
  std::vector<PlacedHost> hosts;  // only hosts with ranks, in pool order (the node order)
  std::uint32_t worldSize = 0;
};

// Throws UsageError when the ranks do not fit.
Placement placeRanks(const JobSpec& spec, const Pool& pool);

}  // namespace ionet::launcher
