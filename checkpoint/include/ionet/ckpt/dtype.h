// Element types of checkpoint datasets and the shape of one dataset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ionet::ckpt {

// Same values as ionet_ckpt_dtype in ionet_ckpt.h.
enum class DType : int { kFloat64 = 0, kFloat32 = 1, kInt32 = 2, kInt64 = 3, kUInt8 = 4 };

std::size_t dtypeSize(DType t);
const char* dtypeName(DType t);  // "float64", ...
bool validDType(int t);

template <typename T>
constexpr DType dtypeOf();
template <>
constexpr DType dtypeOf<double>() {
  return DType::kFloat64;
}
template <>
constexpr DType dtypeOf<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType dtypeOf<std::int32_t>() {
  return DType::kInt32;
}
template <>
constexpr DType dtypeOf<std::int64_t>() {
  return DType::kInt64;
}
template <>
constexpr DType dtypeOf<std::uint8_t>() {
  return DType::kUInt8;
}

struct DatasetInfo {
  DType dtype;
  std::vector<std::uint64_t> dims;  // empty: a scalar
  std::uint64_t elements() const;
  std::uint64_t bytes() const { return elements() * dtypeSize(dtype); }
};

}  // namespace ionet::ckpt
