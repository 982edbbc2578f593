// The C API: status codes and one-line messages instead of exceptions, the skip callback and
// list, and the default report of skipped sets on stderr.
#include <gtest/gtest.h>

#include "ionet_ckpt.h"
#include "scratch.h"

namespace ionet::ckpt::test {
namespace {

struct Handle {
  ionet_ckpt_t* h = nullptr;
  ~Handle() { ionet_ckpt_close(h); }
};

int writeStep(ionet_ckpt_t* h, std::int64_t step) {
  std::int64_t values[6] = {step, 1, 2, 3, 4, 5};
  std::uint64_t dims[2] = {2, 3};
  int rc = ionet_ckpt_begin(h, step);
  if (rc == IONET_CKPT_OK) rc = ionet_ckpt_write(h, "v", IONET_CKPT_INT64, 2, dims, values);
  if (rc == IONET_CKPT_OK) rc = ionet_ckpt_set_meta(h, "k", "value");
  if (rc == IONET_CKPT_OK) rc = ionet_ckpt_commit(h);
  return rc;
}

TEST(CApi, WriteAndRestore) {
  ScratchDir scratch;
  ScopedEnv noResume("IONET_RESUME_FROM", "");
  Handle a;
  ASSERT_EQ(ionet_ckpt_open(scratch.path().c_str(), 0, MPI_COMM_NULL, &a.h), IONET_CKPT_OK);
  ASSERT_EQ(writeStep(a.h, 4), IONET_CKPT_OK) << ionet_ckpt_error(a.h);
  EXPECT_STREQ(ionet_ckpt_error(a.h), "");

  std::int64_t step = -1;
  ASSERT_EQ(ionet_ckpt_restore(a.h, &step), IONET_CKPT_OK) << ionet_ckpt_error(a.h);
  EXPECT_EQ(step, 4);
  EXPECT_EQ(std::string(ionet_ckpt_restored_path(a.h)), (scratch / "step-4").string());
  ionet_ckpt_dtype dtype;
  int ndims = 0;
  std::uint64_t dims[4];
  ASSERT_EQ(ionet_ckpt_shape(a.h, "v", &dtype, &ndims, dims, 4), IONET_CKPT_OK);
  EXPECT_EQ(dtype, IONET_CKPT_INT64);
  ASSERT_EQ(ndims, 2);
  EXPECT_EQ(dims[0], 2u);
  EXPECT_EQ(dims[1], 3u);
  EXPECT_EQ(ionet_ckpt_shape(a.h, "v", &dtype, &ndims, dims, 1), IONET_CKPT_ERR_ARG);
  std::int64_t values[6] = {};
  ASSERT_EQ(ionet_ckpt_read(a.h, "v", IONET_CKPT_INT64, values, sizeof values), IONET_CKPT_OK);
  EXPECT_EQ(values[0], 4);
  EXPECT_EQ(values[5], 5);
  EXPECT_EQ(ionet_ckpt_read(a.h, "v", IONET_CKPT_FLOAT64, values, sizeof values),
            IONET_CKPT_ERR_MISMATCH);
  const char* v = nullptr;
  ASSERT_EQ(ionet_ckpt_get_meta(a.h, "k", &v), IONET_CKPT_OK);
  EXPECT_STREQ(v, "value");
  EXPECT_EQ(ionet_ckpt_get_meta(a.h, "nope", &v), IONET_CKPT_ERR_NOT_FOUND);
  EXPECT_NE(std::string(ionet_ckpt_error(a.h)).find("metadata 'nope': no such key"),
            std::string::npos)
      << ionet_ckpt_error(a.h);
}

TEST(CApi, MisuseGivesStatusAndMessage) {
  ScratchDir scratch;
  Handle a;
  ASSERT_EQ(ionet_ckpt_open(scratch.path().c_str(), 2, MPI_COMM_NULL, &a.h), IONET_CKPT_OK);
  std::uint64_t n = 1;
  double d = 1;
  EXPECT_EQ(ionet_ckpt_write(a.h, "x", IONET_CKPT_FLOAT64, 1, &n, &d), IONET_CKPT_ERR_STATE);
  EXPECT_STREQ(ionet_ckpt_error(a.h), "no set being written: call ionet_ckpt_begin");
  EXPECT_EQ(ionet_ckpt_read(a.h, "x", IONET_CKPT_FLOAT64, &d, 8), IONET_CKPT_ERR_STATE);
  EXPECT_EQ(ionet_ckpt_restore(a.h, nullptr), IONET_CKPT_ERR_NOT_FOUND);
  EXPECT_EQ(std::string(ionet_ckpt_error(a.h)), scratch.path().string() + ": no checkpoint set");

  // A bad argument fails the write and then the commit: nothing is committed.
  ASSERT_EQ(ionet_ckpt_begin(a.h, 1), IONET_CKPT_OK);
  EXPECT_EQ(ionet_ckpt_write(a.h, "x", IONET_CKPT_FLOAT64, -1, &n, &d), IONET_CKPT_ERR_ARG);
  EXPECT_EQ(ionet_ckpt_commit(a.h), IONET_CKPT_ERR_ARG);
  EXPECT_NE(std::string(ionet_ckpt_error(a.h)).find("step-1 not committed: rank 0: "),
            std::string::npos);
  EXPECT_FALSE(fs::exists(scratch / "step-1"));
  EXPECT_EQ(ionet_ckpt_commit(a.h), IONET_CKPT_ERR_STATE);

  Handle b;
  EXPECT_EQ(ionet_ckpt_open(scratch.path().c_str(), 1, MPI_COMM_NULL, &b.h), IONET_CKPT_ERR_ARG);
  ASSERT_NE(b.h, nullptr);
  EXPECT_NE(std::string(ionet_ckpt_error(b.h)).find("keep must be at least 2 (got 1)"),
            std::string::npos);
  EXPECT_EQ(ionet_ckpt_begin(b.h, 1), IONET_CKPT_ERR_STATE);

  ScopedEnv noDir("IONET_CHECKPOINT_DIR", "");
  Handle c;
  EXPECT_EQ(ionet_ckpt_open(nullptr, 2, MPI_COMM_NULL, &c.h), IONET_CKPT_ERR_ARG);
  EXPECT_STREQ(ionet_ckpt_error(c.h),
               "no checkpoint directory: pass one or set IONET_CHECKPOINT_DIR");
  EXPECT_STREQ(ionet_ckpt_status_name(IONET_CKPT_ERR_NOSPACE), "IONET_CKPT_ERR_NOSPACE");
}

TEST(CApi, SkippedSetsGoToStderrOrTheCallback) {
  ScratchDir scratch;
  ScopedEnv noResume("IONET_RESUME_FROM", "");
  Handle a;
  ASSERT_EQ(ionet_ckpt_open(scratch.path().c_str(), 3, MPI_COMM_NULL, &a.h), IONET_CKPT_OK);
  ASSERT_EQ(writeStep(a.h, 1), IONET_CKPT_OK);
  ASSERT_EQ(writeStep(a.h, 2), IONET_CKPT_OK);
  fs::remove(scratch / "step-2" / "rank-0.h5");

  ::testing::internal::CaptureStderr();
  std::int64_t step = 0;
  EXPECT_EQ(ionet_ckpt_restore(a.h, &step), IONET_CKPT_OK);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "ionet-ckpt: skipped step-2: rank-0.h5 missing\n");
  EXPECT_EQ(step, 1);
  ASSERT_EQ(ionet_ckpt_skipped_count(a.h), 1);
  EXPECT_STREQ(ionet_ckpt_skipped(a.h, 0), "step-2: rank-0.h5 missing");
  EXPECT_EQ(ionet_ckpt_skipped(a.h, 1), nullptr);

  std::vector<std::string> lines;
  ionet_ckpt_set_skip_callback(
      a.h,
      [](const char* line, void* user) {
        static_cast<std::vector<std::string>*>(user)->push_back(line);
      },
      &lines);
  fs::remove(scratch / "step-1" / "MANIFEST");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(ionet_ckpt_restore(a.h, &step), IONET_CKPT_ERR_NOT_FOUND);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(lines, (std::vector<std::string>{"step-2: rank-0.h5 missing", "step-1: no MANIFEST"}));
  EXPECT_NE(std::string(ionet_ckpt_error(a.h)).find("no valid checkpoint set (2 skipped"),
            std::string::npos)
      << ionet_ckpt_error(a.h);
}

}  // namespace
}  // namespace ionet::ckpt::test
