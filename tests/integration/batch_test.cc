// ionet-batch, ionet-queue, ionet-cancel and ionet-acct end to end on the local pool: the real
// commands, the real queue daemon and shepherds, real scripts, MPI programs and signals.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "fixture.h"

namespace ionet::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class BatchTest : public IonetTest {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("batch-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    // The daemon leaves once the queue is idle (IONET_QUEUE_IDLE_EXIT=1).
    EXPECT_TRUE(waitUntil([&] { return processesNamed("ionet-queued").empty(); }, 20s))
        << "the queue daemon did not leave an idle queue";
    fs::remove_all(dir_);
    IonetTest::TearDown();
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  void writeScript(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
    fs::permissions(path(name), fs::perms::owner_all);
  }

  std::vector<std::string> queueEnv() const {
    std::vector<std::string> env = {"IONET_QUEUE_DIR=" + path("queue"), "IONET_QUEUE_IDLE_EXIT=1",
                                    "IONET_KILL_WAIT=2", leftovers_.markerEnv()};
    env.insert(env.end(), extraEnv_.begin(), extraEnv_.end());
    return env;
  }

  // Runs an ionet-* command in the test directory.
  CommandResult command(const std::string& name, std::vector<std::string> args) {
    args.insert(args.begin(),
                {"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", dir_.string(), kBin + "/" + name});
    return run(args, queueEnv(), "", 60s);
  }

  // Submits; the job id.
  std::string submit(std::vector<std::string> args) {
    auto r = command("ionet-batch", std::move(args));
    EXPECT_EQ(r.exitCode, 0) << r.err;
    std::smatch m;
    if (!std::regex_search(r.out, m, std::regex("^Submitted batch job ([0-9]+)\n$"))) {
      ADD_FAILURE() << "no job id in: " << r.out << r.err;
      return "0";
    }
    lastSubmitErr_ = r.err;
    return m[1];
  }

  // ionet-acct -j ID -o FIELD: the field of each task, one per line.
  std::string acct(const std::string& id, const std::string& field) {
    auto r = command("ionet-acct", {"-j", id, "-o", field, "-n", "-P"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return r.out;
  }

  bool waitForState(const std::string& id, const std::string& state,
                    std::chrono::milliseconds timeout = 60s) {
    const bool ok = waitUntil([&] { return acct(id, "State") == state + "\n"; }, timeout);
    if (!ok) ADD_FAILURE() << "job " << id << " is " << acct(id, "State") << ", not " << state;
    return ok;
  }

  static int occurrences(const std::string& text, const std::string& needle) {
    int n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }

  static std::string read(const std::string& file) {
    std::ifstream in(file);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }

  fs::path dir_;
  std::vector<std::string> extraEnv_;
  std::string lastSubmitErr_;
};

TEST_F(BatchTest, SubmitQueueCancel) {
  extraEnv_ = {"IONET_QUEUE_CORES=2"};
  writeScript("long.sh", "#!/bin/bash\n#SBATCH -J long -n 2\necho running\nexec sleep 600\n");
  writeScript("next.sh",
              "#!/bin/bash\n#SBATCH -J next -n 2\necho next ran on $SLURM_JOB_NODELIST\n");
  const std::string first = submit({"long.sh"});
  ASSERT_TRUE(waitForState(first, "RUNNING"));
  const std::string second = submit({"next.sh"});
  // The second needs both cores: it waits for them, and says so.
  ASSERT_TRUE(waitUntil(
      [&] {
        return command("ionet-queue", {"-h", "-o", "%i %t %r"}).out ==
               first + " R None\n" + second + " PD Resources\n";
      },
      30s))
      << command("ionet-queue", {}).out;
  auto q = command("ionet-queue", {});
  EXPECT_NE(q.out.find("JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)"),
            std::string::npos)
      << q.out;
  EXPECT_NE(q.out.find("(Resources)"), std::string::npos) << q.out;
  auto cancel = command("ionet-cancel", {first});
  EXPECT_EQ(cancel.exitCode, 0) << cancel.err;
  EXPECT_TRUE(waitForState(first, "CANCELLED"));
  EXPECT_TRUE(waitForState(second, "COMPLETED"));
  EXPECT_EQ(read(path("ionet-" + second + ".out")).rfind("next ran on ", 0), 0u);
  EXPECT_EQ(read(path("ionet-" + first + ".out")), "running\n");
  // Cancelling what has ended, or what never was, is an error naming the id.
  auto again = command("ionet-cancel", {first, "99999"});
  EXPECT_EQ(again.exitCode, 1);
  EXPECT_NE(again.err.find("Invalid job id specified: 99999"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("already completing or completed"), std::string::npos) << again.err;
  EXPECT_EQ(acct(second, "ExitCode"), "0:0\n");
}

TEST_F(BatchTest, ArrayOfFourRunsTwoAtATimeWithItsOwnOutputFiles) {
  extraEnv_ = {"IONET_QUEUE_CORES=8"};  // room for all four: only %2 holds them back
  writeScript(
      "array.sh",
      "#!/bin/bash\n"
      "#SBATCH --array=0-3%2\n"
      "#SBATCH --output=task-%A_%a.out\n"
      "echo \"task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID count $SLURM_ARRAY_TASK_COUNT\"\n"
      "echo start $(date +%s.%N)\n"
      "sleep 1\n"
      "echo end $(date +%s.%N)\n");
  const std::string id = submit({"array.sh"});
  bool sawLimit = false;
  ASSERT_TRUE(waitUntil(
      [&] {
        // The two tasks held back are one line, as squeue shows them.
        auto q = command("ionet-queue", {"-j", id, "-h", "-o", "%i %r"}).out;
        if (q.find(id + "_[2-3%2] JobArrayTaskLimit\n") != std::string::npos) sawLimit = true;
        return acct(id, "State") == "COMPLETED\nCOMPLETED\nCOMPLETED\nCOMPLETED\n";
      },
      90s))
      << acct(id, "JobID,State");
  EXPECT_TRUE(sawLimit) << "no task ever waited for the array's %2 limit";
  std::vector<std::pair<double, double>> spans;
  for (int t = 0; t < 4; ++t) {
    const std::string out = read(path("task-" + id + "_" + std::to_string(t) + ".out"));
    EXPECT_EQ(out.rfind("task " + std::to_string(t) + " of " + id + " count 4\n", 0), 0u) << out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex("start ([0-9.]+)\nend ([0-9.]+)"))) << out;
    spans.emplace_back(std::stod(m[1]), std::stod(m[2]));
  }
  // At no task's start were more than two running.
  for (const auto& [s, e] : spans) {
    int running = 0;
    for (const auto& [s2, e2] : spans) running += s2 <= s && s < e2;
    EXPECT_LE(running, 2);
  }
  EXPECT_EQ(acct(id, "JobID"), id + "_0\n" + id + "_1\n" + id + "_2\n" + id + "_3\n");
}

TEST_F(BatchTest, AfterokChainWhoseFirstJobFailsNeverRunsTheSecond) {
  writeScript("fail.sh", "#!/bin/bash\necho failing\nexit 3\n");
  writeScript("then.sh", "#!/bin/bash\necho should not run > ran-$SLURM_JOB_ID\n");
  writeScript("rescue.sh", "#!/bin/bash\necho rescue ran\n");
  const std::string first = submit({"fail.sh"});
  const std::string second = submit({"--dependency=afterok:" + first, "then.sh"});
  const std::string third = submit({"-d", "afternotok:" + first, "rescue.sh"});
  EXPECT_TRUE(waitForState(first, "FAILED"));
  EXPECT_EQ(acct(first, "ExitCode"), "3:0\n");
  EXPECT_TRUE(waitForState(third, "COMPLETED"));
  ASSERT_TRUE(waitUntil(
      [&] {
        return command("ionet-queue", {"-j", second, "-h", "-o", "%T %r"}).out ==
               "PENDING DependencyNeverSatisfied\n";
      },
      30s))
      << command("ionet-queue", {"-j", second}).out;
  EXPECT_FALSE(fs::exists(path("ran-" + second)));
  EXPECT_FALSE(fs::exists(path("ionet-" + second + ".out")));
  // A dependency on a job that does not exist is refused at submission.
  auto bad = command("ionet-batch", {"--dependency=afterok:4242", "then.sh"});
  EXPECT_EQ(bad.exitCode, 1);
  EXPECT_NE(bad.err.find("Job dependency problem: afterok:4242 names no job"), std::string::npos)
      << bad.err;
  EXPECT_EQ(command("ionet-cancel", {second}).exitCode, 0);
  EXPECT_TRUE(waitForState(second, "CANCELLED"));
}

TEST_F(BatchTest, TimeLimitWarnsWithTheSignalThenEndsTimeout) {
  writeScript("slow.sh",
              "#!/bin/bash\n"
              "#SBATCH --time=0:03 --signal=B:USR1@2\n"
              "trap 'echo warned after $SECONDS s' USR1\n"
              "echo started\n"
              "while true; do sleep 0.1; done\n");
  const std::string id = submit({"slow.sh"});
  EXPECT_TRUE(waitForState(id, "TIMEOUT", 30s));
  const std::string out = read(path("ionet-" + id + ".out"));
  EXPECT_NE(out.find("started\nwarned after"), std::string::npos) << out;
  const auto elapsed = acct(id, "Elapsed");
  EXPECT_TRUE(elapsed == "0:03\n" || elapsed == "0:04\n") << elapsed;
}

TEST_F(BatchTest, TheSignalWarningReachesTheRanksThroughIonetRun) {
  // Without B: the signal goes to the job's processes: ionet-run forwards it to every rank,
  // as mpirun does, and the ranks carry on until the limit.
  extraEnv_ = {"IONET_QUEUE_CORES=2"};
  writeScript("ranks.sh",
              "#!/bin/bash\n"
              "#SBATCH -n 2 --time=0:04 --signal=USR1@2\n"
              "ionet-run " +
                  example("signal_trap") + "\n");
  const std::string id = submit({"ranks.sh"});
  EXPECT_TRUE(waitForState(id, "TIMEOUT", 30s));
  const std::string out = read(path("ionet-" + id + ".out"));
  EXPECT_EQ(occurrences(out, "got signal 10"), 2) << out;  // the warning
  EXPECT_EQ(occurrences(out, "got signal 15"), 2) << out;  // the time limit
}

TEST_F(BatchTest, KillNineOfTheDaemonLosesNoJob) {
  extraEnv_ = {"IONET_QUEUE_CORES=2"};
  writeScript("gate.sh",
              "#!/bin/bash\n#SBATCH -n 2\necho waiting\n"
              "while [ ! -e go ]; do sleep 0.05; done\necho released\n");
  writeScript("small.sh", "#!/bin/bash\necho small ran\n");
  const std::string gate = submit({"gate.sh"});
  ASSERT_TRUE(waitForState(gate, "RUNNING"));
  const std::string small = submit({"small.sh"});
  const std::string after = submit({"-d", "afterok:" + gate, "small.sh"});
  auto daemons = processesNamed("ionet-queued");
  // The daemon and the gate job's shepherd share the binary; the daemon has no --shepherd.
  pid_t daemon = -1;
  for (pid_t p : daemons) {
    std::ifstream cmd("/proc/" + std::to_string(p) + "/cmdline");
    std::string all((std::istreambuf_iterator<char>(cmd)), {});
    if (all.find("--shepherd") == std::string::npos) daemon = p;
  }
  ASSERT_GT(daemon, 0);
  ASSERT_EQ(::kill(daemon, SIGKILL), 0);
  ASSERT_TRUE(waitUntil([&] { return ::kill(daemon, 0) != 0; }, 10s));
  // With no daemon the running job runs on, and the pending ones stay queued.
  EXPECT_EQ(acct(gate, "State"), "RUNNING\n");
  EXPECT_EQ(acct(small, "State") + acct(after, "State"), "PENDING\nPENDING\n");
  // The next command brings the daemon back; it finds the job running and carries on.
  auto q = command("ionet-queue", {"-h", "-o", "%i %t"});
  EXPECT_EQ(q.out, gate + " R\n" + small + " PD\n" + after + " PD\n") << q.err;
  std::ofstream(path("go")) << "go";
  EXPECT_TRUE(waitForState(gate, "COMPLETED"));
  EXPECT_TRUE(waitForState(small, "COMPLETED"));
  EXPECT_TRUE(waitForState(after, "COMPLETED"));
  EXPECT_EQ(read(path("ionet-" + gate + ".out")), "waiting\nreleased\n");
  const std::string log = read(path("queue/daemon.log"));
  EXPECT_EQ(occurrences(log, "serving "), 2) << log;
}

TEST_F(BatchTest, AnSbatchScriptRunsUnchanged) {
  fs::copy_file(example("hello"), path("hello"));
  writeScript("mpi-hello.sbatch",
              "#!/bin/bash\n"
              "#SBATCH --job-name=mpi-hello\n"
              "#SBATCH --ntasks=2\n"
              "#SBATCH --time=00:05:00\n"
              "#SBATCH --output=%x-%j.out\n"
              "#SBATCH --partition=compute\n"
              "\n"
              "srun --mpi=pmix ./hello | sort\n"
              "echo \"nodes=$SLURM_JOB_NODELIST ntasks=$SLURM_NTASKS tpn=$SLURM_TASKS_PER_NODE "
              "dir=$SLURM_SUBMIT_DIR name=$SLURM_JOB_NAME\"\n");
  const std::string id = submit({"mpi-hello.sbatch"});
  EXPECT_NE(lastSubmitErr_.find("--partition=compute accepted and ignored"), std::string::npos)
      << lastSubmitErr_;
  EXPECT_TRUE(waitForState(id, "COMPLETED"));
  const std::string out = read(path("mpi-hello-" + id + ".out"));
  EXPECT_NE(out.find("hello from rank 0 of 2"), std::string::npos) << out;
  EXPECT_NE(out.find("hello from rank 1 of 2"), std::string::npos) << out;
  EXPECT_NE(out.find("ntasks=2 tpn=2 dir=" + dir_.string() + " name=mpi-hello"), std::string::npos)
      << out;
  // The provenance record: both ranks, on this machine's host.
  auto placement = command("ionet-acct", {"-j", id, "--placement", "-n", "-P"});
  EXPECT_EQ(occurrences(placement.out, id + "|0|0|"), 2) << placement.out;
}

TEST_F(BatchTest, NodeFailRequeuesAndResumesFromTheCheckpoint) {
  // Three emulated hosts of two cores; the job takes two. Losing one ends the run NODE_FAIL,
  // the queue requeues the job on the hosts left, and it resumes from its checkpoint.
  extraEnv_ = {"IONET_QUEUE_HOSTS=3", "IONET_QUEUE_CORES=2"};
  auto reference = ionetRun({"--local-hosts", "2", "-np", "4", "--checkpoint-dir",
                             path("reference"), example("train"), "300", "20"},
                            {}, "", 120s);
  ASSERT_EQ(reference.exitCode, 0) << reference.err;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(reference.out, m, std::regex("final weights checksum ([0-9a-f]{16})")));
  const std::string expected = m[1];
  writeScript("train.sh",
              "#!/bin/bash\n"
              "#SBATCH -N 2 -n 4 -J train\n"
              "#IONET --checkpoint-dir ckpt\n"
              "ionet-run --restart-delay 0 " +
                  example("train") + " 300 20\n");
  const std::string id = submit({"train.sh"});
  const std::string out = path("ionet-" + id + ".out");
  ASSERT_TRUE(
      waitUntil([&] { return read(out).find("checkpoint step 60\n") != std::string::npos; }, 90s))
      << read(out);
  EXPECT_EQ(acct(id, "NodeList"), "node0,node1\n");
  // kill -9 the agent of node1.
  pid_t agent = -1;
  for (pid_t p : processesNamed("ionet-agent")) {
    std::ifstream cmd("/proc/" + std::to_string(p) + "/cmdline");
    std::string all((std::istreambuf_iterator<char>(cmd)), {});
    if (all.find(std::string("--host-name\0node1\0", 18)) != std::string::npos) agent = p;
  }
  ASSERT_GT(agent, 0);
  ASSERT_EQ(::kill(agent, SIGKILL), 0);
  EXPECT_TRUE(waitForState(id, "COMPLETED", 120s));
  EXPECT_EQ(acct(id, "Restarts"), "1\n");
  EXPECT_EQ(acct(id, "NodeList"), "node0,node2\n");  // node1 is down
  const std::string text = read(out);
  ASSERT_TRUE(std::regex_search(text, m, std::regex("resumed from step ([0-9]+)"))) << text;
  EXPECT_GE(std::stoi(m[1]), 60);
  ASSERT_TRUE(std::regex_search(text, m, std::regex("final weights checksum ([0-9a-f]{16})")))
      << text;
  EXPECT_EQ(m[1], expected);
  // Provenance: run 0 on node0 and node1, run 1 (the requeue) on node0 and node2.
  auto placement = command("ionet-acct", {"-j", id, "--placement", "-n", "-P"});
  EXPECT_EQ(occurrences(placement.out, "|0|0|2|node1|"), 1) << placement.out;
  EXPECT_EQ(occurrences(placement.out, "|1|0|2|node2|"), 1) << placement.out;
}

TEST_F(BatchTest, TheExampleJobScriptsRunAsTheyAre) {
  extraEnv_ = {"IONET_QUEUE_CORES=4", "PATH=" + kBin + ":/usr/bin:/bin"};
  const std::string examples = IONET_SOURCE_DIR "/jobscripts/examples/";
  const std::string hello = submit({examples + "hello.sh"});
  const std::string array = submit({examples + "array.sh"});
  const std::string train = submit({examples + "train.sh"});
  const std::string ddp = submit({examples + "ddp.sh"});
  auto chain =
      run({"/bin/sh", "-c", "cd \"$0\" && exec \"$1\"", dir_.string(), examples + "chain.sh"},
          queueEnv(), "", 60s);
  ASSERT_EQ(chain.exitCode, 0) << chain.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(chain.out, m,
                                std::regex("prepare=([0-9]+) train=([0-9]+) report=([0-9]+)")))
      << chain.out;
  for (const std::string& id :
       {hello, train, ddp, std::string(m[1]), std::string(m[2]), std::string(m[3])}) {
    EXPECT_TRUE(waitForState(id, "COMPLETED", 180s)) << id;
  }
  std::string eightCompleted;
  for (int i = 0; i < 8; ++i) eightCompleted += "COMPLETED\n";
  EXPECT_TRUE(waitUntil([&] { return acct(array, "State") == eightCompleted; }, 120s))
      << acct(array, "State");
  EXPECT_NE(read(path("hello-" + hello + ".out")).find("hello from rank 3 of 4"),
            std::string::npos);
  EXPECT_NE(read(path("sweep-" + array + "_7.out")).find("task 7 of 8"), std::string::npos);
  EXPECT_NE(read(path("train-" + train + ".out")).find("final weights checksum"),
            std::string::npos);
  EXPECT_EQ(occurrences(read(path("ddp-" + ddp + ".out")), "steps 20 checksum"), 2);
  EXPECT_NE(read(path("chain-report-" + std::string(m[3]) + ".out")).find("the chain ended"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(path("ckpt-" + train)));
}

TEST_F(BatchTest, SignalsArrayElementsAndWait) {
  extraEnv_ = {"IONET_QUEUE_CORES=4"};
  writeScript("trap.sh",
              "#!/bin/bash\n"
              "trap 'echo got USR1' USR1\n"
              "echo ready\n"
              "while true; do sleep 0.05; done\n");
  const std::string id = submit({"--array=1-3", "-o", "trap-%a.out", "trap.sh"});
  ASSERT_TRUE(waitUntil([&] { return acct(id, "State") == "RUNNING\nRUNNING\nRUNNING\n"; }, 30s));
  ASSERT_TRUE(waitUntil([&] { return read(path("trap-2.out")) == "ready\n"; }, 10s));
  // --signal --batch reaches the batch shell of the one task named, and leaves it running.
  // (Without --batch every process of the job gets it: here the sleep, which it kills.)
  EXPECT_EQ(command("ionet-cancel", {"--signal=USR1", "--batch", id + "_2"}).exitCode, 0);
  EXPECT_TRUE(waitUntil([&] { return read(path("trap-2.out")) == "ready\ngot USR1\n"; }, 10s))
      << read(path("trap-2.out"));
  EXPECT_EQ(read(path("trap-1.out")), "ready\n");
  EXPECT_EQ(acct(id + "_2", "State"), "RUNNING\n");
  // Cancelling one element, then the rest by the array's id.
  EXPECT_EQ(command("ionet-cancel", {id + "_3"}).exitCode, 0);
  EXPECT_TRUE(waitForState(id + "_3", "CANCELLED"));
  EXPECT_EQ(acct(id, "State"), "RUNNING\nRUNNING\nCANCELLED\n");
  EXPECT_EQ(command("ionet-cancel", {"-Q", id}).exitCode, 0);
  EXPECT_TRUE(
      waitUntil([&] { return acct(id, "State") == "CANCELLED\nCANCELLED\nCANCELLED\n"; }, 30s))
      << acct(id, "State");
  // --wait returns when the job ends, with its exit status.
  writeScript("three.sh", "#!/bin/bash\nexit 3\n");
  auto waited = command("ionet-batch", {"--wait", "three.sh"});
  EXPECT_EQ(waited.exitCode, 3) << waited.err;
}

TEST_F(BatchTest, BrokenScriptsAreRefusedWithTheLineAndNothingIsQueued) {
  writeScript("bad.sh", "#!/bin/bash\n#SBATCH -J ok\n#SBATCH --ntasks=lots\necho\n");
  writeScript("nobang.sh", "echo no interpreter\n");
  writeScript("huge.sh", "#!/bin/bash\n#SBATCH --ntasks=100000\n");
  auto bad = command("ionet-batch", {"bad.sh"});
  EXPECT_EQ(bad.exitCode, 1);
  EXPECT_EQ(bad.err, "ionet-batch: error: bad.sh:3: --ntasks: 'lots' is not a valid task count\n");
  auto nobang = command("ionet-batch", {"nobang.sh"});
  EXPECT_NE(nobang.err.find("nobang.sh:1: this does not look like a batch script"),
            std::string::npos);
  auto huge = command("ionet-batch", {"huge.sh"});
  EXPECT_NE(huge.err.find("Requested node configuration is not available"), std::string::npos)
      << huge.err;
  EXPECT_EQ(command("ionet-acct", {"-n"}).out, "");
}

}  // namespace
}  // namespace ionet::test
