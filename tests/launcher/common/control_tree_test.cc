// TreeShape: every host hangs below the launcher exactly once, no node has more than fanout
// children, and subtrees are contiguous host ranges; fences aggregated through the tree release
// exactly what the star releases.
#include "common/control_tree.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <random>

#include "common/fence_table.h"

namespace ionet::launcher {
namespace {

using Hosts = std::vector<std::size_t>;
constexpr auto kLauncher = TreeShape::kLauncher;

TEST(TreeShape, SmallJobsAndFanoutBelowTwoAreTheStar) {
  for (auto [hosts, fanout] : {std::pair<std::size_t, unsigned>{4, 4}, {3, 16}, {9, 0}, {9, 1}}) {
    TreeShape shape(hosts, fanout);
    EXPECT_TRUE(shape.isStar()) << hosts << " hosts, fanout " << fanout;
    EXPECT_EQ(shape.children(kLauncher).size(), hosts);
    EXPECT_EQ(shape.depth(), 1u);
    for (std::size_t h = 0; h < hosts; ++h) {
      EXPECT_EQ(shape.parent(h), kLauncher);
      EXPECT_TRUE(shape.children(h).empty());
    }
  }
}

TEST(TreeShape, SevenHostsFanoutTwo) {
  TreeShape shape(7, 2);
  ASSERT_FALSE(shape.isStar());
  EXPECT_EQ(shape.children(kLauncher), (Hosts{0, 4}));
  EXPECT_EQ(shape.children(0), (Hosts{1, 3}));
  EXPECT_EQ(shape.children(1), (Hosts{2}));
  EXPECT_EQ(shape.children(4), (Hosts{5, 6}));
  EXPECT_EQ(shape.parent(2), 1u);
  EXPECT_EQ(shape.parent(6), 4u);
  EXPECT_EQ(shape.subtree(0).last, 4u);
  EXPECT_EQ(shape.subtree(4).last, 7u);
  EXPECT_EQ(shape.depth(), 3u);
}

// Walks the tree from the launcher: each host met once, ranges as documented.
void checkShape(std::size_t hosts, unsigned fanout) {
  SCOPED_TRACE(std::to_string(hosts) + " hosts, fanout " + std::to_string(fanout));
  TreeShape shape(hosts, fanout);
  std::vector<int> seen(hosts, 0);
  std::size_t deepest = 0;
  std::deque<std::pair<std::size_t, std::size_t>> todo = {{kLauncher, 0}};
  while (!todo.empty()) {
    auto [node, level] = todo.front();
    todo.pop_front();
    const auto& children = shape.children(node);
    EXPECT_LE(children.size(), std::max<std::size_t>(fanout, 1)) << "node " << node;
    // The children's subtrees tile what node covers below itself.
    std::size_t next = node == kLauncher ? 0 : node + 1;
    const std::size_t end = node == kLauncher ? hosts : shape.subtree(node).last;
    for (auto c : children) {
      ASSERT_LT(c, hosts);
      ++seen[c];
      EXPECT_EQ(shape.parent(c), node);
      EXPECT_EQ(shape.subtree(c).first, c);
      EXPECT_EQ(c, next) << "subtrees not contiguous below " << node;
      next = shape.subtree(c).last;
      deepest = std::max(deepest, level + 1);
      todo.push_back({c, level + 1});
    }
    EXPECT_EQ(next, end) << "subtrees of " << node << " do not reach the end of its range";
  }
  for (std::size_t h = 0; h < hosts; ++h) EXPECT_EQ(seen[h], 1) << "host " << h;
  EXPECT_EQ(shape.depth(), deepest);
  if (!shape.isStar()) {
    // Balanced: a full fanout-ary tree of this depth-1 could not hold them all.
    std::size_t capacity = 0, level = 1;
    for (std::size_t d = 1; d < deepest; ++d) capacity += (level *= fanout);
    EXPECT_GT(hosts, capacity);
  }
}

TEST(TreeShape, EveryHostOnceContiguousAndBalanced) {
  for (std::size_t hosts : {1, 2, 5, 7, 17, 64, 100, 1000, 4097}) {
    for (unsigned fanout : {2u, 3u, 8u, 16u, 32u}) checkShape(hosts, fanout);
  }
}

// Every agent aggregates its own and its children's contributions and passes one up; the
// launcher releases what the star would have.
TEST(TreeShape, FenceThroughTheTreeReleasesWhatTheStarReleases) {
  const std::size_t hosts = 23;
  std::vector<std::vector<std::uint32_t>> ranks(hosts);
  for (std::uint32_t r = 0; r < 3 * hosts - 4; ++r) ranks[(r * 7) % hosts].push_back(r);
  for (auto& v : ranks) std::sort(v.begin(), v.end());
  for (unsigned fanout : {2u, 3u, 5u}) {
    TreeShape shape(hosts, fanout);
    auto membersOf = [&](std::size_t node) {
      std::vector<HostRange> m;
      if (node != kLauncher) m.push_back({node, node + 1});
      for (auto c : shape.children(node)) m.push_back(shape.subtree(c));
      return m;
    };
    std::map<std::size_t, FenceTable> tables;
    tables.emplace(kLauncher, FenceTable(ranks, membersOf(kLauncher)));
    for (std::size_t h = 0; h < hosts; ++h) tables.emplace(h, FenceTable(ranks, membersOf(h)));
    std::mt19937 rng(fanout);
    for (const std::string signature : {"*", "0,5,6,17,40", "3"}) {
      FenceTable star(ranks);
      const auto participants = star.members(signature);
      std::optional<FenceTable::Release> starRelease, treeRelease;
      std::vector<std::size_t> order = participants;
      std::shuffle(order.begin(), order.end(), rng);
      for (auto h : order) {
        const std::string blob = "<" + std::to_string(h) + ">";
        if (auto r = star.contribute(h, signature, 0, blob)) starRelease = r;
        // Up the tree until a node still waits for others.
        std::size_t from = h;
        std::optional<FenceTable::Release> up = tables.at(h).contribute(h, signature, 0, blob);
        while (up) {
          const std::size_t parent = shape.parent(from);
          up = tables.at(parent).contribute(from, signature, 0, up->data);
          if (parent == kLauncher) {
            if (up) treeRelease = up;
            break;
          }
          from = parent;
        }
      }
      ASSERT_TRUE(starRelease.has_value()) << signature;
      ASSERT_TRUE(treeRelease.has_value()) << signature << ", fanout " << fanout;
      EXPECT_EQ(treeRelease->data, starRelease->data) << signature << ", fanout " << fanout;
    }
  }
}

}  // namespace
}  // namespace ionet::launcher
