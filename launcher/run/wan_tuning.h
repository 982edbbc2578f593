// What ionet-run tells Open MPI and libionet-coll about the links of a job spanning hosts
// (docs/collectives.md): pure, from the measured round trip and the configured rate.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace ionet::launcher {

struct CollectiveSettings {
  bool library = true;     // --coll ionet: preload libionet-coll (mpi: Open MPI's own)
  bool tuneMpi = true;     // --wan-tuning auto: Open MPI's TCP and collective settings
  std::string compress;    // --wan-compress bf16|int8; empty: none
  double rateMbps = 1000;  // --wan-rate: a host's rate to the others (not measured)
};

// Below this round trip the hosts share a LAN or a machine: Open MPI's defaults stay, and
// libionet-coll leaves the calls to Open MPI, whose algorithms cost no more there (forced on
// with --local-hosts 2 it was 1.04-1.38x slower; bench/collectives). Emulated hosts on one
// busy machine measured up to 3.5 ms at launch; the WAN links ionet is for, 10 ms and more.
constexpr std::chrono::microseconds kWanRtt{10000};

// Job variables, the same on every host, placed before --mca and -x so the user's win.
// rtt: the largest control-session round trip to the job's hosts; zero when none was measured.
std::vector<std::string> collectiveVariables(const CollectiveSettings& s,
                                             std::chrono::microseconds rtt);

// Open MPI's TCP eager limit for a link: messages up to the bandwidth-delay product go without
// the rendezvous round trip, within [64 KiB, 8 MiB].
std::size_t eagerLimitFor(std::chrono::microseconds rtt, double rateMbps);

}  // namespace ionet::launcher
