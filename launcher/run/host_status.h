// What an agent reports (HostStats, control.proto), read into the host's line of the status
// (status_line.h) and into the observer's links (job_snapshot.h).
#pragma once

#include <vector>

#include "common/control.h"
#include "run/job_snapshot.h"
#include "run/status_line.h"

namespace ionet::launcher {

// Copies an agent's report into the host's status line.
void applyHostStats(const control::HostStats& stats, HostStatus& host);

// The report's data-path sessions, one per peer host.
std::vector<LinkReport> linkReports(const control::HostStats& stats);

}  // namespace ionet::launcher
