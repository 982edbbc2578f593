// Which exchange the host leaders use for a collective: decided from the link's round trip and
// rate and the message size alone (pure; unit-tested), so every leader picks the same one.
#pragma once

#include <cstddef>

namespace ionet::coll {

struct LinkModel {
  double rttSeconds = 1e-3;        // round trip between hosts (ionet-run: the sessions' RTT)
  double bytesPerSecond = 125e6;   // one host's rate to the others (ionet-run: --wan-rate)
  std::size_t eagerLimit = 65536;  // larger point-to-point messages first wait a round trip
};

enum class Exchange {
  kDirect,                 // every leader sends its whole buffer to every other: one step
  kReduceScatterAllgather  // each leader reduces 1/H of it, then sends its piece to all: two
};

// Seconds one exchange of `bytes` among `hosts` leaders takes by the model: a step costs half a
// round trip (plus a round trip when its messages exceed the eager limit: the rendezvous) and
// the bytes one leader sends in it over the rate.
double exchangeSeconds(Exchange e, int hosts, std::size_t bytes, const LinkModel& link);

// The cheaper of the two (direct on ties, and always for two hosts).
Exchange chooseExchange(int hosts, std::size_t bytes, const LinkModel& link);

const char* toString(Exchange e);

}  // namespace ionet::coll
