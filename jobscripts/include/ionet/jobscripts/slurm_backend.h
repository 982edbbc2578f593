// The batch commands' work on a real Slurm: submit with sbatch, list with squeue, cancel with
// scancel, history from sacct or the completion log. The argv builders are pure and tested;
// the rest runs them (slurm_client.h) and parses their output (slurm_listing.h).
#pragma once

#include <string>
#include <vector>

#include "ionet/jobscripts/job_record.h"
#include "ionet/jobscripts/queue_db.h"
#include "ionet/jobscripts/submission.h"

namespace ionet::jobscripts {

// Submits `s` (planSbatch) with sbatch; returns Slurm's job id. Throws UsageError for a script
// Slurm cannot express (nothing submitted), Error with Slurm's message when sbatch fails.
std::string submitToSlurm(const Submission& s, const std::vector<std::string>& environment,
                          const std::string& cwd);

// squeue's command line for `filter`: one line per array task, every state when
// `everyState` (else squeue's active states); users and names narrow it, the rest is
// filtered here (matchesFilter) so that ids of jobs Slurm has forgotten are not errors.
std::vector<std::string> squeueArgv(const JobFilter& filter, bool everyState);

// The jobs squeue shows that pass `filter`, in squeue's order.
std::vector<JobRecord> slurmQueue(const JobFilter& filter, bool everyState);

// Every job Slurm remembers that passes `filter`: ended ones from sacct (slurmdbd) or, where
// accounting is off, from the jobcomp/filetxt log; queued ones from squeue. By job id.
std::vector<JobRecord> slurmHistory(const JobFilter& filter);

// --wait: polls slurmHistory until every task of job `id` has ended; the exit status ionet-batch
// returns (0 when all COMPLETED, else the highest exit code, 1 at least).
int waitForSlurmJob(const std::string& id);

struct CancelRequest {
  std::vector<std::string> ids;
  std::string signal;  // a signal name or number; "" cancels
  std::string user, state, name;
  bool batchOnly = false, full = false, quiet = false;
};

// scancel's command line for `r` (the options have scancel's names and meanings).
std::vector<std::string> scancelArgv(const CancelRequest& r);

// Runs scancel; its complaints are logged; 1 when it failed, else 0.
int slurmCancel(const CancelRequest& r);

}  // namespace ionet::jobscripts
