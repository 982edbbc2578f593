// ionet-run: mpirun's interface, ionet's launcher. Thin: parse, run, map to an exit status.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "ionet/exit_status.h"
#include "ionet/log.h"
#include "run/cli.h"
#include "run/run_command.h"

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
    const int status = launcher::runCommandLine(cmd);
    std::fflush(stdout);
    // The stdin reader may still be blocked in read(2): leave without waiting for it.
    ::_exit(status);
    return status;  // not reached
  });
}
