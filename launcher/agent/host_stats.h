// --status-interval (and the pool agent's metrics, stats_file.h): what an agent reports about its
// host (HostStats, control.proto): ranks running, its forwarder's connections and its data-path
// sessions.
#pragma once

#include <memory>
#include <vector>

#include "agent/rank_process.h"
#include "common/control.h"
#include "ionet/bridge/forwarder.h"

namespace ionet::launcher {

// forwarder: null when the job has no data path.
control::HostStats makeHostStats(unsigned ranksRunning, const bridge::Forwarder* forwarder);
// The ranks that have not exited.
unsigned ranksRunning(const std::vector<std::unique_ptr<RankProcess>>& ranks);

}  // namespace ionet::launcher
