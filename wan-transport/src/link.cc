// Connections of a session: plain and TLS byte streams, socket tuning, the one-frame hello
// exchange helpers and the link's read/write loops.
#include "src/link.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "ionet/log.h"
#include "ionet/wan/credentials.h"

namespace ionet::wan {
namespace {

using asio::ip::tcp;

constexpr std::size_t kReadChunk = 256u << 10;

class PlainStream : public ByteStream {
 public:
  explicit PlainStream(tcp::socket socket) : socket_(std::move(socket)) {
    remote = describeRemote(socket_);
  }
  void readSome(asio::mutable_buffer buffer, Handler handler) override {
    socket_.async_read_some(buffer, std::move(handler));
  }
  void write(asio::const_buffer buffer, Handler handler) override {
    asio::async_write(socket_, buffer, std::move(handler));
  }
  void close() override {
    asio::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  tcp::socket& socket() override { return socket_; }
  std::string authenticatedName() const override { return {}; }

 private:
  tcp::socket socket_;
};

class TlsStream : public ByteStream {
 public:
  TlsStream(tcp::socket socket, asio::ssl::context& context) : stream_(std::move(socket), context) {
    remote = describeRemote(stream_.next_layer());
  }
  void readSome(asio::mutable_buffer buffer, Handler handler) override {
    stream_.async_read_some(buffer, std::move(handler));
  }
  void write(asio::const_buffer buffer, Handler handler) override {
    asio::async_write(stream_, buffer, std::move(handler));
  }
  void close() override {
    // No TLS close_notify exchange: the session protocol has its own goodbye, and a peer that
    // vanished would make us wait for nothing.
    asio::error_code ec;
    stream_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream_.next_layer().close(ec);
  }
  tcp::socket& socket() override { return stream_.next_layer(); }
  std::string authenticatedName() const override { return name_; }

  asio::ssl::stream<tcp::socket>& ssl() { return stream_; }
  void setName(std::string name) { name_ = std::move(name); }

 private:
  asio::ssl::stream<tcp::socket> stream_;
  std::string name_;
};

}  // namespace

std::string describeRemote(const tcp::socket& socket) {
  asio::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown peer";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::shared_ptr<ByteStream> plainStream(tcp::socket socket) {
  return std::make_shared<PlainStream>(std::move(socket));
}

void secureStream(tcp::socket socket, asio::ssl::context& context, bool client,
                  std::chrono::milliseconds timeout,
                  std::function<void(std::shared_ptr<ByteStream>, std::string)> done) {
  auto executor = socket.get_executor();
  auto stream = std::make_shared<TlsStream>(std::move(socket), context);
  auto timer = std::make_shared<asio::steady_timer>(executor, timeout);
  timer->async_wait([stream](const asio::error_code& ec) {
    if (!ec) stream->close();  // the handshake fails with operation_aborted
  });
  auto type = client ? asio::ssl::stream_base::client : asio::ssl::stream_base::server;
  stream->ssl().async_handshake(
      type, [stream, timer, done = std::move(done), timeout](const asio::error_code& ec) {
        const bool timedOut = timer->expiry() <= asio::steady_timer::clock_type::now();
        timer->cancel();
        if (ec) {
          std::string why =
              timedOut ? "no TLS handshake within " + std::to_string(timeout.count()) + " ms"
                       : describeTlsFailure(stream->ssl().native_handle(), ec);
          stream->close();
          return done(nullptr, "TLS handshake with " + stream->remote + " failed: " + why);
        }
        try {
          stream->setName(authenticatedPeer(stream->ssl().native_handle()));
        } catch (const std::exception& e) {
          stream->close();
          return done(nullptr, "TLS peer " + stream->remote + " refused: " + e.what());
        }
        done(stream, "");
      });
}

std::string tuneSocket(tcp::socket& socket, const SessionOptions& options) {
  asio::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  const int fd = socket.native_handle();
  if (!options.congestion.empty() &&
      ::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, options.congestion.data(),
                   socklen_t(options.congestion.size())) != 0) {
    static bool warned = false;  // once per process: every connection would say the same
    if (!warned) {
      log::debug("TCP congestion control '", options.congestion,
                 "' unavailable; using the kernel default");
      warned = true;
    }
  }
  if (options.notSentLowWaterBytes > 0) {
    const int lowat = int(options.notSentLowWaterBytes);
    ::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
  }
  if (options.socketBufferBytes > 0) {
    // The *FORCE variants pass net.core.[rw]mem_max when we are root; else the plain ones.
    const int size = int(options.socketBufferBytes);
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
  }
  char used[32] = {};
  socklen_t length = sizeof used - 1;
  ::getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, used, &length);
  return used;
}

namespace {

// Reads until one whole frame is buffered, or the timeout closes the stream.
class OneFrameReader : public std::enable_shared_from_this<OneFrameReader> {
 public:
  using Done = std::function<void(std::optional<Frame>, std::string)>;
  OneFrameReader(std::shared_ptr<ByteStream> stream, std::shared_ptr<FrameReader> reader,
                 std::chrono::milliseconds timeout, Done done)
      : stream_(std::move(stream)),
        reader_(std::move(reader)),
        timer_(stream_->socket().get_executor()),
        timeout_(timeout),
        done_(std::move(done)) {}

  void start() {
    auto self = shared_from_this();
    timer_.expires_after(timeout_);
    timer_.async_wait([self](const asio::error_code& ec) {
      if (ec) return;
      self->timedOut_ = true;
      self->stream_->close();
    });
    step();
  }

 private:
  void step() {
    try {
      if (auto frame = reader_->next()) return finish(std::move(frame), "");
    } catch (const FrameError& e) {
      return finish(std::nullopt, std::string("malformed frame: ") + e.what());
    }
    auto self = shared_from_this();
    stream_->readSome(asio::buffer(buffer_), [self](const asio::error_code& ec, std::size_t n) {
      if (ec) {
        return self->finish(std::nullopt, self->timedOut_
                                              ? "nothing received within " +
                                                    std::to_string(self->timeout_.count()) + " ms"
                                          : ec == asio::error::eof ? "connection closed by peer"
                                                                   : ec.message());
      }
      self->reader_->append(std::string_view(self->buffer_.data(), n));
      self->step();
    });
  }
  void finish(std::optional<Frame> frame, std::string error) {
    timer_.cancel();
    done_(std::move(frame), std::move(error));
  }

  std::shared_ptr<ByteStream> stream_;
  std::shared_ptr<FrameReader> reader_;
  asio::steady_timer timer_;
  std::chrono::milliseconds timeout_;
  Done done_;
  std::string buffer_ = std::string(4096, '\0');
  bool timedOut_ = false;
};

}  // namespace

void readOneFrame(std::shared_ptr<ByteStream> stream, std::shared_ptr<FrameReader> reader,
                  std::chrono::milliseconds timeout,
                  std::function<void(std::optional<Frame>, std::string)> done) {
  std::make_shared<OneFrameReader>(std::move(stream), std::move(reader), timeout, std::move(done))
      ->start();
}

void writeOneFrame(std::shared_ptr<ByteStream> stream, const Frame& frame,
                   std::function<void(std::string)> done) {
  auto bytes = std::make_shared<std::string>();
  encodeFrame(frame, *bytes);
  stream->write(asio::buffer(*bytes),
                [stream, bytes, done = std::move(done)](const asio::error_code& ec, std::size_t) {
                  done(ec ? ec.message() : "");
                });
}

Link::Link(int id, std::shared_ptr<ByteStream> stream, std::shared_ptr<FrameReader> reader,
           std::weak_ptr<LinkOwner> owner)
    : id_(id), stream_(std::move(stream)), reader_(std::move(reader)), owner_(std::move(owner)) {}

Link::~Link() { stream_->close(); }

void Link::start() {
  // Frames that arrived with the hello exchange come first.
  auto self = shared_from_this();
  asio::post(stream_->socket().get_executor(), [self] {
    try {
      while (auto frame = self->reader_->next()) {
        if (self->closed_) return;
        if (auto owner = self->owner_.lock()) owner->linkFrame(self->id_, std::move(*frame));
      }
    } catch (const FrameError& e) {
      return self->fail(std::string("malformed frame: ") + e.what());
    }
    self->readMore();
  });
}

void Link::readMore() {
  if (closed_) return;
  auto self = shared_from_this();
  const auto space = reader_->prepare(kReadChunk);  // read straight into the frame decoder
  stream_->readSome(asio::buffer(space.data, space.size), [self](const asio::error_code& ec,
                                                                  std::size_t n) {
    if (self->closed_) return;
    if (ec) {
      return self->fail(ec == asio::error::eof ? "connection closed by peer" : ec.message());
    }
    self->reader_->commit(n);
    try {
      while (auto frame = self->reader_->next()) {
        auto owner = self->owner_.lock();
        if (!owner || self->closed_) return;
        owner->linkFrame(self->id_, std::move(*frame));
      }
    } catch (const FrameError& e) {
      return self->fail(std::string("malformed frame: ") + e.what());
    }
    self->readMore();
  });
}

void Link::write(std::string bytes) {
  if (closed_) return;
  writing_ = true;
  writeBuffer_ = std::move(bytes);
  auto self = shared_from_this();
  stream_->write(asio::buffer(writeBuffer_), [self](const asio::error_code& ec, std::size_t) {
    self->writing_ = false;
    self->spare_ = std::move(self->writeBuffer_);
    if (self->closed_) return;
    if (ec) return self->fail(ec.message());
    if (auto owner = self->owner_.lock()) owner->linkWritten(self->id_);
  });
}

std::string Link::takeBuffer() {
  std::string buffer = std::move(spare_);
  buffer.clear();
  return buffer;
}

void Link::close() {
  if (closed_) return;
  closed_ = true;
  stream_->close();
}

void Link::fail(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  stream_->close();
  if (auto owner = owner_.lock()) owner->linkFailed(id_, reason);
}

}  // namespace ionet::wan
