// Plain-TCP channel: frame = 4-byte big-endian payload length, then the payload.
#include "tcp/channel.h"

#include <deque>

#include "ionet/asio_write.h"
#include "ionet/error.h"
#include "ionet/log.h"

namespace ionet::wan::tcp {
namespace {

constexpr std::size_t kHeaderBytes = 4;

std::string describe(const asio::ip::tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

class TcpChannel : public Channel, public std::enable_shared_from_this<TcpChannel> {
 public:
  explicit TcpChannel(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
    asio::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    peer_ = ec ? std::string("unknown peer") : describe(ep);
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  }

  void start(Handlers handlers) override {
    handlers_ = std::move(handlers);
    readHeader();
  }

  void send(std::string message) override {
    if (closed_) return;
    std::string frame(kHeaderBytes, '\0');
    const auto n = static_cast<std::uint32_t>(message.size());
    for (std::size_t i = 0; i < kHeaderBytes; ++i) frame[i] = char((n >> (24 - 8 * i)) & 0xff);
    frame += message;
    queue_.push_back(std::move(frame));
    if (!writing_) writeNext();
  }

  void close() override {
    if (closed_) return;
    closing_ = true;
    if (!writing_) finish("closed locally");
  }

  const std::string& peer() const override { return peer_; }

 private:
  void readHeader() {
    auto self = shared_from_this();
    asio::async_read(socket_, asio::buffer(header_), [self](asio::error_code ec, std::size_t) {
      if (ec) return self->finish(reason(ec));
      std::uint32_t n = 0;
      for (unsigned char c : self->header_) n = (n << 8) | c;
      if (n > kMaxMessageBytes) {
        log::warn("channel from ", self->peer_, ": frame of ", n, " bytes exceeds limit of ",
                  kMaxMessageBytes, "; closing this connection");
        return self->finish("oversized frame");
      }
      self->readBody(n);
    });
  }

  void readBody(std::uint32_t n) {
    body_.resize(n);
    auto self = shared_from_this();
    asio::async_read(socket_, asio::buffer(body_), [self](asio::error_code ec, std::size_t) {
      if (ec) return self->finish(reason(ec));
      if (self->closed_) return;
      self->handlers_.onMessage(std::move(self->body_));
      if (!self->closed_) self->readHeader();
    });
  }

  void writeNext() {
    if (queue_.empty()) {
      writing_ = false;
      if (closing_) finish("closed locally");
      return;
    }
    writing_ = true;
    auto self = shared_from_this();
    ionet::asyncWriteAll(socket_, asio::buffer(queue_.front()),
                         [self](asio::error_code ec, std::size_t) {
                           if (ec) return self->finish(reason(ec));
                           self->queue_.pop_front();
                           self->writeNext();
                         });
  }

  static std::string reason(const asio::error_code& ec) {
    return ec == asio::error::eof ? std::string("peer closed the connection") : ec.message();
  }

  void finish(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    asio::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    queue_.clear();
    if (handlers_.onClose) {
      auto onClose = std::move(handlers_.onClose);
      onClose(why);
    }
  }

  asio::ip::tcp::socket socket_;
  std::string peer_;
  Handlers handlers_;
  std::array<unsigned char, kHeaderBytes> header_{};
  std::string body_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

class TcpListener : public Listener {
 public:
  TcpListener(asio::io_context& io, const asio::ip::tcp::endpoint& ep) : acceptor_(io) {
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
  }

  std::uint16_t port() const override { return acceptor_.local_endpoint().port(); }

  void accept(std::function<void(std::shared_ptr<Channel>)> onChannel) override {
    onChannel_ = std::move(onChannel);
    acceptNext();
  }

  void close() override {
    asio::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  void acceptNext() {
    acceptor_.async_accept([this](asio::error_code ec, asio::ip::tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) onChannel_(std::make_shared<TcpChannel>(std::move(socket)));
      acceptNext();
    });
  }

  asio::ip::tcp::acceptor acceptor_;
  std::function<void(std::shared_ptr<Channel>)> onChannel_;
};

}  // namespace

std::shared_ptr<Channel> connect(asio::io_context& io, const std::string& host,
                                 std::uint16_t port) {
  asio::ip::tcp::socket socket(io);
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (!ec) asio::connect(socket, endpoints, ec);
  IONET_ENFORCE(!ec, "cannot connect to ", host, ":", port, ": ", ec.message());
  return std::make_shared<TcpChannel>(std::move(socket));
}

std::unique_ptr<Listener> listen(asio::io_context& io, const std::string& address,
                                 std::uint16_t port) {
  return std::make_unique<TcpListener>(
      io, asio::ip::tcp::endpoint(asio::ip::make_address(address), port));
}

}  // namespace ionet::wan::tcp
