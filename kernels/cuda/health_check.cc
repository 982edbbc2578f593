// One GPU's health check: identity, copy bandwidths, the checked matrix product, then the memory
// test (last, so that it can take the memory the other parts gave back).
#include <chrono>
#include <cstdio>
#include <cstring>

#include "cuda_abi.h"
#include "cuda_check.h"
#include "health_parts.h"

namespace ionet::kernels::cuda {
namespace {

template <size_t N>
void copyString(char (&dst)[N], const std::string& src) {
  std::snprintf(dst, N, "%s", src.c_str());
}

std::string formatUuid(const cudaUUID_t& uuid) {
  const auto* b = reinterpret_cast<const unsigned char*>(uuid.bytes);
  char s[48];
  std::snprintf(s, sizeof s,
                "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                b[14], b[15]);
  return s;
}

void readIdentity(int device, IonetGpuHealth& out) {
  cudaDeviceProp prop;
  IONET_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  copyString(out.name, prop.name);
  copyString(out.uuid, formatUuid(prop.uuid));
  IONET_CUDA_CHECK(cudaDeviceGetPCIBusId(out.pciBusId, sizeof out.pciBusId, device));
  out.totalMemoryBytes = prop.totalGlobalMem;
  out.ccMajor = prop.major;
  out.ccMinor = prop.minor;
  out.multiprocessors = prop.multiProcessorCount;
  out.eccEnabled = prop.ECCEnabled;
  IONET_CUDA_CHECK(cudaDriverGetVersion(&out.driverVersion));
  IONET_CUDA_CHECK(cudaRuntimeGetVersion(&out.runtimeVersion));
  size_t freeBytes = 0, totalBytes = 0;
  IONET_CUDA_CHECK(cudaMemGetInfo(&freeBytes, &totalBytes));
  out.freeMemoryBytes = freeBytes;
}

// Bytes per second of `repeats` copies, timed with events around them.
double copyRate(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  constexpr int kRepeats = 10;
  IONET_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));  // warm-up
  cudaEvent_t begin, end;
  IONET_CUDA_CHECK(cudaEventCreate(&begin));
  IONET_CUDA_CHECK(cudaEventCreate(&end));
  float ms = 0;
  cudaEventRecord(begin);
  for (int i = 0; i < kRepeats; ++i) cudaMemcpyAsync(dst, src, bytes, kind);
  cudaEventRecord(end);
  const cudaError_t e = cudaEventSynchronize(end);
  if (e == cudaSuccess) cudaEventElapsedTime(&ms, begin, end);
  cudaEventDestroy(begin);
  cudaEventDestroy(end);
  if (e != cudaSuccess) throwCudaError("cudaMemcpyAsync (bandwidth)", e);
  IONET_CUDA_CHECK(cudaGetLastError());
  return ms > 0 ? static_cast<double>(bytes) * kRepeats / (ms * 1e-3) : 0;
}

class PinnedBuffer {
 public:
  explicit PinnedBuffer(size_t bytes) { IONET_CUDA_CHECK(cudaMallocHost(&data_, bytes)); }
  ~PinnedBuffer() { cudaFreeHost(data_); }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* get() const { return data_; }

 private:
  void* data_ = nullptr;
};

const char* phaseName(int phase) {
  static const char* const names[] = {"reading the device's identity", "measuring copy bandwidth",
                                      "the matrix product check", "the memory test"};
  return names[phase];
}

}  // namespace

BandwidthResult measureBandwidth(size_t bytes) {
  BandwidthResult result;
  const auto start = std::chrono::steady_clock::now();
  PinnedBuffer host(bytes);
  std::memset(host.get(), 0x5a, bytes);
  DeviceArray<unsigned char> a(bytes), b(bytes);
  result.h2dGBps = copyRate(a.get(), host.get(), bytes, cudaMemcpyHostToDevice) / 1e9;
  result.d2hGBps = copyRate(host.get(), a.get(), bytes, cudaMemcpyDeviceToHost) / 1e9;
  // Device to device reads and writes every byte: count both, as CUDA's bandwidthTest does.
  result.d2dGBps = 2 * copyRate(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice) / 1e9;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

// Fills `out`; a CUDA failure in any part fails the GPU with that part and the failing call.
void runHealthCheck(int device, const IonetHealthOptions& options, IonetGpuHealth& out) {
  out.device = device;
  int phase = 0;
  try {
    IONET_CUDA_CHECK(cudaSetDevice(device));
    readIdentity(device, out);

    phase = 1;
    const BandwidthResult bw = measureBandwidth(options.copyBytes);
    out.h2dGBps = bw.h2dGBps;
    out.d2hGBps = bw.d2hGBps;
    out.d2dGBps = bw.d2dGBps;
    out.bandwidthSeconds = bw.seconds;

    phase = 2;
    const MatmulResult mm = runMatmulCheck(options.matmulSize, options.computeSeconds);
    out.matmulSize = mm.size;
    out.matmulIterations = mm.iterations;
    out.matmulMismatches = mm.mismatches;
    out.matmulTflops = mm.tflops;
    out.computeSeconds = mm.seconds;

    phase = 3;
    const MemoryTestResult mem = runMemoryTest(options.memFraction);
    out.memTestedBytes = mem.testedBytes;
    out.memErrors = mem.errors;
    out.memFirstErrorOffset = mem.firstErrorOffset;
    out.memFirstErrorExpected = mem.firstErrorExpected;
    out.memFirstErrorActual = mem.firstErrorActual;
    copyString(out.memFirstErrorTest, mem.firstErrorTest);
    out.memTestSeconds = mem.seconds;
  } catch (const std::exception& e) {
    out.passed = 0;
    copyString(out.failure, std::string("CUDA error during ") + phaseName(phase) + ": " + e.what());
    return;
  }

  char failure[sizeof out.failure] = "";
  if (out.memErrors > 0) {
    std::snprintf(failure, sizeof failure,
                  "memory test: %llu errors in %llu bytes; first at offset 0x%llx (%s): "
                  "expected 0x%08x, read 0x%08x",
                  static_cast<unsigned long long>(out.memErrors),
                  static_cast<unsigned long long>(out.memTestedBytes),
                  static_cast<unsigned long long>(out.memFirstErrorOffset), out.memFirstErrorTest,
                  out.memFirstErrorExpected, out.memFirstErrorActual);
  } else if (out.matmulMismatches > 0) {
    std::snprintf(failure, sizeof failure,
                  "matrix product: %llu wrong elements over %d runs of %d x %d (exact reference)",
                  static_cast<unsigned long long>(out.matmulMismatches), out.matmulIterations + 1,
                  out.matmulSize, out.matmulSize);
  }
  copyString(out.failure, failure);
  out.passed = failure[0] == '\0';
}

}  // namespace ionet::kernels::cuda
