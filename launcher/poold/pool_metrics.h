// The pool agent's Prometheus metrics (ionet-agent --pool --metrics-listen) as pure code: a
// snapshot of what the agent knows (its host, its jobs with what their agents last wrote, its
// sessions, its relay) in, the text of /metrics out. The io thread fills the snapshot, the HTTP
// threads render it (pool_metrics_endpoint.h); nothing here does I/O or reads a clock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/control.h"
#include "hosts/pool_file.h"
#include "hosts/resources.h"
#include "ionet/wan/relay.h"
#include "ionet/wan/session.h"
#include "observe/http_endpoint.h"
#include "observe/metrics_text.h"

namespace ionet::launcher {

// The counters of a session, or of several summed: what must never go backwards.
struct SessionCounters {
  std::uint64_t sent = 0, received = 0, retransmitted = 0, duplicate = 0, reconnects = 0,
                resumes = 0;

  void add(const wan::SessionStats& s);
  void add(const control::DataLinkStats& s);
  void add(const SessionCounters& c);
};

// Sessions by kind ("control": the pool agent's own, with launchers and watchers; "data": its
// jobs' agents' data-path sessions) and peer: totals of those that ended, kept so that a
// counter does not drop when a session or a job does.
using EndedSessions = std::map<std::pair<std::string, std::string>, SessionCounters>;

struct PoolMetricsSnapshot {
  std::string host, site;
  HostResources resources;
  double startTime = 0;  // Unix seconds

  struct Job {
    std::string id;         // the launcher's job id (hex)
    std::string statsFile;  // where its agent writes its HostStats ($IONET_AGENT_STATS_FILE)
    std::optional<control::HostStats> stats;  // what it last wrote; unset: nothing yet
  };
  std::vector<Job> jobs;
  std::vector<wan::SessionStats> sessions;  // the pool agent's live sessions
  EndedSessions ended;
  std::optional<wan::RelayStats> relay;  // when this host runs the pool's relay
};

// Every series carries host="NAME"; jobs and peers are the only other unbounded labels, capped
// by MetricsText's series limit.
observe::MetricsText poolMetrics(const PoolMetricsSnapshot& snapshot);

// Where the pool agent serves its metrics: the command line (--metrics-listen) beats the host's
// metrics_listen, which beats the pool's; nullopt: nowhere. Throws UsageError naming the option
// or the pool file's line.
struct MetricsListen {
  observe::ListenAddress address;
  std::string source;  // "--metrics-listen", "pool.toml:7: pool.metrics_listen", ...
};
std::optional<MetricsListen> metricsListenFor(const PoolFile& pool, const PoolFileHost& host,
                                              const std::string& commandLine);

}  // namespace ionet::launcher
