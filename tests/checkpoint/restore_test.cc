// Restore's choice: the newest set that verifies (by step number), falling back past damaged
// sets with one line each; *.tmp leftovers never chosen; IONET_RESUME_FROM preferred.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include "ionet/ckpt/checkpoint.h"
#include "ionet/ckpt/checksum.h"
#include "scratch.h"
#include "thread_comm.h"

namespace ionet::ckpt::test {
namespace {

class Restore : public ::testing::Test {
 protected:
  CheckpointDir open(int keep = 5) { return CheckpointDir({scratch_.path(), keep, soloComm()}); }

  // Commits steps 1..n.
  void commitSteps(int n) {
    auto dir = open();
    for (int s = 1; s <= n; ++s) commitStep(dir, s);
  }

  Restored restore() { return open().restore(); }

  static void expectStep(const Restored& r, std::int64_t step) {
    ASSERT_TRUE(r.set) << "nothing restored; skipped: " << ::testing::PrintToString(r.skipped);
    EXPECT_EQ(r.set->step(), step);
    EXPECT_EQ(r.set->read<double>("x"), valuesOf(step, 0));
    EXPECT_EQ(r.set->metadata("note"), "step " + std::to_string(step));
  }

  ScratchDir scratch_;
  ScopedEnv noResume_{"IONET_RESUME_FROM", ""};
};

TEST_F(Restore, NoSetIsNotAnError) {
  auto r = restore();
  EXPECT_FALSE(r.set);
  EXPECT_TRUE(r.skipped.empty());
  auto missing = CheckpointDir({scratch_ / "never-created", 2, soloComm()}).restore();
  EXPECT_FALSE(missing.set);
}

TEST_F(Restore, NewestByStepNumberNotByNameOrTime) {
  auto dir = open();
  commitStep(dir, 9);
  commitStep(dir, 10);
  // "step-9" sorts after "step-10" as text; make it the newer by mtime too.
  struct utimbuf old = {1000, 1000};
  ::utime((scratch_ / "step-10").c_str(), &old);
  auto r = restore();
  expectStep(r, 10);
  EXPECT_TRUE(r.skipped.empty());
}

TEST_F(Restore, CorruptedDataFileIsSkippedWithItsChecksums) {
  commitSteps(3);
  auto file = scratch_ / "step-3" / "rank-0.h5";
  auto recorded = Manifest::parse(slurp(scratch_ / "step-3" / "MANIFEST"), "m").files[0].checksum;
  flipMiddleByte(file);
  auto actual = digestFile(file).checksum;
  auto r = restore();
  expectStep(r, 2);
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_EQ(r.skipped[0], "step-3: rank-0.h5 checksum mismatch (manifest " + hex64(recorded) +
                              ", file " + hex64(actual) + ")");
}

TEST_F(Restore, CorruptedOrTruncatedManifestIsSkipped) {
  commitSteps(3);
  flipMiddleByte(scratch_ / "step-3" / "MANIFEST");
  std::string m2 = slurp(scratch_ / "step-2" / "MANIFEST");
  spit(scratch_ / "step-2" / "MANIFEST", m2.substr(0, m2.size() - 10));
  auto r = restore();
  expectStep(r, 1);
  ASSERT_EQ(r.skipped.size(), 2u);
  EXPECT_TRUE(r.skipped[0].starts_with("step-3: MANIFEST: manifest checksum mismatch (recorded "))
      << r.skipped[0];
  EXPECT_EQ(r.skipped[1], "step-2: MANIFEST: truncated (no manifest-checksum line at the end)");
}

TEST_F(Restore, MissingFileOrManifestIsSkipped) {
  commitSteps(3);
  fs::remove(scratch_ / "step-3" / "rank-0.h5");
  fs::remove(scratch_ / "step-2" / "MANIFEST");
  auto r = restore();
  expectStep(r, 1);
  EXPECT_EQ(r.skipped,
            (std::vector<std::string>{"step-3: rank-0.h5 missing", "step-2: no MANIFEST"}));
}

TEST_F(Restore, SizeMismatchIsSkipped) {
  commitSteps(2);
  std::ofstream(scratch_ / "step-2" / "rank-0.h5", std::ios::app) << "x";
  auto r = restore();
  expectStep(r, 1);
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_NE(r.skipped[0].find("rank-0.h5 size "), std::string::npos) << r.skipped[0];
}

TEST_F(Restore, LeftoverTmpIsNeverChosenAndBeginRemovesIt) {
  commitSteps(2);
  // A whole, valid-looking set under a tmp name: a crash after the manifest, before the rename.
  fs::copy(scratch_ / "step-2", scratch_ / "step-7.tmp");
  fs::create_directory(scratch_ / "step-8.tmp");
  expectStep(restore(), 2);
  auto dir = open();
  commitStep(dir, 3);
  EXPECT_FALSE(fs::exists(scratch_ / "step-7.tmp"));
  EXPECT_FALSE(fs::exists(scratch_ / "step-8.tmp"));
  expectStep(restore(), 3);
}

TEST_F(Restore, ResumeFromIsPreferredWhenItVerifies) {
  commitSteps(3);
  {
    ScopedEnv resume("IONET_RESUME_FROM", "step-1");
    auto r = restore();
    expectStep(r, 1);
    EXPECT_TRUE(r.skipped.empty());
  }
  ScopedEnv resume("IONET_RESUME_FROM", (scratch_ / "step-2").string());
  expectStep(restore(), 2);
}

TEST_F(Restore, ResumeFromThatFailsFallsBackToNewest) {
  commitSteps(3);
  flipMiddleByte(scratch_ / "step-2" / "rank-0.h5");
  ScopedEnv resume("IONET_RESUME_FROM", (scratch_ / "step-2").string());
  auto r = restore();
  expectStep(r, 3);
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_TRUE(r.skipped[0].starts_with("IONET_RESUME_FROM=" + (scratch_ / "step-2").string() +
                                       ": rank-0.h5 checksum mismatch"))
      << r.skipped[0];
}

TEST_F(Restore, AnotherNumberOfRanksIsAClearError) {
  runRanks(3, [&](std::shared_ptr<Comm> comm) {
    CheckpointDir dir({scratch_.path(), 2, comm});
    commitStep(dir, 5);
  });
  EXPECT_EQ(verifySet(scratch_ / "step-5"), std::nullopt);
  auto r = restore();
  EXPECT_FALSE(r.set);
  EXPECT_EQ(r.skipped, (std::vector<std::string>{
                           "step-5: the set has 3 ranks, this run has 1 (restoring onto another "
                           "number of ranks is not supported yet)"}));
}

TEST_F(Restore, VerifySetChecksEveryRankFile) {
  runRanks(3, [&](std::shared_ptr<Comm> comm) {
    CheckpointDir dir({scratch_.path(), 2, comm});
    commitStep(dir, 1);
  });
  flipMiddleByte(scratch_ / "step-1" / "rank-2.h5");
  auto why = verifySet(scratch_ / "step-1");
  ASSERT_TRUE(why);
  EXPECT_TRUE(why->starts_with("rank-2.h5 checksum mismatch (manifest ")) << *why;
}

TEST_F(Restore, StepInManifestMustMatchTheDirectory) {
  commitSteps(2);
  fs::rename(scratch_ / "step-2", scratch_ / "step-4");
  auto r = restore();
  expectStep(r, 1);
  EXPECT_EQ(r.skipped, std::vector<std::string>{"step-4: MANIFEST says step 2, the directory is "
                                                "step-4"});
}

}  // namespace
}  // namespace ionet::ckpt::test
