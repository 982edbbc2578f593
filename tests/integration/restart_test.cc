// Checkpoint resume: ionet-run --max-restarts runs examples/train again after a rank or a host
// is killed (real SIGKILLs), and the resumed run ends with the same weights, bit for bit, as a
// run that never failed. Also: damaged sets are skipped, and a failing program is not
// restarted forever.
#include <signal.h>
#include <sys/mount.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <thread>

#include "fixture.h"

namespace ionet::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kSteps = "300";
constexpr const char* kEvery = "20";

class RestartTest : public IonetTest {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("restart-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    IonetTest::TearDown();
  }

  std::string ckpt(const std::string& name) const { return (dir_ / name).string(); }

  // The final weights of a run that never failed.
  std::string referenceChecksum(const std::vector<std::string>& placement) {
    std::vector<std::string> args = placement;
    args.insert(args.end(),
                {"--checkpoint-dir", ckpt("reference"), example("train"), kSteps, kEvery});
    auto r = ionetRun(args, {}, "", 120s);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return finalChecksum(r.out);
  }

  static std::string finalChecksum(const std::string& out) {
    std::smatch m;
    if (std::regex_search(out, m, std::regex("final weights checksum ([0-9a-f]{16})"))) {
      return m[1];
    }
    return "none";
  }

  // Waits until one of this test's processes named comm is stopped (state T); its pid, or -1.
  pid_t waitForStopped(const std::string& comm, std::chrono::milliseconds timeout) const {
    pid_t stopped = -1;
    waitUntil(
        [&] {
          for (pid_t p : processesNamed(comm)) {
            std::ifstream stat("/proc/" + std::to_string(p) + "/stat");
            std::string all((std::istreambuf_iterator<char>(stat)), {});
            auto close = all.rfind(')');
            if (close != std::string::npos && all.compare(close + 2, 1, "T") == 0) {
              stopped = p;
              return true;
            }
          }
          return false;
        },
        timeout);
    return stopped;
  }

  // Once the job has printed "checkpoint step N", SIGKILLs the second of its `count` processes
  // named comm (a rank).
  void killARankAfterCheckpoint(Command& c, const std::string& comm, std::size_t count, int step,
                                std::chrono::milliseconds timeout) const {
    const std::string line = "checkpoint step " + std::to_string(step) + "\n";
    ASSERT_TRUE(c.waitForOutput(
        [&](const std::string& o) { return o.find(line) != std::string::npos; }, timeout))
        << c.transcript();
    auto ranks = processesNamed(comm);
    ASSERT_EQ(ranks.size(), count);
    ASSERT_EQ(::kill(ranks[1], SIGKILL), 0);
  }

  // ionet-run's children: the agents of the local pool's hosts, in node order.
  static std::vector<pid_t> agentsOf(const Command& c) {
    std::ifstream in("/proc/" + std::to_string(c.pid()) + "/task/" + std::to_string(c.pid()) +
                     "/children");
    std::vector<pid_t> agents;
    for (pid_t p; in >> p;) agents.push_back(p);
    return agents;
  }

  fs::path dir_;
};

TEST_F(RestartTest, KillNineOfARankResumesAndEndsWithTheSameWeights) {
  const std::vector<std::string> placement = {"--local-hosts", "2", "-np", "4"};
  const std::string expected = referenceChecksum(placement);
  auto args = placement;
  args.insert(args.end(), {"--checkpoint-dir", ckpt("run"), "--max-restarts", "2",
                           "--restart-delay", "0", example("train"), kSteps, kEvery});
  auto c = start(args);
  ASSERT_NO_FATAL_FAILURE(killARankAfterCheckpoint(c, "train", 4, 60, 60s));
  auto r = c.wait(120s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.err.find("killed by signal 9"), std::string::npos) << r.err;
  EXPECT_NE(
      r.err.find("restart 1 of 2 on hosts node0,node1: resuming from " + ckpt("run") + "/step-"),
      std::string::npos)
      << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("resumed from step ([0-9]+)"))) << r.out;
  EXPECT_GE(std::stoi(m[1]), 60);
  EXPECT_EQ(finalChecksum(r.out), expected);
}

TEST_F(RestartTest, KillNineOfAnAgentMovesItsRanksToASpareHost) {
  const std::string expected = referenceChecksum({"--local-hosts", "2", "-np", "4"});
  auto c = start({"--local-hosts", "3", "--spare-hosts", "1", "-np", "4", "--checkpoint-dir",
                  ckpt("run"), "--max-restarts", "2", "--restart-delay", "0", example("train"),
                  kSteps, kEvery});
  ASSERT_TRUE(c.waitForOutput(
      [](const std::string& o) { return o.find("checkpoint step 60\n") != std::string::npos; },
      60s))
      << c.transcript();
  // ionet-run's children are the agents of node0 and node1 (node2 is the spare).
  const auto agents = agentsOf(c);
  ASSERT_EQ(agents.size(), 2u);
  ASSERT_EQ(::kill(agents[1], SIGKILL), 0);
  auto r = c.wait(120s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.err.find("the agent of host node1 died (killed by signal 9"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("restart 1 of 2 on hosts node0,node2: resuming from"), std::string::npos)
      << r.err;
  EXPECT_EQ(finalChecksum(r.out), expected);
}

TEST_F(RestartTest, KillNineDuringACheckpointWriteNeverUsesTheHalfWrittenSet) {
  const std::vector<std::string> placement = {"--local-hosts", "2", "-np", "4"};
  const std::string expected = referenceChecksum(placement);
  // Rank 1 stops itself inside the commit of step-80, after writing its file (train.c).
  auto args = placement;
  args.insert(args.end(),
              {"-x", "TRAIN_STOP_IN_CHECKPOINT=80", "--checkpoint-dir", ckpt("run"),
               "--max-restarts", "1", "--restart-delay", "0", example("train"), kSteps, kEvery});
  auto c = start(args);
  const pid_t stopped = waitForStopped("train", 60s);
  ASSERT_GT(stopped, 0) << c.transcript();
  // The set is half written: rank 1's file is there, the set is not committed.
  EXPECT_TRUE(fs::exists(ckpt("run") + "/step-80.tmp/rank-1.h5"));
  EXPECT_FALSE(fs::exists(ckpt("run") + "/step-80"));
  ASSERT_EQ(::kill(stopped, SIGKILL), 0);
  auto r = c.wait(120s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.err.find("resuming from " + ckpt("run") + "/step-60"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("resumed from step 60"), std::string::npos) << r.out;
  EXPECT_EQ(finalChecksum(r.out), expected);
}

TEST_F(RestartTest, EnospcWhileWritingKeepsThePreviousSetAndLosesNothing) {
  const std::vector<std::string> placement = {"-np", "2"};
  const std::string expected = referenceChecksum(placement);
  // Room for two sets of 2 x 4096 doubles (about 70 KiB each) but not for a third beside them.
  const fs::path small = dir_ / "small";
  fs::create_directories(small);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=180k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << std::strerror(errno);
  }
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{small};
  auto args = placement;
  args.insert(args.end(), {"--checkpoint-dir", small.string(), "--max-restarts", "3",
                           "--restart-delay", "0", example("train"), kSteps, kEvery});
  auto full = ionetRun(args, {}, "", 120s);
  EXPECT_FINISHED(full);
  EXPECT_EQ(full.exitCode, 3) << full.err;  // train's MPI_Abort status for a failed commit
  EXPECT_NE(full.err.find("step-60 not committed"), std::string::npos) << full.err;
  EXPECT_NE(full.err.find("No space left on device"), std::string::npos) << full.err;
  // Restarted once from step-40, failed the same way: not restarted again.
  EXPECT_NE(full.err.find("resuming from " + small.string() + "/step-40"), std::string::npos)
      << full.err;
  EXPECT_NE(full.err.find("not restarting: the job failed the same way twice in a row"),
            std::string::npos)
      << full.err;
  // The previous sets are intact: ionet-ckpt verifies both.
  auto verify = run({kBin + "/ionet-ckpt", "verify", small.string()});
  EXPECT_EQ(verify.exitCode, 0) << verify.out << verify.err;
  EXPECT_EQ(verify.out, small.string() + "/step-40: ok\n" + small.string() + "/step-20: ok\n");
  // With room again, the job resumes from step-40 and ends as if nothing had happened.
  ASSERT_EQ(::mount(nullptr, small.c_str(), nullptr, MS_REMOUNT, "size=4m"), 0)
      << std::strerror(errno);
  auto again = ionetRun(args, {}, "", 120s);
  EXPECT_EQ(again.exitCode, 0) << again.err;
  EXPECT_NE(again.out.find("resumed from step 40"), std::string::npos) << again.out;
  EXPECT_EQ(finalChecksum(again.out), expected);
}

TEST_F(RestartTest, PyTorchDdpThroughTheEnvironmentContractResumesBitForBit) {
  // 2 emulated hosts x 1 rank, Gloo over ionet's data path; sets committed by ionet-ckpt.
  auto torchRun = [&](const std::string& dir, std::vector<std::string> more) {
    std::vector<std::string> args = {
        "--local-hosts",    "2",      "-np", "2", "-x", "IONET_CKPT_TOOL=" + kBin + "/ionet-ckpt",
        "--checkpoint-dir", ckpt(dir)};
    args.insert(args.end(), more.begin(), more.end());
    args.insert(args.end(), {kPython, example("train_ddp.py"), "60", "10"});
    return args;
  };
  auto reference = ionetRun(torchRun("reference", {}), {}, "", 240s);
  ASSERT_EQ(reference.exitCode, 0) << reference.err;
  const std::string expected = finalChecksum(reference.out);
  ASSERT_NE(expected, "none") << reference.out;
  auto verify = run({kBin + "/ionet-ckpt", "verify", ckpt("reference")});
  EXPECT_EQ(verify.exitCode, 0) << verify.out << verify.err;

  auto c = start(torchRun("run", {"--max-restarts", "1", "--restart-delay", "0"}));
  ASSERT_NO_FATAL_FAILURE(killARankAfterCheckpoint(c, "python3", 2, 30, 180s));
  auto r = c.wait(240s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("resumed from step ([0-9]+)"))) << r.out;
  EXPECT_GE(std::stoi(m[1]), 30);
  EXPECT_EQ(finalChecksum(r.out), expected);
}

// No shared directory: each host's ranks write into the host's own directory, its agent copies
// every set to the next host, and a host that is lost takes its directory with it: the spare
// that replaces it fetches the lost ranks' files from the partner, over the agents' sessions.
TEST_F(RestartTest, PartnerStorageSurvivesAHostAndItsDiskVanishing) {
  const std::string expected = referenceChecksum({"--local-hosts", "2", "-np", "4"});
  const fs::path run = ckpt("run");
  auto c = start({"--local-hosts", "3", "--spare-hosts", "1", "-np", "4", "--checkpoint-dir",
                  run.string(), "--checkpoint-storage", "partner", "--max-restarts", "2",
                  "--restart-delay", "0", example("train"), kSteps, kEvery});
  // node1's set of step 60 has reached its partner node0.
  ASSERT_TRUE(waitUntil(
      [&] { return fs::exists(run / "host-node0/partner-node1/step-60/rank-3.h5"); }, 60s))
      << c.transcript();
  const auto agents = agentsOf(c);
  ASSERT_EQ(agents.size(), 2u);
  ASSERT_EQ(::kill(agents[1], SIGKILL), 0);
  std::error_code ec;
  fs::remove_all(run / "host-node1", ec);  // its disk goes with it
  auto r = c.wait(120s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      r.err, m,
      std::regex("restart 1 of 2 on hosts node0,node2: resuming from step-([0-9]+) \\(node2 "
                 "fetches ranks 2,3 from node0\\)")))
      << r.err;
  EXPECT_GE(std::stoi(m[1]), 60);
  EXPECT_NE(r.out.find("resumed from step " + std::string(m[1])), std::string::npos) << r.out;
  EXPECT_EQ(finalChecksum(r.out), expected);
  // Each host's directory has its own ranks' files; nothing went to a shared one.
  EXPECT_TRUE(fs::exists(run / "host-node0/step-300/rank-1.h5"));
  EXPECT_FALSE(fs::exists(run / "host-node0/step-300/rank-2.h5"));
  EXPECT_TRUE(fs::exists(run / "host-node2/step-300/rank-2.h5"));
  EXPECT_FALSE(fs::exists(run / "step-300"));
}

// Flips one byte in the middle of a file.
void corrupt(const fs::path& file) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << file;
  f.seekg(0, std::ios::end);
  const auto middle = f.tellg() / 2;
  f.seekg(middle);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(middle);
  f.write(&c, 1);
}

TEST_F(RestartTest, DamagedNewestSetsAreSkippedAndAnOlderOneResumes) {
  const std::vector<std::string> placement = {"--local-hosts", "2", "-np", "4"};
  const std::string expected = referenceChecksum(placement);
  // The finished run kept step-280 and step-300: damage step-300's data, then its manifest.
  for (const std::string damaged : {"rank-2.h5", "MANIFEST"}) {
    SCOPED_TRACE(damaged);
    const std::string dir = ckpt("run-" + damaged);
    auto args = placement;
    args.insert(args.end(), {"--checkpoint-dir", dir, example("train"), kSteps, kEvery});
    auto first = ionetRun(args, {}, "", 120s);
    ASSERT_EQ(first.exitCode, 0) << first.err;
    ASSERT_TRUE(fs::exists(dir + "/step-280"));
    corrupt(dir + "/step-300/" + damaged);
    // ionet-ckpt verify names the damage and says only an older set is good (exit 1).
    auto verify = run({kBin + "/ionet-ckpt", "verify", dir});
    EXPECT_EQ(verify.exitCode, 1) << verify.out << verify.err;
    EXPECT_NE(verify.out.find(dir + "/step-300: " + (damaged == "MANIFEST" ? "MANIFEST" : damaged)),
              std::string::npos)
        << verify.out;
    EXPECT_NE(verify.out.find(dir + "/step-280: ok"), std::string::npos) << verify.out;
    auto again = ionetRun(args, {}, "", 120s);
    EXPECT_EQ(again.exitCode, 0) << again.err;
    // ionet-run and the ranks' restore both name the damage and take step-280.
    EXPECT_NE(again.err.find("checkpoint step-300: "), std::string::npos) << again.err;
    EXPECT_NE(again.out.find("resumed from step 280"), std::string::npos) << again.out;
    EXPECT_EQ(finalChecksum(again.out), expected);
  }
}

TEST_F(RestartTest, MoreFailuresThanMaxRestartsStopWithAReport) {
  // Run n kills rank n: a new failure every time, until the budget of 2 restarts is spent.
  auto r = ionetRun({"-np", "3", "--max-restarts", "2", "--restart-delay", "0", "/bin/sh", "-c",
                     "[ \"$PMIX_RANK\" = \"$IONET_RESTART_COUNT\" ] && kill -9 $$; sleep 30"},
                    {}, "", 60s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 128 + SIGKILL);
  EXPECT_NE(r.err.find("restart 2 of 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("giving up: the job failed 3 times (--max-restarts 2 spent)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(countContaining(r.err, "rank 2 on host"), 1) << r.err;  // the third run's failure
}

TEST_F(RestartTest, TheSameFailureTwiceIsAProgramErrorNotRestartedAgain) {
  auto r = ionetRun({"-np", "2", "--max-restarts", "5", "--restart-delay", "0", "/bin/sh", "-c",
                     "[ \"$PMIX_RANK\" = 1 ] && exit 3; sleep 30"},
                    {}, "", 60s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 3);
  EXPECT_EQ(countContaining(r.err, "restart 1 of 5"), 1) << r.err;
  EXPECT_EQ(countContaining(r.err, "restart 2 of 5"), 0) << r.err;
  EXPECT_NE(r.err.find("not restarting: the job failed the same way twice in a row"),
            std::string::npos)
      << r.err;
}

TEST_F(RestartTest, EnvironmentContractForProgramsWithoutTheLibrary) {
  const std::string dir = ckpt("contract");
  const std::string show =
      "echo dir=$IONET_CHECKPOINT_DIR count=$IONET_RESTART_COUNT "
      "torch=$TORCHELASTIC_RESTART_COUNT resume=${IONET_RESUME_FROM-unset}";
  auto fresh = ionetRun({"-np", "1", "--checkpoint-dir", dir, "/bin/sh", "-c", show});
  EXPECT_EQ(fresh.exitCode, 0) << fresh.err;
  EXPECT_NE(fresh.out.find("dir=" + dir + " count=0 torch=0 resume=unset"), std::string::npos)
      << fresh.out;
  // A committed set makes the next start resume from it.
  auto writer = ionetRun({"-np", "1", "--checkpoint-dir", dir, example("train"), "20", "10"});
  ASSERT_EQ(writer.exitCode, 0) << writer.err;
  auto resumed = ionetRun({"-np", "1", "--checkpoint-dir", dir, "/bin/sh", "-c", show});
  EXPECT_NE(resumed.out.find("resume=" + dir + "/step-20"), std::string::npos) << resumed.out;
}

}  // namespace
}  // namespace ionet::test
