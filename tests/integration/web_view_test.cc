// Seeing a pool: a real queue daemon's web view and JSON API over a pool of three network-
// namespace hosts (h3 behind NAT, reached through h1's relay) running a batch job, drawn by a
// real headless Chromium; a real Prometheus server scraping a pool agent, the job's ionet-run
// and the queue; promtool on every endpoint; bad HTTP against the daemon's listener.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>

#include "emulated_pool.h"
#include "fixture.h"
#include "http_probe.h"
#include "wanemu.h"

namespace ionet::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

// Where a test leaves what a person should look at (the page's screenshot).
const std::string kArtifacts = IONET_BUILD_DIR "/test-artifacts";
constexpr int kAgentMetricsPort = 9450;  // every host's agent, inside its own namespace
constexpr int kRunMetricsPort = 9460;    // the job's ionet-run, in h1

EmulatedPool* world = nullptr;

class WebViewTest : public IonetTest {
 protected:
  static void SetUpTestSuite() {
    if (!WanEmulator::unavailableReason().empty()) return;
    WanOptions o;
    o.hosts = 3;
    o.natHosts = {3};
    world = new EmulatedPool(o, "webview");
    // The pool's key makes every agent serve metrics on all its addresses; h3 overrides it
    // on the command line (it is behind NAT: only its own namespace reaches it).
    world->writePoolFile("metrics_listen = \"0.0.0.0:" + std::to_string(kAgentMetricsPort) +
                         "\"\n\n[[host]]\nname = \"h1\"\naddress = \"" + world->wan->address(1) +
                         "\"\nrelay = true\nslots = 2\nsite = \"fra\"\n\n"
                         "[[host]]\nname = \"h2\"\naddress = \"" +
                         world->wan->address(2) +
                         "\"\nslots = 2\nsite = \"ams\"\n\n"
                         "[[host]]\nname = \"h3\"\nvia = \"h1\"\nslots = 2\nsite = \"home\"\n");
    for (int h = 1; h <= 3; ++h) startAgent(h);
  }

  static void startAgent(int h) {
    world->startAgent(h, h == 3 ? std::vector<std::string>{"--metrics-listen", "127.0.0.1:9451"}
                                : std::vector<std::string>{});
  }

  static void TearDownTestSuite() {
    delete world;
    world = nullptr;
  }

  void SetUp() override {
    const std::string why = WanEmulator::unavailableReason();
    if (!why.empty()) GTEST_SKIP() << why;
    ASSERT_NE(world, nullptr);
    for (const char* tool : {"chromium", "prometheus", "promtool", "curl"}) {
      ASSERT_FALSE(ionet::findOnPath(tool).empty())
          << tool << " is missing: scripts/install-deps.sh installs it";
    }
  }

  // A command in host h's namespace, with the test's marker.
  Command inHost(int h, std::vector<std::string> args, std::vector<std::string> env = {}) {
    auto argv = world->wan->execPrefix(h);
    argv.insert(argv.end(), args.begin(), args.end());
    env.push_back(leftovers_.markerEnv());
    return Command(argv, env);
  }

  // GET url from host h's namespace; "" when it fails.
  std::string fetch(int h, const std::string& url) {
    auto r = inHost(h, {"curl", "-sf", "--max-time", "5", url}).wait(10s);
    return r.finished && r.exitCode == 0 ? r.out : "";
  }

  json fetchJson(int h, const std::string& url) {
    const std::string text = fetch(h, url);
    auto j = json::parse(text, nullptr, false);
    return j.is_discarded() ? json() : j;
  }

  // The page as headless Chromium leaves it after `budgetMs` of virtual time (its fetches and
  // redraws run), from h1; optionally a screenshot.
  std::string renderedDom(const std::string& url, const std::string& screenshot = "") {
    const std::string profile = world->dir + "/chromium";
    fs::create_directories(profile);
    std::vector<std::string> args = {"chromium",
                                     "--headless=new",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-dev-shm-usage",
                                     "--no-first-run",
                                     "--user-data-dir=" + profile,
                                     "--hide-scrollbars",
                                     "--window-size=1400,1000",
                                     "--virtual-time-budget=4000"};
    args.push_back(screenshot.empty() ? "--dump-dom" : "--screenshot=" + screenshot);
    args.push_back(url);
    // Chromium's scratch files go to the test's directory, not /tmp (the leftover check).
    auto r = inHost(1, args, {"TMPDIR=" + profile, "HOME=" + profile}).wait(60s);
    EXPECT_FINISHED(r);
    return r.out;
  }
};

// Host rows of the DOM: host -> "true"/"false" (data-up).
std::map<std::string, std::string> hostRows(const std::string& dom) {
  std::map<std::string, std::string> out;
  const std::regex row(R"re(<tr class="host[^"]*" data-host="([^"]+)" data-up="(true|false)")re");
  for (std::sregex_iterator it(dom.begin(), dom.end(), row), end; it != end; ++it) {
    out[(*it)[1]] = (*it)[2];
  }
  return out;
}

int countOf(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST_F(WebViewTest, PageShowsThePoolAndTheJobPrometheusScrapesItAndAKilledHostGoesDown) {
  const std::string dir = world->dir + "/job";
  fs::create_directories(dir);
  // Long enough to look at; cancelled at the end. Traffic between all three hosts.
  std::ofstream(dir + "/job.sh") << "#!/bin/bash\n"
                                 << "#SBATCH -N 3 --ntasks-per-node=2 -o out-%j.out\n"
                                 << "#IONET --checkpoint-dir " << dir << "/ckpt\n"
                                 << "ionet-run --metrics-listen 127.0.0.1:" << kRunMetricsPort
                                 << " " << example("train") << " 100000000 100000000 16384\n";
  fs::permissions(dir + "/job.sh", fs::perms::owner_all);
  const std::vector<std::string> env = {"IONET_QUEUE_DIR=" + dir + "/queue",
                                        "IONET_QUEUE_IDLE_EXIT=1"};
  auto submit = inHost(1,
                       {"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", dir, kBin + "/ionet-batch",
                        "--pool", world->poolFile, "job.sh"},
                       env)
                    .wait(30s);
  ASSERT_EQ(submit.exitCode, 0) << submit.err;
  auto web = inHost(1, {kBin + "/ionet-queue", "--pool", world->poolFile, "--web"}, env).wait(20s);
  ASSERT_EQ(web.exitCode, 0) << web.err;
  const std::string url = web.out.substr(0, web.out.find('\n'));
  ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << "the web view listens on loopback: " << url;

  // The API: three hosts up, the job running with its ranks placed by ionet-run, links seen.
  json hosts, jobs, links;
  ASSERT_TRUE(waitUntil(
      [&] {
        hosts = fetchJson(1, url + "api/hosts");
        jobs = fetchJson(1, url + "api/jobs");
        links = fetchJson(1, url + "api/links");
        if (!hosts.is_object() || !jobs.is_object() || !links.is_object()) return false;
        int up = 0;
        for (const auto& h : hosts["hosts"]) up += h["up"].get<bool>();
        bool ranksPlaced = false;
        for (const auto& j : jobs["jobs"]) {
          if (j["id"] == "1" && j["state"] == "RUNNING" && j["placement"].size() == 3 &&
              j["placement"][0]["ranks"].size() == 2)
            ranksPlaced = true;
        }
        int active = 0;
        for (const auto& l : links["links"]) active += l.value("active", false);
        return up == 3 && ranksPlaced && active >= 4;
      },
      60s))
      << "hosts: " << hosts.dump() << "\njobs: " << jobs.dump() << "\nlinks: " << links.dump();
  EXPECT_EQ(jobs["jobs"][0]["placement"][0]["host"], "h1");
  EXPECT_EQ(jobs["jobs"][0]["placement"][0]["ranks"], json::parse("[0,1]"));
  EXPECT_EQ(jobs["jobs"][0]["placement"][2]["ranks"], json::parse("[4,5]"));
  // Nothing secret: no token, key or environment in any answer.
  for (const auto& text : {hosts.dump(), jobs.dump(), links.dump()}) {
    EXPECT_EQ(text.find("TOKEN"), std::string::npos) << text;
    EXPECT_EQ(text.find("psk"), std::string::npos) << text;
    EXPECT_EQ(text.find("PATH="), std::string::npos) << text;
  }

  // The page in Chromium: a row per host, the job with its placement, a cell per host pair.
  std::string dom = renderedDom(url);
  EXPECT_EQ(hostRows(dom),
            (std::map<std::string, std::string>{{"h1", "true"}, {"h2", "true"}, {"h3", "true"}}))
      << dom;
  EXPECT_NE(dom.find("<tr class=\"job\" data-job=\"1\" data-state=\"RUNNING\">"), std::string::npos)
      << dom;
  EXPECT_NE(dom.find("data-host=\"h3\">h3: 4-5</div>"), std::string::npos) << dom;
  EXPECT_EQ(countOf(dom, "<td class=\"link "), 6) << dom;
  EXPECT_GE(countOf(dom, "<td class=\"link good\""), 4) << dom;
  EXPECT_GE(countOf(dom, "<div class=\"chart\""), 4) << dom;
  fs::create_directories(kArtifacts);
  renderedDom(url, kArtifacts + "/web-view.png");
  EXPECT_GT(fs::file_size(kArtifacts + "/web-view.png"), 10'000u);

  // promtool on every endpoint: the agents (h3's through its own namespace), ionet-run, queue.
  const std::string h2 = world->wan->address(2);
  for (const auto& [h, endpoint] :
       std::vector<std::pair<int, std::string>>{{1, "http://127.0.0.1:9450/metrics"},
                                                {1, "http://" + h2 + ":9450/metrics"},
                                                {3, "http://127.0.0.1:9451/metrics"},
                                                {1, "http://127.0.0.1:9460/metrics"},
                                                {1, url + "metrics"}}) {
    EXPECT_EQ(promtoolComplaints(fetch(h, endpoint)), "") << endpoint;
  }

  // A real Prometheus in h1 scrapes h1's and h2's agents, ionet-run and the queue; its query
  // API returns the job's series.
  const std::string prom = world->dir + "/prometheus";
  fs::create_directories(prom);
  const std::string webPort = url.substr(url.rfind(':') + 1, url.size() - url.rfind(':') - 2);
  std::ofstream(prom + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
      << "  - job_name: pool\n    honor_labels: true\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:9450', '" << h2 << ":9450']\n"
      << "  - job_name: ionet-run\n    honor_labels: true\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:9460']\n"
      << "  - job_name: queue\n    honor_labels: true\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:" << webPort << "']\n";
  auto prometheus =
      inHost(1, {"prometheus", "--config.file=" + prom + "/prometheus.yml",
                 "--storage.tsdb.path=" + prom + "/data", "--web.listen-address=127.0.0.1:9090"});
  auto query = [&](const std::string& q) {
    auto r = inHost(1, {"curl", "-sf", "--max-time", "5", "--data-urlencode", "query=" + q,
                        "http://127.0.0.1:9090/api/v1/query"})
                 .wait(10s);
    auto j = json::parse(r.out, nullptr, false);
    return j.is_discarded() ? json() : j["data"]["result"];
  };
  json ranks, up, linkBytes, agentRanks;
  EXPECT_TRUE(waitUntil(
      [&] {
        up = query("up == 1");
        ranks = query("ionet_job_ranks{job=\"1\"}");
        linkBytes = query("ionet_job_link_sent_bytes_total{job=\"1\",host=\"h1\",peer=\"h2\"}");
        agentRanks = query("ionet_host_job_ranks_running{host=\"h2\"}");
        return up.size() == 4 && ranks.size() == 1 && linkBytes.size() == 1 &&
               agentRanks.size() == 1;
      },
      60s))
      << "up " << up.dump() << "\nranks " << ranks.dump() << "\nlink bytes " << linkBytes.dump()
      << "\nagent ranks " << agentRanks.dump() << "\n"
      << prometheus.transcript();
  if (ranks.size() == 1) {
    EXPECT_EQ(ranks[0]["value"][1], "6");
  }
  if (agentRanks.size() == 1) {
    EXPECT_EQ(agentRanks[0]["value"][1], "2");
  }
  prometheus.signal(SIGTERM);
  EXPECT_TRUE(prometheus.wait(20s).finished);

  // Bad HTTP against the daemon's listener: garbage, a 1 MiB header, a request never finished.
  // Each gets a 4xx or is closed, and the page is still served meanwhile.
  const auto port = static_cast<std::uint16_t>(std::stoi(webPort));
  auto connect = [&] {
    int fd = -1;
    world->wan->inHost(1, [&] { fd = connectLoopback(port); });
    return fd;
  };
  EXPECT_EQ(exchange(connect(), "\x16\x03\x01garbage\r\n\r\n").status, 400);
  const HttpAnswer huge = exchange(
      connect(), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n");
  EXPECT_TRUE(huge.ended && (huge.status == 0 || huge.status / 100 == 4)) << huge.status;
  const int slow = connect();
  ASSERT_TRUE(sendAll(slow, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ", ProbeClock::now() + 5s));
  const auto start = ProbeClock::now();
  const HttpAnswer ok =
      exchange(connect(), "GET /api/hosts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(ok.status, 200);
  EXPECT_LT(ProbeClock::now() - start, 2s) << "a slow client held the listener";
  std::string cut;
  EXPECT_TRUE(readUntil(slow, cut, ProbeClock::now() + 15s)) << "the slow client was never cut off";
  ::close(slow);
  EXPECT_EQ(cut.find("\"hosts\""), std::string::npos);

  // h3's pool agent and the job's agent there are killed: the next refresh shows it down.
  world->agents[3]->signal(SIGKILL);
  world->agents[3]->wait(10s);
  Command({"pkill", "-KILL", "-f", "ionet-agent --connect .* --host-name h3"}).wait(10s);
  // What the dead host leaves on its own disk (here, this machine's): not the test's leftovers.
  for (const char* root : {"/tmp", "/dev/shm"}) {
    for (const auto& e : fs::directory_iterator(root)) {
      if (e.path().filename().string().rfind("ionet-h3-", 0) == 0) fs::remove_all(e.path());
    }
  }
  EXPECT_TRUE(waitUntil(
      [&] {
        auto h = fetchJson(1, url + "api/hosts");
        if (!h.is_object()) return false;
        for (const auto& x : h["hosts"]) {
          if (x["name"] == "h3") return !x["up"].get<bool>();
        }
        return false;
      },
      20s));
  dom = renderedDom(url);
  EXPECT_EQ(hostRows(dom),
            (std::map<std::string, std::string>{{"h1", "true"}, {"h2", "true"}, {"h3", "false"}}))
      << dom;

  // Tidy up: the job, the queue daemon (idle after the page stops asking), h3's agent again.
  inHost(1, {kBin + "/ionet-cancel", "--pool", world->poolFile, "1"}, env).wait(20s);
  EXPECT_TRUE(waitUntil([&] { return processesNamed("ionet-queued").empty(); }, 60s));
  EXPECT_TRUE(waitUntil([&] { return processesNamed("train").empty(); }, 30s));
  startAgent(3);
}

}  // namespace
}  // namespace ionet::test
