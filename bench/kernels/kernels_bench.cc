// ionet-kernels-bench: throughput of the compression kernels as a fraction of the same device's
// device-to-device copy bandwidth, measured in the same run (target >= 80%), and the wall time
// of the default health check per GPU (target <= 30 s). GPU only: elsewhere it prints
// "no GPU: skipped" and succeeds.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ionet/kernels/compression.h"
#include "ionet/kernels/device.h"
#include "ionet/kernels/health_check.h"

namespace {

using namespace ionet::kernels;
using Clock = std::chrono::steady_clock;

constexpr double kTargetFraction = 0.80;
constexpr double kTargetHealthSeconds = 30.0;

struct Settings {
  std::size_t mib = 1024;  // fp32 input size
  int iterations = 20;
  std::size_t blockSize = 256;
  int device = 0;
  bool healthCheck = true;
};

// Seconds per call of op, after one warm-up call.
double timeOp(const std::function<void()>& op, int iterations) {
  op();
  gpu::synchronize();
  const auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) op();
  gpu::synchronize();
  return std::chrono::duration<double>(Clock::now() - start).count() / iterations;
}

void printRow(const char* name, double bytes, double seconds, double copyRate, bool judged) {
  const double rate = bytes / seconds / 1e9;
  const double fraction = rate / copyRate;
  std::printf("%-34s %10.1f %9.1f%%", name, rate, 100 * fraction);
  if (judged) std::printf("   %s", fraction >= kTargetFraction ? "ok" : "BELOW TARGET");
  std::printf("\n");
}

int runBench(const Settings& s) {
  gpu::setDevice(s.device);
  const std::size_t n = s.mib * (std::size_t{1} << 20) / sizeof(float);
  const std::size_t blocks = int8BlockCount(n, s.blockSize);
  std::vector<float> host(n);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : host) x = normal(rng);

  gpu::DeviceBuffer src(n * 4), dst(n * 4), half(n * 2), q(n), scales(blocks * 4), acc(n * 4);
  src.upload(host.data(), n * 4);
  acc.upload(host.data(), n * 4);

  std::printf("GPU %d, %zu MiB of fp32 (%zu values), int8 blocks of %zu, %d iterations\n", s.device,
              s.mib, n, s.blockSize, s.iterations);
  std::printf("%-34s %10s %10s   %s\n", "operation", "GB/s", "of copy", "target >= 80%");
  // Bytes moved: what each operation must read plus what it must write.
  const double copySeconds =
      timeOp([&] { gpu::copy(dst.data(), src.data(), n * 4, gpu::CopyDirection::kDeviceToDevice); },
             s.iterations);
  const double copyRate = 2.0 * n * 4 / copySeconds / 1e9;
  printRow("device-to-device copy (reference)", 2.0 * n * 4, copySeconds, copyRate, false);

  auto measure = [&](const std::string& name, double bytes, const std::function<void()>& op) {
    printRow(name.c_str(), bytes, timeOp(op, s.iterations), copyRate, true);
  };
  for (HalfFormat f : {HalfFormat::kBf16, HalfFormat::kFp16}) {
    measure(std::string("fp32 -> ") + toString(f), 6.0 * n,
            [&] { gpu::floatToHalf(f, src.as<float>(), half.as<std::uint16_t>(), n); });
    measure(std::string(toString(f)) + " -> fp32", 6.0 * n,
            [&] { gpu::halfToFloat(f, half.as<std::uint16_t>(), dst.as<float>(), n); });
  }
  const double scaleBytes = 4.0 * blocks;
  measure("int8 quantize", 5.0 * n + scaleBytes, [&] {
    gpu::quantizeInt8(src.as<float>(), n, s.blockSize, q.as<std::int8_t>(), scales.as<float>());
  });
  measure("int8 dequantize", 5.0 * n + scaleBytes, [&] {
    gpu::dequantizeInt8(q.as<std::int8_t>(), scales.as<float>(), n, s.blockSize, dst.as<float>());
  });
  measure("int8 dequantize-accumulate", 9.0 * n + scaleBytes, [&] {
    gpu::dequantizeAccumulateInt8(q.as<std::int8_t>(), scales.as<float>(), n, s.blockSize,
                                  acc.as<float>());
  });
  return 0;
}

int runHealthCheck() {
  std::printf("\nhealth check, default settings, every GPU (target <= %.0f s per GPU)\n",
              kTargetHealthSeconds);
  const HealthReport report = checkGpus();
  std::printf("%s", toTable(report).c_str());
  int status = report.allPassed() ? 0 : 1;
  for (const GpuReport& g : report.gpus) {
    std::printf(
        "GPU %d: %.1f s (bandwidth + compute %.1f s, memory test %.1f s over %.1f GiB): %s\n",
        g.index, g.seconds, g.seconds - g.memTestSeconds, g.memTestSeconds,
        static_cast<double>(g.memTestedBytes) / (1ull << 30),
        g.seconds <= kTargetHealthSeconds ? "ok" : "OVER TARGET");
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  bool noHealthCheck = false;
  CLI::App app("ionet-kernels-bench: compression kernel throughput and GPU health-check time",
               "ionet-kernels-bench");
  app.add_option("--mib", s.mib, "fp32 buffer size in MiB (default 1024)")
      ->check(CLI::Range(1, 1 << 16));
  app.add_option("--iterations", s.iterations, "timed calls per operation (default 20)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--block-size", s.blockSize, "int8 block size (default 256)")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--device", s.device, "CUDA device of the throughput runs (default 0)");
  app.add_flag("--no-health-check", noHealthCheck, "Skip the health-check timing");
  CLI11_PARSE(app, argc, argv);

  const gpu::Availability a = gpu::availability();
  if (!a) {
    std::printf("no GPU: skipped (%s)\n", a.reason.c_str());
    return 0;
  }
  try {
    int status = runBench(s);
    if (!noHealthCheck) status |= runHealthCheck();
    return status;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ionet-kernels-bench: %s\n", e.what());
    return 1;
  }
}
