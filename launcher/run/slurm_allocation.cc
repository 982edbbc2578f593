// Slurm's hostlists, task counts and node addresses, parsed without calling Slurm.
#include "run/slurm_allocation.h"

#include <charconv>
#include <sstream>
#include <utility>

#include "common/rank_env.h"
#include "ionet/error.h"

namespace ionet::launcher {
namespace {

bool parseNumber(std::string_view text, std::uint32_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// Splits at commas outside brackets: "n[1-2,4],m1" -> "n[1-2,4]", "m1".
std::vector<std::string> topLevelItems(const std::string& text) {
  std::vector<std::string> items;
  std::string current;
  int depth = 0;
  for (char c : text) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) {
      items.push_back(std::exchange(current, {}));
    } else {
      current += c;
    }
  }
  items.push_back(current);
  return items;
}

// "07-08,10" -> "07" "08" "10": each number keeps the width of the range's first.
std::vector<std::string> expandRanges(const std::string& ranges, const std::string& whole) {
  auto bad = [&](const std::string& what) {
    return UsageError("Slurm host list '" + whole + "': " + what);
  };
  std::vector<std::string> out;
  std::istringstream in(ranges);
  for (std::string r; std::getline(in, r, ',');) {
    const auto dash = r.find('-');
    const std::string first = r.substr(0, dash);
    const std::string last = dash == std::string::npos ? first : r.substr(dash + 1);
    std::uint32_t a = 0, b = 0;
    if (!parseNumber(first, a) || !parseNumber(last, b) || b < a) {
      throw bad("'" + r + "' is not a number or range");
    }
    if (b - a > 100000) throw bad("range '" + r + "' is too large");
    for (std::uint32_t n = a; n <= b; ++n) {
      std::string digits = std::to_string(n);
      if (digits.size() < first.size()) digits.insert(0, first.size() - digits.size(), '0');
      out.push_back(digits);
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> expandSlurmHostList(const std::string& text) {
  std::vector<std::string> names;
  for (const auto& item : topLevelItems(text)) {
    if (item.empty()) throw UsageError("Slurm host list '" + text + "': an empty name");
    // Expand bracket groups left to right: every partial name times the group's numbers.
    std::vector<std::string> partial{""};
    std::size_t pos = 0;
    while (pos < item.size()) {
      const auto open = item.find('[', pos);
      const std::string literal = item.substr(pos, open - pos);
      if (literal.find(']') != std::string::npos) {
        throw UsageError("Slurm host list '" + text + "': unbalanced ']'");
      }
      for (auto& p : partial) p += literal;
      if (open == std::string::npos) break;
      const auto close = item.find(']', open);
      if (close == std::string::npos) {
        throw UsageError("Slurm host list '" + text + "': unbalanced '['");
      }
      std::vector<std::string> next;
      for (const auto& p : partial) {
        for (const auto& n : expandRanges(item.substr(open + 1, close - open - 1), text)) {
          next.push_back(p + n);
        }
      }
      partial = std::move(next);
      pos = close + 1;
    }
    names.insert(names.end(), partial.begin(), partial.end());
  }
  return names;
}

std::vector<std::uint32_t> expandSlurmTaskCounts(const std::string& text) {
  std::vector<std::uint32_t> counts;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    auto bad = [&] {
      return UsageError("SLURM_TASKS_PER_NODE=" + text + ": '" + item + "' is not N or N(xM)");
    };
    std::uint32_t n = 0, times = 1;
    const auto paren = item.find("(x");
    if (paren == std::string::npos) {
      if (!parseNumber(item, n)) throw bad();
    } else {
      if (item.back() != ')' || !parseNumber(std::string_view(item).substr(0, paren), n) ||
          !parseNumber(std::string_view(item).substr(paren + 2, item.size() - paren - 3), times)) {
        throw bad();
      }
    }
    counts.insert(counts.end(), times, n);
  }
  return counts;
}

std::optional<SlurmAllocation> slurmAllocationFromEnvironment(
    const std::vector<std::string>& environment) {
  if (environmentValue(environment, "IONET_JOB_ID")) return std::nullopt;
  const auto jobId = environmentValue(environment, "SLURM_JOB_ID");
  if (!jobId || jobId->empty()) return std::nullopt;
  SlurmAllocation a;
  a.jobId = *jobId;
  const auto list = environmentValue(environment, "SLURM_JOB_NODELIST")
                        .value_or(environmentValue(environment, "SLURM_NODELIST").value_or(""));
  if (list.empty())
    throw UsageError("SLURM_JOB_ID=" + a.jobId + " but SLURM_JOB_NODELIST is not set");
  const auto names = expandSlurmHostList(list);
  // In a job step (an srun'd shell) SLURM_TASKS_PER_NODE and SLURM_NTASKS are the step's, not
  // the allocation's: the job's tasks per node, else its CPUs per node, are the slots then.
  const bool inStep = environmentValue(environment, "SLURM_STEP_ID").has_value();
  std::string countsName = "SLURM_TASKS_PER_NODE";
  auto counts = environmentValue(environment, countsName);
  if (inStep) {
    const auto uniform = environmentValue(environment, "SLURM_NTASKS_PER_NODE");
    countsName = uniform ? "SLURM_NTASKS_PER_NODE" : "SLURM_JOB_CPUS_PER_NODE";
    counts = uniform
                 ? std::optional<std::string>(*uniform + "(x" + std::to_string(names.size()) + ")")
                 : environmentValue(environment, countsName);
  }
  std::vector<std::uint32_t> tasks(names.size(), 1);
  if (counts) {
    tasks = expandSlurmTaskCounts(*counts);
    if (tasks.size() != names.size()) {
      throw UsageError(countsName + "=" + *counts + " counts " + std::to_string(tasks.size()) +
                       " nodes but SLURM_JOB_NODELIST=" + list + " names " +
                       std::to_string(names.size()));
    }
  }
  for (std::size_t i = 0; i < names.size(); ++i) a.nodes.push_back({names[i], tasks[i]});
  const auto n = environmentValue(environment, "SLURM_NTASKS");
  if (n && !n->empty() && !inStep) {
    if (!parseNumber(*n, a.ntasks)) throw UsageError("SLURM_NTASKS=" + *n + ": expected a number");
  }
  return a;
}

std::map<std::string, std::string> parseSlurmNodeAddresses(const std::string& scontrolOutput) {
  std::map<std::string, std::string> out;
  std::istringstream lines(scontrolOutput);
  for (std::string line; std::getline(lines, line);) {
    std::string name, addr;
    std::istringstream fields(line);
    for (std::string f; fields >> f;) {
      if (f.rfind("NodeName=", 0) == 0) name = f.substr(9);
      if (f.rfind("NodeAddr=", 0) == 0) addr = f.substr(9);
    }
    if (!name.empty() && !addr.empty()) out[name] = addr;
  }
  return out;
}

}  // namespace ionet::launcher
