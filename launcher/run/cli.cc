// ionet-run's command line. CLI11 holds the option table; a pre-scan finds where the program
// starts (everything after it belongs to the program) and accepts mpirun's single-dash long
// names (-np, -host, -mca ...).
#include "run/cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "common/rank_env.h"
#include "hosts/allocation.h"
#include "ionet/error.h"
#include "observe/http_endpoint.h"

namespace ionet::launcher {
namespace {

// mpirun options with no ionet-run equivalent: refused by name (never silently ignored).
const std::set<std::string>& unsupportedOptions() {
  static const std::set<std::string> names = {"--rank-by",
                                              "--cpus-per-proc",
                                              "--cpus-per-rank",
                                              "--report-bindings",
                                              "--display-map",
                                              "--display-devel-map",
                                              "--display-allocation",
                                              "--display-devel-allocation",
                                              "--npersocket",
                                              "--prefix",
                                              "--noprefix",
                                              "--preload-binary",
                                              "--preload-files",
                                              "--app",
                                              "--enable-recovery",
                                              "--disable-recovery",
                                              "--xml",
                                              "--debug",
                                              "--debug-daemons",
                                              "--debug-daemons-file",
                                              "--debugger",
                                              "--tv",
                                              "--report-pid",
                                              "--report-uri",
                                              "--ompi-server",
                                              "--wait-for-server",
                                              "--server-wait-time",
                                              "--gmca",
                                              "--tune",
                                              "--am",
                                              "--stdin",
                                              "--path",
                                              "--set-sid",
                                              "--show-progress",
                                              "--continuous",
                                              "--novm",
                                              "--use-hwthread-cpus",
                                              "--hetero-nodes",
                                              "--report-child-jobs-separately",
                                              "--nolocal",
                                              "--default-hostfile",
                                              "--rankfile",
                                              "--use-regexp",
                                              "--personality",
                                              "--dvm",
                                              "--launch-agent",
                                              "--leave-session-attached",
                                              "--report-state-on-timeout",
                                              "--get-stack-traces",
                                              "--index-argv-by-rank",
                                              "--mca-param-file",
                                              "--enable-instant-on-support",
                                              "--fwd-mpirun-port",
                                              "--ppr",
                                              "--bynode",
                                              "--byslot",
                                              "--bycore",
                                              "--bysocket",
                                              "--bind-to-core",
                                              "--bind-to-socket",
                                              "--do-not-launch",
                                              "--do-not-resolve",
                                              "--allow-run-as-root-confirm",
                                              "--output-proctable",
                                              "--initial-errhandler",
                                              "--timestamp",
                                              "--xterm",
                                              "--mca-base",
                                              "-s",
                                              "-d",
                                              "-v",
                                              "-rf",
                                              "-am",
                                              "-tv",
                                              "-nolocal"};
  return names;
}

struct Flags {
  std::uint32_t np = 0, perHost = 0, localHosts = 0, timeout = 0, gpusPerRank = 0;
  bool allowRoot = false, pernode = false, oversubscribe = false, noOversubscribe = false,
       version = false;
  std::string mapBy = "slot", bindTo = "none";
  std::vector<std::string> exports;
  std::vector<std::vector<std::string>> mca;
  std::string machinefile;
  std::string gpuMinMem;
  double statusInterval = 0;
  std::uint32_t minHosts = 0;
  std::string checkpointDir;
  std::string checkpointStorage = "shared";
  std::string ncclNet = "ionet";
  std::string coll = "ionet", wanTuning = "auto", wanCompress = "none";
  std::string slurmLinks = "direct";
  std::string metricsListen;
};

void defineOptions(CLI::App& app, JobSpec& s, Flags& f) {
  // mpirun takes the last of a repeated option (-np 2 -np 3 runs 3).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.set_help_flag("-h,--help", "Show this help and exit");
  app.add_flag("-V,--version", f.version, "Show the version and exit");
  app.add_option("-n,--np,-c", f.np, "Number of ranks to start (default: all slots)");
  app.add_option("-N,--npernode", f.perHost, "Ranks per host");
  app.add_flag("--pernode", f.pernode, "One rank per host (same as -N 1)");
  app.add_option("-H,--host", s.hostLists, "Hosts, e.g. a,b:2 (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--hostfile", s.hostfile, "Open MPI hostfile: 'host slots=N' per line");
  app.add_option("--machinefile", f.machinefile, "Same as --hostfile");
  app.add_option("--local-hosts", f.localHosts,
                 "Emulate H hosts on this machine (one agent and PMIx server each)");
  app.add_option("--pool", s.poolFile, "The pool: pool.toml, or a hostfile of agent hosts");
  app.add_option("--gpus-per-rank", f.gpusPerRank,
                 "GPUs each rank gets, distinct, set in CUDA_VISIBLE_DEVICES");
  app.add_option("--gpu-model", s.gpuModel,
                 "Only GPUs whose name contains SUBSTR, any case (e.g. H100)");
  app.add_option("--gpu-min-mem", f.gpuMinMem,
                 "Only GPUs with at least SIZE memory: bytes, or K/M/G/T (powers of 1000) or "
                 "KiB/MiB/GiB/TiB");
  app.add_option("--gpu-min-tflops", s.gpuMinTflops,
                 "Only GPUs whose pool agent's health check measured at least X TFLOP/s (bf16 "
                 "matrix product)")
      ->check(CLI::PositiveNumber);
  app.add_option("-x", f.exports, "Export VAR (from this environment) or VAR=value to ranks")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--mca", f.mca, "Set an Open MPI MCA parameter in the ranks: --mca key value")
      ->expected(2)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--map-by", f.mapBy, "slot (default), node, or ppr:N:node [:OVERSUBSCRIBE]");
  app.add_option("--bind-to", f.bindTo, "Only 'none' (ionet does not bind ranks)");
  app.add_flag("--oversubscribe", f.oversubscribe, "Allow more ranks than slots");
  app.add_flag("--nooversubscribe", f.noOversubscribe, "Refuse more ranks than slots");
  app.add_flag("--tag-output", s.tagOutput, "Prefix each output line with [1,rank]<stream>:");
  app.add_flag("--timestamp-output", s.timestampOutput, "Prefix each output line with the time");
  app.add_option("--output-filename", s.outputDir,
                 "Write rank R's output to DIR/1/rank.R/stdout and stderr instead");
  app.add_flag("--merge-stderr-to-stdout", s.mergeStderrToStdout, "Send stderr to stdout");
  app.add_option("--wdir", s.workDir, "Working directory of the ranks");
  app.add_option("--timeout", f.timeout, "Kill the job after SECONDS (exit status 124)");
  app.add_option("--status-interval", f.statusInterval,
                 "Print the job's status (hosts, ranks, fences, links) every SECONDS");
  app.add_option("--metrics-listen", f.metricsListen,
                 "Serve the job's Prometheus metrics at http://ADDR:PORT/metrics ([ADDR:]PORT; "
                 "no ADDR: 127.0.0.1; port 0: any free port, printed on stderr)");
  app.add_option("--checkpoint-dir", f.checkpointDir,
                 "The job's checkpoint directory (IONET_CHECKPOINT_DIR in every rank)");
  app.add_option("--checkpoint-storage", f.checkpointStorage,
                 "shared: --checkpoint-dir is one directory every host sees; partner: each "
                 "host's own, copied to a partner host (default: shared, or partner on a pool "
                 "without shared_checkpoint_dir)")
      ->check(CLI::IsMember({"shared", "partner"}));
  app.add_option("--max-restarts", s.restart.maxRestarts,
                 "Start the job again up to N times after it loses a rank or a host");
  app.add_option("--spare-hosts", s.restart.spareHosts,
                 "Hold the pool's last N hosts back to replace lost ones");
  app.add_option("--min-hosts", f.minHosts,
                 "On a restart, run on as few as N hosts when no spare is left");
  app.add_option("--restart-delay", s.restart.restartDelaySeconds,
                 "Wait SECONDS between a failure and the restart (default 1)");
  app.add_option("--host-cooldown", s.restart.hostCooldownSeconds,
                 "Leave a lost host out of restarts for SECONDS (default 300)");
  app.add_option("--slurm-links", f.slurmLinks,
                 "Inside a Slurm allocation: direct: ranks on different nodes dial each other "
                 "(default); sessions: through ionet's agents and sessions")
      ->check(CLI::IsMember({"direct", "sessions"}));
  app.add_option("--nccl-net", f.ncclNet,
                 "ionet: NCCL's traffic between hosts through ionet's plugin and sessions "
                 "(default); socket: NCCL's own sockets, through the shim")
      ->check(CLI::IsMember({"ionet", "socket"}));
  app.add_option("--coll", f.coll,
                 "ionet: MPI collectives of a job spanning hosts through libionet-coll, host "
                 "by host (default); mpi: Open MPI's own")
      ->check(CLI::IsMember({"ionet", "mpi"}));
  app.add_option("--wan-tuning", f.wanTuning,
                 "auto: tune Open MPI's TCP eager limit and allreduce for links slower than a "
                 "LAN (default); off: Open MPI's defaults")
      ->check(CLI::IsMember({"auto", "off"}));
  app.add_option("--wan-compress", f.wanCompress,
                 "Compress float/double sums between hosts: none (default), bf16 or int8 "
                 "(lossy; see docs/collectives.md)")
      ->check(CLI::IsMember({"none", "bf16", "int8"}));
  app.add_option("--wan-rate", s.collectives.rateMbps,
                 "A host's rate to the others in Mbit/s, for the collectives' cost model "
                 "(default 1000)")
      ->check(CLI::PositiveNumber);
  app.add_flag("-q,--quiet", s.quiet, "Suppress ionet-run's own informational messages");
  app.add_flag("--allow-run-as-root", f.allowRoot, "Accepted: ionet-run does not refuse root");
}

// Options CLI11 knows, keyed by every name they answer to, with how many values they take.
std::map<std::string, int> optionArity(const CLI::App& app) {
  std::map<std::string, int> arity;
  for (const CLI::Option* opt : app.get_options()) {
    int n = opt->get_type_size() * opt->get_expected_min();
    if (opt->get_items_expected_max() == 0) n = 0;
    for (const auto& l : opt->get_lnames()) arity["--" + l] = n;
    for (const auto& sname : opt->get_snames()) arity["-" + sname] = n;
  }
  arity["-h"] = arity["--help"] = 0;
  return arity;
}

void applyMapBy(const std::string& value, JobSpec& s) {
  std::string policy = value;
  std::string modifier;
  if (auto colon = value.find(':'); colon != std::string::npos && value.rfind("ppr:", 0) != 0) {
    policy = value.substr(0, colon);
    modifier = value.substr(colon + 1);
  } else if (value.rfind("ppr:", 0) == 0) {
    // ppr:N:node[:MODIFIER]
    std::vector<std::string> parts;
    std::stringstream in(value);
    for (std::string p; std::getline(in, p, ':');) parts.push_back(p);
    if (parts.size() < 3 || parts[2] != "node") {
      throw UsageError("--map-by " + value + " is not supported (only ppr:N:node)");
    }
    try {
      s.perHost = static_cast<std::uint32_t>(std::stoul(parts[1]));
    } catch (const std::exception&) {
      throw UsageError("--map-by " + value + ": N must be a positive integer");
    }
    if (*s.perHost == 0) throw UsageError("--map-by " + value + ": N must be at least 1");
    policy = "slot";
    if (parts.size() > 3) modifier = parts[3];
  }
  if (policy == "slot") {
    s.mapBy = MapBy::kSlot;
  } else if (policy == "node") {
    s.mapBy = MapBy::kNode;
  } else {
    throw UsageError("--map-by " + value + " is not supported (supported: slot, node, ppr:N:node)");
  }
  if (modifier == "OVERSUBSCRIBE") {
    s.oversubscribe = true;
  } else if (modifier == "NOOVERSUBSCRIBE") {
    s.oversubscribe = false;
  } else if (!modifier.empty()) {
    throw UsageError("--map-by modifier '" + modifier + "' is not supported");
  }
}

// "40G" (10^9), "80GiB" (2^30), "24000M", "1048576": bytes.
std::uint64_t parseSize(const std::string& option, const std::string& text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::string unit(end, text.data() + text.size());
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'b') unit.pop_back();  // "GB", "GiB"
  static const std::map<std::string, std::uint64_t> scales = {{"", 1},
                                                              {"b", 1},
                                                              {"k", 1'000},
                                                              {"ki", 1ull << 10},
                                                              {"m", 1'000'000},
                                                              {"mi", 1ull << 20},
                                                              {"g", 1'000'000'000},
                                                              {"gi", 1ull << 30},
                                                              {"t", 1'000'000'000'000},
                                                              {"ti", 1ull << 40}};
  auto scale = scales.find(unit);
  if (ec != std::errc() || end == text.data() || scale == scales.end()) {
    throw UsageError(option + " " + text + ": not a size (e.g. 40G, 80GiB, 24000M)");
  }
  if (value > UINT64_MAX / scale->second) throw UsageError(option + " " + text + ": too large");
  return value * scale->second;
}

// Inside an ionet-batch job (IONET_JOB_ID set): with no hosts named, ionet-run runs on the
// job's allocation, as srun does inside sbatch; the job's --checkpoint-dir and --max-restarts
// and --gpus-per-task are the defaults, also in a Slurm job (ionet-batch --backend slurm puts
// them in its environment; the allocation is then Slurm's, applySlurmAllocation).
struct GivenOptions {
  bool checkpointDir = false, maxRestarts = false, gpusPerRank = false;
};

std::optional<std::uint32_t> environmentCount(const std::vector<std::string>& environment,
                                              const std::string& name) {
  auto n = environmentValue(environment, name);
  if (!n || n->empty()) return std::nullopt;
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(n->data(), n->data() + n->size(), v);
  if (ec != std::errc() || end != n->data() + n->size()) {
    throw UsageError(name + "=" + *n + ": expected a number");
  }
  return v;
}

void applyBatchJob(const std::vector<std::string>& environment, JobSpec& s, GivenOptions given) {
  // ionet-batch --backend slurm passes the same IONET_ settings to its Slurm jobs.
  const bool inIonetQueue = environmentValue(environment, "IONET_JOB_ID").has_value();
  if (!inIonetQueue && !environmentValue(environment, "SLURM_JOB_ID")) return;
  const auto allocation =
      inIonetQueue ? environmentValue(environment, "IONET_ALLOCATION") : std::nullopt;
  const auto kind = environmentValue(environment, "IONET_ALLOCATION_KIND").value_or("");
  const bool hostsNamed =
      !s.hostLists.empty() || !s.hostfile.empty() || s.localHosts || !s.poolFile.empty();
  if (allocation && !allocation->empty() && !hostsNamed) {
    auto hosts = parseAllocation(*allocation);
    std::map<std::string, std::vector<std::uint32_t>> gpus;
    for (auto& h : hosts) gpus[h.name] = std::exchange(h.gpus, {});
    const std::string plain = formatAllocation(hosts);  // HOST:TASKS,... as -H takes it
    if (kind == "emulated") {
      s.localHosts = static_cast<std::uint32_t>(hosts.size());
      s.hostLists.push_back(plain);
    } else if (kind == "pool") {
      s.poolFile = environmentValue(environment, "IONET_POOL").value_or("");
      if (s.poolFile.empty())
        throw UsageError("IONET_ALLOCATION_KIND=pool but IONET_POOL is not set");
      s.hostLists.push_back(plain);
      s.allocatedGpus = std::move(gpus);
    } else {
      // One host, this machine.
      s.hostLists.push_back("localhost:" + std::to_string(hosts.front().tasks));
    }
  }
  if (!given.checkpointDir) {
    if (auto dir = environmentValue(environment, "IONET_CHECKPOINT_DIR"); dir && !dir->empty()) {
      std::error_code ec;
      s.restart.checkpointDir = std::filesystem::absolute(*dir, ec).lexically_normal().string();
    }
  }
  if (!given.maxRestarts) {
    if (auto n = environmentCount(environment, "IONET_MAX_RESTARTS")) s.restart.maxRestarts = *n;
  }
  // In a Slurm job the GPUs are Slurm's: its --gpus/--gres set CUDA_VISIBLE_DEVICES per node.
  if (!given.gpusPerRank && inIonetQueue) {
    if (auto n = environmentCount(environment, "IONET_GPUS_PER_TASK")) s.gpusPerRank = *n;
  }
}

// Inside a Slurm allocation (sbatch, salloc, an srun'd shell) with no hosts named: the job runs
// on the allocation's nodes with their task counts as slots, as srun would.
void applySlurmAllocation(const std::vector<std::string>& environment, JobSpec& s) {
  if (!s.hostLists.empty() || !s.hostfile.empty() || s.localHosts || !s.poolFile.empty()) return;
  auto allocation = slurmAllocationFromEnvironment(environment);
  if (!allocation) return;
  if (s.gpusPerRank > 0) {
    throw UsageError("--gpus-per-rank inside Slurm job " + allocation->jobId +
                     ": the allocation's GPUs are Slurm's (the job's --gpus or --gres set each "
                     "node's CUDA_VISIBLE_DEVICES); ionet places GPUs on a pool only");
  }
  std::string hosts;
  for (const auto& n : allocation->nodes) {
    hosts += (hosts.empty() ? "" : ",") + n.name + ":" + std::to_string(n.tasks);
  }
  s.hostLists.push_back(hosts);
  if (!s.np && allocation->ntasks) s.np = allocation->ntasks;
  s.slurm = std::move(allocation);
}

}  // namespace

CommandLine parseCommandLine(const std::vector<std::string>& args,
                             const std::vector<std::string>& environment) {
  CommandLine result;
  JobSpec& s = result.spec;
  Flags f;
  CLI::App app("ionet-run: start an MPI program on an ionet pool, as mpirun does", "ionet-run");
  app.footer(
      "Usage: ionet-run [options] PROGRAM [ARGS...]\n"
      "mpirun's single-dash spellings (-np, -host, -mca, -wdir ...) are accepted.");
  defineOptions(app, s, f);
  const auto arity = optionArity(app);

  // Split ionet-run's options from the program; normalise -np style names to --np.
  std::vector<std::string> own;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    std::string inlineValue;
    bool hasInline = false;
    if (a.rfind("--", 0) == 0) {
      if (auto eq = a.find('='); eq != std::string::npos) {
        inlineValue = a.substr(eq + 1);
        a = a.substr(0, eq);
        hasInline = true;
      }
    } else if (a.size() > 2 && !arity.count(a) && arity.count("-" + a)) {
      a = "-" + a;  // mpirun's single-dash long option: -np, -host, -mca, -wdir ...
    }
    auto it = arity.find(a);
    if (it == arity.end()) {
      const std::string asLong = a.rfind("--", 0) == 0 ? a : "-" + a;
      if (unsupportedOptions().count(a) || unsupportedOptions().count(asLong)) {
        throw UsageError("option " + args[i] + " is not supported by ionet-run");
      }
      throw UsageError("unknown option " + args[i] + " (see ionet-run --help)");
    }
    own.push_back(a);
    int need = it->second;
    if (hasInline) {
      own.push_back(inlineValue);
      --need;
    }
    for (; need > 0; --need) {
      if (++i >= args.size()) throw UsageError("option " + a + " needs a value");
      own.push_back(args[i]);
    }
  }
  s.argv.assign(args.begin() + static_cast<std::ptrdiff_t>(std::min(i, args.size())), args.end());

  try {
    std::vector<std::string> reversed(own.rbegin(), own.rend());
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    result.exitNow = true;
    result.message = app.help();
    return result;
  } catch (const CLI::ParseError& e) {
    throw UsageError(e.what());
  }
  if (f.version) {
    result.exitNow = true;
    result.message = std::string("ionet-run (ionet) ") + IONET_VERSION + "\n";
    return result;
  }
  if (s.argv.empty()) throw UsageError("no program given (usage: ionet-run [options] PROGRAM)");

  if (app.count("--np")) s.np = f.np;
  if (app.count("--npernode")) s.perHost = f.perHost;
  if (f.pernode) s.perHost = 1;
  if (s.perHost && *s.perHost == 0) throw UsageError("-N must be at least 1");
  if (app.count("--local-hosts")) s.localHosts = f.localHosts;
  if (s.localHosts && !s.poolFile.empty()) {
    throw UsageError("--pool and --local-hosts exclude each other (a pool's hosts are real)");
  }
  s.gpusPerRank = f.gpusPerRank;
  if (app.count("--gpu-min-mem")) s.gpuMinMemoryBytes = parseSize("--gpu-min-mem", f.gpuMinMem);
  if (app.count("--timeout")) s.timeoutSeconds = f.timeout;
  if (app.count("--status-interval")) {
    if (!(f.statusInterval >= 0.1 && f.statusInterval <= 86400)) {
      throw UsageError("--status-interval must be between 0.1 and 86400 seconds");
    }
    s.statusIntervalSeconds = f.statusInterval;
  }
  if (app.count("--min-hosts")) {
    if (f.minHosts == 0) throw UsageError("--min-hosts must be at least 1");
    s.restart.minHosts = f.minHosts;
  }
  if (!(s.restart.restartDelaySeconds >= 0 && s.restart.restartDelaySeconds <= 3600)) {
    throw UsageError("--restart-delay must be between 0 and 3600 seconds");
  }
  if (!(s.restart.hostCooldownSeconds >= 0 && s.restart.hostCooldownSeconds <= 86400)) {
    throw UsageError("--host-cooldown must be between 0 and 86400 seconds");
  }
  if (!f.checkpointDir.empty()) {
    std::error_code ec;
    auto dir = std::filesystem::absolute(f.checkpointDir, ec);
    if (ec) throw UsageError("--checkpoint-dir " + f.checkpointDir + ": " + ec.message());
    s.restart.checkpointDir = dir.lexically_normal().string();
  }
  s.ncclNet = f.ncclNet == "ionet";
  s.collectives.library = f.coll == "ionet";
  s.collectives.tuneMpi = f.wanTuning == "auto";
  s.collectives.compress = f.wanCompress == "none" ? "" : f.wanCompress;
  if (!s.collectives.compress.empty() && !s.collectives.library) {
    throw UsageError("--wan-compress needs --coll ionet");
  }
  s.restart.storageGiven = app.count("--checkpoint-storage") > 0;
  if (f.checkpointStorage == "partner") {
    if (s.restart.checkpointDir.empty()) {
      throw UsageError("--checkpoint-storage partner needs --checkpoint-dir");
    }
    s.restart.storage = CheckpointStorage::kPartner;
  }
  if (!f.machinefile.empty()) {
    if (!s.hostfile.empty()) throw UsageError("give --hostfile or --machinefile, not both");
    s.hostfile = f.machinefile;
  }
  if (f.oversubscribe && f.noOversubscribe) {
    throw UsageError("--oversubscribe and --nooversubscribe contradict each other");
  }
  if (f.oversubscribe) s.oversubscribe = true;
  if (f.noOversubscribe) s.oversubscribe = false;
  applyMapBy(f.mapBy, s);
  if (f.bindTo != "none") {
    throw UsageError("--bind-to " + f.bindTo + " is not supported (ionet does not bind ranks)");
  }
  for (const auto& x : f.exports) {
    if (x.empty() || x[0] == '=') throw UsageError("-x " + x + ": missing variable name");
    if (x.find('=') != std::string::npos) {
      s.exports.push_back(x);
      continue;
    }
    if (auto value = environmentValue(environment, x)) {
      s.exports.push_back(x + "=" + *value);
    } else {
      result.warnings.push_back("-x " + x + ": not set in this environment, not exported");
    }
  }
  applyBatchJob(environment, s,
                {app.count("--checkpoint-dir") > 0, app.count("--max-restarts") > 0,
                 app.count("--gpus-per-rank") > 0});
  // After the batch job's defaults: its --gpus-per-task counts as --gpus-per-rank.
  for (const char* selector : {"--gpu-model", "--gpu-min-mem", "--gpu-min-tflops"}) {
    if (s.gpusPerRank == 0 && app.count(selector)) {
      throw UsageError(std::string(selector) + " selects GPUs: it needs --gpus-per-rank K");
    }
  }
  for (const auto& pair : f.mca) {
    if (pair.size() != 2 || pair[0].empty()) throw UsageError("--mca needs a key and a value");
    s.mca.emplace_back(pair[0], pair[1]);
  }
  applySlurmAllocation(environment, s);
  s.slurmDirectLinks = f.slurmLinks == "direct";
  // After applyBatchJob, which may name the pool or emulated hosts of the job's allocation; a
  // Slurm allocation is the job's hosts ($IONET_POOL does not replace them; --pool does).
  if (!s.slurm) poolFromEnvironment(s, environment);
  result.settings = runSettingsFromEnvironment(environment);
  if (app.count("--metrics-listen")) {
    result.settings.metricsListen =
        observe::parseListenAddress(f.metricsListen, "--metrics-listen");
  }
  return result;
}

}  // namespace ionet::launcher
