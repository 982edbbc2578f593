// The pool agent's /metrics: what a snapshot renders to (checked by promtool when it is
// installed), counters that do not drop when a job or a session ends, where the listener goes,
// and the endpoint serving it with the jobs' stats files read at scrape time.
#include "poold/pool_metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "http_probe.h"
#include "ionet/error.h"
#include "poold/pool_metrics_endpoint.h"
#include "promtool.h"
#include "usage_error.h"

namespace ionet::launcher {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

control::DataLinkStats dataLink(const std::string& host, std::uint64_t sent, std::uint64_t rttUs) {
  control::DataLinkStats l;
  l.set_host(host);
  l.set_bytes_sent(sent);
  l.set_bytes_received(sent / 2);
  l.set_rtt_us(rttUs);
  l.set_links_up(2);
  l.set_resumes(1);
  return l;
}

control::HostStats jobStats(unsigned ranks, std::vector<control::DataLinkStats> links) {
  control::HostStats s;
  s.set_ranks_running(ranks);
  for (auto& l : links) *s.add_links() = std::move(l);
  return s;
}

wan::SessionStats session(const std::string& peer, std::uint64_t sent, int rttMs) {
  wan::SessionStats s;
  s.peer = peer;
  s.bytesSent = sent;
  s.bytesReceived = 10;
  s.rtt = std::chrono::milliseconds(rttMs);
  s.linksUp = 1;
  s.reconnects = 3;
  return s;
}

PoolMetricsSnapshot sample() {
  PoolMetricsSnapshot s;
  s.host = "gpu1";
  s.site = "fra";
  s.startTime = 1700000000;
  s.resources.cores = 16;
  s.resources.memoryBytes = 64ull << 30;
  GpuInfo passed{0, "NVIDIA H100 80GB HBM3", "GPU-a", 80ull << 30, true, "", 612.5};
  GpuInfo failed{1, "NVIDIA H100 80GB HBM3", "GPU-b", 80ull << 30, true, "ECC errors", 0};
  GpuInfo unchecked{2, "NVIDIA L4", "GPU-c", 24ull << 30, false, "", 0};  // --no-gpu-check
  s.resources.gpus = {passed, failed, unchecked};
  s.jobs.push_back({"a1b2c3", "", jobStats(4, {dataLink("gpu2", 1000, 3000)})});
  s.jobs.push_back(
      {"d4e5f6", "", jobStats(2, {dataLink("gpu2", 500, 5000), dataLink("nat-box", 70, 9000)})});
  s.jobs.push_back({"0000aa", "", std::nullopt});  // its agent has not written yet
  s.sessions = {session("launcher", 400, 20), session("launcher", 100, 30)};
  s.ended[{"control", "launcher"}].sent = 5000;
  s.ended[{"data", "gpu3"}].sent = 123;  // a job that ended
  s.relay = wan::RelayStats{7, 1 << 20, 2, 1};
  return s;
}

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(PoolMetrics, HostGpusJobsSessionsAndRelay) {
  const std::string t = poolMetrics(sample()).render();
  for (const char* line : {
           "ionet_agent_up{host=\"gpu1\"} 1",
           "ionet_agent_start_time_seconds{host=\"gpu1\"} 1700000000",
           "ionet_host_info{host=\"gpu1\",site=\"fra\"} 1",
           "ionet_host_cores{host=\"gpu1\"} 16",
           "ionet_host_memory_bytes{host=\"gpu1\"} 68719476736",
           "ionet_host_gpus_offered{host=\"gpu1\"} 2",
           "ionet_gpu_memory_bytes{host=\"gpu1\",gpu=\"0\",model=\"NVIDIA H100 80GB HBM3\"} "
           "85899345920",
           "ionet_gpu_healthy{host=\"gpu1\",gpu=\"0\",model=\"NVIDIA H100 80GB HBM3\"} 1",
           "ionet_gpu_healthy{host=\"gpu1\",gpu=\"1\",model=\"NVIDIA H100 80GB HBM3\"} 0",
           "ionet_gpu_checked{host=\"gpu1\",gpu=\"1\",model=\"NVIDIA H100 80GB HBM3\"} 1",
           "ionet_gpu_healthy{host=\"gpu1\",gpu=\"2\",model=\"NVIDIA L4\"} 1",
           "ionet_gpu_checked{host=\"gpu1\",gpu=\"2\",model=\"NVIDIA L4\"} 0",
           "ionet_gpu_tflops{host=\"gpu1\",gpu=\"0\",model=\"NVIDIA H100 80GB HBM3\"} 612.5",
           "ionet_host_jobs_running{host=\"gpu1\"} 3",
           "ionet_host_job_ranks_running{host=\"gpu1\",job=\"a1b2c3\"} 4",
           "ionet_host_job_ranks_running{host=\"gpu1\",job=\"d4e5f6\"} 2",
           "ionet_host_job_ranks_running{host=\"gpu1\",job=\"0000aa\"} 0",
           // Two sessions with one peer: summed, the larger round trip.
           "ionet_session_rtt_seconds{host=\"gpu1\",peer=\"launcher\",kind=\"control\"} 0.03",
           "ionet_session_sent_bytes_total{host=\"gpu1\",peer=\"launcher\",kind=\"control\"} 5500",
           "ionet_session_reconnects_total{host=\"gpu1\",peer=\"launcher\",kind=\"control\"} 6",
           "ionet_session_links_up{host=\"gpu1\",peer=\"launcher\",kind=\"control\"} 2",
           // Two jobs' sessions to gpu2: one row.
           "ionet_session_rtt_seconds{host=\"gpu1\",peer=\"gpu2\",kind=\"data\"} 0.005",
           "ionet_session_sent_bytes_total{host=\"gpu1\",peer=\"gpu2\",kind=\"data\"} 1500",
           "ionet_session_received_bytes_total{host=\"gpu1\",peer=\"gpu2\",kind=\"data\"} 750",
           "ionet_session_resumes_total{host=\"gpu1\",peer=\"gpu2\",kind=\"data\"} 2",
           "ionet_session_links_up{host=\"gpu1\",peer=\"gpu2\",kind=\"data\"} 4",
           "ionet_session_sent_bytes_total{host=\"gpu1\",peer=\"nat-box\",kind=\"data\"} 70",
           // Only ended sessions to gpu3: its totals stay, nothing is live.
           "ionet_session_sent_bytes_total{host=\"gpu1\",peer=\"gpu3\",kind=\"data\"} 123",
           "ionet_session_links_up{host=\"gpu1\",peer=\"gpu3\",kind=\"data\"} 0",
           "ionet_relay_pairs_total{host=\"gpu1\"} 7",
           "ionet_relay_forwarded_bytes_total{host=\"gpu1\"} 1048576",
           "ionet_relay_parked_connections{host=\"gpu1\"} 2",
           "ionet_relay_refused_total{host=\"gpu1\"} 1",
       }) {
    EXPECT_TRUE(has(t, line)) << line << "\nin:\n" << t;
  }
  EXPECT_EQ(t.find("ionet_gpu_tflops{host=\"gpu1\",gpu=\"2\""), std::string::npos) << t;
  // A failed GPU still shows what the check measured (a slow one fails on its rate).
  EXPECT_TRUE(
      has(t, "ionet_gpu_tflops{host=\"gpu1\",gpu=\"1\",model=\"NVIDIA H100 80GB HBM3\"} 0"));
  EXPECT_EQ(t.find("ionet_session_rtt_seconds{host=\"gpu1\",peer=\"gpu3\""), std::string::npos);
  // Every series names the host.
  std::regex series(R"(^(ionet_[a-z_]+)(\{[^}]*\})? )");
  std::istringstream lines(t);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (line.empty() || line[0] == '#' || !std::regex_search(line, m, series)) continue;
    if (m[1] == "ionet_metrics_series_dropped") continue;
    EXPECT_NE(line.find("host=\"gpu1\""), std::string::npos) << line;
  }
}

TEST(PoolMetrics, AnIdleHostWithoutRelayOrGpus) {
  PoolMetricsSnapshot s;
  s.host = "h";
  const std::string t = poolMetrics(s).render();
  EXPECT_TRUE(has(t, "ionet_host_jobs_running{host=\"h\"} 0")) << t;
  EXPECT_TRUE(has(t, "ionet_host_gpus_offered{host=\"h\"} 0")) << t;
  EXPECT_TRUE(has(t, "ionet_host_info{host=\"h\",site=\"\"} 1")) << t;
  // The families are there for a scraper to see, without series.
  EXPECT_TRUE(has(t, "# TYPE ionet_host_job_ranks_running gauge")) << t;
  EXPECT_TRUE(has(t, "# TYPE ionet_session_sent_bytes_total counter")) << t;
  EXPECT_EQ(t.find("ionet_relay_"), std::string::npos) << t;
}

double value(const std::string& text, const std::string& series) {
  const auto at = text.find(series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 1));
}

// What the pool agent does when a job ends: the job leaves the snapshot, what its agent wrote
// last joins the ended totals. Its counters must not drop.
TEST(PoolMetrics, CountersDoNotDropWhenAJobOrSessionEnds) {
  PoolMetricsSnapshot s = sample();
  const std::string before = poolMetrics(s).render();
  const control::HostStats last = jobStats(0, {dataLink("gpu2", 1200, 3000)});  // written at exit
  s.jobs.erase(s.jobs.begin());
  for (const auto& l : last.links()) s.ended[{"data", l.host()}].add(l);
  s.ended[{"control", "launcher"}].add(s.sessions[0]);
  s.sessions.erase(s.sessions.begin());
  const std::string after = poolMetrics(s).render();
  for (const std::string series : {
           "ionet_session_sent_bytes_total{host=\"gpu1\",peer=\"gpu2\",kind=\"data\"}",
           "ionet_session_received_bytes_total{host=\"gpu1\",peer=\"gpu2\",kind=\"data\"}",
           "ionet_session_resumes_total{host=\"gpu1\",peer=\"gpu2\",kind=\"data\"}",
           "ionet_session_sent_bytes_total{host=\"gpu1\",peer=\"launcher\",kind=\"control\"}",
           "ionet_session_reconnects_total{host=\"gpu1\",peer=\"launcher\",kind=\"control\"}",
       }) {
    ASSERT_GE(value(before, series), 0) << series << "\n" << before;
    EXPECT_GE(value(after, series), value(before, series)) << series;
  }
  EXPECT_EQ(
      value(after, "ionet_session_sent_bytes_total{host=\"gpu1\",peer=\"gpu2\",kind=\"data\"}"),
      1700);
  EXPECT_TRUE(has(after, "ionet_host_jobs_running{host=\"gpu1\"} 2"));
}

TEST(PoolMetrics, JobsAreCappedAtTheSeriesLimit) {
  PoolMetricsSnapshot s;
  s.host = "h";
  for (int j = 0; j < 1200; ++j) s.jobs.push_back({std::to_string(j), "", jobStats(1, {})});
  const std::string t = poolMetrics(s).render();
  EXPECT_TRUE(has(t, "ionet_host_jobs_running{host=\"h\"} 1200"));
  EXPECT_TRUE(has(t, "ionet_metrics_series_dropped 200")) << t.substr(t.size() - 300);
}

// Prometheus' own checker (Debian's prometheus package) reads what we write.
TEST(PoolMetrics, PromtoolAcceptsTheOutput) {
  PoolMetricsSnapshot odd = sample();
  odd.site = "a \"quoted\"\nsite\\";
  for (const auto& s : {sample(), odd, PoolMetricsSnapshot{}}) {
    EXPECT_EQ(test::promtoolCheck(poolMetrics(s).render(), ::testing::TempDir() + "/pool.txt"), "");
  }
}

PoolFile poolWith(const std::string& poolKey, const std::string& hostKey) {
  std::string text = "[pool]\nname = \"p\"\n";
  if (!poolKey.empty()) text += "metrics_listen = \"" + poolKey + "\"\n";
  text += "\n[[host]]\nname = \"a\"\naddress = \"h\"\n";
  if (!hostKey.empty()) text += "metrics_listen = \"" + hostKey + "\"\n";
  return parsePoolText(text, "pool.toml");
}

TEST(MetricsListen, CommandLineBeatsHostBeatsPool) {
  auto listen = [](const PoolFile& pool, const std::string& cli) {
    return metricsListenFor(pool, pool.hosts[0], cli);
  };
  EXPECT_FALSE(listen(poolWith("", ""), "").has_value());  // off by default
  auto l = listen(poolWith("9450", ""), "");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->address.host, "127.0.0.1");  // a port alone: loopback only
  EXPECT_EQ(l->address.port, 9450);
  l = listen(poolWith("9450", "0.0.0.0:9451"), "");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->address.host, "0.0.0.0");
  EXPECT_EQ(l->address.port, 9451);
  l = listen(poolWith("9450", "0.0.0.0:9451"), "[::1]:0");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->address.host, "::1");
  EXPECT_EQ(l->address.port, 0);
  EXPECT_EQ(l->source, "--metrics-listen");
}

TEST(MetricsListen, ABadValueNamesTheLineOrTheOption) {
  const PoolFile badPool = poolWith("99999", "");
  std::string msg = usageError([&] { metricsListenFor(badPool, badPool.hosts[0], ""); });
  EXPECT_EQ(msg.rfind("pool.toml:3: pool.metrics_listen: '99999'", 0), 0u) << msg;
  const PoolFile badHost = poolWith("9450", "0.0.0.0:x");
  msg = usageError([&] { metricsListenFor(badHost, badHost.hosts[0], ""); });
  EXPECT_EQ(msg.rfind("pool.toml:8: host 'a': metrics_listen: '0.0.0.0:x'", 0), 0u) << msg;
  msg = usageError([&] { metricsListenFor(badHost, badHost.hosts[0], "::1:80"); });
  EXPECT_EQ(msg.rfind("--metrics-listen: '::1:80'", 0), 0u) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(PoolMetricsEndpoint, ServesTheSnapshotWithTheJobsStatsFiles) {
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("pool-metrics-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string statsFile = (dir / "host-stats.pb").string();
  std::ofstream(statsFile, std::ios::binary)
      << jobStats(3, {dataLink("gpu2", 4242, 1000)}).SerializeAsString();
  std::ofstream(dir / "garbage.pb") << "\xff\xff\xff not a HostStats";

  MetricsListen listen;
  listen.source = "--metrics-listen";
  PoolMetricsEndpoint endpoint(listen);      // 127.0.0.1, any free port
  EXPECT_EQ(endpoint.scrape().status, 503);  // nothing published yet
  PoolMetricsSnapshot s;
  s.host = "gpu1";
  s.jobs.push_back({"abc", statsFile, std::nullopt});
  s.jobs.push_back({"def", (dir / "missing.pb").string(), std::nullopt});
  s.jobs.push_back({"fed", (dir / "garbage.pb").string(), std::nullopt});
  endpoint.publish(s);

  const std::regex url(R"(^http://127\.0\.0\.1:(\d+)/metrics$)");
  std::smatch m;
  const std::string u = endpoint.url();
  ASSERT_TRUE(std::regex_match(u, m, url)) << u;
  const auto port = static_cast<std::uint16_t>(std::stoi(m[1]));
  const test::HttpAnswer got = test::httpGet(port, "/metrics");
  EXPECT_EQ(got.status, 200) << got.head;
  EXPECT_NE(got.head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos)
      << got.head;
  const std::string& answer = got.body;
  EXPECT_NE(answer.find("ionet_host_job_ranks_running{host=\"gpu1\",job=\"abc\"} 3\n"),
            std::string::npos)
      << answer;
  EXPECT_NE(answer.find("ionet_host_job_ranks_running{host=\"gpu1\",job=\"def\"} 0\n"),
            std::string::npos);
  EXPECT_NE(answer.find("ionet_host_job_ranks_running{host=\"gpu1\",job=\"fed\"} 0\n"),
            std::string::npos);
  EXPECT_NE(answer.find(
                "ionet_session_sent_bytes_total{host=\"gpu1\",peer=\"gpu2\",kind=\"data\"} 4242\n"),
            std::string::npos);
  EXPECT_EQ(test::httpGet(port, "/other").status, 404);
  fs::remove_all(dir);
}

TEST(PoolMetricsEndpoint, APortInUseNamesWhereItCameFrom) {
  MetricsListen listen;
  listen.source = "pool.toml:3: pool.metrics_listen";
  PoolMetricsEndpoint first(listen);
  const std::regex url(R"(^http://127\.0\.0\.1:(\d+)/metrics$)");
  std::smatch m;
  const std::string u = first.url();
  ASSERT_TRUE(std::regex_match(u, m, url));
  listen.address.port = static_cast<std::uint16_t>(std::stoi(m[1]));
  try {
    PoolMetricsEndpoint second(listen);
    ADD_FAILURE() << "bound twice";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("pool.toml:3: pool.metrics_listen: cannot listen on", 0),
              0u)
        << e.what();
  }
}

TEST(PoolMetricsEndpoint, StatsFilesThatAreNotOnesAreNone) {
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("stats-read-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  EXPECT_FALSE(readHostStatsFile((dir / "absent").string()));
  std::ofstream(dir / "big", std::ios::binary) << std::string(5 << 20, '\0');
  EXPECT_FALSE(readHostStatsFile((dir / "big").string()));
  std::ofstream(dir / "empty", std::ios::binary);
  EXPECT_TRUE(readHostStatsFile((dir / "empty").string()));  // an empty message is a valid one
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ionet::launcher
