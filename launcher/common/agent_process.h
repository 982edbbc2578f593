// Starting an ionet-agent process: shared by ionet-run (the embedded pool forks its agents) and
// the pool agent (which forks one per job). Neither side's logic, only the process contract.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "ionet/wan/credentials.h"

namespace ionet::launcher {

// Forks and execs an agent (args[0] is its path) in its own process group with stdin on
// /dev/null and no other descriptors; dieWithParent: SIGTERM when the caller dies. stderrFd >= 0:
// the child's stderr (the caller closes its copy).
pid_t spawnAgentProcess(const std::vector<std::string>& args, std::vector<std::string> env,
                        bool dieWithParent, int stderrFd = -1);
// This process's environment with `secrets` ("IONET_AGENT_TOKEN=...") replacing any inherited.
std::vector<std::string> agentEnvironment(const std::vector<std::string>& secrets);

// ionet-agent next to the running binary, or $IONET_AGENT.
std::string defaultAgentPath();

// The embedded pool's credentials: the one-job key (hex, as in $IONET_AGENT_PSK) under `nodeName`.
wan::Credentials localPoolCredentials(const std::string& pskHex, const std::string& nodeName);

// 2*bytes random hex digits.
std::string randomHex(std::size_t bytes);

}  // namespace ionet::launcher
