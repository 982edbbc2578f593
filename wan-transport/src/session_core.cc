// The session protocol engine: see session_core.h and docs/protocol.md ("Reliability").
#include "src/session_core.h"

#include <algorithm>

#include "ionet/wan/channel.h"

namespace ionet::wan {
namespace {

// A peer may run ahead of our receive point by at most this many segments / bytes: its
// retransmit buffer bounds what it can have in flight, so more is a broken or hostile peer.
constexpr std::uint64_t kMaxReorderSegments = 1u << 20;
// Bytes a peer may park in our reorder buffer: generous (its retransmit buffer may have been
// grown for a long fat link), but bounded.
constexpr std::size_t kMaxReorderBytes = std::size_t(1) << 30;
// Channels one session may hold open: every forwarded connection of a job is one.
constexpr std::size_t kMaxChannels = 1u << 16;

std::string seconds(std::chrono::milliseconds d) {
  return std::to_string(d.count() / 1000) + "." + std::to_string((d.count() % 1000) / 100) + " s";
}

}  // namespace

SessionCore::SessionCore(const SessionOptions& options, bool initiator, TimePoint now)
    : options_(options), initiator_(initiator), nextChannelId_(initiator ? 1 : 2) {
  channels_[0];
  noLinkSince_ = now;
}

// --- application side ---------------------------------------------------------------------

std::uint32_t SessionCore::openChannel(std::string name) {
  if (name.size() > kMaxNameBytes) name.resize(kMaxNameBytes);
  const std::uint32_t id = nextChannelId_;
  nextChannelId_ += 2;
  auto& state = channels_[id];
  state.queue.push_back(Outgoing{FrameType::open, std::move(name)});
  return id;
}

bool SessionCore::send(std::uint32_t channel, std::string message) {
  auto it = channels_.find(channel);
  if (it == channels_.end() || !it->second.open || failed_) return false;
  auto& state = it->second;
  state.queuedBytes += message.size();
  state.queue.push_back(Outgoing{FrameType::data, std::move(message)});
  if (state.queuedBytes >= options_.channelLowWaterBytes) state.aboveLowWater = true;
  return true;
}

void SessionCore::closeChannel(std::uint32_t channel, std::string reason) {
  auto it = channels_.find(channel);
  if (it == channels_.end() || !it->second.open) return;
  if (reason.size() > kMaxReasonBytes) reason.resize(kMaxReasonBytes);
  it->second.open = false;
  it->second.queue.push_back(Outgoing{FrameType::close, std::move(reason)});
}

void SessionCore::pause(std::uint32_t channel) {
  auto it = channels_.find(channel);
  if (it != channels_.end()) it->second.paused = true;
}

void SessionCore::resume(std::uint32_t channel, TimePoint) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  it->second.paused = false;
  for (;;) {
    // Look the channel up each time: consuming its close may erase it.
    it = channels_.find(channel);
    if (it == channels_.end() || it->second.paused || it->second.held.empty()) return;
    auto& state = it->second;
    Segment segment = std::move(state.held.front());
    state.held.pop_front();
    state.heldBytes -= segment.payload.size();
    if (!consume(channel, state, std::move(segment))) return;
  }
}

void SessionCore::setWriting(int link, bool writing) {
  auto it = links_.find(link);
  if (it != links_.end()) it->second.writing = writing;
}

std::size_t SessionCore::queuedBytes(std::uint32_t channel) const {
  auto it = channels_.find(channel);
  return it == channels_.end() ? 0 : it->second.queuedBytes;
}

bool SessionCore::anyQueued() const {
  return std::any_of(channels_.begin(), channels_.end(),
                     [](const auto& c) { return !c.second.queue.empty(); });
}

// --- links --------------------------------------------------------------------------------

void SessionCore::linkUp(int link, std::uint64_t peerReceiveNext, TimePoint now) {
  if (peerReceiveNext > nextSeq_) {
    throw ProtocolError("peer claims to have received up to seq " +
                        std::to_string(peerReceiveNext) + " but only " + std::to_string(nextSeq_) +
                        " were sent");
  }
  acknowledge(peerReceiveNext);
  auto& state = links_[link];
  state = LinkState{};
  state.lastHeard = now;
  lastHeard_ = now;
  state.nextPing = now;
  if (noLinkSince_ && everUp_) ++counters_.resumes;
  noLinkSince_.reset();
  everUp_ = true;
  // Tell the peer at once where we stand: acks and credit sent on a lost link may never have
  // arrived.
  ackDue_ = now;
  queueWindowUpdates();
}

void SessionCore::linkDown(int link, const std::string& reason, TimePoint now) {
  if (links_.erase(link) == 0) return;
  ++counters_.linksLost;
  lastLinkError_ = reason;
  for (auto& segment : unacked_) {
    if (segment.link == link) {
      segment.link = -1;
      resend_.insert(segment.seq);
    }
  }
  // The peer is dead when unheard for deadPeerTimeout: a link that expired after hearing
  // nothing for linkTimeout has already used that much of it.
  if (links_.empty()) noLinkSince_ = lastHeard_ ? std::min(now, *lastHeard_) : now;
  ackDue_ = now;
  queueWindowUpdates();
}

void SessionCore::appendFrame(const Frame& frame, std::string& out, std::size_t& used) {
  const std::size_t before = out.size();
  encodeFrame(frame, out);
  countAppended(out.size() - before, used);
}

void SessionCore::countAppended(std::size_t bytes, std::size_t& used) {
  used += bytes;
  counters_.wireBytesSent += bytes;
}

std::uint64_t SessionCore::nonceFor(TimePoint) { return ++lastNonce_; }

std::size_t SessionCore::pull(int link, std::string& out, std::size_t budget, TimePoint now) {
  auto it = links_.find(link);
  if (it == links_.end()) return 0;
  auto& state = it->second;
  std::size_t used = 0;
  Frame f;
  if (goodbye_) {
    f.type = FrameType::goodbye;
    f.payload = *goodbye_;
    appendFrame(f, out, used);
    return used;
  }
  if (state.pong) {
    f.type = FrameType::pong;
    f.value = *state.pong;
    appendFrame(f, out, used);
    state.pong.reset();
  }
  if (now >= state.nextPing) {
    f.type = FrameType::ping;
    f.value = state.pingNonce = nonceFor(now);
    state.pingSentAt = now;
    state.nextPing = now + options_.pingInterval;
    appendFrame(f, out, used);
  }
  if (ackDue_ && now >= *ackDue_) {
    f.type = FrameType::ack;
    f.ack = receiveNext_;
    appendFrame(f, out, used);
    ackDue_.reset();
    unackedReceived_ = 0;
  }
  for (std::uint32_t channel : windowDue_) {
    auto c = channels_.find(channel);
    if (c == channels_.end()) continue;
    f.type = FrameType::window;
    f.channel = channel;
    f.value = c->second.consumed;
    c->second.windowAnnounced = c->second.consumed;
    appendFrame(f, out, used);
  }
  windowDue_.clear();

  auto emit = [&](Segment& segment) {
    // Encoded straight from the segment, which stays until acknowledged.
    const std::size_t before = out.size();
    encodeSequenced(segment.type, segment.seq, segment.channel, segment.flags, segment.payload,
                    out);
    countAppended(out.size() - before, used);
    segment.link = link;
  };
  while (used < budget && !resend_.empty()) {
    const std::uint64_t seq = *resend_.begin();
    resend_.erase(resend_.begin());
    Segment& segment = unacked_[seq - unacked_.front().seq];
    counters_.retransmittedBytes += segment.payload.size();
    emit(segment);
  }
  while (used < budget) {
    Segment segment;
    if (!cutSegment(budget - used, segment)) break;
    unackedBytes_ += segment.payload.size();
    unacked_.push_back(std::move(segment));
    emit(unacked_.back());
  }
  return used;
}

std::optional<std::uint32_t> SessionCore::nextSendingChannel(bool priorityOnly) {
  auto ready = [this](const ChannelState& c) {
    if (c.queue.empty()) return false;
    const Outgoing& front = c.queue.front();
    if (front.type != FrameType::data || front.bytes.size() == front.offset) return true;
    return c.creditUsed - c.peerConsumed < options_.channelWindowBytes;
  };
  if (ready(channels_[0])) return 0u;
  if (priorityOnly || channels_.size() == 1) return std::nullopt;
  // Round robin over the other channels, starting after the one served last.
  auto it = channels_.upper_bound(roundRobin_);
  for (std::size_t n = 0; n < channels_.size(); ++n, ++it) {
    if (it == channels_.end()) it = channels_.begin();
    if (it->first != 0 && ready(it->second)) {
      roundRobin_ = it->first;
      return it->first;
    }
  }
  return std::nullopt;
}

bool SessionCore::cutSegment(std::size_t, Segment& out) {
  if (failed_) return false;
  const bool full = unackedBytes_ >= options_.retransmitBufferBytes;
  if (full && unackedBytes_ >= options_.retransmitBufferBytes + options_.priorityReserveBytes) {
    return false;
  }
  auto channel = nextSendingChannel(full);
  if (!channel) return false;
  auto& state = channels_[*channel];
  Outgoing& front = state.queue.front();
  out.seq = nextSeq_++;
  out.type = front.type;
  out.channel = *channel;
  out.flags = 0;
  out.link = -1;
  if (front.type != FrameType::data) {
    out.payload = std::move(front.bytes);
    state.queue.pop_front();
    // Closed both ways and nothing left to send or deliver: forget the channel.
    if (out.type == FrameType::close && state.peerClosed && state.held.empty() && *channel != 0) {
      channels_.erase(*channel);
    }
  } else {
    const std::uint64_t credit =
        options_.channelWindowBytes - (state.creditUsed - state.peerConsumed);
    const std::size_t n = std::min<std::size_t>(
        {options_.segmentBytes, kMaxSegmentBytes, front.bytes.size() - front.offset, credit});
    if (front.offset == 0) out.flags |= kBeginMessage;
    if (front.offset + n == front.bytes.size()) out.flags |= kEndMessage;
    if (front.offset == 0 && n == front.bytes.size()) {
      out.payload = std::move(front.bytes);
    } else {
      out.payload.assign(front.bytes, front.offset, n);
    }
    front.offset += n;
    state.creditUsed += n;
    state.queuedBytes -= n;
    counters_.bytesSent += n;
    if (out.flags & kEndMessage) state.queue.pop_front();
    if (state.aboveLowWater && state.queuedBytes < options_.channelLowWaterBytes) {
      state.aboveLowWater = false;
      events_.push_back(event::Writable{*channel});
    }
  }
  return true;
}

// --- receiving ----------------------------------------------------------------------------

void SessionCore::receive(int link, Frame&& frame, TimePoint now) {
  auto it = links_.find(link);
  if (it == links_.end()) return;  // a late frame from a link already dropped
  it->second.lastHeard = now;
  lastHeard_ = now;
  switch (frame.type) {
    case FrameType::hello:
    case FrameType::helloAck:
    case FrameType::refuse:
      throw ProtocolError(std::string("unexpected ") + frameTypeName(frame.type) +
                          " frame on an established link");
    case FrameType::data:
    case FrameType::open:
    case FrameType::close: {
      const std::size_t size = frame.payload.size();
      if (frame.seq < receiveNext_ || reorder_.count(frame.seq) != 0) {
        counters_.duplicateBytes += size;
        if (!ackDue_) ackDue_ = now + options_.ackDelay;
        return;
      }
      if (frame.seq - receiveNext_ > kMaxReorderSegments ||
          reorderBytes_ + size > kMaxReorderBytes) {
        throw ProtocolError("seq " + std::to_string(frame.seq) + " is far ahead of the expected " +
                            std::to_string(receiveNext_) + " (" + std::to_string(reorderBytes_) +
                            " bytes already waiting)");
      }
      reorderBytes_ += size;
      reorder_.emplace(frame.seq, Segment{frame.seq, frame.type, frame.channel, frame.flags,
                                          std::move(frame.payload)});
      while (!reorder_.empty() && reorder_.begin()->first == receiveNext_) {
        Segment segment = std::move(reorder_.begin()->second);
        reorder_.erase(reorder_.begin());
        reorderBytes_ -= segment.payload.size();
        ++receiveNext_;
        deliver(std::move(segment), now);
      }
      unackedReceived_ += size + kFrameHeaderBytes;
      // Ack at least every eighth of the peer's buffer (assumed equal to ours) so it never
      // stalls on a full retransmit buffer; otherwise after a short delay, batching acks.
      if (unackedReceived_ >= options_.retransmitBufferBytes / 8) {
        ackDue_ = now;
      } else if (!ackDue_) {
        ackDue_ = now + options_.ackDelay;
      }
      return;
    }
    case FrameType::ack:
      if (frame.ack > nextSeq_) {
        throw ProtocolError("ack of seq " + std::to_string(frame.ack) + ", but only " +
                            std::to_string(nextSeq_) + " were sent");
      }
      acknowledge(frame.ack);
      return;
    case FrameType::window: {
      auto c = channels_.find(frame.channel);
      if (c == channels_.end()) return;  // closed on both sides since
      if (frame.value > c->second.creditUsed) {
        throw ProtocolError("channel " + std::to_string(frame.channel) + ": peer consumed " +
                            std::to_string(frame.value) + " bytes of " +
                            std::to_string(c->second.creditUsed) + " sent");
      }
      c->second.peerConsumed = std::max(c->second.peerConsumed, frame.value);
      return;
    }
    case FrameType::ping:
      it->second.pong = frame.value;  // a flood of pings costs one pong
      return;
    case FrameType::pong:
      if (frame.value == it->second.pingNonce) {
        auto sample =
            std::chrono::duration_cast<std::chrono::microseconds>(now - it->second.pingSentAt);
        auto& srtt = counters_.smoothedRtt;
        srtt = srtt.count() == 0 ? sample : (7 * srtt + sample) / 8;  // RFC 6298's alpha
        it->second.pingNonce = 0;
      }
      return;
    case FrameType::goodbye:
      events_.push_back(event::PeerGoodbye{std::move(frame.payload)});
      return;
  }
}

SessionCore::ChannelState& SessionCore::channelOrThrow(std::uint32_t channel, const char* what) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) {
    throw ProtocolError(std::string(what) + " on unknown channel " + std::to_string(channel));
  }
  return it->second;
}

void SessionCore::deliver(Segment&& segment, TimePoint) {
  const std::uint32_t id = segment.channel;
  if (segment.type == FrameType::open) {
    const bool ours = (id % 2 == 1) == initiator_;
    if (id == 0 || ours || channels_.count(id) != 0) {
      throw ProtocolError("peer opened channel " + std::to_string(id) +
                          ", which is not its to open");
    }
    if (channels_.size() >= kMaxChannels) {
      throw ProtocolError("peer opened more than " + std::to_string(kMaxChannels) + " channels");
    }
    channels_[id];
    events_.push_back(event::ChannelOpened{id, std::move(segment.payload)});
    return;
  }
  auto& state = channelOrThrow(id, frameTypeName(segment.type));
  checkFraming(id, state, segment);
  if (state.paused || !state.held.empty()) {
    state.heldBytes += segment.payload.size();
    state.held.push_back(std::move(segment));
    return;
  }
  consume(id, state, std::move(segment));
}

// Everything that makes a segment invalid is checked on arrival, so held segments are known
// good when the application later resumes the channel (nothing can throw there).
void SessionCore::checkFraming(std::uint32_t id, ChannelState& state, const Segment& segment) {
  const std::string channel = "channel " + std::to_string(id);
  if (state.peerClosed) {
    throw ProtocolError(std::string(frameTypeName(segment.type)) + " on " + channel +
                        " after the peer closed it");
  }
  if (segment.type == FrameType::close) {
    if (state.inMessage) throw ProtocolError(channel + " closed in the middle of a message");
    state.peerClosed = true;
    return;
  }
  if (segment.flags & kBeginMessage) {
    if (state.inMessage) {
      throw ProtocolError(channel + ": a message begins before the previous one ended");
    }
    state.inMessage = true;
    state.messageBytes = 0;
  } else if (!state.inMessage) {
    throw ProtocolError(channel + ": continuation without a beginning");
  }
  const std::size_t size = segment.payload.size();
  state.messageBytes += size;
  if (state.messageBytes > kMaxMessageBytes) {
    throw ProtocolError(channel + ": message exceeds " + std::to_string(kMaxMessageBytes) +
                        " bytes");
  }
  // The sender's credit is its own channelWindowBytes, which may differ from ours; the check
  // only bounds what a peer that ignores credit can make us hold.
  const std::uint64_t limit = std::max<std::uint64_t>(4 * options_.channelWindowBytes, 256u << 20);
  state.receivedBytes += size;
  if (state.receivedBytes - state.windowAnnounced > limit) {
    throw ProtocolError(channel + ": peer sent " +
                        std::to_string(state.receivedBytes - state.windowAnnounced) +
                        " bytes beyond what we consumed (limit " + std::to_string(limit) + ")");
  }
  if (segment.flags & kEndMessage) state.inMessage = false;
}

bool SessionCore::consume(std::uint32_t id, ChannelState& state, Segment&& segment) {
  if (segment.type == FrameType::close) {
    events_.push_back(event::ChannelClosed{id, std::move(segment.payload)});
    if (!state.open && state.queue.empty() && id != 0) {
      channels_.erase(id);
      return false;
    }
    return true;
  }
  const std::size_t size = segment.payload.size();
  if (segment.flags & kBeginMessage) state.assembling.clear();
  if (state.assembling.empty()) {
    state.assembling = std::move(segment.payload);
  } else {
    state.assembling += segment.payload;
  }
  state.consumed += size;
  counters_.bytesReceived += size;
  if (segment.flags & kEndMessage) {
    events_.push_back(event::Message{id, std::move(state.assembling)});
    state.assembling = std::string();
  }
  noteConsumed(id, state);
  return true;
}

void SessionCore::noteConsumed(std::uint32_t id, ChannelState& state) {
  if (state.consumed - state.windowAnnounced >= options_.channelWindowBytes / 4) {
    windowDue_.insert(id);
  }
}

void SessionCore::queueWindowUpdates() {
  for (const auto& [id, state] : channels_) {
    if (state.consumed > 0) windowDue_.insert(id);
  }
}

void SessionCore::acknowledge(std::uint64_t receiveNext) {
  while (!unacked_.empty() && unacked_.front().seq < receiveNext) {
    unackedBytes_ -= unacked_.front().payload.size();
    resend_.erase(unacked_.front().seq);
    unacked_.pop_front();
  }
}

void SessionCore::goodbye(std::string reason) {
  if (reason.size() > kMaxReasonBytes) reason.resize(kMaxReasonBytes);
  goodbye_ = std::move(reason);
}

// --- time ---------------------------------------------------------------------------------

void SessionCore::tick(TimePoint now) {
  for (auto& [id, link] : links_) {
    if (!link.expired && now - link.lastHeard >= options_.linkTimeout) {
      link.expired = true;
      events_.push_back(event::LinkExpired{id});
    }
  }
  if (links_.empty() && noLinkSince_ && !failed_ &&
      now - *noLinkSince_ >= options_.deadPeerTimeout) {
    failed_ = true;
    std::string reason = "no connection to the peer for " + seconds(options_.deadPeerTimeout);
    if (!lastLinkError_.empty()) reason += " (last: " + lastLinkError_ + ")";
    events_.push_back(event::Failed{std::move(reason)});
  }
}

TimePoint SessionCore::nextDeadline() const {
  TimePoint next = TimePoint::max();
  if (failed_) return next;
  // A due ack or ping needs a link that can take a write now; busy links pull them when their
  // write completes, and with no link they wait for one (counting them would spin the timer).
  bool idleLink = false;
  for (const auto& [id, link] : links_) {
    if (!link.writing) {
      idleLink = true;
      next = std::min(next, link.nextPing);
    }
    if (!link.expired) next = std::min(next, link.lastHeard + options_.linkTimeout);
  }
  if (ackDue_ && idleLink) next = std::min(next, *ackDue_);
  if (links_.empty() && noLinkSince_)
    next = std::min(next, *noLinkSince_ + options_.deadPeerTimeout);
  return next;
}

SessionCore::Counters SessionCore::counters() const {
  Counters c = counters_;
  c.unackedBytes = unackedBytes_;
  c.linksUp = links_.size();
  return c;
}

}  // namespace ionet::wan
