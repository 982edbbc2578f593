// The GPU health check of kernels/ as the pool agent runs it (gpu_health.h): only for targets
// that link both ionet_launcher and ionet_kernels (ionet-agent, the GPU tests); the launcher
// library itself does not depend on the kernels.
#pragma once

#include <cstdlib>

#include "ionet/kernels/health_check.h"
#include "poold/gpu_health.h"

namespace ionet::launcher {

// The same check as ionet-agent --check-gpus. CUDA is to see every GPU NVML lists: ionet sets
// CUDA_VISIBLE_DEVICES per rank itself (it runs in the child, so the agent keeps its own).
inline GpuChecker kernelsGpuChecker(const kernels::HealthCheckOptions& options) {
  return [options] {
    ::unsetenv("CUDA_VISIBLE_DEVICES");
    const auto report = kernels::checkGpus(options);
    GpuCheckRun run;
    run.error = report.gpus.empty() ? report.noGpuReason : "";
    for (const auto& g : report.gpus) {
      run.gpus.push_back({g.uuid, g.passed, g.failure, g.tflops, g.h2dGBps, g.d2hGBps, g.seconds});
    }
    return run;
  };
}

}  // namespace ionet::launcher
