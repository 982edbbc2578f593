// The forwarder: the shim's requests on loopback, sessions to the job's other hosts, and
// forwarding channels in both directions. Channel names carry the job and both virtual ends:
// "fwd JOBID SRCADDR SRCPORT DSTADDR DSTPORT" (addresses as 32-bit numbers). A channel named
// "ctl" is the launcher's control tree, handed to its handler.
#include "ionet/bridge/forwarder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "forward_stream.h"
#include "ionet/bridge/shim_protocol.h"
#include "ionet/error.h"
#include "ionet/log.h"

namespace ionet::bridge {
namespace {

using asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kRequestTimeout = 10s;  // a rank's shim writes its request at once
constexpr auto kStatusTimeout = 30s;   // session set-up plus the remote connect
constexpr auto kLocalConnectTimeout = 10s;
constexpr int kDialAttempts = 5;  // with kRedialDelay x 1, 2, 3, 4 between them: ~2 s
constexpr auto kRedialDelay = 200ms;

void putU32(char* p, std::uint32_t v) {
  v = htonl(v);
  std::memcpy(p, &v, 4);
}
void putU16(char* p, std::uint16_t v) {
  v = htons(v);
  std::memcpy(p, &v, 2);
}
std::uint32_t getU32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return ntohl(v);
}
std::uint16_t getU16(const char* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return ntohs(v);
}

std::string shimReply(int error) {
  std::string r(sizeof(IonetForwardReply), '\0');
  std::memcpy(r.data(), "IOR1", 4);
  putU32(r.data() + 4, static_cast<std::uint32_t>(error));
  return r;
}

std::string acceptPreamble(std::uint32_t srcAddr, std::uint16_t srcPort, std::uint32_t dstAddr,
                           std::uint16_t dstPort) {
  std::string p(sizeof(IonetAcceptPreamble), '\0');
  std::memcpy(p.data(), "IOA1", 4);
  putU32(p.data() + offsetof(IonetAcceptPreamble, srcAddr), srcAddr);
  putU16(p.data() + offsetof(IonetAcceptPreamble, srcPort), srcPort);
  putU16(p.data() + offsetof(IonetAcceptPreamble, dstPort), dstPort);
  putU32(p.data() + offsetof(IonetAcceptPreamble, dstAddr), dstAddr);
  return p;
}

struct ChannelAddress {
  std::string jobId;
  std::uint32_t srcAddr = 0, dstAddr = 0;
  std::uint16_t srcPort = 0, dstPort = 0;

  std::string name() const {
    return "fwd " + jobId + " " + std::to_string(srcAddr) + " " + std::to_string(srcPort) + " " +
           std::to_string(dstAddr) + " " + std::to_string(dstPort);
  }
  std::string describe() const {
    return formatIpv4(srcAddr) + ":" + std::to_string(srcPort) + " -> " + formatIpv4(dstAddr) +
           ":" + std::to_string(dstPort);
  }
  static bool parse(const std::string& name, ChannelAddress* out) {
    std::istringstream in(name);
    std::string verb;
    std::uint64_t sa, sp, da, dp;
    if (!(in >> verb >> out->jobId >> sa >> sp >> da >> dp) || verb != "fwd") return false;
    if (sa > UINT32_MAX || da > UINT32_MAX || sp > 65535 || dp == 0 || dp > 65535) return false;
    out->srcAddr = static_cast<std::uint32_t>(sa);
    out->srcPort = static_cast<std::uint16_t>(sp);
    out->dstAddr = static_cast<std::uint32_t>(da);
    out->dstPort = static_cast<std::uint16_t>(dp);
    return in.peek() == EOF;
  }
};

}  // namespace

std::uint32_t virtualAddressOfHost(std::size_t index) {
  IONET_ENFORCE(index < (1u << 22) - 2, "too many hosts for the virtual network");
  return 0x64400000u + static_cast<std::uint32_t>(index) + 1;  // 100.64.0.0/10
}

std::string formatIpv4(std::uint32_t hostOrder) {
  in_addr a{htonl(hostOrder)};
  char text[INET_ADDRSTRLEN];
  return ::inet_ntop(AF_INET, &a, text, sizeof(text)) ? text : "?";
}

struct Forwarder::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, ForwarderOptions o)
      : io(io),
        options(std::move(o)),
        shimAcceptor(io),
        counters(std::make_shared<ForwardCounters>()) {}

  using SessionWaiter = std::function<void(std::shared_ptr<wan::Session>, const std::string&)>;
  struct Peer {
    std::shared_ptr<wan::Session> session;  // the one we dialled: our outgoing channels use it
    bool dialing = false;
    int failedDials = 0;  // in a row: a first dial cut by a reset is retried a few times
    std::vector<SessionWaiter> waiters;
  };

  asio::io_context& io;
  ForwarderOptions options;
  tcp::acceptor shimAcceptor;
  std::unique_ptr<wan::SessionServer> server;
  std::set<std::shared_ptr<wan::Session>> accepted;
  std::map<std::size_t, Peer> peers;
  std::vector<DataHost> hosts;
  std::size_t self = SIZE_MAX;
  std::string jobId;
  std::shared_ptr<ForwardCounters> counters;
  // Agents' own channels over the data path's sessions ("ctl": the control tree, "ckpt":
  // checkpoint replicas), by name.
  std::map<std::string, std::function<void(std::shared_ptr<wan::SessionChannel>)>> agentChannels;
  std::uint64_t connectionsOut = 0, connectionsIn = 0, failedConnects = 0;
  bool closed = false;
  // drain(): streams first, then the sessions' lingering close, then drained().
  std::function<void()> drained;
  std::unique_ptr<asio::steady_timer> drainTimer;
  bool sessionsClosing = false;

  void start() {
    shimAcceptor.open(tcp::v4());
    shimAcceptor.set_option(tcp::acceptor::reuse_address(true));
    shimAcceptor.bind({asio::ip::make_address_v4("127.0.0.1"), 0});
    shimAcceptor.listen();
    acceptShim();
    server = wan::SessionServer::listen(io, options.listenAddress, 0, options.serverSecurity,
                                        options.session);
    if (options.parkAt) server->parkAt(*options.parkAt);
    std::weak_ptr<Impl> weak = shared_from_this();
    server->onSession([weak](std::shared_ptr<wan::Session> session) {
      auto self = weak.lock();
      if (!self || self->closed) return session->close("forwarder closed", 0ms);
      self->adopt(session);
      self->accepted.insert(session);
      session->onEnd([weak, session](const std::string&) {
        if (auto self = weak.lock()) {
          self->accepted.erase(session);
          self->maybeDrained();
        }
      });
    });
  }

  // Channels a peer opens on any session between us are connections to our ranks.
  void adopt(const std::shared_ptr<wan::Session>& session) {
    std::weak_ptr<Impl> weak = shared_from_this();
    session->onChannel([weak](std::shared_ptr<wan::SessionChannel> channel) {
      if (auto self = weak.lock()) self->onIncomingChannel(std::move(channel));
    });
  }

  // --- from local ranks (via the shim) ------------------------------------------------------
  void acceptShim() {
    auto self = shared_from_this();
    shimAcceptor.async_accept([self](const asio::error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || self->closed) return;
      if (!ec) self->readRequest(std::make_shared<tcp::socket>(std::move(socket)));
      self->acceptShim();
    });
  }

  void readRequest(std::shared_ptr<tcp::socket> socket) {
    auto self = shared_from_this();
    auto request = std::make_shared<std::array<char, sizeof(IonetForwardRequest)>>();
    auto timer = std::make_shared<asio::steady_timer>(io, kRequestTimeout);
    timer->async_wait([socket](const asio::error_code& ec) {
      if (!ec) socket->close();
    });
    asio::async_read(*socket, asio::buffer(*request),
                     [self, socket, request, timer](const asio::error_code& ec, std::size_t) {
                       timer->cancel();
                       if (ec) return;  // the rank gave up; nothing to answer
                       self->onRequest(socket, *request);
                     });
  }

  // A refusal for the rank's connect(); the socket closes once it is written.
  static void answerShim(const std::shared_ptr<tcp::socket>& socket, int error) {
    auto reply = std::make_shared<std::string>(shimReply(error));
    asio::async_write(*socket, asio::buffer(*reply),
                      [socket, reply](const asio::error_code&, std::size_t) { socket->close(); });
  }

  void onRequest(const std::shared_ptr<tcp::socket>& socket,
                 const std::array<char, sizeof(IonetForwardRequest)>& request) {
    auto refuse = [&](int error, const std::string& why) {
      ++failedConnects;
      log::warn("forwarder: refusing a rank's connection: ", why);
      answerShim(socket, error);
    };
    if (std::memcmp(request.data(), "IOF1", 4) != 0) {
      log::warn("forwarder: a local connection without the shim's request; closing it");
      return socket->close();
    }
    ChannelAddress a;
    a.jobId = jobId;
    a.dstAddr = getU32(request.data() + offsetof(IonetForwardRequest, dstAddr));
    a.dstPort = getU16(request.data() + offsetof(IonetForwardRequest, dstPort));
    a.srcPort = getU16(request.data() + offsetof(IonetForwardRequest, srcPort));
    if (self == SIZE_MAX) return refuse(EHOSTUNREACH, "the job's hosts are not known yet");
    a.srcAddr = hosts[self].vaddr;
    std::size_t target = SIZE_MAX;
    for (std::size_t h = 0; h < hosts.size(); ++h) {
      if (hosts[h].vaddr == a.dstAddr) target = h;
    }
    if (target == SIZE_MAX) {
      return refuse(EHOSTUNREACH, formatIpv4(a.dstAddr) + " is no host of this job");
    }
    auto impl = shared_from_this();
    withSession(target, [impl, socket, a](std::shared_ptr<wan::Session> session,
                                          const std::string& error) mutable {
      if (!session) {
        ++impl->failedConnects;
        log::warn("forwarder: ", a.describe(), ": no session to its host: ", error);
        impl->answerShim(socket, EHOSTUNREACH);
        return;
      }
      ++impl->connectionsOut;
      auto stream = std::make_shared<ForwardStream>(
          std::move(*socket), session->openChannel(a.name()), impl->counters, a.describe());
      stream->startDialer(
          [impl](int error) {
            if (error != 0) ++impl->failedConnects;
            return shimReply(error);
          },
          kStatusTimeout);
    });
  }

  // Our own session to `host` (ourselves included: a rank dialling its own host's virtual
  // address), dialled on first use and again after it ended.
  void withSession(std::size_t host, SessionWaiter waiter) {
    auto& peer = peers[host];
    if (peer.session) return waiter(peer.session, "");
    peer.waiters.push_back(std::move(waiter));
    if (peer.dialing) return;
    peer.dialing = true;
    dial(host);
  }

  void dial(std::size_t host) {
    wan::Endpoint endpoint;
    try {
      endpoint = host == self ? wan::Endpoint{"127.0.0.1", server->port(), ""}
                              : wan::Endpoint::parse(hosts[host].endpoint);
    } catch (const std::exception& e) {
      return sessionReady(host, nullptr, e.what());
    }
    std::weak_ptr<Impl> weak = shared_from_this();
    wan::Session::connect(io, endpoint, options.clientSecurity, options.session,
                          [weak, host](std::shared_ptr<wan::Session> s, const std::string& error) {
                            if (auto self = weak.lock()) self->sessionReady(host, s, error);
                          });
  }

  void sessionReady(std::size_t host, std::shared_ptr<wan::Session> session,
                    const std::string& error) {
    auto& peer = peers[host];
    if (!session && !closed && ++peer.failedDials < kDialAttempts) {
      // A connection reset during set-up fails one attempt; the ranks wait in connect().
      auto timer = std::make_shared<asio::steady_timer>(io, kRedialDelay * peer.failedDials);
      std::weak_ptr<Impl> weak = shared_from_this();
      timer->async_wait([weak, timer, host](const asio::error_code&) {
        if (auto self = weak.lock()) self->dial(host);
      });
      return;
    }
    peer.failedDials = 0;
    peer.dialing = false;
    if (session && closed) {
      session->close("forwarder closed", 0ms);
      session = nullptr;
    }
    if (session) {
      peer.session = session;
      adopt(session);
      std::weak_ptr<Impl> weak = shared_from_this();
      std::weak_ptr<wan::Session> weakSession = session;
      session->onEnd([weak, weakSession, host](const std::string& reason) {
        auto self = weak.lock();
        if (!self) return;
        auto& p = self->peers[host];
        if (p.session == weakSession.lock()) p.session.reset();
        if (!self->closed) {
          log::info("forwarder: session to host ", self->hosts[host].name, " ended: ", reason);
        }
        self->maybeDrained();
      });
    }
    auto waiters = std::move(peer.waiters);
    peer.waiters.clear();
    for (auto& w : waiters) w(session, error);
  }

  // --- to local ranks ------------------------------------------------------------------------
  void onIncomingChannel(std::shared_ptr<wan::SessionChannel> channel) {
    if (auto h = agentChannels.find(channel->name()); h != agentChannels.end()) {
      return h->second(std::move(channel));
    }
    ChannelAddress a;
    if (!ChannelAddress::parse(channel->name(), &a)) {
      log::warn("forwarder: refusing channel '", channel->name(), "' from ", channel->peer(),
                ": nothing on this host takes it");
      return channel->close();
    }
    auto answer = [channel](int error) {
      channel->start({});
      channel->send(encodeStatus(error));
      channel->close();
    };
    if (a.jobId != jobId) {
      log::warn("forwarder: refusing a connection of job ", a.jobId, " from ", channel->peer());
      return answer(ECONNREFUSED);
    }
    if (self == SIZE_MAX || a.dstAddr != hosts[self].vaddr) {
      log::warn("forwarder: ", a.describe(), " from ", channel->peer(), " is not for this host");
      return answer(EHOSTUNREACH);
    }
    auto impl = shared_from_this();
    auto socket = std::make_shared<tcp::socket>(io);
    auto timer = std::make_shared<asio::steady_timer>(io, kLocalConnectTimeout);
    asio::error_code ec;
    socket->open(tcp::v4(), ec);
    if (!ec) socket->bind({asio::ip::make_address_v4(IONET_FORWARDER_SOURCE), 0}, ec);
    if (ec) {
      log::warn("forwarder: cannot prepare a local connection: ", ec.message());
      return answer(EAGAIN);
    }
    timer->async_wait([socket](const asio::error_code& ec) {
      if (!ec) socket->close();
    });
    socket->async_connect(
        {asio::ip::make_address_v4("127.0.0.1"), a.dstPort},
        [impl, socket, timer, channel, a, answer](const asio::error_code& ec) {
          timer->cancel();
          if (ec) {
            ++impl->failedConnects;
            const int error = ec == asio::error::operation_aborted ? ETIMEDOUT : ec.value();
            log::debug("forwarder: ", a.describe(), ": ", ec.message());
            return answer(error);
          }
          ++impl->connectionsIn;
          auto stream = std::make_shared<ForwardStream>(std::move(*socket), channel, impl->counters,
                                                        a.describe());
          stream->startAcceptor(acceptPreamble(a.srcAddr, a.srcPort, a.dstAddr, a.dstPort));
        });
  }

  ForwarderStats stats() const;

  void stopAccepting() {
    asio::error_code ignored;
    shimAcceptor.close(ignored);
    if (server) server->close();
  }

  void closeSessions(std::chrono::milliseconds linger) {
    std::vector<std::shared_ptr<wan::Session>> sessions(accepted.begin(), accepted.end());
    for (auto& [host, peer] : peers) {
      if (peer.session) sessions.push_back(peer.session);
    }
    for (auto& s : sessions) s->close("job over", linger);
  }

  void drain(std::chrono::milliseconds limit, std::function<void()> done) {
    if (closed || drained) return done();
    drained = std::move(done);
    stopAccepting();
    drainTimer = std::make_unique<asio::steady_timer>(io, limit);
    std::weak_ptr<Impl> weak = shared_from_this();
    drainTimer->async_wait([weak](const asio::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || !self->drained) return;
      log::warn("forwarder: connections not drained in time; closing them");
      self->finishDrain();
    });
    counters->onStreamStopped = [weak] {
      if (auto self = weak.lock()) self->maybeDrained();
    };
    maybeDrained();
  }

  // Streams stopped: their last bytes are queued in sessions. Close those with a linger so the
  // peers acknowledge them; when the last session has ended, the drain is over.
  void maybeDrained() {
    if (!drained || closed || counters->live > 0) return;
    if (!sessionsClosing) {
      sessionsClosing = true;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          drainTimer->expiry() - asio::steady_timer::clock_type::now());
      closeSessions(std::max(left, 0ms));
    }
    const bool anyOpen = !accepted.empty() || std::any_of(peers.begin(), peers.end(), [](auto& p) {
      return p.second.session != nullptr;
    });
    if (!anyOpen) finishDrain();
  }

  void finishDrain() {
    auto done = std::move(drained);
    drained = nullptr;
    close();
    if (drainTimer) drainTimer->cancel();
    if (done) done();
  }

  void close() {
    if (closed) return;
    closed = true;
    counters->onStreamStopped = nullptr;
    stopAccepting();
    closeSessions(0ms);
    accepted.clear();
  }
};

Forwarder::Forwarder(asio::io_context& io, ForwarderOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {
  impl_->start();
}

Forwarder::~Forwarder() { impl_->close(); }

std::uint16_t Forwarder::shimPort() const { return impl_->shimAcceptor.local_endpoint().port(); }
std::uint16_t Forwarder::dataPort() const { return impl_->server->port(); }

void Forwarder::setHosts(std::vector<DataHost> hosts, std::size_t self, std::string jobId) {
  IONET_ENFORCE(self < hosts.size(), "forwarder: own host index out of range");
  impl_->jobId = std::move(jobId);
  impl_->hosts = std::move(hosts);
  impl_->self = self;
}

void Forwarder::openChannel(std::size_t host, const std::string& name, ChannelOpened done) {
  IONET_ENFORCE(host < impl_->hosts.size(), "forwarder: '", name, "' channel to unknown host ",
                host);
  impl_->withSession(host, [name, done = std::move(done)](std::shared_ptr<wan::Session> session,
                                                          const std::string& error) {
    if (!session) return done(nullptr, error);
    done(session->openChannel(name), "");
  });
}

void Forwarder::onChannel(const std::string& name,
                          std::function<void(std::shared_ptr<wan::SessionChannel>)> handler) {
  impl_->agentChannels[name] = std::move(handler);
}

void Forwarder::withPeers(std::function<void(const ForwarderStats&)> done) {
  auto left = std::make_shared<std::size_t>(1);  // held until every dial has been started
  std::weak_ptr<Impl> weak = impl_;
  auto oneDone = [weak, left, done](std::shared_ptr<wan::Session>, const std::string&) {
    if (--*left > 0) return;
    if (auto impl = weak.lock()) done(impl->stats());
  };
  for (std::size_t h = 0; h < impl_->hosts.size(); ++h) {
    if (h == impl_->self) continue;
    ++*left;
    impl_->withSession(h, oneDone);
  }
  oneDone(nullptr, "");
}

ForwarderStats Forwarder::Impl::stats() const {
  ForwarderStats s;
  s.connectionsOut = connectionsOut;
  s.connectionsIn = connectionsIn;
  s.failedConnects = failedConnects;
  s.bytesOut = counters->bytesOut;
  s.bytesIn = counters->bytesIn;
  // A host pair may have two sessions, one dialled each way: one entry per peer host.
  auto add = [&s](const std::string& host, const wan::SessionStats& stats) {
    for (auto& p : s.peers) {
      if (p.host != host) continue;
      p.session.rtt = std::max(p.session.rtt, stats.rtt);
      p.session.streams += stats.streams;
      p.session.linksUp += stats.linksUp;
      p.session.bytesSent += stats.bytesSent;
      p.session.bytesReceived += stats.bytesReceived;
      p.session.sendRate += stats.sendRate;
      p.session.receiveRate += stats.receiveRate;
      p.session.retransmittedBytes += stats.retransmittedBytes;
      p.session.duplicateBytes += stats.duplicateBytes;
      p.session.reconnects += stats.reconnects;
      p.session.resumes += stats.resumes;
      p.session.unackedBytes += stats.unackedBytes;
      return;
    }
    s.peers.push_back({host, stats});
  };
  for (const auto& [host, peer] : peers) {
    if (peer.session && host != self) add(hosts[host].name, peer.session->stats());
  }
  for (const auto& session : accepted) {
    const std::string& name = session->peerName();
    if (self < hosts.size() && name == hosts[self].name) continue;
    add(name, session->stats());
  }
  return s;
}

ForwarderStats Forwarder::stats() const { return impl_->stats(); }

void Forwarder::drain(std::chrono::milliseconds limit, std::function<void()> done) {
  impl_->drain(limit, std::move(done));
}

void Forwarder::close() { impl_->close(); }

}  // namespace ionet::bridge
