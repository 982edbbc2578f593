// ionet-agent: the per-host daemon. Thin: parse the command line, run the agent library (or
// the GPU health check of the kernels library with --check-gpus).
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <thread>

#include "ionet/error.h"
#include "ionet/exit_status.h"
#include "ionet/kernels/health_check.h"
#include "ionet/launcher/agent.h"
#include "ionet/launcher/kernels_gpu_checker.h"
#include "ionet/launcher/local_pool.h"
#include "ionet/launcher/pool_daemon.h"
#include "ionet/log.h"
#include "ionet/wan/credentials.h"
#include "ionet/wan/session.h"

namespace {

// Pool credentials (docs/security.md): a pool CA, node certificates signed by it, or a PSK.
struct CredentialCommands {
  std::string genCa, issueCert, caDir, outDir, genPsk, pool;
  bool any() const { return !genCa.empty() || !issueCert.empty() || !genPsk.empty(); }
};

int runCredentialCommand(const CredentialCommands& c) {
  using namespace ionet;
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

// What the agent proves itself with: pool credentials, a pool PSK, or (an agent of the
// embedded local pool) the one-job PSK its launcher put in $IONET_AGENT_PSK.
ionet::wan::Credentials sessionCredentials(const std::string& dir, const std::string& pskFile,
                                           const std::string& node) {
  using namespace ionet;
  if (!dir.empty() && !pskFile.empty()) throw UsageError("give --credentials or --psk, not both");
  if (!dir.empty()) return wan::Credentials::loadDir(dir);
  if (!pskFile.empty()) return wan::Credentials::loadPskFile(pskFile, node);
  const char* hex = std::getenv("IONET_AGENT_PSK");
  if (hex == nullptr) throw UsageError("no credentials: give --credentials DIR or --psk FILE");
  auto c = launcher::localPoolCredentials(hex, node);
  ::unsetenv("IONET_AGENT_PSK");  // not for the ranks
  return c;
}

// Exit status: 0 when every GPU passed or there is none, 1 when one failed or the check could
// not run.
int checkGpus(const ionet::kernels::HealthCheckOptions& options, bool json) {
  try {
    const ionet::kernels::HealthReport report = ionet::kernels::checkGpus(options);
    const std::string text = json ? toJson(report) + "\n" : toTable(report);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return report.allPassed() ? 0 : 1;
  } catch (const std::exception& e) {
    ionet::log::error(e.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ionet;
  ::signal(SIGPIPE, SIG_IGN);
  // The forwarder moves ranks' bytes in buffers of 256 KiB to 1 MiB. Keep them on the heap and
  // keep the heap's free top: otherwise glibc maps, unmaps and faults in fresh pages per buffer
  // (a tenth of the data path's CPU time in perf).
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 128 << 20);
  launcher::AgentOptions options;
  std::string connect;
  CLI::App app("ionet-agent: runs the ranks of ionet jobs on this host", "ionet-agent");
  // Required unless --check-gpus: checked below, CLI11 cannot express "unless".
  app.add_option("--connect", connect, "Launcher to serve, HOST:PORT (required to serve a job)");
  app.add_option("--host-name", options.hostName,
                 "Name of this host in the job (required to serve a job)");
  app.add_option("--token", options.token,
                 "Token the launcher expects back (default: $IONET_AGENT_TOKEN)");
  app.add_option("--address", options.address, "Address ranks of other hosts reach us at");
  std::string credentialsDir, pskFile;
  app.add_option("--credentials", credentialsDir,
                 "Pool credentials directory (ca.pem, node.pem, node.key) for the sessions");
  app.add_option("--psk", pskFile, "Pool PSK file for the sessions (instead of --credentials)");
  app.add_option("--data-listen", options.dataListen,
                 "Address the data forwarder accepts other agents' sessions on (default "
                 "127.0.0.1)");
  unsigned deadPeerMs = 0;
  app.add_option("--dead-peer-timeout", deadPeerMs,
                 "Milliseconds without any connection before a session is given up (default "
                 "60000)");
  app.add_option("--data-park-at", options.dataParkAt,
                 "Also accept data sessions through this relay, RELAYHOST:PORT/NAME");
  bool gpuCheck = false, json = false;
  kernels::HealthCheckOptions gpuOptions;
  auto* gpuCheckFlag = app.add_flag(
      "--check-gpus", gpuCheck,
      "Check this host's GPUs (memory, compute, copy bandwidth), print a report and exit: 0 when "
      "all pass or there is no GPU, 1 when one fails");
  app.add_option(
         "--gpu-mem-fraction", gpuOptions.memFraction,
         "With --check-gpus, or for the check a pool agent runs before it offers its GPUs: "
         "fraction of each GPU's free memory to test, 0 to 1 (default 0.8; 0 skips the memory "
         "test)")
      ->check(CLI::Range(0.0, 1.0));
  bool noGpuCheck = false;
  auto* noGpuCheckFlag =
      app.add_flag("--no-gpu-check", noGpuCheck,
                   "With --pool: offer this host's GPUs without the health check (they cannot meet "
                   "ionet-run --gpu-min-tflops)");
  noGpuCheckFlag->excludes(gpuCheckFlag);
  app.add_flag("--json", json, "With --check-gpus: print the report as JSON")->needs(gpuCheckFlag);
  CredentialCommands credentials;
  auto* genCa = app.add_option("--gen-ca", credentials.genCa,
                               "Create a pool CA in DIR (with --pool NAME) and exit");
  auto* issue =
      app.add_option("--issue-cert", credentials.issueCert,
                     "Issue a certificate for node NAME (with --ca DIR --out DIR) and exit");
  auto* genPsk =
      app.add_option("--gen-psk", credentials.genPsk,
                     "Write a new pool pre-shared key to FILE (with --pool NAME) and exit");
  genCa->excludes(issue)->excludes(genPsk)->excludes(gpuCheckFlag);
  issue->excludes(genPsk)->excludes(gpuCheckFlag);
  genPsk->excludes(gpuCheckFlag);
  app.add_option("--pool", credentials.pool,
                 "Serve the pool defined in FILE (pool.toml) as host --host-name (default: this "
                 "machine's hostname); with --gen-ca/--gen-psk: the pool's NAME");
  app.add_option("--ca", credentials.caDir, "Pool CA directory, for --issue-cert")->needs(issue);
  app.add_option("--out", credentials.outDir, "Output directory, for --issue-cert")->needs(issue);
  bool version = false;
  app.add_flag("-V,--version", version, "Show the version and exit");
  auto showVersion = [] {
    std::printf("ionet-agent (ionet) %s\n", IONET_VERSION);
    return 0;
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (version) return showVersion();
    return app.exit(e);
  }
  if (version) return showVersion();
  log::prefix() = "ionet-agent";
  if (gpuCheck) return checkGpus(gpuOptions, json);
  if (credentials.any()) return runCredentialCommand(credentials);
  if (!credentials.pool.empty() && connect.empty()) {
    if (options.hostName.empty()) {
      char host[256] = "";
      ::gethostname(host, sizeof(host) - 1);
      options.hostName = host;
    }
    log::prefix() = "ionet-agent[" + options.hostName + "]";
    return exitStatusOf([&] {
      launcher::PoolDaemonOptions d;
      d.poolFile = credentials.pool;
      d.nodeName = options.hostName;
      d.agentPath = launcher::defaultAgentPath();
      if (!noGpuCheck) d.checkGpus = launcher::kernelsGpuChecker(gpuOptions);
      if (const char* tmp = std::getenv("IONET_TMPDIR")) d.scratchRoot = tmp;
      return launcher::runPoolDaemon(d);
    });
  }
  const char* missing = connect.empty()            ? "--connect"
                        : options.hostName.empty() ? "--host-name"
                                                   : nullptr;
  if (missing != nullptr) {
    std::fprintf(stderr,
                 "%s is required (unless --check-gpus, --gen-ca, --issue-cert or --gen-psk)\n"
                 "Run with --help for more information.\n",
                 missing);
    return 2;
  }
  log::prefix() = "ionet-agent[" + options.hostName + "]";
  if (options.token.empty()) {
    if (const char* t = std::getenv("IONET_AGENT_TOKEN")) options.token = t;
    ::unsetenv("IONET_AGENT_TOKEN");  // not for the ranks
  }
  options.launcher = connect;
  if (deadPeerMs > 0) options.session.setDeadPeerTimeout(std::chrono::milliseconds(deadPeerMs));
  try {
    wan::Endpoint::parse(connect);
    options.credentials = sessionCredentials(credentialsDir, pskFile, options.hostName);
  } catch (const std::exception& e) {
    log::error(e.what());
    return 2;
  }
  const char* tmp = std::getenv("IONET_TMPDIR");
  const char* shm = std::getenv("IONET_SHMDIR");
  options.tmpRoot = tmp ? tmp : "/tmp";
  options.shmRoot = shm ? shm : "/dev/shm";
  try {
    launcher::Agent agent(options);
    return agent.run();
  } catch (const std::exception& e) {
    log::error(e.what());
    return 1;
  }
}
