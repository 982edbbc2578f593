// The data forwarder in each agent: carries its ranks' TCP connections to virtual addresses
// (redirected by libionet-shim.so, see shim_protocol.h) over WAN sessions to the agent of the
// destination host, which connects to the destination rank on loopback. Same-host traffic of
// the ranks (shared memory) never comes here.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ionet/wan/session.h"

namespace ionet::bridge {

// One host of the job as the data path sees it.
struct DataHost {
  std::string name;
  std::uint32_t vaddr = 0;  // virtual IPv4 address, host byte order
  std::string endpoint;  // where its forwarder accepts sessions: "host:port" or "relay:port/node"
};

struct ForwarderOptions {
  wan::Security clientSecurity;  // for sessions we dial
  wan::Security serverSecurity;  // for sessions we accept
  wan::SessionOptions session;
  std::string listenAddress = "127.0.0.1";  // where peers' sessions arrive
  std::optional<wan::Endpoint> parkAt;      // also accept through this relay (host behind NAT)
};

struct PeerLinkStats {
  std::string host;
  wan::SessionStats session;
};

struct ForwarderStats {
  std::uint64_t connectionsOut = 0;  // ranks' connections forwarded to other hosts
  std::uint64_t connectionsIn = 0;   // connections delivered to local ranks
  std::uint64_t failedConnects = 0;  // answered to a rank with an error
  std::uint64_t bytesOut = 0;        // from local ranks into sessions
  std::uint64_t bytesIn = 0;         // from sessions to local ranks
  std::vector<PeerLinkStats> peers;
};

// Virtual address of the job's host with this index: 100.64.0.0/10, host i -> 100.64.0.0 + i + 1.
std::uint32_t virtualAddressOfHost(std::size_t index);
inline constexpr const char* kVirtualNetwork = "100.64.0.0/10";
inline constexpr const char* kVirtualInterface = "ionet0";
std::string formatIpv4(std::uint32_t hostOrder);

class Forwarder {
 public:
  // Listens for the shim on 127.0.0.1 and for peers' sessions on options.listenAddress.
  Forwarder(asio::io_context& io, ForwarderOptions options);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  std::uint16_t shimPort() const;  // $IONET_FORWARDER = 127.0.0.1:shimPort()
  std::uint16_t dataPort() const;  // peers' sessions arrive here

  // The job's hosts (index = node order) and which one we are. Until this is called every
  // connection a rank makes is refused with EHOSTUNREACH; channels of other jobs always are.
  void setHosts(std::vector<DataHost> hosts, std::size_t self, std::string jobId);

  // The agent's own channels ride the same sessions as the ranks' connections (the launcher
  // names them: its control tree, checkpoint replicas); any name that is not a ranks'
  // connection address is one of those.
  // openChannel dials host's session if needed; done gets the channel, or null and why.
  // Channels of a name other hosts open to us go to its handler (refused while there is none).
  using ChannelOpened =
      std::function<void(std::shared_ptr<wan::SessionChannel>, const std::string& error)>;
  void openChannel(std::size_t host, const std::string& name, ChannelOpened done);
  void onChannel(const std::string& name,
                 std::function<void(std::shared_ptr<wan::SessionChannel>)> handler);

  // Dials the session to every other host of the job that has none, then gives the stats
  // (what NCCL's plugin reports as its link: the sessions' round trips).
  void withPeers(std::function<void(const ForwarderStats&)> done);
  ForwarderStats stats() const;
  // The job is over on this host: take no new connections, let every forwarded connection
  // pass on what its rank wrote before it exited (as TCP would), have the peers acknowledge it,
  // then close; `done` runs then, or after `limit` at the latest.
  void drain(std::chrono::milliseconds limit, std::function<void()> done);
  // Closes at once: what is in flight is lost (a job torn down).
  void close();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ionet::bridge
