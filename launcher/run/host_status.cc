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

std::vector<LinkReport> linkReports(const control::HostStats& stats) {
  std::vector<LinkReport> out;
  for (const auto& l : stats.links()) {
    LinkReport r;
    r.peer = l.host();
    r.rttSeconds = static_cast<double>(l.rtt_us()) / 1e6;
    r.sendRate = l.send_rate();
    r.receiveRate = l.receive_rate();
    r.streams = l.streams();
    r.linksUp = l.links_up();
    r.reconnects = l.reconnects();
    r.retransmittedBytes = l.retransmitted_bytes();
    r.bytesSent = l.bytes_sent();
    r.bytesReceived = l.bytes_received();
    r.duplicateBytes = l.duplicate_bytes();
    r.resumes = l.resumes();
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace ionet::launcher
