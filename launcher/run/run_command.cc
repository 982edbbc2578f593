#include "run/run_command.h"

#include <unistd.h>

#include <algorithm>
#include <thread>

#include "common/agent_process.h"
#include "hosts/pool_file.h"
#include "ionet/error.h"
#include "run/job_observer.h"
#include "run/job_run.h"
#include "run/placement.h"
#include "run/pool_launcher.h"
#include "run/restart.h"
#include "run/slurm_launcher.h"

namespace ionet::launcher {
namespace {

// Every run of the job on agents that `agents` starts (a pool's, an allocation's), driven on io,
// which is made ready again for each run.
int runOnAgents(JobSpec& spec, const Pool& pool, const RunSettings& settings,
                AgentLauncher& agents, asio::io_context& io, JobObserver& observer) {
  return runWithRestarts(
      spec, pool,
      [&](const JobSpec& s, const Placement& placement) {
        io.restart();
        return runJob(s, placement, settings, agents, io, observer);
      },
      &observer);
}

// A pool of real hosts: ask their pool agents what they offer, place, run there.
int runOnPool(JobSpec& spec, const RunSettings& settings, JobObserver& observer) {
  asio::io_context io;
  const auto poolFile = loadPoolFile(spec.poolFile);
  // Without a shared filesystem, checkpoint sets are kept at partner hosts.
  if (!spec.restart.storageGiven && !poolFile.sharedCheckpointDir &&
      !spec.restart.checkpointDir.empty()) {
    spec.restart.storage = CheckpointStorage::kPartner;
  }
  PoolLauncher agents(io, poolFile);
  const auto answered = agents.discover(std::chrono::seconds(10));
  requireAllocatedHosts(spec, answered);
  return runOnAgents(spec, restrictPool(answered, spec), settings, agents, io, observer);
}

// The embedded local pool: this machine, or --local-hosts emulated hosts on it.
int runLocally(JobSpec& spec, const RunSettings& settings, JobObserver& observer) {
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  const auto cores = std::max(1u, std::thread::hardware_concurrency());
  auto pool = resolvePool(spec, cores, host);
  return runWithRestarts(
      spec, pool,
      [&](const JobSpec& s, const Placement& placement) {
        return runJob(s, placement, settings, observer);
      },
      &observer);
}

// Inside a Slurm allocation: its nodes, their task counts as slots, agents started by srun.
int runInSlurmAllocation(JobSpec& spec, const RunSettings& settings, JobObserver& observer) {
  asio::io_context io;
  SlurmLauncher agents(io, settings.agentPath, *spec.slurm, spec.slurmDirectLinks);
  Pool pool;
  pool.slotsGiven = true;
  for (const auto& n : spec.slurm->nodes) pool.hosts.push_back({n.name, n.tasks, false, {}});
  return runOnAgents(spec, pool, settings, agents, io, observer);
}

int runWith(CommandLine& cmd, const RunSettings& settings, JobObserver& observer) {
  if (cmd.spec.slurm) return runInSlurmAllocation(cmd.spec, settings, observer);
  return cmd.spec.poolFile.empty() ? runLocally(cmd.spec, settings, observer)
                                   : runOnPool(cmd.spec, settings, observer);
}

}  // namespace

int runCommandLine(CommandLine& cmd) {
  RunSettings settings = cmd.settings;
  settings.agentPath = defaultAgentPath();
  // /metrics and the status file cover the job's whole life: pool discovery, every run, the
  // waits between restarts, and how it ended.
  JobObserver observer(
      {settings.metricsListen, settings.statusDir, settings.jobLabel, cmd.spec.quiet});
  try {
    const int status = runWith(cmd, settings, observer);
    observer.finished(status);
    return status;
  } catch (const UsageError&) {
    observer.finished(2);
    throw;
  } catch (...) {
    observer.finished(1);
    throw;
  }
}

}  // namespace ionet::launcher
