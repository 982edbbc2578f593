// The accepting side: TCP (and relay-parked) connections -> TLS -> hello -> a new session or a
// connection added to (resuming) an existing one. Refusals are logged with the peer's address.
#include <map>

#include "ionet/error.h"
#include "ionet/log.h"
#include "src/relay.h"
#include "src/session_impl.h"

namespace ionet::wan {
namespace {

using asio::ip::tcp;

constexpr auto kHandshakeTimeout = std::chrono::milliseconds(10000);
constexpr int kMaxSessionsPerPeer = 64;  // an authenticated node cannot flood us with sessions
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(asio::io_context& io, Security security, const SessionOptions& options)
      : io_(io), acceptor_(io), security_(std::move(security)), options_(options) {}

  void listen(const std::string& address, std::uint16_t port) {
    tcp::endpoint ep(asio::ip::make_address(address), port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    asio::error_code ec;
    acceptor_.bind(ep, ec);
    if (ec) {
      throw Error("cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message());
    }
    acceptor_.listen();
    acceptNext();
  }

  void parkAt(const Endpoint& relay, int count) {
    for (int i = 0; i < count; ++i) park(relay, 0);
  }

  std::uint16_t port() const {
    asio::error_code ec;
    auto ep = acceptor_.local_endpoint(ec);
    return ec ? 0 : ep.port();
  }

  void close() {
    closed_ = true;
    asio::error_code ec;
    acceptor_.close(ec);
    for (auto& [id, session] : sessions_) session->forget = nullptr;
    sessions_.clear();
  }

  std::function<void(std::shared_ptr<Session>)> onSession;

 private:
  void acceptNext() {
    auto self = shared_from_this();
    acceptor_.async_accept([self](const asio::error_code& ec, tcp::socket socket) {
      if (self->closed_) return;
      if (!ec) {
        self->handshake(std::move(socket));
        return self->acceptNext();
      }
      // Out of descriptors (EMFILE) and the like: accepting again at once would spin.
      log::warn("accepting connections: ", ec.message(), "; pausing ", kAcceptBackoff.count(),
                " ms");
      auto timer = std::make_shared<asio::steady_timer>(self->io_, kAcceptBackoff);
      timer->async_wait([self, timer](const asio::error_code&) {
        if (!self->closed_) self->acceptNext();
      });
    });
  }

  // Keeps one connection parked at `relay`; when a dialler takes it, park another.
  void park(const Endpoint& relay, int attempt) {
    if (closed_) return;
    auto self = shared_from_this();
    auto socket = std::make_shared<tcp::socket>(io_);
    auto resolver = std::make_shared<tcp::resolver>(io_);
    auto retry = [self, relay, attempt](const std::string& error) {
      if (self->closed_) return;
      // The same backoff as a redial: diallers give a session up after the dead-peer
      // timeout, so be back in the relay well before that.
      const auto delay = std::min(self->options_.reconnectMin * (1 << std::min(attempt, 10)),
                                  self->options_.redialCeiling());
      log::warn("parking at relay ", relay.host, ":", relay.port, ": ", error, "; retrying in ",
                delay.count(), " ms");
      auto timer = std::make_shared<asio::steady_timer>(self->io_, delay);
      timer->async_wait([self, relay, attempt, timer](const asio::error_code&) {
        self->park(relay, attempt + 1);
      });
    };
    resolver->async_resolve(
        relay.host, std::to_string(relay.port),
        [self, socket, resolver, relay, retry](const asio::error_code& ec,
                                               tcp::resolver::results_type results) {
          if (ec) return retry(ec.message());
          asio::async_connect(
              *socket, results,
              [self, socket, relay, retry](const asio::error_code& ec, const tcp::endpoint&) {
                if (ec) return retry(ec.message());
                asio::error_code ignored;
                socket->set_option(asio::socket_base::keep_alive(true), ignored);
                relayPark(socket, relay.relayTo, [self, socket, relay, retry](std::string error) {
                  if (!error.empty()) return retry(error);
                  self->park(relay, 0);  // replace the connection just taken
                  self->handshake(std::move(*socket));
                });
              });
        });
  }

  void handshake(tcp::socket socket) {
    tuneSocket(socket, options_);
    auto self = shared_from_this();
    if (!security_.tls) return hello(plainStream(std::move(socket)));
    secureStream(std::move(socket), *security_.tls, false, kHandshakeTimeout,
                 [self](std::shared_ptr<ByteStream> stream, std::string error) {
                   if (!stream) {
                     log::warn("refused connection: ", error);
                     return;
                   }
                   self->hello(stream);
                 });
  }

  void refuse(std::shared_ptr<ByteStream> stream, const std::string& why) {
    log::warn("refused connection from ", stream->remote, ": ", why);
    Frame refusal;
    refusal.type = FrameType::refuse;
    refusal.payload = why.substr(0, kMaxReasonBytes);
    writeOneFrame(stream, refusal, [stream](std::string) { stream->close(); });
  }

  void hello(std::shared_ptr<ByteStream> stream) {
    auto self = shared_from_this();
    auto reader = std::make_shared<FrameReader>();
    readOneFrame(stream, reader, kHandshakeTimeout,
                 [self, stream, reader](std::optional<Frame> frame, std::string error) {
                   if (self->closed_) return stream->close();
                   if (!frame) {
                     log::warn("refused connection from ", stream->remote, ": ", error);
                     return stream->close();
                   }
                   if (frame->type != FrameType::hello) {
                     return self->refuse(
                         stream, std::string("expected hello, got ") + frameTypeName(frame->type));
                   }
                   self->admit(stream, reader, *frame);
                 });
  }

  void admit(std::shared_ptr<ByteStream> stream, std::shared_ptr<FrameReader> reader,
             const Frame& hello) {
    // Under TLS the certificate names the peer; without, only what it says of itself.
    std::string name = stream->authenticatedName();
    if (name.empty()) name = hello.payload.empty() ? stream->remote : hello.payload;
    if (hello.link >= kMaxStreams) {
      return refuse(stream, "link index " + std::to_string(hello.link) + " beyond the " +
                                std::to_string(kMaxStreams) + " a session may have");
    }
    auto it = sessions_.find(hello.session);
    if (it != sessions_.end() && !it->second->ended()) {
      if (it->second->peerName() != name) {
        return refuse(stream,
                      "session belongs to '" + it->second->peerName() + "', not '" + name + "'");
      }
      return it->second->attach(stream, reader, hello, true);
    }
    if (hello.ack != 0 || hello.link != 0) {
      return refuse(stream, "unknown session (this node restarted or the session timed out)");
    }
    int fromPeer = 0;
    for (const auto& [id, other] : sessions_) fromPeer += other->peerName() == name;
    if (fromPeer >= kMaxSessionsPerPeer) {
      return refuse(stream,
                    "'" + name + "' already has " + std::to_string(fromPeer) + " sessions here");
    }
    auto session =
        std::make_shared<SessionImpl>(io_, hello.session, std::nullopt, security_, options_);
    session->setPeerName(name);
    std::weak_ptr<ServerCore> weak = shared_from_this();
    const SessionId id = hello.session;
    session->forget = [weak, id] {
      if (auto self = weak.lock()) self->sessions_.erase(id);
    };
    sessions_[id] = session;
    log::info("session from ", name, " (", stream->remote, ") accepted");
    session->attach(stream, reader, hello, false);
    if (onSession) {
      onSession(session);
    } else {
      session->close("no one accepts sessions here", std::chrono::milliseconds(0));
    }
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  Security security_;
  SessionOptions options_;
  std::map<SessionId, std::shared_ptr<SessionImpl>> sessions_;
  bool closed_ = false;
};

class ServerHandle : public SessionServer {
 public:
  explicit ServerHandle(std::shared_ptr<ServerCore> core) : core_(std::move(core)) {}
  ~ServerHandle() override { core_->close(); }
  void onSession(std::function<void(std::shared_ptr<Session>)> handler) override {
    core_->onSession = std::move(handler);
  }
  void parkAt(const Endpoint& relay, int parked) override { core_->parkAt(relay, parked); }
  std::uint16_t port() const override { return core_->port(); }
  void close() override { core_->close(); }

 private:
  std::shared_ptr<ServerCore> core_;
};

}  // namespace

std::unique_ptr<SessionServer> SessionServer::listen(asio::io_context& io,
                                                     const std::string& address, std::uint16_t port,
                                                     const Security& security,
                                                     const SessionOptions& options) {
  auto core = std::make_shared<ServerCore>(io, security, options);
  if (!address.empty()) core->listen(address, port);
  return std::make_unique<ServerHandle>(core);
}

}  // namespace ionet::wan
