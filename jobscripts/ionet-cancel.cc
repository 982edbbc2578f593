// ionet-cancel: cancel or signal jobs, as scancel does (or, with the Slurm backend, with it).
#include <signal.h>

#include <iostream>
#include <sstream>

#include "ionet/error.h"
#include "ionet/jobscripts/backend.h"
#include "ionet/jobscripts/command_line.h"
#include "ionet/jobscripts/process_identity.h"
#include "ionet/jobscripts/queue_db.h"
#include "ionet/jobscripts/queue_dir.h"
#include "ionet/jobscripts/slurm_backend.h"
#include "ionet/log.h"

int main(int argc, char** argv) {
  using namespace ionet;
  using namespace ionet::jobscripts;
  log::prefix() = "ionet-cancel";
  CLI::App app("ionet-cancel: cancel or signal batch jobs, as scancel does", "ionet-cancel");
  std::vector<std::string> ids;
  std::string signalText, user, state, name, pool, backend;
  bool batchOnly = false, full = false, quiet = false;
  app.add_option("ids", ids, "Jobs: ID, ARRAYID (every task) or ARRAYID_TASK");
  app.add_option("-s,--signal", signalText,
                 "Send this signal (name or number) instead of cancelling");
  app.add_flag("-b,--batch", batchOnly, "With --signal: only the batch shell");
  app.add_flag("-f,--full", full,
               "With --signal: the batch shell and every other process of the job");
  app.add_option("-u,--user", user, "Only (or all of) this user's jobs");
  app.add_option("-t,--state", state, "Only jobs in this state (PENDING or RUNNING)");
  app.add_option("-n,--name", name, "Only jobs with this name");
  app.add_flag("-Q,--quiet", quiet, "Do not report jobs that had already ended");
  app.add_option("--pool", pool, "The pool whose queue to use (default $IONET_POOL, else local)");
  app.add_option("--backend", backend,
                 "embedded or slurm (default $IONET_BATCH_BACKEND, else the pool file's [batch] "
                 "backend, else embedded)");
  if (auto done = parseCommand(app, argc, argv)) return *done;
  return jobscripts::slurmExitStatusOf([&] {
    if (ids.empty() && user.empty() && name.empty() && state.empty()) {
      throw UsageError("no job given (ionet-cancel JOBID..., or -u USER / -n NAME / -t STATE)");
    }
    const int sig = signalText.empty() ? 0 : parseSignalName(signalText);
    JobFilter filter;
    for (const auto& id : ids) {
      const auto us = id.find('_');
      const bool valid = !id.empty() && id.find_first_not_of("0123456789_") == std::string::npos &&
                         us != 0 &&
                         (us == std::string::npos || (id.rfind('_') == us && us + 1 < id.size()));
      if (!valid) throw UsageError("invalid job id " + id);
      filter.ids.insert(id);
    }
    if (!user.empty()) filter.users.insert(user);
    if (!name.empty()) filter.names.insert(name);
    if (!state.empty()) {
      filter.states.insert(parseState(state));
    }
    if (resolveBackend(backend, pool) == Backend::kSlurm) {
      return slurmCancel({ids, signalText, user, state, name, batchOnly, full, quiet});
    }
    auto queue = openQueueDir(pool);
    QueueDb db(queue.database());
    int status = 0;
    const auto selected = db.jobs(filter);
    for (const auto& id : filter.ids) {
      const bool found = std::any_of(selected.begin(), selected.end(), [&](const JobRecord& j) {
        return j.displayId() == id || std::to_string(j.id) == id ||
               (j.arrayJobId && std::to_string(j.arrayJobId) == id);
      });
      if (!found) {
        log::error("error: Invalid job id specified: ", id);
        status = 1;
      }
    }
    for (const auto& picked : selected) {
      db.transaction([&] {
        auto j = db.job(picked.id);
        if (!j) return;
        if (isFinal(j->state)) {
          if (!quiet && !filter.ids.empty()) {
            log::error("error: Kill job error on job id ", j->displayId(),
                       ": Job/step already completing or completed");
          }
          return;
        }
        if (sig) {
          if (j->state == JobState::kPending) {
            log::error("error: job ", j->displayId(), " is pending; there is nothing to signal");
            status = 1;
          } else if (j->processGroup <= 0) {
            log::error("error: job ", j->displayId(), " is starting; signal it again in a moment");
            status = 1;
          } else {
            // By default the job's steps (ionet-run forwards to the ranks), not the batch shell.
            const pid_t pg = static_cast<pid_t>(j->processGroup);
            if (batchOnly) {
              ::kill(pg, sig);
            } else if (full) {
              ::kill(-pg, sig);
            } else {
              signalGroupExcept(pg, sig, pg);
            }
          }
          return;
        }
        j->cancelRequested = true;
        if (j->state == JobState::kPending) {
          j->state = JobState::kCancelled;
          j->endTime = wallClock();
        } else if (j->shepherdPid &&
                   processAlive(static_cast<pid_t>(j->shepherdPid), j->shepherdStart)) {
          ::kill(static_cast<pid_t>(j->shepherdPid), SIGTERM);  // it stops the job and records it
        }
        db.update(*j);
      });
    }
    ensureDaemon(queue);
    return status;
  });
}
