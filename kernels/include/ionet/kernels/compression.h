// Compression of fp32 buffers for the WAN collectives: fp32 <-> bf16/fp16 and blockwise int8.
// The CPU functions (namespace cpu) define the results; the GPU entry points (namespace gpu) take
// device pointers and produce the same bits (NaN payloads aside). Error bounds: docs/kernels.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ionet::kernels {

enum class HalfFormat { kBf16, kFp16 };
const char* toString(HalfFormat format);

// One value, round to nearest even. NaN stays NaN (quiet, sign kept), ±Inf stays ±Inf, values
// beyond the format's range become ±Inf, subnormals are produced and read exactly.
std::uint16_t floatToBf16(float x);
float bf16ToFloat(std::uint16_t h);  // exact
std::uint16_t floatToFp16(float x);
float fp16ToFloat(std::uint16_t h);  // exact

// Int8 blocks: element i belongs to block i / blockSize; the last block may be shorter.
constexpr std::size_t int8BlockCount(std::size_t n, std::size_t blockSize) {
  return blockSize == 0 ? 0 : (n + blockSize - 1) / blockSize;
}

namespace cpu {

// in.size() == out.size(); otherwise ionet::Error.
void floatToHalf(HalfFormat format, std::span<const float> in, std::span<std::uint16_t> out);
void halfToFloat(HalfFormat format, std::span<const std::uint16_t> in, std::span<float> out);

// Per block: scale = max|x| / 127 (rounded toward zero), q = round-to-nearest-even(x * 127 /
// max|x|) in [-127, 127]. An all-zero block has scale 0; a block holding NaN or ±Inf has scale
// NaN and q = 0, so it comes back as NaN. q.size() == in.size(), scales.size() ==
// int8BlockCount(in.size(), blockSize), blockSize > 0; otherwise ionet::Error.
void quantizeInt8(std::span<const float> in, std::size_t blockSize, std::span<std::int8_t> q,
                  std::span<float> scales);
// out[i] = q[i] * scales[i / blockSize].
void dequantizeInt8(std::span<const std::int8_t> q, std::span<const float> scales,
                    std::size_t blockSize, std::span<float> out);
// acc[i] += q[i] * scales[i / blockSize]: the product is rounded, then the sum (never fused).
void dequantizeAccumulateInt8(std::span<const std::int8_t> q, std::span<const float> scales,
                              std::size_t blockSize, std::span<float> acc);

}  // namespace cpu

// Device pointers, launched asynchronously on `stream` (a cudaStream_t; nullptr: the default
// stream) of the current device (gpu::setDevice). Throw gpu::NoGpu when no GPU can be used,
// ionet::Error when the launch fails; faults during execution show at gpu::synchronize.
// Fastest when pointers are 16-byte aligned and blockSize is a multiple of 4 (ideally >= 128).
namespace gpu {

void floatToHalf(HalfFormat format, const float* in, std::uint16_t* out, std::size_t n,
                 void* stream = nullptr);
void halfToFloat(HalfFormat format, const std::uint16_t* in, float* out, std::size_t n,
                 void* stream = nullptr);
// scales holds int8BlockCount(n, blockSize) floats.
void quantizeInt8(const float* in, std::size_t n, std::size_t blockSize, std::int8_t* q,
                  float* scales, void* stream = nullptr);
void dequantizeInt8(const std::int8_t* q, const float* scales, std::size_t n, std::size_t blockSize,
                    float* out, void* stream = nullptr);
void dequantizeAccumulateInt8(const std::int8_t* q, const float* scales, std::size_t n,
                              std::size_t blockSize, float* acc, void* stream = nullptr);

}  // namespace gpu
}  // namespace ionet::kernels
