// Shared fixture of the integration tests: paths of the real binaries, a marker in every
// command's environment, and after each test the checks that no ionet process crashed, none
// was left running, and nothing was left behind.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "command.h"
#include "crash_check.h"
#include "ionet/find_program.h"
#include "leftovers.h"

namespace ionet::test {

inline const std::string kBin = IONET_BUILD_DIR "/bin";
inline const std::string kExamples = IONET_BUILD_DIR "/examples";
inline const std::string kPython = "/usr/bin/python3";

inline std::string example(const std::string& name) { return kExamples + "/" + name; }

// Waits until pred holds; false at the deadline. For conditions of /proc, the filesystem and
// the queue's database, which have no event to wait on: polled every 10 ms.
inline bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class IonetTest : public ::testing::Test {
 protected:
  // Processes of this test named `comm` (ranks, agents, daemons), by /proc.
  std::vector<pid_t> processesNamed(const std::string& comm) const {
    namespace fs = std::filesystem;
    std::vector<pid_t> pids;
    for (const auto& e : fs::directory_iterator("/proc")) {
      const std::string pid = e.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream c(e.path() / "comm");
      std::string name;
      std::getline(c, name);
      if (name != comm) continue;
      std::ifstream env(e.path() / "environ", std::ios::binary);
      std::string all((std::istreambuf_iterator<char>(env)), {});
      if (all.find(leftovers_.markerEnv()) != std::string::npos) pids.push_back(std::stoi(pid));
    }
    return pids;
  }

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
    expectNoCrashes("checked in the test's teardown");
    EXPECT_TRUE(alive.empty()) << "orphan processes: " << ::testing::PrintToString(alive);
    auto files = leftovers_.newFiles();
    EXPECT_TRUE(files.empty()) << "left behind: " << ::testing::PrintToString(files);
  }

  LeftoverCheck leftovers_;
};

// How a daemon the test started itself ended after the test's SIGTERM: exited (0) or by that
// signal, never a crash. For the pool agents of suite fixtures.
inline void expectCleanStop(const std::string& what, const CommandResult& r) {
  EXPECT_TRUE(r.finished) << what << " did not stop on SIGTERM";
  EXPECT_TRUE((r.signal == 0 && r.exitCode == 0) || r.signal == SIGTERM)
      << what << " ended with exit code " << r.exitCode << ", signal " << r.signal << "\nstderr:\n"
      << r.err;
}

// promtool check metrics (Debian's prometheus package) on an endpoint's text: "" when it
// accepts it, else what it says. promtool is a test dependency (scripts/install-deps.sh): its
// absence is a complaint too, never a silent pass.
inline std::string promtoolComplaints(const std::string& text) {
  if (ionet::findOnPath("promtool").empty()) return "promtool is missing (scripts/install-deps.sh)";
  if (text.empty()) return "nothing was scraped";
  auto r = Command({"promtool", "check", "metrics"}, {}, text).wait(std::chrono::seconds(30));
  if (r.finished && r.exitCode == 0 && r.out.empty() && r.err.empty()) return "";
  return "promtool: exit " + std::to_string(r.exitCode) + "\n" + r.out + r.err;
}

// Fails the test with the command's output when it did not finish in time.
#define EXPECT_FINISHED(r) \
  EXPECT_TRUE((r).finished) << "timed out; stdout:\n" << (r).out << "\nstderr:\n" << (r).err

}  // namespace ionet::test
