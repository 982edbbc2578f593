// Random loss per wire packet for the delay line. A TCP/IPv4 GSO super-packet (what a TUN
// queue with offloads hands over: up to ~45 MSS-sized packets in one) loses each of its
// segments independently: the survivors leave as smaller super-packets with their IP and TCP
// headers fixed up, exactly what the kernel would have sent had it segmented first. Dropping
// whole super-packets instead (what an nft rule in the forward path does) turns 1 % loss into
// rare bursts of dozens of packets, which TCP reacts to quite differently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace ionet::wanemu {

class PacketLoss {
 public:
  explicit PacketLoss(std::uint64_t seed) : random_(seed) {}

  using Pass = std::function<void(const char* frame, std::size_t len)>;

  // frame: headerBytes of virtio-net header (0: none, a plain packet), then the IP packet.
  // Calls pass() for every surviving piece; returns the wire packets dropped.
  std::size_t apply(const char* frame, std::size_t len, std::size_t headerBytes, double probability,
                    const Pass& pass);

 private:
  bool draw(double probability) { return uniform_(random_) < probability; }
  // Emits segments [first, last) of the TCPv4 super-packet in frame as one piece.
  void emitPiece(const char* frame, std::size_t len, std::size_t headerBytes, std::size_t segments,
                 std::size_t first, std::size_t last, const Pass& pass);

  std::mt19937_64 random_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  std::vector<char> piece_;
  std::vector<std::uint8_t> dropped_;
};

// The 16-bit ones' complement sum of data folded, not inverted (RFC 1071), added to sum.
std::uint32_t onesComplementSum(const unsigned char* data, std::size_t len, std::uint32_t sum);

}  // namespace ionet::wanemu
