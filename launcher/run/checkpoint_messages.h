// The launcher's side of the checkpoint control messages (partner storage): the plan it puts in
// LaunchJob, and the holdings the agents report.
#pragma once

#include <vector>

#include "control.pb.h"
#include "run/job_spec.h"
#include "run/placement.h"

namespace ionet::launcher {

// Each host's directory under spec's --checkpoint-dir, copies to partners when `replicate`, and
// spec.staging's fetches as host indices of placement. Throws Error for a fetch naming a host
// that is not in the job.
void setCheckpointPlan(control::CheckpointPlan* plan, const JobSpec& spec,
                       const Placement& placement, bool replicate);

std::vector<HeldSet> heldSets(const control::CheckpointHoldings& holdings);

}  // namespace ionet::launcher
