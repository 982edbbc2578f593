#include "run/run_settings.h"

#include <cerrno>
#include <cstdlib>

#include "common/rank_env.h"
#include "ionet/error.h"

namespace ionet::launcher {
namespace {

// A whole decimal number in [min, max]; else a UsageError naming the variable and what it takes.
long wholeNumber(const std::string& name, const std::string& value, long min, long max,
                 const std::string& expected) {
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno == ERANGE || n < min || n > max) {
    throw UsageError(name + "=" + value + ": expected " + expected);
  }
  return n;
}

}  // namespace

RunSettings runSettingsFromEnvironment(const std::vector<std::string>& environment) {
  RunSettings s;
  if (auto v = environmentValue(environment, "IONET_KILL_GRACE_MS")) {
    s.killGraceMs = static_cast<unsigned>(
        wholeNumber("IONET_KILL_GRACE_MS", *v, 1, 600000, "milliseconds between 1 and 600000"));
  }
  if (auto v = environmentValue(environment, "IONET_DATA_PATH")) {
    if (*v != "ionet" && *v != "direct") {
      throw UsageError("IONET_DATA_PATH=" + *v + ": expected 'ionet' or 'direct'");
    }
    s.dataPath = *v == "ionet";
  }
  if (auto v = environmentValue(environment, "IONET_TREE_FANOUT")) {
    s.treeFanout = static_cast<unsigned>(wholeNumber(
        "IONET_TREE_FANOUT", *v, 0, 65536, "a number of children between 0 (no tree) and 65536"));
  }
  if (auto v = environmentValue(environment, "IONET_RUN_METRICS_LISTEN"); v && !v->empty()) {
    s.metricsListen = observe::parseListenAddress(*v, "IONET_RUN_METRICS_LISTEN");
  }
  s.statusDir = environmentValue(environment, "IONET_STATUS_DIR").value_or("");
  for (const char* name : {"IONET_JOB_ID", "SLURM_JOB_ID"}) {
    if (auto v = environmentValue(environment, name); v && !v->empty()) {
      s.jobLabel = *v;
      break;
    }
  }
  return s;
}

void poolFromEnvironment(JobSpec& spec, const std::vector<std::string>& environment) {
  if (!spec.poolFile.empty() || spec.localHosts) return;
  if (auto p = environmentValue(environment, "IONET_POOL"); p && !p->empty()) spec.poolFile = *p;
}

}  // namespace ionet::launcher
