// Peers of our direct site ($IONET_DIRECT): the plugin's NCCL connections to them are TCP
// connections straight between the ranks, dialled at the peer's virtual address so that the
// shim connects the real one (and writes the preamble the peer's shim takes).
#pragma once

#include <cstdint>
#include <set>
#include <string>

namespace ionet::bridge::nccl {

// "A.B.C.D" -> host byte order; false when it is not a dotted IPv4 address.
bool parseIpv4(const char* text, std::uint32_t* out);
// Host byte order -> "A.B.C.D".
std::string dottedIpv4(std::uint32_t address);

// $IONET_DIRECT ("VADDR=IPV4,...") -> the virtual addresses; false (and none) when it is
// malformed (the shim then routes nothing directly either). Null or empty: true, none.
bool parseDirectPeers(const char* list, std::set<std::uint32_t>* out);

// A non-blocking TCP listener on our virtual address (which the shim binds on every address
// when we have direct peers); its port in *port. -1 with errno on failure.
int listenDirect(std::uint32_t vaddr, std::uint32_t* port);

// Connects to a direct peer's listener; blocks for the TCP handshake only (a LAN's). The socket
// comes back non-blocking, without Nagle. -1 with errno on failure.
int dialDirect(std::uint32_t vaddr, std::uint16_t port);

// An accepted direct connection, made ready as dialDirect's are.
void tuneDirect(int fd);

}  // namespace ionet::bridge::nccl
