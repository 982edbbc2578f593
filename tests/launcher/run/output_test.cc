// OutputSink with --output-filename: each rank's streams land in DIR/1/rank.R/{stdout,stderr}.
// (Tagged output on ionet-run's own stdout is covered by the integration tests.)
#include "run/output.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ionet::launcher {
namespace {

namespace fs = std::filesystem;

class OutputFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/ionet-output-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string read(const std::string& relative) const {
    std::ifstream in(dir_ + "/" + relative, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::string dir_;
};

TEST_F(OutputFiles, EachRankAndStreamGetsExactlyItsData) {
  {
    OutputSink sink({.directory = dir_});
    sink.write(0, StreamId::kStdout, "zero out\n");
    sink.write(3, StreamId::kStderr, "three err\n");
    sink.write(3, StreamId::kStdout, "three out 1\n");
    sink.write(0, StreamId::kStdout, "zero again\n");
    sink.write(3, StreamId::kStdout, "three out 2\nno newline");
    sink.write(3, StreamId::kStderr, std::string("bin\0ary\n", 8));
  }
  EXPECT_EQ(read("1/rank.0/stdout"), "zero out\nzero again\n");
  EXPECT_EQ(read("1/rank.3/stdout"), "three out 1\nthree out 2\nno newline");
  EXPECT_EQ(read("1/rank.3/stderr"), std::string("three err\nbin\0ary\n", 18));
  // Rank 0 wrote nothing to stderr.
  EXPECT_FALSE(fs::exists(dir_ + "/1/rank.0/stderr"));
}

TEST_F(OutputFiles, DataIsInTheFileBeforeTheSinkCloses) {
  OutputSink sink({.directory = dir_});
  sink.write(1, StreamId::kStdout, "early\n");
  EXPECT_EQ(read("1/rank.1/stdout"), "early\n");
}

TEST_F(OutputFiles, NoTagsOrTimestampsInFiles) {
  {
    OutputSink sink({.tag = true, .timestamp = true, .directory = dir_});
    sink.write(2, StreamId::kStdout, "plain\n");
  }
  EXPECT_EQ(read("1/rank.2/stdout"), "plain\n");
}

TEST_F(OutputFiles, MergeStderrGoesToStdoutFileInOrder) {
  {
    OutputSink sink({.mergeStderr = true, .directory = dir_});
    sink.write(0, StreamId::kStdout, "out 1\n");
    sink.write(0, StreamId::kStderr, "err 1\n");
    sink.write(0, StreamId::kStdout, "out 2\n");
  }
  EXPECT_EQ(read("1/rank.0/stdout"), "out 1\nerr 1\nout 2\n");
  EXPECT_FALSE(fs::exists(dir_ + "/1/rank.0/stderr"));
}

TEST(WriteFully, WritesEverythingToAPipe) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string data(10000, 'q');
  EXPECT_TRUE(writeFully(fds[1], data));
  ::close(fds[1]);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) > 0;) got.append(buf, n);
  ::close(fds[0]);
  EXPECT_EQ(got, data);
}

TEST(WriteFully, FailsOnABadDescriptor) { EXPECT_FALSE(writeFully(-1, "x")); }

}  // namespace
}  // namespace ionet::launcher
