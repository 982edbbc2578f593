// ionet-agent's one parse: which mode each command line selects, and the usage errors.
#include "agent/command_line.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ionet::launcher {
namespace {

AgentCommandLine parse(std::vector<std::string> args) {
  args.insert(args.begin(), "ionet-agent");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parseAgentCommandLine(static_cast<int>(argv.size()), argv.data(), "this-host");
}

TEST(AgentCommandLine, ConnectServesOneJob) {
  const auto c = parse({"--connect", "127.0.0.1:7000", "--host-name", "h1", "--address", "10.0.0.5",
                        "--dead-peer-timeout", "5000", "--data-listen", "0.0.0.0"});
  EXPECT_EQ(c.mode, AgentMode::kJobAgent);
  EXPECT_EQ(c.connect, "127.0.0.1:7000");
  EXPECT_EQ(c.job.hostName, "h1");
  EXPECT_EQ(c.job.address, "10.0.0.5");
  EXPECT_EQ(c.job.dataListen, "0.0.0.0");
  EXPECT_EQ(c.deadPeerMs, 5000u);
}

TEST(AgentCommandLine, HostNameFromTheEnvironmentAsUnderSrun) {
  ::setenv("IONET_TEST_NODE_NAME", "n2", 1);
  auto c = parse({"--connect", "127.0.0.1:7000", "--host-name-from-env", "IONET_TEST_NODE_NAME"});
  EXPECT_EQ(c.mode, AgentMode::kJobAgent);
  EXPECT_EQ(c.job.hostName, "n2");
  ::unsetenv("IONET_TEST_NODE_NAME");
  c = parse({"--connect", "127.0.0.1:7000", "--host-name-from-env", "IONET_TEST_NODE_NAME"});
  EXPECT_EQ(c.mode, AgentMode::kExit);
  EXPECT_EQ(c.exitStatus, 2);
}

TEST(AgentCommandLine, PoolWithoutConnectIsThePoolAgent) {
  auto c = parse({"--pool", "pool.toml"});
  EXPECT_EQ(c.mode, AgentMode::kPoolAgent);
  EXPECT_EQ(c.pool.poolFile, "pool.toml");
  EXPECT_EQ(c.pool.nodeName, "this-host");  // the machine's name by default
  EXPECT_TRUE(c.gpuCheckBeforeOffering);
  c = parse({"--pool", "pool.toml", "--host-name", "gpu2", "--no-gpu-check"});
  EXPECT_EQ(c.pool.nodeName, "gpu2");
  EXPECT_FALSE(c.gpuCheckBeforeOffering);
}

TEST(AgentCommandLine, MetricsListenIsThePoolAgents) {
  auto c = parse({"--pool", "pool.toml", "--metrics-listen", "0.0.0.0:9450"});
  EXPECT_EQ(c.mode, AgentMode::kPoolAgent);
  EXPECT_EQ(c.pool.metricsListen, "0.0.0.0:9450");
  EXPECT_EQ(parse({"--pool", "pool.toml"}).pool.metricsListen, "");  // the pool file's, if any
  c = parse({"--connect", "127.0.0.1:7000", "--host-name", "h1", "--metrics-listen", "9450"});
  EXPECT_EQ(c.mode, AgentMode::kExit);
  EXPECT_EQ(c.exitStatus, 2);
}

TEST(AgentCommandLine, OtherModes) {
  auto c = parse({"--check-gpus", "--json", "--gpu-mem-fraction", "0.25"});
  EXPECT_EQ(c.mode, AgentMode::kCheckGpus);
  EXPECT_TRUE(c.json);
  EXPECT_DOUBLE_EQ(c.gpu.memFraction, 0.25);
  c = parse({"--gen-psk", "/tmp/psk", "--pool", "lab"});
  EXPECT_EQ(c.mode, AgentMode::kCredentials);
  EXPECT_EQ(c.credentials.genPsk, "/tmp/psk");
  EXPECT_EQ(c.credentials.pool, "lab");
  c = parse({"--version"});
  EXPECT_EQ(c.mode, AgentMode::kExit);
  EXPECT_EQ(c.exitStatus, 0);
}

TEST(AgentCommandLine, UsageErrorsExitNonZero) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},                                           // no mode
           {"--connect", "127.0.0.1:7000"},              // no --host-name
           {"--host-name", "h1"},                        // no --connect
           {"--check-gpus", "--gen-psk", "f"},           // two modes
           {"--check-gpus", "--no-gpu-check"},           // contradiction
           {"--json"},                                   // needs --check-gpus
           {"--gpu-mem-fraction", "2", "--check-gpus"},  // out of range
           {"--no-such-option"}}) {
    const auto c = parse(args);
    EXPECT_EQ(c.mode, AgentMode::kExit) << ::testing::PrintToString(args);
    EXPECT_NE(c.exitStatus, 0) << ::testing::PrintToString(args);
  }
}

}  // namespace
}  // namespace ionet::launcher
