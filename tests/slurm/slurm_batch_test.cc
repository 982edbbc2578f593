// ionet-batch, ionet-queue, ionet-cancel and ionet-acct with the Slurm backend against a real
// Slurm (slurm_cluster.h): the same scripts as the embedded queue's, submitted with sbatch.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

#include "slurm_test.h"

namespace ionet::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SlurmBatchTest : public SlurmTest {
 protected:
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  void writeScript(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
    fs::permissions(path(name), fs::perms::owner_all);
  }

  // An ionet-* command in the test directory, talking to `cluster` (the suite's by default).
  CommandResult command(const std::string& name, std::vector<std::string> args,
                        std::vector<std::string> env = {}, const SlurmCluster* cluster = nullptr) {
    args.insert(args.begin(),
                {"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", dir_.string(), kBin + "/" + name});
    auto all = (cluster ? cluster : cluster_.get())->env();
    all.push_back(leftovers_.markerEnv());
    all.insert(all.end(), env.begin(), env.end());
    return run(args, all, "", 60s);
  }

  // ionet-batch --backend slurm ARGS; the job id.
  std::string submit(std::vector<std::string> args) {
    args.insert(args.begin(), "--backend=slurm");
    auto r = command("ionet-batch", std::move(args));
    EXPECT_EQ(r.exitCode, 0) << r.err;
    std::smatch m;
    if (!std::regex_search(r.out, m, std::regex("^Submitted batch job ([0-9]+)\n$"))) {
      ADD_FAILURE() << "no job id in: " << r.out << r.err;
      return "0";
    }
    return m[1];
  }

  // ionet-acct (through IONET_BATCH_BACKEND) -j ID -o FIELDS -n -P: one line per task.
  std::string acct(const std::string& id, const std::string& fields) {
    auto r =
        command("ionet-acct", {"-j", id, "-o", fields, "-n", "-P"}, {"IONET_BATCH_BACKEND=slurm"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return r.out;
  }

  // Waits until ionet-acct shows exactly `expected` for the job's fields.
  bool waitForAcct(const std::string& id, const std::string& fields, const std::string& expected,
                   std::chrono::milliseconds timeout = 60s) {
    const bool ok = waitUntil([&] { return acct(id, fields) == expected; }, timeout);
    if (!ok) ADD_FAILURE() << "job " << id << " shows\n" << acct(id, fields) << "not\n" << expected;
    return ok;
  }

  // What ionet-queue --backend slurm shows for the job with squeue format `format`.
  std::string queue(const std::string& id, const std::string& format) {
    auto r = command("ionet-queue", {"--backend", "slurm", "-h", "-j", id, "-o", format});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return r.out;
  }

  // Jobs named `name` that Slurm knows, in any state.
  std::string slurmJobsNamed(const std::string& name) const {
    return cluster_->client({"squeue", "-h", "-t", "all", "-n", name, "-o", "%i"}).out;
  }
};

TEST_F(SlurmBatchTest, ArrayTasksWriteTheirOwnOutputFiles) {
  writeScript("array.sh",
              "#!/bin/bash\n#SBATCH --array=0-2\n#IONET -o out-%A_%a.txt\n"
              "echo \"task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID on $SLURMD_NODENAME\"\n");
  const std::string id = submit({"array.sh"});
  ASSERT_TRUE(waitForAcct(
      id, "JobID,State,ExitCode",
      id + "_0|COMPLETED|0:0\n" + id + "_1|COMPLETED|0:0\n" + id + "_2|COMPLETED|0:0\n"));
  for (int task = 0; task < 3; ++task) {
    const std::string out = readFile(path("out-" + id + "_" + std::to_string(task) + ".txt"));
    EXPECT_EQ(out.rfind("task " + std::to_string(task) + " of " + id + " on n", 0), 0u) << out;
  }
}

TEST_F(SlurmBatchTest, AfterokRunsAfterSuccessAndNeverAfterFailure) {
  writeScript("first.sh", "#!/bin/bash\nsleep 1\ntouch first.done\n");
  writeScript("second.sh", "#!/bin/bash\ntest -f first.done && echo after > second.out\n");
  writeScript("fails.sh", "#!/bin/bash\nexit 3\n");
  const std::string first = submit({"first.sh"});
  const std::string second = submit({"--dependency=afterok:" + first, "second.sh"});
  const std::string fails = submit({"fails.sh"});
  const std::string never = submit({"-d", "afterok:" + fails, "second.sh"});
  ASSERT_TRUE(waitForAcct(second, "State,ExitCode", "COMPLETED|0:0\n"));
  EXPECT_EQ(readFile(path("second.out")), "after\n");
  ASSERT_TRUE(waitForAcct(fails, "State,ExitCode", "FAILED|3:0\n"));
  // Slurm leaves the dependent job pending for ever (no kill_invalid_depend); ionet-queue says so.
  EXPECT_TRUE(waitUntil(
      [&] { return queue(never, "%i %T %r") == never + " PENDING DependencyNeverSatisfied\n"; },
      30s))
      << queue(never, "%i %T %r");
  auto r = command("ionet-cancel", {"--backend=slurm", never});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(waitForAcct(never, "State", "CANCELLED\n"));
}

TEST_F(SlurmBatchTest, CancelStopsARunningJobThroughThePoolFileBackend) {
  // The pool file's [batch] key chooses Slurm: no flag, no variable.
  std::ofstream(path("pool.toml")) << "[pool]\nname = \"p\"\n[[host]]\nname = \"h1\"\n"
                                      "address = \"127.0.0.1\"\n[batch]\nbackend = \"slurm\"\n";
  writeScript("long.sh", "#!/bin/bash\n#SBATCH -J long-one\nsleep 300\n");
  auto r = command("ionet-batch", {"--parsable", "long.sh"}, {"IONET_POOL=" + path("pool.toml")});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const std::string id = r.out.substr(0, r.out.find('\n'));
  ASSERT_EQ(r.out, id + "\n");
  EXPECT_TRUE(waitUntil([&] { return queue(id, "%T") == "RUNNING\n"; }, 30s)) << queue(id, "%T");
  r = command("ionet-cancel", {id}, {"IONET_POOL=" + path("pool.toml")});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(waitForAcct(id, "JobName,State", "long-one|CANCELLED\n"));
  // Slurm logs the end before the job leaves COMPLETING (which ionet shows as RUNNING).
  EXPECT_TRUE(waitUntil([&] { return queue(id, "%T").empty(); }, 30s)) << queue(id, "%T");
}

TEST_F(SlurmBatchTest, BrokenScriptsAreRefusedWithTheirLineAndNothingIsSubmitted) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"#!/bin/bash\n#SBATCH -J broken-1\n#SBATCH --bogus\ntrue\n", "bad.sh:3: unknown option"},
      {"#!/bin/bash\n#SBATCH -J broken-2\n#IONET --checkpoint-dir\ntrue\n",
       "bad.sh:3: --checkpoint-dir needs a value"},
      {"#!/bin/bash\n#SBATCH -J broken-3\n#IONET -o log-%r.txt\ntrue\n",
       "bad.sh:3: --output log-%r.txt: %r (the restart count) has no Slurm equivalent"},
      {"#!/bin/bash\n#SBATCH -J broken-4 --time=soon\ntrue\n", "bad.sh:2: --time: 'soon'"},
  };
  for (const auto& [text, expected] : cases) {
    writeScript("bad.sh", text);
    auto r = command("ionet-batch", {"--backend", "slurm", "bad.sh"});
    EXPECT_EQ(r.exitCode, 1) << text;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("ionet-batch: error: " + expected, 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ(slurmJobsNamed("broken-1,broken-2,broken-3,broken-4"), "");
  // Slurm's own refusal is passed on as one line.
  // (The test cluster has no GPUs configured: no GRES.)
  writeScript("gpu.sh", "#!/bin/bash\n#SBATCH -J broken-5 --gpus=1\ntrue\n");
  auto r = command("ionet-batch", {"--backend", "slurm", "gpu.sh"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.err,
            "ionet-batch: error: sbatch: Invalid generic resource "
            "(gres) specification\n");
  EXPECT_EQ(slurmJobsNamed("broken-5"), "");
}

TEST_F(SlurmBatchTest, IonetDirectivesArriveAsVariablesAndNoEmbeddedJobVariables) {
  writeScript("env.sh",
              "#!/bin/bash\n#IONET --checkpoint-dir ck --max-restarts 2\n#SBATCH -o env.out\n"
              "env | grep -E '^(IONET_|SLURM_JOB_ID=)' | cut -d= -f1 | sort\n"
              "echo \"dir=$IONET_CHECKPOINT_DIR restarts=$IONET_MAX_RESTARTS\"\n");
  // As if submitted from inside an embedded-queue job: its variables must not follow.
  auto r = command("ionet-batch", {"env.sh"},
                   {"IONET_BATCH_BACKEND=slurm", "IONET_JOB_ID=99", "IONET_ALLOCATION=h:1"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const std::string id = r.out.substr(r.out.rfind(' ') + 1, r.out.size() - r.out.rfind(' ') - 2);
  ASSERT_TRUE(waitForAcct(id, "State", "COMPLETED\n"));
  const std::string out = readFile(path("env.out"));
  EXPECT_NE(out.find("IONET_CHECKPOINT_DIR\n"), std::string::npos) << out;
  EXPECT_NE(out.find("IONET_MAX_RESTARTS\n"), std::string::npos) << out;
  EXPECT_NE(out.find("SLURM_JOB_ID\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("IONET_JOB_ID"), std::string::npos) << out;
  EXPECT_EQ(out.find("IONET_ALLOCATION"), std::string::npos) << out;
  EXPECT_NE(out.find("dir=" + path("ck") + " restarts=2\n"), std::string::npos) << out;
}

TEST_F(SlurmBatchTest, SlurmMissingOrStoppedIsAOneLineError) {
  writeScript("ok.sh", "#!/bin/bash\ntrue\n");
  auto r = command("ionet-batch", {"--backend=slurm", "ok.sh"}, {"PATH=/nonexistent"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.err, "ionet-batch: error: the Slurm backend needs sbatch, not found on PATH\n");

  SlurmCluster stopped(1, 2);
  ASSERT_TRUE(stopped.started()) << stopped.why();
  stopped.stop();
  r = command("ionet-batch", {"--backend=slurm", "ok.sh"}, {}, &stopped);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "ionet-batch: error: sbatch: Batch job submission failed: Unable to contact slurm "
            "controller (connect failure)\n");
  r = command("ionet-queue", {"--backend=slurm"}, {}, &stopped);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.err,
            "ionet-queue: error: squeue: slurm_load_jobs error: Unable to contact slurm "
            "controller (connect failure)\n");
}

}  // namespace
}  // namespace ionet::test
