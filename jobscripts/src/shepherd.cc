// The shepherd: one process per running batch job, between the daemon and the job's script.
#include "ionet/jobscripts/shepherd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hosts/step_log.h"
#include "ionet/error.h"
#include "ionet/jobscripts/process_identity.h"
#include "ionet/jobscripts/queue_db.h"
#include "ionet/jobscripts/web_server.h"
#include "ionet/log.h"

namespace fs = std::filesystem;

namespace ionet::jobscripts {
namespace {

std::string joinedNames(const std::vector<AllocatedHost>& allocation) {
  std::string out;
  for (const auto& h : allocation) out += (out.empty() ? "" : ",") + h.name;
  return out;
}

// Variables the queue sets for a job when they apply: a submitted one (from a job that
// submitted this one, say) must not stand in for a value this job does not have.
bool ownedByTheQueue(const std::string& assignment) {
  static const char* const prefixes[] = {"SLURM_",
                                         "IONET_JOB",
                                         "IONET_ARRAY",
                                         "IONET_ALLOCATION",
                                         "IONET_STEP_LOG=",
                                         "IONET_STATUS_DIR=",
                                         "IONET_CHECKPOINT_DIR=",
                                         "IONET_MAX_RESTARTS=",
                                         "IONET_GPUS_PER_TASK=",
                                         "IONET_NTASKS",
                                         "IONET_CPUS_PER_TASK=",
                                         "IONET_SUBMIT_",
                                         "IONET_RESTART_COUNT="};
  for (const char* p : prefixes) {
    if (assignment.rfind(p, 0) == 0) return true;
  }
  return false;
}

std::string stepLog(const QueueDir& q, const JobRecord& job) {
  return q.jobDir(job.id) + "/steps-" + std::to_string(job.restarts) + ".log";
}

// What ionet-run wrote into the step log (hosts/step_log.h): the ranks' placements, and whether
// its last run ended by losing a host (then the job ends NODE_FAIL), and which.
struct StepSummary {
  std::vector<RankPlacement> ranks;
  bool hostLost = false;
  std::string lostHost;
};

StepSummary summarizeStepLog(const std::string& path, const JobRecord& job) {
  const launcher::StepLog log = launcher::readStepLog(path);
  StepSummary summary;
  for (const auto& p : log.placements) {
    summary.ranks.push_back({job.id, job.restarts, p.restart, p.rank, p.host, p.gpus});
  }
  if (log.lastEnd && log.lastEnd->cause == launcher::EndCause::kHostLost) {
    summary.hostLost = true;
    summary.lostHost = log.lastEnd->host;
  }
  return summary;
}

int openOutput(const std::string& path, bool append) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
}

}  // namespace

std::string tasksPerNode(const std::vector<AllocatedHost>& allocation) {
  std::string out;
  for (std::size_t i = 0; i < allocation.size();) {
    std::size_t j = i;
    while (j < allocation.size() && allocation[j].tasks == allocation[i].tasks) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(allocation[i].tasks);
    if (j - i > 1) out += "(x" + std::to_string(j - i) + ")";
    i = j;
  }
  return out;
}

std::vector<std::string> jobEnvironment(const JobRecord& job, const QueueDir& q,
                                        const std::vector<std::uint32_t>& arrayTasks) {
  std::vector<std::string> env;
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& e : job.environment) {
    if (e.rfind("PATH=", 0) == 0) {
      path = e.substr(5);
    } else if (!ownedByTheQueue(e)) {
      env.push_back(e);  // a submitting job's own job variables are not this job's
    }
  }
  // ionet-run, ionet-batch ... and srun (libexec/ionet) first: the job finds them by name.
  const std::string bin = binaryDir();
  setVariable(env, "PATH=" + bin + ":" + (fs::path(bin).parent_path() / "libexec/ionet").string() +
                       ":" + path);
  const std::string nodes = joinedNames(job.allocation);
  const std::string id = std::to_string(job.id);
  auto both = [&](const std::string& suffix, const std::string& value) {
    setVariable(env, "IONET_" + suffix + "=" + value);
    setVariable(env, "SLURM_" + suffix + "=" + value);
  };
  both("JOB_ID", id);
  setVariable(env, "SLURM_JOBID=" + id);
  both("JOB_NAME", job.name);
  both("JOB_NODELIST", nodes);
  setVariable(env, "SLURM_NODELIST=" + nodes);
  both("JOB_NUM_NODES", std::to_string(job.allocation.size()));
  setVariable(env, "SLURM_NNODES=" + std::to_string(job.allocation.size()));
  both("NTASKS", std::to_string(job.ntasks));
  setVariable(env, "SLURM_NPROCS=" + std::to_string(job.ntasks));
  if (job.ntasksPerNode) both("NTASKS_PER_NODE", std::to_string(job.ntasksPerNode));
  setVariable(env, "SLURM_TASKS_PER_NODE=" + tasksPerNode(job.allocation));
  std::vector<AllocatedHost> cpusPerHost = job.allocation;
  for (auto& h : cpusPerHost) h.tasks *= job.cpusPerTask;
  setVariable(env, "SLURM_JOB_CPUS_PER_NODE=" + tasksPerNode(cpusPerHost));
  setVariable(env, "SLURM_CPUS_ON_NODE=" +
                       std::to_string(job.allocation.empty()
                                          ? 0
                                          : job.allocation.front().tasks * job.cpusPerTask));
  both("CPUS_PER_TASK", std::to_string(job.cpusPerTask));
  if (job.memMegabytes) setVariable(env, "SLURM_MEM_PER_NODE=" + std::to_string(job.memMegabytes));
  if (job.gpus) setVariable(env, "SLURM_GPUS=" + std::to_string(job.gpus));
  if (job.gpusPerTask) both("GPUS_PER_TASK", std::to_string(job.gpusPerTask));
  both("SUBMIT_DIR", job.submitDir);
  both("SUBMIT_HOST", job.submitHost);
  both("JOB_USER", job.user);
  both("RESTART_COUNT", std::to_string(job.restarts));
  setVariable(env, "SLURM_CLUSTER_NAME=ionet");
  both("JOB_PARTITION", q.partition);
  setVariable(env,
              "SLURMD_NODENAME=" + (job.allocation.empty() ? "" : job.allocation.front().name));
  setVariable(env, "ENVIRONMENT=BATCH");
  if (job.arrayTaskId) {
    both("ARRAY_JOB_ID", std::to_string(job.arrayJobId));
    both("ARRAY_TASK_ID", std::to_string(*job.arrayTaskId));
    if (!arrayTasks.empty()) {
      both("ARRAY_TASK_COUNT", std::to_string(arrayTasks.size()));
      both("ARRAY_TASK_MIN", std::to_string(arrayTasks.front()));
      both("ARRAY_TASK_MAX", std::to_string(arrayTasks.back()));
    }
  }
  // What ionet-run inside the job reads (cli.cc applyBatchJob).
  setVariable(env, "IONET_ALLOCATION=" + formatAllocation(job.allocation));
  setVariable(env, "IONET_ALLOCATION_KIND=" + q.kind);
  if (!q.pool.empty()) setVariable(env, "IONET_POOL=" + q.pool);
  setVariable(env, "IONET_STEP_LOG=" + stepLog(q, job));
  // ionet-run's status files, which the queue's web view reads (web_server.h).
  setVariable(env, "IONET_STATUS_DIR=" + statusDir(q, job.id));
  if (!job.checkpointDir.empty()) setVariable(env, "IONET_CHECKPOINT_DIR=" + job.checkpointDir);
  if (job.maxRestarts) setVariable(env, "IONET_MAX_RESTARTS=" + std::to_string(*job.maxRestarts));
  return env;
}

int runShepherd(const QueueDir& q, std::int64_t id) {
  log::prefix() = "ionet-shepherd[" + std::to_string(id) + "]";
  // Its daemon checked them before it started, and the shepherd inherits its environment.
  const QueueTimings timings = queueTimings();
  QueueDb db(q.database());
  auto loaded = db.job(id);
  if (!loaded || loaded->state != JobState::kRunning) {
    log::error("job ", id, " is not RUNNING; nothing to do");
    return 0;
  }
  JobRecord job = *loaded;
  fs::create_directories(q.jobDir(id));
  fs::create_directories(statusDir(q, id));

  // Signals the shepherd acts on arrive through sigtimedwait, never asynchronously.
  sigset_t waited;
  sigemptyset(&waited);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&waited, s);
  sigprocmask(SIG_BLOCK, &waited, nullptr);
  // The script's orphans (ionet-run when the shell is gone) become ours, to wait for and reap.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  std::vector<std::uint32_t> arrayTasks;
  if (job.arrayTaskId) {
    for (const auto& t : db.jobsNamed(std::to_string(job.arrayJobId))) {
      if (t.arrayTaskId) arrayTasks.push_back(*t.arrayTaskId);
    }
  }
  const auto env = jobEnvironment(job, q, arrayTasks);
  const bool append = job.restarts > 0;  // a requeued job keeps what its earlier runs wrote
  const std::string outPath = expandPattern(job.output, job);
  const std::string errPath = job.error.empty() ? outPath : expandPattern(job.error, job);
  const int out = openOutput(outPath, append);
  const int err = errPath == outPath ? out : openOutput(errPath, append);
  std::string setupError;
  if (out < 0) setupError = "cannot open the output file " + outPath + ": " + std::strerror(errno);
  if (setupError.empty() && err < 0) {
    setupError = "cannot open the error file " + errPath + ": " + std::strerror(errno);
  }
  if (setupError.empty() && ::access(job.workDir.c_str(), X_OK) != 0) {
    setupError = "cannot enter the working directory " + job.workDir + ": " + std::strerror(errno);
  }
  pid_t child = -1;
  if (setupError.empty()) {
    child = ::fork();
    if (child == 0) {
      ::setpgid(0, 0);
      sigprocmask(SIG_UNBLOCK, &waited, nullptr);
      const int null = ::open("/dev/null", O_RDONLY);
      ::dup2(null, 0);
      ::dup2(out, 1);
      ::dup2(err, 2);
      if (::chdir(job.workDir.c_str()) != 0) ::_exit(126);
      std::vector<char*> argv{const_cast<char*>(job.scriptPath.c_str())};
      for (const auto& a : job.args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      std::vector<char*> envp;
      for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
      envp.push_back(nullptr);
      ::execve(argv[0], argv.data(), envp.data());
      const std::string why =
          std::string("ionet: cannot run the batch script: ") + std::strerror(errno) + "\n";
      (void)!::write(2, why.data(), why.size());
      ::_exit(127);
    }
    if (child < 0) setupError = std::string("fork: ") + std::strerror(errno);
  }
  if (out >= 0) ::close(out);
  if (err >= 0 && err != out) ::close(err);

  bool cancelled = false, timedOut = false;
  int status = 0;
  if (child > 0) {
    ::setpgid(child, child);
    db.transaction([&] {
      auto now = db.job(id);
      if (!now) return;
      now->processGroup = child;
      now->shepherdPid = ::getpid();
      now->shepherdStart = processStartTime(::getpid());
      db.update(*now);
    });
    const double killWait = timings.killWait;
    const double limitAt = job.timeLimitSeconds ? job.startTime + double(job.timeLimitSeconds) : 0;
    double warnAt = job.signal && limitAt ? limitAt - job.signal->secondsBefore : 0;
    double killAt = 0;  // SIGKILL after a SIGTERM that was not enough
    auto stop = [&](const char* why) {
      log::info("stopping job ", id, ": ", why);
      ::kill(-child, SIGCONT);
      ::kill(-child, SIGTERM);
      killAt = wallClock() + killWait;
    };
    for (;;) {
      int ws = 0;
      if (::waitpid(child, &ws, WNOHANG) == child) {
        status = ws;
        break;
      }
      const double now = wallClock();
      if (warnAt && now >= warnAt) {
        warnAt = 0;
        // B: the batch shell alone; else the job's other processes (its steps: ionet-run,
        // which forwards it to the ranks), not the shell, as Slurm does.
        if (job.signal->batchOnly) {
          ::kill(child, job.signal->signal);
        } else {
          signalGroupExcept(child, job.signal->signal, child);
        }
      }
      if (limitAt && now >= limitAt && !timedOut && !cancelled) {
        timedOut = true;
        stop("time limit reached");
      }
      if (killAt && now >= killAt) {
        ::kill(-child, SIGKILL);
        killAt = 0;
      }
      double next = now + 1;
      for (double t : {warnAt, timedOut || cancelled ? 0.0 : limitAt, killAt}) {
        if (t > 0) next = std::min(next, t);
      }
      const double wait = std::max(0.001, next - now);
      timespec ts{static_cast<time_t>(wait), static_cast<long>((wait - std::floor(wait)) * 1e9)};
      const int sig = ::sigtimedwait(&waited, nullptr, &ts);
      if ((sig == SIGTERM || sig == SIGINT || sig == SIGHUP) && !cancelled && !timedOut) {
        cancelled = true;
        stop("cancelled");
      }
    }
    // The batch shell is gone. A job being stopped (time limit, cancel) keeps the rest of its
    // KillWait to finish, as Slurm gives it: ionet-run is still passing the ranks' last words
    // on. Then, and at once after a normal end, whatever is left goes with SIGKILL. Orphans
    // of the script are the shepherd's children (subreaper), reaped here.
    while (killAt && wallClock() < killAt && ::kill(-child, 0) == 0) {
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      timespec ts{0, 20'000'000};
      ::sigtimedwait(&waited, nullptr, &ts);  // SIGCHLD ends the wait early
    }
    ::kill(-child, SIGKILL);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }

  const StepSummary steps = summarizeStepLog(stepLog(q, job), job);
  db.transaction([&] {
    auto current = db.job(id);
    if (!current || current->state != JobState::kRunning || current->shepherdPid != ::getpid()) {
      return;  // the daemon already settled it
    }
    JobRecord& j = *current;
    db.addPlacements(steps.ranks);
    j.endTime = wallClock();
    j.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    j.exitSignal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    j.reason = "None";
    if (!setupError.empty()) {
      j.state = JobState::kFailed;
      j.exitCode = 1;
      j.reason = setupError;
    } else if (cancelled || j.cancelRequested) {
      j.state = JobState::kCancelled;
    } else if (timedOut) {
      j.state = JobState::kTimeout;
    } else if (steps.hostLost && status != 0) {
      j.state = JobState::kNodeFail;
      j.reason = "host " + (steps.lostHost.empty() ? std::string("?") : steps.lostHost) + " lost";
      // This machine itself (the local queue's one host) is not taken out: a lost agent there
      // is a process that died, not a machine that went away.
      if (!steps.lostHost.empty() && q.kind != "local") {
        db.setHostDown(steps.lostHost, wallClock() + timings.hostCooldown,
                       "lost during job " + j.displayId());
      }
    } else {
      j.state = status == 0 ? JobState::kCompleted : JobState::kFailed;
    }
    log::info("job ", j.displayId(), " ended ", stateName(j.state), " (", j.exitCode, ":",
              j.exitSignal, ")", j.reason == "None" ? "" : ": " + j.reason);
    if (j.state == JobState::kNodeFail && j.requeue && j.restarts >= kMaxRequeues) {
      j.reason += "; not requeued again (requeued " + std::to_string(j.restarts) + " times)";
    } else if (j.state == JobState::kNodeFail && j.requeue) {
      // Requeued as Slurm does on NODE_FAIL: the same id, pending again, first in line.
      j.state = JobState::kPending;
      j.restarts += 1;
      j.reason = "None";
      j.allocation.clear();
      j.startTime = j.endTime = 0;
      j.shepherdPid = j.shepherdStart = j.processGroup = 0;
    }
    db.update(j);
  });
  ensureDaemon(q);
  return 0;
}

}  // namespace ionet::jobscripts
