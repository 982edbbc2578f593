// Unit tests of per-segment loss: the pieces left of a TCP/IPv4 GSO super-packet must be
// exactly the packets the kernel would have sent, minus the dropped ones.
#include "packet_loss.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace ionet::wanemu {
namespace {

constexpr std::size_t kVnet = 10, kIp = 20, kTcp = 32, kMss = 1000;
constexpr std::uint32_t kSeq = 0xfffff000;  // wraps inside the super-packet
constexpr std::uint16_t kIpId = 0xfffd;     // wraps too

std::uint16_t be16(const char* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return ntohs(v);
}
std::uint32_t be32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return ntohl(v);
}

// The pseudo-header sum a partial checksum starts from, computed the textbook way.
std::uint16_t pseudoHeaderSum(const char* ip, std::size_t tcpLen) {
  std::uint32_t sum = 0;
  for (int i = 12; i < 20; i += 2) sum += be16(ip + i);
  sum += IPPROTO_TCP + static_cast<std::uint32_t>(tcpLen);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

// A super-packet as a TUN queue with offloads delivers it: virtio-net header (NEEDS_CSUM,
// TCPV4, gso_size kMss), IPv4, TCP with options; payload byte i is (i % 251).
std::vector<char> superPacket(std::size_t payload, std::uint8_t tcpFlags) {
  std::vector<char> f(kVnet + kIp + kTcp + payload, 0);
  f[0] = 1;  // NEEDS_CSUM
  f[1] = 1;  // TCPV4
  f[2] = kIp + kTcp;
  f[4] = kMss & 0xff;
  f[5] = kMss >> 8;
  f[6] = kIp;  // csum_start
  f[8] = 16;   // csum_offset
  char* ip = f.data() + kVnet;
  ip[0] = 0x45;
  std::uint16_t v = htons(static_cast<std::uint16_t>(kIp + kTcp + payload));
  std::memcpy(ip + 2, &v, 2);
  v = htons(kIpId);
  std::memcpy(ip + 4, &v, 2);
  ip[6] = 0x40;  // DF
  ip[8] = 64;
  ip[9] = IPPROTO_TCP;
  in_addr a;
  ::inet_pton(AF_INET, "10.99.1.2", &a);
  std::memcpy(ip + 12, &a, 4);
  ::inet_pton(AF_INET, "10.99.2.2", &a);
  std::memcpy(ip + 16, &a, 4);
  char* tcp = ip + kIp;
  std::uint32_t seq = htonl(kSeq);
  std::memcpy(tcp + 4, &seq, 4);
  tcp[12] = (kTcp / 4) << 4;
  tcp[13] = static_cast<char>(tcpFlags);
  for (std::size_t i = 0; i < payload; ++i) tcp[kTcp + i] = static_cast<char>(i % 251);
  v = htons(pseudoHeaderSum(ip, kTcp + payload));
  std::memcpy(tcp + 16, &v, 2);
  v = htons(static_cast<std::uint16_t>(
      ~onesComplementSum(reinterpret_cast<const unsigned char*>(ip), kIp, 0)));
  std::memcpy(ip + 10, &v, 2);
  return f;
}

TEST(PacketLoss, NoLossPassesTheFrameUntouched) {
  PacketLoss loss(1);
  auto f = superPacket(10 * kMss, 0x18);
  std::vector<std::vector<char>> out;
  EXPECT_EQ(loss.apply(f.data(), f.size(), kVnet, 0.0,
                       [&](const char* d, std::size_t n) { out.emplace_back(d, d + n); }),
            0u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], f);
}

TEST(PacketLoss, PlainPacketsDropAtTheGivenRate) {
  PacketLoss loss(7);
  std::vector<char> ping(84, 0);
  ping[0] = 0x45;
  int passed = 0, dropped = 0;
  for (int i = 0; i < 20000; ++i) {
    dropped += static_cast<int>(
        loss.apply(ping.data(), ping.size(), 0, 0.1, [&](const char*, std::size_t) { ++passed; }));
  }
  EXPECT_EQ(passed + dropped, 20000);
  EXPECT_NEAR(dropped / 20000.0, 0.1, 0.01);
}

// Splits many super-packets at 30 % loss and checks every piece against the original.
TEST(PacketLoss, SurvivingSegmentsLeaveAsCorrectPackets) {
  PacketLoss loss(2024);
  const std::size_t payload = 10 * kMss + 321;  // 11 segments, the last one short
  const std::size_t segments = 11;
  std::size_t totalDropped = 0, totalKept = 0;
  for (int round = 0; round < 500; ++round) {
    auto f = superPacket(payload, 0x80 | 0x18 | 0x01);  // CWR, ACK, PSH, FIN
    std::vector<bool> seen(segments, false);
    std::size_t dropped =
        loss.apply(f.data(), f.size(), kVnet, 0.3, [&](const char* d, std::size_t n) {
          const char* ip = d + kVnet;
          const char* tcp = ip + kIp;
          ASSERT_GE(n, kVnet + kIp + kTcp);
          std::size_t bytes = n - kVnet - kIp - kTcp;
          std::uint32_t offset = be32(tcp + 4) - kSeq;
          ASSERT_EQ(offset % kMss, 0u);
          std::size_t first = offset / kMss;
          std::size_t count = (bytes + kMss - 1) / kMss;
          ASSERT_LE(first + count, segments);
          for (std::size_t s = first; s < first + count; ++s) {
            EXPECT_FALSE(seen[s]);
            seen[s] = true;
          }
          bool last = first + count == segments;
          EXPECT_EQ(bytes, last ? payload - offset : count * kMss);
          EXPECT_EQ(std::memcmp(tcp + kTcp, f.data() + kVnet + kIp + kTcp + offset, bytes), 0);
          // virtio-net header: still GSO when it stands for several packets.
          EXPECT_EQ(d[0], 1);
          EXPECT_EQ(d[1], count > 1 ? 1 : 0);
          // IPv4: length, id as the kernel's segmentation numbers them, a valid header checksum.
          EXPECT_EQ(be16(ip + 2), kIp + kTcp + bytes);
          EXPECT_EQ(be16(ip + 4), static_cast<std::uint16_t>(kIpId + first));
          EXPECT_EQ(onesComplementSum(reinterpret_cast<const unsigned char*>(ip), kIp, 0), 0xffff);
          // TCP: CWR only on the first segment, FIN and PSH only on the last.
          std::uint8_t flags = static_cast<std::uint8_t>(tcp[13]);
          EXPECT_EQ((flags & 0x80) != 0, first == 0);
          EXPECT_EQ((flags & 0x09) != 0, last);
          EXPECT_TRUE(flags & 0x10);
          EXPECT_EQ(be16(tcp + 16), pseudoHeaderSum(ip, kTcp + bytes));
        });
    std::size_t kept = 0;
    for (bool s : seen) kept += s;
    EXPECT_EQ(kept + dropped, segments);
    totalDropped += dropped;
    totalKept += kept;
  }
  EXPECT_NEAR(static_cast<double>(totalDropped) / (totalDropped + totalKept), 0.3, 0.03);
}

TEST(PacketLoss, OtherGsoKindsAreDroppedWhole) {
  PacketLoss loss(3);
  auto f = superPacket(10 * kMss, 0x10);
  f[1] = 4;  // TCPV6: not split, all or nothing
  int passed = 0;
  std::size_t dropped = 0;
  for (int i = 0; i < 1000; ++i) {
    dropped += loss.apply(f.data(), f.size(), kVnet, 0.05, [&](const char* d, std::size_t n) {
      EXPECT_EQ(n, f.size());
      EXPECT_EQ(std::memcmp(d, f.data(), n), 0);
      ++passed;
    });
  }
  // 1 - 0.95^10 = 40 % of super-packets, 10 packets each.
  EXPECT_NEAR(passed / 1000.0, 0.6, 0.06);
  EXPECT_EQ(dropped, (1000u - passed) * 10u);
}

}  // namespace
}  // namespace ionet::wanemu
