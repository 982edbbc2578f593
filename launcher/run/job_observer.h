// ionet-run's window on a job for the outside: --metrics-listen (Prometheus' /metrics) and
// $IONET_STATUS_DIR/run-<pid>.json (the batch queue's web view). One for the whole job, across
// its restarts. Everything it is told arrives on the io thread (runWithRestarts' and JobRun's
// thread); it publishes a snapshot at most every 500 ms or on a change of run, and the HTTP
// threads and the status file's thread read only that snapshot, never JobRun or the io_context.
#pragma once

#include <asio.hpp>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "observe/http_endpoint.h"
#include "observe/published.h"
#include "run/job_record.h"

namespace ionet::launcher {

struct ObserveSettings {
  std::optional<observe::ListenAddress> metricsListen;  // --metrics-listen
  std::string statusDir;                                // $IONET_STATUS_DIR; "": no file
  std::string jobLabel;  // $IONET_JOB_ID or $SLURM_JOB_ID; "": the first run's job id
  bool quiet = false;    // -q: no "metrics on URL" line for a port the user chose
};

class JobObserver {
 public:
  JobObserver();  // off: every hook does nothing
  // Listens at once (throws Error when it cannot) and prints the URL; starts the status file.
  explicit JobObserver(const ObserveSettings& settings);
  ~JobObserver();
  JobObserver(const JobObserver&) = delete;
  JobObserver& operator=(const JobObserver&) = delete;

  bool enabled() const { return enabled_; }
  std::optional<std::uint16_t> metricsPort() const;

  // From runWithRestarts (restart.h).
  void runStarting(const Placement& placement, const std::string& resumeFrom);
  void restarting(const std::string& message, EndCause cause);
  // The job is over: the last snapshot is published and the status file written a last time.
  void finished(int exitCode);

  // From JobRun: a run's hosts, read every 500 ms through `view` while it lives, and once
  // more when it is destroyed (after the run's io_context stopped, before it is destroyed).
  class RunWatch {
   public:
    RunWatch(JobObserver& observer, asio::io_context& io, const std::string& jobId,
             std::function<RunView()> view);
    ~RunWatch();
    RunWatch(const RunWatch&) = delete;
    RunWatch& operator=(const RunWatch&) = delete;

   private:
    struct State {
      JobObserver& observer;
      std::function<RunView()> view;
      asio::steady_timer timer;
    };
    // The timer's handler holds it weakly: on an io_context that outlives the run (a pool's),
    // a tick already queued when the run stopped finds it gone and does nothing.
    static void schedule(const std::shared_ptr<State>& state);
    std::shared_ptr<State> state_;
  };
  void fenceIn(const std::string& signature, std::uint64_t id);
  void fenceReleased(const std::string& signature, std::uint64_t id);

 private:
  void publish();
  void writeStatus();
  void stopWriter();

  bool enabled_ = false;
  JobRecord record_;
  observe::Published<JobSnapshot> published_;
  std::filesystem::path statusPath_;
  bool statusWarned_ = false;  // touched by the writer thread, then (joined) the io thread
  std::mutex writerMutex_;
  std::condition_variable writerWake_;
  bool writerStop_ = false;
  std::thread writer_;
  std::unique_ptr<observe::HttpEndpoint> endpoint_;  // last member: its threads go first
};

}  // namespace ionet::launcher
