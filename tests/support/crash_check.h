// gtest glue for CrashWatch: one watch for the whole test process, checked after each test of
// an IonetTest fixture (expectNoCrashes in its TearDown) and, for every integration test
// binary that includes this header, once more when the process's tests are done (ctest runs
// one test per process, so that is after each test too, suite teardowns included).
#pragma once

#include <gtest/gtest.h>

#include "crash_watch.h"

namespace ionet::test {

// Started on first use, by the environment below before any test runs.
inline CrashWatch& processCrashWatch() {
  static CrashWatch watch;
  return watch;
}

inline void expectNoCrashes(const char* when) {
  const auto crashed = processCrashWatch().crashes();
  EXPECT_TRUE(crashed.empty()) << "ionet processes crashed (" << when
                               << "): " << ::testing::PrintToString(crashed);
}

class CrashCheckEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { processCrashWatch(); }
  void TearDown() override { expectNoCrashes("checked after the test process's tests"); }
};

// Registered once per binary by including this header.
inline ::testing::Environment* const kCrashCheck =
    ::testing::AddGlobalTestEnvironment(new CrashCheckEnvironment);

}  // namespace ionet::test
