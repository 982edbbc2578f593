// The asio runtime of a session: owns its links and the protocol engine, dials (and redials)
// on the connecting side, takes attached connections on the accepting side, and turns engine
// events into channel callbacks.
#pragma once

#include <map>
#include <random>
#include <set>

#include "ionet/wan/session.h"
#include "src/link.h"
#include "src/session_core.h"

namespace ionet::wan {

class SessionImpl;

// Connections one session may have (the streams a hello may ask for).
inline constexpr int kMaxStreams = 64;

class SessionChannelImpl : public SessionChannel,
                           public std::enable_shared_from_this<SessionChannelImpl> {
 public:
  SessionChannelImpl(std::weak_ptr<SessionImpl> session, std::uint32_t id, std::string name,
                     std::string peer);
  void start(Handlers handlers) override;
  void send(std::string message) override;
  void close() override;
  const std::string& peer() const override { return peer_; }
  std::size_t queuedBytes() const override;
  void onWritable(std::function<void()> handler) override { writable_ = std::move(handler); }
  void pause() override;
  void resume() override;
  const std::string& name() const override { return name_; }

 private:
  friend class SessionImpl;
  void notifyClosed(const std::string& reason);

  std::weak_ptr<SessionImpl> session_;
  std::uint32_t id_;
  std::string name_;
  std::string peer_;
  Handlers handlers_;
  std::function<void()> writable_;
  bool closed_ = false;
};

class SessionImpl : public Session, public LinkOwner {
 public:
  // `dialTo` set: we connect (and reconnect) to it; otherwise connections are attached by the
  // server that accepted them.
  SessionImpl(asio::io_context& io, const SessionId& id, std::optional<Endpoint> dialTo,
              Security security, const SessionOptions& options);
  ~SessionImpl() override;

  // Session
  std::shared_ptr<SessionChannel> control() override;
  std::shared_ptr<SessionChannel> openChannel(std::string name) override;
  void onChannel(ChannelHandler handler) override { channelHandler_ = std::move(handler); }
  void onEnd(std::function<void(const std::string&)> handler) override {
    endHandler_ = std::move(handler);
  }
  SessionStats stats() const override;
  const std::string& peerName() const override { return peerName_; }
  void close(std::string reason, std::chrono::milliseconds linger) override;

  // LinkOwner
  void linkFrame(int link, Frame&& frame) override;
  void linkWritten(int link) override;
  void linkFailed(int link, const std::string& reason) override;

  // Connecting side: dial the first connection; `ready` as in Session::connect.
  void dialFirst(ReadyHandler ready);
  // Accepting side: a connection whose hello named this session. Answers it and adds it.
  // `resumed`: the session existed before this hello (the answer's flag tells the peer).
  void attach(std::shared_ptr<ByteStream> stream, std::shared_ptr<FrameReader> reader,
              const Frame& hello, bool resumed);
  void setPeerName(std::string name) { peerName_ = std::move(name); }
  const SessionId& id() const { return id_; }
  bool ended() const { return ended_; }
  // Called (once) when the session ends, before onEnd: the server forgets it.
  std::function<void()> forget;

 private:
  friend class SessionChannelImpl;
  struct Slot {  // one connection the connecting side keeps up
    int link = -1;
    int attempts = 0;
    bool dialing = false;
    std::unique_ptr<asio::steady_timer> timer;
  };

  // Dialling one connection, step by step (session_dial.cc).
  struct Dial;
  void dial(int slot);
  static void dialConnect(const std::shared_ptr<Dial>& d,
                          const asio::ip::tcp::resolver::results_type& addresses);
  static void dialThroughRelay(const std::shared_ptr<Dial>& d);
  static void dialSecure(const std::shared_ptr<Dial>& d);
  static void dialHello(const std::shared_ptr<Dial>& d, std::shared_ptr<ByteStream> stream);
  static void dialHelloAnswered(const std::shared_ptr<Dial>& d,
                                const std::shared_ptr<ByteStream>& stream,
                                const std::shared_ptr<FrameReader>& reader, const Frame& answer);
  void sizeForBdp(std::chrono::microseconds rtt);
  void finishFirstDial(const std::string& error);
  void dialFailed(int slot, const std::string& error);
  void addLink(int slot, std::shared_ptr<ByteStream> stream, std::shared_ptr<FrameReader> reader,
               std::uint64_t peerReceiveNext);
  void dropLink(int link, const std::string& reason);
  void scheduleFlush();
  void flush();
  void flushLink(Link& link);
  void dispatch();
  void armTimer();
  void onTimer();
  void maybeSayGoodbye();
  void end(const std::string& reason);
  std::shared_ptr<SessionChannelImpl> makeChannel(std::uint32_t id, std::string name);

  asio::io_context& io_;
  SessionId id_;
  std::optional<Endpoint> dialTo_;
  Security security_;
  SessionOptions options_;
  SessionCore core_;
  std::string peerName_;
  std::string lastAddress_;

  std::map<int, std::shared_ptr<Link>> links_;
  std::map<int, int> slotOfLink_;
  std::vector<Slot> slots_;
  std::set<int> slotsSeen_;
  int nextLinkId_ = 0;
  int streams_ = 1;
  std::uint64_t reconnects_ = 0;
  std::mt19937 jitter_;

  std::map<std::uint32_t, std::shared_ptr<SessionChannelImpl>> channels_;
  ChannelHandler channelHandler_;
  std::function<void(const std::string&)> endHandler_;
  ReadyHandler ready_;  // connecting side, until the first connection is up

  asio::steady_timer timer_;
  TimePoint armedFor_ = TimePoint::max();
  bool flushPosted_ = false;
  bool dispatching_ = false;
  bool heldReleased_ = false;  // a peer goodbye released what paused channels held
  bool closing_ = false;
  std::string closeReason_;
  TimePoint closeDeadline_;
  bool goodbyeQueued_ = false;
  int goodbyeLink_ = -1;  // the link whose write carries the goodbye
  bool ended_ = false;

  // rate sampling for stats()
  mutable TimePoint sampleAt_;
  mutable std::uint64_t sampleSent_ = 0, sampleReceived_ = 0;
  mutable double sendRate_ = 0, receiveRate_ = 0;
};

// Streams to use when SessionOptions::streams is 0, from the RTT of the first hello and whether
// the connections run BBR.
int streamsForRtt(std::chrono::microseconds rtt, bool bbr);

}  // namespace ionet::wan
