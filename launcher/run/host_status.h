// What an agent reports for --status-interval (HostStats, control.proto), read into the host's
// line of the status (status_line.h).
#pragma once

#include "common/control.h"
#include "run/status_line.h"

namespace ionet::launcher {

// Copies an agent's report into the host's status line.
void applyHostStats(const control::HostStats& stats, HostStatus& host);

}  // namespace ionet::launcher
