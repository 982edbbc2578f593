// What ionet-run shows of a job to the outside (Prometheus' /metrics, the queue's status file):
// plain values, no I/O. The io thread reads a RunView off its run, JobRecord folds it into a
// JobSnapshot, and the HTTP and status-file threads only ever read a published snapshot.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "observe/metrics_text.h"

namespace ionet::launcher {

// One data-path session of a host to a peer host, as its agent last reported it (HostStats).
struct LinkReport {
  std::string peer;
  double rttSeconds = 0;
  double sendRate = 0, receiveRate = 0;  // bytes/s over the last second
  unsigned streams = 0, linksUp = 0;
  // Since the session began: they restart from 0 with a new session (a new run).
  std::uint64_t reconnects = 0, retransmittedBytes = 0, bytesSent = 0, bytesReceived = 0,
                duplicateBytes = 0, resumes = 0;
};

struct HostReport {
  bool up = false;                       // its agent said hello and has not gone
  std::optional<unsigned> ranksRunning;  // absent until the agent reported
  std::vector<LinkReport> links;
};

// One run's state, read on the io thread: hosts in placement order.
struct RunView {
  bool launched = false;  // the ranks were started
  std::vector<HostReport> hosts;
};

// The job as a whole, over all its runs (restarts).
struct JobSnapshot {
  int pid = 0;
  std::string job;                 // the `job` label: $IONET_JOB_ID, $SLURM_JOB_ID or our own id
  std::string state = "starting";  // starting, running, restarting, done
  std::optional<int> exitCode;     // once done
  double startedAt = 0;            // unix seconds
  std::optional<double> endedAt;   // once done

  static constexpr std::size_t kRanksListed = 64;
  struct Host {
    std::string name;
    bool up = false;
    std::vector<std::uint32_t> ranks;  // the first kRanksListed placed on it
    std::size_t ranksTotal = 0;
    unsigned ranksRunning = 0;
  };
  std::vector<Host> hosts;  // the current run's placement
  std::size_t ranksPlaced = 0;

  // Per ordered host pair. Counters are the sum over every run (and session) so far, so they
  // never go backwards; gauges are the latest report's.
  struct Link {
    std::string from, to;
    // A session of the current (or last) run, as its host last listed it; else only the
    // counters of earlier runs remain.
    bool current = false;
    double rttSeconds = 0, sendRate = 0, receiveRate = 0;
    unsigned linksUp = 0, streams = 0;
    std::uint64_t bytesSent = 0, bytesReceived = 0, retransmittedBytes = 0, duplicateBytes = 0,
                  reconnects = 0, resumes = 0;
  };
  std::vector<Link> links;  // sorted by (from, to)

  std::uint64_t fencesCompleted = 0;
  observe::Histogram fenceLatency;  // first contribution in -> release sent, seconds

  struct Restart {
    double at = 0;                           // unix seconds: when the restart was decided
    std::string cause;                       // the failure as ionet-run printed it
    std::string kind;                        // restartCauseLabel of the failure
    std::optional<std::int64_t> resumeStep;  // the checkpoint step the next run resumed from
  };
  static constexpr std::size_t kRestartsListed = 100;
  std::vector<Restart> restarts;                        // the last kRestartsListed
  std::map<std::string, std::uint64_t> restartsByKind;  // all of them
  std::optional<std::int64_t> resumeStep;               // the current run's
};

}  // namespace ionet::launcher
