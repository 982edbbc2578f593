// JobObserver with a real listener and status file, driven as runWithRestarts and JobRun drive
// it (a RunWatch on an io_context): /metrics serves the published snapshot, the file follows
// the job to its end.
#include "run/job_observer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace ionet::launcher {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// GET path from 127.0.0.1:port; the whole response (the server closes after it).
std::string get(std::uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
    }
  }
  ::close(fd);
  return out;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

Placement twoHosts() {
  Placement p;
  p.hosts = {{"h1", {0, 1}, {}}, {"h2", {2, 3}, {}}};
  p.worldSize = 4;
  return p;
}

TEST(JobObserver, OffDoesNothing) {
  JobObserver off;
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(off.metricsPort());
  asio::io_context io;
  {
    JobObserver::RunWatch watch(off, io, "id", [] { return RunView(); });
    off.fenceIn("s", 1);
  }
  EXPECT_EQ(io.poll(), 0u);  // no timer
}

TEST(JobObserver, ServesTheRunAndWritesTheStatusFileToTheEnd) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("observer-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ObserveSettings settings;
  settings.metricsListen = observe::ListenAddress{"127.0.0.1", 0};
  settings.statusDir = dir.string();  // created by the observer
  settings.quiet = true;
  JobObserver observer(settings);
  ASSERT_TRUE(observer.enabled());
  ASSERT_TRUE(observer.metricsPort());
  const std::uint16_t port = *observer.metricsPort();
  const fs::path file = dir / ("run-" + std::to_string(::getpid()) + ".json");

  observer.runStarting(twoHosts(), "/ck/step-40");
  asio::io_context io;
  RunView view;
  view.hosts.resize(2);
  {
    JobObserver::RunWatch watch(observer, io, "0123456789ab", [&] { return view; });
    // The id of the run is the label (no batch job), published at once.
    EXPECT_NE(get(port, "/metrics").find("ionet_job_hosts{job=\"0123456789ab\"} 2"),
              std::string::npos);
    view.launched = true;
    for (auto& h : view.hosts) {
      h.up = true;
      h.ranksRunning = 2;
    }
    LinkReport l;
    l.peer = "h2";
    l.bytesSent = 777;
    view.hosts[0].links.push_back(l);
    observer.fenceIn("sig", 1);
    observer.fenceReleased("sig", 1);
    // The io thread's tick (every 500 ms) publishes; the HTTP threads read only that.
    std::string metrics;
    ASSERT_TRUE(waitFor(
        [&] {
          io.run_for(20ms);
          metrics = get(port, "/metrics");
          return metrics.find("ionet_job_up{job=\"0123456789ab\"} 1") != std::string::npos;
        },
        5s))
        << metrics;
    EXPECT_NE(metrics.find("Content-Type: text/plain; version=0.0.4"), std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("ionet_job_ranks_running{job=\"0123456789ab\"} 4"), std::string::npos);
    EXPECT_NE(metrics.find("ionet_job_fences_completed_total{job=\"0123456789ab\"} 1"),
              std::string::npos);
    EXPECT_NE(metrics.find("ionet_job_link_sent_bytes_total{job=\"0123456789ab\",host=\"h1\","
                           "peer=\"h2\"} 777"),
              std::string::npos);
    EXPECT_NE(metrics.find("ionet_job_checkpoint_resume_step{job=\"0123456789ab\"} 40"),
              std::string::npos);
    EXPECT_NE(get(port, "/other").find("404"), std::string::npos);
    ASSERT_TRUE(waitFor(
        [&] {
          const auto j = nlohmann::json::parse(readFile(file), nullptr, false);
          return !j.is_discarded() && j["state"] == "running";
        },
        5s))
        << readFile(file);
  }
  observer.finished(0);
  const auto j = nlohmann::json::parse(readFile(file));
  EXPECT_EQ(j["state"], "done");
  EXPECT_EQ(j["exit_code"], 0);
  EXPECT_EQ(j["job"], "0123456789ab");
  EXPECT_EQ(j["fences_completed"], 1);
  EXPECT_EQ(j["links"][0]["bytes_sent"], 777);
  EXPECT_EQ(j["hosts"][0]["up"], false);
  EXPECT_NE(get(port, "/metrics").find("ionet_job_up{job=\"0123456789ab\"} 0"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ionet::launcher
