// The LaunchJob message ionet-run sends each host's agent, built by a pure function from the job,
// its placement and what the agents said in their hellos: what is launched is decided here and
// unit-tested; job_run.cc only sends it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "control.pb.h"
#include "run/job_spec.h"
#include "run/placement.h"

namespace ionet::launcher {

// One host of the job at launch time, in node order.
struct LaunchHost {
  std::string address;         // its hello's address (MASTER_ADDR when rank 0 is there)
  std::uint32_t freePort = 0;  // its hello's free port (MASTER_PORT)
  std::string dataEndpoint;    // where its forwarder takes sessions; used with the data path
  std::string directSite, directAddress;  // pool.direct_sites; empty when none
};

struct LaunchInputs {
  std::string jobId;
  std::string transportKey;     // Open MPI's per-job transport key (random, as mpirun makes it)
  std::string workDir;          // absolute
  bool dataPath = false;        // ranks on other hosts meet through the agents' forwarders
  bool meetOnLoopback = false;  // emulated hosts without the data path: btl_tcp_if_include=lo
  unsigned killGraceMs = 500;
  unsigned treeFanout = 0;  // > 0: the launch and fences go through a control tree
  // > 0: the agents report HostStats at least this often for the metrics and the status
  // file, whether or not --status-interval prints them.
  unsigned statsIntervalMs = 0;
  std::vector<LaunchHost> hosts;
  // The largest control-session round trip to the job's hosts (0: none measured yet): the
  // collectives' link model (wan_tuning.h).
  std::chrono::microseconds linkRtt{0};
};

// The job's variables, the same on every host: launcher defaults first (Open MPI's per-job
// transport key, the ob1 PML, and btl_tcp_if_include=lo when emulated hosts' ranks meet on
// loopback), then --mca, then -x, so the user's win.
std::vector<std::string> jobVariables(const JobSpec& spec, const std::string& transportKey,
                                      bool meetOnLoopback,
                                      const std::vector<std::string>& tuning = {});

// The message for every host but its host_index, which the sender sets per receiver. Throws
// Error when inputs.hosts does not match the placement.
control::LaunchJob buildLaunchJob(const JobSpec& spec, const Placement& placement,
                                  const LaunchInputs& inputs);

}  // namespace ionet::launcher
