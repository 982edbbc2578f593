// resolvePool and placeRanks: which hosts a job gets and where each rank goes. Expected
// layouts are worked out by hand from mpirun's rules in each test.
#include "ionet/launcher/placement.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "ionet/error.h"
#include "usage_error.h"

namespace ionet::launcher {
namespace {

using Layout = std::vector<std::pair<std::string, std::vector<std::uint32_t>>>;

Layout layoutOf(const Placement& p) {
  Layout out;
  for (const auto& h : p.hosts) out.emplace_back(h.name, h.ranks);
  return out;
}

// --local-hosts N with -H hosts: emulated hosts with the user's names and slots.
JobSpec emulated(std::uint32_t nHosts, const std::string& hostList = "") {
  JobSpec spec;
  spec.localHosts = nHosts;
  if (!hostList.empty()) spec.hostLists.push_back(hostList);
  return spec;
}

TEST(ResolvePool, DefaultIsThisMachineWithOneSlotPerCore) {
  const auto pool = resolvePool(JobSpec{}, 8, "myhost");
  ASSERT_EQ(pool.hosts.size(), 1u);
  EXPECT_EQ(pool.hosts[0].name, "myhost");
  EXPECT_EQ(pool.hosts[0].slots, 8u);
  EXPECT_TRUE(pool.hosts[0].local);
  EXPECT_FALSE(pool.slotsGiven);
}

TEST(PlaceRanks, DefaultPoolNpDefaultsToCoresAndMayBeOversubscribed) {
  const auto pool = resolvePool(JobSpec{}, 4, "myhost");
  const auto all = placeRanks(JobSpec{}, pool);
  EXPECT_EQ(all.worldSize, 4u);
  EXPECT_EQ(layoutOf(all), (Layout{{"myhost", {0, 1, 2, 3}}}));

  JobSpec many;
  many.np = 6;
  const auto over = placeRanks(many, pool);
  EXPECT_EQ(over.worldSize, 6u);
  EXPECT_EQ(layoutOf(over), (Layout{{"myhost", {0, 1, 2, 3, 4, 5}}}));
}

TEST(PlaceRanks, DefaultPoolHonoursNoOversubscribe) {
  const auto pool = resolvePool(JobSpec{}, 4, "myhost");
  JobSpec spec;
  spec.np = 5;
  spec.oversubscribe = false;
  EXPECT_NE(usageError([&] { placeRanks(spec, pool); }).find("not enough slots"),
            std::string::npos);
}

TEST(ResolvePool, LocalHostsEmulatesNamedNodes) {
  const auto pool = resolvePool(emulated(3), 2, "myhost");
  ASSERT_EQ(pool.hosts.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(pool.hosts[i].name, "node" + std::to_string(i));
    EXPECT_EQ(pool.hosts[i].slots, 2u);
    EXPECT_TRUE(pool.hosts[i].local);
  }
  EXPECT_FALSE(pool.slotsGiven);
}

TEST(ResolvePool, LocalHostsZeroRejected) {
  EXPECT_NE(usageError([] { resolvePool(emulated(0), 2, "myhost"); }).find("--local-hosts"),
            std::string::npos);
}

TEST(ResolvePool, LocalHostsTakesNamesAndSlotsFromHostList) {
  const auto pool = resolvePool(emulated(2, "a:3,b"), 4, "myhost");
  ASSERT_EQ(pool.hosts.size(), 2u);
  EXPECT_EQ(pool.hosts[0].name, "a");
  EXPECT_EQ(pool.hosts[0].slots, 3u);
  EXPECT_EQ(pool.hosts[1].name, "b");
  EXPECT_EQ(pool.hosts[1].slots, 1u);  // -H b: one slot, as in mpirun 4.x
  EXPECT_TRUE(pool.slotsGiven);
}

TEST(ResolvePool, LocalHostsCountMustMatchHostfile) {
  char dir[] = "/tmp/ionet-placement-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/hosts";
  std::ofstream(path) << "a\nb\nc slots=2\n";
  JobSpec spec = emulated(2);
  spec.hostfile = path;
  const auto msg = usageError([&] { resolvePool(spec, 4, "myhost"); });
  std::filesystem::remove_all(dir);
  EXPECT_NE(msg.find("--local-hosts 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 hosts"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path + ":1"), std::string::npos) << msg;
}

TEST(ResolvePool, RemoteHostWithoutPoolRejectedNamingHostAndOrigin) {
  JobSpec spec;
  spec.hostLists = {"localhost,farbox:2"};
  const auto msg = usageError([&] { resolvePool(spec, 4, "myhost"); });
  EXPECT_NE(msg.find("'farbox'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("-H localhost,farbox:2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--local-hosts"), std::string::npos) << msg;
}

TEST(ResolvePool, OwnNamesAreThisMachine) {
  JobSpec spec;
  spec.hostLists = {"localhost,127.0.0.1:2", "myhost"};
  const auto pool = resolvePool(spec, 8, "myhost.example.org");
  ASSERT_EQ(pool.hosts.size(), 1u);
  EXPECT_EQ(pool.hosts[0].name, "myhost.example.org");
  EXPECT_EQ(pool.hosts[0].slots, 4u);  // 1 + 2 + 1: the named slots, not the cores
  EXPECT_TRUE(pool.slotsGiven);
}

// A host named twice without a count has 2 slots (mpirun -H aa,aa,bb starts 2 ranks on aa).
TEST(ResolvePool, RepeatedOwnNameCountsEachMention) {
  JobSpec spec;
  spec.hostLists = {"localhost,localhost"};
  spec.np = 2;
  const auto pool = resolvePool(spec, 8, "myhost");
  ASSERT_EQ(pool.hosts.size(), 1u);
  EXPECT_EQ(pool.hosts[0].slots, 2u);
  EXPECT_EQ(layoutOf(placeRanks(spec, pool)), (Layout{{"myhost", {0, 1}}}));
}

// The same under --local-hosts: each -H mention is one stated slot, as in mpirun 4.x.
TEST(ResolvePool, RepeatedEmulatedNameCountsEachMention) {
  const auto pool = resolvePool(emulated(2, "a,a,b"), 8, "myhost");
  ASSERT_EQ(pool.hosts.size(), 2u);
  EXPECT_EQ(pool.hosts[0].name, "a");
  EXPECT_EQ(pool.hosts[0].slots, 2u);
  EXPECT_EQ(pool.hosts[1].slots, 1u);
}

TEST(PlaceRanks, BySlotFillsEachHostInTurn) {
  JobSpec spec = emulated(2, "a:2,b:2");
  spec.np = 4;
  const auto p = placeRanks(spec, resolvePool(spec, 16, "myhost"));
  EXPECT_EQ(p.worldSize, 4u);
  EXPECT_EQ(layoutOf(p), (Layout{{"a", {0, 1}}, {"b", {2, 3}}}));
}

TEST(PlaceRanks, ExplicitSlotsAreALimitUnlessOversubscribe) {
  JobSpec spec = emulated(2, "a:2,b:2");
  spec.np = 5;
  const auto pool = resolvePool(spec, 16, "myhost");
  const auto msg = usageError([&] { placeRanks(spec, pool); });
  EXPECT_NE(msg.find("not enough slots"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--oversubscribe"), std::string::npos) << msg;

  spec.oversubscribe = true;
  // 4 slots, 1 rank over: it goes to the first host.
  EXPECT_EQ(layoutOf(placeRanks(spec, pool)), (Layout{{"a", {0, 1, 2}}, {"b", {3, 4}}}));
}

TEST(PlaceRanks, OversubscribedBySlotStaysConsecutiveAndBalanced) {
  JobSpec spec = emulated(3, "a:2,b:1,c:3");
  spec.np = 10;
  spec.oversubscribe = true;
  // 6 slots filled (a 2, b 1, c 3); the 4 extra ranks spread 2/1/1 from the first host:
  // a 4, b 2, c 4, each host's ranks consecutive.
  const auto p = placeRanks(spec, resolvePool(spec, 16, "myhost"));
  EXPECT_EQ(p.worldSize, 10u);
  EXPECT_EQ(layoutOf(p), (Layout{{"a", {0, 1, 2, 3}}, {"b", {4, 5}}, {"c", {6, 7, 8, 9}}}));
}

TEST(PlaceRanks, ByNodeRoundRobin) {
  JobSpec spec = emulated(3);
  spec.np = 5;
  spec.mapBy = MapBy::kNode;
  const auto p = placeRanks(spec, resolvePool(spec, 4, "myhost"));
  EXPECT_EQ(layoutOf(p), (Layout{{"node0", {0, 3}}, {"node1", {1, 4}}, {"node2", {2}}}));
}

TEST(PlaceRanks, ByNodeSkipsFullHosts) {
  JobSpec spec = emulated(2, "a:1,b:3");
  spec.np = 4;
  spec.mapBy = MapBy::kNode;
  // r0 a, r1 b, then a is full: r2 and r3 go to b.
  const auto p = placeRanks(spec, resolvePool(spec, 8, "myhost"));
  EXPECT_EQ(layoutOf(p), (Layout{{"a", {0}}, {"b", {1, 2, 3}}}));
}

TEST(PlaceRanks, PerHostDefaultsNpAndKeepsRanksConsecutive) {
  JobSpec spec = emulated(3);
  spec.perHost = 2;
  const auto p = placeRanks(spec, resolvePool(spec, 4, "myhost"));
  EXPECT_EQ(p.worldSize, 6u);
  EXPECT_EQ(layoutOf(p), (Layout{{"node0", {0, 1}}, {"node1", {2, 3}}, {"node2", {4, 5}}}));
}

TEST(PlaceRanks, PerHostByNode) {
  JobSpec spec = emulated(3);
  spec.perHost = 2;
  spec.mapBy = MapBy::kNode;
  const auto p = placeRanks(spec, resolvePool(spec, 4, "myhost"));
  EXPECT_EQ(layoutOf(p), (Layout{{"node0", {0, 3}}, {"node1", {1, 4}}, {"node2", {2, 5}}}));
}

TEST(PlaceRanks, PerHostWithFewerRanksLeavesLastHostsOut) {
  JobSpec spec = emulated(3);
  spec.perHost = 2;
  spec.np = 3;
  const auto p = placeRanks(spec, resolvePool(spec, 4, "myhost"));
  EXPECT_EQ(p.worldSize, 3u);
  EXPECT_EQ(layoutOf(p), (Layout{{"node0", {0, 1}}, {"node1", {2}}}));
}

TEST(PlaceRanks, NpBeyondPerHostTimesHostsRejected) {
  JobSpec spec = emulated(3);
  spec.perHost = 2;
  spec.np = 7;
  const auto msg = usageError([&] { placeRanks(spec, resolvePool(spec, 4, "myhost")); });
  EXPECT_NE(msg.find("-np 7"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 hosts"), std::string::npos) << msg;
}

TEST(PlaceRanks, PerHostBeyondStatedSlotsNeedsOversubscribe) {
  JobSpec spec = emulated(2, "a:2,b:4");
  spec.perHost = 3;
  const auto pool = resolvePool(spec, 8, "myhost");
  const auto msg = usageError([&] { placeRanks(spec, pool); });
  EXPECT_NE(msg.find("'a'"), std::string::npos) << msg;

  spec.oversubscribe = true;
  EXPECT_EQ(layoutOf(placeRanks(spec, pool)), (Layout{{"a", {0, 1, 2}}, {"b", {3, 4, 5}}}));
}

TEST(PlaceRanks, OnlyHostsWithRanksAppear) {
  JobSpec spec = emulated(3, "a:2,b:2,c:2");
  spec.np = 3;
  const auto p = placeRanks(spec, resolvePool(spec, 8, "myhost"));
  EXPECT_EQ(p.worldSize, 3u);
  EXPECT_EQ(layoutOf(p), (Layout{{"a", {0, 1}}, {"b", {2}}}));
}

TEST(PlaceRanks, ZeroRanksRejected) {
  JobSpec spec;
  spec.np = 0;
  EXPECT_NE(usageError([&] { placeRanks(spec, resolvePool(spec, 4, "h")); }).find("-np"),
            std::string::npos);
}

}  // namespace
}  // namespace ionet::launcher

namespace ionet::launcher {
namespace {

// Emulated hosts have no stated slots: ranks are spread evenly whatever the core count.
TEST(PlaceRanks, EmulatedHostsShareRanksEvenlyOnAnyMachine) {
  for (std::uint32_t cores : {2u, 8u, 64u}) {
    JobSpec spec = emulated(2);
    spec.np = 4;
    EXPECT_EQ(layoutOf(placeRanks(spec, resolvePool(spec, cores, "myhost"))),
              (Layout{{"node0", {0, 1}}, {"node1", {2, 3}}}))
        << cores << " cores";
    spec.np = 3;
    EXPECT_EQ(layoutOf(placeRanks(spec, resolvePool(spec, cores, "myhost"))),
              (Layout{{"node0", {0, 1}}, {"node1", {2}}}))
        << cores << " cores";
  }
}

}  // namespace
}  // namespace ionet::launcher
