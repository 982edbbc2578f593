// A pool of network-namespace hosts shared by a test suite: the emulated WAN, a directory with
// the pool's PSK and pool.toml, and a pool agent (ionet-agent --pool) in each host. The suites
// of real pools (pool_test, pool_metrics_test, web_view_test) make one in SetUpTestSuite.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fixture.h"
#include "wanemu.h"

namespace ionet::test {

struct EmulatedPool {
  std::unique_ptr<WanEmulator> wan;
  std::string dir;                                 // removed with the pool
  std::string poolFile;                            // dir/pool.toml
  std::map<int, std::unique_ptr<Command>> agents;  // by host number (1..N)

  // The WAN up, dir made (temp/NAME-PID) with a PSK for pool "lab". Throws as WanEmulator does.
  EmulatedPool(const WanOptions& options, const std::string& name)
      : wan(std::make_unique<WanEmulator>(options)),
        dir(std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))),
        poolFile(dir + "/pool.toml") {
    std::filesystem::create_directories(dir);
    Command({kBin + "/ionet-agent", "--gen-psk", dir + "/pool.psk", "--pool", "lab"})
        .wait(std::chrono::seconds(10));
  }

  // Stops every agent (each must stop cleanly on SIGTERM) and removes dir.
  ~EmulatedPool() {
    for (auto& [host, agent] : agents) {
      agent->signal(SIGTERM);
      expectCleanStop("pool agent h" + std::to_string(host), agent->wait(std::chrono::seconds(10)));
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  // pool.toml's [pool] table for pool "lab" with its PSK and a 4 s heartbeat timeout, then
  // `more` (further keys, then the [[host]] tables).
  void writePoolFile(const std::string& more) const {
    std::ofstream(poolFile) << "[pool]\nname = \"lab\"\npsk = \"pool.psk\"\n"
                            << "heartbeat_timeout = \"4s\"\n"
                            << more;
  }

  // ionet-agent --pool in host h (replacing one that ran there). Emulated hosts share this
  // machine's GPUs, if it has any: not theirs to check once each.
  Command& startAgent(int h, const std::vector<std::string>& extraArgs = {}) {
    auto args = wan->execPrefix(h);
    args.insert(args.end(), {kBin + "/ionet-agent", "--pool", poolFile, "--host-name",
                             "h" + std::to_string(h), "--no-gpu-check"});
    args.insert(args.end(), extraArgs.begin(), extraArgs.end());
    agents[h] = std::make_unique<Command>(args);
    return *agents[h];
  }
};

}  // namespace ionet::test
