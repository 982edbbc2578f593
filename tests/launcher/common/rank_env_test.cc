// The environment contract of a rank, and how environments are merged.
#include "common/rank_env.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ionet::launcher {
namespace {

using Env = std::vector<std::string>;

// Rank 5 of 8, the second of 4 ranks on node1, the job's second host.
RankPlace place() {
  RankPlace p;
  p.rank = 5;
  p.worldSize = 8;
  p.localRank = 1;
  p.localSize = 4;
  p.hostIndex = 2;
  p.hostName = "node1";
  return p;
}

JobEnvInputs job() {
  JobEnvInputs j;
  j.jobId = "job-42";
  j.masterAddr = "10.0.0.7";
  j.masterPort = 29500;
  j.vaderDir = "/dev/shm/ionet-job-42/node1";
  return j;
}

Env sorted(Env env) {
  std::sort(env.begin(), env.end());
  return env;
}

TEST(RankEnvironment, EveryContractVariable) {
  const Env expected = {
      "OMPI_COMM_WORLD_RANK=5",
      "OMPI_COMM_WORLD_SIZE=8",
      "OMPI_COMM_WORLD_LOCAL_RANK=1",
      "OMPI_COMM_WORLD_LOCAL_SIZE=4",
      "OMPI_COMM_WORLD_NODE_RANK=1",  // = local rank, as mpirun sets it
      "OMPI_MCA_schizo=ompi",
      "OMPI_MCA_btl_vader_backing_directory=/dev/shm/ionet-job-42/node1",
      "RANK=5",
      "LOCAL_RANK=1",
      "WORLD_SIZE=8",
      "LOCAL_WORLD_SIZE=4",
      "GROUP_RANK=2",  // the host index
      "MASTER_ADDR=10.0.0.7",
      "MASTER_PORT=29500",
      "IONET_JOB_ID=job-42",
      "IONET_RANK=5",
      "IONET_HOST=node1",
  };
  EXPECT_EQ(sorted(rankEnvironment(place(), job())), sorted(expected));
}

TEST(RankEnvironment, OversubscribedHostYields) {
  auto j = job();
  j.oversubscribed = true;
  const auto env = rankEnvironment(place(), j);
  EXPECT_EQ(std::count(env.begin(), env.end(), "OMPI_MCA_mpi_oversubscribe=1"), 1);
  EXPECT_EQ(env.size(), 18u);  // the 17 of the contract, plus this one
}

// Through the data path the ranks share their host's cores with the agent's forwarder: they
// yield when idle instead of spinning; without it they spin as mpirun's do.
TEST(RankEnvironment, RanksOnTheDataPathYieldWhenIdle) {
  auto j = job();
  EXPECT_FALSE(environmentValue(rankEnvironment(place(), j), "OMPI_MCA_mpi_yield_when_idle"));
  j.forwarder = "127.0.0.1:7000";
  j.shimPath = "/opt/ionet/lib/libionet-shim.so";
  const auto env = rankEnvironment(place(), j);
  EXPECT_EQ(environmentValue(env, "OMPI_MCA_mpi_yield_when_idle"), "1");
  EXPECT_EQ(environmentValue(env, "IONET_FORWARDER"), "127.0.0.1:7000");
  // The job's own variables (--mca, -x) are merged last, as the agent does: the user's wins.
  const auto merged = mergeEnvironment(env, {"OMPI_MCA_mpi_yield_when_idle=0"});
  EXPECT_EQ(environmentValue(merged, "OMPI_MCA_mpi_yield_when_idle"), "0");
}

TEST(RankEnvironment, RankZero) {
  RankPlace p;
  p.hostName = "node0";
  const auto env = rankEnvironment(p, job());
  for (const char* entry : {"RANK=0", "WORLD_SIZE=1", "LOCAL_RANK=0", "LOCAL_WORLD_SIZE=1",
                            "GROUP_RANK=0", "IONET_HOST=node0", "OMPI_COMM_WORLD_NODE_RANK=0"}) {
    EXPECT_EQ(std::count(env.begin(), env.end(), entry), 1) << entry;
  }
}

TEST(MergeEnvironment, LaterWinsAndFirstAppearanceOrderKept) {
  const Env base = {"PATH=/bin", "HOME=/root", "A=1"};
  const Env merged = mergeEnvironment(base, {"A=2", "NEW=x", "PATH=/usr/bin:/bin", "NEW=y"});
  EXPECT_EQ(merged, (Env{"PATH=/usr/bin:/bin", "HOME=/root", "A=2", "NEW=y"}));
}

TEST(MergeEnvironment, NamesMatchExactly) {
  const Env merged = mergeEnvironment({"FOO=1", "FOOBAR=2"}, {"FOO=3", "FO=4"});
  EXPECT_EQ(merged, (Env{"FOO=3", "FOOBAR=2", "FO=4"}));
}

TEST(MergeEnvironment, ValuesMayContainEqualsOrBeEmpty) {
  const Env merged = mergeEnvironment({"OPTS=a=b", "E=x"}, {"OPTS=c=d=e", "E="});
  EXPECT_EQ(merged, (Env{"OPTS=c=d=e", "E="}));
}

TEST(MergeEnvironment, EmptyOverridesKeepBase) {
  const Env base = {"A=1", "B=2"};
  EXPECT_EQ(mergeEnvironment(base, {}), base);
  EXPECT_EQ(mergeEnvironment({}, {"A=1", "A=2"}), (Env{"A=2"}));
}

TEST(RankEnvironment, GpusAreNamedInPciBusOrder) {
  auto j = job();
  j.cudaVisibleDevices = "2,3";
  const auto env = rankEnvironment(place(), j);
  EXPECT_EQ(std::count(env.begin(), env.end(), "CUDA_VISIBLE_DEVICES=2,3"), 1);
  EXPECT_EQ(std::count(env.begin(), env.end(), "CUDA_DEVICE_ORDER=PCI_BUS_ID"), 1);
}

TEST(KeepShimPreloaded, PutsTheShimBackInFrontOfAJobsOwnPreload) {
  const std::string shim = "/opt/ionet/lib/libionet-shim.so";
  EXPECT_EQ(
      environmentValue(keepShimPreloaded({"A=1", "LD_PRELOAD=/x/libtrace.so"}, shim), "LD_PRELOAD"),
      shim + ":/x/libtrace.so");
  EXPECT_EQ(environmentValue(keepShimPreloaded({"A=1"}, shim), "LD_PRELOAD"), shim);
  EXPECT_EQ(environmentValue(keepShimPreloaded({"LD_PRELOAD="}, shim), "LD_PRELOAD"), shim);
  const Env already = {"LD_PRELOAD=" + shim + ":/x/libtrace.so"};
  EXPECT_EQ(keepShimPreloaded(already, shim), already);
}

}  // namespace
}  // namespace ionet::launcher
