// How ionet-run itself runs a job, beside what the user asked for (JobSpec): settings from the
// environment (docs/environment.md), read in one place. A bad value is a UsageError naming the
// variable, never replaced by a default.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "observe/http_endpoint.h"
#include "run/job_spec.h"

namespace ionet::launcher {

struct RunSettings {
  std::string agentPath;              // ionet-agent binary ($IONET_AGENT, else beside ionet-run)
  unsigned killGraceMs = 500;         // SIGTERM -> SIGKILL ($IONET_KILL_GRACE_MS)
  unsigned connectTimeoutMs = 60000;  // agents must say hello within this
  // Ranks on different hosts reach each other through the agents' forwarders and WAN
  // sessions (false: directly, as with mpirun; $IONET_DATA_PATH=direct).
  bool dataPath = true;
  // With more hosts than this (and the data path), the launch and the fences fan out and in
  // through a tree of agents with this many children each; 0 or 1: always the star
  // ($IONET_TREE_FANOUT).
  unsigned treeFanout = 32;
  // Where to serve the job's Prometheus metrics: --metrics-listen, else
  // $IONET_RUN_METRICS_LISTEN (unset or empty: nowhere).
  std::optional<observe::ListenAddress> metricsListen;
  // $IONET_STATUS_DIR: the directory of the status file run-<pid>.json ("" : no file).
  std::string statusDir;
  // The metrics' and status file's `job`: $IONET_JOB_ID, else $SLURM_JOB_ID ("" : the job id
  // ionet-run draws for its first run).
  std::string jobLabel;
};

// IONET_KILL_GRACE_MS, IONET_DATA_PATH, IONET_TREE_FANOUT, IONET_RUN_METRICS_LISTEN,
// IONET_STATUS_DIR and the job label of a "NAME=value" environment (agentPath is left empty).
// Throws UsageError("NAME=value: expected ...").
RunSettings runSettingsFromEnvironment(const std::vector<std::string>& environment);

// $IONET_POOL names the pool when neither --pool nor --local-hosts does.
void poolFromEnvironment(JobSpec& spec, const std::vector<std::string>& environment);

}  // namespace ionet::launcher
