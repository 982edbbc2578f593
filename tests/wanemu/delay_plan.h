// What the delay line applies: a default one-way delay, optional jitter, and per host-pair or
// per destination delays (first matching rule wins), parsed from the command line's syntax.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ionet::wanemu {

// An IPv4 prefix, "10.99.1.0/24" or "10.99.1.2" (a /32).
struct Prefix {
  std::uint32_t addr = 0;  // host byte order, already masked
  std::uint32_t mask = 0;
  bool contains(std::uint32_t a) const { return (a & mask) == addr; }
  static Prefix parse(const std::string& text);  // throws ionet::UsageError
};

struct DelayRule {
  Prefix a, b;       // pair rule: a<->b both ways; destination rule: a = 0/0, b = destination
  bool pair = true;  // false: destination rule (any source to b)
  std::int64_t delayNs = 0;
  bool matches(std::uint32_t src, std::uint32_t dst) const {
    if (!pair) return b.contains(dst);
    return (a.contains(src) && b.contains(dst)) || (b.contains(src) && a.contains(dst));
  }
};

struct DelayPlan {
  std::int64_t delayNs = 0;   // one-way, every packet that has no matching rule
  std::int64_t jitterNs = 0;  // uniform in [-jitter, +jitter], never reorders a pair's packets
  double loss = 0;            // probability a wire packet is dropped (see packet_loss.h)
  std::vector<DelayRule> rules;
  std::uint64_t generation = 0;  // echoed in the log so a caller knows a reload took effect

  std::int64_t delayFor(std::uint32_t src, std::uint32_t dst) const {
    for (const auto& r : rules) {
      if (r.matches(src, dst)) return r.delayNs;
    }
    return delayNs;
  }

  // "A,B=MS" (pair) and "DST=MS" (destination); throws ionet::UsageError.
  void addPair(const std::string& spec);
  void addDestination(const std::string& spec);
  std::string describe() const;
};

// Milliseconds (may be fractional) to nanoseconds; throws ionet::UsageError when negative or
// not a number.
std::int64_t parseMillis(const std::string& text, const std::string& what);

}  // namespace ionet::wanemu
