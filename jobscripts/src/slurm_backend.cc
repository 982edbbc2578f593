// The Slurm backend's operations: build a command line, run it, parse what it printed.
#include "ionet/jobscripts/slurm_backend.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "ionet/error.h"
#include "ionet/jobscripts/slurm_client.h"
#include "ionet/jobscripts/slurm_listing.h"
#include "ionet/jobscripts/slurm_submit.h"
#include "ionet/log.h"

namespace ionet::jobscripts {
namespace {

std::string joined(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

// The script copy sbatch reads, removed once sbatch has sent it to the controller.
class ScriptCopy {
 public:
  explicit ScriptCopy(const std::string& text) {
    const char* tmp = std::getenv("TMPDIR");
    std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/ionet-sbatch-XXXXXX";
    const int fd = ::mkstemp(path.data());
    IONET_ENFORCE(fd >= 0, "cannot create a copy of the script in ", path);
    ::close(fd);
    path_ = path;
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << text;
    IONET_ENFORCE(out.flush(), "cannot write ", path_);
  }
  ~ScriptCopy() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Ended jobs: sacct where Slurm keeps accounting; else the completion log it names.
std::vector<JobRecord> endedJobs(const JobFilter& filter) {
  std::vector<std::string> argv = {"sacct", "-X", "-P", "-n", "-o", kSacctFields};
  if (!filter.ids.empty()) argv.push_back("--jobs=" + joined(filter.ids));
  auto reply = runSlurmCommand(argv);
  if (reply.status == 0) return parseSacct(reply.out);
  if (reply.err.find("accounting storage is disabled") == std::string::npos) {
    throw Error(slurmMessage("sacct", reply));
  }
  const auto config = runSlurmChecked({"scontrol", "show", "config"}).out;
  const std::string type = configValue(config, "JobCompType");
  const std::string log = configValue(config, "JobCompLoc");
  if (type != "jobcomp/filetxt") {
    throw Error("Slurm keeps no job history here: accounting is disabled and JobCompType is " +
                (type.empty() ? std::string("unset") : type) +
                " (ionet-acct needs slurmdbd or "
                "jobcomp/filetxt)");
  }
  std::ifstream in(log);
  if (!in) {
    throw Error("Slurm's completion log " + log + " (JobCompLoc) is not readable here");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parseJobCompLog(text.str());
}

// Orders as the embedded queue lists: by job, array tasks by task id.
void sortJobs(std::vector<JobRecord>& jobs) {
  std::stable_sort(jobs.begin(), jobs.end(), [](const JobRecord& a, const JobRecord& b) {
    auto key = [](const JobRecord& j) {
      return std::make_pair(j.arrayTaskId ? j.arrayJobId : j.id,
                            j.arrayTaskId ? static_cast<std::int64_t>(*j.arrayTaskId) : -1);
    };
    return key(a) < key(b);
  });
}

}  // namespace

std::string submitToSlurm(const Submission& s, const std::vector<std::string>& environment,
                          const std::string& cwd) {
  auto plan = planSbatch(s, environment, cwd);
  std::optional<ScriptCopy> copy;
  if (!plan.scriptCopy.empty()) {
    copy.emplace(plan.scriptCopy);
    plan.argv[plan.scriptIndex] = copy->path();
  }
  auto reply = runSlurmChecked(plan.argv, plan.environment);
  return jobIdFromSbatch(reply.out);
}

std::vector<std::string> squeueArgv(const JobFilter& filter, bool everyState) {
  std::vector<std::string> argv = {"squeue", "-h", "-r", "-o", kSqueueFormat};
  if (everyState) argv.insert(argv.end(), {"-t", "all"});
  if (!filter.users.empty()) argv.insert(argv.end(), {"-u", joined(filter.users)});
  if (!filter.names.empty()) argv.insert(argv.end(), {"-n", joined(filter.names)});
  return argv;
}

std::vector<JobRecord> slurmQueue(const JobFilter& filter, bool everyState) {
  std::vector<JobRecord> out;
  for (auto& j : parseSqueue(runSlurmChecked(squeueArgv(filter, everyState)).out)) {
    if (matchesFilter(filter, j)) out.push_back(std::move(j));
  }
  return out;
}

std::vector<JobRecord> slurmHistory(const JobFilter& filter) {
  JobFilter any;
  any.users = filter.users;
  any.names = filter.names;
  auto jobs = mergeJobs(endedJobs(filter), slurmQueue(any, true));
  std::vector<JobRecord> out;
  for (auto& j : jobs) {
    if (matchesFilter(filter, j)) out.push_back(std::move(j));
  }
  sortJobs(out);
  return out;
}

int waitForSlurmJob(const std::string& id) {
  JobFilter filter;
  filter.ids = {id};
  for (;;) {
    const auto jobs = slurmHistory(filter);
    bool done = !jobs.empty();
    int status = 0;
    for (const auto& j : jobs) {
      if (!isFinal(j.state)) done = false;
      if (j.state != JobState::kCompleted) status = std::max({status, j.exitCode, 1});
    }
    if (done) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a CLI polling Slurm
  }
}

std::vector<std::string> scancelArgv(const CancelRequest& r) {
  std::vector<std::string> argv = {"scancel"};
  if (!r.signal.empty()) argv.push_back("--signal=" + signalName(parseSignalName(r.signal)));
  if (r.batchOnly) argv.push_back("--batch");
  if (r.full) argv.push_back("--full");
  if (!r.user.empty()) argv.push_back("--user=" + r.user);
  if (!r.state.empty()) argv.push_back("--state=" + stateName(parseState(r.state)));
  if (!r.name.empty()) argv.push_back("--name=" + r.name);
  if (r.quiet) argv.push_back("--quiet");
  argv.insert(argv.end(), r.ids.begin(), r.ids.end());
  return argv;
}

int slurmCancel(const CancelRequest& r) {
  const auto reply = runSlurmCommand(scancelArgv(r));
  if (reply.status != 0) throw Error(slurmMessage("scancel", reply));
  std::istringstream lines(reply.err);
  for (std::string l; std::getline(lines, l);) {
    if (!l.empty()) log::error(l);  // scancel's own "scancel: error: ..." lines
  }
  return 0;
}

}  // namespace ionet::jobscripts
