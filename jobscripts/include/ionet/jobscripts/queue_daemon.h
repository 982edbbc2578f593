// The queue daemon (ionet-queued): one per pool, started on demand by the commands. It holds
// no state of its own: everything is in queue.db, so a kill -9 loses nothing. Each pass it
// settles jobs whose shepherd vanished, decides what pending jobs wait for (Dependency,
// JobArrayTaskLimit, Resources, Priority) and starts those that fit, each under a shepherd.
#pragma once

#include "ionet/jobscripts/queue_db.h"
#include "ionet/jobscripts/queue_dir.h"

namespace ionet::jobscripts {

// Runs until the queue has been idle (nothing pending or running) for $IONET_QUEUE_IDLE_EXIT
// seconds (default 300) and no web page asked it anything for as long. Returns at once when
// another daemon holds the queue's lock. `webListen`: ionet-queued --web-listen ("" unset; see
// web_server.h for the other sources).
int runDaemon(const QueueDir& q, const std::string& webListen = "");

// One pass over the queue (exposed for tests); `shepherd` starts a shepherd for a job the pass
// marked RUNNING and returns its pid.
void schedulePass(const QueueDir& q, QueueDb& db,
                  const std::function<pid_t(const JobRecord&)>& shepherd);

}  // namespace ionet::jobscripts
