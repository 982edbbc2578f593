// ionet-run --status-interval: the job's status as text lines, from what the launcher knows
// (hosts connected, fences) and what the agents report (ranks running, data links).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ionet::launcher {

struct LinkStatus {
  std::string peer;
  double rttMs = 0;
  double sendMbps = 0;  // over the last second
  double receiveMbps = 0;
  unsigned linksUp = 0;
  unsigned streams = 0;
  std::uint64_t reconnects = 0;
};

struct HostStatus {
  std::string name;
  bool connected = false;  // its agent said hello
  std::optional<double> controlRttMs;
  std::optional<unsigned> ranksRunning;  // absent until the agent reported
  unsigned ranks = 0;                    // placed on it
  std::uint64_t connectionsOut = 0, connectionsIn = 0, failedConnects = 0;
  std::vector<LinkStatus> links;  // data-path sessions to other hosts
};

struct JobStatus {
  double elapsedSeconds = 0;
  std::vector<HostStatus> hosts;
  std::uint64_t fencesDone = 0;
  struct OpenFence {
    std::size_t in = 0, of = 0;
  };
  std::vector<OpenFence> fencesOpen;
};

// One summary line, then one line per host with its links. No trailing newlines.
std::vector<std::string> formatStatus(const JobStatus& status);

}  // namespace ionet::launcher
