// FenceTable: fences complete once every participating host contributed, and release the
// blobs in node order whatever order they arrived in.
#include "common/fence_table.h"

#include <gtest/gtest.h>

#include "ionet/error.h"

namespace ionet::launcher {
namespace {

using Hosts = std::vector<std::size_t>;

// Host 0 runs ranks 0-2, host 1 ranks 3-4, host 2 rank 5.
FenceTable threeHosts() { return FenceTable({{0, 1, 2}, {3, 4}, {5}}); }

TEST(FenceTable, WholeJobFenceReleasesInNodeOrder) {
  auto table = threeHosts();
  EXPECT_FALSE(table.contribute(2, "*", 1, "C").has_value());
  EXPECT_FALSE(table.contribute(0, "*", 1, "AA").has_value());
  EXPECT_EQ(table.pending(), 1u);
  const auto release = table.contribute(1, "*", 1, "B");
  ASSERT_TRUE(release.has_value());
  EXPECT_EQ(release->hosts, (Hosts{0, 1, 2}));
  EXPECT_EQ(release->data, "AABC");
  EXPECT_EQ(table.pending(), 0u);
}

TEST(FenceTable, EmptyBlobsStillComplete) {
  auto table = threeHosts();
  EXPECT_FALSE(table.contribute(0, "*", 7, "").has_value());
  EXPECT_FALSE(table.contribute(1, "*", 7, "").has_value());
  const auto release = table.contribute(2, "*", 7, "");
  ASSERT_TRUE(release.has_value());
  EXPECT_EQ(release->data, "");
}

TEST(FenceTable, SubsetInvolvesOnlyTheHostsOfItsRanks) {
  auto table = threeHosts();
  // Ranks 0 and 5 live on hosts 0 and 2: host 1 takes no part.
  EXPECT_FALSE(table.contribute(2, "0,5", 3, "z").has_value());
  const auto release = table.contribute(0, "0,5", 3, "y");
  ASSERT_TRUE(release.has_value());
  EXPECT_EQ(release->hosts, (Hosts{0, 2}));
  EXPECT_EQ(release->data, "yz");
}

TEST(FenceTable, SubsetOnOneHostCompletesAtOnce) {
  auto table = threeHosts();
  const auto release = table.contribute(1, "3,4", 9, "only");
  ASSERT_TRUE(release.has_value());
  EXPECT_EQ(release->hosts, (Hosts{1}));
  EXPECT_EQ(release->data, "only");
}

TEST(FenceTable, ConcurrentFencesAreKeptApart) {
  auto table = threeHosts();
  EXPECT_FALSE(table.contribute(0, "*", 1, "a1").has_value());
  EXPECT_FALSE(table.contribute(0, "*", 2, "a2").has_value());
  EXPECT_FALSE(table.contribute(1, "*", 2, "b2").has_value());
  EXPECT_FALSE(table.contribute(2, "0,5", 1, "c3").has_value());  // same id, other signature
  EXPECT_EQ(table.pending(), 3u);

  const auto second = table.contribute(2, "*", 2, "c2");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->data, "a2b2c2");
  EXPECT_EQ(table.pending(), 2u);

  EXPECT_FALSE(table.contribute(1, "*", 1, "b1").has_value());
  const auto first = table.contribute(2, "*", 1, "c1");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->data, "a1b1c1");
  EXPECT_EQ(table.pending(), 1u);
}

TEST(FenceTable, FenceIdCanBeReusedAfterRelease) {
  auto table = threeHosts();
  ASSERT_TRUE(table.contribute(1, "3", 4, "x").has_value());
  const auto again = table.contribute(1, "3", 4, "y");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->data, "y");
}

TEST(FenceTable, DuplicateContributionThrows) {
  auto table = threeHosts();
  table.contribute(0, "*", 1, "a");
  EXPECT_THROW(table.contribute(0, "*", 1, "again"), ionet::Error);
  EXPECT_EQ(table.pending(), 1u);
  // The fence still completes with the first blob.
  table.contribute(1, "*", 1, "b");
  const auto release = table.contribute(2, "*", 1, "c");
  ASSERT_TRUE(release.has_value());
  EXPECT_EQ(release->data, "abc");
}

TEST(FenceTable, NonParticipantThrows) {
  auto table = threeHosts();
  EXPECT_THROW(table.contribute(1, "0,5", 1, "x"), ionet::Error);
  EXPECT_THROW(table.contribute(3, "*", 1, "x"), ionet::Error);  // no such host
  EXPECT_EQ(table.pending(), 0u);
}

TEST(FenceTable, UnknownRankThrows) {
  auto table = threeHosts();
  EXPECT_THROW(table.contribute(0, "0,6", 1, "x"), ionet::Error);
  EXPECT_THROW(table.contribute(0, "0,abc", 1, "x"), ionet::Error);
  EXPECT_THROW(table.contribute(0, "", 1, "x"), ionet::Error);
  EXPECT_EQ(table.pending(), 0u);
}

TEST(FenceTable, UnknownRankInAGapThrows) {
  // Ranks 0 and 2 only: rank 1 is not in the job.
  FenceTable table(std::vector<std::vector<std::uint32_t>>{{0}, {2}});
  EXPECT_THROW(table.contribute(0, "0,1", 1, "x"), ionet::Error);
}

TEST(FenceTable, ProgressCountsOpenFencesAndCompletedOnes) {
  auto table = threeHosts();
  table.contribute(0, "*", 1, "a");
  table.contribute(1, "*", 1, "b");
  table.contribute(0, "0,3", 1, "x");  // ranks 0 and 3: hosts 0 and 1
  auto open = table.progress();
  ASSERT_EQ(open.size(), 2u);
  // Ordered by signature: "*" before "0,3".
  EXPECT_EQ(open[0].in, 2u);
  EXPECT_EQ(open[0].of, 3u);
  EXPECT_EQ(open[1].in, 1u);
  EXPECT_EQ(open[1].of, 2u);
  EXPECT_EQ(table.completed(), 0u);
  table.contribute(2, "*", 1, "c");
  EXPECT_EQ(table.completed(), 1u);
  EXPECT_EQ(table.progress().size(), 1u);
}

}  // namespace
}  // namespace ionet::launcher
