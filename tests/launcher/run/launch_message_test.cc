// What ionet-run tells each host's agent to start (LaunchJob), built without any agent: ranks
// and GPUs per host, the job's variables in the order that lets the user win, rank 0's host as
// the master, and the data path's hosts only when the job uses it.
#include "run/launch_message.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ionet/error.h"

namespace ionet::launcher {
namespace {

// Two hosts; rank 0 on the second, so that "rank 0's host" is not simply the first.
Placement twoHosts() {
  Placement p;
  p.hosts.push_back({"a", {1, 3}, {{0}, {1}}});
  p.hosts.push_back({"b", {0, 2}, {{0, 1}, {2, 3}}});
  p.worldSize = 4;
  return p;
}

LaunchInputs inputs(bool dataPath) {
  LaunchInputs in;
  in.jobId = "0123456789ab";
  in.transportKey = "k1-k2";
  in.workDir = "/work/dir";
  in.dataPath = dataPath;
  in.killGraceMs = 750;
  in.hosts = {{"10.0.0.1", 4001, "127.0.0.1:5001", "", ""},
              {"10.0.0.2", 4002, "127.0.0.1:5002", "lab", "192.0.2.7"}};
  return in;
}

std::vector<std::string> variables(const control::LaunchJob& job) {
  std::vector<std::string> out;
  for (const auto& v : job.env()) out.push_back(v.name() + "=" + v.value());
  return out;
}

TEST(LaunchMessage, HostsRanksAndGpusInNodeOrder) {
  JobSpec spec;
  spec.argv = {"./train", "--epochs", "3"};
  const auto job = buildLaunchJob(spec, twoHosts(), inputs(false));
  EXPECT_EQ(job.job_id(), "0123456789ab");
  EXPECT_EQ(job.nspace(), "ionet.0123456789ab");
  ASSERT_EQ(job.hosts_size(), 2);
  EXPECT_EQ(job.hosts(0).host_name(), "a");
  EXPECT_EQ(std::vector<std::uint32_t>(job.hosts(0).ranks().begin(), job.hosts(0).ranks().end()),
            (std::vector<std::uint32_t>{1, 3}));
  EXPECT_EQ(std::vector<std::string>(job.hosts(1).gpus().begin(), job.hosts(1).gpus().end()),
            (std::vector<std::string>{"0,1", "2,3"}));
  EXPECT_EQ(std::vector<std::string>(job.argv().begin(), job.argv().end()), spec.argv);
  EXPECT_EQ(job.work_dir(), "/work/dir");
  EXPECT_EQ(job.stdin_rank(), 0u);
  EXPECT_EQ(job.kill_grace_ms(), 750u);
}

TEST(LaunchMessage, WithoutTheDataPathRank0sHostIsTheMaster) {
  const auto job = buildLaunchJob(JobSpec{}, twoHosts(), inputs(false));
  EXPECT_EQ(job.master_addr(), "10.0.0.2");
  EXPECT_EQ(job.master_port(), 4002u);
  EXPECT_EQ(job.data_hosts_size(), 0);
}

TEST(LaunchMessage, TheDataPathNamesEveryHostAndAVirtualMaster) {
  const auto job = buildLaunchJob(JobSpec{}, twoHosts(), inputs(true));
  ASSERT_EQ(job.data_hosts_size(), 2);
  EXPECT_EQ(job.data_hosts(0).endpoint(), "127.0.0.1:5001");
  EXPECT_EQ(job.data_hosts(1).endpoint(), "127.0.0.1:5002");
  EXPECT_EQ(job.data_hosts(1).direct_site(), "lab");
  EXPECT_EQ(job.data_hosts(1).direct_address(), "192.0.2.7");
  EXPECT_NE(job.data_hosts(0).vaddr(), job.data_hosts(1).vaddr());
  // 100.64.0.0/10, host i at .i+1 (docs/architecture.md): rank 0 is on host 1.
  EXPECT_EQ(job.master_addr(), "100.64.0.2");
  EXPECT_EQ(job.master_port(), 4002u);
}

TEST(LaunchMessage, UserVariablesComeAfterTheLaunchersSoTheyWin) {
  JobSpec spec;
  spec.mca = {{"pml", "cm"}};
  spec.exports = {"OMPI_MCA_pml=ucx", "FOO=bar"};
  auto in = inputs(false);
  in.meetOnLoopback = true;
  const auto env = variables(buildLaunchJob(spec, twoHosts(), in));
  EXPECT_EQ(env, (std::vector<std::string>{"OMPI_MCA_orte_precondition_transports=k1-k2",
                                           "OMPI_MCA_pml=ob1", "OMPI_MCA_btl_tcp_if_include=lo",
                                           "OMPI_MCA_pml=cm", "OMPI_MCA_pml=ucx", "FOO=bar"}));
}

TEST(LaunchMessage, TreeStatusAndCheckpointsOnlyWhenAsked) {
  JobSpec spec;
  auto plain = buildLaunchJob(spec, twoHosts(), inputs(true));
  EXPECT_EQ(plain.tree_fanout(), 0u);
  EXPECT_EQ(plain.status_interval_ms(), 0u);
  EXPECT_FALSE(plain.has_checkpoint());

  spec.statusIntervalSeconds = 2.5;
  spec.restart.checkpointDir = "/ckpt";
  spec.restart.storage = CheckpointStorage::kPartner;
  auto in = inputs(true);
  in.treeFanout = 8;
  const auto job = buildLaunchJob(spec, twoHosts(), in);
  EXPECT_EQ(job.tree_fanout(), 8u);
  EXPECT_EQ(job.status_interval_ms(), 2500u);
  EXPECT_TRUE(job.has_checkpoint());
}

// With metrics or the status file the agents report every second, printed or not; the sooner
// of that and --status-interval.
TEST(LaunchMessage, TheObserverAsksForHostStats) {
  JobSpec spec;
  auto in = inputs(true);
  in.statsIntervalMs = 1000;
  EXPECT_EQ(buildLaunchJob(spec, twoHosts(), in).status_interval_ms(), 1000u);
  spec.statusIntervalSeconds = 60;
  EXPECT_EQ(buildLaunchJob(spec, twoHosts(), in).status_interval_ms(), 1000u);
  spec.statusIntervalSeconds = 0.2;
  EXPECT_EQ(buildLaunchJob(spec, twoHosts(), in).status_interval_ms(), 200u);
}

// A job spanning hosts through the sessions gets libionet-coll and its link model; on a link of
// 10 ms or more, Open MPI's eager limit (the bandwidth-delay product) and recursive doubling.
TEST(LaunchMessage, CollectivesFollowTheMeasuredRoundTrip) {
  JobSpec spec;
  spec.argv = {"./train"};
  auto in = inputs(true);
  in.hosts[1].directSite = "";  // not one direct site
  in.linkRtt = std::chrono::milliseconds(50);
  auto job = buildLaunchJob(spec, twoHosts(), in);
  EXPECT_TRUE(job.coll());
  auto env = variables(job);
  auto has = [&](const std::string& entry) {
    return std::find(env.begin(), env.end(), entry) != env.end();
  };
  EXPECT_TRUE(has("IONET_COLL_RTT_US=50000"));
  EXPECT_TRUE(has("IONET_COLL_RATE_MBPS=1000"));
  EXPECT_TRUE(has("IONET_COLL=1"));
  // 50 ms x 1 Gbit/s = 6.25 MB, rounded up to 4 KiB.
  EXPECT_TRUE(has("OMPI_MCA_btl_tcp_eager_limit=6250496"));
  EXPECT_TRUE(has("OMPI_MCA_coll_tuned_allreduce_algorithm=3"));
  // The user's --mca comes later, so it wins.
  spec.mca = {{"btl_tcp_eager_limit", "65536"}};
  env = variables(buildLaunchJob(spec, twoHosts(), in));
  const auto last = std::find_if(env.rbegin(), env.rend(), [](const std::string& e) {
    return e.rfind("OMPI_MCA_btl_tcp_eager_limit=", 0) == 0;
  });
  ASSERT_NE(last, env.rend());
  EXPECT_EQ(*last, "OMPI_MCA_btl_tcp_eager_limit=65536");
  // A LAN (or emulated hosts on one machine): the library, but Open MPI's own defaults.
  spec.mca.clear();
  in.linkRtt = std::chrono::microseconds(300);
  env = variables(buildLaunchJob(spec, twoHosts(), in));
  EXPECT_NE(std::find(env.begin(), env.end(), "IONET_COLL_RTT_US=300"), env.end());
  EXPECT_EQ(std::find(env.begin(), env.end(), "IONET_COLL=1"), env.end());
  for (const auto& e : env) EXPECT_EQ(e.rfind("OMPI_MCA_btl_tcp_eager", 0), std::string::npos) << e;
  // --coll mpi --wan-tuning off: nothing.
  spec.collectives.library = false;
  spec.collectives.tuneMpi = false;
  in.linkRtt = std::chrono::milliseconds(50);
  job = buildLaunchJob(spec, twoHosts(), in);
  EXPECT_FALSE(job.coll());
  for (const auto& e : variables(job)) {
    EXPECT_EQ(e.rfind("IONET_COLL", 0), std::string::npos) << e;
    EXPECT_EQ(e.rfind("OMPI_MCA_coll_tuned", 0), std::string::npos) << e;
  }
  // One direct site (a LAN): neither.
  in.hosts[0].directSite = in.hosts[1].directSite = "lab";
  spec.collectives = {};
  EXPECT_FALSE(buildLaunchJob(spec, twoHosts(), in).coll());
}

TEST(WanTuning, EagerLimitIsTheBandwidthDelayProductWithinBounds) {
  using std::chrono::microseconds;
  EXPECT_EQ(eagerLimitFor(microseconds(100), 1000), 65536u);        // LAN: the floor
  EXPECT_EQ(eagerLimitFor(microseconds(20000), 1000), 2502656u);    // 2.5 MB, 4 KiB pages
  EXPECT_EQ(eagerLimitFor(microseconds(200000), 10000), 8u << 20);  // capped at 8 MiB
}

TEST(LaunchMessage, HellosThatDoNotMatchThePlacementAreAnError) {
  auto in = inputs(false);
  in.hosts.pop_back();
  EXPECT_THROW(buildLaunchJob(JobSpec{}, twoHosts(), in), Error);
}

}  // namespace
}  // namespace ionet::launcher
