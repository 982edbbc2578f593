// renderJobMetrics: the ionet_job_* families from a snapshot, with bounded labels, and text that
// Prometheus' own checker accepts.
#include "run/job_metrics.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "promtool.h"

namespace ionet::launcher {
namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

JobSnapshot twoHostJob() {
  JobSnapshot s;
  s.pid = 99;
  s.job = "12345";
  s.state = "running";
  s.startedAt = 1000;
  s.hosts = {{"h1", true, {0, 1}, 2, 2}, {"h2", false, {2, 3}, 2, 1}};
  s.ranksPlaced = 4;
  JobSnapshot::Link l;
  l.from = "h1";
  l.to = "h2";
  l.current = true;
  l.rttSeconds = 0.0125;
  l.sendRate = 2.5e6;
  l.receiveRate = 1e6;
  l.linksUp = 3;
  l.streams = 4;
  l.bytesSent = 123456789012;
  l.bytesReceived = 42;
  l.retransmittedBytes = 7;
  l.duplicateBytes = 5;
  l.reconnects = 2;
  l.resumes = 1;
  s.links.push_back(l);
  l.from = "h0";
  l.to = "h1";
  l.current = false;  // a lost host's: its counters only
  s.links.push_back(l);
  s.fencesCompleted = 3;
  s.fenceLatency.bounds = observe::latencyBounds();
  s.fenceLatency.observe(0.002);
  s.restartsByKind["host_lost"] = 2;
  s.resumeStep = 60;
  return s;
}

TEST(JobMetrics, TheJobsSeriesWithTheirLabels) {
  const std::string text = renderJobMetrics(twoHostJob(), 1010.5);
  EXPECT_TRUE(has(text, "ionet_job_up{job=\"12345\"} 1")) << text;
  EXPECT_TRUE(has(text, "ionet_job_elapsed_seconds{job=\"12345\"} 10.5"));
  EXPECT_TRUE(has(text, "ionet_job_hosts{job=\"12345\"} 2"));
  EXPECT_TRUE(has(text, "ionet_job_ranks{job=\"12345\"} 4"));
  EXPECT_TRUE(has(text, "ionet_job_ranks_running{job=\"12345\"} 3"));
  EXPECT_TRUE(has(text, "ionet_job_host_up{job=\"12345\",host=\"h1\"} 1"));
  EXPECT_TRUE(has(text, "ionet_job_host_up{job=\"12345\",host=\"h2\"} 0"));
  EXPECT_TRUE(has(text, "ionet_job_fences_completed_total{job=\"12345\"} 3"));
  EXPECT_TRUE(has(text, "ionet_job_fence_latency_seconds_bucket{job=\"12345\",le=\"0.0025\"} 1"));
  EXPECT_TRUE(has(text, "ionet_job_fence_latency_seconds_count{job=\"12345\"} 1"));
  EXPECT_TRUE(has(text, "ionet_job_restarts_total{job=\"12345\",cause=\"host_lost\"} 2"));
  EXPECT_TRUE(has(text, "ionet_job_restarts_total{job=\"12345\",cause=\"rank_failed\"} 0"));
  EXPECT_TRUE(has(text, "ionet_job_restarts_total{job=\"12345\",cause=\"aborted\"} 0"));
  EXPECT_TRUE(has(text, "ionet_job_checkpoint_resume_step{job=\"12345\"} 60"));
  const std::string pair = "{job=\"12345\",host=\"h1\",peer=\"h2\"}";
  EXPECT_TRUE(has(text, "ionet_job_link_rtt_seconds" + pair + " 0.0125"));
  EXPECT_TRUE(has(text, "ionet_job_link_up" + pair + " 3"));
  EXPECT_TRUE(has(text, "ionet_job_link_streams" + pair + " 4"));
  EXPECT_TRUE(has(text, "ionet_job_link_send_rate_bytes_per_second" + pair + " 2500000"));
  EXPECT_TRUE(has(text, "ionet_job_link_receive_rate_bytes_per_second" + pair + " 1000000"));
  EXPECT_TRUE(has(text, "ionet_job_link_sent_bytes_total" + pair + " 123456789012"));
  EXPECT_TRUE(has(text, "ionet_job_link_received_bytes_total" + pair + " 42"));
  EXPECT_TRUE(has(text, "ionet_job_link_retransmitted_bytes_total" + pair + " 7"));
  EXPECT_TRUE(has(text, "ionet_job_link_duplicate_bytes_total" + pair + " 5"));
  EXPECT_TRUE(has(text, "ionet_job_link_reconnects_total" + pair + " 2"));
  EXPECT_TRUE(has(text, "ionet_job_link_resumes_total" + pair + " 1"));
  // An earlier run's link: its counters stay (they must not go backwards), its gauges go.
  const std::string old = "{job=\"12345\",host=\"h0\",peer=\"h1\"}";
  EXPECT_TRUE(has(text, "ionet_job_link_sent_bytes_total" + old + " 123456789012"));
  EXPECT_EQ(text.find("ionet_job_link_up" + old), std::string::npos);
  // Never a rank label.
  EXPECT_EQ(text.find("rank=\""), std::string::npos);
}

TEST(JobMetrics, BeforeAnyRunEveryFamilyIsThereWithNoResumeStep) {
  JobSnapshot s;
  s.job = "j";
  s.fenceLatency.bounds = observe::latencyBounds();
  const std::string text = renderJobMetrics(s, 5);
  EXPECT_TRUE(has(text, "ionet_job_up{job=\"j\"} 0"));
  EXPECT_TRUE(has(text, "ionet_job_checkpoint_resume_step{job=\"j\"} -1"));
  EXPECT_TRUE(has(text, "ionet_job_hosts{job=\"j\"} 0"));
  for (const char* declared :
       {"ionet_job_host_up gauge", "ionet_job_link_rtt_seconds gauge",
        "ionet_job_link_sent_bytes_total counter", "ionet_job_link_resumes_total counter"}) {
    EXPECT_TRUE(has(text, std::string("# TYPE ") + declared)) << declared;
  }
}

TEST(JobMetrics, AFinishedJobStopsItsClockAndIsDown) {
  JobSnapshot s = twoHostJob();
  s.state = "done";
  s.endedAt = 1004;
  const std::string text = renderJobMetrics(s, 9999);
  EXPECT_TRUE(has(text, "ionet_job_up{job=\"12345\"} 0"));
  EXPECT_TRUE(has(text, "ionet_job_elapsed_seconds{job=\"12345\"} 4"));
}

TEST(JobMetrics, HostileNamesAreEscaped) {
  JobSnapshot s = twoHostJob();
  s.job = "a\"b\nc";
  s.hosts[0].name = "h\\1";
  const std::string text = renderJobMetrics(s, 1001);
  EXPECT_TRUE(has(text, "ionet_job_host_up{job=\"a\\\"b\\nc\",host=\"h\\\\1\"} 1")) << text;
}

// Prometheus' own checker (Debian's prometheus package), lint included: names, units, types.
TEST(JobMetrics, PromtoolAcceptsTheOutput) {
  EXPECT_EQ(test::promtoolCheck(renderJobMetrics(twoHostJob(), 1010),
                                ::testing::TempDir() + "/job_metrics.txt"),
            "");
}

}  // namespace
}  // namespace ionet::launcher
