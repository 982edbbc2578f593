// parseCommandLine: mpirun's spellings, where the program starts, and what is refused.
#include "run/cli.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ionet/error.h"

namespace ionet::launcher {
namespace {

using Args = std::vector<std::string>;
using Pairs = std::vector<std::pair<std::string, std::string>>;

JobSpec parse(const Args& args, const Args& env = {}) {
  auto cmd = parseCommandLine(args, env);
  EXPECT_FALSE(cmd.exitNow);
  return cmd.spec;
}

// The UsageError message for args; fails the test when they parse.
std::string usageError(const Args& args, const Args& env = {}) {
  try {
    parseCommandLine(args, env);
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no UsageError";
  return {};
}

TEST(CommandLine, RankCountSpellings) {
  EXPECT_EQ(parse({"-np", "4", "prog"}).np, 4u);
  EXPECT_EQ(parse({"--np", "5", "prog"}).np, 5u);
  EXPECT_EQ(parse({"-n", "6", "prog"}).np, 6u);
  EXPECT_EQ(parse({"-c", "7", "prog"}).np, 7u);
  EXPECT_EQ(parse({"--np=8", "prog"}).np, 8u);
  EXPECT_FALSE(parse({"prog"}).np.has_value());
}

TEST(CommandLine, MpirunSingleDashLongNames) {
  auto s = parse({"-host", "a,b:2", "-mca", "btl", "self,tcp", "-wdir", "/work", "-hostfile",
                  "hosts.txt", "prog"});
  EXPECT_EQ(s.hostLists, Args{"a,b:2"});
  EXPECT_EQ(s.mca, (Pairs{{"btl", "self,tcp"}}));
  EXPECT_EQ(s.workDir, "/work");
  EXPECT_EQ(s.hostfile, "hosts.txt");
  EXPECT_EQ(s.argv, Args{"prog"});
}

TEST(CommandLine, EqualsForm) {
  auto s = parse({"--host=a,b", "--wdir=/tmp/w", "--map-by=node", "--timeout=30", "prog"});
  EXPECT_EQ(s.hostLists, Args{"a,b"});
  EXPECT_EQ(s.workDir, "/tmp/w");
  EXPECT_EQ(s.mapBy, MapBy::kNode);
  EXPECT_EQ(s.timeoutSeconds, 30u);
}

TEST(CommandLine, HostRepeatedKeepsEveryValue) {
  auto s = parse({"-H", "a", "--host", "b:2", "-host", "c", "prog"});
  EXPECT_EQ(s.hostLists, (Args{"a", "b:2", "c"}));
}

TEST(CommandLine, ProgramArgumentsThatLookLikeOptionsBelongToTheProgram) {
  auto s = parse({"-np", "2", "./prog", "-np", "3", "--foo", "-x", "Y"});
  EXPECT_EQ(s.np, 2u);
  EXPECT_EQ(s.argv, (Args{"./prog", "-np", "3", "--foo", "-x", "Y"}));
  EXPECT_TRUE(s.exports.empty());

  // Even --help after the program is the program's.
  auto cmd = parseCommandLine({"./prog", "--help"}, {});
  EXPECT_FALSE(cmd.exitNow);
  EXPECT_EQ(cmd.spec.argv, (Args{"./prog", "--help"}));
}

TEST(CommandLine, DoubleDashEndsOptions) {
  auto s = parse({"-np", "2", "--", "-weird-name", "--np", "9"});
  EXPECT_EQ(s.np, 2u);
  EXPECT_EQ(s.argv, (Args{"-weird-name", "--np", "9"}));
}

TEST(CommandLine, ExportWithValueAndFromEnvironment) {
  const Args env = {"PATH=/bin", "FOO=from-env", "FOOBAR=other", "EMPTY="};
  auto s =
      parse({"-x", "BAZ=1", "-x", "FOO", "-x", "ABSENT", "-x", "EMPTY", "-x", "FO", "prog"}, env);
  // ABSENT and FO (a prefix of FOO only) are not in the environment: skipped, as mpirun does.
  EXPECT_EQ(s.exports, (Args{"BAZ=1", "FOO=from-env", "EMPTY="}));
}

TEST(CommandLine, ExportWithoutNameRejected) {
  EXPECT_NE(usageError({"-x", "=v", "prog"}).find("missing variable name"), std::string::npos);
}

TEST(CommandLine, McaTwiceKeepsBothInOrder) {
  auto s = parse({"--mca", "btl", "self,vader", "--mca", "pml", "ob1", "-mca", "x", "y", "prog"});
  EXPECT_EQ(s.mca, (Pairs{{"btl", "self,vader"}, {"pml", "ob1"}, {"x", "y"}}));
}

TEST(CommandLine, MapBy) {
  auto slot = parse({"--map-by", "slot", "prog"});
  EXPECT_EQ(slot.mapBy, MapBy::kSlot);
  EXPECT_FALSE(slot.oversubscribe.has_value());
  EXPECT_FALSE(slot.perHost.has_value());

  EXPECT_EQ(parse({"--map-by", "node", "prog"}).mapBy, MapBy::kNode);
  EXPECT_EQ(parse({"prog"}).mapBy, MapBy::kSlot);

  auto ppr = parse({"--map-by", "ppr:2:node", "prog"});
  EXPECT_EQ(ppr.mapBy, MapBy::kSlot);
  EXPECT_EQ(ppr.perHost, 2u);

  auto over = parse({"--map-by", "node:OVERSUBSCRIBE", "prog"});
  EXPECT_EQ(over.mapBy, MapBy::kNode);
  EXPECT_EQ(over.oversubscribe, true);

  auto noOver = parse({"--map-by", "slot:NOOVERSUBSCRIBE", "prog"});
  EXPECT_EQ(noOver.oversubscribe, false);
}

TEST(CommandLine, MapByUnsupportedPolicies) {
  for (const char* value : {"core", "socket", "ppr:2:socket", "ppr:0:node", "node:PE=2"}) {
    const auto msg = usageError({"--map-by", value, "prog"});
    EXPECT_NE(msg.find("--map-by"), std::string::npos) << value << ": " << msg;
  }
}

TEST(CommandLine, PerHost) {
  EXPECT_EQ(parse({"-N", "2", "prog"}).perHost, 2u);
  EXPECT_EQ(parse({"--npernode", "3", "prog"}).perHost, 3u);
  EXPECT_EQ(parse({"-npernode", "3", "prog"}).perHost, 3u);
  EXPECT_EQ(parse({"--pernode", "prog"}).perHost, 1u);
  EXPECT_EQ(parse({"-pernode", "prog"}).perHost, 1u);
  EXPECT_NE(usageError({"-N", "0", "prog"}).find("-N"), std::string::npos);
}

TEST(CommandLine, Oversubscribe) {
  EXPECT_EQ(parse({"--oversubscribe", "prog"}).oversubscribe, true);
  EXPECT_EQ(parse({"--nooversubscribe", "prog"}).oversubscribe, false);
  EXPECT_FALSE(parse({"prog"}).oversubscribe.has_value());
  EXPECT_NE(usageError({"--oversubscribe", "--nooversubscribe", "prog"}).find("contradict"),
            std::string::npos);
}

TEST(CommandLine, HostfileAndMachinefile) {
  EXPECT_EQ(parse({"--hostfile", "h1", "prog"}).hostfile, "h1");
  EXPECT_EQ(parse({"--machinefile", "h2", "prog"}).hostfile, "h2");
  EXPECT_EQ(parse({"-machinefile", "h3", "prog"}).hostfile, "h3");
  EXPECT_NE(usageError({"--hostfile", "a", "--machinefile", "b", "prog"}).find("not both"),
            std::string::npos);
}

TEST(CommandLine, OutputAndMiscOptions) {
  auto s = parse({"--tag-output", "--timestamp-output", "--merge-stderr-to-stdout", "-q",
                  "--output-filename", "/tmp/out", "--local-hosts", "3", "--timeout", "12",
                  "--allow-run-as-root", "prog"});
  EXPECT_TRUE(s.tagOutput);
  EXPECT_TRUE(s.timestampOutput);
  EXPECT_TRUE(s.mergeStderrToStdout);
  EXPECT_TRUE(s.quiet);
  EXPECT_EQ(s.outputDir, "/tmp/out");
  EXPECT_EQ(s.localHosts, 3u);
  EXPECT_EQ(s.timeoutSeconds, 12u);

  auto plain = parse({"prog"});
  EXPECT_FALSE(plain.tagOutput);
  EXPECT_FALSE(plain.localHosts.has_value());
  EXPECT_EQ(plain.timeoutSeconds, 0u);
}

TEST(CommandLine, BindToNoneOnly) {
  EXPECT_EQ(parse({"--bind-to", "none", "prog"}).argv, Args{"prog"});
  const auto msg = usageError({"--bind-to", "core", "prog"});
  EXPECT_NE(msg.find("--bind-to core"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not supported"), std::string::npos) << msg;
}

TEST(CommandLine, UnsupportedMpirunOptionsRefusedByName) {
  for (const Args& args : {Args{"--rank-by", "core", "prog"}, Args{"--display-map", "prog"},
                           Args{"-tv", "prog"}, Args{"--report-bindings", "prog"},
                           Args{"-rf", "ranks.txt", "prog"}, Args{"-display-map", "prog"}}) {
    const auto msg = usageError(args);
    EXPECT_NE(msg.find("not supported"), std::string::npos) << args[0] << ": " << msg;
    EXPECT_NE(msg.find(args[0]), std::string::npos) << args[0] << ": " << msg;
  }
}

TEST(CommandLine, UnknownOptionRejected) {
  for (const char* option : {"--frobnicate", "-z", "-frobnicate"}) {
    const auto msg = usageError({option, "prog"});
    EXPECT_NE(msg.find("unknown option"), std::string::npos) << msg;
    EXPECT_NE(msg.find(option), std::string::npos) << msg;
  }
}

TEST(CommandLine, MissingProgram) {
  EXPECT_NE(usageError({"-np", "2"}).find("no program"), std::string::npos);
  EXPECT_NE(usageError({}).find("no program"), std::string::npos);
  EXPECT_NE(usageError({"-np", "2", "--"}).find("no program"), std::string::npos);
}

TEST(CommandLine, MissingOptionValue) {
  const auto msg = usageError({"-np"});
  EXPECT_NE(msg.find("np"), std::string::npos) << msg;
  EXPECT_NE(msg.find("needs a value"), std::string::npos) << msg;
  EXPECT_NE(usageError({"--mca", "btl"}).find("needs a value"), std::string::npos);
}

TEST(CommandLine, BadNumberRejected) {
  EXPECT_NE(usageError({"-np", "many", "prog"}).find("many"), std::string::npos);
}

TEST(CommandLine, MetricsListenOverridesTheVariable) {
  auto cmd = parseCommandLine({"--metrics-listen", ":0", "prog"},
                              {"IONET_RUN_METRICS_LISTEN=0.0.0.0:9464"});
  ASSERT_TRUE(cmd.settings.metricsListen);
  EXPECT_EQ(cmd.settings.metricsListen->host, "127.0.0.1");
  EXPECT_EQ(cmd.settings.metricsListen->port, 0);
  cmd = parseCommandLine({"-metrics-listen", "[::1]:9100", "prog"}, {});
  EXPECT_EQ(cmd.settings.metricsListen->host, "::1");
  EXPECT_EQ(cmd.settings.metricsListen->port, 9100);
  cmd = parseCommandLine({"prog"}, {"IONET_RUN_METRICS_LISTEN=0.0.0.0:9464"});
  ASSERT_TRUE(cmd.settings.metricsListen);
  EXPECT_EQ(cmd.settings.metricsListen->host, "0.0.0.0");
  EXPECT_FALSE(parseCommandLine({"prog"}, {}).settings.metricsListen);
  const std::string message = usageError({"--metrics-listen", "host:http", "prog"});
  EXPECT_EQ(message.rfind("--metrics-listen: ", 0), 0u) << message;
}

TEST(CommandLine, HelpAndVersionExitNow) {
  for (const char* flag : {"--help", "-h"}) {
    auto cmd = parseCommandLine({flag}, {});
    EXPECT_TRUE(cmd.exitNow) << flag;
    EXPECT_NE(cmd.message.find("--np"), std::string::npos) << flag;
    EXPECT_NE(cmd.message.find("--map-by"), std::string::npos) << flag;
  }
  for (const char* flag : {"--version", "-V"}) {
    auto cmd = parseCommandLine({flag}, {});
    EXPECT_TRUE(cmd.exitNow) << flag;
    EXPECT_NE(cmd.message.find("ionet-run"), std::string::npos) << flag;
    EXPECT_NE(cmd.message.find(IONET_VERSION), std::string::npos) << flag;
  }
}

TEST(CommandLine, PoolAndGpuOptions) {
  auto s = parse({"--pool", "lab.toml", "--gpus-per-rank", "2", "--gpu-model", "H100",
                  "--gpu-min-mem", "80GiB", "prog"});
  EXPECT_EQ(s.poolFile, "lab.toml");
  EXPECT_EQ(s.gpusPerRank, 2u);
  EXPECT_EQ(s.gpuModel, "H100");
  EXPECT_EQ(s.gpuMinMemoryBytes, 80ull << 30);
  auto d = parse({"prog"});
  EXPECT_EQ(d.poolFile, "");
  EXPECT_EQ(d.gpusPerRank, 0u);
  EXPECT_EQ(d.gpuModel, "");
  EXPECT_EQ(d.gpuMinMemoryBytes, 0u);
  EXPECT_EQ(parse({"-pool", "hosts.txt", "-gpus-per-rank", "1", "prog"}).poolFile, "hosts.txt");
}

TEST(CommandLine, GpuMinMemSizes) {
  const std::vector<std::pair<std::string, std::uint64_t>> sizes = {{"40G", 40'000'000'000},
                                                                    {"40GB", 40'000'000'000},
                                                                    {"40g", 40'000'000'000},
                                                                    {"80GiB", 80ull << 30},
                                                                    {"80gi", 80ull << 30},
                                                                    {"24000M", 24'000'000'000},
                                                                    {"512MiB", 512ull << 20},
                                                                    {"1T", 1'000'000'000'000},
                                                                    {"2TiB", 2ull << 40},
                                                                    {"1048576", 1048576},
                                                                    {"7k", 7000},
                                                                    {"3KiB", 3072}};
  for (const auto& [text, bytes] : sizes) {
    EXPECT_EQ(parse({"--gpus-per-rank", "1", "--gpu-min-mem", text, "prog"}).gpuMinMemoryBytes,
              bytes)
        << text;
  }
  for (const char* bad : {"", "G", "40X", "40 G", "-1G", "1.5G", "40GiBs", "99999999999T"}) {
    const auto msg = usageError({"--gpus-per-rank", "1", "--gpu-min-mem", bad, "prog"});
    EXPECT_NE(msg.find("--gpu-min-mem"), std::string::npos) << bad << ": " << msg;
  }
}

TEST(CommandLine, GpuMinTflopsIsAPositiveRate) {
  EXPECT_DOUBLE_EQ(
      parse({"--gpus-per-rank", "1", "--gpu-min-tflops", "150.5", "prog"}).gpuMinTflops, 150.5);
  EXPECT_NE(usageError({"--gpu-min-tflops", "100", "prog"}).find("--gpu-min-tflops selects GPUs"),
            std::string::npos);
  EXPECT_NE(usageError({"--gpus-per-rank", "1", "--gpu-min-tflops", "-3", "prog"})
                .find("--gpu-min-tflops"),
            std::string::npos);
}

TEST(CommandLine, GpuFiltersNeedGpusPerRank) {
  EXPECT_NE(usageError({"--gpu-model", "H100", "prog"}).find("--gpu-model selects GPUs"),
            std::string::npos);
  EXPECT_NE(usageError({"--gpu-min-mem", "40G", "prog"}).find("needs --gpus-per-rank"),
            std::string::npos);
  EXPECT_NE(usageError({"--gpus-per-rank", "0", "--gpu-model", "H100", "prog"}).find("--gpu-model"),
            std::string::npos);
}

TEST(CommandLine, PoolAndLocalHostsExcludeEachOther) {
  const auto msg = usageError({"--pool", "lab.toml", "--local-hosts", "2", "prog"});
  EXPECT_NE(msg.find("--pool and --local-hosts"), std::string::npos) << msg;
}

TEST(CommandLine, RestartOptions) {
  const JobSpec s = parse({"--checkpoint-dir", "ck/../ck2", "--max-restarts", "3", "--spare-hosts",
                           "1", "--min-hosts", "2", "--restart-delay", "0.5", "prog"});
  EXPECT_EQ(s.restart.checkpointDir, (std::filesystem::current_path() / "ck2").string());
  EXPECT_EQ(s.restart.maxRestarts, 3u);
  EXPECT_EQ(s.restart.spareHosts, 1u);
  EXPECT_EQ(s.restart.minHosts, 2u);
  EXPECT_EQ(s.restart.restartDelaySeconds, 0.5);
  const JobSpec d = parse({"prog"});
  EXPECT_EQ(d.restart.maxRestarts, 0u);
  EXPECT_FALSE(d.restart.minHosts.has_value());
  EXPECT_TRUE(d.restart.checkpointDir.empty());
  EXPECT_EQ(usageError({"--min-hosts", "0", "prog"}), "--min-hosts must be at least 1");
  EXPECT_EQ(usageError({"--restart-delay", "-1", "prog"}),
            "--restart-delay must be between 0 and 3600 seconds");
  EXPECT_EQ(usageError({"--host-cooldown", "-5", "prog"}),
            "--host-cooldown must be between 0 and 86400 seconds");
  EXPECT_EQ(parse({"--host-cooldown", "60", "prog"}).restart.hostCooldownSeconds, 60);
  EXPECT_EQ(parse({"prog"}).restart.hostCooldownSeconds, 300);
  EXPECT_NE(usageError({"--max-restarts", "x", "prog"}).find("--max-restarts"), std::string::npos);
}

TEST(CommandLine, InsideABatchJobTheAllocationIsTheDefault) {
  const Args job = {"IONET_JOB_ID=7",
                    "IONET_ALLOCATION=node0:2,node2:2",
                    "IONET_ALLOCATION_KIND=emulated",
                    "IONET_CHECKPOINT_DIR=/tmp/ck",
                    "IONET_MAX_RESTARTS=2",
                    "IONET_GPUS_PER_TASK=1"};
  auto s = parse({"./prog"}, job);
  EXPECT_EQ(s.gpusPerRank, 1u);
  EXPECT_EQ(s.localHosts, 2u);
  EXPECT_EQ(s.hostLists, (Args{"node0:2,node2:2"}));
  EXPECT_EQ(s.restart.checkpointDir, "/tmp/ck");
  EXPECT_EQ(s.restart.maxRestarts, 2u);
  // Hosts and options given on the command line win.
  auto own = parse({"-H", "localhost:1", "--max-restarts", "0", "./prog"}, job);
  EXPECT_EQ(own.hostLists, (Args{"localhost:1"}));
  EXPECT_FALSE(own.localHosts);
  EXPECT_EQ(own.restart.maxRestarts, 0u);
  EXPECT_FALSE(s.allocatedGpus);  // emulated hosts have no GPUs to hold
  auto local =
      parse({"./prog"}, {"IONET_JOB_ID=7", "IONET_ALLOCATION=vm:3", "IONET_ALLOCATION_KIND=local"});
  EXPECT_EQ(local.hostLists, (Args{"localhost:3"}));
  // On a pool the GPUs the queue gave the job come along, per host; a host without any holds
  // none (the job may not take another job's GPUs there).
  auto pool = parse({"./prog"}, {"IONET_JOB_ID=7", "IONET_ALLOCATION=h1:2:gpus=0+1,h2:1",
                                 "IONET_ALLOCATION_KIND=pool", "IONET_POOL=/etc/pool.toml"});
  EXPECT_EQ(pool.hostLists, (Args{"h1:2,h2:1"}));
  EXPECT_EQ(pool.poolFile, "/etc/pool.toml");
  ASSERT_TRUE(pool.allocatedGpus);
  EXPECT_EQ(*pool.allocatedGpus,
            (std::map<std::string, std::vector<std::uint32_t>>{{"h1", {0, 1}}, {"h2", {}}}));
  // The job's --gpus-per-task stands for --gpus-per-rank: GPU selectors need nothing more.
  auto model = parse({"--gpu-model", "H100", "./prog"},
                     {"IONET_JOB_ID=7", "IONET_ALLOCATION=h1:2:gpus=0+1",
                      "IONET_ALLOCATION_KIND=pool", "IONET_POOL=/p", "IONET_GPUS_PER_TASK=1"});
  EXPECT_EQ(model.gpuModel, "H100");
  EXPECT_EQ(model.gpusPerRank, 1u);
  EXPECT_NE(usageError({"./prog"}, {"IONET_JOB_ID=7", "IONET_ALLOCATION=h1:2:gpus=x",
                                    "IONET_ALLOCATION_KIND=pool", "IONET_POOL=/p"})
                .find("'h1:2:gpus=x'"),
            std::string::npos);
  // Outside a job the same variables mean nothing to ionet-run.
  EXPECT_TRUE(parse({"./prog"}, {"IONET_ALLOCATION=node0:2"}).hostLists.empty());
  EXPECT_EQ(usageError({"./prog"}, {"IONET_JOB_ID=7", "IONET_MAX_RESTARTS=x"}),
            "IONET_MAX_RESTARTS=x: expected a number");
}

}  // namespace
}  // namespace ionet::launcher
