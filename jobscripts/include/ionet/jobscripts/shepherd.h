// The shepherd of one running batch job (what slurmstepd is to a Slurm batch step): runs the
// script in its own process group with the job's environment and output files, sends the
// --signal warning, enforces the time limit, forwards a cancel, and records how the job ended.
// It runs in its own session, so a kill -9 of the queue daemon does not touch running jobs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ionet/jobscripts/job_record.h"
#include "ionet/jobscripts/queue_dir.h"

namespace ionet::jobscripts {

// The script's environment: the submitted one (per --export), then IONET_* and the SLURM_*
// variables scripts read. `arrayTasks` are the task ids of the job's array (empty otherwise).
std::vector<std::string> jobEnvironment(const JobRecord& job, const QueueDir& q,
                                        const std::vector<std::uint32_t>& arrayTasks);

// SLURM_TASKS_PER_NODE's form: "2(x3),1".
std::string tasksPerNode(const std::vector<AllocatedHost>& allocation);

// Runs job `id` (already marked RUNNING by the daemon) to its end; returns 0.
int runShepherd(const QueueDir& q, std::int64_t id);

}  // namespace ionet::jobscripts
