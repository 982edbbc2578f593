// One NCCL connection in the agent: the shared-memory link of a rank's comm (nccl_link.h)
// spliced onto a session channel to the peer host's agent. A send comm's link is pumped from
// its ring into the channel; a receive comm's from the channel into its ring. Backpressure both
// ways: a full ring pauses the channel (the peer's sender waits on credit); a full channel
// queue leaves bytes in the ring (the rank's isend waits). No byte is buffered beyond a bound.
#pragma once

#include <asio.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "ionet/wan/session.h"

namespace ionet::bridge {

struct NcclCounters {
  std::uint64_t bytesOut = 0;
  std::uint64_t bytesIn = 0;
};

class NcclLinkPump : public std::enable_shared_from_this<NcclLinkPump> {
 public:
  enum class Role { kSend, kReceive };

  // Takes socket (the rank's end is its comm) and the mapped link memory; unmaps and closes
  // both when it ends. `ended` runs once, when the link is over.
  NcclLinkPump(asio::io_context& io, Role role, int socket, void* memory,
               std::shared_ptr<NcclCounters> counters, std::string what,
               std::function<void()> ended);
  ~NcclLinkPump();

  // Send side: the channel to the listener's agent, whose first message is its status.
  void startDialer(std::shared_ptr<wan::SessionChannel> channel,
                   std::chrono::milliseconds statusTimeout);
  // Receive side: the peer's channel, accepted; status 0 goes to the peer now. The channel's
  // owner (who started it) passes its messages and its end on to deliver() and channelClosed().
  void startAcceptor(std::shared_ptr<wan::SessionChannel> channel);
  void deliver(std::string message) { onChannelMessage(std::move(message)); }
  void channelClosed(const std::string& reason) { onChannelClosed(reason); }
  // Fails the link before any channel: the rank's connect() sees -error.
  void fail(int error, const std::string& why);
  // The job is over: closes at once.
  void close();

 private:
  void watchSocket();
  void onSocketReadable();
  void onChannelMessage(std::string message);
  void onChannelClosed(const std::string& reason);
  void pump();
  void pumpOut();
  void pumpIn();
  void setState(int state);
  void end();

  asio::io_context& io_;
  Role role_;
  asio::posix::stream_descriptor socket_;
  void* memory_;
  std::shared_ptr<NcclCounters> counters_;
  std::string what_;
  std::function<void()> ended_;
  std::shared_ptr<wan::SessionChannel> channel_;
  std::unique_ptr<asio::steady_timer> statusTimer_;
  std::deque<std::string> in_;  // from the channel, not yet in the ring
  std::size_t inOffset_ = 0;    // of in_.front()
  std::size_t inBytes_ = 0;
  bool awaitingStatus_ = false;
  bool open_ = false;
  bool channelPaused_ = false;
  bool channelWritableArmed_ = false;
  bool peerClosed_ = false;  // the channel ended cleanly: state kPeerClosed once in_ is empty
  bool rankClosed_ = false;  // the rank closed its comm (EOF on the socket)
  bool over_ = false;
};

}  // namespace ionet::bridge
