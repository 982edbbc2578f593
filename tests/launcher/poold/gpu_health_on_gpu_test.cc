// The pool agent's GPU health check on real GPUs (label gpu): run on the lent GPU machine,
// reported as skipped with the reason elsewhere.
#include <gtest/gtest.h>

#include <cstdio>

#include "poold/kernels_gpu_checker.h"

namespace ionet::launcher {
namespace {

// Where there are GPUs (the lent GPU machine): the real check, in a child, on every GPU NVML
// lists, as the pool agent runs it before it registers (the same checker). Skipped without a GPU.
TEST(GpuHealthOnGpu, EveryGpuOfThisHostIsCheckedAndPasses) {
  auto probe = probeGpus();
  if (probe.gpus.empty()) GTEST_SKIP() << "no GPU here (NVML: " << probe.error << ")";
  kernels::HealthCheckOptions quick;
  quick.memFraction = 0.05;
  quick.computeSeconds = 0.5;
  const auto run = runGpuCheckInChild(kernelsGpuChecker(quick), std::chrono::seconds(300));
  ASSERT_EQ(run.error, "");
  applyGpuChecks(probe.gpus, run);
  for (const auto& g : probe.gpus) {
    EXPECT_TRUE(g.checked);
    EXPECT_EQ(g.healthFailure, "") << "GPU " << g.index << " " << g.model;
    EXPECT_GT(g.tflops, 1.0) << "GPU " << g.index << " " << g.model;
    std::printf("GPU %u %s: %.1f TFLOP/s\n", g.index, g.model.c_str(), g.tflops);
  }
}

}  // namespace
}  // namespace ionet::launcher
