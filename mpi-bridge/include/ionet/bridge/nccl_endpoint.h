// The agent's end of libnccl-net-ionet.so: a Unix seqpacket socket its ranks' plugins reach at
// $IONET_NCCL_AGENT, and one session channel per NCCL connection to the agent of the peer's
// host ("nccl" channels on the forwarder's sessions, so NCCL's bytes get the same TLS, parallel
// streams, resume and relays as the ranks' TCP). The contract with the plugin is nccl_link.h.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ionet/bridge/forwarder.h"

namespace ionet::bridge {

struct NcclEndpointStats {
  std::uint64_t links = 0;         // NCCL connections set up, both directions
  std::uint64_t refusedLinks = 0;  // connects answered with an error
  std::uint64_t bytesOut = 0;      // from local ranks into sessions
  std::uint64_t bytesIn = 0;       // from sessions to local ranks
};

// The channel name every NCCL connection uses; the first message says which listener.
inline constexpr const char* kNcclChannel = "nccl";

class NcclEndpoint {
 public:
  // Listens at a fresh abstract address and takes "nccl" channels from forwarder's sessions.
  NcclEndpoint(asio::io_context& io, Forwarder& forwarder);
  ~NcclEndpoint();
  NcclEndpoint(const NcclEndpoint&) = delete;
  NcclEndpoint& operator=(const NcclEndpoint&) = delete;

  // "@ionet-nccl-..." : the ranks' $IONET_NCCL_AGENT.
  const std::string& address() const;
  // The job: its id and its hosts' virtual addresses in node order (as Forwarder::setHosts).
  void setJob(std::string jobId, std::vector<std::uint32_t> hostAddresses, std::size_t self);
  // Ends every link and listener (the job is over); the socket stays for the next job.
  void closeLinks();
  NcclEndpointStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ionet::bridge
