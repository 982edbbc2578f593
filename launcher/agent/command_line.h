// ionet-agent's command line: one parse that says which mode the program runs in, and one
// function per mode. ionet-agent.cc only calls them.
#pragma once

#include <string>

#include "agent/agent.h"
#include "ionet/kernels/health_check.h"
#include "poold/pool_daemon.h"

namespace ionet::launcher {

enum class AgentMode {
  kExit,         // --help, --version or a usage error: already printed, exit with exitStatus
  kJobAgent,     // --connect: serve one job (agent.h)
  kPoolAgent,    // --pool FILE without --connect: the pool agent (pool_daemon.h)
  kCheckGpus,    // --check-gpus: the GPU health report
  kCredentials,  // --gen-ca, --issue-cert, --gen-psk
};

// Pool credentials (docs/security.md): a pool CA, node certificates signed by it, or a PSK.
struct CredentialCommands {
  std::string genCa, issueCert, caDir, outDir, genPsk, pool;
  bool any() const { return !genCa.empty() || !issueCert.empty() || !genPsk.empty(); }
};

struct AgentCommandLine {
  AgentMode mode = AgentMode::kExit;
  int exitStatus = 0;                          // kExit only
  std::string connect;                         // --connect HOST:PORT
  std::string hostNameVariable;                // --host-name-from-env VAR
  AgentOptions job;                            // kJobAgent (credentials filled in by runJobAgent)
  std::string credentialsDir, pskFile;         // --credentials, --psk
  unsigned deadPeerMs = 0;                     // --dead-peer-timeout; 0: the default
  PoolDaemonOptions pool;                      // kPoolAgent (checkGpus filled in by runPoolAgent)
  bool gpuCheckBeforeOffering = true;          // kPoolAgent: false with --no-gpu-check
  bool checkGpus = false, noGpuCheck = false;  // the flags as given
  kernels::HealthCheckOptions gpu;             // kCheckGpus, and the pool agent's check
  bool json = false;                           // kCheckGpus --json
  CredentialCommands credentials;              // kCredentials
};

// Parses argv as CLI11 does; prints help, version or the usage error itself (mode kExit).
// hostName: this machine's name, the pool agent's default --host-name.
AgentCommandLine parseAgentCommandLine(int argc, const char* const* argv,
                                       const std::string& hostName);

// One function per mode; each returns ionet-agent's exit status.
int runJobAgent(AgentCommandLine& cmd);
int runPoolAgent(AgentCommandLine& cmd);
int checkGpus(const kernels::HealthCheckOptions& options, bool json);
int runCredentialCommand(const CredentialCommands& c);

}  // namespace ionet::launcher
