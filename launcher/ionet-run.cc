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
#include "ionet/log.h"

extern char** environ;

int main(int argc, char** argv) {
  using namespace ionet;
  log::prefix() = "ionet-run";
  ::signal(SIGPIPE, SIG_IGN);
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
    char host[256] = "localhost";
    ::gethostname(host, sizeof(host) - 1);
    const auto cores = std::max(1u, std::thread::hardware_concurrency());
    auto pool = launcher::resolvePool(cmd.spec, cores, host);
    auto placement = launcher::placeRanks(cmd.spec, pool);

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
    int status = launcher::runJob(cmd.spec, placement, settings);
    std::fflush(stdout);
    // The stdin reader may still be blocked in read(2): leave without waiting for it.
    ::_exit(status);
    return status;  // not reached
  });
}
