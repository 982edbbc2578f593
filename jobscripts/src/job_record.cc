// Job states with Slurm's names, allocations as text, job ids as squeue shows them, and the
// output file patterns.
#include "ionet/jobscripts/job_record.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>

#include "ionet/error.h"

namespace ionet::jobscripts {
namespace {

struct StateNames {
  JobState state;
  const char* name;
  const char* code;
};
constexpr StateNames kStates[] = {
    {JobState::kPending, "PENDING", "PD"},     {JobState::kRunning, "RUNNING", "R"},
    {JobState::kCompleted, "COMPLETED", "CD"}, {JobState::kFailed, "FAILED", "F"},
    {JobState::kCancelled, "CANCELLED", "CA"}, {JobState::kTimeout, "TIMEOUT", "TO"},
    {JobState::kNodeFail, "NODE_FAIL", "NF"},
};

}  // namespace

std::string stateName(JobState s) {
  for (const auto& n : kStates) {
    if (n.state == s) return n.name;
  }
  return "UNKNOWN";
}

std::string stateCode(JobState s) {
  for (const auto& n : kStates) {
    if (n.state == s) return n.code;
  }
  return "?";
}

JobState parseState(const std::string& text) {
  std::string upper = text;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "CANCELED") upper = "CANCELLED";
  for (const auto& n : kStates) {
    if (upper == n.name || upper == n.code) return n.state;
  }
  throw UsageError("'" + text +
                   "' is not a job state (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, "
                   "TIMEOUT, NODE_FAIL, or PD, R, CD, F, CA, TO, NF)");
}

bool isFinal(JobState s) { return s != JobState::kPending && s != JobState::kRunning; }

std::string JobRecord::displayId() const {
  if (arrayTaskId) return std::to_string(arrayJobId) + "_" + std::to_string(*arrayTaskId);
  return std::to_string(id);
}

void setVariable(std::vector<std::string>& environment, const std::string& assignment) {
  const std::string prefix = assignment.substr(0, assignment.find('=') + 1);
  for (auto& e : environment) {
    if (e.compare(0, prefix.size(), prefix) == 0) {
      e = assignment;
      return;
    }
  }
  environment.push_back(assignment);
}

std::string expandPattern(const std::string& pattern, const JobRecord& job) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%' || i + 1 >= pattern.size()) {
      out += pattern[i];
      continue;
    }
    std::size_t j = i + 1;
    int width = 0;
    while (j < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[j])) &&
           width < 10) {
      width = width * 10 + (pattern[j++] - '0');
    }
    if (j >= pattern.size()) {
      out += pattern.substr(i);
      break;
    }
    std::string value;
    switch (pattern[j]) {
      case '%':
        value = "%";
        break;
      case 'j':
        value = std::to_string(job.id);
        break;
      case 'A':
        value = std::to_string(job.arrayTaskId ? job.arrayJobId : job.id);
        break;
      case 'a':
        value = job.arrayTaskId ? std::to_string(*job.arrayTaskId) : "4294967294";
        break;
      case 'x':
        value = job.name;
        break;
      case 'N':
        value = job.allocation.empty() ? "" : job.allocation.front().name;
        break;
      case 'u':
        value = job.user;
        break;
      case 'r':
        value = std::to_string(job.restarts);
        break;
      default:  // not a pattern: kept as written, as sbatch does
        out += pattern.substr(i, j - i + 1);
        i = j;
        continue;
    }
    if (pattern[j] != '%' && static_cast<int>(value.size()) < width &&
        std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(c); })) {
      value.insert(0, static_cast<std::size_t>(width) - value.size(), '0');
    }
    out += value;
    i = j;
  }
  return out;
}

}  // namespace ionet::jobscripts
