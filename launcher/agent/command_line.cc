#include "agent/command_line.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "common/agent_process.h"
#include "ionet/error.h"
#include "ionet/exit_status.h"
#include "ionet/log.h"
#include "ionet/wan/session.h"
#include "poold/kernels_gpu_checker.h"
#include "poold/pool_metrics_endpoint.h"

namespace ionet::launcher {
namespace {

// What the agent proves itself with: pool credentials, a pool PSK, or (an agent of the
// embedded local pool) the one-job PSK its launcher put in $IONET_AGENT_PSK.
wan::Credentials sessionCredentials(const std::string& dir, const std::string& pskFile,
                                    const std::string& node) {
  if (!dir.empty() && !pskFile.empty()) throw UsageError("give --credentials or --psk, not both");
  if (!dir.empty()) return wan::Credentials::loadDir(dir);
  if (!pskFile.empty()) return wan::Credentials::loadPskFile(pskFile, node);
  const char* hex = std::getenv("IONET_AGENT_PSK");
  if (hex == nullptr) throw UsageError("no credentials: give --credentials DIR or --psk FILE");
  auto c = localPoolCredentials(hex, node);
  ::unsetenv("IONET_AGENT_PSK");  // not for the ranks
  return c;
}

void addOptions(CLI::App& app, AgentCommandLine& c, bool& version) {
  // Required unless another mode: checked after the parse, CLI11 cannot express "unless".
  app.add_option("--connect", c.connect, "Launcher to serve, HOST:PORT (required to serve a job)");
  app.add_option("--host-name", c.job.hostName,
                 "Name of this host in the job (required to serve a job)");
  app.add_option("--host-name-from-env", c.hostNameVariable,
                 "Take the host name from this environment variable (under srun: "
                 "SLURMD_NODENAME, Slurm's node name)");
  app.add_option("--token", c.job.token,
                 "Token the launcher expects back (default: $IONET_AGENT_TOKEN)");
  app.add_option("--address", c.job.address, "Address ranks of other hosts reach us at");
  app.add_option("--credentials", c.credentialsDir,
                 "Pool credentials directory (ca.pem, node.pem, node.key) for the sessions");
  app.add_option("--psk", c.pskFile, "Pool PSK file for the sessions (instead of --credentials)");
  app.add_option("--data-listen", c.job.dataListen,
                 "Address the data forwarder accepts other agents' sessions on (default "
                 "127.0.0.1)");
  app.add_option("--dead-peer-timeout", c.deadPeerMs,
                 "Milliseconds without any connection before a session is given up (default "
                 "60000)");
  app.add_option("--data-park-at", c.job.dataParkAt,
                 "Also accept data sessions through this relay, RELAYHOST:PORT/NAME");
  auto* gpuCheckFlag = app.add_flag(
      "--check-gpus", c.checkGpus,
      "Check this host's GPUs (memory, compute, copy bandwidth), print a report and exit: 0 when "
      "all pass or there is no GPU, 1 when one fails");
  app.add_option(
         "--gpu-mem-fraction", c.gpu.memFraction,
         "With --check-gpus, or for the check a pool agent runs before it offers its GPUs: "
         "fraction of each GPU's free memory to test, 0 to 1 (default 0.8; 0 skips the memory "
         "test)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_flag("--no-gpu-check", c.noGpuCheck,
               "With --pool: offer this host's GPUs without the health check (they cannot meet "
               "ionet-run --gpu-min-tflops)")
      ->excludes(gpuCheckFlag);
  app.add_flag("--json", c.json, "With --check-gpus: print the report as JSON")
      ->needs(gpuCheckFlag);
  auto& k = c.credentials;
  auto* genCa =
      app.add_option("--gen-ca", k.genCa, "Create a pool CA in DIR (with --pool NAME) and exit");
  auto* issue =
      app.add_option("--issue-cert", k.issueCert,
                     "Issue a certificate for node NAME (with --ca DIR --out DIR) and exit");
  auto* genPsk = app.add_option(
      "--gen-psk", k.genPsk, "Write a new pool pre-shared key to FILE (with --pool NAME) and exit");
  genCa->excludes(issue)->excludes(genPsk)->excludes(gpuCheckFlag);
  issue->excludes(genPsk)->excludes(gpuCheckFlag);
  genPsk->excludes(gpuCheckFlag);
  app.add_option("--pool", k.pool,
                 "Serve the pool defined in FILE (pool.toml) as host --host-name (default: this "
                 "machine's hostname); with --gen-ca/--gen-psk: the pool's NAME");
  app.add_option("--metrics-listen", c.pool.metricsListen,
                 "With --pool: serve Prometheus metrics on http://ADDR:PORT/metrics (PORT alone: "
                 "127.0.0.1; 0: any free port); overrides the pool file's metrics_listen");
  app.add_option("--ca", k.caDir, "Pool CA directory, for --issue-cert")->needs(issue);
  app.add_option("--out", k.outDir, "Output directory, for --issue-cert")->needs(issue);
  app.add_flag("-V,--version", version, "Show the version and exit");
}

AgentCommandLine exitWith(AgentCommandLine c, int status) {
  c.mode = AgentMode::kExit;
  c.exitStatus = status;
  return c;
}

}  // namespace

AgentCommandLine parseAgentCommandLine(int argc, const char* const* argv,
                                       const std::string& hostName) {
  AgentCommandLine c;
  bool version = false;
  CLI::App app("ionet-agent: runs the ranks of ionet jobs on this host", "ionet-agent");
  addOptions(app, c, version);
  auto showVersion = [] {
    std::printf("ionet-agent (ionet) %s\n", IONET_VERSION);
    return 0;
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (version) return exitWith(std::move(c), showVersion());
    return exitWith(std::move(c), app.exit(e));
  }
  if (version) return exitWith(std::move(c), showVersion());
  if (c.checkGpus) {
    c.mode = AgentMode::kCheckGpus;
  } else if (c.credentials.any()) {
    c.mode = AgentMode::kCredentials;
  } else if (!c.credentials.pool.empty() && c.connect.empty()) {
    c.mode = AgentMode::kPoolAgent;
    if (c.job.hostName.empty()) c.job.hostName = hostName;
    c.gpuCheckBeforeOffering = !c.noGpuCheck;
    c.pool.poolFile = c.credentials.pool;
    c.pool.nodeName = c.job.hostName;
  } else {
    if (!c.hostNameVariable.empty() && c.job.hostName.empty()) {
      const char* name = std::getenv(c.hostNameVariable.c_str());
      if (name == nullptr || *name == '\0') {
        std::fprintf(stderr, "--host-name-from-env %s: the variable is not set\n",
                     c.hostNameVariable.c_str());
        return exitWith(std::move(c), 2);
      }
      c.job.hostName = name;
    }
    const char* missing = c.connect.empty()        ? "--connect"
                          : c.job.hostName.empty() ? "--host-name"
                                                   : nullptr;
    if (missing != nullptr) {
      std::fprintf(stderr,
                   "%s is required (unless --check-gpus, --gen-ca, --issue-cert or --gen-psk)\n"
                   "Run with --help for more information.\n",
                   missing);
      return exitWith(std::move(c), 2);
    }
    c.mode = AgentMode::kJobAgent;
  }
  if (!c.pool.metricsListen.empty() && c.mode != AgentMode::kPoolAgent) {
    std::fprintf(stderr, "--metrics-listen is for the pool agent (--pool FILE, no --connect)\n");
    return exitWith(std::move(c), 2);
  }
  return c;
}

int runJobAgent(AgentCommandLine& c) {
  AgentOptions& options = c.job;
  log::prefix() = "ionet-agent[" + options.hostName + "]";
  if (options.token.empty()) {
    if (const char* t = std::getenv("IONET_AGENT_TOKEN")) options.token = t;
    ::unsetenv("IONET_AGENT_TOKEN");  // not for the ranks
  }
  options.launcher = c.connect;
  if (c.deadPeerMs > 0) {
    options.session.setDeadPeerTimeout(std::chrono::milliseconds(c.deadPeerMs));
  }
  try {
    wan::Endpoint::parse(c.connect);
    options.credentials = sessionCredentials(c.credentialsDir, c.pskFile, options.hostName);
  } catch (const std::exception& e) {
    log::error(e.what());
    return 2;
  }
  const char* tmp = std::getenv("IONET_TMPDIR");
  const char* shm = std::getenv("IONET_SHMDIR");
  if (const char* stats = std::getenv(kAgentStatsFileVariable)) options.statsFile = stats;
  ::unsetenv(kAgentStatsFileVariable);  // not for the ranks
  options.tmpRoot = tmp ? tmp : "/tmp";
  options.shmRoot = shm ? shm : "/dev/shm";
  try {
    Agent agent(options);
    return agent.run();
  } catch (const std::exception& e) {
    log::error(e.what());
    return 1;
  }
}

int runPoolAgent(AgentCommandLine& c) {
  log::prefix() = "ionet-agent[" + c.pool.nodeName + "]";
  return exitStatusOf([&] {
    c.pool.agentPath = defaultAgentPath();
    if (c.gpuCheckBeforeOffering) c.pool.checkGpus = kernelsGpuChecker(c.gpu);
    if (const char* tmp = std::getenv("IONET_TMPDIR")) c.pool.scratchRoot = tmp;
    return runPoolDaemon(c.pool);
  });
}

// Exit status: 0 when every GPU passed or there is none, 1 when one failed or the check could
// not run.
int checkGpus(const kernels::HealthCheckOptions& options, bool json) {
  try {
    const kernels::HealthReport report = kernels::checkGpus(options);
    const std::string text = json ? toJson(report) + "\n" : toTable(report);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return report.allPassed() ? 0 : 1;
  } catch (const std::exception& e) {
    log::error(e.what());
    return 1;
  }
}

int runCredentialCommand(const CredentialCommands& c) {
  return exitStatusOf([&] {
    if (!c.genCa.empty()) {
      if (c.pool.empty()) throw UsageError("--gen-ca needs --pool NAME");
      wan::generatePoolCa(c.genCa, c.pool);
      std::printf("pool CA for '%s' written to %s (keep ca.key secret)\n", c.pool.c_str(),
                  c.genCa.c_str());
    } else if (!c.issueCert.empty()) {
      if (c.caDir.empty() || c.outDir.empty()) {
        throw UsageError("--issue-cert needs --ca DIR and --out DIR");
      }
      wan::issueNodeCertificate(c.caDir, c.outDir, c.issueCert);
      std::printf("certificate for node '%s' written to %s\n", c.issueCert.c_str(),
                  c.outDir.c_str());
    } else {
      if (c.pool.empty()) throw UsageError("--gen-psk needs --pool NAME");
      wan::generatePoolPsk(c.genPsk, c.pool);
      std::printf("pool PSK for '%s' written to %s\n", c.pool.c_str(), c.genPsk.c_str());
    }
    return 0;
  });
}

}  // namespace ionet::launcher
