#include "observe/http_endpoint.h"

#include <httplib.h>
#include <sys/socket.h>

#include <thread>

#include "ionet/error.h"
#include "ionet/log.h"

namespace ionet::observe {
namespace {

// Limits that keep one client from holding the listener: a client silent for kReadTimeout in
// the middle of a request, or idle that long on a kept-alive connection, is closed (a slowloris
// client that stops); bodies over kMaxBody are refused (GET only), and a request line or header
// over cpp-httplib's 8 KiB limit is answered 400 by the library itself. The same timeout bounds
// how long the destructor waits for a worker busy with such a client (cpp-httplib joins them),
// so it is short: a request of a few hundred bytes needs no more.
constexpr int kReadTimeoutSeconds = 2;
constexpr int kThreads = 8;
constexpr std::size_t kMaxBody = 64 * 1024;

std::string regexLiteral(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::uint16_t parsePort(const std::string& text, const std::string& what,
                        const std::string& whole) {
  if (text.empty() || text.size() > 5 ||
      text.find_first_not_of("0123456789") != std::string::npos || std::stoul(text) > 65535) {
    throw UsageError(what + ": '" + whole + "' is not HOST:PORT with a port from 0 to 65535");
  }
  return static_cast<std::uint16_t>(std::stoul(text));
}

}  // namespace

ListenAddress parseListenAddress(const std::string& text, const std::string& what) {
  ListenAddress a;
  if (text.empty()) throw UsageError(what + ": an empty address (give HOST:PORT or PORT)");
  if (text.front() == '[') {
    const auto close = text.find("]:");
    if (close == std::string::npos) {
      throw UsageError(what + ": '" + text + "' is not [IPV6]:PORT");
    }
    a.host = text.substr(1, close - 1);
    a.port = parsePort(text.substr(close + 2), what, text);
    return a;
  }
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    a.port = parsePort(text, what, text);
    return a;
  }
  if (colon > 0) a.host = text.substr(0, colon);
  if (a.host.find(':') != std::string::npos) {
    throw UsageError(what + ": '" + text + "': write an IPv6 address in brackets, [ADDR]:PORT");
  }
  a.port = parsePort(text.substr(colon + 1), what, text);
  return a;
}

struct HttpEndpoint::Server {
  httplib::Server http;
  std::thread thread;
};

HttpEndpoint::HttpEndpoint(const ListenAddress& address, std::map<std::string, HttpHandler> routes)
    : server_(std::make_unique<Server>()), host_(address.host) {
  auto& http = server_->http;
  http.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  http.set_read_timeout(kReadTimeoutSeconds, 0);
  http.set_write_timeout(kReadTimeoutSeconds, 0);
  http.set_keep_alive_timeout(kReadTimeoutSeconds);
  http.set_payload_max_length(kMaxBody);
  // cpp-httplib sets SO_REUSEPORT by default, which would let a second listener (another of
  // the user's daemons) share the port silently: only SO_REUSEADDR.
  http.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  for (auto& [path, handler] : routes) {
    http.Get(regexLiteral(path), [handler](const httplib::Request& req, httplib::Response& res) {
      HttpQuery query(req.params.begin(), req.params.end());
      HttpResponse r;
      try {
        r = handler(query);
      } catch (const std::exception& e) {
        r = {500, "text/plain; charset=utf-8", std::string(e.what()) + "\n"};
      }
      res.status = r.status;
      res.set_header("Cache-Control", "no-store");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_content(r.body, r.contentType.c_str());
    });
  }
  // Anything else a client sends: a short answer, never the request echoed back.
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::to_string(res.status) + "\n", "text/plain; charset=utf-8");
  });
  const int port = address.port == 0
                       ? http.bind_to_any_port(address.host)
                       : (http.bind_to_port(address.host, address.port) ? address.port : -1);
  if (port <= 0) {
    throw Error("cannot listen on " + address.host + ":" + std::to_string(address.port) +
                " (address in use or not this machine's)");
  }
  port_ = static_cast<std::uint16_t>(port);
  server_->thread = std::thread([this] { server_->http.listen_after_bind(); });
  // stop() before the loop runs would be lost (and the destructor's join would hang): return
  // once it serves.
  while (!http.is_running()) std::this_thread::yield();
}

HttpEndpoint::~HttpEndpoint() {
  server_->http.stop();
  if (server_->thread.joinable()) server_->thread.join();
}

std::string HttpEndpoint::url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

}  // namespace ionet::observe
