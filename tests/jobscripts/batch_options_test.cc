// The directive parser and value parsers: Slurm's syntax, the command line over directives,
// and bad input named by file and line with nothing applied.
#include "ionet/jobscripts/batch_options.h"

#include <gtest/gtest.h>

#include <csignal>

#include "ionet/error.h"
#include "ionet/jobscripts/job_record.h"

namespace ionet::jobscripts {
namespace {

std::string errorOf(const std::string& script) {
  BatchOptions o;
  try {
    applyDirectives(script, "job.sh", o);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Directives, SbatchAndIonetLinesUntilTheFirstCommand) {
  BatchOptions o;
  applyDirectives(
      "#!/bin/bash\n"
      "#SBATCH --job-name=train -N 2\n"
      "\n"
      "# a plain comment\n"
      "#SBATCH --ntasks-per-node 4   # four per node\n"
      "#IONET --checkpoint-dir ckpt --max-restarts=3\n"
      "#SBATCH -t 1-02:03:04\n"
      "#SBATCH --output=\"out dir/%x-%j.out\"\n"
      "#SBATCH --array=0-7%2\n"
      "echo start\n"
      "#SBATCH --nodes=9\n",
      "job.sh", o);
  EXPECT_EQ(o.jobName, "train");
  EXPECT_EQ(o.nodes, 2u);  // the line after the first command is not a directive
  EXPECT_EQ(o.ntasksPerNode, 4u);
  EXPECT_EQ(o.checkpointDir, "ckpt");
  EXPECT_EQ(o.maxRestarts, 3u);
  EXPECT_EQ(o.timeLimitSeconds, 86400u + 2 * 3600 + 3 * 60 + 4);
  EXPECT_EQ(o.output, "out dir/%x-%j.out");
  ASSERT_TRUE(o.array);
  EXPECT_EQ(o.array->ids.size(), 8u);
  EXPECT_EQ(o.array->maxRunning, 2u);
}

TEST(Directives, LookalikesAreComments) {
  BatchOptions o;
  applyDirectives("#!/bin/sh\n#SBATCHX --nodes=2\n# SBATCH --nodes=3\n#sbatch --nodes=4\n", "j", o);
  EXPECT_FALSE(o.nodes);
}

TEST(Directives, CommandLineOverridesDirectives) {
  BatchOptions o;
  applyDirectives("#!/bin/sh\n#SBATCH -J fromfile -n 4\n", "j", o);
  const std::vector<std::string> args = {"-J", "fromcli", "--time=5", "job.sh", "arg"};
  EXPECT_EQ(applyCommandLine(args, o), 3u);
  EXPECT_EQ(o.jobName, "fromcli");
  EXPECT_EQ(o.ntasks, 4u);
  EXPECT_EQ(o.timeLimitSeconds, 300u);
}

TEST(Directives, ShortOptionsWithAttachedValues) {
  BatchOptions o;
  applyCommandLine({"-N2", "-n=8", "-c", "2", "-Jname"}, o);
  EXPECT_EQ(o.nodes, 2u);
  EXPECT_EQ(o.ntasks, 8u);
  EXPECT_EQ(o.cpusPerTask, 2u);
  EXPECT_EQ(o.jobName, "name");
}

TEST(Directives, BadInputNamesTheLineAndAppliesNothing) {
  EXPECT_EQ(errorOf("#!/bin/sh\n#SBATCH -J ok\n#SBATCH --nodez=2\n"),
            "job.sh:3: unknown option --nodez");
  EXPECT_EQ(errorOf("#!/bin/sh\n#SBATCH --nodes=two\n"),
            "job.sh:2: --nodes: 'two' is not a valid node count");
  EXPECT_EQ(errorOf("#!/bin/sh\n#SBATCH --time\n"), "job.sh:2: --time needs a value");
  EXPECT_EQ(errorOf("#!/bin/sh\n#SBATCH\n"), "job.sh:2: #SBATCH with no option");
  EXPECT_EQ(errorOf("#!/bin/sh\n#SBATCH nodes=2\n"),
            "job.sh:2: #SBATCH nodes=2: not an option (options start with -)");
  EXPECT_EQ(errorOf("#!/bin/sh\n#SBATCH --job-name \"open\n"),
            "job.sh:2: #SBATCH unterminated \" quote");
  EXPECT_EQ(errorOf("#!/bin/sh\n#SBATCH --requeue=yes\n"), "job.sh:2: --requeue takes no value");
  EXPECT_EQ(errorOf("#!/bin/sh\n#SBATCH -N 1 extra\n"),
            "job.sh:2: unexpected 'extra' after the option");
  EXPECT_NE(errorOf("#!/bin/sh\n#SBATCH --dependency=afterbad:1\n").find("job.sh:2: --dependency"),
            std::string::npos);
  BatchOptions o;
  o.jobName = "before";
  EXPECT_THROW(applyDirectives("#!/bin/sh\n#SBATCH -J after\n#SBATCH --bogus\n", "j", o),
               UsageError);
  EXPECT_EQ(o.jobName, "before");
}

TEST(Directives, SiteOptionsAreAcceptedAndNoted) {
  BatchOptions o;
  applyDirectives("#!/bin/sh\n#SBATCH -p gpu --account=proj --mail-type=END --exclusive\n", "j", o);
  ASSERT_EQ(o.notes.size(), 4u);
  EXPECT_NE(o.notes[0].find("--partition=gpu accepted and ignored"), std::string::npos);
  // Options whose value is optional take it only as --name=value.
  applyDirectives("#!/bin/sh\n#SBATCH --exclusive=user --nice -J x\n", "j", o);
  EXPECT_EQ(o.notes.size(), 6u);
  EXPECT_EQ(o.jobName, "x");
}

TEST(Values, TimeLimitsInSlurmFormats) {
  EXPECT_EQ(parseTimeLimit("90"), 90u * 60);
  EXPECT_EQ(parseTimeLimit("2:30"), 150u);
  EXPECT_EQ(parseTimeLimit("1:02:03"), 3723u);
  EXPECT_EQ(parseTimeLimit("2-0"), 2u * 86400);
  EXPECT_EQ(parseTimeLimit("1-1:30"), 86400u + 3600 + 1800);
  EXPECT_EQ(parseTimeLimit("UNLIMITED"), 0u);
  for (const char* bad : {"", "abc", "1:2:3:4", "-5", "1-", "0", "1:-1"}) {
    EXPECT_THROW(parseTimeLimit(bad), UsageError) << bad;
  }
}

TEST(Values, MemoryInMegabytes) {
  EXPECT_EQ(parseMemoryMegabytes("500"), 500u);
  EXPECT_EQ(parseMemoryMegabytes("4G"), 4096u);
  EXPECT_EQ(parseMemoryMegabytes("2GB"), 2048u);
  EXPECT_EQ(parseMemoryMegabytes("1024K"), 1u);
  EXPECT_THROW(parseMemoryMegabytes("4X"), UsageError);
  EXPECT_THROW(parseMemoryMegabytes("G"), UsageError);
}

TEST(Values, ArraysWithStepsListsAndLimits) {
  EXPECT_EQ(parseArray("0-15:4").ids, (std::vector<std::uint32_t>{0, 4, 8, 12}));
  EXPECT_EQ(parseArray("1,3,5-6").ids, (std::vector<std::uint32_t>{1, 3, 5, 6}));
  EXPECT_EQ(parseArray("0-3%2").maxRunning, 2u);
  for (const char* bad : {"", "5-1", "1,,2", "0-3%0", "0-3%", "a-b", "0-999999", "1:0"}) {
    EXPECT_THROW(parseArray(bad), UsageError) << bad;
  }
}

TEST(Values, Dependencies) {
  auto d = parseDependency("afterok:12:13_2,afterany:7,singleton");
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].kind, "afterok");
  EXPECT_EQ(d[0].jobs, (std::vector<std::string>{"12", "13_2"}));
  EXPECT_EQ(d[2].kind, "singleton");
  for (const char* bad : {"afterok", "afterok:x", "later:1", "singleton:3", "afterok:1?afterany:2",
                          "afterok:1_", "afterok:0"}) {
    EXPECT_THROW(parseDependency(bad), UsageError) << bad;
  }
}

TEST(Values, Signals) {
  auto s = parseSignalSpec("B:USR1@90");
  EXPECT_EQ(s.signal, SIGUSR1);
  EXPECT_EQ(s.secondsBefore, 90u);
  EXPECT_TRUE(s.batchOnly);
  EXPECT_EQ(parseSignalSpec("SIGTERM").secondsBefore, 60u);
  EXPECT_EQ(parseSignalSpec("10").signal, 10);
  EXPECT_EQ(signalName(SIGUSR2), "USR2");
  EXPECT_THROW(parseSignalSpec("NOPE"), UsageError);
  EXPECT_THROW(parseSignalSpec("USR1@x"), UsageError);
}

TEST(Values, DurationsAsSqueuePrintsThem) {
  EXPECT_EQ(formatDuration(5), "0:05");
  EXPECT_EQ(formatDuration(3723), "1:02:03");
  EXPECT_EQ(formatDuration(90061), "1-01:01:01");
}

TEST(Patterns, OutputFileNames) {
  JobRecord j;
  j.id = 42;
  j.name = "train";
  j.user = "ana";
  j.allocation = {{"node3", 2}};
  EXPECT_EQ(expandPattern("%x-%j.out", j), "train-42.out");
  EXPECT_EQ(expandPattern("%u/%N/%5j%%", j), "ana/node3/00042%");
  j.arrayJobId = 40;
  j.arrayTaskId = 2;
  j.restarts = 1;
  EXPECT_EQ(expandPattern("%A_%a.r%r.%q", j), "40_2.r1.%q");
}

}  // namespace
}  // namespace ionet::jobscripts
