// The reductions libionet-coll does itself: Open MPI's semantics (wrapping integers, MAX/MIN
// keeping the accumulated value on ties), which pairs exist, and which datatypes are covered.
#include "reduction.h"

#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <vector>

#include "wan_compression.h"

namespace ionet::coll {
namespace {

template <typename T>
std::vector<T> reduced(Element e, Op op, std::vector<T> acc, const std::vector<T>& in) {
  reducerFor(e, op)(acc.data(), in.data(), acc.size());
  return acc;
}

TEST(Reduction, IntegersWrapLikeOpenMpis) {
  EXPECT_EQ(reduced<std::int32_t>(Element::kInt32, Op::kSum, {INT_MAX, -5}, {1, 3}),
            (std::vector<std::int32_t>{INT_MIN, -2}));
  EXPECT_EQ(reduced<std::int8_t>(Element::kInt8, Op::kProd, {100, -3}, {3, 5}),
            (std::vector<std::int8_t>{44, -15}));  // 300 wraps to 44
  EXPECT_EQ(reduced<std::uint8_t>(Element::kUint8, Op::kProd, {200}, {2}),
            (std::vector<std::uint8_t>{144}));
}

TEST(Reduction, BitwiseLogicalAndOrderOps) {
  EXPECT_EQ(reduced<std::int64_t>(Element::kInt64, Op::kBand, {0b1100}, {0b1010}),
            (std::vector<std::int64_t>{0b1000}));
  EXPECT_EQ(reduced<std::int64_t>(Element::kInt64, Op::kBor, {0b1100}, {0b1010}),
            (std::vector<std::int64_t>{0b1110}));
  EXPECT_EQ(reduced<std::int32_t>(Element::kInt32, Op::kLxor, {0, 7, 7}, {0, 0, 2}),
            (std::vector<std::int32_t>{0, 1, 0}));
  EXPECT_EQ(reduced<std::int32_t>(Element::kInt32, Op::kLand, {5, 0}, {2, 1}),
            (std::vector<std::int32_t>{1, 0}));
  EXPECT_EQ(reduced<double>(Element::kDouble, Op::kMax, {1.5, -2}, {0.5, 3}),
            (std::vector<double>{1.5, 3}));
  EXPECT_EQ(reduced<float>(Element::kFloat, Op::kMin, {1.5f, -2}, {0.5f, 3}),
            (std::vector<float>{0.5f, -2}));
}

TEST(Reduction, BitwiseOnFloatsIsNotCovered) {
  EXPECT_EQ(reducerFor(Element::kFloat, Op::kBand), nullptr);
  EXPECT_EQ(reducerFor(Element::kDouble, Op::kLor), nullptr);
  EXPECT_NE(reducerFor(Element::kDouble, Op::kSum), nullptr);
}

TEST(Reduction, PredefinedNumbersAreCoveredCharsAndPairsAreNot) {
  EXPECT_EQ(elementOf(MPI_INT), Element::kInt32);
  EXPECT_EQ(elementOf(MPI_LONG), Element::kInt64);
  EXPECT_EQ(elementOf(MPI_UNSIGNED_LONG_LONG), Element::kUint64);
  EXPECT_EQ(elementOf(MPI_DOUBLE), Element::kDouble);
  EXPECT_EQ(elementOf(MPI_CHAR), std::nullopt);
  EXPECT_EQ(elementOf(MPI_DOUBLE_INT), std::nullopt);
  EXPECT_EQ(elementOf(MPI_LONG_DOUBLE), std::nullopt);
  EXPECT_EQ(opOf(MPI_MAXLOC), std::nullopt);
  EXPECT_EQ(opOf(MPI_SUM), Op::kSum);
}

TEST(WanCompression, EncodedSizesAndRoundTripsWithinTheirBounds) {
  EXPECT_EQ(encodedBytes(Compression::kBf16, 1000), 2000u);
  EXPECT_EQ(encodedBytes(Compression::kInt8, 1000), 1000u + 4 * 4);  // 4 blocks of <= 256
  std::vector<float> values(1000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.37f - 150;
  for (auto c : {Compression::kBf16, Compression::kInt8}) {
    std::vector<char> blob(encodedBytes(c, values.size()));
    encode(c, values.data(), values.size(), blob.data());
    std::vector<float> back(values.size(), 1.0f);
    decode(c, blob.data(), values.size(), back.data(), false);
    std::vector<float> added(values.size(), 1.0f);
    decode(c, blob.data(), values.size(), added.data(), true);
    for (std::size_t i = 0; i < values.size(); ++i) {
      // bf16: half an ulp of 8 significant bits; int8: half a step of max|block| / 127.
      const double bound =
          c == Compression::kBf16 ? std::abs(values[i]) / 256 : 220.0 / 254;  // |x| <= 220
      EXPECT_LE(std::abs(back[i] - values[i]), bound) << i;
      EXPECT_FLOAT_EQ(added[i], back[i] + 1.0f) << i;
    }
  }
}

}  // namespace
}  // namespace ionet::coll
