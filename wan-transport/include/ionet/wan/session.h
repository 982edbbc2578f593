// WAN sessions: a reliable, ordered, authenticated association between two nodes over N
// parallel TCP (TLS) connections that survives connection loss, carrying many channels with
// their own ordering and credit. See docs/protocol.md for the wire format and rules.
//
// Threading: a session lives on one asio::io_context; call everything on that context's thread
// (post() from elsewhere). Handlers run there too.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "ionet/wan/channel.h"
#include "ionet/wan/credentials.h"
#include "ionet/wan/session_options.h"

namespace ionet::wan {

// Where a session's peer is: "host:port" directly, or "relayhost:port/node" through a relay
// that `node` keeps connections parked at.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string relayTo;  // empty: direct

  static Endpoint parse(const std::string& text);  // throws Error naming the text
  std::string describe() const;
};

// How connections are secured. With a context, every connection is TLS 1.3 with mutual
// authentication (credentials.h); without (insecure), plain TCP: only for tests and benches
// that measure TLS's cost.
struct Security {
  std::shared_ptr<asio::ssl::context> tls;
  std::string nodeName;  // what we call ourselves in hello (the certificate's CN under TLS)

  // TLS 1.3 with these credentials in this role (makeTlsContext), named as they say.
  static Security fromCredentials(const Credentials& credentials, TlsRole role);
};

struct SessionStats {
  std::string peer;                  // authenticated node name of the peer
  std::string address;               // address of the newest connection ("host:port")
  std::chrono::microseconds rtt{0};  // smoothed ping round trip
  int streams = 0;                   // connections wanted
  int linksUp = 0;
  std::uint64_t bytesSent = 0;  // application payload
  std::uint64_t bytesReceived = 0;
  double sendRate = 0;  // application bytes/s over the last second
  double receiveRate = 0;
  std::uint64_t retransmittedBytes = 0;  // sent again after a connection loss
  std::uint64_t duplicateBytes = 0;      // received twice and dropped
  std::uint64_t reconnects = 0;          // connections re-established
  std::uint64_t resumes = 0;             // times the session came back after losing them all
  std::size_t unackedBytes = 0;
};

class Session;

// A channel of a session. Beyond wan::Channel: flow control the application can see.
class SessionChannel : public Channel {
 public:
  // Bytes queued by send() and not yet handed to the connections.
  virtual std::size_t queuedBytes() const = 0;
  // Called when queuedBytes() falls below SessionOptions::channelLowWaterBytes.
  virtual void onWritable(std::function<void()> handler) = 0;
  // Stop/restart delivering messages; while paused the peer's sender is held by credit.
  virtual void pause() = 0;
  virtual void resume() = 0;
  virtual const std::string& name() const = 0;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using ReadyHandler = std::function<void(std::shared_ptr<Session>, const std::string& error)>;
  using ChannelHandler = std::function<void(std::shared_ptr<SessionChannel>)>;

  virtual ~Session() = default;

  // Connects to `endpoint`; `ready` gets the session once the first connection is up (the
  // others follow), or an error (refused, unreachable, TLS failure) after one attempt.
  static void connect(asio::io_context& io, const Endpoint& endpoint, const Security& security,
                      const SessionOptions& options, ReadyHandler ready);

  // Channel 0, open on both sides from the start; messages on it go before all others.
  virtual std::shared_ptr<SessionChannel> control() = 0;
  virtual std::shared_ptr<SessionChannel> openChannel(std::string name) = 0;
  // Channels the peer opens. Without a handler they are closed at once.
  virtual void onChannel(ChannelHandler handler) = 0;
  // The session is over (dead-peer timeout, goodbye from the peer, close()): once.
  virtual void onEnd(std::function<void(const std::string& reason)> handler) = 0;
  virtual SessionStats stats() const = 0;
  virtual const std::string& peerName() const = 0;
  // Sends what is queued (waiting up to `linger` for acknowledgement), says goodbye, closes.
  virtual void close(std::string reason,
                     std::chrono::milliseconds linger = std::chrono::milliseconds(5000)) = 0;
};

// Accepts sessions (and the reconnections of sessions already accepted) on a TCP port, and/or
// through relays where this node parks connections.
class SessionServer {
 public:
  virtual ~SessionServer() = default;
  static std::unique_ptr<SessionServer> listen(asio::io_context& io, const std::string& address,
                                               std::uint16_t port, const Security& security,
                                               const SessionOptions& options);
  // New sessions (not reconnections) are announced here.
  virtual void onSession(std::function<void(std::shared_ptr<Session>)> handler) = 0;
  // Keep `parked` connections waiting at a relay for peers that cannot reach us directly.
  virtual void parkAt(const Endpoint& relay, int parked = 2) = 0;
  virtual std::uint16_t port() const = 0;
  virtual void close() = 0;
};

}  // namespace ionet::wan
