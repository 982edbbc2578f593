// pool.direct_sites: ranks on two hosts of one trusted site dial each other at their real
// addresses, kernel to kernel; a third host, outside the site, is still reached through the
// agents' sessions. Three hosts as network namespaces through the WAN emulator.
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>

#include "fixture.h"
#include "wanemu.h"

namespace ionet::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST_F(IonetTest, DirectSiteRanksDialEachOtherAndOthersGoThroughTheAgents) {
  const std::string why = WanEmulator::unavailableReason();
  if (!why.empty()) GTEST_SKIP() << why;
  WanOptions o;
  o.hosts = 3;
  WanEmulator wan(o);
  const std::string dir = fs::temp_directory_path() / ("directsite-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { fs::remove_all(dir); }
  } cleanup{dir};
  Command({kBin + "/ionet-agent", "--gen-psk", dir + "/pool.psk", "--pool", "lab"}).wait(10s);
  std::ofstream(dir + "/pool.toml") << "[pool]\nname = \"lab\"\npsk = \"pool.psk\"\n"
                                    << "direct_sites = [\"rack1\"]\n\n"
                                    << "[[host]]\nname = \"h1\"\naddress = \"" << wan.address(1)
                                    << "\"\nsite = \"rack1\"\nslots = 1\n\n"
                                    << "[[host]]\nname = \"h2\"\naddress = \"" << wan.address(2)
                                    << "\"\nsite = \"rack1\"\nslots = 1\n\n"
                                    << "[[host]]\nname = \"h3\"\naddress = \"" << wan.address(3)
                                    << "\"\nsite = \"far\"\nslots = 1\n";
  std::vector<std::unique_ptr<Command>> agents;
  for (int h = 1; h <= 3; ++h) {
    auto args = wan.execPrefix(h);
    // Emulated hosts share this machine's GPUs, if it has any: not theirs to check three times.
    args.insert(args.end(), {kBin + "/ionet-agent", "--pool", dir + "/pool.toml", "--host-name",
                             "h" + std::to_string(h), "--no-gpu-check"});
    agents.push_back(
        std::make_unique<Command>(args, std::vector<std::string>{leftovers_.markerEnv()}));
  }
  auto inPool = [&](std::vector<std::string> args) {
    auto argv = wan.execPrefix(1);
    argv.insert(argv.end(), {kBin + "/ionet-run", "--pool", dir + "/pool.toml"});
    argv.insert(argv.end(), args.begin(), args.end());
    return Command(argv, {leftovers_.markerEnv()}).wait(120s);
  };
  ASSERT_TRUE(waitUntil(
      [&] {
        return inPool({"-np", "3", "-N", "1", "true"}).exitCode == 0;
      },
      60s));
  auto r =
      inPool({"-np", "3", "-N", "1", "-x", "IONET_SHIM_DEBUG=1", example("allreduce"), "65536"});
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("allreduce OK ranks=3"), std::string::npos) << r.out << r.err;
  // h1 and h2 (100.64.0.1, .2) dial each other directly; h3 (.3) is dialled, and dials, through
  // the forwarders.
  int direct = 0, forwarded = 0;
  const std::regex line("ionet-shim: connect (100\\.64\\.0\\.\\d):\\d+ (direct|via forwarder): ok");
  for (std::sregex_iterator it(r.err.begin(), r.err.end(), line), end; it != end; ++it) {
    const std::string to = (*it)[1], how = (*it)[2];
    if (how == "direct") {
      ++direct;
      EXPECT_NE(to, "100.64.0.3") << r.err;
    } else {
      ++forwarded;
    }
  }
  EXPECT_GE(direct, 1) << r.err;
  EXPECT_GE(forwarded, 1) << r.err;
  // The accepting ranks took the dialling shims' preambles.
  EXPECT_GE(countContaining(r.err, "direct: ok") - direct, 1) << r.err;

  // NCCL in the mixed job (ranks in a ring, h1 -> h2 -> h3 -> h1): the plugin connects h1 to h2
  // straight over TCP, and the connections with h3 through the agents; every byte checked.
  const std::string harness = IONET_BUILD_DIR "/tests/nccl_net_harness";
  auto n = inPool({"-np", "3", "-N", "1", harness});
  EXPECT_FINISHED(n);
  EXPECT_EQ(n.exitCode, 0) << n.out << n.err;
  for (const char* rank : {"0", "1", "2"}) {
    EXPECT_NE(n.out.find(std::string("nccl-net-harness OK rank=") + rank + " abi=11 messages=325"),
              std::string::npos)
        << n.out << n.err;
  }
  EXPECT_NE(n.err.find("send comm to 100.64.0.2: direct (same site)"), std::string::npos) << n.err;
  EXPECT_NE(n.err.find("send comm to 100.64.0.3: through the agents"), std::string::npos) << n.err;
  EXPECT_NE(n.err.find("send comm to 100.64.0.1: through the agents"), std::string::npos) << n.err;
  // A job of the site's hosts only keeps NCCL on its own transports: no plugin.
  auto site = inPool({"-H", "h1,h2", "-np", "2", "-N", "1", "sh", "-c",
                      "echo \"plugin=${NCCL_NET_PLUGIN:-none} net=${NCCL_NET:-none}\""});
  EXPECT_EQ(site.exitCode, 0) << site.err;
  EXPECT_EQ(countContaining(site.out, "plugin=none net=none"), 2) << site.out;
  for (auto& a : agents) {
    a->signal(SIGTERM);
    expectCleanStop("pool agent", a->wait(10s));
  }
}

}  // namespace
}  // namespace ionet::test
