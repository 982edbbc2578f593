// The queue's state in SQLite (WAL): jobs, the ranks' placements, hosts that are down. Commands
// and the daemon open the same file; every change is one transaction, so a kill -9 anywhere
// leaves either the old or the new state.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ionet/jobscripts/job_record.h"

struct sqlite3;

namespace ionet::jobscripts {

struct JobFilter {
  std::set<JobState> states;    // empty: any
  std::set<std::string> ids;    // "12" (a job, or every task of array 12) or "12_3"; empty: any
  std::set<std::string> users;  // empty: any
  std::set<std::string> names;  // empty: any
};

class QueueDb {
 public:
  explicit QueueDb(const std::string& path);
  ~QueueDb();
  QueueDb(const QueueDb&) = delete;
  QueueDb& operator=(const QueueDb&) = delete;

  // Runs `body` in one write transaction (BEGIN IMMEDIATE ... COMMIT; rolled back on a throw).
  void transaction(const std::function<void()>& body);

  // Adds the jobs (one per array task) and returns the first id; array tasks get consecutive
  // ids and the first one's id as their array id. Call inside transaction().
  std::int64_t insert(std::vector<JobRecord>& jobs);

  // The whole record, with the script's arguments and environment.
  std::optional<JobRecord> job(std::int64_t id);
  // The rest read records without the arguments and environment (listing, scheduling).
  std::vector<JobRecord> jobs(const JobFilter& filter);
  std::vector<JobRecord> active();  // PENDING and RUNNING, oldest first
  std::size_t activeCount();
  // Every job of `ids` ("12" or "12_3"), for dependencies; unknown ids are left out.
  std::vector<JobRecord> jobsNamed(const std::string& displayOrArrayId);
  bool sameNameOlderActive(const JobRecord& job);  // for singleton
  std::uint32_t runningTasks(std::int64_t arrayJobId);

  // The queue's copy of the script, for a job and all tasks of its array.
  void setScript(std::int64_t firstId, const std::string& path);

  // Sets the reasons of jobs that are still PENDING (one transaction); a job changed meanwhile
  // by another process (cancelled, started) is left as it is.
  void setPendingReasons(const std::vector<std::pair<std::int64_t, std::string>>& reasons);

  // Writes back the fields of `job` that change while it is queued and run. Read the job in the
  // same transaction first: this overwrites what others wrote since.
  void update(const JobRecord& job);

  void addPlacements(const std::vector<RankPlacement>& ranks);
  std::vector<RankPlacement> placements(std::int64_t jobId);

  std::map<std::string, double> downHosts(double now);  // host -> down until
  void setHostDown(const std::string& host, double until, const std::string& reason);

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace ionet::jobscripts
