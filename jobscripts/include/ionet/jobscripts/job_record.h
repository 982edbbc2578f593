// A batch job as the queue keeps it: what was asked, where it stands, where it ran. One record
// per array task (each has its own id; the array's id is its first task's, as in Slurm).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hosts/allocation.h"
#include "ionet/jobscripts/batch_options.h"

namespace ionet::jobscripts {

// Slurm's job states (the ones an ionet queue reaches).
enum class JobState { kPending, kRunning, kCompleted, kFailed, kCancelled, kTimeout, kNodeFail };

std::string stateName(JobState s);             // "PENDING"
std::string stateCode(JobState s);             // "PD", as squeue %t prints it
JobState parseState(const std::string& text);  // name or code, any case; throws UsageError
bool isFinal(JobState s);

// As Slurm's MaxBatchRequeue (default 5): a job that keeps losing hosts stops somewhere.
inline constexpr std::uint32_t kMaxRequeues = 5;

// Allocations: which hosts, how many tasks and which GPUs on each (hosts/allocation.h in launcher/,
// shared with ionet-run, which reads them back from IONET_ALLOCATION).
using launcher::AllocatedHost;
using launcher::formatAllocation;
using launcher::parseAllocation;

struct JobRecord {
  std::int64_t id = 0;
  std::int64_t arrayJobId = 0;               // 0: not part of an array
  std::optional<std::uint32_t> arrayTaskId;  // set for array tasks
  std::uint32_t arrayMaxRunning = 0;
  std::string name, user;
  JobState state = JobState::kPending;
  std::string reason = "None";                        // why it is pending, or why it ended
  double submitTime = 0, startTime = 0, endTime = 0;  // Unix seconds; 0: not yet
  // The request.
  std::uint32_t nodes = 0;  // 0: as few as fit
  std::uint32_t ntasks = 1, ntasksPerNode = 0, cpusPerTask = 1, gpus = 0, gpusPerTask = 0;
  std::uint64_t memMegabytes = 0, timeLimitSeconds = 0;
  std::vector<DependencyTerm> dependency;
  bool requeue = true;
  std::optional<SignalSpec> signal;
  std::string workDir, submitDir, submitHost, output, error;
  std::string scriptPath;  // the queue's copy of the script
  std::vector<std::string> args, environment;
  std::string checkpointDir, pool;
  std::string partition;  // a Slurm job's partition (not stored; the embedded queue has one)
  std::optional<std::uint32_t> maxRestarts;
  // Where it stands.
  std::vector<AllocatedHost> allocation;
  std::int64_t shepherdPid = 0, shepherdStart = 0, processGroup = 0;
  int exitCode = 0, exitSignal = 0;
  std::uint32_t restarts = 0;  // times requeued
  bool cancelRequested = false;

  // "12" or "10_3" (array task 3 of array 10), as squeue prints ids.
  std::string displayId() const;
};

// One rank of one run of a job: the provenance record ionet-acct --placement prints.
struct RankPlacement {
  std::int64_t jobId = 0;
  std::uint32_t requeue = 0;  // the job's run (0: first)
  std::uint32_t restart = 0;  // ionet-run's restart within the run
  std::uint32_t rank = 0;
  std::string host, gpus;
};

// Sets "NAME=value" in an environment list, replacing an entry of the same name (so that
// every reader, getenv as well as bash, sees the same value).
void setVariable(std::vector<std::string>& environment, const std::string& assignment);

// Expands an output pattern: %j job id, %A array id, %a task id, %x name, %N first host,
// %u user, %r restart count, %% a percent sign; a width (%4a) pads with zeros.
std::string expandPattern(const std::string& pattern, const JobRecord& job);

}  // namespace ionet::jobscripts
