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

void SessionImpl::dial(int slot) {
  auto self = std::static_pointer_cast<SessionImpl>(shared_from_this());
  slots_[slot].dialing = true;
  auto socket = std::make_shared<tcp::socket>(io_);
  auto resolver = std::make_shared<tcp::resolver>(io_);
  const Endpoint target = *dialTo_;
  auto helloSentAt = std::make_shared<TimePoint>();

  auto sayHello = [self, slot, helloSentAt](std::shared_ptr<ByteStream> stream) {
    if (self->ended_) return stream->close();
    Frame hello;
    hello.type = FrameType::hello;
    hello.session = self->id_;
    hello.link = std::uint16_t(slot);
    hello.streams = std::uint16_t(std::max(1, self->streams_));
    hello.ack = self->core_.receiveNext();
    hello.payload = self->security_.nodeName.substr(0, kMaxNameBytes);
    *helloSentAt = SteadyClock::now();
    writeOneFrame(stream, hello, [self, slot, stream, helloSentAt](std::string error) {
      if (!error.empty()) return self->dialFailed(slot, "sending hello: " + error);
      auto reader = std::make_shared<FrameReader>();
      readOneFrame(stream, reader, kHandshakeTimeout,
                   [self, slot, stream, reader, helloSentAt](std::optional<Frame> answer,
                                                             std::string error) {
                     if (self->ended_) return stream->close();
                     if (!answer) return self->dialFailed(slot, "waiting for hello-ack: " + error);
                     if (answer->type == FrameType::refuse) {
                       stream->close();
                       const std::string why =
                           "refused by " + stream->remote + ": " + answer->payload;
                       return self->end(why);
                     }
                     if (answer->type != FrameType::helloAck || answer->session != self->id_) {
                       return self->dialFailed(slot, std::string("unexpected ") +
                                                         frameTypeName(answer->type) +
                                                         " instead of hello-ack");
                     }
                     if (!self->ready_ && !(answer->flags & 1)) {
                       // We had a session, the peer does not: it restarted or timed us out.
                       // Resending into a fresh session would stall; say so instead.
                       stream->close();
                       return self->end(
                           "the peer no longer knows this session (it restarted "
                           "or timed the session out)");
                     }
                     const std::string name = stream->authenticatedName();
                     if (!name.empty()) {
                       if (self->core_.counters().linksUp == 0 && slot == 0 && self->ready_) {
                         self->peerName_ = name;
                       } else if (name != self->peerName_) {
                         stream->close();
                         return self->dialFailed(
                             slot, "peer is now '" + name + "', was '" + self->peerName_ + "'");
                       }
                     }
                     const auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(
                         SteadyClock::now() - *helloSentAt);
                     if (slot == 0 && self->ready_) {
                       self->streams_ = self->options_.streams > 0
                                            ? std::min(self->options_.streams, kMaxStreams)
                                            : streamsForRtt(rtt, stream->congestion == "bbr");
                       self->sizeForBdp(rtt);
                       log::debug("session to ", self->peerName_, ": hello round trip ", ms(rtt),
                                  ", ", stream->congestion, ", ", self->streams_, " streams");
                     }
                     self->addLink(slot, stream, reader, answer->ack);
                   });
    });
  };

  auto secure = [self, slot, sayHello, socket]() {
    const std::string congestion = tuneSocket(*socket, self->options_);
    if (!self->security_.tls) {
      auto stream = plainStream(std::move(*socket));
      stream->congestion = congestion;
      return sayHello(stream);
    }
    secureStream(
        std::move(*socket), *self->security_.tls, true, kHandshakeTimeout,
        [self, slot, sayHello, congestion](std::shared_ptr<ByteStream> stream, std::string error) {
          if (!stream) return self->dialFailed(slot, error);
          stream->congestion = congestion;
          sayHello(stream);
        });
  };

  // Resolving and connecting get the handshake timeout too: a black-holed SYN would otherwise
  // take the kernel's two minutes.
  auto deadline = std::make_shared<asio::steady_timer>(io_, kHandshakeTimeout);
  deadline->async_wait([socket, resolver](const asio::error_code& ec) {
    if (ec) return;
    resolver->cancel();
    asio::error_code ignored;
    socket->close(ignored);
  });
  resolver->async_resolve(
      target.host, std::to_string(target.port),
      [self, slot, socket, resolver, target, secure, deadline](
          const asio::error_code& ec, tcp::resolver::results_type results) {
        if (ec) return self->dialFailed(slot, "resolving " + target.host + ": " + ec.message());
        asio::async_connect(
            *socket, results,
            [self, slot, socket, target, secure, deadline](const asio::error_code& ec,
                                                           const tcp::endpoint&) {
              deadline->cancel();
              if (ec) {
                return self->dialFailed(slot,
                                        "connecting to " + target.describe() + ": " + ec.message());
              }
              if (target.relayTo.empty()) return secure();
              relayDial(socket, target.relayTo, kHandshakeTimeout,
                        [self, slot, secure, target](std::string error) {
                          if (!error.empty()) {
                            return self->dialFailed(slot, "relay " + target.host + ":" +
                                                              std::to_string(target.port) + ": " +
                                                              error);
                          }
                          secure();
                        });
            });
      });
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
