#include "run/job_observer.h"

#include <unistd.h>

#include <chrono>
#include <system_error>

#include "ionet/log.h"
#include "observe/metrics_text.h"
#include "run/job_metrics.h"
#include "run/status_file.h"

namespace ionet::launcher {
namespace {

constexpr auto kPublishEvery = std::chrono::milliseconds(500);
constexpr auto kStatusEvery = std::chrono::seconds(1);

double unixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

JobObserver::JobObserver() : record_("", ::getpid(), unixNow()) {}

JobObserver::JobObserver(const ObserveSettings& settings)
    : enabled_(settings.metricsListen || !settings.statusDir.empty()),
      record_(settings.jobLabel, ::getpid(), unixNow()) {
  if (!enabled_) return;
  publish();
  if (settings.metricsListen) {
    endpoint_ = std::make_unique<observe::HttpEndpoint>(
        *settings.metricsListen,
        std::map<std::string, observe::HttpHandler>{
            {"/metrics", [this](const observe::HttpQuery&) {
               const auto snapshot = published_.get();  // never null: published above
               return observe::HttpResponse{200, observe::kMetricsContentType,
                                            renderJobMetrics(*snapshot, unixNow())};
             }}});
    // With port 0 the line is how a user (or a test) learns the port: printed even with -q.
    if (settings.metricsListen->port == 0 || !settings.quiet) {
      const std::string line = "ionet-run: metrics on " + endpoint_->url() + "/metrics\n";
      ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
      (void)ignored;
    }
  }
  if (!settings.statusDir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(settings.statusDir, ec);
    statusPath_ = statusFilePath(settings.statusDir, ::getpid());
    writer_ = std::thread([this] {
      std::unique_lock lock(writerMutex_);
      while (!writerStop_) {
        lock.unlock();
        writeStatus();
        lock.lock();
        writerWake_.wait_for(lock, kStatusEvery, [this] { return writerStop_; });
      }
    });
  }
}

JobObserver::~JobObserver() {
  stopWriter();
  endpoint_.reset();
}

std::optional<std::uint16_t> JobObserver::metricsPort() const {
  if (!endpoint_) return std::nullopt;
  return endpoint_->port();
}

void JobObserver::publish() { published_.set(record_.snapshot()); }

void JobObserver::writeStatus() {
  const auto snapshot = published_.get();
  if (!snapshot || statusPath_.empty()) return;
  // Host names and labels come from outside: bytes that are not UTF-8 are replaced, not fatal.
  const std::string text = statusJson(*snapshot, unixNow())
                               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                           "\n";
  const std::string why = replaceFile(statusPath_, text);
  if (!why.empty() && !statusWarned_) {
    statusWarned_ = true;
    log::warn("status file: ", why, " (the job goes on without it)");
  }
}

void JobObserver::stopWriter() {
  if (!writer_.joinable()) return;
  {
    std::lock_guard lock(writerMutex_);
    writerStop_ = true;
  }
  writerWake_.notify_all();
  writer_.join();
}

void JobObserver::runStarting(const Placement& placement, const std::string& resumeFrom) {
  if (!enabled_) return;
  record_.runStarting(placement, resumeStepOf(resumeFrom));
  publish();
}

void JobObserver::restarting(const std::string& message, EndCause cause) {
  if (!enabled_) return;
  record_.restarting(message, cause, unixNow());
  publish();
}

void JobObserver::finished(int exitCode) {
  if (!enabled_) return;
  record_.finished(exitCode, unixNow());
  publish();
  stopWriter();
  writeStatus();  // the last word: state "done" with the exit code
}

void JobObserver::fenceIn(const std::string& signature, std::uint64_t id) {
  if (enabled_) record_.fenceIn(signature, id, JobRecord::Clock::now());
}

void JobObserver::fenceReleased(const std::string& signature, std::uint64_t id) {
  if (enabled_) record_.fenceReleased(signature, id, JobRecord::Clock::now());
}

JobObserver::RunWatch::RunWatch(JobObserver& observer, asio::io_context& io,
                                const std::string& jobId, std::function<RunView()> view) {
  if (!observer.enabled_) return;
  observer.record_.runId(jobId);
  observer.publish();
  state_ = std::make_shared<State>(State{observer, std::move(view), asio::steady_timer(io)});
  schedule(state_);
}

void JobObserver::RunWatch::schedule(const std::shared_ptr<State>& state) {
  state->timer.expires_after(kPublishEvery);
  state->timer.async_wait([weak = std::weak_ptr<State>(state)](asio::error_code ec) {
    auto s = weak.lock();
    if (ec || !s) return;
    s->observer.record_.update(s->view());
    s->observer.publish();
    schedule(s);
  });
}

JobObserver::RunWatch::~RunWatch() {
  if (!state_) return;
  state_->timer.cancel();
  JobObserver& observer = state_->observer;
  try {
    observer.record_.update(state_->view());
  } catch (const std::exception& e) {
    log::debug("observer: last view of the run: ", e.what());
  }
  state_.reset();
  observer.record_.runEnded();
  observer.publish();
}

}  // namespace ionet::launcher
