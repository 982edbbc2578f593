// Base of the Slurm test suites: one real Slurm (3 fake nodes, 16 CPUs each) per suite, a
// private directory per test, and the integration tests' checks for leftovers after each.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "fixture.h"
#include "slurm_cluster.h"

namespace ionet::test {

// A file's text ("" when it cannot be read): job output files, which appear when Slurm writes.
inline std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

class SlurmTest : public IonetTest {
 protected:
  static void SetUpTestSuite() { cluster_ = std::make_unique<SlurmCluster>(3, 16); }
  static void TearDownTestSuite() { cluster_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(cluster_->started()) << cluster_->why();
    dir_ =
        std::filesystem::temp_directory_path() / ("slurm-test-dir-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    IonetTest::TearDown();
  }

  // The suite's cluster; suites run one after another, each with its own.
  static inline std::unique_ptr<SlurmCluster> cluster_;
  std::filesystem::path dir_;
};

}  // namespace ionet::test
