// planSbatch: which sbatch options a parsed script becomes, what travels as IONET_* variables,
// and what is refused (with file:line) before anything reaches sbatch.
#include "ionet/jobscripts/slurm_submit.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ionet/error.h"

namespace ionet::jobscripts {
namespace {

Submission script(const std::string& text, const std::vector<std::string>& commandLine = {}) {
  Submission s;
  s.scriptPath = "dir/job.sh";
  s.scriptText = text;
  applyDirectives(text, "job.sh", s.options);
  applyCommandLine(commandLine, s.options);
  return s;
}

bool has(const std::vector<std::string>& v, const std::string& item) {
  return std::find(v.begin(), v.end(), item) != v.end();
}

TEST(PlanSbatch, SlurmOptionsKeepTheirNames) {
  auto s = script(
      "#!/bin/bash\n#SBATCH -N 2 -n 8\n#IONET --ntasks-per-node=4 -c 2 --mem=4G -t 90\n"
      "#SBATCH --array=0-3,7%2 -o out-%A_%a.txt -e err-%j.txt\n"
      "#SBATCH --dependency=afterok:12:13_2,singleton --no-requeue --signal=B:USR1@30\n"
      "#SBATCH -p debug --exclusive\nsrun hostname\n");
  s.scriptArgs = {"a1"};
  const auto plan = planSbatch(s, {}, "/home/u");
  const std::vector<std::string> expected = {"sbatch",
                                             "--parsable",
                                             "--job-name=job.sh",
                                             "--nodes=2",
                                             "--ntasks=8",
                                             "--ntasks-per-node=4",
                                             "--cpus-per-task=2",
                                             "--mem=4096M",
                                             "--time=1:30:00",
                                             "--output=out-%A_%a.txt",
                                             "--error=err-%j.txt",
                                             "--array=0-3,7%2",
                                             "--dependency=afterok:12:13_2,singleton",
                                             "--no-requeue",
                                             "--signal=B:USR1@30",
                                             "--partition=debug",
                                             "--exclusive",
                                             "dir/job.sh",
                                             "a1"};
  EXPECT_EQ(plan.argv, expected);
  EXPECT_EQ(plan.argv[plan.scriptIndex], "dir/job.sh");
  // sbatch must not read the #SBATCH lines again: it gets a copy where they are #IONET.
  EXPECT_EQ(plan.scriptCopy.find("#SBATCH"), std::string::npos);
  EXPECT_NE(plan.scriptCopy.find("#IONET --array=0-3,7%2"), std::string::npos);
}

TEST(PlanSbatch, CommandLineWinsAndAPlainScriptIsSubmittedAsItIs) {
  auto s = script("#!/bin/sh\n#IONET -J fromscript\ntrue\n", {"-J", "fromcli", "--gpus=a100:2"});
  const auto plan = planSbatch(s, {}, "/w");
  EXPECT_TRUE(has(plan.argv, "--job-name=fromcli"));
  EXPECT_TRUE(has(plan.argv, "--gpus=a100:2"));
  EXPECT_EQ(plan.scriptCopy, "");  // no #SBATCH line: the file itself goes to sbatch
}

TEST(PlanSbatch, StandardInputIsAlwaysACopy) {
  Submission s;
  s.scriptText = "#!/bin/sh\ntrue\n";
  const auto plan = planSbatch(s, {}, "/w");
  EXPECT_TRUE(has(plan.argv, "--job-name=sbatch"));
  EXPECT_EQ(plan.scriptCopy, s.scriptText);
}

TEST(PlanSbatch, IonetOptionsTravelAsVariablesNamedByExport) {
  auto s = script(
      "#!/bin/sh\n#IONET --checkpoint-dir ck,1 --max-restarts 3 --gpus-per-task 1\n"
      "#SBATCH -D sub\ntrue\n");
  const std::vector<std::string> env = {"PATH=/bin", "IONET_JOB_ID=7", "IONET_ALLOCATION=h:1",
                                        "IONET_CHECKPOINT_DIR=/old", "HOME=/h"};
  auto plan = planSbatch(s, env, "/w");
  const std::vector<std::string> vars = {"IONET_CHECKPOINT_DIR=/w/sub/ck,1", "IONET_MAX_RESTARTS=3",
                                         "IONET_GPUS_PER_TASK=1"};
  EXPECT_EQ(plan.ionetVariables, vars);
  // --export=ALL (the default) carries them from sbatch's environment: no option needed, and
  // the comma in the directory never meets --export's syntax.
  for (const auto& a : plan.argv) EXPECT_NE(a.rfind("--export", 0), 0u) << a;
  for (const auto& v : vars) EXPECT_TRUE(has(plan.environment, v)) << v;
  // An embedded-queue job's own variables never reach a Slurm job.
  EXPECT_FALSE(has(plan.environment, "IONET_JOB_ID=7"));
  EXPECT_FALSE(has(plan.environment, "IONET_ALLOCATION=h:1"));
  EXPECT_FALSE(has(plan.environment, "IONET_CHECKPOINT_DIR=/old"));
  EXPECT_TRUE(has(plan.environment, "HOME=/h"));

  s.options.exportSpec = "NONE";
  EXPECT_TRUE(has(planSbatch(s, env, "/w").argv,
                  "--export=IONET_CHECKPOINT_DIR,IONET_MAX_RESTARTS,IONET_GPUS_PER_TASK"));
  s.options.exportSpec = "HOME,FOO=1";
  EXPECT_TRUE(has(planSbatch(s, env, "/w").argv,
                  "--export=HOME,FOO=1,IONET_CHECKPOINT_DIR,IONET_MAX_RESTARTS,"
                  "IONET_GPUS_PER_TASK"));
  EXPECT_TRUE(
      has(planSbatch(script("#!/bin/sh\n", {"--export=NONE"}), {}, "/w").argv, "--export=NONE"));
}

TEST(PlanSbatch, WhatSlurmCannotExpressIsAnErrorAtItsLine) {
  try {
    planSbatch(script("#!/bin/sh\n#SBATCH -J x\n#IONET -o log-%j-%2r.txt\ntrue\n"), {}, "/w");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("job.sh:3: --output log-%j-%2r.txt: %r", 0), 0u)
        << e.what();
  }
  // From the command line there is no line to name; a literal "%%r" is no restart count.
  EXPECT_THROW(planSbatch(script("#!/bin/sh\n", {"-e", "e%r"}), {}, "/w"), UsageError);
  EXPECT_NO_THROW(planSbatch(script("#!/bin/sh\n", {"-o", "o%%r"}), {}, "/w"));
}

TEST(PlanSbatch, BackendIsACommandLineOption) {
  EXPECT_THROW(script("#!/bin/sh\n#IONET --backend slurm\n"), UsageError);
  EXPECT_EQ(script("#!/bin/sh\n", {"--backend", "slurm"}).options.backend, "slurm");
  EXPECT_THROW(script("#!/bin/sh\n", {"--backend=pbs"}), UsageError);
}

TEST(SbatchReply, JobIdWithOrWithoutCluster) {
  EXPECT_EQ(jobIdFromSbatch("12\n"), "12");
  EXPECT_EQ(jobIdFromSbatch("12;cluster\n"), "12");
  EXPECT_THROW(jobIdFromSbatch("Submitted batch job 12\n"), Error);
}

TEST(SlurmArraySpec, RangesAndLimit) {
  EXPECT_EQ(slurmArraySpec(parseArray("0-15:4%2")), "0,4,8,12%2");
  EXPECT_EQ(slurmArraySpec(parseArray("3,1,2,9")), "1-3,9");
}

}  // namespace
}  // namespace ionet::jobscripts
