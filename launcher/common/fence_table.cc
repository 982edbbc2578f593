#include "common/fence_table.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "ionet/error.h"

namespace ionet::launcher {

namespace {

std::vector<HostRange> eachHostOnItsOwn(std::size_t hosts) {
  std::vector<HostRange> members;
  for (std::size_t h = 0; h < hosts; ++h) members.push_back({h, h + 1});
  return members;
}

}  // namespace

FenceTable::FenceTable(const std::vector<std::vector<std::uint32_t>>& ranksByHost)
    : FenceTable(ranksByHost, eachHostOnItsOwn(ranksByHost.size())) {}

FenceTable::FenceTable(const std::vector<std::vector<std::uint32_t>>& ranksByHost,
                       std::vector<HostRange> members)
    : hostCount_(ranksByHost.size()), members_(std::move(members)) {
  for (std::size_t h = 0; h < ranksByHost.size(); ++h) {
    for (std::uint32_t r : ranksByHost[h]) {
      if (hostOfRank_.size() <= r) hostOfRank_.resize(r + 1, SIZE_MAX);
      hostOfRank_[r] = h;
    }
  }
}

std::vector<std::size_t> FenceTable::participants(const std::string& signature) const {
  std::vector<std::size_t> all;
  if (signature == "*") {
    for (std::size_t h = 0; h < hostCount_; ++h) all.push_back(h);
    return all;
  }
  std::set<std::size_t> hosts;
  std::stringstream in(signature);
  for (std::string item; std::getline(in, item, ',');) {
    std::size_t rank = 0;
    try {
      rank = std::stoul(item);
    } catch (const std::exception&) {
      IONET_THROW("fence signature '", signature, "': '", item, "' is not a rank");
    }
    IONET_ENFORCE(rank < hostOfRank_.size() && hostOfRank_[rank] != SIZE_MAX, "fence signature '",
                  signature, "' names rank ", rank, " which is not in the job");
    hosts.insert(hostOfRank_[rank]);
  }
  IONET_ENFORCE(!hosts.empty(), "empty fence signature");
  return {hosts.begin(), hosts.end()};
}

std::vector<std::size_t> FenceTable::members(const std::string& signature) const {
  const auto hosts = participants(signature);
  std::vector<std::size_t> heads;
  for (const auto& m : members_) {
    auto in = std::lower_bound(hosts.begin(), hosts.end(), m.first);
    if (in != hosts.end() && m.contains(*in)) heads.push_back(m.first);
  }
  return heads;
}

std::optional<FenceTable::Release> FenceTable::contribute(std::size_t host,
                                                          const std::string& signature,
                                                          std::uint64_t id, std::string data) {
  auto hosts = members(signature);
  IONET_ENFORCE(std::binary_search(hosts.begin(), hosts.end(), host), "host ", host,
                " is not a participant of fence '", signature, "'#", id);
  auto key = std::make_pair(signature, id);
  auto& got = open_[key];
  IONET_ENFORCE(got.emplace(host, std::move(data)).second, "host ", host,
                " contributed twice to fence '", signature, "'#", id);
  if (got.size() < hosts.size()) return std::nullopt;
  Release release{hosts, {}};
  for (auto& [h, blob] : got) release.data += blob;  // std::map: ascending, members in node order
  open_.erase(key);
  ++completed_;
  return release;
}

std::vector<FenceTable::Progress> FenceTable::progress() const {
  std::vector<Progress> out;
  for (const auto& [key, got] : open_) out.push_back({got.size(), members(key.first).size()});
  return out;
}

}  // namespace ionet::launcher
