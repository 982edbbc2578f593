// The queue daemon's view of its pool for people and scripts: the JSON API (hosts, links, jobs)
// the web page draws, and the queue's Prometheus metrics. Pure: built from what the daemon read
// (the queue database, the pool watch, the status files ionet-run writes in each job's
// directory) into one snapshot the HTTP threads serve. Nothing here holds a token, a key, a
// job's environment or its command line.
#pragma once

#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "ionet/jobscripts/job_record.h"
#include "ionet/jobscripts/scheduler.h"
#include "observe/pool_watch.h"

namespace ionet::jobscripts {

struct WebInputs {
  std::string pool;  // the pool's name (squeue's partition)
  double now = 0;    // Unix seconds
  std::vector<observe::WatchedHost> hosts;
  std::vector<JobRecord> jobs;  // every job the database holds
  // Per job id: the status files of its ionet-run runs (IONET_STATUS_DIR), oldest first.
  std::map<std::int64_t, std::vector<nlohmann::json>> runs;
};

// A link's throughput over the last minutes, for the page's chart: kept by the daemon across
// snapshots, fed with each running job's newest report.
class LinkHistory {
 public:
  static constexpr std::size_t kSamples = 150;
  struct Sample {
    double time, sendBytesPerSecond, receiveBytesPerSecond;
  };
  // Adds a sample unless this link already has one at `time` (the same report read again).
  void add(const std::string& from, const std::string& to, const Sample& sample);
  const std::deque<Sample>* find(const std::string& from, const std::string& to) const;

 private:
  std::map<std::pair<std::string, std::string>, std::deque<Sample>> samples_;
};

struct WebSnapshot {
  nlohmann::json hosts, links, jobs;
  std::string metrics;  // Prometheus text
};

// Jobs shown: all pending and running, and the newest ended ones up to this many.
inline constexpr std::size_t kEndedJobsShown = 50;

WebSnapshot buildWebSnapshot(const WebInputs& in, LinkHistory& history);

// The hosts of a queue with no pool agents (this machine, or emulated hosts of it): up unless
// the queue has them down after a lost host.
std::vector<observe::WatchedHost> queueHostsView(const std::vector<QueueHost>& hosts,
                                                 const std::map<std::string, double>& down);

}  // namespace ionet::jobscripts
