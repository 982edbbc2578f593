// --status-interval: what an agent reports about its host (HostStats, control.proto): ranks
// running, its forwarder's connections and its data-path sessions.
#pragma once

#include "common/control.h"
#include "ionet/bridge/forwarder.h"

namespace ionet::launcher {

// forwarder: null when the job has no data path.
control::HostStats makeHostStats(unsigned ranksRunning, const bridge::Forwarder* forwarder);

}  // namespace ionet::launcher
