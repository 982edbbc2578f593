// squeue and sacct columns.
#include "ionet/jobscripts/job_format.h"

#include <gtest/gtest.h>

#include <set>

#include "ionet/error.h"
#include "ionet/jobscripts/shepherd.h"

namespace ionet::jobscripts {
namespace {

TEST(JobFormat, SqueueDefaultColumns) {
  JobRecord j;
  j.id = 7;
  j.name = "averyveryverylongname";
  j.user = "ana";
  j.reason = "Resources";
  auto t = parseSqueueFormat(kSqueueDefault);
  EXPECT_EQ(tableHeader(t),
            "             JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)");
  EXPECT_EQ(tableRow(t, j, "local", 0),
            "                 7     local averyver      ana PD       0:00      1 (Resources)");
  j.state = JobState::kRunning;
  j.startTime = 100;
  j.allocation = {{"node0", 1}, {"node1", 1}};
  EXPECT_EQ(tableRow(parseSqueueFormat("%i|%M|%D|%R"), j, "p", 165), "7|1:05|2|node0,node1");
  EXPECT_THROW(parseSqueueFormat("%Q"), UsageError);
  EXPECT_THROW(parseSqueueFormat("%.5"), UsageError);
}

TEST(JobFormat, SacctNamedColumns) {
  JobRecord j;
  j.id = 9;
  j.arrayJobId = 8;
  j.arrayTaskId = 1;
  j.state = JobState::kFailed;
  j.exitCode = 3;
  auto t = parseSacctFormat("jobid%-6,State,ExitCode%4");
  EXPECT_EQ(tableHeader(t), "jobid       State Exit");  // sacct cuts headers to the width too
  EXPECT_EQ(tableRow(t, j, "", 0), "8_1        FAILED  3:0");
  EXPECT_THROW(parseSacctFormat("Nope"), UsageError);
  EXPECT_THROW(parseSacctFormat("State%x"), UsageError);
}

// squeue without --array: an array's pending tasks that wait for the same reason are one line.
TEST(QueueLines, PendingArrayTasksCollapseAsSqueueShowsThem) {
  auto task = [](std::int64_t id, std::uint32_t t, JobState s, const std::string& reason) {
    JobRecord j;
    j.id = id;
    j.arrayJobId = 20;
    j.arrayTaskId = t;
    j.arrayMaxRunning = 2;
    j.state = s;
    j.reason = reason;
    return j;
  };
  JobRecord alone;
  alone.id = 19;
  std::vector<JobRecord> jobs = {alone,
                                 task(20, 0, JobState::kRunning, "None"),
                                 task(21, 1, JobState::kRunning, "None"),
                                 task(22, 2, JobState::kPending, "JobArrayTaskLimit"),
                                 task(23, 3, JobState::kPending, "JobArrayTaskLimit"),
                                 task(24, 4, JobState::kPending, "JobArrayTaskLimit"),
                                 task(26, 6, JobState::kPending, "JobArrayTaskLimit"),
                                 task(27, 7, JobState::kPending, "Dependency")};
  const auto t = parseSqueueFormat("%i %t %r %K");
  auto text = [&](bool oneTaskPerLine) {
    std::string out;
    for (const auto& line : queueLines(jobs, oneTaskPerLine)) out += tableRow(t, line, "", 0) + "\n";
    return out;
  };
  EXPECT_EQ(text(false),
            "19 PD None N/A\n"
            "20_0 R None 0\n"
            "20_1 R None 1\n"
            "20_[2-4,6%2] PD JobArrayTaskLimit [2-4,6%2]\n"
            "20_7 PD Dependency 7\n");  // a task alone keeps its own id
  EXPECT_EQ(text(true),
            "19 PD None N/A\n20_0 R None 0\n20_1 R None 1\n20_2 PD JobArrayTaskLimit 2\n"
            "20_3 PD JobArrayTaskLimit 3\n20_4 PD JobArrayTaskLimit 4\n"
            "20_6 PD JobArrayTaskLimit 6\n20_7 PD Dependency 7\n");
  // Without a %limit there is no %.
  for (auto& j : jobs) j.arrayMaxRunning = 0;
  EXPECT_NE(text(false).find("20_[2-4,6] PD"), std::string::npos) << text(false);
}

TEST(JobFormat, TasksPerNodeAsSlurmWritesIt) {
  EXPECT_EQ(tasksPerNode({{"a", 2}, {"b", 2}, {"c", 1}}), "2(x2),1");
  EXPECT_EQ(tasksPerNode({{"a", 4}}), "4");
}

TEST(JobEnvironment, EveryVariableOnceWithTheJobsValue) {
  JobRecord j;
  j.id = 5;
  j.ntasks = 2;
  j.cpusPerTask = 2;
  j.allocation = {{"node0", 2}};
  j.checkpointDir = "/ck/new";
  // Submitted from inside another job: its variables must not shadow this job's.
  j.environment = {"PATH=/opt/bin", "SLURM_JOB_ID=1", "IONET_CHECKPOINT_DIR=/ck/old",
                   "IONET_STEP_LOG=/old/log", "IONET_MAX_RESTARTS=9", "HOME=/root"};
  QueueDir q;
  q.kind = "emulated";
  q.partition = "local";
  const auto env = jobEnvironment(j, q, {});
  std::set<std::string> names;
  for (const auto& e : env) {
    EXPECT_TRUE(names.insert(e.substr(0, e.find('='))).second) << "twice: " << e;
  }
  auto value = [&](const std::string& name) {
    for (const auto& e : env) {
      if (e.rfind(name + "=", 0) == 0) return e.substr(name.size() + 1);
    }
    return std::string("(unset)");
  };
  EXPECT_EQ(value("SLURM_JOB_ID"), "5");
  EXPECT_EQ(value("IONET_CHECKPOINT_DIR"), "/ck/new");
  EXPECT_NE(value("IONET_STEP_LOG"), "/old/log");
  EXPECT_EQ(value("SLURM_JOB_CPUS_PER_NODE"), "4");
  EXPECT_EQ(value("IONET_MAX_RESTARTS"), "(unset)");  // the job asked for none
  EXPECT_EQ(value("HOME"), "/root");
  EXPECT_NE(value("PATH").find(":/opt/bin"), std::string::npos);
  std::vector<std::string> list = {"A=1", "B=2"};
  setVariable(list, "A=3");
  EXPECT_EQ(list, (std::vector<std::string>{"A=3", "B=2"}));
}

}  // namespace
}  // namespace ionet::jobscripts
