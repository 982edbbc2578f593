// GPU compression kernels against the CPU reference, bit for bit (NaN payloads aside). Skipped
// with the reason on hosts without a GPU.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "ionet/kernels/compression.h"
#include "ionet/kernels/device.h"

namespace ionet::kernels {
namespace {

class GpuCompression : public ::testing::Test {
 protected:
  void SetUp() override {
    const gpu::Availability a = gpu::availability();
    if (!a) GTEST_SKIP() << "no GPU: " << a.reason;
    gpu::setDevice(0);
  }
};

template <typename T>
gpu::DeviceBuffer upload(const std::vector<T>& v, std::size_t offset = 0) {
  gpu::DeviceBuffer b((v.size() + offset) * sizeof(T) + 16);
  if (!v.empty())
    gpu::copy(b.as<T>() + offset, v.data(), v.size() * sizeof(T),
              gpu::CopyDirection::kHostToDevice);
  return b;
}

template <typename T>
std::vector<T> download(const gpu::DeviceBuffer& b, std::size_t n, std::size_t offset = 0) {
  std::vector<T> v(n);
  if (n > 0)
    gpu::copy(v.data(), b.as<T>() + offset, n * sizeof(T), gpu::CopyDirection::kDeviceToHost);
  return v;
}

bool sameFloat(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) ||
         std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

// Special values, every half value decoded, ties, and random bit patterns.
std::vector<float> conversionInputs() {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {0.0f,
                          -0.0f,
                          1.0f,
                          -2.0f,
                          0.1f,
                          inf,
                          -inf,
                          std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::lowest(),
                          std::numeric_limits<float>::min(),
                          std::numeric_limits<float>::denorm_min(),
                          65504.0f,
                          65519.0f,
                          65520.0f,
                          std::ldexp(1.0f, -25),
                          std::ldexp(3.0f, -25),
                          std::bit_cast<float>(0x3f808000u),
                          std::bit_cast<float>(0x3f818000u),
                          std::bit_cast<float>(0x3f801000u),
                          std::bit_cast<float>(0x3f803000u),
                          std::bit_cast<float>(0x7f7f8000u),
                          std::bit_cast<float>(0x00018000u)};
  for (std::uint32_t h = 0; h <= 0xffff; ++h) {
    v.push_back(fp16ToFloat(static_cast<std::uint16_t>(h)));
    v.push_back(bf16ToFloat(static_cast<std::uint16_t>(h)));
    // Half-way points between neighbouring fp16 values: the ties.
    v.push_back(
        static_cast<float>((static_cast<double>(fp16ToFloat(static_cast<std::uint16_t>(h))) +
                            fp16ToFloat(static_cast<std::uint16_t>(h + 1))) /
                           2));
  }
  std::mt19937 rng(11);
  for (int i = 0; i < 1000003; ++i)
    v.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(rng())));
  return v;
}

void expectEncodeMatchesCpu(HalfFormat format, const std::vector<float>& in, std::size_t offset) {
  std::vector<std::uint16_t> expected(in.size());
  cpu::floatToHalf(format, in, expected);
  const gpu::DeviceBuffer dIn = upload(in, offset);
  gpu::DeviceBuffer dOut((in.size() + offset) * 2 + 16);
  gpu::floatToHalf(format, dIn.as<float>() + offset, dOut.as<std::uint16_t>() + offset, in.size());
  gpu::synchronize();
  const auto got = download<std::uint16_t>(dOut, in.size(), offset);
  const std::uint16_t nanMask = format == HalfFormat::kBf16 ? 0x7f80 : 0x7c00;
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const bool expectNan = std::isnan(in[i]);
    const bool ok = expectNan ? ((got[i] & nanMask) == nanMask && (got[i] & ~nanMask & 0x7fff))
                              : got[i] == expected[i];
    if (!ok && ++wrong <= 5) {
      ADD_FAILURE() << toString(format) << " x=" << std::hexfloat << in[i] << " gpu 0x" << std::hex
                    << got[i] << " cpu 0x" << expected[i] << " (offset " << std::dec << offset
                    << ")";
    }
  }
  EXPECT_EQ(wrong, 0u);
}

TEST_F(GpuCompression, FloatToHalfMatchesCpu) {
  const auto in = conversionInputs();
  for (HalfFormat format : {HalfFormat::kBf16, HalfFormat::kFp16}) {
    expectEncodeMatchesCpu(format, in, 0);  // 16-byte aligned: vector path
    expectEncodeMatchesCpu(format, in, 1);  // misaligned: scalar path
    expectEncodeMatchesCpu(format, std::vector<float>(in.begin(), in.begin() + 7), 0);  // tail
  }
}

TEST_F(GpuCompression, HalfToFloatMatchesCpu) {
  std::vector<std::uint16_t> in;
  for (std::uint32_t h = 0; h <= 0xffff; ++h) in.push_back(static_cast<std::uint16_t>(h));
  in.push_back(0x3c00);  // a length that is not a multiple of 4
  for (HalfFormat format : {HalfFormat::kBf16, HalfFormat::kFp16}) {
    for (std::size_t offset : {0u, 1u}) {
      std::vector<float> expected(in.size());
      cpu::halfToFloat(format, in, expected);
      const gpu::DeviceBuffer dIn = upload(in, offset);
      gpu::DeviceBuffer dOut((in.size() + offset) * 4 + 16);
      gpu::halfToFloat(format, dIn.as<std::uint16_t>() + offset, dOut.as<float>() + offset,
                       in.size());
      gpu::synchronize();
      const auto got = download<float>(dOut, in.size(), offset);
      for (std::size_t i = 0; i < in.size(); ++i) {
        ASSERT_TRUE(sameFloat(got[i], expected[i]))
            << toString(format) << " 0x" << std::hex << in[i] << " offset " << offset;
      }
    }
  }
}

// Blocks of every kind: ordinary, all zero, with NaN/Inf, subnormal, huge.
std::vector<float> quantizationInputs(std::size_t n, std::size_t blockSize) {
  std::mt19937 rng(static_cast<unsigned>(n * 31 + blockSize));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t block = i / blockSize;
    switch (block % 7) {
      case 1:
        v[i] = 0.0f;
        break;
      case 2:
        v[i] =
            i % blockSize == blockSize / 2 ? std::numeric_limits<float>::quiet_NaN() : normal(rng);
        break;
      case 3:
        v[i] = i % blockSize == 0 ? -std::numeric_limits<float>::infinity() : normal(rng);
        break;
      case 4:
        v[i] = normal(rng) * std::ldexp(1.0f, -140);  // subnormal
        break;
      case 5:
        v[i] = normal(rng) * 1e37f;
        break;
      default:
        v[i] = normal(rng) * std::ldexp(1.0f, static_cast<int>(block % 40) - 20);
    }
  }
  return v;
}

void expectInt8MatchesCpu(std::size_t n, std::size_t blockSize, std::size_t offset) {
  SCOPED_TRACE("n=" + std::to_string(n) + " block=" + std::to_string(blockSize) +
               " offset=" + std::to_string(offset));
  const auto in = quantizationInputs(n, blockSize);
  const std::size_t blocks = int8BlockCount(n, blockSize);
  std::vector<std::int8_t> q(n);
  std::vector<float> scales(blocks), back(n), acc(n);
  cpu::quantizeInt8(in, blockSize, q, scales);
  cpu::dequantizeInt8(q, scales, blockSize, back);
  for (std::size_t i = 0; i < n; ++i) acc[i] = static_cast<float>(i % 13) - 6.5f;
  const std::vector<float> accBefore = acc;
  cpu::dequantizeAccumulateInt8(q, scales, blockSize, acc);

  const gpu::DeviceBuffer dIn = upload(in, offset);
  gpu::DeviceBuffer dQ(n + offset + 16), dScales(blocks * 4 + 16), dBack((n + offset) * 4 + 16);
  const gpu::DeviceBuffer dAcc = upload(accBefore, offset);
  gpu::quantizeInt8(dIn.as<float>() + offset, n, blockSize, dQ.as<std::int8_t>() + offset,
                    dScales.as<float>());
  gpu::dequantizeInt8(dQ.as<std::int8_t>() + offset, dScales.as<float>(), n, blockSize,
                      dBack.as<float>() + offset);
  gpu::dequantizeAccumulateInt8(dQ.as<std::int8_t>() + offset, dScales.as<float>(), n, blockSize,
                                dAcc.as<float>() + offset);
  gpu::synchronize();
  const auto gotQ = download<std::int8_t>(dQ, n, offset);
  const auto gotScales = download<float>(dScales, blocks);
  const auto gotBack = download<float>(dBack, n, offset);
  const auto gotAcc = download<float>(dAcc, n, offset);
  for (std::size_t b = 0; b < blocks; ++b) {
    ASSERT_TRUE(sameFloat(gotScales[b], scales[b]))
        << "block " << b << ": gpu " << gotScales[b] << " cpu " << scales[b];
  }
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(gotQ[i], q[i]) << "element " << i << " x=" << in[i];
    ASSERT_TRUE(sameFloat(gotBack[i], back[i])) << "element " << i;
    ASSERT_TRUE(sameFloat(gotAcc[i], acc[i])) << "element " << i;
  }
}

TEST_F(GpuCompression, Int8MatchesCpu) {
  // Warp-per-block sizes, tiled sizes (> 4096), lengths that blocks do not divide.
  for (std::size_t blockSize : {1u, 3u, 4u, 32u, 100u, 128u, 256u, 4096u, 4100u, 10000u, 65536u}) {
    for (std::size_t n : {1u, 1000u, 100003u, 300000u}) {
      expectInt8MatchesCpu(n, blockSize, 0);
      if (::testing::Test::HasFatalFailure()) return;
    }
    expectInt8MatchesCpu(100003, blockSize, 1);  // misaligned: scalar paths
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST_F(GpuCompression, EmptyInputsLaunchNothing) {
  gpu::quantizeInt8(nullptr, 0, 64, nullptr, nullptr);
  gpu::floatToHalf(HalfFormat::kBf16, nullptr, nullptr, 0);
  gpu::synchronize();
}

TEST_F(GpuCompression, BadArgumentsThrow) {
  gpu::DeviceBuffer b(1024);
  EXPECT_THROW(gpu::quantizeInt8(b.as<float>(), 16, 0, b.as<std::int8_t>(), b.as<float>()),
               ionet::Error);
  EXPECT_THROW(gpu::dequantizeInt8(nullptr, b.as<float>(), 16, 4, b.as<float>()), ionet::Error);
}

}  // namespace
}  // namespace ionet::kernels
