// The GPU entry points of compression.h: argument checks here, the kernels behind the C ABI.
#include <initializer_list>

#include "cuda_library.h"
#include "ionet/error.h"
#include "ionet/kernels/compression.h"

namespace ionet::kernels::gpu {
namespace {

int abiFormat(HalfFormat format) {
  return format == HalfFormat::kBf16 ? IONET_HALF_BF16 : IONET_HALF_FP16;
}

void checkPointers(const char* what, std::size_t n, std::initializer_list<const void*> pointers) {
  for (const void* p : pointers) {
    IONET_ENFORCE(n == 0 || p != nullptr, what, ": null device pointer for ", n, " values");
  }
}

}  // namespace

void floatToHalf(HalfFormat format, const float* in, std::uint16_t* out, std::size_t n,
                 void* stream) {
  checkPointers("gpu::floatToHalf", n, {in, out});
  const auto& api = detail::cudaApi();
  detail::checkStatus(api.floatToHalf(abiFormat(format), in, out, n, stream), "gpu::floatToHalf");
}

void halfToFloat(HalfFormat format, const std::uint16_t* in, float* out, std::size_t n,
                 void* stream) {
  checkPointers("gpu::halfToFloat", n, {in, out});
  const auto& api = detail::cudaApi();
  detail::checkStatus(api.halfToFloat(abiFormat(format), in, out, n, stream), "gpu::halfToFloat");
}

void quantizeInt8(const float* in, std::size_t n, std::size_t blockSize, std::int8_t* q,
                  float* scales, void* stream) {
  IONET_ENFORCE(blockSize > 0, "gpu::quantizeInt8: block size 0");
  checkPointers("gpu::quantizeInt8", n, {in, q, scales});
  const auto& api = detail::cudaApi();
  detail::checkStatus(api.quantizeInt8(in, n, blockSize, q, scales, stream), "gpu::quantizeInt8");
}

void dequantizeInt8(const std::int8_t* q, const float* scales, std::size_t n, std::size_t blockSize,
                    float* out, void* stream) {
  IONET_ENFORCE(blockSize > 0, "gpu::dequantizeInt8: block size 0");
  checkPointers("gpu::dequantizeInt8", n, {q, scales, out});
  const auto& api = detail::cudaApi();
  detail::checkStatus(api.dequantizeInt8(q, scales, n, blockSize, out, stream),
                      "gpu::dequantizeInt8");
}

void dequantizeAccumulateInt8(const std::int8_t* q, const float* scales, std::size_t n,
                              std::size_t blockSize, float* acc, void* stream) {
  IONET_ENFORCE(blockSize > 0, "gpu::dequantizeAccumulateInt8: block size 0");
  checkPointers("gpu::dequantizeAccumulateInt8", n, {q, scales, acc});
  const auto& api = detail::cudaApi();
  detail::checkStatus(api.dequantizeAccumulateInt8(q, scales, n, blockSize, acc, stream),
                      "gpu::dequantizeAccumulateInt8");
}

}  // namespace ionet::kernels::gpu
