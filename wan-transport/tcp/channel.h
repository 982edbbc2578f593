// Plain-TCP backend of the channel interface: length-prefixed frames on one socket.
// Used for launcher<->agent control on loopback and trusted LANs.
#pragma once

#include <asio.hpp>
#include <memory>
#include <string>

#include "ionet/wan/channel.h"

namespace ionet::wan::tcp {

// Connects to host:port (blocking; throws ionet::Error naming the peer on failure).
std::shared_ptr<Channel> connect(asio::io_context& io, const std::string& host, std::uint16_t port);

// Listens on address:port (port 0: any free port).
std::unique_ptr<Listener> listen(asio::io_context& io, const std::string& address,
                                 std::uint16_t port);

}  // namespace ionet::wan::tcp
