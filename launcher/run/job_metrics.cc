#include "run/job_metrics.h"

#include <algorithm>
#include <cstdint>

#include "hosts/step_log.h"
#include "run/job_record.h"

namespace ionet::launcher {
namespace {

using observe::Labels;
using observe::MetricsText;
using observe::MetricType;

// A link's counters, each one family: name, help, member.
struct LinkCounter {
  const char* name;
  const char* help;
  std::uint64_t JobSnapshot::Link::*value;
};
constexpr LinkCounter kLinkCounters[] = {
    {"ionet_job_link_sent_bytes_total",
     "Application bytes the host's session to the peer sent, over all runs.",
     &JobSnapshot::Link::bytesSent},
    {"ionet_job_link_received_bytes_total",
     "Application bytes the host's session from the peer received, over all runs.",
     &JobSnapshot::Link::bytesReceived},
    {"ionet_job_link_retransmitted_bytes_total",
     "Bytes the host sent the peer again after losing a connection.",
     &JobSnapshot::Link::retransmittedBytes},
    {"ionet_job_link_duplicate_bytes_total",
     "Bytes the host received twice from the peer (after a resume) and dropped.",
     &JobSnapshot::Link::duplicateBytes},
    {"ionet_job_link_reconnects_total", "Connections of the session the host redialled.",
     &JobSnapshot::Link::reconnects},
    {"ionet_job_link_resumes_total", "Times the session came back after losing every connection.",
     &JobSnapshot::Link::resumes},
};

}  // namespace

std::string renderJobMetrics(const JobSnapshot& s, double now) {
  MetricsText m;
  const Labels job{{"job", s.job}};
  auto with = [&](Labels extra) {
    Labels l = job;
    l.insert(l.end(), extra.begin(), extra.end());
    return l;
  };
  m.gauge("ionet_job_up", "1 while the job's ranks run (not starting, restarting or ended).", job,
          s.state == "running" ? 1 : 0);
  m.gauge("ionet_job_elapsed_seconds", "Seconds since ionet-run started (until it ended).", job,
          std::max(0.0, s.endedAt.value_or(now) - s.startedAt));
  m.gauge("ionet_job_hosts", "Hosts the current run is placed on.", job,
          static_cast<double>(s.hosts.size()));
  m.gauge("ionet_job_ranks", "Ranks the current run placed.", job,
          static_cast<double>(s.ranksPlaced));
  unsigned running = 0;
  m.declare("ionet_job_host_up", MetricType::gauge, "1 while the host's agent is connected.");
  for (const auto& h : s.hosts) {
    m.gauge("ionet_job_host_up", "1 while the host's agent is connected.", with({{"host", h.name}}),
            h.up ? 1 : 0);
    running += h.ranksRunning;
  }
  m.gauge("ionet_job_ranks_running", "Ranks running, as the agents last reported.", job, running);
  m.counter("ionet_job_fences_completed_total", "Fences across hosts completed, over all runs.",
            job, static_cast<double>(s.fencesCompleted));
  m.histogram("ionet_job_fence_latency_seconds",
              "Time from a fence's first contribution reaching ionet-run to its release.", job,
              s.fenceLatency);
  // The causes that restart a job are always present, at 0 until one happens.
  std::map<std::string, std::uint64_t> restarts = s.restartsByKind;
  for (auto c : {EndCause::kRankFailed, EndCause::kHostLost, EndCause::kAborted}) {
    restarts.emplace(restartCauseLabel(c), 0);
  }
  for (const auto& [cause, n] : restarts) {
    m.counter("ionet_job_restarts_total", "Restarts of the job (--max-restarts), by cause.",
              with({{"cause", cause}}), static_cast<double>(n));
  }
  m.gauge("ionet_job_checkpoint_resume_step",
          "Checkpoint step the current run resumed from; -1 for none.", job,
          s.resumeStep ? static_cast<double>(*s.resumeStep) : -1);

  m.declare("ionet_job_link_rtt_seconds", MetricType::gauge,
            "Smoothed round trip of the host's session to the peer.");
  m.declare("ionet_job_link_up", MetricType::gauge,
            "Connections of the host's session to the peer that are up.");
  m.declare("ionet_job_link_streams", MetricType::gauge,
            "Connections the host's session to the peer wants.");
  m.declare("ionet_job_link_send_rate_bytes_per_second", MetricType::gauge,
            "Bytes per second the host sent the peer over the last second.");
  m.declare("ionet_job_link_receive_rate_bytes_per_second", MetricType::gauge,
            "Bytes per second the host received from the peer over the last second.");
  for (const auto& c : kLinkCounters) m.declare(c.name, MetricType::counter, c.help);
  for (const auto& l : s.links) {
    const Labels pair = with({{"host", l.from}, {"peer", l.to}});
    if (l.current) {
      m.gauge("ionet_job_link_rtt_seconds", "", pair, l.rttSeconds);
      m.gauge("ionet_job_link_up", "", pair, l.linksUp);
      m.gauge("ionet_job_link_streams", "", pair, l.streams);
      m.gauge("ionet_job_link_send_rate_bytes_per_second", "", pair, l.sendRate);
      m.gauge("ionet_job_link_receive_rate_bytes_per_second", "", pair, l.receiveRate);
    }
    for (const auto& c : kLinkCounters) {
      m.counter(c.name, c.help, pair, static_cast<double>(l.*c.value));
    }
  }
  return m.render();
}

}  // namespace ionet::launcher
