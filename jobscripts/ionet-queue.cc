// ionet-queue: the pool's (or a real Slurm's) pending and running jobs, as squeue shows them.
#include <iostream>
#include <sstream>

#include "ionet/error.h"
#include "ionet/jobscripts/backend.h"
#include "ionet/jobscripts/command_line.h"
#include "ionet/jobscripts/job_format.h"
#include "ionet/jobscripts/queue_db.h"
#include "ionet/jobscripts/queue_dir.h"
#include "ionet/jobscripts/slurm_backend.h"
#include "ionet/jobscripts/web_server.h"
#include "ionet/log.h"

int main(int argc, char** argv) {
  using namespace ionet;
  using namespace ionet::jobscripts;
  log::prefix() = "ionet-queue";
  CLI::App app("ionet-queue: the pool's pending and running jobs, as squeue shows them",
               "ionet-queue");
  app.set_help_flag("--help", "Show this help and exit");
  std::vector<std::string> users, jobs, states, names;
  std::string format = kSqueueDefault, pool, backend;
  bool noHeader = false, me = false, oneTaskPerLine = false;
  app.add_option("-u,--user", users, "Only these users' jobs (comma list)");
  app.add_option("-j,--jobs", jobs, "Only these jobs: ID, ARRAYID or ARRAYID_TASK (comma list)");
  app.add_option("-t,--states", states,
                 "Only jobs in these states (comma list of names or codes; 'all' for every "
                 "state; default PENDING,RUNNING)");
  app.add_option("-n,--name", names, "Only jobs with these names (comma list)");
  app.add_option("-o,--format", format,
                 "Columns, squeue style (default \"" + std::string(kSqueueDefault) + "\")");
  app.add_flag("-h,--noheader", noHeader, "No header line");
  app.add_flag("-r,--array", oneTaskPerLine,
               "One line per array task (else an array's pending tasks that wait for the same "
               "reason are one line, 12_[3-9%2])");
  app.add_flag("--me", me, "Only my jobs");
  app.add_option("--pool", pool, "The pool whose queue to show (default $IONET_POOL, else local)");
  app.add_option("--backend", backend,
                 "embedded or slurm (default $IONET_BATCH_BACKEND, else the pool file's [batch] "
                 "backend, else embedded)");
  bool web = false;
  app.add_flag("--web", web,
               "Print the URL of the queue's web view (starting its daemon if need be) and exit");
  if (auto done = parseCommand(app, argc, argv)) return *done;
  return jobscripts::slurmExitStatusOf([&] {
    if (web) {
      if (resolveBackend(backend, pool) == Backend::kSlurm) {
        throw UsageError("--web: a Slurm queue has no ionet web view (see docs/observability.md)");
      }
      auto queue = openQueueDir(pool);
      ensureDaemon(queue);
      std::cout << awaitWebUrl(queue, 10) << "/\n" << std::flush;
      return 0;
    }
    JobFilter filter;
    filter.users = commaList(users);
    if (me) filter.users.insert(userName());
    filter.ids = commaList(jobs);
    filter.names = commaList(names);
    auto stateSet = commaList(states);
    if (stateSet.empty()) {
      filter.states = {JobState::kPending, JobState::kRunning};
    } else if (!stateSet.count("all") && !stateSet.count("ALL")) {
      for (const auto& s : stateSet) filter.states.insert(parseState(s));
    }
    const JobTable table = parseSqueueFormat(format);
    std::vector<JobRecord> jobs;
    std::string partition;  // a Slurm job carries its own
    if (resolveBackend(backend, pool) == Backend::kSlurm) {
      bool everyState = filter.states.empty();
      for (auto s : filter.states) everyState = everyState || isFinal(s);
      jobs = slurmQueue(filter, everyState);
    } else {
      auto queue = openQueueDir(pool);
      QueueDb db(queue.database());
      ensureDaemon(queue);
      jobs = db.jobs(filter);
      partition = queue.partition;
    }
    const double now = wallClock();
    std::string out;
    if (!noHeader) out += tableHeader(table) + "\n";
    for (const auto& line : queueLines(std::move(jobs), oneTaskPerLine)) {
      out += tableRow(table, line, partition, now) + "\n";
    }
    std::cout << out << std::flush;
    return 0;
  });
}
