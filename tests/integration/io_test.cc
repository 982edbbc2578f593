// Output and input: whole lines only, tags, timestamps, per-rank files, merged stderr,
// stdin to rank 0, --wdir.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "fixture.h"

namespace ionet::test {
namespace {
namespace fs = std::filesystem;

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(IonetTest, LinesOfDifferentRanksNeverInterleave) {
  // chatter writes each line in three write() calls: without line assembly they mix.
  auto r = ionetRun({"--local-hosts", "2", "-np", "4", example("chatter"), "1500"});
  EXPECT_FINISHED(r);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::regex line(R"(rank (\d) line (\d+) ([a-z])\3{199})");
  int good = 0;
  for (const auto& l : r.outLines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(l.text, m, line)) << "mangled line: " << l.text.substr(0, 80);
    EXPECT_EQ(m[3].str()[0], 'a' + std::stoi(m[1]));
    ++good;
  }
  EXPECT_EQ(good, 4 * 1500);
}

TEST_F(IonetTest, TagOutputNamesRankAndStream) {
  auto r = ionetRun({"--tag-output", "-np", "2", "/bin/sh", "-c",
                     "echo out-$OMPI_COMM_WORLD_RANK; echo err-$OMPI_COMM_WORLD_RANK >&2"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(countLines(r.out, "[1,0]<stdout>:out-0"), 1) << r.out;
  EXPECT_EQ(countLines(r.out, "[1,1]<stdout>:out-1"), 1) << r.out;
  EXPECT_EQ(countLines(r.err, "[1,1]<stderr>:err-1"), 1) << r.err;
}

TEST_F(IonetTest, TimestampOutputPrefixesTheTime) {
  auto r = ionetRun({"--timestamp-output", "-np", "1", "/bin/echo", "stamped"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  // mpirun's format: "Wed Nov 25 07:07:45 2026<stdout>:stamped".
  std::regex stamped(R"(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}<stdout>:stamped\n)");
  EXPECT_TRUE(std::regex_match(r.out, stamped)) << r.out;
}

TEST_F(IonetTest, MergeStderrToStdout) {
  auto r = ionetRun({"--merge-stderr-to-stdout", "-np", "1", "/bin/sh", "-c", "echo oops >&2"});
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_EQ(r.out, "oops\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(IonetTest, OutputFilenameWritesPerRankFiles) {
  const fs::path dir = fs::temp_directory_path() / ("ionet-io-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto r = ionetRun({"--output-filename", dir.string(), "--local-hosts", "2", "-np", "3", "/bin/sh",
                     "-c", "echo out-$OMPI_COMM_WORLD_RANK; echo err-$OMPI_COMM_WORLD_RANK >&2"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "");
  for (int rank = 0; rank < 3; ++rank) {
    const fs::path d = dir / "1" / ("rank." + std::to_string(rank));
    EXPECT_EQ(readFile(d / "stdout"), "out-" + std::to_string(rank) + "\n");
    EXPECT_EQ(readFile(d / "stderr"), "err-" + std::to_string(rank) + "\n");
  }
  fs::remove_all(dir);
}

TEST_F(IonetTest, StdinGoesToRankZeroOnly) {
  std::string input;
  std::uint32_t sum = 0;
  for (int i = 0; i < 300000; ++i) {
    const char c = static_cast<char>('A' + (i * 7) % 26);
    input += c;
    sum += static_cast<unsigned char>(c);
  }
  auto r = ionetRun({"--local-hosts", "2", "-np", "4", example("stdin_echo")}, {}, input);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "rank 0 read 300000 bytes, checksum " + std::to_string(sum) + "\n");
}

TEST_F(IonetTest, WdirSetsTheRanksWorkingDirectory) {
  auto r = ionetRun({"--wdir", "/usr/share", "-np", "2", "/bin/pwd"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(countLines(r.out, "/usr/share"), 2) << r.out;
}

}  // namespace
}  // namespace ionet::test
