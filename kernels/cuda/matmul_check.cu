// The compute part of the health check: C = A * B in bf16 on the tensor cores (WMMA, fp32
// accumulation), timed for TFLOP/s, every run compared element by element with a CUDA-core
// reference. Inputs are k/4 with |k| <= 8, so products are multiples of 1/16 of at most 4, and
// every partial sum of n <= 16384 of them needs at most 21 significant bits: exact in fp32, in
// any order and even with truncating adders. Any difference is a fault.
#include <cuda_bf16.h>
#include <mma.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "cuda_check.h"
#include "health_parts.h"

namespace ionet::kernels::cuda {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kBlockTile = 128;  // 2 x 2 warps of 64 x 64 (4 x 4 fragments of 16 x 16)
constexpr int kWarpTile = 64;
constexpr int kFragments = kWarpTile / 16;
constexpr int kSamples = 64;  // reference elements checked on the CPU
constexpr uint32_t kSeedA = 0x1234u, kSeedB = 0xabcdu;

__host__ __device__ inline float inputValue(uint32_t seed, uint64_t index) {
  uint64_t x = index * 0x9e3779b97f4a7c15ull + seed;
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 29;
  return static_cast<float>(static_cast<int>(x % 17) - 8) * 0.25f;
}

__global__ void fillInput(__nv_bfloat16* m, size_t count, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < count;
       i += size_t{gridDim.x} * blockDim.x) {
    m[i] = __float2bfloat16_rn(inputValue(seed, i));  // exact: k/4 needs 4 significant bits
  }
}

// A: n x n row-major. Bt: B's columns as rows (B column-major). C: n x n row-major.
__global__ void __launch_bounds__(128)
    tensorCoreProduct(const __nv_bfloat16* __restrict__ a, const __nv_bfloat16* __restrict__ bt,
                      float* __restrict__ c, int n) {
  const int warp = threadIdx.x / 32;
  const size_t row0 = size_t{blockIdx.y} * kBlockTile + (warp / 2) * kWarpTile;
  const size_t col0 = size_t{blockIdx.x} * kBlockTile + (warp % 2) * kWarpTile;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[kFragments][kFragments];
  for (int i = 0; i < kFragments; ++i) {
    for (int j = 0; j < kFragments; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  }
  for (int k = 0; k < n; k += 16) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa[kFragments];
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fb[kFragments];
    for (int i = 0; i < kFragments; ++i) {
      wmma::load_matrix_sync(fa[i], a + (row0 + 16 * i) * n + k, n);
      wmma::load_matrix_sync(fb[i], bt + (col0 + 16 * i) * n + k, n);
    }
    for (int i = 0; i < kFragments; ++i) {
      for (int j = 0; j < kFragments; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
  }
  for (int i = 0; i < kFragments; ++i) {
    for (int j = 0; j < kFragments; ++j) {
      wmma::store_matrix_sync(c + (row0 + 16 * i) * n + col0 + 16 * j, acc[i][j], n,
                              wmma::mem_row_major);
    }
  }
}

// The reference on the CUDA cores: 16 x 16 tiles through shared memory.
__global__ void referenceProduct(const __nv_bfloat16* __restrict__ a,
                                 const __nv_bfloat16* __restrict__ bt, float* __restrict__ c,
                                 int n) {
  __shared__ float as[16][17], bs[16][17];  // +1: no bank conflicts on the transposed reads
  const int tx = threadIdx.x, ty = threadIdx.y;
  const size_t row = size_t{blockIdx.y} * 16 + ty;
  const size_t colBase = size_t{blockIdx.x} * 16;
  float sum = 0.0f;
  for (int k0 = 0; k0 < n; k0 += 16) {
    as[ty][tx] = __bfloat162float(a[row * n + k0 + tx]);
    bs[ty][tx] = __bfloat162float(bt[(colBase + ty) * n + k0 + tx]);
    __syncthreads();
    for (int k = 0; k < 16; ++k) sum += as[ty][k] * bs[tx][k];
    __syncthreads();
  }
  c[row * n + colBase + tx] = sum;
}

__global__ void countMismatches(const float* __restrict__ c, const float* __restrict__ reference,
                                size_t count, unsigned long long* mismatches) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < count;
       i += size_t{gridDim.x} * blockDim.x) {
    if (c[i] != reference[i]) atomicAdd(mismatches, 1ull);  // NaN counts too
  }
}

class Event {
 public:
  Event() { IONET_CUDA_CHECK(cudaEventCreate(&event_)); }
  ~Event() { cudaEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

unsigned gridFor(size_t items) {
  return static_cast<unsigned>(std::clamp<size_t>((items + 255) / 256, 1, 65535));
}

// Reference elements that differ from the exact value computed here.
uint64_t checkSamplesOnCpu(const float* reference, int n) {
  uint64_t wrong = 0;
  for (int s = 0; s < kSamples; ++s) {
    // Spread over the matrix, corners included.
    const size_t row = (size_t{static_cast<unsigned>(s)} * 2654435761u) % n;
    const size_t col = s == 0   ? 0
                       : s == 1 ? n - 1
                                : (size_t{static_cast<unsigned>(s)} * 40503u) % n;
    float got = 0;
    IONET_CUDA_CHECK(
        cudaMemcpy(&got, reference + row * n + col, sizeof got, cudaMemcpyDeviceToHost));
    double exact = 0;
    for (int k = 0; k < n; ++k) {
      exact +=
          static_cast<double>(inputValue(kSeedA, row * n + k)) * inputValue(kSeedB, col * n + k);
    }
    if (static_cast<double>(got) != exact) ++wrong;
  }
  return wrong;
}

}  // namespace

MatmulResult runMatmulCheck(int n, double seconds) {
  MatmulResult result;
  result.size = n;
  const auto start = std::chrono::steady_clock::now();
  const size_t count = size_t{static_cast<unsigned>(n)} * n;
  DeviceArray<__nv_bfloat16> a(count), bt(count);
  DeviceArray<float> c(count), reference(count);
  DeviceArray<unsigned long long> mismatches(1);
  IONET_CUDA_CHECK(cudaMemset(mismatches.get(), 0, sizeof(unsigned long long)));
  fillInput<<<gridFor(count), 256>>>(a.get(), count, kSeedA);
  fillInput<<<gridFor(count), 256>>>(bt.get(), count, kSeedB);
  referenceProduct<<<dim3(n / 16, n / 16), dim3(16, 16)>>>(a.get(), bt.get(), reference.get(), n);
  IONET_CUDA_CHECK(cudaGetLastError());
  const uint64_t wrongSamples = checkSamplesOnCpu(reference.get(), n);

  const dim3 grid(n / kBlockTile, n / kBlockTile);
  auto runOnce = [&](Event* begin, Event* end) {
    if (begin) IONET_CUDA_CHECK(cudaEventRecord(begin->get()));
    tensorCoreProduct<<<grid, 128>>>(a.get(), bt.get(), c.get(), n);
    if (end) IONET_CUDA_CHECK(cudaEventRecord(end->get()));
    countMismatches<<<gridFor(count), 256>>>(c.get(), reference.get(), count, mismatches.get());
    IONET_CUDA_CHECK(cudaGetLastError());
  };
  runOnce(nullptr, nullptr);  // warm-up: loads the module, wakes the clocks; checked as well
  IONET_CUDA_CHECK(cudaDeviceSynchronize());

  Event begin, end;
  double productMs = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (result.iterations < 2 ||
         (std::chrono::steady_clock::now() < deadline && result.iterations < 100000)) {
    runOnce(&begin, &end);
    IONET_CUDA_CHECK(cudaEventSynchronize(end.get()));
    float ms = 0;
    IONET_CUDA_CHECK(cudaEventElapsedTime(&ms, begin.get(), end.get()));
    productMs += ms;
    ++result.iterations;
  }
  IONET_CUDA_CHECK(cudaDeviceSynchronize());
  unsigned long long wrong = 0;
  IONET_CUDA_CHECK(cudaMemcpy(&wrong, mismatches.get(), sizeof wrong, cudaMemcpyDeviceToHost));
  result.mismatches = wrong + wrongSamples;
  const double flops = 2.0 * n * static_cast<double>(n) * n * result.iterations;
  result.tflops = productMs > 0 ? flops / (productMs * 1e-3) / 1e12 : 0;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace ionet::kernels::cuda
