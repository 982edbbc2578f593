#include "ionet/jobscripts/web_view.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "ionet/error.h"
#include "ionet/jobscripts/web_server.h"
#include "promtool.h"

namespace ionet::jobscripts {
namespace {

using nlohmann::json;

JobRecord job(std::int64_t id, JobState state) {
  JobRecord j;
  j.id = id;
  j.name = "train";
  j.user = "ana";
  j.state = state;
  j.submitTime = 100;
  j.environment = {"SECRET_TOKEN=abc"};
  j.args = {"--password", "hunter2"};
  if (state != JobState::kPending) {
    j.startTime = 110;
    j.allocation = {{"h1", 2}, {"h2", 2}};
  }
  return j;
}

json run(double updated, json links, json restarts = json::array()) {
  return {{"pid", 7},
          {"job", "1"},
          {"updated", updated},
          {"state", "running"},
          {"hosts", json::parse(R"([{"name":"h1","up":true,"ranks":[0,1],"ranks_total":2},
                                    {"name":"h2","up":true,"ranks":[2,3],"ranks_total":2}])")},
          {"links", links},
          {"restarts", restarts},
          {"resume_step", 40}};
}

json link(const char* from, const char* to, double rate, double rtt) {
  return {{"from", from},
          {"to", to},
          {"rtt_ms", rtt},
          {"send_bytes_per_second", rate},
          {"receive_bytes_per_second", rate / 2},
          {"bytes_sent", 1000},
          {"bytes_received", 500},
          {"retransmitted_bytes", 0},
          {"duplicate_bytes", 0},
          {"reconnects", 1},
          {"resumes", 0},
          {"links_up", 2},
          {"streams", 2}};
}

WebInputs inputs() {
  WebInputs in;
  in.pool = "lab";
  in.now = 200;
  observe::WatchedHost h1, h2, h3;
  h1.name = "h1";
  h1.up = true;
  h1.gpus = {{0, "H100", 80ull << 30, true, "", 700}, {1, "H100", 80ull << 30, true, "ECC", 0}};
  h2.name = "h2";
  h2.up = true;
  h3.name = "h3";
  h3.why = "connection refused";
  in.hosts = {h1, h2, h3};
  in.jobs = {job(1, JobState::kRunning), job(2, JobState::kPending), job(3, JobState::kCompleted)};
  in.jobs[1].reason = "Resources";
  in.jobs[0].restarts = 1;
  in.runs[1] = {run(150, json::array({link("h1", "h2", 1e6, 20)})),
                run(199, json::array({link("h1", "h2", 2e6, 30), link("h2", "h1", 3e6, 31)}),
                    json::array({{{"at", 190.0},
                                  {"cause", "host h3 was lost"},
                                  {"kind", "host_lost"},
                                  {"resume_step", 40}}}))};
  return in;
}

TEST(WebView, HostsCarryTheirGpusHealthAndWhyTheyAreDown) {
  LinkHistory history;
  const auto s = buildWebSnapshot(inputs(), history);
  ASSERT_EQ(s.hosts["hosts"].size(), 3u);
  EXPECT_EQ(s.hosts["pool"], "lab");
  EXPECT_EQ(s.hosts["hosts"][0]["gpus"][0]["healthy"], true);
  EXPECT_EQ(s.hosts["hosts"][0]["gpus"][1]["healthy"], false);
  EXPECT_EQ(s.hosts["hosts"][0]["gpus"][1]["health_failure"], "ECC");
  EXPECT_EQ(s.hosts["hosts"][2]["up"], false);
  EXPECT_EQ(s.hosts["hosts"][2]["why"], "connection refused");
}

TEST(WebView, ARunningJobShowsItsNewestRunsPlacementAndEveryRestart) {
  LinkHistory history;
  const auto s = buildWebSnapshot(inputs(), history);
  const auto& jobs = s.jobs["jobs"];
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0]["id"], "2");  // newest first
  EXPECT_EQ(jobs[0]["reason"], "Resources");
  const auto& running = jobs[1];  // then job 1, then the ended job 3
  EXPECT_EQ(running["id"], "1");
  EXPECT_EQ(running["placement"][1]["host"], "h2");
  EXPECT_EQ(running["placement"][1]["ranks"], json::parse("[2,3]"));
  EXPECT_EQ(running["resume_step"], 40);
  ASSERT_EQ(s.jobs["events"].size(), 2u);
  EXPECT_EQ(s.jobs["events"][0]["kind"], "restart");
  EXPECT_EQ(s.jobs["events"][0]["cause"], "host h3 was lost");
  EXPECT_EQ(s.jobs["events"][1]["kind"], "requeue");
}

TEST(WebView, APendingJobShowsItsAllocationOrNothing) {
  LinkHistory history;
  auto in = inputs();
  in.runs.clear();
  const auto s = buildWebSnapshot(in, history);
  for (const auto& j : s.jobs["jobs"]) {
    if (j["id"] == "1") {
      EXPECT_EQ(j["placement"][0]["ranks_total"], 2);
    } else if (j["id"] == "2") {
      EXPECT_TRUE(j["placement"].empty());
    }
  }
}

TEST(WebView, LinksComeFromTheNewestReportAndKeepAHistory) {
  LinkHistory history;
  auto in = inputs();
  auto s = buildWebSnapshot(in, history);
  ASSERT_EQ(s.links["links"].size(), 2u);
  EXPECT_EQ(s.links["hosts"], json::parse(R"(["h1","h2","h3"])"));
  const auto& l = s.links["links"][0];
  EXPECT_EQ(l["from"], "h1");
  EXPECT_EQ(l["send_bytes_per_second"], 2e6);
  EXPECT_EQ(l["rtt_ms"], 30.0);
  EXPECT_EQ(l["active"], true);
  EXPECT_EQ(l["history"].size(), 1u);
  // The same report read again adds nothing; a newer one adds a sample.
  s = buildWebSnapshot(in, history);
  EXPECT_EQ(s.links["links"][0]["history"].size(), 1u);
  in.runs[1].back()["updated"] = 201.0;
  s = buildWebSnapshot(in, history);
  EXPECT_EQ(s.links["links"][0]["history"].size(), 2u);
  // The job ends: the pair stays on the chart, idle.
  in.jobs[0].state = JobState::kCompleted;
  s = buildWebSnapshot(in, history);
  ASSERT_EQ(s.links["links"].size(), 2u);
  EXPECT_EQ(s.links["links"][0]["active"], false);
  EXPECT_EQ(s.links["links"][0]["history"].size(), 2u);
}

TEST(WebView, TwoJobsOnOnePairAreSummed) {
  LinkHistory history;
  auto in = inputs();
  in.jobs.push_back(job(4, JobState::kRunning));
  in.runs[4] = {run(199, json::array({link("h1", "h2", 5e6, 50)}))};
  const auto s = buildWebSnapshot(in, history);
  const auto& l = s.links["links"][0];
  EXPECT_EQ(l["send_bytes_per_second"], 7e6);
  EXPECT_EQ(l["rtt_ms"], 50.0);
  EXPECT_EQ(l["jobs"].size(), 2u);
}

TEST(WebView, AStatusFileOfTheWrongShapeIsIgnoredNotFatal) {
  LinkHistory history;
  auto in = inputs();
  in.runs[1] = {json::parse(R"({"hosts": 3, "links": [{"from": 1}], "restarts": "x"})")};
  const auto s = buildWebSnapshot(in, history);
  EXPECT_TRUE(s.links["links"].empty());
}

TEST(WebView, NothingSecretIsShown) {
  LinkHistory history;
  const auto s = buildWebSnapshot(inputs(), history);
  for (const auto& text : {s.hosts.dump(), s.links.dump(), s.jobs.dump(), s.metrics}) {
    EXPECT_EQ(text.find("SECRET_TOKEN"), std::string::npos);
    EXPECT_EQ(text.find("hunter2"), std::string::npos);
  }
}

TEST(WebView, QueueMetricsCountJobsByStateAndReason) {
  LinkHistory history;
  const auto m = buildWebSnapshot(inputs(), history).metrics;
  EXPECT_NE(m.find("ionet_queue_jobs{pool=\"lab\",state=\"RUNNING\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("ionet_queue_pending_jobs{pool=\"lab\",reason=\"Resources\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.find("ionet_queue_jobs_completed_total{pool=\"lab\",state=\"COMPLETED\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.find("ionet_queue_requeues_total{pool=\"lab\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("ionet_queue_wait_seconds_bucket{pool=\"lab\",le=\"15\"} 2\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("ionet_queue_hosts_up{pool=\"lab\"} 2\n"), std::string::npos);
  EXPECT_EQ(test::promtoolCheck(m, ::testing::TempDir() + "/queue-metrics.txt"), "");
}

TEST(WebView, HostsOfAQueueWithoutPoolAgentsAreUpUnlessLost) {
  const auto hosts = queueHostsView({{"node0", 4, 1024, 1}, {"node1", 4, 0, 0}}, {{"node1", 1e12}});
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_TRUE(hosts[0].up);
  EXPECT_EQ(hosts[0].memoryBytes, 1024ull << 20);
  EXPECT_EQ(hosts[0].gpus.size(), 1u);
  EXPECT_FALSE(hosts[1].up);
}

// Where the daemon listens: its flag, else the variable, else the pool file, else loopback.
TEST(WebListen, FlagThenEnvironmentThenPoolFileThenLoopback) {
  const std::string dir = ::testing::TempDir() + "/weblisten";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/pool.toml") << "[pool]\nname = \"lab\"\npsk = \"x.psk\"\n"
                                    << "web_listen = \"0.0.0.0:9400\"\n\n"
                                    << "[[host]]\nname = \"h1\"\naddress = \"10.0.0.1\"\n";
  QueueDir q;
  q.path = dir;
  q.pool = dir + "/pool.toml";
  ::unsetenv("IONET_QUEUE_WEB_LISTEN");
  EXPECT_EQ(webListenAddress(q, "")->host, "0.0.0.0");
  EXPECT_EQ(webListenAddress(q, "")->port, 9400);
  ::setenv("IONET_QUEUE_WEB_LISTEN", "9401", 1);
  EXPECT_EQ(webListenAddress(q, "")->host, "127.0.0.1");
  EXPECT_EQ(webListenAddress(q, "")->port, 9401);
  EXPECT_EQ(webListenAddress(q, "9402")->port, 9402);
  ::setenv("IONET_QUEUE_WEB_LISTEN", "off", 1);
  EXPECT_FALSE(webListenAddress(q, "").has_value());
  ::setenv("IONET_QUEUE_WEB_LISTEN", "host:x", 1);
  try {
    webListenAddress(q, "");
    ADD_FAILURE() << "a bad address was taken";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("IONET_QUEUE_WEB_LISTEN: ", 0), 0u) << e.what();
  }
  ::unsetenv("IONET_QUEUE_WEB_LISTEN");
  q.pool.clear();
  EXPECT_EQ(webListenAddress(q, "")->host, "127.0.0.1");
  EXPECT_EQ(webListenAddress(q, "")->port, 0);
}

}  // namespace
}  // namespace ionet::jobscripts
