// ionet-run after its command line: find the hosts (the embedded local pool, or a pool of hosts
// through their pool agents), place the ranks, and run the job with its restarts.
#pragma once

#include "run/cli.h"

namespace ionet::launcher {

// Returns mpirun's exit status. Throws UsageError for what cannot be placed, Error otherwise.
int runCommandLine(CommandLine& cmd);

}  // namespace ionet::launcher
