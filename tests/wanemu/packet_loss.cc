// Per-segment random loss, splitting TCP/IPv4 GSO super-packets around the dropped segments.
#include "packet_loss.h"

#include <arpa/inet.h>

#include <cmath>
#include <cstring>

namespace ionet::wanemu {

namespace {

// struct virtio_net_hdr (<linux/virtio_net.h>, little endian on the hosts we run on).
constexpr std::size_t kFlags = 0, kGsoType = 1, kHdrLen = 2, kGsoSize = 4;
constexpr std::uint8_t kNeedsCsum = 1;
constexpr std::uint8_t kGsoNone = 0, kGsoTcpV4 = 1, kGsoEcn = 0x80;
constexpr std::uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpCwr = 0x80;

std::uint16_t load16le(const char* p) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(p[0]) |
                                    static_cast<unsigned char>(p[1]) << 8);
}
void store16le(char* p, std::uint16_t v) {
  p[0] = static_cast<char>(v & 0xff);
  p[1] = static_cast<char>(v >> 8);
}
std::uint16_t load16be(const char* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return ntohs(v);
}
void store16be(char* p, std::uint16_t v) {
  v = htons(v);
  std::memcpy(p, &v, 2);
}

std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

}  // namespace

std::uint32_t onesComplementSum(const unsigned char* data, std::size_t len, std::uint32_t sum) {
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += std::uint32_t{data[i]} << 8 | data[i + 1];
  if (len & 1) sum += std::uint32_t{data[len - 1]} << 8;
  return fold(sum);
}

std::size_t PacketLoss::apply(const char* frame, std::size_t len, std::size_t headerBytes,
                              double probability, const Pass& pass) {
  if (probability <= 0) {
    pass(frame, len);
    return 0;
  }
  std::uint8_t gsoType = headerBytes ? static_cast<std::uint8_t>(frame[kGsoType]) : kGsoNone;
  if ((gsoType & ~kGsoEcn) == kGsoNone) {
    if (draw(probability)) return 1;
    pass(frame, len);
    return 0;
  }
  std::size_t gsoSize = load16le(frame + kGsoSize);
  const char* ip = frame + headerBytes;
  std::size_t ipLen = len - headerBytes;
  std::size_t ihl = ipLen >= 20 ? (ip[0] & 0x0f) * 4u : 0;
  std::size_t thl = ipLen >= ihl + 20 ? (static_cast<unsigned char>(ip[ihl + 12]) >> 4) * 4u : 0;
  bool splittable = (gsoType & ~kGsoEcn) == kGsoTcpV4 && (frame[kFlags] & kNeedsCsum) &&
                    gsoSize > 0 && ihl >= 20 && thl >= 20 && ipLen > ihl + thl;
  if (!splittable) {
    // Another GSO kind (TCPv6, UDP): all or nothing, with the odds of losing any one of the
    // packets it stands for.
    std::size_t headers = load16le(frame + kHdrLen);
    std::size_t data = headers < ipLen ? ipLen - headers : ipLen;
    std::size_t segments = gsoSize ? std::max<std::size_t>(1, (data + gsoSize - 1) / gsoSize) : 1;
    if (draw(1 - std::pow(1 - probability, static_cast<double>(segments)))) return segments;
    pass(frame, len);
    return 0;
  }
  std::size_t payload = ipLen - ihl - thl;
  std::size_t segments = (payload + gsoSize - 1) / gsoSize;
  dropped_.assign(segments, 0);
  std::size_t drops = 0;
  for (std::size_t s = 0; s < segments; ++s) {
    if (draw(probability)) {
      dropped_[s] = 1;
      ++drops;
    }
  }
  if (drops == 0) {
    pass(frame, len);
    return 0;
  }
  for (std::size_t s = 0; s < segments;) {
    if (dropped_[s]) {
      ++s;
      continue;
    }
    std::size_t end = s;
    while (end < segments && !dropped_[end]) ++end;
    emitPiece(frame, len, headerBytes, segments, s, end, pass);
    s = end;
  }
  return drops;
}

void PacketLoss::emitPiece(const char* frame, std::size_t len, std::size_t headerBytes,
                           std::size_t segments, std::size_t first, std::size_t last,
                           const Pass& pass) {
  const char* ip = frame + headerBytes;
  std::size_t ihl = (ip[0] & 0x0f) * 4u;
  std::size_t thl = (static_cast<unsigned char>(ip[ihl + 12]) >> 4) * 4u;
  std::size_t gsoSize = load16le(frame + kGsoSize);
  std::size_t payload = len - headerBytes - ihl - thl;
  std::size_t from = first * gsoSize;
  std::size_t bytes = std::min(payload, last * gsoSize) - from;
  std::size_t headers = headerBytes + ihl + thl;
  piece_.resize(headers + bytes);
  std::memcpy(piece_.data(), frame, headers);
  std::memcpy(piece_.data() + headers, frame + headers + from, bytes);

  char* hdr = piece_.data();
  if (last - first == 1) {
    hdr[kGsoType] = static_cast<char>(kGsoNone);  // one packet: nothing left to segment
    store16le(hdr + kGsoSize, 0);
  }
  // IPv4: length, the id the kernel's segmentation would have given it, header checksum.
  char* pip = piece_.data() + headerBytes;
  store16be(pip + 2, static_cast<std::uint16_t>(ihl + thl + bytes));
  store16be(pip + 4, static_cast<std::uint16_t>(load16be(ip + 4) + first));
  store16be(pip + 10, 0);
  store16be(pip + 10, static_cast<std::uint16_t>(
                          ~onesComplementSum(reinterpret_cast<unsigned char*>(pip), ihl, 0)));
  // TCP: sequence number, flags as tcp_gso_segment sets them (CWR on the first segment only,
  // FIN and PSH on the last only), and the pseudo-header sum a partial checksum starts from.
  char* tcp = pip + ihl;
  std::uint32_t seq;
  std::memcpy(&seq, tcp + 4, 4);
  seq = htonl(ntohl(seq) + static_cast<std::uint32_t>(from));
  std::memcpy(tcp + 4, &seq, 4);
  auto& flags = reinterpret_cast<unsigned char&>(tcp[13]);
  if (first > 0) flags &= static_cast<unsigned char>(~kTcpCwr);
  if (last < segments) flags &= static_cast<unsigned char>(~(kTcpFin | kTcpPsh));
  std::uint32_t pseudo = onesComplementSum(reinterpret_cast<const unsigned char*>(ip + 12), 8, 0) +
                         IPPROTO_TCP + static_cast<std::uint32_t>(thl + bytes);
  store16be(tcp + 16, fold(pseudo));
  pass(piece_.data(), piece_.size());
}

}  // namespace ionet::wanemu
