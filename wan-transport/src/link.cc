// Connections of a session: plain and TLS byte streams, socket tuning, the one-frame hello
// exchange helpers and the link's read/write loops.
#include "src/link.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ionet/asio_write.h"
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
    ionet::asyncWriteAll(socket_, buffer, std::move(handler));
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

// OpenSSL talks to a TlsStream through this BIO: reads take ciphertext straight from the bytes
// the socket delivered (TlsStream::received), writes append records to the bytes the next send
// takes (TlsStream::sealed). Memory BIOs, used before, cost one more copy of every byte each
// way (into the BIO, then out of it).
class StreamBio {
 public:
  struct Buffers {
    std::string received;  // ciphertext from the socket; [receivedAt, receivedEnd) unread
    std::size_t receivedAt = 0;
    std::size_t receivedEnd = 0;
    std::string sealed;  // records OpenSSL wrote, not yet handed to a send
  };

  static BIO* make(Buffers* buffers) {
    BIO* bio = BIO_new(method());
    IONET_ENFORCE(bio != nullptr, "BIO_new failed");
    BIO_set_data(bio, buffers);
    BIO_set_init(bio, 1);
    return bio;
  }

 private:
  static const BIO_METHOD* method() {
    static BIO_METHOD* m = [] {
      BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ionet-stream");
      IONET_ENFORCE(bm != nullptr, "BIO_meth_new failed");
      BIO_meth_set_write_ex(bm, write);
      BIO_meth_set_read_ex(bm, read);
      BIO_meth_set_ctrl(bm, ctrl);
      return bm;
    }();
    return m;
  }
  static Buffers& of(BIO* bio) { return *static_cast<Buffers*>(BIO_get_data(bio)); }

  static int write(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
    of(bio).sealed.append(data, size);
    *written = size;
    return 1;
  }
  static int read(BIO* bio, char* data, std::size_t size, std::size_t* read) {
    auto& b = of(bio);
    BIO_clear_retry_flags(bio);
    const std::size_t n = std::min(size, b.receivedEnd - b.receivedAt);
    if (n == 0) {
      BIO_set_retry_read(bio);  // "wait for the socket", not end of stream
      *read = 0;
      return 0;
    }
    std::memcpy(data, b.received.data() + b.receivedAt, n);
    b.receivedAt += n;
    *read = n;
    return 1;
  }
  static long ctrl(BIO* bio, int cmd, long, void*) {
    switch (cmd) {
      case BIO_CTRL_FLUSH:
        return 1;
      case BIO_CTRL_PENDING:
        return static_cast<long>(of(bio).receivedEnd - of(bio).receivedAt);
      case BIO_CTRL_WPENDING:
        return static_cast<long>(of(bio).sealed.size());
      default:
        return 0;
    }
  }
};

// TLS over a TCP socket, with OpenSSL reading and writing our buffers (StreamBio) instead of
// asio::ssl::stream: asio's engine moves at most one 16 KiB record per send()/recv() (its BIO
// pair holds 17 KiB), which costs 64 system calls per MiB each way. Here a write encrypts the
// whole buffer and sends it with one async_write; a read takes up to 256 KiB of ciphertext at
// once and decrypts every whole record in it. One write and one read may be in flight at a
// time, as for any ByteStream. TLS 1.3 without tickets (tls_context.cc): after the handshake
// only application data flows, so output a read produces (a KeyUpdate answer) simply leaves
// with the next write.
class TlsStream : public ByteStream, public std::enable_shared_from_this<TlsStream> {
 public:
  TlsStream(tcp::socket socket, asio::ssl::context& context)
      : socket_(std::move(socket)), ssl_(SSL_new(context.native_handle())) {
    remote = describeRemote(socket_);
    IONET_ENFORCE(ssl_ != nullptr, "SSL_new failed");
    buffers_.received.resize(kReadChunk);
    BIO* bio = StreamBio::make(&buffers_);
    SSL_set_bio(ssl_, bio, bio);  // the SSL owns the BIO now (one reference for both ends)
  }
  ~TlsStream() override { SSL_free(ssl_); }

  using Done = std::function<void(const asio::error_code&)>;

  void handshake(bool client, Done done) {
    if (client) {
      SSL_set_connect_state(ssl_);
    } else {
      SSL_set_accept_state(ssl_);
    }
    handshakeStep(std::move(done));
  }

  void readSome(asio::mutable_buffer buffer, Handler handler) override {
    std::size_t total = 0;
    int error = SSL_ERROR_NONE;
    ERR_clear_error();
    // Every whole record already received, as far as the buffer reaches.
    while (total < buffer.size()) {
      std::size_t n = 0;
      const int r =
          SSL_read_ex(ssl_, static_cast<char*>(buffer.data()) + total, buffer.size() - total, &n);
      if (r != 1) {
        error = SSL_get_error(ssl_, r);
        break;
      }
      total += n;
    }
    if (total > 0) {
      return asio::post(socket_.get_executor(),
                        [handler = std::move(handler), total] { handler({}, total); });
    }
    if (error == SSL_ERROR_WANT_READ) {
      // OpenSSL wants more than is left, so it has taken all of it: receive over it.
      auto self = shared_from_this();
      return receive(
          [self, buffer, handler = std::move(handler)](const asio::error_code& ec) mutable {
            if (ec) return handler(ec, 0);
            self->readSome(buffer, std::move(handler));
          });
    }
    const auto ec =
        error == SSL_ERROR_ZERO_RETURN ? asio::error_code(asio::error::eof) : sslError();
    asio::post(socket_.get_executor(), [handler = std::move(handler), ec] { handler(ec, 0); });
  }

  void write(asio::const_buffer buffer, Handler handler) override {
    ERR_clear_error();
    std::size_t n = 0;
    if (buffer.size() > 0 && SSL_write_ex(ssl_, buffer.data(), buffer.size(), &n) != 1) {
      const auto ec = sslError();
      return asio::post(socket_.get_executor(),
                        [handler = std::move(handler), ec] { handler(ec, 0); });
    }
    takeSealed();
    auto self = shared_from_this();
    ionet::asyncWriteAll(
        socket_, asio::buffer(output_),
        [self, handler = std::move(handler), size = buffer.size()](
            const asio::error_code& ec, std::size_t) { handler(ec, ec ? 0 : size); });
  }

  void close() override {
    // No TLS close_notify exchange: the session protocol has its own goodbye, and a peer that
    // vanished would make us wait for nothing.
    asio::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  tcp::socket& socket() override { return socket_; }
  std::string authenticatedName() const override { return name_; }

  SSL* ssl() { return ssl_; }
  void setName(std::string name) { name_ = std::move(name); }

 private:
  // What OpenSSL reported, as asio reports it (ERR_get_error in asio's ssl category), so that
  // describeTlsFailure reads it the same way.
  static asio::error_code sslError() {
    const unsigned long e = ERR_get_error();
    if (e == 0) return asio::ssl::error::stream_truncated;
    return {static_cast<int>(e), asio::error::get_ssl_category()};
  }

  // The records OpenSSL has written become the next send (output_; both buffers keep their
  // capacity, so a busy link does not allocate). Only when no send is in flight.
  void takeSealed() {
    output_.swap(buffers_.sealed);
    buffers_.sealed.clear();
  }

  // Receives the next ciphertext into the BIO's (empty) input.
  void receive(std::function<void(const asio::error_code&)> done) {
    auto self = shared_from_this();
    socket_.async_read_some(
        asio::buffer(buffers_.received),
        [self, done = std::move(done)](const asio::error_code& ec, std::size_t n) {
          self->buffers_.receivedAt = 0;
          self->buffers_.receivedEnd = ec ? 0 : n;
          done(ec);
        });
  }

  void handshakeStep(Done done) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    const int error = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
    const asio::error_code failure =
        error == SSL_ERROR_NONE || error == SSL_ERROR_WANT_READ ? asio::error_code() : sslError();
    auto self = shared_from_this();
    // After the output is sent: done, failed, or wait for the peer's next flight.
    auto next = [self, error, failure,
                 done = std::move(done)](const asio::error_code& sent) mutable {
      if (failure) return done(failure);
      if (sent) return done(sent);
      if (error == SSL_ERROR_NONE) return done({});
      self->receive([self, done = std::move(done)](const asio::error_code& ec) mutable {
        if (ec) return done(ec == asio::error::eof ? asio::ssl::error::stream_truncated : ec);
        self->handshakeStep(std::move(done));
      });
    };
    // Whatever the handshake produced (a flight, or an alert before failing) goes out first.
    if (buffers_.sealed.empty()) return next({});
    takeSealed();
    ionet::asyncWriteAll(
        socket_, asio::buffer(output_),
        [next = std::move(next)](const asio::error_code& ec, std::size_t) mutable { next(ec); });
  }

  tcp::socket socket_;
  SSL* ssl_;
  StreamBio::Buffers buffers_;
  std::string output_;  // the send in flight
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
  stream->handshake(
      client, [stream, timer, done = std::move(done), timeout](const asio::error_code& ec) {
        const bool timedOut = timer->expiry() <= asio::steady_timer::clock_type::now();
        timer->cancel();
        if (ec) {
          std::string why =
              timedOut ? "no TLS handshake within " + std::to_string(timeout.count()) + " ms"
                       : describeTlsFailure(stream->ssl(), ec);
          stream->close();
          return done(nullptr, "TLS handshake with " + stream->remote + " failed: " + why);
        }
        try {
          stream->setName(authenticatedPeer(stream->ssl()));
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
  stream_->readSome(
      asio::buffer(space.data, space.size), [self](const asio::error_code& ec, std::size_t n) {
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
