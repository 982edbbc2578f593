// ionet-run --metrics-listen: the job's Prometheus metrics (ionet_job_*), rendered from a
// snapshot. Pure; docs/man/ionet-run.1.md lists the names and their meaning.
#pragma once

#include <string>

#include "run/job_snapshot.h"

namespace ionet::launcher {

// The exposition text of the job at `now` (unix seconds; ionet_job_elapsed_seconds runs until
// the snapshot's end). Labels: job, and host / peer per host pair; never a rank.
std::string renderJobMetrics(const JobSnapshot& snapshot, double now);

}  // namespace ionet::launcher
