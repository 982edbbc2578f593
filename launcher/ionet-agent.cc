// ionet-agent: the per-host daemon. Thin: parse the command line, run the agent library (or
// the GPU health check of the kernels library with --check-gpus).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <thread>

#include "ionet/error.h"
#include "ionet/exit_status.h"
#include "ionet/kernels/health_check.h"
#include "ionet/launcher/agent.h"
#include "ionet/log.h"
#include "ionet/wan/credentials.h"

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
  bool gpuCheck = false, json = false;
  kernels::HealthCheckOptions gpuOptions;
  auto* gpuCheckFlag = app.add_flag(
      "--check-gpus", gpuCheck,
      "Check this host's GPUs (memory, compute, copy bandwidth), print a report and exit: 0 when "
      "all pass or there is no GPU, 1 when one fails");
  app.add_option(
         "--gpu-mem-fraction", gpuOptions.memFraction,
         "With --check-gpus: fraction of each GPU's free memory to test, 0 to 1 (default 0.8; "
         "0 skips the memory test)")
      ->check(CLI::Range(0.0, 1.0))
      ->needs(gpuCheckFlag);
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
  app.add_option("--pool", credentials.pool, "Pool name, for --gen-ca and --gen-psk");
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
  auto colon = connect.rfind(':');
  if (colon == std::string::npos) {
    log::error("--connect ", connect, ": expected HOST:PORT");
    return 2;
  }
  options.launcherHost = connect.substr(0, colon);
  options.launcherPort = static_cast<std::uint16_t>(std::atoi(connect.c_str() + colon + 1));
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
