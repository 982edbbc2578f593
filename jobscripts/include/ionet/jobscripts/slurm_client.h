// Running Slurm's client commands (sbatch, squeue, scancel, sacct, scontrol): the only place
// the Slurm backend starts a process. Their messages become ionet's one-line errors.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ionet/program_output.h"

namespace ionet::jobscripts {

using SlurmReply = ProgramOutput;  // status: exit status; 128+N when killed by signal N

// Runs argv[0] found on PATH, with `environment` (nullopt: this process's) and `input` on its
// standard input. Throws UsageError "the Slurm backend needs X, not found on PATH" when it is
// not there, so no command is half-run.
SlurmReply runSlurmCommand(const std::vector<std::string>& argv,
                           const std::optional<std::vector<std::string>>& environment = {},
                           const std::string& input = "");

// Slurm's complaint as one line: "sbatch: Batch job submission failed: Unable to contact
// slurm controller (connect failure)". The command's own "sbatch: error: " prefixes go, its
// lines are joined with "; ", and an empty stderr says the exit status.
std::string slurmMessage(const std::string& command, const SlurmReply& reply);

// runSlurmCommand, then Error(slurmMessage) unless it exited 0.
SlurmReply runSlurmChecked(const std::vector<std::string>& argv,
                           const std::optional<std::vector<std::string>>& environment = {},
                           const std::string& input = "");

}  // namespace ionet::jobscripts
