// The pool agent's GPU health check: the child process that runs it, and its results on NVML's
// GPUs. The check itself is a stand-in here (this machine has no GPU; kernels/ tests the real
// one where there is): what is under test is the plumbing, with real fork, pipe and signals.
#include "poold/gpu_health.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

namespace ionet::launcher {
namespace {

using namespace std::chrono_literals;

GpuInfo nvml(unsigned index, const std::string& uuid) {
  GpuInfo g;
  g.index = index;
  g.model = "NVIDIA H100";
  g.uuid = uuid;
  g.memoryBytes = 80ull << 30;
  return g;
}

TEST(GpuHealth, WhatTheChildFoundComesBackWhole) {
  const auto parent = ::getpid();
  const auto run = runGpuCheckInChild(
      [parent] {
        GpuCheckRun r;
        // Proof it ran elsewhere: a child has another pid.
        r.gpus.push_back({"GPU-a", ::getpid() != parent, "", 512.5, 24.1, 25.2, 9.5});
        r.gpus.push_back(
            {"GPU-b", false, "memory test: 3 errors (stuck bit at 0x1000)", 0, 0, 0, 4});
        return r;
      },
      10s);
  EXPECT_EQ(run.error, "");
  ASSERT_EQ(run.gpus.size(), 2u);
  EXPECT_EQ(run.gpus[0].uuid, "GPU-a");
  EXPECT_TRUE(run.gpus[0].passed);
  EXPECT_DOUBLE_EQ(run.gpus[0].tflops, 512.5);
  EXPECT_DOUBLE_EQ(run.gpus[0].d2hGBps, 25.2);
  EXPECT_FALSE(run.gpus[1].passed);
  EXPECT_EQ(run.gpus[1].failure, "memory test: 3 errors (stuck bit at 0x1000)");
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);  // no child left behind
}

TEST(GpuHealth, AThrowingCrashingOrHungCheckIsAnErrorNotAHang) {
  auto thrown =
      runGpuCheckInChild([]() -> GpuCheckRun { throw std::runtime_error("no CUDA"); }, 10s);
  EXPECT_EQ(thrown.error, "no CUDA");
  auto crashed = runGpuCheckInChild(
      []() -> GpuCheckRun {
        ::raise(SIGSEGV);
        return {};
      },
      10s);
  EXPECT_NE(crashed.error.find("died of signal 11"), std::string::npos) << crashed.error;
  const auto start = std::chrono::steady_clock::now();
  auto hung = runGpuCheckInChild(
      [] {
        std::this_thread::sleep_for(600s);
        return GpuCheckRun{};
      },
      1s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_NE(hung.error.find("did not finish in 1 s (killed)"), std::string::npos) << hung.error;
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
}

TEST(GpuHealth, ResultsLandOnNvmlsGpusByUuid) {
  std::vector<GpuInfo> gpus = {nvml(0, "GPU-a"), nvml(1, "GPU-b"), nvml(2, "GPU-c")};
  GpuCheckRun run;
  run.gpus.push_back({"GPU-b", false, "compute check: 17 mismatches", 0, 0, 0, 1});
  run.gpus.push_back({"GPU-a", true, "", 480, 20, 20, 8});
  applyGpuChecks(gpus, run);
  EXPECT_TRUE(gpus[0].checked);
  EXPECT_EQ(gpus[0].healthFailure, "");
  EXPECT_DOUBLE_EQ(gpus[0].tflops, 480);
  EXPECT_EQ(gpus[1].healthFailure, "health check: compute check: 17 mismatches");
  EXPECT_EQ(gpus[2].healthFailure, "health check: CUDA does not see this GPU");

  // A check that could not run fails every GPU: nothing unchecked is offered as checked.
  GpuCheckRun broken;
  broken.error = "no CUDA driver";
  applyGpuChecks(gpus, broken);
  for (const auto& g : gpus) {
    EXPECT_EQ(g.healthFailure, "health check: no CUDA driver");
    EXPECT_DOUBLE_EQ(g.tflops, 0);
  }
}

}  // namespace
}  // namespace ionet::launcher
