// CPU reference of fp32 <-> bf16/fp16: hand-computed values, ties, special values, subnormals,
// and "is it the nearest representable value" over a sweep of float bit patterns.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ionet/error.h"
#include "ionet/kernels/compression.h"

namespace ionet::kernels {
namespace {

float fromBits(std::uint32_t bits) { return std::bit_cast<float>(bits); }

bool isBf16Nan(std::uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f) != 0; }
bool isFp16Nan(std::uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

TEST(Bf16, HandComputedValues) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBf16(-2.0f), 0xc000);
  EXPECT_EQ(floatToBf16(0.0f), 0x0000);
  EXPECT_EQ(floatToBf16(-0.0f), 0x8000);
  EXPECT_EQ(floatToBf16(3.140625f), 0x4049);             // exactly representable
  EXPECT_EQ(floatToBf16(fromBits(0x40490fdb)), 0x4049);  // pi: dropped bits 0x0fdb < half
  EXPECT_EQ(floatToBf16(0.1f), 0x3dcd);                  // 0x3dcccccd: dropped 0xcccd > half
  EXPECT_EQ(floatToBf16(-1000.0f), 0xc47a);
}

TEST(Bf16, TiesRoundToEven) {
  EXPECT_EQ(floatToBf16(fromBits(0x3f808000)), 0x3f80);  // 1 + 2^-8: tie, 0x3f80 is even
  EXPECT_EQ(floatToBf16(fromBits(0x3f818000)), 0x3f82);  // tie above an odd value: up
  EXPECT_EQ(floatToBf16(fromBits(0x3f808001)), 0x3f81);  // just above the tie
  EXPECT_EQ(floatToBf16(fromBits(0x3f817fff)), 0x3f81);  // just below the tie
  EXPECT_EQ(floatToBf16(fromBits(0xbf818000)), 0xbf82);  // negative: by magnitude
  EXPECT_EQ(floatToBf16(fromBits(0x3fff8000)), 0x4000);  // carry into the exponent
}

TEST(Bf16, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(floatToBf16(inf), 0x7f80);
  EXPECT_EQ(floatToBf16(-inf), 0xff80);
  EXPECT_TRUE(isBf16Nan(floatToBf16(std::numeric_limits<float>::quiet_NaN())));
  // A NaN whose payload lives only in the dropped bits must not become Inf.
  EXPECT_EQ(floatToBf16(fromBits(0x7f800001)), 0x7fc0);
  EXPECT_EQ(floatToBf16(fromBits(0xffc00000)), 0xffc0);  // sign kept
  EXPECT_EQ(floatToBf16(fromBits(0x7fa00000)), 0x7fe0);  // signalling NaN: quieted, payload kept
  // Largest finite values and overflow by rounding.
  EXPECT_EQ(floatToBf16(fromBits(0x7f7f0000)), 0x7f7f);
  EXPECT_EQ(floatToBf16(fromBits(0x7f7f7fff)), 0x7f7f);
  EXPECT_EQ(floatToBf16(fromBits(0x7f7f8000)), 0x7f80);  // tie above odd 0x7f7f: Inf
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::lowest()), 0xff80);
  // Smallest normal and subnormals (bf16 has fp32's exponent range).
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::min()), 0x0080);
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(floatToBf16(fromBits(0x00008000)), 0x0000);  // tie at zero: even
  EXPECT_EQ(floatToBf16(fromBits(0x00018000)), 0x0002);  // tie above odd 0x0001
  EXPECT_EQ(floatToBf16(fromBits(0x00010000)), 0x0001);  // smallest bf16 subnormal
  EXPECT_EQ(floatToBf16(fromBits(0x007fffff)), 0x0080);  // rounds up into the normals
  EXPECT_EQ(floatToBf16(fromBits(0x80018000)), 0x8002);
}

TEST(Bf16, DecodeIsExactAndRoundTrips) {
  for (std::uint32_t h = 0; h <= 0xffff; ++h) {
    const float x = bf16ToFloat(static_cast<std::uint16_t>(h));
    ASSERT_EQ(std::bit_cast<std::uint32_t>(x), h << 16);
    if (isBf16Nan(static_cast<std::uint16_t>(h))) {
      EXPECT_TRUE(isBf16Nan(floatToBf16(x)));
    } else {
      ASSERT_EQ(floatToBf16(x), h) << std::hex << h;
    }
  }
}

TEST(Fp16, HandComputedValues) {
  EXPECT_EQ(floatToFp16(1.0f), 0x3c00);
  EXPECT_EQ(floatToFp16(-2.0f), 0xc000);
  EXPECT_EQ(floatToFp16(0.5f), 0x3800);
  EXPECT_EQ(floatToFp16(65504.0f), 0x7bff);  // largest fp16
  EXPECT_EQ(floatToFp16(0.1f), 0x2e66);
  EXPECT_EQ(floatToFp16(1.0f / 3.0f), 0x3555);
  EXPECT_EQ(floatToFp16(-0.0f), 0x8000);
  EXPECT_EQ(floatToFp16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(floatToFp16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(floatToFp16(std::ldexp(1023.0f, -24)), 0x03ff);
  EXPECT_EQ(floatToFp16(3.14159265f), 0x4248);
}

TEST(Fp16, TiesRoundToEven) {
  EXPECT_EQ(floatToFp16(fromBits(0x3f801000)), 0x3c00);  // 1 + 2^-11: tie, even below
  EXPECT_EQ(floatToFp16(fromBits(0x3f803000)), 0x3c02);  // 1 + 3 * 2^-11: tie, odd below
  EXPECT_EQ(floatToFp16(fromBits(0x3f801001)), 0x3c01);  // just above the tie
  EXPECT_EQ(floatToFp16(fromBits(0x3f800fff)), 0x3c00);  // just below the tie
  // Subnormal ties, in units of 2^-24.
  EXPECT_EQ(floatToFp16(std::ldexp(1.0f, -25)), 0x0000);     // 0.5
  EXPECT_EQ(floatToFp16(std::ldexp(3.0f, -25)), 0x0002);     // 1.5
  EXPECT_EQ(floatToFp16(std::ldexp(5.0f, -25)), 0x0002);     // 2.5
  EXPECT_EQ(floatToFp16(std::ldexp(-5.0f, -25)), 0x8002);    // -2.5
  EXPECT_EQ(floatToFp16(fromBits(0x33000001)), 0x0001);      // just above 0.5
  EXPECT_EQ(floatToFp16(std::ldexp(2047.0f, -25)), 0x0400);  // 1023.5: up into the normals
}

TEST(Fp16, OverflowAndUnderflow) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(floatToFp16(fromBits(0x477fefff)), 0x7bff);  // just below 65520
  EXPECT_EQ(floatToFp16(65520.0f), 0x7c00);              // tie above odd 0x7bff: Inf
  EXPECT_EQ(floatToFp16(1e6f), 0x7c00);
  EXPECT_EQ(floatToFp16(-1e6f), 0xfc00);
  EXPECT_EQ(floatToFp16(std::numeric_limits<float>::max()), 0x7c00);
  EXPECT_EQ(floatToFp16(inf), 0x7c00);
  EXPECT_EQ(floatToFp16(-inf), 0xfc00);
  EXPECT_EQ(floatToFp16(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(floatToFp16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(floatToFp16(-std::numeric_limits<float>::min()), 0x8000);
}

TEST(Fp16, NaN) {
  EXPECT_TRUE(isFp16Nan(floatToFp16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(floatToFp16(fromBits(0x7f800001)), 0x7e00);  // payload below fp16's: still NaN
  EXPECT_EQ(floatToFp16(fromBits(0xffc00000)), 0xfe00);  // sign kept
  EXPECT_TRUE(std::isnan(fp16ToFloat(0x7e00)));
  EXPECT_TRUE(std::isnan(fp16ToFloat(0x7c01)));
  EXPECT_TRUE(std::signbit(fp16ToFloat(0xfe00)));
}

TEST(Fp16, Decode) {
  EXPECT_EQ(fp16ToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(fp16ToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(fp16ToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(fp16ToFloat(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(fp16ToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(fp16ToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp16ToFloat(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(fp16ToFloat(0x8000)));
  EXPECT_EQ(fp16ToFloat(0x8001), -std::ldexp(1.0f, -24));
}

TEST(Fp16, EveryValueRoundTrips) {
  for (std::uint32_t h = 0; h <= 0xffff; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    if (isFp16Nan(half)) continue;
    ASSERT_EQ(floatToFp16(fp16ToFloat(half)), half) << std::hex << h;
  }
}

// The encoding is the nearest value, ties to even, and overflows only past the largest value's
// upper half-way point. Checked on 65536 float bit patterns spread over the whole range.
template <typename Encode, typename Decode>
void expectNearest(Encode encode, Decode decode, double overflowAt) {
  for (std::uint64_t b = 0; b <= 0xffffffffu; b += 65537) {
    const float x = fromBits(static_cast<std::uint32_t>(b));
    if (std::isnan(x)) continue;
    const std::uint16_t h = encode(x);
    const double y = decode(h);
    const double ax = std::fabs(static_cast<double>(x));
    if (std::isinf(y)) {
      ASSERT_GE(ax, overflowAt) << x;
      continue;
    }
    ASSERT_LT(ax, overflowAt) << x;
    const double err = std::fabs(y - x);
    for (int d : {-1, 1}) {
      const int mag = (h & 0x7fff) + d;
      if (mag < 0) continue;
      const double z = decode(static_cast<std::uint16_t>((h & 0x8000) | mag));
      if (std::isinf(z) || std::isnan(z)) continue;
      const double other = std::fabs(z - x);
      ASSERT_LE(err, other) << "x=" << x << " h=" << h;
      if (err == other && err > 0) {
        ASSERT_EQ(h & 1, 0) << "tie not to even: x=" << x;
      }
    }
  }
}

TEST(Bf16, NearestOverFloatSweep) {
  expectNearest(floatToBf16, bf16ToFloat, std::ldexp(2.0 - std::ldexp(1.0, -8), 127));
}

TEST(Fp16, NearestOverFloatSweep) { expectNearest(floatToFp16, fp16ToFloat, 65520.0); }

#ifdef __FLT16_MAX__
// An independent implementation: the compiler's own (libgcc's) _Float16 conversion.
TEST(Fp16, MatchesCompilerFloat16) {
  for (std::uint64_t b = 0; b <= 0xffffffffu; b += 4099) {
    const float x = fromBits(static_cast<std::uint32_t>(b));
    if (std::isnan(x)) continue;
    const auto expected = std::bit_cast<std::uint16_t>(static_cast<_Float16>(x));
    ASSERT_EQ(floatToFp16(x), expected) << std::hexfloat << x;
  }
}
#endif

TEST(HalfBuffers, ConvertEveryElement) {
  const std::vector<float> in = {1.0f, -2.0f, 0.1f, 65504.0f, 1e6f};
  std::vector<std::uint16_t> half(in.size());
  std::vector<float> back(in.size());
  cpu::floatToHalf(HalfFormat::kFp16, in, half);
  EXPECT_EQ(half, (std::vector<std::uint16_t>{0x3c00, 0xc000, 0x2e66, 0x7bff, 0x7c00}));
  cpu::halfToFloat(HalfFormat::kFp16, half, back);
  EXPECT_EQ(back[3], 65504.0f);
  EXPECT_TRUE(std::isinf(back[4]));
  cpu::floatToHalf(HalfFormat::kBf16, in, half);
  EXPECT_EQ(half[2], 0x3dcd);
  cpu::halfToFloat(HalfFormat::kBf16, half, back);
  EXPECT_EQ(back[4], 999424.0f);  // 1e6 in bf16: 0x4974
  EXPECT_STREQ(toString(HalfFormat::kBf16), "bf16");
}

TEST(HalfBuffers, SizeMismatchThrows) {
  std::vector<float> in(4);
  std::vector<std::uint16_t> out(3);
  EXPECT_THROW(cpu::floatToHalf(HalfFormat::kBf16, in, out), ionet::Error);
  EXPECT_THROW(cpu::halfToFloat(HalfFormat::kFp16, out, in), ionet::Error);
}

}  // namespace
}  // namespace ionet::kernels
