// The pool agent's GPU health check before it offers its GPUs: the check (kernels/, handed in
// by ionet-agent as a function, so this library does not depend on the CUDA part) runs in a
// child process, which takes the CUDA contexts it made with it and cannot hang the agent; what
// it found is matched onto NVML's GPUs by UUID. A GPU that failed, or that the check did not
// see, is not offered to jobs.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "hosts/resources.h"

namespace ionet::launcher {

struct GpuCheck {
  std::string uuid;  // "GPU-...", as NVML names it
  bool passed = false;
  std::string failure;  // why not passed
  double tflops = 0, h2dGBps = 0, d2hGBps = 0;
  double seconds = 0;  // wall time of this GPU's check
};

struct GpuCheckRun {
  std::vector<GpuCheck> gpus;
  std::string error;  // the check could not run, or did not finish; then every GPU fails
};

using GpuChecker = std::function<GpuCheckRun()>;

// Runs `check` in a forked child and returns what it found; a child that throws, dies or runs
// past `limit` (killed) gives a run with `error` set. Call it before the process has threads.
GpuCheckRun runGpuCheckInChild(const GpuChecker& check, std::chrono::milliseconds limit);

// Marks each of NVML's GPUs checked, with its rate, or with why it failed.
void applyGpuChecks(std::vector<GpuInfo>& gpus, const GpuCheckRun& run);

}  // namespace ionet::launcher
