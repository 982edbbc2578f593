// The C ABI between libionet_kernels (host-only, always built) and libionet-kernels-cuda.so
// (CUDA, dlopen'd only when a GPU is used). Plain C types only: nothing throws across it, every
// call returns 0 or a cudaError_t value, and ionet_kernels_last_error() explains the last failure
// on the calling thread. Bump IONET_KERNELS_ABI_VERSION on any change to this file.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IONET_KERNELS_ABI_VERSION 1
#define IONET_KERNELS_API_SYMBOL "ionet_kernels_api"

// Half formats of the conversion entry points.
#define IONET_HALF_BF16 0
#define IONET_HALF_FP16 1

// Directions of IonetKernelsApi::copy.
#define IONET_COPY_HOST_TO_DEVICE 1
#define IONET_COPY_DEVICE_TO_HOST 2
#define IONET_COPY_DEVICE_TO_DEVICE 3

typedef struct IonetHealthOptions {
  double memFraction;     // of the free memory to test, (0, 1]
  int matmulSize;         // square matrix side, a multiple of 128
  double computeSeconds;  // how long to keep the matrix product running
  size_t copyBytes;       // buffer size of the bandwidth measurements
} IonetHealthOptions;

// Fixed-size fields so that the struct can cross the boundary by value.
typedef struct IonetGpuHealth {
  int device;
  char name[256];
  char uuid[48];  // "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
  char pciBusId[32];
  uint64_t totalMemoryBytes;
  uint64_t freeMemoryBytes;  // before the check allocated anything
  int ccMajor, ccMinor;
  int driverVersion, runtimeVersion;  // CUDA's encoding: 1000 * major + 10 * minor
  int multiprocessors;
  int eccEnabled;

  uint64_t memTestedBytes;
  uint64_t memErrors;
  uint64_t memFirstErrorOffset;  // byte offset in the tested region
  uint32_t memFirstErrorExpected, memFirstErrorActual;
  char memFirstErrorTest[48];  // which pattern saw it first
  double memTestSeconds;

  int matmulSize;
  int matmulIterations;
  uint64_t matmulMismatches;  // elements that differ from the exact reference, all iterations
  double matmulTflops;
  double computeSeconds;

  double h2dGBps, d2hGBps, d2dGBps;  // d2d counts bytes read plus bytes written
  double bandwidthSeconds;

  int passed;
  char failure[512];  // empty when passed
} IonetGpuHealth;

typedef struct IonetKernelsApi {
  int abiVersion;
  size_t healthSize;  // sizeof(IonetGpuHealth) as the library was built

  const char* (*lastError)(void);
  int (*deviceCount)(int* count);
  int (*setDevice)(int device);
  int (*healthCheck)(int device, const IonetHealthOptions* options, IonetGpuHealth* out);

  int (*malloc)(void** ptr, size_t bytes);
  int (*free)(void* ptr);
  int (*copy)(void* dst, const void* src, size_t bytes, int direction);
  int (*synchronize)(void* stream);

  // Device pointers; launched on `stream` (a cudaStream_t, NULL for the default stream) of the
  // current device. Launch errors are returned; execution errors show at synchronize.
  int (*floatToHalf)(int format, const float* in, uint16_t* out, size_t n, void* stream);
  int (*halfToFloat)(int format, const uint16_t* in, float* out, size_t n, void* stream);
  int (*quantizeInt8)(const float* in, size_t n, size_t blockSize, int8_t* q, float* scales,
                      void* stream);
  int (*dequantizeInt8)(const int8_t* q, const float* scales, size_t n, size_t blockSize,
                        float* out, void* stream);
  int (*dequantizeAccumulateInt8)(const int8_t* q, const float* scales, size_t n, size_t blockSize,
                                  float* acc, void* stream);
} IonetKernelsApi;

typedef const IonetKernelsApi* (*IonetKernelsApiFn)(void);

#ifdef __cplusplus
}
#endif
