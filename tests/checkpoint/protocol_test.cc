// The commit and restore protocols across ranks, run as threads of one process: everyone commits
// or nobody does, and every rank makes the same restore choice.
#include <gtest/gtest.h>

#include <mutex>

#include "ionet/ckpt/checkpoint.h"
#include "scratch.h"
#include "thread_comm.h"

namespace ionet::ckpt::test {
namespace {

constexpr int kRanks = 3;

TEST(Protocol, EveryRankCommitsAndRestoresItsOwnFile) {
  ScratchDir scratch;
  runRanks(kRanks, [&](std::shared_ptr<Comm> comm) {
    CheckpointDir dir({scratch.path(), 2, comm});
    for (int s = 1; s <= 3; ++s) {
      auto set = commitStep(dir, s);
      // Durable and complete on every rank as soon as commit returns.
      EXPECT_TRUE(fs::exists(set.path / "MANIFEST"));
    }
    auto r = dir.restore();
    ASSERT_TRUE(r.set);
    EXPECT_EQ(r.set->step(), 3);
    EXPECT_EQ(r.set->rank(), comm->rank());
    EXPECT_EQ(r.set->read<double>("x"), valuesOf(3, comm->rank()));
  });
  Manifest m = Manifest::parse(slurp(scratch / "step-3" / "MANIFEST"), "MANIFEST");
  EXPECT_EQ(m.nranks, kRanks);
  EXPECT_EQ(listSets(scratch.path()).size(), 2u);
}

TEST(Protocol, OneFailedRankMeansNobodyCommits) {
  ScratchDir scratch;
  std::mutex mu;
  std::vector<std::string> errors;
  runRanks(kRanks, [&](std::shared_ptr<Comm> comm) {
    CheckpointDir dir({scratch.path(), 2, comm});
    commitStep(dir, 1);
    SetWriter w = dir.begin(2);
    w.write<double>("x", valuesOf(2, comm->rank()));
    if (comm->rank() == 1) {
      EXPECT_THROW(w.write<double>("x", valuesOf(2, 1)), Error);
    }
    try {
      w.commit();
    } catch (const Error& e) {
      std::lock_guard<std::mutex> lock(mu);
      errors.push_back(e.what());
      EXPECT_EQ(e.status(), Status::kIo);
    }
  });
  ASSERT_EQ(errors.size(), static_cast<std::size_t>(kRanks)) << "some rank's commit succeeded";
  for (const auto& e : errors) {
    EXPECT_TRUE(e.starts_with("step-2 not committed: rank 1: ")) << e;
    EXPECT_NE(e.find("rank-1.h5: dataset 'x'"), std::string::npos) << e;
  }
  EXPECT_FALSE(fs::exists(scratch / "step-2"));
  EXPECT_FALSE(fs::exists(scratch / "step-2.tmp"));
  EXPECT_EQ(verifySet(scratch / "step-1"), std::nullopt);
}

TEST(Protocol, AllRanksSkipTheSameDamagedSet) {
  ScratchDir scratch;
  runRanks(kRanks, [&](std::shared_ptr<Comm> comm) {
    CheckpointDir dir({scratch.path(), 3, comm});
    commitStep(dir, 1);
    commitStep(dir, 2);
  });
  // Only rank 2 reads rank-2.h5: its verdict must reach ranks 0 and 1.
  flipMiddleByte(scratch / "step-2" / "rank-2.h5");
  std::mutex mu;
  std::vector<std::vector<std::string>> skipped;
  runRanks(kRanks, [&](std::shared_ptr<Comm> comm) {
    CheckpointDir dir({scratch.path(), 3, comm});
    auto r = dir.restore();
    ASSERT_TRUE(r.set);
    EXPECT_EQ(r.set->step(), 1);
    EXPECT_EQ(r.set->read<double>("x"), valuesOf(1, comm->rank()));
    std::lock_guard<std::mutex> lock(mu);
    skipped.push_back(r.skipped);
  });
  ASSERT_EQ(skipped.size(), static_cast<std::size_t>(kRanks));
  for (const auto& s : skipped) {
    ASSERT_EQ(s.size(), 1u);
    EXPECT_TRUE(s[0].starts_with("step-2: rank-2.h5 checksum mismatch")) << s[0];
  }
}

TEST(Protocol, RanksMustAgreeOnTheStep) {
  ScratchDir scratch;
  std::atomic<int> refused{0};
  runRanks(kRanks, [&](std::shared_ptr<Comm> comm) {
    CheckpointDir dir({scratch.path(), 2, comm});
    try {
      dir.begin(comm->rank() == 2 ? 6 : 5);
    } catch (const Error& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find("ranks disagree on the step"), std::string::npos);
    }
  });
  EXPECT_EQ(refused, kRanks);
}

// --checkpoint-storage partner: each host's ranks write into the host's own directory. Each
// directory gets the whole MANIFEST and its ranks' files; restore needs every rank's own file.
TEST(Protocol, PerHostDirectoriesEachGetTheManifestAndTheirRanksFiles) {
  ScratchDir scratch;
  auto hostDir = [&](int rank) { return scratch / (rank < 2 ? "host-a" : "host-b"); };
  runRanks(4, [&](std::shared_ptr<Comm> comm) {
    CheckpointDir dir({hostDir(comm->rank()), 2, comm});
    for (int s = 1; s <= 3; ++s) commitStep(dir, s);
    auto r = dir.restore();
    ASSERT_TRUE(r.set);
    EXPECT_EQ(r.set->step(), 3);
    EXPECT_EQ(r.set->path(), hostDir(comm->rank()) / "step-3");
    EXPECT_EQ(r.set->read<double>("x"), valuesOf(3, comm->rank()));
  });
  for (const char* host : {"host-a", "host-b"}) {
    EXPECT_EQ(listSets(scratch / host).size(), 2u) << host;  // retention in each
  }
  EXPECT_TRUE(fs::exists(scratch / "host-a/step-3/rank-1.h5"));
  EXPECT_FALSE(fs::exists(scratch / "host-a/step-3/rank-2.h5"));
  EXPECT_EQ(slurp(scratch / "host-a/step-3/MANIFEST"), slurp(scratch / "host-b/step-3/MANIFEST"));
  // One host's part of a set alone is not a set.
  EXPECT_EQ(verifySet(scratch / "host-b/step-3"), "rank-0.h5 missing");

  // A host that lost its newest part makes every rank take the older set.
  fs::remove(scratch / "host-b/step-3/rank-3.h5");
  runRanks(4, [&](std::shared_ptr<Comm> comm) {
    CheckpointDir dir({hostDir(comm->rank()), 2, comm});
    auto r = dir.restore();
    ASSERT_TRUE(r.set);
    EXPECT_EQ(r.set->step(), 2);
    EXPECT_EQ(r.skipped, (std::vector<std::string>{"step-3: rank-3.h5 missing"}));
  });
}

}  // namespace
}  // namespace ionet::ckpt::test
