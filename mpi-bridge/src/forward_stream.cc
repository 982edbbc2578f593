#include "forward_stream.h"

#include <cerrno>

#include "ionet/asio_write.h"
#include "ionet/log.h"

namespace ionet::bridge {
namespace {

// Bytes read from a rank per channel message: large enough that per-message costs vanish,
// small enough to interleave connections sharing a session.
constexpr std::size_t kChunkBytes = 256u << 10;
// Above this much queued in one direction the reader stops until it drains below kLowWater.
constexpr std::size_t kHighWaterBytes = 8u << 20;
constexpr std::size_t kLowWaterBytes = 2u << 20;

}  // namespace

std::string encodeStatus(int error) {
  const auto v = static_cast<std::uint32_t>(error);
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

bool decodeStatus(const std::string& message, int* error) {
  if (message.size() != 4) return false;
  const auto* b = reinterpret_cast<const unsigned char*>(message.data());
  *error = static_cast<int>((std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                            (std::uint32_t{b[2]} << 8) | b[3]);
  return true;
}

ForwardStream::ForwardStream(asio::ip::tcp::socket socket,
                             std::shared_ptr<wan::SessionChannel> channel,
                             std::shared_ptr<ForwardCounters> counters, std::string what)
    : socket_(std::move(socket)),
      channel_(std::move(channel)),
      counters_(std::move(counters)),
      what_(std::move(what)) {
  ++counters_->live;
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
}

void ForwardStream::startDialer(std::function<std::string(int)> replyFor,
                                std::chrono::milliseconds statusTimeout) {
  auto self = shared_from_this();
  replyFor_ = std::move(replyFor);
  awaitingStatus_ = true;
  statusTimer_ = std::make_unique<asio::steady_timer>(socket_.get_executor(), statusTimeout);
  statusTimer_->async_wait([self](const asio::error_code& ec) {
    if (ec || !self->awaitingStatus_) return;
    log::warn("forwarder: ", self->what_, ": no answer from the destination host in time");
    self->onChannelMessage(encodeStatus(ETIMEDOUT));
  });
  channel_->start({[self](std::string m) { self->onChannelMessage(std::move(m)); },
                   [self](const std::string& reason) { self->onChannelClosed(reason); }});
}

void ForwardStream::startAcceptor(std::string preamble) {
  auto self = shared_from_this();
  queueToSocket(std::move(preamble));
  channel_->start({[self](std::string m) { self->onChannelMessage(std::move(m)); },
                   [self](const std::string& reason) { self->onChannelClosed(reason); }});
  channel_->send(encodeStatus(0));
  startPumping();
}

void ForwardStream::startPumping() {
  std::weak_ptr<ForwardStream> weak = shared_from_this();
  channel_->onWritable([weak] {
    auto self = weak.lock();
    if (self && self->readBlocked_) {
      self->readBlocked_ = false;
      self->readSocket();
    }
  });
  readSocket();
}

void ForwardStream::readSocket() {
  if (stopped_ || socketEnded_) return;
  if (channel_->queuedBytes() >= kHighWaterBytes) {
    readBlocked_ = true;  // onWritable brings us back
    return;
  }
  auto self = shared_from_this();
  // One read buffer per stream, reused; the message gets a copy of just the bytes read. A fresh
  // 256 KiB buffer per read, as before, was zero-filled for ~50 KB of data: a rank's writes
  // reach the forwarder a loopback segment at a time (4 % of a sending agent's time).
  if (readBuffer_.empty()) readBuffer_.resize(kChunkBytes);
  socket_.async_read_some(
      asio::buffer(readBuffer_), [self](const asio::error_code& ec, std::size_t n) {
        if (self->stopped_) return;
        if (ec) {
          // The rank closed (or reset) its end: pass the close on after what is queued.
          self->socketEnded_ = true;
          if (ec != asio::error::eof) log::debug("forwarder: ", self->what_, ": ", ec.message());
          self->channel_->close();
          return self->maybeCloseSocket();
        }
        self->counters_->bytesOut += n;
        self->channel_->send(std::string(self->readBuffer_.data(), n));
        self->readSocket();
      });
}

void ForwardStream::onChannelMessage(std::string message) {
  if (stopped_) return;
  if (awaitingStatus_) {
    awaitingStatus_ = false;
    statusTimer_->cancel();
    int error = EPROTO;
    if (!decodeStatus(message, &error)) {
      log::warn("forwarder: ", what_, ": malformed status from the destination host");
      error = EPROTO;
    }
    queueToSocket(replyFor_(error));
    if (error != 0) {
      log::debug("forwarder: ", what_, ": ", std::strerror(error));
      channel_->close();
      closeAfterWrite_ = true;
      return maybeCloseSocket();
    }
    return startPumping();
  }
  counters_->bytesIn += message.size();
  queueToSocket(std::move(message));
}

void ForwardStream::queueToSocket(std::string bytes) {
  if (bytes.empty()) return;
  outBytes_ += bytes.size();
  out_.push_back(std::move(bytes));
  if (outBytes_ >= kHighWaterBytes && !channelPaused_) {
    channelPaused_ = true;
    channel_->pause();
  }
  writeSocket();
}

void ForwardStream::writeSocket() {
  if (writing_ || out_.empty() || stopped_) return;
  writing_ = true;
  auto self = shared_from_this();
  ionet::asyncWriteAll(socket_, asio::buffer(out_.front()),
                       [self](const asio::error_code& ec, std::size_t) {
                         self->writing_ = false;
                         if (self->stopped_) return;
                         if (ec) {
                           log::debug("forwarder: ", self->what_, ": ", ec.message());
                           self->channel_->close();
                           return self->stop();
                         }
                         self->outBytes_ -= self->out_.front().size();
                         self->out_.pop_front();
                         if (self->channelPaused_ && self->outBytes_ < kLowWaterBytes) {
                           self->channelPaused_ = false;
                           self->channel_->resume();
                         }
                         self->writeSocket();
                         self->maybeCloseSocket();
                       });
}

void ForwardStream::onChannelClosed(const std::string& reason) {
  if (reason == "closed locally") return;  // we closed it: the socket side is already ending
  channelEnded_ = true;
  if (awaitingStatus_) {
    awaitingStatus_ = false;
    statusTimer_->cancel();
    queueToSocket(replyFor_(ECONNREFUSED));
    closeAfterWrite_ = true;
  }
  if (reason != "closed by peer") log::warn("forwarder: ", what_, ": ", reason);
  maybeCloseSocket();
}

// The socket closes once nothing more can come for it and what came has been written.
void ForwardStream::maybeCloseSocket() {
  if (stopped_ || writing_ || !out_.empty()) return;
  if (closeAfterWrite_ || channelEnded_ || socketEnded_) stop();
}

void ForwardStream::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (statusTimer_) statusTimer_->cancel();
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  channel_->onWritable(nullptr);
  --counters_->live;
  if (counters_->onStreamStopped) counters_->onStreamStopped();
}

}  // namespace ionet::bridge
