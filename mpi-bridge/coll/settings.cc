#include "settings.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ionet::coll {
namespace {

std::optional<double> number(const char* name) {
  const char* text = std::getenv(name);
  if (!text || !*text) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  // Beyond 2^40 nothing here makes sense (and size_t conversions would overflow).
  if (*end != '\0' || !(value > 0) || value > 1099511627776.0) {
    std::fprintf(stderr, "ionet-coll: ignoring %s=%s (not a positive number)\n", name, text);
    return std::nullopt;
  }
  return value;
}

Settings read() {
  Settings s;
  if (auto rtt = number("IONET_COLL_RTT_US")) s.link.rttSeconds = *rtt / 1e6;
  const char* on = std::getenv("IONET_COLL");
  s.enabled = on && std::strcmp(on, "1") == 0;
  if (auto rate = number("IONET_COLL_RATE_MBPS")) s.link.bytesPerSecond = *rate * 1e6 / 8;
  // The TCP BTL's own limit: larger messages wait for a rendezvous round trip.
  if (auto eager = number("OMPI_MCA_btl_tcp_eager_limit")) {
    s.link.eagerLimit = static_cast<std::size_t>(*eager);
  }
  if (const char* e = std::getenv("IONET_COLL_EXCHANGE")) {
    if (std::strcmp(e, "direct") == 0) s.exchange = Exchange::kDirect;
    if (std::strcmp(e, "rsag") == 0) s.exchange = Exchange::kReduceScatterAllgather;
  }
  if (const char* c = std::getenv("IONET_WAN_COMPRESS")) {
    if (std::strcmp(c, "bf16") == 0) s.compression = Compression::kBf16;
    if (std::strcmp(c, "int8") == 0) s.compression = Compression::kInt8;
  }
  if (auto piece = number("IONET_COLL_PIECE_BYTES")) {
    s.pieceBytes = static_cast<std::size_t>(*piece);
  }
  if (auto chunk = number("IONET_COLL_LOCAL_CHUNK")) {
    s.localChunkBytes = static_cast<std::size_t>(*chunk);
  }
  if (const char* d = std::getenv("IONET_COLL_DEBUG"); d && std::strcmp(d, "1") == 0) {
    s.debug = true;
  }
  return s;
}

}  // namespace

const Settings& settings() {
  static const Settings s = read();
  return s;
}

}  // namespace ionet::coll
