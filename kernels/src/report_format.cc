// Health reports for programs (one JSON object) and for people (a table plus failure lines).
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "ionet/kernels/health_check.h"

namespace ionet::kernels {
namespace {

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", c);
          out += esc;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string jsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char s[32];
  std::snprintf(s, sizeof s, "%.3f", v);
  return s;
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

std::string gpuJson(const GpuReport& g) {
  std::ostringstream o;
  o << "{\"index\":" << g.index << ",\"name\":" << jsonString(g.name)
    << ",\"uuid\":" << jsonString(g.uuid) << ",\"pci_bus_id\":" << jsonString(g.pciBusId)
    << ",\"memory_total_bytes\":" << g.totalMemoryBytes
    << ",\"memory_free_bytes\":" << g.freeMemoryBytes << ",\"compute_capability\":"
    << jsonString(std::to_string(g.ccMajor) + "." + std::to_string(g.ccMinor))
    << ",\"multiprocessors\":" << g.multiprocessors << ",\"ecc\":" << (g.ecc ? "true" : "false")
    << ",\"driver\":" << jsonString(g.driver)
    << ",\"cuda_driver_version\":" << jsonString(g.cudaDriverVersion)
    << ",\"cuda_runtime_version\":" << jsonString(g.runtimeVersion);
  o << ",\"memory_test\":{\"tested_bytes\":" << g.memTestedBytes << ",\"errors\":" << g.memErrors
    << ",\"seconds\":" << jsonNumber(g.memTestSeconds) << ",\"first_error\":";
  if (g.memErrors > 0) {
    o << "{\"offset\":" << g.memFirstErrorOffset
      << ",\"expected\":" << jsonString(hex32(g.memFirstErrorExpected))
      << ",\"actual\":" << jsonString(hex32(g.memFirstErrorActual))
      << ",\"test\":" << jsonString(g.memFirstErrorTest) << "}";
  } else {
    o << "null";
  }
  o << "},\"matmul\":{\"size\":" << g.matmulSize << ",\"iterations\":" << g.matmulIterations
    << ",\"mismatches\":" << g.matmulMismatches << ",\"tflops\":" << jsonNumber(g.tflops)
    << ",\"seconds\":" << jsonNumber(g.computeSeconds) << "}";
  o << ",\"bandwidth_gbps\":{\"h2d\":" << jsonNumber(g.h2dGBps)
    << ",\"d2h\":" << jsonNumber(g.d2hGBps) << ",\"d2d\":" << jsonNumber(g.d2dGBps) << "}";
  o << ",\"seconds\":" << jsonNumber(g.seconds) << ",\"passed\":" << (g.passed ? "true" : "false")
    << ",\"failure\":" << (g.passed ? "null" : jsonString(g.failure)) << "}";
  return o.str();
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
  std::string out = "{\"gpus\":[";
  for (std::size_t i = 0; i < report.gpus.size(); ++i) {
    out += (i ? "," : "") + gpuJson(report.gpus[i]);
  }
  out += "],\"passed\":";
  out += report.allPassed() ? "true" : "false";
  out += ",\"reason\":" + (report.gpus.empty() ? jsonString(report.noGpuReason) : "null") + "}";
  return out;
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
