// Host resolution and rank mapping, with mpirun's meaning of --map-by slot|node and -N.
#include "ionet/launcher/placement.h"

#include <algorithm>
#include <set>

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
        pool.hosts.push_back({"node" + std::to_string(i), localCores, true});
      return pool;
    }
    if (named.size() != h) {
      throw UsageError("--local-hosts " + std::to_string(h) + " but the host list names " +
                       std::to_string(named.size()) + " hosts (" + named.front().origin + ")");
    }
    for (const auto& e : named) {
      pool.hosts.push_back({e.name, e.slotsGiven ? e.slots : localCores, true});
      pool.slotsGiven = pool.slotsGiven || e.slotsGiven;
    }
    return pool;
  }
  if (named.empty()) {
    pool.hosts.push_back({localName, localCores, true});
    return pool;
  }
  // No pool yet: only this machine's own names can be served.
  PoolHost here{localName, 0, true};
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

Placement placeRanks(const JobSpec& spec, const Pool& pool) {
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
        placement.hosts.push_back({pool.hosts[h].name, {}});
      }
      placement.hosts[slotOf[h]].ranks.push_back(r);
    }
  }
  return placement;
}

}  // namespace ionet::launcher
