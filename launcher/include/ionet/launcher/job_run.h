// One job, driven from ionet-run: start the agents, wait for their hello, launch, relay fences
// and direct-modex requests, print output, watch exits, and tear down on the first failure,
// a signal, a timeout or a lost agent. Returns mpirun's exit status.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ionet/launcher/agent_pool.h"
#include "ionet/launcher/job_spec.h"
#include "ionet/launcher/placement.h"

namespace ionet::launcher {

struct RunSettings {
  std::string agentPath;              // ionet-agent binary
  unsigned killGraceMs = 500;         // SIGTERM -> SIGKILL ($IONET_KILL_GRACE_MS)
  unsigned connectTimeoutMs = 60000;  // agents must say hello within this
  // Ranks on different hosts reach each other through the agents' forwarders and WAN
  // sessions (false: directly, as with mpirun; $IONET_DATA_PATH=direct).
  bool dataPath = true;
  // With more hosts than this (and the data path), the launch and the fences fan out and in
  // through a tree of agents with this many children each; 0 or 1: always the star
  // ($IONET_TREE_FANOUT).
  unsigned treeFanout = 32;
};

// How a job ended: the first failure decides it (later ones are its consequences).
struct JobOutcome {
  enum class Cause {
    kSuccess,
    kRankFailed,    // a rank exited non-zero, was killed, or skipped MPI_Finalize
    kHostLost,      // an agent died, was cut off, or never connected
    kAborted,       // a rank called MPI_Abort
    kLaunchFailed,  // the program could not be started (not found, PMIx setup)
    kInterrupted,   // the user signalled ionet-run
    kTimeout,       // --timeout
  };
  // 0 when every rank exited 0; else the first failing rank's code (128+signal for a signal),
  // the MPI_Abort status, 124 on --timeout.
  int status = 0;
  std::string message;  // printed by runJob
  Cause cause = Cause::kSuccess;
  std::string host;        // where it happened, when on one host
  std::int64_t rank = -1;  // which rank, when one
  Holdings holdings;       // --checkpoint-storage partner: what each host last said it holds
};

JobOutcome runJob(const JobSpec& spec, const Placement& placement, const RunSettings& settings);
// The same on agents of `pool`, whose sessions live on `io`.
JobOutcome runJob(const JobSpec& spec, const Placement& placement, const RunSettings& settings,
                  AgentPool& pool, asio::io_context& io);

}  // namespace ionet::launcher
