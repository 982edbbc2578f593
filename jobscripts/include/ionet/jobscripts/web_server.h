// The queue daemon's HTTP side: the web page at "/", the JSON API under "/api/" and the queue's
// Prometheus metrics at "/metrics", served from the listener's threads out of the snapshot the
// daemon publishes after each scheduling pass. Where it listens: ionet-queued --web-listen,
// else $IONET_QUEUE_WEB_LISTEN, else the pool file's web_listen, else 127.0.0.1 on a free port;
// "off" serves nothing. The URL goes into the queue directory's web.url for ionet-queue --web.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "ionet/jobscripts/queue_dir.h"
#include "ionet/jobscripts/web_view.h"
#include "observe/http_endpoint.h"
#include "observe/published.h"

namespace ionet::jobscripts {

class QueueDb;

// The status files of ended jobs, read once (a running job's are read on every pass).
using WebRunCache = std::map<std::int64_t, std::vector<nlohmann::json>>;

// What the snapshot is built from: every job of the database, the hosts (the pool watch's, or
// the queue's own hosts when it has no pool agents), and the status files ionet-run wrote under
// each shown job's IONET_STATUS_DIR. A file that is not JSON is skipped.
WebInputs gatherWebInputs(const QueueDir& q, QueueDb& db, const observe::PoolWatch* watch,
                          WebRunCache& ended);

// A job's IONET_STATUS_DIR.
std::string statusDir(const QueueDir& q, std::int64_t jobId);

// The address to serve at (nullopt: "off"). `flag` is ionet-queued's --web-listen ("" unset).
// Throws UsageError naming where a bad value came from.
std::optional<observe::ListenAddress> webListenAddress(const QueueDir& q, const std::string& flag);

class WebServer {
 public:
  WebServer(const QueueDir& q, const observe::ListenAddress& address);
  ~WebServer();  // removes web.url

  void publish(const WebSnapshot& snapshot);
  std::string url() const { return http_->url(); }
  // Unix seconds of the last request (0: none): an open page keeps the daemon from idling out.
  double lastRequest() const { return lastRequest_.load(); }

 private:
  struct Rendered {
    std::string hosts, links, jobs, metrics;
  };
  observe::HttpResponse serve(const std::string Rendered::*part, const char* contentType);

  std::string urlFile_;
  observe::Published<Rendered> rendered_;
  std::atomic<double> lastRequest_{0};
  std::unique_ptr<observe::HttpEndpoint> http_;
};

// What ionet-queue --web prints: the URL of the daemon serving q, once it is up (waits up to
// `seconds`). Throws Error when it does not serve a page (web listen "off", or it failed).
std::string awaitWebUrl(const QueueDir& q, double seconds);

}  // namespace ionet::jobscripts
