#include "ionet/jobscripts/web_server.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "hosts/pool_file.h"
#include "ionet/error.h"
#include "ionet/jobscripts/queue_db.h"
#include "observe/metrics_text.h"
#include "web_page.h"

namespace ionet::jobscripts {
namespace {

constexpr const char* kJson = "application/json";

std::string urlFileOf(const QueueDir& q) { return q.path + "/web.url"; }

}  // namespace

std::string statusDir(const QueueDir& q, std::int64_t jobId) { return q.jobDir(jobId) + "/status"; }

namespace {

// run-<pid>.json files of one job, oldest first (by the time each says it was written).
std::vector<nlohmann::json> readRuns(const std::string& dir) {
  std::vector<nlohmann::json> runs;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (name.rfind("run-", 0) != 0 || entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_discarded() && j.is_object()) runs.push_back(std::move(j));
  }
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) {
    return a.value("updated", 0.0) < b.value("updated", 0.0);
  });
  return runs;
}

}  // namespace

WebInputs gatherWebInputs(const QueueDir& q, QueueDb& db, const observe::PoolWatch* watch,
                          WebRunCache& ended) {
  WebInputs in;
  in.pool = watch ? watch->poolName() : q.partition;
  in.now = wallClock();
  in.hosts = watch ? watch->hosts() : queueHostsView(q.hosts, db.downHosts(in.now));
  in.jobs = db.jobs({});
  std::size_t endedShown = 0;
  for (auto it = in.jobs.rbegin(); it != in.jobs.rend(); ++it) {
    const auto& j = *it;
    if (isFinal(j.state)) {
      if (++endedShown > kEndedJobsShown) continue;
      auto cached = ended.find(j.id);
      if (cached == ended.end()) cached = ended.emplace(j.id, readRuns(statusDir(q, j.id))).first;
      if (!cached->second.empty()) in.runs[j.id] = cached->second;
    } else if (j.state == JobState::kRunning) {
      ended.erase(j.id);  // requeued: read again when it ends
      auto runs = readRuns(statusDir(q, j.id));
      if (!runs.empty()) in.runs[j.id] = std::move(runs);
    }
  }
  return in;
}

std::optional<observe::ListenAddress> webListenAddress(const QueueDir& q, const std::string& flag) {
  std::string text = flag, from = "--web-listen";
  if (text.empty()) {
    if (const char* env = std::getenv("IONET_QUEUE_WEB_LISTEN"); env && *env) {
      text = env;
      from = "IONET_QUEUE_WEB_LISTEN";
    }
  }
  if (text.empty() && !q.pool.empty()) {
    const auto pool = launcher::loadPoolFile(q.pool);
    text = pool.webListen;
    from = pool.webListenOrigin + ": web_listen";
  }
  if (text == "off") return std::nullopt;
  if (text.empty()) return observe::ListenAddress{};
  return observe::parseListenAddress(text, from);
}

WebServer::WebServer(const QueueDir& q, const observe::ListenAddress& address)
    : urlFile_(urlFileOf(q)) {
  rendered_.set({"{}", "{}", "{}", ""});
  auto page = [this](const observe::HttpQuery&) {
    lastRequest_ = wallClock();
    return observe::HttpResponse{200, "text/html; charset=utf-8", kWebPage};
  };
  http_ = std::make_unique<observe::HttpEndpoint>(
      address, std::map<std::string, observe::HttpHandler>{
                   {"/", page},
                   {"/index.html", page},
                   {"/api/hosts", [this](auto&) { return serve(&Rendered::hosts, kJson); }},
                   {"/api/links", [this](auto&) { return serve(&Rendered::links, kJson); }},
                   {"/api/jobs", [this](auto&) { return serve(&Rendered::jobs, kJson); }},
                   {"/metrics", [this](auto&) {
                      return serve(&Rendered::metrics, observe::kMetricsContentType);
                    }}});
  // The URL and our pid, so ionet-queue --web can tell a live daemon's file from a stale one.
  const std::string tmp = urlFile_ + ".tmp";
  std::ofstream(tmp) << url() << ' ' << ::getpid() << '\n';
  std::rename(tmp.c_str(), urlFile_.c_str());
}

WebServer::~WebServer() {
  std::remove(urlFile_.c_str());
  http_.reset();
}

observe::HttpResponse WebServer::serve(const std::string Rendered::*part, const char* contentType) {
  lastRequest_ = wallClock();
  const auto r = rendered_.get();
  return {200, contentType, (*r).*part};
}

void WebServer::publish(const WebSnapshot& s) {
  rendered_.set({s.hosts.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                 s.links.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                 s.jobs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), s.metrics});
}

std::string awaitWebUrl(const QueueDir& q, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  for (;;) {
    std::ifstream in(urlFileOf(q));
    std::string url;
    long pid = 0;
    if (in >> url >> pid && pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0) return url;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw Error("the queue daemon of " + q.path +
                  " serves no web page (web listen \"off\", or it could not listen: see " +
                  q.daemonLog() + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the daemon is starting
  }
}

}  // namespace ionet::jobscripts
