// From ionet-batch's arguments to queue records: directives, defaults, --export, checks.
#include "ionet/jobscripts/submission.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "ionet/error.h"
#include "ionet/jobscripts/scheduler.h"

namespace fs = std::filesystem;

namespace ionet::jobscripts {
namespace {

std::string absoluteIn(const std::string& dir, const std::string& path) {
  if (path.empty()) return path;
  return (fs::path(path).is_absolute() ? fs::path(path) : fs::path(dir) / path)
      .lexically_normal()
      .string();
}

// --export: ALL (everything here, plus VAR=value items), NONE, or only the VARs named. A
// VAR=value replaces the variable it names.
std::vector<std::string> chooseEnvironment(const std::string& spec,
                                           const std::vector<std::string>& environment) {
  std::vector<std::string> items;
  std::istringstream in(spec);
  for (std::string item; std::getline(in, item, ',');) items.push_back(item);
  std::vector<std::string> out;
  const bool all = std::find(items.begin(), items.end(), "ALL") != items.end();
  if (all) out = environment;
  for (const auto& item : items) {
    if (item == "ALL" || item == "NONE") continue;
    if (item.find('=') != std::string::npos) {
      setVariable(out, item);
      continue;
    }
    if (all) continue;
    for (const auto& e : environment) {
      if (e.compare(0, item.size() + 1, item + "=") == 0) setVariable(out, e);
    }
  }
  return out;
}

}  // namespace

Submission parseSubmission(const std::vector<std::string>& args, const std::string& stdinText) {
  Submission s;
  BatchOptions commandLine;
  const std::size_t script = applyCommandLine(args, commandLine);
  if (script < args.size()) {
    s.scriptPath = args[script];
    s.scriptArgs.assign(args.begin() + static_cast<std::ptrdiff_t>(script) + 1, args.end());
    std::ifstream in(s.scriptPath, std::ios::binary);
    if (!in) {
      throw UsageError("cannot read the script " + s.scriptPath + ": " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    s.scriptText = text.str();
  } else {
    s.scriptText = stdinText;
  }
  const std::string shown = s.scriptPath.empty() ? "(standard input)" : s.scriptPath;
  if (s.scriptText.rfind("#!", 0) != 0) {
    throw UsageError(shown +
                     ":1: this does not look like a batch script: the first line must start "
                     "with #! followed by the path to an interpreter");
  }
  if (s.scriptText.find('\0') != std::string::npos) {
    throw UsageError(shown + ": the script holds a NUL byte (a binary, not a script)");
  }
  // Directives first, then the command line over them.
  applyDirectives(s.scriptText, shown, s.options);
  std::vector<std::string> own(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(script));
  applyCommandLine(own, s.options);
  return s;
}

std::vector<JobRecord> makeJobs(const Submission& s, const QueueDir& q,
                                const std::vector<std::string>& environment,
                                const std::string& cwd) {
  const BatchOptions& o = s.options;
  JobRecord base;
  base.name = !o.jobName.empty()     ? o.jobName
              : s.scriptPath.empty() ? std::string("sbatch")
                                     : fs::path(s.scriptPath).filename().string();
  base.user = userName();
  base.submitTime = wallClock();
  base.nodes = o.nodes.value_or(0);
  base.ntasksPerNode = o.ntasksPerNode.value_or(0);
  if (o.ntasks) {
    base.ntasks = *o.ntasks;
  } else if (o.nodes) {
    base.ntasks = *o.nodes * std::max(1u, base.ntasksPerNode);
  } else {
    base.ntasks = std::max(1u, base.ntasksPerNode);
  }
  if (base.nodes && base.ntasks < base.nodes) {
    throw UsageError("--ntasks " + std::to_string(base.ntasks) + " is fewer than --nodes " +
                     std::to_string(base.nodes) + " (every node runs at least one task)");
  }
  base.cpusPerTask = o.cpusPerTask;
  base.gpus = o.gpus;
  base.gpusPerTask = o.gpusPerTask;
  base.memMegabytes = o.memMegabytes;
  base.timeLimitSeconds = o.timeLimitSeconds;
  base.dependency = o.dependency;
  base.requeue = o.requeue.value_or(true);
  base.signal = o.signal;
  base.submitDir = cwd;
  base.workDir = o.chdir.empty() ? cwd : absoluteIn(cwd, o.chdir);
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  base.submitHost = host;
  base.output = absoluteIn(base.workDir, !o.output.empty() ? o.output
                                         : o.array         ? "ionet-%A_%a.out"
                                                           : "ionet-%j.out");
  base.error = o.error.empty() ? "" : absoluteIn(base.workDir, o.error);
  base.args = s.scriptArgs;
  base.environment = chooseEnvironment(o.exportSpec, environment);
  base.checkpointDir = absoluteIn(base.workDir, o.checkpointDir);
  base.maxRestarts = o.maxRestarts;
  base.pool = q.pool;

  // A request no host set of this pool can ever satisfy is refused now, as sbatch does.
  if (!allocate(base, q.hosts)) {
    std::uint32_t cores = 0, gpus = 0;
    for (const auto& h : q.hosts) {
      cores += h.cores;
      gpus += h.gpus;
    }
    throw UsageError("Requested node configuration is not available: " +
                     std::to_string(base.ntasks) + " tasks x " + std::to_string(base.cpusPerTask) +
                     " CPUs" + (base.nodes ? " on " + std::to_string(base.nodes) + " nodes" : "") +
                     (base.gpus || base.gpusPerTask ? " with GPUs" : "") + "; the pool (" +
                     q.partition + ") has " + std::to_string(q.hosts.size()) + " hosts, " +
                     std::to_string(cores) + " CPUs, " + std::to_string(gpus) + " GPUs");
  }

  std::vector<JobRecord> jobs;
  if (!o.array) {
    jobs.push_back(base);
    return jobs;
  }
  if (o.array->ids.empty()) throw UsageError("--array names no task");
  for (auto id : o.array->ids) {
    JobRecord task = base;
    task.arrayTaskId = id;
    task.arrayMaxRunning = o.array->maxRunning;
    jobs.push_back(std::move(task));
  }
  return jobs;
}

std::int64_t submitJobs(const QueueDir& q, QueueDb& db, std::vector<JobRecord>& jobs,
                        const std::string& scriptText) {
  std::int64_t id = 0;
  db.transaction([&] {
    for (const auto& term : jobs.front().dependency) {
      for (const auto& dep : term.jobs) {
        if (db.jobsNamed(dep).empty()) {
          throw UsageError("Job dependency problem: " + term.kind + ":" + dep + " names no job");
        }
      }
    }
    id = db.insert(jobs);
    // The script as submitted: later edits of the file do not change the queued job.
    const std::string path = q.path + "/scripts/" + std::to_string(id);
    fs::create_directories(q.path + "/scripts");
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << scriptText;
      if (!out.flush()) throw Error("cannot write " + path);
    }
    fs::permissions(path, fs::perms::owner_all);
    for (auto& j : jobs) j.scriptPath = path;
    db.setScript(id, path);
  });
  return id;
}

}  // namespace ionet::jobscripts
