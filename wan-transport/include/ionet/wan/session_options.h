// Tunables of a WAN session, with the defaults a pool uses unless told otherwise.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>

namespace ionet::wan {

using namespace std::chrono_literals;

struct SessionOptions {
  // Parallel TCP connections per session; 0 = choose from the RTT measured at connect time
  // (1 under 1 ms, 4 under 20 ms, 8 under 80 ms, 16 beyond: one CUBIC stream's share shrinks
  // with RTT and loss, and NCCL/GridMPI show many streams recovering it).
  int streams = 0;
  // Messages are cut into segments of this size and striped over the connections.
  std::size_t segmentBytes = 256u << 10;
  // Sent but unacknowledged data kept for resending after a connection loss. When full, senders
  // wait (backpressure): this bounds memory, and must exceed bandwidth x RTT for full speed.
  std::size_t retransmitBufferBytes = 64u << 20;
  // Per-channel credit: a channel whose receiver stops reading holds at most this much. It must
  // cover bandwidth x RTT plus what waits in the reorder buffer while a lost packet of one
  // connection is retransmitted (measured: 16 MiB gave 550 Mbit/s at 1 Gbit/s, 50 ms, 1 % loss;
  // 64 MiB gave 725-830).
  std::size_t channelWindowBytes = 64u << 20;
  // Unacknowledged bytes the control channel (0) may use beyond a full retransmit buffer, so a
  // bulk transfer never starves a heartbeat or a fence message.
  std::size_t priorityReserveBytes = 4u << 20;
  // A channel's send queue below this many bytes raises Writable.
  std::size_t channelLowWaterBytes = 1u << 20;
  // Bytes written to one connection per pull; the kernel buffer does the rest.
  std::size_t linkBatchBytes = 512u << 10;
  std::chrono::milliseconds ackDelay = 5ms;
  std::chrono::milliseconds pingInterval = 1000ms;
  // A connection that hears nothing (pings included) for this long is dropped and redialled.
  std::chrono::milliseconds linkTimeout = 10000ms;
  // A session with no connection left whose peer has not been heard for this long fails (the
  // clock starts at the last frame received, not when the last connection was dropped).
  std::chrono::milliseconds deadPeerTimeout = 60000ms;
  // Redial backoff: exponential from min to max, with +-50 % jitter; never more than a quarter
  // of deadPeerTimeout (redialCeiling), so a session tries again several times before it is
  // given up.
  std::chrono::milliseconds reconnectMin = 100ms;
  std::chrono::milliseconds reconnectMax = 5000ms;

  std::chrono::milliseconds redialCeiling() const {
    return std::max(reconnectMin, std::min(reconnectMax, deadPeerTimeout / 4));
  }
  // TCP congestion control to ask for; left as the kernel's default if unavailable.
  std::string congestion = "bbr";
  // TCP_NOTSENT_LOWAT per connection: the kernel holds at most this much unsent data, so the
  // session's scheduler (not a deep socket buffer) decides what goes next, and a control message
  // never waits behind megabytes of bulk already handed to the kernel. 0 = kernel default.
  std::size_t notSentLowWaterBytes = 256u << 10;
  // SO_SNDBUF/SO_RCVBUF per connection; 0 = kernel autotuning (best unless BDP/streams exceeds
  // net.ipv4.tcp_{r,w}mem's maximum).
  std::size_t socketBufferBytes = 0;
  // The link's expected bottleneck rate in bytes/s, if known. With the RTT measured at connect
  // time it sizes buffers for the bandwidth-delay product: the retransmit buffer to at least
  // 2 x BDP, and each connection's socket buffers to 2 x BDP / streams where autotuning's
  // maximum would fall short.
  double rateHintBytesPerSecond = 0;

  // A peer unheard for `timeout` is dead; a connection never waits longer than that either.
  void setDeadPeerTimeout(std::chrono::milliseconds timeout) {
    deadPeerTimeout = timeout;
    linkTimeout = std::min(linkTimeout, timeout);
  }
};

}  // namespace ionet::wan
