// Parsing and printing of the delay line's delay rules.
#include "delay_plan.h"

#include <arpa/inet.h>

#include <cmath>
#include <sstream>

#include "ionet/error.h"

namespace ionet::wanemu {

namespace {

std::string formatPrefix(const Prefix& p) {
  in_addr a{htonl(p.addr)};
  char text[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &a, text, sizeof text);
  int bits = 0;
  for (std::uint32_t m = p.mask; m; m <<= 1) ++bits;
  return std::string(text) + "/" + std::to_string(bits);
}

// Splits "LHS=MS" into its two sides.
std::pair<std::string, std::int64_t> splitDelay(const std::string& spec, const std::string& what) {
  auto eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError(what + " " + spec + ": expected ...=MILLISECONDS");
  }
  return {spec.substr(0, eq), parseMillis(spec.substr(eq + 1), what + " " + spec)};
}

}  // namespace

Prefix Prefix::parse(const std::string& text) {
  auto slash = text.find('/');
  std::string host = text.substr(0, slash);
  int bits = 32;
  if (slash != std::string::npos) {
    std::string len = text.substr(slash + 1);
    char* end = nullptr;
    long v = std::strtol(len.c_str(), &end, 10);
    if (len.empty() || *end || v < 0 || v > 32) {
      throw UsageError("prefix " + text + ": bad length /" + len);
    }
    bits = static_cast<int>(v);
  }
  in_addr a{};
  if (::inet_pton(AF_INET, host.c_str(), &a) != 1) {
    throw UsageError("prefix " + text + ": not an IPv4 address");
  }
  Prefix p;
  p.mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
  p.addr = ntohl(a.s_addr) & p.mask;
  return p;
}

std::int64_t parseMillis(const std::string& text, const std::string& what) {
  char* end = nullptr;
  double ms = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !std::isfinite(ms) || ms < 0 || ms > 60'000) {
    throw UsageError(what + ": bad milliseconds '" + text + "' (0..60000)");
  }
  return static_cast<std::int64_t>(std::llround(ms * 1e6));
}

void DelayPlan::addPair(const std::string& spec) {
  auto [lhs, ns] = splitDelay(spec, "--pair");
  auto comma = lhs.find(',');
  if (comma == std::string::npos) throw UsageError("--pair " + spec + ": expected A,B=MS");
  DelayRule r;
  r.a = Prefix::parse(lhs.substr(0, comma));
  r.b = Prefix::parse(lhs.substr(comma + 1));
  r.delayNs = ns;
  rules.push_back(r);
}

void DelayPlan::addDestination(const std::string& spec) {
  auto [lhs, ns] = splitDelay(spec, "--dst");
  DelayRule r;
  r.pair = false;
  r.b = Prefix::parse(lhs);
  r.delayNs = ns;
  rules.push_back(r);
}

std::string DelayPlan::describe() const {
  std::ostringstream out;
  out << "delay " << delayNs / 1e6 << " ms jitter " << jitterNs / 1e6 << " ms loss " << loss * 100
      << " %";
  for (const auto& r : rules) {
    if (r.pair) {
      out << ", " << formatPrefix(r.a) << "<->" << formatPrefix(r.b);
    } else {
      out << ", ->" << formatPrefix(r.b);
    }
    out << " " << r.delayNs / 1e6 << " ms";
  }
  return out.str();
}

}  // namespace ionet::wanemu
