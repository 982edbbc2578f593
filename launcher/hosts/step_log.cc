#include "hosts/step_log.h"

#include <array>
#include <fstream>
#include <sstream>
#include <utility>

namespace ionet::launcher {
namespace {

// One table over the enum: both directions read it, so a new cause is one line here.
constexpr std::array<std::pair<EndCause, std::string_view>, 7> kEndCauseNames{{
    {EndCause::kSuccess, "success"},
    {EndCause::kRankFailed, "rank-failed"},
    {EndCause::kHostLost, "host-lost"},
    {EndCause::kAborted, "aborted"},
    {EndCause::kLaunchFailed, "launch-failed"},
    {EndCause::kInterrupted, "interrupted"},
    {EndCause::kTimeout, "timeout"},
}};

std::string orDash(const std::string& s) { return s.empty() ? "-" : s; }
std::string dashToEmpty(const std::string& s) { return s == "-" ? "" : s; }

}  // namespace

std::string_view endCauseName(EndCause cause) {
  for (const auto& [c, name] : kEndCauseNames) {
    if (c == cause) return name;
  }
  return "unknown";
}

std::optional<EndCause> parseEndCause(std::string_view name) {
  for (const auto& [c, n] : kEndCauseNames) {
    if (n == name) return c;
  }
  return std::nullopt;
}

std::string formatStepPlacement(const StepPlacement& p) {
  return "place " + std::to_string(p.restart) + " " + std::to_string(p.rank) + " " + p.host + " " +
         orDash(p.gpus) + "\n";
}

std::string formatStepEnd(const StepEnd& end) {
  return "end " + std::string(endCauseName(end.cause)) + " " + orDash(end.host) + "\n";
}

StepLog parseStepLog(std::string_view text) {
  StepLog log;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string kind, extra;
    words >> kind;
    if (kind == "place") {
      StepPlacement p;
      if (words >> p.restart >> p.rank >> p.host >> p.gpus && !(words >> extra)) {
        p.gpus = dashToEmpty(p.gpus);
        log.placements.push_back(std::move(p));
      }
    } else if (kind == "end") {
      std::string cause, host;
      if (words >> cause >> host && !(words >> extra)) {
        if (auto c = parseEndCause(cause)) log.lastEnd = StepEnd{*c, dashToEmpty(host)};
      }
    }
  }
  return log;
}

StepLog readStepLog(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return parseStepLog(text.str());
}

void appendStepLog(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  std::ofstream(path, std::ios::app) << text;
}

}  // namespace ionet::launcher
