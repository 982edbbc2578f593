// The crash watch every integration test's teardown relies on, shown a real crash: an orphaned
// "ionet-*" process that dies of a genuine SIGSEGV (a Python interpreter under that name reading
// address 0). The watch must report it, or a crashing daemon would pass unnoticed. A binary of
// its own: the other integration binaries' process-wide watch (crash_check.h) would reap the
// orphan first, and fail them.
#include "crash_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <thread>

#include "command.h"

namespace ionet::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Polled every 10 ms: a crash is news in /proc and /dev/kmsg, which have no event to wait on.
bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

bool mentions(const std::vector<std::string>& lines, const std::string& what) {
  for (const auto& l : lines) {
    if (l.find(what) != std::string::npos) return true;
  }
  return false;
}

// A Python interpreter under an ionet name, in a directory of its own for the test: the kernel
// names a process after the file it executed, so a link is enough.
class CrashWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_);
    fs::create_symlink("/usr/bin/python3", faulter_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  const fs::path dir_ = fs::temp_directory_path() / ("crash-watch-" + std::to_string(::getpid()));
  const fs::path faulter_ = dir_ / "ionet-faulter";
  const std::string segfault_ = "import ctypes; ctypes.string_at(0)";
};

TEST_F(CrashWatchTest, SeesAnOrphanedIonetProcessDieOfSegfault) {
  CrashWatch watch;
  EXPECT_TRUE(watch.crashes().empty());
  // Backgrounded from a subshell that exits at once: the faulting process is an orphan.
  Command sh({"/bin/sh", "-c", "(" + faulter_.string() + " -c '" + segfault_ + "' &)"});
  EXPECT_EQ(sh.wait(10s).exitCode, 0);
  std::vector<std::string> seen;
  // Collects what the watch reports until a line mentions `what`.
  auto reports = [&](const std::string& what, std::chrono::milliseconds timeout) {
    return waitUntil(
        [&] {
          for (auto& c : watch.crashes()) seen.push_back(c);
          return mentions(seen, what);
        },
        timeout);
  };
  EXPECT_TRUE(reports("killed by SIGSEGV", 20s)) << ::testing::PrintToString(seen);
  EXPECT_TRUE(mentions(seen, "ionet-faulter")) << ::testing::PrintToString(seen);
  if (::access("/dev/kmsg", R_OK) == 0) {
    // The kernel's own line, which is all there is for a crash deep in a tree of processes.
    EXPECT_TRUE(reports("kernel: ionet-faulter", 5s)) << ::testing::PrintToString(seen);
  }
}

TEST_F(CrashWatchTest, SeesAnIonetProgramTheTestRanItselfCrash) {
  CrashWatch watch;
  const auto r = Command({faulter_.string(), "-c", segfault_}).wait(20s);
  EXPECT_EQ(r.signal, SIGSEGV);
  const auto seen = watch.crashes();
  EXPECT_TRUE(mentions(seen, "ionet-faulter[")) << ::testing::PrintToString(seen);
  EXPECT_TRUE(mentions(seen, "] killed by SIGSEGV")) << ::testing::PrintToString(seen);
  // A program that is not ionet's may crash (the tests' own segfault example does, on purpose).
  EXPECT_EQ(Command({"/bin/sh", "-c", "kill -SEGV $$"}).wait(10s).signal, SIGSEGV);
  EXPECT_FALSE(mentions(watch.crashes(), "sh[")) << "a non-ionet program counted as a crash";
}

TEST(CrashWatch, ExitsAndTheTestsOwnSignalsAreNoCrash) {
  EXPECT_EQ(crashOf(0), "");
  EXPECT_EQ(crashOf(3 << 8), "");  // exited with code 3
  EXPECT_EQ(crashOf(SIGTERM), "");
  EXPECT_EQ(crashOf(SIGKILL), "");
  EXPECT_EQ(crashOf(SIGSEGV), "killed by SIGSEGV");
  EXPECT_EQ(crashOf(SIGABRT), "killed by SIGABRT");
}

}  // namespace
}  // namespace ionet::test
