// The arithmetic of one int8 block, shared by the CPU reference and the CUDA kernels so that both
// produce the same bits. Every step is a single IEEE operation with round-to-nearest (nvcc's
// defaults: -prec-div=true, no flush to zero), and nothing here can be contracted into an FMA.
#pragma once

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define IONET_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define IONET_HOST_DEVICE inline
#endif

namespace ionet::kernels::detail {

// Below this max|x|, 127 / max|x| overflows for subnormal blocks; such blocks are scaled by 2^64
// first, which is exact.
constexpr float kSmallBlockMax = 0x1p-64f;
constexpr float kSmallBlockPrescale = 0x1p64f;

struct Int8Block {
  float scale = 0;       // what dequantization multiplies by
  float prescale = 1;    // quantization: q = rint((x * prescale) * multiplier)
  float multiplier = 0;  // 0: every q is 0 (all-zero or non-finite block)
};

// absMax: max |x| over the block's finite values; nonFinite: the block holds NaN or ±Inf.
IONET_HOST_DEVICE Int8Block int8Block(float absMax, bool nonFinite) {
  Int8Block b;
  if (nonFinite) {
    b.scale = NAN;
    return b;
  }
  if (absMax == 0.0f) return b;
  // Rounded toward zero, so that 127 * scale <= absMax and dequantizing max|x| = FLT_MAX cannot
  // overflow. The check in double is exact (24 + 7 significant bits).
  float s = absMax / 127.0f;
  if (static_cast<double>(s) * 127.0 > static_cast<double>(absMax)) s = nextafterf(s, 0.0f);
  b.scale = s;
  if (absMax >= kSmallBlockMax) {
    b.multiplier = 127.0f / absMax;
  } else {
    b.prescale = kSmallBlockPrescale;
    b.multiplier = 127.0f / (absMax * kSmallBlockPrescale);
  }
  return b;
}

IONET_HOST_DEVICE int8_t quantizeValue(float x, const Int8Block& b) {
  if (b.multiplier == 0.0f) return 0;
  float y = rintf((x * b.prescale) * b.multiplier);  // rintf: to nearest even
  return static_cast<int8_t>(fminf(fmaxf(y, -127.0f), 127.0f));
}

IONET_HOST_DEVICE float dequantizeValue(int8_t q, float scale) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(static_cast<float>(q), scale);  // an intrinsic: never fused with an add
#else
  return static_cast<float>(q) * scale;
#endif
}

}  // namespace ionet::kernels::detail
