// Datasets of every element type and shape, and metadata strings, written and read back.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ionet/ckpt/checkpoint.h"
#include "scratch.h"

namespace ionet::ckpt::test {
namespace {

const std::vector<std::vector<std::uint64_t>> kShapes = {
    {}, {1}, {17}, {3, 5}, {2, 3, 4}, {2, 1, 3, 1, 2}, {0}, {4, 0, 2}};

template <typename T>
std::vector<T> pattern(std::size_t n, int seed) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    if constexpr (std::is_floating_point_v<T>)
      v[i] = static_cast<T>(seed) + static_cast<T>(i) * static_cast<T>(0.25) - static_cast<T>(1e3);
    else
      v[i] = static_cast<T>(seed * 131 + i * 7);
  }
  if constexpr (std::is_integral_v<T>)
    if (n > 1) v[1] = std::numeric_limits<T>::max(), v[0] = std::numeric_limits<T>::min();
  return v;
}

std::string shapeName(const std::vector<std::uint64_t>& dims) {
  std::string s = "d";
  for (auto d : dims) s += "_" + std::to_string(d);
  return s;
}

template <typename T>
class Datasets : public ::testing::Test {};
using Types = ::testing::Types<double, float, std::int32_t, std::int64_t, std::uint8_t>;
TYPED_TEST_SUITE(Datasets, Types);

TYPED_TEST(Datasets, EveryShapeRoundTrips) {
  using T = TypeParam;
  ScratchDir scratch;
  CheckpointDir dir({scratch.path(), 2, soloComm()});
  {
    SetWriter w = dir.begin(1);
    int seed = 0;
    for (const auto& dims : kShapes) {
      DatasetInfo info{dtypeOf<T>(), dims};
      auto v = pattern<T>(info.elements(), ++seed);
      w.write(shapeName(dims), dtypeOf<T>(), dims, v.empty() ? nullptr : v.data());
    }
    w.write<T>("nested/group/values", pattern<T>(5, 99));
    w.commit();
  }
  auto r = dir.restore();
  ASSERT_TRUE(r.set);
  int seed = 0;
  for (const auto& dims : kShapes) {
    SCOPED_TRACE(shapeName(dims));
    DatasetInfo info = r.set->dataset(shapeName(dims));
    EXPECT_EQ(info.dtype, dtypeOf<T>());
    EXPECT_EQ(info.dims, dims);
    EXPECT_EQ(r.set->read<T>(shapeName(dims)), pattern<T>(info.elements(), ++seed));
  }
  EXPECT_EQ(r.set->read<T>("nested/group/values"), pattern<T>(5, 99));
}

TEST(DatasetErrors, WrongTypeSmallBufferAndMissingNameAreReported) {
  ScratchDir scratch;
  CheckpointDir dir({scratch.path(), 2, soloComm()});
  commitStep(dir, 1);  // "x": 1000 doubles
  auto r = dir.restore();
  ASSERT_TRUE(r.set);
  std::vector<float> f(1000);
  try {
    r.set->read("x", DType::kFloat32, f.data(), f.size() * 4);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kMismatch);
    EXPECT_TRUE(
        std::string(e.what()).ends_with("rank-0.h5: dataset 'x' is float64, read as float32"))
        << e.what();
  }
  std::vector<double> small(999);
  try {
    r.set->read("x", DType::kFloat64, small.data(), small.size() * 8);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("needs 8000 bytes, the buffer has 7992"),
              std::string::npos);
  }
  try {
    r.set->dataset("nope");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kNotFound);
    EXPECT_NE(std::string(e.what()).find("dataset 'nope'"), std::string::npos) << e.what();
  }
}

TEST(DatasetErrors, BadArgumentsAreRejected) {
  ScratchDir scratch;
  CheckpointDir dir({scratch.path(), 2, soloComm()});
  SetWriter w = dir.begin(1);
  std::vector<std::uint64_t> dims{4};
  EXPECT_THROW(w.write("", DType::kFloat64, dims, nullptr), Error);
  EXPECT_THROW(w.write("x", DType::kFloat64, dims, nullptr), Error);  // 4 elements, no data
  EXPECT_THROW(w.write("x", static_cast<DType>(17), dims, "abcd"), Error);
  std::vector<std::uint64_t> tooMany(33, 1);
  EXPECT_THROW(w.write("x", DType::kUInt8, tooMany, "a"), Error);
  w.abort();
}

TEST(Metadata, RoundTripsAndIsListed) {
  ScratchDir scratch;
  CheckpointDir dir({scratch.path(), 2, soloComm()});
  {
    SetWriter w = dir.begin(3);
    w.setMetadata("model", "resnet-50");
    w.setMetadata("optimizer", "adam lr=3e-4");
    w.setMetadata("empty", "");
    w.setMetadata("unicode", "température ≥ 0");
    w.setMetadata("model", "resnet-101");  // set again: the last value wins
    try {
      w.setMetadata("step", "7");
      ADD_FAILURE() << "reserved key accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::kInvalidArgument);
    }
    w.abort();
  }
  {
    SetWriter w = dir.begin(3);
    w.setMetadata("model", "resnet-101");
    w.setMetadata("optimizer", "adam lr=3e-4");
    w.setMetadata("empty", "");
    w.setMetadata("unicode", "température ≥ 0");
    w.commit();
  }
  auto r = dir.restore();
  ASSERT_TRUE(r.set);
  EXPECT_EQ(r.set->metadata("model"), "resnet-101");
  EXPECT_EQ(r.set->metadata("optimizer"), "adam lr=3e-4");
  EXPECT_EQ(r.set->metadata("empty"), "");
  EXPECT_EQ(r.set->metadata("unicode"), "température ≥ 0");
  auto keys = r.set->metadataKeys();
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"empty", "model", "optimizer", "unicode"}));
  EXPECT_THROW(r.set->metadata("absent"), Error);
  EXPECT_EQ(r.set->step(), 3);
}

}  // namespace
}  // namespace ionet::ckpt::test
