// One job, driven from ionet-run: start the agents, wait for their hello, launch, relay fences
// and direct-modex requests, print output, watch exits, and tear down on the first failure,
// a signal, a timeout or a lost agent. Returns mpirun's exit status.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hosts/step_log.h"
#include "run/agent_launcher.h"
#include "run/job_spec.h"
#include "run/placement.h"
#include "run/run_settings.h"

namespace ionet::launcher {

// How a job ended: the first failure decides it (later ones are its consequences).
struct JobOutcome {
  using Cause = EndCause;  // hosts/step_log.h: the queue reads it back
  // 0 when every rank exited 0; else the first failing rank's code (128+signal for a signal),
  // the MPI_Abort status, 124 on --timeout.
  int status = 0;
  std::string message;  // printed by runJob
  Cause cause = Cause::kSuccess;
  std::string host;        // where it happened, when on one host
  std::int64_t rank = -1;  // which rank, when one
  Holdings holdings;       // --checkpoint-storage partner: what each host last said it holds
};

class JobObserver;  // run/job_observer.h: what the run tells /metrics and the status file

JobOutcome runJob(const JobSpec& spec, const Placement& placement, const RunSettings& settings,
                  JobObserver& observer);
// The same on agents that `agents` starts, whose sessions live on `io`.
JobOutcome runJob(const JobSpec& spec, const Placement& placement, const RunSettings& settings,
                  AgentLauncher& agents, asio::io_context& io, JobObserver& observer);

}  // namespace ionet::launcher
