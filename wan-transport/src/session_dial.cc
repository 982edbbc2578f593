// The connecting side of a session: dialling the first connection (errors reported at once),
// the others after it, redialling lost ones with backoff, sizing buffers for the BDP.
#include <openssl/rand.h>

#include "ionet/error.h"
#include "ionet/log.h"
#include "src/relay.h"
#include "src/session_impl.h"

namespace ionet::wan {
namespace {

using asio::ip::tcp;

constexpr auto kHandshakeTimeout = std::chrono::milliseconds(10000);

std::string ms(std::chrono::microseconds d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", double(d.count()) / 1000.0);
  return text;
}

}  // namespace

// --- connecting side ----------------------------------------------------------------------

void SessionImpl::dialFirst(ReadyHandler ready) {
  // The first dial reports to `ready` instead of retrying: a wrong address or credentials
  // should be an error at once, not a minute of backoff.
  slots_.resize(1);
  ready_ = std::move(ready);
  dial(0);
}

void SessionImpl::finishFirstDial(const std::string& error) {
  if (!error.empty()) return end(error);  // end() tells ready_
  auto ready = std::exchange(ready_, nullptr);
  if (ready) ready(std::static_pointer_cast<SessionImpl>(shared_from_this()), "");
}

// One connection being dialled, through its steps in order: resolve, connect (through the
// relay when the endpoint names one), secure (TLS or plain), hello, hello-ack. Each step is a
// function of its own; any failure goes to dialFailed, which retries or ends the session.
struct SessionImpl::Dial {
  std::shared_ptr<SessionImpl> session;
  int slot = 0;
  Endpoint target;
  tcp::socket socket;
  tcp::resolver resolver;
  // Resolving and connecting get the handshake timeout too: a black-holed SYN would otherwise
  // take the kernel's two minutes.
  asio::steady_timer deadline;
  std::string congestion;  // of the connected socket, for the streams count
  TimePoint helloSentAt;

  Dial(std::shared_ptr<SessionImpl> s, int sl, Endpoint t)
      : session(std::move(s)),
        slot(sl),
        target(std::move(t)),
        socket(session->io_),
        resolver(session->io_),
        deadline(session->io_, kHandshakeTimeout) {}

  void failed(const std::string& error) const { session->dialFailed(slot, error); }
};

void SessionImpl::dial(int slot) {
  slots_[slot].dialing = true;
  auto d = std::make_shared<Dial>(std::static_pointer_cast<SessionImpl>(shared_from_this()), slot,
                                  *dialTo_);
  // Weak: a dial that failed early must not keep its session alive until the deadline.
  d->deadline.async_wait([weak = std::weak_ptr<Dial>(d)](const asio::error_code& ec) {
    auto d = weak.lock();
    if (ec || !d) return;
    d->resolver.cancel();
    asio::error_code ignored;
    d->socket.close(ignored);
  });
  d->resolver.async_resolve(
      d->target.host, std::to_string(d->target.port),
      [d](const asio::error_code& ec, tcp::resolver::results_type results) {
        if (ec) {
          return d->failed("resolving " + d->target.host + ": " + ec.message());
        }
        dialConnect(d, results);
      });
}

void SessionImpl::dialConnect(const std::shared_ptr<Dial>& d,
                              const tcp::resolver::results_type& addresses) {
  asio::async_connect(d->socket, addresses, [d](const asio::error_code& ec, const tcp::endpoint&) {
    d->deadline.cancel();
    if (ec) return d->failed("connecting to " + d->target.describe() + ": " + ec.message());
    if (d->target.relayTo.empty()) return dialSecure(d);
    dialThroughRelay(d);
  });
}

void SessionImpl::dialThroughRelay(const std::shared_ptr<Dial>& d) {
  // relayDial shares the socket for the exchange; the stream takes it over afterwards.
  auto socket = std::shared_ptr<tcp::socket>(d, &d->socket);
  relayDial(socket, d->target.relayTo, kHandshakeTimeout, [d](std::string error) {
    if (!error.empty()) {
      return d->failed("relay " + d->target.host + ":" + std::to_string(d->target.port) + ": " +
                       error);
    }
    dialSecure(d);
  });
}

void SessionImpl::dialSecure(const std::shared_ptr<Dial>& d) {
  auto& self = *d->session;
  d->congestion = tuneSocket(d->socket, self.options_);
  if (!self.security_.tls) return dialHello(d, plainStream(std::move(d->socket)));
  secureStream(std::move(d->socket), *self.security_.tls, true, kHandshakeTimeout,
               [d](std::shared_ptr<ByteStream> stream, std::string error) {
                 if (!stream) return d->failed(error);
                 dialHello(d, std::move(stream));
               });
}

void SessionImpl::dialHello(const std::shared_ptr<Dial>& d, std::shared_ptr<ByteStream> stream) {
  auto& self = *d->session;
  stream->congestion = d->congestion;
  if (self.ended_) return stream->close();
  Frame hello;
  hello.type = FrameType::hello;
  hello.session = self.id_;
  hello.link = std::uint16_t(d->slot);
  hello.streams = std::uint16_t(std::max(1, self.streams_));
  hello.ack = self.core_.receiveNext();
  hello.payload = self.security_.nodeName.substr(0, kMaxNameBytes);
  d->helloSentAt = SteadyClock::now();
  writeOneFrame(stream, hello, [d, stream](std::string error) {
    if (!error.empty()) return d->failed("sending hello: " + error);
    auto reader = std::make_shared<FrameReader>();
    readOneFrame(stream, reader, kHandshakeTimeout,
                 [d, stream, reader](std::optional<Frame> answer, std::string error) {
                   if (d->session->ended_) return stream->close();
                   if (!answer) return d->failed("waiting for hello-ack: " + error);
                   dialHelloAnswered(d, stream, reader, *answer);
                 });
  });
}

void SessionImpl::dialHelloAnswered(const std::shared_ptr<Dial>& d,
                                    const std::shared_ptr<ByteStream>& stream,
                                    const std::shared_ptr<FrameReader>& reader,
                                    const Frame& answer) {
  auto& self = *d->session;
  const int slot = d->slot;
  if (answer.type == FrameType::refuse) {
    stream->close();
    return self.end("refused by " + stream->remote + ": " + answer.payload);
  }
  if (answer.type != FrameType::helloAck || answer.session != self.id_) {
    return d->failed(std::string("unexpected ") + frameTypeName(answer.type) +
                     " instead of hello-ack");
  }
  if (!self.ready_ && !(answer.flags & 1)) {
    // We had a session, the peer does not: it restarted or timed us out. Resending into a
    // fresh session would stall; say so instead.
    stream->close();
    return self.end(
        "the peer no longer knows this session (it restarted or timed the session out)");
  }
  const std::string name = stream->authenticatedName();
  if (!name.empty()) {
    if (self.core_.counters().linksUp == 0 && slot == 0 && self.ready_) {
      self.peerName_ = name;
    } else if (name != self.peerName_) {
      stream->close();
      return d->failed("peer is now '" + name + "', was '" + self.peerName_ + "'");
    }
  }
  const auto rtt =
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - d->helloSentAt);
  if (slot == 0 && self.ready_) {
    self.streams_ = self.options_.streams > 0 ? std::min(self.options_.streams, kMaxStreams)
                                              : streamsForRtt(rtt, stream->congestion == "bbr");
    self.sizeForBdp(rtt);
    log::debug("session to ", self.peerName_, ": hello round trip ", ms(rtt), ", ",
               stream->congestion, ", ", self.streams_, " streams");
  }
  self.addLink(slot, stream, reader, answer.ack);
}

// Autotuning's ceiling for send buffers (net.ipv4.tcp_wmem's third field).
std::size_t autotuneMaximum() {
  std::FILE* f = std::fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
  unsigned long low = 0, initial = 0, high = 4u << 20;
  if (f) {
    if (std::fscanf(f, "%lu %lu %lu", &low, &initial, &high) != 3) high = 4u << 20;
    std::fclose(f);
  }
  return high;
}

void SessionImpl::sizeForBdp(std::chrono::microseconds rtt) {
  if (options_.rateHintBytesPerSecond <= 0) return;
  const double bdp = options_.rateHintBytesPerSecond * double(rtt.count()) / 1e6;
  core_.growRetransmitBuffer(std::size_t(2 * bdp));
  const auto perLink = std::size_t(2 * bdp / streams_);
  if (options_.socketBufferBytes == 0 && perLink > autotuneMaximum()) {
    options_.socketBufferBytes = perLink;  // for the connections dialled from now on
  }
}

void SessionImpl::dialFailed(int slot, const std::string& error) {
  if (ended_) return;
  slots_[slot].dialing = false;
  if (ready_ && slot == 0 && core_.counters().linksUp == 0) return finishFirstDial(error);
  auto& s = slots_[slot];
  // Exponential backoff with +-50 % jitter, so a pool's agents do not redial in lockstep.
  const double base =
      double(options_.reconnectMin.count()) * double(1u << std::min(s.attempts, 10));
  const double capped = std::min(base, double(options_.redialCeiling().count()));
  std::uniform_real_distribution<double> spread(0.5, 1.5);
  const auto delay = std::chrono::milliseconds(std::int64_t(capped * spread(jitter_)));
  ++s.attempts;
  log::debug("session to ", peerName_, ": connection ", slot, ": ", error, "; retrying in ",
             delay.count(), " ms");
  if (!s.timer) s.timer = std::make_unique<asio::steady_timer>(io_);
  s.timer->expires_after(delay);
  s.dialing = true;
  auto self = std::static_pointer_cast<SessionImpl>(shared_from_this());
  s.timer->async_wait([self, slot](const asio::error_code& ec) {
    if (!ec && !self->ended_) self->dial(slot);
  });
}

void Session::connect(asio::io_context& io, const Endpoint& endpoint, const Security& security,
                      const SessionOptions& options, ReadyHandler ready) {
  SessionId id;
  if (RAND_bytes(id.data(), int(id.size())) != 1) throw Error("RAND_bytes failed");
  auto session = std::make_shared<SessionImpl>(io, id, endpoint, security, options);
  session->dialFirst(std::move(ready));
}

}  // namespace ionet::wan
