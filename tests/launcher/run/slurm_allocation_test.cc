// A Slurm allocation read from the environment: hostlists, task counts, node addresses, and
// what ionet-run makes of them (the job's hosts and default rank count).
#include "run/slurm_allocation.h"

#include <gtest/gtest.h>

#include "run/cli.h"
#include "usage_error.h"

namespace ionet::launcher {
namespace {

using Names = std::vector<std::string>;

TEST(SlurmHostList, ExpandsRangesListsAndLeadingZeros) {
  EXPECT_EQ(expandSlurmHostList("n1"), Names{"n1"});
  EXPECT_EQ(expandSlurmHostList("n[1-3]"), (Names{"n1", "n2", "n3"}));
  EXPECT_EQ(expandSlurmHostList("gpu[07-08,10],cpu5"), (Names{"gpu07", "gpu08", "gpu10", "cpu5"}));
  EXPECT_EQ(expandSlurmHostList("r[1-2]-n[0-1]"), (Names{"r1-n0", "r1-n1", "r2-n0", "r2-n1"}));
  EXPECT_EQ(expandSlurmHostList("a[098-101]"), (Names{"a098", "a099", "a100", "a101"}));
}

TEST(SlurmHostList, RefusesWhatIsNotAHostList) {
  EXPECT_NE(usageError([] { expandSlurmHostList("n[1-3"); }).find("unbalanced '['"),
            std::string::npos);
  EXPECT_NE(usageError([] { expandSlurmHostList("n[3-1]"); }).find("'3-1' is not a number"),
            std::string::npos);
  EXPECT_NE(usageError([] { expandSlurmHostList("n1,,n2"); }).find("an empty name"),
            std::string::npos);
  EXPECT_NE(usageError([] { expandSlurmHostList("n1]"); }).find("unbalanced ']'"),
            std::string::npos);
}

TEST(SlurmTaskCounts, ExpandsRepeats) {
  EXPECT_EQ(expandSlurmTaskCounts("2(x3),1"), (std::vector<std::uint32_t>{2, 2, 2, 1}));
  EXPECT_EQ(expandSlurmTaskCounts("4"), (std::vector<std::uint32_t>{4}));
  EXPECT_NE(usageError([] { expandSlurmTaskCounts("2(x3"); }).find("'2(x3' is not N or N(xM)"),
            std::string::npos);
}

TEST(SlurmAllocation, FromTheEnvironmentOfABatchJob) {
  auto a = slurmAllocationFromEnvironment({"SLURM_JOB_ID=42", "SLURM_JOB_NODELIST=n[1-3]",
                                           "SLURM_TASKS_PER_NODE=3,1(x2)", "SLURM_NTASKS=5"});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->jobId, "42");
  EXPECT_EQ(a->nodes, (std::vector<SlurmNode>{{"n1", 3}, {"n2", 1}, {"n3", 1}}));
  EXPECT_EQ(a->ntasks, 5u);
}

TEST(SlurmAllocation, InsideAStepTheJobsLayoutCounts) {
  // As `salloc -N3 --ntasks-per-node=2` then `srun -N1 -n1 bash` showed them in the step.
  const std::vector<std::string> step{"SLURM_JOB_ID=9",
                                      "SLURM_JOB_NODELIST=n[1-3]",
                                      "SLURM_STEP_ID=0",
                                      "SLURM_NTASKS=1",
                                      "SLURM_TASKS_PER_NODE=1",
                                      "SLURM_NTASKS_PER_NODE=2",
                                      "SLURM_JOB_CPUS_PER_NODE=2(x3)"};
  auto a = slurmAllocationFromEnvironment(step);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->nodes, (std::vector<SlurmNode>{{"n1", 2}, {"n2", 2}, {"n3", 2}}));
  EXPECT_EQ(a->ntasks, 0u);  // the step's one task is not the job's rank count
  // Without a uniform --ntasks-per-node, the job's CPUs per node.
  a = slurmAllocationFromEnvironment({"SLURM_JOB_ID=9", "SLURM_JOB_NODELIST=n[1-2]",
                                      "SLURM_STEP_ID=0", "SLURM_TASKS_PER_NODE=1",
                                      "SLURM_JOB_CPUS_PER_NODE=4,2"});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->nodes, (std::vector<SlurmNode>{{"n1", 4}, {"n2", 2}}));
}

TEST(SlurmAllocation, NoneOutsideSlurmOrInsideIonetsOwnQueue) {
  EXPECT_FALSE(slurmAllocationFromEnvironment({"PATH=/bin"}));
  // ionet's queue sets SLURM_ variables for its jobs too: IONET_JOB_ID says whose job it is.
  EXPECT_FALSE(slurmAllocationFromEnvironment(
      {"IONET_JOB_ID=7", "SLURM_JOB_ID=7", "SLURM_JOB_NODELIST=node0"}));
}

TEST(SlurmAllocation, ARefusedAllocationNamesTheVariable) {
  EXPECT_NE(usageError([] {
              slurmAllocationFromEnvironment(
                  {"SLURM_JOB_ID=1", "SLURM_JOB_NODELIST=n[1-2]", "SLURM_TASKS_PER_NODE=2(x3)"});
            })
                .find("SLURM_TASKS_PER_NODE=2(x3) counts 3 nodes but SLURM_JOB_NODELIST=n[1-2] "
                      "names 2"),
            std::string::npos);
  EXPECT_NE(usageError([] {
              slurmAllocationFromEnvironment({"SLURM_JOB_ID=1"});
            }).find("SLURM_JOB_NODELIST is not set"),
            std::string::npos);
}

TEST(SlurmNodeAddresses, FromScontrolOneLinePerNode) {
  // As `scontrol show node -o` printed it on the test cluster (shortened).
  const std::string out =
      "NodeName=n1 Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 NodeAddr=127.0.0.1 "
      "NodeHostName=localhost Version=22.05.8\n"
      "NodeName=gpu07 NodeAddr=10.0.0.7 NodeHostName=gpu07\n"
      "garbage line\n";
  EXPECT_EQ(parseSlurmNodeAddresses(out),
            (std::map<std::string, std::string>{{"gpu07", "10.0.0.7"}, {"n1", "127.0.0.1"}}));
}

const std::vector<std::string> kBatchJob{"SLURM_JOB_ID=42", "SLURM_JOB_NODELIST=n[1-3]",
                                         "SLURM_TASKS_PER_NODE=2(x3)", "SLURM_NTASKS=6"};

TEST(SlurmCommandLine, NoHostArgumentsRunOnTheAllocation) {
  auto spec = parseCommandLine({"prog"}, kBatchJob).spec;
  ASSERT_TRUE(spec.slurm);
  EXPECT_EQ(spec.hostLists, (std::vector<std::string>{"n1:2,n2:2,n3:2"}));
  EXPECT_EQ(spec.np, 6u);
  EXPECT_TRUE(spec.slurmDirectLinks);
  spec = parseCommandLine({"-np", "4", "--slurm-links", "sessions", "prog"}, kBatchJob).spec;
  EXPECT_EQ(spec.np, 4u);
  EXPECT_FALSE(spec.slurmDirectLinks);
}

TEST(SlurmCommandLine, TheBatchJobsIonetSettingsAreDefaults) {
  auto env = kBatchJob;
  env.insert(env.end(), {"IONET_CHECKPOINT_DIR=/shared/ck", "IONET_MAX_RESTARTS=3"});
  auto spec = parseCommandLine({"prog"}, env).spec;
  EXPECT_EQ(spec.restart.checkpointDir, "/shared/ck");
  EXPECT_EQ(spec.restart.maxRestarts, 3u);
  spec = parseCommandLine({"--max-restarts", "1", "prog"}, env).spec;
  EXPECT_EQ(spec.restart.maxRestarts, 1u);
  // Outside any job the variables are the ranks' business only.
  spec = parseCommandLine({"prog"}, {"IONET_MAX_RESTARTS=3"}).spec;
  EXPECT_EQ(spec.restart.maxRestarts, 0u);
}

TEST(SlurmCommandLine, GpusAreSlurmsInsideAnAllocation) {
  auto env = kBatchJob;
  env.push_back("IONET_GPUS_PER_TASK=1");  // ionet-batch --backend slurm's --gpus-per-task
  EXPECT_EQ(parseCommandLine({"prog"}, env).spec.gpusPerRank, 0u);
  EXPECT_NE(usageError([] {
              parseCommandLine({"--gpus-per-rank", "1", "prog"}, kBatchJob);
            }).find("--gpus-per-rank inside Slurm job 42: the allocation's GPUs are Slurm's"),
            std::string::npos);
}

TEST(SlurmCommandLine, NamedHostsOrAPoolWin) {
  auto env = kBatchJob;
  env.push_back("IONET_POOL=/etc/ionet/pool.toml");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-H", "a,b", "prog"}, {"--local-hosts", "2", "prog"}, {"--pool", "p.toml", "prog"}}) {
    EXPECT_FALSE(parseCommandLine(args, kBatchJob).spec.slurm) << args[0];
  }
  // $IONET_POOL does not replace the allocation the job is in.
  auto spec = parseCommandLine({"prog"}, env).spec;
  EXPECT_TRUE(spec.slurm);
  EXPECT_TRUE(spec.poolFile.empty());
}

}  // namespace
}  // namespace ionet::launcher
