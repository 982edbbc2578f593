// The control tree (IONET_TREE_FANOUT): with more hosts than the fanout, the launch and the
// fences travel through the agents. Seven emulated hosts with fanout 2 make a tree of depth 3
// (launcher -> node0 -> node1 -> node2): the job must run as it does with the star, and the loss
// of an interior agent must still tear everything down.
#include <signal.h>

#include <fstream>

#include "fixture.h"

namespace ionet::test {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kTreeEnv = {"IONET_TREE_FANOUT=2", "IONET_LOG_LEVEL=debug"};

TEST_F(IonetTest, ControlTreeCarriesLaunchAndFencesOfSevenHosts) {
  auto r = ionetRun({"--local-hosts", "7", "-np", "14", example("allreduce"), "65536"}, kTreeEnv,
                    "", 120s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("allreduce OK ranks=14"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("control tree: 7 hosts, fanout 2, depth 3"), std::string::npos) << r.err;
  // Interior agents passed the launch on: node0 to node1 and node3, node1 to node2, node4 to
  // node5 and node6 (the launcher itself only to node0 and node4).
  for (const auto& [parent, child] :
       std::vector<std::pair<std::string, std::string>>{{"node0", "node1"},
                                                        {"node0", "node3"},
                                                        {"node1", "node2"},
                                                        {"node4", "node5"},
                                                        {"node4", "node6"}}) {
    EXPECT_EQ(countContaining(r.err, "ionet-agent[" + parent + "]: host " + parent +
                                         ": control tree: launch passed to host " + child),
              1)
        << parent << " -> " << child << "\n"
        << r.err;
  }
}

TEST_F(IonetTest, ControlTreeRunsCommSplitAndRing) {
  auto split = ionetRun({"--local-hosts", "5", "-np", "10", example("comm_split")},
                        {"IONET_TREE_FANOUT=2"}, "", 120s);
  EXPECT_FINISHED(split);
  EXPECT_EQ(split.exitCode, 0) << split.out << split.err;
  EXPECT_EQ(countContaining(split.out, " OK"), 10) << split.out;
  auto ring = ionetRun({"--local-hosts", "5", "-np", "10", example("ring")},
                       {"IONET_TREE_FANOUT=2"}, "", 120s);
  EXPECT_FINISHED(ring);
  EXPECT_EQ(ring.exitCode, 0) << ring.out << ring.err;
  EXPECT_NE(ring.out.find("ring OK"), std::string::npos) << ring.out;
}

TEST_F(IonetTest, KillNineOfAnInteriorAgentTearsTheTreeDown) {
  auto c =
      start({"--local-hosts", "7", "-np", "7", example("signal_trap")}, {"IONET_TREE_FANOUT=2"});
  ASSERT_TRUE(
      c.waitForOutput([](const std::string& o) { return countContaining(o, " ready") == 7; }, 60s))
      << c.transcript();
  // The agents are ionet-run's children in node order; node4 heads node5 and node6.
  std::ifstream in("/proc/" + std::to_string(c.pid()) + "/task/" + std::to_string(c.pid()) +
                   "/children");
  std::vector<pid_t> agents;
  for (pid_t p; in >> p;) agents.push_back(p);
  ASSERT_EQ(agents.size(), 7u);
  ::kill(agents[4], SIGKILL);
  const auto killedAt = Clock::now();
  auto r = c.wait(20s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("the agent of host node4 died (killed by signal 9"), std::string::npos)
      << r.err;
  EXPECT_LT(std::chrono::duration<double>(r.endedAt - killedAt).count(), 3.0);
}

}  // namespace
}  // namespace ionet::test
