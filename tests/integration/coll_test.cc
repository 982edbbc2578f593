// libionet-coll in real jobs on emulated hosts (--local-hosts): coll_check's matrix against
// Open MPI's own results, forced exchanges, compression bounds, the fall-back to Open MPI's
// collectives, and real programs (LAMMPS, HPCC) giving the same answers with and without it.
// The WAN emulator cases (NAT, resets, the RTT-driven tuning) are in pool_test.cc.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "fixture.h"

namespace ionet::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kCollCheck = IONET_BUILD_DIR "/tests/coll_check";
const std::string kCollSources = IONET_SOURCE_DIR "/tests/coll";

// coll_check's verdict: which library answered MPI_Allreduce, and that nothing failed.
void expectCollCheckPassed(const CommandResult& r, const std::string& provider) {
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("coll_check: MPI_Allreduce from "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(provider), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(coll_check: [1-9]\d+ checks, 0 failed)")))
      << r.out << r.err;
}

class CollExchange : public IonetTest, public ::testing::WithParamInterface<const char*> {};

// 7 ranks on 3 hosts (3, 2, 2): every covered collective x int32/int64/uint8/float/double x
// SUM/MAX/MIN/PROD/BAND/BOR x WORLD/dup/split/reversed split, in place and not, against Open
// MPI's own in the same run; the fixed order bit for bit; user ops, derived and pair types
// handed back to Open MPI.
TEST_P(CollExchange, MatchesOpenMpiOnUnevenHosts) {
  std::vector<std::string> args = {"--local-hosts",
                                   "3",
                                   "-np",
                                   "7",
                                   "-x",
                                   "IONET_COLL=1",
                                   "-x",
                                   std::string("IONET_COLL_EXCHANGE=") + GetParam(),
                                   "-x",
                                   "IONET_COLL_DEBUG=1",
                                   kCollCheck};
  // The cost model's own choice over every size class; a forced exchange on one small and
  // one large (counts not divisible by 3 hosts).
  if (std::string(GetParam()) == "auto") {
    args.insert(args.end(), {"1", "7", "1000", "100003"});
  } else {
    args.insert(args.end(), {"7", "100003"});
  }
  // Pieces of 4 KiB: the pipelined reduce-scatter's segments of 100003 elements come in up to
  // 64 pieces (its cap), reduced and forwarded as they arrive.
  if (std::string(GetParam()) == "rsag") {
    args.insert(args.begin() + 4, {"-x", "IONET_COLL_PIECE_BYTES=4096"});
  }
  auto r = ionetRun(args, {}, "", 240s);
  expectCollCheckPassed(r, "libionet-coll.so");
  EXPECT_NE(r.err.find("ionet-coll: 7 ranks on 3 hosts"), std::string::npos) << r.err;
}
INSTANTIATE_TEST_SUITE_P(Coll, CollExchange, ::testing::Values("auto", "direct", "rsag"));

class CollCompression : public IonetTest, public ::testing::WithParamInterface<const char*> {};

// Float and double sums compressed between hosts stay within the bound docs/collectives.md
// states (coll_check computes it from every host's partial); the other types and ops are exact.
TEST_P(CollCompression, SumsStayWithinTheStatedBound) {
  for (const char* exchange : {"direct", "rsag"}) {
    auto r = ionetRun({"--local-hosts", "3", "-np", "6", "--wan-compress", GetParam(), "-x",
                       std::string("IONET_COLL_EXCHANGE=") + exchange, "-x", "IONET_COLL=1", "-x",
                       "IONET_COLL_DEBUG=1", kCollCheck, "7", "20000"},
                      {}, "", 240s);
    expectCollCheckPassed(r, "libionet-coll.so");
    EXPECT_NE(r.err.find(std::string(", ") + GetParam()), std::string::npos) << r.err;
  }
}
INSTANTIATE_TEST_SUITE_P(Coll, CollCompression, ::testing::Values("bf16", "int8"));

// --coll mpi, and a job on one host, leave every collective to Open MPI.
TEST_F(IonetTest, CollMpiAndSingleHostJobsKeepOpenMpisCollectives) {
  auto off = ionetRun({"--local-hosts", "2", "-np", "4", "--coll", "mpi", kCollCheck, "1000"}, {},
                      "", 120s);
  expectCollCheckPassed(off, "libmpi.so");
  auto one = ionetRun({"-np", "4", kCollCheck, "1000"}, {}, "", 120s);
  expectCollCheckPassed(one, "libmpi.so");
}

// Emulated hosts on one machine (a round trip under 10 ms): the library is loaded but leaves
// every call to Open MPI, unless IONET_COLL=1 forces it (as the tests above do).
TEST_F(IonetTest, CollStepsAsideOnALanUnlessForced) {
  auto lan = ionetRun(
      {"--local-hosts", "2", "-np", "4", "-x", "IONET_COLL_DEBUG=1", example("allreduce"), "1024"});
  EXPECT_EQ(lan.exitCode, 0) << lan.err;
  EXPECT_NE(lan.out.find("allreduce OK ranks=4"), std::string::npos) << lan.out;
  EXPECT_EQ(lan.err.find("ionet-coll:"), std::string::npos) << lan.err;
  auto forced = ionetRun({"--local-hosts", "2", "-np", "4", "-x", "IONET_COLL_DEBUG=1", "-x",
                          "IONET_COLL=1", example("allreduce"), "1024"});
  EXPECT_EQ(forced.exitCode, 0) << forced.err;
  EXPECT_NE(forced.out.find("allreduce OK ranks=4"), std::string::npos) << forced.out;
  EXPECT_NE(forced.err.find("ionet-coll: 4 ranks on 2 hosts"), std::string::npos) << forced.err;
}

TEST_F(IonetTest, CollWanCompressNeedsTheLibrary) {
  auto r = ionetRun({"--coll", "mpi", "--wan-compress", "bf16", "-np", "1", "true"});
  EXPECT_EQ(r.exitCode, 2) << r.err;  // a usage error, as for every other bad option
  EXPECT_NE(r.err.find("--wan-compress needs --coll ionet"), std::string::npos) << r.err;
}

// The lines of LAMMPS' thermo table (the step's temperature, energies and pressure).
std::vector<std::string> thermo(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  bool table = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Step ", 0) == 0) table = true;
    if (line.rfind("Loop time", 0) == 0) table = false;
    if (table) lines.push_back(line);
  }
  return lines;
}

TEST_F(IonetTest, LammpsGivesTheSameThermoWithAndWithoutTheLibrary) {
  if (::access("/usr/bin/lmp", X_OK) != 0) GTEST_SKIP() << "lammps is not installed";
  std::vector<std::string> answers[2];
  int i = 0;
  for (const char* coll : {"ionet", "mpi"}) {
    auto r = ionetRun(
        {"--local-hosts", "3", "-np", "6", "--coll", coll, "-x", "IONET_COLL=1", "-x",
         "IONET_COLL_DEBUG=1", "/usr/bin/lmp", "-in", kCollSources + "/in.lj", "-log", "none"},
        {}, "", 180s);
    EXPECT_FINISHED(r);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(r.err.find("ionet-coll: 6 ranks on 3 hosts") != std::string::npos,
              std::string(coll) == "ionet")
        << r.err;
    answers[i++] = thermo(r.out);
  }
  EXPECT_EQ(answers[0].size(), 6u) << ::testing::PrintToString(answers[0]);
  EXPECT_EQ(answers[0], answers[1]);
}

// HPCC's verdicts: residual checks, error counts, validations (its timings aside).
std::multiset<std::string> hpccVerdicts(const std::string& file) {
  std::multiset<std::string> verdicts;
  std::ifstream in(file);
  const std::regex verdict(
      R"(\s*(Found \d+ errors.*|\d+ tests completed and (passed|failed).*|Solution Validates.*|Node\(s\) with error \d+|.*(PASSED|FAILED)) *$)");
  for (std::string line; std::getline(in, line);) {
    if (std::regex_match(line, verdict)) verdicts.insert(line);
  }
  return verdicts;
}

TEST_F(IonetTest, HpccPassesTheSameChecksWithAndWithoutTheLibrary) {
  if (::access("/usr/bin/hpcc", X_OK) != 0) GTEST_SKIP() << "hpcc is not installed";
  std::multiset<std::string> verdicts[2];
  int i = 0;
  for (const char* coll : {"ionet", "mpi"}) {
    const fs::path dir = fs::temp_directory_path() / ("hpcc-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    fs::copy_file(kCollSources + "/hpccinf.txt", dir / "hpccinf.txt");
    auto r = ionetRun({"--local-hosts", "2", "-np", "4", "--coll", coll, "-x", "IONET_COLL=1",
                       "--wdir", dir.string(), "/usr/bin/hpcc"},
                      {}, "", 240s);
    EXPECT_FINISHED(r);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    verdicts[i++] = hpccVerdicts((dir / "hpccoutf.txt").string());
    fs::remove_all(dir);
  }
  EXPECT_GE(verdicts[0].count("    0 tests completed and failed residual checks."), 1u)
      << ::testing::PrintToString(verdicts[0]);
  EXPECT_EQ(verdicts[0], verdicts[1]);
}

}  // namespace
}  // namespace ionet::test
