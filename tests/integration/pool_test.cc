// A real multi-host pool: three network-namespace hosts through the WAN emulator, h2 and h3
// behind NAT with the same private address (192.168.1.2) and reachable only through the relay
// on h1. Pool agents run in each namespace; ionet-run runs in h1. The ranks' cross-host TCP goes
// through the shim, the forwarders and WAN sessions (relayed for h2 and h3).
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>

#include "emulated_pool.h"
#include "fixture.h"
#include "wanemu.h"

namespace ionet::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string shell(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[4096];
    while (std::fgets(buf, sizeof(buf), p)) out += buf;
    ::pclose(p);
  }
  return out;
}

// Everything the suite shares: the emulated WAN, the pool's files and the pool agents.
EmulatedPool* world = nullptr;

class PoolTest : public IonetTest {
 protected:
  static void SetUpTestSuite() {
    if (!WanEmulator::unavailableReason().empty()) return;
    WanOptions o;
    o.hosts = 3;
    o.natHosts = {2, 3};
    world = new EmulatedPool(o, "pooltest");
    world->writePoolFile("\n[[host]]\nname = \"h1\"\naddress = \"" + world->wan->address(1) +
                         "\"\nrelay = true\nslots = 2\n\n"
                         "[[host]]\nname = \"h2\"\nvia = \"h1\"\nslots = 2\n\n"
                         "[[host]]\nname = \"h3\"\nvia = \"h1\"\nslots = 2\n");
    for (int h = 1; h <= 3; ++h) world->startAgent(h);
  }

  static void TearDownTestSuite() {
    delete world;
    world = nullptr;
  }

  void SetUp() override {
    const std::string why = WanEmulator::unavailableReason();
    if (!why.empty()) GTEST_SKIP() << why;
    ASSERT_NE(world, nullptr);
    // The pool is ready when a job reaches all three hosts (h2 and h3 park at h1's relay).
    const auto deadline = Clock::now() + 30s;
    for (;;) {
      auto r = runInPool({"-np", "3", "-N", "1", "true"}, 20s);
      if (r.finished && r.exitCode == 0) break;
      ASSERT_LT(Clock::now(), deadline) << "pool not ready: " << r.err;
    }
  }

  Command startInPool(std::vector<std::string> args, std::vector<std::string> env = {}) {
    auto argv = world->wan->execPrefix(1);
    argv.push_back(kBin + "/ionet-run");
    argv.insert(argv.end(), {"--pool", world->poolFile});
    argv.insert(argv.end(), args.begin(), args.end());
    env.push_back(leftovers_.markerEnv());
    return Command(argv, env);
  }

  CommandResult runInPool(std::vector<std::string> args, std::chrono::milliseconds timeout) {
    return startInPool(std::move(args)).wait(timeout);
  }

  // Once `ranks` processes named `comm` run, force-resets every TCP connection between h2 and h1
  // every 100 ms for 1.5 s (inside the pool's 4 s heartbeat timeout) or until they are gone;
  // returns how many connections were reset.
  int resetStorm(Command& job, const std::string& comm, int ranks) {
    const auto deadline = Clock::now() + 30s;
    while (shell("pgrep -xc " + comm).substr(0, 1) != std::to_string(ranks)) {
      if (Clock::now() >= deadline) {
        ADD_FAILURE() << ranks << " " << comm << " never ran\n" << job.transcript();
        return 0;
      }
      std::this_thread::sleep_for(20ms);  // polling /proc
    }
    const std::string toH1 = "dst " + world->wan->publicAddress(1);
    int resets = 0;
    const auto stormEnds = Clock::now() + 1500ms;
    while (Clock::now() < stormEnds && !shell("pgrep -x " + comm).empty()) {
      resets += world->wan->reset(2, toH1);
      std::this_thread::sleep_for(100ms);  // pacing the resets while the job runs
    }
    return resets;
  }

  // The batch commands' environment: a queue of its own in dir.
  std::vector<std::string> queueEnv(const std::string& dir) const {
    return {"IONET_QUEUE_DIR=" + dir + "/queue", "IONET_QUEUE_IDLE_EXIT=1", leftovers_.markerEnv()};
  }

  // ionet-batch --wait --pool POOL job.sh, in dir, on h1.
  CommandResult batchInPool(const std::string& dir, const std::string& pool,
                            const std::vector<std::string>& env) {
    auto argv = world->wan->execPrefix(1);
    argv.insert(argv.end(), {"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", dir,
                             kBin + "/ionet-batch", "--wait", "--pool", pool, "job.sh"});
    return Command(argv, env).wait(120s);
  }

  static std::string readText(const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }

  // SIGKILL to the job agent of `host` (any namespace: they share this machine's /proc); when.
  static Clock::time_point killJobAgent(const std::string& host) {
    const std::string pid = shell("pgrep -f 'ionet-agent --connect .* --host-name " + host + "'");
    EXPECT_FALSE(pid.empty()) << "no job agent on " << host;
    const auto at = Clock::now();
    if (!pid.empty()) {
      EXPECT_EQ(::kill(std::stoi(pid), SIGKILL), 0);
    }
    return at;
  }

  // Waits (30 s at most) until the job has printed `text`.
  static bool awaitOutput(Command& job, const std::string& text) {
    const auto deadline = Clock::now() + 30s;
    while (job.transcript().find(text) == std::string::npos) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);  // polling the job's output
    }
    return true;
  }

  // Processes of a job still alive in any host (all namespaces share this machine's /proc).
  static std::string processesMatching(const std::string& pattern) {
    return shell("pgrep -af '" + pattern + "' | grep -v pgrep || true");
  }
};

TEST_F(PoolTest, AllreduceAcrossNatHostsWithTheSamePrivateAddress) {
  ASSERT_EQ(world->wan->address(2), world->wan->address(3));  // the point of the test
  auto r = runInPool({"-np", "6", example("allreduce"), "262144"}, 120s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("allreduce OK ranks=6"), std::string::npos) << r.out << r.err;
}

TEST_F(PoolTest, NetpipeBetweenTwoHostsBehindNat) {
  // NetPIPE is a two-process ping-pong: one rank on h1 (public), one on h2 (behind NAT). No
  // perturbed sizes (-p 0: NetPIPE's default also runs each size +-3 bytes, tripling the run).
  auto r = runInPool(
      {"-np", "2", "-N", "1", "/usr/bin/NPopenmpi", "-u", "1048576", "-p", "0", "-o", "/dev/null"},
      180s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  // NetPIPE prints one line per message size (on stderr) up to -u: the largest is 1 MiB.
  EXPECT_NE((r.out + r.err).find("1048576 bytes"), std::string::npos) << r.out << r.err;
}

TEST_F(PoolTest, Mpi4pyAcrossThreeHosts) {
  auto r = runInPool({"-np", "3", "-N", "1", kPython, example("hello_mpi4py.py")}, 120s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("mpi4py allreduce OK"), std::string::npos) << r.out << r.err;
}

TEST_F(PoolTest, PytorchDdpTwoHostsTwoRanksEach) {
  if (shell(kPython + " -c 'import torch' 2>&1").find("Error") != std::string::npos) {
    GTEST_SKIP() << "python3-torch is not installed";
  }
  auto r = runInPool({"-np", "4", "-N", "2", kPython, example("ddp_train.py"), "20"}, 240s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  std::regex line(R"(ddp rank (\d) of 4 steps 20 checksum (\S+) identical True)");
  std::map<std::string, std::string> checksums;
  for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), line);
       it != std::sregex_iterator(); ++it) {
    checksums[(*it)[1]] = (*it)[2];
  }
  ASSERT_EQ(checksums.size(), 4u) << r.out << r.err;
  for (const auto& [rank, sum] : checksums) EXPECT_EQ(sum, checksums["0"]) << "rank " << rank;
}

TEST_F(PoolTest, ConnectionResetBetweenAgentsMidRunIsInvisible) {
  // A long allreduce: while it runs, force-reset every TCP connection between h2 and h1 (its
  // sessions to the relay, the launcher and the other agents); the sessions resume underneath
  // and the job ends with the right answer.
  auto job = startInPool({"-np", "4", "--map-by", "node", example("allreduce"), "8388608"});
  const auto deadline = Clock::now() + 30s;
  while (shell("pgrep -xc allreduce").substr(0, 1) != "4") {
    ASSERT_LT(Clock::now(), deadline) << processesMatching("allreduce");
    std::this_thread::sleep_for(20ms);  // polling /proc
  }
  const std::string toH1 = "dst " + world->wan->publicAddress(1);
  int resets = 0;
  for (int i = 0; i < 50 && !shell("pgrep -x allreduce").empty(); ++i) {
    resets += world->wan->reset(2, toH1);
    std::this_thread::sleep_for(100ms);  // pacing the resets while the job runs
  }
  auto r = job.wait(180s);
  EXPECT_FINISHED(r);
  EXPECT_GT(resets, 0);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("allreduce OK ranks=4"), std::string::npos) << r.out << r.err;
}

TEST_F(PoolTest, ControlTreeReachesAHostBehindNatAndSurvivesResets) {
  // Fanout 2 over three hosts: the launcher launches h1 and h3; h1 passes the launch to h2,
  // which is behind NAT (through the relay), and relays h2's fence contributions. The
  // connections between h2 and h1 are reset while the job runs; its last fence (MPI_Finalize)
  // still travels h2 -> h1 -> launcher over the resumed session.
  auto job = startInPool({"-np", "6", "--map-by", "node", example("allreduce"), "4194304"},
                         {"IONET_TREE_FANOUT=2", "IONET_LOG_LEVEL=debug"});
  const auto deadline = Clock::now() + 30s;
  while (shell("pgrep -xc allreduce").substr(0, 1) != "6") {
    ASSERT_LT(Clock::now(), deadline) << processesMatching("allreduce") << job.transcript();
    std::this_thread::sleep_for(20ms);  // polling /proc
  }
  const std::string toH1 = "dst " + world->wan->publicAddress(1);
  int resets = 0;
  // Resets for 1.5 s, well inside the pool's 4 s heartbeat timeout: h1 reaches h2 only through
  // h2's connections parked at the relay, which every reset takes down too, so a longer storm
  // is a partition past the timeout for that link (and fails the job, as it should).
  const auto stormEnds = Clock::now() + 1500ms;
  while (Clock::now() < stormEnds && !shell("pgrep -x allreduce").empty()) {
    resets += world->wan->reset(2, toH1);
    std::this_thread::sleep_for(100ms);  // pacing the resets while the job runs
  }
  auto r = job.wait(180s);
  EXPECT_FINISHED(r);
  EXPECT_GT(resets, 0);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("allreduce OK ranks=6"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("control tree: 3 hosts, fanout 2, depth 2"), std::string::npos) << r.err;
}

TEST_F(PoolTest, KilledAgentTearsTheJobDownEverywhereWithinThreeSeconds) {
  auto job = startInPool({"-np", "3", "-N", "1", "sleep", "97.5"});
  // Wait until a rank runs on every host.
  const auto deadline = Clock::now() + 30s;
  while (shell("pgrep -fc '^sleep 97.5$'").substr(0, 1) != "3") {
    ASSERT_LT(Clock::now(), deadline) << processesMatching("sleep 97.5");
    std::this_thread::sleep_for(20ms);  // polling /proc
  }
  const auto killedAt = killJobAgent("h3");
  auto r = job.wait(30s);
  const double seconds = std::chrono::duration<double>(r.endedAt - killedAt).count();
  EXPECT_FINISHED(r);
  EXPECT_NE(r.exitCode, 0);
  EXPECT_LE(seconds, 3.0);
  EXPECT_NE(r.err.find("host h3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("signal 9"), std::string::npos) << r.err;
  // No rank left on any host.
  const auto clean = Clock::now() + 3s;
  while (!processesMatching("^sleep 97.5$").empty() && Clock::now() < clean) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(processesMatching("^sleep 97.5$"), "");
}

TEST_F(PoolTest, CheckpointPartnersReplaceALostHostBehindNat) {
  // No shared filesystem is assumed: each host's ranks checkpoint into the host's own
  // directory and its agent copies every set to the partner host. h2 is lost with its
  // directory; h3 (the spare, behind NAT) fetches h2's ranks' files from h1 through the relay,
  // and the job ends with the weights of a run that never failed.
  const std::string dir = world->dir + "/ckpt-partner";
  auto reference = ionetRun({"--local-hosts", "2", "-np", "4", "--checkpoint-dir",
                             world->dir + "/ckpt-reference", example("train"), "300", "20"},
                            {}, "", 120s);
  ASSERT_EQ(reference.exitCode, 0) << reference.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(reference.out, m, std::regex("final weights checksum (\\S+)")));
  const std::string expected = m[1];

  // Partner storage is the default on a pool whose file does not say shared_checkpoint_dir.
  auto job =
      startInPool({"--spare-hosts", "1", "-np", "4", "--checkpoint-dir", dir, "--max-restarts", "2",
                   "--restart-delay", "0", example("train"), "300", "20"});
  const auto deadline = Clock::now() + 60s;
  while (!fs::exists(dir + "/host-h1/partner-h2/step-60/rank-3.h5")) {
    ASSERT_LT(Clock::now(), deadline) << job.transcript();
    std::this_thread::sleep_for(20ms);  // polling the filesystem
  }
  killJobAgent("h2");
  std::error_code ec;
  fs::remove_all(dir + "/host-h2", ec);
  auto r = job.wait(180s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(std::regex_search(
      r.err, m,
      std::regex("restart 1 of 2 on hosts h1,h3: resuming from step-([0-9]+) \\(h3 fetches "
                 "ranks 2,3 from h1\\)")))
      << r.err;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("final weights checksum (\\S+)"))) << r.out;
  EXPECT_EQ(m[1], expected);
  EXPECT_TRUE(fs::exists(dir + "/host-h3/step-300/rank-3.h5"));
}

// heals the emulated WAN when a test ends, whatever it asserted
struct HealOnExit {
  ~HealOnExit() { world->wan->heal(); }
};

TEST_F(PoolTest, PartitionShorterThanTheHeartbeatTimeoutIsInvisible) {
  // h3 cut off from everything for 2 s (the pool's heartbeat_timeout is 4 s) while an allreduce
  // runs across all three hosts: the sessions wait it out and the job ends with the right answer.
  HealOnExit heal;
  auto job = startInPool({"-np", "3", "-N", "1", example("allreduce"), "8388608"});
  const auto deadline = Clock::now() + 30s;
  while (shell("pgrep -xc allreduce").substr(0, 1) != "3") {
    ASSERT_LT(Clock::now(), deadline) << processesMatching("allreduce");
    std::this_thread::sleep_for(20ms);  // polling /proc
  }
  world->wan->isolate(3);
  std::this_thread::sleep_for(2s);  // the length of the partition is what is tested
  world->wan->heal();
  auto r = job.wait(120s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("allreduce OK ranks=3"), std::string::npos) << r.out << r.err;
}

TEST_F(PoolTest, PartitionLongerThanTheHeartbeatTimeoutTearsTheJobDown) {
  // h3 cut off for good: once the 4 s heartbeat timeout has passed, ionet-run names the host and
  // why within 3 s, and no rank is left anywhere - h3's own agent, which lost its launcher,
  // kills its rank too.
  HealOnExit heal;
  auto job = startInPool({"-np", "3", "-N", "1", "sleep", "98.5"});
  const auto deadline = Clock::now() + 30s;
  while (shell("pgrep -fc '^sleep 98.5$'").substr(0, 1) != "3") {
    ASSERT_LT(Clock::now(), deadline) << processesMatching("sleep 98.5");
    std::this_thread::sleep_for(20ms);  // polling /proc
  }
  const auto cutAt = Clock::now();
  world->wan->isolate(3);
  auto r = job.wait(30s);
  const double seconds = std::chrono::duration<double>(r.endedAt - cutAt).count();
  EXPECT_FINISHED(r);
  EXPECT_NE(r.exitCode, 0);
  EXPECT_GE(seconds, 3.5) << "torn down before the heartbeat timeout: " << r.err;
  EXPECT_LE(seconds, 4.0 + 3.0) << r.err;
  EXPECT_NE(r.err.find("h3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no connection"), std::string::npos) << r.err;
  const auto clean = Clock::now() + 10s;
  while (!processesMatching("^sleep 98.5$").empty() && Clock::now() < clean) {
    std::this_thread::sleep_for(50ms);  // polling /proc
  }
  EXPECT_EQ(processesMatching("^sleep 98.5$"), "");
}

// --- NCCL through the plugin (tests/nccl/nccl_net_harness, as in nccl_test.cc) --------------
const std::string kNcclHarness = IONET_BUILD_DIR "/tests/nccl_net_harness";

TEST_F(PoolTest, NcclBetweenTwoHostsBehindNatGoesThroughTheRelay) {
  // h2 and h3 share one private address behind their NATs; their agents' session is relayed by
  // h1. Every byte and size of the harness's plan is checked, both ways at once.
  auto r = runInPool({"-H", "h2,h3", "-np", "2", "-N", "1", kNcclHarness}, 120s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("nccl-net-harness OK rank=0 abi=11 messages=325"), std::string::npos)
      << r.out << r.err;
  EXPECT_NE(r.out.find("nccl-net-harness OK rank=1 abi=11 messages=325"), std::string::npos)
      << r.out << r.err;
}

TEST_F(PoolTest, NcclLinksSurviveResetsOfTheAgentsConnections) {
  // While the harness runs its plan 20 times over (about 1.3 GB each way), every TCP connection
  // between h2 and h1 is force-reset every 100 ms; the sessions resume underneath and every
  // byte still arrives in order.
  auto job = startInPool({"-H", "h1,h2", "-np", "2", "-N", "1", kNcclHarness, "--repeat", "20"});
  const int resets = resetStorm(job, "nccl_net_harnes", 2);
  auto r = job.wait(180s);
  EXPECT_FINISHED(r);
  EXPECT_GT(resets, 0);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("nccl-net-harness OK rank=0 abi=11 messages=6500"), std::string::npos)
      << r.out << r.err;
  EXPECT_NE(r.out.find("nccl-net-harness OK rank=1 abi=11 messages=6500"), std::string::npos)
      << r.out << r.err;
}

TEST_F(PoolTest, KilledPeerAgentFailsNcclAndTearsTheJobDown) {
  auto job = startInPool({"-H", "h1,h2", "-np", "2", "-N", "1", kNcclHarness, "--until-error"});
  ASSERT_TRUE(awaitOutput(job, "exchanging until the link fails")) << job.transcript();
  const auto killedAt = killJobAgent("h2");
  auto r = job.wait(30s);
  const double seconds = std::chrono::duration<double>(r.endedAt - killedAt).count();
  EXPECT_FINISHED(r);
  EXPECT_NE(r.exitCode, 0);
  EXPECT_LE(seconds, 3.0);
  EXPECT_NE(r.err.find("host h2"), std::string::npos) << r.err;
}

TEST_F(PoolTest, NcclSeesAPartitionedPeerAsAnErrorWithinTheDeadPeerTimeout) {
  // h2 (behind NAT, reached through h1's relay) drops off the network. The agents' session
  // between h1 and h2 ends after the pool's 4 s timeout, and the plugin's test() in the rank on
  // h1 returns ncclRemoteError (6) instead of waiting forever; the launcher tears the job down.
  auto job = startInPool({"-H", "h1,h2", "-np", "2", "-N", "1", kNcclHarness, "--until-error"});
  ASSERT_TRUE(awaitOutput(job, "exchanging until the link fails")) << job.transcript();
  const auto cutAt = Clock::now();
  world->wan->isolate(2);
  auto r = job.wait(30s);
  world->wan->heal();
  const double seconds = std::chrono::duration<double>(r.endedAt - cutAt).count();
  EXPECT_FINISHED(r);
  EXPECT_NE(r.exitCode, 0);
  EXPECT_LE(seconds, 9.0) << "the pool's timeout is 4 s";
  EXPECT_NE(r.out.find("test failed with 6 (ncclRemoteError)"), std::string::npos)
      << r.out << r.err;
  EXPECT_NE(r.err.find("NET/ionet : "), std::string::npos) << r.err;
}

TEST_F(PoolTest, HostListPicksHostsOfThePool) {
  auto r =
      runInPool({"-H", "h3,h2", "-np", "2", "sh", "-c", "echo rank $RANK on $IONET_HOST"}, 60s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("rank 0 on h3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rank 1 on h2"), std::string::npos) << r.out;
  auto bad = runInPool({"-H", "h1,h7", "-np", "2", "true"}, 60s);
  EXPECT_EQ(bad.exitCode, 2) << bad.err;
  EXPECT_NE(bad.err.find("host 'h7' is not an available host of the pool (h1, h2, h3)"),
            std::string::npos)
      << bad.err;
}

TEST_F(PoolTest, BatchJobRunsOnItsAllocationOfThePool) {
  // ionet-batch --pool: the queue places the job on two of the pool's hosts and ionet-run in
  // the script runs there with no host arguments.
  const std::string dir = world->dir + "/batch";
  fs::create_directories(dir);
  std::ofstream(dir + "/job.sh") << "#!/bin/bash\n"
                                 << "#SBATCH -N 2 --ntasks-per-node=2 -o out-%j.out\n"
                                 << "echo nodes=$SLURM_JOB_NODELIST\n"
                                 << "ionet-run " << example("allreduce") << " 65536\n";
  fs::permissions(dir + "/job.sh", fs::perms::owner_all);
  const auto env = queueEnv(dir);
  auto r = batchInPool(dir, world->poolFile, env);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  const std::string out = readText(dir + "/out-1.out");
  EXPECT_NE(out.find("nodes=h1,h2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("allreduce OK ranks=4"), std::string::npos) << out;
  auto acct =
      Command({kBin + "/ionet-acct", "--pool", world->poolFile, "--placement", "-n", "-P"}, env)
          .wait(20s);
  EXPECT_EQ(acct.out, "1|0|0|0|h1|-\n1|0|0|1|h1|-\n1|0|0|2|h2|-\n1|0|0|3|h2|-\n") << acct.err;
  EXPECT_TRUE(waitUntil([&] { return processesNamed("ionet-queued").empty(); }, 20s));
}

TEST_F(PoolTest, BatchJobWhoseHostIsDownIsRequeuedOnHostsThatAnswer) {
  // The pool file names h9, whose agent never answers (nothing listens at its address). The
  // queue places the job on h1 and h9; ionet-run finds h9 silent, the job ends NODE_FAIL and
  // is requeued on h1 and h2.
  const std::string dir = world->dir + "/batch-down";
  fs::create_directories(dir);
  std::ofstream(dir + "/pool.toml") << "[pool]\nname = \"lab\"\npsk = \"" << world->dir
                                    << "/pool.psk\"\nheartbeat_timeout = \"4s\"\n\n"
                                    << "[[host]]\nname = \"h1\"\naddress = \""
                                    << world->wan->address(1) << "\"\nrelay = true\nslots = 2\n\n"
                                    << "[[host]]\nname = \"h9\"\naddress = \"127.0.0.1\"\n"
                                    << "port = 9\nslots = 2\n\n"
                                    << "[[host]]\nname = \"h2\"\nvia = \"h1\"\nslots = 2\n";
  std::ofstream(dir + "/job.sh") << "#!/bin/bash\n"
                                 << "#SBATCH -N 2 --ntasks-per-node=1 -o out-%j.out\n"
                                 << "echo run $SLURM_RESTART_COUNT on $SLURM_JOB_NODELIST\n"
                                 << "ionet-run " << example("allreduce") << " 65536\n";
  fs::permissions(dir + "/job.sh", fs::perms::owner_all);
  const auto env = queueEnv(dir);
  auto r = batchInPool(dir, dir + "/pool.toml", env);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  const std::string out = readText(dir + "/out-1.out");
  EXPECT_NE(out.find("run 0 on h1,h9\n"), std::string::npos) << out;
  EXPECT_NE(out.find("host h9 of the job's allocation did not answer"), std::string::npos) << out;
  EXPECT_NE(out.find("run 1 on h1,h2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("allreduce OK ranks=2"), std::string::npos) << out;
  auto acct = Command({kBin + "/ionet-acct", "--pool", dir + "/pool.toml", "-n", "-P", "-o",
                       "State,Restarts,NodeList"},
                      env)
                  .wait(20s);
  EXPECT_EQ(acct.out, "COMPLETED|1|h1,h2\n") << acct.err;
  EXPECT_TRUE(waitUntil([&] { return processesNamed("ionet-queued").empty(); }, 20s));
}

namespace collectives {

const std::string kCollCheck = IONET_BUILD_DIR "/tests/coll_check";

// libionet-coll on 3 hosts x 2 ranks, h2 and h3 behind NAT (relayed by h1), while every TCP
// connection between h2 and h1 is reset every 100 ms for 1.5 s: the sessions resume under the
// leaders' exchanges and every check against Open MPI's own result still passes.
TEST_F(PoolTest, CollectivesAcrossNatHostsSurviveResetsMidCollective) {
  // No delay here: IONET_COLL=1 makes the library take the calls all the same.
  auto job = startInPool({"-np", "6", "-N", "2", "-x", "IONET_COLL=1", kCollCheck, "7", "100003"});
  const int resets = resetStorm(job, "coll_check", 6);
  auto r = job.wait(300s);
  EXPECT_FINISHED(r);
  EXPECT_GT(resets, 0);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("libionet-coll.so"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(coll_check: [1-9]\d+ checks, 0 failed)")))
      << r.out << r.err;
}

// With 20 ms between the hosts, ionet-run hands the measured round trip to the library and
// raises Open MPI's TCP eager limit to the bandwidth-delay product (20 ms x 1 Gbit/s = 2.5 MB);
// --wan-tuning off leaves Open MPI's 64 KiB.
TEST_F(PoolTest, WanTuningFollowsTheMeasuredRoundTrip) {
  struct Restore {
    ~Restore() { world->wan->shape({.delayMs = 0.0}); }
  } restore;
  world->wan->shape({.delayMs = 10.0});
  const std::regex line(
      R"(ionet-coll: 6 ranks on 3 hosts; rtt ([0-9.]+) ms, rate 1000 Mbit/s, eager limit (\d+))");
  std::smatch m;
  auto tuned = runInPool(
      {"-np", "6", "-N", "2", "-x", "IONET_COLL_DEBUG=1", example("allreduce"), "1024"}, 120s);
  EXPECT_EQ(tuned.exitCode, 0) << tuned.err;
  ASSERT_TRUE(std::regex_search(tuned.err, m, line)) << tuned.err;
  EXPECT_GE(std::stod(m[1]), 19.0);
  EXPECT_GE(std::stoul(m[2]), 2'400'000u);
  EXPECT_LE(std::stoul(m[2]), 8u << 20);
  auto off = runInPool({"-np", "6", "-N", "2", "--wan-tuning", "off", "-x", "IONET_COLL_DEBUG=1",
                        example("allreduce"), "1024"},
                       120s);
  EXPECT_EQ(off.exitCode, 0) << off.err;
  ASSERT_TRUE(std::regex_search(off.err, m, line)) << off.err;
  EXPECT_EQ(m[2], "65536");
}

}  // namespace collectives

}  // namespace
}  // namespace ionet::test
