#include "run/host_status.h"

namespace ionet::launcher {

void applyHostStats(const control::HostStats& stats, HostStatus& host) {
  host.ranksRunning = stats.ranks_running();
  host.connectionsOut = stats.connections_out();
  host.connectionsIn = stats.connections_in();
  host.failedConnects = stats.failed_connects();
  host.links.clear();
  for (const auto& l : stats.links()) {
    host.links.push_back({l.host(), static_cast<double>(l.rtt_us()) / 1000, l.send_rate() * 8 / 1e6,
                          l.receive_rate() * 8 / 1e6, l.links_up(), l.streams(), l.reconnects()});
  }
}

}  // namespace ionet::launcher
