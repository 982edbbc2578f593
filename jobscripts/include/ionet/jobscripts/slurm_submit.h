// ionet-batch --backend slurm: the sbatch command line for a parsed submission, computed with no
// I/O (as planHostLaunch is for the agent), so every translation rule is unit-tested.
#pragma once

#include <string>
#include <vector>

#include "ionet/jobscripts/submission.h"

namespace ionet::jobscripts {

struct SbatchPlan {
  std::vector<std::string> argv;  // "sbatch" "--parsable" options... SCRIPT ARGS...
  std::size_t scriptIndex = 0;    // argv[scriptIndex] is the script's path
  // The script as sbatch must see it when that is not the file as it is (it came on standard
  // input, or holds #SBATCH lines, which sbatch would read again and which may be ionet's own
  // options): written to a temporary file whose path replaces argv[scriptIndex]. "": none.
  std::string scriptCopy;
  // sbatch's own environment: the caller's, less the variables of an embedded-queue job the
  // caller may be inside, plus the IONET_* variables that carry ionet's options (--export
  // names them, so their values never have to survive --export's comma syntax).
  std::vector<std::string> environment;
  std::vector<std::string> ionetVariables;  // the NAME=value pairs added, for messages and tests
};

// Throws UsageError naming file:line (or the option, from the command line) for an option a
// real Slurm cannot express; nothing is submitted then.
SbatchPlan planSbatch(const Submission& s, const std::vector<std::string>& environment,
                      const std::string& cwd);

// "12" from sbatch --parsable's "12" or "12;cluster"; throws Error for anything else.
std::string jobIdFromSbatch(const std::string& output);

// The script with its #SBATCH directives turned into #IONET ones (same lines, same numbers):
// ionet has read them and put them on sbatch's command line.
std::string withoutSbatchDirectives(const std::string& scriptText);

// "0-3,7%2": an array's task ids as Slurm's --array takes them.
std::string slurmArraySpec(const ArraySpec& array);

}  // namespace ionet::jobscripts
