// A relay: lets two nodes that cannot reach each other (both behind NAT) hold a session through
// a third node both can reach. It only pairs connections and copies bytes: the session's TLS is
// end to end, so the relay sees ciphertext and cannot forge frames.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <memory>
#include <string>

namespace ionet::wan {

struct RelayStats {
  std::uint64_t pairs = 0;           // connections paired so far
  std::uint64_t bytesForwarded = 0;  // both directions
  std::size_t parked = 0;            // connections waiting now
  std::uint64_t refused = 0;         // bad preambles, unknown nodes
};

class Relay {
 public:
  virtual ~Relay() = default;
  static std::unique_ptr<Relay> listen(asio::io_context& io, const std::string& address,
                                       std::uint16_t port);
  virtual std::uint16_t port() const = 0;
  virtual RelayStats stats() const = 0;
  virtual void close() = 0;
};

}  // namespace ionet::wan
