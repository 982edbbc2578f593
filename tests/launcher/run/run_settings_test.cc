// ionet-run's own environment variables: defaults, good values, and a usage error naming the
// variable for every bad one (never a silent default).
#include "run/run_settings.h"

#include <gtest/gtest.h>

#include "usage_error.h"

namespace ionet::launcher {
namespace {

TEST(RunSettings, DefaultsWithoutVariables) {
  const RunSettings s = runSettingsFromEnvironment({"PATH=/usr/bin"});
  EXPECT_EQ(s.killGraceMs, 500u);
  EXPECT_TRUE(s.dataPath);
  EXPECT_EQ(s.treeFanout, 32u);
}

TEST(RunSettings, ValuesInRangeAreTaken) {
  const RunSettings s = runSettingsFromEnvironment(
      {"IONET_KILL_GRACE_MS=2500", "IONET_DATA_PATH=direct", "IONET_TREE_FANOUT=0"});
  EXPECT_EQ(s.killGraceMs, 2500u);
  EXPECT_FALSE(s.dataPath);
  EXPECT_EQ(s.treeFanout, 0u);
  EXPECT_TRUE(runSettingsFromEnvironment({"IONET_DATA_PATH=ionet"}).dataPath);
  EXPECT_EQ(runSettingsFromEnvironment({"IONET_TREE_FANOUT=65536"}).treeFanout, 65536u);
}

TEST(RunSettings, MetricsStatusDirectoryAndJobLabel) {
  const RunSettings none = runSettingsFromEnvironment({"IONET_RUN_METRICS_LISTEN="});
  EXPECT_FALSE(none.metricsListen);
  EXPECT_EQ(none.statusDir, "");
  EXPECT_EQ(none.jobLabel, "");
  const RunSettings s = runSettingsFromEnvironment(
      {"IONET_RUN_METRICS_LISTEN=9464", "IONET_STATUS_DIR=/run/ionet/7", "SLURM_JOB_ID=55"});
  ASSERT_TRUE(s.metricsListen);
  EXPECT_EQ(s.metricsListen->host, "127.0.0.1");
  EXPECT_EQ(s.metricsListen->port, 9464);
  EXPECT_EQ(s.statusDir, "/run/ionet/7");
  EXPECT_EQ(s.jobLabel, "55");
  // An ionet-batch job's id wins over the Slurm job it may run in.
  EXPECT_EQ(runSettingsFromEnvironment({"SLURM_JOB_ID=55", "IONET_JOB_ID=9"}).jobLabel, "9");
  const std::string message =
      usageError([] { runSettingsFromEnvironment({"IONET_RUN_METRICS_LISTEN=host:99999"}); });
  EXPECT_EQ(message.rfind("IONET_RUN_METRICS_LISTEN: ", 0), 0u) << message;
}

TEST(RunSettings, BadValuesAreUsageErrorsNamingTheVariable) {
  for (const char* bad : {"IONET_KILL_GRACE_MS=0", "IONET_KILL_GRACE_MS=600001",
                          "IONET_KILL_GRACE_MS=", "IONET_KILL_GRACE_MS=5s",
                          "IONET_KILL_GRACE_MS=99999999999999999999", "IONET_TREE_FANOUT=-1",
                          "IONET_TREE_FANOUT=65537", "IONET_TREE_FANOUT=four",
                          "IONET_DATA_PATH=tcp", "IONET_DATA_PATH="}) {
    const std::string assignment = bad;
    const std::string message = usageError([&] { runSettingsFromEnvironment({assignment}); });
    EXPECT_EQ(message.rfind(assignment + ": expected ", 0), 0u) << message;
  }
}

TEST(RunSettings, IonetPoolNamesThePoolOnlyWhenNothingElseDoes) {
  JobSpec spec;
  poolFromEnvironment(spec, {"IONET_POOL=/etc/ionet/pool.toml"});
  EXPECT_EQ(spec.poolFile, "/etc/ionet/pool.toml");

  JobSpec given;
  given.poolFile = "mine.toml";
  poolFromEnvironment(given, {"IONET_POOL=/etc/ionet/pool.toml"});
  EXPECT_EQ(given.poolFile, "mine.toml");

  JobSpec emulated;
  emulated.localHosts = 2;
  poolFromEnvironment(emulated, {"IONET_POOL=/etc/ionet/pool.toml"});
  EXPECT_EQ(emulated.poolFile, "");

  JobSpec empty;
  poolFromEnvironment(empty, {"IONET_POOL="});
  EXPECT_EQ(empty.poolFile, "");
}

}  // namespace
}  // namespace ionet::launcher
