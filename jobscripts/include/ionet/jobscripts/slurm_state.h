// Slurm's job states in ionet's terms: the many states Slurm has (man squeue, JOB STATE CODES)
// onto the seven an ionet queue shows, so one set of columns and filters serves both backends.
#pragma once

#include <optional>
#include <string>

#include "ionet/jobscripts/job_record.h"

namespace ionet::jobscripts {

// "RUNNING", "CANCELLED by 0" (sacct's form), "COMPLETING", ...; nullopt for a name Slurm
// does not have (the caller says which command printed it).
std::optional<JobState> jobStateFromSlurm(const std::string& slurmState);

}  // namespace ionet::jobscripts
