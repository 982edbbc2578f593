// The state table: a job that still holds or waits for nodes is RUNNING or PENDING, whatever
// Slurm's finer name; each end Slurm records is the nearest of ionet's ends.
#include "ionet/jobscripts/slurm_state.h"

#include <map>

namespace ionet::jobscripts {

std::optional<JobState> jobStateFromSlurm(const std::string& slurmState) {
  static const std::map<std::string, JobState> table = {
      // Waiting for nodes, or put back to wait (requeued, held).
      {"PENDING", JobState::kPending},
      {"REQUEUED", JobState::kPending},
      {"REQUEUE_HOLD", JobState::kPending},
      {"REQUEUE_FED", JobState::kPending},
      {"RESV_DEL_HOLD", JobState::kPending},
      {"SPECIAL_EXIT", JobState::kPending},  // held after an exit code the site marked special
      // Holding nodes: starting, running, paused, or cleaning up.
      {"CONFIGURING", JobState::kRunning},
      {"RUNNING", JobState::kRunning},
      {"COMPLETING", JobState::kRunning},
      {"SUSPENDED", JobState::kRunning},
      {"STOPPED", JobState::kRunning},
      {"SIGNALING", JobState::kRunning},
      {"STAGE_OUT", JobState::kRunning},
      {"RESIZING", JobState::kRunning},
      // Ended.
      {"COMPLETED", JobState::kCompleted},
      {"FAILED", JobState::kFailed},
      {"OUT_OF_MEMORY", JobState::kFailed},
      {"DEADLINE", JobState::kTimeout},  // ran into its --deadline: a time limit
      {"TIMEOUT", JobState::kTimeout},
      {"CANCELLED", JobState::kCancelled},
      {"PREEMPTED", JobState::kCancelled},  // ended by the scheduler for another job
      {"REVOKED", JobState::kCancelled},    // a federation sibling ran it instead
      {"NODE_FAIL", JobState::kNodeFail},
      {"BOOT_FAIL", JobState::kNodeFail},
  };
  // sacct writes "CANCELLED by 1000"; squeue may add a "+" to a state with flags.
  std::string name = slurmState.substr(0, slurmState.find(' '));
  if (!name.empty() && name.back() == '+') name.pop_back();
  auto it = table.find(name);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

}  // namespace ionet::jobscripts
