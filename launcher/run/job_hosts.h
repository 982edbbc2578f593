// What JobRun knows of each host of a run, and the views others read off it: the status lines
// of --status-interval (JobStatus) and the observer's RunView (metrics, status file).
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "common/control.h"
#include "common/fence_table.h"
#include "ionet/wan/session.h"
#include "run/job_snapshot.h"
#include "run/placement.h"
#include "run/status_line.h"

namespace ionet::launcher {

struct RunHost {
  std::shared_ptr<wan::Channel> channel;
  std::weak_ptr<wan::Session> session;
  control::Hello hello;
  std::optional<control::HostStats> stats;  // the newest (--status-interval, metrics)
  bool done = false;                        // JobDone received, or the agent is gone
  bool exited = false;                      // the agent process was reaped
  bool lost = false;                        // its session ended before JobDone
};

// hosts: placement order.
JobStatus jobStatus(const Placement& placement, const std::vector<RunHost>& hosts,
                    const FenceTable& fences, double elapsedSeconds);
RunView runView(const std::vector<RunHost>& hosts, bool launched);

}  // namespace ionet::launcher
