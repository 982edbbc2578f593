#include "ionet/jobscripts/web_view.h"

#include <algorithm>
#include <set>

#include "observe/metrics_text.h"

namespace ionet::jobscripts {
namespace {

using nlohmann::json;

// A value of a status file's field, or `fallback` when it is missing or of another type (the
// files are ionet-run's, but a daemon does not trust a file to be whole).
template <typename T>
T field(const json& j, const char* key, T fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    return fallback;
  }
}

json hostJson(const observe::WatchedHost& h) {
  json gpus = json::array();
  for (const auto& g : h.gpus) {
    gpus.push_back({{"index", g.index},
                    {"model", g.model},
                    {"memory_bytes", g.memoryBytes},
                    {"checked", g.checked},
                    {"healthy", g.healthFailure.empty()},
                    {"health_failure", g.healthFailure},
                    {"tflops", g.tflops}});
  }
  return {{"name", h.name},    {"site", h.site},         {"relayed", h.relayed},
          {"up", h.up},        {"why", h.why},           {"since", h.since},
          {"rtt_ms", h.rttMs}, {"cores", h.cores},       {"memory_bytes", h.memoryBytes},
          {"gpus", gpus},      {"gpu_error", h.gpuError}};
}

// The newest status file of a job's runs, or null.
const json* newestRun(const WebInputs& in, std::int64_t id) {
  const auto it = in.runs.find(id);
  if (it == in.runs.end() || it->second.empty()) return nullptr;
  return &it->second.back();
}

json placementJson(const JobRecord& j, const json* run) {
  json out = json::array();
  if (run && run->contains("hosts") && (*run)["hosts"].is_array() && !(*run)["hosts"].empty()) {
    for (const auto& h : (*run)["hosts"]) {
      json ranks = h.contains("ranks") && h["ranks"].is_array() ? h["ranks"] : json::array();
      out.push_back({{"host", field<std::string>(h, "name", "?")},
                     {"ranks", ranks},
                     {"ranks_total", field<std::int64_t>(h, "ranks_total",
                                                         static_cast<std::int64_t>(ranks.size()))},
                     {"up", field<bool>(h, "up", false)}});
    }
    return out;
  }
  for (const auto& a : j.allocation) {
    out.push_back({{"host", a.name},
                   {"ranks", json::array()},
                   {"ranks_total", a.tasks},
                   {"up", j.state == JobState::kRunning}});
  }
  return out;
}

json jobJson(const WebInputs& in, const JobRecord& j) {
  const json* run = newestRun(in, j.id);
  json restarts = json::array();
  if (auto it = in.runs.find(j.id); it != in.runs.end()) {
    for (const auto& r : it->second) {
      if (!r.contains("restarts") || !r["restarts"].is_array()) continue;
      for (const auto& x : r["restarts"]) {
        restarts.push_back({{"at", field<double>(x, "at", 0)},
                            {"cause", field<std::string>(x, "cause", "")},
                            {"kind", field<std::string>(x, "kind", "")}});
      }
    }
  }
  return {{"id", j.displayId()},
          {"name", j.name},
          {"user", j.user},
          {"state", stateName(j.state)},
          {"reason", j.reason},
          {"submit_time", j.submitTime},
          {"start_time", j.startTime},
          {"end_time", j.endTime},
          {"ntasks", j.ntasks},
          {"nodes", formatAllocation(j.allocation)},
          {"placement", placementJson(j, run)},
          {"requeues", j.restarts},
          {"restarts", restarts},
          {"exit_code", j.exitCode},
          {"resume_step", run ? (*run).value("resume_step", json()) : json()}};
}

// The jobs shown: active ones and the newest ended ones, newest first.
std::vector<const JobRecord*> shownJobs(const std::vector<JobRecord>& jobs) {
  std::vector<const JobRecord*> out;
  std::vector<const JobRecord*> ended;
  for (const auto& j : jobs) (isFinal(j.state) ? ended : out).push_back(&j);
  std::sort(ended.begin(), ended.end(), [](auto* a, auto* b) { return a->id > b->id; });
  if (ended.size() > kEndedJobsShown) ended.resize(kEndedJobsShown);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->id > b->id; });
  out.insert(out.end(), ended.begin(), ended.end());
  return out;
}

json eventsJson(const WebInputs& in) {
  json events = json::array();
  for (const auto& j : in.jobs) {
    if (j.restarts > 0) {
      events.push_back({{"time", j.startTime > 0 ? j.startTime : j.submitTime},
                        {"job", j.displayId()},
                        {"kind", "requeue"},
                        {"cause", "requeued " + std::to_string(j.restarts) +
                                      (j.restarts == 1 ? " time" : " times") +
                                      " after losing a host (NODE_FAIL)"}});
    }
    if (auto it = in.runs.find(j.id); it != in.runs.end()) {
      for (const auto& r : it->second) {
        if (!r.contains("restarts") || !r["restarts"].is_array()) continue;
        for (const auto& x : r["restarts"]) {
          events.push_back({{"time", field<double>(x, "at", 0)},
                            {"job", j.displayId()},
                            {"kind", "restart"},
                            {"cause", field<std::string>(x, "cause", "")}});
        }
      }
    }
  }
  std::sort(events.begin(), events.end(),
            [](const json& a, const json& b) { return a["time"] > b["time"]; });
  if (events.size() > 100) events.erase(events.begin() + 100, events.end());
  return events;
}

// Links of the running jobs' newest reports, summed per host pair.
json linksJson(const WebInputs& in, LinkHistory& history) {
  std::map<std::pair<std::string, std::string>, json> pairs;
  for (const auto& j : in.jobs) {
    if (j.state != JobState::kRunning) continue;
    const json* run = newestRun(in, j.id);
    if (!run || !run->contains("links") || !(*run)["links"].is_array()) continue;
    const double updated = field<double>(*run, "updated", in.now);
    for (const auto& l : (*run)["links"]) {
      const auto from = field<std::string>(l, "from", ""), to = field<std::string>(l, "to", "");
      if (from.empty() || to.empty()) continue;
      auto& p = pairs[{from, to}];
      if (p.is_null()) {
        p = {{"from", from},
             {"to", to},
             {"jobs", json::array()},
             {"rtt_ms", 0.0},
             {"send_bytes_per_second", 0.0},
             {"receive_bytes_per_second", 0.0},
             {"bytes_sent", 0},
             {"bytes_received", 0},
             {"retransmitted_bytes", 0},
             {"duplicate_bytes", 0},
             {"reconnects", 0},
             {"resumes", 0},
             {"links_up", 0},
             {"streams", 0},
             {"updated", updated}};
      }
      p["jobs"].push_back(j.displayId());
      p["rtt_ms"] = std::max(p["rtt_ms"].get<double>(), field<double>(l, "rtt_ms", 0));
      for (const char* k : {"send_bytes_per_second", "receive_bytes_per_second"}) {
        p[k] = p[k].get<double>() + field<double>(l, k, 0);
      }
      for (const char* k : {"bytes_sent", "bytes_received", "retransmitted_bytes",
                            "duplicate_bytes", "reconnects", "resumes", "links_up", "streams"}) {
        p[k] = p[k].get<std::int64_t>() + field<std::int64_t>(l, k, 0);
      }
      p["updated"] = std::max(p["updated"].get<double>(), updated);
    }
  }
  for (auto& [key, p] : pairs) {
    history.add(key.first, key.second,
                {p["updated"].get<double>(), p["send_bytes_per_second"].get<double>(),
                 p["receive_bytes_per_second"].get<double>()});
  }
  json hosts = json::array();
  for (const auto& h : in.hosts) hosts.push_back(h.name);
  json links = json::array();
  std::set<std::pair<std::string, std::string>> seen;
  for (auto& [key, p] : pairs) {
    seen.insert(key);
    p["active"] = true;
    links.push_back(p);
  }
  // Pairs with a history but no running job now: their chart stays, marked idle.
  for (const auto& a : in.hosts) {
    for (const auto& b : in.hosts) {
      if (seen.count({a.name, b.name}) || !history.find(a.name, b.name)) continue;
      links.push_back({{"from", a.name}, {"to", b.name}, {"active", false}});
    }
  }
  for (auto& l : links) {
    json h = json::array();
    if (const auto* s = history.find(l["from"], l["to"])) {
      for (const auto& x : *s) h.push_back({x.time, x.sendBytesPerSecond, x.receiveBytesPerSecond});
    }
    l["history"] = h;
  }
  return {{"hosts", hosts}, {"links", links}};
}

std::string queueMetrics(const WebInputs& in) {
  observe::MetricsText m;
  const observe::Labels pool = {{"pool", in.pool}};
  std::map<JobState, std::size_t> byState;
  std::map<std::string, std::size_t> pendingReasons;
  std::uint64_t requeues = 0;
  observe::Histogram wait;
  wait.bounds = {1, 5, 15, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600};
  for (const auto& j : in.jobs) {
    ++byState[j.state];
    if (j.state == JobState::kPending) ++pendingReasons[j.reason];
    requeues += j.restarts;
    if (j.startTime > 0 && j.submitTime > 0)
      wait.observe(std::max(0.0, j.startTime - j.submitTime));
  }
  for (JobState s : {JobState::kPending, JobState::kRunning}) {
    auto l = pool;
    l.emplace_back("state", stateName(s));
    m.gauge("ionet_queue_jobs", "Jobs in the queue now, by state.", l, byState[s]);
  }
  m.declare("ionet_queue_pending_jobs", observe::MetricType::gauge,
            "Pending jobs by the reason they wait (squeue's REASON).");
  for (const auto& [reason, n] : pendingReasons) {
    auto l = pool;
    l.emplace_back("reason", reason);
    m.gauge("ionet_queue_pending_jobs", "", l, static_cast<double>(n));
  }
  for (JobState s : {JobState::kCompleted, JobState::kFailed, JobState::kCancelled,
                     JobState::kTimeout, JobState::kNodeFail}) {
    auto l = pool;
    l.emplace_back("state", stateName(s));
    m.counter("ionet_queue_jobs_completed_total", "Jobs that ended, by their final state.", l,
              static_cast<double>(byState[s]));
  }
  m.counter("ionet_queue_requeues_total", "Times jobs were requeued after losing a host.", pool,
            static_cast<double>(requeues));
  m.histogram("ionet_queue_wait_seconds", "Time from submission to start of the jobs that started.",
              pool, wait);
  std::size_t up = 0;
  for (const auto& h : in.hosts) {
    up += h.up;
    m.gauge("ionet_queue_host_up", "1 while the host's agent answers the queue, else 0.",
            {{"pool", in.pool}, {"host", h.name}}, h.up ? 1 : 0);
  }
  m.gauge("ionet_queue_hosts", "Hosts of the pool.", pool, static_cast<double>(in.hosts.size()));
  m.gauge("ionet_queue_hosts_up", "Hosts of the pool that answer now.", pool,
          static_cast<double>(up));
  return m.render();
}

}  // namespace

void LinkHistory::add(const std::string& from, const std::string& to, const Sample& sample) {
  auto& d = samples_[{from, to}];
  if (!d.empty() && d.back().time >= sample.time) return;
  d.push_back(sample);
  while (d.size() > kSamples) d.pop_front();
}

const std::deque<LinkHistory::Sample>* LinkHistory::find(const std::string& from,
                                                         const std::string& to) const {
  const auto it = samples_.find({from, to});
  return it == samples_.end() ? nullptr : &it->second;
}

std::vector<observe::WatchedHost> queueHostsView(const std::vector<QueueHost>& hosts,
                                                 const std::map<std::string, double>& down) {
  std::vector<observe::WatchedHost> out;
  for (const auto& h : hosts) {
    observe::WatchedHost w;
    w.name = h.name;
    w.up = !down.count(h.name);
    if (!w.up) w.why = "lost by a job; left out until its cool-down ends";
    w.cores = h.cores;
    w.memoryBytes = h.memMegabytes << 20;
    for (std::uint32_t g = 0; g < h.gpus; ++g) w.gpus.push_back({g, "", 0, false, "", 0});
    out.push_back(std::move(w));
  }
  return out;
}

WebSnapshot buildWebSnapshot(const WebInputs& in, LinkHistory& history) {
  WebSnapshot s;
  json hosts = json::array();
  for (const auto& h : in.hosts) hosts.push_back(hostJson(h));
  s.hosts = {{"pool", in.pool}, {"time", in.now}, {"hosts", hosts}};
  s.links = linksJson(in, history);
  s.links["time"] = in.now;
  json jobs = json::array();
  for (const auto* j : shownJobs(in.jobs)) jobs.push_back(jobJson(in, *j));
  s.jobs = {{"time", in.now}, {"jobs", jobs}, {"events", eventsJson(in)}};
  s.metrics = queueMetrics(in);
  return s;
}

}  // namespace ionet::jobscripts
