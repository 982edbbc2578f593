// The MPI example ckpt_roundtrip under the real mpirun and ionet-run, 3 ranks: sets committed by
// all ranks and restored with every value checked; one rank failing its write commits nothing.
#include <gtest/gtest.h>

#include "command.h"
#include "crash_check.h"
#include "ionet/ckpt/checkpoint.h"
#include "scratch.h"

namespace ionet::ckpt::test {
namespace {

using ionet::test::CommandResult;
using ionet::test::countContaining;

const std::string kExample = IONET_BUILD_DIR "/examples/ckpt_roundtrip";
const std::string kIonetRun = IONET_BUILD_DIR "/bin/ionet-run";

std::vector<std::string> mpirun(std::vector<std::string> rest) {
  std::vector<std::string> args{"mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "3"};
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

std::vector<std::string> ionetRun(std::vector<std::string> rest) {
  std::vector<std::string> args{kIonetRun, "-q", "-np", "3"};
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

void expectThreeRankSets(const fs::path& dir, std::vector<std::int64_t> steps) {
  std::vector<std::int64_t> found;
  for (const auto& s : listSets(dir)) {
    found.push_back(s.step);
    EXPECT_EQ(verifySet(s.path), std::nullopt) << s.path;
    EXPECT_EQ(Manifest::parse(slurp(s.path / "MANIFEST"), "MANIFEST").nranks, 3);
  }
  EXPECT_EQ(found, steps);
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_FALSE(e.path().string().ends_with(".tmp")) << e.path();
}

class MpiRoundTrip : public ::testing::TestWithParam<std::string> {
 protected:
  std::vector<std::string> launch(std::vector<std::string> rest) {
    return GetParam() == "mpirun" ? mpirun(std::move(rest)) : ionetRun(std::move(rest));
  }
  ScratchDir scratch_;
};

TEST_P(MpiRoundTrip, ThreeRanksWriteAndRestore) {
  auto dir = scratch_ / "ckpt";
  CommandResult r =
      ionet::test::run(launch({kExample, dir.string(), "4"}), {}, "", std::chrono::seconds(120));
  ASSERT_TRUE(r.finished) << r.out << r.err;
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(countContaining(r.out, "restored step 4, data ok"), 3) << r.out;
  EXPECT_EQ(countContaining(r.out, "ckpt_roundtrip: ok"), 1) << r.out;
  expectThreeRankSets(dir, {4, 3});  // keep 2
}

TEST_P(MpiRoundTrip, OneRankFailingMeansNoSetAndAnErrorOnEveryRank) {
  auto dir = scratch_ / "ckpt";
  auto args = launch({kExample, dir.string(), "2"});
  args.insert(args.begin() + 1, {"-x", "CKPT_FAIL_RANK"});
  CommandResult r = ionet::test::run(args, {"CKPT_FAIL_RANK=1"}, "", std::chrono::seconds(120));
  ASSERT_TRUE(r.finished) << r.out << r.err;
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(countContaining(r.out,
                            "commit of step 2 failed (IONET_CKPT_ERR_IO): step-2 not "
                            "committed: rank 1: "),
            3)
      << r.out;
  EXPECT_EQ(countContaining(r.out, "restored step 1, data ok"), 3) << r.out;
  EXPECT_FALSE(fs::exists(dir / "step-2"));
  expectThreeRankSets(dir, {1});
}

INSTANTIATE_TEST_SUITE_P(Launchers, MpiRoundTrip, ::testing::Values("mpirun", "ionet_run"));

}  // namespace
}  // namespace ionet::ckpt::test
