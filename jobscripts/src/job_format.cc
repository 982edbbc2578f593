// squeue/sacct columns: one value function per field, shared by both spellings.
#include "ionet/jobscripts/job_format.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <functional>
#include <map>

#include "ionet/error.h"

namespace ionet::jobscripts {
namespace {

struct FieldDef {
  const char* header;
  std::function<std::string(const JobRecord&, const std::string& partition, double now)> value;
};

std::string clockTime(double t) {
  if (t <= 0) return "Unknown";
  const std::time_t s = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

std::string nodeList(const JobRecord& j) {
  std::string out;
  for (const auto& h : j.allocation) out += (out.empty() ? "" : ",") + h.name;
  return out;
}

std::uint64_t elapsed(const JobRecord& j, double now) {
  if (j.startTime <= 0) return 0;
  const double end = j.endTime > 0 ? j.endTime : now;
  return end > j.startTime ? static_cast<std::uint64_t>(end - j.startTime) : 0;
}

// Fields by canonical name; squeue letters and sacct names map onto them.
const std::map<std::string, FieldDef>& fields() {
  static const std::map<std::string, FieldDef> table = {
      {"jobid", {"JOBID", [](auto& j, auto&, double) { return j.displayId(); }}},
      {"jobidraw", {"JOBIDRAW", [](auto& j, auto&, double) { return std::to_string(j.id); }}},
      {"arrayjobid",
       {"ARRAY_JOB_ID",
        [](auto& j, auto&, double) {
          return std::to_string(j.arrayTaskId ? j.arrayJobId : j.id);
        }}},
      {"arraytaskid",
       {"ARRAY_TASK_ID",
        [](auto& j, auto&, double) {
          return j.arrayTaskId ? std::to_string(*j.arrayTaskId) : std::string("N/A");
        }}},
      {"jobname", {"NAME", [](auto& j, auto&, double) { return j.name; }}},
      {"user", {"USER", [](auto& j, auto&, double) { return j.user; }}},
      {"partition",
       {"PARTITION",
        [](auto& j, auto& p, double) { return j.partition.empty() ? p : j.partition; }}},
      {"state", {"STATE", [](auto& j, auto&, double) { return stateName(j.state); }}},
      {"statecompact", {"ST", [](auto& j, auto&, double) { return stateCode(j.state); }}},
      {"time",
       {"TIME", [](auto& j, auto&, double now) { return formatDuration(elapsed(j, now)); }}},
      {"elapsed",
       {"ELAPSED", [](auto& j, auto&, double now) { return formatDuration(elapsed(j, now)); }}},
      {"timelimit",
       {"TIME_LIMIT",
        [](auto& j, auto&, double) {
          return j.timeLimitSeconds ? formatDuration(j.timeLimitSeconds) : std::string("UNLIMITED");
        }}},
      {"nnodes",
       {"NODES",
        [](auto& j, auto&, double) {
          return std::to_string(j.allocation.empty() ? std::max(1u, j.nodes) : j.allocation.size());
        }}},
      {"ntasks", {"TASKS", [](auto& j, auto&, double) { return std::to_string(j.ntasks); }}},
      {"alloccpus",
       {"CPUS", [](auto& j, auto&, double) { return std::to_string(j.ntasks * j.cpusPerTask); }}},
      {"nodelist", {"NODELIST", [](auto& j, auto&, double) { return nodeList(j); }}},
      {"reason", {"REASON", [](auto& j, auto&, double) { return j.reason; }}},
      {"nodelistreason",
       {"NODELIST(REASON)",
        [](auto& j, auto&, double) {
          return j.state == JobState::kPending ? "(" + j.reason + ")" : nodeList(j);
        }}},
      {"exitcode",
       {"EXITCODE",
        [](auto& j, auto&, double) {
          return std::to_string(j.exitCode) + ":" + std::to_string(j.exitSignal);
        }}},
      {"restarts", {"RESTARTS", [](auto& j, auto&, double) { return std::to_string(j.restarts); }}},
      {"submit", {"SUBMIT_TIME", [](auto& j, auto&, double) { return clockTime(j.submitTime); }}},
      {"start", {"START_TIME", [](auto& j, auto&, double) { return clockTime(j.startTime); }}},
      {"end", {"END_TIME", [](auto& j, auto&, double) { return clockTime(j.endTime); }}},
      {"workdir", {"WORK_DIR", [](auto& j, auto&, double) { return j.workDir; }}},
      {"command", {"COMMAND", [](auto& j, auto&, double) { return j.scriptPath; }}},
      {"dependency",
       {"DEPENDENCY",
        [](auto& j, auto&, double) {
          std::string out;
          for (const auto& t : j.dependency) {
            out += (out.empty() ? "" : ",") + t.kind;
            for (const auto& id : t.jobs) out += ":" + id;
          }
          return out.empty() ? std::string("(null)") : out;
        }}},
  };
  return table;
}

// squeue's letters (man squeue, "-o <output_format>").
const std::map<char, std::string>& squeueLetters() {
  static const std::map<char, std::string> letters = {
      {'i', "jobid"},          {'A', "arrayjobid"},   {'a', "arraytaskid"}, {'F', "arrayjobid"},
      {'K', "arraytaskid"},    {'j', "jobname"},      {'u', "user"},        {'P', "partition"},
      {'T', "state"},          {'t', "statecompact"}, {'M', "time"},        {'l', "timelimit"},
      {'D', "nnodes"},         {'C', "alloccpus"},    {'N', "nodelist"},    {'r', "reason"},
      {'R', "nodelistreason"}, {'V', "submit"},       {'S', "start"},       {'e', "end"},
      {'Z', "workdir"},        {'o', "command"},      {'E', "dependency"},  {'n', "ntasks"}};
  return letters;
}

std::string pad(const std::string& value, int width, bool right) {
  if (width <= 0) return value;
  std::string v = value.substr(0, static_cast<std::size_t>(width));  // squeue truncates
  const std::string fill(static_cast<std::size_t>(width) - v.size(), ' ');
  return right ? fill + v : v + fill;
}

}  // namespace

JobTable parseSqueueFormat(const std::string& format) {
  JobTable t;
  std::string literal;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      literal += format[i];
      continue;
    }
    Column c;
    std::size_t j = i + 1;
    if (j < format.size() && format[j] == '.') {
      c.right = true;
      ++j;
    }
    while (j < format.size() && std::isdigit(static_cast<unsigned char>(format[j]))) {
      c.width = c.width * 10 + (format[j++] - '0');
      if (c.width > 1000) throw UsageError("--format " + format + ": width too large");
    }
    if (j >= format.size()) throw UsageError("--format " + format + ": ends inside a field");
    auto letter = squeueLetters().find(format[j]);
    if (letter == squeueLetters().end()) {
      throw UsageError("--format " + format + ": %" + format[j] +
                       " is not a field ionet-queue knows");
    }
    c.field = letter->second;
    c.header = fields().at(c.field).header;
    t.literals.push_back(literal);
    literal.clear();
    t.columns.push_back(c);
    i = j;
  }
  t.literals.push_back(literal);
  return t;
}

JobTable parseSacctFormat(const std::string& format) {
  JobTable t;
  std::size_t start = 0;
  while (start <= format.size()) {
    auto comma = format.find(',', start);
    if (comma == std::string::npos) comma = format.size();
    std::string item = format.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    Column c;
    c.width = 10;
    c.right = true;
    if (auto pct = item.find('%'); pct != std::string::npos) {
      std::string w = item.substr(pct + 1);
      item.resize(pct);
      c.right = !(w.size() > 0 && w[0] == '-');  // sacct: %-N left-aligns
      if (!c.right) w = w.substr(1);
      try {
        c.width = std::stoi(w);
      } catch (const std::exception&) {
        throw UsageError("--format: '" + w + "' is not a width");
      }
      if (c.width < 1 || c.width > 1000) throw UsageError("--format: width out of range");
    }
    std::string name;
    for (char ch : item) name += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (!fields().count(name)) {
      std::string known;
      for (const auto& [n, f] : fields()) known += (known.empty() ? "" : " ") + n;
      throw UsageError("--format: '" + item + "' is not a field (" + known + ")");
    }
    c.field = name;
    c.header = item;
    t.columns.push_back(c);
    if (comma == format.size()) break;
  }
  if (t.columns.empty()) throw UsageError("--format names no field");
  return t;
}

std::string tableHeader(const JobTable& t) {
  std::string out;
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    const auto& c = t.columns[i];
    if (t.separator) {
      out += c.header + t.separator;
    } else if (!t.literals.empty()) {
      out += t.literals[i] + pad(c.header, c.width, c.right);
    } else {
      out += (i ? " " : "") + pad(c.header, c.width, c.right);
    }
  }
  if (!t.literals.empty() && !t.separator) out += t.literals.back();
  return out;
}

namespace {

// One row; value(field) gives each column's text.
template <typename Value>
std::string row(const JobTable& t, Value value) {
  std::string out;
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    const auto& c = t.columns[i];
    const std::string v = value(c.field);
    if (t.separator) {
      out += v + t.separator;
    } else if (!t.literals.empty()) {
      out += t.literals[i] + pad(v, c.width, c.right);
    } else {
      out += (i ? " " : "") + pad(v, c.width, c.right);
    }
  }
  if (!t.literals.empty() && !t.separator) out += t.literals.back();
  return out;
}

}  // namespace

std::string taskIdRanges(std::vector<std::uint32_t> ids, std::uint32_t maxRunning) {
  std::sort(ids.begin(), ids.end());
  std::string out;
  for (std::size_t i = 0; i < ids.size();) {
    std::size_t k = i;
    while (k + 1 < ids.size() && ids[k + 1] == ids[k] + 1) ++k;
    out += (out.empty() ? "" : ",") + std::to_string(ids[i]);
    if (k > i) out += "-" + std::to_string(ids[k]);
    i = k + 1;
  }
  if (maxRunning) out += "%" + std::to_string(maxRunning);
  return out;
}

std::string tableRow(const JobTable& t, const JobRecord& job, const std::string& partition,
                     double now) {
  return row(t, [&](const std::string& f) { return fields().at(f).value(job, partition, now); });
}

std::string tableRow(const JobTable& t, const QueueLine& line, const std::string& partition,
                     double now) {
  if (line.pendingTasks.empty()) return tableRow(t, line.job, partition, now);
  return row(t, [&](const std::string& f) {
    if (f == "jobid") return std::to_string(line.job.arrayJobId) + "_" + line.pendingTasks;
    if (f == "arraytaskid") return line.pendingTasks;
    return fields().at(f).value(line.job, partition, now);
  });
}

std::vector<QueueLine> queueLines(std::vector<JobRecord> jobs, bool oneTaskPerLine) {
  std::vector<QueueLine> lines;
  // Collapsed lines by (array, reason): where they stand, and their tasks.
  std::map<std::pair<std::int64_t, std::string>, std::size_t> group;
  std::map<std::size_t, std::vector<std::uint32_t>> tasks;
  for (auto& j : jobs) {
    const bool collapsible = !oneTaskPerLine && j.arrayTaskId && j.state == JobState::kPending;
    if (!collapsible) {
      lines.push_back({std::move(j), ""});
      continue;
    }
    auto [it, added] = group.try_emplace({j.arrayJobId, j.reason}, lines.size());
    tasks[it->second].push_back(*j.arrayTaskId);
    if (added) lines.push_back({std::move(j), ""});
  }
  for (const auto& [at, ids] : tasks) {
    // A task alone keeps its own id ("12_9"), as it would with --array.
    if (ids.size() > 1)
      lines[at].pendingTasks = "[" + taskIdRanges(ids, lines[at].job.arrayMaxRunning) + "]";
  }
  return lines;
}

}  // namespace ionet::jobscripts
