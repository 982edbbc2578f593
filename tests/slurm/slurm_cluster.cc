// The Slurm test cluster: the script does the work; this keeps its directory and asks Slurm
// about jobs by polling squeue and the completion log (sbatch --wait polls only every 2 s).
#include "slurm_cluster.h"

#include <stdlib.h>

#include <filesystem>
#include <sstream>
#include <thread>

namespace ionet::test {
namespace {

const std::string kScript = IONET_SOURCE_DIR "/tests/slurm/slurm-cluster.sh";

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

SlurmCluster::SlurmCluster(int nodes, int cpusPerNode) {
  char tmpl[] = "/tmp/slurm-test-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    why_ = "mkdtemp failed";
    return;
  }
  dir_ = tmpl;
  auto r = Command({kScript, "start", dir_, std::to_string(nodes), std::to_string(cpusPerNode)})
               .wait(std::chrono::seconds(60));
  started_ = r.finished && r.signal == 0 && r.exitCode == 0;
  if (!started_) why_ = r.out + r.err;
}

SlurmCluster::~SlurmCluster() {
  stop();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

void SlurmCluster::stop() {
  if (stopped_ || dir_.empty()) return;
  stopped_ = true;
  Command({kScript, "stop", dir_}).wait(std::chrono::seconds(60));
}

CommandResult SlurmCluster::client(std::vector<std::string> argv,
                                   std::chrono::milliseconds timeout) const {
  return Command(std::move(argv), env()).wait(timeout);
}

std::string SlurmCluster::jobState(const std::string& jobId) const {
  auto q = client({"squeue", "-h", "-j", jobId, "-o", "%T"});
  if (q.finished && q.exitCode == 0 && !trim(q.out).empty()) {
    std::istringstream lines(q.out);
    std::string first;
    std::getline(lines, first);
    return trim(first);
  }
  auto a = client({"sacct", "-c", "-n", "-P", "-j", jobId, "-o", "State"});
  if (!a.finished || a.exitCode != 0) return "";
  std::istringstream lines(a.out);
  std::string first;
  std::getline(lines, first);
  return trim(first);
}

std::optional<std::string> SlurmCluster::waitJobDone(const std::string& jobId,
                                                     std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto state = jobState(jobId);
    if (!state.empty() && state != "PENDING" && state != "RUNNING" && state != "CONFIGURING" &&
        state != "COMPLETING" && state != "SUSPENDED") {
      return state;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace ionet::test
