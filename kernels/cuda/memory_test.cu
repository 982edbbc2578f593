// GPU memory test after memtestG80/cuda_memtest: walking ones/zeros (stuck bits, and coupling
// between neighbouring words, which hold complementary values), own address (address-line
// faults and aliasing) and moving inversions (coupling: every word is read, checked and flipped
// in ascending and then descending order; on a GPU "order" holds per thread, not globally).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "cuda_check.h"
#include "health_parts.h"

namespace ionet::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr size_t kMaxGrid = 65535;
constexpr size_t kChunkBytes = size_t{1} << 30;
constexpr size_t kMinChunkBytes = size_t{64} << 20;
constexpr size_t kGranule = size_t{2} << 20;  // cudaMalloc's own granularity

enum class Fill : int { kConstant, kAlternating, kAddress, kRandom };

struct Pattern {
  Fill fill;
  uint32_t value;  // the constant, the walking bit's word, or the random seed
  bool inverted;
  Pattern operator~() const { return {fill, value, !inverted}; }
};

struct ErrorLog {
  unsigned long long count;
  unsigned long long firstWord;
  uint32_t expected, actual;
};

__device__ __forceinline__ uint32_t mix(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return static_cast<uint32_t>(x);
}

// word: index in the whole tested region, so that patterns do not repeat per chunk.
__device__ __forceinline__ uint32_t expectedWord(const Pattern& p, const uint32_t* address,
                                                 uint64_t word) {
  uint32_t v;
  switch (p.fill) {
    case Fill::kConstant:
      v = p.value;
      break;
    case Fill::kAlternating:
      v = (word & 1) ? ~p.value : p.value;
      break;
    case Fill::kAddress: {
      const uint64_t a = reinterpret_cast<uintptr_t>(address) >> 2;
      v = static_cast<uint32_t>(a) ^ static_cast<uint32_t>(a >> 32);
      break;
    }
    default:
      v = mix(word ^ (static_cast<uint64_t>(p.value) << 40));
      break;
  }
  return p.inverted ? ~v : v;
}

__device__ __forceinline__ void logError(ErrorLog* log, uint64_t word, uint32_t expected,
                                         uint32_t actual) {
  // The first reporter fills in the details; the host reads them only after the kernel.
  if (atomicAdd(&log->count, 1ull) == 0) {
    log->firstWord = word;
    log->expected = expected;
    log->actual = actual;
  }
}

__global__ void fillWords(uint32_t* __restrict__ p, size_t n, uint64_t firstWord, Pattern pat) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    p[i] = expectedWord(pat, p + i, firstWord + i);
  }
}

__global__ void checkWords(const uint32_t* __restrict__ p, size_t n, uint64_t firstWord,
                           Pattern pat, ErrorLog* log) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    const uint32_t expected = expectedWord(pat, p + i, firstWord + i);
    const uint32_t actual = p[i];
    if (actual != expected) logError(log, firstWord + i, expected, actual);
  }
}

// One step of moving inversions: check each word against pat, then write its complement.
__global__ void checkAndInvert(uint32_t* __restrict__ p, size_t n, uint64_t firstWord, Pattern pat,
                               bool descending, ErrorLog* log) {
  for (size_t k = blockIdx.x * size_t{blockDim.x} + threadIdx.x; k < n;
       k += size_t{gridDim.x} * blockDim.x) {
    const size_t i = descending ? n - 1 - k : k;
    const uint32_t expected = expectedWord(pat, p + i, firstWord + i);
    const uint32_t actual = p[i];
    if (actual != expected) logError(log, firstWord + i, expected, actual);
    p[i] = ~expected;
  }
}

struct Chunk {
  uint32_t* words;
  size_t count;
  uint64_t firstWord;
};

class MemoryTester {
 public:
  explicit MemoryTester(MemoryTestResult& result) : result_(result), log_(1) {
    IONET_CUDA_CHECK(cudaMemset(log_.get(), 0, sizeof(ErrorLog)));
  }
  ~MemoryTester() {
    for (const Chunk& c : chunks_) cudaFree(c.words);
  }
  MemoryTester(const MemoryTester&) = delete;
  MemoryTester& operator=(const MemoryTester&) = delete;

  // As much of `bytes` as cudaMalloc grants, in chunks (one huge allocation fails more often).
  void allocate(size_t bytes) {
    size_t chunk = kChunkBytes;
    size_t total = 0;
    while (total < bytes) {
      const size_t size = std::min(chunk, bytes - total);
      void* p = nullptr;
      const cudaError_t e = cudaMalloc(&p, size);
      if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError();  // not sticky: clear it and try smaller pieces
        if (chunk <= kMinChunkBytes) break;
        chunk /= 2;
        continue;
      }
      if (e != cudaSuccess) throwCudaError("cudaMalloc", e);
      chunks_.push_back({static_cast<uint32_t*>(p), size / 4, total / 4});
      total += size;
    }
    result_.testedBytes = total;
  }

  void fill(Pattern pat) {
    for (const Chunk& c : chunks_) {
      fillWords<<<grid(c), kThreads>>>(c.words, c.count, c.firstWord, pat);
    }
    IONET_CUDA_CHECK(cudaGetLastError());
  }

  void check(Pattern pat, const std::string& test) {
    for (const Chunk& c : chunks_) {
      checkWords<<<grid(c), kThreads>>>(c.words, c.count, c.firstWord, pat, log_.get());
    }
    IONET_CUDA_CHECK(cudaGetLastError());
    noteErrors(test);
  }

  void checkAndInvertAll(Pattern pat, bool descending, const std::string& test) {
    for (size_t k = 0; k < chunks_.size(); ++k) {
      const Chunk& c = chunks_[descending ? chunks_.size() - 1 - k : k];
      checkAndInvert<<<grid(c), kThreads>>>(c.words, c.count, c.firstWord, pat, descending,
                                            log_.get());
    }
    IONET_CUDA_CHECK(cudaGetLastError());
    noteErrors(test);
  }

 private:
  static unsigned grid(const Chunk& c) {
    return static_cast<unsigned>(
        std::clamp<size_t>((c.count + kThreads - 1) / kThreads, 1, kMaxGrid));
  }

  // Waits for the test and, when it found the first errors, records which test it was.
  void noteErrors(const std::string& test) {
    ErrorLog log;
    IONET_CUDA_CHECK(cudaMemcpy(&log, log_.get(), sizeof log, cudaMemcpyDeviceToHost));
    if (log.count > 0 && result_.errors == 0) {
      result_.firstErrorOffset = log.firstWord * 4;
      result_.firstErrorExpected = log.expected;
      result_.firstErrorActual = log.actual;
      result_.firstErrorTest = test;
    }
    result_.errors = log.count;
  }

  MemoryTestResult& result_;
  DeviceArray<ErrorLog> log_;
  std::vector<Chunk> chunks_;
};

}  // namespace

MemoryTestResult runMemoryTest(double fraction) {
  MemoryTestResult result;
  if (fraction <= 0) return result;
  const auto start = std::chrono::steady_clock::now();
  MemoryTester tester(result);
  size_t freeBytes = 0, totalBytes = 0;
  IONET_CUDA_CHECK(cudaMemGetInfo(&freeBytes, &totalBytes));
  const size_t target =
      static_cast<size_t>(static_cast<double>(freeBytes) * fraction) / kGranule * kGranule;
  tester.allocate(target);
  if (result.testedBytes == 0) {
    throw CudaError("memory test: could not allocate any of " + std::to_string(target) + " bytes",
                    cudaErrorMemoryAllocation);
  }

  for (uint32_t bit = 0; bit < 32; ++bit) {
    const Pattern walking{Fill::kAlternating, 1u << bit, false};
    tester.fill(walking);
    tester.check(walking, "walking ones/zeros, bit " + std::to_string(bit));
  }

  const Pattern address{Fill::kAddress, 0, false};
  tester.fill(address);
  tester.check(address, "own address");
  tester.fill(~address);
  tester.check(~address, "own address, inverted");

  const Pattern inversions[] = {{Fill::kConstant, 0x00000000u, false},
                                {Fill::kConstant, 0x55555555u, false},
                                {Fill::kRandom, 1, false},
                                {Fill::kRandom, 2, false}};
  for (const Pattern& p : inversions) {
    char what[32];
    std::snprintf(what, sizeof what, p.fill == Fill::kRandom ? "random %u" : "0x%08x", p.value);
    const std::string name = std::string("moving inversions, ") + what;
    tester.fill(p);
    tester.checkAndInvertAll(p, false, name + ", ascending");
    tester.checkAndInvertAll(~p, true, name + ", descending");
    tester.check(p, name + ", final");
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace ionet::kernels::cuda
