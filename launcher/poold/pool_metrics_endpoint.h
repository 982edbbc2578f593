// The HTTP side of the pool agent's metrics: GET /metrics served from the listener's own
// threads. The io thread publishes a snapshot (its sessions, relay, running jobs and where their
// agents write their stats); a scrape copies the latest, reads the jobs' stats files and renders
// it. A scrape never touches the event loop, so a hammering scraper cannot slow a job's start.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "observe/http_endpoint.h"
#include "observe/published.h"
#include "poold/pool_metrics.h"

namespace ionet::launcher {

// A job's agent writes its HostStats here (serialized, replaced atomically every second).
inline constexpr const char* kAgentStatsFileVariable = "IONET_AGENT_STATS_FILE";

// The HostStats a job's agent wrote; nullopt when the file is absent, too large or not one.
std::optional<control::HostStats> readHostStatsFile(const std::string& path);

class PoolMetricsEndpoint {
 public:
  // Binds at once; throws ionet::Error naming listen.source when it cannot.
  explicit PoolMetricsEndpoint(const MetricsListen& listen);

  // From the io thread; the snapshot's jobs carry no stats (scrapes read them).
  void publish(PoolMetricsSnapshot snapshot) { published_.set(std::move(snapshot)); }
  std::string url() const { return http_->url() + "/metrics"; }

  // What GET /metrics answers (the HTTP threads call it; so may tests).
  observe::HttpResponse scrape() const;

 private:
  observe::Published<PoolMetricsSnapshot> published_;
  std::unique_ptr<observe::HttpEndpoint> http_;  // last: its threads stop before the rest goes
};

}  // namespace ionet::launcher
