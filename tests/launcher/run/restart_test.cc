// The restart policy: which hosts a restarted job gets, when it is not restarted, and what the
// environment contract says. The job runner here is scripted: the policy is what is tested.
#include "run/restart.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "ionet/error.h"

namespace ionet::launcher {
namespace {

using Names = std::vector<std::string>;
using Cause = JobOutcome::Cause;

Pool fourHosts() {
  Pool p;
  for (const char* n : {"a", "b", "c", "d"}) p.hosts.push_back({n, 2, true, {}});
  return p;
}

TEST(Restart, SparesAreTheLastHostsOfThePool) {
  EXPECT_EQ(initialHosts(fourHosts(), 0), (Names{"a", "b", "c", "d"}));
  EXPECT_EQ(initialHosts(fourHosts(), 1), (Names{"a", "b", "c"}));
  EXPECT_THROW(initialHosts(fourHosts(), 4), UsageError);
}

TEST(Restart, LostHostIsReplacedByASpare) {
  EXPECT_EQ(hostsAfterFailure(fourHosts(), {"a", "b"}, {"b"}, 2), (Names{"a", "c"}));
  // Two lost, one spare: b stays, d replaces one, and the job runs on two hosts.
  EXPECT_EQ(hostsAfterFailure(fourHosts(), {"a", "b", "c"}, {"a", "c"}, 2), (Names{"b", "d"}));
}

TEST(Restart, WithoutSparesTheJobShrinksDownToMinHosts) {
  EXPECT_EQ(hostsAfterFailure(fourHosts(), {"a", "b", "c", "d"}, {"c"}, 3), (Names{"a", "b", "d"}));
  try {
    hostsAfterFailure(fourHosts(), {"a", "b", "c", "d"}, {"c"}, 4);
    FAIL() << "shrank below --min-hosts";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fewer than --min-hosts 4"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("lost: c"), std::string::npos) << e.what();
  }
}

TEST(Restart, ALostHostIsLeftOutForTheCooldownOnly) {
  using namespace std::chrono_literals;
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  const std::map<std::string, std::chrono::steady_clock::time_point> lostAt = {{"b", t0},
                                                                               {"c", t0 + 200s}};
  EXPECT_EQ(hostsCoolingDown(lostAt, t0 + 100s, 300s), (std::set<std::string>{"b", "c"}));
  EXPECT_EQ(hostsCoolingDown(lostAt, t0 + 300s, 300s), (std::set<std::string>{"c"}));
  EXPECT_EQ(hostsCoolingDown(lostAt, t0 + 500s, 300s), (std::set<std::string>{}));
  EXPECT_EQ(hostsCoolingDown(lostAt, t0 + 201s, 0s), (std::set<std::string>{}));
  // Back from its cooldown, b takes part again (pool order tops the job up).
  EXPECT_EQ(
      hostsAfterFailure(fourHosts(), {"a", "c"}, hostsCoolingDown(lostAt, t0 + 300s, 300s), 2),
      (Names{"a", "b"}));
}

TEST(Restart, RankFailureKeepsTheHosts) {
  EXPECT_EQ(hostsAfterFailure(fourHosts(), {"a", "b"}, {}, 2), (Names{"a", "b"}));
}

TEST(Restart, OnlyLostRanksHostsAndAbortsAreRestarted) {
  for (auto cause : {Cause::kRankFailed, Cause::kHostLost, Cause::kAborted}) {
    EXPECT_TRUE(restartable({1, "", cause, "", -1, {}}));
  }
  for (auto cause : {Cause::kSuccess, Cause::kLaunchFailed, Cause::kInterrupted, Cause::kTimeout}) {
    EXPECT_FALSE(restartable({1, "", cause, "", -1, {}}));
  }
}

TEST(Restart, SameFailureIsSameRankSameStatusButNeverAHostLoss) {
  const JobOutcome r3{3, "rank 1 exited with code 3", Cause::kRankFailed, "a", 1, {}};
  EXPECT_TRUE(sameFailure(r3, r3));
  EXPECT_FALSE(sameFailure(r3, {3, "", Cause::kRankFailed, "a", 2, {}}));
  EXPECT_FALSE(sameFailure(r3, {137, "", Cause::kRankFailed, "a", 1, {}}));
  const JobOutcome lost{1, "lost b", Cause::kHostLost, "b", -1, {}};
  EXPECT_FALSE(sameFailure(lost, lost));
  // Every rank of a failed commit calls MPI_Abort: which call arrives first is chance.
  const JobOutcome abort0{3, "", Cause::kAborted, "a", 0, {}};
  EXPECT_TRUE(sameFailure(abort0, {3, "", Cause::kAborted, "b", 2, {}}));
  EXPECT_FALSE(sameFailure(abort0, {4, "", Cause::kAborted, "a", 0, {}}));
}

TEST(Restart, ContractNamesRestartCountDirectoryAndResumePoint) {
  RestartPolicy p;
  EXPECT_EQ(contractEnvironment(p, 0, ""),
            (Names{"IONET_RESTART_COUNT=0", "TORCHELASTIC_RESTART_COUNT=0"}));
  p.checkpointDir = "/ck";
  EXPECT_EQ(contractEnvironment(p, 2, "/ck/step-40"),
            (Names{"IONET_RESTART_COUNT=2", "TORCHELASTIC_RESTART_COUNT=2",
                   "IONET_CHECKPOINT_DIR=/ck", "IONET_RESUME_FROM=/ck/step-40"}));
}

// A scripted job: fails as told, run by run, and records what it was given.
struct Script {
  std::vector<JobOutcome> outcomes;
  std::vector<Names> hosts;
  std::vector<std::string> restartCounts;
  JobOutcome operator()(const JobSpec& spec, const Placement& placement) {
    Names names;
    for (const auto& h : placement.hosts) names.push_back(h.name);
    hosts.push_back(names);
    for (const auto& x : spec.exports) {
      if (x.rfind("IONET_RESTART_COUNT=", 0) == 0) restartCounts.push_back(x.substr(20));
    }
    const std::size_t i = hosts.size() - 1;
    return i < outcomes.size() ? outcomes[i] : JobOutcome{};
  }
};

JobSpec twoHostJob(std::uint32_t maxRestarts) {
  JobSpec spec;
  spec.np = 4;
  spec.argv = {"prog"};
  spec.restart.maxRestarts = maxRestarts;
  spec.restart.spareHosts = 2;
  spec.restart.restartDelaySeconds = 0;
  return spec;
}

TEST(Restart, HostLossRestartsOnASpareWithTheNextCount) {
  Script script;
  script.outcomes = {{1, "lost the agent of host b", Cause::kHostLost, "b", -1, {}}};
  const int status = runWithRestarts(twoHostJob(3), fourHosts(), std::ref(script));
  EXPECT_EQ(status, 0);
  ASSERT_EQ(script.hosts.size(), 2u);
  EXPECT_EQ(script.hosts[0], (Names{"a", "b"}));
  EXPECT_EQ(script.hosts[1], (Names{"a", "c"}));
  EXPECT_EQ(script.restartCounts, (Names{"0", "1"}));
}

TEST(Restart, BudgetSpentEndsWithTheLastFailure) {
  Script script;
  for (int i = 0; i < 5; ++i) {
    script.outcomes.push_back(
        {137, "rank", Cause::kRankFailed, "a", i, {}});  // a new rank each time
  }
  EXPECT_EQ(runWithRestarts(twoHostJob(2), fourHosts(), std::ref(script)), 137);
  EXPECT_EQ(script.hosts.size(), 3u);  // the first run and two restarts
}

TEST(Restart, TheSameFailureTwiceFromTheSameStartStops) {
  Script script;
  for (int i = 0; i < 5; ++i)
    script.outcomes.push_back({3, "rank 1", Cause::kRankFailed, "a", 1, {}});
  EXPECT_EQ(runWithRestarts(twoHostJob(5), fourHosts(), std::ref(script)), 3);
  EXPECT_EQ(script.hosts.size(), 2u);
}

TEST(Restart, InterruptedOrTimedOutJobsAreNotRestarted) {
  for (auto cause : {Cause::kInterrupted, Cause::kTimeout, Cause::kLaunchFailed}) {
    Script script;
    script.outcomes = {{130, "", cause, "", -1, {}}};
    runWithRestarts(twoHostJob(5), fourHosts(), std::ref(script));
    EXPECT_EQ(script.hosts.size(), 1u);
  }
}

TEST(Restart, NoHostLeftStopsWithTheFailure) {
  Script script;
  script.outcomes = {{1, "", Cause::kHostLost, "b", -1, {}},
                     {1, "", Cause::kHostLost, "c", -1, {}},
                     {1, "", Cause::kHostLost, "d", -1, {}}};
  JobSpec spec = twoHostJob(5);
  EXPECT_EQ(runWithRestarts(spec, fourHosts(), std::ref(script)), 1);
  // a,b -> a,c -> a,d -> only a left, fewer than the 2 hosts of the first run.
  EXPECT_EQ(script.hosts.size(), 3u);
}

}  // namespace
}  // namespace ionet::launcher
