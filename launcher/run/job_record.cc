#include "run/job_record.h"

#include <algorithm>
#include <charconv>

namespace ionet::launcher {
namespace {

// A counter that went down started again from 0 (a new session): what it had counted is kept.
void accumulate(std::uint64_t& base, std::uint64_t& last, std::uint64_t now) {
  if (now < last) base += last;
  last = now;
}

}  // namespace

std::string restartCauseLabel(EndCause cause) {
  std::string label(endCauseName(cause));
  std::replace(label.begin(), label.end(), '-', '_');
  return label;
}

std::optional<std::int64_t> resumeStepOf(const std::string& resumeFrom) {
  const auto slash = resumeFrom.find_last_of('/');
  const std::string_view name =
      std::string_view(resumeFrom).substr(slash == std::string::npos ? 0 : slash + 1);
  constexpr std::string_view prefix = "step-";
  if (!name.starts_with(prefix) || name.size() == prefix.size()) return std::nullopt;
  std::int64_t step = 0;
  const char* end = name.data() + name.size();
  auto [at, ec] = std::from_chars(name.data() + prefix.size(), end, step);
  if (ec != std::errc() || at != end || step < 0) return std::nullopt;
  return step;
}

JobRecord::JobRecord(std::string job, int pid, double startedAt) {
  snapshot_.job = std::move(job);
  snapshot_.pid = pid;
  snapshot_.startedAt = startedAt;
  snapshot_.fenceLatency.bounds = observe::latencyBounds();
  snapshot_.fenceLatency.buckets.assign(snapshot_.fenceLatency.bounds.size(), 0);
}

void JobRecord::runStarting(const Placement& placement, std::optional<std::int64_t> resumeStep) {
  snapshot_.hosts.clear();
  snapshot_.ranksPlaced = 0;
  for (const auto& h : placement.hosts) {
    JobSnapshot::Host host;
    host.name = h.name;
    host.ranksTotal = h.ranks.size();
    host.ranks.assign(h.ranks.begin(),
                      h.ranks.begin() + static_cast<std::ptrdiff_t>(
                                            std::min(h.ranks.size(), JobSnapshot::kRanksListed)));
    snapshot_.ranksPlaced += h.ranks.size();
    snapshot_.hosts.push_back(std::move(host));
  }
  snapshot_.resumeStep = resumeStep;
  // The new run's hosts report their own sessions; the old ones' keep only their counters.
  for (auto& [pair, t] : links_) t.gauges.current = false;
  rebuildLinks();
  if (snapshot_.state == "restarting" && !snapshot_.restarts.empty()) {
    snapshot_.restarts.back().resumeStep = resumeStep;
  }
}

void JobRecord::restarting(const std::string& message, EndCause cause, double now) {
  const std::string kind = restartCauseLabel(cause);
  snapshot_.state = "restarting";
  ++snapshot_.restartsByKind[kind];
  snapshot_.restarts.push_back({now, message, kind, std::nullopt});
  if (snapshot_.restarts.size() > JobSnapshot::kRestartsListed) {
    snapshot_.restarts.erase(snapshot_.restarts.begin());
  }
}

void JobRecord::finished(int exitCode, double now) {
  snapshot_.state = "done";
  snapshot_.exitCode = exitCode;
  snapshot_.endedAt = now;
  for (auto& h : snapshot_.hosts) {
    h.up = false;
    h.ranksRunning = 0;
  }
}

void JobRecord::runId(const std::string& jobId) {
  if (snapshot_.job.empty()) snapshot_.job = jobId;
}

void JobRecord::fold(LinkTally& t, const LinkReport& r) {
  accumulate(t.base.bytesSent, t.last.bytesSent, r.bytesSent);
  accumulate(t.base.bytesReceived, t.last.bytesReceived, r.bytesReceived);
  accumulate(t.base.retransmittedBytes, t.last.retransmittedBytes, r.retransmittedBytes);
  accumulate(t.base.duplicateBytes, t.last.duplicateBytes, r.duplicateBytes);
  accumulate(t.base.reconnects, t.last.reconnects, r.reconnects);
  accumulate(t.base.resumes, t.last.resumes, r.resumes);
  auto& g = t.gauges;
  g.current = true;
  g.rttSeconds = r.rttSeconds;
  g.sendRate = r.sendRate;
  g.receiveRate = r.receiveRate;
  g.linksUp = r.linksUp;
  g.streams = r.streams;
}

void JobRecord::update(const RunView& view) {
  if (view.launched && (snapshot_.state == "starting" || snapshot_.state == "restarting")) {
    snapshot_.state = "running";
  }
  const std::size_t n = std::min(view.hosts.size(), snapshot_.hosts.size());
  for (std::size_t i = 0; i < n; ++i) {
    const HostReport& report = view.hosts[i];
    auto& host = snapshot_.hosts[i];
    host.up = report.up;
    host.ranksRunning = report.ranksRunning.value_or(0);
    if (!report.ranksRunning) continue;  // no report yet
    // A report lists every session of the host: one it no longer lists is gone.
    for (auto& [pair, t] : links_) {
      if (pair.first == host.name) t.gauges.current = false;
    }
    for (const auto& l : report.links) {
      auto& tally = links_[{host.name, l.peer}];
      tally.gauges.from = host.name;
      tally.gauges.to = l.peer;
      fold(tally, l);
    }
  }
  rebuildLinks();
}

void JobRecord::fenceIn(const std::string& signature, std::uint64_t id, Clock::time_point at) {
  openFences_.emplace(std::make_pair(signature, id), at);  // the first contribution's time
}

void JobRecord::fenceReleased(const std::string& signature, std::uint64_t id,
                              Clock::time_point at) {
  double seconds = 0;  // a fence with one member completes on its first contribution
  if (auto it = openFences_.find({signature, id}); it != openFences_.end()) {
    seconds = std::chrono::duration<double>(at - it->second).count();
    openFences_.erase(it);
  }
  snapshot_.fenceLatency.observe(std::max(0.0, seconds));
  ++snapshot_.fencesCompleted;
}

void JobRecord::runEnded() {
  openFences_.clear();
  for (auto& [pair, t] : links_) {
    for (auto [base, last] : {std::pair{&t.base.bytesSent, &t.last.bytesSent},
                              std::pair{&t.base.bytesReceived, &t.last.bytesReceived},
                              std::pair{&t.base.retransmittedBytes, &t.last.retransmittedBytes},
                              std::pair{&t.base.duplicateBytes, &t.last.duplicateBytes},
                              std::pair{&t.base.reconnects, &t.last.reconnects},
                              std::pair{&t.base.resumes, &t.last.resumes}}) {
      *base += *last;
      *last = 0;
    }
    // Nothing flows any more; the round trip stays as it was last measured.
    t.gauges.sendRate = t.gauges.receiveRate = 0;
    t.gauges.linksUp = 0;
  }
  for (auto& h : snapshot_.hosts) {
    h.up = false;
    h.ranksRunning = 0;
  }
  rebuildLinks();
}

void JobRecord::rebuildLinks() {
  snapshot_.links.clear();
  for (const auto& [pair, t] : links_) {
    JobSnapshot::Link l = t.gauges;
    l.bytesSent = t.base.bytesSent + t.last.bytesSent;
    l.bytesReceived = t.base.bytesReceived + t.last.bytesReceived;
    l.retransmittedBytes = t.base.retransmittedBytes + t.last.retransmittedBytes;
    l.duplicateBytes = t.base.duplicateBytes + t.last.duplicateBytes;
    l.reconnects = t.base.reconnects + t.last.reconnects;
    l.resumes = t.base.resumes + t.last.resumes;
    snapshot_.links.push_back(std::move(l));
  }
}

}  // namespace ionet::launcher
