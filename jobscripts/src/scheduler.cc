// Allocations (how a job's tasks spread over hosts) and the FIFO-with-backfill pass.
#include "ionet/jobscripts/scheduler.h"

#include <algorithm>
#include <numeric>

namespace ionet::jobscripts {
namespace {

// Tasks of `job` that fit on `h` (cores, memory, GPUs per task).
std::uint32_t capacity(const JobRecord& job, const QueueHost& h) {
  if (job.memMegabytes && h.memMegabytes && job.memMegabytes > h.memMegabytes) return 0;
  std::uint32_t cap = h.cores / std::max(1u, job.cpusPerTask);
  if (job.gpusPerTask) cap = std::min(cap, h.freeGpus() / job.gpusPerTask);
  return cap;
}

// GPUs a job with `gpus` for the whole job needs on each of `hosts` hosts.
std::uint32_t gpusPerHost(const JobRecord& job, std::size_t hosts) {
  if (job.gpus == 0 || hosts == 0) return 0;
  return static_cast<std::uint32_t>((job.gpus + hosts - 1) / hosts);
}

std::uint32_t hostGpus(const JobRecord& job, const AllocatedHost& a, std::size_t hosts) {
  return job.gpusPerTask ? job.gpusPerTask * a.tasks : gpusPerHost(job, hosts);
}

}  // namespace

std::optional<std::vector<AllocatedHost>> allocate(const JobRecord& job,
                                                   const std::vector<QueueHost>& free) {
  std::vector<std::size_t> order(free.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<std::uint32_t> cap(free.size());
  for (std::size_t i = 0; i < free.size(); ++i) cap[i] = capacity(job, free[i]);
  // Roomiest hosts first, so the job takes as few as it can; ties in pool order.
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return cap[a] > cap[b]; });

  std::vector<std::size_t> chosen;
  std::vector<std::uint32_t> tasks(free.size(), 0);
  if (job.ntasksPerNode) {
    const std::uint32_t k = job.ntasksPerNode;
    const std::uint32_t n = job.nodes ? job.nodes : (job.ntasks + k - 1) / k;
    for (auto i : order) {
      if (chosen.size() < n && cap[i] >= k) chosen.push_back(i);
    }
    if (chosen.size() < n) return std::nullopt;
    // At most k per host, every host at least one (as -N 3 --ntasks-per-node 2 -n 3 gives).
    if (job.ntasks < n) return std::nullopt;
    std::uint32_t left = job.ntasks;
    while (left > 0) {
      bool placed = false;
      for (auto i : chosen) {
        if (left > 0 && tasks[i] < k) {
          ++tasks[i];
          --left;
          placed = true;
        }
      }
      if (!placed) return std::nullopt;
    }
  } else if (job.nodes) {
    for (auto i : order) {
      if (chosen.size() < job.nodes && cap[i] >= 1) chosen.push_back(i);
    }
    if (chosen.size() < job.nodes || job.ntasks < job.nodes) return std::nullopt;
    // Spread evenly, as far as each host allows.
    std::uint32_t left = job.ntasks;
    while (left > 0) {
      bool placed = false;
      for (auto i : chosen) {
        if (left > 0 && tasks[i] < cap[i]) {
          ++tasks[i];
          --left;
          placed = true;
        }
      }
      if (!placed) return std::nullopt;
    }
  } else {
    std::uint32_t left = job.ntasks;
    for (auto i : order) {
      if (left == 0 || cap[i] == 0) break;
      tasks[i] = std::min(cap[i], left);
      left -= tasks[i];
      chosen.push_back(i);
    }
    if (left > 0) return std::nullopt;
  }
  std::sort(chosen.begin(), chosen.end());
  std::vector<AllocatedHost> out;
  for (auto i : chosen) {
    if (tasks[i] > 0) out.push_back({free[i].name, tasks[i]});
  }
  for (auto& a : out) {
    const auto& h = *std::find_if(free.begin(), free.end(),
                                  [&](const QueueHost& f) { return f.name == a.name; });
    const auto want = hostGpus(job, a, out.size());
    if (want > h.freeGpus()) return std::nullopt;
    for (std::uint32_t g = 0; g < h.gpus && a.gpus.size() < want; ++g) {
      if (std::find(h.gpusTaken.begin(), h.gpusTaken.end(), g) == h.gpusTaken.end())
        a.gpus.push_back(g);
    }
  }
  return out;
}

namespace {

void applyAllocation(const JobRecord& job, std::vector<QueueHost>& free, int sign) {
  for (const auto& a : job.allocation) {
    for (auto& h : free) {
      if (h.name != a.name) continue;
      const auto cores = a.tasks * std::max(1u, job.cpusPerTask);
      auto& taken = h.gpusTaken;
      if (sign < 0) {
        h.cores -= std::min(h.cores, cores);
        for (auto g : a.gpus) {
          if (g < h.gpus && std::find(taken.begin(), taken.end(), g) == taken.end())
            taken.push_back(g);
        }
        if (h.memMegabytes) h.memMegabytes -= std::min(h.memMegabytes, job.memMegabytes);
      } else {
        h.cores += cores;
        for (auto g : a.gpus) taken.erase(std::remove(taken.begin(), taken.end(), g), taken.end());
        if (h.memMegabytes) h.memMegabytes += job.memMegabytes;
      }
    }
  }
}

}  // namespace

void subtractAllocation(const JobRecord& job, std::vector<QueueHost>& free) {
  applyAllocation(job, free, -1);
}

void addAllocation(const JobRecord& job, std::vector<QueueHost>& free) {
  applyAllocation(job, free, +1);
}

ScheduleResult schedule(const std::vector<QueueHost>& hosts, const std::vector<JobRecord>& running,
                        const std::vector<JobRecord>& pending, double now) {
  constexpr double kNever = std::numeric_limits<double>::infinity();
  auto endOf = [](const JobRecord& j) {
    return j.timeLimitSeconds ? j.startTime + static_cast<double>(j.timeLimitSeconds) : kNever;
  };
  std::vector<QueueHost> free = hosts;
  std::vector<JobRecord> busy = running;
  for (const auto& j : busy) subtractAllocation(j, free);

  ScheduleResult result;
  result.reasons.assign(pending.size(), "");
  std::optional<double> shadow;  // when the first job that does not fit could start
  for (std::size_t p = 0; p < pending.size(); ++p) {
    const JobRecord& job = pending[p];
    if (auto alloc = allocate(job, free)) {
      const bool ahead = !shadow;
      const bool backfills = shadow && job.timeLimitSeconds &&
                             now + static_cast<double>(job.timeLimitSeconds) <= *shadow;
      if (ahead || backfills) {
        JobRecord started = job;
        started.allocation = *alloc;
        started.startTime = now;
        subtractAllocation(started, free);
        busy.push_back(started);
        result.starts.push_back({p, *alloc});
        continue;
      }
      result.reasons[p] = "Priority";
      continue;
    }
    if (shadow) {
      result.reasons[p] = "Priority";
      continue;
    }
    result.reasons[p] = "Resources";
    // Release the running jobs in the order they end until this one fits.
    std::vector<JobRecord> byEnd = busy;
    std::stable_sort(byEnd.begin(), byEnd.end(),
                     [&](const JobRecord& a, const JobRecord& b) { return endOf(a) < endOf(b); });
    std::vector<QueueHost> later = free;
    shadow = kNever;
    for (const auto& j : byEnd) {
      addAllocation(j, later);
      if (allocate(job, later)) {
        shadow = endOf(j);
        break;
      }
    }
  }
  return result;
}

}  // namespace ionet::jobscripts
