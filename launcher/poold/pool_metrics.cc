#include "poold/pool_metrics.h"

#include <algorithm>
#include <chrono>

namespace ionet::launcher {
namespace {

using observe::Labels;
using observe::MetricsText;
using observe::MetricType;

// One (kind, peer) row of the session families: live sessions summed, ended ones added.
struct SessionRow {
  SessionCounters counters;
  std::optional<double> rttSeconds;  // the largest live one; unset: no live session
  std::uint64_t linksUp = 0;
};

void addRtt(SessionRow& row, double seconds) {
  row.rttSeconds = std::max(row.rttSeconds.value_or(0), seconds);
}

std::map<std::pair<std::string, std::string>, SessionRow> sessionRows(
    const PoolMetricsSnapshot& s) {
  std::map<std::pair<std::string, std::string>, SessionRow> rows;
  for (const auto& session : s.sessions) {
    auto& row = rows[{"control", session.peer}];
    row.counters.add(session);
    addRtt(row, std::chrono::duration<double>(session.rtt).count());
    row.linksUp += static_cast<std::uint64_t>(std::max(session.linksUp, 0));
  }
  // A job's agent reports one entry per peer host; this host's jobs are summed per peer.
  for (const auto& job : s.jobs) {
    if (!job.stats) continue;
    for (const auto& link : job.stats->links()) {
      auto& row = rows[{"data", link.host()}];
      row.counters.add(link);
      addRtt(row, static_cast<double>(link.rtt_us()) / 1e6);
      row.linksUp += link.links_up();
    }
  }
  for (const auto& [key, counters] : s.ended) rows[key].counters.add(counters);
  return rows;
}

void sessionMetrics(MetricsText& m, const PoolMetricsSnapshot& s) {
  const char* rtt = "ionet_session_rtt_seconds";
  m.declare(rtt, MetricType::gauge,
            "Smoothed round trip of the sessions to a peer (the largest of them); absent while "
            "none is live.");
  struct Counter {
    const char* name;
    const char* help;
    std::uint64_t SessionCounters::*field;
  };
  const Counter counters[] = {
      {"ionet_session_sent_bytes_total", "Application bytes sent to the peer.",
       &SessionCounters::sent},
      {"ionet_session_received_bytes_total", "Application bytes received from the peer.",
       &SessionCounters::received},
      {"ionet_session_retransmitted_bytes_total",
       "Bytes sent again after a connection to the peer was lost.",
       &SessionCounters::retransmitted},
      {"ionet_session_duplicate_bytes_total",
       "Bytes received twice from the peer (after a resume) and dropped.",
       &SessionCounters::duplicate},
      {"ionet_session_reconnects_total", "Connections to the peer re-established.",
       &SessionCounters::reconnects},
      {"ionet_session_resumes_total",
       "Times a session to the peer came back after losing every connection.",
       &SessionCounters::resumes},
  };
  for (const auto& c : counters) m.declare(c.name, MetricType::counter, c.help);
  const char* links = "ionet_session_links_up";
  m.declare(links, MetricType::gauge, "Connections up in the live sessions to the peer.");
  for (const auto& [key, row] : sessionRows(s)) {
    const Labels labels = {{"host", s.host}, {"peer", key.second}, {"kind", key.first}};
    if (row.rttSeconds) m.gauge(rtt, "", labels, *row.rttSeconds);
    for (const auto& c : counters) {
      m.counter(c.name, "", labels, static_cast<double>(row.counters.*c.field));
    }
    m.gauge(links, "", labels, static_cast<double>(row.linksUp));
  }
}

void hostMetrics(MetricsText& m, const PoolMetricsSnapshot& s) {
  const Labels host = {{"host", s.host}};
  m.gauge("ionet_agent_up", "1: the pool agent answers.", host, 1);
  m.gauge("ionet_agent_start_time_seconds", "When the pool agent started, Unix seconds.", host,
          s.startTime);
  m.gauge("ionet_host_info", "The host's name and site in the pool; always 1.",
          {{"host", s.host}, {"site", s.site}}, 1);
  m.gauge("ionet_host_cores", "CPUs the pool agent may run jobs on.", host, s.resources.cores);
  m.gauge("ionet_host_memory_bytes", "The host's memory.", host,
          static_cast<double>(s.resources.memoryBytes));
  const auto offered = std::count_if(s.resources.gpus.begin(), s.resources.gpus.end(),
                                     [](const GpuInfo& g) { return g.healthFailure.empty(); });
  m.gauge("ionet_host_gpus_offered", "GPUs offered to jobs (not failed in the health check).", host,
          static_cast<double>(offered));
  m.declare("ionet_gpu_memory_bytes", MetricType::gauge, "The GPU's memory.");
  for (const auto& g : s.resources.gpus) {
    const Labels gpu = {{"host", s.host}, {"gpu", std::to_string(g.index)}, {"model", g.model}};
    m.gauge("ionet_gpu_memory_bytes", "", gpu, static_cast<double>(g.memoryBytes));
    m.gauge("ionet_gpu_healthy",
            "1: offered to jobs (passed the health check, or not checked); 0: failed it.", gpu,
            g.healthFailure.empty() ? 1 : 0);
    m.gauge("ionet_gpu_checked", "1: the health check ran for the GPU.", gpu, g.checked ? 1 : 0);
    if (g.checked) {
      m.gauge("ionet_gpu_tflops", "bf16 matrix-product rate the health check measured, TFLOP/s.",
              gpu, g.tflops);
    }
  }
}

void jobMetrics(MetricsText& m, const PoolMetricsSnapshot& s) {
  m.gauge("ionet_host_jobs_running", "Jobs whose agent runs on this host.", {{"host", s.host}},
          static_cast<double>(s.jobs.size()));
  const char* ranks = "ionet_host_job_ranks_running";
  m.declare(ranks, MetricType::gauge, "Ranks of the job running on this host.");
  for (const auto& job : s.jobs) {
    m.gauge(ranks, "", {{"host", s.host}, {"job", job.id}},
            job.stats ? job.stats->ranks_running() : 0);
  }
}

void relayMetrics(MetricsText& m, const PoolMetricsSnapshot& s) {
  if (!s.relay) return;
  const Labels host = {{"host", s.host}};
  m.counter("ionet_relay_pairs_total", "Connections the relay paired.", host,
            static_cast<double>(s.relay->pairs));
  m.counter("ionet_relay_forwarded_bytes_total", "Bytes the relay copied, both directions.", host,
            static_cast<double>(s.relay->bytesForwarded));
  m.gauge("ionet_relay_parked_connections", "Connections parked at the relay, waiting for a peer.",
          host, static_cast<double>(s.relay->parked));
  m.counter("ionet_relay_refused_total",
            "Connections the relay refused (bad preamble, nobody parked under the name).", host,
            static_cast<double>(s.relay->refused));
}

}  // namespace

void SessionCounters::add(const wan::SessionStats& s) {
  sent += s.bytesSent;
  received += s.bytesReceived;
  retransmitted += s.retransmittedBytes;
  duplicate += s.duplicateBytes;
  reconnects += s.reconnects;
  resumes += s.resumes;
}

void SessionCounters::add(const control::DataLinkStats& s) {
  sent += s.bytes_sent();
  received += s.bytes_received();
  retransmitted += s.retransmitted_bytes();
  duplicate += s.duplicate_bytes();
  reconnects += s.reconnects();
  resumes += s.resumes();
}

void SessionCounters::add(const SessionCounters& c) {
  sent += c.sent;
  received += c.received;
  retransmitted += c.retransmitted;
  duplicate += c.duplicate;
  reconnects += c.reconnects;
  resumes += c.resumes;
}

observe::MetricsText poolMetrics(const PoolMetricsSnapshot& snapshot) {
  MetricsText m;
  hostMetrics(m, snapshot);
  jobMetrics(m, snapshot);
  sessionMetrics(m, snapshot);
  relayMetrics(m, snapshot);
  return m;
}

std::optional<MetricsListen> metricsListenFor(const PoolFile& pool, const PoolFileHost& host,
                                              const std::string& commandLine) {
  MetricsListen listen;
  std::string text;
  if (!commandLine.empty()) {
    text = commandLine;
    listen.source = "--metrics-listen";
  } else if (!host.metricsListen.empty()) {
    text = host.metricsListen;
    listen.source = host.metricsListenOrigin + ": host '" + host.name + "': metrics_listen";
  } else if (!pool.metricsListen.empty()) {
    text = pool.metricsListen;
    listen.source = pool.metricsListenOrigin + ": pool.metrics_listen";
  } else {
    return std::nullopt;
  }
  listen.address = observe::parseListenAddress(text, listen.source);
  return listen;
}

}  // namespace ionet::launcher
