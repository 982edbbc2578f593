// The ranks an agent starts: layout, programs and environments from a LaunchJob.
#include "agent/host_launch.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "common/rank_env.h"
#include "ionet/bridge/forwarder.h"
#include "ionet/error.h"

extern char** environ;

namespace ionet::launcher {
namespace fs = std::filesystem;
namespace {

// The ranks' connections to other hosts go through the host's forwarder (shim preloaded); to
// hosts of our direct site, at their real addresses.
void addDataPath(const control::LaunchJob& job, const HostFacts& host,
                 const std::vector<std::string>& base, JobEnvInputs& inputs) {
  inputs.shimPath = host.shimPath;
  IONET_ENFORCE(!inputs.shimPath.empty(),
                "cannot find libionet-shim.so for the data path (set IONET_SHIM)");
  inputs.forwarder = "127.0.0.1:" + std::to_string(host.forwarderPort);
  const auto& self = job.data_hosts(static_cast<int>(job.host_index()));
  inputs.virtualAddress = bridge::formatIpv4(self.vaddr());
  for (int i = 0; i < job.data_hosts_size(); ++i) {
    const auto& peer = job.data_hosts(i);
    if (i == static_cast<int>(job.host_index()) || self.direct_site().empty() ||
        peer.direct_site() != self.direct_site() || peer.direct_address().empty()) {
      continue;
    }
    inputs.directPeers += (inputs.directPeers.empty() ? "" : ",") +
                          bridge::formatIpv4(peer.vaddr()) + "=" + peer.direct_address();
  }
  inputs.inheritedPreload = environmentValue(base, "LD_PRELOAD").value_or("");
  if (job.coll()) {
    IONET_ENFORCE(!host.collLibrary.empty(),
                  "cannot find libionet-coll.so for the collectives (set IONET_COLL_LIBRARY)");
    // After the shim, before the program's own: its MPI_ functions win over libmpi's.
    inputs.inheritedPreload =
        host.collLibrary + (inputs.inheritedPreload.empty() ? "" : ":" + inputs.inheritedPreload);
  }
  if (job.nccl_net()) {
    IONET_ENFORCE(!host.ncclPlugin.empty(),
                  "cannot find libnccl-net-ionet.so for NCCL (set IONET_NCCL_PLUGIN)");
    inputs.ncclPlugin = host.ncclPlugin;
    inputs.ncclAgent = host.ncclAgent;
    // NCCL counts processes with one host hash as one node; emulated hosts share a kernel.
    inputs.ncclHostId = "ionet-" + job.job_id() + "-" + std::to_string(job.host_index());
  }
}

}  // namespace

HostLaunch planHostLaunch(const control::LaunchJob& job, const HostFacts& host) {
  HostLaunch out;
  bridge::JobLayout& layout = out.layout;
  layout.nspace = job.nspace();
  for (const auto& h : job.hosts()) {
    layout.hostNames.push_back(h.host_name());
    layout.ranks.emplace_back(h.ranks().begin(), h.ranks().end());
  }
  layout.hostIndex = job.host_index();
  IONET_ENFORCE(layout.hostIndex < layout.hostNames.size(), "host index out of range");
  IONET_ENFORCE(job.data_hosts_size() == 0 || job.data_hosts_size() == job.hosts_size(),
                "data path: ", job.data_hosts_size(), " entries for ", job.hosts_size(), " hosts");
  IONET_ENFORCE(job.argv_size() > 0, "no program to start");
  layout.sessionDir = host.sessionDir;

  std::vector<std::string> jobEnv;
  for (const auto& v : job.env()) jobEnv.push_back(v.name() + "=" + v.value());
  if (!job.checkpoint().dir().empty())
    jobEnv.push_back("IONET_CHECKPOINT_DIR=" + host.checkpointDir);
  const auto base = mergeEnvironment(host.environment, jobEnv);
  const std::string& program = job.argv(0);
  const std::string path =
      resolveExecutable(program, environmentValue(base, "PATH").value_or(""), job.work_dir());
  if (path.empty()) {
    throw Error("cannot find executable '" + program + "' (not found or not executable)");
  }

  const auto& local = layout.ranks[layout.hostIndex];
  JobEnvInputs inputs;
  inputs.jobId = job.job_id();
  inputs.masterAddr = job.master_addr();
  inputs.masterPort = job.master_port();
  inputs.vaderDir = host.vaderDir;
  inputs.oversubscribed = local.size() > std::max(1u, host.cores);
  if (job.data_hosts_size() > 0) addDataPath(job, host, base, inputs);
  std::uint32_t worldSize = 0;
  for (const auto& r : layout.ranks) worldSize += static_cast<std::uint32_t>(r.size());

  const auto& gpus = job.hosts(static_cast<int>(layout.hostIndex)).gpus();
  const auto localSize = static_cast<std::uint32_t>(local.size());
  for (std::uint32_t i = 0; i < localSize; ++i) {
    const RankPlace place{local[i], worldSize, i, localSize, layout.hostIndex, host.hostName};
    RankSpec spec;
    spec.rank = local[i];
    spec.path = path;
    spec.argv.assign(job.argv().begin(), job.argv().end());
    inputs.cudaVisibleDevices =
        i < static_cast<std::uint32_t>(gpus.size()) ? gpus[static_cast<int>(i)] : std::string();
    spec.env = mergeEnvironment(mergeEnvironment(base, rankEnvironment(place, inputs)), jobEnv);
    if (!inputs.forwarder.empty()) {
      spec.env = keepShimPreloaded(std::move(spec.env), inputs.shimPath);
    }
    spec.workDir = job.work_dir();
    spec.withStdin = local[i] == job.stdin_rank();
    out.ranks.push_back(std::move(spec));
  }
  return out;
}

std::vector<std::string> processEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  return env;
}

std::string findRankLibrary(const char* envName, const char* fileName) {
  if (const char* p = std::getenv(envName)) return p;
  std::error_code ec;
  const auto bin = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (const auto& candidate :
       {bin.parent_path() / "lib" / fileName, bin.parent_path() / "lib" / "ionet" / fileName}) {
    if (fs::exists(candidate, ec)) return candidate.string();
  }
  return {};
}

}  // namespace ionet::launcher
