// sbatch's option table, shared by #IONET/#SBATCH directives and ionet-batch's command line,
// and the parsers of the values with Slurm's syntax (times, sizes, arrays, dependencies).
#include "ionet/jobscripts/batch_options.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <csignal>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "ionet/error.h"

namespace ionet::jobscripts {
namespace {

std::uint64_t parseNumber(const std::string& text, const std::string& what,
                          std::uint64_t max = UINT32_MAX) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v > max) {
    throw UsageError("'" + text + "' is not a valid " + what);
  }
  return v;
}

std::uint32_t parseCount(const std::string& text, const std::string& what) {
  auto v = static_cast<std::uint32_t>(parseNumber(text, what));
  if (v == 0) throw UsageError(what + " must be at least 1");
  return v;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!text.empty() && text.back() == sep) parts.emplace_back();
  return parts;
}

using Handler = std::function<void(BatchOptions&, const std::string&)>;

enum class Value { kNone, kRequired, kOptional };  // kOptional: only as --name=value

struct OptionDef {
  std::string name;  // long name without "--"
  char shortName = 0;
  Value value = Value::kRequired;
  Handler apply;
  bool commandLineOnly = false;  // not allowed in a directive
};

void noteIgnored(BatchOptions& o, const std::string& name, const std::string& value) {
  const std::string given = "--" + name + (value.empty() ? "" : "=" + value);
  o.notes.push_back(given + " accepted and ignored (it has no meaning on an ionet pool)");
  o.slurmOnly.push_back(given);
}

// "a100:2" -> type "a100"; "2" -> "".
std::string gpuTypeOf(const std::string& v) {
  const auto colon = v.rfind(':');
  return colon == std::string::npos ? "" : v.substr(0, colon);
}

const std::vector<OptionDef>& optionTable() {
  static const std::vector<OptionDef> table = [] {
    std::vector<OptionDef> t = {
        {"job-name", 'J', Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           if (v.empty()) throw UsageError("the job name is empty");
           o.jobName = v;
         }},
        {"nodes", 'N', Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           // "2" or "2-4": the minimum is what the job gets.
           o.nodes = parseCount(v.substr(0, v.find('-')), "node count");
         }},
        {"ntasks", 'n', Value::kRequired,
         [](BatchOptions& o, const std::string& v) { o.ntasks = parseCount(v, "task count"); }},
        {"ntasks-per-node", 0, Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           o.ntasksPerNode = parseCount(v, "tasks-per-node count");
         }},
        {"cpus-per-task", 'c', Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           o.cpusPerTask = parseCount(v, "cpus-per-task count");
         }},
        {"gpus", 'G', Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           // "4" or "type:4" (the type is matched by the pool, not here).
           o.gpus = parseCount(v.substr(v.rfind(':') + 1), "GPU count");
           o.gpuType = gpuTypeOf(v);
         }},
        {"gpus-per-task", 0, Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           o.gpusPerTask = parseCount(v.substr(v.rfind(':') + 1), "GPU count");
           o.gpuPerTaskType = gpuTypeOf(v);
         }},
        {"mem", 0, Value::kRequired,
         [](BatchOptions& o, const std::string& v) { o.memMegabytes = parseMemoryMegabytes(v); }},
        {"time", 't', Value::kRequired,
         [](BatchOptions& o, const std::string& v) { o.timeLimitSeconds = parseTimeLimit(v); }},
        {"output", 'o', Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           if (v.empty()) throw UsageError("the output pattern is empty");
           o.output = v;
         }},
        {"error", 'e', Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           if (v.empty()) throw UsageError("the error pattern is empty");
           o.error = v;
         }},
        {"array", 'a', Value::kRequired,
         [](BatchOptions& o, const std::string& v) { o.array = parseArray(v); }},
        {"dependency", 'd', Value::kRequired,
         [](BatchOptions& o, const std::string& v) { o.dependency = parseDependency(v); }},
        {"requeue", 0, Value::kNone, [](BatchOptions& o, const std::string&) { o.requeue = true; }},
        {"no-requeue", 0, Value::kNone,
         [](BatchOptions& o, const std::string&) { o.requeue = false; }},
        {"signal", 0, Value::kRequired,
         [](BatchOptions& o, const std::string& v) { o.signal = parseSignalSpec(v); }},
        {"chdir", 'D', Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           if (v.empty()) throw UsageError("the directory is empty");
           o.chdir = v;
         }},
        {"export", 0, Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           if (v.empty()) throw UsageError("--export needs ALL, NONE or a list of variables");
           for (const auto& item : split(v, ',')) {
             const std::string name = item.substr(0, item.find('='));
             if (item.empty() || name.empty() ||
                 !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_') ||
                 !std::all_of(name.begin(), name.end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                 })) {
               throw UsageError("--export: '" + item + "' is not ALL, NONE or VAR[=value]");
             }
           }
           o.exportSpec = v;
         }},
        {"checkpoint-dir", 0, Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           if (v.empty()) throw UsageError("the checkpoint directory is empty");
           o.checkpointDir = v;
         }},
        {"max-restarts", 0, Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           o.maxRestarts = static_cast<std::uint32_t>(parseNumber(v, "restart count", 1000));
         }},
        {"pool", 0, Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           if (v.empty()) throw UsageError("the pool file is empty");
           o.pool = v;
         }},
        {"parsable", 0, Value::kNone,
         [](BatchOptions& o, const std::string&) { o.parsable = true; }},
        {"wait", 'W', Value::kNone, [](BatchOptions& o, const std::string&) { o.wait = true; }},
        // Which queue takes the job is the submitter's choice, not the script's.
        {"backend", 0, Value::kRequired,
         [](BatchOptions& o, const std::string& v) {
           if (v != "embedded" && v != "slurm") {
             throw UsageError("'" + v + "' is not a backend (embedded, slurm)");
           }
           o.backend = v;
         },
         true},
    };
    // Slurm options a site's scripts carry that mean nothing on a pool: accepted, reported.
    const std::vector<std::tuple<std::string, char, Value>> ignored = {
        {"partition", 'p', Value::kRequired}, {"account", 'A', Value::kRequired},
        {"qos", 'q', Value::kRequired},       {"mail-type", 0, Value::kRequired},
        {"mail-user", 0, Value::kRequired},   {"comment", 0, Value::kRequired},
        {"exclusive", 0, Value::kOptional},   {"constraint", 'C', Value::kRequired},
        {"nice", 0, Value::kOptional},        {"open-mode", 0, Value::kRequired}};
    for (const auto& [name, shortName, value] : ignored) {
      t.push_back({name, shortName, value,
                   [n = name](BatchOptions& o, const std::string& v) { noteIgnored(o, n, v); }});
    }
    return t;
  }();
  return table;
}

const OptionDef* findLong(const std::string& name) {
  for (const auto& d : optionTable()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

const OptionDef* findShort(char c) {
  for (const auto& d : optionTable()) {
    if (d.shortName == c) return &d;
  }
  return nullptr;
}

// Applies the options at args[i...]; stops at the first non-option. `where` prefixes errors.
std::size_t applyOptions(const std::vector<std::string>& args, BatchOptions& o,
                         const std::string& where) {
  std::size_t i = 0;
  auto fail = [&](const std::string& what) { throw UsageError(where + what); };
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") return i + 1;
    if (a.size() < 2 || a[0] != '-') break;
    const OptionDef* def = nullptr;
    std::optional<std::string> value;
    std::string shown = a;
    if (a.rfind("--", 0) == 0) {
      std::string name = a.substr(2);
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
        shown = "--" + name;
      }
      def = findLong(name);
      if (!def) fail("unknown option " + shown);
    } else {
      def = findShort(a[1]);
      shown = a.substr(0, 2);
      if (!def) fail("unknown option " + shown);
      if (a.size() > 2) value = a.substr(a[2] == '=' ? 3 : 2);  // -N2, -N=2
    }
    if (def->value == Value::kNone) {
      if (value) fail(shown + " takes no value");
      value = "";
    } else if (def->value == Value::kOptional) {
      if (!value) value = "";
    } else if (!value) {
      if (i + 1 >= args.size()) fail(shown + " needs a value");
      value = args[++i];
    }
    if (def->commandLineOnly && !where.empty()) {
      fail(shown + " is a command-line option, not a directive");
    }
    try {
      def->apply(o, *value);
    } catch (const UsageError& e) {
      fail(shown + ": " + e.what());
    }
    // "job.sh:4: " -> "job.sh:4"; the command line (no prefix) clears a directive's origin.
    if (where.empty()) {
      o.origins.erase(def->name);
    } else {
      o.origins[def->name] = where.substr(0, where.size() - 2);
    }
  }
  return i;
}

// Splits a directive's text as a shell would split words: quotes group, backslash escapes, and
// an unquoted '#' starting a word begins a comment.
std::vector<std::string> directiveWords(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool inWord = false;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < text.size()) {
        word += text[++i];
      } else {
        word += c;
      }
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (inWord) words.push_back(word);
      word.clear();
      inWord = false;
      continue;
    }
    if (c == '#' && !inWord) break;
    inWord = true;
    if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
    } else {
      word += c;
    }
  }
  if (quote) throw UsageError(std::string("unterminated ") + quote + " quote");
  if (inWord) words.push_back(word);
  return words;
}

}  // namespace

void applyDirectives(const std::string& scriptText, const std::string& path,
                     BatchOptions& options) {
  BatchOptions work = options;
  std::istringstream in(scriptText);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    if (line[first] != '#') break;  // the first command ends the directives
    std::string prefix;
    for (const char* p : {"#IONET", "#SBATCH"}) {
      if (line.rfind(p, 0) == 0) prefix = p;
    }
    if (prefix.empty()) continue;
    const std::string rest = line.substr(prefix.size());
    if (!rest.empty() && !std::isspace(static_cast<unsigned char>(rest[0]))) continue;  // #SBATCHX
    const std::string where = path + ":" + std::to_string(number) + ": ";
    std::vector<std::string> words;
    try {
      words = directiveWords(rest);
    } catch (const UsageError& e) {
      throw UsageError(where + prefix + " " + e.what());
    }
    if (words.empty()) throw UsageError(where + prefix + " with no option");
    if (words[0].empty() || words[0][0] != '-') {
      throw UsageError(where + prefix + " " + words[0] + ": not an option (options start with -)");
    }
    const std::size_t used = applyOptions(words, work, where);
    if (used < words.size()) {
      throw UsageError(where + "unexpected '" + words[used] + "' after the option");
    }
  }
  options = std::move(work);
}

std::size_t applyCommandLine(const std::vector<std::string>& args, BatchOptions& options) {
  return applyOptions(args, options, "");
}

std::uint64_t parseTimeLimit(const std::string& text) {
  std::string upper = text;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "UNLIMITED" || upper == "INFINITE") return 0;
  auto bad = [&]() -> UsageError {
    return UsageError("'" + text +
                      "' is not a time limit (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or "
                      "D-HH:MM:SS)");
  };
  std::uint64_t days = 0;
  std::string rest = text;
  const bool hasDays = text.find('-') != std::string::npos;
  if (hasDays) {
    try {
      days = parseNumber(text.substr(0, text.find('-')), "day count", 100000);
    } catch (const UsageError&) {
      throw bad();
    }
    rest = text.substr(text.find('-') + 1);
  }
  std::vector<std::uint64_t> parts;
  for (const auto& p : split(rest, ':')) {
    try {
      parts.push_back(parseNumber(p, "number", 1000000));
    } catch (const UsageError&) {
      throw bad();
    }
  }
  if (parts.empty() || parts.size() > 3) throw bad();
  std::uint64_t seconds = 0;
  if (hasDays) {  // D-HH, D-HH:MM, D-HH:MM:SS
    seconds = days * 86400 + parts[0] * 3600;
    if (parts.size() > 1) seconds += parts[1] * 60;
    if (parts.size() > 2) seconds += parts[2];
  } else if (parts.size() == 1) {  // minutes
    seconds = parts[0] * 60;
  } else if (parts.size() == 2) {  // MM:SS
    seconds = parts[0] * 60 + parts[1];
  } else {  // HH:MM:SS
    seconds = parts[0] * 3600 + parts[1] * 60 + parts[2];
  }
  if (seconds == 0) throw UsageError("a time limit of 0 leaves no time to run (UNLIMITED: none)");
  return seconds;
}

std::uint64_t parseMemoryMegabytes(const std::string& text) {
  // Slurm: a number with an optional K/M/G/T suffix (powers of 1024), megabytes by default.
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  std::string unit(end, text.data() + text.size());
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() == 2 && unit[1] == 'B') unit.pop_back();
  static const std::map<std::string, double> scale = {
      {"", 1}, {"K", 1.0 / 1024}, {"M", 1}, {"G", 1024}, {"T", 1024.0 * 1024}};
  auto s = scale.find(unit);
  if (ec != std::errc() || end == text.data() || s == scale.end() || v > (1ull << 40)) {
    throw UsageError("'" + text + "' is not a memory size (e.g. 500M, 4G; megabytes by default)");
  }
  return static_cast<std::uint64_t>(static_cast<double>(v) * s->second + 0.999);
}

ArraySpec parseArray(const std::string& text) {
  constexpr std::uint32_t kMaxTask = 100000;
  ArraySpec spec;
  std::string list = text;
  if (auto pct = text.find('%'); pct != std::string::npos) {
    spec.maxRunning = parseCount(text.substr(pct + 1), "array task limit (after %)");
    list = text.substr(0, pct);
  }
  if (list.empty()) throw UsageError("'" + text + "' names no array task");
  std::set<std::uint32_t> ids;
  for (const auto& item : split(list, ',')) {
    if (item.empty()) throw UsageError("'" + text + "' has an empty array element");
    std::string range = item;
    std::uint32_t step = 1;
    if (auto colon = item.find(':'); colon != std::string::npos) {
      step = parseCount(item.substr(colon + 1), "array step");
      range = item.substr(0, colon);
    }
    const auto dash = range.find('-');
    const auto lo =
        static_cast<std::uint32_t>(parseNumber(range.substr(0, dash), "array task id", kMaxTask));
    const auto hi = dash == std::string::npos
                        ? lo
                        : static_cast<std::uint32_t>(
                              parseNumber(range.substr(dash + 1), "array task id", kMaxTask));
    if (hi < lo) throw UsageError("array range " + range + " runs backwards");
    for (std::uint64_t id = lo; id <= hi; id += step) ids.insert(static_cast<std::uint32_t>(id));
  }
  spec.ids.assign(ids.begin(), ids.end());
  return spec;
}

std::vector<DependencyTerm> parseDependency(const std::string& text) {
  static const std::set<std::string> kinds = {"after", "afterany", "afterok", "afternotok",
                                              "singleton"};
  if (text.find('?') != std::string::npos) {
    throw UsageError("'?' (any of) dependencies are not supported; use ',' (all of)");
  }
  std::vector<DependencyTerm> terms;
  for (const auto& item : split(text, ',')) {
    auto parts = split(item, ':');
    if (item.empty() || parts.empty()) throw UsageError("'" + text + "' has an empty dependency");
    DependencyTerm term{parts[0], {}};
    if (!kinds.count(term.kind)) {
      throw UsageError("'" + term.kind +
                       "' is not a dependency type (after, afterany, afterok, afternotok, "
                       "singleton)");
    }
    if (term.kind == "singleton") {
      if (parts.size() > 1) throw UsageError("singleton takes no job ids");
    } else if (parts.size() < 2) {
      throw UsageError(term.kind + " needs job ids (" + term.kind + ":JOBID[:JOBID...])");
    }
    for (std::size_t i = 1; i < parts.size(); ++i) {
      const std::string& id = parts[i];
      const auto us = id.find('_');
      try {
        parseCount(id.substr(0, us), "job id");
        if (us != std::string::npos) parseNumber(id.substr(us + 1), "array task id");
      } catch (const UsageError&) {
        throw UsageError("'" + id + "' is not a job id (JOBID or JOBID_TASK)");
      }
      term.jobs.push_back(id);
    }
    terms.push_back(std::move(term));
  }
  return terms;
}

int parseSignalName(const std::string& text) {
  std::string name = text;
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0]))) {
    const auto n = parseNumber(name, "signal number", 64);
    if (n == 0) throw UsageError("signal 0 is not a signal");
    return static_cast<int>(n);
  }
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  for (int s = 1; s < NSIG; ++s) {
    const char* abbrev = sigabbrev_np(s);
    if (abbrev && name == abbrev) return s;
  }
  throw UsageError("'" + text + "' is not a signal name or number");
}

std::string signalName(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev ? abbrev : std::to_string(signal);
}

SignalSpec parseSignalSpec(const std::string& text) {
  SignalSpec spec;
  std::string rest = text;
  if (rest.size() > 2 && rest[1] == ':' && (rest[0] == 'B' || rest[0] == 'R')) {
    spec.batchOnly = rest[0] == 'B';
    rest = rest.substr(2);
  }
  if (auto at = rest.find('@'); at != std::string::npos) {
    spec.secondsBefore =
        static_cast<std::uint32_t>(parseNumber(rest.substr(at + 1), "number of seconds", 65535));
    rest.resize(at);
  }
  spec.signal = parseSignalName(rest);
  return spec;
}

std::string formatDuration(std::uint64_t seconds) {
  char buffer[64];
  const auto d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60, s = seconds % 60;
  if (d > 0) {
    std::snprintf(buffer, sizeof buffer, "%llu-%02llu:%02llu:%02llu", (unsigned long long)d,
                  (unsigned long long)h, (unsigned long long)m, (unsigned long long)s);
  } else if (h > 0) {
    std::snprintf(buffer, sizeof buffer, "%llu:%02llu:%02llu", (unsigned long long)h,
                  (unsigned long long)m, (unsigned long long)s);
  } else {
    std::snprintf(buffer, sizeof buffer, "%llu:%02llu", (unsigned long long)m,
                  (unsigned long long)s);
  }
  return buffer;
}

}  // namespace ionet::jobscripts
