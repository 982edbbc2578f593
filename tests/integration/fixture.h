// Shared fixture of the integration tests: paths of the real binaries, a marker in every
// command's environment, and the no-orphans / no-leftovers check after each test.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "command.h"
#include "leftovers.h"

namespace ionet::test {

inline const std::string kBin = IONET_BUILD_DIR "/bin";
inline const std::string kExamples = IONET_BUILD_DIR "/examples";
inline const std::string kPython = "/usr/bin/python3";

inline std::string example(const std::string& name) { return kExamples + "/" + name; }

class IonetTest : public ::testing::Test {
 protected:
  // ionet-run ARGS..., with the marker in its environment.
  Command start(std::vector<std::string> args, std::vector<std::string> env = {},
                std::string stdinData = "") {
    args.insert(args.begin(), kBin + "/ionet-run");
    env.push_back(leftovers_.markerEnv());
    return Command(std::move(args), std::move(env), std::move(stdinData));
  }

  CommandResult ionetRun(std::vector<std::string> args, std::vector<std::string> env = {},
                         std::string stdinData = "",
                         std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    return start(std::move(args), std::move(env), std::move(stdinData)).wait(timeout);
  }

  void TearDown() override {
    auto alive = leftovers_.survivors(std::chrono::seconds(5));
    EXPECT_TRUE(alive.empty()) << "orphan processes: " << ::testing::PrintToString(alive);
    auto files = leftovers_.newFiles();
    EXPECT_TRUE(files.empty()) << "left behind: " << ::testing::PrintToString(files);
  }

  LeftoverCheck leftovers_;
};

// Fails the test with the command's output when it did not finish in time.
#define EXPECT_FINISHED(r) \
  EXPECT_TRUE((r).finished) << "timed out; stdout:\n" << (r).out << "\nstderr:\n" << (r).err

}  // namespace ionet::test
