// --checkpoint-storage partner on the launcher's side: from what each host said it holds, the
// step a restarted job resumes from and the rank files its hosts fetch from each other first.
#pragma once

#include <string>

#include "run/job_spec.h"
#include "run/placement.h"

namespace ionet::launcher {

// The newest step of placement.worldSize ranks whose every rank's file some host of the
// placement holds, and for each rank whose own host does not hold it, a host that does (the
// first in node order). step -1 when there is none: the job starts afresh.
StagingPlan planStaging(const Holdings& holdings, const Placement& placement);

// "node2 fetches ranks 2,3 from node0; ..." for ionet-run's restart line; empty without fetches.
std::string describeFetches(const StagingPlan& plan);

}  // namespace ionet::launcher
