// The relay: preamble on both ends, pairing of diallers with parked connections, and the byte
// pump between them. See relay.h for the protocol.
#include "ionet/wan/relay.h"

#include <algorithm>
#include <deque>
#include <map>

#include "ionet/asio_write.h"
#include "ionet/error.h"
#include "ionet/log.h"
#include "src/link.h"
#include "src/relay.h"

namespace ionet::wan {
namespace {

using asio::ip::tcp;
using Socket = std::shared_ptr<tcp::socket>;

constexpr auto kPreambleTimeout = std::chrono::milliseconds(10000);
constexpr std::size_t kPumpBytes = 256u << 10;
// Parked connections the relay holds at most: they cost a descriptor each, indefinitely.
constexpr std::size_t kMaxParked = 4096;

std::string describeRemote(const tcp::socket& socket) {
  asio::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  return ec ? std::string("unknown peer")
            : ep.address().to_string() + ":" + std::to_string(ep.port());
}

void closeSocket(tcp::socket& socket) {
  asio::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

void writeLine(Socket socket, std::string line, std::function<void(std::string)> done) {
  auto text = std::make_shared<std::string>(std::move(line) + "\n");
  asio::async_write(*socket, asio::buffer(*text),
                    [socket, text, done = std::move(done)](
                        const asio::error_code& ec, std::size_t) { done(ec ? ec.message() : ""); });
}

}  // namespace

void readRelayLine(Socket socket, std::function<void(std::string, std::string)> done) {
  struct State {
    Socket socket;
    std::string line;
    char byte = 0;
    std::function<void(std::string, std::string)> done;
    void next(std::shared_ptr<State> self) {
      asio::async_read(
          *socket, asio::buffer(&byte, 1), [self](const asio::error_code& ec, std::size_t) {
            if (ec) {
              return self->done("", ec == asio::error::eof ? "connection closed" : ec.message());
            }
            if (self->byte == '\n') return self->done(std::move(self->line), "");
            if (self->line.size() >= kMaxRelayLine) {
              return self->done(
                  "", "relay line longer than " + std::to_string(kMaxRelayLine) + " bytes");
            }
            self->line.push_back(self->byte);
            self->next(self);
          });
    }
  };
  auto state = std::make_shared<State>();
  state->socket = std::move(socket);
  state->done = std::move(done);
  state->next(state);
}

void relayDial(Socket socket, const std::string& node, std::chrono::milliseconds timeout,
               std::function<void(std::string)> done) {
  auto timer = std::make_shared<asio::steady_timer>(socket->get_executor(), timeout);
  timer->async_wait([socket](const asio::error_code& ec) {
    if (!ec) closeSocket(*socket);
  });
  writeLine(
      socket, std::string(kRelayGreeting) + " DIAL " + node,
      [socket, timer, done](std::string error) {
        if (!error.empty()) {
          timer->cancel();
          return done(error);
        }
        readRelayLine(socket, [timer, done](std::string line, std::string error) {
          timer->cancel();
          if (!error.empty()) return done(error);
          if (line == "OK") return done("");
          done(line.rfind("ERR ", 0) == 0 ? line.substr(4) : "unexpected answer '" + line + "'");
        });
      });
}

void relayPark(Socket socket, const std::string& node, std::function<void(std::string)> done) {
  writeLine(
      socket, std::string(kRelayGreeting) + " PARK " + node, [socket, done](std::string error) {
        if (!error.empty()) return done(error);
        readRelayLine(socket, [done](std::string line, std::string error) {
          if (!error.empty()) return done(error);
          if (line == "PAIRED") return done("");
          done(line.rfind("ERR ", 0) == 0 ? line.substr(4) : "unexpected answer '" + line + "'");
        });
      });
}

namespace {

class RelayServer : public std::enable_shared_from_this<RelayServer> {
 public:
  RelayServer(asio::io_context& io, const std::string& address, std::uint16_t port)
      : io_(io), acceptor_(io) {
    tcp::endpoint ep(asio::ip::make_address(address), port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    asio::error_code ec;
    acceptor_.bind(ep, ec);
    if (ec)
      throw Error("relay: cannot listen on " + address + ":" + std::to_string(port) + ": " +
                  ec.message());
    acceptor_.listen();
  }

  void start() { acceptNext(); }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  RelayStats stats() const {
    RelayStats s = stats_;
    s.parked = 0;
    for (const auto& [node, queue] : parked_) s.parked += queue.size();
    return s;
  }
  void close() {
    asio::error_code ec;
    acceptor_.close(ec);
    for (auto& [node, queue] : parked_) {
      for (auto& socket : queue) closeSocket(*socket);
    }
    parked_.clear();
  }

 private:
  struct Waiter {
    Socket socket;
    std::shared_ptr<asio::steady_timer> timer;
  };

  void acceptNext() {
    auto self = shared_from_this();
    acceptor_.async_accept([self](const asio::error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
      if (!ec) {
        self->greet(std::make_shared<tcp::socket>(std::move(socket)));
        return self->acceptNext();
      }
      // Out of descriptors (EMFILE) and the like: accepting again at once would spin.
      log::warn("relay: accepting connections: ", ec.message());
      auto timer = std::make_shared<asio::steady_timer>(self->io_, std::chrono::milliseconds(100));
      timer->async_wait([self, timer](const asio::error_code&) { self->acceptNext(); });
    });
  }

  void refuse(Socket socket, const std::string& why) {
    ++stats_.refused;
    log::warn("relay: refused ", describeRemote(*socket), ": ", why);
    writeLine(socket, "ERR " + why, [socket](std::string) { closeSocket(*socket); });
  }

  void greet(Socket socket) {
    auto self = shared_from_this();
    asio::error_code ec;
    socket->set_option(tcp::no_delay(true), ec);
    socket->set_option(asio::socket_base::keep_alive(true), ec);
    auto timer = std::make_shared<asio::steady_timer>(io_, kPreambleTimeout);
    timer->async_wait([socket](const asio::error_code& ec) {
      if (!ec) closeSocket(*socket);
    });
    readRelayLine(socket, [self, socket, timer](std::string line, std::string error) {
      timer->cancel();
      if (!error.empty()) {
        ++self->stats_.refused;
        log::warn("relay: connection from ", describeRemote(*socket), ": ", error);
        return closeSocket(*socket);
      }
      const std::string prefix = std::string(kRelayGreeting) + " ";
      if (line.rfind(prefix, 0) != 0) return self->refuse(socket, "not an ionet relay request");
      const std::string request = line.substr(prefix.size());
      const auto space = request.find(' ');
      const std::string verb = request.substr(0, space);
      const std::string node = space == std::string::npos ? "" : request.substr(space + 1);
      if (node.empty() || node.find(' ') != std::string::npos) {
        return self->refuse(socket, "bad node name in '" + line + "'");
      }
      if (verb == "PARK") return self->park(socket, node);
      if (verb == "DIAL") return self->dial(socket, node);
      self->refuse(socket, "unknown request '" + verb + "'");
    });
  }

  void park(Socket socket, const std::string& node) {
    auto waiting = waiting_.find(node);
    if (waiting != waiting_.end() && !waiting->second.empty()) {
      Waiter dialler = waiting->second.front();
      waiting->second.pop_front();
      if (waiting->second.empty()) waiting_.erase(waiting);
      dialler.timer->cancel();
      return pair(dialler.socket, socket);
    }
    if (parkedCount() >= kMaxParked)
      return refuse(socket, "relay full: too many parked connections");
    parked_[node].push_back(socket);
    // A parked peer sends nothing until paired: a read completing means it went away.
    auto self = shared_from_this();
    auto probe = std::make_shared<char>();
    socket->async_read_some(asio::buffer(probe.get(), 1),
                            [self, socket, node, probe](const asio::error_code& ec, std::size_t) {
                              if (ec == asio::error::operation_aborted) return;  // paired
                              self->unpark(node, socket);
                              closeSocket(*socket);
                            });
  }

  void unpark(const std::string& node, const Socket& socket) {
    auto it = parked_.find(node);
    if (it == parked_.end()) return;
    auto& queue = it->second;
    queue.erase(std::remove(queue.begin(), queue.end(), socket), queue.end());
    if (queue.empty()) parked_.erase(it);
  }

  std::size_t parkedCount() const {
    std::size_t n = 0;
    for (const auto& [node, queue] : parked_) n += queue.size();
    return n;
  }

  void dial(Socket socket, const std::string& node) {
    auto it = parked_.find(node);
    if (it != parked_.end() && !it->second.empty()) {
      Socket parked = it->second.front();
      it->second.pop_front();
      if (it->second.empty()) parked_.erase(it);
      asio::error_code ec;
      parked->cancel(ec);  // stop the departure probe
      return pair(socket, parked);
    }
    // Wait a little for the node to park another connection (it refills after each pairing).
    auto self = shared_from_this();
    auto timer = std::make_shared<asio::steady_timer>(io_, kPreambleTimeout);
    waiting_[node].push_back(Waiter{socket, timer});
    timer->async_wait([self, socket, node](const asio::error_code& ec) {
      if (ec) return;
      // Still waiting? (A pairing may have taken it just as the timer fired.)
      auto it = self->waiting_.find(node);
      if (it == self->waiting_.end()) return;
      auto& queue = it->second;
      auto w = std::find_if(queue.begin(), queue.end(),
                            [&](const Waiter& waiter) { return waiter.socket == socket; });
      if (w == queue.end()) return;
      queue.erase(w);
      if (queue.empty()) self->waiting_.erase(it);
      self->refuse(socket, "node '" + node + "' has no connection parked at this relay");
    });
  }

  void pair(Socket dialler, Socket parked) {
    ++stats_.pairs;
    log::debug("relay: pairing ", describeRemote(*dialler), " with ", describeRemote(*parked));
    auto self = shared_from_this();
    writeLine(parked, "PAIRED", [self, dialler, parked](std::string error) {
      if (!error.empty()) {
        closeSocket(*parked);
        return self->refuse(dialler, "the parked connection broke: " + error);
      }
      writeLine(dialler, "OK", [self, dialler, parked](std::string error) {
        if (!error.empty()) {
          closeSocket(*dialler);
          return closeSocket(*parked);
        }
        self->pump(dialler, parked);
        self->pump(parked, dialler);
      });
    });
  }

  // Copies from -> to until either side closes, then closes both.
  void pump(Socket from, Socket to) {
    auto buffer = std::make_shared<std::vector<char>>(kPumpBytes);
    auto self = shared_from_this();
    from->async_read_some(
        asio::buffer(*buffer), [self, from, to, buffer](const asio::error_code& ec, std::size_t n) {
          if (ec) {
            closeSocket(*from);
            return closeSocket(*to);
          }
          self->stats_.bytesForwarded += n;
          ionet::asyncWriteAll(*to, asio::buffer(buffer->data(), n),
                               [self, from, to, buffer](const asio::error_code& ec, std::size_t) {
                                 if (ec) {
                                   closeSocket(*from);
                                   return closeSocket(*to);
                                 }
                                 self->pump(from, to);
                               });
        });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::map<std::string, std::deque<Socket>> parked_;
  std::map<std::string, std::deque<Waiter>> waiting_;
  RelayStats stats_;
};

class RelayHandle : public Relay {
 public:
  explicit RelayHandle(std::shared_ptr<RelayServer> server) : server_(std::move(server)) {}
  ~RelayHandle() override { server_->close(); }
  std::uint16_t port() const override { return server_->port(); }
  RelayStats stats() const override { return server_->stats(); }
  void close() override { server_->close(); }

 private:
  std::shared_ptr<RelayServer> server_;
};

}  // namespace

std::unique_ptr<Relay> Relay::listen(asio::io_context& io, const std::string& address,
                                     std::uint16_t port) {
  auto server = std::make_shared<RelayServer>(io, address, port);
  server->start();
  return std::make_unique<RelayHandle>(server);
}

}  // namespace ionet::wan
