// What an agent starts for a job on its host (planHostLaunch): layout, programs, environments.
#include "agent/host_launch.h"

#include <gtest/gtest.h>

#include "common/rank_env.h"
#include "ionet/error.h"

namespace ionet::launcher {
namespace {

// Ranks 0,1 on h0 and 2,3 on h1 (this host), through the data path; h0 and h1 are one direct
// site, h2 (rank 4) is elsewhere.
control::LaunchJob job() {
  control::LaunchJob j;
  j.set_job_id("abc");
  j.set_nspace("ionet.abc");
  const std::vector<std::pair<std::string, std::vector<std::uint32_t>>> hosts = {
      {"h0", {0, 1}}, {"h1", {2, 3}}, {"h2", {4}}};
  for (const auto& [name, ranks] : hosts) {
    auto* h = j.add_hosts();
    h->set_host_name(name);
    for (auto r : ranks) h->add_ranks(r);
  }
  j.mutable_hosts(1)->add_gpus("3");
  j.mutable_hosts(1)->add_gpus("5,6");
  j.set_host_index(1);
  j.add_argv("true");
  j.add_argv("--flag");
  auto env = [&](const std::string& name, const std::string& value) {
    auto* v = j.add_env();
    v->set_name(name);
    v->set_value(value);
  };
  env("USER_VAR", "1");
  env("OMPI_MCA_mpi_yield_when_idle", "0");  // the user's --mca
  j.set_work_dir("/");
  j.set_stdin_rank(2);
  j.set_master_addr("100.64.0.1");
  j.set_master_port(29500);
  const std::vector<std::pair<std::string, std::string>> sites = {
      {"lab", "10.0.0.1"}, {"lab", "10.0.0.2"}, {"", ""}};
  for (std::uint32_t i = 0; i < 3; ++i) {
    auto* d = j.add_data_hosts();
    d->set_endpoint("h" + std::to_string(i) + ":7000");
    d->set_vaddr(0x64400001 + i);  // 100.64.0.1 ...
    d->set_direct_site(sites[i].first);
    d->set_direct_address(sites[i].second);
  }
  return j;
}

HostFacts facts() {
  HostFacts f;
  f.hostName = "h1";
  f.sessionDir = "/tmp/agent/job-abc";
  f.vaderDir = "/dev/shm/agent/job-abc";
  f.shimPath = "/opt/ionet/lib/libionet-shim.so";
  f.forwarderPort = 7100;
  f.environment = {"PATH=/usr/bin:/bin", "LD_PRELOAD=/opt/trace.so", "HOME=/root"};
  f.cores = 8;
  return f;
}

std::string value(const RankSpec& spec, const std::string& name) {
  return environmentValue(spec.env, name).value_or("<unset>");
}

TEST(HostLaunch, ThisHostsRanksWithTheirPlaceGpusAndDataPath) {
  const auto launch = planHostLaunch(job(), facts());
  EXPECT_EQ(launch.layout.nspace, "ionet.abc");
  EXPECT_EQ(launch.layout.hostNames, (std::vector<std::string>{"h0", "h1", "h2"}));
  EXPECT_EQ(launch.layout.hostIndex, 1u);
  EXPECT_EQ(launch.layout.sessionDir, "/tmp/agent/job-abc");
  ASSERT_EQ(launch.ranks.size(), 2u);
  const auto& first = launch.ranks[0];
  const auto& second = launch.ranks[1];
  EXPECT_EQ(first.rank, 2u);
  EXPECT_EQ(second.rank, 3u);
  EXPECT_EQ(first.path, "/usr/bin/true");
  EXPECT_EQ(first.argv, (std::vector<std::string>{"true", "--flag"}));
  EXPECT_EQ(first.workDir, "/");
  EXPECT_TRUE(first.withStdin);
  EXPECT_FALSE(second.withStdin);

  EXPECT_EQ(value(second, "OMPI_COMM_WORLD_RANK"), "3");
  EXPECT_EQ(value(second, "OMPI_COMM_WORLD_SIZE"), "5");
  EXPECT_EQ(value(second, "OMPI_COMM_WORLD_LOCAL_RANK"), "1");
  EXPECT_EQ(value(second, "GROUP_RANK"), "1");
  EXPECT_EQ(value(second, "IONET_HOST"), "h1");
  EXPECT_EQ(value(first, "CUDA_VISIBLE_DEVICES"), "3");
  EXPECT_EQ(value(second, "CUDA_VISIBLE_DEVICES"), "5,6");
  EXPECT_EQ(value(first, "OMPI_MCA_btl_vader_backing_directory"), "/dev/shm/agent/job-abc");
  // The data path: the shim in front of the agent's own preload, this host's virtual address,
  // the forwarder, and h0 (same site) dialled directly while h2 is not.
  EXPECT_EQ(value(first, "LD_PRELOAD"), "/opt/ionet/lib/libionet-shim.so:/opt/trace.so");
  EXPECT_EQ(value(first, "IONET_FORWARDER"), "127.0.0.1:7100");
  EXPECT_EQ(value(first, "IONET_VADDR"), "100.64.0.2");
  EXPECT_EQ(value(first, "IONET_DIRECT"), "100.64.0.1=10.0.0.1");
  // The agent's environment underneath, the job's variables on top of ionet's.
  EXPECT_EQ(value(first, "HOME"), "/root");
  EXPECT_EQ(value(first, "USER_VAR"), "1");
  EXPECT_EQ(value(first, "OMPI_MCA_mpi_yield_when_idle"), "0");
  EXPECT_EQ(value(first, "IONET_CHECKPOINT_DIR"), "<unset>");
}

TEST(HostLaunch, CheckpointDirIsThisHostsAndWithoutDataPathNoShim) {
  auto j = job();
  j.clear_data_hosts();
  j.mutable_checkpoint()->set_dir("/ckpt");
  auto f = facts();
  f.shimPath.clear();
  f.checkpointDir = "/ckpt/host-h1";
  const auto launch = planHostLaunch(j, f);
  ASSERT_EQ(launch.ranks.size(), 2u);
  EXPECT_EQ(value(launch.ranks[0], "IONET_CHECKPOINT_DIR"), "/ckpt/host-h1");
  EXPECT_EQ(value(launch.ranks[0], "LD_PRELOAD"), "/opt/trace.so");
  EXPECT_EQ(value(launch.ranks[0], "IONET_FORWARDER"), "<unset>");
  EXPECT_EQ(value(launch.ranks[0], "OMPI_MCA_mpi_yield_when_idle"), "0");
}

TEST(HostLaunch, OversubscribedWhenMoreRanksThanCores) {
  auto f = facts();
  f.cores = 1;
  EXPECT_EQ(value(planHostLaunch(job(), f).ranks[0], "OMPI_MCA_mpi_oversubscribe"), "1");
  EXPECT_EQ(value(planHostLaunch(job(), facts()).ranks[0], "OMPI_MCA_mpi_oversubscribe"),
            "<unset>");
}

TEST(HostLaunch, NcclNetSetsThePluginAndOneHostIdPerHostAndTheJobsVariablesWin) {
  auto j = job();
  j.set_nccl_net(true);
  auto f = facts();
  f.ncclPlugin = "/opt/ionet/lib/libnccl-net-ionet.so";
  f.ncclAgent = "@ionet-nccl-42-7";
  auto launch = planHostLaunch(j, f);
  ASSERT_EQ(launch.ranks.size(), 2u);
  for (const auto& r : launch.ranks) {
    EXPECT_EQ(value(r, "NCCL_NET_PLUGIN"), f.ncclPlugin);
    EXPECT_EQ(value(r, "NCCL_NET"), "ionet");
    EXPECT_EQ(value(r, "IONET_NCCL_AGENT"), f.ncclAgent);
    EXPECT_EQ(value(r, "NCCL_HOSTID"), "ionet-abc-1");  // host index 1
  }
  auto v = j.add_env();  // the user's -x NCCL_NET=Socket
  v->set_name("NCCL_NET");
  v->set_value("Socket");
  launch = planHostLaunch(j, f);
  EXPECT_EQ(value(launch.ranks[0], "NCCL_NET"), "Socket");
  // Without nccl_net the ranks get none of it.
  launch = planHostLaunch(job(), f);
  EXPECT_EQ(value(launch.ranks[0], "NCCL_NET_PLUGIN"), "<unset>");
  EXPECT_EQ(value(launch.ranks[0], "NCCL_HOSTID"), "<unset>");
}

TEST(HostLaunch, CollPreloadsTheLibraryAfterTheShimAndBeforeTheProgramsOwn) {
  auto j = job();
  j.set_coll(true);
  auto f = facts();
  f.collLibrary = "/opt/ionet/lib/libionet-coll.so";
  const auto launch = planHostLaunch(j, f);
  for (const auto& r : launch.ranks) {
    EXPECT_EQ(value(r, "LD_PRELOAD"), f.shimPath + ":" + f.collLibrary + ":/opt/trace.so");
  }
  // Without coll: the shim and the program's own only.
  EXPECT_EQ(value(planHostLaunch(job(), f).ranks[0], "LD_PRELOAD"), f.shimPath + ":/opt/trace.so");
  // Asked for but not found: named.
  f.collLibrary.clear();
  try {
    planHostLaunch(j, f);
    ADD_FAILURE() << "no error without the library";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("libionet-coll.so"), std::string::npos) << e.what();
  }
}

TEST(HostLaunch, WhatCannotBeStartedIsNamed) {
  auto message = [](const control::LaunchJob& j, const HostFacts& f) -> std::string {
    try {
      planHostLaunch(j, f);
    } catch (const Error& e) {
      return e.what();
    }
    return "(accepted)";
  };
  auto missing = job();
  missing.set_argv(0, "no-such-program-xyz");
  EXPECT_NE(message(missing, facts()).find("cannot find executable 'no-such-program-xyz'"),
            std::string::npos);
  auto f = facts();
  f.shimPath.clear();
  EXPECT_NE(message(job(), f).find("libionet-shim.so"), std::string::npos);
  auto outOfRange = job();
  outOfRange.set_host_index(3);
  EXPECT_NE(message(outOfRange, facts()).find("host index"), std::string::npos);
  auto short_ = job();
  short_.mutable_data_hosts()->RemoveLast();
  EXPECT_NE(message(short_, facts()).find("2 entries for 3 hosts"), std::string::npos);
  auto nccl = job();
  nccl.set_nccl_net(true);
  EXPECT_NE(message(nccl, facts()).find("libnccl-net-ionet.so"), std::string::npos);
}

}  // namespace
}  // namespace ionet::launcher
