// squeue and sacct columns.
#include "ionet/jobscripts/job_format.h"

#include <gtest/gtest.h>

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

TEST(JobFormat, TasksPerNodeAsSlurmWritesIt) {
  EXPECT_EQ(tasksPerNode({{"a", 2}, {"b", 2}, {"c", 1}}), "2(x2),1");
  EXPECT_EQ(tasksPerNode({{"a", 4}}), "4");
}

}  // namespace
}  // namespace ionet::jobscripts
