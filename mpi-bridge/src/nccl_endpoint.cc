// The agent's end of libnccl-net-ionet.so (see nccl_endpoint.h and nccl_link.h). A channel
// "nccl" begins with the dialling agent's "ncclopen JOBID KEY SRCVADDR"; the listener's agent
// answers a 4-byte status (forward_stream.h's encodeStatus), then the message bytes follow.
#include "ionet/bridge/nccl_endpoint.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "forward_stream.h"
#include "ionet/bridge/nccl_link.h"
#include "ionet/bridge/nccl_socket.h"
#include "ionet/error.h"
#include "ionet/log.h"
#include "nccl_link_pump.h"

namespace ionet::bridge {
namespace {

using namespace std::chrono_literals;
using nccl::ControlMessage;
using nccl::Op;

constexpr auto kStatusTimeout = 30s;  // session set-up and the peer's agent's answer
constexpr auto kRttWait = 1500ms;     // for a first ping of fresh sessions (pings: 1 s)
// What the link's speed is reported as: not measured (a probe at NCCL's init would see TCP's
// slow start, not the link).
constexpr std::uint64_t kSpeedMbps = 10000;

std::string openMessage(const std::string& jobId, std::uint64_t key, std::uint32_t srcAddr) {
  return "ncclopen " + jobId + " " + std::to_string(key) + " " + std::to_string(srcAddr);
}

bool parseOpen(const std::string& message, std::string* jobId, std::uint64_t* key,
               std::uint32_t* srcAddr) {
  std::istringstream in(message);
  std::string verb;
  std::uint64_t src = 0;
  if (!(in >> verb >> *jobId >> *key >> src) || verb != "ncclopen" || src > UINT32_MAX) {
    return false;
  }
  *srcAddr = static_cast<std::uint32_t>(src);
  return in.peek() == EOF;
}

// A descriptor the endpoint owns until something takes it (release) or it goes out of scope.
struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  Fd(Fd&& other) noexcept : fd(other.release()) {}
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

}  // namespace

struct NcclEndpoint::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, Forwarder& forwarder)
      : io(io), forwarder(forwarder), acceptor(io), counters(std::make_shared<NcclCounters>()) {}

  // A rank's listener: its socket, where incoming links are announced.
  struct Listener {
    std::shared_ptr<asio::posix::stream_descriptor> socket;
  };

  asio::io_context& io;
  Forwarder& forwarder;
  asio::posix::stream_descriptor acceptor;
  std::string address;
  std::string jobId;
  std::vector<std::uint32_t> hosts;
  std::size_t self = SIZE_MAX;
  std::map<std::uint64_t, Listener> listeners;
  std::set<std::shared_ptr<NcclLinkPump>> links;
  std::set<std::shared_ptr<asio::posix::stream_descriptor>> clients;  // first message pending
  std::shared_ptr<NcclCounters> counters;
  std::uint64_t linksMade = 0, refused = 0;

  void start() {
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    IONET_ENFORCE(fd >= 0, "nccl endpoint: socket: ", std::strerror(errno));
    acceptor.assign(fd);
    std::uint64_t nonce = 0;
    for (int attempt = 0;; ++attempt) {
      nonce =
          nonce * 6364136223846793005ull + static_cast<std::uint64_t>(::getpid()) +
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
      address = "@ionet-nccl-" + std::to_string(::getpid()) + "-" + std::to_string(nonce % 1000000);
      sockaddr_un a;
      const socklen_t length = nccl::unixAddress(address, &a);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&a), length) == 0) break;
      IONET_ENFORCE(errno == EADDRINUSE && attempt < 8, "nccl endpoint: bind ", address, ": ",
                    std::strerror(errno));
    }
    IONET_ENFORCE(::listen(fd, 64) == 0, "nccl endpoint: listen: ", std::strerror(errno));
    acceptNext();
    std::weak_ptr<Impl> weak = shared_from_this();
    forwarder.onChannel(kNcclChannel, [weak](std::shared_ptr<wan::SessionChannel> channel) {
      if (auto self = weak.lock()) self->onIncomingChannel(std::move(channel));
    });
  }

  // --- the ranks' plugins ----------------------------------------------------------------------
  void acceptNext() {
    auto self = shared_from_this();
    acceptor.async_wait(asio::posix::stream_descriptor::wait_read,
                        [self](const asio::error_code& ec) {
                          if (ec) return;
                          for (;;) {
                            const int fd = ::accept4(self->acceptor.native_handle(), nullptr,
                                                     nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
                            if (fd < 0) break;
                            self->readFirst(fd);
                          }
                          self->acceptNext();
                        });
  }

  void readFirst(int fd) {
    auto socket = std::make_shared<asio::posix::stream_descriptor>(io, fd);
    clients.insert(socket);
    auto self = shared_from_this();
    socket->async_wait(
        asio::posix::stream_descriptor::wait_read, [self, socket](const asio::error_code& ec) {
          self->clients.erase(socket);
          if (ec) return;
          ControlMessage m{};
          int fds[nccl::kMaxPassedFds];
          const int r =
              nccl::receiveControl(socket->native_handle(), &m, fds, nccl::kMaxPassedFds, true);
          Fd memory(fds[0]), extra(fds[1]);
          if (r != 1) {
            if (r == -2) log::warn("nccl endpoint: a broken message from a rank");
            return;  // the socket closes with the last reference
          }
          self->onFirstMessage(socket, m, std::move(memory));
        });
  }

  void onFirstMessage(const std::shared_ptr<asio::posix::stream_descriptor>& socket,
                      const ControlMessage& m, Fd memory) {
    switch (m.op) {
      case Op::kListen:
        return addListener(socket, m.key);
      case Op::kConnect:
        return connectLink(socket, m, std::move(memory));
      case Op::kProps:
        return answerProps(socket);
      default:
        log::warn("nccl endpoint: unexpected first message ", static_cast<unsigned>(m.op),
                  " from a rank");
    }
  }

  void addListener(const std::shared_ptr<asio::posix::stream_descriptor>& socket,
                   std::uint64_t key) {
    ControlMessage ack = nccl::makeControl(Op::kListenAck);
    if (listeners.count(key)) ack.error = EADDRINUSE;
    if (!nccl::sendControl(socket->native_handle(), ack) || ack.error) return;
    listeners[key] = Listener{socket};
    // The rank closes its listen comm (or dies): EOF. It sends nothing else.
    auto self = shared_from_this();
    socket->async_wait(asio::posix::stream_descriptor::wait_read,
                       [self, key, socket](const asio::error_code&) {
                         auto it = self->listeners.find(key);
                         if (it != self->listeners.end() && it->second.socket == socket) {
                           self->listeners.erase(it);
                         }
                       });
  }

  void connectLink(const std::shared_ptr<asio::posix::stream_descriptor>& socket,
                   const ControlMessage& m, Fd memory) {
    void* link = memory.fd >= 0 ? nccl::mapLinkMemory(memory.fd) : nullptr;
    if (!link || !nccl::validLinkHeader(link)) {
      nccl::unmapLinkMemory(link);
      log::warn("nccl endpoint: a rank's connect came without usable link memory");
      return;
    }
    std::size_t target = SIZE_MAX;
    for (std::size_t h = 0; h < hosts.size(); ++h) {
      if (hosts[h] == m.vaddr) target = h;
    }
    const std::string what = formatIpv4(self < hosts.size() ? hosts[self] : 0) + " -> " +
                             formatIpv4(m.vaddr) + " #" + std::to_string(m.key % 100000);
    const int fd = socket->release();
    auto pump = makePump(NcclLinkPump::Role::kSend, fd, link, what);
    if (target == SIZE_MAX) {
      ++refused;
      return pump->fail(EHOSTUNREACH, formatIpv4(m.vaddr) + " is no host of this job");
    }
    std::weak_ptr<Impl> weak = shared_from_this();
    const std::string open = openMessage(jobId, m.key, hosts[self]);
    forwarder.openChannel(
        target, kNcclChannel,
        [weak, pump, open](std::shared_ptr<wan::SessionChannel> channel, const std::string& error) {
          auto self = weak.lock();
          if (!self) return;
          if (!channel) {
            ++self->refused;
            return pump->fail(EHOSTUNREACH, "no session to the peer's host: " + error);
          }
          ++self->linksMade;
          channel->send(open);
          pump->startDialer(std::move(channel), kStatusTimeout);
        });
  }

  std::shared_ptr<NcclLinkPump> makePump(NcclLinkPump::Role role, int fd, void* link,
                                         const std::string& what) {
    std::weak_ptr<Impl> weak = shared_from_this();
    auto holder = std::make_shared<std::weak_ptr<NcclLinkPump>>();
    auto pump = std::make_shared<NcclLinkPump>(io, role, fd, link, counters, what, [weak, holder] {
      auto self = weak.lock();
      if (!self) return;
      // Erased later: this runs inside the pump's own handler.
      asio::post(self->io, [self, holder] {
        if (auto p = holder->lock()) self->links.erase(p);
      });
    });
    *holder = pump;
    links.insert(pump);
    return pump;
  }

  void answerProps(const std::shared_ptr<asio::posix::stream_descriptor>& socket) {
    auto self = shared_from_this();
    forwarder.withPeers([self, socket](const ForwarderStats&) {
      // Fresh sessions have no RTT until their first ping: wait for it a little.
      auto timer = std::make_shared<asio::steady_timer>(self->io, kRttWait);
      auto answer = [self, socket, timer] {
        ControlMessage reply = nccl::makeControl(Op::kPropsReply);
        reply.rttMicros = 0;
        for (const auto& peer : self->forwarder.stats().peers) {
          reply.rttMicros = std::max<std::uint64_t>(
              reply.rttMicros, static_cast<std::uint64_t>(peer.session.rtt.count()));
        }
        reply.speedMbps = kSpeedMbps;
        nccl::sendControl(socket->native_handle(), reply);
      };
      self->pollRtt(timer, answer);
    });
  }

  void pollRtt(std::shared_ptr<asio::steady_timer> timer, std::function<void()> answer) {
    const auto stats = forwarder.stats();
    bool all = !stats.peers.empty();
    for (const auto& p : stats.peers) all = all && p.session.rtt.count() > 0;
    if (all || timer->expiry() <= asio::steady_timer::clock_type::now()) return answer();
    auto poll = std::make_shared<asio::steady_timer>(io, 50ms);
    auto self = shared_from_this();
    poll->async_wait(
        [self, poll, timer, answer](const asio::error_code&) { self->pollRtt(timer, answer); });
  }

  // --- peers' agents -------------------------------------------------------------------------
  void onIncomingChannel(std::shared_ptr<wan::SessionChannel> channel) {
    // The first message names the listener; the rest go to the link it opens.
    struct Pending {
      bool opened = false;
      std::shared_ptr<NcclLinkPump> pump;
    };
    auto pending = std::make_shared<Pending>();
    std::weak_ptr<Impl> weak = shared_from_this();
    std::weak_ptr<wan::SessionChannel> weakChannel = channel;
    channel->start({[weak, weakChannel, pending](std::string message) {
                      if (pending->pump) return pending->pump->deliver(std::move(message));
                      auto self = weak.lock();
                      auto channel = weakChannel.lock();
                      if (!self || !channel || pending->opened) return;
                      pending->opened = true;
                      pending->pump = self->onOpen(channel, message);
                    },
                    [pending](const std::string& reason) {
                      if (auto pump = std::move(pending->pump)) pump->channelClosed(reason);
                    }});
  }

  // The link for a peer's open message, or null when refused (the peer gets the status).
  std::shared_ptr<NcclLinkPump> onOpen(const std::shared_ptr<wan::SessionChannel>& channel,
                                       const std::string& message) {
    std::string job;
    std::uint64_t key = 0;
    std::uint32_t src = 0;
    auto refuse = [&](int error, const std::string& why) {
      ++refused;
      log::warn("nccl endpoint: refusing a connection from ", channel->peer(), ": ", why);
      channel->send(encodeStatus(error));
      channel->close();
      return nullptr;
    };
    if (!parseOpen(message, &job, &key, &src)) return refuse(EPROTO, "a broken open message");
    if (job != jobId) return refuse(ECONNREFUSED, "it is for job " + job);
    auto listener = listeners.find(key);
    if (listener == listeners.end())
      return refuse(ECONNREFUSED, "no listener " + std::to_string(key));
    Fd memory(nccl::createLinkMemory());
    void* link = memory.fd >= 0 ? nccl::mapLinkMemory(memory.fd) : nullptr;
    int pair[2] = {-1, -1};
    if (!link || ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
      nccl::unmapLinkMemory(link);
      return refuse(ENOMEM, std::string("no link memory: ") + std::strerror(errno));
    }
    Fd ours(pair[0]), theirs(pair[1]);
    nccl::initLinkHeader(link);
    const int fds[2] = {memory.fd, theirs.fd};
    if (!nccl::sendControl(listener->second.socket->native_handle(),
                           nccl::makeControl(Op::kIncoming), fds, 2)) {
      nccl::unmapLinkMemory(link);
      return refuse(ECONNREFUSED, "the listening rank is gone");
    }
    ::fcntl(ours.fd, F_SETFL, O_NONBLOCK);
    const std::string what = formatIpv4(src) + " -> " +
                             formatIpv4(self < hosts.size() ? hosts[self] : 0) + " #" +
                             std::to_string(key % 100000);
    ++linksMade;
    auto pump = makePump(NcclLinkPump::Role::kReceive, ours.release(), link, what);
    pump->startAcceptor(channel);
    return pump;
  }

  void closeLinks() {
    auto all = links;
    for (auto& l : all) l->close();
    links.clear();
    listeners.clear();
    clients.clear();
  }
};

NcclEndpoint::NcclEndpoint(asio::io_context& io, Forwarder& forwarder)
    : impl_(std::make_shared<Impl>(io, forwarder)) {
  impl_->start();
}

NcclEndpoint::~NcclEndpoint() {
  impl_->closeLinks();
  asio::error_code ignored;
  impl_->acceptor.close(ignored);
}

const std::string& NcclEndpoint::address() const { return impl_->address; }

void NcclEndpoint::setJob(std::string jobId, std::vector<std::uint32_t> hostAddresses,
                          std::size_t self) {
  impl_->jobId = std::move(jobId);
  impl_->hosts = std::move(hostAddresses);
  impl_->self = self;
}

void NcclEndpoint::closeLinks() { impl_->closeLinks(); }

NcclEndpointStats NcclEndpoint::stats() const {
  return {impl_->linksMade, impl_->refused, impl_->counters->bytesOut, impl_->counters->bytesIn};
}

}  // namespace ionet::bridge
