// ionet-agent --pool: the long-lived agent on each host of a pool. It accepts launchers'
// sessions (directly, or parked at the pool's relay when the host is behind NAT), registers the
// host's resources with each, runs a relay if the pool says so, and starts a job's agent (the
// per-job `ionet-agent --connect`) when a launcher asks, reporting how it ends. Jobs survive a
// restart of this daemon, as Slurm jobs survive slurmd's.
#pragma once

#include <string>

#include "poold/gpu_health.h"

namespace ionet::launcher {

struct PoolDaemonOptions {
  std::string poolFile;              // pool.toml
  std::string nodeName;              // this host's name in it
  std::string agentPath;             // the ionet-agent binary for jobs (usually ourselves)
  std::string scratchRoot = "/tmp";  // per-job scratch dirs, removed when a job's agent ends
  // The GPU health check, run before registering when NVML lists GPUs; empty: GPUs are offered
  // unchecked (ionet-agent --no-gpu-check).
  GpuChecker checkGpus;
  // --metrics-listen: where to serve Prometheus metrics; "": the pool file's metrics_listen of
  // this host or of the pool, if any (pool_metrics.h).
  std::string metricsListen;
};

// Serves until SIGTERM/SIGINT; returns the exit code. Throws UsageError for a bad pool file.
int runPoolDaemon(const PoolDaemonOptions& options);

}  // namespace ionet::launcher
