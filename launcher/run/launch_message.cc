#include "run/launch_message.h"

#include "ionet/bridge/forwarder.h"
#include "ionet/error.h"
#include "run/checkpoint_messages.h"
#include "run/wan_tuning.h"

namespace ionet::launcher {

std::vector<std::string> jobVariables(const JobSpec& spec, const std::string& transportKey,
                                      bool meetOnLoopback, const std::vector<std::string>& tuning) {
  std::vector<std::string> env = {"OMPI_MCA_orte_precondition_transports=" + transportKey};
  // ionet carries traffic between hosts on Open MPI's TCP BTL, which runs under the ob1 PML;
  // naming it spares every rank probing and initialising UCX (13% of MPI_Init's CPU here).
  // --mca pml ... overrides it.
  env.push_back("OMPI_MCA_pml=ob1");
  // Emulated hosts share this machine: without the data path their ranks meet on loopback.
  if (meetOnLoopback) env.push_back("OMPI_MCA_btl_tcp_if_include=lo");
  env.insert(env.end(), tuning.begin(), tuning.end());
  for (const auto& [key, value] : spec.mca) env.push_back("OMPI_MCA_" + key + "=" + value);
  for (const auto& x : spec.exports) env.push_back(x);
  return env;
}

namespace {

// Every host in the same direct site (a trusted LAN, a Slurm allocation): NCCL keeps its own
// transports there (InfiniBand, sockets at LAN speed).
bool oneDirectSite(const std::vector<LaunchHost>& hosts) {
  for (const auto& h : hosts) {
    if (h.directSite.empty() || h.directSite != hosts.front().directSite) return false;
  }
  return !hosts.empty();
}

}  // namespace

control::LaunchJob buildLaunchJob(const JobSpec& spec, const Placement& placement,
                                  const LaunchInputs& inputs) {
  IONET_ENFORCE(inputs.hosts.size() == placement.hosts.size(), "launch: ", inputs.hosts.size(),
                " hosts said hello for a placement of ", placement.hosts.size());
  control::LaunchJob job;
  job.set_job_id(inputs.jobId);
  job.set_nspace("ionet." + inputs.jobId);
  std::size_t rank0Host = 0;
  for (std::size_t h = 0; h < placement.hosts.size(); ++h) {
    const auto& host = placement.hosts[h];
    auto* hr = job.add_hosts();
    hr->set_host_name(host.name);
    for (auto r : host.ranks) {
      hr->add_ranks(r);
      if (r == 0) rank0Host = h;
    }
    for (const auto& gpus : host.gpusOfRank) hr->add_gpus(cudaVisibleDevices(gpus));
  }
  for (const auto& a : spec.argv) job.add_argv(a);
  // Links between hosts: the data path's sessions (a direct site is a LAN: left alone).
  const bool wan = inputs.dataPath && !oneDirectSite(inputs.hosts);
  const auto tuning =
      wan ? collectiveVariables(spec.collectives, inputs.linkRtt) : std::vector<std::string>{};
  for (const auto& entry : jobVariables(spec, inputs.transportKey, inputs.meetOnLoopback, tuning)) {
    auto* v = job.add_env();
    const auto eq = entry.find('=');
    v->set_name(entry.substr(0, eq));
    v->set_value(eq == std::string::npos ? "" : entry.substr(eq + 1));
  }
  job.set_work_dir(inputs.workDir);
  job.set_stdin_rank(0);
  job.set_master_addr(inputs.hosts[rank0Host].address);
  job.set_master_port(inputs.hosts[rank0Host].freePort);
  if (inputs.dataPath) {
    for (std::size_t h = 0; h < inputs.hosts.size(); ++h) {
      auto* d = job.add_data_hosts();
      d->set_endpoint(inputs.hosts[h].dataEndpoint);
      d->set_vaddr(bridge::virtualAddressOfHost(h));
      d->set_direct_site(inputs.hosts[h].directSite);
      d->set_direct_address(inputs.hosts[h].directAddress);
    }
    // Ranks meet on the virtual network: rank 0's host's virtual address.
    job.set_master_addr(bridge::formatIpv4(bridge::virtualAddressOfHost(rank0Host)));
    job.set_nccl_net(spec.ncclNet && wan);
    job.set_coll(spec.collectives.library && wan);
  }
  if (spec.restart.storage == CheckpointStorage::kPartner) {
    // Copies to partners ride the data path's sessions.
    setCheckpointPlan(job.mutable_checkpoint(), spec, placement, inputs.dataPath);
  }
  job.set_kill_grace_ms(inputs.killGraceMs);
  // The agents report as often as --status-interval prints, or the observer needs, if sooner.
  std::uint32_t statsMs = static_cast<std::uint32_t>(spec.statusIntervalSeconds * 1000);
  if (inputs.statsIntervalMs > 0 && (statsMs == 0 || inputs.statsIntervalMs < statsMs)) {
    statsMs = inputs.statsIntervalMs;
  }
  if (statsMs > 0) job.set_status_interval_ms(statsMs);
  if (inputs.treeFanout > 0) job.set_tree_fanout(inputs.treeFanout);
  return job;
}

}  // namespace ionet::launcher
