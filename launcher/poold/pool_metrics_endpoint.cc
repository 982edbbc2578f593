#include "poold/pool_metrics_endpoint.h"

#include <fstream>

#include "ionet/error.h"

namespace ionet::launcher {
namespace {

// A HostStats is a few hundred bytes per peer host: anything this large is not one of ours.
constexpr std::streamsize kMaxStatsFile = 4 << 20;
// A job that ends during a scrape: its file is gone but the snapshot without it is out (the io
// thread publishes before it removes the job's files). Try again with that one, a few times.
constexpr int kScrapeAttempts = 4;

}  // namespace

std::optional<control::HostStats> readHostStatsFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  // The size of the file opened (a rename may have replaced the path since).
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0 || size > kMaxStatsFile) return std::nullopt;
  in.seekg(0);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (!in.read(bytes.data(), size)) return std::nullopt;
  control::HostStats stats;
  if (!stats.ParseFromString(bytes)) return std::nullopt;
  return stats;
}

PoolMetricsEndpoint::PoolMetricsEndpoint(const MetricsListen& listen) {
  try {
    http_ = std::make_unique<observe::HttpEndpoint>(
        listen.address, std::map<std::string, observe::HttpHandler>{
                            {"/metrics", [this](const observe::HttpQuery&) { return scrape(); }}});
  } catch (const std::exception& e) {
    throw Error(listen.source + ": " + e.what());
  }
}

observe::HttpResponse PoolMetricsEndpoint::scrape() const {
  for (int attempt = 1;; ++attempt) {
    const auto current = published_.get();
    if (!current) return {503, "text/plain; charset=utf-8", "starting\n"};
    PoolMetricsSnapshot snapshot = *current;
    bool vanished = false;
    for (auto& job : snapshot.jobs) {
      job.stats = readHostStatsFile(job.statsFile);
      vanished = vanished || !job.stats;
    }
    // A missing file is a job that has not written yet, unless the job ended meanwhile: then
    // its last stats are in the newer snapshot's ended totals, and leaving them out here would
    // make the counters go back for one scrape.
    if (vanished && attempt < kScrapeAttempts && published_.get() != current) continue;
    return {200, observe::kMetricsContentType, poolMetrics(snapshot).render()};
  }
}

}  // namespace ionet::launcher
