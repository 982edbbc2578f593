// The status lines of ionet-run --status-interval, from a status put together by hand.
#include "run/status_line.h"

#include <gtest/gtest.h>

namespace ionet::launcher {
namespace {

JobStatus twoHosts() {
  JobStatus s;
  s.elapsedSeconds = 12.04;
  HostStatus a;
  a.name = "h1";
  a.connected = true;
  a.ranks = 2;
  a.ranksRunning = 2;
  a.controlRttMs = 0.5;
  a.connectionsOut = 3;
  a.connectionsIn = 1;
  a.links.push_back({"h2", 51.25, 812.34, 2500, 8, 8, 2});
  HostStatus b;
  b.name = "h2";
  b.connected = true;
  b.ranks = 2;
  b.ranksRunning = 1;
  s.hosts = {a, b};
  s.fencesDone = 4;
  s.fencesOpen = {{1, 2}};
  return s;
}

TEST(StatusLine, SummaryThenOneLinePerHostWithItsLinks) {
  const auto lines = formatStatus(twoHosts());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            "status at 12.0 s: hosts 2/2 up, ranks 3/4 running, fences 4 done, 1 open (1/2 hosts "
            "in)");
  EXPECT_EQ(lines[1],
            "  h1: 2/2 ranks, control rtt 0.50 ms, connections 3 out 1 in; -> h2 rtt 51.25 ms out "
            "812.3 Mbit/s in 2.50 Gbit/s 8/8 streams 2 reconnects");
  EXPECT_EQ(lines[2], "  h2: 1/2 ranks");
}

TEST(StatusLine, HostsThatHaveNotReportedShowAsStarting) {
  auto s = twoHosts();
  s.hosts[1].ranksRunning.reset();
  s.hosts[1].connected = false;
  const auto lines = formatStatus(s);
  EXPECT_EQ(lines[0],
            "status at 12.0 s: hosts 1/2 up, ranks starting (4 placed), fences 4 done, "
            "1 open (1/2 hosts in)");
  EXPECT_EQ(lines[2], "  h2: agent not connected");
}

}  // namespace
}  // namespace ionet::launcher
