// The channel interface: a reliable, ordered, message-oriented link to one peer.
// Launcher<->agent control traffic is written against this interface only, so the WAN session
// transport can carry it later without touching the launcher or the agent. Backends live in
// sibling directories with the same file names (tcp/channel.h, ...), as in Gloo's transports.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace ionet::wan {

// Largest message a channel accepts; a frame announcing more is treated as hostile.
inline constexpr std::size_t kMaxMessageBytes = 256u << 20;

class Channel {
 public:
  struct Handlers {
    std::function<void(std::string message)> onMessage;
    // Called exactly once, when the channel is closed by the peer, by an error or by close().
    std::function<void(const std::string& reason)> onClose;
  };

  virtual ~Channel() = default;

  // Starts delivering messages. All handlers run on the channel's executor (its io_context).
  virtual void start(Handlers handlers) = 0;

  // Queues a message; never blocks. Must be called on the channel's executor.
  virtual void send(std::string message) = 0;

  // Sends what is queued, then closes. onClose runs with reason "closed locally".
  virtual void close() = 0;

  // The peer as "host:port", for error messages.
  virtual const std::string& peer() const = 0;
};

// Accepts channels from peers.
class Listener {
 public:
  virtual ~Listener() = default;
  virtual std::uint16_t port() const = 0;
  virtual void accept(std::function<void(std::shared_ptr<Channel>)> onChannel) = 0;
  virtual void close() = 0;
};

}  // namespace ionet::wan
