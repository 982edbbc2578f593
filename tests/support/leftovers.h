// The no-orphans / no-leftovers check run after every integration test: no process carrying
// the test's marker variable, no new ionet/Open MPI/PMIx files in /tmp or /dev/shm.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <vector>

namespace ionet::test {

class LeftoverCheck {
 public:
  LeftoverCheck();  // snapshots /tmp and /dev/shm; makes a fresh marker

  // "IONET_TEST_MARKER=..." to put in every command's environment.
  const std::string& markerEnv() const { return markerEnv_; }

  // Processes still carrying the marker after waiting up to timeout for them to go.
  std::vector<std::string> survivors(std::chrono::milliseconds timeout) const;

  // New entries in /tmp and /dev/shm that ionet, Open MPI or PMIx would create.
  std::vector<std::string> newFiles() const;

 private:
  std::string markerEnv_;
  std::set<std::string> before_;
};

}  // namespace ionet::test
