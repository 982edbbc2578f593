#include "common/control_tree.h"

#include <algorithm>

namespace ionet::launcher {

TreeShape::TreeShape(std::size_t hosts, unsigned fanout)
    : fanout_(fanout),
      star_(fanout < 2 || hosts <= fanout),
      parent_(hosts, kLauncher),
      subtree_(hosts),
      children_(hosts) {
  if (star_) {
    for (std::size_t h = 0; h < hosts; ++h) {
      subtree_[h] = {h, h + 1};
      rootChildren_.push_back(h);
    }
    depth_ = hosts > 0 ? 1 : 0;
    return;
  }
  split(kLauncher, {0, hosts}, 1);
}

// Cuts range into at most fanout contiguous pieces of near-equal size; the first host of each
// piece is a child of parent and heads that piece, whose remaining hosts are split below it.
void TreeShape::split(std::size_t parent, HostRange range, std::size_t level) {
  const std::size_t n = range.last - range.first;
  if (n == 0) return;
  depth_ = std::max(depth_, level);
  const std::size_t pieces = std::min<std::size_t>(n, fanout_);
  std::size_t first = range.first;
  for (std::size_t i = 0; i < pieces; ++i) {
    const std::size_t size = n / pieces + (i < n % pieces ? 1 : 0);
    const HostRange piece{first, first + size};
    const std::size_t head = piece.first;
    parent_[head] = parent;
    subtree_[head] = piece;
    (parent == kLauncher ? rootChildren_ : children_[parent]).push_back(head);
    split(head, {head + 1, piece.last}, level + 1);
    first = piece.last;
  }
}

const std::vector<std::size_t>& TreeShape::children(std::size_t host) const {
  return host == kLauncher ? rootChildren_ : children_.at(host);
}

}  // namespace ionet::launcher
