// A Slurm allocation as ionet-run finds it inside sbatch, salloc or an srun'd shell: the job's
// nodes with their task counts (SLURM_JOB_NODELIST, SLURM_TASKS_PER_NODE), and the nodes'
// addresses as `scontrol show node -o` prints them. Pure: the environment and Slurm's text in,
// values out (docs/slurm.md says what maps to what).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ionet::launcher {

struct SlurmNode {
  std::string name;  // Slurm's node name: the host name ranks and ionet-run show
  std::uint32_t tasks = 1;
  bool operator==(const SlurmNode&) const = default;
};

struct SlurmAllocation {
  std::string jobId;  // SLURM_JOB_ID
  std::vector<SlurmNode> nodes;
  std::uint32_t ntasks = 0;  // SLURM_NTASKS; 0 when not set (salloc -N without -n)
};

// Slurm's hostlist expression: "n[1-3],gpu[07-08,10]" -> n1 n2 n3 gpu07 gpu08 gpu10 (leading
// zeros kept; several bracket groups in one name multiply). Throws UsageError naming the text.
std::vector<std::string> expandSlurmHostList(const std::string& text);
// SLURM_TASKS_PER_NODE's form: "2(x3),1" -> 2 2 2 1. Throws UsageError.
std::vector<std::uint32_t> expandSlurmTaskCounts(const std::string& text);

// The allocation ionet-run is inside, from a "NAME=value" environment: nullopt outside Slurm
// (no SLURM_JOB_ID) and inside ionet's own queue (IONET_JOB_ID, whose jobs also carry SLURM_
// variables). Throws UsageError naming the variable that does not parse or does not match.
std::optional<SlurmAllocation> slurmAllocationFromEnvironment(
    const std::vector<std::string>& environment);

// NodeName -> NodeAddr from `scontrol show node -o` (one node per line, KEY=VALUE fields).
std::map<std::string, std::string> parseSlurmNodeAddresses(const std::string& scontrolOutput);

}  // namespace ionet::launcher
