// The step log's one format: what ionet-run writes (restart.cc) is what the shepherd reads.
#include "hosts/step_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

namespace ionet::launcher {
namespace {

const EndCause kAllCauses[] = {EndCause::kSuccess, EndCause::kRankFailed,   EndCause::kHostLost,
                               EndCause::kAborted, EndCause::kLaunchFailed, EndCause::kInterrupted,
                               EndCause::kTimeout};

TEST(StepLog, EveryCauseHasItsOwnNameAndReadsBack) {
  std::set<std::string> names;
  for (EndCause c : kAllCauses) {
    const std::string name(endCauseName(c));
    EXPECT_NE(name, "unknown");
    EXPECT_TRUE(names.insert(name).second) << name << " names two causes";
    EXPECT_EQ(parseEndCause(name), c) << name;
  }
  EXPECT_EQ(parseEndCause("host lost"), std::nullopt);
  EXPECT_EQ(parseEndCause(""), std::nullopt);
}

TEST(StepLog, TheShepherdsNamesAreTheOnesIonetRunWrites) {
  // The queue's NODE_FAIL depends on this exact word in files already on disk.
  EXPECT_EQ(endCauseName(EndCause::kHostLost), "host-lost");
  EXPECT_EQ(formatStepEnd({EndCause::kHostLost, "gpu2"}), "end host-lost gpu2\n");
  EXPECT_EQ(formatStepPlacement({1, 3, "gpu2", "0,1"}), "place 1 3 gpu2 0,1\n");
}

TEST(StepLog, WrittenLinesReadBackAsTheyWere) {
  const std::vector<StepPlacement> placements = {
      {0, 0, "a", "0"}, {0, 1, "a", "1"}, {0, 2, "b", ""}, {1, 0, "c", "0,1,2"}};
  std::string text;
  for (const auto& p : placements) text += formatStepPlacement(p);
  for (EndCause c : kAllCauses) {
    const StepEnd end{c, c == EndCause::kHostLost ? "b" : ""};
    const StepLog log = parseStepLog(text + formatStepEnd(end));
    EXPECT_EQ(log.placements, placements);
    ASSERT_TRUE(log.lastEnd);
    EXPECT_EQ(*log.lastEnd, end);
  }
}

TEST(StepLog, TheLastEndOfSeveralRunsDecides) {
  const std::string text = formatStepEnd({EndCause::kHostLost, "b"}) +
                           formatStepPlacement({1, 0, "c", ""}) +
                           formatStepEnd({EndCause::kSuccess, ""});
  const StepLog log = parseStepLog(text);
  ASSERT_TRUE(log.lastEnd);
  EXPECT_EQ(log.lastEnd->cause, EndCause::kSuccess);
  EXPECT_EQ(log.placements.size(), 1u);
}

TEST(StepLog, TornAndForeignLinesAreSkipped) {
  const std::string text =
      "place 0 0 a -\n"
      "place 0 1 a\n"          // torn: a run killed mid-write
      "place x 1 a -\n"        // not a number
      "place 0 2 a - extra\n"  // not the format
      "end exploded a\n"       // no such cause
      "end host-lost b\n"
      "end rank-failed";  // torn, no host
  const StepLog log = parseStepLog(text);
  EXPECT_EQ(log.placements, (std::vector<StepPlacement>{{0, 0, "a", ""}}));
  ASSERT_TRUE(log.lastEnd);
  EXPECT_EQ(*log.lastEnd, (StepEnd{EndCause::kHostLost, "b"}));
}

TEST(StepLog, AppendsToTheFileAndReadsItBack) {
  namespace fs = std::filesystem;
  const auto path = fs::temp_directory_path() / ("step-log-test-" + std::to_string(::getpid()));
  fs::remove(path);
  EXPECT_FALSE(readStepLog(path.string()).lastEnd);  // absent: empty
  appendStepLog(path.string(), formatStepPlacement({0, 0, "a", ""}));
  appendStepLog(path.string(), formatStepEnd({EndCause::kTimeout, ""}));
  appendStepLog("", "not written anywhere\n");
  const StepLog log = readStepLog(path.string());
  EXPECT_EQ(log.placements.size(), 1u);
  ASSERT_TRUE(log.lastEnd);
  EXPECT_EQ(log.lastEnd->cause, EndCause::kTimeout);
  fs::remove(path);
}

}  // namespace
}  // namespace ionet::launcher
