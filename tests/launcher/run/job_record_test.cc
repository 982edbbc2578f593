// JobRecord: what runWithRestarts and JobRun tell it, folded into the job's snapshot: counters
// that never go backwards across sessions and restarts, fence latencies, restarts and states.
#include "run/job_record.h"

#include <gtest/gtest.h>

namespace ionet::launcher {
namespace {

using namespace std::chrono_literals;

Placement placement(std::vector<std::string> names, std::uint32_t ranksEach) {
  Placement p;
  std::uint32_t rank = 0;
  for (auto& n : names) {
    PlacedHost h;
    h.name = n;
    for (std::uint32_t i = 0; i < ranksEach; ++i) h.ranks.push_back(rank++);
    p.hosts.push_back(std::move(h));
  }
  p.worldSize = rank;
  return p;
}

LinkReport link(const std::string& peer, std::uint64_t sent, std::uint64_t reconnects = 0) {
  LinkReport l;
  l.peer = peer;
  l.rttSeconds = 0.02;
  l.sendRate = 1000;
  l.receiveRate = 500;
  l.streams = 4;
  l.linksUp = 4;
  l.bytesSent = sent;
  l.bytesReceived = sent / 2;
  l.reconnects = reconnects;
  return l;
}

// Both hosts up and reporting, h1 with one session to h2.
RunView view(std::uint64_t sent, unsigned running = 2) {
  RunView v;
  v.launched = true;
  v.hosts.resize(2);
  for (auto& h : v.hosts) {
    h.up = true;
    h.ranksRunning = running;
  }
  v.hosts[0].links.push_back(link("h2", sent));
  return v;
}

const JobSnapshot::Link& onlyLink(const JobRecord& r) {
  EXPECT_EQ(r.snapshot().links.size(), 1u);
  return r.snapshot().links.at(0);
}

TEST(JobRecord, AStartingRunShowsItsPlacement) {
  JobRecord r("job-7", 42, 1000);
  r.runStarting(placement({"h1", "h2"}, 3), std::nullopt);
  const auto& s = r.snapshot();
  EXPECT_EQ(s.job, "job-7");
  EXPECT_EQ(s.pid, 42);
  EXPECT_EQ(s.state, "starting");
  ASSERT_EQ(s.hosts.size(), 2u);
  EXPECT_EQ(s.hosts[1].name, "h2");
  EXPECT_EQ(s.hosts[1].ranks, (std::vector<std::uint32_t>{3, 4, 5}));
  EXPECT_EQ(s.hosts[1].ranksTotal, 3u);
  EXPECT_FALSE(s.hosts[1].up);
  EXPECT_EQ(s.ranksPlaced, 6u);
  r.runId("abc");
  EXPECT_EQ(r.snapshot().job, "job-7");  // a batch job's id wins over the run's own
}

TEST(JobRecord, WithoutABatchJobTheFirstRunsIdIsTheLabel) {
  JobRecord r("", 1, 0);
  r.runId("first");
  r.runId("second");
  EXPECT_EQ(r.snapshot().job, "first");
}

TEST(JobRecord, AHostListsAtMost64RanksButCountsThemAll) {
  JobRecord r("j", 1, 0);
  r.runStarting(placement({"big"}, 100), std::nullopt);
  EXPECT_EQ(r.snapshot().hosts[0].ranks.size(), JobSnapshot::kRanksListed);
  EXPECT_EQ(r.snapshot().hosts[0].ranks.back(), 63u);
  EXPECT_EQ(r.snapshot().hosts[0].ranksTotal, 100u);
}

TEST(JobRecord, UpdatesBringHostsUpAndTheJobToRunning) {
  JobRecord r("j", 1, 0);
  r.runStarting(placement({"h1", "h2"}, 2), std::nullopt);
  RunView notYet;
  notYet.hosts.resize(2);
  notYet.hosts[0].up = true;
  r.update(notYet);
  EXPECT_EQ(r.snapshot().state, "starting");
  EXPECT_TRUE(r.snapshot().hosts[0].up);
  EXPECT_FALSE(r.snapshot().hosts[1].up);
  r.update(view(100));
  EXPECT_EQ(r.snapshot().state, "running");
  EXPECT_EQ(r.snapshot().hosts[1].ranksRunning, 2u);
  const auto& l = onlyLink(r);
  EXPECT_EQ(l.from, "h1");
  EXPECT_EQ(l.to, "h2");
  EXPECT_TRUE(l.current);
  EXPECT_DOUBLE_EQ(l.rttSeconds, 0.02);
  EXPECT_EQ(l.linksUp, 4u);
  EXPECT_EQ(l.bytesSent, 100u);
}

TEST(JobRecord, ACounterThatDropsWithinARunKeepsWhatItHadCounted) {
  JobRecord r("j", 1, 0);
  r.runStarting(placement({"h1", "h2"}, 1), std::nullopt);
  r.update(view(100));
  r.update(view(250));
  EXPECT_EQ(onlyLink(r).bytesSent, 250u);
  r.update(view(30));  // a new session to h2 began from 0
  EXPECT_EQ(onlyLink(r).bytesSent, 280u);
  EXPECT_EQ(onlyLink(r).bytesReceived, 125u + 15u);
}

TEST(JobRecord, CountersAddUpAcrossRestartsAndNeverGoBackwards) {
  JobRecord r("j", 1, 0);
  r.runStarting(placement({"h1", "h2"}, 1), std::nullopt);
  r.update(view(1000));
  r.runEnded();
  EXPECT_EQ(onlyLink(r).bytesSent, 1000u);
  EXPECT_EQ(onlyLink(r).sendRate, 0);  // nothing flows between runs
  EXPECT_EQ(onlyLink(r).linksUp, 0u);
  EXPECT_FALSE(r.snapshot().hosts[0].up);
  r.restarting("rank 1 on host h2 killed by signal 9 (Killed)", EndCause::kRankFailed, 50);
  r.runStarting(placement({"h1", "h2"}, 1), 20);
  EXPECT_FALSE(onlyLink(r).current);  // until the new run's hosts report it
  // The new run's session starts above the old one's final value: still added, not taken as
  // a continuation.
  r.update(view(1500));
  EXPECT_TRUE(onlyLink(r).current);
  EXPECT_EQ(onlyLink(r).bytesSent, 2500u);
  r.update(view(1600));
  EXPECT_EQ(onlyLink(r).bytesSent, 2600u);
}

TEST(JobRecord, ALinkOfALostHostKeepsItsCountersButIsNoLongerCurrent) {
  JobRecord r("j", 1, 0);
  r.runStarting(placement({"h1", "h2"}, 1), std::nullopt);
  r.update(view(700));
  r.runEnded();
  r.restarting("lost the agent of host h2", EndCause::kHostLost, 10);
  r.runStarting(placement({"h1", "h3"}, 1), std::nullopt);
  RunView v = view(0);
  v.hosts[0].links = {link("h3", 40)};
  r.update(v);
  const auto& links = r.snapshot().links;
  ASSERT_EQ(links.size(), 2u);  // sorted by (from, to)
  EXPECT_EQ(links[0].to, "h2");
  EXPECT_FALSE(links[0].current);
  EXPECT_EQ(links[0].bytesSent, 700u);
  EXPECT_EQ(links[1].to, "h3");
  EXPECT_TRUE(links[1].current);
  EXPECT_EQ(links[1].bytesSent, 40u);
}

TEST(JobRecord, FenceLatencyRunsFromTheFirstContributionToTheRelease) {
  JobRecord r("j", 1, 0);
  const JobRecord::Clock::time_point t0{};
  r.fenceIn("sig", 1, t0);
  r.fenceIn("sig", 1, t0 + 3ms);  // a second contribution does not move the start
  r.fenceIn("sig", 2, t0 + 4ms);
  r.fenceReleased("sig", 1, t0 + 5ms);
  r.fenceReleased("sig", 2, t0 + 6ms);
  r.fenceReleased("one-member", 1, t0 + 7ms);  // complete on its only contribution
  const auto& s = r.snapshot();
  EXPECT_EQ(s.fencesCompleted, 3u);
  EXPECT_EQ(s.fenceLatency.count, 3u);
  EXPECT_NEAR(s.fenceLatency.sum, 0.005 + 0.002 + 0, 1e-9);
  ASSERT_EQ(s.fenceLatency.bounds, observe::latencyBounds());
  EXPECT_EQ(s.fenceLatency.buckets[0], 1u);  // <= 100 us: the one-member fence
  EXPECT_EQ(s.fenceLatency.buckets[4], 1u);  // <= 2.5 ms
  EXPECT_EQ(s.fenceLatency.buckets[5], 1u);  // <= 5 ms
}

TEST(JobRecord, FencesCountOverAllRunsAndOpenOnesAreForgottenAtARunsEnd) {
  JobRecord r("j", 1, 0);
  const JobRecord::Clock::time_point t0{};
  r.fenceIn("s", 1, t0);
  r.fenceReleased("s", 1, t0 + 1ms);
  r.fenceIn("s", 2, t0);
  r.runEnded();
  r.fenceReleased("s", 2, t0 + 10s);  // the next run's fence 2: not timed from the old one
  EXPECT_EQ(r.snapshot().fencesCompleted, 2u);
  EXPECT_NEAR(r.snapshot().fenceLatency.sum, 0.001, 1e-9);
}

TEST(JobRecord, RestartsAreListedWithTheirCauseKindAndResumeStep) {
  JobRecord r("j", 1, 0);
  r.runStarting(placement({"h1", "h2"}, 1), std::nullopt);
  r.update(view(1));
  r.runEnded();
  r.restarting("the agent of host h2 died (killed by signal 9 (Killed))", EndCause::kHostLost,
               123.5);
  EXPECT_EQ(r.snapshot().state, "restarting");
  ASSERT_EQ(r.snapshot().restarts.size(), 1u);
  EXPECT_FALSE(r.snapshot().restarts[0].resumeStep);
  r.runStarting(placement({"h1", "h3"}, 1), 60);
  EXPECT_EQ(r.snapshot().state, "restarting");  // until the new run's ranks start
  const auto& restart = r.snapshot().restarts[0];
  EXPECT_EQ(restart.at, 123.5);
  EXPECT_EQ(restart.cause, "the agent of host h2 died (killed by signal 9 (Killed))");
  EXPECT_EQ(restart.kind, "host_lost");
  EXPECT_EQ(restart.resumeStep, 60);
  EXPECT_EQ(r.snapshot().resumeStep, 60);
  EXPECT_EQ(r.snapshot().restartsByKind.at("host_lost"), 1u);
  r.update(view(1));
  EXPECT_EQ(r.snapshot().state, "running");
  r.finished(0, 200);
  EXPECT_EQ(r.snapshot().state, "done");
  EXPECT_EQ(r.snapshot().exitCode, 0);
  EXPECT_EQ(r.snapshot().endedAt, 200);
}

TEST(JobRecord, TheRestartListKeepsTheLastHundredAndCountsAll) {
  JobRecord r("j", 1, 0);
  for (int i = 0; i < 150; ++i) {
    r.restarting("rank 0 failed " + std::to_string(i), EndCause::kRankFailed, i);
  }
  EXPECT_EQ(r.snapshot().restarts.size(), JobSnapshot::kRestartsListed);
  EXPECT_EQ(r.snapshot().restarts.front().cause, "rank 0 failed 50");
  EXPECT_EQ(r.snapshot().restartsByKind.at("rank_failed"), 150u);
}

TEST(JobRecord, CauseLabelsAndResumeSteps) {
  EXPECT_EQ(restartCauseLabel(EndCause::kRankFailed), "rank_failed");
  EXPECT_EQ(restartCauseLabel(EndCause::kHostLost), "host_lost");
  EXPECT_EQ(restartCauseLabel(EndCause::kLaunchFailed), "launch_failed");
  EXPECT_EQ(resumeStepOf("/ck/step-60"), 60);
  EXPECT_EQ(resumeStepOf("step-7"), 7);
  EXPECT_FALSE(resumeStepOf(""));
  EXPECT_FALSE(resumeStepOf("/ck/step-"));
  EXPECT_FALSE(resumeStepOf("/ck/step-6x"));
  EXPECT_FALSE(resumeStepOf("/ck/other"));
}

}  // namespace
}  // namespace ionet::launcher
