#include "run/run_command.h"

#include <unistd.h>

#include <algorithm>
#include <thread>

#include "common/agent_process.h"
#include "hosts/pool_file.h"
#include "run/job_run.h"
#include "run/placement.h"
#include "run/pool_launcher.h"
#include "run/restart.h"
#include "run/slurm_launcher.h"

namespace ionet::launcher {
namespace {

// A pool of real hosts: ask their pool agents what they offer, place, run there.
int runOnPool(JobSpec& spec, const RunSettings& settings) {
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
  auto pool = restrictPool(answered, spec);
  return runWithRestarts(spec, pool, [&](const JobSpec& s, const Placement& placement) {
    io.restart();
    return runJob(s, placement, settings, agents, io);
  });
}

// The embedded local pool: this machine, or --local-hosts emulated hosts on it.
int runLocally(JobSpec& spec, const RunSettings& settings) {
  char host[256] = "localhost";
  ::gethostname(host, sizeof(host) - 1);
  const auto cores = std::max(1u, std::thread::hardware_concurrency());
  auto pool = resolvePool(spec, cores, host);
  return runWithRestarts(spec, pool, [&](const JobSpec& s, const Placement& placement) {
    return runJob(s, placement, settings);
  });
}

// Inside a Slurm allocation: its nodes, their task counts as slots, agents started by srun.
int runInSlurmAllocation(JobSpec& spec, const RunSettings& settings) {
  asio::io_context io;
  SlurmLauncher agents(io, settings.agentPath, *spec.slurm, spec.slurmDirectLinks);
  Pool pool;
  pool.slotsGiven = true;
  for (const auto& n : spec.slurm->nodes) pool.hosts.push_back({n.name, n.tasks, false, {}});
  return runWithRestarts(spec, pool, [&](const JobSpec& s, const Placement& placement) {
    io.restart();
    return runJob(s, placement, settings, agents, io);
  });
}

}  // namespace

int runCommandLine(CommandLine& cmd) {
  RunSettings settings = cmd.settings;
  settings.agentPath = defaultAgentPath();
  if (cmd.spec.slurm) return runInSlurmAllocation(cmd.spec, settings);
  return cmd.spec.poolFile.empty() ? runLocally(cmd.spec, settings) : runOnPool(cmd.spec, settings);
}

}  // namespace ionet::launcher
