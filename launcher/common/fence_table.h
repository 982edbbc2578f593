// Completes fences across hosts: each participating member contributes its blob; when all have,
// the release carries the blobs concatenated in node order (what libpmix expects back). A member
// is one host (the star) or a subtree of the control tree, a contiguous range of hosts that
// contributes once for all its participating hosts, named by its first host.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/control_tree.h"

namespace ionet::launcher {

class FenceTable {
 public:
  // ranksByHost[h]: the ranks on host h (node order). Members: every host on its own.
  explicit FenceTable(const std::vector<std::vector<std::uint32_t>>& ranksByHost);
  // Members: disjoint host ranges in ascending order.
  FenceTable(const std::vector<std::vector<std::uint32_t>>& ranksByHost,
             std::vector<HostRange> members);

  struct Release {
    std::vector<std::size_t> hosts;  // first hosts of the participating members, ascending
    std::string data;
  };

  // Records the contribution of the member headed by host to fence (signature, id); returns the
  // release once complete. Throws ionet::Error on a signature naming unknown ranks or a member
  // that is not a participant or contributes twice.
  std::optional<Release> contribute(std::size_t host, const std::string& signature,
                                    std::uint64_t id, std::string data);
  // First hosts of the members that take part in fences over signature.
  std::vector<std::size_t> members(const std::string& signature) const;

  std::size_t pending() const { return open_.size(); }
  std::uint64_t completed() const { return completed_; }
  // Fences waiting for contributions: hosts in so far and hosts taking part, oldest first.
  struct Progress {
    std::size_t in = 0;
    std::size_t of = 0;
  };
  std::vector<Progress> progress() const;

 private:
  std::vector<std::size_t> participants(const std::string& signature) const;

  std::vector<std::size_t> hostOfRank_;
  std::size_t hostCount_;
  std::vector<HostRange> members_;
  std::uint64_t completed_ = 0;
  std::map<std::pair<std::string, std::uint64_t>, std::map<std::size_t, std::string>> open_;
};

}  // namespace ionet::launcher
