// The dlopen loader and the no-GPU paths: these run on every host; with a GPU present the
// no-GPU expectations are skipped (kernels_gpu_tests covers that side).
#include "cuda_library.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "ionet/kernels/compression.h"
#include "ionet/kernels/device.h"
#include "ionet/kernels/health_check.h"

namespace ionet::kernels {
namespace {
namespace fs = std::filesystem;

TEST(CudaLibrary, CandidatesStartBesideTheProgram) {
  ::unsetenv("IONET_KERNELS_CUDA_LIB");
  const auto candidates = detail::cudaLibraryCandidates();
  ASSERT_GE(candidates.size(), 2u);
  const fs::path exeDir = fs::read_symlink("/proc/self/exe").parent_path();
  EXPECT_EQ(candidates.front(),
            (exeDir / "../lib/libionet-kernels-cuda.so").lexically_normal().string());
  EXPECT_EQ(candidates.back(), "libionet-kernels-cuda.so");  // the dynamic linker's search
}

TEST(CudaLibrary, EnvironmentOverrideIsTheOnlyCandidate) {
  ::setenv("IONET_KERNELS_CUDA_LIB", "/opt/x/libk.so", 1);
  EXPECT_EQ(detail::cudaLibraryCandidates(), std::vector<std::string>{"/opt/x/libk.so"});
  ::unsetenv("IONET_KERNELS_CUDA_LIB");
}

TEST(CudaLibrary, MissingLibraryIsAReasonNotAnError) {
  const auto lib = detail::loadCudaLibrary({"/nonexistent/libionet-kernels-cuda.so"});
  EXPECT_EQ(lib.api, nullptr);
  EXPECT_EQ(lib.deviceCount, 0);
  EXPECT_FALSE(lib.reason.empty());
}

TEST(CudaLibrary, NotASharedLibraryIsAReason) {
  const fs::path bogus = fs::temp_directory_path() / ("ionet-bogus-" + std::to_string(getpid()));
  std::ofstream(bogus) << "not an ELF file\n";
  ::setenv("IONET_KERNELS_CUDA_LIB", bogus.c_str(), 1);  // also past "built without CUDA"
  const auto lib = detail::loadCudaLibrary({bogus.string()});
  ::unsetenv("IONET_KERNELS_CUDA_LIB");
  fs::remove(bogus);
  EXPECT_EQ(lib.api, nullptr);
  EXPECT_NE(lib.reason.find("cannot load libionet-kernels-cuda.so"), std::string::npos)
      << lib.reason;
  EXPECT_NE(lib.reason.find(bogus.string()), std::string::npos) << lib.reason;
}

TEST(CudaLibrary, InvalidOptionsAreRejectedBeforeAnyGpuWork) {
  EXPECT_THROW(checkGpus({.memFraction = 1.5}), ionet::Error);
  EXPECT_THROW(checkGpus({.matmulSize = 1000}), ionet::Error);
  EXPECT_THROW(checkGpus({.copyBytes = 0}), ionet::Error);
}

class NoGpuHost : public ::testing::Test {
 protected:
  void SetUp() override {
    if (gpu::availability()) GTEST_SKIP() << "a GPU is present: see kernels_gpu_tests";
  }
};

TEST_F(NoGpuHost, HealthCheckReportsTheReason) {
  const auto a = gpu::availability();
  EXPECT_FALSE(a.reason.empty());
  const HealthReport r = checkGpus();
  EXPECT_TRUE(r.gpus.empty());
  EXPECT_EQ(r.noGpuReason, a.reason);
  EXPECT_TRUE(r.allPassed());
  EXPECT_EQ(toTable(r), "no GPU: " + a.reason + "\n");
}

TEST_F(NoGpuHost, GpuCallsThrowNoGpu) {
  EXPECT_THROW(gpu::DeviceBuffer(16), gpu::NoGpu);
  EXPECT_THROW(gpu::setDevice(0), gpu::NoGpu);
  EXPECT_THROW(gpu::quantizeInt8(nullptr, 0, 16, nullptr, nullptr), gpu::NoGpu);
  try {
    gpu::synchronize();
    FAIL() << "no exception";
  } catch (const gpu::NoGpu& e) {
    EXPECT_EQ(std::string(e.what()), "no GPU: " + gpu::availability().reason);
  }
}

}  // namespace
}  // namespace ionet::kernels
