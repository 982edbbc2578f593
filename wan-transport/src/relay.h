// The relay's connection preamble (both ends), kept out of the session code. A relay pairs a
// connection that asks for node N ("DIAL N") with one N parked there ("PARK N") and then copies
// bytes both ways; the TLS session between the two ends runs through it, so the relay can
// neither read nor forge what it carries. Lines are plain ASCII, one each way, before any TLS.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace ionet::wan {

inline constexpr const char* kRelayGreeting = "IONET-RELAY/1";
inline constexpr std::size_t kMaxRelayLine = 300;

// Dialling side: asks the relay on `socket` for `node`; `done("")` once paired.
void relayDial(std::shared_ptr<asio::ip::tcp::socket> socket, const std::string& node,
               std::chrono::milliseconds timeout, std::function<void(std::string error)> done);

// Parked side: announces `node` and waits (without limit) until a dialler is paired with us.
void relayPark(std::shared_ptr<asio::ip::tcp::socket> socket, const std::string& node,
               std::function<void(std::string error)> done);

// Reads one '\n'-terminated line byte by byte: whatever follows belongs to TLS, not to us.
void readRelayLine(std::shared_ptr<asio::ip::tcp::socket> socket,
                   std::function<void(std::string line, std::string error)> done);

}  // namespace ionet::wan
