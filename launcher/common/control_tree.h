// The shape of a job's control tree: with many hosts, the launch and the fences fan out and in
// through the agents instead of the launcher talking to every host (the star). Each node's
// subtree is a contiguous range of host indices, so concatenating contributions child by child
// keeps node order, which the fence release must have.
#pragma once

#include <cstddef>
#include <vector>

namespace ionet::launcher {

// Hosts [first, last) of the job.
struct HostRange {
  std::size_t first = 0;
  std::size_t last = 0;
  bool contains(std::size_t host) const { return host >= first && host < last; }
};

class TreeShape {
 public:
  static constexpr std::size_t kLauncher = static_cast<std::size_t>(-1);

  // fanout < 2 or hosts <= fanout: the star (every host a child of the launcher).
  TreeShape(std::size_t hosts, unsigned fanout);

  bool isStar() const { return star_; }
  std::size_t hosts() const { return parent_.size(); }
  // kLauncher for the launcher's own children.
  std::size_t parent(std::size_t host) const { return parent_.at(host); }
  // Children of host, ascending; children(kLauncher) are the launcher's.
  const std::vector<std::size_t>& children(std::size_t host) const;
  // The hosts host's subtree covers: itself first, then its children's subtrees in order.
  HostRange subtree(std::size_t host) const { return subtree_.at(host); }
  // Longest path from the launcher to a host, in hops (1 for the star).
  std::size_t depth() const { return depth_; }

 private:
  void split(std::size_t parent, HostRange range, std::size_t level);

  unsigned fanout_;
  bool star_;
  std::size_t depth_ = 0;
  std::vector<std::size_t> parent_;
  std::vector<HostRange> subtree_;
  std::vector<std::vector<std::size_t>> children_;
  std::vector<std::size_t> rootChildren_;
};

}  // namespace ionet::launcher
