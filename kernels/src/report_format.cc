// Health reports for programs (one JSON object) and for people (a table plus failure lines).
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "ionet/kernels/health_check.h"

namespace ionet::kernels {
namespace {

// Keys in the order they are written: readers (and the tests) expect "gpus" first, the verdict
// last, and each GPU's identity before its measurements.
using Json = nlohmann::ordered_json;

// Measured values with three decimals, as the report has always given them; the JSON number is
// the shortest form of the rounded value ("3.25", "2900.0"). Not finite (nothing measured): null.
Json measured(double v) {
  if (!std::isfinite(v)) return nullptr;
  return std::round(v * 1000) / 1000;
}

std::string hex32(std::uint32_t v) {
  char s[16];
  std::snprintf(s, sizeof s, "0x%08x", v);
  return s;
}

std::string fixed(double v, int decimals) {
  char s[32];
  std::snprintf(s, sizeof s, "%.*f", decimals, v);
  return s;
}

std::string gib(std::uint64_t bytes) {
  return fixed(static_cast<double>(bytes) / (1ull << 30), 1) + " GiB";
}

Json gpuJson(const GpuReport& g) {
  Json firstError = nullptr;
  if (g.memErrors > 0) {
    firstError = {{"offset", g.memFirstErrorOffset},
                  {"expected", hex32(g.memFirstErrorExpected)},
                  {"actual", hex32(g.memFirstErrorActual)},
                  {"test", g.memFirstErrorTest}};
  }
  return {
      {"index", g.index},
      {"name", g.name},
      {"uuid", g.uuid},
      {"pci_bus_id", g.pciBusId},
      {"memory_total_bytes", g.totalMemoryBytes},
      {"memory_free_bytes", g.freeMemoryBytes},
      {"compute_capability", std::to_string(g.ccMajor) + "." + std::to_string(g.ccMinor)},
      {"multiprocessors", g.multiprocessors},
      {"ecc", g.ecc},
      {"driver", g.driver},
      {"cuda_driver_version", g.cudaDriverVersion},
      {"cuda_runtime_version", g.runtimeVersion},
      {"memory_test",
       {{"tested_bytes", g.memTestedBytes},
        {"errors", g.memErrors},
        {"seconds", measured(g.memTestSeconds)},
        {"first_error", firstError}}},
      {"matmul",
       {{"size", g.matmulSize},
        {"iterations", g.matmulIterations},
        {"mismatches", g.matmulMismatches},
        {"tflops", measured(g.tflops)},
        {"seconds", measured(g.computeSeconds)}}},
      {"bandwidth_gbps",
       {{"h2d", measured(g.h2dGBps)}, {"d2h", measured(g.d2hGBps)}, {"d2d", measured(g.d2dGBps)}}},
      {"seconds", measured(g.seconds)},
      {"passed", g.passed},
      {"failure", g.passed ? Json(nullptr) : Json(g.failure)}};
}

// Columns padded to their widest cell; `right` aligns numbers.
std::string columns(const std::vector<std::vector<std::string>>& rows,
                    const std::vector<bool>& right) {
  std::vector<std::size_t> width(right.size(), 0);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      line += (c ? "  " : "") + (right[c] ? pad + row[c] : row[c] + pad);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string toJson(const HealthReport& report) {
  Json gpus = Json::array();
  for (const GpuReport& g : report.gpus) gpus.push_back(gpuJson(g));
  const Json doc = {{"gpus", std::move(gpus)},
                    {"passed", report.allPassed()},
                    {"reason", report.gpus.empty() ? Json(report.noGpuReason) : Json(nullptr)}};
  // Strings come from the driver and the device: replace a byte that is not UTF-8 rather than
  // fail the whole report over a name.
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string toTable(const HealthReport& report) {
  if (report.gpus.empty()) return "no GPU: " + report.noGpuReason + "\n";
  std::vector<std::vector<std::string>> rows = {{"GPU", "Name", "Bus ID", "Memory", "CC", "Tested",
                                                 "Errors", "TFLOP/s", "H2D GB/s", "D2H GB/s",
                                                 "D2D GB/s", "Time s", "Result"}};
  const std::vector<bool> right = {true, false, false, true, false, true, true,
                                   true, true,  true,  true, true,  false};
  std::string notes;
  for (const GpuReport& g : report.gpus) {
    rows.push_back({std::to_string(g.index), g.name.empty() ? "?" : g.name,
                    g.pciBusId.empty() ? "?" : g.pciBusId, gib(g.totalMemoryBytes),
                    std::to_string(g.ccMajor) + "." + std::to_string(g.ccMinor),
                    gib(g.memTestedBytes), std::to_string(g.memErrors), fixed(g.tflops, 1),
                    fixed(g.h2dGBps, 1), fixed(g.d2hGBps, 1), fixed(g.d2dGBps, 1),
                    fixed(g.seconds, 1), g.passed ? "PASS" : "FAIL"});
    if (!g.passed) notes += "GPU " + std::to_string(g.index) + " FAILED: " + g.failure + "\n";
  }
  const GpuReport& first = report.gpus.front();
  std::string driver = "driver " + (first.driver.empty() ? std::string("?") : first.driver) +
                       " (CUDA " + first.cudaDriverVersion + "), kernels built with CUDA " +
                       first.runtimeVersion + "\n";
  return columns(rows, right) + driver + notes;
}

}  // namespace ionet::kernels
