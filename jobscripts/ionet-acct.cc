// ionet-acct: the history of the pool's (or a real Slurm's) jobs, as sacct shows it, and where
// every rank ran.
#include <iostream>
#include <sstream>

#include "ionet/error.h"
#include "ionet/jobscripts/backend.h"
#include "ionet/jobscripts/command_line.h"
#include "ionet/jobscripts/job_format.h"
#include "ionet/jobscripts/queue_db.h"
#include "ionet/jobscripts/queue_dir.h"
#include "ionet/jobscripts/slurm_backend.h"
#include "ionet/log.h"

int main(int argc, char** argv) {
  using namespace ionet;
  using namespace ionet::jobscripts;
  log::prefix() = "ionet-acct";
  CLI::App app("ionet-acct: the pool's job history, as sacct shows it", "ionet-acct");
  std::vector<std::string> jobs, states, users, names;
  std::string format = kSacctDefault, pool, backend;
  bool noHeader = false, parsable = false, parsable2 = false, placement = false;
  app.add_option("-j,--jobs", jobs, "Only these jobs: ID, ARRAYID or ARRAYID_TASK (comma list)");
  app.add_option("-s,--state", states, "Only jobs in these states (comma list)");
  app.add_option("-u,--user", users, "Only these users' jobs (comma list)");
  app.add_option("--name", names, "Only jobs with these names (comma list)");
  app.add_option("-o,--format", format,
                 "Columns, sacct style: JobID,JobName%20,State,... (default " +
                     std::string(kSacctDefault) + ")");
  app.add_flag("-n,--noheader", noHeader, "No header line");
  app.add_flag("-p,--parsable", parsable, "Columns separated by '|', with a trailing '|'");
  app.add_flag("-P,--parsable2", parsable2, "Columns separated by '|', no trailing '|'");
  app.add_flag("--placement", placement,
               "Where every rank of every run ran: job, run, restart, rank, host, GPUs");
  app.add_option("--pool", pool, "The pool whose queue to use (default $IONET_POOL, else local)");
  app.add_option("--backend", backend,
                 "embedded or slurm (default $IONET_BATCH_BACKEND, else the pool file's [batch] "
                 "backend, else embedded)");
  if (auto done = parseCommand(app, argc, argv)) return *done;
  return jobscripts::slurmExitStatusOf([&] {
    JobFilter filter;
    filter.ids = commaList(jobs);
    filter.users = commaList(users);
    filter.names = commaList(names);
    for (const auto& s : commaList(states)) filter.states.insert(parseState(s));
    const bool slurm = resolveBackend(backend, pool) == Backend::kSlurm;
    if (slurm && placement) {
      throw UsageError("--placement: the Slurm backend does not record where ranks ran");
    }
    std::optional<QueueDir> queue;
    std::optional<QueueDb> db;
    std::vector<JobRecord> selected;
    std::string partition;  // a Slurm job carries its own
    if (slurm) {
      selected = slurmHistory(filter);
    } else {
      queue = openQueueDir(pool);
      db.emplace(queue->database());
      selected = db->jobs(filter);
      partition = queue->partition;
    }
    std::string out;
    const char sep = (parsable || parsable2) ? '|' : 0;
    auto line = [&](const std::vector<std::string>& cells, const std::vector<int>& widths) {
      std::string l;
      for (std::size_t i = 0; i < cells.size(); ++i) {
        if (sep) {
          l += cells[i] + (i + 1 < cells.size() || parsable ? std::string(1, sep) : "");
        } else {
          std::string c = cells[i].substr(0, static_cast<std::size_t>(widths[i]));
          l +=
              (i ? " " : "") + c + std::string(static_cast<std::size_t>(widths[i]) - c.size(), ' ');
        }
      }
      return l + "\n";
    };
    if (placement) {
      const std::vector<int> widths = {12, 4, 7, 5, 20, 10};
      if (!noHeader) out += line({"JobID", "Run", "Restart", "Rank", "Host", "GPUs"}, widths);
      for (const auto& j : selected) {
        for (const auto& r : db->placements(j.id)) {
          out += line({j.displayId(), std::to_string(r.requeue), std::to_string(r.restart),
                       std::to_string(r.rank), r.host, r.gpus.empty() ? "-" : r.gpus},
                      widths);
        }
      }
      std::cout << out << std::flush;
      return 0;
    }
    JobTable table = parseSacctFormat(format);
    table.separator = sep;
    const double now = wallClock();
    auto render = [&](const std::string& text) {
      if (sep && !parsable && !text.empty()) return text.substr(0, text.size() - 1);
      return text;
    };
    if (!noHeader) {
      out += render(tableHeader(table)) + "\n";
      if (!sep) {
        std::string rule;
        for (std::size_t i = 0; i < table.columns.size(); ++i) {
          rule +=
              (i ? " " : "") + std::string(static_cast<std::size_t>(table.columns[i].width), '-');
        }
        out += rule + "\n";
      }
    }
    for (const auto& j : selected) out += render(tableRow(table, j, partition, now)) + "\n";
    std::cout << out << std::flush;
    return 0;
  });
}
