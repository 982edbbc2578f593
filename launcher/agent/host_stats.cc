#include "agent/host_stats.h"

#include <algorithm>

namespace ionet::launcher {

control::HostStats makeHostStats(unsigned ranksRunning, const bridge::Forwarder* forwarder) {
  control::HostStats s;
  s.set_ranks_running(ranksRunning);
  if (!forwarder) return s;
  const bridge::ForwarderStats f = forwarder->stats();
  s.set_connections_out(f.connectionsOut);
  s.set_connections_in(f.connectionsIn);
  s.set_failed_connects(f.failedConnects);
  s.set_bytes_out(f.bytesOut);
  s.set_bytes_in(f.bytesIn);
  for (const auto& peer : f.peers) {
    auto* l = s.add_links();
    l->set_host(peer.host);
    l->set_rtt_us(static_cast<std::uint64_t>(peer.session.rtt.count()));
    l->set_send_rate(peer.session.sendRate);
    l->set_receive_rate(peer.session.receiveRate);
    l->set_streams(static_cast<std::uint32_t>(peer.session.streams));
    l->set_links_up(static_cast<std::uint32_t>(peer.session.linksUp));
    l->set_reconnects(peer.session.reconnects);
    l->set_retransmitted_bytes(peer.session.retransmittedBytes);
    l->set_bytes_sent(peer.session.bytesSent);
    l->set_bytes_received(peer.session.bytesReceived);
    l->set_duplicate_bytes(peer.session.duplicateBytes);
    l->set_resumes(peer.session.resumes);
  }
  return s;
}

unsigned ranksRunning(const std::vector<std::unique_ptr<RankProcess>>& ranks) {
  return static_cast<unsigned>(
      std::count_if(ranks.begin(), ranks.end(), [](const auto& r) { return !r->exited(); }));
}

}  // namespace ionet::launcher
