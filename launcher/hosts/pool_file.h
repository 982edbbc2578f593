// The pool definition shared by ionet-run and every ionet-agent: pool.toml (hosts, how to reach
// each agent, relays for hosts behind NAT, credentials), or an Open MPI hostfile used as a pool.
// Reference: docs/pool.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ionet/wan/credentials.h"
#include "ionet/wan/session_options.h"

namespace ionet::launcher {

inline constexpr std::uint16_t kDefaultAgentPort = 7450;
inline constexpr std::uint16_t kDefaultRelayPort = 7451;
inline constexpr std::chrono::milliseconds kDefaultHeartbeatTimeout{10'000};

struct PoolFileHost {
  std::string name;                    // unique in the pool, [A-Za-z0-9._-]{1,63}
  std::string address;                 // where others reach its agent; empty when behind NAT
  std::uint16_t port = 0;              // its agent's port (the pool's agent_port unless given)
  std::string site;                    // free label, e.g. "fra"
  std::optional<std::uint32_t> slots;  // unset: the cores its agent reports
  std::optional<std::uint32_t> gpus;   // GPUs expected; the agent's NVML report wins
  bool relay = false;                  // runs a relay (on the pool's relay_port) for NAT hosts
  std::string via;                     // behind NAT: reached only through this relay host
  std::string origin;                  // "pool.toml:12": where it is defined, for errors
  // Its pool agent's Prometheus listener (ionet-agent --metrics-listen), overriding the pool's;
  // checked by the agent that uses it, which names metricsListenOrigin ("pool.toml:14").
  std::string metricsListen, metricsListenOrigin;
};

struct PoolFile {
  std::string path;            // the file it was read from
  std::string name;            // pool name (node certificates are issued for it)
  std::string credentialsDir;  // ca.pem, node.pem, node.key; relative paths are resolved
  std::string pskFile;         //   against the pool file's directory; at most one of the two
  std::uint16_t agentPort = kDefaultAgentPort;
  std::uint16_t relayPort = kDefaultRelayPort;
  std::chrono::milliseconds heartbeatTimeout = kDefaultHeartbeatTimeout;
  // Every host sees a checkpoint directory at the same path (a shared filesystem); false:
  // ionet-run --checkpoint-dir defaults to partner storage.
  bool sharedCheckpointDir = false;
  // Sites whose hosts reach each other directly on a trusted network: ranks on two hosts with
  // an address in the same one of these sites connect kernel to kernel (no session, no TLS,
  // no resume across a dropped link), as mpirun's would.
  std::set<std::string> directSites;
  // [batch] backend: which queue ionet-batch and friends use ("embedded", "slurm"); "" unset.
  std::string batchBackend;
  // Every pool agent's Prometheus listener unless its host says otherwise; "" none.
  std::string metricsListen, metricsListenOrigin;
  // [pool] web_listen: where the queue daemon of this pool serves its web view (checked by
  // the daemon and the batch commands, which name webListenOrigin).
  std::string webListen, webListenOrigin;
  std::vector<PoolFileHost> hosts;  // in file order (the node order)

  const PoolFileHost* find(const std::string& hostName) const;  // nullptr if absent
};

// A path ending in ".toml" is a pool file; anything else is read as an Open MPI hostfile
// ("NAME [slots=N]" lines): each host's address is its name, its port the default agent port.
// Throws UsageError("path:line: what is wrong"), or "path:line:column: ..." for TOML syntax.
PoolFile loadPoolFile(const std::string& path);
PoolFile parsePoolText(const std::string& text, const std::string& path);

// How to reach a host's agent: "address:port" ("[v6]:port") for a direct host,
// "relayaddress:relayport/NAME" for a host with via. Throws UsageError when via names no
// relay host with an address.
std::string agentEndpoint(const PoolFile& pool, const PoolFileHost& host);
// `slot` (a name parked at the relay of host, which has via) as "relayaddress:relayport/SLOT".
std::string relayEndpoint(const PoolFile& pool, const PoolFileHost& host, const std::string& slot);
// Where the data forwarder of a job's agent on `host` is reached: its address and dataPort, or
// the relay slot "HOST~JOBID" it parks under when the host is behind NAT.
std::string dataEndpoint(const PoolFile& pool, const PoolFileHost& host, std::uint32_t dataPort,
                         const std::string& jobId);
std::string dataRelaySlot(const std::string& hostName, const std::string& jobId);
// The pool's credentials for node `nodeName` (its certificate, or the pool PSK under that name).
// Throws UsageError when the pool names none.
wan::Credentials loadPoolCredentials(const PoolFile& pool, const std::string& nodeName);
// Session options of the pool: a peer unheard for heartbeat_timeout is dead.
wan::SessionOptions poolSessionOptions(const PoolFile& pool);

// "10s", "500ms", "2m" (integer and suffix). Throws UsageError naming what and the text.
std::chrono::milliseconds parseDuration(const std::string& text, const std::string& what);

}  // namespace ionet::launcher
