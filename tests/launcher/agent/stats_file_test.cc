// The stats file a job's agent writes for its pool agent's metrics: counters that never go back
// per peer, and a file replaced whole every second and once more at the end.
#include "agent/stats_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace ionet::launcher {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

control::HostStats statsWith(std::vector<std::pair<std::string, std::uint64_t>> sent) {
  control::HostStats s;
  for (const auto& [host, bytes] : sent) {
    auto* l = s.add_links();
    l->set_host(host);
    l->set_bytes_sent(bytes);
    l->set_resumes(bytes / 100);
    l->set_links_up(1);
    l->set_rtt_us(2000);
  }
  return s;
}

const control::DataLinkStats* link(const control::HostStats& s, const std::string& host) {
  for (const auto& l : s.links()) {
    if (l.host() == host) return &l;
  }
  return nullptr;
}

TEST(MonotoneLinks, ValuesPassThroughWhileTheyGrow) {
  MonotoneLinks m;
  auto s = statsWith({{"h2", 100}, {"h3", 5}});
  m.apply(s);
  EXPECT_EQ(link(s, "h2")->bytes_sent(), 100u);
  s = statsWith({{"h2", 250}, {"h3", 5}});
  m.apply(s);
  EXPECT_EQ(link(s, "h2")->bytes_sent(), 250u);
  EXPECT_EQ(link(s, "h2")->resumes(), 2u);
  EXPECT_EQ(link(s, "h2")->rtt_us(), 2000u);  // gauges are left alone
  EXPECT_EQ(s.links_size(), 2);
}

TEST(MonotoneLinks, ADropIsARestartAndAVanishedPeerKeepsItsTotals) {
  MonotoneLinks m;
  auto s = statsWith({{"h2", 1000}, {"h3", 300}});
  m.apply(s);
  // The session to h2 ended and a new one began; h3 has no session at all now.
  s = statsWith({{"h2", 40}});
  m.apply(s);
  ASSERT_EQ(s.links_size(), 2);
  EXPECT_EQ(link(s, "h2")->bytes_sent(), 1040u);
  EXPECT_EQ(link(s, "h2")->resumes(), 10u);
  ASSERT_NE(link(s, "h3"), nullptr);
  EXPECT_EQ(link(s, "h3")->bytes_sent(), 300u);
  EXPECT_EQ(link(s, "h3")->resumes(), 3u);
  EXPECT_EQ(link(s, "h3")->links_up(), 0u);  // nothing live to it
  EXPECT_EQ(link(s, "h3")->rtt_us(), 0u);
  // h3 comes back with a fresh session.
  s = statsWith({{"h2", 50}, {"h3", 7}});
  m.apply(s);
  EXPECT_EQ(link(s, "h2")->bytes_sent(), 1050u);
  EXPECT_EQ(link(s, "h3")->bytes_sent(), 307u);
  EXPECT_EQ(link(s, "h3")->links_up(), 1u);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

class StatsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("stats-file-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(StatsFileTest, WrittenAtOnceEverySecondAndAtTheEnd) {
  asio::io_context io;
  const std::string path = (dir_ / "host-stats.pb").string();
  unsigned calls = 0;
  HostStatsFile file(io, path, [&calls] {
    ++calls;
    auto s = statsWith({{"h2", 100 * calls}});
    s.set_ranks_running(4);
    return s;
  });
  control::HostStats read;
  ASSERT_TRUE(read.ParseFromString(readFile(path)));
  EXPECT_EQ(read.ranks_running(), 4u);
  EXPECT_EQ(link(read, "h2")->bytes_sent(), 100u);
  // The next write comes a second later, from the loop.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (calls < 2 && std::chrono::steady_clock::now() < deadline) io.run_for(100ms);
  ASSERT_EQ(calls, 2u);
  ASSERT_TRUE(read.ParseFromString(readFile(path)));
  EXPECT_EQ(link(read, "h2")->bytes_sent(), 200u);
  file.stop();
  EXPECT_EQ(calls, 3u);
  ASSERT_TRUE(read.ParseFromString(readFile(path)));
  EXPECT_EQ(link(read, "h2")->bytes_sent(), 300u);
  io.run_for(1500ms);  // nothing more after stop()
  EXPECT_EQ(calls, 3u);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  file.stop();  // once is enough
  EXPECT_EQ(calls, 3u);
}

TEST_F(StatsFileTest, ReplaceFileIsWholeOrNothing) {
  const std::string path = (dir_ / "f").string();
  ASSERT_TRUE(replaceFile(path, "first"));
  ASSERT_TRUE(replaceFile(path, "second"));
  EXPECT_EQ(readFile(path), "second");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_FALSE(replaceFile((dir_ / "no-such-dir" / "f").string(), "x"));
}

}  // namespace
}  // namespace ionet::launcher
