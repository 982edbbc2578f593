// Allocations and the FIFO-with-backfill pass, on made-up hosts and jobs.
#include "ionet/jobscripts/scheduler.h"

#include <gtest/gtest.h>

#include "ionet/error.h"

namespace ionet::jobscripts {
namespace {

std::vector<QueueHost> hosts(std::size_t n, std::uint32_t cores) {
  std::vector<QueueHost> h;
  for (std::size_t i = 0; i < n; ++i) h.push_back({"node" + std::to_string(i), cores, 0, 0});
  return h;
}

JobRecord job(std::uint32_t ntasks, std::uint32_t nodes = 0, std::uint32_t perNode = 0,
              std::uint64_t limit = 0) {
  JobRecord j;
  j.ntasks = ntasks;
  j.nodes = nodes;
  j.ntasksPerNode = perNode;
  j.timeLimitSeconds = limit;
  return j;
}

TEST(Allocate, FewestHostsWithoutANodeCount) {
  auto a = allocate(job(6), hosts(3, 4));
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (std::vector<AllocatedHost>{{"node0", 4}, {"node1", 2}}));
}

TEST(Allocate, NodeCountSpreadsEvenly) {
  auto a = allocate(job(4, 2), hosts(3, 4));
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (std::vector<AllocatedHost>{{"node0", 2}, {"node1", 2}}));
}

TEST(Allocate, TasksPerNode) {
  auto a = allocate(job(6, 0, 2), hosts(3, 4));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->size(), 3u);
  EXPECT_FALSE(allocate(job(8, 0, 2), hosts(3, 4)));  // needs 4 hosts
  EXPECT_FALSE(allocate(job(2, 0, 5), hosts(3, 4)));  // 5 per host do not fit on 4 cores
  // A maximum per host, and every host of -N gets one.
  EXPECT_EQ(*allocate(job(3, 3, 2), hosts(3, 4)),
            (std::vector<AllocatedHost>{{"node0", 1}, {"node1", 1}, {"node2", 1}}));
}

TEST(Allocate, CpusPerTaskMemoryAndGpus) {
  auto j = job(2);
  j.cpusPerTask = 3;
  EXPECT_FALSE(allocate(j, hosts(1, 4)));
  EXPECT_TRUE(allocate(j, hosts(2, 4)));
  auto m = job(1);
  m.memMegabytes = 2000;
  std::vector<QueueHost> small = {{"a", 4, 1000, 0}, {"b", 4, 4000, 0}};
  EXPECT_EQ(allocate(m, small)->front().name, "b");
  auto g = job(2);
  g.gpusPerTask = 1;
  EXPECT_FALSE(allocate(g, hosts(2, 4)));
  std::vector<QueueHost> gpu = {{"a", 4, 0, 1}, {"b", 4, 0, 1}};
  EXPECT_EQ(allocate(g, gpu)->size(), 2u);
}

// Two jobs on one host never get the same GPU: the allocation names the GPUs, and a job that
// ends gives its own back.
TEST(Schedule, GpusAreGivenOutByIndexNotJustCounted) {
  const std::vector<QueueHost> host = {{"a", 8, 0, 3}};
  auto one = job(1);
  one.gpusPerTask = 1;
  auto two = job(1);
  two.gpusPerTask = 2;

  auto first = schedule(host, {}, {one}, 100);
  ASSERT_EQ(first.starts.size(), 1u);
  EXPECT_EQ(first.starts[0].allocation, (std::vector<AllocatedHost>{{"a", 1, {0}}}));
  auto running = one;
  running.allocation = first.starts[0].allocation;
  running.startTime = 100;

  // With GPU 0 held, the next gets 1 and 2, and a third waits for Resources.
  auto second = schedule(host, {running}, {two, one}, 101);
  ASSERT_EQ(second.starts.size(), 1u);
  EXPECT_EQ(second.starts[0].allocation, (std::vector<AllocatedHost>{{"a", 1, {1, 2}}}));
  EXPECT_EQ(second.reasons[1], "Resources");
  auto other = two;
  other.allocation = second.starts[0].allocation;
  other.startTime = 101;

  // The first job ends: its GPU 0 is the one given out again, not 1 or 2.
  auto third = schedule(host, {other}, {one}, 102);
  ASSERT_EQ(third.starts.size(), 1u);
  EXPECT_EQ(third.starts[0].allocation, (std::vector<AllocatedHost>{{"a", 1, {0}}}));
}

// --gpus N for the whole job: spread over its hosts, each host's share by index.
TEST(Allocate, JobGpusAreSplitOverTheHostsByIndex) {
  auto j = job(4, 2);
  j.gpus = 4;
  std::vector<QueueHost> two = {{"a", 4, 0, 2}, {"b", 4, 0, 4, {0, 3}}};
  auto a = allocate(j, two);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (std::vector<AllocatedHost>{{"a", 2, {0, 1}}, {"b", 2, {1, 2}}}));
  two[0].gpusTaken = {1};
  EXPECT_FALSE(allocate(j, two));
}

TEST(AllocationText, RoundTripsWithAndWithoutGpus) {
  const std::vector<AllocatedHost> hosts = {{"node0", 2, {0, 1}}, {"node1", 1}, {"n:2", 3, {7}}};
  EXPECT_EQ(formatAllocation(hosts), "node0:2:gpus=0+1,node1:1,n:2:3:gpus=7");
  EXPECT_EQ(parseAllocation(formatAllocation(hosts)), hosts);
  EXPECT_EQ(parseAllocation("node0"), (std::vector<AllocatedHost>{{"node0", 1}}));
  EXPECT_EQ(parseAllocation("a:1:gpus=3+1"), (std::vector<AllocatedHost>{{"a", 1, {1, 3}}}));
}

TEST(AllocationText, BadItemsAreNamed) {
  for (const char* bad : {"a:x", "a:0", ":2", "a:2:gpus=", "a:2:gpus=1+", "a:2:gpus=1+1",
                          "a:2:gpus=-1", "a:2:gpus=one"}) {
    try {
      parseAllocation(std::string("ok:1,") + bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos)
          << e.what();
    }
  }
}

TEST(Schedule, FirstComeFirstServed) {
  auto running = job(4);
  running.allocation = {{"node0", 4}};
  running.startTime = 100;
  // The first pending job needs the whole host; the second would fit but has no time limit.
  auto r = schedule(hosts(1, 4), {running}, {job(4), job(1)}, 100);
  EXPECT_TRUE(r.starts.empty());
  EXPECT_EQ(r.reasons[0], "Resources");
  EXPECT_EQ(r.reasons[1], "Priority");
}

TEST(Schedule, BackfillOnlyWhatEndsBeforeTheWaitingJobCanStart) {
  auto running = job(2, 0, 0, 600);
  running.allocation = {{"node0", 2}};
  running.startTime = 1000;  // ends at 1600
  const auto big = job(4);
  const auto shortJob = job(2, 0, 0, 300);  // ends at 1400: before 1600
  const auto longJob = job(2, 0, 0, 3600);  // would delay the big job
  auto r = schedule(hosts(1, 4), {running}, {big, longJob, shortJob}, 1100);
  ASSERT_EQ(r.starts.size(), 1u);
  EXPECT_EQ(r.starts[0].pendingIndex, 2u);
  EXPECT_EQ(r.reasons[0], "Resources");
  EXPECT_EQ(r.reasons[1], "Priority");
}

TEST(Schedule, StartsWhatFitsInOrder) {
  auto r = schedule(hosts(2, 2), {}, {job(2), job(2), job(1)}, 0);
  ASSERT_EQ(r.starts.size(), 2u);
  EXPECT_EQ(r.starts[0].allocation, (std::vector<AllocatedHost>{{"node0", 2}}));
  EXPECT_EQ(r.starts[1].allocation, (std::vector<AllocatedHost>{{"node1", 2}}));
  EXPECT_EQ(r.reasons[2], "Resources");
}

}  // namespace
}  // namespace ionet::jobscripts
