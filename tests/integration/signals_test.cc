// Signals: SIGTERM/SIGINT to ionet-run reach every rank; a second SIGINT kills; kill -9 of
// ionet-run leaves nothing behind (the fixture checks processes and files).
#include <signal.h>

#include <fstream>

#include "fixture.h"

namespace ionet::test {
namespace {

bool allReady(const std::string& out, int np) {
  for (int r = 0; r < np; ++r) {
    if (countLines(out, "rank " + std::to_string(r) + " ready") != 1) return false;
  }
  return true;
}

TEST_F(IonetTest, SigtermIsForwardedToEveryRank) {
  auto c = start({"--local-hosts", "2", "-np", "4", example("signal_trap")});
  ASSERT_TRUE(c.waitForOutput([](const std::string& o) { return allReady(o, 4); },
                              std::chrono::seconds(30)))
      << c.transcript();
  c.signal(SIGTERM);
  auto r = c.wait(std::chrono::seconds(20));
  EXPECT_FINISHED(r);
  for (int rank = 0; rank < 4; ++rank) {
    EXPECT_EQ(countLines(r.out, "rank " + std::to_string(rank) + " got signal 15"), 1) << r.out;
  }
  EXPECT_EQ(r.exitCode, 128 + SIGTERM) << r.err;
}

TEST_F(IonetTest, SigusrIsForwardedToEveryRankAndTheJobGoesOn) {
  auto c = start({"--local-hosts", "2", "-np", "4", example("signal_trap")});
  ASSERT_TRUE(c.waitForOutput([](const std::string& o) { return allReady(o, 4); },
                              std::chrono::seconds(30)))
      << c.transcript();
  c.signal(SIGUSR1);
  ASSERT_TRUE(
      c.waitForOutput([](const std::string& o) { return countContaining(o, "got signal 10") == 4; },
                      std::chrono::seconds(10)))
      << c.transcript();
  c.signal(SIGUSR2);
  ASSERT_TRUE(
      c.waitForOutput([](const std::string& o) { return countContaining(o, "got signal 12") == 4; },
                      std::chrono::seconds(10)))
      << c.transcript();
  c.signal(SIGTERM);  // only now does the job end
  auto r = c.wait(std::chrono::seconds(20));
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 128 + SIGTERM) << r.err;
  EXPECT_EQ(countContaining(r.out, "got signal 15"), 4) << r.out;
}

TEST_F(IonetTest, SigusrBetweenRestartsDoesNotEndIonetRun) {
  // No ranks to give it to during --restart-delay: ignored, and the restart goes ahead.
  auto c = start(
      {"-np", "2", "--max-restarts", "1", "--restart-delay", "2", example("exit_code"), "1", "5"});
  ASSERT_TRUE(c.waitForStderr(
      [](const std::string& e) { return e.find("restarting it in 2 s") != std::string::npos; },
      std::chrono::seconds(30)))
      << c.transcript();
  c.signal(SIGUSR1);
  auto r = c.wait(std::chrono::seconds(30));
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.exitCode, 5) << r.err;
  EXPECT_NE(r.err.find("restart 1 of 1 on hosts"), std::string::npos) << r.err;
}

TEST_F(IonetTest, SigintIsForwardedAndASecondOneKills) {
  auto c = start({"-np", "2", example("signal_trap")});
  ASSERT_TRUE(c.waitForOutput([](const std::string& o) { return allReady(o, 2); },
                              std::chrono::seconds(30)))
      << c.transcript();
  c.signal(SIGINT);
  ASSERT_TRUE(
      c.waitForOutput([](const std::string& o) { return countContaining(o, "got signal 2") == 2; },
                      std::chrono::seconds(10)))
      << c.transcript();
  auto r = c.wait(std::chrono::seconds(20));
  EXPECT_EQ(r.exitCode, 128 + SIGINT) << r.err;

  // A rank that ignores the first SIGINT: the second one kills the job.
  auto sleeper = start({"-np", "2", "/bin/sh", "-c", "trap '' INT; echo up; sleep 60"});
  ASSERT_TRUE(sleeper.waitForOutput([](const std::string& o) { return countLines(o, "up") == 2; },
                                    std::chrono::seconds(30)))
      << sleeper.transcript();
  sleeper.signal(SIGINT);
  // Wait until the forward is logged before the second ^C, as a person would.
  ASSERT_TRUE(sleeper.waitForStderr(
      [](const std::string& e) { return e.find("forwarding signal 2") != std::string::npos; },
      std::chrono::seconds(10)))
      << sleeper.transcript();
  sleeper.signal(SIGINT);
  auto killed = sleeper.wait(std::chrono::seconds(10));
  EXPECT_FINISHED(killed);
  EXPECT_NE(killed.exitCode, 0);
  EXPECT_LT(killed.seconds(), 10.0);
}

TEST_F(IonetTest, KillNineOfIonetRunLeavesNothingBehind) {
  auto c = start({"--local-hosts", "2", "-np", "4", example("signal_trap")});
  ASSERT_TRUE(c.waitForOutput([](const std::string& o) { return allReady(o, 4); },
                              std::chrono::seconds(30)))
      << c.transcript();
  c.signal(SIGKILL);
  auto r = c.wait(std::chrono::seconds(10));
  EXPECT_EQ(r.signal, SIGKILL);
  // Agents and ranks must be gone within a few seconds: the fixture checks it.
  auto alive = leftovers_.survivors(std::chrono::seconds(5));
  EXPECT_TRUE(alive.empty()) << ::testing::PrintToString(alive);
}

std::vector<pid_t> childrenOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> children;
  for (pid_t c; in >> c;) children.push_back(c);
  return children;
}

TEST_F(IonetTest, KillNineOfAnAgentTearsTheJobDown) {
  auto c = start({"--local-hosts", "2", "-np", "4", example("signal_trap")});
  ASSERT_TRUE(c.waitForOutput([](const std::string& o) { return allReady(o, 4); },
                              std::chrono::seconds(30)))
      << c.transcript();
  auto agents = childrenOf(c.pid());
  ASSERT_EQ(agents.size(), 2u);
  ::kill(agents[1], SIGKILL);
  const auto killedAt = Clock::now();
  auto r = c.wait(std::chrono::seconds(20));
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("the agent of host node1 died (killed by signal 9"), std::string::npos)
      << r.err;
  EXPECT_LT(std::chrono::duration<double>(r.endedAt - killedAt).count(), 3.0);
}

}  // namespace
}  // namespace ionet::test
