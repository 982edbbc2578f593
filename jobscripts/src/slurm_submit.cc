// From BatchOptions to sbatch's argv: Slurm's own options keep their names; ionet's options
// travel as IONET_* variables that ionet-run reads inside the job; the rest are errors.
#include "ionet/jobscripts/slurm_submit.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

#include "ionet/error.h"
#include "ionet/jobscripts/job_format.h"

namespace fs = std::filesystem;

namespace ionet::jobscripts {
namespace {

// An embedded-queue job's own variables (shepherd.cc sets them): a Slurm job submitted from
// inside one must not inherit them, or ionet-run there would take it for an embedded job.
bool setByTheEmbeddedQueue(const std::string& assignment) {
  static const char* const prefixes[] = {
      "IONET_JOB",           "IONET_ARRAY",          "IONET_ALLOCATION",
      "IONET_STEP_LOG=",     "IONET_NTASKS",         "IONET_CPUS_PER_TASK=",
      "IONET_SUBMIT_",       "IONET_RESTART_COUNT=", "IONET_CHECKPOINT_DIR=",
      "IONET_MAX_RESTARTS=", "IONET_GPUS_PER_TASK="};
  return std::any_of(std::begin(prefixes), std::end(prefixes),
                     [&](const char* p) { return assignment.rfind(p, 0) == 0; });
}

// "job.sh:4: " when a directive set the option, "" when the command line did.
std::string originOf(const BatchOptions& o, const std::string& option) {
  auto it = o.origins.find(option);
  return it == o.origins.end() ? "" : it->second + ": ";
}

// Whether an output pattern uses %<letter> (with an optional width: %4r); "%%" is a percent.
bool usesLetter(const std::string& pattern, char letter) {
  for (std::size_t i = 0; i + 1 < pattern.size(); ++i) {
    if (pattern[i] != '%') continue;
    std::size_t j = i + 1;
    if (pattern[j] == '%') {
      i = j;
      continue;
    }
    while (j < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[j]))) ++j;
    if (j < pattern.size() && pattern[j] == letter) return true;
    i = j - 1;
  }
  return false;
}

void checkPattern(const BatchOptions& o, const std::string& option, const std::string& pattern) {
  if (usesLetter(pattern, 'r')) {
    throw UsageError(originOf(o, option) + "--" + option + " " + pattern +
                     ": %r (the restart count) has no Slurm equivalent; the Slurm backend "
                     "cannot express it");
  }
}

std::string dependencySpec(const std::vector<DependencyTerm>& terms) {
  std::string out;
  for (const auto& t : terms) {
    out += (out.empty() ? "" : ",") + t.kind;
    for (const auto& id : t.jobs) out += ":" + id;
  }
  return out;
}

std::string gpuSpec(const std::string& type, std::uint32_t count) {
  return (type.empty() ? "" : type + ":") + std::to_string(count);
}

// --export for Slurm: the user's spec, with the IONET_* names added where the spec does not
// already carry everything (ALL). Their values come from sbatch's environment.
std::string exportSpec(const std::string& spec, const std::vector<std::string>& ionetNames) {
  std::vector<std::string> items;
  std::istringstream in(spec);
  for (std::string item; std::getline(in, item, ',');) items.push_back(item);
  if (std::find(items.begin(), items.end(), "ALL") != items.end()) return spec;
  std::string out;
  for (const auto& item : items) {
    if (item != "NONE") out += (out.empty() ? "" : ",") + item;
  }
  for (const auto& name : ionetNames) out += (out.empty() ? "" : ",") + name;
  return out.empty() ? "NONE" : out;
}

}  // namespace

std::string slurmArraySpec(const ArraySpec& array) {
  return taskIdRanges(array.ids, array.maxRunning);
}

std::string withoutSbatchDirectives(const std::string& scriptText) {
  std::string out;
  std::istringstream in(scriptText);
  bool inDirectives = true;
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find_first_not_of(" \t\r");
    // The directives end where applyDirectives stops reading them: the first command.
    if (first != std::string::npos && line[first] != '#') inDirectives = false;
    if (inDirectives && line.rfind("#SBATCH", 0) == 0) line = "#IONET" + line.substr(7);
    out += line + "\n";
  }
  if (!scriptText.empty() && scriptText.back() != '\n') out.pop_back();
  return out;
}

SbatchPlan planSbatch(const Submission& s, const std::vector<std::string>& environment,
                      const std::string& cwd) {
  const BatchOptions& o = s.options;
  SbatchPlan plan;
  auto& a = plan.argv;
  a = {"sbatch", "--parsable"};
  // sbatch would name a job read from standard input "sbatch", and one from a file its name;
  // the copy it is given has another name, so the name is always explicit.
  const std::string name = !o.jobName.empty()     ? o.jobName
                           : s.scriptPath.empty() ? std::string("sbatch")
                                                  : fs::path(s.scriptPath).filename().string();
  a.push_back("--job-name=" + name);
  if (o.nodes) a.push_back("--nodes=" + std::to_string(*o.nodes));
  if (o.ntasks) a.push_back("--ntasks=" + std::to_string(*o.ntasks));
  if (o.ntasksPerNode) a.push_back("--ntasks-per-node=" + std::to_string(*o.ntasksPerNode));
  if (o.cpusPerTask != 1) a.push_back("--cpus-per-task=" + std::to_string(o.cpusPerTask));
  if (o.gpus) a.push_back("--gpus=" + gpuSpec(o.gpuType, o.gpus));
  if (o.gpusPerTask) a.push_back("--gpus-per-task=" + gpuSpec(o.gpuPerTaskType, o.gpusPerTask));
  if (o.memMegabytes) a.push_back("--mem=" + std::to_string(o.memMegabytes) + "M");
  if (o.timeLimitSeconds) a.push_back("--time=" + formatDuration(o.timeLimitSeconds));
  if (!o.output.empty()) {
    checkPattern(o, "output", o.output);
    a.push_back("--output=" + o.output);
  }
  if (!o.error.empty()) {
    checkPattern(o, "error", o.error);
    a.push_back("--error=" + o.error);
  }
  if (o.array) a.push_back("--array=" + slurmArraySpec(*o.array));
  if (!o.dependency.empty()) a.push_back("--dependency=" + dependencySpec(o.dependency));
  if (o.requeue) a.push_back(*o.requeue ? "--requeue" : "--no-requeue");
  if (o.signal) {
    a.push_back("--signal=" + std::string(o.signal->batchOnly ? "B:" : "") +
                signalName(o.signal->signal) + "@" + std::to_string(o.signal->secondsBefore));
  }
  if (!o.chdir.empty()) a.push_back("--chdir=" + o.chdir);
  for (const auto& given : o.slurmOnly) a.push_back(given);

  // ionet's own options, as ionet-run reads them inside a batch job (launcher/run/cli.cc).
  const std::string workDir =
      o.chdir.empty() ? cwd : (fs::path(cwd) / o.chdir).lexically_normal().string();
  if (!o.checkpointDir.empty()) {
    const fs::path dir(o.checkpointDir);
    plan.ionetVariables.push_back(
        "IONET_CHECKPOINT_DIR=" +
        (dir.is_absolute() ? dir : fs::path(workDir) / dir).lexically_normal().string());
  }
  if (o.maxRestarts) {
    plan.ionetVariables.push_back("IONET_MAX_RESTARTS=" + std::to_string(*o.maxRestarts));
  }
  if (o.gpusPerTask) {
    plan.ionetVariables.push_back("IONET_GPUS_PER_TASK=" + std::to_string(o.gpusPerTask));
  }
  std::vector<std::string> names;
  for (const auto& v : plan.ionetVariables) names.push_back(v.substr(0, v.find('=')));
  const std::string exported = exportSpec(o.exportSpec, names);
  if (exported != "ALL") a.push_back("--export=" + exported);

  for (const auto& e : environment) {
    if (!setByTheEmbeddedQueue(e)) plan.environment.push_back(e);
  }
  for (const auto& v : plan.ionetVariables) setVariable(plan.environment, v);

  plan.scriptIndex = a.size();
  a.push_back(s.scriptPath.empty() ? std::string("-") : s.scriptPath);
  a.insert(a.end(), s.scriptArgs.begin(), s.scriptArgs.end());
  const std::string copy = withoutSbatchDirectives(s.scriptText);
  if (s.scriptPath.empty() || copy != s.scriptText) plan.scriptCopy = copy;
  return plan;
}

std::string jobIdFromSbatch(const std::string& output) {
  std::string id = output.substr(0, output.find_first_of(";\n"));
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    throw Error("sbatch --parsable printed '" + output + "', not a job id");
  }
  return id;
}

}  // namespace ionet::jobscripts
