// checkGpus: runs the library's per-GPU check on every visible device and turns the C results
// into GpuReports; adds what only the host knows (the kernel driver's release, wall time).
#include "ionet/kernels/health_check.h"

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>

#include "cuda_library.h"
#include "ionet/error.h"
#include "ionet/log.h"

namespace ionet::kernels {
namespace {

// CUDA encodes versions as 1000 * major + 10 * minor.
std::string cudaVersion(int v) {
  if (v <= 0) return "";
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

// "550.54.15" from "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar ...",
// "" when the file is absent (containers often lack it).
std::string driverRelease() {
  std::ifstream in("/proc/driver/nvidia/version");
  std::string line;
  if (!std::getline(in, line)) return "";
  std::smatch m;
  static const std::regex version(R"(Module.*?\s(\d+\.\d+(\.\d+)?)\s)");
  return std::regex_search(line, m, version) ? m[1].str() : "";
}

GpuReport toReport(const IonetGpuHealth& h) {
  GpuReport r;
  r.index = h.device;
  r.name = h.name;
  r.uuid = h.uuid;
  r.pciBusId = h.pciBusId;
  r.totalMemoryBytes = h.totalMemoryBytes;
  r.freeMemoryBytes = h.freeMemoryBytes;
  r.ccMajor = h.ccMajor;
  r.ccMinor = h.ccMinor;
  r.cudaDriverVersion = cudaVersion(h.driverVersion);
  r.runtimeVersion = cudaVersion(h.runtimeVersion);
  r.multiprocessors = h.multiprocessors;
  r.ecc = h.eccEnabled != 0;
  r.memTestedBytes = h.memTestedBytes;
  r.memErrors = h.memErrors;
  r.memFirstErrorOffset = h.memFirstErrorOffset;
  r.memFirstErrorExpected = h.memFirstErrorExpected;
  r.memFirstErrorActual = h.memFirstErrorActual;
  r.memFirstErrorTest = h.memFirstErrorTest;
  r.memTestSeconds = h.memTestSeconds;
  r.matmulSize = h.matmulSize;
  r.matmulIterations = h.matmulIterations;
  r.matmulMismatches = h.matmulMismatches;
  r.tflops = h.matmulTflops;
  r.computeSeconds = h.computeSeconds;
  r.h2dGBps = h.h2dGBps;
  r.d2hGBps = h.d2hGBps;
  r.d2dGBps = h.d2dGBps;
  r.passed = h.passed != 0;
  r.failure = h.failure;
  return r;
}

void validate(const HealthCheckOptions& o) {
  IONET_ENFORCE(o.memFraction >= 0 && o.memFraction <= 1, "GPU health check: memory fraction ",
                o.memFraction, " is outside [0, 1]");
  IONET_ENFORCE(o.matmulSize >= 128 && o.matmulSize <= 16384 && o.matmulSize % 128 == 0,
                "GPU health check: matrix size ", o.matmulSize,
                " is not a multiple of 128 in [128, 16384]");
  IONET_ENFORCE(o.computeSeconds >= 0, "GPU health check: negative compute time");
  IONET_ENFORCE(o.copyBytes >= 4096, "GPU health check: copy size ", o.copyBytes, " too small");
}

}  // namespace

bool HealthReport::allPassed() const {
  for (const GpuReport& g : gpus) {
    if (!g.passed) return false;
  }
  return true;
}

HealthReport checkGpus(const HealthCheckOptions& options) {
  validate(options);
  HealthReport report;
  const detail::CudaLibrary& lib = detail::cudaLibrary();
  if (lib.deviceCount == 0) {
    report.noGpuReason = lib.reason;
    return report;
  }
  const IonetHealthOptions abiOptions{options.memFraction, options.matmulSize,
                                      options.computeSeconds, options.copyBytes};
  const std::string driver = driverRelease();
  for (int device = 0; device < lib.deviceCount; ++device) {
    const auto start = std::chrono::steady_clock::now();
    IonetGpuHealth health{};
    GpuReport r;
    if (lib.api->healthCheck(device, &abiOptions, &health) == 0) {
      r = toReport(health);
    } else {
      r.index = device;
      r.failure = std::string("health check did not run: ") + lib.api->lastError();
    }
    r.driver = driver;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log::info("GPU ", device, " (", r.name, "): ", r.passed ? "passed" : "FAILED: " + r.failure,
              " in ", r.seconds, " s");
    report.gpus.push_back(std::move(r));
  }
  return report;
}

}  // namespace ionet::kernels
