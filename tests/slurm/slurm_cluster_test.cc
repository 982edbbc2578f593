// The fixture itself: a real Slurm comes up with three idle nodes, runs a step on each, and
// goes away without leaving a daemon behind (ctest --repeat until-fail:20 measures it).
#include "slurm_cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "fixture.h"

namespace ionet::test {
namespace {

bool anyProcessWith(const std::string& needle) {
  auto r = Command({"pgrep", "-f", needle}).wait(std::chrono::seconds(10));
  return r.exitCode == 0;
}

TEST(SlurmCluster, StartsRunsAStepPerNodeAndStops) {
  std::string dir;
  {
    SlurmCluster cluster;
    ASSERT_TRUE(cluster.started()) << cluster.why();
    dir = cluster.dir();
    auto r = cluster.client(
        {"srun", "-N3", "-n3", "--ntasks-per-node=1", "bash", "-c", "echo $SLURMD_NODENAME"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    std::vector<std::string> nodes;
    std::istringstream lines(r.out);
    for (std::string l; std::getline(lines, l);) nodes.push_back(l);
    std::sort(nodes.begin(), nodes.end());
    EXPECT_EQ(nodes, (std::vector<std::string>{"n1", "n2", "n3"}));
  }
  EXPECT_FALSE(anyProcessWith(dir)) << "a daemon of " << dir << " outlived the cluster";
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
}  // namespace ionet::test
