// A rank's NCCL comm spliced onto a session channel (see nccl_link_pump.h).
#include "nccl_link_pump.h"

#include <sys/socket.h>

#include <cerrno>

#include "forward_stream.h"
#include "ionet/bridge/nccl_link.h"
#include "ionet/bridge/nccl_socket.h"
#include "ionet/log.h"

namespace ionet::bridge {
namespace {

using namespace std::chrono_literals;
using nccl::LinkHeader;

// Ring bytes handed to the channel per message: one session segment, which the session moves
// whole into its segment and the peer's session delivers without reassembly (measured: 1 MiB
// chunks cost both sessions a copy per byte). And how much the channel may queue before the ring
// is left to fill (the rank's isend then waits): a few segments.
const std::size_t kChunkBytes = wan::SessionOptions{}.segmentBytes;
constexpr std::size_t kChannelQueueLimit = 4u << 20;
// Channel bytes held here while the ring is full, before the channel is paused.
constexpr std::size_t kInboundPauseBytes = 4u << 20;

}  // namespace

NcclLinkPump::NcclLinkPump(asio::io_context& io, Role role, int socket, void* memory,
                           std::shared_ptr<NcclCounters> counters, std::string what,
                           std::function<void()> ended)
    : io_(io),
      role_(role),
      socket_(io, socket),
      memory_(memory),
      counters_(std::move(counters)),
      what_(std::move(what)),
      ended_(std::move(ended)) {}

NcclLinkPump::~NcclLinkPump() { nccl::unmapLinkMemory(memory_); }

void NcclLinkPump::setState(int state) {
  static_cast<LinkHeader*>(memory_)->state.store(state, std::memory_order_release);
}

void NcclLinkPump::startDialer(std::shared_ptr<wan::SessionChannel> channel,
                               std::chrono::milliseconds statusTimeout) {
  channel_ = std::move(channel);
  awaitingStatus_ = true;
  auto self = shared_from_this();
  statusTimer_ = std::make_unique<asio::steady_timer>(io_, statusTimeout);
  statusTimer_->async_wait([self](const asio::error_code& ec) {
    if (ec || !self->awaitingStatus_) return;
    self->fail(ETIMEDOUT, "the peer's agent did not answer");
  });
  channel_->start({[self](std::string m) { self->onChannelMessage(std::move(m)); },
                   [self](const std::string& reason) { self->onChannelClosed(reason); }});
  watchSocket();
}

void NcclLinkPump::startAcceptor(std::shared_ptr<wan::SessionChannel> channel) {
  channel_ = std::move(channel);
  open_ = true;
  setState(nccl::kOpen);
  channel_->send(encodeStatus(0));
  watchSocket();
}

// The rank writes to its socket only to wake us (or closes it): one wait always outstanding.
void NcclLinkPump::watchSocket() {
  auto self = shared_from_this();
  socket_.async_wait(asio::posix::stream_descriptor::wait_read, [self](const asio::error_code& ec) {
    if (ec || self->over_) return;
    self->onSocketReadable();
  });
}

void NcclLinkPump::onSocketReadable() {
  char bytes[64];
  for (;;) {
    const ssize_t n = ::recv(socket_.native_handle(), bytes, sizeof(bytes), MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) rankClosed_ = true;
    break;
  }
  pump();
  if (!over_ && !rankClosed_) watchSocket();
}

void NcclLinkPump::onChannelMessage(std::string message) {
  if (over_) return;
  if (awaitingStatus_) {
    awaitingStatus_ = false;
    statusTimer_->cancel();
    int error = 0;
    if (!decodeStatus(message, &error)) error = EPROTO;
    if (error != 0) return fail(error, "refused by the peer's agent");
    open_ = true;
    setState(nccl::kOpen);
    return pump();
  }
  if (role_ != Role::kReceive) return;  // a send comm receives nothing
  inBytes_ += message.size();
  in_.push_back(std::move(message));
  if (inBytes_ > kInboundPauseBytes && !channelPaused_) {
    channelPaused_ = true;
    channel_->pause();
  }
  pumpIn();
}

void NcclLinkPump::onChannelClosed(const std::string& reason) {
  // Without channel_ we closed it ourselves (fail, close, end): its "closed locally" is ours.
  if (over_ || !channel_) return;
  if (awaitingStatus_) return fail(EHOSTUNREACH, reason);
  if (reason == "closed by peer" && role_ == Role::kReceive) {
    peerClosed_ = true;  // its last bytes are in in_: kPeerClosed once they are in the ring
    channel_.reset();
    return pumpIn();
  }
  if (reason == "closed by peer") {
    log::debug("nccl link ", what_, ": ", reason);
    setState(nccl::kPeerClosed);
  } else {
    log::warn("nccl link ", what_, ": ", reason);
    setState(-ECONNRESET);
  }
  channel_.reset();
  if (rankClosed_) end();
}

void NcclLinkPump::fail(int error, const std::string& why) {
  if (over_) return;
  log::warn("nccl link ", what_, ": ", why);
  awaitingStatus_ = false;
  setState(-error);
  if (channel_) {
    auto channel = std::move(channel_);
    channel->close();
  }
  // The rank learns it from the state; the link ends when it closes its comm.
  if (rankClosed_) end();
}

void NcclLinkPump::pump() {
  if (over_) return;
  if (open_ && channel_) {
    if (role_ == Role::kSend) {
      pumpOut();
    } else {
      pumpIn();
    }
  }
  if (over_) return;
  if (rankClosed_) {
    // The rank's last messages are in the ring (a send comm): pass them on, then say goodbye.
    if (role_ == Role::kSend && channel_ && open_ && nccl::toAgentRing(memory_).readable() > 0) {
      return;  // pumpOut continues on the channel's writable signal
    }
    end();
  }
}

void NcclLinkPump::pumpOut() {
  auto* header = static_cast<LinkHeader*>(memory_);
  nccl::Ring ring = nccl::toAgentRing(memory_);
  for (;;) {
    if (channel_->queuedBytes() >= kChannelQueueLimit) {
      if (!channelWritableArmed_) {
        channelWritableArmed_ = true;
        std::weak_ptr<NcclLinkPump> weak = shared_from_this();
        channel_->onWritable([weak] {
          if (auto self = weak.lock()) self->pump();
        });
      }
      return;
    }
    std::size_t n = ring.readable();
    if (n == 0) {
      // Idle: ask for a wake-up, then look again (the rank may have written meanwhile).
      header->agentWaiting.store(1, std::memory_order_seq_cst);
      if (ring.readable() == 0) return;
      header->agentWaiting.store(0, std::memory_order_relaxed);
      continue;
    }
    std::string chunk;
    chunk.reserve(std::min(n, kChunkBytes));
    ring.readAppend(chunk, std::min(n, kChunkBytes));
    counters_->bytesOut += chunk.size();
    channel_->send(std::move(chunk));
  }
}

void NcclLinkPump::pumpIn() {
  if (!open_ || over_) return;
  auto* header = static_cast<LinkHeader*>(memory_);
  nccl::Ring ring = nccl::toPluginRing(memory_);
  while (!in_.empty()) {
    const std::string& front = in_.front();
    const std::size_t n = ring.write(front.data() + inOffset_, front.size() - inOffset_);
    inOffset_ += n;
    inBytes_ -= n;
    counters_->bytesIn += n;
    if (inOffset_ == front.size()) {
      in_.pop_front();
      inOffset_ = 0;
      continue;
    }
    // The ring is full: wake-up wanted when the rank has read some; look again first.
    header->agentWaiting.store(1, std::memory_order_seq_cst);
    if (ring.writable() == 0) break;
    header->agentWaiting.store(0, std::memory_order_relaxed);
  }
  if (channelPaused_ && inBytes_ < kInboundPauseBytes / 2 && channel_) {
    channelPaused_ = false;
    channel_->resume();
  }
  if (in_.empty() && peerClosed_) setState(nccl::kPeerClosed);
}

void NcclLinkPump::close() {
  if (over_) return;
  if (channel_) {
    auto channel = std::move(channel_);
    channel->close();
  }
  end();
}

void NcclLinkPump::end() {
  if (over_) return;
  over_ = true;
  if (statusTimer_) statusTimer_->cancel();
  if (channel_) {
    auto channel = std::move(channel_);
    channel->close();  // a send comm's last bytes go first: close() sends what is queued
  }
  asio::error_code ignored;
  socket_.close(ignored);
  if (auto ended = std::move(ended_)) ended();
}

}  // namespace ionet::bridge
