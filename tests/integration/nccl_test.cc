// NCCL through ionet on emulated hosts: the real libnccl-net-ionet.so, loaded and driven as
// NCCL does by tests/nccl/nccl_net_harness, its bytes carried by the real agents' sessions; and
// what ionet-run sets in the ranks for NCCL. (Across NAT, resets and a killed agent:
// pool_test.cc. With a GPU and real NCCL: scripts/gpu-check.sh.)
#include <map>
#include <regex>
#include <set>

#include "fixture.h"

namespace ionet::test {
namespace {

const std::string kHarness = IONET_BUILD_DIR "/tests/nccl_net_harness";
const std::string kPlugin = IONET_BUILD_DIR "/lib/libnccl-net-ionet.so";

class NcclTest : public IonetTest, public ::testing::WithParamInterface<int> {};

TEST_P(NcclTest, HarnessChecksEveryByteOnTwoLocalHosts) {
  // Sizes 0 B..4 MiB (127/128/129, 64 KiB +-1, 1 MiB +-1), windows of 1..32 requests, receives
  // larger than the message, preset request pointers, the 33rd request refused, closing with
  // 32 receives in flight, finalize after a failed init; both ranks send and receive at once.
  const std::string abi = std::to_string(GetParam());
  auto r = ionetRun({"--local-hosts", "2", "-np", "2", "-N", "1", kHarness, "--abi", abi}, {}, "",
                    std::chrono::seconds(120));
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  for (const char* rank : {"0", "1"}) {
    EXPECT_NE(r.out.find(std::string("nccl-net-harness OK rank=") + rank + " abi=" + abi +
                         " messages=325 bytes=67517185"),
              std::string::npos)
        << r.out << r.err;
  }
  // The handle went through the agents: no rank connected to another directly.
  EXPECT_NE(r.err.find("NET/ionet : using the ionet agent at @ionet-nccl-"), std::string::npos)
      << r.err;
}

INSTANTIATE_TEST_SUITE_P(Abi, NcclTest, ::testing::Values(11, 10, 9, 8),
                         [](const auto& info) { return "v" + std::to_string(info.param); });

// The plugin and the harness built with AddressSanitizer / ThreadSanitizer (tests/nccl), the
// same plan as a job: a report fails the rank (ASan aborts, TSan exits 66).
class NcclSanitizerTest : public IonetTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(NcclSanitizerTest, HarnessPassesWithTheSanitizedPlugin) {
  const std::string sanitizer = GetParam();
  const std::string harness = kHarness + "_" + sanitizer;
  const std::string plugin = IONET_BUILD_DIR "/lib/libnccl-net-ionet-" + sanitizer + ".so";
  if (!std::filesystem::exists(harness)) GTEST_SKIP() << "not built (IONET_SANITIZE build)";
  // The shim is preloaded ahead of the sanitizer's runtime; ASan's check of that is off.
  auto r = ionetRun({"--local-hosts", "2", "-np", "2", "-N", "1", "-x", "NCCL_NET_PLUGIN=" + plugin,
                     "-x", "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1", "-x",
                     "TSAN_OPTIONS=halt_on_error=1", harness},
                    {}, "", std::chrono::seconds(240));
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(r.err.find("Sanitizer"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("nccl-net-harness OK rank=0 abi=11 messages=325"), std::string::npos)
      << r.out << r.err;
  EXPECT_NE(r.out.find("nccl-net-harness OK rank=1 abi=11 messages=325"), std::string::npos)
      << r.out << r.err;
}

INSTANTIATE_TEST_SUITE_P(Sanitizer, NcclSanitizerTest, ::testing::Values("address", "thread"),
                         [](const auto& info) { return info.param; });

TEST_F(IonetTest, NcclMessageLargerThanItsReceiveIsAnErrorNotAHang) {
  auto r = ionetRun({"--local-hosts", "2", "-np", "2", "-N", "1", kHarness, "--too-large"});
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  // ncclInvalidUsage (5), as NCCL's own socket transport answers it.
  EXPECT_NE(r.out.find("too-large message: test returned 5"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.err.find("a 1000-byte message arrived for a 999-byte receive"), std::string::npos)
      << r.err;
}

// What a rank of each host sees, "host: NAME=value" lines.
std::map<std::string, std::map<std::string, std::string>> ncclEnvironment(const std::string& out) {
  std::map<std::string, std::map<std::string, std::string>> seen;
  std::regex line(R"(\[1,(\d)\]<stdout>:((?:NCCL|IONET)_[A-Z_]+)=(.*))");
  for (std::sregex_iterator it(out.begin(), out.end(), line), end; it != end; ++it) {
    seen[(*it)[1]][(*it)[2]] = (*it)[3];
  }
  return seen;
}

const std::vector<std::string> kPrintNcclEnv = {
    "/bin/sh", "-c", "env | grep -E '^(NCCL_|IONET_NCCL_AGENT|IONET_VADDR)' | sort"};

TEST_F(IonetTest, IonetRunSetsNcclUpForAJobOfTwoHosts) {
  std::vector<std::string> args = {"--local-hosts", "2", "-np", "2", "-N", "1", "--tag-output"};
  args.insert(args.end(), kPrintNcclEnv.begin(), kPrintNcclEnv.end());
  auto r = ionetRun(args);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto env = ncclEnvironment(r.out);
  ASSERT_EQ(env.size(), 2u) << r.out;
  std::set<std::string> hostIds, agents;
  for (auto& [rank, vars] : env) {
    EXPECT_EQ(vars["NCCL_NET_PLUGIN"], kPlugin) << "rank " << rank;
    EXPECT_EQ(vars["NCCL_NET"], "ionet");
    EXPECT_EQ(vars["NCCL_SOCKET_IFNAME"], "ionet0") << "NCCL's bootstrap stays on the shim";
    EXPECT_EQ(vars["IONET_NCCL_AGENT"].rfind("@ionet-nccl-", 0), 0u) << vars["IONET_NCCL_AGENT"];
    hostIds.insert(vars["NCCL_HOSTID"]);
    agents.insert(vars["IONET_NCCL_AGENT"]);
  }
  EXPECT_EQ(hostIds.size(), 2u) << "each emulated host is its own node to NCCL";
  EXPECT_EQ(agents.size(), 2u) << "each host's ranks talk to their own agent";
}

TEST_F(IonetTest, UsersNcclVariablesWinAndNcclNetSocketTurnsThePluginOff) {
  std::vector<std::string> args = {
      "--local-hosts", "2", "-np", "2", "-N", "1", "--tag-output", "-x", "NCCL_NET=Socket"};
  args.insert(args.end(), kPrintNcclEnv.begin(), kPrintNcclEnv.end());
  auto r = ionetRun(args);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto env = ncclEnvironment(r.out);
  ASSERT_EQ(env.size(), 2u) << r.out;
  EXPECT_EQ(env["0"]["NCCL_NET"], "Socket");
  EXPECT_EQ(env["0"]["NCCL_NET_PLUGIN"], kPlugin);

  args = {"--local-hosts", "2", "-np", "2", "-N", "1", "--tag-output", "--nccl-net", "socket"};
  args.insert(args.end(), kPrintNcclEnv.begin(), kPrintNcclEnv.end());
  r = ionetRun(args);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  env = ncclEnvironment(r.out);
  ASSERT_EQ(env.size(), 2u) << r.out;
  for (auto& [rank, vars] : env) {
    EXPECT_EQ(vars.count("NCCL_NET_PLUGIN"), 0u) << "rank " << rank;
    EXPECT_EQ(vars.count("NCCL_NET"), 0u);
    EXPECT_EQ(vars["NCCL_SOCKET_IFNAME"], "ionet0") << "NCCL's sockets go through the shim";
  }

  r = ionetRun({"--nccl-net", "ib", "-np", "1", "true"});
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find("--nccl-net"), std::string::npos) << r.err;
}

TEST_F(IonetTest, ASingleHostJobLeavesNcclAlone) {
  std::vector<std::string> args = {"-np", "2", "--tag-output"};
  args.insert(args.end(), kPrintNcclEnv.begin(), kPrintNcclEnv.end());
  auto r = ionetRun(args);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out.find("NCCL_NET"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ionet::test
