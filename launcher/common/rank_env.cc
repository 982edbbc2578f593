// The environment contract (see docs/environment.md).
#include "common/rank_env.h"

#include <unordered_map>

#include "ionet/bridge/forwarder.h"

namespace ionet::launcher {

std::vector<std::string> rankEnvironment(const RankPlace& p, const JobEnvInputs& job) {
  auto kv = [](const char* name, const auto& value) {
    if constexpr (std::is_convertible_v<decltype(value), std::string>) {
      return std::string(name) + "=" + std::string(value);
    } else {
      return std::string(name) + "=" + std::to_string(value);
    }
  };
  std::vector<std::string> env = {
      // Open MPI's names: programs read them before MPI_Init to pick a GPU.
      kv("OMPI_COMM_WORLD_RANK", p.rank),
      kv("OMPI_COMM_WORLD_SIZE", p.worldSize),
      kv("OMPI_COMM_WORLD_LOCAL_RANK", p.localRank),
      kv("OMPI_COMM_WORLD_LOCAL_SIZE", p.localSize),
      // Open MPI's node rank: the rank's index among the processes on its node (one job per
      // agent, so the local rank).
      kv("OMPI_COMM_WORLD_NODE_RANK", p.localRank),
      // Without schizo=ompi every rank silently becomes a singleton (DESIGN.md section 3).
      kv("OMPI_MCA_schizo", "ompi"),
      // Emulated hosts share one kernel: each needs its own vader segment directory.
      kv("OMPI_MCA_btl_vader_backing_directory", job.vaderDir),
      // torchrun's names, for PyTorch's env:// rendezvous.
      kv("RANK", p.rank),
      kv("LOCAL_RANK", p.localRank),
      kv("WORLD_SIZE", p.worldSize),
      kv("LOCAL_WORLD_SIZE", p.localSize),
      kv("GROUP_RANK", p.hostIndex),
      kv("MASTER_ADDR", job.masterAddr),
      kv("MASTER_PORT", job.masterPort),
      // ionet's own.
      kv("IONET_JOB_ID", job.jobId),
      kv("IONET_RANK", p.rank),
      kv("IONET_HOST", p.hostName),
  };
  // As mpirun does: ranks sharing a core yield while waiting instead of spinning (with 64 ranks
  // on 2 cores, spinning made MPI_Init/Finalize 15% slower than mpirun).
  if (job.oversubscribed) env.push_back(kv("OMPI_MCA_mpi_oversubscribe", "1"));
  if (!job.cudaVisibleDevices.empty()) {
    env.push_back(kv("CUDA_VISIBLE_DEVICES", job.cudaVisibleDevices));
    // The indices are NVML's, which count in PCI bus order (as nvidia-smi does); CUDA's own
    // default order is fastest first, which on a mixed host names other cards.
    env.push_back(kv("CUDA_DEVICE_ORDER", "PCI_BUS_ID"));
  }
  if (!job.forwarder.empty()) {
    const std::string preload =
        job.inheritedPreload.empty() ? job.shimPath : job.shimPath + ":" + job.inheritedPreload;
    const std::vector<std::string> dataPath = {
        kv("LD_PRELOAD", preload),
        kv("IONET_FORWARDER", job.forwarder),
        kv("IONET_VADDR", job.virtualAddress),
        kv("IONET_VNET", bridge::kVirtualNetwork),
        kv("IONET_VIF", bridge::kVirtualInterface),
        // Every program publishes and dials the virtual interface: Open MPI's TCP BTL (IPv6
        // would bypass the shim's IPv4 addresses), NCCL's and Gloo's sockets.
        kv("OMPI_MCA_btl_tcp_if_include", bridge::kVirtualInterface),
        kv("OMPI_MCA_btl_tcp_disable_family", "6"),
        kv("NCCL_SOCKET_IFNAME", bridge::kVirtualInterface),
        kv("GLOO_SOCKET_IFNAME", bridge::kVirtualInterface),
        // The host's agent moves these ranks' bytes between hosts: a rank that spins while it
        // waits takes the core the forwarder needs. Yielding when idle costs a dedicated core
        // a sched_yield() per empty progress pass; on 2 shared cores it raised NetPIPE's 1 MiB
        // rate through the sessions 1.6x (bench/datapath). --mca mpi_yield_when_idle 0 wins.
        kv("OMPI_MCA_mpi_yield_when_idle", "1"),
    };
    env.insert(env.end(), dataPath.begin(), dataPath.end());
    if (!job.directPeers.empty()) env.push_back(kv("IONET_DIRECT", job.directPeers));
  }
  if (!job.ncclPlugin.empty()) {
    const std::vector<std::string> nccl = {
        kv("NCCL_NET_PLUGIN", job.ncclPlugin),
        // Selecting the plugin by name makes its failure NCCL's error instead of a silent
        // fall-back to NCCL's raw sockets.
        kv("NCCL_NET", "ionet"),
        kv("NCCL_HOSTID", job.ncclHostId),
        kv("IONET_NCCL_AGENT", job.ncclAgent),
    };
    env.insert(env.end(), nccl.begin(), nccl.end());
  }
  return env;
}

std::optional<std::string> environmentValue(const std::vector<std::string>& env,
                                            const std::string& name) {
  for (const auto& e : env) {
    if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 && e[name.size()] == '=') {
      return e.substr(name.size() + 1);
    }
  }
  return std::nullopt;
}

std::vector<std::string> mergeEnvironment(std::vector<std::string> base,
                                          const std::vector<std::string>& overrides) {
  std::unordered_map<std::string, std::size_t> index;
  auto nameOf = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  for (std::size_t i = 0; i < base.size(); ++i) index[nameOf(base[i])] = i;
  for (const auto& entry : overrides) {
    auto [it, inserted] = index.try_emplace(nameOf(entry), base.size());
    if (inserted) {
      base.push_back(entry);
    } else {
      base[it->second] = entry;
    }
  }
  return base;
}

std::vector<std::string> keepShimPreloaded(std::vector<std::string> env,
                                           const std::string& shimPath) {
  const auto preload = environmentValue(env, "LD_PRELOAD");
  if (preload && (*preload == shimPath || preload->rfind(shimPath + ":", 0) == 0 ||
                  preload->rfind(shimPath + " ", 0) == 0)) {
    return env;
  }
  const std::string value = preload && !preload->empty() ? shimPath + ":" + *preload : shimPath;
  return mergeEnvironment(std::move(env), {"LD_PRELOAD=" + value});
}

}  // namespace ionet::launcher
