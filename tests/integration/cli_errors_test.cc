// Bad input to the real ionet-run binary: one clear line naming what is wrong, status 2,
// nothing started.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "fixture.h"

namespace ionet::test {
namespace {
namespace fs = std::filesystem;

void expectUsageError(const CommandResult& r, const std::string& fragment) {
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << "stderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "expected one line: " << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(IonetTest, RejectsBadCommandLines) {
  expectUsageError(ionetRun({"--bogus", "-np", "2", "/bin/true"}), "unknown option --bogus");
  expectUsageError(ionetRun({"--rank-by", "core", "/bin/true"}),
                   "option --rank-by is not supported");
  expectUsageError(ionetRun({"--bind-to", "core", "/bin/true"}), "--bind-to core");
  expectUsageError(ionetRun({"-np"}), "needs a value");
  expectUsageError(ionetRun({"-np", "2"}), "no program given");
  expectUsageError(ionetRun({"-H", "a,b", "-np", "2", "/bin/true"}), "host 'a'");
}

TEST_F(IonetTest, RejectsBadHostfilesNamingFileAndLine) {
  const fs::path file = fs::temp_directory_path() / ("ionet-hosts-" + std::to_string(::getpid()));
  std::ofstream(file) << "# pool\nnodeA slots=2\nnodeB slots=zero\n";
  expectUsageError(ionetRun({"--hostfile", file.string(), "--local-hosts", "2", "/bin/true"}),
                   file.string() + ":3: slots must be a positive integer");
  std::ofstream(file) << "nodeA slots=2\nnodeB slot=2\n";
  expectUsageError(ionetRun({"--hostfile", file.string(), "--local-hosts", "2", "/bin/true"}),
                   file.string() + ":2: unknown attribute 'slot'");
  expectUsageError(ionetRun({"--hostfile", "/nonexistent/hosts", "/bin/true"}),
                   "/nonexistent/hosts: cannot open hostfile");
  fs::remove(file);
}

TEST_F(IonetTest, HostfileNamesTheEmulatedHosts) {
  const fs::path file = fs::temp_directory_path() / ("ionet-hosts-" + std::to_string(::getpid()));
  std::ofstream(file) << "alpha slots=1\nbeta slots=2\n";
  auto r = ionetRun({"--hostfile", file.string(), "--local-hosts", "2", "/bin/sh", "-c",
                     "echo $OMPI_COMM_WORLD_RANK on $IONET_HOST"});
  fs::remove(file);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.sortedLines(), (std::vector<std::string>{"0 on alpha", "1 on beta", "2 on beta"}));
  // Explicit slots are a limit, as for mpirun.
  std::ofstream(file) << "alpha slots=1\n";
  auto over =
      ionetRun({"--hostfile", file.string(), "--local-hosts", "1", "-np", "2", "/bin/true"});
  expectUsageError(over, "not enough slots");
  auto ok = ionetRun({"--hostfile", file.string(), "--local-hosts", "1", "-np", "2",
                      "--oversubscribe", "/bin/true"});
  EXPECT_EQ(ok.exitCode, 0) << ok.err;
  fs::remove(file);
}

TEST_F(IonetTest, VersionAndHelp) {
  auto v = ionetRun({"--version"});
  EXPECT_EQ(v.exitCode, 0);
  EXPECT_EQ(v.out, std::string("ionet-run (ionet) ") + IONET_VERSION + "\n");
  auto h = ionetRun({"--help"});
  EXPECT_EQ(h.exitCode, 0);
  for (const char* opt : {"--np", "--host", "--hostfile", "--local-hosts", "--mca", "--map-by",
                          "--tag-output", "--timeout", "--output-filename"}) {
    EXPECT_NE(h.out.find(opt), std::string::npos) << opt;
  }
}

}  // namespace
}  // namespace ionet::test
