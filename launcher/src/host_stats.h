// HostStats (control.proto) both ways: what an agent reports for --status-interval, and how the
// launcher reads it into a status line's HostStatus.
#pragma once

#include "control.h"
#include "ionet/bridge/forwarder.h"
#include "ionet/launcher/status_line.h"

namespace ionet::launcher {

// forwarder: null when the job has no data path.
control::HostStats makeHostStats(unsigned ranksRunning, const bridge::Forwarder* forwarder);

// Copies an agent's report into the host's status line.
void applyHostStats(const control::HostStats& stats, HostStatus& host);

}  // namespace ionet::launcher
