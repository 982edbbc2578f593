// The one exported symbol of libionet-kernels-cuda.so: the function table of cuda_abi.h. Nothing
// throws past here; failures become a status (a cudaError_t value) and a per-thread message,
// and each is logged the way NCCL does, naming the failing call, when IONET_LOG_LEVEL=debug.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "compression_kernels.h"
#include "cuda_abi.h"
#include "cuda_check.h"

namespace ionet::kernels::cuda {
void runHealthCheck(int device, const IonetHealthOptions& options, IonetGpuHealth& out);
}

namespace {

using ionet::kernels::cuda::CudaError;

thread_local std::string lastError;

int fail(const std::string& message, int status) {
  lastError = message;
  const char* level = std::getenv("IONET_LOG_LEVEL");
  if (level != nullptr && std::strcmp(level, "debug") == 0) {
    std::fprintf(stderr, "ionet-kernels-cuda: %s\n", message.c_str());
  }
  return status;
}

// Runs body; exceptions become statuses.
template <typename Body>
int guarded(Body body) {
  try {
    body();
    return 0;
  } catch (const CudaError& e) {
    return fail(e.what(), e.status() != 0 ? e.status() : static_cast<int>(cudaErrorUnknown));
  } catch (const std::exception& e) {
    return fail(e.what(), static_cast<int>(cudaErrorUnknown));
  }
}

int checked(cudaError_t e, const char* call) {
  return e == cudaSuccess ? 0 : fail(std::string(call) + ": " + cudaGetErrorString(e), e);
}

const char* apiLastError() { return lastError.c_str(); }

int apiDeviceCount(int* count) {
  *count = 0;
  return checked(cudaGetDeviceCount(count), "cudaGetDeviceCount");
}

int apiSetDevice(int device) { return checked(cudaSetDevice(device), "cudaSetDevice"); }

int apiHealthCheck(int device, const IonetHealthOptions* options, IonetGpuHealth* out) {
  if (options == nullptr || out == nullptr) {
    return fail("healthCheck: null argument", cudaErrorInvalidValue);
  }
  // The matrix product's tiling and exactness argument (matmul_check.cu) need these.
  if (options->matmulSize < 128 || options->matmulSize > 16384 || options->matmulSize % 128 != 0) {
    return fail("healthCheck: matrix size " + std::to_string(options->matmulSize) +
                    " is not a multiple of 128 in [128, 16384]",
                cudaErrorInvalidValue);
  }
  if (!(options->memFraction >= 0 && options->memFraction <= 1) || options->copyBytes == 0) {
    return fail("healthCheck: memory fraction outside [0, 1] or zero copy size",
                cudaErrorInvalidValue);
  }
  return guarded([&] {
    std::memset(out, 0, sizeof *out);
    ionet::kernels::cuda::runHealthCheck(device, *options, *out);
  });
}

int apiMalloc(void** ptr, size_t bytes) { return checked(cudaMalloc(ptr, bytes), "cudaMalloc"); }

int apiFree(void* ptr) { return checked(cudaFree(ptr), "cudaFree"); }

int apiCopy(void* dst, const void* src, size_t bytes, int direction) {
  cudaMemcpyKind kind;
  switch (direction) {
    case IONET_COPY_HOST_TO_DEVICE:
      kind = cudaMemcpyHostToDevice;
      break;
    case IONET_COPY_DEVICE_TO_HOST:
      kind = cudaMemcpyDeviceToHost;
      break;
    case IONET_COPY_DEVICE_TO_DEVICE:
      kind = cudaMemcpyDeviceToDevice;
      break;
    default:
      return fail("copy: unknown direction " + std::to_string(direction), cudaErrorInvalidValue);
  }
  return checked(cudaMemcpy(dst, src, bytes, kind), "cudaMemcpy");
}

int apiSynchronize(void* stream) {
  return checked(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}

int apiFloatToHalf(int format, const float* in, uint16_t* out, size_t n, void* stream) {
  return guarded([&] {
    ionet::kernels::cuda::floatToHalf(format, in, out, n, static_cast<cudaStream_t>(stream));
  });
}

int apiHalfToFloat(int format, const uint16_t* in, float* out, size_t n, void* stream) {
  return guarded([&] {
    ionet::kernels::cuda::halfToFloat(format, in, out, n, static_cast<cudaStream_t>(stream));
  });
}

int apiQuantizeInt8(const float* in, size_t n, size_t blockSize, int8_t* q, float* scales,
                    void* stream) {
  return guarded([&] {
    ionet::kernels::cuda::quantizeInt8(in, n, blockSize, q, scales,
                                       static_cast<cudaStream_t>(stream));
  });
}

int apiDequantizeInt8(const int8_t* q, const float* scales, size_t n, size_t blockSize, float* out,
                      void* stream) {
  return guarded([&] {
    ionet::kernels::cuda::dequantizeInt8(q, scales, n, blockSize, out, false,
                                         static_cast<cudaStream_t>(stream));
  });
}

int apiDequantizeAccumulateInt8(const int8_t* q, const float* scales, size_t n, size_t blockSize,
                                float* acc, void* stream) {
  return guarded([&] {
    ionet::kernels::cuda::dequantizeInt8(q, scales, n, blockSize, acc, true,
                                         static_cast<cudaStream_t>(stream));
  });
}

const IonetKernelsApi kApi = {
    IONET_KERNELS_ABI_VERSION,
    sizeof(IonetGpuHealth),
    apiLastError,
    apiDeviceCount,
    apiSetDevice,
    apiHealthCheck,
    apiMalloc,
    apiFree,
    apiCopy,
    apiSynchronize,
    apiFloatToHalf,
    apiHalfToFloat,
    apiQuantizeInt8,
    apiDequantizeInt8,
    apiDequantizeAccumulateInt8,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const IonetKernelsApi* ionet_kernels_api(void) {
  return &kApi;
}
