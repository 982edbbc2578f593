// --max-restarts: when a job loses a rank or a host, tear it down (runJob does), choose its
// hosts again (spares first, down to --min-hosts), and start it again with the environment
// contract telling the program which verified checkpoint to resume from.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "run/job_run.h"
#include "run/job_spec.h"
#include "run/placement.h"

namespace ionet::launcher {

// The first run's hosts: the pool's, in pool order, less the last `spares`. Throws UsageError
// when no host is left.
std::vector<std::string> initialHosts(const Pool& pool, std::uint32_t spares);

// After a failure: the last run's hosts less the excluded ones, topped up with other hosts of
// the pool that are not excluded (pool order), or fewer when none is left but at least
// minHosts remain. Throws Error saying what is missing otherwise.
std::vector<std::string> hostsAfterFailure(const Pool& pool, const std::vector<std::string>& last,
                                           const std::set<std::string>& excluded,
                                           std::size_t minHosts);

// Hosts lost less than `cooldown` before `now`: left out of the next run's placement.
std::set<std::string> hostsCoolingDown(
    const std::map<std::string, std::chrono::steady_clock::time_point>& lostAt,
    std::chrono::steady_clock::time_point now, std::chrono::duration<double> cooldown);

// The pool restricted to these hosts, in pool order.
Pool poolOf(const Pool& pool, const std::vector<std::string>& hosts);

// True when b repeats a: the same kind of failure of the same rank with the same status. From
// the same checkpoint, that is the program failing, not a machine.
bool sameFailure(const JobOutcome& a, const JobOutcome& b);

// Whether a job that ended this way is worth starting again.
bool restartable(const JobOutcome& outcome);

// The newest checkpoint set under dir that verifies (empty path: none), and one line for each
// newer set skipped.
struct ResumePoint {
  std::string path;
  std::vector<std::string> skipped;
};
ResumePoint findResumePoint(const std::string& dir);

// The variables of the environment contract for one run (restart number `restart`).
std::vector<std::string> contractEnvironment(const RestartPolicy& policy, std::uint32_t restart,
                                             const std::string& resumeFrom);

class JobObserver;  // run/job_observer.h

// Runs spec on pool through run(), with spec.restart, until it succeeds, fails in a way not worth a
// restart, or the budget is spent; prints each restart, and tells `observer` (when given) of
// each run's placement and resume point and of each restart. Returns the exit status.
using JobRunner = std::function<JobOutcome(const JobSpec&, const Placement&)>;
int runWithRestarts(const JobSpec& spec, const Pool& pool, const JobRunner& run,
                    JobObserver* observer = nullptr);

// Inside a batch job on a pool: a host of the job's allocation (spec.hostLists) that did not
// answer discovery is a lost host. Records it in the step log ($IONET_STEP_LOG: the queue ends
// the job NODE_FAIL and requeues it elsewhere) and throws Error naming it. Else does nothing.
void requireAllocatedHosts(const JobSpec& spec, const Pool& answered);

}  // namespace ionet::launcher
