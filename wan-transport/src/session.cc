// The session runtime: links in, engine in the middle, channels out. See session_impl.h.
#include "ionet/error.h"
#include "ionet/log.h"
#include "src/session_impl.h"

namespace ionet::wan {
namespace {

using asio::ip::tcp;

constexpr auto kGoodbyeGrace = std::chrono::milliseconds(2000);

}  // namespace

int streamsForRtt(std::chrono::microseconds rtt, bool bbr) {
  if (rtt < std::chrono::milliseconds(1)) return 1;
  // BBR does not back off on random loss, so a few streams suffice; more only add queueing
  // (measured at 1 Gbit/s, 1 % loss: 4 streams 760-830 Mbit/s at 50 ms and 580 at 200 ms,
  // 16 streams 460 at 200 ms). Loss-based CUBIC needs many streams to recover its share.
  if (bbr) return 4;
  if (rtt < std::chrono::milliseconds(20)) return 4;
  if (rtt < std::chrono::milliseconds(80)) return 8;
  return 16;
}

// --- channels -----------------------------------------------------------------------------

SessionChannelImpl::SessionChannelImpl(std::weak_ptr<SessionImpl> session, std::uint32_t id,
                                       std::string name, std::string peer)
    : session_(std::move(session)), id_(id), name_(std::move(name)), peer_(std::move(peer)) {}

void SessionChannelImpl::start(Handlers handlers) {
  handlers_ = std::move(handlers);
  resume();
}

void SessionChannelImpl::send(std::string message) {
  auto session = session_.lock();
  if (!session || closed_) return;
  if (session->core_.send(id_, std::move(message))) session->scheduleFlush();
}

void SessionChannelImpl::close() {
  auto session = session_.lock();
  if (closed_) return;
  auto self = shared_from_this();  // the session's map may hold the last other reference
  if (session) {
    session->core_.closeChannel(id_, "closed by peer");
    if (id_ != 0) session->channels_.erase(id_);
    session->scheduleFlush();
  }
  notifyClosed("closed locally");
}

std::size_t SessionChannelImpl::queuedBytes() const {
  auto session = session_.lock();
  return session ? session->core_.queuedBytes(id_) : 0;
}

void SessionChannelImpl::pause() {
  if (auto session = session_.lock()) session->core_.pause(id_);
}

void SessionChannelImpl::resume() {
  auto session = session_.lock();
  if (!session) return;
  session->core_.resume(id_, SteadyClock::now());
  session->dispatch();
  session->scheduleFlush();  // credit may be due to the peer
}

void SessionChannelImpl::notifyClosed(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  // Handlers may be running right now (a message handler that closes its channel): keep them
  // alive until this returns, and drop them after.
  auto handlers = std::move(handlers_);
  auto writable = std::move(writable_);
  handlers_ = {};
  writable_ = nullptr;
  if (handlers.onClose) handlers.onClose(reason);
  if (auto session = session_.lock()) {
    asio::post(session->io_, [handlers = std::move(handlers), writable = std::move(writable)] {});
  }
}

Security Security::fromCredentials(const Credentials& credentials, TlsRole role) {
  return {std::make_shared<asio::ssl::context>(makeTlsContext(credentials, role)),
          credentials.nodeName};
}

// --- session ------------------------------------------------------------------------------

SessionImpl::SessionImpl(asio::io_context& io, const SessionId& id, std::optional<Endpoint> dialTo,
                         Security security, const SessionOptions& options)
    : io_(io),
      id_(id),
      dialTo_(std::move(dialTo)),
      security_(std::move(security)),
      options_(options),
      core_(options, dialTo_.has_value(), SteadyClock::now()),
      jitter_(std::random_device{}()),
      timer_(io) {
  sampleAt_ = SteadyClock::now();
  if (dialTo_) peerName_ = dialTo_->relayTo.empty() ? dialTo_->describe() : dialTo_->relayTo;
}

SessionImpl::~SessionImpl() {
  for (auto& [id, link] : links_) link->close();
}

std::shared_ptr<SessionChannelImpl> SessionImpl::makeChannel(std::uint32_t id, std::string name) {
  auto channel = std::make_shared<SessionChannelImpl>(
      std::static_pointer_cast<SessionImpl>(shared_from_this()), id, std::move(name), peerName_);
  // Held until the application starts it: nothing is delivered to a channel without handlers.
  core_.pause(id);
  channels_[id] = channel;
  return channel;
}

std::shared_ptr<SessionChannel> SessionImpl::control() {
  auto it = channels_.find(0);
  if (it != channels_.end()) return it->second;
  return makeChannel(0, "control");
}

std::shared_ptr<SessionChannel> SessionImpl::openChannel(std::string name) {
  if (ended_) throw Error("session with " + peerName_ + " has ended");
  const std::uint32_t id = core_.openChannel(name);
  scheduleFlush();
  return makeChannel(id, std::move(name));
}

SessionStats SessionImpl::stats() const {
  const auto c = core_.counters();
  const auto now = SteadyClock::now();
  const double elapsed = std::chrono::duration<double>(now - sampleAt_).count();
  if (elapsed >= 1.0) {
    sendRate_ = double(c.bytesSent - sampleSent_) / elapsed;
    receiveRate_ = double(c.bytesReceived - sampleReceived_) / elapsed;
    sampleAt_ = now;
    sampleSent_ = c.bytesSent;
    sampleReceived_ = c.bytesReceived;
  }
  SessionStats s;
  s.peer = peerName_;
  s.address = lastAddress_;
  s.rtt = c.smoothedRtt;
  s.streams = streams_;
  s.linksUp = int(c.linksUp);
  s.bytesSent = c.bytesSent;
  s.bytesReceived = c.bytesReceived;
  s.sendRate = sendRate_;
  s.receiveRate = receiveRate_;
  s.retransmittedBytes = c.retransmittedBytes;
  s.duplicateBytes = c.duplicateBytes;
  s.reconnects = reconnects_;
  s.resumes = c.resumes;
  s.unackedBytes = c.unackedBytes;
  return s;
}

void SessionImpl::close(std::string reason, std::chrono::milliseconds linger) {
  if (ended_ || closing_) return;
  closing_ = true;
  closeReason_ = std::move(reason);
  closeDeadline_ = SteadyClock::now() + linger;
  maybeSayGoodbye();
  armTimer();
}

void SessionImpl::maybeSayGoodbye() {
  if (!closing_ || goodbyeQueued_ || ended_) return;
  if (core_.hasUnacknowledged() && SteadyClock::now() < closeDeadline_) return;
  if (links_.empty()) return end("closed locally: " + closeReason_);
  goodbyeQueued_ = true;
  core_.goodbye(closeReason_);
  scheduleFlush();
}

// --- both sides ---------------------------------------------------------------------------

void SessionImpl::attach(std::shared_ptr<ByteStream> stream, std::shared_ptr<FrameReader> reader,
                         const Frame& hello, bool resumed) {
  auto self = std::static_pointer_cast<SessionImpl>(shared_from_this());
  streams_ = std::min<int>(hello.streams, kMaxStreams);
  Frame answer;
  answer.type = FrameType::helloAck;
  answer.session = id_;
  answer.link = hello.link;
  answer.streams = std::uint16_t(streams_);
  answer.ack = core_.receiveNext();
  answer.flags = resumed ? 1 : 0;
  const int slot = hello.link;
  const std::uint64_t peerNext = hello.ack;
  writeOneFrame(stream, answer, [self, stream, reader, slot, peerNext](std::string error) {
    if (self->ended_) return stream->close();
    if (!error.empty()) {
      log::debug("session with ", self->peerName_, ": hello-ack to ", stream->remote, ": ", error);
      stream->close();
      // A session whose very first connection failed has no timer running to time it out.
      if (self->slotsSeen_.empty()) self->end("first connection lost: " + error);
      return;
    }
    self->addLink(slot, stream, reader, peerNext);
  });
}

void SessionImpl::addLink(int slot, std::shared_ptr<ByteStream> stream,
                          std::shared_ptr<FrameReader> reader, std::uint64_t peerReceiveNext) {
  // The accepting side learns of a replacement before (or without) noticing the old
  // connection died: a new connection for a slot retires the old one.
  for (auto& [linkId, linkSlot] : slotOfLink_) {
    if (linkSlot == slot && links_.count(linkId)) {
      dropLink(linkId, "replaced by a new connection");
      break;
    }
  }
  const int id = nextLinkId_++;
  try {
    core_.linkUp(id, peerReceiveNext, SteadyClock::now());
  } catch (const ProtocolError& e) {
    log::warn("session with ", peerName_, ": connection from ", stream->remote, ": ", e.what());
    stream->close();
    if (dialTo_) dialFailed(slot, e.what());
    return;
  }
  // A slot seen before is a reconnection; the first connection of each slot is not.
  const bool firstEver = slotsSeen_.insert(slot).second;
  if (!slots_.empty() && slot < int(slots_.size())) {
    slots_[slot].link = id;
    slots_[slot].attempts = 0;
    slots_[slot].dialing = false;
  }
  if (!firstEver) {
    log::info("session with ", peerName_, ": connection ", slot, " up (", stream->remote, ")");
  }
  if (!firstEver) ++reconnects_;
  lastAddress_ = stream->remote;
  auto link = std::make_shared<Link>(id, stream, reader,
                                     std::static_pointer_cast<SessionImpl>(shared_from_this()));
  links_[id] = link;
  slotOfLink_[id] = slot;
  link->start();
  if (dialTo_ && ready_ && slot == 0) {
    // The first connection is up: open the others, then hand the session over.
    slots_.resize(std::size_t(streams_));
    for (int s = 1; s < streams_; ++s) dial(s);
    finishFirstDial("");
  }
  scheduleFlush();
}

void SessionImpl::dropLink(int link, const std::string& reason) {
  auto it = links_.find(link);
  if (it == links_.end()) return;
  it->second->close();
  const std::string remote = it->second->remote();
  links_.erase(it);
  const int slot = slotOfLink_[link];
  slotOfLink_.erase(link);
  core_.linkDown(link, reason, SteadyClock::now());
  if (ended_) return;
  log::info("session with ", peerName_, ": connection ", slot, " (", remote, ") lost: ", reason,
            "; ", links_.size(), " of ", streams_, " left");
  if (dialTo_ && slot < int(slots_.size())) {
    slots_[slot].link = -1;
    if (!slots_[slot].dialing) dialFailed(slot, reason);  // redial with backoff
  }
  scheduleFlush();
}

void SessionImpl::linkFrame(int link, Frame&& frame) {
  try {
    core_.receive(link, std::move(frame), SteadyClock::now());
  } catch (const ProtocolError& e) {
    log::warn("session with ", peerName_, ": protocol error on connection from ",
              links_.count(link) ? links_[link]->remote() : std::string("?"), ": ", e.what(),
              "; ending the session");
    // A segment may be half-processed: the session cannot go on (malformed bytes, by contrast,
    // are FrameErrors and cost only their connection).
    end(std::string("protocol error from the peer: ") + e.what());
    return;
  }
  dispatch();
  maybeSayGoodbye();
  scheduleFlush();
}

void SessionImpl::linkWritten(int link) {
  core_.setWriting(link, false);
  if (goodbyeQueued_ && link == goodbyeLink_) return end("closed locally: " + closeReason_);
  auto it = links_.find(link);
  if (it != links_.end()) flushLink(*it->second);
  dispatch();
  armTimer();
}

void SessionImpl::linkFailed(int link, const std::string& reason) { dropLink(link, reason); }

void SessionImpl::scheduleFlush() {
  if (flushPosted_ || ended_) return;
  flushPosted_ = true;
  auto self = std::static_pointer_cast<SessionImpl>(shared_from_this());
  asio::post(io_, [self] {
    self->flushPosted_ = false;
    self->flush();
  });
}

void SessionImpl::flush() {
  if (ended_) return;
  for (auto& [id, link] : links_) {
    if (!link->writing()) flushLink(*link);
  }
  dispatch();
  armTimer();
}

void SessionImpl::flushLink(Link& link) {
  std::string out = link.takeBuffer();
  // A batch may overrun linkBatchBytes by one segment; reserving it saves regrowth copies.
  out.reserve(options_.linkBatchBytes + options_.segmentBytes + 4096);
  core_.pull(link.id(), out, options_.linkBatchBytes, SteadyClock::now());
  if (out.empty()) return link.keepBuffer(std::move(out));
  // With a goodbye queued, the next pull of any link yields it: remember which write carries it.
  if (goodbyeQueued_ && goodbyeLink_ < 0) goodbyeLink_ = link.id();
  core_.setWriting(link.id(), true);
  link.write(std::move(out));
}

void SessionImpl::dispatch() {
  if (dispatching_) return;  // a handler sent or closed: the outer loop picks the events up
  dispatching_ = true;
  struct Reset {  // even if a handler throws
    bool& flag;
    ~Reset() { flag = false; }
  } reset{dispatching_};
  auto self = std::static_pointer_cast<SessionImpl>(shared_from_this());
  auto& events = core_.events();
  while (!events.empty() && !ended_) {
    Event e = std::move(events.front());
    events.pop_front();
    if (auto* m = std::get_if<event::Message>(&e)) {
      auto it = channels_.find(m->channel);
      if (it != channels_.end() && it->second->handlers_.onMessage) {
        auto channel = it->second;  // alive even if the handler closes it or the session
        auto onMessage = channel->handlers_.onMessage;
        onMessage(std::move(m->bytes));
      }
    } else if (auto* o = std::get_if<event::ChannelOpened>(&e)) {
      auto channel = makeChannel(o->channel, o->name);
      if (channelHandler_) {
        channelHandler_(channel);
      } else {
        channel->close();
      }
    } else if (auto* c = std::get_if<event::ChannelClosed>(&e)) {
      // Close our direction too, so the channel is forgotten on both sides.
      core_.closeChannel(c->channel, "closed by peer");
      auto it = channels_.find(c->channel);
      if (it != channels_.end()) {
        auto channel = it->second;
        if (c->channel != 0) channels_.erase(it);
        channel->notifyClosed(c->reason.empty() ? "closed by peer" : c->reason);
      }
    } else if (auto* w = std::get_if<event::Writable>(&e)) {
      auto it = channels_.find(w->channel);
      if (it != channels_.end() && it->second->writable_) {
        auto channel = it->second;
        auto writable = channel->writable_;
        writable();
      }
    } else if (auto* x = std::get_if<event::LinkExpired>(&e)) {
      dropLink(x->link,
               "nothing heard for " + std::to_string(options_.linkTimeout.count() / 1000) + " s");
    } else if (auto* g = std::get_if<event::PeerGoodbye>(&e)) {
      if (!heldReleased_) {
        // The peer says goodbye only once we acknowledged everything it sent: hand all of it
        // to the application, paused channels included, before the channels close.
        heldReleased_ = true;
        for (const auto& [id, channel] : channels_) core_.resume(id, SteadyClock::now());
        events.push_back(std::move(e));
        continue;
      }
      end("closed by peer: " + g->reason);
    } else if (auto* f = std::get_if<event::Failed>(&e)) {
      end(f->reason);
    }
  }
}

void SessionImpl::armTimer() {
  if (ended_) return;
  TimePoint next = core_.nextDeadline();
  if (closing_) {
    // Before the goodbye: the linger; after it: a last bound in case no write ever completes.
    next = std::min(next, goodbyeQueued_ ? closeDeadline_ + kGoodbyeGrace : closeDeadline_);
  }
  if (next >= armedFor_ || next == TimePoint::max()) return;
  armedFor_ = next;
  timer_.expires_at(next);
  auto self = std::static_pointer_cast<SessionImpl>(shared_from_this());
  timer_.async_wait([self](const asio::error_code& ec) {
    if (ec) return;
    self->armedFor_ = TimePoint::max();
    self->onTimer();
  });
}

void SessionImpl::onTimer() {
  if (ended_) return;
  if (goodbyeQueued_ && SteadyClock::now() >= closeDeadline_ + kGoodbyeGrace) {
    return end("closed locally: " + closeReason_ + " (goodbye not confirmed sent)");
  }
  core_.tick(SteadyClock::now());
  maybeSayGoodbye();
  flush();
}

void SessionImpl::end(const std::string& reason) {
  if (ended_) return;
  ended_ = true;
  auto self = std::static_pointer_cast<SessionImpl>(shared_from_this());  // live to the end
  log::info("session with ", peerName_, " ended: ", reason);
  timer_.cancel();
  for (auto& s : slots_) {
    if (s.timer) s.timer->cancel();
  }
  auto links = std::move(links_);
  links_.clear();
  for (auto& [id, link] : links) link->close();
  if (forget) std::exchange(forget, nullptr)();
  // The application's handlers often hold the session (a cycle): drop them once end() is done.
  asio::post(io_, [handler = std::move(channelHandler_)] {});
  channelHandler_ = nullptr;
  auto channels = std::move(channels_);
  channels_.clear();
  for (auto& [id, channel] : channels) channel->notifyClosed(reason);
  if (auto ready = std::exchange(ready_, nullptr)) ready(nullptr, reason);
  if (endHandler_) std::exchange(endHandler_, nullptr)(reason);
}

}  // namespace ionet::wan
