// The pool agents' Prometheus metrics on a real pool: h1 (public, runs the relay) and h2 behind
// NAT, reached through h1's relay, as network namespaces of the WAN emulator. h1's agent serves
// /metrics where the pool file's metrics_listen says, h2's where --metrics-listen says (its own
// metrics_listen names an address it does not have: the command line must win). Scrapes go to
// each agent's loopback from a thread that joined its host's namespace.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>

#include "emulated_pool.h"
#include "fixture.h"
#include "http_probe.h"
#include "wanemu.h"

namespace ionet::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Everything the suite shares: the emulated WAN, the pool's files, the agents and their ports.
struct MetricsWorld : EmulatedPool {
  using EmulatedPool::EmulatedPool;
  std::uint16_t port[3] = {0, 0, 0};  // /metrics port of h1, h2 (index = host)
};
MetricsWorld* world = nullptr;

// A non-blocking connection to 127.0.0.1:port inside host's namespace; -1 when refused.
int connectIn(int host, std::uint16_t port) {
  int fd = -1;
  world->wan->inHost(host, [&] { fd = connectLoopback(port); });
  return fd;
}

// One request to host's agent's /metrics listener, from inside its namespace.
HttpAnswer exchange(int host, const std::string& request, std::chrono::milliseconds timeout = 10s) {
  return test::exchange(connectIn(host, world->port[host]), request, timeout);
}

HttpAnswer scrape(int host) {
  return exchange(host, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

// The value of the first series whose line matches `series` (a regex up to the value); -1 if none.
double metric(const std::string& text, const std::string& series) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("(^|\\n)" + series + " ([0-9.e+-]+)\\n"))) return -1;
  return std::stod(m[2]);
}

class PoolMetricsTest : public IonetTest {
 protected:
  static void SetUpTestSuite() {
    if (!WanEmulator::unavailableReason().empty()) return;
    WanOptions o;
    o.hosts = 2;
    o.natHosts = {2};
    world = new MetricsWorld(o, "poolmetrics");
    world->writePoolFile(
        "metrics_listen = \"127.0.0.1:0\"\n\n"
        "[[host]]\nname = \"h1\"\naddress = \"" +
        world->wan->address(1) +
        "\"\nrelay = true\nslots = 2\nsite = \"fra\"\n\n"
        "[[host]]\nname = \"h2\"\nvia = \"h1\"\nslots = 2\nsite = \"home\"\n"
        "metrics_listen = \"192.0.2.1:9450\"\n");
    world->startAgent(1);
    world->startAgent(2, {"--metrics-listen", "0"});
    // Each agent says where it serves: "metrics on http://127.0.0.1:PORT/metrics".
    const std::regex url("metrics on http://127\\.0\\.0\\.1:(\\d+)/metrics");
    for (int h = 1; h <= 2; ++h) {
      std::smatch m;
      world->agents[h]->waitForStderr(
          [&](const std::string& err) { return std::regex_search(err, m, url); }, 30s);
      if (!m.empty()) world->port[h] = static_cast<std::uint16_t>(std::stoi(m[1]));
    }
  }

  static void TearDownTestSuite() {
    delete world;
    world = nullptr;
  }

  void SetUp() override {
    const std::string why = WanEmulator::unavailableReason();
    if (!why.empty()) GTEST_SKIP() << why;
    ASSERT_NE(world, nullptr);
    for (int h = 1; h <= 2; ++h) {
      ASSERT_NE(world->port[h], 0) << "agent h" << h << " did not say where its metrics are:\n"
                                   << world->agents[h]->transcript();
    }
    // The pool is ready when a job reaches both hosts (h2 parks at h1's relay).
    const auto deadline = Clock::now() + 30s;
    for (;;) {
      auto r = startInPool({"-np", "2", "-N", "1", "true"}).wait(20s);
      if (r.finished && r.exitCode == 0) break;
      ASSERT_LT(Clock::now(), deadline) << "pool not ready: " << r.err;
    }
  }

  Command startInPool(std::vector<std::string> args) {
    auto argv = world->wan->execPrefix(1);
    argv.push_back(kBin + "/ionet-run");
    argv.insert(argv.end(), {"--pool", world->poolFile});
    argv.insert(argv.end(), args.begin(), args.end());
    return Command(argv, {leftovers_.markerEnv()});
  }

  // Scrapes host until `pred` holds for the text (each scrape also checked by promtool).
  std::string scrapeUntil(int host, const std::function<bool(const std::string&)>& pred,
                          std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string text;
    do {
      const HttpAnswer a = scrape(host);
      EXPECT_EQ(a.status, 200) << "h" << host << ": " << a.body;
      text = a.body;
      EXPECT_EQ(promtoolComplaints(text), "") << text;
      if (pred(text)) return text;
      std::this_thread::sleep_for(100ms);  // pacing the scrapes; the agents publish every second
    } while (Clock::now() < deadline);
    ADD_FAILURE() << "h" << host << ": condition not met; last scrape:\n" << text;
    return text;
  }
};

const std::string kDataSent =
    R"(ionet_session_sent_bytes_total\{host="h1",peer="h2",kind="data"\})";

TEST_F(PoolMetricsTest, BothAgentsShowTheJobItsSessionsAndTheRelayWhileItRuns) {
  // A ping-pong between the hosts (through the relay, h2 is behind NAT) that runs until stopped.
  auto job = startInPool({"-np", "2", "-N", "1", example("pingpong"), "65536", "100000000"});
  const std::string h1 = scrapeUntil(
      1,
      [](const std::string& t) {
        return metric(t, "ionet_host_jobs_running\\{host=\"h1\"\\}") == 1 &&
               metric(t, kDataSent) > 0 &&
               metric(t, "ionet_host_job_ranks_running\\{host=\"h1\",job=\"[0-9a-f]+\"\\}") > 0;
      },
      60s);
  EXPECT_EQ(metric(h1, "ionet_agent_up\\{host=\"h1\"\\}"), 1) << h1;
  EXPECT_EQ(metric(h1, "ionet_host_info\\{host=\"h1\",site=\"fra\"\\}"), 1) << h1;
  EXPECT_GT(metric(h1, "ionet_host_cores\\{host=\"h1\"\\}"), 0) << h1;
  EXPECT_GT(metric(h1, "ionet_host_memory_bytes\\{host=\"h1\"\\}"), 0) << h1;
  EXPECT_GT(metric(h1, "ionet_relay_pairs_total\\{host=\"h1\"\\}"), 0) << h1;
  EXPECT_GT(metric(h1, "ionet_relay_forwarded_bytes_total\\{host=\"h1\"\\}"), 0) << h1;
  EXPECT_GT(metric(h1, R"(ionet_session_links_up\{host="h1",peer="h2",kind="data"\})"), 0) << h1;
  EXPECT_GE(metric(h1, R"(ionet_session_rtt_seconds\{host="h1",peer="h2",kind="data"\})"), 0) << h1;
  // The launcher's session to this pool agent.
  EXPECT_GT(
      metric(h1, R"(ionet_session_received_bytes_total\{host="h1",peer="[^"]+",kind="control"\})"),
      0)
      << h1;

  const std::string dataFromH2 =
      R"(ionet_session_sent_bytes_total\{host="h2",peer="h1",kind="data"\})";
  const std::string h2 = scrapeUntil(
      2,
      [&](const std::string& t) {
        return metric(t, "ionet_host_jobs_running\\{host=\"h2\"\\}") == 1 &&
               metric(t, dataFromH2) > 0 &&
               metric(t, "ionet_host_job_ranks_running\\{host=\"h2\",job=\"[0-9a-f]+\"\\}") > 0;
      },
      30s);
  EXPECT_EQ(metric(h2, "ionet_host_info\\{host=\"h2\",site=\"home\"\\}"), 1) << h2;
  EXPECT_GT(metric(h2, "ionet_host_cores\\{host=\"h2\"\\}"), 0) << h2;
  EXPECT_EQ(h2.find("ionet_relay_"), std::string::npos) << h2;  // h1 runs the relay

  // The job ends (stopped); its bytes stay counted.
  const double during = metric(scrape(1).body, kDataSent);
  job.signal(SIGTERM);
  auto r = job.wait(60s);
  EXPECT_FINISHED(r);
  const std::string after = scrapeUntil(
      1,
      [](const std::string& t) {
        return metric(t, "ionet_host_jobs_running\\{host=\"h1\"\\}") == 0;
      },
      30s);
  EXPECT_GE(metric(after, kDataSent), during) << after;
  EXPECT_EQ(metric(after, R"(ionet_session_links_up\{host="h1",peer="h2",kind="data"\})"), 0)
      << after;
}

TEST_F(PoolMetricsTest, BadRequestsAreRefusedAndTheAgentCarriesOn) {
  // Garbage: an error status, or the connection closed.
  HttpAnswer a = exchange(1, "\x16\x03\x01 garbage \xff\xfe\r\n\r\n");
  EXPECT_TRUE(a.ended);
  EXPECT_TRUE(a.status == 0 || (a.status >= 400 && a.status < 500)) << a.status;
  // A 1 MiB header.
  a = exchange(
      1, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n");
  EXPECT_TRUE(a.ended);
  EXPECT_TRUE(a.status == 0 || (a.status >= 400 && a.status < 500)) << a.status;
  // Not GET.
  a = exchange(1, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_TRUE(a.status >= 400 && a.status < 500) << a.status;
  // A request that never ends holds one connection, not the listener: others are served
  // meanwhile, and the agent gives up on it after its read timeout.
  const int stuck = connectIn(1, world->port[1]);
  ASSERT_GE(stuck, 0);
  ASSERT_TRUE(sendAll(stuck, "GET /metrics HTTP/1.1\r\nHost: x\r\n", Clock::now() + 5s));
  EXPECT_EQ(scrape(1).status, 200);
  std::string ignored;
  EXPECT_TRUE(readUntil(stuck, ignored, Clock::now() + 30s)) << "still held open";
  ::close(stuck);

  // The agent still serves and still runs jobs.
  const HttpAnswer ok = scrape(1);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(metric(ok.body, "ionet_agent_up\\{host=\"h1\"\\}"), 1) << ok.body;
  EXPECT_EQ(promtoolComplaints(ok.body), "");
  auto r = startInPool({"-np", "2", "-N", "1", example("ring")}).wait(60s);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("ring OK"), std::string::npos) << r.out << r.err;
}

}  // namespace
}  // namespace ionet::test
