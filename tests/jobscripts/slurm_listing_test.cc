// The parsers of squeue, sacct and the completion log, the state table, the backend choice:
// inputs are lines captured from the test cluster (tests/slurm/slurm-cluster.sh, Slurm 22.05).
#include "ionet/jobscripts/slurm_listing.h"

#include <gtest/gtest.h>

#include "ionet/error.h"
#include "ionet/jobscripts/backend.h"
#include "ionet/jobscripts/slurm_backend.h"
#include "ionet/jobscripts/slurm_state.h"

namespace ionet::jobscripts {
namespace {

// squeue -h -r -t all -o kSqueueFormat: an array, a job with a dependency that failed, a
// cancelled one, a name holding '|' and a space.
const char* const kSqueue =
    "1|1|0|PENDING|None|root|debug|1|1||UNLIMITED|2026-12-06T18:17:47|N/A|N/A|(null)|ok.sh\n"
    "3|3|N/A|PENDING|DependencyNeverSatisfied|root|debug|1|1||UNLIMITED|2026-12-06T18:17:47|N/A|"
    "N/A|afterok:2(failed)|ok.sh\n"
    "7|7|N/A|CANCELLED|None|root|debug|1|1|n1|UNLIMITED|2026-12-06T18:18:13|2026-12-06T18:18:14|"
    "2026-12-06T18:18:15|(null)|wrap\n"
    "6|1|1|COMPLETED|None|root|debug|1|1|n1|UNLIMITED|2026-12-06T18:17:47|2026-12-06T18:17:48|"
    "2026-12-06T18:17:49|(null)|ok.sh\n"
    "4|4|N/A|COMPLETED|None|root|debug|1|1|n1|10:00|2026-12-06T18:17:47|2026-12-06T18:17:48|"
    "2026-12-06T18:17:49|(null)|long|name x\n";

TEST(ParseSqueue, CapturedLines) {
  const auto jobs = parseSqueue(kSqueue);
  ASSERT_EQ(jobs.size(), 5u);
  EXPECT_EQ(jobs[0].displayId(), "1_0");
  EXPECT_EQ(jobs[0].state, JobState::kPending);
  EXPECT_EQ(jobs[0].startTime, 0);  // a pending job's %S is a forecast
  EXPECT_EQ(jobs[1].reason, "DependencyNeverSatisfied");
  ASSERT_EQ(jobs[1].dependency.size(), 1u);
  EXPECT_EQ(jobs[1].dependency[0], (DependencyTerm{"afterok", {"2"}}));
  EXPECT_EQ(jobs[2].state, JobState::kCancelled);
  ASSERT_EQ(jobs[2].allocation.size(), 1u);
  EXPECT_EQ(jobs[2].allocation[0].name, "n1");
  EXPECT_EQ(jobs[2].endTime - jobs[2].startTime, 1);
  EXPECT_EQ(jobs[3].id, 6);
  EXPECT_EQ(jobs[3].displayId(), "1_1");
  EXPECT_EQ(jobs[3].partition, "debug");
  EXPECT_EQ(jobs[4].name, "long|name x");
  EXPECT_EQ(jobs[4].timeLimitSeconds, 600u);
  EXPECT_THROW(parseSqueue("1|1|N/A|RUNNING\n"), Error);
  EXPECT_THROW(parseSqueue("1|1|N/A|LIMBO|None|u|p|1|1||UNLIMITED|N/A|N/A|N/A|(null)|x\n"), Error);
}

// The jobcomp/filetxt log as slurmctld wrote it (trailing space included).
const char* const kJobComp =
    "JobId=2 UserId=root(0) GroupId=root(0) Name=fail.sh JobState=FAILED Partition=debug "
    "TimeLimit=UNLIMITED StartTime=2026-12-06T18:17:48 EndTime=2026-12-06T18:17:48 NodeList=n1 "
    "NodeCnt=1 ProcCnt=1 WorkDir=/tmp/exp ReservationName= Tres=cpu=1,mem=1M,node=1,billing=1 "
    "Account= QOS= WcKey= Cluster=unknown SubmitTime=2026-12-06T18:17:47 "
    "EligibleTime=2026-12-06T18:17:47 DerivedExitCode=0:0 ExitCode=3:0 \n"
    "JobId=4 UserId=root(0) GroupId=root(0) Name=long|name x JobState=COMPLETED "
    "Partition=debug TimeLimit=10 StartTime=2026-12-06T18:17:48 EndTime=2026-12-06T18:17:49 "
    "NodeList=n1 NodeCnt=1 ProcCnt=1 WorkDir=/tmp/exp ReservationName= "
    "Tres=cpu=1,mem=1M,node=1,billing=1 Account= QOS= WcKey= Cluster=unknown "
    "SubmitTime=2026-12-06T18:17:47 EligibleTime=2026-12-06T18:17:47 DerivedExitCode=0:0 "
    "ExitCode=0:0 \n"
    "JobId=5 UserId=root(0) GroupId=root(0) Name=ok.sh JobState=COMPLETED Partition=debug "
    "TimeLimit=UNLIMITED StartTime=2026-12-06T18:17:48 EndTime=2026-12-06T18:17:49 NodeList=n1 "
    "NodeCnt=1 ProcCnt=1 WorkDir=/tmp/exp ReservationName= Tres=cpu=1,mem=1M,node=1,billing=1 "
    "Account= QOS= WcKey= Cluster=unknown SubmitTime=2026-12-06T18:17:47 "
    "EligibleTime=2026-12-06T18:17:47 ArrayJobId=1 ArrayTaskId=0 DerivedExitCode=0:0 "
    "ExitCode=0:0 \n"
    "JobId=3 UserId=root(0) GroupId=root(0) Name=ok.sh JobState=CANCELLED Partition=debug "
    "TimeLimit=UNLIMITED StartTime=2026-12-06T18:18:15 EndTime=2026-12-06T18:18:15 "
    "NodeList=(null) NodeCnt=0 ProcCnt=0 WorkDir=/tmp/exp ReservationName= "
    "Tres=cpu=1,mem=1M,node=1,billing=1 Account= QOS= WcKey= Cluster=unknown "
    "SubmitTime=2026-12-06T18:17:47 EligibleTime=unknown DerivedExitCode=0:0 ExitCode=0:0 \n";

TEST(ParseJobCompLog, CapturedLines) {
  const auto jobs = parseJobCompLog(kJobComp);
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs[0].state, JobState::kFailed);
  EXPECT_EQ(jobs[0].exitCode, 3);
  EXPECT_EQ(jobs[0].user, "root");
  EXPECT_EQ(jobs[1].name, "long|name x");
  EXPECT_EQ(jobs[1].timeLimitSeconds, 600u);
  EXPECT_EQ(jobs[2].displayId(), "1_0");
  EXPECT_EQ(jobs[2].id, 5);
  EXPECT_EQ(jobs[3].state, JobState::kCancelled);
  EXPECT_TRUE(jobs[3].allocation.empty());
  // A requeued job is logged at each end: the last line is the job.
  const auto twice = parseJobCompLog(
      "JobId=9 JobState=NODE_FAIL ExitCode=0:9\nJobId=9 JobState=COMPLETED ExitCode=0:0\n");
  ASSERT_EQ(twice.size(), 1u);
  EXPECT_EQ(twice[0].state, JobState::kCompleted);
}

TEST(ParseSacct, SlurmdbdLines) {
  // sacct -X -P -n -o kSacctFields as a slurmdbd site prints it (the test cluster has none).
  const auto jobs = parseSacct(
      "17|17|CANCELLED by 0|0:15|alice|gpu|2|8|n[01-02]|01:00:00|2026-12-06T18:00:00|"
      "2026-12-06T18:00:05|2026-12-06T18:00:35|/home/alice|train|x\n"
      "21|20_3|TIMEOUT|0:0|bob|cpu|1|1|c7|5|2026-12-06T18:00:00|2026-12-06T18:00:01|"
      "2026-12-06T18:05:01|/home/bob|a\n");
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].state, JobState::kCancelled);
  EXPECT_EQ(jobs[0].exitSignal, 15);
  EXPECT_EQ(jobs[0].name, "train|x");
  ASSERT_EQ(jobs[0].allocation.size(), 2u);
  EXPECT_EQ(jobs[0].allocation[1].name, "n02");
  EXPECT_EQ(jobs[1].displayId(), "20_3");
  EXPECT_EQ(jobs[1].id, 21);
  EXPECT_EQ(jobs[1].state, JobState::kTimeout);
}

TEST(SlurmState, MapsOntoIonetStates) {
  EXPECT_EQ(jobStateFromSlurm("PENDING"), JobState::kPending);
  EXPECT_EQ(jobStateFromSlurm("REQUEUED"), JobState::kPending);
  EXPECT_EQ(jobStateFromSlurm("CONFIGURING"), JobState::kRunning);
  EXPECT_EQ(jobStateFromSlurm("COMPLETING"), JobState::kRunning);
  EXPECT_EQ(jobStateFromSlurm("SUSPENDED"), JobState::kRunning);
  EXPECT_EQ(jobStateFromSlurm("COMPLETED"), JobState::kCompleted);
  EXPECT_EQ(jobStateFromSlurm("OUT_OF_MEMORY"), JobState::kFailed);
  EXPECT_EQ(jobStateFromSlurm("CANCELLED by 1000"), JobState::kCancelled);
  EXPECT_EQ(jobStateFromSlurm("PREEMPTED"), JobState::kCancelled);
  EXPECT_EQ(jobStateFromSlurm("DEADLINE"), JobState::kTimeout);
  EXPECT_EQ(jobStateFromSlurm("BOOT_FAIL"), JobState::kNodeFail);
  EXPECT_EQ(jobStateFromSlurm("RUNNING+"), JobState::kRunning);
  EXPECT_EQ(jobStateFromSlurm("LIMBO"), std::nullopt);
}

TEST(SlurmListing, HelpersAndFilter) {
  EXPECT_EQ(expandHostList("n[1-3],gpu07,x[08-09]"),
            (std::vector<std::string>{"n1", "n2", "n3", "gpu07", "x08", "x09"}));
  EXPECT_TRUE(expandHostList("(null)").empty());
  EXPECT_EQ(parseSlurmTime("N/A"), 0);
  EXPECT_EQ(
      configValue("JobCompLoc              = /tmp/c/jobcomp.txt\nJobCompType = jobcomp/filetxt\n",
                  "JobCompLoc"),
      "/tmp/c/jobcomp.txt");
  const auto queued = parseSqueue(kSqueue);
  // The log knows how job 4 and array task 1_0 ended; squeue adds the ones it does not have.
  const auto merged = mergeJobs(parseJobCompLog(kJobComp), queued);
  EXPECT_EQ(merged.size(), 4u + 2u);  // + 1_1 and 7; the log's 1_0, 3 and 4 win over squeue's
  JobFilter f;
  f.ids = {"1"};
  int n = 0;
  for (const auto& j : merged) n += matchesFilter(f, j);
  EXPECT_EQ(n, 2);  // 1_0 and 1_1
  f.ids = {"1_1"};
  f.states = {JobState::kCompleted};
  n = 0;
  for (const auto& j : merged) n += matchesFilter(f, j);
  EXPECT_EQ(n, 1);
}

TEST(SlurmCommandLines, SqueueAndScancel) {
  JobFilter f;
  f.users = {"alice"};
  f.ids = {"12"};  // filtered here: squeue would fail on a job it has forgotten
  EXPECT_EQ(squeueArgv(f, true),
            (std::vector<std::string>{"squeue", "-h", "-r", "-o", kSqueueFormat, "-t", "all", "-u",
                                      "alice"}));
  CancelRequest r;
  r.ids = {"12", "13_2"};
  r.signal = "sigusr1";
  r.batchOnly = true;
  r.state = "pd";
  EXPECT_EQ(scancelArgv(r), (std::vector<std::string>{"scancel", "--signal=USR1", "--batch",
                                                      "--state=PENDING", "12", "13_2"}));
}

TEST(Backend, CommandLineBeatsEnvironmentBeatsPoolFile) {
  EXPECT_EQ(chooseBackend("", "", ""), Backend::kEmbedded);
  EXPECT_EQ(chooseBackend("", "", "slurm"), Backend::kSlurm);
  EXPECT_EQ(chooseBackend("", "embedded", "slurm"), Backend::kEmbedded);
  EXPECT_EQ(chooseBackend("slurm", "embedded", ""), Backend::kSlurm);
  EXPECT_THROW(chooseBackend("", "pbs", ""), UsageError);
}

}  // namespace
}  // namespace ionet::jobscripts
