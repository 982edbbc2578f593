// resolvePool and placeRanks: which hosts a job gets and where each rank goes. Expected
// layouts are worked out by hand from mpirun's rules in each test.
#include "run/placement.h"

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

// GPU placement: --gpus-per-rank with --gpu-model and --gpu-min-mem filters.
namespace ionet::launcher {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;
const std::string kH100 = "NVIDIA H100 80GB HBM3";
const std::string kA100 = "NVIDIA A100-SXM4-40GB";

GpuInfo gpu(unsigned index, const std::string& model = kH100, std::uint64_t mem = 80 * kGiB) {
  GpuInfo g;
  g.index = index;
  g.model = model;
  g.uuid = "GPU-" + std::to_string(index);
  g.memoryBytes = mem;
  return g;
}

// Hosts of a real pool: stated slots, remote, with the GPUs their agents reported.
Pool gpuPool(std::vector<PoolHost> hosts, bool slotsGiven = true) {
  for (auto& h : hosts) h.local = false;
  return Pool{std::move(hosts), slotsGiven};
}

JobSpec gpuJob(std::uint32_t perRank, std::optional<std::uint32_t> np = std::nullopt) {
  JobSpec spec;
  spec.gpusPerRank = perRank;
  spec.np = np;
  return spec;
}

using GpuLayout = std::vector<std::pair<std::string, std::vector<std::vector<unsigned>>>>;

GpuLayout gpusOf(const Placement& p) {
  GpuLayout out;
  for (const auto& h : p.hosts) {
    EXPECT_EQ(h.gpusOfRank.size(), h.ranks.size()) << h.name;
    out.emplace_back(h.name, h.gpusOfRank);
  }
  return out;
}

TEST(GpuPlacement, DistinctGpusInIndexOrder) {
  // Reported out of order: ranks still get 0,1 then 2,3.
  const Pool pool = gpuPool({{"a", 8, false, {gpu(3), gpu(1), gpu(0), gpu(2)}}});
  const auto p = placeRanks(gpuJob(2, 2), pool);
  EXPECT_EQ(layoutOf(p), (Layout{{"a", {0, 1}}}));
  EXPECT_EQ(gpusOf(p), (GpuLayout{{"a", {{0, 1}, {2, 3}}}}));
}

TEST(GpuPlacement, NpDefaultsToOneRankPerUsableGpuShare) {
  const Pool pool =
      gpuPool({{"a", 8, false, {gpu(0), gpu(1), gpu(2)}}, {"b", 8, false, {gpu(0), gpu(1)}}});
  const auto one = placeRanks(gpuJob(1), pool);
  EXPECT_EQ(one.worldSize, 5u);
  EXPECT_EQ(gpusOf(one), (GpuLayout{{"a", {{0}, {1}, {2}}}, {"b", {{0}, {1}}}}));
  // Two per rank: a's third GPU stays unused.
  const auto two = placeRanks(gpuJob(2), pool);
  EXPECT_EQ(two.worldSize, 2u);
  EXPECT_EQ(gpusOf(two), (GpuLayout{{"a", {{0, 1}}}, {"b", {{0, 1}}}}));
}

TEST(GpuPlacement, ModelFilterIsACaseInsensitiveSubstring) {
  const Pool pool = gpuPool(
      {{"mixed", 8, false, {gpu(0, kA100, 40 * kGiB), gpu(1), gpu(2, kA100, 40 * kGiB), gpu(3)}}});
  JobSpec spec = gpuJob(1);
  spec.gpuModel = "h100";
  const auto p = placeRanks(spec, pool);
  EXPECT_EQ(gpusOf(p), (GpuLayout{{"mixed", {{1}, {3}}}}));
  spec.gpuModel = "A100-SXM4";
  EXPECT_EQ(gpusOf(placeRanks(spec, pool)), (GpuLayout{{"mixed", {{0}, {2}}}}));
}

TEST(GpuPlacement, MemoryFilter) {
  const Pool pool = gpuPool({{"a", 8, false, {gpu(0, kA100, 40 * kGiB), gpu(1, kA100, 80 * kGiB)}},
                             {"b", 8, false, {gpu(0, kA100, 40 * kGiB)}}});
  JobSpec spec = gpuJob(1);
  spec.gpuMinMemoryBytes = 50'000'000'000;
  const auto p = placeRanks(spec, pool);
  EXPECT_EQ(gpusOf(p), (GpuLayout{{"a", {{1}}}}));  // b has none: it takes no part
  spec.gpuMinMemoryBytes = 40 * kGiB;               // at least: equal counts
  EXPECT_EQ(placeRanks(spec, pool).worldSize, 3u);
}

TEST(GpuPlacement, StatedSlotsLimitUnlessOversubscribe) {
  const Pool pool =
      gpuPool({{"a", 1, false, {gpu(0), gpu(1), gpu(2)}}, {"b", 2, false, {gpu(0), gpu(1)}}});
  const auto limited = placeRanks(gpuJob(1), pool);
  EXPECT_EQ(layoutOf(limited), (Layout{{"a", {0}}, {"b", {1, 2}}}));

  JobSpec over = gpuJob(1);
  over.oversubscribe = true;  // the slot limit goes, the GPU limit stays
  EXPECT_EQ(placeRanks(over, pool).worldSize, 5u);
  over.np = 6;
  EXPECT_NE(usageError([&] { placeRanks(over, pool); }).find("cannot place 6 ranks"),
            std::string::npos);
}

TEST(GpuPlacement, DefaultSlotsAreNoLimit) {
  // The embedded pool's slots (cores) are a default: 2 cores do not cap 4 GPUs.
  const Pool pool = gpuPool({{"here", 2, false, {gpu(0), gpu(1), gpu(2), gpu(3)}}}, false);
  EXPECT_EQ(placeRanks(gpuJob(1), pool).worldSize, 4u);
}

TEST(GpuPlacement, ByNodeAndPerHost) {
  const Pool pool = gpuPool({{"a", 8, false, {gpu(0), gpu(1)}},
                             {"cpu", 8, false, {}},
                             {"b", 8, false, {gpu(4), gpu(5)}}});
  JobSpec byNode = gpuJob(1, 3);
  byNode.mapBy = MapBy::kNode;
  const auto p = placeRanks(byNode, pool);
  EXPECT_EQ(layoutOf(p), (Layout{{"a", {0, 2}}, {"b", {1}}}));
  EXPECT_EQ(gpusOf(p), (GpuLayout{{"a", {{0}, {1}}}, {"b", {{4}}}}));

  JobSpec perHost = gpuJob(1);
  perHost.perHost = 2;
  EXPECT_EQ(layoutOf(placeRanks(perHost, pool)), (Layout{{"a", {0, 1}}, {"b", {2, 3}}}));
  perHost.perHost = 3;
  const auto msg = usageError([&] { placeRanks(perHost, pool); });
  EXPECT_EQ(msg.rfind("cannot place 3 ranks on host 'a' (-N 3) with 1 GPU each: ", 0), 0u) << msg;
}

TEST(GpuPlacement, ErrorNamesWhatIsMissing) {
  const Pool pool = gpuPool({{"gpu1", 8, false, {gpu(0), gpu(1)}},
                             {"gpu2", 8, false, {gpu(0, kA100, 80 * kGiB), gpu(1)}},
                             {"gpu3",
                              8,
                              false,
                              {gpu(0, kA100, 40 * kGiB), gpu(1, kA100, 40 * kGiB),
                               gpu(2, kA100, 40 * kGiB), gpu(3, kA100, 40 * kGiB)}}});
  JobSpec spec = gpuJob(1, 8);
  spec.gpuModel = "H100";
  spec.gpuMinMemoryBytes = 80 * kGiB;
  EXPECT_EQ(usageError([&] { placeRanks(spec, pool); }),
            "cannot place 8 ranks with 1 GPU each (model ~ 'H100', >= 80 GiB): the pool has 3 "
            "matching GPUs (gpu1: 2, gpu2: 1; gpu3: 4 GPUs, none matching)");
}

TEST(GpuPlacement, ErrorCountsRoomAndHostsWithoutGpus) {
  const Pool pool = gpuPool({{"a", 8, false, {gpu(0), gpu(1), gpu(2)}},
                             {"b", 1, false, {gpu(0), gpu(1), gpu(2), gpu(3)}},
                             {"cpu1", 8, false, {}}});
  EXPECT_EQ(usageError([&] { placeRanks(gpuJob(2, 4), pool); }),
            "cannot place 4 ranks with 2 GPUs each: the pool has 7 matching GPUs, room for 2 "
            "ranks (a: 3, b: 4 (1 slot); cpu1: no GPUs)");
  const Pool none = gpuPool({{"cpu1", 8, false, {}}, {"cpu2", 8, false, {}}});
  JobSpec spec = gpuJob(1);
  spec.gpuMinMemoryBytes = 40'000'000'000;
  EXPECT_EQ(usageError([&] { placeRanks(spec, none); }),
            "cannot place any rank with 1 GPU each (>= 40 GB): the pool has 0 matching GPUs "
            "(cpu1: no GPUs; cpu2: no GPUs)");
}

TEST(GpuPlacement, NoGpusAskedLeavesPlacementUnchanged) {
  const Pool pool = gpuPool({{"a", 2, false, {gpu(0)}}, {"b", 2, false, {}}});
  JobSpec spec;
  spec.np = 4;
  const auto p = placeRanks(spec, pool);
  EXPECT_EQ(layoutOf(p), (Layout{{"a", {0, 1}}, {"b", {2, 3}}}));
  EXPECT_EQ(gpusOf(p), (GpuLayout{{"a", {{}, {}}}, {"b", {{}, {}}}}));
}

TEST(GpuPlacement, CudaVisibleDevices) {
  EXPECT_EQ(cudaVisibleDevices({}), "");
  EXPECT_EQ(cudaVisibleDevices({3}), "3");
  EXPECT_EQ(cudaVisibleDevices({0, 1, 7}), "0,1,7");
}

// --pool with -H: the named hosts of the pool, in the order named; as with mpirun, a host named
// without :N in -H has one slot.
TEST(RestrictPool, HostListPicksPoolHostsInItsOrder) {
  Pool pool;
  pool.hosts = {{"h1", 4, false, {}}, {"h2", 8, false, {}}, {"h3", 2, false, {}}};
  JobSpec spec;
  spec.hostLists = {"h3,h1:3"};
  const Pool picked = restrictPool(pool, spec);
  ASSERT_EQ(picked.hosts.size(), 2u);
  EXPECT_EQ(picked.hosts[0].name, "h3");
  EXPECT_EQ(picked.hosts[0].slots, 1u);
  EXPECT_EQ(picked.hosts[1].name, "h1");
  EXPECT_EQ(picked.hosts[1].slots, 3u);
  EXPECT_TRUE(picked.slotsGiven);
  EXPECT_EQ(restrictPool(pool, JobSpec{}).hosts.size(), 3u);  // no list: the whole pool
}

// The pool agents' health checks: a GPU that failed is never given out, and --gpu-min-tflops
// takes only GPUs whose measured rate reaches it (an unchecked GPU has none).
TEST(PlaceGpus, FailedGpusAreLeftOutAndMeasuredRatesFilter) {
  auto checked = [](unsigned index, double tflops, const std::string& failure = "") {
    GpuInfo g = gpu(index);
    g.checked = true;
    g.tflops = tflops;
    g.healthFailure = failure;
    return g;
  };
  Pool pool;
  pool.slotsGiven = true;
  pool.hosts = {
      {"fast", 4, false, {checked(0, 600), checked(1, 0, "health check: memory test: 2 errors")}},
      {"slow", 4, false, {checked(0, 90), checked(1, 95)}},
      {"old", 4, false, {gpu(0)}}};  // an agent that did not check
  JobSpec spec;
  spec.gpusPerRank = 1;
  spec.np = 4;
  const auto all = placeRanks(spec, pool);
  ASSERT_EQ(all.hosts.size(), 3u);
  EXPECT_EQ(all.hosts[0].gpusOfRank, (std::vector<std::vector<unsigned>>{{0}}));  // not GPU 1
  spec.np = 5;
  EXPECT_EQ(usageError([&] { placeRanks(spec, pool); }),
            "cannot place 5 ranks with 1 GPU each: the pool has 4 matching GPUs (fast: 1, slow: "
            "2, old: 1)");

  spec.gpuMinTflops = 100;
  spec.np = 1;
  const auto fast = placeRanks(spec, pool);
  ASSERT_EQ(fast.hosts.size(), 1u);
  EXPECT_EQ(fast.hosts[0].name, "fast");
  spec.np = 2;
  EXPECT_EQ(usageError([&] { placeRanks(spec, pool); }),
            "cannot place 2 ranks with 1 GPU each (>= 100 TFLOP/s measured): the pool has 1 "
            "matching GPU (fast: 1; slow: 2 GPUs, none matching; old: 1 GPU, none matching)");

  Pool broken;
  broken.slotsGiven = true;
  broken.hosts = {{"bad", 4, false, {checked(0, 0, "health check: CUDA does not see this GPU")}}};
  spec.gpuMinTflops = 0;
  spec.np = 1;
  EXPECT_EQ(usageError([&] { placeRanks(spec, broken); }),
            "cannot place 1 rank with 1 GPU each: the pool has 0 matching GPUs (bad: 1 GPU, 1 "
            "failed its health check, none matching)");
}

// Inside a batch job the queue gave this job GPUs 1 and 3 of h1 and none of h2: two ranks with
// one GPU each land on exactly those, and a third does not fit.
TEST(RestrictPool, ABatchJobUsesOnlyTheGpusItsAllocationHolds) {
  Pool pool;
  pool.hosts = {{"h1", 4, false, {gpu(0), gpu(1), gpu(2), gpu(3)}},
                {"h2", 4, false, {gpu(0), gpu(1)}}};
  JobSpec spec;
  spec.hostLists = {"h1:2,h2:2"};
  spec.allocatedGpus =
      std::map<std::string, std::vector<std::uint32_t>>{{"h1", {1, 3}}, {"h2", {}}};
  spec.gpusPerRank = 1;
  const Pool picked = restrictPool(pool, spec);
  ASSERT_EQ(picked.hosts.size(), 2u);
  ASSERT_EQ(picked.hosts[0].gpus.size(), 2u);
  EXPECT_EQ(picked.hosts[0].gpus[0].index, 1u);
  EXPECT_EQ(picked.hosts[0].gpus[1].index, 3u);
  EXPECT_TRUE(picked.hosts[1].gpus.empty());

  spec.np = 2;
  const auto placement = placeRanks(spec, picked);
  ASSERT_EQ(placement.hosts.size(), 1u);
  EXPECT_EQ(placement.hosts[0].gpusOfRank, (std::vector<std::vector<unsigned>>{{1}, {3}}));
  spec.np = 3;
  EXPECT_NE(usageError([&] { placeRanks(spec, picked); }).find("cannot place 3 ranks"),
            std::string::npos);
  // Outside a job (no allocation) every GPU the agent reported is there.
  spec.allocatedGpus.reset();
  EXPECT_EQ(restrictPool(pool, spec).hosts[0].gpus.size(), 4u);
}

TEST(RestrictPool, AHostThePoolDoesNotOfferIsNamed) {
  Pool pool;
  pool.hosts = {{"h1", 4, false, {}}, {"h2", 8, false, {}}};
  JobSpec spec;
  spec.hostLists = {"h1,h9"};
  EXPECT_EQ(usageError([&] { restrictPool(pool, spec); }),
            "-H h1,h9: host 'h9' is not an available host of the pool (h1, h2)");
}

}  // namespace
}  // namespace ionet::launcher
