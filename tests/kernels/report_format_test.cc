// Health reports for programs and people: exact JSON for known reports, the table's rows and
// failure lines, the no-GPU forms.
#include <gtest/gtest.h>

#include <cmath>

#include "ionet/kernels/health_check.h"

namespace ionet::kernels {
namespace {

GpuReport passingGpu() {
  GpuReport g;
  g.index = 0;
  g.name = "NVIDIA H100 80GB HBM3";
  g.uuid = "GPU-01234567-89ab-cdef-0123-456789abcdef";
  g.pciBusId = "00000000:17:00.0";
  g.totalMemoryBytes = 85899345920;  // 80 GiB
  g.freeMemoryBytes = 85000000000;
  g.ccMajor = 9;
  g.ccMinor = 0;
  g.driver = "550.54.15";
  g.cudaDriverVersion = "12.4";
  g.runtimeVersion = "13.0";
  g.multiprocessors = 132;
  g.ecc = true;
  g.memTestedBytes = 68719476736;  // 64 GiB
  g.memTestSeconds = 3.25;
  g.matmulSize = 4096;
  g.matmulIterations = 900;
  g.tflops = 312.5;
  g.computeSeconds = 2.5;
  g.h2dGBps = 25.25;
  g.d2hGBps = 26.5;
  g.d2dGBps = 2900;
  g.seconds = 7.125;
  g.passed = true;
  return g;
}

GpuReport failingGpu() {
  GpuReport g = passingGpu();
  g.index = 1;
  g.name = "GPU \"B\"";
  g.memErrors = 3;
  g.memFirstErrorOffset = 4096;
  g.memFirstErrorExpected = 1;
  g.memFirstErrorActual = 3;
  g.memFirstErrorTest = "walking ones/zeros, bit 0";
  g.passed = false;
  g.failure = "memory test: 3 errors";
  return g;
}

TEST(HealthReportJson, NoGpu) {
  HealthReport r;
  r.noGpuReason = "NVIDIA driver not installed (libcuda.so.1: cannot open shared object file)";
  EXPECT_TRUE(r.allPassed());
  EXPECT_EQ(toJson(r),
            "{\"gpus\":[],\"passed\":true,\"reason\":\"NVIDIA driver not installed "
            "(libcuda.so.1: cannot open shared object file)\"}");
  EXPECT_EQ(toTable(r),
            "no GPU: NVIDIA driver not installed (libcuda.so.1: cannot open shared object file)\n");
}

TEST(HealthReportJson, PassingGpu) {
  HealthReport r;
  r.gpus.push_back(passingGpu());
  EXPECT_EQ(toJson(r),
            "{\"gpus\":[{\"index\":0,\"name\":\"NVIDIA H100 80GB HBM3\","
            "\"uuid\":\"GPU-01234567-89ab-cdef-0123-456789abcdef\","
            "\"pci_bus_id\":\"00000000:17:00.0\",\"memory_total_bytes\":85899345920,"
            "\"memory_free_bytes\":85000000000,\"compute_capability\":\"9.0\","
            "\"multiprocessors\":132,\"ecc\":true,\"driver\":\"550.54.15\","
            "\"cuda_driver_version\":\"12.4\",\"cuda_runtime_version\":\"13.0\","
            "\"memory_test\":{\"tested_bytes\":68719476736,\"errors\":0,\"seconds\":3.25,"
            "\"first_error\":null},"
            "\"matmul\":{\"size\":4096,\"iterations\":900,\"mismatches\":0,\"tflops\":312.5,"
            "\"seconds\":2.5},"
            "\"bandwidth_gbps\":{\"h2d\":25.25,\"d2h\":26.5,\"d2d\":2900.0},"
            "\"seconds\":7.125,\"passed\":true,\"failure\":null}],\"passed\":true,"
            "\"reason\":null}");
}

TEST(HealthReportJson, FailingGpuHasItsFirstErrorAndEscapedStrings) {
  HealthReport r;
  r.gpus = {passingGpu(), failingGpu()};
  EXPECT_FALSE(r.allPassed());
  const std::string json = toJson(r);
  EXPECT_NE(json.find("\"name\":\"GPU \\\"B\\\"\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"first_error\":{\"offset\":4096,\"expected\":\"0x00000001\","
                      "\"actual\":\"0x00000003\",\"test\":\"walking ones/zeros, bit 0\"}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"passed\":false,\"failure\":\"memory test: 3 errors\"}"),
            std::string::npos);
  EXPECT_EQ(json.substr(json.size() - 31), "],\"passed\":false,\"reason\":null}");
}

// Measurements keep three decimals (the shortest JSON number of the rounded value); one that
// could not be measured (not finite) is null rather than text no JSON reader accepts.
TEST(HealthReportJson, MeasurementsHaveThreeDecimalsAndNonFiniteIsNull) {
  HealthReport r;
  r.gpus.push_back(passingGpu());
  r.gpus[0].tflops = 312.51249;
  r.gpus[0].h2dGBps = 0.0006;
  r.gpus[0].d2hGBps = std::nan("");
  r.gpus[0].d2dGBps = INFINITY;
  const std::string json = toJson(r);
  EXPECT_NE(json.find("\"tflops\":312.512,"), std::string::npos) << json;
  EXPECT_NE(json.find("{\"h2d\":0.001,\"d2h\":null,\"d2d\":null}"), std::string::npos) << json;
}

// Control characters are escaped and a byte that is not UTF-8 does not fail the report.
TEST(HealthReportJson, OddStringsStayValidJson) {
  HealthReport r;
  r.gpus.push_back(passingGpu());
  r.gpus[0].name = "tab\there\nnewline \xff";
  const std::string json = toJson(r);
  EXPECT_NE(json.find("\"name\":\"tab\\there\\nnewline \xef\xbf\xbd\""), std::string::npos) << json;
}

TEST(HealthReportTable, RowsAndFailures) {
  HealthReport r;
  r.gpus = {passingGpu(), failingGpu()};
  const std::string table = toTable(r);
  EXPECT_EQ(table.substr(0, table.find('\n')),
            "GPU  Name                   Bus ID              Memory  CC     Tested  Errors  "
            "TFLOP/s  H2D GB/s  D2H GB/s  D2D GB/s  Time s  Result");
  EXPECT_NE(table.find("  0  NVIDIA H100 80GB HBM3  00000000:17:00.0  80.0 GiB  9.0  64.0 GiB  "
                       "     0    312.5      25.2      26.5    2900.0     7.1  PASS\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("FAIL\n"), std::string::npos);
  EXPECT_NE(table.find("driver 550.54.15 (CUDA 12.4), kernels built with CUDA 13.0\n"),
            std::string::npos);
  EXPECT_NE(table.find("GPU 1 FAILED: memory test: 3 errors\n"), std::string::npos);
}

}  // namespace
}  // namespace ionet::kernels
