// The parts of one GPU's health check (health_check.cc runs them in order). Each works on the
// current device and throws CudaError when CUDA itself fails; wrong data is a result, not an error.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <string>

namespace ionet::kernels::cuda {

struct MemoryTestResult {
  uint64_t testedBytes = 0;
  uint64_t errors = 0;
  uint64_t firstErrorOffset = 0;
  uint32_t firstErrorExpected = 0, firstErrorActual = 0;
  std::string firstErrorTest;
  double seconds = 0;
};

// Tests `fraction` of the device's free memory with patterns for stuck, coupled and misaddressed
// bits (memory_test.cu).
MemoryTestResult runMemoryTest(double fraction);

struct MatmulResult {
  int size = 0;
  int iterations = 0;
  uint64_t mismatches = 0;  // over all iterations, against the exact reference
  double tflops = 0;
  double seconds = 0;
};

// A bf16 tensor-core matrix product with fp32 accumulation on inputs chosen so that the exact
// result is representable, compared element by element with a CUDA-core reference whose samples
// are checked on the CPU (matmul_check.cu).
MatmulResult runMatmulCheck(int size, double seconds);

struct BandwidthResult {
  double h2dGBps = 0, d2hGBps = 0, d2dGBps = 0;
  double seconds = 0;
};

BandwidthResult measureBandwidth(size_t bytes);

}  // namespace ionet::kernels::cuda
