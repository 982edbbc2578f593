// What a host offers a job: the cores this process may run on, memory, and the physical NVIDIA
// GPUs as NVML reports them (NVML is dlopened: no link-time dependency on the driver).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ionet::launcher {

inline constexpr const char* kNvmlLibrary = "libnvidia-ml.so.1";

struct GpuInfo {
  unsigned index = 0;             // NVML's index: the physical device, not CUDA_VISIBLE_DEVICES'
  std::string model;              // nvmlDeviceGetName, e.g. "NVIDIA H100 80GB HBM3"
  std::string uuid;               // "GPU-..."
  std::uint64_t memoryBytes = 0;  // total device memory
  // The pool agent's health check (gpu_health.h), when it ran: a GPU with a failure is not
  // offered to jobs; tflops is its measured bf16 matrix-product rate.
  bool checked = false;
  std::string healthFailure;
  double tflops = 0;
};

struct HostResources {
  unsigned cores = 0;             // CPUs in this process's affinity mask
  std::uint64_t memoryBytes = 0;  // total RAM
  std::vector<GpuInfo> gpus;      // physical devices, ascending index
  std::string gpuError;           // why gpus is empty or incomplete; "" when all were read
};

struct GpuProbe {
  std::vector<GpuInfo> gpus;
  std::string error;
};

// Never throws: what cannot be read is left out and said in gpuError; nothing is invented.
HostResources probeResources();

// The GPU part alone, through the NVML library named (tests pass one that is absent or is not
// NVML). CUDA_VISIBLE_DEVICES is not consulted: ionet sets it for the ranks from these indices.
GpuProbe probeGpus(const std::string& library = kNvmlLibrary);

}  // namespace ionet::launcher
