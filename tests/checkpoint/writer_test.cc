// Writing and committing sets from one process: the layout a commit leaves, retention, rejected
// settings, and a failed write that commits nothing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "ionet/ckpt/checkpoint.h"
#include "scratch.h"

namespace ionet::ckpt::test {
namespace {

std::vector<std::int64_t> steps(const fs::path& dir) {
  std::vector<std::int64_t> out;
  for (const auto& s : listSets(dir)) out.push_back(s.step);
  return out;
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Writer, CommitLeavesManifestFilesAndLatest) {
  ScratchDir scratch;
  CheckpointDir dir({scratch.path(), 2, soloComm()});
  auto set = commitStep(dir, 7);
  EXPECT_EQ(set.step, 7);
  EXPECT_EQ(set.path, scratch / "step-7");
  EXPECT_EQ(entries(scratch.path()), (std::vector<std::string>{"latest", "step-7"}));
  EXPECT_EQ(entries(set.path), (std::vector<std::string>{"MANIFEST", "rank-0.h5"}));
  EXPECT_EQ(fs::read_symlink(scratch / "latest"), "step-7");
  Manifest m = Manifest::parse(slurp(set.path / "MANIFEST"), "MANIFEST");
  EXPECT_EQ(m.step, 7);
  EXPECT_EQ(m.nranks, 1);
  EXPECT_EQ(m.files[0].size, fs::file_size(set.path / "rank-0.h5"));
  EXPECT_EQ(verifySet(set.path), std::nullopt);
}

TEST(Writer, RetentionKeepsExactlyK) {
  for (int keep : {2, 3}) {
    ScratchDir scratch;
    CheckpointDir dir({scratch.path(), keep, soloComm()});
    for (int s = 1; s <= 6; ++s) commitStep(dir, s * 10);
    std::vector<std::int64_t> expected;
    for (int s = 6; s > 6 - keep; --s) expected.push_back(s * 10);
    EXPECT_EQ(steps(scratch.path()), expected) << "keep " << keep;
    EXPECT_EQ(fs::read_symlink(scratch / "latest"), "step-60");
    for (const auto& e : entries(scratch.path()))
      EXPECT_FALSE(e.ends_with(".tmp")) << "left behind: " << e;
  }
}

TEST(Writer, KeepBelowTwoIsRejected) {
  ScratchDir scratch;
  for (int keep : {1, 0, -3}) {
    try {
      CheckpointDir dir({scratch.path(), keep, soloComm()});
      ADD_FAILURE() << "keep " << keep << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), Status::kInvalidArgument);
      EXPECT_NE(
          std::string(e.what()).find("keep must be at least 2 (got " + std::to_string(keep) + ")"),
          std::string::npos)
          << e.what();
    }
  }
}

TEST(Writer, DirectoryComesFromTheEnvironment) {
  ScratchDir scratch;
  {
    ScopedEnv env("IONET_CHECKPOINT_DIR", (scratch / "from-env").string());
    CheckpointDir dir({{}, 2, soloComm()});
    EXPECT_EQ(dir.path(), scratch / "from-env");
    commitStep(dir, 1);
    EXPECT_TRUE(fs::exists(scratch / "from-env" / "step-1" / "MANIFEST"));
  }
  ScopedEnv unset("IONET_CHECKPOINT_DIR", "");
  EXPECT_THROW(CheckpointDir({{}, 2, soloComm()}), Error);
}

TEST(Writer, FailedWriteCommitsNothing) {
  ScratchDir scratch;
  CheckpointDir dir({scratch.path(), 2, soloComm()});
  commitStep(dir, 1);
  SetWriter w = dir.begin(2);
  std::vector<double> v(10, 1.0);
  w.write<double>("x", v);
  EXPECT_THROW(w.write<double>("x", v), Error);  // the name exists: HDF5 refuses
  w.write<double>("y", v);                       // later writes succeed, the set stays failed
  try {
    w.commit();
    ADD_FAILURE() << "commit succeeded after a failed write";
  } catch (const Error& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("step-2 not committed: rank 0: ")) << e.what();
    EXPECT_NE(std::string(e.what()).find("dataset 'x'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries(scratch.path()), (std::vector<std::string>{"latest", "step-1"}));
  EXPECT_THROW(w.commit(), Error);  // once only
}

TEST(Writer, MarkFailedFailsTheCommit) {
  ScratchDir scratch;
  CheckpointDir dir({scratch.path(), 2, soloComm()});
  SetWriter w = dir.begin(1);
  w.markFailed(Error(Status::kInvalidArgument, "the caller found NaNs"));
  EXPECT_THROW(w.commit(), Error);
  EXPECT_TRUE(listSets(scratch.path()).empty());
}

TEST(Writer, SameStepAgainReplacesTheSet) {
  ScratchDir scratch;
  CheckpointDir dir({scratch.path(), 2, soloComm()});
  commitStep(dir, 4);
  commitStep(dir, 4, 10);  // written again (a restart from an earlier set got here again)
  auto r = dir.restore();
  ASSERT_TRUE(r.set);
  EXPECT_EQ(r.set->read<double>("x"), valuesOf(4, 0, 10));
  EXPECT_EQ(entries(scratch.path()), (std::vector<std::string>{"latest", "step-4"}));
}

TEST(Writer, SetsNewerThanTheCommittedOneAreRemoved) {
  // After a restart from step 2, committing step 3 abandons the old run's step 4 and 5: a later
  // restore must not go back to them.
  ScratchDir scratch;
  CheckpointDir dir({scratch.path(), 5, soloComm()});
  for (int s = 1; s <= 5; ++s) commitStep(dir, s);
  commitStep(dir, 3);
  EXPECT_EQ(steps(scratch.path()), (std::vector<std::int64_t>{3, 2, 1}));
}

TEST(Writer, AbortDropsTheFileAndTheNextBeginTheDirectory) {
  ScratchDir scratch;
  CheckpointDir dir({scratch.path(), 2, soloComm()});
  {
    SetWriter w = dir.begin(1);
    w.write<double>("x", valuesOf(1, 0));
    w.abort();
    EXPECT_FALSE(fs::exists(w.tmpPath() / "rank-0.h5"));
    EXPECT_THROW(w.write<double>("x", valuesOf(1, 0)), Error);
  }
  EXPECT_TRUE(fs::exists(scratch / "step-1.tmp"));
  commitStep(dir, 2);
  EXPECT_EQ(entries(scratch.path()), (std::vector<std::string>{"latest", "step-2"}));
}

TEST(Writer, NegativeStepIsRejected) {
  ScratchDir scratch;
  CheckpointDir dir({scratch.path(), 2, soloComm()});
  EXPECT_THROW(dir.begin(-1), Error);
}

// prepareSet/commitFiles (ionet-ckpt begin/commit): files written by someone else are
// checksummed into a MANIFEST that verifySet accepts; a missing file commits nothing.
TEST(Writer, CommitFilesPublishesRankFilesWrittenElsewhere) {
  ScratchDir scratch;
  for (std::int64_t step : {10, 20, 30}) {
    const fs::path tmp = prepareSet(scratch.path(), step);
    EXPECT_EQ(tmp, scratch / ("step-" + std::to_string(step) + ".tmp"));
    for (int r = 0; r < 3; ++r) {
      std::ofstream(tmp / rankFileName(r)) << "rank " << r << " of step " << step;
    }
    auto set = commitFiles(scratch.path(), step, 3, 2);
    EXPECT_EQ(set.path, scratch / ("step-" + std::to_string(step)));
    EXPECT_EQ(verifySet(set.path), std::nullopt);
  }
  EXPECT_EQ(steps(scratch.path()), (std::vector<std::int64_t>{30, 20}));  // keep 2
  EXPECT_EQ(fs::read_symlink(scratch / "latest"), "step-30");

  const fs::path tmp = prepareSet(scratch.path(), 40);
  std::ofstream(tmp / rankFileName(0)) << "only rank 0";
  try {
    commitFiles(scratch.path(), 40, 2, 2);
    FAIL() << "committed a set without rank-1.h5";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank-1.h5"), std::string::npos) << e.what();
  }
  EXPECT_EQ(steps(scratch.path()), (std::vector<std::int64_t>{30, 20}));
  EXPECT_THROW(commitFiles(scratch.path(), 30, 0, 2), Error);
  EXPECT_THROW(commitFiles(scratch.path(), 30, 1, 1), Error);
}

}  // namespace
}  // namespace ionet::ckpt::test
