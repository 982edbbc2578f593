// A full filesystem: a 1 MiB tmpfs and a set bigger than that. The commit fails naming ENOSPC,
// no step-N appears, and the previous set stays intact and restorable.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>

#include "ionet/ckpt/checkpoint.h"
#include "ionet_ckpt.h"
#include "scratch.h"

namespace ionet::ckpt::test {
namespace {

class FullDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    mnt_ = scratch_ / "small";
    fs::create_directory(mnt_);
    if (::mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=1m") != 0)
      GTEST_SKIP() << "cannot mount a 1 MiB tmpfs (needs root / CAP_SYS_ADMIN): "
                   << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) {
      EXPECT_EQ(::umount2(mnt_.c_str(), MNT_DETACH), 0) << std::strerror(errno);
    }
  }

  ScratchDir scratch_;
  fs::path mnt_;
  bool mounted_ = false;
};

TEST_F(FullDisk, CommitFailsAndThePreviousSetSurvives) {
  CheckpointDir dir({mnt_, 2, soloComm()});
  commitStep(dir, 1, 16 * 1024);  // 128 KiB
  SetWriter w = dir.begin(2);
  std::vector<double> big(256 * 1024, 1.5);  // 2 MiB
  try {
    w.write<double>("x", big);
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kNoSpace) << e.what();
  }
  try {
    w.commit();
    ADD_FAILURE() << "a 2 MiB set committed on a 1 MiB filesystem";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kNoSpace) << e.what();
    EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("rank-0.h5"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(mnt_ / "step-2"));
  EXPECT_FALSE(fs::exists(mnt_ / "step-2.tmp"));
  EXPECT_EQ(verifySet(mnt_ / "step-1"), std::nullopt);
  auto r = dir.restore();
  ASSERT_TRUE(r.set);
  EXPECT_EQ(r.set->step(), 1);
  EXPECT_EQ(r.set->read<double>("x"), valuesOf(1, 0, 16 * 1024));
  EXPECT_TRUE(r.skipped.empty());
}

TEST_F(FullDisk, TheCApiReportsNoSpace) {
  ionet_ckpt_t* h = nullptr;
  ASSERT_EQ(ionet_ckpt_open(mnt_.c_str(), 2, MPI_COMM_NULL, &h), IONET_CKPT_OK);
  std::vector<std::uint8_t> big(2 << 20, 7);
  std::uint64_t n = big.size();
  ASSERT_EQ(ionet_ckpt_begin(h, 1), IONET_CKPT_OK) << ionet_ckpt_error(h);
  EXPECT_EQ(ionet_ckpt_write(h, "x", IONET_CKPT_UINT8, 1, &n, big.data()), IONET_CKPT_ERR_NOSPACE);
  EXPECT_EQ(ionet_ckpt_commit(h), IONET_CKPT_ERR_NOSPACE);
  EXPECT_NE(std::string(ionet_ckpt_error(h)).find("No space left on device"), std::string::npos)
      << ionet_ckpt_error(h);
  EXPECT_FALSE(fs::exists(mnt_ / "step-1"));
  ionet_ckpt_close(h);
}

}  // namespace
}  // namespace ionet::ckpt::test
