// The status file for the queue's web view: exactly the documented schema from a snapshot, and
// written whole (temporary file, then rename).
#include "run/status_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace ionet::launcher {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

JobSnapshot restartedJob() {
  JobSnapshot s;
  s.pid = 4242;
  s.job = "77";
  s.state = "running";
  s.startedAt = 1000;
  s.hosts = {{"h1", true, {0, 1}, 2, 2}, {"h3", true, {2, 3}, 2, 2}};
  JobSnapshot::Link l;
  l.from = "h1";
  l.to = "h3";
  l.current = true;
  l.rttSeconds = 0.0205;
  l.sendRate = 1e6;
  l.receiveRate = 2e6;
  l.bytesSent = 5000;
  l.bytesReceived = 6000;
  l.retransmittedBytes = 1;
  l.duplicateBytes = 2;
  l.reconnects = 3;
  l.resumes = 4;
  l.linksUp = 2;
  l.streams = 2;
  s.links.push_back(l);
  l.to = "h2";
  l.current = false;  // the lost host's session: not shown
  s.links.push_back(l);
  s.fencesCompleted = 9;
  s.restarts.push_back({1005.5, "lost the agent of host h2 (no connection)", "host_lost", 20});
  s.resumeStep = 20;
  return s;
}

TEST(StatusFile, TheDocumentHasExactlyTheSchema) {
  const json j = statusJson(restartedJob(), 1012.25);
  const json expected = json::parse(R"json({
    "pid": 4242, "job": "77", "updated": 1012.25, "state": "running", "exit_code": null,
    "elapsed_seconds": 12.25,
    "hosts": [{"name": "h1", "up": true, "ranks": [0, 1], "ranks_total": 2, "ranks_running": 2},
              {"name": "h3", "up": true, "ranks": [2, 3], "ranks_total": 2, "ranks_running": 2}],
    "links": [{"from": "h1", "to": "h3", "rtt_ms": 20.5, "send_bytes_per_second": 1000000.0,
               "receive_bytes_per_second": 2000000.0, "bytes_sent": 5000,
               "bytes_received": 6000, "retransmitted_bytes": 1, "duplicate_bytes": 2,
               "reconnects": 3, "resumes": 4, "links_up": 2, "streams": 2}],
    "fences_completed": 9,
    "restarts": [{"at": 1005.5, "cause": "lost the agent of host h2 (no connection)",
                  "kind": "host_lost", "resume_step": 20}],
    "resume_step": 20})json");
  EXPECT_EQ(j, expected) << j.dump(2);
  EXPECT_TRUE(j["pid"].is_number_integer());
  EXPECT_TRUE(j["updated"].is_number_float());
  EXPECT_TRUE(j["hosts"][0]["ranks_total"].is_number_integer());
  EXPECT_TRUE(j["links"][0]["bytes_sent"].is_number_integer());
}

TEST(StatusFile, AFinishedJobHasItsExitCodeAndNullsWhereNothingIsKnown) {
  JobSnapshot s;
  s.pid = 1;
  s.job = "j";
  s.state = "done";
  s.exitCode = 3;
  s.startedAt = 10;
  s.endedAt = 14;
  s.restarts.push_back({12, "rank 1 on host h1 exited with status 3", "rank_failed", {}});
  const json j = statusJson(s, 100);
  EXPECT_EQ(j["state"], "done");
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["elapsed_seconds"], 4.0);
  EXPECT_TRUE(j["resume_step"].is_null());
  EXPECT_TRUE(j["restarts"][0]["resume_step"].is_null());
  EXPECT_TRUE(j["hosts"].is_array());
  EXPECT_TRUE(j["links"].is_array());
}

TEST(StatusFile, ReplaceFileWritesWholeAndLeavesNoTemporary) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("status-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = statusFilePath(dir, 31);
  EXPECT_EQ(path.filename(), "run-31.json");
  EXPECT_EQ(replaceFile(path, "{\"a\":1}\n"), "");
  EXPECT_EQ(replaceFile(path, "{\"a\":2}\n"), "");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "{\"a\":2}\n");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"run-31.json"});
  const std::string why = replaceFile(dir / "missing" / "run-1.json", "x");
  EXPECT_NE(why.find("cannot create"), std::string::npos) << why;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ionet::launcher
