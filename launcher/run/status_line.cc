#include "run/status_line.h"

#include <cstdio>

namespace ionet::launcher {
namespace {

std::string printf1(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string rate(double mbps) {
  return mbps >= 1000 ? printf1("%.2f Gbit/s", mbps / 1000) : printf1("%.1f Mbit/s", mbps);
}

}  // namespace

std::vector<std::string> formatStatus(const JobStatus& s) {
  std::size_t connected = 0, reported = 0;
  unsigned ranks = 0, running = 0;
  for (const auto& h : s.hosts) {
    connected += h.connected;
    ranks += h.ranks;
    if (h.ranksRunning) {
      ++reported;
      running += *h.ranksRunning;
    }
  }
  std::string head = "status at " + printf1("%.1f", s.elapsedSeconds) + " s: hosts " +
                     std::to_string(connected) + "/" + std::to_string(s.hosts.size()) +
                     " up, ranks ";
  head += reported == s.hosts.size()
              ? std::to_string(running) + "/" + std::to_string(ranks) + " running"
              : "starting (" + std::to_string(ranks) + " placed)";
  head += ", fences " + std::to_string(s.fencesDone) + " done";
  if (!s.fencesOpen.empty()) {
    head += ", " + std::to_string(s.fencesOpen.size()) + " open (";
    for (std::size_t i = 0; i < s.fencesOpen.size(); ++i) {
      head += (i ? ", " : "") + std::to_string(s.fencesOpen[i].in) + "/" +
              std::to_string(s.fencesOpen[i].of);
    }
    head += " hosts in)";
  }
  std::vector<std::string> lines{head};
  for (const auto& h : s.hosts) {
    std::string line = "  " + h.name + ":";
    if (!h.connected) {
      lines.push_back(line + " agent not connected");
      continue;
    }
    if (h.ranksRunning) {
      line += " " + std::to_string(*h.ranksRunning) + "/" + std::to_string(h.ranks) + " ranks";
    }
    if (h.controlRttMs) line += ", control rtt " + printf1("%.2f ms", *h.controlRttMs);
    if (h.connectionsOut + h.connectionsIn + h.failedConnects > 0) {
      line += ", connections " + std::to_string(h.connectionsOut) + " out " +
              std::to_string(h.connectionsIn) + " in";
      if (h.failedConnects) line += " " + std::to_string(h.failedConnects) + " failed";
    }
    for (const auto& l : h.links) {
      line += "; -> " + l.peer + " rtt " + printf1("%.2f ms", l.rttMs) + " out " +
              rate(l.sendMbps) + " in " + rate(l.receiveMbps) + " " + std::to_string(l.linksUp) +
              "/" + std::to_string(l.streams) + " streams";
      if (l.reconnects) line += " " + std::to_string(l.reconnects) + " reconnects";
    }
    lines.push_back(line);
  }
  return lines;
}

}  // namespace ionet::launcher
