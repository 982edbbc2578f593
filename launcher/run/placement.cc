// Host resolution and rank mapping, with mpirun's meaning of --map-by slot|node and -N, and
// GPUs given out per rank (--gpus-per-rank, --gpu-model, --gpu-min-mem).
#include "run/placement.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "ionet/error.h"

namespace ionet::launcher {
namespace {

bool isThisMachine(const std::string& name, const std::string& localName) {
  if (name == "localhost" || name == "127.0.0.1" || name == localName) return true;
  auto dot = localName.find('.');
  return dot != std::string::npos && name == localName.substr(0, dot);
}

std::vector<HostEntry> userHosts(const JobSpec& spec) {
  std::vector<HostEntry> hosts;
  if (!spec.hostfile.empty()) mergeHosts(hosts, parseHostfile(spec.hostfile));
  for (const auto& list : spec.hostLists) mergeHosts(hosts, parseHostList(list));
  return hosts;
}

}  // namespace

Pool resolvePool(const JobSpec& spec, std::uint32_t localCores, const std::string& localName) {
  const auto named = userHosts(spec);
  Pool pool;
  if (spec.localHosts) {
    const std::uint32_t h = *spec.localHosts;
    if (h == 0) throw UsageError("--local-hosts must be at least 1");
    if (named.empty()) {
      for (std::uint32_t i = 0; i < h; ++i)
        pool.hosts.push_back({"node" + std::to_string(i), localCores, true, {}});
      return pool;
    }
    if (named.size() != h) {
      throw UsageError("--local-hosts " + std::to_string(h) + " but the host list names " +
                       std::to_string(named.size()) + " hosts (" + named.front().origin + ")");
    }
    for (const auto& e : named) {
      pool.hosts.push_back({e.name, e.slotsGiven ? e.slots : localCores, true, {}});
      pool.slotsGiven = pool.slotsGiven || e.slotsGiven;
    }
    return pool;
  }
  if (named.empty()) {
    pool.hosts.push_back({localName, localCores, true, {}});
    return pool;
  }
  // No pool yet: only this machine's own names can be served.
  PoolHost here{localName, 0, true, {}};
  for (const auto& e : named) {
    if (!isThisMachine(e.name, localName)) {
      throw UsageError(e.origin + ": host '" + e.name +
                       "' is not this machine and no pool is configured; use --local-hosts N "
                       "to emulate hosts here");
    }
    here.slots += e.slotsGiven ? e.slots : localCores;
  }
  pool.hosts.push_back(here);
  pool.slotsGiven = true;
  return pool;
}

Pool restrictPool(const Pool& pool, const JobSpec& spec) {
  const auto named = userHosts(spec);
  if (named.empty()) return pool;
  Pool out;
  out.slotsGiven = pool.slotsGiven;
  for (const auto& e : named) {
    auto it = std::find_if(pool.hosts.begin(), pool.hosts.end(),
                           [&](const PoolHost& h) { return h.name == e.name; });
    if (it == pool.hosts.end()) {
      std::string available;
      for (const auto& h : pool.hosts) available += (available.empty() ? "" : ", ") + h.name;
      throw UsageError(e.origin + ": host '" + e.name + "' is not an available host of the pool (" +
                       (available.empty() ? "none answered" : available) + ")");
    }
    PoolHost h = *it;
    if (e.slotsGiven) h.slots = e.slots;
    if (spec.allocatedGpus) {
      // A batch job uses the GPUs the queue gave it on this host, and no others.
      const auto held = spec.allocatedGpus->find(h.name);
      std::erase_if(h.gpus, [&](const GpuInfo& g) {
        return held == spec.allocatedGpus->end() ||
               std::find(held->second.begin(), held->second.end(), g.index) == held->second.end();
      });
    }
    out.slotsGiven = out.slotsGiven || e.slotsGiven;
    out.hosts.push_back(std::move(h));
  }
  return out;
}

namespace {

// Ranks onto slots, as mpirun maps them; no GPUs.
Placement placeOnSlots(const JobSpec& spec, const Pool& pool) {
  const auto nHosts = static_cast<std::uint32_t>(pool.hosts.size());
  std::uint64_t totalSlots = 0;
  for (const auto& h : pool.hosts) totalSlots += h.slots;
  // The embedded pool's slots are a default (one per core), so it may be oversubscribed;
  // slots the user stated are a limit, as for mpirun.
  const bool oversubscribe = spec.oversubscribe.value_or(!pool.slotsGiven);

  std::vector<std::uint32_t> count(nHosts, 0);
  std::uint32_t np = 0;
  if (spec.perHost) {
    const std::uint64_t fit = std::uint64_t(*spec.perHost) * nHosts;
    np = spec.np.value_or(static_cast<std::uint32_t>(fit));
    if (np > fit) {
      throw UsageError("-np " + std::to_string(np) + " does not fit " +
                       std::to_string(*spec.perHost) + " ranks per host on " +
                       std::to_string(nHosts) + " hosts");
    }
    const std::uint32_t used = (np + *spec.perHost - 1) / *spec.perHost;  // hosts given ranks
    for (std::uint32_t h = 0; h < used; ++h) {
      if (*spec.perHost > pool.hosts[h].slots && !oversubscribe) {
        throw UsageError("-N " + std::to_string(*spec.perHost) + " exceeds the " +
                         std::to_string(pool.hosts[h].slots) + " slots of host '" +
                         pool.hosts[h].name + "' (add --oversubscribe)");
      }
    }
  } else {
    np = spec.np.value_or(static_cast<std::uint32_t>(totalSlots));
  }
  if (np == 0) throw UsageError("-np must be at least 1");
  if (np > totalSlots && !oversubscribe && !spec.perHost) {
    throw UsageError("not enough slots: -np " + std::to_string(np) + " but the hosts have " +
                     std::to_string(totalSlots) + " slots (add --oversubscribe)");
  }

  std::vector<std::uint32_t> hostOf(np);
  if (spec.perHost && spec.mapBy == MapBy::kSlot) {
    for (std::uint32_t r = 0; r < np; ++r) hostOf[r] = r / *spec.perHost;
  } else if (spec.mapBy == MapBy::kNode) {
    // Round robin over hosts that still have room; once all are full, over all hosts.
    const std::uint32_t cap = spec.perHost ? *spec.perHost : 0;
    std::uint32_t h = 0;
    for (std::uint32_t r = 0; r < np; ++r) {
      for (std::uint32_t tries = 0; tries < nHosts; ++tries, h = (h + 1) % nHosts) {
        const std::uint32_t limit = cap ? cap : pool.hosts[h].slots;
        if (count[h] < limit) break;
      }
      hostOf[r] = h;
      ++count[h];
      h = (h + 1) % nHosts;
    }
  } else {
    // By slot: fill hosts in order; ranks beyond the slots are spread evenly, each host's
    // ranks staying consecutive. Slots nobody stated (the embedded pool, emulated hosts) are
    // no limit, so the ranks are spread evenly from the start: --local-hosts 2 -np 4 puts two
    // ranks on each host whatever the core count.
    std::vector<std::uint32_t> quota(nHosts, 0);
    std::uint64_t left = np;
    for (std::uint32_t h = 0; h < nHosts && pool.slotsGiven; ++h) {
      quota[h] = static_cast<std::uint32_t>(std::min<std::uint64_t>(pool.hosts[h].slots, left));
      left -= quota[h];
    }
    for (std::uint32_t h = 0; h < nHosts; ++h) {
      quota[h] += static_cast<std::uint32_t>(left / nHosts + (h < left % nHosts ? 1 : 0));
    }
    std::uint32_t r = 0;
    for (std::uint32_t h = 0; h < nHosts; ++h) {
      for (std::uint32_t i = 0; i < quota[h]; ++i) hostOf[r++] = h;
    }
  }

  Placement placement;
  placement.worldSize = np;
  std::vector<int> slotOf(nHosts, -1);
  for (std::uint32_t h = 0; h < nHosts; ++h) {
    for (std::uint32_t r = 0; r < np; ++r) {
      if (hostOf[r] != h) continue;
      if (slotOf[h] < 0) {
        slotOf[h] = static_cast<int>(placement.hosts.size());
        placement.hosts.push_back({pool.hosts[h].name, {}, {}});
      }
      placement.hosts[slotOf[h]].ranks.push_back(r);
      placement.hosts[slotOf[h]].gpusOfRank.emplace_back();
    }
  }
  return placement;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string plural(std::uint64_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// 80 GiB, 40 GB, 24000 MB ...: the largest unit that divides the value exactly.
std::string formatBytes(std::uint64_t bytes) {
  const std::pair<std::uint64_t, const char*> units[] = {
      {1ull << 40, "TiB"}, {1'000'000'000'000ull, "TB"},
      {1ull << 30, "GiB"}, {1'000'000'000ull, "GB"},
      {1ull << 20, "MiB"}, {1'000'000ull, "MB"},
      {1ull << 10, "KiB"}, {1'000ull, "kB"}};
  for (const auto& [size, name] : units) {
    if (bytes >= size && bytes % size == 0) return std::to_string(bytes / size) + " " + name;
  }
  return std::to_string(bytes) + " bytes";
}

// What the job asks of each GPU, and each host's GPUs that qualify.
struct GpuDemand {
  const JobSpec& spec;
  std::string model = lower(spec.gpuModel);

  bool matches(const GpuInfo& gpu) const {
    // A GPU that failed its host's health check is never given out.
    return gpu.healthFailure.empty() && gpu.memoryBytes >= spec.gpuMinMemoryBytes &&
           (spec.gpuMinTflops <= 0 || (gpu.checked && gpu.tflops >= spec.gpuMinTflops)) &&
           (model.empty() || lower(gpu.model).find(model) != std::string::npos);
  }
  std::vector<unsigned> matching(const PoolHost& host) const {
    std::vector<unsigned> out;
    for (const auto& gpu : host.gpus) {
      if (matches(gpu)) out.push_back(gpu.index);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // "with 1 GPU each (model ~ 'H100', >= 80 GiB)"
  std::string describe() const {
    std::string filters;
    if (!spec.gpuModel.empty()) filters = "model ~ '" + spec.gpuModel + "'";
    if (spec.gpuMinMemoryBytes) {
      filters += (filters.empty() ? ">= " : ", >= ") + formatBytes(spec.gpuMinMemoryBytes);
    }
    if (spec.gpuMinTflops > 0) {
      std::ostringstream rate;
      rate << spec.gpuMinTflops;
      filters += (filters.empty() ? ">= " : ", >= ") + rate.str() + " TFLOP/s measured";
    }
    return "with " + plural(spec.gpusPerRank, "GPU") + " each" +
           (filters.empty() ? "" : " (" + filters + ")");
  }
};

// ", 1 failed its health check" when some of the host's GPUs did.
std::string unhealthy(const PoolHost& host) {
  const auto n = std::count_if(host.gpus.begin(), host.gpus.end(),
                               [](const GpuInfo& g) { return !g.healthFailure.empty(); });
  return n ? ", " + std::to_string(n) + " failed " + (n > 1 ? "their" : "its") + " health check"
           : "";
}

// One line on what the pool has: "3 matching GPUs (gpu1: 2, gpu2: 1; gpu3: 4 GPUs, none
// matching)"; long pools are cut after a few hosts of each kind.
std::string poolSummary(const Pool& pool, const GpuDemand& demand, bool oversubscribe) {
  constexpr std::size_t kListed = 8;
  std::uint64_t total = 0, room = 0;
  std::vector<std::string> with, without;
  for (const auto& host : pool.hosts) {
    const auto n = demand.matching(host).size();
    const std::uint64_t gpuRoom = n / demand.spec.gpusPerRank;
    const std::uint64_t hostRoom =
        oversubscribe ? gpuRoom : std::min<std::uint64_t>(gpuRoom, host.slots);
    total += n;
    room += hostRoom;
    if (n > 0) {
      with.push_back(host.name + ": " + std::to_string(n) +
                     (hostRoom < gpuRoom ? " (" + plural(host.slots, "slot") + ")" : ""));
    } else {
      without.push_back(host.name + ": " +
                        (host.gpus.empty() ? "no GPUs"
                                           : plural(host.gpus.size(), "GPU") + unhealthy(host) +
                                                 ", none matching"));
    }
  }
  auto list = [&](const std::vector<std::string>& items, const char* sep) {
    std::string out;
    for (std::size_t i = 0; i < items.size() && i < kListed; ++i) out += (i ? sep : "") + items[i];
    if (items.size() > kListed)
      out += sep + std::string("and ") + std::to_string(items.size() - kListed) + " more";
    return out;
  };
  std::string out = "the pool has " + plural(total, "matching GPU");
  if (room != total) out += ", room for " + plural(room, "rank");
  std::string detail = list(with, ", ");
  if (!without.empty()) detail += (detail.empty() ? "" : "; ") + list(without, "; ");
  return out + (detail.empty() ? "" : " (" + detail + ")");
}

Placement placeWithGpus(const JobSpec& spec, const Pool& pool) {
  const GpuDemand demand{spec};
  // GPUs are never shared between ranks: --oversubscribe lifts the slot limit only.
  const bool oversubscribe = spec.oversubscribe.value_or(!pool.slotsGiven);
  Pool usable;
  usable.slotsGiven = true;
  std::vector<std::vector<unsigned>> gpusOf;  // parallel to usable.hosts
  std::uint64_t capacity = 0;
  for (const auto& host : pool.hosts) {
    auto gpus = demand.matching(host);
    std::uint64_t room = gpus.size() / spec.gpusPerRank;
    if (!oversubscribe) room = std::min<std::uint64_t>(room, host.slots);
    if (room == 0) continue;
    usable.hosts.push_back({host.name, static_cast<std::uint32_t>(room), host.local, host.gpus});
    gpusOf.push_back(std::move(gpus));
    capacity += room;
  }
  auto cannot = [&](const std::string& ranks) {
    return UsageError("cannot place " + ranks + " " + demand.describe() + ": " +
                      poolSummary(pool, demand, oversubscribe));
  };

  std::uint64_t np = spec.np.value_or(static_cast<std::uint32_t>(capacity));
  if (spec.perHost) {
    const std::uint32_t n = *spec.perHost;
    np = spec.np.value_or(n * static_cast<std::uint32_t>(usable.hosts.size()));
    const std::string perHost = ", " + std::to_string(n) + " per host,";
    const std::uint64_t hostsNeeded = (np + n - 1) / n;
    if (np == 0) throw cannot("any rank" + perHost);
    if (hostsNeeded > usable.hosts.size()) throw cannot(plural(np, "rank") + perHost);
    for (std::uint64_t h = 0; h < hostsNeeded; ++h) {
      if (usable.hosts[h].slots < n) {
        throw cannot(std::to_string(n) + " ranks on host '" + usable.hosts[h].name + "' (-N " +
                     std::to_string(n) + ")");
      }
    }
  } else if (np > capacity || (np == 0 && !spec.np)) {
    throw cannot(np ? plural(np, "rank") : "any rank");
  }

  JobSpec bounded = spec;
  bounded.oversubscribe = false;  // the rooms computed above are hard limits
  Placement placement = placeOnSlots(bounded, usable);
  std::size_t u = 0;  // placed hosts are usable hosts, in the same order, some left out
  for (auto& placed : placement.hosts) {
    while (usable.hosts[u].name != placed.name) ++u;
    const auto& gpus = gpusOf[u++];
    for (std::size_t i = 0; i < placed.ranks.size(); ++i) {
      auto first = gpus.begin() + static_cast<std::ptrdiff_t>(i * spec.gpusPerRank);
      placed.gpusOfRank[i].assign(first, first + spec.gpusPerRank);
    }
  }
  return placement;
}

}  // namespace

Placement placeRanks(const JobSpec& spec, const Pool& pool) {
  if (spec.gpusPerRank == 0) return placeOnSlots(spec, pool);
  return placeWithGpus(spec, pool);
}

std::string cudaVisibleDevices(const std::vector<unsigned>& gpus) {
  std::string out;
  for (unsigned g : gpus) out += (out.empty() ? "" : ",") + std::to_string(g);
  return out;
}

}  // namespace ionet::launcher
