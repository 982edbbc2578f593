// GPU health check of a pool host: per GPU a memory test, an exactly checked matrix product with
// its TFLOP/s, copy bandwidths and the device's identity; reports for people and for programs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ionet::kernels {

struct HealthCheckOptions {
  double memFraction = 0.8;            // of each GPU's free memory to test; 0 skips the memory test
  int matmulSize = 4096;               // square matrices; a multiple of 128, at most 16384
  double computeSeconds = 2.0;         // how long the checked matrix product keeps running
  std::size_t copyBytes = 256u << 20;  // per transfer of the bandwidth measurements
};

struct GpuReport {
  int index = 0;  // CUDA device index (after CUDA_VISIBLE_DEVICES)
  std::string name, uuid, pciBusId;
  std::uint64_t totalMemoryBytes = 0, freeMemoryBytes = 0;
  int ccMajor = 0, ccMinor = 0;
  std::string driver;             // NVIDIA kernel driver release, "" when unreadable
  std::string cudaDriverVersion;  // CUDA version the driver supports, "12.4"
  std::string runtimeVersion;     // CUDA runtime ionet's kernels were built with
  int multiprocessors = 0;
  bool ecc = false;

  std::uint64_t memTestedBytes = 0, memErrors = 0;
  std::uint64_t memFirstErrorOffset = 0;
  std::uint32_t memFirstErrorExpected = 0, memFirstErrorActual = 0;
  std::string memFirstErrorTest;
  double memTestSeconds = 0;

  int matmulSize = 0, matmulIterations = 0;
  std::uint64_t matmulMismatches = 0;
  double tflops = 0;  // bf16 inputs, fp32 accumulation, tensor cores: ionet's own kernel
  double computeSeconds = 0;

  double h2dGBps = 0, d2hGBps = 0, d2dGBps = 0;  // d2d: bytes read + bytes written
  double seconds = 0;                            // wall time of this GPU's whole check

  bool passed = false;
  std::string failure;  // why not passed
};

struct HealthReport {
  std::vector<GpuReport> gpus;
  std::string noGpuReason;  // set when gpus is empty
  bool allPassed() const;   // true also when there is no GPU
};

// Checks every visible GPU in turn. Never throws for a GPU's fault or for a host without GPUs;
// throws ionet::Error for invalid options. Leaves each device's primary context in this
// process: run it in a short-lived process (ionet-agent --check-gpus) so that the memory returns.
HealthReport checkGpus(const HealthCheckOptions& options = {});

std::string toJson(const HealthReport& report);   // one line, docs/kernels.md has the fields
std::string toTable(const HealthReport& report);  // for people, ends with a newline

}  // namespace ionet::kernels
