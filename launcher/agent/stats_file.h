// $IONET_AGENT_STATS_FILE: how a job's agent tells its pool agent (ionet-agent --pool with
// metrics on) what its part of the job does: its HostStats, serialized, replaced atomically every
// second while the job runs and once more when it ends. The pool agent reads it when scraped.
#pragma once

#include <array>
#include <asio.hpp>
#include <functional>
#include <map>
#include <string>

#include "common/control.h"

namespace ionet::launcher {

// Keeps each peer's session counters from going back during a job, so that the pool agent's
// counters never do: the forwarder's numbers for a peer drop when one of its sessions to it ends,
// and a peer with no session left is not in them at all. Pure.
class MonotoneLinks {
 public:
  // Rewrites stats.links(): every peer seen so far (one with no session now: links_up 0, rtt 0),
  // each counter what it reached before every drop plus what it reports now. A drop is taken
  // for a restart from 0, as Prometheus takes a counter's.
  void apply(control::HostStats& stats);

 private:
  struct Counter {
    std::uint64_t base = 0;  // reached before the drops
    std::uint64_t last = 0;  // reported last time
  };
  std::map<std::string, std::array<Counter, 6>> peers_;
};

// Writes bytes to path + ".tmp" and renames it over path; false (and errno) when it cannot.
bool replaceFile(const std::string& path, const std::string& bytes);

class HostStatsFile {
 public:
  // Writes at once, then every second on io's thread until stop().
  HostStatsFile(asio::io_context& io, std::string path, std::function<control::HostStats()> stats);
  // The last write (the job's final numbers), then no more.
  void stop();

 private:
  void write();
  void schedule();

  std::string path_;
  std::function<control::HostStats()> stats_;
  asio::steady_timer timer_;
  MonotoneLinks links_;
  bool stopped_ = false;
  bool warned_ = false;
};

}  // namespace ionet::launcher
