// One forwarded connection: a rank's TCP socket on this host spliced onto a session channel to
// the peer host's forwarder, with backpressure both ways (a slow reader holds its writer through
// channel credit, never through unbounded buffers here).
#pragma once

#include <asio.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "ionet/wan/session.h"

namespace ionet::bridge {

struct ForwardCounters {
  std::uint64_t bytesOut = 0;  // socket -> channel
  std::uint64_t bytesIn = 0;   // channel -> socket
  std::size_t live = 0;        // streams not yet stopped
  std::function<void()> onStreamStopped;
};

// The 4-byte status a destination forwarder sends first on a forwarding channel: 0 or an errno.
std::string encodeStatus(int error);
bool decodeStatus(const std::string& message, int* error);

class ForwardStream : public std::enable_shared_from_this<ForwardStream> {
 public:
  ForwardStream(asio::ip::tcp::socket socket, std::shared_ptr<wan::SessionChannel> channel,
                std::shared_ptr<ForwardCounters> counters, std::string what);

  // Dialling side: the peer's first channel message is its status. `replyFor(error)` gives the
  // bytes the rank gets first (the shim's reply); on an error the stream ends after writing it.
  void startDialer(std::function<std::string(int error)> replyFor,
                   std::chrono::milliseconds statusTimeout);
  // Accepting side: `preamble` goes to the local rank first, then status 0 to the peer.
  void startAcceptor(std::string preamble);

 private:
  void startPumping();
  void readSocket();
  void onChannelMessage(std::string message);
  void queueToSocket(std::string bytes);
  void writeSocket();
  void onChannelClosed(const std::string& reason);
  void maybeCloseSocket();
  void stop();

  asio::ip::tcp::socket socket_;
  std::shared_ptr<wan::SessionChannel> channel_;
  std::shared_ptr<ForwardCounters> counters_;
  std::string what_;  // "100.64.0.1:5000 -> 100.64.0.2:1024", for logs
  std::unique_ptr<asio::steady_timer> statusTimer_;
  std::function<std::string(int)> replyFor_;
  std::string readBuffer_;  // what the pending read of the rank's socket fills
  std::deque<std::string> out_;
  std::size_t outBytes_ = 0;
  bool awaitingStatus_ = false;
  bool writing_ = false;
  bool readBlocked_ = false;   // waiting for the channel's queue to drain
  bool channelPaused_ = false;
  bool socketEnded_ = false;   // no more bytes from the rank
  bool channelEnded_ = false;  // no more bytes from the peer
  bool closeAfterWrite_ = false;
  bool stopped_ = false;
};

}  // namespace ionet::bridge
