// Placement of batch jobs on the pool's hosts: which hosts and how many tasks on each (an
// allocation), and the queue's order, first come first served with backfill (EASY: a later job
// may start first only when it fits now and its time limit ends before the first waiting job
// could start).
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ionet/jobscripts/job_record.h"

namespace ionet::jobscripts {

// A host's capacity, or what is free on it.
struct QueueHost {
  QueueHost() = default;
  QueueHost(std::string n, std::uint32_t c, std::uint64_t mem, std::uint32_t g,
            std::vector<std::uint32_t> taken = {})
      : name(std::move(n)), cores(c), memMegabytes(mem), gpus(g), gpusTaken(std::move(taken)) {}

  std::string name;
  std::uint32_t cores = 0;
  std::uint64_t memMegabytes = 0;  // 0: unknown, not limited
  std::uint32_t gpus = 0;                // GPUs the host has: NVML indices 0 .. gpus-1
  std::vector<std::uint32_t> gpusTaken;  // of those, the ones running jobs hold
  std::uint32_t freeGpus() const { return gpus - static_cast<std::uint32_t>(gpusTaken.size()); }
};

// Hosts for `job` among `free` (pool order kept), each with the lowest-numbered free GPUs the
// job needs there, or nothing when it does not fit now.
std::optional<std::vector<AllocatedHost>> allocate(const JobRecord& job,
                                                   const std::vector<QueueHost>& free);

// What `job` takes from each host of its allocation.
void subtractAllocation(const JobRecord& job, std::vector<QueueHost>& free);
void addAllocation(const JobRecord& job, std::vector<QueueHost>& free);

struct ScheduleDecision {
  std::size_t pendingIndex = 0;
  std::vector<AllocatedHost> allocation;
};

struct ScheduleResult {
  std::vector<ScheduleDecision> starts;
  std::vector<std::string> reasons;  // per pending job: "Resources", "Priority" or "" (starts)
};

// One pass: `running` hold their allocations; `pending` are eligible jobs, oldest first.
// A running job's end is its start plus its time limit (none: never, for planning).
ScheduleResult schedule(const std::vector<QueueHost>& hosts, const std::vector<JobRecord>& running,
                        const std::vector<JobRecord>& pending, double now);

}  // namespace ionet::jobscripts
