// ionet-queued's loop: wait for a wake-up (a command or a shepherd) or a second to pass, then
// one scheduling pass.
#include "ionet/jobscripts/queue_daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "ionet/error.h"
#include "ionet/jobscripts/dependency.h"
#include "ionet/jobscripts/process_identity.h"
#include "ionet/jobscripts/scheduler.h"
#include "ionet/jobscripts/web_server.h"
#include "ionet/log.h"

namespace ionet::jobscripts {
namespace {

// A RUNNING job whose shepherd is gone without recording the end (killed, or the machine
// rebooted): its processes are killed and it ends NODE_FAIL, requeued if it may be. A job
// marked RUNNING whose shepherd never started (the daemon died in between) simply waits again.
void settleLostShepherd(QueueDb& db, std::int64_t id) {
  db.transaction([&] {
    auto j = db.job(id);
    if (!j || j->state != JobState::kRunning) return;
    if (j->shepherdPid && processAlive(static_cast<pid_t>(j->shepherdPid), j->shepherdStart))
      return;
    if (j->processGroup > 0) killJobProcesses(static_cast<pid_t>(j->processGroup), j->id);
    const bool started = j->shepherdPid != 0;
    log::warn("job ", j->displayId(), ": ",
              started ? "its shepherd is gone; the job ends NODE_FAIL"
                      : "marked RUNNING but never started; it waits again");
    j->allocation.clear();
    j->shepherdPid = j->shepherdStart = j->processGroup = 0;
    if (started && (!j->requeue || j->restarts >= kMaxRequeues)) {
      j->state = JobState::kNodeFail;
      j->reason = "the job's shepherd was lost";
      if (j->requeue)
        j->reason += "; not requeued again (requeued " + std::to_string(j->restarts) + " times)";
      j->endTime = wallClock();
    } else {
      j->state = JobState::kPending;
      j->reason = "None";
      j->startTime = 0;
      if (started) j->restarts += 1;
    }
    db.update(*j);
  });
}

// The reasons pending jobs wait for, written together at the end of a pass.
class ReasonUpdates {
 public:
  void set(const JobRecord& j, const std::string& reason) {
    if (j.reason != reason) changes_.emplace_back(j.id, reason);
  }
  void write(QueueDb& db) { db.setPendingReasons(changes_); }

 private:
  std::vector<std::pair<std::int64_t, std::string>> changes_;
};

}  // namespace

void schedulePass(const QueueDir& q, QueueDb& db,
                  const std::function<pid_t(const JobRecord&)>& shepherd) {
  const double now = wallClock();
  auto active = db.active();
  bool settled = false;
  for (const auto& j : active) {
    if (j.state == JobState::kRunning &&
        !(j.shepherdPid && processAlive(static_cast<pid_t>(j.shepherdPid), j.shepherdStart))) {
      settleLostShepherd(db, j.id);
      settled = true;
    }
  }
  if (settled) active = db.active();
  const auto down = db.downHosts(now);
  std::vector<QueueHost> hosts;
  for (const auto& h : q.hosts) {
    if (!down.count(h.name)) hosts.push_back(h);
  }
  ReasonUpdates reasons;
  std::vector<JobRecord> running, eligible;
  std::map<std::int64_t, std::uint32_t> arrayRunning;
  DependencyLookup lookup{[&](const std::string& id) { return db.jobsNamed(id); },
                          [&](const JobRecord& j) { return db.sameNameOlderActive(j); }};
  for (auto& j : active) {
    if (j.state == JobState::kRunning) {
      running.push_back(j);
      if (j.arrayJobId) ++arrayRunning[j.arrayJobId];
      continue;
    }
    if (j.cancelRequested) {
      db.transaction([&] {
        auto current = db.job(j.id);
        if (!current || current->state != JobState::kPending) return;
        current->state = JobState::kCancelled;
        current->endTime = now;
        db.update(*current);
      });
      continue;
    }
    const auto verdict = evaluateDependency(j, lookup);
    if (verdict.status == DependencyStatus::kNever) {
      if (j.reason != "DependencyNeverSatisfied") {
        log::warn("job ", j.displayId(), " can never start: ", verdict.why);
      }
      reasons.set(j, "DependencyNeverSatisfied");
      continue;
    }
    if (verdict.status == DependencyStatus::kWaiting) {
      reasons.set(j, "Dependency");
      continue;
    }
    eligible.push_back(j);
  }
  // The array's %N limit counts the tasks this pass starts too, so it is applied in order.
  std::vector<JobRecord> candidates;
  for (auto& j : eligible) {
    if (j.arrayJobId && j.arrayMaxRunning) {
      auto& n = arrayRunning[j.arrayJobId];
      if (n >= j.arrayMaxRunning) {
        reasons.set(j, "JobArrayTaskLimit");
        continue;
      }
      ++n;  // provisionally: undone below if it does not start
    }
    candidates.push_back(j);
  }
  const auto plan = schedule(hosts, running, candidates, now);
  std::vector<bool> starts(candidates.size(), false);
  for (const auto& d : plan.starts) {
    starts[d.pendingIndex] = true;
    JobRecord j = candidates[d.pendingIndex];
    bool marked = false;
    db.transaction([&] {
      auto current = db.job(j.id);
      if (!current || current->state != JobState::kPending || current->cancelRequested) return;
      j = *current;
      j.state = JobState::kRunning;
      j.reason = "None";
      j.allocation = d.allocation;
      j.startTime = wallClock();
      j.endTime = 0;
      db.update(j);
      marked = true;
    });
    if (!marked) continue;
    const pid_t pid = shepherd(j);
    db.transaction([&] {
      auto current = db.job(j.id);
      if (!current || current->state != JobState::kRunning || current->shepherdPid) return;
      current->shepherdPid = pid;
      current->shepherdStart = processStartTime(pid);
      db.update(*current);
    });
    log::info("job ", j.displayId(), " started on ", formatAllocation(d.allocation), " (shepherd ",
              pid, ")");
  }
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (!starts[i] && !plan.reasons[i].empty()) reasons.set(candidates[i], plan.reasons[i]);
  }
  reasons.write(db);
}

namespace {

// The web view's listener and the pool watch behind it; a failure to start either is logged
// and the queue runs without it (a page is no reason to stop scheduling).
struct WebSide {
  std::unique_ptr<WebServer> server;
  std::unique_ptr<observe::PoolWatch> watch;
  LinkHistory history;
  WebRunCache runs;
  double published = 0;

  WebSide(const QueueDir& q, const std::string& webListen) {
    try {
      const auto address = webListenAddress(q, webListen);
      if (!address) return;
      server = std::make_unique<WebServer>(q, *address);
      log::info("web view on ", server->url());
      if (q.kind == "pool")
        watch = std::make_unique<observe::PoolWatch>(launcher::loadPoolFile(q.pool));
    } catch (const std::exception& e) {
      log::error("no web view: ", e.what());
    }
  }

  // After a pass, at most once a second.
  void publish(const QueueDir& q, QueueDb& db) {
    if (!server || wallClock() - published < 1.0) return;
    published = wallClock();
    try {
      server->publish(buildWebSnapshot(gatherWebInputs(q, db, watch.get(), runs), history));
    } catch (const std::exception& e) {
      log::warn("web view not updated: ", e.what());
    }
  }

  // A page asked something within `window` seconds.
  bool watched(double window) const {
    return server && wallClock() - server->lastRequest() < window;
  }
};

}  // namespace

int runDaemon(const QueueDir& q, const std::string& webListen) {
  log::prefix() = "ionet-queued";
  const int lock = ::open(q.lockFile().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX | LOCK_NB) != 0) return 0;  // another daemon has it
  ::signal(SIGPIPE, SIG_IGN);
  const int wake = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  IONET_ENFORCE(q.wakeSocket().size() < sizeof(addr.sun_path), "queue directory path too long for ",
                "a socket: ", q.wakeSocket());
  std::strncpy(addr.sun_path, q.wakeSocket().c_str(), sizeof(addr.sun_path) - 1);
  ::unlink(addr.sun_path);
  IONET_ENFORCE(::bind(wake, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind ",
                q.wakeSocket(), ": ", std::strerror(errno));
  const double idleExit = queueTimings().idleExit;
  const std::string self = binaryDir() + "/ionet-queued";
  QueueDb db(q.database());
  log::info("serving ", q.path, " (pid ", ::getpid(), ")");
  WebSide web(q, webListen);
  auto startShepherd = [&](const JobRecord& j) -> pid_t {
    // Everything the child needs is made before fork: the web view's threads run beside us.
    const std::string dir = q.jobDir(j.id), log = dir + "/shepherd.log", id = std::to_string(j.id);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setsid();  // its own session: the daemon's death does not reach the job
      ::mkdir(dir.c_str(), 0700);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      // Not the web listener's or the pool watch's sockets: a shepherd outlives the daemon.
      ::close_range(3, ~0U, 0);
      ::execl(self.c_str(), self.c_str(), "--queue-dir", q.path.c_str(), "--shepherd", id.c_str(),
              nullptr);
      ::_exit(127);
    }
    return pid;
  };
  double idleSince = wallClock();
  for (;;) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (::access(q.database().c_str(), F_OK) != 0) {
      log::warn(q.database(), " is gone; exiting");
      break;
    }
    try {
      schedulePass(q, db, startShepherd);
    } catch (const std::exception& e) {
      log::error("scheduling pass failed: ", e.what());  // next pass retries
    }
    web.publish(q, db);
    bool busy = false;
    try {
      busy = db.activeCount() > 0;
    } catch (const std::exception&) {
      busy = true;
    }
    if (busy || web.watched(idleExit)) idleSince = wallClock();
    if (!busy && wallClock() - idleSince >= idleExit) {
      // A command that found the lock held just before it is released relies on this daemon:
      // let go, look once more, and carry on if work came in and nobody else took over.
      ::flock(lock, LOCK_UN);
      if (db.activeCount() == 0 || ::flock(lock, LOCK_EX | LOCK_NB) != 0) break;
      idleSince = wallClock();
      continue;
    }
    pollfd p{wake, POLLIN, 0};
    const double left =
        busy ? 1.0 : std::min(1.0, std::max(0.05, idleExit - (wallClock() - idleSince)));
    if (::poll(&p, 1, static_cast<int>(left * 1000)) > 0) {
      char buf[64];
      while (::recv(wake, buf, sizeof buf, 0) > 0) {
      }
    }
  }
  log::info("idle for ", idleExit, " s; exiting");
  return 0;
}

}  // namespace ionet::jobscripts
