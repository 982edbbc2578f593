// Where a pool's queue lives and what it schedules on: one directory per pool ($IONET_QUEUE_DIR,
// else ~/.ionet/queue/<pool>) holding queue.db, the daemon's lock, wake socket and log, the
// scripts as submitted, and one directory per job. The hosts are fixed when the directory is
// made (file "hosts"), so every command and the daemon see the same pool.
#pragma once

#include <string>
#include <vector>

#include "ionet/jobscripts/scheduler.h"

namespace ionet::jobscripts {

struct QueueDir {
  std::string path;
  std::string pool;  // the pool file, absolute; "" for the embedded local pool
  // "local": this machine as one host; "emulated": $IONET_QUEUE_HOSTS hosts on this machine
  // (as ionet-run --local-hosts); "pool": the pool file's hosts.
  std::string kind;
  std::vector<QueueHost> hosts;
  std::string partition;  // what squeue's PARTITION column shows: the pool's name

  std::string database() const { return path + "/queue.db"; }
  std::string lockFile() const { return path + "/daemon.lock"; }
  std::string wakeSocket() const { return path + "/wake.sock"; }
  std::string daemonLog() const { return path + "/daemon.log"; }
  std::string jobDir(std::int64_t id) const { return path + "/jobs/" + std::to_string(id); }
};

// Opens (creating on first use) the queue of `pool` ("" : $IONET_POOL, else the local pool).
QueueDir openQueueDir(const std::string& pool);
// The same for a directory already made (the daemon and shepherds are given it).
QueueDir loadQueueDir(const std::string& path);

// The queue's timings, from the environment the daemon and shepherds inherit. A value that is
// not a number of seconds in range is a UsageError naming the variable, never a default.
struct QueueTimings {
  double killWait = 30;       // IONET_KILL_WAIT: SIGTERM -> SIGKILL of a stopped job
  double hostCooldown = 300;  // IONET_QUEUE_HOST_COOLDOWN: a lost host is left out this long
  double idleExit = 300;      // IONET_QUEUE_IDLE_EXIT: an idle daemon leaves after this long
};
QueueTimings queueTimings();

// Starts the queue's daemon unless one holds the lock, then wakes it to look at the queue.
// Checks queueTimings() first, so a bad value is the command's error, not a daemon's.
void ensureDaemon(const QueueDir& q);
void wakeDaemon(const QueueDir& q);

// Directory of this program's binary (ionet-queued, ionet-run and libexec/ionet are beside it).
std::string binaryDir();

// The user's name (USER, else the password database, else the uid).
std::string userName();

// Seconds since the epoch, as the queue stores times.
double wallClock();

}  // namespace ionet::jobscripts
