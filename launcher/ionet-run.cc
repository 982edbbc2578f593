// ionet-run: mpirun's interface, ionet's launcher. Thin: parse, place, run, map to exit code.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <thread>

#include "ionet/error.h"
#include "ionet/exit_status.h"
#include "ionet/launcher/cli.h"
#include "ionet/launcher/job_run.h"
#include "ionet/launcher/local_pool.h"
#include "ionet/launcher/placement.h"
#include "ionet/launcher/pool_file.h"
#include "ionet/launcher/remote_pool.h"
#include "ionet/launcher/restart.h"
#include "ionet/log.h"

extern char** environ;

int main(int argc, char** argv) {
  using namespace ionet;
  log::prefix() = "ionet-run";
  ::signal(SIGPIPE, SIG_IGN);
  // SIGUSR1/SIGUSR2 are for the ranks (a batch job's --signal): a run forwards them; before the
  // ranks start and between restarts they must not end ionet-run.
  ::signal(SIGUSR1, SIG_IGN);
  ::signal(SIGUSR2, SIG_IGN);
  std::vector<std::string> environment;
  for (char** e = environ; *e; ++e) environment.emplace_back(*e);
  return exitStatusOf([&] {
    auto cmd = launcher::parseCommandLine({argv + 1, argv + argc}, environment);
    if (cmd.exitNow) {
      std::cout << cmd.message << std::flush;
      return 0;
    }
    if (!cmd.spec.quiet) {
      for (const auto& w : cmd.warnings) log::warn(w);
    }
    launcher::RunSettings settings;
    settings.agentPath = launcher::defaultAgentPath();
    if (const char* g = std::getenv("IONET_KILL_GRACE_MS")) {
      char* end = nullptr;
      const long ms = std::strtol(g, &end, 10);
      if (*g == '\0' || *end != '\0' || ms < 1 || ms > 600000) {
        throw UsageError(std::string("IONET_KILL_GRACE_MS=") + g +
                         ": expected milliseconds between 1 and 600000");
      }
      settings.killGraceMs = static_cast<unsigned>(ms);
    }
    if (const char* d = std::getenv("IONET_DATA_PATH")) {
      const std::string v = d;
      if (v != "ionet" && v != "direct") {
        throw UsageError("IONET_DATA_PATH=" + v + ": expected 'ionet' or 'direct'");
      }
      settings.dataPath = v == "ionet";
    }
    if (const char* t = std::getenv("IONET_TREE_FANOUT")) {
      char* end = nullptr;
      const long fanout = std::strtol(t, &end, 10);
      if (*t == '\0' || *end != '\0' || fanout < 0 || fanout > 65536) {
        throw UsageError(std::string("IONET_TREE_FANOUT=") + t +
                         ": expected a number of children between 0 (no tree) and 65536");
      }
      settings.treeFanout = static_cast<unsigned>(fanout);
    }
    if (cmd.spec.poolFile.empty()) {
      if (const char* p = std::getenv("IONET_POOL"); p && *p && !cmd.spec.localHosts) {
        cmd.spec.poolFile = p;
      }
    }
    int status = 0;
    if (!cmd.spec.poolFile.empty()) {
      // A pool of real hosts: ask their pool agents what they offer, place, run there.
      asio::io_context io;
      const auto poolFile = launcher::loadPoolFile(cmd.spec.poolFile);
      // Without a shared filesystem, checkpoint sets are kept at partner hosts.
      if (!cmd.spec.restart.storageGiven && !poolFile.sharedCheckpointDir &&
          !cmd.spec.restart.checkpointDir.empty()) {
        cmd.spec.restart.storage = launcher::CheckpointStorage::kPartner;
      }
      launcher::RemotePool remote(io, poolFile);
      const auto answered = remote.discover(std::chrono::seconds(10));
      launcher::requireAllocatedHosts(cmd.spec, answered);
      auto pool = launcher::restrictPool(answered, cmd.spec);
      status = launcher::runWithRestarts(
          cmd.spec, pool, [&](const launcher::JobSpec& spec, const launcher::Placement& placement) {
            io.restart();
            return launcher::runJob(spec, placement, settings, remote, io);
          });
    } else {
      char host[256] = "localhost";
      ::gethostname(host, sizeof(host) - 1);
      const auto cores = std::max(1u, std::thread::hardware_concurrency());
      auto pool = launcher::resolvePool(cmd.spec, cores, host);
      status = launcher::runWithRestarts(
          cmd.spec, pool, [&](const launcher::JobSpec& spec, const launcher::Placement& placement) {
            return launcher::runJob(spec, placement, settings);
          });
    }
    std::fflush(stdout);
    // The stdin reader may still be blocked in read(2): leave without waiting for it.
    ::_exit(status);
    return status;  // not reached
  });
}
