// Compression kernels: fp32 <-> bf16/fp16 with the hardware's round-to-nearest-even conversions,
// and blockwise int8 (quantize, dequantize, dequantize-and-accumulate) with int8_block.h's
// arithmetic. All are memory bound: 16-byte loads where alignment allows, grid-stride loops.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "compression_kernels.h"
#include "cuda_abi.h"
#include "cuda_check.h"
#include "int8_block.h"

namespace ionet::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr size_t kMaxGrid = 65535;  // grid-stride loops cover the rest
// Blocks up to this size get one warp each (a shuffle reduction, no atomics); larger ones are
// split into tiles of one thread block, whose maxima meet through atomicMax.
constexpr size_t kWarpBlockMax = 4096;
constexpr size_t kTile = 4096;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr uint32_t kInfBits = 0x7f800000u;

unsigned gridFor(size_t items, size_t perBlock) {
  return static_cast<unsigned>(std::clamp<size_t>((items + perBlock - 1) / perBlock, 1, kMaxGrid));
}

bool aligned(const void* p, size_t alignment) {
  return reinterpret_cast<uintptr_t>(p) % alignment == 0;
}

__device__ __forceinline__ size_t minSize(size_t a, size_t b) { return a < b ? a : b; }

__device__ __forceinline__ size_t globalThread() {
  return blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
}

__device__ __forceinline__ size_t gridThreads() {
  return static_cast<size_t>(gridDim.x) * blockDim.x;
}

struct Bf16 {
  __device__ static uint16_t encode(float x) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(x));
  }
  __device__ static uint32_t encode2(float a, float b) {
    const __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
    return __bfloat16_as_ushort(h.x) | (static_cast<uint32_t>(__bfloat16_as_ushort(h.y)) << 16);
  }
  __device__ static float decode(uint32_t h) { return __uint_as_float(h << 16); }
};

struct Fp16 {
  __device__ static uint16_t encode(float x) { return __half_as_ushort(__float2half_rn(x)); }
  __device__ static uint32_t encode2(float a, float b) {
    const __half2 h = __floats2half2_rn(a, b);
    return __half_as_ushort(h.x) | (static_cast<uint32_t>(__half_as_ushort(h.y)) << 16);
  }
  __device__ static float decode(uint32_t h) {
    return __half2float(__ushort_as_half(static_cast<unsigned short>(h)));
  }
};

// groups of 4 values through 16-byte loads; the first `tail` threads convert the rest.
template <class Format>
__global__ void encodeVec4(const float4* __restrict__ in, uint2* __restrict__ out, size_t groups,
                           const float* __restrict__ tailIn, uint16_t* __restrict__ tailOut,
                           size_t tail) {
  for (size_t i = globalThread(); i < groups; i += gridThreads()) {
    const float4 v = in[i];
    out[i] = make_uint2(Format::encode2(v.x, v.y), Format::encode2(v.z, v.w));
  }
  if (globalThread() < tail) tailOut[globalThread()] = Format::encode(tailIn[globalThread()]);
}

template <class Format>
__global__ void encodeScalar(const float* __restrict__ in, uint16_t* __restrict__ out, size_t n) {
  for (size_t i = globalThread(); i < n; i += gridThreads()) out[i] = Format::encode(in[i]);
}

template <class Format>
__global__ void decodeVec4(const uint2* __restrict__ in, float4* __restrict__ out, size_t groups,
                           const uint16_t* __restrict__ tailIn, float* __restrict__ tailOut,
                           size_t tail) {
  for (size_t i = globalThread(); i < groups; i += gridThreads()) {
    const uint2 w = in[i];
    out[i] = make_float4(Format::decode(w.x & 0xffffu), Format::decode(w.x >> 16),
                         Format::decode(w.y & 0xffffu), Format::decode(w.y >> 16));
  }
  if (globalThread() < tail) tailOut[globalThread()] = Format::decode(tailIn[globalThread()]);
}

template <class Format>
__global__ void decodeScalar(const uint16_t* __restrict__ in, float* __restrict__ out, size_t n) {
  for (size_t i = globalThread(); i < n; i += gridThreads()) out[i] = Format::decode(in[i]);
}

template <class Format>
void encode(const float* in, uint16_t* out, size_t n, cudaStream_t stream) {
  if (aligned(in, 16) && aligned(out, 8)) {
    const size_t groups = n / 4, done = groups * 4;
    encodeVec4<Format>
        <<<gridFor(std::max<size_t>(groups, n - done), kThreads), kThreads, 0, stream>>>(
            reinterpret_cast<const float4*>(in), reinterpret_cast<uint2*>(out), groups, in + done,
            out + done, n - done);
  } else {
    encodeScalar<Format><<<gridFor(n, kThreads), kThreads, 0, stream>>>(in, out, n);
  }
}

template <class Format>
void decode(const uint16_t* in, float* out, size_t n, cudaStream_t stream) {
  if (aligned(in, 8) && aligned(out, 16)) {
    const size_t groups = n / 4, done = groups * 4;
    decodeVec4<Format>
        <<<gridFor(std::max<size_t>(groups, n - done), kThreads), kThreads, 0, stream>>>(
            reinterpret_cast<const uint2*>(in), reinterpret_cast<float4*>(out), groups, in + done,
            out + done, n - done);
  } else {
    decodeScalar<Format><<<gridFor(n, kThreads), kThreads, 0, stream>>>(in, out, n);
  }
}

// |x| as bits: for non-negative floats the integer order is the numeric order, and every NaN or
// Inf is >= kInfBits, so one integer max yields both max|x| and "holds a non-finite value".
__device__ __forceinline__ uint32_t absBits(float x) { return __float_as_uint(x) & 0x7fffffffu; }

__device__ __forceinline__ detail::Int8Block blockFromMaxBits(uint32_t maxBits) {
  const bool nonFinite = maxBits >= kInfBits;
  return detail::int8Block(nonFinite ? 0.0f : __uint_as_float(maxBits), nonFinite);
}

__device__ __forceinline__ char4 quantize4(const float4& v, const detail::Int8Block& b) {
  return make_char4(detail::quantizeValue(v.x, b), detail::quantizeValue(v.y, b),
                    detail::quantizeValue(v.z, b), detail::quantizeValue(v.w, b));
}

__device__ __forceinline__ float4 dequantize4(char4 c, float s) {
  return make_float4(detail::dequantizeValue(c.x, s), detail::dequantizeValue(c.y, s),
                     detail::dequantizeValue(c.z, s), detail::dequantizeValue(c.w, s));
}

// The span [begin, end) of a block or tile: 16-byte steps up to vecEnd (kVec: begin is a
// multiple of 4 and the buffers are aligned), single elements after.
struct Span {
  size_t begin, vecEnd, end;
};

template <bool kVec>
__device__ __forceinline__ Span makeSpan(size_t begin, size_t end) {
  return {begin, kVec ? begin + ((end - begin) & ~size_t{3}) : begin, end};
}

// Visits the span with `first` (lane/thread index) and `step` (threads working on it).
template <bool kVec, class Vec4Fn, class OneFn>
__device__ __forceinline__ void forSpan(const Span& s, size_t first, size_t step, Vec4Fn vec4,
                                        OneFn one) {
  if (kVec) {
    for (size_t i = s.begin + 4 * first; i < s.vecEnd; i += 4 * step) vec4(i);
  }
  for (size_t i = s.vecEnd + first; i < s.end; i += step) one(i);
}

template <bool kVec>
__device__ __forceinline__ uint32_t spanMaxBits(const float* __restrict__ in, const Span& s,
                                                size_t first, size_t step) {
  uint32_t m = 0;
  forSpan<kVec>(
      s, first, step,
      [&](size_t i) {
        const float4 v = *reinterpret_cast<const float4*>(in + i);
        m = max(max(m, absBits(v.x)), max(max(absBits(v.y), absBits(v.z)), absBits(v.w)));
      },
      [&](size_t i) { m = max(m, absBits(in[i])); });
  return m;
}

template <bool kVec>
__device__ __forceinline__ void quantizeSpan(const float* __restrict__ in, int8_t* __restrict__ q,
                                             const Span& s, size_t first, size_t step,
                                             const detail::Int8Block& b) {
  forSpan<kVec>(
      s, first, step,
      [&](size_t i) {
        *reinterpret_cast<char4*>(q + i) = quantize4(*reinterpret_cast<const float4*>(in + i), b);
      },
      [&](size_t i) { q[i] = detail::quantizeValue(in[i], b); });
}

template <bool kVec, bool kAccumulate>
__device__ __forceinline__ void dequantizeSpan(const int8_t* __restrict__ q,
                                               float* __restrict__ out, const Span& s, size_t first,
                                               size_t step, float scale) {
  forSpan<kVec>(
      s, first, step,
      [&](size_t i) {
        float4 x = dequantize4(*reinterpret_cast<const char4*>(q + i), scale);
        float4* o = reinterpret_cast<float4*>(out + i);
        if (kAccumulate) {
          const float4 a = *o;
          x = make_float4(a.x + x.x, a.y + x.y, a.z + x.z, a.w + x.w);
        }
        *o = x;
      },
      [&](size_t i) {
        const float x = detail::dequantizeValue(q[i], scale);
        out[i] = kAccumulate ? out[i] + x : x;
      });
}

// kLanes lanes per block (blockSize <= kWarpBlockMax): a whole warp for blocks of 256 values
// and more, while smaller blocks share a warp (16 or 8 lanes each) so that each lane still has
// two 16-byte loads in flight. With one warp per 128-value block, int8 quantize ran at 61 % of
// the device-to-device copy bandwidth on an H200 (95 % with blocks of 256).
template <bool kVec, unsigned kLanes>
__global__ void quantizeWarps(const float* __restrict__ in, size_t n, size_t blockSize,
                              size_t blocks, int8_t* __restrict__ q, float* __restrict__ scales) {
  constexpr unsigned kPerWarp = 32 / kLanes;
  const unsigned lane = threadIdx.x & 31u;
  const unsigned sub = lane % kLanes;
  // w is the same in all lanes of a warp, so every lane reaches the shuffles; lanes past the
  // last block take part with an empty span.
  for (size_t w = globalThread() / 32; w * kPerWarp < blocks; w += gridThreads() / 32) {
    const size_t b = w * kPerWarp + lane / kLanes;
    const bool active = b < blocks;
    const Span s = active ? makeSpan<kVec>(b * blockSize, minSize(b * blockSize + blockSize, n))
                          : Span{0, 0, 0};
    uint32_t maxBits = spanMaxBits<kVec>(in, s, sub, kLanes);
    if constexpr (kLanes == 32) {
      maxBits = __reduce_max_sync(kFullMask, maxBits);
    } else {
      for (unsigned offset = kLanes / 2; offset > 0; offset /= 2) {
        maxBits = max(maxBits, __shfl_xor_sync(kFullMask, maxBits, offset));
      }
    }
    const detail::Int8Block block = blockFromMaxBits(maxBits);
    quantizeSpan<kVec>(in, q, s, sub, kLanes, block);
    if (active && sub == 0) scales[b] = block.scale;
  }
}

template <bool kVec, unsigned kLanes>
void launchQuantizeWarps(const float* in, size_t n, size_t blockSize, size_t blocks, int8_t* q,
                         float* scales, cudaStream_t stream) {
  const size_t warps = (blocks + 32 / kLanes - 1) / (32 / kLanes);
  quantizeWarps<kVec, kLanes>
      <<<gridFor(warps * 32, kThreads), kThreads, 0, stream>>>(in, n, blockSize, blocks, q, scales);
}

// kLanes lanes per block, as quantizeWarps (no reduction here, so lanes simply skip a block
// past the last one). One warp per 64-value block ran dequantize at 54 % of the copy bandwidth.
template <bool kVec, bool kAccumulate, unsigned kLanes>
__global__ void dequantizeWarps(const int8_t* __restrict__ q, const float* __restrict__ scales,
                                size_t n, size_t blockSize, size_t blocks,
                                float* __restrict__ out) {
  constexpr unsigned kPerWarp = 32 / kLanes;
  const unsigned lane = threadIdx.x & 31u;
  const unsigned sub = lane % kLanes;
  for (size_t w = globalThread() / 32; w * kPerWarp < blocks; w += gridThreads() / 32) {
    const size_t b = w * kPerWarp + lane / kLanes;
    if (b >= blocks) continue;
    const Span s = makeSpan<kVec>(b * blockSize, minSize(b * blockSize + blockSize, n));
    dequantizeSpan<kVec, kAccumulate>(q, out, s, sub, kLanes, scales[b]);
  }
}

template <bool kVec, bool kAccumulate, unsigned kLanes>
void launchDequantizeWarps(const int8_t* q, const float* scales, size_t n, size_t blockSize,
                           size_t blocks, float* out, cudaStream_t stream) {
  const size_t warps = (blocks + 32 / kLanes - 1) / (32 / kLanes);
  dequantizeWarps<kVec, kAccumulate, kLanes>
      <<<gridFor(warps * 32, kThreads), kThreads, 0, stream>>>(q, scales, n, blockSize, blocks,
                                                                out);
}

// Tiles of large blocks: tile t is piece t % tilesPerBlock of block t / tilesPerBlock (the last
// block may end before its last pieces, which are then empty).
struct Tile {
  size_t block;
  size_t begin, end;
};

__device__ __forceinline__ Tile tileAt(size_t t, size_t tilesPerBlock, size_t blockSize, size_t n) {
  const size_t b = t / tilesPerBlock;
  const size_t blockEnd = minSize(b * blockSize + blockSize, n);
  const size_t begin = minSize(b * blockSize + (t - b * tilesPerBlock) * kTile, blockEnd);
  return {b, begin, minSize(begin + kTile, blockEnd)};
}

// Pass 1 of large blocks: max |x| bits of each block into scales[b] (zeroed before).
template <bool kVec>
__global__ void maxBitsTiles(const float* __restrict__ in, size_t n, size_t blockSize,
                             size_t tilesPerBlock, size_t tiles, float* scales) {
  for (size_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const Tile tile = tileAt(t, tilesPerBlock, blockSize, n);
    const Span s = makeSpan<kVec>(tile.begin, tile.end);
    const uint32_t m =
        __reduce_max_sync(kFullMask, spanMaxBits<kVec>(in, s, threadIdx.x, kThreads));
    if ((threadIdx.x & 31u) == 0 && m != 0) {
      atomicMax(reinterpret_cast<unsigned*>(scales + tile.block), m);
    }
  }
}

// Pass 2: quantize with the block's maximum.
template <bool kVec>
__global__ void quantizeTiles(const float* __restrict__ in, size_t n, size_t blockSize,
                              size_t tilesPerBlock, size_t tiles, int8_t* __restrict__ q,
                              const float* __restrict__ maxBits) {
  for (size_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const Tile tile = tileAt(t, tilesPerBlock, blockSize, n);
    const detail::Int8Block block = blockFromMaxBits(__float_as_uint(maxBits[tile.block]));
    quantizeSpan<kVec>(in, q, makeSpan<kVec>(tile.begin, tile.end), threadIdx.x, kThreads, block);
  }
}

// Pass 3: the maxima become scales.
__global__ void finishScales(float* scales, size_t blocks) {
  for (size_t b = globalThread(); b < blocks; b += gridThreads()) {
    scales[b] = blockFromMaxBits(__float_as_uint(scales[b])).scale;
  }
}

template <bool kVec, bool kAccumulate>
__global__ void dequantizeTiles(const int8_t* __restrict__ q, const float* __restrict__ scales,
                                size_t n, size_t blockSize, size_t tilesPerBlock, size_t tiles,
                                float* __restrict__ out) {
  for (size_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const Tile tile = tileAt(t, tilesPerBlock, blockSize, n);
    dequantizeSpan<kVec, kAccumulate>(q, out, makeSpan<kVec>(tile.begin, tile.end), threadIdx.x,
                                      kThreads, scales[tile.block]);
  }
}

template <bool kVec>
void quantize(const float* in, size_t n, size_t blockSize, int8_t* q, float* scales,
              cudaStream_t stream) {
  const size_t blocks = (n + blockSize - 1) / blockSize;
  if (blockSize >= 256 && blockSize <= kWarpBlockMax) {
    return launchQuantizeWarps<kVec, 32>(in, n, blockSize, blocks, q, scales, stream);
  }
  if (blockSize >= 128 && blockSize <= kWarpBlockMax) {
    return launchQuantizeWarps<kVec, 16>(in, n, blockSize, blocks, q, scales, stream);
  }
  if (blockSize <= kWarpBlockMax) {
    return launchQuantizeWarps<kVec, 8>(in, n, blockSize, blocks, q, scales, stream);
  }
  const size_t tilesPerBlock = (blockSize + kTile - 1) / kTile;
  const size_t tiles = blocks * tilesPerBlock;
  const unsigned grid = gridFor(tiles, 1);
  IONET_CUDA_CHECK(cudaMemsetAsync(scales, 0, blocks * sizeof(float), stream));
  maxBitsTiles<kVec><<<grid, kThreads, 0, stream>>>(in, n, blockSize, tilesPerBlock, tiles, scales);
  quantizeTiles<kVec>
      <<<grid, kThreads, 0, stream>>>(in, n, blockSize, tilesPerBlock, tiles, q, scales);
  finishScales<<<gridFor(blocks, kThreads), kThreads, 0, stream>>>(scales, blocks);
}

template <bool kVec, bool kAccumulate>
void dequantize(const int8_t* q, const float* scales, size_t n, size_t blockSize, float* out,
                cudaStream_t stream) {
  const size_t blocks = (n + blockSize - 1) / blockSize;
  if (blockSize >= 256 && blockSize <= kWarpBlockMax) {
    return launchDequantizeWarps<kVec, kAccumulate, 32>(q, scales, n, blockSize, blocks, out,
                                                        stream);
  }
  if (blockSize >= 128 && blockSize <= kWarpBlockMax) {
    return launchDequantizeWarps<kVec, kAccumulate, 16>(q, scales, n, blockSize, blocks, out,
                                                        stream);
  }
  if (blockSize <= kWarpBlockMax) {
    return launchDequantizeWarps<kVec, kAccumulate, 8>(q, scales, n, blockSize, blocks, out,
                                                       stream);
  }
  const size_t tilesPerBlock = (blockSize + kTile - 1) / kTile;
  const size_t tiles = blocks * tilesPerBlock;
  dequantizeTiles<kVec, kAccumulate><<<gridFor(tiles, 1), kThreads, 0, stream>>>(
      q, scales, n, blockSize, tilesPerBlock, tiles, out);
}

void checkLaunch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throwCudaError(what, e);
}

void checkArguments(const char* what, size_t blockSize, bool format = true) {
  if (blockSize == 0) throw CudaError(std::string(what) + ": block size 0", cudaErrorInvalidValue);
  if (!format) throw CudaError(std::string(what) + ": unknown half format", cudaErrorInvalidValue);
}

}  // namespace

void floatToHalf(int format, const float* in, uint16_t* out, size_t n, cudaStream_t stream) {
  checkArguments("floatToHalf", 1, format == IONET_HALF_BF16 || format == IONET_HALF_FP16);
  if (n == 0) return;
  if (format == IONET_HALF_BF16) {
    encode<Bf16>(in, out, n, stream);
  } else {
    encode<Fp16>(in, out, n, stream);
  }
  checkLaunch("floatToHalf kernel launch");
}

void halfToFloat(int format, const uint16_t* in, float* out, size_t n, cudaStream_t stream) {
  checkArguments("halfToFloat", 1, format == IONET_HALF_BF16 || format == IONET_HALF_FP16);
  if (n == 0) return;
  if (format == IONET_HALF_BF16) {
    decode<Bf16>(in, out, n, stream);
  } else {
    decode<Fp16>(in, out, n, stream);
  }
  checkLaunch("halfToFloat kernel launch");
}

void quantizeInt8(const float* in, size_t n, size_t blockSize, int8_t* q, float* scales,
                  cudaStream_t stream) {
  checkArguments("quantizeInt8", blockSize);
  if (n == 0) return;
  if (blockSize % 4 == 0 && aligned(in, 16) && aligned(q, 4)) {
    quantize<true>(in, n, blockSize, q, scales, stream);
  } else {
    quantize<false>(in, n, blockSize, q, scales, stream);
  }
  checkLaunch("quantizeInt8 kernel launch");
}

void dequantizeInt8(const int8_t* q, const float* scales, size_t n, size_t blockSize, float* out,
                    bool accumulate, cudaStream_t stream) {
  checkArguments(accumulate ? "dequantizeAccumulateInt8" : "dequantizeInt8", blockSize);
  if (n == 0) return;
  const bool vec = blockSize % 4 == 0 && aligned(q, 4) && aligned(out, 16);
  if (vec && accumulate) {
    dequantize<true, true>(q, scales, n, blockSize, out, stream);
  } else if (vec) {
    dequantize<true, false>(q, scales, n, blockSize, out, stream);
  } else if (accumulate) {
    dequantize<false, true>(q, scales, n, blockSize, out, stream);
  } else {
    dequantize<false, false>(q, scales, n, blockSize, out, stream);
  }
  checkLaunch(accumulate ? "dequantizeAccumulateInt8 kernel launch"
                         : "dequantizeInt8 kernel launch");
}

}  // namespace ionet::kernels::cuda
