// planStaging: which step a restart with partner storage resumes from, and which rank files
// move between hosts before it.
#include "run/checkpoint_plan.h"

#include <gtest/gtest.h>

namespace ionet::launcher {
namespace {

Placement placement(std::vector<std::pair<std::string, std::vector<std::uint32_t>>> hosts) {
  Placement p;
  for (auto& [name, ranks] : hosts) {
    p.worldSize += static_cast<std::uint32_t>(ranks.size());
    p.hosts.push_back({name, ranks, std::vector<std::vector<unsigned>>(ranks.size())});
  }
  return p;
}

// Ring of two hosts a (ranks 0,1) and b (2,3): each holds its own sets and the other's copies,
// except that the copy of step 40 from b had not reached a when b was lost.
Holdings ring() {
  return {{"a", {{40, 4, {0, 1}}, {20, 4, {0, 1, 2, 3}}}},
          {"b", {{40, 4, {0, 1, 2, 3}}, {20, 4, {0, 1, 2, 3}}}}};
}

TEST(CheckpointPlan, SameHostsFetchNothing) {
  auto plan = planStaging(ring(), placement({{"a", {0, 1}}, {"b", {2, 3}}}));
  EXPECT_EQ(plan.step, 40);
  EXPECT_TRUE(plan.fetches.empty());
  EXPECT_EQ(describeFetches(plan), "");
}

TEST(CheckpointPlan, ASpareFetchesTheLostHostsRanksFromTheirPartner) {
  Holdings held = ring();
  held.erase("a");  // a was lost; c is the spare and holds nothing
  auto plan = planStaging(held, placement({{"b", {0, 1}}, {"c", {2, 3}}}));
  EXPECT_EQ(plan.step, 40);
  EXPECT_EQ(plan.fetches, (std::vector<CheckpointFetch>{{2, "b", "c"}, {3, "b", "c"}}));
  EXPECT_EQ(describeFetches(plan), "c fetches ranks 2,3 from b");
}

TEST(CheckpointPlan, AStepMissingARankFallsBackToAnOlderOne) {
  Holdings held = ring();
  held.erase("b");  // b was lost: a holds only ranks 0,1 of step 40, all of step 20
  auto plan = planStaging(held, placement({{"a", {0, 1}}, {"c", {2, 3}}}));
  EXPECT_EQ(plan.step, 20);
  EXPECT_EQ(plan.fetches, (std::vector<CheckpointFetch>{{2, "a", "c"}, {3, "a", "c"}}));
}

TEST(CheckpointPlan, NothingCompleteOrAnotherRankCountMeansAFreshStart) {
  EXPECT_EQ(planStaging({}, placement({{"a", {0, 1}}})).step, -1);
  Holdings held = {{"a", {{40, 4, {0, 1}}}}};
  EXPECT_EQ(planStaging(held, placement({{"a", {0, 1}}, {"c", {2, 3}}})).step, -1);
  // Sets of 4 ranks do not serve a job of 2.
  EXPECT_EQ(planStaging(ring(), placement({{"a", {0, 1}}})).step, -1);
  // A host not in the job cannot serve.
  Holdings away = {{"z", {{40, 2, {0, 1}}}}};
  EXPECT_EQ(planStaging(away, placement({{"a", {0, 1}}})).step, -1);
}

}  // namespace
}  // namespace ionet::launcher
