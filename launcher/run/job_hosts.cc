#include "run/job_hosts.h"

#include "run/host_status.h"

namespace ionet::launcher {
namespace {

bool connected(const RunHost& h) { return h.channel != nullptr && !h.done; }

}  // namespace

JobStatus jobStatus(const Placement& placement, const std::vector<RunHost>& hosts,
                    const FenceTable& fences, double elapsedSeconds) {
  JobStatus status;
  status.elapsedSeconds = elapsedSeconds;
  status.fencesDone = fences.completed();
  for (const auto& f : fences.progress()) status.fencesOpen.push_back({f.in, f.of});
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    const auto& h = hosts[i];
    HostStatus hs;
    hs.name = placement.hosts[i].name;
    hs.ranks = static_cast<unsigned>(placement.hosts[i].ranks.size());
    hs.connected = connected(h);
    if (auto session = h.session.lock()) {
      hs.controlRttMs = std::chrono::duration<double, std::milli>(session->stats().rtt).count();
    }
    if (h.stats) applyHostStats(*h.stats, hs);
    status.hosts.push_back(std::move(hs));
  }
  return status;
}

RunView runView(const std::vector<RunHost>& hosts, bool launched) {
  RunView view;
  view.launched = launched;
  for (const auto& h : hosts) {
    HostReport report;
    report.up = connected(h);
    if (h.stats) {
      report.ranksRunning = h.stats->ranks_running();
      report.links = linkReports(*h.stats);
    }
    view.hosts.push_back(std::move(report));
  }
  return view;
}

}  // namespace ionet::launcher
