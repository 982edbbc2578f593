// The Slurm launcher's decisions, without Slurm: the agents' srun step, srun's lines about
// tasks that ended, and whether Slurm binds tasks.
#include "run/slurm_launcher.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ionet::launcher {
namespace {

bool has(const std::vector<std::string>& argv, const std::string& arg) {
  return std::find(argv.begin(), argv.end(), arg) != argv.end();
}

TEST(SlurmAgentStep, OneAgentPerNodeOverlappingTheAllocation) {
  const auto argv =
      slurmAgentStep("42", {"n1", "n3"}, "/opt/ionet/bin/ionet-agent", "10.0.0.1:4000", true);
  ASSERT_GE(argv.size(), 10u);
  EXPECT_EQ(argv[0], "srun");
  for (const char* a : {"--jobid=42", "--overlap", "--ntasks-per-node=1", "--nodelist=n1,n3",
                        "--kill-on-bad-exit=0", "--export=ALL", "--cpu-bind=none", "--mpi=none"}) {
    EXPECT_TRUE(has(argv, a)) << a;
  }
  // Explicit -N and -n: the job's SLURM_NTASKS would otherwise start one agent per task.
  auto n = std::find(argv.begin(), argv.end(), "-N");
  ASSERT_NE(n, argv.end());
  EXPECT_EQ(*(n + 1), "2");
  n = std::find(argv.begin(), argv.end(), "-n");
  ASSERT_NE(n, argv.end());
  EXPECT_EQ(*(n + 1), "2");
  // The agent and its arguments come last, after every srun option.
  auto agent = std::find(argv.begin(), argv.end(), "/opt/ionet/bin/ionet-agent");
  ASSERT_NE(agent, argv.end());
  EXPECT_EQ(std::vector<std::string>(agent + 1, argv.end()),
            (std::vector<std::string>{"--connect", "10.0.0.1:4000", "--host-name-from-env",
                                      "SLURMD_NODENAME", "--data-listen", "0.0.0.0"}));
  EXPECT_FALSE(has(slurmAgentStep("42", {"n1"}, "a", "l", false), "--cpu-bind=none"));
}

TEST(SrunTaskExit, NamesTheNodeAndHow) {
  EXPECT_EQ(parseSrunTaskExit("srun: error: n2: task 1: Killed"), (SrunTaskExit{"n2", "Killed"}));
  EXPECT_EQ(parseSrunTaskExit("srun: error: gpu07: tasks 2-3: Exited with exit code 3"),
            (SrunTaskExit{"gpu07", "Exited with exit code 3"}));
  EXPECT_FALSE(parseSrunTaskExit("srun: error: Unable to create step for job 5"));
  EXPECT_FALSE(parseSrunTaskExit("srun: Job step aborted: Waiting up to 7 seconds"));
  EXPECT_FALSE(parseSrunTaskExit("rank 0: srun: error: n2: task 1: Killed"));
}

TEST(SlurmBindsTasks, FromTheTaskPlugin) {
  EXPECT_FALSE(
      slurmBindsTasks("SwitchType              = switch/none\n"
                      "TaskPlugin              = task/none\n"));
  EXPECT_TRUE(slurmBindsTasks("TaskPlugin              = task/affinity,task/cgroup\n"));
  EXPECT_TRUE(slurmBindsTasks(""));  // unknown: ask for no binding, the safe side
}

}  // namespace
}  // namespace ionet::launcher
