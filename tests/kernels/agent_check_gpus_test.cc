// ionet-agent --check-gpus, the real command: JSON and table output, exit codes, usage errors.
// On a host without a GPU it must report "no GPU" and succeed.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "command.h"
#include "crash_check.h"
#include "ionet/kernels/device.h"

namespace {

struct AgentRun {
  int exitCode = -1;
  std::string out;  // stdout and stderr
};

// Through the test support's Command, not popen: the process-wide crash watch reaps every child
// it did not start through Command, and a popen'd shell it reaped first made pclose fail (-1).
AgentRun runAgent(const std::string& args) {
  AgentRun r;
  auto result =
      ionet::test::Command({"/bin/sh", "-c", std::string(IONET_AGENT) + " " + args + " 2>&1"})
          .wait(std::chrono::seconds(120));
  r.out = result.out;
  r.exitCode = result.signal ? 128 + result.signal : result.exitCode;
  return r;
}

TEST(AgentCheckGpus, JsonOutput) {
  const AgentRun r = runAgent("--check-gpus --json --gpu-mem-fraction 0.05");
  const auto a = ionet::kernels::gpu::availability();
  if (!a) {
    EXPECT_EQ(r.exitCode, 0) << r.out;
    EXPECT_EQ(r.out, "{\"gpus\":[],\"passed\":true,\"reason\":\"" + a.reason + "\"}\n");
  } else {
    EXPECT_EQ(r.exitCode, 0) << r.out;
    EXPECT_EQ(r.out.rfind("{\"gpus\":[{\"index\":0,", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("\"passed\":true,\"reason\":null}"), std::string::npos) << r.out;
  }
}

TEST(AgentCheckGpus, TableOutput) {
  const auto a = ionet::kernels::gpu::availability();
  if (a) GTEST_SKIP() << "a GPU is present: JsonOutput ran the check already";
  const AgentRun r = runAgent("--check-gpus");
  EXPECT_EQ(r.exitCode, 0) << r.out;
  EXPECT_EQ(r.out, "no GPU: " + a.reason + "\n");
}

TEST(AgentCheckGpus, UsageErrors) {
  AgentRun r = runAgent("--check-gpus --gpu-mem-fraction 1.5");
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.out.find("--gpu-mem-fraction"), std::string::npos) << r.out;
  r = runAgent("--json");
  EXPECT_NE(r.exitCode, 0) << r.out;  // CLI11's status
  EXPECT_NE(r.out.find("--check-gpus"), std::string::npos) << r.out;
  r = runAgent("--host-name n0");
  EXPECT_EQ(r.exitCode, 2) << r.out;
  EXPECT_NE(r.out.find("--connect is required"), std::string::npos) << r.out;
}

TEST(AgentCheckGpus, HelpNamesTheOptions) {
  const AgentRun r = runAgent("--help");
  EXPECT_EQ(r.exitCode, 0);
  for (const char* option : {"--check-gpus", "--gpu-mem-fraction", "--json", "--connect"}) {
    EXPECT_NE(r.out.find(option), std::string::npos) << option;
  }
}

}  // namespace
