// Real Open MPI programs under ionet-run, single host (-np 1..8) and two emulated hosts;
// every expected value is computed here from the formula, and results are compared with
// mpirun's.
#include <unistd.h>

#include <regex>
#include <set>

#include "fixture.h"

namespace ionet::test {
namespace {

struct Layout {
  int np;
  int hosts;  // 0: embedded single-host pool
};

std::vector<std::string> layoutArgs(const Layout& l) {
  std::vector<std::string> args;
  if (l.hosts > 0) args = {"--local-hosts", std::to_string(l.hosts)};
  args.insert(args.end(), {"-np", std::to_string(l.np)});
  return args;
}

std::string name(const ::testing::TestParamInfo<Layout>& info) {
  return "np" + std::to_string(info.param.np) +
         (info.param.hosts ? "_hosts" + std::to_string(info.param.hosts) : "");
}

class MpiPrograms : public IonetTest, public ::testing::WithParamInterface<Layout> {
 protected:
  CommandResult runExample(const std::vector<std::string>& program) {
    auto args = layoutArgs(GetParam());
    args.insert(args.end(), program.begin(), program.end());
    auto r = ionetRun(args);
    EXPECT_FINISHED(r);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return r;
  }
};

TEST_P(MpiPrograms, HelloReachesEveryRank) {
  const int np = GetParam().np;
  auto r = runExample({example("hello")});
  std::set<int> ranks;
  std::set<std::string> hosts;
  std::regex line(R"(hello from rank (\d+) of (\d+) on (\S+))");
  for (const auto& l : r.outLines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(l.text, m, line)) << l.text;
    EXPECT_EQ(std::stoi(m[2]), np);
    ranks.insert(std::stoi(m[1]));
    hosts.insert(m[3]);
  }
  EXPECT_EQ(static_cast<int>(r.outLines.size()), np);
  EXPECT_EQ(static_cast<int>(ranks.size()), np);
  // Emulated hosts share the kernel, so MPI_Get_processor_name names the real machine.
  char self[256] = "";
  ::gethostname(self, sizeof(self) - 1);
  EXPECT_EQ(hosts, (std::set<std::string>{self}));
}

TEST_P(MpiPrograms, AllreduceHasTheRightSum) {
  const int np = GetParam().np;
  auto r = runExample({example("allreduce"), "65536"});
  EXPECT_EQ(countLines(r.out, "allreduce OK ranks=" + std::to_string(np) + " count=65536"), 1)
      << r.out;
}

TEST_P(MpiPrograms, RingPassesTheToken) {
  const int np = GetParam().np;
  auto r = runExample({example("ring")});
  EXPECT_EQ(countLines(r.out, "ring OK token=" + std::to_string(np * (np + 1) / 2)), 1) << r.out;
}

TEST_P(MpiPrograms, CommSplitSumsEachColor) {
  const int np = GetParam().np;
  auto r = runExample({example("comm_split")});
  for (int rank = 0; rank < np; ++rank) {
    const int color = rank % 2;
    int size = 0, sum = 0;
    for (int q = color; q < np; q += 2) {
      ++size;
      sum += q;
    }
    const std::string expected = "split rank " + std::to_string(rank) + " color " +
                                 std::to_string(color) + " sub_size " + std::to_string(size) +
                                 " sum " + std::to_string(sum) + " OK";
    EXPECT_EQ(countLines(r.out, expected), 1) << "missing: " << expected << "\n" << r.out;
  }
}

INSTANTIATE_TEST_SUITE_P(SingleHost, MpiPrograms,
                         ::testing::Values(Layout{1, 0}, Layout{2, 0}, Layout{3, 0}, Layout{4, 0},
                                           Layout{8, 0}),
                         name);
INSTANTIATE_TEST_SUITE_P(TwoEmulatedHosts, MpiPrograms,
                         ::testing::Values(Layout{2, 2}, Layout{4, 2}, Layout{5, 2}, Layout{8, 2}),
                         name);

TEST_F(IonetTest, Mpi4pyHelloOnTwoHosts) {
  auto r = ionetRun({"--local-hosts", "2", "-np", "4", kPython, example("hello_mpi4py.py")});
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  for (int rank = 0; rank < 4; ++rank) {
    EXPECT_EQ(countLines(r.out, "mpi4py hello from rank " + std::to_string(rank) + " of 4"), 1);
  }
  EXPECT_EQ(countLines(r.out, "mpi4py allreduce OK"), 1);
}

// ionet-run and mpirun must print the same results (hello's host names aside on emulated hosts).
TEST_F(IonetTest, SameResultsAsMpirun) {
  if (::access("/usr/bin/mpirun", X_OK) != 0) GTEST_SKIP() << "mpirun not installed";
  for (const auto& program : {"allreduce", "ring", "comm_split", "hello"}) {
    auto ref =
        run({"mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "4", example(program)},
            {leftovers_.markerEnv()}, "", std::chrono::seconds(120));
    ASSERT_TRUE(ref.finished && ref.exitCode == 0) << program << ": mpirun failed\n" << ref.err;
    auto single = ionetRun({"-np", "4", example(program)});
    EXPECT_EQ(single.sortedLines(), ref.sortedLines()) << program;
    if (std::string(program) == "hello") continue;
    auto two = ionetRun({"--local-hosts", "2", "-np", "4", example(program)});
    EXPECT_EQ(two.sortedLines(), ref.sortedLines()) << program << " on 2 emulated hosts";
  }
}

}  // namespace
}  // namespace ionet::test
