#include "run/restart.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "hosts/hostfile.h"
#include "hosts/step_log.h"
#include "ionet/error.h"
#include "ionet/log.h"
#include "run/checkpoint_plan.h"
#include "run/job_observer.h"

namespace ionet::launcher {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Inside an ionet-batch job ($IONET_STEP_LOG): where each rank of each run was placed and how
// the run ended, for the queue's provenance record (ionet-acct --placement) and NODE_FAIL.
std::string stepLogPath() {
  const char* path = std::getenv("IONET_STEP_LOG");
  return path ? path : "";
}

void logPlacement(std::uint32_t restart, const Placement& placement) {
  std::string text;
  for (const auto& h : placement.hosts) {
    for (std::size_t i = 0; i < h.ranks.size(); ++i) {
      const auto gpus = i < h.gpusOfRank.size() ? cudaVisibleDevices(h.gpusOfRank[i]) : "";
      text += formatStepPlacement({restart, h.ranks[i], h.name, gpus});
    }
  }
  appendStepLog(stepLogPath(), text);
}

void logOutcome(const JobOutcome& outcome) {
  appendStepLog(stepLogPath(), formatStepEnd({outcome.cause, outcome.host}));
}

}  // namespace

std::vector<std::string> initialHosts(const Pool& pool, std::uint32_t spares) {
  if (spares >= pool.hosts.size()) {
    throw UsageError("--spare-hosts " + std::to_string(spares) + " leaves none of the pool's " +
                     std::to_string(pool.hosts.size()) + " hosts to start on");
  }
  std::vector<std::string> hosts;
  for (std::size_t i = 0; i + spares < pool.hosts.size(); ++i) hosts.push_back(pool.hosts[i].name);
  return hosts;
}

std::vector<std::string> hostsAfterFailure(const Pool& pool, const std::vector<std::string>& last,
                                           const std::set<std::string>& excluded,
                                           std::size_t minHosts) {
  std::vector<std::string> keep;
  for (const auto& h : last) {
    if (!excluded.count(h)) keep.push_back(h);
  }
  const std::size_t wanted = last.size();
  for (const auto& h : pool.hosts) {  // spares and other unused hosts, pool order
    if (keep.size() >= wanted) break;
    if (!excluded.count(h.name) && !contains(keep, h.name)) keep.push_back(h.name);
  }
  if (keep.size() < std::max<std::size_t>(minHosts, 1)) {
    throw Error("only " + std::to_string(keep.size()) + " usable host(s) left (" +
                (keep.empty() ? std::string("none") : joined(keep)) +
                "; lost: " + joined({excluded.begin(), excluded.end()}) +
                "), fewer than --min-hosts " + std::to_string(std::max<std::size_t>(minHosts, 1)));
  }
  return keep;
}

std::set<std::string> hostsCoolingDown(
    const std::map<std::string, std::chrono::steady_clock::time_point>& lostAt,
    std::chrono::steady_clock::time_point now, std::chrono::duration<double> cooldown) {
  std::set<std::string> out;
  for (const auto& [host, at] : lostAt) {
    if (now - at < cooldown) out.insert(host);
  }
  return out;
}

Pool poolOf(const Pool& pool, const std::vector<std::string>& hosts) {
  Pool out;
  out.slotsGiven = pool.slotsGiven;
  for (const auto& h : pool.hosts) {
    if (contains(hosts, h.name)) out.hosts.push_back(h);
  }
  return out;
}

bool sameFailure(const JobOutcome& a, const JobOutcome& b) {
  if (a.cause != b.cause || a.status != b.status) return false;
  switch (a.cause) {
    case JobOutcome::Cause::kHostLost:
      return false;  // machines vanish: that is what restarts are for
    case JobOutcome::Cause::kAborted:
      return true;  // every rank may call MPI_Abort; whose call came first is chance
    default:
      return a.rank == b.rank;
  }
}

bool restartable(const JobOutcome& outcome) {
  switch (outcome.cause) {
    case JobOutcome::Cause::kRankFailed:
    case JobOutcome::Cause::kHostLost:
    case JobOutcome::Cause::kAborted:
      return true;
    default:
      return false;
  }
}

std::vector<std::string> contractEnvironment(const RestartPolicy& policy, std::uint32_t restart,
                                             const std::string& resumeFrom) {
  std::vector<std::string> env = {"IONET_RESTART_COUNT=" + std::to_string(restart),
                                  "TORCHELASTIC_RESTART_COUNT=" + std::to_string(restart)};
  // With partner storage each host's agent sets its own directory.
  if (!policy.checkpointDir.empty() && policy.storage == CheckpointStorage::kShared) {
    env.push_back("IONET_CHECKPOINT_DIR=" + policy.checkpointDir);
  }
  if (!resumeFrom.empty()) env.push_back("IONET_RESUME_FROM=" + resumeFrom);
  return env;
}

namespace {

// Where a run resumes, as IONET_RESUME_FROM ("" for a fresh start), and for the restart line
// the files its hosts fetch first. Shared storage: the newest set in the directory that
// verifies. Partner storage: the launcher cannot see the hosts' disks, so the set comes from
// their reports (and attempt.staging says who fetches what); a first run has none, and its
// ranks restore from what their hosts' directories hold.
std::pair<std::string, std::string> chooseResume(const RestartPolicy& policy, const Holdings& held,
                                                 const Placement& placement, JobSpec& attempt) {
  if (policy.checkpointDir.empty()) return {};
  if (policy.storage == CheckpointStorage::kPartner) {
    attempt.staging = planStaging(held, placement);
    if (attempt.staging.step < 0) return {};
    return {"step-" + std::to_string(attempt.staging.step), describeFetches(attempt.staging)};
  }
  auto point = findResumePoint(policy.checkpointDir);
  for (const auto& line : point.skipped) log::warn("checkpoint ", line, "; skipped");
  return {point.path, ""};
}

}  // namespace

int runWithRestarts(const JobSpec& spec, const Pool& pool, const JobRunner& run,
                    JobObserver* observer) {
  const RestartPolicy& policy = spec.restart;
  // With partner storage the directory is on the hosts, made by their agents.
  if (!policy.checkpointDir.empty() && policy.storage == CheckpointStorage::kShared) {
    std::error_code ec;
    std::filesystem::create_directories(policy.checkpointDir, ec);
    if (ec || !std::filesystem::is_directory(policy.checkpointDir)) {
      throw UsageError("--checkpoint-dir " + policy.checkpointDir + ": cannot create it" +
                       (ec ? ": " + ec.message() : std::string()));
    }
  }
  std::vector<std::string> hosts = initialHosts(pool, policy.spareHosts);
  // Hosts whose agent died or was cut off, and when: left out for --host-cooldown.
  std::map<std::string, std::chrono::steady_clock::time_point> lostAt;
  std::optional<JobOutcome> previous;
  std::string previousResume;
  std::size_t minHosts = 0;
  Holdings held;  // partner storage: what the hosts said they hold, over all runs so far
  for (std::uint32_t restart = 0;; ++restart) {
    JobSpec attempt = spec;
    const Placement placement = placeRanks(attempt, poolOf(pool, hosts));
    if (restart == 0) minHosts = policy.minHosts.value_or(placement.hosts.size());
    const auto [resumeFrom, fetches] = chooseResume(policy, held, placement, attempt);
    if (restart > 0) {
      log::warn("restart ", restart, " of ", policy.maxRestarts, " on hosts ", joined(hosts), ": ",
                resumeFrom.empty()
                    ? std::string("no verified checkpoint, starting from the beginning")
                    : "resuming from " + resumeFrom,
                fetches.empty() ? std::string() : " (" + fetches + ")");
    }
    for (auto& v : contractEnvironment(policy, restart, resumeFrom)) attempt.exports.push_back(v);
    logPlacement(restart, placement);
    if (observer) observer->runStarting(placement, resumeFrom);
    const JobOutcome outcome = run(attempt, placement);
    logOutcome(outcome);
    for (const auto& [host, sets] : outcome.holdings) held[host] = sets;
    if (outcome.cause == JobOutcome::Cause::kSuccess || !restartable(outcome)) {
      return outcome.status;
    }
    if (restart >= policy.maxRestarts) {
      if (policy.maxRestarts > 0) {
        log::error("giving up: the job failed ", restart + 1, " times (--max-restarts ",
                   policy.maxRestarts, " spent)");
      }
      return outcome.status;
    }
    if (previous && sameFailure(*previous, outcome) && previousResume == resumeFrom) {
      log::error("not restarting: the job failed the same way twice in a row (", outcome.message,
                 ") from the same ",
                 resumeFrom.empty() ? std::string("start") : "checkpoint " + resumeFrom,
                 "; that is the program failing, not a machine");
      return outcome.status;
    }
    previous = outcome;
    previousResume = resumeFrom;
    std::vector<std::string> used;
    for (const auto& h : placement.hosts) used.push_back(h.name);
    if (outcome.cause == JobOutcome::Cause::kHostLost && !outcome.host.empty()) {
      lostAt[outcome.host] = std::chrono::steady_clock::now();
      held.erase(outcome.host);  // its disk is out of reach with it
    }
    try {
      hosts = hostsAfterFailure(
          pool, used,
          hostsCoolingDown(lostAt, std::chrono::steady_clock::now(),
                           std::chrono::duration<double>(policy.hostCooldownSeconds)),
          minHosts);
    } catch (const Error& e) {
      log::error("cannot restart the job: ", e.what());
      return outcome.status;
    }
    log::warn("the job failed (", outcome.message, "); restarting it in ",
              policy.restartDelaySeconds, " s");
    if (observer) observer->restarting(outcome.message, outcome.cause);
    std::this_thread::sleep_for(std::chrono::duration<double>(policy.restartDelaySeconds));
  }
}

void requireAllocatedHosts(const JobSpec& spec, const Pool& answered) {
  const char* log = std::getenv("IONET_STEP_LOG");
  if (!log || !*log || spec.hostLists.empty()) return;
  for (const auto& list : spec.hostLists) {
    for (const auto& e : parseHostList(list)) {
      const bool found = std::any_of(answered.hosts.begin(), answered.hosts.end(),
                                     [&](const PoolHost& h) { return h.name == e.name; });
      if (found) continue;
      appendStepLog(log, formatStepEnd({EndCause::kHostLost, e.name}));
      throw Error("host " + e.name + " of the job's allocation did not answer");
    }
  }
}

}  // namespace ionet::launcher
