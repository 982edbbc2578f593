#include "run/checkpoint_plan.h"

#include <algorithm>
#include <map>
#include <set>

#include "ionet/error.h"
#include "run/checkpoint_messages.h"

namespace ionet::launcher {

namespace {

bool holds(const Holdings& holdings, const std::string& host, std::int64_t step,
           std::uint32_t nranks, std::uint32_t rank) {
  auto it = holdings.find(host);
  if (it == holdings.end()) return false;
  for (const auto& set : it->second) {
    if (set.step == step && set.nranks == nranks &&
        std::find(set.ranks.begin(), set.ranks.end(), rank) != set.ranks.end()) {
      return true;
    }
  }
  return false;
}

}  // namespace

StagingPlan planStaging(const Holdings& holdings, const Placement& placement) {
  const std::uint32_t nranks = placement.worldSize;
  std::set<std::int64_t, std::greater<>> steps;  // candidates, newest first
  for (const auto& h : placement.hosts) {
    auto it = holdings.find(h.name);
    if (it == holdings.end()) continue;
    for (const auto& set : it->second) {
      if (set.nranks == nranks) steps.insert(set.step);
    }
  }
  for (auto step : steps) {
    StagingPlan plan;
    plan.step = step;
    bool complete = true;
    for (const auto& target : placement.hosts) {
      for (auto rank : target.ranks) {
        if (holds(holdings, target.name, step, nranks, rank)) continue;
        auto source = std::find_if(
            placement.hosts.begin(), placement.hosts.end(),
            [&](const PlacedHost& h) { return holds(holdings, h.name, step, nranks, rank); });
        if (source == placement.hosts.end()) {
          complete = false;
          break;
        }
        plan.fetches.push_back({rank, source->name, target.name});
      }
      if (!complete) break;
    }
    if (complete) return plan;
  }
  return {};
}

std::string describeFetches(const StagingPlan& plan) {
  // (to, from) -> ranks, in the order first met.
  std::vector<std::pair<std::pair<std::string, std::string>, std::string>> groups;
  for (const auto& f : plan.fetches) {
    auto key = std::make_pair(f.to, f.from);
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
    if (it == groups.end()) {
      groups.push_back({key, std::to_string(f.rank)});
    } else {
      it->second += "," + std::to_string(f.rank);
    }
  }
  std::string out;
  for (const auto& [key, ranks] : groups) {
    out += (out.empty() ? "" : "; ") + key.first + " fetches rank" +
           (ranks.find(',') == std::string::npos ? " " : "s ") + ranks + " from " + key.second;
  }
  return out;
}

void setCheckpointPlan(control::CheckpointPlan* plan, const JobSpec& spec,
                       const Placement& placement, bool replicate) {
  plan->set_dir(spec.restart.checkpointDir);
  plan->set_replicate(replicate);
  plan->set_resume_step(spec.staging.step);
  auto indexOf = [&](const std::string& host) {
    for (std::size_t h = 0; h < placement.hosts.size(); ++h) {
      if (placement.hosts[h].name == host) return static_cast<std::uint32_t>(h);
    }
    throw Error("checkpoint staging names host " + host + ", which is not in the job");
  };
  for (const auto& f : spec.staging.fetches) {
    auto* fetch = plan->add_fetches();
    fetch->set_rank(f.rank);
    fetch->set_from_host(indexOf(f.from));
    fetch->set_to_host(indexOf(f.to));
  }
}

std::vector<HeldSet> heldSets(const control::CheckpointHoldings& holdings) {
  std::vector<HeldSet> out;
  for (const auto& set : holdings.sets()) {
    out.push_back({set.step(), set.nranks(), {set.ranks().begin(), set.ranks().end()}});
  }
  return out;
}

}  // namespace ionet::launcher
