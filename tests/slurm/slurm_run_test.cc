// ionet-run inside real Slurm allocations (sbatch and salloc on fake nodes n1..n3): with no host
// arguments it runs on the allocation's nodes with their task counts, its agents one srun step;
// a node's agent killed mid-run restarts the job on the other nodes from its checkpoint.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "slurm_test.h"

namespace ionet::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SlurmRunTest : public SlurmTest {
 protected:
  // The test's environment for a Slurm client: the cluster and the leftover marker, which
  // sbatch and salloc pass on to the job (--export=ALL is their default).
  std::vector<std::string> slurmEnv() const {
    auto env = cluster_->env();
    env.push_back(leftovers_.markerEnv());
    return env;
  }

  // salloc ARGS -- ionet-run RUNARGS: ionet-run runs here, inside the allocation.
  Command salloc(std::vector<std::string> allocation, std::vector<std::string> run) const {
    std::vector<std::string> argv{"salloc", "--quiet"};
    argv.insert(argv.end(), allocation.begin(), allocation.end());
    argv.push_back(kBin + "/ionet-run");
    argv.insert(argv.end(), run.begin(), run.end());
    return Command(argv, slurmEnv());
  }

  // Submits a batch script, waits for it to end; its output file's text.
  std::string sbatchAndWait(const std::string& script, std::string* state = nullptr) {
    const auto path = dir_ / "job.sh";
    std::ofstream(path) << script;
    const auto out = dir_ / "job.out";
    auto r =
        Command({"sbatch", "--parsable", "-o", out.string(), path.string()}, slurmEnv()).wait(30s);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    std::string id = r.out.substr(0, r.out.find_first_of(";\n"));
    auto done = cluster_->waitJobDone(id, 120s);
    EXPECT_TRUE(done.has_value()) << "job " << id << " did not end: " << readFile(out);
    if (state) *state = done.value_or("");
    return readFile(out);
  }

  static std::string finalChecksum(const std::string& out) {
    std::smatch m;
    if (std::regex_search(out, m, std::regex("final weights checksum ([0-9a-f]{16})"))) {
      return m[1];
    }
    return "none";
  }

  // The job agent of Slurm node `node` among this test's processes.
  pid_t agentOfNode(const std::string& node) const {
    for (pid_t p : processesNamed("ionet-agent")) {
      std::ifstream env("/proc/" + std::to_string(p) + "/environ", std::ios::binary);
      std::string all((std::istreambuf_iterator<char>(env)), {});
      if (all.find(std::string("SLURMD_NODENAME=") + node + '\0') != std::string::npos) return p;
    }
    return -1;
  }
};

// rank -> host from lines "rank R host H".
std::map<int, std::string> rankHosts(const std::string& out) {
  std::map<int, std::string> hosts;
  std::regex line("rank ([0-9]+) host (n[0-9]+)");
  for (std::sregex_iterator it(out.begin(), out.end(), line), end; it != end; ++it) {
    hosts[std::stoi((*it)[1])] = (*it)[2];
  }
  return hosts;
}

TEST_F(SlurmRunTest, SbatchJobRunsOnTheAllocationsNodesWithNoHostArguments) {
  const std::string run = kBin + "/ionet-run";
  std::string state;
  const auto out = sbatchAndWait(
      "#!/bin/bash\n#SBATCH -N3 --ntasks-per-node=2\n" + run +
          " bash -c 'echo rank $OMPI_COMM_WORLD_RANK host $IONET_HOST of $OMPI_COMM_WORLD_SIZE'\n" +
          run + " " + example("hello") + "\n" + run + " " + example("allreduce") + "\n" + run +
          " " + example("ring") + "\n" + run + " --slurm-links sessions " + example("ring") + "\n",
      &state);
  EXPECT_EQ(state, "COMPLETED") << out;
  const std::map<int, std::string> expected{{0, "n1"}, {1, "n1"}, {2, "n2"},
                                            {3, "n2"}, {4, "n3"}, {5, "n3"}};
  EXPECT_EQ(rankHosts(out), expected) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n') > 0, true);
  std::regex hello("hello from rank [0-5] of 6");
  EXPECT_EQ(std::distance(std::sregex_iterator(out.begin(), out.end(), hello), {}), 6) << out;
  EXPECT_NE(out.find("allreduce OK ranks=6"), std::string::npos) << out;
  std::regex ring("ring OK");
  EXPECT_EQ(std::distance(std::sregex_iterator(out.begin(), out.end(), ring), {}), 2) << out;
}

TEST_F(SlurmRunTest, SallocGivesTheAllocationsTasksAsTheDefaultRanksAsSrunPlacesThem) {
  // 5 tasks on 3 nodes: ranks go where srun puts its tasks in the same allocation.
  const std::string show = "echo rank $OMPI_COMM_WORLD_RANK host $IONET_HOST";
  const std::string script = "srun bash -c 'echo srun task $SLURM_PROCID node $SLURMD_NODENAME'; " +
                             kBin + "/ionet-run bash -c '" + show + "'";
  auto r = Command({"salloc", "--quiet", "-N3", "-n5", "bash", "-c", script}, slurmEnv()).wait(60s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  std::map<int, std::string> bySrun;
  std::regex line("srun task ([0-9]+) node (n[0-9]+)");
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), line), end; it != end; ++it) {
    bySrun[std::stoi((*it)[1])] = (*it)[2];
  }
  EXPECT_EQ(bySrun.size(), 5u) << r.out;
  EXPECT_EQ(rankHosts(r.out), bySrun) << r.out << r.err;
  // -np and --map-by still choose within the allocation.
  r = salloc({"-N3", "--ntasks-per-node=2"}, {"-np", "3", "--map-by", "node", "bash", "-c", show})
          .wait(60s);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(rankHosts(r.out), (std::map<int, std::string>{{0, "n1"}, {1, "n2"}, {2, "n3"}}))
      << r.out;
  // From an srun'd shell (a one-task step), the allocation is still the job's.
  r = Command({"salloc", "--quiet", "-N3", "--ntasks-per-node=2", "srun", "-N1", "-n1",
               kBin + "/ionet-run", "bash", "-c", show},
              slurmEnv())
          .wait(60s);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(rankHosts(r.out),
            (std::map<int, std::string>{
                {0, "n1"}, {1, "n1"}, {2, "n2"}, {3, "n2"}, {4, "n3"}, {5, "n3"}}))
      << r.out;
}

TEST_F(SlurmRunTest, ExitStatusAndOutputAreTheProgramsAsUnderSrun) {
  auto r = salloc({"-N2", "--ntasks-per-node=1"}, {example("exit_code"), "1", "7"}).wait(60s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 7) << r.out << r.err;
}

TEST_F(SlurmRunTest, ANodesAgentKilledMidRunRestartsOnTheOtherNodesWithTheSameResult) {
  const std::string steps = "300", every = "20";
  // -np 4 on 3 nodes of 2 tasks: n1 and n2 run it, n3 is the allocation's spare.
  auto reference = salloc({"-N3", "--ntasks-per-node=2"},
                          {"-np", "4", "--checkpoint-dir", (dir_ / "reference").string(),
                           example("train"), steps, every})
                       .wait(120s);
  ASSERT_EQ(reference.exitCode, 0) << reference.err;
  const std::string expected = finalChecksum(reference.out);
  ASSERT_NE(expected, "none") << reference.out;

  auto c = salloc({"-N3", "--ntasks-per-node=2"},
                  {"-np", "4", "--checkpoint-dir", (dir_ / "run").string(), "--max-restarts", "1",
                   "--restart-delay", "0", example("train"), steps, every});
  ASSERT_TRUE(c.waitForOutput(
      [](const std::string& o) { return o.find("checkpoint step 60\n") != std::string::npos; },
      60s))
      << c.transcript();
  const pid_t n2 = agentOfNode("n2");
  ASSERT_GT(n2, 0) << "no ionet-agent of node n2";
  ASSERT_EQ(::kill(n2, SIGKILL), 0);
  auto r = c.wait(120s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.err.find("the agent of host n2 died"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("restart 1 of 1 on hosts n1,n3: resuming from"), std::string::npos) << r.err;
  EXPECT_EQ(finalChecksum(r.out), expected) << r.out;
}

TEST_F(SlurmRunTest, AnIonetBatchSlurmJobRunsIonetRunWithItsIonetDirectives) {
  // The #IONET checkpoint settings Slurm has no name for reach ionet-run in the job.
  const auto script = dir_ / "train.sh";
  std::ofstream(script) << "#!/bin/bash\n#IONET -N 3 --ntasks-per-node=2 -o " +
                               (dir_ / "train.out").string() + "\n#IONET --checkpoint-dir " +
                               (dir_ / "ck").string() + " --max-restarts 1\n" + kBin +
                               "/ionet-run bash -c 'echo rank $OMPI_COMM_WORLD_RANK host "
                               "$IONET_HOST restarts $IONET_MAX_RESTARTS'\n" +
                               kBin + "/ionet-run " + example("train") + " 100 20\n";
  auto env = slurmEnv();
  env.push_back("IONET_BATCH_BACKEND=slurm");
  auto r = Command({kBin + "/ionet-batch", "--parsable", script.string()}, env).wait(30s);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const std::string id = r.out.substr(0, r.out.find_first_of(";\n"));
  auto state = cluster_->waitJobDone(id, 120s);
  const std::string out = readFile(dir_ / "train.out");
  EXPECT_EQ(state.value_or("still running"), "COMPLETED") << out;
  EXPECT_EQ(rankHosts(out), (std::map<int, std::string>{
                                {0, "n1"}, {1, "n1"}, {2, "n2"}, {3, "n2"}, {4, "n3"}, {5, "n3"}}))
      << out;
  EXPECT_NE(finalChecksum(out), "none") << out;
  EXPECT_TRUE(fs::exists(dir_ / "ck" / "step-100")) << out;
}

TEST_F(SlurmRunTest, ScancelOfTheBatchJobEndsIonetRunItsAgentsAndRanks) {
  const auto script = dir_ / "long.sh";
  const auto out = dir_ / "long.out";
  std::ofstream(script) << "#!/bin/bash\n#SBATCH -N3 --ntasks-per-node=2\n" + kBin +
                               "/ionet-run bash -c 'echo started; exec sleep 120'\n";
  auto r =
      Command({"sbatch", "--parsable", "-o", out.string(), script.string()}, slurmEnv()).wait(30s);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const std::string id = r.out.substr(0, r.out.find_first_of(";\n"));
  ASSERT_TRUE(waitUntil(
      [&] {
        const auto text = readFile(out);
        std::size_t n = 0;
        for (auto at = text.find("started"); at != std::string::npos;
             at = text.find("started", at + 1)) {
          ++n;
        }
        return n == 6;
      },
      60s))
      << readFile(out);
  const auto cancelledAt = Clock::now();
  ASSERT_EQ(cluster_->client({"scancel", id}).exitCode, 0);
  EXPECT_EQ(cluster_->waitJobDone(id, 60s).value_or("still running"), "CANCELLED");
  // Every agent and rank is gone within the 5 s the fixture's teardown allows, long before the
  // sleep's 120 s; the cancel is not reported as a lost host.
  EXPECT_TRUE(waitUntil([&] { return processesNamed("sleep").empty(); }, 10s));
  EXPECT_LT(Clock::now() - cancelledAt, 15s);
  EXPECT_EQ(readFile(out).find("followed from"), std::string::npos) << readFile(out);
}

TEST_F(SlurmRunTest, ABrokenAllocationIsAOneLineError) {
  // The node list and the task counts disagree: which node gets which tasks is unknown.
  auto env = slurmEnv();
  env.insert(env.end(),
             {"SLURM_JOB_ID=999", "SLURM_JOB_NODELIST=n[1-3]", "SLURM_TASKS_PER_NODE=2(x2)"});
  auto r = ionetRun({example("hello")}, env);
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find("SLURM_TASKS_PER_NODE=2(x2) counts 2 nodes but SLURM_JOB_NODELIST=n[1-3] "
                       "names 3"),
            std::string::npos)
      << r.err;
}

TEST(SlurmStopped, IonetRunInsideAnAllocationSaysSlurmCannotBeReached) {
  SlurmCluster cluster(1, 2);
  ASSERT_TRUE(cluster.started()) << cluster.why();
  cluster.stop();
  auto env = cluster.env();
  env.insert(env.end(), {"SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=n1", "SLURM_TASKS_PER_NODE=1"});
  auto r = Command({kBin + "/ionet-run", example("hello")}, env).wait(60s);
  EXPECT_EQ(r.exitCode, 1) << r.err;
  EXPECT_NE(r.err.find("inside Slurm job 1: 'scontrol show node -o' failed: "), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("Unable to contact slurm controller"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ionet::test
