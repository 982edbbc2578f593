// ionet-run's own observability on a real job: --metrics-listen on a free port (the URL read
// from its stderr), the job's series scraped while it runs and checked by promtool, hostile
// clients (garbage, a 1 MiB header, a request never finished) that neither stop the endpoint
// nor the job, and the $IONET_STATUS_DIR file through to state "done".
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>

#include "fixture.h"
#include "http_probe.h"

namespace ionet::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// GET /metrics: the body of a 200 answer, "" otherwise.
std::string scrape(std::uint16_t port) {
  const HttpAnswer a = httpGet(port, "/metrics");
  return a.status == 200 ? a.body : "";
}

// The value of the series (name and labels exactly as written); nullopt when absent.
std::optional<double> value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class RunMetricsTest : public IonetTest {
 protected:
  // A process of the test named comm that is stopped (SIGSTOP); -1 at the deadline.
  pid_t waitForStopped(const std::string& comm, std::chrono::milliseconds timeout) const {
    pid_t stopped = -1;
    waitUntil(
        [&] {
          for (pid_t p : processesNamed(comm)) {
            const std::string stat = readFile("/proc/" + std::to_string(p) + "/stat");
            const auto close = stat.rfind(')');
            if (close != std::string::npos && stat.compare(close + 2, 1, "T") == 0) {
              stopped = p;
              return true;
            }
          }
          return false;
        },
        timeout);
    return stopped;
  }
};

TEST_F(RunMetricsTest, RunMetricsAndStatusFileOfARealJob) {
  const fs::path dir =
      fs::temp_directory_path() / ("run-metrics-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path statusDir = dir / "status";  // ionet-run creates it
  // train exchanges its gradients between the hosts every step. Its rank 1 stops itself in the
  // checkpoint of step 100 (train.c): the job holds still, running, until the test lets it go
  // on, however slow the machine.
  auto job = start({"--local-hosts", "2", "--metrics-listen", "127.0.0.1:0", "-x",
                    "TRAIN_STOP_IN_CHECKPOINT=100", "--checkpoint-dir", (dir / "ck").string(),
                    "-np", "4", example("train"), "300", "100", "65536"},
                   {"IONET_STATUS_DIR=" + statusDir.string()});
  const std::regex urlLine(R"(ionet-run: metrics on http://127\.0\.0\.1:(\d+)/metrics\n)");
  std::uint16_t port = 0;
  ASSERT_TRUE(job.waitForStderr(
      [&](const std::string& e) {
        std::smatch m;
        if (!std::regex_search(e, m, urlLine)) return false;
        port = static_cast<std::uint16_t>(std::stoi(m[1]));
        return true;
      },
      30s))
      << job.transcript();

  const pid_t stopped = waitForStopped("train", 60s);
  ASSERT_GT(stopped, 0) << job.transcript();

  // The job's series, once the agents reported the traffic between the hosts.
  std::string text;
  auto series = [&](const std::string& name, const std::string& labels = "") {
    std::smatch m;
    static const std::regex label(R"re(ionet_job_up\{job="([^"]+)"\})re");
    if (!std::regex_search(text, m, label)) return std::optional<double>();
    return value(text, name + "{job=\"" + m[1].str() + "\"" + labels + "}");
  };
  const std::string pair = ",host=\"node0\",peer=\"node1\"";
  ASSERT_TRUE(waitUntil(
      [&] {
        text = scrape(port);
        return series("ionet_job_ranks_running") == 4 &&
               series("ionet_job_link_sent_bytes_total", pair).value_or(0) > 0 &&
               series("ionet_job_link_received_bytes_total", pair).value_or(0) > 0;
      },
      60s))
      << text << job.transcript();
  EXPECT_EQ(series("ionet_job_up"), 1) << text;
  EXPECT_EQ(series("ionet_job_hosts"), 2);
  EXPECT_EQ(series("ionet_job_ranks"), 4);
  EXPECT_EQ(series("ionet_job_host_up", ",host=\"node0\""), 1);
  EXPECT_EQ(series("ionet_job_host_up", ",host=\"node1\""), 1);
  EXPECT_GE(series("ionet_job_fences_completed_total").value_or(0), 1);  // MPI_Init's
  EXPECT_GE(series("ionet_job_fence_latency_seconds_count").value_or(0), 1);
  EXPECT_EQ(series("ionet_job_restarts_total", ",cause=\"rank_failed\""), 0);
  EXPECT_EQ(series("ionet_job_checkpoint_resume_step"), -1);
  EXPECT_GE(series("ionet_job_link_up", pair).value_or(0), 1);
  EXPECT_GT(series("ionet_job_link_rtt_seconds", pair).value_or(0), 0);
  EXPECT_GT(series("ionet_job_elapsed_seconds").value_or(0), 0);
  // The job's own id: 12 hex digits (no batch job here).
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(ionet_job_up\{job="[0-9a-f]{12}"\} 1)")));
  EXPECT_EQ(promtoolComplaints(text), "");

  // Hostile clients: the endpoint answers or drops them and goes on serving.
  EXPECT_EQ(exchange(connectLoopback(port), std::string("\x16\x03\x01\x00\xff garbage\r\n\r\n", 18))
                .status,
            400);
  const std::string huge =
      "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') +
      "\r\nConnection: close\r\n\r\n";
  const HttpAnswer refused = exchange(connectLoopback(port), huge);
  EXPECT_TRUE(refused.ended && (refused.status == 0 || refused.status / 100 == 4))
      << refused.status;
  const int slow = connectLoopback(port);  // never finished: held until the job is over
  ASSERT_GE(slow, 0);
  ASSERT_TRUE(sendAll(slow, "GET /metrics HTTP/1.1\r\nHost: x\r\n", Clock::now() + 5s));
  text = scrape(port);
  EXPECT_EQ(series("ionet_job_hosts"), 2) << "the endpoint stopped serving";

  // The status file while it runs.
  const fs::path file = statusDir / ("run-" + std::to_string(job.pid()) + ".json");
  nlohmann::json status;
  ASSERT_TRUE(waitUntil(
      [&] {
        status = nlohmann::json::parse(readFile(file), nullptr, false);
        return !status.is_discarded() && status["state"] == "running" && !status["links"].empty();
      },
      10s))
      << readFile(file);
  EXPECT_EQ(status["pid"], job.pid());

  ASSERT_EQ(::kill(stopped, SIGCONT), 0);
  auto r = job.wait(240s);
  ::close(slow);
  EXPECT_FINISHED(r);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("final weights checksum"), std::string::npos) << r.out;

  // Its last word: done, exit code 0, both hosts with their ranks, the links between them.
  const std::string last = readFile(file);
  status = nlohmann::json::parse(last, nullptr, false);
  ASSERT_FALSE(status.is_discarded()) << last;
  EXPECT_EQ(status["state"], "done") << last;
  EXPECT_EQ(status["exit_code"], 0);
  EXPECT_TRUE(std::regex_match(status["job"].get<std::string>(), std::regex("[0-9a-f]{12}")));
  EXPECT_GE(status["fences_completed"].get<int>(), 1);
  EXPECT_TRUE(status["restarts"].empty());
  EXPECT_TRUE(status["resume_step"].is_null());
  EXPECT_GT(status["elapsed_seconds"].get<double>(), 0);
  ASSERT_EQ(status["hosts"].size(), 2u) << last;
  EXPECT_EQ(status["hosts"][0]["name"], "node0");
  EXPECT_EQ(status["hosts"][0]["ranks"], nlohmann::json({0, 1}));
  EXPECT_EQ(status["hosts"][1]["ranks_total"], 2);
  EXPECT_EQ(status["hosts"][1]["up"], false);
  ASSERT_EQ(status["links"].size(), 2u) << last;
  for (const auto& l : status["links"]) {
    EXPECT_TRUE((l["from"] == "node0" && l["to"] == "node1") ||
                (l["from"] == "node1" && l["to"] == "node0"))
        << l;
    EXPECT_GT(l["bytes_sent"].get<std::uint64_t>(), 0u) << l;
    EXPECT_GT(l["bytes_received"].get<std::uint64_t>(), 0u) << l;
  }
  // Nothing of the command line or the environment: no program, no path, no variable.
  for (const std::string& secret : {std::string("train"), dir.string(), std::string("IONET_")}) {
    EXPECT_EQ(last.find(secret), std::string::npos) << secret << " in " << last;
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(statusDir)) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{file.filename().string()});  // no temporary left
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ionet::test
