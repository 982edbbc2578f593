// ionet-agent: runs on each host of a pool. It hosts the PMIx server for its local ranks,
// forks and execs them, forwards their output and exits to the launcher, relays fences, and
// tears its ranks down when told to, when the launcher disappears, or when it is signalled.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ionet/wan/credentials.h"
#include "ionet/wan/session_options.h"

namespace ionet::launcher {

struct AgentOptions {
  std::string hostName;               // the name jobs know this host by
  std::string address = "127.0.0.1";  // where ranks of other hosts reach this host
  std::string launcher;  // the launcher's session endpoint: "host:port" or "relay:port/node"
  wan::Credentials credentials;          // pool credentials (or the local pool's one-job PSK)
  wan::SessionOptions session;           // for the control session and the data path's sessions
  std::string dataListen = "127.0.0.1";  // where the forwarder accepts other agents' sessions
  std::string dataParkAt;                // also through this relay ("relay:port/name"), if set
  std::string token;                     // proves to the launcher that it started this agent
  std::string tmpRoot;  // parent of the agent's scratch dir ($IONET_TMPDIR or /tmp)
  std::string shmRoot;  // parent of its shared-memory dir ($IONET_SHMDIR or /dev/shm)
  // $IONET_AGENT_STATS_FILE: the pool agent's metrics read the host's stats here (stats_file.h)
  std::string statsFile;
};

class Agent {
 public:
  explicit Agent(AgentOptions options);
  ~Agent();

  // Serves one job, cleans up, returns the process exit code (0: the job ran and ended).
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ionet::launcher
