// probeResources against what the kernel says through other doors (/proc), and the GPU probe's
// answers when there is no NVML or the library is not NVML.
#include "hosts/resources.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace ionet::launcher {
namespace {

// Counts the CPUs in /proc/self/status's Cpus_allowed_list ("0-3,8,10-11").
unsigned allowedCpusFromProc() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Cpus_allowed_list:", 0) != 0) continue;
    std::istringstream ranges(line.substr(line.find(':') + 1));
    unsigned count = 0;
    for (std::string range; std::getline(ranges, range, ',');) {
      const auto dash = range.find('-');
      const unsigned first = std::stoul(range);
      const unsigned last = dash == std::string::npos ? first : std::stoul(range.substr(dash + 1));
      count += last - first + 1;
    }
    return count;
  }
  return 0;
}

std::uint64_t memTotalFromProc() {
  std::ifstream meminfo("/proc/meminfo");
  for (std::string key; meminfo >> key;) {
    std::uint64_t kib = 0;
    if (key == "MemTotal:" && meminfo >> kib) return kib * 1024;
  }
  return 0;
}

bool nvmlPresent() {
  void* lib = ::dlopen(kNvmlLibrary, RTLD_NOW | RTLD_LOCAL);
  if (lib) ::dlclose(lib);
  return lib != nullptr;
}

TEST(Resources, CoresAndMemoryMatchProc) {
  const HostResources r = probeResources();
  const unsigned cpus = allowedCpusFromProc();
  ASSERT_GT(cpus, 0u);
  EXPECT_EQ(r.cores, cpus);
  const std::uint64_t mem = memTotalFromProc();
  ASSERT_GT(mem, 0u);
  EXPECT_EQ(r.memoryBytes, mem);
}

TEST(Resources, NoDriverMeansNoGpusAndSaysWhy) {
  if (nvmlPresent()) GTEST_SKIP() << kNvmlLibrary << " is installed here";
  const HostResources r = probeResources();
  EXPECT_TRUE(r.gpus.empty());
  EXPECT_EQ(r.gpuError, "libnvidia-ml.so.1 not found (no NVIDIA driver on this host)");
}

TEST(Resources, AbsentLibrary) {
  const GpuProbe probe = probeGpus("libionet-test-no-such-nvml.so.1");
  EXPECT_TRUE(probe.gpus.empty());
  EXPECT_EQ(probe.error,
            "libionet-test-no-such-nvml.so.1 not found (no NVIDIA driver on this host)");
}

TEST(Resources, LibraryThatIsNotNvml) {
  const GpuProbe probe = probeGpus("libc.so.6");
  EXPECT_TRUE(probe.gpus.empty());
  EXPECT_EQ(probe.error, "libc.so.6 has no nvmlInit_v2 (not NVML, or too old)");
}

// Runs only where a driver is installed: physical devices, ascending, fully described.
TEST(Resources, GpusFromNvml) {
  if (!nvmlPresent()) GTEST_SKIP() << "no " << kNvmlLibrary;
  const HostResources r = probeResources();
  if (r.gpus.empty()) GTEST_SKIP() << "NVML: " << r.gpuError;
  for (std::size_t i = 0; i < r.gpus.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(r.gpus[i - 1].index, r.gpus[i].index);
    }
    EXPECT_FALSE(r.gpus[i].model.empty());
    EXPECT_EQ(r.gpus[i].uuid.rfind("GPU-", 0), 0u) << r.gpus[i].uuid;
    EXPECT_GT(r.gpus[i].memoryBytes, 0u);
  }
}

}  // namespace
}  // namespace ionet::launcher
