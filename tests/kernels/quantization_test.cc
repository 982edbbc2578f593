// CPU reference of blockwise int8: hand-computed blocks, ties, special values, short last blocks,
// and the documented error bound (docs/kernels.md) on random data of every magnitude.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "ionet/error.h"
#include "ionet/kernels/compression.h"

namespace ionet::kernels {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

struct Quantized {
  std::vector<std::int8_t> q;
  std::vector<float> scales;
  std::vector<float> back;
};

Quantized roundTrip(const std::vector<float>& in, std::size_t blockSize) {
  Quantized r;
  r.q.resize(in.size());
  r.scales.resize(int8BlockCount(in.size(), blockSize));
  r.back.resize(in.size());
  cpu::quantizeInt8(in, blockSize, r.q, r.scales);
  cpu::dequantizeInt8(r.q, r.scales, blockSize, r.back);
  return r;
}

// scale = absMax / 127 rounded toward zero, computed independently in double.
float expectedScale(float absMax) {
  const double exact = static_cast<double>(absMax) / 127.0;
  float s = static_cast<float>(exact);  // to nearest
  if (static_cast<double>(s) > exact) s = std::nextafter(s, 0.0f);
  return s;
}

// docs/kernels.md: |x - x'| <= absMax * (1/254 + 2^-21) + 2^-141.
double errorBound(float absMax) {
  return absMax * (1.0 / 254 + std::ldexp(1.0, -21)) + std::ldexp(1.0, -141);
}

TEST(Int8, BlockCount) {
  EXPECT_EQ(int8BlockCount(10, 4), 3u);
  EXPECT_EQ(int8BlockCount(8, 4), 2u);
  EXPECT_EQ(int8BlockCount(0, 4), 0u);
  EXPECT_EQ(int8BlockCount(5, 0), 0u);
}

TEST(Int8, HandComputedBlock) {
  // absMax 127: scale 1 and multiplier 1, so q = rint(x).
  const auto r = roundTrip({1.0f, -2.0f, 0.5f, 127.0f}, 4);
  EXPECT_EQ(r.q, (std::vector<std::int8_t>{1, -2, 0, 127}));
  EXPECT_EQ(r.scales, (std::vector<float>{1.0f}));
  EXPECT_EQ(r.back, (std::vector<float>{1.0f, -2.0f, 0.0f, 127.0f}));
}

TEST(Int8, TiesRoundToEven) {
  const auto r = roundTrip({127.0f, 2.5f, 3.5f, -2.5f, -0.5f, 0.49999997f, -126.5f}, 7);
  EXPECT_EQ(r.q, (std::vector<std::int8_t>{127, 2, 4, -2, 0, 0, -126}));
}

TEST(Int8, NegativeValueSetsTheScale) {
  // absMax 4: multiplier 127/4 = 31.75 exactly; 2 -> 63.5 -> 64 (even); 1 -> 31.75 -> 32.
  const auto r = roundTrip({-4.0f, 2.0f, 1.0f, -0.0f}, 4);
  EXPECT_EQ(r.q, (std::vector<std::int8_t>{-127, 64, 32, 0}));
  EXPECT_EQ(r.scales[0], expectedScale(4.0f));
  EXPECT_EQ(r.back[0], -127 * expectedScale(4.0f));
  EXPECT_LE(std::fabs(r.back[1] - 2.0f), errorBound(4.0f));
}

TEST(Int8, LastBlockShorter) {
  const auto r = roundTrip({1, 2, 3, 4, 5, 6, 7, 8, 9, -10}, 4);
  ASSERT_EQ(r.scales.size(), 3u);
  EXPECT_EQ(r.scales[0], expectedScale(4.0f));
  EXPECT_EQ(r.scales[1], expectedScale(8.0f));
  EXPECT_EQ(r.scales[2], expectedScale(10.0f));
  EXPECT_EQ(r.q[3], 127);
  EXPECT_EQ(r.q[7], 127);
  EXPECT_EQ(r.q[9], -127);
  EXPECT_EQ(r.q[8], static_cast<std::int8_t>(std::rint(9.0 * 127.0 / 10.0)));  // 114.3 -> 114
}

TEST(Int8, AllZeroBlock) {
  const auto r = roundTrip({0.0f, -0.0f, 0.0f, 0.0f, 1.0f, 0.0f}, 4);
  EXPECT_EQ(r.scales[0], 0.0f);
  EXPECT_EQ(r.q, (std::vector<std::int8_t>{0, 0, 0, 0, 127, 0}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(r.back[i], 0.0f);
}

TEST(Int8, NonFiniteValuesPoisonTheirBlockOnly) {
  const auto r = roundTrip({1.0f, kNaN, 2.0f, kInf, 1.0f, 1.0f, 1.0f, 2.0f, 3.0f, -kInf}, 3);
  ASSERT_EQ(r.scales.size(), 4u);
  EXPECT_TRUE(std::isnan(r.scales[0]));
  EXPECT_TRUE(std::isnan(r.scales[1]));
  EXPECT_EQ(r.scales[2], expectedScale(3.0f));
  EXPECT_TRUE(std::isnan(r.scales[3]));
  for (int i : {0, 1, 2, 3, 4, 5, 9}) {
    EXPECT_EQ(r.q[i], 0) << i;
    EXPECT_TRUE(std::isnan(r.back[i])) << i;
  }
  EXPECT_EQ(r.q[8], 127);
  EXPECT_FALSE(std::isnan(r.back[6]));
}

TEST(Int8, LargestFloatDoesNotOverflow) {
  const float max = std::numeric_limits<float>::max();
  const auto r = roundTrip({max, -max, max / 2}, 3);
  EXPECT_EQ(r.q[0], 127);
  EXPECT_EQ(r.q[1], -127);
  EXPECT_LE(static_cast<double>(r.scales[0]) * 127, static_cast<double>(max));
  EXPECT_TRUE(std::isfinite(r.back[0]));
  EXPECT_TRUE(std::isfinite(r.back[1]));
  EXPECT_LE(std::fabs(static_cast<double>(r.back[0]) - max), errorBound(max));
}

TEST(Int8, SubnormalBlocks) {
  const float tiny = std::numeric_limits<float>::denorm_min();
  // absMax 2^-149: the quantized values are exact, the scale underflows to 0 (within bound).
  auto r = roundTrip({tiny, -tiny, 0.0f}, 3);
  EXPECT_EQ(r.q, (std::vector<std::int8_t>{127, -127, 0}));
  EXPECT_EQ(r.scales[0], 0.0f);
  EXPECT_LE(std::fabs(r.back[0] - tiny), errorBound(tiny));
  // A block of larger subnormals quantizes like any other block.
  const float a = std::ldexp(1.0f, -130), b = std::ldexp(3.0f, -134);
  const std::vector<float> in = {a, b, -a};
  r = roundTrip(in, 3);
  EXPECT_EQ(r.q[0], 127);
  EXPECT_EQ(r.q[1], static_cast<std::int8_t>(std::rint(3.0 / 16.0 * 127.0)));  // 23.8 -> 24
  EXPECT_EQ(r.q[2], -127);
  EXPECT_EQ(r.scales[0], expectedScale(a));
  for (int i = 0; i < 3; ++i) EXPECT_LE(std::fabs(r.back[i] - in[i]), errorBound(a));
}

TEST(Int8, PrescaledSmallBlocksQuantizeLikeOthers) {
  // Around 2^-64, where the computation switches to prescaling: same results on both sides.
  for (int e : {-63, -64, -65}) {
    const float a = std::ldexp(1.0f, e);
    const auto r = roundTrip({a, a / 2, -a / 4, a * 0.3f}, 4);
    EXPECT_EQ(r.q[0], 127);
    EXPECT_EQ(r.q[1], 64);   // 63.5 -> 64
    EXPECT_EQ(r.q[2], -32);  // -31.75
    EXPECT_EQ(r.q[3], 38);   // 38.1
  }
}

TEST(Int8, ErrorBoundOnRandomDataOfEveryMagnitude) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> mantissa(0.5f, 1.0f);
  std::uniform_int_distribution<int> blockScale(-140, 120);
  std::bernoulli_distribution negative(0.5);
  for (std::size_t blockSize : {1u, 3u, 32u, 100u, 256u, 4096u, 5000u}) {
    std::vector<float> in(10007);
    // Each block draws values within a few decades of its own magnitude, as real tensors do.
    for (std::size_t b = 0; b < int8BlockCount(in.size(), blockSize); ++b) {
      const int base = blockScale(rng);
      for (std::size_t i = b * blockSize; i < std::min(in.size(), (b + 1) * blockSize); ++i) {
        const float v = std::ldexp(mantissa(rng), base - static_cast<int>(rng() % 20));
        in[i] = negative(rng) ? -v : v;
      }
    }
    in[5] = 0.0f;
    const auto r = roundTrip(in, blockSize);
    for (std::size_t b = 0; b < r.scales.size(); ++b) {
      float absMax = 0;
      const std::size_t end = std::min(in.size(), (b + 1) * blockSize);
      for (std::size_t i = b * blockSize; i < end; ++i) absMax = std::max(absMax, std::fabs(in[i]));
      ASSERT_EQ(r.scales[b], expectedScale(absMax)) << "block " << b;
      for (std::size_t i = b * blockSize; i < end; ++i) {
        ASSERT_LE(std::abs(static_cast<int>(r.q[i])), 127);
        ASSERT_LE(std::fabs(static_cast<double>(r.back[i]) - in[i]), errorBound(absMax))
            << "x=" << in[i] << " block size " << blockSize;
        // Away from ties, q is the exactly rounded quotient.
        const double exact = static_cast<double>(in[i]) * 127.0 / absMax;
        if (std::fabs(exact - std::floor(exact) - 0.5) > 1e-4) {
          ASSERT_EQ(r.q[i], static_cast<int>(std::rint(exact))) << "x=" << in[i];
        }
      }
    }
  }
}

TEST(Int8, DequantizeAccumulateAddsTheRoundedProduct) {
  const std::vector<float> in = {0.3f, -1.7f, 2.9f, 0.0f, 5.5f, kNaN, 1.0f};
  const auto r = roundTrip(in, 3);
  std::vector<float> acc = {1.0f, 2.0f, -3.0f, 0.25f, 1e-3f, 7.0f, 8.0f};
  const std::vector<float> before = acc;
  cpu::dequantizeAccumulateInt8(r.q, r.scales, 3, acc);
  for (std::size_t i = 0; i < acc.size(); ++i) {
    const float expected = before[i] + r.back[i];
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(acc[i])) << i;
    } else {
      EXPECT_EQ(std::bit_cast<std::uint32_t>(acc[i]), std::bit_cast<std::uint32_t>(expected)) << i;
    }
  }
  EXPECT_TRUE(std::isnan(acc[3]));  // the NaN's block
  EXPECT_FALSE(std::isnan(acc[6]));
}

TEST(Int8, EmptyInput) {
  const auto r = roundTrip({}, 16);
  EXPECT_TRUE(r.scales.empty());
}

TEST(Int8, ShapeErrorsThrow) {
  std::vector<float> in(10), out(10);
  std::vector<std::int8_t> q(10), shortQ(9);
  std::vector<float> scales(3), wrongScales(2);
  EXPECT_THROW(cpu::quantizeInt8(in, 0, q, scales), ionet::Error);
  EXPECT_THROW(cpu::quantizeInt8(in, 4, shortQ, scales), ionet::Error);
  EXPECT_THROW(cpu::quantizeInt8(in, 4, q, wrongScales), ionet::Error);
  EXPECT_THROW(cpu::dequantizeInt8(q, wrongScales, 4, out), ionet::Error);
  EXPECT_THROW(cpu::dequantizeAccumulateInt8(shortQ, scales, 4, out), ionet::Error);
  EXPECT_NO_THROW(cpu::quantizeInt8(in, 4, q, scales));
}

}  // namespace
}  // namespace ionet::kernels
