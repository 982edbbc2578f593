// ionet-run's command line: mpirun's interface with mpirun's meaning (single-dash long names
// such as -np included), parsed with CLI11. Options mpirun has and ionet-run does not are
// refused by name, never ignored.
#pragma once

#include <string>
#include <vector>

#include "run/job_spec.h"
#include "run/run_settings.h"

namespace ionet::launcher {

struct CommandLine {
  JobSpec spec;
  RunSettings settings;               // from the environment (run_settings.h)
  bool exitNow = false;               // --help or --version was answered
  std::string message;                // what to print for --help/--version
  std::vector<std::string> warnings;  // accepted, but worth a line on stderr
};

// Throws UsageError with a one-line message naming the option (or variable) and what is wrong.
// environment: lookup for -x NAME without a value, the batch job's allocation, and ionet-run's
// own variables (runSettingsFromEnvironment, poolFromEnvironment).
CommandLine parseCommandLine(const std::vector<std::string>& args,
                             const std::vector<std::string>& environment);

}  // namespace ionet::launcher
