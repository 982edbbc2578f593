// ionet-agent: the per-host daemon. Thin: parse the command line, run its mode (a job's agent,
// the pool agent, the GPU health check, or a credentials command), return its exit status.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include "agent/command_line.h"
#include "ionet/log.h"

int main(int argc, char** argv) {
  using namespace ionet::launcher;
  ::signal(SIGPIPE, SIG_IGN);
  // The forwarder moves ranks' bytes in buffers of 256 KiB to 1 MiB. Keep them on the heap and
  // keep the heap's free top: otherwise glibc maps, unmaps and faults in fresh pages per buffer
  // (a tenth of the data path's CPU time in perf).
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 128 << 20);
  char host[256] = "";
  ::gethostname(host, sizeof(host) - 1);
  AgentCommandLine cmd = parseAgentCommandLine(argc, argv, host);
  ionet::log::prefix() = "ionet-agent";
  switch (cmd.mode) {
    case AgentMode::kExit:
      return cmd.exitStatus;
    case AgentMode::kJobAgent:
      return runJobAgent(cmd);
    case AgentMode::kPoolAgent:
      return runPoolAgent(cmd);
    case AgentMode::kCheckGpus:
      return checkGpus(cmd.gpu, cmd.json);
    case AgentMode::kCredentials:
      return runCredentialCommand(cmd.credentials);
  }
  return 2;
}
