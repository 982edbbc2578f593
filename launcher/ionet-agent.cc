// ionet-agent: the per-host daemon. Thin: parse the command line, run the agent library.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <thread>

#include "ionet/error.h"
#include "ionet/launcher/agent.h"
#include "ionet/log.h"

int main(int argc, char** argv) {
  using namespace ionet;
  ::signal(SIGPIPE, SIG_IGN);
  launcher::AgentOptions options;
  std::string connect;
  CLI::App app("ionet-agent: runs the ranks of ionet jobs on this host", "ionet-agent");
  app.add_option("--connect", connect, "Launcher to serve, HOST:PORT")->required();
  app.add_option("--host-name", options.hostName, "Name of this host in the job")->required();
  app.add_option("--token", options.token,
                 "Token the launcher expects back (default: $IONET_AGENT_TOKEN)");
  app.add_option("--address", options.address, "Address ranks of other hosts reach us at");
  bool version = false;
  app.add_flag("-V,--version", version, "Show the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (version) {
      std::printf("ionet-agent (ionet) %s\n", IONET_VERSION);
      return 0;
    }
    return app.exit(e);
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
