// Rank files are ordinary HDF5: the real h5dump and h5py read what libionet-ckpt wrote.
#include <gtest/gtest.h>

#include "command.h"
#include "crash_check.h"
#include "ionet/ckpt/checkpoint.h"
#include "scratch.h"

namespace ionet::ckpt::test {
namespace {

using ionet::test::run;

class Tools : public ::testing::Test {
 protected:
  void SetUp() override {
    CheckpointDir dir({scratch_.path(), 2, soloComm()});
    SetWriter w = dir.begin(12);
    std::vector<float> grid(3 * 4);
    for (std::size_t i = 0; i < grid.size(); ++i) grid[i] = 0.5f * static_cast<float>(i);
    w.write<float>("grid", grid, {3, 4});
    std::vector<std::int64_t> ids{7, -8, 9000000000};
    w.write<std::int64_t>("state/ids", ids);
    w.setMetadata("model", "unet");
    file_ = w.commit().path / "rank-0.h5";
  }

  ScratchDir scratch_;
  fs::path file_;
};

TEST_F(Tools, H5dumpShowsDatasetsAndAttributes) {
  auto r = run({"h5dump", "-H", file_.string()});
  ASSERT_TRUE(r.finished);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  for (const char* needle : {"DATASET \"grid\"", "H5T_IEEE_F32LE", "SIMPLE { ( 3, 4 ) / ( 3, 4 ) }",
                             "GROUP \"state\"", "DATASET \"ids\"", "H5T_STD_I64LE",
                             "ATTRIBUTE \"step\"", "ATTRIBUTE \"model\"", "ATTRIBUTE \"nranks\""})
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle << " not in:\n" << r.out;
  auto values = run({"h5dump", "-d", "/state/ids", file_.string()});
  EXPECT_NE(values.out.find("7, -8, 9000000000"), std::string::npos) << values.out;
}

TEST_F(Tools, H5pyReadsValuesAndAttributes) {
  const std::string script =
      "import sys, h5py\n"
      "f = h5py.File(sys.argv[1], 'r')\n"
      "g = f['grid']\n"
      "print(g.dtype, g.shape, float(g[2, 3]), float(g[()].sum()))\n"
      "print(list(f['state/ids'][()]))\n"
      "print(int(f.attrs['step']), int(f.attrs['rank']), int(f.attrs['nranks']), "
      "f.attrs['model'])\n";
  // Debian's python3 (python3-h5py), as the integration fixture's kPython, not one from PATH.
  auto r = run({"/usr/bin/python3", "-c", script, file_.string()});
  ASSERT_TRUE(r.finished);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  // grid[i] = 0.5 i: grid[2,3] = 5.5, sum over 0..11 = 33.
  EXPECT_EQ(r.out, "float32 (3, 4) 5.5 33.0\n[7, -8, 9000000000]\n12 0 1 unet\n");
}

}  // namespace
}  // namespace ionet::ckpt::test
