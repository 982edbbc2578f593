// The pool agent's way out (issue 16): 16 pool agents on the WAN emulator (25 ms one way), three
// jobs across all of them, then SIGTERM to every agent. Each must end with that signal or exit 0;
// before the fix ten of sixteen died of SIGSEGV here, closing launcher sessions while iterating
// the list their end handlers erase from. The fixture's crash watch checks the kernel's log too.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "fixture.h"
#include "wanemu.h"

namespace ionet::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kHosts = 16;

TEST_F(IonetTest, SixteenPoolAgentsStopCleanlyOnSigtermAfterJobs) {
  if (auto why = WanEmulator::unavailableReason(); !why.empty()) GTEST_SKIP() << why;
  WanOptions o;
  o.hosts = kHosts;
  o.delayMs = 25;
  WanEmulator wan(o);
  const fs::path dir = fs::temp_directory_path() / ("pool-shutdown-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string pool = (dir / "pool.toml").string();
  ASSERT_EQ(
      Command({kBin + "/ionet-agent", "--gen-psk", (dir / "pool.psk").string(), "--pool", "wide"})
          .wait(10s)
          .exitCode,
      0);
  {
    std::ofstream toml(pool);
    toml << "[pool]\nname = \"wide\"\npsk = \"pool.psk\"\n";
    for (int h = 1; h <= kHosts; ++h) {
      toml << "\n[[host]]\nname = \"h" << h << "\"\naddress = \"" << wan.address(h)
           << "\"\nslots = 1\n";
    }
  }
  std::vector<std::unique_ptr<Command>> agents;
  for (int h = 1; h <= kHosts; ++h) {
    auto args = wan.execPrefix(h);
    args.insert(args.end(), {kBin + "/ionet-agent", "--pool", pool, "--host-name",
                             "h" + std::to_string(h), "--no-gpu-check"});
    agents.push_back(
        std::make_unique<Command>(args, std::vector<std::string>{leftovers_.markerEnv()}));
  }
  auto job = [&] {
    auto argv = wan.execPrefix(1);
    argv.insert(argv.end(), {kBin + "/ionet-run", "--pool", pool, "-np", std::to_string(kHosts),
                             "-N", "1", "true"});
    return Command(argv, {leftovers_.markerEnv()}).wait(60s);
  };
  // The pool is ready when a job reaches every host (each agent registers with the launcher).
  const auto deadline = Clock::now() + 60s;
  for (int done = 0; done < 3;) {
    const auto r = job();
    if (r.finished && r.exitCode == 0) {
      ++done;
      continue;
    }
    ASSERT_EQ(done, 0) << "job " << done + 1 << " of 3 failed: " << r.err;
    ASSERT_LT(Clock::now(), deadline) << "pool not ready: " << r.err;
  }
  for (auto& a : agents) a->signal(SIGTERM);
  for (int h = 0; h < kHosts; ++h) {
    expectCleanStop("pool agent h" + std::to_string(h + 1), agents[h]->wait(20s));
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ionet::test
