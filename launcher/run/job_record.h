// The job's record for /metrics and the status file, over all its runs: what runWithRestarts
// and JobRun tell it, folded into a JobSnapshot. Pure (times are passed in), so counters across
// restarts and fence latencies are unit-tested; JobObserver (job_observer.h) drives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "hosts/step_log.h"
#include "run/job_snapshot.h"
#include "run/placement.h"

namespace ionet::launcher {

// The `cause` label of ionet_job_restarts_total: the step log's cause name with underscores
// (rank_failed, host_lost, aborted ...), a fixed set.
std::string restartCauseLabel(EndCause cause);

// The checkpoint step of a resume point: "/ck/step-60" or "step-60" -> 60; none for "" or a
// name that is not step-N.
std::optional<std::int64_t> resumeStepOf(const std::string& resumeFrom);

class JobRecord {
 public:
  using Clock = std::chrono::steady_clock;

  // job: the label ("" until runId gives one); startedAt: unix seconds.
  JobRecord(std::string job, int pid, double startedAt);

  // From runWithRestarts: a run is placed (and resumes from resumeStep); the run that failed
  // is restarted; the job is over.
  void runStarting(const Placement& placement, std::optional<std::int64_t> resumeStep);
  void restarting(const std::string& message, EndCause cause, double now);
  void finished(int exitCode, double now);

  // From JobRun, on the io thread. runId: the run's own job id, the label when no batch job
  // named one. update: its hosts now. fenceIn: a contribution to a fence that is not complete
  // yet; fenceReleased: its release was sent. runEnded: the run's sessions are gone, their
  // counters are history.
  void runId(const std::string& jobId);
  void update(const RunView& view);
  void fenceIn(const std::string& signature, std::uint64_t id, Clock::time_point at);
  void fenceReleased(const std::string& signature, std::uint64_t id, Clock::time_point at);
  void runEnded();

  const JobSnapshot& snapshot() const { return snapshot_; }

 private:
  struct Counters {
    std::uint64_t bytesSent = 0, bytesReceived = 0, retransmittedBytes = 0, duplicateBytes = 0,
                  reconnects = 0, resumes = 0;
  };
  // A counter's total is base (what ended sessions counted) + last (the live session's).
  struct LinkTally {
    Counters base, last;
    JobSnapshot::Link gauges;  // from, to, current and the latest gauges
  };
  void fold(LinkTally& tally, const LinkReport& report);
  void rebuildLinks();

  JobSnapshot snapshot_;
  std::map<std::pair<std::string, std::string>, LinkTally> links_;
  std::map<std::pair<std::string, std::uint64_t>, Clock::time_point> openFences_;
};

}  // namespace ionet::launcher
