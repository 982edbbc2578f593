// CPU reference of blockwise int8 quantization; the per-block arithmetic is in int8_block.h.
#include <algorithm>
#include <cmath>

#include "int8_block.h"
#include "ionet/error.h"
#include "ionet/kernels/compression.h"

namespace ionet::kernels::cpu {
namespace {

void checkShapes(const char* what, std::size_t n, std::size_t blockSize, std::size_t qSize,
                 std::size_t scaleCount) {
  IONET_ENFORCE(blockSize > 0, what, ": block size 0");
  IONET_ENFORCE(qSize == n, what, ": ", n, " values but ", qSize, " int8 slots");
  IONET_ENFORCE(scaleCount == int8BlockCount(n, blockSize), what, ": ", n, " values in blocks of ",
                blockSize, " need ", int8BlockCount(n, blockSize), " scales, got ", scaleCount);
}

}  // namespace

void quantizeInt8(std::span<const float> in, std::size_t blockSize, std::span<std::int8_t> q,
                  std::span<float> scales) {
  checkShapes("quantizeInt8", in.size(), blockSize, q.size(), scales.size());
  for (std::size_t b = 0; b < scales.size(); ++b) {
    const std::size_t begin = b * blockSize;
    const std::size_t end = std::min(begin + blockSize, in.size());
    float absMax = 0.0f;
    bool nonFinite = false;
    for (std::size_t i = begin; i < end; ++i) {
      nonFinite |= !std::isfinite(in[i]);
      if (std::isfinite(in[i])) absMax = std::max(absMax, std::fabs(in[i]));
    }
    const detail::Int8Block block = detail::int8Block(absMax, nonFinite);
    for (std::size_t i = begin; i < end; ++i) q[i] = detail::quantizeValue(in[i], block);
    scales[b] = block.scale;
  }
}

void dequantizeInt8(std::span<const std::int8_t> q, std::span<const float> scales,
                    std::size_t blockSize, std::span<float> out) {
  checkShapes("dequantizeInt8", out.size(), blockSize, q.size(), scales.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    out[i] = detail::dequantizeValue(q[i], scales[i / blockSize]);
  }
}

void dequantizeAccumulateInt8(std::span<const std::int8_t> q, std::span<const float> scales,
                              std::size_t blockSize, std::span<float> acc) {
  checkShapes("dequantizeAccumulateInt8", acc.size(), blockSize, q.size(), scales.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    // A separate statement keeps the product rounded before the sum, as on the GPU.
    const float x = detail::dequantizeValue(q[i], scales[i / blockSize]);
    acc[i] += x;
  }
}

}  // namespace ionet::kernels::cpu
