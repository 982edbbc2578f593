// An HTTP listener for ionet's daemons (Prometheus /metrics, the queue's web view and JSON API),
// on cpp-httplib. It serves from its own threads: a handler reads a snapshot the daemon
// published (observe/published.h) and never waits on the daemon's event loop, so a scraper
// hammering the endpoint cannot slow a job's control path. Only GET is served; a malformed,
// oversized or too slow request gets a 4xx or is closed, and the listener carries on.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace ionet::observe {

// Where to listen: "PORT", ":PORT", "HOST:PORT", "[V6]:PORT". No host: 127.0.0.1, so nothing is
// reachable from another machine unless the user names an address. Port 0: any free port.
struct ListenAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
};
// Throws UsageError("WHAT: ...") naming `what` (e.g. "--metrics-listen") and the text.
ListenAddress parseListenAddress(const std::string& text, const std::string& what);

struct HttpResponse {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
};

// Query parameters of a GET.
using HttpQuery = std::multimap<std::string, std::string>;
using HttpHandler = std::function<HttpResponse(const HttpQuery& query)>;

class HttpEndpoint {
 public:
  // Binds at once (throws ionet::Error "cannot listen on HOST:PORT: why") and serves `routes`
  // (exact paths) until destroyed. A handler that throws answers 500 with the message.
  HttpEndpoint(const ListenAddress& address, std::map<std::string, HttpHandler> routes);
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://HOST:PORT" (an IPv6 host in brackets; 0.0.0.0 stays as it is).
  std::string url() const;

 private:
  struct Server;
  std::unique_ptr<Server> server_;
  std::string host_;
  std::uint16_t port_ = 0;
};

}  // namespace ionet::observe
