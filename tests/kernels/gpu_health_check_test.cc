// The health check on real GPUs, small settings. Skipped with the reason on hosts without one.
#include <gtest/gtest.h>

#include "ionet/kernels/device.h"
#include "ionet/kernels/health_check.h"

namespace ionet::kernels {
namespace {

TEST(GpuHealthCheck, EveryVisibleGpuPassesAQuickCheck) {
  const gpu::Availability a = gpu::availability();
  if (!a) GTEST_SKIP() << "no GPU: " << a.reason;
  const HealthReport r = checkGpus(
      {.memFraction = 0.05, .matmulSize = 1024, .computeSeconds = 0.2, .copyBytes = 16u << 20});
  ASSERT_EQ(static_cast<int>(r.gpus.size()), a.deviceCount);
  for (const GpuReport& g : r.gpus) {
    SCOPED_TRACE("GPU " + std::to_string(g.index) + " " + g.name);
    EXPECT_TRUE(g.passed) << g.failure;
    EXPECT_FALSE(g.name.empty());
    EXPECT_EQ(g.uuid.rfind("GPU-", 0), 0u) << g.uuid;
    EXPECT_GE(g.ccMajor, 8);
    EXPECT_GT(g.totalMemoryBytes, 0u);
    EXPECT_GT(g.memTestedBytes, 0u);
    EXPECT_EQ(g.memErrors, 0u);
    EXPECT_EQ(g.matmulSize, 1024);
    EXPECT_GE(g.matmulIterations, 2);
    EXPECT_EQ(g.matmulMismatches, 0u);
    EXPECT_GT(g.tflops, 1.0);
    EXPECT_GT(g.h2dGBps, 0.5);
    EXPECT_GT(g.d2dGBps, 10.0);
  }
  EXPECT_TRUE(r.allPassed());
  EXPECT_NE(toJson(r).find("\"passed\":true,\"reason\":null}"), std::string::npos);
  std::printf("%s", toTable(r).c_str());
}

TEST(GpuHealthCheck, MemoryTestCanBeSkipped) {
  const gpu::Availability a = gpu::availability();
  if (!a) GTEST_SKIP() << "no GPU: " << a.reason;
  const HealthReport r = checkGpus({.memFraction = 0, .matmulSize = 256, .computeSeconds = 0});
  ASSERT_FALSE(r.gpus.empty());
  EXPECT_TRUE(r.gpus[0].passed) << r.gpus[0].failure;
  EXPECT_EQ(r.gpus[0].memTestedBytes, 0u);
}

}  // namespace
}  // namespace ionet::kernels
