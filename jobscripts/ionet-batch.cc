// ionet-batch: submit a job script to the pool's queue, or to a real Slurm, as sbatch does.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <iterator>
#include <thread>

#include "ionet/error.h"
#include "ionet/jobscripts/backend.h"
#include "ionet/jobscripts/command_line.h"
#include "ionet/jobscripts/slurm_backend.h"
#include "ionet/jobscripts/submission.h"
#include "ionet/log.h"

extern char** environ;

namespace {

constexpr const char* kUsage = R"(Usage: ionet-batch [options] SCRIPT [ARGS...]
Submit SCRIPT (or standard input) to the pool's batch queue, or with --backend slurm to a real
Slurm through sbatch; prints "Submitted batch job ID".
#IONET and #SBATCH lines at the top of the script set the same options; the command line wins.

  -J, --job-name NAME        -N, --nodes N            -n, --ntasks N
      --ntasks-per-node N    -c, --cpus-per-task N    -G, --gpus N
      --gpus-per-task N          --mem SIZE           -t, --time LIMIT
  -o, --output PATTERN       -e, --error PATTERN      (%j %A %a %x %N %u %r %%)
  -a, --array IDS[%MAX]      -d, --dependency KIND:ID[:ID...][,...] or singleton
                                 (KIND: after, afterany, afterok, afternotok)
      --requeue | --no-requeue                        --signal [B:|R:]SIG[@SECONDS]
  -D, --chdir DIR                --export ALL|NONE|VAR[=value],...
      --checkpoint-dir DIR       --max-restarts N     --pool FILE
      --backend embedded|slurm   (default $IONET_BATCH_BACKEND, else the pool file's
                                 [batch] backend, else embedded)
      --parsable             -W, --wait               -h, --help    -V, --version
See ionet-batch(1).
)";

// Exit status of --wait: 0 when every job completed, else the highest exit code (1 at least).
int waitForJobs(ionet::jobscripts::QueueDb& db, std::int64_t id) {
  using namespace ionet::jobscripts;
  for (;;) {
    const auto jobs = db.jobsNamed(std::to_string(id));
    bool done = !jobs.empty();
    int status = 0;
    for (const auto& j : jobs) {
      if (!isFinal(j.state)) done = false;
      if (j.state != JobState::kCompleted) {
        status = std::max({status, j.exitCode, 1});
      }
    }
    if (done) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a CLI polling the queue
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ionet;
  log::prefix() = "ionet-batch";
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
    std::cout << kUsage;
    return 0;
  }
  if (!args.empty() && (args[0] == "-V" || args[0] == "--version")) {
    std::cout << "ionet-batch (ionet) " << IONET_VERSION << "\n";
    return 0;
  }
  return jobscripts::slurmExitStatusOf([&] {
    std::string stdinText;
    bool hasScript = false;
    {
      jobscripts::BatchOptions probe;
      hasScript = jobscripts::applyCommandLine(args, probe) < args.size();
    }
    if (!hasScript) {
      if (::isatty(0))
        throw UsageError(
            "no script given (usage: ionet-batch [options] SCRIPT [ARGS...], or the script on "
            "standard input)");
      stdinText.assign(std::istreambuf_iterator<char>(std::cin), {});
    }
    auto submission = jobscripts::parseSubmission(args, stdinText);
    std::vector<std::string> environment;
    for (char** e = environ; *e; ++e) environment.emplace_back(*e);
    if (jobscripts::resolveBackend(submission.options.backend, submission.options.pool) ==
        jobscripts::Backend::kSlurm) {
      const auto id = jobscripts::submitToSlurm(submission, environment,
                                                std::filesystem::current_path().string());
      std::cout << (submission.options.parsable ? "" : "Submitted batch job ") << id << std::endl;
      return submission.options.wait ? jobscripts::waitForSlurmJob(id) : 0;
    }
    auto queue = jobscripts::openQueueDir(submission.options.pool);
    jobscripts::QueueDb db(queue.database());
    auto jobs = jobscripts::makeJobs(submission, queue, environment,
                                     std::filesystem::current_path().string());
    const auto id = jobscripts::submitJobs(queue, db, jobs, submission.scriptText);
    for (const auto& note : submission.options.notes) log::warn("warning: ", note);
    jobscripts::ensureDaemon(queue);
    if (submission.options.parsable) {
      std::cout << id << std::endl;
    } else {
      std::cout << "Submitted batch job " << id << std::endl;
    }
    if (submission.options.wait) return waitForJobs(db, id);
    return 0;
  });
}
