// Parsers of squeue's, sacct's and the completion log's lines into JobRecords. Each field is
// read the way the command prints it; a line that does not have the fields is an Error naming
// the command, since it means the format and this parser disagree.
#include "ionet/jobscripts/slurm_listing.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <sstream>

#include "ionet/error.h"
#include "ionet/jobscripts/slurm_state.h"

namespace ionet::jobscripts {
namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

// Splits at '|' into exactly n fields; the last one keeps any further '|' (the job name).
std::vector<std::string> fields(const std::string& line, std::size_t n, const char* command) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (out.size() + 1 < n) {
    const auto bar = line.find('|', start);
    if (bar == std::string::npos) {
      throw Error(std::string(command) + " printed '" + line + "': expected " + std::to_string(n) +
                  " fields separated by '|'");
    }
    out.push_back(line.substr(start, bar - start));
    start = bar + 1;
  }
  out.push_back(line.substr(start));
  return out;
}

std::uint32_t count(const std::string& text) {
  try {
    return static_cast<std::uint32_t>(std::stoul(text));
  } catch (const std::exception&) {
    return 0;
  }
}

JobState state(const std::string& text, const char* command) {
  auto s = jobStateFromSlurm(text);
  if (!s)
    throw Error(std::string(command) + " printed the job state '" + text + "' ionet does not know");
  return *s;
}

std::uint64_t timeLimit(const std::string& text) {
  try {
    return parseTimeLimit(text);
  } catch (const UsageError&) {
    return 0;  // "Partition_Limit", "INVALID": no limit ionet can show
  }
}

void setHosts(JobRecord& j, const std::string& nodeList) {
  for (auto& name : expandHostList(nodeList)) j.allocation.push_back({name, 0, {}});
}

// "10" or "10_3" (a task) as JobID prints it; "10_[3-5]" (pending tasks) stays one record.
void setIds(JobRecord& j, const std::string& raw, const std::string& shown) {
  j.id = std::stoll(raw);
  const auto us = shown.find('_');
  if (us != std::string::npos && shown.find('[') == std::string::npos) {
    j.arrayJobId = std::stoll(shown.substr(0, us));
    j.arrayTaskId = count(shown.substr(us + 1));
  }
}

// "afterok:2(failed),afterany:3_1(unfulfilled)" -> terms without the annotations.
std::vector<DependencyTerm> dependencies(const std::string& text) {
  std::vector<DependencyTerm> terms;
  if (text.empty() || text == "(null)") return terms;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    item = item.substr(0, item.find('('));
    std::istringstream parts(item);
    DependencyTerm t;
    std::getline(parts, t.kind, ':');
    for (std::string id; std::getline(parts, id, ':');) t.jobs.push_back(id);
    terms.push_back(std::move(t));
  }
  return terms;
}

// An exit code as sacct and the log write it: "3:0" is code 3, signal 0.
void setExit(JobRecord& j, const std::string& text) {
  const auto colon = text.find(':');
  j.exitCode = static_cast<int>(count(text.substr(0, colon)));
  if (colon != std::string::npos) j.exitSignal = static_cast<int>(count(text.substr(colon + 1)));
}

}  // namespace

std::vector<std::string> expandHostList(const std::string& list) {
  std::vector<std::string> out;
  if (list.empty() || list == "(null)" || list == "None assigned") return out;
  std::size_t i = 0;
  while (i < list.size()) {
    // One item: a prefix, then an optional [ranges], up to a comma outside brackets.
    const auto open = list.find_first_of("[,", i);
    if (open == std::string::npos || list[open] == ',') {
      const auto end = open == std::string::npos ? list.size() : open;
      out.push_back(list.substr(i, end - i));
      i = end + 1;
      continue;
    }
    const auto close = list.find(']', open);
    if (close == std::string::npos) throw Error("node list '" + list + "' has an open '['");
    const std::string prefix = list.substr(i, open - i);
    std::istringstream ranges(list.substr(open + 1, close - open - 1));
    for (std::string r; std::getline(ranges, r, ',');) {
      const auto dash = r.find('-');
      const std::string lo = r.substr(0, dash);
      const std::uint32_t first = count(lo),
                          last = dash == std::string::npos ? first : count(r.substr(dash + 1));
      for (std::uint32_t n = first; n <= last; ++n) {
        std::string digits = std::to_string(n);
        if (digits.size() < lo.size())
          digits.insert(0, lo.size() - digits.size(), '0');  // n[01-03]
        out.push_back(prefix + digits);
      }
    }
    i = close + 1;
    if (i < list.size() && list[i] == ',') ++i;
  }
  return out;
}

double parseSlurmTime(const std::string& text) {
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end || *end) return 0;
  tm.tm_isdst = -1;
  return static_cast<double>(std::mktime(&tm));
}

std::vector<JobRecord> parseSqueue(const std::string& text) {
  std::vector<JobRecord> jobs;
  for (const auto& line : lines(text)) {
    const auto f = fields(line, 16, "squeue");
    JobRecord j;
    j.id = std::stoll(f[0]);
    if (f[2] != "N/A") {
      j.arrayJobId = std::stoll(f[1]);
      j.arrayTaskId = count(f[2]);
    }
    j.state = state(f[3], "squeue");
    j.reason = f[4];
    j.user = f[5];
    j.partition = f[6];
    j.nodes = count(f[7]);
    j.ntasks = std::max(1u, count(f[8]));  // squeue's CPUs: one task per CPU as far as shown
    if (j.state != JobState::kPending) setHosts(j, f[9]);
    j.timeLimitSeconds = timeLimit(f[10]);
    j.submitTime = parseSlurmTime(f[11]);
    // For a pending job %S is when Slurm expects it to start, and %e when it would end.
    if (j.state != JobState::kPending) j.startTime = parseSlurmTime(f[12]);
    if (isFinal(j.state)) j.endTime = parseSlurmTime(f[13]);
    j.dependency = dependencies(f[14]);
    j.name = f[15];
    jobs.push_back(std::move(j));
  }
  return jobs;
}

std::vector<JobRecord> parseSacct(const std::string& text) {
  std::vector<JobRecord> jobs;
  for (const auto& line : lines(text)) {
    const auto f = fields(line, 15, "sacct");
    JobRecord j;
    setIds(j, f[0], f[1]);
    j.state = state(f[2], "sacct");
    setExit(j, f[3]);
    j.user = f[4];
    j.partition = f[5];
    j.nodes = count(f[6]);
    j.ntasks = std::max(1u, count(f[7]));
    setHosts(j, f[8]);
    j.timeLimitSeconds = timeLimit(f[9]);
    j.submitTime = parseSlurmTime(f[10]);
    j.startTime = parseSlurmTime(f[11]);
    j.endTime = parseSlurmTime(f[12]);
    j.workDir = f[13];
    j.name = f[14];
    jobs.push_back(std::move(j));
  }
  return jobs;
}

std::vector<JobRecord> parseJobCompLog(const std::string& text) {
  std::vector<JobRecord> jobs;
  std::map<std::string, std::size_t> seen;  // a requeued job is logged at every end: keep the last
  for (const auto& line : lines(text)) {
    // "Key=value" words; a word without '=' continues the value before it (a name with spaces).
    std::map<std::string, std::string> kv;
    std::string key;
    std::istringstream words(line);
    for (std::string w; words >> w;) {
      const auto eq = w.find('=');
      const bool isKey =
          eq != std::string::npos && eq > 0 &&
          std::all_of(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(eq),
                      [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
      if (isKey) {
        key = w.substr(0, eq);
        kv[key] = w.substr(eq + 1);
      } else if (!key.empty()) {
        kv[key] += " " + w;
      }
    }
    if (!kv.count("JobId") || !kv.count("JobState")) {
      throw Error("the completion log has a line without JobId and JobState: " + line);
    }
    JobRecord j;
    j.id = std::stoll(kv["JobId"]);
    if (kv.count("ArrayJobId") && kv.count("ArrayTaskId")) {
      j.arrayJobId = std::stoll(kv["ArrayJobId"]);
      j.arrayTaskId = count(kv["ArrayTaskId"]);
    }
    j.state = state(kv["JobState"], "the completion log");
    j.reason = "None";
    j.user = kv["UserId"].substr(0, kv["UserId"].find('('));  // "root(0)"
    j.name = kv["Name"];
    j.partition = kv["Partition"];
    j.timeLimitSeconds = timeLimit(kv["TimeLimit"]);
    j.submitTime = parseSlurmTime(kv["SubmitTime"]);
    j.startTime = parseSlurmTime(kv["StartTime"]);
    j.endTime = parseSlurmTime(kv["EndTime"]);
    setHosts(j, kv["NodeList"]);
    j.nodes = count(kv["NodeCnt"]);
    j.ntasks = std::max(1u, count(kv["ProcCnt"]));
    j.workDir = kv["WorkDir"];
    setExit(j, kv["ExitCode"]);
    auto [it, added] = seen.try_emplace(j.displayId(), jobs.size());
    if (added) {
      jobs.push_back(std::move(j));
    } else {
      jobs[it->second] = std::move(j);
    }
  }
  return jobs;
}

std::string configValue(const std::string& showConfig, const std::string& key) {
  for (const auto& line : lines(showConfig)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string k = line.substr(0, eq);
    while (!k.empty() && k.back() == ' ') k.pop_back();
    if (k != key) continue;
    const auto v = line.find_first_not_of(' ', eq + 1);
    return v == std::string::npos ? "" : line.substr(v);
  }
  return "";
}

std::vector<JobRecord> mergeJobs(std::vector<JobRecord> finished,
                                 const std::vector<JobRecord>& queued) {
  std::map<std::string, bool> known;
  for (const auto& j : finished) known[j.displayId()] = true;
  for (const auto& j : queued) {
    if (!known.count(j.displayId())) finished.push_back(j);
  }
  return finished;
}

bool matchesFilter(const JobFilter& filter, const JobRecord& job) {
  if (!filter.states.empty() && !filter.states.count(job.state)) return false;
  if (!filter.users.empty() && !filter.users.count(job.user)) return false;
  if (!filter.names.empty() && !filter.names.count(job.name)) return false;
  if (filter.ids.empty()) return true;
  const std::string whole = std::to_string(job.arrayTaskId ? job.arrayJobId : job.id);
  return filter.ids.count(job.displayId()) || filter.ids.count(whole) ||
         filter.ids.count(std::to_string(job.id));
}

}  // namespace ionet::jobscripts
