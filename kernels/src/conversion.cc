// CPU reference of fp32 <-> bf16/fp16: bit manipulation, round to nearest even, no hardware help.
#include <bit>
#include <cmath>
#include <cstdint>

#include "ionet/error.h"
#include "ionet/kernels/compression.h"

namespace ionet::kernels {

const char* toString(HalfFormat format) { return format == HalfFormat::kBf16 ? "bf16" : "fp16"; }

std::uint16_t floatToBf16(float x) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    // NaN: keep sign and the top payload bits, set the quiet bit so that a payload living only
    // in the dropped low bits cannot turn it into Inf.
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  }
  // Adding 0x7fff plus the kept LSB rounds half to even; a carry moves into the exponent, and
  // past the largest finite bf16 it yields exactly Inf (0x7f80).
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(bits >> 16);
}

float bf16ToFloat(std::uint16_t h) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

std::uint16_t floatToFp16(float x) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x1ffu));
  // 65520 (0x477ff000) is the tie between 65504, the largest fp16, and 2^16: even is Inf.
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);
  if (abs >= 0x38800000u) {                               // >= 2^-14: a normal fp16
    std::uint32_t r = abs + 0xfffu + ((abs >> 13) & 1u);  // round the 13 dropped bits to even
    r -= (127u - 15u) << 23;                              // rebias the exponent
    return static_cast<std::uint16_t>(sign | (r >> 13));
  }
  // Subnormal fp16 (units of 2^-24) or zero. 2^-25 itself is the tie between 0 and 2^-24.
  if (abs <= 0x33000000u) return static_cast<std::uint16_t>(sign);
  const std::uint32_t exponent = abs >> 23;  // 102..112 here
  const std::uint32_t significand = (abs & 0x7fffffu) | 0x800000u;
  const std::uint32_t shift = 126u - exponent;  // value / 2^-24 = significand >> shift
  const std::uint32_t rest = significand & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1u);
  std::uint32_t r = significand >> shift;
  if (rest > half || (rest == half && (r & 1u))) ++r;  // may carry into the smallest normal
  return static_cast<std::uint16_t>(sign | r);
}

float fp16ToFloat(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    // Subnormal or zero: mantissa * 2^-24, exact in fp32.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 127u - 15u) << 23) | (mantissa << 13));
}

namespace cpu {

void floatToHalf(HalfFormat format, std::span<const float> in, std::span<std::uint16_t> out) {
  IONET_ENFORCE(in.size() == out.size(), "floatToHalf: ", in.size(), " inputs but ", out.size(),
                " outputs");
  auto convert = format == HalfFormat::kBf16 ? floatToBf16 : floatToFp16;
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = convert(in[i]);
}

void halfToFloat(HalfFormat format, std::span<const std::uint16_t> in, std::span<float> out) {
  IONET_ENFORCE(in.size() == out.size(), "halfToFloat: ", in.size(), " inputs but ", out.size(),
                " outputs");
  auto convert = format == HalfFormat::kBf16 ? bf16ToFloat : fp16ToFloat;
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = convert(in[i]);
}

}  // namespace cpu
}  // namespace ionet::kernels
