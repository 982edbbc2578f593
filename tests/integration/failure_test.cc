// How jobs end badly: exit status and message of the first failing rank, teardown within 1 s,
// MPI_Abort's status, --timeout, a program that cannot be started.
#include <signal.h>

#include "fixture.h"

namespace ionet::test {
namespace {

using std::chrono::duration;

double secondsBetween(Clock::time_point a, Clock::time_point b) {
  return duration<double>(b - a).count();
}

// The line's arrival time, or the end of the run when it never came.
Clock::time_point whenPrinted(const CommandResult& r, const std::string& text) {
  for (const auto& l : r.outLines) {
    if (l.text == text) return l.at;
  }
  ADD_FAILURE() << "never printed: " << text << "\n" << r.out;
  return r.endedAt;
}

TEST_F(IonetTest, SegfaultEndsJobWithSignalStatusWithinOneSecond) {
  for (const auto& hosts : {"1", "2"}) {
    auto r = ionetRun({"--local-hosts", hosts, "-np", "4", example("segfault")});
    EXPECT_FINISHED(r);
    EXPECT_EQ(r.exitCode, 128 + SIGSEGV);
    EXPECT_NE(r.err.find("rank 1 on host node0 killed by signal 11 (Segmentation fault)"),
              std::string::npos)
        << r.err;
    // The other three ranks block in MPI_Recv forever: only teardown ends them.
    const double teardown = secondsBetween(whenPrinted(r, "rank 1 segfaulting"), r.endedAt);
    EXPECT_LT(teardown, 1.0) << "teardown took " << teardown << " s";
  }
}

TEST_F(IonetTest, NonZeroExitIsTheJobStatus) {
  auto r = ionetRun({"--local-hosts", "2", "-np", "4", example("exit_code"), "2", "5"});
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 5);
  EXPECT_NE(r.err.find("rank 2 on host node1 exited with code 5"), std::string::npos) << r.err;
  // The other ranks would sleep 60 s.
  const double teardown = secondsBetween(whenPrinted(r, "rank 2 exiting with 5"), r.endedAt);
  EXPECT_LT(teardown, 1.0) << "teardown took " << teardown << " s";
}

TEST_F(IonetTest, MpiAbortStatusBecomesExitStatus) {
  for (const auto& layout : std::vector<std::vector<std::string>>{
           {"-np", "4"}, {"--local-hosts", "2", "-np", "4"}, {"-np", "1"}}) {
    auto args = layout;
    args.push_back(example("abort"));
    auto r = ionetRun(args);
    EXPECT_FINISHED(r);
    EXPECT_EQ(r.exitCode, 7) << r.err;
    EXPECT_NE(r.err.find("called MPI_Abort with status 7"), std::string::npos) << r.err;
  }
  auto r = ionetRun({"-np", "3", example("abort"), "42"});
  EXPECT_EQ(r.exitCode, 42) << r.err;
}

TEST_F(IonetTest, TimeoutKillsTheJob) {
  auto r = ionetRun({"--timeout", "1", "-np", "2", example("slow_finish"), "30"});
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 124);
  EXPECT_NE(r.err.find("--timeout 1"), std::string::npos) << r.err;
  EXPECT_LT(r.seconds(), 5.0);
}

TEST_F(IonetTest, MissingProgramIsReportedByName) {
  auto r = ionetRun({"--local-hosts", "2", "-np", "2", "./no-such-program"});
  EXPECT_FINISHED(r);
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("cannot find executable './no-such-program'"), std::string::npos) << r.err;
}

// A clean exit without MPI_Finalize is a failure (as for mpirun), reported once the agent has
// waited out a finalize notice that could still be in flight (10 s).
TEST_F(IonetTest, ExitWithoutFinalizeFailsTheJob) {
  auto r = ionetRun({"--local-hosts", "2", "-np", "2", example("no_finalize")});
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("rank 0 on host node0 exited without calling MPI_Finalize"),
            std::string::npos)
      << r.err;
  EXPECT_LT(r.seconds(), 20.0);
}

TEST_F(IonetTest, SuccessfulJobExitsZero) {
  auto r = ionetRun({"-np", "3", "/bin/true"});
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

}  // namespace
}  // namespace ionet::test
